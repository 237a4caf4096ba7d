#!/usr/bin/env python3
"""A stock Confluent consumer decodes sr.events through the gateway's
schema registry read API (issue 12).

Usage: stock_consumer.py BUILD_DIR

Starts BUILD_DIR/sr-dev (embedded broker, agent on, ephemeral port, a
temporary data dir), creates one pipeline run with POST /v0/runs/ (one
stage, two targets, auto-promotion: the agent drives it to success), then
reads sr.events with confluent_kafka.DeserializingConsumer and an
AvroDeserializer over SchemaRegistryClient({"url": <the gateway>}): no
.avsc file is given to the client, the schema comes from the registry by
the id in each record. Checks: every record decodes; the run's events
carry every field of StatusChangeEvent with the run's ids; seq is 1..n with
no gap and no repeat; the run's last pipeline_run event says success. The
registry client's own view is checked too (subjects, latest version of
sr.events-value). Exits 0 on success, 1 on a failed check, 2 on a setup
failure. Without the registry API the first poll fails: "Schema 3 not
found" is what a stock client sees.
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

from confluent_kafka import DeserializingConsumer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer

FINAL = {"success", "failure", "cancelled", "timeout", "invalid"}
FIELDS = ["event_id", "pipeline_run_id", "seq", "entity_type", "entity_id",
          "pipeline_id", "stage_run_id", "stage_run_operation_id",
          "device_id", "from_status", "to_status", "reason", "occurred_at",
          "causation_id", "enterprise_id", "version"]


def fail(msg):
    print(f"stock_consumer: FAILED: {msg}")
    sys.exit(1)


def start_dev(build, work, http_port=0, extra=(), workers="1", agent="on"):
    """sr-dev on @http_port (0: any), @extra flags forwarded (-D k=v),
    @workers sr-status children, the agent @agent."""
    out = open(os.path.join(work, "dev.out"), "w")
    err = open(os.path.join(work, "dev.err"), "w")
    env = dict(os.environ)
    env.pop("SR_API_TOKENS", None)
    env.pop("SR_KEEP_WORK", None)
    dev = subprocess.Popen(
        [os.path.join(build, "sr-dev"), "--data-dir",
         os.path.join(work, "data"), "--workers", workers, "--partitions",
         "4", "--agent", agent, "--http-port", str(http_port), *extra],
        stdout=out, stderr=err, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = open(os.path.join(work, "dev.out")).read()
        if re.search(r"^ready", text, re.M):
            kv = dict(re.findall(r"^([a-z.]+)=(\S+)", text, re.M))
            return dev, kv
        if dev.poll() is not None:
            break
        time.sleep(0.1)
    sys.stderr.write(open(os.path.join(work, "dev.err")).read()[-3000:])
    print("stock_consumer: sr-dev did not become ready")
    dev.kill()
    sys.exit(2)


def stop_dev(dev):
    """SIGTERM, then SIGKILL after 15 s; None or ended: nothing."""
    if dev and dev.poll() is None:
        dev.send_signal(signal.SIGTERM)
        try:
            dev.wait(15)
        except subprocess.TimeoutExpired:
            dev.kill()
            dev.wait()


def call(base, token, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=15) as r:
        return json.load(r)


def run_one(base, token):
    spec = {"pipeline_id": str(uuid.uuid4()),
            "pipeline_name": "stock consumer", "auto_promote": True,
            "stages": [{"name": "one",
                        "operations": [{"operation_type": "REBOOT"}],
                        "targets": [{"device_id": str(uuid.uuid4()),
                                     "device_name": "sc-1"},
                                    {"device_id": str(uuid.uuid4()),
                                     "device_name": "sc-2"}]}]}
    run = call(base, token, "POST", "/v0/runs/", spec)["content"]
    path = f"/v0/pipelines/{spec['pipeline_id']}/runs/{run['id']}/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = call(base, token, "GET", path)["content"]["status"]
        if status in FINAL:
            return spec, run["id"], status
        time.sleep(0.2)
    fail(f"run {run['id']} not final in 60 s (status {status})")


def consume(boot, base, run_id, want_status, want_id=3):
    """@want_id: the registry's id of sr.events-value."""
    registry = SchemaRegistryClient({"url": base})
    subjects = registry.get_subjects()
    if "sr.events-value" not in subjects:
        fail(f"registry subjects {subjects}: no sr.events-value")
    latest = registry.get_latest_version("sr.events-value")
    if latest.schema_id != want_id or latest.version != 1:
        fail(f"sr.events-value latest: id {latest.schema_id} "
             f"version {latest.version}")
    consumer = DeserializingConsumer({
        "bootstrap.servers": boot,
        "group.id": "stock-consumer-" + uuid.uuid4().hex,
        "enable.auto.commit": False,
        "value.deserializer": AvroDeserializer(registry),
    })
    md = AdminClient({"bootstrap.servers": boot}).list_topics(timeout=10)
    parts = md.topics["sr.events"].partitions
    consumer.assign([TopicPartition("sr.events", p, 0) for p in parts])
    events, other, idle_since = [], 0, time.monotonic()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        msg = consumer.poll(0.5)  # raises ValueDeserializationError
        if msg is None:
            done = events and events[-1]["entity_type"] == "pipeline_run" \
                and events[-1]["to_status"] == want_status
            if done and time.monotonic() - idle_since > 2:
                break
            continue
        idle_since = time.monotonic()
        if msg.error():
            fail(f"consumer error {msg.error()}")
        ev = msg.value()
        if str(ev["pipeline_run_id"]) != run_id:
            other += 1
            continue
        events.append(ev)
    consumer.close()
    return events, other


def check(events, spec, run_id, status):
    if not events:
        fail("no event of the run decoded")
    for ev in events:
        missing = [f for f in FIELDS if f not in ev]
        if missing or set(ev) != set(FIELDS):
            fail(f"event fields {sorted(ev)}; missing {missing}")
        if str(ev["pipeline_id"]) != spec["pipeline_id"]:
            fail(f"pipeline_id {ev['pipeline_id']}")
        if ev["enterprise_id"] == "" or not isinstance(ev["version"], int):
            fail(f"event {ev}")
        uuid.UUID(str(ev["event_id"]))
    seqs = [ev["seq"] for ev in events]
    if seqs != list(range(1, len(events) + 1)):
        fail(f"seq not 1..n: {seqs}")
    runs = [ev for ev in events if ev["entity_type"] == "pipeline_run"]
    if not runs or runs[0]["from_status"] is not None:
        fail("the run's creation event (from_status null) is missing")
    if runs[-1]["to_status"] != status or status != "success":
        fail(f"last pipeline_run event {runs[-1]['to_status']}, "
             f"run {status}")
    targets = {str(ev["device_id"]) for ev in events
               if ev["entity_type"] == "target_run"}
    want = {t["device_id"] for t in spec["stages"][0]["targets"]}
    if targets != want:
        fail(f"target events name devices {targets}, want {want}")


def main():
    build = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="sr-stock-consumer.")
    dev = None
    try:
        dev, kv = start_dev(build, work)
        base, token = kv["http"], kv["token"]
        boot = kv["bootstrap.servers"]
        spec, run_id, status = run_one(base, token)
        events, other = consume(boot, base, run_id, status)
        check(events, spec, run_id, status)
        print(f"stock_consumer: OK: confluent-kafka's AvroDeserializer "
              f"decoded {len(events)} events of run {run_id} through "
              f"{base}/schemas/ids/3 (seq 1..{len(events)}, final "
              f"{status}; {other} of other runs)")
    finally:
        stop_dev(dev)
        if os.environ.get("SR_KEEP_WORK") != "1":
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
