#!/usr/bin/env python3
"""tests/chaos/test_check.py - the chaos checker on a recorded case.

fixtures/twice_forwarded/ holds one run of the loaded outbox scenario, seed
1796425655 (its sr.commands records of partition 11, its events and its
dead letters, `raw` dropped): a batch cut by a crash was redone by the
next owner, so results 21946.. of sr.results partition 11 were forwarded
twice (sr.commands 23651.. and 28107..); the first copies moved the run
to success, the run retired, and the second copies were dead-lettered
run_retired. sr.dlq names a result's sr.results position, not the copy.

The checker used to skip every copy of a dead-lettered position, so the
model never applied the first copies: it disagreed with the run's events
and called the dead letters early (that scenario's failure, "278 results
dead-lettered run_retired for runs the model had not retired"). Checked:

 1. check_stream.py agrees with the run's events and final statuses;
 2. check.py's run_states() says every run_retired dead letter met a
    retired run;
 3. it still fails when the worker is made to have dead-lettered the
    first copy (that copy's sr.commands position in sr.dlq): the events
    are then ahead of what the model applied.

And, on a hand-made changelog partition, the retention check's claim
rule (4.): a zombie writer's entity records that land after another
writer's claim and that writer's retirement of the run are ignored, as
restores ignore them (CI seed 1796475700: a worker cut off 30 s by the
proxy had ~2,500 records in flight; they landed once it was reachable
again, after the new owner had retired their runs); the same record
written by the claimant is a run brought back.
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
FX = os.path.join(HERE, "fixtures", "twice_forwarded")
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "model"))
import check  # noqa: E402
import check_stream  # noqa: E402

RETENTION = (60000, 600000)
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL " + msg)


def load(name, folder=FX):
    with open(os.path.join(folder, name)) as f:
        return [json.loads(line) for line in f if line.strip()]


def model(folder):
    r = subprocess.run(
        [sys.executable, os.path.join(HERE, "..", "model", "check_stream.py"),
         "--commands", os.path.join(FX, "commands.jsonl"),
         "--events", os.path.join(FX, "events.jsonl"),
         "--dlq", os.path.join(folder, "dlq.jsonl"),
         "--retention-finished", str(RETENTION[0]),
         "--retention-inputs", str(RETENTION[1])],
        capture_output=True, text=True)
    print(r.stdout.strip().splitlines()[-1] if r.stdout.strip() else
          r.stderr.strip())
    return r.returncode


def clog(offset, key, writer, kind, **value):
    """One changelog record as `sr-cli dump` writes it."""
    return {"topic": "sr.changelog", "partition": 0, "offset": offset,
            "key": key, "type": "changelog",
            "headers": [{"name": "sr_batch", "value": writer + "/1",
                         "b64": False}],
            "value": dict(value, kind=kind)}


def brought_back(changelog):
    c = check.Checker()
    c.retention = RETENTION
    c.check_retention(changelog, [], [], [], set())
    return c.fig["runs_brought_back"], c.fig.get("changelog_fenced_records", 0), \
        c.problems


def check_claim_rule():
    run, old, new = "11111111-1111-4111-8111-111111111111", "A" * 8, "B" * 8
    log = [clog(0, "~claim/" + old, old, "marker"),
           clog(1, run + "/p", old, "entity"),
           clog(2, "~claim/" + new, new, "marker"),
           clog(3, run + "/p", new, "entity"),
           clog(4, run + "/r", new, "retired", ended_at=1),
           clog(5, run + "/p", old, "entity")]  # the zombie's late record
    back, fenced, problems = brought_back(log)
    print("claim rule: a zombie's late record: brought back %d, fenced %d"
          % (back, fenced))
    if back or problems or fenced != 1:
        fail("a fenced writer's record after the claim was counted: "
             "brought back %d, fenced %d, %s" % (back, fenced, problems))
    back, fenced, problems = brought_back(
        log[:5] + [clog(5, run + "/p", new, "entity")])
    print("claim rule: the claimant's record: brought back %d, fenced %d"
          % (back, fenced))
    if back != 1 or not problems:
        fail("the claimant's own record after the retirement was not a run "
             "brought back (brought back %d)" % back)


def main():
    check_claim_rule()
    commands, dlq = load("commands.jsonl"), load("dlq.jsonl")
    dead = check_stream.dead_letters(dlq)
    copies = {}
    for r in commands:
        fwd = check_stream.header(r, "sr_forwarded_from")
        if fwd:
            copies.setdefault(fwd, []).append(r["offset"])
    twice = {k: v for k, v in copies.items() if len(v) == 2}
    retired = [k for k, v in dead.items() if v == "run_retired"]
    print("%d results forwarded twice, %d dead-lettered run_retired"
          % (len(twice), len(retired)))
    if not twice or not retired:
        fail("the fixture lost its case: no result forwarded twice or no "
             "run_retired dead letter")

    # 1. the model agrees with the events
    if model(FX) != 0:
        fail("check_stream.py disagrees with the run's events")

    # 2. every run_retired dead letter met a retired run
    state = check.run_states(commands, dead, RETENTION)
    for src in retired:
        if state.get(src) != "retired":
            fail("%s/%d/%d dead-lettered run_retired, run_states says %s"
                 % (src + (state.get(src),)))

    # 3. the first copy dead-lettered instead: the checker must object
    fwd, offs = sorted(twice.items())[0]
    forged = dict(dlq[0])
    forged["dlq"] = dict(forged["dlq"], topic="commands",
                         partition=commands[0]["partition"],
                         offset=min(offs), reason="run_retired")
    with tempfile.TemporaryDirectory(prefix="sr-chk-") as tmp:
        with open(os.path.join(tmp, "dlq.jsonl"), "w") as f:
            for d in dlq + [forged]:
                f.write(json.dumps(d) + "\n")
        if model(tmp) == 0:
            fail("check_stream.py accepted events caused by a copy the "
                 "worker is said to have dead-lettered (%s at sr.commands "
                 "%d)" % (fwd, min(offs)))
    print("test_check: %s" % ("FAILED" if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
