#!/usr/bin/env python3
"""Schema evolution as docs/schemas.md states it, through fastavro: the
decoder a stock Confluent consumer uses (confluent-kafka's AvroDeserializer
resolves the writer's schema, fetched from the registry by the id in the
record, against the consumer's reader schema with fastavro).

Usage: evolution.py [BUILD_DIR]   (BUILD_DIR unused; the schemas are read
from the source tree next to this file)

Cases, each a check that fails if the rule does not hold:
  1. a newer event.avsc (a field added with a default) writes; today's
     event.avsc reads: every field equal, the new one ignored;
  2. today's writes; the newer reads: the default filled in;
  3. the same two ways with the registry's own answer: the schema text the
     gateway serves (the .avsc) is the writer schema a client resolves;
  4. the changelog's rule (BACKWARD only): a union branch appended at the
     end is read by a newer reader from old records, and an older reader
     reads a newer writer's records of the old branches but fails on the
     new branch (why the workers are upgraded before they write it);
  5. what is never allowed is refused by resolution: a field added without
     a default (a newer reader cannot read old records), a field's type
     changed, an enum symbol added to an enum without a default;
  6. the commands' real version 2 (command.v2.avsc, id 7) against version 1
     (command.v1.avsc, id 1, frozen: its bytes are those id 1 was
     published with): a version 1 command is read by the version 2 reader
     with the new SpecStage fields' defaults; version 2's records of the
     old branches are read by the version 1 reader; its new branches
     (AppendTargets, SealTargets, StageStep) are not (BACKWARD only:
     sr-status is upgraded before anything writes them).
  6f-6i. the commands' version 3 (command.v3.avsc, id 9) against version 2
     (command.v2.avsc, id 7, frozen): a version 2 record is read by the
     version 3 reader; version 3's records of the old branches by the
     version 2 reader; its new branch (TargetCommand) is not.
  6j-6m. the commands' version 4 (command.v4.avsc, id 10) against version
     3 (command.v3.avsc, id 9, frozen): a version 3 record is read by the
     version 4 reader; version 4's records of the old branches by the
     version 3 reader; its new branch (DeleteRun) is not.
  6n-6q. the commands' version 5 (command.v5.avsc, id 11) against version
     4 (command.v4.avsc, id 10, frozen): version 4's records read both
     ways; each of the 19 definition commands (PutPipeline ... RunEnded,
     every field set, then every optional one null) round-trips in version
     5 and is refused by the version 4 reader.
  6r-6u. the commands' version 6 (command.v6.avsc, id 15) against version 5
     (command.v5.avsc, id 11, frozen): version 5's records, the 19
     definition commands included, read both ways; FillStep (a 64-byte
     seal_state, then a 32-byte one with the nil after and a null
     expected_version) round-trips in version 6 and is refused by the
     version 5 reader.
  6v-6y. the commands' version 7 (command.avsc, id 16) against version 6
     (command.v6.avsc, id 15, frozen, sha256 pinned): version 6's records,
     FillStep included, read both ways; AddTargetRun's fields in their
     order; AddTargetRun (with an alias, then with a null one)
     round-trips in version 7 and is refused by the version 6 reader.
  6z-6c'. the commands' version 8 (command.avsc, id 17) against version 7
     (command.v7.avsc, id 16, frozen, sha256 pinned): version 7's records,
     AddTargetRun included, read both ways (a FillStep read by version 8
     with source 0); each of the 7 device-group commands (PutGroup with
     and without a name, PutGroupMembers with and without an alias,
     RemoveGroupMembers, DeleteGroup, SnapshotGroup, GroupMembers as a
     chunk and as the closing record, DropRunCopies) round-trips in
     version 8 and is refused by the version 7 reader; a FillStep with
     source 2 round-trips in version 8.
  7. the changelog's real version 2 (changelog.avsc, id 8) against
     version 1 (changelog.v1.avsc, id 4, frozen the same way): a version 1
     stage run (and every other branch) is read by the version 2 reader,
     the open-stage fields taking their defaults (a closed stage); version
     2's records of the old branches, an open stage's stage run included,
     are read by the version 1 reader, the new fields ignored; its
     StageChunk branch is not (BACKWARD only: every sr process is upgraded
     before one writes it).
  7f-7j. the changelog's version 3 (changelog.avsc, id 12) against version
     2 (changelog.v2.avsc, id 8, frozen): version 2's records (a dedupe
     entry's reply included, which takes definition null) are read by the
     version 3 reader and version 3's records of the old branches by the
     version 2 reader (a reply's definition ignored); each of the 9
     definition records (DefPipeline ... DefTarget) round-trips in version
     3 and is refused by the version 2 reader.
  7k-7n. the changelog's version 4 (changelog.avsc, id 18) against version
     3 (changelog.v3.avsc, id 12, frozen, sha256 pinned): version 3's
     records read both ways; each of the 4 device-group records
     (DeviceGroup, DeviceGroupMember, RunGroupMember, RunGroupCopy)
     round-trips in version 4 and is refused by the version 3 reader.
  8a-8d. replies' version 2 (reply.avsc, id 13) against version 1
     (reply.v1.avsc, id 6, frozen): FULL, both ways: a version 1 reply is
     read by the version 2 reader (definition null), a version 2 reply with
     a definition by the version 1 reader (the field ignored), and it
     round-trips in version 2.
  9. definition_event.avsc (id 14) parses as io.sr.v1.DefinitionChanged
     and round-trips a record with and without a parent.
Exits 0 when every case holds, 1 otherwise.
"""
import copy
import datetime
import hashlib
import io
import json
import os
import sys
import uuid

import fastavro
from fastavro import parse_schema, schemaless_reader, schemaless_writer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
failures = []


def load(name):
    with open(os.path.join(ROOT, "schemas", name), encoding="utf-8") as f:
        return json.load(f)


def enc(schema, rec):
    buf = io.BytesIO()
    schemaless_writer(buf, parse_schema(copy.deepcopy(schema)), rec)
    return buf.getvalue()


def dec(data, writer, reader):
    return schemaless_reader(io.BytesIO(data),
                             parse_schema(copy.deepcopy(writer)),
                             parse_schema(copy.deepcopy(reader)))


def expect(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def refused(data, writer, reader):
    try:
        dec(data, writer, reader)
    except Exception as e:  # fastavro's SchemaResolutionError and kin
        return type(e).__name__
    return None


def event():
    run = uuid.uuid4()
    return {"event_id": uuid.uuid5(run, "1"), "pipeline_run_id": run,
            "seq": 1, "entity_type": "target_run",
            "entity_id": uuid.uuid4(), "pipeline_id": uuid.uuid4(),
            "stage_run_id": uuid.uuid4(), "stage_run_operation_id": None,
            "device_id": uuid.uuid4(), "from_status": "queued",
            "to_status": "dispatched", "reason": "", "occurred_at":
            1700000000123, "causation_id": uuid.uuid4(),
            "enterprise_id": "acme", "version": 2}


def marker_of(got):
    st = got["state"]
    st = st[1] if isinstance(st, tuple) else st
    return st.get("batch_id") == "x" and st.get("commands_offset") == 1


def same(a, b):
    norm = lambda r: {k: (str(v) if isinstance(v, uuid.UUID) else v)
                      for k, v in r.items() if k != "occurred_at"}
    return norm(a) == norm(b)


# SHA-256 of schemas/command.avsc as id 1 was published (commit 17a4720
# to 7e933c0), now schemas/command.v1.avsc: an id never changes its text.
COMMAND_V1_SHA256 = ("1103c46fd95fc8747711f2afae4c97de"
                     "b618f105a032f695ab506b3755ca414f")


def plain(x):
    """A decoded value with its logical types back as written: uuid text,
    timestamp-millis as ms."""
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items()}
    if isinstance(x, list):
        return [plain(v) for v in x]
    if isinstance(x, uuid.UUID):
        return str(x)
    if isinstance(x, datetime.datetime):
        return round(x.timestamp() * 1000)
    return x


# SHA-256 of schemas/command.avsc as id 7 was published (commit 7a692f4
# to 61ba550), now schemas/command.v2.avsc.
COMMAND_V2_SHA256 = ("79bcd2027b9f05348eb4a84f13a66778"
                     "506579b9f8106611c9ccf82a88fe5a6e")

# SHA-256 of schemas/command.avsc as id 9 was published (commit 2c67e72
# to 07c6daf), now schemas/command.v3.avsc.
COMMAND_V3_SHA256 = ("5c2f26d50a3faa4923d6f74626ebea51"
                     "1e8f61866a71e783e666d81ddc5e8422")

# SHA-256 of schemas/changelog.avsc as id 4 was published (commit e5362fa
# to 134554e), now schemas/changelog.v1.avsc.
CHANGELOG_V1_SHA256 = ("2ce6727bf0b7ea64589b4ca9023e4b76"
                       "b99f7e30908ea8cbb79c6ca3ad06cb80")

# The fields changelog version 2 appended to StageRun, with their defaults.
OPEN_STAGE_DEFAULTS = {"append_targets": False, "expected_targets": 0,
                       "chunks_applied": 0, "targets_appended": 0,
                       "sealed": False, "seal_chunks": 0, "seal_count": 0,
                       "seal_digest": None}


def command(payload):
    return {"command_id": str(uuid.uuid4()),
            "pipeline_run_id": str(uuid.uuid4()),
            "enterprise_id": "acme", "issued_at": 1764950400000,
            "payload": payload}


def commands():
    path = os.path.join(ROOT, "schemas", "command.v1.avsc")
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    expect(digest == COMMAND_V1_SHA256,
           f"6a. command.v1.avsc is id 1's published text (sha256 "
           f"{digest[:16]}...)")
    v1, v2 = load("command.v1.avsc"), load("command.v2.avsc")
    stage = {"stage_id": None, "name": "canary", "description": "1%",
             "timeout_seconds": 0,
             "operations": [{"operation_type": "REBOOT",
                             "args_json": "{}"}],
             "targets": [{"target_id": None,
                          "device_id": str(uuid.uuid4()),
                          "device_name": "d1", "device_alias": ""}]}
    create = ("io.sr.v1.CreateRun",
              {"spec": {"pipeline_id": str(uuid.uuid4()),
                        "pipeline_name": "p", "auto_promote": True,
                        "timeout_seconds": 0, "stages": [stage]},
               "run_number": 4})
    timer = ("io.sr.v1.TimerFired",
             {"entity_type": "stage_run", "entity_id": str(uuid.uuid4()),
              "deadline": 1764950400001})
    ok = True
    for payload in (create, timer):
        rec = command(payload)
        got = plain(dec(enc(v1, rec), v1, v2))
        want = copy.deepcopy(rec)
        if payload is create:
            want["payload"][1]["spec"]["stages"][0].update(
                append_targets=False, expected_targets=0)
        ok = ok and got["payload"] == want["payload"][1] and \
            {k: v for k, v in got.items() if k != "payload"} == \
            {k: v for k, v in rec.items() if k != "payload"}
    expect(ok, "6b. commands: a version 1 record is read by the version 2 "
           "reader, the stages closed (append_targets false, "
           "expected_targets 0)")
    rec = command(create)
    rec2 = copy.deepcopy(rec)
    rec2["payload"][1]["spec"]["stages"][0].update(append_targets=False,
                                                    expected_targets=0)
    got = plain(dec(enc(v2, rec2), v2, v1))
    expect(got["payload"] == rec["payload"][1],
           "6c. commands: the version 1 reader reads a version 2 record of "
           "an old branch, the new fields ignored")
    new = [("io.sr.v1.AppendTargets",
            {"stage_index": 0, "chunk": 3,
             "targets": stage["targets"]}),
           ("io.sr.v1.SealTargets",
            {"stage_index": 0, "chunks": 4, "count": 4000,
             "digest": bytes(range(32))}),
           ("io.sr.v1.StageStep",
            {"stage_index": 0, "step": "fill", "cursor": 2})]
    for payload in new:
        data = enc(v2, command(payload))
        got = plain(dec(data, v2, v2))
        expect(got["payload"] == payload[1],
               f"6d. commands: {payload[0]} round-trips in version 2")
        why = refused(data, v2, v1)
        expect(why is not None,
               f"6e. commands: the version 1 reader cannot read "
               f"{payload[0]} ({why}): BACKWARD only, sr-status first")
    commands_v3(v2, create, new)


def commands_v3(v2, create, v2_payloads):
    frozen("command.v2.avsc", COMMAND_V2_SHA256, "6f", 7)
    v3 = load("command.v3.avsc")
    rec = command(create)
    rec["payload"][1]["spec"]["stages"][0].update(append_targets=True,
                                                   expected_targets=9)
    tc = ("io.sr.v1.TargetCommand",
          {"target_run_id": str(uuid.uuid4()),
           "command_id": str(uuid.uuid4()), "action": "cancel"})
    newer(v2, v3, [rec["payload"]] + v2_payloads, [tc], 2, 3, "ghi")
    commands_v4(v3, [rec["payload"]] + v2_payloads + [tc])


def commands_v4(v3, v3_payloads):
    frozen("command.v3.avsc", COMMAND_V3_SHA256, "6j", 9)
    v4 = load("command.v4.avsc")
    dr = ("io.sr.v1.DeleteRun", {"pipeline_id": str(uuid.uuid4())})
    newer(v3, v4, v3_payloads, [dr], 3, 4, "klm")
    commands_v5(v4, v3_payloads + [dr])


DEFCMDS = ["PutPipeline", "DeletePipeline", "PutStage", "DeleteStage",
           "PutTargetList", "DeleteTargetList", "AttachTargetList",
           "DetachTargetList", "AddTargets", "UpdateTarget", "RemoveTarget",
           "LinkDeviceGroup", "UnlinkDeviceGroup", "PutOperationList",
           "DeleteOperationList", "PutOperation", "DeleteOperation",
           "StartPipelineRun", "RunEnded"]
DEFRECORDS = ["DefPipeline", "DefStage", "DefTargetList", "DefAttachment",
              "DefOperationList", "DefOperation", "DefGroupLink",
              "DefActiveRun", "DefTarget"]


def sample(t, nulls=False):
    """A value of Avro type @p t with every field set (uuid text, ms for
    timestamps); @p nulls: every ["null", T] null instead."""
    if isinstance(t, list):
        if nulls and t[0] == "null":
            return None
        return sample(t[1] if t[0] == "null" else t[0], nulls)
    if isinstance(t, dict):
        if t.get("logicalType") == "uuid":
            return str(uuid.uuid4())
        if t.get("logicalType") == "timestamp-millis":
            return 1764950400123
        if t["type"] == "record":
            return {f["name"]: sample(f["type"], nulls) for f in t["fields"]}
        if t["type"] == "array":
            return [sample(t["items"], nulls), sample(t["items"], nulls)]
        return sample(t["type"], nulls)
    return {"string": "DEVICES", "long": 4000000000, "int": 7,
            "boolean": True, "bytes": bytes(range(32))}[t]


def branch(schema, field, name):
    return next(b for b in next(f for f in schema["fields"]
                                if f["name"] == field)["type"]
                if isinstance(b, dict) and b.get("name") == name)


# SHA-256 of schemas/command.avsc as id 10 was published (commit c9b9144
# to ff78e89), now schemas/command.v4.avsc.
COMMAND_V4_SHA256 = ("317ffe9abfb3cf105de573ffaf73f25a"
                     "bf9cab7c034103a08100b145e8949635")


def commands_v5(v4, v4_payloads):
    frozen("command.v4.avsc", COMMAND_V4_SHA256, "6n", 10)
    v5 = load("command.v5.avsc")
    v5_defs = []
    ok = True
    for payload in v4_payloads:
        r = command(payload)
        ok = ok and plain(dec(enc(v4, r), v4, v5))["payload"] == \
            plain(payload[1]) and \
            plain(dec(enc(v5, r), v5, v4))["payload"] == plain(payload[1])
    expect(ok, "6o. commands: version 4 and version 5 read each other's "
           "records of version 4's branches, field for field")
    for name in DEFCMDS:
        for nulls in (False, True):
            rec = sample(branch(v5, "payload", name), nulls)
            v5_defs.append(("io.sr.v1." + name, rec))
            data = enc(v5, command(("io.sr.v1." + name, rec)))
            expect(plain(dec(data, v5, v5))["payload"] == rec,
                   f"6p. commands: {name} round-trips in version 5 "
                   f"({'optional fields null' if nulls else 'every field'})")
            why = refused(data, v5, v4)
            expect(why is not None,
                   f"6q. commands: the version 4 reader cannot read {name} "
                   f"({why}): BACKWARD only, sr-status first")
    commands_v6(v5, v4_payloads + v5_defs)


# SHA-256 of schemas/command.avsc as id 11 was published (commit 1f94497
# to 94684e2), now schemas/command.v5.avsc.
COMMAND_V5_SHA256 = ("1558ded68f9a7ff1f19b61b417221957"
                     "9d08f3b641fbeb59074ce48ab14606f6")


def commands_v6(v5, v5_payloads):
    frozen("command.v5.avsc", COMMAND_V5_SHA256, "6r", 11)
    v6 = load("command.v6.avsc")
    v6_fills = []
    ok = True
    for payload in v5_payloads:
        r = command(payload)
        ok = ok and plain(dec(enc(v5, r), v5, v6))["payload"] == \
            plain(payload[1]) and \
            plain(dec(enc(v6, r), v6, v5))["payload"] == plain(payload[1])
    expect(ok, "6s. commands: version 5 and version 6 read each other's "
           "records of version 5's branches (the 19 definition commands "
           "included), field for field")
    run = str(uuid.uuid4())
    steps = [{"pipeline_id": run, "expected_version": 4000000000,
              "pipeline_run_id": str(uuid.uuid4()), "stage_index": 2,
              "after": str(uuid.uuid4()), "chunk": 300,
              "count": 5000000000, "seal_state": bytes(range(64))},
             {"pipeline_id": run, "expected_version": None,
              "pipeline_run_id": str(uuid.uuid4()), "stage_index": 0,
              "after": "00000000-0000-0000-0000-000000000000", "chunk": 0,
              "count": 0, "seal_state": bytes(range(100, 132))}]
    expect([f["name"] for f in branch(v6, "payload", "FillStep")["fields"]]
           == list(steps[0]),
           "6t. commands: FillStep's fields in their order")
    for rec in steps:
        what = f"a {len(rec['seal_state'])}-byte seal_state"
        data = enc(v6, command(("io.sr.v1.FillStep", rec)))
        v6_fills.append(("io.sr.v1.FillStep", rec))
        expect(plain(dec(data, v6, v6))["payload"] == rec,
               f"6t. commands: FillStep round-trips in version 6 ({what})")
        why = refused(data, v6, v5)
        expect(why is not None,
               f"6u. commands: the version 5 reader cannot read FillStep "
               f"({what}; {why}): BACKWARD only, sr-status first")
    commands_v7(v6, v5_payloads + v6_fills)


# SHA-256 of schemas/command.avsc as id 15 was published (commit 9f56294
# to f574037), now schemas/command.v6.avsc.
COMMAND_V6_SHA256 = ("5f8152e92c2d5c11439b44aae13bd59a"
                     "f95d65fbd75bc91e3d512a4527a33e67")


def commands_v7(v6, v6_payloads):
    frozen("command.v6.avsc", COMMAND_V6_SHA256, "6v", 15)
    v7 = load("command.v7.avsc")
    adds = [{"stage_run_id": str(uuid.uuid4()),
             "target_id": str(uuid.uuid4()), "device_id": str(uuid.uuid4()),
             "device_name": "late-device", "device_alias": "rack 9"},
            {"stage_run_id": str(uuid.uuid4()),
             "target_id": str(uuid.uuid4()), "device_id": str(uuid.uuid4()),
             "device_name": "d", "device_alias": None}]
    expect([f["name"] for f in branch(v7, "payload", "AddTargetRun")["fields"]]
           == list(adds[0]),
           "6x. commands: AddTargetRun's fields in their order")
    adds = [("io.sr.v1.AddTargetRun", rec) for rec in adds]
    newer(v6, v7, v6_payloads, adds, 6, 7, "wxy")
    commands_v8(v7, v6_payloads + adds)


# SHA-256 of schemas/command.avsc as id 16 was published (commit 17f7b49
# to 20a1282), now schemas/command.v7.avsc.
COMMAND_V7_SHA256 = ("abb80d2f458a8597495889da759c891c"
                     "05882c3a156d7fb41760175d72d45b79")


def commands_v8(v7, v7_payloads):
    frozen("command.v7.avsc", COMMAND_V7_SHA256, "6z", 16)
    v8 = load("command.avsc")
    g, p, r = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    dev = [{"device_id": str(uuid.uuid4()), "device_name": "d1",
            "device_alias": "rack 1"},
           {"device_id": str(uuid.uuid4()), "device_name": "d2",
            "device_alias": None}]
    recs = [("PutGroup", {"group_id": g, "expected_version": 3,
                          "name": "canaries"}),
            ("PutGroup", {"group_id": g, "expected_version": None,
                          "name": None}),
            ("PutGroupMembers", {"group_id": g, "expected_version": None,
                                 "chunk_index": 0, "items": dev}),
            ("RemoveGroupMembers", {"group_id": g, "expected_version": 9,
                                    "chunk_index": 1,
                                    "device_ids": [dev[0]["device_id"]]}),
            ("DeleteGroup", {"group_id": g, "expected_version": None}),
            ("SnapshotGroup", {"group_id": g, "expected_version": None,
                               "pipeline_id": p, "pipeline_run_id": r,
                               "after": dev[1]["device_id"], "chunk": 2,
                               "count": 2000, "seal_state": bytes(64)}),
            ("GroupMembers", {"pipeline_id": p, "expected_version": None,
                              "pipeline_run_id": r, "group_id": g,
                              "chunk": 0, "items": dev, "closing": False,
                              "count": 0, "digest": b""}),
            ("GroupMembers", {"pipeline_id": p, "expected_version": None,
                              "pipeline_run_id": r, "group_id": g,
                              "chunk": 1, "items": [], "closing": True,
                              "count": 2, "digest": bytes(range(32))}),
            ("DropRunCopies", {"pipeline_id": p, "expected_version": None,
                               "pipeline_run_id": r, "step": 3})]
    newer(v7, v8, v7_payloads,
          [("io.sr.v1." + n, rec) for n, rec in recs], 7, 8,
          ["z", "a'", "b'"], {"io.sr.v1.FillStep": {"source": 0}})
    step = {"pipeline_id": p, "expected_version": None,
            "pipeline_run_id": r, "stage_index": 1, "after": g,
            "chunk": 2, "count": 200, "seal_state": bytes(64), "source": 2}
    data = enc(v8, command(("io.sr.v1.FillStep", step)))
    expect(plain(dec(data, v8, v8))["payload"] == step,
           "6c'. commands: a FillStep of a group copy (source 2) "
           "round-trips in version 8 (source 0 is written in version 6)")


def frozen(name, sha256, case, schema_id):
    """An older version's file is the text its id was published with."""
    with open(os.path.join(ROOT, "schemas", name), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    expect(digest == sha256,
           f"{case}. {name} is id {schema_id}'s published text (sha256 "
           f"{digest[:16]}...)")


def newer(old, new, old_payloads, branches, n_old, n_new, cases,
          added=None):
    """Version n_new of the commands (a payload branch appended) against
    version n_old: the old branches' records read both ways, field for
    field (`added`: branch name -> the fields n_new added to an old
    branch, with the defaults the n_new reader fills in); each record of
    the new branch (`branches`: (name, record) pairs) round-trips in n_new
    and is refused by n_old."""
    ok = True
    for payload in old_payloads:
        r = command(payload)
        want = dict(plain(payload[1]), **(added or {}).get(payload[0], {}))
        ok = ok and plain(dec(enc(old, r), old, new))["payload"] == \
            want and \
            plain(dec(enc(new, r), new, old))["payload"] == plain(payload[1])
    expect(ok, f"6{cases[0]}. commands: version {n_old} and version {n_new} "
           f"read each other's records of version {n_old}'s branches, "
           f"field for field")
    for branch in branches:
        name = branch[0].rsplit(".", 1)[1]
        data = enc(new, command(branch))
        expect(plain(dec(data, new, new))["payload"] == branch[1],
               f"6{cases[1]}. commands: {name} round-trips in version "
               f"{n_new}")
        why = refused(data, new, old)
        expect(why is not None,
               f"6{cases[2]}. commands: the version {n_old} reader cannot "
               f"read {name} ({why}): BACKWARD only, sr-status first")


def changelogs():
    path = os.path.join(ROOT, "schemas", "changelog.v1.avsc")
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    expect(digest == CHANGELOG_V1_SHA256,
           f"7a. changelog.v1.avsc is id 4's published text (sha256 "
           f"{digest[:16]}...)")
    v1, v2 = load("changelog.v1.avsc"), load("changelog.v2.avsc")
    run = str(uuid.uuid4())
    meta = {"id": str(uuid.uuid4()), "status": "processing", "reason": "",
            "created_at": 1764950400000, "updated_at": 1764950400001,
            "started_at": 0, "ended_at": 0, "version": 3, "deadline": 0}
    target = {"target_id": None, "device_id": str(uuid.uuid4()),
              "device_name": "d1", "device_alias": ""}
    stage = {"meta": meta, "pipeline_run_id": run,
             "pipeline_id": str(uuid.uuid4()),
             "stage_id": str(uuid.uuid4()), "enterprise_id": "acme",
             "index": 0, "name": "canary", "description": "1%",
             "timeout_seconds": 0, "queued_at": 1764950400000,
             "operations": [{"operation_type": "REBOOT",
                             "args_json": None}],
             "targets": [target]}
    old = [("io.sr.v1.StageRun", stage),
           ("io.sr.v1.BatchMarker",
            {"batch_id": "w/1", "partition": 0, "commands_offset": 1,
             "results_offset": 2, "written_at": 1764950400002}),
           ("io.sr.v1.RetiredRun",
            {"pipeline_run_id": run, "enterprise_id": "acme",
             "pipeline_id": str(uuid.uuid4()), "ended_at": 1,
             "retired_at": 2, "forget_at": 0}),
           ("io.sr.v1.DedupeEntry",
            {"input_id": str(uuid.uuid4()), "pipeline_run_id": run,
             "reply": None})]
    ok = True
    for state in old:
        got = plain(dec(enc(v1, {"state": state}), v1, v2))["state"]
        want = dict(state[1])
        if state[0] == "io.sr.v1.StageRun":
            want.update(OPEN_STAGE_DEFAULTS)
        ok = ok and got == want
    expect(ok, "7b. changelog: version 1 records are read by the version 2 "
           "reader, a stage run closed (the open-stage fields' defaults)")
    open_stage = dict(stage, targets=[], append_targets=True,
                      expected_targets=100000, chunks_applied=3,
                      targets_appended=2500, sealed=True, seal_chunks=3,
                      seal_count=2500, seal_digest=bytes(range(32)))
    ok = True
    for state in [("io.sr.v1.StageRun", open_stage)] + old[1:]:
        rec = {"state": state}
        got = plain(dec(enc(v2, rec), v2, v1))["state"]
        want = {k: v for k, v in state[1].items()
                if k not in OPEN_STAGE_DEFAULTS}
        ok = ok and got == want
    expect(ok, "7c. changelog: the version 1 reader reads version 2 records "
           "of the old branches, an open stage's new fields ignored")
    chunk = ("io.sr.v1.StageChunk",
             {"pipeline_run_id": run, "stage_index": 0, "chunk": 2,
              "digest": bytes(range(32, 64)),
              "targets": [target, dict(target, device_name="d2",
                                       device_id=str(uuid.uuid4()))]})
    data = enc(v2, {"state": chunk})
    got = plain(dec(data, v2, v2))["state"]
    expect(got == chunk[1], "7d. changelog: StageChunk round-trips in "
           "version 2")
    why = refused(data, v2, v1)
    expect(why is not None,
           f"7e. changelog: the version 1 reader cannot read StageChunk "
           f"({why}): BACKWARD only, every sr process first")
    changelogs_v3(v2, [("io.sr.v1.StageRun", open_stage)] + old[1:] +
                  [chunk])


# SHA-256 of schemas/changelog.avsc as id 8 was published (commit 32a61ad
# to ff78e89), now schemas/changelog.v2.avsc.
CHANGELOG_V2_SHA256 = ("ba23cfd489fcba5f45ca2a5a3a2a03d5"
                       "2792379e9345836534037b8eaf54682e")

REPLY = {"command_id": str(uuid.uuid4()), "pipeline_run_id":
         str(uuid.uuid4()), "accepted": False, "reason": "stale_version",
         "message": "stage 3f0e...: version 4 is not the current 5",
         "versions": [], "occurred_at": 1764950400000}
DEF_REPLY = {"entity_type": "stage", "entity_id": str(uuid.uuid4()),
             "version": 5, "seq": 40, "created": 0, "added": 0,
             "skipped": 0}


def changelogs_v3(v2, v2_states):
    frozen("changelog.v2.avsc", CHANGELOG_V2_SHA256, "7f", 8)
    v3 = load("changelog.v3.avsc")
    dedupe = ("io.sr.v1.DedupeEntry",
              {"input_id": str(uuid.uuid4()),
               "pipeline_run_id": str(uuid.uuid4()), "reply": REPLY})
    ok = True
    for state in v2_states + [dedupe]:
        got = plain(dec(enc(v2, {"state": state}), v2, v3))["state"]
        want = copy.deepcopy(state[1])
        if state[0] == "io.sr.v1.DedupeEntry" and want["reply"]:
            want["reply"]["definition"] = None
        ok = ok and got == want
    expect(ok, "7g. changelog: version 2 records are read by the version 3 "
           "reader (a dedupe entry's reply: definition null)")
    ok = True
    with_def = copy.deepcopy(dedupe)
    with_def[1]["reply"]["definition"] = DEF_REPLY
    for state in v2_states + [with_def]:
        got = plain(dec(enc(v3, {"state": state}), v3, v2))["state"]
        ok = ok and got == (dedupe[1] if state is with_def else state[1])
    expect(ok, "7h. changelog: the version 2 reader reads version 3 records "
           "of the old branches (a reply's definition ignored)")
    for name in DEFRECORDS:
        rec = sample(branch(v3, "state", name))
        data = enc(v3, {"state": ("io.sr.v1." + name, rec)})
        expect(plain(dec(data, v3, v3))["state"] == rec,
               f"7i. changelog: {name} round-trips in version 3")
        why = refused(data, v3, v2)
        expect(why is not None,
               f"7j. changelog: the version 2 reader cannot read {name} "
               f"({why}): BACKWARD only, every sr process first")
    with_def[1]["reply"]["definition"]["entity_type"] = "device_group"
    changelogs_v4(v3, v2_states + [dedupe, with_def] +
                  [("io.sr.v1." + n,
                    sample(branch(v3, "state", n))) for n in DEFRECORDS])


# SHA-256 of schemas/changelog.avsc as id 12 was published (commit
# 1f94497 to 20a1282), now schemas/changelog.v3.avsc.
CHANGELOG_V3_SHA256 = ("588a26cd9cabef080b529f624cd5ac2c"
                       "4f7d0abea0a1cfeaf88d9d6be1484f9c")
GROUPRECORDS = ["DeviceGroup", "DeviceGroupMember", "RunGroupMember",
                "RunGroupCopy"]


def changelogs_v4(v3, v3_states):
    frozen("changelog.v3.avsc", CHANGELOG_V3_SHA256, "7k", 12)
    v4 = load("changelog.avsc")
    ok = True
    for state in v3_states:
        # as version 3 writes and reads it (the defaults it fills in)
        want = plain(dec(enc(v3, {"state": state}), v3, v3))["state"]
        ok = ok and \
            plain(dec(enc(v3, {"state": state}), v3, v4))["state"] == \
            want and \
            plain(dec(enc(v4, {"state": state}), v4, v3))["state"] == want
    expect(ok, "7l. changelog: version 3 and version 4 read each other's "
           "records of version 3's branches (a group's dedupe entry "
           "included), field for field")
    for name in GROUPRECORDS:
        for nulls in (False, True):
            rec = sample(branch(v4, "state", name), nulls)
            data = enc(v4, {"state": ("io.sr.v1." + name, rec)})
            expect(plain(dec(data, v4, v4))["state"] == rec,
                   f"7m. changelog: {name} round-trips in version 4")
            why = refused(data, v4, v3)
            expect(why is not None,
                   f"7n. changelog: the version 3 reader cannot read {name} "
                   f"({why}): BACKWARD only, every sr process first")


# SHA-256 of schemas/reply.avsc as id 6 was published (its text from
# commit b719fae to ff78e89), now schemas/reply.v1.avsc.
REPLY_V1_SHA256 = ("aa12bbf7c2007819cdaf60a406c46ab3"
                   "2f944b54dfc55aef1f26d3543a61e896")


def replies():
    frozen("reply.v1.avsc", REPLY_V1_SHA256, "8a", 6)
    v1, v2 = load("reply.v1.avsc"), load("reply.avsc")
    got = plain(dec(enc(v1, REPLY), v1, v2))
    expect(got == dict(REPLY, definition=None),
           "8b. replies: a version 1 reply is read by the version 2 reader, "
           "definition null")
    rec = dict(REPLY, reason="none", accepted=True, definition=DEF_REPLY)
    got = plain(dec(enc(v2, rec), v2, v1))
    expect(got == dict(REPLY, reason="none", accepted=True),
           "8c. replies: the version 1 reader reads a version 2 reply with "
           "a definition, the field ignored (FULL: a gateway of the "
           "release before still reads it)")
    expect(plain(dec(enc(v2, rec), v2, v2)) == rec,
           "8d. replies: a definition reply round-trips in version 2")


def definition_events():
    s = load("definition_event.avsc")
    expect(parse_schema(copy.deepcopy(s))["name"] ==
           "io.sr.v1.DefinitionChanged",
           "9a. definition_event.avsc parses as io.sr.v1.DefinitionChanged")
    ok = True
    for parent in (str(uuid.uuid4()), None):
        rec = sample(s)
        rec["parent_id"] = parent
        rec["change"] = "deleted"
        ok = ok and plain(dec(enc(s, rec), s, s)) == rec
    expect(ok, "9b. a DefinitionChanged round-trips with and without a "
           "parent")


def main():
    today = load("event.avsc")
    newer = copy.deepcopy(today)
    newer["fields"].append({"name": "attempt", "type": "int", "default": 0,
                            "doc": "test-only: a field added with a "
                            "default"})
    newer["fields"].append({"name": "labels",
                            "type": {"type": "map", "values": "string"},
                            "default": {}})

    ev = event()
    newer_rec = dict(ev, attempt=3, labels={"k": "v"})
    got = dec(enc(newer, newer_rec), newer, today)
    expect(same(got, ev) and "attempt" not in got,
           "1. event: a newer writer's record (fields added with defaults) "
           "is read by today's reader, the new fields ignored")

    got = dec(enc(today, ev), today, newer)
    expect(got.get("attempt") == 0 and got.get("labels") == {} and
           same({k: v for k, v in got.items()
                 if k not in ("attempt", "labels")}, ev),
           "2. event: today's record is read by the newer reader, the "
           "defaults filled in")

    # 3. The registry's text is the writer schema a client resolves: the
    # .avsc as compiled in (the C table is generated from the same file).
    expect(fastavro.schema.parse_schema(today)["name"] ==
           "io.sr.v1.StatusChangeEvent",
           "3. event.avsc parses as io.sr.v1.StatusChangeEvent, the "
           "registry's schema for id 3")

    # 4. The changelog: union branches appended at the end.
    cl = load("changelog.avsc")
    cl_newer = copy.deepcopy(cl)
    cl_newer["fields"][0]["type"].append(
        {"type": "record", "name": "TestOnlyKind", "namespace": "io.sr.v1",
         "fields": [{"name": "n", "type": "long"}]})
    branches = cl["fields"][0]["type"]
    marker = next(b for b in branches if b.get("name") == "BatchMarker")
    sample = {}
    for f in marker["fields"]:
        t = f["type"]
        t = t.get("type") if isinstance(t, dict) else t
        sample[f["name"]] = {"long": 1, "int": 1, "string": "x",
                             "boolean": False}.get(t, None)
    if any(v is None for v in sample.values()):
        expect(False, "4. test set-up: BatchMarker has a field type this "
               f"test does not fill: {marker['fields']}")
        return 1
    rec = {f["name"]: None for f in cl["fields"]}
    rec["state"] = ("io.sr.v1.BatchMarker", sample)
    for f in cl["fields"][1:]:
        rec[f["name"]] = f.get("default")
    try:
        data_old = enc(cl, rec)
    except Exception as e:
        expect(False, f"4. test set-up: cannot encode a BatchMarker: {e!r}")
        return 1
    got = dec(data_old, cl, cl_newer)
    expect(marker_of(got),
           "4a. changelog: a newer reader (a union branch appended) reads "
           "today's records")
    got = dec(enc(cl_newer, rec), cl_newer, cl)
    expect(marker_of(got),
           "4b. changelog: today's reader reads a newer writer's records "
           "of the branches it knows")
    new_rec = dict(rec, state=("io.sr.v1.TestOnlyKind", {"n": 7}))
    why = refused(enc(cl_newer, new_rec), cl_newer, cl)
    expect(why is not None,
           f"4c. changelog: today's reader cannot read the new branch "
           f"({why}): BACKWARD only, readers are upgraded first")

    # 5. What never changes.
    no_default = copy.deepcopy(today)
    no_default["fields"].append({"name": "attempt", "type": "int"})
    why = refused(enc(today, ev), today, no_default)
    expect(why is not None,
           f"5a. a field added without a default: a newer reader cannot "
           f"read today's records ({why})")
    retyped = copy.deepcopy(today)
    next(f for f in retyped["fields"] if f["name"] == "seq")["type"] = \
        "string"
    why = refused(enc(today, ev), today, retyped)
    expect(why is not None, f"5b. a field's type changed: refused ({why})")
    more = copy.deepcopy(today)
    et = next(f for f in more["fields"] if f["name"] == "entity_type")
    et["type"]["symbols"].append("test_only_kind")
    why = refused(enc(more, dict(ev, entity_type="test_only_kind")), more,
                  today)
    expect(why is not None and "default" not in
           next(f for f in today["fields"]
                if f["name"] == "entity_type")["type"],
           f"5c. an enum symbol added to EntityType (no default): today's "
           f"reader cannot read it ({why})")

    commands()
    changelogs()
    replies()
    definition_events()

    if failures:
        print(f"evolution: FAILED: {len(failures)} case(s)")
        return 1
    print("evolution: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
