#!/usr/bin/env python3
"""tests/chaos/chaos.py - the fault-injection scenario on a real Kafka broker.

  python3 tests/chaos/chaos.py --build BUILD_DIR [--seed S] [--kills 50]

Starts its own broker (scripts/kafka.sh, state in BUILD_DIR/chaos-kafka, with
a second listener for a TCP proxy), sr-status workers as processes with
config files (static group membership, 6 s sessions), and sr-chaos-loadgen
(load, device answers, promotions, cancels, poison records of every kind on
sr.commands and sr.results). Then, under that load:

  * --kills kill -9 of a random worker at a random moment after it logged a
    partition assignment, each followed by a restart, about a third on a
    wiped data dir;
  * scale 1 -> 3 workers (rebalances) and back to 1 (SIGTERM);
  * one hard broker kill (SIGKILL) and restart on the same data and port;
  * worker w1 talks to the broker only through a TCP proxy in this process,
    which blackholes it for 30 s (then resets its connections);
  * worker w0 runs with store.map.size.mb=1, so it hits MDB_MAP_FULL: its
    log and /metrics must show the map filling and growing.

With --cluster N (tests/chaos/README.md, "The cluster scenario") the broker
is a KRaft cluster of N nodes (scripts/kafka.sh cluster-start: replication
factor 3, min.insync.replicas 2, unclean leader election off) and the broker
kill and the blackhole give way to cluster faults, run beside the worker
kills: kill -9 of the leader of a sr.changelog or sr.events partition
(--leader-kills times, each node restarted and the ISR full again before
the next fault), kill -9 of the active controller, a rolling restart
(SIGTERM) of every node.

Then it stops the load, waits until every run is final and the group's lag
is 0, dumps sr.commands, sr.events, sr.dlq and sr.replies with
`sr-cli dump`, and runs tests/chaos/check.py (which runs the reference
model, tests/model/check_stream.py). Everything it started is stopped on
the way out, also on failure. SR_CHAOS_SEED (or --seed) makes the schedule
repeatable; SR_CHAOS_KEEP=1 keeps BUILD_DIR/chaos for inspection (it is
kept anyway when the check fails).
"""
import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
KAFKA_SH = os.path.join(SRC, "scripts", "kafka.sh")

T0 = time.monotonic()
# make compaction of sr.changelog really run during the scenario (10 s
# segments, records older than 60 s compactable), so restores read
# compacted partitions
CHANGELOG_TEST_CONFIGS = ("cleanup.policy=compact,min.compaction.lag.ms=60000,"
                          "segment.ms=10000,min.cleanable.dirty.ratio=0.01")


def log(msg):
    print(f"chaos: [{time.monotonic() - T0:7.1f}s] {msg}", flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def clean_env():
    """The environment without SR_* variables: sr-status and sr-cli read
    SR_<KEY> as configuration and refuse unknown keys (SR_CHAOS_SEED)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SR_")}


# A worker exit that is by design, its supervisor (the driver) restarting
# it: (what its log says, the figure counting it, why). librdkafka makes a
# fenced static member fatal; a newer owner's changelog claim fences a
# worker, which stops publishing and exits (docs/guarantee.md, "Fencing").
FENCED_EXITS = (
    ("fenced: changelog", "changelog_fenced_exits",
     "a newer owner claimed one of its changelog partitions"),
    ("FENCED_INSTANCE_ID", "fenced_exits",
     "its static membership was fenced (FENCED_INSTANCE_ID)"),
)


class Fail(Exception):
    pass


# ---------------------------------------------------------------- proxy

class Proxy:
    """A TCP proxy on 127.0.0.1:listen -> 127.0.0.1:target in its own
    asyncio thread. blackhole(True) stops all traffic (bytes are read and
    dropped, new connections are held without an upstream); blackhole(False)
    resets every connection that lived through it, then forwards again."""

    def __init__(self, listen, target):
        self.listen, self.target = listen, target
        self.black = False
        self._all = {}
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self.ready.wait(10):
            raise Fail("proxy did not start")

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.loop.set_exception_handler(lambda loop, ctx: None)
        self.server = self.loop.run_until_complete(asyncio.start_server(
            self._handle, "127.0.0.1", self.listen))
        self.ready.set()
        self.loop.run_forever()

    async def _handle(self, r, w):
        conn = {"w": [w], "tainted": self.black}
        self._all[id(conn)] = conn
        try:
            if self.black:
                while not conn.get("closed"):  # hold, drop what comes
                    data = await r.read(65536)
                    if not data:
                        return
                return
            try:
                ur, uw = await asyncio.open_connection("127.0.0.1",
                                                       self.target)
            except OSError:
                return
            conn["w"].append(uw)

            async def pipe(src, dst):
                try:
                    while True:
                        data = await src.read(65536)
                        if not data or conn.get("closed"):
                            break
                        if self.black:
                            conn["tainted"] = True
                            continue
                        dst.write(data)
                        await dst.drain()
                except (OSError, asyncio.CancelledError):
                    pass
                finally:
                    self._close(conn)

            await asyncio.gather(pipe(r, uw), pipe(ur, w))
        finally:
            self._close(conn)
            self._all.pop(id(conn), None)

    def _close(self, conn):
        conn["closed"] = True
        for x in conn["w"]:
            try:
                x.transport.abort()
            except Exception:
                pass

    def _set(self, on):
        self.black = on
        for conn in list(self._all.values()):
            if on:
                conn["tainted"] = True
            elif conn["tainted"]:
                self._close(conn)

    def blackhole(self, on):
        self.loop.call_soon_threadsafe(self._set, on)

    def stop(self):
        def _stop():
            self.server.close()
            for conn in list(self._all.values()):
                self._close(conn)
            self.loop.stop()
        self.loop.call_soon_threadsafe(_stop)
        self.thread.join(5)


# ---------------------------------------------------------------- workers

class Worker:
    def __init__(self, sc, name, bootstrap, extra):
        self.sc, self.name = sc, name
        self.dir = os.path.join(sc.work, name)
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "worker.log")
        self.conf = os.path.join(self.dir, "sr.conf")
        self.http = free_port()
        self.proc = None
        self.log_off = 0
        self.assigned = 0
        self.starts = 0
        self.map_grows_scraped = 0
        os.makedirs(self.dir, exist_ok=True)
        lines = {
            "worker.name": name,
            "data.dir": self.data,
            "http.port": str(self.http),
            "log.level": "info",
            "poll.timeout.ms": "50",
            "batch.size": "500",
            "kafka.bootstrap.servers": bootstrap,
            "kafka.group.instance.id": f"chaos-{name}",
            "kafka.session.timeout.ms": "6000",
            "kafka.heartbeat.interval.ms": "500",
            "kafka.fetch.wait.max.ms": "10",
            # finished runs retire (and markers are forgotten) during the
            # kills, rebalances and compaction
            "retention.finished": f"{sc.a.retention_finished_ms}ms",
            "retention.inputs": f"{sc.a.retention_inputs_ms}ms",
        }
        if sc.a.guarantee != "outbox":
            lines["processing.guarantee"] = sc.a.guarantee
        lines.update(extra)
        with open(self.conf, "w") as f:
            for k, v in lines.items():
                f.write(f"{k} = {v}\n")

    def start(self, wipe=False):
        self.count_assigned()  # lines of the previous process are old
        self.start_mark = self.assigned
        if wipe:
            shutil.rmtree(self.data, ignore_errors=True)
        with open(self.log, "a") as lf:
            lf.write(f"---- chaos: start #{self.starts + 1} wipe={wipe}\n")
            lf.flush()
            self.proc = subprocess.Popen(
                [self.sc.a.status_bin or self.sc.bin("sr-status"), "-c",
                 self.conf],
                stdout=lf, stderr=lf, stdin=subprocess.DEVNULL,
                env=clean_env())
        self.starts += 1
        self.sc.pids.add(self.proc.pid)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig):
        if not self.proc:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.sc.pids.discard(self.proc.pid)
        self.proc = None

    def count_assigned(self):
        try:
            with open(self.log, "rb") as f:
                f.seek(self.log_off)
                data = f.read()
        except OSError:
            return self.assigned
        end = data.rfind(b"\n") + 1
        self.log_off += end
        self.assigned += data[:end].count(b'msg="partition assigned"')
        return self.assigned

    def get(self, path):
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.http}{path}", timeout=2) as r:
                return r.status, r.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")
        except (OSError, ValueError):
            return None, ""

    def scrape(self):
        """The worker's /metrics as {name: value}, the series of one name
        summed over their labels; {} if it did not answer."""
        st, body = self.get("/metrics")
        if st != 200:
            return {}
        out = {}
        for m in re.finditer(r"^([a-z_]+)(?:\{[^}]*\})? (\S+)$", body,
                             re.M):
            out[m.group(1)] = out.get(m.group(1), 0) + float(m.group(2))
        return out

    def scrape_map_grows(self):
        return int(self.scrape().get("sr_store_map_grows_total", 0))


# ---------------------------------------------------------------- scenario

class Scenario:
    def __init__(self, a):
        self.a = a
        self.build = os.path.abspath(a.build)
        sfx = "" if a.guarantee == "outbox" else "-" + a.guarantee
        sfx += "-cluster" if a.cluster else ""
        self.work = os.path.join(self.build, "chaos" + sfx)
        self.kstate = os.path.join(self.build, "chaos-kafka" + sfx)
        self.rng = random.Random(a.seed)
        self.pids = set()
        self.workers = {}
        self.proxy = None
        self.loadgen = None
        self.broker_started = False
        self.fig = {"seed": a.seed, "kills": 0, "wiped_restarts": 0,
                    "unassigned_kills": 0, "scale_events": 0,
                    "fenced_exits": 0,
                    "broker_restarts": 0, "blackhole_s": 0,
                    "map_full_log_lines": 0, "map_grows": 0,
                    "readyz_map_full_seen": False,
                    "kills_in_flight": 0, "kills_inputs_waiting": 0,
                    "kill_scrape_ms_max": 0}
        # sr_events_total of every worker process (name, start #): the
        # last value scraped; the load is their sum over time
        self.made = {}
        self.made_lock = threading.Lock()
        self.readyz_stop = threading.Event()
        self.faults = None      # --cluster: the cluster fault thread
        self.fault_err = None   # what failed in it
        if a.cluster:
            self.fig.update({"cluster_nodes": a.cluster, "leader_kills": 0,
                             "controller_kills": 0, "rolling_restarts": 0,
                             "cluster_faults": []})

    def bin(self, name):
        for p in (os.path.join(self.build, name),
                  os.path.join(self.build, "tests", name),
                  os.path.join(self.build, "workers", name)):
            if os.path.exists(p):
                return p
        raise Fail(f"{name} not found in {self.build}")

    def kafka(self, *args, env=None, timeout=300):
        e = dict(os.environ)
        e.update(env or {})
        r = subprocess.run([KAFKA_SH, *args], capture_output=True, text=True,
                           env=e, timeout=timeout)
        if r.returncode:
            raise Fail(f"kafka.sh {' '.join(args)} failed ({r.returncode}):"
                       f"\n{r.stdout}{r.stderr}")
        return r.stdout

    # ---- setup
    def setup(self):
        a = self.a
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        self.kafka("fetch", self.build, timeout=900)
        if a.cluster:
            return self.setup_cluster()
        port, padv, pbind = free_port(), free_port(), free_port()
        log(f"starting the broker (state {self.kstate})")
        out = self.kafka("start", self.kstate, str(port), str(self.a.parts),
                         env={"SR_KAFKA_PROXY": f"{padv}:{pbind}",
                              # make compaction of sr.changelog really run
                              # during the scenario (10 s segments, records
                              # older than 60 s compactable), so restores
                              # read compacted partitions
                              "CHANGELOG_TOPIC_CONFIGS":
                                  CHANGELOG_TEST_CONFIGS,
                              "INPUT_TOPIC_CONFIGS": self.input_topic_configs()})
        self.broker_started = True
        m = re.search(r"bootstrap.servers=(\S+)", out)
        if not m:
            raise Fail(f"kafka.sh start printed no bootstrap: {out}")
        self.bootstrap = m.group(1)
        self.proxy = Proxy(padv, pbind)
        log(f"broker at {self.bootstrap}; proxy 127.0.0.1:{padv} -> "
            f"{pbind} (advertised as {padv})")
        self.workers["w0"] = Worker(self, "w0", self.bootstrap,
                                    {"store.map.size.mb": str(a.map_mb)})
        self.workers["w1"] = Worker(self, "w1", f"127.0.0.1:{padv}", {})
        self.workers["w2"] = Worker(self, "w2", self.bootstrap, {})

    def input_topic_configs(self):
        # within the workers' retention.inputs, which they check at
        # start-up (segments of the default size and age: nothing is
        # deleted during the scenario)
        return f"retention.ms={self.a.retention_inputs_ms}"

    def setup_cluster(self):
        a = self.a
        log(f"starting a {a.cluster}-node cluster (state {self.kstate})")
        t = time.monotonic()
        self.broker_started = True
        out = self.kafka("cluster-start", self.kstate, str(a.cluster),
                         str(a.parts), env={"CHANGELOG_TOPIC_CONFIGS":
                                            CHANGELOG_TEST_CONFIGS,
                                            "INPUT_TOPIC_CONFIGS":
                                            self.input_topic_configs()})
        m = re.search(r"bootstrap.servers=(\S+)", out)
        if not m:
            raise Fail(f"kafka.sh cluster-start printed no bootstrap: {out}")
        self.bootstrap = m.group(1)
        self.fig["cluster_start_s"] = round(time.monotonic() - t, 1)
        log(f"cluster at {self.bootstrap} "
            f"(started in {self.fig['cluster_start_s']} s)")
        self.workers["w0"] = Worker(self, "w0", self.bootstrap,
                                    {"store.map.size.mb": str(a.map_mb)})
        self.workers["w1"] = Worker(self, "w1", self.bootstrap, {})
        self.workers["w2"] = Worker(self, "w2", self.bootstrap, {})

    def node(self, i):
        return os.path.join(self.kstate, f"n{i}")

    def cluster_fault(self, what, node, hard):
        """Take node @node down (kill -9 if @hard, else SIGTERM: a
        controlled shutdown), bring it back, wait for every ISR to be
        full: the next fault may then take any node."""
        t = time.monotonic()
        r = subprocess.run([KAFKA_SH, "kill" if hard else "stop",
                            self.node(node)], capture_output=True, text=True,
                           timeout=120)
        if r.returncode:
            raise Fail(f"kafka.sh stop/kill node {node}: {r.stderr}")
        down = round(time.monotonic() - t, 1)
        log(f"cluster: {what}: node {node} "
            f"{'kill -9' if hard else 'SIGTERM'}, down in {down} s"
            + (f" ({r.stderr.strip()})" if r.stderr.strip() else ""))
        time.sleep(self.rng.uniform(1, 4))
        self.kafka("restart", self.node(node))
        self.kafka("cluster-healthy", self.kstate, "180", timeout=240)
        took = round(time.monotonic() - t, 1)
        self.fig["cluster_faults"].append({"what": what, "node": node,
                                           "hard": hard, "down_s": down,
                                           "s": took})
        log(f"cluster: node {node} back, every ISR full ({took} s)")

    def cluster_faults(self):
        a = self.a
        try:
            for i in range(a.leader_kills):
                topic = "sr.changelog" if i % 2 == 0 else "sr.events"
                part = self.rng.randrange(a.parts)
                leader = int(self.kafka("cluster-leader", self.kstate, topic,
                                        str(part)).strip())
                self.cluster_fault(f"leader of {topic}-{part}", leader, True)
                self.fig["leader_kills"] += 1
                time.sleep(self.rng.uniform(2, 5))
            ctl = int(self.kafka("cluster-controller", self.kstate).strip())
            self.cluster_fault("active controller", ctl, True)
            now = int(self.kafka("cluster-controller", self.kstate).strip())
            log(f"cluster: the active controller was {ctl}, is {now}")
            self.fig["controller_kills"] += 1
            for n in range(1, a.cluster + 1):
                time.sleep(self.rng.uniform(2, 5))
                self.cluster_fault("rolling restart", n, False)
            self.fig["rolling_restarts"] += 1
        except Exception as e:  # Fail, a timeout: the main loop raises it
            self.fault_err = e

    def check_faults(self, wait=False):
        if self.faults and wait:
            self.faults.join()
        if self.fault_err:
            raise Fail(f"cluster faults: {self.fault_err}")

    def start_loadgen(self, rate, calibrate=False):
        a = self.a
        name = "calibrate" if calibrate else "loadgen"
        self.lg_out = open(os.path.join(self.work, f"{name}.log"), "a")
        args = [self.bin("sr-chaos-loadgen"), "run", "-b", self.bootstrap,
                "--partitions", str(a.parts), "--rate", f"{rate:.3f}",
                "--targets", str(a.targets),
                "--stats", os.path.join(self.work, f"{name}.json")]
        if calibrate:
            # other run ids than the scenario's, no poison: the runs are
            # checked like every other
            args += ["--seed", str(a.seed ^ 0x5eed), "--max-open",
                     str(a.calib_open), "--duration",
                     str(a.calib_warmup_s + a.calib_s), "--drain-timeout",
                     "120", "--poison-every", "0", "--manifest",
                     os.path.join(self.work, "calibrate-manifest.jsonl")]
        else:
            args += ["--seed", str(a.seed), "--duration", "100000",
                     "--drain-timeout", "300", "--poison-every", "2",
                     "--stored", str(a.stored),
                     "--manifest", os.path.join(self.work, "manifest.jsonl")]
        self.loadgen = subprocess.Popen(
            args, stdout=self.lg_out, stderr=self.lg_out,
            stdin=subprocess.DEVNULL)
        self.pids.add(self.loadgen.pid)

    # ---- the load: calibrated ceiling, achieved load, kills mid-batch
    def sample(self, w):
        """Scrape @w once: its events made so far (kept per process), the
        metrics; {} if it did not answer."""
        m = w.scrape()
        if "sr_events_total" in m:
            with self.made_lock:
                self.made[(w.name, w.starts)] = m["sr_events_total"]
        return m

    def events_made(self):
        with self.made_lock:
            return sum(self.made.values())

    def sampler(self):
        """Every 0.5 s, each live worker's sr_events_total (a kill -9 loses
        at most what its process made since its last sample)."""
        while not self.readyz_stop.wait(0.5):
            for w in list(self.workers.values()):
                if w.alive():
                    self.sample(w)

    def calibrate(self, w0):
        """The ceiling the scenario's load is compared with, measured here,
        on this broker and machine: w0 alone, no fault, the loadgen
        creating runs as fast as it can while --calib-open runs are not
        final; after a --calib-warmup-s warm-up (w0's 1 MB map grows, the
        broker warms up), the events w0 makes per second in the best of
        the 5 s windows of --calib-s seconds. Then the runs are drained
        (they stay in the topics and are checked like the scenario's)."""
        a = self.a
        log(f"calibration: w0 alone at the loadgen's top rate "
            f"(--max-open {a.calib_open}, {a.targets} targets per stage at "
            f"most), the best 5 s of {a.calib_s:g} s after "
            f"{a.calib_warmup_s:g} s")
        m0 = self.sample(w0)
        self.start_loadgen(100000, calibrate=True)
        time.sleep(a.calib_warmup_s)
        self.check_alive([w0])
        prev, best, windows = self.sample(w0), None, []
        tp = time.monotonic()
        for _ in range(max(1, round(a.calib_s / 5))):
            time.sleep(5)
            self.check_alive([w0], loadgen=False)
            m, t = self.sample(w0), time.monotonic()
            if "sr_events_total" not in m or "sr_events_total" not in prev:
                raise Fail("calibration: w0's /metrics did not answer")
            ev = (m["sr_events_total"] - prev["sr_events_total"]) / (t - tp)
            inp = (m.get("sr_inputs_total", 0) -
                   prev.get("sr_inputs_total", 0)) / (t - tp)
            windows.append(round(ev))
            if best is None or ev > best[0]:
                best = (ev, inp)
            prev, tp = m, t
        end = time.monotonic() + 180
        while self.loadgen.poll() is None and time.monotonic() < end:
            self.check_alive([w0], loadgen=False)
            time.sleep(0.5)
        if self.loadgen.poll() is None or self.loadgen.returncode:
            raise Fail("calibration: the loadgen did not drain its runs "
                       f"(see {self.work}/calibrate.log)")
        self.pids.discard(self.loadgen.pid)
        m3 = self.sample(w0)
        st = json.load(open(os.path.join(self.work, "calibrate.json")))
        if not all("sr_events_total" in m for m in (m0, m3)):
            raise Fail("calibration: w0's /metrics did not answer")
        ev, inp = best
        per_run = (m3["sr_events_total"] - m0["sr_events_total"]) / \
            max(1, st["runs"])
        if ev <= 0 or per_run <= 0:
            raise Fail(f"calibration: w0 made no events ({ev}/s)")
        rate = a.load_factor * ev / per_run
        self.fig.update({"ceiling_events_per_s": round(ev),
                         "ceiling_inputs_per_s": round(inp),
                         "calibration_windows_events_per_s": windows,
                         "calibration_runs": st["runs"],
                         "events_per_run": round(per_run, 1),
                         "load_factor": a.load_factor,
                         "rate_runs_per_s": round(rate, 1)})
        log(f"calibration: ceiling {ev:.0f} events/s ({inp:.0f} inputs/s) "
            f"by w0 (5 s windows: {windows}); {st['runs']} runs, {per_run:.1f} events per run; the "
            f"scenario's load: {a.load_factor:g} x {ev:.0f} = "
            f"{a.load_factor * ev:.0f} events/s = {rate:.1f} runs/s")
        return rate

    def readyz_watch(self):
        """Poll w0's /readyz: a 503 naming the full map is what an
        operator must see while the worker grows its map."""
        w = self.workers["w0"]
        while not self.readyz_stop.wait(0.1):
            if not w.alive():
                continue
            st, body = w.get("/readyz")
            if st == 503 and re.search(r"map", body, re.I):
                if not self.fig["readyz_map_full_seen"]:
                    log(f"w0 /readyz 503: {body.strip()[:120]}")
                self.fig["readyz_map_full_seen"] = True

    def check_alive(self, expected, loadgen=True):
        for w in expected:
            if w.proc is not None and w.proc.poll() is not None:
                tail = open(w.log, errors="replace").read()[-3000:]
                why = next((f for f in FENCED_EXITS if f[0] in tail), None)
                if w.proc.returncode == 1 and why:
                    self.fig[why[1]] = self.fig.get(why[1], 0) + 1
                    log(f"{w.name} exited: {why[2]}; restarting it")
                    self.pids.discard(w.proc.pid)
                    w.start()
                    continue
                raise Fail(f"worker {w.name} exited by itself (status "
                           f"{w.proc.returncode}); why:\n"
                           f"{self.exit_reason(w)}\nlog tail:\n{tail}")
        if loadgen and self.loadgen.poll() is not None:
            raise Fail(f"loadgen exited early ({self.loadgen.returncode}); "
                       f"see {self.work}/loadgen.log")

    @staticmethod
    def exit_reason(w):
        """The last incarnation's error and warning lines, newest last, at
        most 12 of them: printed before the log's tail, which a report may
        cut (CI shows only part of a failing test's output)."""
        lines = open(w.log, errors="replace").read().splitlines()
        start = max((i for i, ln in enumerate(lines)
                     if 'msg="started"' in ln), default=0)
        keep = [ln.strip()[:400] for ln in lines[start:]
                if ("level=error" in ln or "level=warn" in ln)
                and ("fac=KAFKA" not in ln or "fatal" in ln.lower())
                and "input dead-lettered" not in ln  # the injected poison
                and "fac=LMDB" not in ln]            # map use over 80 %
        return "\n".join(keep[-12:]) or "(no error or warning logged)"

    def wait_assigned(self, w, since, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if w.count_assigned() > since:
                return True
            time.sleep(0.05)
        return False

    def kill_restart(self, w):
        """kill -9 @w right after a scrape of its /metrics, which tells
        whether the kill landed with a batch in flight: sr_outbox_depth > 0,
        records of applied batches not yet acknowledged by the broker."""
        wipe = self.rng.random() < 1 / 3
        if wipe and w.name == "w0" and self.a.no_wipe_w0:
            wipe = False
        t = time.monotonic()
        m = self.sample(w)
        w.stop(signal.SIGKILL)
        gap = round((time.monotonic() - t) * 1000)
        self.fig["kill_scrape_ms_max"] = max(self.fig["kill_scrape_ms_max"],
                                             gap)
        if w.name == "w0":
            w.map_grows_scraped += int(m.get("sr_store_map_grows_total", 0))
        depth = int(m.get("sr_outbox_depth", 0))
        lag = int(m.get("sr_consumer_lag", 0))
        self.fig["kills_in_flight"] += depth > 0
        self.fig["kills_inputs_waiting"] += lag > 0
        self.last_kill = f"outbox_depth={depth} lag={lag}" if m else \
            "(no /metrics answer)"
        self.fig["kills"] += 1
        self.fig["wiped_restarts"] += wipe
        w.start(wipe)
        return wipe

    # ---- the schedule
    def run(self):
        a = self.a
        w0, w1, w2 = (self.workers[n] for n in ("w0", "w1", "w2"))
        active = [w0]
        w0.start()
        if not self.wait_assigned(w0, 0, 60):
            raise Fail("w0 got no partitions within 60 s")
        threading.Thread(target=self.sampler, daemon=True).start()
        if a.rate > 0:
            # a fixed rate, no calibration: the load floors do not apply
            rate = a.rate
            self.fig.update({"ceiling_events_per_s": 0, "fixed_rate": rate})
        else:
            rate = self.calibrate(w0)
        log(f"starting the load: {rate:.1f} runs/s")
        self.start_loadgen(rate)
        load_t0, load_e0 = time.monotonic(), self.events_made()
        threading.Thread(target=self.readyz_watch, daemon=True).start()
        time.sleep(3)

        up_at = max(1, a.kills * 8 // 50)
        broker_at = a.kills * 18 // 50
        black_at = a.kills * 26 // 50
        down_at = a.kills * 38 // 50
        black_until = None
        last_kill = 0.0
        scaled_up = scaled_down = broker_done = black_done = False

        # --cluster: worker kills go on until the cluster faults are over
        while self.fig["kills"] < a.kills or \
                (self.faults and self.faults.is_alive()):
            k = self.fig["kills"]
            self.check_alive(active)
            self.check_faults()
            now = time.monotonic()
            if black_until and now >= black_until:
                self.proxy.blackhole(False)
                black_until = None
                log("proxy: w1 reachable again (its connections reset)")
            if not scaled_up and k >= up_at:
                log("scale 1 -> 3: starting w1"
                    f"{' (through the proxy)' if self.proxy else ''} and w2")
                s1, s2 = w1.count_assigned(), w2.count_assigned()
                w1.start()
                w2.start()
                active += [w1, w2]
                scaled_up = True
                self.fig["scale_events"] += 1
                self.wait_assigned(w1, s1, 40)
                self.wait_assigned(w2, s2, 40)
                continue
            if scaled_up and not broker_done and k >= broker_at and \
                    a.cluster:
                log("cluster: the faults start (beside the worker kills)")
                self.faults = threading.Thread(target=self.cluster_faults,
                                               daemon=True)
                self.faults.start()
                broker_done = True
                continue
            if scaled_up and not broker_done and k >= broker_at:
                log("broker: kill -9")
                self.kafka("kill", self.kstate)
                time.sleep(self.rng.uniform(1, 4))
                log("broker: restart")
                self.kafka("restart", self.kstate)
                broker_done = True
                self.fig["broker_restarts"] += 1
                log("broker: back")
                continue
            if scaled_up and not black_done and k >= black_at and \
                    w1.alive() and self.proxy:
                log("proxy: blackholing w1 for 30 s")
                self.proxy.blackhole(True)
                black_until = time.monotonic() + 30
                black_done = True
                self.fig["blackhole_s"] = 30
            if scaled_up and not scaled_down and k >= down_at and \
                    black_until is None:
                log("scale 3 -> 1: SIGTERM w1 and w2")
                w1.stop(signal.SIGTERM)
                w2.stop(signal.SIGTERM)
                active = [w0]
                scaled_down = True
                self.fig["scale_events"] += 1
            # one kill: the victim, once it holds partitions, at a random
            # moment while it works
            pool = [w for w in active
                    if not (black_until and w is w1)]
            w = self.rng.choice(pool)
            if not self.wait_assigned(w, w.start_mark, 25):
                self.fig["unassigned_kills"] += 1
            time.sleep(max(0.0, last_kill + a.kill_gap - time.monotonic())
                       + self.rng.uniform(0.05, 2.0))
            last_kill = time.monotonic()
            self.check_alive(active)
            wipe = self.kill_restart(w)
            log(f"kill -9 #{self.fig['kills']} {w.name} {self.last_kill}"
                f"{' (wiped data dir)' if wipe else ''}")
        if black_until:
            time.sleep(max(0, black_until - time.monotonic()))
            self.proxy.blackhole(False)
        if self.faults:
            log("waiting for the cluster faults to end")
            while self.faults.is_alive():
                self.check_alive(active)
                self.faults.join(1)
            self.check_faults(wait=True)
        if not scaled_down:
            log("scale 3 -> 1: SIGTERM w1 and w2")
            w1.stop(signal.SIGTERM)
            w2.stop(signal.SIGTERM)
            active = [w0]
            self.fig["scale_events"] += 1
        self.wait_assigned(w0, w0.assigned, 30)

        for w in active:
            self.sample(w)
        load_s = time.monotonic() - load_t0
        made = self.events_made() - load_e0
        self.fig["load_s"] = round(load_s, 1)
        self.fig["load_events"] = round(made)
        self.fig["load_events_per_s"] = round(made / load_s)
        ceiling = self.fig["ceiling_events_per_s"]
        self.fig["load_vs_ceiling"] = round(made / load_s / ceiling, 3) \
            if ceiling else 0.0
        log(f"load: {self.fig['load_events_per_s']} events/s over "
            f"{load_s:.0f} s = {self.fig['load_vs_ceiling']:.2f} x the "
            f"ceiling; kills so far {self.fig['kills']}, with a batch in "
            f"flight {self.fig['kills_in_flight']}")
        log("stopping the load; waiting until every run is final")
        self.loadgen.send_signal(signal.SIGTERM)
        end = time.monotonic() + 420
        while self.loadgen.poll() is None and time.monotonic() < end:
            self.check_alive(active, loadgen=False)
            time.sleep(1)
        if self.loadgen.poll() is None:
            self.loadgen.kill()
            raise Fail("loadgen did not finish draining within 420 s")
        self.pids.discard(self.loadgen.pid)
        tail = open(os.path.join(self.work, "loadgen.log")).read()
        done = [l for l in tail.splitlines() if "loadgen: done" in l or
                " still " in l or "stored pipeline" in l]
        for line in done[-21:]:
            log(line)
        if self.loadgen.returncode == 4:
            raise Fail("loadgen: runs of stored pipelines went wrong (a "
                       "success with the wrong device commands, or none "
                       "succeeded: the lines above)")
        if self.loadgen.returncode != 0:
            self.diagnose_stuck(done, active)
            raise Fail(f"loadgen: not every run reached a final status "
                       f"(exit {self.loadgen.returncode})")
        self.wait_lag_zero(active)

    def diagnose_stuck(self, lines, active):
        """What a report needs when runs never end (CI keeps no files):
        the workers' group lag, each live worker's readiness and outbox,
        and for the first stuck runs the last lines every worker logged
        about them."""
        r = subprocess.run(
            [self.bin("sr-chaos-loadgen"), "lag", "-b", self.bootstrap,
             "--partitions", str(self.a.parts)],
            capture_output=True, text=True, timeout=60)
        log(f"stuck runs: sr-status group lag {r.stdout.strip()} "
            f"{r.stderr.strip()[:200]}")
        for w in active:
            try:
                m = w.scrape()
                log(f"stuck runs: {w.name} outbox_depth="
                    f"{m.get('sr_outbox_depth')} restoring="
                    f"{m.get('sr_restore_partitions_in_progress')}")
            except Exception as e:  # a dead /metrics is itself the clue
                log(f"stuck runs: {w.name} /metrics: {e!r}")
        runs = [l.split(" run ")[1].split()[0] for l in lines
                if " still " in l and " run " in l][:4]
        for w in self.workers.values():
            hits = {run: [] for run in runs}
            try:
                with open(w.log, errors="replace") as f:
                    for l in f:  # one pass over a log of ~100 MB
                        for run in runs:
                            if run in l:
                                hits[run] = (hits[run] + [l])[-3:]
            except OSError:
                continue
            for run in runs:
                for l in hits[run]:
                    log(f"stuck run {run[:8]} {w.name}: {l.strip()[:300]}")

    def wait_lag_zero(self, active):
        end = time.monotonic() + 120
        lag = None
        while time.monotonic() < end:
            self.check_alive(active, loadgen=False)
            r = subprocess.run(
                [self.bin("sr-chaos-loadgen"), "lag", "-b", self.bootstrap,
                 "--partitions", str(self.a.parts)],
                capture_output=True, text=True, timeout=60)
            if r.returncode == 0:
                lag = int(r.stdout.strip() or -1)
                if lag == 0:
                    log("consumer group lag is 0: drained")
                    return
            time.sleep(2)
        raise Fail(f"the workers did not drain: lag {lag} after 120 s "
                   f"({r.stderr.strip()[:500]})")

    def collect(self):
        w0 = self.workers["w0"]
        w0.map_grows_scraped += w0.scrape_map_grows()
        self.fig["map_grows"] = w0.map_grows_scraped
        text = open(w0.log, errors="replace").read()
        self.fig["map_full_log_lines"] = sum(
            1 for line in text.splitlines()
            if re.search(r"map full|MDB_MAP_FULL", line, re.I))
        assigned = revoked = 0
        for w in self.workers.values():
            t = open(w.log, errors="replace").read() if os.path.exists(
                w.log) else ""
            assigned += t.count('msg="partition assigned"')
            revoked += t.count('msg="partition revoked"')
        self.fig["partition_assignments"] = assigned
        self.fig["partition_revocations"] = revoked
        self.fig["worker_self_exits"] = self.self_exits()
        self.fig["rebalances"] = self.fig["scale_events"] + (
            1 if self.fig["blackhole_s"] else 0)
        # The five dumps at once: each sr-cli is one CPU-bound reader, and
        # sr.events is most of the bytes, so the others fit beside it
        # (about 50 s one after the other for 1.5 GB of JSON, 2026-12-07).
        dumps = []
        for t in ("events", "commands", "changelog", "replies", "dlq"):
            out = open(os.path.join(self.work, f"{t}.jsonl"), "w")
            err = open(os.path.join(self.work, f"dump-{t}.err"), "w+")
            dumps.append((t, out, err, subprocess.Popen(
                [self.bin("sr-cli"), "-b", self.bootstrap, "dump", t],
                stdout=out, stderr=err, env=clean_env())))
        failed = []
        for t, out, err, proc in dumps:
            try:
                rc = proc.wait(timeout=600)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
            out.close()
            err.seek(0)
            if rc:
                failed.append(f"sr-cli dump {t} failed ({rc}): "
                              f"{err.read()[-500:]}")
            err.close()
        if failed:
            raise Fail("; ".join(failed))
        # Evidence that compaction ran: offsets of sr.changelog no longer
        # holding a record (in exactly_once mode also transaction markers
        # and aborted records, which a read_committed dump skips).
        ends, n = {}, 0
        with open(os.path.join(self.work, "changelog.jsonl")) as f:
            for line in f:
                r = json.loads(line)
                n += 1
                ends[r["partition"]] = max(ends.get(r["partition"], 0),
                                           r["offset"] + 1)
        self.fig["changelog_records"] = n
        self.fig["changelog_offsets_without_record"] = sum(ends.values()) - n
        lg = os.path.join(self.work, "loadgen.json")
        if os.path.exists(lg):
            self.fig["loadgen"] = json.load(open(lg))
        with open(os.path.join(self.work, "figures.json"), "w") as f:
            json.dump(self.fig, f, sort_keys=True)
        log("figures: " + json.dumps(self.fig, sort_keys=True))

    def self_exits(self):
        """Every time a worker ended itself, from its log: sr-status logs
        "worker stopped" when its loop fails and "startup failed" when it
        cannot start. A kill -9 logs nothing, a SIGTERM "stopping" (or a
        relay or claim given up because of it: err="stopping ...", or
        "claim: stopping ..." from a rebalance callback); a fenced static
        member is librdkafka's doing, restarted by check_alive()."""
        out = []
        for w in self.workers.values():
            if not os.path.exists(w.log):
                continue
            for line in open(w.log, errors="replace"):
                if not re.search(r'msg="(worker stopped|startup failed)"',
                                 line):
                    continue
                if any(f[0] in line for f in FENCED_EXITS) or \
                        re.search(r'err="([a-z ]+: )?stopping', line):
                    continue
                out.append({"worker": w.name, "line": line.strip()[:400]})
        return out

    def inputs_lost(self):
        """Input records deleted by retention before any worker read them,
        as the workers logged them (docs/guarantee.md, "Too short a
        retention loses input"): the scenario's input retention must
        outlast its longest unowned partition."""
        out = []
        for w in self.workers.values():
            if os.path.exists(w.log):
                out += [{"worker": w.name, "line": ln.strip()[:300]}
                        for ln in open(w.log, errors="replace")
                        if "input records lost" in ln]
        return out

    def check(self):
        problems = []
        f, a = self.fig, self.a
        log(f"load: {f['load_events_per_s']} events/s achieved over "
            f"{f['load_s']} s = {f['load_vs_ceiling']:.2f} x the calibrated "
            f"ceiling ({f['ceiling_events_per_s']} events/s); kills: "
            f"{f['kills']}, with a batch in flight (sr_outbox_depth > 0): "
            f"{f['kills_in_flight']}, with inputs waiting (lag > 0): "
            f"{f['kills_inputs_waiting']}")
        if a.rate > 0:
            log(f"fixed rate {a.rate:g} runs/s: no calibrated ceiling, the "
                "load floors are not checked")
        elif f["load_vs_ceiling"] < a.load_floor:
            problems.append(
                f"load too low: {f['load_events_per_s']} events/s, "
                f"{f['load_vs_ceiling']:.2f} x the calibrated ceiling "
                f"({f['ceiling_events_per_s']} events/s), under the floor "
                f"{a.load_floor:g}")
        need = max(1, round(a.min_in_flight * f["kills"]))
        if a.rate <= 0 and f["kills_in_flight"] < need:
            problems.append(
                f"too few kills landed with a batch in flight: "
                f"{f['kills_in_flight']} of {f['kills']} (at least {need}, "
                f"--min-in-flight {a.min_in_flight:g})")
        for e in self.inputs_lost():
            problems.append(f"{e['worker']}: {e['line']}")
        if self.fig["map_full_log_lines"] == 0:
            problems.append(f"w0 (store.map.size.mb={self.a.map_mb}) never logged a full "
                            "map")
        if self.fig["map_grows"] == 0:
            problems.append("w0's sr_store_map_grows_total stayed 0")
        r = subprocess.run([sys.executable, os.path.join(HERE, "check.py"),
                            self.work,
                            "--retention-finished",
                            str(self.a.retention_finished_ms),
                            "--retention-inputs",
                            str(self.a.retention_inputs_ms)] +
                           (["--exactly-once"]
                            if self.a.guarantee == "exactly_once" else []))
        if r.returncode:
            problems.append(f"check.py failed (exit {r.returncode})")
        if not self.fig["readyz_map_full_seen"]:
            log("note: w0's /readyz was never seen answering 503 for a full "
                "map (polled every 100 ms)")
        return problems

    def teardown(self):
        self.readyz_stop.set()
        if self.loadgen and self.loadgen.poll() is None:
            self.loadgen.kill()
            self.loadgen.wait()
        for w in self.workers.values():
            try:
                w.stop(signal.SIGKILL)
            except Exception:
                pass
        if self.proxy:
            self.proxy.stop()
        if self.broker_started and self.a.cluster:
            if self.faults:
                self.faults.join(300)
            try:
                self.kafka("cluster-stop", self.kstate, timeout=180)
            except Exception as e:
                log(f"cluster stop: {e}")
        elif self.broker_started:
            try:
                self.kafka("stop", self.kstate, timeout=120)
            except Exception as e:
                log(f"broker stop: {e}")
                try:
                    self.kafka("kill", self.kstate)
                except Exception:
                    pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--seed", type=int,
                    default=int(os.environ.get("SR_CHAOS_SEED", "0")) or
                    int(time.time()))
    ap.add_argument("--kills", type=int, default=30)
    ap.add_argument("--parts", type=int, default=12)
    ap.add_argument("--map-mb", type=int, default=1,
                    help="w0's store.map.size.mb")
    ap.add_argument("--no-wipe-w0", action="store_true",
                    help="never wipe w0's data dir (w0 keeps its grown map; "
                    "works around restore not growing a full map)")
    ap.add_argument("--kill-gap", type=float, default=2.0,
                    help="least seconds between two kills")
    ap.add_argument("--status-bin", default="",
                    help="sr-status binary (default: BUILD/sr-status)")
    ap.add_argument("--deadline", type=int, default=1500,
                    help="give up (and clean up) after this many seconds")
    ap.add_argument("--guarantee", default="outbox",
                    choices=["outbox", "exactly_once"],
                    help="the workers' processing.guarantee")
    ap.add_argument("--rate", type=float, default=0,
                    help="runs created per second, fixed: no calibration "
                    "and no load floors (0: calibrate, --load-factor)")
    ap.add_argument("--load-factor", type=float, default=0.9,
                    help="the scenario's load, as a share of the ceiling "
                    "calibrated at the start")
    ap.add_argument("--load-floor", type=float, default=0.5,
                    help="fail if the load achieved under the faults is "
                    "below this share of the calibrated ceiling")
    ap.add_argument("--min-in-flight", type=float, default=0.25,
                    help="fail if fewer than this share of the kills "
                    "landed with a batch in flight")
    ap.add_argument("--stored", type=int, default=8,
                    help="stored pipelines the loadgen defines and starts "
                         "about a fifth of its runs from (0: none)")
    ap.add_argument("--targets", type=int, default=8,
                    help="a stage has 1..N targets")
    ap.add_argument("--calib-s", type=float, default=15,
                    help="calibration: seconds measured")
    ap.add_argument("--calib-warmup-s", type=float, default=10,
                    help="calibration: seconds before the measure")
    ap.add_argument("--calib-open", type=int, default=1000,
                    help="calibration: runs not final at most")
    ap.add_argument("--retention-finished-ms", type=int, default=60000,
                    help="the workers' retention.finished (0: no retention)")
    ap.add_argument("--retention-inputs-ms", type=int, default=30000,
                    help="the workers' retention.inputs, and retention.ms "
                    "of the input topics")
    ap.add_argument("--cluster", type=int, default=0,
                    help="run on a KRaft cluster of this many nodes, with "
                    "leader and controller kills and a rolling restart")
    ap.add_argument("--leader-kills", type=int, default=4,
                    help="--cluster: partition leaders killed (-9)")
    a = ap.parse_args()
    log(f"SR_CHAOS_SEED={a.seed} kills={a.kills} partitions={a.parts} " +
        (f"rate={a.rate:g} runs/s" if a.rate > 0 else
         f"load={a.load_factor:g} x the calibrated ceiling"))
    sc = Scenario(a)
    ok = False

    def on_term(sig, frame):
        raise Fail(f"signal {sig}")
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGALRM, on_term)
    signal.alarm(a.deadline)  # below ctest's TIMEOUT: teardown still runs
    try:
        sc.setup()
        sc.run()
        sc.collect()
        problems = sc.check()
        for p in problems:
            log("FAILED: " + p)
        ok = not problems
    except Fail as e:
        log(f"FAILED: {e}")
    except KeyboardInterrupt:
        log("interrupted")
    finally:
        sc.teardown()
    log(f"{'PASSED' if ok else 'FAILED'} in {time.monotonic() - T0:.0f} s "
        f"(SR_CHAOS_SEED={a.seed}; files in {sc.work})")
    if ok and not os.environ.get("SR_CHAOS_KEEP"):
        for t in ("commands", "events", "dlq", "replies", "changelog"):
            try:
                os.remove(os.path.join(sc.work, f"{t}.jsonl"))
            except OSError:
                pass
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
