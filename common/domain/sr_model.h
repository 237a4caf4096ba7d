/* common/domain/sr_model.h - the domain's value types: statuses, ids, the run spec,
 * the entities of a run, and the records that travel on Kafka.
 *
 * Plain C values shared by the state machine (sr_fsm), the codecs (sr_codec)
 * and the store (sr_store). Short strings are fixed arrays so entities can be
 * copied by assignment; the few variable-length parts (operation args, the
 * run spec's arrays) are heap-owned and documented per field.
 * Times are milliseconds since the Unix epoch; 0 means "not set" (null).
 */
#ifndef SR_MODEL_H
#define SR_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SR_NAME_MAX 256   /* names, descriptions, device names, incl. NUL */
#define SR_SHORT_MAX 64   /* enterprise id, reasons, command statuses */

/* ---------------------------------------------------------------- ids */

typedef struct sr_uuid {
        uint8_t b[16];
} sr_uuid_t;

#define SR_UUID_STR_LEN 36 /* without the NUL */

/** The project's UUID v5 namespace for derived ids (see sr_model.c). */
extern const sr_uuid_t sr_ns;

/** @brief True when every byte is zero (our "null id"). */
bool sr_uuid_is_nil(const sr_uuid_t *u);
bool sr_uuid_eq(const sr_uuid_t *a, const sr_uuid_t *b);
/** @brief Lower-case canonical text into @p out (37 bytes incl. NUL). */
void sr_uuid_fmt(const sr_uuid_t *u, char out[SR_UUID_STR_LEN + 1]);
/** @brief The 36 characters of sr_uuid_fmt() without the NUL (into an
 *  encoder's buffer, say). */
void sr_uuid_hex(const sr_uuid_t *u, char out[SR_UUID_STR_LEN]);
/**
 * @brief @p v in decimal, zero-padded to at least @p width digits: printf's
 * "%0*" PRIu64 without printf (keys, event ids and timestamps on the hot
 * path). No NUL. Returns the characters written (at most max(20, width)).
 */
size_t sr_put_uint(char *out, uint64_t v, size_t width);
/** @brief Parse canonical text (any case). @returns false if malformed. */
bool sr_uuid_parse(const char *s, size_t len, sr_uuid_t *out);
/**
 * @brief UUID v5 (SHA-1) of @p ns and the formatted name: deterministic ids.
 * Names used by the project are listed in sr_model.c.
 */
void sr_uuid_v5(sr_uuid_t *out, const sr_uuid_t *ns, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/**
 * @brief The event id of @p run's event @p seq: sr_uuid_v5(out, &sr_ns,
 * "<run>/event/<seq>") without printf (one per event: the hot path).
 */
void sr_uuid_event_id(sr_uuid_t *out, const sr_uuid_t *run, uint64_t seq);
/**
 * @brief The target id of an open stage's target given without one:
 * sr_uuid_v5(out, &sr_ns, "<run>/stage/<stage>/device/<device>/target").
 * The state machine names the target runs' targets so, and the gateway
 * lists appended targets by it before those target runs exist.
 */
void sr_uuid_open_target_id(sr_uuid_t *out, const sr_uuid_t *run,
                            uint32_t stage, const sr_uuid_t *device);
/** @brief A random (v4) id, for command ids of new writes. Not for fsm. */
void sr_uuid_v4(sr_uuid_t *out);

/* ---------------------------------------------------------- statuses */

#define SR_STATUS_MAP(X)                                                \
        X(NONE, "none")                                                 \
        X(PENDING, "pending")                                           \
        X(QUEUED, "queued")                                             \
        X(PROCESSING, "processing")                                     \
        X(RUNNING, "running")                                           \
        X(WAITING, "waiting")                                           \
        X(DISPATCHED, "dispatched")                                     \
        X(COMPLETE, "complete")                                         \
        X(SUCCESS, "success")                                           \
        X(FAILURE, "failure")                                           \
        X(CANCELLED, "cancelled")                                       \
        X(TIMEOUT, "timeout")                                           \
        X(INVALID, "invalid")

typedef enum sr_status {
#define SR_STATUS_ENUM(name, text) SR_ST_##name,
        SR_STATUS_MAP(SR_STATUS_ENUM)
#undef SR_STATUS_ENUM
        SR_ST__COUNT
} sr_status_t;

/** @brief Lower-case wire name ("none" for SR_ST_NONE). */
const char *sr_status_name(sr_status_t st);
/** @brief Case-insensitive parse; @returns false for unknown text. */
bool sr_status_parse(const char *s, size_t len, sr_status_t *out);
/** @brief success, failure, cancelled, timeout, invalid. */
bool sr_status_is_terminal(sr_status_t st);

/* Device command statuses as reported in results. */
#define SR_CMDST_MAP(X)                                                 \
        X(QUEUED, "QUEUED")                                             \
        X(INITIATED, "INITIATED")                                       \
        X(ACKNOWLEDGED, "ACKNOWLEDGED")                                 \
        X(INPROGRESS, "INPROGRESS")                                     \
        X(SUCCESS, "SUCCESS")                                           \
        X(FAILED, "FAILED")                                             \
        X(FAILURE, "FAILURE")                                           \
        X(TIMEOUT, "TIMEOUT")                                           \
        X(CANCELLED, "CANCELLED")                                       \
        X(ERROR, "ERROR")

typedef enum sr_cmdst {
#define SR_CMDST_ENUM(name, text) SR_CMDST_##name,
        SR_CMDST_MAP(SR_CMDST_ENUM)
#undef SR_CMDST_ENUM
        SR_CMDST__COUNT
} sr_cmdst_t;

const char *sr_cmdst_name(sr_cmdst_t cs);
/** @brief Case-insensitive parse; unknown text is a poison input. */
bool sr_cmdst_parse(const char *s, size_t len, sr_cmdst_t *out);

typedef enum sr_entity_type {
        SR_ENT_PIPELINE_RUN = 0,
        SR_ENT_STAGE_RUN,
        SR_ENT_STAGE_RUN_OPERATION,
        SR_ENT_TARGET_RUN,
        SR_ENT__COUNT
} sr_entity_type_t;

/** @brief "pipeline_run", "stage_run", "stage_run_operation", "target_run" */
const char *sr_entity_type_name(sr_entity_type_t t);
bool sr_entity_type_parse(const char *s, size_t len, sr_entity_type_t *out);

/* ------------------------------------------------------------ run spec */

#define SR_DIGEST_LEN 32 /* SHA-256: a chunk's and a seal's digest */

typedef struct sr_spec_op {
        char operation_type[SR_SHORT_MAX];
        char *args_json; /* owned; JSON object text; NULL means "{}" */
} sr_spec_op_t;

typedef struct sr_spec_target {
        sr_uuid_t target_id;  /* nil: derived */
        sr_uuid_t device_id;
        char device_name[SR_NAME_MAX];
        char device_alias[SR_NAME_MAX];
} sr_spec_target_t;

typedef struct sr_spec_stage {
        sr_uuid_t stage_id; /* nil: derived */
        char name[SR_NAME_MAX];
        char description[SR_NAME_MAX];
        int64_t timeout_seconds; /* 0: default (7 days) */
        uint32_t n_ops;
        sr_spec_op_t *ops;         /* owned, n_ops */
        uint32_t n_targets;
        sr_spec_target_t *targets; /* owned, n_targets */
        /* An open stage (Command v2): no inline targets; they come in
         * AppendTargets chunks closed by SealTargets (docs/targets.md). */
        bool append_targets;
        int64_t expected_targets; /* informative, 0 = not said */
} sr_spec_stage_t;

#define SR_SPEC_MAX_TEXT (4u << 20) /* bytes of a run spec's JSON text */

/* Stages per run, operations and targets per stage: configuration keys
 * run.max.stages, stage.max.operations, stage.max.targets (sr_conf.c),
 * these defaults; each key at most its CEIL. A whole spec travels as one
 * body of at most SR_SPEC_MAX_TEXT bytes and one command of at most
 * command.max.bytes, so the text bounds the counts: the smallest target,
 * {"device_id":"<uuid>"} and a comma, is SR_SPEC_MIN_TARGET_TEXT bytes,
 * so no body holds more than SR_SPEC_CEIL_TARGETS targets (79,137). */
#define SR_SPEC_DEFAULT_STAGES 100
#define SR_SPEC_DEFAULT_OPS 16
#define SR_SPEC_DEFAULT_TARGETS 100000
#define SR_SPEC_CEIL_STAGES 10000
#define SR_SPEC_CEIL_OPS 1024
#define SR_SPEC_MIN_TARGET_TEXT 53
#define SR_SPEC_CEIL_TARGETS (SR_SPEC_MAX_TEXT / SR_SPEC_MIN_TARGET_TEXT)
/* An open stage's targets come in chunks: neither the text nor a command
 * bounds them, only stage.max.targets, itself at most this. */
#define SR_SPEC_MAX_STAGE_TARGETS 10000000

/* The count limits a run spec is held to (value type). */
typedef struct sr_spec_limits {
        uint32_t stages;  /* per run (run.max.stages) */
        uint32_t ops;     /* per stage (stage.max.operations) */
        uint32_t targets; /* per stage (stage.max.targets) */
} sr_spec_limits_t;

/** @brief The defaults: 100 stages, 16 operations, 100,000 targets. */
static inline sr_spec_limits_t sr_spec_limits_default(void)
{
        return (sr_spec_limits_t){ SR_SPEC_DEFAULT_STAGES, SR_SPEC_DEFAULT_OPS,
                                   SR_SPEC_DEFAULT_TARGETS };
}

typedef struct sr_runspec {
        sr_uuid_t pipeline_id;
        char pipeline_name[SR_NAME_MAX];
        bool auto_promote;
        int64_t timeout_seconds; /* 0: default (21 days) */
        uint32_t n_stages;
        sr_spec_stage_t *stages; /* owned, n_stages */
} sr_runspec_t;

/** @brief Free everything the spec owns (not @p spec itself). NULL ok. */
void sr_runspec_fini(sr_runspec_t *spec);
/** @brief Deep copy. @returns false on allocation failure (dst untouched). */
bool sr_runspec_copy(sr_runspec_t *dst, const sr_runspec_t *src);
/** @brief Deep copies of spec arrays; *dst NULL when n is 0.
 *  @returns false on allocation failure (nothing allocated then). */
bool sr_spec_ops_copy(sr_spec_op_t **dst, const sr_spec_op_t *src,
                      uint32_t n);
bool sr_spec_targets_copy(sr_spec_target_t **dst, const sr_spec_target_t *src,
                          uint32_t n);
/** @brief A stable 64-bit hash of every field: duplicate-create check. */
uint64_t sr_runspec_hash(const sr_runspec_t *spec);

/* ------------------------------------------------------------ entities */

/* Fields every status-carrying entity has. */
typedef struct sr_meta {
        sr_uuid_t id;
        sr_status_t status;
        char reason[SR_SHORT_MAX]; /* status_meta.reason, "" = none */
        int64_t created_at, updated_at, started_at, ended_at;
        uint32_t version; /* +1 on every change of the entity */
        int64_t deadline; /* timeout instant, 0 = none (internal) */
} sr_meta_t;

typedef struct sr_pipeline_run {
        sr_meta_t m;
        sr_uuid_t pipeline_id;
        char pipeline_name[SR_NAME_MAX];
        char enterprise_id[SR_SHORT_MAX];
        int32_t run_number;
        bool auto_promote;
        int64_t timeout_seconds; /* as given, 0 = default */
        uint32_t n_stages;
        uint64_t last_seq;  /* seq of the last event of this run */
        int64_t next_deadline; /* earliest deadline of any non-terminal
                                  entity of the run, 0 = none (internal) */
        uint64_t spec_hash; /* sr_runspec_hash of the create command */
        sr_uuid_t created_by_command;
} sr_pipeline_run_t;

typedef struct sr_stage_run {
        sr_meta_t m;
        sr_uuid_t pipeline_run_id, pipeline_id, stage_id;
        char enterprise_id[SR_SHORT_MAX];
        uint32_t index; /* 0-based position in the pipeline */
        char name[SR_NAME_MAX];        /* stage_meta.name */
        char description[SR_NAME_MAX]; /* stage_meta.description */
        int64_t timeout_seconds;       /* as given, 0 = default */
        int64_t queued_at;
        /* The frozen spec of this stage, materialised when processed. */
        uint32_t n_ops;
        sr_spec_op_t *ops; /* owned */
        uint32_t n_targets;
        sr_spec_target_t *targets; /* owned */
        /* An open stage (docs/targets.md, section 3): no inline targets;
         * they arrive in AppendTargets chunks (the run's sr_stage_chunk_t,
         * counted here) and the stage is materialised from them once it is
         * processing and sealed. All zero for an inline stage; changelog
         * version 2 fields (a closed stage's record stays version 1). */
        bool append_targets;
        int64_t expected_targets; /* as given, informative, 0 = not said */
        uint32_t chunks_applied;   /* distinct chunk indexes applied */
        uint32_t targets_appended; /* items of those chunks */
        bool sealed;
        uint32_t seal_chunks, seal_count; /* as sealed */
        uint8_t seal_digest[SR_DIGEST_LEN];
} sr_stage_run_t;

/* One applied AppendTargets chunk of an open stage: stored under
 * "<run>/k/SSSS/CCCCCC" (sr_chunk_key()), changelog version 2's
 * StageChunk. Not an event entity: no status, no events. */
typedef struct sr_stage_chunk {
        sr_uuid_t pipeline_run_id;
        uint32_t stage_index, chunk;
        uint8_t digest[SR_DIGEST_LEN]; /* sr_targets_digest() of targets */
        uint32_t n_targets;
        sr_spec_target_t *targets; /* owned, n_targets */
} sr_stage_chunk_t;

/** @brief Free what the chunk owns (its targets). NULL ok. */
void sr_stage_chunk_fini(sr_stage_chunk_t *c);

typedef struct sr_stage_run_op {
        sr_uuid_t id;
        sr_uuid_t pipeline_run_id, stage_run_id;
        uint32_t stage_index, index;
        char operation_type[SR_SHORT_MAX];
        char *args_json; /* owned */
        int64_t created_at;
        uint32_t version;
} sr_stage_run_op_t;

typedef struct sr_target_run {
        sr_meta_t m;
        sr_uuid_t pipeline_run_id, stage_run_id, stage_run_operation_id;
        uint32_t stage_index, op_index, target_index;
        sr_uuid_t target_id, device_id;
        char device_name[SR_NAME_MAX];
        char device_alias[SR_NAME_MAX];
        sr_uuid_t command_id;                /* device command, nil = none */
        char command_status[SR_SHORT_MAX];   /* last reported, "" = none */
        bool cancel_requested;               /* a cancel request was sent */
} sr_target_run_t;

/* One entity as stored in LMDB and on sr.changelog. */
typedef struct sr_entity {
        sr_entity_type_t type;
        union {
                sr_pipeline_run_t pr;
                sr_stage_run_t sr;
                sr_stage_run_op_t op;
                sr_target_run_t tr;
        } u;
} sr_entity_t;

/** @brief Free what the entity owns (stage spec, op args). */
void sr_entity_fini(sr_entity_t *e);

/* ------------------------------------------------------------ inputs */

typedef enum sr_cmd_kind {
        SR_CMD_CREATE_RUN = 0,
        SR_CMD_SET_PIPELINE_RUN_STATUS,
        SR_CMD_SET_STAGE_RUN_STATUS,
        SR_CMD_SET_TARGET_RUN_STATUS,
        SR_CMD_TIMER_FIRED,
        /* Command v2 (docs/targets.md): an open stage's chunks, its seal,
         * and the steps of a fill or cascade. */
        SR_CMD_APPEND_TARGETS,
        SR_CMD_SEAL_TARGETS,
        SR_CMD_STAGE_STEP,
        /* Command v3 (docs/definitions.md section 9, phase D): a client's
         * cancel or resend of a target run's device command. */
        SR_CMD_TARGET_COMMAND,
        /* Command v4 (docs/definitions.md section 7): a client's delete
         * of a finished run. */
        SR_CMD_DELETE_RUN,
        /* Command v5 (docs/definitions.md section 2): a definition command,
         * keyed by its pipeline id (pipeline_run_id holds it), applied by
         * the rules of sr_defs.h, never by the state machine of runs. */
        SR_CMD_DEFINITION,
        /* Command v7 (docs/definitions.md section 9, phase D): a client
         * adds a device to a running stage run (its payload branch comes
         * after version 5's and 6's definition branches). */
        SR_CMD_ADD_TARGET_RUN,
        /* Command v8 (docs/definitions.md section 6): a device-group
         * command (the directory's, keyed by the group, and a run-start
         * snapshot's), applied by the rules of sr_groups.h; its payload
         * branches come after AddTargetRun's. */
        SR_CMD_GROUP,
        SR_CMD__COUNT
} sr_cmd_kind_t;

struct sr_defcmd; /* sr_defs.h */
struct sr_grpcmd; /* sr_groups.h */

typedef struct sr_command {
        sr_cmd_kind_t kind;
        sr_uuid_t command_id;
        sr_uuid_t pipeline_run_id;
        char enterprise_id[SR_SHORT_MAX];
        int64_t issued_at;
        union {
                struct {
                        sr_runspec_t spec; /* owned */
                        int32_t run_number;
                } create;
                struct { /* SET_*_STATUS */
                        sr_uuid_t entity_id; /* nil for the pipeline run */
                        char status[SR_SHORT_MAX]; /* as sent, any case */
                        char device_name[SR_NAME_MAX]; /* target run only */
                } set;
                struct {
                        sr_entity_type_t entity_type;
                        sr_uuid_t entity_id;
                        int64_t deadline;
                } timer;
                struct {
                        uint32_t stage_index, chunk;
                        uint32_t n_targets;
                        sr_spec_target_t *targets; /* owned, n_targets */
                        /* Not on the wire: sr_targets_digest() of the
                         * items, set by the decoder for the rules. */
                        uint8_t digest[SR_DIGEST_LEN];
                } append;
                struct {
                        uint32_t stage_index, chunks;
                        int64_t count;
                        uint8_t digest[SR_DIGEST_LEN];
                } seal;
                struct {
                        uint32_t stage_index, cursor;
                        char step[SR_SHORT_MAX]; /* "fill", "cancel", ... */
                } step;
                struct {
                        sr_uuid_t target_run_id, command_id;
                        char action[SR_SHORT_MAX]; /* "cancel", "resend" */
                } tcmd;
                struct {
                        sr_uuid_t pipeline_id; /* the path's */
                } del;
                struct {
                        sr_uuid_t stage_run_id, target_id, device_id;
                        char device_name[SR_NAME_MAX];
                        char device_alias[SR_NAME_MAX]; /* "" = none */
                } add;
                /* owned (sr_command_fini frees it); its pipeline_id is
                 * the command's pipeline_run_id, its command_id,
                 * enterprise_id and issued_at the command's */
                struct sr_defcmd *def;
                /* owned (sr_command_fini frees it), as def */
                struct sr_grpcmd *grp;
        } u;
} sr_command_t;

void sr_command_fini(sr_command_t *cmd);

typedef struct sr_result {
        sr_uuid_t result_id;
        sr_uuid_t pipeline_run_id, stage_run_id, target_run_id;
        sr_uuid_t command_id;
        char command_status[SR_SHORT_MAX]; /* as sent */
        sr_uuid_t device_id;
        char device_name[SR_NAME_MAX];
        int64_t reported_at;
} sr_result_t;

/* ------------------------------------------------------------ outputs */

typedef struct sr_event {
        sr_uuid_t event_id; /* v5(pipeline_run_id, seq) */
        sr_uuid_t pipeline_run_id;
        uint64_t seq;
        sr_entity_type_t entity_type;
        sr_uuid_t entity_id;
        sr_uuid_t pipeline_id;
        sr_uuid_t stage_run_id;           /* nil when not applicable */
        sr_uuid_t stage_run_operation_id; /* nil when not applicable */
        sr_uuid_t device_id;              /* target runs only */
        sr_status_t from_status;          /* SR_ST_NONE on creation */
        sr_status_t to_status;
        char reason[SR_SHORT_MAX];
        int64_t occurred_at;
        sr_uuid_t causation_id;
        char enterprise_id[SR_SHORT_MAX];
        uint32_t version;
} sr_event_t;

typedef enum sr_dispatch_kind {
        SR_DISPATCH_COMMAND = 0,
        SR_DISPATCH_CANCEL,
} sr_dispatch_kind_t;

typedef struct sr_dispatch {
        sr_dispatch_kind_t kind;
        sr_uuid_t command_id;
        sr_uuid_t pipeline_run_id, stage_run_id, target_run_id;
        sr_uuid_t device_id;
        char device_name[SR_NAME_MAX];
        char operation_type[SR_SHORT_MAX];
        const char *args_json; /* borrowed from the run; NULL = "{}" */
        char enterprise_id[SR_SHORT_MAX];
        int64_t issued_at;
} sr_dispatch_t;

/* A retired pipeline run (docs/guarantee.md, "Retention"): what is left
 * of it once its entities and dedupe entries are deleted, until
 * forget_at. Stored under "<run>/r" and on sr.changelog (RetiredRun). */
typedef struct sr_retired {
        sr_uuid_t pipeline_run_id;
        char enterprise_id[SR_SHORT_MAX];
        sr_uuid_t pipeline_id;
        int64_t ended_at;   /* latest ended_at of the run and its children */
        int64_t retired_at; /* the retirement deadline */
        int64_t forget_at;  /* retired_at + retention.inputs; 0 = never */
} sr_retired_t;

#define SR_REJECT_MAP(X)                                                \
        X(NONE, "none")                                                 \
        X(NOT_FOUND, "not_found")                                       \
        X(ILLEGAL_TRANSITION, "illegal_transition")                     \
        X(INVALID_VALUE, "invalid_value")                               \
        X(DUPLICATE_SPEC, "duplicate_spec")                             \
        X(TENANT, "tenant_mismatch")                                    \
        X(TOO_LARGE, "too_large")                                       \
        X(INTERNAL, "internal_error")                                   \
        X(RUN_RETIRED, "run_retired")                                   \
        /* open stages (docs/targets.md, section 3) */                  \
        X(CHUNK_CONFLICT, "chunk_conflict")                             \
        X(DUPLICATE_TARGET, "duplicate_target")                         \
        X(TOO_MANY_TARGETS, "too_many_targets")                         \
        X(SEALED, "sealed")                                             \
        X(SEAL_MISMATCH, "seal_mismatch")                               \
        X(STALE_STAGE, "stale_stage")                                   \
        /* stored definitions (docs/definitions.md, section 2) */        \
        X(STALE_VERSION, "stale_version")                               \
        X(NAME_TAKEN, "name_taken")                                     \
        X(ORDER_TAKEN, "order_taken")                                   \
        X(IN_USE, "in_use")                                             \
        X(NOT_SUPPORTED, "not_supported")                               \
        X(RUN_STARTING, "run_starting")                                 \
        X(PIPELINE_DELETED, "pipeline_deleted")                         \
        X(WRONG_TYPE, "wrong_type")

typedef enum sr_reject {
#define SR_REJECT_ENUM(name, text) SR_REJECT_##name,
        SR_REJECT_MAP(SR_REJECT_ENUM)
#undef SR_REJECT_ENUM
        SR_REJECT__COUNT
} sr_reject_t;

const char *sr_reject_name(sr_reject_t r);

typedef struct sr_version_ref {
        sr_entity_type_t entity_type;
        sr_uuid_t entity_id;
        uint32_t version;
} sr_version_ref_t;

#define SR_REPLY_MAX_VERSIONS 8

/* What a definition command's reply adds (Reply version 2, written only
 * when has_def; docs/definitions.md section 2): the entity the command
 * named and its version after it (on stale_version the current one), the
 * pipeline's last definition seq after it (a gateway's read of the
 * pipeline at that seq or later shows every change of the command), and
 * AddTargets' counts. entity_kind is an sr_def_kind_t (sr_defs.h). */
typedef struct sr_reply_def {
        int entity_kind;
        sr_uuid_t entity_id;
        uint32_t version;
        uint64_t seq;
        uint32_t created, added, skipped;
} sr_reply_def_t;

typedef struct sr_reply {
        sr_uuid_t command_id;
        sr_uuid_t pipeline_run_id; /* a definition command's: its pipeline */
        bool accepted;
        sr_reject_t reason;
        char message[SR_NAME_MAX];
        uint32_t n_versions;
        sr_version_ref_t versions[SR_REPLY_MAX_VERSIONS];
        int64_t occurred_at;
        bool has_def;
        sr_reply_def_t def; /* valid when has_def */
} sr_reply_t;

#endif /* SR_MODEL_H */
