-- PRD migration 001 (enhanced sessions): one ADD COLUMN per column, as PostgreSQL requires.
ALTER TABLE harness_sessions ADD COLUMN IF NOT EXISTS api_latency_ms INTEGER;
ALTER TABLE harness_sessions ADD COLUMN IF NOT EXISTS time_to_first_token_ms INTEGER;
ALTER TABLE harness_sessions ADD COLUMN IF NOT EXISTS wall_clock_ms INTEGER;
ALTER TABLE harness_sessions ADD COLUMN IF NOT EXISTS turn_count INTEGER DEFAULT 0;
ALTER TABLE harness_sessions ADD COLUMN IF NOT EXISTS retry_count INTEGER DEFAULT 0;
ALTER TABLE harness_sessions ADD COLUMN IF NOT EXISTS max_retries_hit BOOLEAN DEFAULT FALSE;
ALTER TABLE harness_sessions ADD COLUMN IF NOT EXISTS model_fallbacks INTEGER DEFAULT 0;
ALTER TABLE harness_sessions ADD COLUMN IF NOT EXISTS tests_run INTEGER DEFAULT 0;
ALTER TABLE harness_sessions ADD COLUMN IF NOT EXISTS tests_passed INTEGER DEFAULT 0;
ALTER TABLE harness_sessions ADD COLUMN IF NOT EXISTS tests_failed INTEGER DEFAULT 0;
ALTER TABLE harness_sessions ADD COLUMN IF NOT EXISTS test_pass_rate DECIMAL(5,4);

-- Session totals kept current at ingest, so list and efficiency queries need no join.
ALTER TABLE harness_sessions ADD COLUMN IF NOT EXISTS features_completed INTEGER;
ALTER TABLE harness_sessions ADD COLUMN IF NOT EXISTS input_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE harness_sessions ADD COLUMN IF NOT EXISTS output_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE harness_sessions ADD COLUMN IF NOT EXISTS cache_read_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE harness_sessions ADD COLUMN IF NOT EXISTS cache_write_tokens BIGINT NOT NULL DEFAULT 0;
ALTER TABLE harness_sessions ADD COLUMN IF NOT EXISTS cost_usd DECIMAL(12,6) NOT NULL DEFAULT 0;
