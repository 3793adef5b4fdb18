// Tests: per target the pass-rate history (sessions in time order) with regressions marked,
// flaky tests with the rule that caught each, and the newly failing tests of each regression.

import { api } from "./api.js";
import { h, chart, table, time, fmt, shortId, COLORS } from "./dom.js";

const RULES = { same_revision: "passed and failed on one revision", flip: "flipped between sessions" };

async function targetSection(t, regressions) {
  const hist = await api(`/api/db/tests/${t.id}?limit=200`);
  const rows = hist.sessions.filter((r) => r.pass_rate !== null).sort((a, b) => ms(a) - ms(b));
  const regressed = new Set(regressions.filter((r) => r.target_id === t.id).map((r) => r.session_id));
  return chart(`Pass rate of ${t.name || shortId(t.id)} (${rows.length} sessions)`, {
    type: "line",
    data: {
      labels: rows.map((r) => time(r.started_at).slice(0, 16)),
      datasets: [
        {
          label: "Pass rate",
          data: rows.map((r) => r.pass_rate * 100),
          borderColor: COLORS.input,
          pointRadius: rows.map((r) => (regressed.has(r.session_id) ? 8 : 3)),
          pointBackgroundColor: rows.map((r) => (regressed.has(r.session_id) ? COLORS.retry : COLORS.input)),
          pointStyle: rows.map((r) => (regressed.has(r.session_id) ? "triangle" : "circle")),
        },
      ],
    },
    options: { scales: { y: { min: 0, max: 100, title: { display: true, text: "% passed" } } } },
  });
}

const ms = (r) => new Date(r.started_at).getTime();

export async function render() {
  const [{ targets }, { flaky }, { regressions, threshold_points }] = await Promise.all([
    api("/api/db/targets"),
    api("/api/db/tests/flaky"),
    api("/api/db/tests/regressions"),
  ]);
  const charts = await Promise.all(targets.slice(0, 12).map((t) => targetSection(t, regressions)));
  const flakyRows = flaky.map((f) =>
    h(
      "tr",
      {},
      h("td", {}, h("code", {}, `${f.classname}::${f.name}`)),
      h("td", {}, f.target_name || shortId(f.target_id)),
      h("td", {}, f.rules.map((r) => RULES[r] || r).join("; ")),
      h("td", {}, f.recent_outcomes.map((o) => o.outcome).join(" ")),
    ),
  );
  const regRows = regressions.map((r) =>
    h(
      "tr",
      {},
      h("td", {}, h("a", { href: `#/session/${r.session_id}` }, time(r.started_at))),
      h("td", {}, r.target_name || shortId(r.target_id)),
      h("td.r", {}, `${fmt(r.previous_pass_rate, "pct")} → ${fmt(r.pass_rate, "pct")}`),
      h("td.r", {}, `${r.drop_points.toFixed(1)} pts`),
      h("td", {}, r.newly_failing.map((t) => h("div", {}, h("code", {}, `${t.classname}::${t.name}`)))),
    ),
  );
  return h(
    "div",
    { dataset: { title: "Tests" } },
    h("div.page-head", {}, h("h1", {}, "Tests")),
    targets.length ? h("div.grid2", {}, charts) : h("p.muted", {}, "No targets yet."),
    table(["Test", "Target", "Rule that caught it", "Recent outcomes (newest first)"], flakyRows, "Flaky tests"),
    table(
      ["Session", "Target", "Pass rate", "Drop", "Newly failing"],
      regRows,
      `Regressions (a drop of more than ${threshold_points} points)`,
    ),
  );
}
