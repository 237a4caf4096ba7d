/* common/codec/sr_entity_json.c - run entities as Esper JSON.
 *
 * Each renderer builds one jansson object field by field in the order of
 * the Esper reference. put() takes the value in every case, so a chain of
 * put() calls needs only one cleanup: drop the object.
 */
#include "sr_entity_json.h"

#include "sr_clock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_utf8.h"

/* ------------------------------------------------------------ scalars */

bool sr_json_time_fmt(int64_t ms, char out[SR_JSON_TIME_MAX])
{
        if (!sr_clock_iso8601(ms, out))
                return false;
        out[SR_ISO8601_LEN] = '\0';
        return true;
}

json_t *sr_json_time(int64_t ms)
{
        char text[SR_JSON_TIME_MAX];

        if (ms == 0 || !sr_json_time_fmt(ms, text))
                return json_null();
        return json_string(text);
}

json_t *sr_json_uuid(const sr_uuid_t *u, bool nil_is_null)
{
        char text[SR_UUID_STR_LEN + 1];

        if (nil_is_null && sr_uuid_is_nil(u))
                return json_null();
        sr_uuid_fmt(u, text);
        return json_string(text);
}

json_t *sr_json_string_lossy(const char *s, size_t len)
{
        const unsigned char *in = (const unsigned char *)s;
        unsigned char *buf;
        size_t i = 0, o = 0, n;
        json_t *v;

        if (!s)
                return json_string("");
        v = json_stringn(s, len);
        if (v) /* valid as it is, the common case */
                return v;
        if (len > (SIZE_MAX - 1) / 3)
                return NULL;
        buf = malloc(len * 3 + 1);
        if (!buf)
                return NULL;
        while (i < len) {
                n = sr_utf8_seq_len(in + i, len - i);
                if (n) {
                        memcpy(buf + o, in + i, n);
                        o += n;
                        i += n;
                } else {
                        memcpy(buf + o, "\xef\xbf\xbd", 3); /* U+FFFD */
                        o += 3;
                        i++;
                }
        }
        v = json_stringn((const char *)buf, o);
        free(buf);
        return v;
}

/* A fixed char array of the model that may lack its NUL if damaged. */
static json_t *fixed_str(const char *s, size_t size)
{
        return sr_json_string_lossy(s, strnlen(s, size));
}

#define FIXED_STR(field) fixed_str((field), sizeof(field))

/* ------------------------------------------------------------ objects */

/* Takes @p v in every case; a NULL @p v is an earlier allocation failure. */
static bool put(json_t *obj, const char *key, json_t *v)
{
        return v && json_object_set_new(obj, key, v) == 0;
}

static json_t *status_meta(const char *reason, size_t size)
{
        json_t *o = json_object();
        size_t len = strnlen(reason, size);

        if (!o)
                return NULL;
        if (!put(o, "reason", len ? sr_json_string_lossy(reason, len) :
                                    json_null())) {
                json_decref(o);
                return NULL;
        }
        return o;
}

/* status, status_meta, created_by, updated_by and the four times. */
static bool put_meta(json_t *o, const sr_meta_t *m)
{
        return put(o, "status", json_string(sr_status_name(m->status))) &&
               put(o, "status_meta",
                   status_meta(m->reason, sizeof(m->reason))) &&
               put(o, "created_by", json_null()) &&
               put(o, "updated_by", json_null()) &&
               put(o, "created_at", sr_json_time(m->created_at)) &&
               put(o, "updated_at", sr_json_time(m->updated_at)) &&
               put(o, "started_at", sr_json_time(m->started_at)) &&
               put(o, "ended_at", sr_json_time(m->ended_at));
}

json_t *sr_json_pipeline_run(const sr_pipeline_run_t *pr)
{
        json_t *o = json_object();

        if (!o)
                return NULL;
        if (!put(o, "id", sr_json_uuid(&pr->m.id, false)) ||
            !put(o, "enterprise_id", FIXED_STR(pr->enterprise_id)) ||
            !put(o, "run_number", json_integer(pr->run_number)) ||
            !put(o, "pipeline_id", sr_json_uuid(&pr->pipeline_id, false)) ||
            !put(o, "pipeline_name", FIXED_STR(pr->pipeline_name)) ||
            !put_meta(o, &pr->m) ||
            !put(o, "version", json_integer(pr->m.version)) ||
            !put(o, "auto_promote", json_boolean(pr->auto_promote))) {
                json_decref(o);
                return NULL;
        }
        return o;
}

static json_t *stage_meta(const sr_stage_run_t *sr)
{
        json_t *o = json_object();

        if (!o)
                return NULL;
        if (!put(o, "name", FIXED_STR(sr->name)) ||
            !put(o, "description", FIXED_STR(sr->description)) ||
            !put(o, "created_by", json_null())) {
                json_decref(o);
                return NULL;
        }
        return o;
}

/* An open stage's targets so far (docs/targets.md, section 5): expected
 * as the create said it (null: not said), appended and chunks as applied,
 * and whether the set is sealed. */
static json_t *open_targets(const sr_stage_run_t *sr)
{
        return json_pack("{s:b,s:o,s:I,s:I,s:b}", "append", 1, "expected",
                         sr->expected_targets ?
                                 json_integer(
                                         (json_int_t)sr->expected_targets) :
                                 json_null(),
                         "appended", (json_int_t)sr->targets_appended,
                         "chunks", (json_int_t)sr->chunks_applied, "sealed",
                         sr->sealed ? 1 : 0);
}

json_t *sr_json_stage_run(const sr_stage_run_t *sr)
{
        json_t *o = json_object();

        if (!o)
                return NULL;
        if (!put(o, "id", sr_json_uuid(&sr->m.id, false)) ||
            !put(o, "enterprise_id", FIXED_STR(sr->enterprise_id)) ||
            !put(o, "pipeline_id", sr_json_uuid(&sr->pipeline_id, false)) ||
            !put(o, "pipeline_run_id",
                 sr_json_uuid(&sr->pipeline_run_id, false)) ||
            !put(o, "stage_id", sr_json_uuid(&sr->stage_id, false)) ||
            !put(o, "stage_meta", stage_meta(sr)) ||
            !put_meta(o, &sr->m) ||
            !put(o, "version", json_integer(sr->m.version)) ||
            (sr->append_targets && !put(o, "targets", open_targets(sr)))) {
                json_decref(o);
                return NULL;
        }
        return o;
}

static json_t *op_args(const char *args_json)
{
        json_t *v;

        if (!args_json)
                return json_object();
        v = json_loads(args_json, JSON_ALLOW_NUL, NULL);
        if (v && !json_is_object(v)) {
                json_decref(v);
                return NULL;
        }
        return v;
}

json_t *sr_json_stage_run_op(const sr_stage_run_op_t *op)
{
        json_t *o = json_object();

        if (!o)
                return NULL;
        if (!put(o, "id", sr_json_uuid(&op->id, false)) ||
            !put(o, "operation_type", FIXED_STR(op->operation_type)) ||
            !put(o, "args", op_args(op->args_json)) ||
            !put(o, "created_by", json_null()) ||
            !put(o, "updated_by", json_null()) ||
            !put(o, "created_at", sr_json_time(op->created_at)) ||
            !put(o, "updated_at", sr_json_time(op->created_at)) ||
            !put(o, "stage_run_id", sr_json_uuid(&op->stage_run_id, false)) ||
            !put(o, "version", json_integer(op->version))) {
                json_decref(o);
                return NULL;
        }
        return o;
}

json_t *sr_json_target_run(const sr_target_run_t *tr)
{
        size_t cs_len = strnlen(tr->command_status,
                                sizeof(tr->command_status));
        json_t *o = json_object();

        if (!o)
                return NULL;
        if (!put(o, "id", sr_json_uuid(&tr->m.id, false)) ||
            !put(o, "target_id", sr_json_uuid(&tr->target_id, false)) ||
            !put(o, "device_id", sr_json_uuid(&tr->device_id, false)) ||
            !put(o, "device_name", FIXED_STR(tr->device_name)) ||
            !put(o, "device_alias", FIXED_STR(tr->device_alias)) ||
            !put(o, "stage_run_id", sr_json_uuid(&tr->stage_run_id, false)) ||
            !put(o, "stage_run_operation_id",
                 sr_json_uuid(&tr->stage_run_operation_id, false)) ||
            !put(o, "command_id", sr_json_uuid(&tr->command_id, true)) ||
            !put(o, "command_status",
                 cs_len ? sr_json_string_lossy(tr->command_status, cs_len) :
                          json_null()) ||
            !put(o, "command_meta", json_object()) ||
            !put_meta(o, &tr->m) ||
            !put(o, "version", json_integer(tr->m.version))) {
                json_decref(o);
                return NULL;
        }
        return o;
}

sr_err_t sr_json_dump(const json_t *v, sr_buf_t *out)
{
        char *text;

        if (!v)
                return SR_ERR_INVALID;
        text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text)
                return SR_ERR_NOMEM;
        out->ptr = text;
        out->len = strlen(text);
        return SR_OK;
}
