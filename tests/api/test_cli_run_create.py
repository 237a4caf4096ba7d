#!/usr/bin/env python3
"""sr-cli run create against a fake gateway (no broker, no worker).

Usage: test_cli_run_create.py SR_CLI

The fake answers the paths of docs/targets.md section 5 as the gateway
does (envelopes, a 404 while a new run's stage run is not visible yet, a
503 once, a 202 once) and records what it got. Checked:
  * the create: one Idempotency-Key on every attempt (a 202 is retried
    with it), the stage named by --targets-file sent open with the file's
    count as expected;
  * the stage run addressed is the one sr derives (UUID v5 of
    "<run>/stage/<i>" in sr's namespace);
  * every chunk sent, in --chunk-targets pieces, the file's devices in
    order; a chunk answered 503 sent again with the same body; several
    in flight, never more than --in-flight;
  * the seal after the last chunk, with chunks, count and a 64-hex
    digest; the stage run it answered printed;
  * a chunk refused (409 chunk_conflict) ends sr-cli with status 65, the
    gateway's message and reason on stderr, and no seal.
Prints one OK line and exits 0, or raises.
"""
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid

SR_NS = uuid.UUID(bytes=bytes([0x5F, 0x1C, 0x0A, 0x52, 0x7D, 0x7E, 0x4C,
                               0x1E, 0x9A, 0x53, 0x3B, 0x2F, 0x0C, 0x9D,
                               0x5E, 0x11]))
RUN = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
PIPELINE = "3f0c2a8e-5d1b-4c8e-9a51-0b6f7f1d2c01"
N_TARGETS = 950
PER = 100
IN_FLIGHT = 3


class Fake:
    def __init__(self, conflict_chunk=None):
        self.lock = threading.Lock()
        self.conflict_chunk = conflict_chunk
        self.creates = []      # (Idempotency-Key, body)
        self.gets = []         # stage run ids asked for
        self.chunks = []       # (time, body) of every chunk request
        self.seals = []        # (time, body)
        self.in_flight = 0
        self.max_in_flight = 0
        self.failed_once = False


def handler_for(fake):
    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, code, message, content, extra=None):
            body = json.dumps({"code": code, "message": message,
                               "content": content}).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            parts = self.path.strip("/").split("/")
            assert self.headers["Authorization"] == "Bearer tok-x", \
                self.headers["Authorization"]
            assert parts[:3] == ["v0", "runs", RUN] and \
                parts[3] == "stageruns" and len(parts) == 5, self.path
            with fake.lock:
                fake.gets.append(parts[4])
                first = len(fake.gets) == 1
            if first:  # not in the projection yet
                self.answer(404, "stage run not found", {})
            else:
                self.answer(200, "ok", {"id": parts[4]})

        def do_POST(self):
            length = int(self.headers["Content-Length"])
            body = json.loads(self.rfile.read(length))
            assert self.headers["Authorization"] == "Bearer tok-x"
            assert self.headers["Content-Type"] == "application/json"
            now = time.monotonic()
            if self.path == "/v0/runs/":
                with fake.lock:
                    fake.creates.append(
                        (self.headers["Idempotency-Key"], body))
                    first = len(fake.creates) == 1
                if first:  # the outcome did not arrive in time
                    self.answer(202, "accepted; the outcome did not "
                                "arrive in time", {"command_id": RUN})
                else:
                    self.answer(200, "ok", {"id": RUN})
                return
            parts = self.path.strip("/").split("/")
            assert parts[:4] == ["v0", "runs", RUN, "stageruns"], self.path
            if parts[5:] == ["targets", "seal"]:
                with fake.lock:
                    fake.seals.append((now, body))
                self.answer(200, "ok", {"id": parts[4], "targets": {
                    "append": True, "expected": N_TARGETS,
                    "appended": N_TARGETS, "chunks": body["chunks"],
                    "sealed": True}})
                return
            assert parts[5:] == ["targets"], self.path
            with fake.lock:
                fake.chunks.append((now, body))
                fake.in_flight += 1
                fake.max_in_flight = max(fake.max_in_flight,
                                         fake.in_flight)
                fail = body["chunk"] == 1 and not fake.failed_once
                fake.failed_once |= fail
            time.sleep(0.05)  # the reply's wait: others come meanwhile
            with fake.lock:
                fake.in_flight -= 1
            if fail:
                self.answer(503, "too many writes in flight; retry", {},
                            {"Retry-After": "1"})
            elif body["chunk"] == fake.conflict_chunk:
                self.answer(409, f"chunk {body['chunk']} was applied with "
                            "other items", {"reason": "chunk_conflict"})
            else:
                self.answer(200, "ok", {"chunk": body["chunk"],
                                        "targets": len(body["targets"]),
                                        "targets_appended": None,
                                        "chunks": None})
    return H


def devices():
    return [str(uuid.uuid5(SR_NS, f"cli-fake/{i}")) for i in range(N_TARGETS)]


def run_cli(cli, fake, tmp):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                          handler_for(fake))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    spec = os.path.join(tmp, "spec.json")
    with open(spec, "w") as f:
        json.dump({"pipeline_id": PIPELINE, "stages": [
            {"name": "canary", "operations": [{"operation_type": "REBOOT"}],
             "targets": [{"device_id": str(uuid.uuid4())}]},
            {"name": "fleet", "operations": [{"operation_type": "REBOOT"}]}]},
            f)
    targets = os.path.join(tmp, "fleet.jsonl")
    with open(targets, "w") as f:
        for i, d in enumerate(devices()):
            f.write(json.dumps({"device_id": d, "device_name": f"d-{i}"}))
            f.write("\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SR_")}
    env["SR_API_TOKENS"] = "tok-x:acme,tok-y:globex"
    try:
        return subprocess.run(
            [cli, "run", "create", spec, "--gateway",
             f"http://127.0.0.1:{srv.server_address[1]}/",
             "--targets-file", f"fleet:{targets}", "--chunk-targets",
             str(PER), "--in-flight", str(IN_FLIGHT)],
            env=env, capture_output=True, text=True, timeout=120)
    finally:
        srv.shutdown()
        srv.server_close()


def check_ok(cli, tmp):
    fake = Fake()
    p = run_cli(cli, fake, tmp)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    out = p.stdout.splitlines()
    assert out[0] == f"run={RUN}", out
    stage_run = str(uuid.uuid5(SR_NS, f"{RUN}/stage/1"))
    printed = json.loads(out[1])
    assert printed["id"] == stage_run and printed["targets"]["sealed"], out

    keys = {k for k, _ in fake.creates}
    assert len(fake.creates) == 2 and len(keys) == 1 and None not in keys, \
        fake.creates
    stages = fake.creates[0][1]["stages"]
    assert stages[1]["targets"] == {"append": True,
                                    "expected": N_TARGETS}, stages
    assert len(stages[0]["targets"]) == 1, stages
    assert set(fake.gets) == {stage_run}, fake.gets

    bodies = {}
    for _, b in fake.chunks:
        if b["chunk"] in bodies:
            assert bodies[b["chunk"]] == b, "a retry with another body"
        bodies[b["chunk"]] = b
    n_chunks = (N_TARGETS + PER - 1) // PER
    assert sorted(bodies) == list(range(n_chunks)), sorted(bodies)
    assert len(fake.chunks) == n_chunks + 1  # chunk 1 twice (the 503)
    sent = [t["device_id"] for i in range(n_chunks)
            for t in bodies[i]["targets"]]
    assert sent == devices(), "devices not in the file's order"
    assert all(len(bodies[i]["targets"]) == PER for i in range(n_chunks - 1))
    assert 1 < fake.max_in_flight <= IN_FLIGHT, fake.max_in_flight

    assert len(fake.seals) == 1, fake.seals
    t_seal, seal = fake.seals[0]
    assert t_seal > max(t for t, _ in fake.chunks)
    assert seal["chunks"] == n_chunks and seal["count"] == N_TARGETS, seal
    assert len(seal["digest"]) == 64 and \
        int(seal["digest"], 16) >= 0, seal


def check_conflict(cli, tmp):
    fake = Fake(conflict_chunk=3)
    p = run_cli(cli, fake, tmp)
    assert p.returncode == 65, (p.returncode, p.stdout, p.stderr)
    assert "chunk 3" in p.stderr and "409" in p.stderr and \
        "was applied with other items (chunk_conflict)" in p.stderr, p.stderr
    assert not fake.seals, fake.seals


def main():
    cli = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        check_ok(cli, tmp)
        check_conflict(cli, tmp)
    print("OK: sr-cli run create: open stage, chunks in flight, retries "
          "with the same body and key, seal; a refused chunk fails it")


if __name__ == "__main__":
    main()
