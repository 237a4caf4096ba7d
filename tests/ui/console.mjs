// tests/ui/console.mjs - the console (/ui/) in headless Chromium against
// sr-dev (agent on: it completes the target runs).
//
// Checks: /ui/ answers with its type and security headers and without a
// token; the page takes a token (kept in sessionStorage, never in the
// URL); a run started through the API appears and progresses to
// `waiting` (stage 1's target runs all succeeded); clicking Promote on
// stage 2 moves it out of `pending` and the run to `success`; clicking
// Cancel on a second run shows `cancelled`. Any console error or page
// error of the page (a CSP violation, a failed request, an exception)
// fails the test. Screenshots: BUILD/ui-test/*.png (paths printed).
//
// Usage: node console.mjs BUILD_DIR SOURCE_DIR (tests/ui/run.sh)
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { chromium } from "playwright-core";

const [build, source] = process.argv.slice(2);
const WAIT_MS = 90000;
const outDir = path.join(build, "ui-test");
fs.mkdirSync(outDir, { recursive: true });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "sr-ui-"));
const spec = fs.readFileSync(path.join(source, "deploy/examples/canary.json"));

function fail(msg) {
  throw new Error(msg);
}

// sr-dev with its stdout's key=value lines, once it printed "ready".
async function startDev() {
  const log = fs.openSync(path.join(tmp, "dev.log"), "w");
  const proc = spawn(path.join(build, "sr-dev"),
                     ["--data-dir", path.join(tmp, "var"), "--http-port", "0",
                      "--workers", "1", "--agent", "on"],
                     { stdio: ["ignore", "pipe", log] });
  const lines = {};
  const rl = readline.createInterface({ input: proc.stdout });
  await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("sr-dev not ready in 120 s")),
                         120000);
    proc.on("exit", (code) => reject(new Error(
      "sr-dev exited (" + code + ") before ready; see " + tmp + "/dev.log")));
    rl.on("line", (line) => {
      const i = line.indexOf("=");
      if (i > 0)
        lines[line.slice(0, i)] = line.slice(i + 1);
      if (line.startsWith("ready ")) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  // "token=dev-token enterprise=dev": the token, then its enterprise
  return { proc, http: lines.http, token: (lines.token || "").split(" ")[0] };
}

async function stopDev(dev) {
  if (!dev || dev.proc.exitCode !== null)
    return;
  const gone = new Promise((r) => dev.proc.on("exit", r));
  dev.proc.kill("SIGTERM");
  const t = setTimeout(() => dev.proc.kill("SIGKILL"), 15000);
  await gone;
  clearTimeout(t);
}

async function startRun(dev) {
  const r = await fetch(dev.http + "/v0/runs/", {
    method: "POST", body: spec,
    headers: { "Authorization": "Bearer " + dev.token,
               "Content-Type": "application/json" } });
  const env = await r.json();
  if (r.status !== 200 && r.status !== 201 && r.status !== 202)
    fail("POST /v0/runs/: " + r.status + " " + JSON.stringify(env));
  return env.content;
}

// Waits until the text of @p locator is one of @p want; returns the texts
// seen on the way (the progress the page showed).
async function waitText(locator, want, what) {
  const seen = [];
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const t = (await locator.count()) ? (await locator.first().textContent())
                                      : null;
    if (t !== null && seen[seen.length - 1] !== t)
      seen.push(t);
    if (want.includes(t))
      return seen;
    if (Date.now() > deadline)
      fail(what + ": wanted " + want.join("|") + ", saw " + seen.join(" -> "));
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function checkHeaders(dev) {
  const r = await fetch(dev.http + "/ui/"); // no token
  const csp = r.headers.get("content-security-policy") || "";
  if (r.status !== 200 ||
      r.headers.get("content-type") !== "text/html; charset=utf-8" ||
      !csp.startsWith("default-src 'self';") ||
      r.headers.get("x-content-type-options") !== "nosniff")
    fail("/ui/: " + r.status + " " + JSON.stringify([...r.headers]));
  const js = await fetch(dev.http + "/ui/console.js");
  if (js.headers.get("content-type") !== "text/javascript; charset=utf-8")
    fail("/ui/console.js: " + js.headers.get("content-type"));
}

let dev = null;
let context = null;
const problems = [];
try {
  dev = await startDev();
  console.log("sr-dev at " + dev.http);
  await checkHeaders(dev);

  context = await chromium.launchPersistentContext(
    path.join(tmp, "chromium-profile"), {
      executablePath: "/usr/bin/chromium",
      headless: true,
      viewport: { width: 1100, height: 760 },
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync"],
    });
  const page = context.pages()[0] || await context.newPage();
  page.on("console", (m) => {
    if (m.type() === "error")
      problems.push("console error: " + m.text());
  });
  page.on("pageerror", (e) => problems.push("page error: " + e.message));

  await page.goto(dev.http + "/ui/");
  await page.getByLabel("API token").fill(dev.token);
  await page.getByRole("button", { name: "Use token" }).click();
  if (page.url().includes(dev.token))
    fail("the token is in the URL: " + page.url());
  const kept = await page.evaluate(() => sessionStorage.getItem(
    "sr.console.token"));
  if (kept !== dev.token)
    fail("the token is not in sessionStorage: " + kept);

  // Run 1: appears, progresses to waiting, is promoted, succeeds.
  const run1 = await startRun(dev);
  const row1 = page.locator(`li[data-run-id="${run1.id}"]`);
  await row1.waitFor({ timeout: WAIT_MS });
  const seen1 = await waitText(row1.locator(".run-status"), ["waiting"],
                               "run 1");
  const stages1 = row1.locator("tr.stage");
  await waitText(stages1.nth(0).locator(".succeeded"), ["2 ok"],
                 "run 1 stage 1 target runs");
  await waitText(stages1.nth(1).locator(".stage-status"), ["pending"],
                 "run 1 stage 2");
  console.log("run 1 statuses seen: " + seen1.join(" -> "));
  await page.screenshot({ path: path.join(outDir, "console-waiting.png") });
  await row1.getByRole("button", { name: /^Promote stage fleet/ }).click();
  const seen2 = await waitText(stages1.nth(1).locator(".stage-status"),
                               ["queued", "processing", "running", "success"],
                               "run 1 stage 2 after promote");
  await waitText(row1.locator(".run-status"), ["success"], "run 1 after promote");
  await waitText(stages1.nth(1).locator(".succeeded"), ["6 ok"],
                 "run 1 stage 2 target runs");
  if (await row1.getByRole("button", { name: /^Promote/ }).isVisible())
    fail("run 1: a Promote button is still shown after success");
  if (await row1.getByRole("button", { name: /^Cancel run/ }).isVisible())
    fail("run 1: Cancel is still offered on a finished run");
  console.log("run 1 stage 2 after promote: " + seen2.join(" -> "));

  // Run 2: cancelled by clicking.
  const run2 = await startRun(dev);
  const row2 = page.locator(`li[data-run-id="${run2.id}"]`);
  await row2.waitFor({ timeout: WAIT_MS });
  await waitText(row2.locator(".run-status"),
                 ["queued", "processing", "running", "waiting"], "run 2");
  await row2.getByRole("button", { name: /^Cancel run/ }).click();
  await waitText(row2.locator(".run-status"), ["cancelled"],
                 "run 2 after cancel");
  // The newest run first.
  const order = await page.locator("li.run").evaluateAll(
    (els) => els.map((e) => e.dataset.runId));
  if (order[0] !== run2.id || order[1] !== run1.id)
    fail("runs not newest first: " + order.join(", "));

  // Run 3 waits for its promotion: the screenshot shows the three states.
  const run3 = await startRun(dev);
  const row3 = page.locator(`li[data-run-id="${run3.id}"]`);
  await row3.waitFor({ timeout: WAIT_MS });
  await waitText(row3.locator(".run-status"), ["waiting"], "run 3");
  await row3.getByRole("button", { name: /^Promote stage fleet/ }).waitFor({
    timeout: WAIT_MS });
  const shot = path.join(outDir, "console.png");
  await page.screenshot({ path: shot, fullPage: true });
  console.log("screenshot: " + shot);
  console.log("screenshot: " + path.join(outDir, "console-waiting.png"));

  // A reload keeps the token for the tab and shows the runs again.
  await page.reload();
  await row3.locator(".run-status").waitFor({ timeout: WAIT_MS });

  if (problems.length)
    fail("the page reported errors:\n  " + problems.join("\n  "));
  console.log("ok: console loaded, run 1 promoted by click to success, " +
              "run 2 cancelled by click");
} catch (e) {
  console.error("FAIL: " + e.message);
  if (problems.length)
    console.error("page errors:\n  " + problems.join("\n  "));
  if (context) {
    const p = context.pages()[0];
    if (p) {
      const shot = path.join(outDir, "console-failure.png");
      await p.screenshot({ path: shot, fullPage: true }).catch(() => {});
      console.error("screenshot: " + shot);
    }
  }
  console.error("sr-dev log: " + path.join(tmp, "dev.log"));
  process.exitCode = 1;
} finally {
  if (context)
    await context.close().catch(() => {});
  await stopDev(dev);
  if (!process.exitCode)
    fs.rmSync(tmp, { recursive: true, force: true });
}
