// The explorer's shell: loads the collector's config, routes `#/page/arg` to a page module, and
// shows any failure in the alert region, so a page is never blank. Each page module exports
// `render(arg, params)` returning an element (and may update it later).

import { loadConfig, readOnly } from "./api.js";
import { h, destroyCharts, flushCharts, prepare } from "./dom.js";
import * as overview from "./overview.js";
import * as sessions from "./sessions.js";
import * as session from "./session.js";
import * as tests from "./tests.js";
import * as codebase from "./codebase.js";
import * as context from "./context.js";

const PAGES = { overview, sessions, session, tests, codebase, context };
const view = document.getElementById("view");
const errorBox = document.getElementById("error");

export function showError(err) {
  errorBox.hidden = false;
  errorBox.replaceChildren(
    h("strong", {}, "The API answered with an error. "),
    String((err && err.message) || err),
  );
}

function parse() {
  const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const [page = "overview", ...rest] = path.split("/");
  return { page, arg: rest.join("/"), params: new URLSearchParams(query) };
}

let generation = 0;

async function route() {
  const { page, arg, params } = parse();
  const mine = ++generation;
  const module = PAGES[page];
  destroyCharts();
  errorBox.hidden = true;
  document.querySelectorAll("nav a").forEach((a) => {
    const current = a.dataset.page === page || (page === "session" && a.dataset.page === "sessions");
    if (current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  view.setAttribute("aria-busy", "true");
  view.replaceChildren(h("p.muted", {}, "Loading…"));
  try {
    if (!module) throw new Error(`no page “${page}”`);
    const rendering = module.render(arg, params);
    prepare(); // the page's API requests are sent by now
    const el = await rendering;
    if (mine !== generation) return; // navigated away meanwhile
    view.replaceChildren(el);
    await flushCharts();
    if (mine !== generation) return;
    document.title = `${el.dataset.title || page} · acd-collector`;
  } catch (err) {
    if (mine !== generation) return;
    view.replaceChildren(h("p.muted", {}, "This page could not be loaded."));
    showError(err);
  } finally {
    if (mine === generation) {
      view.removeAttribute("aria-busy");
      view.dataset.ready = String(mine);
    }
  }
}

async function start() {
  try {
    await loadConfig();
  } catch (err) {
    showError(err);
  }
  if (readOnly()) {
    const badge = document.getElementById("mode");
    badge.hidden = false;
    badge.textContent = "read-only";
  }
  window.addEventListener("hashchange", route);
  await route();
}

start();
