-- PRD migration 002 (new tables), as valid PostgreSQL, keeping the PRD's names.

CREATE TABLE IF NOT EXISTS session_turns (
    id              UUID PRIMARY KEY,
    -- NULL while the turn's session is not known yet (a turn that arrived before its session span).
    session_id      UUID REFERENCES harness_sessions(id) ON DELETE CASCADE,
    turn_number     INTEGER NOT NULL,
    started_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
    -- Uncached input tokens (the PRD's and Anthropic's meaning), see docs/semantic-conventions.md.
    input_tokens    INTEGER DEFAULT 0,
    output_tokens   INTEGER DEFAULT 0,
    tool_calls      JSONB,
    created_at      TIMESTAMPTZ DEFAULT NOW()
);

CREATE TABLE IF NOT EXISTS token_usage_details (
    id                  UUID PRIMARY KEY,
    session_id          UUID REFERENCES harness_sessions(id) ON DELETE CASCADE,
    model               VARCHAR(255) NOT NULL,
    input_tokens        INTEGER DEFAULT 0,
    output_tokens       INTEGER DEFAULT 0,
    cache_read_tokens   INTEGER DEFAULT 0,
    cache_write_tokens  INTEGER DEFAULT 0,
    cache_hit_rate      DECIMAL(5,4),
    context_utilization DECIMAL(5,4),
    cost_usd            DECIMAL(10,6),
    request_count       INTEGER DEFAULT 1,
    created_at          TIMESTAMPTZ DEFAULT NOW()
);
CREATE INDEX IF NOT EXISTS idx_token_usage_session ON token_usage_details(session_id);
CREATE INDEX IF NOT EXISTS idx_token_usage_model ON token_usage_details(model);

CREATE TABLE IF NOT EXISTS session_test_runs (
    id              UUID PRIMARY KEY,
    session_id      UUID REFERENCES harness_sessions(id) ON DELETE CASCADE,
    test_suite      VARCHAR(255),
    total_tests     INTEGER DEFAULT 0,
    passed          INTEGER DEFAULT 0,
    failed          INTEGER DEFAULT 0,
    skipped         INTEGER DEFAULT 0,
    duration_ms     INTEGER,
    failure_reasons JSONB,
    created_at      TIMESTAMPTZ DEFAULT NOW()
);
CREATE INDEX IF NOT EXISTS idx_test_runs_session ON session_test_runs(session_id);

CREATE TABLE IF NOT EXISTS session_retries (
    id               UUID PRIMARY KEY,
    session_id       UUID REFERENCES harness_sessions(id) ON DELETE CASCADE,
    retry_number     INTEGER NOT NULL,
    reason           VARCHAR(50) NOT NULL, -- 'rate_limit', 'overloaded', 'error', 'timeout', 'model_fallback'
    original_model   VARCHAR(255),
    fallback_model   VARCHAR(255),
    wait_duration_ms INTEGER,
    succeeded        BOOLEAN DEFAULT FALSE,
    error_message    TEXT,
    created_at       TIMESTAMPTZ DEFAULT NOW()
);
CREATE INDEX IF NOT EXISTS idx_retries_session ON session_retries(session_id);

CREATE TABLE IF NOT EXISTS codebase_indexes (
    id                UUID PRIMARY KEY,
    target_id         UUID REFERENCES targets(id) ON DELETE CASCADE,
    indexed_at        TIMESTAMPTZ DEFAULT NOW(),
    total_files       INTEGER DEFAULT 0,
    total_lines       INTEGER DEFAULT 0,
    total_size_bytes  BIGINT DEFAULT 0,
    index_size_tokens INTEGER DEFAULT 0,
    build_duration_ms INTEGER,
    file_types        JSONB, -- {"ts": 150, "js": 50, "py": 30}
    largest_files     JSONB, -- top 10 by size
    created_at        TIMESTAMPTZ DEFAULT NOW()
);
CREATE INDEX IF NOT EXISTS idx_codebase_indexes_target ON codebase_indexes(target_id, indexed_at DESC);

CREATE TABLE IF NOT EXISTS context_usage (
    id                  UUID PRIMARY KEY,
    session_id          UUID REFERENCES harness_sessions(id) ON DELETE CASCADE,
    turn_number         INTEGER,
    system_tokens       INTEGER DEFAULT 0,
    feature_tokens      INTEGER DEFAULT 0,
    file_tokens         INTEGER DEFAULT 0,
    conversation_tokens INTEGER DEFAULT 0,
    total_tokens        INTEGER DEFAULT 0,
    context_limit       INTEGER DEFAULT 200000,
    utilization         DECIMAL(5,4),
    overflow_occurred   BOOLEAN DEFAULT FALSE,
    created_at          TIMESTAMPTZ DEFAULT NOW()
);
CREATE INDEX IF NOT EXISTS idx_context_usage_session ON context_usage(session_id);

CREATE TABLE IF NOT EXISTS file_access_log (
    id               UUID PRIMARY KEY,
    target_id        UUID REFERENCES targets(id) ON DELETE CASCADE,
    file_path        TEXT NOT NULL,
    access_count     INTEGER DEFAULT 1,
    last_accessed_at TIMESTAMPTZ DEFAULT NOW(),
    avg_tokens       INTEGER,
    is_cached        BOOLEAN DEFAULT FALSE
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_file_access_target_path ON file_access_log(target_id, file_path);
