#!/usr/bin/env python3
"""tests/bench/bench_gateway.py - the REST side of tests/bench/bench_gateway.sh.

Standard library only. Talks to a gateway of sr-dev started with
--agent off (the client plays the device command service).

  bench_gateway.py setup   --url URL [--token T] [--targets 1000]
                           [--stages 20] [--running 300]
      Creates a run of --stages stages (1 op x 1 target each,
      auto_promote false) and a run whose first stage has --targets
      targets x 1 op; PUTs "running" on --running target runs of that
      stage. Prints shell assignments on stdout:
        RUN20=<run id>  BIG_STAGE=<stage run id>  RUNNING=<count> ...

  bench_gateway.py phases  --url URL [--save FILE | --since FILE]
      Reads the gateway's /metrics and prints where the writes' time
      went (sr_gateway_write_phase_seconds): per phase the count, mean
      and the p50/p99 bucket bounds, and a machine-readable last line
      "phases: produce_ms=.. reply_ms=.. visible_ms=.."
      (means). --save FILE keeps a snapshot instead; --since FILE
      counts only the writes after that snapshot.

  bench_gateway.py promote --url URL [--token T] [--samples 300]
                           [--warmup 10]
      Repeats: create a 2-stage run (1 target each), PUT "success" on the
      stage-1 target run, wait until the run is "waiting", then time the
      PUT {"status":"queued"} on stage 2 (request sent -> full answer read,
      on a kept-alive connection). Prints the distribution (ms) and a
      machine-readable last line "promote: n=.. p50_ms=.. p99_ms=..".

Every request goes over one persistent HTTP/1.1 connection; the time of a
request is the client's wall clock around it (time.perf_counter), so it
includes the client's own overhead (~0.1 ms).
"""
import argparse
import http.client
import json
import sys
import time
import urllib.parse
import uuid

NS = uuid.UUID("6f1d2c3b-0000-4000-8000-62656e636821")  # "bench!"


class Api:
    def __init__(self, url, token):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 80
        self.headers = {"Authorization": "Bearer " + token,
                        "Content-Type": "application/json"}
        self.conn = None

    def _connect(self):
        self.conn = http.client.HTTPConnection(self.host, self.port,
                                               timeout=30)
        self.conn.connect()
        # Small requests: do not let Nagle delay them.
        import socket
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def call(self, method, path, body=None):
        """(status, decoded JSON, seconds)."""
        data = None if body is None else json.dumps(body).encode()
        for attempt in (0, 1):
            if self.conn is None:
                self._connect()
            try:
                t0 = time.perf_counter()
                self.conn.request(method, path, body=data,
                                  headers=self.headers)
                r = self.conn.getresponse()
                raw = r.read()
                dt = time.perf_counter() - t0
                break
            except (http.client.HTTPException, ConnectionError, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = None
        return r.status, doc, dt

    def ok(self, method, path, body=None):
        st, doc, dt = self.call(method, path, body)
        if st != 200:
            raise SystemExit("bench_gateway.py: %s %s -> %d %s" %
                             (method, path, st, json.dumps(doc)[:300]))
        return doc["content"], dt


def target(tag, i):
    d = uuid.uuid5(NS, "%s/%d" % (tag, i))
    return {"device_id": str(d), "device_name": "%s-%d" % (tag, i)}


def stage(name, targets):
    return {"name": name, "description": "bench",
            "operations": [{"operation_type": "INSTALL",
                            "args": {"package_name": "com.example.bench"}}],
            "targets": targets}


def spec(name, stages):
    return {"pipeline_id": str(uuid.uuid5(NS, "pipeline/" + name)),
            "pipeline_name": name, "auto_promote": False,
            "stages": stages}


def pct(sorted_vals, p):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_vals:
        return float("nan")
    k = max(0, min(len(sorted_vals) - 1,
                   int(-(-p * len(sorted_vals) // 100)) - 1))
    return sorted_vals[k]


def stage_runs(api, run):
    doc, _ = api.ok("GET", "/v0/runs/%s/stageruns/?limit=1000" % run)
    return doc["results"]


def target_runs(api, sr, query=""):
    out, offset = [], 0
    while True:
        doc, _ = api.ok("GET", "/v0/stageruns/%s/targetruns/?limit=1000"
                        "&offset=%d%s" % (sr, offset, query))
        out += doc["results"]
        offset += len(doc["results"])
        if not doc["next"] or not doc["results"]:
            return out, doc["count"]


def wait_status(api, path, want, timeout=10.0):
    end = time.monotonic() + timeout
    while True:
        doc, _ = api.ok("GET", path)
        if doc["status"] in want:
            return doc
        if time.monotonic() > end:
            raise SystemExit("bench_gateway.py: %s stayed %s, wanted %s" %
                             (path, doc["status"], "/".join(want)))
        time.sleep(0.005)


def cmd_setup(a):
    api = Api(a.url, a.token)
    t0 = time.monotonic()
    run20, dt20 = api.ok("POST", "/v0/runs/", spec(
        "bench-20-stages",
        [stage("s%02d" % i, [target("s%02d" % i, 0)])
         for i in range(a.stages)]))
    srs = stage_runs(api, run20["id"])
    if len(srs) != a.stages:
        raise SystemExit("bench_gateway.py: %d stage runs, expected %d" %
                         (len(srs), a.stages))
    big, dtbig = api.ok("POST", "/v0/runs/", spec(
        "bench-1000-targets",
        [stage("big", [target("big", i) for i in range(a.targets)])]))
    big_sr = stage_runs(api, big["id"])[0]
    trs, count = target_runs(api, big_sr["id"])
    if count != a.targets:
        raise SystemExit("bench_gateway.py: %d target runs, expected %d" %
                         (count, a.targets))
    put_ms = []
    for tr in trs[:a.running]:
        _, dt = api.ok("PUT", "/v0/stageruns/%s/targetruns/%s/" %
                       (big_sr["id"], tr["id"]), {"status": "running"})
        put_ms.append(dt * 1e3)
    _, running = target_runs(api, big_sr["id"], "&status=running")
    put_ms.sort()
    print("RUN20=%s" % run20["id"])
    print("BIG_RUN=%s" % big["id"])
    print("BIG_STAGE=%s" % big_sr["id"])
    print("RUNNING=%d" % running)
    print("SETUP_POST20_MS=%.1f" % (dt20 * 1e3))
    print("SETUP_POSTBIG_MS=%.1f" % (dtbig * 1e3))
    print("SETUP_PUT_RUNNING_P50_MS=%.2f" % pct(put_ms, 50))
    print("SETUP_PUT_RUNNING_P99_MS=%.2f" % pct(put_ms, 99))
    print("SETUP_SECONDS=%.1f" % (time.monotonic() - t0))
    if running != a.running:
        print("bench_gateway.py: warning: %d running, expected %d" %
              (running, a.running), file=sys.stderr)


def cmd_promote(a):
    api = Api(a.url, a.token)
    samples, post_ms, finish_ms = [], [], []
    statuses = {}
    for i in range(a.warmup + a.samples):
        run, dt = api.ok("POST", "/v0/runs/", spec(
            "bench-promote",
            [stage("one", [target("p1", i)]),
             stage("two", [target("p2", i)])]))
        post_ms.append(dt * 1e3)
        s1, s2 = stage_runs(api, run["id"])
        (tr,), _ = target_runs(api, s1["id"])
        _, dt = api.ok("PUT", "/v0/stageruns/%s/targetruns/%s/" %
                       (s1["id"], tr["id"]), {"status": "success"})
        finish_ms.append(dt * 1e3)
        wait_status(api, "/v0/runs/%s/stageruns/%s/" % (run["id"], s1["id"]),
                    ("complete", "success"))
        # The run of the path below must be "waiting" before a promote.
        wait_status(api, "/v0/pipelines/%s/runs/%s/" %
                    (run["pipeline_id"], run["id"]), ("waiting",))
        st, doc, dt = api.call("PUT", "/v0/runs/%s/stageruns/%s/" %
                               (run["id"], s2["id"]), {"status": "queued"})
        statuses[st] = statuses.get(st, 0) + 1
        if st != 200:
            print("bench_gateway.py: promote -> %d %s" %
                  (st, json.dumps(doc)[:300]), file=sys.stderr)
            continue
        if doc["content"]["status"] not in ("queued", "running"):
            print("bench_gateway.py: promoted stage is %s" %
                  doc["content"]["status"], file=sys.stderr)
        if i >= a.warmup:
            samples.append(dt * 1e3)
    samples.sort()
    post_ms.sort()
    finish_ms.sort()

    def line(name, v):
        print("%-28s n=%d min=%.2f p50=%.2f p90=%.2f p99=%.2f max=%.2f "
              "(ms)" % (name, len(v), v[0], pct(v, 50), pct(v, 90),
                        pct(v, 99), v[-1]))
    line("POST /v0/runs/ (2 stages)", post_ms)
    line("PUT target run success", finish_ms)
    line("PUT stage run queued", samples)
    print("promote: n=%d p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f "
          "codes=%s" % (len(samples), pct(samples, 50), pct(samples, 90),
                        pct(samples, 99), samples[-1],
                        ",".join("%d:%d" % kv for kv in sorted(
                            statuses.items()))))


def bucket_pct(buckets, count, p):
    """Upper bound (s) of the bucket holding the p-th percentile."""
    want = -(-p * count // 100)
    for le, n in buckets:
        if n >= want:
            return le
    return float("inf")


def cmd_phases(a):
    import re
    import urllib.request
    with urllib.request.urlopen(a.url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    name = "sr_gateway_write_phase_seconds"
    phases = {}
    for line in text.splitlines():
        m = re.match(name + r'_(bucket|sum|count)\{([^}]*)\} (\S+)$', line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        ph = phases.setdefault(labels.get("phase", "?"),
                               {"buckets": [], "sum": 0.0, "count": 0})
        if m.group(1) == "bucket":
            le = labels["le"]
            ph["buckets"].append((float("inf") if le == "+Inf"
                                  else float(le), float(m.group(3))))
        elif m.group(1) == "sum":
            ph["sum"] = float(m.group(3))
        else:
            ph["count"] = int(float(m.group(3)))
    if a.save:
        with open(a.save, "w") as f:
            json.dump(phases, f)
        return
    if a.since:  # only the writes after that snapshot
        with open(a.since) as f:
            old = json.load(f)
        for k, ph in phases.items():
            o = old.get(k)
            if not o:
                continue
            ph["sum"] -= o["sum"]
            ph["count"] -= o["count"]
            prev = dict((le, n) for le, n in o["buckets"])
            ph["buckets"] = [(le, n - prev.get(le, 0))
                             for le, n in ph["buckets"]]
    order = ["produce", "reply", "visible"]
    means = []
    for k in order:
        ph = phases.get(k)
        if not ph or not ph["count"]:
            means.append("%s_ms=nan" % k)
            continue
        ph["buckets"].sort()
        mean = ph["sum"] / ph["count"] * 1e3
        means.append("%s_ms=%.2f" % (k, mean))
        print("%-8s n=%d mean=%.2f p50<=%.1f p99<=%.1f (ms)" % (
            k, ph["count"], mean,
            bucket_pct(ph["buckets"], ph["count"], 50) * 1e3,
            bucket_pct(ph["buckets"], ph["count"], 99) * 1e3))
    print("phases: " + " ".join(means))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("setup", "promote", "phases"):
        s = sub.add_parser(name)
        s.add_argument("--url", required=True)
        s.add_argument("--token", default="dev-token")
        if name == "setup":
            s.add_argument("--stages", type=int, default=20)
            s.add_argument("--targets", type=int, default=1000)
            s.add_argument("--running", type=int, default=300)
        elif name == "promote":
            s.add_argument("--samples", type=int, default=300)
            s.add_argument("--warmup", type=int, default=10)
        else:
            s.add_argument("--save")
            s.add_argument("--since")
    a = p.parse_args()
    {"setup": cmd_setup, "promote": cmd_promote,
     "phases": cmd_phases}[a.cmd](a)


if __name__ == "__main__":
    main()
