#!/usr/bin/env python3
# Generates schemas/openapi.json (the gateway serves it). Edit this file,
# then run: python3 scripts/gen_openapi.py schemas/openapi.json
"""Writes schemas/openapi.json (scratch generator, not part of the tree)."""
import json
import sys

REF = lambda kind, name: {"$ref": f"#/components/{kind}/{name}"}
S = lambda name: REF("schemas", name)

PR_STATUSES = ["pending", "queued", "processing", "running", "waiting",
               "complete", "success", "failure", "cancelled", "timeout",
               "invalid"]
SR_STATUSES = ["pending", "queued", "processing", "running", "complete",
               "success", "failure", "cancelled", "timeout", "invalid"]
TR_STATUSES = ["pending", "queued", "processing", "dispatched", "running",
               "complete", "success", "failure", "cancelled", "timeout",
               "invalid"]
OP_TYPES = ["LOCK", "REBOOT", "SET_NEW_POLICY", "UPDATE_HEARTBEAT",
            "REQUEST_BUGREPORT", "REQUEST_DPCLOG", "ADD_TO_WHITELIST",
            "REMOVE_FROM_WHITELIST", "SET_APP_PERMISSION", "WIPE",
            "CAPTURE_SCREENSHOT", "SET_WIFI_STATE", "SET_BLUETOOTH_STATE",
            "SET_ROTATION_STATE", "SET_GPS_STATE", "SET_BRIGHTNESS_SCALE",
            "SET_STREAM_VOLUME", "SET_SCREEN_OFF_TIMEOUT", "SET_ADB_STATE",
            "INITIATE_OFFER", "INSTALL", "SIMPLE_INSTALL", "UNINSTALL",
            "REFRESH_APPLIST", "UPDATE_LATEST_DPC", "NOTIFY_OTA",
            "CLEAR_APP_DATA", "SET_GEO_FENCE", "SET_KIOSK_APP",
            "SET_DEVICE_LOCKDOWN_STATE", "SET_TIMEZONE", "SET_APP_STATE",
            "ADD_WIFI_AP", "REMOVE_WIFI_AP", "UPDATE_DEVICE_CONFIG",
            "INITIATE_CONFERENCE_CALL", "ADD_OVERRIDE_APN", "SYNC_CONTENT",
            "SET_WALLPAPER"]
assert len(OP_TYPES) == 39
REASONS = ["created", "queued", "materialising", "first_stage",
           "first_stage_queued", "promoted", "auto_promoted",
           "targets_dispatched", "command_created", "command_queued",
           "command_running", "command_succeeded", "command_failed",
           "command_timeout", "command_cancelled", "command_error",
           "all_targets_succeeded", "target_failed", "all_stages_succeeded",
           "stage_failed", "awaiting_promotion", "no_stages", "no_targets",
           "no_operations", "previous_stage_failed", "cancelled_by_user",
           "pipeline_run_cancelled", "stage_run_cancelled", "timeout",
           "pipeline_run_timeout", "stage_run_timeout"]

ANY_CASE = ("Lower case on the wire; input is accepted in any case "
            "(`CANCELLED` and `Cancelled` mean `cancelled`).")
NO_NUL = "^[^\\u0000]*$"
MAX_TEXT = 255  # SR_NAME_MAX 256 incl. NUL


def text(desc, nullable=True, max_len=MAX_TEXT):
    return {"type": ["string", "null"] if nullable else "string",
            "maxLength": max_len, "pattern": NO_NUL, "description": desc}


def uuid(desc, nullable=False):
    return {"type": ["string", "null"] if nullable else "string",
            "format": "uuid", "description": desc}


def time(desc, nullable):
    return {"type": ["string", "null"] if nullable else "string",
            "format": "date-time", "description": desc}


def timeout(desc):
    return {"type": ["integer", "null"], "minimum": 1,
            "maximum": 315360000, "description": desc}


# ------------------------------------------------------------ schemas

schemas = {}

schemas["PipelineRunStatus"] = {
    "type": "string", "enum": PR_STATUSES,
    "description": "Status of a pipeline run. Terminal (never changes "
    "again): `success`, `failure`, `cancelled`, `timeout`, `invalid`. "
    "`complete` is transient (entered and left in the same step). "
    "`waiting` means a stage run ended `success` and the next one waits "
    "for a promotion. " + ANY_CASE}
schemas["StageRunStatus"] = {
    "type": "string", "enum": SR_STATUSES,
    "description": "Status of a stage run. Terminal: `success`, "
    "`failure`, `cancelled`, `timeout`, `invalid` (`invalid` = the stage "
    "has no targets or no operations). " + ANY_CASE}
schemas["TargetRunStatus"] = {
    "type": "string", "enum": TR_STATUSES,
    "description": "Status of a target run. Terminal: `success`, "
    "`failure`, `cancelled`, `timeout`, `invalid` (`invalid` = the device "
    "command could not be created). " + ANY_CASE}
schemas["OperationType"] = {
    "type": "string", "enum": OP_TYPES,
    "description": "One of Esper's 39 device command names. Upper case on "
    "the wire; input is accepted in any case."}

schemas["StatusMeta"] = {
    "type": "object",
    "description": "Detail of the last status change. Always carries "
    "`reason`; other keys may be added later, so clients must ignore keys "
    "they do not know.",
    "required": ["reason"],
    "properties": {
        "reason": {
            "type": ["string", "null"],
            "description": "Short machine word for why the last transition "
            "happened (extension: not in Esper); null only when none was "
            "recorded. Known values: " +
            ", ".join(f"`{r}`" for r in REASONS) +
            ". New values may appear; treat unknown ones as opaque.",
            "examples": ["promoted"]}}}

AUDIT = {
    "created_by": {"type": ["integer", "null"], "format": "int32",
                   "description": "Esper's user id of the creator. Always "
                   "null here: runs are created with API tokens, which "
                   "are bound to an enterprise, not to a user."},
    "updated_by": {"type": ["integer", "null"], "format": "int32",
                   "description": "As `created_by`: always null."},
    "created_at": time("When the entity was created (ISO-8601 UTC, "
                       "milliseconds).", False),
    "updated_at": time("When the entity last changed (ISO-8601 UTC, "
                       "milliseconds).", False),
}
RUN_TIMES = {
    "started_at": time("First entry into `running` (pipeline and stage "
                       "runs) or into `processing`, when the device command "
                       "is sent (target runs); null until then.", True),
    "ended_at": time("When the entity reached its terminal status; null "
                     "while it is not terminal.", True),
}
VERSION = {"type": "integer", "minimum": 1,
           "description": "Grows by one on every change of this entity "
           "(extension: not in Esper). Use it to tell which of two "
           "answers is newer."}

schemas["PipelineRun"] = {
    "type": "object",
    "description": "One execution of a pipeline (Esper `PipelineRun`), "
    "plus `version` and `status_meta.reason`.",
    "required": ["id", "enterprise_id", "run_number", "pipeline_id",
                 "pipeline_name", "status", "status_meta", "created_at",
                 "updated_at", "started_at", "ended_at", "version"],
    "properties": {
        "id": uuid("The pipeline run id."),
        "enterprise_id": {"type": "string", "description": "The "
                          "enterprise of the token that created the run."},
        "run_number": {"type": "integer", "format": "int32", "minimum": 1,
                       "description": "Number of the run within its "
                       "pipeline, 1, 2, 3 ..."},
        "pipeline_id": uuid("The pipeline the run executes."),
        "pipeline_name": text("Copy of the pipeline's name at run time "
                              "(`pipeline_name` of the run spec)."),
        "status": S("PipelineRunStatus"),
        "status_meta": S("StatusMeta"),
        "auto_promote": {"type": "boolean", "description": "Extension: "
                         "from the run spec; when true each stage run is "
                         "queued as soon as the one before it succeeds."},
        **AUDIT, **RUN_TIMES,
        "version": VERSION}}

schemas["StageMeta"] = {
    "type": "object",
    "description": "Snapshot of the stage definition taken when the run "
    "started.",
    "properties": {
        "name": text("Stage name."),
        "description": text("Stage description."),
        "created_by": {"type": ["integer", "null"], "description":
                       "Esper's user id; always null here."}}}

schemas["StageRun"] = {
    "type": "object",
    "description": "One stage of a pipeline run (Esper `StageRun`), plus "
    "`version` and `status_meta.reason`.",
    "required": ["id", "enterprise_id", "pipeline_id", "pipeline_run_id",
                 "stage_id", "stage_meta", "status", "status_meta",
                 "created_at", "updated_at", "started_at", "ended_at",
                 "version"],
    "properties": {
        "id": uuid("The stage run id (derived: UUID v5 of the pipeline "
                   "run and the stage's position)."),
        "enterprise_id": {"type": "string", "description": "As on the "
                          "pipeline run."},
        "pipeline_id": uuid("The pipeline."),
        "pipeline_run_id": uuid("The parent pipeline run."),
        "stage_id": uuid("The stage (as given in the run spec, or derived "
                         "when the spec had none)."),
        "stage_meta": S("StageMeta"),
        "status": S("StageRunStatus"),
        "status_meta": S("StatusMeta"),
        **AUDIT, **RUN_TIMES,
        "version": VERSION,
        "targets": S("StageRunTargets")}}

schemas["StageRunTargets"] = {
    "type": "object",
    "description": "Extension, on an open stage only (its targets come in "
    "chunks, `POST .../targets/`, closed by `POST .../targets/seal/`; "
    "docs/targets.md): its targets so far. Absent on a stage whose targets "
    "were given inline.",
    "required": ["append", "expected", "appended", "chunks", "sealed"],
    "properties": {
        "append": {"type": "boolean", "const": True, "description":
                   "Always true: the stage is open."},
        "expected": {"type": ["integer", "null"], "minimum": 0,
                     "description": "The count the create said to expect "
                     "(informative, checked by nothing); null when it said "
                     "none."},
        "appended": {"type": "integer", "minimum": 0, "description":
                     "Targets of the chunks applied so far."},
        "chunks": {"type": "integer", "minimum": 0, "description":
                   "Chunks applied so far (distinct chunk indexes)."},
        "sealed": {"type": "boolean", "description": "The set is closed: "
                   "no chunk is taken any more, the stage's target runs "
                   "are made from it."}}}

schemas["StageRunOperation"] = {
    "type": "object",
    "description": "Frozen copy of one operation of a stage, taken when "
    "the stage run is processed (Esper `StageRunOperation`), plus "
    "`version`. It has no status.",
    "required": ["id", "operation_type", "args", "created_at",
                 "updated_at", "version"],
    "properties": {
        "id": uuid("The stage-run operation id (derived, like stage run "
                   "ids). Target runs refer to it as "
                   "`stage_run_operation_id`."),
        "operation_type": S("OperationType"),
        "args": {"type": "object", "description": "Arguments of the device "
                 "command, as given in the run spec (an object; Esper's "
                 "schema types it as a string). `{}` when none were "
                 "given."},
        "stage_run_id": uuid("Extension: the stage run it belongs to."),
        **AUDIT,
        "version": VERSION}}

schemas["TargetRun"] = {
    "type": "object",
    "description": "One (device, stage-run operation) pair of a stage run "
    "(Esper `TargetRun`), plus `version` and `status_meta.reason`.",
    "required": ["id", "target_id", "device_id", "device_name",
                 "device_alias", "stage_run_id", "stage_run_operation_id",
                 "command_id", "command_status", "status", "status_meta",
                 "created_at", "updated_at", "started_at", "ended_at",
                 "version"],
    "properties": {
        "id": uuid("The target run id (derived: UUID v5 of the pipeline "
                   "run and its position)."),
        "target_id": uuid("The pipeline target (not the device)."),
        "device_id": uuid("The device."),
        "device_name": text("The device's name, from the run spec or the "
                            "last `PUT` that set it."),
        "device_alias": text("The device's alias from the run spec (a "
                             "string; Esper's schema types it as a uuid "
                             "by mistake)."),
        "stage_run_id": uuid("The parent stage run."),
        "stage_run_operation_id": uuid("The stage-run operation this "
                                       "target run executes."),
        "command_id": uuid("The device command issued for this target "
                           "run; null until it enters `processing`.",
                           nullable=True),
        "command_status": {"type": ["string", "null"], "description":
                           "Last command status reported for the device "
                           "command (`QUEUED`, `INITIATED`, `ACKNOWLEDGED`, "
                           "`INPROGRESS`, `SUCCESS`, `FAILED`, `FAILURE`, "
                           "`TIMEOUT`, `CANCELLED`, `ERROR`); null before "
                           "the first report."},
        "command_meta": {"type": "object", "description": "Extra detail "
                         "from the command system; may be empty."},
        "status": S("TargetRunStatus"),
        "status_meta": S("StatusMeta"),
        **AUDIT, **RUN_TIMES,
        "version": VERSION}}

T0 = "2024-05-01T12:00:00.123Z"
T1 = "2024-05-01T12:00:00.456Z"
schemas["PipelineRun"]["examples"] = [{
    "id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "enterprise_id": "e-1", "run_number": 3,
    "pipeline_id": "3f0c2a8e-5d1b-4c8e-9a51-0b6f7f1d2c01",
    "pipeline_name": "canary rollout", "status": "waiting",
    "status_meta": {"reason": "awaiting_promotion"},
    "auto_promote": False,
    "created_by": None, "updated_by": None,
    "created_at": T0, "updated_at": T1, "started_at": T0, "ended_at": None,
    "version": 6}]
schemas["StageRun"]["examples"] = [{
    "id": "0b7e2f1a-6c3d-5e4f-8a9b-1c2d3e4f5a06",
    "enterprise_id": "e-1",
    "pipeline_id": "3f0c2a8e-5d1b-4c8e-9a51-0b6f7f1d2c01",
    "pipeline_run_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "stage_id": "9b2d7c4e-1a3f-4e5b-8c6d-7e8f9a0b1c02",
    "stage_meta": {"name": "canary", "description": "", "created_by": None},
    "status": "success", "status_meta": {"reason": "all_targets_succeeded"},
    "created_by": None, "updated_by": None,
    "created_at": T0, "updated_at": T1, "started_at": T0, "ended_at": T1,
    "version": 5}]
schemas["StageRunOperation"]["examples"] = [{
    "id": "2c3d4e5f-6a7b-5c8d-9e0f-1a2b3c4d5e07",
    "operation_type": "INSTALL", "args": {"package_name": "com.example"},
    "stage_run_id": "0b7e2f1a-6c3d-5e4f-8a9b-1c2d3e4f5a06",
    "created_by": None, "updated_by": None,
    "created_at": T0, "updated_at": T0, "version": 1}]
schemas["TargetRun"]["examples"] = [{
    "id": "4e5f6a7b-8c9d-5e0f-a1b2-c3d4e5f6a708",
    "target_id": "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a03",
    "device_id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c04",
    "device_name": "d-1", "device_alias": "lobby",
    "stage_run_id": "0b7e2f1a-6c3d-5e4f-8a9b-1c2d3e4f5a06",
    "stage_run_operation_id": "2c3d4e5f-6a7b-5c8d-9e0f-1a2b3c4d5e07",
    "command_id": "8f9a0b1c-2d3e-4f5a-8b6c-7d8e9f0a1b09",
    "command_status": "SUCCESS", "command_meta": {},
    "status": "success", "status_meta": {"reason": "command_succeeded"},
    "created_by": None, "updated_by": None,
    "created_at": T0, "updated_at": T1, "started_at": T0, "ended_at": T1,
    "version": 7}]

schemas["TargetRunCommand"] = {
    "type": "object",
    "description": "A target run's device command (Esper "
    "`CommandResponse`): the request the worker made of the device "
    "command service for this (device, operation), and the last status "
    "reported for it. Plus `cancel_requested`.",
    "required": ["target_run_id", "operation_id", "enterprise_id",
                 "command", "command_type", "device_type", "device_id",
                 "schedule", "args", "request_id", "request_status",
                 "request_status_reason", "cancel_requested"],
    "properties": {
        "target_run_id": uuid("The target run."),
        "operation_id": uuid("The stage-run operation the command "
                             "performs."),
        "enterprise_id": {"type": "string", "description": "The caller's "
                          "enterprise (a string id here; Esper types it "
                          "as a uuid)."},
        "command": S("OperationType"),
        "command_type": {"type": "string", "enum": ["DEVICE"],
                         "description": "Always `DEVICE`."},
        "device_type": {"type": "string", "enum": ["all"],
                        "description": "Always `all`."},
        "device_id": uuid("The device."),
        "schedule": {"type": "string", "enum": ["IMMEDIATE"],
                     "description": "Always `IMMEDIATE`."},
        "args": {"type": "object", "description": "The operation's "
                 "arguments as given in the run spec (`{}` when none)."},
        "request_id": uuid("The command request's id: the target run's "
                           "`command_id`."),
        "request_status": {"type": ["string", "null"], "maxLength": 63,
                           "description": "The last command status "
                           "reported for it (`QUEUED`, `INPROGRESS`, "
                           "`SUCCESS`, ...: the target run's "
                           "`command_status`); null until one is "
                           "reported."},
        "request_status_reason": {"type": ["string", "null"],
                                  "maxLength": 63,
                                  "description": "Why the target run last "
                                  "moved (its `status_meta.reason`) once a "
                                  "status was reported; else null."},
        "cancel_requested": {"type": "boolean", "description": "Extension: "
                             "a cancel of the command was sent to the "
                             "device command service (the run, the stage "
                             "run or the target run was cancelled while "
                             "the command was out)."}}}
schemas["TargetRunCommand"]["examples"] = [{
    "target_run_id": "4e5f6a7b-8c9d-5e0f-a1b2-c3d4e5f6a708",
    "operation_id": "2c3d4e5f-6a7b-5c8d-9e0f-1a2b3c4d5e07",
    "enterprise_id": "acme", "command": "INSTALL", "command_type": "DEVICE",
    "device_type": "all",
    "device_id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c04",
    "schedule": "IMMEDIATE", "args": {"package_name": "com.example"},
    "request_id": "8f9a0b1c-2d3e-4f5a-8b6c-7d8e9f0a1b09",
    "request_status": "SUCCESS", "request_status_reason": "command_succeeded",
    "cancel_requested": False}]

# Run spec (request body of POST /v0/runs/)
schemas["ArgValue"] = {
    "description": "Any JSON value whose strings and object keys hold no "
    "NUL character (the gateway refuses a body with one, as malformed "
    "JSON): a value inside the `args` of a run-spec operation.",
    "anyOf": [{"type": ["null", "boolean", "number"]},
              {"type": "string", "pattern": NO_NUL},
              {"type": "array", "items": S("ArgValue")},
              {"type": "object", "propertyNames": {"pattern": NO_NUL},
               "additionalProperties": S("ArgValue")}]}
schemas["RunSpecOperation"] = {
    "type": "object", "additionalProperties": False,
    "required": ["operation_type"],
    "properties": {
        "operation_type": S("OperationType"),
        "args": {"type": ["object", "null"], "description": "Arguments of "
                 "the device command, passed on as they are (e.g. "
                 "`{\"package_name\": \"com.example\"}` for `INSTALL`). At "
                 "most 65536 bytes as compact JSON, nested at most 16 "
                 "levels, no NUL character in a key or a string. Null or "
                 "absent means `{}`.",
                 "propertyNames": {"pattern": NO_NUL},
                 "additionalProperties": S("ArgValue")}}}
schemas["RunSpecTarget"] = {
    "type": "object", "additionalProperties": False,
    "required": ["device_id"],
    "properties": {
        "target_id": uuid("The pipeline target; derived (UUID v5 of the "
                          "run and the position) when null or absent.",
                          nullable=True),
        "device_id": uuid("The device."),
        "device_name": text("The device's name (at most 255 bytes of "
                            "UTF-8)."),
        "device_alias": text("The device's alias (at most 255 bytes of "
                             "UTF-8)."),
    }}
schemas["RunSpecStage"] = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "stage_id": uuid("The stage; derived when null or absent.",
                         nullable=True),
        "name": text("Stage name (at most 255 bytes of UTF-8)."),
        "description": text("Stage description (at most 255 bytes of "
                            "UTF-8)."),
        "timeout_seconds": timeout("Stage-run timeout, counted from when "
                                   "the stage run is queued. Null or "
                                   "absent: 7 days."),
        "operations": {"type": ["array", "null"], "maxItems": 16,
                       "items": S("RunSpecOperation"),
                       "description": "The stage's operations. None: the "
                       "stage run becomes `invalid` (reason "
                       "`no_operations`). At most `stage.max.operations` "
                       "(configuration; 16 by default, the `maxItems` "
                       "here): more is a 400 naming the key."},
        "targets": {
            "description": "The stage's target devices, inline: an array "
            "(none: the stage run becomes `invalid`, reason `no_targets`; "
            "one target run is made per (operation, target); at most "
            "`stage.max.targets`, configuration, 100,000 by default, "
            "more is a 400 naming the key; and a whole spec is at most "
            "4 MiB of JSON and one command of `command.max.bytes`, so "
            "never more than the `maxItems` here, and some 24,000 targets "
            "at the defaults: a larger stage is an open one). Or "
            "`{\"append\": true, \"expected\": N}`: an open stage, whose "
            "targets come in chunks after the create "
            "(`POST /v0/runs/{pipeline_run_id}/stageruns/{stage_run_id}/"
            "targets/`, then `.../targets/seal/`; docs/targets.md).",
            "anyOf": [{"type": ["array", "null"], "maxItems": 79137,
                       "items": S("RunSpecTarget")},
                      S("RunSpecOpenTargets")]}}}
schemas["RunSpecOpenTargets"] = {
    "type": "object", "additionalProperties": False,
    "required": ["append"],
    "description": "An open stage: its targets are appended in chunks "
    "after the create and sealed (docs/targets.md).",
    "properties": {
        "append": {"type": "boolean", "const": True, "description":
                   "Must be true."},
        "expected": {"type": ["integer", "null"], "minimum": 0,
                     "description": "How many targets to expect: "
                     "informative (shown in the stage run's `targets`), "
                     "checked by nothing. Null or absent: not said."}}}
schemas["RunSpec"] = {
    "type": "object", "additionalProperties": False,
    "description": "A full run spec (extension: Esper starts runs from "
    "stored pipeline definitions). It is frozen into the run: nothing "
    "changes an existing run's definition. Every object of the spec "
    "refuses unknown fields (400, the message names the field's JSON "
    "path). An empty `stages` list, or a stage without targets or "
    "operations, is accepted: the run (or that stage run) then ends "
    "`invalid`, as in Esper.",
    "required": ["pipeline_id", "stages"],
    "properties": {
        "pipeline_id": uuid("The pipeline this is a run of. Runs are "
                            "numbered per pipeline (`run_number`)."),
        "pipeline_name": text("The pipeline's name (at most 255 bytes of "
                              "UTF-8); filter runs on it with "
                              "`pipeline_name`."),
        "auto_promote": {"type": ["boolean", "null"], "description":
                         "When true, each stage run is queued as soon as "
                         "the one before it succeeds; when false or "
                         "absent, the run waits (`waiting`) for a "
                         "promotion."},
        "timeout_seconds": timeout("Pipeline-run timeout, counted from "
                                   "creation. Null or absent: 21 days."),
        "stages": {"type": "array", "maxItems": 100,
                   "items": S("RunSpecStage"),
                   "description": "The stages, in order. Stage 1 is queued "
                   "when the run starts. At most `run.max.stages` "
                   "(configuration; 100 by default, the `maxItems` here): "
                   "more is a 400 naming the key."}},
    "examples": [{
        "pipeline_id": "3f0c2a8e-5d1b-4c8e-9a51-0b6f7f1d2c01",
        "pipeline_name": "canary rollout",
        "auto_promote": False, "timeout_seconds": 1814400,
        "stages": [{
            "stage_id": "9b2d7c4e-1a3f-4e5b-8c6d-7e8f9a0b1c02",
            "name": "canary", "description": "",
            "timeout_seconds": 604800,
            "operations": [{"operation_type": "INSTALL",
                            "args": {"package_name": "com.example"}}],
            "targets": [{"target_id":
                         "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a03",
                         "device_id":
                         "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c04",
                         "device_name": "d-1",
                         "device_alias": "lobby"}]}]}]}

schemas["PipelineRunUpdate"] = {
    "type": "object", "additionalProperties": False,
    "required": ["status"],
    "description": "Cancel a pipeline run. `cancelled` is the only status "
    "a client may set on a pipeline run; any other value answers 400.",
    "properties": {"status": {
        "type": "string", "enum": ["cancelled"],
        "description": "Only `cancelled`. " + ANY_CASE}}}
schemas["StageRunUpdate"] = {
    "type": "object", "additionalProperties": False,
    "required": ["status"],
    "description": "Promote (`queued`) or cancel (`cancelled`) a stage "
    "run.",
    "properties": {"status": {
        "type": "string", "enum": ["queued", "cancelled"],
        "description": "`queued` = promote: allowed only when the stage "
        "run is `pending`, its pipeline run is `waiting` and every earlier "
        "stage run is `success`. `cancelled`: allowed from any non-terminal "
        "status. " + ANY_CASE}}}
schemas["TargetRunUpdate"] = {
    "type": "object", "additionalProperties": False,
    "required": ["status"],
    "description": "The REST form of a device command result.",
    "properties": {
        "status": {
            "type": "string",
            "enum": ["dispatched", "running", "success", "failure",
                     "cancelled"],
            "description": "`dispatched`, `running`, `success`, `failure` "
            "move the target run forward only (`processing` < "
            "`dispatched` < `running` < terminal); restating the current "
            "status is accepted and changes nothing; a backward move is "
            "refused (400). `cancelled` only from `pending`, `queued` or "
            "`processing`; later, the device command must be cancelled "
            "instead. " + ANY_CASE},
        "device_name": text("When given, stored as the target run's "
                            "`device_name` (at most 255 bytes of "
                            "UTF-8).")}}
schemas["TargetRunAdd"] = {
    "type": "object", "additionalProperties": False,
    "required": ["target_id"],
    "description": "A device joins a running stage run (Esper "
    "`TargetRun_POST`). A member not listed is refused (400), naming it.",
    "properties": {
        "target_id": {
            "type": "string", "format": "uuid",
            "description": "A stored target of the run's pipeline (its "
            "device, name and alias are taken), else the device id itself "
            "(an inline run's targets are named by device)."},
        "device_name": {
            "type": ["string", "null"], "minLength": 1, "maxLength": 255,
            "description": "The device's name (1 to 255 bytes of UTF-8); "
            "overrides a stored target's; required when `target_id` is not "
            "a stored target (400 naming it). null: not given."},
        "device_alias": {
            "type": ["string", "null"], "maxLength": 255,
            "description": "The device's alias (at most 255 bytes); "
            "overrides a stored target's. null: not given."}}}
schemas["TargetRunCommandCancel"] = {
    "type": "object", "additionalProperties": False,
    "required": ["request_status"],
    "description": "Cancel a target run's device command (Esper "
    "`CommandRequest_PUT`).",
    "properties": {
        "request_status": {
            "type": "string", "enum": ["cancelled"],
            "description": "`cancelled`, the only value. " + ANY_CASE}}}
schemas["TargetRunCommandSend"] = {
    "type": "object", "additionalProperties": False, "properties": {},
    "description": "Empty: the command sent again is the target run's own "
    "(its operation, its device, its `command_id`), so a field of Esper's "
    "free-form `AndroidCommandRequest` would have nothing to change and is "
    "refused (400) rather than ignored. The body may be absent."}
schemas["TargetsChunk"] = {
    "type": "object", "additionalProperties": False,
    "required": ["chunk", "targets"],
    "description": "One chunk of an open stage's targets "
    "(docs/targets.md, section 5).",
    "properties": {
        "chunk": {"type": "integer", "minimum": 0, "maximum": 2147483647,
                  "description": "The chunk's index, 0, 1, ...: each index "
                  "is applied once. The same chunk sent again (same index, "
                  "same items) is the same command and answers as the "
                  "first did; the same index with other items is refused "
                  "(409, `chunk_conflict`)."},
        "targets": {"type": "array", "maxItems": 1000,
                    "items": S("RunSpecTarget"),
                    "description": "The chunk's targets, each as a run "
                    "spec's inline target. At most `stage.chunk.targets` "
                    "(configuration; 1000 by default, the `maxItems` here): "
                    "more is a 400 naming the key. No device may be twice "
                    "in a stage (409, `duplicate_target`)."}},
    "examples": [{"chunk": 0, "targets": [
        {"device_id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c04",
         "device_name": "d-1", "device_alias": "lobby"}]}]}
schemas["TargetsSeal"] = {
    "type": "object", "additionalProperties": False,
    "required": ["chunks", "count", "digest"],
    "description": "Close an open stage's target set: the worker checks "
    "it against the chunks it applied (409 `seal_mismatch` otherwise).",
    "properties": {
        "chunks": {"type": "integer", "minimum": 0, "maximum": 2147483647,
                   "description": "How many chunks: indexes 0 .. chunks-1, "
                   "all applied."},
        "count": {"type": "integer", "minimum": 0,
                  "maximum": 9223372036854775807,
                  "description": "How many targets the chunks hold in "
                  "all."},
        "digest": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$",
                   "description": "SHA-256 over the chunks' own digests, "
                   "32 bytes each, in chunk order, as 64 hex digits; a "
                   "chunk's digest is SHA-256 over the Avro binary "
                   "encoding of its `targets` array as `AppendTargets` "
                   "carries it (schemas/command.avsc; docs/targets.md, "
                   "\"Digest\"). `sr-cli run create --targets-file` "
                   "computes both."}},
    "examples": [{"chunks": 2, "count": 1500, "digest":
                  "9f86d081884c7d659a2feaa0c55ad015"
                  "a3bf4f1b2b0b822cd15d6c15b0f00a08"}]}
schemas["TargetsAppended"] = {
    "type": "object",
    "required": ["chunk", "targets", "targets_appended", "chunks"],
    "description": "An accepted chunk.",
    "properties": {
        "chunk": {"type": "integer", "minimum": 0, "description":
                  "The chunk's index."},
        "targets": {"type": "integer", "minimum": 0, "description":
                    "How many targets it holds."},
        "targets_appended": {"type": ["integer", "null"], "minimum": 0,
                             "description": "The stage's targets appended "
                             "so far, this chunk included, as the gateway "
                             "reads them when it answers (chunks sent "
                             "meanwhile may be counted too); null while the "
                             "gateway's projection does not show the stage "
                             "open."},
        "chunks": {"type": ["integer", "null"], "minimum": 0,
                   "description": "The stage's chunks applied so far, read "
                   "likewise; null likewise."}},
    "examples": [{"chunk": 3, "targets": 1000, "targets_appended": 4000,
                  "chunks": 4}]}
schemas["AppendedTarget"] = {
    "type": "object",
    "description": "One target of an open stage as a chunk appended it "
    "(docs/targets.md, section 5), before its target runs exist; named as "
    "a `TargetRun` names the same fields.",
    "required": ["target_id", "device_id", "device_name", "device_alias",
                 "chunk", "item"],
    "properties": {
        "target_id": uuid("The pipeline target (not the device): as given "
                          "in the chunk, else the id the stage's target "
                          "runs will carry (UUID v5 of the run, the stage "
                          "and the device)."),
        "device_id": uuid("The device; the list's order."),
        "device_name": text("The device's name, as the chunk gave it.",
                            nullable=False),
        "device_alias": text("The device's alias, as the chunk gave it "
                             "(`\"\"`: none).", nullable=False),
        "chunk": {"type": "integer", "minimum": 0, "maximum": 2147483647,
                  "description": "The chunk that appended it."},
        "item": {"type": "integer", "minimum": 0, "description":
                 "Its position in that chunk's `targets`, from 0."}},
    "examples": [{"target_id": "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a03",
                  "device_id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c04",
                  "device_name": "d-1", "device_alias": "lobby",
                  "chunk": 3, "item": 17}]}
schemas["PipelineRunCreate"] = {
    "type": "object", "additionalProperties": False, "maxProperties": 0,
    "description": "Esper's `PipelineRun_POST`: an empty object (or no "
    "body at all)."}

# Envelopes
ERROR_CONTENT = {
    "type": "object",
    "description": "Detail of the refusal; usually empty (`{}`): the "
    "`message` says what was wrong. A refusal by the state machine "
    "carries `reason` (`illegal_transition`, `invalid_value`, "
    "`duplicate_spec`; for an open stage's chunk or seal `chunk_conflict`, "
    "`duplicate_target`, `too_many_targets`, `sealed`, `stale_stage`, "
    "`seal_mismatch`) and `command_id`. Clients must ignore keys they do "
    "not know.",
    "properties": {
        "reason": {"type": "string", "description": "Machine word for the "
                   "refusal."},
        "command_id": uuid("The refused command.")}}
schemas["ErrorContent"] = ERROR_CONTENT


def envelope(code, content, desc):
    return {"type": "object", "description": desc,
            "required": ["code", "message", "content"],
            "properties": {
                "code": {"type": "integer", "const": code,
                         "description": f"Always {code}: equal to the HTTP "
                         "status."},
                "message": {"type": "string", "description":
                            "Human-readable outcome (`ok` on success; on "
                            "a refusal, what was wrong and what to do)."},
                "content": content}}


LINK_DESC = (
    "Relative to the server root (`/v0/runs/?limit=20&offset=20`), or "
    "absolute under the URL the operator configured as the gateway's "
    "public address (`gateway.public.url`, e.g. "
    "`https://sr.example.com/base/v0/runs/?limit=20&offset=20`). Never "
    "built from the request's `Host` header.")


def page(name, item):
    schemas[name] = {
        "type": "object",
        "description": f"One page of {item} objects.",
        "required": ["count", "previous", "next", "results"],
        "properties": {
            "count": {"type": "integer", "minimum": 0, "description":
                      "Number of matching objects over all pages."},
            "previous": {"type": ["string", "null"],
                         "format": "uri-reference",
                         "description": "URL of the previous page; null "
                         "on the first. " + LINK_DESC},
            "next": {"type": ["string", "null"], "format": "uri-reference",
                     "description": "URL of the next page; null on the "
                     "last. " + LINK_DESC},
            "results": {"type": "array", "items": S(item)}}}


for ent in ["PipelineRun", "StageRun", "StageRunOperation", "TargetRun"]:
    page(f"{ent}Page", ent)
    schemas[f"{ent}Envelope"] = envelope(200, S(ent), f"A {ent} in the "
                                         "envelope.")
    schemas[f"{ent}PageEnvelope"] = envelope(200, S(f"{ent}Page"),
                                             f"A page of {ent} objects "
                                             "in the envelope.")
schemas["TargetRunListEnvelope"] = envelope(
    200, {"type": "array", "items": S("TargetRun")},
    "The new target runs, one per stage-run operation, in the envelope.")
schemas["TargetRunCommandEnvelope"] = envelope(
    200, S("TargetRunCommand"), "A TargetRunCommand in the envelope.")
page("AppendedTargetPage", "AppendedTarget")
schemas["AppendedTargetPageEnvelope"] = envelope(
    200, S("AppendedTargetPage"), "A page of AppendedTarget objects in the "
    "envelope.")
schemas["TargetsAppendedEnvelope"] = envelope(200, S("TargetsAppended"),
                                              "An accepted chunk in the "
                                              "envelope.")
schemas["AcceptedEnvelope"] = envelope(202, {
    "type": "object", "required": ["command_id"],
    "properties": {"command_id": uuid("Id of the command that was "
                                      "written.")}},
    "The write was accepted; its outcome is not known yet.")
for code in [400, 401, 404, 405, 409, 413, 415, 503]:
    schemas[f"Error{code}"] = envelope(code, S("ErrorContent"),
                                       f"A {code} refusal in the envelope.")

# ------------------------------------------------------------ headers

headers = {
    "Allow": {"description": "The methods this path serves.",
              "required": True,
              "schema": {"type": "string", "examples": ["GET, PUT"]}},
    "Retry-After": {"description": "Seconds to wait before retrying.",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 0}},
    "WWW-Authenticate": {"description": "`Bearer realm=\"sr\"`, with "
                         "`error=\"invalid_token\"` when a token was sent "
                         "and refused (RFC 6750).",
                         "schema": {"type": "string"}},
}

# ------------------------------------------------------------ parameters

ORDERING_DESC = (
    "Sort key; `-` in front sorts descending. Several keys may be given, "
    "comma-separated, most significant first, each at most once "
    "(`status,-run_number`). `status` sorts alphabetically by its wire "
    "name (as Esper does); a null `started_at`/`ended_at` sorts after "
    "every set time ascending, so first descending. Every key is "
    "applied, each in its own direction; runs equal on every key follow "
    "`created_at`, then `id`, in the first key's direction. Any other key, "
    "or a key given twice: 400. Without `ordering`: newest first "
    "(`created_at` descending).")



def ordering_schema(keys):
    """A comma list of keys, each optionally with "-", at most one each
    (the pattern cannot say "at most once": a repeat is the 400 above)."""
    one = "-?(" + "|".join(keys) + ")"
    return {"type": "string",
            "pattern": f"^{one}(,{one}){{0,{len(keys) - 1}}}$",
            "examples": [keys[0], "-" + keys[0], f"{keys[1]},-{keys[0]}"]}


parameters = {
    "Limit": {"name": "limit", "in": "query", "required": False,
              "description": "Page size, 0..1000 (default 20). Outside "
              "that range, or not an integer: 400. `0` gives `count` and "
              "no results.",
              "schema": {"type": "integer", "minimum": 0, "maximum": 1000,
                         "default": 20}},
    "Offset": {"name": "offset", "in": "query", "required": False,
               "description": "Number of objects to skip (default 0). "
               "Negative, too large or not an integer: 400. Past the end "
               "gives an empty `results`. A page costs O(offset): deep "
               "into a large list, follow `next` (a `cursor`) instead.",
               "schema": {"type": "integer", "minimum": 0,
                          "maximum": 9223372036854775807, "default": 0}},
    "Cursor": {"name": "cursor", "in": "query", "required": False,
               "description": "Keyset paging: the page after the object "
               "this opaque value names. Take it from a `next` link, "
               "unchanged, with the same filters and ordering (the link "
               "carries them); a page then costs the same at the first "
               "and at the last page. Lists that page by cursor (target "
               "runs except `ordering=status` without a `status` filter; "
               "stage runs; operations; an open stage's appended targets; "
               "pipeline runs in their default order) give `next` links with a cursor and, on a cursor "
               "page, a null `previous`. Every object in the list for the "
               "whole walk is returned exactly once, in order, whatever "
               "is created meanwhile (an object created behind the "
               "cursor is not seen). Malformed, made by another list, "
               "filter or ordering, given with a non-zero `offset`, or "
               "on an ordering that pages by offset only: 400 naming "
               "`cursor`.",
               "schema": {"type": "string", "pattern": "^[0-9a-f]{1,79}$"}},
    "PipelineId": {"name": "pipeline_id", "in": "path", "required": True,
                   "description": "A pipeline id (UUID; any case). Not a "
                   "UUID: 404.",
                   "schema": {"type": "string", "format": "uuid"}},
    "PipelineRunId": {"name": "pipeline_run_id", "in": "path",
                      "required": True, "description": "A pipeline run id "
                      "(UUID; any case). Not a UUID, unknown, or another "
                      "enterprise's: 404.",
                      "schema": {"type": "string", "format": "uuid"}},
    "StageRunId": {"name": "stage_run_id", "in": "path", "required": True,
                   "description": "A stage run id (UUID; any case). Not a "
                   "UUID, unknown, or another enterprise's: 404.",
                   "schema": {"type": "string", "format": "uuid"}},
    "StageRunOperationId": {"name": "stage_run_operation_id", "in": "path",
                            "required": True, "description": "A stage-run "
                            "operation id (UUID; any case). Not a UUID, "
                            "unknown, or another enterprise's: 404.",
                            "schema": {"type": "string", "format": "uuid"}},
    "TargetRunId": {"name": "target_run_id", "in": "path", "required": True,
                    "description": "A target run id (UUID; any case). Not "
                    "a UUID, unknown, or another enterprise's: 404.",
                    "schema": {"type": "string", "format": "uuid"}},
    "CommandId": {"name": "command_id", "in": "path", "required": True,
                  "description": "The target run's device command id "
                  "(`command_id`, `request_id` of its command; UUID, any "
                  "case). Not a UUID, or not the target run's command: "
                  "404.",
                  "schema": {"type": "string", "format": "uuid"}},
    "PipelineRunStatusFilter": {
        "name": "status", "in": "query", "required": False,
        "description": "Only runs with this status. " + ANY_CASE +
        " Unknown value: 400.",
        "schema": S("PipelineRunStatus")},
    "StageRunStatusFilter": {
        "name": "status", "in": "query", "required": False,
        "description": "Only stage runs with this status. " + ANY_CASE +
        " Unknown value: 400.",
        "schema": S("StageRunStatus")},
    "TargetRunStatusFilter": {
        "name": "status", "in": "query", "required": False,
        "description": "Only target runs with this status. " + ANY_CASE +
        " Unknown value: 400.",
        "schema": S("TargetRunStatus")},
    "PipelineNameFilter": {
        "name": "pipeline_name", "in": "query", "required": False,
        "description": "Only runs whose `pipeline_name` equals this "
        "(exact, case-sensitive).",
        "schema": {"type": "string", "maxLength": MAX_TEXT,
                   "pattern": NO_NUL}},
    "StageRunOperationIdFilter": {
        "name": "stage_run_operation_id", "in": "query", "required": False,
        "description": "Only target runs of this stage-run operation. Not a "
        "UUID: 400.",
        "schema": {"type": "string", "format": "uuid"}},
    "RunsOrdering": {
        "name": "ordering", "in": "query", "required": False,
        "description": ORDERING_DESC,
        "schema": ordering_schema(["run_number", "status", "pipeline__name",
                                   "started_at", "ended_at"])},
    "PipelineRunsOrdering": {
        "name": "ordering", "in": "query", "required": False,
        "description": ORDERING_DESC,
        "schema": ordering_schema(["run_number", "status", "started_at",
                                   "ended_at"])},
    "TargetRunsOrdering": {
        "name": "ordering", "in": "query", "required": False,
        "description": "Sort by status (alphabetically by its wire "
        "name); `-status` descending. Ties keep the default order "
        "(operation by operation, then the target order of the spec). "
        "Any other key: 400.",
        "schema": {"type": "string", "enum": ["status", "-status"]}},
    "IdempotencyKey": {
        "name": "Idempotency-Key", "in": "header", "required": False,
        "description": "Makes the write safe to retry. The same key with "
        "the same operation, path ids and body answers as the first "
        "request did (the entity as it is now, or 202 again while the "
        "outcome is still unknown) and writes nothing more, whichever "
        "spelling of the path is used (`/v0/...` or "
        "`/api/pipelines/v0/...`, with or without the trailing slash, "
        "UUIDs in any case); the same key with another operation, other "
        "ids or another body answers 409. Keys belong to the token's "
        "enterprise (another enterprise's keys never interfere) and are "
        "remembered by the gateway for 24 hours after their first use "
        "(configurable, as is how many). 1 to 255 visible ASCII "
        "characters (no space); a UUID is a good choice. Any other "
        "value: 400.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255,
                   "pattern": "^[!-~]+$"}},
    "LastEventId": {
        "name": "Last-Event-ID", "in": "header", "required": False,
        "description": "Resume a run's stream after this event: the `id` "
        "of the last message received (the event's `seq`). The stream "
        "then starts at `seq` + 1, across gateway restarts too (no gap, "
        "no duplicate). Absent: from the run's first event. Not a decimal "
        "integer: 400.",
        "schema": {"type": "string", "pattern": "^[0-9]{1,19}$"}},
}

# An empty query value is the same as an absent parameter (as in DRF and
# django-filter): `?status=` lists everything. Say so in the schema too,
# not only in prose, so tools do not take `?status=` for a bad value.
for _p in parameters.values():
    if _p["in"] == "query":
        _p["allowEmptyValue"] = True

# ------------------------------------------------------------ responses

JSON = "application/json"


def resp(desc, schema, hdrs=()):
    r = {"description": desc}
    if hdrs:
        r["headers"] = {h: REF("headers", h) for h in hdrs}
    r["content"] = {JSON: {"schema": schema}}
    return r


COMMON = {
    "Accepted": resp(
        "Accepted, outcome unknown: the command was written but its "
        "outcome did not arrive in time. It will still be applied or "
        "refused. Read the entity later, or repeat the request with the "
        "same `Idempotency-Key` to get the outcome.",
        S("AcceptedEnvelope")),
    "Unauthorized": resp("Missing, malformed or unknown bearer token. "
                         "Nothing was read or written.", S("Error401"),
                         ("WWW-Authenticate",)),
    "MethodNotAllowed": resp(
        "Never the answer to the method it is listed under; it documents "
        "the 405 that any other method on the path gets: the envelope, "
        "and `Allow` naming the methods served.", S("Error405"),
        ("Allow",)),
    "IdempotencyConflict": resp(
        "This `Idempotency-Key` was already used with a different request "
        "(another operation, other path ids or another body). Nothing was "
        "written; use a new key for a new request.", S("Error409")),
    "PayloadTooLarge": resp("The body is over the gateway's limit "
                            "(`gateway.body.max.bytes`, default 1 MiB), or "
                            "the command it makes would be over "
                            "`command.max.bytes` (default 983040 bytes; "
                            "what the workers accept): the message names "
                            "the limit and the size. Nothing was written.",
                            S("Error413")),
    "UnsupportedMediaType": resp(
        "The `Content-Type` of the write is missing or is not "
        "`application/json` (optionally with `charset=utf-8`; any other "
        "parameter or charset is refused too). Nothing was written.",
        S("Error415")),
    "NotReady": resp(
        "Not ready: the broker is unreachable or the gateway's projection "
        "is catching up. Nothing was written. Retry after `Retry-After` "
        "seconds (a write with the same `Idempotency-Key`).",
        S("Error503"), ("Retry-After",)),
}
R = lambda name: REF("responses", name)


def api_responses(ok_schema, ok_desc, *, write, e400, e404, body=True):
    """The responses of an API operation; a write without a body (DELETE)
    has no Content-Type to refuse (no 415)."""
    r = {"200": resp(ok_desc, S(ok_schema))}
    if write:
        r["202"] = R("Accepted")
    r["400"] = resp(e400, S("Error400"))
    r["401"] = R("Unauthorized")
    if e404:
        r["404"] = resp(e404, S("Error404"))
    r["405"] = R("MethodNotAllowed")
    if write:
        r["409"] = R("IdempotencyConflict")
        r["413"] = R("PayloadTooLarge")
        if body:
            r["415"] = R("UnsupportedMediaType")
    r["503"] = R("NotReady")
    return r


GET_400 = ("The request is malformed (e.g. a request line or header the "
           "HTTP server cannot parse); the message says what to fix.")
LIST_400 = ("A query value is not valid ({}); the message names the "
            "parameter and what it takes; a parameter given twice is refused "
            "too. Unknown query parameters are ignored; an empty value is "
            "the same as an absent parameter.")
BODY_400 = ("Malformed JSON (invalid UTF-8, a NUL character, a duplicate "
            "key, trailing data, nesting deeper than 32), a body that is "
            "not an object, a value of the wrong type, an unknown field or "
            "an unknown status value")
SEC = [{"SCAPIAuthToken": []}]

paths = {}


def op(tag, opid, summary, desc, responses, params=None, body=None):
    o = {"tags": [tag], "operationId": opid, "summary": summary,
         "description": desc, "security": SEC}
    if params:
        o["parameters"] = params
    if body:
        o["requestBody"] = body
    o["responses"] = responses
    return o


def body(schema, desc, required=True):
    return {"description": desc, "required": required,
            "content": {JSON: {"schema": S(schema)}}}


P = lambda name: REF("parameters", name)

paths["/v0/runs/"] = {
    "get": op("Pipeline Runs", "listRuns", "List all pipeline runs",
              "All pipeline runs of the caller's enterprise.",
              api_responses("PipelineRunPageEnvelope", "A page of runs.",
                            write=False,
                            e400=LIST_400.format("`status`, `ordering`, "
                                                 "`limit`, `offset`, `cursor`"),
                            e404=None),
              params=[P("PipelineRunStatusFilter"), P("PipelineNameFilter"),
                      P("RunsOrdering"), P("Limit"), P("Offset"), P("Cursor")]),
    "post": op("Pipeline Runs", "createRun", "Start a run from a run spec",
               "Extension: starts a pipeline run from an inline run spec. "
               "The answer is the new pipeline run, with its status as far "
               "as the worker has moved it (normally `running`, with stage "
               "1 queued, or `invalid` for a spec without stages).",
               api_responses(
                   "PipelineRunEnvelope", "The new pipeline run.",
                   write=True,
                   e400=BODY_400 + "; a UUID, operation type, string "
                   "length or list size the spec does not allow; or the "
                   "run exists already with another spec (`reason` "
                   "`duplicate_spec`). The message starts with the JSON "
                   "path of the offending value, e.g. "
                   "`stages[1].targets[0].device_id: expected a UUID "
                   "string, got 42`.",
                   e404="A retry (the same `Idempotency-Key` and body) of a "
                   "create whose run was retired since (deleted, or "
                   "`retention.finished` after it ended): the run cannot "
                   "be given back; `reason` `run_retired`, the message "
                   "says when. Send a new key to start a new run."),
               params=[P("IdempotencyKey")],
               body=body("RunSpec", "The run spec.")),
}
# The new run's ids, for schemathesis's stateful phase (create -> read ->
# update, run -> stage runs) and for clients that follow links.
RUN_ID = "$response.body#/content/id"
paths["/v0/runs/"]["post"]["responses"]["200"]["links"] = {
    "getRun": {
        "operationId": "getRun",
        "parameters": {"pipeline_run_id": RUN_ID},
        "description": "Read the new run by its id alone (extension)."},
    "updateRun": {
        "operationId": "updateRun",
        "parameters": {"pipeline_run_id": RUN_ID},
        "description": "Cancel the new run by its id alone (extension)."},
    "getPipelineRun": {
        "operationId": "getPipelineRun",
        "parameters": {
            "pipeline_id": "$response.body#/content/pipeline_id",
            "pipeline_run_id": RUN_ID},
        "description": "Read the new run under its pipeline."},
    "listStageRuns": {
        "operationId": "listStageRuns",
        "parameters": {"pipeline_run_id": RUN_ID},
        "description": "The new run's stage runs."},
    "deleteRun": {
        "operationId": "deleteRun",
        "parameters": {"pipeline_run_id": RUN_ID},
        "description": "Delete the new run by its id alone (extension), "
        "once it is finished."},
    # No deletePipelineRun: a run created here (POST /v0/runs/) and
    # deleted under /v0/pipelines/... would then be read under /v0/runs/
    # with its rightful 404, which schemathesis's
    # ensure_resource_availability, counting a DELETE only for the paths
    # below its own, reported "created resource not found" (ST302, seed 2,
    # 2026-12-07); deleteRun deletes it in its own tree.
}
paths["/v0/runs/{pipeline_run_id}/"] = None  # RUN_ALONE, defined below
paths["/v0/pipelines/{pipeline_id}/runs/"] = {
    "parameters": [P("PipelineId")],
    "get": op("Pipeline Runs", "listPipelineRuns",
              "List the runs of one pipeline",
              "The caller's runs of one pipeline. The pipeline is not "
              "looked up (runs started with `POST /v0/runs/` name "
              "pipelines that are not stored), so a pipeline without runs "
              "gives an empty page, not 404.",
              api_responses("PipelineRunPageEnvelope", "A page of runs.",
                            write=False,
                            e400=LIST_400.format("`status`, `ordering`, "
                                                 "`limit`, `offset`, `cursor`"),
                            e404="`pipeline_id` is not a UUID."),
              params=[P("PipelineRunStatusFilter"),
                      P("PipelineRunsOrdering"), P("Limit"), P("Offset"), P("Cursor")]),
    # "post": createPipelineRun, below (after the stored definitions'
    # responses it shares)
}
RETIRED_404 = (" A run of the caller's enterprise that was retired "
               "(deleted, or `retention.finished` after it ended) is a 404 "
               "too, whose `message` says so and when: `pipeline run <id> was retired "
               "at <ISO-8601>: ...`, for as long as its retired marker is "
               "kept (`retention.inputs`); a write the worker refuses "
               "because the run was retired has `reason` `run_retired`.")
RUN_404 = ("No such pipeline run in the caller's enterprise (another "
           "enterprise's run is answered the same way), the run is not a "
           "run of `pipeline_id`, or an id is not a UUID." + RETIRED_404)
RUN_PUT_400 = (BODY_400 + "; a status other than `cancelled`; or the run "
               "is already terminal (`reason` `illegal_transition`). The "
               "message names the current status and what may be set.")
RUN_DELETE_DESC = (
    "Deletes a finished run (docs/definitions.md section 7): a run whose "
    "pipeline run, stage runs and target runs are all terminal is retired "
    "at once, as `retention.finished` would retire it later: its entities "
    "are gone from reads and lists, and a GET of the run answers the "
    "retired run's 404. The answer is the run as it was, once this "
    "gateway no longer shows it. No body: a DELETE with one is a 400. A "
    "retry with the same `Idempotency-Key` while the outcome is unknown "
    "(202) is the same command; once the run is retired, the run it "
    "answered with is gone and a retry answers the retired run's 404.")
RUN_DELETE_400 = (
    "A body was sent (a DELETE takes none); or the worker refused the "
    "delete (`reason` `illegal_transition`): the run is not finished "
    "(cancel it first), or some of its stage runs or target runs are not "
    "final yet (a target run waits for its device's answer or its "
    "deadline; delete the run after they end). The message says which.")


def run_ops(get_id, get_summary, get_desc, put_id, put_summary, put_desc,
            delete_id, delete_summary, delete_desc, e404):
    """GET, PUT and DELETE of one pipeline run: the pipeline-scoped path
    and our extension by the run's id alone answer alike."""
    return {
        "get": op("Pipeline Runs", get_id, get_summary, get_desc,
                  api_responses("PipelineRunEnvelope", "The pipeline run.",
                                write=False, e400=GET_400, e404=e404)),
        "put": op("Pipeline Runs", put_id, put_summary, put_desc,
                  api_responses("PipelineRunEnvelope",
                                "The cancelled pipeline run.", write=True,
                                e400=RUN_PUT_400, e404=e404),
                  params=[P("IdempotencyKey")],
                  body=body("PipelineRunUpdate", "`{\"status\": "
                            "\"cancelled\"}`.")),
        "delete": op("Pipeline Runs", delete_id, delete_summary,
                     delete_desc,
                     api_responses("PipelineRunEnvelope",
                                   "The deleted run, as it was.",
                                   write=True, e400=RUN_DELETE_400,
                                   e404=e404, body=False),
                     params=[P("IdempotencyKey")]),
    }


paths["/v0/pipelines/{pipeline_id}/runs/{pipeline_run_id}/"] = {
    "parameters": [P("PipelineId"), P("PipelineRunId")],
    **run_ops("getPipelineRun", "Get one pipeline run", "One pipeline run.",
              "updatePipelineRun", "Cancel a pipeline run",
              "Cancels the run: every non-terminal stage run is cancelled; "
              "`pending`, `queued`, `processing` and `dispatched` target "
              "runs are cancelled (a cancel request is sent for commands "
              "already sent); a `running` target run gets a cancel request "
              "for its command and ends by that command's result.",
              "deletePipelineRun", "Delete a finished pipeline run",
              RUN_DELETE_DESC, RUN_404),
}
# Our extension (docs/api-decisions.md): the run POST /v0/runs/ answered
# with, by its id alone; its place (after /v0/runs/) is reserved above.
RUN_ALONE_404 = ("No such pipeline run in the caller's enterprise (another "
                 "enterprise's run is answered the same way), or the id is "
                 "not a UUID." + RETIRED_404)
paths["/v0/runs/{pipeline_run_id}/"] = {
    "parameters": [P("PipelineRunId")],
    **run_ops("getRun", "Get one pipeline run by its id alone (extension)",
              "Our extension, not in Esper Pipelines v0: the run "
              "`POST /v0/runs/` answered with, without its pipeline id; the "
              "same answers as `GET /v0/pipelines/{pipeline_id}/runs/"
              "{pipeline_run_id}/`.",
              "updateRun",
              "Cancel a pipeline run by its id alone (extension)",
              "Our extension, not in Esper Pipelines v0: the same as "
              "`PUT /v0/pipelines/{pipeline_id}/runs/{pipeline_run_id}/` "
              "without the pipeline id, which the gateway reads from the "
              "run: the same route, so an `Idempotency-Key` used on "
              "either path is a retry on the other (another body: 409).",
              "deleteRun",
              "Delete a finished pipeline run by its id alone (extension)",
              "Our extension, not in Esper Pipelines v0: the same as "
              "`DELETE /v0/pipelines/{pipeline_id}/runs/{pipeline_run_id}/` "
              "without the pipeline id, which the gateway reads from the "
              "run (an `Idempotency-Key` used on either path is a retry on "
              "the other). " + RUN_DELETE_DESC,
              RUN_ALONE_404),
}
paths["/v0/runs/{pipeline_run_id}/stageruns/"] = {
    "parameters": [P("PipelineRunId")],
    "get": op("Stage Runs", "listStageRuns", "List the stage runs of a run",
              "The run's stage runs, in stage order.",
              api_responses("StageRunPageEnvelope", "A page of stage runs.",
                            write=False,
                            e400=LIST_400.format("`status`, `limit`, "
                                                 "`offset`, `cursor`"),
                            e404="No such pipeline run in the caller's "
                            "enterprise, or the id is not a UUID." +
                            RETIRED_404),
              params=[P("StageRunStatusFilter"), P("Limit"), P("Offset"), P("Cursor")]),
}
SR_404 = ("No such stage run of this pipeline run in the caller's "
          "enterprise (another enterprise's is answered the same way), or "
          "an id is not a UUID." + RETIRED_404)
paths["/v0/runs/{pipeline_run_id}/stageruns/{stage_run_id}/"] = {
    "parameters": [P("PipelineRunId"), P("StageRunId")],
    "get": op("Stage Runs", "getStageRun", "Get one stage run",
              "One stage run.",
              api_responses("StageRunEnvelope", "The stage run.",
                            write=False, e400=GET_400,
                            e404=SR_404)),
    "put": op("Stage Runs", "updateStageRun",
              "Promote or cancel a stage run",
              "`{\"status\": \"queued\"}` promotes the stage run (its "
              "pipeline run goes from `waiting` back to `running`); "
              "`{\"status\": \"cancelled\"}` cancels it and its open "
              "target runs, after which the pipeline run ends `failure` "
              "(later stage runs are cancelled with reason "
              "`previous_stage_failed`).",
              api_responses(
                  "StageRunEnvelope", "The stage run after the change.",
                  write=True,
                  e400=BODY_400 + "; a status other than `queued` or "
                  "`cancelled`; or a change the rules refuse (`reason` "
                  "`illegal_transition`): a promotion of a stage run that "
                  "is not `pending`, whose pipeline run is not `waiting`, "
                  "or with an earlier stage run that is not `success` "
                  "(checked in that order), or a cancel of a terminal "
                  "stage run. The message names the current status and "
                  "what may be set.",
                  e404=SR_404),
              params=[P("IdempotencyKey")],
              body=body("StageRunUpdate", "`{\"status\": \"queued\"}` or "
                        "`{\"status\": \"cancelled\"}`.")),
}
# An open stage's targets in chunks, and the seal (docs/targets.md, 5).
TARGETS_409 = resp(
    "A conflict: the `Idempotency-Key` was already used with a different "
    "request (nothing was written), or the worker refused the command for "
    "the stage's state, with its message and `reason`: `chunk_conflict` "
    "(the chunk index was applied with other items; the first stays), "
    "`duplicate_target` (a device already in the stage, or twice in the "
    "chunk: the whole chunk is refused), `too_many_targets` (over "
    "`stage.max.targets` in all), `sealed` (a chunk after the seal), "
    "`stale_stage` (the stage run or its run has ended), `seal_mismatch` "
    "(a seal whose chunks, count or digest do not match what was applied; "
    "the message names the first missing chunk or the two values: send "
    "what is missing and seal again).", S("Error409"))
TARGETS_DESC = (
    " The command's id is derived from what it carries (run, stage, chunk "
    "index and the chunk's digest; for the seal its three values), so "
    "the same request sent again, through any gateway, with or without "
    "an `Idempotency-Key`, is the same command and answers as the first "
    "did. An `Idempotency-Key` is checked as on every write.")
paths["/v0/runs/{pipeline_run_id}/stageruns/{stage_run_id}/targets/"] = {
    "parameters": [P("PipelineRunId"), P("StageRunId")],
    "post": op("Stage Runs", "appendTargets",
               "Append a chunk of targets to an open stage",
               "Extension (docs/targets.md): one chunk of the targets of a "
               "stage created open (`\"targets\": {\"append\": true}` in "
               "the run spec), as an `AppendTargets` command. Chunks may "
               "be sent in any order and several at once; a stage takes "
               "chunks until it is sealed." + TARGETS_DESC,
               {**api_responses(
                   "TargetsAppendedEnvelope", "The chunk was applied (or "
                   "was already, with the same items).", write=True,
                   e400=BODY_400 + "; a target the run spec would refuse "
                   "(the message starts with its JSON path, e.g. "
                   "`targets[3].device_id: expected a UUID string, got "
                   "42`); more than `stage.chunk.targets` targets; or a "
                   "stage run that is not open (`reason` `invalid_value`).",
                   e404=SR_404), "409": TARGETS_409},
               params=[P("IdempotencyKey")],
               body=body("TargetsChunk", "`{\"chunk\": N, \"targets\": "
                         "[...]}`.")),
    "get": op("Stage Runs", "listAppendedTargets",
              "List an open stage's appended targets",
              "Extension (docs/targets.md, section 5): the targets the "
              "stage's applied chunks hold, by device id, before its target "
              "runs exist (they are made from these once the stage is "
              "sealed and its turn comes). A page costs the same wherever "
              "it is: follow `next` (a `cursor`). A stage whose targets "
              "were given inline has none here: an empty list (its targets "
              "are its target runs'). Reads the gateway's projection: a "
              "chunk answered 200 is listed by any later request to that "
              "gateway.",
              api_responses("AppendedTargetPageEnvelope",
                            "A page of appended targets.", write=False,
                            e400=LIST_400.format("`limit`, `offset`, "
                                                 "`cursor`"),
                            e404=SR_404),
              params=[P("Limit"), P("Offset"), P("Cursor")]),
}
paths["/v0/runs/{pipeline_run_id}/stageruns/{stage_run_id}/targets/seal/"] = {
    "parameters": [P("PipelineRunId"), P("StageRunId")],
    "post": op("Stage Runs", "sealTargets",
               "Seal an open stage's targets",
               "Extension (docs/targets.md): closes the stage's target set "
               "(a `SealTargets` command) once every chunk is applied; "
               "then its target runs are made when its turn comes. A "
               "second seal equal to the first changes nothing." +
               TARGETS_DESC,
               {**api_responses(
                   "StageRunEnvelope", "The stage run once the seal is "
                   "visible.", write=True,
                   e400=BODY_400 + "; `digest` not 64 hex digits; or a "
                   "stage run that is not open (`reason` `invalid_value`).",
                   e404=SR_404), "409": TARGETS_409},
               params=[P("IdempotencyKey")],
               body=body("TargetsSeal", "`{\"chunks\": C, \"count\": N, "
                         "\"digest\": \"<64 hex digits>\"}`.")),
}
paths["/v0/stageruns/{stage_run_id}/operations/"] = {
    "parameters": [P("StageRunId")],
    "get": op("Stage Runs", "listStageRunOperations",
              "List the operations of a stage run",
              "The stage run's frozen operations, in the order of the run "
              "spec. Empty until the stage run has been processed.",
              api_responses("StageRunOperationPageEnvelope",
                            "A page of stage-run operations.", write=False,
                            e400=LIST_400.format("`limit`, `offset`, `cursor`"),
                            e404="No such stage run in the caller's "
                            "enterprise, or the id is not a UUID.")),
}
paths["/v0/stageruns/{stage_run_id}/operations/"]["get"]["parameters"] = [
    P("Limit"), P("Offset"), P("Cursor")]
paths["/v0/stageruns/{stage_run_id}/operations/"
      "{stage_run_operation_id}/"] = {
    "parameters": [P("StageRunId"), P("StageRunOperationId")],
    "get": op("Stage Runs", "getStageRunOperation",
              "Get one operation of a stage run", "One stage-run operation.",
              api_responses("StageRunOperationEnvelope",
                            "The stage-run operation.", write=False,
                            e400=GET_400,
                            e404="No such operation of this stage run in "
                            "the caller's enterprise, or an id is not a "
                            "UUID.")),
}
paths["/v0/stageruns/{stage_run_id}/targetruns/"] = {
    "parameters": [P("StageRunId")],
    "get": op("Target Runs", "listTargetRuns",
              "List the target runs of a stage run",
              "The stage run's target runs; by default operation by "
              "operation, then in the target order of the run spec.",
              api_responses("TargetRunPageEnvelope",
                            "A page of target runs.", write=False,
                            e400=LIST_400.format(
                                "`status`, `stage_run_operation_id`, "
                                "`ordering`, `limit`, `offset`, `cursor`"),
                            e404="No such stage run in the caller's "
                            "enterprise, or the id is not a UUID."),
              params=[P("TargetRunStatusFilter"),
                      P("StageRunOperationIdFilter"),
                      P("TargetRunsOrdering"), P("Limit"), P("Offset"), P("Cursor")]),
    "post": op("Target Runs", "addTargetRun",
               "Add a device to a running stage run",
               "How a target added late joins a running stage (Esper "
               "section 6.10): one target run per stage-run operation for "
               "the device, created and dispatched as the stage's others "
               "(an `AddTargetRun` command, docs/domain-decisions.md, \"A "
               "target run added late\"); the stage run waits for them "
               "before it completes. The device: a stored target of the "
               "run's pipeline named by `target_id` (its device id, name "
               "and alias; the body's `device_name` and `device_alias` "
               "override), else `target_id` is the device id and "
               "`device_name` is required. The answer is the array of the "
               "new target runs once reads show them.",
               {**api_responses(
                   "TargetRunListEnvelope", "The new target runs, one per "
                   "operation of the stage, in operation order.",
                   write=True,
                   e400=BODY_400 + "; `device_name` missing when "
                   "`target_id` is not a stored target; or the stage run "
                   "cannot take a device (`reason` `illegal_transition`, "
                   "the message says why: `pending` or `queued` (its "
                   "target runs are created when it is processed: add the "
                   "device to the run spec or the stored target list), an "
                   "open stage not sealed (its targets come in chunks), "
                   "target runs still being created, a final stage run or "
                   "pipeline run (named), a cancel or timeout under way).",
                   e404="No such stage run in the caller's enterprise "
                   "(another enterprise's is answered the same way), or "
                   "the id is not a UUID."),
                "409": resp(
                    "A conflict: the `Idempotency-Key` was already used "
                    "with a different request (nothing was written), or "
                    "the device is already a target of the stage run "
                    "(`reason` `duplicate_target`).", S("Error409")),
                "413": resp(
                    "The body is over `gateway.body.max.bytes` or the "
                    "command over `command.max.bytes` (nothing was "
                    "written), or the stage run already has "
                    "`stage.max.targets` targets (`reason` `too_large`).",
                    S("Error413"))},
               params=[P("IdempotencyKey")],
               body=body("TargetRunAdd", "`{\"target_id\": \"...\", "
                         "\"device_name\": \"...\"}`.")),
}
TR_404 = ("No such target run of this stage run in the caller's enterprise "
          "(another enterprise's is answered the same way), or an id is "
          "not a UUID.")
paths["/v0/stageruns/{stage_run_id}/targetruns/{target_run_id}/"] = {
    "parameters": [P("StageRunId"), P("TargetRunId")],
    "get": op("Target Runs", "getTargetRun", "Get one target run",
              "One target run.",
              api_responses("TargetRunEnvelope", "The target run.",
                            write=False, e400=GET_400,
                            e404=TR_404)),
    "put": op("Target Runs", "updateTargetRun",
              "Report a result for a target run",
              "The REST form of a device command result: `dispatched` "
              "(command queued), `running` (command reached the device), "
              "`success`, `failure`; or `cancelled` before the command is "
              "past `processing`. The stage run and pipeline run roll up "
              "as with results from the device command service.",
              api_responses(
                  "TargetRunEnvelope", "The target run after the change.",
                  write=True,
                  e400=BODY_400 + "; a status not in the list; a move that "
                  "is not forward (e.g. `running` after `success`, or any "
                  "change of a terminal target run); or `cancelled` after "
                  "`processing` (cancel the device command instead). "
                  "`reason` is `illegal_transition` or `invalid_value`; "
                  "the message names the current status and what may be "
                  "set.",
                  e404=TR_404),
              params=[P("IdempotencyKey")],
              body=body("TargetRunUpdate", "`{\"status\": ..., "
                        "\"device_name\": ...}`.")),
}

paths["/v0/stageruns/{stage_run_id}/targetruns/{target_run_id}/command/"] = {
    "parameters": [P("StageRunId"), P("TargetRunId")],
    "get": op("Target Runs", "getTargetRunCommand",
              "Get a target run's device command",
              "The device command the target run sent (Esper "
              "`CommandResponse`) and its last reported status.",
              api_responses("TargetRunCommandEnvelope",
                            "The target run's device command.",
                            write=False, e400=GET_400,
                            e404=TR_404 + " Also when the target run has "
                            "no device command: it is `pending` or "
                            "`queued`, or it ended before one was sent.")),
    "post": op("Target Runs", "resendTargetRunCommand",
               "Send a target run's device command again",
               "Publishes the target run's dispatch request again, with the "
               "same `command_id` (the device command service dedupes by "
               "it), while the target run is `processing` or `dispatched` "
               "and no cancel of it was requested: the device has not been "
               "seen to run it. No status changes. The answer is the "
               "command as `GET` gives it after the worker's reply "
               "(docs/domain-decisions.md, \"A target run's device "
               "command\").",
               api_responses(
                   "TargetRunCommandEnvelope", "The target run's device "
                   "command.", write=True,
                   e400=BODY_400 + "; or the command cannot be sent again: "
                   "the target run is `running` or final, or a cancel of "
                   "its command was requested (`reason` "
                   "`illegal_transition`; the message names the status).",
                   e404=TR_404 + " Also when the target run has no device "
                   "command yet."),
               params=[P("IdempotencyKey")],
               body=body("TargetRunCommandSend", "`{}`, or no body.",
                         required=False)),
}
paths["/v0/stageruns/{stage_run_id}/targetruns/{target_run_id}/command/"
      "{command_id}/"] = {
    "parameters": [P("StageRunId"), P("TargetRunId"), P("CommandId")],
    "put": op("Target Runs", "cancelTargetRunCommand",
              "Cancel a target run's device command",
              "The target-run cancel of the reference: while the target "
              "run is `processing` (its command not out yet) it is "
              "`cancelled` at once, as by a `PUT` of the target run; once "
              "the command is out (`dispatched`, `running`) a cancel "
              "request for it is published once and the device's result "
              "ends the target run (a `CANCELLED` result: `failure`). A "
              "cancel already requested, or of a `cancelled` target run, "
              "is accepted and changes nothing. The answer is the command "
              "as `GET .../command/` gives it after the worker's reply.",
              api_responses(
                  "TargetRunCommandEnvelope", "The target run's device "
                  "command after the cancel.", write=True,
                  e400=BODY_400 + "; or the target run is final (`success`, "
                  "`failure`, `timeout`, `invalid`): its command has ended "
                  "(`reason` `illegal_transition`).",
                  e404=TR_404 + " Also when `command_id` is not the target "
                  "run's device command (the message names the one it "
                  "has), or it has none yet."),
              params=[P("IdempotencyKey")],
              body=body("TargetRunCommandCancel",
                        "`{\"request_status\": \"cancelled\"}`.")),
}

# The watch API (issue 12): Server-Sent Events.
SSE = "text/event-stream"
SSE_FORMAT = (
    "Messages (`text/event-stream`): `id: <seq>`, `event: status`, "
    "`data:` the status-change event as one JSON object with the fields "
    "of the Avro `StatusChangeEvent` (`schemas/event.avsc`, "
    "docs/schemas.md), in its order: ids as UUID strings (`null` where "
    "the record has null), statuses lower case, `occurred_at` in ms since "
    "the epoch. A line starting with `:` is a comment (`: keep-alive`, "
    "every 15 s while quiet). The last message may be `event: dropped` "
    "(the client did not read for `gateway.client.timeout.s`, or fell "
    "behind; reconnect) or, for a run, `event: end` (`data`: "
    "`{\"pipeline_run_id\", \"last_seq\"}` once the run is final and "
    "every event was sent, or a `message` when the run retired); the "
    "connection then closes. A run's stream says `event: gap` "
    "(`{\"pipeline_run_id\", \"from_seq\", \"to_seq\", \"message\"}`) "
    "for events no longer on `sr.events` when the gateway read it, then "
    "goes on. Watch streams count against "
    "`gateway.connections.max`.")


def sse_ok(desc):
    return {"description": desc + " " + SSE_FORMAT,
            "content": {SSE: {"schema": {"type": "string"}}}}


def watch_responses(desc, e404):
    r = api_responses("PipelineRunEnvelope", "", write=False,
                      e400="The `Last-Event-ID` header is not a decimal "
                      "integer, or the request is malformed.", e404=e404)
    r["200"] = sse_ok(desc)
    if not e404:
        r.pop("404", None)
    return r


paths["/v0/runs/{pipeline_run_id}/events/"] = {
    "parameters": [P("PipelineRunId")],
    "get": op("Watch", "watchPipelineRun", "Follow a run's status changes",
              "The run's status-change events as Server-Sent Events, from "
              "its first event (or after `Last-Event-ID`) in `seq` order, "
              "gapless, then live as they happen; the stream ends when the "
              "run is final and every event was sent. Served from the "
              "gateway's projection: no Kafka consumer per watcher.",
              watch_responses("The stream.", RUN_404.replace(
                  ", the run is not a run of `pipeline_id`", "")),
              params=[P("LastEventId")]),
}
paths["/v0/events/"] = {
    "get": op("Watch", "watchEvents", "Follow the enterprise's status "
              "changes",
              "Every status-change event of the caller's enterprise, from "
              "now (no replay: `Last-Event-ID` is ignored; a run's history "
              "is at `/v0/runs/{pipeline_run_id}/events/`), until the "
              "client leaves. `id` is the event's `seq` in its run. A "
              "watcher more than 4096 events (of all enterprises) behind "
              "is dropped.",
              watch_responses("The stream.", None)),
}

# Operations endpoints: no auth, not in the envelope, root path only.
TEXT = "text/plain"


def ops_405():
    return {"description": "Any method but GET and HEAD; `Allow: GET, "
            "HEAD`, the envelope.",
            "headers": {"Allow": REF("headers", "Allow")},
            "content": {TEXT: {"schema": {"type": "string"}},
                        JSON: {"schema": S("Error405")}}}


OPS_SERVERS = [{"url": "/", "description": "Operations endpoints are "
                "served at the root only."}]


def ops(opid, summary, desc, ok):
    return {"servers": OPS_SERVERS,
            "get": {"tags": ["Operations"], "operationId": opid,
                    "summary": summary, "description": desc,
                    "security": [], "responses": {**ok, "405": ops_405()}}}


paths["/livez"] = ops("getLivez", "Liveness",
                      "The process is alive. No auth; plain text.",
                      {"200": {"description": "Alive: `ok`.", "content": {
                          TEXT: {"schema": {"type": "string"}}}}})
paths["/readyz"] = ops(
    "getReadyz", "Readiness",
    "Ready to serve the API: broker reachable and projection caught up. "
    "No auth; plain text.",
    {"200": {"description": "Ready: `ready`.",
             "content": {TEXT: {"schema": {"type": "string"}}}},
     "503": {"description": "Not ready; the body says why.",
             "content": {TEXT: {"schema": {"type": "string"}}}}})
paths["/metrics"] = ops(
    "getMetrics", "Prometheus metrics",
    "Prometheus text exposition format 0.0.4. No auth.",
    {"200": {"description": "The metrics.", "content": {
        TEXT: {"schema": {"type": "string"}}}}})
paths["/openapi.json"] = ops(
    "getOpenapi", "This document",
    "The OpenAPI 3.1 document of the gateway (not enveloped). No auth.",
    {"200": {"description": "The document.", "content": {
        JSON: {"schema": {"type": "object"}}}}})

paths["/asyncapi.yaml"] = ops(
    "getAsyncapi", "The topics' AsyncAPI document",
    "The AsyncAPI 3.0 document of sr's Kafka topics (schemas/asyncapi.yaml: "
    "channels, keys, Avro payloads, headers, who sends and who receives, "
    "ordering and `seq`). No auth; YAML.",
    {"200": {"description": "The document.", "content": {
        # a YAML mapping: what a client (schemathesis) parses it into
        "application/yaml": {"schema": {"type": "object",
                                        "required": ["asyncapi",
                                                     "channels"]}}}}})

# Schema registry: the Confluent Schema Registry REST read API over the
# built-in schemas (docs/api-decisions.md, "Schema registry"). Root only,
# no token unless gateway.registry.auth=true, the registry's media type and
# error shape, not the envelope.
REG = "application/vnd.schemaregistry.v1+json"
REG_SERVERS = [{"url": "/", "description": "A registry is served at the "
                "root: clients append its paths to `schema.registry.url`."}]
schemas["RegistryError"] = {
    "type": "object", "required": ["error_code", "message"],
    "description": "A Confluent Schema Registry error.",
    "properties": {
        "error_code": {"type": "integer", "description": "40401 subject "
                       "not found, 40402 version not found, 40403 schema "
                       "not found, 42201 invalid schema, 42202 invalid "
                       "version, 409 incompatible schema, 40101 no valid "
                       "token, 404 no such path, 405 method not allowed, "
                       "413 body too large.",
                       "examples": [40401]},
        "message": {"type": "string", "examples": ["Subject not found"]}}}
schemas["RegistrySchema"] = {
    "type": "object", "required": ["schema"],
    "description": "The schema of an id: its Avro JSON text as a string. "
    "`schemaType` is absent: AVRO, as Confluent answers.",
    "properties": {"schema": {"type": "string"}}}
schemas["RegistrySubjectVersion"] = {
    "type": "object", "required": ["subject", "version"],
    "properties": {"subject": {"type": "string",
                               "examples": ["sr.events-value"]},
                   "version": {"type": "integer", "minimum": 1}}}
schemas["RegistryRegisteredSchema"] = {
    "type": "object", "required": ["subject", "version", "id", "schema"],
    "properties": {"subject": {"type": "string",
                               "examples": ["sr.events-value"]},
                   "version": {"type": "integer", "minimum": 1},
                   "id": {"type": "integer", "minimum": 1},
                   "schema": {"type": "string"}}}
schemas["RegistryConfig"] = {
    "type": "object", "required": ["compatibilityLevel"],
    "properties": {"compatibilityLevel": {
        "type": "string",
        "enum": ["BACKWARD_TRANSITIVE", "FULL_TRANSITIVE"]}}}


def reg_resp(desc, schema):
    return {"description": desc, "content": {REG: {"schema": schema}}}


def reg_error(desc):
    return reg_resp(desc, S("RegistryError"))


REG_PARAMS = {
    "id": {"name": "id", "in": "path", "required": True,
           "description": "A schema id of `schemas/registry.tsv` (the id in "
           "the Confluent wire format of every record).",
           "schema": {"type": "integer", "minimum": 1,
                      "maximum": 2147483647}},
    "subject": {"name": "subject", "in": "path", "required": True,
                "description": "`<topic.prefix><topic>-value`, e.g. "
                "`sr.events-value` (TopicNameStrategy); may be "
                "percent-encoded.",
                "schema": {"type": "string", "minLength": 1,
                           "examples": ["sr.events-value"]}},
    "version": {"name": "version", "in": "path", "required": True,
                "description": "A version number (1 to 2^31-1), `latest` or "
                "`-1` (latest).",
                "schema": {"anyOf": [
                    {"type": "string", "enum": ["latest", "-1"]},
                    {"type": "string", "pattern": "^[1-9][0-9]{0,9}$"}],
                    "examples": ["latest"]}},
}


def reg_op(opid, summary, desc, ok, errors, params=(), method="get",
           allow="GET, HEAD", body=None):
    responses = {"200": ok,
                 "401": reg_error("Only with `gateway.registry.auth=true`: "
                                  "missing or unknown bearer token "
                                  "(error_code 40101)."),
                 "405": {"description": "Any other method (error_code "
                         "405); `Allow: %s`." % allow,
                         "headers": {"Allow": REF("headers", "Allow")},
                         "content": {REG: {"schema": S("RegistryError")}}}}
    responses.update(errors)
    o = {"tags": ["Schema Registry"], "operationId": opid,
         "summary": summary, "description": desc, "security": [],
         "responses": dict(sorted(responses.items()))}
    if params:
        o["parameters"] = [REG_PARAMS[p] for p in params]
    if body:
        o["requestBody"] = body
    return {"servers": REG_SERVERS, method: o}


# The body of a registration or lookup (POST /subjects/{subject}[/versions]).
schemas["RegistrySchemaRequest"] = {
    "type": "object", "required": ["schema"],
    "description": "A schema to register or look up: its Avro JSON text "
    "as a string. Only AVRO, without references.",
    "properties": {"schema": {"type": "string"},
                   "schemaType": {"type": "string", "enum": ["AVRO"]},
                   "references": {"type": "array", "maxItems": 0}}}
REG_BODY = {"required": True, "content": {
    ct: {"schema": S("RegistrySchemaRequest")}
    for ct in (REG, "application/json")}}
POST_ERRORS = {
    "413": reg_error("Body over `gateway.body.max.bytes` (error_code 413)."),
    "422": reg_error("Not a schema request: not a JSON object, no "
                     "`schema` string, a schema that is not JSON, another "
                     "`schemaType` or references (error_code 42201)."),
}


SUBJECT_404 = reg_error("Unknown subject (error_code 40401).")
paths["/schemas/ids/{id}"] = reg_op(
    "getRegistrySchemaById", "Schema by id",
    "The schema of a wire-format id, as a JSON string. Any query "
    "(`subject`, `format`) is ignored.",
    reg_resp("The schema.", S("RegistrySchema")),
    {"404": reg_error("No schema with this id (error_code 40403).")},
    ("id",))
paths["/schemas/ids/{id}/versions"] = reg_op(
    "listRegistrySchemaVersions", "Subjects and versions of a schema id",
    "Where the schema of this id is registered: one subject, version 1.",
    reg_resp("The subject-version pairs.",
             {"type": "array", "items": S("RegistrySubjectVersion")}),
    {"404": reg_error("No schema with this id (error_code 40403).")},
    ("id",))
paths["/subjects"] = reg_op(
    "listRegistrySubjects", "Subjects",
    "Every subject, sorted: `<topic.prefix><topic>-value` for the topics "
    "commands, results, events, changelog, dispatch, replies.",
    reg_resp("The subjects.", {"type": "array",
                               "items": {"type": "string"}}), {})
paths["/subjects/{subject}/versions"] = reg_op(
    "listRegistrySubjectVersions", "Versions of a subject",
    "The versions of the subject: `[1]` today.",
    reg_resp("The versions.", {"type": "array", "items": {
        "type": "integer", "minimum": 1}}),
    {"404": SUBJECT_404}, ("subject",), allow="GET, HEAD, POST")
paths["/subjects/{subject}/versions"]["post"] = reg_op(
    "registerRegistrySchema", "Register a schema under a subject",
    "What a registering sr process (`schema.registry.url`) or an "
    "auto-registering serializer sends. Answered as a registry that already "
    "holds exactly sr's schemas, nothing stored: the subject's own schema "
    "(compared as parsed JSON) gives its id; any other is refused as "
    "incompatible.",
    reg_resp("The schema's id.", {
        "type": "object", "required": ["id"],
        "properties": {"id": {"type": "integer", "minimum": 1}}}),
    dict(POST_ERRORS, **{
        "404": SUBJECT_404,
        "409": reg_error("Another schema: incompatible with the subject's "
                         "(error_code 409).")}),
    ("subject",), method="post", allow="GET, HEAD, POST",
    body=REG_BODY)["post"]
paths["/subjects/{subject}"] = reg_op(
    "lookUpRegistrySchema", "Look a schema up under a subject",
    "Whether the subject holds this schema (compared as parsed JSON), "
    "and under which version and id.",
    reg_resp("The registered schema.", S("RegistryRegisteredSchema")),
    dict(POST_ERRORS, **{
        "404": reg_error("Unknown subject (40401), or not the subject's "
                         "schema (40403).")}),
    ("subject",), method="post", allow="POST", body=REG_BODY)
VERSION_ERRORS = {
    "404": reg_error("Unknown subject (40401) or version (40402)."),
    "422": reg_error("Not a valid version (error_code 42202): neither "
                     "1 to 2^31-1 nor `latest`."),
}
paths["/subjects/{subject}/versions/{version}"] = reg_op(
    "getRegistrySubjectVersion", "A version of a subject",
    "The subject, version, id and schema.",
    reg_resp("The registered schema.", S("RegistryRegisteredSchema")),
    VERSION_ERRORS, ("subject", "version"))
paths["/subjects/{subject}/versions/{version}/schema"] = reg_op(
    "getRegistrySubjectVersionSchema", "The raw schema of a version",
    "The `.avsc` document itself, not a string.",
    reg_resp("The Avro schema.", {"type": "object"}),
    VERSION_ERRORS, ("subject", "version"))
paths["/config"] = reg_op(
    "getRegistryConfig", "Global compatibility level",
    "`BACKWARD_TRANSITIVE`: every subject's rule lets today's reader read "
    "every record ever written (docs/schemas.md).",
    reg_resp("The level.", S("RegistryConfig")), {})
paths["/config/{subject}"] = reg_op(
    "getRegistrySubjectConfig", "Compatibility level of a subject",
    "`FULL_TRANSITIVE` for every subject but the changelog's, "
    "`BACKWARD_TRANSITIVE` (docs/schemas.md).",
    reg_resp("The level.", S("RegistryConfig")), {"404": SUBJECT_404},
    ("subject",))


# ------------------------------------------------------------ definitions
# Stored pipeline definitions (docs/definitions.md, phase A; reference
# sections 3.1-3.2, 6.1-6.2): pipelines and stages, written as definition
# commands keyed by the pipeline, answered once the projection shows them.

NAME_PATTERN = ("^[ \\t\\n\\r\\u000b\\u000c]*[^\\u0000-\\u0020\\u007f-\\u009f]"
                "[^\\u0000-\\u001f\\u007f-\\u009f]*$")


def def_name(desc, nullable):
    return {"type": ["string", "null"] if nullable else "string",
            "minLength": 1, "maxLength": MAX_TEXT, "pattern": NAME_PATTERN,
            "description": desc + " 1 to 255 bytes of UTF-8 after ASCII "
            "white space is trimmed, no control character."}


def def_text(desc):
    return {"type": ["string", "null"], "maxLength": MAX_TEXT,
            "pattern": NO_NUL, "description": desc + " At most 255 bytes; "
            "null is the same as absent."}


READ_ONLY = {"description": "Read-only: accepted with any value and "
             "ignored, so an entity read may be sent back whole."}
DEF_VERSION_IN = {"type": ["integer", "null"], "minimum": 1,
                  "maximum": 4294967295,
                  "description": "Extension: the `version` the client read. "
                  "When given and not the entity's current version, the "
                  "write is refused (409, `reason` `stale_version`, "
                  "`content.current_version`) and nothing changes; absent "
                  "or null, the last write wins."}
DEF_AUDIT = {
    "created_by": {"type": ["integer", "null"], "format": "int32",
                   "description": "Esper's user id of the creator. Always "
                   "null: API tokens are bound to an enterprise, not to a "
                   "user."},
    "updated_by": {"type": ["integer", "null"], "format": "int32",
                   "description": "As `created_by`: always null."},
    "created_at": time("When the entity was created (ISO-8601 UTC, "
                       "milliseconds).", False),
    "updated_at": time("When the entity last changed (ISO-8601 UTC, "
                       "milliseconds).", False),
}
DEF_VERSION = {"type": "integer", "minimum": 1,
               "description": "Grows by one on every change of this entity "
               "(extension: not in Esper). Send it back as `version` in a "
               "`PUT` or `DELETE` to have a concurrent change refused "
               "instead of overwritten."}

schemas["Pipeline"] = {
    "type": "object",
    "description": "A stored pipeline (Esper `Pipeline`), plus `version` "
    "and `deleted_at`.",
    "required": ["id", "enterprise_id", "name", "description", "is_active",
                 "is_valid", "is_visible", "is_archived", "is_default",
                 "timeout_seconds", "created_by", "updated_by",
                 "created_at", "updated_at", "version", "deleted_at"],
    "properties": {
        "id": uuid("The pipeline id (chosen by the gateway on create)."),
        "enterprise_id": {"type": "string", "description": "The "
                          "enterprise of the token that created it."},
        "name": {"type": "string", "description": "The name (not unique: "
                 "pipelines are identified by id)."},
        "description": {"type": "string", "description": "As written; "
                        "`\"\"` when none."},
        "is_active": {"type": "boolean", "description": "Create default "
                      "true."},
        "is_valid": {"type": ["boolean", "null"], "description": "Esper's "
                     "server-computed flag; null: not computed here."},
        "is_visible": {"type": "boolean", "description": "Always true."},
        "is_archived": {"type": "boolean", "description": "True once "
                        "deleted (then only a `DELETE`'s answer shows "
                        "it)."},
        "is_default": {"type": "boolean", "description": "Create default "
                       "false."},
        "timeout_seconds": {"type": "integer", "minimum": 1,
                            "description": "Create default 86400."},
        **DEF_AUDIT,
        "version": DEF_VERSION,
        "deleted_at": time("When the pipeline was deleted (extension); "
                           "null while it is not.", True)}}
schemas["Pipeline"]["examples"] = [{
    "id": "6f1c1d1e-0b7a-4c1e-9a7e-3c2b1a0f9e8d", "enterprise_id": "acme",
    "name": "canary", "description": "", "is_active": True,
    "is_valid": None, "is_visible": True, "is_archived": False,
    "is_default": False, "timeout_seconds": 86400, "created_by": None,
    "updated_by": None, "created_at": "2026-12-06T10:00:00.000Z",
    "updated_at": "2026-12-06T10:00:00.000Z", "version": 1,
    "deleted_at": None}]
PIPELINE_RO = ["id", "enterprise_id", "is_valid", "is_visible",
               "is_archived", "created_by", "updated_by", "created_at",
               "updated_at", "deleted_at"]
schemas["PipelineCreate"] = {
    "type": "object", "additionalProperties": False, "required": ["name"],
    "description": "Esper `Pipeline_POST`. Absent fields take Esper's "
    "defaults. The read-only fields of a `Pipeline` (and `version`) are "
    "accepted and ignored; any other field: 400.",
    "properties": {
        "name": def_name("The name.", False),
        "description": def_text("Description (default `\"\"`)."),
        "is_active": {"type": ["boolean", "null"], "description":
                      "Default true."},
        "is_default": {"type": ["boolean", "null"], "description":
                       "Default false."},
        "timeout_seconds": timeout("Default 86400."),
        "version": READ_ONLY,
        **{f: READ_ONLY for f in PIPELINE_RO}}}
schemas["PipelineUpdate"] = {
    "type": "object", "additionalProperties": False,
    "description": "Esper `Pipeline_PUT`: every field optional, a partial "
    "update (only the fields given change), plus `version`. The read-only "
    "fields of a `Pipeline` are accepted and ignored.",
    "properties": {
        "name": def_name("The new name.", True),
        "description": def_text("The new description."),
        "is_active": {"type": ["boolean", "null"]},
        "is_default": {"type": ["boolean", "null"]},
        "timeout_seconds": timeout("The new timeout."),
        "version": DEF_VERSION_IN,
        **{f: READ_ONLY for f in PIPELINE_RO}}}

schemas["Stage"] = {
    "type": "object",
    "description": "A stage of a stored pipeline (Esper `Stage`), plus "
    "`order` and `version`.",
    "required": ["id", "enterprise_id", "pipeline_id", "name",
                 "description", "timeout_seconds", "order", "created_by",
                 "updated_by", "created_at", "updated_at", "version"],
    "properties": {
        "id": uuid("The stage id (chosen by the gateway on create)."),
        "enterprise_id": {"type": "string", "description": "The "
                          "pipeline's enterprise."},
        "pipeline_id": uuid("Its pipeline."),
        "name": {"type": "string", "description": "Unique in the pipeline "
                 "(ASCII case folded)."},
        "description": {"type": "string"},
        "timeout_seconds": {"type": ["integer", "null"], "minimum": 1,
                            "description": "Null: the stage-run default "
                            "(7 days)."},
        "order": {"type": "integer", "minimum": 1, "description":
                  "Extension: the position of the stage in its pipeline's "
                  "runs, unique in the pipeline."},
        **DEF_AUDIT,
        "version": DEF_VERSION}}
schemas["Stage"]["examples"] = [{
    "id": "11111111-2222-4333-8444-555555555555", "enterprise_id": "acme",
    "pipeline_id": "6f1c1d1e-0b7a-4c1e-9a7e-3c2b1a0f9e8d", "name": "canary",
    "description": "", "timeout_seconds": None, "order": 1,
    "created_by": None, "updated_by": None,
    "created_at": "2026-12-06T10:00:00.000Z",
    "updated_at": "2026-12-06T10:00:00.000Z", "version": 1}]
STAGE_RO = ["id", "enterprise_id", "pipeline_id", "created_by",
            "updated_by", "created_at", "updated_at"]
STAGE_ORDER = {"type": ["integer", "null"], "minimum": 1,
               "maximum": 2147483647,
               "description": "Extension: the stage's position, unique in "
               "the pipeline (a taken order: 400 `order_taken`; swap "
               "through a free value). Omitted on create: the largest "
               "order + 1."}
schemas["StageCreate"] = {
    "type": "object", "additionalProperties": False, "required": ["name"],
    "description": "Esper `Stage_POST`, plus `order`. The read-only fields "
    "of a `Stage` (and `version`) are accepted and ignored.",
    "properties": {
        "name": def_name("The name, unique in the pipeline.", False),
        "description": def_text("Description (default `\"\"`)."),
        "timeout_seconds": timeout("The stage runs' timeout; absent: the "
                                   "stage-run default (7 days)."),
        "order": STAGE_ORDER,
        "version": READ_ONLY,
        **{f: READ_ONLY for f in STAGE_RO}}}
schemas["StageUpdate"] = {
    "type": "object", "additionalProperties": False,
    "description": "Esper `Stage_PUT`: every field optional (a partial "
    "update), plus `order` and `version`.",
    "properties": {
        "name": def_name("The new name.", True),
        "description": def_text("The new description."),
        "timeout_seconds": timeout("The new timeout."),
        "order": STAGE_ORDER,
        "version": DEF_VERSION_IN,
        **{f: READ_ONLY for f in STAGE_RO}}}
schemas["DefinitionDelete"] = {
    "type": "object", "additionalProperties": False,
    "description": "The optional body of a definition's `DELETE`: "
    "`version` alone (or no body at all).",
    "properties": {"version": DEF_VERSION_IN}}
for ent in ["Pipeline", "Stage"]:
    page(f"{ent}Page", ent)
    schemas[f"{ent}Envelope"] = envelope(200, S(ent), f"A {ent} in the "
                                         "envelope.")
    schemas[f"{ent}PageEnvelope"] = envelope(200, S(f"{ent}Page"),
                                             f"A page of {ent} objects "
                                             "in the envelope.")
schemas["DefinitionErrorContent"] = {
    "type": "object",
    "description": "What a refused definition write tells: `reason` (the "
    "owner's word: `stale_version`, `in_use`, `run_starting`, "
    "`name_taken`, `order_taken`, `not_found`, `pipeline_deleted`, "
    "`not_supported`, `wrong_type`, ...), `command_id`, and with "
    "`stale_version` the entity's `current_version`.",
    "properties": {
        "reason": {"type": "string"},
        "command_id": uuid("The refused command."),
        "current_version": {"type": "integer", "minimum": 1}}}
schemas["DefinitionError409"] = envelope(
    409, S("DefinitionErrorContent"), "A 409 refusal of a definition "
    "write in the envelope.")

parameters["StageId"] = {
    "name": "stage_id", "in": "path", "required": True,
    "description": "A stage id (UUID; any case). Not a UUID, unknown, "
    "another pipeline's or another enterprise's: 404.",
    "schema": {"type": "string", "format": "uuid"}}
parameters["StoredPipelineId"] = {
    "name": "pipeline_id", "in": "path", "required": True,
    "description": "A stored pipeline's id (UUID; any case). Not a UUID, "
    "unknown, another enterprise's, or deleted: 404.",
    "schema": {"type": "string", "format": "uuid"}}
parameters["PipelineNameExact"] = {
    "name": "name", "in": "query", "required": False,
    "allowEmptyValue": True,
    "description": "Only pipelines whose `name` equals this (exact, "
    "case-sensitive).",
    "schema": {"type": "string", "maxLength": MAX_TEXT, "pattern": NO_NUL}}
parameters["DefaultFilter"] = {
    "name": "default", "in": "query", "required": False,
    "allowEmptyValue": True,
    "description": "`true`: only default pipelines; `false`: only the "
    "others (also `True`, `False`, `1`, `0`, as django-filter's "
    "BooleanFilter takes them). Any other value: 400.",
    "schema": {"type": "string",
               "enum": ["true", "false", "True", "False", "1", "0"]}}
parameters["PipelinesOrdering"] = {
    "name": "ordering", "in": "query", "required": False,
    "allowEmptyValue": True,
    "description": "`name` or `-name` (byte order of the names; equal "
    "names in creation order). Without it: creation order. Any other key: "
    "400.",
    "schema": {"type": "string", "enum": ["name", "-name"]}}

DEF_404_PIPE = ("No such pipeline in the caller's enterprise (another "
                "enterprise's is answered the same way), it was deleted "
                "(`message`: `pipeline <id> was deleted at <ISO-8601>`), "
                "or an id is not a UUID.")
DEF_BODY_400 = ("Malformed JSON, a body that is not an object, a duplicate "
                "key, a value of the wrong type or out of range, or an "
                "unknown field: the message starts with the field and says "
                "what it takes")
DEF_RULES_400 = ("; or the owner's rules refuse it (`reason` `name_taken`, "
                 "`order_taken`, `not_supported`, `wrong_type`, "
                 "`invalid_value`, `too_large`): the message names the "
                 "value, the entity and what to do. Nothing changed.")


def def_responses(ok_schema, ok_desc, *, write, e400, e404, body=True,
                  e409=None):
    r = api_responses(ok_schema, ok_desc, write=write, e400=e400, e404=e404,
                      body=body)
    if write:
        r["409"] = resp(
            "This `Idempotency-Key` was already used with a different "
            "request; or the owner refused the write because of the "
            "entity's state: " + (e409 or "`stale_version` (the `version` "
            "sent is not the entity's: `content.current_version`)") +
            ". Nothing changed.", S("DefinitionError409"))
    return r


paths["/v0/pipelines/"] = {
    "get": op("Pipelines", "listPipelines", "List the stored pipelines",
              "The caller's pipelines that are not deleted, in creation "
              "order unless `ordering` says otherwise.",
              def_responses("PipelinePageEnvelope", "A page of pipelines.",
                            write=False,
                            e400=LIST_400.format("`default`, `ordering`, "
                                                 "`limit`, `offset`"),
                            e404=None),
              params=[P("PipelineNameExact"), P("DefaultFilter"),
                      P("PipelinesOrdering"), P("Limit"), P("Offset")]),
    "post": op("Pipelines", "createPipeline", "Create a pipeline",
               "Creates a pipeline of the caller's enterprise; its id is "
               "chosen by the gateway (UUID v5 of the `Idempotency-Key`, "
               "so a retry creates nothing more). The answer is the new "
               "pipeline, once this gateway shows it.",
               def_responses("PipelineEnvelope", "The new pipeline.",
                             write=True, e400=DEF_BODY_400 + DEF_RULES_400,
                             e404=None),
               params=[P("IdempotencyKey")],
               body=body("PipelineCreate", "Esper `Pipeline_POST`.")),
}
PIPE_ID = "$response.body#/content/id"
# No link deletes a pipeline, a stage or an operation list: their children
# live under other paths (/stages/{id}/..., /operationlists/{id}/...),
# which such a delete takes with it (a stage's cascade, a pipeline's soft
# delete), and schemathesis's ensure_resource_availability counts a DELETE
# only for the paths below its own: a child read after its parent's delete
# answers 404, rightly, and was reported "created resource not found"
# (ST302, seed 20240501, 2026-12-07). The DELETEs stay tested by the
# fuzzing passes (their dictionaries' deletable ids) and end to end.
paths["/v0/pipelines/"]["post"]["responses"]["200"]["links"] = {
    "getPipeline": {"operationId": "getPipeline",
                    "parameters": {"pipeline_id": PIPE_ID},
                    "description": "Read the new pipeline."},
    "updatePipeline": {"operationId": "updatePipeline",
                       "parameters": {"pipeline_id": PIPE_ID},
                       "description": "Change the new pipeline."},
    "listStages": {"operationId": "listStages",
                   "parameters": {"pipeline_id": PIPE_ID},
                   "description": "The new pipeline's stages."},
    "createStage": {"operationId": "createStage",
                    "parameters": {"pipeline_id": PIPE_ID},
                    "description": "Add a stage to the new pipeline."},
    "listPipelineRuns": {"operationId": "listPipelineRuns",
                         "parameters": {"pipeline_id": PIPE_ID},
                         "description": "The new pipeline's runs."},
    "createPipelineRun": {"operationId": "createPipelineRun",
                          "parameters": {"pipeline_id": PIPE_ID},
                          "description": "Start a run of the new "
                          "pipeline."},
}
# Runs of a stored pipeline (docs/definitions.md section 5): 200 with the
# run, as POST /v0/runs/ gives it (Esper documents 200 for every create).
DEF_404_PIPE_RUNS = DEF_404_PIPE[:-1] + (
    "; or the owner found it unknown or deleted when the command reached "
    "it (`reason` `not_found` or `pipeline_deleted`). Nothing was started.")
CREATE_PIPELINE_RUN = op("Pipeline Runs", "createPipelineRun",
               "Start a run of a stored pipeline",
               "Esper's way to start a run: from the stored pipeline's "
               "definition at its current version (docs/definitions.md "
               "section 5). The gateway checks the pipeline (404: unknown, "
               "another enterprise's, or deleted), picks the run id as "
               "`POST /v0/runs/` does (UUID v5 of the `Idempotency-Key`, "
               "else UUID v4: a retry with the key names the same run) and "
               "sends `StartPipelineRun` to the pipeline's owner, which "
               "creates the run and fills its stages' targets from the "
               "pipeline's lists after the answer. The answer is the new "
               "run once this gateway shows it (normally `queued` while "
               "its targets arrive), as `POST /v0/runs/` gives a run; a "
               "run already started under that id (a retry) is answered "
               "the same way.",
               def_responses(
                   "PipelineRunEnvelope", "(unused)", write=True,
                   e400=BODY_400 + " (the body must be `{}` or absent: "
                   "any member is refused, named); or the owner refuses "
                   "the start (`reason` `not_supported`: a stage has a "
                   "`COLLECTIONS` list attached, or a `GROUPS` list with "
                   "device groups linked; the message names the stage and "
                   "the list). Nothing was started.",
                   e404=DEF_404_PIPE_RUNS,
                   e409="`run_starting` (a run of this pipeline is still "
                   "being filled with its targets: retry after "
                   "`Retry-After` seconds)"),
               params=[P("IdempotencyKey")],
               body=body("PipelineRunCreate", "`{}`, or no body.",
                         required=False))
CREATE_PIPELINE_RUN["responses"]["200"] = resp(
    "The new pipeline run, as this gateway's projection holds it once the "
    "pipeline's owner created it: the `PipelineRun` `POST /v0/runs/` "
    "answers (200 as every create of the reference; no `Location` "
    "header, as there).",
    S("PipelineRunEnvelope"))
CREATE_PIPELINE_RUN["responses"]["202"] = resp(
    "Accepted, outcome unknown: the start was sent but its reply, or the "
    "run it created, did not reach this gateway within "
    "`gateway.reply.timeout.ms`. The run may still start: repeat the "
    "request with the same `Idempotency-Key` to get that run (200), or "
    "read the pipeline's runs later.", S("AcceptedEnvelope"),
    ("Retry-After",))
CREATE_PIPELINE_RUN["responses"]["409"]["headers"] = {
    "Retry-After": {"description": "With `reason` `run_starting` only: "
                    "seconds to wait before retrying (1).",
                    "schema": {"type": "integer", "minimum": 0}}}
# The new run's reads, as createRun's links give them (section 10).
CREATE_PIPELINE_RUN["responses"]["200"]["links"] = {
    "getPipelineRun": {
        "operationId": "getPipelineRun",
        "parameters": {"pipeline_id": "$response.body#/content/pipeline_id",
                       "pipeline_run_id": RUN_ID},
        "description": "Read the new run under its pipeline."},
    "updatePipelineRun": {
        "operationId": "updatePipelineRun",
        "parameters": {"pipeline_id": "$response.body#/content/pipeline_id",
                       "pipeline_run_id": RUN_ID},
        "description": "Cancel the new run."},
    "deletePipelineRun": {
        "operationId": "deletePipelineRun",
        "parameters": {"pipeline_id": "$response.body#/content/pipeline_id",
                       "pipeline_run_id": RUN_ID},
        "description": "Delete the new run, once it is finished."},
    "getRun": {
        "operationId": "getRun",
        "parameters": {"pipeline_run_id": RUN_ID},
        "description": "Read the new run by its id alone (extension)."},
    "listStageRuns": {
        "operationId": "listStageRuns",
        "parameters": {"pipeline_run_id": RUN_ID},
        "description": "The new run's stage runs."},
}
CREATE_PIPELINE_RUN["responses"] = dict(sorted(
    CREATE_PIPELINE_RUN["responses"].items()))
paths["/v0/pipelines/{pipeline_id}/runs/"]["post"] = CREATE_PIPELINE_RUN

paths["/v0/pipelines/{pipeline_id}/"] = {
    "parameters": [P("StoredPipelineId")],
    "get": op("Pipelines", "getPipeline", "Get a pipeline",
              "One stored pipeline.",
              def_responses("PipelineEnvelope", "The pipeline.",
                            write=False, e400=GET_400, e404=DEF_404_PIPE)),
    "put": op("Pipelines", "updatePipeline", "Update a pipeline",
              "A partial update: only the fields given change. The answer "
              "is the pipeline after the change.",
              def_responses("PipelineEnvelope", "The pipeline after the "
                            "change.", write=True,
                            e400=DEF_BODY_400 + DEF_RULES_400,
                            e404=DEF_404_PIPE),
              params=[P("IdempotencyKey")],
              body=body("PipelineUpdate", "Esper `Pipeline_PUT`, plus "
                        "`version`.")),
    "delete": op("Pipelines", "deletePipeline", "Delete a pipeline",
                 "Soft-deletes the pipeline (docs/definitions.md, section "
                 "7): it leaves the lists, and its paths and everything "
                 "under it answer 404 `pipeline <id> was deleted at ...`; "
                 "its runs stay readable. Refused while runs started from "
                 "it are in progress (409 `in_use`). The answer is the "
                 "deleted pipeline (`deleted_at` set, `is_archived` "
                 "true). The body is absent or `{\"version\": N}`.",
                 def_responses("PipelineEnvelope", "The deleted pipeline.",
                               write=True,
                               e400=DEF_BODY_400 + " (a delete takes "
                               "`version` alone).",
                               e404=DEF_404_PIPE,
                               e409="`stale_version`, `in_use` (runs of "
                               "the pipeline in progress: cancel them "
                               "first)"),
                 params=[P("IdempotencyKey")],
                 body=body("DefinitionDelete", "`{\"version\": N}`, or "
                           "no body.", required=False)),
}
paths["/v0/pipelines/{pipeline_id}/stages/"] = {
    "parameters": [P("StoredPipelineId")],
    "get": op("Stages", "listStages", "List the stages of a pipeline",
              "The pipeline's stages, in `order`.",
              def_responses("StagePageEnvelope", "A page of stages.",
                            write=False,
                            e400=LIST_400.format("`limit`, `offset`"),
                            e404=DEF_404_PIPE),
              params=[P("Limit"), P("Offset")]),
    "post": op("Stages", "createStage", "Add a stage to a pipeline",
               "Creates a stage; its id is chosen by the gateway (UUID v5 "
               "of the `Idempotency-Key`). The answer is the new stage.",
               def_responses("StageEnvelope", "The new stage.", write=True,
                             e400=DEF_BODY_400 + DEF_RULES_400,
                             e404=DEF_404_PIPE),
               params=[P("IdempotencyKey")],
               body=body("StageCreate", "Esper `Stage_POST`, plus "
                         "`order`.")),
}
STAGE_LINK = {"pipeline_id": "$response.body#/content/pipeline_id",
              "stage_id": "$response.body#/content/id"}
paths["/v0/pipelines/{pipeline_id}/stages/"]["post"]["responses"]["200"][
    "links"] = {
    "getStage": {"operationId": "getStage", "parameters": STAGE_LINK,
                 "description": "Read the new stage."},
    "updateStage": {"operationId": "updateStage", "parameters": STAGE_LINK,
                    "description": "Change the new stage."},
}
STAGE_404 = ("No such stage in this pipeline of the caller's enterprise, "
             "or " + DEF_404_PIPE[0].lower() + DEF_404_PIPE[1:])
paths["/v0/pipelines/{pipeline_id}/stages/{stage_id}/"] = {
    "parameters": [P("StoredPipelineId"), P("StageId")],
    "get": op("Stages", "getStage", "Get a stage", "One stage.",
              def_responses("StageEnvelope", "The stage.", write=False,
                            e400=GET_400, e404=STAGE_404)),
    "put": op("Stages", "updateStage", "Update a stage",
              "A partial update: only the fields given change. Runs "
              "already started keep the stage as they froze it.",
              def_responses("StageEnvelope", "The stage after the change.",
                            write=True, e400=DEF_BODY_400 + DEF_RULES_400,
                            e404=STAGE_404),
              params=[P("IdempotencyKey")],
              body=body("StageUpdate", "Esper `Stage_PUT`, plus `order` "
                        "and `version`.")),
    "delete": op("Stages", "deleteStage", "Delete a stage",
                 "Deletes the stage with its operation lists, their "
                 "operations and its target-list attachments (the lists "
                 "stay). Refused while a run of the pipeline uses it "
                 "(409 `in_use`). The answer is the stage as it was. The "
                 "body is absent or `{\"version\": N}`.",
                 def_responses("StageEnvelope", "The deleted stage, as it "
                               "was.", write=True,
                               e400=DEF_BODY_400 + " (a delete takes "
                               "`version` alone).",
                               e404=STAGE_404,
                               e409="`stale_version`, `in_use` (a run in "
                               "progress uses the stage)"),
                 params=[P("IdempotencyKey")],
                 body=body("DefinitionDelete", "`{\"version\": N}`, or "
                           "no body.", required=False)),
}


# Target lists, a stage's lists, operation lists, operations (phase A).
TL_TYPE_IN = {"type": "string", "enum": ["DEVICES", "GROUPS", "COLLECTIONS"],
              "description": "`DEVICES` (targets), `GROUPS` (device groups) "
              "or `COLLECTIONS` (can be created, holds nothing; a run of a "
              "stage with one is refused `not_supported`). Input is "
              "accepted in any case; stored upper case."}
schemas["TargetList"] = {
    "type": "object",
    "description": "A target list of a stored pipeline (Esper "
    "`TargetList`), plus `version`.",
    "required": ["id", "pipeline_id", "name", "target_list_type",
                 "created_by", "updated_by", "created_at", "updated_at",
                 "version"],
    "properties": {
        "id": uuid("The target list id (chosen by the gateway on create)."),
        "pipeline_id": uuid("Its pipeline."),
        "name": {"type": "string", "description": "Unique in the pipeline "
                 "(ASCII case folded)."},
        "target_list_type": {"type": "string",
                             "enum": ["DEVICES", "GROUPS", "COLLECTIONS"]},
        **DEF_AUDIT,
        "version": DEF_VERSION}}
TL_RO = ["id", "pipeline_id", "created_by", "updated_by", "created_at",
         "updated_at"]
schemas["TargetListCreate"] = {
    "type": "object", "additionalProperties": False,
    "required": ["name", "target_list_type"],
    "description": "Esper `TargetList_POST`. The read-only fields of a "
    "`TargetList` (and `version`) are accepted and ignored.",
    "properties": {
        "name": def_name("The name, unique in the pipeline.", False),
        "target_list_type": TL_TYPE_IN,
        "version": READ_ONLY,
        **{f: READ_ONLY for f in TL_RO}}}
schemas["TargetListUpdate"] = {
    "type": "object", "additionalProperties": False,
    "description": "Esper's `TargetList` as a `PUT` body: every field "
    "optional (a partial update), plus `version`.",
    "properties": {
        "name": def_name("The new name.", True),
        "target_list_type": dict(TL_TYPE_IN, type=["string", "null"],
                                 enum=["DEVICES", "GROUPS", "COLLECTIONS",
                                       None],
                                 description="Whether the type may change "
                                 "is the owner's rule (a list holding "
                                 "targets or links keeps its type: 400)."),
        "version": DEF_VERSION_IN,
        **{f: READ_ONLY for f in TL_RO}}}
schemas["StageTargetListAttach"] = {
    "type": "object", "additionalProperties": False,
    "required": ["target_list_id"],
    "description": "Esper `StageTargetList_POST`: the list to attach (of "
    "the stage's pipeline). Attaching twice changes nothing.",
    "properties": {"target_list_id": uuid("The target list.")}}

schemas["OperationList"] = {
    "type": "object",
    "description": "An operation list of a stage (Esper `OperationList`), "
    "plus `version`.",
    "required": ["id", "pipeline_id", "stage_id", "name", "description",
                 "created_by", "updated_by", "created_at", "updated_at",
                 "version"],
    "properties": {
        "id": uuid("The operation list id (chosen by the gateway on "
                   "create)."),
        "pipeline_id": uuid("Its stage's pipeline."),
        "stage_id": uuid("Its stage."),
        "name": {"type": "string", "description": "Unique in the stage "
                 "(ASCII case folded)."},
        "description": {"type": "string"},
        **DEF_AUDIT,
        "version": DEF_VERSION}}
OL_RO = ["id", "stage_id", "created_by", "updated_by", "created_at",
         "updated_at"]
OL_PIPELINE = uuid("Esper's field: when given, the stage's pipeline (any "
                   "other: 400); not stored.", nullable=True)
schemas["OperationListCreate"] = {
    "type": "object", "additionalProperties": False, "required": ["name"],
    "description": "Esper `OperationList_POST`. The read-only fields of an "
    "`OperationList` (and `version`) are accepted and ignored.",
    "properties": {
        "name": def_name("The name, unique in the stage.", False),
        "description": def_text("Description (default `\"\"`)."),
        "pipeline_id": OL_PIPELINE,
        "version": READ_ONLY,
        **{f: READ_ONLY for f in OL_RO}}}
schemas["OperationListUpdate"] = {
    "type": "object", "additionalProperties": False,
    "description": "Esper's `OperationList` as a `PUT` body: every field "
    "optional (a partial update), plus `version`.",
    "properties": {
        "name": def_name("The new name.", True),
        "description": def_text("The new description."),
        "pipeline_id": OL_PIPELINE,
        "version": DEF_VERSION_IN,
        **{f: READ_ONLY for f in OL_RO}}}

schemas["Operation"] = {
    "type": "object",
    "description": "An operation of an operation list (Esper "
    "`Operation`), plus `version`.",
    "required": ["id", "operation_list_id", "pipeline_id",
                 "operation_type", "args", "created_by", "updated_by",
                 "created_at", "updated_at", "version"],
    "properties": {
        "id": uuid("The operation id (chosen by the gateway on create)."),
        "operation_list_id": uuid("Its operation list."),
        "pipeline_id": uuid("Its pipeline."),
        "operation_type": S("OperationType"),
        "args": {"type": "object", "description": "The device command's "
                 "arguments as written (`{}` when none)."},
        **DEF_AUDIT,
        "version": DEF_VERSION}}
OP_RO = ["id", "operation_list_id", "pipeline_id", "created_by",
         "updated_by", "created_at", "updated_at"]
OP_ARGS = {"type": ["object", "null"], "description": "The device "
           "command's arguments, kept as written (at most 65536 bytes); "
           "null or absent: `{}` on create, unchanged on update."}
schemas["OperationCreate"] = {
    "type": "object", "additionalProperties": False,
    "required": ["operation_type"],
    "description": "Esper `Operation_POST`. The read-only fields of an "
    "`Operation` (and `version`) are accepted and ignored.",
    "properties": {
        "operation_type": S("OperationType"),
        "args": OP_ARGS,
        "version": READ_ONLY,
        **{f: READ_ONLY for f in OP_RO}}}
schemas["OperationUpdate"] = {
    "type": "object", "additionalProperties": False,
    "description": "Esper's `Operation` as a `PUT` body: every field "
    "optional (a partial update), plus `version`; send back the operation "
    "read, with its `version`, for lost-update protection.",
    "properties": {
        "operation_type": {"anyOf": [S("OperationType"), {"type": "null"}]},
        "args": OP_ARGS,
        "version": DEF_VERSION_IN,
        **{f: READ_ONLY for f in OP_RO}}}
for ent in ["TargetList", "OperationList", "Operation"]:
    page(f"{ent}Page", ent)
    schemas[f"{ent}Envelope"] = envelope(200, S(ent), f"A {ent} in the "
                                         "envelope.")
    schemas[f"{ent}PageEnvelope"] = envelope(200, S(f"{ent}Page"),
                                             f"A page of {ent} objects "
                                             "in the envelope.")

parameters["TargetListId"] = {
    "name": "targetlist_id", "in": "path", "required": True,
    "description": "A target list id (UUID; any case). Not a UUID, "
    "unknown, another pipeline's or another enterprise's: 404.",
    "schema": {"type": "string", "format": "uuid"}}
parameters["StageIdAlone"] = {
    "name": "stage_id", "in": "path", "required": True,
    "description": "A stage id (UUID; any case); the gateway reads its "
    "pipeline from it. Not a UUID, unknown, another enterprise's, or of a "
    "deleted pipeline: 404.",
    "schema": {"type": "string", "format": "uuid"}}
parameters["OperationListId"] = {
    "name": "operationlist_id", "in": "path", "required": True,
    "description": "An operation list id (UUID; any case). Not a UUID, "
    "unknown, another stage's or another enterprise's: 404.",
    "schema": {"type": "string", "format": "uuid"}}
parameters["OperationListIdAlone"] = {
    "name": "operationlist_id", "in": "path", "required": True,
    "description": "An operation list id (UUID; any case); the gateway "
    "reads its pipeline from it. Not a UUID, unknown, another "
    "enterprise's, or of a deleted pipeline: 404.",
    "schema": {"type": "string", "format": "uuid"}}
parameters["OperationId"] = {
    "name": "operation_id", "in": "path", "required": True,
    "description": "An operation id (UUID; any case). Not a UUID, "
    "unknown, another list's or another enterprise's: 404.",
    "schema": {"type": "string", "format": "uuid"}}
parameters["TargetListTypeFilter"] = {
    "name": "type", "in": "query", "required": False,
    "allowEmptyValue": True,
    "description": "Only lists of this type, lower case (`devices` for "
    "`DEVICES`). Any other value: 400.",
    "schema": {"type": "string", "enum": ["groups", "devices",
                                          "collections"]}}
parameters["OperationTypeFilter"] = {
    "name": "operation_type", "in": "query", "required": False,
    "allowEmptyValue": True,
    "description": "Only operations of this type (any case).",
    "schema": {"type": "string", "maxLength": 63, "pattern": NO_NUL}}

TL_404 = ("No such target list in this pipeline of the caller's "
          "enterprise, or " + DEF_404_PIPE[0].lower() + DEF_404_PIPE[1:])
STAGE_ALONE_404 = ("No such stage in the caller's enterprise (another "
                   "enterprise's is answered the same way), its pipeline "
                   "was deleted (`pipeline <id> was deleted at ...`), or "
                   "an id is not a UUID.")
OL_ALONE_404 = ("No such operation list in the caller's enterprise, its "
                "pipeline was deleted, or an id is not a UUID.")
paths["/v0/pipelines/{pipeline_id}/targetlists/"] = {
    "parameters": [P("StoredPipelineId")],
    "get": op("Target Lists", "listTargetLists",
              "List the target lists of a pipeline",
              "The pipeline's target lists, in creation order.",
              def_responses("TargetListPageEnvelope", "A page of target "
                            "lists.", write=False,
                            e400=LIST_400.format("`limit`, `offset`"),
                            e404=DEF_404_PIPE),
              params=[P("Limit"), P("Offset")]),
    "post": op("Target Lists", "createTargetList", "Create a target list",
               "Creates a target list of the pipeline; its id is chosen by "
               "the gateway. The answer is the new list.",
               def_responses("TargetListEnvelope", "The new target list.",
                             write=True, e400=DEF_BODY_400 + DEF_RULES_400,
                             e404=DEF_404_PIPE),
               params=[P("IdempotencyKey")],
               body=body("TargetListCreate", "Esper `TargetList_POST`.")),
}
TL_LINK = {"pipeline_id": "$response.body#/content/pipeline_id",
           "targetlist_id": "$response.body#/content/id"}
paths["/v0/pipelines/{pipeline_id}/targetlists/"]["post"]["responses"][
    "200"]["links"] = {
    "getTargetList": {"operationId": "getTargetList",
                      "parameters": TL_LINK,
                      "description": "Read the new list."},
    "updateTargetList": {"operationId": "updateTargetList",
                         "parameters": TL_LINK,
                         "description": "Change the new list."},
    "deleteTargetList": {"operationId": "deleteTargetList",
                         "parameters": TL_LINK,
                         "description": "Delete the new list."},
}
paths["/v0/pipelines/{pipeline_id}/targetlists/{targetlist_id}/"] = {
    "parameters": [P("StoredPipelineId"), P("TargetListId")],
    "get": op("Target Lists", "getTargetList", "Get a target list",
              "One target list.",
              def_responses("TargetListEnvelope", "The target list.",
                            write=False, e400=GET_400, e404=TL_404)),
    "put": op("Target Lists", "updateTargetList", "Update a target list",
              "A partial update: only the fields given change.",
              def_responses("TargetListEnvelope", "The list after the "
                            "change.", write=True,
                            e400=DEF_BODY_400 + DEF_RULES_400, e404=TL_404),
              params=[P("IdempotencyKey")],
              body=body("TargetListUpdate", "Esper's `TargetList`, plus "
                        "`version`.")),
    "delete": op("Target Lists", "deleteTargetList", "Delete a target list",
                 "Deletes the list with its attachments to stages and its "
                 "device-group links; a `DEVICES` list that still holds "
                 "targets is refused (409 `in_use`: remove them first). The "
                 "answer is the list as it was. The body is absent or "
                 "`{\"version\": N}`.",
                 def_responses("TargetListEnvelope", "The deleted list, as "
                               "it was.", write=True,
                               e400=DEF_BODY_400 + " (a delete takes "
                               "`version` alone).", e404=TL_404,
                               e409="`stale_version`, `in_use` (targets "
                               "left in the list)"),
                 params=[P("IdempotencyKey")],
                 body=body("DefinitionDelete", "`{\"version\": N}`, or "
                           "no body.", required=False)),
}
paths["/v0/stages/{stage_id}/targetlists/"] = {
    "parameters": [P("StageIdAlone")],
    "get": op("Stages", "listStageTargetLists",
              "List the target lists attached to a stage",
              "The lists attached to the stage, in the order they were "
              "attached.",
              def_responses("TargetListPageEnvelope", "A page of target "
                            "lists.", write=False,
                            e400=LIST_400.format("`type`, `limit`, "
                                                 "`offset`"),
                            e404=STAGE_ALONE_404),
              params=[P("TargetListTypeFilter"), P("Limit"), P("Offset")]),
    "post": op("Stages", "attachTargetList", "Attach a target list to a "
               "stage",
               "Attaches a target list of the stage's pipeline; attaching "
               "it again changes nothing. The answer is the list.",
               def_responses("TargetListEnvelope", "The attached list.",
                             write=True, e400=DEF_BODY_400 + DEF_RULES_400,
                             e404=STAGE_ALONE_404 + " Also: the list is "
                             "not one of the stage's pipeline (`reason` "
                             "`not_found`)."),
               params=[P("IdempotencyKey")],
               body=body("StageTargetListAttach", "Esper "
                         "`StageTargetList_POST`.")),
}
paths["/v0/stages/{stage_id}/targetlists/{targetlist_id}/"] = {
    "parameters": [P("StageIdAlone"), P("TargetListId")],
    "delete": op("Stages", "detachTargetList", "Detach a target list from "
                 "a stage",
                 "Detaches the list (the list itself stays). The answer is "
                 "the list. The body is absent or `{\"version\": N}`.",
                 def_responses("TargetListEnvelope", "The detached list.",
                               write=True,
                               e400=DEF_BODY_400 + " (a delete takes "
                               "`version` alone).",
                               e404=STAGE_ALONE_404 + " Also: the list is "
                               "not attached to the stage."),
                 params=[P("IdempotencyKey")],
                 body=body("DefinitionDelete", "`{\"version\": N}`, or "
                           "no body.", required=False)),
}
paths["/v0/stages/{stage_id}/operationlists/"] = {
    "parameters": [P("StageIdAlone")],
    "get": op("Operation Lists", "listOperationLists",
              "List the operation lists of a stage",
              "The stage's operation lists, in creation order.",
              def_responses("OperationListPageEnvelope", "A page of "
                            "operation lists.", write=False,
                            e400=LIST_400.format("`limit`, `offset`"),
                            e404=STAGE_ALONE_404),
              params=[P("Limit"), P("Offset")]),
    "post": op("Operation Lists", "createOperationList",
               "Create an operation list",
               "Creates an operation list of the stage; its id is chosen "
               "by the gateway. The answer is the new list.",
               def_responses("OperationListEnvelope", "The new operation "
                             "list.", write=True,
                             e400=DEF_BODY_400 + DEF_RULES_400,
                             e404=STAGE_ALONE_404),
               params=[P("IdempotencyKey")],
               body=body("OperationListCreate", "Esper "
                         "`OperationList_POST`.")),
}
OL_LINK = {"stage_id": "$response.body#/content/stage_id",
           "operationlist_id": "$response.body#/content/id"}
OL_ALONE_LINK = {"operationlist_id": "$response.body#/content/id"}
paths["/v0/stages/{stage_id}/operationlists/"]["post"]["responses"]["200"][
    "links"] = {
    "updateOperationList": {"operationId": "updateOperationList",
                            "parameters": OL_LINK,
                            "description": "Change the new list."},
    "listOperations": {"operationId": "listOperations",
                       "parameters": OL_ALONE_LINK,
                       "description": "The new list's operations."},
    "createOperation": {"operationId": "createOperation",
                        "parameters": OL_ALONE_LINK,
                        "description": "Add an operation to the new "
                        "list."},
}
OL_404 = ("No such operation list of this stage, or " +
          STAGE_ALONE_404[0].lower() + STAGE_ALONE_404[1:])
paths["/v0/stages/{stage_id}/operationlists/{operationlist_id}/"] = {
    "parameters": [P("StageIdAlone"), P("OperationListId")],
    "put": op("Operation Lists", "updateOperationList",
              "Update an operation list",
              "A partial update: only the fields given change.",
              def_responses("OperationListEnvelope", "The list after the "
                            "change.", write=True,
                            e400=DEF_BODY_400 + DEF_RULES_400, e404=OL_404),
              params=[P("IdempotencyKey")],
              body=body("OperationListUpdate", "Esper's `OperationList`, "
                        "plus `version`.")),
    "delete": op("Operation Lists", "deleteOperationList",
                 "Delete an operation list",
                 "Deletes the list with its operations. The answer is the "
                 "list as it was. The body is absent or "
                 "`{\"version\": N}`.",
                 def_responses("OperationListEnvelope", "The deleted list, "
                               "as it was.", write=True,
                               e400=DEF_BODY_400 + " (a delete takes "
                               "`version` alone).", e404=OL_404),
                 params=[P("IdempotencyKey")],
                 body=body("DefinitionDelete", "`{\"version\": N}`, or "
                           "no body.", required=False)),
}
paths["/v0/operationlists/{operationlist_id}/operations/"] = {
    "parameters": [P("OperationListIdAlone")],
    "get": op("Pipeline Operations", "listOperations",
              "List the operations of an operation list",
              "The list's operations, in creation order.",
              def_responses("OperationPageEnvelope", "A page of "
                            "operations.", write=False,
                            e400=LIST_400.format("`operation_type`, "
                                                 "`limit`, `offset`"),
                            e404=OL_ALONE_404),
              params=[P("OperationTypeFilter"), P("Limit"), P("Offset")]),
    "post": op("Pipeline Operations", "createOperation", "Create an operation",
               "Adds an operation to the list; its id is chosen by the "
               "gateway. The answer is the new operation.",
               def_responses("OperationEnvelope", "The new operation.",
                             write=True, e400=DEF_BODY_400 + DEF_RULES_400,
                             e404=OL_ALONE_404),
               params=[P("IdempotencyKey")],
               body=body("OperationCreate", "Esper `Operation_POST`.")),
}
OP_LINK = {"operationlist_id": "$response.body#/content/operation_list_id",
           "operation_id": "$response.body#/content/id"}
paths["/v0/operationlists/{operationlist_id}/operations/"]["post"][
    "responses"]["200"]["links"] = {
    "getOperation": {"operationId": "getOperation", "parameters": OP_LINK,
                     "description": "Read the new operation."},
    "updateOperation": {"operationId": "updateOperation",
                        "parameters": OP_LINK,
                        "description": "Change the new operation."},
    "deleteOperation": {"operationId": "deleteOperation",
                        "parameters": OP_LINK,
                        "description": "Delete the new operation."},
}
OP_404 = ("No such operation in this operation list, or " +
          OL_ALONE_404[0].lower() + OL_ALONE_404[1:])
paths["/v0/operationlists/{operationlist_id}/operations/{operation_id}/"] = {
    "parameters": [P("OperationListIdAlone"), P("OperationId")],
    "get": op("Pipeline Operations", "getOperation", "Get an operation",
              "One operation.",
              def_responses("OperationEnvelope", "The operation.",
                            write=False, e400=GET_400, e404=OP_404)),
    "put": op("Pipeline Operations", "updateOperation", "Update an operation",
              "A partial update: only the fields given change. Runs "
              "already started keep the operation as they froze it.",
              def_responses("OperationEnvelope", "The operation after the "
                            "change.", write=True,
                            e400=DEF_BODY_400 + DEF_RULES_400, e404=OP_404),
              params=[P("IdempotencyKey")],
              body=body("OperationUpdate", "Esper's `Operation`, plus "
                        "`version`.")),
    "delete": op("Pipeline Operations", "deleteOperation", "Delete an operation",
                 "The answer is the operation as it was. The body is "
                 "absent or `{\"version\": N}`.",
                 def_responses("OperationEnvelope", "The deleted "
                               "operation, as it was.", write=True,
                               e400=DEF_BODY_400 + " (a delete takes "
                               "`version` alone).", e404=OP_404),
                 params=[P("IdempotencyKey")],
                 body=body("DefinitionDelete", "`{\"version\": N}`, or "
                           "no body.", required=False)),
}
paths["/v0/pipelines/{pipeline_id}/"]["get"]["responses"]["200"]["links"] = {
    "createPipelineRun": {"operationId": "createPipelineRun",
                          "parameters": {"pipeline_id": PIPE_ID},
                          "description": "Start a run of the pipeline."},
}
# The pipeline's and the stage's links reach the lists.
paths["/v0/pipelines/"]["post"]["responses"]["200"]["links"].update({
    "listTargetLists": {"operationId": "listTargetLists",
                        "parameters": {"pipeline_id": PIPE_ID},
                        "description": "The new pipeline's target lists."},
    "createTargetList": {"operationId": "createTargetList",
                         "parameters": {"pipeline_id": PIPE_ID},
                         "description": "Add a target list to the new "
                         "pipeline."},
})
STAGE_ALONE_LINK = {"stage_id": "$response.body#/content/id"}
paths["/v0/pipelines/{pipeline_id}/stages/"]["post"]["responses"]["200"][
    "links"].update({
    "listOperationLists": {"operationId": "listOperationLists",
                           "parameters": STAGE_ALONE_LINK,
                           "description": "The new stage's operation "
                           "lists."},
    "createOperationList": {"operationId": "createOperationList",
                            "parameters": STAGE_ALONE_LINK,
                            "description": "Add an operation list to the "
                            "new stage."},
    "listStageTargetLists": {"operationId": "listStageTargetLists",
                             "parameters": STAGE_ALONE_LINK,
                             "description": "The lists attached to the new "
                             "stage."},
})


# Targets of a DEVICES list (phase A).
schemas["Target"] = {
    "type": "object",
    "description": "A device in a target list (Esper `Target`), plus "
    "`version`. Its id is the list's and the device's (UUID v5): a device "
    "is at most once in a list.",
    "required": ["id", "pipeline_id", "target_list_id", "device_id",
                 "device_name", "device_alias", "is_active", "device_meta",
                 "args", "created_by", "updated_by", "created_at",
                 "updated_at", "version"],
    "properties": {
        "id": uuid("The target id."),
        "pipeline_id": uuid("Its pipeline."),
        "target_list_id": uuid("Its list."),
        "device_id": uuid("The device."),
        "device_name": {"type": "string"},
        "device_alias": {"type": "string", "description": "`\"\"` when "
                         "none."},
        "is_active": {"type": "boolean"},
        "device_meta": {"type": ["object", "null"]},
        "args": {"type": ["object", "null"]},
        **DEF_AUDIT,
        "version": DEF_VERSION}}
TGT_RO = ["id", "pipeline_id", "target_list_id", "created_by",
          "updated_by", "created_at", "updated_at"]
schemas["TargetCreate"] = {
    "type": "object", "additionalProperties": False,
    "required": ["device_id", "device_name"],
    "description": "Esper `Target_POST`. The read-only fields of a "
    "`Target` (and `version`) are accepted and ignored. A device already "
    "in the list is left as it is (the answer is its target).",
    "properties": {
        "device_id": uuid("The device."),
        "device_name": def_name("The device's name.", False),
        "device_alias": {"type": ["string", "null"], "maxLength": MAX_TEXT,
                         "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$",
                         "description": "The device's alias (may be "
                         "empty)."},
        "is_active": {"type": ["boolean", "null"], "description":
                      "Default true."},
        "version": READ_ONLY,
        **{f: READ_ONLY for f in TGT_RO}}}
schemas["TargetUpdate"] = {
    "type": "object", "additionalProperties": False,
    "description": "Esper `Target_PUT`: `device_name` and `is_active`, "
    "both optional, plus `version`. The other fields of a `Target` are "
    "accepted and ignored.",
    "properties": {
        "device_name": def_name("The new name.", True),
        "is_active": {"type": ["boolean", "null"]},
        "version": DEF_VERSION_IN,
        **{f: READ_ONLY for f in TGT_RO + ["device_id", "device_alias",
                                            "device_meta", "args"]}}}
page("TargetPage", "Target")
schemas["TargetEnvelope"] = envelope(200, S("Target"), "A Target in the "
                                     "envelope.")
schemas["TargetPageEnvelope"] = envelope(200, S("TargetPage"), "A page of "
                                         "Target objects in the envelope.")
parameters["TargetId"] = {
    "name": "target_id", "in": "path", "required": True,
    "description": "A target id (UUID; any case). Not a UUID, unknown, "
    "another list's or another enterprise's: 404.",
    "schema": {"type": "string", "format": "uuid"}}
TGT_404 = ("No such target in this list, or " + TL_404[0].lower() +
           TL_404[1:])
paths["/v0/pipelines/{pipeline_id}/targetlists/{targetlist_id}/targets/"] = {
    "parameters": [P("StoredPipelineId"), P("TargetListId")],
    "get": op("Targets", "listTargets", "List the targets of a list",
              "The list's targets in target id order. Pages by cursor: "
              "`next` carries one (the last target id of the page); "
              "`count` is the list's number of targets.",
              def_responses("TargetPageEnvelope", "A page of targets.",
                            write=False,
                            e400=LIST_400.format("`limit`, `offset`, "
                                                 "`cursor`"),
                            e404=TL_404),
              params=[P("Limit"), P("Offset"), P("Cursor")]),
    "post": op("Targets", "createTarget", "Add a target to a list",
               "Adds a device to a `DEVICES` list (another type: 400 "
               "`wrong_type`). A device already in the list is skipped and "
               "left unchanged; the answer is its target either way. "
               "Refused while a run of the pipeline is being filled (409 "
               "`run_starting`, `Retry-After: 1`).",
               def_responses("TargetEnvelope", "The target.", write=True,
                             e400=DEF_BODY_400 + DEF_RULES_400,
                             e404=TL_404,
                             e409="`run_starting` (a run of the pipeline "
                             "is being filled: retry after `Retry-After` "
                             "seconds)"),
               params=[P("IdempotencyKey")],
               body=body("TargetCreate", "Esper `Target_POST`.")),
}
TGT_LINK = {"pipeline_id": "$response.body#/content/pipeline_id",
            "targetlist_id": "$response.body#/content/target_list_id",
            "target_id": "$response.body#/content/id"}
paths["/v0/pipelines/{pipeline_id}/targetlists/{targetlist_id}/targets/"][
    "post"]["responses"]["200"]["links"] = {
    "getTarget": {"operationId": "getTarget", "parameters": TGT_LINK,
                  "description": "Read the target."},
    "updateTarget": {"operationId": "updateTarget", "parameters": TGT_LINK,
                     "description": "Change the target."},
    "deleteTarget": {"operationId": "deleteTarget", "parameters": TGT_LINK,
                     "description": "Remove the target."},
}
paths["/v0/pipelines/{pipeline_id}/targetlists/{targetlist_id}/targets/"
      "{target_id}/"] = {
    "parameters": [P("StoredPipelineId"), P("TargetListId"), P("TargetId")],
    "get": op("Targets", "getTarget", "Get a target", "One target.",
              def_responses("TargetEnvelope", "The target.", write=False,
                            e400=GET_400, e404=TGT_404)),
    "put": op("Targets", "updateTarget", "Update a target",
              "Changes `device_name` and `is_active`. The answer is the "
              "target in the envelope, as every answer here (Esper's "
              "reference shows a bare `Target`; docs/api-decisions.md, "
              "\"Stored definitions\").",
              def_responses("TargetEnvelope", "The target after the "
                            "change.", write=True,
                            e400=DEF_BODY_400 + DEF_RULES_400, e404=TGT_404,
                            e409="`stale_version`, `run_starting`"),
              params=[P("IdempotencyKey")],
              body=body("TargetUpdate", "Esper `Target_PUT`, plus "
                        "`version`.")),
    "delete": op("Targets", "deleteTarget", "Remove a target",
                 "Removes the device from the list. The answer is the "
                 "target as it was. The body is absent or "
                 "`{\"version\": N}`.",
                 def_responses("TargetEnvelope", "The removed target, as "
                               "it was.", write=True,
                               e400=DEF_BODY_400 + " (a delete takes "
                               "`version` alone).", e404=TGT_404,
                               e409="`stale_version`, `run_starting`"),
                 params=[P("IdempotencyKey")],
                 body=body("DefinitionDelete", "`{\"version\": N}`, or "
                           "no body.", required=False)),
}
TL_TGT_LINK = {"pipeline_id": "$response.body#/content/pipeline_id",
               "targetlist_id": "$response.body#/content/id"}
paths["/v0/pipelines/{pipeline_id}/targetlists/"]["post"]["responses"][
    "200"]["links"].update({
    "listTargets": {"operationId": "listTargets", "parameters": TL_TGT_LINK,
                    "description": "The new list's targets."},
    "createTarget": {"operationId": "createTarget",
                     "parameters": TL_TGT_LINK,
                     "description": "Add a target to the new list."},
})


# targets-bulk (docs/definitions.md, section 8).
schemas["TargetBulkItem"] = {
    "type": "object", "additionalProperties": False,
    "required": ["device_id"],
    "description": "One target of a bulk body (the read-only fields of a "
    "`Target` are accepted and ignored).",
    "properties": {
        "device_id": uuid("The device."),
        "device_name": {"type": ["string", "null"], "maxLength": MAX_TEXT,
                        "pattern": NO_NUL},
        "device_alias": {"type": ["string", "null"], "maxLength": MAX_TEXT,
                         "pattern": NO_NUL},
        "device_meta": {"type": ["object", "null"]},
        "args": {"type": ["object", "null"]},
        "is_active": {"type": ["boolean", "null"], "description":
                      "Default true."},
        **{f: READ_ONLY for f in TGT_RO + ["version"]}}}
schemas["TargetsBulk"] = {
    "type": "array", "maxItems": 100000,
    "description": "Device ids, or targets, or both mixed; at most "
    "`gateway.bulk.max.items` (default 100,000) items within "
    "`gateway.body.max.bytes`. An item that is not valid (not a UUID, a "
    "name over 255 bytes, a device already earlier in the body, ...) is "
    "left out and reported in `errors`; the others are sent.",
    "items": {"anyOf": [{"type": "string", "format": "uuid"},
                        S("TargetBulkItem"),
                        {"description": "Any other item is not refused: "
                         "it is left out and reported in `errors` (its "
                         "index and what to fix), the valid items are "
                         "sent."}]}}
schemas["TargetsBulkResult"] = {
    "type": "object",
    "required": ["created_count", "added_count", "skipped_count", "errors"],
    "description": "Esper's bulk summary: the replies' counts summed.",
    "properties": {
        "created_count": {"type": "integer", "minimum": 0},
        "added_count": {"type": "integer", "minimum": 0},
        "skipped_count": {"type": "integer", "minimum": 0,
                          "description": "Devices already in the list, "
                          "left unchanged."},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["index", "device_id", "message"],
            "properties": {
                "index": {"type": "integer", "minimum": 0},
                "device_id": {"type": ["string", "null"]},
                "message": {"type": "string"}}}}}}
schemas["TargetsBulkEnvelope"] = envelope(200, S("TargetsBulkResult"),
                                          "A bulk summary in the "
                                          "envelope; `message` is "
                                          "\"created N, added N, skipped "
                                          "N\".")
schemas["BulkAcceptedEnvelope"] = envelope(202, {
    "type": "object", "required": ["command_id", "missing_command_ids"],
    "properties": {
        "command_id": uuid("The request's command id (its chunks' ids "
                           "derive from it)."),
        "missing_command_ids": {"type": "array", "items": uuid(
            "A chunk whose outcome did not arrive in time.")}}},
    "Some chunks' outcome did not arrive in time (or the outcome is not "
    "visible yet): retry with the same `Idempotency-Key`; the applied "
    "chunks are answered by the owner's dedupe.")
_bulk = def_responses("TargetsBulkEnvelope", "The summary.", write=True,
                      e400=("Not JSON, not an array, or more items than "
                            "`gateway.bulk.max.items`; or a chunk the owner "
                            "refused (`wrong_type`: not a `DEVICES` list, "
                            "...; the message names the chunk: the chunks "
                            "before it may be applied, each chunk is "
                            "atomic, the bulk is not). Invalid items alone "
                            "are no 400: they are the `errors` of a 200."),
                      e404=TL_404,
                      e409="`run_starting` (a run of the pipeline is "
                      "being filled: retry after `Retry-After` seconds)")
_bulk["202"] = resp("Accepted, outcome of some chunks unknown.",
                    S("BulkAcceptedEnvelope"))
paths["/v0/pipelines/{pipeline_id}/targetlists/{targetlist_id}/"
      "targets-bulk/"] = {
    "parameters": [P("StoredPipelineId"), P("TargetListId")],
    "post": op("Targets", "bulkAddTargets", "Add many targets to a list",
               "Validates every item, sends the valid ones as `AddTargets` "
               "commands of `definition.chunk.targets` (default 1,000) "
               "each, all at once, then awaits every reply; the same as "
               "adding each device with `POST .../targets/`. The answer "
               "sums the counts, with the items left out.",
               _bulk, params=[P("IdempotencyKey")],
               body=body("TargetsBulk", "Device ids or targets.")),
}
paths["/v0/pipelines/{pipeline_id}/targetlists/"]["post"]["responses"][
    "200"]["links"]["bulkAddTargets"] = {
    "operationId": "bulkAddTargets", "parameters": TL_TGT_LINK,
    "description": "Add many targets to the new list."}

# Device groups of a GROUPS list (docs/definitions.md, section 6; phase C).
schemas["TargetListDeviceGroup"] = {
    "type": "object",
    "description": "Esper `TargetListDeviceGroup`: a device group linked to "
    "a `GROUPS` target list, plus `version`. Its members come from the "
    "device directory the platform feeds (`sr-cli groups`, or the "
    "directory commands on `sr.commands`); a run of the pipeline freezes "
    "them at its start.",
    "required": ["id", "pipeline_id", "device_group_id", "target_list_id",
                 "created_by", "updated_by", "created_at", "updated_at",
                 "version"],
    "properties": {
        "id": uuid("The link's id: UUID v5 of the list and the group, so a "
                   "group is linked to a list at most once."),
        "pipeline_id": uuid("Its pipeline (extension, as a `Target`'s)."),
        "device_group_id": uuid("The device group."),
        "target_list_id": uuid("Its list."),
        **DEF_AUDIT,
        "version": DEF_VERSION}}
schemas["TargetListDeviceGroupCreate"] = {
    "type": "object", "additionalProperties": False,
    "required": ["device_group_id"],
    "description": "Esper's `{device_group_id}`. The read-only fields of a "
    "`TargetListDeviceGroup` (and `version`) are accepted and ignored. A "
    "group already linked to the list is left as it is (the answer is its "
    "link).",
    "properties": {
        "device_group_id": uuid("The device group to link."),
        "version": READ_ONLY,
        **{f: READ_ONLY for f in ["id", "pipeline_id", "target_list_id",
                                  "created_by", "updated_by", "created_at",
                                  "updated_at"]}}}
schemas["DeviceGroupUnlinked"] = {
    "type": "object", "required": ["target_list", "device_group"],
    "description": "Esper's answer to a link's delete: the two ids.",
    "properties": {
        "target_list": uuid("The list."),
        "device_group": uuid("The group, no longer linked.")}}
schemas["Device"] = {
    "type": "object",
    "description": "Esper's `Device` projection of a linked group's member. "
    "The directory carries a device's id, name and alias; the other fields "
    "are always null here.",
    "required": ["id", "device_name", "alias_name", "serial",
                 "template_name", "manufacturer", "android_version",
                 "api_level", "is_gms", "is_active", "model",
                 "esper_client"],
    "properties": {
        "id": uuid("The device."),
        "device_name": {"type": "string"},
        "alias_name": {"type": ["string", "null"], "description": "Null "
                       "when the directory has no alias."},
        **{f: {"type": "null", "description": "Not carried by the "
               "directory: always null."}
           for f in ["serial", "template_name", "manufacturer",
                     "android_version", "api_level", "is_gms", "is_active",
                     "model", "esper_client"]}}}
for ent in ["TargetListDeviceGroup", "Device"]:
    page(f"{ent}Page", ent)
    schemas[f"{ent}PageEnvelope"] = envelope(200, S(f"{ent}Page"),
                                             f"A page of {ent} objects "
                                             "in the envelope.")
schemas["TargetListDeviceGroupEnvelope"] = envelope(
    200, S("TargetListDeviceGroup"), "A TargetListDeviceGroup in the "
    "envelope (Esper's older rendering shows it bare).")
schemas["DeviceGroupUnlinkedEnvelope"] = envelope(
    200, S("DeviceGroupUnlinked"), "The list and the group in the "
    "envelope.")
parameters["DeviceGroupOrLinkId"] = {
    "name": "devicegroup_id", "in": "path", "required": True,
    "description": "The device group's id (Esper's), or the link's own "
    "`id` (UUID; any case). Not a UUID, or neither linked to this list: "
    "404.",
    "schema": {"type": "string", "format": "uuid"}}
parameters["DeviceGroupId"] = {
    "name": "device_group_id", "in": "path", "required": True,
    "description": "A device group linked to the list (UUID; any case). "
    "Not a UUID, or not linked to this list: 404.",
    "schema": {"type": "string", "format": "uuid"}}
LINK_404 = ("The group is not linked to this list, or " + TL_404[0].lower()
            + TL_404[1:])
GROUPS_PATH = ("/v0/pipelines/{pipeline_id}/targetlists/{targetlist_id}/"
               "devicegroups/")
paths[GROUPS_PATH] = {
    "parameters": [P("StoredPipelineId"), P("TargetListId")],
    "get": op("Device Groups", "listDeviceGroups",
              "List the device groups linked to a list",
              "The list's device-group links, in creation order.",
              def_responses("TargetListDeviceGroupPageEnvelope", "A page of "
                            "links.", write=False,
                            e400=LIST_400.format("`limit`, `offset`"),
                            e404=TL_404),
              params=[P("Limit"), P("Offset")]),
    "post": op("Device Groups", "linkDeviceGroup",
               "Link a device group to a list",
               "Links a device group to a `GROUPS` list (another type: 400 "
               "`wrong_type`). The group need not be in the directory yet: "
               "until the platform feeds it, it has no members, and a run "
               "started then gets none from it. Refused while a run of the "
               "pipeline is being filled (409 `run_starting`, "
               "`Retry-After: 1`).",
               def_responses("TargetListDeviceGroupEnvelope", "The link.",
                             write=True, e400=DEF_BODY_400 + DEF_RULES_400,
                             e404=TL_404,
                             e409="`run_starting` (a run of the pipeline "
                             "is being filled: retry after `Retry-After` "
                             "seconds)"),
               params=[P("IdempotencyKey")],
               body=body("TargetListDeviceGroupCreate",
                         "`{device_group_id}`.")),
}
GROUP_LINK = {"pipeline_id": "$response.body#/content/pipeline_id",
              "targetlist_id": "$response.body#/content/target_list_id",
              "device_group_id": "$response.body#/content/device_group_id"}
paths[GROUPS_PATH]["post"]["responses"]["200"]["links"] = {
    "listDeviceGroupDevices": {"operationId": "listDeviceGroupDevices",
                               "parameters": GROUP_LINK,
                               "description": "The linked group's "
                               "devices."},
    "unlinkDeviceGroup": {"operationId": "unlinkDeviceGroup",
                          "parameters": {
                              "pipeline_id":
                                  "$response.body#/content/pipeline_id",
                              "targetlist_id":
                                  "$response.body#/content/target_list_id",
                              "devicegroup_id":
                                  "$response.body#/content/device_group_id"},
                          "description": "Unlink the group."},
}
paths[GROUPS_PATH + "{devicegroup_id}/"] = {
    "parameters": [P("StoredPipelineId"), P("TargetListId"),
                   P("DeviceGroupOrLinkId")],
    "delete": op("Device Groups", "unlinkDeviceGroup",
                 "Unlink a device group from a list",
                 "Removes the link; the directory's group is not touched. "
                 "The answer is Esper's: the list's and the group's ids. "
                 "The body is absent or `{\"version\": N}` (the link's).",
                 def_responses("DeviceGroupUnlinkedEnvelope", "The list "
                               "and the group.", write=True,
                               e400=DEF_BODY_400 + " (a delete takes "
                               "`version` alone).", e404=LINK_404,
                               e409="`stale_version`, `run_starting`"),
                 params=[P("IdempotencyKey")],
                 body=body("DefinitionDelete", "`{\"version\": N}`, or "
                           "no body.", required=False)),
}
paths[GROUPS_PATH + "{device_group_id}/devices/"] = {
    "parameters": [P("StoredPipelineId"), P("TargetListId"),
                   P("DeviceGroupId")],
    "get": op("Device Groups", "listDeviceGroupDevices",
              "List the devices of a linked group",
              "The group's members as the directory holds them now (a run "
              "keeps the members of its start), in device id order. Pages "
              "by cursor: `next` carries one (the last device id of the "
              "page); `count` is the group's number of members. A linked "
              "group the directory does not hold (not fed yet, or another "
              "enterprise's) is an empty page.",
              def_responses("DevicePageEnvelope", "A page of devices.",
                            write=False,
                            e400=LIST_400.format("`limit`, `offset`, "
                                                 "`cursor`"),
                            e404=LINK_404),
              params=[P("Limit"), P("Offset"), P("Cursor")]),
}
TL_GROUP_LINK = {"pipeline_id": "$response.body#/content/pipeline_id",
                 "targetlist_id": "$response.body#/content/id"}
paths["/v0/pipelines/{pipeline_id}/targetlists/"]["post"]["responses"][
    "200"]["links"].update({
    "listDeviceGroups": {"operationId": "listDeviceGroups",
                         "parameters": TL_GROUP_LINK,
                         "description": "The new list's device groups."},
    "linkDeviceGroup": {"operationId": "linkDeviceGroup",
                        "parameters": TL_GROUP_LINK,
                        "description": "Link a device group to the new "
                        "list."},
})

DESCRIPTION = """\
REST API of `sr-gateway`: the Esper Pipelines v0 API for pipeline, stage and
target runs, plus `POST /v0/runs/`, which starts a run from an inline run spec.

## Paths and servers

Every API path is served both as `/v0/...` and as `/api/pipelines/v0/...`
(Esper's full form), with or without the trailing slash. This document lists
each path once, as `/v0/.../` with the trailing slash, and declares the two
prefixes as two servers: `/` (first, the default) and `/api/pipelines`. To
test both forms with one tool run per form, point the tool at each server in
turn (e.g. schemathesis `--url http://HOST:PORT/` and
`--url http://HOST:PORT/api/pipelines` with `--include-path-regex '^/v0/'`).
`/livez`, `/readyz`, `/metrics`, `/openapi.json` and `/asyncapi.yaml` are served at the root
only (they override `servers`).

## Schema registry

`/schemas/...`, `/subjects...` and `/config...` are the read half of the
Confluent Schema Registry REST API over sr's own Avro schemas, so a stock
deserializer decodes sr's topics with `schema.registry.url` set to the
gateway. They answer as a registry does: root only, media type
`application/vnd.schemaregistry.v1+json`, errors as
`{"error_code", "message"}` (no envelope), no token unless the operator set
`gateway.registry.auth=true`. The two write paths, `POST
/subjects/{subject}/versions` and `POST /subjects/{subject}`, answer as a
registry that already holds exactly sr's schemas and store nothing (an sr
deployment can be another's `schema.registry.url`); any other method is a
405.

## Envelope

Every answer of an API path, errors included, is
`{"code": <int, equal to the HTTP status>, "message": <string>, "content": ...}`.
A list's `content` is `{"count", "previous", "next", "results"}`, paged with
`limit` (default 20, at most 1000) and `offset`, or by `cursor` (take it
from a `next` link: a page then costs the same at any depth); `next` and
`previous` are
URLs or null: relative to the server root (`/v0/runs/?limit=20&offset=20`)
unless the operator configured the gateway's public address
(`gateway.public.url`), under which they are absolute; never built from the
request's `Host` header. Times are ISO-8601 UTC with milliseconds
(`2024-05-01T12:00:00.123Z`); `started_at` and `ended_at` are null until set.
Objects may gain fields: clients must ignore fields they do not know.
In a query, unknown parameters are ignored, an empty value is the same as an
absent parameter, and a parameter given twice is refused (400).

## Statuses

Status values are lower case on the wire; every status in a query or a body
is accepted in any case (`CANCELLED` = `cancelled`). Terminal statuses
(`success`, `failure`, `cancelled`, `timeout`, `invalid`) never change again.

## Auth and tenancy

`Authorization: Bearer <token>` on every API path (scheme `SCAPIAuthToken`).
Each token is bound to one enterprise. A run belongs to the enterprise of the
token that created it; reading or writing another enterprise's run answers
404, exactly as for an id that does not exist. The operations endpoints need
no token.

## Writes

Writes (`POST`, `PUT`) take `application/json` bodies and refuse unknown
fields; `DELETE` of a finished run takes no body. The gateway answers when
the worker has applied the change, with the entity as it is then (a deleted
run: as it was, once it is gone from reads; read-your-writes). A write whose outcome does not
arrive in time answers 202 with the command id; it is still applied or
refused later. Send `Idempotency-Key` to make a write safe to retry.

## Refusals

| code | meaning |
|---|---|
| 400 | Malformed JSON, wrong types, an unknown status value, an unknown field in a write, a bad query value, or a transition the rules refuse (the message names the current status and what may be set). Nothing changed. |
| 401 | Missing or unknown token. |
| 404 | Unknown path or id (an id that is not a UUID included), or another enterprise's; a deleted stored pipeline and everything under it (`pipeline <id> was deleted at <ISO-8601>`). |
| 405 | Method not allowed on the path; `Allow` lists the methods served. |
| 409 | The `Idempotency-Key` was already used with a different request; or an open stage's chunk or seal conflicts with the stage's state (`reason` `chunk_conflict`, `duplicate_target`, `too_many_targets`, `sealed`, `stale_stage`, `seal_mismatch`); or a stored definition's write meets a state that refuses it (`stale_version` with `content.current_version`, `in_use`, `run_starting` with `Retry-After: 1`). |
| 413 | Body over the configured limit (default 1 MiB), or a command over `command.max.bytes` (default 983040 bytes: a run spec whose args are that large); the message names the limit. Nothing changed. |
| 415 | A write with a body whose `Content-Type` is not JSON. |
| 202 | Accepted, outcome not known in time; `content.command_id`. |
| 501 | `Transfer-Encoding` other than `chunked` alone (from the HTTP server). |
| 503 | Not ready (broker unreachable as librdkafka sees it, projection catching up); `Retry-After`. Nothing was written. |
| 408, 414, 417, 431, 505 | From the HTTP server itself: head or body not received in time, request line over 8 KiB, `Expect` other than `100-continue`, header section over 16 KiB or 100 fields, HTTP version other than 1.x. Malformed or ambiguous framing (two `Content-Length`s, a repeated `Host`, `Authorization` or `Content-Type`, control characters in a field) is a 400. Every one with the envelope; the connection closes. |

`HEAD` is served wherever `GET` is: the same status and headers, no body.

The gateway checks a request in this order: path (404), method (405), token
(401), readiness (503), `Content-Type` (415), size (413), body and query
values (400), `Idempotency-Key` reuse (409), existence (404), then the
worker's rules (400; 409 for an open stage's chunk or seal).
`POST /v0/pipelines/{pipeline_id}/runs/` starts a run of a stored pipeline
and answers 200 with the run once this gateway shows it.
"""

doc = {
    "openapi": "3.1.0",
    "info": {
        "title": "sr-gateway",
        "version": "0.1.0",
        "summary": "Pipeline, stage and target runs (Esper Pipelines v0 "
                   "compatible).",
        "description": DESCRIPTION,
    },
    "servers": [
        {"url": "/", "description": "Short form: `/v0/...`."},
        {"url": "/api/pipelines", "description": "Esper's full form: "
         "`/api/pipelines/v0/...`."},
    ],
    "tags": [
        {"name": "Pipelines", "description": "Stored pipeline "
         "definitions."},
        {"name": "Stages", "description": "The stages of a stored "
         "pipeline, and the target lists attached to them."},
        {"name": "Target Lists", "description": "The target lists of a "
         "stored pipeline."},
        {"name": "Operation Lists", "description": "The operation lists of "
         "a stage."},
        {"name": "Targets", "description": "The devices of a `DEVICES` "
         "target list."},
        {"name": "Device Groups", "description": "The device groups of a "
         "`GROUPS` target list, and their devices from the directory."},
        {"name": "Pipeline Operations", "description": "The operations of "
         "an operation list (Esper's tag `Operations`; ours names the "
         "liveness and metrics endpoints)."},
        {"name": "Pipeline Runs", "description": "Runs of pipelines."},
        {"name": "Stage Runs", "description": "Stage runs and their frozen "
         "operations; promotion."},
        {"name": "Target Runs", "description": "One device and operation "
         "of a stage run each."},
        {"name": "Watch", "description": "Status changes as Server-Sent "
         "Events."},
        {"name": "Schema Registry", "description": "The Confluent "
         "Schema Registry read API over sr's Avro schemas."},
        {"name": "Operations", "description": "Liveness, readiness, "
         "metrics, this document. No auth."},
    ],
    "paths": paths,
    "components": {
        "schemas": schemas,
        "parameters": parameters,
        "headers": headers,
        "responses": COMMON,
        "securitySchemes": {
            "SCAPIAuthToken": {
                "type": "http", "scheme": "bearer",
                "description": "`Authorization: Bearer <token>`. Each token "
                "is bound to one enterprise."}},
    },
}

out = sys.argv[1]
with open(out, "w", encoding="utf-8") as f:
    json.dump(doc, f, indent=2, ensure_ascii=False)
    f.write("\n")
