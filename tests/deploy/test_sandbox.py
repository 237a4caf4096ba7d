#!/usr/bin/env python3
"""tests/deploy/test_sandbox.py SOURCE BUILD - what sr-status, sr-gateway
and sr-agent do fits the sandbox of their units (deploy/systemd), which no
systemd runs here: each binary runs under strace against sr-dev's embedded
broker with NOTIFY_SOCKET set, until ready; a run goes through the gateway
(a write, reads, the worker's batch and LMDB, the agent's answers);
/metrics is read; SIGTERM. Then, per binary:
  - every system call made is allowed by the unit's SystemCallFilter=
    (its groups expanded by `systemd-analyze syscall-filter`; an allow-list
    entry minus the ~ deny-lists);
  - every socket() is of a family in RestrictAddressFamilies=;
  - no mapping is ever writable and executable, and none is made
    executable later (MemoryDenyWriteExecute=: LMDB's map is read-write
    only);
  - the binary did its work (READY=1 and STOPPING=1 arrived, exit 0)."""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from devfleet import DevFleet, http_get, http_send, stop  # noqa: E402

UNITS = {"sr-status": "sr-status@.service", "sr-gateway": "sr-gateway.service",
         "sr-agent": "sr-agent.service"}
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL " + msg)


def syscall_groups():
    out = subprocess.run(["systemd-analyze", "syscall-filter"],
                         capture_output=True, text=True, check=True).stdout
    groups, cur = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            cur = groups.setdefault(line.strip(), set())
        elif line.startswith("    ") and cur is not None and \
                not line.strip().startswith("#") and line.strip():
            cur.add(line.strip())
    return groups


def expand(names, groups, seen=None):
    seen = seen if seen is not None else set()
    out = set()
    for n in names:
        if n.startswith("@"):
            if n not in seen:
                seen.add(n)
                out |= expand(groups[n], groups, seen)
        else:
            out.add(n)
    return out


def unit_policy(path, groups):
    allow, deny, families = set(), set(), set()
    for line in open(path):
        line = line.strip()
        if line.startswith("SystemCallFilter="):
            v = line.split("=", 1)[1]
            if v.startswith("~"):
                deny |= expand(v[1:].split(), groups)
            else:
                allow |= expand(v.split(), groups)
        elif line.startswith("RestrictAddressFamilies="):
            families |= set(line.split("=", 1)[1].split())
    return allow - deny, families


CALL = re.compile(r"^\d+\s+(?:<\.\.\. (\w+) resumed>|(\w+)\()")


def check_trace(name, trace, allowed, families):
    used, bad_fam, wx = set(), set(), []
    for line in open(trace, errors="replace"):
        m = CALL.match(line)
        if not m:
            continue
        call = m.group(1) or m.group(2)
        used.add(call)
        if m.group(2) == "socket":
            fam = re.search(r"socket\((\w+)", line).group(1)
            if fam not in families:
                bad_fam.add(fam)
        if m.group(2) in ("mmap", "mprotect", "pkey_mprotect") and \
                "PROT_EXEC" in line and (
                    "PROT_WRITE" in line or call != "mmap"):
            wx.append(line.strip())
    denied = sorted(used - allowed)
    print("%s: %d distinct system calls%s" % (
        name, len(used), "; outside the filter: %s" % denied if denied
        else ", all allowed by the unit's SystemCallFilter="))
    if denied:
        fail("%s calls %s, which its unit's SystemCallFilter= refuses"
             % (name, denied))
    if bad_fam:
        fail("%s opens sockets of %s, outside RestrictAddressFamilies="
             % (name, sorted(bad_fam)))
    if wx:
        fail("%s makes memory writable+executable or executable later "
             "(MemoryDenyWriteExecute=): %s" % (name, wx[:3]))
    if not used:
        fail("%s: nothing traced" % name)


class Notified:
    def __init__(self, tmp, name):
        self.path = os.path.join(tmp, name + ".notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.msgs = []
        threading.Thread(target=self._recv, daemon=True).start()

    def _recv(self):
        while True:
            try:
                self.msgs.append(self.sock.recv(4096).decode())
            except OSError:
                return

    def has(self, prefix):
        return any(m.startswith(prefix) for m in self.msgs)


def main():
    src, build = (os.path.abspath(a) for a in sys.argv[1:3])
    groups = syscall_groups()
    with tempfile.TemporaryDirectory(prefix="sr-sandbox-") as tmp:
        # No worker of sr-dev's own: the traced sr-status is the group's
        # only member (joining beside one took 30-40 s under strace and
        # over 180 s once at the end of the loaded test command), and every
        # command of the test goes through it.
        dev = DevFleet(build, tmp, ["--workers", "0", "--agent", "off"])
        procs = {}
        try:
            for name in UNITS:
                n = Notified(tmp, name)
                d = os.path.join(tmp, name)
                os.makedirs(d)
                env = dict(os.environ, NOTIFY_SOCKET=n.path,
                           WATCHDOG_USEC="1000000", SR_API_TOKENS="t:e")
                log = open(os.path.join(tmp, name + ".log"), "w")
                p = subprocess.Popen(
                    ["strace", "-f", "-qq", "-o",
                     os.path.join(tmp, name + ".trace"),
                     os.path.join(build, name),
                     "-D", "kafka.bootstrap.servers=" + dev.bootstrap,
                     "-D", "kafka.fetch.wait.max.ms=1",
                     "-D", "data.dir=" + d, "-D", "http.port=0",
                     "-D", "worker.name=sandbox-" + name],
                    stdout=subprocess.PIPE, stderr=log, env=env, text=True)
                http = p.stdout.readline().strip()[5:]
                procs[name] = (p, n, log, http)
            deadline = time.monotonic() + 180
            while not all(n.has("READY=1") for _, n, _, _ in procs.values()):
                if time.monotonic() > deadline:
                    late = [k for k, v in procs.items()
                            if not v[1].has("READY")]
                    fail("not all ready in 180 s: %s" % late)
                    for k in late:
                        procs[k][2].flush()
                        with open(os.path.join(tmp, k + ".log")) as f:
                            tail = f.read().splitlines()[-25:]
                        print("--- %s.log (last lines), notify: %s\n%s" % (
                            k, procs[k][1].msgs[-3:], "\n".join(tail)))
                    break
                time.sleep(0.2)
            gw = procs["sr-gateway"][3]
            body = open(os.path.join(src, "deploy", "examples",
                                     "canary.json"), "rb").read()
            for _ in range(3):
                s, ans = http_send(gw + "/v0/runs/", "POST", body, "t")
                if s != 200:
                    fail("POST through the traced gateway: %d %s"
                         % (s, ans[:200]))
            http_get(gw + "/v0/runs/?limit=5",
                     headers={"Authorization": "Bearer t"})
            time.sleep(2)  # the agent answers, the workers apply
            for name, (p, _, _, http) in procs.items():
                http_get(http + "/metrics")
            # strace passes our SIGTERM on to the traced binary.
            for name, (p, _, _, _) in procs.items():
                pid = int(subprocess.run(["pgrep", "-P", str(p.pid)],
                                         capture_output=True,
                                         text=True).stdout.split()[0])
                os.kill(pid, signal.SIGTERM)
            for name, (p, n, log, _) in procs.items():
                rc = p.wait(60)
                time.sleep(0.1)
                if rc != 0 or not n.has("STOPPING=1"):
                    fail("%s: exit %s, STOPPING=1 %s" % (
                        name, rc, "sent" if n.has("STOPPING=1") else "missing"))
        finally:
            for p, n, log, _ in procs.values():
                stop(p)
                n.sock.close()
                log.close()
            dev.close()
        for name, unit in UNITS.items():
            allowed, families = unit_policy(
                os.path.join(src, "deploy", "systemd", unit), groups)
            check_trace(name, os.path.join(tmp, name + ".trace"), allowed,
                        families)
    print("sandbox: %s" % ("FAILED" if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
