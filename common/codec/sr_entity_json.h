/* common/codec/sr_entity_json.h - run entities as Esper Pipelines v0 JSON objects.
 *
 * Field names follow the Esper reference (§3.8-3.11) plus the project's
 * "version" (and "auto_promote" on pipeline runs). Statuses are lower case,
 * times are ISO-8601 UTC with milliseconds ("2026-11-28T16:00:00.123Z") and
 * null when 0, nil ids and empty command statuses are null. Strings that
 * are not valid UTF-8 are rendered with U+FFFD in place of the bad bytes
 * rather than failing, so one damaged record cannot break a whole list.
 * Pure: no I/O, no clock, no logging; thread-safe.
 */
#ifndef SR_ENTITY_JSON_H
#define SR_ENTITY_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sr_err.h"
#include "sr_model.h"
#include "sr_slice.h"

/* "2026-11-28T16:00:00.123Z" plus the NUL. */
#define SR_JSON_TIME_MAX 25

/**
 * @brief Format @p ms (milliseconds since the Unix epoch, UTC) as
 * "YYYY-MM-DDTHH:MM:SS.mmmZ". Negative times (before 1970) are allowed.
 * @param[out] out written on success only.
 * @returns false when the year falls outside 0000..9999.
 */
bool sr_json_time_fmt(int64_t ms, char out[SR_JSON_TIME_MAX]);

/**
 * @brief A time as a JSON value: the formatted string, or null when @p ms
 * is 0 ("not set") or outside the years 0000..9999.
 * @returns a new reference the caller owns (json_decref()), or NULL when
 *          out of memory.
 */
json_t *sr_json_time(int64_t ms);

/**
 * @brief A UUID as a JSON string; a nil UUID gives null when
 * @p nil_is_null, else "00000000-0000-0000-0000-000000000000".
 * @returns a new reference the caller owns, or NULL when out of memory.
 */
json_t *sr_json_uuid(const sr_uuid_t *u, bool nil_is_null);

/**
 * @brief A JSON string from @p len bytes of @p s (borrowed), with every
 * byte sequence that is not valid UTF-8 replaced by U+FFFD.
 * @returns a new reference the caller owns, or NULL when out of memory.
 */
json_t *sr_json_string_lossy(const char *s, size_t len);

/**
 * @brief Esper PipelineRun: id, enterprise_id, run_number, pipeline_id,
 * pipeline_name, status, status_meta {reason}, created_by, updated_by,
 * created_at, updated_at, started_at, ended_at, version, auto_promote.
 * @param[in] pr borrowed; not modified.
 * @returns a new reference the caller owns (json_decref()), or NULL when
 *          out of memory.
 */
json_t *sr_json_pipeline_run(const sr_pipeline_run_t *pr);

/**
 * @brief Esper StageRun: id, enterprise_id, pipeline_id, pipeline_run_id,
 * stage_id, stage_meta {name, description, created_by}, status,
 * status_meta {reason}, created_by, updated_by, created_at, updated_at,
 * started_at, ended_at, version; for an open stage only (append_targets,
 * docs/targets.md) then targets {append: true, expected (null when not
 * said), appended, chunks, sealed}.
 * @param[in] sr borrowed; not modified.
 * @returns a new reference the caller owns, or NULL when out of memory.
 */
json_t *sr_json_stage_run(const sr_stage_run_t *sr);

/**
 * @brief Esper StageRunOperation: id, operation_type, args (the stored
 * args text embedded as a JSON object; {} when NULL), created_by,
 * updated_by, created_at, updated_at (the operation is frozen, so equal to
 * created_at), stage_run_id, version.
 * @param[in] op borrowed; not modified.
 * @returns a new reference the caller owns, or NULL when out of memory or
 *          when op->args_json is not the text of a JSON object (a damaged
 *          record: answer 500).
 */
json_t *sr_json_stage_run_op(const sr_stage_run_op_t *op);

/**
 * @brief Esper TargetRun: id, target_id, device_id, device_name,
 * device_alias, stage_run_id, stage_run_operation_id, command_id (null
 * when nil), command_status (null when empty), command_meta {}, status,
 * status_meta {reason}, created_by, updated_by, created_at, updated_at,
 * started_at, ended_at, version.
 * @param[in] tr borrowed; not modified.
 * @returns a new reference the caller owns, or NULL when out of memory.
 */
json_t *sr_json_target_run(const sr_target_run_t *tr);

/**
 * @brief Compact JSON text of @p v (any value, not only objects), keys in
 * insertion order.
 * @param[in]  v   borrowed; not modified.
 * @param[out] out on SR_OK only: NUL-terminated text (len excludes the
 *                 NUL); the caller owns it and frees it with sr_buf_free().
 * @returns SR_OK, SR_ERR_INVALID (@p v NULL) or SR_ERR_NOMEM.
 */
sr_err_t sr_json_dump(const json_t *v, sr_buf_t *out);

#endif /* SR_ENTITY_JSON_H */
