#!/usr/bin/env python3
"""bench.peer_pg: the PostgreSQL peer gives the final statuses sr-status gives.

Two sr-dev fleets on two embedded brokers, sr-agent answering at zero
latency in both:
  A: sr-dev --workers 1 (sr-status),
  B: sr-dev --workers 0 + sr-peer-pg on a fresh PostgreSQL 15 (pg.sh).
The same run-creation commands (sr-peer-check load: 3 stages x 20 targets x
1 operation, auto-promote on, one run in three with a failing device in its
second stage, one in three in its first) go to both. Then:
  1. the final status and version of every pipeline, stage and target run
     that sr-status's events imply (sr-peer-check final on A), and each
     run's last seq, equal
     - what the peer's events imply (sr-peer-check final on B: also checks
       seq 1, 2, 3 ... in order per run), and
     - the peer's rows in PostgreSQL (status, version, last_seq);
  2. the outbox is empty (the relay deleted what was acknowledged), and
     the peer restarted in its group reads nothing (its offsets were
     committed);
  3. a second peer in a new consumer group re-reads every command and
     result (all of them duplicates): nothing starts, nothing applies, no
     row or event changes.
Usage: test_peer_pg.py --build BUILD [--runs 6] [--targets 20] [--keep]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

from peerlib import start_dev, stop

HERE = os.path.dirname(os.path.abspath(__file__))


def final(build, boot, runs):
    r = subprocess.run(
        [os.path.join(build, "tests", "sr-peer-check"), "final",
         "--bootstrap", boot, "--runs", str(runs), "--timeout-ms", "90000"],
        capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"FAIL sr-peer-check final on {boot}: rc "
                         f"{r.returncode}: {r.stderr.strip()}")
    ents, seqs = {}, {}
    for line in r.stdout.splitlines():
        f = line.split()
        if f[0] == "seq":
            seqs[f[1]] = int(f[2])
        else:
            ents[f[1]] = (f[0], f[2], int(f[3]))
    return ents, seqs


def psql(pgdir, sql):
    r = subprocess.run([os.path.join(HERE, "pg.sh"), "psql", pgdir, "-A",
                        "-t", "-F", " ", "-v", "ON_ERROR_STOP=1", "-c", sql],
                       capture_output=True, text=True, check=True)
    return [line.split() for line in r.stdout.splitlines() if line]


def pg_state(pgdir):
    ents, seqs = {}, {}
    for t in ("pipeline_run", "stage_run", "target_run"):
        for i, st, ver in psql(pgdir, f"SELECT id, status, version FROM {t}"
                               " WHERE status <> 'none'"):
            ents[i] = (t, st, int(ver))
    for i, s in psql(pgdir, "SELECT id, last_seq FROM pipeline_run"):
        seqs[i] = int(s)
    return ents, seqs


def diff(name, want, got):
    bad = [f"  {k}: sr-status {want.get(k)} / peer {got.get(k)}"
           for k in sorted(set(want) | set(got)) if want.get(k) != got.get(k)]
    if bad:
        print(f"FAIL {name}: {len(bad)} differ", *bad[:15], sep="\n")
    return not bad


def peer_cmd(build, boot, conninfo, group):
    return [os.path.join(build, "tests", "sr-peer-pg"), "--bootstrap", boot,
            "--pg", conninfo, "--group", group, "--fetch-wait-ms", "1",
            "--sync", "on"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--stages", type=int, default=3)
    ap.add_argument("--targets", type=int, default=20)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="sr-peer-pg-")
    os.chmod(tmp, 0o711)  # as root, PostgreSQL runs as postgres: let it in
    pgdir = os.path.join(tmp, "pg")
    procs = []
    ok = True
    try:
        conninfo = subprocess.run([os.path.join(HERE, "pg.sh"), "start",
                                   pgdir, "on"], stdout=subprocess.PIPE,
                                  text=True, check=True).stdout.strip()
        dev_a, boot_a = start_dev(a.build, os.path.join(tmp, "a"), 1,
                                  os.path.join(tmp, "sr-dev-a.log"))
        procs.append(dev_a)
        dev_b, boot_b = start_dev(a.build, os.path.join(tmp, "b"), 0,
                                  os.path.join(tmp, "sr-dev-b.log"))
        procs.append(dev_b)
        peer_log = os.path.join(tmp, "peer.log")
        peer = subprocess.Popen(peer_cmd(a.build, boot_b, conninfo,
                                         "sr-peer-pg"),
                                stderr=open(peer_log, "w"))
        procs.append(peer)
        load = ["--runs", str(a.runs), "--stages", str(a.stages),
                "--targets", str(a.targets), "--ops", "1", "--fail-every",
                "3"]
        for boot in (boot_a, boot_b):
            subprocess.run([os.path.join(a.build, "tests", "sr-peer-check"),
                            "load", "--bootstrap", boot] + load, check=True)
        want, want_seq = final(a.build, boot_a, a.runs)
        got_ev, got_ev_seq = final(a.build, boot_b, a.runs)
        n = {s: sum(1 for v in want.values() if v[0] == "pipeline_run" and
                    v[1] == s) for s in ("success", "failure")}
        print(f"sr-status: {len(want)} entities, pipeline runs {n}")
        if not (n["success"] and n["failure"]):
            print("FAIL the load did not give both a succeeded and a "
                  "failed run")
            ok = False
        ok &= diff("peer events vs sr-status events", want, got_ev)
        ok &= diff("peer events last seq", want_seq, got_ev_seq)
        got_pg, got_pg_seq = pg_state(pgdir)
        ok &= diff("peer rows vs sr-status events", want, got_pg)
        ok &= diff("peer rows last_seq", want_seq, got_pg_seq)
        for _ in range(100):
            left = int(psql(pgdir, "SELECT count(*) FROM outbox")[0][0])
            if not left:
                break
            time.sleep(0.1)
        if left:
            print(f"FAIL outbox: {left} rows left after 10 s")
            ok = False
        stop(peer)
        print(open(peer_log).read().strip().splitlines()[-1])
        # The same group again: its offsets were committed after each
        # database commit, so there is nothing left to read.
        again_log = os.path.join(tmp, "peer-again.log")
        again_p = subprocess.Popen(peer_cmd(a.build, boot_b, conninfo,
                                            "sr-peer-pg"),
                                   stderr=open(again_log, "w"))
        procs.append(again_p)
        time.sleep(8)
        stop(again_p)
        summary = open(again_log).read().strip().splitlines()[-1]
        print(summary)
        if " results=0 " not in summary or " creates=0 " not in summary:
            print("FAIL the same group read its input again: offsets not "
                  "committed")
            ok = False
        # Every input again, through a new consumer group: duplicates only.
        dup_log = os.path.join(tmp, "peer-dup.log")
        dup = subprocess.Popen(peer_cmd(a.build, boot_b, conninfo,
                                        "sr-peer-pg-again") +
                               ["--exit-idle-ms", "3000"],
                               stderr=open(dup_log, "w"))
        procs.append(dup)
        dup.wait(120)
        summary = open(dup_log).read().strip().splitlines()[-1]
        print(summary)
        f = dict(kv.split("=") for kv in summary.split()[1:] if "=" in kv)
        # each target run got QUEUED, INITIATED, INPROGRESS and a final
        n_results = 4 * sum(1 for v in want.values() if v[0] == "target_run")
        if int(f.get("creates", 0)) != a.runs or \
           int(f.get("results", 0)) != n_results:
            print(f"FAIL the second group read {f.get('creates')} creates "
                  f"and {f.get('results')} results, not {a.runs} and "
                  f"{n_results}")
            ok = False
        if f.get("started") != "0" or f.get("applied") != "0" or \
           f.get("events") != "0" or f.get("dispatches") != "0":
            print("FAIL a redelivered input changed something")
            ok = False
        again, again_seq = pg_state(pgdir)
        ok &= diff("rows after redelivery", got_pg, again)
        ok &= diff("last_seq after redelivery", got_pg_seq, again_seq)
    finally:
        for p in reversed(procs):
            stop(p)
        subprocess.run([os.path.join(HERE, "pg.sh"), "stop", pgdir])
        if a.keep or not ok:
            print(f"logs and data kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
