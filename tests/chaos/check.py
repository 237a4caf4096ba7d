#!/usr/bin/env python3
"""tests/chaos/check.py - the chaos scenario's checker.

Reads the topics as dumped by `sr-cli dump` (JSON lines, format in
tests/model/README.md) and the loadgen's poison manifest, from one folder:

  commands.jsonl events.jsonl dlq.jsonl [replies.jsonl] manifest.jsonl
  [figures.json]  (the driver's counts: kills, wiped restarts, ...)

and checks:
  1. sr.events: per pipeline run, seq runs 1..n without a gap; every
     duplicate (same run, same seq) is byte-identical to the first copy
     (key, raw value, headers);
  2. sr.dlq: every poison record of the manifest that must be dead-lettered
     is there (matched by source topic/partition/offset) with the expected
     reason, the original key and the original bytes; nothing else is there
     (repeated copies of one dead letter must be identical);
     (a record over command.max.bytes, kind "oversized", is dead-lettered
     cut to its first bytes, with header sr_dlq_value_bytes giving its
     size);
  3. sr.replies: every poison command that must be refused got a refusal
     with the expected reason;
  4. the reference model (tests/model/check_stream.py) fed the accepted
     inputs of sr.commands agrees with every run's events and final
     statuses;
  5. retention (docs/guarantee.md "Retention"; with changelog.jsonl):
     no run is brought back: after a run's last RetiredRun marker on its
     sr.changelog partition no entity record of it follows (a cut batch's
     keys are rewritten by the next owner, then retired again; records of
     a writer fenced by a later claim on the partition are ignored, as
     every restore ignores them: changelog_fenced_records), and none of
     its events happened after the marker's ended_at; every input
     dead-lettered run_retired met a retired run in the reference model
     replaying sr.commands; a poison record aimed at an existing run
     (result_unknown_target, command_unknown_status) that met its run
     retired is expected as run_retired (dlq, and a refusal for the
     command), one that met it forgotten as for a missing run
     (unknown_pipeline_run, not_found);
  6. outage: no worker stopped by itself during the run (the driver's
     figures list every "worker stopped" or "startup failed" a worker
     logged; only the driver's own kills and SIGTERMs may end a worker,
     and a fenced static member is the driver's to restart): a poison
     record must never take a worker down.
Exit 0 when all hold, 1 otherwise (the first problems are printed).

--sabotage KIND damages the dumps in memory before checking, to show the
checker fails: drop-event (one event of a run, all its copies),
revive-run (an entity record of a retired run after its marker),
alter-duplicate (a duplicate copy differs), drop-dlq (a dead letter
missing), extra-dlq (a dead letter nobody injected), wrong-reason,
worker-exit (a worker that stopped by itself).
"""
import argparse
import base64
import gc
import hashlib
import json
import os
import random
import resource
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "model"))
import check_stream  # noqa: E402


def load(path, slim=None):
    """The records of a dump; each passed through @slim if given (the
    scenario's load makes dumps of millions of records: what is not
    checked is not kept)."""
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if line:
                try:
                    r = json.loads(line)
                except ValueError as e:
                    sys.exit(f"check: {path}:{n}: not JSON: {e}")
                out.append(slim(r) if slim else r)
    return out


def slim_input(r):
    """A command or changelog record without its bytes (the decoded value
    and the headers are what is checked)."""
    r.pop("raw", None)
    return r


def slim_event(r):
    """An event: where it is, the fields checked here, and a digest of
    what must be identical between copies (ident())."""
    v = r.get("value")
    return {"partition": r["partition"], "offset": r["offset"],
            "type": r.get("type"), "error": r.get("error"),
            "ident": hashlib.blake2b(json.dumps(ident(r)).encode(),
                                     digest_size=16).digest(),
            "value": {k: v[k] for k in ("pipeline_run_id", "seq",
                                        "occurred_at")} if v else None}


def hdrs(rec):
    return tuple((h["name"], h["value"], h["b64"]) for h in rec["headers"])


def ident(rec):
    """What must be identical between two copies of one record."""
    if "ident" in rec:  # slim_event()
        return rec["ident"]
    return (rec["key"], rec["key_b64"], rec["raw"], hdrs(rec))


def header(rec, name):
    for h in rec.get("headers", []):
        if h["name"] == name:
            return base64.b64decode(h["value"]).decode("latin-1") \
                if h.get("b64") else h["value"]
    return None


def batch_writer(r):
    """The WRITER of a changelog record's sr_batch header "WRITER/N"
    (None without one)."""
    batch = header(r, "sr_batch")
    return batch.split("/", 1)[0] if batch is not None else None


def expects(m, what):
    return what in m["expect"].split("+")


class Checker:
    def __init__(self):
        self.problems = []
        self.fig = {}
        self.late_ok = set()  # dlq sources accepted as run_retired

    # ------------------------------------------------------------ retention
    def check_retention(self, changelog, commands, events, manifest,
                        dlq_sources):
        """See 5. in the module doc. Returns nothing; adjusts the manifest's
        expectations of poison records that met a retired run."""
        markers, forgotten, back, tombstones, fenced = {}, set(), [], 0, 0
        by_part = {}
        for r in changelog:
            by_part.setdefault(r["partition"], []).append(r)
        for part, recs in by_part.items():
            # A cut batch is rewritten by the partition's next owner (the
            # values it shadowed come back), so a retirement may be undone
            # and done again: what counts is what follows the run's last
            # marker here.
            last, ents, last_r = {}, {}, {}
            claimant = None
            for r in sorted(recs, key=lambda x: x["offset"]):
                key = r["key"] or ""
                run = key.split("/", 1)[0]
                # The claim rule (docs/guarantee.md "Fencing", rule 2;
                # sr_batchlog.h): from a claim on, only the claimant's
                # records count; what a fenced writer (a zombie) had in
                # flight and landed after it is ignored by every restore.
                if key.startswith("~claim/"):
                    claimant = key[len("~claim/"):]
                    continue
                if claimant is not None and \
                        batch_writer(r) != claimant:
                    fenced += 1
                    continue
                if key.endswith("/r"):
                    last_r[run] = r["type"]
                if r["type"] == "tombstone":
                    tombstones += 1
                    continue
                v = r.get("value") or {}
                if v.get("kind") == "retired":
                    last[run] = r["offset"]
                    markers.setdefault(run, v)
                elif v.get("kind") == "entity":
                    ents.setdefault(run, []).append(r["offset"])
            for run, at in last.items():
                forgotten.update([run] if last_r.get(run) == "tombstone"
                                 else [])
                for o in ents.get(run, []):
                    if o > at:
                        back.append(f"changelog {part}/{o}: entity record "
                                    f"of run {run} after its last RetiredRun "
                                    f"marker (offset {at})")
        for b in back[:20]:
            self.fail("run brought back: " + b)
        late_ev = 0
        for e in events:
            v = e.get("value") or {}
            m = markers.get(v.get("pipeline_run_id"))
            if m and v["occurred_at"] > m["ended_at"]:
                late_ev += 1
                if late_ev <= 20:
                    self.fail(f"run brought back: event seq {v['seq']} of "
                              f"run {v['pipeline_run_id']} occurred at "
                              f"{v['occurred_at']}, after the run ended "
                              f"({m['ended_at']}) and retired")
        # What each input met, by the model replaying sr.commands as
        # check_stream.py does (dead-lettered inputs skipped): its run
        # live, retired (only the marker left) or unknown (forgotten). The
        # changelog cannot say it: compaction drops a forgotten marker.
        state = run_states(commands, dlq_sources, self.retention)

        def after_retirement(src):
            return state.get(src) == "retired"

        adjusted = 0
        for m in manifest:
            if m["kind"] not in ("result_unknown_target",
                                 "command_unknown_status") or m["offset"] < 0:
                continue
            st = state.get((m["topic"], m["partition"], m["offset"]))
            if st == "retired":
                m["reason"] = "run_retired"
                m["expect"] = "dlq" if m["topic"] == "results" else \
                    "dlq+reply"
                adjusted += 1
            elif st == "unknown":  # its marker forgotten: a missing run
                m["reason"] = "unknown_pipeline_run" \
                    if m["topic"] == "results" else "not_found"
                adjusted += 1
        self.markers = markers
        self.after_retirement = after_retirement
        self.fig["runs_retired"] = len(markers)
        self.fig["markers_forgotten"] = len(forgotten)
        self.fig["changelog_tombstones"] = tombstones
        self.fig["poison_met_retired_run"] = adjusted
        self.fig["runs_brought_back"] = len(back) + late_ev
        self.fig["changelog_fenced_records"] = fenced

    def fail(self, msg):
        self.problems.append(msg)

    # ------------------------------------------------------------ events
    def check_events(self, events):
        runs = {}
        for e in events:
            v = e.get("value")
            if not v or e.get("type") != "event":
                self.fail(f"events {e['partition']}/{e['offset']}: not a "
                          f"decodable event ({e.get('error')})")
                continue
            runs.setdefault(v["pipeline_run_id"], []).append(e)
        dups = 0
        for run, evs in runs.items():
            first = {}
            for e in evs:
                seq = e["value"]["seq"]
                if seq in first:
                    dups += 1
                    if ident(first[seq]) != ident(e):
                        self.fail(f"run {run} seq {seq}: duplicate at "
                                  f"{e['partition']}/{e['offset']} differs "
                                  f"from the copy at "
                                  f"{first[seq]['partition']}/"
                                  f"{first[seq]['offset']}")
                else:
                    first[seq] = e
            seqs = sorted(first)
            want = list(range(1, len(seqs) + 1))
            if seqs != want:
                missing = sorted(set(range(1, max(seqs) + 1)) - set(seqs))
                self.fail(f"run {run}: seq not gapless: {len(seqs)} distinct,"
                          f" max {max(seqs)}, missing {missing[:10]}")
        self.fig["runs_in_events"] = len(runs)
        self.fig["event_records"] = len(events)
        self.fig["event_duplicates"] = dups
        return runs

    # ------------------------------------------------------------ dlq
    def check_dlq(self, dlq, manifest):
        want = {}
        uncertain = []
        for m in manifest:
            if not expects(m, "dlq"):
                continue
            if m["offset"] < 0:
                uncertain.append(m)
            else:
                want[(m["topic"], m["partition"], m["offset"])] = m
        seen = {}
        dups = late = 0
        for d in dlq:
            h = d.get("dlq", {})
            src = (h.get("topic"), h.get("partition"), h.get("offset"))
            m = want.get(src)
            if m is None:
                m = next((u for u in uncertain if u["raw"] == d["raw"] and
                          u["topic"] == src[0]), None)
            where = f"dlq {d['partition']}/{d['offset']} (from {src[0]} " \
                    f"{src[1]}/{src[2]}, reason {h.get('reason')})"
            if m is None and h.get("reason") == "run_retired":
                # a late input of the load (a stale result, a cancel)
                if getattr(self, "after_retirement", None) and \
                        self.after_retirement(src):
                    late += 1
                else:
                    self.fail(f"{where}: run_retired, but in the model its "
                              f"run had not retired before it")
                continue
            if m is None:
                self.fail(f"{where}: not an injected poison record: "
                          f"{h.get('error')}")
                continue
            if h.get("reason") != m["reason"]:
                self.fail(f"{where}: poison '{m['kind']}' expected reason "
                          f"{m['reason']}, got {h.get('reason')} "
                          f"({h.get('error')})")
            raw_ok = d["raw"] == m["raw"] or (
                not d["raw"] and not m["raw"] and d["raw"] == m["raw"])
            if not raw_ok:
                self.fail(f"{where}: value differs from the injected bytes")
            cut = header(d, "sr_dlq_value_bytes")
            if "size" in m and cut != str(m["size"]):
                self.fail(f"{where}: a {m['size']}-byte record must be cut "
                          f"with sr_dlq_value_bytes={m['size']}, got {cut}")
            elif "size" not in m and cut is not None:
                self.fail(f"{where}: cut (sr_dlq_value_bytes={cut}) though "
                          f"within the budget")
            key = d["key"] if not d["key_b64"] else \
                base64.b64decode(d["key"]).decode("latin-1")
            if key != m["key"]:
                self.fail(f"{where}: key {key!r}, injected {m['key']!r}")
            k = (m["topic"], m["partition"], m["offset"], m["raw"])
            if k in seen:
                dups += 1
                if ident(seen[k]) != ident(d):
                    self.fail(f"{where}: repeated dead letter differs from "
                              f"its first copy")
            else:
                seen[k] = d
        matched = {(k[0], k[1], k[2]) for k in seen}
        for src, m in want.items():
            if src not in matched:
                self.fail(f"poison #{m['n']} '{m['kind']}' on {m['topic']} "
                          f"{m['partition']}/{m['offset']} is not in sr.dlq "
                          f"(expected reason {m['reason']})")
        self.fig["dlq_records"] = len(dlq)
        self.fig["dlq_matched"] = len(seen)
        self.fig["dlq_duplicates"] = dups
        self.fig["late_inputs_run_retired"] = late
        self.fig["poison_expected_in_dlq"] = len(want) + len(uncertain)

    # ------------------------------------------------------------ replies
    def check_replies(self, replies, manifest):
        by_cmd = {}
        for r in replies:
            v = r.get("value")
            if v:
                by_cmd.setdefault(v["command_id"], []).append(v)
        n = 0
        for m in manifest:
            if not expects(m, "reply"):
                continue
            if m["offset"] < 0 and m["command_id"] not in by_cmd:
                continue  # maybe never delivered
            got = by_cmd.get(m["command_id"])
            if not got:
                self.fail(f"poison #{m['n']} '{m['kind']}' (command "
                          f"{m['command_id']}) got no reply")
                continue
            for v in got:
                if v["accepted"] or v["reason"] != m["reason"]:
                    self.fail(f"poison #{m['n']} '{m['kind']}': reply "
                              f"accepted={v['accepted']} reason="
                              f"{v['reason']}, expected a refusal "
                              f"{m['reason']}")
            n += 1
        self.fig["refusals_matched"] = n

    # ------------------------------------------------------------ outage
    def check_outage(self, figures):
        if "worker_self_exits" not in figures:
            self.fail("figures.json does not list the workers' own exits "
                      "(worker_self_exits): cannot check the outage rule")
            return
        for e in figures["worker_self_exits"]:
            self.fail(f"outage: worker {e['worker']} stopped by itself: "
                      f"{e['line']}")
        self.fig["worker_self_exits"] = len(figures["worker_self_exits"])


def run_states(commands, dead, retention):
    """{input source: "live" | "retired" | "unknown"}: the state of its run
    in the reference model just before the input, sr.commands replayed in
    (partition, offset) order, dead-lettered inputs skipped as
    check_stream.py skips them (dead: {source: reason}). A result forwarded
    twice has two copies: it met a retired run if either copy did."""
    import srmodel  # noqa: E402
    m = srmodel.Model(*retention)
    out = {}
    for r in sorted(commands, key=lambda x: (x["partition"], x["offset"])):
        fwd = header(r, "sr_forwarded_from")
        if fwd:
            t, p_, o = fwd.split("/")
            src = (t, int(p_), int(o))
        else:
            src = ("commands", r["partition"], r["offset"])
        v = r.get("value")
        run = (v or {}).get("pipeline_run_id")
        if out.get(src) != "retired":
            out[src] = "retired" if run in m.retired else \
                "live" if run in m.runs else "unknown"
        if check_stream.dead_lettered(r, src, dead) \
                or v is None or r["type"] not in ("command", "result"):
            continue
        m.apply({"input": r["type"], "ts": r["timestamp"], r["type"]: v})
    return out


# what sabotage() did to the (slim) events, for the model's copy
DAMAGE = {"dropped": set(), "altered": set()}


def write_sabotaged_events(src, dst):
    """events.jsonl as sabotage() damaged it: dropped events left out, an
    altered copy with the last byte of its value flipped."""
    with open(src) as f, open(dst, "w") as out:
        for line in f:
            if not line.strip():
                continue
            e = json.loads(line)
            v = e.get("value") or {}
            if (v.get("pipeline_run_id"), v.get("seq")) in DAMAGE["dropped"]:
                continue
            if (e["partition"], e["offset"]) in DAMAGE["altered"]:
                raw = bytearray(base64.b64decode(e["raw"]))
                raw[-1] ^= 1
                e["raw"] = base64.b64encode(raw).decode()
            out.write(json.dumps(e) + "\n")


def sabotage(kind, events, dlq, figures, rng, changelog=None):
    if kind == "revive-run":
        # an entity record of a retired run written again after its marker
        mk = [r for r in changelog or [] if r["type"] != "tombstone" and
              (r.get("value") or {}).get("kind") == "retired"]
        if not mk:
            sys.exit("check: sabotage revive-run: no retired run")
        m = rng.choice(mk)
        run = m["key"].split("/", 1)[0]
        old = next((r for r in changelog if r["type"] != "tombstone" and
                    (r["key"] or "").startswith(run + "/p") and
                    (r.get("value") or {}).get("kind") == "entity"), None)
        if old is None:  # compacted away: make one
            old = dict(m, key=run + "/p", value={"kind": "entity"})
        # written by the writer that retired it (so not fenced by a claim)
        changelog.append(dict(old, partition=m["partition"],
                              offset=m["offset"] + 1000000,
                              headers=m.get("headers")))
        print(f"check: sabotage: run {run} brought back on the changelog")
    elif kind == "worker-exit":
        figures.setdefault("worker_self_exits", []).append(
            {"worker": "w0", "line": 'msg="worker stopped" err="sabotage"'})
        print("check: sabotage: a worker that stopped by itself")
    elif kind == "drop-event":
        runs = {}
        for e in events:
            runs.setdefault(e["value"]["pipeline_run_id"], []).append(e)
        run = rng.choice(sorted(r for r, v in runs.items() if len(v) > 2))
        seq = rng.choice(sorted({e["value"]["seq"] for e in runs[run]})[:-1])
        print(f"check: sabotage: dropping seq {seq} of run {run}")
        events[:] = [e for e in events if not (
            e["value"]["pipeline_run_id"] == run and e["value"]["seq"] == seq)]
        DAMAGE["dropped"].add((run, seq))
    elif kind == "alter-duplicate":
        seen = set()
        for i, e in enumerate(events):
            k = (e["value"]["pipeline_run_id"], e["value"]["seq"])
            if k in seen:
                events[i] = dict(e, ident=b"altered")
                DAMAGE["altered"].add((e["partition"], e["offset"]))
                print(f"check: sabotage: altering the duplicate of {k}")
                return
            seen.add(k)
        sys.exit("check: sabotage alter-duplicate: no duplicate to alter")
    elif kind == "drop-dlq":
        d = dlq.pop(rng.randrange(len(dlq)))
        print(f"check: sabotage: dropping dead letter {d['partition']}/"
              f"{d['offset']}")
    elif kind == "extra-dlq":
        d = dict(dlq[0])
        d["dlq"] = dict(d["dlq"], offset=d["dlq"]["offset"] + 1000000)
        dlq.append(d)
        print("check: sabotage: adding a dead letter nobody injected")
    elif kind == "wrong-reason":
        dlq[0] = dict(dlq[0], dlq=dict(dlq[0]["dlq"], reason="undecodable"
                                       if dlq[0]["dlq"]["reason"] !=
                                       "undecodable" else "schema_violation"))
        print("check: sabotage: changing the reason of one dead letter")
    elif kind:
        sys.exit(f"check: unknown sabotage {kind}")


# What the checker and the model hold together at their peaks, in bytes per
# byte of the dumps they read (events + commands + changelog JSON),
# measured 2026-12-07: 3.38 for the exactly_once scenario (dumps 1.46 GB,
# peaks 2.25 + 2.69 GB) and 3.35 for the outbox one (5.32 GB, 8.79 + 8.99
# GB). The model runs beside the other checks only when MemAvailable holds
# that with a fifth to spare, else after them, alone (the outbox dir of
# 5.32 GB: 139 s beside, about 227 alone after).
BOTH_PER_DUMP_BYTE = 4.0


def mem_available():
    """/proc/meminfo's MemAvailable in bytes (0 if unknown)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Model:
    """The reference model's process (tests/model/check_stream.py)."""
    proc = None
    out = None
    rc = None


def plan_model(p):
    """True when the model can run beside the other checks: MemAvailable
    holds both with the margin of BOTH_PER_DUMP_BYTE (the two are
    CPU-bound and independent: on two cores that saves the model's time).
    Else it runs after them, alone, as the one big process."""
    dumps = sum(os.path.getsize(p(n)) for n in
                ("events.jsonl", "commands.jsonl", "changelog.jsonl")
                if os.path.exists(p(n)))
    need = BOTH_PER_DUMP_BYTE * dumps
    avail = mem_available()
    beside = avail > need
    print(f"check: reference model "
          f"{'beside the other checks' if beside else 'after them, alone'} "
          f"(dumps {dumps / 1e9:.2f} GB, both need ~{need / 1e9:.1f} GB, "
          f"{avail / 1e9:.1f} GB available)", flush=True)
    return beside


def start_model(a, p, dlq, c, beside):
    """Start the reference model on the (possibly sabotaged) dumps."""
    m = Model()
    c.fig["model_beside_checks"] = beside
    if a.sabotage:
        # the model must see the damaged streams too
        write_sabotaged_events(p("events.jsonl"), p("events.sabotaged.jsonl"))
        with open(p("dlq.sabotaged.jsonl"), "w") as f:
            for d in dlq:
                f.write(json.dumps(d) + "\n")
        ev, dl = p("events.sabotaged.jsonl"), p("dlq.sabotaged.jsonl")
    else:
        ev, dl = p("events.jsonl"), p("dlq.jsonl")
    cmd = [sys.executable, a.model, "--commands", p("commands.jsonl"),
           "--events", ev, "--dlq", dl,
           "--retention-finished", str(a.retention_finished),
           "--retention-inputs", str(a.retention_inputs)]
    m.out = open(p("model.out"), "w+")
    m.proc = subprocess.Popen(cmd, stdout=m.out, stderr=subprocess.STDOUT,
                              text=True)
    return m


def wait_model(m, c):
    """Wait for the model, print its first lines, fail on its failure."""
    _, status, ru = os.wait4(m.proc.pid, 0)
    m.rc = m.proc.returncode = os.waitstatus_to_exitcode(status)
    c.fig["model_peak_rss_mb"] = ru.ru_maxrss // 1024
    m.out.seek(0)
    out = m.out.read().strip().splitlines()
    m.out.close()
    print(f"check: reference model (check_stream.py) exit {m.rc}:")
    for line in out[:40]:
        print("  " + line)
    if len(out) > 40:
        print(f"  ... {len(out) - 40} more lines")
    if m.rc != 0:
        c.fail(f"reference model disagrees (check_stream.py exit {m.rc})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir", help="folder with the dumps and manifest.jsonl")
    ap.add_argument("--model", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "model",
        "check_stream.py"))
    ap.add_argument("--no-model", action="store_true",
                    help="skip the reference model comparison")
    ap.add_argument("--exactly-once", action="store_true",
                    help="processing.guarantee=exactly_once: a read_committed "
                    "dump of sr.events must hold no duplicate at all")
    ap.add_argument("--sabotage", default="")
    ap.add_argument("--retention-finished", type=int, default=0,
                    help="the workers' retention.finished, ms (for the "
                    "model)")
    ap.add_argument("--retention-inputs", type=int, default=0,
                    help="the workers' retention.inputs, ms")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    p = lambda n: os.path.join(a.dir, n)  # noqa: E731

    c = Checker()
    # Without sabotage the model starts first, so that its reading of the
    # dumps overlaps the checker's; with it, once the damage is known.
    model = None
    if not a.no_model and not os.path.exists(a.model):
        c.fail(f"reference model checker {a.model} is missing")
        a.no_model = True
    if not a.no_model and not a.sabotage and plan_model(p):
        model = start_model(a, p, None, c, True)
    events = load(p("events.jsonl"), slim_event)
    dlq = load(p("dlq.jsonl"))
    manifest = load(p("manifest.jsonl"))
    replies = load(p("replies.jsonl")) if os.path.exists(
        p("replies.jsonl")) else None
    figures = json.load(open(p("figures.json"))) if os.path.exists(
        p("figures.json")) else {}
    changelog = load(p("changelog.jsonl"), slim_input) if os.path.exists(
        p("changelog.jsonl")) else None
    sabotage(a.sabotage, events, dlq, figures, random.Random(a.seed),
             changelog)

    if not a.no_model and a.sabotage:
        model = start_model(a, p, dlq, c, True)
    c.retention = (a.retention_finished, a.retention_inputs)
    if changelog is not None:
        dead = check_stream.dead_letters(dlq)
        c.check_retention(changelog, load(p("commands.jsonl"), slim_input),
                          events,
                          manifest, dead)
    c.check_events(events)
    c.check_dlq(dlq, manifest)
    if replies is not None:
        c.check_replies(replies, manifest)
    c.check_outage(figures)
    del events, changelog
    c.markers = c.after_retirement = None
    gc.collect()
    c.fig["poison_injected"] = len(manifest)
    c.fig["poison_kinds"] = len({(m["kind"], m["topic"]) for m in manifest})
    if not a.no_model and model is None:
        # not enough memory for both at once: the model alone, after the
        # other checks freed what they held
        model = start_model(a, p, dlq, c, False)
    if model is not None:
        wait_model(model, c)
    model_rc = model.rc if model is not None else None
    c.fig["model_exit"] = model_rc
    if a.exactly_once and c.fig.get("event_duplicates", 0):
        c.fail(f"exactly_once: {c.fig['event_duplicates']} duplicate "
               "event(s) visible to a read_committed reader")

    c.fig["checker_peak_rss_mb"] = resource.getrusage(
        resource.RUSAGE_SELF).ru_maxrss // 1024
    figs = dict(figures)
    figs.update(c.fig)
    print("check: figures: " + json.dumps(figs, sort_keys=True))
    for k in ("kills", "wiped_restarts", "rebalances", "broker_restarts",
              "blackhole_s", "map_grows"):
        if k in figures:
            print(f"check:   {k} = {figures[k]}")
    print(f"check:   event records checked = {c.fig['event_records']} "
          f"({c.fig['runs_in_events']} runs), duplicates seen = "
          f"{c.fig['event_duplicates']} (all byte-identical unless listed "
          f"below)")
    if "runs_retired" in c.fig:
        print(f"check:   retention: runs retired = {c.fig['runs_retired']}, "
              f"markers forgotten = {c.fig['markers_forgotten']}, "
              f"changelog tombstones = {c.fig['changelog_tombstones']}, "
              f"late inputs dead-lettered run_retired = "
              f"{c.fig.get('late_inputs_run_retired')}, poison records "
              f"that met a retired run = {c.fig['poison_met_retired_run']}, "
              f"runs brought back = {c.fig['runs_brought_back']}")
    print(f"check:   dead letters = {c.fig['dlq_records']}, matched to "
          f"{c.fig['dlq_matched']} of {c.fig['poison_expected_in_dlq']} "
          f"injected poison records ({c.fig['dlq_duplicates']} repeated "
          f"copies); refusals matched = {c.fig.get('refusals_matched')}")
    with open(p("check.json"), "w") as f:
        json.dump(figs, f, sort_keys=True)
    if c.problems:
        print(f"check: FAILED: {len(c.problems)} problem(s):")
        for m in c.problems[:30]:
            print("  " + m)
        if len(c.problems) > 30:
            print(f"  ... {len(c.problems) - 30} more")
        return 1
    print("check: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
