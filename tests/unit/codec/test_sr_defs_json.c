/* tests/unit/codec/test_sr_defs_json.c - stored definitions' JSON: each
 * body family into sr_defcmd_t (accepted fields, defaults and has_ flags,
 * required, wrong types, unknown and read-only fields, version), the
 * targets-bulk body and its per-item errors, the entities as Esper JSON. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdlib.h>
#include <string.h>

#include "sr_defs_json.h"
#include "sr_entity_json.h"

#define PL_ID "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#define ST_ID "22222222-3333-4444-8555-666666666666"
#define TL_ID "33333333-4444-4555-8666-777777777777"
#define DV_ID "66666666-7777-4888-8999-aaaaaaaaaaaa"
#define DV2_ID "66666666-7777-4888-8999-bbbbbbbbbbbb"
#define GR_ID "77777777-8888-4999-8aaa-bbbbbbbbbbbb"
#define OL_ID "44444444-5555-4666-8777-888888888888"
#define OP_ID "55555555-6666-4777-8888-999999999999"
#define OTHER "99999999-9999-4999-8999-999999999999"

#define T_CREATED 1795881600123LL /* 2026-11-28T16:00:00.123Z */
#define T_UPDATED 1795881900000LL /* 2026-11-28T16:05:00.000Z */

TestSuite(sr_defs_json, .timeout = 10.0);

static sr_uuid_t uuid(const char *text)
{
        sr_uuid_t u;

        cr_assert(sr_uuid_parse(text, strlen(text), &u), "%s", text);
        return u;
}

static bool same_uuid(const sr_uuid_t *a, const char *text)
{
        sr_uuid_t b = uuid(text);

        return !memcmp(a, &b, sizeof(b));
}

/* What a command owns (sr_defcmd_fini() is sr_defs.c's, not linked). */
static void cmd_free(sr_defcmd_t *c)
{
        if (c->kind == SR_DEFCMD_PUT_OPERATION)
                free(c->u.op.args_json);
        if (c->kind == SR_DEFCMD_ADD_TARGETS) {
                for (uint32_t i = 0; i < c->u.add.n_items; i++) {
                        free(c->u.add.items[i].args_json);
                        free(c->u.add.items[i].device_meta_json);
                }
                free(c->u.add.items);
        }
}

/* A command as the gateway fills it, then the body parsed into it. */
static sr_err_t parse(sr_defcmd_kind_t kind, bool create, const char *body,
                      sr_defcmd_t *cmd, sr_errctx_t *ec)
{
        memset(cmd, 0, sizeof(*cmd));
        memset(ec, 0, sizeof(*ec));
        cmd->kind = kind;
        cmd->create = create;
        cmd->pipeline_id = uuid(PL_ID);
        snprintf(cmd->enterprise_id, sizeof(cmd->enterprise_id), "ent-1");
        return sr_defs_json_parse(kind, create, body,
                                  body ? strlen(body) : 0, cmd, ec);
}

static void accepted(sr_defcmd_kind_t kind, bool create, const char *body,
                     sr_defcmd_t *cmd)
{
        sr_errctx_t ec;
        sr_err_t err = parse(kind, create, body, cmd, &ec);

        cr_assert(eq(int, err, SR_OK), "%s: %s", body, ec.msg);
}

/* Refused with a message containing @p want; the command unchanged. */
static void refused(sr_defcmd_kind_t kind, bool create, const char *body,
                    const char *want)
{
        sr_defcmd_t cmd, before;
        sr_errctx_t ec;
        sr_err_t err = parse(kind, create, body, &cmd, &ec);

        if (err == SR_OK)
                cmd_free(&cmd);
        cr_assert(eq(int, err, SR_ERR_INVALID), "%s was accepted", body);
        cr_assert(strstr(ec.msg, want) != NULL, "message \"%s\" lacks \"%s\"",
                  ec.msg, want);
        memset(&before, 0, sizeof(before));
        before.kind = kind;
        before.create = create;
        before.pipeline_id = uuid(PL_ID);
        snprintf(before.enterprise_id, sizeof(before.enterprise_id), "ent-1");
        cr_assert(true && !memcmp(&cmd, &before, sizeof(cmd)),
                  "the command changed on a refusal");
}

/* ------------------------------------------------------------ pipeline */

Test(sr_defs_json, pipeline_post_with_all_fields_is_read)
{
        sr_defcmd_t c;

        accepted(SR_DEFCMD_PUT_PIPELINE, true,
                 "{\"name\": \"  Rollout  \", \"description\": \"d e\", "
                 "\"is_default\": true, \"is_active\": false, "
                 "\"timeout_seconds\": 600}",
                 &c);
        cr_assert(eq(str, c.u.pipeline.name, "Rollout"));
        cr_assert(eq(str, c.u.pipeline.description, "d e"));
        cr_assert(c.u.pipeline.is_default && !c.u.pipeline.is_active);
        cr_assert(eq(i64, c.u.pipeline.timeout_seconds, 600));
        cr_assert(c.u.pipeline.has_name && c.u.pipeline.has_description &&
                  c.u.pipeline.has_is_active && c.u.pipeline.has_is_default &&
                  c.u.pipeline.has_timeout_seconds);
        cr_assert(true && !c.has_expected_version);
        cr_assert(same_uuid(&c.pipeline_id, PL_ID));
        cr_assert(eq(str, c.enterprise_id, "ent-1"));
}

Test(sr_defs_json, pipeline_post_defaults_are_set_with_their_has_flags)
{
        sr_defcmd_t c;

        accepted(SR_DEFCMD_PUT_PIPELINE, true, "{\"name\": \"p\"}", &c);
        cr_assert(c.u.pipeline.is_active);
        cr_assert(true && !c.u.pipeline.is_default);
        cr_assert(eq(i64, c.u.pipeline.timeout_seconds, 86400));
        cr_assert(eq(str, c.u.pipeline.description, ""));
        cr_assert(c.u.pipeline.has_name && c.u.pipeline.has_description &&
                  c.u.pipeline.has_is_active && c.u.pipeline.has_is_default &&
                  c.u.pipeline.has_timeout_seconds);
}

Test(sr_defs_json, pipeline_post_without_name_is_refused_naming_the_field)
{
        refused(SR_DEFCMD_PUT_PIPELINE, true, "{\"description\": \"x\"}",
                "name: required field missing");
}

Test(sr_defs_json, pipeline_post_with_null_name_is_a_wrong_type)
{
        refused(SR_DEFCMD_PUT_PIPELINE, true, "{\"name\": null}",
                "name: expected a string, got null");
}

Test(sr_defs_json, pipeline_name_blank_too_long_or_with_control_is_refused)
{
        char body[400];

        refused(SR_DEFCMD_PUT_PIPELINE, true, "{\"name\": \"   \"}",
                "name: empty; give 1 to 255 bytes");
        refused(SR_DEFCMD_PUT_PIPELINE, true, "{\"name\": \"a\\nb\"}",
                "name: control character at byte 1");
        refused(SR_DEFCMD_PUT_PIPELINE, true, "{\"name\": \"a\\u0085b\"}",
                "name: control character");
        snprintf(body, sizeof(body), "{\"name\": \"%0256d\"}", 0);
        refused(SR_DEFCMD_PUT_PIPELINE, true, body,
                "name: too long (256 bytes after trimming, at most 255)");
}

Test(sr_defs_json, pipeline_name_of_255_bytes_after_trimming_is_accepted)
{
        char body[400];
        sr_defcmd_t c;

        snprintf(body, sizeof(body), "{\"name\": \" %0255d \"}", 7);
        accepted(SR_DEFCMD_PUT_PIPELINE, true, body, &c);
        cr_assert(eq(sz, strlen(c.u.pipeline.name), 255));
}

Test(sr_defs_json, pipeline_wrong_types_name_the_field_and_the_type)
{
        refused(SR_DEFCMD_PUT_PIPELINE, true,
                "{\"name\": \"p\", \"is_active\": \"yes\"}",
                "is_active: expected true or false, got \"yes\"");
        refused(SR_DEFCMD_PUT_PIPELINE, true,
                "{\"name\": \"p\", \"timeout_seconds\": 0}",
                "timeout_seconds: expected an integer from 1 to 315360000 "
                "(seconds), got 0");
        refused(SR_DEFCMD_PUT_PIPELINE, true,
                "{\"name\": \"p\", \"timeout_seconds\": 1.5}",
                "timeout_seconds: expected an integer");
        refused(SR_DEFCMD_PUT_PIPELINE, true,
                "{\"name\": \"p\", \"description\": 42}",
                "description: expected a string, got 42");
        refused(SR_DEFCMD_PUT_PIPELINE, true, "{\"name\": 42}",
                "name: expected a string, got 42");
        refused(SR_DEFCMD_PUT_PIPELINE, true,
                "{\"name\": \"p\", \"is_default\": 1}",
                "is_default: expected true or false, got 1");
}

Test(sr_defs_json, timeout_written_as_a_real_with_zero_fraction_is_an_integer)
{
        sr_defcmd_t c;

        accepted(SR_DEFCMD_PUT_PIPELINE, true,
                 "{\"name\": \"p\", \"timeout_seconds\": 6e2}", &c);
        cr_assert(eq(i64, c.u.pipeline.timeout_seconds, 600));
}

Test(sr_defs_json, unknown_field_is_refused_with_the_allowed_list)
{
        refused(SR_DEFCMD_PUT_PIPELINE, true,
                "{\"name\": \"p\", \"nmae\": \"q\"}",
                "body: unknown field \"nmae\"; allowed: name, description, "
                "is_active, is_default, timeout_seconds (read-only fields "
                "of a Pipeline are ignored)");
        refused(SR_DEFCMD_PUT_PIPELINE, false, "{\"x\": 1}",
                "allowed: name, description, is_active, is_default, "
                "timeout_seconds, version");
}

Test(sr_defs_json, read_only_fields_of_the_pipeline_are_ignored)
{
        sr_defcmd_t c;

        accepted(SR_DEFCMD_PUT_PIPELINE, false,
                 "{\"id\": \"" OTHER "\", \"enterprise_id\": \"other\", "
                 "\"name\": \"p2\", \"is_valid\": true, \"is_visible\": 1, "
                 "\"is_archived\": false, \"created_by\": null, "
                 "\"updated_by\": 3, \"created_at\": \"x\", "
                 "\"updated_at\": null, \"deleted_at\": null}",
                 &c);
        cr_assert(eq(str, c.u.pipeline.name, "p2"));
        cr_assert(c.u.pipeline.has_name);
        cr_assert(true && !c.u.pipeline.has_description &&
                  !c.u.pipeline.has_is_active);
        cr_assert(same_uuid(&c.pipeline_id, PL_ID));
        cr_assert(eq(str, c.enterprise_id, "ent-1"));
}

Test(sr_defs_json, pipeline_put_is_partial_only_given_fields_have_flags)
{
        sr_defcmd_t c;

        accepted(SR_DEFCMD_PUT_PIPELINE, false, "{\"is_active\": false}", &c);
        cr_assert(c.u.pipeline.has_is_active && !c.u.pipeline.is_active);
        cr_assert(true && !c.u.pipeline.has_name &&
                  !c.u.pipeline.has_description &&
                  !c.u.pipeline.has_is_default &&
                  !c.u.pipeline.has_timeout_seconds);
        accepted(SR_DEFCMD_PUT_PIPELINE, false, "{}", &c);
        cr_assert(true && !c.u.pipeline.has_name &&
                  !c.u.pipeline.has_is_active);
}

Test(sr_defs_json, null_for_an_optional_field_is_the_field_absent)
{
        sr_defcmd_t c;

        accepted(SR_DEFCMD_PUT_PIPELINE, false,
                 "{\"name\": null, \"description\": null, "
                 "\"timeout_seconds\": null, \"version\": null}",
                 &c);
        cr_assert(true && !c.u.pipeline.has_name &&
                  !c.u.pipeline.has_description &&
                  !c.u.pipeline.has_timeout_seconds);
        cr_assert(true && !c.has_expected_version);
}

Test(sr_defs_json, version_on_an_update_is_the_expected_version)
{
        sr_defcmd_t c;

        accepted(SR_DEFCMD_PUT_PIPELINE, false,
                 "{\"name\": \"n\", \"version\": 7}", &c);
        cr_assert(c.has_expected_version);
        cr_assert(eq(u32, c.expected_version, 7));
        accepted(SR_DEFCMD_PUT_PIPELINE, false, "{\"version\": 4294967295}",
                 &c);
        cr_assert(eq(u32, c.expected_version, 4294967295u));
}

Test(sr_defs_json, version_below_one_or_not_an_integer_is_refused)
{
        refused(SR_DEFCMD_PUT_PIPELINE, false, "{\"version\": 0}",
                "version: expected an integer from 1 to 4294967295 (the "
                "version you read), got 0");
        refused(SR_DEFCMD_PUT_PIPELINE, false, "{\"version\": \"3\"}",
                "version: expected an integer");
        refused(SR_DEFCMD_PUT_PIPELINE, false, "{\"version\": 4294967296}",
                "version: expected an integer");
}

Test(sr_defs_json, version_on_a_create_is_read_only_and_ignored)
{
        sr_defcmd_t c;

        accepted(SR_DEFCMD_PUT_PIPELINE, true,
                 "{\"name\": \"p\", \"version\": 3}", &c);
        cr_assert(true && !c.has_expected_version);
}

Test(sr_defs_json, body_that_is_not_one_json_object_is_refused)
{
        char deep[200] = "{\"name\": \"p\", \"x\": ";
        size_t n = strlen(deep);

        refused(SR_DEFCMD_PUT_PIPELINE, true, "",
                "body: empty; expected a JSON object");
        refused(SR_DEFCMD_PUT_PIPELINE, true, "[1]",
                "body: expected a JSON object, got [1]");
        refused(SR_DEFCMD_PUT_PIPELINE, true, "{\"name\": ",
                "body: malformed JSON at line 1");
        refused(SR_DEFCMD_PUT_PIPELINE, true,
                "{\"name\": \"a\", \"name\": \"b\"}", "duplicate");
        for (int i = 0; i < 33; i++)
                deep[n++] = '[';
        for (int i = 0; i < 33; i++)
                deep[n++] = ']';
        deep[n++] = '}';
        deep[n] = '\0';
        refused(SR_DEFCMD_PUT_PIPELINE, true, deep,
                "body: nested too deeply (at most 32 levels");
}

Test(sr_defs_json, long_client_input_is_shortened_in_the_message)
{
        refused(SR_DEFCMD_PUT_PIPELINE, true,
                "{\"name\": \"p\", \"is_active\": "
                "\"0123456789012345678901234567890123456789xyz\"}",
                "got \"012345678901234567890123456789012345678...");
}

/* ------------------------------------------------------------ stage */

Test(sr_defs_json, stage_post_with_all_fields_is_read_and_keeps_the_path_id)
{
        sr_defcmd_t c;

        memset(&c, 0, sizeof(c));
        c.kind = SR_DEFCMD_PUT_STAGE;
        c.create = true;
        c.u.stage.stage_id = uuid(ST_ID);
        {
                const char *b = "{\"name\": \"canary\", \"description\": "
                                "\"first\", \"timeout_seconds\": 3600, "
                                "\"order\": 2}";
                sr_errctx_t ec = { 0 };

                cr_assert(eq(int, sr_defs_json_parse(SR_DEFCMD_PUT_STAGE,
                                                     true, b, strlen(b), &c,
                                                     &ec),
                             SR_OK), "%s", ec.msg);
        }
        cr_assert(same_uuid(&c.u.stage.stage_id, ST_ID));
        cr_assert(eq(str, c.u.stage.name, "canary"));
        cr_assert(eq(str, c.u.stage.description, "first"));
        cr_assert(eq(i64, c.u.stage.timeout_seconds, 3600));
        cr_assert(eq(u32, c.u.stage.order, 2));
        cr_assert(c.u.stage.has_name && c.u.stage.has_description &&
                  c.u.stage.has_timeout_seconds && c.u.stage.has_order);
}

Test(sr_defs_json, stage_post_without_order_or_timeout_leaves_them_to_the_rules)
{
        sr_defcmd_t c;

        accepted(SR_DEFCMD_PUT_STAGE, true, "{\"name\": \"s\"}", &c);
        cr_assert(true && !c.u.stage.has_order);
        /* no timeout given: none for the rules (the stage keeps the
         * stage-run default, 0), not a given 0 they would refuse */
        cr_assert(c.u.stage.has_name && c.u.stage.has_description &&
                  !c.u.stage.has_timeout_seconds);
        cr_assert(eq(i64, c.u.stage.timeout_seconds, 0));
}

Test(sr_defs_json, stage_post_without_name_is_refused_naming_the_field)
{
        refused(SR_DEFCMD_PUT_STAGE, true, "{\"order\": 1}",
                "name: required field missing");
}

Test(sr_defs_json, stage_order_must_be_an_integer_from_one)
{
        refused(SR_DEFCMD_PUT_STAGE, false, "{\"order\": 0}",
                "order: expected an integer from 1 to 2147483647, got 0");
        refused(SR_DEFCMD_PUT_STAGE, false, "{\"order\": \"2\"}",
                "order: expected an integer");
}

Test(sr_defs_json, stage_put_is_partial_and_takes_version)
{
        sr_defcmd_t c;

        accepted(SR_DEFCMD_PUT_STAGE, false,
                 "{\"order\": 5, \"version\": 2, \"pipeline_id\": \"" OTHER
                 "\", \"enterprise_id\": \"e\"}",
                 &c);
        cr_assert(c.u.stage.has_order && c.u.stage.order == 5);
        cr_assert(true && !c.u.stage.has_name && !c.u.stage.has_description &&
                  !c.u.stage.has_timeout_seconds);
        cr_assert(c.has_expected_version && c.expected_version == 2);
}

/* ------------------------------------------------------------ lists */

Test(sr_defs_json, target_list_post_reads_name_and_type_in_any_case)
{
        sr_defcmd_t c;

        accepted(SR_DEFCMD_PUT_TARGET_LIST, true,
                 "{\"name\": \"wave 1\", \"target_list_type\": \"GROUPS\"}",
                 &c);
        cr_assert(eq(str, c.u.list.name, "wave 1"));
        cr_assert(eq(int, c.u.list.type, SR_TL_GROUPS));
        cr_assert(c.u.list.has_name && c.u.list.has_type);
        accepted(SR_DEFCMD_PUT_TARGET_LIST, true,
                 "{\"name\": \"w\", \"target_list_type\": \"collections\"}",
                 &c);
        cr_assert(eq(int, c.u.list.type, SR_TL_COLLECTIONS));
}

Test(sr_defs_json, target_list_post_requires_name_and_type)
{
        refused(SR_DEFCMD_PUT_TARGET_LIST, true, "{\"name\": \"w\"}",
                "target_list_type: required field missing");
        refused(SR_DEFCMD_PUT_TARGET_LIST, true,
                "{\"target_list_type\": \"DEVICES\"}",
                "name: required field missing");
        refused(SR_DEFCMD_PUT_TARGET_LIST, true,
                "{\"name\": \"w\", \"target_list_type\": \"PEOPLE\"}",
                "target_list_type: expected one of DEVICES, GROUPS, "
                "COLLECTIONS, got \"PEOPLE\"");
}

Test(sr_defs_json, target_list_put_of_a_whole_list_reads_name_ignores_the_rest)
{
        sr_defcmd_t c;

        accepted(SR_DEFCMD_PUT_TARGET_LIST, false,
                 "{\"id\": \"" TL_ID "\", \"pipeline_id\": \"" PL_ID "\", "
                 "\"name\": \"renamed\", \"created_by\": null, "
                 "\"updated_by\": null, \"created_at\": "
                 "\"2026-11-28T16:00:00.123Z\", \"updated_at\": null, "
                 "\"version\": 3}",
                 &c);
        cr_assert(eq(str, c.u.list.name, "renamed"));
        cr_assert(c.u.list.has_name && !c.u.list.has_type);
        cr_assert(c.has_expected_version && c.expected_version == 3);
        accepted(SR_DEFCMD_PUT_TARGET_LIST, false,
                 "{\"target_list_type\": \"DEVICES\"}", &c);
        cr_assert(c.u.list.has_type && c.u.list.type == SR_TL_DEVICES);
}

Test(sr_defs_json, attach_reads_the_target_list_id)
{
        sr_defcmd_t c;

        accepted(SR_DEFCMD_ATTACH_TARGET_LIST, true,
                 "{\"target_list_id\": \"" TL_ID "\"}", &c);
        cr_assert(same_uuid(&c.u.attach.target_list_id, TL_ID));
        refused(SR_DEFCMD_ATTACH_TARGET_LIST, true, "{}",
                "target_list_id: required field missing");
        refused(SR_DEFCMD_ATTACH_TARGET_LIST, true,
                "{\"target_list_id\": \"nope\"}",
                "target_list_id: expected a UUID string, got \"nope\"");
        refused(SR_DEFCMD_ATTACH_TARGET_LIST, true,
                "{\"target_list_id\": \"" TL_ID "\", \"id\": 1}",
                "body: unknown field \"id\"; allowed: target_list_id");
}

Test(sr_defs_json, device_group_link_reads_the_group_id)
{
        sr_defcmd_t c;

        accepted(SR_DEFCMD_LINK_DEVICE_GROUP, true,
                 "{\"device_group_id\": \"" GR_ID "\"}", &c);
        cr_assert(same_uuid(&c.u.group.device_group_id, GR_ID));
        refused(SR_DEFCMD_LINK_DEVICE_GROUP, true, "{}",
                "device_group_id: required field missing");
        refused(SR_DEFCMD_LINK_DEVICE_GROUP, true,
                "{\"device_group_id\": 5}",
                "device_group_id: expected a UUID string, got 5");
}

/* ------------------------------------------------------------ targets */

Test(sr_defs_json, target_post_is_one_item_of_add_targets)
{
        sr_defcmd_t c;

        accepted(SR_DEFCMD_ADD_TARGETS, true,
                 "{\"device_id\": \"" DV_ID "\", \"device_name\": \"pos-1\", "
                 "\"device_alias\": \"till\", \"is_active\": false}",
                 &c);
        cr_assert(eq(u32, c.u.add.n_items, 1));
        cr_assert(same_uuid(&c.u.add.items[0].device_id, DV_ID));
        cr_assert(eq(str, c.u.add.items[0].device_name, "pos-1"));
        cr_assert(eq(str, c.u.add.items[0].device_alias, "till"));
        cr_assert(true && !c.u.add.items[0].is_active);
        cmd_free(&c);
        accepted(SR_DEFCMD_ADD_TARGETS, true,
                 "{\"device_id\": \"" DV_ID "\", \"device_name\": \"p\"}", &c);
        cr_assert(c.u.add.items[0].is_active);
        cr_assert(eq(str, c.u.add.items[0].device_alias, ""));
        cmd_free(&c);
}

Test(sr_defs_json, target_post_requires_device_id_and_device_name)
{
        refused(SR_DEFCMD_ADD_TARGETS, true, "{\"device_name\": \"p\"}",
                "device_id: required field missing");
        refused(SR_DEFCMD_ADD_TARGETS, true,
                "{\"device_id\": \"" DV_ID "\"}",
                "device_name: required field missing");
        refused(SR_DEFCMD_ADD_TARGETS, true,
                "{\"device_id\": \"x\", \"device_name\": \"p\"}",
                "device_id: expected a UUID string, got \"x\"");
        refused(SR_DEFCMD_ADD_TARGETS, true,
                "{\"device_id\": \"" DV_ID "\", \"device_name\": \"p\", "
                "\"args\": {}}",
                "body: unknown field \"args\"; allowed: device_id, "
                "device_name, device_alias, is_active");
}

Test(sr_defs_json, target_put_reads_name_and_active_ignores_device_id)
{
        sr_defcmd_t c;

        accepted(SR_DEFCMD_UPDATE_TARGET, false,
                 "{\"device_name\": \"new\", \"is_active\": false, "
                 "\"device_id\": \"" DV_ID "\", \"device_alias\": \"a\", "
                 "\"version\": 2}",
                 &c);
        cr_assert(c.u.target.has_device_name && c.u.target.has_is_active);
        cr_assert(eq(str, c.u.target.device_name, "new"));
        cr_assert(true && !c.u.target.is_active);
        cr_assert(c.has_expected_version && c.expected_version == 2);
        accepted(SR_DEFCMD_UPDATE_TARGET, false, "{\"is_active\": true}", &c);
        cr_assert(true && !c.u.target.has_device_name &&
                  c.u.target.has_is_active);
        refused(SR_DEFCMD_UPDATE_TARGET, false, "{\"status\": \"x\"}",
                "unknown field \"status\"; allowed: device_name, is_active, "
                "version");
}

/* ------------------------------------------------------------ operations */

Test(sr_defs_json, operation_list_post_reads_fields_and_checks_pipeline_id)
{
        sr_defcmd_t c;

        accepted(SR_DEFCMD_PUT_OPERATION_LIST, true,
                 "{\"name\": \"ops\", \"description\": \"d\", "
                 "\"pipeline_id\": \"" PL_ID "\"}",
                 &c);
        cr_assert(eq(str, c.u.oplist.name, "ops"));
        cr_assert(eq(str, c.u.oplist.description, "d"));
        cr_assert(c.u.oplist.has_name && c.u.oplist.has_description);
        refused(SR_DEFCMD_PUT_OPERATION_LIST, true,
                "{\"name\": \"ops\", \"pipeline_id\": \"" OTHER "\"}",
                "pipeline_id: \"" OTHER "\" is not the stage's pipeline "
                "(" PL_ID ")");
        refused(SR_DEFCMD_PUT_OPERATION_LIST, true, "{\"description\": \"\"}",
                "name: required field missing");
}

Test(sr_defs_json, operation_list_put_is_partial)
{
        sr_defcmd_t c;

        accepted(SR_DEFCMD_PUT_OPERATION_LIST, false,
                 "{\"description\": \"new\", \"id\": \"" OL_ID "\", "
                 "\"stage_id\": \"" ST_ID "\", \"version\": 1}",
                 &c);
        cr_assert(true && !c.u.oplist.has_name && c.u.oplist.has_description);
        cr_assert(c.has_expected_version && c.expected_version == 1);
}

Test(sr_defs_json, operation_post_keeps_args_as_written_compact)
{
        sr_defcmd_t c;

        accepted(SR_DEFCMD_PUT_OPERATION, true,
                 "{ \"operation_type\": \"install\",\n  \"args\": { \"z\": "
                 "0.1, \"a\" : [1e2, \"x y\"], \"big\": "
                 "123456789012345678901234567890 } }",
                 &c);
        cr_assert(eq(str, c.u.op.operation_type, "INSTALL"));
        cr_assert(c.u.op.has_operation_type && c.u.op.has_args);
        cr_assert(eq(str, c.u.op.args_json,
                     "{\"z\":0.1,\"a\":[1e2,\"x y\"],\"big\":"
                     "123456789012345678901234567890}"));
        cmd_free(&c);
}

Test(sr_defs_json, operation_post_without_args_stores_null_meaning_empty)
{
        sr_defcmd_t c;

        accepted(SR_DEFCMD_PUT_OPERATION, true,
                 "{\"operation_type\": \"REBOOT\"}", &c);
        cr_assert(c.u.op.has_args);
        cr_assert(eq(ptr, c.u.op.args_json, NULL));
}

Test(sr_defs_json, operation_args_must_be_an_object_and_type_known)
{
        refused(SR_DEFCMD_PUT_OPERATION, true,
                "{\"operation_type\": \"REBOOT\", \"args\": [1]}",
                "args: expected an object, got [1]");
        refused(SR_DEFCMD_PUT_OPERATION, true,
                "{\"operation_type\": \"FLY\"}",
                "operation_type: expected an Esper command name such as "
                "INSTALL, REBOOT or LOCK, got \"FLY\"");
        refused(SR_DEFCMD_PUT_OPERATION, true, "{\"args\": {}}",
                "operation_type: required field missing");
}

Test(sr_defs_json, operation_args_over_64_kib_are_refused)
{
        size_t n = 70000;
        char *body = malloc(n + 100);
        sr_defcmd_t c;
        sr_errctx_t ec;

        strcpy(body, "{\"operation_type\": \"LOCK\", \"args\": {\"x\": \"");
        memset(body + strlen(body), 'a', n);
        strcpy(body + strlen("{\"operation_type\": \"LOCK\", \"args\": "
                             "{\"x\": \"") + n, "\"}}");
        cr_assert(eq(int, parse(SR_DEFCMD_PUT_OPERATION, true, body, &c, &ec),
                     SR_ERR_INVALID));
        cr_assert(strstr(ec.msg, "args: too large") != NULL, "%s", ec.msg);
        free(body);
}

Test(sr_defs_json, operation_put_of_a_whole_operation_ignores_read_only_fields)
{
        sr_defcmd_t c;

        accepted(SR_DEFCMD_PUT_OPERATION, false,
                 "{\"id\": \"" OP_ID "\", \"operation_list_id\": \"" OL_ID
                 "\", \"pipeline_id\": \"" PL_ID "\", \"operation_type\": "
                 "\"LOCK\", \"args\": {\"a\": 1}, \"created_by\": null, "
                 "\"updated_by\": null, \"created_at\": null, "
                 "\"updated_at\": null, \"version\": 4}",
                 &c);
        cr_assert(eq(str, c.u.op.operation_type, "LOCK"));
        cr_assert(eq(str, c.u.op.args_json, "{\"a\":1}"));
        cr_assert(c.has_expected_version && c.expected_version == 4);
        cmd_free(&c);
        accepted(SR_DEFCMD_PUT_OPERATION, false, "{\"version\": 4}", &c);
        cr_assert(true && !c.u.op.has_args && !c.u.op.has_operation_type);
}

Test(sr_defs_json, operation_refused_after_args_frees_them)
{
        /* args read first, then a wrong field: nothing leaks (ASan) */
        refused(SR_DEFCMD_PUT_OPERATION, true,
                "{\"args\": {\"a\": 1}, \"operation_type\": 3}",
                "operation_type: expected");
}

/* ------------------------------------------------------------ deletes */

Test(sr_defs_json, delete_takes_no_body_or_version_alone)
{
        sr_defcmd_t c;

        accepted(SR_DEFCMD_DELETE_STAGE, false, NULL, &c);
        cr_assert(true && !c.has_expected_version);
        accepted(SR_DEFCMD_DELETE_PIPELINE, false, "{\"version\": 9}", &c);
        cr_assert(c.has_expected_version && c.expected_version == 9);
        accepted(SR_DEFCMD_REMOVE_TARGET, false, "{}", &c);
        cr_assert(true && !c.has_expected_version);
        refused(SR_DEFCMD_DELETE_OPERATION, false, "{\"name\": \"x\"}",
                "body: unknown field \"name\"; allowed: version");
}

Test(sr_defs_json, start_run_takes_an_empty_object_and_run_ended_no_body)
{
        sr_defcmd_t c;

        accepted(SR_DEFCMD_START_PIPELINE_RUN, true, "{}", &c);
        accepted(SR_DEFCMD_START_PIPELINE_RUN, true, NULL, &c);
        refused(SR_DEFCMD_START_PIPELINE_RUN, true, "{\"version\": 1}",
                "body: unknown field \"version\"; allowed: none");
        refused(SR_DEFCMD_RUN_ENDED, false, "{}",
                "body: RunEnded takes no body");
}

/* ------------------------------------------------------------ bulk */

static sr_defs_bulk_t bulk_ok(const char *body, uint32_t max)
{
        sr_defs_bulk_t b;
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_defs_json_bulk(body, strlen(body), max, &b, &ec),
                     SR_OK), "%s", ec.msg);
        return b;
}

Test(sr_defs_json, bulk_of_device_id_strings_keeps_them_all)
{
        sr_defs_bulk_t b = bulk_ok("[\"" DV_ID "\", \"" DV2_ID "\"]", 0);

        cr_assert(eq(u32, b.n_items, 2));
        cr_assert(eq(u32, b.n_errors, 0));
        cr_assert(same_uuid(&b.items[0].device_id, DV_ID));
        cr_assert(same_uuid(&b.items[1].device_id, DV2_ID));
        cr_assert(b.items[0].is_active && b.items[1].is_active);
        cr_assert(b.index[0] == 0 && b.index[1] == 1);
        sr_defs_bulk_fini(&b);
        cr_assert(eq(ptr, b.items, NULL));
}

Test(sr_defs_json, bulk_of_objects_reads_every_field_keeping_objects_as_written)
{
        sr_defs_bulk_t b = bulk_ok(
                "[{\"device_id\": \"" DV_ID "\", \"device_name\": \"pos\", "
                "\"device_alias\": \"a\", \"device_meta\": { \"k\": 0.1 }, "
                "\"args\": {\"v\" : 1e2}, \"is_active\": false}, "
                "{\"device_id\": \"" DV2_ID "\"}]",
                10);

        cr_assert(eq(u32, b.n_items, 2));
        cr_assert(eq(str, b.items[0].device_name, "pos"));
        cr_assert(eq(str, b.items[0].device_alias, "a"));
        cr_assert(eq(str, b.items[0].device_meta_json, "{\"k\":0.1}"));
        cr_assert(eq(str, b.items[0].args_json, "{\"v\":1e2}"));
        cr_assert(true && !b.items[0].is_active);
        cr_assert(b.items[1].is_active);
        cr_assert(eq(str, b.items[1].device_name, ""));
        cr_assert(eq(ptr, b.items[1].args_json, NULL));
        cr_assert(eq(ptr, b.items[1].device_meta_json, NULL));
        sr_defs_bulk_fini(&b);
}

Test(sr_defs_json, bulk_invalid_items_are_reported_by_index_and_left_out)
{
        char body[1200];
        sr_defs_bulk_t b;

        snprintf(body, sizeof(body),
                 "[\"" DV_ID "\", "                            /* 0 ok */
                 "\"not-a-uuid\", "                            /* 1 */
                 "{\"device_id\": \"" DV2_ID "\", \"device_name\": "
                 "\"%0256d\"}, "                               /* 2 */
                 "{\"device_id\": \"" DV_ID "\", \"args\": {\"a\": 1}}, "
                                                               /* 3 dup */
                 "42, "                                        /* 4 */
                 "{\"device_id\": \"" DV2_ID "\", \"colour\": 1}, " /* 5 */
                 "{\"device_id\": \"" DV2_ID "\", "
                 "\"device_meta\": {\"m\": true}}, "           /* 6 ok */
                 "{\"device_name\": \"x\"}]",                  /* 7 */
                 0);
        b = bulk_ok(body, 100);
        cr_assert(eq(u32, b.n_items, 2));
        cr_assert(b.index[0] == 0 && b.index[1] == 6);
        cr_assert(same_uuid(&b.items[1].device_id, DV2_ID));
        cr_assert(eq(str, b.items[1].device_meta_json, "{\"m\":true}"));
        cr_assert(eq(u32, b.n_errors, 6));
        cr_assert(eq(u32, b.errors[0].index, 1));
        cr_assert(b.errors[0].has_device_id);
        cr_assert(eq(str, b.errors[0].device_id, "not-a-uuid"));
        cr_assert(strstr(b.errors[0].message,
                         "device_id: expected a UUID string, got "
                         "\"not-a-uuid\"") != NULL,
                  "%s", b.errors[0].message);
        cr_assert(eq(u32, b.errors[1].index, 2));
        cr_assert(eq(str, b.errors[1].device_id, DV2_ID));
        cr_assert(strstr(b.errors[1].message,
                         "device_name: too long (256") != NULL,
                  "%s", b.errors[1].message);
        cr_assert(eq(u32, b.errors[2].index, 3));
        cr_assert(eq(str, b.errors[2].device_id, DV_ID));
        cr_assert(strstr(b.errors[2].message, "is already item 0 of this "
                                              "body") != NULL,
                  "%s", b.errors[2].message);
        cr_assert(eq(u32, b.errors[3].index, 4));
        cr_assert(true && !b.errors[3].has_device_id);
        cr_assert(strstr(b.errors[3].message, "item: expected a device id "
                                              "string or a target object, "
                                              "got 42") != NULL,
                  "%s", b.errors[3].message);
        cr_assert(eq(u32, b.errors[4].index, 5));
        cr_assert(strstr(b.errors[4].message, "item: unknown field "
                                              "\"colour\"") != NULL,
                  "%s", b.errors[4].message);
        cr_assert(eq(u32, b.errors[5].index, 7));
        cr_assert(true && !b.errors[5].has_device_id);
        cr_assert(strstr(b.errors[5].message, "device_id: required field "
                                              "missing") != NULL,
                  "%s", b.errors[5].message);
        sr_defs_bulk_fini(&b);
}

Test(sr_defs_json, bulk_duplicate_strings_keep_the_first_only)
{
        sr_defs_bulk_t b = bulk_ok("[\"" DV_ID "\", \"" DV_ID "\", \""
                                   DV_ID "\"]",
                                   0);

        cr_assert(eq(u32, b.n_items, 1));
        cr_assert(eq(u32, b.index[0], 0));
        cr_assert(eq(u32, b.n_errors, 2));
        cr_assert(b.errors[0].index == 1 && b.errors[1].index == 2);
        cr_assert(strstr(b.errors[1].message, "already item 0") != NULL, "%s",
                  b.errors[1].message);
        sr_defs_bulk_fini(&b);
}

Test(sr_defs_json, bulk_over_max_items_refuses_the_whole_body)
{
        sr_defs_bulk_t b;
        sr_errctx_t ec = { 0 };
        const char *body = "[\"" DV_ID "\", \"" DV2_ID "\", \"" OTHER "\"]";

        cr_assert(eq(int, sr_defs_json_bulk(body, strlen(body), 2, &b, &ec),
                     SR_ERR_INVALID));
        cr_assert(eq(str, ec.msg, "body: 3 items, at most 2 per call "
                                  "(gateway.bulk.max.items); send the rest "
                                  "in another call"));
}

Test(sr_defs_json, bulk_body_that_is_not_an_array_is_refused)
{
        sr_defs_bulk_t b;
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_defs_json_bulk("{}", 2, 0, &b, &ec),
                     SR_ERR_INVALID));
        cr_assert(strstr(ec.msg, "body: expected an array of device ids or "
                                 "of targets, got {}") != NULL,
                  "%s", ec.msg);
        cr_assert(eq(int, sr_defs_json_bulk("[", 1, 0, &b, &ec),
                     SR_ERR_INVALID));
        cr_assert(strstr(ec.msg, "malformed JSON") != NULL, "%s", ec.msg);
}

Test(sr_defs_json, bulk_of_no_items_is_empty)
{
        sr_defs_bulk_t b = bulk_ok("[]", 5);

        cr_assert(b.n_items == 0 && b.n_errors == 0);
        sr_defs_bulk_fini(&b);
}

/* ------------------------------------------------------------ entities */

static void assert_renders(json_t *v, const char *want)
{
        sr_buf_t buf = { NULL, 0 };

        cr_assert(not(eq(ptr, v, NULL)));
        cr_assert(eq(int, sr_json_dump(v, &buf), SR_OK));
        json_decref(v);
        cr_assert(eq(str, (char *)buf.ptr, (char *)want));
        free(buf.ptr);
}

/* jansson's type tests are macros starting with '(', which Criterion's
 * cr_assert() cannot take as its first token. */
static bool is_null(const json_t *v)
{
        return json_is_null(v);
}

static bool is_true(const json_t *v)
{
        return json_is_true(v);
}

static sr_def_audit_t audit(uint32_t version)
{
        return (sr_def_audit_t){ version, T_CREATED, T_UPDATED };
}

#define AUDIT_JSON                                                      \
        "\"created_by\":null,\"updated_by\":null,"                      \
        "\"created_at\":\"2026-11-28T16:00:00.123Z\","                  \
        "\"updated_at\":\"2026-11-28T16:05:00.000Z\""

Test(sr_defs_json, pipeline_renders_every_esper_field_in_order)
{
        sr_def_pipeline_t p;
        bool valid = true;

        memset(&p, 0, sizeof(p));
        p.id = uuid(PL_ID);
        snprintf(p.enterprise_id, sizeof(p.enterprise_id), "ent-1");
        snprintf(p.name, sizeof(p.name), "Rollout");
        p.is_active = true;
        p.timeout_seconds = 86400;
        p.a = audit(3);
        assert_renders(sr_json_def_pipeline(&p, &valid),
                       "{\"id\":\"" PL_ID "\",\"enterprise_id\":\"ent-1\","
                       "\"name\":\"Rollout\",\"description\":\"\","
                       "\"is_active\":true,\"is_valid\":true,"
                       "\"is_visible\":true,\"is_archived\":false,"
                       "\"is_default\":false,\"timeout_seconds\":86400,"
                       AUDIT_JSON ",\"version\":3,\"deleted_at\":null}");
}

Test(sr_defs_json, deleted_pipeline_is_archived_and_is_valid_may_be_null)
{
        sr_def_pipeline_t p;
        json_t *v;

        memset(&p, 0, sizeof(p));
        p.id = uuid(PL_ID);
        p.deleted_at = T_UPDATED;
        p.a = audit(4);
        v = sr_json_def_pipeline(&p, NULL);
        cr_assert(not(eq(ptr, v, NULL)));
        cr_assert(is_true(json_object_get(v, "is_archived")));
        cr_assert(is_null(json_object_get(v, "is_valid")));
        cr_assert(eq(str, (char *)json_string_value(
                                  json_object_get(v, "deleted_at")),
                     "2026-11-28T16:05:00.000Z"));
        json_decref(v);
}

Test(sr_defs_json, stage_renders_order_and_null_default_timeout)
{
        sr_def_stage_t s;
        sr_uuid_t pl = uuid(PL_ID);

        memset(&s, 0, sizeof(s));
        s.id = uuid(ST_ID);
        snprintf(s.name, sizeof(s.name), "canary");
        snprintf(s.description, sizeof(s.description), "first");
        s.order = 2;
        s.a = audit(1);
        assert_renders(sr_json_def_stage(&s, "ent-1", &pl),
                       "{\"id\":\"" ST_ID "\",\"enterprise_id\":\"ent-1\","
                       "\"pipeline_id\":\"" PL_ID "\",\"name\":\"canary\","
                       "\"description\":\"first\",\"timeout_seconds\":null,"
                       "\"order\":2," AUDIT_JSON ",\"version\":1}");
        s.timeout_seconds = 600;
        {
                json_t *v = sr_json_def_stage(&s, "ent-1", &pl);

                cr_assert(eq(i64, json_integer_value(json_object_get(
                                          v, "timeout_seconds")),
                             600));
                json_decref(v);
        }
}

Test(sr_defs_json, target_list_renders_its_type_upper_case)
{
        sr_def_target_list_t l;
        sr_uuid_t pl = uuid(PL_ID);

        memset(&l, 0, sizeof(l));
        l.id = uuid(TL_ID);
        snprintf(l.name, sizeof(l.name), "wave 1");
        l.type = SR_TL_GROUPS;
        l.a = audit(2);
        assert_renders(sr_json_def_target_list(&l, &pl),
                       "{\"id\":\"" TL_ID "\",\"pipeline_id\":\"" PL_ID "\","
                       "\"name\":\"wave 1\",\"target_list_type\":\"GROUPS\","
                       AUDIT_JSON ",\"version\":2}");
}

Test(sr_defs_json, target_renders_meta_and_args_as_objects_or_null)
{
        sr_def_target_t t;
        sr_uuid_t pl = uuid(PL_ID);
        char meta[] = "{\"k\":0.5}";

        memset(&t, 0, sizeof(t));
        t.id = uuid(OP_ID);
        t.target_list_id = uuid(TL_ID);
        t.device_id = uuid(DV_ID);
        snprintf(t.device_name, sizeof(t.device_name), "pos-1");
        t.is_active = true;
        t.device_meta_json = meta;
        t.a = audit(1);
        assert_renders(sr_json_def_target(&t, &pl),
                       "{\"id\":\"" OP_ID "\",\"pipeline_id\":\"" PL_ID "\","
                       "\"target_list_id\":\"" TL_ID "\",\"device_id\":\""
                       DV_ID "\",\"device_name\":\"pos-1\","
                       "\"device_alias\":\"\",\"is_active\":true,"
                       "\"device_meta\":{\"k\":0.5},\"args\":null,"
                       AUDIT_JSON ",\"version\":1}");
}

Test(sr_defs_json, group_link_and_operation_list_render)
{
        sr_def_group_link_t g;
        sr_def_oplist_t o;
        sr_uuid_t pl = uuid(PL_ID);

        memset(&g, 0, sizeof(g));
        g.id = uuid(OTHER);
        g.target_list_id = uuid(TL_ID);
        g.device_group_id = uuid(GR_ID);
        g.a = audit(1);
        assert_renders(sr_json_def_group_link(&g, &pl),
                       "{\"id\":\"" OTHER "\",\"pipeline_id\":\"" PL_ID
                       "\",\"device_group_id\":\"" GR_ID
                       "\",\"target_list_id\":\"" TL_ID "\"," AUDIT_JSON
                       ",\"version\":1}");
        memset(&o, 0, sizeof(o));
        o.id = uuid(OL_ID);
        o.stage_id = uuid(ST_ID);
        snprintf(o.name, sizeof(o.name), "ops");
        o.a = audit(5);
        assert_renders(sr_json_def_oplist(&o, &pl),
                       "{\"id\":\"" OL_ID "\",\"pipeline_id\":\"" PL_ID "\","
                       "\"stage_id\":\"" ST_ID "\",\"name\":\"ops\","
                       "\"description\":\"\"," AUDIT_JSON ",\"version\":5}");
}

Test(sr_defs_json, a_group_member_renders_as_espers_device_nulls_for_the_rest)
{
        static const char tail[] =
                "\"serial\":null,\"template_name\":null,"
                "\"manufacturer\":null,\"android_version\":null,"
                "\"api_level\":null,\"is_gms\":null,\"is_active\":null,"
                "\"model\":null,\"esper_client\":null}";
        char want[512];
        sr_def_group_member_t m;

        memset(&m, 0, sizeof(m));
        m.group_id = uuid(GR_ID);
        m.device_id = uuid(OTHER);
        snprintf(m.device_name, sizeof(m.device_name), "kiosk \"7\"");
        snprintf(want, sizeof(want),
                 "{\"id\":\"" OTHER "\",\"device_name\":\"kiosk \\\"7\\\"\","
                 "\"alias_name\":null,%s", tail);
        assert_renders(sr_json_group_device(&m), want);
        snprintf(m.device_alias, sizeof(m.device_alias), "front desk");
        snprintf(want, sizeof(want),
                 "{\"id\":\"" OTHER "\",\"device_name\":\"kiosk \\\"7\\\"\","
                 "\"alias_name\":\"front desk\",%s", tail);
        assert_renders(sr_json_group_device(&m), want);
}

Test(sr_defs_json, operation_renders_args_object_and_empty_object_when_null)
{
        sr_def_operation_t x;
        sr_uuid_t pl = uuid(PL_ID);
        char args[] = "{\"package_name\":\"com.x\",\"n\":2}";

        memset(&x, 0, sizeof(x));
        x.id = uuid(OP_ID);
        x.operation_list_id = uuid(OL_ID);
        snprintf(x.operation_type, sizeof(x.operation_type), "INSTALL");
        x.a = audit(1);
        assert_renders(sr_json_def_operation(&x, &pl),
                       "{\"id\":\"" OP_ID "\",\"operation_list_id\":\"" OL_ID
                       "\",\"pipeline_id\":\"" PL_ID "\","
                       "\"operation_type\":\"INSTALL\",\"args\":{},"
                       AUDIT_JSON ",\"version\":1}");
        x.args_json = args;
        {
                json_t *v = sr_json_def_operation(&x, &pl);
                char *got = json_dumps(json_object_get(v, "args"),
                                       JSON_COMPACT);

                cr_assert(eq(str, got, args));
                free(got);
                json_decref(v);
        }
}

Test(sr_defs_json, damaged_args_text_gives_null_for_a_500)
{
        sr_def_operation_t x;
        sr_uuid_t pl = uuid(PL_ID);
        char args[] = "[1]";

        memset(&x, 0, sizeof(x));
        x.args_json = args;
        cr_assert(eq(ptr, sr_json_def_operation(&x, &pl), NULL));
}

Test(sr_defs_json, bad_utf8_in_a_stored_name_renders_as_replacement)
{
        sr_def_target_list_t l;
        sr_uuid_t pl = uuid(PL_ID);
        json_t *v;

        memset(&l, 0, sizeof(l));
        memcpy(l.name, "a\xff" "b", 4);
        v = sr_json_def_target_list(&l, &pl);
        cr_assert(eq(str, (char *)json_string_value(json_object_get(v,
                                                                    "name")),
                     "a\xef\xbf\xbd" "b"));
        json_decref(v);
}

Test(sr_defs_json, bulk_answer_sums_counts_and_lists_errors)
{
        sr_defs_bulk_t b = bulk_ok("[\"bad\", 7, \"" DV_ID "\"]", 0);

        assert_renders(sr_json_def_bulk_answer(1, 1, 0, &b),
                       "{\"created_count\":1,\"added_count\":1,"
                       "\"skipped_count\":0,\"errors\":[{\"index\":0,"
                       "\"device_id\":\"bad\",\"message\":\"device_id: "
                       "expected a UUID string, got \\\"bad\\\"\"},"
                       "{\"index\":1,\"device_id\":null,\"message\":\"item: "
                       "expected a device id string or a target object, got "
                       "7\"}]}");
        sr_defs_bulk_fini(&b);
        assert_renders(sr_json_def_bulk_answer(0, 0, 3, NULL),
                       "{\"created_count\":0,\"added_count\":0,"
                       "\"skipped_count\":3,\"errors\":[]}");
}

Test(sr_defs_json, type_filter_takes_the_lower_case_names_only)
{
        sr_tl_type_t t;

        cr_assert(sr_defs_json_type_filter("groups", 6, &t) &&
                  t == SR_TL_GROUPS);
        cr_assert(sr_defs_json_type_filter("devices", 7, &t) &&
                  t == SR_TL_DEVICES);
        cr_assert(sr_defs_json_type_filter("collections", 11, &t) &&
                  t == SR_TL_COLLECTIONS);
        cr_assert(true && !sr_defs_json_type_filter("GROUPS", 6, &t));
        cr_assert(true && !sr_defs_json_type_filter("group", 5, &t));
}

Test(sr_defs_json, args_under_an_escaped_key_are_kept_as_written)
{
        sr_defcmd_t c;
        sr_defs_bulk_t b;

        /* the key is compared once its escapes are decoded, as jansson
         * reads it: the text is found, not printed again */
        accepted(SR_DEFCMD_PUT_OPERATION, true,
                 "{\"operation_type\": \"LOCK\", \"\\u0061rgs\": "
                 "{\"b\": 1, \"a\": 0.1}}",
                 &c);
        cr_assert(eq(str, c.u.op.args_json, "{\"b\":1,\"a\":0.1}"));
        cmd_free(&c);
        b = bulk_ok("[{\"device_id\": \"" DV_ID "\", \"\\u0061rgs\": "
                    "{\"b\": 1e2}, \"device\\u005fmeta\": {\"z\": 1, "
                    "\"a\": 2}}]",
                    0);
        cr_assert(eq(u32, b.n_items, 1));
        cr_assert(eq(str, b.items[0].args_json, "{\"b\":1e2}"));
        cr_assert(eq(str, b.items[0].device_meta_json,
                     "{\"z\":1,\"a\":2}"));
        sr_defs_bulk_fini(&b);
}

Test(sr_defs_json, description_over_255_bytes_is_refused)
{
        char body[400];

        snprintf(body, sizeof(body),
                 "{\"name\": \"s\", \"description\": \"%0256d\"}", 0);
        refused(SR_DEFCMD_PUT_STAGE, true, body,
                "description: too long (256 bytes, at most 255)");
}

Test(sr_defs_json, bulk_item_with_a_wrong_type_is_an_error_of_its_own)
{
        sr_defs_bulk_t b = bulk_ok(
                "[{\"device_id\": \"" DV_ID "\", \"is_active\": \"no\"}, "
                "{\"device_id\": \"" DV2_ID "\", \"args\": [1]}, "
                "{\"device_id\": \"" OTHER "\", \"is_active\": false}]",
                0);

        cr_assert(eq(u32, b.n_items, 1));
        cr_assert(eq(u32, b.index[0], 2));
        cr_assert(eq(u32, b.n_errors, 2));
        cr_assert(eq(str, b.errors[0].message,
                     "is_active: expected true or false, got \"no\""));
        cr_assert(eq(str, b.errors[0].device_id, DV_ID));
        cr_assert(eq(str, b.errors[1].message,
                     "args: expected an object, got [1]"));
        sr_defs_bulk_fini(&b);
}
