/* tests/unit/codec/test_sr_codec_groups.c - device groups on the wire
 * (Command version 8, ChangelogRecord version 4; sr_codec_groups.c):
 * every command and record round-trips in the version that first
 * carries it, and the version before refuses it. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_codec.h"

static sr_codec_t *codec;

static void setup(void)
{
        cr_assert(eq(int, sr_codec_new(&codec, NULL), SR_OK));
}

static void teardown(void)
{
        sr_codec_destroy(codec);
}

TestSuite(sr_codec_groups, .init = setup, .fini = teardown, .timeout = 10.0);

static sr_uuid_t uid(const char *name, int i)
{
        sr_uuid_t u;

        sr_uuid_v5(&u, &sr_ns, "test/%s/%d", name, i);
        return u;
}

static int32_t id_of(const sr_buf_t *b)
{
        int32_t id = 0;

        cr_assert(eq(int, sr_codec_peek_schema_id(sr_buf_slice(b), &id,
                                                  NULL), SR_OK));
        return id;
}

/* A command of kind @p k with every field it carries set. */
static void fill(sr_command_t *c, sr_grpcmd_kind_t k, uint32_t n)
{
        sr_grpcmd_t *g = calloc(1, sizeof(*g));

        cr_assert(not(eq(ptr, g, NULL)));
        memset(c, 0, sizeof(*c));
        c->kind = SR_CMD_GROUP;
        c->u.grp = g;
        c->command_id = uid("cmd", (int)k);
        snprintf(c->enterprise_id, sizeof(c->enterprise_id), "acme");
        c->issued_at = 1700000000123LL;
        g->kind = k;
        g->command_id = c->command_id;
        memcpy(g->enterprise_id, c->enterprise_id, sizeof(g->enterprise_id));
        g->issued_at = c->issued_at;
        g->group_id = uid("group", 1);
        g->pipeline_id = uid("pipeline", 1);
        c->pipeline_run_id = k == SR_GRPCMD_MEMBERS ||
                                     k == SR_GRPCMD_DROP_COPIES ?
                                     g->pipeline_id : g->group_id;
        if (k == SR_GRPCMD_PUT_GROUP) {
                g->has_name = true;
                snprintf(g->name, sizeof(g->name), "canaries");
        }
        if (k <= SR_GRPCMD_DELETE_GROUP) {
                g->has_expected_version = true;
                g->expected_version = 4;
                memset(&g->pipeline_id, 0, sizeof(g->pipeline_id));
        }
        if (k == SR_GRPCMD_PUT_MEMBERS || k == SR_GRPCMD_REMOVE_MEMBERS ||
            k == SR_GRPCMD_MEMBERS) {
                g->chunk = 2;
                g->n_items = n;
                g->items = calloc(n ? n : 1, sizeof(*g->items));
                for (uint32_t i = 0; i < n; i++) {
                        g->items[i].group_id = g->group_id;
                        g->items[i].device_id = uid("device", (int)i);
                        if (k == SR_GRPCMD_REMOVE_MEMBERS)
                                continue;
                        snprintf(g->items[i].device_name,
                                 sizeof(g->items[i].device_name), "dev-%u",
                                 i);
                        if (i % 2)
                                snprintf(g->items[i].device_alias,
                                         sizeof(g->items[i].device_alias),
                                         "alias-%u", i);
                }
        }
        if (k == SR_GRPCMD_DROP_COPIES) {
                memset(&g->group_id, 0, sizeof(g->group_id));
                g->pipeline_run_id = uid("run", 1);
                g->chunk = 4;
        }
        if (k == SR_GRPCMD_SNAPSHOT || k == SR_GRPCMD_MEMBERS) {
                g->pipeline_run_id = uid("run", 1);
                g->count = 12345;
                g->chunk = 3;
        }
        if (k == SR_GRPCMD_SNAPSHOT) {
                g->after = uid("device", 9);
                g->seal_state_len = 64;
                for (int i = 0; i < 64; i++)
                        g->seal_state[i] = (uint8_t)i;
        }
        if (k == SR_GRPCMD_MEMBERS && n == 0) {
                g->closing = true;
                for (int i = 0; i < SR_DIGEST_LEN; i++)
                        g->digest[i] = (uint8_t)(0xa0 + i);
        }
}

static void assert_same(const sr_grpcmd_t *a, const sr_grpcmd_t *b)
{
        cr_assert(eq(int, a->kind, b->kind));
        cr_assert(sr_uuid_eq(&a->command_id, &b->command_id));
        cr_assert(eq(str, (char *)a->enterprise_id, (char *)b->enterprise_id));
        cr_assert(eq(i64, a->issued_at, b->issued_at));
        cr_assert(sr_uuid_eq(&a->group_id, &b->group_id));
        cr_assert(sr_uuid_eq(&a->pipeline_id, &b->pipeline_id));
        cr_assert(sr_uuid_eq(&a->pipeline_run_id, &b->pipeline_run_id));
        cr_assert(sr_uuid_eq(&a->after, &b->after));
        cr_assert(eq(int, a->has_expected_version, b->has_expected_version));
        cr_assert(eq(u32, a->expected_version, b->expected_version));
        cr_assert(eq(int, a->has_name, b->has_name));
        cr_assert(eq(str, (char *)a->name, (char *)b->name));
        cr_assert(eq(u32, a->chunk, b->chunk));
        cr_assert(eq(u64, a->count, b->count));
        cr_assert(eq(u32, a->seal_state_len, b->seal_state_len));
        cr_assert(eq(int, memcmp(a->seal_state, b->seal_state,
                                 sizeof(a->seal_state)), 0));
        cr_assert(eq(int, a->closing, b->closing));
        cr_assert(eq(int, memcmp(a->digest, b->digest, sizeof(a->digest)),
                     0));
        cr_assert(eq(u32, a->n_items, b->n_items));
        for (uint32_t i = 0; i < a->n_items; i++)
                cr_assert(eq(int, memcmp(&a->items[i], &b->items[i],
                                         sizeof(a->items[i])), 0),
                          "items[%u]", i);
}

Test(sr_codec_groups, every_group_command_round_trips_in_version_8)
{
        for (int k = 0; k < SR_GRPCMD__COUNT; k++) {
                for (uint32_t n = 0; n <= 3; n += 3) {
                        sr_errctx_t ec = { 0 };
                        sr_buf_t buf = { 0 };
                        sr_command_t in, out;

                        fill(&in, (sr_grpcmd_kind_t)k, n);
                        cr_assert(eq(int, sr_codec_encode_command(
                                                  codec, &in, &buf, &ec),
                                     SR_OK), "kind %d: %s", k, ec.msg);
                        cr_assert(eq(i32, id_of(&buf), 17));
                        cr_assert(eq(int, sr_codec_decode_command(
                                                  codec, sr_buf_slice(&buf),
                                                  &out, &ec),
                                     SR_OK), "kind %d: %s", k, ec.msg);
                        cr_assert(eq(int, out.kind, SR_CMD_GROUP));
                        cr_assert(sr_uuid_eq(&out.pipeline_run_id,
                                             &in.pipeline_run_id));
                        assert_same(in.u.grp, out.u.grp);

                        /* framed as version 7, which has no such branch */
                        ((uint8_t *)buf.ptr)[4] = 16;
                        cr_assert(eq(int, sr_codec_decode_command(
                                                  codec, sr_buf_slice(&buf),
                                                  &out, &ec),
                                     SR_ERR_SCHEMA), "kind %d", k);
                        sr_buf_free(&buf);
                        sr_command_fini(&in);
                }
        }
}

Test(sr_codec_groups, put_group_without_a_name_reads_back_without_one)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_command_t in, out;

        fill(&in, SR_GRPCMD_PUT_GROUP, 0);
        in.u.grp->has_name = false;
        in.u.grp->name[0] = '\0';
        in.u.grp->has_expected_version = false;
        in.u.grp->expected_version = 0;
        cr_assert(eq(int, sr_codec_encode_command(codec, &in, &buf, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(int, sr_codec_decode_command(codec, sr_buf_slice(&buf),
                                                  &out, &ec), SR_OK));
        assert_same(in.u.grp, out.u.grp);
        sr_command_fini(&out);
        sr_command_fini(&in);
        sr_buf_free(&buf);
}

Test(sr_codec_groups, a_key_other_than_the_group_is_refused)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_command_t in;

        fill(&in, SR_GRPCMD_DELETE_GROUP, 0);
        in.pipeline_run_id = uid("other", 1);
        cr_assert(eq(int, sr_codec_encode_command(codec, &in, &buf, &ec),
                     SR_ERR_INVALID));
        cr_assert(not(eq(ptr, strstr(ec.msg, "group_id"), NULL)), "%s",
                  ec.msg);
        sr_command_fini(&in);
}

Test(sr_codec_groups, every_group_record_round_trips_in_version_4)
{
        for (int k = 0; k < SR_GREC__COUNT; k++) {
                for (int alias = 0; alias < 2; alias++) {
                        sr_errctx_t ec = { 0 };
                        sr_buf_t buf = { 0 };
                        sr_changelog_t in, out;
                        sr_group_record_t *r = &in.u.grp;

                        memset(&in, 0, sizeof(in));
                        in.kind = SR_CL_GROUP;
                        r->kind = (sr_group_rec_kind_t)k;
                        snprintf(r->enterprise_id, sizeof(r->enterprise_id),
                                 "acme");
                        if (k == SR_GREC_GROUP) {
                                r->group.exists = true;
                                r->group.id = uid("group", 1);
                                memcpy(r->group.enterprise_id,
                                       r->enterprise_id,
                                       sizeof(r->enterprise_id));
                                snprintf(r->group.name, sizeof(r->group.name),
                                         "canaries");
                                r->group.n_members = 70000;
                                r->group.a.version = 9;
                                r->group.a.created_at = 1;
                                r->group.a.updated_at = 2;
                        } else {
                                r->member.group_id = uid("group", 1);
                                r->member.device_id = uid("device", 1);
                                snprintf(r->member.device_name,
                                         sizeof(r->member.device_name), "d");
                                if (alias)
                                        snprintf(r->member.device_alias,
                                                 sizeof(r->member.
                                                        device_alias), "a");
                        }
                        if (k >= SR_GREC_COPY_MEMBER) {
                                r->pipeline_id = uid("pipeline", 1);
                                r->pipeline_run_id = uid("run", 1);
                                r->group_id = uid("group", 1);
                        }
                        if (k == SR_GREC_COPY_CLOSE) {
                                /* closed (alias 1): the digest; open: the
                                 * state in progress */
                                memset(&r->member, 0, sizeof(r->member));
                                r->count = 5;
                                r->chunks = 2;
                                r->closed = alias;
                                r->state_len = alias ? 32 : 64;
                                memset(r->state, 0x5a, r->state_len);
                        }
                        cr_assert(eq(int, sr_codec_encode_changelog(
                                                  codec, &in, &buf, &ec),
                                     SR_OK), "kind %d: %s", k, ec.msg);
                        cr_assert(eq(i32, id_of(&buf), 18));
                        cr_assert(eq(int, sr_codec_decode_changelog(
                                                  codec, sr_buf_slice(&buf),
                                                  &out, &ec),
                                     SR_OK), "kind %d: %s", k, ec.msg);
                        cr_assert(eq(int, out.kind, SR_CL_GROUP));
                        cr_assert(eq(int, memcmp(&out.u.grp, r, sizeof(*r)),
                                     0), "kind %d", k);
                        sr_changelog_fini(&out);
                        /* framed as version 3: no such branch */
                        ((uint8_t *)buf.ptr)[4] = 12;
                        cr_assert(eq(int, sr_codec_decode_changelog(
                                                  codec, sr_buf_slice(&buf),
                                                  &out, &ec),
                                     SR_ERR_SCHEMA), "kind %d", k);
                        sr_buf_free(&buf);
                }
        }
}

Test(sr_codec_groups, a_group_reply_names_device_group_in_version_2)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_changelog_t cl, back;
        sr_reply_t in, out;

        memset(&in, 0, sizeof(in));
        in.command_id = uid("cmd", 1);
        in.pipeline_run_id = uid("group", 1);
        in.accepted = true;
        in.occurred_at = 5;
        in.has_def = true;
        in.def.entity_kind = SR_REPLY_KIND_DEVICE_GROUP;
        in.def.entity_id = in.pipeline_run_id;
        in.def.version = 3;
        in.def.created = 1;
        in.def.added = 2;
        in.def.skipped = 3;
        cr_assert(eq(int, sr_codec_encode_reply(codec, &in, &buf, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(i32, id_of(&buf), 13));
        cr_assert(eq(int, sr_codec_decode_reply(codec, sr_buf_slice(&buf),
                                                &out, &ec), SR_OK), "%s",
                  ec.msg);
        cr_assert(eq(int, out.def.entity_kind, SR_REPLY_KIND_DEVICE_GROUP));
        cr_assert(eq(int, memcmp(&out.def, &in.def, sizeof(in.def)), 0));
        sr_buf_free(&buf);

        /* its dedupe entry: changelog version 3, which carries it */
        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_DEDUPE;
        cl.u.dedupe.input_id = in.command_id;
        cl.u.dedupe.pipeline_run_id = in.pipeline_run_id;
        cl.u.dedupe.has_reply = true;
        cl.u.dedupe.reply = in;
        cr_assert(eq(int, sr_codec_encode_changelog(codec, &cl, &buf, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(i32, id_of(&buf), 12));
        cr_assert(eq(int, sr_codec_decode_changelog(codec, sr_buf_slice(&buf),
                                                    &back, &ec), SR_OK));
        cr_assert(eq(int, back.u.dedupe.reply.def.entity_kind,
                     SR_REPLY_KIND_DEVICE_GROUP));
        sr_changelog_fini(&back);
        sr_buf_free(&buf);
}

/* FillStep's source (the stage's k-th linked group's copy) is version 8's:
 * a FillStep of source 0 stays in version 6, one of another source takes
 * version 8, and both read back. */
Test(sr_codec_groups, a_fill_step_of_a_group_copy_is_written_in_version_8)
{
        for (uint32_t source = 0; source <= 2; source += 2) {
                sr_errctx_t ec = { 0 };
                sr_buf_t buf = { 0 };
                sr_command_t in, out;
                sr_defcmd_t *f = calloc(1, sizeof(*f));

                memset(&in, 0, sizeof(in));
                in.kind = SR_CMD_DEFINITION;
                in.u.def = f;
                in.command_id = uid("cmd", 9);
                in.pipeline_run_id = uid("pipeline", 1);
                snprintf(in.enterprise_id, sizeof(in.enterprise_id), "acme");
                f->kind = SR_DEFCMD_FILL_STEP;
                f->pipeline_id = in.pipeline_run_id;
                f->u.fill.pipeline_run_id = uid("run", 1);
                f->u.fill.stage_index = 1;
                f->u.fill.seal_state_len = 32;
                f->u.fill.source = source;
                cr_assert(eq(int, sr_codec_encode_command(codec, &in, &buf,
                                                          &ec), SR_OK),
                          "%s", ec.msg);
                cr_assert(eq(i32, id_of(&buf), source ? 17 : 15));
                cr_assert(eq(int, sr_codec_decode_command(
                                          codec, sr_buf_slice(&buf), &out,
                                          &ec), SR_OK), "%s", ec.msg);
                cr_assert(eq(u32, out.u.def->u.fill.source, source));
                cr_assert(eq(u32, out.u.def->u.fill.stage_index, 1));
                sr_command_fini(&out);
                sr_command_fini(&in);
                sr_buf_free(&buf);
        }
}
