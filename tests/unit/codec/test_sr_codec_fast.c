/* tests/unit/codec/test_sr_codec_fast.c - the hand-written encoders
 * (sr_codec_fast.c, sr_avro_enc.c) against the avro-c ones they replace.
 *
 * Differential: random events and changelog records of every kind (empty,
 * maximal and random strings, nil and non-nil ids, 0 / negative / extreme
 * numbers, every status and enum value, optional parts present and absent;
 * closed stage runs, written in changelog version 1, and open ones and
 * chunks, written in version 2)
 * go through sr_codec_encode_* (fast) and sr_codec__encode_*_avro; the
 * outcomes must be equal: the same bytes on SR_OK, the same code and
 * message on an error. Invalid values (unterminated strings, statuses and
 * enums out of range, numbers an "int" field cannot carry, NULL arrays,
 * unknown kinds) are mixed in so both refuse the same inputs the same way.
 * Round trips go through the existing (avro-c) decoders.
 * The result decoder: random result bodies (valid, invalid, damaged, with
 * non-canonical varints) through sr_codec_decode_result (hand-written
 * reader first) and sr_codec__decode_result_avro give the same result or
 * the same code and message.
 * Each test uses a fixed seed and reports the failing iteration.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <avro.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_avro_enc.h"
#include "sr_codec.h"
#include "sr_codec_int.h"

#include "kit_codec.h"

TestSuite(sr_codec_fast, .init = codec_setup, .fini = codec_teardown,
          .timeout = 120.0);

/* ------------------------------------------------------------ random */

typedef struct rng {
        uint64_t s;
        unsigned bad_per_256; /* chance of an invalid value per field */
} rng_t;

static uint64_t rnd(rng_t *r)
{
        /* xorshift64* */
        r->s ^= r->s >> 12;
        r->s ^= r->s << 25;
        r->s ^= r->s >> 27;
        return r->s * 0x2545f4914f6cdd1dull;
}

static uint32_t rnd_below(rng_t *r, uint32_t n)
{
        return (uint32_t)(rnd(r) % n);
}

static bool rnd_bad(rng_t *r)
{
        return r->bad_per_256 && rnd_below(r, 256) < r->bad_per_256;
}

/* Empty, maximal (cap - 1), short or any length; bytes 1..255 (avro
 * strings are bytes to both encoders). Bad: cap bytes, no NUL. */
static void rnd_str(rng_t *r, char *dst, size_t cap)
{
        size_t len;

        switch (rnd_below(r, 5)) {
        case 0:
                len = 0;
                break;
        case 1:
                len = cap - 1;
                break;
        case 2:
                len = rnd_below(r, 12);
                break;
        default:
                len = rnd_below(r, (uint32_t)cap);
                break;
        }
        if (rnd_bad(r))
                len = cap;
        for (size_t i = 0; i < len; i++)
                dst[i] = (char)(1 + rnd_below(r, 255));
        if (len < cap)
                dst[len] = '\0';
}

/* A malloc'd NUL-terminated string up to @p max bytes, or NULL. */
static char *rnd_heap_str(rng_t *r, size_t max, bool nullable)
{
        size_t len;
        char *s;

        if (nullable && rnd_below(r, 3) == 0)
                return NULL;
        len = rnd_below(r, 4) == 0 ? max : rnd_below(r, (uint32_t)max + 1);
        s = malloc(len + 1);
        cr_assert(not(eq(ptr, s, NULL)));
        for (size_t i = 0; i < len; i++)
                s[i] = (char)(1 + rnd_below(r, 255));
        s[len] = '\0';
        return s;
}

static sr_uuid_t rnd_uuid(rng_t *r, bool maybe_nil)
{
        sr_uuid_t u;

        memset(&u, 0, sizeof(u));
        if (maybe_nil && rnd_below(r, 3) == 0)
                return u;
        for (int i = 0; i < 16; i++)
                u.b[i] = (uint8_t)rnd(r);
        if (rnd_below(r, 16) == 0)
                memset(u.b, 0xff, sizeof(u.b));
        return u;
}

static int64_t rnd_i64(rng_t *r)
{
        static const int64_t edge[] = {
                0, 1, -1, 63, 64, -64, -65, 8191, 8192, INT32_MAX,
                INT32_MIN, (int64_t)INT32_MAX + 1, INT64_MAX, INT64_MIN,
                INT64_MAX - 1, INT64_MIN + 1, 1700000000000, -1700000000000,
        };

        switch (rnd_below(r, 4)) {
        case 0:
                return edge[rnd_below(r, sizeof(edge) / sizeof(edge[0]))];
        case 1:
                return (int64_t)rnd_below(r, 1000) - 500;
        case 2:
                return (int64_t)(rnd(r) >> rnd_below(r, 64));
        default:
                return (int64_t)rnd(r);
        }
}

/* Any u32: for "long" fields. */
static uint32_t rnd_u32(rng_t *r)
{
        static const uint32_t edge[] = {
                0, 1, 63, 64, INT32_MAX, (uint32_t)INT32_MAX + 1, UINT32_MAX,
        };

        if (rnd_below(r, 2))
                return edge[rnd_below(r, sizeof(edge) / sizeof(edge[0]))];
        return (uint32_t)rnd(r) >> rnd_below(r, 32);
}

/* A u32 for an "int" field: at most INT32_MAX unless bad. */
static uint32_t rnd_u32_int(rng_t *r)
{
        uint32_t v = rnd_u32(r);

        if (rnd_bad(r))
                return v | 0x80000000u;
        return v & 0x7fffffffu;
}

static int rnd_enum(rng_t *r, int n)
{
        static const int bad[] = { -1, INT32_MIN, 99 };

        if (rnd_bad(r))
                return rnd_below(r, 2) ? n : bad[rnd_below(r, 3)];
        return (int)rnd_below(r, (uint32_t)n);
}

static sr_status_t rnd_status(rng_t *r)
{
        return (sr_status_t)rnd_enum(r, SR_ST__COUNT);
}

/* ------------------------------------------------------------ records */

static void rnd_event(rng_t *r, sr_event_t *e)
{
        memset(e, 0, sizeof(*e));
        e->event_id = rnd_uuid(r, false);
        e->pipeline_run_id = rnd_uuid(r, false);
        e->seq = (uint64_t)rnd_i64(r) & (uint64_t)INT64_MAX;
        if (rnd_bad(r))
                e->seq |= (uint64_t)1 << 63;
        e->entity_type = (sr_entity_type_t)rnd_enum(r, SR_ENT__COUNT);
        e->entity_id = rnd_uuid(r, false);
        e->pipeline_id = rnd_uuid(r, true);
        e->stage_run_id = rnd_uuid(r, true);
        e->stage_run_operation_id = rnd_uuid(r, true);
        e->device_id = rnd_uuid(r, true);
        e->from_status = rnd_status(r);
        do {
                e->to_status = rnd_status(r);
        } while (e->to_status == SR_ST_NONE && !r->bad_per_256);
        rnd_str(r, e->reason, sizeof(e->reason));
        e->occurred_at = rnd_i64(r);
        e->causation_id = rnd_uuid(r, true);
        rnd_str(r, e->enterprise_id, sizeof(e->enterprise_id));
        e->version = rnd_u32(r);
}

static void rnd_meta(rng_t *r, sr_meta_t *m)
{
        m->id = rnd_uuid(r, true);
        m->status = rnd_status(r);
        rnd_str(r, m->reason, sizeof(m->reason));
        m->created_at = rnd_i64(r);
        m->updated_at = rnd_i64(r);
        m->started_at = rnd_i64(r);
        m->ended_at = rnd_i64(r);
        m->version = rnd_u32(r);
        m->deadline = rnd_i64(r);
}

static void rnd_reply(rng_t *r, sr_reply_t *rp)
{
        rp->command_id = rnd_uuid(r, true);
        rp->pipeline_run_id = rnd_uuid(r, true);
        rp->accepted = rnd_below(r, 2);
        rp->reason = (sr_reject_t)rnd_enum(r, SR_REJECT__COUNT);
        rnd_str(r, rp->message, sizeof(rp->message));
        rp->n_versions = rnd_below(r, SR_REPLY_MAX_VERSIONS + 1);
        if (rnd_bad(r))
                rp->n_versions = SR_REPLY_MAX_VERSIONS + 1 +
                                 rnd_below(r, 100);
        for (int i = 0; i < SR_REPLY_MAX_VERSIONS; i++) {
                rp->versions[i].entity_type =
                        (sr_entity_type_t)rnd_enum(r, SR_ENT__COUNT);
                rp->versions[i].entity_id = rnd_uuid(r, true);
                rp->versions[i].version = rnd_u32(r);
        }
        rp->occurred_at = rnd_i64(r);
}

static void rnd_stage_run(rng_t *r, sr_stage_run_t *st)
{
        rnd_meta(r, &st->m);
        st->pipeline_run_id = rnd_uuid(r, true);
        st->pipeline_id = rnd_uuid(r, true);
        st->stage_id = rnd_uuid(r, true);
        rnd_str(r, st->enterprise_id, sizeof(st->enterprise_id));
        st->index = rnd_u32_int(r);
        rnd_str(r, st->name, sizeof(st->name));
        rnd_str(r, st->description, sizeof(st->description));
        st->timeout_seconds = rnd_i64(r);
        st->queued_at = rnd_i64(r);
        st->n_ops = rnd_below(r, 5);
        st->ops = st->n_ops ? calloc(st->n_ops, sizeof(*st->ops)) : NULL;
        for (uint32_t i = 0; i < st->n_ops; i++) {
                rnd_str(r, st->ops[i].operation_type,
                        sizeof(st->ops[i].operation_type));
                st->ops[i].args_json = rnd_heap_str(r, 3000, true);
        }
        st->n_targets = rnd_below(r, 4) == 0 ? rnd_below(r, 40) :
                        rnd_below(r, 4);
        st->targets = st->n_targets ?
                      calloc(st->n_targets, sizeof(*st->targets)) : NULL;
        for (uint32_t i = 0; i < st->n_targets; i++) {
                sr_spec_target_t *t = &st->targets[i];

                t->target_id = rnd_uuid(r, true);
                t->device_id = rnd_uuid(r, true);
                rnd_str(r, t->device_name, sizeof(t->device_name));
                rnd_str(r, t->device_alias, sizeof(t->device_alias));
        }
        /* A count without its array. */
        if (rnd_bad(r) && !st->n_ops)
                st->n_ops = 1 + rnd_below(r, 3);
        if (rnd_bad(r) && !st->n_targets)
                st->n_targets = 1 + rnd_below(r, 3);
        /* Half of them open (changelog version 2), each open-stage field
         * zero or not on its own, so every one of them alone decides the
         * version too. */
        if (rnd_below(r, 2))
                return;
        st->append_targets = rnd_below(r, 2);
        st->expected_targets = rnd_below(r, 2) ? 0 : rnd_i64(r) & INT64_MAX;
        if (rnd_bad(r))
                st->expected_targets = -1 - (rnd_i64(r) & INT64_MAX);
        st->chunks_applied = rnd_below(r, 2) ? 0 : rnd_u32_int(r);
        st->targets_appended = rnd_below(r, 2) ? 0 : rnd_u32_int(r);
        st->sealed = rnd_below(r, 2);
        st->seal_chunks = rnd_below(r, 2) ? 0 : rnd_u32_int(r);
        st->seal_count = rnd_below(r, 2) ? 0 : rnd_u32_int(r);
        if (rnd_below(r, 2))
                for (int i = 0; i < SR_DIGEST_LEN; i++)
                        st->seal_digest[i] = (uint8_t)rnd(r);
}

static void rnd_targets(rng_t *r, sr_spec_target_t **tp, uint32_t *np)
{
        uint32_t n = rnd_below(r, 4) == 0 ? rnd_below(r, 40) :
                     rnd_below(r, 4);
        sr_spec_target_t *t = n ? calloc(n, sizeof(*t)) : NULL;

        for (uint32_t i = 0; i < n; i++) {
                t[i].target_id = rnd_uuid(r, true);
                t[i].device_id = rnd_uuid(r, true);
                rnd_str(r, t[i].device_name, sizeof(t[i].device_name));
                rnd_str(r, t[i].device_alias, sizeof(t[i].device_alias));
        }
        /* A count without its array. */
        if (rnd_bad(r) && !n)
                n = 1 + rnd_below(r, 3);
        *tp = t;
        *np = n;
}

/* Kind @p which: 0..3 entity types, 4 dedupe, 5 marker, 6 retired run,
 * 7 chunk. */
static void rnd_changelog(rng_t *r, sr_changelog_t *cl, int which)
{
        memset(cl, 0, sizeof(*cl));
        if (which < SR_ENT__COUNT) {
                sr_entity_t *en = &cl->u.entity;

                cl->kind = SR_CL_ENTITY;
                en->type = (sr_entity_type_t)which;
                switch (en->type) {
                case SR_ENT_PIPELINE_RUN:
                        rnd_meta(r, &en->u.pr.m);
                        en->u.pr.pipeline_id = rnd_uuid(r, true);
                        rnd_str(r, en->u.pr.pipeline_name,
                                sizeof(en->u.pr.pipeline_name));
                        rnd_str(r, en->u.pr.enterprise_id,
                                sizeof(en->u.pr.enterprise_id));
                        en->u.pr.run_number = (int32_t)rnd_i64(r);
                        en->u.pr.auto_promote = rnd_below(r, 2);
                        en->u.pr.timeout_seconds = rnd_i64(r);
                        en->u.pr.n_stages = rnd_u32_int(r);
                        en->u.pr.last_seq = (uint64_t)rnd_i64(r) &
                                            (uint64_t)INT64_MAX;
                        if (rnd_bad(r))
                                en->u.pr.last_seq |= (uint64_t)1 << 63;
                        en->u.pr.next_deadline = rnd_i64(r);
                        en->u.pr.spec_hash = rnd(r) >> rnd_below(r, 64);
                        en->u.pr.created_by_command = rnd_uuid(r, true);
                        break;
                case SR_ENT_STAGE_RUN:
                        rnd_stage_run(r, &en->u.sr);
                        break;
                case SR_ENT_STAGE_RUN_OPERATION:
                        en->u.op.id = rnd_uuid(r, true);
                        en->u.op.pipeline_run_id = rnd_uuid(r, true);
                        en->u.op.stage_run_id = rnd_uuid(r, true);
                        en->u.op.stage_index = rnd_u32_int(r);
                        en->u.op.index = rnd_u32_int(r);
                        rnd_str(r, en->u.op.operation_type,
                                sizeof(en->u.op.operation_type));
                        en->u.op.args_json = rnd_heap_str(r, 600, true);
                        en->u.op.created_at = rnd_i64(r);
                        en->u.op.version = rnd_u32(r);
                        break;
                default:
                        rnd_meta(r, &en->u.tr.m);
                        en->u.tr.pipeline_run_id = rnd_uuid(r, true);
                        en->u.tr.stage_run_id = rnd_uuid(r, true);
                        en->u.tr.stage_run_operation_id = rnd_uuid(r, true);
                        en->u.tr.stage_index = rnd_u32_int(r);
                        en->u.tr.op_index = rnd_u32_int(r);
                        en->u.tr.target_index = rnd_u32_int(r);
                        en->u.tr.target_id = rnd_uuid(r, true);
                        en->u.tr.device_id = rnd_uuid(r, true);
                        rnd_str(r, en->u.tr.device_name,
                                sizeof(en->u.tr.device_name));
                        rnd_str(r, en->u.tr.device_alias,
                                sizeof(en->u.tr.device_alias));
                        en->u.tr.command_id = rnd_uuid(r, true);
                        rnd_str(r, en->u.tr.command_status,
                                sizeof(en->u.tr.command_status));
                        en->u.tr.cancel_requested = rnd_below(r, 2);
                        break;
                }
                if (rnd_bad(r))
                        en->type = (sr_entity_type_t)(rnd_below(r, 2) ?
                                   SR_ENT__COUNT : -1);
        } else if (which == SR_ENT__COUNT) {
                cl->kind = SR_CL_DEDUPE;
                cl->u.dedupe.input_id = rnd_uuid(r, true);
                cl->u.dedupe.pipeline_run_id = rnd_uuid(r, true);
                cl->u.dedupe.has_reply = rnd_below(r, 2);
                rnd_reply(r, &cl->u.dedupe.reply);
        } else if (which == SR_ENT__COUNT + 3) {
                cl->kind = SR_CL_CHUNK;
                cl->u.chunk.pipeline_run_id = rnd_uuid(r, true);
                cl->u.chunk.stage_index = rnd_u32_int(r);
                cl->u.chunk.chunk = rnd_u32_int(r);
                for (int i = 0; i < SR_DIGEST_LEN; i++)
                        cl->u.chunk.digest[i] = (uint8_t)rnd(r);
                rnd_targets(r, &cl->u.chunk.targets, &cl->u.chunk.n_targets);
        } else if (which == SR_ENT__COUNT + 2) {
                cl->kind = SR_CL_RETIRED;
                cl->u.retired.pipeline_run_id = rnd_uuid(r, true);
                rnd_str(r, cl->u.retired.enterprise_id,
                        sizeof(cl->u.retired.enterprise_id));
                cl->u.retired.pipeline_id = rnd_uuid(r, true);
                cl->u.retired.ended_at = rnd_i64(r);
                cl->u.retired.retired_at = rnd_i64(r);
                cl->u.retired.forget_at = rnd_i64(r);
        } else {
                cl->kind = SR_CL_MARKER;
                rnd_str(r, cl->u.marker.batch_id,
                        sizeof(cl->u.marker.batch_id));
                cl->u.marker.partition = (int32_t)rnd_i64(r);
                cl->u.marker.commands_offset = rnd_i64(r);
                cl->u.marker.results_offset = rnd_i64(r);
                cl->u.marker.written_at = rnd_i64(r);
        }
        /* An unknown kind: past the last (SR_CL_CHUNK) or negative. The
         * union is then read as nothing. */
        if (cl->kind != SR_CL_ENTITY && cl->kind != SR_CL_CHUNK &&
            rnd_bad(r))
                cl->kind = (sr_cl_kind_t)(rnd_below(r, 2) ? SR_CL_CHUNK + 1 :
                                                            -1);
}

/* Frees what rnd_changelog allocated (also with a count without array). */
static void changelog_free(sr_changelog_t *cl, int which)
{
        if (which == SR_ENT_STAGE_RUN) {
                sr_stage_run_t *st = &cl->u.entity.u.sr;

                for (uint32_t i = 0; st->ops && i < st->n_ops; i++)
                        free(st->ops[i].args_json);
                free(st->ops);
                free(st->targets);
        } else if (which == SR_ENT_STAGE_RUN_OPERATION) {
                free(cl->u.entity.u.op.args_json);
        } else if (which == SR_ENT__COUNT + 3) {
                free(cl->u.chunk.targets);
        }
}

/* How many kinds rnd_changelog() makes: @p which 0 .. CL_KINDS - 1. */
#define CL_KINDS (SR_ENT__COUNT + 4)

/* ------------------------------------------------------------ comparing */

typedef struct tally {
        int ok, failed;
} tally_t;

typedef sr_err_t (*enc_fn)(sr_codec_t *, const void *, sr_buf_t *,
                           sr_errctx_t *);

static sr_err_t fast_event(sr_codec_t *c, const void *v, sr_buf_t *out,
                           sr_errctx_t *ec)
{
        return sr_codec_encode_event(c, v, out, ec);
}

static sr_err_t avro_event(sr_codec_t *c, const void *v, sr_buf_t *out,
                           sr_errctx_t *ec)
{
        return sr_codec__encode_event_avro(c, v, out, ec);
}

static sr_err_t fast_cl(sr_codec_t *c, const void *v, sr_buf_t *out,
                        sr_errctx_t *ec)
{
        return sr_codec_encode_changelog(c, v, out, ec);
}

static sr_err_t avro_cl(sr_codec_t *c, const void *v, sr_buf_t *out,
                        sr_errctx_t *ec)
{
        return sr_codec__encode_changelog_avro(c, v, out, ec);
}

/* Both encoders on @p rec: the same bytes, or the same code and message. */
static void assert_same_outcome(enc_fn fast, enc_fn slow, const void *rec,
                                const char *what, int i, tally_t *t)
{
        sr_errctx_t ecf = { 0 }, ecs = { 0 };
        sr_buf_t bf = { 0 }, bs = { 0 };
        sr_err_t ef, es;

        es = slow(codec, rec, &bs, &ecs);
        ef = fast(codec, rec, &bf, &ecf);
        cr_assert(eq(int, ef, es), "%s #%d: fast %s (%s), avro-c %s (%s)",
                  what, i, sr_err_name(ef), ecf.msg, sr_err_name(es),
                  ecs.msg);
        if (es == SR_OK) {
                cr_assert(eq(sz, bf.len, bs.len), "%s #%d: length", what, i);
                cr_assert(eq(int, memcmp(bf.ptr, bs.ptr, bs.len), 0),
                          "%s #%d: bytes differ", what, i);
                t->ok++;
        } else {
                cr_assert(eq(str, ecf.msg, ecs.msg), "%s #%d", what, i);
                cr_assert(eq(ptr, bf.ptr, NULL), "out written on failure");
                t->failed++;
        }
        sr_buf_free(&bf);
        sr_buf_free(&bs);
}

/* ------------------------------------------------------------ writer */

/* avro-c's own bytes for one value of a primitive schema. */
static size_t avro_c_bytes(avro_schema_t sc, void (*set)(avro_value_t *,
                           const void *), const void *arg, uint8_t *dst,
                           size_t cap)
{
        avro_value_iface_t *iface = avro_generic_class_from_schema(sc);
        avro_writer_t w = avro_writer_memory((const char *)dst, (int64_t)cap);
        avro_value_t v;
        size_t n;

        cr_assert(not(eq(ptr, iface, NULL)));
        cr_assert(eq(int, avro_generic_value_new(iface, &v), 0));
        set(&v, arg);
        cr_assert(eq(int, avro_value_write(w, &v), 0), "%s",
                  avro_strerror());
        n = (size_t)avro_writer_tell(w);
        avro_writer_free(w);
        avro_value_decref(&v);
        avro_value_iface_decref(iface);
        return n;
}

static void set_long(avro_value_t *v, const void *arg)
{
        cr_assert(eq(int, avro_value_set_long(v, *(const int64_t *)arg), 0));
}

static void set_int(avro_value_t *v, const void *arg)
{
        cr_assert(eq(int, avro_value_set_int(v, *(const int32_t *)arg), 0));
}

static void set_double(avro_value_t *v, const void *arg)
{
        cr_assert(eq(int, avro_value_set_double(v, *(const double *)arg),
                     0));
}

static void set_string(avro_value_t *v, const void *arg)
{
        const char *s = arg;

        cr_assert(eq(int, avro_value_set_string_len(v, s, strlen(s) + 1),
                     0));
}

static void set_boolean(avro_value_t *v, const void *arg)
{
        cr_assert(eq(int, avro_value_set_boolean(v, *(const int *)arg), 0));
}

#define assert_writer_bytes(e, want, n)                                 \
        do {                                                            \
                cr_assert(eq(sz, (e)->ae_len, (n)));                    \
                cr_assert(eq(int, memcmp((e)->ae_ptr, (want), (n)), 0)); \
        } while (0)

Test(sr_codec_fast, writer_long_and_int_match_avro_c_zigzag_varints)
{
        avro_schema_t sl = avro_schema_long(), si = avro_schema_int();
        rng_t r = { .s = 0x5eed0001 };
        uint8_t want[16];
        sr_avro_enc_t e;
        size_t n;

        sr_avro_enc_init(&e, NULL, 0);
        for (int i = 0; i < 20000; i++) {
                int64_t v = rnd_i64(&r);
                int32_t v32 = (int32_t)v;

                sr_avro_enc_reset(&e);
                sr_avro_put_long(&e, v);
                n = avro_c_bytes(sl, set_long, &v, want, sizeof(want));
                assert_writer_bytes(&e, want, n);
                sr_avro_enc_reset(&e);
                sr_avro_put_int(&e, v32);
                n = avro_c_bytes(si, set_int, &v32, want, sizeof(want));
                assert_writer_bytes(&e, want, n);
        }
        sr_avro_enc_fini(&e);
        avro_schema_decref(sl);
        avro_schema_decref(si);
}

Test(sr_codec_fast, writer_known_long_encodings)
{
        static const struct {
                int64_t v;
                uint8_t b[10];
                size_t n;
        } cases[] = {
                { 0, { 0x00 }, 1 },
                { -1, { 0x01 }, 1 },
                { 1, { 0x02 }, 1 },
                { -64, { 0x7f }, 1 },
                { 64, { 0x80, 0x01 }, 2 },
                { INT64_MAX, { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                               0xff, 0xff, 0x01 }, 10 },
                { INT64_MIN, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                               0xff, 0xff, 0x01 }, 10 },
        };
        sr_avro_enc_t e;

        sr_avro_enc_init(&e, NULL, 0);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                sr_avro_enc_reset(&e);
                sr_avro_put_long(&e, cases[i].v);
                assert_writer_bytes(&e, cases[i].b, cases[i].n);
        }
        sr_avro_enc_fini(&e);
}

Test(sr_codec_fast, writer_double_string_bool_match_avro_c)
{
        static const double dv[] = { 0.0, -0.0, 1.5, -3.25e300, 1e-310 };
        static const char *const sv[] = { "", "a", "hello, world",
                "\x7f\x80\xff" };
        avro_schema_t sd = avro_schema_double(), ss = avro_schema_string(),
                      sb = avro_schema_boolean();
        uint8_t want[64];
        sr_avro_enc_t e;
        size_t n;

        sr_avro_enc_init(&e, NULL, 0);
        for (size_t i = 0; i < sizeof(dv) / sizeof(dv[0]); i++) {
                sr_avro_enc_reset(&e);
                sr_avro_put_double(&e, dv[i]);
                n = avro_c_bytes(sd, set_double, &dv[i], want, sizeof(want));
                assert_writer_bytes(&e, want, n);
        }
        for (size_t i = 0; i < sizeof(sv) / sizeof(sv[0]); i++) {
                sr_avro_enc_reset(&e);
                sr_avro_put_string(&e, sv[i], strlen(sv[i]));
                n = avro_c_bytes(ss, set_string, sv[i], want, sizeof(want));
                assert_writer_bytes(&e, want, n);
        }
        for (int b = 0; b < 2; b++) {
                sr_avro_enc_reset(&e);
                sr_avro_put_bool(&e, b);
                n = avro_c_bytes(sb, set_boolean, &b, want, sizeof(want));
                assert_writer_bytes(&e, want, n);
        }
        sr_avro_enc_fini(&e);
        avro_schema_decref(sd);
        avro_schema_decref(ss);
        avro_schema_decref(sb);
}

Test(sr_codec_fast, writer_uuid_is_the_sr_uuid_fmt_text_as_a_string)
{
        rng_t r = { .s = 0x5eed0002 };
        char text[SR_UUID_STR_LEN + 1];
        sr_avro_enc_t e;

        sr_avro_enc_init(&e, NULL, 0);
        for (int i = 0; i < 1000; i++) {
                sr_uuid_t u = rnd_uuid(&r, true);

                sr_avro_enc_reset(&e);
                sr_avro_put_uuid(&e, &u);
                sr_uuid_fmt(&u, text);
                cr_assert(eq(sz, e.ae_len, 1 + SR_UUID_STR_LEN));
                cr_assert(eq(u8, e.ae_ptr[0], 2 * SR_UUID_STR_LEN));
                cr_assert(eq(int, memcmp(e.ae_ptr + 1, text,
                                         SR_UUID_STR_LEN), 0));
        }
        sr_avro_enc_fini(&e);
}

Test(sr_codec_fast, writer_grows_out_of_caller_storage_keeping_the_bytes)
{
        uint8_t stack[7], want[5000];
        sr_errctx_t ec = { 0 };
        sr_buf_t out = { 0 };
        sr_avro_enc_t e;

        for (size_t i = 0; i < sizeof(want); i++)
                want[i] = (uint8_t)(i * 7);
        sr_avro_enc_init(&e, stack, sizeof(stack));
        sr_avro_put_confluent_header(&e, 0x01020304);
        cr_assert(eq(ptr, e.ae_ptr, stack));
        for (size_t i = 0; i < sizeof(want); i++)
                sr_avro_put_raw(&e, &want[i], 1);
        cr_assert(not(eq(ptr, e.ae_ptr, stack)));
        cr_assert(eq(int, sr_avro_enc_take(&e, &out, &ec), SR_OK));
        sr_avro_enc_fini(&e);
        cr_assert(eq(sz, out.len, 5 + sizeof(want)));
        cr_assert(eq(int, memcmp(out.ptr, "\x00\x01\x02\x03\x04", 5), 0));
        cr_assert(eq(int, memcmp((uint8_t *)out.ptr + 5, want, sizeof(want)),
                     0));
        sr_buf_free(&out);
}

/* ------------------------------------------------------------ events */

Test(sr_codec_fast, valid_random_events_are_byte_identical_to_avro_c)
{
        rng_t r = { .s = 0x5eed0010 };
        tally_t t = { 0 };
        sr_event_t ev;

        for (int i = 0; i < 5000; i++) {
                rnd_event(&r, &ev);
                assert_same_outcome(fast_event, avro_event, &ev, "event", i,
                                    &t);
        }
        cr_assert(eq(int, t.failed, 0));
}

Test(sr_codec_fast, events_with_invalid_fields_fail_like_avro_c)
{
        rng_t r = { .s = 0x5eed0011, .bad_per_256 = 12 };
        tally_t t = { 0 };
        sr_event_t ev;

        for (int i = 0; i < 5000; i++) {
                rnd_event(&r, &ev);
                assert_same_outcome(fast_event, avro_event, &ev, "event", i,
                                    &t);
        }
        /* Both outcomes were exercised, many times. */
        cr_assert(gt(int, t.ok, 500), "ok %d", t.ok);
        cr_assert(gt(int, t.failed, 500), "failed %d", t.failed);
}

Test(sr_codec_fast, every_status_pair_and_entity_type_is_byte_identical)
{
        rng_t r = { .s = 0x5eed0012 };
        tally_t t = { 0 };
        sr_event_t ev;

        for (int from = -1; from <= SR_ST__COUNT; from++)
                for (int to = -1; to <= SR_ST__COUNT; to++)
                        for (int ty = -1; ty <= SR_ENT__COUNT; ty++) {
                                rnd_event(&r, &ev);
                                ev.from_status = (sr_status_t)from;
                                ev.to_status = (sr_status_t)to;
                                ev.entity_type = (sr_entity_type_t)ty;
                                assert_same_outcome(fast_event, avro_event,
                                                    &ev, "event", from, &t);
                        }
        /* from in 0..12, to in 1..12, type in 0..3 succeed */
        cr_assert(eq(int, t.ok, SR_ST__COUNT * (SR_ST__COUNT - 1) *
                                SR_ENT__COUNT));
}

Test(sr_codec_fast, event_round_trips_through_the_avro_c_decoder)
{
        rng_t r = { .s = 0x5eed0013 };
        sr_errctx_t ec = { 0 };
        sr_buf_t a = { 0 }, b = { 0 };
        sr_event_t ev, got;

        for (int i = 0; i < 2000; i++) {
                rnd_event(&r, &ev);
                cr_assert(eq(int, sr_codec_encode_event(codec, &ev, &a, &ec),
                             SR_OK), "%s", ec.msg);
                cr_assert(eq(int, sr_codec_decode_event(codec,
                                  sr_buf_slice(&a), &got, &ec), SR_OK),
                          "#%d: %s", i, ec.msg);
                cr_assert(sr_uuid_eq(&got.event_id, &ev.event_id));
                cr_assert(eq(u64, got.seq, ev.seq));
                cr_assert(eq(int, (int)got.to_status, (int)ev.to_status));
                cr_assert(eq(str, got.reason, ev.reason));
                cr_assert(eq(i64, got.occurred_at, ev.occurred_at));
                cr_assert(eq(u32, got.version, ev.version));
                /* Everything else: re-encoding the decoded event gives the
                 * same bytes (the encoding is injective on the fields). */
                cr_assert(eq(int, sr_codec_encode_event(codec, &got, &b,
                                                        &ec), SR_OK));
                cr_assert(eq(sz, a.len, b.len));
                cr_assert(eq(int, memcmp(a.ptr, b.ptr, a.len), 0));
                sr_buf_free(&a);
                sr_buf_free(&b);
        }
}

/* ------------------------------------------------------------ changelog */

static void changelog_differential(uint64_t seed, unsigned bad, int which,
                                   int n, tally_t *t)
{
        rng_t r = { .s = seed, .bad_per_256 = bad };
        sr_changelog_t cl;
        char what[64];

        snprintf(what, sizeof(what), "changelog kind %d seed %" PRIx64,
                 which, seed);
        for (int i = 0; i < n; i++) {
                rnd_changelog(&r, &cl, which);
                assert_same_outcome(fast_cl, avro_cl, &cl, what, i, t);
                changelog_free(&cl, which);
        }
}

Test(sr_codec_fast, valid_changelog_records_of_every_kind_are_byte_identical)
{
        for (int which = 0; which < CL_KINDS; which++) {
                tally_t t = { 0 };

                changelog_differential(0x5eed0100 + (uint64_t)which, 0,
                                       which, 2000, &t);
                cr_assert(eq(int, t.failed, 0), "kind %d", which);
        }
}

Test(sr_codec_fast, changelog_records_with_invalid_fields_fail_like_avro_c)
{
        for (int which = 0; which < CL_KINDS; which++) {
                tally_t t = { 0 };

                changelog_differential(0x5eed0200 + (uint64_t)which, 16,
                                       which, 2000, &t);
                cr_assert(gt(int, t.ok, 100), "kind %d: ok %d", which, t.ok);
                cr_assert(gt(int, t.failed, 100), "kind %d: failed %d",
                          which, t.failed);
        }
}

Test(sr_codec_fast, unknown_changelog_kind_and_entity_type_fail_like_avro_c)
{
        static const int kinds[] = { -1, SR_CL_CHUNK + 1, 99 },
                         types[] = { -1, 4, 99 };
        tally_t t = { 0 };
        sr_changelog_t cl;

        memset(&cl, 0, sizeof(cl));
        for (size_t i = 0; i < 3; i++) {
                cl.kind = (sr_cl_kind_t)kinds[i];
                assert_same_outcome(fast_cl, avro_cl, &cl, "kind", (int)i,
                                    &t);
                cl.kind = SR_CL_ENTITY;
                cl.u.entity.type = (sr_entity_type_t)types[i];
                assert_same_outcome(fast_cl, avro_cl, &cl, "type", (int)i,
                                    &t);
        }
        cr_assert(eq(int, t.failed, 6));
}

Test(sr_codec_fast, big_stage_run_grows_past_stack_storage_identically)
{
        rng_t r = { .s = 0x5eed0300 };
        sr_changelog_t cl;
        sr_stage_run_t *st;
        tally_t t = { 0 };

        rnd_changelog(&r, &cl, SR_ENT_STAGE_RUN);
        changelog_free(&cl, SR_ENT_STAGE_RUN);
        st = &cl.u.entity.u.sr;
        st->n_ops = 50;
        st->ops = calloc(st->n_ops, sizeof(*st->ops));
        for (uint32_t i = 0; i < st->n_ops; i++) {
                memset(st->ops[i].operation_type, 'o', SR_SHORT_MAX - 1);
                st->ops[i].args_json = rnd_heap_str(&r, 5000, false);
        }
        st->n_targets = 1000;
        st->targets = calloc(st->n_targets, sizeof(*st->targets));
        for (uint32_t i = 0; i < st->n_targets; i++) {
                st->targets[i].device_id = rnd_uuid(&r, false);
                memset(st->targets[i].device_name, 'n', SR_NAME_MAX - 1);
                memset(st->targets[i].device_alias, 'a', SR_NAME_MAX - 1);
        }
        assert_same_outcome(fast_cl, avro_cl, &cl, "big stage run", 0, &t);
        cr_assert(eq(int, t.ok, 1));
        changelog_free(&cl, SR_ENT_STAGE_RUN);
}

Test(sr_codec_fast, changelog_round_trips_through_the_avro_c_decoder)
{
        for (int which = 0; which < CL_KINDS; which++) {
                rng_t r = { .s = 0x5eed0400 + (uint64_t)which };
                sr_errctx_t ec = { 0 };
                sr_buf_t a = { 0 }, b = { 0 };
                sr_changelog_t cl, got;

                for (int i = 0; i < 500; i++) {
                        rnd_changelog(&r, &cl, which);
                        cr_assert(eq(int, sr_codec_encode_changelog(codec,
                                          &cl, &a, &ec), SR_OK), "%s",
                                  ec.msg);
                        cr_assert(eq(int, sr_codec_decode_changelog(codec,
                                          sr_buf_slice(&a), &got, &ec),
                                     SR_OK), "kind %d #%d: %s", which, i,
                                  ec.msg);
                        cr_assert(eq(int, (int)got.kind, (int)cl.kind));
                        if (got.kind == SR_CL_ENTITY)
                                cr_assert(eq(int, (int)got.u.entity.type,
                                             (int)cl.u.entity.type));
                        /* The rest: the decoded record encodes to the same
                         * bytes (the encoding is injective on the fields). */
                        cr_assert(eq(int, sr_codec_encode_changelog(codec,
                                          &got, &b, &ec), SR_OK), "%s",
                                  ec.msg);
                        cr_assert(eq(sz, a.len, b.len));
                        cr_assert(eq(int, memcmp(a.ptr, b.ptr, a.len), 0),
                                  "kind %d #%d", which, i);
                        if (got.kind == SR_CL_ENTITY)
                                sr_entity_fini(&got.u.entity);
                        else if (got.kind == SR_CL_CHUNK)
                                sr_stage_chunk_fini(&got.u.chunk);
                        changelog_free(&cl, which);
                        sr_buf_free(&a);
                        sr_buf_free(&b);
                }
        }
}

Test(sr_codec_fast, fast_encoders_write_the_confluent_header)
{
        rng_t r = { .s = 0x5eed0500 };
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_changelog_t cl;
        sr_event_t ev;
        int32_t id = 0;

        rnd_event(&r, &ev);
        cr_assert(eq(int, sr_codec_encode_event(codec, &ev, &buf, &ec),
                     SR_OK));
        cr_assert(eq(int, sr_codec_peek_schema_id(sr_buf_slice(&buf), &id,
                                                  &ec), SR_OK));
        cr_assert(eq(i32, id, SR_SCHEMA_EVENT));
        sr_buf_free(&buf);
        rnd_changelog(&r, &cl, SR_ENT__COUNT + 1); /* a marker */
        cr_assert(eq(int, sr_codec_encode_changelog(codec, &cl, &buf, &ec),
                     SR_OK));
        cr_assert(eq(int, sr_codec_peek_schema_id(sr_buf_slice(&buf), &id,
                                                  &ec), SR_OK));
        cr_assert(eq(i32, id, 4)); /* changelog version 1 carries it */
        sr_buf_free(&buf);
        rnd_changelog(&r, &cl, SR_ENT__COUNT + 3); /* a chunk */
        cr_assert(eq(int, sr_codec_encode_changelog(codec, &cl, &buf, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(int, sr_codec_peek_schema_id(sr_buf_slice(&buf), &id,
                                                  &ec), SR_OK));
        cr_assert(eq(i32, id, 8)); /* version 2 only */
        sr_buf_free(&buf);
        changelog_free(&cl, SR_ENT__COUNT + 3);
}

/* The version each encoder picks is the same on every record (the bytes
 * being equal include the header): closed stage runs version 1, open ones
 * version 2, and both come out of the random stage runs many times. */
Test(sr_codec_fast, random_stage_runs_are_written_in_both_versions)
{
        rng_t r = { .s = 0x5eed0600 };
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_changelog_t cl;
        int per_id[9] = { 0 }, id;

        for (int i = 0; i < 1000; i++) {
                rnd_changelog(&r, &cl, SR_ENT_STAGE_RUN);
                cr_assert(eq(int, sr_codec_encode_changelog(codec, &cl, &buf,
                                                            &ec), SR_OK),
                          "#%d: %s", i, ec.msg);
                id = ((uint8_t *)buf.ptr)[4];
                cr_assert(id == 4 || id == 8, "#%d: id %d", i, id);
                per_id[id]++;
                sr_buf_free(&buf);
                changelog_free(&cl, SR_ENT_STAGE_RUN);
        }
        cr_assert(gt(int, per_id[4], 300), "version 1: %d", per_id[4]);
        cr_assert(gt(int, per_id[8], 300), "version 2: %d", per_id[8]);
}

/* ------------------------------------------------------------ results */

/* The hand-written result reader runs first and leaves every input it does
 * not accept to the avro-c path; these tests check that whatever it
 * accepts, the avro-c path accepts with the same result, and that it does
 * accept the canonical encodings (else it would be no faster). */

static const char *const cmdst_names[] = {
        "QUEUED", "INITIATED", "ACKNOWLEDGED", "INPROGRESS", "SUCCESS",
        "FAILED", "FAILURE", "TIMEOUT", "CANCELLED", "ERROR",
};

/* Random case of @p s into dst. */
static void rnd_case(rng_t *r, char *dst, const char *s)
{
        size_t i;

        for (i = 0; s[i]; i++)
                dst[i] = (char)(rnd_below(r, 2) ? s[i] | 0x20 : s[i]);
        dst[i] = '\0';
}

/* One string field's text: valid most of the time, else one of the ways
 * result_from refuses it. Returns the length; @p dst holds 512 bytes. */
static size_t rnd_uuid_text(rng_t *r, char *dst, bool *canonical)
{
        sr_uuid_t u = rnd_uuid(r, true);
        size_t len = SR_UUID_STR_LEN;

        sr_uuid_fmt(&u, dst);
        if (rnd_below(r, 4) == 0) /* any case is valid */
                rnd_case(r, dst, dst);
        if (rnd_bad(r)) {
                *canonical = false;
                switch (rnd_below(r, 4)) {
                case 0:
                        len = rnd_below(r, SR_UUID_STR_LEN + 3);
                        break;
                case 1:
                        dst[rnd_below(r, SR_UUID_STR_LEN)] = 'g';
                        break;
                case 2:
                        dst[rnd_below(r, SR_UUID_STR_LEN)] = '\0';
                        break;
                default:
                        dst[8] = 'a';
                        break;
                }
        }
        return len;
}

static size_t rnd_status_text(rng_t *r, char *dst, bool *canonical)
{
        size_t len;

        rnd_case(r, dst, cmdst_names[rnd_below(r, 10)]);
        len = strlen(dst);
        if (rnd_bad(r)) {
                *canonical = false;
                switch (rnd_below(r, 4)) {
                case 0: /* unknown status */
                        strcpy(dst, rnd_below(r, 2) ? "DONE" : "");
                        len = strlen(dst);
                        break;
                case 1: /* NUL inside */
                        dst[len++] = '\0';
                        break;
                default: /* longer than the C buffer (or just fits) */
                        len = SR_SHORT_MAX - 2 + rnd_below(r, 4);
                        memset(dst, 'S', len);
                        break;
                }
        }
        return len;
}

static size_t rnd_name_text(rng_t *r, char *dst, bool *canonical)
{
        size_t len = rnd_below(r, 3) ? rnd_below(r, 40) : SR_NAME_MAX - 1;

        for (size_t i = 0; i < len; i++)
                dst[i] = (char)(1 + rnd_below(r, 255));
        if (rnd_bad(r)) {
                *canonical = false;
                if (rnd_below(r, 2) && len) {
                        dst[rnd_below(r, (uint32_t)len)] = '\0';
                } else {
                        len = SR_NAME_MAX + rnd_below(r, 3) - 1;
                        memset(dst, 'n', len);
                }
        }
        return len;
}

/* A long, sometimes in a longer (non-canonical) form avro-c also reads. */
static void put_any_long(rng_t *r, sr_avro_enc_t *e, int64_t v,
                         bool *canonical)
{
        size_t at = e->ae_len;

        sr_avro_put_long(e, v);
        if (rnd_bad(r) && e->ae_len - at < SR_AVRO_MAX_VARINT) {
                e->ae_ptr[e->ae_len - 1] |= 0x80;
                sr_avro_put_raw(e, "\0", 1);
                *canonical = false;
        }
}

static void put_text(rng_t *r, sr_avro_enc_t *e, const char *s, size_t len,
                     bool *canonical)
{
        put_any_long(r, e, (int64_t)len, canonical);
        sr_avro_put_raw(e, s, len);
}

/* A framed result body; *canonical: one the fast reader must accept. */
static void rnd_result_body(rng_t *r, sr_avro_enc_t *e, bool *canonical)
{
        char text[512];
        size_t len;

        *canonical = true;
        sr_avro_enc_reset(e);
        sr_avro_put_confluent_header(e, SR_SCHEMA_RESULT);
        for (int i = 0; i < 5; i++) {
                len = rnd_uuid_text(r, text, canonical);
                put_text(r, e, text, len, canonical);
        }
        len = rnd_status_text(r, text, canonical);
        put_text(r, e, text, len, canonical);
        len = rnd_uuid_text(r, text, canonical);
        put_text(r, e, text, len, canonical);
        len = rnd_name_text(r, text, canonical);
        put_text(r, e, text, len, canonical);
        put_any_long(r, e, rnd_i64(r), canonical);
}

/* Byte-level damage: flips, truncation, trailing bytes, a bad header. */
static void damage(rng_t *r, sr_avro_enc_t *e)
{
        switch (rnd_below(r, 5)) {
        case 0:
                e->ae_ptr[rnd_below(r, (uint32_t)e->ae_len)] ^=
                        (uint8_t)(1u << rnd_below(r, 8));
                break;
        case 1:
                e->ae_ptr[SR_CODEC_HEADER +
                          rnd_below(r, (uint32_t)e->ae_len -
                                       SR_CODEC_HEADER)] = (uint8_t)rnd(r);
                break;
        case 2:
                e->ae_len = rnd_below(r, (uint32_t)e->ae_len);
                break;
        case 3:
                for (uint32_t i = 1 + rnd_below(r, 3); i; i--)
                        sr_avro_put_raw(e, &(uint8_t){ (uint8_t)rnd(r) }, 1);
                break;
        default:
                e->ae_ptr[rnd_below(r, SR_CODEC_HEADER)] = (uint8_t)rnd(r);
                break;
        }
}

/* The public decoder (fast reader first) and the avro-c one agree. */
static void assert_same_decode(sr_slice_t in, int i, bool *fast_took)
{
        sr_errctx_t ecf = { 0 }, ecs = { 0 };
        sr_result_t rf, rs, probe;
        sr_err_t ef, es;

        memset(&rf, 0xa5, sizeof(rf));
        memset(&rs, 0xa5, sizeof(rs));
        es = sr_codec__decode_result_avro(codec, in, &rs, &ecs);
        ef = sr_codec_decode_result(codec, in, &rf, &ecf);
        *fast_took = sr_codec__decode_result_fast(in, SR_SCHEMA_RESULT, &probe);
        cr_assert(eq(int, ef, es), "#%d: fast %s (%s), avro-c %s (%s)", i,
                  sr_err_name(ef), ecf.msg, sr_err_name(es), ecs.msg);
        if (*fast_took)
                cr_assert(eq(int, es, SR_OK),
                          "#%d: fast reader took what avro-c refuses: %s",
                          i, ecs.msg);
        /* On failure both left *out alone (0xa5 bytes). */
        cr_assert(eq(int, memcmp(&rf, &rs, sizeof(rf)), 0), "#%d result", i);
        if (es == SR_OK && *fast_took)
                cr_assert(eq(int, memcmp(&probe, &rs, sizeof(rs)), 0));
        if (es != SR_OK)
                cr_assert(eq(str, ecf.msg, ecs.msg), "#%d", i);
}

Test(sr_codec_fast, canonical_results_are_read_by_the_fast_reader_like_avro_c)
{
        rng_t r = { .s = 0x5eed0600 };
        sr_avro_enc_t e;
        bool canonical, took;

        sr_avro_enc_init(&e, NULL, 0);
        for (int i = 0; i < 5000; i++) {
                rnd_result_body(&r, &e, &canonical);
                cr_assert(canonical);
                assert_same_decode(sr_slice(e.ae_ptr, e.ae_len), i, &took);
                cr_assert(took, "#%d: fast reader declined a canonical "
                          "result", i);
        }
        sr_avro_enc_fini(&e);
}

Test(sr_codec_fast, encoded_results_decode_fast_to_the_same_struct)
{
        rng_t r = { .s = 0x5eed0601 };
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_result_t res, got;

        for (int i = 0; i < 2000; i++) {
                memset(&res, 0, sizeof(res));
                res.result_id = rnd_uuid(&r, true);
                res.pipeline_run_id = rnd_uuid(&r, true);
                res.stage_run_id = rnd_uuid(&r, true);
                res.target_run_id = rnd_uuid(&r, true);
                res.command_id = rnd_uuid(&r, true);
                rnd_case(&r, res.command_status, cmdst_names[i % 10]);
                res.device_id = rnd_uuid(&r, true);
                rnd_str(&r, res.device_name, sizeof(res.device_name));
                res.reported_at = rnd_i64(&r);
                cr_assert(eq(int, sr_codec_encode_result(codec, &res, &buf,
                                                         &ec), SR_OK));
                memset(&got, 0xa5, sizeof(got));
                cr_assert(sr_codec__decode_result_fast(sr_buf_slice(&buf), SR_SCHEMA_RESULT,
                                                       &got), "#%d", i);
                cr_assert(eq(int, memcmp(&got, &res, sizeof(res)), 0));
                sr_buf_free(&buf);
        }
}

Test(sr_codec_fast, invalid_or_damaged_results_decode_exactly_like_avro_c)
{
        rng_t r = { .s = 0x5eed0602, .bad_per_256 = 10 };
        int took_n = 0, declined = 0;
        sr_avro_enc_t e;
        bool canonical, took;

        sr_avro_enc_init(&e, NULL, 0);
        for (int i = 0; i < 20000; i++) {
                rnd_result_body(&r, &e, &canonical);
                if (rnd_below(&r, 3) == 0)
                        damage(&r, &e);
                assert_same_decode(sr_slice(e.ae_ptr, e.ae_len), i, &took);
                took_n += took;
                declined += !took;
        }
        sr_avro_enc_fini(&e);
        /* Both sides of the reader were exercised, many times. */
        cr_assert(gt(int, took_n, 1000), "fast reader took %d", took_n);
        cr_assert(gt(int, declined, 1000), "declined %d", declined);
}

Test(sr_codec_fast, result_reader_leaves_noncanonical_varints_to_avro_c)
{
        static const struct {
                const char *bytes;
                size_t n;
                int64_t want;
        } tails[] = {
                { "\x80\x00", 2, 0 },         /* 0, overlong */
                { "\x82\x80\x00", 3, 1 },     /* 1, overlong */
                /* 10 bytes, the last above 1: avro-c drops its high bits */
                { "\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 10,
                  INT64_MAX },
        };
        sr_errctx_t ec = { 0 };
        sr_uuid_t u = { { 1, 2, 3 } };
        sr_result_t got;
        sr_avro_enc_t e;
        bool took;

        sr_avro_enc_init(&e, NULL, 0);
        for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
                sr_avro_enc_reset(&e);
                sr_avro_put_confluent_header(&e, SR_SCHEMA_RESULT);
                for (int k = 0; k < 5; k++)
                        sr_avro_put_uuid(&e, &u);
                sr_avro_put_string(&e, "SUCCESS", 7);
                sr_avro_put_uuid(&e, &u);
                sr_avro_put_string(&e, "dev", 3);
                sr_avro_put_raw(&e, tails[i].bytes, tails[i].n);
                cr_assert(not(sr_codec__decode_result_fast(
                        sr_slice(e.ae_ptr, e.ae_len), SR_SCHEMA_RESULT, &got)),
                          "tail %zu", i);
                assert_same_decode(sr_slice(e.ae_ptr, e.ae_len), (int)i,
                                   &took);
                cr_assert(eq(int, sr_codec_decode_result(codec,
                                  sr_slice(e.ae_ptr, e.ae_len), &got, &ec),
                             SR_OK), "%s", ec.msg);
                cr_assert(eq(i64, got.reported_at, tails[i].want));
        }
        sr_avro_enc_fini(&e);
}

/* ------------------------------------------------------------ target runs
 * A paged run reads its target runs back one by one (docs/targets.md
 * section 6), so sr_codec_decode_changelog() reads a target run's record
 * without avro-c when it can: for every record it takes, the avro-c path
 * gives the same target run; for anything else (damaged, another kind)
 * the outcome is the avro-c path's, error message included. */

static void assert_same_changelog(sr_slice_t in, int i, int *took)
{
        sr_errctx_t ecf = { 0 }, ecs = { 0 };
        sr_changelog_t cf, cs;
        sr_buf_t a = { 0 }, b = { 0 };
        sr_err_t ef, es;
        int32_t ids[2] = { codec->ids.older[SR_OLDER_CHANGELOG_V1],
                           codec->ids.older[SR_OLDER_CHANGELOG_V2] };
        sr_target_run_t probe;

        es = sr_codec__decode_changelog_avro(codec, in, &cs, &ecs);
        ef = sr_codec_decode_changelog(codec, in, &cf, &ecf);
        cr_assert(eq(int, ef, es), "#%d: public %s (%s), avro-c %s (%s)", i,
                  sr_err_name(ef), ecf.msg, sr_err_name(es), ecs.msg);
        if (sr_codec__decode_target_run_fast(in, ids, 2, &probe)) {
                (*took)++;
                cr_assert(eq(int, es, SR_OK),
                          "#%d: fast reader took what avro-c refuses: %s",
                          i, ecs.msg);
                cr_assert(eq(int, (int)cs.kind, (int)SR_CL_ENTITY));
                cr_assert(eq(int, (int)cs.u.entity.type,
                             (int)SR_ENT_TARGET_RUN));
        }
        if (es != SR_OK) {
                cr_assert(eq(str, ecf.msg, ecs.msg), "#%d", i);
                return;
        }
        /* the same record: re-encoded, the same bytes (injective) */
        cr_assert(eq(int, (int)cf.kind, (int)cs.kind), "#%d", i);
        cr_assert(eq(int, sr_codec_encode_changelog(codec, &cf, &a, &ecf),
                     SR_OK), "#%d: %s", i, ecf.msg);
        cr_assert(eq(int, sr_codec_encode_changelog(codec, &cs, &b, &ecs),
                     SR_OK), "#%d: %s", i, ecs.msg);
        cr_assert(eq(sz, a.len, b.len), "#%d", i);
        cr_assert(eq(int, memcmp(a.ptr, b.ptr, a.len), 0), "#%d", i);
        sr_buf_free(&a);
        sr_buf_free(&b);
        sr_changelog_fini(&cf);
        sr_changelog_fini(&cs);
}

Test(sr_codec_fast, target_run_records_are_read_without_avro_c_like_avro_c)
{
        rng_t r = { .s = 0x5eed0700 };
        sr_errctx_t ec = { 0 };
        sr_changelog_t cl;
        sr_buf_t buf = { 0 };
        int took = 0;

        for (int i = 0; i < 5000; i++) {
                rnd_changelog(&r, &cl, SR_ENT_TARGET_RUN);
                cr_assert(eq(int, sr_codec_encode_changelog(codec, &cl, &buf,
                                                            &ec), SR_OK),
                          "#%d: %s", i, ec.msg);
                assert_same_changelog(sr_buf_slice(&buf), i, &took);
                changelog_free(&cl, SR_ENT_TARGET_RUN);
                sr_buf_free(&buf);
        }
        /* every valid target run's record is taken by the fast reader */
        cr_assert(eq(int, took, 5000), "fast reader took %d", took);
}

Test(sr_codec_fast, damaged_target_run_records_decode_exactly_like_avro_c)
{
        rng_t r = { .s = 0x5eed0701, .bad_per_256 = 10 };
        sr_errctx_t ec = { 0 };
        sr_changelog_t cl;
        sr_buf_t buf = { 0 };
        sr_avro_enc_t e;
        int took = 0, n = 0;

        sr_avro_enc_init(&e, NULL, 0);
        for (int i = 0; i < 20000; i++) {
                /* mostly target runs, some records of other kinds */
                int which = rnd_below(&r, 4) ? SR_ENT_TARGET_RUN :
                                               (int)rnd_below(&r,
                                                              SR_ENT__COUNT);

                rnd_changelog(&r, &cl, which);
                if (sr_codec_encode_changelog(codec, &cl, &buf, &ec) !=
                    SR_OK) {
                        changelog_free(&cl, which);
                        continue; /* a field the writers refuse */
                }
                e.ae_len = 0;
                sr_avro_put_raw(&e, buf.ptr, buf.len);
                if (rnd_below(&r, 2))
                        damage(&r, &e);
                assert_same_changelog(sr_slice(e.ae_ptr, e.ae_len), i,
                                      &took);
                n++;
                changelog_free(&cl, which);
                sr_buf_free(&buf);
        }
        sr_avro_enc_fini(&e);
        cr_assert(gt(int, took, 2000), "fast reader took %d of %d", took, n);
        cr_assert(gt(int, n - took, 2000), "declined %d of %d", n - took, n);
}
