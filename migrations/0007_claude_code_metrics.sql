-- Claude Code's OTLP metrics (claude_code.* counters), kept as a cross-check beside the events:
-- one row per series, and the data points that moved it. Totals only ever grow by committed
-- increments, so a retried export changes nothing. Session ids are not foreign keys: metric
-- points may arrive before (or without) anything else about their session.

-- A series: metric name + its data point attributes (sorted), as Claude Code labels it.
CREATE TABLE claude_code_metric_series (
    -- UUIDv5 of the metric name and the canonical (sorted) attributes.
    id                  UUID PRIMARY KEY,
    metric              TEXT NOT NULL,
    unit                TEXT NOT NULL DEFAULT '',
    -- crate::domain::session_uuid(session.id); NULL when Claude Code omits session.id.
    session_id          UUID,
    session_external_id TEXT,
    attributes          JSONB NOT NULL,
    -- Resource attributes of the first export that named the series (not part of its identity).
    resource            JSONB NOT NULL DEFAULT '{}'::jsonb,
    -- Sum of the committed increments of all its points.
    total               DOUBLE PRECISION NOT NULL DEFAULT 0,
    points              INTEGER NOT NULL DEFAULT 0,
    first_point_at      TIMESTAMPTZ,
    last_point_at       TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX idx_cc_metric_series_session ON claude_code_metric_series(session_id);

-- DELTA points: each is its own increment, stored once (a retried export inserts nothing).
CREATE TABLE claude_code_metric_deltas (
    series_id   UUID NOT NULL REFERENCES claude_code_metric_series(id) ON DELETE CASCADE,
    start_time  TIMESTAMPTZ NOT NULL,
    time        TIMESTAMPTZ NOT NULL,
    value       DOUBLE PRECISION NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (series_id, start_time, time)
);

-- CUMULATIVE points: the latest value per (series, start time). The increment of a newer point
-- is new - previous; a new start time is a reset, whose first increment is its whole value.
CREATE TABLE claude_code_metric_cumulatives (
    series_id   UUID NOT NULL REFERENCES claude_code_metric_series(id) ON DELETE CASCADE,
    start_time  TIMESTAMPTZ NOT NULL,
    time        TIMESTAMPTZ NOT NULL,
    value       DOUBLE PRECISION NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    PRIMARY KEY (series_id, start_time)
);
