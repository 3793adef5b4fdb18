-- Session ownership and conflicting duplicates (issue 19, item 5). The producer is the OTLP
-- resource's `service.name` and `service.instance.id`; NULL for records that came without one
-- (REST uploads, `acd-collector ingest`/`run`) and for rows stored before this migration, which
-- are never checked. A session belongs to the first producer that names it.
ALTER TABLE harness_sessions ADD COLUMN producer TEXT;
-- The ledger keeps who sent a span, through which channel ('span' for OTLP traces, 'event' for
-- OTLP logs, ...) and a digest of its content, so that a later span with the same identity can
-- be told apart as a retry (same producer, same content), the second report of a Claude Code
-- call (the other channel), or a conflict (another producer, or other content).
ALTER TABLE otlp_spans
    ADD COLUMN producer TEXT,
    ADD COLUMN channel TEXT,
    ADD COLUMN digest UUID;
