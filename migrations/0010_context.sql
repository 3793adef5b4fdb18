-- Issue 6: context management. context_usage gets one row per turn (keyed by the turn's row id,
-- so a resent span changes nothing), the turn's model, and why it overflowed.

ALTER TABLE context_usage ADD COLUMN IF NOT EXISTS turn_id UUID;
ALTER TABLE context_usage ADD COLUMN IF NOT EXISTS model TEXT;
-- over_limit | prompt_too_long | compaction; NULL when overflow_occurred is false.
ALTER TABLE context_usage ADD COLUMN IF NOT EXISTS overflow_reason TEXT;
-- The source broke the prompt down (acd.context.* attributes); else only total_tokens is known.
ALTER TABLE context_usage ADD COLUMN IF NOT EXISTS segments_reported BOOLEAN NOT NULL DEFAULT FALSE;
-- utilization as a float too: DECIMAL(5,4) stops at 9.9999 (kept, clamped, for the PRD).
ALTER TABLE context_usage ADD COLUMN IF NOT EXISTS utilization_ratio DOUBLE PRECISION;
CREATE UNIQUE INDEX IF NOT EXISTS idx_context_usage_turn ON context_usage(turn_id);
CREATE INDEX IF NOT EXISTS idx_context_usage_orphans ON context_usage(turn_id) WHERE session_id IS NULL;

CREATE INDEX IF NOT EXISTS idx_file_access_hot ON file_access_log(target_id, access_count DESC);
