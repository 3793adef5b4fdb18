-- Issue 16: the two hottest tables lose their foreign key to harness_sessions. Every turn and
-- tool-call insert ran a referential check (an index probe and a FOR KEY SHARE lock on the
-- session's row) although the write path stores the session row (or its placeholder) first, in
-- the same transaction, and nothing in the collector deletes sessions. An operator who deletes
-- sessions by hand deletes their turns and tool calls too (docs/scaling.md, "Foreign keys").
ALTER TABLE session_turns DROP CONSTRAINT IF EXISTS session_turns_session_id_fkey;
ALTER TABLE session_tool_calls DROP CONSTRAINT IF EXISTS session_tool_calls_session_id_fkey;
