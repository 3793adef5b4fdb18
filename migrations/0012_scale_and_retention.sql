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
