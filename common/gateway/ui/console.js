/* The sr console (served by sr-gateway at /ui/, docs/api-decisions.md):
 * the runs of the token's enterprise, their stage runs and target-run
 * counts, polled from the REST reads every POLL_MS; promote and cancel
 * through the REST writes. The token stays in sessionStorage and travels
 * only in the Authorization header. Everything shown is set with
 * textContent: nothing the API returns is parsed as HTML. */
"use strict";

(function () {
  const POLL_MS = 2000;
  const RUNS_SHOWN = 20;
  const TOKEN_KEY = "sr.console.token";
  const TERMINAL = new Set(["success", "failure", "cancelled", "timeout",
                            "invalid"]);

  const el = (id) => document.getElementById(id);
  const runsList = el("runs");
  const notice = el("notice");
  /* run id -> { li, stages: Map(stage id -> row), run } */
  const shown = new Map();
  /* stage run id -> counts of a terminal stage run (they no longer move) */
  const finalCounts = new Map();
  let timer = null;
  let generation = 0;

  function token() {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  }

  function say(text, isError) {
    if (notice.textContent !== text)
      notice.textContent = text;
    notice.classList.toggle("error", !!isError);
  }

  /* One API call: the envelope's content, or an Error carrying the
   * status and the server's message. */
  async function api(method, path, body) {
    const headers = { "Authorization": "Bearer " + token() };
    const init = { method: method, headers: headers, cache: "no-store",
                   credentials: "omit", redirect: "error" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const resp = await fetch(path, init);
    let env = null;
    try {
      env = await resp.json();
    } catch (e) {
      env = null;
    }
    if (!resp.ok) {
      const err = new Error((env && env.message) || resp.statusText ||
                            ("HTTP " + resp.status));
      err.status = resp.status;
      throw err;
    }
    return env ? env.content : null;
  }

  function node(tag, cls, text) {
    const n = document.createElement(tag);
    if (cls)
      n.className = cls;
    if (text !== undefined)
      n.textContent = text;
    return n;
  }

  function setStatus(span, status) {
    if (span.textContent === status)
      return;
    span.textContent = status;
    span.dataset.status = status; /* the colour (console.css) */
  }

  function when(iso) {
    if (!iso)
      return "not started";
    const d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString();
  }

  function stageName(sr, i) {
    const meta = sr.stage_meta || {};
    return meta.name || ("stage " + (i + 1));
  }

  /* Target-run counts of a stage run: total, success, failure (limit=0
   * answers the count only). A terminal stage's counts are kept. */
  async function targetCounts(sr) {
    if (finalCounts.has(sr.id))
      return finalCounts.get(sr.id);
    const base = "/v0/stageruns/" + encodeURIComponent(sr.id) +
                 "/targetruns/?limit=0";
    const [all, ok, bad] = await Promise.all([
      api("GET", base),
      api("GET", base + "&status=success"),
      api("GET", base + "&status=failure"),
    ]);
    const c = { total: all.count, success: ok.count, failure: bad.count };
    if (TERMINAL.has(sr.status))
      finalCounts.set(sr.id, c);
    return c;
  }

  async function act(button, what, method, path, body) {
    button.disabled = true;
    try {
      await api(method, path, body);
      notice.dataset.acted = "1"; /* the message stays until the next act */
      say(what + ": done.");
    } catch (e) {
      notice.dataset.acted = "1";
      say(what + " refused: " + e.message, true);
    }
    schedule(0);
  }

  function runView(run) {
    const li = node("li", "run");
    li.dataset.runId = run.id;
    const head = node("div", "run-head");
    const title = node("h3");
    const status = node("span", "status run-status");
    const started = node("span", "muted started");
    const progress = node("span", "muted progress-text");
    const cancel = node("button", "danger cancel", "Cancel run");
    cancel.type = "button";
    head.append(title, status, started, progress, node("span", "spacer"),
                cancel);
    const table = node("table", "stages");
    const thead = node("thead");
    const hr = node("tr");
    for (const h of ["Stage", "Status", "Target runs", "Succeeded",
                     "Action"])
      hr.append(node("th", null, h));
    thead.append(hr);
    const tbody = node("tbody");
    table.append(thead, tbody);
    li.append(head, table);
    const v = { li: li, title: title, status: status, started: started,
                progress: progress, cancel: cancel, tbody: tbody,
                stages: new Map(), run: run };
    cancel.addEventListener("click", () => {
      const r = v.run;
      act(cancel, "Cancel run " + r.pipeline_name + " #" + r.run_number,
          "PUT", "/v0/runs/" + encodeURIComponent(r.id) + "/",
          { status: "cancelled" });
    });
    return v;
  }

  function stageView(v, sr) {
    const tr = node("tr", "stage");
    tr.dataset.stageId = sr.id;
    const name = node("td", "stage-name");
    const stCell = node("td");
    const status = node("span", "status stage-status");
    stCell.append(status);
    const total = node("td", "targets");
    const okCell = node("td");
    const bar = node("progress");
    bar.max = 1;
    bar.value = 0;
    const okText = node("span", "succeeded");
    okCell.append(bar, " ", okText);
    const actCell = node("td");
    const promote = node("button", "primary promote", "Promote");
    promote.type = "button";
    promote.hidden = true;
    actCell.append(promote);
    tr.append(name, stCell, total, okCell, actCell);
    const s = { tr: tr, name: name, status: status, total: total, bar: bar,
                okText: okText, promote: promote, sr: sr };
    promote.addEventListener("click", () => {
      const x = s.sr;
      act(promote, "Promote " + s.name.textContent, "PUT",
          "/v0/runs/" + encodeURIComponent(x.pipeline_run_id) +
          "/stageruns/" + encodeURIComponent(x.id) + "/",
          { status: "queued" });
    });
    return s;
  }

  /* The stage run a promotion may queue: the run waits, the stage is
   * pending and every earlier one succeeded (domain.md). */
  function promotable(run, stages, i) {
    if (run.status !== "waiting" || stages[i].status !== "pending")
      return false;
    for (let k = 0; k < i; k++) {
      if (stages[k].status !== "success")
        return false;
    }
    return true;
  }

  async function refreshRun(run) {
    let v = shown.get(run.id);
    if (!v) {
      v = runView(run);
      shown.set(run.id, v);
    }
    v.run = run;
    v.title.textContent = run.pipeline_name + " #" + run.run_number;
    setStatus(v.status, run.status);
    v.started.textContent = "started " + when(run.started_at);
    /* a finished run has nothing to cancel */
    v.cancel.disabled = v.cancel.hidden = TERMINAL.has(run.status);
    v.cancel.setAttribute("aria-label", "Cancel run " + run.pipeline_name +
                          " #" + run.run_number);

    const page = await api("GET", "/v0/runs/" + encodeURIComponent(run.id) +
                           "/stageruns/?limit=1000");
    const stages = page.results;
    const counts = await Promise.all(stages.map((sr) =>
      sr.status === "pending" ? null : targetCounts(sr)));
    let done = 0;
    stages.forEach((sr, i) => {
      let s = v.stages.get(sr.id);
      if (!s) {
        s = stageView(v, sr);
        v.stages.set(sr.id, s);
        v.tbody.append(s.tr);
      }
      s.sr = sr;
      s.name.textContent = stageName(sr, i);
      setStatus(s.status, sr.status);
      const c = counts[i];
      s.total.textContent = c ? String(c.total) : "–";
      s.bar.value = c && c.total ? c.success / c.total : 0;
      s.okText.textContent = c ? (c.success + " ok" +
                                  (c.failure ? ", " + c.failure + " failed"
                                             : "")) : "";
      const can = promotable(run, stages, i);
      s.promote.hidden = !can;
      s.promote.disabled = !can;
      s.promote.setAttribute("aria-label", "Promote stage " +
                             s.name.textContent + " of " +
                             run.pipeline_name + " #" + run.run_number);
      if (sr.status === "success")
        done++;
    });
    v.progress.textContent = done + " of " + stages.length +
                             " stages succeeded";
    return v;
  }

  async function poll() {
    const gen = generation;
    if (!token())
      return;
    try {
      const page = await api("GET", "/v0/runs/?limit=" + RUNS_SHOWN);
      const views = [];
      for (const run of page.results)
        views.push(await refreshRun(run));
      if (gen !== generation)
        return;
      const keep = new Set(page.results.map((r) => r.id));
      for (const [id, v] of shown) {
        if (!keep.has(id)) {
          v.li.remove();
          shown.delete(id);
        }
      }
      views.forEach((v, i) => {
        if (runsList.children[i] !== v.li)
          runsList.insertBefore(v.li, runsList.children[i] || null);
      });
      el("updated").textContent = "(" + page.count + " in all; updated " +
                                  new Date().toLocaleTimeString() + ")";
      if (!notice.dataset.acted)
        say(page.count ? "Showing the newest runs; updates every " +
                         POLL_MS / 1000 + " s."
                       : "No runs yet for this token's enterprise.");
    } catch (e) {
      if (gen !== generation)
        return;
      notice.dataset.acted = ""; /* the read error replaces it */
      if (e.status === 401) {
        say("The token was refused (401): enter a valid token.", true);
        return; /* no polling with a refused token */
      }
      say("Could not read the runs: " + e.message + " (retrying)", true);
    }
    if (gen === generation)
      schedule(POLL_MS);
  }

  function schedule(ms) {
    clearTimeout(timer);
    timer = setTimeout(poll, ms);
  }

  function reset() {
    generation++;
    clearTimeout(timer);
    shown.clear();
    finalCounts.clear();
    runsList.replaceChildren();
    el("updated").textContent = "";
    notice.dataset.acted = "";
  }

  el("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const t = el("token").value.trim();
    el("token").value = "";
    reset();
    if (!t) {
      sessionStorage.removeItem(TOKEN_KEY);
      say("Enter an API token to see the runs of its enterprise.");
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, t);
    say("Loading the runs…");
    schedule(0);
  });
  el("forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    reset();
    say("Token forgotten. Enter an API token to see the runs of its " +
        "enterprise.");
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && token())
      schedule(0);
  });
  if (token()) {
    say("Loading the runs…");
    schedule(0);
  }
})();
