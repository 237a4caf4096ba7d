#!/usr/bin/env python3
"""Check what a real fleet published against the reference model.

    check_stream.py --commands commands.jsonl --events events.jsonl \
                    [--dlq dlq.jsonl] [--retention-finished MS
                    --retention-inputs MS]

The files are `sr-cli dump commands|events|dlq` outputs. The accepted
inputs are the records of sr.commands in (partition, offset) order: the
commands, the results the workers forwarded there (header
sr_forwarded_from) and the TimerFired commands; a record that the worker
dead-lettered (sr.dlq names its source topic/partition/offset; a forwarded
result is named by its sr.results position) is skipped. Each input is
applied to srmodel.Model at its record timestamp. Then, per pipeline run:
the events of sr.events de-duplicated by seq (a re-published event must be
identical) must equal the model's events, field by field, and the final
status of the pipeline run and of every stage and target run must equal
the model's (for a run the model retired: its statuses when it retired).
--retention-* are the workers' retention.finished / retention.inputs: the
model retires and forgets runs at the same TimerFired records as they.
Exit 0 when everything matches, 1 with a per-run diff.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import srmodel  # noqa: E402


def load(path):
    return list(records(path))


def records(path, drop=("raw", "key_b64")):
    """The records of a dump, one at a time, without their bytes (the
    decoded value and the headers are what is compared): the chaos
    scenario's dumps hold millions of records."""
    with open(path) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                for k in drop:
                    r.pop(k, None)
                yield r


def header(rec, name):
    for h in rec.get("headers", []):
        if h["name"] == name and not h["b64"]:
            return h["value"]
    return None


def dead_letters(dlq):
    """{(topic, partition, offset): reason} of the sr.dlq records."""
    dead = {}
    for r in dlq:
        d = r.get("dlq", {})
        if "topic" in d:
            dead[(d["topic"], d.get("partition"), d.get("offset"))] = \
                d.get("reason")
    return dead


def dead_lettered(r, src, dead):
    """Whether the worker dead-lettered this sr.commands record r (src: its
    source, the sr.results position for a forwarded result). A result can
    be forwarded twice (a batch cut by a crash is redone by the next owner,
    docs/guarantee.md): the first copy applied while its run was live, the
    second dead-lettered run_retired once the run had retired. sr.dlq names
    the result's position, not the copy, so such a copy is not skipped: the
    model applies each copy and dead-letters the one that meets a retired
    run itself (a first copy wrongly dead-lettered then shows as a
    difference in the events and in check.py's run_retired check)."""
    if ("commands", r["partition"], r["offset"]) in dead:
        return True
    if src[0] == "results" and dead.get(src) == "run_retired":
        return False
    return src in dead


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--commands", required=True)
    ap.add_argument("--events", required=True)
    ap.add_argument("--dlq")
    ap.add_argument("--max-diffs", type=int, default=20)
    ap.add_argument("--retention-finished", type=int, default=0,
                    help="the workers' retention.finished, ms")
    ap.add_argument("--retention-inputs", type=int, default=0,
                    help="the workers' retention.inputs, ms")
    args = ap.parse_args()

    dead = dead_letters(load(args.dlq)) if args.dlq else {}

    model = srmodel.Model(args.retention_finished, args.retention_inputs)
    want = {}  # the model's events per run, in order
    cmds = sorted(load(args.commands),
                  key=lambda r: (r["partition"], r["offset"]))
    applied = skipped = undecodable = retired = forgotten = 0
    for r in cmds:
        src = ("commands", r["partition"], r["offset"])
        fwd = header(r, "sr_forwarded_from")
        if fwd:
            t, p, o = fwd.split("/")
            src = (t, int(p), int(o))
        if dead_lettered(r, src, dead):
            skipped += 1
            continue
        if r["value"] is None or r["type"] not in ("command", "result"):
            undecodable += 1
            print("warning: %s[%d]@%d not decodable and not dead-lettered: "
                  "%s" % (r["topic"], r["partition"], r["offset"],
                          r.get("error")))
            continue
        out = model.apply({"input": r["type"], "ts": r["timestamp"],
                           r["type"]: r["value"]})
        for ev in out["events"]:
            want.setdefault(ev["pipeline_run_id"], []).append(ev)
        applied += 1
        retired += out["retired"] is not None
        forgotten += out["forgotten"]

    got, problems = {}, {}
    for r in records(args.events):
        ev = r["value"]
        if ev is None:
            problems.setdefault("-", []).append(
                "undecodable event %s[%d]@%d" % (r["topic"], r["partition"],
                                                 r["offset"]))
            continue
        seqs = got.setdefault(ev["pipeline_run_id"], {})
        prev = seqs.get(ev["seq"])
        if prev is not None and prev != ev:
            problems.setdefault(ev["pipeline_run_id"], []).append(
                "seq %d published twice with different content" % ev["seq"])
        seqs[ev["seq"]] = ev

    n_events = 0
    for rid in sorted(set(want) | set(got)):
        p = problems.setdefault(rid, [])
        w = want.get(rid, [])
        g = [got.get(rid, {})[s] for s in sorted(got.get(rid, {}))]
        n_events += len(g)
        if [e["seq"] for e in g] != list(range(1, len(g) + 1)):
            p.append("seqs not gapless from 1: %s" % [e["seq"] for e in g])
        for i in range(max(len(w), len(g))):
            a = g[i] if i < len(g) else None
            b = w[i] if i < len(w) else None
            if a == b:
                continue
            if a is None or b is None:
                p.append("event #%d: %s only: %s" % (
                    i + 1, "model" if a is None else "sr.events",
                    short(b if a is None else a)))
            else:
                fields = [k for k in sorted(set(a) | set(b))
                          if a.get(k) != b.get(k)]
                p.append("event #%d differs in %s: sr.events %s / model %s"
                         % (i + 1, fields, short(a), short(b)))
            if len(p) >= args.max_diffs:
                p.append("...")
                break
        # final statuses: the last event of each entity vs the model
        final = {}
        for e in g:
            final[e["entity_id"]] = (e["entity_type"], e["to_status"])
        if rid in model.runs or rid in model.final:
            ms = model.statuses(rid) if rid in model.runs else \
                model.final[rid]
            for eid in sorted(set(ms) | set(final)):
                if ms.get(eid) != final.get(eid):
                    p.append("final status of %s: sr.events %s / model %s"
                             % (eid, final.get(eid), ms.get(eid)))
        else:
            p.append("run in sr.events but never created in sr.commands")

    bad = {k: v for k, v in problems.items() if v}
    print("check_stream: inputs applied=%d skipped(dlq)=%d undecodable=%d "
          "runs=%d retired=%d forgotten=%d events=%d runs-with-differences=%d"
          % (applied, skipped, undecodable,
             len(set(model.runs) | set(model.final)), retired, forgotten,
             n_events, len(bad)))
    for rid, p in sorted(bad.items()):
        print("run %s:" % rid)
        for line in p:
            print("  " + line)
    return 1 if bad else 0


def short(e):
    return "seq=%s %s %s %s->%s (%s) v%s" % (
        e["seq"], e["entity_type"], e["entity_id"][:8], e["from_status"],
        e["to_status"], e["reason"], e["version"])


if __name__ == "__main__":
    sys.exit(main())
