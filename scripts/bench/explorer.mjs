// The explorer benchmark's browser half (scripts/bench-explorer): sends one session of
// BENCH_TURNS turns (default 500, each with a tool call) as OTLP/HTTP JSON, then renders its
// session page in headless chromium BENCH_REPEAT times and prints the median render time (from
// navigation to the page's "ready" mark, charts drawn) against the 1 s goal. With
// BENCH_BASELINE_API/BENCH_BASELINE_OTLP (a second collector, scripts/bench-explorer's
// BENCH_BASELINE) it sends the same session there too and alternates the page loads between the
// two, so that both medians are taken under the same machine load, and prints their ratio.
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.NODE_PATH, "noop.js"));
const { chromium } = require("playwright-core");
const TARGETS = [{ name: "bench", api: process.env.BENCH_API, otlp: process.env.BENCH_OTLP }];
if (process.env.BENCH_BASELINE_API) {
  TARGETS.push({ name: "baseline", api: process.env.BENCH_BASELINE_API, otlp: process.env.BENCH_BASELINE_OTLP });
}
const TURNS = Number(process.env.BENCH_TURNS || 500);
const REPEAT = Number(process.env.BENCH_REPEAT || 5);

const hex = (n, len) => n.toString(16).padStart(len, "0");
const trace = hex(Date.now(), 32);
const t0 = BigInt(Date.now() - 3_600_000) * 1_000_000n;
const ns = (ms) => String(t0 + BigInt(ms) * 1_000_000n);
const kv = (key, v) => ({
  key,
  value: typeof v === "string" ? { stringValue: v } : Number.isInteger(v) ? { intValue: v } : { doubleValue: v },
});
const conversation = `bench-explorer-${Date.now()}`;
const spans = [
  {
    traceId: trace, spanId: hex(1, 16), name: "invoke_agent harness", kind: 1,
    startTimeUnixNano: ns(0), endTimeUnixNano: ns(TURNS * 4000 + 1000),
    attributes: [kv("gen_ai.operation.name", "invoke_agent"), kv("gen_ai.conversation.id", conversation),
      kv("acd.target.id", "0b7b3c0e-4f43-4d1e-9d7a-2f3a4b5c6d7e"), kv("acd.target.name", "bench")],
  },
];
for (let k = 0; k < TURNS; k++) {
  const start = 500 + k * 4000;
  const id = 16 + 2 * k;
  spans.push({
    traceId: trace, spanId: hex(id, 16), parentSpanId: hex(1, 16), name: "chat claude", kind: 1,
    startTimeUnixNano: ns(start), endTimeUnixNano: ns(start + 3000),
    attributes: [kv("gen_ai.operation.name", "chat"), kv("gen_ai.provider.name", "anthropic"),
      kv("gen_ai.request.model", "claude-sonnet-4-5-20250929"), kv("gen_ai.usage.input_tokens", 2000 + k * 50),
      kv("gen_ai.usage.output_tokens", 400), kv("gen_ai.usage.cache_read.input_tokens", 1500 + k * 40),
      kv("gen_ai.usage.cache_creation.input_tokens", 100), kv("gen_ai.response.time_to_first_chunk", 0.7),
      kv("acd.turn.number", k + 1)],
  });
  spans.push({
    traceId: trace, spanId: hex(id + 1, 16), parentSpanId: hex(id, 16), name: "execute_tool", kind: 1,
    startTimeUnixNano: ns(start + 3100), endTimeUnixNano: ns(start + 3800),
    attributes: [kv("gen_ai.operation.name", "execute_tool"), kv("gen_ai.tool.name", "Read"), kv("acd.tool.file_path", `src/f${k % 40}.rs`)],
  });
}
const body = JSON.stringify({ resourceSpans: [{ resource: { attributes: [kv("service.name", "bench")] }, scopeSpans: [{ scope: { name: "bench" }, spans }] }] });
for (const target of TARGETS) {
  const { api: API, otlp: OTLP } = target;
  const r = await fetch(`${OTLP}/v1/traces`, { method: "POST", headers: { "content-type": "application/json" }, body });
  if (!r.ok) throw new Error(`OTLP export: ${r.status} ${await r.text()}`);
  const page0 = await (await fetch(`${API}/api/db/sessions?limit=1`)).json();
  const id = page0.sessions[0].id;
  target.id = id;
  target.turns = (await (await fetch(`${API}/api/db/sessions/${id}/turns`)).json()).turns.length;

  // The REST answers the page needs, timed alone: the part of the render that is the collector's.
  const restStart = Date.now();
  await Promise.all(
    ["", "/timing", "/turns"].map((p) => fetch(`${API}/api/db/sessions/${id}${p}`).then((r) => r.text()))
      .concat([fetch(`${API}/api/db/retries/${id}`).then((r) => r.text()), fetch(`${API}/api/db/context/${id}`).then((r) => r.text())]),
  );
  target.restMs = Date.now() - restStart;
  target.times = [];
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
for (let i = 0; i < REPEAT + 1; i++) {
  // Which goes first swaps each round: neither always loads right after the other.
  for (const target of i % 2 ? [...TARGETS].reverse() : TARGETS) {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const t = Date.now();
    await page.goto(`${target.api}/#/session/${target.id}`);
    await page.waitForFunction(() => document.getElementById("view")?.dataset.ready && !document.getElementById("view").hasAttribute("aria-busy"));
    // Two animation frames: the charts' first paint is done.
    await page.evaluate(() => new Promise((res) => requestAnimationFrame(() => requestAnimationFrame(res))));
    if (i > 0) target.times.push(Date.now() - t); // the first load warms the browser's caches
    await page.close();
  }
}
await browser.close();
const median = (times) => [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)];
const [bench, baseline] = TARGETS;
const m = median(bench.times);
const out = { turns: bench.turns, render_ms_median: m, rest_ms: bench.restMs, render_ms_all: bench.times, goal_ms: 1000, ratio_to_goal: m / 1000 };
if (baseline) {
  const b = median(baseline.times);
  Object.assign(out, { baseline_render_ms_median: b, baseline_rest_ms: baseline.restMs, baseline_render_ms_all: baseline.times, ratio_to_baseline: Math.round((m / b) * 1000) / 1000 });
}
console.log(JSON.stringify(out));
