-- Issue 9 (performance, scale, retention).

-- file_access_log is kept by increments instead of a recount of every tool call of each touched
-- path (which grew with history and lost counts when two replicas recounted one path at once):
-- a tool call is added once, when its session has a target, and marked here.
ALTER TABLE session_tool_calls ADD COLUMN access_counted BOOLEAN NOT NULL DEFAULT FALSE;
-- Tool calls already counted by the recount.
UPDATE session_tool_calls c SET access_counted = TRUE
FROM harness_sessions s
WHERE s.id = c.session_id AND s.target_id IS NOT NULL AND c.file_path IS NOT NULL;
-- The calls still to count (their session had no target yet): few, found without a scan.
CREATE INDEX idx_tool_calls_uncounted ON session_tool_calls(session_id)
    WHERE NOT access_counted AND file_path IS NOT NULL;
-- Tool calls without a parent span (Claude Code's tool_result events), matched to turns by time.
CREATE INDEX idx_tool_calls_unparented ON session_tool_calls(session_id)
    WHERE parent_span_id IS NULL;

-- Daily token usage per model, added to at ingest from each new turn: the token-usage endpoints
-- read whole days here and only the first, partial day of their window from session_turns, so
-- they cost the same at a million turns as at a thousand, and keep answering once turn detail
-- older than the retention window is deleted. `shard` spreads concurrent batches over several
-- rows of one (day, model), so that they do not queue on one row lock; readers sum the shards.
CREATE TABLE turn_usage_daily (
    day                DATE NOT NULL,
    model              TEXT NOT NULL,
    shard              SMALLINT NOT NULL,
    input_tokens       BIGINT NOT NULL DEFAULT 0,
    output_tokens      BIGINT NOT NULL DEFAULT 0,
    cache_read_tokens  BIGINT NOT NULL DEFAULT 0,
    cache_write_tokens BIGINT NOT NULL DEFAULT 0,
    requests           BIGINT NOT NULL DEFAULT 0,
    cost_usd           NUMERIC NOT NULL DEFAULT 0,
    -- Sum and count of per-turn context utilisation (turns with a known context window).
    utilization_sum    DOUBLE PRECISION NOT NULL DEFAULT 0,
    utilization_n      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, model, shard)
);
INSERT INTO turn_usage_daily
SELECT (started_at AT TIME ZONE 'UTC')::date, model, 0,
       COALESCE(sum(input_tokens), 0), COALESCE(sum(output_tokens), 0),
       sum(cache_read_tokens), sum(cache_write_tokens), count(*), sum(cost_usd),
       COALESCE(sum((input_tokens + cache_read_tokens + cache_write_tokens)::float8
                    / NULLIF(context_window, 0)), 0),
       count(NULLIF(context_window, 0))
FROM session_turns
GROUP BY 1, 2;

-- The retention job finds old detail by time: BRIN indexes are tiny and nearly free to keep up on
-- tables written in time order (session_turns already has idx_turns_started).
CREATE INDEX idx_tool_calls_started_brin ON session_tool_calls USING brin (started_at);
CREATE INDEX idx_otlp_spans_received_brin ON otlp_spans USING brin (received_at);
