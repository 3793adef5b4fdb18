// Small DOM and formatting helpers shared by the pages. Numbers carry `data-src` (which REST
// field they show) and `data-unit`, so the browser tests can compare each with the API.

/** h("tag.class", {attr}, ...children): a tiny element builder (text children are escaped). */
export function h(spec, attrs = {}, ...children) {
  const [tag, ...classes] = spec.split(".");
  const el = document.createElement(tag || "div");
  if (classes.length) el.className = classes.join(" ");
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// Made on first use, not when the module loads: a tab's first Intl.NumberFormat loads ICU's data
// (~20 ms), which prepare() lets happen while the page's API requests are answered.
let intFormat = null;
const int = () => (intFormat ||= new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 }));

export function fmt(value, unit) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  switch (unit) {
    case "usd":
      return `$${Number(value).toFixed(4)}`;
    case "ms":
      return `${int().format(value)} ms`;
    case "pct":
      return `${(value * 100).toFixed(1)} %`;
    case "x":
      return Number(value).toFixed(2);
    default:
      return int().format(value);
  }
}

/** A number shown from a REST field: `src` is "resource:field" (or "resource:index:field"). */
export function num(value, unit, src) {
  return h("span.num", { dataset: src ? { src, unit: unit || "int" } : {} }, fmt(value, unit));
}

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" };

/** Text made safe for HTML text and double-quoted attribute values (null shows as nothing). */
export function esc(value) {
  return value === null || value === undefined ? "" : String(value).replace(/[&<>"]/g, (c) => ESCAPES[c]);
}

/** num() as HTML text, for long tables built with one parse (fromHtml). */
export function numHtml(value, unit, src) {
  const attrs = src ? ` data-src="${esc(src)}" data-unit="${esc(unit || "int")}"` : "";
  return `<span class="num"${attrs}>${esc(fmt(value, unit))}</span>`;
}

/** Nodes parsed from HTML text whose values went through esc(). A 500-row table is one parse
 *  this way instead of ~10,000 createElement/append calls, the most of its build time. */
export function fromHtml(html) {
  const template = document.createElement("template");
  template.innerHTML = html;
  return template.content;
}

export function time(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return d.toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

export function shortId(id) {
  return id ? String(id).slice(0, 8) : "–";
}

/** A stat card: label, value, and optional target verdict. */
export function card(label, value, target) {
  return h(
    "div.card",
    {},
    h("div.label", {}, label),
    h("div.value", {}, value),
    target
      ? h(
          `div.target.${target.met === null ? "unknown" : target.met ? "met" : "missed"}`,
          {},
          target.met === null ? "no data" : target.met ? "✓ target met" : "✗ target not met",
          ` (${target.text})`,
        )
      : null,
  );
}

/** `rows`: an array of <tr> elements, or a fragment of them (fromHtml). */
export function table(columns, rows, caption) {
  const empty = rows instanceof Node ? !rows.firstChild : !rows.length;
  return h(
    "div.table-wrap",
    {},
    h(
      "table",
      {},
      caption ? h("caption", {}, caption) : null,
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, empty ? h("tr", {}, h("td", { colspan: columns.length }, "None.")) : rows),
    ),
  );
}

const charts = [];
const pending = [];
/** Bumped by destroyCharts(): charts of a page left meanwhile are not drawn. */
let epoch = 0;

/** A Chart.js chart in a labelled, sized box; drawn by flushCharts() once it is in the page. */
export function chart(label, config, height = 260) {
  const canvas = h("canvas", { role: "img", "aria-label": label });
  const box = h("figure.chart", { style: `height:${height}px` }, canvas);
  pending.push({ canvas, config });
  return h("section.panel", {}, h("h3", {}, label), box);
}

let chartJs = null;

/** Chart.js (index.html preloads it): run on first use rather than before the page modules, so
 *  that its ~200 KB are compiled while the page's API requests are in flight, not before they
 *  are sent. */
function loadChartJs() {
  chartJs ||= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = "/ui/vendor/chart.umd.min.js";
    script.onload = () => resolve(window.Chart);
    script.onerror = () => reject(new Error("Chart.js (/ui/vendor/chart.umd.min.js) did not load"));
    document.head.append(script);
  });
  return chartJs;
}

/** Called once a page's API requests are sent: readies what drawing it needs first (Chart.js's
 *  compile, number formatting) while they are answered instead of after. */
export function prepare() {
  int();
  loadChartJs().catch(() => {}); // a failure shows when the charts are drawn
}

/** Draws the charts made since the last call (their canvases must be attached by now). */
export async function flushCharts() {
  if (!pending.length) return;
  const batch = pending.splice(0);
  const page = epoch;
  const Chart = await loadChartJs();
  if (page !== epoch) return; // left that page while Chart.js loaded
  for (const { canvas, config } of batch) {
    config.options = { responsive: true, maintainAspectRatio: false, animation: false, ...config.options };
    // A 500-turn session has 500 category ticks: measuring a sample of labels, not all, is what
    // keeps its charts fast (Chart.js's ticks.sampleSize).
    for (const axis of Object.values((config.options.scales ||= { x: {}, y: {} }))) {
      axis.ticks = { sampleSize: 24, ...(axis.ticks || {}) };
    }
    charts.push(new Chart(canvas, config));
  }
}

/** Called on navigation: a chart of the previous page must not keep its resize observer. */
export function destroyCharts() {
  epoch += 1;
  pending.length = 0;
  while (charts.length) charts.pop().destroy();
}

export const COLORS = {
  input: "#4e79a7",
  output: "#f28e2b",
  cache_read: "#59a14f",
  cache_write: "#b07aa1",
  ttft: "#bab0ac",
  generation: "#4e79a7",
  tool: "#f28e2b",
  retry: "#e15759",
  limit: "#e15759",
  system: "#76b7b2",
  feature: "#edc948",
  files: "#4e79a7",
  conversation: "#b07aa1",
};
