/* tests/unit/codec/test_sr_json_writer.c - the streaming writer used by the gateway's hot
 * lists must give exactly the bytes of the jansson renderer (sr_json). */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdlib.h>
#include <string.h>

#include "sr_entity_json.h"
#include "sr_json_writer.h"

TestSuite(sr_jw, .timeout = 10.0);

static uint64_t rng = 42;

static uint64_t rnd(void)
{
        uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

/* Strings with quotes, controls, non-ASCII and invalid UTF-8. */
static void rnd_str(char *out, size_t size)
{
        static const char *const bits[] = { "a", "\"", "\\", "\n", "\x01",
                                            "é", "\xff", "\xe2\x82", "€",
                                            "/", " ", "\x7f" };
        size_t len = 0, want = rnd() % 24;

        out[0] = '\0';
        while (want-- && len + 4 < size) {
                const char *b = bits[rnd() % (sizeof(bits) / sizeof(*bits))];

                memcpy(out + len, b, strlen(b));
                len += strlen(b);
        }
        out[len] = '\0';
}

static int64_t rnd_time(void)
{
        switch (rnd() % 4) {
        case 0:
                return 0;
        case 1:
                return -(int64_t)(rnd() % 100000);
        case 2:
                return (int64_t)(rnd() % 300000000000000ULL);
        default:
                return 1700000000000LL + (int64_t)(rnd() % 100000000);
        }
}

static void rnd_meta(sr_meta_t *m)
{
        for (int i = 0; i < 16; i++)
                m->id.b[i] = (uint8_t)rnd();
        m->status = (sr_status_t)(1 + rnd() % (SR_ST__COUNT - 1));
        rnd_str(m->reason, sizeof(m->reason));
        m->created_at = rnd_time();
        m->updated_at = rnd_time();
        m->started_at = rnd_time();
        m->ended_at = rnd_time();
        m->version = (uint32_t)rnd();
}

static void same(json_t *j, const sr_jw_t *w)
{
        char *a = json_dumps(j, JSON_COMPACT);

        cr_assert(a != NULL);
        cr_assert(w->oom == false);
        cr_assert(eq(sz, strlen(a), w->len), "%s\nvs\n%.*s", a, (int)w->len,
                  w->p);
        cr_assert(memcmp(a, w->p, w->len) == 0, "%s\nvs\n%.*s", a,
                  (int)w->len, w->p);
        free(a);
        json_decref(j);
}

Test(sr_jw, stage_runs_render_exactly_like_sr_json)
{
        for (int n = 0; n < 3000; n++) {
                sr_stage_run_t s;
                sr_jw_t w = { 0 };

                memset(&s, 0, sizeof(s));
                rnd_meta(&s.m);
                for (int i = 0; i < 16; i++) {
                        s.pipeline_run_id.b[i] = (uint8_t)rnd();
                        s.pipeline_id.b[i] = (uint8_t)(rnd() % 2 ? rnd() : 0);
                        s.stage_id.b[i] = (uint8_t)rnd();
                }
                rnd_str(s.enterprise_id, sizeof(s.enterprise_id));
                rnd_str(s.name, sizeof(s.name));
                rnd_str(s.description, sizeof(s.description));
                s.index = (uint32_t)(rnd() % 50);
                /* a third of them open stages, some with nothing said */
                s.append_targets = rnd() % 3 == 0;
                s.expected_targets = rnd() % 2 ? (int64_t)rnd() : 0;
                s.chunks_applied = (uint32_t)rnd();
                s.targets_appended = (uint32_t)rnd();
                s.sealed = rnd() % 2;
                sr_jw_stage_run(&w, &s);
                same(sr_json_stage_run(&s), &w);
                free(w.p);
        }
}

Test(sr_jw, target_runs_render_exactly_like_sr_json)
{
        for (int n = 0; n < 3000; n++) {
                sr_target_run_t t;
                sr_jw_t w = { 0 };

                memset(&t, 0, sizeof(t));
                rnd_meta(&t.m);
                for (int i = 0; i < 16; i++) {
                        t.pipeline_run_id.b[i] = (uint8_t)rnd();
                        t.stage_run_id.b[i] = (uint8_t)rnd();
                        t.stage_run_operation_id.b[i] = (uint8_t)rnd();
                        t.target_id.b[i] = (uint8_t)rnd();
                        t.device_id.b[i] = (uint8_t)rnd();
                        t.command_id.b[i] = (uint8_t)(n % 3 ? rnd() : 0);
                }
                rnd_str(t.device_name, sizeof(t.device_name));
                rnd_str(t.device_alias, sizeof(t.device_alias));
                rnd_str(t.command_status, sizeof(t.command_status));
                sr_jw_target_run(&w, &t);
                same(sr_json_target_run(&t), &w);
                free(w.p);
        }
}

Test(sr_jw, operations_render_like_sr_json_with_args_as_stored)
{
        static const char *const args[] = {
                NULL, "{}", "{\"package_name\":\"com.example\",\"v\":[1,2]}",
                "{\"a\":{\"b\":[null,true,\"x\\\"y\",-7]}}",
        };

        for (int n = 0; n < 400; n++) {
                sr_stage_run_op_t op;
                sr_jw_t w = { 0 };

                memset(&op, 0, sizeof(op));
                for (int i = 0; i < 16; i++) {
                        op.id.b[i] = (uint8_t)rnd();
                        op.stage_run_id.b[i] = (uint8_t)rnd();
                }
                rnd_str(op.operation_type, sizeof(op.operation_type));
                op.args_json = (char *)args[n % 4];
                op.created_at = rnd_time();
                op.version = (uint32_t)rnd();
                cr_assert(sr_jw_stage_run_op(&w, &op));
                same(sr_json_stage_run_op(&op), &w);
                free(w.p);
        }
}

/* What sr_json would print again (0.10000000000000001, 100.0, refused past
 * 2^63, escapes decoded) stays as the spec gave it. */
Test(sr_jw, operation_args_numbers_stay_as_written)
{
        char args[] = "{\"p\":0.1,\"e\":1e2,\"big\":123456789012345678901,"
                      "\"s\":\"\\u00e9\"}";
        char broken[] = "{\"a\":", array[] = "[1]";
        sr_stage_run_op_t op;
        sr_jw_t w = { 0 };

        memset(&op, 0, sizeof(op));
        op.args_json = args;
        cr_assert(sr_jw_stage_run_op(&w, &op));
        cr_assert(not(eq(ptr, strstr(w.p, "\"args\":{\"p\":0.1,\"e\":1e2,"
                                     "\"big\":123456789012345678901,"
                                     "\"s\":\"\\u00e9\"},"),
                         NULL)), "%s", w.p);
        free(w.p);
        memset(&w, 0, sizeof(w));
        op.args_json = broken;
        cr_assert(not(sr_jw_stage_run_op(&w, &op)));
        op.args_json = array;
        cr_assert(not(sr_jw_stage_run_op(&w, &op)));
        cr_assert(eq(sz, w.len, 0));
        free(w.p);
}
