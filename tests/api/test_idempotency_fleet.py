"""tests/api/test_idempotency_fleet.py BUILD - Idempotency-Keys are the
fleet's, not one gateway's (docs/api-decisions.md, "Idempotency-Key"):
sr-dev (embedded broker, one worker, its own gateway "g2") and one more
sr-gateway ("g1") on the same broker, restarted between the writes.

* POST /v0/runs/ with key K and body A through g1, g1 restarted on an empty
  data dir: K with body B is 409 through the restarted g1 and through g2
  (neither served K before); after another restart K with A answers the
  first run (same id) through g1 and g2.
* PUT of a status with key P through g2: the same key on another run
  through g1 is 409 (before, g1 carried it out as a new command).
* Two gateways racing one new key with two bodies: exactly one 200 and
  one 409, every round; with one body: both 200, one run.
* A keyed POST's added latency (median of the runs above vs unkeyed) is
  printed.

Under SR_TEST_KAFKA (scripts/kafka.sh run, the kafka suite) sr-dev and g1
use that real broker, on topics and groups of this test's own: the claims
topic as sr_kafka_create_topics() makes it (compacted, retention.ms).
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "deploy"))
from devfleet import DevFleet, http_get, stop  # noqa: E402

TOKEN = "tok-acme"
PARTS = "4"
REAL = os.environ.get("SR_TEST_KAFKA", "")
PREFIX = "it-idem-%d-%d." % (os.getpid(), int(time.time()))
failures = []


def fail(msg):
    print("FAIL " + msg)
    failures.append(msg)


def send(base, method, path, body, key=None, timeout=30.0):
    """(status, parsed envelope or text) of one request."""
    headers = {"Authorization": "Bearer " + TOKEN,
               "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    req = urllib.request.Request(base + path, method=method,
                                 data=None if body is None else
                                 json.dumps(body).encode(),
                                 headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def spec(name):
    return {"pipeline_id": str(uuid.uuid4()), "pipeline_name": name,
            "auto_promote": False,
            "stages": [{"name": "one",
                        "operations": [{"operation_type": "REBOOT"}],
                        "targets": [{"device_id": str(uuid.uuid4()),
                                     "device_name": "d-1"}]}]}


class Gateway:
    """One sr-gateway on the fleet's broker, its own (empty) data dir."""

    def __init__(self, build, tmp, boot, name):
        self.build, self.tmp, self.boot, self.name = build, tmp, boot, name
        self.runs = 0
        self.proc = None
        self.start()

    def start(self):
        self.runs += 1
        d = os.path.join(self.tmp, "%s-%d" % (self.name, self.runs))
        os.makedirs(d)
        self.log = open(d + ".log", "w")
        env = dict(os.environ, SR_API_TOKENS=TOKEN + ":acme")
        self.proc = subprocess.Popen(
            [os.path.join(self.build, "sr-gateway"),
             "-D", "kafka.bootstrap.servers=" + self.boot,
             "-D", "kafka.fetch.wait.max.ms=1", "-D", "partitions=" + PARTS,
             "-D", "data.dir=" + d, "-D", "http.port=0",
             "-D", "log.level=warn"] +
            (["-D", "topic.prefix=" + PREFIX] if REAL else []),
            stdout=subprocess.PIPE, stderr=self.log, env=env, text=True)
        self.http = None
        for line in self.proc.stdout:
            if line.startswith("http="):
                self.http = line.strip()[5:]
                break
        if not self.http:
            raise RuntimeError("%s printed no http= line (see %s)"
                               % (self.name, self.log.name))
        deadline = time.monotonic() + 60
        while http_get(self.http + "/readyz", 2)[0] != 200:
            if time.monotonic() > deadline:
                raise RuntimeError("%s not ready in 60 s" % self.name)
            time.sleep(0.1)

    def restart(self):
        stop(self.proc)
        self.log.close()
        self.start()

    def close(self):
        stop(self.proc)
        self.log.close()


def run_id(answer):
    return answer.get("content", {}).get("id") if isinstance(answer, dict) \
        else None


def expect(what, got, status):
    s, a = got
    if s != status:
        fail("%s: %d, expected %d: %s" % (what, s, status, str(a)[:300]))
    return a


def restart_and_other_gateway(g1, g2):
    a, b = spec("body A"), spec("body B")
    k = "k-" + str(uuid.uuid4())
    first = expect("K+A through g1", send(g1.http, "POST", "/v0/runs/", a, k),
                   200)
    rid = run_id(first)
    g1.restart()
    # Neither the restarted g1 nor g2 has served K: only the fleet knows.
    for g in (g1, g2):
        expect("K+B through %s (g1 restarted)" % g.name,
               send(g.http, "POST", "/v0/runs/", b, k), 409)
    g1.restart()
    for g in (g1, g2):
        again = expect("K+A again through %s" % g.name,
                       send(g.http, "POST", "/v0/runs/", a, k), 200)
        if run_id(again) != rid:
            fail("K+A through %s: run %s, the first answer was run %s"
                 % (g.name, run_id(again), rid))
    # A status write: the key on another run is 409, not a new command.
    other = spec("other")
    r2 = run_id(expect("second run", send(g2.http, "POST", "/v0/runs/",
                                          other, None), 200))
    p = "p-" + str(uuid.uuid4())
    put = {"status": "cancelled"}
    expect("PUT with P through g2",
           send(g2.http, "PUT", "/v0/pipelines/%s/runs/%s/"
                % (a["pipeline_id"], rid), put, p), 200)
    g1.restart()
    expect("PUT with P on another run through the restarted g1",
           send(g1.http, "PUT", "/v0/pipelines/%s/runs/%s/"
                % (other["pipeline_id"], r2), put, p), 409)
    s, a2 = send(g1.http, "GET", "/v0/pipelines/%s/runs/%s/"
                 % (other["pipeline_id"], r2), None)
    if s != 200 or a2["content"]["status"] == "cancelled":
        fail("the other run after the refused PUT: %d %s" % (s, str(a2)[:200]))
    return rid


def race(g1, g2, rounds=5):
    for i in range(rounds):
        k = "race-%d-%s" % (i, uuid.uuid4())
        bodies = [spec("race A"), spec("race B")]
        same = spec("race same")
        for label, pair in (("other bodies", bodies), ("one body",
                                                      [same, same])):
            kk = k + "-" + label.replace(" ", "-")
            out = [None, None]

            def go(j, g):
                out[j] = send(g.http, "POST", "/v0/runs/", pair[j], kk)
            ts = [threading.Thread(target=go, args=(j, g))
                  for j, g in enumerate((g1, g2))]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            codes = sorted(s for s, _ in out)
            want = [200, 409] if label == "other bodies" else [200, 200]
            if codes != want:
                fail("race %d, %s: %s, expected %s: %s"
                     % (i, label, codes, want,
                        [str(a)[:160] for _, a in out]))
            elif label == "one body" and run_id(out[0][1]) != \
                    run_id(out[1][1]):
                fail("race %d, one body: two runs %s, %s"
                     % (i, run_id(out[0][1]), run_id(out[1][1])))


def latency(g, n=40):
    keyed, plain = [], []
    for i in range(n):
        for key, out in ((None, plain), ("lat-" + str(uuid.uuid4()), keyed)):
            t0 = time.monotonic()
            s, a = send(g.http, "POST", "/v0/runs/", spec("latency"), key)
            out.append(time.monotonic() - t0)
            if s != 200:
                fail("latency POST: %d %s" % (s, str(a)[:200]))
    mk, mp = statistics.median(keyed) * 1000, statistics.median(plain) * 1000
    print("POST /v0/runs/ through %s, median of %d: keyed %.1f ms, unkeyed "
          "%.1f ms, added %.1f ms" % (g.name, n, mk, mp, mk - mp))


def main():
    build = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="sr-idem-") as tmp:
        real = ["--bootstrap", REAL, "-D", "topic.prefix=" + PREFIX,
                "-D", "group.id=" + PREFIX + "status",
                "-D", "agent.group.id=" + PREFIX + "agent"] if REAL else []
        dev = DevFleet(build, tmp, ["--workers", "1", "--agent", "off",
                                    "--partitions", PARTS,
                                    "-D", "kafka.fetch.wait.max.ms=1"] + real,
                       env={"SR_API_TOKENS": TOKEN + ":acme"})
        g1 = None
        try:
            g1 = Gateway(build, tmp, dev.bootstrap, "g1")
            g2 = type("G", (), {"http": dev.http, "name": "g2"})
            restart_and_other_gateway(g1, g2)
            race(g1, g2)
            latency(g1)
        finally:
            if g1:
                g1.close()
            dev.close()
        if failures:
            for name in sorted(os.listdir(tmp)):
                if name.endswith(".log"):
                    print("---- %s (tail)" % name)
                    print("".join(open(os.path.join(tmp, name))
                                  .readlines()[-15:]))
    print("idempotency_fleet: %s" % ("FAILED" if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
