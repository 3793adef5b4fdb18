// Codebase: each target's latest index (files, lines, tokens, languages, largest files), and a
// reindex button (absent with --read-only) whose job is polled for live progress.

import { api, readOnly } from "./api.js";
import { h, table, time, fmt, shortId, chart, COLORS } from "./dom.js";

function entries(json) {
  if (!json) return [];
  if (Array.isArray(json)) return json;
  return Object.entries(json).map(([k, v]) => ({ name: k, ...(typeof v === "object" ? v : { value: v }) }));
}

async function poll(jobId, out, button) {
  for (;;) {
    const job = await api(`/api/db/codebase/jobs/${jobId}`);
    const pct = job.files_seen ? Math.round((job.files_done / job.files_seen) * 100) : 0;
    out.replaceChildren(
      h("progress", { max: 100, value: pct, "aria-label": "Index progress" }),
      ` ${job.state}: ${fmt(job.files_done)} / ${fmt(job.files_seen)} files`,
      job.error ? h("span.problem", {}, ` ${job.error}`) : null,
    );
    if (["done", "succeeded", "failed", "completed", "error"].includes(job.state) || job.finished_at) {
      button.disabled = false;
      return job;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

function targetCard(t, detail) {
  const latest = detail.latest;
  const out = h("div.job", { "aria-live": "polite" });
  const button = readOnly()
    ? null
    : h(
        "button.reindex",
        {
          type: "button",
          onclick: async () => {
            button.disabled = true;
            try {
              const job = await api(`/api/db/codebase/${t.id}/reindex`, { method: "POST", body: {} });
              await poll(job.job_id, out, button);
            } catch (err) {
              button.disabled = false;
              out.replaceChildren(h("span.problem", { role: "alert" }, err.message));
            }
          },
        },
        "Reindex",
      );
  const langs = entries(latest && latest.languages).sort((a, b) => b.lines - a.lines).slice(0, 8);
  const largest = entries(latest && latest.largest_files).slice(0, 8);
  return h(
    "section.panel",
    {},
    h("h3", {}, t.name || shortId(t.id)),
    h("p.muted", {}, t.root_path || "no root path", " · indexed ", time(t.last_indexed_at)),
    latest
      ? h(
          "dl.facts",
          {},
          h("dt", {}, "Files"),
          h("dd", {}, fmt(latest.total_files)),
          h("dt", {}, "Lines"),
          h("dd", {}, fmt(latest.lines)),
          h("dt", {}, "Tokens"),
          h("dd", {}, `${fmt(latest.tokens_estimate)} (${latest.token_method})`),
          h("dt", {}, "Build"),
          h("dd", {}, latest.build_duration_ms === null ? "–" : `${fmt(latest.build_duration_ms)} ms`),
        )
      : h("p.muted", {}, "Not indexed yet."),
    langs.length
      ? table(
          ["Language", "Files", "Lines"],
          langs.map((l) => h("tr", {}, h("td", {}, l.name), h("td.r", {}, fmt(l.files)), h("td.r", {}, fmt(l.lines)))),
          "Languages",
        )
      : null,
    largest.length
      ? table(
          ["Largest files", "Bytes", "Lines"],
          largest.map((f) => h("tr", {}, h("td", {}, h("code", {}, f.path)), h("td.r", {}, fmt(f.size_bytes)), h("td.r", {}, fmt(f.lines)))),
        )
      : null,
    button,
    out,
  );
}

export async function render() {
  const { targets } = await api("/api/db/targets");
  const details = await Promise.all(targets.map((t) => api(`/api/db/codebase/${t.id}`)));
  const sizes = chart(
    "Index size per target (tokens)",
    {
      type: "bar",
      data: {
        labels: targets.map((t) => t.name || shortId(t.id)),
        datasets: [{ label: "tokens", data: details.map((d) => (d.latest ? d.latest.tokens_estimate : 0)), backgroundColor: COLORS.input }],
      },
      options: { indexAxis: "y", plugins: { legend: { display: false } } },
    },
    Math.max(120, 40 + targets.length * 28),
  );
  return h(
    "div",
    { dataset: { title: "Codebase" } },
    h("div.page-head", {}, h("h1", {}, "Codebase"), readOnly() ? h("span.badge", {}, "read-only: reindexing is off") : null),
    targets.length ? sizes : h("p.muted", {}, "No targets yet; register one with POST /api/db/targets."),
    h("div.grid2", {}, targets.map((t, i) => targetCard(t, details[i]))),
  );
}
