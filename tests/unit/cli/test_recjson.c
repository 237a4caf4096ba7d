/* tests/unit/cli/test_recjson.c - `sr-cli dump`'s JSON of the commands of
 * Command version 2 (workers/cli/recjson.c): every field as in
 * schemas/command.avsc, digests as lower-case hex, an AppendTargets chunk
 * with the digest its seal must count (sr_targets_digest()); and of the
 * changelog's open-stage records (ChangelogRecord version 2): a stage run's
 * `targets` object and seal, a StageChunk in full. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdio.h>
#include <string.h>

#include "recjson.h"
#include "sr_groups.h"
#include "sr_digest.h"

static void base(sr_command_t *c, sr_cmd_kind_t kind)
{
        memset(c, 0, sizeof(*c));
        c->kind = kind;
        sr_uuid_v5(&c->command_id, &sr_ns, "cmd");
        sr_uuid_v5(&c->pipeline_run_id, &sr_ns, "run");
        snprintf(c->enterprise_id, sizeof(c->enterprise_id), "acme");
        c->issued_at = 1764950400000;
}

static const char *jstr(const json_t *o, const char *k)
{
        return json_string_value(json_object_get(o, k));
}

static json_int_t jint(const json_t *o, const char *k)
{
        return json_integer_value(json_object_get(o, k));
}

static void hex(const uint8_t *d, char out[2 * SR_DIGEST_LEN + 1])
{
        for (int i = 0; i < SR_DIGEST_LEN; i++)
                snprintf(out + 2 * i, 3, "%02x", d[i]);
}

Test(recjson, append_targets_shows_its_chunk_items_and_digest)
{
        sr_spec_target_t t[2];
        uint8_t d[SR_DIGEST_LEN];
        char want[2 * SR_DIGEST_LEN + 1];
        sr_command_t c;
        json_t *j, *items;

        memset(t, 0, sizeof(t));
        for (int i = 0; i < 2; i++) {
                sr_uuid_v5(&t[i].device_id, &sr_ns, "dev-%d", i);
                snprintf(t[i].device_name, sizeof(t[i].device_name), "d%d",
                         i);
        }
        sr_uuid_v5(&t[1].target_id, &sr_ns, "target-1");
        base(&c, SR_CMD_APPEND_TARGETS);
        c.u.append.stage_index = 2;
        c.u.append.chunk = 7;
        c.u.append.n_targets = 2;
        c.u.append.targets = t;
        j = sr_recjson_command(&c);
        cr_assert(not(eq(ptr, j, NULL)));
        cr_assert(eq(str, (char *)jstr(j, "kind"), "append_targets"));
        cr_assert(eq(i64, jint(j, "stage_index"), 2));
        cr_assert(eq(i64, jint(j, "chunk"), 7));
        items = json_object_get(j, "targets");
        cr_assert(eq(sz, json_array_size(items), 2));
        cr_assert(eq(str, (char *)jstr(json_array_get(items, 1),
                                        "device_name"), "d1"));
        cr_assert(eq(int, sr_targets_digest(t, 2, d, NULL), SR_OK));
        hex(d, want);
        cr_assert(eq(str, (char *)jstr(j, "digest"), want));
        json_decref(j);
}

Test(recjson, seal_targets_shows_counts_and_the_digest_in_hex)
{
        sr_command_t c;
        json_t *j;

        base(&c, SR_CMD_SEAL_TARGETS);
        c.u.seal.stage_index = 1;
        c.u.seal.chunks = 20;
        c.u.seal.count = 20000;
        for (int i = 0; i < SR_DIGEST_LEN; i++)
                c.u.seal.digest[i] = (uint8_t)(i * 8 + 7);
        j = sr_recjson_command(&c);
        cr_assert(eq(str, (char *)jstr(j, "kind"), "seal_targets"));
        cr_assert(eq(i64, jint(j, "chunks"), 20));
        cr_assert(eq(i64, jint(j, "count"), 20000));
        cr_assert(eq(str, (char *)jstr(j, "digest"),
                     "070f171f272f373f474f575f676f777f"
                     "878f979fa7afb7bfc7cfd7dfe7eff7ff"));
        json_decref(j);
}

Test(recjson, stage_step_shows_step_and_cursor)
{
        sr_command_t c;
        json_t *j;

        base(&c, SR_CMD_STAGE_STEP);
        c.u.step.stage_index = 3;
        c.u.step.cursor = 41;
        snprintf(c.u.step.step, sizeof(c.u.step.step), "cancel");
        j = sr_recjson_command(&c);
        cr_assert(eq(str, (char *)jstr(j, "kind"), "stage_step"));
        cr_assert(eq(str, (char *)jstr(j, "step"), "cancel"));
        cr_assert(eq(i64, jint(j, "cursor"), 41));
        cr_assert(eq(i64, jint(j, "stage_index"), 3));
        json_decref(j);
}

Test(recjson, an_open_stage_of_a_create_shows_append_and_expected)
{
        sr_spec_stage_t st;
        sr_command_t c;
        json_t *j, *targets;

        memset(&st, 0, sizeof(st));
        snprintf(st.name, sizeof(st.name), "fleet");
        st.append_targets = true;
        st.expected_targets = 45000;
        base(&c, SR_CMD_CREATE_RUN);
        c.u.create.spec.n_stages = 1;
        c.u.create.spec.stages = &st;
        j = sr_recjson_command(&c);
        targets = json_object_get(json_array_get(json_object_get(
                        json_object_get(j, "spec"), "stages"), 0), "targets");
        cr_assert(eq(int, json_typeof(targets), JSON_OBJECT));
        cr_assert(eq(int, json_typeof(json_object_get(targets, "append")),
                     JSON_TRUE));
        cr_assert(eq(i64, jint(targets, "expected"), 45000));
        json_decref(j);
}

/* A stage run's changelog record; open: an open stage. */
static void stage_run_record(sr_changelog_t *cl, bool open)
{
        sr_stage_run_t *sr = &cl->u.entity.u.sr;

        memset(cl, 0, sizeof(*cl));
        cl->kind = SR_CL_ENTITY;
        cl->u.entity.type = SR_ENT_STAGE_RUN;
        sr_uuid_v5(&sr->m.id, &sr_ns, "run/stage/1");
        sr_uuid_v5(&sr->pipeline_run_id, &sr_ns, "run");
        sr->index = 1;
        sr->m.status = SR_ST_PROCESSING;
        sr->append_targets = open;
}

Test(recjson, a_sealed_open_stage_run_shows_its_targets_object_and_seal)
{
        sr_changelog_t cl;
        sr_stage_run_t *sr = &cl.u.entity.u.sr;
        json_t *j, *t;

        stage_run_record(&cl, true);
        sr->expected_targets = 45000;
        sr->chunks_applied = 45;
        sr->targets_appended = 44990;
        sr->sealed = true;
        sr->seal_chunks = 45;
        sr->seal_count = 44990;
        for (int i = 0; i < SR_DIGEST_LEN; i++)
                sr->seal_digest[i] = (uint8_t)(i * 8 + 7);
        j = sr_recjson_changelog(&cl);
        cr_assert(not(eq(ptr, j, NULL)));
        t = json_object_get(json_object_get(j, "state"), "targets");
        cr_assert(eq(int, json_typeof(t), JSON_OBJECT));
        cr_assert(eq(sz, json_object_size(t), 8));
        cr_assert(eq(int, json_typeof(json_object_get(t, "append")),
                     JSON_TRUE));
        cr_assert(eq(i64, jint(t, "expected"), 45000));
        cr_assert(eq(i64, jint(t, "appended"), 44990));
        cr_assert(eq(i64, jint(t, "chunks"), 45));
        cr_assert(eq(int, json_typeof(json_object_get(t, "sealed")),
                     JSON_TRUE));
        cr_assert(eq(i64, jint(t, "seal_chunks"), 45));
        cr_assert(eq(i64, jint(t, "seal_count"), 44990));
        cr_assert(eq(str, (char *)jstr(t, "seal_digest"),
                     "070f171f272f373f474f575f676f777f"
                     "878f979fa7afb7bfc7cfd7dfe7eff7ff"));
        json_decref(j);
}

Test(recjson, an_unsealed_open_stage_run_shows_nulls_for_what_is_not_said)
{
        sr_changelog_t cl;
        sr_stage_run_t *sr = &cl.u.entity.u.sr;
        json_t *j, *t;

        stage_run_record(&cl, true);
        sr->chunks_applied = 2;
        sr->targets_appended = 7;
        j = sr_recjson_changelog(&cl);
        t = json_object_get(json_object_get(j, "state"), "targets");
        cr_assert(eq(int, json_typeof(t), JSON_OBJECT));
        cr_assert(eq(int, json_typeof(json_object_get(t, "expected")),
                     JSON_NULL));
        cr_assert(eq(i64, jint(t, "appended"), 7));
        cr_assert(eq(i64, jint(t, "chunks"), 2));
        cr_assert(eq(int, json_typeof(json_object_get(t, "sealed")),
                     JSON_FALSE));
        cr_assert(eq(i64, jint(t, "seal_chunks"), 0));
        cr_assert(eq(i64, jint(t, "seal_count"), 0));
        cr_assert(eq(int, json_typeof(json_object_get(t, "seal_digest")),
                     JSON_NULL));
        json_decref(j);
}

Test(recjson, an_inline_stage_run_keeps_its_targets_list)
{
        sr_spec_target_t t[1];
        sr_changelog_t cl;
        sr_stage_run_t *sr = &cl.u.entity.u.sr;
        json_t *j, *a;

        stage_run_record(&cl, false);
        memset(t, 0, sizeof(t));
        sr_uuid_v5(&t[0].device_id, &sr_ns, "dev-0");
        snprintf(t[0].device_name, sizeof(t[0].device_name), "d0");
        sr->n_targets = 1;
        sr->targets = t;
        j = sr_recjson_changelog(&cl);
        a = json_object_get(json_object_get(j, "state"), "targets");
        cr_assert(eq(int, json_typeof(a), JSON_ARRAY));
        cr_assert(eq(sz, json_array_size(a), 1));
        cr_assert(eq(str, (char *)jstr(json_array_get(a, 0), "device_name"),
                     "d0"));
        json_decref(j);
}

Test(recjson, a_chunk_record_shows_run_stage_chunk_digest_count_and_targets)
{
        sr_spec_target_t t[3];
        sr_changelog_t cl;
        char run[SR_UUID_STR_LEN + 1], want[2 * SR_DIGEST_LEN + 1];
        json_t *j, *a;

        memset(t, 0, sizeof(t));
        for (int i = 0; i < 3; i++) {
                sr_uuid_v5(&t[i].device_id, &sr_ns, "dev-%d", i);
                snprintf(t[i].device_name, sizeof(t[i].device_name), "d%d",
                         i);
        }
        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_CHUNK;
        sr_uuid_v5(&cl.u.chunk.pipeline_run_id, &sr_ns, "run");
        cl.u.chunk.stage_index = 2;
        cl.u.chunk.chunk = 9;
        cr_assert(eq(int, sr_targets_digest(t, 3, cl.u.chunk.digest, NULL),
                     SR_OK));
        cl.u.chunk.n_targets = 3;
        cl.u.chunk.targets = t;
        j = sr_recjson_changelog(&cl);
        cr_assert(not(eq(ptr, j, NULL)));
        cr_assert(eq(str, (char *)jstr(j, "kind"), "chunk"));
        sr_uuid_fmt(&cl.u.chunk.pipeline_run_id, run);
        cr_assert(eq(str, (char *)jstr(j, "pipeline_run_id"), run));
        cr_assert(eq(i64, jint(j, "stage_index"), 2));
        cr_assert(eq(i64, jint(j, "chunk"), 9));
        hex(cl.u.chunk.digest, want);
        cr_assert(eq(str, (char *)jstr(j, "digest"), want));
        cr_assert(eq(i64, jint(j, "count"), 3));
        a = json_object_get(j, "targets");
        cr_assert(eq(sz, json_array_size(a), 3));
        cr_assert(eq(str, (char *)jstr(json_array_get(a, 2), "device_name"),
                     "d2"));
        json_decref(j);
}

/* ------------------------------------------------------------ definitions
 * (Command version 5, ChangelogRecord version 3, Reply version 2,
 * DefinitionChanged): every field of the record as the .avsc names it,
 * checked against the built-in schema's own field list. */

/* The fields of the record named @p name in the schema of id @p id. */
static json_t *avsc_fields(int32_t id, const char *name)
{
        json_t *root = json_loads(sr_codec_schema_json(id), 0, NULL);
        json_t *stack[64], *found = NULL;
        int n = 0;

        cr_assert(not(eq(ptr, root, NULL)));
        stack[n++] = root;
        while (n && !found) {
                json_t *v = stack[--n], *x;
                const char *k;
                size_t i;

                if (json_is_object(v)) {
                        if (json_is_string(json_object_get(v, "name")) &&
                            !strcmp(jstr(v, "name"), name) &&
                            json_is_array(json_object_get(v, "fields"))) {
                                found = json_object_get(v, "fields");
                                break;
                        }
                        json_object_foreach(v, k, x)
                                if (n < 64 && (json_is_object(x) ||
                                               json_is_array(x)))
                                        stack[n++] = x;
                } else if (json_is_array(v)) {
                        json_array_foreach(v, i, x)
                                if (n < 64 && (json_is_object(x) ||
                                               json_is_array(x)))
                                        stack[n++] = x;
                }
        }
        cr_assert(not(eq(ptr, found, NULL)), "no record %s in schema %d",
                  name, (int)id);
        json_incref(found);
        json_decref(root);
        return found;
}

/* Every field of record @p name (schema @p id) is a key of @p o. */
static void has_every_field(const json_t *o, int32_t id, const char *name)
{
        json_t *fields = avsc_fields(id, name), *f;
        size_t i;

        json_array_foreach(fields, i, f)
                cr_assert(not(eq(ptr, json_object_get(o, jstr(f, "name")),
                                 NULL)),
                          "%s: no %s in %s", name, jstr(f, "name"),
                          json_dumps(o, JSON_COMPACT));
        json_decref(fields);
}

/* Functions, not jansson's macros: criterion's cr_assert() reads its
 * first token. */
static bool is_object(const json_t *v) { return json_is_object(v); }
static bool is_null(const json_t *v) { return json_is_null(v); }
static bool is_true(const json_t *v) { return json_is_true(v); }
static bool is_false(const json_t *v) { return json_is_false(v); }

static void uuid_of(sr_uuid_t *u, const char *what)
{
        sr_uuid_v5(u, &sr_ns, "%s", what);
}

/* A definition command of @p kind with every field set (the union member
 * is filled as a whole: each kind reads its own fields). */
static void fill_defcmd(sr_command_t *c, sr_defcmd_t *d, sr_defcmd_kind_t k,
                        sr_defcmd_target_t *items)
{
        base(c, SR_CMD_DEFINITION);
        uuid_of(&c->pipeline_run_id, "pipeline");
        memset(d, 0, sizeof(*d));
        c->u.def = d;
        d->kind = k;
        d->pipeline_id = c->pipeline_run_id;
        d->has_expected_version = true;
        d->expected_version = 3;
        d->create = true;
        switch (k) {
        case SR_DEFCMD_PUT_PIPELINE:
                d->u.pipeline.has_name = d->u.pipeline.has_description = true;
                d->u.pipeline.has_is_active = true;
                d->u.pipeline.has_is_default = false; /* absent: null */
                d->u.pipeline.has_timeout_seconds = true;
                strcpy(d->u.pipeline.name, "canary");
                d->u.pipeline.timeout_seconds = 3600;
                break;
        case SR_DEFCMD_PUT_STAGE:
        case SR_DEFCMD_DELETE_STAGE:
                uuid_of(&d->u.stage.stage_id, "stage");
                d->u.stage.has_name = d->u.stage.has_order = true;
                strcpy(d->u.stage.name, "beta");
                d->u.stage.order = 2;
                break;
        case SR_DEFCMD_PUT_TARGET_LIST:
        case SR_DEFCMD_DELETE_TARGET_LIST:
                uuid_of(&d->u.list.target_list_id, "list");
                d->u.list.has_type = true;
                d->u.list.type = SR_TL_GROUPS;
                break;
        case SR_DEFCMD_ATTACH_TARGET_LIST:
        case SR_DEFCMD_DETACH_TARGET_LIST:
                uuid_of(&d->u.attach.stage_id, "stage");
                uuid_of(&d->u.attach.target_list_id, "list");
                break;
        case SR_DEFCMD_ADD_TARGETS:
                uuid_of(&d->u.add.target_list_id, "list");
                d->u.add.chunk_index = 4;
                memset(items, 0, 2 * sizeof(*items));
                uuid_of(&items[0].device_id, "dev-0");
                uuid_of(&items[1].device_id, "dev-1");
                strcpy(items[1].device_name, "gw-1");
                items[1].args_json = (char *)"{\"v\":2}";
                d->u.add.items = items;
                d->u.add.n_items = 2;
                break;
        case SR_DEFCMD_UPDATE_TARGET:
        case SR_DEFCMD_REMOVE_TARGET:
                uuid_of(&d->u.target.target_list_id, "list");
                uuid_of(&d->u.target.target_id, "target");
                d->u.target.has_is_active = true;
                break;
        case SR_DEFCMD_LINK_DEVICE_GROUP:
        case SR_DEFCMD_UNLINK_DEVICE_GROUP:
                uuid_of(&d->u.group.target_list_id, "list");
                uuid_of(&d->u.group.device_group_id, "group");
                break;
        case SR_DEFCMD_PUT_OPERATION_LIST:
        case SR_DEFCMD_DELETE_OPERATION_LIST:
                uuid_of(&d->u.oplist.stage_id, "stage");
                uuid_of(&d->u.oplist.operation_list_id, "oplist");
                break;
        case SR_DEFCMD_PUT_OPERATION:
        case SR_DEFCMD_DELETE_OPERATION:
                uuid_of(&d->u.op.operation_list_id, "oplist");
                uuid_of(&d->u.op.operation_id, "op");
                d->u.op.has_operation_type = d->u.op.has_args = true;
                strcpy(d->u.op.operation_type, "reboot");
                break;
        case SR_DEFCMD_START_PIPELINE_RUN:
        case SR_DEFCMD_RUN_ENDED:
                uuid_of(&d->u.run.pipeline_run_id, "run");
                d->u.run.status = SR_ST_SUCCESS;
                break;
        case SR_DEFCMD_FILL_STEP:
                uuid_of(&d->u.fill.pipeline_run_id, "run");
                d->u.fill.stage_index = 1;
                uuid_of(&d->u.fill.after, "target");
                d->u.fill.chunk = 6;
                d->u.fill.count = 5000000000ull;
                d->u.fill.seal_state_len = 64;
                for (int i = 0; i < 64; i++)
                        d->u.fill.seal_state[i] = (uint8_t)i;
                break;
        default:
                break;
        }
}

Test(recjson, every_definition_command_shows_every_field_of_its_record)
{
        for (int k = 0; k < SR_DEFCMD__COUNT; k++) {
                sr_defcmd_target_t items[2];
                sr_command_t c;
                sr_defcmd_t d;
                json_t *j, *p;

                fill_defcmd(&c, &d, (sr_defcmd_kind_t)k, items);
                j = sr_recjson_command(&c);
                cr_assert(not(eq(ptr, j, NULL)));
                cr_assert(eq(str, (char *)jstr(j, "kind"), "definition"));
                p = json_object_get(j, "definition");
                cr_assert(is_object(p));
                cr_assert(eq(str, (char *)jstr(p, "command"),
                             (char *)sr_defcmd_name((sr_defcmd_kind_t)k)));
                /* the newest Command (id 15): version 5's records and
                 * FillStep */
                has_every_field(p, 15, sr_defcmd_name((sr_defcmd_kind_t)k));
                cr_assert(eq(i64, jint(p, "expected_version"), 3));
                cr_assert(eq(str, (char *)jstr(p, "pipeline_id"),
                             (char *)jstr(j, "pipeline_run_id")));
                json_decref(j);
        }
}

/* FillStep (Command version 6): its numbers, after as a uuid (the nil
 * one too: from the first, not null) and seal_state in hex, 32 or 64
 * bytes. */
Test(recjson, a_fill_step_shows_its_cursor_and_seal_state_in_hex)
{
        sr_defcmd_target_t items[2];
        char run[SR_UUID_STR_LEN + 1], after[SR_UUID_STR_LEN + 1];
        char want[2 * 64 + 1];
        sr_command_t c;
        sr_defcmd_t d;
        json_t *j, *p;

        fill_defcmd(&c, &d, SR_DEFCMD_FILL_STEP, items);
        d.has_expected_version = false;
        j = sr_recjson_command(&c);
        p = json_object_get(j, "definition");
        cr_assert(is_object(p));
        cr_assert(eq(str, (char *)jstr(p, "command"), "FillStep"));
        cr_assert(is_null(json_object_get(p, "expected_version")));
        sr_uuid_fmt(&d.u.fill.pipeline_run_id, run);
        sr_uuid_fmt(&d.u.fill.after, after);
        cr_assert(eq(str, (char *)jstr(p, "pipeline_run_id"), run));
        cr_assert(eq(str, (char *)jstr(p, "after"), after));
        cr_assert(eq(i64, jint(p, "stage_index"), 1));
        cr_assert(eq(i64, jint(p, "chunk"), 6));
        cr_assert(eq(i64, jint(p, "count"), 5000000000ll));
        for (int i = 0; i < 64; i++)
                snprintf(want + 2 * i, 3, "%02x", i);
        cr_assert(eq(str, (char *)jstr(p, "seal_state"), want));
        json_decref(j);

        d.u.fill.after = (sr_uuid_t){ { 0 } };
        d.u.fill.seal_state_len = 32;
        j = sr_recjson_command(&c);
        p = json_object_get(j, "definition");
        cr_assert(eq(str, (char *)jstr(p, "after"),
                     "00000000-0000-0000-0000-000000000000"));
        want[64] = '\0';
        cr_assert(eq(str, (char *)jstr(p, "seal_state"), want));
        json_decref(j);
}

Test(recjson, definition_command_values_null_when_absent)
{
        sr_defcmd_target_t items[2];
        sr_command_t c;
        sr_defcmd_t d;
        json_t *j, *p, *a;

        fill_defcmd(&c, &d, SR_DEFCMD_PUT_PIPELINE, items);
        d.has_expected_version = false;
        j = sr_recjson_command(&c);
        p = json_object_get(j, "definition");
        cr_assert(is_null(json_object_get(p, "expected_version")));
        cr_assert(is_true(json_object_get(p, "create")));
        cr_assert(eq(str, (char *)jstr(p, "name"), "canary"));
        cr_assert(eq(str, (char *)jstr(p, "description"), ""));
        cr_assert(is_false(json_object_get(p, "is_active")));
        cr_assert(is_null(json_object_get(p, "is_default")));
        cr_assert(eq(i64, jint(p, "timeout_seconds"), 3600));
        json_decref(j);

        fill_defcmd(&c, &d, SR_DEFCMD_PUT_TARGET_LIST, items);
        j = sr_recjson_command(&c);
        p = json_object_get(j, "definition");
        cr_assert(eq(str, (char *)jstr(p, "type"), "GROUPS"));
        cr_assert(is_null(json_object_get(p, "name")));
        json_decref(j);

        fill_defcmd(&c, &d, SR_DEFCMD_ADD_TARGETS, items);
        j = sr_recjson_command(&c);
        a = json_object_get(json_object_get(j, "definition"), "items");
        cr_assert(eq(sz, json_array_size(a), 2));
        has_every_field(json_array_get(a, 1), 11, "DefinitionTarget");
        cr_assert(eq(str, (char *)jstr(json_array_get(a, 1), "device_name"),
                     "gw-1"));
        cr_assert(eq(str, (char *)jstr(json_array_get(a, 1), "args_json"),
                     "{\"v\":2}"));
        cr_assert(is_null(json_object_get(json_array_get(a, 0),
                                               "args_json")));
        json_decref(j);

        fill_defcmd(&c, &d, SR_DEFCMD_RUN_ENDED, items);
        j = sr_recjson_command(&c);
        p = json_object_get(j, "definition");
        cr_assert(eq(str, (char *)jstr(p, "status"), "success"));
        cr_assert(not(eq(str, (char *)jstr(p, "pipeline_run_id"),
                         (char *)jstr(j, "pipeline_run_id"))));
        json_decref(j);

        /* has_args without a text: "{}" (sr_defs.h) */
        fill_defcmd(&c, &d, SR_DEFCMD_PUT_OPERATION, items);
        j = sr_recjson_command(&c);
        p = json_object_get(j, "definition");
        cr_assert(eq(str, (char *)jstr(p, "args_json"), "{}"));
        cr_assert(eq(str, (char *)jstr(p, "operation_type"), "reboot"));
        json_decref(j);
}

Test(recjson, every_definition_record_shows_every_field_of_its_record)
{
        static const char *const names[SR_DEF__COUNT] = {
                "DefPipeline", "DefStage", "DefTargetList", "DefAttachment",
                "DefOperationList", "DefOperation", "DefGroupLink",
                "DefActiveRun", "DefTarget",
        };

        for (int k = 0; k < SR_DEF__COUNT; k++) {
                sr_uuid_t stages[2];
                sr_changelog_t cl;
                json_t *j, *o;

                memset(&cl, 0, sizeof(cl));
                cl.kind = SR_CL_DEF;
                cl.u.def.kind = (sr_def_kind_t)k;
                uuid_of(&cl.u.def.pipeline_id, "pipeline");
                strcpy(cl.u.def.enterprise_id, "acme");
                if (k == SR_DEF_ACTIVE_RUN) {
                        uuid_of(&stages[0], "stage-0");
                        uuid_of(&stages[1], "stage-1");
                        cl.u.def.u.active_run.stage_ids = stages;
                        cl.u.def.u.active_run.n_stage_ids = 2;
                        cl.u.def.u.active_run.a.version = 5;
                }
                j = sr_recjson_changelog(&cl);
                cr_assert(not(eq(ptr, j, NULL)));
                cr_assert(eq(str, (char *)jstr(j, "kind"), "definition"));
                cr_assert(eq(str, (char *)jstr(j, "entity_type"),
                             (char *)sr_def_kind_name((sr_def_kind_t)k)));
                /* the record's own id is "id"; an active run's "run_id"
                 * is the run's (its key's id) */
                o = json_deep_copy(j);
                if (k == SR_DEF_ACTIVE_RUN)
                        json_object_set(o, "run_id", json_object_get(j, "id"));
                has_every_field(o, 12, names[k]);
                if (k == SR_DEF_ACTIVE_RUN) {
                        cr_assert(eq(sz, json_array_size(json_object_get(
                                                 j, "stage_ids")), 2));
                        cr_assert(eq(i64, jint(j, "version"), 5));
                }
                json_decref(o);
                json_decref(j);
        }
}

Test(recjson, a_definition_reply_and_event_show_every_field)
{
        sr_def_event_t ev;
        sr_reply_t r;
        json_t *j, *d;

        memset(&r, 0, sizeof(r));
        uuid_of(&r.command_id, "cmd");
        uuid_of(&r.pipeline_run_id, "pipeline");
        r.accepted = true;
        j = sr_recjson_reply(&r);
        /* a run command's reply reads as before: no definition key */
        cr_assert(eq(ptr, json_object_get(j, "definition"), NULL));
        json_decref(j);
        r.has_def = true;
        r.def.entity_kind = SR_DEF_TARGET_LIST;
        uuid_of(&r.def.entity_id, "list");
        r.def.version = 2;
        r.def.seq = 17;
        r.def.created = r.def.added = 998;
        r.def.skipped = 2;
        j = sr_recjson_reply(&r);
        d = json_object_get(j, "definition");
        has_every_field(d, 13, "DefinitionReply");
        cr_assert(eq(str, (char *)jstr(d, "entity_type"), "target_list"));
        cr_assert(eq(i64, jint(d, "seq"), 17));
        cr_assert(eq(i64, jint(d, "skipped"), 2));
        json_decref(j);

        memset(&ev, 0, sizeof(ev));
        uuid_of(&ev.pipeline_id, "pipeline");
        ev.seq = 9;
        sr_def_event_id(&ev.pipeline_id, ev.seq, &ev.event_id);
        ev.entity_type = SR_DEF_PIPELINE;
        ev.entity_id = ev.pipeline_id;
        ev.change = SR_DEF_UPDATED;
        ev.version = 4;
        j = sr_recjson_def_event(&ev);
        has_every_field(j, 14, "DefinitionChanged");
        cr_assert(is_null(json_object_get(j, "parent_id")));
        cr_assert(eq(str, (char *)jstr(j, "change"), "updated"));
        cr_assert(eq(str, (char *)jstr(j, "entity_type"), "pipeline"));
        json_decref(j);
}

/* AddTargetRun (Command version 7): its record's fields by their .avsc
 * names (id 16's AddTargetRun branch), the alias null when there is none. */
Test(recjson, an_add_target_run_shows_every_field_of_its_record)
{
        char sid[SR_UUID_STR_LEN + 1], dev[SR_UUID_STR_LEN + 1];
        json_t *fields, *j;
        sr_command_t c;

        base(&c, SR_CMD_ADD_TARGET_RUN);
        sr_uuid_v5(&c.u.add.stage_run_id, &sr_ns, "stage");
        sr_uuid_v5(&c.u.add.device_id, &sr_ns, "device");
        c.u.add.target_id = c.u.add.device_id;
        snprintf(c.u.add.device_name, sizeof(c.u.add.device_name), "late");
        snprintf(c.u.add.device_alias, sizeof(c.u.add.device_alias), "r9");
        j = sr_recjson_command(&c);
        sr_uuid_fmt(&c.u.add.stage_run_id, sid);
        sr_uuid_fmt(&c.u.add.device_id, dev);
        cr_assert(eq(str, (char *)jstr(j, "kind"), "add_target_run"));
        cr_assert(eq(str, (char *)jstr(j, "stage_run_id"), sid));
        cr_assert(eq(str, (char *)jstr(j, "target_id"), dev));
        cr_assert(eq(str, (char *)jstr(j, "device_id"), dev));
        cr_assert(eq(str, (char *)jstr(j, "device_name"), "late"));
        cr_assert(eq(str, (char *)jstr(j, "device_alias"), "r9"));
        /* every field of the record, by its name */
        fields = avsc_fields(16, "AddTargetRun");
        cr_assert(eq(sz, json_array_size(fields), 5));
        json_decref(fields);
        has_every_field(j, 16, "AddTargetRun");
        json_decref(j);
        c.u.add.device_alias[0] = '\0';
        j = sr_recjson_command(&c);
        cr_assert(is_null(json_object_get(j, "device_alias")));
        json_decref(j);
}

/* The device groups (Command version 8, ChangelogRecord version 4): each
 * command's payload and each record shows every field of its record by
 * its .avsc name (ids 17 and 18). */
Test(recjson, group_commands_and_records_show_every_field_of_their_record)
{
        static const char *const recs[SR_GREC__COUNT] = {
                "DeviceGroup", "DeviceGroupMember", "RunGroupMember",
                "RunGroupCopy",
        };
        sr_def_group_member_t items[1];
        sr_changelog_t cl;
        sr_command_t c;
        sr_grpcmd_t g;
        json_t *j;

        memset(items, 0, sizeof(items));
        uuid_of(&items[0].device_id, "device");
        snprintf(items[0].device_name, sizeof(items[0].device_name), "d");
        for (int k = 0; k < SR_GRPCMD__COUNT; k++) {
                base(&c, SR_CMD_GROUP);
                memset(&g, 0, sizeof(g));
                c.u.grp = &g;
                g.kind = (sr_grpcmd_kind_t)k;
                uuid_of(&g.group_id, "group");
                g.items = items;
                g.n_items = 1;
                g.seal_state_len = 32;
                g.closing = true;
                j = sr_recjson_command(&c);
                cr_assert(eq(str, (char *)jstr(j, "kind"), "group"));
                cr_assert(eq(str, (char *)jstr(json_object_get(j, "group"),
                                               "command"),
                             (char *)sr_grpcmd_name((sr_grpcmd_kind_t)k)));
                has_every_field(json_object_get(j, "group"), 17,
                                sr_grpcmd_name((sr_grpcmd_kind_t)k));
                json_decref(j);
        }
        for (int k = 0; k < SR_GREC__COUNT; k++) {
                memset(&cl, 0, sizeof(cl));
                cl.kind = SR_CL_GROUP;
                cl.u.grp.kind = (sr_group_rec_kind_t)k;
                cl.u.grp.member = items[0];
                j = sr_recjson_changelog(&cl);
                cr_assert(eq(str, (char *)jstr(j, "kind"), "group"));
                has_every_field(j, 18, recs[k]);
                json_decref(j);
        }
}
