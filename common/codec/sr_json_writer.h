/* common/codec/sr_json_writer.h - a streaming JSON writer for the gateway's hot list
 * answers: items are appended to one growable buffer, with no jansson
 * objects in between. The text is byte for byte what sr_json.c's objects
 * give through json_dumps(JSON_COMPACT) (same key order, same escapes, the
 * same U+FFFD for bytes that are not UTF-8), which the tests can check. */
#ifndef SR_JSON_WRITER_H
#define SR_JSON_WRITER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sr_model.h"

typedef struct sr_jw {
        char *p;
        size_t len, cap;
        bool oom;
} sr_jw_t;

bool sr_jw_reserve(sr_jw_t *w, size_t n);
void sr_jw_raw(sr_jw_t *w, const char *s, size_t n);
#define sr_jw_lit(w, s) sr_jw_raw((w), (s), sizeof(s) - 1)
/* A JSON string of @p n bytes; invalid UTF-8 becomes U+FFFD (as
 * sr_json_string_lossy); escapes as jansson's dump without flags. */
void sr_jw_str(sr_jw_t *w, const char *s, size_t n);
void sr_jw_uuid(sr_jw_t *w, const sr_uuid_t *u, bool nil_is_null);
void sr_jw_time(sr_jw_t *w, int64_t ms); /* null for 0 */
void sr_jw_i64(sr_jw_t *w, int64_t v);
void sr_jw_u64(sr_jw_t *w, uint64_t v);

void sr_jw_stage_run(sr_jw_t *w, const sr_stage_run_t *sr);
void sr_jw_target_run(sr_jw_t *w, const sr_target_run_t *tr);
/* A status-change event with the fields of its Avro record, in its order
 * (ids nil where the record has null; times as ms integers). */
void sr_jw_event(sr_jw_t *w, const sr_event_t *ev);
/* Is @p text (NUL-terminated) one JSON object? Integers past int64 and
 * \u0000 escapes are JSON too. Written raw, it keeps the answer JSON. */
bool sr_jw_is_object_text(const char *text);
/* An operation with its args as stored, byte for byte (sr_json's printing
 * again through jansson would turn 0.1 into 0.10000000000000001); the
 * same text as sr_json_stage_run_op() otherwise. false, with nothing
 * written, when the stored args are not a JSON object. */
bool sr_jw_stage_run_op(sr_jw_t *w, const sr_stage_run_op_t *op);
/* A target run's device command as Esper's CommandResponse (GET
 * .../targetruns/{id}/command/): its operation @p op's command and args,
 * the caller's @p enterprise, the request id and last reported status of
 * @p tr. false, with nothing written, when the stored args are not a JSON
 * object. */
bool sr_jw_target_command(sr_jw_t *w, const sr_target_run_t *tr,
                          const sr_stage_run_op_t *op, const char *enterprise);
#endif
