-- Seeds a migrated database for scripts/bench-queries: 50 targets, 10,000 sessions over the last
-- 30 days (sessions.count, turns.per_session psql variables; defaults 10000 and 100, i.e.
-- 1,000,000 turns), 3 models, a retry every 50 turns, a test run per session; session totals and
-- token_usage_details and turn_usage_daily derived from the turns as ingest would. Rows are generated in SQL, no
-- round trips. Run with psql -v sessions=N -v turns=M.
-- Also what span ingest keeps beside the PRD's tables, so that a benchmark of ingest on top of
-- this history pays for deep indexes too: a ledger row (otlp_spans) per session, turn and tool
-- call, a tool call every second turn, and the turns' context rows.
\set ON_ERROR_STOP on
SET synchronous_commit = off;

INSERT INTO targets (id, name)
SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(t), 12, '0'))::uuid, 'target-' || t
FROM generate_series(0, 49) t;

INSERT INTO harness_sessions (id, external_id, target_id, status, started_at, ended_at, trace_id,
                              span_id, features_completed, wall_clock_ms, attributes)
SELECT md5('session' || s)::uuid, 'session-' || s,
       ('00000000-0000-4000-8000-' || lpad(to_hex(s % 50), 12, '0'))::uuid,
       CASE WHEN s % 20 = 0 THEN 'failed' ELSE 'completed' END,
       start, start + (:turns * interval '30 seconds'),
       decode(md5('trace' || s), 'hex'), decode(substr(md5('span' || s), 1, 16), 'hex'),
       s % 4, :turns * 30000, '{}'::jsonb
FROM generate_series(0, :sessions - 1) s,
     LATERAL (SELECT now() - interval '30 days' + (s::float8 / :sessions) * interval '29 days'
             AS start) t;

-- Where context_usage is a table of its own (before migration 0024), it gets a row per turn
-- below; since then the turn's own context columns hold it, written with the turn.
SELECT EXISTS (SELECT 1 FROM pg_class WHERE relname = 'context_usage' AND relkind = 'r')
    AS context_table \gset
CREATE TEMP VIEW seed_turns AS
SELECT gen_random_uuid() AS id, s.id AS session_id, n AS turn_number,
       s.started_at + (n - 1) * interval '30 seconds' AS started_at,
       s.started_at + (n - 1) * interval '30 seconds' + ((n % 20) + 1) * interval '1 second'
           AS finished_at,
       500 + (n * 37) % 3000 AS input_tokens, 50 + (n * 13) % 900 AS output_tokens,
       2000 + (n * 101) % 60000 AS cache_read_tokens, (n * 7) % 2000 AS cache_write_tokens,
       2500 + (n * 37) % 3000 + (n * 101) % 60000 AS reported_input_tokens, s.trace_id,
       decode(lpad(to_hex(n), 16, '0'), 'hex') AS span_id, s.span_id AS parent_span_id,
       'anthropic' AS provider,
       (ARRAY['claude-sonnet-4-5-20250929', 'claude-opus-4-1-20250805',
              'claude-haiku-4-5-20251001'])[1 + (hashtext(s.external_id) & 2147483647) % 3]
           AS model,
       ((n % 20) + 1) * 1000 AS duration_ms, 200 + (n * 53) % 2500 AS time_to_first_token_ms,
       ((n * 37) % 3000) * 0.000003 + 0.001 AS cost_usd, 200000 AS context_window,
       'ok' AS status, '{}'::jsonb AS attributes
FROM harness_sessions s, generate_series(1, :turns) n;
\if :context_table
INSERT INTO session_turns (id, session_id, turn_number, started_at, finished_at, input_tokens,
                           output_tokens, cache_read_tokens, cache_write_tokens,
                           reported_input_tokens, trace_id, span_id, parent_span_id, provider,
                           model, duration_ms, time_to_first_token_ms, cost_usd, context_window,
                           status, attributes)
SELECT * FROM seed_turns;
\else
INSERT INTO session_turns (id, session_id, turn_number, started_at, finished_at, input_tokens,
                           output_tokens, cache_read_tokens, cache_write_tokens,
                           reported_input_tokens, trace_id, span_id, parent_span_id, provider,
                           model, duration_ms, time_to_first_token_ms, cost_usd, context_window,
                           status, attributes, context_system_tokens, context_feature_tokens,
                           context_file_tokens, context_conversation_tokens,
                           context_total_tokens, context_limit, context_segments_reported,
                           context_utilization_ratio)
SELECT t.*, 0, 0, 0, 0, t.input_tokens + t.cache_read_tokens + t.cache_write_tokens,
       t.context_window, FALSE,
       (t.input_tokens + t.cache_read_tokens + t.cache_write_tokens)::float8 / t.context_window
FROM seed_turns t;
\endif

INSERT INTO session_retries (id, session_id, retry_number, reason, original_model,
                             wait_duration_ms, succeeded, trace_id, span_id, occurred_at,
                             created_at)
SELECT gen_random_uuid(), s.id, r, (ARRAY['rate_limit', 'overloaded', 'timeout'])[1 + r % 3],
       'claude-sonnet-4-5-20250929', 1000 * r, r % 4 <> 0, s.trace_id,
       decode(lpad(to_hex(1000000 + r), 16, '0'), 'hex'),
       s.started_at + r * interval '25 minutes', s.started_at + r * interval '25 minutes'
FROM harness_sessions s, generate_series(1, greatest(:turns / 50, 1)) r;

INSERT INTO session_test_runs (id, session_id, test_suite, total_tests, passed, failed,
                               duration_ms, trace_id, span_id, started_at)
SELECT gen_random_uuid(), s.id, 'unit', 100, 100 - (hashtext(s.external_id) & 7), 
       hashtext(s.external_id) & 7, 30000, s.trace_id, decode(repeat('ff', 8), 'hex'), s.ended_at
FROM harness_sessions s;

-- A tool call under every second turn, reading one of 200 files of its target.
INSERT INTO session_tool_calls (id, session_id, trace_id, span_id, parent_span_id, tool_name,
                                file_path, started_at, duration_ms, status, attributes)
SELECT gen_random_uuid(), t.session_id, t.trace_id,
       decode(lpad(to_hex(500000000 + t.turn_number), 16, '0'), 'hex'), t.span_id, 'Read',
       'src/file_' || (t.turn_number % 200) || '.rs', t.started_at + interval '1 second', 40,
       'ok', '{}'::jsonb
FROM session_turns t WHERE t.turn_number % 2 = 0;

INSERT INTO otlp_spans (trace_id, span_id, parent_span_id, kind, session_id, received_at)
SELECT trace_id, span_id, NULL, 'session', id, ended_at FROM harness_sessions
UNION ALL
SELECT trace_id, span_id, parent_span_id, 'turn', session_id, finished_at FROM session_turns
UNION ALL
SELECT trace_id, span_id, parent_span_id, 'tool', session_id, started_at FROM session_tool_calls;

\if :context_table
INSERT INTO context_usage (id, turn_id, session_id, turn_number, model, total_tokens,
                           context_limit, utilization, utilization_ratio)
SELECT gen_random_uuid(), id, session_id, turn_number, model,
       input_tokens + cache_read_tokens + cache_write_tokens, context_window,
       round((input_tokens + cache_read_tokens + cache_write_tokens)::numeric / context_window, 4),
       (input_tokens + cache_read_tokens + cache_write_tokens)::float8 / context_window
FROM session_turns;
\endif

UPDATE harness_sessions s SET
    turn_count = a.turns, input_tokens = a.input, output_tokens = a.output,
    cache_read_tokens = a.cache_read, cache_write_tokens = a.cache_write, cost_usd = a.cost,
    api_latency_ms = a.api_ms, time_to_first_token_ms = a.ttft,
    retry_count = greatest(:turns / 50, 1),
    tests_run = 100, tests_passed = 100 - (hashtext(s.external_id) & 7),
    tests_failed = hashtext(s.external_id) & 7,
    test_pass_rate = (100 - (hashtext(s.external_id) & 7)) / 100.0
FROM (SELECT session_id, count(*)::int AS turns, sum(input_tokens) AS input,
             sum(output_tokens) AS output, sum(cache_read_tokens) AS cache_read,
             sum(cache_write_tokens) AS cache_write, sum(cost_usd) AS cost,
             sum(duration_ms)::int AS api_ms,
             (percentile_cont(0.5) WITHIN GROUP (ORDER BY time_to_first_token_ms))::int AS ttft
      FROM session_turns GROUP BY session_id) a
WHERE s.id = a.session_id;

INSERT INTO token_usage_details (id, session_id, model, input_tokens, output_tokens,
                                 cache_read_tokens, cache_write_tokens, cache_hit_rate,
                                 context_utilization, cost_usd, request_count)
SELECT gen_random_uuid(), session_id, model, sum(input_tokens), sum(output_tokens),
       sum(cache_read_tokens), sum(cache_write_tokens),
       round(sum(cache_read_tokens)::numeric / (sum(cache_read_tokens) + sum(input_tokens)), 4),
       round(avg((input_tokens + cache_read_tokens + cache_write_tokens)::numeric
                 / context_window), 4),
       sum(cost_usd), count(*)
FROM session_turns GROUP BY session_id, model;

-- What ingest adds to the daily rollup, turn by turn.
INSERT INTO turn_usage_daily
SELECT (started_at AT TIME ZONE 'UTC')::date, model, 0,
       sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens),
       count(*), sum(cost_usd),
       COALESCE(sum((input_tokens + cache_read_tokens + cache_write_tokens)::float8
                    / NULLIF(context_window, 0)), 0),
       count(NULLIF(context_window, 0))
FROM session_turns GROUP BY 1, 2;

-- As a long-lived database would be: visibility map set (index-only scans), statistics known,
-- and the seed's dirty pages written out, so that the benchmark after it does not pay for the
-- checkpoint of gigabytes it did not write.
VACUUM (ANALYZE);
CHECKPOINT;
