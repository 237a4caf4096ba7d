/* tests/unit/codec/test_sr_codec.c - sr_codec: built-in schemas, round trips of
 * every record type, and poison inputs (error class + message). Poison
 * bodies are written by a tiny Avro writer here, independent of the codec.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <avro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_codec.h"
#include "sr_codec_int.h" /* sr_codec__encode_changelog_avro() */

#include "kit_codec.h"

TestSuite(sr_codec, .init = codec_setup, .fini = codec_teardown,
          .timeout = 30.0);

/* ------------------------------------------------------------ helpers */

static sr_uuid_t uuid_n(int n)
{
        sr_uuid_t u;

        for (int i = 0; i < 16; i++)
                u.b[i] = (uint8_t)(n * 31 + i + 1);
        return u;
}

#define assert_uuid(got, want)                                          \
        cr_assert(sr_uuid_eq(&(got), &(want)), "%s differs", #got)

#define assert_msg(ec, frag)                                            \
        cr_assert(not(eq(ptr, strstr((ec).msg, (frag)), NULL)),         \
                  "message \"%s\" lacks \"%s\"", (ec).msg, (frag))

/* Minimal Avro binary writer for hand-made (and broken) bodies. */
struct wb {
        uint8_t b[16384];
        size_t n;
};

static void w_raw(struct wb *w, const void *p, size_t n)
{
        cr_assert(w->n + n <= sizeof(w->b));
        memcpy(w->b + w->n, p, n);
        w->n += n;
}

static void w_long(struct wb *w, int64_t v)
{
        uint64_t n = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
        uint8_t c;

        while (n & ~(uint64_t)0x7f) {
                c = (uint8_t)((n & 0x7f) | 0x80);
                w_raw(w, &c, 1);
                n >>= 7;
        }
        c = (uint8_t)n;
        w_raw(w, &c, 1);
}

static void w_str(struct wb *w, const char *s)
{
        w_long(w, (int64_t)strlen(s));
        w_raw(w, s, strlen(s));
}

static void w_uuid(struct wb *w, int n)
{
        char text[SR_UUID_STR_LEN + 1];
        sr_uuid_t u = uuid_n(n);

        sr_uuid_fmt(&u, text);
        w_str(w, text);
}

static void w_header(struct wb *w, int32_t id)
{
        uint8_t h[5] = { 0, (uint8_t)(id >> 24), (uint8_t)(id >> 16),
                         (uint8_t)(id >> 8), (uint8_t)id };

        w->n = 0;
        w_raw(w, h, sizeof(h));
}

static sr_slice_t w_slice(const struct wb *w)
{
        return sr_slice(w->b, w->n);
}

/* A TargetRunResult body with the given texts. */
static void raw_result(struct wb *w, const char *result_id,
                       const char *cmdst, const char *device_name)
{
        char text[SR_UUID_STR_LEN + 1];
        sr_uuid_t u = uuid_n(1);

        w_header(w, SR_SCHEMA_RESULT);
        if (result_id) {
                w_str(w, result_id);
        } else {
                sr_uuid_fmt(&u, text);
                w_str(w, text);
        }
        w_uuid(w, 2);
        w_uuid(w, 3);
        w_uuid(w, 4);
        w_uuid(w, 5);
        w_str(w, cmdst);
        w_uuid(w, 6);
        w_str(w, device_name);
        w_long(w, 1700000000000);
}

/* A StatusChangeEvent body (pipeline-run event, from_status null). */
static void raw_event(struct wb *w, int64_t seq, const char *to_status)
{
        w_header(w, SR_SCHEMA_EVENT);
        w_uuid(w, 1);
        w_uuid(w, 2);
        w_long(w, seq);
        w_long(w, 0); /* entity_type pipeline_run */
        w_uuid(w, 2);
        w_uuid(w, 3);
        w_long(w, 0); /* stage_run_id null */
        w_long(w, 0); /* stage_run_operation_id null */
        w_long(w, 0); /* device_id null */
        w_long(w, 0); /* from_status null */
        w_str(w, to_status);
        w_str(w, "");
        w_long(w, 1700000000000);
        w_uuid(w, 4);
        w_str(w, "acme");
        w_long(w, 1);
}

static void w_uuid_of(struct wb *w, const sr_uuid_t *u)
{
        char text[SR_UUID_STR_LEN + 1];

        sr_uuid_fmt(u, text);
        w_str(w, text);
}

/* ["null", uuid]: the nil uuid travels as null. */
static void w_opt_uuid(struct wb *w, const sr_uuid_t *u)
{
        if (sr_uuid_is_nil(u)) {
                w_long(w, 0);
                return;
        }
        w_long(w, 1);
        w_uuid_of(w, u);
}

static void w_bool(struct wb *w, bool v)
{
        w_raw(w, v ? "\x01" : "\x00", 1);
}

/* An array of SpecTarget: one block, then the end marker. */
static void raw_targets(struct wb *w, const sr_spec_target_t *t, uint32_t n)
{
        if (n)
                w_long(w, n);
        for (uint32_t k = 0; k < n; k++) {
                w_opt_uuid(w, &t[k].target_id);
                w_uuid_of(w, &t[k].device_id);
                w_str(w, t[k].device_name);
                w_str(w, t[k].device_alias);
        }
        w_long(w, 0);
}

/* A SpecStage as Command version @p version lays it out: version 2 appends
 * append_targets and expected_targets. */
static void raw_stage(struct wb *w, const sr_spec_stage_t *s, int version)
{
        w_opt_uuid(w, &s->stage_id);
        w_str(w, s->name);
        w_str(w, s->description);
        w_long(w, s->timeout_seconds);
        if (s->n_ops)
                w_long(w, s->n_ops);
        for (uint32_t j = 0; j < s->n_ops; j++) {
                w_str(w, s->ops[j].operation_type);
                w_str(w, s->ops[j].args_json ? s->ops[j].args_json : "{}");
        }
        w_long(w, 0);
        raw_targets(w, s->targets, s->n_targets);
        if (version >= 2) {
                w_bool(w, s->append_targets);
                w_long(w, s->expected_targets);
        }
}

/* ["null", T] as the definition records lay it out. */
static void w_opt_str(struct wb *w, bool has, const char *s)
{
        w_long(w, has ? 1 : 0);
        if (has)
                w_str(w, s);
}

static void w_opt_long(struct wb *w, bool has, int64_t v)
{
        w_long(w, has ? 1 : 0);
        if (has)
                w_long(w, v);
}

static void w_opt_bool(struct wb *w, bool has, bool v)
{
        w_long(w, has ? 1 : 0);
        if (has)
                w_bool(w, v);
}

static bool def_is_put(sr_defcmd_kind_t k)
{
        return k == SR_DEFCMD_PUT_PIPELINE || k == SR_DEFCMD_PUT_STAGE ||
               k == SR_DEFCMD_PUT_TARGET_LIST ||
               k == SR_DEFCMD_PUT_OPERATION_LIST ||
               k == SR_DEFCMD_PUT_OPERATION;
}

/* A definition command's payload record as Command version 5 lays it out
 * (command.avsc, PutPipeline ... RunEnded; FillStep as version 6 does),
 * written apart from the codec. */
static void raw_defcmd(struct wb *w, const sr_defcmd_t *d)
{
        w_uuid_of(w, &d->pipeline_id);
        w_opt_long(w, d->has_expected_version, d->expected_version);
        if (def_is_put(d->kind))
                w_bool(w, d->create);
        switch (d->kind) {
        case SR_DEFCMD_PUT_PIPELINE:
                w_opt_str(w, d->u.pipeline.has_name, d->u.pipeline.name);
                w_opt_str(w, d->u.pipeline.has_description,
                          d->u.pipeline.description);
                w_opt_bool(w, d->u.pipeline.has_is_active,
                           d->u.pipeline.is_active);
                w_opt_bool(w, d->u.pipeline.has_is_default,
                           d->u.pipeline.is_default);
                w_opt_long(w, d->u.pipeline.has_timeout_seconds,
                           d->u.pipeline.timeout_seconds);
                break;
        case SR_DEFCMD_DELETE_PIPELINE:
                break;
        case SR_DEFCMD_PUT_STAGE:
                w_uuid_of(w, &d->u.stage.stage_id);
                w_opt_str(w, d->u.stage.has_name, d->u.stage.name);
                w_opt_str(w, d->u.stage.has_description,
                          d->u.stage.description);
                w_opt_long(w, d->u.stage.has_timeout_seconds,
                           d->u.stage.timeout_seconds);
                w_opt_long(w, d->u.stage.has_order, d->u.stage.order);
                break;
        case SR_DEFCMD_DELETE_STAGE:
                w_uuid_of(w, &d->u.stage.stage_id);
                break;
        case SR_DEFCMD_PUT_TARGET_LIST:
                w_uuid_of(w, &d->u.list.target_list_id);
                w_opt_str(w, d->u.list.has_name, d->u.list.name);
                w_opt_str(w, d->u.list.has_type,
                          sr_tl_type_name(d->u.list.type));
                break;
        case SR_DEFCMD_DELETE_TARGET_LIST:
                w_uuid_of(w, &d->u.list.target_list_id);
                break;
        case SR_DEFCMD_ATTACH_TARGET_LIST:
        case SR_DEFCMD_DETACH_TARGET_LIST:
                w_uuid_of(w, &d->u.attach.stage_id);
                w_uuid_of(w, &d->u.attach.target_list_id);
                break;
        case SR_DEFCMD_ADD_TARGETS:
                w_uuid_of(w, &d->u.add.target_list_id);
                w_long(w, d->u.add.chunk_index);
                if (d->u.add.n_items)
                        w_long(w, d->u.add.n_items);
                for (uint32_t i = 0; i < d->u.add.n_items; i++) {
                        const sr_defcmd_target_t *t = &d->u.add.items[i];

                        w_uuid_of(w, &t->device_id);
                        w_str(w, t->device_name);
                        w_str(w, t->device_alias);
                        w_bool(w, t->is_active);
                        w_opt_str(w, t->device_meta_json != NULL,
                                  t->device_meta_json);
                        w_opt_str(w, t->args_json != NULL, t->args_json);
                }
                w_long(w, 0);
                break;
        case SR_DEFCMD_UPDATE_TARGET:
        case SR_DEFCMD_REMOVE_TARGET:
                w_uuid_of(w, &d->u.target.target_list_id);
                w_uuid_of(w, &d->u.target.target_id);
                if (d->kind == SR_DEFCMD_REMOVE_TARGET)
                        break;
                w_opt_str(w, d->u.target.has_device_name,
                          d->u.target.device_name);
                w_opt_bool(w, d->u.target.has_is_active,
                           d->u.target.is_active);
                break;
        case SR_DEFCMD_LINK_DEVICE_GROUP:
        case SR_DEFCMD_UNLINK_DEVICE_GROUP:
                w_uuid_of(w, &d->u.group.target_list_id);
                w_uuid_of(w, &d->u.group.device_group_id);
                break;
        case SR_DEFCMD_PUT_OPERATION_LIST:
        case SR_DEFCMD_DELETE_OPERATION_LIST:
                w_uuid_of(w, &d->u.oplist.stage_id);
                w_uuid_of(w, &d->u.oplist.operation_list_id);
                if (d->kind == SR_DEFCMD_DELETE_OPERATION_LIST)
                        break;
                w_opt_str(w, d->u.oplist.has_name, d->u.oplist.name);
                w_opt_str(w, d->u.oplist.has_description,
                          d->u.oplist.description);
                break;
        case SR_DEFCMD_PUT_OPERATION:
        case SR_DEFCMD_DELETE_OPERATION:
                w_uuid_of(w, &d->u.op.operation_list_id);
                w_uuid_of(w, &d->u.op.operation_id);
                if (d->kind == SR_DEFCMD_DELETE_OPERATION)
                        break;
                w_opt_str(w, d->u.op.has_operation_type,
                          d->u.op.operation_type);
                w_opt_str(w, d->u.op.has_args, d->u.op.args_json);
                break;
        case SR_DEFCMD_START_PIPELINE_RUN:
                w_uuid_of(w, &d->u.run.pipeline_run_id);
                break;
        case SR_DEFCMD_RUN_ENDED:
                w_uuid_of(w, &d->u.run.pipeline_run_id);
                w_str(w, sr_status_name(d->u.run.status));
                break;
        case SR_DEFCMD_FILL_STEP:
                w_uuid_of(w, &d->u.fill.pipeline_run_id);
                w_long(w, d->u.fill.stage_index); /* an int: the same varint */
                w_uuid_of(w, &d->u.fill.after);
                w_long(w, d->u.fill.chunk);
                w_long(w, (int64_t)d->u.fill.count);
                w_long(w, d->u.fill.seal_state_len); /* bytes: length, data */
                w_raw(w, d->u.fill.seal_state, d->u.fill.seal_state_len);
                break;
        default:
                cr_fatal("raw_defcmd: no layout for kind %d", (int)d->kind);
        }
}

/* The payload branch of run command kind @p k: its own number up to
 * DeleteRun, then (version 7) AddTargetRun after the 20 definition
 * commands' branches. */
static int payload_branch(sr_cmd_kind_t k)
{
        return k == SR_CMD_ADD_TARGET_RUN ? SR_CMD_DEFINITION +
                                                    SR_DEFCMD__COUNT :
                                            (int)k;
}

/* A Command body framed with @p id and laid out as Command version
 * @p version; the payload branch is c->kind's whatever the version has. */
static void raw_command(struct wb *w, int32_t id, int version,
                        const sr_command_t *c)
{
        const sr_runspec_t *spec = &c->u.create.spec;

        w_header(w, id);
        w_uuid_of(w, &c->command_id);
        w_uuid_of(w, &c->pipeline_run_id);
        w_str(w, c->enterprise_id);
        w_long(w, c->issued_at);
        if (c->kind == SR_CMD_DEFINITION) {
                /* version 5: one branch per definition command (version
                 * 6: FillStep, the last) */
                w_long(w, SR_CMD_DEFINITION + c->u.def->kind);
                raw_defcmd(w, c->u.def);
                return;
        }
        w_long(w, payload_branch(c->kind));
        switch (c->kind) {
        case SR_CMD_CREATE_RUN:
                w_uuid_of(w, &spec->pipeline_id);
                w_str(w, spec->pipeline_name);
                w_bool(w, spec->auto_promote);
                w_long(w, spec->timeout_seconds);
                if (spec->n_stages)
                        w_long(w, spec->n_stages);
                for (uint32_t i = 0; i < spec->n_stages; i++)
                        raw_stage(w, &spec->stages[i], version);
                w_long(w, 0);
                w_long(w, c->u.create.run_number);
                break;
        case SR_CMD_SET_PIPELINE_RUN_STATUS:
                w_str(w, c->u.set.status);
                break;
        case SR_CMD_TIMER_FIRED:
                w_long(w, c->u.timer.entity_type);
                w_uuid_of(w, &c->u.timer.entity_id);
                w_long(w, c->u.timer.deadline);
                break;
        case SR_CMD_APPEND_TARGETS:
                w_long(w, c->u.append.stage_index);
                w_long(w, c->u.append.chunk);
                raw_targets(w, c->u.append.targets, c->u.append.n_targets);
                break;
        case SR_CMD_SEAL_TARGETS:
                w_long(w, c->u.seal.stage_index);
                w_long(w, c->u.seal.chunks);
                w_long(w, c->u.seal.count);
                w_raw(w, c->u.seal.digest, SR_DIGEST_LEN);
                break;
        case SR_CMD_STAGE_STEP:
                w_long(w, c->u.step.stage_index);
                w_str(w, c->u.step.step);
                w_long(w, c->u.step.cursor);
                break;
        case SR_CMD_TARGET_COMMAND:
                w_uuid_of(w, &c->u.tcmd.target_run_id);
                w_uuid_of(w, &c->u.tcmd.command_id);
                w_str(w, c->u.tcmd.action);
                break;
        case SR_CMD_DELETE_RUN:
                w_uuid_of(w, &c->u.del.pipeline_id);
                break;
        case SR_CMD_ADD_TARGET_RUN:
                w_uuid_of(w, &c->u.add.stage_run_id);
                w_uuid_of(w, &c->u.add.target_id);
                w_uuid_of(w, &c->u.add.device_id);
                w_str(w, c->u.add.device_name);
                w_opt_str(w, c->u.add.device_alias[0] != '\0',
                          c->u.add.device_alias);
                break;
        default:
                cr_fatal("raw_command: no layout for kind %d",
                         (int)c->kind);
        }
}

/* ------------------------------------------------------------ fixtures */

static void fill_spec(sr_runspec_t *spec)
{
        memset(spec, 0, sizeof(*spec));
        spec->pipeline_id = uuid_n(100);
        strcpy(spec->pipeline_name, "firmware rollout");
        spec->auto_promote = true;
        spec->timeout_seconds = 3600;
        spec->n_stages = 2;
        spec->stages = calloc(2, sizeof(*spec->stages));
        cr_assert(not(eq(ptr, spec->stages, NULL)));
        for (uint32_t i = 0; i < 2; i++) {
                sr_spec_stage_t *s = &spec->stages[i];

                if (i == 1)
                        s->stage_id = uuid_n(200); /* stage 0: nil */
                snprintf(s->name, sizeof(s->name), "stage %u", i);
                snprintf(s->description, sizeof(s->description),
                         "description of stage %u", i);
                s->timeout_seconds = 60 * (i + 1);
                s->n_ops = 2;
                s->ops = calloc(2, sizeof(*s->ops));
                cr_assert(not(eq(ptr, s->ops, NULL)));
                for (uint32_t j = 0; j < 2; j++) {
                        snprintf(s->ops[j].operation_type,
                                 sizeof(s->ops[j].operation_type),
                                 "op-%u-%u", i, j);
                        s->ops[j].args_json = malloc(64);
                        cr_assert(not(eq(ptr, s->ops[j].args_json, NULL)));
                        snprintf(s->ops[j].args_json, 64,
                                 "{\"stage\":%u,\"op\":%u}", i, j);
                }
                s->n_targets = 3;
                s->targets = calloc(3, sizeof(*s->targets));
                cr_assert(not(eq(ptr, s->targets, NULL)));
                for (uint32_t k = 0; k < 3; k++) {
                        sr_spec_target_t *t = &s->targets[k];

                        if (k != 0)
                                t->target_id = uuid_n((int)(300 + i * 3 + k));
                        t->device_id = uuid_n((int)(400 + i * 3 + k));
                        snprintf(t->device_name, sizeof(t->device_name),
                                 "device-%u-%u", i, k);
                        if (k == 2)
                                snprintf(t->device_alias,
                                         sizeof(t->device_alias), "alias %u",
                                         i);
                }
        }
}

static void assert_ops(const sr_spec_op_t *a, const sr_spec_op_t *b,
                       uint32_t n)
{
        for (uint32_t j = 0; j < n; j++) {
                cr_assert(eq(str, (char *)a[j].operation_type,
                             (char *)b[j].operation_type));
                if (!b[j].args_json)
                        cr_assert(eq(ptr, a[j].args_json, NULL));
                else
                        cr_assert(eq(str, a[j].args_json, b[j].args_json));
        }
}

static void assert_targets(const sr_spec_target_t *a,
                           const sr_spec_target_t *b, uint32_t n)
{
        for (uint32_t k = 0; k < n; k++) {
                assert_uuid(a[k].target_id, b[k].target_id);
                assert_uuid(a[k].device_id, b[k].device_id);
                cr_assert(eq(str, (char *)a[k].device_name,
                             (char *)b[k].device_name));
                cr_assert(eq(str, (char *)a[k].device_alias,
                             (char *)b[k].device_alias));
        }
}

static void assert_spec(const sr_runspec_t *a, const sr_runspec_t *b)
{
        assert_uuid(a->pipeline_id, b->pipeline_id);
        cr_assert(eq(str, (char *)a->pipeline_name, (char *)b->pipeline_name));
        cr_assert(eq(int, a->auto_promote, b->auto_promote));
        cr_assert(eq(i64, a->timeout_seconds, b->timeout_seconds));
        cr_assert(eq(u32, a->n_stages, b->n_stages));
        for (uint32_t i = 0; i < b->n_stages; i++) {
                const sr_spec_stage_t *x = &a->stages[i], *y = &b->stages[i];

                assert_uuid(x->stage_id, y->stage_id);
                cr_assert(eq(str, (char *)x->name, (char *)y->name));
                cr_assert(eq(str, (char *)x->description,
                             (char *)y->description));
                cr_assert(eq(i64, x->timeout_seconds, y->timeout_seconds));
                cr_assert(eq(u32, x->n_ops, y->n_ops));
                assert_ops(x->ops, y->ops, y->n_ops);
                cr_assert(eq(u32, x->n_targets, y->n_targets));
                assert_targets(x->targets, y->targets, y->n_targets);
                cr_assert(eq(int, x->append_targets, y->append_targets),
                          "stages[%u]", i);
                cr_assert(eq(i64, x->expected_targets, y->expected_targets),
                          "stages[%u]", i);
        }
        cr_assert(eq(u64, sr_runspec_hash(a), sr_runspec_hash(b)));
}

/* fill_spec() with stage 0 open (Command v2): no inline targets, 5 said
 * to come in chunks. */
static void fill_open_spec(sr_runspec_t *spec)
{
        sr_spec_stage_t *s;

        fill_spec(spec);
        s = &spec->stages[0];
        free(s->targets);
        s->targets = NULL;
        s->n_targets = 0;
        s->append_targets = true;
        s->expected_targets = 5;
}

/* Every byte distinct, 0x00 and 0xff among them. */
static void fill_digest(uint8_t d[SR_DIGEST_LEN])
{
        for (int i = 0; i < SR_DIGEST_LEN; i++)
                d[i] = (uint8_t)(i * 8 + (i & 1 ? 7 : 0));
}

static void base_command(sr_command_t *c, sr_cmd_kind_t kind)
{
        memset(c, 0, sizeof(*c));
        c->kind = kind;
        c->command_id = uuid_n(1);
        c->pipeline_run_id = uuid_n(2);
        strcpy(c->enterprise_id, "acme");
        c->issued_at = 1700000000123;
}

static void assert_command_head(const sr_command_t *out,
                                const sr_command_t *in)
{
        cr_assert(eq(int, out->kind, in->kind));
        assert_uuid(out->command_id, in->command_id);
        assert_uuid(out->pipeline_run_id, in->pipeline_run_id);
        cr_assert(eq(str, (char *)out->enterprise_id,
                     (char *)in->enterprise_id));
        cr_assert(eq(i64, out->issued_at, in->issued_at));
}

static void command_round_trip(const sr_command_t *in, sr_command_t *out)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };

        cr_assert(eq(int, sr_codec_encode_command(codec, in, &buf, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(int, sr_codec_decode_command(codec, sr_buf_slice(&buf),
                                                  out, &ec), SR_OK),
                  "%s", ec.msg);
        sr_buf_free(&buf);
        assert_command_head(out, in);
}

/* Decode a hand-written command body that must be accepted. */
static void command_decode_ok(const struct wb *w, sr_command_t *out)
{
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_codec_decode_command(codec, w_slice(w), out,
                                                  &ec), SR_OK), "%s", ec.msg);
}

/* A command of one of Command v2's new kinds, every field set. */
static void fill_v2_command(sr_command_t *c, sr_cmd_kind_t kind)
{
        base_command(c, kind);
        switch (kind) {
        case SR_CMD_APPEND_TARGETS:
                c->u.append.stage_index = 3;
                c->u.append.chunk = 41;
                c->u.append.n_targets = 4;
                c->u.append.targets = calloc(4, sizeof(sr_spec_target_t));
                cr_assert(not(eq(ptr, c->u.append.targets, NULL)));
                for (uint32_t k = 0; k < 4; k++) {
                        sr_spec_target_t *t = &c->u.append.targets[k];

                        if (k != 1) /* target 1: derived id (null) */
                                t->target_id = uuid_n((int)(500 + k));
                        t->device_id = uuid_n((int)(510 + k));
                        snprintf(t->device_name, sizeof(t->device_name),
                                 "chunk-41-device-%u", k);
                        if (k == 3)
                                strcpy(t->device_alias, "rack 7");
                }
                return;
        case SR_CMD_SEAL_TARGETS:
                c->u.seal.stage_index = 3;
                c->u.seal.chunks = 42;
                c->u.seal.count = 5000000123LL; /* beyond 32 bits */
                fill_digest(c->u.seal.digest);
                return;
        case SR_CMD_STAGE_STEP:
                c->u.step.stage_index = 3;
                strcpy(c->u.step.step, "cancel");
                c->u.step.cursor = 41;
                return;
        case SR_CMD_TARGET_COMMAND: /* version 3 */
                c->u.tcmd.target_run_id = uuid_n(520);
                c->u.tcmd.command_id = uuid_n(521);
                strcpy(c->u.tcmd.action, "resend");
                return;
        case SR_CMD_DELETE_RUN: /* version 4 */
                c->u.del.pipeline_id = uuid_n(530);
                return;
        case SR_CMD_ADD_TARGET_RUN: /* version 7 */
                c->u.add.stage_run_id = uuid_n(540);
                c->u.add.target_id = uuid_n(541);
                c->u.add.device_id = uuid_n(542);
                strcpy(c->u.add.device_name, "late-device-7");
                strcpy(c->u.add.device_alias, "rack 9");
                return;
        default:
                cr_fatal("fill_v2_command: kind %d", (int)kind);
        }
}

static void assert_v2_payload(const sr_command_t *a, const sr_command_t *b)
{
        cr_assert(eq(int, a->kind, b->kind));
        switch (b->kind) {
        case SR_CMD_APPEND_TARGETS:
                cr_assert(eq(u32, a->u.append.stage_index,
                             b->u.append.stage_index));
                cr_assert(eq(u32, a->u.append.chunk, b->u.append.chunk));
                cr_assert(eq(u32, a->u.append.n_targets,
                             b->u.append.n_targets));
                assert_targets(a->u.append.targets, b->u.append.targets,
                               b->u.append.n_targets);
                return;
        case SR_CMD_SEAL_TARGETS:
                cr_assert(eq(u32, a->u.seal.stage_index,
                             b->u.seal.stage_index));
                cr_assert(eq(u32, a->u.seal.chunks, b->u.seal.chunks));
                cr_assert(eq(i64, a->u.seal.count, b->u.seal.count));
                for (int i = 0; i < SR_DIGEST_LEN; i++)
                        cr_assert(eq(u8, a->u.seal.digest[i],
                                     b->u.seal.digest[i]), "digest[%d]", i);
                return;
        case SR_CMD_STAGE_STEP:
                cr_assert(eq(u32, a->u.step.stage_index,
                             b->u.step.stage_index));
                cr_assert(eq(str, (char *)a->u.step.step,
                             (char *)b->u.step.step));
                cr_assert(eq(u32, a->u.step.cursor, b->u.step.cursor));
                return;
        case SR_CMD_TARGET_COMMAND:
                assert_uuid(a->u.tcmd.target_run_id, b->u.tcmd.target_run_id);
                assert_uuid(a->u.tcmd.command_id, b->u.tcmd.command_id);
                cr_assert(eq(str, (char *)a->u.tcmd.action,
                             (char *)b->u.tcmd.action));
                return;
        case SR_CMD_DELETE_RUN:
                assert_uuid(a->u.del.pipeline_id, b->u.del.pipeline_id);
                return;
        case SR_CMD_ADD_TARGET_RUN:
                assert_uuid(a->u.add.stage_run_id, b->u.add.stage_run_id);
                assert_uuid(a->u.add.target_id, b->u.add.target_id);
                assert_uuid(a->u.add.device_id, b->u.add.device_id);
                cr_assert(eq(str, (char *)a->u.add.device_name,
                             (char *)b->u.add.device_name));
                cr_assert(eq(str, (char *)a->u.add.device_alias,
                             (char *)b->u.add.device_alias));
                return;
        default:
                cr_fatal("assert_v2_payload: kind %d", (int)b->kind);
        }
}

/* A definition command (Command version 5; FillStep, version 6) of @p kind,
 * every field its record carries set (the optional ones present), its
 * pipeline the key. */
static void fill_def_command(sr_command_t *c, sr_defcmd_kind_t kind)
{
        sr_defcmd_t *d = calloc(1, sizeof(*d));

        cr_assert(not(eq(ptr, d, NULL)));
        base_command(c, SR_CMD_DEFINITION);
        c->pipeline_run_id = uuid_n(60);
        c->u.def = d;
        d->kind = kind;
        d->command_id = c->command_id;
        strcpy(d->enterprise_id, c->enterprise_id);
        d->issued_at = c->issued_at;
        d->pipeline_id = c->pipeline_run_id;
        d->has_expected_version = true;
        d->expected_version = 4000000000u; /* above INT32_MAX on purpose */
        d->create = def_is_put(kind);
        switch (kind) {
        case SR_DEFCMD_PUT_PIPELINE:
                d->u.pipeline.has_name = d->u.pipeline.has_description = true;
                d->u.pipeline.has_is_active = true;
                d->u.pipeline.has_is_default = true;
                d->u.pipeline.has_timeout_seconds = true;
                strcpy(d->u.pipeline.name, "canary rollout");
                strcpy(d->u.pipeline.description, "firmware 2.1, in waves");
                d->u.pipeline.is_active = false;
                d->u.pipeline.is_default = true;
                d->u.pipeline.timeout_seconds = 3600;
                break;
        case SR_DEFCMD_PUT_STAGE:
                d->u.stage.has_name = d->u.stage.has_description = true;
                d->u.stage.has_timeout_seconds = d->u.stage.has_order = true;
                strcpy(d->u.stage.name, "beta");
                strcpy(d->u.stage.description, "the beta fleet");
                d->u.stage.timeout_seconds = 600;
                d->u.stage.order = 3;
                /* fall through */
        case SR_DEFCMD_DELETE_STAGE:
                d->u.stage.stage_id = uuid_n(61);
                break;
        case SR_DEFCMD_PUT_TARGET_LIST:
                d->u.list.has_name = d->u.list.has_type = true;
                strcpy(d->u.list.name, "beta devices");
                d->u.list.type = SR_TL_GROUPS;
                /* fall through */
        case SR_DEFCMD_DELETE_TARGET_LIST:
                d->u.list.target_list_id = uuid_n(62);
                break;
        case SR_DEFCMD_ATTACH_TARGET_LIST:
        case SR_DEFCMD_DETACH_TARGET_LIST:
                d->u.attach.stage_id = uuid_n(61);
                d->u.attach.target_list_id = uuid_n(62);
                break;
        case SR_DEFCMD_ADD_TARGETS:
                d->u.add.target_list_id = uuid_n(62);
                d->u.add.chunk_index = 7;
                d->u.add.n_items = 3;
                d->u.add.items = calloc(3, sizeof(*d->u.add.items));
                cr_assert(not(eq(ptr, d->u.add.items, NULL)));
                for (int i = 0; i < 3; i++) {
                        sr_defcmd_target_t *t = &d->u.add.items[i];

                        t->device_id = uuid_n(70 + i);
                        snprintf(t->device_name, sizeof(t->device_name),
                                 "gw-%d", i);
                        snprintf(t->device_alias, sizeof(t->device_alias),
                                 "alias %d", i);
                        t->is_active = i != 1;
                        if (i == 1)
                                continue; /* no meta, no args */
                        t->device_meta_json = strdup("{\"rack\":4}");
                        t->args_json = strdup(i ? "{}" : "{\"v\":\"2.1\"}");
                }
                break;
        case SR_DEFCMD_UPDATE_TARGET:
                d->u.target.has_device_name = d->u.target.has_is_active = true;
                strcpy(d->u.target.device_name, "gw-renamed");
                d->u.target.is_active = true;
                /* fall through */
        case SR_DEFCMD_REMOVE_TARGET:
                d->u.target.target_list_id = uuid_n(62);
                d->u.target.target_id = uuid_n(63);
                break;
        case SR_DEFCMD_LINK_DEVICE_GROUP:
        case SR_DEFCMD_UNLINK_DEVICE_GROUP:
                d->u.group.target_list_id = uuid_n(62);
                d->u.group.device_group_id = uuid_n(64);
                break;
        case SR_DEFCMD_PUT_OPERATION_LIST:
                d->u.oplist.has_name = d->u.oplist.has_description = true;
                strcpy(d->u.oplist.name, "update");
                strcpy(d->u.oplist.description, "flash and reboot");
                /* fall through */
        case SR_DEFCMD_DELETE_OPERATION_LIST:
                d->u.oplist.stage_id = uuid_n(61);
                d->u.oplist.operation_list_id = uuid_n(65);
                break;
        case SR_DEFCMD_PUT_OPERATION:
                d->u.op.has_operation_type = d->u.op.has_args = true;
                strcpy(d->u.op.operation_type, "firmware_update");
                d->u.op.args_json = strdup("{\"url\":\"https://fw\"}");
                /* fall through */
        case SR_DEFCMD_DELETE_OPERATION:
                d->u.op.operation_list_id = uuid_n(65);
                d->u.op.operation_id = uuid_n(66);
                break;
        case SR_DEFCMD_RUN_ENDED:
                d->u.run.status = SR_ST_CANCELLED;
                /* fall through */
        case SR_DEFCMD_START_PIPELINE_RUN:
                d->u.run.pipeline_run_id = uuid_n(67);
                break;
        case SR_DEFCMD_FILL_STEP:
                d->u.fill.pipeline_run_id = uuid_n(67);
                d->u.fill.stage_index = 2;
                d->u.fill.after = uuid_n(68);
                d->u.fill.chunk = 300; /* two bytes of varint */
                d->u.fill.count = 5000000000ull; /* above 2^32 on purpose */
                d->u.fill.seal_state_len = 64;
                for (int i = 0; i < 64; i++)
                        d->u.fill.seal_state[i] = (uint8_t)(0xf0 - 3 * i);
                break;
        default:
                break;
        }
}

static void assert_opt_text(const char *a, const char *b, const char *what)
{
        if (!b) {
                cr_assert(eq(ptr, (void *)a, NULL), "%s", what);
                return;
        }
        cr_assert(not(eq(ptr, (void *)a, NULL)), "%s", what);
        cr_assert(eq(str, (char *)a, (char *)b), "%s", what);
}

/* Every field of two definition commands, both allocated zeroed (so
 * unused bytes compare equal): the owned texts by value, the rest byte
 * for byte. */
static void assert_defcmd(const sr_defcmd_t *a, const sr_defcmd_t *b)
{
        sr_defcmd_t x = *a, y = *b;

        cr_assert(eq(int, a->kind, b->kind));
        if (b->kind == SR_DEFCMD_ADD_TARGETS) {
                cr_assert(eq(u32, a->u.add.n_items, b->u.add.n_items));
                for (uint32_t i = 0; i < b->u.add.n_items; i++) {
                        sr_defcmd_target_t p = a->u.add.items[i],
                                           q = b->u.add.items[i];

                        assert_opt_text(p.device_meta_json,
                                        q.device_meta_json, "meta");
                        assert_opt_text(p.args_json, q.args_json, "args");
                        p.device_meta_json = q.device_meta_json = NULL;
                        p.args_json = q.args_json = NULL;
                        cr_assert(eq(int, memcmp(&p, &q, sizeof(p)), 0),
                                  "items[%u]", i);
                }
                x.u.add.items = y.u.add.items = NULL;
        }
        if (b->kind == SR_DEFCMD_PUT_OPERATION ||
            b->kind == SR_DEFCMD_DELETE_OPERATION) {
                assert_opt_text(a->u.op.args_json, b->u.op.args_json,
                                "args_json");
                x.u.op.args_json = y.u.op.args_json = NULL;
        }
        assert_uuid(a->pipeline_id, b->pipeline_id);
        assert_uuid(a->command_id, b->command_id);
        cr_assert(eq(str, (char *)a->enterprise_id, (char *)b->enterprise_id));
        cr_assert(eq(i64, a->issued_at, b->issued_at));
        cr_assert(eq(int, a->has_expected_version, b->has_expected_version));
        cr_assert(eq(u32, a->expected_version, b->expected_version));
        cr_assert(eq(int, a->create, b->create));
        cr_assert(eq(int, memcmp(&x, &y, sizeof(x)), 0), "kind %s",
                  sr_defcmd_name(b->kind));
}

static void fill_result(sr_result_t *r)
{
        memset(r, 0, sizeof(*r));
        r->result_id = uuid_n(10);
        r->pipeline_run_id = uuid_n(11);
        r->stage_run_id = uuid_n(12);
        r->target_run_id = uuid_n(13);
        r->command_id = uuid_n(14);
        strcpy(r->command_status, "InProgress");
        r->device_id = uuid_n(15);
        strcpy(r->device_name, "edge-gw-17");
        r->reported_at = 1700000000456;
}

static void fill_event(sr_event_t *e)
{
        memset(e, 0, sizeof(*e));
        e->event_id = uuid_n(20);
        e->pipeline_run_id = uuid_n(21);
        e->seq = 42;
        e->entity_type = SR_ENT_TARGET_RUN;
        e->entity_id = uuid_n(22);
        e->pipeline_id = uuid_n(23);
        e->stage_run_id = uuid_n(24);
        e->stage_run_operation_id = uuid_n(25);
        e->device_id = uuid_n(26);
        e->from_status = SR_ST_DISPATCHED;
        e->to_status = SR_ST_SUCCESS;
        strcpy(e->reason, "device reported success");
        e->occurred_at = 1700000000789;
        e->causation_id = uuid_n(27);
        strcpy(e->enterprise_id, "acme");
        e->version = 7;
}

static void assert_event(const sr_event_t *a, const sr_event_t *b)
{
        assert_uuid(a->event_id, b->event_id);
        assert_uuid(a->pipeline_run_id, b->pipeline_run_id);
        cr_assert(eq(u64, a->seq, b->seq));
        cr_assert(eq(int, a->entity_type, b->entity_type));
        assert_uuid(a->entity_id, b->entity_id);
        assert_uuid(a->pipeline_id, b->pipeline_id);
        assert_uuid(a->stage_run_id, b->stage_run_id);
        assert_uuid(a->stage_run_operation_id, b->stage_run_operation_id);
        assert_uuid(a->device_id, b->device_id);
        cr_assert(eq(int, a->from_status, b->from_status));
        cr_assert(eq(int, a->to_status, b->to_status));
        cr_assert(eq(str, (char *)a->reason, (char *)b->reason));
        cr_assert(eq(i64, a->occurred_at, b->occurred_at));
        assert_uuid(a->causation_id, b->causation_id);
        cr_assert(eq(str, (char *)a->enterprise_id, (char *)b->enterprise_id));
        cr_assert(eq(u32, a->version, b->version));
}

static void fill_reply(sr_reply_t *r, bool accepted)
{
        memset(r, 0, sizeof(*r));
        r->command_id = uuid_n(30);
        r->pipeline_run_id = uuid_n(31);
        r->accepted = accepted;
        r->occurred_at = 1700000001000;
        if (!accepted) {
                r->reason = SR_REJECT_ILLEGAL_TRANSITION;
                strcpy(r->message, "target run is already success");
                return;
        }
        r->n_versions = 3;
        for (uint32_t i = 0; i < 3; i++) {
                r->versions[i].entity_type = (sr_entity_type_t)(i + 1);
                r->versions[i].entity_id = uuid_n((int)(32 + i));
                r->versions[i].version = 100 + i;
        }
}

static void assert_reply(const sr_reply_t *a, const sr_reply_t *b)
{
        assert_uuid(a->command_id, b->command_id);
        assert_uuid(a->pipeline_run_id, b->pipeline_run_id);
        cr_assert(eq(int, a->accepted, b->accepted));
        cr_assert(eq(int, a->reason, b->reason));
        cr_assert(eq(str, (char *)a->message, (char *)b->message));
        cr_assert(eq(i64, a->occurred_at, b->occurred_at));
        cr_assert(eq(u32, a->n_versions, b->n_versions));
        for (uint32_t i = 0; i < b->n_versions; i++) {
                cr_assert(eq(int, a->versions[i].entity_type,
                             b->versions[i].entity_type));
                assert_uuid(a->versions[i].entity_id,
                            b->versions[i].entity_id);
                cr_assert(eq(u32, a->versions[i].version,
                             b->versions[i].version));
        }
}

static void fill_meta(sr_meta_t *m, int n)
{
        m->id = uuid_n(n);
        m->status = SR_ST_RUNNING;
        strcpy(m->reason, "started by auto promote");
        m->created_at = 1700000000001;
        m->updated_at = 1700000000002;
        m->started_at = 1700000000003;
        m->ended_at = 0;
        m->version = 4000000000u; /* above INT32_MAX on purpose */
        m->deadline = 1700000600000;
}

static void assert_meta(const sr_meta_t *a, const sr_meta_t *b)
{
        assert_uuid(a->id, b->id);
        cr_assert(eq(int, a->status, b->status));
        cr_assert(eq(str, (char *)a->reason, (char *)b->reason));
        cr_assert(eq(i64, a->created_at, b->created_at));
        cr_assert(eq(i64, a->updated_at, b->updated_at));
        cr_assert(eq(i64, a->started_at, b->started_at));
        cr_assert(eq(i64, a->ended_at, b->ended_at));
        cr_assert(eq(u32, a->version, b->version));
        cr_assert(eq(i64, a->deadline, b->deadline));
}

static void changelog_round_trip(const sr_changelog_t *in,
                                 sr_changelog_t *out)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };

        cr_assert(eq(int, sr_codec_encode_changelog(codec, in, &buf, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(int, sr_codec_decode_changelog(codec,
                                                    sr_buf_slice(&buf), out,
                                                    &ec), SR_OK),
                  "%s", ec.msg);
        sr_buf_free(&buf);
        cr_assert(eq(int, out->kind, in->kind));
        if (in->kind == SR_CL_ENTITY)
                cr_assert(eq(int, out->u.entity.type, in->u.entity.type));
}

/* ------------------------------------------------------------ schemas */

static char *read_text(const char *path, size_t *lenp)
{
        FILE *f = fopen(path, "rb");
        char *text;
        long len;

        cr_assert(not(eq(ptr, f, NULL)), "cannot open %s", path);
        fseek(f, 0, SEEK_END);
        len = ftell(f);
        fseek(f, 0, SEEK_SET);
        text = calloc(1, (size_t)len + 1);
        cr_assert(not(eq(ptr, text, NULL)));
        cr_assert(eq(sz, fread(text, 1, (size_t)len, f), (size_t)len));
        fclose(f);
        *lenp = (size_t)len;
        return text;
}

/* Each built-in id of registry.tsv is a slot's newest version (written)
 * or one of sr_schema_older[] (still read), each exactly once, and an
 * older version is the same record as its slot's newest. */
Test(sr_codec, every_builtin_schema_parses_and_matches_registry)
{
        char path[1024], line[256], file[128], full[256];
        int seen[64] = { 0 };
        FILE *reg;
        int id, rows = 0;

        snprintf(path, sizeof(path), "%s/schemas/registry.tsv",
                 SR_SOURCE_DIR);
        reg = fopen(path, "r");
        cr_assert(not(eq(ptr, reg, NULL)), "cannot open %s", path);
        while (fgets(line, sizeof(line), reg)) {
                const char *json;
                avro_schema_t schema;
                size_t len;
                char *text;

                if (sscanf(line, "%d\t%127s", &id, file) != 2)
                        continue;
                rows++;
                cr_assert(id > 0 && id < 64, "id %d", id);
                seen[id]++;
                json = sr_codec_schema_json(id);
                cr_assert(not(eq(ptr, (void *)json, NULL)), "id %d", id);
                cr_assert(eq(int, avro_schema_from_json_length(
                                          json, strlen(json), &schema), 0),
                          "id %d: %s", id, avro_strerror());
                snprintf(full, sizeof(full), "%s.%s",
                         avro_schema_namespace(schema),
                         avro_schema_name(schema));
                cr_assert(eq(str, (char *)sr_codec_schema_name(id), full));
                avro_schema_decref(schema);

                /* The embedded text is the file, byte for byte. */
                snprintf(path, sizeof(path), "%s/schemas/%s", SR_SOURCE_DIR,
                         file);
                text = read_text(path, &len);
                cr_assert(eq(str, (char *)json, text), "%s is stale", file);
                free(text);
        }
        fclose(reg);
        cr_assert(eq(int, rows, SR_SCHEMA__MAX - 1 + SR_SCHEMA_OLDER_COUNT));
        for (int slot = 1; slot < SR_SCHEMA__MAX; slot++) {
                id = sr_schema_builtin_id((sr_schema_id_t)slot);
                cr_assert(id > 0 && id < 64, "slot %d: id %d", slot, id);
                cr_assert(eq(int, seen[id], 1), "slot %d: id %d", slot, id);
        }
        for (int i = 0; i < SR_SCHEMA_OLDER_COUNT; i++) {
                int32_t newest = sr_schema_builtin_id(sr_schema_older[i].slot);

                id = sr_schema_older[i].id;
                cr_assert(id > 0 && id < 64, "older %d: id %d", i, id);
                cr_assert(eq(int, seen[id], 1), "older %d: id %d", i, id);
                cr_assert(not(eq(i32, id, newest)));
                cr_assert(eq(str, (char *)sr_codec_schema_name(id),
                             (char *)sr_codec_schema_name(newest)));
        }
}

/* Commands moved to version 7 (id 16), the changelog to version 3 (id
 * 12), replies to version 2 (id 13); definition events are id 14.
 * Commands' versions 1 to 6 (ids 1, 7, 9, 10, 11, 15), the changelog's 1 and 2
 * (ids 4, 8) and replies' version 1 (id 6) are still read. Every other
 * slot is written with its own number. */
Test(sr_codec, builtin_ids_of_the_newest_versions_and_the_older_still_read)
{
        static const struct {
                sr_schema_id_t slot;
                int32_t id;
        } older[] = { { SR_SCHEMA_COMMAND, 1 },   { SR_SCHEMA_CHANGELOG, 4 },
                      { SR_SCHEMA_COMMAND, 7 },   { SR_SCHEMA_COMMAND, 9 },
                      { SR_SCHEMA_COMMAND, 10 },  { SR_SCHEMA_CHANGELOG, 8 },
                      { SR_SCHEMA_REPLY, 6 },     { SR_SCHEMA_COMMAND, 11 },
                      { SR_SCHEMA_COMMAND, 15 },  { SR_SCHEMA_COMMAND, 16 },
                      { SR_SCHEMA_CHANGELOG, 12 } };
        sr_schema_ids_t ids;

        cr_assert(eq(i32, sr_schema_builtin_id(SR_SCHEMA_COMMAND), 17));
        cr_assert(eq(i32, sr_schema_builtin_id(SR_SCHEMA_CHANGELOG), 18));
        cr_assert(eq(i32, sr_schema_builtin_id(SR_SCHEMA_REPLY), 13));
        cr_assert(eq(i32, sr_schema_builtin_id(SR_SCHEMA_DEF_EVENT), 14));
        for (int slot = SR_SCHEMA_RESULT; slot < SR_SCHEMA__MAX; slot++)
                if (slot != SR_SCHEMA_CHANGELOG && slot != SR_SCHEMA_REPLY &&
                    slot != SR_SCHEMA_DEF_EVENT)
                        cr_assert(eq(i32, sr_schema_builtin_id(
                                                  (sr_schema_id_t)slot),
                                     slot));
        cr_assert(eq(int, SR_SCHEMA_OLDER_COUNT, 11));
        for (int i = 0; i < SR_SCHEMA_OLDER_COUNT; i++) {
                cr_assert(eq(int, sr_schema_older[i].slot, older[i].slot),
                          "older[%d]", i);
                cr_assert(eq(i32, sr_schema_older[i].id, older[i].id),
                          "older[%d]", i);
        }

        memset(&ids, 0xab, sizeof(ids));
        sr_schema_ids_builtin(&ids);
        cr_assert(eq(i32, ids.wire[0], 0));
        for (int slot = 1; slot < SR_SCHEMA__MAX; slot++)
                cr_assert(eq(i32, ids.wire[slot],
                             sr_schema_builtin_id((sr_schema_id_t)slot)));
        for (int i = 0; i < SR_SCHEMA_OLDER_COUNT; i++)
                cr_assert(eq(i32, ids.older[i], older[i].id));
        cr_assert(eq(i32, sr_codec_wire_id(codec, SR_SCHEMA_COMMAND), 17));
        cr_assert(eq(i32, sr_codec_wire_id(codec, SR_SCHEMA_CHANGELOG), 18));
        cr_assert(eq(i32, sr_codec_wire_id(codec, SR_SCHEMA_REPLY), 13));
        cr_assert(eq(i32, sr_codec_wire_id(codec, SR_SCHEMA_DEF_EVENT), 14));
        for (int id = 7; id <= 18; id++) {
                static const char *const names[] = {
                        "io.sr.v1.Command", "io.sr.v1.ChangelogRecord",
                        "io.sr.v1.Command", "io.sr.v1.Command",
                        "io.sr.v1.Command", "io.sr.v1.ChangelogRecord",
                        "io.sr.v1.CommandReply", "io.sr.v1.DefinitionChanged",
                        "io.sr.v1.Command", "io.sr.v1.Command",
                        "io.sr.v1.Command", "io.sr.v1.ChangelogRecord"
                };

                cr_assert(eq(str, (char *)sr_codec_schema_name(id),
                             (char *)names[id - 7]), "id %d", id);
        }
        cr_assert(eq(str, (char *)sr_codec_schema_name(6),
                     "io.sr.v1.CommandReply"));
}

Test(sr_codec, builtin_ids_name_the_expected_records)
{
        cr_assert(eq(str, (char *)sr_codec_schema_name(SR_SCHEMA_COMMAND),
                     "io.sr.v1.Command"));
        cr_assert(eq(str, (char *)sr_codec_schema_name(SR_SCHEMA_RESULT),
                     "io.sr.v1.TargetRunResult"));
        cr_assert(eq(str, (char *)sr_codec_schema_name(SR_SCHEMA_EVENT),
                     "io.sr.v1.StatusChangeEvent"));
        cr_assert(eq(str, (char *)sr_codec_schema_name(SR_SCHEMA_CHANGELOG),
                     "io.sr.v1.ChangelogRecord"));
        cr_assert(eq(str, (char *)sr_codec_schema_name(SR_SCHEMA_DISPATCH),
                     "io.sr.v1.DispatchRequest"));
        cr_assert(eq(str, (char *)sr_codec_schema_name(SR_SCHEMA_REPLY),
                     "io.sr.v1.CommandReply"));
        cr_assert(eq(ptr, (void *)sr_codec_schema_name(99), NULL));
        cr_assert(eq(ptr, (void *)sr_codec_schema_json(0), NULL));
}

/* A slot's versions are numbered as its registry subject's: commands 1
 * (id 1), 2 (id 7), 3 (id 9), 4 (id 10), 5 (id 11), 6 (id 15) and 7 (id
 * 16), the changelog 1 (id 4), 2 (id 8) and 3 (id 12), replies 1 (id 6) and 2 (id 13), every
 * other slot 1 (its own id; definition events id 14). */
Test(sr_codec, schema_versions_are_numbered_oldest_first)
{
        static const struct {
                sr_schema_id_t slot;
                int n;
                int32_t id[8];
        } vs[] = { { SR_SCHEMA_COMMAND, 8, { 1, 7, 9, 10, 11, 15, 16, 17 } },
                   { SR_SCHEMA_CHANGELOG, 4, { 4, 8, 12, 18 } },
                   { SR_SCHEMA_REPLY, 2, { 6, 13 } },
                   { SR_SCHEMA_DEF_EVENT, 1, { 14 } },
                   { SR_SCHEMA_RESULT, 1, { 2 } },
                   { SR_SCHEMA_EVENT, 1, { 3 } },
                   { SR_SCHEMA_DISPATCH, 1, { 5 } } };
        sr_schema_ids_t ids;

        cr_assert(eq(sz, sizeof(vs) / sizeof(vs[0]),
                     (size_t)(SR_SCHEMA__MAX - 1)));
        for (size_t k = 0; k < sizeof(vs) / sizeof(vs[0]); k++) {
                cr_assert(eq(int, sr_schema_versions(vs[k].slot), vs[k].n),
                          "slot %d", (int)vs[k].slot);
                for (int v = 1; v <= vs[k].n; v++)
                        cr_assert(eq(i32, sr_schema_version_id(
                                                  NULL, vs[k].slot, v),
                                     vs[k].id[v - 1]),
                                  "slot %d version %d", (int)vs[k].slot, v);
                cr_assert(eq(i32, sr_schema_version_id(NULL, vs[k].slot,
                                                       vs[k].n + 1), 0));
                cr_assert(eq(i32, sr_schema_version_id(NULL, vs[k].slot, 0),
                             0));
        }
        cr_assert(eq(i32, sr_schema_version_id(NULL, (sr_schema_id_t)0, 1),
                     0));
        cr_assert(eq(i32, sr_schema_version_id(NULL, SR_SCHEMA__MAX, 1), 0));

        /* The same numbering in a table of registry ids. */
        sr_schema_ids_builtin(&ids);
        for (int v = 1; v <= 8; v++)
                cr_assert(sr_schema_ids_set_version(&ids, SR_SCHEMA_COMMAND,
                                                    v, 100000 + v));
        for (int v = 1; v <= 4; v++)
                cr_assert(sr_schema_ids_set_version(&ids, SR_SCHEMA_CHANGELOG,
                                                    v, 100010 + v));
        for (int v = 1; v <= 2; v++)
                cr_assert(sr_schema_ids_set_version(&ids, SR_SCHEMA_REPLY, v,
                                                    100020 + v));
        cr_assert(sr_schema_ids_set_version(&ids, SR_SCHEMA_RESULT, 1, 4));
        cr_assert(not(sr_schema_ids_set_version(&ids, SR_SCHEMA_RESULT, 2,
                                                5)));
        cr_assert(not(sr_schema_ids_set_version(&ids, SR_SCHEMA_COMMAND, 9,
                                                5)));
        cr_assert(not(sr_schema_ids_set_version(&ids, SR_SCHEMA_REPLY, 3,
                                                5)));
        /* sr_schema_older[]'s order: commands 1, changelog 1, commands 2,
         * 3, 4, changelog 2, replies 1, commands 5, 6, 7, changelog 3. */
        cr_assert(eq(i32, ids.older[0], 100001));
        cr_assert(eq(i32, ids.older[1], 100011));
        cr_assert(eq(i32, ids.older[2], 100002));
        cr_assert(eq(i32, ids.older[3], 100003));
        cr_assert(eq(i32, ids.older[4], 100004));
        cr_assert(eq(i32, ids.older[5], 100012));
        cr_assert(eq(i32, ids.older[6], 100021));
        cr_assert(eq(i32, ids.older[7], 100005));
        cr_assert(eq(i32, ids.older[8], 100006));
        cr_assert(eq(i32, ids.older[9], 100007));
        cr_assert(eq(i32, ids.older[10], 100013));
        cr_assert(eq(i32, ids.wire[SR_SCHEMA_COMMAND], 100008));
        cr_assert(eq(i32, ids.wire[SR_SCHEMA_CHANGELOG], 100014));
        cr_assert(eq(i32, ids.wire[SR_SCHEMA_REPLY], 100022));
        cr_assert(eq(i32, ids.wire[SR_SCHEMA_RESULT], 4));
        cr_assert(eq(i32, ids.wire[SR_SCHEMA_EVENT], SR_SCHEMA_EVENT));
        cr_assert(eq(i32, ids.wire[SR_SCHEMA_DEF_EVENT], 14));
        for (int v = 1; v <= 8; v++)
                cr_assert(eq(i32, sr_schema_version_id(&ids,
                                                       SR_SCHEMA_COMMAND, v),
                             100000 + v));
        for (int v = 1; v <= 4; v++)
                cr_assert(eq(i32, sr_schema_version_id(
                                          &ids, SR_SCHEMA_CHANGELOG, v),
                             100010 + v));
        cr_assert(eq(i32, sr_schema_version_id(&ids, SR_SCHEMA_REPLY, 1),
                     100021));
        cr_assert(eq(i32, sr_schema_version_id(&ids, SR_SCHEMA_RESULT, 1),
                     4));
}

static avro_schema_t parse_builtin(int32_t id)
{
        const char *json = sr_codec_schema_json(id);
        avro_schema_t schema;

        cr_assert(eq(int, avro_schema_from_json_length(json, strlen(json),
                                                       &schema), 0),
                  "%s", avro_strerror());
        return schema;
}

/* Enum symbols and union branches are matched to C enums by position:
 * Command's payload is sr_cmd_kind_t up to DeleteRun, then (version 5)
 * one branch per sr_defcmd_kind_t (SR_CMD_DEFINITION + kind); the
 * changelog's state is the entity types, the internal kinds, then
 * (version 3) one branch per sr_def_kind_t. */
Test(sr_codec, enum_symbols_and_union_branches_follow_c_enum_order)
{
        static const char *const payloads[] = {
                "CreateRun", "SetPipelineRunStatus", "SetStageRunStatus",
                "SetTargetRunStatus", "TimerFired", "AppendTargets",
                "SealTargets", "StageStep", "TargetCommand", "DeleteRun",
                "PutPipeline", "DeletePipeline", "PutStage", "DeleteStage",
                "PutTargetList", "DeleteTargetList", "AttachTargetList",
                "DetachTargetList", "AddTargets", "UpdateTarget",
                "RemoveTarget", "LinkDeviceGroup", "UnlinkDeviceGroup",
                "PutOperationList", "DeleteOperationList", "PutOperation",
                "DeleteOperation", "StartPipelineRun", "RunEnded",
                "FillStep", "AddTargetRun", "PutGroup", "PutGroupMembers",
                "RemoveGroupMembers", "DeleteGroup", "SnapshotGroup",
                "GroupMembers", "DropRunCopies",
        };
        static const char *const states[] = {
                "PipelineRun", "StageRun", "StageRunOperation", "TargetRun",
                "DedupeEntry", "BatchMarker", "RetiredRun", "StageChunk",
                "DefPipeline", "DefStage", "DefTargetList", "DefAttachment",
                "DefOperationList", "DefOperation", "DefGroupLink",
                "DefActiveRun", "DefTarget", "DeviceGroup",
                "DeviceGroupMember", "RunGroupMember", "RunGroupCopy",
        };
        const int n_payloads = SR_CMD_DEFINITION + SR_DEFCMD__COUNT + 1 +
                               SR_GRPCMD__COUNT;
        const int n_states = SR_ENT__COUNT + 4 + SR_DEF__COUNT +
                             SR_GREC__COUNT;
        avro_schema_t ev = parse_builtin(
                sr_schema_builtin_id(SR_SCHEMA_EVENT));
        avro_schema_t cmd = parse_builtin(
                sr_schema_builtin_id(SR_SCHEMA_COMMAND));
        avro_schema_t cmd1 = parse_builtin(sr_schema_older[0].id);
        avro_schema_t cmd2 = parse_builtin(sr_schema_older[2].id);
        avro_schema_t cmd3 = parse_builtin(sr_schema_older[3].id);
        avro_schema_t cmd4 = parse_builtin(sr_schema_older[4].id);
        avro_schema_t cmd5 = parse_builtin(sr_schema_older[7].id);
        avro_schema_t cmd6 = parse_builtin(sr_schema_older[8].id);
        avro_schema_t cmd7 = parse_builtin(sr_schema_older[9].id);
        avro_schema_t cl3 = parse_builtin(sr_schema_older[10].id);
        avro_schema_t cl = parse_builtin(
                sr_schema_builtin_id(SR_SCHEMA_CHANGELOG));
        avro_schema_t cl1 = parse_builtin(sr_schema_older[1].id);
        avro_schema_t cl2 = parse_builtin(sr_schema_older[5].id);
        avro_schema_t disp = parse_builtin(
                sr_schema_builtin_id(SR_SCHEMA_DISPATCH));
        avro_schema_t u, e;

        /* The names are the C enums' own: the run kinds' up to DeleteRun,
         * sr_defcmd_name() and sr_def_kind_t's order after. */
        cr_assert(eq(sz, sizeof(payloads) / sizeof(payloads[0]),
                     (size_t)n_payloads));
        cr_assert(eq(int, SR_CMD_DEFINITION, SR_CMD__COUNT - 3));
        cr_assert(eq(int, SR_CMD_ADD_TARGET_RUN, SR_CMD__COUNT - 2));
        cr_assert(eq(int, SR_CMD_GROUP, SR_CMD__COUNT - 1));
        for (int k = 0; k < SR_DEFCMD__COUNT; k++)
                cr_assert(eq(str, (char *)payloads[SR_CMD_DEFINITION + k],
                             (char *)sr_defcmd_name((sr_defcmd_kind_t)k)));
        for (int k = 0; k < SR_GRPCMD__COUNT; k++)
                cr_assert(eq(str, (char *)payloads[SR_CMD_DEFINITION +
                                                   SR_DEFCMD__COUNT + 1 + k],
                             (char *)sr_grpcmd_name((sr_grpcmd_kind_t)k)));
        cr_assert(eq(sz, sizeof(states) / sizeof(states[0]),
                     (size_t)n_states));
        cr_assert(eq(str, (char *)states[SR_ENT__COUNT + 4 + SR_DEF_PIPELINE],
                     "DefPipeline"));
        cr_assert(eq(str, (char *)states[SR_ENT__COUNT + 4 + SR_DEF_TARGET],
                     "DefTarget"));
        cr_assert(eq(str, (char *)states[SR_ENT__COUNT + 4 +
                                         SR_DEF_GROUP_LINK],
                     "DefGroupLink"));

        e = avro_schema_record_field_get(ev, "entity_type");
        cr_assert(eq(int, avro_schema_enum_number_of_symbols(e),
                     SR_ENT__COUNT));
        for (int i = 0; i < SR_ENT__COUNT; i++)
                cr_assert(eq(str, (char *)avro_schema_enum_get(e, i),
                             (char *)sr_entity_type_name(
                                     (sr_entity_type_t)i)));

        e = avro_schema_record_field_get(disp, "kind");
        cr_assert(eq(str, (char *)avro_schema_enum_get(
                                  e, SR_DISPATCH_COMMAND), "COMMAND"));
        cr_assert(eq(str, (char *)avro_schema_enum_get(
                                  e, SR_DISPATCH_CANCEL), "CANCEL"));

        /* Each version has the branches of the one before at the same
         * positions, the new ones appended: version 1 the first five,
         * 2 the first eight, 3 the first nine (TargetCommand), 4 ten
         * (DeleteRun), 5 the definition commands up to RunEnded, 6 up to
         * FillStep, 7 AddTargetRun, 8 all (the device groups'). */
        {
                const struct {
                        avro_schema_t s;
                        int n;
                } ver[] = { { cmd1, SR_CMD_TIMER_FIRED + 1 },
                            { cmd2, SR_CMD_STAGE_STEP + 1 },
                            { cmd3, SR_CMD_TARGET_COMMAND + 1 },
                            { cmd4, SR_CMD_DELETE_RUN + 1 },
                            { cmd5, SR_CMD_DEFINITION +
                                            SR_DEFCMD_RUN_ENDED + 1 },
                            { cmd6, SR_CMD_DEFINITION + SR_DEFCMD__COUNT },
                            { cmd7, SR_CMD_DEFINITION + SR_DEFCMD__COUNT +
                                            1 },
                            { cmd, n_payloads } };

                for (size_t k = 0; k < sizeof(ver) / sizeof(ver[0]); k++) {
                        u = avro_schema_record_field_get(ver[k].s, "payload");
                        cr_assert(eq(sz, avro_schema_union_size(u),
                                     (size_t)ver[k].n), "version %zu", k + 1);
                        for (int i = 0; i < ver[k].n; i++)
                                cr_assert(eq(str,
                                             (char *)avro_schema_name(
                                                     avro_schema_union_branch(
                                                             u, i)),
                                             (char *)payloads[i]));
                }
        }

        /* Changelog version 1 has the first seven, 2 StageChunk appended,
         * 3 the definition entities, 4 the device groups'. */
        {
                const struct {
                        avro_schema_t s;
                        int n;
                } ver[] = { { cl1, SR_ENT__COUNT + 3 },
                            { cl2, SR_ENT__COUNT + 4 },
                            { cl3, SR_ENT__COUNT + 4 + SR_DEF__COUNT },
                            { cl, n_states } };

                for (size_t k = 0; k < sizeof(ver) / sizeof(ver[0]); k++) {
                        u = avro_schema_record_field_get(ver[k].s, "state");
                        cr_assert(eq(sz, avro_schema_union_size(u),
                                     (size_t)ver[k].n), "version %zu", k + 1);
                        for (int i = 0; i < ver[k].n; i++)
                                cr_assert(eq(str,
                                             (char *)avro_schema_name(
                                                     avro_schema_union_branch(
                                                             u, i)),
                                             (char *)states[i]));
                }
        }

        avro_schema_decref(ev);
        avro_schema_decref(cmd);
        avro_schema_decref(cmd1);
        avro_schema_decref(cmd2);
        avro_schema_decref(cmd3);
        avro_schema_decref(cmd4);
        avro_schema_decref(cmd5);
        avro_schema_decref(cmd6);
        avro_schema_decref(cmd7);
        avro_schema_decref(cl3);
        avro_schema_decref(cl);
        avro_schema_decref(cl1);
        avro_schema_decref(cl2);
        avro_schema_decref(disp);
}

/* The test's hand-written bodies are the codec's wire format. */
Test(sr_codec, encoder_output_matches_hand_written_avro)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_result_t r;
        struct wb w;

        memset(&r, 0, sizeof(r));
        r.result_id = uuid_n(1);
        r.pipeline_run_id = uuid_n(2);
        r.stage_run_id = uuid_n(3);
        r.target_run_id = uuid_n(4);
        r.command_id = uuid_n(5);
        strcpy(r.command_status, "SUCCESS");
        r.device_id = uuid_n(6);
        strcpy(r.device_name, "dev");
        r.reported_at = 1700000000000;
        raw_result(&w, NULL, "SUCCESS", "dev");
        cr_assert(eq(int, sr_codec_encode_result(codec, &r, &buf, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(sz, buf.len, w.n));
        cr_assert(eq(int, memcmp(buf.ptr, w.b, w.n), 0));
        sr_buf_free(&buf);
}

Test(sr_codec, peek_reads_big_endian_schema_id)
{
        const uint8_t in[] = { 0, 0x01, 0x02, 0x03, 0x04, 0x99 };
        sr_errctx_t ec = { 0 };
        int32_t id = 0;

        cr_assert(eq(int, sr_codec_peek_schema_id(sr_slice(in, sizeof(in)),
                                                  &id, &ec), SR_OK));
        cr_assert(eq(i32, id, 0x01020304));
}

Test(sr_codec, encoded_record_starts_with_confluent_header)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_result_t r;
        int32_t id = 0;

        fill_result(&r);
        cr_assert(eq(int, sr_codec_encode_result(codec, &r, &buf, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(u8, ((uint8_t *)buf.ptr)[0], 0));
        cr_assert(eq(int, sr_codec_peek_schema_id(sr_buf_slice(&buf), &id,
                                                  &ec), SR_OK));
        cr_assert(eq(i32, id, SR_SCHEMA_RESULT));
        sr_buf_free(&buf);
}

/* ------------------------------------------------------------ commands */

Test(sr_codec, create_run_command_round_trips_full_spec)
{
        sr_command_t in, out;

        base_command(&in, SR_CMD_CREATE_RUN);
        fill_spec(&in.u.create.spec);
        in.u.create.run_number = 17;
        command_round_trip(&in, &out);
        cr_assert(eq(i32, out.u.create.run_number, 17));
        assert_spec(&out.u.create.spec, &in.u.create.spec);
        sr_command_fini(&out);
        sr_command_fini(&in);
}

Test(sr_codec, create_run_with_empty_spec_round_trips)
{
        sr_command_t in, out;

        base_command(&in, SR_CMD_CREATE_RUN);
        in.u.create.spec.pipeline_id = uuid_n(5);
        command_round_trip(&in, &out);
        cr_assert(eq(u32, out.u.create.spec.n_stages, 0));
        cr_assert(eq(ptr, out.u.create.spec.stages, NULL));
        sr_command_fini(&out);
}

Test(sr_codec, spec_op_without_args_decodes_as_empty_object)
{
        sr_command_t in, out;

        base_command(&in, SR_CMD_CREATE_RUN);
        fill_spec(&in.u.create.spec);
        free(in.u.create.spec.stages[1].ops[0].args_json);
        in.u.create.spec.stages[1].ops[0].args_json = NULL;
        command_round_trip(&in, &out);
        cr_assert(eq(str, out.u.create.spec.stages[1].ops[0].args_json,
                     "{}"));
        sr_command_fini(&out);
        sr_command_fini(&in);
}

Test(sr_codec, set_pipeline_run_status_keeps_status_text_verbatim)
{
        sr_command_t in, out;

        base_command(&in, SR_CMD_SET_PIPELINE_RUN_STATUS);
        strcpy(in.u.set.status, "CaNcElLeD");
        command_round_trip(&in, &out);
        cr_assert(eq(str, out.u.set.status, "CaNcElLeD"));
        cr_assert(sr_uuid_is_nil(&out.u.set.entity_id));
}

Test(sr_codec, set_stage_run_status_round_trips)
{
        sr_command_t in, out;

        base_command(&in, SR_CMD_SET_STAGE_RUN_STATUS);
        in.u.set.entity_id = uuid_n(50);
        strcpy(in.u.set.status, "running");
        command_round_trip(&in, &out);
        assert_uuid(out.u.set.entity_id, in.u.set.entity_id);
        cr_assert(eq(str, out.u.set.status, "running"));
}

Test(sr_codec, set_target_run_status_round_trips_with_and_without_device)
{
        sr_command_t in, out;

        base_command(&in, SR_CMD_SET_TARGET_RUN_STATUS);
        in.u.set.entity_id = uuid_n(51);
        strcpy(in.u.set.status, "failure");
        strcpy(in.u.set.device_name, "edge-gw-3");
        command_round_trip(&in, &out);
        assert_uuid(out.u.set.entity_id, in.u.set.entity_id);
        cr_assert(eq(str, out.u.set.status, "failure"));
        cr_assert(eq(str, out.u.set.device_name, "edge-gw-3"));

        in.u.set.device_name[0] = '\0';
        command_round_trip(&in, &out);
        cr_assert(eq(str, out.u.set.device_name, ""));
}

Test(sr_codec, timer_fired_round_trips)
{
        sr_command_t in, out;

        base_command(&in, SR_CMD_TIMER_FIRED);
        in.u.timer.entity_type = SR_ENT_STAGE_RUN;
        in.u.timer.entity_id = uuid_n(52);
        in.u.timer.deadline = 1700000999000;
        command_round_trip(&in, &out);
        cr_assert(eq(int, out.u.timer.entity_type, SR_ENT_STAGE_RUN));
        assert_uuid(out.u.timer.entity_id, in.u.timer.entity_id);
        cr_assert(eq(i64, out.u.timer.deadline, 1700000999000));
}

/* ------------------------------------------------------------ command v2 */

static int32_t encoded_command_id(const sr_command_t *c)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        int32_t id = 0;

        cr_assert(eq(int, sr_codec_encode_command(codec, c, &buf, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(int, sr_codec_peek_schema_id(sr_buf_slice(&buf), &id,
                                                  &ec), SR_OK));
        sr_buf_free(&buf);
        return id;
}

/* A command is written in the oldest version that carries it: version 1
 * (id 1) for what version 1 has, so a reader of the release before still
 * reads it; version 2 (id 7) only for the new kinds and an open stage. */
Test(sr_codec, a_command_is_written_in_the_oldest_version_that_carries_it)
{
        sr_command_t c;

        base_command(&c, SR_CMD_SET_PIPELINE_RUN_STATUS);
        strcpy(c.u.set.status, "cancelled");
        cr_assert(eq(i32, encoded_command_id(&c), 1));
        base_command(&c, SR_CMD_TIMER_FIRED);
        cr_assert(eq(i32, encoded_command_id(&c), 1));

        base_command(&c, SR_CMD_CREATE_RUN);
        fill_spec(&c.u.create.spec); /* closed stages */
        cr_assert(eq(i32, encoded_command_id(&c), 1));
        /* A closed stage that says how many it expects needs version 2
         * too: version 1 could not carry the count. */
        c.u.create.spec.stages[1].expected_targets = 3;
        cr_assert(eq(i32, encoded_command_id(&c), 7));
        sr_command_fini(&c);

        base_command(&c, SR_CMD_CREATE_RUN);
        fill_open_spec(&c.u.create.spec);
        cr_assert(eq(i32, encoded_command_id(&c), 7));
        sr_command_fini(&c);

        for (int k = SR_CMD_APPEND_TARGETS; k <= SR_CMD_STAGE_STEP; k++) {
                fill_v2_command(&c, (sr_cmd_kind_t)k);
                cr_assert(eq(i32, encoded_command_id(&c), 7), "kind %d", k);
                sr_command_fini(&c);
        }
        /* version 3 only for TargetCommand, version 4 for DeleteRun */
        fill_v2_command(&c, SR_CMD_TARGET_COMMAND);
        cr_assert(eq(i32, encoded_command_id(&c), 9));
        sr_command_fini(&c);
        fill_v2_command(&c, SR_CMD_DELETE_RUN);
        cr_assert(eq(i32, encoded_command_id(&c), 10));
        sr_command_fini(&c);
        /* version 5 only for the definition commands, version 6 only for
         * FillStep */
        for (int k = 0; k < SR_DEFCMD__COUNT; k++) {
                fill_def_command(&c, (sr_defcmd_kind_t)k);
                cr_assert(eq(i32, encoded_command_id(&c),
                             k == SR_DEFCMD_FILL_STEP ? 15 : 11),
                          "kind %d", k);
                sr_command_fini(&c);
        }
        cr_assert(eq(i32, sr_schema_builtin_id(SR_SCHEMA_COMMAND), 17));
        /* version 7 only for AddTargetRun (8: the device groups') */
        fill_v2_command(&c, SR_CMD_ADD_TARGET_RUN);
        cr_assert(eq(i32, encoded_command_id(&c), 16));
        sr_command_fini(&c);
}

/* A kind appended in version @p version (built-in id @p id): the
 * hand-written layout is what the encoder writes, byte for byte, and reads
 * back; framed as the version before (@p prev_id, which has no such
 * branch) it is refused, naming the branch. */
/* @p in is written as the hand-written layout of @p version under @p id,
 * byte for byte, and reads back the same. */
static void layout_round_trips(const sr_command_t *in, int32_t id,
                               int version)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_command_t out;
        struct wb w;

        raw_command(&w, id, version, in);
        cr_assert(eq(int, sr_codec_encode_command(codec, in, &buf, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(sz, buf.len, w.n));
        cr_assert(eq(int, memcmp(buf.ptr, w.b, w.n), 0));
        cr_assert(eq(int, sr_codec_decode_command(codec, sr_buf_slice(&buf),
                                                  &out, &ec), SR_OK),
                  "%s", ec.msg);
        assert_command_head(&out, in);
        assert_v2_payload(&out, in);
        sr_command_fini(&out);
        sr_buf_free(&buf);
}

static void appended_kind_round_trips(sr_cmd_kind_t kind, int32_t id,
                                      int version, int32_t prev_id)
{
        sr_errctx_t ec = { 0 };
        sr_command_t in, out;
        char want[64];
        struct wb w;

        fill_v2_command(&in, kind);
        layout_round_trips(&in, id, version);
        raw_command(&w, prev_id, version - 1, &in);
        cr_assert(eq(int, sr_codec_decode_command(codec, w_slice(&w), &out,
                                                  &ec), SR_ERR_SCHEMA));
        snprintf(want, sizeof(want), "unknown union branch %d",
                 payload_branch(kind));
        assert_msg(ec, want);
}

/* TargetCommand, appended after StageStep in version 3. */
Test(sr_codec, a_target_command_is_written_in_version_3_and_read_back)
{
        appended_kind_round_trips(SR_CMD_TARGET_COMMAND, 9, 3, 7);
}

/* DeleteRun, appended after TargetCommand in version 4. */
Test(sr_codec, a_delete_run_is_written_in_version_4_and_read_back)
{
        appended_kind_round_trips(SR_CMD_DELETE_RUN, 10, 4, 9);
}

/* AddTargetRun, appended after FillStep in version 7 (branch 30): its
 * layout byte for byte, read back, refused by version 6 (id 15). */
Test(sr_codec, an_add_target_run_is_written_in_version_7_and_read_back)
{
        appended_kind_round_trips(SR_CMD_ADD_TARGET_RUN, 16, 7, 15);
}

/* Its alias is optional (null on the wire), its name is not: an empty
 * one is never written. */
Test(sr_codec, an_add_target_run_without_alias_is_null_and_without_name_refused)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_command_t in, out;
        struct wb w;

        fill_v2_command(&in, SR_CMD_ADD_TARGET_RUN);
        in.u.add.device_alias[0] = '\0';
        layout_round_trips(&in, 16, 7);
        in.u.add.device_name[0] = '\0';
        cr_assert(eq(int, sr_codec_encode_command(codec, &in, &buf, &ec),
                     SR_ERR_INVALID));
        assert_msg(ec, "field device_name: empty");
        raw_command(&w, 16, 7, &in);
        cr_assert(eq(int, sr_codec_decode_command(codec, w_slice(&w), &out,
                                                  &ec), SR_ERR_SCHEMA));
        assert_msg(ec, "field device_name: empty");
}

/* What is written in version 1 is the version 1 layout, byte for byte:
 * no stage field of version 2 slips in. */
Test(sr_codec, encoder_output_matches_hand_written_version_1_avro)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_command_t in;
        struct wb w;

        base_command(&in, SR_CMD_CREATE_RUN);
        fill_spec(&in.u.create.spec);
        in.u.create.run_number = 9;
        raw_command(&w, 1, 1, &in);
        cr_assert(eq(int, sr_codec_encode_command(codec, &in, &buf, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(sz, buf.len, w.n));
        cr_assert(eq(int, memcmp(buf.ptr, w.b, w.n), 0));
        sr_buf_free(&buf);
        sr_command_fini(&in);
}

/* The hand-written v2 layout (new stage fields after targets, new branches
 * after TimerFired) is what the encoder writes, byte for byte. */
Test(sr_codec, encoder_output_matches_hand_written_version_2_avro)
{
        static const sr_cmd_kind_t kinds[] = {
                SR_CMD_CREATE_RUN, SR_CMD_APPEND_TARGETS,
                SR_CMD_SEAL_TARGETS, SR_CMD_STAGE_STEP,
        };
        sr_errctx_t ec = { 0 };
        sr_command_t in;
        struct wb w;

        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
                sr_buf_t buf = { 0 };

                if (kinds[i] == SR_CMD_CREATE_RUN) {
                        base_command(&in, SR_CMD_CREATE_RUN);
                        fill_open_spec(&in.u.create.spec);
                        in.u.create.run_number = 9;
                } else {
                        fill_v2_command(&in, kinds[i]);
                }
                raw_command(&w, 7, 2, &in);
                cr_assert(eq(int, sr_codec_encode_command(codec, &in, &buf,
                                                          &ec), SR_OK),
                          "kind %d: %s", (int)kinds[i], ec.msg);
                cr_assert(eq(sz, buf.len, w.n), "kind %d", (int)kinds[i]);
                cr_assert(eq(int, memcmp(buf.ptr, w.b, w.n), 0), "kind %d",
                          (int)kinds[i]);
                sr_buf_free(&buf);
                sr_command_fini(&in);
        }
}

Test(sr_codec, append_targets_round_trips_a_chunk_of_several_targets)
{
        sr_command_t in, out;

        fill_v2_command(&in, SR_CMD_APPEND_TARGETS);
        command_round_trip(&in, &out);
        assert_v2_payload(&out, &in);
        cr_assert(sr_uuid_is_nil(&out.u.append.targets[1].target_id));
        sr_command_fini(&out);
        cr_assert(eq(ptr, out.u.append.targets, NULL));

        /* An empty chunk is a chunk too. */
        sr_command_fini(&in);
        cr_assert(eq(ptr, in.u.append.targets, NULL));
        in.kind = SR_CMD_APPEND_TARGETS;
        in.u.append.chunk = 42;
        command_round_trip(&in, &out);
        cr_assert(eq(u32, out.u.append.chunk, 42));
        cr_assert(eq(u32, out.u.append.n_targets, 0));
        cr_assert(eq(ptr, out.u.append.targets, NULL));
        sr_command_fini(&out);
}

Test(sr_codec, seal_targets_round_trips_count_chunks_and_every_digest_byte)
{
        sr_command_t in, out;

        fill_v2_command(&in, SR_CMD_SEAL_TARGETS);
        command_round_trip(&in, &out);
        assert_v2_payload(&out, &in);
        cr_assert(eq(i64, out.u.seal.count, 5000000123LL));
        cr_assert(eq(u8, out.u.seal.digest[0], 0x00));
        cr_assert(eq(u8, out.u.seal.digest[SR_DIGEST_LEN - 1], 0xff));

        /* The bounds: an empty set, and the largest chunk index. */
        in.u.seal.count = 0;
        in.u.seal.chunks = INT32_MAX;
        command_round_trip(&in, &out);
        assert_v2_payload(&out, &in);
}

Test(sr_codec, stage_step_round_trips_step_text_and_cursor)
{
        sr_command_t in, out;
        char step[SR_SHORT_MAX];

        fill_v2_command(&in, SR_CMD_STAGE_STEP);
        command_round_trip(&in, &out);
        assert_v2_payload(&out, &in);

        /* The step is a string, not an enum: a kind this build does not
         * know yet travels verbatim, up to 63 bytes. */
        memset(step, 's', sizeof(step) - 1);
        step[sizeof(step) - 1] = '\0';
        strcpy(in.u.step.step, step);
        in.u.step.cursor = 0;
        command_round_trip(&in, &out);
        assert_v2_payload(&out, &in);
}

Test(sr_codec, an_open_stage_round_trips_its_append_flag_and_expected_count)
{
        sr_command_t in, out;

        base_command(&in, SR_CMD_CREATE_RUN);
        fill_open_spec(&in.u.create.spec);
        in.u.create.run_number = 3;
        command_round_trip(&in, &out);
        assert_spec(&out.u.create.spec, &in.u.create.spec);
        cr_assert(out.u.create.spec.stages[0].append_targets);
        cr_assert(eq(i64, out.u.create.spec.stages[0].expected_targets, 5));
        cr_assert(eq(u32, out.u.create.spec.stages[0].n_targets, 0));
        cr_assert(not(out.u.create.spec.stages[1].append_targets));
        cr_assert(eq(i64, out.u.create.spec.stages[1].expected_targets, 0));
        sr_command_fini(&out);
        sr_command_fini(&in);
}

/* A record framed with id 1 is read with Command version 1's own text;
 * the stage fields version 1 lacks take their defaults: a closed stage. */
Test(sr_codec, a_version_1_create_run_decodes_every_field_with_stages_closed)
{
        sr_command_t in, open, out;
        struct wb w;

        /* First a v2 open stage through the same codec: nothing of it may
         * stay behind for the v1 record. */
        base_command(&open, SR_CMD_CREATE_RUN);
        fill_open_spec(&open.u.create.spec);
        raw_command(&w, 7, 2, &open);
        command_decode_ok(&w, &out);
        cr_assert(out.u.create.spec.stages[0].append_targets);
        sr_command_fini(&out);

        base_command(&in, SR_CMD_CREATE_RUN);
        fill_spec(&in.u.create.spec);
        in.u.create.run_number = 17;
        raw_command(&w, 1, 1, &in);
        command_decode_ok(&w, &out);
        assert_command_head(&out, &in);
        cr_assert(eq(i32, out.u.create.run_number, 17));
        assert_spec(&out.u.create.spec, &in.u.create.spec);
        for (uint32_t i = 0; i < out.u.create.spec.n_stages; i++) {
                cr_assert(not(out.u.create.spec.stages[i].append_targets));
                cr_assert(eq(i64,
                             out.u.create.spec.stages[i].expected_targets, 0));
        }
        sr_command_fini(&out);

        /* And v2 again after v1. */
        raw_command(&w, 7, 2, &open);
        command_decode_ok(&w, &out);
        assert_spec(&out.u.create.spec, &open.u.create.spec);
        sr_command_fini(&out);
        sr_command_fini(&open);
        sr_command_fini(&in);
}

Test(sr_codec, version_1_status_and_timer_commands_decode)
{
        sr_command_t in, out;
        struct wb w;

        base_command(&in, SR_CMD_SET_PIPELINE_RUN_STATUS);
        strcpy(in.u.set.status, "Cancelled");
        raw_command(&w, 1, 1, &in);
        command_decode_ok(&w, &out);
        assert_command_head(&out, &in);
        cr_assert(eq(str, out.u.set.status, "Cancelled"));

        base_command(&in, SR_CMD_TIMER_FIRED);
        in.u.timer.entity_type = SR_ENT_TARGET_RUN;
        in.u.timer.entity_id = uuid_n(53);
        in.u.timer.deadline = 1700000999000;
        raw_command(&w, 1, 1, &in);
        command_decode_ok(&w, &out);
        assert_command_head(&out, &in);
        cr_assert(eq(int, out.u.timer.entity_type, SR_ENT_TARGET_RUN));
        assert_uuid(out.u.timer.entity_id, in.u.timer.entity_id);
        cr_assert(eq(i64, out.u.timer.deadline, 1700000999000));
}

Test(sr_codec, peek_command_ids_reads_both_command_versions)
{
        sr_uuid_t cmd, run;
        sr_errctx_t ec = { 0 };
        sr_command_t in;
        struct wb w;

        base_command(&in, SR_CMD_SET_PIPELINE_RUN_STATUS);
        strcpy(in.u.set.status, "cancelled");
        for (int version = 1; version <= 2; version++) {
                memset(&cmd, 0, sizeof(cmd));
                memset(&run, 0, sizeof(run));
                raw_command(&w, version == 1 ? 1 : 7, version, &in);
                cr_assert(eq(int, sr_codec_peek_command_ids(codec,
                                                            w_slice(&w),
                                                            &cmd, &run, &ec),
                             SR_OK), "v%d: %s", version, ec.msg);
                assert_uuid(cmd, in.command_id);
                assert_uuid(run, in.pipeline_run_id);
        }
        /* An id that is no Command's. */
        w.b[4] = SR_SCHEMA_EVENT;
        cr_assert(eq(int, sr_codec_peek_command_ids(codec, w_slice(&w), &cmd,
                                                    &run, &ec),
                     SR_ERR_SCHEMA));
}

Test(sr_codec, both_ids_of_commands_and_of_the_changelog_map_to_their_slot)
{
        static const int cmd_ids[] = { 1, 7, 9, 10, 11, 15, 16, 17 };

        for (size_t i = 0; i < sizeof(cmd_ids) / sizeof(cmd_ids[0]); i++)
                cr_assert(eq(int, sr_codec_kind_of(codec, cmd_ids[i]),
                             SR_SCHEMA_COMMAND), "id %d", cmd_ids[i]);
        cr_assert(eq(int, sr_codec_kind_of(codec, 4), SR_SCHEMA_CHANGELOG));
        cr_assert(eq(int, sr_codec_kind_of(codec, 8), SR_SCHEMA_CHANGELOG));
        cr_assert(eq(int, sr_codec_kind_of(codec, 12), SR_SCHEMA_CHANGELOG));
        cr_assert(eq(int, sr_codec_kind_of(codec, 18), SR_SCHEMA_CHANGELOG));
        cr_assert(eq(int, sr_codec_kind_of(codec, 6), SR_SCHEMA_REPLY));
        cr_assert(eq(int, sr_codec_kind_of(codec, 13), SR_SCHEMA_REPLY));
        cr_assert(eq(int, sr_codec_kind_of(codec, 14), SR_SCHEMA_DEF_EVENT));
        /* Every other slot's own number. */
        cr_assert(eq(int, sr_codec_kind_of(codec, 2), SR_SCHEMA_RESULT));
        cr_assert(eq(int, sr_codec_kind_of(codec, 3), SR_SCHEMA_EVENT));
        cr_assert(eq(int, sr_codec_kind_of(codec, 5), SR_SCHEMA_DISPATCH));
        cr_assert(eq(int, sr_codec_kind_of(codec, 0), 0));
        cr_assert(eq(int, sr_codec_kind_of(codec, 19), 0));
}

/* ------------------------------------------------------------ flat records */

Test(sr_codec, result_round_trips)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_result_t in, out;

        fill_result(&in);
        cr_assert(eq(int, sr_codec_encode_result(codec, &in, &buf, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(int, sr_codec_decode_result(codec, sr_buf_slice(&buf),
                                                 &out, &ec), SR_OK),
                  "%s", ec.msg);
        sr_buf_free(&buf);
        assert_uuid(out.result_id, in.result_id);
        assert_uuid(out.pipeline_run_id, in.pipeline_run_id);
        assert_uuid(out.stage_run_id, in.stage_run_id);
        assert_uuid(out.target_run_id, in.target_run_id);
        assert_uuid(out.command_id, in.command_id);
        cr_assert(eq(str, out.command_status, "InProgress")); /* verbatim */
        assert_uuid(out.device_id, in.device_id);
        cr_assert(eq(str, out.device_name, in.device_name));
        cr_assert(eq(i64, out.reported_at, in.reported_at));
}

Test(sr_codec, event_round_trips_with_all_ids)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_event_t in, out;

        fill_event(&in);
        cr_assert(eq(int, sr_codec_encode_event(codec, &in, &buf, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(int, sr_codec_decode_event(codec, sr_buf_slice(&buf),
                                                &out, &ec), SR_OK),
                  "%s", ec.msg);
        sr_buf_free(&buf);
        assert_event(&out, &in);
}

Test(sr_codec, creation_event_round_trips_null_from_status_and_nil_ids)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_event_t in, out;

        fill_event(&in);
        in.entity_type = SR_ENT_PIPELINE_RUN;
        in.from_status = SR_ST_NONE;
        in.to_status = SR_ST_PENDING;
        in.reason[0] = '\0';
        memset(&in.stage_run_id, 0, sizeof(in.stage_run_id));
        memset(&in.stage_run_operation_id, 0, sizeof(sr_uuid_t));
        memset(&in.device_id, 0, sizeof(in.device_id));
        cr_assert(eq(int, sr_codec_encode_event(codec, &in, &buf, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(int, sr_codec_decode_event(codec, sr_buf_slice(&buf),
                                                &out, &ec), SR_OK),
                  "%s", ec.msg);
        sr_buf_free(&buf);
        assert_event(&out, &in);
        cr_assert(eq(int, out.from_status, SR_ST_NONE));
}

Test(sr_codec, event_status_text_is_accepted_in_any_case)
{
        sr_errctx_t ec = { 0 };
        struct wb w;
        sr_event_t out;

        raw_event(&w, 1, "RUNNING");
        cr_assert(eq(int, sr_codec_decode_event(codec, w_slice(&w), &out,
                                                &ec), SR_OK), "%s", ec.msg);
        cr_assert(eq(int, out.to_status, SR_ST_RUNNING));
}

static void dispatch_round_trip(const sr_dispatch_t *in)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_dispatch_t out;
        char *args = NULL;

        cr_assert(eq(int, sr_codec_encode_dispatch(codec, in, &buf, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(int, sr_codec_decode_dispatch(codec,
                                                   sr_buf_slice(&buf), &out,
                                                   &args, &ec), SR_OK),
                  "%s", ec.msg);
        sr_buf_free(&buf);
        cr_assert(eq(int, out.kind, in->kind));
        assert_uuid(out.command_id, in->command_id);
        assert_uuid(out.pipeline_run_id, in->pipeline_run_id);
        assert_uuid(out.stage_run_id, in->stage_run_id);
        assert_uuid(out.target_run_id, in->target_run_id);
        assert_uuid(out.device_id, in->device_id);
        cr_assert(eq(str, out.device_name, (char *)in->device_name));
        cr_assert(eq(str, out.operation_type, (char *)in->operation_type));
        cr_assert(eq(ptr, (void *)out.args_json, args));
        cr_assert(eq(str, args,
                     (char *)(in->args_json ? in->args_json : "{}")));
        cr_assert(eq(str, out.enterprise_id, (char *)in->enterprise_id));
        cr_assert(eq(i64, out.issued_at, in->issued_at));
        free(args);
}

Test(sr_codec, dispatch_command_and_cancel_round_trip)
{
        sr_dispatch_t d;

        memset(&d, 0, sizeof(d));
        d.kind = SR_DISPATCH_COMMAND;
        d.command_id = uuid_n(60);
        d.pipeline_run_id = uuid_n(61);
        d.stage_run_id = uuid_n(62);
        d.target_run_id = uuid_n(63);
        d.device_id = uuid_n(64);
        strcpy(d.device_name, "edge-gw-9");
        strcpy(d.operation_type, "firmware.update");
        d.args_json = "{\"version\":\"2.1.0\"}";
        strcpy(d.enterprise_id, "acme");
        d.issued_at = 1700000002000;
        dispatch_round_trip(&d);

        d.kind = SR_DISPATCH_CANCEL;
        d.args_json = NULL;
        dispatch_round_trip(&d);
}

Test(sr_codec, accepted_reply_with_three_versions_round_trips)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_reply_t in, out;

        fill_reply(&in, true);
        cr_assert(eq(int, sr_codec_encode_reply(codec, &in, &buf, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(int, sr_codec_decode_reply(codec, sr_buf_slice(&buf),
                                                &out, &ec), SR_OK),
                  "%s", ec.msg);
        sr_buf_free(&buf);
        assert_reply(&out, &in);
}

Test(sr_codec, rejected_reply_round_trips_reason_and_message)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_reply_t in, out;

        fill_reply(&in, false);
        cr_assert(eq(int, sr_codec_encode_reply(codec, &in, &buf, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(int, sr_codec_decode_reply(codec, sr_buf_slice(&buf),
                                                &out, &ec), SR_OK),
                  "%s", ec.msg);
        sr_buf_free(&buf);
        assert_reply(&out, &in);
        cr_assert(eq(int, out.reason, SR_REJECT_ILLEGAL_TRANSITION));
}

/* ------------------------------------------------------------ changelog */

Test(sr_codec, changelog_pipeline_run_round_trips_internal_fields)
{
        sr_changelog_t in, out;
        sr_pipeline_run_t *a = &out.u.entity.u.pr, *b = &in.u.entity.u.pr;

        memset(&in, 0, sizeof(in));
        in.kind = SR_CL_ENTITY;
        in.u.entity.type = SR_ENT_PIPELINE_RUN;
        fill_meta(&b->m, 70);
        b->pipeline_id = uuid_n(71);
        strcpy(b->pipeline_name, "firmware rollout");
        strcpy(b->enterprise_id, "acme");
        b->run_number = 12;
        b->auto_promote = true;
        b->timeout_seconds = 86400;
        b->n_stages = 2;
        b->last_seq = 123456789012ull;
        b->next_deadline = 1700000123456LL;
        b->spec_hash = 0xfedcba9876543210ull; /* top bit set */
        b->created_by_command = uuid_n(72);
        changelog_round_trip(&in, &out);
        assert_meta(&a->m, &b->m);
        assert_uuid(a->pipeline_id, b->pipeline_id);
        cr_assert(eq(str, a->pipeline_name, b->pipeline_name));
        cr_assert(eq(str, a->enterprise_id, b->enterprise_id));
        cr_assert(eq(i32, a->run_number, b->run_number));
        cr_assert(eq(int, a->auto_promote, b->auto_promote));
        cr_assert(eq(i64, a->timeout_seconds, b->timeout_seconds));
        cr_assert(eq(u32, a->n_stages, b->n_stages));
        cr_assert(eq(u64, a->last_seq, b->last_seq));
        cr_assert(eq(i64, a->next_deadline, b->next_deadline));
        cr_assert(eq(u64, a->spec_hash, b->spec_hash));
        assert_uuid(a->created_by_command, b->created_by_command);
}

Test(sr_codec, changelog_stage_run_round_trips_frozen_spec)
{
        sr_changelog_t in, out;
        sr_stage_run_t *a = &out.u.entity.u.sr, *b = &in.u.entity.u.sr;
        sr_runspec_t spec;

        fill_spec(&spec);
        memset(&in, 0, sizeof(in));
        in.kind = SR_CL_ENTITY;
        in.u.entity.type = SR_ENT_STAGE_RUN;
        fill_meta(&b->m, 80);
        b->m.status = SR_ST_QUEUED;
        b->pipeline_run_id = uuid_n(81);
        b->pipeline_id = uuid_n(82);
        b->stage_id = uuid_n(83);
        strcpy(b->enterprise_id, "acme");
        b->index = 1;
        strcpy(b->name, "canary");
        strcpy(b->description, "5% of the fleet");
        b->timeout_seconds = 600;
        b->queued_at = 1700000000500;
        /* Take stage 1's arrays; one op without args (stays NULL). */
        b->n_ops = spec.stages[1].n_ops;
        b->ops = spec.stages[1].ops;
        b->n_targets = spec.stages[1].n_targets;
        b->targets = spec.stages[1].targets;
        spec.stages[1].ops = NULL;
        spec.stages[1].targets = NULL;
        spec.stages[1].n_ops = spec.stages[1].n_targets = 0;
        free(b->ops[1].args_json);
        b->ops[1].args_json = NULL;

        changelog_round_trip(&in, &out);
        assert_meta(&a->m, &b->m);
        assert_uuid(a->pipeline_run_id, b->pipeline_run_id);
        assert_uuid(a->pipeline_id, b->pipeline_id);
        assert_uuid(a->stage_id, b->stage_id);
        cr_assert(eq(str, a->enterprise_id, b->enterprise_id));
        cr_assert(eq(u32, a->index, b->index));
        cr_assert(eq(str, a->name, b->name));
        cr_assert(eq(str, a->description, b->description));
        cr_assert(eq(i64, a->timeout_seconds, b->timeout_seconds));
        cr_assert(eq(i64, a->queued_at, b->queued_at));
        cr_assert(eq(u32, a->n_ops, b->n_ops));
        assert_ops(a->ops, b->ops, b->n_ops);
        cr_assert(eq(u32, a->n_targets, b->n_targets));
        assert_targets(a->targets, b->targets, b->n_targets);
        sr_entity_fini(&out.u.entity);
        sr_entity_fini(&in.u.entity);
        sr_runspec_fini(&spec);
}

Test(sr_codec, changelog_stage_run_operation_round_trips)
{
        sr_changelog_t in, out;
        sr_stage_run_op_t *a = &out.u.entity.u.op, *b = &in.u.entity.u.op;

        memset(&in, 0, sizeof(in));
        in.kind = SR_CL_ENTITY;
        in.u.entity.type = SR_ENT_STAGE_RUN_OPERATION;
        b->id = uuid_n(90);
        b->pipeline_run_id = uuid_n(91);
        b->stage_run_id = uuid_n(92);
        b->stage_index = 1;
        b->index = 3;
        strcpy(b->operation_type, "reboot");
        b->args_json = strdup("{\"delay\":5}");
        b->created_at = 1700000000600;
        b->version = 2;
        changelog_round_trip(&in, &out);
        assert_uuid(a->id, b->id);
        assert_uuid(a->pipeline_run_id, b->pipeline_run_id);
        assert_uuid(a->stage_run_id, b->stage_run_id);
        cr_assert(eq(u32, a->stage_index, b->stage_index));
        cr_assert(eq(u32, a->index, b->index));
        cr_assert(eq(str, a->operation_type, b->operation_type));
        cr_assert(eq(str, a->args_json, b->args_json));
        cr_assert(eq(i64, a->created_at, b->created_at));
        cr_assert(eq(u32, a->version, b->version));
        sr_entity_fini(&out.u.entity);
        sr_entity_fini(&in.u.entity);
}

Test(sr_codec, changelog_target_run_round_trips)
{
        sr_changelog_t in, out;
        sr_target_run_t *a = &out.u.entity.u.tr, *b = &in.u.entity.u.tr;

        memset(&in, 0, sizeof(in));
        in.kind = SR_CL_ENTITY;
        in.u.entity.type = SR_ENT_TARGET_RUN;
        fill_meta(&b->m, 100);
        b->m.status = SR_ST_DISPATCHED;
        b->pipeline_run_id = uuid_n(101);
        b->stage_run_id = uuid_n(102);
        b->stage_run_operation_id = uuid_n(103);
        b->stage_index = 1;
        b->op_index = 0;
        b->target_index = 2;
        b->target_id = uuid_n(104);
        b->device_id = uuid_n(105);
        strcpy(b->device_name, "edge-gw-5");
        strcpy(b->device_alias, "lobby");
        b->command_id = uuid_n(106);
        strcpy(b->command_status, "ACKNOWLEDGED");
        b->cancel_requested = true;
        changelog_round_trip(&in, &out);
        assert_meta(&a->m, &b->m);
        assert_uuid(a->pipeline_run_id, b->pipeline_run_id);
        assert_uuid(a->stage_run_id, b->stage_run_id);
        assert_uuid(a->stage_run_operation_id, b->stage_run_operation_id);
        cr_assert(eq(u32, a->stage_index, b->stage_index));
        cr_assert(eq(u32, a->op_index, b->op_index));
        cr_assert(eq(u32, a->target_index, b->target_index));
        assert_uuid(a->target_id, b->target_id);
        assert_uuid(a->device_id, b->device_id);
        cr_assert(eq(str, a->device_name, b->device_name));
        cr_assert(eq(str, a->device_alias, b->device_alias));
        assert_uuid(a->command_id, b->command_id);
        cr_assert(eq(str, a->command_status, b->command_status));
        cr_assert(eq(int, a->cancel_requested, b->cancel_requested));

        /* Not yet dispatched: nil command id travels as null. */
        memset(&b->command_id, 0, sizeof(b->command_id));
        b->command_status[0] = '\0';
        changelog_round_trip(&in, &out);
        cr_assert(sr_uuid_is_nil(&a->command_id));
        cr_assert(eq(str, a->command_status, ""));
}

Test(sr_codec, changelog_dedupe_round_trips_with_and_without_reply)
{
        sr_changelog_t in, out;

        memset(&in, 0, sizeof(in));
        in.kind = SR_CL_DEDUPE;
        in.u.dedupe.input_id = uuid_n(110);
        in.u.dedupe.pipeline_run_id = uuid_n(111);
        in.u.dedupe.has_reply = true;
        fill_reply(&in.u.dedupe.reply, true);
        changelog_round_trip(&in, &out);
        assert_uuid(out.u.dedupe.input_id, in.u.dedupe.input_id);
        assert_uuid(out.u.dedupe.pipeline_run_id,
                    in.u.dedupe.pipeline_run_id);
        cr_assert(out.u.dedupe.has_reply);
        assert_reply(&out.u.dedupe.reply, &in.u.dedupe.reply);

        in.u.dedupe.has_reply = false;
        changelog_round_trip(&in, &out);
        assert_uuid(out.u.dedupe.input_id, in.u.dedupe.input_id);
        cr_assert(not(out.u.dedupe.has_reply));
}

Test(sr_codec, changelog_batch_marker_round_trips)
{
        sr_changelog_t in, out;

        memset(&in, 0, sizeof(in));
        in.kind = SR_CL_MARKER;
        strcpy(in.u.marker.batch_id, "p3-000000000042");
        in.u.marker.partition = 3;
        in.u.marker.commands_offset = 123456;
        in.u.marker.results_offset = 654321;
        in.u.marker.written_at = 1700000003000;
        changelog_round_trip(&in, &out);
        cr_assert(eq(str, out.u.marker.batch_id, in.u.marker.batch_id));
        cr_assert(eq(i32, out.u.marker.partition, 3));
        cr_assert(eq(i64, out.u.marker.commands_offset, 123456));
        cr_assert(eq(i64, out.u.marker.results_offset, 654321));
        cr_assert(eq(i64, out.u.marker.written_at, 1700000003000));
}

Test(sr_codec, changelog_retired_run_round_trips)
{
        sr_changelog_t in, out;

        memset(&in, 0, sizeof(in));
        in.kind = SR_CL_RETIRED;
        in.u.retired.pipeline_run_id = uuid_n(120);
        strcpy(in.u.retired.enterprise_id, "ent-acme");
        in.u.retired.pipeline_id = uuid_n(121);
        in.u.retired.ended_at = 1700000001000;
        in.u.retired.retired_at = 1702592001000;
        in.u.retired.forget_at = 1703196801000;
        changelog_round_trip(&in, &out);
        assert_uuid(out.u.retired.pipeline_run_id,
                    in.u.retired.pipeline_run_id);
        cr_assert(eq(str, out.u.retired.enterprise_id, "ent-acme"));
        assert_uuid(out.u.retired.pipeline_id, in.u.retired.pipeline_id);
        cr_assert(eq(i64, out.u.retired.ended_at, 1700000001000));
        cr_assert(eq(i64, out.u.retired.retired_at, 1702592001000));
        cr_assert(eq(i64, out.u.retired.forget_at, 1703196801000));

        /* forget_at 0: a marker kept for ever. */
        in.u.retired.forget_at = 0;
        changelog_round_trip(&in, &out);
        cr_assert(eq(i64, out.u.retired.forget_at, 0));
}

Test(sr_codec, changelog_retired_run_with_too_long_enterprise_is_refused)
{
        sr_changelog_t in;
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };

        memset(&in, 0, sizeof(in));
        in.kind = SR_CL_RETIRED;
        memset(in.u.retired.enterprise_id, 'e',
               sizeof(in.u.retired.enterprise_id)); /* no NUL */
        cr_assert(eq(int, sr_codec_encode_changelog(codec, &in, &buf, &ec),
                     SR_ERR_INVALID));
        cr_assert(not(eq(ptr, strstr(ec.msg, "RetiredRun"), NULL)), "%s",
                  ec.msg);
        cr_assert(not(eq(ptr, strstr(ec.msg, "enterprise_id"), NULL)),
                  "%s", ec.msg);
}

Test(sr_codec, codec_is_reusable_across_record_kinds)
{
        sr_changelog_t in, out;

        /* Alternate branches of the same reused value. */
        for (int i = 0; i < 4; i++) {
                memset(&in, 0, sizeof(in));
                if (i % 2) {
                        in.kind = SR_CL_MARKER;
                        strcpy(in.u.marker.batch_id, "b");
                } else {
                        in.kind = SR_CL_ENTITY;
                        in.u.entity.type = SR_ENT_TARGET_RUN;
                        fill_meta(&in.u.entity.u.tr.m, i);
                }
                changelog_round_trip(&in, &out);
        }
}

/* ------------------------------------------------------------ changelog v2 */

/* EntityMeta as the changelog lays it out (both versions). */
static void raw_meta(struct wb *w, const sr_meta_t *m)
{
        w_uuid_of(w, &m->id);
        w_str(w, sr_status_name(m->status));
        w_str(w, m->reason);
        w_long(w, m->created_at);
        w_long(w, m->updated_at);
        w_long(w, m->started_at);
        w_long(w, m->ended_at);
        w_long(w, m->version);
        w_long(w, m->deadline);
}

/* A ChangelogRecord holding a StageRun, framed with @p id and laid out as
 * ChangelogRecord version @p version: version 2 appends the open-stage
 * fields, seal_digest null unless sealed or set. */
static void raw_stage_run(struct wb *w, int32_t id, int version,
                          const sr_stage_run_t *st)
{
        static const uint8_t zero[SR_DIGEST_LEN];

        w_header(w, id);
        w_long(w, SR_ENT_STAGE_RUN);
        raw_meta(w, &st->m);
        w_uuid_of(w, &st->pipeline_run_id);
        w_uuid_of(w, &st->pipeline_id);
        w_uuid_of(w, &st->stage_id);
        w_str(w, st->enterprise_id);
        w_long(w, st->index);
        w_str(w, st->name);
        w_str(w, st->description);
        w_long(w, st->timeout_seconds);
        w_long(w, st->queued_at);
        if (st->n_ops)
                w_long(w, st->n_ops);
        for (uint32_t j = 0; j < st->n_ops; j++) {
                w_str(w, st->ops[j].operation_type);
                if (st->ops[j].args_json) {
                        w_long(w, 1);
                        w_str(w, st->ops[j].args_json);
                } else {
                        w_long(w, 0);
                }
        }
        w_long(w, 0);
        raw_targets(w, st->targets, st->n_targets);
        if (version < 2)
                return;
        w_bool(w, st->append_targets);
        w_long(w, st->expected_targets);
        /* "int" fields: a count above INT32_MAX comes out negative. */
        w_long(w, (int32_t)st->chunks_applied);
        w_long(w, (int32_t)st->targets_appended);
        w_bool(w, st->sealed);
        w_long(w, (int32_t)st->seal_chunks);
        w_long(w, (int32_t)st->seal_count);
        if (!st->sealed && !memcmp(st->seal_digest, zero, SR_DIGEST_LEN)) {
                w_long(w, 0);
                return;
        }
        w_long(w, 1);
        w_raw(w, st->seal_digest, SR_DIGEST_LEN);
}

/* A ChangelogRecord holding a StageChunk (branch 7), framed with @p id. */
static void raw_chunk(struct wb *w, int32_t id, const sr_stage_chunk_t *c)
{
        w_header(w, id);
        w_long(w, 7);
        w_uuid_of(w, &c->pipeline_run_id);
        w_long(w, c->stage_index);
        w_long(w, c->chunk);
        w_raw(w, c->digest, SR_DIGEST_LEN);
        raw_targets(w, c->targets, c->n_targets);
}

/* A closed stage run: stage 1 of fill_spec() frozen in it (@p st owns the
 * arrays; sr_entity_fini() of its entity frees them). */
static void fill_stage_run(sr_changelog_t *cl)
{
        sr_stage_run_t *st = &cl->u.entity.u.sr;
        sr_runspec_t spec;

        fill_spec(&spec);
        memset(cl, 0, sizeof(*cl));
        cl->kind = SR_CL_ENTITY;
        cl->u.entity.type = SR_ENT_STAGE_RUN;
        fill_meta(&st->m, 80);
        st->m.status = SR_ST_PROCESSING;
        st->pipeline_run_id = uuid_n(81);
        st->pipeline_id = uuid_n(82);
        st->stage_id = uuid_n(83);
        strcpy(st->enterprise_id, "acme");
        st->index = 1;
        strcpy(st->name, "canary");
        strcpy(st->description, "5% of the fleet");
        st->timeout_seconds = 600;
        st->queued_at = 1700000000500;
        st->n_ops = spec.stages[1].n_ops;
        st->ops = spec.stages[1].ops;
        st->n_targets = spec.stages[1].n_targets;
        st->targets = spec.stages[1].targets;
        spec.stages[1].ops = NULL;
        spec.stages[1].targets = NULL;
        spec.stages[1].n_ops = spec.stages[1].n_targets = 0;
        free(st->ops[1].args_json);
        st->ops[1].args_json = NULL; /* null args travel as null */
        sr_runspec_fini(&spec);
}

/* fill_stage_run() made open and sealed: no inline targets, every
 * open-stage field set, above 2^31 where a field is a long. */
static void fill_open_stage_run(sr_changelog_t *cl)
{
        sr_stage_run_t *st = &cl->u.entity.u.sr;

        fill_stage_run(cl);
        free(st->targets);
        st->targets = NULL;
        st->n_targets = 0;
        st->append_targets = true;
        st->expected_targets = 5000000123LL;
        st->chunks_applied = 7;
        st->targets_appended = 6543;
        st->sealed = true;
        st->seal_chunks = 7;
        st->seal_count = INT32_MAX;
        fill_digest(st->seal_digest);
}

/* Every open-stage field back to zero: a closed stage again. */
static void close_stage(sr_stage_run_t *st)
{
        st->append_targets = false;
        st->expected_targets = 0;
        st->chunks_applied = st->targets_appended = 0;
        st->sealed = false;
        st->seal_chunks = st->seal_count = 0;
        memset(st->seal_digest, 0, SR_DIGEST_LEN);
}

/* A chunk of three targets (the first with a derived id: null), its
 * digest every byte distinct. */
static void fill_chunk(sr_changelog_t *cl)
{
        sr_stage_chunk_t *c = &cl->u.chunk;

        memset(cl, 0, sizeof(*cl));
        cl->kind = SR_CL_CHUNK;
        c->pipeline_run_id = uuid_n(81);
        c->stage_index = 1;
        c->chunk = 41;
        fill_digest(c->digest);
        c->n_targets = 3;
        c->targets = calloc(3, sizeof(*c->targets));
        cr_assert(not(eq(ptr, c->targets, NULL)));
        for (uint32_t k = 0; k < 3; k++) {
                sr_spec_target_t *t = &c->targets[k];

                if (k != 0)
                        t->target_id = uuid_n((int)(600 + k));
                t->device_id = uuid_n((int)(610 + k));
                snprintf(t->device_name, sizeof(t->device_name),
                         "chunk-41-device-%u", k);
                if (k == 2)
                        strcpy(t->device_alias, "rack 9");
        }
}

static void assert_stage_run(const sr_stage_run_t *a, const sr_stage_run_t *b)
{
        assert_meta(&a->m, &b->m);
        assert_uuid(a->pipeline_run_id, b->pipeline_run_id);
        assert_uuid(a->pipeline_id, b->pipeline_id);
        assert_uuid(a->stage_id, b->stage_id);
        cr_assert(eq(str, (char *)a->enterprise_id, (char *)b->enterprise_id));
        cr_assert(eq(u32, a->index, b->index));
        cr_assert(eq(str, (char *)a->name, (char *)b->name));
        cr_assert(eq(str, (char *)a->description, (char *)b->description));
        cr_assert(eq(i64, a->timeout_seconds, b->timeout_seconds));
        cr_assert(eq(i64, a->queued_at, b->queued_at));
        cr_assert(eq(u32, a->n_ops, b->n_ops));
        assert_ops(a->ops, b->ops, b->n_ops);
        cr_assert(eq(u32, a->n_targets, b->n_targets));
        assert_targets(a->targets, b->targets, b->n_targets);
        cr_assert(eq(int, a->append_targets, b->append_targets));
        cr_assert(eq(i64, a->expected_targets, b->expected_targets));
        cr_assert(eq(u32, a->chunks_applied, b->chunks_applied));
        cr_assert(eq(u32, a->targets_appended, b->targets_appended));
        cr_assert(eq(int, a->sealed, b->sealed));
        cr_assert(eq(u32, a->seal_chunks, b->seal_chunks));
        cr_assert(eq(u32, a->seal_count, b->seal_count));
        for (int i = 0; i < SR_DIGEST_LEN; i++)
                cr_assert(eq(u8, a->seal_digest[i], b->seal_digest[i]),
                          "seal_digest[%d]", i);
}

static void assert_chunk(const sr_stage_chunk_t *a, const sr_stage_chunk_t *b)
{
        assert_uuid(a->pipeline_run_id, b->pipeline_run_id);
        cr_assert(eq(u32, a->stage_index, b->stage_index));
        cr_assert(eq(u32, a->chunk, b->chunk));
        for (int i = 0; i < SR_DIGEST_LEN; i++)
                cr_assert(eq(u8, a->digest[i], b->digest[i]), "digest[%d]",
                          i);
        cr_assert(eq(u32, a->n_targets, b->n_targets));
        assert_targets(a->targets, b->targets, b->n_targets);
}

/* The id @p cl is framed with: the Confluent header's 4 bytes. */
static int32_t encoded_changelog_id(const sr_changelog_t *cl)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        const uint8_t *b;
        int32_t id;

        cr_assert(eq(int, sr_codec_encode_changelog(codec, cl, &buf, &ec),
                     SR_OK), "%s", ec.msg);
        b = buf.ptr;
        cr_assert(eq(u8, b[0], 0));
        id = (int32_t)((uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 |
                       (uint32_t)b[3] << 8 | b[4]);
        sr_buf_free(&buf);
        return id;
}

/* A changelog record is written in the oldest version that carries it:
 * version 1 (id 4, today's bytes) for every branch version 1 has and a
 * closed stage, so a worker rolled back still restores it; version 2 (id
 * 8) only for an open stage's stage run and a chunk. */
Test(sr_codec, a_changelog_record_is_written_in_the_oldest_version_that_carries_it)
{
        sr_changelog_t cl;
        sr_stage_run_t *st = &cl.u.entity.u.sr;
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };

        for (int type = 0; type < SR_ENT__COUNT; type++) {
                memset(&cl, 0, sizeof(cl));
                cl.kind = SR_CL_ENTITY;
                cl.u.entity.type = (sr_entity_type_t)type;
                cl.u.entity.u.pr.m.status = SR_ST_PENDING;
                cr_assert(eq(i32, encoded_changelog_id(&cl), 4), "type %d",
                          type);
        }
        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_DEDUPE;
        cr_assert(eq(i32, encoded_changelog_id(&cl), 4));
        cl.kind = SR_CL_MARKER;
        cr_assert(eq(i32, encoded_changelog_id(&cl), 4));
        cl.kind = SR_CL_RETIRED;
        cr_assert(eq(i32, encoded_changelog_id(&cl), 4));

        fill_stage_run(&cl);
        cr_assert(eq(i32, encoded_changelog_id(&cl), 4));
        /* Any one open-stage field makes it version 2: version 1 could
         * not carry it. */
        for (int f = 0; f < 8; f++) {
                close_stage(st);
                switch (f) {
                case 0: st->append_targets = true; break;
                case 1: st->expected_targets = 1; break;
                case 2: st->chunks_applied = 1; break;
                case 3: st->targets_appended = 1; break;
                case 4: st->sealed = true; break;
                case 5: st->seal_chunks = 1; break;
                case 6: st->seal_count = 1; break;
                default: st->seal_digest[SR_DIGEST_LEN - 1] = 1; break;
                }
                cr_assert(eq(i32, encoded_changelog_id(&cl), 8), "field %d",
                          f);
                /* sr_codec_encode_entity() picks the same. */
                cr_assert(eq(int, sr_codec_encode_entity(codec, &cl.u.entity,
                                                         &buf, &ec), SR_OK),
                          "%s", ec.msg);
                cr_assert(eq(u8, ((uint8_t *)buf.ptr)[4], 8), "field %d", f);
                sr_buf_free(&buf);
        }
        close_stage(st);
        cr_assert(eq(int, sr_codec_encode_entity(codec, &cl.u.entity, &buf,
                                                 &ec), SR_OK), "%s", ec.msg);
        cr_assert(eq(u8, ((uint8_t *)buf.ptr)[4], 4));
        sr_buf_free(&buf);
        sr_entity_fini(&cl.u.entity);

        fill_chunk(&cl);
        cr_assert(eq(i32, encoded_changelog_id(&cl), 8));
        sr_stage_chunk_fini(&cl.u.chunk);
}

/* Both versions' layouts, hand-written, are what the encoder writes, byte
 * for byte: a closed stage run in version 1 (no field of version 2 slips
 * in), an open one and a chunk in version 2. */
Test(sr_codec, changelog_encoder_output_matches_hand_written_avro_of_both_versions)
{
        sr_errctx_t ec = { 0 };
        sr_changelog_t cl;
        struct wb w;

        for (int i = 0; i < 4; i++) {
                sr_buf_t buf = { 0 };

                if (i == 3) {
                        fill_chunk(&cl);
                        raw_chunk(&w, 8, &cl.u.chunk);
                } else {
                        if (i == 0)
                                fill_stage_run(&cl);
                        else
                                fill_open_stage_run(&cl);
                        if (i == 2) { /* open, not sealed: digest null */
                                cl.u.entity.u.sr.sealed = false;
                                memset(cl.u.entity.u.sr.seal_digest, 0,
                                       SR_DIGEST_LEN);
                        }
                        raw_stage_run(&w, i ? 8 : 4, i ? 2 : 1,
                                      &cl.u.entity.u.sr);
                }
                cr_assert(eq(int, sr_codec_encode_changelog(codec, &cl, &buf,
                                                            &ec), SR_OK),
                          "case %d: %s", i, ec.msg);
                cr_assert(eq(sz, buf.len, w.n), "case %d", i);
                cr_assert(eq(int, memcmp(buf.ptr, w.b, w.n), 0), "case %d",
                          i);
                sr_buf_free(&buf);
                if (i == 3)
                        sr_stage_chunk_fini(&cl.u.chunk);
                else
                        sr_entity_fini(&cl.u.entity);
        }
}

/* A record framed with id 4 is read with version 1's own text: a stage
 * run is closed, every open-stage field its default (zero). */
Test(sr_codec, a_version_1_stage_run_decodes_every_field_closed_by_default)
{
        sr_changelog_t in, open, out;
        sr_errctx_t ec = { 0 };
        struct wb w;

        /* First a version 2 open stage through the same codec: nothing of
         * it may stay behind for the version 1 record. */
        fill_open_stage_run(&open);
        raw_stage_run(&w, 8, 2, &open.u.entity.u.sr);
        cr_assert(eq(int, sr_codec_decode_changelog(codec, w_slice(&w), &out,
                                                    &ec), SR_OK), "%s",
                  ec.msg);
        assert_stage_run(&out.u.entity.u.sr, &open.u.entity.u.sr);
        sr_entity_fini(&out.u.entity);

        fill_stage_run(&in);
        raw_stage_run(&w, 4, 1, &in.u.entity.u.sr);
        memset(&out, 0xab, sizeof(out));
        cr_assert(eq(int, sr_codec_decode_changelog(codec, w_slice(&w), &out,
                                                    &ec), SR_OK), "%s",
                  ec.msg);
        cr_assert(eq(int, out.kind, SR_CL_ENTITY));
        cr_assert(eq(int, out.u.entity.type, SR_ENT_STAGE_RUN));
        assert_stage_run(&out.u.entity.u.sr, &in.u.entity.u.sr);
        cr_assert(not(out.u.entity.u.sr.append_targets));
        cr_assert(eq(i64, out.u.entity.u.sr.expected_targets, 0));
        cr_assert(not(out.u.entity.u.sr.sealed));
        sr_entity_fini(&out.u.entity);
        sr_entity_fini(&in.u.entity);
        sr_entity_fini(&open.u.entity);
}

Test(sr_codec, an_open_stage_run_round_trips_via_version_2)
{
        sr_changelog_t in, out;

        fill_open_stage_run(&in);
        cr_assert(eq(i32, encoded_changelog_id(&in), 8));
        changelog_round_trip(&in, &out);
        assert_stage_run(&out.u.entity.u.sr, &in.u.entity.u.sr);
        cr_assert(eq(ptr, out.u.entity.u.sr.targets, NULL));
        sr_entity_fini(&out.u.entity);

        /* Open, not sealed yet: the digest travels as null and comes back
         * all zero. */
        in.u.entity.u.sr.sealed = false;
        in.u.entity.u.sr.seal_chunks = in.u.entity.u.sr.seal_count = 0;
        memset(in.u.entity.u.sr.seal_digest, 0, SR_DIGEST_LEN);
        changelog_round_trip(&in, &out);
        assert_stage_run(&out.u.entity.u.sr, &in.u.entity.u.sr);
        sr_entity_fini(&out.u.entity);
        sr_entity_fini(&in.u.entity);
}

/* The decoded chunk owns its targets: sr_stage_chunk_fini() frees them. */
Test(sr_codec, a_stage_chunk_round_trips_its_targets_and_digest_via_version_2)
{
        sr_changelog_t in, out;

        fill_chunk(&in);
        cr_assert(eq(i32, encoded_changelog_id(&in), 8));
        changelog_round_trip(&in, &out);
        assert_chunk(&out.u.chunk, &in.u.chunk);
        cr_assert(sr_uuid_is_nil(&out.u.chunk.targets[0].target_id));
        cr_assert(not(eq(ptr, out.u.chunk.targets, in.u.chunk.targets)));
        sr_stage_chunk_fini(&out.u.chunk);
        cr_assert(eq(ptr, out.u.chunk.targets, NULL));
        cr_assert(eq(u32, out.u.chunk.n_targets, 0));

        /* An empty chunk, at the largest indexes an int carries. */
        sr_stage_chunk_fini(&in.u.chunk);
        in.u.chunk.stage_index = INT32_MAX;
        in.u.chunk.chunk = INT32_MAX;
        changelog_round_trip(&in, &out);
        assert_chunk(&out.u.chunk, &in.u.chunk);
        cr_assert(eq(ptr, out.u.chunk.targets, NULL));
}

/* Version 1's state union has seven branches: a StageChunk framed with id
 * 4 is refused, never read as version 2; a version 2 stage run under id 4
 * leaves its new fields as trailing bytes. The id decides the version. */
Test(sr_codec, a_version_2_branch_or_field_under_version_1_id_is_refused)
{
        sr_changelog_t in, out;
        struct wb w;
        sr_errctx_t ec = { 0 };

        fill_chunk(&in);
        raw_chunk(&w, 4, &in.u.chunk);
        memset(&out, 0xab, sizeof(out));
        cr_assert(eq(int, sr_codec_decode_changelog(codec, w_slice(&w), &out,
                                                    &ec), SR_ERR_SCHEMA),
                  "%s", ec.msg);
        assert_msg(ec, "field state: unknown union branch 7");
        cr_assert(eq(u8, ((uint8_t *)&out)[0], 0xab));
        cr_assert(eq(u8, ((uint8_t *)&out)[sizeof(out) - 1], 0xab));
        /* The same bytes under id 8 are that chunk. */
        w.b[4] = 8;
        cr_assert(eq(int, sr_codec_decode_changelog(codec, w_slice(&w), &out,
                                                    &ec), SR_OK), "%s",
                  ec.msg);
        assert_chunk(&out.u.chunk, &in.u.chunk);
        sr_stage_chunk_fini(&out.u.chunk);
        sr_stage_chunk_fini(&in.u.chunk);

        fill_open_stage_run(&in);
        raw_stage_run(&w, 4, 2, &in.u.entity.u.sr);
        cr_assert(eq(int, sr_codec_decode_changelog(codec, w_slice(&w), &out,
                                                    &ec), SR_ERR_CORRUPT),
                  "%s", ec.msg);
        assert_msg(ec, "trailing garbage");
        /* And a version 1 body under id 8 is short of the new fields. */
        raw_stage_run(&w, 8, 1, &in.u.entity.u.sr);
        cr_assert(eq(int, sr_codec_decode_changelog(codec, w_slice(&w), &out,
                                                    &ec), SR_ERR_CORRUPT),
                  "%s", ec.msg);
        sr_entity_fini(&in.u.entity);
}

Test(sr_codec, open_stage_run_out_of_range_fields_are_refused_both_ways)
{
        sr_changelog_t in, out;
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        struct wb w;

        fill_open_stage_run(&in);
        in.u.entity.u.sr.expected_targets = -1;
        cr_assert(eq(int, sr_codec_encode_changelog(codec, &in, &buf, &ec),
                     SR_ERR_INVALID));
        assert_msg(ec, "state StageRun: field expected_targets: negative");
        raw_stage_run(&w, 8, 2, &in.u.entity.u.sr);
        cr_assert(eq(int, sr_codec_decode_changelog(codec, w_slice(&w), &out,
                                                    &ec), SR_ERR_SCHEMA));
        assert_msg(ec, "field expected_targets: negative");

        /* An "int" count: above INT32_MAX is not written, negative not
         * read. */
        in.u.entity.u.sr.expected_targets = 0;
        in.u.entity.u.sr.seal_count = (uint32_t)INT32_MAX + 1;
        cr_assert(eq(int, sr_codec_encode_changelog(codec, &in, &buf, &ec),
                     SR_ERR_INVALID));
        assert_msg(ec, "field seal_count");
        in.u.entity.u.sr.seal_count = 0;
        in.u.entity.u.sr.chunks_applied = UINT32_MAX; /* written as -1 */
        raw_stage_run(&w, 8, 2, &in.u.entity.u.sr);
        cr_assert(eq(int, sr_codec_decode_changelog(codec, w_slice(&w), &out,
                                                    &ec), SR_ERR_SCHEMA));
        assert_msg(ec, "field chunks_applied: negative");
        sr_entity_fini(&in.u.entity);

        /* A chunk's targets: a count without its array. */
        fill_chunk(&in);
        free(in.u.chunk.targets);
        in.u.chunk.targets = NULL;
        cr_assert(eq(int, sr_codec_encode_changelog(codec, &in, &buf, &ec),
                     SR_ERR_INVALID));
        assert_msg(ec, "state StageChunk: field targets: 3 items, NULL array");
}

Test(sr_codec, every_truncation_of_a_version_2_changelog_record_is_corrupt)
{
        sr_errctx_t ec = { 0 };
        sr_changelog_t in, out;

        for (int i = 0; i < 2; i++) {
                sr_buf_t buf = { 0 };

                if (i)
                        fill_chunk(&in);
                else
                        fill_open_stage_run(&in);
                cr_assert(eq(int, sr_codec_encode_changelog(codec, &in, &buf,
                                                            &ec), SR_OK),
                          "%s", ec.msg);
                for (size_t n = 0; n < buf.len; n++) {
                        sr_err_t err = sr_codec_decode_changelog(
                                codec, sr_slice(buf.ptr, n), &out, &ec);

                        cr_assert(eq(int, err, SR_ERR_CORRUPT),
                                  "case %d len %zu: %s", i, n, ec.msg);
                }
                sr_buf_free(&buf);
                if (i)
                        sr_stage_chunk_fini(&in.u.chunk);
                else
                        sr_entity_fini(&in.u.entity);
        }
}

/* Run under the leak checker (ASan) too: a mutation that decodes frees
 * what it owns through the kind's own fini. */
Test(sr_codec, single_byte_mutations_of_version_2_changelog_never_crash)
{
        static const uint8_t vals[] = { 0x00, 0x01, 0x02, 0x04, 0x08, 0x0e,
                                        0x7f, 0x80, 0xff };
        sr_errctx_t ec = { 0 };
        sr_changelog_t in, out;

        for (int c = 0; c < 2; c++) {
                sr_buf_t buf = { 0 };

                if (c)
                        fill_chunk(&in);
                else
                        fill_open_stage_run(&in);
                cr_assert(eq(int, sr_codec_encode_changelog(codec, &in, &buf,
                                                            &ec), SR_OK),
                          "%s", ec.msg);
                for (size_t i = 0; i < buf.len; i++) {
                        uint8_t *b = buf.ptr, keep = b[i];

                        for (size_t v = 0; v < sizeof(vals); v++) {
                                sr_err_t err;

                                b[i] = vals[v];
                                err = sr_codec_decode_changelog(
                                        codec, sr_buf_slice(&buf), &out, &ec);
                                if (err == SR_OK && out.kind == SR_CL_ENTITY)
                                        sr_entity_fini(&out.u.entity);
                                else if (err == SR_OK &&
                                         out.kind == SR_CL_CHUNK)
                                        sr_stage_chunk_fini(&out.u.chunk);
                                else if (err != SR_OK)
                                        cr_assert(err == SR_ERR_CORRUPT ||
                                                  err == SR_ERR_SCHEMA,
                                                  "case %d byte %zu = "
                                                  "0x%02x: %s", c, i,
                                                  vals[v], ec.msg);
                        }
                        b[i] = keep;
                }
                sr_buf_free(&buf);
                if (c)
                        sr_stage_chunk_fini(&in.u.chunk);
                else
                        sr_entity_fini(&in.u.entity);
        }
}

/* ------------------------------------------------------------ poison */

static void assert_result_fails(sr_slice_t in, sr_err_t want,
                                const char *frag)
{
        sr_errctx_t ec = { 0 };
        sr_result_t out;

        memset(&out, 0xab, sizeof(out));
        cr_assert(eq(int, sr_codec_decode_result(codec, in, &out, &ec),
                     want), "%s", ec.msg);
        cr_assert(eq(int, ec.code, want));
        assert_msg(ec, frag);
        /* Out-params are written only on success. */
        cr_assert(eq(u8, ((uint8_t *)&out)[0], 0xab));
        cr_assert(eq(u8, ((uint8_t *)&out)[sizeof(out) - 1], 0xab));
}

Test(sr_codec, empty_input_is_corrupt)
{
        assert_result_fails(sr_slice(NULL, 0), SR_ERR_CORRUPT,
                            "shorter than 5 bytes");
}

Test(sr_codec, four_bytes_are_corrupt)
{
        const uint8_t in[] = { 0, 0, 0, 2 };

        assert_result_fails(sr_slice(in, sizeof(in)), SR_ERR_CORRUPT,
                            "shorter than 5 bytes (got 4)");
}

Test(sr_codec, bad_magic_byte_is_corrupt)
{
        struct wb w;

        raw_result(&w, NULL, "SUCCESS", "dev");
        w.b[0] = 0x7b; /* looks like JSON */
        assert_result_fails(w_slice(&w), SR_ERR_CORRUPT,
                            "bad magic byte 0x7b");
}

Test(sr_codec, unknown_schema_id_is_schema_error)
{
        struct wb w;

        raw_result(&w, NULL, "SUCCESS", "dev");
        w.b[4] = 99;
        assert_result_fails(w_slice(&w), SR_ERR_SCHEMA,
                            "result: unknown schema id 99");
}

Test(sr_codec, event_decoded_as_result_is_schema_error)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_event_t e;

        fill_event(&e);
        cr_assert(eq(int, sr_codec_encode_event(codec, &e, &buf, &ec),
                     SR_OK), "%s", ec.msg);
        assert_result_fails(sr_buf_slice(&buf), SR_ERR_SCHEMA,
                            "expected schema 2 (io.sr.v1.TargetRunResult), "
                            "got 3 (io.sr.v1.StatusChangeEvent)");
        sr_buf_free(&buf);
}

Test(sr_codec, body_missing_last_byte_is_corrupt)
{
        struct wb w;

        raw_result(&w, NULL, "SUCCESS", "dev");
        w.n--;
        assert_result_fails(w_slice(&w), SR_ERR_CORRUPT, "truncated body");
}

Test(sr_codec, body_cut_in_the_middle_is_corrupt)
{
        struct wb w;

        raw_result(&w, NULL, "SUCCESS", "dev");
        w.n = 5 + 37 * 2 + 10; /* inside stage_run_id */
        assert_result_fails(w_slice(&w), SR_ERR_CORRUPT,
                            "truncated body: field stage_run_id");
}

Test(sr_codec, every_truncation_of_a_command_is_corrupt)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_command_t in, out;

        base_command(&in, SR_CMD_CREATE_RUN);
        fill_spec(&in.u.create.spec);
        cr_assert(eq(int, sr_codec_encode_command(codec, &in, &buf, &ec),
                     SR_OK), "%s", ec.msg);
        for (size_t n = 0; n < buf.len; n++) {
                sr_err_t err = sr_codec_decode_command(
                        codec, sr_slice(buf.ptr, n), &out, &ec);

                cr_assert(eq(int, err, SR_ERR_CORRUPT), "len %zu: %s", n,
                          ec.msg);
        }
        sr_buf_free(&buf);
        sr_command_fini(&in);
}

Test(sr_codec, trailing_garbage_is_corrupt)
{
        struct wb w;

        raw_result(&w, NULL, "SUCCESS", "dev");
        w_raw(&w, "xx", 2);
        assert_result_fails(w_slice(&w), SR_ERR_CORRUPT,
                            "trailing garbage: 2 bytes");
}

Test(sr_codec, malformed_uuid_is_schema_error)
{
        struct wb w;

        raw_result(&w, "not-a-uuid", "SUCCESS", "dev");
        assert_result_fails(w_slice(&w), SR_ERR_SCHEMA,
                            "result: field result_id: malformed uuid "
                            "\"not-a-uuid\"");
}

Test(sr_codec, result_with_unknown_command_status_is_schema_error)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_result_t r;

        fill_result(&r);
        strcpy(r.command_status, "FOO");
        cr_assert(eq(int, sr_codec_encode_result(codec, &r, &buf, &ec),
                     SR_OK), "%s", ec.msg);
        assert_result_fails(sr_buf_slice(&buf), SR_ERR_SCHEMA,
                            "result: field command_status: unknown command "
                            "status \"FOO\"");
        sr_buf_free(&buf);
}

Test(sr_codec, result_command_status_is_accepted_in_any_case)
{
        sr_errctx_t ec = { 0 };
        sr_result_t out;
        struct wb w;

        raw_result(&w, NULL, "success", "dev");
        cr_assert(eq(int, sr_codec_decode_result(codec, w_slice(&w), &out,
                                                 &ec), SR_OK), "%s", ec.msg);
        cr_assert(eq(str, out.command_status, "success"));
}

Test(sr_codec, over_long_device_name_is_schema_error)
{
        char name[SR_NAME_MAX + 10];
        struct wb w;

        memset(name, 'd', sizeof(name) - 1);
        name[sizeof(name) - 1] = '\0';
        raw_result(&w, NULL, "SUCCESS", name);
        assert_result_fails(w_slice(&w), SR_ERR_SCHEMA,
                            "field device_name: too long (265 bytes, at "
                            "most 255)");
}

Test(sr_codec, device_name_of_exactly_255_bytes_is_accepted)
{
        char name[SR_NAME_MAX];
        sr_errctx_t ec = { 0 };
        sr_result_t out;
        struct wb w;

        memset(name, 'd', sizeof(name) - 1);
        name[sizeof(name) - 1] = '\0';
        raw_result(&w, NULL, "SUCCESS", name);
        cr_assert(eq(int, sr_codec_decode_result(codec, w_slice(&w), &out,
                                                 &ec), SR_OK), "%s", ec.msg);
        cr_assert(eq(str, out.device_name, name));
}

Test(sr_codec, string_with_nul_byte_is_schema_error)
{
        struct wb w;

        raw_result(&w, NULL, "SUCCESS", "dev");
        w.b[w.n - 8] = '\0'; /* the 'e' of "dev", before a 6-byte long */
        assert_result_fails(w_slice(&w), SR_ERR_SCHEMA,
                            "field device_name: contains a NUL byte");
}

Test(sr_codec, unknown_status_text_in_event_is_schema_error)
{
        sr_errctx_t ec = { 0 };
        sr_event_t out;
        struct wb w;

        raw_event(&w, 1, "exploded");
        cr_assert(eq(int, sr_codec_decode_event(codec, w_slice(&w), &out,
                                                &ec), SR_ERR_SCHEMA));
        assert_msg(ec, "event: field to_status: unknown status "
                       "\"exploded\"");
}

Test(sr_codec, negative_event_seq_is_schema_error)
{
        sr_errctx_t ec = { 0 };
        sr_event_t out;
        struct wb w;

        raw_event(&w, -5, "running");
        cr_assert(eq(int, sr_codec_decode_event(codec, w_slice(&w), &out,
                                                &ec), SR_ERR_SCHEMA));
        assert_msg(ec, "field seq: negative");
}

Test(sr_codec, huge_string_length_is_corrupt_without_allocating)
{
        struct wb w;

        w_header(&w, SR_SCHEMA_RESULT);
        w_long(&w, (int64_t)1 << 60); /* result_id "length" */
        w_raw(&w, "0123456789", 10);
        assert_result_fails(w_slice(&w), SR_ERR_CORRUPT,
                            "truncated body: field result_id");
}

Test(sr_codec, negative_string_length_is_corrupt)
{
        struct wb w;

        w_header(&w, SR_SCHEMA_RESULT);
        w_long(&w, -3);
        w_raw(&w, "0123456789", 10);
        assert_result_fails(w_slice(&w), SR_ERR_CORRUPT,
                            "negative length");
}

Test(sr_codec, over_long_varint_is_corrupt)
{
        struct wb w;

        w_header(&w, SR_SCHEMA_RESULT);
        for (int i = 0; i < 12; i++)
                w_raw(&w, "\xff", 1);
        assert_result_fails(w_slice(&w), SR_ERR_CORRUPT, "varint");
}

Test(sr_codec, unknown_union_branch_is_schema_error)
{
        sr_errctx_t ec = { 0 };
        sr_command_t out;
        struct wb w;

        w_header(&w, sr_schema_builtin_id(SR_SCHEMA_COMMAND));
        w_uuid(&w, 1);
        w_uuid(&w, 2);
        w_str(&w, "acme");
        w_long(&w, 1);
        /* payload branch 38 of 38: DeleteRun's 10, then the 20
         * definition commands (FillStep the last), then AddTargetRun,
         * then the 7 device-group commands */
        w_long(&w, SR_CMD_DEFINITION + SR_DEFCMD__COUNT + 1 +
                       SR_GRPCMD__COUNT);
        cr_assert(eq(int, sr_codec_decode_command(codec, w_slice(&w), &out,
                                                  &ec), SR_ERR_SCHEMA));
        assert_msg(ec, "field payload: unknown union branch 38");
}

/* A version 1 record has five branches: one carrying a version 2 branch
 * (and a payload that would be valid under version 2) is refused, never
 * read as version 2. The id decides the version, not the bytes. */
Test(sr_codec, a_version_1_record_with_a_version_2_branch_is_refused)
{
        static const sr_cmd_kind_t kinds[] = {
                SR_CMD_APPEND_TARGETS, SR_CMD_SEAL_TARGETS, SR_CMD_STAGE_STEP,
        };
        char want[64];
        sr_command_t in, out;
        struct wb w;

        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
                sr_errctx_t ec = { 0 };

                fill_v2_command(&in, kinds[i]);
                raw_command(&w, 1, 1, &in);
                memset(&out, 0xab, sizeof(out));
                cr_assert(eq(int, sr_codec_decode_command(codec, w_slice(&w),
                                                          &out, &ec),
                             SR_ERR_SCHEMA), "kind %d: %s", (int)kinds[i],
                          ec.msg);
                snprintf(want, sizeof(want),
                         "field payload: unknown union branch %d",
                         (int)kinds[i]);
                assert_msg(ec, want);
                cr_assert(eq(u8, ((uint8_t *)&out)[0], 0xab));
                cr_assert(eq(u8, ((uint8_t *)&out)[sizeof(out) - 1], 0xab));

                /* The same bytes under id 7 are that v2 command. */
                w.b[4] = 7;
                command_decode_ok(&w, &out);
                assert_command_head(&out, &in);
                assert_v2_payload(&out, &in);
                sr_command_fini(&out);
                sr_command_fini(&in);
        }
}

Test(sr_codec, seal_targets_with_negative_count_is_refused_both_ways)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_command_t in, out;
        struct wb w;

        fill_v2_command(&in, SR_CMD_SEAL_TARGETS);
        in.u.seal.count = -1;
        cr_assert(eq(int, sr_codec_encode_command(codec, &in, &buf, &ec),
                     SR_ERR_INVALID));
        assert_msg(ec, "encode command: payload SealTargets: field count: "
                       "negative (-1)");
        cr_assert(eq(ptr, buf.ptr, NULL));

        memset(&ec, 0, sizeof(ec));
        raw_command(&w, 7, 2, &in);
        cr_assert(eq(int, sr_codec_decode_command(codec, w_slice(&w), &out,
                                                  &ec), SR_ERR_SCHEMA));
        assert_msg(ec, "command: payload SealTargets: field count: "
                       "negative (-1)");
}

Test(sr_codec, open_stage_with_negative_expected_targets_is_refused_both_ways)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_command_t in, out;
        struct wb w;

        base_command(&in, SR_CMD_CREATE_RUN);
        fill_open_spec(&in.u.create.spec);
        in.u.create.spec.stages[0].expected_targets = -5;
        cr_assert(eq(int, sr_codec_encode_command(codec, &in, &buf, &ec),
                     SR_ERR_INVALID), "%s", ec.msg);
        assert_msg(ec, "stages[0]: field expected_targets: negative (-5)");
        cr_assert(eq(ptr, buf.ptr, NULL));

        memset(&ec, 0, sizeof(ec));
        raw_command(&w, 7, 2, &in);
        cr_assert(eq(int, sr_codec_decode_command(codec, w_slice(&w), &out,
                                                  &ec), SR_ERR_SCHEMA));
        assert_msg(ec, "command: payload CreateRun: stages[0]: field "
                       "expected_targets: negative (-5)");
        sr_command_fini(&in);
}

Test(sr_codec, over_long_stage_step_text_is_schema_error)
{
        char step[SR_SHORT_MAX + 1];
        sr_errctx_t ec = { 0 };
        sr_command_t out;
        struct wb w;

        memset(step, 's', sizeof(step) - 1);
        step[sizeof(step) - 1] = '\0'; /* 64 bytes: one too many */
        w_header(&w, sr_schema_builtin_id(SR_SCHEMA_COMMAND));
        w_uuid(&w, 1);
        w_uuid(&w, 2);
        w_str(&w, "acme");
        w_long(&w, 1);
        w_long(&w, SR_CMD_STAGE_STEP);
        w_long(&w, 0);
        w_str(&w, step);
        w_long(&w, 0);
        cr_assert(eq(int, sr_codec_decode_command(codec, w_slice(&w), &out,
                                                  &ec), SR_ERR_SCHEMA));
        assert_msg(ec, "payload StageStep: field step: too long (64 bytes");
}

Test(sr_codec, every_truncation_of_a_version_2_command_is_corrupt)
{
        static const sr_cmd_kind_t kinds[] = {
                SR_CMD_CREATE_RUN, SR_CMD_APPEND_TARGETS,
                SR_CMD_SEAL_TARGETS, SR_CMD_STAGE_STEP,
        };
        sr_errctx_t ec = { 0 };
        sr_command_t in, out;

        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
                sr_buf_t buf = { 0 };

                if (kinds[i] == SR_CMD_CREATE_RUN) {
                        base_command(&in, SR_CMD_CREATE_RUN);
                        fill_open_spec(&in.u.create.spec);
                } else {
                        fill_v2_command(&in, kinds[i]);
                }
                cr_assert(eq(int, sr_codec_encode_command(codec, &in, &buf,
                                                          &ec), SR_OK),
                          "%s", ec.msg);
                for (size_t n = 0; n < buf.len; n++) {
                        sr_err_t err = sr_codec_decode_command(
                                codec, sr_slice(buf.ptr, n), &out, &ec);

                        cr_assert(eq(int, err, SR_ERR_CORRUPT),
                                  "kind %d len %zu: %s", (int)kinds[i], n,
                                  ec.msg);
                }
                sr_buf_free(&buf);
                sr_command_fini(&in);
        }
}

Test(sr_codec, single_byte_mutations_of_version_2_commands_never_crash)
{
        static const sr_cmd_kind_t kinds[] = {
                SR_CMD_APPEND_TARGETS, SR_CMD_SEAL_TARGETS, SR_CMD_STAGE_STEP,
        };
        static const uint8_t vals[] = { 0x00, 0x01, 0x02, 0x7f, 0x80, 0xff };
        sr_errctx_t ec = { 0 };
        sr_command_t in, out;

        for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
                sr_buf_t buf = { 0 };

                fill_v2_command(&in, kinds[k]);
                cr_assert(eq(int, sr_codec_encode_command(codec, &in, &buf,
                                                          &ec), SR_OK),
                          "%s", ec.msg);
                for (size_t i = 0; i < buf.len; i++) {
                        uint8_t *b = buf.ptr, keep = b[i];

                        for (size_t v = 0; v < sizeof(vals); v++) {
                                sr_err_t err;

                                b[i] = vals[v];
                                err = sr_codec_decode_command(
                                        codec, sr_buf_slice(&buf), &out, &ec);
                                if (err == SR_OK)
                                        sr_command_fini(&out);
                                else
                                        cr_assert(err == SR_ERR_CORRUPT ||
                                                  err == SR_ERR_SCHEMA,
                                                  "kind %d byte %zu = "
                                                  "0x%02x: %s",
                                                  (int)kinds[k], i, vals[v],
                                                  ec.msg);
                        }
                        b[i] = keep;
                }
                sr_buf_free(&buf);
                sr_command_fini(&in);
        }
}

Test(sr_codec, unknown_enum_index_is_schema_error)
{
        sr_errctx_t ec = { 0 };
        sr_command_t out;
        struct wb w;

        w_header(&w, SR_SCHEMA_COMMAND);
        w_uuid(&w, 1);
        w_uuid(&w, 2);
        w_str(&w, "acme");
        w_long(&w, 1);
        w_long(&w, SR_CMD_TIMER_FIRED);
        w_long(&w, 4); /* entity_type: 4 symbols */
        w_uuid(&w, 3);
        w_long(&w, 5);
        cr_assert(eq(int, sr_codec_decode_command(codec, w_slice(&w), &out,
                                                  &ec), SR_ERR_SCHEMA));
        assert_msg(ec, "field entity_type: unknown enum index 4");
}

Test(sr_codec, reply_with_too_many_versions_is_schema_error)
{
        sr_errctx_t ec = { 0 };
        sr_reply_t out;
        struct wb w;

        w_header(&w, SR_SCHEMA_REPLY);
        w_uuid(&w, 1);
        w_uuid(&w, 2);
        w_raw(&w, "\x01", 1);
        w_str(&w, "none");
        w_str(&w, "");
        w_long(&w, 9);
        for (int i = 0; i < 9; i++) {
                w_long(&w, 0);
                w_uuid(&w, 3 + i);
                w_long(&w, i);
        }
        w_long(&w, 0);
        w_long(&w, 1700000000000);
        cr_assert(eq(int, sr_codec_decode_reply(codec, w_slice(&w), &out,
                                                &ec), SR_ERR_SCHEMA));
        assert_msg(ec, "field versions: 9 items, at most 8");
}

Test(sr_codec, absurd_array_size_is_rejected_before_allocating)
{
        sr_errctx_t ec = { 0 };
        sr_reply_t out;
        struct wb w;

        w_header(&w, SR_SCHEMA_REPLY);
        w_uuid(&w, 1);
        w_uuid(&w, 2);
        w_raw(&w, "\x01", 1);
        w_str(&w, "none");
        w_str(&w, "");
        w_long(&w, (int64_t)1 << 40); /* versions count */
        cr_assert(eq(int, sr_codec_decode_reply(codec, w_slice(&w), &out,
                                                &ec), SR_ERR_CORRUPT));
        assert_msg(ec, "field versions");
}

Test(sr_codec, unknown_reject_reason_is_schema_error)
{
        sr_errctx_t ec = { 0 };
        sr_reply_t out;
        struct wb w;

        w_header(&w, SR_SCHEMA_REPLY);
        w_uuid(&w, 1);
        w_uuid(&w, 2);
        w_raw(&w, "\x00", 1);
        w_str(&w, "because");
        w_str(&w, "");
        w_long(&w, 0);
        w_long(&w, 1700000000000);
        cr_assert(eq(int, sr_codec_decode_reply(codec, w_slice(&w), &out,
                                                &ec), SR_ERR_SCHEMA));
        assert_msg(ec, "field reason: unknown reject reason \"because\"");
}

Test(sr_codec, boolean_byte_other_than_0_or_1_is_corrupt)
{
        sr_errctx_t ec = { 0 };
        sr_reply_t out;
        struct wb w;

        w_header(&w, SR_SCHEMA_REPLY);
        w_uuid(&w, 1);
        w_uuid(&w, 2);
        w_raw(&w, "\x02", 1);
        w_str(&w, "none");
        w_str(&w, "");
        w_long(&w, 0);
        w_long(&w, 1700000000000);
        cr_assert(eq(int, sr_codec_decode_reply(codec, w_slice(&w), &out,
                                                &ec), SR_ERR_CORRUPT));
        assert_msg(ec, "field accepted: boolean byte 0x02");
}

Test(sr_codec, error_inside_spec_names_the_path)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_command_t in, out;
        char *p;

        base_command(&in, SR_CMD_CREATE_RUN);
        fill_spec(&in.u.create.spec);
        cr_assert(eq(int, sr_codec_encode_command(codec, &in, &buf, &ec),
                     SR_OK), "%s", ec.msg);
        /* Break the device id of stage 1, target 2 in place. */
        {
                char text[SR_UUID_STR_LEN + 1];

                sr_uuid_fmt(&in.u.create.spec.stages[1].targets[2].device_id,
                            text);
                p = memmem(buf.ptr, buf.len, text, SR_UUID_STR_LEN);
                cr_assert(not(eq(ptr, p, NULL)));
                p[3] = 'g';
        }
        cr_assert(eq(int, sr_codec_decode_command(codec, sr_buf_slice(&buf),
                                                  &out, &ec),
                     SR_ERR_SCHEMA));
        assert_msg(ec, "command: payload CreateRun: stages[1]: targets[2]: "
                       "field device_id: malformed uuid");
        sr_buf_free(&buf);
        sr_command_fini(&in);
}

Test(sr_codec, single_byte_mutations_never_crash_or_leak)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_command_t in, out;
        static const uint8_t vals[] = { 0x00, 0x01, 0x02, 0x7f, 0x80, 0xff };

        base_command(&in, SR_CMD_CREATE_RUN);
        fill_spec(&in.u.create.spec);
        cr_assert(eq(int, sr_codec_encode_command(codec, &in, &buf, &ec),
                     SR_OK), "%s", ec.msg);
        for (size_t i = 0; i < buf.len; i++) {
                uint8_t *b = buf.ptr, keep = b[i];

                for (size_t v = 0; v < sizeof(vals); v++) {
                        sr_err_t err;

                        b[i] = vals[v];
                        err = sr_codec_decode_command(codec,
                                                      sr_buf_slice(&buf),
                                                      &out, &ec);
                        if (err == SR_OK)
                                sr_command_fini(&out);
                        else
                                cr_assert(err == SR_ERR_CORRUPT ||
                                          err == SR_ERR_SCHEMA,
                                          "byte %zu = 0x%02x: %s", i,
                                          vals[v], ec.msg);
                }
                b[i] = keep;
        }
        sr_buf_free(&buf);
        sr_command_fini(&in);
}

/* ------------------------------------------------------------ encode */

Test(sr_codec, encoding_event_without_to_status_is_invalid)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_event_t e;

        fill_event(&e);
        e.to_status = SR_ST_NONE;
        cr_assert(eq(int, sr_codec_encode_event(codec, &e, &buf, &ec),
                     SR_ERR_INVALID));
        assert_msg(ec, "encode event: field to_status");
        cr_assert(eq(ptr, buf.ptr, NULL));
}

Test(sr_codec, encoding_reply_with_nine_versions_is_invalid)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_reply_t r;

        fill_reply(&r, true);
        r.n_versions = SR_REPLY_MAX_VERSIONS + 1;
        cr_assert(eq(int, sr_codec_encode_reply(codec, &r, &buf, &ec),
                     SR_ERR_INVALID));
        assert_msg(ec, "field versions: 9 items");
}

Test(sr_codec, encoding_unterminated_string_is_invalid)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_result_t r;

        fill_result(&r);
        memset(r.command_status, 'X', sizeof(r.command_status));
        cr_assert(eq(int, sr_codec_encode_result(codec, &r, &buf, &ec),
                     SR_ERR_INVALID));
        assert_msg(ec, "field command_status: not NUL-terminated");
}

Test(sr_codec, encoding_unknown_command_kind_is_invalid)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_command_t c;

        base_command(&c, SR_CMD_SET_PIPELINE_RUN_STATUS);
        c.kind = SR_CMD__COUNT;
        cr_assert(eq(int, sr_codec_encode_command(codec, &c, &buf, &ec),
                     SR_ERR_INVALID));
        assert_msg(ec, "unknown kind");
}

/* docs/schemas.md, "Our own readers": the C codec decodes with the schema
 * of the id it knows, without resolution against a writer's schema. A
 * newer event version (a field added with a default: here an int 3,
 * appended as the newer writer would write it) is refused with an error
 * naming what is wrong, never read positionally as today's event: under a
 * new id (the rule: a new version gets a new id) it is an unknown schema;
 * under id 3 (an in-place change, which the rule forbids) the bytes after
 * today's fields are trailing garbage. */
Test(sr_codec, a_newer_event_version_is_refused_never_misread)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_event_t in, out;
        char want[64];
        int32_t next = 0;
        uint8_t *newer;

        /* The next id: one no version of any schema has. */
        for (int slot = 1; slot < SR_SCHEMA__MAX; slot++)
                if (sr_schema_builtin_id((sr_schema_id_t)slot) > next)
                        next = sr_schema_builtin_id((sr_schema_id_t)slot);
        for (int i = 0; i < SR_SCHEMA_OLDER_COUNT; i++)
                if (sr_schema_older[i].id > next)
                        next = sr_schema_older[i].id;
        next++;
        cr_assert(eq(i32, next, 19));
        cr_assert(eq(ptr, (void *)sr_codec_schema_json(next), NULL));
        cr_assert(eq(int, sr_codec_kind_of(codec, next), 0));
        snprintf(want, sizeof(want), "unknown schema id %d", (int)next);

        fill_event(&in);
        cr_assert(eq(int, sr_codec_encode_event(codec, &in, &buf, &ec),
                     SR_OK), "%s", ec.msg);
        newer = malloc(buf.len + 1);
        cr_assert(not(eq(ptr, newer, NULL)));
        memcpy(newer, buf.ptr, buf.len);
        newer[buf.len] = 6; /* zig-zag int 3: the added field */

        newer[4] = (uint8_t)next; /* event v2 */
        cr_assert(eq(int, sr_codec_decode_event(codec,
                                                sr_slice(newer, buf.len + 1),
                                                &out, &ec),
                     SR_ERR_SCHEMA));
        cr_assert(not(eq(ptr, strstr(ec.msg, want), NULL)), "%s", ec.msg);

        memset(&ec, 0, sizeof(ec));
        newer[4] = SR_SCHEMA_EVENT; /* in place, under id 3 */
        cr_assert(eq(int, sr_codec_decode_event(codec,
                                                sr_slice(newer, buf.len + 1),
                                                &out, &ec),
                     SR_ERR_CORRUPT));
        cr_assert(not(eq(ptr, strstr(ec.msg, "trailing garbage: 1 byte"),
                         NULL)),
                  "%s", ec.msg);
        free(newer);
        sr_buf_free(&buf);
}

/* ------------------------------------------------------------ registry ids */

/* Ids an external registry might give: far from the built-in 1-8, one of
 * them a built-in id of another schema (a registry numbers globally). */
static void registry_ids(sr_schema_ids_t *ids)
{
        sr_schema_ids_builtin(ids);
        ids->older[0] = 100000; /* Command v1, registered first */
        ids->older[1] = 100003; /* ChangelogRecord v1 */
        ids->older[2] = 100001; /* Command v2 */
        ids->older[3] = 100002; /* Command v3 */
        ids->older[4] = 100007; /* Command v4 */
        ids->older[5] = 100004; /* ChangelogRecord v2 */
        ids->older[6] = 100006; /* CommandReply v1 */
        ids->wire[SR_SCHEMA_COMMAND] = 100008;
        ids->wire[SR_SCHEMA_RESULT] = 4;
        ids->wire[SR_SCHEMA_EVENT] = 0x01020304;
        ids->wire[SR_SCHEMA_CHANGELOG] = 100009;
        ids->wire[SR_SCHEMA_DISPATCH] = 100005;
        ids->wire[SR_SCHEMA_REPLY] = 100010;
        ids->wire[SR_SCHEMA_DEF_EVENT] = 100011;
}

Test(sr_codec, registry_ids_are_written_in_the_frame_and_read_back)
{
        sr_schema_ids_t ids;
        sr_errctx_t ec = { 0 };
        sr_buf_t ev_buf = { 0 }, res_buf = { 0 };
        sr_event_t ev, ev_out;
        sr_result_t res, res_out;
        int32_t id;

        registry_ids(&ids);
        sr_codec_set_ids(codec, &ids);
        fill_event(&ev);
        fill_result(&res);
        cr_assert(eq(int, sr_codec_encode_event(codec, &ev, &ev_buf, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(int, sr_codec_encode_result(codec, &res, &res_buf, &ec),
                     SR_OK), "%s", ec.msg);
        /* The event's frame (the hand-written encoder) and the result's
         * (avro-c) carry the registry's ids, big-endian. */
        cr_assert(eq(u8, ((uint8_t *)ev_buf.ptr)[0], 0));
        cr_assert(eq(u8, ((uint8_t *)ev_buf.ptr)[1], 1));
        cr_assert(eq(u8, ((uint8_t *)ev_buf.ptr)[4], 4));
        cr_assert(eq(int, sr_codec_peek_schema_id(sr_buf_slice(&res_buf), &id,
                                                  &ec), SR_OK));
        cr_assert(eq(i32, id, 4));
        cr_assert(eq(int, sr_codec_decode_event(codec, sr_buf_slice(&ev_buf),
                                                &ev_out, &ec), SR_OK),
                  "%s", ec.msg);
        assert_event(&ev_out, &ev);
        cr_assert(eq(int, sr_codec_decode_result(codec,
                                                 sr_buf_slice(&res_buf),
                                                 &res_out, &ec), SR_OK),
                  "%s", ec.msg);
        cr_assert(eq(str, res_out.device_name, res.device_name));
        cr_assert(eq(int, sr_codec_kind_of(codec, 0x01020304),
                     SR_SCHEMA_EVENT));
        cr_assert(eq(int, sr_codec_kind_of(codec, 3), 0));
        sr_buf_free(&ev_buf);
        sr_buf_free(&res_buf);
}

Test(sr_codec, with_registry_ids_a_builtin_id_is_refused_as_unknown)
{
        sr_schema_ids_t ids;
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_event_t ev, out;
        sr_result_t res;

        /* Written by a codec with the built-in ids (event 3, changelog 4). */
        fill_event(&ev);
        cr_assert(eq(int, sr_codec_encode_event(codec, &ev, &buf, &ec),
                     SR_OK));
        registry_ids(&ids);
        sr_codec_set_ids(codec, &ids);
        cr_assert(eq(int, sr_codec_decode_event(codec, sr_buf_slice(&buf),
                                                &out, &ec), SR_ERR_SCHEMA));
        cr_assert(eq(str, ec.msg, "event: unknown schema id 3"));
        sr_buf_free(&buf);
        /* Built-in 4 is the changelog's id, but here the registry's id of
         * results: the frame decides, not the built-in table. */
        fill_result(&res);
        sr_schema_ids_builtin(&ids);
        sr_codec_set_ids(codec, &ids);
        cr_assert(eq(int, sr_codec_encode_result(codec, &res, &buf, &ec),
                     SR_OK));
        registry_ids(&ids);
        sr_codec_set_ids(codec, &ids);
        cr_assert(eq(int, sr_codec_decode_result(codec, sr_buf_slice(&buf),
                                                 &res, &ec), SR_ERR_SCHEMA));
        cr_assert(eq(str, ec.msg, "result: unknown schema id 2"));
        sr_buf_free(&buf);
}

/* With a registry's ids, Command v1 is read under the id the registry gave
 * it and v2 written and read under its own; the built-in 1 and 7 are then
 * ids like any other unknown one. */
Test(sr_codec, with_registry_ids_command_versions_are_read_under_their_ids)
{
        sr_schema_ids_t ids;
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_command_t in, out;
        sr_uuid_t cmd, run;
        struct wb w;
        int32_t id = 0;

        registry_ids(&ids);
        sr_codec_set_ids(codec, &ids);
        cr_assert(eq(int, sr_codec_kind_of(codec, 100000),
                     SR_SCHEMA_COMMAND));
        cr_assert(eq(int, sr_codec_kind_of(codec, 100001),
                     SR_SCHEMA_COMMAND));
        cr_assert(eq(int, sr_codec_kind_of(codec, 1), 0));
        cr_assert(eq(int, sr_codec_kind_of(codec, 7), 0));

        base_command(&in, SR_CMD_CREATE_RUN);
        fill_spec(&in.u.create.spec);
        in.u.create.run_number = 4;

        /* v1 under the registry's id: decoded, stages closed. */
        raw_command(&w, 100000, 1, &in);
        command_decode_ok(&w, &out);
        assert_command_head(&out, &in);
        assert_spec(&out.u.create.spec, &in.u.create.spec);
        sr_command_fini(&out);
        cr_assert(eq(int, sr_codec_peek_command_ids(codec, w_slice(&w), &cmd,
                                                    &run, &ec), SR_OK),
                  "%s", ec.msg);
        assert_uuid(cmd, in.command_id);

        /* Each version is written with the registry's id for it and read
         * back: closed stages in v1, an open one in v2. */
        for (int version = 1; version <= 2; version++) {
                if (version == 2) {
                        sr_command_fini(&in);
                        base_command(&in, SR_CMD_CREATE_RUN);
                        fill_open_spec(&in.u.create.spec);
                }
                cr_assert(eq(int, sr_codec_encode_command(codec, &in, &buf,
                                                          &ec), SR_OK),
                          "%s", ec.msg);
                cr_assert(eq(int, sr_codec_peek_schema_id(sr_buf_slice(&buf),
                                                          &id, &ec), SR_OK));
                cr_assert(eq(i32, id, version == 1 ? 100000 : 100001));
                cr_assert(eq(int, sr_codec_decode_command(
                                          codec, sr_buf_slice(&buf), &out,
                                          &ec), SR_OK), "%s", ec.msg);
                assert_spec(&out.u.create.spec, &in.u.create.spec);
                sr_command_fini(&out);
                sr_buf_free(&buf);
        }

        /* The built-in ids of both versions are refused. */
        raw_command(&w, 1, 1, &in);
        cr_assert(eq(int, sr_codec_decode_command(codec, w_slice(&w), &out,
                                                  &ec), SR_ERR_SCHEMA));
        cr_assert(eq(str, ec.msg, "command: unknown schema id 1"));
        cr_assert(eq(int, sr_codec_peek_command_ids(codec, w_slice(&w), &cmd,
                                                    &run, &ec),
                     SR_ERR_SCHEMA));
        raw_command(&w, 7, 2, &in);
        cr_assert(eq(int, sr_codec_decode_command(codec, w_slice(&w), &out,
                                                  &ec), SR_ERR_SCHEMA));
        cr_assert(eq(str, ec.msg, "command: unknown schema id 7"));
        sr_command_fini(&in);

        /* versions 3 and 4 under the registry's ids for them; their
         * built-in ids refused */
        for (int k = 0; k < 2; k++) {
                static const struct {
                        sr_cmd_kind_t kind;
                        int32_t reg, builtin;
                        int version;
                } v[] = { { SR_CMD_TARGET_COMMAND, 100002, 9, 3 },
                          { SR_CMD_DELETE_RUN, 100007, 10, 4 } };
                char want[64];

                fill_v2_command(&in, v[k].kind);
                cr_assert(eq(int, sr_codec_encode_command(codec, &in, &buf,
                                                          &ec), SR_OK),
                          "%s", ec.msg);
                cr_assert(eq(int, sr_codec_peek_schema_id(sr_buf_slice(&buf),
                                                          &id, &ec), SR_OK));
                cr_assert(eq(i32, id, v[k].reg));
                cr_assert(eq(int, sr_codec_decode_command(
                                          codec, sr_buf_slice(&buf), &out,
                                          &ec), SR_OK), "%s", ec.msg);
                assert_v2_payload(&out, &in);
                sr_buf_free(&buf);
                raw_command(&w, v[k].builtin, v[k].version, &in);
                cr_assert(eq(int, sr_codec_decode_command(codec, w_slice(&w),
                                                          &out, &ec),
                             SR_ERR_SCHEMA));
                snprintf(want, sizeof(want), "command: unknown schema id %d",
                         (int)v[k].builtin);
                cr_assert(eq(str, ec.msg, want));
                sr_command_fini(&in);
        }
}

/* With a registry's ids, each changelog version is written and read under
 * the id the registry gave it (version 1 for closed records, version 2 for
 * an open stage run and a chunk); the built-in 4 and 8 are then ids like
 * any other, here 4 even the registry's id of results. */
Test(sr_codec, with_registry_ids_changelog_versions_are_read_under_their_ids)
{
        sr_schema_ids_t ids;
        sr_errctx_t ec = { 0 };
        sr_changelog_t in, out;
        struct wb w;

        registry_ids(&ids);
        sr_codec_set_ids(codec, &ids);
        cr_assert(eq(int, sr_codec_kind_of(codec, 100003),
                     SR_SCHEMA_CHANGELOG));
        cr_assert(eq(int, sr_codec_kind_of(codec, 100004),
                     SR_SCHEMA_CHANGELOG));
        cr_assert(eq(int, sr_codec_kind_of(codec, 8), 0));

        for (int i = 0; i < 3; i++) {
                if (i == 2)
                        fill_chunk(&in);
                else if (i == 1)
                        fill_open_stage_run(&in);
                else
                        fill_stage_run(&in);
                cr_assert(eq(i32, encoded_changelog_id(&in),
                             i ? 100004 : 100003), "case %d", i);
                changelog_round_trip(&in, &out);
                if (i == 2) {
                        assert_chunk(&out.u.chunk, &in.u.chunk);
                        sr_stage_chunk_fini(&out.u.chunk);
                        sr_stage_chunk_fini(&in.u.chunk);
                        continue;
                }
                assert_stage_run(&out.u.entity.u.sr, &in.u.entity.u.sr);
                sr_entity_fini(&out.u.entity);

                /* The built-in ids of the same layouts are refused. */
                raw_stage_run(&w, i ? 8 : 4, i ? 2 : 1, &in.u.entity.u.sr);
                cr_assert(eq(int, sr_codec_decode_changelog(codec,
                                                            w_slice(&w), &out,
                                                            &ec),
                             SR_ERR_SCHEMA), "case %d", i);
                if (i)
                        cr_assert(eq(str, ec.msg,
                                     "changelog: unknown schema id 8"));
                /* And under the registry's ids they decode. */
                raw_stage_run(&w, i ? 100004 : 100003, i ? 2 : 1,
                              &in.u.entity.u.sr);
                cr_assert(eq(int, sr_codec_decode_changelog(codec,
                                                            w_slice(&w), &out,
                                                            &ec), SR_OK),
                          "case %d: %s", i, ec.msg);
                assert_stage_run(&out.u.entity.u.sr, &in.u.entity.u.sr);
                sr_entity_fini(&out.u.entity);
                sr_entity_fini(&in.u.entity);
        }
}

/* ------------------------------------------------------------ definitions */

/* Every definition command of Command version 5 (SR_CMD_DEFINITION,
 * PutPipeline ... RunEnded): the hand-written layout is what the encoder
 * writes, byte for byte, under id 11 (version 5 still, since version 6
 * only adds FillStep); it reads back with every field (the envelope's
 * command_id, tenant and time copied into the sr_defcmd_t); framed as
 * version 4 (id 10, no such branch) it is refused, naming the branch. */
Test(sr_codec, every_definition_command_is_written_in_version_5_and_read_back)
{
        cr_assert(eq(int, SR_DEFCMD_FILL_STEP, SR_DEFCMD__COUNT - 1));
        for (int k = 0; k < SR_DEFCMD_FILL_STEP; k++) {
                sr_errctx_t ec = { 0 };
                sr_buf_t buf = { 0 };
                sr_command_t in, out;
                char want[64];
                struct wb w;

                fill_def_command(&in, (sr_defcmd_kind_t)k);
                raw_command(&w, 11, 5, &in);
                cr_assert(eq(int, sr_codec_encode_command(codec, &in, &buf,
                                                          &ec), SR_OK),
                          "%s: %s", sr_defcmd_name(k), ec.msg);
                cr_assert(eq(sz, buf.len, w.n), "%s", sr_defcmd_name(k));
                cr_assert(eq(int, memcmp(buf.ptr, w.b, w.n), 0), "%s",
                          sr_defcmd_name(k));
                cr_assert(eq(int, sr_codec_decode_command(
                                          codec, sr_buf_slice(&buf), &out,
                                          &ec), SR_OK),
                          "%s: %s", sr_defcmd_name(k), ec.msg);
                assert_command_head(&out, &in);
                cr_assert(not(eq(ptr, out.u.def, NULL)));
                assert_defcmd(out.u.def, in.u.def);
                sr_command_fini(&out);
                sr_buf_free(&buf);

                raw_command(&w, 10, 4, &in);
                cr_assert(eq(int, sr_codec_decode_command(codec, w_slice(&w),
                                                          &out, &ec),
                             SR_ERR_SCHEMA), "%s", sr_defcmd_name(k));
                snprintf(want, sizeof(want), "unknown union branch %d",
                         SR_CMD_DEFINITION + k);
                assert_msg(ec, want);

                /* Version 6 has version 5's branches at the same places:
                 * the same body framed as id 15 reads the same. */
                raw_command(&w, 15, 6, &in);
                cr_assert(eq(int, sr_codec_decode_command(codec, w_slice(&w),
                                                          &out, &ec),
                             SR_OK), "%s: %s", sr_defcmd_name(k), ec.msg);
                assert_defcmd(out.u.def, in.u.def);
                sr_command_fini(&out);
                sr_command_fini(&in);
        }
}

/* FillStep (Command version 6, the last definition branch): the
 * hand-written layout is what the encoder writes, byte for byte, under id
 * 15; it reads back with every field, with a 32-byte seal_state and the
 * nil after (from the first) too; framed as version 5 (id 11) or 4 (id
 * 10), which have no such branch, it is refused, naming the branch. */
Test(sr_codec, fill_step_is_written_in_version_6_and_read_back)
{
        for (int pass = 0; pass < 2; pass++) {
                sr_errctx_t ec = { 0 };
                sr_buf_t buf = { 0 };
                sr_command_t in, out;
                char want[64];
                struct wb w;

                fill_def_command(&in, SR_DEFCMD_FILL_STEP);
                if (pass) {
                        /* the first step: an even count of chunks, from
                         * the first target, no version */
                        in.u.def->has_expected_version = false;
                        in.u.def->expected_version = 0;
                        in.u.def->u.fill.after = (sr_uuid_t){ { 0 } };
                        in.u.def->u.fill.chunk = 0;
                        in.u.def->u.fill.count = 0;
                        in.u.def->u.fill.stage_index = 0;
                        in.u.def->u.fill.seal_state_len = 32;
                        memset(in.u.def->u.fill.seal_state + 32, 0, 32);
                }
                raw_command(&w, 15, 6, &in);
                cr_assert(eq(int, sr_codec_encode_command(codec, &in, &buf,
                                                          &ec), SR_OK),
                          "pass %d: %s", pass, ec.msg);
                cr_assert(eq(sz, buf.len, w.n), "pass %d", pass);
                cr_assert(eq(int, memcmp(buf.ptr, w.b, w.n), 0), "pass %d",
                          pass);
                cr_assert(eq(int, sr_codec_decode_command(
                                          codec, sr_buf_slice(&buf), &out,
                                          &ec), SR_OK),
                          "pass %d: %s", pass, ec.msg);
                assert_command_head(&out, &in);
                cr_assert(not(eq(ptr, out.u.def, NULL)));
                cr_assert(eq(int, out.u.def->kind, SR_DEFCMD_FILL_STEP));
                assert_defcmd(out.u.def, in.u.def);
                cr_assert(eq(u32, out.u.def->u.fill.seal_state_len,
                             pass ? 32 : 64));
                cr_assert(eq(u64, out.u.def->u.fill.count,
                             pass ? 0 : 5000000000ull));
                sr_command_fini(&out);
                sr_buf_free(&buf);

                snprintf(want, sizeof(want), "unknown union branch %d",
                         SR_CMD_DEFINITION + SR_DEFCMD_FILL_STEP);
                raw_command(&w, 11, 5, &in);
                cr_assert(eq(int, sr_codec_decode_command(codec, w_slice(&w),
                                                          &out, &ec),
                             SR_ERR_SCHEMA), "pass %d", pass);
                assert_msg(ec, want);
                raw_command(&w, 10, 4, &in);
                cr_assert(eq(int, sr_codec_decode_command(codec, w_slice(&w),
                                                          &out, &ec),
                             SR_ERR_SCHEMA), "pass %d", pass);
                assert_msg(ec, want);
                sr_command_fini(&in);
        }
}

/* A FillStep's seal_state is 32 or 64 bytes: any other length is never
 * written (SR_ERR_INVALID) and refused when read (SR_ERR_SCHEMA), naming
 * the field. stage_index and chunk (ints) and count (a long) negative on
 * the wire are refused; values the wire cannot carry are never written. */
Test(sr_codec, fill_step_with_a_bad_seal_state_or_a_negative_number_is_refused)
{
        static const uint32_t bad_len[] = { 0, 31, 33, 63 };
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_command_t in, out;
        struct wb w;

        fill_def_command(&in, SR_DEFCMD_FILL_STEP);
        for (size_t i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++) {
                char want[96];

                in.u.def->u.fill.seal_state_len = bad_len[i];
                cr_assert(eq(int, sr_codec_encode_command(codec, &in, &buf,
                                                          &ec),
                             SR_ERR_INVALID), "len %u", bad_len[i]);
                snprintf(want, sizeof(want),
                         "payload FillStep: field seal_state: %u bytes (32 "
                         "or 64)", bad_len[i]);
                assert_msg(ec, want);
                raw_command(&w, 15, 6, &in);
                cr_assert(eq(int, sr_codec_decode_command(codec, w_slice(&w),
                                                          &out, &ec),
                             SR_ERR_SCHEMA), "len %u", bad_len[i]);
                assert_msg(ec, want);
        }
        /* 65 bytes: more than the C model holds (raw_defcmd writes at
         * most the 64 of its array: the body is written by hand). */
        in.u.def->u.fill.seal_state_len = 65;
        cr_assert(eq(int, sr_codec_encode_command(codec, &in, &buf, &ec),
                     SR_ERR_INVALID));
        assert_msg(ec, "field seal_state: 65 bytes (32 or 64)");
        in.u.def->u.fill.seal_state_len = 64;

        /* Too large for the wire's int and long. */
        in.u.def->u.fill.stage_index = (uint32_t)INT32_MAX + 1;
        cr_assert(eq(int, sr_codec_encode_command(codec, &in, &buf, &ec),
                     SR_ERR_INVALID));
        assert_msg(ec, "payload FillStep: field stage_index:");
        in.u.def->u.fill.stage_index = 2;
        in.u.def->u.fill.chunk = UINT32_MAX;
        cr_assert(eq(int, sr_codec_encode_command(codec, &in, &buf, &ec),
                     SR_ERR_INVALID));
        assert_msg(ec, "payload FillStep: field chunk:");
        in.u.def->u.fill.chunk = 300;
        in.u.def->u.fill.count = (uint64_t)INT64_MAX + 1;
        cr_assert(eq(int, sr_codec_encode_command(codec, &in, &buf, &ec),
                     SR_ERR_INVALID));
        assert_msg(ec, "payload FillStep: field count: out of range");
        in.u.def->u.fill.count = 5000000000ull;

        /* Negative on the wire: written by hand, field by field. */
        for (int f = 0; f < 3; f++) {
                static const char *const field[] = { "stage_index", "chunk",
                                                     "count" };
                const sr_defcmd_t *d = in.u.def;
                char want[96];

                w_header(&w, 15);
                w_uuid_of(&w, &in.command_id);
                w_uuid_of(&w, &in.pipeline_run_id);
                w_str(&w, in.enterprise_id);
                w_long(&w, in.issued_at);
                w_long(&w, SR_CMD_DEFINITION + SR_DEFCMD_FILL_STEP);
                w_uuid_of(&w, &d->pipeline_id);
                w_opt_long(&w, false, 0);
                w_uuid_of(&w, &d->u.fill.pipeline_run_id);
                w_long(&w, f == 0 ? -1 : (int64_t)d->u.fill.stage_index);
                w_uuid_of(&w, &d->u.fill.after);
                w_long(&w, f == 1 ? -2 : (int64_t)d->u.fill.chunk);
                w_long(&w, f == 2 ? -3 : (int64_t)d->u.fill.count);
                w_long(&w, 32);
                w_raw(&w, d->u.fill.seal_state, 32);
                cr_assert(eq(int, sr_codec_decode_command(codec, w_slice(&w),
                                                          &out, &ec),
                             SR_ERR_SCHEMA), "%s", field[f]);
                snprintf(want, sizeof(want),
                         "payload FillStep: field %s: negative (%d)",
                         field[f], -1 - f);
                assert_msg(ec, want);
        }
        sr_command_fini(&in);
}

/* Absent optional fields travel as null and come back absent; a retried
 * create without a version. */
Test(sr_codec, a_definition_command_without_its_optional_fields_round_trips)
{
        static const sr_defcmd_kind_t kinds[] = {
                SR_DEFCMD_PUT_PIPELINE, SR_DEFCMD_PUT_STAGE,
                SR_DEFCMD_PUT_TARGET_LIST, SR_DEFCMD_UPDATE_TARGET,
                SR_DEFCMD_PUT_OPERATION_LIST, SR_DEFCMD_PUT_OPERATION,
                SR_DEFCMD_ADD_TARGETS,
        };

        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
                sr_command_t in, out;
                sr_defcmd_t *d;
                struct wb w;

                fill_def_command(&in, kinds[i]);
                d = in.u.def;
                sr_defcmd_fini(d);
                memset(&d->u, 0, sizeof(d->u));
                d->has_expected_version = false;
                d->expected_version = 0;
                d->create = false;
                if (kinds[i] == SR_DEFCMD_PUT_STAGE)
                        d->u.stage.stage_id = uuid_n(61);
                command_round_trip(&in, &out);
                assert_defcmd(out.u.def, in.u.def);
                cr_assert(not(out.u.def->has_expected_version));
                sr_command_fini(&out);
                raw_command(&w, 11, 5, &in);
                command_decode_ok(&w, &out);
                assert_defcmd(out.u.def, in.u.def);
                sr_command_fini(&out);
                sr_command_fini(&in);
        }
}

/* The key is on the wire twice: a payload naming another pipeline than
 * the envelope's pipeline_run_id is malformed (decode: SR_ERR_SCHEMA), and
 * never written (encode: SR_ERR_INVALID). */
Test(sr_codec, a_definition_command_of_another_pipeline_than_its_key_is_refused)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_command_t in, out;
        struct wb w;

        fill_def_command(&in, SR_DEFCMD_DELETE_STAGE);
        in.u.def->pipeline_id = uuid_n(99);
        cr_assert(eq(int, sr_codec_encode_command(codec, &in, &buf, &ec),
                     SR_ERR_INVALID));
        assert_msg(ec, "payload DeleteStage: field pipeline_id: not the "
                       "command's pipeline_run_id");
        raw_command(&w, 11, 5, &in);
        cr_assert(eq(int, sr_codec_decode_command(codec, w_slice(&w), &out,
                                                  &ec), SR_ERR_SCHEMA));
        assert_msg(ec, "command: payload DeleteStage: field pipeline_id: not "
                       "the command's pipeline_run_id");
        sr_command_fini(&in);

        /* A definition command without its sr_defcmd_t: a caller's bug. */
        base_command(&in, SR_CMD_DEFINITION);
        cr_assert(eq(int, sr_codec_encode_command(codec, &in, &buf, &ec),
                     SR_ERR_INVALID));
        assert_msg(ec, "definition command missing");
}

/* A target list type, a RunEnded status, an expected_version the C model
 * cannot hold: malformed, naming the field and the value. */
Test(sr_codec, a_definition_command_with_an_unknown_text_is_a_schema_error)
{
        sr_errctx_t ec = { 0 };
        sr_command_t in, out;
        struct wb w;

        fill_def_command(&in, SR_DEFCMD_PUT_TARGET_LIST);
        raw_command(&w, 11, 5, &in);
        /* the type is the body's last field: "GROUPS" -> "groups" */
        memcpy(w.b + w.n - 6, "groups", 6);
        cr_assert(eq(int, sr_codec_decode_command(codec, w_slice(&w), &out,
                                                  &ec), SR_ERR_SCHEMA));
        assert_msg(ec, "payload PutTargetList: field type: unknown target "
                       "list type \"groups\"");
        sr_command_fini(&in);

        fill_def_command(&in, SR_DEFCMD_RUN_ENDED);
        raw_command(&w, 11, 5, &in);
        memcpy(w.b + w.n - 9, "cancelXed", 9);
        cr_assert(eq(int, sr_codec_decode_command(codec, w_slice(&w), &out,
                                                  &ec), SR_ERR_SCHEMA));
        assert_msg(ec, "payload RunEnded: field status: unknown status");
        sr_command_fini(&in);

        fill_def_command(&in, SR_DEFCMD_DELETE_PIPELINE);
        w_header(&w, 11);
        w_uuid_of(&w, &in.command_id);
        w_uuid_of(&w, &in.pipeline_run_id);
        w_str(&w, "acme");
        w_long(&w, 1);
        w_long(&w, SR_CMD_DEFINITION + SR_DEFCMD_DELETE_PIPELINE);
        w_uuid_of(&w, &in.pipeline_run_id);
        w_opt_long(&w, true, (int64_t)UINT32_MAX + 1);
        cr_assert(eq(int, sr_codec_decode_command(codec, w_slice(&w), &out,
                                                  &ec), SR_ERR_SCHEMA));
        assert_msg(ec, "field expected_version: 4294967296 out of range");
        sr_command_fini(&in);
}

/* Every version of Command starts with the two ids: peek reads version 5
 * (a definition command's pipeline) as it reads the others. */
Test(sr_codec, peek_command_ids_reads_a_version_5_definition_command)
{
        sr_errctx_t ec = { 0 };
        sr_uuid_t cmd, run;
        sr_command_t in;
        struct wb w;

        fill_def_command(&in, SR_DEFCMD_ADD_TARGETS);
        raw_command(&w, 11, 5, &in);
        cr_assert(eq(int, sr_codec_peek_command_ids(codec, w_slice(&w), &cmd,
                                                    &run, &ec), SR_OK),
                  "%s", ec.msg);
        assert_uuid(cmd, in.command_id);
        assert_uuid(run, in.pipeline_run_id);
        sr_command_fini(&in);
}

/* --- changelog version 3 */

static void fill_audit(sr_def_audit_t *a, int n)
{
        a->version = 4000000000u - (uint32_t)n;
        a->created_at = 1700000000000 + n;
        a->updated_at = 1700000005000 + n;
}

/* A definition entity's record (ChangelogRecord version 3) of @p kind,
 * every field set; owned parts malloc'd. */
static void fill_def_record(sr_changelog_t *cl, sr_def_kind_t kind)
{
        sr_def_record_t *r = &cl->u.def;

        memset(cl, 0, sizeof(*cl));
        cl->kind = SR_CL_DEF;
        r->kind = kind;
        r->pipeline_id = uuid_n(80);
        strcpy(r->enterprise_id, "acme");
        switch (kind) {
        case SR_DEF_PIPELINE:
                r->u.pipeline.id = r->pipeline_id;
                strcpy(r->u.pipeline.enterprise_id, r->enterprise_id);
                strcpy(r->u.pipeline.name, "canary rollout");
                strcpy(r->u.pipeline.description, "in waves");
                r->u.pipeline.is_active = true;
                r->u.pipeline.is_default = true;
                r->u.pipeline.timeout_seconds = 86400;
                r->u.pipeline.deleted_at = 1700000009000;
                r->u.pipeline.runs_started = 12;
                r->u.pipeline.last_seq = (uint64_t)INT64_MAX;
                r->u.pipeline.next_ordinal = 41;
                fill_audit(&r->u.pipeline.a, 1);
                break;
        case SR_DEF_STAGE:
                r->u.stage.id = uuid_n(81);
                strcpy(r->u.stage.name, "beta");
                strcpy(r->u.stage.description, "the beta fleet");
                r->u.stage.timeout_seconds = 600;
                r->u.stage.order = 2;
                r->u.stage.ordinal = 3;
                fill_audit(&r->u.stage.a, 2);
                break;
        case SR_DEF_TARGET_LIST:
                r->u.list.id = uuid_n(82);
                strcpy(r->u.list.name, "beta devices");
                r->u.list.type = SR_TL_COLLECTIONS;
                r->u.list.ordinal = 4;
                r->u.list.n_targets = 9000;
                r->u.list.n_groups = 3;
                fill_audit(&r->u.list.a, 3);
                break;
        case SR_DEF_ATTACHMENT:
                r->u.attachment.id = uuid_n(83);
                r->u.attachment.stage_id = uuid_n(81);
                r->u.attachment.target_list_id = uuid_n(82);
                r->u.attachment.ordinal = 5;
                fill_audit(&r->u.attachment.a, 4);
                break;
        case SR_DEF_OPERATION_LIST:
                r->u.oplist.id = uuid_n(84);
                r->u.oplist.stage_id = uuid_n(81);
                strcpy(r->u.oplist.name, "update");
                strcpy(r->u.oplist.description, "flash and reboot");
                r->u.oplist.ordinal = 6;
                fill_audit(&r->u.oplist.a, 5);
                break;
        case SR_DEF_OPERATION:
                r->u.operation.id = uuid_n(85);
                r->u.operation.operation_list_id = uuid_n(84);
                strcpy(r->u.operation.operation_type, "firmware_update");
                r->u.operation.args_json = strdup("{\"url\":\"https://fw\"}");
                r->u.operation.ordinal = 7;
                fill_audit(&r->u.operation.a, 6);
                break;
        case SR_DEF_GROUP_LINK:
                r->u.group_link.id = uuid_n(86);
                r->u.group_link.target_list_id = uuid_n(82);
                r->u.group_link.device_group_id = uuid_n(87);
                r->u.group_link.ordinal = 8;
                fill_audit(&r->u.group_link.a, 7);
                break;
        case SR_DEF_ACTIVE_RUN:
                r->u.active_run.run_id = uuid_n(88);
                r->u.active_run.definition_seq = 40;
                r->u.active_run.filling = true;
                r->u.active_run.ordinal = 9;
                r->u.active_run.n_stage_ids = 2;
                r->u.active_run.stage_ids = calloc(2, sizeof(sr_uuid_t));
                cr_assert(not(eq(ptr, r->u.active_run.stage_ids, NULL)));
                r->u.active_run.stage_ids[0] = uuid_n(81);
                r->u.active_run.stage_ids[1] = uuid_n(89);
                fill_audit(&r->u.active_run.a, 8);
                break;
        case SR_DEF_TARGET:
                r->u.target.id = uuid_n(90);
                r->u.target.target_list_id = uuid_n(82);
                r->u.target.device_id = uuid_n(91);
                strcpy(r->u.target.device_name, "gw-1");
                strcpy(r->u.target.device_alias, "the first gateway");
                r->u.target.is_active = true;
                r->u.target.device_meta_json = strdup("{\"rack\":4}");
                r->u.target.args_json = NULL;
                fill_audit(&r->u.target.a, 9);
                break;
        default:
                break;
        }
}

static void w_audit(struct wb *w, const sr_def_audit_t *a)
{
        w_long(w, a->version);
        w_long(w, a->created_at);
        w_long(w, a->updated_at);
}

/* A Def* record as ChangelogRecord version 3 lays it out (changelog.avsc),
 * framed with @p id; its state branch 8 + kind. */
static void raw_def_record(struct wb *w, int32_t id, const sr_def_record_t *r)
{
        w_header(w, id);
        w_long(w, 8 + r->kind);
        w_uuid_of(w, &r->pipeline_id);
        w_str(w, r->enterprise_id);
        switch (r->kind) {
        case SR_DEF_PIPELINE:
                w_str(w, r->u.pipeline.name);
                w_str(w, r->u.pipeline.description);
                w_bool(w, r->u.pipeline.is_active);
                w_bool(w, r->u.pipeline.is_default);
                w_long(w, r->u.pipeline.timeout_seconds);
                w_long(w, r->u.pipeline.deleted_at);
                w_long(w, (int64_t)r->u.pipeline.runs_started);
                w_long(w, (int64_t)r->u.pipeline.last_seq);
                w_long(w, (int64_t)r->u.pipeline.next_ordinal);
                w_audit(w, &r->u.pipeline.a);
                break;
        case SR_DEF_STAGE:
                w_uuid_of(w, &r->u.stage.id);
                w_str(w, r->u.stage.name);
                w_str(w, r->u.stage.description);
                w_long(w, r->u.stage.timeout_seconds);
                w_long(w, r->u.stage.order);
                w_long(w, (int64_t)r->u.stage.ordinal);
                w_audit(w, &r->u.stage.a);
                break;
        case SR_DEF_TARGET_LIST:
                w_uuid_of(w, &r->u.list.id);
                w_str(w, r->u.list.name);
                w_str(w, sr_tl_type_name(r->u.list.type));
                w_long(w, (int64_t)r->u.list.ordinal);
                w_long(w, r->u.list.n_targets);
                w_long(w, r->u.list.n_groups);
                w_audit(w, &r->u.list.a);
                break;
        case SR_DEF_ATTACHMENT:
                w_uuid_of(w, &r->u.attachment.id);
                w_uuid_of(w, &r->u.attachment.stage_id);
                w_uuid_of(w, &r->u.attachment.target_list_id);
                w_long(w, (int64_t)r->u.attachment.ordinal);
                w_audit(w, &r->u.attachment.a);
                break;
        case SR_DEF_OPERATION_LIST:
                w_uuid_of(w, &r->u.oplist.id);
                w_uuid_of(w, &r->u.oplist.stage_id);
                w_str(w, r->u.oplist.name);
                w_str(w, r->u.oplist.description);
                w_long(w, (int64_t)r->u.oplist.ordinal);
                w_audit(w, &r->u.oplist.a);
                break;
        case SR_DEF_OPERATION:
                w_uuid_of(w, &r->u.operation.id);
                w_uuid_of(w, &r->u.operation.operation_list_id);
                w_str(w, r->u.operation.operation_type);
                w_opt_str(w, r->u.operation.args_json != NULL,
                          r->u.operation.args_json);
                w_long(w, (int64_t)r->u.operation.ordinal);
                w_audit(w, &r->u.operation.a);
                break;
        case SR_DEF_GROUP_LINK:
                w_uuid_of(w, &r->u.group_link.id);
                w_uuid_of(w, &r->u.group_link.target_list_id);
                w_uuid_of(w, &r->u.group_link.device_group_id);
                w_long(w, (int64_t)r->u.group_link.ordinal);
                w_audit(w, &r->u.group_link.a);
                break;
        case SR_DEF_ACTIVE_RUN:
                w_uuid_of(w, &r->u.active_run.run_id);
                w_long(w, (int64_t)r->u.active_run.definition_seq);
                w_bool(w, r->u.active_run.filling);
                w_long(w, (int64_t)r->u.active_run.ordinal);
                if (r->u.active_run.n_stage_ids)
                        w_long(w, r->u.active_run.n_stage_ids);
                for (uint32_t i = 0; i < r->u.active_run.n_stage_ids; i++)
                        w_uuid_of(w, &r->u.active_run.stage_ids[i]);
                w_long(w, 0);
                w_audit(w, &r->u.active_run.a);
                break;
        case SR_DEF_TARGET:
                w_uuid_of(w, &r->u.target.id);
                w_uuid_of(w, &r->u.target.target_list_id);
                w_uuid_of(w, &r->u.target.device_id);
                w_str(w, r->u.target.device_name);
                w_str(w, r->u.target.device_alias);
                w_bool(w, r->u.target.is_active);
                w_opt_str(w, r->u.target.device_meta_json != NULL,
                          r->u.target.device_meta_json);
                w_opt_str(w, r->u.target.args_json != NULL,
                          r->u.target.args_json);
                w_audit(w, &r->u.target.a);
                break;
        default:
                cr_fatal("raw_def_record: no layout for kind %d",
                         (int)r->kind);
        }
}

/* Every field of two records (the owned parts by value, the rest byte
 * for byte: both start zeroed). */
static void assert_def_record(const sr_def_record_t *a,
                              const sr_def_record_t *b)
{
        sr_def_record_t x = *a, y = *b;

        cr_assert(eq(int, a->kind, b->kind));
        switch (b->kind) {
        case SR_DEF_OPERATION:
                assert_opt_text(a->u.operation.args_json,
                                b->u.operation.args_json, "args_json");
                x.u.operation.args_json = y.u.operation.args_json = NULL;
                break;
        case SR_DEF_ACTIVE_RUN:
                cr_assert(eq(u32, a->u.active_run.n_stage_ids,
                             b->u.active_run.n_stage_ids));
                for (uint32_t i = 0; i < b->u.active_run.n_stage_ids; i++)
                        assert_uuid(a->u.active_run.stage_ids[i],
                                    b->u.active_run.stage_ids[i]);
                x.u.active_run.stage_ids = y.u.active_run.stage_ids = NULL;
                break;
        case SR_DEF_TARGET:
                assert_opt_text(a->u.target.device_meta_json,
                                b->u.target.device_meta_json, "meta");
                assert_opt_text(a->u.target.args_json, b->u.target.args_json,
                                "args");
                x.u.target.device_meta_json = y.u.target.device_meta_json =
                        NULL;
                x.u.target.args_json = y.u.target.args_json = NULL;
                break;
        default:
                break;
        }
        cr_assert(eq(int, memcmp(&x, &y, sizeof(x)), 0), "kind %s",
                  sr_def_kind_name(b->kind));
}

/* Every definition entity's record is written in version 3 (id 12) as
 * the hand-written layout, byte for byte, and read back with every field;
 * framed as version 2 (id 8, no such branch) it is refused. */
Test(sr_codec, every_definition_record_is_written_in_changelog_version_3_and_read_back)
{
        for (int k = 0; k < SR_DEF__COUNT; k++) {
                sr_errctx_t ec = { 0 };
                sr_buf_t buf = { 0 };
                sr_changelog_t in, out;
                char want[64];
                struct wb w;

                fill_def_record(&in, (sr_def_kind_t)k);
                raw_def_record(&w, 12, &in.u.def);
                cr_assert(eq(int, sr_codec_encode_changelog(codec, &in, &buf,
                                                            &ec), SR_OK),
                          "%s: %s", sr_def_kind_name(k), ec.msg);
                cr_assert(eq(sz, buf.len, w.n), "%s", sr_def_kind_name(k));
                cr_assert(eq(int, memcmp(buf.ptr, w.b, w.n), 0), "%s",
                          sr_def_kind_name(k));
                sr_buf_free(&buf);
                /* the avro-c path is the one that writes it */
                cr_assert(eq(int, sr_codec__encode_changelog_avro(
                                          codec, &in, &buf, &ec), SR_OK));
                cr_assert(eq(int, memcmp(buf.ptr, w.b, w.n), 0));
                sr_buf_free(&buf);
                changelog_round_trip(&in, &out);
                assert_def_record(&out.u.def, &in.u.def);
                sr_changelog_fini(&out);

                raw_def_record(&w, 8, &in.u.def);
                cr_assert(eq(int, sr_codec_decode_changelog(codec,
                                                            w_slice(&w), &out,
                                                            &ec),
                             SR_ERR_SCHEMA), "%s", sr_def_kind_name(k));
                snprintf(want, sizeof(want), "unknown union branch %d",
                         8 + k);
                assert_msg(ec, want);
                sr_changelog_fini(&in);
        }
}

Test(sr_codec, a_definition_record_refuses_what_no_reader_takes)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_changelog_t in, out;
        struct wb w;

        /* the pipeline's own id is the record's */
        fill_def_record(&in, SR_DEF_PIPELINE);
        in.u.def.u.pipeline.id = uuid_n(3);
        cr_assert(eq(int, sr_codec_encode_changelog(codec, &in, &buf, &ec),
                     SR_ERR_INVALID));
        assert_msg(ec, "state DefPipeline: field pipeline_id");
        /* a counter above 2^63-1 */
        fill_def_record(&in, SR_DEF_PIPELINE);
        in.u.def.u.pipeline.last_seq = (uint64_t)INT64_MAX + 1;
        cr_assert(eq(int, sr_codec_encode_changelog(codec, &in, &buf, &ec),
                     SR_ERR_INVALID));
        assert_msg(ec, "field last_seq: out of range");
        /* an unknown kind */
        fill_def_record(&in, SR_DEF_STAGE);
        in.u.def.kind = SR_DEF__COUNT;
        cr_assert(eq(int, sr_codec_encode_changelog(codec, &in, &buf, &ec),
                     SR_ERR_INVALID));
        /* an unknown list type read */
        fill_def_record(&in, SR_DEF_TARGET_LIST);
        in.u.def.u.list.type = SR_TL_DEVICES;
        raw_def_record(&w, 12, &in.u.def);
        {
                /* "DEVICES" -> "DEVICEZ" in the body */
                uint8_t *p = memmem(w.b, w.n, "DEVICES", 7);

                cr_assert(not(eq(ptr, p, NULL)));
                p[6] = 'Z';
        }
        cr_assert(eq(int, sr_codec_decode_changelog(codec, w_slice(&w), &out,
                                                    &ec), SR_ERR_SCHEMA));
        assert_msg(ec, "field type: unknown target list type \"DEVICEZ\"");
}

/* A dedupe entry keeps a definition command's reply whole: with its
 * definition part it takes version 3; without, version 1 as before. */
Test(sr_codec, a_dedupe_entry_with_a_definition_reply_is_written_in_version_3)
{
        sr_changelog_t in, out;

        memset(&in, 0, sizeof(in));
        in.kind = SR_CL_DEDUPE;
        in.u.dedupe.input_id = uuid_n(40);
        in.u.dedupe.pipeline_run_id = uuid_n(41);
        in.u.dedupe.has_reply = true;
        fill_reply(&in.u.dedupe.reply, false);
        cr_assert(eq(i32, encoded_changelog_id(&in), 4));
        in.u.dedupe.reply.reason = SR_REJECT_STALE_VERSION;
        in.u.dedupe.reply.has_def = true;
        in.u.dedupe.reply.def.entity_kind = SR_DEF_STAGE;
        in.u.dedupe.reply.def.entity_id = uuid_n(42);
        in.u.dedupe.reply.def.version = 7;
        in.u.dedupe.reply.def.seq = 70;
        cr_assert(eq(i32, encoded_changelog_id(&in), 12));
        changelog_round_trip(&in, &out);
        assert_reply(&out.u.dedupe.reply, &in.u.dedupe.reply);
        cr_assert(out.u.dedupe.reply.has_def);
        cr_assert(eq(int, memcmp(&out.u.dedupe.reply.def,
                                 &in.u.dedupe.reply.def,
                                 sizeof(sr_reply_def_t)), 0));
}

/* --- reply version 2 */

static void fill_def_reply(sr_reply_t *r)
{
        fill_reply(r, true);
        r->n_versions = 0;
        r->has_def = true;
        r->def.entity_kind = SR_DEF_TARGET_LIST;
        r->def.entity_id = uuid_n(50);
        r->def.version = 4000000000u;
        r->def.seq = 123456789012;
        r->def.created = 998;
        r->def.added = 998;
        r->def.skipped = 2;
}

/* A reply with a definition part is written in version 2 (id 13), laid out
 * as reply.avsc says, and read back; without one, version 1 (id 6) as
 * before, read back without it. */
Test(sr_codec, a_definition_reply_is_written_in_version_2_and_read_back)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_reply_t in, out;
        int32_t id;
        struct wb w;

        fill_def_reply(&in);
        w_header(&w, 13);
        w_uuid_of(&w, &in.command_id);
        w_uuid_of(&w, &in.pipeline_run_id);
        w_bool(&w, true);
        w_str(&w, "none");
        w_str(&w, "");
        w_long(&w, 0); /* no versions */
        w_long(&w, in.occurred_at);
        w_long(&w, 1);
        w_str(&w, "target_list");
        w_uuid_of(&w, &in.def.entity_id);
        w_long(&w, in.def.version);
        w_long(&w, (int64_t)in.def.seq);
        w_long(&w, in.def.created);
        w_long(&w, in.def.added);
        w_long(&w, in.def.skipped);
        cr_assert(eq(int, sr_codec_encode_reply(codec, &in, &buf, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(sz, buf.len, w.n));
        cr_assert(eq(int, memcmp(buf.ptr, w.b, w.n), 0));
        memset(&out, 0xab, sizeof(out));
        cr_assert(eq(int, sr_codec_decode_reply(codec, sr_buf_slice(&buf),
                                                &out, &ec), SR_OK),
                  "%s", ec.msg);
        sr_buf_free(&buf);
        assert_reply(&out, &in);
        cr_assert(out.has_def);
        cr_assert(eq(int, memcmp(&out.def, &in.def, sizeof(in.def)), 0));

        /* version 2 with a null definition: none */
        w.n -= 1 + 12 + 1 + 36 + 5 + 6 + 2 + 2 + 1;
        w_long(&w, 0);
        cr_assert(eq(int, sr_codec_decode_reply(codec, w_slice(&w), &out,
                                                &ec), SR_OK), "%s", ec.msg);
        cr_assert(not(out.has_def));

        /* an unknown entity type */
        fill_def_reply(&in);
        in.def.entity_kind = SR_DEF__COUNT + 1; /* __COUNT: a group's */
        cr_assert(eq(int, sr_codec_encode_reply(codec, &in, &buf, &ec),
                     SR_ERR_INVALID));
        assert_msg(ec, "definition: field entity_type");

        /* without a definition part: version 1, as before */
        fill_reply(&in, false);
        in.reason = SR_REJECT_WRONG_TYPE;
        cr_assert(eq(int, sr_codec_encode_reply(codec, &in, &buf, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(int, sr_codec_peek_schema_id(sr_buf_slice(&buf), &id,
                                                  &ec), SR_OK));
        cr_assert(eq(i32, id, 6));
        cr_assert(eq(int, sr_codec_decode_reply(codec, sr_buf_slice(&buf),
                                                &out, &ec), SR_OK),
                  "%s", ec.msg);
        sr_buf_free(&buf);
        assert_reply(&out, &in);
        cr_assert(not(out.has_def));
}

/* --- definition events */

static void fill_def_event(sr_def_event_t *e)
{
        memset(e, 0, sizeof(*e));
        e->pipeline_id = uuid_n(92);
        e->seq = 41;
        sr_def_event_id(&e->pipeline_id, e->seq, &e->event_id);
        strcpy(e->enterprise_id, "acme");
        e->entity_type = SR_DEF_OPERATION;
        e->entity_id = uuid_n(93);
        e->parent_id = uuid_n(94);
        e->change = SR_DEF_DELETED;
        e->version = 4000000000u;
        e->occurred_at = 1700000007000;
        e->causation_id = uuid_n(95);
}

static void raw_def_event(struct wb *w, int32_t id, const sr_def_event_t *e)
{
        w_header(w, id);
        w_uuid_of(w, &e->event_id);
        w_long(w, (int64_t)e->seq);
        w_uuid_of(w, &e->pipeline_id);
        w_str(w, e->enterprise_id);
        w_str(w, sr_def_kind_name(e->entity_type));
        w_uuid_of(w, &e->entity_id);
        w_opt_uuid(w, &e->parent_id);
        w_str(w, sr_def_change_name(e->change));
        w_long(w, e->version);
        w_long(w, e->occurred_at);
        w_uuid_of(w, &e->causation_id);
}

Test(sr_codec, a_definition_event_round_trips_every_field_and_layout)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_def_event_t in, out;
        struct wb w;

        for (int k = 0; k < SR_DEF__COUNT; k++) {
                fill_def_event(&in);
                in.entity_type = (sr_def_kind_t)k;
                in.change = (sr_def_change_t)(k % 3);
                if (k == SR_DEF_PIPELINE)
                        memset(&in.parent_id, 0, sizeof(in.parent_id));
                raw_def_event(&w, 14, &in);
                cr_assert(eq(int, sr_codec_encode_def_event(codec, &in, &buf,
                                                            &ec), SR_OK),
                          "%s", ec.msg);
                cr_assert(eq(sz, buf.len, w.n));
                cr_assert(eq(int, memcmp(buf.ptr, w.b, w.n), 0), "kind %d",
                          k);
                memset(&out, 0xab, sizeof(out));
                cr_assert(eq(int, sr_codec_decode_def_event(
                                          codec, sr_buf_slice(&buf), &out,
                                          &ec), SR_OK), "%s", ec.msg);
                sr_buf_free(&buf);
                cr_assert(eq(int, memcmp(&out, &in, sizeof(in)), 0),
                          "kind %d", k);
        }
        /* What the reader refuses, and the writer. */
        fill_def_event(&in);
        raw_def_event(&w, 14, &in);
        {
                uint8_t *p = memmem(w.b, w.n, "deleted", 7);

                cr_assert(not(eq(ptr, p, NULL)));
                p[0] = 'D';
        }
        cr_assert(eq(int, sr_codec_decode_def_event(codec, w_slice(&w), &out,
                                                    &ec), SR_ERR_SCHEMA));
        assert_msg(ec, "definition event: field change: unknown change "
                       "\"Deleted\"");
        raw_def_event(&w, 14, &in);
        {
                uint8_t *p = memmem(w.b, w.n, "operation", 9);

                cr_assert(not(eq(ptr, p, NULL)));
                p[0] = 'O';
        }
        cr_assert(eq(int, sr_codec_decode_def_event(codec, w_slice(&w), &out,
                                                    &ec), SR_ERR_SCHEMA));
        assert_msg(ec, "field entity_type: unknown definition entity type "
                       "\"Operation\"");
        /* another schema's id */
        raw_def_event(&w, 3, &in);
        cr_assert(eq(int, sr_codec_decode_def_event(codec, w_slice(&w), &out,
                                                    &ec), SR_ERR_SCHEMA));
        in.change = (sr_def_change_t)3;
        cr_assert(eq(int, sr_codec_encode_def_event(codec, &in, &buf, &ec),
                     SR_ERR_INVALID));
        fill_def_event(&in);
        in.seq = (uint64_t)INT64_MAX + 1;
        cr_assert(eq(int, sr_codec_encode_def_event(codec, &in, &buf, &ec),
                     SR_ERR_INVALID));
}
