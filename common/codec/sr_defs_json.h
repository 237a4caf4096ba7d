/* common/codec/sr_defs_json.h - stored pipeline definitions as JSON: the
 * request bodies of the definition routes into sr_defcmd_t, the bulk body
 * of targets-bulk, and the entities as Esper Pipelines v0 JSON objects
 * (docs/definitions.md sections 2-4 and 8; reference sections 3 and 6).
 *
 * Bodies follow docs/api-decisions.md ("Bodies", "Messages"): a JSON
 * object, no duplicate keys (refused), nesting <= SR_DEFS_JSON_MAX_DEPTH;
 * an unknown field is refused with the list of allowed ones; a wrong type
 * names the field and the expected type ("timeout_seconds: expected an
 * integer from 1 to 315360000 (seconds), got \"x\""); client input echoed
 * is printable ASCII (other bytes \xNN), shortened after 40 bytes. Every
 * message starts with the field it is about, as sr_spec_json's do, and
 * every refusal is SR_ERR_INVALID (SR_ERR_NOMEM when out of memory).
 *
 * Decisions of this module (the project's rules leave them open):
 * - Read-only fields: the fields of the entity's answer that a body cannot
 *   set (id, enterprise_id, the audit fields, parents' ids, is_valid, ...;
 *   "version" on a create) are accepted with any value and ignored, as
 *   Django REST Framework does, so a client may PUT back a whole entity it
 *   read (docs/definitions.md section 4). They are listed per body below.
 * - null for an optional field is the field absent (no has_ flag); null
 *   for a required one is a wrong type ("expected a string, got null").
 * - Names (name, device_name): trimmed of ASCII white space, then 1..255
 *   bytes, no control character (C0, DEL, C1). device_alias: the same but
 *   may be empty. description: at most 255 bytes, as written.
 *   jansson refuses text that is not UTF-8.
 * - target_list_type and operation_type are taken in any case and stored
 *   upper case (operation types canonical, sr_spec_operation_type()).
 * - A create sets every has_ flag of its family (absent fields take
 *   Esper's defaults: pipeline is_active true, is_default false,
 *   timeout_seconds 86400, description ""; stage description "";
 *   operation list description ""; operation args NULL = {}), so the rules
 *   see full values; except a stage's has_order and has_timeout_seconds,
 *   set only when given (omitted: the rules take the largest order + 1,
 *   and the stage-run default, stored as 0; a given timeout is 1 or more).
 * - "version" (integer 1..4294967295, our extension) is read on every
 *   update (a Put with create false, UpdateTarget) and every delete
 *   (DeletePipeline, DeleteStage, DeleteTargetList, DetachTargetList,
 *   RemoveTarget, UnlinkDeviceGroup, DeleteOperationList,
 *   DeleteOperation): has_expected_version. A delete's body is empty or an
 *   object of "version" alone.
 * - args and device_meta are kept as written (docs/api-decisions.md,
 *   "Bodies": the bytes of the object without the whitespace outside
 *   strings), at most SR_DEFS_JSON_MAX_ARGS bytes each.
 *
 * Pure: no I/O, no clock, no logging; thread-safe. Calls no function of
 * sr_defs.c (its enum names are tables of this file).
 */
#ifndef SR_DEFS_JSON_H
#define SR_DEFS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sr_defs.h"
#include "sr_err.h"
#include "sr_model.h"

#define SR_DEFS_JSON_MAX_DEPTH 32      /* as the gateway's bodies */
#define SR_DEFS_JSON_MAX_ARGS 65536    /* = SR_SPEC_MAX_ARGS */
#define SR_DEFS_JSON_MAX_TIMEOUT 315360000 /* = SR_SPEC_MAX_TIMEOUT */
#define SR_DEFS_JSON_MAX_ORDER 2147483647  /* Esper's int32 */
#define SR_DEFS_JSON_PIPELINE_TIMEOUT 86400 /* create default */

/**
 * @brief Parse the body of one definition write into @p cmd.
 *
 * The caller fills command_id, enterprise_id, issued_at, pipeline_id,
 * kind, create and the path ids of the union (stage_id, target_list_id,
 * ...) first; this writes only the body's fields of u.<kind> and
 * has_expected_version/expected_version, and only on SR_OK (on a refusal
 * @p cmd is unchanged). @p kind and @p create are cmd->kind and
 * cmd->create; they choose the body:
 *
 * - PUT_PIPELINE, create: Pipeline_POST {name*, description, is_active,
 *   is_default, timeout_seconds}; update: Pipeline_PUT, the same all
 *   optional, + version. Read-only: id, enterprise_id, is_valid,
 *   is_visible, is_archived, created_by, updated_by, created_at,
 *   updated_at, deleted_at.
 * - PUT_STAGE: Stage_POST / Stage_PUT {name* (create), description,
 *   timeout_seconds, order}. Read-only: id, enterprise_id, pipeline_id,
 *   the audit fields.
 * - PUT_TARGET_LIST: {name*, target_list_type*} (both required on create;
 *   on update has_type when given: the rules decide whether the type may
 *   change). Read-only: id, pipeline_id, the audit fields.
 * - ATTACH_TARGET_LIST: {target_list_id*} into u.attach.target_list_id.
 * - ADD_TARGETS: Target_POST {device_id*, device_name*, device_alias,
 *   is_active (default true)} as u.add.items, one item (malloc'd; the
 *   caller owns it). Read-only: id, pipeline_id, target_list_id, audit.
 * - UPDATE_TARGET: Target_PUT {device_name, is_active} + version.
 *   Read-only: id, pipeline_id, target_list_id, device_id, device_alias,
 *   device_meta, args, the audit fields.
 * - LINK_DEVICE_GROUP: {device_group_id*}. Read-only: id, target_list_id,
 *   the audit fields.
 * - PUT_OPERATION_LIST: {name* (create), description, pipeline_id}:
 *   pipeline_id, when given, must be cmd->pipeline_id (unless that is
 *   nil) and is not stored. Read-only: id, stage_id, the audit fields.
 * - PUT_OPERATION: {operation_type* (create), args (object)}. Read-only:
 *   id, operation_list_id, pipeline_id, the audit fields.
 * - the deletes: no body, or {version}.
 * - START_PIPELINE_RUN: no body, or {}.
 *
 * RUN_ENDED has no body (SR_ERR_INVALID, "body: RunEnded takes no
 * body"). Owned results (u.add.items, u.op.args_json) are malloc'd; the
 * caller frees them (sr_defcmd_fini()).
 *
 * @param body borrowed, @p len bytes, need not be NUL-terminated; NULL or
 *             len 0 is "no body".
 * @param ec   optional; on failure "<field>: <what to fix>".
 * @returns SR_OK, SR_ERR_INVALID or SR_ERR_NOMEM.
 */
sr_err_t sr_defs_json_parse(sr_defcmd_kind_t kind, bool create,
                            const char *body, size_t len, sr_defcmd_t *cmd,
                            sr_errctx_t *ec);

/* ------------------------------------------------------------ bulk */

/* One item of a targets-bulk body that was left out. */
typedef struct sr_defs_bulk_error {
        uint32_t index;        /* in the body's array */
        bool has_device_id;    /* false: answered null */
        char device_id[64];    /* as written (canonical when a UUID),
                                * cut at 60 bytes on a character boundary */
        char message[256];     /* "device_id: expected a UUID string, ..." */
} sr_defs_bulk_error_t;

/* The valid items of a targets-bulk body, in body order, and the errors
 * of the others, in index order. */
typedef struct sr_defs_bulk {
        uint32_t n_items;
        sr_defcmd_target_t *items; /* owned, with what each item owns */
        uint32_t *index;           /* owned: items[i] is body[index[i]] */
        uint32_t n_errors;
        sr_defs_bulk_error_t *errors; /* owned */
} sr_defs_bulk_t;

/**
 * @brief Parse the body of POST …/targets-bulk/ (docs/definitions.md
 * section 8): an array whose items are device-id strings or objects
 * {device_id*, device_name, device_alias, device_meta (object), args
 * (object), is_active (default true)} (the two forms may be mixed; the
 * read-only fields of a Target are ignored as in Target_POST). An item
 * that is not valid (not a UUID, a name over 255 bytes, a wrong type, an
 * unknown field, a device already earlier in the body, ...) is left out
 * and reported in out->errors; the others are kept. device_name may be
 * absent here (empty), as Esper's bulk allows.
 * @param max_items gateway.bulk.max.items: a longer array refuses the
 *                  whole body ("body: 12 items, at most 10 per call
 *                  (gateway.bulk.max.items)"); 0: no limit.
 * @param out       set on SR_OK only; release with sr_defs_bulk_fini().
 * @returns SR_OK (also when every item is an error), SR_ERR_INVALID (not
 *          JSON, not an array, too many items) or SR_ERR_NOMEM.
 */
sr_err_t sr_defs_json_bulk(const char *body, size_t len, uint32_t max_items,
                           sr_defs_bulk_t *out, sr_errctx_t *ec);

/** @brief Free what @p b owns and zero it. NULL ok. */
void sr_defs_bulk_fini(sr_defs_bulk_t *b);

/** @brief The list filter `type` (groups|devices|collections, exactly
 *  lower case). @returns false when @p s is none of them. */
bool sr_defs_json_type_filter(const char *s, size_t len, sr_tl_type_t *out);

/** @brief A target list type as Esper writes it (DEVICES, GROUPS,
 *  COLLECTIONS); NULL when @p t is none of them. */
const char *sr_defs_json_type_name(sr_tl_type_t t);

/* ------------------------------------------------------------ entities
 *
 * As sr_entity_json.h: field order of the reference, ids as strings, times
 * ISO-8601 with milliseconds (null when 0), created_by/updated_by null,
 * "version" included, bad UTF-8 shown as U+FFFD. Empty descriptions and
 * aliases are "" (an empty string is what was written). Each returns a new
 * reference the caller owns (json_decref()), or NULL when out of memory
 * (or, for args and device_meta, when the stored text is not a JSON
 * object: a damaged record, answer 500). Parents the entity does not hold
 * are parameters.
 */

/** Pipeline: id, enterprise_id, name, description, is_active, is_valid
 *  (@p is_valid; NULL: null, the caller computes it when it can),
 *  is_visible (true), is_archived (deleted_at != 0), is_default,
 *  timeout_seconds, created_by, updated_by, created_at, updated_at,
 *  version, deleted_at (null when not deleted). */
json_t *sr_json_def_pipeline(const sr_def_pipeline_t *p,
                             const bool *is_valid);

/** Stage: id, enterprise_id, pipeline_id, name, description,
 *  timeout_seconds (null when 0: the stage-run default), order, audit,
 *  version. */
json_t *sr_json_def_stage(const sr_def_stage_t *s, const char *enterprise_id,
                          const sr_uuid_t *pipeline_id);

/** TargetList: id, pipeline_id, name, target_list_type, audit, version. */
json_t *sr_json_def_target_list(const sr_def_target_list_t *l,
                                const sr_uuid_t *pipeline_id);

/** Target: id, pipeline_id, target_list_id, device_id, device_name,
 *  device_alias, is_active, device_meta (object or null), args (object or
 *  null), audit, version. */
json_t *sr_json_def_target(const sr_def_target_t *t,
                           const sr_uuid_t *pipeline_id);

/** TargetListDeviceGroup: id, pipeline_id (extension, as a Target's),
 *  device_group_id, target_list_id, audit, version. */
json_t *sr_json_def_group_link(const sr_def_group_link_t *g,
                               const sr_uuid_t *pipeline_id);

/** Device, as Esper's device-group devices list answers it (reference
 *  section 3.5): id, device_name and alias_name from the directory's
 *  member record (alias null when none); serial, template_name,
 *  manufacturer, android_version, api_level, is_gms, is_active, model and
 *  esper_client null: the directory does not carry them. */
json_t *sr_json_group_device(const sr_def_group_member_t *m);

/** OperationList: id, pipeline_id, stage_id, name, description, audit,
 *  version. */
json_t *sr_json_def_oplist(const sr_def_oplist_t *o,
                           const sr_uuid_t *pipeline_id);

/** Operation: id, operation_list_id, pipeline_id, operation_type, args
 *  (the stored object; {} when NULL), audit, version. */
json_t *sr_json_def_operation(const sr_def_operation_t *x,
                              const sr_uuid_t *pipeline_id);

/** The bulk answer's content: {created_count, added_count, skipped_count,
 *  errors: [{index, device_id (or null), message}]} (@p b NULL: no
 *  errors). */
json_t *sr_json_def_bulk_answer(uint32_t created, uint32_t added,
                                uint32_t skipped, const sr_defs_bulk_t *b);

#endif /* SR_DEFS_JSON_H */
