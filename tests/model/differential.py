#!/usr/bin/env python3
"""Differential test: random command/result sequences through the Python
reference model (srmodel.py) and the C state machine (sr-fsm-replay),
comparing every output field by field. On a mismatch it shrinks the
sequence, prints the shortest one it found with both outputs, and exits 1.

    differential.py --replay build/tests/sr-fsm-replay --seed 1 --cases 3000
"""
import argparse
import json
import os
import random
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srmodel  # noqa: E402

OPS = ["INSTALL", "REBOOT", "UNINSTALL"]
STATUSES_SENT = ["queued", "cancelled", "QUEUED", "Cancelled", "running",
                 "success", "failure", "dispatched", "pending", "bogus",
                 "invalid", "timeout", "waiting"]
RESULT_STATUSES = ["QUEUED", "INITIATED", "ACKNOWLEDGED", "INPROGRESS",
                   "SUCCESS", "FAILED", "FAILURE", "TIMEOUT", "CANCELLED",
                   "ERROR", "success", "InProgress"]
ENT = "ent-a"


def rid(rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def gen_spec(rng):
    n_stages = rng.choice([0] + [1, 2, 3, 4] * 6)
    spec = {"pipeline_id": rid(rng), "pipeline_name": "p%d" % rng.randrange(9),
            "auto_promote": rng.random() < 0.4, "stages": []}
    if rng.random() < 0.3:
        spec["timeout_seconds"] = rng.choice([30, 120, 600])
    for i in range(n_stages):
        st = {"name": "s%d" % i, "description": "",
              "operations": [{"operation_type": rng.choice(OPS),
                              "args": {"n": rng.randrange(100)}}
                             for _ in range(rng.choice([0] + [1, 2, 3] * 8))],
              "targets": [{"device_id": rid(rng),
                           "device_name": "dev-%d" % k}
                          for k in range(rng.choice([0] + [1, 1, 2, 2, 3, 4, 5, 6] * 4))]}
        if rng.random() < 0.3:
            st["timeout_seconds"] = rng.choice([20, 60, 300])
        spec["stages"].append(st)
    return spec


def ids_of(run_id, spec):
    """Derived ids (sr_model.c): stage runs, target runs and their command."""
    stages, targets = [], []
    for i, st in enumerate(spec["stages"]):
        stages.append(srmodel.v5("%s/stage/%d" % (run_id, i)))
        for j in range(len(st["operations"])):
            for k in range(len(st["targets"])):
                t = srmodel.v5("%s/stage/%d/op/%d/target/%d" % (run_id, i, j, k))
                targets.append((t, stages[-1], st["targets"][k]))
    return stages, targets


RETENTION_FINISHED = [1000, 1000, 30000, srmodel.DAY]
RETENTION_INPUTS = [0, 2000, 2000, 60000]


def gen_case(rng):
    """One case: (options, inputs on 1-2 runs). In 2 cases of 3 the runs
    retire (retention.finished of seconds to a day, retention.inputs 0 or
    seconds): a model run alongside tells the exact instants (a run's
    next_deadline, a marker's forget_at) at which timers are sent, so
    retirements, forgetting, child timeouts and late inputs happen."""
    opts = {"retention_finished": 0, "retention_inputs": 0}
    if rng.random() < 0.67:
        opts = {"retention_finished": rng.choice(RETENTION_FINISHED),
                "retention_inputs": rng.choice(RETENTION_INPUTS)}
    gm = srmodel.Model(opts["retention_finished"], opts["retention_inputs"])
    ts = 1_700_000_000_000 + rng.randrange(10**6)
    runs = []
    for _ in range(rng.choice([1, 1, 1, 2])):
        run_id, spec = rid(rng), gen_spec(rng)
        runs.append((run_id, spec) + ids_of(run_id, spec))
    seq, sent = [], []

    def add(inp):
        seq.append(inp)
        gm.apply(json.loads(json.dumps(inp)))

    def cmd(run_id, kind, **kw):
        c = {"kind": kind, "command_id": rid(rng), "pipeline_run_id": run_id,
             "enterprise_id": ENT, "issued_at": ts}
        c.update(kw)
        return c

    for run_id, spec, _, _ in runs:
        add({"input": "command", "ts": ts,
             "command": cmd(run_id, "create_run", spec=spec, run_number=1)})
    n = rng.randrange(5, 45)
    for _ in range(n):
        ts += rng.choice([0, 1, 5, 100, 1000, 5000, 20000, 70000])
        if rng.random() < 0.02:
            ts += rng.choice([7, 21, 30]) * srmodel.DAY
        run_id, spec, stages, targets = rng.choice(runs)
        r = rng.random()
        if r < 0.35 and targets:
            # mostly targets of the earliest stage runs, mostly SUCCESS:
            # runs then get far enough to be promoted and to succeed
            lo = [x for x in targets if x[1] == targets[0][1]]
            t, st, tg = rng.choice(lo if rng.random() < 0.4 else
                                   targets[:max(1, len(targets) // 2)]
                                   if rng.random() < 0.5 else targets)
            res = {"result_id": rid(rng), "pipeline_run_id": run_id,
                   "stage_run_id": st, "target_run_id": t,
                   "command_id": srmodel.v5("%s/command" % t),
                   "command_status": "SUCCESS" if rng.random() < 0.6 else
                   rng.choice(RESULT_STATUSES),
                   "device_id": tg["device_id"],
                   "device_name": tg.get("device_name", ""),
                   "reported_at": ts}
            x = rng.random()
            if x < 0.04:
                res["command_id"] = rid(rng)
            elif x < 0.06:
                res["target_run_id"] = rid(rng)
            elif x < 0.07:
                res["pipeline_run_id"] = rid(rng)
            add({"input": "result", "ts": ts, "result": res})
        elif r < 0.50 and stages:
            c = cmd(run_id, "set_stage_run_status",
                    entity_id=rng.choice(stages),
                    status=rng.choice(["queued"] * 6 + STATUSES_SENT))
            add({"input": "command", "ts": ts, "command": c})
        elif r < 0.56:
            c = cmd(run_id, "set_pipeline_run_status", entity_id=None,
                    status=rng.choice(["cancelled", "cancelled", "running",
                                       "queued", "nope"]))
            add({"input": "command", "ts": ts, "command": c})
        elif r < 0.66 and targets:
            c = cmd(run_id, "set_target_run_status",
                    entity_id=rng.choice(targets)[0],
                    status=rng.choice(["dispatched", "running", "success",
                                       "failure", "cancelled", "queued",
                                       "RUNNING", "xyz"]),
                    device_name=None)
            add({"input": "command", "ts": ts, "command": c})
        elif r < 0.78:
            dl = ts - rng.randrange(0, 1000)
            c = cmd(run_id, "timer_fired", entity_type="pipeline_run",
                    entity_id=run_id, deadline=dl)
            c["command_id"] = srmodel.v5("%s/timer/%d" % (run_id, dl))
            add({"input": "command", "ts": ts, "command": c})
        elif r < 0.82:
            # unknown run, another tenant, unknown stage
            x = rng.random()
            if x < 0.33:
                c = cmd(rid(rng), "set_pipeline_run_status", entity_id=None,
                        status="cancelled")
            elif x < 0.66:
                c = cmd(run_id, "set_pipeline_run_status", entity_id=None,
                        status="cancelled")
                c["enterprise_id"] = "other"
            else:
                c = cmd(run_id, "set_stage_run_status", entity_id=rid(rng),
                        status="queued")
            add({"input": "command", "ts": ts, "command": c})
        elif r < 0.86:
            # a second create: same spec, or another one
            other = spec if rng.random() < 0.5 else gen_spec(rng)
            add({"input": "command", "ts": ts,
                 "command": cmd(run_id, "create_run", spec=other,
                                run_number=1)})
        elif r < 0.96:
            # a timer at exactly the instant the worker arms: the run's
            # next_deadline (a timeout, or its retirement), or a retired
            # run's forget_at
            run = gm.runs.get(run_id)
            mark = gm.retired.get(run_id)
            dl = (run.next_deadline if run is not None else
                  mark["forget_at"] if mark is not None else 0)
            if dl:
                ts = max(ts, dl + rng.choice([0, 0, 1, 30]))
                c = cmd(run_id, "timer_fired", entity_type="pipeline_run",
                        entity_id=run_id, deadline=dl)
                c["command_id"] = srmodel.v5("%s/timer/%d" % (run_id, dl))
                add({"input": "command", "ts": ts, "command": c})
        if sent and rng.random() < 0.12:
            # redelivery: the same record again (same id), maybe later
            dup = json.loads(json.dumps(rng.choice(sent)))
            if rng.random() < 0.5:
                dup["ts"] = ts
            add(dup)
        sent = seq[:]
    return opts, seq


def run_replay(replay, cases):
    lines = []
    for opts, seq in cases:
        lines.append(json.dumps(dict(opts, input="reset")))
        lines.extend(json.dumps(i) for i in seq)
    p = subprocess.run([replay], input="\n".join(lines) + "\n", text=True,
                       capture_output=True, check=False)
    if p.returncode != 0:
        sys.stderr.write(p.stderr)
        raise SystemExit("sr-fsm-replay failed (%d)" % p.returncode)
    outs = [json.loads(x) for x in p.stdout.splitlines()]
    res, i = [], 0
    for _, seq in cases:
        res.append(outs[i:i + len(seq)])
        for inp, o in zip(seq, res[-1]):
            o["_command"] = inp["input"] == "command"
        i += len(seq)
    return res


def run_model(case):
    opts, seq = case
    m = srmodel.Model(opts["retention_finished"], opts["retention_inputs"])
    outs = [m.apply(json.loads(json.dumps(i))) for i in seq]
    for inp, o in zip(seq, outs):
        o["_command"] = inp["input"] == "command"
    return outs


def norm(out):
    """What is compared: everything but the reply's human message and the
    `stale` flag of commands (domain.md defines stale for results only);
    args text compared as JSON."""
    o = json.loads(json.dumps(out))
    if o.get("reply") is not None or o.get("duplicate") or \
            out.get("_command"):
        o.pop("stale", None)
    o.pop("_command", None)
    if o.get("reply"):
        o["reply"].pop("message", None)
    for d in o.get("dispatch", []):
        d["args_json"] = json.loads(d["args_json"])
    return o


def first_diff(c_outs, m_outs):
    for k, (a, b) in enumerate(zip(c_outs, m_outs)):
        if norm(a) != norm(b):
            return k
    return None


def diff_fields(a, b, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            yield from diff_fields(a.get(k, "<absent>"), b.get(k, "<absent>"),
                                   path + "." + k)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            yield "%s: length C=%d model=%d" % (path, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            yield from diff_fields(x, y, "%s[%d]" % (path, i))
    elif a != b:
        yield "%s: C=%s model=%s" % (path, json.dumps(a), json.dumps(b))


def fails(replay, case):
    c = run_replay(replay, [case])[0]
    return first_diff(c, run_model(case)) is not None


def shrink(replay, case):
    """Cut the sequence after the first difference, then drop inputs one
    at a time (creates last) while the mismatch stays."""
    opts, seq = case
    k = first_diff(run_replay(replay, [case])[0], run_model(case))
    seq = seq[:k + 1]
    changed = True
    while changed:
        changed = False
        for i in reversed(range(len(seq))):
            cand = seq[:i] + seq[i + 1:]
            if cand and fails(replay, (opts, cand)):
                seq = cand
                changed = True
    return opts, seq


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--replay", default=os.environ.get(
        "SR_FSM_REPLAY", "build/tests/sr-fsm-replay"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--max-report", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    cases = [gen_case(rng) for _ in range(args.cases)]
    c_all = run_replay(args.replay, cases)
    bad = []
    n_in = n_ev = n_ret = n_forget = n_late = 0
    for case, c_outs in zip(cases, c_all):
        m_outs = run_model(case)
        n_in += len(case[1])
        n_ev += sum(len(o["events"]) for o in c_outs)
        n_ret += sum(o["retired"] is not None for o in c_outs)
        n_forget += sum(o["forgotten"] for o in c_outs)
        n_late += sum(o["dlq"] == "run_retired" for o in c_outs)
        if first_diff(c_outs, m_outs) is not None:
            bad.append(case)
    print("differential: seed=%d cases=%d inputs=%d C-events=%d "
          "retired=%d forgotten=%d run_retired=%d mismatching-cases=%d"
          % (args.seed, args.cases, n_in, n_ev, n_ret, n_forget, n_late,
             len(bad)))
    if not bad:
        return 0
    for case in sorted(bad, key=lambda c: len(c[1]))[:args.max_report]:
        small = shrink(args.replay, case)
        c_outs = run_replay(args.replay, [small])[0]
        m_outs = run_model(small)
        k = first_diff(c_outs, m_outs)
        print("\nshortest failing sequence (%d inputs, from %d), "
              "options %s:" % (len(small[1]), len(case[1]),
                               json.dumps(small[0])))
        for i, inp in enumerate(small[1]):
            print("  [%d] %s" % (i, json.dumps(inp)))
        print("first differing output: input [%d]" % k)
        for line in list(diff_fields(norm(c_outs[k]), norm(m_outs[k])))[:12]:
            print("   ", line)
        for who, o in (("C", c_outs[k]), ("model", m_outs[k])):
            print("  %s: reply=%s dlq=%s stale=%s dispatch=%s" % (
                who, o["reply"] and (o["reply"]["accepted"],
                                     o["reply"]["reason"]),
                o["dlq"], o.get("stale"),
                [x["kind"] for x in o["dispatch"]]))
            for e in o["events"]:
                print("     %s %s %s -> %s (%s) v%d" % (
                    e["entity_type"], e["entity_id"][:8], e["from_status"],
                    e["to_status"], e["reason"], e["version"]))
    return 1


if __name__ == "__main__":
    sys.exit(main())
