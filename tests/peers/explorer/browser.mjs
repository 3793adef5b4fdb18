// Drives the explorer in Debian's chromium through playwright-core (run by tests/peers/explorer.rs).
// EXPLORER_MODE=full: every page loads without a console error; every number on the session page
// equals the REST answer (this script fetches REST itself and compares with the DOM); the status
// filter, sort order and paging change the table exactly as GET /api/db/sessions says.
// EXPLORER_MODE=guarded (collector with --api-token and --read-only): the page asks for the
// token, a wrong one gets a clear message, the right one shows data, the reindex button is gone.
// Screenshots of each page at 1280 and 390 px go to EXPLORER_SCREENSHOTS.

import { createRequire } from "node:module";
import assert from "node:assert/strict";
import path from "node:path";

const require = createRequire(path.join(process.env.NODE_PATH, "noop.js"));
const { chromium } = require("playwright-core");

const BASE = process.env.EXPLORER_URL;
const MODE = process.env.EXPLORER_MODE;
const SHOTS = process.env.EXPLORER_SCREENSHOTS;
const TOKEN = process.env.EXPLORER_TOKEN;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
const problems = [];
/** Console errors a step expects (an error page's failed requests). */
const expectedErrors = [];

async function newPage(width = 1280) {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error on ${page.url()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error on ${page.url()}: ${e.message}`));
  return page;
}

async function rest(p, token) {
  const r = await fetch(BASE + p, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  assert.equal(r.status, 200, `${p}: ${r.status}`);
  return r.json();
}

/** Navigates and waits until the router finished this render (and charts were drawn). */
async function open(page, hash) {
  const before = await page.evaluate(() => document.getElementById("view")?.dataset.ready ?? null).catch(() => null);
  await page.goto(`${BASE}/${hash}`);
  await page.waitForFunction(
    (b) => {
      const v = document.getElementById("view");
      return v && v.dataset.ready && v.dataset.ready !== b && !v.hasAttribute("aria-busy");
    },
    before,
  );
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

const get = (obj, dotted) => dotted.split(".").reduce((o, k) => (o == null ? o : o[k]), obj);

/** The value a DOM number shows, parsed back ("$0.1234", "1,234 ms", "61.5 %", "–"). */
function parseShown(text, unit) {
  if (text.trim() === "–") return null;
  const n = Number(text.replace(/[$,%\sms]/g, ""));
  return unit === "pct" ? n / 100 : n;
}

/** Tolerance: half a unit of the last digit shown. */
const TOL = { usd: 0.00005, pct: 0.0005, ms: 0.5, int: 0.5, x: 0.005 };

async function checkSessionNumbers(page, id) {
  const enc = encodeURIComponent(id);
  const data = {
    session: await rest(`/api/db/sessions/${enc}`),
    timing: await rest(`/api/db/sessions/${enc}/timing`),
    ...(await rest(`/api/db/sessions/${enc}/turns`)),
    retries: (await rest(`/api/db/retries/${enc}`)).retries,
    context: await rest(`/api/db/context/${enc}`),
  };
  const shown = await page.$$eval("[data-src]", (els) =>
    els.map((e) => ({ src: e.dataset.src, unit: e.dataset.unit, text: e.textContent })),
  );
  assert.ok(shown.length >= 16 + data.turns.length * 8, `only ${shown.length} numbers on the session page`);
  for (const { src, unit, text } of shown) {
    const [resource, ...rest_] = src.split(":");
    const expected =
      rest_.length === 2 ? get(data[resource][Number(rest_[0])], rest_[1]) : get(data[resource], rest_[0]);
    const got = parseShown(text, unit);
    if (expected === null || expected === undefined) {
      assert.equal(got, null, `${src} shows ${text}, REST has none`);
    } else {
      assert.ok(Math.abs(got - expected) <= TOL[unit], `${src} shows ${text}, REST says ${expected}`);
    }
  }
  return shown.length;
}

async function tableIds(page) {
  return page.$$eval("tbody tr[data-session-id]", (rows) => rows.map((r) => r.dataset.sessionId));
}

async function full() {
  const page = await newPage();
  for (const [hash, name] of [
    ["#/overview?range=7d", "overview"],
    ["#/overview?range=24h", "overview-24h"],
    ["#/sessions", "sessions"],
    ["#/tests", "tests"],
    ["#/codebase", "codebase"],
    ["#/context", "context"],
  ]) {
    await open(page, hash);
    assert.equal(await page.isVisible("#error"), false, `${hash} shows an error: ${await page.textContent("#error")}`);
    await shot(page, name);
  }
  // The reindex button is there on a writable collector (targets come from the sessions).
  await open(page, "#/codebase");
  assert.ok((await page.locator("button.reindex").count()) > 0, "reindex button shown");

  // Session page: every number equals the REST answer.
  const id = process.env.EXPLORER_SESSION;
  await open(page, `#/session/${id}`);
  const numbers = await checkSessionNumbers(page, id);
  // Its side call has a row of its own (the totals count it, the turn table does not).
  const { side_calls: sideCalls } = await rest(`/api/db/sessions/${encodeURIComponent(id)}/turns`);
  assert.ok(sideCalls.length > 0, "the session has a side call");
  const sideShown = await page.$$eval('[data-src^="side_calls:"][data-src$=":input_tokens"]', (els) => els.length);
  assert.equal(sideShown, sideCalls.length, "every side call has a row");
  await shot(page, "session");
  console.log(`session page: ${numbers} numbers equal the REST answer`);

  // Filters, sorting and paging: the table shows what GET /api/db/sessions answers.
  await open(page, "#/sessions");
  const first = await rest("/api/db/sessions?limit=20&offset=0&sort=started_at&order=desc");
  assert.deepEqual(await tableIds(page), first.sessions.map((s) => s.id), "first page");
  // Each step waits for the page the step caused: a new render generation, finished. (The
  // hash changes before the hashchange handler runs, so "not busy" alone can be the old page.)
  const generation = () => page.evaluate(() => document.getElementById("view").dataset.ready);
  const step = async (action) => {
    const before = await generation();
    await action();
    await page.waitForFunction(
      (b) => {
        const v = document.getElementById("view");
        return v.dataset.ready !== b && !v.hasAttribute("aria-busy") && document.querySelector("#page-info");
      },
      before,
    );
  };
  await step(() => page.click("text=Next →"));
  assert.ok((await page.evaluate(() => location.hash)).includes("offset=20"));
  const second = await rest("/api/db/sessions?limit=20&offset=20&sort=started_at&order=desc");
  assert.deepEqual(await tableIds(page), second.sessions.map((s) => s.id), "second page");
  assert.equal(await page.textContent("#page-info"), `21–${first.total} of ${first.total}`);

  await step(() => page.selectOption("#status", "failed"));
  assert.ok((await page.evaluate(() => location.hash)).includes("status=failed"));
  const failed = await rest("/api/db/sessions?limit=20&offset=0&sort=started_at&order=desc&status=failed");
  assert.ok(failed.total > 0 && failed.total < first.total, "some sessions failed");
  assert.deepEqual(await tableIds(page), failed.sessions.map((s) => s.id), "status filter");

  await step(() => page.selectOption("#status", ""));
  await step(() => page.selectOption("#sort", "cost_usd"));
  assert.ok((await page.evaluate(() => location.hash)).includes("sort=cost_usd"));
  // Keyboard: the order select is reachable and changes the order.
  await page.focus("#order");
  await step(() => page.keyboard.press("ArrowDown"));
  assert.ok((await page.evaluate(() => location.hash)).includes("order=asc"));
  const cheap = await rest("/api/db/sessions?limit=20&offset=0&sort=cost_usd&order=asc");
  assert.deepEqual(await tableIds(page), cheap.sessions.map((s) => s.id), "sort by cost ascending");
  await shot(page, "sessions-filtered");

  // An API error is shown, not a blank page.
  await open(page, "#/session/not-a-uuid");
  assert.ok(await page.isVisible("#error"), "error shown");
  assert.match(await page.textContent("#error"), /HTTP 400/);
  // Its 400s are expected console entries. The page shows the first failure while its other
  // requests may still be answered (and logged) later, so they are left out at the end.
  expectedErrors.push(/#\/session\/not-a-uuid: Failed to load resource: .* 400/);

  // Narrow screen: the pages still render (screenshots for the eye).
  const narrow = await newPage(390);
  for (const [hash, name] of [
    ["#/overview", "overview-390"],
    [`#/session/${id}`, "session-390"],
  ]) {
    await open(narrow, hash);
    await shot(narrow, name);
  }
}

async function guarded() {
  const page = await newPage();
  await page.goto(`${BASE}/#/sessions`);
  await page.waitForSelector("#token-dialog[open]");
  await shot(page, "token-prompt");
  await page.fill("#token-input", "wrong-token");
  await page.press("#token-input", "Enter");
  await page.waitForSelector("#token-problem:not([hidden])");
  assert.match(await page.textContent("#token-problem"), /refused that token/);
  await page.fill("#token-input", TOKEN);
  await page.press("#token-input", "Enter");
  await page.waitForFunction(() => document.querySelectorAll("tbody tr[data-session-id]").length > 0);
  const listed = await rest("/api/db/sessions?limit=20&offset=0", TOKEN);
  assert.equal(await page.locator("tbody tr[data-session-id]").count(), listed.sessions.length);
  // Kept for the tab: other pages need no second prompt.
  await open(page, "#/codebase");
  assert.equal(await page.isVisible("#token-dialog"), false, "no second prompt");
  assert.ok((await page.locator("section.panel h3").count()) > 1, "targets shown");
  assert.equal(await page.locator("button.reindex").count(), 0, "no reindex button with --read-only");
  assert.ok(await page.isVisible("#mode"), "read-only badge");
  await shot(page, "codebase-read-only");
  await open(page, "#/overview");
  assert.equal(await page.isVisible("#error"), false);
  // The wrong token's 401 is an expected browser console entry ("Failed to load resource").
  problems.splice(0, problems.length, ...problems.filter((p) => !p.includes("401")));
}

try {
  if (MODE === "full") await full();
  else if (MODE === "guarded") await guarded();
  else throw new Error(`unknown EXPLORER_MODE ${MODE}`);
  assert.deepEqual(
    problems.filter((p) => !expectedErrors.some((e) => e.test(p))),
    [],
    "console errors",
  );
  console.log(`explorer ${MODE}: all checks passed`);
} finally {
  await browser.close();
}
