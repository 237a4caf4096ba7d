#!/usr/bin/env python3
"""The CloudEvents Python SDK's Kafka binding reads every event of sr.events
(issue 12, "CloudEvents, checked by the SDK").

Usage: cloudevents_check.py BUILD_DIR

Starts BUILD_DIR/sr-dev on a free port with gateway.public.url set to it
(the base the workers' ce_dataschema falls back to: docs/schemas.md), runs
one pipeline run to success, consumes sr.events with confluent-kafka (raw
bytes: key, value, headers) and hands each message to the SDK's Kafka
binding, both the strict one (cloudevents.core.bindings.kafka.from_binary,
which validates every attribute) and the legacy one
(cloudevents.v1.kafka.from_binary). For every event, checks:
  specversion 1.0; id == the Avro event_id; source /sr-status; type
  io.sr.v1.StatusChanged; subject <entity_type>/<entity_id>; time parsed
  as a timezone-aware RFC 3339 instant equal to occurred_at (ms);
  datacontenttype application/avro; dataschema == <base>/schemas/ids/<id>
  where <id> is the schema id in the record's Confluent header, and that
  URL answers with the schema that decodes the record; partitionkey (the
  message key) == pipeline_run_id; the data is the record's bytes.
Exits 0 when every check holds, 1 on a failed check (every failing
attribute is listed), 2 on a setup failure.
"""
import io
import json
import os
import socket
import struct
import sys
import tempfile
import urllib.request

from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.v1 import kafka as ce_kafka_v1
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from datetime import timezone
import fastavro

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stock_consumer as sc  # noqa: E402  sr-dev start, one run


def fail(msg):
    print(f"cloudevents_check: FAILED: {msg}")
    sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_events(boot, run_id, want_status):
    """Raw messages of the run, until its final pipeline_run event."""
    consumer = Consumer({"bootstrap.servers": boot,
                         "group.id": "ce-check-" + os.urandom(8).hex(),
                         "enable.auto.commit": False})
    md = AdminClient({"bootstrap.servers": boot}).list_topics(timeout=10)
    consumer.assign([TopicPartition("sr.events", p, 0)
                     for p in md.topics["sr.events"].partitions])
    msgs, done, idle = [], False, 0
    while idle < 40:  # 20 s without a message
        m = consumer.poll(0.5)
        if m is None:
            idle += 1
            if done and idle > 4:
                break
            continue
        idle = 0
        if m.error():
            fail(f"consumer error {m.error()}")
        if m.key() != run_id.encode():
            continue
        msgs.append(m)
    consumer.close()
    return msgs


def main():
    build = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="sr-ce-check.")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    dev = None
    try:
        dev, kv = sc.start_dev(build, work, port,
                               ["-D", f"gateway.public.url={base}"])
        if kv["http"].rstrip("/") != base:
            fail(f"sr-dev serves at {kv['http']}, asked for {base}")
        spec, run_id, status = sc.run_one(base, kv["token"])
        msgs = read_events(kv["bootstrap.servers"], run_id, status)
        check(msgs, base, run_id)
    finally:
        if dev:
            dev.send_signal(sc.signal.SIGTERM)
            try:
                dev.wait(15)
            except sc.subprocess.TimeoutExpired:
                dev.kill()
                dev.wait()
        if os.environ.get("SR_KEEP_WORK") != "1":
            sc.shutil.rmtree(work, ignore_errors=True)


def check(msgs, base, run_id):
    if not msgs:
        fail("no event of the run on sr.events")
    schemas, bad = {}, {}

    def wrong(attr, msg):
        bad.setdefault(attr, msg)

    for m in msgs:
        value = m.value()
        headers = {k: (v or b"") for k, v in (m.headers() or [])}
        msg = ce_kafka.KafkaMessage(headers=headers, key=m.key(),
                                    value=value)
        try:
            ev = ce_kafka.from_binary(msg, JSONFormat())
        except Exception as e:  # the SDK's validation names the attribute
            wrong("strict-binding", f"{type(e).__name__}: {e}")
            continue
        legacy = ce_kafka_v1.from_binary(ce_kafka_v1.KafkaMessage(
            headers=headers, key=m.key(), value=value),
            data_unmarshaller=lambda b: b)
        if len(value) < 5 or value[0] != 0:
            fail(f"record is not in the Confluent wire format: {value[:8]!r}")
        sid = struct.unpack(">I", value[1:5])[0]
        if sid not in schemas:
            with urllib.request.urlopen(f"{base}/schemas/ids/{sid}",
                                        timeout=10) as r:
                schemas[sid] = fastavro.parse_schema(
                    json.loads(json.load(r)["schema"]))
        rec = fastavro.schemaless_reader(io.BytesIO(value[5:]),
                                         schemas[sid])
        a = ev.get_attributes()
        if ev.get_specversion() != "1.0" or legacy["specversion"] != "1.0":
            wrong("specversion", a.get("specversion"))
        if ev.get_id() != str(rec["event_id"]) or \
                legacy["id"] != str(rec["event_id"]):
            wrong("id", f"{ev.get_id()} != event_id {rec['event_id']}")
        if ev.get_source() != "/sr-status":
            wrong("source", ev.get_source())
        if ev.get_type() != "io.sr.v1.StatusChanged":
            wrong("type", ev.get_type())
        if ev.get_subject() != f"{rec['entity_type']}/{rec['entity_id']}":
            wrong("subject", ev.get_subject())
        t = ev.get_time()
        want_ms = rec["occurred_at"]
        if hasattr(want_ms, "timestamp"):
            want_ms = round(want_ms.timestamp() * 1000)
        if t is None or t.tzinfo is None or \
                round(t.astimezone(timezone.utc).timestamp() * 1000) != \
                want_ms:
            wrong("time", f"{a.get('time')} vs occurred_at {want_ms}")
        if ev.get_datacontenttype() != "application/avro" or \
                legacy["datacontenttype"] != "application/avro":
            wrong("datacontenttype", ev.get_datacontenttype())
        want_ds = f"{base}/schemas/ids/{sid}"
        if ev.get_dataschema() != want_ds or \
                legacy.get("dataschema") != want_ds:
            wrong("dataschema", f"{ev.get_dataschema()!r}, want {want_ds}")
        if a.get("partitionkey") != run_id or \
                str(rec["pipeline_run_id"]) != run_id:
            wrong("partitionkey", a.get("partitionkey"))
        if ev.get_data() != value or legacy.data != value:
            wrong("data", "not the record's bytes")
    if bad:
        for k, v in bad.items():
            print(f"cloudevents_check: attribute {k}: {v}")
        fail(f"{len(bad)} attribute(s) wrong: {', '.join(sorted(bad))}")
    print(f"cloudevents_check: OK: the CloudEvents SDK's Kafka binding read "
          f"{len(msgs)} events of run {run_id}; dataschema "
          f"{base}/schemas/ids/{sorted(schemas)} resolves")


if __name__ == "__main__":
    main()
