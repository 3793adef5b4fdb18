-- A session's costs are sums over its calls: DECIMAL(12,6) stopped at 999,999.999999 USD, and a
-- sum past it failed the whole batch ("numeric field overflow"). Widened so that no sum of
-- per-call costs within the documented limits (src/domain/limits.rs) can overflow. Raising a
-- numeric's precision at the same scale rewrites nothing.
ALTER TABLE harness_sessions
    ALTER COLUMN cost_usd TYPE NUMERIC(20,6),
    ALTER COLUMN reported_cost_usd TYPE NUMERIC(20,6),
    ALTER COLUMN reported_session_cost_usd TYPE NUMERIC(20,6);
