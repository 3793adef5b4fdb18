// One session: totals (wall clock vs API time, our cost vs the source's reported cost, tokens by
// type), a turn waterfall on a time axis (wait for the first token, generation, tool calls, and
// retries with their back-off, as Chart.js floating horizontal bars), tokens per turn as stacked
// bars, context per turn against the limit with overflows and compactions, retries and tests.
// Every number carries data-src naming the REST field it shows; the browser tests compare them.

import { api } from "./api.js";
import { h, num, numHtml, esc, fromHtml, time, card, chart, table, COLORS } from "./dom.js";

const ms = (iso) => new Date(iso).getTime();

/** A value as Chart.js's own parsing would read it: a finite number or null (no data). */
const value = (v) => {
  const n = v === null || v === undefined ? NaN : Number(v);
  return Number.isFinite(n) ? n : null;
};

/** Points in Chart.js's internal format ({x: category index, y}) for `parsing: false`, which
 *  skips its per-point parse pass; what it draws is the same as for plain values. */
const points = (values) => values.map((y, x) => ({ x, y: value(y) }));

function waterfall(s, turns, retries) {
  const t0 = ms(s.started_at);
  const rel = (iso) => (ms(iso) - t0) / 1000;
  const wait = [];
  const gen = [];
  const tools = [];
  for (const t of turns) {
    const y = `Turn ${t.turn_number}`;
    const start = rel(t.started_at);
    const end = t.finished_at ? rel(t.finished_at) : start + (t.duration_ms || 0) / 1000;
    const first = t.time_to_first_token_ms === null ? start : Math.min(end, start + t.time_to_first_token_ms / 1000);
    wait.push({ x: [start, first], y });
    gen.push({ x: [first, end], y });
    for (const c of t.tool_calls || []) {
      if (!c.started_at) continue;
      const a = rel(c.started_at);
      tools.push({ x: [a, a + (c.duration_ms || 0) / 1000], y, name: c.name });
    }
  }
  const back = retries
    .filter((r) => r.occurred_at)
    .map((r) => {
      const at = rel(r.occurred_at);
      return { x: [Math.max(0, at - (r.wait_duration_ms || 0) / 1000), at], y: "Retries", reason: r.reason };
    });
  const labels = turns.map((t) => `Turn ${t.turn_number}`);
  if (back.length) labels.push("Retries");
  const height = Math.min(2400, 90 + labels.length * 18);
  return chart(
    "Turn waterfall (seconds since the session started)",
    {
      type: "bar",
      data: {
        labels,
        datasets: [
          { label: "Wait for first token", data: wait, backgroundColor: COLORS.ttft },
          { label: "Generation", data: gen, backgroundColor: COLORS.generation },
          { label: "Tool calls", data: tools, backgroundColor: COLORS.tool },
          { label: "Retry back-off", data: back, backgroundColor: COLORS.retry },
        ],
      },
      options: {
        indexAxis: "y",
        parsing: { xAxisKey: "x", yAxisKey: "y" },
        // Every bar is in one stack per row: not grouping draws the same bars without Chart.js
        // searching the stacks again for each of them (a 500-turn session has 1,500 bars).
        grouped: false,
        scales: {
          x: { type: "linear", min: 0, title: { display: true, text: "s" } },
          y: { stacked: true, ticks: { autoSkip: true } },
        },
        plugins: {
          tooltip: {
            callbacks: {
              label: (c) => {
                const [a, b] = c.raw.x;
                const what = c.raw.name || c.raw.reason || c.dataset.label;
                return `${what}: ${((b - a) * 1000).toFixed(0)} ms (from ${a.toFixed(2)} s)`;
              },
            },
          },
        },
      },
    },
    height,
  );
}

function tokenBars(turns) {
  const series = [
    ["Input (uncached)", "input_tokens", COLORS.input],
    ["Output", "output_tokens", COLORS.output],
    ["Cache read", "cache_read_tokens", COLORS.cache_read],
    ["Cache write", "cache_write_tokens", COLORS.cache_write],
  ];
  return chart("Tokens per turn", {
    type: "bar",
    data: {
      labels: turns.map((t) => t.turn_number),
      datasets: series.map(([label, f, color]) => ({ label, data: points(turns.map((t) => t[f])), backgroundColor: color })),
    },
    // One stack per turn, so not grouping is the same picture (see the waterfall).
    options: { parsing: false, grouped: false, scales: { x: { stacked: true, title: { display: true, text: "turn" } }, y: { stacked: true } } },
  });
}

function contextChart(ctx) {
  const rows = ctx.turns;
  const overflow = rows.map((r) => (r.overflow ? r.total_tokens : null));
  return chart("Context per turn against the limit", {
    type: "line",
    data: {
      labels: rows.map((r) => r.turn_number ?? "?"),
      datasets: [
        { label: "Context used", data: points(rows.map((r) => r.total_tokens)), borderColor: COLORS.files, backgroundColor: COLORS.files, fill: false },
        { label: "Limit", data: points(rows.map((r) => r.context_limit)), borderColor: COLORS.limit, borderDash: [6, 4], pointRadius: 0 },
        { label: "Overflow", data: points(overflow), showLine: false, pointStyle: "triangle", pointRadius: 8, backgroundColor: COLORS.retry, borderColor: COLORS.retry },
      ],
    },
    options: { parsing: false, scales: { x: { title: { display: true, text: "turn" } }, y: { beginAtZero: true, title: { display: true, text: "tokens" } } } },
  });
}

export async function render(id) {
  const enc = encodeURIComponent(id);
  const [s, timing, { turns, side_calls: sideCalls = [] }, { retries }, ctx] = await Promise.all([
    api(`/api/db/sessions/${enc}`),
    api(`/api/db/sessions/${enc}/timing`),
    api(`/api/db/sessions/${enc}/turns`),
    api(`/api/db/retries/${enc}`),
    api(`/api/db/context/${enc}`),
  ]);
  const totals = h(
    "div.cards",
    {},
    card("Wall clock", num(s.wall_clock_ms, "ms", "session:wall_clock_ms")),
    card("API time", num(timing.api_time_ms, "ms", "timing:api_time_ms")),
    card("API share of wall clock", num(timing.api_time_ratio, "pct", "timing:api_time_ratio")),
    card("Our cost", num(s.cost_usd, "usd", "session:cost_usd")),
    card("CLI reported cost", num(s.reported_cost_usd, "usd", "session:reported_cost_usd")),
    card("Cost difference", num(s.cost_difference_usd, "usd", "session:cost_difference_usd")),
    card("Input (uncached)", num(s.input_tokens, "int", "session:input_tokens")),
    card("Output", num(s.output_tokens, "int", "session:output_tokens")),
    card("Cache read", num(s.cache_read_tokens, "int", "session:cache_read_tokens")),
    card("Cache write", num(s.cache_write_tokens, "int", "session:cache_write_tokens")),
    card("Turns", num(s.turn_count, "int", "session:turn_count")),
    card("Retries", num(s.retry_count, "int", "session:retry_count")),
    card("Peak context", num(ctx.peak ? ctx.peak.total_tokens : null, "int", ctx.peak ? "context:peak.total_tokens" : null)),
    card("Compactions", num(ctx.compactions, "int", "context:compactions")),
    card("Tests passed / run", h("span", {}, num(s.tests_passed, "int", "session:tests_passed"), " / ", num(s.tests_run, "int", "session:tests_run"))),
    card("Test pass rate", num(s.test_pass_rate, "pct", "session:test_pass_rate")),
  );
  // One HTML parse for all rows (values escaped): per-cell DOM calls were most of the table's cost.
  const cell = (i, t, field, unit) => `<td class="r">${numHtml(t[field], unit, `turns:${i}:${field}`)}</td>`;
  const turnRows = fromHtml(
    turns
      .map(
        (t, i) =>
          `<tr>${cell(i, t, "turn_number", "int")}<td>${esc(t.model)}</td>` +
          cell(i, t, "time_to_first_token_ms", "ms") +
          cell(i, t, "duration_ms", "ms") +
          cell(i, t, "input_tokens", "int") +
          cell(i, t, "output_tokens", "int") +
          cell(i, t, "cache_read_tokens", "int") +
          cell(i, t, "cache_write_tokens", "int") +
          cell(i, t, "cost_usd", "usd") +
          `<td>${esc((t.tool_calls || []).map((c) => c.name).join(", "))}</td></tr>`,
      )
      .join(""),
  );
  const retryRows = retries.map((r, i) =>
    h(
      "tr",
      {},
      h("td.r", {}, num(r.retry_number, "int", `retries:${i}:retry_number`)),
      h("td", {}, r.reason),
      h("td.r", {}, num(r.wait_duration_ms, "ms", `retries:${i}:wait_duration_ms`)),
      h("td", {}, r.succeeded === null ? "–" : r.succeeded ? "succeeded" : "failed"),
      h("td", {}, r.model_fallback ? `${r.original_model} → ${r.fallback_model}` : "–"),
      h("td", {}, time(r.occurred_at)),
    ),
  );
  // Model calls that are not turns (a tool's helper call, compaction, a subagent): billed, so in
  // the totals above, but not in the turn table, its timing or its numbering.
  const sideRows = sideCalls.map((c, i) =>
    h(
      "tr",
      {},
      h("td", {}, c.kind),
      h("td", {}, c.source || "–"),
      h("td.r", {}, num(c.during_turn, "int", `side_calls:${i}:during_turn`)),
      h("td", {}, c.model),
      h("td.r", {}, num(c.input_tokens, "int", `side_calls:${i}:input_tokens`)),
      h("td.r", {}, num(c.output_tokens, "int", `side_calls:${i}:output_tokens`)),
      h("td.r", {}, num(c.cache_read_tokens, "int", `side_calls:${i}:cache_read_tokens`)),
      h("td.r", {}, num(c.cache_write_tokens, "int", `side_calls:${i}:cache_write_tokens`)),
      h("td.r", {}, num(c.cost_usd, "usd", `side_calls:${i}:cost_usd`)),
    ),
  );
  const overflows = ctx.turns.filter((r) => r.overflow);
  return h(
    "div",
    { dataset: { title: `Session ${s.external_id}` } },
    h(
      "div.page-head",
      {},
      h("h1", {}, "Session ", h("code", {}, s.external_id)),
      h("span", {}, h(`span.status.${s.status}`, {}, s.status), " · ", s.target_name || "no target", " · ", time(s.started_at)),
    ),
    s.status_message ? h("p.problem", {}, s.status_message) : null,
    totals,
    waterfall(s, turns, retries),
    h("div.grid2", {}, tokenBars(turns), contextChart(ctx)),
    overflows.length
      ? h("p.problem", {}, `Context overflowed on turn(s) ${overflows.map((r) => r.turn_number).join(", ")}.`)
      : null,
    table(
      ["Turn", "Model", "First token", "Duration", "Input", "Output", "Cache read", "Cache write", "Cost", "Tools"],
      turnRows,
      "Turns",
    ),
    sideRows.length
      ? table(
          ["Kind", "Source", "During turn", "Model", "Input", "Output", "Cache read", "Cache write", "Cost"],
          sideRows,
          "Side and subagent calls (in the totals, not turns)",
        )
      : null,
    table(["#", "Reason", "Back-off", "Outcome", "Fallback", "At"], retryRows, "Retries"),
  );
}
