/* common/domain/sr_defs.h - stored pipeline definitions: the pipeline
 * aggregate and its owner's rules (docs/definitions.md, sections 1-5, 7).
 *
 * Pure, as the state machine of runs (sr_fsm.h): no I/O, no clock (the
 * input's timestamp is a parameter), no configuration of its own, no
 * logging. One definition command is applied to one aggregate, the
 * pipeline and everything under it except its targets (section 1: a
 * target is an entity of its own, read by key, so no input loads a whole
 * list); the result is a reply (accepted, or refused with a reason and a
 * message that names the value, the entity and what to do) and the list
 * of entity changes, in order, from which the caller writes one changelog
 * record and one definition event per change. A refusal changes nothing.
 *
 * On the wire since 2026-12-07 (common/codec/sr_codec_defs.c): the
 * commands as Command version 5, the records as ChangelogRecord version 3,
 * the reply's part as CommandReply version 2, the events as
 * DefinitionChanged on <prefix>definition-events; the codec's Esper JSON
 * for them is sr_defs_json.h. The worker's path, the gateway's projection
 * and routes are the next step of issue 15's phase A (docs/definitions.md,
 * section 9).
 */
#ifndef SR_DEFS_H
#define SR_DEFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sr_err.h"
#include "sr_model.h"

/* ------------------------------------------------------------ entities */

/* The kinds of definition entity, with their changelog key letters
 * (`P<pipeline_id>/<letter>/<id>`, docs/definitions.md section 2). */
#define SR_DEF_KIND_MAP(X)                                              \
        X(PIPELINE, "pipeline", 'p')                                    \
        X(STAGE, "stage", 's')                                          \
        X(TARGET_LIST, "target_list", 'l')                              \
        X(ATTACHMENT, "attachment", 'a')                                \
        X(OPERATION_LIST, "operation_list", 'o')                        \
        X(OPERATION, "operation", 'x')                                  \
        X(GROUP_LINK, "device_group_link", 'g')                         \
        X(ACTIVE_RUN, "active_run", 'r')                                \
        X(TARGET, "target", 't')

typedef enum sr_def_kind {
#define SR_DEF_KIND_ENUM(name, text, letter) SR_DEF_##name,
        SR_DEF_KIND_MAP(SR_DEF_KIND_ENUM)
#undef SR_DEF_KIND_ENUM
        SR_DEF__COUNT
} sr_def_kind_t;

/** @brief "pipeline", "stage", ... (the event's entity_type). Static;
 *  NULL when out of range. */
const char *sr_def_kind_name(sr_def_kind_t k);
/** @brief The key letter of @p k ('p', 's', ...); 0 when out of range. */
char sr_def_kind_letter(sr_def_kind_t k);

/* Esper's target_list_type (create enum; the list filter takes them in
 * lower case). */
typedef enum sr_tl_type {
        SR_TL_DEVICES = 0,
        SR_TL_GROUPS,
        SR_TL_COLLECTIONS,
        SR_TL__COUNT
} sr_tl_type_t;

/** @brief "DEVICES", "GROUPS", "COLLECTIONS". Static; NULL out of range. */
const char *sr_tl_type_name(sr_tl_type_t t);
/** @brief Parse @p s (exactly upper case when @p upper, else exactly
 *  lower case, as the list filter `type`). @returns false when unknown. */
bool sr_tl_type_parse(const char *s, bool upper, sr_tl_type_t *out);

/* What every definition entity records beside its own fields. version
 * starts at 1 and grows by one per change; the times are the applying
 * input's timestamps (ms since the epoch). Esper's created_by/updated_by
 * are user ids we do not have (answered null). */
typedef struct sr_def_audit {
        uint32_t version;
        int64_t created_at;
        int64_t updated_at;
} sr_def_audit_t;

typedef struct sr_def_pipeline {
        sr_uuid_t id;
        char enterprise_id[SR_SHORT_MAX];
        char name[SR_NAME_MAX];
        char description[SR_NAME_MAX];
        bool is_active;          /* create default true */
        bool is_default;         /* create default false */
        int64_t timeout_seconds; /* create default 86400 */
        int64_t deleted_at;      /* 0: not deleted (section 7) */
        /* Runs started from this pipeline so far: StartPipelineRun numbers
         * a run with it (section 2), so two gateways never give one
         * number twice. */
        uint64_t runs_started;
        /* The last definition event's seq (gapless per pipeline). */
        uint64_t last_seq;
        /* Creation order counter: each new entity of the aggregate takes
         * the next value as its ordinal, so the aggregate loaded from its
         * records has its arrays in the order the rules appended them
         * (sr_defs_loaded): an input applied again after a restore meets
         * the same order (cascades, resolve). runs_started, last_seq and
         * next_ordinal are the owner's bookkeeping: they change without a
         * new version or a change record of the pipeline (see
         * sr_defs_apply). */
        uint64_t next_ordinal;
        sr_def_audit_t a;
} sr_def_pipeline_t;

typedef struct sr_def_stage {
        sr_uuid_t id;
        char name[SR_NAME_MAX];
        char description[SR_NAME_MAX];
        int64_t timeout_seconds; /* 0: the stage-run default (7 days) */
        uint32_t order;          /* >= 1, unique in the pipeline */
        uint64_t ordinal;        /* creation order (sr_defs_loaded) */
        sr_def_audit_t a;
} sr_def_stage_t;

typedef struct sr_def_target_list {
        sr_uuid_t id;
        char name[SR_NAME_MAX];
        sr_tl_type_t type;
        uint64_t ordinal;   /* creation order */
        /* Fields of the list's record: a command that changes a count
         * makes the list a new version with a change record, after its
         * targets' or links' records. */
        uint32_t n_targets; /* DEVICES: targets in the list (kept by the
                             * rules from AddTargets/RemoveTarget) */
        uint32_t n_groups;  /* GROUPS: device-group links */
        sr_def_audit_t a;
} sr_def_target_list_t;

/* A target list attached to a stage; id = UUID v5 of (stage, list). */
typedef struct sr_def_attachment {
        sr_uuid_t id;
        sr_uuid_t stage_id;
        sr_uuid_t target_list_id;
        uint64_t ordinal; /* creation order */
        sr_def_audit_t a;
} sr_def_attachment_t;

typedef struct sr_def_oplist {
        sr_uuid_t id;
        sr_uuid_t stage_id;
        char name[SR_NAME_MAX];
        char description[SR_NAME_MAX];
        uint64_t ordinal; /* creation order */
        sr_def_audit_t a;
} sr_def_oplist_t;

typedef struct sr_def_operation {
        sr_uuid_t id;
        sr_uuid_t operation_list_id;
        char operation_type[SR_SHORT_MAX];
        char *args_json; /* owned; JSON object text; NULL means "{}" */
        uint64_t ordinal; /* creation order */
        sr_def_audit_t a;
} sr_def_operation_t;

/* A device group linked to a GROUPS list (phase C resolves its members). */
typedef struct sr_def_group_link {
        sr_uuid_t id; /* UUID v5 of (list, group) */
        sr_uuid_t target_list_id;
        sr_uuid_t device_group_id;
        uint64_t ordinal; /* creation order */
        sr_def_audit_t a;
} sr_def_group_link_t;

/* A member of a device group of the directory (docs/definitions.md
 * section 6), as the gateway's projection pages it and the group
 * commands carry it; device_alias "" when none. */
typedef struct sr_def_group_member {
        sr_uuid_t group_id;
        sr_uuid_t device_id;
        char device_name[SR_NAME_MAX];
        char device_alias[SR_NAME_MAX];
} sr_def_group_member_t;

/* A run started from the pipeline and not ended (section 3, "Runs in
 * progress"): the stages it uses cannot be deleted, and while it is
 * filling the pipeline's target writes are refused run_starting. */
typedef struct sr_def_active_run {
        sr_uuid_t run_id;
        uint64_t definition_seq; /* the pipeline's last_seq at its start */
        bool filling;
        uint64_t ordinal; /* creation order */
        uint32_t n_stage_ids;
        sr_uuid_t *stage_ids; /* owned */
        sr_def_audit_t a;
} sr_def_active_run_t;

/* A target: not part of the aggregate (read by key); the type is here for
 * the rules of AddTargets/UpdateTarget/RemoveTarget, which take the
 * targets the command names as the caller read them. */
typedef struct sr_def_target {
        sr_uuid_t id; /* UUID v5 of (target_list_id, device_id) */
        sr_uuid_t target_list_id;
        sr_uuid_t device_id;
        char device_name[SR_NAME_MAX];
        char device_alias[SR_NAME_MAX];
        bool is_active;
        char *device_meta_json; /* owned; NULL: none */
        char *args_json;        /* owned; NULL: none */
        sr_def_audit_t a;
} sr_def_target_t;

/* The aggregate: one pipeline and its children, arrays owned, each kept in
 * creation order (stages also by order through sr_defs_stages_by_order).
 * exists false: no such pipeline (every array empty). */
typedef struct sr_defs {
        bool exists;
        sr_def_pipeline_t p;
        uint32_t n_stages, n_lists, n_attachments, n_oplists, n_operations,
                n_group_links, n_active_runs;
        sr_def_stage_t *stages;
        sr_def_target_list_t *lists;
        sr_def_attachment_t *attachments;
        sr_def_oplist_t *oplists;
        sr_def_operation_t *operations;
        sr_def_group_link_t *group_links;
        sr_def_active_run_t *active_runs;
} sr_defs_t;

/** @brief Free everything @p d owns and zero it. NULL ok. */
void sr_defs_fini(sr_defs_t *d);
/** @brief Free what a target owns (not @p t itself). NULL ok. */
void sr_def_target_fini(sr_def_target_t *t);

/* ------------------------------------------------------------ commands */

#define SR_DEFCMD_MAP(X)                                                \
        X(PUT_PIPELINE, "PutPipeline")                                  \
        X(DELETE_PIPELINE, "DeletePipeline")                            \
        X(PUT_STAGE, "PutStage")                                        \
        X(DELETE_STAGE, "DeleteStage")                                  \
        X(PUT_TARGET_LIST, "PutTargetList")                             \
        X(DELETE_TARGET_LIST, "DeleteTargetList")                       \
        X(ATTACH_TARGET_LIST, "AttachTargetList")                       \
        X(DETACH_TARGET_LIST, "DetachTargetList")                       \
        X(ADD_TARGETS, "AddTargets")                                    \
        X(UPDATE_TARGET, "UpdateTarget")                                \
        X(REMOVE_TARGET, "RemoveTarget")                                \
        X(LINK_DEVICE_GROUP, "LinkDeviceGroup")                         \
        X(UNLINK_DEVICE_GROUP, "UnlinkDeviceGroup")                     \
        X(PUT_OPERATION_LIST, "PutOperationList")                       \
        X(DELETE_OPERATION_LIST, "DeleteOperationList")                 \
        X(PUT_OPERATION, "PutOperation")                                \
        X(DELETE_OPERATION, "DeleteOperation")                          \
        X(START_PIPELINE_RUN, "StartPipelineRun")                       \
        X(RUN_ENDED, "RunEnded")                                        \
        X(FILL_STEP, "FillStep")

typedef enum sr_defcmd_kind {
#define SR_DEFCMD_ENUM(name, text) SR_DEFCMD_##name,
        SR_DEFCMD_MAP(SR_DEFCMD_ENUM)
#undef SR_DEFCMD_ENUM
        SR_DEFCMD__COUNT
} sr_defcmd_kind_t;

/** @brief "PutPipeline", ... (the command's record name). Static; NULL
 *  out of range. */
const char *sr_defcmd_name(sr_defcmd_kind_t k);

/* One item of AddTargets (section 2: at most definition.chunk.targets). */
typedef struct sr_defcmd_target {
        sr_uuid_t device_id;
        char device_name[SR_NAME_MAX];
        char device_alias[SR_NAME_MAX];
        bool is_active;
        char *device_meta_json; /* owned; NULL: none */
        char *args_json;        /* owned; NULL: none */
} sr_defcmd_target_t;

/* A definition command. A Put of an existing entity (create false) is a
 * partial update: only the fields whose has_ flag is set change (Esper's
 * PUT bodies are all optional). On create (create true) the absent
 * fields take Esper's defaults. */
typedef struct sr_defcmd {
        sr_defcmd_kind_t kind;
        sr_uuid_t command_id;
        char enterprise_id[SR_SHORT_MAX];
        int64_t issued_at;
        sr_uuid_t pipeline_id; /* the key: every command names it */
        bool has_expected_version; /* section 4: refused stale_version */
        uint32_t expected_version; /* of the entity the command names */
        bool create;
        union {
                struct {
                        bool has_name, has_description, has_is_active,
                                has_is_default, has_timeout_seconds;
                        char name[SR_NAME_MAX];
                        char description[SR_NAME_MAX];
                        bool is_active, is_default;
                        int64_t timeout_seconds;
                } pipeline;
                struct {
                        sr_uuid_t stage_id;
                        bool has_name, has_description,
                                has_timeout_seconds, has_order;
                        char name[SR_NAME_MAX];
                        char description[SR_NAME_MAX];
                        int64_t timeout_seconds;
                        uint32_t order;
                } stage; /* PUT_STAGE, DELETE_STAGE (stage_id only) */
                struct {
                        sr_uuid_t target_list_id;
                        bool has_name, has_type;
                        char name[SR_NAME_MAX];
                        sr_tl_type_t type;
                } list; /* PUT/DELETE_TARGET_LIST */
                struct {
                        sr_uuid_t stage_id;
                        sr_uuid_t target_list_id;
                } attach; /* ATTACH/DETACH_TARGET_LIST */
                struct {
                        sr_uuid_t target_list_id;
                        uint32_t chunk_index;
                        uint32_t n_items;
                        sr_defcmd_target_t *items; /* owned */
                } add; /* ADD_TARGETS */
                struct {
                        sr_uuid_t target_list_id;
                        sr_uuid_t target_id;
                        bool has_device_name, has_is_active;
                        char device_name[SR_NAME_MAX];
                        bool is_active;
                } target; /* UPDATE_TARGET, REMOVE_TARGET */
                struct {
                        sr_uuid_t target_list_id;
                        sr_uuid_t device_group_id;
                } group; /* LINK/UNLINK_DEVICE_GROUP */
                struct {
                        sr_uuid_t stage_id;
                        sr_uuid_t operation_list_id;
                        bool has_name, has_description;
                        char name[SR_NAME_MAX];
                        char description[SR_NAME_MAX];
                } oplist; /* PUT/DELETE_OPERATION_LIST */
                struct {
                        sr_uuid_t operation_list_id;
                        sr_uuid_t operation_id;
                        bool has_operation_type, has_args;
                        char operation_type[SR_SHORT_MAX];
                        char *args_json; /* owned; NULL: "{}" */
                } op; /* PUT/DELETE_OPERATION */
                struct {
                        sr_uuid_t pipeline_run_id;
                        sr_status_t status; /* RUN_ENDED only */
                } run; /* START_PIPELINE_RUN, RUN_ENDED */
                /* FILL_STEP (Command version 6): the pipeline's owner to
                 * its own partition, one step of a run's fill
                 * (docs/definitions.md section 5): the cursor of one
                 * stage's pass over the pipeline's targets. */
                struct {
                        sr_uuid_t pipeline_run_id;
                        uint32_t stage_index; /* in the run (its order) */
                        sr_uuid_t after; /* last target key passed; nil:
                                            from the first */
                        uint32_t chunk;  /* the stage's next chunk index */
                        uint64_t count;  /* targets sent in the stage */
                        /* SHA-256 over the chunks' digests so far, as
                         * sr_fill_state_t's bytes (sr_defs.h): the eight
                         * state words big-endian, then the last chunk's
                         * digest when the count of chunks is odd. */
                        uint32_t seal_state_len; /* 32 or 64 */
                        uint8_t seal_state[64];
                        /* The source passed (Command version 8): 0 the
                         * pipeline's DEVICES targets, k >= 1 the copy of
                         * the stage's k-th linked device group
                         * (sr_defs_linked_groups() order). */
                        uint32_t source;
                } fill;
        } u;
} sr_defcmd_t;

/** @brief Free what @p c owns (not @p c itself). NULL ok. */
void sr_defcmd_fini(sr_defcmd_t *c);

/* ------------------------------------------------------------ applying */

/* What the rules take from the configuration (NULL: all zero = no limit). */
typedef struct sr_defs_opts {
        /* run.max.stages (stages per pipeline), stage.max.operations
         * (operations over a stage's operation lists), stage.max.targets
         * (DEVICES targets over a stage's attached lists, before group
         * expansion); 0 = no limit. */
        sr_spec_limits_t max;
        /* definition.chunk.targets: most items in one AddTargets. */
        uint32_t chunk_targets;
} sr_defs_opts_t;

/* One entity change, in the order the caller writes them. For a target
 * the new record is in sr_defs_out_t.targets[target_index]. */
typedef enum sr_def_change {
        SR_DEF_CREATED = 0,
        SR_DEF_UPDATED,
        SR_DEF_DELETED
} sr_def_change_t;

/** @brief "created", "updated", "deleted". Static; NULL out of range. */
const char *sr_def_change_name(sr_def_change_t c);

typedef struct sr_def_change_rec {
        sr_def_kind_t kind;
        sr_uuid_t id;
        /* The direct parent: the pipeline of a stage, target list or
         * active run; the stage of an operation list or attachment; the
         * operation list of an operation; the list of a target or
         * device-group link; nil for the pipeline. */
        sr_uuid_t parent_id;
        sr_def_change_t change;
        /* The entity's version after the change; a deleted entity's
         * tombstone carries its last version + 1. */
        uint32_t version;
        uint64_t seq;        /* its definition event's seq */
        int32_t target_index; /* TARGET: index in out->targets, else -1 */
} sr_def_change_rec_t;

/* What one command did. accepted false: reason and message say why, and
 * the aggregate and the targets are unchanged. */
typedef struct sr_defs_out {
        bool accepted;
        sr_reject_t reason;
        char message[SR_NAME_MAX];
        /* The entity the command named, and its version after it (the
         * reply's version; on stale_version the current one). */
        sr_def_kind_t entity_kind;
        sr_uuid_t entity_id;
        uint32_t entity_version;
        /* ADD_TARGETS: Esper's counts (created and added are equal here:
         * a target record is its list membership; skipped: already in). */
        uint32_t created, added, skipped;
        uint32_t n_changes, cap_changes;
        sr_def_change_rec_t *changes; /* owned */
        /* Target records to write (ADD/UPDATE/REMOVE_TARGET): owned. */
        uint32_t n_targets, cap_targets;
        sr_def_target_t *targets;
} sr_defs_out_t;

/** @brief Free what @p out owns and zero it. NULL ok. */
void sr_defs_out_fini(sr_defs_out_t *out);

/* The targets a target command names, as the caller read them by key
 * before the rules run: for ADD_TARGETS found[i] is the stored target of
 * items[i] (NULL: not in the list); for UPDATE/REMOVE_TARGET found[0]. */
typedef struct sr_defs_targets_in {
        uint32_t n;
        const sr_def_target_t *const *found;
} sr_defs_targets_in_t;

/**
 * Apply one definition command to its pipeline's aggregate.
 *
 * Every change record takes the pipeline's next seq (last_seq), so after
 * an accepted command with changes (n_changes > 0) the caller writes the
 * pipeline record too, even when it is not among the changes: last_seq,
 * next_ordinal and runs_started are kept on it without a version (a
 * client's read-modify-write of the pipeline does not go stale because a
 * stage was added or a run started). An accepted command without changes
 * (a retried create, a second attach, a Put that changes nothing, a late
 * RunEnded) changes nothing at all.
 *
 * Deleting: a stage takes its attachments, operation lists and their
 * operations with it (children first, creation order); a target list its
 * attachments and device-group links, but a DEVICES list that holds
 * targets is refused in_use (its targets are not in the aggregate and
 * no input may load them: remove them first); the pipeline is soft-deleted
 * (deleted_at), its children kept. Under a deleted pipeline every command
 * is refused pipeline_deleted except RUN_ENDED.
 *
 * START_PIPELINE_RUN: the caller resolves the run (sr_defs_resolve) on
 * the aggregate before applying it; after it the new run's fill is in
 * progress and the resolution is refused run_starting. The run's number
 * is d->p.runs_started after an accepted start that created the run.
 *
 * @param d      the aggregate of cmd->pipeline_id (exists false when the
 *               pipeline is unknown); changed in place only when accepted.
 * @param cmd    the command (its enterprise_id must be the pipeline's,
 *               else not_found, as for another tenant's run).
 * @param tin    the targets the command names (target commands), or NULL.
 * @param now    the input's timestamp (ms): audit times, deleted_at.
 * @param opts   limits; NULL: none.
 * @param out    zeroed by the caller, or reused after sr_defs_out_fini.
 * @returns SR_OK (accepted or refused: see out), SR_ERR_NOMEM (nothing
 *          changed), SR_ERR_INVALID (nothing changed) for a caller's bug:
 *          a command kind out of range, an aggregate of another pipeline,
 *          an ADD_TARGETS whose @p tin does not hold one entry per item.
 */
sr_err_t sr_defs_apply(sr_defs_t *d, const sr_defcmd_t *cmd,
                       const sr_defs_targets_in_t *tin, int64_t now,
                       const sr_defs_opts_t *opts, sr_defs_out_t *out);

/** @brief The active run @p run of @p d, NULL when there is none. */
const sr_def_active_run_t *sr_defs_active_run(const sr_defs_t *d,
                                              const sr_uuid_t *run);

/**
 * The fill of @p run is complete (its last stage sealed): the run stops
 * filling, so the pipeline's target writes and new runs are accepted
 * again. One change (the active run's update) into @p out, as
 * sr_defs_apply() gives them; the caller writes it and the pipeline's
 * record.
 * @returns SR_OK; SR_ERR_NOT_FOUND when @p run is not active or not
 *          filling (nothing changed); SR_ERR_NOMEM (nothing changed).
 */
sr_err_t sr_defs_fill_done(sr_defs_t *d, const sr_uuid_t *run, int64_t now,
                           sr_defs_out_t *out);

/* ------------------------------------------------------------ records */

/* One changelog record of a definition entity (ChangelogRecord version 3,
 * docs/definitions.md section 2): the entity's own fields with its
 * pipeline and enterprise, under the key sr_def_key(kind, pipeline_id,
 * id). A tombstone (null value) deletes it. The pipeline's record also
 * carries the owner's bookkeeping (last_seq, next_ordinal, runs_started). */
typedef struct sr_def_record {
        sr_def_kind_t kind;
        sr_uuid_t pipeline_id;
        char enterprise_id[SR_SHORT_MAX];
        union {
                sr_def_pipeline_t pipeline;
                sr_def_stage_t stage;
                sr_def_target_list_t list;
                sr_def_attachment_t attachment;
                sr_def_oplist_t oplist;
                sr_def_operation_t operation;   /* args_json owned */
                sr_def_group_link_t group_link;
                sr_def_active_run_t active_run; /* stage_ids owned */
                sr_def_target_t target;         /* its strings owned */
        } u;
} sr_def_record_t;

/** @brief Free what @p r owns (not @p r itself). NULL ok. */
void sr_def_record_fini(sr_def_record_t *r);

/** @brief The id of the entity @p r holds (the pipeline's for a
 *  pipeline, the run's for an active run). */
const sr_uuid_t *sr_def_record_id(const sr_def_record_t *r);

/**
 * @brief Add the entity of record @p r to aggregate @p d, as loaded from
 * the store (records of one pipeline in any order; the pipeline's own
 * record sets d->exists and d->p). Ownership of what @p r owns moves to
 * @p d (r is zeroed). Arrays are kept in creation order: after the last
 * record, call sr_defs_loaded(). A target record is not part of the
 * aggregate: SR_ERR_INVALID.
 * @returns SR_OK, SR_ERR_NOMEM (r untouched), SR_ERR_INVALID.
 */
sr_err_t sr_defs_load_record(sr_defs_t *d, sr_def_record_t *r);
/** @brief Sort what sr_defs_load_record() added into creation order
 *  (created_at, then id: the order the rules appended them). */
void sr_defs_loaded(sr_defs_t *d);

/**
 * @brief The record to write for change @p c of an accepted command:
 * the entity as it is now in @p d (or out->targets[c->target_index] for a
 * target). @p out is deep-copied (the caller frees it with
 * sr_def_record_fini). For SR_DEF_DELETED the caller writes a tombstone
 * instead, except for the pipeline (soft-deleted: its record stays).
 * @returns SR_OK, SR_ERR_NOT_FOUND (the entity is no longer in @p d: a
 *          tombstone), SR_ERR_NOMEM.
 */
sr_err_t sr_defs_record_of(const sr_defs_t *d, const sr_defs_out_t *o,
                           const sr_def_change_rec_t *c,
                           sr_def_record_t *out);

/* Keys on sr.changelog and in the store (section 2): "P<pipeline>/<letter>/
 * <id>" for an entity, "P<pipeline>/d/<command id>" for a definition
 * command's dedupe entry. The first byte is not a hex digit, so no run's
 * key ("<run>/...") is ever one of them. 76 bytes, no NUL. */
#define SR_DEF_KEY_LEN (1 + SR_UUID_STR_LEN + 3 + SR_UUID_STR_LEN)

/** @brief "P<pipeline>/": the prefix of every key of a pipeline (39
 *  bytes, no NUL). @returns its length. */
size_t sr_def_key_prefix(const sr_uuid_t *pipeline,
                         char out[SR_DEF_KEY_LEN]);
/** @brief The key of entity @p id of kind @p k. @returns SR_DEF_KEY_LEN. */
size_t sr_def_key(sr_def_kind_t k, const sr_uuid_t *pipeline,
                  const sr_uuid_t *id, char out[SR_DEF_KEY_LEN]);
/** @brief The dedupe key of definition command @p command_id. */
size_t sr_def_dedupe_key(const sr_uuid_t *pipeline,
                         const sr_uuid_t *command_id,
                         char out[SR_DEF_KEY_LEN]);
/**
 * @brief Parse a definition key. @p kind is the entity's kind, or
 * SR_DEF__COUNT for a dedupe key. @returns false when @p key is not a
 * definition key (any run key included).
 */
bool sr_def_key_parse(const char *key, size_t len, sr_uuid_t *pipeline,
                      sr_def_kind_t *kind, sr_uuid_t *id);

/* ------------------------------------------------------------ events */

/* One definition event (definition_event.avsc, DefinitionChanged, topic
 * <prefix>definition-events keyed by pipeline id; section 2): one per
 * change record, seq gapless per pipeline. */
typedef struct sr_def_event {
        sr_uuid_t event_id; /* sr_def_event_id(pipeline_id, seq) */
        uint64_t seq;
        sr_uuid_t pipeline_id;
        char enterprise_id[SR_SHORT_MAX];
        sr_def_kind_t entity_type;
        sr_uuid_t entity_id;
        sr_uuid_t parent_id; /* nil: none (the pipeline itself) */
        sr_def_change_t change;
        uint32_t version;
        int64_t occurred_at;  /* the command's timestamp */
        sr_uuid_t causation_id; /* the command's id */
} sr_def_event_t;

/** @brief UUID v5 of "<pipeline>/definition/<seq>" (the run events'
 *  "<run>/event/<seq>" with another word, so no two ids meet). */
void sr_def_event_id(const sr_uuid_t *pipeline, uint64_t seq,
                     sr_uuid_t *out);

/* ------------------------------------------------------------ reading */

const sr_def_stage_t *sr_defs_stage(const sr_defs_t *d, const sr_uuid_t *id);
const sr_def_target_list_t *sr_defs_list(const sr_defs_t *d,
                                         const sr_uuid_t *id);
const sr_def_oplist_t *sr_defs_oplist(const sr_defs_t *d, const sr_uuid_t *id);
const sr_def_operation_t *sr_defs_operation(const sr_defs_t *d,
                                            const sr_uuid_t *id);

/** @brief The stages' indexes in @p d->stages sorted by order, into
 *  @p idx (room for d->n_stages). */
void sr_defs_stages_by_order(const sr_defs_t *d, uint32_t *idx);

/** @brief The id of the CreateRun of a run started from stored pipeline
 *  @p pipeline: UUID v5 of "<pipeline>/run/<run>/start". Only the
 *  pipeline's owner sends it (a gateway's command ids are v4, or v5 of
 *  other names), so the run's owner knows such a run by its
 *  created_by_command and tells the pipeline when it ends (RunEnded). */
void sr_def_start_command_id(const sr_uuid_t *pipeline, const sr_uuid_t *run,
                             sr_uuid_t *out);

/** @brief UUID v5 ids of the derived entities: an attachment (stage,
 *  list), a group link (list, group), a target (list, device). */
void sr_def_attachment_id(const sr_uuid_t *stage, const sr_uuid_t *list,
                          sr_uuid_t *out);
void sr_def_group_link_id(const sr_uuid_t *list, const sr_uuid_t *group,
                          sr_uuid_t *out);
void sr_def_target_id(const sr_uuid_t *list, const sr_uuid_t *device,
                      sr_uuid_t *out);

/**
 * Resolve the aggregate into the skeleton of a run (section 5): stages in
 * order, each with its operation lists' operations (list creation order,
 * then operation creation order), no targets, every stage open
 * (append_targets) when it has a target list attached. Refused (false,
 * @p why set) for a deleted pipeline, a stage with a COLLECTIONS list
 * (not_supported, naming the list) or a fill in progress (run_starting).
 * @p spec is filled on success (caller frees it with sr_runspec_fini).
 */
bool sr_defs_resolve(const sr_defs_t *d, sr_runspec_t *spec,
                     sr_reject_t *reason, char *why, size_t why_len);

#endif /* SR_DEFS_H */
