#!/usr/bin/env python3
"""tests/deploy/test_prometheus.py SOURCE BUILD - deploy/prometheus against
a real Prometheus server and sr-dev's fleet:
  1. `promtool check config` on the example configuration, `promtool check
     rules` and `promtool test rules` (every alert firing and silent);
  2. sr-dev (2 workers, the agent, the gateway) scraped every second by a
     Prometheus of this test (temp dir, free port, the rules loaded), RUNS
     runs started through the gateway; once the fleet is idle, PromQL
     answers are compared with what the processes' own /metrics say at the
     same moment and with what this test counted:
       results consumed and applied, events, agent results (equal; the
       results consumed also equal to what the test caused), their rate
       over the drive (the window's samples hold exactly the increase D
       seen on /metrics; rate() between D/window and the sum of each
       series' increase over its sampled span: rate()'s extrapolation,
       from the samples Prometheus answers for that instant), consumer lag
       (equal), partitions owned (12), the gateway's p99 from the histogram
       (in the bucket of, and within 5% of its width from, the same
       quantile of the gateway's own buckets; the test's own p99 of its
       POSTs in that bucket, +50 ms);
  3. `promtool check metrics` passes on every process's /metrics.
Prometheus is stopped in every case."""
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from devfleet import (DevFleet, free_port, http_get, http_send,  # noqa: E402
                      stop)

RUNS = 30
DEVICES_STAGE1 = 2  # deploy/examples/canary.json: "canary" on 2 devices
RESULTS_PER_DEVICE = 4  # QUEUED, INITIATED, INPROGRESS, SUCCESS
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL " + msg)


def parse_metrics(text):
    """{(name, frozenset(labels)): value}"""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$", line)
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def total(metrics, name, **want):
    return sum(v for (n, l), v in metrics.items() if n == name and
               all((k, w) in l for k, w in want.items()))


def quantile(q, buckets):
    """Prometheus' histogram_quantile over [(le, cumulative count)]."""
    buckets = sorted(buckets)
    n = buckets[-1][1]
    rank = q * n
    prev_le, prev_c = 0.0, 0.0
    for le, c in buckets:
        if c >= rank:
            if le == float("inf"):
                return prev_le, (prev_le, le)
            return (prev_le + (le - prev_le) * (rank - prev_c) /
                    (c - prev_c)), (prev_le, le)
        prev_le, prev_c = le, c


class Prom:
    def __init__(self, tmp, targets, rules):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        cfg = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s",
                          "scrape_timeout": "900ms"},
               "rule_files": [rules],
               "scrape_configs": [{"job_name": job, "static_configs":
                                   [{"targets": t}]}
                                  for job, t in targets.items()]}
        path = os.path.join(tmp, "prometheus.yml")
        with open(path, "w") as f:
            json.dump(cfg, f)  # JSON is YAML
        self.log = open(os.path.join(tmp, "prometheus.log"), "w")
        self.proc = subprocess.Popen(
            ["prometheus", "--config.file=" + path,
             "--storage.tsdb.path=" + os.path.join(tmp, "tsdb"),
             "--web.listen-address=127.0.0.1:%d" % self.port],
            stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 60
        while http_get(self.url + "/-/ready", 1)[0] != 200:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("prometheus not ready (see %s)"
                                   % self.log.name)
            time.sleep(0.2)

    def query(self, q, at=None):
        args = {"query": q}
        if at is not None:
            args["time"] = "%.3f" % at
        s, body = http_get(self.url + "/api/v1/query?" +
                           urllib.parse.urlencode(args), 10)
        if s != 200:
            raise RuntimeError("query %s: %s %s" % (q, s, body))
        return json.loads(body)["data"]["result"]

    def scalar(self, q, at=None):
        r = self.query(q, at)
        return float(r[0]["value"][1]) if r else None

    def close(self):
        stop(self.proc, 20)
        self.log.close()


def check_rules(src):
    d = os.path.join(src, "deploy", "prometheus")
    for cmd in (["promtool", "check", "config", "prometheus.example.yml"],
                ["promtool", "check", "rules", "sr-rules.yml"],
                ["promtool", "test", "rules", "sr-rules.test.yml"]):
        r = subprocess.run(cmd, cwd=d, capture_output=True, text=True)
        print("$ %s\n%s" % (" ".join(cmd), (r.stdout + r.stderr).strip()))
        if r.returncode:
            fail(" ".join(cmd))


def scrape_all(urls):
    return {name: http_get(u + "/metrics")[1] for name, u in urls.items()}


@contextlib.contextmanager
def scraped_fleet(src, build, tmp):
    """sr-dev (2 workers, the agent, the gateway) in tmp and a Prometheus
    scraping them as jobs sr-status, sr-agent and sr-gateway with
    deploy/prometheus/sr-rules.yml loaded; yields (dev, prom, urls: the
    processes' base URLs by name). Both are stopped in every case."""
    dev = DevFleet(build, tmp, ["--workers", "2"])
    prom = None
    try:
        log = open(os.path.join(tmp, "dev.log")).read()
        ops = dict(re.findall(r'msg="(\S+) ops server" http=(\S+)', log))
        urls = {"status-0": ops["status-0"], "status-1": ops["status-1"],
                "agent": ops["agent"], "gateway": dev.http}
        hp = {k: v.split("//")[1] for k, v in urls.items()}
        prom = Prom(tmp, {"sr-status": [hp["status-0"], hp["status-1"]],
                          "sr-agent": [hp["agent"]],
                          "sr-gateway": [hp["gateway"]]},
                    os.path.join(src, "deploy", "prometheus", "sr-rules.yml"))
        yield dev, prom, urls
    finally:
        if prom:
            prom.close()
        dev.close()


def main():
    src, build = (os.path.abspath(a) for a in sys.argv[1:3])
    check_rules(src)
    with tempfile.TemporaryDirectory(prefix="sr-prom-") as tmp, \
            scraped_fleet(src, build, tmp) as (dev, prom, urls):
        drive_and_compare(src, dev, prom, urls)
    print("prometheus: %s" % ("FAILED" if failures else "ok"))
    return 1 if failures else 0


def settle(urls):
    """Wait until no counter moves for 3 s and every worker's lag gauge
    says 0 (the gauge is recomputed on the worker's ping, a few seconds
    apart: it can still hold the lag of the drive once the counters are
    still); returns the last scrapes."""
    last, still = None, 0
    for _ in range(120):
        s = scrape_all(urls)
        key = [total(parse_metrics(s[n]), m) for n in s for m in
               ("sr_events_total", "sr_inputs_total", "sr_agent_results_total")]
        lagging = any(total(parse_metrics(s[n]), "sr_consumer_lag") != 0
                      for n in s if n.startswith("status"))
        still = still + 1 if key == last and not lagging else 0
        if still >= 6:
            return s
        last = key
        time.sleep(0.5)
    fail("the fleet did not settle in 60 s")
    return s


THROUGHPUT = (
    ("results/s", 'sr_inputs_total{job="sr-status",topic="results",'
     'outcome="applied"}'),
    ("events/s", 'sr_events_total{job="sr-status"}'),
)


def idle_scraped(prom, since):
    """Wait until Prometheus holds, of every worker's series of THROUGHPUT,
    a sample scraped after @since (the fleet idle): the throughput check's
    window then starts with the counters flat, however late the scrapes of
    a loaded machine come (a Prometheus just started takes seconds to
    scrape first; up to 60 s). Returns the earliest of those samples'
    times: the window starts 1 to 2 s before it."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        stamps = [float(r["value"][1]) for _, sel in THROUGHPUT
                  for r in prom.query("timestamp(%s)" % sel)]
        if len(stamps) >= 2 * len(THROUGHPUT) and min(stamps) > since:
            return min(stamps)
        time.sleep(0.25)
    fail("Prometheus holds no scrape of the idle workers after %.3f" % since)
    return since


def check_throughput(prom, own, own0, t_idle):
    """rate() over a window holding the whole drive against the counters'
    own increase D over it. The window starts before the idle samples
    idle_scraped() waited for and ends after the fleet settled, so its
    samples of every series are flat at both ends: their increases sum to
    D exactly (checked). rate() extrapolates a series' sampled span (first
    to last sample in the window) towards the window's ends, never beyond
    them: sum(d_i) / W <= rate <= sum(d_i / sampled_i), the bounds
    computed from the samples Prometheus answers for the same instant."""
    at = time.time()
    window = int(at - t_idle) + 2
    for what, sel in THROUGHPUT:
        name = sel.split("{")[0]
        lab = dict(re.findall(r'(\w+)="([^"]*)"', sel))
        lab.pop("job")
        delta = own(name, **lab) - own0(name, **lab)
        got = prom.scalar("sum(rate(%s[%ds]))" % (sel, window), at)
        seen, most, spans = 0.0, 0.0, []
        for r in prom.query("%s[%ds]" % (sel, window), at):
            v = [(float(t), float(x)) for t, x in r["values"]]
            if any(b[1] < a[1] for a, b in zip(v, v[1:])):
                fail("%s: a counter reset inside the window: %s"
                     % (what, r["metric"]))
            d, span = v[-1][1] - v[0][1], v[-1][0] - v[0][0]
            seen += d
            most += d / span if d else 0.0
            spans.append("%s: %d samples, %.1f s" % (
                r["metric"].get("instance"), len(v), span))
        least = seen / window
        print("%-18s PromQL sum(rate(%s[%ds])) = %.3f; /metrics: %d in the "
              "drive, the window's samples: %d (%s): %.3f..%.3f"
              % (what, sel, window, got or -1, delta, seen, "; ".join(spans),
                 least, most))
        if not delta or seen != delta:
            fail("%s: the window's samples hold an increase of %s, /metrics "
                 "%s" % (what, seen, delta))
        if got is None or not least * (1 - 1e-9) <= got <= most * (1 + 1e-9):
            fail("%s: PromQL %s outside %.3f..%.3f" % (what, got, least,
                                                       most))


def drive_and_compare(src, dev, prom, urls):
    before = scrape_all(urls)
    t_idle = idle_scraped(prom, time.time())
    body = open(os.path.join(src, "deploy", "examples", "canary.json"),
                "rb").read()
    lat = []
    for _ in range(RUNS):
        t = time.monotonic()
        s, answer = http_send(dev.http + "/v0/runs/", "POST", body,
                              "dev-token")
        lat.append(time.monotonic() - t)
        if s != 200:
            fail("POST /v0/runs/ answered %d: %s" % (s, answer[:200]))
    now = settle(urls)
    time.sleep(2.5)  # two more scrapes and rule evaluations of the idle fleet
    m = {n: parse_metrics(t) for n, t in now.items()}
    m0 = {n: parse_metrics(t) for n, t in before.items()}
    workers = ("status-0", "status-1")

    def own(name, procs=workers, **lab):
        return sum(total(m[p], name, **lab) for p in procs)

    def own0(name, procs=workers, **lab):
        return sum(total(m0[p], name, **lab) for p in procs)

    expect_results = RUNS * DEVICES_STAGE1 * RESULTS_PER_DEVICE
    checks = [
        ("results applied", 'sum(sr_inputs_total{topic="results",'
         'outcome="applied"})',
         own("sr_inputs_total", topic="results", outcome="applied")),
        ("events", "sum(sr_events_total)", own("sr_events_total")),
        ("results consumed", 'sum(sr_inputs_total{topic="results"})',
         own("sr_inputs_total", topic="results")),
        ("agent results", "sum(sr_agent_results_total)",
         own("sr_agent_results_total", ("agent",))),
        ("partitions owned", "sr:partitions_owned:sum", 12.0),
    ]
    for what, q, want in checks:
        got = prom.scalar(q)
        print("%-18s PromQL %-55s = %s, /metrics: %s" % (what, q, got, want))
        if got is None or abs(got - want) > 1e-9:
            fail("%s: PromQL %s, the processes' /metrics %s" % (what, got,
                                                               want))
    # Lag, per worker: what Prometheus last scraped and what /metrics says
    # (idle: 0; -1 is "unknown" and flickers, so compared where both know).
    lags = {r["metric"]["instance"]: float(r["value"][1])
            for r in prom.query('sr_consumer_lag{job="sr-status"}')}
    known = 0
    for w in workers:
        mine_lag = total(m[w], "sr_consumer_lag")
        theirs = lags.get(urls[w].split("//")[1])
        print("consumer lag %s: PromQL %s, /metrics %s" % (w, theirs,
                                                          mine_lag))
        if theirs is None:
            fail("no sr_consumer_lag of %s in Prometheus" % w)
        elif theirs >= 0 and mine_lag >= 0:
            known += 1
            if theirs != mine_lag:
                fail("consumer lag %s: PromQL %s, /metrics %s"
                     % (w, theirs, mine_lag))
    rec = prom.scalar("sr:consumer_lag:sum")
    print("sr:consumer_lag:sum = %s" % rec)
    if not known or rec is None or rec < 0:
        fail("no known lag to compare (sr:consumer_lag:sum %s)" % rec)
    applied = own("sr_inputs_total", topic="results", outcome="applied") - \
        own0("sr_inputs_total", topic="results", outcome="applied")
    consumed = own("sr_inputs_total", topic="results") - \
        own0("sr_inputs_total", topic="results")
    print("results this test caused: %d consumed, %d applied (expected %d "
          "runs x %d devices x %d consumed)" % (consumed, applied, RUNS,
                                                DEVICES_STAGE1,
                                                RESULTS_PER_DEVICE))
    if consumed != expect_results:
        fail("results consumed %d, expected %d" % (consumed, expect_results))
    check_throughput(prom, own, own0, t_idle)
    # The gateway's p99: PromQL over the cumulative buckets, the same
    # quantile of the gateway's own buckets, and this test's own p99.
    buckets = [(float(dict(l)["le"]), v) for (n, l), v in m["gateway"].items()
               if n == "sr_http_request_duration_seconds_bucket"]
    want, (lo, hi) = quantile(0.99, buckets)
    q = ('histogram_quantile(0.99, sum by (le) (sr_http_request_duration_'
         'seconds_bucket{job="sr-gateway"}))')
    got = prom.scalar(q)
    lat.sort()
    mine = lat[int(0.99 * (len(lat) - 1) + 0.999)]
    print("gateway p99        PromQL = %s, from its /metrics = %.4f (bucket "
          "%g..%g s); the test's own p99 of %d POSTs = %.4f s (median "
          "%.4f s)" % (got, want, lo, hi, len(lat), mine, lat[len(lat) // 2]))
    # Each scrape of /metrics is a request the histogram counts: the two
    # views differ by a few requests, so by a few % of the bucket's width.
    if got is None or not lo <= got <= hi or \
            abs(got - want) > 0.05 * (hi - lo):
        fail("gateway p99: PromQL %s, /metrics %s (bucket %g..%g)"
             % (got, want, lo, hi))
    if not lo - 0.005 <= mine <= hi + 0.05:
        fail("the test's own p99 %.4f s is outside the bucket %g..%g s"
             % (mine, lo, hi))
    # The LMDB map rule: every worker and the gateway export the gauges.
    if not any(n == "sr_lmdb_used_bytes" for p in m for (n, _) in m[p]):
        fail("sr_lmdb_used_bytes / sr_lmdb_map_size_bytes are not exported: "
             "sr:lmdb_map_used:ratio and SrLmdbMapNearFull see nothing")
    else:
        for p in m:
            for (n, l), used in m[p].items():
                if n != "sr_lmdb_used_bytes":
                    continue
                size = m[p][("sr_lmdb_map_size_bytes", l)]
                got = prom.scalar('sr:lmdb_map_used:ratio{db="%s",instance='
                                  '"%s"}' % (dict(l)["db"],
                                             urls[p].split("//")[1]))
                print("lmdb %s %s: PromQL %s, /metrics %s" %
                      (p, dict(l)["db"], got, used / size))
                if got is None or abs(got - used / size) > 0.01:
                    fail("lmdb ratio %s: PromQL %s, /metrics %s"
                         % (p, got, used / size))
    for r in prom.query("up"):
        if r["value"][1] != "1":
            fail("target down: %s" % r["metric"])
    # promtool check metrics on every process's scrape.
    for name, text in scrape_all(urls).items():
        r = subprocess.run(["promtool", "check", "metrics"], input=text,
                           capture_output=True, text=True)
        out = (r.stdout + r.stderr).strip()
        print("promtool check metrics < %s /metrics: exit %d %s"
              % (name, r.returncode, out))
        if r.returncode or out:
            fail("promtool check metrics: %s: %s" % (name, out))


if __name__ == "__main__":
    sys.exit(main())
