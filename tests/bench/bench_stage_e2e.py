#!/usr/bin/env python3
"""tests/bench/bench_stage_e2e.py - one stage of N targets end to end
through the real binaries (issue 17, "Measure").

For each N of --targets, --repeat times, a fresh sr-dev (embedded broker,
one sr-status worker, sr-agent at agent.latency.ms=0, 4 partitions):

  1. POST /v0/runs/ a run of one stage of N targets x 1 operation,
     auto_promote true; wall time from the POST until the gateway answers
     the run `success` (GET /v0/runs/{id}/ every 20 ms); with --open the
     stage is an open one (docs/targets.md): `sr-cli run create
     --targets-file` creates it and sends its targets in chunks of 1,000
     and the seal, the wall time from its start;
  2. CPU of sr-status, sr-agent, sr-gateway and sr-dev (the embedded
     broker) over that time, per target (utime+stime of /proc/PID/stat,
     every thread), and each process's peak RSS (VmHWM of
     /proc/PID/status: the process's whole life, so a fresh fleet per
     measurement);
  3. the changelog: records and bytes (key + value) per target, from
     `sr-cli dump changelog` (what it held before the POST subtracted);
     events per target from `sr-cli dump events`;
  4. the gateway's latency for the first and the last page of the stage's
     target runs (limit 20; the last page reached through the keyset
     `next` links), and for comparison the last page by `offset`:
     --samples GETs each on a kept-alive connection, p50 and p99;
  5. cancel cascade: a second run of one stage of N targets whose
     operation makes the agent wait 10 minutes before answering; once the
     worker dispatched all N (sr_consumer_lag 0, N target runs
     `processing`), PUT the run `cancelled`; time until the gateway counts
     N target runs `cancelled`, and the worker's CPU over it per target;
  6. restore: the fleet's worker stopped (SIGSTOP), a fresh sr-status
     (empty data dir) restores every partition from the changelog, both
     runs (soak_retention.restore_probe: its "restored" log lines'
     seconds, summed over partitions, and records read).

On the embedded broker (librdkafka's mock: 5 MiB per partition, and a
run's events, results and changelog records each on one partition) a
stage of more than about 1,000 targets loses records (its first events;
from 10,000-20,000 results under the worker, and the run never ends): --bootstrap (or
$SR_TEST_KAFKA, as under scripts/kafka.sh run) runs sr-dev on a real
broker instead.

A size the single-command spec cannot carry is refused by the gateway:
the refusal (status and message) is printed with the size, and --probe
finds the smallest refused N by bisection (on a fleet with --agent off,
each accepted probe cancelled at once).

--check (the CI tests, tests/CMakeLists.txt: integration.stage_e2e_1000,
kafka.stage_e2e_20000): one
measurement, then every target run must be `success` (the gateway's
count by status and the last event of every target run), the stage and
the run `success`, and the events of every run gapless (tests/chaos/
check.py's Checker.check_events, the chaos scenario's checker: seq 1..n,
duplicates identical). The check is also fed doctored copies of the
events (one target run's last event dropped; one event's seq removed)
and must refuse both, so a lost event cannot pass unseen. Exit 1 on any
failure.

  bench_stage_e2e.py --build DIR [--targets 1000,10000,100000,1000000]
      [--repeat 3] [--repeat-above 10000:1] [--samples 200] [--idle 3]
      [--bootstrap HOST:PORT] [--no-cancel] [--no-restore] [--probe]
      [--check] [--keep] [--timeout 1800] [-D KEY=VALUE ...]

-D adds to every child's configuration (after the bench's own limits:
stage.max.targets at its ceiling, command.max.bytes, gateway.body.max.bytes
and kafka.message.max.bytes raised so that the spec's one command is
the wall, not the defaults). Standard library only.
"""
import argparse
import base64
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "chaos"))
from bench_gateway import Api, pct  # noqa: E402
import soak_retention  # noqa: E402
from soak_retention import restore_probe  # noqa: E402
import check as chaos_check  # noqa: E402

NS = uuid.UUID("6f1d2c3b-0000-4000-8000-737461676531")  # "stage1"
TOKEN = "dev-token"
CLK_TCK = os.sysconf("SC_CLK_TCK")
FINAL = ("success", "failure", "cancelled")
# The bench's own limits: the spec's single command is the wall.
LIMITS = ["stage.max.targets=79137", "gateway.body.max.bytes=8388608",
          "command.max.bytes=8000000", "kafka.message.max.bytes=8100000",
          # a large create is answered 200 with its run, not 202
          "gateway.reply.timeout.ms=600000"]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ------------------------------------------------------------ processes

class Fleet:
    """sr-dev with one worker; the pids of its children by name."""

    def __init__(self, a, work, agent=True):
        self.work = work
        self.build = a.build
        os.makedirs(work, exist_ok=True)
        self.common = []
        own = []
        if a.bootstrap:  # topics and groups of this fleet's own
            prefix = "stage-%d-%d." % (os.getpid(), time.time_ns() % 10**9)
            own = ["topic.prefix=" + prefix, "group.id=%sstatus" % prefix,
                   "agent.group.id=%sagent" % prefix]
        for kv in (["agent.latency.ms=0", "log.level=warn"] + LIMITS + own +
                   a.define):
            self.common += ["-D", kv]
        args = [os.path.join(a.build, "sr-dev"), "--workers", "1",
                "--partitions", "4", "--data-dir",
                os.path.join(work, "data"), "--http-port", "0",
                "--agent", "on" if agent else "off"] + self.common
        if a.bootstrap:
            args += ["--bootstrap", a.bootstrap]
        self.err = open(os.path.join(work, "sr-dev.log"), "w")
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE,
                                  stderr=self.err, text=True)
        self.url, self.bootstrap = None, a.bootstrap
        for line in self.p.stdout:
            if line.startswith("bootstrap.servers="):
                self.bootstrap = line.split("=", 1)[1].strip()
            if line.startswith("http="):
                self.url = line.split("=", 1)[1].strip()
            if line.startswith("ready"):
                break
        else:
            raise SystemExit("bench_stage_e2e: sr-dev did not get ready "
                             "(%s)" % self.err.name)
        threading.Thread(target=self.p.stdout.read, daemon=True).start()
        self.pids = {"sr-dev": self.p.pid}
        for name in ("sr-status", "sr-agent", "sr-gateway"):
            pid = child_pid(self.p.pid, name)
            if pid:
                self.pids[name] = pid
        self.metrics_port = listen_port(self.pids["sr-status"])

    # SIGTERM, then SIGKILL after 60 s; closes the log (same fields)
    stop = soak_retention.Fleet.stop


def child_pid(parent, comm):
    p = subprocess.run(["pgrep", "-P", str(parent), "-x", comm],
                       capture_output=True, text=True).stdout.split()
    return int(p[0]) if p else None


def listen_port(pid):
    """The TCP port the process listens on (its ops server), via
    /proc/net/tcp and its socket inodes."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", t)
        if m:
            inodes.add(m.group(1))
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            c = line.split()
            if c[3] == "0A" and c[9] in inodes:  # LISTEN
                return int(c[1].split(":")[1], 16)
    return None


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def status_mb(pid, field="VmHWM"):
    """A kB field of /proc/PID/status in MB (VmHWM: the peak RSS; RssAnon,
    RssFile: the heap's and the mapped files' share, e.g. LMDB's, now)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def metric(port, name, total=False):
    """The first sample of @name on the worker's /metrics, or with
    @total the sum of all its series; None if absent."""
    import urllib.request
    out = None
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                v = float(line.rsplit(" ", 1)[1])
                if not total:
                    return v
                out = (out or 0) + v
    return out


# ------------------------------------------------------------ the API

def spec(name, n, latency_ms=None):
    args = {"package_name": "com.example.bench"}
    if latency_ms is not None:
        args["simulate"] = {"latency_ms": latency_ms}
    return {"pipeline_id": str(uuid.uuid5(NS, "pipeline/" + name)),
            "pipeline_name": name, "auto_promote": True,
            "stages": [{"name": "big", "description": "bench",
                        "operations": [{"operation_type": "INSTALL",
                                        "args": args}],
                        "targets": [{"device_id": str(uuid.uuid5(
                            NS, "%s/%d" % (name, i)))} for i in range(n)]}]}


def create(api, name, n, latency_ms=None):
    """(status, content or message, body bytes)."""
    body = spec(name, n, latency_ms)
    size = len(json.dumps(body))
    try:
        st, doc, _ = api.call("POST", "/v0/runs/", body)
    except OSError as e:
        # The gateway answers a body declared too large at once and closes:
        # the head alone gets that answer.
        st, doc = head_only(api, size)
        doc = {"message": "%s (the body's send failed: %s)" % (
            (doc or {}).get("message"), e)}
    if st in (200, 202):
        return st, doc["content"], size
    return st, (doc or {}).get("message", "?"), size


def create_open(a, fleet, name, n, latency_ms=None):
    """The stage as an open one (docs/targets.md): the run created with it
    open, its targets sent in chunks and sealed by sr-cli run create
    --targets-file, the reference client (chunk digests, the seal's,
    several chunks in flight). (status, run, bytes of the targets file)."""
    body = spec(name, n, latency_ms)
    targets = body["stages"][0].pop("targets")
    body["stages"][0]["targets"] = []
    sp = os.path.join(fleet.work, "spec.json")
    tp = os.path.join(fleet.work, "targets.jsonl")
    with open(sp, "w") as f:
        json.dump(body, f)
    with open(tp, "w") as f:
        for t in targets:
            f.write(json.dumps(t) + "\n")
    p = subprocess.run([os.path.join(a.build, "sr-cli"), "run", "create",
                        sp, "--gateway", fleet.url, "--targets-file",
                        "0:" + tp], capture_output=True, text=True,
                       env=dict(os.environ, SR_API_TOKENS=TOKEN),
                       timeout=a.timeout)
    size = os.path.getsize(tp)
    if p.returncode != 0:
        return 500, "sr-cli run create: exit %d: %s" % (
            p.returncode, p.stderr.strip()[-400:]), size
    # "run=<id>", then each filled stage run's JSON as the seal answered
    lines = p.stdout.splitlines()
    run = lines[0].split("=", 1)[1]
    sr = json.loads(lines[1])
    if not sr.get("targets", {}).get("sealed"):
        return 500, "the seal answered %s" % lines[1][:400], size
    return 200, {"id": run}, size


def head_only(api, length):
    """(status, JSON) of a POST /v0/runs/ head declaring @length bytes,
    read before any body byte is sent."""
    import socket
    with socket.create_connection((api.host, api.port), timeout=30) as so:
        so.sendall(("POST /v0/runs/ HTTP/1.1\r\nHost: x\r\n"
                    "Authorization: %s\r\nContent-Type: application/json"
                    "\r\nContent-Length: %d\r\n\r\n" % (
                        api.headers["Authorization"], length)).encode())
        raw = b""
        while b"\r\n\r\n" not in raw or not raw.rstrip().endswith(b"}"):
            chunk = so.recv(65536)
            if not chunk:
                break
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    try:
        return int(head.split()[1]), json.loads(body)
    except (IndexError, ValueError):
        return 0, {"message": raw[:200].decode("latin-1")}


def wait_run(api, run, want, timeout):
    end = time.monotonic() + timeout
    while True:
        doc, _ = api.ok("GET", "/v0/runs/%s/" % run)
        if doc["status"] in want:
            return doc["status"]
        if doc["status"] in FINAL or time.monotonic() > end:
            return doc["status"]
        time.sleep(0.02)


def stage_run(api, run):
    doc, _ = api.ok("GET", "/v0/runs/%s/stageruns/" % run)
    return doc["results"][0]


def count(api, sr, status):
    doc, _ = api.ok("GET", "/v0/stageruns/%s/targetruns/?limit=0&status=%s"
                    % (sr, status))
    return doc["count"]


def latency(api, path, samples):
    """(p50 ms, p99 ms, rows) of --samples GETs of @path."""
    ms, rows = [], 0
    for _ in range(samples):
        doc, dt = api.ok("GET", path)
        rows = len(doc["results"])
        ms.append(dt * 1e3)
    ms.sort()
    return pct(ms, 50), pct(ms, 99), rows


def last_page_path(api, sr, n):
    """The path of the last page (limit 20) of the stage's target runs,
    reached through `next` links: pages of 1,000 up to the last one, then
    its link redone with limit 20 and followed to its end."""
    path = "/v0/stageruns/%s/targetruns/?limit=1000" % sr
    prev = None
    while True:
        doc, _ = api.ok("GET", path)
        if not doc["next"]:
            break
        prev, path = path, doc["next"]
    path = (prev or path).replace("limit=1000", "limit=20")
    while True:
        doc, _ = api.ok("GET", path)
        if not doc["next"]:
            return path
        path = doc["next"]


# ------------------------------------------------------------ the topics

def dump(fleet, topic, path):
    with open(path, "w") as out:
        subprocess.run([os.path.join(fleet.build, "sr-cli"), "-b",
                        fleet.bootstrap] + fleet.common +
                       ["dump", topic], stdout=out, check=True,
                       stderr=subprocess.DEVNULL)
    return path


def record_sizes(path):
    """(records, key + value bytes) of a dump."""
    n = size = 0
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            n += 1
            k = r.get("key") or ""
            size += len(base64.b64decode(k)) if r.get("key_b64") else \
                len(k.encode())
            size += len(base64.b64decode(r["raw"])) if r.get("raw") else 0
    return n, size


def slim_event(r):
    """chaos/check.py's slim event plus the entity and its new status."""
    s = chaos_check.slim_event(dict(r))
    v = r.get("value")
    if v:
        for k in ("entity_id", "entity_type", "to_status"):
            s["value"][k] = v.get(k)
    return s


def check_events(events, run, n):
    """Problems of one finished run's events (empty list: none): gapless
    per run (the chaos checker), every entity's last status success, N
    target runs."""
    ck = chaos_check.Checker()
    runs = ck.check_events(events)
    problems = list(ck.problems)
    evs = runs.get(run)
    if not evs:
        return problems + ["run %s: no events" % run]
    last = {}
    for e in sorted(evs, key=lambda e: e["value"]["seq"]):
        v = e["value"]
        last[v["entity_id"]] = (v["entity_type"], v["to_status"])
    kinds = {}
    for eid, (kind, status) in last.items():
        kinds.setdefault(kind, {}).setdefault(status, 0)
        kinds[kind][status] += 1
    want = {"pipeline_run": {"success": 1}, "stage_run": {"success": 1},
            "target_run": {"success": n}}
    for kind, statuses in want.items():
        if kinds.get(kind) != statuses:
            problems.append("run %s: %s last statuses %s, expected %s" %
                            (run, kind, kinds.get(kind), statuses))
    return problems


def self_test(events, run, n):
    """The check refuses doctored copies: one target run's last event
    dropped (a lost result's trace), one event in the middle dropped (a
    gap). Returns the problems of the check itself."""
    out = []
    evs = sorted((e for e in events
                  if e["value"] and e["value"]["pipeline_run_id"] == run),
                 key=lambda e: e["value"]["seq"])
    tr = [e for e in evs if e["value"]["entity_type"] == "target_run"]
    victims = {"a target run's last event": tr[-1],
               "an event in the middle": evs[len(evs) // 2]}
    for what, victim in victims.items():
        copy = [e for e in events if e is not victim]
        if not check_events(copy, run, n):
            out.append("the check passed the events without %s" % what)
        else:
            log("self-test: the events without %s are refused" % what)
    return out


# ------------------------------------------------------------ one size

def measure(a, n, rep, work):
    fleet = Fleet(a, os.path.join(work, "n%d-%d" % (n, rep)))
    api = Api(fleet.url, TOKEN)
    r = {"n": n}
    try:
        base_cl = dump(fleet, "changelog", os.path.join(fleet.work,
                                                        "cl0.jsonl"))
        base_n, base_b = record_sizes(base_cl)
        # the fleet's idle CPU (polling the broker) over --idle seconds:
        # subtracted for the net figures
        cpu0 = {k: cpu_s(p) for k, p in fleet.pids.items()}
        t0 = time.monotonic()
        time.sleep(a.idle)
        idle = {k: (cpu_s(p) - cpu0[k]) / (time.monotonic() - t0)
                for k, p in fleet.pids.items()}
        cpu0 = {k: cpu_s(p) for k, p in fleet.pids.items()}
        in0 = metric(fleet.metrics_port, "sr_inputs_total", total=True)
        t0 = time.monotonic()
        if a.open:
            st, run, size = create_open(a, fleet, "stage-%d-%d" % (n, rep),
                                        n)
        else:
            st, run, size = create(api, "stage-%d-%d" % (n, rep), n)
        r["body_bytes"] = size
        if st != 200:
            r["refused"] = "%d %s" % (st, run)
            return r
        r["post_s"] = time.monotonic() - t0
        status = wait_run(api, run["id"], ("success",), a.timeout)
        r["wall_s"] = time.monotonic() - t0
        cpu1 = {k: cpu_s(p) for k, p in fleet.pids.items()}
        if status != "success":
            r["failed"] = "run ended %s after %.0f s" % (status,
                                                        r["wall_s"])
            return r
        for k in cpu0:
            r["cpu_us_" + k] = (cpu1[k] - cpu0[k]) * 1e6 / n
            r["net_us_" + k] = (cpu1[k] - cpu0[k] -
                                idle[k] * r["wall_s"]) * 1e6 / n
        for k, p in fleet.pids.items():
            r["hwm_mb_" + k] = status_mb(p)
            r["anon_mb_" + k] = status_mb(p, "RssAnon")
            r["file_mb_" + k] = status_mb(p, "RssFile")
        # inputs the worker applied (the create, N x 4 agent results)
        inputs = metric(fleet.metrics_port, "sr_inputs_total",
                        total=True) - in0
        r["inputs_per_t"] = inputs / n
        r["worker_us_per_input"] = (cpu1["sr-status"] -
                                    cpu0["sr-status"]) * 1e6 / inputs
        sr = stage_run(api, run["id"])
        r["stage"] = sr["status"]
        r["success_count"] = count(api, sr["id"], "success")
        cl = dump(fleet, "changelog", os.path.join(fleet.work, "cl.jsonl"))
        cn, cb = record_sizes(cl)
        r["cl_records_per_t"] = (cn - base_n) / n
        r["cl_bytes_per_t"] = (cb - base_b) / n
        evp = dump(fleet, "events", os.path.join(fleet.work, "ev.jsonl"))
        events = chaos_check.load(evp, slim_event)
        r["events_per_t"] = len(events) / n
        if a.check:
            r["problems"] = check_events(events, run["id"], n)
            if r["success_count"] != n:
                r["problems"].append("gateway: %d of %d target runs "
                                     "success" % (r["success_count"], n))
            if sr["status"] != "success":
                r["problems"].append("stage run %s" % sr["status"])
            r["problems"] += self_test(events, run["id"], n)
        del events
        first = "/v0/stageruns/%s/targetruns/?limit=20" % sr["id"]
        r["first_p50"], r["first_p99"], _ = latency(api, first, a.samples)
        last = last_page_path(api, sr["id"], n)
        r["last_p50"], r["last_p99"], rows = latency(api, last, a.samples)
        r["last_rows"] = rows
        off = "%s&offset=%d" % (first, max(0, n - 20))
        r["off_p50"], r["off_p99"], _ = latency(api, off, a.samples)
        if not a.no_cancel:
            r.update(cancel_cascade(a, fleet, api, n, rep))
        if not a.no_restore:
            r.update(restore(a, fleet, rep))
    finally:
        fleet.stop()
        if not a.keep:
            shutil.rmtree(fleet.work, ignore_errors=True)
    return r


def restore(a, fleet, rep):
    """A fresh sr-status (empty data dir) restores every partition from
    the changelog while the fleet's worker is stopped (SIGSTOP: its
    session expires and the probe gets the 4 partitions);
    soak_retention.restore_probe reads its "restored" lines (logged at
    info): seconds summed over partitions, records read."""
    ns = argparse.Namespace(build=a.build, restore_timeout=600)
    shim = argparse.Namespace(work=fleet.work, bootstrap=fleet.bootstrap,
                              common=fleet.common + ["-D", "log.level=info"])
    worker = fleet.pids["sr-status"]
    os.kill(worker, signal.SIGSTOP)
    try:
        read, secs, parts = restore_probe(ns, shim, rep)
    finally:
        os.kill(worker, signal.SIGCONT)
    return {"restore_s": secs, "restore_records": read,
            "restore_partitions": parts}


def cancel_cascade(a, fleet, api, n, rep):
    """Seconds from the PUT cancelled of a run whose stage of N targets
    waits for the agent until the gateway counts N target runs cancelled;
    and the CPU of the worker over it, per target."""
    if a.open:  # as the measured run: a large stage only fits in chunks
        st, run, _ = create_open(a, fleet, "cancel-%d-%d" % (n, rep), n,
                                 latency_ms=600000)
    else:
        st, run, _ = create(api, "cancel-%d-%d" % (n, rep), n,
                            latency_ms=600000)
    if st != 200:
        return {"cancel": "create refused: %d %s" % (st, run)}
    sr = stage_run(api, run["id"])["id"]
    end = time.monotonic() + a.timeout
    while time.monotonic() < end:  # every target dispatched, worker idle
        if metric(fleet.metrics_port, "sr_consumer_lag") == 0 and \
                metric(fleet.metrics_port, "sr_outbox_depth") == 0 and \
                count(api, sr, "processing") == n:
            break
        time.sleep(0.2)
    worker = fleet.pids["sr-status"]
    c0 = cpu_s(worker)
    t0 = time.monotonic()
    st, doc, _ = api.call("PUT", "/v0/runs/%s/" % run["id"],
                          {"status": "cancelled"})
    if st not in (200, 202):
        return {"cancel": "PUT cancelled: %d %s" % (st, doc)}
    while time.monotonic() < end:
        if count(api, sr, "cancelled") == n:
            return {"cancel_s": time.monotonic() - t0,
                    "cancel_cpu_us": (cpu_s(worker) - c0) * 1e6 / n}
        time.sleep(0.02)
    return {"cancel": "%d of %d cancelled after %.0f s" % (
        count(api, sr, "cancelled"), n, a.timeout)}


# ------------------------------------------------------------ the wall

def probe(a, work, lo, hi):
    """Smallest refused N in (lo, hi] (lo accepted, hi refused), and the
    refusal, on a fleet without agent."""
    fleet = Fleet(a, os.path.join(work, "probe"), agent=False)
    api = Api(fleet.url, TOKEN)
    msg = None
    try:
        st, m, size = create(api, "probe-%d" % hi, hi)
        if st in (200, 202):
            return None, "accepted %d" % hi
        msg = "%d %s (body %d bytes)" % (st, m, size)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            st, m, size = create(api, "probe-%d" % mid, mid)
            if st in (200, 202):  # 202: accepted, no reply in time
                if st == 200:
                    api.call("PUT", "/v0/runs/%s/" % m["id"],
                             {"status": "cancelled"})
                lo = mid
            else:
                hi, msg = mid, "%d %s (body %d bytes)" % (st, m, size)
            log("probe: %d -> %d" % (mid, st))
        return hi, msg
    finally:
        fleet.stop()
        if not a.keep:
            shutil.rmtree(fleet.work, ignore_errors=True)


# ------------------------------------------------------------ report

COLS = [("wall_s", "wall s", "%.2f"),
        ("cpu_us_sr-status", "worker us/t", "%.1f"),
        ("cpu_us_sr-agent", "agent us/t", "%.1f"),
        ("cpu_us_sr-gateway", "gw us/t", "%.1f"),
        ("cpu_us_sr-dev", "broker us/t", "%.1f"),
        ("net_us_sr-status", "worker net", "%.1f"),
        ("worker_us_per_input", "worker us/in", "%.1f"),
        ("inputs_per_t", "in/t", "%.2f"),
        ("net_us_sr-agent", "agent net", "%.1f"),
        ("net_us_sr-gateway", "gw net", "%.1f"),
        ("hwm_mb_sr-status", "worker MB", "%.0f"),
        ("anon_mb_sr-status", "worker anon", "%.0f"),
        ("file_mb_sr-status", "worker file", "%.0f"),
        ("hwm_mb_sr-agent", "agent MB", "%.0f"),
        ("hwm_mb_sr-gateway", "gw MB", "%.0f"),
        ("hwm_mb_sr-dev", "broker MB", "%.0f"),
        ("cl_records_per_t", "cl rec/t", "%.2f"),
        ("cl_bytes_per_t", "cl B/t", "%.0f"),
        ("events_per_t", "ev/t", "%.2f"),
        ("restore_s", "restore s", "%.2f"),
        ("cancel_s", "cancel s", "%.2f"),
        ("cancel_cpu_us", "cancel us/t", "%.1f"),
        ("first_p99", "first p99 ms", "%.2f"),
        ("last_p99", "last p99 ms", "%.2f"),
        ("off_p99", "offset-last p99 ms", "%.2f")]


def median_row(rows):
    out = {"n": rows[0]["n"], "reps": len(rows)}
    for k, _, _ in COLS:
        vals = [r[k] for r in rows if k in r]
        if vals:
            out[k] = statistics.median(vals)
    return out


def table(meds):
    print("%-9s %4s " % ("targets", "reps") +
          " ".join("%*s" % (max(len(h), 6), h) for _, h, _ in COLS))
    for m in meds:
        if "refused" in m:
            print("%-9d refused: %s" % (m["n"], m["refused"]))
            continue
        if "failed" in m:
            print("%-9d FAILED: %s" % (m["n"], m["failed"]))
            continue
        cells = []
        for k, h, f in COLS:
            w = max(len(h), 6)
            cells.append("%*s" % (w, f % m[k] if k in m else "-"))
        print("%-9d %4d " % (m["n"], m["reps"]) + " ".join(cells))


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True)
    ap.add_argument("--targets", default="1000,10000,100000,1000000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--repeat-above", default="10000:1",
                    help="N:R - sizes above N measured R times")
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--idle", type=float, default=3.0,
                    help="seconds of idle CPU measured before the POST")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--no-cancel", action="store_true")
    ap.add_argument("--no-restore", action="store_true")
    ap.add_argument("--probe", action="store_true")
    ap.add_argument("--bootstrap", default=os.environ.get("SR_TEST_KAFKA"),
                    help="a real broker for sr-dev --bootstrap (default: "
                    "$SR_TEST_KAFKA; none: the embedded broker)")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--open", action="store_true",
                    help="the stage as an open one: created open, its "
                    "targets sent in chunks and sealed by sr-cli run "
                    "create --targets-file (docs/targets.md)")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("-D", dest="define", action="append", default=[])
    a = ap.parse_args()
    a.build = os.path.abspath(a.build)
    a.bootstrap = a.bootstrap or None  # --bootstrap "": the embedded one
    if a.open:  # chunks: only stage.max.targets bounds the stage
        LIMITS[0] = "stage.max.targets=10000000"
    above, above_reps = (int(x) for x in a.repeat_above.split(":"))
    work = tempfile.mkdtemp(prefix="bench-stage-e2e.")
    log("bench_stage_e2e: work dir %s, limits %s %s" %
        (work, " ".join(LIMITS), " ".join(a.define)))
    meds, problems, walls = [], [], []
    try:
        for n in (int(x) for x in a.targets.split(",")):
            reps = a.repeat if n <= above else min(a.repeat, above_reps)
            rows = []
            for rep in range(reps):
                load = open("/proc/loadavg").read().split()[:3]
                r = measure(a, n, rep, work)
                log("n=%d rep %d (load %s): %s" % (
                    n, rep + 1, " ".join(load),
                    json.dumps({k: round(v, 3) if isinstance(v, float)
                                else v for k, v in r.items()})))
                problems += ["n=%d: %s" % (n, p)
                             for p in r.get("problems", [])]
                if "failed" in r:
                    problems.append("n=%d: %s" % (n, r["failed"]))
                if "refused" in r or "failed" in r:
                    meds.append(r)
                    break
                rows.append(r)
            else:
                meds.append(median_row(rows))
                continue
            if a.probe and "refused" in r and not walls:
                accepted = [m["n"] for m in meds if "refused" not in m]
                at, msg = probe(a, work, max(accepted or [0]), n)
                walls.append("single-command wall: %s targets is the "
                             "smallest refused: %s" % (at, msg))
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("== bench_stage_e2e (%s, %s, %d CPUs, load %s, git %s) ==" % (
        time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
        "broker " + a.bootstrap if a.bootstrap else "embedded broker",
        os.cpu_count(),
        " ".join(open("/proc/loadavg").read().split()[:3]),
        subprocess.run(["git", "-C", HERE, "describe", "--always",
                        "--dirty"], capture_output=True,
                       text=True).stdout.strip() or "?"))
    table(meds)
    for w in walls:
        print(w)
    print("(medians of the repeats; us/t: CPU microseconds per target from "
          "the POST to the run's success; net: less the process's idle CPU "
          "rate x wall; MB: peak RSS, VmHWM; anon/file: RssAnon/RssFile at "
          "the run's end; cl: changelog records and "
          "key+value bytes; ev/t: events; restore: a fresh worker's "
          "restore of both runs' partitions; cancel: PUT cancelled to N "
          "target runs cancelled at the gateway; p99 of GET target runs, "
          "limit 20)")
    for p in problems:
        print("FAIL: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
