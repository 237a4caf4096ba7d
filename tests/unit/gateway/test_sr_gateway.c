/* tests/unit/gateway/test_sr_gateway.c - the gateway's handlers without a
 * broker: sr_gateway_new_with_port() over a fake command port and a
 * temporary projection fed with changelog records (as test_sr_proj.c
 * does). Writes: the answer of an accepted command (the entity as the
 * projection holds it after the reply's versions), refused replies, no
 * reply in time, a command over command.max.bytes, the send failures,
 * Idempotency-Keys, tenancy, and how often one PUT reads the projection.
 * Reads: a list and a get.
 *
 * The fake port records what it was sent (the command, decoded again from
 * the bytes it got) and answers as each test scripts it; its
 * wait_visible() applies the scripted changelog record first, as the feed
 * thread would have. Each test opens its own projection and gateway in
 * the fixture (inside the test's process, never before the fork).
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sr_clock.h"
#include "sr_codec.h"
#include "sr_defs.h"
#include "sr_digest.h"
#include "sr_gateway.h"
#include "sr_gateway_int.h" /* gw->idem (the fake feed fills it), the
                                watchers' ring */
#include "sr_idem.h"
#include "sr_proj_int.h" /* an open stage run written as projected */
#include "sr_run.h"
#include "sr_spec_json.h"
#include "kit_dir.h"
#include "kit_spec.h"

#define ENT_A "acme"
#define ENT_B "globex"
#define TOKENS "tok-a:" ENT_A ",tok-b:" ENT_B
#define MAX_SENDS 16

static char dir[] = "/tmp/sr_gateway_test.XXXXXX";
static sr_proj_t *proj;
static sr_codec_t *codec;
static sr_conf_t *conf;
static sr_gateway_t *gw;
static int64_t next_off; /* next offset of changelog partition 0 */

/* The projected run: one stage, one operation, one target. */
static sr_entity_t run_e, stage_e, op_e, target_e;
static char run_id[SR_UUID_STR_LEN + 1], pipeline_id[SR_UUID_STR_LEN + 1],
        stage_id[SR_UUID_STR_LEN + 1], target_id[SR_UUID_STR_LEN + 1];

/* ------------------------------------------------------------ the port */

typedef struct fake {
        /* the script */
        sr_gw_sent_t sent;    /* what send() answers */
        sr_err_t send_err;    /* its ec->code with SR_GW_SEND_FAILED */
        bool no_reply;        /* wait_reply(): nothing in time */
        bool refused;         /* the reply refuses, with reason */
        sr_reject_t reason;
        bool not_visible;     /* wait_visible(): not in time */
        bool retire_on_reply; /* wait_reply() applies the run's retired
                               * marker first (the feed read it before
                               * the reply) */
        bool has_after;       /* applied to the projection by */
        sr_entity_t after;    /* wait_visible(), its version named by the
                               * reply */
        bool not_retired;     /* wait_retired(): the marker not in time
                               * (else it applies the run's retirement) */
        /* Definition commands: the fake applies them with the owner's
         * rules (sr_defs_apply) to its own aggregates, unless refused is
         * scripted (then reason, and def_version as the reply's current
         * version); their records wait in pend until wait_def_seq(),
         * which applies them as the feed would. */
        uint32_t def_version;
        int n_aggs;
        sr_defs_t aggs[4];
        int n_pend;
        char pend_key[64][SR_DEF_KEY_LEN];
        bool pend_tomb[64];
        sr_def_record_t pend[64];
        int n_wait_def_seq;
        uint64_t waited_seq;
        /* StartPipelineRun: wait_run() applies the pending records and
         * then the run the owner's CreateRun made (status queued), unless
         * run_not_created (not in time) */
        bool run_not_created;
        int n_wait_run;
        /* what happened */
        int n_sends;
        sr_command_t cmds[MAX_SENDS]; /* decoded from the value sent */
        int n_wait_reply, n_wait_visible, n_wait_retired;
        uint64_t decodes_at_send, decodes_at_visible; /* projection reads */
} fake_t;

static fake_t fake;

static uint64_t decodes(void)
{
        sr_proj_stats_t st;

        sr_proj_stats(proj, &st);
        return st.decodes;
}

static sr_gw_sent_t fake_send(void *ctx, const sr_command_t *cmd,
                              sr_slice_t value, int timeout_ms, int *ticket,
                              sr_errctx_t *ec)
{
        fake_t *f = ctx;
        sr_command_t *got;

        cr_assert(timeout_ms > 0);
        f->decodes_at_send = decodes();
        if (f->sent != SR_GW_SENT) {
                if (f->sent == SR_GW_SEND_FAILED)
                        sr_errctx_set(ec, f->send_err, "scripted failure");
                return f->sent;
        }
        cr_assert(f->n_sends < MAX_SENDS);
        got = &f->cmds[f->n_sends];
        /* What goes on the wire is the command the handler built. */
        cr_assert(eq(int, sr_codec_decode_command(codec, value, got, ec),
                     SR_OK),
                  "%s", ec->msg);
        cr_assert(sr_uuid_eq(&got->command_id, &cmd->command_id));
        cr_assert(sr_uuid_eq(&got->pipeline_run_id, &cmd->pipeline_run_id));
        *ticket = f->n_sends++;
        return SR_GW_SENT;
}

static void retire_run(void);

/* The aggregate of pipeline @p id (a new one when unknown). */
static sr_defs_t *fake_agg(fake_t *f, const sr_uuid_t *id)
{
        for (int i = 0; i < f->n_aggs; i++)
                if (sr_uuid_eq(&f->aggs[i].p.id, id))
                        return &f->aggs[i];
        cr_assert(f->n_aggs < 4);
        memset(&f->aggs[f->n_aggs], 0, sizeof(f->aggs[0]));
        return &f->aggs[f->n_aggs++];
}

static void fake_pend(fake_t *f, const sr_defs_t *d, const sr_defs_out_t *o,
                      const sr_def_change_rec_t *c)
{
        int i = f->n_pend++;

        cr_assert(i < 64);
        sr_def_key(c->kind, &d->p.id, &c->id, f->pend_key[i]);
        f->pend_tomb[i] = sr_defs_record_of(d, o, c, &f->pend[i]) ==
                          SR_ERR_NOT_FOUND;
}

/* The owner of the pipeline: the rules, the reply, the records. */
static void fake_worker(fake_t *f, const sr_command_t *cmd, sr_reply_t *out)
{
        sr_defs_t *d = fake_agg(f, &cmd->pipeline_run_id);
        sr_defs_out_t o;
        sr_def_change_rec_t pc = { .kind = SR_DEF_PIPELINE,
                                   .change = SR_DEF_UPDATED };

        out->has_def = true;
        if (f->refused) {
                out->def.version = f->def_version;
                out->def.seq = d->p.last_seq;
                return;
        }
        /* The targets the command names, read by key as the owner
         * reads its store (here: the projection the fake feed fills). */
        const sr_defcmd_t *dc = cmd->u.def;
        sr_def_record_t got[4];
        bool have[4] = { false };
        const sr_def_target_t *found[4] = { NULL };
        sr_defs_targets_in_t tin = { 0, found };
        uint32_t nt = 0;

        if (dc->kind == SR_DEFCMD_ADD_TARGETS)
                nt = dc->u.add.n_items;
        else if (dc->kind == SR_DEFCMD_UPDATE_TARGET ||
                 dc->kind == SR_DEFCMD_REMOVE_TARGET)
                nt = 1;
        cr_assert(nt <= 4);
        for (uint32_t i = 0; i < nt; i++) {
                sr_uuid_t tid;

                if (dc->kind == SR_DEFCMD_ADD_TARGETS)
                        sr_def_target_id(&dc->u.add.target_list_id,
                                         &dc->u.add.items[i].device_id,
                                         &tid);
                else
                        tid = dc->u.target.target_id;
                have[i] = sr_proj_def_get(proj, cmd->enterprise_id,
                                          SR_DEF_TARGET, &dc->pipeline_id,
                                          &tid, &got[i], NULL) == SR_OK;
                found[i] = have[i] ? &got[i].u.target : NULL;
        }
        tin.n = nt;
        memset(&o, 0, sizeof(o));
        cr_assert(eq(int, sr_defs_apply(d, cmd->u.def, nt ? &tin : NULL,
                                        sr_clock_wall_ms(), NULL, &o),
                     SR_OK));
        for (uint32_t i = 0; i < nt; i++)
                if (have[i])
                        sr_def_record_fini(&got[i]);
        out->accepted = o.accepted;
        out->reason = o.reason;
        snprintf(out->message, sizeof(out->message), "%s",
                 o.accepted ? "ok" : o.message);
        out->def.entity_kind = (int)o.entity_kind;
        out->def.entity_id = o.entity_id;
        out->def.version = o.entity_version;
        out->def.seq = d->p.last_seq;
        out->def.created = o.created;
        out->def.added = o.added;
        out->def.skipped = o.skipped;
        for (uint32_t i = 0; o.accepted && i < o.n_changes; i++)
                fake_pend(f, d, &o, &o.changes[i]);
        if (o.accepted && o.n_changes) {
                pc.id = d->p.id;
                fake_pend(f, d, &o, &pc);
        }
        sr_defs_out_fini(&o);
}

static void fake_defs_fini(fake_t *f)
{
        for (int i = 0; i < f->n_aggs; i++)
                sr_defs_fini(&f->aggs[i]);
        for (int i = 0; i < f->n_pend; i++)
                if (!f->pend_tomb[i])
                        sr_def_record_fini(&f->pend[i]);
        f->n_aggs = f->n_pend = 0;
}

/* The feed applies the definition records the fake owner wrote. */
static void fake_apply_pend(fake_t *f)
{
        sr_proj_txn_t *txn = NULL;
        sr_errctx_t ec = { 0 };

        for (int i = 0; i < f->n_pend; i++) {
                cr_assert(eq(int, sr_proj_begin(proj, &txn, &ec), SR_OK));
                cr_assert(eq(int, sr_proj_apply_def(
                                          txn, 0, next_off++,
                                          sr_slice(f->pend_key[i],
                                                   SR_DEF_KEY_LEN),
                                          f->pend_tomb[i] ? NULL :
                                                            &f->pend[i],
                                          &ec),
                             SR_OK),
                          "%s", ec.msg);
                cr_assert(eq(int, sr_proj_commit(txn, &ec), SR_OK));
                if (!f->pend_tomb[i])
                        sr_def_record_fini(&f->pend[i]);
        }
        f->n_pend = 0;
}

static bool fake_wait_def_seq(void *ctx, const char *enterprise,
                              const sr_uuid_t *pipeline, uint64_t seq,
                              int64_t until_ms)
{
        fake_t *f = ctx;

        (void)enterprise;
        (void)pipeline;
        (void)until_ms;
        f->n_wait_def_seq++;
        f->waited_seq = seq;
        fake_apply_pend(f); /* the feed applies the changelog records */
        return !f->not_visible;
}

static void put(const sr_entity_t *e);

/* The owner's CreateRun applied by the run's worker, and its changelog
 * record read by the feed: the run of the last StartPipelineRun sent. */
static bool fake_wait_run(void *ctx, const char *enterprise,
                          const sr_uuid_t *run, int64_t until_ms)
{
        fake_t *f = ctx;
        const sr_command_t *cmd = &f->cmds[f->n_sends - 1];
        sr_entity_t e;

        (void)until_ms;
        cr_assert(eq(str, (char *)enterprise, ENT_A));
        cr_assert(eq(int, cmd->kind, SR_CMD_DEFINITION));
        cr_assert(eq(int, cmd->u.def->kind, SR_DEFCMD_START_PIPELINE_RUN));
        cr_assert(sr_uuid_eq(run, &cmd->u.def->u.run.pipeline_run_id));
        f->n_wait_run++;
        fake_apply_pend(f);
        if (f->run_not_created)
                return false;
        memset(&e, 0, sizeof(e));
        e.type = SR_ENT_PIPELINE_RUN;
        e.u.pr.m.id = *run;
        e.u.pr.m.status = SR_ST_QUEUED;
        e.u.pr.m.created_at = e.u.pr.m.updated_at = 3000;
        e.u.pr.m.version = 1;
        e.u.pr.pipeline_id = cmd->u.def->pipeline_id;
        snprintf(e.u.pr.pipeline_name, sizeof(e.u.pr.pipeline_name),
                 "stored");
        snprintf(e.u.pr.enterprise_id, sizeof(e.u.pr.enterprise_id), ENT_A);
        e.u.pr.run_number = 1;
        e.u.pr.created_by_command = cmd->command_id;
        put(&e);
        return true;
}

static bool fake_wait_reply(void *ctx, int ticket, int64_t until_ms,
                            sr_reply_t *out, double *t_read)
{
        fake_t *f = ctx;

        (void)until_ms;
        cr_assert(ticket >= 0 && ticket < f->n_sends);
        f->n_wait_reply++;
        if (f->no_reply)
                return false;
        if (f->cmds[ticket].kind == SR_CMD_DEFINITION) {
                memset(out, 0, sizeof(*out));
                out->command_id = f->cmds[ticket].command_id;
                out->pipeline_run_id = f->cmds[ticket].pipeline_run_id;
                out->accepted = !f->refused;
                out->reason = f->refused ? f->reason : SR_REJECT_NONE;
                snprintf(out->message, sizeof(out->message), "%s",
                         f->refused ? "the worker says no" : "ok");
                fake_worker(f, &f->cmds[ticket], out);
                *t_read = 0;
                return true;
        }
        if (f->retire_on_reply)
                retire_run();
        memset(out, 0, sizeof(*out));
        out->command_id = f->cmds[ticket].command_id;
        out->pipeline_run_id = f->cmds[ticket].pipeline_run_id;
        out->accepted = !f->refused;
        out->reason = f->refused ? f->reason : SR_REJECT_NONE;
        snprintf(out->message, sizeof(out->message), "%s",
                 f->refused ? "the worker says no" : "ok");
        if (!f->refused && f->has_after) {
                const sr_meta_t *m = f->after.type == SR_ENT_PIPELINE_RUN ?
                                             &f->after.u.pr.m :
                                     f->after.type == SR_ENT_STAGE_RUN ?
                                             &f->after.u.sr.m :
                                             &f->after.u.tr.m;

                out->n_versions = 1;
                out->versions[0].entity_type = f->after.type;
                out->versions[0].entity_id = m->id;
                out->versions[0].version = m->version;
        }
        *t_read = 0;
        return true;
}

static bool fake_wait_visible(void *ctx, const sr_reply_t *reply,
                              int64_t until_ms)
{
        fake_t *f = ctx;

        (void)reply;
        (void)until_ms;
        f->n_wait_visible++;
        if (f->has_after)
                put(&f->after); /* the feed applies the changelog */
        f->decodes_at_visible = decodes();
        return !f->not_visible;
}

static bool fake_wait_retired(void *ctx, const char *enterprise,
                              const sr_uuid_t *run, int64_t until_ms)
{
        fake_t *f = ctx;

        (void)until_ms;
        cr_assert(eq(str, (char *)enterprise, ENT_A));
        cr_assert(sr_uuid_eq(run, &run_e.u.pr.m.id));
        f->n_wait_retired++;
        if (f->not_retired)
                return false;
        retire_run(); /* the feed applies the tombstones and the marker */
        return true;
}

/* ------------------------------------------------------------ data */

static sr_uuid_t uid(const char *name)
{
        sr_uuid_t u;

        sr_uuid_v5(&u, &sr_ns, "test-gateway/%s", name);
        return u;
}

static void put(const sr_entity_t *e)
{
        char key[SR_ENTITY_KEY_MAX];
        size_t klen = sr_entity_key(e, key);
        sr_errctx_t ec = { 0 };
        sr_proj_txn_t *txn = NULL;
        sr_buf_t buf = { 0 };
        sr_changelog_t cl;

        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_ENTITY;
        cl.u.entity = *e;
        cr_assert(eq(int, sr_codec_encode_changelog(codec, &cl, &buf, &ec),
                     SR_OK),
                  "%s", ec.msg);
        cr_assert(eq(int, sr_proj_begin(proj, &txn, &ec), SR_OK), "%s",
                  ec.msg);
        cr_assert(eq(int, sr_proj_apply(txn, 0, next_off++,
                                        sr_slice(key, klen),
                                        sr_buf_slice(&buf), &ec),
                     SR_OK),
                  "%s", ec.msg);
        cr_assert(eq(int, sr_proj_commit(txn, &ec), SR_OK), "%s", ec.msg);
        sr_buf_free(&buf);
}

/* Apply one raw record at the next offset. */
static void apply_raw(sr_slice_t key, sr_slice_t value)
{
        sr_errctx_t ec = { 0 };
        sr_proj_txn_t *txn = NULL;

        cr_assert(eq(int, sr_proj_begin(proj, &txn, &ec), SR_OK), "%s",
                  ec.msg);
        cr_assert(eq(int, sr_proj_apply(txn, 0, next_off++, key, value, &ec),
                     SR_OK),
                  "%s", ec.msg);
        cr_assert(eq(int, sr_proj_commit(txn, &ec), SR_OK), "%s", ec.msg);
}

#define RETIRED_AT INT64_C(1000000000000) /* 2001-09-09T01:46:40.000Z */

/* What the worker writes when it retires the run: a tombstone of every
 * entity key, then the marker <run>/r. */
static void retire_run(void)
{
        const sr_entity_t *es[] = { &target_e, &op_e, &stage_e, &run_e };
        char key[SR_ENTITY_KEY_MAX];
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_changelog_t cl;
        size_t klen;

        for (size_t i = 0; i < 4; i++) {
                klen = sr_entity_key(es[i], key);
                apply_raw(sr_slice(key, klen), sr_slice(NULL, 0));
        }
        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_RETIRED;
        cl.u.retired.pipeline_run_id = run_e.u.pr.m.id;
        snprintf(cl.u.retired.enterprise_id,
                 sizeof(cl.u.retired.enterprise_id), ENT_A);
        cl.u.retired.pipeline_id = run_e.u.pr.pipeline_id;
        cl.u.retired.ended_at = RETIRED_AT - 60000;
        cl.u.retired.retired_at = RETIRED_AT;
        cl.u.retired.forget_at = RETIRED_AT + 60000;
        cr_assert(eq(int, sr_codec_encode_changelog(codec, &cl, &buf, &ec),
                     SR_OK),
                  "%s", ec.msg);
        klen = sr_run_key_prefix(&run_e.u.pr.m.id, key);
        key[klen++] = 'r';
        apply_raw(sr_slice(key, klen), sr_buf_slice(&buf));
        sr_buf_free(&buf);
}

/* The marker's tombstone (retention.inputs later). */
static void forget_run(void)
{
        char key[SR_ENTITY_KEY_MAX];
        size_t klen = sr_run_key_prefix(&run_e.u.pr.m.id, key);

        key[klen++] = 'r';
        apply_raw(sr_slice(key, klen), sr_slice(NULL, 0));
}

static void make_run(void)
{
        sr_pipeline_run_t *pr = &run_e.u.pr;
        sr_stage_run_t *s = &stage_e.u.sr;
        sr_stage_run_op_t *op = &op_e.u.op;
        sr_target_run_t *tr = &target_e.u.tr;

        memset(&run_e, 0, sizeof(run_e));
        run_e.type = SR_ENT_PIPELINE_RUN;
        pr->m.id = uid("run");
        pr->m.status = SR_ST_RUNNING;
        pr->m.created_at = pr->m.updated_at = 1000;
        pr->m.version = 1;
        pr->pipeline_id = uid("pipeline");
        snprintf(pr->pipeline_name, sizeof(pr->pipeline_name), "canary");
        snprintf(pr->enterprise_id, sizeof(pr->enterprise_id), ENT_A);
        pr->run_number = 1;
        pr->n_stages = 1;
        pr->created_by_command = uid("cmd");

        memset(&stage_e, 0, sizeof(stage_e));
        stage_e.type = SR_ENT_STAGE_RUN;
        s->m.id = uid("stage");
        s->m.status = SR_ST_WAITING;
        s->m.created_at = 1000;
        s->m.version = 1;
        s->pipeline_run_id = pr->m.id;
        s->pipeline_id = pr->pipeline_id;
        s->stage_id = uid("stage-def");
        snprintf(s->enterprise_id, sizeof(s->enterprise_id), ENT_A);
        snprintf(s->name, sizeof(s->name), "canary");

        memset(&op_e, 0, sizeof(op_e));
        op_e.type = SR_ENT_STAGE_RUN_OPERATION;
        op->id = uid("op");
        op->pipeline_run_id = pr->m.id;
        op->stage_run_id = s->m.id;
        snprintf(op->operation_type, sizeof(op->operation_type), "INSTALL");
        op->args_json = (char *)"{\"package_name\":\"com.example\"}";
        op->created_at = 1000;
        op->version = 1;

        memset(&target_e, 0, sizeof(target_e));
        target_e.type = SR_ENT_TARGET_RUN;
        tr->m.id = uid("target");
        tr->m.status = SR_ST_QUEUED;
        tr->m.created_at = 2000;
        tr->m.version = 1;
        tr->pipeline_run_id = pr->m.id;
        tr->stage_run_id = s->m.id;
        tr->stage_run_operation_id = op->id;
        tr->target_id = uid("target-def");
        tr->device_id = uid("device");
        snprintf(tr->device_name, sizeof(tr->device_name), "dev-1");
        snprintf(tr->command_status, sizeof(tr->command_status), "QUEUED");

        sr_uuid_fmt(&pr->m.id, run_id);
        sr_uuid_fmt(&pr->pipeline_id, pipeline_id);
        sr_uuid_fmt(&s->m.id, stage_id);
        sr_uuid_fmt(&tr->m.id, target_id);
}

static void gw_setup(void)
{
        sr_gw_port_t port = {
                .ctx = &fake,
                .send = fake_send,
                .wait_reply = fake_wait_reply,
                .wait_visible = fake_wait_visible,
                .wait_retired = fake_wait_retired,
                .wait_def_seq = fake_wait_def_seq,
                .wait_run = fake_wait_run,
        };
        sr_errctx_t ec = { 0 };

        cr_assert(not(eq(ptr, mkdtemp(dir), NULL)));
        cr_assert(eq(int, sr_proj_open(dir, 256u << 20, &proj, &ec), SR_OK),
                  "%s", ec.msg);
        cr_assert(eq(int, sr_codec_new(&codec, &ec), SR_OK), "%s", ec.msg);
        conf = sr_conf_new();
        cr_assert(not(eq(ptr, conf, NULL)));
        cr_assert(eq(int, sr_conf_set(conf, "command.max.bytes", "4096",
                                      &ec),
                     SR_OK),
                  "%s", ec.msg);
        memset(&fake, 0, sizeof(fake));
        make_run();
        put(&run_e);
        put(&stage_e);
        put(&op_e);
        put(&target_e);
        cr_assert(eq(int, sr_gateway_new_with_port(conf, NULL, TOKENS, proj,
                                                   &port, &gw, &ec),
                     SR_OK),
                  "%s", ec.msg);
}

static void gw_teardown(void)
{
        sr_gateway_destroy(gw);
        gw = NULL;
        for (int i = 0; i < fake.n_sends; i++)
                sr_command_fini(&fake.cmds[i]);
        fake_defs_fini(&fake);
        sr_proj_close(proj);
        proj = NULL;
        sr_codec_destroy(codec);
        codec = NULL;
        sr_conf_destroy(conf);
        conf = NULL;
        kit_rm_rf(dir);
}

TestSuite(sr_gateway, .init = gw_setup, .fini = gw_teardown,
          .timeout = 60.0);

/* ------------------------------------------------------------ requests */

typedef struct answer {
        int status;
        int retry_after;
        char *body; /* NUL-terminated copy */
        json_t *json;
} answer_t;

static void answer_free(answer_t *a)
{
        free(a->body);
        json_decref(a->json);
        memset(a, 0, sizeof(*a));
}

static answer_t call(const char *method, const char *target,
                     const char *token, const char *idem, const char *body)
{
        char auth[64];
        sr_gw_request_t req = { 0 };
        sr_gw_response_t resp;
        answer_t a = { 0 };

        snprintf(auth, sizeof(auth), "Bearer %s", token);
        req.method = method;
        req.target = target;
        req.authorization = auth;
        req.content_type = body ? "application/json" : NULL;
        req.idempotency_key = idem;
        req.body = body ? body : "";
        req.body_len = body ? strlen(body) : 0;
        sr_gateway_handle(gw, &req, &resp);
        a.status = resp.status;
        a.retry_after = resp.retry_after;
        a.body = strndup(resp.body.ptr ? resp.body.ptr : "", resp.body.len);
        a.json = json_loadb(resp.body.ptr, resp.body.len, 0, NULL);
        sr_buf_free(&resp.body);
        cr_assert(not(eq(ptr, a.json, NULL)), "not JSON: %s", a.body);
        cr_assert(eq(int, (int)json_integer_value(json_object_get(a.json,
                                                                  "code")),
                     a.status),
                  "%s", a.body);
        return a;
}

static const char *content_str(const answer_t *a, const char *field)
{
        const char *s = json_string_value(json_object_get(
                json_object_get(a->json, "content"), field));

        return s ? s : "(absent)";
}

static const char *message(const answer_t *a)
{
        const char *s = json_string_value(json_object_get(a->json,
                                                          "message"));

        return s ? s : "(absent)";
}

static char target_path[256], stage_path[256], run_path[256];

static const char *target_url(void)
{
        snprintf(target_path, sizeof(target_path),
                 "/v0/stageruns/%s/targetruns/%s/", stage_id, target_id);
        return target_path;
}

static const char *stage_url(void)
{
        snprintf(stage_path, sizeof(stage_path),
                 "/v0/runs/%s/stageruns/%s/", run_id, stage_id);
        return stage_path;
}

static const char *run_url(void)
{
        snprintf(run_path, sizeof(run_path), "/v0/pipelines/%s/runs/%s/",
                 pipeline_id, run_id);
        return run_path;
}

/* @p e as the worker leaves it after it ended in @p status (version 2). */
static void script_ended(const sr_entity_t *e, sr_status_t status)
{
        sr_meta_t *m;

        fake.after = *e;
        m = e->type == SR_ENT_PIPELINE_RUN ? &fake.after.u.pr.m :
            e->type == SR_ENT_STAGE_RUN    ? &fake.after.u.sr.m :
                                             &fake.after.u.tr.m;
        m->status = status;
        m->version = 2;
        m->updated_at = 5000;
        m->ended_at = 5000;
        fake.has_after = true;
}

/* The target run as the worker leaves it after "success". */
static void script_target_success(void)
{
        script_ended(&target_e, SR_ST_SUCCESS);
}

/* ------------------------------------------------------------ writes */

Test(sr_gateway, accepted_target_run_put_answers_the_entity_as_projected)
{
        answer_t a, g;
        char want_cid[SR_UUID_STR_LEN + 1];

        script_target_success();
        a = call("PUT", target_url(), "tok-a", NULL,
                 "{\"status\":\"SUCCESS\",\"device_name\":\"dev-9\"}");
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "status"), "success"));
        cr_assert(eq(str, (char *)content_str(&a, "id"), target_id));
        /* the entity as a read gives it now, byte for byte */
        g = call("GET", target_url(), "tok-a", NULL, NULL);
        cr_assert(eq(int, g.status, 200));
        cr_assert(eq(str, a.body, g.body));
        /* the command: the target run's, in its pipeline run */
        cr_assert(eq(int, fake.n_sends, 1));
        cr_assert(eq(int, fake.cmds[0].kind, SR_CMD_SET_TARGET_RUN_STATUS));
        cr_assert(sr_uuid_eq(&fake.cmds[0].pipeline_run_id,
                             &run_e.u.pr.m.id));
        cr_assert(sr_uuid_eq(&fake.cmds[0].u.set.entity_id,
                             &target_e.u.tr.m.id));
        cr_assert(eq(str, fake.cmds[0].u.set.status, "success"));
        cr_assert(eq(str, fake.cmds[0].u.set.device_name, "dev-9"));
        cr_assert(eq(str, fake.cmds[0].enterprise_id, ENT_A));
        cr_assert(eq(int, fake.n_wait_reply, 1));
        cr_assert(eq(int, fake.n_wait_visible, 1));
        sr_uuid_fmt(&fake.cmds[0].command_id, want_cid);
        cr_assert(strlen(want_cid) == SR_UUID_STR_LEN);
        answer_free(&a);
        answer_free(&g);
}

/* GET .../targetruns/{id}/command/: the reference's CommandResponse from
 * the target run and its operation; 404 before a command was sent, for
 * another enterprise, and under another stage run. */
Test(sr_gateway, a_target_runs_command_is_its_request_and_last_status)
{
        sr_target_run_t *tr = &target_e.u.tr;
        char url[300], other[256], cid[SR_UUID_STR_LEN + 1];
        char opid[SR_UUID_STR_LEN + 1], dev[SR_UUID_STR_LEN + 1];
        answer_t a;
        json_t *c, *cancel;

        snprintf(url, sizeof(url), "%scommand/", target_url());
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        cr_assert(not(eq(ptr, strstr(message(&a), "has no device command"),
                         NULL)), "%s", a.body);
        answer_free(&a);

        tr->command_id = uid("device-command");
        tr->m.status = SR_ST_DISPATCHED;
        tr->m.version = 2;
        snprintf(tr->m.reason, sizeof(tr->m.reason), "command_queued");
        put(&target_e);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        c = json_object_get(a.json, "content");
        sr_uuid_fmt(&tr->command_id, cid);
        sr_uuid_fmt(&op_e.u.op.id, opid);
        sr_uuid_fmt(&tr->device_id, dev);
        cr_assert(eq(str, (char *)content_str(&a, "target_run_id"),
                     target_id));
        cr_assert(eq(str, (char *)content_str(&a, "operation_id"), opid));
        cr_assert(eq(str, (char *)content_str(&a, "enterprise_id"), ENT_A));
        cr_assert(eq(str, (char *)content_str(&a, "command"), "INSTALL"));
        cr_assert(eq(str, (char *)content_str(&a, "command_type"), "DEVICE"));
        cr_assert(eq(str, (char *)content_str(&a, "device_type"), "all"));
        cr_assert(eq(str, (char *)content_str(&a, "device_id"), dev));
        cr_assert(eq(str, (char *)content_str(&a, "schedule"), "IMMEDIATE"));
        cr_assert(eq(str, (char *)content_str(&a, "request_id"), cid));
        cr_assert(eq(str, (char *)content_str(&a, "request_status"),
                     "QUEUED"));
        cr_assert(eq(str, (char *)content_str(&a, "request_status_reason"),
                     "command_queued"));
        cr_assert(eq(str, (char *)json_string_value(json_object_get(
                                  json_object_get(c, "args"),
                                  "package_name")),
                     "com.example"));
        cancel = json_object_get(c, "cancel_requested");
        cr_assert(eq(int, json_is_false(cancel), 1), "%s", a.body);
        answer_free(&a);

        /* another enterprise's token, another stage run: not found */
        a = call("GET", url, "tok-b", NULL, NULL);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);
        snprintf(other, sizeof(other),
                 "/v0/stageruns/%s/targetruns/%s/command/", run_id,
                 target_id);
        a = call("GET", other, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);
        /* nothing was sent for any of it */
        cr_assert(eq(int, fake.n_sends, 0));
}

/* PUT .../command/{command_id}/ {"request_status": "cancelled"} and POST
 * .../command/: a TargetCommand to the run's worker, which decides; the
 * answer is the CommandResponse of GET .../command/ after it. */
Test(sr_gateway, a_command_write_sends_a_target_command_and_answers_the_command)
{
        sr_target_run_t *tr = &target_e.u.tr;
        char url[300], put_url[400], cid[SR_UUID_STR_LEN + 1];
        answer_t a;

        tr->command_id = uid("device-command");
        tr->m.status = SR_ST_RUNNING;
        tr->m.version = 3;
        put(&target_e);
        sr_uuid_fmt(&tr->command_id, cid);
        snprintf(url, sizeof(url), "%scommand/", target_url());
        snprintf(put_url, sizeof(put_url), "%s%s/", url, cid);
        fake.after = target_e;
        fake.after.u.tr.cancel_requested = true;
        fake.after.u.tr.m.version = 4;
        fake.has_after = true;
        a = call("PUT", put_url, "tok-a", NULL,
                 "{\"request_status\": \"CANCELLED\"}");
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "request_id"), cid));
        cr_assert(eq(int, fake.n_sends, 1));
        cr_assert(eq(int, fake.cmds[0].kind, SR_CMD_TARGET_COMMAND));
        cr_assert(sr_uuid_eq(&fake.cmds[0].pipeline_run_id,
                             &run_e.u.pr.m.id));
        cr_assert(sr_uuid_eq(&fake.cmds[0].u.tcmd.target_run_id, &tr->m.id));
        cr_assert(sr_uuid_eq(&fake.cmds[0].u.tcmd.command_id,
                             &tr->command_id));
        cr_assert(eq(str, fake.cmds[0].u.tcmd.action, "cancel"));
        answer_free(&a);

        /* POST: the target run's own command; {} or no body */
        a = call("POST", url, "tok-a", NULL, "{}");
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        a = (answer_free(&a), call("POST", url, "tok-a", NULL, NULL));
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        answer_free(&a);
        cr_assert(eq(int, fake.n_sends, 3));
        for (int i = 1; i < 3; i++) {
                cr_assert(eq(str, fake.cmds[i].u.tcmd.action, "resend"));
                cr_assert(sr_uuid_eq(&fake.cmds[i].u.tcmd.command_id,
                                     &tr->command_id));
        }

        /* the worker's refusals: another command 404, a final one 400 */
        fake.refused = true;
        fake.reason = SR_REJECT_NOT_FOUND;
        a = call("PUT", put_url, "tok-a", NULL,
                 "{\"request_status\": \"cancelled\"}");
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);
        fake.reason = SR_REJECT_ILLEGAL_TRANSITION;
        a = call("POST", url, "tok-a", NULL, "{}");
        cr_assert(eq(int, a.status, 400), "%s", a.body);
        answer_free(&a);
        cr_assert(eq(int, fake.n_sends, 5));
}

/* Bodies the gateway refuses before anything is sent; an id that is not
 * a UUID is no route. */
Test(sr_gateway, a_command_write_with_a_bad_body_or_id_sends_nothing)
{
        char url[300], put_url[400];
        static const char *const bad[] = {
                "{}", "{\"request_status\": \"running\"}",
                "{\"request_status\": 1}",
                "{\"request_status\": \"cancelled\", \"why\": \"x\"}",
                "[]", "",
        };
        answer_t a;

        snprintf(url, sizeof(url), "%scommand/", target_url());
        snprintf(put_url, sizeof(put_url), "%s%s/", url,
                 "0b6b5f3a-1111-4c4c-8d8d-123456789abc");
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                a = call("PUT", put_url, "tok-a", NULL, bad[i]);
                cr_assert(eq(int, a.status, 400), "%s: %s", bad[i], a.body);
                answer_free(&a);
        }
        a = call("POST", url, "tok-a", NULL, "[1]");
        cr_assert(eq(int, a.status, 400), "%s", a.body);
        answer_free(&a);
        a = call("POST", url, "tok-a", NULL, "{\"command\": \"REBOOT\"}");
        cr_assert(eq(int, a.status, 400), "%s", a.body);
        answer_free(&a);
        snprintf(put_url, sizeof(put_url), "%snot-a-uuid/", url);
        a = call("PUT", put_url, "tok-a", NULL,
                 "{\"request_status\": \"cancelled\"}");
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);
        cr_assert(eq(int, fake.n_sends, 0));
}

Test(sr_gateway, accepted_stage_and_pipeline_run_puts_send_their_commands)
{
        answer_t a;

        fake.after = stage_e;
        fake.after.u.sr.m.status = SR_ST_QUEUED;
        fake.after.u.sr.m.version = 2;
        fake.has_after = true;
        a = call("PUT", stage_url(), "tok-a", NULL,
                 "{\"status\":\"queued\"}");
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "status"), "queued"));
        cr_assert(eq(int, fake.cmds[0].kind, SR_CMD_SET_STAGE_RUN_STATUS));
        cr_assert(sr_uuid_eq(&fake.cmds[0].pipeline_run_id,
                             &run_e.u.pr.m.id));
        cr_assert(sr_uuid_eq(&fake.cmds[0].u.set.entity_id,
                             &stage_e.u.sr.m.id));
        answer_free(&a);

        fake.after = run_e;
        fake.after.u.pr.m.status = SR_ST_CANCELLED;
        fake.after.u.pr.m.version = 2;
        a = call("PUT", run_url(), "tok-a", NULL,
                 "{\"status\":\"cancelled\"}");
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "status"), "cancelled"));
        cr_assert(eq(int, fake.cmds[1].kind,
                     SR_CMD_SET_PIPELINE_RUN_STATUS));
        cr_assert(sr_uuid_eq(&fake.cmds[1].pipeline_run_id,
                             &run_e.u.pr.m.id));
        answer_free(&a);
}

/* One read before the command, none while it is under way, one to render
 * the answer once it is visible: a PUT reads what two GETs read. */
Test(sr_gateway, a_put_reads_its_entity_once_before_and_once_after)
{
        static const char *const bodies[] = {
                "{\"status\":\"success\"}",
                "{\"status\":\"queued\"}",
                "{\"status\":\"cancelled\"}",
        };
        const char *(*urls[])(void) = { target_url, stage_url, run_url };

        for (int i = 0; i < 3; i++) {
                uint64_t d0, one_get;
                answer_t a;

                d0 = decodes();
                a = call("GET", urls[i](), "tok-a", NULL, NULL);
                cr_assert(eq(int, a.status, 200));
                answer_free(&a);
                one_get = decodes() - d0;
                cr_assert(one_get >= 1);

                fake.has_after = false; /* the versions are there */
                d0 = decodes();
                a = call("PUT", urls[i](), "tok-a", NULL, bodies[i]);
                cr_assert(eq(int, a.status, 200), "%s", a.body);
                answer_free(&a);
                cr_assert(eq(u64, fake.decodes_at_send - d0, one_get),
                          "%s: reads before the command", urls[i]());
                cr_assert(eq(u64, fake.decodes_at_visible - d0, one_get),
                          "%s: reads while it was under way", urls[i]());
                cr_assert(eq(u64, decodes() - d0, 2 * one_get),
                          "%s: reads of the whole PUT", urls[i]());
        }
}

/* The worker's refusal: its message, the command id and the reason. */
static void expect_refusal(sr_reject_t reason, int status)
{
        char cid[SR_UUID_STR_LEN + 1];
        answer_t a;

        fake.refused = true;
        fake.reason = reason;
        a = call("PUT", target_url(), "tok-a", NULL,
                 "{\"status\":\"success\"}");
        cr_assert(eq(int, a.status, status), "%s", a.body);
        cr_assert(eq(str, (char *)message(&a), "the worker says no"));
        cr_assert(eq(str, (char *)content_str(&a, "reason"),
                     (char *)sr_reject_name(reason)));
        sr_uuid_fmt(&fake.cmds[fake.n_sends - 1].command_id, cid);
        cr_assert(eq(str, (char *)content_str(&a, "command_id"), cid));
        cr_assert(eq(int, fake.n_wait_visible, 0));
        answer_free(&a);
}

Test(sr_gateway, refused_replies_map_to_400_404_413_500)
{
        expect_refusal(SR_REJECT_ILLEGAL_TRANSITION, 400);
        expect_refusal(SR_REJECT_NOT_FOUND, 404);
        expect_refusal(SR_REJECT_TENANT, 404);
        expect_refusal(SR_REJECT_TOO_LARGE, 413);
        expect_refusal(SR_REJECT_INTERNAL, 500);
}

Test(sr_gateway, no_reply_in_time_is_202_with_the_command_id)
{
        char cid[SR_UUID_STR_LEN + 1];
        answer_t a;

        fake.no_reply = true;
        a = call("PUT", target_url(), "tok-a", NULL,
                 "{\"status\":\"success\"}");
        cr_assert(eq(int, a.status, 202), "%s", a.body);
        cr_assert(eq(int, a.retry_after, 1));
        cr_assert(eq(str, (char *)message(&a),
                     "accepted; the outcome did not arrive in time"));
        sr_uuid_fmt(&fake.cmds[0].command_id, cid);
        cr_assert(eq(str, (char *)content_str(&a, "command_id"), cid));
        cr_assert(eq(int, fake.n_wait_visible, 0));
        answer_free(&a);
}

Test(sr_gateway, accepted_but_not_visible_in_time_is_202)
{
        answer_t a;

        script_target_success();
        fake.not_visible = true;
        a = call("PUT", target_url(), "tok-a", NULL,
                 "{\"status\":\"success\"}");
        cr_assert(eq(int, a.status, 202), "%s", a.body);
        cr_assert(eq(str, (char *)message(&a),
                     "accepted; not yet visible in reads"));
        answer_free(&a);
}

Test(sr_gateway, send_failures_map_to_503_413_500)
{
        answer_t a;

        fake.sent = SR_GW_SEND_BUSY;
        a = call("PUT", target_url(), "tok-a", NULL,
                 "{\"status\":\"success\"}");
        cr_assert(eq(int, a.status, 503), "%s", a.body);
        cr_assert(eq(int, a.retry_after, 1));
        cr_assert(eq(str, (char *)message(&a),
                     "too many writes in flight; retry"));
        answer_free(&a);

        fake.sent = SR_GW_SEND_FAILED;
        fake.send_err = SR_ERR_RETRY;
        a = call("PUT", target_url(), "tok-a", NULL,
                 "{\"status\":\"success\"}");
        cr_assert(eq(int, a.status, 503), "%s", a.body);
        cr_assert(eq(int, a.retry_after, 5));
        cr_assert(eq(str, (char *)message(&a),
                     "the broker did not take the command (scripted "
                     "failure); nothing was changed, retry"));
        answer_free(&a);

        fake.send_err = SR_ERR_TOO_LARGE;
        a = call("PUT", target_url(), "tok-a", NULL,
                 "{\"status\":\"success\"}");
        cr_assert(eq(int, a.status, 413), "%s", a.body);
        answer_free(&a);

        fake.send_err = SR_ERR_KAFKA;
        a = call("PUT", target_url(), "tok-a", NULL,
                 "{\"status\":\"success\"}");
        cr_assert(eq(int, a.status, 500), "%s", a.body);
        cr_assert(eq(str, (char *)message(&a),
                     "the broker refused the command (scripted failure); "
                     "nothing was changed"));
        answer_free(&a);
        cr_assert(eq(int, fake.n_wait_reply, 0));
}

#define SPEC_PIPELINE "7d2f1a1e-3c4b-4f7a-9a61-0c3c1b2d4e5f"

/* A run spec whose one operation's args hold @p n bytes of a string. */
static char *spec_body(size_t n)
{
        static const char head[] =
                "{\"pipeline_id\":\"" SPEC_PIPELINE "\","
                "\"pipeline_name\":\"unit\",\"stages\":[{\"name\":\"s1\","
                "\"operations\":[{\"operation_type\":\"INSTALL\","
                "\"args\":{\"package_name\":\"";
        static const char tail[] =
                "\"}}],\"targets\":[{\"device_id\":"
                "\"0b7a8c7e-1111-4a0e-8f0e-000000000001\"}]}]}";
        char *b = malloc(sizeof(head) + n + sizeof(tail));

        cr_assert(not(eq(ptr, b, NULL)));
        memcpy(b, head, sizeof(head) - 1);
        memset(b + sizeof(head) - 1, 'x', n);
        memcpy(b + sizeof(head) - 1 + n, tail, sizeof(tail));
        return b;
}

Test(sr_gateway, a_create_over_command_max_bytes_is_413_and_sends_nothing)
{
        char *body = spec_body(8000); /* command.max.bytes is 4096 */
        answer_t a;

        a = call("POST", "/v0/runs/", "tok-a", NULL, body);
        cr_assert(eq(int, a.status, 413), "%s", a.body);
        cr_assert(not(eq(ptr, strstr(message(&a), "command.max.bytes "
                                                   "(4096)"),
                         NULL)),
                  "%s", message(&a));
        cr_assert(eq(int, fake.n_sends, 0));
        cr_assert(eq(u64, fake.decodes_at_send, 0)); /* never called */
        answer_free(&a);
        free(body);
}

/* A spec of @p stages stages, @p ops operations, @p targets targets. */
static char *counted_spec(unsigned stages, unsigned ops, unsigned targets)
{
        char *b = kit_spec_text(SPEC_PIPELINE, stages, ops, targets, false);

        cr_assert(not(eq(ptr, b, NULL)));
        return b;
}

Test(sr_gateway, each_count_limit_is_configured_and_over_it_is_400_naming_the_key)
{
        static const struct {
                unsigned s, o, t;
                const char *msg; /* NULL: accepted and sent */
        } cases[] = {
                { 2, 3, 4, NULL },
                { 3, 1, 1, "stages: 3 stages, at most 2 per run "
                           "(run.max.stages)" },
                { 1, 4, 1, "stages[0].operations: 4 operations, at most 3 "
                           "per stage (stage.max.operations)" },
                { 1, 1, 5, "stages[0].targets: 5 targets, at most 4 per "
                           "stage (stage.max.targets)" },
        };
        sr_errctx_t ec = { 0 };
        int sends = 0;

        cr_assert(eq(int, sr_conf_set(conf, "run.max.stages", "2", &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(int, sr_conf_set(conf, "stage.max.operations", "3",
                                      &ec), SR_OK), "%s", ec.msg);
        cr_assert(eq(int, sr_conf_set(conf, "stage.max.targets", "4", &ec),
                     SR_OK), "%s", ec.msg);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *body = counted_spec(cases[i].s, cases[i].o, cases[i].t);
                answer_t a = call("POST", "/v0/runs/", "tok-a", NULL, body);

                if (cases[i].msg) {
                        cr_assert(eq(int, a.status, 400), "%s", a.body);
                        cr_assert(eq(str, (char *)message(&a),
                                     (char *)cases[i].msg));
                } else {
                        cr_assert(not(eq(int, a.status, 400)), "%s", a.body);
                        sends++;
                }
                cr_assert(eq(int, fake.n_sends, sends));
                answer_free(&a);
                free(body);
        }
        /* Above a key's upper bound is refused at load. */
        cr_assert(eq(int, sr_conf_set(conf, "stage.max.targets", "10000001",
                                      &ec), SR_ERR_CONF));
        cr_assert(eq(int, sr_conf_set(conf, "stage.max.targets", "10000000",
                                      &ec), SR_OK), "%s", ec.msg);
}

/* The run's id comes from the Idempotency-Key (sr_idem_uuid()): the
 * fake worker creates that run, and the answer is it as projected. A
 * retry is the same command, answered the same. */
Test(sr_gateway, an_accepted_create_answers_the_new_run)
{
        char *body = spec_body(10);
        char id[SR_UUID_STR_LEN + 1];
        sr_uuid_t run;
        answer_t a, b;

        sr_idem_uuid(&run, "idem-run", ENT_A, "create-1");
        sr_uuid_fmt(&run, id);
        fake.has_after = true;
        fake.after = run_e;
        fake.after.u.pr.m.id = run;
        fake.after.u.pr.m.status = SR_ST_PENDING;
        cr_assert(sr_uuid_parse(SPEC_PIPELINE, SR_UUID_STR_LEN,
                                &fake.after.u.pr.pipeline_id));
        a = call("POST", "/v0/runs/", "tok-a", "create-1", body);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "id"), id));
        cr_assert(eq(str, (char *)content_str(&a, "status"), "pending"));
        cr_assert(eq(int, fake.cmds[0].kind, SR_CMD_CREATE_RUN));
        cr_assert(sr_uuid_eq(&fake.cmds[0].pipeline_run_id, &run));
        /* no run of that pipeline in the projection yet */
        cr_assert(eq(int, fake.cmds[0].u.create.run_number, 1));
        cr_assert(eq(str, fake.cmds[0].u.create.spec.pipeline_name, "unit"));

        b = call("POST", "/v0/runs/", "tok-a", "create-1", body);
        cr_assert(eq(int, b.status, 200), "%s", b.body);
        cr_assert(eq(str, a.body, b.body));
        cr_assert(eq(int, fake.n_sends, 2));
        cr_assert(sr_uuid_eq(&fake.cmds[1].command_id,
                             &fake.cmds[0].command_id));
        answer_free(&a);
        answer_free(&b);
        free(body);
}

/* A PUT of @p body with @p key on @p url1, then on @p url2: both 200, the
 * same answer, the same command sent again. */
static void expect_retry(const char *url1, const char *url2, const char *key,
                         const char *body)
{
        int n = fake.n_sends;
        answer_t a, b;

        a = call("PUT", url1, "tok-a", key, body);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        b = call("PUT", url2, "tok-a", key, body);
        cr_assert(eq(int, b.status, 200), "%s", b.body);
        cr_assert(eq(str, a.body, b.body));
        cr_assert(eq(int, fake.n_sends, n + 2));
        cr_assert(sr_uuid_eq(&fake.cmds[n].command_id,
                             &fake.cmds[n + 1].command_id));
        answer_free(&a);
        answer_free(&b);
}

Test(sr_gateway, same_key_and_body_is_the_same_command_other_body_409)
{
        answer_t a3;

        script_target_success();
        expect_retry(target_url(), target_url(), "key-1",
                     "{\"status\":\"success\"}");
        a3 = call("PUT", target_url(), "tok-a", "key-1",
                  "{\"status\":\"failure\"}");
        cr_assert(eq(int, a3.status, 409), "%s", a3.body);
        cr_assert(eq(int, fake.n_sends, 2));
        answer_free(&a3);
}

/* ------------------------------------------------ an open stage's targets
 * POST .../targets/ and .../targets/seal/ (docs/targets.md, section 5). */

static char targets_path[256], seal_path[256];

static const char *targets_url(void)
{
        snprintf(targets_path, sizeof(targets_path),
                 "/v0/runs/%s/stageruns/%s/targets/", run_id, stage_id);
        return targets_path;
}

static const char *seal_url(void)
{
        snprintf(seal_path, sizeof(seal_path),
                 "/v0/runs/%s/stageruns/%s/targets/seal/", run_id, stage_id);
        return seal_path;
}

/* Devices first..first+n-1, named, as a chunk's items and as its body. */
static void chunk_items(uint32_t first, uint32_t n, sr_spec_target_t *t)
{
        for (uint32_t i = 0; i < n; i++) {
                char name[32];

                memset(&t[i], 0, sizeof(t[i]));
                snprintf(name, sizeof(name), "device-%u", first + i);
                t[i].device_id = uid(name);
                snprintf(t[i].device_name, sizeof(t[i].device_name), "d-%u",
                         first + i);
        }
}

static char *chunk_body(uint32_t chunk, uint32_t first, uint32_t n)
{
        sr_spec_target_t t[64];
        json_t *o;
        char *text;

        cr_assert(n <= 64);
        chunk_items(first, n, t);
        o = json_pack("{s:I,s:o}", "chunk", (json_int_t)chunk, "targets",
                      sr_spec_targets_to_json_value(t, n));
        cr_assert(not(eq(ptr, o, NULL)));
        text = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        return text;
}

/* The id the gateway must give: v5 of run, stage index, chunk, digest. */
static sr_uuid_t chunk_command_id(uint32_t index, uint32_t chunk,
                                  uint32_t first, uint32_t n)
{
        sr_spec_target_t t[64];
        uint8_t d[SR_DIGEST_LEN];
        char hex[2 * SR_DIGEST_LEN + 1];
        sr_errctx_t ec = { 0 };
        sr_uuid_t id;

        chunk_items(first, n, t);
        cr_assert(eq(int, sr_targets_digest(t, n, d, &ec), SR_OK), "%s",
                  ec.msg);
        for (int i = 0; i < SR_DIGEST_LEN; i++)
                snprintf(hex + 2 * i, 3, "%02x", d[i]);
        sr_uuid_v5(&id, &sr_ns, "%s/stage/%u/chunk/%u/%s", run_id, index,
                   chunk, hex);
        return id;
}

/* The stage run as the projection would hold it once the changelog
 * carries an open stage's state (version 2): written as stored, since
 * this changelog's records do not carry it yet. */
static void store_stage_as_projected(const sr_entity_t *e)
{
        char key[SR_ENTITY_KEY_MAX];
        size_t klen = sr_entity_key(e, key);
        struct wbuf w = { 0 };
        MDB_val k = { ID_LEN, (void *)e->u.sr.m.id.b }, v;
        MDB_txn *t;

        sr_proj__enc_entity(&w, e, sr_slice(key, klen));
        cr_assert(not(w.oom));
        v.mv_size = w.len;
        v.mv_data = w.p;
        cr_assert(eq(int, mdb_txn_begin(proj->env, NULL, 0, &t), 0));
        cr_assert(eq(int, mdb_put(t, proj->dbi[DBI_ENT], &k, &v, 0), 0));
        cr_assert(eq(int, mdb_txn_commit(t), 0));
        free(w.p);
}

static json_t *content(const answer_t *a, const char *field);

/* docs/targets.md, section 1: the create of an open stage carries it. */
Test(sr_gateway, a_create_with_an_open_stage_sends_it_open)
{
        const char *body =
                "{\"pipeline_id\":\"" SPEC_PIPELINE "\",\"stages\":["
                "{\"name\":\"fleet\",\"operations\":[{\"operation_type\":"
                "\"REBOOT\"}],\"targets\":{\"append\":true,"
                "\"expected\":100000}}]}";
        answer_t a;

        a = call("POST", "/v0/runs/", "tok-a", NULL, body);
        cr_assert(eq(int, fake.n_sends, 1), "%s", a.body);
        cr_assert(eq(int, fake.cmds[0].kind, SR_CMD_CREATE_RUN));
        cr_assert(fake.cmds[0].u.create.spec.stages[0].append_targets);
        cr_assert(eq(i64, fake.cmds[0].u.create.spec.stages[0]
                                  .expected_targets,
                     100000));
        cr_assert(eq(u32, fake.cmds[0].u.create.spec.stages[0].n_targets, 0));
        answer_free(&a);
}

Test(sr_gateway, a_chunk_is_one_append_command_with_the_stage_index_and_items)
{
        char *body = chunk_body(4, 0, 3);
        sr_uuid_t want;
        json_t *c;
        answer_t a;

        stage_e.u.sr.index = 2; /* the command's index is the stage's */
        put(&stage_e);
        a = call("POST", targets_url(), "tok-a", NULL, body);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(int, fake.n_sends, 1));
        cr_assert(eq(int, fake.cmds[0].kind, SR_CMD_APPEND_TARGETS));
        cr_assert(sr_uuid_eq(&fake.cmds[0].pipeline_run_id,
                             &run_e.u.pr.m.id));
        cr_assert(eq(str, fake.cmds[0].enterprise_id, ENT_A));
        cr_assert(eq(u32, fake.cmds[0].u.append.stage_index, 2));
        cr_assert(eq(u32, fake.cmds[0].u.append.chunk, 4));
        cr_assert(eq(u32, fake.cmds[0].u.append.n_targets, 3));
        cr_assert(eq(str, fake.cmds[0].u.append.targets[2].device_name,
                     "d-2"));
        want = chunk_command_id(2, 4, 0, 3);
        cr_assert(sr_uuid_eq(&fake.cmds[0].command_id, &want));
        /* this projection does not show the stage open: counts unknown */
        c = json_object_get(a.json, "content");
        cr_assert(eq(int, (int)json_integer_value(json_object_get(c,
                                                                  "chunk")),
                     4));
        cr_assert(eq(int, (int)json_integer_value(json_object_get(c,
                                                                  "targets")),
                     3));
        cr_assert(eq(int, json_typeof(json_object_get(c,
                                                      "targets_appended")),
                     JSON_NULL));
        answer_free(&a);
        free(body);
}

/* A retry of a chunk is the same command (the worker's dedupe answers
 * it); the same index with other items is another, which the worker
 * refuses chunk_conflict. */
Test(sr_gateway, a_chunks_command_id_is_its_content_not_the_request)
{
        char *b1 = chunk_body(0, 0, 2), *b2 = chunk_body(0, 10, 2);
        sr_uuid_t other;
        answer_t a;

        for (int i = 0; i < 2; i++) {
                a = call("POST", targets_url(), "tok-a", NULL, b1);
                cr_assert(eq(int, a.status, 200), "%s", a.body);
                answer_free(&a);
        }
        cr_assert(sr_uuid_eq(&fake.cmds[0].command_id,
                             &fake.cmds[1].command_id));
        a = call("POST", targets_url(), "tok-a", NULL, b2);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        answer_free(&a);
        cr_assert(not(sr_uuid_eq(&fake.cmds[0].command_id,
                                 &fake.cmds[2].command_id)));
        other = chunk_command_id(0, 0, 10, 2);
        cr_assert(sr_uuid_eq(&fake.cmds[2].command_id, &other));
        /* an Idempotency-Key is checked, but the id stays the chunk's */
        a = call("POST", targets_url(), "tok-a", "chunk-key", b1);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        answer_free(&a);
        cr_assert(sr_uuid_eq(&fake.cmds[3].command_id,
                             &fake.cmds[0].command_id));
        a = call("POST", targets_url(), "tok-a", "chunk-key", b2);
        cr_assert(eq(int, a.status, 409), "%s", a.body);
        cr_assert(not(eq(ptr, strstr(message(&a), "Idempotency-Key"), NULL)));
        answer_free(&a);
        cr_assert(eq(int, fake.n_sends, 4));
        free(b1);
        free(b2);
}

/* Once the projection shows the stage open, the answer gives its counts
 * as read after the reply. */
Test(sr_gateway, an_accepted_chunk_answers_the_stages_counts_as_projected)
{
        char *body = chunk_body(1, 0, 2);
        sr_entity_t open = stage_e;
        json_t *c;
        answer_t a;

        open.u.sr.append_targets = true;
        open.u.sr.expected_targets = 5;
        open.u.sr.chunks_applied = 2;
        open.u.sr.targets_appended = 4;
        store_stage_as_projected(&open);
        a = call("POST", targets_url(), "tok-a", NULL, body);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        c = json_object_get(a.json, "content");
        cr_assert(eq(int, (int)json_integer_value(json_object_get(
                                  c, "targets_appended")),
                     4));
        cr_assert(eq(int, (int)json_integer_value(json_object_get(c,
                                                                  "chunks")),
                     2));
        answer_free(&a);
        /* and GET shows the open stage's targets object */
        a = call("GET", stage_url(), "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(not(eq(ptr, strstr(a.body, "\"targets\":{\"append\":true,"
                                             "\"expected\":5,\"appended\":4,"
                                             "\"chunks\":2,\"sealed\":false}"),
                         NULL)),
                  "%s", a.body);
        answer_free(&a);
        free(body);
}

Test(sr_gateway, a_bad_chunk_is_400_naming_the_item_and_sends_nothing)
{
        static const struct {
                char body[200], msg[200];
        } cases[] = {
                { "{\"chunk\":0,\"targets\":[{\"device_id\":\"0b7a8c7e-1111-"
                  "4a0e-8f0e-000000000001\"},{\"device_id\":\"nope\"}]}",
                  "targets[1].device_id: expected a UUID string, got "
                  "\"nope\"" },
                { "{\"chunk\":0,\"targets\":[{\"device_name\":\"x\"}]}",
                  "targets[0].device_id: required field missing" },
                { "{\"chunk\":0,\"targets\":[{\"device_id\":\"0b7a8c7e-1111-"
                  "4a0e-8f0e-000000000001\",\"args\":{}}]}",
                  "targets[0].args: unknown field" },
                { "{\"chunk\":-1,\"targets\":[]}",
                  "chunk: expected a chunk index, an integer 0..2147483647, "
                  "got -1" },
                { "{\"chunk\":1.5,\"targets\":[]}",
                  "chunk: expected a chunk index, an integer 0..2147483647, "
                  "got 1.5" },
                { "{\"targets\":[]}", "chunk: required field missing" },
                { "{\"chunk\":0}", "targets: required field missing" },
                { "{\"chunk\":0,\"targets\":{}}",
                  "targets: expected an array of targets, got {}" },
                { "{\"chunk\":0,\"targets\":[],\"seal\":true}",
                  "unknown field \"seal\"; allowed: chunk, targets" },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                answer_t a = call("POST", targets_url(), "tok-a", NULL,
                                  cases[i].body);

                cr_assert(eq(int, a.status, 400), "%s", a.body);
                cr_assert(eq(str, (char *)message(&a), (char *)cases[i].msg));
                answer_free(&a);
        }
        cr_assert(eq(int, fake.n_sends, 0));
}

Test(sr_gateway, a_chunk_over_stage_chunk_targets_is_400_naming_the_key)
{
        char *body = chunk_body(0, 0, 3);
        sr_errctx_t ec = { 0 };
        answer_t a;

        cr_assert(eq(int, sr_conf_set(conf, "stage.chunk.targets", "2", &ec),
                     SR_OK), "%s", ec.msg);
        a = call("POST", targets_url(), "tok-a", NULL, body);
        cr_assert(eq(int, a.status, 400), "%s", a.body);
        cr_assert(eq(str, (char *)message(&a), "targets: 3 targets, at most 2 "
                                               "per chunk "
                                               "(stage.chunk.targets)"));
        answer_free(&a);
        cr_assert(eq(int, fake.n_sends, 0));
        cr_assert(eq(int, sr_conf_set(conf, "stage.chunk.targets", "10001",
                                      &ec), SR_ERR_CONF));
        cr_assert(eq(int, sr_conf_set(conf, "stage.chunk.targets", "0", &ec),
                     SR_ERR_CONF));
        free(body);
}

/* command.max.bytes is 4096 here: 40 targets named in 100 bytes do not
 * fit. */
Test(sr_gateway, a_chunk_over_command_max_bytes_is_413_and_sends_nothing)
{
        sr_spec_target_t t[40];
        json_t *o;
        char *body;
        answer_t a;

        chunk_items(0, 40, t);
        for (int i = 0; i < 40; i++)
                memset(t[i].device_alias, 'a', 100);
        o = json_pack("{s:i,s:o}", "chunk", 0, "targets",
                      sr_spec_targets_to_json_value(t, 40));
        body = json_dumps(o, JSON_COMPACT);
        json_decref(o);

        a = call("POST", targets_url(), "tok-a", NULL, body);
        cr_assert(eq(int, a.status, 413), "%s", a.body);
        cr_assert(not(eq(ptr, strstr(message(&a), "fewer targets in the "
                                                   "chunk"),
                         NULL)),
                  "%s", message(&a));
        cr_assert(eq(int, fake.n_sends, 0));
        answer_free(&a);
        free(body);
}

Test(sr_gateway, an_unknown_or_foreign_stage_run_is_404_and_sends_nothing)
{
        char *body = chunk_body(0, 0, 1), url[256];
        const char *seal = "{\"chunks\":1,\"count\":1,\"digest\":"
                           "\"00000000000000000000000000000000"
                           "00000000000000000000000000000000\"}";
        answer_t a;

        snprintf(url, sizeof(url), "/v0/runs/%s/stageruns/%s/targets/",
                 run_id, target_id); /* no such stage run */
        a = call("POST", url, "tok-a", NULL, body);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        cr_assert(eq(str, (char *)message(&a), "stage run not found"));
        answer_free(&a);
        snprintf(url, sizeof(url), "/v0/runs/%s/stageruns/%s/targets/",
                 target_id, stage_id); /* under another run */
        a = call("POST", url, "tok-a", NULL, body);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);
        a = call("POST", targets_url(), "tok-b", NULL, body);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);
        a = call("POST", seal_url(), "tok-b", NULL, seal);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);
        a = call("PUT", targets_url(), "tok-a", NULL, body);
        cr_assert(eq(int, a.status, 405), "%s", a.body);
        answer_free(&a);
        cr_assert(eq(int, fake.n_sends, 0));
        free(body);
}

/* GET .../targets/: an open stage's appended targets, by device id. */

/* The stage run opened (as the changelog's version 2 carries it) and
 * chunks 0..n_chunks-1 of @p per targets each applied: the devices of
 * chunk_items(), chunk c holding first = c * per. */
static void open_with_chunks(uint32_t n_chunks, uint32_t per)
{
        sr_entity_t open = stage_e;

        open.u.sr.append_targets = true;
        open.u.sr.chunks_applied = n_chunks;
        open.u.sr.targets_appended = n_chunks * per;
        put(&open);
        for (uint32_t c = 0; c < n_chunks; c++) {
                sr_spec_target_t t[64];
                char key[SR_ENTITY_KEY_MAX];
                sr_errctx_t ec = { 0 };
                sr_buf_t buf = { 0 };
                sr_changelog_t cl;
                size_t klen;

                cr_assert(per <= 64);
                chunk_items(c * per, per, t);
                memset(&cl, 0, sizeof(cl));
                cl.kind = SR_CL_CHUNK;
                cl.u.chunk.pipeline_run_id = run_e.u.pr.m.id;
                cl.u.chunk.stage_index = stage_e.u.sr.index;
                cl.u.chunk.chunk = c;
                cl.u.chunk.n_targets = per;
                cl.u.chunk.targets = t; /* borrowed */
                klen = sr_chunk_key(&cl.u.chunk, key);
                cr_assert(eq(int, sr_codec_encode_changelog(codec, &cl, &buf,
                                                            &ec),
                             SR_OK), "%s", ec.msg);
                apply_raw(sr_slice(key, klen), sr_buf_slice(&buf));
                sr_buf_free(&buf);
        }
}

/* Device ids of chunk_items() 0..n-1, as text, sorted: the list's order
 * (a UUID's bytes and its lower-case text sort alike). */
static int str_cmp(const void *a, const void *b)
{
        return strcmp(a, b);
}

static void sorted_devices(uint32_t n, char (*out)[SR_UUID_STR_LEN + 1])
{
        for (uint32_t i = 0; i < n; i++) {
                char name[32];
                sr_uuid_t u;

                snprintf(name, sizeof(name), "device-%u", i);
                u = uid(name);
                sr_uuid_fmt(&u, out[i]);
        }
        qsort(out, n, sizeof(*out), str_cmp);
}

static const char *field_str(json_t *o, const char *field)
{
        const char *s = json_string_value(json_object_get(o, field));

        return s ? s : "(absent)";
}

/* json_is_null() is a macro Criterion's cr_assert cannot take. */
static bool is_null(json_t *v)
{
        return json_is_null(v);
}

Test(sr_gateway, an_open_stages_targets_list_by_device_id_in_the_envelope)
{
        char devs[6][SR_UUID_STR_LEN + 1], url[512], want_tid[64];
        const char *prefixes[] = { "/v0", "/api/pipelines/v0" };
        sr_uuid_t dev, tid;
        json_t *res, *t;
        answer_t a;

        open_with_chunks(2, 3);
        sorted_devices(6, devs);
        for (size_t p = 0; p < 2; p++) {
                snprintf(url, sizeof(url), "%s/runs/%s/stageruns/%s/targets/",
                         prefixes[p], run_id, stage_id);
                a = call("GET", url, "tok-a", NULL, NULL);
                cr_assert(eq(int, a.status, 200), "%s", a.body);
                cr_assert(eq(int, (int)json_integer_value(content(&a,
                                                                  "count")),
                             6));
                cr_assert(is_null(content(&a, "next")), "%s", a.body);
                cr_assert(is_null(content(&a, "previous")), "%s",
                          a.body);
                res = content(&a, "results");
                cr_assert(eq(sz, json_array_size(res), 6));
                for (size_t i = 0; i < 6; i++) {
                        unsigned k, chunk, item;

                        t = json_array_get(res, i);
                        cr_assert(eq(str, (char *)field_str(t, "device_id"),
                                     devs[i]), "%s", a.body);
                        /* chunk_items() names device-k "d-k" */
                        cr_assert(eq(int, sscanf(field_str(t, "device_name"),
                                                 "d-%u", &k), 1));
                        chunk = (unsigned)json_integer_value(
                                json_object_get(t, "chunk"));
                        item = (unsigned)json_integer_value(
                                json_object_get(t, "item"));
                        cr_assert(eq(u32, chunk * 3 + item, k), "%s", a.body);
                        cr_assert(eq(str, (char *)field_str(t, "device_alias"),
                                     ""));
                        /* not given: the id its target runs will carry */
                        sr_uuid_parse(devs[i], SR_UUID_STR_LEN, &dev);
                        sr_uuid_v5(&tid, &sr_ns,
                                   "%s/stage/%u/device/%s/target", run_id,
                                   stage_e.u.sr.index, devs[i]);
                        sr_uuid_fmt(&tid, want_tid);
                        cr_assert(eq(str, (char *)field_str(t, "target_id"),
                                     want_tid));
                        cr_assert(eq(sz, json_object_size(t), 6), "%s",
                                  a.body);
                }
                answer_free(&a);
        }
}

Test(sr_gateway, appended_targets_walk_by_next_cursor_links_first_middle_last)
{
        char devs[7][SR_UUID_STR_LEN + 1], url[512];
        const char *next;
        json_t *res;
        answer_t a;
        uint32_t seen = 0, pages = 0;
        size_t sizes[3] = { 0 };

        open_with_chunks(1, 7);
        sorted_devices(7, devs);
        snprintf(url, sizeof(url), "%s?limit=3", targets_url());
        for (;;) {
                a = call("GET", url, "tok-a", NULL, NULL);
                cr_assert(eq(int, a.status, 200), "%s", a.body);
                cr_assert(eq(int, (int)json_integer_value(content(&a,
                                                                  "count")),
                             7));
                res = content(&a, "results");
                cr_assert(lt(u32, pages, 3));
                sizes[pages++] = json_array_size(res);
                for (size_t i = 0; i < json_array_size(res); i++)
                        cr_assert(eq(str, (char *)field_str(json_array_get(res, i),
                                                       "device_id"),
                                     devs[seen++]), "%s", a.body);
                next = json_string_value(content(&a, "next"));
                if (!next) {
                        answer_free(&a);
                        break;
                }
                cr_assert(eq(int, strncmp(next, targets_url(),
                                          strlen(targets_url())), 0),
                          "%s", next);
                cr_assert(strstr(next, "cursor=") != NULL, "%s", next);
                cr_assert(strstr(next, "offset=") == NULL, "%s", next);
                snprintf(url, sizeof(url), "%s", next);
                answer_free(&a);
        }
        cr_assert(eq(u32, seen, 7));
        cr_assert(eq(u32, pages, 3));
        cr_assert(eq(sz, sizes[0], 3));
        cr_assert(eq(sz, sizes[1], 3));
        cr_assert(eq(sz, sizes[2], 1));
        /* offset and limit as on every list */
        snprintf(url, sizeof(url), "%s?offset=5&limit=10", targets_url());
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        res = content(&a, "results");
        cr_assert(eq(sz, json_array_size(res), 2));
        cr_assert(eq(str, (char *)field_str(json_array_get(res, 0), "device_id"),
                     devs[5]));
        answer_free(&a);
        /* a cursor that is not this list's */
        snprintf(url, sizeof(url), "%s?cursor=00", targets_url());
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 400), "%s", a.body);
        cr_assert(eq(int, strncmp(message(&a), "cursor: ", 8), 0), "%s",
                  message(&a));
        answer_free(&a);
}

Test(sr_gateway, a_chunks_tombstone_takes_its_targets_out_of_the_list)
{
        sr_stage_chunk_t c = { .pipeline_run_id = run_e.u.pr.m.id,
                               .stage_index = stage_e.u.sr.index,
                               .chunk = 0 };
        char key[SR_ENTITY_KEY_MAX];
        size_t klen = sr_chunk_key(&c, key);
        answer_t a;

        open_with_chunks(2, 2);
        apply_raw(sr_slice(key, klen), sr_slice(NULL, 0));
        a = call("GET", targets_url(), "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(int, (int)json_integer_value(content(&a, "count")), 2));
        for (size_t i = 0; i < 2; i++)
                cr_assert(eq(int, (int)json_integer_value(json_object_get(
                                          json_array_get(content(&a,
                                                                 "results"),
                                                         i),
                                          "chunk")),
                             1), "%s", a.body);
        answer_free(&a);
}

/* An inline stage's targets are its target runs': none appended. */
Test(sr_gateway, an_inline_stages_targets_are_an_empty_list)
{
        answer_t a = call("GET", targets_url(), "tok-a", NULL, NULL);

        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(int, (int)json_integer_value(content(&a, "count")), 0));
        cr_assert(eq(sz, json_array_size(content(&a, "results")), 0));
        cr_assert(is_null(content(&a, "next")), "%s", a.body);
        answer_free(&a);
}

Test(sr_gateway, targets_of_an_unknown_foreign_or_other_runs_stage_run_404)
{
        char url[256];
        answer_t a;

        open_with_chunks(1, 2);
        snprintf(url, sizeof(url), "/v0/runs/%s/stageruns/%s/targets/",
                 run_id, target_id); /* no such stage run */
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        cr_assert(eq(str, (char *)message(&a), "stage run not found"));
        answer_free(&a);
        snprintf(url, sizeof(url), "/v0/runs/%s/stageruns/%s/targets/",
                 target_id, stage_id); /* under another run */
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);
        a = call("GET", targets_url(), "tok-b", NULL, NULL);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);
        a = call("GET", targets_url(), "tok-nope", NULL, NULL);
        cr_assert(eq(int, a.status, 401), "%s", a.body);
        answer_free(&a);
}

/* What an open stage's state refuses is a conflict with that state: 409,
 * the worker's message, its reason and the command id. */
Test(sr_gateway, the_open_stage_refusals_are_409_with_the_workers_message)
{
        static const sr_reject_t reasons[] = {
                SR_REJECT_CHUNK_CONFLICT, SR_REJECT_DUPLICATE_TARGET,
                SR_REJECT_TOO_MANY_TARGETS, SR_REJECT_SEALED,
                SR_REJECT_STALE_STAGE, SR_REJECT_SEAL_MISMATCH,
        };
        char *body = chunk_body(0, 0, 1), cid[SR_UUID_STR_LEN + 1];
        const char *seal = "{\"chunks\":1,\"count\":1,\"digest\":"
                           "\"ABCDEF0000000000000000000000000000000000000000"
                           "000000000000000001\"}";
        answer_t a;

        fake.refused = true;
        for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
                fake.reason = reasons[i];
                for (int route = 0; route < 2; route++) {
                        a = call("POST", route ? seal_url() : targets_url(),
                                 "tok-a", NULL, route ? seal : body);
                        cr_assert(eq(int, a.status, 409), "%s", a.body);
                        cr_assert(eq(str, (char *)message(&a),
                                     "the worker says no"));
                        cr_assert(eq(str, (char *)content_str(&a, "reason"),
                                     (char *)sr_reject_name(reasons[i])));
                        sr_uuid_fmt(&fake.cmds[fake.n_sends - 1].command_id,
                                    cid);
                        cr_assert(eq(str,
                                     (char *)content_str(&a, "command_id"),
                                     cid));
                        answer_free(&a);
                }
                /* the fake keeps 8 commands: start over */
                for (int k = 0; k < fake.n_sends; k++)
                        sr_command_fini(&fake.cmds[k]);
                fake.n_sends = 0;
        }
        fake.reason = SR_REJECT_INVALID_VALUE; /* e.g. not an open stage */
        a = call("POST", targets_url(), "tok-a", NULL, body);
        cr_assert(eq(int, a.status, 400), "%s", a.body);
        answer_free(&a);
        fake.reason = SR_REJECT_NOT_FOUND;
        a = call("POST", targets_url(), "tok-a", NULL, body);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);
        free(body);
}

Test(sr_gateway, a_seal_is_one_seal_command_and_answers_the_stage_run)
{
        const char *body = "{\"chunks\":3,\"count\":2500,\"digest\":"
                           "\"00112233445566778899AABBCCDDEEFF"
                           "00112233445566778899aabbccddeeff\"}";
        static const uint8_t want_digest[SR_DIGEST_LEN] = {
                0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
                0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
                0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
        };
        sr_uuid_t want;
        answer_t a, b;

        stage_e.u.sr.index = 1;
        put(&stage_e);
        fake.after = stage_e;
        fake.after.u.sr.m.version = 2;
        fake.has_after = true;
        a = call("POST", seal_url(), "tok-a", NULL, body);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "id"), stage_id));
        cr_assert(eq(int, fake.cmds[0].kind, SR_CMD_SEAL_TARGETS));
        cr_assert(eq(u32, fake.cmds[0].u.seal.stage_index, 1));
        cr_assert(eq(u32, fake.cmds[0].u.seal.chunks, 3));
        cr_assert(eq(i64, fake.cmds[0].u.seal.count, 2500));
        cr_assert(eq(int, memcmp(fake.cmds[0].u.seal.digest, want_digest,
                                 SR_DIGEST_LEN), 0));
        /* not an id of the seal's content (see the retry below) */
        sr_uuid_v5(&want, &sr_ns, "%s/stage/1/seal/3/2500/"
                   "00112233445566778899aabbccddeeff"
                   "00112233445566778899aabbccddeeff", run_id);
        cr_assert(not(sr_uuid_eq(&fake.cmds[0].command_id, &want)));
        /* the answer is the stage run as a GET reads it */
        b = call("GET", stage_url(), "tok-a", NULL, NULL);
        cr_assert(eq(str, a.body, b.body));
        answer_free(&a);
        answer_free(&b);
        /* The same seal again is a new command: after a seal_mismatch
         * (a chunk missing) the client sends the chunk and then the very
         * same seal, which must be applied, not answered with the first
         * refusal by the worker's dedupe. A seal is idempotent by the
         * rule itself (an equal second seal is accepted, no change); an
         * Idempotency-Key still makes a retry the same command. */
        a = call("POST", seal_url(), "tok-a", NULL, body);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(not(sr_uuid_eq(&fake.cmds[1].command_id,
                                 &fake.cmds[0].command_id)));
        answer_free(&a);
}

Test(sr_gateway, a_bad_seal_body_is_400_and_sends_nothing)
{
        static const struct {
                char body[200], msg[200];
        } cases[] = {
                { "{\"chunks\":1,\"count\":1,\"digest\":\"abc\"}",
                  "digest: expected 64 hex digits (SHA-256 over the chunks' "
                  "digests, docs/targets.md), got \"abc\"" },
                { "{\"chunks\":1,\"count\":1,\"digest\":\"zz000000000000000"
                  "00000000000000000000000000000000000000000000000\"}",
                  "digest: expected 64 hex digits (SHA-256 over the chunks' "
                  "digests, docs/targets.md), got \"zz000000000000000000000"
                  "0000000000000000..." }, /* shortened */
                { "{\"chunks\":1,\"count\":1,\"digest\":7}",
                  "digest: expected 64 hex digits (SHA-256 over the chunks' "
                  "digests, docs/targets.md), got 7" },
                { "{\"chunks\":-1,\"count\":1,\"digest\":\"\"}",
                  "chunks: expected a count of chunks, an integer "
                  "0..2147483647, got -1" },
                { "{\"chunks\":1,\"count\":\"1\",\"digest\":\"\"}",
                  "count: expected a count of targets, an integer >= 0, "
                  "got \"1\"" },
                { "{\"chunks\":1,\"count\":1}",
                  "digest: required field missing" },
                { "{\"count\":1,\"digest\":\"\"}",
                  "chunks: required field missing" },
                { "{\"chunks\":1,\"count\":1,\"digest\":\"\",\"x\":1}",
                  "unknown field \"x\"; allowed: chunks, count, digest" },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                answer_t a = call("POST", seal_url(), "tok-a", NULL,
                                  cases[i].body);

                cr_assert(eq(int, a.status, 400), "%s", a.body);
                cr_assert(eq(str, (char *)message(&a), (char *)cases[i].msg));
                answer_free(&a);
        }
        cr_assert(eq(int, fake.n_sends, 0));
}

/* ------------------------------------------------ the fleet's keys */

/* A claims topic two gateways share: each gateway's fake feed reads it
 * into that gateway's key memory from its own cursor, as sr_gw_feed.c
 * does. @c gw is the gateway a call() goes through. */
#define MAX_CLAIMS 8
static struct {
        char key[1024], value[1024];
        int32_t partition;
} claims[MAX_CLAIMS];
static int n_claims, read_by[2];
static sr_gateway_t *gw_one, *gw_two;
static sr_err_t claim_err;  /* what claim() answers */
static bool feed_stalls;    /* wait_feed(): nothing read in time */
static int sends_at_claim;  /* fake.n_sends when the last claim was made */

static sr_err_t fake_claim(void *ctx, sr_slice_t key, sr_slice_t value,
                           int32_t partition, int timeout_ms,
                           sr_errctx_t *ec)
{
        (void)ctx;
        cr_assert(timeout_ms > 0);
        sends_at_claim = fake.n_sends;
        if (claim_err)
                return sr_errctx_set(ec, claim_err, "scripted: broker away");
        cr_assert(n_claims < MAX_CLAIMS);
        cr_assert(key.len < sizeof(claims[0].key) &&
                  value.len < sizeof(claims[0].value));
        memcpy(claims[n_claims].key, key.ptr, key.len);
        memcpy(claims[n_claims].value, value.ptr, value.len);
        claims[n_claims++].partition = partition;
        return SR_OK;
}

static bool fake_wait_feed(void *ctx, bool (*done)(void *arg), void *arg,
                           int64_t until_ms)
{
        int *cursor = &read_by[gw == gw_two];

        (void)ctx;
        (void)until_ms;
        while (!feed_stalls && *cursor < n_claims) {
                const char *v = claims[(*cursor)++].value;
                sr_idem_claim_t c;
                sr_idem_verdict_t verdict;
                sr_errctx_t ec = { 0 };

                cr_assert(eq(int, sr_idem_claim_decode(sr_slice(v, strlen(v)),
                                                       &c, &ec), SR_OK),
                          "%s", ec.msg);
                sr_idem_claim_apply(gw->idem, &c, sr_clock_wall_ms(),
                                    sr_clock_mono_ms(), &verdict, &ec);
        }
        return done(arg);
}

static void fleet_setup(void)
{
        sr_gw_port_t port = {
                .ctx = &fake,
                .send = fake_send,
                .wait_reply = fake_wait_reply,
                .wait_visible = fake_wait_visible,
                .wait_retired = fake_wait_retired,
                .wait_def_seq = fake_wait_def_seq,
                .wait_run = fake_wait_run,
                .claim = fake_claim,
                .wait_feed = fake_wait_feed,
        };
        sr_errctx_t ec = { 0 };

        gw_setup(); /* gw: the in-memory one, replaced */
        sr_gateway_destroy(gw);
        cr_assert(eq(int, sr_gateway_new_with_port(conf, NULL, TOKENS, proj,
                                                   &port, &gw_one, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(int, sr_gateway_new_with_port(conf, NULL, TOKENS, proj,
                                                   &port, &gw_two, &ec),
                     SR_OK), "%s", ec.msg);
        gw = gw_one;
        n_claims = read_by[0] = read_by[1] = 0;
        claim_err = SR_OK;
        feed_stalls = false;
}

static void fleet_teardown(void)
{
        sr_gateway_destroy(gw_two);
        gw_two = NULL;
        gw = gw_one;
        gw_one = NULL;
        gw_teardown();
}

/* The same .timeout as sr_gateway (tests/CMakeLists.txt, sanitizers). */
TestSuite(sr_gateway_fleet, .init = fleet_setup, .fini = fleet_teardown,
          .timeout = 60.0);

/* Claim @p i (decoded into @p c) has the fingerprint of a PUT of @p body
 * on @p url. */
static void expect_claim_of(int i, const char *url, const char *body,
                            sr_idem_claim_t *c)
{
        uint8_t fp[SR_IDEM_FP_LEN];
        sr_errctx_t ec = { 0 };
        sr_route_t route;

        cr_assert(lt(int, i, n_claims));
        cr_assert(eq(int, sr_idem_claim_decode(
                                  sr_slice(claims[i].value,
                                           strlen(claims[i].value)),
                                  c, &ec), SR_OK), "%s", ec.msg);
        cr_assert(eq(int, sr_http_route("PUT", url, &route, NULL), SR_OK));
        sr_idem_fingerprint(&route, body, strlen(body), fp);
        cr_assert(eq(int, memcmp(c->fp, fp, SR_IDEM_FP_LEN), 0));
}

Test(sr_gateway_fleet, a_new_key_is_claimed_before_its_command_is_sent)
{
        const char *b1 = "{\"status\":\"success\"}";
        sr_idem_claim_t c;
        answer_t a;

        script_target_success();
        a = call("PUT", target_url(), "tok-a", "key-1", b1);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(int, n_claims, 1));
        cr_assert(eq(int, sends_at_claim, 0));
        cr_assert(eq(int, fake.n_sends, 1));
        expect_claim_of(0, target_url(), b1, &c);
        cr_assert(eq(str, c.enterprise, ENT_A));
        cr_assert(eq(str, c.key, "key-1"));
        cr_assert(eq(i32, claims[0].partition,
                     sr_idem_claim_partition(ENT_A, "key-1",
                                             conf->partitions)));
        /* a retry through the same gateway: known, no second claim */
        answer_free(&a);
        a = call("PUT", target_url(), "tok-a", "key-1", b1);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(int, n_claims, 1));
        answer_free(&a);
}

Test(sr_gateway_fleet, another_gateway_refuses_the_key_with_another_body)
{
        answer_t a;

        script_target_success();
        a = call("PUT", target_url(), "tok-a", "key-1",
                 "{\"status\":\"success\"}");
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        answer_free(&a);
        gw = gw_two; /* has never seen key-1 */
        a = call("PUT", target_url(), "tok-a", "key-1",
                 "{\"status\":\"failure\"}");
        cr_assert(eq(int, a.status, 409), "%s", a.body);
        cr_assert(eq(int, fake.n_sends, 1));
        answer_free(&a);
        /* another enterprise's same key is its own */
        a = call("PUT", target_url(), "tok-b", "key-1",
                 "{\"status\":\"failure\"}");
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);
}

Test(sr_gateway_fleet, a_claim_the_broker_does_not_take_is_503_sending_nothing)
{
        answer_t a;

        script_target_success();
        claim_err = SR_ERR_RETRY;
        a = call("PUT", target_url(), "tok-a", "key-1",
                 "{\"status\":\"success\"}");
        cr_assert(eq(int, a.status, 503), "%s", a.body);
        cr_assert(eq(int, a.retry_after, 5));
        cr_assert(strstr(message(&a), "Idempotency-Key could not be "
                         "recorded") != NULL, "%s", message(&a));
        cr_assert(strstr(message(&a), "broker away") != NULL, "%s",
                  message(&a));
        cr_assert(eq(int, fake.n_sends, 0));
        answer_free(&a);
}

Test(sr_gateway_fleet, a_claim_not_read_back_in_time_is_503_sending_nothing)
{
        answer_t a;

        script_target_success();
        feed_stalls = true;
        a = call("PUT", target_url(), "tok-a", "key-1",
                 "{\"status\":\"success\"}");
        cr_assert(eq(int, a.status, 503), "%s", a.body);
        cr_assert(eq(int, a.retry_after, 1));
        cr_assert(strstr(message(&a), "not read back") != NULL, "%s",
                  message(&a));
        cr_assert(eq(int, n_claims, 1));
        cr_assert(eq(int, fake.n_sends, 0));
        answer_free(&a);
}

Test(sr_gateway, another_tenants_entity_is_404_and_sends_nothing)
{
        const char *(*urls[])(void) = { target_url, stage_url, run_url };

        for (int i = 0; i < 3; i++) {
                answer_t a = call("PUT", urls[i](), "tok-b", NULL,
                                  "{\"status\":\"cancelled\"}");

                cr_assert(eq(int, a.status, 404), "%s", a.body);
                answer_free(&a);
                a = call("GET", urls[i](), "tok-b", NULL, NULL);
                cr_assert(eq(int, a.status, 404), "%s", a.body);
                answer_free(&a);
        }
        cr_assert(eq(int, fake.n_sends, 0));
}

Test(sr_gateway, a_pipeline_run_put_under_another_pipeline_is_404)
{
        char url[256];
        answer_t a;

        snprintf(url, sizeof(url), "/v0/pipelines/%s/runs/%s/", run_id,
                 run_id);
        a = call("PUT", url, "tok-a", NULL, "{\"status\":\"cancelled\"}");
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        cr_assert(eq(str, (char *)message(&a), "pipeline run not found"));
        cr_assert(eq(int, fake.n_sends, 0));
        answer_free(&a);
}

/* GET and PUT /v0/runs/{id}/ (our extension): the run of any pipeline of
 * the caller's enterprise, answered as on the pipeline-scoped path. */
Test(sr_gateway, a_run_by_its_id_alone_is_read_and_cancelled_in_its_enterprise)
{
        char url[256];
        answer_t a;

        snprintf(url, sizeof(url), "/v0/runs/%s/", run_id);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "id"), run_id));
        answer_free(&a);

        a = call("GET", url, "tok-b", NULL, NULL); /* another enterprise */
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);
        a = call("PUT", url, "tok-b", NULL, "{\"status\":\"cancelled\"}");
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);
        cr_assert(eq(int, fake.n_sends, 0));

        fake.after = run_e;
        fake.after.u.pr.m.status = SR_ST_CANCELLED;
        fake.after.u.pr.m.version = 2;
        fake.has_after = true;
        a = call("PUT", url, "tok-a", NULL, "{\"status\":\"cancelled\"}");
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "status"), "cancelled"));
        cr_assert(eq(int, fake.cmds[0].kind,
                     SR_CMD_SET_PIPELINE_RUN_STATUS));
        cr_assert(sr_uuid_eq(&fake.cmds[0].pipeline_run_id,
                             &run_e.u.pr.m.id));
        answer_free(&a);
}

static char alone_path[256];

/* The run by its id alone, UUID upper-cased, under the other prefix. */
static const char *alone_url(void)
{
        snprintf(alone_path, sizeof(alone_path), "/api/pipelines/v0/runs/%s",
                 run_id);
        for (char *p = alone_path + 23; *p; p++)
                if (*p >= 'a' && *p <= 'f')
                        *p = (char)(*p - 'a' + 'A');
        return alone_path;
}

/* The two spellings are one route: a key used on one is a retry on the
 * other (the same command, the same answer), not a 409. */
Test(sr_gateway, a_key_on_a_run_by_its_id_alone_is_a_retry_on_the_scoped_path)
{
        const char *b1 = "{\"status\":\"cancelled\"}";
        answer_t a1, a2;

        script_ended(&run_e, SR_ST_CANCELLED);
        expect_retry(alone_url(), run_url(), "key-1", b1);
        expect_retry(run_url(), alone_url(), "key-2", b1); /* other way */
        /* another body under either spelling is still a 409 */
        a1 = call("PUT", alone_url(), "tok-a", "key-1",
                  "{\"status\":\"CANCELLED\"}");
        cr_assert(eq(int, a1.status, 409), "%s", a1.body);
        a2 = call("PUT", run_url(), "tok-a", "key-2",
                  "{\"status\":\"CANCELLED\"}");
        cr_assert(eq(int, a2.status, 409), "%s", a2.body);
        cr_assert(eq(int, fake.n_sends, 4));
        answer_free(&a1);
        answer_free(&a2);
}

/* Every answer of the pipeline-scoped path, byte for byte, by the run's
 * id alone: a read, a foreign run, refused bodies, the worker's refusal,
 * a retired run (read and write), another enterprise's retired run. */
Test(sr_gateway, a_run_by_its_id_alone_answers_byte_for_byte_as_the_scoped_path)
{
        static const struct {
                const char *method, *token, *body;
                int status;
                bool refused, retire;
        } cases[] = {
                { "GET", "tok-a", NULL, 200, false, false },
                { "GET", "tok-b", NULL, 404, false, false },
                { "PUT", "tok-b", "{\"status\":\"cancelled\"}", 404, false,
                  false },
                { "PUT", "tok-a", "{\"status\":\"bogus\"}", 400, false,
                  false },
                { "PUT", "tok-a", "{\"status\":\"cancelled\",\"x\":1}", 400,
                  false, false },
                { "PUT", "tok-a", "{\"status\":\"cancelled\"}", 400, true,
                  false },
                { "GET", "tok-a", NULL, 404, false, true },
                { "PUT", "tok-a", "{\"status\":\"cancelled\"}", 404, false,
                  true },
                { "GET", "tok-b", NULL, 404, false, true },
        };
        bool retired = false;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                answer_t scoped, alone;

                if (cases[i].retire && !retired) {
                        retire_run();
                        retired = true;
                }
                fake.refused = cases[i].refused;
                fake.reason = SR_REJECT_ILLEGAL_TRANSITION;
                scoped = call(cases[i].method, run_url(), cases[i].token,
                              NULL, cases[i].body);
                alone = call(cases[i].method, alone_url(), cases[i].token,
                             NULL, cases[i].body);
                cr_assert(eq(int, scoped.status, cases[i].status),
                          "case %zu: %s", i, scoped.body);
                cr_assert(eq(int, alone.status, scoped.status), "case %zu",
                          i);
                /* a command id differs per request (no key): compare
                 * without it */
                json_object_del(json_object_get(scoped.json, "content"),
                                "command_id");
                json_object_del(json_object_get(alone.json, "content"),
                                "command_id");
                cr_assert(json_equal(scoped.json, alone.json),
                          "case %zu: %s vs %s", i, scoped.body, alone.body);
                answer_free(&scoped);
                answer_free(&alone);
        }
        cr_assert(eq(int, fake.n_sends, 2)); /* the refused case, twice */
}

/* The claim the fleet shares names the scoped route: another gateway
 * takes the key on the other spelling as a retry. */
Test(sr_gateway_fleet, a_run_by_its_id_alone_claims_the_scoped_route)
{
        const char *b1 = "{\"status\":\"cancelled\"}";
        sr_idem_claim_t c;
        answer_t a, b;

        script_ended(&run_e, SR_ST_CANCELLED);
        a = call("PUT", alone_url(), "tok-a", "key-1", b1);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(int, n_claims, 1));
        expect_claim_of(0, run_url(), b1, &c); /* the scoped route's */
        gw = gw_two;
        b = call("PUT", run_url(), "tok-a", "key-1", b1);
        cr_assert(eq(int, b.status, 200), "%s", b.body);
        cr_assert(eq(str, a.body, b.body));
        cr_assert(sr_uuid_eq(&fake.cmds[0].command_id,
                             &fake.cmds[1].command_id));
        answer_free(&a);
        answer_free(&b);
}

/* ------------------------------------------------------------ retired */

static const char RETIRED_MSG[] = "was retired at 2001-09-09T01:46:40.000Z";

Test(sr_gateway, a_retired_run_is_404_saying_when_in_its_enterprise_only)
{
        char urls[4][256];
        answer_t a;

        retire_run();
        snprintf(urls[0], 256, "%s", run_url());
        snprintf(urls[1], 256, "/api/pipelines/v0/pipelines/%s/runs/%s",
                 pipeline_id, run_id);
        snprintf(urls[2], 256, "%s", stage_url());
        snprintf(urls[3], 256, "/v0/runs/%s/stageruns/", run_id);
        for (int i = 0; i < 4; i++) {
                a = call("GET", urls[i], "tok-a", NULL, NULL);
                cr_assert(eq(int, a.status, 404), "%s", a.body);
                cr_assert(not(eq(ptr, strstr(message(&a), RETIRED_MSG),
                                 NULL)),
                          "%s: %s", urls[i], a.body);
                cr_assert(not(eq(ptr, strstr(message(&a), run_id), NULL)));
                answer_free(&a);
                /* Another enterprise learns nothing. */
                a = call("GET", urls[i], "tok-b", NULL, NULL);
                cr_assert(eq(int, a.status, 404), "%s", a.body);
                cr_assert(eq(ptr, strstr(a.body, "retired"), NULL), "%s",
                          a.body);
                answer_free(&a);
        }
        /* Under another pipeline: the ordinary 404. */
        snprintf(urls[0], 256, "/v0/pipelines/%s/runs/%s/", run_id, run_id);
        a = call("GET", urls[0], "tok-a", NULL, NULL);
        cr_assert(eq(str, (char *)message(&a), "pipeline run not found"));
        answer_free(&a);
        /* The target run's path does not name the run: plain 404. */
        a = call("GET", target_url(), "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 404));
        cr_assert(eq(str, (char *)message(&a), "target run not found"));
        answer_free(&a);
        /* Once the marker is gone, so is the note. */
        forget_run();
        a = call("GET", run_url(), "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 404));
        cr_assert(eq(str, (char *)message(&a), "pipeline run not found"));
        answer_free(&a);
}

Test(sr_gateway, a_put_to_a_retired_run_is_404_saying_so_and_sends_nothing)
{
        answer_t a;

        retire_run();
        a = call("PUT", run_url(), "tok-a", NULL,
                 "{\"status\":\"cancelled\"}");
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        cr_assert(not(eq(ptr, strstr(message(&a), RETIRED_MSG), NULL)),
                  "%s", a.body);
        answer_free(&a);
        a = call("PUT", stage_url(), "tok-b", NULL,
                 "{\"status\":\"cancelled\"}");
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        cr_assert(eq(ptr, strstr(a.body, "retired"), NULL), "%s", a.body);
        answer_free(&a);
        cr_assert(eq(int, fake.n_sends, 0));
}

Test(sr_gateway, the_workers_run_retired_refusal_is_404_saying_when)
{
        answer_t a;

        /* The projection still had the run; the worker had retired it
         * and the feed applied the marker before the reply. */
        fake.refused = true;
        fake.reason = SR_REJECT_RUN_RETIRED;
        fake.retire_on_reply = true;
        a = call("PUT", target_url(), "tok-a", NULL,
                 "{\"status\":\"success\"}");
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        cr_assert(not(eq(ptr, strstr(message(&a), RETIRED_MSG), NULL)),
                  "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "reason"), "run_retired"));
        cr_assert(eq(int, fake.n_sends, 1));
        answer_free(&a);
}

Test(sr_gateway, run_retired_without_the_note_is_404_with_the_workers_message)
{
        expect_refusal(SR_REJECT_RUN_RETIRED, 404);
}

/* ------------------------------------------------------------ delete
 * DELETE of a pipeline run (docs/definitions.md section 7). */

/* The run as the worker leaves it once it ended: the only kind it
 * deletes (the fake's worker does not check; the state machine's tests
 * do). */
static void end_run(void)
{
        run_e.u.pr.m.status = SR_ST_SUCCESS;
        run_e.u.pr.m.version = 2;
        run_e.u.pr.m.ended_at = run_e.u.pr.m.updated_at = 5000;
        put(&run_e);
}

/* DELETE on @p url: 200 with the run byte for byte as GET answered it
 * before, one DeleteRun under the run's pipeline, answered once the run
 * is retired in the projection (GET then says so). */
static void expect_deleted(const char *url)
{
        answer_t before, a;

        end_run();
        before = call("GET", run_url(), "tok-a", NULL, NULL);
        cr_assert(eq(int, before.status, 200), "%s", before.body);
        a = call("DELETE", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, a.body, before.body));
        cr_assert(eq(str, (char *)content_str(&a, "status"), "success"));
        cr_assert(eq(int, fake.n_sends, 1));
        cr_assert(eq(int, fake.cmds[0].kind, SR_CMD_DELETE_RUN));
        cr_assert(sr_uuid_eq(&fake.cmds[0].pipeline_run_id,
                             &run_e.u.pr.m.id));
        cr_assert(sr_uuid_eq(&fake.cmds[0].u.del.pipeline_id,
                             &run_e.u.pr.pipeline_id));
        cr_assert(eq(str, fake.cmds[0].enterprise_id, ENT_A));
        /* read-your-writes: the retirement, not a version */
        cr_assert(eq(int, fake.n_wait_retired, 1));
        cr_assert(eq(int, fake.n_wait_visible, 0));
        answer_free(&a);
        answer_free(&before);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        cr_assert(not(eq(ptr, strstr(message(&a), RETIRED_MSG), NULL)),
                  "%s", a.body);
        cr_assert(not(eq(ptr, strstr(message(&a), "deleted by a client"),
                         NULL)),
                  "%s", a.body);
        answer_free(&a);
}

Test(sr_gateway, a_delete_sends_delete_run_under_the_paths_pipeline_answers_the_run_as_it_was)
{
        expect_deleted(run_url());
}

Test(sr_gateway, a_delete_by_the_run_id_alone_names_the_runs_own_pipeline)
{
        expect_deleted(alone_url());
}

Test(sr_gateway, a_refused_delete_is_400_with_the_workers_message_run_unchanged)
{
        char cid[SR_UUID_STR_LEN + 1];
        answer_t a;

        fake.refused = true;
        fake.reason = SR_REJECT_ILLEGAL_TRANSITION;
        a = call("DELETE", run_url(), "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 400), "%s", a.body);
        cr_assert(eq(str, (char *)message(&a), "the worker says no"));
        cr_assert(eq(str, (char *)content_str(&a, "reason"),
                     "illegal_transition"));
        sr_uuid_fmt(&fake.cmds[0].command_id, cid);
        cr_assert(eq(str, (char *)content_str(&a, "command_id"), cid));
        cr_assert(eq(int, fake.n_wait_retired, 0));
        answer_free(&a);
        a = call("GET", run_url(), "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "status"), "running"));
        answer_free(&a);
        /* the worker's not_found (another pipeline than its run's) */
        fake.reason = SR_REJECT_NOT_FOUND;
        a = call("DELETE", run_url(), "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "reason"), "not_found"));
        answer_free(&a);
}

/* DELETE on @p url with @p token: the plain 404 of an unknown run. */
static void expect_no_run(const char *url, const char *token)
{
        answer_t a = call("DELETE", url, token, NULL, NULL);

        cr_assert(eq(int, a.status, 404), "%s", a.body);
        cr_assert(eq(str, (char *)message(&a), "pipeline run not found"));
        answer_free(&a);
}

Test(sr_gateway, a_delete_of_an_unknown_foreign_or_retired_run_is_404_sending_nothing)
{
        char urls[2][256];
        answer_t a;

        snprintf(urls[0], 256, "/v0/pipelines/%s/runs/%s/", pipeline_id,
                 stage_id); /* no such run */
        expect_no_run(urls[0], "tok-a");
        snprintf(urls[0], 256, "/v0/runs/%s/", stage_id);
        expect_no_run(urls[0], "tok-a");
        snprintf(urls[0], 256, "/v0/pipelines/%s/runs/%s/", run_id,
                 run_id); /* under another pipeline */
        expect_no_run(urls[0], "tok-a");
        end_run();
        snprintf(urls[0], 256, "%s", run_url());
        snprintf(urls[1], 256, "%s", alone_url());
        expect_no_run(urls[0], "tok-b"); /* another enterprise's */
        expect_no_run(urls[1], "tok-b");
        retire_run();
        for (int i = 0; i < 2; i++) { /* as GET answers a retired run */
                answer_t g = call("GET", urls[i], "tok-a", NULL, NULL);

                a = call("DELETE", urls[i], "tok-a", NULL, NULL);
                cr_assert(eq(int, a.status, 404), "%s", a.body);
                cr_assert(eq(str, a.body, g.body));
                cr_assert(not(eq(ptr, strstr(message(&a), RETIRED_MSG),
                                 NULL)),
                          "%s", a.body);
                answer_free(&a);
                answer_free(&g);
        }
        cr_assert(eq(int, fake.n_sends, 0));
}

Test(sr_gateway, a_delete_with_a_body_or_a_bad_key_is_400_and_sends_nothing)
{
        answer_t a;

        end_run();
        a = call("DELETE", run_url(), "tok-a", NULL, "{}");
        cr_assert(eq(int, a.status, 400), "%s", a.body);
        cr_assert(not(eq(ptr, strstr(message(&a), "DELETE takes none"),
                         NULL)),
                  "%s", a.body);
        answer_free(&a);
        a = call("DELETE", run_url(), "tok-a", "a key", NULL);
        cr_assert(eq(int, a.status, 400), "%s", a.body);
        cr_assert(not(eq(ptr, strstr(message(&a), "Idempotency-Key"),
                         NULL)),
                  "%s", a.body);
        answer_free(&a);
        cr_assert(eq(int, fake.n_sends, 0));
}

/* A key's retry while the outcome is unknown is the same command; once
 * the run is retired, the run it answered with is gone: a retry answers
 * as GET does (nothing sent). The key stays the route's: a PUT with it is
 * a 409, DELETE by the id alone a retry. */
Test(sr_gateway, a_delete_retried_with_its_key_is_the_same_command_then_the_retired_404)
{
        answer_t a;

        end_run();
        fake.not_retired = true;
        a = call("DELETE", run_url(), "tok-a", "del-1", NULL);
        cr_assert(eq(int, a.status, 202), "%s", a.body);
        cr_assert(eq(str, (char *)message(&a),
                     "accepted; not yet visible in reads"));
        answer_free(&a);
        fake.not_retired = false;
        a = call("DELETE", alone_url(), "tok-a", "del-1", NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "id"), run_id));
        answer_free(&a);
        cr_assert(eq(int, fake.n_sends, 2));
        cr_assert(sr_uuid_eq(&fake.cmds[0].command_id,
                             &fake.cmds[1].command_id));
        a = call("DELETE", run_url(), "tok-a", "del-1", NULL);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        cr_assert(not(eq(ptr, strstr(message(&a), RETIRED_MSG), NULL)),
                  "%s", a.body);
        answer_free(&a);
        a = call("PUT", run_url(), "tok-a", "del-1",
                 "{\"status\":\"cancelled\"}");
        cr_assert(eq(int, a.status, 409), "%s", a.body);
        answer_free(&a);
        cr_assert(eq(int, fake.n_sends, 2));
}

/* ------------------------------------------------------------ reads */

Test(sr_gateway, reads_list_and_get_from_the_projection)
{
        char url[256];
        json_t *res;
        answer_t a;

        snprintf(url, sizeof(url), "/v0/stageruns/%s/targetruns/",
                 stage_id);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        res = json_object_get(json_object_get(a.json, "content"),
                              "results");
        cr_assert(eq(int, (int)json_integer_value(json_object_get(
                                  json_object_get(a.json, "content"),
                                  "count")),
                     1));
        cr_assert(eq(sz, json_array_size(res), 1));
        cr_assert(eq(str, (char *)json_string_value(json_object_get(
                                  json_array_get(res, 0), "id")),
                     target_id));
        answer_free(&a);

        a = call("GET", "/v0/runs/", "tok-b", NULL, NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        res = json_object_get(json_object_get(a.json, "content"),
                              "results");
        cr_assert(eq(sz, json_array_size(res), 0)); /* not globex's */
        answer_free(&a);

        a = call("GET", stage_url(), "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "status"), "waiting"));
        cr_assert(eq(str, (char *)content_str(&a, "id"), stage_id));
        answer_free(&a);
        cr_assert(eq(int, fake.n_sends, 0));
}

/* @p n more target runs of the stage (target_index 1..n), statuses
 * alternating queued / success. */
static void more_targets(uint32_t n)
{
        sr_entity_t e;

        for (uint32_t i = 1; i <= n; i++) {
                e = target_e;
                sr_uuid_v5(&e.u.tr.m.id, &sr_ns, "test-gateway/target/%u", i);
                e.u.tr.target_index = i;
                e.u.tr.m.status = i % 2 ? SR_ST_SUCCESS : SR_ST_QUEUED;
                put(&e);
        }
}

/* The id text of target run @p i of more_targets() (0: target_e). */
static char *target_of(uint32_t i)
{
        static char out[SR_UUID_STR_LEN + 1];
        sr_uuid_t u;

        if (!i)
                return target_id;
        sr_uuid_v5(&u, &sr_ns, "test-gateway/target/%u", i);
        sr_uuid_fmt(&u, out);
        return out;
}

static json_t *content(const answer_t *a, const char *field)
{
        return json_object_get(json_object_get(a->json, "content"), field);
}

Test(sr_gateway, target_runs_walk_by_next_cursor_links_each_once_in_order)
{
        char url[512], first[256];
        const char *next;
        json_t *res;
        answer_t a;
        uint32_t seen = 0, pages = 0;

        more_targets(24); /* 25 in all; 13 queued (index 0, 2, ... 24) */
        snprintf(first, sizeof(first),
                 "/v0/stageruns/%s/targetruns/?status=queued&limit=4",
                 stage_id);
        snprintf(url, sizeof(url), "%s", first);
        for (;;) {
                a = call("GET", url, "tok-a", NULL, NULL);
                cr_assert(eq(int, a.status, 200), "%s", a.body);
                cr_assert(eq(int, (int)json_integer_value(content(&a,
                                                                  "count")),
                             13));
                res = content(&a, "results");
                for (size_t i = 0; i < json_array_size(res); i++) {
                        json_t *t = json_array_get(res, i);

                        cr_assert(eq(str, (char *)json_string_value(
                                                  json_object_get(t,
                                                                  "status")),
                                     "queued"));
                        cr_assert(eq(str, (char *)json_string_value(
                                                  json_object_get(t, "id")),
                                     target_of(2 * seen)), "%s", a.body);
                        seen++;
                }
                if (pages++) {
                        bool no_prev = json_is_null(content(&a, "previous"));

                        cr_assert(no_prev, "%s", a.body);
                }
                next = json_string_value(content(&a, "next"));
                if (!next) {
                        answer_free(&a);
                        break;
                }
                cr_assert(eq(int, strncmp(next, "/v0/stageruns/", 14), 0));
                cr_assert(strstr(next, "?cursor=") != NULL,
                          "%s", next);
                cr_assert(strstr(next, "&status=queued") != NULL,
                          "%s", next);
                cr_assert(strstr(next, "offset=") == NULL, "%s", next);
                snprintf(url, sizeof(url), "%s", next);
                answer_free(&a);
                cr_assert(lt(u32, pages, 10));
        }
        cr_assert(eq(u32, seen, 13));
        cr_assert(eq(u32, pages, 4));
}

Test(sr_gateway, a_bad_cursor_is_400_naming_the_parameter)
{
        static const char *const bad[] = {
                "status=queued&cursor=zz", /* not hex */
                "status=queued&cursor=0123", /* not a cursor */
                "status=queued&offset=4&cursor=", /* filled in below */
                "status=success&cursor=", /* another filter */
                "ordering=status&cursor=", /* offset-only ordering */
        };
        char url[512], cur[128];
        const char *next, *c;
        size_t clen;
        answer_t a;

        more_targets(10);
        snprintf(url, sizeof(url),
                 "/v0/stageruns/%s/targetruns/?status=queued&limit=2",
                 stage_id);
        a = call("GET", url, "tok-a", NULL, NULL);
        next = json_string_value(content(&a, "next"));
        cr_assert(next != NULL, "%s", a.body);
        c = strstr(next, "cursor=");
        cr_assert(c != NULL, "%s", next);
        clen = strcspn(c + 7, "&");
        snprintf(cur, sizeof(cur), "%.*s", (int)clen, c + 7);
        answer_free(&a);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                snprintf(url, sizeof(url), "/v0/stageruns/%s/targetruns/?%s%s",
                         stage_id, bad[i], i >= 2 ? cur : "");
                a = call("GET", url, "tok-a", NULL, NULL);
                cr_assert(eq(int, a.status, 400), "%s: %s", url, a.body);
                cr_assert(eq(int, strncmp(message(&a), "cursor: ", 8), 0),
                          "%s", a.body);
                answer_free(&a);
        }
        /* The same cursor where it belongs is fine. */
        snprintf(url, sizeof(url),
                 "/v0/stageruns/%s/targetruns/?status=queued&cursor=%s",
                 stage_id, cur);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        answer_free(&a);
}

/* ------------------------------------------------------------ registry
 * The Confluent Schema Registry read API over the built-in schemas
 * (docs/api-decisions.md, "Schema registry"). */

#define REG_CTYPE "application/vnd.schemaregistry.v1+json"

typedef struct reg_answer {
        int status;
        char allow[32];
        char *body;
        json_t *json;
} reg_answer_t;

/* @p token NULL: no Authorization header. */
static reg_answer_t reg_call(const char *method, const char *target,
                             const char *token)
{
        char auth[64];
        sr_gw_request_t req = { 0 };
        sr_gw_response_t resp;
        reg_answer_t a = { 0 };

        snprintf(auth, sizeof(auth), "Bearer %s", token ? token : "");
        req.method = method;
        req.target = target;
        req.authorization = token ? auth : NULL;
        req.body = "";
        sr_gateway_handle(gw, &req, &resp);
        a.status = resp.status;
        snprintf(a.allow, sizeof(a.allow), "%s", resp.allow);
        a.body = strndup(resp.body.ptr ? resp.body.ptr : "", resp.body.len);
        a.json = json_loadb(resp.body.ptr, resp.body.len,
                            JSON_DECODE_ANY, NULL);
        sr_buf_free(&resp.body);
        cr_assert(not(eq(ptr, a.json, NULL)), "not JSON: %s", a.body);
        cr_assert(eq(str, (char *)(resp.content_type ? resp.content_type :
                                                       "(none)"),
                     REG_CTYPE), "%s %s", target, a.body);
        return a;
}

static void reg_free(reg_answer_t *a)
{
        free(a->body);
        json_decref(a->json);
        memset(a, 0, sizeof(*a));
}

/* A Confluent error: HTTP @p status, error_code @p code. */
static void reg_expect_error(const char *method, const char *target,
                             int status, int code)
{
        reg_answer_t a = reg_call(method, target, NULL);

        cr_assert(eq(int, a.status, status), "%s: %s", target, a.body);
        cr_assert(eq(int, (int)json_integer_value(json_object_get(
                                  a.json, "error_code")),
                     code),
                  "%s: %s", target, a.body);
        cr_assert(not(eq(ptr, (void *)json_string_value(json_object_get(
                                      a.json, "message")),
                         NULL)),
                  "%s", a.body);
        cr_assert(eq(ptr, json_object_get(a.json, "code"), NULL),
                  "not the envelope: %s", a.body);
        reg_free(&a);
}

static const char *jstr(json_t *o, const char *k)
{
        const char *s = json_string_value(json_object_get(o, k));

        return s ? s : "(absent)";
}

/* POST @p body (JSON {"schema": @p schema}, or @p body itself when
 * @p schema is NULL) to @p target, as a registering process does. */
static reg_answer_t reg_post(const char *target, const char *schema,
                             const char *body)
{
        sr_gw_request_t req = { 0 };
        sr_gw_response_t resp;
        reg_answer_t a = { 0 };
        json_t *j = schema ? json_pack("{s:s}", "schema", schema) : NULL;
        char *text = j ? json_dumps(j, JSON_COMPACT) : strdup(body);

        json_decref(j);
        req.method = "POST";
        req.target = target;
        req.content_type = REG_CTYPE;
        req.body = text;
        req.body_len = strlen(text);
        sr_gateway_handle(gw, &req, &resp);
        free(text);
        a.status = resp.status;
        a.body = strndup(resp.body.ptr ? resp.body.ptr : "", resp.body.len);
        a.json = json_loadb(resp.body.ptr, resp.body.len, JSON_DECODE_ANY,
                            NULL);
        sr_buf_free(&resp.body);
        cr_assert(not(eq(ptr, a.json, NULL)), "not JSON: %s", a.body);
        return a;
}

/* Ids an external registry gave our schemas (sr_conf_t.schema_ids): the
 * versions written 1001.., the older versions still read 2001.. */
static void use_registry_ids(void)
{
        for (int id = 1; id < SR_SCHEMA__MAX; id++)
                conf->schema_ids.wire[id] = 1000 + id;
        for (int i = 0; i < SR_SCHEMA_OLDER_COUNT; i++)
                conf->schema_ids.older[i] = 2001 + i;
}

Test(sr_gateway, registry_registration_of_our_own_schema_answers_its_id)
{
        reg_answer_t a;
        json_t *ours = json_loads(sr_codec_schema_json(SR_SCHEMA_EVENT), 0,
                                  NULL);
        char *compact = json_dumps(ours, JSON_COMPACT | JSON_SORT_KEYS);

        a = reg_post("/subjects/sr.events-value/versions",
                     sr_codec_schema_json(SR_SCHEMA_EVENT), NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(int, (int)json_integer_value(json_object_get(a.json,
                                                                  "id")),
                     SR_SCHEMA_EVENT), "%s", a.body);
        reg_free(&a);
        /* The same schema written otherwise (blanks, key order) is the
         * same schema; the lookup path answers subject, version and id. */
        a = reg_post("/subjects/sr.events-value", compact, NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)jstr(a.json, "subject"),
                     "sr.events-value"));
        cr_assert(eq(int, (int)json_integer_value(json_object_get(
                                  a.json, "version")), 1));
        cr_assert(eq(int, (int)json_integer_value(json_object_get(a.json,
                                                                  "id")),
                     SR_SCHEMA_EVENT));
        reg_free(&a);
        free(compact);
        json_decref(ours);
        cr_assert(eq(int, fake.n_sends, 0));
}

Test(sr_gateway, registry_registration_of_another_schema_is_refused_409)
{
        reg_answer_t a;

        /* Our result schema is not the events subject's. */
        a = reg_post("/subjects/sr.events-value/versions",
                     sr_codec_schema_json(SR_SCHEMA_RESULT), NULL);
        cr_assert(eq(int, a.status, 409), "%s", a.body);
        cr_assert(eq(int, (int)json_integer_value(json_object_get(
                                  a.json, "error_code")), 409));
        cr_assert(not(eq(ptr, strstr(jstr(a.json, "message"),
                                     "incompatible with an earlier schema "
                                     "for subject \"sr.events-value\""),
                         NULL)), "%s", a.body);
        reg_free(&a);
        a = reg_post("/subjects/sr.events-value",
                     sr_codec_schema_json(SR_SCHEMA_RESULT), NULL);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        cr_assert(eq(int, (int)json_integer_value(json_object_get(
                                  a.json, "error_code")), 40403));
        reg_free(&a);
        /* Not a schema, not AVRO, references: invalid (422 / 42201). */
        static const char *const bad[] = {
                "[1]", "{\"schema\": 3}", "{\"schema\": \"{nope\"}",
                "{\"schema\": \"\\\"string\\\"\", \"schemaType\": "
                "\"PROTOBUF\"}",
                "{\"schema\": \"\\\"string\\\"\", \"references\": "
                "[{\"name\": \"x\"}]}",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                a = reg_post("/subjects/sr.events-value/versions", NULL,
                             bad[i]);
                cr_assert(eq(int, a.status, 422), "%s: %s", bad[i], a.body);
                cr_assert(eq(int, (int)json_integer_value(json_object_get(
                                          a.json, "error_code")), 42201),
                          "%s", bad[i]);
                reg_free(&a);
        }
}

Test(sr_gateway, registry_answers_with_the_external_registry_ids)
{
        reg_answer_t a;

        use_registry_ids();
        a = reg_call("GET", "/schemas/ids/1003", NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)jstr(a.json, "schema"),
                     (char *)sr_codec_schema_json(SR_SCHEMA_EVENT)));
        reg_free(&a);
        reg_expect_error("GET", "/schemas/ids/3", 404, 40403);
        a = reg_call("GET", "/subjects/sr.events-value/versions/latest",
                     NULL);
        cr_assert(eq(int, (int)json_integer_value(json_object_get(a.json,
                                                                  "id")),
                     1003), "%s", a.body);
        reg_free(&a);
        a = reg_call("GET", "/schemas/ids/1004/versions", NULL);
        cr_assert(eq(str, a.body,
                     "[{\"subject\":\"sr.changelog-value\",\"version\":4}]"));
        reg_free(&a);
        a = reg_call("GET", "/schemas/ids/2006/versions", NULL);
        cr_assert(eq(str, a.body,
                     "[{\"subject\":\"sr.changelog-value\",\"version\":2}]"));
        reg_free(&a);
        a = reg_call("GET", "/schemas/ids/2002/versions", NULL);
        cr_assert(eq(str, a.body,
                     "[{\"subject\":\"sr.changelog-value\",\"version\":1}]"));
        reg_free(&a);
        a = reg_post("/subjects/sr.events-value/versions",
                     sr_codec_schema_json(SR_SCHEMA_EVENT), NULL);
        cr_assert(eq(str, a.body, "{\"id\":1003}"));
        reg_free(&a);
}

Test(sr_gateway, registry_schema_by_id_is_the_built_in_avsc_without_a_token)
{
        reg_answer_t a;

        /* The query a stock client (confluent-kafka 2.16) adds is ignored. */
        a = reg_call("GET", "/schemas/ids/3?subject=sr.events-value", NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)jstr(a.json, "schema"),
                     (char *)sr_codec_schema_json(SR_SCHEMA_EVENT)));
        /* AVRO, the default: no schemaType, as Confluent answers. */
        cr_assert(eq(ptr, json_object_get(a.json, "schemaType"), NULL));
        reg_free(&a);

        /* Every id of schemas/registry.tsv: the seven schemas' newest and
         * every older version they still read (ids 1 to 18). */
        for (int id = 1; id <= 18; id++) {
                char url[64];

                snprintf(url, sizeof(url), "/schemas/ids/%d", id);
                a = reg_call("GET", url, NULL);
                cr_assert(eq(int, a.status, 200), "%s", a.body);
                cr_assert(eq(str, (char *)jstr(a.json, "schema"),
                             (char *)sr_codec_schema_json(id)));
                reg_free(&a);
        }
        cr_assert(eq(int, fake.n_sends, 0));
}

Test(sr_gateway, registry_subjects_are_topic_name_strategy_with_the_prefix)
{
        static const char *const want[] = {
                "sr.changelog-value", "sr.commands-value",
                "sr.definition-events-value",
                "sr.dispatch-value",  "sr.events-value",
                "sr.replies-value",   "sr.results-value",
        };
        sr_errctx_t ec = { 0 };
        reg_answer_t a;

        a = reg_call("GET", "/subjects", NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(sz, json_array_size(a.json), 7), "%s", a.body);
        for (size_t i = 0; i < 7; i++)
                cr_assert(eq(str, (char *)json_string_value(
                                          json_array_get(a.json, i)),
                             (char *)want[i]), "%s", a.body);
        reg_free(&a);

        a = reg_call("GET", "/schemas/ids/3/versions", NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(sz, json_array_size(a.json), 1), "%s", a.body);
        cr_assert(eq(str, (char *)jstr(json_array_get(a.json, 0), "subject"),
                     "sr.events-value"));
        cr_assert(eq(int, (int)json_integer_value(json_object_get(
                                  json_array_get(a.json, 0), "version")),
                     1));
        reg_free(&a);

        /* The configured prefix names the subjects. */
        cr_assert(eq(int, sr_conf_set(conf, "topic.prefix", "prod.", &ec),
                     SR_OK), "%s", ec.msg);
        a = reg_call("GET", "/subjects/", NULL);
        cr_assert(eq(str, (char *)json_string_value(json_array_get(a.json,
                                                                   4)),
                     "prod.events-value"), "%s", a.body);
        reg_free(&a);
        a = reg_call("GET", "/subjects/prod.events-value/versions", NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        reg_free(&a);
        reg_expect_error("GET", "/subjects/sr.events-value/versions", 404,
                         40401);
}

Test(sr_gateway, registry_subject_versions_latest_one_and_raw_schema)
{
        reg_answer_t a;

        a = reg_call("GET", "/subjects/sr.events-value/versions", NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, a.body, "[1]"));
        reg_free(&a);

        for (int i = 0; i < 3; i++) {
                static const char *const v[] = { "latest", "1", "-1" };
                char url[128];

                snprintf(url, sizeof(url),
                         "/subjects/sr.events-value/versions/%s", v[i]);
                a = reg_call("GET", url, NULL);
                cr_assert(eq(int, a.status, 200), "%s", a.body);
                cr_assert(eq(str, (char *)jstr(a.json, "subject"),
                             "sr.events-value"));
                cr_assert(eq(int, (int)json_integer_value(json_object_get(
                                          a.json, "version")),
                             1));
                cr_assert(eq(int, (int)json_integer_value(json_object_get(
                                          a.json, "id")),
                             SR_SCHEMA_EVENT));
                cr_assert(eq(str, (char *)jstr(a.json, "schema"),
                             (char *)sr_codec_schema_json(SR_SCHEMA_EVENT)));
                reg_free(&a);
        }
        /* A client quotes the subject: %2D is '-'. The latest changelog
         * is version 4, id 18. */
        a = reg_call("GET", "/subjects/sr.changelog%2Dvalue/versions/latest/"
                     "schema", NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, a.body, (char *)sr_codec_schema_json(18)));
        reg_free(&a);
}

Test(sr_gateway, registry_errors_are_the_registrys_not_the_envelope)
{
        reg_expect_error("GET", "/subjects/nope-value/versions", 404, 40401);
        reg_expect_error("GET", "/subjects/sr.events-value/versions/2", 404,
                         40402);
        reg_expect_error("GET", "/subjects/nope-value/versions/2", 404,
                         40401);
        reg_expect_error("GET", "/subjects/sr.events-value/versions/0", 422,
                         42202);
        reg_expect_error("GET", "/subjects/sr.events-value/versions/abc",
                         422, 42202);
        reg_expect_error("GET", "/subjects/sr.events-value/versions/"
                         "99999999999", 422, 42202);
        reg_expect_error("GET", "/subjects/sr.%zzevents-value/versions", 404,
                         40401);
        reg_expect_error("GET", "/schemas/ids/99", 404, 40403);
        reg_expect_error("GET", "/schemas/ids/0", 404, 40403);
        reg_expect_error("GET", "/schemas/ids/x", 404, 40403);
        reg_expect_error("GET", "/schemas/ids", 404, 404);
        reg_expect_error("GET", "/schemas/ids/3/nope", 404, 404);
        reg_expect_error("GET", "/schemas//ids/3", 404, 404);
        reg_expect_error("GET", "/config/sr.events-value/x", 404, 404);
        reg_expect_error("DELETE", "/subjects/sr.events-value", 405, 405);
        /* A registration without a schema; one to a subject we do not
         * hold; a write anywhere else. */
        reg_expect_error("POST", "/subjects/sr.events-value/versions", 422,
                         42201);
        reg_expect_error("POST", "/subjects/x/versions", 404, 40401);
        reg_expect_error("POST", "/subjects", 405, 405);
        {
                /* Allow: what the path takes. */
                static const struct {
                        const char *method, *target, *allow;
                } m[] = {
                        { "POST", "/schemas/ids/3", "GET" },
                        { "POS", "/subjects/sr.events-value/versions",
                          "GET, POST" },
                        { "PUT", "/subjects/sr.events-value/versions",
                          "GET, POST" },
                        { "GET", "/subjects/sr.events-value", "POST" },
                };

                for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
                        reg_answer_t a = reg_call(m[i].method, m[i].target,
                                                  NULL);

                        cr_assert(eq(int, a.status, 405), "%s %s",
                                  m[i].method, m[i].target);
                        cr_assert(eq(str, a.allow, (char *)m[i].allow));
                        reg_free(&a);
                }
        }
        cr_assert(eq(int, fake.n_sends, 0));
}

Test(sr_gateway, registry_config_is_the_level_the_evolution_rules_keep)
{
        reg_answer_t a;

        a = reg_call("GET", "/config", NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)jstr(a.json, "compatibilityLevel"),
                     "BACKWARD_TRANSITIVE"));
        reg_free(&a);
        a = reg_call("GET", "/config/sr.events-value", NULL);
        cr_assert(eq(str, (char *)jstr(a.json, "compatibilityLevel"),
                     "FULL_TRANSITIVE"), "%s", a.body);
        reg_free(&a);
        a = reg_call("GET", "/config/sr.changelog-value", NULL);
        cr_assert(eq(str, (char *)jstr(a.json, "compatibilityLevel"),
                     "BACKWARD_TRANSITIVE"), "%s", a.body);
        reg_free(&a);
        /* Command version 2 appended union branches: BACKWARD only. */
        a = reg_call("GET", "/config/sr.commands-value", NULL);
        cr_assert(eq(str, (char *)jstr(a.json, "compatibilityLevel"),
                     "BACKWARD_TRANSITIVE"), "%s", a.body);
        reg_free(&a);
        reg_expect_error("GET", "/config/nope", 404, 40401);
}

/* @p subject holds versions 1..@p n (ids @p id[0..n-1], the older ones
 * frozen as .vN.avsc): each by version, by id and by its text, latest
 * being n; with an external registry's ids (use_registry_ids()), its ids
 * for each, @p ext[0..n-1]. */
static void subject_has_versions(const char *subject, const int *id,
                                 const int *ext, int n)
{
        char url[128], want[128], list[32] = "[";
        reg_answer_t a;

        for (int v = 1; v <= n; v++)
                snprintf(list + strlen(list), sizeof(list) - strlen(list),
                         "%s%d", v > 1 ? "," : "", v);
        strcat(list, "]");
        snprintf(url, sizeof(url), "/subjects/%s/versions", subject);
        a = reg_call("GET", url, NULL);
        cr_assert(eq(str, a.body, list));
        reg_free(&a);
        for (int k = 0; k < n + 2; k++) {
                /* each version, then "latest" and -1: the newest */
                int v = k < n ? k + 1 : n;
                char ver[16];

                if (k < n)
                        snprintf(ver, sizeof(ver), "%d", v);
                else
                        snprintf(ver, sizeof(ver), "%s",
                                 k == n ? "latest" : "-1");
                snprintf(url, sizeof(url), "/subjects/%s/versions/%s",
                         subject, ver);
                a = reg_call("GET", url, NULL);
                cr_assert(eq(int, a.status, 200), "%s", a.body);
                cr_assert(eq(int, (int)json_integer_value(json_object_get(
                                          a.json, "version")), v),
                          "%s %s", subject, ver);
                cr_assert(eq(int, (int)json_integer_value(json_object_get(
                                          a.json, "id")), id[v - 1]));
                cr_assert(eq(str, (char *)jstr(a.json, "schema"),
                             (char *)sr_codec_schema_json(id[v - 1])));
                reg_free(&a);
        }
        for (int v = 1; v < n; v++)
                cr_assert(not(eq(str, (char *)sr_codec_schema_json(id[v - 1]),
                                 (char *)sr_codec_schema_json(id[v]))));
        snprintf(url, sizeof(url), "/subjects/%s/versions/%d", subject,
                 n + 1);
        reg_expect_error("GET", url, 404, 40402);
        for (int v = 1; v <= n; v++) {
                snprintf(url, sizeof(url), "/schemas/ids/%d/versions",
                         id[v - 1]);
                snprintf(want, sizeof(want),
                         "[{\"subject\":\"%s\",\"version\":%d}]", subject,
                         v);
                a = reg_call("GET", url, NULL);
                cr_assert(eq(str, a.body, want));
                reg_free(&a);
        }
        /* Registering any version's text answers its own id; a lookup
         * names its version. */
        snprintf(url, sizeof(url), "/subjects/%s/versions", subject);
        for (int v = 1; v <= n; v++) {
                snprintf(want, sizeof(want), "{\"id\":%d}", id[v - 1]);
                a = reg_post(url, sr_codec_schema_json(id[v - 1]), NULL);
                cr_assert(eq(str, a.body, want));
                reg_free(&a);
        }
        snprintf(url, sizeof(url), "/subjects/%s", subject);
        a = reg_post(url, sr_codec_schema_json(id[0]), NULL);
        cr_assert(eq(int, (int)json_integer_value(json_object_get(
                                  a.json, "version")), 1), "%s", a.body);
        reg_free(&a);
        /* With an external registry's ids, its ids for every version. */
        use_registry_ids();
        for (int v = 1; v <= n; v++) {
                snprintf(url, sizeof(url), "/subjects/%s/versions/%d",
                         subject, v);
                a = reg_call("GET", url, NULL);
                cr_assert(eq(int, (int)json_integer_value(json_object_get(
                                          a.json, "id")), ext[v - 1]),
                          "%s", a.body);
                reg_free(&a);
                snprintf(url, sizeof(url), "/schemas/ids/%d", ext[v - 1]);
                a = reg_call("GET", url, NULL);
                cr_assert(eq(str, (char *)jstr(a.json, "schema"),
                             (char *)sr_codec_schema_json(id[v - 1])));
                reg_free(&a);
        }
        snprintf(url, sizeof(url), "/schemas/ids/%d", id[0]);
        reg_expect_error("GET", url, 404, 40403);
}

/* Commands: version 1 (id 1, command.v1.avsc), 2 (id 7, command.v2.avsc),
 * 3 (id 9, command.v3.avsc), 4 (id 10, command.v4.avsc), 5 (id 11,
 * command.v5.avsc), 6 (id 15, command.v6.avsc), 7 (id 16,
 * command.v7.avsc) and 8 (id 17, command.avsc). */
Test(sr_gateway, registry_commands_subject_has_its_eight_versions_latest_eight)
{
        static const int id[] = { 1, 7, 9, 10, 11, 15, 16, 17 },
                         ext[] = { 2001, 2003, 2004, 2005,
                                   2008, 2009, 2010, 1001 };

        subject_has_versions("sr.commands-value", id, ext, 8);
}

/* Changelog version 1 (id 4, changelog.v1.avsc), 2 (id 8,
 * changelog.v2.avsc), 3 (id 12, changelog.v3.avsc) and 4 (id 18,
 * changelog.avsc), the same way. */
Test(sr_gateway, registry_changelog_subject_has_four_versions_latest_four)
{
        static const int id[] = { 4, 8, 12, 18 },
                         ext[] = { 2002, 2006, 2011, 1004 };

        subject_has_versions("sr.changelog-value", id, ext, 4);
}

/* Replies version 1 (id 6, reply.v1.avsc) and 2 (id 13, reply.avsc). */
Test(sr_gateway, registry_replies_subject_has_two_versions_latest_two)
{
        static const int id[] = { 6, 13 }, ext[] = { 2007, 1006 };

        subject_has_versions("sr.replies-value", id, ext, 2);
}

/* Definition events: one version (id 14, definition_event.avsc). */
Test(sr_gateway, registry_definition_events_subject_has_one_version)
{
        static const int id[] = { 14 }, ext[] = { 1007 };

        subject_has_versions("sr.definition-events-value", id, ext, 1);
}

/* A 401 says how to authenticate (RFC 9110 11.6.1): Bearer, realm "sr";
 * invalid_token when a token came and was refused (RFC 6750 3). */
Test(sr_gateway, a_401_carries_its_bearer_challenge)
{
        static const struct {
                const char *target, *authorization, *want;
        } cases[] = {
                { "/v0/runs/", NULL, "WWW-Authenticate: Bearer realm=\"sr\"\r\n" },
                { "/v0/runs/", "Bearer nope",
                  "WWW-Authenticate: Bearer realm=\"sr\", "
                  "error=\"invalid_token\"\r\n" },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                sr_gw_request_t req = { 0 };
                sr_gw_response_t resp;

                req.method = "GET";
                req.target = cases[i].target;
                req.authorization = cases[i].authorization;
                req.body = "";
                sr_gateway_handle(gw, &req, &resp);
                cr_assert(eq(int, resp.status, 401));
                cr_assert(not(eq(ptr, (void *)resp.headers, NULL)));
                cr_assert(eq(str, (char *)resp.headers, (char *)cases[i].want));
                sr_buf_free(&resp.body);
        }
}

Test(sr_gateway, registry_auth_true_asks_for_a_valid_token)
{
        sr_errctx_t ec = { 0 };
        reg_answer_t a;

        cr_assert(eq(int, sr_conf_set(conf, "gateway.registry.auth", "true",
                                      &ec),
                     SR_OK), "%s", ec.msg);
        reg_expect_error("GET", "/schemas/ids/3", 401, 40101);
        a = reg_call("GET", "/subjects", "tok-wrong");
        cr_assert(eq(int, a.status, 401), "%s", a.body);
        cr_assert(eq(int, (int)json_integer_value(json_object_get(
                                  a.json, "error_code")),
                     40101), "%s", a.body);
        reg_free(&a);
        a = reg_call("GET", "/schemas/ids/3", "tok-b");
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        reg_free(&a);
}

Test(sr_gateway, registry_odd_paths_are_registry_404s_never_a_crash)
{
        static const char *const paths[] = {
                "/schemas", "/schemas/", "/schemas/ids/", "/config//",
                "/subjects//versions", "/subjects/%/versions",
                "/subjects/%4/versions",
                "/subjects/%00/versions", "/subjects/a/b/c/d/e/f/g",
                "/schemas/ids/3/versions/1", "/subjects/sr.events-value/x",
                "/subjects/sr.events-value/versions/1/raw",
                "/schemas/ids/2147483648", "/schemas/ids/-3",
                "/config/sr.events-value%2",
        };
        char big[600];

        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
                reg_answer_t a = reg_call("GET", paths[i], NULL);

                cr_assert(eq(int, a.status, 404), "%s: %s", paths[i], a.body);
                reg_free(&a);
        }
        /* A subject longer than any: not found, never cut to a match. */
        memset(big, 'a', sizeof(big));
        memcpy(big, "/subjects/", 10);
        snprintf(big + sizeof(big) - 40, 40, "sr.events-value/versions");
        reg_expect_error("GET", big, 404, 40401);
}

/* ------------------------------------------------------------ console */

static char *slurp(const char *path, size_t *len)
{
        FILE *f = fopen(path, "rb");
        char *text = NULL;
        size_t cap = 0;

        cr_assert(not(eq(ptr, f, NULL)), "%s", path);
        *len = 0;
        for (;;) {
                text = realloc(text, cap + 4096);
                cr_assert(not(eq(ptr, text, NULL)));
                size_t n = fread(text + *len, 1, 4096, f);

                *len += n;
                cap += 4096;
                if (n < 4096)
                        break;
        }
        fclose(f);
        return text;
}

Test(sr_gateway, console_files_are_the_sources_without_a_token_with_csp)
{
        static const struct {
                const char *target, *file, *type;
        } files[] = {
                { "/ui/", "index.html", "text/html; charset=utf-8" },
                { "/ui", "index.html", "text/html; charset=utf-8" },
                { "/ui/console.js", "console.js",
                  "text/javascript; charset=utf-8" },
                { "/ui/console.css", "console.css",
                  "text/css; charset=utf-8" },
                { "/ui/favicon.svg", "favicon.svg", "image/svg+xml" },
        };

        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
                sr_gw_request_t req = { 0 };
                sr_gw_response_t resp;
                char path[512];
                size_t want_len;
                char *want;

                snprintf(path, sizeof(path), "%s/common/gateway/ui/%s",
                         SR_SOURCE_DIR, files[i].file);
                want = slurp(path, &want_len);
                req.method = "GET";
                req.target = files[i].target; /* no Authorization */
                req.body = "";
                sr_gateway_handle(gw, &req, &resp);
                cr_assert(eq(int, resp.status, 200), "%s", files[i].target);
                cr_assert(eq(str, (char *)(resp.content_type ?
                                           resp.content_type : "(none)"),
                             (char *)files[i].type));
                cr_assert(eq(sz, resp.body.len, want_len), "%s",
                          files[i].target);
                cr_assert(eq(int, memcmp(resp.body.ptr, want, want_len), 0),
                          "%s is not %s", files[i].target, path);
                cr_assert(not(eq(ptr, (char *)resp.headers, NULL)));
                cr_assert(not(eq(ptr, strstr(resp.headers,
                                             "\r\nX-Content-Type-Options: "
                                             "nosniff\r\n"), NULL)),
                          "%s", resp.headers);
                cr_assert(eq(int, strncmp(resp.headers,
                                          "Content-Security-Policy: "
                                          "default-src 'self';", 44), 0),
                          "%s", resp.headers);
                cr_assert(eq(ptr, strstr(resp.headers, "unsafe-inline"),
                             NULL));
                cr_assert(not(eq(ptr, strstr(resp.headers,
                                             "frame-ancestors 'none'"),
                                 NULL)));
                sr_buf_free(&resp.body);
                free(want);
        }
        cr_assert(eq(int, fake.n_sends, 0));
}

/* The page works under its own CSP: no inline script, style or handler,
 * and nothing loaded from elsewhere. */
Test(sr_gateway, console_page_has_no_inline_code_or_outside_resources)
{
        static const char *const banned[] = {
                "<script>", "style=", " onclick", " onload", "<style",
                "javascript:", "http://", "https://", "//cdn",
        };
        sr_gw_request_t req = { 0 };
        sr_gw_response_t resp;
        char *page;

        req.method = "GET";
        req.target = "/ui/";
        req.body = "";
        sr_gateway_handle(gw, &req, &resp);
        cr_assert(eq(int, resp.status, 200));
        /* The body is not NUL-terminated (strndup() would read past it
         * under ASan's strict_string_checks): copy and terminate. */
        page = calloc(1, resp.body.len + 1);
        cr_assert(not(eq(ptr, page, NULL)));
        memcpy(page, resp.body.ptr, resp.body.len);
        for (size_t i = 0; i < sizeof(banned) / sizeof(banned[0]); i++)
                cr_assert(eq(ptr, strstr(page, banned[i]), NULL),
                          "index.html holds %s", banned[i]);
        cr_assert(not(eq(ptr, strstr(page, "<script src=\"/ui/console.js\""),
                         NULL)));
        free(page);
        sr_buf_free(&resp.body);
}

Test(sr_gateway, console_refuses_other_methods_and_unknown_files)
{
        sr_gw_request_t req = { 0 };
        sr_gw_response_t resp;

        req.method = "POST";
        req.target = "/ui/console.js";
        req.body = "";
        sr_gateway_handle(gw, &req, &resp);
        cr_assert(eq(int, resp.status, 405));
        cr_assert(eq(str, resp.allow, "GET"));
        sr_buf_free(&resp.body);
        req.method = "GET";
        req.target = "/ui/../openapi.json";
        sr_gateway_handle(gw, &req, &resp);
        cr_assert(eq(int, resp.status, 404));
        cr_assert(eq(ptr, (char *)resp.headers, NULL));
        sr_buf_free(&resp.body);
}

/* ------------------------------------------------------------ asyncapi */

Test(sr_gateway, asyncapi_yaml_is_the_source_document_without_a_token)
{
        sr_gw_request_t req = { 0 };
        sr_gw_response_t resp;
        char *want = NULL;
        size_t want_len = 0;
        FILE *f = fopen(SR_SOURCE_DIR "/schemas/asyncapi.yaml", "rb");

        cr_assert(not(eq(ptr, f, NULL)));
        cr_assert(eq(int, getdelim(&want, &want_len, '\0', f) > 0, 1));
        want_len = (size_t)ftell(f);
        fclose(f);

        req.method = "GET";
        req.target = "/asyncapi.yaml";
        req.body = "";
        sr_gateway_handle(gw, &req, &resp);
        cr_assert(eq(int, resp.status, 200));
        cr_assert(eq(str, (char *)(resp.content_type ? resp.content_type :
                                                       "(none)"),
                     "application/yaml"));
        cr_assert(eq(sz, resp.body.len, want_len));
        cr_assert(eq(int, memcmp(resp.body.ptr, want, want_len), 0),
                  "the served document is not schemas/asyncapi.yaml");
        sr_buf_free(&resp.body);
        free(want);

        /* Read-only, exact path, like /openapi.json. */
        req.method = "POST";
        sr_gateway_handle(gw, &req, &resp);
        cr_assert(eq(int, resp.status, 405));
        cr_assert(not(eq(ptr, strstr(resp.allow, "GET"), NULL)), "%s",
                  resp.allow);
        sr_buf_free(&resp.body);
        req.method = "GET";
        req.target = "/asyncapi.yaml/x";
        sr_gateway_handle(gw, &req, &resp);
        cr_assert(eq(int, resp.status, 404));
        sr_buf_free(&resp.body);
        cr_assert(eq(int, fake.n_sends, 0));
}

/* ------------------------------------------------------------ watch */

static int64_t next_evt_off;

static int raw_count_of(const char *hay, const char *needle)
{
        int n = 0;

        for (const char *p = hay; (p = strstr(p, needle)); p++)
                n++;
        return n;
}

static sr_event_t watch_event(const char *enterprise, uint64_t seq)
{
        sr_event_t ev;

        memset(&ev, 0, sizeof(ev));
        ev.pipeline_run_id = run_e.u.pr.m.id;
        sr_uuid_v5(&ev.event_id, &sr_ns, "test-gw/ev/%llu",
                   (unsigned long long)seq);
        ev.seq = seq;
        ev.entity_type = SR_ENT_PIPELINE_RUN;
        ev.entity_id = run_e.u.pr.m.id;
        ev.pipeline_id = run_e.u.pr.pipeline_id;
        ev.from_status = seq == 1 ? SR_ST_NONE : SR_ST_PENDING;
        ev.to_status = seq == 1 ? SR_ST_PENDING : SR_ST_RUNNING;
        ev.occurred_at = 1000 + (int64_t)seq;
        ev.causation_id = uid("cmd");
        snprintf(ev.enterprise_id, sizeof(ev.enterprise_id), "%s",
                 enterprise);
        ev.version = (uint32_t)seq;
        return ev;
}

/* Events 1..n of the run into the projection, as the feed stores them. */
static void store_events(uint64_t n)
{
        sr_errctx_t ec = { 0 };
        sr_proj_txn_t *txn = NULL;

        cr_assert(eq(int, sr_proj_begin(proj, &txn, &ec), SR_OK));
        for (uint64_t q = 1; q <= n; q++) {
                sr_event_t ev = watch_event(ENT_A, q), back;
                sr_buf_t buf = { 0 };
                sr_jw_t json = { 0 };
                bool kept;

                cr_assert(eq(int, sr_codec_encode_event(codec, &ev, &buf,
                                                        &ec), SR_OK));
                cr_assert(eq(int, sr_proj_apply_event(txn, 0, next_evt_off++,
                                                      sr_buf_slice(&buf),
                                                      &back, &json, &kept,
                                                      &ec),
                             SR_OK), "%s", ec.msg);
                sr_buf_free(&buf);
                free(json.p);
        }
        cr_assert(eq(int, sr_proj_commit(txn, &ec), SR_OK), "%s", ec.msg);
}

typedef struct watch {
        int status;
        sr_h1_stream_t st;
        char *body; /* refusals */
} watch_t;

static watch_t watch_open(const char *target, const char *token,
                          const char *last_event_id)
{
        char auth[64];
        sr_gw_request_t req = { 0 };
        sr_gw_response_t resp;
        watch_t w = { 0 };

        snprintf(auth, sizeof(auth), "Bearer %s", token);
        req.method = "GET";
        req.target = target;
        req.authorization = auth;
        req.last_event_id = last_event_id;
        req.body = "";
        sr_gateway_handle(gw, &req, &resp);
        w.status = resp.status;
        w.st = resp.stream;
        w.body = strndup(resp.body.ptr ? resp.body.ptr : "", resp.body.len);
        sr_buf_free(&resp.body);
        if (w.status == 200) {
                cr_assert(eq(str, (char *)resp.content_type,
                             "text/event-stream"));
                cr_assert(not(eq(ptr, (void *)w.st.pull, NULL)));
        } else {
                cr_assert(eq(ptr, (void *)w.st.pull, NULL),
                          "a refusal with a stream");
        }
        return w;
}

/* One pull into @p out (NUL-terminated). */
static sr_h1_pull_t watch_pull(watch_t *w, char *out, size_t size)
{
        size_t n = 0;
        sr_h1_pull_t r = w->st.pull(w->st.arg, out, size - 1, &n);

        cr_assert(lt(sz, n, size));
        out[n] = '\0';
        return r;
}

static void watch_close(watch_t *w)
{
        if (w->st.close)
                w->st.close(w->st.arg, false);
        free(w->body);
}

static char events_url[128];

static const char *events_path(void)
{
        snprintf(events_url, sizeof(events_url), "/v0/runs/%s/events/",
                 run_id);
        return events_url;
}

Test(sr_gateway, watch_streams_a_runs_events_from_the_start_with_seq_ids)
{
        char out[8192];
        watch_t w;

        store_events(2);
        w = watch_open(events_path(), "tok-a", NULL);
        cr_assert(eq(int, w.status, 200), "%s", w.body);
        cr_assert(eq(int, watch_pull(&w, out, sizeof(out)), SR_H1_PULL_WAIT));
        cr_assert(eq(int, strncmp(out, "id: 1\nevent: status\ndata: {"
                                  "\"event_id\":", 36), 0), "%s", out);
        cr_assert(not(eq(ptr, strstr(out, "\n\nid: 2\nevent: status\n"),
                         NULL)), "%s", out);
        cr_assert(eq(int, raw_count_of(out, "\ndata: "), 2));
        /* nothing new: nothing more */
        cr_assert(eq(int, watch_pull(&w, out, sizeof(out)), SR_H1_PULL_WAIT));
        cr_assert(eq(str, out, ""));
        store_events(3); /* 3 is new (1, 2 again are repeats) */
        watch_pull(&w, out, sizeof(out));
        cr_assert(eq(int, strncmp(out, "id: 3\n", 6), 0), "%s", out);
        watch_close(&w);
}

Test(sr_gateway, watch_resumes_after_last_event_id_and_refuses_a_bad_one)
{
        char out[8192];
        watch_t w;

        store_events(3);
        w = watch_open(events_path(), "tok-a", "2");
        cr_assert(eq(int, w.status, 200));
        watch_pull(&w, out, sizeof(out));
        cr_assert(eq(int, strncmp(out, "id: 3\n", 6), 0), "%s", out);
        cr_assert(eq(int, raw_count_of(out, "\ndata: "), 1));
        watch_close(&w);
        w = watch_open(events_path(), "tok-a", "2x");
        cr_assert(eq(int, w.status, 400));
        cr_assert(not(eq(ptr, strstr(w.body, "Last-Event-ID"), NULL)));
        watch_close(&w);
}

Test(sr_gateway, watch_of_another_enterprises_run_is_404_like_its_get)
{
        watch_t w;

        store_events(1);
        w = watch_open(events_path(), "tok-b", NULL);
        cr_assert(eq(int, w.status, 404), "%s", w.body);
        watch_close(&w);
        w = watch_open(events_path(), "nope", NULL);
        cr_assert(eq(int, w.status, 401));
        watch_close(&w);
}

Test(sr_gateway, watch_of_a_final_run_ends_after_its_last_event)
{
        char out[8192];
        watch_t w;

        run_e.u.pr.m.status = SR_ST_SUCCESS;
        run_e.u.pr.m.version = 2;
        run_e.u.pr.last_seq = 2;
        put(&run_e);
        store_events(1);
        w = watch_open(events_path(), "tok-a", NULL);
        cr_assert(eq(int, watch_pull(&w, out, sizeof(out)), SR_H1_PULL_WAIT),
                  "ended before seq 2 was sent");
        store_events(2);
        cr_assert(eq(int, watch_pull(&w, out, sizeof(out)), SR_H1_PULL_END));
        cr_assert(eq(int, strncmp(out, "id: 2\n", 6), 0), "%s", out);
        cr_assert(not(eq(ptr, strstr(out, "\n\nevent: end\ndata: "
                                          "{\"pipeline_run_id\":\""),
                         NULL)), "%s", out);
        cr_assert(not(eq(ptr, strstr(out, "\"last_seq\":2}"), NULL)));
        watch_close(&w);
}

Test(sr_gateway, enterprise_watch_sees_its_events_from_now_and_no_others)
{
        char out[65536];
        watch_t w;
        sr_event_t a = watch_event(ENT_A, 7), b = watch_event(ENT_B, 8);

        sr_gateway__watch_publish(gw->watch, &a, "{\"old\":1}", 9);
        w = watch_open("/v0/events/", "tok-a", NULL);
        cr_assert(eq(int, w.status, 200));
        cr_assert(eq(int, watch_pull(&w, out, sizeof(out)), SR_H1_PULL_WAIT));
        cr_assert(eq(str, out, ""), "history sent: %s", out);
        sr_gateway__watch_publish(gw->watch, &b, "{\"b\":1}", 7);
        sr_gateway__watch_publish(gw->watch, &a, "{\"a\":1}", 7);
        watch_pull(&w, out, sizeof(out));
        cr_assert(eq(str, out, "id: 7\nevent: status\ndata: {\"a\":1}\n\n"));
        /* fall more than the ring behind: dropped with a last word */
        for (int i = 0; i <= SR_GW_WATCH_RING; i++)
                sr_gateway__watch_publish(gw->watch, &b, "{\"b\":1}", 7);
        cr_assert(eq(int, watch_pull(&w, out, sizeof(out)), SR_H1_PULL_END));
        cr_assert(eq(int, strncmp(out, "event: dropped\ndata: ", 21), 0),
                  "%s", out);
        watch_close(&w);
}

Test(sr_gateway, watch_says_which_events_were_not_kept_then_goes_on)
{
        char out[8192];
        sr_errctx_t ec = { 0 };
        sr_proj_txn_t *txn = NULL;
        sr_event_t ev = watch_event(ENT_A, 3), back;
        sr_buf_t buf = { 0 };
        sr_jw_t json = { 0 };
        bool kept;
        watch_t w;

        /* seq 3 only: 1 and 2 were gone from sr.events */
        cr_assert(eq(int, sr_codec_encode_event(codec, &ev, &buf, &ec),
                     SR_OK));
        cr_assert(eq(int, sr_proj_begin(proj, &txn, &ec), SR_OK));
        cr_assert(eq(int, sr_proj_apply_event(txn, 0, 0, sr_buf_slice(&buf),
                                              &back, &json, &kept, &ec),
                     SR_OK));
        cr_assert(eq(int, sr_proj_commit(txn, &ec), SR_OK));
        sr_buf_free(&buf);
        free(json.p);
        w = watch_open(events_path(), "tok-a", NULL);
        watch_pull(&w, out, sizeof(out));
        cr_assert(eq(int, strncmp(out, "event: gap\ndata: {\"pipeline_run_id"
                                  "\":\"", 35), 0), "%s", out);
        cr_assert(not(eq(ptr, strstr(out, "\"from_seq\":1,\"to_seq\":2,"),
                         NULL)), "%s", out);
        watch_pull(&w, out, sizeof(out));
        cr_assert(eq(int, strncmp(out, "id: 3\n", 6), 0), "%s", out);
        watch_close(&w);
}

/* ------------------------------------------------------------ definitions
 * Stored definitions (docs/definitions.md, phase A): the fake port's
 * worker applies each definition command with the owner's rules
 * (sr_defs_apply), and its wait_def_seq() applies the records the command
 * wrote, as the feed would. */

static char *content_of(const answer_t *a, const char *field,
                              char *buf, size_t size)
{
        json_t *v = json_object_get(json_object_get(a->json, "content"),
                                    field);

        if (json_is_string(v))
                snprintf(buf, size, "%s", json_string_value(v));
        else if (json_is_integer(v))
                snprintf(buf, size, "%lld", (long long)json_integer_value(v));
        else
                snprintf(buf, size, "%s", v ? "(other)" : "(absent)");
        return buf;
}

static long long content_int(const answer_t *a, const char *field)
{
        return (long long)json_integer_value(json_object_get(
                json_object_get(a->json, "content"), field));
}

static size_t results_n(const answer_t *a)
{
        return json_array_size(json_object_get(
                json_object_get(a->json, "content"), "results"));
}

static const char *result_str(const answer_t *a, size_t i, const char *field)
{
        const char *s = json_string_value(json_object_get(
                json_array_get(json_object_get(json_object_get(a->json,
                                                               "content"),
                                               "results"),
                               i),
                field));

        return s ? s : "(absent)";
}

/* POST /v0/pipelines/ of @p body, 200; the new id into @p id. */
static void create_pipeline(const char *idem, const char *body,
                            char id[SR_UUID_STR_LEN + 1])
{
        answer_t a = call("POST", "/v0/pipelines/", "tok-a", idem, body);

        cr_assert(eq(int, a.status, 200), "%s", a.body);
        snprintf(id, SR_UUID_STR_LEN + 1, "%s", content_str(&a, "id"));
        answer_free(&a);
}

static void create_stage(const char *pipe, const char *body,
                         char id[SR_UUID_STR_LEN + 1])
{
        char url[160];
        answer_t a;

        snprintf(url, sizeof(url), "/v0/pipelines/%s/stages/", pipe);
        a = call("POST", url, "tok-a", NULL, body);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        snprintf(id, SR_UUID_STR_LEN + 1, "%s", content_str(&a, "id"));
        answer_free(&a);
}

Test(sr_gateway, a_pipeline_is_created_read_and_listed)
{
        char id[SR_UUID_STR_LEN + 1], url[128], buf[64];
        sr_uuid_t want;
        answer_t a;

        a = call("POST", "/v0/pipelines/", "tok-a", "key-p1",
                 "{\"name\": \"canary\", \"description\": \"first\"}");
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "name"), "canary"));
        cr_assert(eq(str, (char *)content_str(&a, "enterprise_id"), ENT_A));
        cr_assert(eq(str, content_of(&a, "version", buf, sizeof(buf)), "1"));
        cr_assert(eq(str, content_of(&a, "timeout_seconds", buf,
                                     sizeof(buf)),
                     "86400"));
        /* the id is the gateway's: UUID v5 of the Idempotency-Key */
        sr_idem_uuid(&want, "idem-def-pipeline", ENT_A, "key-p1");
        sr_uuid_fmt(&want, id);
        cr_assert(eq(str, (char *)content_str(&a, "id"), id));
        answer_free(&a);
        /* one command, keyed by the pipeline; visible at its seq */
        cr_assert(eq(int, fake.n_sends, 1));
        cr_assert(eq(int, fake.cmds[0].kind, SR_CMD_DEFINITION));
        cr_assert(sr_uuid_eq(&fake.cmds[0].pipeline_run_id, &want));
        cr_assert(eq(int, fake.cmds[0].u.def->kind, SR_DEFCMD_PUT_PIPELINE));
        cr_assert(fake.cmds[0].u.def->create);
        cr_assert(eq(int, fake.n_wait_def_seq, 1));
        cr_assert(eq(u64, fake.waited_seq, 1));
        cr_assert(eq(int, fake.n_wait_visible, 0));

        snprintf(url, sizeof(url), "/api/pipelines/v0/pipelines/%s/", id);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "description"), "first"));
        answer_free(&a);
        a = call("GET", "/v0/pipelines/", "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(int, content_int(&a, "count"), 1));
        cr_assert(eq(str, (char *)result_str(&a, 0, "id"), id));
        answer_free(&a);
        /* another enterprise sees none of it */
        a = call("GET", url, "tok-b", NULL, NULL);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);
        a = call("GET", "/v0/pipelines/", "tok-b", NULL, NULL);
        cr_assert(eq(int, content_int(&a, "count"), 0));
        answer_free(&a);
}

Test(sr_gateway, pipelines_list_filters_orders_pages_and_leaves_deleted_out)
{
        char a_id[SR_UUID_STR_LEN + 1], b_id[SR_UUID_STR_LEN + 1],
                c_id[SR_UUID_STR_LEN + 1], url[128];
        answer_t a;

        /* 2 ms apart: pipelines created in one millisecond list by id
         * (they share no creation counter) */
        create_pipeline(NULL, "{\"name\": \"bravo\"}", b_id);
        usleep(2000);
        create_pipeline(NULL, "{\"name\": \"alpha\", \"is_default\": true}",
                        a_id);
        usleep(2000);
        create_pipeline(NULL, "{\"name\": \"charlie\"}", c_id);
        a = call("GET", "/v0/pipelines/?ordering=name", "tok-a", NULL, NULL);
        cr_assert(eq(int, content_int(&a, "count"), 3));
        cr_assert(eq(str, (char *)result_str(&a, 0, "name"), "alpha"));
        cr_assert(eq(str, (char *)result_str(&a, 2, "name"), "charlie"));
        answer_free(&a);
        a = call("GET", "/v0/pipelines/?ordering=-name&limit=1&offset=1",
                 "tok-a", NULL, NULL);
        cr_assert(eq(int, content_int(&a, "count"), 3));
        cr_assert(eq(sz, results_n(&a), 1));
        cr_assert(eq(str, (char *)result_str(&a, 0, "name"), "bravo"));
        cr_assert(eq(str, (char *)json_string_value(json_object_get(
                                  json_object_get(a.json, "content"),
                                  "next")),
                     "/v0/pipelines/?limit=1&offset=2&ordering=-name"));
        answer_free(&a);
        a = call("GET", "/v0/pipelines/?default=true", "tok-a", NULL, NULL);
        cr_assert(eq(int, content_int(&a, "count"), 1));
        cr_assert(eq(str, (char *)result_str(&a, 0, "id"), a_id));
        answer_free(&a);
        a = call("GET", "/v0/pipelines/?name=charlie", "tok-a", NULL, NULL);
        cr_assert(eq(int, content_int(&a, "count"), 1));
        cr_assert(eq(str, (char *)result_str(&a, 0, "id"), c_id));
        answer_free(&a);
        a = call("GET", "/v0/pipelines/?default=maybe", "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 400), "%s", a.body);
        answer_free(&a);
        /* deleted: out of the list */
        snprintf(url, sizeof(url), "/v0/pipelines/%s/", b_id);
        a = call("DELETE", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        answer_free(&a);
        a = call("GET", "/v0/pipelines/", "tok-a", NULL, NULL);
        cr_assert(eq(int, content_int(&a, "count"), 2));
        /* creation order by default */
        cr_assert(eq(str, (char *)result_str(&a, 0, "id"), a_id));
        cr_assert(eq(str, (char *)result_str(&a, 1, "id"), c_id));
        answer_free(&a);
}

Test(sr_gateway, a_pipeline_is_updated_and_a_stale_version_is_409)
{
        char id[SR_UUID_STR_LEN + 1], url[128], buf[64];
        answer_t a;

        create_pipeline(NULL, "{\"name\": \"canary\"}", id);
        snprintf(url, sizeof(url), "/v0/pipelines/%s/", id);
        a = call("PUT", url, "tok-a", NULL,
                 "{\"name\": \"canary 2\", \"version\": 1}");
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "name"), "canary 2"));
        cr_assert(eq(str, content_of(&a, "version", buf, sizeof(buf)), "2"));
        answer_free(&a);
        cr_assert(fake.cmds[1].u.def->has_expected_version);
        cr_assert(not(fake.cmds[1].u.def->create));
        /* the owner refuses a version that is not the entity's */
        a = call("PUT", url, "tok-a", NULL,
                 "{\"timeout_seconds\": 60, \"version\": 1}");
        cr_assert(eq(int, a.status, 409), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "reason"), "stale_version"));
        cr_assert(eq(int, content_int(&a, "current_version"), 2));
        answer_free(&a);
        /* without a version: the last write wins */
        a = call("PUT", url, "tok-a", NULL, "{\"timeout_seconds\": 60}");
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(int, content_int(&a, "timeout_seconds"), 60));
        answer_free(&a);
        /* a body the JSON module refuses: 400, nothing sent */
        a = call("PUT", url, "tok-a", NULL, "{\"nme\": \"x\"}");
        cr_assert(eq(int, a.status, 400), "%s", a.body);
        cr_assert(strstr(message(&a), "nme") != NULL, "%s", a.body);
        answer_free(&a);
        a = call("POST", "/v0/pipelines/", "tok-a", NULL, "{}");
        cr_assert(eq(int, a.status, 400), "%s", a.body);
        cr_assert(strstr(message(&a), "name") != NULL, "%s", a.body);
        answer_free(&a);
        cr_assert(eq(int, fake.n_sends, 4));
}

Test(sr_gateway, a_deleted_pipeline_answers_404_with_when_and_refuses_children)
{
        char id[SR_UUID_STR_LEN + 1], url[160];
        answer_t a;
        int sends;

        create_pipeline(NULL, "{\"name\": \"canary\"}", id);
        snprintf(url, sizeof(url), "/v0/pipelines/%s/", id);
        /* a delete's body: none or {"version"} alone */
        a = call("DELETE", url, "tok-a", NULL, "{\"name\": \"x\"}");
        cr_assert(eq(int, a.status, 400), "%s", a.body);
        answer_free(&a);
        a = call("DELETE", url, "tok-a", NULL, "{\"version\": 1}");
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        /* the deleted record, as Esper answers it */
        cr_assert(not(eq(str, (char *)content_str(&a, "deleted_at"),
                         "(absent)")));
        cr_assert(eq(int, json_is_true(json_object_get(
                                  json_object_get(a.json, "content"),
                                  "is_archived")),
                     1));
        answer_free(&a);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        cr_assert(strstr(message(&a), "was deleted at") != NULL, "%s", a.body);
        answer_free(&a);
        sends = fake.n_sends;
        a = call("PUT", url, "tok-a", NULL, "{\"name\": \"y\"}");
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);
        snprintf(url, sizeof(url), "/v0/pipelines/%s/stages/", id);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        cr_assert(strstr(message(&a), "was deleted at") != NULL, "%s", a.body);
        answer_free(&a);
        a = call("POST", url, "tok-a", NULL, "{\"name\": \"s\"}");
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);
        cr_assert(eq(int, fake.n_sends, sends));
}

Test(sr_gateway, definition_refusals_map_to_their_statuses)
{
        static const struct {
                sr_reject_t reason;
                int status;
        } cases[] = {
                { SR_REJECT_IN_USE, 409 },
                { SR_REJECT_RUN_STARTING, 409 },
                { SR_REJECT_PIPELINE_DELETED, 404 },
                { SR_REJECT_NOT_FOUND, 404 },
                { SR_REJECT_NAME_TAKEN, 400 },
                { SR_REJECT_ORDER_TAKEN, 400 },
                { SR_REJECT_NOT_SUPPORTED, 400 },
                { SR_REJECT_WRONG_TYPE, 400 },
                { SR_REJECT_STALE_VERSION, 409 },
        };
        char id[SR_UUID_STR_LEN + 1], url[128];
        answer_t a;

        create_pipeline(NULL, "{\"name\": \"canary\"}", id);
        snprintf(url, sizeof(url), "/v0/pipelines/%s/", id);
        fake.refused = true;
        fake.def_version = 7;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                fake.reason = cases[i].reason;
                a = call("PUT", url, "tok-a", NULL, "{\"name\": \"x\"}");
                cr_assert(eq(int, a.status, cases[i].status), "%s: %s",
                          sr_reject_name(cases[i].reason), a.body);
                cr_assert(eq(str, (char *)message(&a), "the worker says no"));
                cr_assert(eq(str, (char *)content_str(&a, "reason"),
                             (char *)sr_reject_name(cases[i].reason)));
                cr_assert(eq(int, a.retry_after,
                             cases[i].reason == SR_REJECT_RUN_STARTING ? 1 :
                                                                         0));
                if (cases[i].reason == SR_REJECT_STALE_VERSION)
                        cr_assert(eq(int, content_int(&a, "current_version"),
                                     7));
                else
                        cr_assert(eq(ptr,
                                     json_object_get(json_object_get(
                                                             a.json,
                                                             "content"),
                                                     "current_version"),
                                     NULL));
                answer_free(&a);
        }
}

Test(sr_gateway, a_definition_write_not_visible_or_unanswered_is_202)
{
        char id[SR_UUID_STR_LEN + 1], url[128];
        answer_t a;

        create_pipeline(NULL, "{\"name\": \"canary\"}", id);
        snprintf(url, sizeof(url), "/v0/pipelines/%s/", id);
        fake.not_visible = true;
        a = call("PUT", url, "tok-a", NULL, "{\"name\": \"x\"}");
        cr_assert(eq(int, a.status, 202), "%s", a.body);
        cr_assert(not(eq(str, (char *)content_str(&a, "command_id"),
                         "(absent)")));
        answer_free(&a);
        fake.not_visible = false;
        fake.no_reply = true;
        a = call("POST", "/v0/pipelines/", "tok-a", NULL,
                 "{\"name\": \"y\"}");
        cr_assert(eq(int, a.status, 202), "%s", a.body);
        answer_free(&a);
}

Test(sr_gateway, a_definition_create_retried_with_its_key_is_the_same)
{
        char id[SR_UUID_STR_LEN + 1], again[SR_UUID_STR_LEN + 1];
        answer_t a;

        create_pipeline("same-key", "{\"name\": \"canary\"}", id);
        create_pipeline("same-key", "{\"name\": \"canary\"}", again);
        cr_assert(eq(str, id, again));
        cr_assert(eq(int, fake.n_sends, 2));
        cr_assert(sr_uuid_eq(&fake.cmds[0].command_id,
                             &fake.cmds[1].command_id));
        a = call("GET", "/v0/pipelines/", "tok-a", NULL, NULL);
        cr_assert(eq(int, content_int(&a, "count"), 1));
        answer_free(&a);
        /* the key with another body */
        a = call("POST", "/v0/pipelines/", "tok-a", "same-key",
                 "{\"name\": \"other\"}");
        cr_assert(eq(int, a.status, 409), "%s", a.body);
        answer_free(&a);
        cr_assert(eq(int, fake.n_sends, 2));
}

/* POST /v0/pipelines/{id}/runs/ (docs/definitions.md section 5): the
 * fake owner applies StartPipelineRun with the rules, and its wait_run()
 * projects the run the owner's CreateRun made. */
Test(sr_gateway, a_stored_pipeline_run_starts_and_answers_200_with_the_run)
{
        char pipe[SR_UUID_STR_LEN + 1], other[SR_UUID_STR_LEN + 1],
                run[SR_UUID_STR_LEN + 1], url[200], alone[200];
        sr_uuid_t want, pid;
        json_t *got;
        answer_t a, g;

        create_pipeline(NULL, "{\"name\": \"canary\"}", pipe);
        create_pipeline(NULL, "{\"name\": \"other\"}", other);
        snprintf(url, sizeof(url), "/v0/pipelines/%s/runs/", pipe);
        a = call("POST", url, "tok-a", "start-1", NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        /* the run id: v5 of the key and the pipeline (never the id POST
         * /v0/runs/ gives the same key, nor another pipeline's) */
        {
                char label[16 + SR_UUID_STR_LEN];

                snprintf(label, sizeof(label), "idem-run/%s", pipe);
                sr_idem_uuid(&want, label, ENT_A, "start-1");
        }
        sr_uuid_fmt(&want, run);
        cr_assert(eq(str, (char *)content_str(&a, "id"), run));
        cr_assert(eq(str, (char *)content_str(&a, "pipeline_id"), pipe));
        cr_assert(eq(str, (char *)content_str(&a, "status"), "queued"));
        /* StartPipelineRun keyed by the pipeline, naming the run */
        cr_assert(eq(int, fake.n_sends, 3));
        cr_assert(eq(int, fake.cmds[2].kind, SR_CMD_DEFINITION));
        cr_assert(eq(int, fake.cmds[2].u.def->kind,
                     SR_DEFCMD_START_PIPELINE_RUN));
        cr_assert(sr_uuid_parse(pipe, SR_UUID_STR_LEN, &pid));
        cr_assert(sr_uuid_eq(&fake.cmds[2].pipeline_run_id, &pid));
        cr_assert(sr_uuid_eq(&fake.cmds[2].u.def->pipeline_id, &pid));
        cr_assert(sr_uuid_eq(&fake.cmds[2].u.def->u.run.pipeline_run_id,
                             &want));
        cr_assert(eq(str, fake.cmds[2].u.def->enterprise_id, ENT_A));
        cr_assert(eq(int, fake.n_wait_run, 1));
        /* the run as POST /v0/runs/ and GET answer a run */
        snprintf(alone, sizeof(alone), "/v0/runs/%s/", run);
        g = call("GET", alone, "tok-a", NULL, NULL);
        cr_assert(eq(int, g.status, 200), "%s", g.body);
        got = json_object_get(a.json, "content");
        cr_assert(json_equal(got, json_object_get(g.json, "content")),
                  "%s\n%s", a.body, g.body);
        answer_free(&g);
        answer_free(&a);
        /* a retry with the key: the same command, the same run */
        a = call("POST", url, "tok-a", "start-1", NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "id"), run));
        cr_assert(eq(int, fake.n_sends, 4));
        cr_assert(sr_uuid_eq(&fake.cmds[3].command_id,
                             &fake.cmds[2].command_id));
        answer_free(&a);
        /* the key on another pipeline's path: another request */
        snprintf(url, sizeof(url), "/v0/pipelines/%s/runs/", other);
        a = call("POST", url, "tok-a", "start-1", NULL);
        cr_assert(eq(int, a.status, 409), "%s", a.body);
        answer_free(&a);
        cr_assert(eq(int, fake.n_sends, 4));
        /* the other prefix, body {}, no key: a new run (v4) */
        snprintf(url, sizeof(url), "/api/pipelines/v0/pipelines/%s/runs",
                 other);
        a = call("POST", url, "tok-a", NULL, "{}");
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "pipeline_id"), other));
        cr_assert(not(eq(str, (char *)content_str(&a, "id"), run)));
        answer_free(&a);
        cr_assert(eq(int, fake.n_wait_run, 3));
}

Test(sr_gateway, a_stored_pipeline_run_checks_body_then_pipeline_before_sending)
{
        char pipe[SR_UUID_STR_LEN + 1], url[200];
        answer_t a;

        create_pipeline(NULL, "{\"name\": \"canary\"}", pipe);
        snprintf(url, sizeof(url), "/v0/pipelines/%s/runs/", pipe);
        /* the body: {} or none */
        a = call("POST", url, "tok-a", NULL, "{\"name\": \"x\"}");
        cr_assert(eq(int, a.status, 400), "%s", a.body);
        cr_assert(strstr(message(&a), "unknown field \"name\"") != NULL,
                  "%s", a.body);
        answer_free(&a);
        a = call("POST", url, "tok-a", NULL, "[]");
        cr_assert(eq(int, a.status, 400), "%s", a.body);
        answer_free(&a);
        /* an unknown pipeline: 404 (a bad body first: 400) */
        a = call("POST", "/v0/pipelines/00000000-0000-4000-8000-000000000001"
                 "/runs/", "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        cr_assert(strstr(message(&a), "not found") != NULL, "%s", a.body);
        answer_free(&a);
        a = call("POST", "/v0/pipelines/00000000-0000-4000-8000-000000000001"
                 "/runs/", "tok-a", NULL, "{\"x\": 1}");
        cr_assert(eq(int, a.status, 400), "%s", a.body);
        answer_free(&a);
        /* another enterprise's: the same 404 */
        a = call("POST", url, "tok-b", NULL, NULL);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);
        cr_assert(eq(int, fake.n_sends, 1));
        /* deleted: 404 saying when */
        snprintf(url, sizeof(url), "/v0/pipelines/%s/", pipe);
        a = call("DELETE", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        answer_free(&a);
        snprintf(url, sizeof(url), "/v0/pipelines/%s/runs/", pipe);
        a = call("POST", url, "tok-a", NULL, "{}");
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        cr_assert(strstr(message(&a), "was deleted at") != NULL, "%s",
                  a.body);
        answer_free(&a);
        cr_assert(eq(int, fake.n_sends, 2));
        cr_assert(eq(int, fake.n_wait_run, 0));
}

Test(sr_gateway, a_stored_pipeline_run_refused_or_late_maps_as_definition_writes)
{
        static const struct {
                sr_reject_t reason;
                int status;
        } cases[] = {
                { SR_REJECT_RUN_STARTING, 409 },
                { SR_REJECT_NOT_SUPPORTED, 400 },
                { SR_REJECT_PIPELINE_DELETED, 404 },
                { SR_REJECT_NOT_FOUND, 404 },
        };
        char pipe[SR_UUID_STR_LEN + 1], url[200];
        answer_t a;

        create_pipeline(NULL, "{\"name\": \"canary\"}", pipe);
        snprintf(url, sizeof(url), "/v0/pipelines/%s/runs/", pipe);
        fake.refused = true;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                fake.reason = cases[i].reason;
                a = call("POST", url, "tok-a", NULL, NULL);
                cr_assert(eq(int, a.status, cases[i].status), "%s: %s",
                          sr_reject_name(cases[i].reason), a.body);
                cr_assert(eq(str, (char *)content_str(&a, "reason"),
                             (char *)sr_reject_name(cases[i].reason)));
                cr_assert(not(eq(str, (char *)content_str(&a, "command_id"),
                                 "(absent)")));
                cr_assert(eq(int, a.retry_after,
                             cases[i].reason == SR_REJECT_RUN_STARTING ? 1 :
                                                                         0));
                answer_free(&a);
        }
        cr_assert(eq(int, fake.n_wait_run, 0));
        fake.refused = false;
        /* accepted, the run not projected in time: 202 */
        fake.run_not_created = true;
        a = call("POST", url, "tok-a", "late", NULL);
        cr_assert(eq(int, a.status, 202), "%s", a.body);
        cr_assert(not(eq(str, (char *)content_str(&a, "command_id"),
                         "(absent)")));
        answer_free(&a);
        cr_assert(eq(int, fake.n_wait_run, 1));
        /* its retry once the run is there: 200 with that run */
        fake.run_not_created = false;
        a = call("POST", url, "tok-a", "late", NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        answer_free(&a);
        /* no reply in time: 202 */
        fake.no_reply = true;
        a = call("POST", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 202), "%s", a.body);
        answer_free(&a);
}

Test(sr_gateway, stages_are_created_listed_in_order_updated_and_deleted)
{
        char pipe[SR_UUID_STR_LEN + 1], s1[SR_UUID_STR_LEN + 1],
                s2[SR_UUID_STR_LEN + 1], url[200], buf[64];
        answer_t a;
        int sends;

        create_pipeline(NULL, "{\"name\": \"canary\"}", pipe);
        create_stage(pipe, "{\"name\": \"late\", \"order\": 5}", s1);
        create_stage(pipe, "{\"name\": \"early\", \"order\": 2}", s2);
        snprintf(url, sizeof(url), "/api/pipelines/v0/pipelines/%s/stages/",
                 pipe);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(int, content_int(&a, "count"), 2));
        cr_assert(eq(str, (char *)result_str(&a, 0, "name"), "early"));
        cr_assert(eq(str, (char *)result_str(&a, 1, "name"), "late"));
        cr_assert(eq(str, (char *)result_str(&a, 0, "pipeline_id"), pipe));
        answer_free(&a);
        /* the owner's rule: a taken order */
        a = call("POST", url, "tok-a", NULL,
                 "{\"name\": \"clash\", \"order\": 2}");
        cr_assert(eq(int, a.status, 400), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "reason"), "order_taken"));
        answer_free(&a);

        snprintf(url, sizeof(url), "/v0/pipelines/%s/stages/%s/", pipe, s1);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "name"), "late"));
        answer_free(&a);
        a = call("PUT", url, "tok-a", NULL, "{\"name\": \"later\"}");
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "name"), "later"));
        cr_assert(eq(str, content_of(&a, "version", buf, sizeof(buf)), "2"));
        answer_free(&a);
        /* another enterprise: 404, nothing sent */
        sends = fake.n_sends;
        a = call("PUT", url, "tok-b", NULL, "{\"name\": \"x\"}");
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);
        cr_assert(eq(int, fake.n_sends, sends));
        /* the delete answers the stage as it was */
        a = call("DELETE", url, "tok-a", "del-1", NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "name"), "later"));
        answer_free(&a);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);
        /* a stage of this pipeline under another pipeline's path */
        create_pipeline(NULL, "{\"name\": \"other\"}", s1);
        snprintf(url, sizeof(url), "/v0/pipelines/%s/stages/%s/", s1, s2);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);
}

/* POST @p url of @p body, 200; the answer's id into @p id. */
static void create_at(const char *url, const char *body,
                      char id[SR_UUID_STR_LEN + 1])
{
        answer_t a = call("POST", url, "tok-a", NULL, body);

        cr_assert(eq(int, a.status, 200), "POST %s: %s", url, a.body);
        snprintf(id, SR_UUID_STR_LEN + 1, "%s", content_str(&a, "id"));
        answer_free(&a);
}

Test(sr_gateway, target_lists_are_created_attached_filtered_detached_deleted)
{
        char pipe[SR_UUID_STR_LEN + 1], stage[SR_UUID_STR_LEN + 1],
                tl[SR_UUID_STR_LEN + 1], url[200], body[128];
        answer_t a;
        int sends;

        create_pipeline(NULL, "{\"name\": \"canary\"}", pipe);
        create_stage(pipe, "{\"name\": \"one\"}", stage);
        snprintf(url, sizeof(url), "/v0/pipelines/%s/targetlists/", pipe);
        create_at(url, "{\"name\": \"fleet\", \"target_list_type\": "
                  "\"devices\"}", tl);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, content_int(&a, "count"), 1), "%s", a.body);
        cr_assert(eq(str, (char *)result_str(&a, 0, "target_list_type"),
                     "DEVICES"));
        answer_free(&a);
        snprintf(url, sizeof(url), "/v0/pipelines/%s/targetlists/%s/", pipe,
                 tl);
        a = call("PUT", url, "tok-a", NULL, "{\"name\": \"fleet 2\"}");
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "name"), "fleet 2"));
        answer_free(&a);

        /* attach: the answer is the list */
        snprintf(url, sizeof(url), "/api/pipelines/v0/stages/%s/targetlists/",
                 stage);
        snprintf(body, sizeof(body), "{\"target_list_id\": \"%s\"}", tl);
        a = call("POST", url, "tok-a", NULL, body);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "id"), tl));
        answer_free(&a);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, content_int(&a, "count"), 1), "%s", a.body);
        cr_assert(eq(str, (char *)result_str(&a, 0, "id"), tl));
        answer_free(&a);
        snprintf(url, sizeof(url), "/v0/stages/%s/targetlists/?type=groups",
                 stage);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, content_int(&a, "count"), 0), "%s", a.body);
        answer_free(&a);
        snprintf(url, sizeof(url), "/v0/stages/%s/targetlists/?type=devices",
                 stage);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, content_int(&a, "count"), 1), "%s", a.body);
        answer_free(&a);
        /* another enterprise: the stage is not found */
        a = call("GET", url, "tok-b", NULL, NULL);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        cr_assert(strstr(message(&a), "stage") != NULL, "%s", a.body);
        answer_free(&a);

        /* the list is in use by the stage: its delete is the owner's to
         * refuse or cascade; detach first */
        snprintf(url, sizeof(url), "/v0/stages/%s/targetlists/%s/", stage, tl);
        a = call("DELETE", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "id"), tl));
        answer_free(&a);
        sends = fake.n_sends;
        a = call("DELETE", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        cr_assert(strstr(message(&a), "not attached") != NULL, "%s", a.body);
        answer_free(&a);
        cr_assert(eq(int, fake.n_sends, sends));
        snprintf(url, sizeof(url), "/v0/stages/%s/targetlists/", stage);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, content_int(&a, "count"), 0), "%s", a.body);
        answer_free(&a);

        snprintf(url, sizeof(url), "/v0/pipelines/%s/targetlists/%s/", pipe,
                 tl);
        a = call("DELETE", url, "tok-a", NULL, "{\"version\": 2}");
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "name"), "fleet 2"));
        answer_free(&a);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);
        /* an unknown stage: 404, nothing sent */
        sends = fake.n_sends;
        snprintf(url, sizeof(url), "/v0/stages/%s/targetlists/", pipe);
        a = call("POST", url, "tok-a", NULL, body);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);
        cr_assert(eq(int, fake.n_sends, sends));
}

Test(sr_gateway, device_groups_are_linked_listed_and_unlinked_by_group_or_link_id)
{
        static const char g1[] = "6f1c1d52-1b0e-4a51-9d7e-0a1b2c3d4e01",
                          g2[] = "6f1c1d52-1b0e-4a51-9d7e-0a1b2c3d4e02";
        char pipe[SR_UUID_STR_LEN + 1], tl[SR_UUID_STR_LEN + 1],
                dl[SR_UUID_STR_LEN + 1], link2[SR_UUID_STR_LEN + 1],
                url[256], body[128];
        answer_t a;
        int sends;

        create_pipeline(NULL, "{\"name\": \"groups\"}", pipe);
        snprintf(url, sizeof(url), "/v0/pipelines/%s/targetlists/", pipe);
        create_at(url, "{\"name\": \"by group\", \"target_list_type\": "
                  "\"GROUPS\"}", tl);
        create_at(url, "{\"name\": \"by device\", \"target_list_type\": "
                  "\"DEVICES\"}", dl);

        /* link two groups: each answers its link, id v5(list, group) */
        snprintf(url, sizeof(url),
                 "/api/pipelines/v0/pipelines/%s/targetlists/%s/devicegroups/",
                 pipe, tl);
        snprintf(body, sizeof(body), "{\"device_group_id\": \"%s\"}", g1);
        a = call("POST", url, "tok-a", NULL, body);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "device_group_id"),
                     (char *)g1));
        cr_assert(eq(str, (char *)content_str(&a, "target_list_id"), tl));
        answer_free(&a);
        /* linked again: the same link, same version */
        a = call("POST", url, "tok-a", NULL, body);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(int, content_int(&a, "version"), 1), "%s", a.body);
        answer_free(&a);
        snprintf(body, sizeof(body), "{\"device_group_id\": \"%s\"}", g2);
        a = call("POST", url, "tok-a", NULL, body);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        snprintf(link2, sizeof(link2), "%s", content_str(&a, "id"));
        answer_free(&a);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(int, content_int(&a, "count"), 2), "%s", a.body);
        cr_assert(eq(str, (char *)result_str(&a, 0, "device_group_id"),
                     (char *)g1));
        cr_assert(eq(str, (char *)result_str(&a, 1, "device_group_id"),
                     (char *)g2));
        answer_free(&a);
        /* another enterprise: the pipeline is not found */
        a = call("GET", url, "tok-b", NULL, NULL);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);

        /* a DEVICES list takes no group: the owner's wrong_type */
        snprintf(url, sizeof(url),
                 "/v0/pipelines/%s/targetlists/%s/devicegroups/", pipe, dl);
        a = call("POST", url, "tok-a", NULL, body);
        cr_assert(eq(int, a.status, 400), "%s", a.body);
        answer_free(&a);
        /* a body without the group, or with another member: 400, nothing
         * sent */
        sends = fake.n_sends;
        a = call("POST", url, "tok-a", NULL, "{}");
        cr_assert(eq(int, a.status, 400), "%s", a.body);
        answer_free(&a);
        cr_assert(eq(int, fake.n_sends, sends));

        /* a linked group's devices: none while the directory has not the
         * group; a group not linked: 404 */
        snprintf(url, sizeof(url),
                 "/v0/pipelines/%s/targetlists/%s/devicegroups/%s/devices/",
                 pipe, tl, g1);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(int, content_int(&a, "count"), 0), "%s", a.body);
        cr_assert(eq(sz, results_n(&a), 0), "%s", a.body);
        answer_free(&a);
        snprintf(url, sizeof(url),
                 "/v0/pipelines/%s/targetlists/%s/devicegroups/%s/devices/",
                 pipe, dl, g1);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        cr_assert(strstr(message(&a), "device-group link") != NULL, "%s",
                  a.body);
        answer_free(&a);

        /* unlinked by the group's id: Esper's answer, the two ids */
        snprintf(url, sizeof(url),
                 "/v0/pipelines/%s/targetlists/%s/devicegroups/%s/", pipe, tl,
                 g1);
        a = call("DELETE", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "target_list"), tl));
        cr_assert(eq(str, (char *)content_str(&a, "device_group"),
                     (char *)g1));
        answer_free(&a);
        /* again: not linked, 404, nothing sent */
        sends = fake.n_sends;
        a = call("DELETE", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        cr_assert(strstr(message(&a), "not linked") != NULL, "%s", a.body);
        answer_free(&a);
        cr_assert(eq(int, fake.n_sends, sends));
        /* by the link's own id, with a stale version: 409; then right */
        snprintf(url, sizeof(url),
                 "/v0/pipelines/%s/targetlists/%s/devicegroups/%s/", pipe, tl,
                 link2);
        a = call("DELETE", url, "tok-a", NULL, "{\"version\": 7}");
        cr_assert(eq(int, a.status, 409), "%s", a.body);
        answer_free(&a);
        a = call("DELETE", url, "tok-a", NULL, "{\"version\": 1}");
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "device_group"),
                     (char *)g2));
        answer_free(&a);
        snprintf(url, sizeof(url),
                 "/v0/pipelines/%s/targetlists/%s/devicegroups/", pipe, tl);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, content_int(&a, "count"), 0), "%s", a.body);
        answer_free(&a);
}

Test(sr_gateway, operation_lists_and_operations_under_their_parents)
{
        char pipe[SR_UUID_STR_LEN + 1], stage[SR_UUID_STR_LEN + 1],
                other[SR_UUID_STR_LEN + 1], ol[SR_UUID_STR_LEN + 1],
                ol2[SR_UUID_STR_LEN + 1], op[SR_UUID_STR_LEN + 1],
                url[220];
        answer_t a;
        json_t *args;

        create_pipeline(NULL, "{\"name\": \"canary\"}", pipe);
        create_stage(pipe, "{\"name\": \"one\"}", stage);
        create_stage(pipe, "{\"name\": \"two\"}", other);
        snprintf(url, sizeof(url), "/v0/stages/%s/operationlists/", stage);
        create_at(url, "{\"name\": \"installs\"}", ol);
        snprintf(url, sizeof(url), "/v0/stages/%s/operationlists/", other);
        create_at(url, "{\"name\": \"reboots\"}", ol2);
        snprintf(url, sizeof(url), "/v0/stages/%s/operationlists/", stage);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, content_int(&a, "count"), 1), "%s", a.body);
        cr_assert(eq(str, (char *)result_str(&a, 0, "id"), ol));
        cr_assert(eq(str, (char *)result_str(&a, 0, "stage_id"), stage));
        answer_free(&a);
        snprintf(url, sizeof(url), "/v0/stages/%s/operationlists/%s/", stage,
                 ol);
        a = call("PUT", url, "tok-a", NULL, "{\"description\": \"apps\"}");
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "description"), "apps"));
        answer_free(&a);
        /* an operation list under another stage's path */
        snprintf(url, sizeof(url), "/v0/stages/%s/operationlists/%s/", other,
                 ol);
        a = call("PUT", url, "tok-a", NULL, "{\"description\": \"x\"}");
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);

        snprintf(url, sizeof(url), "/v0/operationlists/%s/operations/", ol);
        create_at(url, "{\"operation_type\": \"REBOOT\"}", op);
        a = call("POST", url, "tok-a", NULL,
                 "{\"operation_type\": \"LOCK\", \"args\": {\"n\": 1}}");
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        args = json_object_get(json_object_get(a.json, "content"), "args");
        cr_assert(eq(int, (int)json_integer_value(json_object_get(args, "n")),
                     1), "%s", a.body);
        answer_free(&a);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, content_int(&a, "count"), 2), "%s", a.body);
        cr_assert(eq(str, (char *)result_str(&a, 0, "id"), op));
        answer_free(&a);
        snprintf(url, sizeof(url),
                 "/v0/operationlists/%s/operations/?operation_type=reboot",
                 ol);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, content_int(&a, "count"), 1), "%s", a.body);
        cr_assert(eq(str, (char *)result_str(&a, 0, "operation_type"),
                     "REBOOT"));
        answer_free(&a);
        snprintf(url, sizeof(url), "/v0/operationlists/%s/operations/", ol2);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, content_int(&a, "count"), 0), "%s", a.body);
        answer_free(&a);

        snprintf(url, sizeof(url), "/v0/operationlists/%s/operations/%s/", ol,
                 op);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "pipeline_id"), pipe));
        answer_free(&a);
        a = call("PUT", url, "tok-a", NULL,
                 "{\"args\": {\"delay\": 5}, \"version\": 1}");
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(int, content_int(&a, "version"), 2));
        answer_free(&a);
        /* under the other list's path: not found */
        snprintf(url, sizeof(url), "/v0/operationlists/%s/operations/%s/",
                 ol2, op);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);
        a = call("GET", url, "tok-b", NULL, NULL);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);
        snprintf(url, sizeof(url), "/v0/operationlists/%s/operations/%s/", ol,
                 op);
        a = call("DELETE", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "id"), op));
        answer_free(&a);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);
        snprintf(url, sizeof(url), "/v0/stages/%s/operationlists/%s/", stage,
                 ol);
        a = call("DELETE", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        answer_free(&a);
        /* its operations went with it: the list path is unknown now */
        snprintf(url, sizeof(url), "/v0/operationlists/%s/operations/", ol);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        cr_assert(strstr(message(&a), "operation list") != NULL, "%s",
                  a.body);
        answer_free(&a);
}

Test(sr_gateway, targets_are_added_paged_updated_and_removed)
{
        char pipe[SR_UUID_STR_LEN + 1], tl[SR_UUID_STR_LEN + 1],
                groups[SR_UUID_STR_LEN + 1], url[240], body[200],
                dev[SR_UUID_STR_LEN + 1], first[SR_UUID_STR_LEN + 1],
                next[300];
        sr_uuid_t d, want;
        answer_t a;
        const char *link;

        create_pipeline(NULL, "{\"name\": \"canary\"}", pipe);
        snprintf(url, sizeof(url), "/v0/pipelines/%s/targetlists/", pipe);
        create_at(url, "{\"name\": \"fleet\", \"target_list_type\": "
                  "\"DEVICES\"}", tl);
        create_at(url, "{\"name\": \"groups\", \"target_list_type\": "
                  "\"GROUPS\"}", groups);
        snprintf(url, sizeof(url), "/v0/pipelines/%s/targetlists/%s/targets/",
                 pipe, tl);
        for (int i = 0; i < 3; i++) {
                d = uid(i == 0 ? "dev-a" : i == 1 ? "dev-b" : "dev-c");
                sr_uuid_fmt(&d, dev);
                snprintf(body, sizeof(body), "{\"device_id\": \"%s\", "
                         "\"device_name\": \"d-%d\"}", dev, i);
                a = call("POST", url, "tok-a", NULL, body);
                cr_assert(eq(int, a.status, 200), "%s", a.body);
                /* the id is the list's and the device's */
                sr_uuid_t l;

                sr_uuid_parse(tl, SR_UUID_STR_LEN, &l);
                sr_def_target_id(&l, &d, &want);
                sr_uuid_fmt(&want, dev);
                cr_assert(eq(str, (char *)content_str(&a, "id"), dev));
                cr_assert(eq(str, (char *)content_str(&a, "target_list_id"),
                             tl));
                if (i == 0)
                        snprintf(first, sizeof(first), "%s", dev);
                answer_free(&a);
        }
        /* the same device again: skipped, the same target */
        d = uid("dev-a");
        sr_uuid_fmt(&d, dev);
        snprintf(body, sizeof(body), "{\"device_id\": \"%s\", "
                 "\"device_name\": \"d-0\"}", dev);
        a = call("POST", url, "tok-a", NULL, body);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "id"), first));
        answer_free(&a);
        /* pages of 2 by cursor */
        snprintf(next, sizeof(next), "%s?limit=2", url);
        a = call("GET", next, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(int, content_int(&a, "count"), 3), "%s", a.body);
        cr_assert(eq(sz, results_n(&a), 2));
        link = json_string_value(json_object_get(
                json_object_get(a.json, "content"), "next"));
        cr_assert(link != NULL && strstr(link, "cursor=") != NULL, "%s",
                  a.body);
        snprintf(next, sizeof(next), "%s", link);
        answer_free(&a);
        a = call("GET", next, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(sz, results_n(&a), 1), "%s", a.body);
        link = json_string_value(json_object_get(
                json_object_get(a.json, "content"), "next"));
        cr_assert(eq(ptr, (void *)link, NULL), "%s", a.body);
        answer_free(&a);
        snprintf(next, sizeof(next), "%s?cursor=abc", url);
        a = call("GET", next, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 400), "%s", a.body);
        answer_free(&a);

        /* a GROUPS list holds no targets: the owner's wrong_type, 400 */
        snprintf(next, sizeof(next),
                 "/v0/pipelines/%s/targetlists/%s/targets/", pipe, groups);
        a = call("POST", next, "tok-a", NULL, body);
        cr_assert(eq(int, a.status, 400), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "reason"), "wrong_type"));
        answer_free(&a);

        /* one target: read, updated (the envelope, not Esper's bare
         * Target), removed */
        snprintf(next, sizeof(next), "%s%s/", url, first);
        a = call("GET", next, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "device_name"), "d-0"));
        answer_free(&a);
        a = call("PUT", next, "tok-a", NULL,
                 "{\"device_name\": \"renamed\", \"is_active\": false}");
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "device_name"),
                     "renamed"));
        answer_free(&a);
        a = call("GET", next, "tok-b", NULL, NULL);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);
        a = call("DELETE", next, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "device_name"),
                     "renamed"));
        answer_free(&a);
        a = call("GET", next, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, content_int(&a, "count"), 2), "%s", a.body);
        answer_free(&a);
        /* the target under the other list's path */
        snprintf(next, sizeof(next),
                 "/v0/pipelines/%s/targetlists/%s/targets/%s/", pipe, groups,
                 first);
        a = call("GET", next, "tok-a", NULL, NULL);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);
}

Test(sr_gateway, a_bulk_body_has_its_own_limit_and_its_413_names_it)
{
        static const char bulk[] =
                "/api/pipelines/v0/pipelines/"
                "0b7a8c7e-3333-4a0e-8f0e-000000000001/targetlists/"
                "0b7a8c7e-3333-4a0e-8f0e-000000000002/targets-bulk/";
        sr_gw_request_t req = { 0 };
        sr_gw_response_t resp;
        answer_t a = { 0 };

        /* the defaults: 16 MiB for the bulk, 1 MiB for the rest, and for
         * a path of no route */
        cr_assert(eq(sz, sr_gateway_body_max(gw, "POST", bulk), 16u << 20));
        cr_assert(eq(sz, sr_gateway_body_max(gw, "POST", "/v0/runs/"),
                     1u << 20));
        cr_assert(eq(sz, sr_gateway_body_max(gw, "POST", "/v0/nothing/"),
                     1u << 20));
        cr_assert(eq(sz, sr_gateway_body_max(gw, "GET", bulk), 1u << 20));
        /* over it, from the head: 413 naming the bulk's key */
        req.method = "POST";
        req.target = bulk;
        req.authorization = "Bearer tok-a";
        req.content_type = "application/json";
        req.body = "";
        req.body_too_large = true;
        cr_assert(sr_gateway_check_head(gw, &req, &resp));
        a.json = json_loadb(resp.body.ptr, resp.body.len, 0, NULL);
        sr_buf_free(&resp.body);
        cr_assert(eq(int, resp.status, 413));
        cr_assert(eq(str, (char *)message(&a),
                     "request body over 16777216 bytes "
                     "(gateway.bulk.max.bytes)"));
        json_decref(a.json);
        req.target = "/v0/runs/";
        cr_assert(sr_gateway_check_head(gw, &req, &resp));
        a.json = json_loadb(resp.body.ptr, resp.body.len, 0, NULL);
        sr_buf_free(&resp.body);
        cr_assert(eq(str, (char *)message(&a),
                     "request body over 1048576 bytes "
                     "(gateway.body.max.bytes)"));
        json_decref(a.json);
}

Test(sr_gateway, targets_bulk_sends_chunks_sums_counts_and_reports_errors)
{
        char pipe[SR_UUID_STR_LEN + 1], tl[SR_UUID_STR_LEN + 1],
                groups[SR_UUID_STR_LEN + 1], url[240], body[600],
                u[4][SR_UUID_STR_LEN + 1];
        sr_errctx_t ec = { 0 };
        json_t *errors;
        answer_t a;
        int sends;

        cr_assert(eq(int, sr_conf_set(conf, "definition.chunk.targets", "2",
                                      &ec),
                     SR_OK), "%s", ec.msg);
        create_pipeline(NULL, "{\"name\": \"canary\"}", pipe);
        snprintf(url, sizeof(url), "/v0/pipelines/%s/targetlists/", pipe);
        create_at(url, "{\"name\": \"fleet\", \"target_list_type\": "
                  "\"DEVICES\"}", tl);
        create_at(url, "{\"name\": \"groups\", \"target_list_type\": "
                  "\"GROUPS\"}", groups);
        for (int i = 0; i < 4; i++) {
                char name[16];
                sr_uuid_t d;

                snprintf(name, sizeof(name), "bulk-%d", i);
                d = uid(name);
                sr_uuid_fmt(&d, u[i]);
        }
        snprintf(body, sizeof(body),
                 "[\"%s\", {\"device_id\": \"%s\", \"device_name\": \"n1\"},"
                 " \"not-a-uuid\", \"%s\", \"%s\", \"%s\"]",
                 u[0], u[1], u[0], u[2], u[3]);
        snprintf(url, sizeof(url),
                 "/api/pipelines/v0/pipelines/%s/targetlists/%s/targets-bulk/",
                 pipe, tl);
        sends = fake.n_sends;
        a = call("POST", url, "tok-a", "bulk-1", body);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        cr_assert(eq(str, (char *)message(&a),
                     "created 4, added 4, skipped 0"));
        cr_assert(eq(int, content_int(&a, "created_count"), 4));
        cr_assert(eq(int, content_int(&a, "added_count"), 4));
        cr_assert(eq(int, content_int(&a, "skipped_count"), 0));
        errors = json_object_get(json_object_get(a.json, "content"),
                                 "errors");
        cr_assert(eq(sz, json_array_size(errors), 2), "%s", a.body);
        cr_assert(eq(int, (int)json_integer_value(json_object_get(
                                  json_array_get(errors, 0), "index")),
                     2));
        cr_assert(eq(int, (int)json_integer_value(json_object_get(
                                  json_array_get(errors, 1), "index")),
                     3));
        answer_free(&a);
        /* two chunks of two, one command each, ids of the request's */
        cr_assert(eq(int, fake.n_sends, sends + 2));
        cr_assert(eq(int, fake.cmds[sends].u.def->kind,
                     SR_DEFCMD_ADD_TARGETS));
        cr_assert(eq(u32, fake.cmds[sends].u.def->u.add.n_items, 2));
        cr_assert(eq(u32, fake.cmds[sends + 1].u.def->u.add.chunk_index, 1));
        snprintf(url, sizeof(url), "/v0/pipelines/%s/targetlists/%s/targets/",
                 pipe, tl);
        a = call("GET", url, "tok-a", NULL, NULL);
        cr_assert(eq(int, content_int(&a, "count"), 4), "%s", a.body);
        answer_free(&a);

        /* a retry with the key: the same commands (the owner's dedupe
         * answers the applied ones) */
        snprintf(url, sizeof(url),
                 "/v0/pipelines/%s/targetlists/%s/targets-bulk/", pipe, tl);
        a = call("POST", url, "tok-a", "bulk-1", body);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        answer_free(&a);
        cr_assert(eq(int, fake.n_sends, sends + 4));
        cr_assert(sr_uuid_eq(&fake.cmds[sends].command_id,
                             &fake.cmds[sends + 2].command_id));
        cr_assert(sr_uuid_eq(&fake.cmds[sends + 1].command_id,
                             &fake.cmds[sends + 3].command_id));
        cr_assert(not(sr_uuid_eq(&fake.cmds[sends].command_id,
                                 &fake.cmds[sends + 1].command_id)));

        /* no reply in time: 202 naming the missing chunks */
        fake.no_reply = true;
        a = call("POST", url, "tok-a", NULL, "[\"" "00000000-0000-4000-8000-"
                 "000000000001\"]");
        cr_assert(eq(int, a.status, 202), "%s", a.body);
        cr_assert(eq(sz, json_array_size(json_object_get(
                                 json_object_get(a.json, "content"),
                                 "missing_command_ids")),
                     1), "%s", a.body);
        answer_free(&a);
        fake.no_reply = false;

        /* a GROUPS list: the owner refuses the chunk */
        snprintf(url, sizeof(url),
                 "/v0/pipelines/%s/targetlists/%s/targets-bulk/", pipe,
                 groups);
        a = call("POST", url, "tok-a", NULL, body);
        cr_assert(eq(int, a.status, 400), "%s", a.body);
        cr_assert(eq(str, (char *)content_str(&a, "reason"), "wrong_type"));
        cr_assert(strstr(message(&a), "chunk 0 of 2") != NULL, "%s", a.body);
        answer_free(&a);

        /* not an array; too many items: 400, nothing sent */
        sends = fake.n_sends;
        a = call("POST", url, "tok-a", NULL, "{\"device_id\": \"x\"}");
        cr_assert(eq(int, a.status, 400), "%s", a.body);
        answer_free(&a);
        cr_assert(eq(int, sr_conf_set(conf, "gateway.bulk.max.items", "3",
                                      &ec),
                     SR_OK));
        a = call("POST", url, "tok-a", NULL, body);
        cr_assert(eq(int, a.status, 400), "%s", a.body);
        cr_assert(strstr(message(&a), "gateway.bulk.max.items") != NULL,
                  "%s", a.body);
        answer_free(&a);
        cr_assert(eq(int, fake.n_sends, sends));
}

Test(sr_gateway, a_key_used_on_another_stage_is_409_not_a_retry)
{
        char pipe[SR_UUID_STR_LEN + 1], s1[SR_UUID_STR_LEN + 1],
                s2[SR_UUID_STR_LEN + 1], url[200];
        answer_t a;
        int sends;

        create_pipeline(NULL, "{\"name\": \"canary\"}", pipe);
        create_stage(pipe, "{\"name\": \"one\"}", s1);
        create_stage(pipe, "{\"name\": \"two\"}", s2);
        snprintf(url, sizeof(url), "/v0/pipelines/%s/stages/%s/", pipe, s1);
        a = call("PUT", url, "tok-a", "rename", "{\"description\": \"d\"}");
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        answer_free(&a);
        sends = fake.n_sends;
        snprintf(url, sizeof(url), "/v0/pipelines/%s/stages/%s/", pipe, s2);
        a = call("PUT", url, "tok-a", "rename", "{\"description\": \"d\"}");
        cr_assert(eq(int, a.status, 409), "%s", a.body);
        answer_free(&a);
        cr_assert(eq(int, fake.n_sends, sends));
}

/* ------------------------------------------------ a target run added late
 * POST /stageruns/{id}/targetruns/ (docs/api-decisions.md, "A target run
 * added late"). */

static char add_path[256];

static const char *add_url(const char *prefix)
{
        snprintf(add_path, sizeof(add_path), "%s/stageruns/%s/targetruns/",
                 prefix, stage_id);
        return add_path;
}

/* The target run the worker makes for device @p dev, operation 0 of the
 * stage (index 0), as the fake feed applies it. */
static void script_added(const sr_uuid_t *dev, const sr_uuid_t *target,
                         const char *name)
{
        sr_target_run_t *tr = &fake.after.u.tr;
        char d[SR_UUID_STR_LEN + 1];

        sr_uuid_fmt(dev, d);
        fake.after = target_e;
        sr_uuid_v5(&tr->m.id, &sr_ns, "%s/stage/0/device/%s/op/0", run_id, d);
        tr->m.status = SR_ST_PROCESSING;
        tr->m.version = 3;
        tr->device_id = *dev;
        tr->target_id = *target;
        tr->target_index = 1;
        snprintf(tr->device_name, sizeof(tr->device_name), "%s", name);
        fake.has_after = true;
}

/* A stored target of the stage run's pipeline, in the projection. */
static void put_stored_target(const sr_uuid_t *id, const sr_uuid_t *dev)
{
        char key[SR_DEF_KEY_LEN];
        sr_proj_txn_t *txn = NULL;
        sr_errctx_t ec = { 0 };
        sr_def_record_t r;

        memset(&r, 0, sizeof(r));
        r.kind = SR_DEF_TARGET;
        r.pipeline_id = stage_e.u.sr.pipeline_id;
        snprintf(r.enterprise_id, sizeof(r.enterprise_id), ENT_A);
        r.u.target.id = *id;
        r.u.target.target_list_id = uid("list");
        r.u.target.device_id = *dev;
        snprintf(r.u.target.device_name, sizeof(r.u.target.device_name),
                 "stored-name");
        snprintf(r.u.target.device_alias, sizeof(r.u.target.device_alias),
                 "stored-alias");
        r.u.target.is_active = true;
        sr_def_key(SR_DEF_TARGET, &r.pipeline_id, id, key);
        cr_assert(eq(int, sr_proj_begin(proj, &txn, &ec), SR_OK));
        cr_assert(eq(int, sr_proj_apply_def(txn, 0, next_off++,
                                            sr_slice(key, SR_DEF_KEY_LEN), &r,
                                            &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(int, sr_proj_commit(txn, &ec), SR_OK));
}

Test(sr_gateway, a_device_id_target_is_added_to_a_stage_run_and_answered_as_an_array)
{
        sr_uuid_t dev = uid("late-device");
        char body[200], d[SR_UUID_STR_LEN + 1], want[SR_UUID_STR_LEN + 1];
        const char *prefixes[] = { "/v0", "/api/pipelines/v0" };
        json_t *arr;
        answer_t a;

        sr_uuid_fmt(&dev, d);
        script_added(&dev, &dev, "late");
        sr_uuid_fmt(&fake.after.u.tr.m.id, want);
        snprintf(body, sizeof(body), "{\"target_id\": \"%s\", "
                 "\"device_name\": \"late\", \"device_alias\": \"rack\"}", d);
        for (int i = 0; i < 2; i++) {
                a = call("POST", add_url(prefixes[i]), "tok-a", NULL, body);
                cr_assert(eq(int, a.status, 200), "%s", a.body);
                arr = json_object_get(a.json, "content");
                cr_assert(eq(int, json_is_array(arr) ? 1 : 0, 1), "%s", a.body);
                cr_assert(eq(sz, json_array_size(arr), 1));
                cr_assert(eq(str, (char *)json_string_value(json_object_get(
                                          json_array_get(arr, 0), "id")),
                             want));
                answer_free(&a);
                cr_assert(eq(int, fake.cmds[i].kind, SR_CMD_ADD_TARGET_RUN));
                cr_assert(sr_uuid_eq(&fake.cmds[i].pipeline_run_id,
                                     &run_e.u.pr.m.id));
                cr_assert(sr_uuid_eq(&fake.cmds[i].u.add.stage_run_id,
                                     &stage_e.u.sr.m.id));
                /* not a stored target: the target id is the device id */
                cr_assert(sr_uuid_eq(&fake.cmds[i].u.add.device_id, &dev));
                cr_assert(sr_uuid_eq(&fake.cmds[i].u.add.target_id, &dev));
                cr_assert(eq(str, fake.cmds[i].u.add.device_name, "late"));
                cr_assert(eq(str, fake.cmds[i].u.add.device_alias, "rack"));
        }
}

Test(sr_gateway, a_device_id_target_without_device_name_is_400_and_sends_nothing)
{
        sr_uuid_t dev = uid("late-device");
        char body[200], d[SR_UUID_STR_LEN + 1];
        answer_t a;

        sr_uuid_fmt(&dev, d);
        snprintf(body, sizeof(body), "{\"target_id\": \"%s\"}", d);
        a = call("POST", add_url("/v0"), "tok-a", NULL, body);
        cr_assert(eq(int, a.status, 400), "%s", a.body);
        cr_assert(strstr(message(&a), "device_name: required") != NULL,
                  "%s", a.body);
        answer_free(&a);
        a = call("POST", add_url("/v0"), "tok-a", NULL,
                 "{\"target_id\": \"x\"}");
        cr_assert(eq(int, a.status, 400), "%s", a.body);
        answer_free(&a);
        cr_assert(eq(int, fake.n_sends, 0));
}

Test(sr_gateway, a_stored_target_gives_its_device_name_and_alias_the_body_overrides)
{
        sr_uuid_t tid = uid("stored-target"), dev = uid("stored-device");
        char body[200], t[SR_UUID_STR_LEN + 1];
        answer_t a;

        put_stored_target(&tid, &dev);
        sr_uuid_fmt(&tid, t);
        script_added(&dev, &tid, "stored-name");
        snprintf(body, sizeof(body), "{\"target_id\": \"%s\"}", t);
        a = call("POST", add_url("/v0"), "tok-a", NULL, body);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        answer_free(&a);
        cr_assert(sr_uuid_eq(&fake.cmds[0].u.add.target_id, &tid));
        cr_assert(sr_uuid_eq(&fake.cmds[0].u.add.device_id, &dev));
        cr_assert(eq(str, fake.cmds[0].u.add.device_name, "stored-name"));
        cr_assert(eq(str, fake.cmds[0].u.add.device_alias, "stored-alias"));
        snprintf(body, sizeof(body), "{\"target_id\": \"%s\", "
                 "\"device_name\": \"mine\", \"device_alias\": \"\"}", t);
        a = call("POST", add_url("/v0"), "tok-a", NULL, body);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        answer_free(&a);
        cr_assert(sr_uuid_eq(&fake.cmds[1].u.add.device_id, &dev));
        cr_assert(eq(str, fake.cmds[1].u.add.device_name, "mine"));
        cr_assert(eq(str, fake.cmds[1].u.add.device_alias, ""));
}

Test(sr_gateway, another_enterprises_or_an_unknown_stage_run_is_404_and_sends_nothing)
{
        sr_uuid_t dev = uid("late-device");
        char body[200], d[SR_UUID_STR_LEN + 1], url[256];
        answer_t a;

        sr_uuid_fmt(&dev, d);
        snprintf(body, sizeof(body), "{\"target_id\": \"%s\", "
                 "\"device_name\": \"late\"}", d);
        a = call("POST", add_url("/v0"), "tok-b", NULL, body);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);
        snprintf(url, sizeof(url), "/v0/stageruns/%s/targetruns/", d);
        a = call("POST", url, "tok-a", NULL, body);
        cr_assert(eq(int, a.status, 404), "%s", a.body);
        answer_free(&a);
        cr_assert(eq(int, fake.n_sends, 0));
}

Test(sr_gateway, an_added_target_is_the_same_command_under_the_same_key_and_refusals_map)
{
        sr_uuid_t dev = uid("late-device");
        char body[200], d[SR_UUID_STR_LEN + 1];
        static const struct {
                sr_reject_t reason;
                int status;
        } refusals[] = { { SR_REJECT_DUPLICATE_TARGET, 409 },
                         { SR_REJECT_ILLEGAL_TRANSITION, 400 },
                         { SR_REJECT_TOO_LARGE, 413 },
                         { SR_REJECT_NOT_FOUND, 404 } };
        answer_t a, b;

        sr_uuid_fmt(&dev, d);
        script_added(&dev, &dev, "late");
        snprintf(body, sizeof(body), "{\"target_id\": \"%s\", "
                 "\"device_name\": \"late\"}", d);
        a = call("POST", add_url("/v0"), "tok-a", "add-1", body);
        cr_assert(eq(int, a.status, 200), "%s", a.body);
        b = call("POST", add_url("/v0"), "tok-a", "add-1", body);
        cr_assert(eq(int, b.status, 200), "%s", b.body);
        cr_assert(eq(str, a.body, b.body));
        cr_assert(sr_uuid_eq(&fake.cmds[0].command_id,
                             &fake.cmds[1].command_id));
        answer_free(&a);
        answer_free(&b);
        fake.refused = true;
        for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
                fake.reason = refusals[i].reason;
                a = call("POST", add_url("/v0"), "tok-a", NULL, body);
                cr_assert(eq(int, a.status, refusals[i].status), "%s",
                          a.body);
                cr_assert(eq(str, (char *)content_str(&a, "reason"),
                             (char *)sr_reject_name(refusals[i].reason)));
                answer_free(&a);
        }
        fake.refused = false;
        fake.no_reply = true;
        a = call("POST", add_url("/v0"), "tok-a", NULL, body);
        cr_assert(eq(int, a.status, 202), "%s", a.body);
        answer_free(&a);
}
