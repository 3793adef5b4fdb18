#!/usr/bin/env python3
"""Writes the Grafana dashboards of dashboards/*.json (classic JSON model, schemaVersion 41).

The panels are declared here once, as data, so that every dashboard gets the same variables,
datasource references and threshold conventions; the JSON files are committed so that Grafana's
file provisioning (dashboards/provisioning/) and `docker compose up` need no build step.

    python3 dashboards/generate.py          # rewrite the JSON files
    python3 dashboards/generate.py --check  # exit 1 if a committed file differs (CI)

Standard library only. scripts/stack-test runs every PromQL expression and SQL query of these
dashboards against a real Prometheus and PostgreSQL.
"""

import json
import sys
from pathlib import Path

from grafana import (AT_LEAST_15, AT_LEAST_60, AT_LEAST_80, AT_LEAST_95, BAND_70_90, M, NEUTRAL, PG, RANGE,
                     RI, T, UNDER_30S, Layout, dashboard, datasource_variable, heatmap, panel,
                     prom_target, quantiles, row, series, stat, steps)

HERE = Path(__file__).resolve().parent


def overview():
    lay = Layout()
    tok = lambda t: f'acd_tokens_total{{type="{t}", {M}}}'
    p = [row(lay, "PRD targets (over the selected range)")]
    p += [
        stat(lay, "Token efficiency", "output / uncached input tokens; PRD target > 15%",
             f"sum(increase({tok('output')}[{RANGE}])) / sum(increase({tok('input')}[{RANGE}]))",
             "percentunit", AT_LEAST_15),
        stat(lay, "Cache hit rate", "cache_read / (cache_read + uncached input); PRD target > 60%",
             f"sum(increase({tok('cache_read')}[{RANGE}])) / "
             f"sum(increase(acd_tokens_total{{type=~\"cache_read|input\", {M}}}[{RANGE}]))",
             "percentunit", AT_LEAST_60),
        stat(lay, "Context utilization", "mean prompt tokens / context window; PRD target 70-90%",
             f"sum(increase(acd_context_utilization_ratio_sum{{{M}}}[{RANGE}])) / "
             f"sum(increase(acd_context_utilization_ratio_count{{{M}}}[{RANGE}]))",
             "percentunit", BAND_70_90),
        stat(lay, "Test pass rate", "latest session of each target: passed / (total - skipped); PRD target > 95%",
             f"acd_test_pass_rate{{{T}}}", "percentunit", AT_LEAST_95, legend="{{target}}"),
        stat(lay, "Retry success rate", "succeeded / (succeeded + exhausted) retries; PRD target > 80%",
             f"sum(increase(acd_retry_outcomes_total{{outcome=\"succeeded\"}}[{RANGE}])) / "
             f"sum(increase(acd_retry_outcomes_total[{RANGE}]))", "percentunit", AT_LEAST_80),
        stat(lay, "Index build p95", "95th percentile of codebase index time; PRD target < 30 s",
             f"histogram_quantile(0.95, sum by (le) (rate(acd_codebase_index_duration_seconds_bucket[{RANGE}])))",
             "s", UNDER_30S),
    ]
    p.append(row(lay, "Sessions and cost"))
    p += [
        stat(lay, "Sessions", "finished sessions by status",
             f"sum by (status) (increase(acd_sessions_total[{RANGE}]))", "short", NEUTRAL,
             legend="{{status}}", w=6),
        stat(lay, "Cost (range)", "USD from the price table", f"sum(increase(acd_cost_usd_total{{{M}}}[{RANGE}]))",
             "currencyUSD", NEUTRAL, w=6),
        stat(lay, "Cost per day", "USD over the last 24 h", f"sum(increase(acd_cost_usd_total{{{M}}}[1d]))",
             "currencyUSD", NEUTRAL, w=6),
        stat(lay, "Cost per feature", "USD / completed features (acd.session.features_completed)",
             f"sum(increase(acd_cost_usd_total[{RANGE}])) / sum(increase(acd_features_completed_total[{RANGE}]))",
             "currencyUSD", NEUTRAL, w=6),
        series(lay, "Cost per hour by model", "USD per hour (rate)",
               [(f"sum by (model) (rate(acd_cost_usd_total{{{M}}}[{RI}])) * 3600", "{{model}}")],
               unit="currencyUSD", stack=True),
        series(lay, "Cost per hour vs budget", "last hour's spend rate (recording rule) and the budget of AcdCostBurnOverBudget",
               [("acd_cost_usd:per_hour_rate1h", "spend per hour"),
                prom_target("acd_config:cost_budget_usd_per_hour", "budget", "B")], unit="currencyUSD"),
    ]
    p.append(row(lay, "Tokens"))
    p += [
        series(lay, "Tokens by type and model", "tokens per second; input is uncached",
               [(f"sum by (model, type) (rate(acd_tokens_total{{{M}}}[{RI}]))", "{{model}} {{type}}")],
               unit="short", stack=True),
        series(lay, "Efficiency and cache hit rate by model (1 h)", "recording rules; dashed areas are below target",
               [("model:acd_token_efficiency:ratio_rate1h{" + M + "}", "efficiency {{model}}"),
                prom_target("model:acd_cache_hit:ratio_rate1h{" + M + "}", "cache hit {{model}}", "B")],
               unit="percentunit", thresholds=AT_LEAST_15),
        series(lay, "Model calls by model", "turns per second",
               [(f"sum by (model) (rate(acd_model_requests_total{{{M}}}[{RI}]))", "{{model}}")], unit="reqps"),
        series(lay, "Unpriced model calls", "calls whose model has no price (their cost counts as 0)",
               [(f"sum by (model) (rate(acd_unpriced_model_requests_total{{{M}}}[{RI}]))", "{{model}}")],
               unit="reqps"),
    ]
    return dashboard("acd-overview", "ACD / Overview",
                     "Sessions, cost, tokens and the PRD's targets for the autonomous coding harness.", p)


def latency():
    lay = Layout()
    p = [row(lay, "Turn latency (one model call, retries included)")]
    p += [
        heatmap(lay, "Turn latency", "distribution of acd_turn_duration_seconds", "acd_turn_duration_seconds"),
        series(lay, "Turn latency percentiles by model", "p50 / p95 / p99", quantiles("acd_turn_duration_seconds"), unit="s"),
    ]
    p.append(row(lay, "Time to first token"))
    p += [
        heatmap(lay, "TTFT", "distribution of acd_time_to_first_token_seconds", "acd_time_to_first_token_seconds"),
        series(lay, "TTFT percentiles by model", "p50 / p95 / p99", quantiles("acd_time_to_first_token_seconds"), unit="s"),
    ]
    p.append(row(lay, "API time vs wall clock"))
    p += [
        series(lay, "API time vs session wall clock", "seconds of model calls vs seconds of finished sessions, per second",
               [(f"sum(rate(acd_turn_duration_seconds_sum{{{M}}}[{RI}]))", "API (model calls)"),
                prom_target(f"sum(rate(acd_session_wall_clock_seconds_sum[{RI}]))", "wall clock", "B")], unit="s"),
        stat(lay, "API share of wall clock", "model-call time / session wall clock over the range",
             f"sum(increase(acd_turn_duration_seconds_sum[{RANGE}])) / sum(increase(acd_session_wall_clock_seconds_sum[{RANGE}]))",
             "percentunit", NEUTRAL, w=6, h=8),
        stat(lay, "Session wall clock p95", "95th percentile of finished sessions' wall clock",
             f"histogram_quantile(0.95, sum by (le) (rate(acd_session_wall_clock_seconds_bucket[{RANGE}])))",
             "s", NEUTRAL, w=6, h=8),
    ]
    return dashboard("acd-latency", "ACD / Latency", "Model-call latency, time to first token and API time vs wall clock.", p)


def tests_retries():
    lay = Layout()
    p = [row(lay, "Tests")]
    p += [
        series(lay, "Pass rate by target", "latest session with test results; PRD target > 95%",
               [(f"acd_test_pass_rate{{{T}}}", "{{target}}")], unit="percentunit", thresholds=AT_LEAST_95,
               minmax=(0, 1)),
        series(lay, "Pass rate change vs previous session", "below -10 points fires AcdTestPassRateRegression",
               [(f"acd_test_pass_rate_delta{{{T}}}", "{{target}}")], unit="percentunit",
               thresholds=steps(("red", None), ("green", -0.10))),
        series(lay, "Tests by result", "tests of stored runs per second",
               [(f"sum by (result) (rate(acd_tests_total{{{T}}}[{RI}]))", "{{result}}")], stack=True, bars=True),
        series(lay, "Flaky tests and regressions", "flaky tests (gauge) and regressions in the range",
               [(f"acd_flaky_tests{{{T}}}", "flaky {{target}}"),
                prom_target(f"sum by (target) (increase(acd_test_regressions_total{{{T}}}[{RANGE}]))",
                            "regressions {{target}}", "B")]),
        series(lay, "Test run duration p95", "95th percentile of test run duration",
               [(f"histogram_quantile(0.95, sum by (le) (rate(acd_test_run_duration_seconds_bucket[{RI}])))", "p95")],
               unit="s"),
        series(lay, "Pass rate by target (1 d, recording rule)", "passed / (passed + failed + error) of the last day's runs",
               [(f"target:acd_tests_pass:ratio_increase1d{{{T}}}", "{{target}}")], unit="percentunit",
               thresholds=AT_LEAST_95),
    ]
    p.append(row(lay, "Retries"))
    p += [
        series(lay, "Retries by reason", "failed model calls retried or given up, per minute",
               [(f"sum by (reason) (rate(acd_retries_total{{{M}}}[{RI}])) * 60", "{{reason}}")], stack=True),
        series(lay, "Retries by model", "per minute",
               [(f"sum by (model) (rate(acd_retries_total{{{M}}}[{RI}])) * 60", "{{model}}")], stack=True),
        series(lay, "Retry success rate (1 h)", "succeeded / (succeeded + exhausted); PRD target > 80%",
               [("acd_retry_success:ratio_increase1h", "success rate")], unit="percentunit",
               thresholds=AT_LEAST_80, minmax=(0, 1)),
        series(lay, "Rate-limit retries per minute vs storm threshold", "AcdRetryStorm fires above the threshold",
               [("acd_retries_rate_limit:per_minute_rate5m", "rate-limit retries / min"),
                prom_target("acd_config:retry_storm_rate_limits_per_minute", "threshold", "B")]),
        series(lay, "Model fallbacks", "retries that moved to another model, per minute",
               [(f"sum by (from_model, to_model) (rate(acd_model_fallbacks_total[{RI}])) * 60",
                 "{{from_model}} → {{to_model}}")]),
        series(lay, "Back-off wait p95 and sessions at the retry limit", "wait before a retry; sessions that hit the limit",
               [(f"histogram_quantile(0.95, sum by (le) (rate(acd_retry_wait_seconds_bucket[{RI}])))", "wait p95 (s)"),
                prom_target(f"increase(acd_max_retries_hit_total[{RANGE}])", "sessions at the limit", "B")]),
    ]
    return dashboard("acd-tests-retries", "ACD / Tests & retries", "Test pass rate, regressions, flaky tests and retries.", p)


def context():
    lay = Layout()
    p = [row(lay, "Context window")]
    p += [
        stat(lay, "Mean utilization", "prompt tokens / context window over the range; PRD target 70-90%",
             f"sum(increase(acd_context_utilization_ratio_sum{{{M}}}[{RANGE}])) / "
             f"sum(increase(acd_context_utilization_ratio_count{{{M}}}[{RANGE}]))",
             "percentunit", BAND_70_90, w=6, h=8),
        series(lay, "Utilization by model (1 h mean, recording rule)", "outside 70-90% for 30 min fires AcdContextUtilizationOutOfBand",
               [("model:acd_context_utilization:mean_rate1h{" + M + "}", "{{model}}")], unit="percentunit",
               thresholds=BAND_70_90, w=18, h=8),
        series(lay, "Utilization percentiles by model", "p50 / p95 / p99 of acd_context_utilization_ratio",
               quantiles("acd_context_utilization_ratio"), unit="percentunit", thresholds=BAND_70_90),
        series(lay, "Context tokens by segment (mean per turn)", "system, feature, files, conversation",
               [(f"sum by (segment) (rate(acd_context_tokens_sum[{RI}])) / sum by (segment) (rate(acd_context_tokens_count[{RI}]))",
                 "{{segment}}")], stack=True),
        series(lay, "Context overflows by model", "turns whose prompt exceeded the context window",
               [(f"sum by (model) (increase(acd_context_overflows_total{{{M}}}[{RI}]))", "{{model}}")], bars=True,
               w=24),
    ]
    return dashboard("acd-context", "ACD / Context", "Context window utilization, its segments and overflows.", p)


def codebase():
    lay = Layout()
    p = [row(lay, "Latest index per target")]
    for metric, title, unit in (("acd_codebase_files", "Files", "short"), ("acd_codebase_lines", "Lines", "short"),
                                ("acd_codebase_bytes", "Bytes", "bytes"),
                                ("acd_codebase_index_tokens", "Tokens (chars/4)", "short")):
        p.append(stat(lay, title, f"{metric}: the latest index this collector wrote", f"{metric}{{{T}}}", unit, NEUTRAL,
                      legend="{{target}}", w=6))
    p.append(row(lay, "Index builds"))
    p += [
        series(lay, "Index build time p50 / p95", "PRD target < 30 s",
               [(f"histogram_quantile(0.5, sum by (le) (rate(acd_codebase_index_duration_seconds_bucket[{RI}])))", "p50"),
                prom_target(f"histogram_quantile(0.95, sum by (le) (rate(acd_codebase_index_duration_seconds_bucket[{RI}])))",
                            "p95", "B")], unit="s", thresholds=UNDER_30S),
        series(lay, "Index builds and builds over 30 s", "per hour (recording rule for the slow ones)",
               [(f"sum(increase(acd_codebase_index_duration_seconds_count[{RI}]))", "builds"),
                prom_target("acd_codebase_index_over_30s:increase1h", "over 30 s (last hour)", "B")], bars=True),
        stat(lay, "Since the last index", "time since the last index finished",
             "time() - acd_codebase_last_indexed_timestamp_seconds", "s", NEUTRAL, w=6),
        stat(lay, "Index build p95 (1 d, recording rule)", "PRD target < 30 s",
             "acd_codebase_index_duration_seconds:p95_rate1d", "s", UNDER_30S, w=6),
    ]
    return dashboard("acd-codebase", "ACD / Codebase", "Codebase index size and build time per target.", p)


SESSIONS_SQL = """SELECT s.id AS session_id,
       s.started_at,
       s.status,
       COALESCE(t.name, s.target_id::text) AS target,
       s.target_id,
       s.feature_id,
       s.turn_count,
       s.input_tokens + s.output_tokens + s.cache_read_tokens + s.cache_write_tokens AS tokens,
       s.cost_usd,
       s.test_pass_rate,
       s.retry_count,
       s.max_retries_hit,
       s.wall_clock_ms / 1000.0 AS wall_clock_s
FROM harness_sessions s
LEFT JOIN targets t ON t.id = s.target_id
WHERE $__timeFilter(s.started_at)
  AND ('__all__' IN (${target:sqlstring}) OR t.name IN (${target:sqlstring}))
  AND ('__all__' IN (${model:sqlstring}) OR EXISTS (
        SELECT 1 FROM session_turns tu WHERE tu.session_id = s.id AND tu.model IN (${model:sqlstring})))
ORDER BY s.started_at DESC
LIMIT 200"""

COST_BY_MODEL_SQL = """SELECT tu.model,
       count(*) AS turns,
       sum(tu.input_tokens) AS input_tokens,
       sum(tu.output_tokens) AS output_tokens,
       sum(tu.cache_read_tokens) AS cache_read_tokens,
       round(sum(tu.cache_read_tokens)::numeric
             / NULLIF(sum(tu.cache_read_tokens) + sum(tu.input_tokens), 0), 4) AS cache_hit_rate
FROM session_turns tu
WHERE $__timeFilter(tu.started_at)
  AND ('__all__' IN (${model:sqlstring}) OR tu.model IN (${model:sqlstring}))
GROUP BY tu.model
ORDER BY turns DESC"""


def sql_variable(name, label, sql):
    return {"name": name, "label": label, "type": "query", "datasource": PG, "query": sql, "definition": sql,
            "includeAll": True, "multi": True, "allValue": "__all__", "refresh": 2, "sort": 1,
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]}, "hide": 0, "regex": "",
            "options": []}


def link(title, path):
    return {"title": title, "url": "${collector_url}" + path, "targetBlank": True}


def drilldown():
    lay = Layout()
    sessions = panel(lay, "table", "Recent sessions", "Click a session id for its REST resources (the collector's API).",
                     [{"refId": "A", "datasource": PG, "format": "table", "rawQuery": True, "editorMode": "code",
                       "rawSql": SESSIONS_SQL}], w=24, h=14, datasource=PG,
                     options={"showHeader": True, "cellHeight": "sm", "footer": {"show": False}})
    sessions["fieldConfig"]["overrides"] = [
        {"matcher": {"id": "byName", "options": "session_id"}, "properties": [{"id": "links", "value": [
            link("Session", "/api/db/sessions/${__value.raw}"),
            link("Turns", "/api/db/sessions/${__value.raw}/turns"),
            link("Timing", "/api/db/sessions/${__value.raw}/timing"),
            link("Retries", "/api/db/retries/${__value.raw}")]}]},
        {"matcher": {"id": "byName", "options": "target"}, "properties": [{"id": "links", "value": [
            link("Test history", "/api/db/tests/${__data.fields.target_id}"),
            link("Codebase index", "/api/db/codebase/${__data.fields.target_id}")]}]},
        {"matcher": {"id": "byName", "options": "target_id"}, "properties": [{"id": "custom.hidden", "value": True}]},
        {"matcher": {"id": "byName", "options": "cost_usd"}, "properties": [{"id": "unit", "value": "currencyUSD"}]},
        {"matcher": {"id": "byName", "options": "test_pass_rate"}, "properties": [
            {"id": "unit", "value": "percentunit"}, {"id": "thresholds", "value": AT_LEAST_95},
            {"id": "custom.cellOptions", "value": {"type": "color-text"}}]},
    ]
    by_model = panel(lay, "table", "Usage by model (selected range)", "From session_turns; cache hit rate as in the PRD.",
                     [{"refId": "A", "datasource": PG, "format": "table", "rawQuery": True, "editorMode": "code",
                       "rawSql": COST_BY_MODEL_SQL}], w=24, h=8, datasource=PG)
    by_model["fieldConfig"]["overrides"] = [
        {"matcher": {"id": "byName", "options": "cache_hit_rate"}, "properties": [
            {"id": "unit", "value": "percentunit"}, {"id": "thresholds", "value": AT_LEAST_60},
            {"id": "custom.cellOptions", "value": {"type": "color-text"}}]}]
    variables = [
        datasource_variable("postgres", "PostgreSQL", "grafana-postgresql-datasource"),
        datasource_variable("datasource", "Prometheus", "prometheus"),
        sql_variable("target", "Target", "SELECT DISTINCT name FROM targets WHERE name IS NOT NULL ORDER BY 1"),
        sql_variable("model", "Model", "SELECT DISTINCT model FROM session_turns ORDER BY 1"),
        {"name": "collector_url", "label": "Collector API", "type": "textbox", "query": "http://localhost:9464",
         "current": {"text": "http://localhost:9464", "value": "http://localhost:9464"}, "hide": 0, "options": []},
    ]
    return dashboard("acd-sessions", "ACD / Sessions (drill-down)",
                     "Recent sessions from PostgreSQL, linking to the collector's REST API.", [sessions, by_model],
                     variables=variables)


DASHBOARDS = {
    "overview.json": overview,
    "latency.json": latency,
    "tests-retries.json": tests_retries,
    "context.json": context,
    "codebase.json": codebase,
    "sessions.json": drilldown,
}


def main(argv):
    check = "--check" in argv
    stale = []
    for name, build in DASHBOARDS.items():
        text = json.dumps(build(), indent=2, ensure_ascii=False) + "\n"
        path = HERE / name
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"dashboards out of date (run python3 dashboards/generate.py): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
