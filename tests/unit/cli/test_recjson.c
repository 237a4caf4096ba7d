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
