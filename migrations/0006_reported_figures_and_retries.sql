-- What Claude-driven sources need: 1-hour cache writes, the source's own cost beside ours,
-- session-level figures a stream-json `result` line reports, and retries stored like spans.

-- The part of cache_write_tokens written with the 1-hour TTL (priced higher).
ALTER TABLE session_turns ADD COLUMN cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0;
-- The source's own cost for this call (Claude Code's api_request cost_usd), beside ours.
ALTER TABLE session_turns ADD COLUMN reported_cost_usd DECIMAL(12,6);

-- 'turns': totals are sums of session_turns. 'result': per-turn parsing failed part-way and the
-- totals are the source's session-level aggregates (see docs/claude-stream-json.md).
ALTER TABLE harness_sessions ADD COLUMN totals_source TEXT NOT NULL DEFAULT 'turns'
    CHECK (totals_source IN ('turns', 'result'));
-- Session-level cost the source reported (a result line's total_cost_usd).
ALTER TABLE harness_sessions ADD COLUMN reported_session_cost_usd DECIMAL(12,6);
-- The source's cost: reported_session_cost_usd, else the sum of the turns' reported costs.
ALTER TABLE harness_sessions ADD COLUMN reported_cost_usd DECIMAL(12,6);
ALTER TABLE harness_sessions ADD COLUMN reported_duration_ms BIGINT;
ALTER TABLE harness_sessions ADD COLUMN reported_api_ms BIGINT;
ALTER TABLE harness_sessions ADD COLUMN reported_num_turns INTEGER;
-- The source's own record (result usage, modelUsage), verbatim.
ALTER TABLE harness_sessions ADD COLUMN reported JSONB;
ALTER TABLE harness_sessions ADD COLUMN cache_write_1h_tokens BIGINT NOT NULL DEFAULT 0;

-- Retries arrive as span events or log events; their identity is in otlp_spans (kind 'retry').
ALTER TABLE session_retries ADD COLUMN trace_id BYTEA;
ALTER TABLE session_retries ADD COLUMN span_id BYTEA;
ALTER TABLE session_retries ADD COLUMN exhausted BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE session_retries ADD COLUMN occurred_at TIMESTAMPTZ;
ALTER TABLE session_retries ADD COLUMN attributes JSONB NOT NULL DEFAULT '{}'::jsonb;
CREATE UNIQUE INDEX idx_retries_span ON session_retries(trace_id, span_id);
CREATE INDEX idx_retries_orphans ON session_retries(trace_id) WHERE session_id IS NULL;

-- file_access_log is recomputed per (target, path) from tool calls.
CREATE INDEX idx_tool_calls_file ON session_tool_calls(file_path) WHERE file_path IS NOT NULL;
CREATE INDEX idx_tool_calls_session ON session_tool_calls(session_id);
