// Overview: the PRD's success metrics over 24 h / 7 d / 30 d, each against its target, and the
// tokens by type per day. Everything comes from existing REST summaries (efficiency, token usage,
// retries, sessions, codebase); the test pass rate sums the range's sessions (first 500).

import { api } from "./api.js";
import { h, card, chart, fmt, COLORS } from "./dom.js";

const RANGES = [
  ["24h", 1, "24 hours"],
  ["7d", 7, "7 days"],
  ["30d", 30, "30 days"],
];

const verdict = (value, test, text) => ({ met: value === null || value === undefined ? null : test(value), text });

async function indexBuild() {
  const { targets } = await api("/api/db/targets");
  const latest = await Promise.all(
    targets.slice(0, 20).map((t) => api(`/api/db/codebase/${t.id}`).then((d) => d.latest, () => null)),
  );
  const times = latest.filter((l) => l && l.build_duration_ms !== null).map((l) => l.build_duration_ms);
  return times.length ? Math.max(...times) : null;
}

export async function render(_arg, params) {
  const key = params.get("range") || "7d";
  const [, days, label] = RANGES.find((r) => r[0] === key) || RANGES[1];
  const from = new Date(Date.now() - days * 86_400_000).toISOString();
  const [eff, usage, retries, page, buildMs] = await Promise.all([
    api(`/api/db/token-usage/efficiency?days=${days}`),
    api(`/api/db/token-usage?days=${days}`),
    api(`/api/db/retries/summary?days=${days}`),
    api(`/api/db/sessions?from=${encodeURIComponent(from)}&limit=500`),
    indexBuild(),
  ]);
  const t = eff.targets;
  let passed = 0;
  let judged = 0;
  for (const s of page.sessions) {
    passed += s.tests_passed;
    judged += s.tests_passed + s.tests_failed;
  }
  const passRate = judged ? passed / judged : null;
  const tokens = usage.daily.reduce(
    (a, d) => a + d.input_tokens + d.output_tokens + d.cache_read_tokens + d.cache_write_tokens,
    0,
  );

  const picker = h(
    "div.segmented",
    { role: "group", "aria-label": "Time range" },
    RANGES.map(([k, , text]) =>
      h("a.button", { href: `#/overview?range=${k}`, "aria-current": k === key ? "true" : null }, text),
    ),
  );
  const cards = h(
    "div.cards",
    {},
    card("Sessions", fmt(eff.sessions)),
    card("Cost", fmt(eff.total_cost_usd, "usd")),
    card("Tokens", fmt(tokens)),
    card(
      "Output / input efficiency",
      fmt(eff.token_efficiency, "pct"),
      verdict(eff.token_efficiency, (v) => v > t.token_efficiency_min, `> ${fmt(t.token_efficiency_min, "pct")}`),
    ),
    card(
      "Cache hit rate",
      fmt(eff.cache_hit_rate, "pct"),
      verdict(eff.cache_hit_rate, (v) => v > t.cache_hit_rate_min, `> ${fmt(t.cache_hit_rate_min, "pct")}`),
    ),
    card(
      "Context utilization",
      fmt(eff.context_utilization, "pct"),
      verdict(
        eff.context_utilization,
        (v) => v >= t.context_utilization_min && v <= t.context_utilization_max,
        `${fmt(t.context_utilization_min, "pct")}–${fmt(t.context_utilization_max, "pct")}`,
      ),
    ),
    card("Test pass rate", fmt(passRate, "pct"), verdict(passRate, (v) => v > 0.95, "> 95 %")),
    card(
      "Retry success rate",
      fmt(retries.success_rate, "pct"),
      verdict(retries.success_rate, (v) => v > 0.8, "> 80 %"),
    ),
    card(
      "Index build (slowest latest)",
      buildMs === null ? "–" : `${(buildMs / 1000).toFixed(1)} s`,
      verdict(buildMs, (v) => v < 30_000, "< 30 s"),
    ),
  );
  const days_ = usage.daily.map((d) => d.day.slice(0, 10));
  const series = [
    ["Input (uncached)", "input_tokens", COLORS.input],
    ["Output", "output_tokens", COLORS.output],
    ["Cache read", "cache_read_tokens", COLORS.cache_read],
    ["Cache write", "cache_write_tokens", COLORS.cache_write],
  ];
  const byDay = chart(`Tokens by type per day (${label})`, {
    type: "bar",
    data: {
      labels: days_,
      datasets: series.map(([name, field, color]) => ({
        label: name,
        data: usage.daily.map((d) => d[field]),
        backgroundColor: color,
      })),
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: "tokens" } } } },
  });
  const cost = chart(
    `Cost per day (${label})`,
    {
      type: "bar",
      data: {
        labels: days_,
        datasets: [{ label: "USD", data: usage.daily.map((d) => d.cost_usd), backgroundColor: COLORS.output }],
      },
      options: { plugins: { legend: { display: false } } },
    },
    200,
  );
  const el = h(
    "div",
    { dataset: { title: "Overview" } },
    h("div.page-head", {}, h("h1", {}, "Overview"), picker),
    cards,
    h("div.grid2", {}, byDay, cost),
  );
  return el;
}
