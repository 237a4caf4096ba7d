#!/usr/bin/env python3
"""The Kafka Streams peer (tests/bench/peers/kstreams) gives the same final
statuses as sr-status on the same input, on the real broker (issue 14).

  1. sr-dev --bootstrap (1 worker, sr-agent at 0 ms) on prefix A; four runs
     of 2 stages x 10 targets, auto_promote on, posted to its gateway: one
     all success, one with a target of stage 1 failing (sr-agent's
     "simulate" directive), one with a target of stage 2 failing, one with
     two failing in both stages.
  2. The very records of A's commands topic are copied to prefix B's, where
     the peer (built by build.sh) runs with a stand-alone sr-agent at 0 ms.
  3. From each events topic, the last to_status of every pipeline, stage and
     target run: stages by their creation order, targets by (stage index,
     device_id). Both must be equal, every run terminal, entity for entity
     (the peer's ids are its own). The events topic is the statuses'
     source for both systems (sr-status's GET answers from the same
     events' fold).

Usage (tests/registry/run.sh gives the venv with confluent-kafka and
fastavro; kafka.sh run the broker):
  SR_PEER_GUARANTEE=exactly_once_v2 \
  scripts/kafka.sh run STATE tests/registry/run.sh BUILD test_peer.py
(SR_PEER_GUARANTEE: at_least_once by default; run.sh passes BUILD only.)
Exits 0 when equal, 1 on a difference, 2 on a setup failure.
"""
import io
import json
import os
import re
import shutil
import signal
import struct
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
sys.path.insert(0, os.path.join(SRC, "tests", "kafka"))
from consumer_examples import call  # noqa: E402  (the gateway's REST call)
STAGES, TARGETS = 2, 10
procs = []


def setup_fail(msg):
    print("kstreams_peer: SETUP " + msg)
    sys.exit(2)


def spawn(cmd, work, name, env=None):
    out = open(os.path.join(work, name + ".out"), "w")
    err = open(os.path.join(work, name + ".err"), "w")
    p = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
    procs.append(p)
    return p


def wait_ready(p, work, name, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = open(os.path.join(work, name + ".out")).read()
        if re.search(r"^ready", text, re.M):
            return text
        if p.poll() is not None:
            break
        time.sleep(0.2)
    sys.stderr.write(open(os.path.join(work, name + ".err")).read()[-3000:])
    setup_fail("%s did not become ready" % name)


def spec(fail_by_stage):
    return {"pipeline_id": str(uuid.uuid4()), "pipeline_name": "kspeer",
            "auto_promote": True,
            "stages": [{"name": "s%d" % s,
                        "operations": [{"operation_type": "REBOOT",
                                        "args": {"simulate": {"fail": [
                                            "d%d-%d" % (s, t)
                                            for t in fail_by_stage.get(s, [])
                                        ]}}}],
                        "targets": [{"device_id": str(uuid.uuid4()),
                                     "device_name": "d%d-%d" % (s, t)}
                                    for t in range(TARGETS)]}
                       for s in range(STAGES)]}


def read_all(boot, topic, group):
    admin = AdminClient({"bootstrap.servers": boot})
    parts = admin.list_topics(topic, timeout=10).topics[topic].partitions
    c = Consumer({"bootstrap.servers": boot, "group.id": group,
                  "enable.auto.commit": False,
                  "isolation.level": "read_committed"})
    c.assign([TopicPartition(topic, p, 0) for p in parts])
    out, idle = [], time.monotonic()
    while time.monotonic() - idle < 2:
        m = c.poll(0.3)
        if m is None or m.error():
            continue
        idle = time.monotonic()
        out.append(m)
    c.close()
    return out


def final_statuses(boot, topic, schema):
    """{run: {("pipeline",): st, ("stage", i): st, ("target", i, dev): st}}
    from the last event of each entity (in seq order per run)."""
    runs = {}
    for m in read_all(boot, topic, "kspeer-read-%s" % uuid.uuid4()):
        v = m.value()
        if len(v) < 5 or v[0] != 0 or struct.unpack(">i", v[1:5])[0] != 3:
            print("kstreams_peer: FAIL %s: a record without the event "
                  "header (id 3)" % topic)
            sys.exit(1)
        e = fastavro.schemaless_reader(io.BytesIO(v[5:]), schema)
        for f in ("pipeline_run_id", "entity_id", "stage_run_id", "device_id"):
            if e[f] is not None:  # fastavro reads logicalType uuid as UUID
                e[f] = str(e[f])
        runs.setdefault(e["pipeline_run_id"], []).append(e)
    out = {}
    for run, evs in runs.items():
        evs.sort(key=lambda e: e["seq"])
        seqs = [e["seq"] for e in evs]
        if seqs != list(range(1, len(seqs) + 1)):
            print("kstreams_peer: FAIL %s: run %s seq not 1..n: %s" % (
                topic, run, seqs[:50]))
            sys.exit(1)
        stage_ix, st = {}, {}
        for e in evs:
            t = e["entity_type"]
            if t == "pipeline_run":
                st[("pipeline",)] = e["to_status"]
            elif t == "stage_run":
                i = stage_ix.setdefault(e["entity_id"], len(stage_ix))
                st[("stage", i)] = e["to_status"]
            elif t == "target_run":
                i = stage_ix[e["stage_run_id"]]
                st[("target", i, e["device_id"])] = e["to_status"]
        out[run] = st
    return out


TERMINAL = {"success", "failure", "cancelled", "timeout", "invalid"}


def all_terminal(stats, runs):
    return all(r in stats and stats[r] and
               all(v in TERMINAL for v in stats[r].values())
               for r in runs)


def main():
    build = os.path.abspath(sys.argv[1])
    guarantee = (sys.argv[2] if len(sys.argv) > 2 else
                 os.environ.get("SR_PEER_GUARANTEE", "at_least_once"))
    boot = os.environ.get("SR_TEST_KAFKA")
    if not boot:
        setup_fail("SR_TEST_KAFKA is not set (run it through scripts/kafka.sh run)")
    r = subprocess.run([os.path.join(HERE, "build.sh"), build],
                       capture_output=True, text=True)
    if r.returncode:
        print(r.stdout[-3000:], r.stderr[-3000:])
        setup_fail("build.sh failed")
    schema = fastavro.parse_schema(json.load(open(
        os.path.join(SRC, "schemas", "event.avsc"))))
    pa, pb = "ksa%d." % os.getpid(), "ksb%d." % os.getpid()
    work = tempfile.mkdtemp(prefix="sr-kstreams-peer.")
    env = dict(os.environ)
    env.pop("SR_API_TOKENS", None)
    try:
        # 1. sr-status
        dev = spawn([os.path.join(build, "sr-dev"), "--bootstrap", boot,
                     "--workers", "1", "--partitions", "2", "--agent", "on",
                     "--http-port", "0", "--data-dir",
                     os.path.join(work, "data"), "-D", "topic.prefix=" + pa,
                     "-D", "agent.latency.ms=0"], work, "dev", env)
        kv = dict(re.findall(r"^([a-z.]+)=(\S+)",
                             wait_ready(dev, work, "dev"), re.M))
        base, token = kv["http"], kv["token"]
        fails = [{}, {0: [3]}, {1: [9]}, {0: [0, 5], 1: [2]}]
        runs = [call(base, token, "POST", "/v0/runs/", spec(f))["id"]
                for f in fails]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            a = final_statuses(boot, pa + "events", schema)
            if all_terminal(a, runs):
                break
            time.sleep(1)
        else:
            for r in runs:
                print(r, sorted(set(a.get(r, {}).values())))
            sys.stderr.write(open(os.path.join(work, "dev.err")).read()[-3000:])
            setup_fail("sr-status did not end the runs in 120 s")

        # 2. the peer on a copy of the same commands
        admin = AdminClient({"bootstrap.servers": boot})
        fs = admin.create_topics([NewTopic(pb + t, 2, 1) for t in
                                  ("commands", "results", "events",
                                   "dispatch")])
        for f in fs.values():
            f.result(30)
        cp = ":".join([os.path.join(build, "kstreams-peer", "classes"),
                       os.path.join(build, "kstreams-peer", "libs", "*")])
        peer = spawn(["java", "-Xmx256m", "-XX:+UseSerialGC",
                      "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                      "-cp", cp, "sr.peer.Peer", "--bootstrap", boot,
                      "--schemas", os.path.join(SRC, "schemas"),
                      "--prefix", pb, "--guarantee", guarantee,
                      "--threads", "2", "--app-id", pb + "peer",
                      "--state-dir", os.path.join(work, "kstreams")],
                     work, "peer")
        agent = spawn([os.path.join(build, "sr-agent"),
                       "-D", "topic.prefix=" + pb,
                       "-D", "kafka.bootstrap.servers=" + boot,
                       "-D", "agent.latency.ms=0",
                       "-D", "agent.group.id=" + pb + "agent"],
                      work, "agent", env)
        wait_ready(peer, work, "peer")
        prod = Producer({"bootstrap.servers": boot})
        n = 0
        for m in read_all(boot, pa + "commands", "kspeer-cp-%d" % os.getpid()):
            prod.produce(pb + "commands", key=m.key(), value=m.value(),
                         partition=m.partition())
            n += 1
        prod.flush(30)
        print("kstreams_peer: %d command records copied %scommands -> "
              "%scommands" % (n, pa, pb))
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            b = final_statuses(boot, pb + "events", schema)
            if all_terminal(b, runs) or peer.poll() is not None \
                    or agent.poll() is not None:
                break
            time.sleep(1)

        # 3. compare
        bad = 0
        for i, run in enumerate(runs):
            sa, sb = a.get(run, {}), b.get(run, {})
            for k in sorted(set(sa) | set(sb), key=str):
                if sa.get(k) != sb.get(k):
                    bad += 1
                    if bad <= 20:
                        print("kstreams_peer: FAIL run %d %s %s: sr-status %s,"
                              " peer %s" % (i, run, k, sa.get(k), sb.get(k)))
            print("kstreams_peer: run %d: pipeline sr-status %s / peer %s, "
                  "%d entities" % (i, sa.get(("pipeline",)),
                                   sb.get(("pipeline",)), len(sa)))
        want = ["success", "failure", "failure", "failure"]
        got = [a.get(r, {}).get(("pipeline",)) for r in runs]
        if got != want:
            print("kstreams_peer: FAIL sr-status's pipelines %s, the "
                  "scenario wants %s" % (got, want))
            bad += 1
        if bad:
            for name in ("peer", "agent"):
                sys.stderr.write(open(os.path.join(work, name + ".err"))
                                 .read()[-2000:])
            print("kstreams_peer: FAILED (%d differences, guarantee %s)" % (
                bad, guarantee))
            return 1
        print("kstreams_peer: OK (%s): %d runs of %dx%d, every pipeline, "
              "stage and target run's final status equal to sr-status's" % (
                  guarantee, len(runs), STAGES, TARGETS))
        return 0
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
