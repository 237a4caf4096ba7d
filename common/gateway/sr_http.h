/* common/gateway/sr_http.h - the request/response layer of sr-gateway, without
 * sockets: routing, query parsing, body validation, the response envelope
 * and pagination (design/api.md is the contract).
 *
 * Pure: no I/O, no clock, no logging; thread-safe; allocation only where a
 * function says so. Every input is untrusted (and fuzzed): no input may
 * crash, and nothing is read beyond the lengths given. A refused request is
 * described by an sr_http_problem_t (HTTP status, message, Allow) that the
 * gateway sends as is, through sr_http_problem_envelope().
 */
#ifndef SR_HTTP_H
#define SR_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sr_err.h"
#include "sr_model.h"
#include "sr_slice.h"

/* ------------------------------------------------------------ problems */

#define SR_HTTP_MSG_MAX 512
#define SR_HTTP_ALLOW_MAX 32

/* Why a request is refused: the envelope's code and message. */
typedef struct sr_http_problem {
        int status;                      /* HTTP status, e.g. 400 */
        char message[SR_HTTP_MSG_MAX];   /* what to fix, for the client */
        char allow[SR_HTTP_ALLOW_MAX];   /* 405 only: "GET, PUT"; else "" */
} sr_http_problem_t;

/**
 * @brief Fill @p prob (may be NULL) with @p status and a formatted
 * message; allow is cleared. For the gateway's own refusals (401, 409, 503).
 */
void sr_http_problem_set(sr_http_problem_t *prob, int status,
                         const char *fmt, ...) SR_PRINTF(3, 4);

/* ------------------------------------------------------------ routing */

#define SR_ROUTE_MAP(X)                                                 \
        X(NONE, "none")                                                 \
        X(LIVEZ, "livez")                                               \
        X(READYZ, "readyz")                                             \
        X(METRICS, "metrics")                                           \
        X(REGISTRY, "registry")                                         \
        X(ASYNCAPI, "asyncapi")                                         \
        X(UI, "ui")                                                     \
        X(OPENAPI, "openapi")                                           \
        X(RUNS_LIST, "runs_list")                                       \
        X(RUNS_CREATE, "runs_create")                                   \
        X(PIPELINE_RUNS_LIST, "pipeline_runs_list")                     \
        X(PIPELINE_RUNS_CREATE, "pipeline_runs_create")                 \
        X(PIPELINE_RUN_GET, "pipeline_run_get")                         \
        X(PIPELINE_RUN_PUT, "pipeline_run_put")                         \
        X(STAGE_RUNS_LIST, "stage_runs_list")                           \
        X(STAGE_RUN_GET, "stage_run_get")                               \
        X(STAGE_RUN_PUT, "stage_run_put")                               \
        X(OPERATIONS_LIST, "operations_list")                           \
        X(OPERATION_GET, "operation_get")                               \
        X(TARGET_RUNS_LIST, "target_runs_list")                         \
        X(TARGET_RUN_GET, "target_run_get")                             \
        X(TARGET_RUN_PUT, "target_run_put")                             \
        X(RUN_EVENTS, "run_events")                                     \
        X(EVENTS, "events")                                             \
        /* An open stage's chunks and seal (docs/targets.md, 5). Routes \
         * are appended: a route's number is in every Idempotency-Key   \
         * fingerprint the fleet shares (sr_idem_fingerprint()). */     \
        X(STAGE_TARGETS_APPEND, "stage_targets_append")                 \
        X(STAGE_TARGETS_SEAL, "stage_targets_seal")                     \
        X(STAGE_TARGETS_LIST, "stage_targets_list")                     \
        X(TARGET_RUN_COMMAND_GET, "target_run_command_get")             \
        X(TARGET_RUN_COMMAND_SEND, "target_run_command_send")           \
        X(TARGET_RUN_COMMAND_CANCEL, "target_run_command_cancel")       \
        /* DELETE of a pipeline run (docs/definitions.md section 7) */  \
        X(PIPELINE_RUN_DELETE, "pipeline_run_delete")                   \
        /* Stored definitions (docs/definitions.md, phase A) */          \
        X(DEF_PIPELINES_LIST, "def_pipelines_list")                     \
        X(DEF_PIPELINES_CREATE, "def_pipelines_create")                 \
        X(DEF_PIPELINE_GET, "def_pipeline_get")                         \
        X(DEF_PIPELINE_PUT, "def_pipeline_put")                         \
        X(DEF_PIPELINE_DELETE, "def_pipeline_delete")                   \
        X(DEF_STAGES_LIST, "def_stages_list")                           \
        X(DEF_STAGES_CREATE, "def_stages_create")                       \
        X(DEF_STAGE_GET, "def_stage_get")                               \
        X(DEF_STAGE_PUT, "def_stage_put")                               \
        X(DEF_STAGE_DELETE, "def_stage_delete")                         \
        X(DEF_TARGETLISTS_LIST, "def_targetlists_list")                 \
        X(DEF_TARGETLISTS_CREATE, "def_targetlists_create")             \
        X(DEF_TARGETLIST_GET, "def_targetlist_get")                     \
        X(DEF_TARGETLIST_PUT, "def_targetlist_put")                     \
        X(DEF_TARGETLIST_DELETE, "def_targetlist_delete")               \
        X(DEF_STAGE_TARGETLISTS_LIST, "def_stage_targetlists_list")     \
        X(DEF_STAGE_TARGETLISTS_ATTACH, "def_stage_targetlists_attach") \
        X(DEF_STAGE_TARGETLIST_DETACH, "def_stage_targetlist_detach")   \
        X(DEF_OPLISTS_LIST, "def_oplists_list")                         \
        X(DEF_OPLISTS_CREATE, "def_oplists_create")                     \
        X(DEF_OPLIST_PUT, "def_oplist_put")                             \
        X(DEF_OPLIST_DELETE, "def_oplist_delete")                       \
        X(DEF_OPERATIONS_LIST, "def_operations_list")                   \
        X(DEF_OPERATIONS_CREATE, "def_operations_create")               \
        X(DEF_OPERATION_GET, "def_operation_get")                       \
        X(DEF_OPERATION_PUT, "def_operation_put")                       \
        X(DEF_OPERATION_DELETE, "def_operation_delete")                 \
        X(DEF_TARGETS_LIST, "def_targets_list")                         \
        X(DEF_TARGETS_CREATE, "def_targets_create")                     \
        X(DEF_TARGET_GET, "def_target_get")                             \
        X(DEF_TARGET_PUT, "def_target_put")                             \
        X(DEF_TARGET_DELETE, "def_target_delete")                       \
        X(DEF_TARGETS_BULK, "def_targets_bulk")                         \
        /* A device added to a running stage run (docs/definitions.md   \
         * section 9, phase D): appended after the definitions' routes. */ \
        X(TARGET_RUNS_ADD, "target_runs_add")                           \
        /* A GROUPS list's device groups (docs/definitions.md section 6, \
         * phase C): appended, definitions again. */                    \
        X(DEF_GROUPS_LIST, "def_groups_list")                           \
        X(DEF_GROUPS_LINK, "def_groups_link")                           \
        X(DEF_GROUP_UNLINK, "def_group_unlink")                         \
        X(DEF_GROUP_DEVICES, "def_group_devices")

typedef enum sr_route_id {
#define SR_ROUTE_ENUM(name, text) SR_ROUTE_##name,
        SR_ROUTE_MAP(SR_ROUTE_ENUM)
#undef SR_ROUTE_ENUM
        SR_ROUTE__COUNT
} sr_route_id_t;

/* A matched request. Ids the route does not carry are nil. */
typedef struct sr_route {
        sr_route_id_t id;
        sr_uuid_t pipeline_id;            /* PIPELINE_RUN(S)_* */
        sr_uuid_t pipeline_run_id;        /* PIPELINE_RUN_*, STAGE_RUN(S)_*,
                                             STAGE_TARGETS_* */
        sr_uuid_t stage_run_id;           /* STAGE_RUN_*, OPERATION(S)_*,
                                             TARGET_RUN(S)_* (and _ADD),
                                             STAGE_TARGETS_* */
        sr_uuid_t stage_run_operation_id; /* OPERATION_GET */
        sr_uuid_t target_run_id;          /* TARGET_RUN_* */
        sr_uuid_t command_id;             /* TARGET_RUN_COMMAND_CANCEL */
        /* Stored definitions (DEF_*): the path's ids; pipeline_id above
         * for the paths under /pipelines/{id}/. */
        sr_uuid_t stage_id;               /* DEF_STAGE_*, /stages/{id}/ */
        sr_uuid_t target_list_id;         /* DEF_*TARGETLIST* */
        sr_uuid_t operation_list_id;      /* DEF_OPLIST*, DEF_OPERATION* */
        sr_uuid_t def_operation_id;       /* DEF_OPERATION_* */
        sr_uuid_t def_target_id;          /* DEF_TARGET_* */
        sr_uuid_t device_group_id;        /* DEF_GROUP_UNLINK (the group's
                                             or the link's id),
                                             DEF_GROUP_DEVICES */
        /* PIPELINE_RUN_GET/PUT/DELETE matched as GET/PUT/DELETE
         * /v0/runs/{id}/ (our extension): no pipeline named; pipeline_id
         * is nil here and the gateway fills it in from the run before
         * handling the request (sr_gateway__route_pipeline()), so both
         * spellings are one route. */
        bool any_pipeline;
        /* UI: the console's file (sr_ui.h); static. NULL otherwise. */
        const struct sr_ui_file *ui_file;
} sr_route_t;

/**
 * @brief Match a request line against design/api.md.
 *
 * API paths are served under "/v0" and "/api/pipelines/v0", with or
 * without the trailing slash; "/livez", "/readyz", "/metrics" and
 * "/openapi.json" exactly as written; the console's files (SR_ROUTE_UI,
 * GET only): "/ui" and "/ui/" are index.html, "/ui/<name>" the file of
 * that exact name in the compiled table (sr_ui_find()), any other path
 * under "/ui/" a 404; the schema registry's read API
 * (every method, any path under "/schemas/", "/subjects" and "/config":
 * SR_ROUTE_REGISTRY, its paths parsed by the gateway). The path ends at the first '?' or
 * '#', so a raw request target works too. Paths and methods are
 * case-sensitive; UUIDs in paths are accepted in any case. A path whose id
 * is not a UUID is an unknown path (404), as with Django's uuid converter.
 * HEAD is not a method here: the server (sr_httpd) routes it as GET.
 * @param[in]  method, path borrowed, NUL-terminated; NULL is treated as "".
 * @param[out] out  set on SR_OK only.
 * @param[out] prob optional; on failure 404 "unknown path or id", or 405
 *                  with the allowed methods in prob->allow ("GET, PUT").
 * @returns SR_OK, SR_ERR_NOT_FOUND (404) or SR_ERR_INVALID (405).
 */
sr_err_t sr_http_route(const char *method, const char *path, sr_route_t *out,
                       sr_http_problem_t *prob);

/** @brief "runs_list", for logs and metric labels; static, never NULL. */
const char *sr_route_name(sr_route_id_t id);
/** @brief False for /livez, /readyz, /metrics, /openapi.json, /ui/ and the
 *  registry's paths (their token is gateway.registry.auth's). */
bool sr_route_needs_auth(sr_route_id_t id);
/** @brief True for the schema registry's paths (/schemas/..., /subjects...,
 *  /config...), which the gateway answers as a registry. */
bool sr_route_is_registry(sr_route_id_t id);
/** @brief True for the routes answering a page (…_LIST). */
bool sr_route_is_list(sr_route_id_t id);
/** @brief True for POST and PUT routes: JSON body, Content-Type checked. */
bool sr_route_has_body(sr_route_id_t id);
/** @brief True for the routes that send a command (POST, PUT, DELETE):
 *  Idempotency-Key checked. A write without a body (DELETE) takes none:
 *  sr_http_check_no_body(). */
bool sr_route_is_write(sr_route_id_t id);
/** @brief True for the routes of stored definitions (DEF_*). */
bool sr_route_is_definition(sr_route_id_t id);
/** @brief True for the body routes whose body may be absent (then with no
 *  Content-Type): a device command's resend, of which no body is used,
 *  a stored definition's DELETE (no body, or {"version": N}), and the
 *  start of a stored pipeline's run (no body, or {}). */
bool sr_route_body_optional(sr_route_id_t id);

/* ------------------------------------------------------------ queries */

#define SR_HTTP_LIMIT_DEFAULT 20u
#define SR_HTTP_LIMIT_MAX 1000u
#define SR_HTTP_OFFSET_MAX ((uint64_t)INT64_MAX)
#define SR_HTTP_MAX_ORDER 5 /* each orderable field at most once */
#define SR_HTTP_CURSOR_MAX 80 /* cursor text, NUL included */

typedef enum sr_http_order_key {
        SR_HTTP_ORDER_RUN_NUMBER = 0, /* "run_number" */
        SR_HTTP_ORDER_STATUS,         /* "status" */
        SR_HTTP_ORDER_PIPELINE_NAME,  /* "pipeline__name" */
        SR_HTTP_ORDER_STARTED_AT,     /* "started_at" */
        SR_HTTP_ORDER_ENDED_AT,       /* "ended_at" */
        SR_HTTP_ORDER_NAME,           /* "name": stored pipelines */
        SR_HTTP_ORDER__COUNT
} sr_http_order_key_t;

typedef struct sr_http_order {
        sr_http_order_key_t key;
        bool desc; /* "-" prefix */
} sr_http_order_t;

/* The parsed query of a list route. Value type: lives on the stack. */
typedef struct sr_http_query {
        uint32_t limit;      /* 0..SR_HTTP_LIMIT_MAX, default 20 */
        uint64_t offset;     /* 0..SR_HTTP_OFFSET_MAX, default 0 */
        sr_status_t status;  /* filter; SR_ST_NONE: none */
        char pipeline_name[SR_NAME_MAX]; /* filter; "": none */
        bool has_operation_id;
        sr_uuid_t stage_run_operation_id; /* filter when has_operation_id */
        uint32_t n_order;    /* 0: the route's natural order */
        sr_http_order_t order[SR_HTTP_MAX_ORDER]; /* most significant first */
        char cursor[SR_HTTP_CURSOR_MAX]; /* keyset paging; "": none */
        /* Stored definitions' filters: pipelines' `name` (exact) and
         * `default` (0: none, 1: false, 2: true; 0 so that a zeroed
         * query has no filter). */
        char name[SR_NAME_MAX];          /* "": none */
        uint8_t is_default;
        /* a stage's target lists' `type` (groups, devices, collections:
         * exactly lower case) and operations' `operation_type` (exact,
         * any case); "": none */
        char tl_type[16];
        char operation_type[SR_SHORT_MAX];
        uint32_t seen;       /* internal: keys given, to refuse repeats */
} sr_http_query_t;

/** @brief Defaults: limit 20, offset 0, no filter, no ordering. */
void sr_http_query_init(sr_http_query_t *q);

/**
 * @brief Apply one decoded query parameter for list route @p route.
 *
 * Keys the route does not define are ignored (cache busters, or "status"
 * on a route that has no status filter). An empty value is the same as an
 * absent parameter (DRF and django-filter behave so), but a key given
 * twice is refused even then.
 * @param[in,out] q   initialised with sr_http_query_init(); unspecified
 *                    after a failure.
 * @param[in] key, value borrowed, @p klen / @p vlen bytes (may contain
 *                    NUL); @p value NULL means the key had no '='.
 * @param[out] prob optional; 400 naming the key and what to fix.
 * @returns SR_OK or SR_ERR_INVALID.
 */
sr_err_t sr_http_query_add(sr_http_query_t *q, sr_route_id_t route,
                           const char *key, size_t klen, const char *value,
                           size_t vlen, sr_http_problem_t *prob);

/**
 * @brief Parse a raw query string ("limit=5&status=queued", without '?')
 * for list route @p route: split on '&', percent-decode ('+' is a space,
 * a '%' not followed by two hex digits stays literal, as in the URL
 * standard), then sr_http_query_add() each pair.
 * @param[in]  qs   borrowed, @p len bytes; NULL with len 0 is empty.
 * @param[out] out  set on SR_OK only.
 * @param[out] prob optional; 400 naming the key and what to fix.
 * @returns SR_OK or SR_ERR_INVALID.
 */
sr_err_t sr_http_query_parse(sr_route_id_t route, const char *qs, size_t len,
                             sr_http_query_t *out, sr_http_problem_t *prob);

/** @brief "pipeline__name" etc.; static, never NULL. */
const char *sr_http_order_key_name(sr_http_order_key_t key);

/* ------------------------------------------------------------ bodies */

#define SR_HTTP_BODY_MAX_DEFAULT ((size_t)1 << 20) /* 1 MiB */
#define SR_HTTP_MAX_DEPTH 32 /* nesting of arrays and objects in a body */

/**
 * @brief 415 unless @p content_type is application/json, optionally with
 * "; charset=utf-8" (any case, quoted or not). Any other parameter or
 * charset, or a missing header (NULL), is refused.
 * @param[out] prob optional; 415 with the value received.
 * @returns SR_OK or SR_ERR_INVALID.
 */
sr_err_t sr_http_check_content_type(const char *content_type,
                                    sr_http_problem_t *prob);

#define SR_HTTP_IDEM_KEY_MAX 255 /* bytes of an Idempotency-Key */

/**
 * @brief 400 unless @p key, the Idempotency-Key header of a write, is 1 to
 * SR_HTTP_IDEM_KEY_MAX visible ASCII characters ('!' to '~'), as the
 * OpenAPI document says. NULL (no header) is accepted.
 * @param[out] prob optional; 400 saying what a key may hold.
 * @returns SR_OK or SR_ERR_INVALID.
 */
sr_err_t sr_http_check_idempotency_key(const char *key,
                                       sr_http_problem_t *prob);

/**
 * @brief Load a request body that must be one JSON object: at most
 * @p max_len bytes (413; 0 means SR_HTTP_BODY_MAX_DEFAULT), nested at
 * most SR_HTTP_MAX_DEPTH deep, valid UTF-8 without NUL, no duplicate
 * keys, and no trailing data (400).
 * @param[in]  body borrowed, @p len bytes; need not be NUL-terminated.
 * @param[out] out  on SR_OK only: the caller owns the object and drops
 *                  it with json_decref().
 * @param[out] prob optional; 400, 413, or 500 when out of memory.
 * @returns SR_OK, SR_ERR_INVALID or SR_ERR_NOMEM.
 */
sr_err_t sr_http_load_object(const void *body, size_t len, size_t max_len,
                             json_t **out, sr_http_problem_t *prob);

/**
 * @brief Validate the body of a write on a target run's device command:
 * TARGET_RUN_COMMAND_CANCEL {"request_status": "cancelled"} (any case;
 * required, no other field); TARGET_RUN_COMMAND_SEND {} or no body (the
 * command sent again is the target run's own: a field of the reference's
 * free-form AndroidCommandRequest is refused, not ignored). Limits as
 * sr_http_load_object().
 * @returns SR_OK, SR_ERR_INVALID or SR_ERR_NOMEM (@p prob: 400, 413, 500).
 */
sr_err_t sr_http_parse_command_write(sr_route_id_t route, const void *body,
                                     size_t len, size_t max_len,
                                     sr_http_problem_t *prob);

/**
 * @brief 400 unless a write that takes no body (sr_route_is_write() and
 * not sr_route_has_body(): DELETE of a pipeline run) came without one:
 * @p len 0 (no Content-Length, "Content-Length: 0", or a chunked body of
 * no bytes); its Content-Type, if any, is not looked at. Other routes
 * pass whatever @p len.
 * @param[out] prob optional; 400 saying that the route takes no body.
 * @returns SR_OK or SR_ERR_INVALID.
 */
sr_err_t sr_http_check_no_body(sr_route_id_t route, size_t len,
                               sr_http_problem_t *prob);

/**
 * @brief Validate the body of POST /v0/pipelines/{id}/runs/ (start a run
 * of a stored pipeline, docs/definitions.md section 5): absent (@p len
 * 0) or {}. The run is the pipeline's definition at its current version;
 * a field (Esper's PipelineRunCreate has none that sr takes) is refused,
 * naming it, not ignored. Limits as sr_http_load_object().
 * @param[out] prob optional; 400 (not an object, malformed, a member
 *                  named), 413, or 500.
 * @returns SR_OK, SR_ERR_INVALID or SR_ERR_NOMEM.
 */
sr_err_t sr_http_parse_start_run(const void *body, size_t len,
                                 size_t max_len, sr_http_problem_t *prob);

/* Body of POST /stageruns/{id}/targetruns/ (Esper's TargetRun_POST). */
typedef struct sr_http_add_target {
        sr_uuid_t target_id;               /* required */
        bool has_device_name, has_device_alias;
        char device_name[SR_NAME_MAX];     /* 1..255 bytes when given */
        char device_alias[SR_NAME_MAX];    /* 0..255 bytes when given */
} sr_http_add_target_t;

/**
 * @brief Validate the body of POST /stageruns/{id}/targetruns/: a JSON
 * object {"target_id": uuid (required), "device_name": string or null,
 * "device_alias": string or null}; a name 1 to 255 bytes, an alias at
 * most 255; any other member refused, naming it. Limits as
 * sr_http_load_object().
 * @param[out] out  set on SR_OK only.
 * @param[out] prob optional; 400 "<field>: <what to fix>", 413, or 500.
 * @returns SR_OK, SR_ERR_INVALID or SR_ERR_NOMEM.
 */
sr_err_t sr_http_parse_add_target(const void *body, size_t len,
                                  size_t max_len, sr_http_add_target_t *out,
                                  sr_http_problem_t *prob);

/* Body of PUT on a pipeline run, a stage run or a target run. */
typedef struct sr_http_put {
        sr_status_t status; /* within the entity's PUT enum (any case) */
        bool has_device_name;            /* target runs only */
        char device_name[SR_NAME_MAX];   /* when has_device_name */
} sr_http_put_t;

/**
 * @brief Validate the body of @p route (PIPELINE_RUN_PUT: {"status"};
 * STAGE_RUN_PUT: {"status"}; TARGET_RUN_PUT: {"status", "device_name"?}).
 *
 * "status" is required and must be in the entity's enum as Esper's PUT
 * schema gives it (pipeline run §4.1; stage run §4.2; target run §4.3
 * without "timeout"), in any case. Whether the transition is legal is
 * not checked here: the worker decides. "device_name" may be a string or
 * null (null: not given). Unknown fields are refused.
 * @param[in]  body borrowed, @p len bytes; at most @p max_len (413; 0
 *                  means SR_HTTP_BODY_MAX_DEFAULT).
 * @param[out] out  set on SR_OK only.
 * @param[out] prob optional; 400 "<field>: <what to fix>", 413, or 500.
 * @returns SR_OK, SR_ERR_INVALID or SR_ERR_NOMEM.
 */
sr_err_t sr_http_parse_put(sr_route_id_t route, const void *body, size_t len,
                           size_t max_len, sr_http_put_t *out,
                           sr_http_problem_t *prob);

/**
 * @brief Validate the body of POST /v0/runs/: a run spec (sr_spec_json),
 * after the checks of sr_http_load_object(). @p max_len 0 means
 * SR_HTTP_BODY_MAX_DEFAULT; it is capped at SR_SPEC_MAX_TEXT. A
 * timeout_seconds with a zero fraction (600.0, 6e2) is an integer, as in
 * JSON Schema.
 * @param[in]  body borrowed, @p len bytes; at most @p max_len (413).
 * @param[in]  lim  borrowed: stages, operations, targets at most (400
 *                  naming the count, the limit and its configuration
 *                  key); NULL: sr_spec_limits_default().
 * @param[out] out  on SR_OK only: the caller owns what it holds and
 *                  releases it with sr_runspec_fini().
 * @param[out] prob optional; 400 "<json path>: <what to fix>", 413, 500.
 * @returns SR_OK, SR_ERR_INVALID or SR_ERR_NOMEM.
 */
sr_err_t sr_http_parse_run_spec(const void *body, size_t len, size_t max_len,
                                const sr_spec_limits_t *lim,
                                sr_runspec_t *out, sr_http_problem_t *prob);

/* Body of POST /v0/runs/{run}/stageruns/{stage_run}/targets/: one chunk
 * of an open stage's targets (docs/targets.md, section 5). */
typedef struct sr_http_append {
        uint32_t chunk;             /* 0..INT32_MAX (the command's int) */
        uint32_t n_targets;
        sr_spec_target_t *targets;  /* owned (free()); NULL when empty */
} sr_http_append_t;

/**
 * @brief Validate {"chunk": N, "targets": [...]} after the checks of
 * sr_http_load_object(): both required, no other field; each item as a
 * run spec's inline target (sr_spec_json_targets(): "targets[3].device_id:
 * ..."), at most @p max_targets of them (400 naming stage.chunk.targets).
 * An empty array is a valid chunk (the worker decides what it means).
 * @param[out] out  on SR_OK only; the caller frees out->targets.
 * @param[out] prob optional; 400 "<json path>: <what to fix>", 413, 500.
 * @returns SR_OK, SR_ERR_INVALID or SR_ERR_NOMEM.
 */
sr_err_t sr_http_parse_append(const void *body, size_t len, size_t max_len,
                              uint32_t max_targets, sr_http_append_t *out,
                              sr_http_problem_t *prob);

/* Body of POST .../stageruns/{stage_run}/targets/seal/. */
typedef struct sr_http_seal {
        uint32_t chunks;               /* 0..INT32_MAX */
        int64_t count;                 /* >= 0 */
        uint8_t digest[SR_DIGEST_LEN]; /* from 64 hex digits, any case */
} sr_http_seal_t;

/**
 * @brief Validate {"chunks": C, "count": N, "digest": "<64 hex>"}: all
 * three required, no other field. Whether they match the chunks applied
 * is the worker's to say (seal_mismatch).
 * @param[out] out  set on SR_OK only.
 * @param[out] prob optional; 400 "<field>: <what to fix>", 413, 500.
 * @returns SR_OK, SR_ERR_INVALID or SR_ERR_NOMEM.
 */
sr_err_t sr_http_parse_seal(const void *body, size_t len, size_t max_len,
                            sr_http_seal_t *out, sr_http_problem_t *prob);

/* ------------------------------------------------------------ answers */

/**
 * @brief The content of a list answer: {"count", "previous", "next",
 * "results"}, links "<base_url><path>?<query>" or null. Nothing of the
 * request but its path and the parsed query reaches a link (never its Host
 * header: a client must not be able to point links elsewhere).
 *
 * A link repeats the parameters of @p q that were given (status,
 * pipeline_name, stage_run_operation_id, ordering; ignored ones such as
 * cache busters are not echoed), always carries limit, and sets offset
 * (omitted when 0, as DRF does), in alphabetical key order.
 *   next:     offset + limit when that is below @p count, else null.
 *   previous: null at offset 0; else min(offset - limit, count - limit),
 *             floored at 0: the page before, and for an offset past the
 *             end, the last limit items.
 *   limit 0:  both null (a count-only question has no pages).
 * @param[in] base_url borrowed; "" (or NULL) for links relative to the
 *                     server root ("/v0/runs/?limit=20&offset=20"), or the
 *                     configured gateway.public.url without its trailing
 *                     slash ("https://sr.example.com/base"): a checked URL,
 *                     copied as is (bytes a URL may not hold are
 *                     percent-encoded).
 * @param[in] path     the request's path (borrowed), e.g. "/v0/runs/".
 * @param[in] results  the page's items; this function takes the
 *                     reference, on failure too.
 * @returns a new reference the caller owns (json_decref()), or NULL when
 *          out of memory or @p results is not an array.
 */
json_t *sr_http_page(const char *base_url, const char *path,
                     const sr_http_query_t *q, uint64_t count,
                     json_t *results);

/**
 * @brief sr_http_page() for a list that pages by cursor (keyset): next is
 * the link "?cursor=<next_cursor>&limit=..." (the filters and ordering
 * repeated, no offset) when @p next_cursor is non-empty, else null;
 * previous is as sr_http_page() says for an offset request and null for
 * a cursor request (a cursor walks forward only). @p next_cursor NULL:
 * exactly sr_http_page().
 * @param[in] next_cursor borrowed; lowercase hex (the projection's).
 */
json_t *sr_http_page_keyset(const char *base_url, const char *path,
                            const sr_http_query_t *q, uint64_t count,
                            const char *next_cursor, json_t *results);

/**
 * @brief The envelope text {"code":<code>,"message":<message>,
 * "content":<content>}, compact, keys in that order.
 * @param[in]  message borrowed; bytes that are not UTF-8 become U+FFFD.
 * @param[in]  content borrowed; NULL gives {}.
 * @param[out] out on SR_OK only: NUL-terminated text (len excludes the
 *                 NUL); the caller owns it and frees it with sr_buf_free().
 * @returns SR_OK or SR_ERR_NOMEM.
 */
sr_err_t sr_http_envelope(int code, const char *message,
                          const json_t *content, sr_buf_t *out);

/**
 * @brief The envelope of a refused request: code prob->status, its
 * message, content {}.
 * @param[out] out as for sr_http_envelope().
 * @returns SR_OK or SR_ERR_NOMEM.
 */
sr_err_t sr_http_problem_envelope(const sr_http_problem_t *prob,
                                  sr_buf_t *out);

#endif /* SR_HTTP_H */
