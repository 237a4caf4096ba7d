#!/usr/bin/env python3
"""Project rules for schemas/openapi.json, on top of the OpenAPI 3.1 validator.

Usage: check_openapi.py [path/to/openapi.json]

Run by tests/api/lint_openapi.sh inside its venv (it needs
openapi-schema-validator for the example check). Prints one line per broken
rule and exits 1, or prints nothing and exits 0.

Rules (the REST contract is ../shared/design/api.md):
  * OpenAPI 3.1; servers "/" and "/api/pipelines" (the /v0 alias); the
    operations endpoints override servers with "/" only.
  * The (method, path) pairs are exactly API_MD below, no more, no less.
  * operationIds are present and unique.
  * Every API operation requires the bearer scheme SCAPIAuthToken (no
    anonymous alternative); the operations endpoints require nothing.
  * Every response of every API operation is the {code, message, content}
    envelope in application/json (but the watch API's 200: a stream in
    text/event-stream), with `code` const = the HTTP status;
    list answers carry the {count, previous, next, results} page.
  * Every API operation documents 200, 400, 401, 405, 503; every write also
    202 (content.command_id), 409, 413 and takes Idempotency-Key, and a
    write with a body (not DELETE) 415;
    405 has a required Allow header, 503 a required Retry-After.
  * List operations take limit (0..1000, default 20) and offset (>= 0);
    status filters are lower-case enums said to accept any case; path
    parameters match the template and are UUIDs.
  * Write bodies refuse unknown fields (additionalProperties: false on
    every object reachable from them).
  * Entities carry the Esper field names plus version and
    status_meta.reason; run times are date-times, nullable where unset.
  * Every `examples` / `example` validates against its schema.
  * Every response link names an operation, gives exactly the path
    parameters of its path, each from a field of the response's content.
  * The schema registry's paths (REGISTRY_MD) are served at the root
    only, take no token (security: []), answer every response in
    application/vnd.schemaregistry.v1+json (errors as {error_code,
    message}, not the envelope) and document 200, 401, 404 where an id or
    subject is named, and 405 with a required Allow; a registration body
    is the registry's media type or application/json (a registry's rules,
    not our write bodies').
"""
import json
import re
import sys
from pathlib import Path

# Every method and path of api.md, in the short /v0 form (the document
# lists each path once; the /api/pipelines prefix is its second server).
API_MD = {
    ("post", "/v0/runs/"),
    ("get", "/v0/runs/"),
    ("get", "/v0/pipelines/{pipeline_id}/runs/"),
    ("post", "/v0/pipelines/{pipeline_id}/runs/"),
    ("get", "/v0/pipelines/{pipeline_id}/runs/{pipeline_run_id}/"),
    ("put", "/v0/pipelines/{pipeline_id}/runs/{pipeline_run_id}/"),
    # our extension (docs/api-decisions.md): a run by its id alone
    ("get", "/v0/runs/{pipeline_run_id}/"),
    ("put", "/v0/runs/{pipeline_run_id}/"),
    # DELETE of a finished run (reference 6.8, docs/definitions.md 7)
    ("delete", "/v0/pipelines/{pipeline_id}/runs/{pipeline_run_id}/"),
    ("delete", "/v0/runs/{pipeline_run_id}/"),
    ("get", "/v0/runs/{pipeline_run_id}/stageruns/"),
    ("get", "/v0/runs/{pipeline_run_id}/stageruns/{stage_run_id}/"),
    ("put", "/v0/runs/{pipeline_run_id}/stageruns/{stage_run_id}/"),
    ("get", "/v0/stageruns/{stage_run_id}/operations/"),
    ("get", "/v0/stageruns/{stage_run_id}/operations/"
            "{stage_run_operation_id}/"),
    ("get", "/v0/stageruns/{stage_run_id}/targetruns/"),
    # issue 15, phase D: a device added to a running stage run (the
    # reference's TargetRun_POST, section 6.10)
    ("post", "/v0/stageruns/{stage_run_id}/targetruns/"),
    ("get", "/v0/stageruns/{stage_run_id}/targetruns/{target_run_id}/"),
    ("put", "/v0/stageruns/{stage_run_id}/targetruns/{target_run_id}/"),
    # issue 15, phase D (docs/definitions.md, section 9): the reference's
    # section 6.10, a target run's device command: read, sent again,
    # cancelled
    ("get", "/v0/stageruns/{stage_run_id}/targetruns/{target_run_id}/"
            "command/"),
    ("post", "/v0/stageruns/{stage_run_id}/targetruns/{target_run_id}/"
             "command/"),
    ("put", "/v0/stageruns/{stage_run_id}/targetruns/{target_run_id}/"
            "command/{command_id}/"),
    # issue 15, phase A (docs/definitions.md, section 9): stored
    # pipelines and their stages
    ("get", "/v0/pipelines/"),
    ("post", "/v0/pipelines/"),
    ("get", "/v0/pipelines/{pipeline_id}/"),
    ("put", "/v0/pipelines/{pipeline_id}/"),
    ("delete", "/v0/pipelines/{pipeline_id}/"),
    ("get", "/v0/pipelines/{pipeline_id}/stages/"),
    ("post", "/v0/pipelines/{pipeline_id}/stages/"),
    ("get", "/v0/pipelines/{pipeline_id}/stages/{stage_id}/"),
    ("put", "/v0/pipelines/{pipeline_id}/stages/{stage_id}/"),
    ("delete", "/v0/pipelines/{pipeline_id}/stages/{stage_id}/"),
    ("get", "/v0/pipelines/{pipeline_id}/targetlists/"),
    ("post", "/v0/pipelines/{pipeline_id}/targetlists/"),
    ("get", "/v0/pipelines/{pipeline_id}/targetlists/{targetlist_id}/"),
    ("put", "/v0/pipelines/{pipeline_id}/targetlists/{targetlist_id}/"),
    ("delete", "/v0/pipelines/{pipeline_id}/targetlists/{targetlist_id}/"),
    ("get", "/v0/stages/{stage_id}/targetlists/"),
    ("post", "/v0/stages/{stage_id}/targetlists/"),
    ("delete", "/v0/stages/{stage_id}/targetlists/{targetlist_id}/"),
    ("get", "/v0/stages/{stage_id}/operationlists/"),
    ("post", "/v0/stages/{stage_id}/operationlists/"),
    ("put", "/v0/stages/{stage_id}/operationlists/{operationlist_id}/"),
    ("delete", "/v0/stages/{stage_id}/operationlists/{operationlist_id}/"),
    ("get", "/v0/operationlists/{operationlist_id}/operations/"),
    ("post", "/v0/operationlists/{operationlist_id}/operations/"),
    ("get", "/v0/operationlists/{operationlist_id}/operations/"
            "{operation_id}/"),
    ("put", "/v0/operationlists/{operationlist_id}/operations/"
            "{operation_id}/"),
    ("delete", "/v0/operationlists/{operationlist_id}/operations/"
               "{operation_id}/"),
    ("get", "/v0/pipelines/{pipeline_id}/targetlists/{targetlist_id}/"
            "targets/"),
    ("post", "/v0/pipelines/{pipeline_id}/targetlists/{targetlist_id}/"
             "targets/"),
    ("get", "/v0/pipelines/{pipeline_id}/targetlists/{targetlist_id}/"
            "targets/{target_id}/"),
    ("put", "/v0/pipelines/{pipeline_id}/targetlists/{targetlist_id}/"
            "targets/{target_id}/"),
    ("delete", "/v0/pipelines/{pipeline_id}/targetlists/{targetlist_id}/"
               "targets/{target_id}/"),
    ("post", "/v0/pipelines/{pipeline_id}/targetlists/{targetlist_id}/"
             "targets-bulk/"),
    # issue 15, phase C (docs/definitions.md, section 6): a GROUPS list's
    # device groups and a linked group's devices
    ("get", "/v0/pipelines/{pipeline_id}/targetlists/{targetlist_id}/"
            "devicegroups/"),
    ("post", "/v0/pipelines/{pipeline_id}/targetlists/{targetlist_id}/"
             "devicegroups/"),
    ("delete", "/v0/pipelines/{pipeline_id}/targetlists/{targetlist_id}/"
               "devicegroups/{devicegroup_id}/"),
    ("get", "/v0/pipelines/{pipeline_id}/targetlists/{targetlist_id}/"
            "devicegroups/{device_group_id}/devices/"),
    ("get", "/livez"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("get", "/asyncapi.yaml"),  # issue 12: the topics' AsyncAPI document
    ("get", "/v0/runs/{pipeline_run_id}/events/"),  # issue 12: watch API
    ("get", "/v0/events/"),
    # issue 17 (docs/targets.md, section 5): an open stage's chunks, their
    # targets listed, seal
    ("post", "/v0/runs/{pipeline_run_id}/stageruns/{stage_run_id}/"
             "targets/"),
    ("get", "/v0/runs/{pipeline_run_id}/stageruns/{stage_run_id}/"
            "targets/"),
    ("post", "/v0/runs/{pipeline_run_id}/stageruns/{stage_run_id}/"
             "targets/seal/"),
}
# The watch API's 200 is a stream of Server-Sent Events, not an envelope.
WATCH_PATHS = {"/v0/runs/{pipeline_run_id}/events/", "/v0/events/"}
OPS_PATHS = {"/livez", "/readyz", "/metrics", "/openapi.json",
             "/asyncapi.yaml"}
# The Confluent Schema Registry read API (docs/api-decisions.md).
REGISTRY_MD = {
    ("get", "/schemas/ids/{id}"),
    ("get", "/schemas/ids/{id}/versions"),
    ("get", "/subjects"),
    ("get", "/subjects/{subject}/versions"),
    ("get", "/subjects/{subject}/versions/{version}"),
    ("get", "/subjects/{subject}/versions/{version}/schema"),
    ("get", "/config"),
    ("get", "/config/{subject}"),
    # Registration and lookup of sr's own schemas (schema.registry.url of
    # another sr deployment, docs/schemas.md "An external registry").
    ("post", "/subjects/{subject}/versions"),
    ("post", "/subjects/{subject}"),
}
REGISTRY_PATHS = {p for _, p in REGISTRY_MD}
REG_MEDIA = "application/vnd.schemaregistry.v1+json"
SERVERS = {"/", "/api/pipelines"}
METHODS = {"get", "put", "post", "delete", "options", "head", "patch",
           "trace"}
WRITES = {"post", "put", "patch", "delete"}
SCHEME = "SCAPIAuthToken"

# Esper field names (reference §3.8-3.11) and ours, per entity.
ESPER_FIELDS = {
    "PipelineRun": ["id", "enterprise_id", "run_number", "pipeline_id",
                    "pipeline_name", "status", "status_meta", "created_by",
                    "updated_by", "created_at", "updated_at", "started_at",
                    "ended_at"],
    "StageRun": ["id", "enterprise_id", "pipeline_id", "pipeline_run_id",
                 "stage_id", "stage_meta", "status", "created_by",
                 "updated_by", "created_at", "updated_at", "started_at",
                 "ended_at"],
    "StageRunOperation": ["id", "operation_type", "args", "created_by",
                          "updated_by", "created_at", "updated_at"],
    "TargetRun": ["id", "target_id", "device_id", "device_alias",
                  "stage_run_id", "stage_run_operation_id", "command_id",
                  "command_status", "command_meta", "status", "created_by",
                  "updated_by", "created_at", "updated_at", "started_at",
                  "ended_at"],
}
STATUS_ENTITIES = ("PipelineRun", "StageRun", "TargetRun")

problems = []


def bad(where, what):
    problems.append(f"{where}: {what}")


class Doc:
    def __init__(self, doc):
        self.doc = doc

    def resolve(self, node, seen=()):
        """Follow local $refs until a node without one."""
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/") or ref in seen:
                raise ValueError(f"cannot resolve {ref}")
            seen = seen + (ref,)
            node = self.doc
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                node = node[part]
        return node


def types_of(schema):
    t = schema.get("type")
    if t is None:
        return set()
    return {t} if isinstance(t, str) else set(t)


def check_top(doc):
    if not str(doc.get("openapi", "")).startswith("3.1."):
        bad("openapi", f"expected 3.1.x, got {doc.get('openapi')!r}")
    urls = {s.get("url") for s in doc.get("servers", [])}
    if urls != SERVERS:
        bad("servers", f"expected {sorted(SERVERS)}, got {sorted(urls)}")
    schemes = doc.get("components", {}).get("securitySchemes", {})
    s = schemes.get(SCHEME, {})
    if s.get("type") != "http" or s.get("scheme", "").lower() != "bearer":
        bad(f"securitySchemes.{SCHEME}", "must be type http, scheme bearer")


def operations(doc):
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if method in METHODS:
                yield path, item, method, op


def check_paths(doc):
    have = {(m, p) for p, _, m, _ in operations(doc)}
    want = API_MD | REGISTRY_MD
    for m, p in sorted(want - have, key=lambda x: (x[1], x[0])):
        bad(f"{m.upper()} {p}", "in api.md but missing from the document")
    for m, p in sorted(have - want, key=lambda x: (x[1], x[0])):
        bad(f"{m.upper()} {p}", "not in api.md (add it there first)")
    for path, item, _, _ in operations(doc):
        if path in OPS_PATHS or path in REGISTRY_PATHS:
            urls = [s.get("url") for s in item.get("servers", [])]
            if urls != ["/"]:
                bad(path, "operations path must override servers with "
                    "['/'] (it is not served under /api/pipelines)")


def check_operation_ids(doc):
    seen = {}
    for path, _, method, op in operations(doc):
        where = f"{method.upper()} {path}"
        oid = op.get("operationId")
        if not oid:
            bad(where, "no operationId")
        elif oid in seen:
            bad(where, f"operationId {oid!r} also used by {seen[oid]}")
        else:
            seen[oid] = where


def check_security(doc):
    default = doc.get("security")
    for path, _, method, op in operations(doc):
        where = f"{method.upper()} {path}"
        sec = op.get("security", default)
        if path in OPS_PATHS or path in REGISTRY_PATHS:
            if sec not in (None, []) and sec != [{}]:
                bad(where, "operations and registry endpoints take no "
                    "auth by default (security: [])")
            continue
        if not sec:
            bad(where, f"no security; API paths require {SCHEME}")
            continue
        for req in sec:
            if SCHEME not in req:
                bad(where, f"security alternative {req!r} lacks {SCHEME} "
                    "(that would allow anonymous or other auth)")


def media_schema(d, resp, where, media="application/json"):
    content = resp.get("content") or {}
    if set(content) != {media}:
        bad(where, f"content must be exactly {media}, got {sorted(content)}")
        return None
    return content[media].get("schema")


def check_registry(d, doc):
    for path, item, method, op in operations(doc):
        if path not in REGISTRY_PATHS:
            continue
        base = f"{method.upper()} {path}"
        codes = set(op.get("responses", {}))
        need = {"200", "401", "405"}
        if "{" in path:
            need.add("404")
        for c in sorted(need - codes):
            bad(base, f"no {c} response")
        for code, resp in op.get("responses", {}).items():
            where = f"{base} {code}"
            resp = d.resolve(resp)
            if not resp.get("description", "").strip():
                bad(where, "no description")
            schema = media_schema(d, resp, where, REG_MEDIA)
            if schema is None or code == "200":
                continue
            req = set(d.resolve(schema).get("required", []))
            if not {"error_code", "message"} <= req:
                bad(where, "a registry error is {error_code, message}")
        r405 = op.get("responses", {}).get("405")
        if r405 and not header_required(d, d.resolve(r405), "Allow"):
            bad(base, "405 must have a required Allow header")
        if "requestBody" in op:
            media = set(d.resolve(op["requestBody"]).get("content", {}))
            if not media or not media <= {REG_MEDIA, "application/json"}:
                bad(base, f"a registry body is {REG_MEDIA} or "
                    f"application/json, got {sorted(media)}")


def check_envelopes(d, doc):
    for path, item, method, op in operations(doc):
        if path in OPS_PATHS or path in REGISTRY_PATHS:
            continue
        base = f"{method.upper()} {path}"
        for code, resp in op.get("responses", {}).items():
            where = f"{base} {code}"
            resp = d.resolve(resp)
            if path in WATCH_PATHS and code == "200":
                media_schema(d, resp, where, "text/event-stream")
                continue
            schema = media_schema(d, resp, where)
            if schema is None:
                continue
            env = d.resolve(schema)
            props = env.get("properties", {})
            if "object" not in types_of(env) or not {
                    "code", "message", "content"} <= set(
                        env.get("required", [])):
                bad(where, "not the {code, message, content} envelope "
                    "(all three required)")
                continue
            if not code.isdigit() or d.resolve(props.get("code", {})).get(
                    "const") != int(code):
                bad(where, f"envelope code must be const {code}")
            if "string" not in types_of(d.resolve(props.get("message",
                                                            {}))):
                bad(where, "envelope message must be a string")
            if code == "200" and op.get("operationId", "").startswith(
                    "list"):
                page = d.resolve(props.get("content", {}))
                need = {"count", "previous", "next", "results"}
                if not need <= set(page.get("required", [])):
                    bad(where, "list content must be the page "
                        "{count, previous, next, results}")
                for k in ("previous", "next"):
                    t = types_of(d.resolve(page.get("properties", {}).get(
                        k, {})))
                    if t != {"string", "null"}:
                        bad(where, f"page.{k} must be string or null")
            if code == "202":
                c = d.resolve(props.get("content", {}))
                if "command_id" not in c.get("required", []):
                    bad(where, "202 content must require command_id")


def header_required(d, resp, name):
    for k, h in (resp.get("headers") or {}).items():
        if k.lower() == name.lower():
            return bool(d.resolve(h).get("required"))
    return False


def op_params(d, item, op):
    """Effective parameters: operation-level ones override path-level."""
    out = {}
    for p in item.get("parameters", []) + op.get("parameters", []):
        p = d.resolve(p)
        out[(p.get("name", "").lower() if p.get("in") == "header"
             else p.get("name"), p.get("in"))] = p
    return out


def check_codes_and_params(d, doc):
    for path, item, method, op in operations(doc):
        if path in REGISTRY_PATHS:
            continue  # check_registry()
        where = f"{method.upper()} {path}"
        codes = set(op.get("responses", {}))
        params = op_params(d, item, op)
        # Path parameters: exactly the template's names, UUIDs.
        names = set(re.findall(r"{([^}]+)}", path))
        declared = {n for (n, loc) in params if loc == "path"}
        if names != declared:
            bad(where, f"path parameters {sorted(declared)} do not match "
                f"the template {sorted(names)}")
        for (n, loc), p in params.items():
            if loc == "path" and d.resolve(p.get("schema", {})).get(
                    "format") != "uuid":
                bad(where, f"path parameter {n} must be format uuid")
        if path in OPS_PATHS:
            if "200" not in codes:
                bad(where, "no 200")
            continue
        need = {"200", "400", "401", "405", "503"}
        if method in WRITES:
            need |= {"202", "409", "413"}
            if "requestBody" in op:
                need.add("415")
            if ("idempotency-key", "header") not in params:
                bad(where, "write without the Idempotency-Key header")
        for c in sorted(need - codes):
            bad(where, f"no {c} response")
        responses = {c: d.resolve(r) for c, r in op["responses"].items()}
        if "405" in responses and not header_required(d, responses["405"],
                                                      "Allow"):
            bad(where, "405 must have a required Allow header")
        if "503" in responses and not header_required(
                d, responses["503"], "Retry-After"):
            bad(where, "503 must have a required Retry-After header")
        for c, r in responses.items():
            if not r.get("description", "").strip():
                bad(f"{where} {c}", "no description")
        if op.get("operationId", "").startswith("list"):
            lim = params.get(("limit", "query"))
            off = params.get(("offset", "query"))
            if not lim:
                bad(where, "list without limit")
            else:
                s = d.resolve(lim.get("schema", {}))
                if (s.get("type") != "integer" or s.get("minimum") != 0 or
                        s.get("maximum") != 1000 or s.get("default") != 20):
                    bad(where, "limit must be integer 0..1000 default 20")
            if not off:
                bad(where, "list without offset")
            elif d.resolve(off.get("schema", {})).get("minimum") != 0:
                bad(where, "offset must be an integer >= 0")
        st = params.get(("status", "query"))
        if st:
            s = d.resolve(st.get("schema", {}))
            enum = s.get("enum") or []
            if not enum or any(v != v.lower() for v in enum):
                bad(where, "status filter must be a lower-case enum")
            text = (st.get("description", "") + s.get("description", ""))
            if "any case" not in text:
                bad(where, "status filter must say input is accepted in "
                    "any case")


def walk_objects(d, schema, where, seen):
    """Yield (where, object schema) for every object reachable."""
    if isinstance(schema, dict) and "$ref" in schema:
        ref = schema["$ref"]
        if ref in seen:
            return
        seen = seen | {ref}
        where = ref.rsplit("/", 1)[-1]
    schema = d.resolve(schema)
    if not isinstance(schema, dict):
        return
    if "object" in types_of(schema):
        yield where, schema
    for k, sub in (schema.get("properties") or {}).items():
        yield from walk_objects(d, sub, f"{where}.{k}", seen)
    if isinstance(schema.get("items"), dict):
        yield from walk_objects(d, schema["items"], f"{where}[]", seen)
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(key, []):
            yield from walk_objects(d, sub, where, seen)


# Free-form objects inside a write body whose keys are the client's own.
FREE_FORM = {"RunSpecOperation.args", "OperationCreate.args",
             "OperationUpdate.args", "TargetBulkItem.device_meta",
             "TargetBulkItem.args"}


def check_write_bodies(d, doc):
    for path, _, method, op in operations(doc):
        if method not in WRITES or "requestBody" not in op or \
                path in REGISTRY_PATHS:
            continue  # a registry body: check_registry()
        where = f"{method.upper()} {path} body"
        body = d.resolve(op["requestBody"])
        schema = media_schema(d, body, where)
        if schema is None:
            continue
        for w, obj in walk_objects(d, schema, where, frozenset()):
            if w in FREE_FORM:
                continue
            if obj.get("additionalProperties") is not False:
                bad(w, "write body object must set additionalProperties: "
                    "false (unknown fields are refused)")


def check_entities(d, doc):
    schemas = doc.get("components", {}).get("schemas", {})
    for ent, fields in ESPER_FIELDS.items():
        s = schemas.get(ent)
        if not s:
            bad(f"schemas.{ent}", "missing")
            continue
        props = s.get("properties", {})
        for f in fields + ["version"]:
            if f not in props:
                bad(f"schemas.{ent}", f"no field {f!r}")
        if "version" not in s.get("required", []):
            bad(f"schemas.{ent}", "version must be required")
        if ent in STATUS_ENTITIES:
            meta = d.resolve(props.get("status_meta", {}))
            if "reason" not in meta.get("required", []):
                bad(f"schemas.{ent}.status_meta", "must require reason")
            for f in ("started_at", "ended_at"):
                p = d.resolve(props.get(f, {}))
                if (types_of(p) != {"string", "null"} or
                        p.get("format") != "date-time"):
                    bad(f"schemas.{ent}.{f}",
                        "must be type [string, null], format date-time")
        for f in ("created_at", "updated_at"):
            p = d.resolve(props.get(f, {}))
            if p.get("format") != "date-time":
                bad(f"schemas.{ent}.{f}", "must be format date-time")


def check_examples(doc):
    try:
        from openapi_schema_validator import OAS31Validator
    except ImportError:
        bad("examples", "openapi-schema-validator is not installed (run "
            "through tests/api/lint_openapi.sh)")
        return
    components = doc.get("components", {})

    def validate(where, schema, instance):
        root = dict(schema)
        root["components"] = components  # so #/components/... resolves
        v = OAS31Validator(root,
                           format_checker=OAS31Validator.FORMAT_CHECKER)
        for err in v.iter_errors(instance):
            path = "/".join(str(p) for p in err.absolute_path)
            bad(where, f"example does not validate at /{path}: "
                f"{err.message}")

    def walk(node, where):
        if isinstance(node, dict):
            if "schema" in node and "example" in node:
                validate(where, node["schema"], node["example"])
            if "schema" in node and isinstance(node.get("examples"), dict):
                for name, ex in node["examples"].items():
                    if "value" in ex:
                        validate(f"{where}.examples.{name}", node["schema"],
                                 ex["value"])
            for k, v in node.items():
                walk(v, f"{where}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{where}[{i}]")

    walk(doc.get("paths", {}), "paths")
    for name, s in components.get("schemas", {}).items():
        for i, ex in enumerate(s.get("examples", [])):
            validate(f"schemas.{name}.examples[{i}]", s, ex)


def check_links(d, doc):
    """A link names an operation of the document, gives exactly its path
    parameters, and each `$response.body#/content/<field>` is a field of
    the response's content, so schemathesis's stateful phase chains real
    ids."""
    by_id = {op.get("operationId"): (path, item, op)
             for path, item, _, op in operations(doc)}
    for path, _, method, op in operations(doc):
        for code, r in op.get("responses", {}).items():
            r = d.resolve(r)
            for name, link in (r.get("links") or {}).items():
                where = f"{method.upper()} {path} {code} links.{name}"
                target = by_id.get(link.get("operationId"))
                if not target:
                    bad(where, f"no operation {link.get('operationId')!r}")
                    continue
                want = set(re.findall(r"{([^}]+)}", target[0]))
                got = set(link.get("parameters", {}))
                if got != want:
                    bad(where, f"parameters {sorted(got)}, the target's "
                        f"path takes {sorted(want)}")
                env = d.resolve(media_schema(d, r, where) or {})
                content = d.resolve(env.get("properties", {})
                                    .get("content", {}))
                for expr in link.get("parameters", {}).values():
                    m = re.fullmatch(r"\$response\.body#/content/(\w+)",
                                     str(expr))
                    if not m:
                        bad(where, f"{expr!r}: expected "
                            "$response.body#/content/<field>")
                    elif m.group(1) not in content.get("properties", {}):
                        bad(where, f"{expr!r}: the {code} content has no "
                            f"field {m.group(1)!r}")


def main(argv):
    path = Path(argv[1]) if len(argv) > 1 else (
        Path(__file__).resolve().parents[2] / "schemas" / "openapi.json")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        print(f"{path}: {e}")
        return 1
    d = Doc(doc)
    checks = (check_top, check_paths, check_operation_ids, check_security,
              lambda x: check_envelopes(d, x),
              lambda x: check_codes_and_params(d, x),
              lambda x: check_registry(d, x),
              lambda x: check_write_bodies(d, x),
              lambda x: check_entities(d, x), check_examples,
              lambda x: check_links(d, x))
    for check in checks:
        try:
            check(doc)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            bad(getattr(check, "__name__", "check"),
                f"document shape broke the checker: {e!r}")
    for p in problems:
        print(f"{path.name}: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
