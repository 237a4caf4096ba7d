/* tests/unit/codec/test_sr_entity_json.c - run entities rendered as Esper JSON: exact
 * field names and order, nulls, times, the args object, damaged strings. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdlib.h>
#include <string.h>

#include "sr_entity_json.h"

#define PR_ID "6f1c1d1e-0b7a-4c1e-9a7e-3c2b1a0f9e8d"
#define PL_ID "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#define SR_ID "11111111-2222-4333-8444-555555555555"
#define ST_ID "22222222-3333-4444-8555-666666666666"
#define OP_ID "33333333-4444-4555-8666-777777777777"
#define TR_ID "44444444-5555-4666-8777-888888888888"
#define TG_ID "55555555-6666-4777-8888-999999999999"
#define DV_ID "66666666-7777-4888-8999-aaaaaaaaaaaa"
#define CM_ID "77777777-8888-4999-8aaa-bbbbbbbbbbbb"

#define T_CREATED 1795881600123LL /* 2026-11-28T16:00:00.123Z */
#define T_UPDATED 1795881900000LL /* 2026-11-28T16:05:00.000Z */

TestSuite(sr_json, .timeout = 5.0);

static sr_uuid_t uuid(const char *text)
{
        sr_uuid_t u;

        cr_assert(sr_uuid_parse(text, strlen(text), &u), "%s", text);
        return u;
}

/* Compact text of @p v, which is dropped; the caller frees the text. */
static char *dump_and_drop(json_t *v)
{
        sr_buf_t buf = { NULL, 0 };

        cr_assert(not(eq(ptr, v, NULL)));
        cr_assert(eq(int, sr_json_dump(v, &buf), SR_OK));
        json_decref(v);
        return buf.ptr;
}

/* The string member @p key of @p o, or "" when it is not a string. */
static char *member_str(const json_t *o, const char *key)
{
        const char *s = json_string_value(json_object_get(o, key));

        return (char *)(s ? s : "");
}

/* jansson's type tests are macros starting with '(', which Criterion's
 * cr_assert() cannot take as its first token. */
static bool is_null(const json_t *v)
{
        return json_is_null(v);
}

static bool is_object(const json_t *v)
{
        return json_is_object(v);
}

static void assert_renders(json_t *v, const char *want)
{
        char *got = dump_and_drop(v);

        cr_assert(eq(str, got, (char *)want));
        free(got);
}

Test(sr_json, time_has_milliseconds_and_z_suffix)
{
        char text[SR_JSON_TIME_MAX];

        cr_assert(sr_json_time_fmt(T_CREATED, text));
        cr_assert(eq(str, text, "2026-11-28T16:00:00.123Z"));
        cr_assert(sr_json_time_fmt(951827696007LL, text));
        cr_assert(eq(str, text, "2000-02-29T12:34:56.007Z"));
        cr_assert(sr_json_time_fmt(1, text));
        cr_assert(eq(str, text, "1970-01-01T00:00:00.001Z"));
}

Test(sr_json, time_before_epoch_rounds_down)
{
        char text[SR_JSON_TIME_MAX];

        cr_assert(sr_json_time_fmt(-1, text));
        cr_assert(eq(str, text, "1969-12-31T23:59:59.999Z"));
        cr_assert(sr_json_time_fmt(-62167219200000LL, text));
        cr_assert(eq(str, text, "0000-01-01T00:00:00.000Z"));
}

Test(sr_json, time_outside_four_digit_years_is_refused)
{
        char text[SR_JSON_TIME_MAX];

        cr_assert(sr_json_time_fmt(253402300799999LL, text));
        cr_assert(eq(str, text, "9999-12-31T23:59:59.999Z"));
        cr_assert(not(sr_json_time_fmt(253402300800000LL, text)));
        cr_assert(not(sr_json_time_fmt(-62167219200001LL, text)));
        cr_assert(not(sr_json_time_fmt(INT64_MAX, text)));
        cr_assert(not(sr_json_time_fmt(INT64_MIN, text)));
}

Test(sr_json, time_zero_and_out_of_range_render_null)
{
        assert_renders(sr_json_time(0), "null");
        assert_renders(sr_json_time(INT64_MAX), "null");
        assert_renders(sr_json_time(T_UPDATED),
                       "\"2026-11-28T16:05:00.000Z\"");
}

Test(sr_json, nil_uuid_is_null_only_when_asked)
{
        sr_uuid_t nil = { { 0 } };

        assert_renders(sr_json_uuid(&nil, true), "null");
        assert_renders(sr_json_uuid(&nil, false),
                       "\"00000000-0000-0000-0000-000000000000\"");
}

Test(sr_json, invalid_utf8_is_replaced_not_refused)
{
        assert_renders(sr_json_string_lossy("a\xff" "b\xc3", 4),
                       "\"a\xef\xbf\xbd" "b\xef\xbf\xbd\"");
        /* overlong '/' and a UTF-16 surrogate are not UTF-8 either */
        assert_renders(sr_json_string_lossy("\xc0\xaf\xed\xa0\x80", 5),
                       "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                       "\xef\xbf\xbd\"");
        assert_renders(sr_json_string_lossy("caf\xc3\xa9", 5),
                       "\"caf\xc3\xa9\"");
}

static sr_pipeline_run_t sample_pipeline_run(void)
{
        sr_pipeline_run_t pr;

        memset(&pr, 0, sizeof(pr));
        pr.m.id = uuid(PR_ID);
        pr.m.status = SR_ST_WAITING;
        strcpy(pr.m.reason, "promoted");
        pr.m.created_at = T_CREATED;
        pr.m.updated_at = T_UPDATED;
        pr.m.started_at = T_CREATED;
        pr.m.version = 7;
        pr.pipeline_id = uuid(PL_ID);
        strcpy(pr.pipeline_name, "canary rollout");
        strcpy(pr.enterprise_id, "ent-1");
        pr.run_number = 3;
        pr.auto_promote = false;
        return pr;
}

Test(sr_json, pipeline_run_has_esper_fields_in_order_with_nulls)
{
        sr_pipeline_run_t pr = sample_pipeline_run();

        assert_renders(sr_json_pipeline_run(&pr),
                "{\"id\":\"" PR_ID "\",\"enterprise_id\":\"ent-1\","
                "\"run_number\":3,\"pipeline_id\":\"" PL_ID "\","
                "\"pipeline_name\":\"canary rollout\",\"status\":\"waiting\","
                "\"status_meta\":{\"reason\":\"promoted\"},"
                "\"created_by\":null,\"updated_by\":null,"
                "\"created_at\":\"2026-11-28T16:00:00.123Z\","
                "\"updated_at\":\"2026-11-28T16:05:00.000Z\","
                "\"started_at\":\"2026-11-28T16:00:00.123Z\","
                "\"ended_at\":null,\"version\":7,\"auto_promote\":false}");
}

Test(sr_json, empty_reason_renders_null_reason)
{
        sr_pipeline_run_t pr = sample_pipeline_run();
        json_t *v;

        pr.m.reason[0] = '\0';
        pr.m.status = SR_ST_PENDING;
        v = sr_json_pipeline_run(&pr);
        cr_assert(not(eq(ptr, v, NULL)));
        cr_assert(is_null(json_object_get(
                json_object_get(v, "status_meta"), "reason")));
        cr_assert(eq(str, member_str(v, "status"), "pending"));
        json_decref(v);
}

Test(sr_json, stage_run_has_stage_meta_snapshot)
{
        sr_stage_run_t sr;

        memset(&sr, 0, sizeof(sr));
        sr.m.id = uuid(SR_ID);
        sr.m.status = SR_ST_CANCELLED;
        strcpy(sr.m.reason, "previous_stage_failed");
        sr.m.created_at = T_CREATED;
        sr.m.updated_at = T_UPDATED;
        sr.m.ended_at = T_UPDATED;
        sr.m.version = 2;
        sr.pipeline_run_id = uuid(PR_ID);
        sr.pipeline_id = uuid(PL_ID);
        sr.stage_id = uuid(ST_ID);
        strcpy(sr.enterprise_id, "ent-1");
        strcpy(sr.name, "canary");
        strcpy(sr.description, "first \"ring\"");

        assert_renders(sr_json_stage_run(&sr),
                "{\"id\":\"" SR_ID "\",\"enterprise_id\":\"ent-1\","
                "\"pipeline_id\":\"" PL_ID "\","
                "\"pipeline_run_id\":\"" PR_ID "\","
                "\"stage_id\":\"" ST_ID "\","
                "\"stage_meta\":{\"name\":\"canary\","
                "\"description\":\"first \\\"ring\\\"\",\"created_by\":null},"
                "\"status\":\"cancelled\","
                "\"status_meta\":{\"reason\":\"previous_stage_failed\"},"
                "\"created_by\":null,\"updated_by\":null,"
                "\"created_at\":\"2026-11-28T16:00:00.123Z\","
                "\"updated_at\":\"2026-11-28T16:05:00.000Z\","
                "\"started_at\":null,"
                "\"ended_at\":\"2026-11-28T16:05:00.000Z\",\"version\":2}");
}

/* docs/targets.md, section 5: an open stage shows its targets so far;
 * a closed one shows nothing more (as above). */
Test(sr_json, open_stage_run_shows_its_targets_object)
{
        sr_stage_run_t sr;
        json_t *v, *t;

        memset(&sr, 0, sizeof(sr));
        sr.m.id = uuid(SR_ID);
        sr.m.status = SR_ST_PROCESSING;
        sr.append_targets = true;
        sr.expected_targets = 250000;
        sr.chunks_applied = 3;
        sr.targets_appended = 2500;
        v = sr_json_stage_run(&sr);
        cr_assert(not(eq(ptr, v, NULL)));
        t = json_object_get(v, "targets");
        cr_assert(is_object(t));
        cr_assert(eq(int, json_typeof(json_object_get(t, "append")),
                     JSON_TRUE));
        cr_assert(eq(i64, json_integer_value(json_object_get(t, "expected")),
                     250000));
        cr_assert(eq(i64, json_integer_value(json_object_get(t, "appended")),
                     2500));
        cr_assert(eq(i64, json_integer_value(json_object_get(t, "chunks")),
                     3));
        cr_assert(eq(int, json_typeof(json_object_get(t, "sealed")),
                     JSON_FALSE));
        json_decref(v);
        /* nothing said: null; sealed */
        sr.expected_targets = 0;
        sr.sealed = true;
        v = sr_json_stage_run(&sr);
        t = json_object_get(v, "targets");
        cr_assert(is_null(json_object_get(t, "expected")));
        cr_assert(eq(int, json_typeof(json_object_get(t, "sealed")),
                     JSON_TRUE));
        json_decref(v);
        sr.append_targets = false;
        v = sr_json_stage_run(&sr);
        cr_assert(eq(ptr, json_object_get(v, "targets"), NULL));
        json_decref(v);
}

Test(sr_json, stage_run_operation_embeds_args_as_object)
{
        sr_stage_run_op_t op;
        char args[] = "{\"package_name\":\"com.example\",\"v\":[1,2]}";

        memset(&op, 0, sizeof(op));
        op.id = uuid(OP_ID);
        op.stage_run_id = uuid(SR_ID);
        strcpy(op.operation_type, "INSTALL");
        op.args_json = args;
        op.created_at = T_CREATED;
        op.version = 1;

        assert_renders(sr_json_stage_run_op(&op),
                "{\"id\":\"" OP_ID "\",\"operation_type\":\"INSTALL\","
                "\"args\":{\"package_name\":\"com.example\",\"v\":[1,2]},"
                "\"created_by\":null,\"updated_by\":null,"
                "\"created_at\":\"2026-11-28T16:00:00.123Z\","
                "\"updated_at\":\"2026-11-28T16:00:00.123Z\","
                "\"stage_run_id\":\"" SR_ID "\",\"version\":1}");
}

Test(sr_json, stage_run_operation_without_args_has_empty_object)
{
        sr_stage_run_op_t op;
        json_t *v;

        memset(&op, 0, sizeof(op));
        strcpy(op.operation_type, "REBOOT");
        v = sr_json_stage_run_op(&op);
        cr_assert(not(eq(ptr, v, NULL)));
        cr_assert(is_object(json_object_get(v, "args")));
        cr_assert(eq(sz, json_object_size(json_object_get(v, "args")), 0));
        cr_assert(is_null(json_object_get(v, "created_at")));
        json_decref(v);
}

Test(sr_json, stage_run_operation_with_damaged_args_is_refused)
{
        sr_stage_run_op_t op;
        char broken[] = "{\"a\":";
        char array[] = "[1,2]";

        memset(&op, 0, sizeof(op));
        op.args_json = broken;
        cr_assert(eq(ptr, sr_json_stage_run_op(&op), NULL));
        op.args_json = array;
        cr_assert(eq(ptr, sr_json_stage_run_op(&op), NULL));
}

static sr_target_run_t sample_target_run(void)
{
        sr_target_run_t tr;

        memset(&tr, 0, sizeof(tr));
        tr.m.id = uuid(TR_ID);
        tr.m.status = SR_ST_PENDING;
        tr.m.created_at = T_CREATED;
        tr.m.updated_at = T_CREATED;
        tr.m.version = 1;
        tr.stage_run_id = uuid(SR_ID);
        tr.stage_run_operation_id = uuid(OP_ID);
        tr.target_id = uuid(TG_ID);
        tr.device_id = uuid(DV_ID);
        strcpy(tr.device_name, "d-1");
        strcpy(tr.device_alias, "lobby");
        return tr;
}

Test(sr_json, target_run_without_command_has_null_command_fields)
{
        sr_target_run_t tr = sample_target_run();

        assert_renders(sr_json_target_run(&tr),
                "{\"id\":\"" TR_ID "\",\"target_id\":\"" TG_ID "\","
                "\"device_id\":\"" DV_ID "\",\"device_name\":\"d-1\","
                "\"device_alias\":\"lobby\",\"stage_run_id\":\"" SR_ID "\","
                "\"stage_run_operation_id\":\"" OP_ID "\","
                "\"command_id\":null,\"command_status\":null,"
                "\"command_meta\":{},\"status\":\"pending\","
                "\"status_meta\":{\"reason\":null},"
                "\"created_by\":null,\"updated_by\":null,"
                "\"created_at\":\"2026-11-28T16:00:00.123Z\","
                "\"updated_at\":\"2026-11-28T16:00:00.123Z\","
                "\"started_at\":null,\"ended_at\":null,\"version\":1}");
}

Test(sr_json, target_run_with_command_shows_id_and_status)
{
        sr_target_run_t tr = sample_target_run();
        json_t *v;

        tr.command_id = uuid(CM_ID);
        strcpy(tr.command_status, "INPROGRESS");
        tr.m.status = SR_ST_RUNNING;
        v = sr_json_target_run(&tr);
        cr_assert(not(eq(ptr, v, NULL)));
        cr_assert(eq(str, member_str(v, "command_id"), CM_ID));
        cr_assert(eq(str, member_str(v, "command_status"),
                     "INPROGRESS"));
        cr_assert(eq(str, member_str(v, "status"), "running"));
        json_decref(v);
}

Test(sr_json, unterminated_fixed_string_is_read_within_its_array)
{
        sr_target_run_t tr = sample_target_run();
        json_t *v;

        memset(tr.device_name, 'a', sizeof(tr.device_name)); /* no NUL */
        strcpy(tr.device_alias, "\xff");
        v = sr_json_target_run(&tr);
        cr_assert(not(eq(ptr, v, NULL)));
        cr_assert(eq(sz, json_string_length(json_object_get(v,
                                                              "device_name")),
                     sizeof(tr.device_name)));
        cr_assert(eq(str, member_str(v, "device_alias"),
                     "\xef\xbf\xbd"));
        json_decref(v);
}

Test(sr_json, dump_of_null_pointer_is_invalid)
{
        sr_buf_t buf = { NULL, 0 };

        cr_assert(eq(int, sr_json_dump(NULL, &buf), SR_ERR_INVALID));
        cr_assert(eq(ptr, buf.ptr, NULL));
}
