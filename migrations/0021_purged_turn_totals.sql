-- Totals of turns deleted by retention (issue 19, item 5): per session and model, what the
-- purged rows contributed. Session totals and token_usage_details are recomputed from the
-- surviving turns plus these rows, so a late turn after retention no longer rewrites a session's
-- totals from what is left (5 turns -> 1, cost 0.0225 -> 0.000066).
CREATE TABLE purged_turn_totals (
    session_id UUID NOT NULL REFERENCES harness_sessions(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    turns BIGINT NOT NULL DEFAULT 0,
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    cache_read_tokens BIGINT NOT NULL DEFAULT 0,
    cache_write_tokens BIGINT NOT NULL DEFAULT 0,
    cache_write_1h_tokens BIGINT NOT NULL DEFAULT 0,
    cost_usd NUMERIC NOT NULL DEFAULT 0,
    -- NULL while no purged turn reported a cost.
    reported_cost_usd NUMERIC,
    duration_ms BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (session_id, model)
);
