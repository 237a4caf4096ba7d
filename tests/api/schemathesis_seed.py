#!/usr/bin/env python3
"""Seed a running gateway with one pipeline run for tests/api/schemathesis.sh.

Usage: schemathesis_seed.py BASE_URL TOKEN

Starts one run (two stages, no auto-promotion) with POST /v0/runs/, waits
until the agent has finished stage 1 (the run is then `waiting` and stage 2
`pending`, so a promotion can succeed), and prints TOML for schemathesis:
one dictionary of real ids per path parameter, and a binding that makes
schemathesis use a real id for that parameter most of the time. Without it
nearly every by-id request is a 404 and the 200 answers of GET and PUT on a
single entity are never checked.

The two DELETE operations get a run of their own: a run without stages
(`invalid` at once, so finished and deletable), bound to their
`pipeline_run_id` instead of the seed run. Otherwise a DELETE would retire
the seed run as soon as a PUT had cancelled it, and every later operation
would meet only 404s. Standard library only. Exits 1 when the gateway
refuses the seed.

Stored definitions (docs/definitions.md, phase A): a pipeline with
stages, target lists (one attached), operation lists and operations is
created through the API and its ids are bound to the path parameters of
the definition operations (DEF_BINDINGS); each DELETE gets an entity of
its own, as the run DELETEs do. While the workers do not apply definition commands yet (the
pipeline's create is not a 200), the seed says so in a comment line
`# definitions: unavailable (...)`, and tests/api/schemathesis.sh leaves
the definition tags out of its passes.
"""
import json
import sys
import time
import urllib.error
import urllib.request
import uuid

WAIT_S = 30  # for stage 1 to end (the agent answers within a second)
PROBABILITY = 0.75  # of a real id rather than a generated value
DELETE_OPS = ("deletePipelineRun", "deleteRun")  # bound to a run of theirs
# The definition operations and the seeded ids each path parameter is
# bound to (the deletes get entities of their own).
DEF_BINDINGS = {
    "getPipeline": {"pipeline_id": "pipeline_id"},
    "updatePipeline": {"pipeline_id": "pipeline_id"},
    "listStages": {"pipeline_id": "pipeline_id"},
    "createStage": {"pipeline_id": "pipeline_id"},
    "listTargetLists": {"pipeline_id": "pipeline_id"},
    "createTargetList": {"pipeline_id": "pipeline_id"},
    "getStage": {"pipeline_id": "pipeline_id", "stage_id": "stage_id"},
    "updateStage": {"pipeline_id": "pipeline_id", "stage_id": "stage_id"},
    "getTargetList": {"pipeline_id": "pipeline_id",
                      "targetlist_id": "targetlist_id"},
    "updateTargetList": {"pipeline_id": "pipeline_id",
                         "targetlist_id": "targetlist_id"},
    "listStageTargetLists": {"stage_id": "stage_id"},
    "attachTargetList": {"stage_id": "stage_id"},
    "detachTargetList": {"stage_id": "stage_id",
                         "targetlist_id": "targetlist_id"},
    "listOperationLists": {"stage_id": "stage_id"},
    "createOperationList": {"stage_id": "stage_id"},
    "updateOperationList": {"stage_id": "stage_id",
                            "operationlist_id": "operationlist_id"},
    "listOperations": {"operationlist_id": "operationlist_id"},
    "createOperation": {"operationlist_id": "operationlist_id"},
    "getOperation": {"operationlist_id": "operationlist_id",
                     "operation_id": "operation_id"},
    "updateOperation": {"operationlist_id": "operationlist_id",
                        "operation_id": "operation_id"},
    "listTargets": {"pipeline_id": "pipeline_id",
                    "targetlist_id": "targetlist_id"},
    "createTarget": {"pipeline_id": "pipeline_id",
                     "targetlist_id": "targetlist_id"},
    "getTarget": {"pipeline_id": "pipeline_id",
                  "targetlist_id": "targetlist_id", "target_id": "target_id"},
    "updateTarget": {"pipeline_id": "pipeline_id",
                     "targetlist_id": "targetlist_id",
                     "target_id": "target_id"},
    "deleteTarget": {"pipeline_id": "pipeline_id",
                     "targetlist_id": "targetlist_id",
                     "target_id": "deletable_target_id"},
    "bulkAddTargets": {"pipeline_id": "pipeline_id",
                       "targetlist_id": "targetlist_id"},
    # a GROUPS list with two linked groups (phase C): one to list the
    # devices of, one to unlink
    "listDeviceGroups": {"pipeline_id": "pipeline_id",
                         "targetlist_id": "grouplist_id"},
    "linkDeviceGroup": {"pipeline_id": "pipeline_id",
                        "targetlist_id": "grouplist_id"},
    "unlinkDeviceGroup": {"pipeline_id": "pipeline_id",
                          "targetlist_id": "grouplist_id",
                          "devicegroup_id": "deletable_group_id"},
    "listDeviceGroupDevices": {"pipeline_id": "pipeline_id",
                               "targetlist_id": "grouplist_id",
                               "device_group_id": "group_id"},
    "deletePipeline": {"pipeline_id": "deletable_pipeline_id"},
    "deleteStage": {"pipeline_id": "pipeline_id",
                    "stage_id": "deletable_stage_id"},
    "deleteTargetList": {"pipeline_id": "pipeline_id",
                         "targetlist_id": "deletable_targetlist_id"},
    "deleteOperationList": {"stage_id": "stage_id",
                            "operationlist_id":
                            "deletable_operationlist_id"},
    "deleteOperation": {"operationlist_id": "operationlist_id",
                        "operation_id": "deletable_operation_id"},
}


def call(base, token, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def results(base, token, path):
    code, doc = call(base, token, "GET", path + "?limit=1000")
    if code != 200:
        sys.exit(f"seed: GET {path}: {code} {doc.get('message')}")
    return doc["content"]["results"]


def seed_definitions(base, token):
    """A pipeline with two stages, two target lists (one attached to the
    first stage), two operation lists with two operations, and a pipeline
    to delete; None when the workers do not apply definition commands
    (yet)."""
    made = {}

    def post(name, path, body):
        code, doc = call(base, token, "POST", path, body)
        if code != 200:
            raise LookupError(f"POST {path}: {code} {doc.get('message')}")
        made[name] = doc["content"]["id"]

    try:
        post("pipeline", "/v0/pipelines/", {"name": "schemathesis seed"})
        post("deletable_pipeline", "/v0/pipelines/",
             {"name": "schemathesis delete"})
        pipe = made["pipeline"]
        post("stage", f"/v0/pipelines/{pipe}/stages/",
             {"name": "one", "order": 1})
        post("deletable_stage", f"/v0/pipelines/{pipe}/stages/",
             {"name": "two", "order": 2})
        post("targetlist", f"/v0/pipelines/{pipe}/targetlists/",
             {"name": "fleet", "target_list_type": "DEVICES"})
        post("deletable_targetlist", f"/v0/pipelines/{pipe}/targetlists/",
             {"name": "spare", "target_list_type": "GROUPS"})
        post("attached", f"/v0/stages/{made['stage']}/targetlists/",
             {"target_list_id": made["targetlist"]})
        post("operationlist",
             f"/v0/stages/{made['stage']}/operationlists/",
             {"name": "installs"})
        post("deletable_operationlist",
             f"/v0/stages/{made['stage']}/operationlists/",
             {"name": "spare"})
        ops = f"/v0/operationlists/{made['operationlist']}/operations/"
        post("operation", ops, {"operation_type": "REBOOT"})
        post("deletable_operation", ops, {"operation_type": "LOCK"})
        tgts = f"/v0/pipelines/{pipe}/targetlists/{made['targetlist']}/targets/"
        post("target", tgts, {"device_id": str(uuid.uuid4()),
                              "device_name": "st-def-1"})
        post("deletable_target", tgts, {"device_id": str(uuid.uuid4()),
                                        "device_name": "st-def-2"})
        post("grouplist", f"/v0/pipelines/{pipe}/targetlists/",
             {"name": "by group", "target_list_type": "GROUPS"})
        groups = (f"/v0/pipelines/{pipe}/targetlists/{made['grouplist']}"
                  "/devicegroups/")
        for name in ("group", "deletable_group"):
            gid = str(uuid.uuid4())
            post("link", groups, {"device_group_id": gid})
            made[name] = gid  # the path names the group, not the link
    except LookupError as e:
        return None, str(e)
    del made["attached"], made["link"]
    return made, None


def bind(opid, params, prefix=""):
    """Bind @p opid's path parameters to dictionaries (named @p prefix +
    the dictionary)."""
    print("[[operations]]")
    print(f'include-operation-id = "{opid}"')
    print("parameters = { " + ", ".join(
        f'"path.{p}" = {{ dictionary = "{prefix}{d}", '
        f'probability = {PROBABILITY} }}'
        for p, d in params.items()) + " }")


def main():
    base, token = sys.argv[1].rstrip("/"), sys.argv[2]
    spec = {
        "pipeline_id": str(uuid.uuid4()),
        "pipeline_name": "schemathesis seed",
        "auto_promote": False,
        "stages": [
            {"name": "one",
             "operations": [{"operation_type": "REBOOT"}],
             "targets": [{"device_id": str(uuid.uuid4()),
                          "device_name": "st-1"},
                         {"device_id": str(uuid.uuid4()),
                          "device_name": "st-2"}]},
            {"name": "two",
             "operations": [{"operation_type": "LOCK"}],
             "targets": [{"device_id": str(uuid.uuid4()),
                          "device_name": "st-3"}]},
        ]}
    code, doc = call(base, token, "POST", "/v0/runs/", spec)
    if code != 200:
        sys.exit(f"seed: POST /v0/runs/: {code} {doc.get('message')}")
    run = doc["content"]
    code, doc = call(base, token, "POST", "/v0/runs/",
                     {"pipeline_id": spec["pipeline_id"],
                      "pipeline_name": "schemathesis delete", "stages": []})
    if code != 200 or doc["content"]["status"] != "invalid":
        sys.exit(f"seed: POST /v0/runs/ (the run to delete): {code} "
                 f"{doc.get('message')}")
    deletable = doc["content"]["id"]
    stages = []
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        stages = results(base, token, f"/v0/runs/{run['id']}/stageruns/")
        if stages and stages[0]["status"] not in (
                "pending", "queued", "processing", "running"):
            break
        time.sleep(0.2)
    ids = {"pipeline_id": [run["pipeline_id"]],
           "pipeline_run_id": [run["id"]],
           "stage_run_id": [s["id"] for s in stages],
           "stage_run_operation_id": [], "target_run_id": []}
    for s in stages:
        path = f"/v0/stageruns/{s['id']}"
        ids["stage_run_operation_id"] += [
            o["id"] for o in results(base, token, path + "/operations/")]
        ids["target_run_id"] += [
            t["id"] for t in results(base, token, path + "/targetruns/")]
    print(f"# seeded by {sys.argv[0]}: run {run['id']}, stage 1 "
          f"{stages[0]['status'] if stages else 'missing'}; run {deletable} "
          "for the DELETE operations")
    bindings = []
    for name, values in ids.items():
        if not values:
            continue
        print(f"[dictionaries.{name}]")
        print("values = [" + ", ".join(json.dumps(v) for v in values) + "]")
        bindings.append(f'"path.{name}" = {{ dictionary = "{name}", '
                        f'probability = {PROBABILITY} }}')
    print("[dictionaries.deletable_run_id]")
    print(f"values = [{json.dumps(deletable)}]")
    defs, why = seed_definitions(base, token)
    if defs is None:
        print(f"# definitions: unavailable ({why})")
    else:
        print(f"# definitions: pipeline {defs['pipeline']}, stage "
              f"{defs['stage']}")
        # "def_": the run's pipeline has the dictionary pipeline_id (a
        # stored pipeline is another one; TOML refuses a name twice)
        for name, value in defs.items():
            print(f"[dictionaries.def_{name}_id]")
            print(f"values = [{json.dumps(value)}]")
    print("[parameters]")
    print("\n".join(bindings))
    for opid in DELETE_OPS:
        print("[[operations]]")
        print(f'include-operation-id = "{opid}"')
        print('parameters = { "path.pipeline_run_id" = { dictionary = '
              f'"deletable_run_id", probability = {PROBABILITY} }} }}')
    if defs is None:
        return
    for opid, params in DEF_BINDINGS.items():
        bind(opid, params, "def_")


if __name__ == "__main__":
    main()
