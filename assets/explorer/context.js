// Context: a target's hot files, and a plan form (feature text, budget) that asks the planner
// (POST /api/db/context/optimize — a read, allowed with --read-only) and shows the chosen files
// with their reasons and truncated ranges, and the plan's segments as one stacked budget bar.

import { api } from "./api.js";
import { h, table, fmt, time, shortId, chart, flushCharts, COLORS } from "./dom.js";

function planView(res) {
  const p = res.plan;
  const seg = p.segments;
  const parts = [
    ["System", seg.system, COLORS.system],
    ["Feature", seg.feature, COLORS.feature],
    ["Files", seg.files, COLORS.files],
    ["Conversation", seg.conversation, COLORS.conversation],
  ];
  const free = Math.max(0, p.budget_tokens - seg.total);
  const bar = chart(
    `Segments of the plan: ${fmt(seg.total)} of ${fmt(p.budget_tokens)} budget tokens`,
    {
      type: "bar",
      data: {
        labels: ["budget"],
        datasets: [
          ...parts.map(([label, v, color]) => ({ label, data: [v], backgroundColor: color })),
          { label: "Unused", data: [free], backgroundColor: "#e0e0e0" },
        ],
      },
      options: { indexAxis: "y", scales: { x: { stacked: true, max: Math.max(p.budget_tokens, seg.total) }, y: { stacked: true } } },
    },
    130,
  );
  const rows = p.files.map((f) =>
    h(
      "tr",
      {},
      h("td", {}, h("code", {}, f.path)),
      h("td.r", {}, fmt(f.tokens)),
      h("td.r", {}, fmt(f.file_tokens)),
      h("td.r", {}, f.score.toFixed(3)),
      h("td", {}, f.reasons.join(", "), f.linked_to ? ` (via ${f.linked_to})` : ""),
      h("td", {}, f.ranges ? f.ranges.map((r) => `${r.start}–${r.end}`).join(", ") : "whole file"),
    ),
  );
  return h(
    "div",
    { id: "plan" },
    bar,
    table(
      ["File", "Tokens planned", "File tokens", "Score", "Reasons", "Lines kept"],
      rows,
      `${p.files.length} of ${p.candidates} candidate files (recency from ${res.recency_source})`,
    ),
  );
}

export async function render(arg) {
  const { targets } = await api("/api/db/targets");
  if (!targets.length) return h("div", { dataset: { title: "Context" } }, h("h1", {}, "Context"), h("p.muted", {}, "No targets yet."));
  const target = targets.find((t) => t.id === arg) || targets[0];
  const { files } = await api(`/api/db/context/hot-files/${target.id}?limit=25`);
  const picker = h(
    "div.field",
    {},
    h("label", { for: "ctx-target" }, "Target"),
    h(
      "select",
      { id: "ctx-target", onchange: (e) => (location.hash = `#/context/${e.target.value}`) },
      targets.map((t) => h("option", { value: t.id, selected: t.id === target.id }, t.name || shortId(t.id))),
    ),
  );
  const out = h("div", { "aria-live": "polite" });
  const form = h(
    "form.plan-form",
    {
      "aria-label": "Plan a context",
      onsubmit: async (e) => {
        e.preventDefault();
        const f = e.currentTarget.elements;
        out.replaceChildren(h("p.muted", {}, "Planning…"));
        try {
          const body = { feature: f.feature.value };
          if (f.budget.value) body.budget_tokens = Number(f.budget.value);
          const res = await api(`/api/db/context/optimize/${target.id}`, { method: "POST", body });
          out.replaceChildren(planView(res));
          await flushCharts();
        } catch (err) {
          out.replaceChildren(h("p.problem", { role: "alert" }, err.message));
        }
      },
    },
    h("div.field.wide", {}, h("label", { for: "feature" }, "Feature"), h("textarea", { id: "feature", name: "feature", rows: 3, required: true, placeholder: "What the next session is to build" })),
    h("div.field", {}, h("label", { for: "budget" }, "Budget (tokens)"), h("input", { id: "budget", name: "budget", type: "number", min: 1000, step: 1000, value: 50000 })),
    h("button", { type: "submit" }, "Plan"),
  );
  const hot = table(
    ["File", "Accesses", "Average tokens", "Cached", "Last accessed"],
    files.map((f) =>
      h(
        "tr",
        {},
        h("td", {}, h("code", {}, f.file_path)),
        h("td.r", {}, fmt(f.access_count)),
        h("td.r", {}, fmt(f.avg_tokens)),
        h("td", {}, f.is_cached ? "yes" : "no"),
        h("td", {}, time(f.last_accessed_at)),
      ),
    ),
    "Hot files",
  );
  return h(
    "div",
    { dataset: { title: "Context" } },
    h("div.page-head", {}, h("h1", {}, "Context"), picker),
    hot,
    h("section.panel", {}, h("h3", {}, "Plan a context"), form, out),
  );
}
