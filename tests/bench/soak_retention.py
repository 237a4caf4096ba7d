#!/usr/bin/env python3
"""tests/bench/soak_retention.py - does state stay bounded when runs retire?

Runs an sr-dev fleet (--bootstrap: a real Apache Kafka broker, whose
compaction is what removes tombstoned keys from sr.changelog; or the
embedded broker with --embedded, which never compacts) with a short
retention.finished and retention.inputs, pushes --runs small runs through
the gateway's REST API (POST /v0/runs/, auto_promote, --stages x --targets
x 1 operation, the agent answering at zero latency) from --clients
threads, and every --every seconds samples:

  * each worker's and the gateway's LMDB bytes in use (the gauges
    sr_lmdb_used_bytes of their /metrics);
  * the live keys of sr.changelog: keys whose latest record is not a
    tombstone, kept by a consumer that reads the topic from the start;
  * (every --restore-every samples) the time a fresh worker takes to
    restore: an sr-status with an empty data dir joins the workers' group,
    restores its share of the partitions from the changelog (its log's
    "restored partition ... read= seconds=" lines), and is stopped; the
    full restore is extrapolated to every partition.

It prints the samples as a table, writes them as CSV and a PNG plot
(matplotlib), and checks the plateau: once the load has run for longer
than run time + retention, the mean of the last third of the samples of
each series must not exceed the mean of the middle third by more than
--tolerance (default 0.25, i.e. 25 %). A series that keeps growing with the
total fails the check (exit 1).

  soak_retention.py --build BUILD --kafka-state DIR [--runs 200000]
      [--retention 10s] [--inputs-retention 10s] [--every 5]
      [--clients 8] [--rate 0] [--workers 2] [--partitions 4] [--stages 1]
      [--targets 2] [--out DIR] [--tolerance 0.25] [--no-check]
      [--embedded]

With --kafka-state (the state dir of scripts/kafka.sh start) the topics are
created by scripts/kafka.sh topics with compaction settings that make the
broker clean the changelog within seconds (CHANGELOG_TOPIC_CONFIGS, printed
in the output). Needs matplotlib (tests/bench/soak_retention.sh installs it
into the test venv from PyPI).
"""
import argparse
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

NS = uuid.UUID("5d2f3c4e-8a1b-4c7d-9e6f-0a1b2c3d4e5f")
COMPACTION = ("cleanup.policy=compact,segment.ms=3000,"
              "min.cleanable.dirty.ratio=0.01,delete.retention.ms=1000,"
              "min.compaction.lag.ms=0,max.compaction.lag.ms=10000")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def dur_s(text):
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)?", text)
    if not m:
        raise argparse.ArgumentTypeError("not a duration: " + text)
    mult = {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600, "d": 86400}
    return int(m.group(1)) * mult[m.group(2)]


# ------------------------------------------------------------ metrics

def scrape(port):
    """{name{labels}: value} of a /metrics page, {} when unreachable."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode()
        c.close()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            try:
                out[k] = float(v)
            except ValueError:
                pass
    return out


def lmdb_used(port, db):
    return scrape(port).get('sr_lmdb_used_bytes{db="%s"}' % db)


# ------------------------------------------------------------ the changelog

class LiveKeys(threading.Thread):
    """Reads sr.changelog from the start, keeps the set of live keys."""

    def __init__(self, bootstrap, topic):
        super().__init__(daemon=True)
        from confluent_kafka import Consumer
        self.c = Consumer({"bootstrap.servers": bootstrap,
                           "group.id": "soak-live-%s" % uuid.uuid4(),
                           "enable.auto.commit": False,
                           "auto.offset.reset": "earliest",
                           "enable.partition.eof": False})
        self.c.subscribe([topic])
        self.live = {}  # key -> bytes of its latest record (key + value)
        self.bytes = 0  # of the live keys' latest records
        self.records = 0
        self.stop = False
        self.mu = threading.Lock()

    def run(self):
        while not self.stop:
            for m in self.c.consume(10000, 0.5):
                if m.error():
                    continue
                with self.mu:
                    self.records += 1
                    k = m.key()
                    self.bytes -= self.live.pop(k, 0)
                    if m.value() is not None:
                        self.live[k] = len(k or b"") + len(m.value())
                        self.bytes += self.live[k]
        self.c.close()

    def count(self):
        with self.mu:
            return len(self.live), self.records, self.bytes


def topic_bytes(kafka_state, prefix):
    """Bytes of the changelog's log segments on the broker's disk."""
    total = 0
    data = os.path.join(kafka_state, "data")
    for d in os.listdir(data) if os.path.isdir(data) else []:
        if d.startswith(prefix + "changelog-"):
            for f in os.listdir(os.path.join(data, d)):
                if f.endswith(".log"):
                    total += os.path.getsize(os.path.join(data, d, f))
    return total


# ------------------------------------------------------------ the load

def run_spec(i, stages, targets):
    return {"pipeline_id": str(uuid.uuid5(NS, "soak-pipeline")),
            "pipeline_name": "soak", "auto_promote": True,
            "stages": [{"name": "s%d" % s, "description": "soak",
                        "operations": [{"operation_type": "INSTALL",
                                        "args": {"package_name": "soak"}}],
                        "targets": [{"device_id": str(uuid.uuid5(
                                        NS, "dev/%d/%d" % (i, t))),
                                     "device_name": "d%d" % t}
                                    for t in range(targets)]}
                       for s in range(stages)]}


class Pusher:
    def __init__(self, port, n, clients, stages, targets, rate):
        self.port, self.n, self.rate = port, n, rate
        self.t0 = None
        self.stages, self.targets = stages, targets
        self.next = 0
        self.done = 0
        self.errors = 0
        self.mu = threading.Lock()
        self.threads = [threading.Thread(target=self.loop, daemon=True)
                        for _ in range(clients)]

    def take(self):
        with self.mu:
            if self.next >= self.n:
                return None
            self.next += 1
            i = self.next - 1
        if self.rate:  # run i starts at t0 + i / rate
            delay = self.t0 + i / self.rate - time.time()
            if delay > 0:
                time.sleep(delay)
        return i

    def loop(self):
        conn = None
        hdr = {"Authorization": "Bearer dev-token",
               "Content-Type": "application/json"}
        while True:
            i = self.take()
            if i is None:
                return
            body = json.dumps(run_spec(i, self.stages, self.targets))
            for attempt in range(20):
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection(
                            "127.0.0.1", self.port, timeout=30)
                    conn.request("POST", "/v0/runs/", body=body, headers=hdr)
                    r = conn.getresponse()
                    r.read()
                    if r.status in (200, 202):
                        break
                    if r.status != 503:
                        with self.mu:
                            self.errors += 1
                        break
                except (OSError, http.client.HTTPException):
                    conn = None
                time.sleep(0.2)
            with self.mu:
                self.done += 1

    def start(self):
        self.t0 = time.time()
        for t in self.threads:
            t.start()

    def finished(self):
        return all(not t.is_alive() for t in self.threads)


# ------------------------------------------------------------ processes

class Fleet:
    """sr-dev, its stderr parsed for the children's ops ports."""

    def __init__(self, a, work, bootstrap):
        self.work = work
        self.ports = {}
        self.err = open(os.path.join(work, "sr-dev.log"), "w", buffering=1)
        args = [os.path.join(a.build, "sr-dev"), "--workers", str(a.workers),
                "--partitions", str(a.partitions), "--data-dir",
                os.path.join(work, "data"), "--http-port", "0"]
        if bootstrap:
            args += ["--bootstrap", bootstrap]
        self.common = ["-D", "retention.finished=%ds" % a.retention,
                       "-D", "retention.inputs=%ds" % a.inputs_retention,
                       "-D", "agent.latency.ms=0",
                       "-D", "topic.prefix=" + a.prefix]
        self.p = subprocess.Popen(args + self.common, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.bootstrap = None
        threading.Thread(target=self.read_err, daemon=True).start()
        for line in self.p.stdout:
            m = re.match(r"bootstrap.servers=(\S+)", line)
            if m:
                self.bootstrap = m.group(1)
            if line.startswith("ready"):
                break
        else:
            raise SystemExit("soak: sr-dev did not become ready (%s)" %
                             self.err.name)
        for _ in range(100):
            if "gateway" in self.ports and all(
                    "status-%d" % i in self.ports for i in range(a.workers)):
                break
            time.sleep(0.1)
        else:
            raise SystemExit("soak: no ops ports in %s" % self.err.name)

    def read_err(self):
        for line in self.p.stderr:
            self.err.write(line)
            m = re.search(r'"(status-\d+|gateway) ops server" '
                          r"http=http://[\d.]+:(\d+)", line)
            if m:
                self.ports[m.group(1)] = int(m.group(2))

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(60)
        except subprocess.TimeoutExpired:
            self.p.kill()
        self.err.close()


def restore_probe(a, fleet, n):
    """Start a fresh sr-status (empty data dir) in the workers' group, wait
    until it restored its partitions and is ready, stop it. Returns
    (records read, seconds restoring, partitions restored): its log's
    'msg="restored" partition=P read=N ... seconds=S' lines."""
    d = tempfile.mkdtemp(prefix="restore-", dir=fleet.work)
    logf = os.path.join(fleet.work, "restore-%d.log" % n)
    with open(logf, "w") as lf:
        p = subprocess.Popen([os.path.join(a.build, "sr-status"),
                              "-D", "kafka.bootstrap.servers=" +
                              fleet.bootstrap, "-D", "data.dir=" + d,
                              "-D", "http.port=0"] + fleet.common,
                             stdout=lf, stderr=lf)
        read = secs = parts = 0
        t0 = time.time()
        while time.time() - t0 < a.restore_timeout:
            time.sleep(1)
            text = open(logf).read()
            found = re.findall(r'msg="restored" partition=\d+ '
                               r"read=(\d+) applied=\d+ discarded=\d+ "
                               r"seconds=([\d.]+)", text)
            if found and re.search(r"partition assigned", text) and \
                    len(found) >= text.count("snapshot not trusted"):
                read = sum(int(r) for r, _ in found)
                secs = sum(float(s) for _, s in found)
                parts = len(found)
                break
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    shutil.rmtree(d, ignore_errors=True)
    return read, secs, parts


# ------------------------------------------------------------ the check

def plateau(values, tolerance):
    """(ok, middle mean, last mean) of a series' middle and last thirds."""
    vals = [v for v in values if v is not None]
    if len(vals) < 6:
        return False, None, None
    k = len(vals) // 3
    mid = statistics.mean(vals[k:2 * k])
    last = statistics.mean(vals[2 * k:])
    return last <= mid * (1 + tolerance) + 1, mid, last


def plot(samples, series, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(len(series), 1, sharex=True,
                             figsize=(9, 2.2 * len(series)))
    t = [s["t"] for s in samples]
    for ax, (key, label) in zip(axes, series):
        ax.plot(t, [s.get(key) for s in samples], marker=".")
        ax.set_ylabel(label, fontsize=8)
        ax.grid(True, alpha=0.3)
    ax2 = axes[0].twinx()
    ax2.plot(t, [s["runs"] for s in samples], color="grey", alpha=0.4)
    ax2.set_ylabel("runs pushed", fontsize=8)
    axes[-1].set_xlabel("seconds")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def input_topic_configs(a):
    """The input topics keep records no longer than retention.inputs: the
    workers check it at start-up (docs/guarantee.md, "Retention") and
    refuse to start otherwise."""
    if a.inputs_retention <= 0:
        return {}
    return {"INPUT_TOPIC_CONFIGS":
            "retention.ms=%d" % int(a.inputs_retention * 1000)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--kafka-state", help="scripts/kafka.sh state dir")
    ap.add_argument("--embedded", action="store_true")
    ap.add_argument("--runs", type=int, default=200000)
    ap.add_argument("--retention", type=dur_s, default=10,
                    help="retention.finished; 0 keeps every run (sizing)")
    ap.add_argument("--inputs-retention", type=dur_s, default=10)
    ap.add_argument("--every", type=float, default=5)
    ap.add_argument("--restore-every", type=int, default=6)
    ap.add_argument("--restore-timeout", type=float, default=120)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--rate", type=float, default=0,
                    help="runs/s (0: as fast as the fleet takes them); a "
                    "steady rate gives a steady plateau")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--stages", type=int, default=1)
    ap.add_argument("--targets", type=int, default=2)
    ap.add_argument("--tail", type=float, default=0,
                    help="keep sampling this long after the last push")
    ap.add_argument("--out", default=None)
    ap.add_argument("--tolerance", type=float, default=0.25)
    ap.add_argument("--no-check", action="store_true")
    ap.add_argument("--prefix", default=None)
    a = ap.parse_args()
    if not a.kafka_state and not a.embedded:
        ap.error("--kafka-state DIR (real Kafka) or --embedded")
    a.prefix = a.prefix or "soak%d." % os.getpid()
    work = a.out or tempfile.mkdtemp(prefix="soak-")
    os.makedirs(work, exist_ok=True)
    # A soak starts from nothing: the fleet's LMDB of an earlier soak in
    # the same --out belongs to other topics (the gateway would rebuild
    # its projection, the workers restore, but the figures would lie).
    shutil.rmtree(os.path.join(work, "data"), ignore_errors=True)

    bootstrap = None
    broker = "embedded (librdkafka mock: never compacts)"
    if a.kafka_state:
        env = subprocess.run([os.path.join(ROOT, "scripts/kafka.sh"), "env",
                              a.kafka_state], capture_output=True, text=True,
                             check=True).stdout
        bootstrap = env.strip().split("=", 1)[1]
        subprocess.run([os.path.join(ROOT, "scripts/kafka.sh"), "topics",
                        a.kafka_state, a.prefix, str(a.partitions)],
                       check=True, env=dict(os.environ,
                                            CHANGELOG_TOPIC_CONFIGS=COMPACTION,
                                            **input_topic_configs(a)))
        broker = "Apache Kafka %s, changelog topic configs %s" % (bootstrap,
                                                                  COMPACTION)
    print("soak: broker: " + broker)
    print("soak: %d runs of %d stage(s) x %d target(s) x 1 op, "
          "retention.finished=%ds retention.inputs=%ds, %d workers, "
          "%d partitions, %d clients" % (a.runs, a.stages, a.targets,
                                         a.retention, a.inputs_retention,
                                         a.workers, a.partitions, a.clients))
    sys.stdout.flush()
    fleet = Fleet(a, work, bootstrap)
    time.sleep(1)
    live = LiveKeys(fleet.bootstrap, a.prefix + "changelog")
    live.start()
    pusher = Pusher(fleet.ports["gateway"], a.runs, a.clients, a.stages,
                    a.targets, a.rate)
    samples = []
    t0 = time.time()
    pusher.start()
    n = 0
    end_at = None
    hdr = ("%7s %8s %7s " % ("t_s", "runs", "runs/s") +
           " ".join("%12s" % ("w%d_used_B" % i) for i in range(a.workers)) +
           " %12s %10s %12s %12s %12s %9s %9s" % (
               "gw_used_B", "live_keys", "live_B", "cl_records", "cl_disk_B",
               "restore_s", "rest_rec"))
    print(hdr)
    try:
        while True:
            time.sleep(a.every)
            n += 1
            s = {"t": round(time.time() - t0, 1), "runs": pusher.done}
            prev = samples[-1] if samples else {"t": 0, "runs": 0}
            s["rate"] = (s["runs"] - prev["runs"]) / max(0.1, s["t"] -
                                                          prev["t"])
            for i in range(a.workers):
                s["w%d" % i] = lmdb_used(fleet.ports.get("status-%d" % i, 0),
                                         "store")
            s["gw"] = lmdb_used(fleet.ports["gateway"], "projection")
            s["workers"] = sum(s["w%d" % i] or 0 for i in range(a.workers))
            s["live"], s["records"], s["live_bytes"] = live.count()
            s["disk"] = (topic_bytes(a.kafka_state, a.prefix)
                         if a.kafka_state else None)
            s["restore_s"] = s["restore_rec"] = None
            if a.restore_every and n % a.restore_every == 0:
                rd, secs, parts = restore_probe(a, fleet, n)
                if parts:
                    s["restore_s"] = secs * a.partitions / parts
                    s["restore_rec"] = rd * a.partitions // parts
            samples.append(s)
            print("%7.1f %8d %7.0f " % (s["t"], s["runs"], s["rate"]) +
                  " ".join("%12s" % s["w%d" % i] for i in range(a.workers)) +
                  " %12s %10d %12d %12d %12s %9s %9s" % (
                      s["gw"], s["live"], s["live_bytes"], s["records"],
                      s["disk"],
                      "%.2f" % s["restore_s"] if s["restore_s"] else "-",
                      s["restore_rec"] if s["restore_rec"] else "-"))
            sys.stdout.flush()
            if pusher.finished() and end_at is None:
                end_at = time.time() + a.tail
            if end_at is not None and time.time() >= end_at:
                break
    finally:
        live.stop = True
        fleet.stop()
    with open(os.path.join(work, "samples.csv"), "w") as f:
        keys = list(samples[0].keys()) if samples else []
        f.write(",".join(keys) + "\n")
        for s in samples:
            f.write(",".join("" if s[k] is None else str(s[k])
                             for k in keys) + "\n")
    series = [("workers", "workers' LMDB\nbytes in use"),
              ("gw", "gateway LMDB\nbytes in use"),
              ("live", "changelog\nlive keys")]
    if a.kafka_state:
        series.append(("disk", "changelog\nbytes on disk"))
    if a.restore_every:
        series.append(("restore_s", "full restore\nseconds (extrap.)"))
    png = os.path.join(work, "soak_retention.png")
    plot(samples, series, png, "soak: %d runs, retention %ds, %s" % (
        pusher.done, a.retention, broker[:60]))
    print("soak: %d runs pushed in %.0f s (%d errors); samples %s; plot %s"
          % (pusher.done, time.time() - t0, pusher.errors,
             os.path.join(work, "samples.csv"), png))
    if pusher.errors:
        print("soak: FAIL: %d run creations failed" % pusher.errors)
        return 1
    if a.no_check:
        return 0
    # The plateau: the load must have lasted run time + retention (+ the
    # marker's retention) several times over for thirds to compare.
    bad = 0
    checked = [("workers", "workers' LMDB bytes"), ("gw", "gateway LMDB "
               "bytes"), ("live", "changelog live keys")]
    for key, label in checked:
        ok, mid, last = plateau([s[key] for s in samples], a.tolerance)
        print("soak: %-22s middle third mean %s, last third mean %s: %s"
              % (label, "%.0f" % mid if mid is not None else "-",
                 "%.0f" % last if last is not None else "-",
                 "flat" if ok else "STILL GROWING (or too few samples)"))
        bad += not ok
    print("soak: %s (tolerance %.0f %%)" % ("FAIL" if bad else "OK",
                                            100 * a.tolerance))
    return 1 if bad else 0


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

if __name__ == "__main__":
    sys.exit(main())
