/* common/sr_jw.c - see sr_jw.h. */
#include "sr_jw.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

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

/* As sr_json.c: length of the valid UTF-8 sequence at s, or 0. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
        unsigned char c = s[0], lo = 0x80, hi = 0xbf;
        size_t len;

        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf) {
                len = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
                len = 3;
                if (c == 0xe0)
                        lo = 0xa0;
                else if (c == 0xed)
                        hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
                len = 4;
                if (c == 0xf0)
                        lo = 0x90;
                else if (c == 0xf4)
                        hi = 0x8f;
        } else {
                return 0;
        }
        if (n < len || s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i < len; i++)
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
        return len;
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
                size_t k = utf8_seq_len(in + i, n - i);

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

static char *d2(char *o, int v)
{
        *o++ = (char)('0' + v / 10);
        *o++ = (char)('0' + v % 10);
        return o;
}

/* Same civil calendar as sr_json_time_fmt. */
static void civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
        int64_t z = days + 719468;
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        int64_t doe = z - era * 146097;
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        int64_t mp = (5 * doy + 2) / 153;

        *d = (int)(doy - (153 * mp + 2) / 5 + 1);
        *m = (int)(mp < 10 ? mp + 3 : mp - 9);
        *y = yoe + era * 400 + (*m <= 2);
}

void sr_jw_time(sr_jw_t *w, int64_t ms)
{
        int64_t secs = ms / 1000, msec = ms % 1000, days, sod, y;
        int m, d;
        char *o;

        if (ms == 0)
                goto null;
        if (msec < 0) {
                msec += 1000;
                secs -= 1;
        }
        days = secs / 86400;
        sod = secs % 86400;
        if (sod < 0) {
                sod += 86400;
                days -= 1;
        }
        civil_from_days(days, &y, &m, &d);
        if (y < 0 || y > 9999)
                goto null;
        if (!sr_jw_reserve(w, 26))
                return;
        o = w->p + w->len;
        *o++ = '"';
        o = d2(o, (int)(y / 100));
        o = d2(o, (int)(y % 100));
        *o++ = '-';
        o = d2(o, m);
        *o++ = '-';
        o = d2(o, d);
        *o++ = 'T';
        o = d2(o, (int)(sod / 3600));
        *o++ = ':';
        o = d2(o, (int)(sod / 60 % 60));
        *o++ = ':';
        o = d2(o, (int)(sod % 60));
        *o++ = '.';
        *o++ = (char)('0' + msec / 100);
        o = d2(o, (int)(msec % 100));
        *o++ = 'Z';
        *o++ = '"';
        *o = '\0';
        w->len = (size_t)(o - w->p);
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

static void meta(sr_jw_t *w, const sr_meta_t *m)
{
        size_t rl = strnlen(m->reason, sizeof(m->reason));

        sr_jw_lit(w, ",\"status\":\"");
        sr_jw_raw(w, sr_status_name(m->status),
                  strlen(sr_status_name(m->status)));
        sr_jw_lit(w, "\",\"status_meta\":{\"reason\":");
        if (rl)
                sr_jw_str(w, m->reason, rl);
        else
                sr_jw_lit(w, "null");
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
        sr_jw_lit(w, "}");
}

void sr_jw_target_run(sr_jw_t *w, const sr_target_run_t *tr)
{
        size_t cs = strnlen(tr->command_status, sizeof(tr->command_status));

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
        if (cs)
                sr_jw_str(w, tr->command_status, cs);
        else
                sr_jw_lit(w, "null");
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

bool sr_jw_stage_run_op(sr_jw_t *w, const sr_stage_run_op_t *op)
{
        if (op->args_json && !sr_jw_is_object_text(op->args_json))
                return false;
        sr_jw_lit(w, "{\"id\":");
        sr_jw_uuid(w, &op->id, false);
        sr_jw_lit(w, ",\"operation_type\":");
        FIXED(w, op->operation_type);
        sr_jw_lit(w, ",\"args\":");
        if (op->args_json)
                sr_jw_raw(w, op->args_json, strlen(op->args_json));
        else
                sr_jw_lit(w, "{}");
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
