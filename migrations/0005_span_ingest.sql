-- What OTLP span ingest needs beyond the PRD: an idempotency ledger, span identity on turns,
-- per-turn detail, and tool calls kept apart so they can arrive before their turn.

-- Every span ever accepted, keyed by its OTLP identity. Inserting here first with
-- ON CONFLICT DO NOTHING is what makes a retried batch change nothing.
CREATE TABLE otlp_spans (
    trace_id       BYTEA NOT NULL,
    span_id        BYTEA NOT NULL,
    parent_span_id BYTEA,
    -- session | turn | tool
    kind           TEXT NOT NULL,
    -- Resolved session; for session spans this links a trace to its session.
    session_id     UUID,
    received_at    TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (trace_id, span_id)
);
CREATE INDEX idx_otlp_spans_session_traces ON otlp_spans(trace_id) WHERE kind = 'session';

ALTER TABLE session_turns ADD COLUMN trace_id BYTEA NOT NULL;
ALTER TABLE session_turns ADD COLUMN span_id BYTEA NOT NULL;
ALTER TABLE session_turns ADD COLUMN parent_span_id BYTEA;
-- The turn number was not sent (acd.turn.number) and is the turn's rank by start time.
ALTER TABLE session_turns ADD COLUMN turn_number_inferred BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE session_turns ADD COLUMN provider TEXT;
ALTER TABLE session_turns ADD COLUMN model TEXT NOT NULL DEFAULT 'unknown';
ALTER TABLE session_turns ADD COLUMN response_model TEXT;
ALTER TABLE session_turns ADD COLUMN cache_read_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE session_turns ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
-- gen_ai.usage.input_tokens exactly as received (semconv: includes cached tokens).
ALTER TABLE session_turns ADD COLUMN reported_input_tokens INTEGER;
ALTER TABLE session_turns ADD COLUMN duration_ms INTEGER;
ALTER TABLE session_turns ADD COLUMN time_to_first_token_ms INTEGER;
ALTER TABLE session_turns ADD COLUMN cost_usd DECIMAL(12,6) NOT NULL DEFAULT 0;
ALTER TABLE session_turns ADD COLUMN context_window INTEGER;
ALTER TABLE session_turns ADD COLUMN status TEXT NOT NULL DEFAULT 'ok';
ALTER TABLE session_turns ADD COLUMN attributes JSONB NOT NULL DEFAULT '{}'::jsonb;
CREATE UNIQUE INDEX idx_turns_span ON session_turns(trace_id, span_id);
CREATE INDEX idx_turns_session ON session_turns(session_id, turn_number);
CREATE INDEX idx_turns_orphans ON session_turns(trace_id) WHERE session_id IS NULL;
CREATE INDEX idx_turns_started ON session_turns(started_at);

CREATE TABLE session_tool_calls (
    id             UUID PRIMARY KEY,
    session_id     UUID REFERENCES harness_sessions(id) ON DELETE CASCADE,
    trace_id       BYTEA NOT NULL,
    span_id        BYTEA NOT NULL,
    parent_span_id BYTEA,
    tool_name      TEXT NOT NULL,
    file_path      TEXT,
    started_at     TIMESTAMPTZ NOT NULL,
    duration_ms    INTEGER,
    status         TEXT NOT NULL DEFAULT 'ok',
    attributes     JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    UNIQUE (trace_id, span_id)
);
CREATE INDEX idx_tool_calls_parent ON session_tool_calls(trace_id, parent_span_id);
CREATE INDEX idx_tool_calls_orphans ON session_tool_calls(trace_id) WHERE session_id IS NULL;

-- token_usage_details holds one row per session and model, rebuilt from the turns at ingest.
CREATE UNIQUE INDEX idx_token_usage_session_model ON token_usage_details(session_id, model);
