#!/usr/bin/env python3
"""The worker's restore on the real broker (issue 14, "restore"): a fresh
sr-status rebuilding one changelog partition of about a million records.

  tests/bench/bench_restore.sh BUILD [--records 1000000] [--repeats 5]
                                     [--rate 400] [--out DIR] [--perf]
                                     [--baseline OTHER_SR_STATUS]

It starts its own Apache Kafka broker (scripts/kafka.sh start
BUILD/bench-restore-state, every sr. topic with ONE partition) and always
stops it. Then:

  1. fill: one sr-status (outbox mode) under sr-chaos-loadgen (runs of
     1-3 stages x 1-8 targets, devices answering at once, no poison) until
     the changelog's end reaches --records; the loadgen drains its runs and
     the worker stops (SIGTERM). The changelog holds what a worker really
     writes: entities, batch markers, tombstones of retired dedupe keys;
  2. restore, --repeats times: a fresh sr-status (same group, an EMPTY data
     dir) is assigned the partition and rebuilds it from the changelog. Its
     own log line "restored partition=0 read=N ... seconds=S" times it (the
     restore alone: from the reader's creation to the snapshot's commit);
     the wall time from the process's start to /readyz 200 is printed too.

Output: per repeat, then the median (min-max) of records/s, on stdout and
in DIR/restore.json (--out, default BUILD/bench-restore).
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

from confluent_kafka import Consumer, TopicPartition

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "deploy"))
from devfleet import clean_env, free_port, ready, stop  # noqa: E402
from bench_stage_e2e import status_mb  # noqa: E402
KAFKA_SH = os.path.join(SRC, "scripts", "kafka.sh")
T0 = time.monotonic()
RESTORED = re.compile(r'^ts=(\S+) .*msg="restored" partition=(\d+) read=(\d+) '
                      r'applied=(\d+) discarded=(\d+) seconds=([0-9.]+)',
                      re.M)
RESTORING = re.compile(r'^ts=(\S+) .*msg="restoring partition from changelog"',
                       re.M)


def ts_s(ts):
    """ts=2026-12-05T21:42:11.540Z -> seconds (of the day is enough)"""
    h, m, sec = ts.split("T")[1].rstrip("Z").split(":")
    return int(h) * 3600 + int(m) * 60 + float(sec)


def log(msg):
    print(f"bench_restore: [{time.monotonic() - T0:6.1f}s] {msg}",
          flush=True)


def restored_so_far(port):
    """sr_restore_records_total from the worker's /metrics, or None"""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                    timeout=2) as r:
            for ln in r.read().decode().splitlines():
                if ln.startswith("sr_restore_records_total"):
                    return float(ln.split()[-1])
    except OSError:
        return None
    return None


class Worker:
    def __init__(self, build, work, name, boot, binary=None, extra=()):
        self.dir = os.path.join(work, name)
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "worker.log")
        self.conf = os.path.join(self.dir, "sr.conf")
        self.port = free_port()
        self.binary = binary or os.path.join(build, "sr-status")
        os.makedirs(self.dir, exist_ok=True)
        with open(self.conf, "w") as f:
            f.write(f"""worker.name = {name}
kafka.bootstrap.servers = {boot}
data.dir = {self.data}
http.port = {self.port}
log.level = info
kafka.session.timeout.ms = 6000
kafka.fetch.wait.max.ms = 10
""")
            for kv in extra:
                k, _, v = kv.partition("=")
                f.write(f"{k.strip()} = {v.strip()}\n")
        self.proc = None

    def start(self, perf=None):
        shutil.rmtree(self.data, ignore_errors=True)
        self.t_start = time.monotonic()
        pre = ["perf", "record", "-F", "499", "-g", "-o", perf] if perf \
            else []
        self.proc = subprocess.Popen(
            pre + [self.binary, "-c", self.conf],
            stdout=open(self.log, "a"), stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=clean_env())

    def stop(self):
        stop(self.proc, 60)

    def alive(self):
        if self.proc.poll() is not None:
            raise SystemExit(f"bench_restore: {self.dir}: sr-status exited "
                             f"({self.proc.returncode}):\n" +
                             open(self.log, errors="replace").read()[-3000:])


def changelog_ends(boot, parts):
    c = Consumer({"bootstrap.servers": boot, "group.id": "bench-restore-wm"})
    try:
        return [c.get_watermark_offsets(TopicPartition("sr.changelog", p),
                                        timeout=10)[1] for p in range(parts)]
    finally:
        c.close()


def fill(a, boot, work):
    w = Worker(a.build, work, "fill", boot)
    w.start()
    lg_log = open(os.path.join(work, "loadgen.log"), "w")
    lg = subprocess.Popen(
        [os.path.join(a.build, "tests", "sr-chaos-loadgen"), "run", "-b", boot,
         "--partitions", str(a.partitions), "--seed", "14", "--rate",
         str(a.rate),
         "--max-open", "1000", "--targets", "8", "--poison-every", "0",
         "--manifest", os.path.join(work, "manifest.jsonl"),
         "--duration", "3600", "--drain-timeout", "300"],
        stdout=lg_log, stderr=subprocess.STDOUT, env=clean_env())
    try:
        return fill_until(a, boot, work, w, lg)
    finally:  # a failed fill leaves nothing running
        for p in (lg, w.proc):
            if p.poll() is None:
                p.kill()
                p.wait()


def fill_until(a, boot, work, w, lg):
    t = time.monotonic()
    end = 0
    while end < a.records:
        w.alive()
        if lg.poll() is not None:
            raise SystemExit(f"bench_restore: the loadgen exited "
                             f"({lg.returncode}): {work}/loadgen.log")
        time.sleep(2)
        end = sum(changelog_ends(boot, a.partitions))
        if time.monotonic() - t > 1800:
            raise SystemExit(f"bench_restore: the changelog reached only "
                             f"{end} records in 30 min")
    log(f"fill: changelog end {end} after {time.monotonic() - t:.0f} s; "
        "stopping the load, draining")
    lg.send_signal(signal.SIGTERM)
    if lg.wait(400):
        raise SystemExit(f"bench_restore: the loadgen's drain failed "
                         f"({lg.returncode}): {work}/loadgen.log")
    w.stop()
    ends = changelog_ends(boot, a.partitions)
    log(f"fill: done, changelog ends {ends}, {sum(ends)} records")
    return ends


def raw_read(boot, ends):
    """A plain consumer (librdkafka through confluent-kafka, batches of
    10,000, nothing decoded) reading the same partitions from 0 to @ends,
    all at once. Not a floor: Python's message objects (each record's
    header copied) cost more than the worker's restore of 4 partitions."""
    c = Consumer({"bootstrap.servers": boot, "group.id": "bench-restore-raw",
                  "enable.auto.commit": False, "fetch.wait.max.ms": 10,
                  "enable.partition.eof": False})
    try:
        c.assign([TopicPartition("sr.changelog", p, 0)
                  for p in range(len(ends))])
        t, n, left = time.monotonic(), 0, set(range(len(ends)))
        while left and time.monotonic() - t < 300:
            for m in c.consume(10000, 1.0):
                if not m.error():
                    n += 1
                    if m.offset() >= ends[m.partition()] - 1:
                        left.discard(m.partition())
        return n, time.monotonic() - t
    finally:
        c.close()


def restore_once(a, boot, work, i, binary=None):
    w = Worker(a.build, work, f"r{i}" + ("b" if binary else ""), boot,
               binary, a.set or ())
    w.start(os.path.join(work, "perf.data") if a.perf and i == 0 else None)
    series = []
    try:
        while True:
            w.alive()
            if a.series:
                series.append((round(time.monotonic() - w.t_start, 2),
                               restored_so_far(w.port)))
            text = open(w.log, errors="replace").read()
            done = RESTORED.findall(text)
            if len(done) >= a.partitions and ready(w.port):
                break
            if time.monotonic() - w.t_start > 900:
                raise SystemExit(f"bench_restore: no restore in 900 s: "
                                 f"{w.log}")
            time.sleep(0.05)
        wall = time.monotonic() - w.t_start
        # peak RSS (VmHWM: the restore's fetch buffer and the LMDB pages it
        # wrote, mapped) and what it still holds privately once ready
        # (RssAnon: whether the buffer went back)
        mem = {"peak_rss_mb": round(status_mb(w.proc.pid)),
               "anon_ready_mb": round(status_mb(w.proc.pid, "RssAnon"))}
    finally:
        w.stop()
    read = sum(int(d[2]) for d in done)
    applied = sum(int(d[3]) for d in done)
    discarded = sum(int(d[4]) for d in done)
    # from the first restore's start to the last one's end (one partition:
    # the worker's own "seconds")
    first = min(ts_s(t) for t in RESTORING.findall(text))
    secs = max(ts_s(d[0]) for d in done) - first
    if a.partitions == 1:
        secs = float(done[0][5])
    shutil.rmtree(w.data, ignore_errors=True)
    return {"read": read, "applied": applied, "discarded": discarded,
            "seconds": secs, "records_per_s": read / secs,
            "start_to_ready_s": wall, "series": series, **mem}


def print_series(series):
    last_t, last_n, out = None, None, []
    for t, n in series:
        if n is None:
            continue
        if last_t is not None and t - last_t >= 0.5:
            out.append(f"{t:.1f}s:{(n - last_n) / (t - last_t) / 1000:.0f}k")
            last_t, last_n = t, n
        elif last_t is None:
            last_t, last_n = t, n
    log("records/s over the restore: " + " ".join(out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--records", type=int, default=1000000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--rate", type=float, default=400,
                    help="runs/s offered while filling (max 1000 open)")
    ap.add_argument("--partitions", type=int, default=1,
                    help="of every sr. topic; a restore is then of all of "
                    "them, timed from the first partition's start to the "
                    "last one's end")
    ap.add_argument("--out")
    ap.add_argument("--baseline", help="another sr-status binary, its "
                    "restores interleaved with BUILD's (a ratio in the "
                    "same run)")
    ap.add_argument("--set", action="append", metavar="KEY=VALUE",
                    help="a configuration line of the restoring workers")
    ap.add_argument("--series", action="store_true",
                    help="sample sr_restore_records_total every ~50 ms "
                    "(restore.json) and print the rate per second")
    ap.add_argument("--perf", action="store_true",
                    help="the first restore under perf record -g "
                    "(DIR/work/perf.data)")
    a = ap.parse_args()
    a.build = os.path.abspath(a.build)
    out = os.path.abspath(a.out or os.path.join(a.build, "bench-restore"))
    state = os.path.join(a.build, "bench-restore-state")
    work = os.path.join(out, "work")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    r = subprocess.run([KAFKA_SH, "start", state, "0", str(a.partitions)],
                       stdout=subprocess.PIPE, text=True)
    if r.returncode:
        raise SystemExit(f"bench_restore: the broker did not start "
                         f"({state}/broker.log)")
    boot = re.search(r"bootstrap\.servers=(\S+)", r.stdout).group(1)
    log(f"broker at {boot}, sr.* topics of {a.partitions} partition(s)")
    try:
        ends = fill(a, boot, work)
        end = sum(ends)
        reps, base, raw = [], [], []
        for i in range(a.repeats):
            n, secs = raw_read(boot, ends)
            raw.append(n / secs)
            log(f"raw read {i + 1}/{a.repeats}: {n} records in {secs:.3f} s "
                f"= {n / secs:,.0f} records/s")
            pair = ((None, reps), (a.baseline, base))
            # ABBA: the second restore of a pair ran ~15 % faster with
            # the same binary (2026-12-05), so the order alternates
            for binary, into in (pair if i % 2 == 0 else pair[::-1]):
                if binary is None and into is base:
                    continue
                rep = restore_once(a, boot, work, i, binary)
                into.append(rep)
                if a.series:
                    print_series(rep["series"])
                log(f"restore {i + 1}/{a.repeats}"
                    f"{' (baseline)' if binary else ''}: {rep['read']} "
                    f"records (applied {rep['applied']}, discarded "
                    f"{rep['discarded']}) in {rep['seconds']:.3f} s = "
                    f"{rep['records_per_s']:,.0f} records/s; start to "
                    f"ready {rep['start_to_ready_s']:.2f} s; peak RSS "
                    f"{rep['peak_rss_mb']} MB, anonymous once ready "
                    f"{rep['anon_ready_mb']} MB")
    finally:
        subprocess.run([KAFKA_SH, "stop", state])
    rates = [x["records_per_s"] for x in reps]
    ready_s = [x["start_to_ready_s"] for x in reps]
    doc = {"changelog_records": end, "changelog_ends": ends,
           "partitions": a.partitions, "repeats": reps,
           "records_per_s_median": statistics.median(rates),
           "records_per_s_min": min(rates),
           "records_per_s_max": max(rates),
           "start_to_ready_s_median": statistics.median(ready_s),
           "raw_read_records_per_s": raw,
           "raw_read_records_per_s_median": statistics.median(raw),
           "date": time.strftime("%Y-%m-%d"),
           "command": " ".join(sys.argv)}
    if base:
        b = [x["records_per_s"] for x in base]
        doc["baseline"] = {"binary": a.baseline, "repeats": base,
                           "records_per_s_median": statistics.median(b)}
        doc["ratio_to_baseline"] = (doc["records_per_s_median"] /
                                    statistics.median(b))
        log(f"baseline {a.baseline}: median {statistics.median(b):,.0f} "
            f"records/s ({min(b):,.0f}-{max(b):,.0f}); this build / "
            f"baseline = {doc['ratio_to_baseline']:.2f}")
    with open(os.path.join(out, "restore.json"), "w") as f:
        json.dump(doc, f, indent=1)
    log(f"restore of {end} changelog records on the real broker: median "
        f"{doc['records_per_s_median']:,.0f} records/s "
        f"({min(rates):,.0f}-{max(rates):,.0f}, {len(reps)} repeats); "
        f"start to ready median {doc['start_to_ready_s_median']:.2f} s; "
        f"a plain consumer reads the partition at "
        f"{doc['raw_read_records_per_s_median']:,.0f} records/s (median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
