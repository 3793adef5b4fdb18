"""Driver of scripts/bench-queries: times each REST endpoint against a seeded database, then
fills the collector's metric families (50 models, 200 targets) through OTLP/HTTP JSON and times
/metrics. Prints one line per endpoint and, last, one JSON object."""
import http.client, json, random, statistics, sys, time, urllib.parse

api, otlp, repeat = sys.argv[1], sys.argv[2], int(sys.argv[3])
session_ids, target_ids = json.loads(sys.argv[4]), json.loads(sys.argv[5])
rng = random.Random(9)

def connection(base):
    u = urllib.parse.urlparse(base)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=60)

conn = connection(api)

def get(path):
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        raise SystemExit(f"GET {path}: {r.status} {body[:300]!r}")
    return body

def timed(make_path):
    for _ in range(3):  # warm the caches and the prepared statements
        get(make_path())
    times = []
    for _ in range(repeat):
        path = make_path()
        t = time.perf_counter()
        get(path)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    p99 = times[min(len(times) - 1, int(round(0.99 * len(times) + 0.5)) - 1)]
    return statistics.median(times), p99

session = lambda: rng.choice(session_ids)
target = lambda: rng.choice(target_ids)
drill = {
    "GET /api/db/sessions/:id": lambda: f"/api/db/sessions/{session()}",
    "GET /api/db/sessions/:id/turns": lambda: f"/api/db/sessions/{session()}/turns",
    "GET /api/db/sessions/:id/timing": lambda: f"/api/db/sessions/{session()}/timing",
    "GET /api/db/retries/:id": lambda: f"/api/db/retries/{session()}",
    "GET /api/db/sessions?target_id=": lambda: f"/api/db/sessions?target_id={target()}&limit=50",
    "GET /api/db/sessions": lambda: "/api/db/sessions?limit=50&offset=500",
}
aggregates = {
    "GET /api/db/token-usage?days=30": lambda: "/api/db/token-usage?days=30",
    "GET /api/db/token-usage/by-model?days=30": lambda: "/api/db/token-usage/by-model?days=30",
    "GET /api/db/token-usage/efficiency?days=30": lambda: "/api/db/token-usage/efficiency?days=30",
    "GET /api/db/retries/summary?days=30": lambda: "/api/db/retries/summary?days=30",
    "GET /api/db/tests/:repoId": lambda: f"/api/db/tests/{target()}",
    "GET /api/db/tests/flaky": lambda: "/api/db/tests/flaky",
    "GET /api/db/tests/regressions": lambda: "/api/db/tests/regressions",
}
results = {}
for kind, table, target_ms in (("drill-down", drill, 50), ("30-day aggregate", aggregates, 250)):
    for name, make in table.items():
        p50, p99 = timed(make)
        results[name] = {"p50_ms": round(p50, 1), "p99_ms": round(p99, 1)}
        verdict = "ok" if p99 < target_ms else f"over the {target_ms} ms target"
        print(f"{name:48} p50 {p50:8.1f} ms  p99 {p99:8.1f} ms  ({kind}; {verdict})", flush=True)

# Metric series: one turn per model (50) and one session with a test run per target (200).
def kv(k, v):
    key = "intValue" if isinstance(v, int) else "stringValue"
    return {"key": k, "value": {key: str(v) if isinstance(v, int) else v}}
now = time.time_ns()
spans = []
for i in range(200):
    trace = f"{i + 1:032x}"
    spans.append({"traceId": trace, "spanId": f"{1:016x}", "name": "invoke_agent harness",
                  "startTimeUnixNano": str(now - 10**10), "endTimeUnixNano": str(now),
                  "attributes": [kv("gen_ai.operation.name", "invoke_agent"),
                                 kv("gen_ai.conversation.id", f"metrics-session-{i}"),
                                 kv("acd.target.id", f"00000000-0000-4000-9000-{i:012x}"),
                                 kv("acd.target.name", f"metrics-target-{i}")]})
    spans.append({"traceId": trace, "spanId": f"{2:016x}", "parentSpanId": f"{1:016x}",
                  "name": "acd.test_run", "startTimeUnixNano": str(now - 10**9),
                  "endTimeUnixNano": str(now),
                  "attributes": [kv("acd.test.passed", 9), kv("acd.test.failed", i % 3)]})
    if i < 50:
        spans.append({"traceId": trace, "spanId": f"{3:016x}", "parentSpanId": f"{1:016x}",
                      "name": "chat", "startTimeUnixNano": str(now - 5 * 10**9),
                      "endTimeUnixNano": str(now - 10**9),
                      "attributes": [kv("gen_ai.operation.name", "chat"),
                                     kv("gen_ai.request.model", f"bench-model-{i}"),
                                     kv("gen_ai.usage.input_tokens", 1000),
                                     kv("gen_ai.usage.output_tokens", 100)]})
body = json.dumps({"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": spans}]}]})
oc = connection(otlp)
oc.request("POST", "/v1/traces", body, {"Content-Type": "application/json"})
r = oc.getresponse()
answer = r.read()
if r.status != 200:
    raise SystemExit(f"OTLP export: {r.status} {answer[:300]!r}")
text = get("/metrics").decode()
series = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
models = len({l.split('model="')[1].split('"')[0] for l in text.splitlines() if 'model="' in l})
targets = len({l.split('target="')[1].split('"')[0] for l in text.splitlines() if 'target="' in l})
p50, p99 = timed(lambda: "/metrics")
results["GET /metrics"] = {"p50_ms": round(p50, 1), "p99_ms": round(p99, 1), "series": series,
                           "model_labels": models, "target_labels": targets}
print(f"{'GET /metrics':48} p50 {p50:8.1f} ms  p99 {p99:8.1f} ms  ({series} series, {models} "
      f"model and {targets} target label values: the label guards cap both at 64 + other)")
print(json.dumps(results))
