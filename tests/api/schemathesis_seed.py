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

Stored definitions (docs/definitions.md, phase A): a pipeline with two
stages is created through the API and bound to the `pipeline_id` and
`stage_id` of the Pipelines and Stages operations; `deletePipeline` and
`deleteStage` get a pipeline and a stage of their own, as the run DELETEs
do. While the workers do not apply definition commands yet (the
pipeline's create is not a 200), the seed says so in a comment line
`# definitions: unavailable (...)`, and tests/api/schemathesis.sh leaves
the Pipelines and Stages tags out of its passes.
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
# The definition operations bound to the seed pipeline (and its stage).
PIPELINE_OPS = ("getPipeline", "updatePipeline", "listStages",
                "createStage")
STAGE_OPS = ("getStage", "updateStage")


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
    """A pipeline with two stages, a pipeline and a stage to delete; None
    when the workers do not apply definition commands (yet)."""
    made = {}
    for name in ("pipeline", "deletable_pipeline"):
        code, doc = call(base, token, "POST", "/v0/pipelines/",
                         {"name": f"schemathesis {name}"})
        if code != 200:
            return None, f"POST /v0/pipelines/: {code} {doc.get('message')}"
        made[name] = doc["content"]["id"]
    for name, order in (("stage", 1), ("deletable_stage", 2)):
        code, doc = call(base, token, "POST",
                         f"/v0/pipelines/{made['pipeline']}/stages/",
                         {"name": f"schemathesis {name}", "order": order})
        if code != 200:
            return None, (f"POST .../stages/: {code} "
                          f"{doc.get('message')}")
        made[name] = doc["content"]["id"]
    return made, None


def bind(opid, params):
    print("[[operations]]")
    print(f'include-operation-id = "{opid}"')
    print("parameters = { " + ", ".join(
        f'"path.{p}" = {{ dictionary = "{d}", probability = {PROBABILITY} }}'
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
        for name, value in defs.items():
            print(f"[dictionaries.{name}_id]")
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
    for opid in PIPELINE_OPS:
        bind(opid, {"pipeline_id": "pipeline_id"})
    for opid in STAGE_OPS:
        bind(opid, {"pipeline_id": "pipeline_id", "stage_id": "stage_id"})
    bind("deletePipeline", {"pipeline_id": "deletable_pipeline_id"})
    bind("deleteStage", {"pipeline_id": "pipeline_id",
                         "stage_id": "deletable_stage_id"})


if __name__ == "__main__":
    main()
