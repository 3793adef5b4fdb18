// Sessions: the session table with the API's own filters (target, status, time range), sort
// order and paging. The form state lives in the URL hash, so a filtered view can be linked and
// the browser's back button works; each change is one GET /api/db/sessions.

import { api } from "./api.js";
import { h, num, time, shortId, table, fmt } from "./dom.js";

const PAGE = 20;
const SORTS = [
  ["started_at", "Start time"],
  ["cost_usd", "Cost"],
  ["turn_count", "Turns"],
  ["wall_clock_ms", "Wall clock"],
];
const RANGES = [
  ["", "Any time"],
  ["1", "Last 24 hours"],
  ["7", "Last 7 days"],
  ["30", "Last 30 days"],
];

function select(id, label, options, value) {
  return h(
    "div.field",
    {},
    h("label", { for: id }, label),
    h("select", { id, name: id }, options.map(([v, text]) => h("option", { value: v, selected: v === value }, text))),
  );
}

export async function render(_arg, params) {
  const state = {
    target: params.get("target") || "",
    status: params.get("status") || "",
    days: params.get("days") || "",
    sort: params.get("sort") || "started_at",
    order: params.get("order") || "desc",
    offset: Number(params.get("offset") || 0),
  };
  const q = new URLSearchParams({ limit: PAGE, offset: state.offset, sort: state.sort, order: state.order });
  if (state.target) q.set("target_id", state.target);
  if (state.status) q.set("status", state.status);
  if (state.days) q.set("from", new Date(Date.now() - Number(state.days) * 86_400_000).toISOString());
  const [{ targets }, page] = await Promise.all([api("/api/db/targets"), api(`/api/db/sessions?${q}`)]);

  const go = (changes) => {
    const next = { ...state, ...changes };
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(next)) if (v !== "" && !(k === "offset" && !v)) p.set(k, v);
    location.hash = `#/sessions?${p}`;
  };
  const form = h(
    "form.filters",
    {
      "aria-label": "Session filters",
      onchange: (e) => {
        const f = e.currentTarget.elements;
        go({
          target: f.target.value,
          status: f.status.value,
          days: f.days.value,
          sort: f.sort.value,
          order: f.order.value,
          offset: 0,
        });
      },
      onsubmit: (e) => e.preventDefault(),
    },
    select("target", "Target", [["", "All targets"], ...targets.map((t) => [t.id, t.name || shortId(t.id)])], state.target),
    select(
      "status",
      "Status",
      [
        ["", "Any status"],
        ["completed", "completed"],
        ["failed", "failed"],
        ["running", "running"],
      ],
      state.status,
    ),
    select("days", "Started", RANGES, state.days),
    select("sort", "Sort by", SORTS, state.sort),
    select(
      "order",
      "Order",
      [
        ["desc", "Descending"],
        ["asc", "Ascending"],
      ],
      state.order,
    ),
  );
  const rows = page.sessions.map((s, i) =>
    h(
      "tr",
      { dataset: { sessionId: s.id } },
      h("td", {}, h("a", { href: `#/session/${s.id}` }, s.external_id)),
      h("td", {}, s.target_name || shortId(s.target_id)),
      h("td", {}, h(`span.status.${s.status}`, {}, s.status)),
      h("td", {}, time(s.started_at)),
      h("td.r", {}, num(s.turn_count, "int", `sessions:${i}:turn_count`)),
      h("td.r", {}, num(s.wall_clock_ms, "ms", `sessions:${i}:wall_clock_ms`)),
      h("td.r", {}, num(s.cost_usd, "usd", `sessions:${i}:cost_usd`)),
      h("td.r", {}, num(s.test_pass_rate, "pct", `sessions:${i}:test_pass_rate`)),
    ),
  );
  const last = Math.min(page.offset + page.limit, page.total);
  const pager = h(
    "nav.pager",
    { "aria-label": "Pages of sessions" },
    h("button", { type: "button", disabled: state.offset <= 0, onclick: () => go({ offset: Math.max(0, state.offset - PAGE) }) }, "← Previous"),
    h("span", { id: "page-info" }, page.total ? `${page.offset + 1}–${last} of ${fmt(page.total)}` : "No sessions"),
    h("button", { type: "button", disabled: last >= page.total, onclick: () => go({ offset: state.offset + PAGE }) }, "Next →"),
  );
  return h(
    "div",
    { dataset: { title: "Sessions", total: page.total } },
    h("div.page-head", {}, h("h1", {}, "Sessions")),
    form,
    table(["Session", "Target", "Status", "Started", "Turns", "Wall clock", "Cost", "Pass rate"], rows, `${fmt(page.total)} sessions`),
    pager,
  );
}
