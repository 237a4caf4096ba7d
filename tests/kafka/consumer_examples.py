#!/usr/bin/env python3
"""The consumer examples of deploy/examples/consumers/ run against the real
broker (issue 12): a run goes to success through sr-dev --bootstrap, then

  * python/follow_run.py (confluent-kafka, AvroDeserializer,
    SchemaRegistryClient at the gateway) and
  * java/FollowRun.java (kafka-clients + Apache Avro from Maven Central, the
    schema from the gateway's GET /schemas/ids/{id}), compiled with javac

each follow it on the events topic and must print seq 1..n in order and
"final: pipeline run <id> success"; follow-run.sh (curl over the gateway's
watch API) must print the same seq 1..n and end with the run. Then both follow it on a doctored copy
of its events (seq 2 written twice, seq 4 left out) and must print
"duplicate seq=2 dropped" and "gap: expected seq=4, got seq=5", still
ending with the final line.

Usage (tests/registry/run.sh gives the venv; kafka.sh run the broker):
  scripts/kafka.sh run STATE tests/registry/run.sh BUILD consumer_examples.py
Exits 0 on success, 1 on a failed check, 2 on a setup failure.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
EX = os.path.join(SRC, "deploy", "examples", "consumers")
failures = []


def fail(msg):
    failures.append(msg)
    print("consumer_examples: FAIL " + msg)


def call(base, token, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=20) as r:
        return json.load(r)["content"]


def start_dev(build, work, boot, prefix):
    out = open(os.path.join(work, "dev.out"), "w")
    err = open(os.path.join(work, "dev.err"), "w")
    env = dict(os.environ)
    env.pop("SR_API_TOKENS", None)
    dev = subprocess.Popen(
        [os.path.join(build, "sr-dev"), "--bootstrap", boot, "--workers", "1",
         "--partitions", "2", "--agent", "on", "--http-port", "0",
         "--data-dir", os.path.join(work, "data"),
         "-D", "topic.prefix=" + prefix], stdout=out, stderr=err, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        text = open(os.path.join(work, "dev.out")).read()
        if re.search(r"^ready", text, re.M):
            return dev, dict(re.findall(r"^([a-z.]+)=(\S+)", text, re.M))
        if dev.poll() is not None:
            break
        time.sleep(0.2)
    sys.stderr.write(open(os.path.join(work, "dev.err")).read()[-3000:])
    print("consumer_examples: sr-dev did not become ready")
    dev.kill()
    sys.exit(2)


def run_to_success(base, token):
    spec = {"pipeline_id": str(uuid.uuid4()), "pipeline_name": "examples",
            "auto_promote": True,
            "stages": [{"name": "s%d" % s,
                        "operations": [{"operation_type": "REBOOT"}],
                        "targets": [{"device_id": str(uuid.uuid4()),
                                     "device_name": "d%d-%d" % (s, t)}
                                    for t in range(2)]} for s in range(2)]}
    run = call(base, token, "POST", "/v0/runs/", spec)["id"]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        st = call(base, token, "GET", "/v0/runs/%s/" % run)["status"]
        if st == "success":
            return run
        time.sleep(0.3)
    print("consumer_examples: run %s not successful in 90 s (%s)" % (run, st))
    sys.exit(2)


def doctor(boot, src_topic, dst_topic, run):
    """The run's records, in order, with seq 2 twice and seq 4 left out,
    into a new one-partition topic. Returns the number of events."""
    admin = AdminClient({"bootstrap.servers": boot})
    parts = admin.list_topics(src_topic, timeout=10).topics[src_topic] \
        .partitions
    c = Consumer({"bootstrap.servers": boot, "group.id": "x-" + run,
                  "enable.auto.commit": False})
    c.assign([TopicPartition(src_topic, p, 0) for p in parts])
    mine, idle = [], time.monotonic()
    while time.monotonic() - idle < 3:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        idle = time.monotonic()
        if m.key() and m.key().decode(errors="replace") == run:
            mine.append(m.value())
    c.close()
    fs = admin.create_topics([NewTopic(dst_topic, 1, 1)])
    fs[dst_topic].result(30)
    p = Producer({"bootstrap.servers": boot})
    # mine[i] is seq i+1 (one partition per run, in order)
    for i, v in enumerate(mine):
        if i == 3:
            continue
        p.produce(dst_topic, key=run.encode(), value=v)
        if i == 1:
            p.produce(dst_topic, key=run.encode(), value=v)
    p.flush(30)
    return len(mine)


def check(name, out, run, n, doctored):
    lines = out.splitlines()
    seqs = [int(m.group(1)) for m in
            (re.match(r"seq=(\d+) ", l) for l in lines) if m]
    want = [s for s in range(1, n + 1) if not (doctored and s == 4)]
    if seqs != want:
        fail("%s%s: printed seq %s, want %s" % (
            name, " (doctored)" if doctored else "", seqs, want))
    if not lines or lines[-1] != "final: pipeline run %s success" % run:
        fail("%s: last line %r" % (name, lines[-1:] or None))
    dup = "duplicate seq=2 dropped" in lines
    gap = "gap: expected seq=4, got seq=5" in lines
    if doctored and not (dup and gap):
        fail("%s (doctored): duplicate reported %s, gap reported %s" % (
            name, dup, gap))
    if not doctored and (dup or any(l.startswith("gap") for l in lines)):
        fail("%s: a duplicate or gap reported on the real topic" % name)


def build_java(build):
    jdir = os.path.join(build, "consumer-java")
    libs = os.path.join(jdir, "libs")
    os.makedirs(jdir, exist_ok=True)
    if not os.path.isdir(libs):
        r = subprocess.run(
            ["mvn", "-q", "-B", "-f", os.path.join(EX, "java", "pom.xml"),
             "-Dmaven.repo.local=" + os.path.join(build, "kafka", "m2"),
             "dependency:copy-dependencies",
             "-DoutputDirectory=" + libs + ".tmp"],
            capture_output=True, text=True)
        if r.returncode:
            print(r.stdout[-3000:], r.stderr[-3000:])
            print("consumer_examples: mvn dependency:copy-dependencies failed")
            sys.exit(2)
        os.rename(libs + ".tmp", libs)
    cls = os.path.join(jdir, "classes")
    r = subprocess.run(["javac", "-d", cls, "-cp", libs + "/*",
                        os.path.join(EX, "java", "FollowRun.java")],
                       capture_output=True, text=True)
    if r.returncode:
        print(r.stderr[-3000:])
        print("consumer_examples: javac failed")
        sys.exit(2)
    return ["java", "-cp", cls + ":" + libs + "/*", "FollowRun"]


def main():
    build = os.path.abspath(sys.argv[1])
    boot = os.environ.get("SR_TEST_KAFKA")
    if not boot:
        print("consumer_examples: SR_TEST_KAFKA is not set (run it through "
              "scripts/kafka.sh run)")
        sys.exit(2)
    prefix = "cex%d." % os.getpid()
    work = tempfile.mkdtemp(prefix="sr-consumer-examples.")
    dev = None
    try:
        java = build_java(build)
        dev, kv = start_dev(build, work, boot, prefix)
        base, token = kv["http"], kv["token"]
        run = run_to_success(base, token)
        topic, doctored = prefix + "events", prefix + "doctored"
        n = doctor(boot, topic, doctored, run)
        if n < 6:
            fail("only %d events of run %s on %s" % (n, run, topic))
        py = [sys.executable, os.path.join(EX, "python", "follow_run.py"),
              "--bootstrap", boot, "--registry", base, "--run", run,
              "--timeout", "60", "--topic"]
        jv = lambda t: java + [boot, base, t, run, "60"]  # noqa: E731
        for name, cmd in (("python", lambda t: py + [t]), ("java", jv)):
            for t, doc in ((topic, False), (doctored, True)):
                t0 = time.monotonic()
                r = subprocess.run(cmd(t), capture_output=True, text=True,
                                   timeout=120)
                if r.returncode != 0:
                    fail("%s on %s: exit %d\n%s%s" % (
                        name, t, r.returncode, r.stdout[-2000:],
                        r.stderr[-2000:]))
                    continue
                check(name, r.stdout, run, n, doc)
                print("consumer_examples: %s on %s: %d lines in %.1f s" % (
                    name, t, len(r.stdout.splitlines()),
                    time.monotonic() - t0))
        # follow-run.sh: the same run over the gateway's watch API (SSE)
        r = subprocess.run([os.path.join(EX, "follow-run.sh"), run],
                           capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, SR=base, TOKEN=token))
        seqs = [json.loads(line)["seq"] for line in r.stdout.splitlines()]
        if r.returncode != 0 or seqs != list(range(1, n + 1)):
            fail("follow-run.sh: exit %d, seq %s, want 1..%d %s" % (
                r.returncode, seqs, n, r.stderr[-500:]))
        else:
            print("consumer_examples: follow-run.sh (curl, SSE) printed "
                  "seq 1..%d and ended with the run" % n)
    finally:
        if dev:
            dev.send_signal(signal.SIGTERM)
            try:
                dev.wait(30)
            except subprocess.TimeoutExpired:
                dev.kill()
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("consumer_examples: FAILED (%d)" % len(failures))
        sys.exit(1)
    print("consumer_examples: OK (python, java and curl, %d events of run %s; "
          "duplicate dropped and gap reported on the doctored copy)" % (n,
                                                                        run))


if __name__ == "__main__":
    main()
