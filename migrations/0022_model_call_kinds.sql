-- Model calls that are not turns of the main conversation (issue 14): Claude Code's side calls
-- (WebFetch's summary, compaction, titles) and subagent calls are stored as rows of
-- session_turns with their kind and source. They count in tokens and cost, not in turn_count,
-- turn numbering or the latency and TTFT figures of the main turns.
ALTER TABLE session_turns
    ADD COLUMN call_kind TEXT NOT NULL DEFAULT 'main'
        CHECK (call_kind IN ('main', 'side', 'subagent')),
    ADD COLUMN query_source TEXT;

-- Retention keeps what purged calls contributed; only main calls are turns.
ALTER TABLE purged_turn_totals ADD COLUMN model_calls BIGINT NOT NULL DEFAULT 0;
UPDATE purged_turn_totals SET model_calls = turns;
