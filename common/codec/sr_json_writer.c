/* common/codec/sr_json_writer.c - see sr_json_writer.h. */
#include "sr_json_writer.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sr_clock.h"
#include "sr_utf8.h"

bool sr_jw_reserve(sr_jw_t *w, size_t n)
{
        size_t cap;
        char *p;

        if (w->oom)
                return false;
        if (w->len + n + 1 <= w->cap)
                return true;
        cap = w->cap ? w->cap : 4096;
        while (cap < w->len + n + 1)
                cap *= 2;
        p = realloc(w->p, cap);
        if (!p) {
                w->oom = true;
                return false;
        }
        w->p = p;
        w->cap = cap;
        return true;
}

void sr_jw_raw(sr_jw_t *w, const char *s, size_t n)
{
        if (!sr_jw_reserve(w, n))
                return;
        memcpy(w->p + w->len, s, n);
        w->len += n;
        w->p[w->len] = '\0';
}

void sr_jw_str(sr_jw_t *w, const char *s, size_t n)
{
        static const char hex[] = "0123456789ABCDEF";
        const unsigned char *in = (const unsigned char *)s;
        char *o;
        size_t i = 0;

        /* worst case: every byte -> \u00XX (6) or U+FFFD (3) */
        if (!sr_jw_reserve(w, n * 6 + 2))
                return;
        o = w->p + w->len;
        *o++ = '"';
        while (i < n) {
                unsigned char c = in[i];

                if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
                        *o++ = (char)c;
                        i++;
                        continue;
                }
                if (c < 0x80) {
                        *o++ = '\\';
                        switch (c) {
                        case '"': *o++ = '"'; break;
                        case '\\': *o++ = '\\'; break;
                        case '\b': *o++ = 'b'; break;
                        case '\f': *o++ = 'f'; break;
                        case '\n': *o++ = 'n'; break;
                        case '\r': *o++ = 'r'; break;
                        case '\t': *o++ = 't'; break;
                        default:
                                *o++ = 'u';
                                *o++ = '0';
                                *o++ = '0';
                                *o++ = hex[c >> 4];
                                *o++ = hex[c & 15];
                        }
                        i++;
                        continue;
                }
                size_t k = sr_utf8_seq_len(in + i, n - i);

                if (k) {
                        memcpy(o, in + i, k);
                        o += k;
                        i += k;
                } else {
                        memcpy(o, "\xef\xbf\xbd", 3);
                        o += 3;
                        i++;
                }
        }
        *o++ = '"';
        *o = '\0';
        w->len = (size_t)(o - w->p);
}

void sr_jw_uuid(sr_jw_t *w, const sr_uuid_t *u, bool nil_is_null)
{
        static const char hex[] = "0123456789abcdef";
        char *o;

        if (nil_is_null && sr_uuid_is_nil(u)) {
                sr_jw_lit(w, "null");
                return;
        }
        if (!sr_jw_reserve(w, 38))
                return;
        o = w->p + w->len;
        *o++ = '"';
        for (int i = 0; i < 16; i++) {
                if (i == 4 || i == 6 || i == 8 || i == 10)
                        *o++ = '-';
                *o++ = hex[u->b[i] >> 4];
                *o++ = hex[u->b[i] & 15];
        }
        *o++ = '"';
        *o = '\0';
        w->len += 38;
}

void sr_jw_time(sr_jw_t *w, int64_t ms)
{
        char *o;

        if (ms == 0 || !sr_jw_reserve(w, SR_ISO8601_LEN + 3))
                goto null;
        o = w->p + w->len;
        if (!sr_clock_iso8601(ms, o + 1))
                goto null;
        o[0] = '"';
        o[SR_ISO8601_LEN + 1] = '"';
        o[SR_ISO8601_LEN + 2] = '\0';
        w->len += SR_ISO8601_LEN + 2;
        return;
null:
        sr_jw_lit(w, "null");
}

void sr_jw_u64(sr_jw_t *w, uint64_t v)
{
        char tmp[24];
        int n = 0;

        do {
                tmp[sizeof(tmp) - 1 - n++] = (char)('0' + v % 10);
                v /= 10;
        } while (v);
        sr_jw_raw(w, tmp + sizeof(tmp) - n, (size_t)n);
}

void sr_jw_i64(sr_jw_t *w, int64_t v)
{
        if (v < 0) {
                sr_jw_lit(w, "-");
                sr_jw_u64(w, (uint64_t)0 - (uint64_t)v);
        } else {
                sr_jw_u64(w, (uint64_t)v);
        }
}

#define FIXED(w, f) sr_jw_str((w), (f), strnlen((f), sizeof(f)))
/* A fixed-size text field, null when empty. */
#define FIXED_OR_NULL(w, f) str_or_null((w), (f), strnlen((f), sizeof(f)))

static void str_or_null(sr_jw_t *w, const char *s, size_t n)
{
        if (n)
                sr_jw_str(w, s, n);
        else
                sr_jw_lit(w, "null");
}

static void meta(sr_jw_t *w, const sr_meta_t *m)
{
        sr_jw_lit(w, ",\"status\":\"");
        sr_jw_raw(w, sr_status_name(m->status),
                  strlen(sr_status_name(m->status)));
        sr_jw_lit(w, "\",\"status_meta\":{\"reason\":");
        FIXED_OR_NULL(w, m->reason);
        sr_jw_lit(w, "},\"created_by\":null,\"updated_by\":null,"
                     "\"created_at\":");
        sr_jw_time(w, m->created_at);
        sr_jw_lit(w, ",\"updated_at\":");
        sr_jw_time(w, m->updated_at);
        sr_jw_lit(w, ",\"started_at\":");
        sr_jw_time(w, m->started_at);
        sr_jw_lit(w, ",\"ended_at\":");
        sr_jw_time(w, m->ended_at);
}

void sr_jw_stage_run(sr_jw_t *w, const sr_stage_run_t *sr)
{
        sr_jw_lit(w, "{\"id\":");
        sr_jw_uuid(w, &sr->m.id, false);
        sr_jw_lit(w, ",\"enterprise_id\":");
        FIXED(w, sr->enterprise_id);
        sr_jw_lit(w, ",\"pipeline_id\":");
        sr_jw_uuid(w, &sr->pipeline_id, false);
        sr_jw_lit(w, ",\"pipeline_run_id\":");
        sr_jw_uuid(w, &sr->pipeline_run_id, false);
        sr_jw_lit(w, ",\"stage_id\":");
        sr_jw_uuid(w, &sr->stage_id, false);
        sr_jw_lit(w, ",\"stage_meta\":{\"name\":");
        FIXED(w, sr->name);
        sr_jw_lit(w, ",\"description\":");
        FIXED(w, sr->description);
        sr_jw_lit(w, ",\"created_by\":null}");
        meta(w, &sr->m);
        sr_jw_lit(w, ",\"version\":");
        sr_jw_u64(w, sr->m.version);
        if (sr->append_targets) {
                sr_jw_lit(w, ",\"targets\":{\"append\":true,\"expected\":");
                if (sr->expected_targets)
                        sr_jw_i64(w, sr->expected_targets);
                else
                        sr_jw_lit(w, "null");
                sr_jw_lit(w, ",\"appended\":");
                sr_jw_u64(w, sr->targets_appended);
                sr_jw_lit(w, ",\"chunks\":");
                sr_jw_u64(w, sr->chunks_applied);
                if (sr->sealed)
                        sr_jw_lit(w, ",\"sealed\":true}");
                else
                        sr_jw_lit(w, ",\"sealed\":false}");
        }
        sr_jw_lit(w, "}");
}

void sr_jw_target_run(sr_jw_t *w, const sr_target_run_t *tr)
{
        sr_jw_lit(w, "{\"id\":");
        sr_jw_uuid(w, &tr->m.id, false);
        sr_jw_lit(w, ",\"target_id\":");
        sr_jw_uuid(w, &tr->target_id, false);
        sr_jw_lit(w, ",\"device_id\":");
        sr_jw_uuid(w, &tr->device_id, false);
        sr_jw_lit(w, ",\"device_name\":");
        FIXED(w, tr->device_name);
        sr_jw_lit(w, ",\"device_alias\":");
        FIXED(w, tr->device_alias);
        sr_jw_lit(w, ",\"stage_run_id\":");
        sr_jw_uuid(w, &tr->stage_run_id, false);
        sr_jw_lit(w, ",\"stage_run_operation_id\":");
        sr_jw_uuid(w, &tr->stage_run_operation_id, false);
        sr_jw_lit(w, ",\"command_id\":");
        sr_jw_uuid(w, &tr->command_id, true);
        sr_jw_lit(w, ",\"command_status\":");
        FIXED_OR_NULL(w, tr->command_status);
        sr_jw_lit(w, ",\"command_meta\":{}");
        meta(w, &tr->m);
        sr_jw_lit(w, ",\"version\":");
        sr_jw_u64(w, tr->m.version);
        sr_jw_lit(w, "}");
}

bool sr_jw_is_object_text(const char *text)
{
        json_t *v = json_loads(text, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL,
                               NULL);
        bool ok = json_is_object(v);

        json_decref(v);
        return ok;
}

/* An operation's args as stored, byte for byte; {} when none. */
static void args(sr_jw_t *w, const sr_stage_run_op_t *op)
{
        if (op->args_json)
                sr_jw_raw(w, op->args_json, strlen(op->args_json));
        else
                sr_jw_lit(w, "{}");
}

static bool args_ok(const sr_stage_run_op_t *op)
{
        return !op->args_json || sr_jw_is_object_text(op->args_json);
}

bool sr_jw_stage_run_op(sr_jw_t *w, const sr_stage_run_op_t *op)
{
        if (!args_ok(op))
                return false;
        sr_jw_lit(w, "{\"id\":");
        sr_jw_uuid(w, &op->id, false);
        sr_jw_lit(w, ",\"operation_type\":");
        FIXED(w, op->operation_type);
        sr_jw_lit(w, ",\"args\":");
        args(w, op);
        sr_jw_lit(w, ",\"created_by\":null,\"updated_by\":null,"
                     "\"created_at\":");
        sr_jw_time(w, op->created_at);
        sr_jw_lit(w, ",\"updated_at\":");
        sr_jw_time(w, op->created_at);
        sr_jw_lit(w, ",\"stage_run_id\":");
        sr_jw_uuid(w, &op->stage_run_id, false);
        sr_jw_lit(w, ",\"version\":");
        sr_jw_u64(w, op->version);
        sr_jw_lit(w, "}");
        return true;
}

bool sr_jw_target_command(sr_jw_t *w, const sr_target_run_t *tr,
                          const sr_stage_run_op_t *op, const char *enterprise)
{
        if (!args_ok(op))
                return false;
        sr_jw_lit(w, "{\"target_run_id\":");
        sr_jw_uuid(w, &tr->m.id, false);
        sr_jw_lit(w, ",\"operation_id\":");
        sr_jw_uuid(w, &op->id, false);
        sr_jw_lit(w, ",\"enterprise_id\":");
        sr_jw_str(w, enterprise, strlen(enterprise));
        sr_jw_lit(w, ",\"command\":");
        FIXED(w, op->operation_type);
        sr_jw_lit(w, ",\"command_type\":\"DEVICE\",\"device_type\":\"all\","
                     "\"device_id\":");
        sr_jw_uuid(w, &tr->device_id, false);
        sr_jw_lit(w, ",\"schedule\":\"IMMEDIATE\",\"args\":");
        args(w, op);
        sr_jw_lit(w, ",\"request_id\":");
        sr_jw_uuid(w, &tr->command_id, false);
        sr_jw_lit(w, ",\"request_status\":");
        FIXED_OR_NULL(w, tr->command_status);
        /* why the target run last moved, once a status was reported */
        sr_jw_lit(w, ",\"request_status_reason\":");
        if (tr->command_status[0])
                FIXED_OR_NULL(w, tr->m.reason);
        else
                sr_jw_lit(w, "null");
        if (tr->cancel_requested)
                sr_jw_lit(w, ",\"cancel_requested\":true}");
        else
                sr_jw_lit(w, ",\"cancel_requested\":false}");
        return true;
}

void sr_jw_event(sr_jw_t *w, const sr_event_t *ev)
{
        const char *from = sr_status_name(ev->from_status);

        sr_jw_lit(w, "{\"event_id\":");
        sr_jw_uuid(w, &ev->event_id, false);
        sr_jw_lit(w, ",\"pipeline_run_id\":");
        sr_jw_uuid(w, &ev->pipeline_run_id, false);
        sr_jw_lit(w, ",\"seq\":");
        sr_jw_u64(w, ev->seq);
        sr_jw_lit(w, ",\"entity_type\":");
        sr_jw_str(w, sr_entity_type_name(ev->entity_type),
                  strlen(sr_entity_type_name(ev->entity_type)));
        sr_jw_lit(w, ",\"entity_id\":");
        sr_jw_uuid(w, &ev->entity_id, false);
        sr_jw_lit(w, ",\"pipeline_id\":");
        sr_jw_uuid(w, &ev->pipeline_id, false);
        sr_jw_lit(w, ",\"stage_run_id\":");
        sr_jw_uuid(w, &ev->stage_run_id, true);
        sr_jw_lit(w, ",\"stage_run_operation_id\":");
        sr_jw_uuid(w, &ev->stage_run_operation_id, true);
        sr_jw_lit(w, ",\"device_id\":");
        sr_jw_uuid(w, &ev->device_id, true);
        sr_jw_lit(w, ",\"from_status\":");
        if (ev->from_status == SR_ST_NONE)
                sr_jw_lit(w, "null");
        else
                sr_jw_str(w, from, strlen(from));
        sr_jw_lit(w, ",\"to_status\":");
        sr_jw_str(w, sr_status_name(ev->to_status),
                  strlen(sr_status_name(ev->to_status)));
        sr_jw_lit(w, ",\"reason\":");
        FIXED(w, ev->reason);
        sr_jw_lit(w, ",\"occurred_at\":");
        sr_jw_i64(w, ev->occurred_at);
        sr_jw_lit(w, ",\"causation_id\":");
        sr_jw_uuid(w, &ev->causation_id, false);
        sr_jw_lit(w, ",\"enterprise_id\":");
        FIXED(w, ev->enterprise_id);
        sr_jw_lit(w, ",\"version\":");
        sr_jw_u64(w, ev->version);
        sr_jw_lit(w, "}");
}
