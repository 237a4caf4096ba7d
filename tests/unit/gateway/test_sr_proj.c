/* tests/unit/gateway/test_sr_proj.c - the gateway's projection of sr.changelog:
 * apply and get, tenancy, index moves on status change, every list filter
 * and ordering, paging edges and counts, a 10,000-target stage, an open
 * stage's chunks listed by device id (paged, tombstoned, retired), offsets
 * across reopen, tombstones, ignored record kinds, garbage, and reads
 * from several threads while the writer applies.
 *
 * Records are built with sr_codec_encode_changelog from hand-made
 * entities. Each test gets its own projection in a fresh temp dir, opened
 * in the fixture (inside the test's process, never before the fork). */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sr_codec.h"
#include "sr_fsm.h"
#include "sr_proj.h"
#include "sr_proj_int.h" /* the stored encoding and the format mark */
#include "sr_run.h"
#include "kit_dir.h"

#define ENT_A "acme"
#define ENT_B "globex"

static char dir[] = "/tmp/sr_proj_test.XXXXXX";
static sr_proj_t *proj;
static sr_codec_t *codec;
static int64_t next_off; /* next offset of partition 0 */
static int64_t next_evt_off; /* next sr.events offset of partition 0 */

static void proj_reopen(void)
{
        sr_errctx_t ec = { 0 };

        sr_proj_close(proj);
        proj = NULL;
        cr_assert(eq(int, sr_proj_open(dir, 256u << 20, &proj, &ec), SR_OK),
                  "%s", ec.msg);
}

static void proj_setup(void)
{
        sr_errctx_t ec = { 0 };

        cr_assert(not(eq(ptr, mkdtemp(dir), NULL)));
        proj_reopen();
        cr_assert(eq(int, sr_codec_new(&codec, &ec), SR_OK), "%s", ec.msg);
        next_off = 0;
        next_evt_off = 0;
}

static void proj_teardown(void)
{
        sr_proj_close(proj);
        proj = NULL;
        sr_codec_destroy(codec);
        codec = NULL;
        kit_rm_rf(dir);
}

TestSuite(sr_proj, .init = proj_setup, .fini = proj_teardown,
          .timeout = 60.0);

/* ------------------------------------------------------------ helpers */

static sr_uuid_t uid(const char *name)
{
        sr_uuid_t u;

        sr_uuid_v5(&u, &sr_ns, "test-proj/%s", name);
        return u;
}

static sr_entity_t mk_run(const char *name, const char *enterprise,
                          const char *pipeline, int32_t run_number,
                          sr_status_t st, int64_t created)
{
        sr_entity_t e;
        sr_pipeline_run_t *pr = &e.u.pr;

        memset(&e, 0, sizeof(e));
        e.type = SR_ENT_PIPELINE_RUN;
        pr->m.id = uid(name);
        pr->m.status = st;
        pr->m.created_at = created;
        pr->m.updated_at = created;
        pr->m.version = 1;
        pr->pipeline_id = uid(pipeline);
        snprintf(pr->pipeline_name, sizeof(pr->pipeline_name), "%s",
                 pipeline);
        snprintf(pr->enterprise_id, sizeof(pr->enterprise_id), "%s",
                 enterprise);
        pr->run_number = run_number;
        pr->n_stages = 1;
        pr->spec_hash = 0xfeedfacecafebeefULL;
        pr->created_by_command = uid("cmd");
        return e;
}

static sr_entity_t mk_stage(const sr_entity_t *run, uint32_t index,
                            sr_status_t st)
{
        char name[64];
        sr_entity_t e;
        sr_stage_run_t *s = &e.u.sr;

        memset(&e, 0, sizeof(e));
        e.type = SR_ENT_STAGE_RUN;
        snprintf(name, sizeof(name), "stage-%u", index);
        sr_uuid_v5(&s->m.id, &run->u.pr.m.id, "stage/%u", index);
        s->m.status = st;
        s->m.created_at = run->u.pr.m.created_at;
        s->m.version = 1;
        s->pipeline_run_id = run->u.pr.m.id;
        s->pipeline_id = run->u.pr.pipeline_id;
        s->stage_id = uid(name);
        memcpy(s->enterprise_id, run->u.pr.enterprise_id,
               sizeof(s->enterprise_id));
        s->index = index;
        snprintf(s->name, sizeof(s->name), "%s", name);
        snprintf(s->description, sizeof(s->description), "the %s", name);
        return e;
}

/* Not owning: args points to a literal; never fini'd. */
static sr_entity_t mk_op(const sr_entity_t *stage, uint32_t index,
                         const char *args)
{
        sr_entity_t e;
        sr_stage_run_op_t *op = &e.u.op;

        memset(&e, 0, sizeof(e));
        e.type = SR_ENT_STAGE_RUN_OPERATION;
        sr_uuid_v5(&op->id, &stage->u.sr.m.id, "op/%u", index);
        op->pipeline_run_id = stage->u.sr.pipeline_run_id;
        op->stage_run_id = stage->u.sr.m.id;
        op->stage_index = stage->u.sr.index;
        op->index = index;
        snprintf(op->operation_type, sizeof(op->operation_type), "%s",
                 index ? "REBOOT" : "INSTALL");
        op->args_json = (char *)args;
        op->created_at = 1000;
        op->version = 1;
        return e;
}

static sr_entity_t mk_target(const sr_entity_t *stage, const sr_entity_t *op,
                             uint32_t tindex, sr_status_t st)
{
        sr_entity_t e;
        sr_target_run_t *tr = &e.u.tr;

        memset(&e, 0, sizeof(e));
        e.type = SR_ENT_TARGET_RUN;
        sr_uuid_v5(&tr->m.id, &op->u.op.id, "target/%u", tindex);
        tr->m.status = st;
        tr->m.created_at = 2000 + tindex;
        tr->m.version = 1;
        tr->pipeline_run_id = stage->u.sr.pipeline_run_id;
        tr->stage_run_id = stage->u.sr.m.id;
        tr->stage_run_operation_id = op->u.op.id;
        tr->stage_index = stage->u.sr.index;
        tr->op_index = op->u.op.index;
        tr->target_index = tindex;
        sr_uuid_v5(&tr->target_id, &sr_ns, "target-def/%u", tindex);
        sr_uuid_v5(&tr->device_id, &sr_ns, "device/%u", tindex);
        snprintf(tr->device_name, sizeof(tr->device_name), "dev-%u", tindex);
        snprintf(tr->command_status, sizeof(tr->command_status), "QUEUED");
        return e;
}

static sr_proj_txn_t *begin(void)
{
        sr_errctx_t ec = { 0 };
        sr_proj_txn_t *txn = NULL;

        cr_assert(eq(int, sr_proj_begin(proj, &txn, &ec), SR_OK), "%s",
                  ec.msg);
        return txn;
}

static void commit(sr_proj_txn_t *txn)
{
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_proj_commit(txn, &ec), SR_OK), "%s", ec.msg);
}

/* Apply one changelog record at the next offset of partition 0. */
static sr_err_t put_raw(sr_proj_txn_t *txn, sr_slice_t key, sr_slice_t val,
                        sr_errctx_t *ec)
{
        sr_err_t err = sr_proj_apply(txn, 0, next_off, key, val, ec);

        if (err == SR_OK)
                next_off++;
        return err;
}

static void put_cl(sr_proj_txn_t *txn, const sr_changelog_t *cl,
                   const char *key, size_t klen)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };

        cr_assert(eq(int, sr_codec_encode_changelog(codec, cl, &buf, &ec),
                     SR_OK),
                  "%s", ec.msg);
        cr_assert(eq(int, put_raw(txn, sr_slice(key, klen),
                                  sr_buf_slice(&buf), &ec),
                     SR_OK),
                  "%s", ec.msg);
        sr_buf_free(&buf);
}

static void put_in(sr_proj_txn_t *txn, const sr_entity_t *e)
{
        char key[SR_ENTITY_KEY_MAX];
        size_t klen = sr_entity_key(e, key);
        sr_changelog_t cl;

        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_ENTITY;
        cl.u.entity = *e;
        put_cl(txn, &cl, key, klen);
}

/* One entity in its own batch. */
static void put(const sr_entity_t *e)
{
        sr_proj_txn_t *txn = begin();

        put_in(txn, e);
        commit(txn);
}

static void tombstone(const sr_entity_t *e)
{
        char key[SR_ENTITY_KEY_MAX];
        size_t klen = sr_entity_key(e, key);
        sr_proj_txn_t *txn = begin();
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, put_raw(txn, sr_slice(key, klen), sr_slice(NULL, 0),
                                  &ec),
                     SR_OK),
                  "%s", ec.msg);
        commit(txn);
}

static sr_proj_query_t query(void)
{
        sr_proj_query_t q;

        memset(&q, 0, sizeof(q));
        q.limit = 1000;
        return q;
}

static sr_proj_query_t query_status(sr_status_t st)
{
        sr_proj_query_t q = query();

        q.has_status = true;
        q.status = st;
        return q;
}

static sr_proj_query_t query_order(sr_proj_order_t order, bool desc)
{
        sr_proj_query_t q = query();

        q.order = order;
        q.desc = desc;
        return q;
}

/* Run numbers of a pipeline-run list, as "3,1,2"; asserts the call. */
static char *runs_of(const char *enterprise, const sr_proj_query_t *q,
                     uint64_t *count)
{
        static char out[512];
        sr_pipeline_run_t *items = NULL;
        sr_errctx_t ec = { 0 };
        uint64_t c = 0;
        size_t n = 0, len = 0;

        cr_assert(eq(int, sr_proj_list_pipeline_runs(proj, enterprise, q,
                                                     &items, &n, &c, &ec),
                     SR_OK),
                  "%s", ec.msg);
        out[0] = '\0';
        for (size_t i = 0; i < n; i++)
                len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%d",
                                        i ? "," : "", items[i].run_number);
        free(items);
        if (count)
                *count = c;
        return out;
}

/* Target indexes of a target-run list, as "0,1,2". */
static char *targets_of(const sr_uuid_t *stage, const sr_proj_query_t *q,
                        uint64_t *count)
{
        static char out[4096];
        sr_target_run_t *items = NULL;
        sr_errctx_t ec = { 0 };
        uint64_t c = 0;
        size_t n = 0, len = 0;

        cr_assert(eq(int, sr_proj_list_target_runs(proj, ENT_A, stage, q,
                                                   &items, &n, &c, &ec),
                     SR_OK),
                  "%s", ec.msg);
        out[0] = '\0';
        for (size_t i = 0; i < n && len < sizeof(out) - 16; i++)
                len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%u",
                                        i ? "," : "",
                                        items[i].op_index * 100 +
                                                items[i].target_index);
        free(items);
        if (count)
                *count = c;
        return out;
}

static sr_proj_stats_t stats(void)
{
        sr_proj_stats_t s;

        sr_proj_stats(proj, &s);
        return s;
}

static double now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------ apply, get */

Test(sr_proj, applied_entities_of_every_type_can_be_read_back)
{
        sr_entity_t run = mk_run("r1", ENT_A, "canary", 7, SR_ST_RUNNING,
                                 100);
        sr_entity_t stage = mk_stage(&run, 0, SR_ST_PROCESSING);
        sr_entity_t op = mk_op(&stage, 0, "{\"package_name\":\"com.x\"}");
        sr_entity_t tr = mk_target(&stage, &op, 3, SR_ST_DISPATCHED);
        sr_pipeline_run_t pr;
        sr_stage_run_t sr;
        sr_stage_run_op_t o;
        sr_target_run_t t;
        sr_errctx_t ec = { 0 };
        uint32_t ver = 0;
        sr_proj_txn_t *txn;

        run.u.pr.m.started_at = 150;
        run.u.pr.last_seq = 42;
        stage.u.sr.queued_at = 160;
        tr.u.tr.cancel_requested = true;
        tr.u.tr.command_id = uid("devcmd");
        txn = begin();
        put_in(txn, &run);
        put_in(txn, &stage);
        put_in(txn, &op);
        put_in(txn, &tr);
        commit(txn);

        cr_assert(eq(int, sr_proj_get_pipeline_run(proj, ENT_A, &run.u.pr.m.id,
                                                   &pr, &ec),
                     SR_OK),
                  "%s", ec.msg);
        cr_assert(eq(int, memcmp(&pr, &run.u.pr, sizeof(pr)), 0));
        cr_assert(eq(int, sr_proj_get_stage_run(proj, ENT_A, &run.u.pr.m.id,
                                                &stage.u.sr.m.id, &sr, &ec),
                     SR_OK),
                  "%s", ec.msg);
        cr_assert(eq(str, sr.name, "stage-0"));
        cr_assert(eq(str, sr.description, "the stage-0"));
        cr_assert(eq(int, sr.m.status, SR_ST_PROCESSING));
        cr_assert(eq(i64, sr.queued_at, 160));
        cr_assert(eq(u32, sr.n_ops, 0));
        cr_assert(eq(ptr, sr.targets, NULL));
        cr_assert(eq(int, sr_proj_get_operation(proj, ENT_A, &stage.u.sr.m.id,
                                                &op.u.op.id, &o, &ec),
                     SR_OK),
                  "%s", ec.msg);
        cr_assert(eq(str, o.operation_type, "INSTALL"));
        cr_assert(eq(str, o.args_json, "{\"package_name\":\"com.x\"}"));
        free(o.args_json);
        cr_assert(eq(int, sr_proj_get_target_run(proj, ENT_A,
                                                 &stage.u.sr.m.id,
                                                 &tr.u.tr.m.id, &t, &ec),
                     SR_OK),
                  "%s", ec.msg);
        cr_assert(eq(int, memcmp(&t, &tr.u.tr, sizeof(t)), 0));
        cr_assert(eq(int, sr_proj_version(proj, SR_ENT_TARGET_RUN,
                                          &tr.u.tr.m.id, &ver, &ec),
                     SR_OK));
        cr_assert(eq(u32, ver, 1));
}

/* docs/targets.md: an open stage run's state (counts, seal) is stored as
 * a tail after the closed stage's fields; a closed stage is stored as
 * format 2 stored it. Through the stored encoding itself: the changelog
 * carries these fields from its version 2 on. */
static sr_err_t stored_round_trip(const sr_entity_t *e, size_t cut,
                                  uint8_t flags_xor, sr_entity_t *out,
                                  size_t *len)
{
        struct wbuf w = { 0 };
        struct stored st;
        MDB_val v;
        sr_err_t err;

        sr_proj__enc_entity(&w, e, sr_slice("k", 1));
        cr_assert(not(w.oom));
        *len = w.len;
        if (flags_xor)
                w.p[w.len - 57] ^= flags_xor; /* the tail's flags */
        v.mv_data = w.p;
        v.mv_size = w.len - cut;
        cr_assert(sr_proj__parse_stored(&v, &st));
        err = sr_proj__dec_entity(&st, out, false);
        free(w.p);
        return err;
}

Test(sr_proj, an_open_stage_runs_state_is_stored_as_a_tail_and_read_back)
{
        sr_entity_t run = mk_run("r1", ENT_A, "canary", 1, SR_ST_RUNNING,
                                 100);
        sr_entity_t closed = mk_stage(&run, 0, SR_ST_PROCESSING);
        sr_entity_t open = closed, got;
        sr_stage_run_t *o = &open.u.sr;
        size_t closed_len, open_len;

        o->append_targets = true;
        o->expected_targets = 250000;
        o->chunks_applied = 7;
        o->targets_appended = 6500;
        o->sealed = true;
        o->seal_chunks = 7;
        o->seal_count = 6500;
        memset(o->seal_digest, 0xab, sizeof(o->seal_digest));
        cr_assert(eq(int, stored_round_trip(&open, 0, 0, &got, &open_len),
                     SR_OK));
        cr_assert(eq(int, memcmp(&got.u.sr, o, sizeof(*o)), 0));
        cr_assert(eq(int, stored_round_trip(&closed, 0, 0, &got,
                                            &closed_len), SR_OK));
        cr_assert(eq(int, memcmp(&got.u.sr, &closed.u.sr,
                                 sizeof(closed.u.sr)), 0));
        cr_assert(not(got.u.sr.append_targets));
        /* flags, expected, four counts, the digest */
        cr_assert(eq(sz, open_len - closed_len, 1 + 8 + 4 * 4 + 32));
        /* a tail cut short, or a flag this gateway does not know */
        cr_assert(eq(int, stored_round_trip(&open, 1, 0, &got, &open_len),
                     SR_ERR_CORRUPT));
        cr_assert(eq(int, stored_round_trip(&open, 0, 4, &got, &open_len),
                     SR_ERR_CORRUPT));
}

/* The format mark "format" in meta, written straight with LMDB. */
static void set_format(uint32_t fmt)
{
        MDB_val k = { 6, (void *)"format" }, v;
        uint8_t b[4] = { (uint8_t)(fmt >> 24), (uint8_t)(fmt >> 16),
                         (uint8_t)(fmt >> 8), (uint8_t)fmt };
        MDB_txn *t;

        cr_assert(eq(int, mdb_txn_begin(proj->env, NULL, 0, &t), 0));
        v.mv_size = 4;
        v.mv_data = b;
        cr_assert(eq(int, mdb_put(t, proj->dbi[DBI_META], &k, &v, 0), 0));
        cr_assert(eq(int, mdb_txn_commit(t), 0));
}

static uint32_t get_format(void)
{
        MDB_val k = { 6, (void *)"format" }, v;
        const uint8_t *b;
        uint32_t fmt;
        MDB_txn *t;

        cr_assert(eq(int, mdb_txn_begin(proj->env, NULL, MDB_RDONLY, &t),
                     0));
        cr_assert(eq(int, mdb_get(t, proj->dbi[DBI_META], &k, &v), 0));
        cr_assert(eq(sz, v.mv_size, 4));
        b = v.mv_data;
        fmt = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
              (uint32_t)b[2] << 8 | b[3];
        mdb_txn_abort(t);
        return fmt;
}

/* Formats 2 and 3 applied chunk records as no-ops and moved past them:
 * they hold no appended targets, and format 4 no stored definitions, so
 * they are rebuilt (emptied, offsets too), as any other format; the
 * current one (with this build's layout of definition records) is kept. */
Test(sr_proj, a_projection_of_an_older_format_is_emptied_the_current_kept)
{
        static const uint32_t older[] = { 4, 3, 2, 1 };
        sr_entity_t run = mk_run("r1", ENT_A, "canary", 1, SR_ST_RUNNING,
                                 100);
        sr_pipeline_run_t pr;
        sr_errctx_t ec = { 0 };

        cr_assert(eq(u32, get_format(), PROJ_FORMAT_STORED));
        cr_assert(eq(u32, PROJ_FORMAT, 5));
        cr_assert(eq(u32, PROJ_FORMAT_STORED & 0xff, 5));
        for (size_t i = 0; i < sizeof(older) / sizeof(older[0]); i++) {
                put(&run);
                proj_reopen();
                cr_assert(eq(int, sr_proj_get_pipeline_run(proj, ENT_A,
                                                           &run.u.pr.m.id,
                                                           &pr, &ec),
                             SR_OK), "%s", ec.msg);
                set_format(older[i]);
                proj_reopen();
                cr_assert(eq(u32, get_format(), PROJ_FORMAT_STORED));
                cr_assert(eq(int, sr_proj_get_pipeline_run(proj, ENT_A,
                                                           &run.u.pr.m.id,
                                                           &pr, &ec),
                             SR_ERR_NOT_FOUND), "format %u kept",
                          older[i]);
        }
}

Test(sr_proj, an_updated_entity_replaces_the_stored_one_and_its_version)
{
        sr_entity_t run = mk_run("r1", ENT_A, "canary", 1, SR_ST_PENDING, 100);
        sr_pipeline_run_t pr;
        sr_errctx_t ec = { 0 };
        uint32_t ver = 0;

        put(&run);
        run.u.pr.m.status = SR_ST_SUCCESS;
        run.u.pr.m.version = 9;
        run.u.pr.m.ended_at = 999;
        put(&run);
        cr_assert(eq(int, sr_proj_get_pipeline_run(proj, ENT_A, &run.u.pr.m.id,
                                                   &pr, &ec),
                     SR_OK));
        cr_assert(eq(int, pr.m.status, SR_ST_SUCCESS));
        cr_assert(eq(i64, pr.m.ended_at, 999));
        cr_assert(eq(int, sr_proj_version(proj, SR_ENT_PIPELINE_RUN,
                                          &run.u.pr.m.id, &ver, &ec),
                     SR_OK));
        cr_assert(eq(u32, ver, 9));
}

Test(sr_proj, unknown_ids_and_wrong_types_are_not_found)
{
        sr_entity_t run = mk_run("r1", ENT_A, "canary", 1, SR_ST_PENDING, 100);
        sr_uuid_t nope = uid("nope");
        sr_pipeline_run_t pr;
        sr_stage_run_t sr;
        sr_errctx_t ec = { 0 };
        uint32_t ver;

        put(&run);
        cr_assert(eq(int, sr_proj_get_pipeline_run(proj, ENT_A, &nope, &pr,
                                                   &ec),
                     SR_ERR_NOT_FOUND));
        cr_assert(eq(int, sr_proj_get_stage_run(proj, ENT_A, NULL,
                                                &run.u.pr.m.id, &sr, &ec),
                     SR_ERR_NOT_FOUND));
        cr_assert(eq(int, sr_proj_version(proj, SR_ENT_STAGE_RUN,
                                          &run.u.pr.m.id, &ver, &ec),
                     SR_ERR_NOT_FOUND));
}

Test(sr_proj, a_child_under_the_wrong_parent_is_not_found)
{
        sr_entity_t run = mk_run("r1", ENT_A, "canary", 1, SR_ST_RUNNING, 100);
        sr_entity_t s0 = mk_stage(&run, 0, SR_ST_PROCESSING);
        sr_entity_t s1 = mk_stage(&run, 1, SR_ST_PENDING);
        sr_entity_t op = mk_op(&s0, 0, NULL);
        sr_entity_t tr = mk_target(&s0, &op, 0, SR_ST_PENDING);
        sr_uuid_t other_run = uid("other-run");
        sr_stage_run_op_t o;
        sr_stage_run_t sr;
        sr_target_run_t t;
        sr_errctx_t ec = { 0 };

        put(&run);
        put(&s0);
        put(&s1);
        put(&op);
        put(&tr);
        cr_assert(eq(int, sr_proj_get_stage_run(proj, ENT_A, &other_run,
                                                &s0.u.sr.m.id, &sr, &ec),
                     SR_ERR_NOT_FOUND));
        cr_assert(eq(int, sr_proj_get_operation(proj, ENT_A, &s1.u.sr.m.id,
                                                &op.u.op.id, &o, &ec),
                     SR_ERR_NOT_FOUND));
        cr_assert(eq(int, sr_proj_get_target_run(proj, ENT_A, &s1.u.sr.m.id,
                                                 &tr.u.tr.m.id, &t, &ec),
                     SR_ERR_NOT_FOUND));
        cr_assert(eq(int, sr_proj_get_operation(proj, ENT_A, &s0.u.sr.m.id,
                                                &op.u.op.id, &o, &ec),
                     SR_OK));
        cr_assert(eq(ptr, o.args_json, NULL));
}

/* ------------------------------------------------------------ tenancy */

Test(sr_proj, another_enterprise_gets_not_found_and_empty_lists)
{
        sr_entity_t run = mk_run("r1", ENT_A, "canary", 1, SR_ST_RUNNING, 100);
        sr_entity_t stage = mk_stage(&run, 0, SR_ST_PROCESSING);
        sr_entity_t op = mk_op(&stage, 0, NULL);
        sr_entity_t tr = mk_target(&stage, &op, 0, SR_ST_PENDING);
        sr_proj_query_t q = query();
        sr_pipeline_run_t pr, *prs = NULL;
        sr_stage_run_t sr, *srs = NULL;
        sr_stage_run_op_t o, *ops = NULL;
        sr_target_run_t t, *trs = NULL;
        sr_errctx_t ec = { 0 };
        uint64_t count = 99;
        size_t n = 99;

        put(&run);
        put(&stage);
        put(&op);
        put(&tr);
        cr_assert(eq(int, sr_proj_get_pipeline_run(proj, ENT_B, &run.u.pr.m.id,
                                                   &pr, &ec),
                     SR_ERR_NOT_FOUND));
        cr_assert(eq(int, sr_proj_get_stage_run(proj, ENT_B, NULL,
                                                &stage.u.sr.m.id, &sr, &ec),
                     SR_ERR_NOT_FOUND));
        cr_assert(eq(int, sr_proj_get_operation(proj, ENT_B, &stage.u.sr.m.id,
                                                &op.u.op.id, &o, &ec),
                     SR_ERR_NOT_FOUND));
        cr_assert(eq(int, sr_proj_get_target_run(proj, ENT_B,
                                                 &stage.u.sr.m.id,
                                                 &tr.u.tr.m.id, &t, &ec),
                     SR_ERR_NOT_FOUND));
        /* A tenant name that is a prefix of the owner's does not match. */
        cr_assert(eq(int, sr_proj_get_pipeline_run(proj, "acm",
                                                   &run.u.pr.m.id, &pr, &ec),
                     SR_ERR_NOT_FOUND));

        cr_assert(eq(int, sr_proj_list_pipeline_runs(proj, ENT_B, &q, &prs, &n,
                                                     &count, &ec),
                     SR_OK));
        cr_assert(eq(sz, n, 0));
        cr_assert(eq(u64, count, 0));
        cr_assert(eq(ptr, prs, NULL));
        q.pipeline_id = &run.u.pr.pipeline_id;
        cr_assert(eq(int, sr_proj_list_pipeline_runs(proj, ENT_B, &q, &prs, &n,
                                                     &count, &ec),
                     SR_OK));
        cr_assert(eq(u64, count, 0));
        q = query();
        cr_assert(eq(int, sr_proj_list_stage_runs(proj, ENT_B, &run.u.pr.m.id,
                                                  &q, &srs, &n, &count, &ec),
                     SR_ERR_NOT_FOUND));
        cr_assert(eq(int, sr_proj_list_operations(proj, ENT_B,
                                                  &stage.u.sr.m.id, &q, &ops,
                                                  &n, &count, &ec),
                     SR_ERR_NOT_FOUND));
        cr_assert(eq(int, sr_proj_list_target_runs(proj, ENT_B,
                                                   &stage.u.sr.m.id, &q, &trs,
                                                   &n, &count, &ec),
                     SR_ERR_NOT_FOUND));
        /* The owner sees all of it. */
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), "1"));
        cr_assert(eq(str, targets_of(&stage.u.sr.m.id, &q, &count), "0"));
}

/* ------------------------------------------------------------ status moves */

Test(sr_proj, a_status_change_moves_the_entity_between_status_entries)
{
        sr_entity_t run = mk_run("r1", ENT_A, "canary", 1, SR_ST_PENDING, 100);
        sr_entity_t stage = mk_stage(&run, 0, SR_ST_PROCESSING);
        sr_entity_t op = mk_op(&stage, 0, NULL);
        sr_entity_t tr = mk_target(&stage, &op, 0, SR_ST_PENDING);
        sr_proj_query_t pending = query_status(SR_ST_PENDING);
        sr_proj_query_t running = query_status(SR_ST_RUNNING);
        uint64_t count;

        put(&run);
        put(&stage);
        put(&op);
        put(&tr);
        cr_assert(eq(str, runs_of(ENT_A, &pending, &count), "1"));
        cr_assert(eq(str, targets_of(&stage.u.sr.m.id, &pending, &count),
                     "0"));

        run.u.pr.m.status = SR_ST_RUNNING;
        run.u.pr.m.version++;
        tr.u.tr.m.status = SR_ST_RUNNING;
        tr.u.tr.m.version++;
        put(&run);
        put(&tr);

        cr_assert(eq(str, runs_of(ENT_A, &pending, &count), ""));
        cr_assert(eq(u64, count, 0));
        cr_assert(eq(str, runs_of(ENT_A, &running, &count), "1"));
        cr_assert(eq(u64, count, 1));
        pending.pipeline_id = &run.u.pr.pipeline_id;
        cr_assert(eq(str, runs_of(ENT_A, &pending, &count), ""));
        cr_assert(eq(u64, count, 0));
        cr_assert(eq(str, targets_of(&stage.u.sr.m.id, &pending, &count),
                     ""));
        cr_assert(eq(u64, count, 0));
        cr_assert(eq(str, targets_of(&stage.u.sr.m.id, &running, &count),
                     "0"));
        cr_assert(eq(u64, count, 1));
        running.operation_id = &op.u.op.id;
        cr_assert(eq(str, targets_of(&stage.u.sr.m.id, &running, &count),
                     "0"));
        cr_assert(eq(u64, count, 1));
        /* Unfiltered, still exactly one of each. */
        running = query();
        cr_assert(eq(str, runs_of(ENT_A, &running, &count), "1"));
        cr_assert(eq(str, targets_of(&stage.u.sr.m.id, &running, &count),
                     "0"));
        cr_assert(eq(u64, count, 1));
}

/* ------------------------------------------------------------ pipeline runs */

/* Five runs of ENT_A over two pipelines, one of ENT_B:
 *   #  pipeline  status      created started ended
 *   1  alpha     success     100     110     190
 *   2  beta      running     200     210     0
 *   3  alpha     failure     300     0       0
 *   4  beta      running     400     410     0
 *   5  alpha     cancelled   500     505     520  */
static void five_runs(void)
{
        static const struct {
                const char *pipe;
                sr_status_t st;
                int64_t created, started, ended;
        } rows[] = {
                { "alpha", SR_ST_SUCCESS, 100, 110, 190 },
                { "beta", SR_ST_RUNNING, 200, 210, 0 },
                { "alpha", SR_ST_FAILURE, 300, 0, 0 },
                { "beta", SR_ST_RUNNING, 400, 410, 0 },
                { "alpha", SR_ST_CANCELLED, 500, 505, 520 },
        };
        sr_proj_txn_t *txn = begin();
        sr_entity_t e;
        char name[16];

        for (int i = 0; i < 5; i++) {
                snprintf(name, sizeof(name), "run%d", i + 1);
                e = mk_run(name, ENT_A, rows[i].pipe, i + 1, rows[i].st,
                           rows[i].created);
                e.u.pr.m.started_at = rows[i].started;
                e.u.pr.m.ended_at = rows[i].ended;
                put_in(txn, &e);
        }
        e = mk_run("other", ENT_B, "alpha", 1, SR_ST_RUNNING, 50);
        put_in(txn, &e);
        commit(txn);
}

Test(sr_proj, pipeline_runs_default_to_newest_first_with_counts)
{
        sr_proj_query_t q = query();
        uint64_t count;

        five_runs();
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), "5,4,3,2,1"));
        cr_assert(eq(u64, count, 5));
        q.order = SR_PROJ_ORDER_CREATED_AT;
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), "1,2,3,4,5"));
        q.desc = true;
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), "5,4,3,2,1"));
}

Test(sr_proj, pipeline_runs_filter_by_status_name_and_pipeline)
{
        sr_uuid_t alpha = uid("alpha"), beta = uid("beta");
        sr_proj_query_t q;
        uint64_t count;

        five_runs();
        q = query_status(SR_ST_RUNNING);
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), "4,2"));
        cr_assert(eq(u64, count, 2));
        q = query();
        q.pipeline_name = "alpha";
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), "5,3,1"));
        cr_assert(eq(u64, count, 3));
        q.pipeline_name = "alph";
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), ""));
        cr_assert(eq(u64, count, 0));
        q = query_status(SR_ST_FAILURE);
        q.pipeline_name = "alpha";
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), "3"));
        cr_assert(eq(u64, count, 1));
        q = query();
        q.pipeline_id = &beta;
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), "4,2"));
        cr_assert(eq(u64, count, 2));
        q = query_status(SR_ST_SUCCESS);
        q.pipeline_id = &alpha;
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), "1"));
        cr_assert(eq(u64, count, 1));
        /* pipeline_id and pipeline_name together: the name is a residual
         * filter on the index summaries. */
        q = query();
        q.pipeline_id = &alpha;
        q.pipeline_name = "alpha";
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), "5,3,1"));
        cr_assert(eq(u64, count, 3));
        q.pipeline_name = "beta";
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), ""));
        cr_assert(eq(u64, count, 0));
}

struct order_case {
        sr_proj_order_t order;
        bool desc;
        char want[32];
};

ParameterizedTestParameters(sr_proj, pipeline_runs_sort_by_every_ordering)
{
        static struct order_case cases[] = {
                { SR_PROJ_ORDER_RUN_NUMBER, false, "1,2,3,4,5" },
                { SR_PROJ_ORDER_RUN_NUMBER, true, "5,4,3,2,1" },
                /* alphabetical: cancelled, failure, running, success;
                 * ties by created_at */
                { SR_PROJ_ORDER_STATUS, false, "5,3,2,4,1" },
                { SR_PROJ_ORDER_STATUS, true, "1,4,2,3,5" },
                { SR_PROJ_ORDER_PIPELINE_NAME, false, "1,3,5,2,4" },
                { SR_PROJ_ORDER_PIPELINE_NAME, true, "4,2,5,3,1" },
                /* unset (0) times last ascending, first descending */
                { SR_PROJ_ORDER_STARTED_AT, false, "1,2,4,5,3" },
                { SR_PROJ_ORDER_STARTED_AT, true, "3,5,4,2,1" },
                { SR_PROJ_ORDER_ENDED_AT, false, "1,5,2,3,4" },
                { SR_PROJ_ORDER_ENDED_AT, true, "4,3,2,5,1" },
        };
        return cr_make_param_array(struct order_case, cases,
                                   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct order_case *c, sr_proj,
                  pipeline_runs_sort_by_every_ordering)
{
        sr_proj_query_t q = query_order(c->order, c->desc);
        uint64_t count;

        five_runs();
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), c->want),
                  "ordering %d desc %d", (int)c->order, (int)c->desc);
        cr_assert(eq(u64, count, 5));
}

/* Several ordering keys: each in its own direction, most significant
 * first; runs equal on every key follow (created_at, id) in the first
 * key's direction, so flipping every sign gives the exact reverse. */
struct multi_case {
        sr_proj_order_t order[3];
        bool desc[3];
        uint32_t n;
        char want[32];
};

ParameterizedTestParameters(sr_proj, pipeline_runs_sort_by_every_key_given)
{
        static struct multi_case cases[] = {
                /* statuses: cancelled 5, failure 3, running 2 4, success 1 */
                { { SR_PROJ_ORDER_STATUS, SR_PROJ_ORDER_RUN_NUMBER },
                  { false, true }, 2, "5,3,4,2,1" },
                { { SR_PROJ_ORDER_STATUS, SR_PROJ_ORDER_RUN_NUMBER },
                  { true, false }, 2, "1,2,4,3,5" },
                /* names: alpha 1 3 5, beta 2 4 */
                { { SR_PROJ_ORDER_PIPELINE_NAME, SR_PROJ_ORDER_RUN_NUMBER },
                  { false, true }, 2, "5,3,1,4,2" },
                { { SR_PROJ_ORDER_PIPELINE_NAME, SR_PROJ_ORDER_RUN_NUMBER },
                  { true, false }, 2, "2,4,1,3,5" },
                { { SR_PROJ_ORDER_PIPELINE_NAME, SR_PROJ_ORDER_ENDED_AT },
                  { false, true }, 2, "3,5,1,2,4" },
                /* 2 and 4 tie on both keys: created_at, first key's way */
                { { SR_PROJ_ORDER_STATUS, SR_PROJ_ORDER_PIPELINE_NAME },
                  { false, false }, 2, "5,3,2,4,1" },
                { { SR_PROJ_ORDER_STATUS, SR_PROJ_ORDER_PIPELINE_NAME },
                  { true, true }, 2, "1,4,2,3,5" },
                /* a third key only where the first two tie */
                { { SR_PROJ_ORDER_PIPELINE_NAME, SR_PROJ_ORDER_STATUS,
                    SR_PROJ_ORDER_RUN_NUMBER },
                  { true, false, true }, 3, "4,2,5,3,1" },
        };
        return cr_make_param_array(struct multi_case, cases,
                                   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct multi_case *c, sr_proj,
                  pipeline_runs_sort_by_every_key_given)
{
        sr_proj_query_t q = query_order(c->order[0], c->desc[0]);
        uint64_t count;

        for (uint32_t i = 1; i < c->n; i++) {
                q.then[i - 1].order = c->order[i];
                q.then[i - 1].desc = c->desc[i];
        }
        q.n_then = c->n - 1;
        five_runs();
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), c->want));
        cr_assert(eq(u64, count, 5));
        q.offset = 1; /* and pages of it */
        q.limit = 2;
        cr_assert(eq(int, strncmp(runs_of(ENT_A, &q, &count), c->want + 2, 3),
                     0));
}

Test(sr_proj, pipeline_run_pages_respect_offset_and_limit_edges)
{
        sr_proj_query_t q = query();
        uint64_t count;

        five_runs();
        q.limit = 2;
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), "5,4"));
        q.offset = 2;
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), "3,2"));
        q.offset = 4;
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), "1"));
        cr_assert(eq(u64, count, 5));
        q.offset = 5;
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), ""));
        cr_assert(eq(u64, count, 5));
        q.offset = 1000000;
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), ""));
        cr_assert(eq(u64, count, 5));
        q.offset = 0;
        q.limit = 0; /* count only */
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), ""));
        cr_assert(eq(u64, count, 5));
        /* The same edges on an in-memory sorted list. */
        q = query_order(SR_PROJ_ORDER_RUN_NUMBER, false);
        q.offset = 3;
        q.limit = 5;
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), "4,5"));
        q.offset = 9;
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), ""));
        cr_assert(eq(u64, count, 5));
        q.offset = 0;
        q.limit = 0;
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), ""));
        cr_assert(eq(u64, count, 5));
}

Test(sr_proj, list_refuses_an_ordering_the_endpoint_does_not_offer)
{
        sr_entity_t run = mk_run("r1", ENT_A, "canary", 1, SR_ST_RUNNING, 100);
        sr_entity_t stage = mk_stage(&run, 0, SR_ST_PROCESSING);
        sr_proj_query_t q = query_order(SR_PROJ_ORDER_RUN_NUMBER, false);
        sr_target_run_t *trs = NULL;
        sr_stage_run_t *srs = NULL;
        sr_pipeline_run_t *prs = NULL;
        sr_errctx_t ec = { 0 };
        uint64_t count;
        size_t n;

        put(&run);
        put(&stage);
        cr_assert(eq(int, sr_proj_list_target_runs(proj, ENT_A,
                                                   &stage.u.sr.m.id, &q, &trs,
                                                   &n, &count, &ec),
                     SR_ERR_INVALID));
        cr_assert(eq(int, sr_proj_list_stage_runs(proj, ENT_A, &run.u.pr.m.id,
                                                  &q, &srs, &n, &count, &ec),
                     SR_ERR_INVALID));
        q = query_status((sr_status_t)SR_ST__COUNT);
        cr_assert(eq(int, sr_proj_list_pipeline_runs(proj, ENT_A, &q, &prs, &n,
                                                     &count, &ec),
                     SR_ERR_INVALID));
        /* target runs take one sort key */
        q = query_order(SR_PROJ_ORDER_STATUS, false);
        q.n_then = 1;
        q.then[0].order = SR_PROJ_ORDER_STATUS;
        cr_assert(eq(int, sr_proj_list_target_runs(proj, ENT_A,
                                                   &stage.u.sr.m.id, &q, &trs,
                                                   &n, &count, &ec),
                     SR_ERR_INVALID));
        /* further keys without a first, DEFAULT among them, too many */
        q = query();
        q.n_then = 1;
        q.then[0].order = SR_PROJ_ORDER_STATUS;
        cr_assert(eq(int, sr_proj_list_pipeline_runs(proj, ENT_A, &q, &prs, &n,
                                                     &count, &ec),
                     SR_ERR_INVALID));
        q = query_order(SR_PROJ_ORDER_STATUS, false);
        q.n_then = 1;
        q.then[0].order = SR_PROJ_ORDER_DEFAULT;
        cr_assert(eq(int, sr_proj_list_pipeline_runs(proj, ENT_A, &q, &prs, &n,
                                                     &count, &ec),
                     SR_ERR_INVALID));
        q.n_then = SR_PROJ_MAX_THEN + 1;
        cr_assert(eq(int, sr_proj_list_pipeline_runs(proj, ENT_A, &q, &prs, &n,
                                                     &count, &ec),
                     SR_ERR_INVALID));
}

Test(sr_proj, ordering_text_parses_with_optional_minus)
{
        sr_proj_order_t o;
        bool desc;

        cr_assert(sr_proj_order_parse("-run_number", 11, &o, &desc));
        cr_assert(eq(int, o, SR_PROJ_ORDER_RUN_NUMBER));
        cr_assert(desc);
        cr_assert(sr_proj_order_parse("pipeline__name", 14, &o, &desc));
        cr_assert(eq(int, o, SR_PROJ_ORDER_PIPELINE_NAME));
        cr_assert(not(desc));
        cr_assert(sr_proj_order_parse("-status", 7, &o, &desc));
        cr_assert(eq(int, o, SR_PROJ_ORDER_STATUS));
        cr_assert(not(sr_proj_order_parse("pipeline_name", 13, &o, &desc)));
        cr_assert(not(sr_proj_order_parse("-", 1, &o, &desc)));
        cr_assert(not(sr_proj_order_parse("status ", 7, &o, &desc)));
}

/* ------------------------------------------------------------ stages, ops */

Test(sr_proj, stage_runs_list_in_stage_order_with_status_filter)
{
        sr_entity_t run = mk_run("r1", ENT_A, "canary", 1, SR_ST_RUNNING, 100);
        static const sr_status_t st[4] = { SR_ST_SUCCESS, SR_ST_WAITING,
                                           SR_ST_PENDING, SR_ST_PENDING };
        sr_proj_query_t q = query();
        sr_stage_run_t *items = NULL;
        sr_errctx_t ec = { 0 };
        sr_proj_txn_t *txn;
        sr_entity_t s;
        uint64_t count;
        size_t n;

        txn = begin();
        put_in(txn, &run);
        for (uint32_t i = 4; i-- > 0;) { /* applied out of order */
                s = mk_stage(&run, i, st[i]);
                put_in(txn, &s);
        }
        commit(txn);

        cr_assert(eq(int, sr_proj_list_stage_runs(proj, ENT_A, &run.u.pr.m.id,
                                                  &q, &items, &n, &count, &ec),
                     SR_OK),
                  "%s", ec.msg);
        cr_assert(eq(sz, n, 4));
        cr_assert(eq(u64, count, 4));
        for (uint32_t i = 0; i < 4; i++)
                cr_assert(eq(u32, items[i].index, i));
        free(items);

        q = query_status(SR_ST_PENDING);
        q.offset = 1;
        cr_assert(eq(int, sr_proj_list_stage_runs(proj, ENT_A, &run.u.pr.m.id,
                                                  &q, &items, &n, &count, &ec),
                     SR_OK));
        cr_assert(eq(u64, count, 2));
        cr_assert(eq(sz, n, 1));
        cr_assert(eq(u32, items[0].index, 3));
        free(items);

        q = query();
        q.offset = 1;
        q.limit = 2;
        cr_assert(eq(int, sr_proj_list_stage_runs(proj, ENT_A, &run.u.pr.m.id,
                                                  &q, &items, &n, &count, &ec),
                     SR_OK));
        cr_assert(eq(sz, n, 2));
        cr_assert(eq(u32, items[0].index, 1));
        cr_assert(eq(u32, items[1].index, 2));
        free(items);
}

Test(sr_proj, operations_list_in_index_order_with_their_args)
{
        sr_entity_t run = mk_run("r1", ENT_A, "canary", 1, SR_ST_RUNNING, 100);
        sr_entity_t stage = mk_stage(&run, 0, SR_ST_PROCESSING);
        sr_entity_t o1 = mk_op(&stage, 1, "{\"a\":1}");
        sr_entity_t o0 = mk_op(&stage, 0, NULL);
        sr_proj_query_t q = query();
        sr_stage_run_op_t *items = NULL;
        sr_errctx_t ec = { 0 };
        uint64_t count;
        size_t n;

        put(&run);
        put(&stage);
        put(&o1);
        put(&o0);
        cr_assert(eq(int, sr_proj_list_operations(proj, ENT_A,
                                                  &stage.u.sr.m.id, &q, &items,
                                                  &n, &count, &ec),
                     SR_OK),
                  "%s", ec.msg);
        cr_assert(eq(sz, n, 2));
        cr_assert(eq(u64, count, 2));
        cr_assert(eq(str, items[0].operation_type, "INSTALL"));
        cr_assert(eq(ptr, items[0].args_json, NULL));
        cr_assert(eq(str, items[1].args_json, "{\"a\":1}"));
        sr_proj_ops_free(items, n);
        q.has_status = true;
        cr_assert(eq(int, sr_proj_list_operations(proj, ENT_A,
                                                  &stage.u.sr.m.id, &q, &items,
                                                  &n, &count, &ec),
                     SR_ERR_INVALID));
}

/* ------------------------------------------------------------ target runs */

/* One stage, two operations, 4 targets each; statuses by target index:
 * 0 success, 1 pending, 2 failure, 3 pending. Listed as op*100+target. */
static sr_entity_t small_stage(sr_entity_t *op0, sr_entity_t *op1)
{
        static const sr_status_t st[4] = { SR_ST_SUCCESS, SR_ST_PENDING,
                                           SR_ST_FAILURE, SR_ST_PENDING };
        sr_entity_t run = mk_run("r1", ENT_A, "canary", 1, SR_ST_RUNNING, 100);
        sr_entity_t stage = mk_stage(&run, 0, SR_ST_PROCESSING);
        sr_proj_txn_t *txn = begin();
        sr_entity_t tr;

        *op0 = mk_op(&stage, 0, NULL);
        *op1 = mk_op(&stage, 1, NULL);
        put_in(txn, &run);
        put_in(txn, &stage);
        put_in(txn, op0);
        put_in(txn, op1);
        for (uint32_t t = 0; t < 4; t++) {
                tr = mk_target(&stage, op1, t, st[t]);
                put_in(txn, &tr);
                tr = mk_target(&stage, op0, t, st[t]);
                put_in(txn, &tr);
        }
        commit(txn);
        return stage;
}

Test(sr_proj, target_runs_filter_by_status_and_operation)
{
        sr_entity_t op0, op1, stage = small_stage(&op0, &op1);
        const sr_uuid_t *sid = &stage.u.sr.m.id;
        sr_proj_query_t q;
        uint64_t count;

        q = query();
        cr_assert(eq(str, targets_of(sid, &q, &count),
                     "0,1,2,3,100,101,102,103"));
        cr_assert(eq(u64, count, 8));
        q = query_status(SR_ST_PENDING);
        cr_assert(eq(str, targets_of(sid, &q, &count), "1,3,101,103"));
        cr_assert(eq(u64, count, 4));
        q = query();
        q.operation_id = &op1.u.op.id;
        cr_assert(eq(str, targets_of(sid, &q, &count), "100,101,102,103"));
        cr_assert(eq(u64, count, 4));
        q = query_status(SR_ST_FAILURE);
        q.operation_id = &op0.u.op.id;
        cr_assert(eq(str, targets_of(sid, &q, &count), "2"));
        cr_assert(eq(u64, count, 1));
        q = query_status(SR_ST_TIMEOUT);
        cr_assert(eq(str, targets_of(sid, &q, &count), ""));
        cr_assert(eq(u64, count, 0));
}

Test(sr_proj, target_runs_order_by_status_alphabetically_both_ways)
{
        sr_entity_t op0, op1, stage = small_stage(&op0, &op1);
        const sr_uuid_t *sid = &stage.u.sr.m.id;
        sr_proj_query_t q;
        uint64_t count;

        /* failure < pending < success */
        q = query_order(SR_PROJ_ORDER_STATUS, false);
        cr_assert(eq(str, targets_of(sid, &q, &count),
                     "2,102,1,3,101,103,0,100"));
        cr_assert(eq(u64, count, 8));
        q.desc = true;
        cr_assert(eq(str, targets_of(sid, &q, &count),
                     "100,0,103,101,3,1,102,2"));
        /* Pages cross status buckets. */
        q.desc = false;
        q.offset = 1;
        q.limit = 3;
        cr_assert(eq(str, targets_of(sid, &q, &count), "102,1,3"));
        q.offset = 6;
        cr_assert(eq(str, targets_of(sid, &q, &count), "0,100"));
        q.offset = 8;
        cr_assert(eq(str, targets_of(sid, &q, &count), ""));
        cr_assert(eq(u64, count, 8));
        /* Within one operation. */
        q = query_order(SR_PROJ_ORDER_STATUS, false);
        q.operation_id = &op1.u.op.id;
        cr_assert(eq(str, targets_of(sid, &q, &count), "102,101,103,100"));
        cr_assert(eq(u64, count, 4));
        /* With a status filter every entry ties: desc is the reverse. */
        q = query_order(SR_PROJ_ORDER_STATUS, true);
        q.has_status = true;
        q.status = SR_ST_PENDING;
        cr_assert(eq(str, targets_of(sid, &q, &count), "103,101,3,1"));
}

Test(sr_proj, target_run_pages_respect_offset_and_limit_edges)
{
        sr_entity_t op0, op1, stage = small_stage(&op0, &op1);
        const sr_uuid_t *sid = &stage.u.sr.m.id;
        sr_proj_query_t q = query_status(SR_ST_PENDING);
        uint64_t count;

        q.limit = 0;
        cr_assert(eq(str, targets_of(sid, &q, &count), ""));
        cr_assert(eq(u64, count, 4));
        q.limit = 3;
        q.offset = 2;
        cr_assert(eq(str, targets_of(sid, &q, &count), "101,103"));
        q.offset = 4;
        cr_assert(eq(str, targets_of(sid, &q, &count), ""));
        cr_assert(eq(u64, count, 4));
        q.offset = UINT64_MAX;
        cr_assert(eq(str, targets_of(sid, &q, &count), ""));
        cr_assert(eq(u64, count, 4));
}

Test(sr_proj, ten_thousand_target_runs_page_is_one_index_scan)
{
        static const sr_status_t st[3] = { SR_ST_PENDING, SR_ST_DISPATCHED,
                                           SR_ST_SUCCESS };
        sr_entity_t run = mk_run("big", ENT_A, "fleet", 1, SR_ST_RUNNING, 100);
        sr_entity_t stage = mk_stage(&run, 0, SR_ST_PROCESSING);
        sr_entity_t op = mk_op(&stage, 0, NULL), tr;
        const sr_uuid_t *sid = &stage.u.sr.m.id;
        sr_proj_query_t q = query_status(SR_ST_DISPATCHED);
        sr_target_run_t *items = NULL;
        sr_proj_stats_t before, after;
        sr_errctx_t ec = { 0 };
        double t0, t_apply, t_page, best = 1e9;
        sr_proj_txn_t *txn;
        uint64_t count;
        size_t n;

        t0 = now_ms();
        txn = begin();
        put_in(txn, &run);
        put_in(txn, &stage);
        put_in(txn, &op);
        for (uint32_t t = 0; t < 10000; t++) {
                tr = mk_target(&stage, &op, t, st[t % 3]);
                put_in(txn, &tr);
        }
        commit(txn);
        t_apply = now_ms() - t0;

        /* Page 151 of 20 (offset 3000) of the 3333 dispatched ones. */
        q.offset = 3000;
        q.limit = 20;
        for (int rep = 0; rep < 20; rep++) {
                before = stats();
                t0 = now_ms();
                cr_assert(eq(int, sr_proj_list_target_runs(proj, ENT_A, sid,
                                                           &q, &items, &n,
                                                           &count, &ec),
                             SR_OK),
                          "%s", ec.msg);
                t_page = now_ms() - t0;
                after = stats();
                if (t_page < best)
                        best = t_page;
                cr_assert(eq(u64, count, 3333));
                cr_assert(eq(sz, n, 20));
                /* 20 page entities + the stage run (tenancy). */
                cr_assert(eq(u64, after.decodes - before.decodes, 21));
                cr_assert(le(u64, after.key_steps - before.key_steps,
                             3000 + 20 + 1));
                for (size_t i = 0; i < n; i++) {
                        cr_assert(eq(int, items[i].m.status,
                                     SR_ST_DISPATCHED));
                        cr_assert(eq(u32, items[i].target_index,
                                     (uint32_t)(3 * (3000 + i) + 1)));
                }
                free(items);
        }
        /* A first page: 20 steps, the count from the counter. */
        q.offset = 0;
        before = stats();
        t0 = now_ms();
        cr_assert(eq(int, sr_proj_list_target_runs(proj, ENT_A, sid, &q,
                                                   &items, &n, &count, &ec),
                     SR_OK));
        t_page = now_ms() - t0;
        after = stats();
        free(items);
        cr_assert(eq(u64, count, 3333));
        cr_assert(le(u64, after.key_steps - before.key_steps, 21));
        cr_log_info("10k target runs: apply %.1f ms; page at offset 3000: "
                    "best %.3f ms; first page %.3f ms",
                    t_apply, best, t_page);
        cr_assert(lt(dbl, best, 50.0)); /* generous: sanitizers, CI */

        /* Counts by status add up, ordered by status too. */
        q = query_order(SR_PROJ_ORDER_STATUS, true);
        q.limit = 20;
        q.offset = 6660;
        before = stats();
        cr_assert(eq(int, sr_proj_list_target_runs(proj, ENT_A, sid, &q,
                                                   &items, &n, &count, &ec),
                     SR_OK));
        after = stats();
        cr_assert(eq(u64, count, 10000));
        cr_assert(eq(sz, n, 20));
        /* -status: success (3333), pending (3334), dispatched (3333):
         * offset 6660 is the first pending-bucket leftovers then into
         * dispatched; whole buckets are skipped by their counters. */
        cr_assert(eq(int, items[0].m.status, SR_ST_PENDING));
        cr_assert(eq(int, items[19].m.status, SR_ST_DISPATCHED));
        cr_assert(le(u64, after.key_steps - before.key_steps,
                     (6660 - 3333) + 20 + 2));
        free(items);
}

/* ------------------------------------------------------------ offsets */

Test(sr_proj, offsets_survive_reopen_and_older_records_are_skipped)
{
        sr_entity_t run = mk_run("r1", ENT_A, "canary", 1, SR_ST_RUNNING, 100);
        sr_entity_t old = run;
        char key[SR_ENTITY_KEY_MAX];
        size_t klen = sr_entity_key(&run, key);
        sr_errctx_t ec = { 0 };
        sr_changelog_t cl;
        sr_buf_t v1 = { 0 }, v2 = { 0 };
        int64_t next[4] = { 7, 7, 7, 7 };
        sr_pipeline_run_t pr;
        sr_proj_txn_t *txn;
        sr_proj_stats_t s;

        old.u.pr.m.status = SR_ST_PENDING;
        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_ENTITY;
        cl.u.entity = old;
        cr_assert(eq(int, sr_codec_encode_changelog(codec, &cl, &v1, &ec),
                     SR_OK));
        cl.u.entity = run;
        cr_assert(eq(int, sr_codec_encode_changelog(codec, &cl, &v2, &ec),
                     SR_OK));

        cr_assert(eq(int, sr_proj_offsets(proj, next, 4, &ec), SR_OK));
        for (int p = 0; p < 4; p++)
                cr_assert(eq(i64, next[p], -1));
        txn = begin();
        cr_assert(eq(int, sr_proj_apply(txn, 0, 41, sr_slice(key, klen),
                                        sr_buf_slice(&v1), &ec),
                     SR_OK));
        cr_assert(eq(int, sr_proj_apply(txn, 3, 10, sr_slice(key, klen),
                                        sr_buf_slice(&v2), &ec),
                     SR_OK));
        commit(txn);
        /* Uncommitted work is not counted. */
        txn = begin();
        cr_assert(eq(int, sr_proj_apply(txn, 1, 5, sr_slice(key, klen),
                                        sr_buf_slice(&v2), &ec),
                     SR_OK));
        sr_proj_abort(txn);

        proj_reopen();
        cr_assert(eq(int, sr_proj_offsets(proj, next, 4, &ec), SR_OK));
        cr_assert(eq(i64, next[0], 42));
        cr_assert(eq(i64, next[1], -1));
        cr_assert(eq(i64, next[2], -1));
        cr_assert(eq(i64, next[3], 11));
        cr_assert(eq(int, sr_proj_get_pipeline_run(proj, ENT_A, &run.u.pr.m.id,
                                                   &pr, &ec),
                     SR_OK));
        cr_assert(eq(int, pr.m.status, SR_ST_RUNNING));

        /* A redelivered older record of partition 3 cannot move the run
         * back to pending. */
        txn = begin();
        cr_assert(eq(int, sr_proj_apply(txn, 3, 9, sr_slice(key, klen),
                                        sr_buf_slice(&v1), &ec),
                     SR_OK));
        commit(txn);
        sr_proj_stats(proj, &s);
        cr_assert(eq(u64, s.skipped, 1));
        cr_assert(eq(int, sr_proj_get_pipeline_run(proj, ENT_A, &run.u.pr.m.id,
                                                   &pr, &ec),
                     SR_OK));
        cr_assert(eq(int, pr.m.status, SR_ST_RUNNING));
        sr_buf_free(&v1);
        sr_buf_free(&v2);
}

Test(sr_proj, clear_empties_entities_indexes_counters_and_offsets)
{
        sr_entity_t op0, op1, stage = small_stage(&op0, &op1);
        sr_entity_t run = mk_run("r1", ENT_A, "canary", 1, SR_ST_RUNNING, 100);
        sr_proj_query_t q = query();
        sr_pipeline_run_t pr;
        sr_errctx_t ec = { 0 };
        int64_t next = 0;
        uint64_t count;

        cr_assert(eq(int, sr_proj_clear(proj, &ec), SR_OK), "%s", ec.msg);
        cr_assert(eq(int, sr_proj_offsets(proj, &next, 1, &ec), SR_OK));
        cr_assert(eq(i64, next, -1));
        cr_assert(eq(int, sr_proj_get_pipeline_run(proj, ENT_A, &run.u.pr.m.id,
                                                   &pr, &ec),
                     SR_ERR_NOT_FOUND));
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), ""));
        cr_assert(eq(u64, count, 0));
        /* Replayed from offset 0: counts start from zero again. */
        next_off = 0;
        stage = small_stage(&op0, &op1);
        cr_assert(eq(str, targets_of(&stage.u.sr.m.id, &q, &count),
                     "0,1,2,3,100,101,102,103"));
        cr_assert(eq(u64, count, 8));
}

/* ------------------------------------------------------------ tombstones */

Test(sr_proj, a_tombstone_removes_the_entity_and_its_index_entries)
{
        sr_entity_t op0, op1, stage = small_stage(&op0, &op1);
        const sr_uuid_t *sid = &stage.u.sr.m.id;
        sr_entity_t tr = mk_target(&stage, &op0, 1, SR_ST_PENDING);
        sr_entity_t run = mk_run("r1", ENT_A, "canary", 1, SR_ST_RUNNING, 100);
        sr_proj_query_t q;
        sr_target_run_t t;
        sr_errctx_t ec = { 0 };
        uint64_t count;
        uint32_t ver;

        tombstone(&tr);
        cr_assert(eq(int, sr_proj_get_target_run(proj, ENT_A, sid,
                                                 &tr.u.tr.m.id, &t, &ec),
                     SR_ERR_NOT_FOUND));
        cr_assert(eq(int, sr_proj_version(proj, SR_ENT_TARGET_RUN,
                                          &tr.u.tr.m.id, &ver, &ec),
                     SR_ERR_NOT_FOUND));
        q = query();
        cr_assert(eq(str, targets_of(sid, &q, &count),
                     "0,2,3,100,101,102,103"));
        cr_assert(eq(u64, count, 7));
        q = query_status(SR_ST_PENDING);
        cr_assert(eq(str, targets_of(sid, &q, &count), "3,101,103"));
        cr_assert(eq(u64, count, 3));
        q.operation_id = &op0.u.op.id;
        cr_assert(eq(str, targets_of(sid, &q, &count), "3"));
        cr_assert(eq(u64, count, 1));
        q = query_order(SR_PROJ_ORDER_STATUS, false);
        cr_assert(eq(str, targets_of(sid, &q, &count),
                     "2,102,3,101,103,0,100"));
        cr_assert(eq(u64, count, 7));

        /* The pipeline run leaves every list. */
        tombstone(&run);
        q = query();
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), ""));
        cr_assert(eq(u64, count, 0));
        q.pipeline_name = "canary";
        q.has_status = true;
        q.status = SR_ST_RUNNING;
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), ""));
        cr_assert(eq(u64, count, 0));

        /* A second tombstone of the same key changes nothing. */
        tombstone(&tr);
        q = query();
        cr_assert(eq(str, targets_of(sid, &q, &count),
                     "0,2,3,100,101,102,103"));
        /* Re-created after its tombstone: back in the lists. */
        put(&tr);
        cr_assert(eq(str, targets_of(sid, &q, &count),
                     "0,1,2,3,100,101,102,103"));
        cr_assert(eq(u64, count, 8));
}

/* ------------------------------------------------------------ retired runs */

/* A retired run's marker for @p run (key <run>/r), retired at @p at. */
static void retire(const sr_entity_t *run, int64_t at)
{
        char key[SR_ENTITY_KEY_MAX];
        size_t klen = sr_run_key_prefix(&run->u.pr.m.id, key);
        sr_proj_txn_t *txn = begin();
        sr_changelog_t cl;

        key[klen++] = 'r';
        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_RETIRED;
        cl.u.retired.pipeline_run_id = run->u.pr.m.id;
        memcpy(cl.u.retired.enterprise_id, run->u.pr.enterprise_id,
               sizeof(cl.u.retired.enterprise_id));
        cl.u.retired.pipeline_id = run->u.pr.pipeline_id;
        cl.u.retired.ended_at = at - 1000;
        cl.u.retired.retired_at = at;
        cl.u.retired.forget_at = at + 5000;
        put_cl(txn, &cl, key, klen);
        commit(txn);
}

/* The tombstone of @p run's marker. */
static void forget(const sr_entity_t *run)
{
        char key[SR_ENTITY_KEY_MAX];
        size_t klen = sr_run_key_prefix(&run->u.pr.m.id, key);
        sr_proj_txn_t *txn = begin();
        sr_errctx_t ec = { 0 };

        key[klen++] = 'r';
        cr_assert(eq(int, put_raw(txn, sr_slice(key, klen),
                                  sr_slice(NULL, 0), &ec),
                     SR_OK),
                  "%s", ec.msg);
        commit(txn);
}

static sr_proj_size_t size_now(void)
{
        sr_proj_size_t z;
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_proj_size(proj, &z, &ec), SR_OK), "%s", ec.msg);
        return z;
}

Test(sr_proj, a_retired_marker_removes_what_is_left_of_the_run_and_notes_it)
{
        sr_entity_t op0, op1, stage = small_stage(&op0, &op1);
        const sr_uuid_t *sid = &stage.u.sr.m.id;
        sr_entity_t r1 = mk_run("r1", ENT_A, "canary", 1, SR_ST_RUNNING, 100);
        sr_entity_t r2 = mk_run("r2", ENT_A, "canary", 2, SR_ST_RUNNING, 200);
        sr_entity_t s2 = mk_stage(&r2, 0, SR_ST_PROCESSING);
        sr_entity_t r3 = mk_run("r3", ENT_B, "canary", 1, SR_ST_RUNNING, 300);
        sr_entity_t tr = mk_target(&stage, &op0, 1, SR_ST_PENDING);
        sr_proj_size_t before, after;
        sr_proj_query_t q = query();
        sr_pipeline_run_t pr;
        sr_target_run_t t;
        sr_stage_run_t st;
        sr_errctx_t ec = { 0 };
        sr_proj_retired_t at = { 0 };
        uint64_t count;

        before = size_now(); /* r1 only */
        put(&r2);
        put(&s2);
        put(&r3);
        /* Part of r1 was tombstoned already, the rest is left. */
        tombstone(&tr);
        tombstone(&op1);
        retire(&r1, 987654321000);

        cr_assert(eq(int, sr_proj_get_pipeline_run(proj, ENT_A,
                                                   &r1.u.pr.m.id, &pr, &ec),
                     SR_ERR_NOT_FOUND));
        cr_assert(eq(int, sr_proj_get_stage_run(proj, ENT_A, NULL, sid, &st,
                                                &ec),
                     SR_ERR_NOT_FOUND));
        tr = mk_target(&stage, &op1, 2, SR_ST_FAILURE);
        cr_assert(eq(int, sr_proj_get_target_run(proj, ENT_A, sid,
                                                 &tr.u.tr.m.id, &t, &ec),
                     SR_ERR_NOT_FOUND));
        /* Its stage's lists: the parent is gone. */
        {
                sr_target_run_t *items = NULL;
                size_t n = 0;

                cr_assert(eq(int, sr_proj_list_target_runs(proj, ENT_A, sid,
                                                           &q, &items, &n,
                                                           &count, &ec),
                             SR_ERR_NOT_FOUND));
        }
        /* Lists and counts are exact: only r2 is left of ENT_A. */
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), "2"));
        cr_assert(eq(u64, count, 1));
        q.pipeline_name = "canary";
        q.has_status = true;
        q.status = SR_ST_RUNNING;
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), "2"));
        cr_assert(eq(u64, count, 1));
        q = query_order(SR_PROJ_ORDER_RUN_NUMBER, false);
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), "2"));
        cr_assert(eq(u64, count, 1));
        q = query();
        cr_assert(eq(str, runs_of(ENT_B, &q, &count), "1"));
        /* Nothing of r1 is stored: r2, its stage and r3 only. */
        after = size_now();
        cr_assert(eq(u64, after.entities, 3));
        cr_assert(eq(u64, after.keys, 3));
        cr_assert(eq(u64, after.retired, 1));
        cr_assert(lt(u64, after.index_entries, before.index_entries));

        /* The note: its enterprise only. */
        cr_assert(eq(int, sr_proj_get_retired(proj, ENT_A, &r1.u.pr.m.id,
                                              &at, &ec),
                     SR_OK),
                  "%s", ec.msg);
        cr_assert(eq(i64, at.retired_at, 987654321000));
        cr_assert(eq(i64, at.forget_at, 987654326000));
        cr_assert(sr_uuid_eq(&at.pipeline_id, &r1.u.pr.pipeline_id));
        cr_assert(eq(int, sr_proj_get_retired(proj, ENT_B, &r1.u.pr.m.id,
                                              &at, &ec),
                     SR_ERR_NOT_FOUND));
        cr_assert(eq(int, sr_proj_get_retired(proj, ENT_A, &r2.u.pr.m.id,
                                              &at, &ec),
                     SR_ERR_NOT_FOUND));
        /* Retiring r2 and r3 too leaves no entity, key, index entry or
         * counter: the projection holds only the notes. */
        retire(&r2, 987654322000);
        retire(&r3, 987654323000);
        after = size_now();
        cr_assert(eq(u64, after.entities, 0));
        cr_assert(eq(u64, after.keys, 0));
        cr_assert(eq(u64, after.index_entries, 0));
        cr_assert(eq(u64, after.counters, 0));
        cr_assert(eq(u64, after.retired, 3));
}

Test(sr_proj, the_markers_tombstone_forgets_the_note_and_unknown_ones_are_harmless)
{
        sr_entity_t r1 = mk_run("r1", ENT_A, "canary", 1, SR_ST_SUCCESS, 100);
        sr_entity_t r9 = mk_run("r9", ENT_A, "canary", 9, SR_ST_SUCCESS, 900);
        sr_errctx_t ec = { 0 };
        sr_proj_retired_t at;
        int64_t next = 0;

        put(&r1);
        retire(&r1, 5000);
        cr_assert(eq(int, sr_proj_get_retired(proj, ENT_A, &r1.u.pr.m.id,
                                              &at, &ec),
                     SR_OK));
        forget(&r1);
        cr_assert(eq(int, sr_proj_get_retired(proj, ENT_A, &r1.u.pr.m.id,
                                              &at, &ec),
                     SR_ERR_NOT_FOUND));
        forget(&r1); /* again: nothing */
        forget(&r9); /* never retired: nothing */
        cr_assert(eq(u64, size_now().retired, 0));
        cr_assert(eq(u64, size_now().entities, 0));
        cr_assert(eq(int, sr_proj_offsets(proj, &next, 1, &ec), SR_OK));
        cr_assert(eq(i64, next, next_off));
}

Test(sr_proj, a_retired_marker_under_another_key_is_corrupt_and_changes_nothing)
{
        sr_entity_t r1 = mk_run("r1", ENT_A, "canary", 1, SR_ST_SUCCESS, 100);
        sr_entity_t r2 = mk_run("r2", ENT_A, "canary", 2, SR_ST_SUCCESS, 200);
        char key[SR_ENTITY_KEY_MAX];
        size_t klen = sr_run_key_prefix(&r2.u.pr.m.id, key);
        sr_proj_txn_t *txn;
        sr_changelog_t cl;
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_pipeline_run_t pr;
        sr_proj_retired_t at;

        put(&r1);
        key[klen++] = 'r'; /* r2's key, r1's marker */
        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_RETIRED;
        cl.u.retired.pipeline_run_id = r1.u.pr.m.id;
        snprintf(cl.u.retired.enterprise_id,
                 sizeof(cl.u.retired.enterprise_id), ENT_A);
        cr_assert(eq(int, sr_codec_encode_changelog(codec, &cl, &buf, &ec),
                     SR_OK));
        txn = begin();
        cr_assert(eq(int, put_raw(txn, sr_slice(key, klen),
                                  sr_buf_slice(&buf), &ec),
                     SR_ERR_CORRUPT));
        cr_assert(not(eq(ptr, strstr(ec.msg, "<its run>/r"), NULL)), "%s",
                  ec.msg);
        commit(txn);
        sr_buf_free(&buf);
        cr_assert(eq(int, sr_proj_get_pipeline_run(proj, ENT_A,
                                                   &r1.u.pr.m.id, &pr, &ec),
                     SR_OK));
        cr_assert(eq(int, sr_proj_get_retired(proj, ENT_A, &r1.u.pr.m.id,
                                              &at, &ec),
                     SR_ERR_NOT_FOUND));
}

/* ------------------------------------------------------------ other kinds */

Test(sr_proj, dedupe_entries_and_markers_only_advance_the_offset)
{
        sr_uuid_t run_id = uid("r1"), input = uid("input");
        char key[SR_ENTITY_KEY_MAX];
        sr_proj_query_t q = query();
        sr_proj_txn_t *txn = begin();
        sr_changelog_t cl;
        sr_errctx_t ec = { 0 };
        int64_t next = 0;
        uint64_t count;
        size_t klen;

        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_DEDUPE;
        cl.u.dedupe.input_id = input;
        cl.u.dedupe.pipeline_run_id = run_id;
        klen = sr_dedupe_key(&run_id, &input, key);
        put_cl(txn, &cl, key, klen);
        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_MARKER;
        snprintf(cl.u.marker.batch_id, sizeof(cl.u.marker.batch_id), "b-1");
        cl.u.marker.commands_offset = 12;
        put_cl(txn, &cl, "~marker", 7);
        /* Their tombstones (compaction) are no-ops too. */
        cr_assert(eq(int, put_raw(txn, sr_slice(key, klen), sr_slice(NULL, 0),
                                  &ec),
                     SR_OK));
        cr_assert(eq(int, put_raw(txn, sr_slice("~marker", 7),
                                  sr_slice(NULL, 0), &ec),
                     SR_OK));
        commit(txn);

        cr_assert(eq(int, sr_proj_offsets(proj, &next, 1, &ec), SR_OK));
        cr_assert(eq(i64, next, 4));
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), ""));
        cr_assert(eq(u64, count, 0));
}

/* ------------------------------------------------------------ chunks */

/* A device id whose first byte is @p k: the 'D' index orders by it. */
static sr_uuid_t dev_id(unsigned k)
{
        sr_uuid_t u;

        memset(&u, 0, sizeof(u));
        u.b[0] = (uint8_t)k;
        u.b[6] = 0x40;
        u.b[8] = 0x80;
        u.b[15] = 0x5a;
        return u;
}

/* Chunk @p chunk of stage @p si of @p run: devices @p devs[0..n-1],
 * named "dev-<k>"; the odd ones given a target id and an alias. The
 * caller frees c->targets. */
static sr_stage_chunk_t mk_chunk(const sr_entity_t *run, uint32_t si,
                                 uint32_t chunk, const unsigned *devs,
                                 uint32_t n)
{
        sr_stage_chunk_t c;

        memset(&c, 0, sizeof(c));
        c.pipeline_run_id = run->u.pr.m.id;
        c.stage_index = si;
        c.chunk = chunk;
        c.n_targets = n;
        c.targets = calloc(n, sizeof(*c.targets));
        cr_assert(not(eq(ptr, c.targets, NULL)));
        for (uint32_t i = 0; i < n; i++) {
                sr_spec_target_t *t = &c.targets[i];

                t->device_id = dev_id(devs[i]);
                snprintf(t->device_name, sizeof(t->device_name), "dev-%u",
                         devs[i]);
                if (devs[i] % 2) {
                        sr_uuid_v5(&t->target_id, &sr_ns, "tgt/%u", devs[i]);
                        snprintf(t->device_alias, sizeof(t->device_alias),
                                 "alias-%u", devs[i]);
                }
        }
        return c;
}

/* The chunk, in its own batch, under its key; its targets freed. */
static void put_chunk(sr_stage_chunk_t *c)
{
        char key[SR_ENTITY_KEY_MAX];
        size_t klen = sr_chunk_key(c, key);
        sr_proj_txn_t *txn = begin();
        sr_changelog_t cl;

        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_CHUNK;
        cl.u.chunk = *c; /* borrowed */
        put_cl(txn, &cl, key, klen);
        commit(txn);
}

static void tombstone_chunk(uint32_t si, uint32_t chunk,
                            const sr_entity_t *run)
{
        sr_stage_chunk_t c = { .pipeline_run_id = run->u.pr.m.id,
                               .stage_index = si, .chunk = chunk };
        char key[SR_ENTITY_KEY_MAX];
        size_t klen = sr_chunk_key(&c, key);
        sr_proj_txn_t *txn = begin();
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, put_raw(txn, sr_slice(key, klen), sr_slice(NULL, 0),
                                  &ec),
                     SR_OK), "%s", ec.msg);
        commit(txn);
}

/* An open stage run @p index of @p run, stored. */
static sr_entity_t open_stage(const sr_entity_t *run, uint32_t index)
{
        sr_entity_t stage = mk_stage(run, index, SR_ST_PENDING);

        stage.u.sr.append_targets = true;
        put(&stage);
        return stage;
}

/* Appended targets of a stage as "dev-1@0.1,..." (name@chunk.item);
 * asserts SR_OK. */
static char *appended_of(const sr_entity_t *stage, const sr_proj_query_t *q,
                         uint64_t *count, sr_proj_target_t **keep)
{
        static char out[4096];
        sr_proj_target_t *items = NULL;
        sr_errctx_t ec = { 0 };
        uint64_t c = 0;
        size_t n = 0, len = 0;

        cr_assert(eq(int, sr_proj_list_stage_targets(
                                  proj, stage->u.sr.enterprise_id,
                                  &stage->u.sr.pipeline_run_id,
                                  &stage->u.sr.m.id, q, &items, &n, &c, &ec),
                     SR_OK), "%s", ec.msg);
        out[0] = '\0';
        for (size_t i = 0; i < n && len < sizeof(out) - 32; i++)
                len += (size_t)snprintf(out + len, sizeof(out) - len,
                                        "%s%s@%u.%u", i ? "," : "",
                                        items[i].device_name, items[i].chunk,
                                        items[i].item);
        if (keep)
                *keep = items;
        else
                free(items);
        if (count)
                *count = c;
        return out;
}

Test(sr_proj, appended_targets_of_several_chunks_list_by_device_id)
{
        static const unsigned c0[] = { 5, 1, 9 }, c1[] = { 2, 7 };
        sr_entity_t run = mk_run("r1", ENT_A, "canary", 1, SR_ST_RUNNING, 100);
        sr_entity_t stage;
        sr_stage_chunk_t a = mk_chunk(&run, 0, 0, c0, 3);
        sr_stage_chunk_t b = mk_chunk(&run, 0, 1, c1, 2);
        sr_proj_query_t q = query();
        sr_proj_target_t *items;
        char rid[SR_UUID_STR_LEN + 1], dev[SR_UUID_STR_LEN + 1];
        sr_uuid_t want;
        uint64_t count;

        put(&run);
        stage = open_stage(&run, 0);
        put_chunk(&b);
        put_chunk(&a);
        cr_assert(eq(str, appended_of(&stage, &q, &count, &items),
                     "dev-1@0.1,dev-2@1.0,dev-5@0.0,dev-7@1.1,dev-9@0.2"));
        cr_assert(eq(u64, count, 5));
        /* given: as given, with its alias; not given: the id its target
         * runs will carry (the state machine's own derivation) */
        cr_assert(eq(int, memcmp(&items[0].target_id, &a.targets[1].target_id,
                                 sizeof(sr_uuid_t)), 0));
        cr_assert(eq(str, items[0].device_alias, "alias-1"));
        cr_assert(eq(int, memcmp(&items[0].device_id, &a.targets[1].device_id,
                                 sizeof(sr_uuid_t)), 0));
        sr_uuid_fmt(&run.u.pr.m.id, rid);
        sr_uuid_fmt(&b.targets[0].device_id, dev);
        sr_uuid_v5(&want, &sr_ns, "%s/stage/%u/device/%s/target", rid, 0u,
                   dev);
        cr_assert(eq(int, memcmp(&items[1].target_id, &want, sizeof(want)),
                     0));
        cr_assert(eq(str, items[1].device_alias, ""));
        free(items);
        /* offset and limit as every list; the count whatever the page */
        q.offset = 1;
        q.limit = 2;
        cr_assert(eq(str, appended_of(&stage, &q, &count, NULL),
                     "dev-2@1.0,dev-5@0.0"));
        cr_assert(eq(u64, count, 5));
        q.offset = 5;
        cr_assert(eq(str, appended_of(&stage, &q, &count, NULL), ""));
        cr_assert(eq(u64, count, 5));
        free(a.targets);
        free(b.targets);
}

Test(sr_proj, appended_targets_page_by_cursor_first_middle_last_page)
{
        static const unsigned c0[] = { 40, 10, 30 }, c1[] = { 20, 50 };
        sr_entity_t run = mk_run("r1", ENT_A, "canary", 1, SR_ST_RUNNING, 100);
        sr_entity_t stage;
        sr_stage_chunk_t a = mk_chunk(&run, 0, 0, c0, 3);
        sr_stage_chunk_t b = mk_chunk(&run, 0, 1, c1, 2);
        sr_proj_query_t q = query();
        sr_proj_page_t page = { 0 };
        sr_proj_stats_t before, after;
        char first[SR_PROJ_CURSOR_MAX], middle[SR_PROJ_CURSOR_MAX];
        uint64_t count;

        put(&run);
        stage = open_stage(&run, 0);
        put_chunk(&a);
        put_chunk(&b);
        q.limit = 2;
        q.page = &page;
        cr_assert(eq(str, appended_of(&stage, &q, &count, NULL),
                     "dev-10@0.1,dev-20@1.0"));
        cr_assert(page.keyset);
        cr_assert(not(eq(str, page.next, "")));
        snprintf(first, sizeof(first), "%s", page.next);
        /* a page costs a seek and limit + 1 key steps, wherever it is */
        q.cursor = first;
        before = stats();
        cr_assert(eq(str, appended_of(&stage, &q, &count, NULL),
                     "dev-30@0.2,dev-40@0.0"));
        after = stats();
        cr_assert(le(u64, after.key_steps - before.key_steps, 3));
        cr_assert(eq(u64, count, 5));
        snprintf(middle, sizeof(middle), "%s", page.next);
        cr_assert(not(eq(str, middle, "")));
        q.cursor = middle;
        cr_assert(eq(str, appended_of(&stage, &q, &count, NULL),
                     "dev-50@1.1"));
        cr_assert(eq(str, page.next, ""));
        /* a device appended behind the cursor is not seen, ahead it is */
        {
                static const unsigned c2[] = { 5, 35 };
                sr_stage_chunk_t c = mk_chunk(&run, 0, 2, c2, 2);

                put_chunk(&c);
                free(c.targets);
        }
        q.cursor = first;
        q.limit = 10;
        cr_assert(eq(str, appended_of(&stage, &q, &count, NULL),
                     "dev-30@0.2,dev-35@2.1,dev-40@0.0,dev-50@1.1"));
        cr_assert(eq(u64, count, 7));
        free(a.targets);
        free(b.targets);
}

Test(sr_proj, an_appended_targets_cursor_of_another_list_is_refused)
{
        static const unsigned c0[] = { 1, 2, 3 };
        sr_entity_t run = mk_run("r1", ENT_A, "canary", 1, SR_ST_RUNNING, 100);
        sr_entity_t s0, s1;
        sr_stage_chunk_t a = mk_chunk(&run, 0, 0, c0, 3);
        sr_proj_query_t q = query();
        sr_proj_page_t page = { 0 };
        sr_proj_target_t *items = NULL;
        char cur[SR_PROJ_CURSOR_MAX];
        sr_errctx_t ec = { 0 };
        uint64_t count;
        size_t n;

        put(&run);
        s0 = open_stage(&run, 0);
        s1 = open_stage(&run, 1);
        put_chunk(&a);
        q.limit = 1;
        q.page = &page;
        appended_of(&s0, &q, &count, NULL);
        snprintf(cur, sizeof(cur), "%s", page.next);
        q.cursor = cur;
        cr_assert(eq(int, sr_proj_list_stage_targets(
                                  proj, ENT_A, &run.u.pr.m.id, &s1.u.sr.m.id,
                                  &q, &items, &n, &count, &ec),
                     SR_ERR_INVALID));
        cr_assert(eq(int, strncmp(ec.msg, "cursor: ", 8), 0), "%s", ec.msg);
        q.cursor = NULL;
        q.has_status = true;
        q.status = SR_ST_PENDING;
        cr_assert(eq(int, sr_proj_list_stage_targets(
                                  proj, ENT_A, &run.u.pr.m.id, &s0.u.sr.m.id,
                                  &q, &items, &n, &count, &ec),
                     SR_ERR_INVALID));
        free(a.targets);
}

Test(sr_proj, a_chunks_tombstone_removes_its_targets_and_no_others)
{
        static const unsigned c0[] = { 5, 1 }, c1[] = { 2, 7 };
        sr_entity_t run = mk_run("r1", ENT_A, "canary", 1, SR_ST_RUNNING, 100);
        sr_entity_t stage;
        sr_stage_chunk_t a = mk_chunk(&run, 0, 0, c0, 2);
        sr_stage_chunk_t b = mk_chunk(&run, 0, 1, c1, 2);
        sr_proj_query_t q = query();
        sr_proj_size_t before;
        uint64_t count;

        put(&run);
        stage = open_stage(&run, 0);
        before = size_now();
        put_chunk(&a);
        put_chunk(&b);
        cr_assert(eq(u64, size_now().chunks, 2));
        tombstone_chunk(0, 0, &run);
        cr_assert(eq(str, appended_of(&stage, &q, &count, NULL),
                     "dev-2@1.0,dev-7@1.1"));
        cr_assert(eq(u64, count, 2));
        /* again, and a chunk never applied: nothing more */
        tombstone_chunk(0, 0, &run);
        tombstone_chunk(0, 9, &run);
        tombstone_chunk(0, 1, &run);
        cr_assert(eq(str, appended_of(&stage, &q, &count, NULL), ""));
        cr_assert(eq(u64, count, 0));
        /* nothing leaks: index entries, counters, chunk records */
        cr_assert(eq(u64, size_now().index_entries, before.index_entries));
        cr_assert(eq(u64, size_now().counters, before.counters));
        cr_assert(eq(u64, size_now().chunks, 0));
        free(a.targets);
        free(b.targets);
}

Test(sr_proj, a_chunk_applied_again_is_listed_and_counted_once)
{
        static const unsigned c0[] = { 5, 1 };
        sr_entity_t run = mk_run("r1", ENT_A, "canary", 1, SR_ST_RUNNING, 100);
        sr_entity_t stage;
        sr_stage_chunk_t a = mk_chunk(&run, 0, 0, c0, 2);
        sr_proj_query_t q = query();
        uint64_t count;

        put(&run);
        stage = open_stage(&run, 0);
        put_chunk(&a);
        put_chunk(&a);
        cr_assert(eq(str, appended_of(&stage, &q, &count, NULL),
                     "dev-1@0.1,dev-5@0.0"));
        cr_assert(eq(u64, count, 2));
        free(a.targets);
}

Test(sr_proj, a_retired_marker_removes_the_runs_chunks_and_their_targets)
{
        static const unsigned c0[] = { 5, 1 }, c1[] = { 2 };
        sr_entity_t r1 = mk_run("r1", ENT_A, "canary", 1, SR_ST_SUCCESS, 100);
        sr_entity_t r2 = mk_run("r2", ENT_A, "canary", 2, SR_ST_RUNNING, 200);
        sr_entity_t s2;
        sr_stage_chunk_t a = mk_chunk(&r1, 0, 0, c0, 2);
        sr_stage_chunk_t b = mk_chunk(&r1, 1, 0, c1, 1);
        sr_stage_chunk_t other = mk_chunk(&r2, 0, 0, c0, 2);
        sr_proj_query_t q = query();
        sr_proj_size_t z;
        uint64_t count;

        put(&r1);
        open_stage(&r1, 0);
        open_stage(&r1, 1);
        put(&r2);
        s2 = open_stage(&r2, 0);
        put_chunk(&a);
        put_chunk(&b);
        put_chunk(&other);
        retire(&r1, 987654321000);
        z = size_now();
        cr_assert(eq(u64, z.chunks, 1));
        /* r2's stage's two entries and its counter are all that is left
         * of the chunks (r2 and its stage run have 6 + 1 entries) */
        cr_assert(eq(u64, z.index_entries, 6 + 1 + 2));
        cr_assert(eq(str, appended_of(&s2, &q, &count, NULL),
                     "dev-1@0.1,dev-5@0.0"));
        cr_assert(eq(u64, count, 2));
        free(a.targets);
        free(b.targets);
        free(other.targets);
}

Test(sr_proj, an_inline_stage_lists_no_targets_and_a_foreign_one_is_not_found)
{
        static const unsigned c0[] = { 5, 1 };
        sr_entity_t run = mk_run("r1", ENT_A, "canary", 1, SR_ST_RUNNING, 100);
        sr_entity_t r2 = mk_run("r2", ENT_A, "canary", 2, SR_ST_RUNNING, 200);
        sr_entity_t inline_stage = mk_stage(&run, 1, SR_ST_PENDING);
        sr_entity_t stage;
        sr_stage_chunk_t a = mk_chunk(&run, 0, 0, c0, 2);
        sr_proj_query_t q = query();
        sr_proj_page_t page = { 0 };
        sr_proj_target_t *items = NULL;
        sr_uuid_t nope = uid("nope");
        sr_errctx_t ec = { 0 };
        uint64_t count = 9;
        size_t n = 9;

        put(&run);
        put(&r2);
        stage = open_stage(&run, 0);
        put(&inline_stage);
        put_chunk(&a);
        q.page = &page;
        cr_assert(eq(str, appended_of(&inline_stage, &q, &count, NULL), ""));
        cr_assert(eq(u64, count, 0));
        cr_assert(page.keyset);
        cr_assert(eq(str, page.next, ""));
        /* another enterprise, another run, no such stage run */
        cr_assert(eq(int, sr_proj_list_stage_targets(
                                  proj, ENT_B, &run.u.pr.m.id,
                                  &stage.u.sr.m.id, &q, &items, &n, &count,
                                  &ec),
                     SR_ERR_NOT_FOUND));
        cr_assert(eq(int, sr_proj_list_stage_targets(
                                  proj, ENT_A, &r2.u.pr.m.id,
                                  &stage.u.sr.m.id, &q, &items, &n, &count,
                                  &ec),
                     SR_ERR_NOT_FOUND));
        cr_assert(eq(int, sr_proj_list_stage_targets(
                                  proj, ENT_A, &run.u.pr.m.id, &nope, &q,
                                  &items, &n, &count, &ec),
                     SR_ERR_NOT_FOUND));
        free(a.targets);
}

Test(sr_proj, a_chunk_under_another_key_is_corrupt_and_changes_nothing)
{
        static const unsigned c0[] = { 5 };
        sr_entity_t run = mk_run("r1", ENT_A, "canary", 1, SR_ST_RUNNING, 100);
        sr_entity_t stage;
        sr_stage_chunk_t a = mk_chunk(&run, 0, 0, c0, 1);
        sr_stage_chunk_t b = a;
        char key[SR_ENTITY_KEY_MAX];
        size_t klen;
        sr_proj_txn_t *txn;
        sr_changelog_t cl;
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_proj_query_t q = query();
        uint64_t count;

        put(&run);
        stage = open_stage(&run, 0);
        b.chunk = 1;
        klen = sr_chunk_key(&b, key); /* chunk 0 under chunk 1's key */
        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_CHUNK;
        cl.u.chunk = a;
        cr_assert(eq(int, sr_codec_encode_changelog(codec, &cl, &buf, &ec),
                     SR_OK), "%s", ec.msg);
        txn = begin();
        cr_assert(eq(int, put_raw(txn, sr_slice(key, klen),
                                  sr_buf_slice(&buf), &ec),
                     SR_ERR_CORRUPT));
        cr_assert(not(eq(ptr, strstr(ec.msg, "not \""), NULL)), "%s", ec.msg);
        sr_proj_abort(txn);
        cr_assert(eq(str, appended_of(&stage, &q, &count, NULL), ""));
        sr_buf_free(&buf);
        free(a.targets);
}

Test(sr_proj, a_garbage_value_is_corrupt_and_changes_nothing)
{
        sr_entity_t run = mk_run("r1", ENT_A, "canary", 1, SR_ST_RUNNING, 100);
        static const uint8_t garbage[] = { 0x00, 0x00, 0x00, 0x00, 0x04,
                                           0xff, 0xff, 0xff, 0x13, 0x37 };
        char key[SR_ENTITY_KEY_MAX];
        size_t klen = sr_entity_key(&run, key);
        sr_proj_query_t q = query();
        sr_pipeline_run_t pr;
        sr_proj_txn_t *txn;
        sr_errctx_t ec = { 0 };
        int64_t next = 0;
        uint64_t count;

        put(&run);
        txn = begin();
        cr_assert(eq(int, sr_proj_apply(txn, 0, next_off, sr_slice(key, klen),
                                        sr_slice("hello", 5), &ec),
                     SR_ERR_CORRUPT));
        cr_assert(not(eq(ptr, strstr(ec.msg, "partition 0 offset 1"), NULL)),
                  "%s", ec.msg);
        cr_assert(eq(int, sr_proj_apply(txn, 0, next_off, sr_slice(key, klen),
                                        sr_slice(garbage, sizeof(garbage)),
                                        &ec),
                     SR_ERR_CORRUPT));
        /* The batch is still usable. */
        commit(txn);

        cr_assert(eq(int, sr_proj_offsets(proj, &next, 1, &ec), SR_OK));
        cr_assert(eq(i64, next, 1));
        /* The caller may then step over it. */
        txn = begin();
        cr_assert(eq(int, sr_proj_skip(txn, 0, 1, &ec), SR_OK), "%s", ec.msg);
        cr_assert(eq(int, sr_proj_skip(txn, 0, 0, &ec), SR_OK)); /* stale */
        commit(txn);
        cr_assert(eq(int, sr_proj_offsets(proj, &next, 1, &ec), SR_OK));
        cr_assert(eq(i64, next, 2));
        cr_assert(eq(int, sr_proj_get_pipeline_run(proj, ENT_A, &run.u.pr.m.id,
                                                   &pr, &ec),
                     SR_OK));
        cr_assert(eq(int, pr.m.status, SR_ST_RUNNING));
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), "1"));
        cr_assert(eq(u64, count, 1));
}

Test(sr_proj, a_second_batch_is_refused_while_one_is_open)
{
        sr_proj_txn_t *txn = begin(), *second = NULL;
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_proj_begin(proj, &second, &ec), SR_ERR_INVALID));
        sr_proj_abort(txn);
        txn = begin();
        sr_proj_abort(txn);
}

/* ------------------------------------------------------------ threads */

struct reader_arg {
        sr_uuid_t stage;
        int errors;
        int reads;
};

static void *reader_main(void *p)
{
        struct reader_arg *a = p;
        sr_proj_query_t q;
        sr_target_run_t *items;
        sr_errctx_t ec;
        uint64_t count;
        size_t n;

        for (int i = 0; i < 300; i++) {
                memset(&q, 0, sizeof(q));
                q.limit = 20;
                q.has_status = i % 2;
                q.status = SR_ST_SUCCESS;
                if (sr_proj_list_target_runs(proj, ENT_A, &a->stage, &q,
                                             &items, &n, &count,
                                             &ec) != SR_OK ||
                    count > 200 || n > 20)
                        a->errors++;
                else
                        free(items);
                a->reads++;
        }
        return NULL;
}

Test(sr_proj, readers_on_other_threads_see_consistent_snapshots)
{
        sr_entity_t run = mk_run("r1", ENT_A, "canary", 1, SR_ST_RUNNING, 100);
        sr_entity_t stage = mk_stage(&run, 0, SR_ST_PROCESSING);
        sr_entity_t op = mk_op(&stage, 0, NULL), tr;
        struct reader_arg args[4];
        pthread_t th[4];
        sr_proj_txn_t *txn;

        txn = begin();
        put_in(txn, &run);
        put_in(txn, &stage);
        put_in(txn, &op);
        for (uint32_t t = 0; t < 200; t++) {
                tr = mk_target(&stage, &op, t, SR_ST_PENDING);
                put_in(txn, &tr);
        }
        commit(txn);
        for (int i = 0; i < 4; i++) {
                memset(&args[i], 0, sizeof(args[i]));
                args[i].stage = stage.u.sr.m.id;
                cr_assert(eq(int, pthread_create(&th[i], NULL, reader_main,
                                                 &args[i]),
                             0));
        }
        /* The writer moves targets to success, 10 per batch. */
        for (uint32_t t = 0; t < 200; t++) {
                if (t % 10 == 0)
                        txn = begin();
                tr = mk_target(&stage, &op, t, SR_ST_SUCCESS);
                tr.u.tr.m.version = 2;
                put_in(txn, &tr);
                if (t % 10 == 9)
                        commit(txn);
        }
        for (int i = 0; i < 4; i++) {
                pthread_join(th[i], NULL);
                cr_assert(eq(int, args[i].errors, 0));
                cr_assert(eq(int, args[i].reads, 300));
        }
}

/* ------------------------------------------------------------ cursors */

/* The whole list walked by cursor, @p limit per page, as targets_of()
 * prints it; each page asserted to cost a seek and at most limit + 1 key
 * steps, the last page to give no next cursor. */
static char *targets_by_cursor(const sr_uuid_t *stage, sr_proj_query_t q,
                               uint32_t limit)
{
        static char all[4096];
        char cur[SR_PROJ_CURSOR_MAX] = "";
        sr_proj_page_t page;
        sr_proj_stats_t before, after;
        size_t len = 0;
        char *got;
        int pages = 0;

        all[0] = '\0';
        q.limit = limit;
        q.page = &page;
        do {
                q.cursor = cur[0] ? cur : NULL;
                before = stats();
                got = targets_of(stage, &q, NULL);
                after = stats();
                cr_assert(page.keyset);
                cr_assert(le(u64, after.key_steps - before.key_steps,
                             limit + 1));
                if (*got)
                        len += (size_t)snprintf(all + len, sizeof(all) - len,
                                                "%s%s", len ? "," : "", got);
                snprintf(cur, sizeof(cur), "%s", page.next);
                cr_assert(lt(int, ++pages, 100));
        } while (cur[0]);
        return all;
}

Test(sr_proj, a_target_run_cursor_walk_returns_every_entry_once_in_order)
{
        sr_entity_t op0, op1;
        sr_entity_t stage = small_stage(&op0, &op1);
        const sr_uuid_t *sid = &stage.u.sr.m.id;
        sr_proj_query_t qs[6];
        char want[4096];

        qs[0] = query();
        qs[1] = query_status(SR_ST_PENDING);
        qs[2] = query();
        qs[2].operation_id = &op1.u.op.id;
        qs[3] = query_status(SR_ST_PENDING);
        qs[3].operation_id = &op0.u.op.id;
        qs[4] = query_status(SR_ST_FAILURE);
        qs[4].order = SR_PROJ_ORDER_STATUS;
        qs[5] = query_status(SR_ST_PENDING);
        qs[5].order = SR_PROJ_ORDER_STATUS;
        qs[5].desc = true;
        for (int i = 0; i < 6; i++) {
                snprintf(want, sizeof(want), "%s", targets_of(sid, &qs[i],
                                                              NULL));
                cr_assert(not(eq(str, want, "")));
                for (uint32_t limit = 1; limit <= 9; limit++)
                        cr_assert(eq(str, targets_by_cursor(sid, qs[i], limit),
                                     want),
                                  "query %d, limit %u", i, limit);
        }
        cr_assert(eq(str, want, "103,101,3,1"));
}

Test(sr_proj, a_cursor_walk_sees_entries_inserted_ahead_never_twice_or_skipped)
{
        sr_entity_t op0, op1, tr;
        sr_entity_t stage = small_stage(&op0, &op1);
        const sr_uuid_t *sid = &stage.u.sr.m.id;
        sr_proj_query_t q = query();
        sr_proj_page_t page;
        char cur[SR_PROJ_CURSOR_MAX];
        uint64_t count;

        q.limit = 3;
        q.page = &page;
        cr_assert(eq(str, targets_of(sid, &q, &count), "0,1,2"));
        snprintf(cur, sizeof(cur), "%s", page.next);
        /* One behind the cursor (not seen), one ahead (seen), and one
         * of the page just read removed: nothing repeats or goes missing. */
        tr = mk_target(&stage, &op0, 7, SR_ST_PENDING);
        put(&tr);
        tr = mk_target(&stage, &op1, 9, SR_ST_PENDING);
        put(&tr);
        tr = mk_target(&stage, &op0, 2, SR_ST_FAILURE);
        tombstone(&tr);
        q.cursor = cur;
        cr_assert(eq(str, targets_of(sid, &q, &count), "3,7,100"));
        cr_assert(eq(u64, count, 9));
        snprintf(cur, sizeof(cur), "%s", page.next);
        cr_assert(eq(str, targets_of(sid, &q, &count), "101,102,103"));
        snprintf(cur, sizeof(cur), "%s", page.next);
        cr_assert(eq(str, targets_of(sid, &q, &count), "109"));
        cr_assert(eq(str, page.next, ""));
}

Test(sr_proj, pipeline_stage_and_operation_lists_walk_by_cursor)
{
        sr_entity_t run = mk_run("r1", ENT_A, "canary", 9, SR_ST_RUNNING, 900);
        sr_proj_query_t q;
        sr_proj_page_t page;
        sr_stage_run_t *stages = NULL;
        sr_stage_run_op_t *ops = NULL;
        sr_errctx_t ec = { 0 };
        char cur[SR_PROJ_CURSOR_MAX] = "", seen[256];
        size_t n, len;
        uint64_t count;
        sr_entity_t e;

        five_runs();
        /* Pipeline runs: default (newest first), by status, by name. */
        q = query();
        q.limit = 2;
        q.page = &page;
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), "5,4"));
        cr_assert(page.keyset);
        snprintf(cur, sizeof(cur), "%s", page.next);
        q.cursor = cur;
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), "3,2"));
        snprintf(cur, sizeof(cur), "%s", page.next);
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), "1"));
        cr_assert(eq(str, page.next, ""));
        cr_assert(eq(u64, count, 5));
        q = query_status(SR_ST_RUNNING);
        q.limit = 1;
        q.page = &page;
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), "4"));
        q.cursor = page.next[0] ? strcpy(cur, page.next) : NULL;
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), "2"));
        cr_assert(eq(str, page.next, ""));
        q = query_order(SR_PROJ_ORDER_CREATED_AT, false);
        q.pipeline_name = "alpha";
        q.limit = 2;
        q.page = &page;
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), "1,3"));
        q.cursor = strcpy(cur, page.next);
        cr_assert(eq(str, runs_of(ENT_A, &q, &count), "5"));
        cr_assert(eq(str, page.next, ""));

        /* Stage runs, unfiltered and by status; operations. */
        put(&run);
        for (uint32_t i = 0; i < 5; i++) {
                e = mk_stage(&run, i, i % 2 ? SR_ST_PENDING : SR_ST_SUCCESS);
                put(&e);
                if (i < 3) {
                        sr_entity_t s0 = mk_stage(&run, 0, SR_ST_SUCCESS);
                        sr_entity_t op = mk_op(&s0, i, NULL);

                        put(&op);
                }
        }
        for (int filt = 0; filt < 2; filt++) {
                q = filt ? query_status(SR_ST_SUCCESS) : query();
                q.limit = 2;
                q.page = &page;
                len = 0;
                seen[0] = '\0';
                do {
                        cr_assert(eq(int,
                                     sr_proj_list_stage_runs(proj, ENT_A,
                                                             &run.u.pr.m.id,
                                                             &q, &stages, &n,
                                                             &count, &ec),
                                     SR_OK),
                                  "%s", ec.msg);
                        for (size_t i = 0; i < n; i++)
                                len += (size_t)snprintf(seen + len,
                                                        sizeof(seen) - len,
                                                        "%u,",
                                                        stages[i].index);
                        free(stages);
                        q.cursor = page.next[0] ? strcpy(cur, page.next) :
                                                  NULL;
                } while (q.cursor);
                cr_assert(eq(str, seen, filt ? "0,2,4," : "0,1,2,3,4,"));
                cr_assert(eq(u64, count, filt ? 3 : 5));
        }
        e = mk_stage(&run, 0, SR_ST_SUCCESS);
        q = query();
        q.limit = 2;
        q.page = &page;
        len = 0;
        seen[0] = '\0';
        do {
                cr_assert(eq(int, sr_proj_list_operations(proj, ENT_A,
                                                          &e.u.sr.m.id, &q,
                                                          &ops, &n, &count,
                                                          &ec),
                             SR_OK),
                          "%s", ec.msg);
                for (size_t i = 0; i < n; i++)
                        len += (size_t)snprintf(seen + len, sizeof(seen) - len,
                                                "%u,", ops[i].index);
                sr_proj_ops_free(ops, n);
                q.cursor = page.next[0] ? strcpy(cur, page.next) : NULL;
        } while (q.cursor);
        cr_assert(eq(str, seen, "0,1,2,"));
}

/* The call's result with cursor @p cursor on query @p q; the message
 * must name the parameter when refused. */
static sr_err_t targets_with_cursor(const sr_uuid_t *stage,
                                    sr_proj_query_t q, const char *cursor)
{
        sr_target_run_t *items = NULL;
        sr_errctx_t ec = { 0 };
        uint64_t c;
        size_t n;
        sr_err_t err;

        q.cursor = cursor;
        err = sr_proj_list_target_runs(proj, ENT_A, stage, &q, &items, &n, &c,
                                       &ec);
        free(items);
        if (err)
                cr_assert(eq(int, strncmp(ec.msg, "cursor: ", 8), 0), "%s",
                          ec.msg);
        return err;
}

Test(sr_proj, a_malformed_or_foreign_cursor_is_refused_naming_it)
{
        sr_entity_t op0, op1;
        sr_entity_t stage = small_stage(&op0, &op1);
        sr_entity_t run2 = mk_run("r2", ENT_A, "canary", 2, SR_ST_RUNNING, 200);
        sr_entity_t stage2 = mk_stage(&run2, 0, SR_ST_PROCESSING);
        const sr_uuid_t *sid = &stage.u.sr.m.id;
        sr_proj_query_t q = query_status(SR_ST_PENDING), other;
        sr_proj_page_t page;
        char good[SR_PROJ_CURSOR_MAX], bad[SR_PROJ_CURSOR_MAX];
        uint64_t count;

        put(&run2);
        put(&stage2);
        q.limit = 1;
        q.page = &page;
        cr_assert(eq(str, targets_of(sid, &q, &count), "1"));
        snprintf(good, sizeof(good), "%s", page.next);
        cr_assert(eq(int, targets_with_cursor(sid, q, good), SR_OK));
        /* Malformed: empty, cut, not hex, upper case, a byte changed. */
        cr_assert(eq(int, targets_with_cursor(sid, q, ""), SR_ERR_INVALID));
        snprintf(bad, sizeof(bad), "%.*s", (int)strlen(good) - 2, good);
        cr_assert(eq(int, targets_with_cursor(sid, q, bad), SR_ERR_INVALID));
        snprintf(bad, sizeof(bad), "%s", good);
        bad[5] = 'z';
        cr_assert(eq(int, targets_with_cursor(sid, q, bad), SR_ERR_INVALID));
        bad[5] = 'A';
        cr_assert(eq(int, targets_with_cursor(sid, q, bad), SR_ERR_INVALID));
        bad[1] = bad[1] == '1' ? '2' : '1'; /* version */
        bad[5] = good[5];
        cr_assert(eq(int, targets_with_cursor(sid, q, bad), SR_ERR_INVALID));
        /* Foreign: another status, operation, stage, direction, index. */
        other = query_status(SR_ST_FAILURE);
        cr_assert(eq(int, targets_with_cursor(sid, other, good),
                     SR_ERR_INVALID));
        other = q;
        other.operation_id = &op0.u.op.id;
        cr_assert(eq(int, targets_with_cursor(sid, other, good),
                     SR_ERR_INVALID));
        cr_assert(eq(int, targets_with_cursor(&stage2.u.sr.m.id, q, good),
                     SR_ERR_INVALID));
        other = q;
        other.order = SR_PROJ_ORDER_STATUS;
        other.desc = true;
        cr_assert(eq(int, targets_with_cursor(sid, other, good),
                     SR_ERR_INVALID));
        cr_assert(eq(int, targets_with_cursor(sid, query(), good),
                     SR_ERR_INVALID));
        /* With an offset, or where the list pages by offset only. */
        other = q;
        other.offset = 1;
        cr_assert(eq(int, targets_with_cursor(sid, other, good),
                     SR_ERR_INVALID));
        other = query_order(SR_PROJ_ORDER_STATUS, false);
        other.page = &page;
        cr_assert(eq(int, targets_with_cursor(sid, other, good),
                     SR_ERR_INVALID));
        cr_assert(eq(int, targets_with_cursor(sid, other, NULL), SR_OK));
        cr_assert(not(page.keyset));
        q = query_order(SR_PROJ_ORDER_RUN_NUMBER, false);
        q.cursor = good;
        {
                sr_pipeline_run_t *items = NULL;
                sr_errctx_t ec = { 0 };
                size_t n;

                cr_assert(eq(int, sr_proj_list_pipeline_runs(proj, ENT_A, &q,
                                                             &items, &n,
                                                             &count, &ec),
                             SR_ERR_INVALID));
                cr_assert(eq(int, strncmp(ec.msg, "cursor: ", 8), 0));
        }
}

/* ------------------------------------------------------------ events */


static sr_event_t mk_event(const sr_entity_t *run, uint64_t seq,
                           sr_status_t from, sr_status_t to)
{
        sr_event_t ev;

        memset(&ev, 0, sizeof(ev));
        ev.pipeline_run_id = run->u.pr.m.id;
        sr_uuid_v5(&ev.event_id, &sr_ns, "test-proj/ev/%llu",
                   (unsigned long long)seq);
        ev.seq = seq;
        ev.entity_type = SR_ENT_PIPELINE_RUN;
        ev.entity_id = run->u.pr.m.id;
        ev.pipeline_id = run->u.pr.pipeline_id;
        ev.from_status = from;
        ev.to_status = to;
        snprintf(ev.reason, sizeof(ev.reason), "r%llu",
                 (unsigned long long)seq);
        ev.occurred_at = 1700000000000 + (int64_t)seq;
        ev.causation_id = uid("cause");
        memcpy(ev.enterprise_id, run->u.pr.enterprise_id,
               sizeof(ev.enterprise_id));
        ev.version = (uint32_t)seq;
        return ev;
}

/* Apply @p ev at the next events offset; *kept as the projection says. */
static bool put_event(const sr_event_t *ev)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_jw_t json = { 0 };
        sr_event_t back;
        bool kept = false;
        sr_proj_txn_t *txn = begin();

        cr_assert(eq(int, sr_codec_encode_event(codec, ev, &buf, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(int, sr_proj_apply_event(txn, 0, next_evt_off++,
                                              sr_buf_slice(&buf), &back,
                                              &json, &kept, &ec),
                     SR_OK), "%s", ec.msg);
        commit(txn);
        if (kept)
                cr_assert(eq(u64, back.seq, ev->seq));
        sr_buf_free(&buf);
        free(json.p);
        return kept;
}

static void put_event_q(const sr_entity_t *run, uint64_t seq)
{
        sr_event_t ev = mk_event(run, seq, SR_ST_RUNNING, SR_ST_RUNNING);

        cr_assert(put_event(&ev));
}

struct seen {
        uint64_t seqs[64];
        char json[64][1024];
        int n, stop_after; /* 0: never stop */
};

static bool take(void *arg, uint64_t seq, sr_slice_t json)
{
        struct seen *s = arg;

        if (s->stop_after && s->n == s->stop_after)
                return false;
        s->seqs[s->n] = seq;
        snprintf(s->json[s->n], sizeof(s->json[0]), "%.*s", (int)json.len,
                 (const char *)json.ptr);
        s->n++;
        return true;
}

static sr_proj_run_events_t read_events(const char *ent, const sr_uuid_t *run,
                                        uint64_t after, struct seen *s)
{
        sr_proj_run_events_t st;
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_proj_read_events(proj, ent, run, after, take, s,
                                              &st, &ec),
                     SR_OK), "%s", ec.msg);
        return st;
}

Test(sr_proj, a_runs_events_are_read_back_in_seq_order_as_json)
{
        sr_entity_t run = mk_run("ev1", ENT_A, "p", 1, SR_ST_RUNNING, 1000);
        sr_event_t e1 = mk_event(&run, 1, SR_ST_NONE, SR_ST_PENDING);
        sr_event_t e2 = mk_event(&run, 2, SR_ST_PENDING, SR_ST_RUNNING);
        struct seen s = { 0 };
        sr_proj_run_events_t st;
        sr_jw_t want = { 0 };

        run.u.pr.last_seq = 2;
        put(&run);
        cr_assert(put_event(&e2)); /* stored, but read only after 1 */
        st = read_events(ENT_A, &run.u.pr.m.id, 0, &s);
        cr_assert(eq(int, s.n, 0), "seq 2 sent before seq 1");
        cr_assert(st.run_found);
        cr_assert(eq(u64, st.next_seq, 1));
        cr_assert(put_event(&e1));
        st = read_events(ENT_A, &run.u.pr.m.id, 0, &s);
        cr_assert(eq(int, s.n, 2));
        cr_assert(eq(u64, s.seqs[0], 1));
        cr_assert(eq(u64, s.seqs[1], 2));
        cr_assert(eq(u64, st.next_seq, 3));
        cr_assert(eq(u64, st.last_seq, 2));
        cr_assert(not(st.run_final));
        sr_jw_event(&want, &e1);
        cr_assert(eq(str, s.json[0], want.p ? want.p : ""));
        cr_assert(not(eq(ptr, strstr(s.json[0], "\"from_status\":null"),
                         NULL)));
        free(want.p);
}

Test(sr_proj, events_resume_after_a_seq_and_stop_where_the_reader_stops)
{
        sr_entity_t run = mk_run("ev2", ENT_A, "p", 1, SR_ST_SUCCESS, 1000);
        struct seen s = { .stop_after = 2 };
        sr_proj_run_events_t st;

        run.u.pr.last_seq = 5;
        put(&run);
        for (uint64_t q = 1; q <= 5; q++)
                put_event_q(&run, q);
        st = read_events(ENT_A, &run.u.pr.m.id, 2, &s);
        cr_assert(eq(int, s.n, 2));
        cr_assert(eq(u64, s.seqs[0], 3));
        cr_assert(eq(u64, s.seqs[1], 4));
        cr_assert(eq(u64, st.next_seq, 5), "seq 5 was not taken");
        cr_assert(st.run_final);
        proj_reopen(); /* on disk: after a restart too */
        memset(&s, 0, sizeof(s));
        st = read_events(ENT_A, &run.u.pr.m.id, 4, &s);
        cr_assert(eq(int, s.n, 1));
        cr_assert(eq(u64, s.seqs[0], 5));
}

Test(sr_proj, a_repeated_event_is_kept_once_and_old_offsets_are_skipped)
{
        sr_entity_t run = mk_run("ev3", ENT_A, "p", 1, SR_ST_RUNNING, 1000);
        sr_event_t e1 = mk_event(&run, 1, SR_ST_NONE, SR_ST_PENDING);
        sr_errctx_t ec = { 0 };
        int64_t next[1];

        put(&run);
        cr_assert(put_event(&e1));
        cr_assert(not(put_event(&e1))); /* a worker's resend */
        cr_assert(eq(int, sr_proj_event_offsets(proj, next, 1, &ec), SR_OK));
        cr_assert(eq(i64, next[0], 2));
        next_evt_off = 0; /* redelivered from offset 0: skipped */
        cr_assert(not(put_event(&e1)));
        cr_assert(eq(int, sr_proj_event_offsets(proj, next, 1, &ec), SR_OK));
        cr_assert(eq(i64, next[0], 2));
}

Test(sr_proj, another_enterprise_sees_no_run_and_no_events)
{
        sr_entity_t run = mk_run("ev4", ENT_A, "p", 1, SR_ST_RUNNING, 1000);
        sr_event_t e1 = mk_event(&run, 1, SR_ST_NONE, SR_ST_PENDING);
        struct seen s = { 0 };
        sr_proj_run_events_t st;

        put(&run);
        cr_assert(put_event(&e1));
        st = read_events(ENT_B, &run.u.pr.m.id, 0, &s);
        cr_assert(not(st.run_found));
        cr_assert(eq(int, s.n, 0));
}

Test(sr_proj, a_retired_run_forgets_its_events_and_keeps_no_new_ones)
{
        sr_entity_t run = mk_run("ev5", ENT_A, "p", 1, SR_ST_SUCCESS, 1000);
        sr_entity_t other = mk_run("ev6", ENT_A, "p", 2, SR_ST_RUNNING, 2000);
        struct seen s = { 0 };
        sr_proj_run_events_t st;

        put(&run);
        put(&other);
        for (uint64_t q = 1; q <= 3; q++)
                put_event_q(&run, q);
        put_event_q(&other, 1);
        cr_assert(eq(u64, size_now().events, 4));
        retire(&run, 9000);
        cr_assert(eq(u64, size_now().events, 1), "the retired run's "
                  "events are still stored");
        st = read_events(ENT_A, &run.u.pr.m.id, 0, &s);
        cr_assert(not(st.run_found));
        cr_assert(eq(int, s.n, 0));
        {
                sr_event_t late = mk_event(&run, 4, SR_ST_RUNNING,
                                           SR_ST_SUCCESS);

                cr_assert(not(put_event(&late)), "a retired run's event "
                          "was kept");
        }
        st = read_events(ENT_A, &other.u.pr.m.id, 0, &s);
        cr_assert(eq(int, s.n, 1), "another run's events went too");
}

Test(sr_proj, an_event_that_does_not_decode_is_corrupt_and_skippable)
{
        sr_errctx_t ec = { 0 };
        sr_jw_t json = { 0 };
        sr_event_t ev;
        bool kept = true;
        sr_proj_txn_t *txn = begin();
        int64_t next[1];

        cr_assert(eq(int, sr_proj_apply_event(txn, 0, 0,
                                              sr_slice("\0\0\0\0\1xx", 7),
                                              &ev, &json, &kept, &ec),
                     SR_ERR_CORRUPT));
        cr_assert(not(kept));
        cr_assert(eq(int, sr_proj_skip_event(txn, 0, 0, &ec), SR_OK),
                  "%s", ec.msg);
        commit(txn);
        cr_assert(eq(int, sr_proj_event_offsets(proj, next, 1, &ec), SR_OK));
        cr_assert(eq(i64, next[0], 1));
        free(json.p);
}

Test(sr_proj, a_hole_before_a_kept_event_is_told_not_skipped)
{
        sr_entity_t run = mk_run("ev7", ENT_A, "p", 1, SR_ST_RUNNING, 1000);
        struct seen s = { 0 };
        sr_proj_run_events_t st;

        put(&run);
        put_event_q(&run, 1);
        put_event_q(&run, 2);
        st = read_events(ENT_A, &run.u.pr.m.id, 0, &s);
        cr_assert(eq(u64, st.kept_from, 0), "no hole yet: 3 may come");
        put_event_q(&run, 4); /* 3 was gone from the topic */
        memset(&s, 0, sizeof(s));
        st = read_events(ENT_A, &run.u.pr.m.id, 0, &s);
        cr_assert(eq(int, s.n, 2));
        cr_assert(eq(u64, st.next_seq, 3));
        cr_assert(eq(u64, st.kept_from, 4));
}
