-- Issue 5: codebase index. Targets get a registered root path (the only path a reindex reads),
-- indexes get the figures the PRD's columns cannot hold, per-file rows make re-indexing
-- incremental, and a job queue lets several collector replicas share the work.

ALTER TABLE targets ADD COLUMN IF NOT EXISTS root_path TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS idx_targets_root_path ON targets(root_path)
    WHERE root_path IS NOT NULL;

-- total_lines and index_size_tokens (PRD, INTEGER) saturate at 2^31-1; these are exact.
ALTER TABLE codebase_indexes ADD COLUMN IF NOT EXISTS lines_total   BIGINT NOT NULL DEFAULT 0;
ALTER TABLE codebase_indexes ADD COLUMN IF NOT EXISTS code_lines    BIGINT NOT NULL DEFAULT 0;
ALTER TABLE codebase_indexes ADD COLUMN IF NOT EXISTS comment_lines BIGINT NOT NULL DEFAULT 0;
ALTER TABLE codebase_indexes ADD COLUMN IF NOT EXISTS blank_lines   BIGINT NOT NULL DEFAULT 0;
ALTER TABLE codebase_indexes ADD COLUMN IF NOT EXISTS tokens_estimate BIGINT NOT NULL DEFAULT 0;
-- How index_size_tokens was obtained: 'chars/4' (the PRD's estimate).
ALTER TABLE codebase_indexes ADD COLUMN IF NOT EXISTS token_method TEXT NOT NULL DEFAULT 'chars/4';
ALTER TABLE codebase_indexes ADD COLUMN IF NOT EXISTS binary_files  INTEGER NOT NULL DEFAULT 0;
ALTER TABLE codebase_indexes ADD COLUMN IF NOT EXISTS files_read    INTEGER NOT NULL DEFAULT 0;
ALTER TABLE codebase_indexes ADD COLUMN IF NOT EXISTS files_reused  INTEGER NOT NULL DEFAULT 0;
-- Per language: files, lines, code, comments, blanks, bytes.
ALTER TABLE codebase_indexes ADD COLUMN IF NOT EXISTS languages JSONB;
-- Skipped entries and errors: counts by kind, with a few example paths.
ALTER TABLE codebase_indexes ADD COLUMN IF NOT EXISTS problems  JSONB;

-- One row per text or binary file of a target's latest index.
CREATE TABLE IF NOT EXISTS codebase_files (
    target_id     UUID NOT NULL REFERENCES targets(id) ON DELETE CASCADE,
    -- Relative to the target's root, '/'-separated.
    path          TEXT NOT NULL,
    size_bytes    BIGINT NOT NULL,
    mtime_ns      BIGINT NOT NULL,
    -- xxh3-64 of the content, as a signed 64-bit integer.
    content_hash  BIGINT NOT NULL,
    is_binary     BOOLEAN NOT NULL,
    language      TEXT,
    lines         BIGINT NOT NULL,
    code_lines    BIGINT NOT NULL,
    comment_lines BIGINT NOT NULL,
    blank_lines   BIGINT NOT NULL,
    -- Unicode characters; tokens = ceil(chars / 4), the PRD's estimate.
    chars         BIGINT NOT NULL,
    tokens        BIGINT NOT NULL,
    PRIMARY KEY (target_id, path)
);

-- The reindex queue: claimed with FOR UPDATE SKIP LOCKED; at most one queued or running job per
-- target (the partial unique index), so replicas never index the same target twice at once.
CREATE TABLE IF NOT EXISTS codebase_index_jobs (
    id           UUID PRIMARY KEY,
    target_id    UUID NOT NULL REFERENCES targets(id) ON DELETE CASCADE,
    -- queued | running | succeeded | failed
    state        TEXT NOT NULL DEFAULT 'queued',
    files_seen   BIGINT NOT NULL DEFAULT 0,
    files_done   BIGINT NOT NULL DEFAULT 0,
    error        TEXT,
    index_id     UUID REFERENCES codebase_indexes(id) ON DELETE SET NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    started_at   TIMESTAMPTZ,
    heartbeat_at TIMESTAMPTZ,
    finished_at  TIMESTAMPTZ
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_index_jobs_one_active ON codebase_index_jobs(target_id)
    WHERE state IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS idx_index_jobs_queued ON codebase_index_jobs(created_at)
    WHERE state = 'queued';
