#!/usr/bin/env python3
"""tests/api/test_watch.py SOURCE_DIR BUILD_DIR - the watch API (issue 12)
on sr-dev: GET /v0/runs/{id}/events/ and GET /v0/events/ as Server-Sent
Events.

  1. one run followed to its end: seq 1..N gapless, N the run's last event,
     each entity's last event = its status as GET answers it; the stream
     ends with the run; the curl example (deploy/examples/consumers/
     follow-run.sh) prints the same events.
  2. 60 concurrent watchers of one run: each sees the same events.
  3. a watcher of /v0/events/ that never reads, beside one that reads
     while 12 runs are created: the reader's latency (run created ->
     its first event seen) stays low; the sleeper is dropped
     (sr_gateway_watch_dropped_total); sr_gateway_watch_connections
     counts the open streams.
  4. Last-Event-ID after the gateway is killed and restarted by sr-dev:
     the events before and after, together, are 1..N without gap or
     duplicate.
  5. another enterprise's token: 404 on the run's events (as on the run);
     its /v0/events/ sees none of dev's events.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "deploy"))
from devfleet import DevFleet, free_port, http_get, http_send  # noqa: E402

SRC, BUILD = sys.argv[1], sys.argv[2]
TOKEN, OTHER = "dev-token", "other-token"
CLIENT_TIMEOUT_S = 2
failures = []


def fail(msg):
    print("FAIL: " + msg, flush=True)
    failures.append(msg)


class Sse:
    """A raw SSE client: connect, send the GET, parse messages."""

    def __init__(self, port, path, token=TOKEN, last_id=None, rcvbuf=0):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", port))
        req = "GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n" \
              "Accept: text/event-stream\r\n" % (path, token)
        if last_id is not None:
            req += "Last-Event-ID: %s\r\n" % last_id
        self.sock.sendall((req + "\r\n").encode())
        self.buf = b""
        self.head = None
        self.status = 0
        self.closed = False

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        try:
            d = self.sock.recv(65536)
        except socket.timeout:
            return False
        except OSError:
            d = b""
        if not d:
            self.closed = True
            return False
        self.buf += d
        return True

    def read_head(self, timeout=10):
        end = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf and time.monotonic() < end:
            if not self._fill(max(0.01, end - time.monotonic())) and \
                    self.closed:
                break
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.head = head.decode()
        try:
            self.status = int(self.head.split()[1])
        except (IndexError, ValueError):
            self.status = 0
        return self.status

    def message(self, timeout=10):
        """The next message as (event, id, data) or None (closed/timeout);
        comments are skipped."""
        end = time.monotonic() + timeout
        while True:
            while b"\n\n" in self.buf:
                raw, _, self.buf = self.buf.partition(b"\n\n")
                ev, mid, data = "message", None, []
                for line in raw.decode().split("\n"):
                    if line.startswith(":"):
                        continue
                    k, _, v = line.partition(": ")
                    if k == "event":
                        ev = v
                    elif k == "id":
                        mid = v
                    elif k == "data":
                        data.append(v)
                if mid is None and not data:
                    continue  # a comment only
                return ev, mid, "\n".join(data)
            left = end - time.monotonic()
            if left <= 0 or self.closed:
                return None
            self._fill(left)

    def follow(self, timeout=60):
        """Every status event until the end message or close; (events,
        end data or None)."""
        events, end = [], None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = self.message(deadline - time.monotonic())
            if m is None:
                break
            if m[0] == "status":
                ev = json.loads(m[2])
                if str(ev["seq"]) != m[1]:
                    fail("id %s is not the event's seq %s" % (m[1],
                                                              ev["seq"]))
                events.append(ev)
            elif m[0] == "end":
                end = json.loads(m[2])
                break
            else:
                fail("unexpected message %r" % (m,))
                break
        return events, end

    def close(self):
        self.sock.close()


def api(fleet_url, method, path, body=None, token=TOKEN):
    if method == "GET":
        st, text = http_get(fleet_url + path, timeout=15,
                            headers={"Authorization": "Bearer " + token})
    else:
        st, text = http_send(fleet_url + path, method,
                             json.dumps(body).encode(), token)
    try:
        return st, json.loads(text)
    except ValueError:
        return st, text


def metric(url, name):
    st, text = http_get(url + "/metrics")
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.split()[-1])
    return None


def create_run(url, spec):
    st, doc = api(url, "POST", "/v0/runs/", spec)
    if st != 200:
        raise RuntimeError("create: %s %s" % (st, doc))
    return doc["content"]["id"]


def cancel_run(url, spec, run):
    st, doc = api(url, "PUT", "/v0/pipelines/%s/runs/%s/" %
                  (spec["pipeline_id"], run), {"status": "cancelled"})
    if st != 200:
        raise RuntimeError("cancel: %s %s" % (st, doc))


def check_gapless(events, what):
    seqs = [e["seq"] for e in events]
    if seqs != list(range(1, len(seqs) + 1)):
        fail("%s: seqs not 1..N gapless: %s" % (what, seqs[:50]))
        return False
    return True


def last_status_by_entity(events):
    last = {}
    for e in events:
        last[e["entity_id"]] = (e["entity_type"], e["to_status"])
    return last


def check_matches_gets(url, run, events):
    last = last_status_by_entity(events)
    st, doc = api(url, "GET", "/v0/runs/%s/stageruns/?limit=100" % run)
    # Pipeline run: GET /v0/runs/?... is a list; use the stage runs' parent
    if st != 200:
        fail("stage runs list: %s" % st)
        return
    checked = 0
    for sr in doc["content"]["results"]:
        if sr["id"] not in last or last[sr["id"]][1] != sr["status"]:
            fail("stage run %s: GET %s, events %s" % (
                sr["id"], sr["status"], last.get(sr["id"])))
        checked += 1
        st, tdoc = api(url, "GET", "/v0/stageruns/%s/targetruns/?limit=100"
                       % sr["id"])
        for tr in tdoc["content"]["results"]:
            if tr["id"] not in last or last[tr["id"]][1] != tr["status"]:
                fail("target run %s: GET %s, events %s" % (
                    tr["id"], tr["status"], last.get(tr["id"])))
            checked += 1
    st, rdoc = api(url, "GET", "/v0/pipelines/%s/runs/%s/" %
                   (events[0]["pipeline_id"], run))
    if rdoc["content"]["status"] != last[run][1]:
        fail("run: GET %s, events %s" % (rdoc["content"]["status"],
                                          last[run]))
    print("  %d entities: last event = GET's status" % (checked + 1))


def gateway_pid(dev_pid):
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open("/proc/%s/comm" % p) as f:
                comm = f.read().strip()
        except OSError:
            continue
        if int(fields[1]) == dev_pid and comm == "sr-gateway":
            return int(p)
    return None


def main():
    with open(os.path.join(SRC, "deploy/examples/canary.json")) as f:
        spec = json.load(f)
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        fleet = DevFleet(BUILD, tmp, [
            "--http-port", str(port), "--partitions", "2",
            "-D", "gateway.client.timeout.s=%d" % CLIENT_TIMEOUT_S,
            "-D", "agent.latency.ms=0"],
            env={"SR_API_TOKENS": "%s:dev,%s:other" % (TOKEN, OTHER)})
        url = "http://127.0.0.1:%d" % port
        try:
            run_tests(fleet, url, port, spec)
        finally:
            fleet.close()
    if failures:
        print("%d failure(s)" % len(failures))
        sys.exit(1)
    print("ok")


def run_tests(fleet, url, port, spec):
    # 1. one run to its end, from the start
    run = create_run(url, spec)
    w = Sse(port, "/v0/runs/%s/events/" % run)
    if w.read_head() != 200 or "text/event-stream" not in w.head:
        fail("watch head: %r" % w.head)
    first = w.message(10)
    if not first or first[1] != "1":
        fail("first message is not seq 1: %r" % (first,))
    time.sleep(1.0)
    cancel_run(url, spec, run)
    t0 = time.monotonic()
    events, end = w.follow(30)
    events = [json.loads(first[2])] + events
    w.close()
    took = time.monotonic() - t0
    print("1. followed %d events to the end in %.2f s after the cancel"
          % (len(events), took))
    if took > 5:  # a keep-alive note (15 s) must not be what ends it
        fail("the stream ended %.1f s after the cancel" % took)
    if end is None or end.get("last_seq") != len(events):
        fail("the stream did not end with last_seq %d: %r" %
             (len(events), end))
    if check_gapless(events, "follow"):
        check_matches_gets(url, run, events)
    keys = ["event_id", "pipeline_run_id", "seq", "entity_type", "entity_id",
            "pipeline_id", "stage_run_id", "stage_run_operation_id",
            "device_id", "from_status", "to_status", "reason", "occurred_at",
            "causation_id", "enterprise_id", "version"]
    if list(events[0].keys()) != keys:
        fail("event fields %s, not the Avro record's" % list(events[0]))
    # the curl one-liner prints the same events
    env = dict(os.environ, SR=url, TOKEN=TOKEN)
    out = subprocess.run([os.path.join(
        SRC, "deploy/examples/consumers/follow-run.sh"), run],
        env=env, capture_output=True, text=True, timeout=30)
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    if out.returncode != 0 or lines != events:
        fail("follow-run.sh: rc %d, %d events, not the %d streamed" %
             (out.returncode, len(lines), len(events)))
    else:
        print("   follow-run.sh printed the same %d events and ended"
              % len(lines))

    # 2. 60 concurrent watchers of one live run
    run2 = create_run(url, spec)
    watchers = [Sse(port, "/v0/runs/%s/events/" % run2) for _ in range(60)]
    for x in watchers:
        x.read_head()
    if metric(url, "sr_gateway_watch_connections") != 60:
        fail("sr_gateway_watch_connections %s with 60 open" %
             metric(url, "sr_gateway_watch_connections"))
    results = [None] * len(watchers)

    def follow(i):
        results[i] = watchers[i].follow(60)

    threads = [threading.Thread(target=follow, args=(i,))
               for i in range(len(watchers))]
    for t in threads:
        t.start()
    time.sleep(1.0)
    cancel_run(url, spec, run2)
    for t in threads:
        t.join(90)
    ref = results[0][0] if results[0] else []
    check_gapless(ref, "watcher 0")
    same = sum(1 for r in results if r and r[0] == ref and r[1] and
               r[1].get("last_seq") == len(ref))
    print("2. 60 watchers: %d saw the same %d events and the end"
          % (same, len(ref)))
    if same != 60 or not ref:
        fail("only %d of 60 watchers saw the run's %d events" %
             (same, len(ref)))
    for x in watchers:
        x.close()

    # 3. a sleeper beside a reader on /v0/events/
    dropped0 = metric(url, "sr_gateway_watch_dropped_total") or 0
    sleeper = Sse(port, "/v0/events/", rcvbuf=4096)
    sleeper.read_head()
    reader = Sse(port, "/v0/events/")
    reader.read_head()
    seen = {}
    stop = threading.Event()

    def read_all():
        while not stop.is_set():
            m = reader.message(0.2)
            if m and m[0] == "status":
                ev = json.loads(m[2])
                seen.setdefault(ev["pipeline_run_id"], time.monotonic())
            elif m is None and reader.closed:
                return

    rt = threading.Thread(target=read_all)
    rt.start()
    lat, t_end = [], time.monotonic() + 3 * CLIENT_TIMEOUT_S + 6
    runs = []
    while time.monotonic() < t_end and len(runs) < 400:
        if len(runs) % 10 == 9 and (metric(
                url, "sr_gateway_watch_dropped_total") or 0) > dropped0:
            break  # the sleeper is gone: enough
        t_created = time.monotonic()
        r = create_run(url, spec)
        runs.append(r)
        while r not in seen and time.monotonic() - t_created < 10:
            time.sleep(0.002)
        if r not in seen:
            fail("the reader did not see run %s within 10 s" % r)
            break
        lat.append((seen[r] - t_created) * 1000)
        cancel_run(url, spec, r)
        time.sleep(0.02)
    stop.set()
    rt.join(5)
    lat.sort()
    dropped = (metric(url, "sr_gateway_watch_dropped_total") or 0) - dropped0
    print("3. reader beside a sleeper: %d runs, latency create->first event "
          "median %.1f ms, max %.1f ms; dropped %d"
          % (len(lat), lat[len(lat) // 2], lat[-1], dropped))
    if lat[-1] > 2000:
        fail("the reader waited %.0f ms beside a sleeper" % lat[-1])
    if dropped < 1:
        fail("the sleeper was not dropped")
    sleeper.sock.settimeout(5)
    try:
        while sleeper.sock.recv(65536):
            pass
    except OSError:
        pass  # reset: also closed
    else:
        pass
    reader.close()
    sleeper.close()

    # 4. Last-Event-ID across a gateway restart
    run3 = create_run(url, spec)
    w = Sse(port, "/v0/runs/%s/events/" % run3)
    w.read_head()
    before = []
    while len(before) < 5:
        m = w.message(10)
        if not m:
            break
        if m[0] == "status":
            before.append(json.loads(m[2]))
    w.close()
    pid = gateway_pid(fleet.proc.pid)
    if pid is None:
        fail("no sr-gateway child of sr-dev")
        return
    os.kill(pid, 9)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 60:
        st, _ = http_get(url + "/readyz", timeout=2)
        if st == 200 and gateway_pid(fleet.proc.pid) not in (None, pid):
            break
        time.sleep(0.2)
    print("4. gateway killed and back in %.1f s" % (time.monotonic() - t0))
    w = Sse(port, "/v0/runs/%s/events/" % run3,
            last_id=before[-1]["seq"])
    if w.read_head() != 200:
        fail("resume after restart: %s" % w.status)
    time.sleep(0.5)
    cancel_run(url, spec, run3)  # live events after the restart too
    after, end = w.follow(30)
    w.close()
    allev = before + after
    if check_gapless(allev, "resumed"):
        print("   %d before + %d after = 1..%d, no gap, no duplicate"
              % (len(before), len(after), len(allev)))
    if end is None or end.get("last_seq") != len(allev):
        fail("resumed stream did not end at last_seq %d: %r"
             % (len(allev), end))

    # 5. another enterprise
    o = Sse(port, "/v0/runs/%s/events/" % run3, token=OTHER)
    st = o.read_head()
    o.close()
    st_get, _ = api(url, "GET", "/v0/pipelines/%s/runs/%s/" %
                    (spec["pipeline_id"], run3), token=OTHER)
    print("5. other enterprise: run events %d, run GET %d" % (st, st_get))
    if st != 404 or st_get != 404:
        fail("cross-tenant watch answered %d (GET %d), not 404" %
             (st, st_get))
    oa = Sse(port, "/v0/events/", token=OTHER)
    oa.read_head()
    mine = Sse(port, "/v0/events/")
    mine.read_head()
    run4 = create_run(url, spec)
    m = mine.message(10)
    if not m or json.loads(m[2])["pipeline_run_id"] != run4:
        fail("dev's /v0/events/ did not see its new run: %r" % (m,))
    leak = oa.message(2)
    if leak is not None:
        fail("another enterprise saw %r" % (leak,))
    bad = Sse(port, "/v0/runs/%s/events/" % run4, last_id="abc")
    if bad.read_head() != 400:
        fail("Last-Event-ID abc: %d, not 400" % bad.status)
    for x in (oa, mine, bad):
        x.close()


if __name__ == "__main__":
    main()
