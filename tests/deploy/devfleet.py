"""tests/deploy/devfleet.py - what the deploy tests share (and
tests/kafka/eos_restart.py, tests/bench/bench_restore.py): sr-dev started
in a temporary directory (its stdout's machine lines parsed, its stderr in
DIR/dev.log), plain HTTP GETs, readiness, an environment without SR_*
variables, and a process stopped in every case."""
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request


def http_get(url, timeout=5.0, headers=None):
    """(status, body as str) of a GET; (0, reason) when nothing answered."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, OSError) as e:
        return 0, str(e)


def http_send(url, method, body, token, timeout=15.0):
    req = urllib.request.Request(url, data=body, method=method, headers={
        "Authorization": "Bearer " + token,
        "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def free_port():
    """A port free on 127.0.0.1 now (for a fixed --http-port)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def ready(port):
    """True when a process's ops server on 127.0.0.1:@port answers
    /readyz 200."""
    return http_get(f"http://127.0.0.1:{port}/readyz", timeout=2)[0] == 200


def clean_env():
    """This environment without SR_* variables (they would configure the
    processes started with it)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SR_")}


def stop(proc, grace=15.0):
    """SIGTERM, then SIGKILL after grace seconds; None ok."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class DevFleet:
    """sr-dev with the given flags; .lines holds its stdout's key=value
    lines once it printed "ready"."""

    def __init__(self, build, tmp, args, env=None):
        self.log = open(os.path.join(tmp, "dev.log"), "w")
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen(
            [os.path.join(build, "sr-dev"), "--data-dir",
             os.path.join(tmp, "var"), "--http-port", "0"] + args,
            stdout=subprocess.PIPE, stderr=self.log, env=e, text=True,
            start_new_session=True)
        self.lines = {}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("sr-dev exited before ready (see %s)"
                                   % self.log.name)
            k, _, v = line.strip().partition("=")
            self.lines[k] = v
            if line.startswith("ready "):
                return
        raise RuntimeError("sr-dev not ready in 120 s")

    @property
    def bootstrap(self):
        return self.lines["bootstrap.servers"]

    @property
    def http(self):
        return self.lines["http"]

    def close(self):
        stop(self.proc)
        self.log.close()
