#!/usr/bin/env python3
"""Differential test of stored definitions: random command sequences
through the Python reference model (defsmodel.py) and the C rules
(sr-defs-replay, common/domain/sr_defs.c), comparing every output (reply,
entity, counts, change records with their seq, target records, and the
whole aggregate after each command; not the message's wording). On a
mismatch it prints the case and both outputs and exits 1.

    defs_differential.py --replay build/tests/sr-defs-replay --seed 1 --cases 1000
    defs_differential.py --replay build/tests/sr-defs-replay --reload ...

With --reload the C side writes every accepted command's records to a
store by key and loads the aggregate back from it before the next command
(what the worker's store and restore will do): the outputs must not change.
"""
import argparse
import json
import random
import subprocess
import sys
import os
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import defsmodel  # noqa: E402

KINDS = [("PutPipeline", 6), ("DeletePipeline", 0.3), ("PutStage", 8),
         ("DeleteStage", 2), ("PutTargetList", 5), ("DeleteTargetList", 1),
         ("AttachTargetList", 5), ("DetachTargetList", 1),
         ("AddTargets", 5), ("UpdateTarget", 2), ("RemoveTarget", 2),
         ("LinkDeviceGroup", 2), ("UnlinkDeviceGroup", 1),
         ("PutOperationList", 5), ("DeleteOperationList", 1),
         ("PutOperation", 6), ("DeleteOperation", 1),
         ("StartPipelineRun", 3), ("RunEnded", 2)]
NAMES = ["alpha", "Alpha", "s1", "S2", "pipe", "beta", " gamma ", "delta", "", "   ",
         "x" * 255, "tab\tname"]
TYPES = ["DEVICES", "DEVICES", "GROUPS", "COLLECTIONS"]
OPTYPES = ["INSTALL", "REBOOT", "SET_WIFI_STATE", "install", "", "A" * 63]


def ids(rng, prefix, n):
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4))
            for _ in range(n)]


class Gen:
    def __init__(self, rng):
        self.rng = rng
        self.pipes = ids(rng, "p", 3)
        self.stages = ids(rng, "s", 4)
        self.lists = ids(rng, "l", 3)
        self.oplists = ids(rng, "o", 3)
        self.ops = ids(rng, "x", 4)
        self.devices = ids(rng, "d", 6)
        self.groups = ids(rng, "g", 2)
        self.runs = ids(rng, "r", 3)
        self.now = 1_700_000_000_000

    def maybe(self, p=0.5):
        return self.rng.random() < p

    def pick(self, arr):
        return self.rng.choice(arr)

    def command(self):
        rng = self.rng
        kind = rng.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
        c = {"kind": kind,
             "command_id": str(uuid.UUID(int=rng.getrandbits(128),
                                         version=4)),
             "enterprise_id": "ent-a" if self.maybe(0.93) else "ent-b",
             "pipeline_id": self.pipes[0] if self.maybe(0.85) else
             self.pick(self.pipes[1:])}
        if kind.startswith("Put"):
            c["create"] = self.maybe(0.6)
        if self.maybe(0.15):
            c["expected_version"] = rng.randint(0, 4)
        if kind == "PutPipeline":
            self.fields(c, [("name", lambda: self.pick(NAMES)),
                            ("description", lambda: self.pick(["", "d"])),
                            ("is_active", lambda: self.maybe()),
                            ("is_default", lambda: self.maybe()),
                            ("timeout_seconds",
                             lambda: self.pick([0, 60, 86400, -1]))],
                        0.8 if c["create"] else 0.4)
        elif kind in ("PutStage", "DeleteStage"):
            c["stage_id"] = self.pick(self.stages)
            if kind == "PutStage":
                self.fields(c, [("name", lambda: self.pick(NAMES)),
                                ("description", lambda: "d"),
                                ("timeout_seconds",
                                 lambda: self.pick([0, 30, -5])),
                                ("order", lambda: rng.randint(0, 5))],
                            0.5)
                if c["create"] and self.maybe(0.8):
                    c["name"] = self.pick(NAMES)
        elif kind in ("PutTargetList", "DeleteTargetList"):
            c["target_list_id"] = self.pick(self.lists)
            if kind == "PutTargetList":
                self.fields(c, [("name", lambda: self.pick(NAMES)),
                                ("type", lambda: self.pick(TYPES))],
                            0.8 if c["create"] else 0.3)
        elif kind in ("AttachTargetList", "DetachTargetList"):
            c["stage_id"] = self.pick(self.stages)
            c["target_list_id"] = self.pick(self.lists)
        elif kind == "AddTargets":
            c["target_list_id"] = self.pick(self.lists)
            c["chunk_index"] = rng.randint(0, 3)
            c["items"] = []
            for _ in range(rng.randint(0, 4)):
                it = {"device_id": self.pick(self.devices)}
                if self.maybe(0.8):
                    it["device_name"] = self.pick(["dev", "x" * 255])
                if self.maybe(0.3):
                    it["device_alias"] = "al"
                if self.maybe(0.3):
                    it["is_active"] = self.maybe()
                c["items"].append(it)
        elif kind in ("UpdateTarget", "RemoveTarget"):
            c["target_list_id"] = self.pick(self.lists)
            dev = self.pick(self.devices)
            lst = c["target_list_id"] if self.maybe(0.8) \
                else self.pick(self.lists)
            c["target_id"] = defsmodel.target_id(lst, dev)
            if kind == "UpdateTarget":
                self.fields(c, [("device_name", lambda: self.pick(
                                    ["new", "x" * 255])),
                                ("is_active", lambda: self.maybe())], 0.6)
        elif kind in ("LinkDeviceGroup", "UnlinkDeviceGroup"):
            c["target_list_id"] = self.pick(self.lists)
            c["device_group_id"] = self.pick(self.groups)
        elif kind in ("PutOperationList", "DeleteOperationList"):
            c["stage_id"] = self.pick(self.stages)
            c["operation_list_id"] = self.pick(self.oplists)
            if kind == "PutOperationList":
                self.fields(c, [("name", lambda: self.pick(NAMES)),
                                ("description", lambda: "d")],
                            0.8 if c["create"] else 0.4)
        elif kind in ("PutOperation", "DeleteOperation"):
            c["operation_list_id"] = self.pick(self.oplists)
            c["operation_id"] = self.pick(self.ops)
            if kind == "PutOperation":
                self.fields(c, [("operation_type",
                                 lambda: self.pick(OPTYPES)),
                                ("args", lambda: self.pick(
                                    [{}, {"package_name": "a"},
                                     {"n": 1, "a": [1, 2]}]))],
                            0.85 if c["create"] else 0.4)
        elif kind in ("StartPipelineRun", "RunEnded"):
            c["pipeline_run_id"] = self.pick(self.runs)
            if kind == "RunEnded":
                c["status"] = self.pick(["success", "cancelled"])
        return c

    def base(self, kind, pid, **kw):
        c = {"kind": kind,
             "command_id": str(uuid.UUID(int=self.rng.getrandbits(128),
                                         version=4)),
             "enterprise_id": "ent-a", "pipeline_id": pid}
        c.update(kw)
        return c

    def prologue(self):
        """Valid creates, so that most random commands meet entities."""
        out = []
        for pid in self.pipes[:2]:
            if self.maybe(0.9):
                out.append(self.base("PutPipeline", pid, create=True,
                                     name="pipe"))
        pid = self.pipes[0]
        names = ["s1", "s2", "s3", "s4"]
        for sid, name in zip(self.stages, names):
            if self.maybe(0.7):
                out.append(self.base("PutStage", pid, create=True,
                                     stage_id=sid, name=name))
        for lid, t in zip(self.lists, ["DEVICES", "GROUPS",
                                         self.pick(["DEVICES", "COLLECTIONS"])]):
            if self.maybe(0.7):
                out.append(self.base("PutTargetList", pid, create=True,
                                     target_list_id=lid, name="l" + lid[:4],
                                     type=t))
        for olid in self.oplists:
            if self.maybe(0.6):
                out.append(self.base("PutOperationList", pid, create=True,
                                     stage_id=self.pick(self.stages),
                                     operation_list_id=olid,
                                     name="o" + olid[:4]))
        for oid in self.ops:
            if self.maybe(0.6):
                out.append(self.base("PutOperation", pid, create=True,
                                     operation_list_id=self.pick(
                                         self.oplists),
                                     operation_id=oid,
                                     operation_type="INSTALL",
                                     args={"package_name": "a"}))
        return out

    def fields(self, c, fields, p):
        for name, fn in fields:
            if self.maybe(p):
                c[name] = fn()

    def case(self, n):
        opts = {}
        if self.maybe(0.5):
            opts = {"max_stages": self.rng.randint(1, 4),
                    "max_ops": self.rng.randint(1, 3),
                    "max_targets": self.rng.randint(1, 5),
                    "chunk_targets": self.rng.randint(1, 4)}
        lines = []
        for c in self.prologue():
            self.now += self.rng.randint(0, 2000)
            lines.append({"now": self.now, "cmd": c})
        for _ in range(n):
            self.now += self.rng.randint(0, 2000)
            lines.append({"now": self.now, "cmd": self.command()})
        return opts, lines


def run_model(opts, lines):
    m = defsmodel.Pipelines()
    return [m.apply(ln["cmd"], ln["now"], opts) for ln in lines]


def strip(out):
    """What is compared: everything but the message's wording, and on a
    refusal other than stale_version the entity's version (the reply
    carries a version to act on only for stale_version)."""
    out = dict(out)
    out.pop("message", None)
    if not out["accepted"] and out["reason"] != "stale_version":
        out["entity"] = out["entity"][:2]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--replay", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--length", type=int, default=60)
    ap.add_argument("--reload", action="store_true",
                    help="sr-defs-replay --reload: every accepted command's "
                    "records written and the aggregate loaded back from them")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    proc = subprocess.Popen([a.replay] + (["--reload"] if a.reload else []),
                            stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, bufsize=1)
    accepted = refused = 0
    reasons = {}
    for case in range(a.cases):
        g = Gen(rng)
        opts, lines = g.case(rng.randint(5, a.length))
        proc.stdin.write(json.dumps({"reset": opts}) + "\n")
        want = run_model(opts, lines)
        for i, ln in enumerate(lines):
            proc.stdin.write(json.dumps(ln) + "\n")
            proc.stdin.flush()
            got = json.loads(proc.stdout.readline())
            if strip(got) != strip(want[i]):
                print("MISMATCH seed=%d case=%d input=%d" % (a.seed, case, i))
                print("opts:", json.dumps(opts))
                for j in range(i + 1):
                    print("in[%d]:" % j, json.dumps(lines[j]))
                    if j < i:
                        print("   ->", json.dumps(want[j]["reason"]))
                print("model:", json.dumps(strip(want[i]), sort_keys=True))
                print("C    :", json.dumps(strip(got), sort_keys=True))
                print("C message:", got.get("message"))
                proc.kill()
                return 1
            if got["accepted"]:
                accepted += 1
            else:
                refused += 1
                reasons[got["reason"]] = reasons.get(got["reason"], 0) + 1
    proc.stdin.close()
    proc.wait()
    print("defs_differential%s seed=%d cases=%d accepted=%d refused=%d %s "
          "mismatches=0" % (" --reload" if a.reload else "", a.seed,
                            a.cases, accepted, refused,
                            " ".join("%s=%d" % kv
                                     for kv in sorted(reasons.items()))))
    need = {"not_found", "invalid_value", "stale_version", "name_taken",
            "order_taken", "in_use", "wrong_type", "pipeline_deleted",
            "run_starting", "not_supported"}
    missing = need - set(reasons)
    if missing and a.cases >= 500:
        print("the generator never reached: %s" % " ".join(sorted(missing)))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
