#!/usr/bin/env python3
"""tests/deploy/test_demo.py BUILD - `sr-dev --demo` brings the fleet alive
on its own (README, "Walk-through").

sr-dev --demo starts; within DEADLINE_S seconds of its "ready" line the
gateway's REST reads (the same a newcomer's console makes) show:
  - the canary (auto_promote false) ended success, its stage runs 1%, 10%,
    100% each success, each started after the previous one ended: it was
    promoted stage by stage, in order;
  - the run with failing devices ended failure: its first stage failure,
    exactly floor-002 and floor-004 failed (command status FAILED, the
    agent honouring args.simulate.fail), the others succeeded, the second
    stage cancelled with reason previous_stage_failed;
  - the slow run ended cancelled, reason cancelled_by_user;
  - the batch (auto_promote true) ended success, its three stage runs
    success and in order (nobody promotes it: the demo only promotes
    the canary);
and `sr-cli follow --run` of the canary shows its stage runs 2 and 3 going
pending -> queued with reason promoted, in stage order, and of the batch
the same with reason auto_promoted; sr-dev's stdout holds only its four
machine lines, after SIGTERM too, and sr-dev exits 0. Also: --demo with
--agent off and a bad --demo-rounds are refused (exit 64, named)."""
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from devfleet import DevFleet, http_get, stop  # noqa: E402

DEADLINE_S = 60


def get(fleet, token, path):
    status, body = http_get(fleet.http + path,
                            headers={"Authorization": "Bearer " + token})
    if status != 200:
        raise AssertionError("GET %s: %s %s" % (path, status, body[:300]))
    return json.loads(body)["content"]


def stage_runs(fleet, token, run):
    return get(fleet, token, "/v0/runs/%s/stageruns/?limit=100" % run["id"])[
        "results"]


def target_runs(fleet, token, stage):
    return get(fleet, token, "/v0/stageruns/%s/targetruns/?limit=1000"
               % stage["id"])["results"]


def in_order(stages):
    """Each stage run started after the previous one ended."""
    return all(stages[i]["started_at"] and stages[i - 1]["ended_at"] and
               stages[i]["started_at"] >= stages[i - 1]["ended_at"]
               for i in range(1, len(stages)))


def check_canary(fleet, token, run):
    if run["status"] != "success":
        return "status %s" % run["status"]
    assert run["auto_promote"] is False, run
    stages = stage_runs(fleet, token, run)
    names = [s["stage_meta"]["name"] for s in stages]
    assert names == ["1%", "10%", "100%"], names
    assert all(s["status"] == "success" for s in stages), stages
    assert in_order(stages), [(s["started_at"], s["ended_at"])
                              for s in stages]
    counts = [len(target_runs(fleet, token, s)) for s in stages]
    assert counts == [1, 9, 90], counts
    return None


def check_failing(fleet, token, run):
    if run["status"] != "failure":
        return "status %s" % run["status"]
    first, second = stage_runs(fleet, token, run)
    assert first["status"] == "failure", first
    assert second["status"] == "cancelled", second
    assert second["status_meta"]["reason"] == "previous_stage_failed", second
    tr = {t["device_name"]: t for t in target_runs(fleet, token, first)}
    failed = sorted(n for n, t in tr.items() if t["status"] == "failure")
    assert failed == ["floor-002", "floor-004"], failed
    assert all(tr[n]["command_status"] == "FAILED" for n in failed), tr
    assert all(t["status"] == "success" for n, t in tr.items()
               if n not in failed), tr
    return None


def check_cancelled(fleet, token, run):
    if run["status"] != "cancelled":
        return "status %s" % run["status"]
    assert run["status_meta"]["reason"] == "cancelled_by_user", run
    return None


def check_batch(fleet, token, run):
    if run["status"] != "success":
        return "status %s" % run["status"]
    assert run["auto_promote"] is True, run
    stages = stage_runs(fleet, token, run)
    assert [s["stage_meta"]["name"] for s in stages] == [
        "batch-1", "batch-2", "batch-3"], stages
    assert all(s["status"] == "success" for s in stages), stages
    assert in_order(stages), stages
    return None


def follow(build, fleet, run_id, timeout=30.0):
    """sr-cli follow --run RUN --from-beginning's lines up to the pipeline
    run's terminal event (or timeout)."""
    proc = subprocess.Popen(
        [os.path.join(build, "sr-cli"), "-b", fleet.bootstrap, "follow",
         "--run", run_id, "--from-beginning"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    q = queue.Queue()
    threading.Thread(target=lambda: [q.put(l) for l in proc.stdout] +
                     [q.put(None)], daemon=True).start()
    lines, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                line = q.get(timeout=1.0)
            except queue.Empty:
                continue
            if line is None:
                break
            lines.append(line.strip())
            if "entity=pipeline_run" in line and " -> " in line and \
                    line.split(" -> ")[1].split()[0] in (
                        "success", "failure", "cancelled"):
                break
    finally:
        stop(proc, 5)
    return lines


def queued_stage_ids(lines, reason):
    """Stage run ids that went pending -> queued for @reason, by seq."""
    return [l.split(" id=")[1].split()[0] for l in lines
            if "entity=stage_run" in l and "pending -> queued" in l and
            "reason=%s " % reason in l + " "]


CHECKS = {"canary": check_canary, "signage": check_failing,
          "cancelled": check_cancelled, "batch": check_batch}


def kind_of(run):
    for k in CHECKS:
        if k in run["pipeline_name"]:
            return k
    return None


def check_refusals(build):
    """--demo without the agent, and a bad --demo-rounds, are usage errors
    (64) named on stderr, nothing on stdout."""
    for args, msg in ((["--demo", "--agent", "off"],
                       "--demo needs the agent (--agent on)"),
                      (["--demo-rounds", "-1"],
                       '--demo-rounds: bad value "-1"')):
        p = subprocess.run([os.path.join(build, "sr-dev")] + args,
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 64 and p.stdout == "" and msg in p.stderr, \
            (args, p.returncode, p.stdout, p.stderr)
    print("ok refusals")


def main():
    build = sys.argv[1]
    check_refusals(build)
    with tempfile.TemporaryDirectory(prefix="sr-demo-") as tmp:
        fleet = DevFleet(build, tmp, ["--demo"])
        try:
            token = fleet.lines["token"].split()[0]
            ready_at = time.monotonic()
            pending = dict.fromkeys(CHECKS, "no run yet")
            while pending and time.monotonic() < ready_at + DEADLINE_S:
                runs = get(fleet, token, "/v0/runs/?limit=1000")["results"]
                for run in runs:
                    k = kind_of(run)
                    if k in pending:
                        why = CHECKS[k](fleet, token, run)
                        if why is None:
                            print("ok %s run %s after %.1f s" % (
                                k, run["id"], time.monotonic() - ready_at))
                            del pending[k]
                        else:
                            pending[k] = why
                time.sleep(1)
            if pending:
                raise AssertionError("not seen in %d s: %s (see %s)" % (
                    DEADLINE_S, pending, fleet.log.name))
            runs = get(fleet, token, "/v0/runs/?limit=1000")["results"]
            for k, reason in (("canary", "promoted"),
                              ("batch", "auto_promoted")):
                run = next(r for r in runs if kind_of(r) == k and
                           r["status"] == "success")
                ids = [st["id"] for st in stage_runs(fleet, token, run)]
                got = queued_stage_ids(follow(build, fleet, run["id"]),
                                       reason)
                assert got == ids[1:], "%s: sr-cli follow shows %s %s, " \
                    "expected stages 2, 3 %s" % (k, reason, got, ids[1:])
                print("ok sr-cli follow %s: stages 2, 3 %s in order" % (
                    k, reason))
        except BaseException:
            with open(os.path.join(tmp, "dev.log")) as f:
                sys.stderr.write("".join(l for l in f if "fac=DEMO" in l))
            raise
        finally:
            fleet.close()
        rest = fleet.proc.stdout.read()
        assert rest == "", "extra stdout lines: %r" % rest
        assert set(fleet.lines) == {"bootstrap.servers", "http", "token",
                                    "ready workers"}, fleet.lines
        assert fleet.proc.returncode == 0, fleet.proc.returncode
    print("ok demo")


if __name__ == "__main__":
    main()
