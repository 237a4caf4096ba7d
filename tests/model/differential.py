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


def gen_spec(rng, open_p=0.0):
    """A run spec; with open_p, each stage is open with that chance: its
    spec says {"append": true, "expected": N} and its targets (the pool,
    returned beside the spec: {stage index: [target, ...]}) come in
    chunks."""
    n_stages = rng.choice([0] + [1, 2, 3, 4] * 6)
    spec = {"pipeline_id": rid(rng), "pipeline_name": "p%d" % rng.randrange(9),
            "auto_promote": rng.random() < 0.4, "stages": []}
    if rng.random() < 0.3:
        # 60 days: past its target runs' own 7-day deadline
        spec["timeout_seconds"] = rng.choice([30, 120, 600, 60 * 86400])
    for i in range(n_stages):
        st = {"name": "s%d" % i, "description": "",
              "operations": [{"operation_type": rng.choice(OPS),
                              "args": {"n": rng.randrange(100)}}
                             for _ in range(rng.choice([0] + [1, 2, 3] * 8))],
              "targets": [{"device_id": rid(rng),
                           "device_name": "dev-%d" % k}
                          for k in range(rng.choice([0] + [1, 1, 2, 2, 3, 4, 5, 6] * 4))]}
        if rng.random() < 0.3:
            # 14 days: the target runs' deadline comes first, in steps
            st["timeout_seconds"] = rng.choice([20, 60, 300, 14 * 86400])
        spec["stages"].append(st)
    pools = {}
    for i, st in enumerate(spec["stages"]):
        if rng.random() < open_p:
            pools[i] = st["targets"]
            for t in pools[i]:
                if rng.random() < 0.3:
                    t["target_id"] = rid(rng)
                if rng.random() < 0.2:
                    t["device_alias"] = "alias-%d" % rng.randrange(9)
            st["targets"] = {"append": True, "expected": len(pools[i])}
    return spec, pools


def ids_of(run_id, spec, pools):
    """Derived ids (sr_model.c): stage runs, target runs and their command
    (an open stage's target runs are named by their device)."""
    stages, targets = [], []
    for i, st in enumerate(spec["stages"]):
        stages.append(srmodel.v5("%s/stage/%d" % (run_id, i)))
        items = pools.get(i, st["targets"])
        for j in range(len(st["operations"])):
            for k, tg in enumerate(items):
                if i in pools:
                    t = srmodel.v5("%s/stage/%d/device/%s/op/%d" % (
                        run_id, i, tg["device_id"], j))
                else:
                    t = srmodel.v5("%s/stage/%d/op/%d/target/%d" % (
                        run_id, i, j, k))
                targets.append((t, stages[-1], tg))
    return stages, targets


def split_chunks(rng, items):
    """An open stage's targets as chunks of 1-3 (none for no targets)."""
    chunks, i = [], 0
    while i < len(items):
        n = rng.choice([1, 2, 2, 3])
        chunks.append(items[i:i + n])
        i += n
    return chunks


def open_plan(rng, chunks):
    """A client's way through an open stage: its chunks in random order,
    some twice, and the seal somewhere among the later ones (again at the
    end when it came too early): [(kind, chunk index or None)]."""
    plan = [("append", k) for k in range(len(chunks))]
    plan += [("append", k) for k in range(len(chunks))
             if rng.random() < 0.2]
    if rng.random() < 0.1:
        plan.append(("beyond", len(chunks)))  # a chunk the seal does not count
    if chunks and rng.random() < 0.1:
        plan.append(("dupdev", rng.randrange(len(chunks))))
    rng.shuffle(plan)
    at = rng.randrange(len(plan) // 2, len(plan) + 1)
    plan.insert(at, ("seal", None))
    if at < len(plan) - 1:
        plan.append(("seal", None))
    return plan


def open_input(rng, run_id, spec, pools, chunks, gm, ts, cmd):
    """An AppendTargets or SealTargets for one of the run's stages: mostly
    its right chunks (any order, again) and right seals, else a chunk
    conflicting with one, a device twice, a chunk beyond the seal, an
    empty or oversized chunk, a nil device, a wrong seal (a chunk missing,
    another count or digest), a seal of what the run holds, an inline or
    unknown stage."""
    si = rng.choice(sorted(pools)) if pools else 0
    ch = chunks.get(si, [])
    x = rng.random()
    if x < 0.03 or not pools:
        si = rng.choice([len(spec["stages"]), si + 100] +
                        [i for i in range(len(spec["stages"]))
                         if i not in pools])
    if rng.random() < 0.62:
        # AppendTargets
        k = rng.randrange(len(ch) + 1) if ch else 0
        items = json.loads(json.dumps(ch[k])) if k < len(ch) else []
        y = rng.random()
        if y < 0.08 or not items:
            # a new device at this index (a conflict, or beyond the seal)
            items = items + [{"device_id": rid(rng),
                              "device_name": "new-%d" % rng.randrange(9)}]
        elif y < 0.14:
            items[0]["device_name"] += "-x"  # same index, other items
        elif y < 0.19:
            other = [t for c in ch for t in c]
            items.append(dict(rng.choice(other)))  # a device twice
        elif y < 0.21:
            items = []
        elif y < 0.23:
            items[0]["device_id"] = "00000000-0000-0000-0000-000000000000"
        elif y < 0.26:
            items = items + [{"device_id": rid(rng), "device_name": "a"},
                             {"device_id": rid(rng), "device_name": "b"}]
        return cmd(run_id, "append_targets", stage_index=si, chunk=k,
                   targets=items)
    # SealTargets
    digests = [srmodel.chunk_digest(c) for c in ch]
    n, count = len(ch), sum(len(c) for c in ch)
    y = rng.random()
    run = gm.runs.get(run_id)
    if y < 0.25 and run is not None and si < len(run.stages):
        # what the run holds: right whenever its chunks are 0..n-1
        st = run.stages[si]
        if st.open:
            n = max(st.chunks) + 1 if st.chunks else 0
            count = st.appended
            digests = [st.chunks[k][0] if k in st.chunks else "00" * 32
                       for k in range(n)]
    elif y < 0.33:
        n += 1
    elif y < 0.38:
        count += rng.choice([-1, 1]) if count else 1
    elif y < 0.43:
        digests = digests[::-1] if len(digests) > 1 else ["11" * 32]
    elif y < 0.46 and n:
        n -= 1
    elif y < 0.52 and run is not None and si < len(run.stages) and \
            run.stages[si].open:
        count = run.stages[si].appended  # the right chunks, another count
    return cmd(run_id, "seal_targets", stage_index=si, chunks=n,
               count=count, digest=srmodel.seal_digest(digests))


RETENTION_FINISHED = [1000, 1000, 30000, srmodel.DAY]
RETENTION_INPUTS = [0, 2000, 2000, 60000]
STEP_TARGETS = [1, 2, 3]
FILL_TIMEOUT = [0, 30000, 120000, 600000]


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
    # Open stages and steps (docs/targets.md 1-4) in half the cases: open
    # stages in some runs, step_targets of 1-3 so fills and cascades (of
    # inline stages too) go in parts, small chunk and stage limits, a
    # fill timeout. The other half is the case mix of before.
    opened = rng.random() < 0.5
    opts.update(step_targets=0, chunk_targets=0, fill_timeout=0,
                max_targets=0)
    if opened:
        opts.update(
            step_targets=rng.choice(STEP_TARGETS) if rng.random() < 0.7
            else 0,
            chunk_targets=2 if rng.random() < 0.15 else 0,
            fill_timeout=rng.choice(FILL_TIMEOUT),
            max_targets=5 if rng.random() < 0.15 else 0)
    gm = srmodel.Model(**opts)
    ts = 1_700_000_000_000 + rng.randrange(10**6)
    runs, pools, chunks, plans = [], {}, {}, []
    for _ in range(rng.choice([1, 1, 1, 2])):
        run_id = rid(rng)
        spec, pools[run_id] = gen_spec(rng, 0.6 if opened and
                                       rng.random() < 0.8 else 0.0)
        chunks[run_id] = {i: split_chunks(rng, p)
                          for i, p in pools[run_id].items()}
        for i, ch in chunks[run_id].items():
            plans.append((run_id, i, open_plan(rng, ch)))
        runs.append((run_id, spec) + ids_of(run_id, spec, pools[run_id]))
    seq, sent = [], []
    steps = []  # StageSteps the runs sent themselves, not yet delivered

    def add(inp):
        seq.append(inp)
        out = gm.apply(json.loads(json.dumps(inp)))
        steps.extend(out.get("steps", []))

    def deliver_step():
        # a step the run sent, late, in any order; sometimes twice (the
        # same id: the dedupe answers), sometimes a copy under another id
        # (as if the dedupe had lost it), its cursor maybe moved: the
        # stale rules answer
        k = rng.randrange(len(steps))
        st = json.loads(json.dumps(steps[k]))
        x = rng.random()
        if x < 0.1:
            st["command_id"] = rid(rng)
            if rng.random() < 0.4:
                st["cursor"] = max(0, st["cursor"] + rng.choice([-1, 1]))
        elif x > 0.15:
            steps.pop(k)
        add({"input": "command", "ts": ts, "command": st})

    def cmd(run_id, kind, **kw):
        c = {"kind": kind, "command_id": rid(rng), "pipeline_run_id": run_id,
             "enterprise_id": ENT, "issued_at": ts}
        c.update(kw)
        return c

    def delete(run_id, spec):
        # a client's delete (Command version 4): mostly under the run's
        # pipeline, sometimes under another, a few another tenant's
        c = cmd(run_id, "delete_run",
                pipeline_id=(spec["pipeline_id"] if rng.random() < 0.85
                             else rid(rng)))
        if rng.random() < 0.05:
            c["enterprise_id"] = "other"
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
        if steps and rng.random() < 0.3:
            deliver_step()
        if plans and rng.random() < 0.5:
            # the next input of a client's plan for an open stage
            p = rng.randrange(len(plans))
            prun, si, plan = plans[p]
            what, k = plan.pop(0)
            if not plan:
                plans.pop(p)
            ch = chunks[prun][si]
            if what == "append":
                c = cmd(prun, "append_targets", stage_index=si, chunk=k,
                        targets=ch[k])
            elif what == "dupdev":
                # a device of chunk k again, in a chunk of its own
                c = cmd(prun, "append_targets", stage_index=si,
                        chunk=len(ch) + 1,
                        targets=[dict(rng.choice(ch[k]))])
            elif what == "beyond":
                c = cmd(prun, "append_targets", stage_index=si, chunk=k,
                        targets=[{"device_id": rid(rng),
                                  "device_name": "beyond"}])
            else:
                c = cmd(prun, "seal_targets", stage_index=si,
                        chunks=len(ch), count=sum(len(x) for x in ch),
                        digest=srmodel.seal_digest(
                            [srmodel.chunk_digest(x) for x in ch]))
                grun = gm.runs.get(prun)
                if grun is not None and si < len(grun.stages) and \
                        grun.stages[si].open and rng.random() < 0.2:
                    c["count"] = grun.stages[si].appended  # all it holds
            add({"input": "command", "ts": ts, "command": c})
        elif pools[run_id] and rng.random() < 0.12:
            add({"input": "command", "ts": ts,
                 "command": open_input(rng, run_id, spec, pools[run_id],
                                       chunks[run_id], gm, ts, cmd)})
        if opened and rng.random() < 0.01:
            # a forged or late step: another tenant, cursor, kind or stage
            c = cmd(run_id, "stage_step", stage_index=rng.randrange(3),
                    step=rng.choice(["fill", "cancel", "timeout", "bogus"]),
                    cursor=rng.randrange(4))
            if rng.random() < 0.3:
                c["enterprise_id"] = "other"
            add({"input": "command", "ts": ts, "command": c})
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
        elif r < 0.63 and targets:
            # a client's cancel or resend of a device command (phase D):
            # mostly the target run's own command, sometimes another
            tid = rng.choice(targets)[0]
            c = cmd(run_id, "target_command", target_run_id=tid,
                    device_command_id=(srmodel.v5("%s/command" % tid)
                                       if rng.random() < 0.9 else rid(rng)),
                    action=rng.choice(["cancel", "cancel", "resend",
                                       "resend", "pause"]))
            add({"input": "command", "ts": ts, "command": c})
        elif r < 0.645 and stages:
            # a device added late to a stage run (phase D): mostly a new
            # device, sometimes one the stage has; its target runs join
            # the ones results are drawn for
            si = rng.randrange(len(stages))
            old = [tg for t, s, tg in targets if s == stages[si]]
            if old and rng.random() < 0.15:
                tg = dict(rng.choice(old))
            else:
                tg = {"device_id": rid(rng), "device_name": "late"}
            c = cmd(run_id, "add_target_run",
                    stage_run_id=(stages[si] if rng.random() < 0.95
                                  else rid(rng)),
                    target_id=tg["device_id"], device_id=tg["device_id"],
                    device_name=tg.get("device_name") or "late",
                    device_alias="")
            if rng.random() < 0.03:
                c["enterprise_id"] = "other"
            add({"input": "command", "ts": ts, "command": c})
            if (gm.dedupe.get((run_id, c["command_id"])) or {}).get(
                    "accepted"):
                for j in range(len(spec["stages"][si]["operations"])):
                    t = srmodel.v5("%s/stage/%d/device/%s/op/%d" % (
                        run_id, si, srmodel.uuid_text(tg["device_id"]), j))
                    targets.append((t, stages[si], tg))
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
            other = spec if rng.random() < 0.5 else gen_spec(rng)[0]
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
        elif r < 0.99:
            add({"input": "command", "ts": ts,
                 "command": delete(run_id, spec)})
        if sent and rng.random() < 0.12:
            # redelivery: the same record again (same id), maybe later
            dup = json.loads(json.dumps(rng.choice(sent)))
            if rng.random() < 0.5:
                dup["ts"] = ts
            add(dup)
        sent = seq[:]
    # the steps still owed, in any order, with results between: fills
    # and cascades in parts run to their end; then sometimes a cancel of
    # a run (a stage that ended before it is cascaded too) and its steps
    def drain(limit, p_result):
        nonlocal ts
        for _ in range(limit):
            if not steps:
                return
            ts += rng.choice([0, 1, 100, 1000])
            deliver_step()
            run_id, spec, stages, targets = rng.choice(runs)
            if targets and rng.random() < p_result:
                t, st, tg = rng.choice(targets)
                add({"input": "result", "ts": ts, "result": {
                    "result_id": rid(rng), "pipeline_run_id": run_id,
                    "stage_run_id": st, "target_run_id": t,
                    "command_id": srmodel.v5("%s/command" % t),
                    "command_status": rng.choice(["SUCCESS", "SUCCESS",
                                                  "INPROGRESS", "FAILED"]),
                    "device_id": tg["device_id"],
                    "device_name": tg.get("device_name", ""),
                    "reported_at": ts}})

    drain(40, 0.4)
    if opened and rng.random() < 0.4:
        add({"input": "command", "ts": ts, "command": cmd(
            rng.choice(runs)[0], "set_pipeline_run_status",
            entity_id=None, status="cancelled")})
        drain(30, 0.1)
    if rng.random() < 0.4:
        # a delete once the case is over (its runs more often finished),
        # then maybe late inputs for the run it retired: the delete again,
        # a result
        ts += rng.choice([0, 1000])
        run_id, spec, _, targets = rng.choice(runs)
        add({"input": "command", "ts": ts, "command": delete(run_id, spec)})
        if rng.random() < 0.5:
            add(json.loads(json.dumps(seq[-1])))
        if targets and rng.random() < 0.5:
            t, st, tg = rng.choice(targets)
            add({"input": "result", "ts": ts, "result": {
                "result_id": rid(rng), "pipeline_run_id": run_id,
                "stage_run_id": st, "target_run_id": t,
                "command_id": srmodel.v5("%s/command" % t),
                "command_status": "SUCCESS", "device_id": tg["device_id"],
                "device_name": tg.get("device_name", ""),
                "reported_at": ts}})
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
    m = srmodel.Model(**opts)
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
    n_open = n_sent = n_step_in = n_incomplete = 0
    opened = {"append_targets": {}, "seal_targets": {},
              "target_command": {}, "delete_run": {}, "add_target_run": {}}
    sent_kinds = {}
    for case, c_outs in zip(cases, c_all):
        m_outs = run_model(case)
        n_in += len(case[1])
        n_open += any(o.get("step_targets") is not None and
                      isinstance(st.get("targets"), dict)
                      for o in [case[0]] for i in case[1]
                      if i["input"] == "command" and
                      i["command"]["kind"] == "create_run"
                      for st in i["command"]["spec"]["stages"])
        for inp, o in zip(case[1], c_outs):
            kind = inp["input"] == "command" and inp["command"]["kind"]
            if kind in opened and o["reply"] is not None:
                why = o["reply"]["reason"]
                opened[kind][why] = opened[kind].get(why, 0) + 1
            n_step_in += kind == "stage_step"
            n_sent += len(o.get("steps", []))
            for x in o.get("steps", []):
                sent_kinds[x["step"]] = sent_kinds.get(x["step"], 0) + 1
            n_incomplete += sum(e["reason"] == "targets_incomplete"
                                for e in o["events"])
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
    print("open stages: cases-with-open-stages=%d steps-sent=%d "
          "steps-applied-or-stale=%d targets_incomplete=%d\n"
          "  steps sent by kind %s\n"
          "  append replies %s\n  seal replies %s\n"
          "  target-command replies %s\n  delete replies %s\n"
          "  add-target-run replies %s"
          % (n_open, n_sent, n_step_in, n_incomplete,
             json.dumps(sent_kinds, sort_keys=True),
             json.dumps(opened["append_targets"], sort_keys=True),
             json.dumps(opened["seal_targets"], sort_keys=True),
             json.dumps(opened["target_command"], sort_keys=True),
             json.dumps(opened["delete_run"], sort_keys=True),
             json.dumps(opened["add_target_run"], sort_keys=True)))
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
            print("  %s: reply=%s dlq=%s stale=%s dispatch=%s steps=%s" % (
                who, o["reply"] and (o["reply"]["accepted"],
                                     o["reply"]["reason"]),
                o["dlq"], o.get("stale"),
                [x["kind"] for x in o["dispatch"]],
                [(x["stage_index"], x["step"], x["cursor"])
                 for x in o.get("steps", [])]))
            for e in o["events"]:
                print("     %s %s %s -> %s (%s) v%d" % (
                    e["entity_type"], e["entity_id"][:8], e["from_status"],
                    e["to_status"], e["reason"], e["version"]))
    return 1


if __name__ == "__main__":
    sys.exit(main())
