"""srmodel - an independent reference model of domain.md.

Written from ../../../shared/design/domain.md and docs/domain-decisions.md
(plus the .avsc docs and the id derivations of common/domain/sr_model.c); it never
calls the C state machine. Standard library only.

Inputs are dicts (the JSON shapes of `sr-cli dump`, tests/model/README.md):
    {"input": "command", "ts": MS, "command": {...}}
    {"input": "result",  "ts": MS, "result":  {...}}
Model.apply(input) returns the outputs of that input:
    {"events": [...], "dispatch": [...], "reply": {...} | None,
     "dlq": None | reason, "duplicate": bool, "stale": bool,
     "retired": None | {"ended_at", "retired_at", "forget_at"},
     "forgotten": bool}
The model keeps every run (Model.runs) and the dedupe table, as the worker
does: a command id seen before on the same run gets the first reply again
and nothing else; results are not de-duplicated (forward only).

Retention (docs/guarantee.md "Retention", docs/domain-decisions.md):
Model(retention_finished=MS, retention_inputs=MS). A run whose entities
are all final gets next_deadline = latest ended_at + retention_finished
(0: never); the TimerFired at exactly that deadline retires it: the run
and its dedupe entries go, a marker (Model.retired) stays until the
TimerFired at forget_at = retired_at + retention_inputs (0: for ever).
Commands for a retired run are refused run_retired and dead-lettered
(another tenant's: not_found), results dead-lettered run_retired; none of
these, nor the retiring or forgetting timer, leaves a dedupe entry.
A client's DeleteRun (Command version 4, docs/definitions.md section 7)
retires a run at once, at the command's instant, with the same marker
(forget_at = now + retention_inputs) and the same dedupe rules: refused
not_found unless its pipeline_id is the run's, illegal_transition while
the run or any entity under it is not final; accepted, it is answered
with the run's version and leaves no dedupe entry.

Open stages (docs/targets.md sections 1-4, docs/domain-decisions.md
"Refusals of an open stage's chunks and seal", "Cascades and timeouts"):
a stage created with "targets": {"append": true, "expected": N} gets its
targets from AppendTargets chunks closed by a SealTargets; it waits in
`processing` for the seal (after fill_timeout: invalid,
targets_incomplete) and is filled step_targets target runs per input,
the rest by the StageStep{fill} commands the run sends itself (output
"steps"). A stage run or pipeline run cancelled or timed out changes at
once; its target runs follow, step_targets per input
(StageStep{cancel|timeout}), and a target run that a result, a timer or
a PUT reaches first is caught up on the cascade it is owed, which is
derived from its stage run's and pipeline run's status and reason. The
target runs' own deadline also times them out step_targets per input
(StageStep{deadline}); owed by no status, it lets a result that comes
first count.
Model(..., step_targets=N, chunk_targets=N, fill_timeout=MS,
max_targets=N): the worker's stage.step.targets, stage.chunk.targets,
stage.fill.timeout and stage.max.targets (0: none).
"""
import hashlib
import json
import uuid

NS = uuid.UUID(bytes=bytes([0x5f, 0x1c, 0x0a, 0x52, 0x7d, 0x7e, 0x4c, 0x1e,
                            0x9a, 0x53, 0x3b, 0x2f, 0x0c, 0x9d, 0x5e, 0x11]))
DAY = 24 * 3600 * 1000
PR_DEFAULT_TIMEOUT = 21 * DAY
STAGE_DEFAULT_TIMEOUT = 7 * DAY
TARGET_TIMEOUT = 7 * DAY

STATUSES = ["pending", "queued", "processing", "running", "waiting",
            "dispatched", "complete", "success", "failure", "cancelled",
            "timeout", "invalid"]
TERMINAL = {"success", "failure", "cancelled", "timeout", "invalid"}
ACTIVE_STAGE = {"queued", "processing", "running"}
FAILED_STAGE = {"failure", "timeout", "invalid", "cancelled"}

# result command status -> (rank, target status, reason)
CMDST = {
    "QUEUED": (1, "dispatched", "command_queued"),
    "INITIATED": (2, "running", "command_running"),
    "ACKNOWLEDGED": (2, "running", "command_running"),
    "INPROGRESS": (2, "running", "command_running"),
    "SUCCESS": (3, "success", "command_succeeded"),
    "FAILED": (3, "failure", "command_failed"),
    "FAILURE": (3, "failure", "command_failed"),
    "TIMEOUT": (3, "failure", "command_timeout"),
    "CANCELLED": (3, "failure", "command_cancelled"),
    "ERROR": (3, "invalid", "command_error"),
}
TARGET_RANK = {"processing": 0, "dispatched": 1, "running": 2}
# client PUT on a target run: status -> the result it stands for
TARGET_PUT = {"dispatched": "QUEUED", "running": "INPROGRESS",
              "success": "SUCCESS", "failure": "FAILED"}


def v5(name):
    return str(uuid.uuid5(NS, name))


def _zz(n):
    """An Avro long: zig-zag, then base-128 varint."""
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        b = n & 0x7f
        n >>= 7
        if not n:
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)


def _avro_str(text):
    b = text.encode("utf-8")
    return _zz(len(b)) + b


def uuid_text(u):
    """A UUID's canonical (lower-case) text."""
    return str(uuid.UUID(u))


def chunk_digest(items):
    """docs/targets.md, "Digest": SHA-256 over the chunk's targets array
    in Avro (one block: count, the SpecTarget items, 0). Hex."""
    enc = bytearray(_zz(len(items)) if items else b"")
    for t in items:
        tid = t.get("target_id")
        enc += b"\x00" if tid is None else b"\x02" + _avro_str(uuid_text(tid))
        enc += _avro_str(uuid_text(t["device_id"]))
        enc += _avro_str(t.get("device_name", ""))
        enc += _avro_str(t.get("device_alias", ""))
    enc += b"\x00"
    return hashlib.sha256(bytes(enc)).hexdigest()


def seal_digest(chunk_digests):
    """SHA-256 over the chunks' digests (their bytes) in chunk order."""
    return hashlib.sha256(b"".join(bytes.fromhex(d)
                                   for d in chunk_digests)).hexdigest()


def is_open(stage_spec):
    """An open stage: "targets": {"append": true, ...} (docs/targets.md 1)."""
    return isinstance(stage_spec.get("targets"), dict)


def canon(spec):
    """The run spec, normalised for the duplicate-create comparison."""
    return json.dumps(spec, sort_keys=True, separators=(",", ":"))


class Entity:
    def __init__(self, etype, eid, ts):
        self.type = etype
        self.id = eid
        self.status = None
        self.reason = ""
        self.version = 0
        self.created_at = ts
        self.deadline = 0
        self.ended_at = 0


class Target(Entity):
    pass


class Stage(Entity):
    pass


class Run(Entity):
    pass


class Step:
    """Outputs of one input being built."""

    def __init__(self, run, ts, cause):
        self.run = run
        self.ts = ts
        self.cause = cause
        self.events = []
        self.dispatch = []
        self.steps = []
        self.retire_at = None  # the run retires at this instant

    def move(self, ent, to, reason):
        run = self.run
        frm = ent.status
        ent.status = to
        ent.reason = reason
        ent.version += 1
        if to in TERMINAL:
            ent.ended_at = self.ts
            ent.deadline = 0
        run.last_seq += 1
        seq = run.last_seq
        ev = {
            "event_id": v5("%s/event/%d" % (run.id, seq)),
            "pipeline_run_id": run.id,
            "seq": seq,
            "entity_type": ent.type,
            "entity_id": ent.id,
            "pipeline_id": run.pipeline_id,
            "stage_run_id": None,
            "stage_run_operation_id": None,
            "device_id": None,
            "from_status": frm,
            "to_status": to,
            "reason": reason,
            "occurred_at": self.ts,
            "causation_id": self.cause,
            "enterprise_id": run.enterprise_id,
            "version": ent.version,
        }
        if ent.type == "target_run":
            ev["stage_run_id"] = ent.stage.id
            ev["stage_run_operation_id"] = ent.op_id
            ev["device_id"] = ent.device_id
        self.events.append(ev)

    def send_step(self, st, kind, cursor):
        """StageStep{kind, cursor} the run sends itself; its id names run,
        stage, kind and cursor, so a replayed input sends the same one."""
        run = self.run
        self.steps.append({
            "kind": "stage_step",
            "command_id": v5("%s/stage/%d/step/%s/%d" % (run.id, st.index,
                                                         kind, cursor)),
            "pipeline_run_id": run.id,
            "enterprise_id": run.enterprise_id,
            "issued_at": self.ts,
            "stage_index": st.index,
            "step": kind,
            "cursor": cursor,
        })

    def send(self, tr, kind):
        self.dispatch.append({
            "kind": kind,
            "command_id": tr.command_id,
            "pipeline_run_id": self.run.id,
            "stage_run_id": tr.stage.id,
            "target_run_id": tr.id,
            "device_id": tr.device_id,
            "device_name": tr.device_name,
            "operation_type": tr.operation_type,
            "args_json": tr.args_json,
            "enterprise_id": self.run.enterprise_id,
            "issued_at": self.ts,
        })


class Model:
    def __init__(self, retention_finished=0, retention_inputs=0,
                 step_targets=0, chunk_targets=0, fill_timeout=0,
                 max_targets=0):
        self.step_targets = step_targets
        self.chunk_targets = chunk_targets
        self.fill_timeout = fill_timeout
        self.max_targets = max_targets
        self.runs = {}
        self.dedupe = {}
        self.retired = {}  # run id -> marker (retired runs not forgotten)
        self.final = {}  # run id -> statuses() when it retired
        self.retention_finished = retention_finished
        self.retention_inputs = retention_inputs

    # ------------------------------------------------------------ entry
    def apply(self, inp):
        kind = inp["input"]
        if kind == "command":
            return self._command(inp["command"], inp["ts"])
        if kind == "result":
            return self._result(inp["result"], inp["ts"])
        raise ValueError("unknown input %r" % kind)

    @staticmethod
    def _out(step=None, reply=None, dlq=None, duplicate=False, stale=False):
        return {"events": step.events if step else [],
                "dispatch": step.dispatch if step else [],
                "steps": step.steps if step else [],
                "reply": reply, "dlq": dlq, "duplicate": duplicate,
                "stale": stale, "retired": None, "forgotten": False}

    # ------------------------------------------------------------ commands
    def _command(self, c, ts):
        rid = c["pipeline_run_id"]
        key = (rid, c["command_id"])
        if key in self.dedupe:
            return self._out(reply=self.dedupe[key], duplicate=True)
        if rid in self.retired:
            return self._retired_command(c, ts)
        step, reply = self._command_apply(c, ts)
        if step is not None and step.retire_at is not None:
            return self._retire(step, reply)
        if step is not None:
            self._update_next_deadline(step.run)
        self.dedupe[key] = reply
        out = self._out(step, reply)
        out["stale"] = False
        return out

    # ------------------------------------------------------------ retention
    def _update_next_deadline(self, run):
        """The earliest deadline of an open entity, or with every entity
        final the retirement instant (stored, as sr_fsm does)."""
        ents = [run] + run.stages + list(run.targets.values())
        open_dl = [e.deadline for e in ents
                   if e.status not in TERMINAL and e.deadline]
        if open_dl:
            run.next_deadline = min(open_dl)
        elif self.retention_finished > 0 and self._all_final(run):
            run.next_deadline = max(e.ended_at for e in ents) + \
                self.retention_finished
        else:
            run.next_deadline = 0

    @staticmethod
    def _all_final(run):
        ents = [run] + run.stages + list(run.targets.values())
        return all(e.status in TERMINAL for e in ents)

    def _drop_dedupe(self, rid):
        for k in [k for k in self.dedupe if k[0] == rid]:
            del self.dedupe[k]

    def _retire(self, step, reply):
        """The run keeps only its marker: at its retention timer, or at a
        client's delete (answered with reply)."""
        run = step.run
        ents = [run] + run.stages + list(run.targets.values())
        at = step.retire_at
        marker = {"ended_at": max(e.ended_at for e in ents),
                  "retired_at": at,
                  "forget_at": at + self.retention_inputs
                  if self.retention_inputs > 0 else 0}
        self.final[run.id] = self.statuses(run.id)
        del self.runs[run.id]
        self._drop_dedupe(run.id)
        self.retired[run.id] = dict(marker, enterprise_id=run.enterprise_id)
        out = self._out(reply=reply)
        out["retired"] = marker
        return out

    def _retired_command(self, c, ts):
        """A command for a run of which only the marker is left (as
        sr_fsm's retired_command and the worker: only a stale timer and
        another tenant's command leave a dedupe entry)."""
        rid = c["pipeline_run_id"]
        marker = self.retired[rid]
        if c["kind"] == "stage_step":
            # the run's own step, late: stale, as a stale timer
            self.dedupe[(rid, c["command_id"])] = None
            return self._out()
        if c["kind"] == "timer_fired":
            if marker["forget_at"] and c["deadline"] == marker["forget_at"]:
                del self.retired[rid]
                self._drop_dedupe(rid)
                out = self._out()
                out["forgotten"] = True
                return out
            self.dedupe[(rid, c["command_id"])] = None
            out = self._out()
            return out
        if marker["enterprise_id"] != c["enterprise_id"]:
            reply = self._reply(c, ts, False, "not_found")
            self.dedupe[(rid, c["command_id"])] = reply
            return self._out(reply=reply)
        return self._out(reply=self._reply(c, ts, False, "run_retired"),
                         dlq="run_retired")

    def _reply(self, c, ts, accepted, reason="none", versions=()):
        return {"command_id": c["command_id"],
                "pipeline_run_id": c["pipeline_run_id"],
                "accepted": accepted, "reason": reason,
                "versions": [{"entity_type": e.type, "entity_id": e.id,
                              "version": e.version} for e in versions],
                "occurred_at": ts}

    def _command_apply(self, c, ts):
        kind = c["kind"]
        run = self.runs.get(c["pipeline_run_id"])
        if kind == "timer_fired":
            if run is None:
                return None, None
            step = Step(run, ts, c["command_id"])
            if run.status in TERMINAL and self._all_final(run):
                # retention: the deadline that is its next_deadline
                if c["deadline"] and c["deadline"] == run.next_deadline:
                    step.retire_at = run.next_deadline
                return step, None
            # Silent in domain.md; as sr_fsm: a timer fired for deadline D
            # ends what is due at D (the worker sends it once D passed).
            self._timers(step, min(ts, c["deadline"]))
            return step, None
        if kind == "create_run":
            return self._create(c, ts, run)
        if kind == "stage_step":
            # the run's own command: a late or forged one is stale, and
            # nobody waits for a reply
            if run is None or run.enterprise_id != c["enterprise_id"]:
                return None, None
            return self._stage_step(c, ts, run), None
        if run is None or run.enterprise_id != c["enterprise_id"]:
            return None, self._reply(c, ts, False, "not_found")
        if kind == "append_targets":
            return self._append(c, ts, run)
        if kind == "target_command":
            return self._target_command(c, ts, run)
        if kind == "delete_run":
            return self._delete_run(c, ts, run)
        if kind == "add_target_run":
            return self._add_target_run(c, ts, run)
        if kind == "seal_targets":
            return self._seal(c, ts, run)
        status = (c.get("status") or "").lower()
        # Silent in domain.md; as sr_fsm: the entity is looked up before
        # the status text is checked.
        if kind == "set_stage_run_status" and not any(
                s.id == c["entity_id"] for s in run.stages):
            return None, self._reply(c, ts, False, "not_found")
        if (kind == "set_target_run_status" and
                c["entity_id"] not in run.targets):
            return None, self._reply(c, ts, False, "not_found")
        step = Step(run, ts, c["command_id"])
        if kind == "set_target_run_status":
            # a cascade in steps reaches the target run first. Silent in
            # the docs; as sr_fsm: before the status text is checked, so
            # an invalid_value refusal keeps the catch-up's events
            tr = run.targets[c["entity_id"]]
            self._catch_up(step, tr)
            if status not in STATUSES:
                return step, self._reply(c, ts, False, "invalid_value")
            return self._set_target(step, c, ts, tr, status)
        if status not in STATUSES:
            return None, self._reply(c, ts, False, "invalid_value")
        if kind == "set_pipeline_run_status":
            if status != "cancelled" or run.status in TERMINAL:
                return None, self._reply(c, ts, False, "illegal_transition")
            self._cancel_run(step)
            return step, self._reply(c, ts, True, versions=[run])
        if kind == "set_stage_run_status":
            st = next((s for s in run.stages if s.id == c["entity_id"]), None)
            if st is None:
                return None, self._reply(c, ts, False, "not_found")
            if status == "queued":
                if (st.status != "pending" or run.status != "waiting" or
                        any(s.status != "success"
                            for s in run.stages[:st.index])):
                    return None, self._reply(c, ts, False,
                                             "illegal_transition")
                self._queue_stage(step, st, "promoted")
                step.move(run, "running", "promoted")
                self._process_stage(step, st)
                return step, self._reply(c, ts, True, versions=[run, st])
            if status == "cancelled" and st.status not in TERMINAL:
                step.move(st, "cancelled", "cancelled_by_user")
                self._cascade(step, st, 0)
                self._rollup_run(step)
                return step, self._reply(c, ts, True, versions=[run, st])
            return None, self._reply(c, ts, False, "illegal_transition")
        raise ValueError("unknown command kind %r" % kind)

    def _set_target(self, step, c, ts, tr, status):
        """A PUT on a target run, once caught up (a refusal keeps the
        catch-up's events)."""
        run = step.run
        # decisions: restating the current status is accepted and
        # changes nothing (sr_fsm applies it to `cancelled` too).
        if tr.status == status:
            return step, self._reply(c, ts, True, versions=[run, tr])
        if status == "cancelled":
            if tr.status not in ("pending", "queued", "processing"):
                return step, self._reply(c, ts, False, "illegal_transition")
            self._cancel_target(step, tr, "cancelled_by_user")
            self._target_ended(step, tr)
            return step, self._reply(c, ts, True, versions=[run, tr])
        if status not in TARGET_PUT:
            return step, self._reply(c, ts, False, "illegal_transition")
        rank, to, reason = CMDST[TARGET_PUT[status]]
        if tr.status not in TARGET_RANK or rank <= TARGET_RANK[tr.status]:
            return step, self._reply(c, ts, False, "illegal_transition")
        tr.command_status = TARGET_PUT[status]
        self._target_to(step, tr, to, reason)
        return step, self._reply(c, ts, True, versions=[run, tr])

    def _target_command(self, c, ts, run):
        """A client's cancel or resend of a target run's device command
        (docs/definitions.md 9, phase D): once caught up, refused unless
        it names the target run's command; a cancel before dispatch
        cancels the target run, after it requests the cancel once; a
        resend sends the command again while processing or dispatched and
        no cancel was requested."""
        tr = run.targets.get(c["target_run_id"])
        if tr is None:
            return None, self._reply(c, ts, False, "not_found")
        step = Step(run, ts, c["command_id"])
        self._catch_up(step, tr)
        if tr.command_id is None or tr.command_id != c["device_command_id"]:
            return step, self._reply(c, ts, False, "not_found")
        action = c["action"]
        if action not in ("cancel", "resend"):
            return step, self._reply(c, ts, False, "invalid_value")
        if action == "cancel":
            if tr.status == "cancelled" or (
                    tr.status in ("dispatched", "running") and
                    tr.cancel_requested):
                return step, self._reply(c, ts, True, versions=[run, tr])
            if tr.status in TERMINAL:
                return step, self._reply(c, ts, False, "illegal_transition")
            if tr.status == "processing":
                self._cancel_target(step, tr, "cancelled_by_user")
                self._target_ended(step, tr)
            else:
                # not a status: no event, but a new version (decisions)
                tr.cancel_requested = True
                tr.version += 1
                step.send(tr, "CANCEL")
            return step, self._reply(c, ts, True, versions=[run, tr])
        if (tr.status in TERMINAL or tr.cancel_requested or
                tr.status not in ("processing", "dispatched")):
            return step, self._reply(c, ts, False, "illegal_transition")
        step.send(tr, "COMMAND")
        return step, self._reply(c, ts, True, versions=[run, tr])

    def _add_target_run(self, c, ts, run):
        """A device added to a running stage run (docs/domain-decisions.md,
        "A target run added late"): refused while the stage is not running
        or anything ends it (a final run or stage, a cascade owed, target
        runs due now), for a device already in the stage
        (duplicate_target) and at stage.max.targets (too_large); else one
        target run per operation, named by the device, created and
        dispatched as a fill makes them, operation j's put after its
        others (the order the C run keeps and reloads)."""
        st = next((s for s in run.stages if s.id == c["stage_run_id"]),
                  None)
        if st is None:
            return None, self._reply(c, ts, False, "not_found")
        if (run.status in TERMINAL or st.status in TERMINAL or
                st.status != "running" or
                self._owed_any(st) is not None or self._any_due(st, ts)):
            return None, self._reply(c, ts, False, "illegal_transition")
        ops = st.spec.get("operations", [])
        m = len(st.targets) // len(ops)
        dev = uuid_text(c["device_id"])
        if any(t.device_id == dev for t in st.targets[:m]):
            return None, self._reply(c, ts, False, "duplicate_target")
        if self.max_targets and m >= self.max_targets:
            return None, self._reply(c, ts, False, "too_large")
        step = Step(run, ts, c["command_id"])
        item = {"device_id": dev, "device_name": c["device_name"]}
        tr = None
        for j, op in enumerate(ops):
            tr = self._create_target(step, st, j, m, op, item,
                                     by_device=True, at=j * (m + 1) + m)
        return step, self._reply(c, ts, True, versions=[run, tr])

    def _delete_run(self, c, ts, run):
        """A client's delete of a finished run (docs/definitions.md 7):
        refused unless the path's pipeline is the run's and the run and
        every entity under it are final (nothing is caught up first: a
        cascade still owed keeps target runs open); then answered with the
        run's version, and the run retires now, as its retention timer
        would retire it."""
        if c["pipeline_id"] != run.pipeline_id:
            return None, self._reply(c, ts, False, "not_found")
        if run.status not in TERMINAL or not self._all_final(run):
            return None, self._reply(c, ts, False, "illegal_transition")
        step = Step(run, ts, c["command_id"])
        step.retire_at = ts
        return step, self._reply(c, ts, True, versions=[run])

    # ------------------------------------------------------------ create
    def _create(self, c, ts, run):
        spec = c["spec"]
        if run is not None:
            if run.enterprise_id != c["enterprise_id"]:
                return None, self._reply(c, ts, False, "not_found")
            if run.spec_canon != canon(spec):
                return None, self._reply(c, ts, False, "duplicate_spec")
            return None, self._reply(c, ts, True, versions=[run])
        # stage.max.targets bounds an inline stage at its create (the
        # limits are checked on a new run only)
        if self.max_targets and any(
                not is_open(s) and len(s.get("targets", [])) >
                self.max_targets for s in spec.get("stages", [])):
            return None, self._reply(c, ts, False, "invalid_value")
        rid = c["pipeline_run_id"]
        run = Run("pipeline_run", rid, ts)
        run.enterprise_id = c["enterprise_id"]
        run.pipeline_id = spec["pipeline_id"]
        run.auto_promote = bool(spec.get("auto_promote", False))
        run.spec_canon = canon(spec)
        run.last_seq = 0
        run.next_deadline = 0
        run.deadline = ts + (spec.get("timeout_seconds") or 0) * 1000 \
            if spec.get("timeout_seconds") else ts + PR_DEFAULT_TIMEOUT
        run.stages = []
        run.targets = {}
        self.runs[rid] = run
        step = Step(run, ts, c["command_id"])
        step.move(run, "pending", "created")
        step.move(run, "queued", "queued")
        step.move(run, "processing", "materialising")
        for i, s in enumerate(spec.get("stages", [])):
            st = Stage("stage_run", v5("%s/stage/%d" % (rid, i)), ts)
            st.index = i
            st.run = run
            st.spec = s
            st.targets = []
            st.queued_at = 0
            st.filling = False  # operations frozen, target runs begun
            st.open = is_open(s)
            st.chunks = {}  # chunk index -> (digest, items)
            st.devices = set()
            st.appended = 0
            st.sealed = None  # (chunks, count, digest) once sealed
            run.stages.append(st)
            step.move(st, "pending", "created")
        if not run.stages:
            step.move(run, "invalid", "no_stages")
            return step, self._reply(c, ts, True, versions=[run])
        first = run.stages[0]
        self._queue_stage(step, first, "first_stage")
        step.move(run, "running", "first_stage_queued")
        self._process_stage(step, first)
        return step, self._reply(c, ts, True, versions=[run])

    # ------------------------------------------------------------ stages
    @staticmethod
    def _stage_timeout_at(st):
        t = st.spec.get("timeout_seconds") or 0
        return st.queued_at + (t * 1000 if t else STAGE_DEFAULT_TIMEOUT)

    def _queue_stage(self, step, st, reason):
        step.move(st, "queued", reason)
        st.queued_at = step.ts
        st.deadline = self._stage_timeout_at(st)

    def _process_stage(self, step, st):
        """queued -> processing, then filled; an open stage not sealed yet
        waits for its seal, the fill timeout shortening its deadline."""
        step.move(st, "processing", "materialising")
        if st.open and st.sealed is None:
            if self.fill_timeout > 0:
                st.deadline = min(st.deadline, step.ts + self.fill_timeout)
            return
        self._fill(step, st)
        if st.status in TERMINAL:
            self._rollup_run(step)

    def _stage_items(self, st):
        """The stage's target set: inline, or the sealed chunks in chunk
        order (whatever order they came in)."""
        if not st.open:
            return st.spec.get("targets", [])
        items = []
        for k in range(st.sealed[0]):
            items.extend(st.chunks[k][1])
        return items

    def _fill(self, step, st):
        """Target runs of a processing stage with its whole target set,
        operation-major (op 0: every target, then op 1, ...). An inline
        stage in one input; an open one step_targets per input, each part
        but the last sending StageStep{fill, cursor = target runs made},
        the last moving the stage running."""
        ops = st.spec.get("operations", [])
        items = self._stage_items(st)
        if not st.filling:
            if not items:
                step.move(st, "invalid", "no_targets")
                return
            if not ops:
                step.move(st, "invalid", "no_operations")
                return
            st.filling = True
            # the stage's target runs share one deadline: the first
            # part's time + 7 days, whichever part makes them (targets.md 4)
            st.fill_since = step.ts
            if st.open:  # its own timeout again, not the fill timeout
                st.deadline = self._stage_timeout_at(st)
        total = len(ops) * len(items)
        frm = len(st.targets)
        to = total
        if st.open and self.step_targets and total - frm > self.step_targets:
            to = frm + self.step_targets
        for n in range(frm, to):
            j, k = divmod(n, len(items))
            self._create_target(step, st, j, k, ops[j], items[k])
        if to < total:
            step.send_step(st, "fill", to)
            return
        step.move(st, "running", "targets_dispatched")

    def _create_target(self, step, st, j, k, op, item, by_device=False,
                       at=None):
        """Target run (op j, target k) of stage st, created and dispatched;
        appended, or inserted at position `at` (a device added late)."""
        run = step.run
        if st.open or by_device:
            # named by its device (decisions: open stages), not by the
            # position the chunks gave it
            tid = v5("%s/stage/%d/device/%s/op/%d" % (
                run.id, st.index, uuid_text(item["device_id"]), j))
        else:
            tid = v5("%s/stage/%d/op/%d/target/%d" % (run.id, st.index,
                                                      j, k))
        tr = Target("target_run", tid, step.ts)
        tr.stage = st
        tr.op_id = v5("%s/stage/%d/op/%d" % (run.id, st.index, j))
        tr.device_id = uuid_text(item["device_id"])
        tr.device_name = item.get("device_name", "")
        tr.operation_type = op["operation_type"].upper()
        tr.args_json = json.dumps(op.get("args", {}), separators=(",", ":"))
        tr.command_id = None
        tr.command_status = ""
        tr.cancel_requested = False
        if at is None:
            st.targets.append(tr)
        else:
            st.targets.insert(at, tr)
        run.targets[tid] = tr
        step.move(tr, "pending", "created")
        step.move(tr, "queued", "queued")
        tr.command_id = v5("%s/command" % tid)
        tr.deadline = st.fill_since + TARGET_TIMEOUT
        step.move(tr, "processing", "command_created")
        step.send(tr, "COMMAND")
        return tr

    def _rollup_stage(self, step, st):
        """A running stage whose target runs are all terminal completes."""
        if st.status != "running":
            return
        if any(t.status not in TERMINAL for t in st.targets):
            return
        ok = all(t.status == "success" for t in st.targets)
        reason = "all_targets_succeeded" if ok else "target_failed"
        step.move(st, "complete", reason)
        step.move(st, "success" if ok else "failure", reason)
        self._rollup_run(step)

    def _rollup_run(self, step):
        run = step.run
        if run.status not in ("running", "waiting"):
            return
        stages = run.stages
        if all(s.status == "success" for s in stages):
            step.move(run, "complete", "all_stages_succeeded")
            step.move(run, "success", "all_stages_succeeded")
            return
        if any(s.status in ACTIVE_STAGE for s in stages):
            return
        if any(s.status in FAILED_STAGE for s in stages):
            for s in stages:
                if s.status == "pending":
                    step.move(s, "cancelled", "previous_stage_failed")
            step.move(run, "complete", "stage_failed")
            step.move(run, "failure", "stage_failed")
            return
        nxt = next((s for s in stages if s.status == "pending"), None)
        if nxt is None:
            return
        if run.auto_promote:
            self._queue_stage(step, nxt, "auto_promoted")
            self._process_stage(step, nxt)
        elif run.status == "running":
            step.move(run, "waiting", "awaiting_promotion")

    # ------------------------------------------------------------ open stages
    def _open_stage(self, c, ts, run):
        """The open stage a chunk or seal is for, or (None, the refusal)."""
        i = c["stage_index"]
        if i < 0 or i >= len(run.stages):
            return None, self._reply(c, ts, False, "not_found")
        st = run.stages[i]
        if not st.open:
            return None, self._reply(c, ts, False, "invalid_value")
        if st.status in TERMINAL or run.status in TERMINAL:
            return None, self._reply(c, ts, False, "stale_stage")
        return st, None

    def _append(self, c, ts, run):
        st, refusal = self._open_stage(c, ts, run)
        if st is None:
            return None, refusal
        items = c["targets"]
        k = c["chunk"]
        digest = chunk_digest(items)
        if k in st.chunks:
            # the same chunk again (another command id): nothing to do
            if st.chunks[k][0] == digest:
                return None, self._reply(c, ts, True, versions=[run, st])
            return None, self._reply(c, ts, False, "chunk_conflict")
        if st.sealed is not None:
            return None, self._reply(c, ts, False, "sealed")
        if not items or (self.chunk_targets and
                         len(items) > self.chunk_targets):
            return None, self._reply(c, ts, False, "invalid_value")
        if self.max_targets and st.appended + len(items) > self.max_targets:
            return None, self._reply(c, ts, False, "too_many_targets")
        devs = [uuid_text(t["device_id"]) for t in items]
        if any(uuid.UUID(d).int == 0 for d in devs):
            return None, self._reply(c, ts, False, "invalid_value")
        if len(set(devs)) < len(devs) or st.devices & set(devs):
            return None, self._reply(c, ts, False, "duplicate_target")
        st.chunks[k] = (digest, items)
        st.devices |= set(devs)
        st.appended += len(items)
        # counts, not a status: no event, but a new version (decisions)
        st.version += 1
        return None, self._reply(c, ts, True, versions=[run, st])

    def _seal(self, c, ts, run):
        st, refusal = self._open_stage(c, ts, run)
        if st is None:
            return None, refusal
        seal = (c["chunks"], c["count"], c["digest"].lower())
        if st.sealed is not None:
            ok = st.sealed == seal
            return None, self._reply(c, ts, ok,
                                     "none" if ok else "seal_mismatch",
                                     versions=[run, st] if ok else ())
        n, count, digest = seal
        # a seal that cannot be right whatever was applied: refused before
        # looking for what is missing (decisions, open-stage refusals)
        if (count < 0 or (count == 0 and n) or n > count or
                (self.max_targets and count > self.max_targets)):
            return None, self._reply(c, ts, False, "invalid_value")
        if (any(k not in st.chunks for k in range(n)) or
                len(st.chunks) != n or count != st.appended or
                digest != seal_digest([st.chunks[k][0] for k in range(n)])):
            return None, self._reply(c, ts, False, "seal_mismatch")
        st.sealed = seal
        st.version += 1
        step = Step(run, ts, c["command_id"])
        if st.status == "processing":  # its turn came already
            self._fill(step, st)
            if st.status in TERMINAL:
                self._rollup_run(step)
        return step, self._reply(c, ts, True, versions=[run, st])

    def _stage_step(self, c, ts, run):
        """StageStep: the next part of a fill or of a cascade. Anything
        but the part the run is waiting for is stale (None)."""
        i = c["stage_index"]
        if i < 0 or i >= len(run.stages):
            return None
        st = run.stages[i]
        step = Step(run, ts, c["command_id"])
        cursor = c["cursor"]
        if c["step"] in ("cancel", "timeout"):
            # applies while a cascade is owed, from a cursor inside the
            # stage (docs/targets.md 4); as sr_fsm, the kind it names is
            # not checked: what is owed is applied
            if self._owed_any(st) is None or cursor >= len(st.targets):
                return None
            self._cascade(step, st, cursor)
            return step
        if c["step"] == "deadline":
            # the target runs' deadline: while one is due at the step's
            # instant and no timeout cascade is owed
            owed = self._owed_any(st)
            if (cursor >= len(st.targets) or not self._any_due(st, ts) or
                    (owed is not None and owed[0] == "timeout")):
                return None
            self._deadline(step, st, cursor, ts)
            return step
        if c["step"] != "fill":
            return None
        if (not st.open or st.sealed is None or st.status != "processing" or
                run.status in TERMINAL or not st.filling or
                len(st.targets) != cursor):
            return None
        self._fill(step, st)
        return step

    # ------------------------------------------------------------ cascades
    @staticmethod
    def _owed(ent, pipeline):
        """The cascade an ended stage or pipeline run owes its target runs,
        from its status and reason (docs/targets.md section 4, "Built"):
        (to, reason), or None (not ended by a cancel or a timeout)."""
        who = "pipeline_run" if pipeline else "stage_run"
        if ent.status == "cancelled":
            if ent.reason == "cancelled_by_user":
                return "cancelled", who + "_cancelled"
            if not pipeline and ent.reason == "pipeline_run_cancelled":
                return "cancelled", "pipeline_run_cancelled"
        if ent.status == "timeout":
            if ent.reason == "timeout":
                return "timeout", who + "_timeout"
            if not pipeline and ent.reason == "pipeline_run_timeout":
                return "timeout", "pipeline_run_timeout"
        return None

    def _owed_any(self, st):
        owed = self._owed(st, False)
        return owed if owed is not None else self._owed(st.run, True)

    def _catch_up(self, step, tr):
        """What the stage run's end, then the pipeline run's, owe this
        target run and it has not had (idempotent)."""
        for owed in (self._owed(tr.stage, False),
                     self._owed(step.run, True)):
            if owed is None or tr.status in TERMINAL:
                continue
            to, reason = owed
            if to == "cancelled":
                self._cancel_target(step, tr, reason)
            else:
                self._timeout_target(step, tr, reason)

    def _cascade(self, step, st, start):
        """The stage's target runs from position `start`: step_targets of
        them now (every stage, inline or open), and a StageStep for the
        rest."""
        def settled():  # every target run final: nothing is owed
            return all(t.status in TERMINAL for t in st.targets)

        if settled():
            return
        end = len(st.targets)
        if self.step_targets and end - start > self.step_targets:
            end = start + self.step_targets
        for tr in st.targets[start:end]:
            self._catch_up(step, tr)
        if end < len(st.targets) and not settled():
            owed = self._owed_any(st)
            step.send_step(st, "timeout" if owed[0] == "timeout"
                           else "cancel", end)

    # ------------------------------------------------------------ targets
    def _cancel_target(self, step, tr, reason):
        """The target-run cancel rule of a cascade or a client cancel."""
        if tr.status in ("pending", "queued"):
            step.move(tr, "cancelled", reason)
        elif tr.status in ("processing", "dispatched"):
            step.move(tr, "cancelled", reason)
            if not tr.cancel_requested:  # a TargetCommand's cancel: once
                step.send(tr, "CANCEL")
        elif tr.status == "running" and not tr.cancel_requested:
            tr.cancel_requested = True
            step.send(tr, "CANCEL")

    def _cancel_run(self, step):
        run = step.run
        step.move(run, "cancelled", "cancelled_by_user")
        # Silent in domain.md; as sr_fsm: every stage run first, then the
        # target runs. Every stage is cascaded (what each target run is
        # owed is derived), so one with more target runs than
        # step_targets sends its step even when they all ended already.
        for st in run.stages:
            if st.status not in TERMINAL:
                step.move(st, "cancelled", "pipeline_run_cancelled")
        for st in run.stages:
            self._cascade(step, st, 0)

    def _target_to(self, step, tr, to, reason):
        if to in ("success", "failure"):
            step.move(tr, "complete", reason)
        step.move(tr, to, reason)
        if to in TERMINAL:
            self._target_ended(step, tr)

    def _target_ended(self, step, tr):
        self._rollup_stage(step, tr.stage)

    # ------------------------------------------------------------ results
    def _result(self, r, ts):
        status = r["command_status"].upper()
        if status not in CMDST:
            return self._out(dlq="unknown_command_status")
        if r["pipeline_run_id"] in self.retired:
            return self._out(dlq="run_retired")
        run = self.runs.get(r["pipeline_run_id"])
        if run is None:
            return self._out(dlq="unknown_pipeline_run")
        tr = run.targets.get(r["target_run_id"])
        if tr is None:
            return self._out(dlq="unknown_target_run")
        if tr.command_id != r["command_id"]:
            return self._out(stale=True)
        step = Step(run, ts, r["result_id"])
        # a cascade in steps not there yet reaches it first
        self._catch_up(step, tr)
        rank, to, reason = CMDST[status]
        if (tr.status not in TARGET_RANK or
                rank <= TARGET_RANK[tr.status] or
                (status == "ERROR" and tr.status == "running")):
            self._update_next_deadline(run)
            return self._out(step, stale=True)
        tr.command_status = status
        self._target_to(step, tr, to, reason)
        self._update_next_deadline(run)
        return self._out(step)

    # ------------------------------------------------------------ timers
    def _timers(self, step, now):
        """Everything due at `now`, in this order (decisions, Retention):
        the pipeline run with its cascade; else the stage runs due; then
        the target runs due, whatever their stage and pipeline run (a
        terminal stage or pipeline run does not move again)."""
        run = step.run
        if run.status not in TERMINAL and run.deadline and \
                run.deadline <= now:
            step.move(run, "timeout", "timeout")
            # as the cancel cascade: stage runs first, then target runs
            for st in run.stages:
                if st.status not in TERMINAL:
                    step.move(st, "timeout", "pipeline_run_timeout")
            for st in run.stages:
                self._cascade(step, st, 0)
            return
        for st in run.stages:
            if run.status in TERMINAL:
                break
            if st.status not in ACTIVE_STAGE or not st.deadline or \
                    st.deadline > now:
                continue
            if (st.status == "processing" and st.open and
                    st.sealed is None and now < self._stage_timeout_at(st)):
                # the fill timeout: never sealed, its target set unknown
                step.move(st, "invalid", "targets_incomplete")
            else:
                step.move(st, "timeout", "timeout")
                self._cascade(step, st, 0)
            self._rollup_run(step)
        for st in run.stages:
            # a stage with a target run due, not owed a timeout cascade
            # (its steps time them all out): its target runs' deadline in
            # parts (docs/targets.md 4)
            owed = self._owed_any(st)
            if not self._any_due(st, now) or \
                    (owed is not None and owed[0] == "timeout"):
                continue
            self._deadline(step, st, 0, now)

    @staticmethod
    def _any_due(st, now):
        return any(t.status not in TERMINAL and t.deadline and
                   t.deadline <= now for t in st.targets)

    def _deadline(self, step, st, start, now):
        """The target runs' own deadline over the stage from position
        `start`: step_targets of them now, each caught up on a cascade in
        steps first (silent in the docs; as sr_fsm: every target run of
        the part, not only those due), and StageStep{deadline} for the
        rest while one is due. Owed by no status: a result that reaches a
        target run first counts."""
        end = len(st.targets)
        if self.step_targets and end - start > self.step_targets:
            end = start + self.step_targets
        for tr in st.targets[start:end]:
            self._catch_up(step, tr)
            if (tr.status not in TERMINAL and tr.deadline and
                    tr.deadline <= now):
                self._timeout_target(step, tr, "timeout")
                self._rollup_stage(step, st)
        if end < len(st.targets) and self._any_due(st, now):
            step.send_step(st, "deadline", end)

    def _timeout_target(self, step, tr, reason):
        outstanding = tr.status in ("processing", "dispatched", "running")
        step.move(tr, "timeout", reason)
        # a cancel already requested (cancel cascade) is not sent again
        if outstanding and not tr.cancel_requested:
            tr.cancel_requested = True
            step.send(tr, "CANCEL")

    # ------------------------------------------------------------ queries
    def statuses(self, run_id):
        """Final statuses: {entity id: (entity type, status)}."""
        run = self.runs[run_id]
        out = {run.id: ("pipeline_run", run.status)}
        for st in run.stages:
            out[st.id] = ("stage_run", st.status)
            for tr in st.targets:
                out[tr.id] = ("target_run", tr.status)
        return out
