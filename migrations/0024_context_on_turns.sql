-- Issue 16 (ingest near PostgreSQL's own rate): fewer rows and index entries per span.
--
-- context_usage held one row per turn, with four indexes of its own, written beside the turn and
-- then updated again whenever the turn's session or number became known (a second write of
-- every turn's context). Its figures are the turn's: they now live on the turn's row, and
-- context_usage is a view with the same name and columns, whose session and turn number are
-- always the turn's own. Rows of turns that retention already deleted go too: retention never
-- deleted them (their turn was gone; they only grew).
ALTER TABLE session_turns
    ADD COLUMN context_system_tokens INTEGER,
    ADD COLUMN context_feature_tokens INTEGER,
    ADD COLUMN context_file_tokens INTEGER,
    ADD COLUMN context_conversation_tokens INTEGER,
    -- NULL for calls that have no context of the conversation (side and subagent calls).
    ADD COLUMN context_total_tokens INTEGER,
    ADD COLUMN context_limit INTEGER,
    ADD COLUMN context_utilization_ratio DOUBLE PRECISION,
    -- over_limit | prompt_too_long | compaction; NULL when the context did not overflow.
    ADD COLUMN context_overflow_reason TEXT,
    ADD COLUMN context_segments_reported BOOLEAN;

UPDATE session_turns t SET
    context_system_tokens = COALESCE(c.system_tokens, 0),
    context_feature_tokens = COALESCE(c.feature_tokens, 0),
    context_file_tokens = COALESCE(c.file_tokens, 0),
    context_conversation_tokens = COALESCE(c.conversation_tokens, 0),
    context_total_tokens = COALESCE(c.total_tokens, 0),
    context_limit = COALESCE(c.context_limit, 200000),
    context_utilization_ratio = COALESCE(c.utilization_ratio, c.utilization::float8),
    context_overflow_reason = CASE WHEN c.overflow_occurred
                                   THEN COALESCE(c.overflow_reason, 'over_limit') END,
    context_segments_reported = c.segments_reported
FROM context_usage c
WHERE c.turn_id = t.id;

DROP TABLE context_usage;

CREATE VIEW context_usage AS
SELECT t.id,
       t.session_id,
       t.turn_number,
       t.context_system_tokens AS system_tokens,
       t.context_feature_tokens AS feature_tokens,
       t.context_file_tokens AS file_tokens,
       t.context_conversation_tokens AS conversation_tokens,
       t.context_total_tokens AS total_tokens,
       t.context_limit AS context_limit,
       -- The PRD's DECIMAL(5,4) stops at 9.9999; utilization_ratio has the true figure.
       LEAST(round(t.context_utilization_ratio::numeric, 4), 9.9999)::DECIMAL(5, 4)
           AS utilization,
       t.context_overflow_reason IS NOT NULL AS overflow_occurred,
       t.created_at,
       t.id AS turn_id,
       t.model,
       t.context_overflow_reason AS overflow_reason,
       t.context_segments_reported AS segments_reported,
       t.context_utilization_ratio AS utilization_ratio
FROM session_turns t
WHERE t.context_total_tokens IS NOT NULL;

-- The hot-files list sorts one target's rows (its unique (target_id, file_path) index finds
-- them); an index on access_count made every increment a non-HOT update of three indexes.
DROP INDEX IF EXISTS idx_file_access_hot;
