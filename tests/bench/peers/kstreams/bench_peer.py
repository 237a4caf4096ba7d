#!/usr/bin/env python3
"""A first throughput figure of the Kafka Streams peer (issue 14): RUNS
create-run commands (STAGES x TARGETS, one operation, auto_promote) are
produced at once to fresh topics of a prefix of its own, the peer (and a
stand-alone sr-agent at 0 ms) work them off; printed: results applied/s
(from the first command produced to the last event written), events,
the peer's CPU-seconds per 1,000 results and its peak RSS (VmHWM), the
agent's CPU apart. Not the harness of issue 14 (no repeats, no pass-through
ceiling): one figure to see the peer is not handicapped.

Usage (the venv of tests/registry/run.sh; a broker from scripts/kafka.sh):
  SR_TEST_KAFKA=127.0.0.1:PORT build/venv-registry/bin/python \\
    tests/bench/peers/kstreams/bench_peer.py BUILD [--runs 500] [--stages 2]
    [--targets 10] [--guarantee at_least_once] [--threads 2] [--partitions 2]
"""
import argparse
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import fastavro
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK


def hwm_mb(pid):
    m = re.search(r"VmHWM:\s+(\d+) kB", open("/proc/%d/status" % pid).read())
    return int(m.group(1)) / 1024


def end_offsets(c, topic, parts):
    return sum(c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
               for p in range(parts))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--runs", type=int, default=500)
    ap.add_argument("--stages", type=int, default=2)
    ap.add_argument("--targets", type=int, default=10)
    ap.add_argument("--guarantee", default="at_least_once")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--partitions", type=int, default=2)
    ap.add_argument("--heap", default="-Xmx256m")
    o = ap.parse_args()
    build = os.path.abspath(o.build)
    boot = os.environ["SR_TEST_KAFKA"]
    subprocess.run([os.path.join(HERE, "build.sh"), build], check=True)
    schema = fastavro.parse_schema(json.load(open(
        os.path.join(SRC, "schemas", "command.avsc"))))
    pre = "ksbench%d." % os.getpid()
    work = tempfile.mkdtemp(prefix="sr-kstreams-bench.")
    admin = AdminClient({"bootstrap.servers": boot})
    for f in admin.create_topics([NewTopic(pre + t, o.partitions, 1) for t in
                                  ("commands", "results", "events",
                                   "dispatch")]).values():
        f.result(30)
    cp = ":".join([os.path.join(build, "kstreams-peer", "classes"),
                   os.path.join(build, "kstreams-peer", "libs", "*")])
    pcmd = ["java", o.heap, "-XX:+UseSerialGC",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", cp,
            "sr.peer.Peer", "--bootstrap", boot, "--schemas",
            os.path.join(SRC, "schemas"), "--prefix", pre, "--guarantee",
            o.guarantee, "--threads", str(o.threads), "--app-id",
            pre + "peer", "--state-dir", os.path.join(work, "kstreams")]
    print("peer: " + " ".join(pcmd))
    peer = subprocess.Popen(pcmd, stdout=subprocess.PIPE, text=True)
    agent = subprocess.Popen(
        [os.path.join(build, "sr-agent"), "-D", "topic.prefix=" + pre,
         "-D", "kafka.bootstrap.servers=" + boot, "-D", "agent.latency.ms=0",
         "-D", "agent.group.id=" + pre + "agent"],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "agent.err"), "w"))
    try:
        while peer.stdout.readline().strip() != "ready":
            if peer.poll() is not None:
                sys.exit("peer exited")
        c = Consumer({"bootstrap.servers": boot, "group.id": pre + "w"})
        # every run: pipeline 3+2 (+2 at the end), per stage 1 created +
        # 3 + 2 at the end, per target 3 + dispatched/running + 2
        # murmur2 as the Java client and every sr producer: a run's command
        # and its results meet in one partition
        p = Producer({"bootstrap.servers": boot, "linger.ms": 5,
                      "partitioner": "murmur2_random"})
        cpu0, acpu0 = cpu_s(peer.pid), cpu_s(agent.pid)
        t0 = time.monotonic()
        for _ in range(o.runs):
            run = str(uuid.uuid4())
            rec = {"command_id": str(uuid.uuid4()), "pipeline_run_id": run,
                   "enterprise_id": "bench", "issued_at": int(time.time() * 1000),
                   "payload": ("io.sr.v1.CreateRun", {"spec": {
                       "pipeline_id": str(uuid.uuid4()), "pipeline_name": "bench",
                       "auto_promote": True, "timeout_seconds": 0,
                       "stages": [{"stage_id": None, "name": "s%d" % s,
                                   "description": "", "timeout_seconds": 0,
                                   "operations": [{"operation_type": "REBOOT",
                                                   "args_json": "{}"}],
                                   "targets": [{"target_id": None,
                                                "device_id": str(uuid.uuid4()),
                                                "device_name": "d%d" % t,
                                                "device_alias": ""}
                                               for t in range(o.targets)]}
                                  for s in range(o.stages)]},
                       "run_number": 1})}
            b = io.BytesIO()
            b.write(b"\0\0\0\0\7")  # Command version 2 (command.avsc)
            fastavro.schemaless_writer(b, schema, rec)
            p.produce(pre + "commands", key=run.encode(), value=b.getvalue())
            p.poll(0)
        p.flush(60)
        last, changed = -1, time.monotonic()
        while time.monotonic() - changed < 5:
            n = end_offsets(c, pre + "events", o.partitions)
            if n != last:
                last, changed = n, time.monotonic()
            time.sleep(0.2)
        wall = changed - t0
        cpu, acpu = cpu_s(peer.pid) - cpu0, cpu_s(agent.pid) - acpu0
        rss = hwm_mb(peer.pid)
        results = end_offsets(c, pre + "results", o.partitions)
        c.close()
    finally:
        agent.send_signal(signal.SIGTERM)
        peer.send_signal(signal.SIGTERM)
        tail = peer.communicate(timeout=60)[0]
        agent.wait(30)
        shutil.rmtree(work, ignore_errors=True)
    print(tail.strip())
    print("guarantee=%s threads=%d runs=%d (%dx%d): %d results, %d events in "
          "%.1f s: %.0f results/s, %.0f events/s; peer %.1f CPU-s = %.2f "
          "CPU-s per 1,000 results, peak RSS %.0f MB; sr-agent %.1f CPU-s" % (
              o.guarantee, o.threads, o.runs, o.stages, o.targets, results,
              last, wall, results / wall, last / wall, cpu,
              1000 * cpu / max(results, 1), rss, acpu))


if __name__ == "__main__":
    main()
