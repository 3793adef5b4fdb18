-- Issue 9 follow-up (ingest throughput).

-- file_access_log counts a session's tool calls once, when the session first has a target:
-- all calls stored until then in one statement, later calls at their insert. The flag is per
-- session instead of per tool call, so a call stored before its session's target (the session
-- span comes last) is no longer written twice. Sessions with a target were counted by then.
ALTER TABLE harness_sessions ADD COLUMN file_access_counted BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE harness_sessions SET file_access_counted = TRUE WHERE target_id IS NOT NULL;
-- The per-call flag and its partial index go; so does the file_path index, which only the
-- recount before migration 0012 read: two fewer index entries per tool call.
ALTER TABLE session_tool_calls DROP COLUMN access_counted;
DROP INDEX IF EXISTS idx_tool_calls_file;

-- Recomputes at ingest must cost what the batch costs, not what history costs: these statements
-- were planned as sequential scans of the whole table (ledger rows of traces without a session,
-- turns whose number is inferred), which made ingest slow down as the tables grew. Both partial
-- indexes stay nearly empty for a harness that sends `acd.turn.number` and conversation ids.
CREATE INDEX idx_otlp_spans_orphans ON otlp_spans(trace_id) WHERE session_id IS NULL;
CREATE INDEX idx_turns_inferred ON session_turns(session_id) WHERE turn_number_inferred;
