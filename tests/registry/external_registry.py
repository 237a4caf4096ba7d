#!/usr/bin/env python3
"""sr with schema.registry.url: every process registers our schemas with
the registry at start-up and writes the ids it gives; a stock
confluent-kafka consumer decodes sr.events through the same registry
(issue 12, docs/schemas.md "An external registry").

Usage: external_registry.py BUILD_DIR

No Confluent-compatible registry that someone else wrote can be started
from the registries this machine reaches (docs/schemas.md says why), so
the registry is our own: the gateway of a first sr-dev (A), whose
registry API answers registrations of our schemas with their ids. So
that those ids are not the built-in 1-16, A itself runs with
schema.registry.url pointing at a stand-in here (NumberingRegistry: ids
from 1001 in the order schemas arrive, the same schema the same id), and
A's gateway serves and answers the ids it got. A second sr-dev (B) runs
with -D schema.registry.url=<A>: its sr-status, sr-agent and sr-gateway
each register the seven schemas (every version) with A at start-up (their logs say so,
with the ids), a run goes through B (commands, dispatches, results,
replies, changelog and events all framed with A's ids), and
confluent_kafka's AvroDeserializer over SchemaRegistryClient(<A>) decodes
B's sr.events; every record's frame carries A's id of sr.events-value.

Then the refusals, with sr-status alone: a registry that answers 409 (an
incompatible schema under our subject, Confluent's error shape) -> exit
78 naming the subject and quoting the registry; a registry that is not
there -> exit 1 once schema.registry.wait.ms is spent.
Exits 0 on success, 1 on a failed check, 2 on a setup failure.
"""
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.schema_registry import SchemaRegistryClient

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stock_consumer as sc  # noqa: E402  (sr-dev start, one run)


def fail(msg):
    print(f"external_registry: FAILED: {msg}")
    sys.exit(1)


def start_dev(build, work, extra=(), workers="1", agent="on"):
    os.makedirs(work, exist_ok=True)
    return sc.start_dev(build, work, extra=extra, workers=workers,
                        agent=agent)


def framed_ids(boot, topic):
    """The schema id in the frame of every record of @topic."""
    c = Consumer({"bootstrap.servers": boot, "group.id": "raw-" + topic,
                  "enable.auto.commit": False})
    md = AdminClient({"bootstrap.servers": boot}).list_topics(timeout=10)
    c.assign([TopicPartition(topic, p, 0)
              for p in md.topics[topic].partitions])
    ids, idle = [], time.monotonic()
    while time.monotonic() - idle < 3:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        idle = time.monotonic()
        v = m.value()
        if v is None:
            continue
        if len(v) < 5 or v[0] != 0:
            fail(f"{topic}: not a Confluent frame: {v[:8]!r}")
        ids.append(int.from_bytes(v[1:5], "big"))
    c.close()
    return ids


def answer(handler, status, obj):
    """A registry's answer: @status, @obj as its JSON content type."""
    msg = json.dumps(obj).encode()
    handler.send_response(status)
    handler.send_header("Content-Type",
                        "application/vnd.schemaregistry.v1+json")
    handler.send_header("Content-Length", str(len(msg)))
    handler.end_headers()
    handler.wfile.write(msg)


class NumberingRegistry(http.server.BaseHTTPRequestHandler):
    """Registrations only: a new schema (compared as parsed JSON) gets the
    next id from 1001, one seen before its id."""
    ids = {}
    lock = threading.Lock()

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        schema = json.loads(json.loads(self.rfile.read(n))["schema"])
        key = json.dumps(schema, sort_keys=True)
        with NumberingRegistry.lock:
            sid = NumberingRegistry.ids.setdefault(
                key, 1001 + len(NumberingRegistry.ids))
        answer(self, 200, {"id": sid})

    def log_message(self, *args):
        pass


class Refuse409(http.server.BaseHTTPRequestHandler):
    """A registry whose subjects already hold an incompatible schema:
    Confluent's answer to a registration, 409 / error_code 409."""
    posted = []

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        Refuse409.posted.append((self.path, body))
        answer(self, 409, {
            "error_code": 409,
            "message": "Schema being registered is incompatible with an "
                       "earlier schema for subject \"%s\", details: "
                       "[READER_FIELD_MISSING_DEFAULT_VALUE]"
                       % self.path.split("/")[3]})

    def log_message(self, *args):
        pass


def run_status(build, work, url, wait_ms="2000"):
    t0 = time.monotonic()
    p = subprocess.run(
        [os.path.join(build, "sr-status"), "-D", "schema.registry.url=" + url,
         "-D", "schema.registry.wait.ms=" + wait_ms, "-D",
         "data.dir=" + os.path.join(work, "st"), "-D",
         "kafka.bootstrap.servers=127.0.0.1:1", "-D", "http.enable=false"],
        capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr, time.monotonic() - t0


def refusals(build, work):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse409)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d/ccompat" % srv.server_address[1]
    rc, out, _ = run_status(build, work, url)
    srv.shutdown()
    if rc != 78:
        fail(f"sr-status against a 409 registry: exit {rc}, want 78: {out}")
    for want in ("subject sr.changelog-value", "HTTP 409, incompatible",
                 "READER_FIELD_MISSING_DEFAULT_VALUE", url):
        if want not in out:
            fail(f"sr-status's refusal does not say {want!r}: {out}")
    if not Refuse409.posted or not Refuse409.posted[0][0].startswith(
            "/ccompat/subjects/sr.changelog-value/versions"):
        fail(f"posted {Refuse409.posted[:1]}")
    # Nobody listens there: retried for the wait, then exit 1.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    rc, out, took = run_status(build, work, "http://127.0.0.1:%d" % port,
                               wait_ms="1500")
    if rc != 1 or "unreachable or failing" not in out:
        fail(f"unreachable registry: exit {rc}, want 1: {out}")
    if not 1.0 <= took < 10:
        fail(f"unreachable registry: gave up after {took:.1f} s "
             f"(schema.registry.wait.ms=1500)")
    return took


def main():
    build = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="sr-ext-registry.")
    a = b = None
    try:
        took = refusals(build, work)
        # A: the registry (its gateway's registry API); no worker needed.
        numbering = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                    NumberingRegistry)
        threading.Thread(target=numbering.serve_forever,
                         daemon=True).start()
        a, akv = start_dev(build, os.path.join(work, "a"), workers="0",
                           agent="off",
                           extra=("-D", "schema.registry.url=http://"
                                  "127.0.0.1:%d" %
                                  numbering.server_address[1]))
        reg_url = akv["http"]
        registry = SchemaRegistryClient({"url": reg_url})
        want = registry.get_latest_version("sr.events-value").schema_id
        if want <= 1000:
            fail(f"A's gateway serves id {want} for sr.events-value, not "
                 f"the one its registry gave (from 1001 on)")
        # B: every child registers with A.
        b, bkv = start_dev(build, os.path.join(work, "b"),
                           extra=("-D", "schema.registry.url=" + reg_url))
        spec, run_id, status = sc.run_one(bkv["http"], bkv["token"])
        errs = open(os.path.join(work, "b", "dev.err")).read() + \
            open(os.path.join(work, "b", "dev.out")).read()
        regs = re.findall(r"schemas registered\" url=(\S+) .*event=(\d+)",
                          errs)
        if len(regs) < 3 or any(u != reg_url or int(e) != want
                                for u, e in regs):
            fail(f"want sr-status, sr-agent and sr-gateway to log their "
                 f"registration with {reg_url} (event={want}): {regs}")
        # and the ids of the older versions they still read and write
        olds = re.findall(r'schemas registered" .* older="([^"]*)"', errs)
        # sr_schema_older[]: commands 1, changelog 1, commands 2, 3 and
        # 4, changelog 2, replies 1, commands 5, 6 and 7, changelog 3
        want_older = ["command", "changelog", "command", "command",
                      "command", "changelog", "reply", "command",
                      "command", "command", "changelog"]
        for o in olds:
            pairs = [p.split("=") for p in o.split()]
            if [k for k, _ in pairs] != want_older or \
                    len({int(v) for _, v in pairs}) != len(pairs) or \
                    any(int(v) < 1 for _, v in pairs):
                fail(f"want each registration to log its older versions' "
                     f"distinct ids (older=\"command=N changelog=M "
                     f"command=K command=L command=O changelog=P "
                     f"reply=Q command=R command=S command=T "
                     f"changelog=U\"): {o!r}")
        if len(olds) < 3:
            fail(f"want sr-status, sr-agent and sr-gateway to log their "
                 f"older versions' ids: {olds}")
        events, other = sc.consume(bkv["bootstrap.servers"], reg_url,
                                   run_id, status, want_id=want)
        sc.check(events, spec, run_id, status)
        ids = set(framed_ids(bkv["bootstrap.servers"], "sr.events"))
        if ids != {want}:
            fail(f"sr.events frames carry ids {ids}, the registry's id "
                 f"of sr.events-value is {want}")
        # sr-cli registers too, and decodes what it dumps by those ids.
        cli = subprocess.run(
            [os.path.join(build, "sr-cli"), "-b", bkv["bootstrap.servers"],
             "-D", "schema.registry.url=" + reg_url, "dump", "changelog"],
            capture_output=True, text=True, timeout=120)
        recs = [json.loads(line) for line in cli.stdout.splitlines()]
        # Every version of the subject: a record is written in the oldest
        # version that carries it (changelog version 1 but for an open
        # stage's records, docs/schemas.md "Our own readers").
        cl_ids = {registry.get_version("sr.changelog-value", v).schema_id
                  for v in registry.get_versions("sr.changelog-value")}
        bad = [r for r in recs if r.get("value") is not None and
               (r.get("error") or r["schema_id"] not in cl_ids or
                r["type"] != "changelog")]
        if cli.returncode or not recs or bad or len(cl_ids) != 4:
            fail(f"sr-cli dump changelog: exit {cli.returncode}, "
                 f"{len(recs)} records, want a schema_id of "
                 f"{sorted(cl_ids)}: {bad[:1]} {cli.stderr[-500:]}")
        print(f"external_registry: OK: {len(regs)} processes registered "
              f"with {reg_url}; {len(events)} events of run {run_id} "
              f"decoded by confluent-kafka through it, every frame id "
              f"{want}; a 409 registry stops sr-status with 78 naming "
              f"the subject; an absent one with 1 after {took:.1f} s")
    finally:
        sc.stop_dev(b)
        sc.stop_dev(a)
        if os.environ.get("SR_KEEP_WORK") != "1":
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
