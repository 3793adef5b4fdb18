-- Test runs from spans (acd.test_run), JUnit XML and libtest/nextest JSON reports, with one row
-- per test case so that flaky tests and newly failing tests can be found.

-- A span's identity (spans) or the report's content hash (uploads): a resent run changes nothing.
ALTER TABLE session_test_runs ADD COLUMN trace_id BYTEA;
ALTER TABLE session_test_runs ADD COLUMN span_id BYTEA;
ALTER TABLE session_test_runs ADD COLUMN content_sha256 BYTEA;
-- span | junit | libtest-json | nextest-json
ALTER TABLE session_test_runs ADD COLUMN source TEXT NOT NULL DEFAULT 'span';
ALTER TABLE session_test_runs ADD COLUMN errors INTEGER NOT NULL DEFAULT 0;
-- The code revision the tests ran against (acd.vcs.revision / vcs.ref.head.revision / request).
ALTER TABLE session_test_runs ADD COLUMN vcs_revision TEXT;
ALTER TABLE session_test_runs ADD COLUMN started_at TIMESTAMPTZ;
-- Problems found in the input that did not stop it from being stored (e.g. counts that do not
-- add up), as a JSON array of strings.
ALTER TABLE session_test_runs ADD COLUMN warnings JSONB NOT NULL DEFAULT '[]'::jsonb;
CREATE UNIQUE INDEX idx_test_runs_span ON session_test_runs(trace_id, span_id);
CREATE UNIQUE INDEX idx_test_runs_content ON session_test_runs(session_id, content_sha256);
CREATE INDEX idx_test_runs_orphans ON session_test_runs(trace_id) WHERE session_id IS NULL;

ALTER TABLE harness_sessions ADD COLUMN vcs_revision TEXT;

CREATE TABLE session_test_cases (
    id              UUID PRIMARY KEY,
    test_run_id     UUID NOT NULL REFERENCES session_test_runs(id) ON DELETE CASCADE,
    session_id      UUID REFERENCES harness_sessions(id) ON DELETE CASCADE,
    -- Position in its run: a report may name the same test twice (e.g. reruns).
    ordinal         INTEGER NOT NULL,
    classname       TEXT NOT NULL DEFAULT '',
    name            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('passed', 'failed', 'error', 'skipped')),
    duration_ms     INTEGER,
    failure_type    TEXT,
    failure_message TEXT,
    vcs_revision    TEXT,
    ran_at          TIMESTAMPTZ NOT NULL,
    UNIQUE (test_run_id, ordinal)
);
CREATE INDEX idx_test_cases_session ON session_test_cases(session_id);
CREATE INDEX idx_test_cases_identity ON session_test_cases(classname, name);
