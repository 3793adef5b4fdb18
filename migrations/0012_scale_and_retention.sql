-- Issue 9 (performance, scale, retention).

-- file_access_log is kept by increments instead of a recount of every tool call of each touched
-- path (which grew with history and lost counts when two replicas recounted one path at once):
-- a tool call is added once, when its session has a target, and marked here.
ALTER TABLE session_tool_calls ADD COLUMN access_counted BOOLEAN NOT NULL DEFAULT FALSE;
-- Tool calls already counted by the recount.
UPDATE session_tool_calls c SET access_counted = TRUE
FROM harness_sessions s
WHERE s.id = c.session_id AND s.target_id IS NOT NULL AND c.file_path IS NOT NULL;
