/* workers/cli/recjson.h - the project's records as JSON values, field for
 * field as in the schemas/ .avsc files: ids as canonical UUID text (a nil id as
 * null), statuses and enums as lower-case text (dispatch kinds as in the
 * schema), times as integer ms since the epoch (0 stays 0), run specs in
 * the run-spec JSON shape (sr_spec_json). Used by `sr-cli dump` and by the
 * state-machine replay driver (tests/tools/fsm_replay.c).
 *
 * Every function returns a new reference the caller owns (json_decref()),
 * or NULL when out of memory. Pure; thread-safe.
 */
#ifndef SR_RECJSON_H
#define SR_RECJSON_H

#include <stddef.h>

#include <jansson.h>

#include "sr_codec.h"
#include "sr_model.h"

json_t *sr_recjson_uuid(const sr_uuid_t *u); /* nil: null */
json_t *sr_recjson_command(const sr_command_t *cmd);
json_t *sr_recjson_result(const sr_result_t *res);
json_t *sr_recjson_event(const sr_event_t *ev);
json_t *sr_recjson_dispatch(const sr_dispatch_t *d);
json_t *sr_recjson_reply(const sr_reply_t *r);
json_t *sr_recjson_changelog(const sr_changelog_t *cl);
/* A definition event (DefinitionChanged, <prefix>definition-events). */
json_t *sr_recjson_def_event(const sr_def_event_t *ev);

/** @brief Standard base64 (with padding) of @p n bytes; NULL on OOM.
 *  The caller frees the text with free(). */
char *sr_recjson_base64(const void *p, size_t n);

/** @brief A JSON string of @p n bytes when they are UTF-8 without NUL,
 *  else its base64 text; *is_b64 says which. NULL on OOM. */
json_t *sr_recjson_bytes(const void *p, size_t n, int *is_b64);

#endif /* SR_RECJSON_H */
