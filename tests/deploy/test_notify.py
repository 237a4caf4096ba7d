#!/usr/bin/env python3
"""tests/deploy/test_notify.py BUILD - sr-status, sr-gateway and sr-agent
speak the service manager's notify protocol (deploy/systemd, Type=notify).

Each binary runs with NOTIFY_SOCKET on a datagram socket this test listens
on (a path for two, an abstract "@" one for the third) and WATCHDOG_USEC=
400000, against sr-dev's embedded broker reached through a gate: a TCP
relay that holds every connection for GATE_S seconds, so each process is
surely not ready for that long. Checked, per binary:
  - no READY=1 while the gate is closed, and /readyz is 503 then;
  - READY=1 after it opens, and /readyz answers 200 right after READY=1
    arrives (READY=1 follows what /readyz computes);
  - WATCHDOG=1 again and again, about every 200 ms (half WATCHDOG_USEC);
  - on SIGTERM: STOPPING=1, nothing after it, exit status 0."""
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from devfleet import DevFleet, http_get, stop  # noqa: E402

GATE_S = 3.0


class Gate:
    """127.0.0.1:port relays to target once opened; connections made
    before are held (accepted, not answered) until then."""

    def __init__(self, target):
        host, port = target.rsplit(":", 1)
        self.target = (host, int(port))
        self.opened = threading.Event()
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(64)
        self.port = self.srv.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(c,),
                             daemon=True).start()

    def _relay(self, c):
        self.opened.wait()
        try:
            u = socket.create_connection(self.target)
        except OSError:
            c.close()
            return
        for a, b in ((c, u), (u, c)):
            threading.Thread(target=self._pipe, args=(a, b),
                             daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Watched:
    """One binary, its notify socket, and what arrived on it (time, msg)."""

    def __init__(self, build, tmp, name, boot, abstract):
        self.name = name
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            addr = "@sr-notify-%s-%d" % (name, os.getpid())
            self.sock.bind("\0" + addr[1:])
        else:
            addr = os.path.join(tmp, name + ".notify")
            self.sock.bind(addr)
        self.msgs = []
        self.readyz = []  # (time, status) of /readyz polls
        env = dict(os.environ, NOTIFY_SOCKET=addr, WATCHDOG_USEC="400000",
                   SR_API_TOKENS="t:e")
        d = os.path.join(tmp, name)
        os.makedirs(d)
        self.log = open(os.path.join(tmp, name + ".log"), "w")
        self.proc = subprocess.Popen(
            [os.path.join(build, name),
             "-D", "kafka.bootstrap.servers=" + boot,
             "-D", "kafka.fetch.wait.max.ms=1",
             "-D", "kafka.session.timeout.ms=6000",
             "-D", "data.dir=" + d, "-D", "http.port=0",
             "-D", "worker.name=notify-" + name],
            stdout=subprocess.PIPE, stderr=self.log, env=env, text=True)
        self.http = None
        threading.Thread(target=self._recv, daemon=True).start()
        threading.Thread(target=self._stdout, daemon=True).start()

    def _recv(self):
        while True:
            try:
                m = self.sock.recv(4096).decode()
            except OSError:
                return
            self.msgs.append((time.monotonic(), m))
            if m.startswith("READY=1"):
                # Right after READY=1 arrives, /readyz must agree.
                self.readyz_after_ready = self.readyz_now()

    def _stdout(self):
        for line in self.proc.stdout:
            if line.startswith("http="):
                self.http = line.strip()[5:]

    def readyz_now(self):
        return http_get(self.http + "/readyz", 2)[0] if self.http else 0

    def poll_readyz(self):
        if self.http:
            self.readyz.append((time.monotonic(), self.readyz_now()))

    def first(self, prefix):
        return next((t for t, m in self.msgs if m.startswith(prefix)), None)


def check(w, gate_open_at, failures):
    def fail(msg):
        failures.append("%s: %s" % (w.name, msg))

    msgs = [m for _, m in w.msgs]
    print("%s: %d messages; first ones: %s" % (w.name, len(msgs),
          [m for m in msgs if not m.startswith("WATCHDOG")][:6]))
    ready_at = w.first("READY=1")
    if ready_at is None:
        return fail("no READY=1")
    if ready_at < gate_open_at:
        fail("READY=1 %.2f s before the broker was reachable"
             % (gate_open_at - ready_at))
    if sum(m.startswith("READY=1") for m in msgs) != 1:
        fail("READY=1 sent %d times" % sum(m.startswith("READY=1")
                                           for m in msgs))
    if getattr(w, "readyz_after_ready", None) != 200:
        fail("/readyz answered %s right after READY=1"
             % getattr(w, "readyz_after_ready", None))
    closed = [s for t, s in w.readyz if t < gate_open_at]
    if closed and any(s == 200 for s in closed):
        fail("/readyz was 200 while the broker was unreachable")
    beats = [t for t, m in w.msgs if m == "WATCHDOG=1"]
    if len(beats) < 5:
        return fail("only %d WATCHDOG=1" % len(beats))
    gap = statistics.median(b - a for a, b in zip(beats, beats[1:]))
    print("%s: %d WATCHDOG=1, median gap %.0f ms; READY=1 %.2f s after the "
          "gate opened" % (w.name, len(beats), gap * 1000,
                           ready_at - gate_open_at))
    if not 0.15 <= gap <= 0.45:
        fail("WATCHDOG=1 median gap %.0f ms, expected ~200 (half of "
             "WATCHDOG_USEC=400000)" % (gap * 1000))
    stopping = [i for i, m in enumerate(msgs) if m.startswith("STOPPING=1")]
    if len(stopping) != 1:
        return fail("STOPPING=1 sent %d times" % len(stopping))
    if stopping[0] != len(msgs) - 1:
        fail("messages after STOPPING=1: %s" % msgs[stopping[0] + 1:])
    if w.proc.returncode != 0:
        fail("exit status %s after SIGTERM" % w.proc.returncode)


def main():
    build = os.path.abspath(sys.argv[1])
    failures = []
    with tempfile.TemporaryDirectory(prefix="sr-notify-") as tmp:
        dev = DevFleet(build, tmp, ["--workers", "0", "--agent", "off"])
        procs = []
        try:
            gate = Gate(dev.bootstrap)
            boot = "127.0.0.1:%d" % gate.port
            procs = [Watched(build, tmp, "sr-status", boot, False),
                     Watched(build, tmp, "sr-gateway", boot, True),
                     Watched(build, tmp, "sr-agent", boot, False)]
            t0 = time.monotonic()
            while time.monotonic() - t0 < GATE_S:
                for w in procs:
                    w.poll_readyz()
                time.sleep(0.05)
            gate_open_at = time.monotonic()
            gate.opened.set()
            deadline = time.monotonic() + 60
            while (time.monotonic() < deadline and
                   not all(w.first("READY=1") for w in procs)):
                time.sleep(0.05)
            time.sleep(1.5)  # watchdogs while running
            for w in procs:
                w.proc.send_signal(signal.SIGTERM)
            for w in procs:
                try:
                    w.proc.wait(30)
                except subprocess.TimeoutExpired:
                    failures.append("%s: still running 30 s after SIGTERM"
                                    % w.name)
            time.sleep(0.2)  # the last datagrams
            for w in procs:
                check(w, gate_open_at, failures)
        finally:
            for w in procs:
                stop(w.proc)
                w.sock.close()
                w.log.close()
            dev.close()
        if failures:
            for name in ("sr-status", "sr-gateway", "sr-agent"):
                p = os.path.join(tmp, name + ".log")
                if os.path.exists(p):
                    print("---- %s log (tail)" % name)
                    print("".join(open(p).readlines()[-15:]))
    for f in failures:
        print("FAIL " + f)
    print("notify: %s" % ("FAILED" if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
