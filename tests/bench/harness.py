#!/usr/bin/env python3
"""The side-by-side benchmark of issue 14, in one invocation (README.md
"The harness"). Run it through tests/bench/harness.sh BUILD, which makes
the bench venv (BUILD/venv: confluent-kafka, matplotlib).

  harness.py --build BUILD [--quick] [--repeats 3] [--runs 200]
             [--stages 3] [--targets 10] [--partitions 12]
             [--only ROW,ROW...] [--out DIR] [--check]

It starts a real Apache Kafka broker (scripts/kafka.sh start
BUILD/bench-kafka-state) and always stops it. Every measurement runs on
topics of a fresh prefix, deleted afterwards. The load is the same for
every system: `sr-peer-check load` (fixed ids from a fixed seed) produces
--runs run-creation commands of STAGES x TARGETS x 1 operation with
auto-promote on, and sr-agent answers every dispatch at zero latency with
4 results (QUEUED, INITIATED, INPROGRESS, then SUCCESS).

Rows, in this order, every one in each repeat (repeats interleave the
systems, so a noisy minute hits all of them alike):
  ceiling            bench_passthrough: a stateless consumer/producer reads
                     the drain's results backlog and writes, per result, the
                     outputs sr-status wrote per result in the drain (topic
                     by topic, their average value size)
  sr-status drain xN sr-status with N = 1, 2 workers, stopped (SIGSTOP)
                     while the results of the "sr-status 1w" loop of this
                     repeat (its warm-up's included) are copied into its
                     results topic, after the same creates are applied; clock from SIGCONT to the last
                     event written (the same inputs as the ceiling)
  sr-status xN       the closed loop: sr-dev --workers N with sr-agent;
                     after a warm-up load (a quarter of the runs, another
                     seed), clock from the first create produced to the
                     last event written
  pg sync=on|off     sr-peer-pg over a fresh PostgreSQL 15 (pg.sh) with
                     synchronous_commit on / off, same closed loop
  kstreams alos|eos  the Kafka Streams peer with at_least_once /
                     exactly_once_v2, same closed loop

"The last event written" is the newest record timestamp on <prefix>events
(set to LogAppendTime: the broker stamps each record when it appends it) once sr-peer-check final has seen every run terminal there (so neither the
checker's start nor its polling is timed; a transaction's commit marker, up
to exactly_once_v2's commit.interval.ms of 100 ms later, is not counted).

Figures per measurement: results applied/s (results on <prefix>results /
wall time), events/s, CPU-seconds per 1,000 results and peak RSS of the
system's processes (broker, sr-agent, gateway and load tools apart):
sr-status's workers; sr-peer-pg and every PostgreSQL process (exited ones
through the postmaster's cutime); the peer's JVM; the pass-through
process. Peak RSS is the sum of the processes' VmHWM (PostgreSQL's shared
buffers are counted once per backend that touched them). Peak anon is
the highest sum of their RssAnon, sampled every 100 ms: private memory
only, without the files a process maps (the worker's LMDB map, RocksDB's
files in the page cache, the binaries); the pass-through has none
(it reports its own VmHWM).

Output: the table on stdout, DIR/harness.json and DIR/harness.png
(--out, default BUILD/bench-harness). --check exits 1 unless every row has
a non-zero median of results/s, CPU per 1,000 results and peak RSS.
"""
import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
import io

import fastavro

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import (AdminClient, AlterConfigOpType,
                                   ConfigEntry, ConfigResource)

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "peers", "pg"))
from peerlib import child_pids, proc_cpu, start_dev, stop  # noqa: E402

KAFKA_SH = os.path.join(SRC, "scripts", "kafka.sh")
PG_SH = os.path.join(HERE, "peers", "pg", "pg.sh")
ROWS = ["ceiling", "sr-status drain 1w", "sr-status drain 2w",
        "sr-status 1w", "sr-status 2w", "pg sync=on", "pg sync=off",
        "kstreams alos", "kstreams eos"]
OUT_TOPICS = ("events", "changelog", "dispatch", "commands", "replies",
              "dlq")


def log(msg):
    print(time.strftime("%H:%M:%S ") + msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------ processes

def status_mb(pid, key):
    """Field @key (VmHWM, RssAnon, ...) of /proc/@pid/status in MB (0 once
    the process is gone)."""
    try:
        m = re.search(rf"{key}:\s+(\d+) kB", open(f"/proc/{pid}/status").read())
    except OSError:
        return 0.0
    return int(m.group(1)) / 1024 if m else 0.0


class System:
    """The processes of a system under test: cpu(), rss() and anon() over
    them. The kernel keeps no peak of anonymous memory, so a thread samples
    its sum over the processes every 100 ms while the object lives."""

    def __init__(self, pids, with_children=()):
        self.pids, self.with_children = list(pids), list(with_children)
        self.anon_peak = 0.0
        self.sampling = True
        threading.Thread(target=self.sample_anon, daemon=True).start()

    def sample_anon(self):
        while self.sampling:
            self.anon_peak = max(self.anon_peak,
                                 sum(status_mb(p, "RssAnon") for p in self.all_pids()))
            time.sleep(0.1)

    def anon(self):
        """Peak sum of RssAnon since construction, sampled; stops the
        sampler."""
        self.anon_peak = max(self.anon_peak,
                             sum(status_mb(p, "RssAnon") for p in self.all_pids()))
        self.sampling = False
        return self.anon_peak

    def all_pids(self):
        out = list(self.pids)
        for p in self.with_children:
            out += [p] + child_pids(p)
        return out

    def cpu(self):
        t = sum(proc_cpu(p) for p in self.pids)
        for p in self.with_children:  # exited children through cutime
            t += proc_cpu(p, children=True)
            t += sum(proc_cpu(c) for c in child_pids(p))
        return t

    def rss(self):
        return sum(status_mb(p, "VmHWM") for p in self.all_pids())


# ------------------------------------------------------------ Kafka

class Kafka:
    def __init__(self, state, partitions):
        self.state, self.partitions = state, partitions
        for attempt in (1, 2):  # a start on a loaded box may time out
            out = subprocess.run([KAFKA_SH, "start", state, "0",
                                  str(partitions)], stdout=subprocess.PIPE,
                                 text=True)
            if out.returncode == 0:
                break
            subprocess.run([KAFKA_SH, "stop", state])
            if attempt == 2:
                raise SystemExit(f"harness: the broker did not start (logs: "
                                 f"{state}/broker.log, server.log)")
            log("broker start failed, once more")
        self.boot = re.search(r"bootstrap\.servers=(\S+)", out.stdout).group(1)
        self.admin = AdminClient({"bootstrap.servers": self.boot})
        self.consumer = Consumer({"bootstrap.servers": self.boot,
                                  "group.id": "bench-harness-watermarks"})

    def stop(self):
        self.consumer.close()
        del self.admin  # its client would log the broker going away
        subprocess.run([KAFKA_SH, "stop", self.state])

    def topics(self, prefix):
        subprocess.run([KAFKA_SH, "topics", self.state, prefix,
                        str(self.partitions)], check=True,
                       stdout=subprocess.DEVNULL)

    def end(self, topic):
        """Sum of the high watermarks of @topic (0 if it does not exist)."""
        md = self.consumer.list_topics(topic, timeout=10).topics.get(topic)
        if md is None or md.error:
            return 0
        return sum(self.consumer.get_watermark_offsets(
            TopicPartition(topic, p), timeout=10)[1] for p in md.partitions)

    def avg_value_bytes(self, topic, n=500):
        """Average value size of the first @n records of @topic."""
        c = Consumer({"bootstrap.servers": self.boot, "group.id": "bh-size",
                      "enable.auto.commit": False,
                      "isolation.level": "read_uncommitted"})
        md = self.consumer.list_topics(topic, timeout=10).topics[topic]
        c.assign([TopicPartition(topic, p, 0) for p in md.partitions])
        sizes, deadline = [], time.monotonic() + 10
        while len(sizes) < n and time.monotonic() < deadline:
            for m in c.consume(n, 0.5):
                if not m.error() and m.value():
                    sizes.append(len(m.value()))
        c.close()
        return int(statistics.mean(sizes)) if sizes else 100

    def log_append_time(self, topic):
        """@topic's records stamped by the broker when it appends them
        (sr-status stamps an event with its occurred_at, not when it is
        written)."""
        r = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
            ConfigEntry("message.timestamp.type", "LogAppendTime",
                        incremental_operation=AlterConfigOpType.SET)])
        for f in self.admin.incremental_alter_configs([r]).values():
            f.result(30)

    def last_write(self, topic):
        """The newest record timestamp (s since the epoch) of @topic, stamped
        with log_append_time(): when the broker appended the last of its
        records (a transaction's commit marker comes up to
        commit.interval.ms later, not counted)."""
        c = Consumer({"bootstrap.servers": self.boot, "group.id": "bh-last",
                      "enable.auto.commit": False,
                      "isolation.level": "read_uncommitted"})
        md = self.consumer.list_topics(topic, timeout=10).topics[topic]
        tps, left = [], 0
        for p in md.partitions:
            lo, hi = self.consumer.get_watermark_offsets(
                TopicPartition(topic, p), timeout=10)
            if hi > lo:
                tps.append(TopicPartition(topic, p, max(lo, hi - 8)))
                left += hi - max(lo, hi - 8)
        c.assign(tps)
        newest, deadline = 0, time.monotonic() + 20
        while left > 0 and time.monotonic() < deadline:
            for m in c.consume(left, 0.5):
                if m.error():
                    continue
                left -= 1
                newest = max(newest, m.timestamp()[1])
        c.close()
        return newest / 1000.0

    def highs(self, topic):
        """{partition: high watermark} of @topic."""
        md = self.consumer.list_topics(topic, timeout=10).topics[topic]
        return {p: self.consumer.get_watermark_offsets(
            TopicPartition(topic, p), timeout=10)[1] for p in md.partitions}

    def read(self, topic, start):
        """Every record of @topic from the offsets @start ({partition:
        offset}) to the high watermarks of now."""
        end = self.highs(topic)
        left = sum(end[p] - start.get(p, 0) for p in end)
        c = Consumer({"bootstrap.servers": self.boot, "group.id": "bh-read",
                      "enable.auto.commit": False,
                      "isolation.level": "read_uncommitted"})
        c.assign([TopicPartition(topic, p, start.get(p, 0)) for p in end
                  if end[p] > start.get(p, 0)])
        out, deadline = [], time.monotonic() + 60
        while left > 0 and time.monotonic() < deadline:
            for m in c.consume(min(left, 5000), 0.5):
                if not m.error():
                    out.append(m)
                    left -= 1
        c.close()
        return out

    def delete(self, prefix):
        names = [t for t in self.consumer.list_topics(timeout=10).topics
                 if t.startswith(prefix)]
        if names:
            for f in self.admin.delete_topics(names).values():
                try:
                    f.result(30)
                except Exception as e:  # noqa: BLE001 (best effort)
                    log(f"delete {prefix}: {e}")


# ------------------------------------------------------------ latency

def schema(name):
    return fastavro.parse_schema(json.load(open(
        os.path.join(SRC, "schemas", name + ".avsc"))))


RESULT, EVENT = schema("result"), schema("event")
TERMINAL_RESULTS = ("SUCCESS", "FAILED", "FAILURE")


def decode(sch, value):
    """A Confluent-framed Avro record (5-byte header) or None."""
    if not value or len(value) < 5 or value[0] != 0:
        return None
    return fastavro.schemaless_reader(io.BytesIO(value[5:]), sch)


class Tail(threading.Thread):
    """A read_committed consumer from the current end of @topic, stamping
    each record with the time it was received (decoded later)."""

    def __init__(self, kafka, topic):
        super().__init__(daemon=True)
        self.c = Consumer({"bootstrap.servers": kafka.boot,
                           "group.id": "bh-tail", "enable.auto.commit": False,
                           "fetch.wait.max.ms": 5,
                           "isolation.level": "read_committed"})
        self.k, self.topic = kafka, topic
        self.c.assign([TopicPartition(topic, p, o) for p, o in
                       kafka.highs(topic).items()])
        self.got, self.done = [], threading.Event()
        self.start()

    def run(self):
        while not self.done.is_set():
            # poll() returns at the first record; consume(n, t) would wait
            # its whole timeout t to fill n (librdkafka's batch consume),
            # which added up to 50 ms to every figure before 2026-12-05.
            m = self.c.poll(0.05)
            now = time.time()
            ms = [m] + self.c.consume(1000, 0) if m is not None else []
            self.got += [(now, m.value(), m.timestamp()[1] / 1000.0)
                         for m in ms if not m.error()]
            if ms:
                self.last = now

    def stop(self):
        """Once nothing came for 1 s (every record was written before: the
        checker saw every run end; at most 10 s more; a record missed shows
        as an unmatched target run): the (time, value) pairs. (The consumer
        is only touched from its thread: position() from another one
        blocked.)"""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and \
                time.time() - getattr(self, "last", 0) < 1.0:
            time.sleep(0.1)
        self.done.set()
        self.join()
        self.c.close()
        return self.got


# ------------------------------------------------------------ one measurement

class Bench:
    def __init__(self, a, kafka, tmp):
        self.a, self.k, self.tmp = a, kafka, tmp
        self.bin = lambda name: os.path.join(a.build, "tests", name)
        self.warm = max(a.runs // 4, 5)  # the warm-up's runs (seed 2)

    def load(self, prefix, runs=None, seed=1, interval_us=0):
        a = self.a
        subprocess.run([self.bin("sr-peer-check"), "load", "--bootstrap",
                        self.k.boot, "--prefix", prefix, "--runs",
                        str(runs or a.runs), "--stages", str(a.stages),
                        "--targets", str(a.targets), "--ops", "1",
                        "--seed", str(seed), "--interval-us",
                        str(interval_us)], check=True)

    def final(self, prefix, runs=None, seed=1):
        r = subprocess.run([self.bin("sr-peer-check"), "final", "--bootstrap",
                            self.k.boot, "--prefix", prefix, "--runs",
                            str(runs or self.a.runs), "--seed", str(seed),
                            "--timeout-ms", "900000"],
                           capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError(f"final on {prefix}: {r.stderr.strip()[-500:]}")
        return r.stdout

    def measure_loop(self, prefix, system, settle=3.0):
        """The closed loop on @prefix (its system already running): returns
        the figures. A warm-up load of a quarter of the runs (another seed)
        goes through first: the JVM's JIT, PostgreSQL's plan caches and
        every producer's connections are warm when the clock starts."""
        self.k.log_append_time(prefix + "events")
        time.sleep(settle)
        self.load(prefix, self.warm, seed=2)
        self.final(prefix, self.warm, seed=2)
        ev0, res0 = self.k.end(prefix + "events"), self.k.end(prefix + "results")
        c0, t0 = system.cpu(), time.time()
        self.load(prefix)
        self.final(prefix)
        c1, rss, anon = system.cpu(), system.rss(), system.anon()
        t1 = self.k.last_write(prefix + "events")
        results = self.k.end(prefix + "results") - res0
        events = self.k.end(prefix + "events") - ev0
        return figures(results, events, t1 - t0, c1 - c0, rss, anon)

    def measure_latency(self, rate, prefix, system, settle=3.0):
        """An open loop at @rate results/s on @prefix (its system running):
        after the warm-up, runs of seed 3 are produced one every
        (results per run / @rate) s for --latency-s seconds; for every
        target run, the time from its terminal result appended to
        <prefix>results (LogAppendTime) to its terminal event (success or
        failure) received by a read_committed consumer tailing
        <prefix>events."""
        k, a = self.k, self.a
        for t in ("events", "results", "commands"):
            k.log_append_time(prefix + t)
        time.sleep(settle)
        self.load(prefix, self.warm, seed=2)
        self.final(prefix, self.warm, seed=2)
        per_run = a.stages * a.targets * 4
        runs = max(int(a.latency_s * rate / per_run), 3)
        res0 = k.highs(prefix + "results")
        cmd0 = k.highs(prefix + "commands")
        tail = Tail(k, prefix + "events")
        c0, t0 = system.cpu(), time.time()
        self.load(prefix, runs, seed=3, interval_us=int(1e6 * per_run / rate))
        self.final(prefix, runs, seed=3)
        c1, rss, anon = system.cpu(), system.rss(), system.anon()
        t1 = k.last_write(prefix + "events")
        got = tail.stop()
        ts, at = {}, {}
        for m in k.read(prefix + "results", res0):
            r = decode(RESULT, m.value())
            if r and r["command_status"].upper() in TERMINAL_RESULTS:
                ts[r["target_run_id"]] = m.timestamp()[1] / 1000.0
                at[(m.partition(), m.offset())] = r["target_run_id"]
        fwd = forwarded(k, prefix, cmd0, at)
        lat, hops = [], ([], [], [])
        for recv, value, appended in got:
            e = decode(EVENT, value)
            if e and e["entity_type"] == "target_run" and \
                    e["to_status"] in ("success", "failure") and \
                    e["entity_id"] in ts:
                t_res = ts.pop(e["entity_id"])
                lat.append(recv - t_res)
                t_fwd = fwd.get(e["entity_id"])
                if t_fwd is not None:
                    hops[0].append(t_fwd - t_res)
                    hops[1].append(appended - t_fwd)
                    hops[2].append(recv - appended)
        want = runs * a.stages * a.targets
        if len(lat) < want:
            raise RuntimeError(f"latency: {len(lat)} of {want} target runs "
                               f"matched result -> event")
        lat.sort()
        results = runs * per_run
        f = figures(results, 0, t1 - t0, c1 - c0, rss, anon)
        f.update({"offered_results_per_s": rate, "matched": len(lat)})
        for q, name in ((0.5, "p50_ms"), (0.99, "p99_ms"),
                        (0.999, "p999_ms")):
            f[name] = quantile_ms(lat, q)
        f["max_ms"] = 1000 * lat[-1]
        # sr-status only: where the time goes, from the broker's append
        # times (ms resolution) of the result, of its copy on <prefix>
        # commands (docs/guarantee.md, "One log per partition") and of the
        # event, and the event's receipt by the consumer.
        for name, xs in zip(("result_to_forwarded", "forwarded_to_event",
                             "event_to_consumed"), hops):
            if xs:
                xs.sort()
                f[name + "_p50_ms"] = quantile_ms(xs, 0.5)
                f[name + "_p99_ms"] = quantile_ms(xs, 0.99)
        return f

    def round_trip(self, prefix, n=300):
        """The broker's own latency, the floor under every row:
        bench_rtt (C, the librdkafka the workers link) sends @n records
        one at a time, 5 ms apart, from an idempotent producer with
        acks=all and linger.ms=1 (sr-status's producer settings) to a
        consumer of the same partition: p50/p99 of the acknowledgement and
        of produce -> consumed. Each hop of a system costs at least one of
        these."""
        topic = prefix + "results"
        self.k.topics(prefix)
        r = subprocess.run([self.bin("bench_rtt"), "--bootstrap", self.k.boot,
                            "--topic", topic, "--records", str(n)],
                           capture_output=True, text=True, timeout=600)
        if r.returncode:
            raise RuntimeError(f"bench_rtt: {r.stderr.strip()[-500:]}")
        f = dict(kv.split("=", 1) for kv in r.stdout.split())
        return {"ack_p50_ms": float(f["ack_p50_ms"]),
                "ack_p99_ms": float(f["ack_p99_ms"]),
                "p50_ms": float(f["p50_ms"]), "p99_ms": float(f["p99_ms"]),
                "max_ms": float(f["max_ms"]), "records": n}

    def dev(self, prefix, workers, agent=True, extra=()):
        d = tempfile.mkdtemp(dir=self.tmp, prefix="dev-")
        return start_dev(self.a.build, os.path.join(d, "data"), workers,
                         os.path.join(d, "sr-dev.log"), self.a.partitions,
                         self.k.boot, prefix, agent=agent, extra=extra)[0]

    # -- the rows

    def sr_status(self, prefix, workers, measure=None):
        dev = self.dev(prefix, workers)
        try:
            st = child_pids(dev.pid, "sr-status")
            if len(st) != workers:
                raise RuntimeError(f"expected {workers} sr-status, got {st}")
            return (measure or self.measure_loop)(prefix, System(st))
        finally:
            stop(dev)

    def drain(self, prefix, workers, recorded):
        """sr-status xN on @prefix: creates applied, then the results
        backlog of @recorded (a loop's prefix) copied in while the workers
        are stopped; clock from SIGCONT to every run terminal."""
        dev = self.dev(prefix, workers, agent=False,
                       extra=["-D", "kafka.session.timeout.ms=45000"])
        try:
            st = child_pids(dev.pid, "sr-status")
            if len(st) != workers:
                raise RuntimeError(f"expected {workers} sr-status, got {st}")
            self.k.log_append_time(prefix + "events")
            time.sleep(3)
            # the loop's creates, its warm-up's first: the copied results
            # are theirs
            self.load(prefix, self.warm, seed=2)
            self.load(prefix)
            # stage 1's dispatches
            want = (self.a.runs + self.warm) * self.a.targets
            deadline = time.monotonic() + 300
            while self.k.end(prefix + "dispatch") < want:
                if time.monotonic() > deadline:
                    raise RuntimeError("drain: the creates were not applied")
                time.sleep(0.2)
            time.sleep(1)
            for p in st:
                os.kill(p, signal.SIGSTOP)
            try:
                r = subprocess.run(
                    [self.bin("bench_passthrough"), "--bootstrap", self.k.boot,
                     "--from", recorded + "results", "--copy-to",
                     prefix + "results"], capture_output=True, text=True)
                if r.returncode:
                    raise RuntimeError(f"copy: {r.stderr.strip()}")
                base = {t: self.k.end(prefix + t) for t in OUT_TOPICS}
                system = System(st)
                c0, t0 = system.cpu(), time.time()
            finally:
                for p in st:
                    os.kill(p, signal.SIGCONT)
            self.final(prefix)
            self.final(prefix, self.warm, seed=2)
            c1, rss, anon = system.cpu(), system.rss(), system.anon()
            t1 = self.k.last_write(prefix + "events")
            # every record of the results topic is the copied backlog
            results = self.k.end(prefix + "results")
            out = {t: self.k.end(prefix + t) - base[t] for t in OUT_TOPICS}
            f = figures(results, out["events"], t1 - t0, c1 - c0, rss, anon)
            f["outputs_per_result"] = {t: out[t] / results for t in OUT_TOPICS
                                       if out[t]}
            f["value_bytes"] = {t: self.k.avg_value_bytes(prefix + t)
                                for t in f["outputs_per_result"]}
            return f
        finally:
            stop(dev)

    def ceiling(self, prefix, drained, drain_fig):
        """The pass-through over @drained's results (the drain's inputs),
        writing the drain's outputs per result to @prefix's topics."""
        self.k.topics(prefix)
        cmd = [self.bin("bench_passthrough"), "--bootstrap", self.k.boot,
               "--from", drained + "results"]
        for t, ratio in drain_fig["outputs_per_result"].items():
            cmd += ["--out", f"{prefix}{t}:{ratio:.6f}:"
                    f"{drain_fig['value_bytes'][t]}"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError(f"pass-through: {r.stderr.strip()}")
        v = dict(kv.split("=") for kv in r.stdout.split())
        results = int(v["inputs"])
        events = self.k.end(prefix + "events")
        f = figures(results, events, float(v["seconds"]), float(v["cpu_s"]),
                    float(v["peak_rss_mb"]))
        f["outputs"] = int(v["outputs"])
        return f

    def pg(self, prefix, sync, measure=None):
        dev = self.dev(prefix, 0)
        pgdir = tempfile.mkdtemp(dir=self.tmp, prefix="pg-")
        os.chmod(pgdir, 0o711)
        peer = None
        try:
            conninfo = subprocess.run([PG_SH, "start", pgdir, sync],
                                      stdout=subprocess.PIPE, text=True,
                                      check=True).stdout.strip()
            peer = subprocess.Popen(
                [self.bin("sr-peer-pg"), "--bootstrap", self.k.boot, "--pg",
                 conninfo, "--prefix", prefix, "--group", prefix + "peer",
                 "--batch", "1000", "--sync", sync, "--fetch-wait-ms", "10"],
                stderr=open(os.path.join(pgdir, "peer.log"), "w"))
            postmaster = int(open(os.path.join(pgdir, "data",
                                               "postmaster.pid")).readline())
            return (measure or self.measure_loop)(
                prefix, System([peer.pid], [postmaster]),
                                     settle=5)
        finally:
            stop(peer)
            subprocess.run([PG_SH, "stop", pgdir])
            stop(dev)

    def kstreams(self, prefix, guarantee, measure=None):
        dev = self.dev(prefix, 0)
        b = self.a.build
        cp = ":".join([os.path.join(b, "kstreams-peer", "classes"),
                       os.path.join(b, "kstreams-peer", "libs", "*")])
        state = tempfile.mkdtemp(dir=self.tmp, prefix="ks-")
        peer = subprocess.Popen(
            ["java", "-Xmx256m", "-XX:+UseSerialGC",
             "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", cp,
             "sr.peer.Peer", "--bootstrap", self.k.boot, "--schemas",
             os.path.join(SRC, "schemas"), "--prefix", prefix,
             "--guarantee", guarantee, "--threads", "2", "--app-id",
             prefix + "peer", "--state-dir", state],
            stdout=subprocess.PIPE, stderr=open(state + ".log", "w"),
            text=True)
        try:
            while peer.stdout.readline().strip() != "ready":
                if peer.poll() is not None:
                    raise RuntimeError(f"kstreams peer exited: {state}.log")
            return (measure or self.measure_loop)(prefix, System([peer.pid]))
        finally:
            stop(peer)
            stop(dev)


def forwarded(k, prefix, start, at):
    """{target run id: append time (s)} of the first copy on <prefix>
    commands (from the offsets @start) of each result in @at
    ({(partition, offset): target run id}),
    found by its header sr_forwarded_from=results/P/OFFSET; empty for a
    system that applies results where it reads them (the peers)."""
    out = {}
    if not at:
        return out
    for m in k.read(prefix + "commands", start):
        src = dict(m.headers() or []).get("sr_forwarded_from")
        if not src:
            continue
        try:
            _, part, off = src.decode().split("/")
            tr = at.get((int(part), int(off)))
        except ValueError:
            continue
        if tr is not None and tr not in out:
            out[tr] = m.timestamp()[1] / 1000.0
    return out


def quantile_ms(xs, q):
    """The @q quantile of the sorted seconds @xs, in ms."""
    return 1000 * xs[min(len(xs) - 1, int(q * len(xs)))]


def figures(results, events, wall, cpu, rss, anon=None):
    return {"results": results, "events": events, "wall_s": wall,
            "cpu_s": cpu, "results_per_s": results / wall if wall else 0,
            "events_per_s": events / wall if wall else 0,
            "cpu_s_per_1k": cpu / results * 1000 if results else 0,
            "peak_rss_mb": rss, "peak_anon_mb": anon}


# ------------------------------------------------------------ the table

METRICS = [("results_per_s", "results/s", "{:,.0f}"),
           ("events_per_s", "events/s", "{:,.0f}"),
           ("cpu_s_per_1k", "CPU-s/1k results", "{:.3f}"),
           ("peak_rss_mb", "peak RSS MB", "{:,.0f}"),
           ("peak_anon_mb", "peak anon MB", "{:,.0f}")]


def summary(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals),
            "max": max(vals), "n": len(vals)}


def cell(s, fmt):
    if not s:
        return "-"
    if s["n"] == 1:
        return fmt.format(s["median"])
    return (f"{fmt.format(s['median'])} ({fmt.format(s['min'])}-"
            f"{fmt.format(s['max'])})")


def ratios(rep):
    """Pair by pair within each repeat: {name: [per-repeat ratio]}."""
    out = {}

    def add(name, v):
        out.setdefault(name, []).append(v)
    for r in rep:
        def g(row, m):
            f = r.get(row)
            return f[m] if f and f.get(m) else None
        for w in ("1w", "2w"):
            s, c = g(f"sr-status drain {w}", "results_per_s"), \
                g("ceiling", "results_per_s")
            if s and c:
                add(f"sr-status drain {w} / ceiling (results/s)", s / c)
        s = g("sr-status 1w", "cpu_s_per_1k")
        for peer in ("pg sync=on", "pg sync=off", "kstreams alos",
                     "kstreams eos"):
            p = g(peer, "cpu_s_per_1k")
            if s and p:
                add(f"sr-status 1w / {peer} (results per CPU-s)", p / s)
        s, p = g("sr-status 1w", "peak_rss_mb"), g("kstreams eos",
                                                    "peak_rss_mb")
        if s and p:
            add("kstreams eos / sr-status 1w (peak RSS)", p / s)
        s, p = g("sr-status 1w", "peak_anon_mb"), g("kstreams eos",
                                                     "peak_anon_mb")
        if s and p:
            add("kstreams eos / sr-status 1w (peak anonymous RSS)", p / s)
        s, p = g("sr-status 1w", "results_per_s"), g("pg sync=on",
                                                      "results_per_s")
        if s and p:
            add("sr-status 1w / pg sync=on (results/s)", s / p)
        s, p = g("sr-status 1w", "results_per_s"), g("kstreams eos",
                                                      "results_per_s")
        if s and p:
            add("sr-status 1w / kstreams eos (results/s)", s / p)
    return out


def table(rows, rat):
    lines = ["| system | " + " | ".join(h for _, h, _ in METRICS) + " |",
             "|---|" + "---|" * len(METRICS)]
    for name in ROWS:
        if name not in rows:
            continue
        lines.append(f"| {name} | " + " | ".join(
            cell(rows[name][m], fmt) for m, _, fmt in METRICS) + " |")
    lines += ["", "| ratio (pair by pair within each repeat) | median (min-max) |",
              "|---|---|"]
    for name, s in rat.items():
        lines.append(f"| {name} | {cell(s, '{:.2f}')} |")
    return "\n".join(lines)


def latency_table(lat):
    lines = ["| latency at half load (one run each) | offered results/s | "
             "achieved results/s | p50 ms | p99 ms | p999 ms | max ms | "
             "target runs |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name in ROWS:
        f = lat.get(name)
        if f:
            lines.append(
                f"| {name} | {f['offered_results_per_s']:,.0f} | "
                f"{f['results_per_s']:,.0f} | {f['p50_ms']:.1f} | "
                f"{f['p99_ms']:.1f} | {f['p999_ms']:.1f} | {f['max_ms']:.1f} | "
                f"{f['matched']:,} |")
    f = lat.get("broker round trip")
    if f:
        lines.append(f"| broker round trip (one record at a time, "
                     f"acks=all; the floor of each hop) | - | - | "
                     f"{f['p50_ms']:.1f} | {f['p99_ms']:.1f} | - | "
                     f"{f['max_ms']:.1f} | {f['records']:,} |")
    hop = [(n, f) for n, f in ((n, lat.get(n)) for n in ROWS)
           if f and "result_to_forwarded_p50_ms" in f]
    if hop:
        lines += ["", "| where the time goes, p50 / p99 ms | result → its "
                  "copy on commands | copy → event | event → consumed |",
                  "|---|---:|---:|---:|"]
        for name, f in hop:
            lines.append(f"| {name} | " + " | ".join(
                f"{f[h + '_p50_ms']:.0f} / {f[h + '_p99_ms']:.0f}" for h in
                ("result_to_forwarded", "forwarded_to_event",
                 "event_to_consumed")) + " |")
    return "\n".join(lines)


def plot(doc, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = [n for n in ROWS if n in doc["rows"]]
    lat = [n for n in ROWS if n in doc.get("latency", {})]
    fig, axes = plt.subplots(1, 4 if lat else 3, figsize=(20 if lat else 15,
                                                          5))
    for ax, (m, title, _) in zip(axes, [METRICS[0], METRICS[2], METRICS[3]]):
        med = [doc["rows"][n][m]["median"] for n in names]
        lo = [med[i] - doc["rows"][n][m]["min"] for i, n in enumerate(names)]
        hi = [doc["rows"][n][m]["max"] - med[i] for i, n in enumerate(names)]
        ax.barh(names, med, xerr=[lo, hi], color=[
            "grey" if n == "ceiling" else "tab:blue" if n.startswith("sr-")
            else "tab:orange" if n.startswith("pg") else "tab:green"
            for n in names])
        ax.set_title(title + " (median, min-max)")
        ax.invert_yaxis()
    if lat:
        ax = axes[3]
        p50 = [doc["latency"][n]["p50_ms"] for n in lat]
        p99 = [doc["latency"][n]["p99_ms"] for n in lat]
        ax.barh(lat, p99, color="tab:red", label="p99")
        ax.barh(lat, p50, color="tab:pink", label="p50")
        ax.set_xscale("log")
        ax.set_title("result -> event ms at half load (log)")
        ax.legend()
        ax.invert_yaxis()
    fig.suptitle(f"issue 14 harness, {doc['date']}, {doc['machine']['cpus']} "
                 f"cores, {doc['load']}")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def curve_table(curve):
    lines = ["| latency against offered load | fraction | offered "
             "results/s | achieved results/s | p50 ms | p99 ms | max ms |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name in ROWS:
        for f in curve.get(name, []):
            lines.append(
                f"| {name} | {f['fraction']:g} | "
                f"{f['offered_results_per_s']:,.0f} | "
                f"{f['results_per_s']:,.0f} | {f['p50_ms']:.1f} | "
                f"{f['p99_ms']:.1f} | {f['max_ms']:.1f} |")
    return "\n".join(lines)


def plot_curve(doc, path):
    """Achieved results/s and p99 latency against offered results/s, one
    line per system (--curve)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(14, 5))
    for name in ROWS:
        pts = sorted(doc["curve"].get(name, []),
                     key=lambda f: f["offered_results_per_s"])
        if not pts:
            continue
        style = "-" if name.startswith("sr-") else "--"
        x = [f["offered_results_per_s"] for f in pts]
        ax1.plot(x, [f["results_per_s"] for f in pts], style, marker="o",
                 label=name)
        ax2.plot(x, [f["p99_ms"] for f in pts], style, marker="o",
                 label=name)
    ax1.set_xlabel("offered results/s")
    ax1.set_ylabel("achieved results/s")
    ax1.set_title("throughput against offered load")
    ax2.set_xlabel("offered results/s")
    ax2.set_ylabel("result -> event p99 ms (log)")
    ax2.set_yscale("log")
    ax2.set_title("p99 latency against offered load")
    for ax in (ax1, ax2):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"issue 14 harness, {doc['date']}, {doc['machine']['cpus']} "
                 f"cores, {doc['load']}\noffered load: fractions of each "
                 f"system's closed-loop median results/s")
    fig.tight_layout()
    fig.savefig(path, dpi=90)


# ------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--quick", action="store_true",
                    help="1 repeat, 40 runs of 2 x 5 targets")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--stages", type=int, default=3)
    ap.add_argument("--targets", type=int, default=10)
    ap.add_argument("--partitions", type=int, default=12)
    ap.add_argument("--latency-s", type=float, default=15,
                    help="length of each latency measurement at half load "
                    "(0: none)")
    ap.add_argument("--curve", default="0.5",
                    help="comma-separated fractions of each row's median "
                    "results/s at which latency is measured (default 0.5: "
                    "half load, the table's row; e.g. 0.25,0.5,0.75,1 for "
                    "a curve against offered load, plotted in "
                    "harness-curve.png)")
    ap.add_argument("--only", help="comma-separated rows (see ROWS)")
    ap.add_argument("--out")
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    a.build = os.path.abspath(a.build)
    try:
        a.curve = sorted({float(x) for x in a.curve.split(",")})
    except ValueError:
        sys.exit(f"harness: --curve {a.curve!r}: want fractions like "
                 f"0.25,0.5,1")
    if not a.curve or not all(0 < x <= 2 for x in a.curve):
        sys.exit("harness: --curve: each fraction in (0, 2]")
    if a.quick:
        a.repeats, a.runs, a.stages, a.targets = 1, 40, 2, 5
        a.latency_s = min(a.latency_s, 4)
    only = set(a.only.split(",")) if a.only else set(ROWS)
    unknown = only - set(ROWS)
    if unknown:
        sys.exit(f"harness: unknown rows {sorted(unknown)}; rows: {ROWS}")
    out_dir = os.path.abspath(a.out or os.path.join(a.build, "bench-harness"))
    os.makedirs(out_dir, exist_ok=True)
    if only & {"kstreams alos", "kstreams eos"}:
        subprocess.run([os.path.join(HERE, "peers", "kstreams", "build.sh"),
                        a.build], check=True)
    tmp = tempfile.mkdtemp(prefix="sr-harness-")
    os.chmod(tmp, 0o711)
    state = os.path.join(a.build, "bench-kafka-state")
    subprocess.run([KAFKA_SH, "stop", state])
    log(f"broker: scripts/kafka.sh start {state}")
    kafka = Kafka(state, a.partitions)
    b = Bench(a, kafka, tmp)
    reps, failures, lat, curve = [], [], {}, {}
    t_start = time.time()
    try:
        for i in range(a.repeats):
            tag = uuid.uuid4().hex[:6]
            r, done = {}, []

            def run(row, fn, *args, keep=False):
                prefix = f"h{tag}{len(done)}."
                log(f"repeat {i + 1}/{a.repeats}: {row} on {prefix}")
                try:
                    r[row] = fn(prefix, *args)
                    log(f"  {row}: " + ", ".join(
                        f"{k}={v:.4g}" for k, v in r[row].items()
                        if isinstance(v, (int, float))))
                except Exception as e:  # noqa: BLE001 (a row fails, go on)
                    log(f"  {row} FAILED: {e}\n" + traceback.format_exc())
                    failures.append(f"repeat {i + 1} {row}: {e}")
                    prefix = None
                done.append(prefix)
                if prefix and not keep:
                    kafka.delete(prefix)
                return prefix

            need_rec = only & {"ceiling", "sr-status drain 1w",
                               "sr-status drain 2w", "sr-status 1w"}
            rec = run("sr-status 1w", b.sr_status, 1, keep=True) \
                if need_rec else None
            if rec and only & {"ceiling", "sr-status drain 1w"}:
                d1 = run("sr-status drain 1w", b.drain, 1, rec, keep=True)
                if d1 and "ceiling" in only:
                    run("ceiling", b.ceiling, d1, r["sr-status drain 1w"])
                if d1:
                    kafka.delete(d1)
            if rec and "sr-status drain 2w" in only:
                run("sr-status drain 2w", b.drain, 2, rec)
            if rec:
                kafka.delete(rec)
            if "sr-status 2w" in only:
                run("sr-status 2w", b.sr_status, 2)
            for row, fn, arg in (("pg sync=on", b.pg, "on"),
                                 ("pg sync=off", b.pg, "off"),
                                 ("kstreams alos", b.kstreams, "at_least_once"),
                                 ("kstreams eos", b.kstreams, "exactly_once_v2")):
                if row in only:
                    run(row, fn, arg)
            for row in set(r) - only:
                del r[row]
            reps.append(r)
        if a.latency_s > 0:
            prefix = f"hr{uuid.uuid4().hex[:6]}."
            try:
                lat["broker round trip"] = b.round_trip(prefix)
                log("  broker round trip: " + ", ".join(
                    f"{k}={v:.4g}" for k, v in
                    lat["broker round trip"].items()))
            except Exception as e:  # noqa: BLE001
                log(f"  broker round trip FAILED: {e}\n" +
                    traceback.format_exc())
                failures.append(f"broker round trip: {e}")
            kafka.delete(prefix)
            loop = {"sr-status 1w": (b.sr_status, 1),
                    "sr-status 2w": (b.sr_status, 2),
                    "pg sync=on": (b.pg, "on"), "pg sync=off": (b.pg, "off"),
                    "kstreams alos": (b.kstreams, "at_least_once"),
                    "kstreams eos": (b.kstreams, "exactly_once_v2")}
            # The half-load point is the table's row; with --curve, the
            # other fractions make the curve (harness-curve.png).
            half = min(a.curve, key=lambda x: abs(x - 0.5))
            for row, (fn, arg) in loop.items():
                rates = [r[row]["results_per_s"] for r in reps if row in r]
                if row not in only or not rates:
                    continue
                for frac in a.curve:
                    rate = statistics.median(rates) * frac
                    prefix = f"hl{uuid.uuid4().hex[:6]}."
                    log(f"latency at {frac:g} of the load: {row} at "
                        f"{rate:.0f} results/s on {prefix}")
                    try:
                        f = fn(prefix, arg,
                               measure=lambda p, sy, settle=3.0, rate=rate:
                               b.measure_latency(rate, p, sy, settle))
                        f["fraction"] = frac
                        curve.setdefault(row, []).append(f)
                        if frac == half:
                            lat[row] = f
                        log(f"  {row}: " + ", ".join(
                            f"{k}={v:.4g}" for k, v in f.items()))
                    except Exception as e:  # noqa: BLE001
                        log(f"  latency {row} at {frac:g} FAILED: {e}\n" +
                            traceback.format_exc())
                        failures.append(f"latency {row} at {frac:g}: {e}")
                    kafka.delete(prefix)
    finally:
        kafka.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    rows = {}
    for name in ROWS:
        figs = [r[name] for r in reps if name in r]
        if figs:
            rows[name] = {m: summary([f[m] for f in figs]) for m, _, _ in
                          METRICS}
            rows[name]["repeats"] = figs
    rat = {k: summary(v) for k, v in ratios(reps).items()}
    load = (f"{a.runs} runs x {a.stages} stages x {a.targets} targets x 1 op, "
            f"auto-promote, {a.partitions} partitions, sr-agent at 0 ms")
    doc = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t_start)),
           "command": " ".join(sys.argv), "load": load,
           "repeats": a.repeats, "quick": a.quick,
           "machine": {"cpus": os.cpu_count(), "uname": platform.platform(),
                       "cpu": cpu_model(),
                       "loadavg_end": os.getloadavg()},
           "rows": rows, "ratios": rat, "latency": lat, "curve": curve,
           "failures": failures}
    with open(os.path.join(out_dir, "harness.json"), "w") as f:
        json.dump(doc, f, indent=1)
    print(f"{doc['date']}, {load}, {a.repeats} repeat(s); cells: median "
          f"(min-max)\n")
    print(table(rows, rat))
    if lat:
        print("\n" + latency_table(lat))
    if len(a.curve) > 1 and curve:
        print("\n" + curve_table(curve))
    try:
        plot(doc, os.path.join(out_dir, "harness.png"))
        if len(a.curve) > 1 and curve:
            plot_curve(doc, os.path.join(out_dir, "harness-curve.png"))
    except Exception as e:  # noqa: BLE001
        failures.append(f"plot: {e}")
    print(f"\njson: {out_dir}/harness.json  plot: {out_dir}/harness.png")
    for fl in failures:
        print("FAILED: " + fl)
    if a.check:
        bad = [n for n in ROWS if n in only and (
            n not in rows or not all(rows[n][m] and rows[n][m]["median"] > 0
                                     for m in ("results_per_s", "cpu_s_per_1k",
                                               "peak_rss_mb")))]
        if a.latency_s > 0:
            bad += [f"latency {n}" for n in ROWS[3:] if n in only and
                    not (lat.get(n) and lat[n]["p99_ms"] > 0)]
        if bad or failures:
            print(f"CHECK FAILED: rows missing or with a zero figure: {bad}")
            return 1
        print(f"check: all {len(only)} rows present with non-zero figures")
    return 0


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    sys.exit(main())
