-- Base tables that the PRD assumes exist: the repositories a harness works on and its sessions.
CREATE TABLE targets (
    id          UUID PRIMARY KEY,
    name        TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE TABLE harness_sessions (
    id                  UUID PRIMARY KEY,
    -- The id as the producer sent it (gen_ai.conversation.id); differs from id when it was not a UUID.
    external_id         TEXT NOT NULL,
    target_id           UUID REFERENCES targets(id),
    feature_id          TEXT,
    -- running (only turns seen so far) | completed | failed
    status              TEXT NOT NULL DEFAULT 'running',
    started_at          TIMESTAMPTZ NOT NULL,
    ended_at            TIMESTAMPTZ,
    -- Identity of the session span, once it has arrived.
    trace_id            BYTEA,
    span_id             BYTEA,
    status_message      TEXT,
    attributes          JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE INDEX idx_sessions_target_started ON harness_sessions(target_id, started_at DESC);
CREATE INDEX idx_sessions_started ON harness_sessions(started_at DESC);
