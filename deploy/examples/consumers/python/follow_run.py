#!/usr/bin/env python3
"""Follow one pipeline run on sr.events with stock confluent-kafka.

    pip install 'confluent-kafka[avro]'
    follow_run.py --bootstrap HOST:PORT --registry http://GATEWAY \
                  --run PIPELINE_RUN_ID [--topic sr.events] [--timeout 60]

The schema comes from the registry by the id in each record (the gateway
serves the Confluent Schema Registry read API; no .avsc file is needed).
Delivery is at least once: a record can come twice. Each run's events carry
seq 1, 2, 3, ... in order (they share the run's partition), so a consumer
drops what it has seen (seq <= last) and knows a gap when seq jumps.
Prints one line per event and exits 0 once the run's pipeline_run event
reaches a final status; 1 if the timeout passes first.
"""
import argparse
import sys
import time
import uuid

from confluent_kafka import DeserializingConsumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer

FINAL = {"success", "failure", "cancelled", "timeout", "invalid"}

ap = argparse.ArgumentParser()
ap.add_argument("--bootstrap", required=True)
ap.add_argument("--registry", required=True, help="the gateway's URL")
ap.add_argument("--run", required=True, help="pipeline_run_id to follow")
ap.add_argument("--topic", default="sr.events")
ap.add_argument("--timeout", type=float, default=60)
a = ap.parse_args()

consumer = DeserializingConsumer({
    "bootstrap.servers": a.bootstrap,
    "group.id": "follow-run-" + uuid.uuid4().hex,  # a private reader
    "auto.offset.reset": "earliest",
    "enable.auto.commit": False,
    "value.deserializer": AvroDeserializer(
        SchemaRegistryClient({"url": a.registry})),
})
consumer.subscribe([a.topic])
last, deadline = 0, time.monotonic() + a.timeout
try:
    while time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error():
            sys.exit(f"follow_run: {msg.error()}")
        ev = msg.value()
        if str(ev["pipeline_run_id"]) != a.run:
            continue
        seq = ev["seq"]
        if seq <= last:
            print(f"duplicate seq={seq} dropped")
            continue
        if seq != last + 1:
            print(f"gap: expected seq={last + 1}, got seq={seq}")
        last = seq
        print(f"seq={seq} {ev['entity_type']} {ev['entity_id']} "
              f"{ev['from_status'] or '-'} -> {ev['to_status']}")
        if ev["entity_type"] == "pipeline_run" and ev["to_status"] in FINAL:
            print(f"final: pipeline run {a.run} {ev['to_status']}")
            sys.exit(0)
    print(f"timeout: run {a.run} not final after {a.timeout:g} s (last "
          f"seq={last})")
    sys.exit(1)
finally:
    consumer.close()
