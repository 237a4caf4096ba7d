#!/usr/bin/env python3
"""bench_bulk.py - POST .../targets-bulk/ of N targets in one call, timed
(docs/definitions.md section 8; issue 15: "bulk-adding 10,000 targets in
one call, time and memory stated").

On a fresh sr-dev (one worker, agent off; the embedded broker, or
--bootstrap / $SR_TEST_KAFKA for a real one), for each N of --targets and
each of --repeat rounds: a new stored pipeline with a DEVICES list, then
one POST .../targets-bulk/ of N target objects (device id, a name and an
alias of about 20 bytes each, as a platform's export would carry), then
(unless --no-run) a stage with that list and one operation is run with
POST .../runs/ and the fill is timed until the stage run holds N target
runs. Printed per N, medians of the rounds (min-max):

  bytes     the body's size
  bulk s    the call's wall time, from the first byte sent to the answer
            (every chunk applied by the owner and visible)
  gw CPU s  sr-gateway's CPU over the call (utime+stime, every thread)
  wk CPU s  sr-status's CPU over the call
  fill s    POST .../runs/ until the stage run counts N target runs
  gw MB     sr-gateway's peak RSS so far (VmHWM: a fresh fleet per N, so
            it is the peak of that N's rounds and of nothing larger; it
            counts the projection's LMDB pages the process mapped)
  gw anon   sr-gateway's anonymous RSS after the round (RssAnon: its heap,
            without the mapped files)
  wk MB, wk anon  sr-status's, the same way

The answer's counts are checked (created N, no errors): exit 1 otherwise.

  bench_bulk.py --build DIR [--targets 10000,100000] [--repeat 3]
      [--bootstrap HOST:PORT] [--no-run] [--keep] [-D KEY=VALUE ...]

-D adds to every child's configuration. The bench sets
stage.max.targets to the largest N (the default, 1,000, would refuse the
run) and nothing else: gateway.bulk.max.bytes (16 MiB) and
gateway.bulk.max.items (100,000) are the defaults. Standard library only.
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_gateway import Api  # noqa: E402
import bench_stage_e2e as e2e  # noqa: E402

NS = uuid.UUID("6f1d2c3b-0000-4000-8000-62756c6b0001")  # "bulk"


def body_of(n, round_):
    items = []
    for i in range(n):
        dev = uuid.uuid5(NS, "%d/%d" % (round_, i))
        items.append({"device_id": str(dev),
                      "device_name": "kiosk-%08d-%06d" % (round_, i),
                      "device_alias": "store %06d lane %02d" % (i, i % 40)})
    return json.dumps(items).encode()


def post_raw(api, path, data):
    """(status, doc, seconds) of a POST whose body is already bytes."""
    if api.conn is None:
        api._connect()
    t0 = time.perf_counter()
    api.conn.request("POST", path, body=data, headers=api.headers)
    r = api.conn.getresponse()
    raw = r.read()
    dt = time.perf_counter() - t0
    return r.status, (json.loads(raw) if raw else None), dt


def ok(api, method, path, body=None):
    """The answer's content (bench_gateway's Api.ok without the time)."""
    return api.ok(method, path, body)[0]


def one_round(api, fleet, n, rnd, run):
    name = "bulk-%d-%d-%d" % (n, rnd, time.time_ns() % 10**9)
    pipe = ok(api, "POST", "/v0/pipelines/", {"name": name})["id"]
    tl = ok(api, "POST", "/v0/pipelines/%s/targetlists/" % pipe,
            {"name": "fleet", "target_list_type": "DEVICES"})["id"]
    data = body_of(n, rnd)
    gw, wk = fleet.pids["sr-gateway"], fleet.pids["sr-status"]
    g0, w0 = e2e.cpu_s(gw), e2e.cpu_s(wk)
    st, doc, dt = post_raw(
        api, "/v0/pipelines/%s/targetlists/%s/targets-bulk/" % (pipe, tl),
        data)
    g1, w1 = e2e.cpu_s(gw), e2e.cpu_s(wk)
    if st != 200:
        raise SystemExit("bench_bulk: targets-bulk of %d -> %d %s" %
                         (n, st, json.dumps(doc)[:300]))
    c = doc["content"]
    if c["created_count"] != n or c["errors"]:
        raise SystemExit("bench_bulk: targets-bulk of %d answered %s" %
                         (n, json.dumps(c)[:300]))
    row = {"bytes": len(data), "bulk s": dt, "gw CPU s": g1 - g0,
           "wk CPU s": w1 - w0}
    if run:
        stage = ok(api, "POST", "/v0/pipelines/%s/stages/" % pipe,
                   {"name": "all", "order": 1})["id"]
        ok(api, "POST", "/v0/stages/%s/targetlists/" % stage,
           {"target_list_id": tl})
        ol = ok(api, "POST", "/v0/stages/%s/operationlists/" % stage,
                {"name": "ops"})["id"]
        ok(api, "POST", "/v0/operationlists/%s/operations/" % ol,
           {"operation_type": "REBOOT"})
        t0 = time.perf_counter()
        rid = ok(api, "POST", "/v0/pipelines/%s/runs/" % pipe, {})["id"]
        sr = ok(api, "GET", "/v0/runs/%s/stageruns/" % rid
                )["results"][0]["id"]
        while True:
            got = ok(api, "GET", "/v0/stageruns/%s/targetruns/?limit=1" %
                     sr)["count"]
            if got >= n:
                break
            if time.perf_counter() - t0 > 600:
                raise SystemExit("bench_bulk: the fill of %d stopped at %d"
                                 % (n, got))
            time.sleep(0.02)
        row["fill s"] = time.perf_counter() - t0
    row["gw MB"] = e2e.status_mb(gw)
    row["gw anon"] = e2e.status_mb(gw, "RssAnon")
    row["wk MB"] = e2e.status_mb(wk)
    row["wk anon"] = e2e.status_mb(wk, "RssAnon")
    return row


def main():
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True)
    ap.add_argument("--targets", default="10000,100000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--bootstrap", default=os.environ.get("SR_TEST_KAFKA"))
    ap.add_argument("--no-run", action="store_true")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("-D", dest="define", action="append", default=[])
    a = ap.parse_args()
    sizes = [int(x) for x in a.targets.split(",")]
    a.define = ["stage.max.targets=%d" % max(max(sizes), 1000)] + a.define
    work = tempfile.mkdtemp(prefix="bench-bulk.")
    cols = ["bytes", "bulk s", "gw CPU s", "wk CPU s"] + \
        ([] if a.no_run else ["fill s"]) + ["gw MB", "gw anon", "wk MB",
                                            "wk anon"]
    print("bench_bulk: %s broker, %s, load %s" % (
        "real" if a.bootstrap else "embedded",
        time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        " ".join(open("/proc/loadavg").read().split()[:3])))
    print("%8s  " % "targets" + "  ".join("%-22s" % c for c in cols))
    try:
        for n in sizes:
            fleet = e2e.Fleet(a, os.path.join(work, "n%d" % n),
                              agent=False)
            try:
                api = e2e.Api(fleet.url, e2e.TOKEN)
                rows = [one_round(api, fleet, n, r, not a.no_run)
                        for r in range(a.repeat)]
            finally:
                fleet.stop()
            cells = []
            for c in cols:
                v = [r[c] for r in rows]
                fmt = "%d" if c == "bytes" else "%.2f"
                cells.append(("%s (%s-%s)" % (fmt, fmt, fmt)) %
                             (statistics.median(v), min(v), max(v)))
            print("%8d  " % n + "  ".join("%-22s" % c for c in cells),
                  flush=True)
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("bench_bulk: kept %s" % work)


if __name__ == "__main__":
    main()
