#!/usr/bin/env python3
"""A first throughput figure of sr-peer-pg, and of sr-status on the same
load and the same machine, measured the same way (README.md "Figures").

  bench.py --build BUILD [--system peer|sr-status] [--runs 100]
           [--stages 3] [--targets 20] [--ops 1] [--sync on|off]
           [--batch 1000] [--bootstrap HOST:PORT]

The system under test runs idle on sr-dev's embedded broker (or, with
--bootstrap, on that Kafka cluster under a fresh topic prefix) with sr-agent
answering at zero latency. At T0 sr-peer-check load produces --runs
run-creation commands (auto-promote on); sr-peer-check final follows the
events until every run is terminal (T1). Each target run gets 4 results
(QUEUED, INITIATED, INPROGRESS, SUCCESS), so
  results/s            = 4 x target runs / (T1 - T0)
  CPU-s per 1k results = CPU of the system's processes between T0 and T1
                         / results x 1000
The system's processes: sr-peer-pg (both threads) and every PostgreSQL
process (the postmaster, its live children, and through the postmaster's
cutime/cstime the children that exited); or the sr-status process. The
broker, sr-agent and the load tools are not counted.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid

from peerlib import child_pids, proc_cpu, start_dev, stop

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--system", choices=("peer", "sr-status"),
                    default="peer")
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--stages", type=int, default=3)
    ap.add_argument("--targets", type=int, default=20)
    ap.add_argument("--ops", type=int, default=1)
    ap.add_argument("--sync", choices=("on", "off"), default="on")
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--bootstrap")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="sr-peer-bench-")
    os.chmod(tmp, 0o711)
    pgdir = os.path.join(tmp, "pg")
    prefix = f"bench{uuid.uuid4().hex[:8]}." if a.bootstrap else "sr."
    procs, pg_started = [], False
    try:
        workers = 1 if a.system == "sr-status" else 0
        dev, boot = start_dev(a.build, os.path.join(tmp, "dev"), workers,
                              os.path.join(tmp, "sr-dev.log"), 12,
                              a.bootstrap, prefix)
        procs.append(dev)
        if a.system == "peer":
            conninfo = subprocess.run([os.path.join(HERE, "pg.sh"), "start",
                                       pgdir, a.sync], stdout=subprocess.PIPE,
                                      text=True, check=True).stdout.strip()
            pg_started = True
            peer = subprocess.Popen(
                [os.path.join(a.build, "tests", "sr-peer-pg"), "--bootstrap",
                 boot, "--pg", conninfo, "--prefix", prefix, "--group",
                 prefix + "peer", "--batch", str(a.batch), "--sync", a.sync,
                 "--fetch-wait-ms", "10" if a.bootstrap else "1"],
                stderr=open(os.path.join(tmp, "peer.log"), "w"))
            procs.append(peer)
            postmaster = int(open(os.path.join(pgdir, "data",
                                               "postmaster.pid")).readline())

            def cpu():
                pg = (proc_cpu(postmaster, children=True) +
                      sum(proc_cpu(c) for c in child_pids(postmaster)))
                return proc_cpu(peer.pid) + pg, pg
        else:
            st = child_pids(dev.pid, "sr-status")
            if len(st) != 1:
                raise SystemExit(f"expected one sr-status, got {st}")

            def cpu():
                return proc_cpu(st[0]), 0.0
        time.sleep(5)  # consumer groups settle
        c0, t0 = cpu(), time.monotonic()
        subprocess.run([os.path.join(a.build, "tests", "sr-peer-check"),
                        "load", "--bootstrap", boot, "--prefix", prefix,
                        "--runs", str(a.runs), "--stages", str(a.stages),
                        "--targets", str(a.targets), "--ops", str(a.ops)],
                       check=True)
        r = subprocess.run([os.path.join(a.build, "tests", "sr-peer-check"),
                            "final", "--bootstrap", boot, "--prefix", prefix,
                            "--runs", str(a.runs), "--timeout-ms", "600000"],
                           capture_output=True, text=True)
        t1, c1 = time.monotonic(), cpu()
        if r.returncode:
            raise SystemExit(f"final: {r.stderr.strip()}")
        targets = sum(1 for line in r.stdout.splitlines()
                      if line.startswith("target_run "))
        results = 4 * targets
        wall, cpu_s, pg_s = t1 - t0, c1[0] - c0[0], c1[1] - c0[1]
        mode = (f"sync={a.sync} batch={a.batch}" if a.system == "peer"
                else "outbox")
        print(f"system={a.system} {mode} broker="
              f"{'real ' + a.bootstrap if a.bootstrap else 'embedded'} "
              f"runs={a.runs} shape={a.stages}x{a.targets}x{a.ops} "
              f"results={results} wall_s={wall:.2f} "
              f"results_per_s={results / wall:.0f} cpu_s={cpu_s:.2f} "
              f"(postgres {pg_s:.2f}) "
              f"cpu_s_per_1k_results={cpu_s / results * 1000:.4f}")
    finally:
        for p in reversed(procs):
            stop(p)
        log = os.path.join(tmp, "peer.log")
        if os.path.exists(log):
            lines = open(log).read().strip().splitlines()
            if lines:
                print(lines[-1])
        if pg_started:
            subprocess.run([os.path.join(HERE, "pg.sh"), "stop", pgdir])
        subprocess.run(["rm", "-rf", tmp])
    return 0


if __name__ == "__main__":
    sys.exit(main())
