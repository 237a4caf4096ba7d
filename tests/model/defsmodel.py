"""Reference model of the rules of stored pipeline definitions
(docs/definitions.md sections 2-5 and 7), written from that page, apart
from the C code (common/domain/sr_defs.c), in the shape sr-defs-replay
prints (tests/tools/defs_replay.c). Standard library only.

One Pipelines object holds every pipeline's aggregate and the target
records; apply(cmd, now, opts) returns what sr-defs-replay prints for the
command, except "message" (wording is not compared).
"""
import copy
import json
import uuid

NS = uuid.UUID(bytes=bytes([0x5f, 0x1c, 0x0a, 0x52, 0x7d, 0x7e, 0x4c, 0x1e,
                            0x9a, 0x53, 0x3b, 0x2f, 0x0c, 0x9d, 0x5e, 0x11]))


def v5(name):
    return str(uuid.uuid5(NS, name))


# Derived ids (sr_def_attachment_id, sr_def_group_link_id, sr_def_target_id)
def attachment_id(stage, lst):
    return v5("%s/attachment/%s" % (stage, lst))


def group_link_id(lst, group):
    return v5("%s/group/%s" % (lst, group))


def target_id(lst, device):
    return v5("%s/device/%s/target" % (lst, device))


class Refused(Exception):
    def __init__(self, reason, entity=None):
        Exception.__init__(self, reason)
        self.reason = reason
        self.entity = entity  # (kind, id, version) reported on refusal


def audit(now):
    return [1, now, now]


def bump(a, now):
    a[0] += 1
    a[2] = now


def fold(s):
    return s.lower()  # ASCII folding: the generator uses ASCII names


def check_name(name):
    t = name.strip(" \t\r\n\v\f")
    if not t or len(t.encode()) > 255 or any(ord(ch) < 0x20 or
                                             ord(ch) == 0x7f for ch in t):
        raise Refused("invalid_value")
    return t


def check_timeout(v, zero_ok):
    if v < (0 if zero_ok else 1) or v > 2**31 - 1:
        raise Refused("invalid_value")


def check_optype(t):
    if not (1 <= len(t) <= 63) or any(
            not (ch.isupper() or ch.isdigit() or ch == "_") for ch in t):
        raise Refused("invalid_value")


class Pipelines:
    def __init__(self):
        self.p = {}        # pipeline id -> aggregate dict
        self.targets = {}  # target id -> record dict

    # ---- the aggregate as sr-defs-replay prints it ----
    @staticmethod
    def state(d):
        if d is None:
            return None
        p = d["p"]
        return {
            "id": p["id"], "enterprise": p["enterprise"], "name": p["name"],
            "description": p["description"], "active": p["active"],
            "default": p["default"], "timeout": p["timeout"],
            "deleted_at": p["deleted_at"],
            "runs_started": p["runs_started"], "last_seq": p["last_seq"],
            "audit": list(p["audit"]),
            "stages": [[s["id"], s["name"], s["description"], s["timeout"],
                        s["order"], s["ordinal"], list(s["audit"])]
                       for s in d["stages"]],
            "lists": [[x["id"], x["name"], x["type"], x["n_targets"],
                       x["n_groups"], x["ordinal"], list(x["audit"])]
                      for x in d["lists"]],
            "attachments": [[x["id"], x["stage"], x["list"], x["ordinal"],
                             list(x["audit"])] for x in d["attachments"]],
            "oplists": [[x["id"], x["stage"], x["name"], x["description"],
                         x["ordinal"], list(x["audit"])]
                        for x in d["oplists"]],
            "operations": [[x["id"], x["oplist"], x["type"], x["args"],
                            x["ordinal"], list(x["audit"])]
                           for x in d["operations"]],
            "group_links": [[x["id"], x["list"], x["group"], x["ordinal"],
                             list(x["audit"])] for x in d["group_links"]],
            "active_runs": [[x["id"], x["seq"], x["filling"],
                             list(x["stages"]), x["ordinal"],
                             list(x["audit"])]
                            for x in d["active_runs"]],
        }

    @staticmethod
    def jtarget(t):
        return {"id": t["id"], "list": t["list"], "device": t["device"],
                "name": t["name"], "alias": t["alias"],
                "active": t["active"], "audit": list(t["audit"])}

    # ---- applying ----
    def apply(self, cmd, now, opts):
        pid = cmd["pipeline_id"]
        d = self.p.get(pid)
        work = copy.deepcopy(d) if d is not None else None
        ctx = {"changes": [], "targets": [], "counts": [0, 0, 0],
               "entity": None, "now": now, "opts": opts}
        try:
            work = self._apply(work, cmd, ctx)
        except Refused as r:
            ent = r.entity or ctx["entity"]
            return {"accepted": False, "reason": r.reason,
                    "entity": list(ent), "counts": [0, 0, 0],
                    "changes": [], "targets": [],
                    "state": self.state(d)}
        seq = work["p"]["last_seq"] if work else 0
        for ch in ctx["changes"]:
            seq += 1
            ch[5] = seq
        if work is not None:
            work["p"]["last_seq"] = seq
            self.p[pid] = work
        for t, change in ctx["targets"]:
            if change == "deleted":
                self.targets.pop(t["id"], None)
            else:
                self.targets[t["id"]] = t
        return {"accepted": True, "reason": "none",
                "entity": list(ctx["entity"]), "counts": ctx["counts"],
                "changes": ctx["changes"],
                "targets": [self.jtarget(t) for t, _ in ctx["targets"]],
                "state": self.state(self.p.get(pid))}

    @staticmethod
    def change(ctx, kind, eid, parent, change, version, target=False):
        ctx["changes"].append([kind, eid, parent, change, version, 0])

    @staticmethod
    def expect(cmd, kind, eid, version):
        if "expected_version" in cmd and cmd["expected_version"] != version:
            raise Refused("stale_version", (kind, eid, version))

    def _apply(self, d, cmd, ctx):
        k = cmd["kind"]
        pid = cmd["pipeline_id"]
        now = ctx["now"]
        ctx["entity"] = self.named(cmd) + (0,)
        if k == "PutPipeline" and cmd.get("create") and d is None:
            return self.create_pipeline(cmd, ctx)
        if d is None or d["p"]["enterprise"] != cmd["enterprise_id"]:
            raise Refused("not_found")
        if d["p"]["deleted_at"] and k != "RunEnded":
            raise Refused("pipeline_deleted")
        fn = getattr(self, "cmd_" + k)
        fn(d, cmd, ctx)
        return d

    @staticmethod
    def named(cmd):
        """The entity a command names (the reply's, also on a refusal)."""
        k = cmd["kind"]
        if k in ("PutPipeline", "DeletePipeline"):
            return ("pipeline", cmd["pipeline_id"])
        if k in ("PutStage", "DeleteStage"):
            return ("stage", cmd["stage_id"])
        if k in ("PutTargetList", "DeleteTargetList", "AddTargets"):
            return ("target_list", cmd["target_list_id"])
        if k in ("AttachTargetList", "DetachTargetList"):
            return ("attachment", attachment_id(cmd["stage_id"],
                                                cmd["target_list_id"]))
        if k in ("UpdateTarget", "RemoveTarget"):
            return ("target", cmd["target_id"])
        if k in ("LinkDeviceGroup", "UnlinkDeviceGroup"):
            return ("device_group_link",
                    group_link_id(cmd["target_list_id"],
                                  cmd["device_group_id"]))
        if k in ("PutOperationList", "DeleteOperationList"):
            return ("operation_list", cmd["operation_list_id"])
        if k in ("PutOperation", "DeleteOperation"):
            return ("operation", cmd["operation_id"])
        return ("active_run", cmd["pipeline_run_id"])

    # The order of checks is the C rules' (common/domain/sr_defs.c): a
    # create's expected version first, then the entity and its parents,
    # then the version, then the fields, then limits.

    @staticmethod
    def no_expect(cmd):
        if "expected_version" in cmd:
            raise Refused("invalid_value")

    @staticmethod
    def given_same(cmd, cur, fields):
        """A create of an existing entity: every given field the same."""
        for key, attr, norm in fields:
            if key in cmd:
                v = cmd[key]
                if norm is not None:
                    try:
                        v = norm(v)
                    except Refused:
                        return False
                if v != cur[attr]:
                    return False
        return True

    # ---- pipeline ----
    PIPE_FIELDS = [("name", "name", check_name),
                   ("description", "description", None),
                   ("is_active", "active", None),
                   ("is_default", "default", None),
                   ("timeout_seconds", "timeout", None)]

    def create_pipeline(self, cmd, ctx):
        self.no_expect(cmd)
        if "name" not in cmd:
            raise Refused("invalid_value")
        name = check_name(cmd["name"])
        t = cmd.get("timeout_seconds", 86400)
        check_timeout(t, False)
        now = ctx["now"]
        p = {"id": cmd["pipeline_id"], "enterprise": cmd["enterprise_id"],
             "name": name, "description": cmd.get("description", ""),
             "active": cmd.get("is_active", True),
             "default": cmd.get("is_default", False), "timeout": t,
             "deleted_at": 0, "runs_started": 0, "last_seq": 0,
             "next_ordinal": 0, "audit": audit(now)}
        d = {"p": p, "stages": [], "lists": [], "attachments": [],
             "oplists": [], "operations": [], "group_links": [],
             "active_runs": []}
        ctx["entity"] = ("pipeline", p["id"], 1)
        self.change(ctx, "pipeline", p["id"], None, "created", 1)
        return d

    def cmd_PutPipeline(self, d, cmd, ctx):
        p = d["p"]
        if cmd.get("create"):
            self.no_expect(cmd)
            if not self.given_same(cmd, p, self.PIPE_FIELDS):
                raise Refused("invalid_value")
            ctx["entity"] = ("pipeline", p["id"], p["audit"][0])
            return
        self.expect(cmd, "pipeline", p["id"], p["audit"][0])
        new = dict(p)
        if "name" in cmd:
            new["name"] = check_name(cmd["name"])
        if "timeout_seconds" in cmd:
            check_timeout(cmd["timeout_seconds"], False)
            new["timeout"] = cmd["timeout_seconds"]
        if "description" in cmd:
            new["description"] = cmd["description"]
        if "is_active" in cmd:
            new["active"] = cmd["is_active"]
        if "is_default" in cmd:
            new["default"] = cmd["is_default"]
        ctx["entity"] = ("pipeline", p["id"], p["audit"][0])
        if new == p:
            return
        p.update(new)
        bump(p["audit"], ctx["now"])
        ctx["entity"] = ("pipeline", p["id"], p["audit"][0])
        self.change(ctx, "pipeline", p["id"], None, "updated", p["audit"][0])

    def cmd_DeletePipeline(self, d, cmd, ctx):
        p = d["p"]
        self.expect(cmd, "pipeline", p["id"], p["audit"][0])
        if d["active_runs"]:
            raise Refused("in_use")
        p["deleted_at"] = ctx["now"]
        bump(p["audit"], ctx["now"])
        ctx["entity"] = ("pipeline", p["id"], p["audit"][0])
        self.change(ctx, "pipeline", p["id"], None, "deleted", p["audit"][0])

    # ---- stages ----
    @staticmethod
    def find(arr, eid):
        for x in arr:
            if x["id"] == eid:
                return x
        return None

    @staticmethod
    def name_free(arr, name, own):
        for x in arr:
            if x["id"] != own and fold(x["name"]) == fold(name):
                raise Refused("name_taken")

    @staticmethod
    def order_free(d, order, own):
        if not 1 <= order <= 2**31 - 1:
            raise Refused("invalid_value")
        if any(x["order"] == order and x["id"] != own for x in d["stages"]):
            raise Refused("order_taken")

    STAGE_FIELDS = [("name", "name", check_name),
                    ("description", "description", None),
                    ("timeout_seconds", "timeout", None),
                    ("order", "order", None)]

    def cmd_PutStage(self, d, cmd, ctx):
        sid = cmd["stage_id"]
        s = self.find(d["stages"], sid)
        now = ctx["now"]
        opts = ctx["opts"]
        if cmd.get("create"):
            self.no_expect(cmd)
            if s is not None:
                if not self.given_same(cmd, s, self.STAGE_FIELDS):
                    raise Refused("invalid_value")
                ctx["entity"] = ("stage", sid, s["audit"][0])
                return
            if "name" not in cmd:
                raise Refused("invalid_value")
            name = check_name(cmd["name"])
            t = 0
            if "timeout_seconds" in cmd:
                check_timeout(cmd["timeout_seconds"], False)
                t = cmd["timeout_seconds"]
            if "order" in cmd:
                self.order_free(d, cmd["order"], sid)
                order = cmd["order"]
            else:
                order = max([x["order"] for x in d["stages"]] + [0]) + 1
            self.name_free(d["stages"], name, sid)
            if opts.get("max_stages") and \
                    len(d["stages"]) >= opts["max_stages"]:
                raise Refused("invalid_value")
            s = {"id": sid, "name": name,
                 "description": cmd.get("description", ""), "timeout": t,
                 "order": order, "ordinal": self.next_ordinal(d),
                 "audit": audit(now)}
            d["stages"].append(s)
            ctx["entity"] = ("stage", sid, 1)
            self.change(ctx, "stage", sid, d["p"]["id"], "created", 1)
            return
        if s is None:
            raise Refused("not_found")
        self.expect(cmd, "stage", sid, s["audit"][0])
        new = dict(s)
        if "name" in cmd:
            new["name"] = check_name(cmd["name"])
            self.name_free(d["stages"], new["name"], sid)
        if "timeout_seconds" in cmd:
            check_timeout(cmd["timeout_seconds"], False)
            new["timeout"] = cmd["timeout_seconds"]
        if "order" in cmd:
            self.order_free(d, cmd["order"], sid)
            new["order"] = cmd["order"]
        if "description" in cmd:
            new["description"] = cmd["description"]
        ctx["entity"] = ("stage", sid, s["audit"][0])
        if new == s:
            return
        s.update(new)
        bump(s["audit"], now)
        ctx["entity"] = ("stage", sid, s["audit"][0])
        self.change(ctx, "stage", sid, d["p"]["id"], "updated", s["audit"][0])

    def cmd_DeleteStage(self, d, cmd, ctx):
        sid = cmd["stage_id"]
        s = self.find(d["stages"], sid)
        if s is None:
            raise Refused("not_found")
        self.expect(cmd, "stage", sid, s["audit"][0])
        if any(sid in r["stages"] for r in d["active_runs"]):
            raise Refused("in_use")
        for a in [a for a in d["attachments"] if a["stage"] == sid]:
            self.change(ctx, "attachment", a["id"], sid, "deleted",
                        a["audit"][0] + 1)
            d["attachments"].remove(a)
        for ol in [o for o in d["oplists"] if o["stage"] == sid]:
            self.drop_oplist(d, ol, ctx)
        d["stages"].remove(s)
        self.change(ctx, "stage", sid, d["p"]["id"], "deleted",
                    s["audit"][0] + 1)
        ctx["entity"] = ("stage", sid, s["audit"][0] + 1)

    def drop_oplist(self, d, ol, ctx):
        for op in [o for o in d["operations"] if o["oplist"] == ol["id"]]:
            self.change(ctx, "operation", op["id"], ol["id"], "deleted",
                        op["audit"][0] + 1)
            d["operations"].remove(op)
        self.change(ctx, "operation_list", ol["id"], ol["stage"], "deleted",
                    ol["audit"][0] + 1)
        d["oplists"].remove(ol)

    # ---- target lists and attachments ----
    def cmd_PutTargetList(self, d, cmd, ctx):
        lid = cmd["target_list_id"]
        x = self.find(d["lists"], lid)
        now = ctx["now"]
        if cmd.get("create"):
            self.no_expect(cmd)
            if x is not None:
                if not self.given_same(cmd, x, [("name", "name", check_name),
                                                ("type", "type", None)]):
                    raise Refused("invalid_value")
                ctx["entity"] = ("target_list", lid, x["audit"][0])
                return
            if "name" not in cmd or "type" not in cmd:
                raise Refused("invalid_value")
            name = check_name(cmd["name"])
            self.name_free(d["lists"], name, lid)
            x = {"id": lid, "name": name, "type": cmd["type"],
                 "n_targets": 0, "n_groups": 0,
                 "ordinal": self.next_ordinal(d), "audit": audit(now)}
            d["lists"].append(x)
            ctx["entity"] = ("target_list", lid, 1)
            self.change(ctx, "target_list", lid, d["p"]["id"], "created", 1)
            return
        if x is None:
            raise Refused("not_found")
        self.expect(cmd, "target_list", lid, x["audit"][0])
        new = dict(x)
        if "name" in cmd:
            new["name"] = check_name(cmd["name"])
            self.name_free(d["lists"], new["name"], lid)
        if "type" in cmd and cmd["type"] != x["type"]:
            if x["n_targets"] or x["n_groups"]:
                raise Refused("invalid_value")
            new["type"] = cmd["type"]
        ctx["entity"] = ("target_list", lid, x["audit"][0])
        if new == x:
            return
        x.update(new)
        bump(x["audit"], now)
        ctx["entity"] = ("target_list", lid, x["audit"][0])
        self.change(ctx, "target_list", lid, d["p"]["id"], "updated",
                    x["audit"][0])

    def cmd_DeleteTargetList(self, d, cmd, ctx):
        lid = cmd["target_list_id"]
        x = self.find(d["lists"], lid)
        if x is None:
            raise Refused("not_found")
        self.expect(cmd, "target_list", lid, x["audit"][0])
        if x["n_targets"]:
            raise Refused("in_use")
        for a in [a for a in d["attachments"] if a["list"] == lid]:
            self.change(ctx, "attachment", a["id"], a["stage"], "deleted",
                        a["audit"][0] + 1)
            d["attachments"].remove(a)
        for g in [g for g in d["group_links"] if g["list"] == lid]:
            self.change(ctx, "device_group_link", g["id"], lid, "deleted",
                        g["audit"][0] + 1)
            d["group_links"].remove(g)
        d["lists"].remove(x)
        self.change(ctx, "target_list", lid, d["p"]["id"], "deleted",
                    x["audit"][0] + 1)
        ctx["entity"] = ("target_list", lid, x["audit"][0] + 1)

    def stage_targets(self, d, sid):
        lists = {a["list"] for a in d["attachments"] if a["stage"] == sid}
        return sum(x["n_targets"] for x in d["lists"]
                   if x["id"] in lists and x["type"] == "DEVICES")

    def pair(self, d, cmd):
        s = self.find(d["stages"], cmd["stage_id"])
        x = self.find(d["lists"], cmd["target_list_id"])
        if s is None or x is None:
            raise Refused("not_found")
        return s, x

    def cmd_AttachTargetList(self, d, cmd, ctx):
        self.no_expect(cmd)
        s, x = self.pair(d, cmd)
        aid = attachment_id(s["id"], x["id"])
        a = self.find(d["attachments"], aid)
        if a is not None:
            ctx["entity"] = ("attachment", aid, a["audit"][0])
            return
        mx = ctx["opts"].get("max_targets")
        if mx and x["type"] == "DEVICES" and x["n_targets"] and \
                self.stage_targets(d, s["id"]) + x["n_targets"] > mx:
            raise Refused("invalid_value")
        if self.filling(d):
            raise Refused("run_starting")
        d["attachments"].append({"id": aid, "stage": s["id"],
                                 "list": x["id"],
                                 "ordinal": self.next_ordinal(d),
                                 "audit": audit(ctx["now"])})
        ctx["entity"] = ("attachment", aid, 1)
        self.change(ctx, "attachment", aid, s["id"], "created", 1)

    def cmd_DetachTargetList(self, d, cmd, ctx):
        s, x = self.pair(d, cmd)
        aid = attachment_id(s["id"], x["id"])
        a = self.find(d["attachments"], aid)
        if a is None:
            raise Refused("not_found")
        self.expect(cmd, "attachment", aid, a["audit"][0])
        if self.filling(d):
            raise Refused("run_starting")
        d["attachments"].remove(a)
        ctx["entity"] = ("attachment", aid, a["audit"][0] + 1)
        self.change(ctx, "attachment", aid, s["id"], "deleted",
                    a["audit"][0] + 1)

    # ---- targets ----
    @staticmethod
    def filling(d):
        return any(r["filling"] for r in d["active_runs"])

    def typed_list(self, d, lid, typ):
        x = self.find(d["lists"], lid)
        if x is None:
            raise Refused("not_found")
        if x["type"] != typ:
            raise Refused("wrong_type")
        return x

    def list_counted(self, d, x, ctx):
        bump(x["audit"], ctx["now"])
        self.change(ctx, "target_list", x["id"], d["p"]["id"], "updated",
                    x["audit"][0])

    def cmd_AddTargets(self, d, cmd, ctx):
        self.no_expect(cmd)
        lid = cmd["target_list_id"]
        x = self.typed_list(d, lid, "DEVICES")
        items = cmd.get("items", [])
        if not items:
            raise Refused("invalid_value")
        ct = ctx["opts"].get("chunk_targets")
        if ct and len(items) > ct:
            raise Refused("invalid_value")
        if self.filling(d):
            raise Refused("run_starting")
        seen = set()
        for it in items:
            if it["device_id"] in seen:
                raise Refused("invalid_value")
            seen.add(it["device_id"])
        new = [(target_id(lid, it["device_id"]), it) for it in items
               if target_id(lid, it["device_id"]) not in self.targets]
        mx = ctx["opts"].get("max_targets")
        if mx and new:
            for a in d["attachments"]:
                if a["list"] == lid and \
                        self.stage_targets(d, a["stage"]) + len(new) > mx:
                    raise Refused("invalid_value")
        now = ctx["now"]
        ctx["counts"] = [len(new), len(new), len(items) - len(new)]
        ctx["entity"] = ("target_list", lid, x["audit"][0])
        if not new:
            return
        for tid, it in new:
            t = {"id": tid, "list": lid, "device": it["device_id"],
                 "name": check_name_or_raw(it.get("device_name", "")),
                 "alias": it.get("device_alias", ""),
                 "active": it.get("is_active", True), "audit": audit(now)}
            ctx["targets"].append((t, "created"))
            self.change(ctx, "target", tid, lid, "created", 1)
        x["n_targets"] += len(new)
        self.list_counted(d, x, ctx)
        ctx["entity"] = ("target_list", lid, x["audit"][0])

    def target_cmd(self, d, cmd, ctx):
        lid, tid = cmd["target_list_id"], cmd["target_id"]
        x = self.typed_list(d, lid, "DEVICES")
        t = self.targets.get(tid)
        if t is None or t["list"] != lid:
            raise Refused("not_found")
        self.expect(cmd, "target", tid, t["audit"][0])
        if self.filling(d):
            raise Refused("run_starting")
        return x, t

    def cmd_UpdateTarget(self, d, cmd, ctx):
        x, t = self.target_cmd(d, cmd, ctx)
        new = dict(t, audit=list(t["audit"]))
        if "device_name" in cmd:
            new["name"] = cmd["device_name"]
        if "is_active" in cmd:
            new["active"] = cmd["is_active"]
        ctx["entity"] = ("target", t["id"], t["audit"][0])
        if new == t:
            return
        bump(new["audit"], ctx["now"])
        ctx["targets"].append((new, "updated"))
        ctx["entity"] = ("target", t["id"], new["audit"][0])
        self.change(ctx, "target", t["id"], x["id"], "updated",
                    new["audit"][0])

    def cmd_RemoveTarget(self, d, cmd, ctx):
        x, t = self.target_cmd(d, cmd, ctx)
        gone = dict(t, audit=list(t["audit"]))
        bump(gone["audit"], ctx["now"])
        ctx["targets"].append((gone, "deleted"))
        self.change(ctx, "target", t["id"], x["id"], "deleted",
                    gone["audit"][0])
        if x["n_targets"]:
            x["n_targets"] -= 1
        self.list_counted(d, x, ctx)
        ctx["entity"] = ("target", t["id"], gone["audit"][0])

    # ---- device groups ----
    def cmd_LinkDeviceGroup(self, d, cmd, ctx):
        self.no_expect(cmd)
        lid, gid = cmd["target_list_id"], cmd["device_group_id"]
        x = self.typed_list(d, lid, "GROUPS")
        glid = group_link_id(lid, gid)
        g = self.find(d["group_links"], glid)
        if g is not None:
            ctx["entity"] = ("device_group_link", glid, g["audit"][0])
            return
        if self.filling(d):
            raise Refused("run_starting")
        d["group_links"].append({"id": glid, "list": lid, "group": gid,
                                 "ordinal": self.next_ordinal(d),
                                 "audit": audit(ctx["now"])})
        self.change(ctx, "device_group_link", glid, lid, "created", 1)
        x["n_groups"] += 1
        self.list_counted(d, x, ctx)
        ctx["entity"] = ("device_group_link", glid, 1)

    def cmd_UnlinkDeviceGroup(self, d, cmd, ctx):
        lid, gid = cmd["target_list_id"], cmd["device_group_id"]
        x = self.typed_list(d, lid, "GROUPS")
        glid = group_link_id(lid, gid)
        g = self.find(d["group_links"], glid)
        if g is None:
            raise Refused("not_found")
        self.expect(cmd, "device_group_link", glid, g["audit"][0])
        if self.filling(d):
            raise Refused("run_starting")
        d["group_links"].remove(g)
        self.change(ctx, "device_group_link", glid, lid, "deleted",
                    g["audit"][0] + 1)
        if x["n_groups"]:
            x["n_groups"] -= 1
        self.list_counted(d, x, ctx)
        ctx["entity"] = ("device_group_link", glid, g["audit"][0] + 1)

    # ---- operation lists and operations ----
    def next_ordinal(self, d):
        d["p"]["next_ordinal"] += 1
        return d["p"]["next_ordinal"] - 1

    def oplist_named(self, d, olid, sid):
        ol = self.find(d["oplists"], olid)
        if ol is None or (sid is not None and ol["stage"] != sid):
            raise Refused("not_found")
        return ol

    def cmd_PutOperationList(self, d, cmd, ctx):
        sid, olid = cmd["stage_id"], cmd["operation_list_id"]
        now = ctx["now"]
        if cmd.get("create"):
            self.no_expect(cmd)
            if self.find(d["stages"], sid) is None:
                raise Refused("not_found")
            ol = self.find(d["oplists"], olid)
            if ol is not None:
                if ol["stage"] != sid or not self.given_same(
                        cmd, ol, [("name", "name", check_name),
                                  ("description", "description", None)]):
                    raise Refused("invalid_value")
                ctx["entity"] = ("operation_list", olid, ol["audit"][0])
                return
            if "name" not in cmd:
                raise Refused("invalid_value")
            name = check_name(cmd["name"])
            self.name_free([o for o in d["oplists"] if o["stage"] == sid],
                           name, olid)
            ol = {"id": olid, "stage": sid, "name": name,
                  "description": cmd.get("description", ""),
                  "ordinal": self.next_ordinal(d), "audit": audit(now)}
            d["oplists"].append(ol)
            ctx["entity"] = ("operation_list", olid, 1)
            self.change(ctx, "operation_list", olid, sid, "created", 1)
            return
        ol = self.oplist_named(d, olid, sid)
        self.expect(cmd, "operation_list", olid, ol["audit"][0])
        new = dict(ol)
        if "name" in cmd:
            new["name"] = check_name(cmd["name"])
            self.name_free([o for o in d["oplists"] if o["stage"] == sid],
                           new["name"], olid)
        if "description" in cmd:
            new["description"] = cmd["description"]
        ctx["entity"] = ("operation_list", olid, ol["audit"][0])
        if new == ol:
            return
        ol.update(new)
        bump(ol["audit"], now)
        ctx["entity"] = ("operation_list", olid, ol["audit"][0])
        self.change(ctx, "operation_list", olid, sid, "updated",
                    ol["audit"][0])

    def cmd_DeleteOperationList(self, d, cmd, ctx):
        olid = cmd["operation_list_id"]
        ol = self.oplist_named(d, olid, cmd["stage_id"])
        self.expect(cmd, "operation_list", olid, ol["audit"][0])
        self.drop_oplist(d, ol, ctx)
        ctx["entity"] = ("operation_list", olid, ol["audit"][0] + 1)

    def stage_ops(self, d, sid):
        ols = {o["id"] for o in d["oplists"] if o["stage"] == sid}
        return sum(1 for op in d["operations"] if op["oplist"] in ols)

    @staticmethod
    def args_of(cmd):
        if "args" not in cmd:
            return None
        return cmd["args"]

    def cmd_PutOperation(self, d, cmd, ctx):
        olid, oid = cmd["operation_list_id"], cmd["operation_id"]
        now = ctx["now"]
        op = self.find(d["operations"], oid)
        if cmd.get("create"):
            self.no_expect(cmd)
            ol = self.oplist_named(d, olid, None)
            if op is not None:
                if op["oplist"] != olid or \
                        ("operation_type" in cmd and
                         cmd["operation_type"] != op["type"]) or \
                        ("args" in cmd and cmd["args"] != op["args"]):
                    raise Refused("invalid_value")
                ctx["entity"] = ("operation", oid, op["audit"][0])
                return
            if "operation_type" not in cmd:
                raise Refused("invalid_value")
            check_optype(cmd["operation_type"])
            mx = ctx["opts"].get("max_ops")
            if mx and self.stage_ops(d, ol["stage"]) + 1 > mx:
                raise Refused("invalid_value")
            op = {"id": oid, "oplist": olid, "type": cmd["operation_type"],
                  "args": self.args_of(cmd),
                  "ordinal": self.next_ordinal(d), "audit": audit(now)}
            d["operations"].append(op)
            ctx["entity"] = ("operation", oid, 1)
            self.change(ctx, "operation", oid, olid, "created", 1)
            return
        if op is None or op["oplist"] != olid:
            raise Refused("not_found")
        self.expect(cmd, "operation", oid, op["audit"][0])
        if "operation_type" in cmd:
            check_optype(cmd["operation_type"])
        new = dict(op)
        if "operation_type" in cmd:
            new["type"] = cmd["operation_type"]
        if "args" in cmd:
            new["args"] = cmd["args"]
        ctx["entity"] = ("operation", oid, op["audit"][0])
        if new == op:
            return
        op.update(new)
        bump(op["audit"], now)
        ctx["entity"] = ("operation", oid, op["audit"][0])
        self.change(ctx, "operation", oid, olid, "updated", op["audit"][0])

    def cmd_DeleteOperation(self, d, cmd, ctx):
        olid, oid = cmd["operation_list_id"], cmd["operation_id"]
        op = self.find(d["operations"], oid)
        if op is None or op["oplist"] != olid:
            raise Refused("not_found")
        self.expect(cmd, "operation", oid, op["audit"][0])
        d["operations"].remove(op)
        ctx["entity"] = ("operation", oid, op["audit"][0] + 1)
        self.change(ctx, "operation", oid, olid, "deleted",
                    op["audit"][0] + 1)

    # ---- runs ----
    def cmd_StartPipelineRun(self, d, cmd, ctx):
        self.no_expect(cmd)
        rid = cmd["pipeline_run_id"]
        r = self.find(d["active_runs"], rid)
        if r is not None:
            ctx["entity"] = ("active_run", rid, r["audit"][0])
            return
        # A GROUPS list's linked device groups are copied into the run
        # before its CreateRun (docs/definitions.md section 6, phase C).
        for a in d["attachments"]:
            x = self.find(d["lists"], a["list"])
            if x["type"] == "COLLECTIONS":
                raise Refused("not_supported")
        if self.filling(d):
            raise Refused("run_starting")
        p = d["p"]
        stages = [s["id"] for s in sorted(d["stages"],
                                          key=lambda s: s["order"])]
        filling = any(self.find(d["lists"], a["list"])["type"] !=
                      "COLLECTIONS" for a in d["attachments"])
        d["active_runs"].append({"id": rid, "seq": p["last_seq"],
                                 "filling": filling, "stages": stages,
                                 "ordinal": self.next_ordinal(d),
                                 "audit": audit(ctx["now"])})
        p["runs_started"] += 1
        ctx["entity"] = ("active_run", rid, 1)
        self.change(ctx, "active_run", rid, p["id"], "created", 1)

    def cmd_RunEnded(self, d, cmd, ctx):
        rid = cmd["pipeline_run_id"]
        r = self.find(d["active_runs"], rid)
        if r is None:
            return
        self.expect(cmd, "active_run", rid, r["audit"][0])
        d["active_runs"].remove(r)
        ctx["entity"] = ("active_run", rid, r["audit"][0] + 1)
        self.change(ctx, "active_run", rid, d["p"]["id"], "deleted",
                    r["audit"][0] + 1)


def check_name_or_raw(s):
    """A target's device_name is stored as given (bounded by the codec)."""
    return s
