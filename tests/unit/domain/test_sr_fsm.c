/* tests/unit/domain/test_sr_fsm.c - the state machine against domain.md, table by
 * table and row by row, including every refusal. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_fsm.h"
#include "sr_sha256.h"

static sr_run_t run;
static sr_fsm_out_t out;
static sr_fsm_opts_t opts; /* retention: 0 = keep, unless a test sets it */
static int64_t now;
static int cmd_counter;

static void setup(void)
{
        memset(&opts, 0, sizeof(opts));
        sr_run_init(&run);
        sr_fsm_out_init(&out);
        now = 1700000000000LL;
        cmd_counter = 0;
}

static void teardown(void)
{
        sr_run_fini(&run);
        sr_fsm_out_fini(&out);
}

TestSuite(sr_fsm, .init = setup, .fini = teardown, .timeout = 10.0);

/* ---------------------------------------------------------- helpers */

/* Stage timeouts (and twice that for the run) of the specs made, 0: the
 * defaults. */
static int64_t spec_timeout_s;

static void make_spec(sr_runspec_t *spec, uint32_t n_stages, uint32_t n_ops,
                      uint32_t n_targets, bool auto_promote)
{
        memset(spec, 0, sizeof(*spec));
        sr_uuid_v5(&spec->pipeline_id, &sr_ns, "pipeline");
        snprintf(spec->pipeline_name, sizeof(spec->pipeline_name), "canary");
        spec->auto_promote = auto_promote;
        spec->timeout_seconds = 2 * spec_timeout_s;
        spec->n_stages = n_stages;
        spec->stages = n_stages ? calloc(n_stages, sizeof(*spec->stages)) :
                                  NULL;
        for (uint32_t i = 0; i < n_stages; i++) {
                sr_spec_stage_t *s = &spec->stages[i];

                snprintf(s->name, sizeof(s->name), "stage-%u", i + 1);
                s->timeout_seconds = spec_timeout_s;
                s->n_ops = n_ops;
                s->ops = n_ops ? calloc(n_ops, sizeof(*s->ops)) : NULL;
                for (uint32_t j = 0; j < n_ops; j++) {
                        snprintf(s->ops[j].operation_type,
                                 sizeof(s->ops[j].operation_type), "INSTALL");
                        s->ops[j].args_json = strdup("{\"package\":\"x\"}");
                }
                s->n_targets = n_targets;
                s->targets = n_targets ? calloc(n_targets,
                                                sizeof(*s->targets)) :
                                         NULL;
                for (uint32_t k = 0; k < n_targets; k++) {
                        sr_uuid_v5(&s->targets[k].device_id, &sr_ns,
                                   "device-%u-%u", i, k);
                        snprintf(s->targets[k].device_name,
                                 sizeof(s->targets[k].device_name), "d-%u",
                                 k);
                }
        }
}

static sr_uuid_t run_id(void)
{
        sr_uuid_t id;

        sr_uuid_v5(&id, &sr_ns, "run-under-test");
        return id;
}

static void base_cmd(sr_command_t *cmd, sr_cmd_kind_t kind)
{
        memset(cmd, 0, sizeof(*cmd));
        cmd->kind = kind;
        sr_uuid_v5(&cmd->command_id, &sr_ns, "cmd-%d", ++cmd_counter);
        cmd->pipeline_run_id = run_id();
        snprintf(cmd->enterprise_id, sizeof(cmd->enterprise_id), "acme");
        cmd->issued_at = now;
}

/* Create the run; returns the status of apply. */
static void create(uint32_t n_stages, uint32_t n_ops, uint32_t n_targets,
                   bool auto_promote)
{
        sr_command_t cmd;

        base_cmd(&cmd, SR_CMD_CREATE_RUN);
        make_spec(&cmd.u.create.spec, n_stages, n_ops, n_targets,
                  auto_promote);
        cmd.u.create.run_number = 1;
        cr_assert(eq(int, sr_fsm_apply_command(&run, &cmd, now, &opts, &out),
                     SR_OK));
        cr_assert(out.has_reply && out.reply.accepted, "%s",
                  out.reply.message);
        sr_command_fini(&cmd);
}

static void set_status(sr_cmd_kind_t kind, const sr_uuid_t *id,
                       const char *status)
{
        sr_command_t cmd;

        base_cmd(&cmd, kind);
        if (id)
                cmd.u.set.entity_id = *id;
        snprintf(cmd.u.set.status, sizeof(cmd.u.set.status), "%s", status);
        cr_assert(eq(int, sr_fsm_apply_command(&run, &cmd, now, &opts, &out),
                     SR_OK));
        cr_assert(out.has_reply);
}

static void set_stage(uint32_t si, const char *status)
{
        set_status(SR_CMD_SET_STAGE_RUN_STATUS, &run.stages[si].m.id, status);
}

static void set_target(uint32_t ti, const char *status)
{
        set_status(SR_CMD_SET_TARGET_RUN_STATUS, &sr_run_tr(&run, ti)->m.id,
                   status);
}

static void set_pipeline(const char *status)
{
        set_status(SR_CMD_SET_PIPELINE_RUN_STATUS, NULL, status);
}

/* A result for target run @p ti, made while the run still holds it. */
static sr_result_t make_result(uint32_t ti, const char *cs)
{
        sr_result_t res;

        memset(&res, 0, sizeof(res));
        sr_uuid_v5(&res.result_id, &sr_ns, "res-%d", ++cmd_counter);
        res.pipeline_run_id = run_id();
        res.stage_run_id = sr_run_tr(&run, ti)->stage_run_id;
        res.target_run_id = sr_run_tr(&run, ti)->m.id;
        res.command_id = sr_run_tr(&run, ti)->command_id;
        snprintf(res.command_status, sizeof(res.command_status), "%s", cs);
        return res;
}

static sr_err_t result(uint32_t ti, const char *cs)
{
        sr_result_t res = make_result(ti, cs);

        res.reported_at = now;
        return sr_fsm_apply_result(&run, &res, now, &opts, &out);
}

static void finish_stage(uint32_t si, const char *cs)
{
        const sr_run_stage_idx_t *x = &run.sidx[si];
        uint32_t first = x->first_tr, n = x->n_tr;

        for (uint32_t i = 0; i < n; i++)
                cr_assert(eq(int, result(first + i, cs), SR_OK));
}

static void timer(int64_t deadline)
{
        sr_command_t cmd;

        base_cmd(&cmd, SR_CMD_TIMER_FIRED);
        cmd.u.timer.entity_type = SR_ENT_PIPELINE_RUN;
        cmd.u.timer.entity_id = run_id();
        cmd.u.timer.deadline = deadline;
        cr_assert(eq(int, sr_fsm_apply_command(&run, &cmd, now, &opts, &out),
                     SR_OK));
        cr_assert(not(out.has_reply));
}

/* "p:pending s0:pending t3:running ..." for the outputs of the last step. */
static const char *describe(void)
{
        static char buf[8192];
        size_t n = 0;

        buf[0] = '\0';
        for (uint32_t i = 0; i < out.n_events; i++) {
                const sr_event_t *ev = &out.events[i];
                char ent[16] = "?";

                if (ev->entity_type == SR_ENT_PIPELINE_RUN)
                        snprintf(ent, sizeof(ent), "p");
                for (uint32_t s = 0; s < run.pr.n_stages; s++)
                        if (sr_uuid_eq(&ev->entity_id, &run.stages[s].m.id))
                                snprintf(ent, sizeof(ent), "s%u", s);
                for (uint32_t t = 0; t < run.n_targets; t++)
                        if (sr_uuid_eq(&ev->entity_id, &sr_run_tr(&run, t)->m.id))
                                snprintf(ent, sizeof(ent), "t%u", t);
                n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s:%s",
                                      i ? " " : "", ent,
                                      sr_status_name(ev->to_status));
        }
        return buf;
}

static void expect_events(const char *want)
{
        cr_assert(eq(str, (char *)describe(), (char *)want));
}

static void expect_reject(sr_reject_t why, const char *fragment)
{
        cr_assert(out.has_reply);
        cr_assert(not(out.reply.accepted), "accepted: %s", out.reply.message);
        cr_assert(eq(int, out.reply.reason, why), "%s", out.reply.message);
        cr_assert(strstr(out.reply.message, fragment) != NULL,
                  "message \"%s\" lacks \"%s\"", out.reply.message, fragment);
        cr_assert(eq(u32, out.n_events, 0));
}

static uint32_t count_dispatch(sr_dispatch_kind_t kind)
{
        uint32_t n = 0;

        for (uint32_t i = 0; i < out.n_dispatches; i++)
                n += out.dispatches[i].kind == kind;
        return n;
}

#define PR (run.pr.m.status)
#define SR(i) (run.stages[i].m.status)
#define TR(i) (sr_run_tr(&run, i)->m.status)

/* ---------------------------------------------------- pipeline run table */

Test(sr_fsm, create_runs_pending_queued_processing_running_with_stage_1)
{
        create(2, 1, 2, false);
        expect_events("p:pending p:queued p:processing s0:pending s1:pending "
                      "s0:queued p:running s0:processing "
                      "t0:pending t0:queued t0:processing "
                      "t1:pending t1:queued t1:processing s0:running");
        cr_assert(eq(int, PR, SR_ST_RUNNING));
        cr_assert(eq(int, SR(1), SR_ST_PENDING));
        cr_assert(eq(u32, count_dispatch(SR_DISPATCH_COMMAND), 2));
        for (uint32_t i = 0; i < out.n_events; i++) {
                cr_assert(eq(u64, out.events[i].seq, i + 1));
                cr_assert(eq(i64, out.events[i].occurred_at, now));
        }
        cr_assert(eq(u64, run.pr.last_seq, out.n_events));
        cr_assert(eq(u32, run.pr.m.version, 4));
        cr_assert(eq(u32, sr_run_tr(&run, 0)->m.version, 3));
        cr_assert(not(sr_uuid_is_nil(&sr_run_tr(&run, 0)->command_id)));
        cr_assert(eq(int, out.events[0].from_status, SR_ST_NONE));
        cr_assert(eq(str, out.events[0].enterprise_id, "acme"));
}

Test(sr_fsm, create_with_zero_stages_makes_run_invalid_no_stages)
{
        create(0, 1, 1, false);
        expect_events("p:pending p:queued p:processing p:invalid");
        cr_assert(eq(str, run.pr.m.reason, "no_stages"));
        cr_assert(eq(i64, run.pr.m.ended_at, now));
}

Test(sr_fsm, stage_success_with_later_stages_makes_run_waiting)
{
        create(2, 1, 2, false);
        finish_stage(0, "SUCCESS");
        expect_events("t1:complete t1:success s0:complete s0:success "
                      "p:waiting");
        cr_assert(eq(str, run.pr.m.reason, "awaiting_promotion"));
        cr_assert(eq(int, SR(1), SR_ST_PENDING));
}

Test(sr_fsm, stage_success_with_auto_promote_queues_next_stage_at_once)
{
        create(2, 1, 1, true);
        finish_stage(0, "SUCCESS");
        expect_events("t0:complete t0:success s0:complete s0:success "
                      "s1:queued s1:processing t1:pending t1:queued "
                      "t1:processing s1:running");
        cr_assert(eq(int, PR, SR_ST_RUNNING));
        cr_assert(eq(str, run.stages[1].m.reason, "targets_dispatched"));
        cr_assert(eq(str, out.events[4].reason, "auto_promoted"));
}

Test(sr_fsm, promote_while_waiting_moves_run_back_to_running)
{
        create(2, 1, 1, false);
        finish_stage(0, "SUCCESS");
        set_stage(1, "QUEUED"); /* any case on input */
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        expect_events("s1:queued p:running s1:processing t1:pending "
                      "t1:queued t1:processing s1:running");
        cr_assert(eq(str, run.stages[1].m.reason, "targets_dispatched"));
        cr_assert(eq(u32, out.reply.n_versions, 2));
        cr_assert(eq(u32, out.reply.versions[1].version,
                     run.stages[1].m.version));
}

Test(sr_fsm, last_stage_success_makes_run_complete_then_success)
{
        create(2, 1, 1, false);
        finish_stage(0, "SUCCESS");
        set_stage(1, "queued");
        finish_stage(1, "SUCCESS");
        expect_events("t1:complete t1:success s1:complete s1:success "
                      "p:complete p:success");
        cr_assert(eq(str, run.pr.m.reason, "all_stages_succeeded"));
        cr_assert(eq(u32, run.pr.next_deadline, 0));
}

Test(sr_fsm, stage_failure_cancels_pending_stages_and_fails_run)
{
        create(3, 1, 2, false);
        cr_assert(eq(int, result(0, "SUCCESS"), SR_OK));
        cr_assert(eq(int, result(1, "FAILED"), SR_OK));
        expect_events("t1:complete t1:failure s0:complete s0:failure "
                      "s1:cancelled s2:cancelled p:complete p:failure");
        cr_assert(eq(str, run.stages[1].m.reason, "previous_stage_failed"));
}

Test(sr_fsm, failure_rule_wins_over_waiting_when_a_pending_stage_is_cancelled)
{
        create(3, 1, 1, false);
        finish_stage(0, "SUCCESS");
        cr_assert(eq(int, PR, SR_ST_WAITING));
        set_stage(1, "cancelled");
        cr_assert(out.reply.accepted);
        expect_events("s1:cancelled s2:cancelled p:complete p:failure");
}

Test(sr_fsm, pipeline_cancel_cascades_to_stages_and_targets)
{
        create(2, 1, 4, false);
        /* t0 processing, t1 dispatched, t2 running, t3 success */
        cr_assert(eq(int, result(1, "QUEUED"), SR_OK));
        cr_assert(eq(int, result(2, "INPROGRESS"), SR_OK));
        cr_assert(eq(int, result(3, "SUCCESS"), SR_OK));
        set_pipeline("Cancelled");
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        expect_events("p:cancelled s0:cancelled s1:cancelled t0:cancelled "
                      "t1:cancelled");
        cr_assert(eq(int, TR(2), SR_ST_RUNNING));
        cr_assert(eq(u32, count_dispatch(SR_DISPATCH_CANCEL), 3));
        cr_assert(sr_run_tr(&run, 2)->cancel_requested);
        /* its own result ends the running target; nothing else moves */
        cr_assert(eq(int, result(2, "CANCELLED"), SR_OK));
        expect_events("t2:complete t2:failure");
        cr_assert(eq(int, PR, SR_ST_CANCELLED));
}

Test(sr_fsm, pipeline_timeout_times_out_every_open_stage_and_target)
{
        create(2, 1, 2, false);
        cr_assert(eq(int, result(1, "INPROGRESS"), SR_OK));
        now += SR_PIPELINE_RUN_DEFAULT_TIMEOUT_MS;
        cr_assert(eq(i64, run.pr.next_deadline,
                     run.stages[0].m.deadline)); /* 7 days first */
        timer(run.pr.m.deadline);
        expect_events("p:timeout s0:timeout s1:timeout t0:timeout "
                      "t1:timeout");
        cr_assert(eq(u32, count_dispatch(SR_DISPATCH_CANCEL), 2));
}

Test(sr_fsm, pipeline_run_accepts_only_cancelled)
{
        create(1, 1, 1, false);
        set_pipeline("running");
        expect_reject(SR_REJECT_ILLEGAL_TRANSITION,
                      "is running: only \"cancelled\" may be set");
}

Test(sr_fsm, pipeline_run_unknown_status_is_invalid_value)
{
        create(1, 1, 1, false);
        set_pipeline("paused");
        expect_reject(SR_REJECT_INVALID_VALUE, "unknown status \"paused\"");
}

Test(sr_fsm, terminal_pipeline_run_refuses_cancel)
{
        create(1, 1, 1, false);
        finish_stage(0, "SUCCESS");
        set_pipeline("cancelled");
        expect_reject(SR_REJECT_ILLEGAL_TRANSITION,
                      "is success, a final status");
}

Test(sr_fsm, command_for_unknown_run_is_not_found)
{
        set_pipeline("cancelled");
        expect_reject(SR_REJECT_NOT_FOUND, "not found");
}

Test(sr_fsm, command_from_another_enterprise_is_not_found)
{
        sr_command_t cmd;

        create(1, 1, 1, false);
        base_cmd(&cmd, SR_CMD_SET_PIPELINE_RUN_STATUS);
        snprintf(cmd.enterprise_id, sizeof(cmd.enterprise_id), "other");
        snprintf(cmd.u.set.status, sizeof(cmd.u.set.status), "cancelled");
        sr_fsm_apply_command(&run, &cmd, now, &opts, &out);
        expect_reject(SR_REJECT_NOT_FOUND, "not found");
        cr_assert(eq(int, PR, SR_ST_RUNNING));
}

Test(sr_fsm, duplicate_create_with_same_spec_is_accepted_without_events)
{
        create(1, 1, 1, false);
        create(1, 1, 1, false);
        cr_assert(eq(u32, out.n_events, 0));
}

Test(sr_fsm, duplicate_create_with_other_spec_is_refused)
{
        sr_command_t cmd;

        create(1, 1, 1, false);
        base_cmd(&cmd, SR_CMD_CREATE_RUN);
        make_spec(&cmd.u.create.spec, 1, 1, 2, false);
        sr_fsm_apply_command(&run, &cmd, now, &opts, &out);
        sr_command_fini(&cmd);
        expect_reject(SR_REJECT_DUPLICATE_SPEC, "different spec");
}

/* A create of @p s stages, @p o operations, @p t targets, applied. */
static void try_create(uint32_t s, uint32_t o, uint32_t t)
{
        sr_command_t cmd;

        base_cmd(&cmd, SR_CMD_CREATE_RUN);
        make_spec(&cmd.u.create.spec, s, o, t, false);
        cmd.u.create.run_number = 1;
        cr_assert(eq(int, sr_fsm_apply_command(&run, &cmd, now, &opts, &out),
                     SR_OK));
        sr_command_fini(&cmd);
}

Test(sr_fsm, a_create_over_the_workers_limits_is_refused_naming_the_key)
{
        static const struct {
                uint32_t s, o, t;
                const char *msg;
        } over[] = {
                { 4, 1, 1, "stages: 4 stages, at most 3 per run on this "
                           "worker (run.max.stages)" },
                { 2, 3, 1, "stages[0].operations: 3 operations, at most 2 "
                           "per stage on this worker (stage.max.operations)" },
                { 2, 1, 5, "stages[0].targets: 5 targets, at most 4 per "
                           "stage on this worker (stage.max.targets)" },
        };

        opts.max = (sr_spec_limits_t){ 3, 2, 4 };
        for (size_t i = 0; i < sizeof(over) / sizeof(over[0]); i++) {
                sr_fsm_out_reset(&out);
                try_create(over[i].s, over[i].o, over[i].t);
                expect_reject(SR_REJECT_INVALID_VALUE, over[i].msg);
                cr_assert(not(run.exists)); /* nothing made */
        }
        /* Every count at its limit is accepted. */
        sr_fsm_out_reset(&out);
        try_create(3, 2, 4);
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        cr_assert(eq(u32, run.pr.n_stages, 3));
}

/* ------------------------------------------- open stages (targets.md) */

/* Target @p k of an open stage: device "open-<k>". */
static void open_target(sr_spec_target_t *t, uint32_t k)
{
        memset(t, 0, sizeof(*t));
        sr_uuid_v5(&t->device_id, &sr_ns, "open-%u", k);
        snprintf(t->device_name, sizeof(t->device_name), "open-%u", k);
}

/* A chunk's digest stands for its items: the rules compare digests and
 * never compute one (the codec does, over the Avro bytes); here SHA-256
 * over the items' bytes. */
static void items_digest(const sr_spec_target_t *ts, uint32_t n,
                         uint8_t out_d[SR_DIGEST_LEN])
{
        sr_sha256(ts, (size_t)n * sizeof(*ts), out_d);
}

/* Apply AppendTargets of the targets first..first+n-1 to stage @p si as
 * chunk @p chunk; its digest into @p d (NULL: not wanted). */
static void append_chunk(uint32_t si, uint32_t chunk, uint32_t first,
                         uint32_t n, uint8_t *d)
{
        sr_command_t cmd;

        base_cmd(&cmd, SR_CMD_APPEND_TARGETS);
        cmd.u.append.stage_index = si;
        cmd.u.append.chunk = chunk;
        cmd.u.append.n_targets = n;
        cmd.u.append.targets = n ? calloc(n, sizeof(sr_spec_target_t)) : NULL;
        for (uint32_t k = 0; k < n; k++)
                open_target(&cmd.u.append.targets[k], first + k);
        items_digest(cmd.u.append.targets, n, cmd.u.append.digest);
        if (d)
                memcpy(d, cmd.u.append.digest, SR_DIGEST_LEN);
        cr_assert(eq(int, sr_fsm_apply_command(&run, &cmd, now, &opts, &out),
                     SR_OK));
        cr_assert(out.has_reply);
        sr_command_fini(&cmd);
}

static void seal_stage(uint32_t si, uint32_t chunks, int64_t count,
                       const uint8_t d[SR_DIGEST_LEN])
{
        sr_command_t cmd;

        base_cmd(&cmd, SR_CMD_SEAL_TARGETS);
        cmd.u.seal.stage_index = si;
        cmd.u.seal.chunks = chunks;
        cmd.u.seal.count = count;
        memcpy(cmd.u.seal.digest, d, SR_DIGEST_LEN);
        cr_assert(eq(int, sr_fsm_apply_command(&run, &cmd, now, &opts, &out),
                     SR_OK));
        cr_assert(out.has_reply);
}

/* The seal's digest of chunks holding @p per targets each (the last one
 * the rest of @p count), as a client computes it. */
static void seal_digest(uint32_t count, uint32_t per,
                        uint8_t d[SR_DIGEST_LEN])
{
        sr_sha256_ctx_t c;
        sr_spec_target_t *ts = calloc(per, sizeof(*ts));

        sr_sha256_init(&c);
        for (uint32_t first = 0; first < count; first += per) {
                uint32_t n = count - first < per ? count - first : per;
                uint8_t cd[SR_DIGEST_LEN];

                for (uint32_t k = 0; k < n; k++)
                        open_target(&ts[k], first + k);
                items_digest(ts, n, cd);
                sr_sha256_update(&c, cd, sizeof(cd));
        }
        sr_sha256_final(&c, d);
        free(ts);
}

/* Create a run whose stage @p open_si is open (the others inline, one
 * target each). */
static void create_open(uint32_t n_stages, uint32_t open_si, bool auto_promote)
{
        sr_command_t cmd;

        base_cmd(&cmd, SR_CMD_CREATE_RUN);
        make_spec(&cmd.u.create.spec, n_stages, 1, 1, auto_promote);
        free(cmd.u.create.spec.stages[open_si].targets);
        cmd.u.create.spec.stages[open_si].targets = NULL;
        cmd.u.create.spec.stages[open_si].n_targets = 0;
        cmd.u.create.spec.stages[open_si].append_targets = true;
        cmd.u.create.spec.stages[open_si].expected_targets = 5;
        cmd.u.create.run_number = 1;
        cr_assert(eq(int, sr_fsm_apply_command(&run, &cmd, now, &opts, &out),
                     SR_OK));
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        sr_command_fini(&cmd);
}

/* Append targets 0..count-1 in chunks of @p per, in chunk order. */
static void append_all(uint32_t si, uint32_t count, uint32_t per)
{
        for (uint32_t c = 0; c * per < count; c++) {
                uint32_t n = count - c * per < per ? count - c * per : per;

                append_chunk(si, c, c * per, n, NULL);
                cr_assert(out.reply.accepted, "%s", out.reply.message);
        }
}

static void seal_all(uint32_t si, uint32_t count, uint32_t per)
{
        uint8_t d[SR_DIGEST_LEN];

        seal_digest(count, per, d);
        seal_stage(si, (count + per - 1) / per, count, d);
}

Test(sr_fsm, an_open_first_stage_waits_in_processing_for_its_seal)
{
        create_open(1, 0, false);
        expect_events("p:pending p:queued p:processing s0:pending "
                      "s0:queued p:running s0:processing");
        cr_assert(eq(int, run.stages[0].append_targets, true));
        cr_assert(eq(i64, run.stages[0].expected_targets, 5));
        cr_assert(eq(u32, run.n_targets, 0));
        cr_assert(eq(u32, out.n_dispatches, 0));
}

Test(sr_fsm, chunks_in_any_order_then_the_seal_fill_the_stage_in_chunk_order)
{
        uint8_t d[SR_DIGEST_LEN];
        uint32_t v;

        create_open(1, 0, false);
        v = run.stages[0].m.version;
        append_chunk(0, 1, 3, 2, NULL); /* targets 3, 4 */
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        cr_assert(eq(u32, out.n_events, 0)); /* counts, not a status */
        cr_assert(out.applied);
        /* but a change of the stage run: its version moves, and the
         * reply names it (what a reader waits for) */
        cr_assert(eq(u32, run.stages[0].m.version, v + 1));
        cr_assert(eq(u32, out.reply.versions[1].version, v + 1));
        append_chunk(0, 0, 0, 3, NULL); /* targets 0, 1, 2 */
        cr_assert(eq(u32, run.stages[0].chunks_applied, 2));
        cr_assert(eq(u32, run.stages[0].targets_appended, 5));
        cr_assert(eq(u32, run.n_targets, 0));
        seal_digest(5, 3, d);
        seal_stage(0, 2, 5, d);
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        cr_assert(run.stages[0].sealed);
        cr_assert(eq(int, SR(0), SR_ST_RUNNING));
        cr_assert(eq(u32, run.n_targets, 5));
        cr_assert(eq(u32, count_dispatch(SR_DISPATCH_COMMAND), 5));
        for (uint32_t k = 0; k < 5; k++) {
                sr_uuid_t dev;

                sr_uuid_v5(&dev, &sr_ns, "open-%u", k);
                cr_assert(sr_uuid_eq(&sr_run_tr(&run, k)->device_id, &dev),
                          "target run %u is not chunk order's", k);
                cr_assert(eq(u32, sr_run_tr(&run, k)->target_index, k));
                /* named by its device, not its position: the same
                 * whatever order or chunks the devices came in */
                {
                        char rid[SR_UUID_STR_LEN + 1];
                        char ds[SR_UUID_STR_LEN + 1];
                        sr_uuid_t id, target;

                        sr_uuid_fmt(&run.pr.m.id, rid);
                        sr_uuid_fmt(&dev, ds);
                        sr_uuid_v5(&id, &sr_ns, "%s/stage/0/device/%s/op/0",
                                   rid, ds);
                        sr_uuid_v5(&target, &sr_ns,
                                   "%s/stage/0/device/%s/target", rid, ds);
                        cr_assert(sr_uuid_eq(&sr_run_tr(&run, k)->m.id, &id));
                        cr_assert(sr_uuid_eq(&sr_run_tr(&run, k)->target_id,
                                             &target));
                }
        }
        /* the stage's own timeout again, not the fill timeout */
        cr_assert(eq(i64, run.stages[0].m.deadline,
                     run.stages[0].queued_at +
                             SR_STAGE_RUN_DEFAULT_TIMEOUT_MS));
        finish_stage(0, "SUCCESS");
        cr_assert(eq(int, SR(0), SR_ST_SUCCESS));
        cr_assert(eq(int, PR, SR_ST_SUCCESS));
}

Test(sr_fsm, a_stage_sealed_before_its_turn_is_filled_when_queued)
{
        create_open(2, 1, true);
        append_all(1, 7, 3);
        seal_all(1, 7, 3);
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        cr_assert(eq(int, SR(1), SR_ST_PENDING));
        cr_assert(eq(u32, run.n_targets, 1)); /* stage 0's */
        finish_stage(0, "SUCCESS");
        cr_assert(eq(int, SR(1), SR_ST_RUNNING)); /* auto_promote */
        cr_assert(eq(u32, run.sidx[1].n_tr, 7));
        finish_stage(1, "SUCCESS");
        cr_assert(eq(int, PR, SR_ST_SUCCESS));
}

Test(sr_fsm, the_same_chunk_again_is_accepted_and_changes_nothing)
{
        create_open(1, 0, false);
        append_chunk(0, 0, 0, 3, NULL);
        append_chunk(0, 0, 0, 3, NULL); /* another command id */
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        cr_assert(not(out.applied));
        cr_assert(eq(u32, run.stages[0].chunks_applied, 1));
        cr_assert(eq(u32, run.stages[0].targets_appended, 3));
        cr_assert(eq(u32, run.n_chunks, 1));
}

Test(sr_fsm, the_same_chunk_index_with_other_targets_is_a_chunk_conflict)
{
        create_open(1, 0, false);
        append_chunk(0, 0, 0, 3, NULL);
        append_chunk(0, 0, 10, 3, NULL);
        expect_reject(SR_REJECT_CHUNK_CONFLICT,
                      "chunk 0 of stage 0 was applied with digest");
        cr_assert(eq(u32, run.stages[0].targets_appended, 3));
}

Test(sr_fsm, a_device_twice_in_a_chunk_refuses_the_whole_chunk)
{
        sr_command_t cmd;

        create_open(1, 0, false);
        base_cmd(&cmd, SR_CMD_APPEND_TARGETS);
        cmd.u.append.n_targets = 3;
        cmd.u.append.targets = calloc(3, sizeof(sr_spec_target_t));
        open_target(&cmd.u.append.targets[0], 0);
        open_target(&cmd.u.append.targets[1], 1);
        open_target(&cmd.u.append.targets[2], 0);
        items_digest(cmd.u.append.targets, 3, cmd.u.append.digest);
        cr_assert(eq(int, sr_fsm_apply_command(&run, &cmd, now, &opts, &out),
                     SR_OK));
        sr_command_fini(&cmd);
        expect_reject(SR_REJECT_DUPLICATE_TARGET,
                      "is targets[0] and targets[2]");
        cr_assert(eq(u32, run.n_chunks, 0));
        cr_assert(eq(u32, run.stages[0].targets_appended, 0));
}

Test(sr_fsm, a_device_of_another_chunk_refuses_the_chunk_naming_it)
{
        create_open(1, 0, false);
        append_chunk(0, 0, 0, 3, NULL);
        append_chunk(0, 1, 2, 3, NULL); /* device open-2 again */
        expect_reject(SR_REJECT_DUPLICATE_TARGET,
                      "targets[0], device ");
        cr_assert(strstr(out.reply.message, "is already in chunk 0 (its "
                                            "targets[2])") != NULL, "%s",
                  out.reply.message);
        cr_assert(eq(u32, run.n_chunks, 1));
}

Test(sr_fsm, chunk_and_stage_limits_refuse_with_their_keys)
{
        opts.chunk_targets = 4;
        opts.max.targets = 6;
        create_open(1, 0, false);
        append_chunk(0, 0, 0, 5, NULL);
        expect_reject(SR_REJECT_INVALID_VALUE,
                      "has 5 targets, at most 4 per chunk on this worker "
                      "(stage.chunk.targets)");
        append_chunk(0, 0, 0, 4, NULL);
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        append_chunk(0, 1, 4, 3, NULL);
        expect_reject(SR_REJECT_TOO_MANY_TARGETS,
                      "4 targets appended and 3 more exceed 6 per stage on "
                      "this worker (stage.max.targets)");
        append_chunk(0, 1, 4, 0, NULL);
        expect_reject(SR_REJECT_INVALID_VALUE, "chunk 1 has no targets");
}

Test(sr_fsm, a_chunk_after_the_seal_is_refused_sealed_and_its_retry_accepted)
{
        create_open(1, 0, false);
        append_all(0, 4, 2);
        seal_all(0, 4, 2);
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        append_chunk(0, 2, 4, 1, NULL);
        expect_reject(SR_REJECT_SEALED, "stage 0 is sealed (2 chunks, 4 "
                                        "targets): chunk 2 cannot be added");
        append_chunk(0, 1, 2, 2, NULL); /* a late retry of chunk 1 */
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        cr_assert(eq(u32, out.n_events, 0));
}

Test(sr_fsm, a_seal_with_a_missing_chunk_names_it_and_a_resend_completes_it)
{
        create_open(1, 0, false);
        append_chunk(0, 0, 0, 2, NULL);
        append_chunk(0, 2, 4, 2, NULL);
        seal_all(0, 6, 2);
        expect_reject(SR_REJECT_SEAL_MISMATCH,
                      "stage 0: chunk 1 is missing (1 of the 3 chunks, the "
                      "first chunk 1); send it and seal again");
        cr_assert(not(run.stages[0].sealed));
        cr_assert(eq(u32, run.n_targets, 0));
        append_chunk(0, 1, 2, 2, NULL); /* the lost chunk, sent again */
        seal_all(0, 6, 2);
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        cr_assert(eq(int, SR(0), SR_ST_RUNNING));
        cr_assert(eq(u32, run.n_targets, 6));
}

Test(sr_fsm, a_seal_with_several_missing_chunks_lists_them_as_ranges)
{
        static const uint32_t have[] = { 0, 1, 2, 4, 8, 9, 10 };
        static const uint32_t lost[] = { 3, 5, 6, 7, 11, 12 };

        create_open(1, 0, false);
        for (uint32_t i = 0; i < sizeof(have) / sizeof(have[0]); i++)
                append_chunk(0, have[i], have[i], 1, NULL);
        seal_all(0, 13, 1);
        expect_reject(SR_REJECT_SEAL_MISMATCH, "");
        cr_assert(eq(str, out.reply.message,
                     "SealTargets: stage 0: chunks 3, 5-7, 11-12 are missing "
                     "(6 of the 13 chunks, the first chunk 3); send them and "
                     "seal again"));
        cr_assert(not(run.stages[0].sealed));
        /* Every chunk the refusal names, sent again: the seal applies. */
        for (uint32_t i = 0; i < sizeof(lost) / sizeof(lost[0]); i++)
                append_chunk(0, lost[i], lost[i], 1, NULL);
        seal_all(0, 13, 1);
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        cr_assert(eq(u32, run.n_targets, 13));
}

/* 100 chunks missing, every other one: more than the reply's message holds
 * (sr_reply_t.message), so the list ends "... and N more", N being the
 * missing chunks it does not name, and the message is whole. */
Test(sr_fsm, a_seal_missing_more_chunks_than_fit_lists_the_first_and_counts_the_rest)
{
        const char *m, *list, *end, *tail;
        uint32_t named = 0, next = 1, rest;
        char *p;

        create_open(1, 0, false);
        for (uint32_t k = 0; k < 200; k += 2)
                append_chunk(0, k, k, 1, NULL);
        seal_all(0, 200, 1);
        expect_reject(SR_REJECT_SEAL_MISMATCH, "");
        m = out.reply.message;
        tail = " more are missing (100 of the 200 chunks, the first chunk "
               "1); send them and seal again";
        cr_assert(strlen(m) < sizeof(out.reply.message) - 1, "cut: %s", m);
        cr_assert(strlen(m) > sizeof(out.reply.message) - 40,
                  "room left unused: %s", m);
        cr_assert(eq(str, (char *)(m + strlen(m) - strlen(tail)),
                     (char *)tail), "%s", m);
        list = strstr(m, "chunks ");
        end = strstr(m, ", ... and ");
        cr_assert(list && end && list < end, "%s", m);
        /* The chunks named are the first missing ones, in order. */
        for (p = (char *)list + strlen("chunks "); p < end;) {
                cr_assert(eq(u32, (uint32_t)strtoul(p, &p, 10), next), "%s",
                          m);
                named++;
                next += 2;
                if (p < end) {
                        cr_assert(eq(int, strncmp(p, ", ", 2), 0), "%s", m);
                        p += 2;
                }
        }
        rest = (uint32_t)strtoul(end + strlen(", ... and "), NULL, 10);
        cr_assert(named > 0, "%s", m);
        cr_assert(eq(u32, named + rest, 100), "%s", m);
        cr_assert(not(run.stages[0].sealed));
}

Test(sr_fsm, a_seal_whose_count_chunks_or_digest_differ_is_a_mismatch)
{
        uint8_t d[SR_DIGEST_LEN];

        create_open(1, 0, false);
        append_all(0, 4, 2);
        seal_digest(4, 2, d);
        seal_stage(0, 2, 5, d);
        expect_reject(SR_REJECT_SEAL_MISMATCH,
                      "the seal says 5 targets, its 2 chunks hold 4");
        seal_stage(0, 1, 2, d);
        expect_reject(SR_REJECT_SEAL_MISMATCH,
                      "2 chunks were applied, the seal says 1");
        d[0] ^= 1;
        seal_stage(0, 2, 4, d);
        expect_reject(SR_REJECT_SEAL_MISMATCH, "the seal's digest is ");
        cr_assert(not(run.stages[0].sealed));
        d[0] ^= 1;
        seal_stage(0, 2, 4, d);
        cr_assert(out.reply.accepted, "%s", out.reply.message);
}

Test(sr_fsm, a_second_seal_equal_to_the_first_is_accepted_another_refused)
{
        uint8_t d[SR_DIGEST_LEN];
        uint64_t seq;

        create_open(1, 0, false);
        append_all(0, 3, 3);
        seal_digest(3, 3, d);
        seal_stage(0, 1, 3, d);
        seq = run.pr.last_seq;
        seal_stage(0, 1, 3, d);
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        cr_assert(eq(u64, run.pr.last_seq, seq));
        cr_assert(eq(u32, run.n_targets, 3));
        seal_stage(0, 1, 2, d);
        expect_reject(SR_REJECT_SEAL_MISMATCH, "already sealed with 1 chunks "
                                               "and 3 targets");
}

Test(sr_fsm, chunks_and_seals_after_a_cancel_are_stale)
{
        uint8_t d[SR_DIGEST_LEN];

        create_open(1, 0, false);
        append_chunk(0, 0, 0, 2, d);
        set_stage(0, "cancelled");
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        cr_assert(eq(int, SR(0), SR_ST_CANCELLED));
        cr_assert(eq(int, PR, SR_ST_FAILURE));
        append_chunk(0, 1, 2, 2, NULL);
        expect_reject(SR_REJECT_STALE_STAGE, "is cancelled, a final status");
        seal_all(0, 2, 2);
        expect_reject(SR_REJECT_STALE_STAGE, "is cancelled, a final status");
}

Test(sr_fsm, a_pending_open_stage_of_a_cancelled_run_is_stale)
{
        create_open(2, 1, false);
        set_pipeline("cancelled");
        append_chunk(1, 0, 0, 2, NULL);
        expect_reject(SR_REJECT_STALE_STAGE, "is cancelled, a final status");
}

Test(sr_fsm, an_open_stage_never_sealed_ends_invalid_after_the_fill_timeout)
{
        opts.fill_timeout_ms = 60000;
        create_open(2, 0, false);
        append_chunk(0, 0, 0, 2, NULL);
        cr_assert(eq(i64, run.stages[0].m.deadline, now + 60000));
        cr_assert(eq(i64, run.pr.next_deadline, now + 60000));
        now += 60000;
        timer(now);
        expect_events("s0:invalid s1:cancelled p:complete p:failure");
        cr_assert(eq(str, run.stages[0].m.reason, "targets_incomplete"));
        append_chunk(0, 1, 2, 2, NULL);
        expect_reject(SR_REJECT_STALE_STAGE, "is invalid, a final status");
}

Test(sr_fsm, an_open_stage_times_out_as_any_stage_when_its_own_timeout_is_first)
{
        sr_command_t cmd;

        opts.fill_timeout_ms = 3600 * 1000;
        base_cmd(&cmd, SR_CMD_CREATE_RUN);
        make_spec(&cmd.u.create.spec, 1, 1, 0, false);
        cmd.u.create.spec.stages[0].append_targets = true;
        cmd.u.create.spec.stages[0].timeout_seconds = 60;
        cr_assert(eq(int, sr_fsm_apply_command(&run, &cmd, now, &opts, &out),
                     SR_OK));
        sr_command_fini(&cmd);
        cr_assert(eq(i64, run.stages[0].m.deadline, now + 60000));
        now += 60000;
        timer(now);
        cr_assert(eq(int, SR(0), SR_ST_TIMEOUT));
        cr_assert(eq(str, run.stages[0].m.reason, "timeout"));
}

Test(sr_fsm, an_open_stage_sealed_empty_is_invalid_no_targets)
{
        uint8_t d[SR_DIGEST_LEN];

        create_open(1, 0, false);
        sr_sha256(NULL, 0, d);
        seal_stage(0, 0, 0, d);
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        cr_assert(eq(int, SR(0), SR_ST_INVALID));
        cr_assert(eq(str, run.stages[0].m.reason, "no_targets"));
        cr_assert(eq(int, PR, SR_ST_FAILURE));
}

Test(sr_fsm, chunks_for_an_inline_or_unknown_stage_are_refused)
{
        create_open(2, 1, false);
        append_chunk(0, 0, 0, 2, NULL);
        expect_reject(SR_REJECT_INVALID_VALUE,
                      "(stage 0) is not open: its targets were given inline");
        append_chunk(2, 0, 0, 2, NULL);
        expect_reject(SR_REJECT_NOT_FOUND, "stage 2 not found in pipeline run");
}

Test(sr_fsm, an_open_stage_with_inline_targets_is_refused_at_create)
{
        sr_command_t cmd;

        base_cmd(&cmd, SR_CMD_CREATE_RUN);
        make_spec(&cmd.u.create.spec, 2, 1, 2, false);
        cmd.u.create.spec.stages[1].append_targets = true;
        cmd.u.create.run_number = 1;
        cr_assert(eq(int, sr_fsm_apply_command(&run, &cmd, now, &opts, &out),
                     SR_OK));
        sr_command_fini(&cmd);
        expect_reject(SR_REJECT_INVALID_VALUE,
                      "stages[1].targets: an open stage (targets in chunks) "
                      "has no inline targets, this one has 2");
        cr_assert(not(run.exists));
}

Test(sr_fsm, a_run_created_under_a_higher_limit_is_still_the_same_run)
{
        /* Created when the limit was higher; the same create re-sent
         * after the limit was lowered is the run's own spec: accepted. */
        create(3, 1, 1, false);
        opts.max = (sr_spec_limits_t){ 2, 16, 1000 };
        sr_fsm_out_reset(&out);
        try_create(3, 1, 1);
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        cr_assert(eq(u32, out.n_events, 0));
}

/* ------------------------------------------------------- stage run table */

Test(sr_fsm, stage_with_zero_targets_is_invalid_and_fails_run)
{
        create(2, 1, 0, false);
        cr_assert(eq(int, SR(0), SR_ST_INVALID));
        cr_assert(eq(str, run.stages[0].m.reason, "no_targets"));
        cr_assert(eq(int, SR(1), SR_ST_CANCELLED));
        cr_assert(eq(int, PR, SR_ST_FAILURE));
}

Test(sr_fsm, stage_with_zero_operations_is_invalid_no_operations)
{
        create(1, 0, 3, false);
        cr_assert(eq(int, SR(0), SR_ST_INVALID));
        cr_assert(eq(str, run.stages[0].m.reason, "no_operations"));
        cr_assert(eq(int, PR, SR_ST_FAILURE));
}

Test(sr_fsm, auto_promote_into_an_empty_stage_makes_it_invalid)
{
        sr_command_t cmd;

        base_cmd(&cmd, SR_CMD_CREATE_RUN);
        make_spec(&cmd.u.create.spec, 2, 1, 1, true);
        cmd.u.create.spec.stages[1].n_targets = 0;
        sr_fsm_apply_command(&run, &cmd, now, &opts, &out);
        sr_command_fini(&cmd);
        finish_stage(0, "SUCCESS");
        expect_events("t0:complete t0:success s0:complete s0:success "
                      "s1:queued s1:processing s1:invalid p:complete "
                      "p:failure");
}

Test(sr_fsm, stage_with_two_operations_has_a_target_run_per_pair)
{
        create(1, 2, 3, false);
        cr_assert(eq(u32, run.n_targets, 6));
        cr_assert(eq(u32, run.n_ops, 2));
        cr_assert(sr_uuid_eq(&sr_run_tr(&run, 4)->stage_run_operation_id,
                             &run.ops[1].id));
        cr_assert(eq(u32, count_dispatch(SR_DISPATCH_COMMAND), 6));
}

Test(sr_fsm, stage_fails_when_any_target_run_is_not_success)
{
        create(1, 1, 3, false);
        cr_assert(eq(int, result(0, "SUCCESS"), SR_OK));
        cr_assert(eq(int, result(1, "ERROR"), SR_OK));
        cr_assert(eq(int, SR(0), SR_ST_RUNNING));
        cr_assert(eq(int, result(2, "SUCCESS"), SR_OK));
        expect_events("t2:complete t2:success s0:complete s0:failure "
                      "p:complete p:failure");
        cr_assert(eq(str, run.stages[0].m.reason, "target_failed"));
}

Test(sr_fsm, client_cancel_of_running_stage_cascades_and_fails_run)
{
        create(2, 1, 2, false);
        cr_assert(eq(int, result(1, "QUEUED"), SR_OK));
        set_stage(0, "cancelled");
        cr_assert(out.reply.accepted);
        expect_events("s0:cancelled t0:cancelled t1:cancelled s1:cancelled "
                      "p:complete p:failure");
        cr_assert(eq(str, run.stages[0].m.reason, "cancelled_by_user"));
        cr_assert(eq(u32, count_dispatch(SR_DISPATCH_CANCEL), 2));
}

Test(sr_fsm, stage_timeout_cascades_to_targets_and_fails_run)
{
        sr_command_t cmd;

        base_cmd(&cmd, SR_CMD_CREATE_RUN);
        make_spec(&cmd.u.create.spec, 2, 1, 2, false);
        cmd.u.create.spec.stages[0].timeout_seconds = 2;
        sr_fsm_apply_command(&run, &cmd, now, &opts, &out);
        sr_command_fini(&cmd);
        cr_assert(eq(i64, run.pr.next_deadline, now + 2000));
        cr_assert(eq(int, result(0, "INPROGRESS"), SR_OK));
        timer(now + 1999); /* too early: nothing is due */
        cr_assert(out.stale);
        cr_assert(eq(u32, out.n_events, 0));
        now += 2000;
        timer(run.pr.next_deadline);
        expect_events("s0:timeout t0:timeout t1:timeout s1:cancelled "
                      "p:complete p:failure");
        cr_assert(eq(u32, count_dispatch(SR_DISPATCH_CANCEL), 2));
}

Test(sr_fsm, promote_of_pending_stage_while_running_is_rejected)
{
        create(2, 1, 1, false);
        set_stage(1, "queued");
        expect_reject(SR_REJECT_ILLEGAL_TRANSITION,
                      "its pipeline run is running: it can be promoted "
                      "(\"queued\") only while the pipeline run is waiting");
}

Test(sr_fsm, promote_past_a_pending_earlier_stage_is_rejected)
{
        create(3, 1, 1, false);
        finish_stage(0, "SUCCESS");
        set_stage(2, "queued");
        expect_reject(SR_REJECT_ILLEGAL_TRANSITION,
                      "(stage 2) is pending, and every earlier stage run "
                      "must be success");
}

Test(sr_fsm, promote_of_running_stage_is_rejected)
{
        create(1, 1, 1, false);
        set_stage(0, "queued");
        expect_reject(SR_REJECT_ILLEGAL_TRANSITION,
                      "is running: only a pending stage run can be promoted");
}

Test(sr_fsm, stage_refuses_statuses_other_than_queued_and_cancelled)
{
        create(1, 1, 1, false);
        set_stage(0, "success");
        expect_reject(SR_REJECT_ILLEGAL_TRANSITION,
                      "\"success\" cannot be set; allowed are \"queued\"");
}

Test(sr_fsm, terminal_stage_refuses_cancel)
{
        create(2, 1, 1, false);
        finish_stage(0, "SUCCESS");
        set_stage(0, "cancelled");
        expect_reject(SR_REJECT_ILLEGAL_TRANSITION,
                      "is success, a final status");
}

Test(sr_fsm, unknown_stage_run_is_not_found)
{
        sr_uuid_t other;

        create(1, 1, 1, false);
        sr_uuid_v5(&other, &sr_ns, "nope");
        set_status(SR_CMD_SET_STAGE_RUN_STATUS, &other, "cancelled");
        expect_reject(SR_REJECT_NOT_FOUND, "not found in pipeline run");
}

/* ------------------------------------------------------ target run table */

/* Rows: from (0 processing, 1 dispatched, 2 running) x command status. */
struct tr_row {
        int from;
        char cs[16];
        int want; /* sr_status_t, or -1 for stale */
};

ParameterizedTestParameters(sr_fsm, result_moves_target_run_forward_only)
{
        static struct tr_row rows[] = {
                { 0, "QUEUED", SR_ST_DISPATCHED },
                { 0, "INITIATED", SR_ST_RUNNING },
                { 0, "ACKNOWLEDGED", SR_ST_RUNNING },
                { 0, "INPROGRESS", SR_ST_RUNNING },
                { 0, "SUCCESS", SR_ST_SUCCESS },
                { 0, "FAILED", SR_ST_FAILURE },
                { 0, "FAILURE", SR_ST_FAILURE },
                { 0, "TIMEOUT", SR_ST_FAILURE },
                { 0, "CANCELLED", SR_ST_FAILURE },
                { 0, "ERROR", SR_ST_INVALID },
                { 1, "QUEUED", -1 },
                { 1, "INITIATED", SR_ST_RUNNING },
                { 1, "ACKNOWLEDGED", SR_ST_RUNNING },
                { 1, "inprogress", SR_ST_RUNNING },
                { 1, "SUCCESS", SR_ST_SUCCESS },
                { 1, "FAILED", SR_ST_FAILURE },
                { 1, "CANCELLED", SR_ST_FAILURE },
                { 1, "ERROR", SR_ST_INVALID },
                { 2, "QUEUED", -1 },
                { 2, "INPROGRESS", -1 },
                { 2, "SUCCESS", SR_ST_SUCCESS },
                { 2, "FAILURE", SR_ST_FAILURE },
                { 2, "TIMEOUT", SR_ST_FAILURE },
                { 2, "ERROR", -1 },
        };
        return cr_make_param_array(struct tr_row, rows,
                                   sizeof(rows) / sizeof(rows[0]));
}

ParameterizedTest(struct tr_row *row, sr_fsm,
                  result_moves_target_run_forward_only)
{
        sr_status_t before;

        create(1, 1, 2, false);
        if (row->from >= 1)
                cr_assert(eq(int, result(0, "QUEUED"), SR_OK));
        if (row->from >= 2)
                cr_assert(eq(int, result(0, "INITIATED"), SR_OK));
        before = TR(0);
        cr_assert(eq(int, result(0, row->cs), SR_OK));
        if (row->want < 0) {
                cr_assert(out.stale, "%s from %s should be stale", row->cs,
                          sr_status_name(before));
                cr_assert(eq(int, TR(0), before));
                cr_assert(eq(u32, out.n_events, 0));
                return;
        }
        cr_assert(eq(int, TR(0), row->want), "%s from %s", row->cs,
                  sr_status_name(before));
        if (row->want == SR_ST_SUCCESS || row->want == SR_ST_FAILURE) {
                cr_assert(eq(int, out.events[0].to_status, SR_ST_COMPLETE));
                cr_assert(eq(int, out.events[1].to_status, row->want));
        }
        cr_assert(eq(int, SR(0), SR_ST_RUNNING)); /* t1 still open */
}

Test(sr_fsm, late_inprogress_after_success_is_stale)
{
        create(1, 1, 2, false);
        cr_assert(eq(int, result(0, "SUCCESS"), SR_OK));
        cr_assert(eq(int, result(0, "INPROGRESS"), SR_OK));
        cr_assert(out.stale);
        cr_assert(eq(int, TR(0), SR_ST_SUCCESS));
}

Test(sr_fsm, result_with_unknown_command_status_is_schema_error)
{
        create(1, 1, 1, false);
        cr_assert(eq(int, result(0, "EXPLODED"), SR_ERR_SCHEMA));
        cr_assert(eq(int, TR(0), SR_ST_PROCESSING));
}

Test(sr_fsm, result_for_unknown_target_run_is_not_found)
{
        sr_result_t res;

        create(1, 1, 1, false);
        memset(&res, 0, sizeof(res));
        sr_uuid_v5(&res.target_run_id, &sr_ns, "nope");
        snprintf(res.command_status, sizeof(res.command_status), "SUCCESS");
        cr_assert(eq(int, sr_fsm_apply_result(&run, &res, now, &opts, &out),
                     SR_ERR_NOT_FOUND));
}

Test(sr_fsm, result_for_another_command_is_stale)
{
        sr_result_t res;

        create(1, 1, 1, false);
        memset(&res, 0, sizeof(res));
        res.target_run_id = sr_run_tr(&run, 0)->m.id;
        sr_uuid_v5(&res.command_id, &sr_ns, "other-command");
        snprintf(res.command_status, sizeof(res.command_status), "SUCCESS");
        cr_assert(eq(int, sr_fsm_apply_result(&run, &res, now, &opts, &out),
                     SR_OK));
        cr_assert(out.stale);
        cr_assert(eq(int, TR(0), SR_ST_PROCESSING));
}

Test(sr_fsm, client_cancel_of_processing_target_cancels_and_requests_cancel)
{
        create(1, 1, 2, false);
        set_target(0, "cancelled");
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        expect_events("t0:cancelled");
        cr_assert(eq(u32, count_dispatch(SR_DISPATCH_CANCEL), 1));
}

Test(sr_fsm, client_cancel_of_dispatched_target_says_to_cancel_command)
{
        char want[80], cid[SR_UUID_STR_LEN + 1];

        create(1, 1, 1, false);
        cr_assert(eq(int, result(0, "QUEUED"), SR_OK));
        set_target(0, "cancelled");
        expect_reject(SR_REJECT_ILLEGAL_TRANSITION,
                      "cancel the command instead");
        /* and names the path that does (phase D) */
        sr_uuid_fmt(&sr_run_tr(&run, 0)->command_id, cid);
        snprintf(want, sizeof(want), "PUT .../command/%s/", cid);
        cr_assert(strstr(out.reply.message, want) != NULL, "%s",
                  out.reply.message);
}

Test(sr_fsm, client_put_of_result_statuses_moves_target_like_a_result)
{
        create(1, 1, 1, false);
        set_target(0, "dispatched");
        cr_assert(out.reply.accepted);
        set_target(0, "running");
        cr_assert(out.reply.accepted);
        set_target(0, "dispatched");
        expect_reject(SR_REJECT_ILLEGAL_TRANSITION, "only move it forward");
        set_target(0, "success");
        cr_assert(out.reply.accepted);
        expect_events("t0:complete t0:success s0:complete s0:success "
                      "p:complete p:success");
}

Test(sr_fsm, client_put_of_timeout_on_target_is_refused)
{
        create(1, 1, 1, false);
        set_target(0, "timeout");
        expect_reject(SR_REJECT_ILLEGAL_TRANSITION,
                      "\"timeout\" cannot be set; allowed are");
}

Test(sr_fsm, client_put_of_failure_fails_the_stage)
{
        create(1, 1, 1, false);
        set_target(0, "FAILURE");
        cr_assert(eq(int, SR(0), SR_ST_FAILURE));
        cr_assert(eq(int, PR, SR_ST_FAILURE));
}

Test(sr_fsm, target_times_out_seven_days_after_processing)
{
        sr_command_t cmd;

        base_cmd(&cmd, SR_CMD_CREATE_RUN);
        make_spec(&cmd.u.create.spec, 1, 1, 2, false);
        cmd.u.create.spec.stages[0].timeout_seconds = 30 * 86400;
        cmd.u.create.spec.timeout_seconds = 60 * 86400;
        sr_fsm_apply_command(&run, &cmd, now, &opts, &out);
        sr_command_fini(&cmd);
        cr_assert(eq(int, result(1, "SUCCESS"), SR_OK));
        cr_assert(eq(i64, run.pr.next_deadline,
                     now + SR_TARGET_RUN_TIMEOUT_MS));
        now += SR_TARGET_RUN_TIMEOUT_MS;
        timer(run.pr.next_deadline);
        expect_events("t0:timeout s0:complete s0:failure p:complete "
                      "p:failure");
}

Test(sr_fsm, dispatched_target_in_cascade_is_cancelled_with_request)
{
        create(1, 1, 1, false);
        cr_assert(eq(int, result(0, "QUEUED"), SR_OK));
        set_pipeline("cancelled");
        cr_assert(eq(int, TR(0), SR_ST_CANCELLED));
        cr_assert(eq(u32, count_dispatch(SR_DISPATCH_CANCEL), 1));
        cr_assert(sr_uuid_eq(&out.dispatches[0].command_id,
                             &sr_run_tr(&run, 0)->command_id));
}

/* ---------------------------------------------------------- retention */

#define HOUR_MS 3600000LL

/* One stage, one target, succeeded at now; retention.finished one hour. */
static void finished_run(void)
{
        opts.retention_finished_ms = HOUR_MS;
        opts.retention_inputs_ms = 24 * HOUR_MS;
        create(1, 1, 1, false);
        cr_assert(eq(int, result(0, "SUCCESS"), SR_OK));
        cr_assert(eq(int, PR, SR_ST_SUCCESS));
}

Test(sr_fsm, finished_run_is_retired_at_its_deadline_without_events)
{
        int64_t ended;

        finished_run();
        ended = run.pr.m.ended_at;
        cr_assert(eq(i64, run.pr.next_deadline, ended + HOUR_MS));
        now += HOUR_MS + 5000; /* the timer command comes a little later */
        timer(ended + HOUR_MS);
        cr_assert(out.retire);
        cr_assert(out.applied);
        cr_assert(eq(u32, out.n_events, 0));
        cr_assert(eq(u32, out.n_dispatches, 0));
        cr_assert(not(run.exists));
        cr_assert(run.retired);
        {
                sr_uuid_t id = run_id();

                cr_assert(sr_uuid_eq(&out.retired.pipeline_run_id, &id));
        }
        cr_assert(eq(str, out.retired.enterprise_id, "acme"));
        cr_assert(eq(i64, out.retired.ended_at, ended));
        cr_assert(eq(i64, out.retired.retired_at, ended + HOUR_MS));
        cr_assert(eq(i64, out.retired.forget_at,
                     ended + HOUR_MS + 24 * HOUR_MS));
        cr_assert(eq(i64, run.ret.forget_at, out.retired.forget_at));
}

Test(sr_fsm, run_is_not_retired_before_every_child_is_final)
{
        sr_result_t late;
        int64_t cancelled_at, target_deadline;

        opts.retention_finished_ms = 1;
        create(1, 1, 2, false);
        cr_assert(eq(int, result(0, "INPROGRESS"), SR_OK));
        set_pipeline("cancelled");
        cr_assert(eq(int, PR, SR_ST_CANCELLED));
        cr_assert(eq(int, TR(0), SR_ST_RUNNING)); /* ends by its result */
        cancelled_at = now;
        target_deadline = sr_run_tr(&run, 0)->m.deadline;
        /* The open target's deadline, not a retirement. */
        cr_assert(eq(i64, run.pr.next_deadline, target_deadline));
        now += 1000;
        timer(cancelled_at + 1);
        cr_assert(not(out.retire));
        cr_assert(run.exists);
        timer(target_deadline - 1);
        cr_assert(not(out.retire));
        cr_assert(run.exists);
        /* The last child ends later than the run: retire_at counts from it. */
        now += 10 * HOUR_MS;
        late = make_result(0, "CANCELLED");
        cr_assert(eq(int, sr_fsm_apply_result(&run, &late, now, &opts, &out),
                     SR_OK));
        cr_assert(eq(int, TR(0), SR_ST_FAILURE));
        cr_assert(eq(i64, run.pr.next_deadline, now + 1));
        timer(now + 1);
        cr_assert(out.retire);
        cr_assert(eq(i64, out.retired.ended_at, now));
        cr_assert(gt(i64, out.retired.ended_at, cancelled_at));
}

/* A target run left running by a pipeline-run cancel (the cascade only
 * requests the cancel) whose device never answers: its own deadline still
 * ends it, the cancelled run and stage run do not move, then the run is
 * all final and retires. */
Test(sr_fsm, target_left_running_by_a_run_cancel_times_out_then_retires)
{
        int64_t target_deadline;

        opts.retention_finished_ms = HOUR_MS;
        create(1, 1, 2, false);
        cr_assert(eq(int, result(0, "INPROGRESS"), SR_OK));
        set_pipeline("cancelled");
        cr_assert(eq(u32, count_dispatch(SR_DISPATCH_CANCEL), 2));
        cr_assert(eq(int, TR(0), SR_ST_RUNNING));
        target_deadline = sr_run_tr(&run, 0)->m.deadline;
        cr_assert(eq(i64, run.pr.next_deadline, target_deadline));
        now = target_deadline + 3000;
        timer(target_deadline);
        expect_events("t0:timeout");
        cr_assert(eq(str, sr_run_tr(&run, 0)->m.reason, "timeout"));
        cr_assert(eq(i64, sr_run_tr(&run, 0)->m.ended_at, now));
        cr_assert(eq(u32, out.n_dispatches, 0)); /* cancel already sent */
        cr_assert(eq(int, PR, SR_ST_CANCELLED));
        cr_assert(eq(int, SR(0), SR_ST_CANCELLED));
        cr_assert(not(out.retire));
        cr_assert(eq(i64, run.pr.next_deadline, now + HOUR_MS));
        now += 2 * HOUR_MS;
        timer(run.pr.next_deadline);
        cr_assert(out.retire);
        cr_assert(eq(i64, out.retired.ended_at, target_deadline + 3000));
}

/* A stage-run cancel leaves a running target run; the pipeline run rolls up
 * to failure. The target run's deadline still ends it; the failed pipeline
 * run and the cancelled stage run emit nothing more. Without retention too. */
Test(sr_fsm, target_left_running_by_a_stage_cancel_times_out_after_run_failed)
{
        int64_t target_deadline;

        create(2, 1, 1, false);
        cr_assert(eq(int, result(0, "INPROGRESS"), SR_OK));
        set_stage(0, "cancelled");
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        cr_assert(eq(int, PR, SR_ST_FAILURE));
        cr_assert(eq(int, TR(0), SR_ST_RUNNING));
        target_deadline = sr_run_tr(&run, 0)->m.deadline;
        cr_assert(eq(i64, run.pr.next_deadline, target_deadline));
        now = target_deadline;
        timer(target_deadline - 1);
        cr_assert(out.stale);
        cr_assert(eq(int, TR(0), SR_ST_RUNNING));
        timer(target_deadline);
        expect_events("t0:timeout");
        cr_assert(not(out.stale));
        cr_assert(eq(int, PR, SR_ST_FAILURE));
        cr_assert(eq(int, SR(0), SR_ST_CANCELLED));
        cr_assert(eq(int, SR(1), SR_ST_CANCELLED));
        cr_assert(eq(i64, run.pr.next_deadline, 0)); /* retention 0 */
        timer(target_deadline);
        cr_assert(out.stale);
}

Test(sr_fsm, running_or_waiting_run_is_never_retired_however_old)
{
        opts.retention_finished_ms = 1;
        create(2, 1, 1, false);
        cr_assert(eq(int, PR, SR_ST_RUNNING));
        cr_assert(eq(i64, run.pr.next_deadline, sr_run_tr(&run, 0)->m.deadline));
        now += 6 * 24 * HOUR_MS;
        timer(now - 1); /* before every deadline of the run */
        cr_assert(not(out.retire));
        cr_assert(out.stale);
        cr_assert(eq(int, result(0, "SUCCESS"), SR_OK));
        cr_assert(eq(int, PR, SR_ST_WAITING));
        cr_assert(eq(i64, run.pr.next_deadline, run.pr.m.deadline));
        now += 10 * 24 * HOUR_MS;
        timer(run.pr.m.deadline - 1);
        cr_assert(not(out.retire));
        cr_assert(run.exists);
        cr_assert(eq(int, PR, SR_ST_WAITING));
}

Test(sr_fsm, stale_retirement_timer_does_nothing)
{
        int64_t at;

        finished_run();
        at = run.pr.next_deadline;
        now += 2 * HOUR_MS;
        timer(at - 1);
        cr_assert(out.stale);
        cr_assert(not(out.retire));
        timer(at + 1);
        cr_assert(out.stale);
        cr_assert(not(out.retire));
        cr_assert(run.exists);
        cr_assert(eq(int, PR, SR_ST_SUCCESS));
}

Test(sr_fsm, retention_zero_never_sets_a_retire_deadline)
{
        create(1, 1, 1, false);
        cr_assert(eq(int, result(0, "SUCCESS"), SR_OK));
        cr_assert(eq(int, PR, SR_ST_SUCCESS));
        cr_assert(eq(i64, run.pr.next_deadline, 0));
        timer(run.pr.m.ended_at);
        cr_assert(out.stale);
        cr_assert(run.exists);
}

/* Retire the finished run; returns a result made for its target before. */
static sr_result_t retire_finished_run(void)
{
        sr_result_t late;

        finished_run();
        late = make_result(0, "SUCCESS");
        now += 2 * HOUR_MS;
        timer(run.pr.next_deadline);
        cr_assert(out.retire);
        return late;
}

Test(sr_fsm, late_command_after_retirement_is_refused_run_retired)
{
        sr_command_t cmd;

        retire_finished_run();
        set_pipeline("cancelled");
        expect_reject(SR_REJECT_RUN_RETIRED, "was retired at 2023-11-14T");
        cr_assert(out.for_retired);
        cr_assert(eq(u32, out.n_dispatches, 0));
        /* A re-delivered create does not bring the run back. */
        base_cmd(&cmd, SR_CMD_CREATE_RUN);
        make_spec(&cmd.u.create.spec, 1, 1, 1, false);
        cr_assert(eq(int, sr_fsm_apply_command(&run, &cmd, now, &opts, &out),
                     SR_OK));
        sr_command_fini(&cmd);
        expect_reject(SR_REJECT_RUN_RETIRED, "retired");
        cr_assert(eq(u32, out.n_dispatches, 0));
        cr_assert(not(run.exists));
        cr_assert(run.retired);
        /* Another tenant learns nothing. */
        base_cmd(&cmd, SR_CMD_SET_PIPELINE_RUN_STATUS);
        snprintf(cmd.enterprise_id, sizeof(cmd.enterprise_id), "globex");
        snprintf(cmd.u.set.status, sizeof(cmd.u.set.status), "cancelled");
        sr_fsm_apply_command(&run, &cmd, now, &opts, &out);
        expect_reject(SR_REJECT_NOT_FOUND, "not found");
}

Test(sr_fsm, late_result_after_retirement_is_refused_for_a_retired_run)
{
        sr_result_t late = retire_finished_run();

        cr_assert(eq(int, sr_fsm_apply_result(&run, &late, now, &opts, &out),
                     SR_ERR_NOT_FOUND));
        cr_assert(out.for_retired);
        cr_assert(eq(u32, out.n_events, 0));
        cr_assert(not(run.exists));
        cr_assert(run.retired);
}

Test(sr_fsm, retired_marker_is_forgotten_at_forget_at_only)
{
        int64_t forget;

        retire_finished_run();
        forget = run.ret.forget_at;
        now += 30 * HOUR_MS;
        timer(forget - 1);
        cr_assert(out.stale);
        cr_assert(run.retired);
        timer(forget);
        cr_assert(out.forget);
        cr_assert(not(run.retired));
        cr_assert(not(run.exists));
        /* Then the run is unknown, as any other. */
        set_pipeline("cancelled");
        expect_reject(SR_REJECT_NOT_FOUND, "not found");
}

Test(sr_fsm, retention_inputs_zero_keeps_the_marker_for_ever)
{
        finished_run();
        opts.retention_inputs_ms = 0;
        now += 2 * HOUR_MS;
        timer(run.pr.next_deadline);
        cr_assert(out.retire);
        cr_assert(eq(i64, out.retired.forget_at, 0));
        timer(0);
        cr_assert(out.stale);
        cr_assert(run.retired);
}

/* ---------------------------------------------------------- delete */

/* DELETE of run (docs/definitions.md section 7): a DeleteRun naming
 * @p pipeline (NULL: the run's own pipeline), applied at now. */
static void delete_run(const sr_uuid_t *pipeline)
{
        sr_command_t cmd;

        base_cmd(&cmd, SR_CMD_DELETE_RUN);
        cmd.u.del.pipeline_id = pipeline ? *pipeline : run.pr.pipeline_id;
        cr_assert(eq(int, sr_fsm_apply_command(&run, &cmd, now, &opts, &out),
                     SR_OK));
        cr_assert(out.has_reply);
}

Test(sr_fsm, a_finished_run_deleted_by_a_client_retires_at_once_keeping_its_marker)
{
        uint32_t version;
        int64_t ended;

        finished_run();
        ended = run.pr.m.ended_at;
        version = run.pr.m.version;
        now += 60000; /* long before retention.finished */
        delete_run(NULL);
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        cr_assert(eq(u32, out.reply.n_versions, 1));
        cr_assert(eq(u32, out.reply.versions[0].version, version));
        cr_assert(out.retire);
        cr_assert(out.applied);
        cr_assert(eq(u32, out.n_events, 0));
        cr_assert(eq(u32, out.n_dispatches, 0));
        cr_assert(not(run.exists));
        cr_assert(run.retired);
        cr_assert(eq(i64, out.retired.ended_at, ended));
        cr_assert(eq(i64, out.retired.retired_at, now));
        cr_assert(eq(i64, out.retired.forget_at, now + 24 * HOUR_MS));
        /* later inputs meet the marker; the retention timer is stale */
        set_pipeline("cancelled");
        expect_reject(SR_REJECT_RUN_RETIRED, "deleted by a client");
        timer(ended + HOUR_MS);
        cr_assert(out.stale);
        delete_run(NULL);
        expect_reject(SR_REJECT_RUN_RETIRED, "was retired at");
        cr_assert(out.for_retired);
}

Test(sr_fsm, a_run_that_is_not_finished_is_not_deleted_cancel_it_first)
{
        create(2, 1, 1, false);
        cr_assert(eq(int, PR, SR_ST_RUNNING));
        delete_run(NULL);
        expect_reject(SR_REJECT_ILLEGAL_TRANSITION, "is running: only a "
                      "finished run is deleted; cancel it first");
        cr_assert(not(out.retire));
        cr_assert(not(out.applied));
        cr_assert(run.exists);
        cr_assert(eq(int, result(0, "SUCCESS"), SR_OK));
        cr_assert(eq(int, PR, SR_ST_WAITING));
        delete_run(NULL);
        expect_reject(SR_REJECT_ILLEGAL_TRANSITION, "is waiting");
        cr_assert(run.exists);
}

/* Without retention (retention.finished 0: never retired by age) a
 * delete still retires the run, once its last target run has ended: a
 * cancelled run whose device has not answered the cancel yet waits. */
Test(sr_fsm, a_cancelled_run_is_deleted_only_after_its_last_target_run_ends)
{
        sr_result_t late;

        create(1, 1, 2, false);
        cr_assert(eq(int, result(0, "INPROGRESS"), SR_OK));
        set_pipeline("cancelled");
        cr_assert(eq(int, PR, SR_ST_CANCELLED));
        cr_assert(eq(int, TR(0), SR_ST_RUNNING));
        late = make_result(0, "CANCELLED");
        delete_run(NULL);
        expect_reject(SR_REJECT_ILLEGAL_TRANSITION, "is cancelled but 1 of "
                      "its stage and target runs are not final yet");
        cr_assert(run.exists);
        now += 1000;
        cr_assert(eq(int, sr_fsm_apply_result(&run, &late, now, &opts, &out),
                     SR_OK));
        cr_assert(eq(int, TR(0), SR_ST_FAILURE));
        now += 1000;
        delete_run(NULL);
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        cr_assert(out.retire);
        cr_assert(eq(i64, out.retired.retired_at, now));
        cr_assert(eq(i64, out.retired.forget_at, 0)); /* inputs: for ever */
}

Test(sr_fsm, a_delete_naming_another_pipeline_or_tenant_is_not_found_and_changes_nothing)
{
        sr_command_t cmd;
        sr_uuid_t other;

        finished_run();
        sr_uuid_v5(&other, &sr_ns, "another-pipeline");
        delete_run(&other);
        expect_reject(SR_REJECT_NOT_FOUND, "not found under pipeline");
        cr_assert(not(out.retire));
        cr_assert(run.exists);
        base_cmd(&cmd, SR_CMD_DELETE_RUN);
        cmd.u.del.pipeline_id = run.pr.pipeline_id;
        snprintf(cmd.enterprise_id, sizeof(cmd.enterprise_id), "globex");
        cr_assert(eq(int, sr_fsm_apply_command(&run, &cmd, now, &opts, &out),
                     SR_OK));
        expect_reject(SR_REJECT_NOT_FOUND, "not found");
        cr_assert(not(out.retire));
        cr_assert(run.exists);
        cr_assert(eq(int, PR, SR_ST_SUCCESS));
}

/* ---------------------------------------------------------- determinism */

Test(sr_fsm, same_inputs_give_identical_events_and_ids)
{
        sr_event_t first[64];
        uint32_t n;

        create(2, 2, 3, false);
        n = out.n_events;
        cr_assert(n <= 64);
        memcpy(first, out.events, n * sizeof(*first));
        sr_run_fini(&run);
        sr_run_init(&run);
        cmd_counter = 0;
        create(2, 2, 3, false);
        cr_assert(eq(u32, out.n_events, n));
        cr_assert(eq(int, memcmp(first, out.events, n * sizeof(*first)), 0));
}

Test(sr_fsm, event_id_is_uuid_v5_of_run_and_seq)
{
        char rid[SR_UUID_STR_LEN + 1];
        sr_uuid_t want;

        create(1, 1, 1, false);
        sr_uuid_fmt(&run.pr.m.id, rid);
        sr_uuid_v5(&want, &sr_ns, "%s/event/%u", rid, 3);
        cr_assert(sr_uuid_eq(&out.events[2].event_id, &want));
}

/* Copy every entity of the run into a fresh run, as a store reload does. */
static void reload(void)
{
        sr_run_t fresh;
        sr_entity_t e;
        sr_errctx_t ec = { 0 };

        sr_run_init(&fresh);
        /* targets and stages first: order must not matter */
        for (uint32_t i = 0; i < run.n_targets; i++) {
                e.type = SR_ENT_TARGET_RUN;
                e.u.tr = (*sr_run_tr(&run, i));
                cr_assert(eq(int, sr_run_add_entity(&fresh, &e, &ec), SR_OK),
                          "%s", ec.msg);
        }
        for (uint32_t i = 0; i < run.pr.n_stages; i++) {
                e.type = SR_ENT_STAGE_RUN;
                e.u.sr = run.stages[i];
                sr_spec_ops_copy(&e.u.sr.ops, run.stages[i].ops,
                                 run.stages[i].n_ops);
                sr_spec_targets_copy(&e.u.sr.targets, run.stages[i].targets,
                                     run.stages[i].n_targets);
                cr_assert(eq(int, sr_run_add_entity(&fresh, &e, &ec), SR_OK),
                          "%s", ec.msg);
        }
        for (uint32_t i = run.n_ops; i-- > 0;) {
                e.type = SR_ENT_STAGE_RUN_OPERATION;
                e.u.op = run.ops[i];
                e.u.op.args_json = run.ops[i].args_json ?
                                           strdup(run.ops[i].args_json) :
                                           NULL;
                cr_assert(eq(int, sr_run_add_entity(&fresh, &e, &ec), SR_OK));
        }
        /* an open stage's chunks, in reverse: order must not matter */
        for (uint32_t i = run.n_chunks; i-- > 0;) {
                sr_stage_chunk_t c = run.chunks[i];

                cr_assert(sr_spec_targets_copy(&c.targets,
                                               run.chunks[i].targets,
                                               run.chunks[i].n_targets));
                cr_assert(eq(int, sr_run_add_chunk(&fresh, &c, &ec), SR_OK),
                          "%s", ec.msg);
        }
        e.type = SR_ENT_PIPELINE_RUN;
        e.u.pr = run.pr;
        cr_assert(eq(int, sr_run_add_entity(&fresh, &e, &ec), SR_OK), "%s",
                  ec.msg);
        cr_assert(eq(int, sr_run_index(&fresh, &ec), SR_OK), "%s", ec.msg);
        sr_run_fini(&run);
        run = fresh;
}

Test(sr_fsm, reloaded_run_continues_exactly_like_the_original)
{
        sr_event_t a[64], b[64];
        uint32_t na, nb;
        int saved;

        create(2, 1, 3, false);
        cr_assert(eq(int, result(0, "SUCCESS"), SR_OK));
        saved = cmd_counter;
        cr_assert(eq(int, result(1, "SUCCESS"), SR_OK));
        cr_assert(eq(int, result(2, "SUCCESS"), SR_OK));
        na = out.n_events;
        memcpy(a, out.events, na * sizeof(*a));

        sr_run_fini(&run);
        sr_run_init(&run);
        cmd_counter = 0;
        create(2, 1, 3, false);
        cr_assert(eq(int, result(0, "SUCCESS"), SR_OK));
        reload();
        cmd_counter = saved;
        cr_assert(eq(int, result(1, "SUCCESS"), SR_OK));
        cr_assert(eq(int, result(2, "SUCCESS"), SR_OK));
        nb = out.n_events;
        cr_assert(eq(u32, na, nb));
        cr_assert(eq(int, memcmp(a, b, 0), 0));
        memcpy(b, out.events, nb * sizeof(*b));
        cr_assert(eq(int, memcmp(a, b, na * sizeof(*a)), 0));
        cr_assert(eq(int, PR, SR_ST_WAITING));
}

Test(sr_fsm, entity_keys_sort_by_run_then_kind_and_position)
{
        char k1[SR_ENTITY_KEY_MAX], k2[SR_ENTITY_KEY_MAX];
        sr_entity_t e;

        create(1, 2, 11, false);
        e.type = SR_ENT_TARGET_RUN;
        e.u.tr = (*sr_run_tr(&run, 9));
        sr_entity_key(&e, k1);
        e.u.tr = (*sr_run_tr(&run, 10));
        sr_entity_key(&e, k2);
        cr_assert(lt(int, strcmp(k1, k2), 0), "%s vs %s", k1, k2);
        cr_assert(strstr(k2, "/t/0000/0000/000010") != NULL, "%s", k2);
        e.type = SR_ENT_PIPELINE_RUN;
        e.u.pr = run.pr;
        sr_entity_key(&e, k1);
        cr_assert(strstr(k1, "/p") != NULL);
}

/* The keys are written by hand: the same bytes as the snprintf formats
 * "%04u" and "%06u", which print every digit of larger values. */
Test(sr_fsm, entity_keys_equal_the_printf_format_for_any_index)
{
        static const uint32_t idx[] = { 0,     7,      999,     9999,
                                        10000, 12345,  999999,  1000000,
                                        1234567, 4294967295u };
        const size_t nidx = sizeof(idx) / sizeof(*idx);
        char key[SR_ENTITY_KEY_MAX], want[SR_ENTITY_KEY_MAX];
        char run_s[SR_UUID_STR_LEN + 1];
        sr_uuid_t id;
        sr_entity_t e;
        size_t n;

        sr_uuid_v5(&id, &sr_ns, "keys");
        sr_uuid_fmt(&id, run_s);

        memset(&e, 0, sizeof(e));
        e.type = SR_ENT_PIPELINE_RUN;
        e.u.pr.m.id = id;
        n = sr_entity_key(&e, key);
        snprintf(want, sizeof(want), "%s/p", run_s);
        cr_assert(eq(str, key, want));
        cr_assert(eq(sz, n, strlen(want)));

        for (size_t i = 0; i < nidx; i++) {
                memset(&e, 0, sizeof(e));
                e.type = SR_ENT_STAGE_RUN;
                e.u.sr.pipeline_run_id = id;
                e.u.sr.index = idx[i];
                n = sr_entity_key(&e, key);
                snprintf(want, sizeof(want), "%s/s/%04u", run_s, idx[i]);
                cr_assert(eq(str, key, want));
                cr_assert(eq(sz, n, strlen(want)));
                for (size_t j = 0; j < nidx; j++) {
                        size_t k = (i + 3 * j) % nidx;

                        memset(&e, 0, sizeof(e));
                        e.type = SR_ENT_STAGE_RUN_OPERATION;
                        e.u.op.pipeline_run_id = id;
                        e.u.op.stage_index = idx[i];
                        e.u.op.index = idx[j];
                        n = sr_entity_key(&e, key);
                        snprintf(want, sizeof(want), "%s/o/%04u/%04u", run_s,
                                 idx[i], idx[j]);
                        cr_assert(eq(str, key, want));
                        cr_assert(eq(sz, n, strlen(want)));

                        memset(&e, 0, sizeof(e));
                        e.type = SR_ENT_TARGET_RUN;
                        e.u.tr.pipeline_run_id = id;
                        e.u.tr.stage_index = idx[i];
                        e.u.tr.op_index = idx[j];
                        e.u.tr.target_index = idx[k];
                        n = sr_entity_key(&e, key);
                        snprintf(want, sizeof(want), "%s/t/%04u/%04u/%06u",
                                 run_s, idx[i], idx[j], idx[k]);
                        cr_assert(eq(str, key, want));
                        cr_assert(eq(sz, n, strlen(want)));
                }
        }
}

/* The outputs' arrays grow to the largest input; sr_fsm_out_trim() frees
 * an empty one whose capacity is over the bound, keeps the others. */
Test(sr_fsm, out_trim_frees_only_empty_arrays_over_the_bound)
{
        sr_fsm_out_t o;
        size_t bound = 10 * sizeof(*o.dispatches); /* dispatches: at it */
        uint32_t n_ev = (uint32_t)(bound / sizeof(*o.events)) + 100;

        sr_fsm_out_init(&o);
        o.events = calloc(n_ev, sizeof(*o.events));
        o.cap_events = n_ev;
        o.dispatches = calloc(10, sizeof(*o.dispatches));
        o.cap_dispatches = 10;
        cr_assert(eq(sz, sr_fsm_out_capacity(&o),
                     n_ev * sizeof(*o.events) + bound));
        o.n_events = 1; /* in use: kept however large */
        cr_assert(eq(sz, sr_fsm_out_trim(&o, bound), 0));
        cr_assert(not(eq(ptr, o.events, NULL)));
        sr_fsm_out_reset(&o);
        cr_assert(eq(sz, sr_fsm_out_trim(&o, bound),
                     n_ev * sizeof(*o.events)));
        cr_assert(eq(ptr, o.events, NULL));
        cr_assert(eq(u32, o.cap_events, 0));
        cr_assert(not(eq(ptr, o.dispatches, NULL))); /* not over it */
        cr_assert(eq(u32, o.cap_dispatches, 10));
        sr_fsm_out_fini(&o);
}

/* ---------------------------------------------- fills in steps (targets.md 4) */

/* Apply the StageStep the last input sent (exactly one), as the worker's
 * own partition delivers it. */
static sr_command_t take_step(void)
{
        sr_command_t c;

        cr_assert(eq(u32, out.n_steps, 1), "%u steps", out.n_steps);
        c = out.steps[0];
        return c;
}

static void apply_step(const sr_command_t *c)
{
        cr_assert(eq(int, sr_fsm_apply_command(&run, c, now, &opts, &out),
                     SR_OK));
        cr_assert(not(out.has_reply)); /* nobody waits for a step's */
}

static void check_step(const sr_command_t *c, uint32_t si, uint32_t cursor)
{
        char rid[SR_UUID_STR_LEN + 1];
        sr_uuid_t id;

        sr_uuid_fmt(&run.pr.m.id, rid);
        sr_uuid_v5(&id, &sr_ns, "%s/stage/%u/step/fill/%u", rid, si, cursor);
        cr_assert(eq(int, c->kind, SR_CMD_STAGE_STEP));
        cr_assert(sr_uuid_eq(&c->command_id, &id));
        cr_assert(sr_uuid_eq(&c->pipeline_run_id, &run.pr.m.id));
        cr_assert(eq(str, (char *)c->enterprise_id, run.pr.enterprise_id));
        cr_assert(eq(str, (char *)c->u.step.step, "fill"));
        cr_assert(eq(u32, c->u.step.stage_index, si));
        cr_assert(eq(u32, c->u.step.cursor, cursor));
}

/* A one-stage run whose open stage of @p n targets (chunks of @p per) is
 * sealed with stage.step.targets @p step: the fill's first part made, its
 * StageStep returned. */
static sr_command_t sealed_in_parts(uint32_t n, uint32_t per, uint32_t step)
{
        opts.step_targets = step;
        create_open(1, 0, false);
        append_all(0, n, per);
        seal_all(0, n, per);
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        return take_step();
}

Test(sr_fsm, an_open_stage_is_filled_in_parts_of_stage_step_targets)
{
        sr_command_t c;

        opts.step_targets = 3;
        create_open(1, 0, false);
        append_all(0, 7, 2);
        seal_all(0, 7, 2);
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        /* the seal's input makes the first part and sends the next */
        cr_assert(eq(int, SR(0), SR_ST_PROCESSING));
        cr_assert(eq(u32, run.n_targets, 3));
        cr_assert(eq(u32, count_dispatch(SR_DISPATCH_COMMAND), 3));
        c = take_step();
        check_step(&c, 0, 3);
        now += 5000; /* a part's input later than the first's */
        apply_step(&c);
        cr_assert(eq(u32, run.n_targets, 6));
        /* one deadline for the stage's target runs, the first part's:
         * a part of its own would cost a scan of the stage each time its
         * last open target run ends */
        cr_assert(eq(i64, sr_run_tr(&run, 5)->m.started_at, now));
        cr_assert(eq(i64, sr_run_tr(&run, 5)->m.deadline,
                     sr_run_tr(&run, 0)->m.deadline));
        cr_assert(eq(i64, sr_run_tr(&run, 0)->m.deadline,
                     now - 5000 + SR_TARGET_RUN_TIMEOUT_MS));
        cr_assert(eq(u32, out.n_events, 3 * 3)); /* pending, queued, processing */
        c = take_step();
        check_step(&c, 0, 6);
        apply_step(&c);
        /* the last part: the stage runs, nothing more is sent */
        cr_assert(eq(u32, run.n_targets, 7));
        cr_assert(eq(u32, out.n_steps, 0));
        cr_assert(eq(int, SR(0), SR_ST_RUNNING));
        cr_assert(eq(str, run.stages[0].m.reason, "targets_dispatched"));
        for (uint32_t k = 0; k < 7; k++) {
                sr_uuid_t dev;

                sr_uuid_v5(&dev, &sr_ns, "open-%u", k);
                cr_assert(sr_uuid_eq(&sr_run_tr(&run, k)->device_id, &dev),
                          "target run %u is not chunk order's", k);
                cr_assert(eq(u32, sr_run_tr(&run, k)->target_index, k));
                cr_assert(eq(int, TR(k), SR_ST_PROCESSING));
        }
        cr_assert(eq(u32, run.sidx[0].n_tr, 7));
        finish_stage(0, "SUCCESS");
        cr_assert(eq(int, SR(0), SR_ST_SUCCESS));
        cr_assert(eq(int, PR, SR_ST_SUCCESS));
}

Test(sr_fsm, a_stage_of_several_operations_fills_operation_major_across_parts)
{
        sr_command_t cmd, c;

        opts.step_targets = 4;
        base_cmd(&cmd, SR_CMD_CREATE_RUN);
        make_spec(&cmd.u.create.spec, 1, 2, 1, false);
        free(cmd.u.create.spec.stages[0].targets);
        cmd.u.create.spec.stages[0].targets = NULL;
        cmd.u.create.spec.stages[0].n_targets = 0;
        cmd.u.create.spec.stages[0].append_targets = true;
        cmd.u.create.run_number = 1;
        cr_assert(eq(int, sr_fsm_apply_command(&run, &cmd, now, &opts, &out),
                     SR_OK));
        sr_command_fini(&cmd);
        append_all(0, 5, 3);
        seal_all(0, 5, 3);
        c = take_step();
        check_step(&c, 0, 4);
        /* a restart between two parts: the run reloaded from its records
         * goes on from where it was */
        reload();
        apply_step(&c);
        c = take_step();
        check_step(&c, 0, 8);
        reload();
        apply_step(&c);
        cr_assert(eq(int, SR(0), SR_ST_RUNNING));
        cr_assert(eq(u32, run.n_targets, 10));
        reload(); /* sorted by (stage, op, target): the order made */
        for (uint32_t n = 0; n < 10; n++) {
                sr_uuid_t dev;

                sr_uuid_v5(&dev, &sr_ns, "open-%u", n % 5);
                cr_assert(eq(u32, sr_run_tr(&run, n)->op_index, n / 5));
                cr_assert(eq(u32, sr_run_tr(&run, n)->target_index, n % 5));
                cr_assert(sr_uuid_eq(&sr_run_tr(&run, n)->device_id, &dev));
        }
        finish_stage(0, "SUCCESS");
        cr_assert(eq(int, PR, SR_ST_SUCCESS));
}

Test(sr_fsm, a_step_with_another_cursor_or_repeated_is_stale_and_changes_nothing)
{
        sr_command_t c, wrong;
        uint32_t v;

        c = sealed_in_parts(5, 5, 2);
        v = run.stages[0].m.version;
        wrong = c;
        wrong.u.step.cursor = 0;
        apply_step(&wrong);
        cr_assert(out.stale);
        cr_assert(not(out.applied));
        cr_assert(eq(u32, run.n_targets, 2));
        wrong.u.step.cursor = 4; /* ahead of the fill */
        apply_step(&wrong);
        cr_assert(out.stale);
        wrong = c;
        snprintf(wrong.u.step.step, sizeof(wrong.u.step.step), "cancel");
        apply_step(&wrong);
        cr_assert(out.stale); /* cascades in steps are not built */
        wrong = c;
        wrong.u.step.stage_index = 7;
        apply_step(&wrong);
        cr_assert(out.stale);
        apply_step(&c);
        cr_assert(out.applied);
        cr_assert(eq(u32, run.n_targets, 4));
        apply_step(&c); /* the same step again (a replay): stale */
        cr_assert(out.stale);
        cr_assert(eq(u32, out.n_events, 0));
        cr_assert(eq(u32, run.n_targets, 4));
        cr_assert(eq(u32, run.stages[0].m.version, v));
}

Test(sr_fsm, results_of_early_parts_move_their_targets_and_the_stage_ends_once_filled)
{
        sr_command_t c;

        c = sealed_in_parts(3, 3, 2);
        /* both target runs of the first part end before the rest exist:
         * the stage waits, processing, for its whole set */
        cr_assert(eq(int, result(0, "SUCCESS"), SR_OK));
        cr_assert(eq(int, result(1, "SUCCESS"), SR_OK));
        cr_assert(eq(int, TR(0), SR_ST_SUCCESS));
        cr_assert(eq(int, SR(0), SR_ST_PROCESSING));
        apply_step(&c);
        cr_assert(eq(int, SR(0), SR_ST_RUNNING));
        cr_assert(eq(int, result(2, "SUCCESS"), SR_OK));
        cr_assert(eq(int, SR(0), SR_ST_SUCCESS));
        cr_assert(eq(int, PR, SR_ST_SUCCESS));
}

Test(sr_fsm, a_cancel_in_the_middle_of_a_fill_ends_the_made_part_and_the_next_step_is_stale)
{
        sr_command_t c;

        c = sealed_in_parts(5, 5, 2);
        set_stage(0, "CANCELLED");
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        cr_assert(eq(int, SR(0), SR_ST_CANCELLED));
        cr_assert(eq(u32, run.n_targets, 2));
        cr_assert(eq(u32, count_dispatch(SR_DISPATCH_CANCEL), 2));
        apply_step(&c);
        cr_assert(out.stale);
        cr_assert(eq(u32, run.n_targets, 2));
        cr_assert(eq(int, PR, SR_ST_FAILURE));
}

Test(sr_fsm, a_step_for_another_tenant_or_a_retired_run_is_stale_without_a_reply)
{
        sr_command_t c;

        c = sealed_in_parts(3, 3, 2);
        snprintf(c.enterprise_id, sizeof(c.enterprise_id), "other");
        apply_step(&c);
        cr_assert(out.stale);
        cr_assert(eq(u32, run.n_targets, 2));
}

/* -------------------------------------- cascades in steps (targets.md 4) */

/* Per target run, what happened to it from here on: its events
 * (from>to/reason) and its cancel requests, appended by note_out(). */
#define CASC_N 9
static char casc[CASC_N][512];
static char casc_req[CASC_N][128]; /* its requests (another array) */
static char casc_other[1024]; /* the pipeline and stage runs' events */

static void note_out(void)
{
        for (uint32_t i = 0; i < out.n_events; i++) {
                const sr_event_t *ev = &out.events[i];
                char *dst = casc_other;
                size_t cap = sizeof(casc_other);

                for (uint32_t t = 0; t < run.n_targets && t < CASC_N; t++)
                        if (sr_uuid_eq(&ev->entity_id, &sr_run_tr(&run, t)->m.id)) {
                                dst = casc[t];
                                cap = sizeof(casc[t]);
                        }
                snprintf(dst + strlen(dst), cap - strlen(dst), " %s>%s/%s",
                         sr_status_name(ev->from_status),
                         sr_status_name(ev->to_status), ev->reason);
        }
        for (uint32_t i = 0; i < out.n_dispatches; i++)
                for (uint32_t t = 0; t < run.n_targets && t < CASC_N; t++)
                        if (sr_uuid_eq(&out.dispatches[i].target_run_id,
                                       &sr_run_tr(&run, t)->m.id))
                                snprintf(casc_req[t] + strlen(casc_req[t]),
                                         sizeof(casc_req[t]) -
                                                 strlen(casc_req[t]),
                                         " %s", out.dispatches[i].kind ==
                                         SR_DISPATCH_CANCEL ? "cancel!" :
                                         "command!");
}

/* How the stage (or its run) ends in casc_history(): by a cascade, or by
 * the target runs' own deadline under a stage and run that time out
 * later. */
enum { END_STAGE_CANCEL, END_RUN_CANCEL, END_STAGE_TIMEOUT, END_RUN_TIMEOUT,
       END_TARGET_DEADLINE };

/* casc_history() sends the last target run's result before the steps. */
static bool casc_early_result = true;

/* An open stage of CASC_N targets filled at once, its targets in every
 * status a cascade meets (running, dispatched, processing, success,
 * failure), then ended by @p how: with @p step 0 the cascade is one input;
 * else in parts of @p step, a result for the last target run (which no
 * part has reached yet) and a second delivery of the first step coming
 * before the steps. What each entity went through goes to casc[]. */
static void casc_history(int how, uint32_t step)
{
        sr_command_t pending[8];
        uint32_t n_pending = 0;

        sr_run_fini(&run);
        sr_run_init(&run);
        memset(casc, 0, sizeof(casc));
        memset(casc_req, 0, sizeof(casc_req));
        memset(casc_other, 0, sizeof(casc_other));
        opts.step_targets = 0;
        opts.max.targets = 0;
        spec_timeout_s = how == END_TARGET_DEADLINE ? 30 * 86400 : 0;
        create_open(1, 0, false);
        append_all(0, CASC_N, 4);
        seal_all(0, CASC_N, 4);
        cr_assert(eq(int, SR(0), SR_ST_RUNNING));
        cr_assert(eq(int, result(0, "INPROGRESS"), SR_OK));
        cr_assert(eq(int, result(1, "QUEUED"), SR_OK));
        cr_assert(eq(int, result(2, "SUCCESS"), SR_OK));
        cr_assert(eq(int, result(3, "FAILURE"), SR_OK));
        cr_assert(eq(int, result(8, "INPROGRESS"), SR_OK));
        /* 4..7 processing, 0 and 8 running, 1 dispatched */
        opts.step_targets = step;
        now += 1000;
        switch (how) {
        case END_STAGE_CANCEL:
                set_stage(0, "CANCELLED");
                break;
        case END_RUN_CANCEL:
                set_pipeline("CANCELLED");
                break;
        case END_STAGE_TIMEOUT:
                timer(run.stages[0].m.deadline);
                break;
        case END_RUN_TIMEOUT:
                timer(run.pr.m.deadline);
                break;
        case END_TARGET_DEADLINE:
                cr_assert(lt(i64, sr_run_tr(&run, 0)->m.deadline,
                             run.stages[0].m.deadline));
                now = sr_run_tr(&run, 0)->m.deadline;
                timer(now);
                break;
        }
        note_out();
        for (uint32_t i = 0; i < out.n_steps; i++)
                pending[n_pending++] = out.steps[i];
        now += 1000;
        /* the last target run's result, before any step reached it */
        if (casc_early_result) {
                cr_assert(eq(int, result(8, "SUCCESS"), SR_OK));
                note_out();
                for (uint32_t i = 0; i < out.n_steps; i++)
                        pending[n_pending++] = out.steps[i];
        }
        if (n_pending) { /* the first step twice */
                sr_command_t again = pending[0];

                apply_step(&again);
                note_out();
                for (uint32_t i = 0; i < out.n_steps && n_pending < 8; i++)
                        pending[n_pending++] = out.steps[i];
        }
        for (uint32_t k = 1; k < n_pending; k++) {
                sr_command_t c = pending[k];

                if (k > 1 && sr_uuid_eq(&c.command_id,
                                        &pending[k - 1].command_id))
                        continue; /* the dedupe drops a same id */
                apply_step(&c);
                note_out();
                for (uint32_t i = 0; i < out.n_steps && n_pending < 8; i++)
                        pending[n_pending++] = out.steps[i];
        }
        /* the running one that a cancel leaves running ends by its result */
        cr_assert(eq(int, result(0, "SUCCESS"), SR_OK));
        note_out();
}

static void casc_same_as_at_once(int how)
{
        char once[CASC_N][512], req[CASC_N][128], other[1024];
        sr_status_t final[CASC_N];

        casc_history(how, 0);
        memcpy(once, casc, sizeof(once));
        memcpy(req, casc_req, sizeof(req));
        memcpy(other, casc_other, sizeof(other));
        for (uint32_t t = 0; t < CASC_N; t++)
                final[t] = TR(t);
        casc_history(how, 2);
        cr_assert(eq(str, casc_other, other));
        for (uint32_t t = 0; t < CASC_N; t++) {
                cr_assert(eq(str, casc[t], once[t]),
                          "target run %u: in steps \"%s\", at once \"%s\"",
                          t, casc[t], once[t]);
                cr_assert(eq(str, casc_req[t], req[t]),
                          "target run %u: requests in steps \"%s\", at "
                          "once \"%s\"", t, casc_req[t], req[t]);
                cr_assert(eq(int, TR(t), final[t]));
                cr_assert(sr_status_is_terminal(TR(t)) ||
                                  TR(t) == SR_ST_RUNNING,
                          "target run %u left %s", t,
                          sr_status_name(TR(t)));
        }
        /* every target run of the stage was reached: nothing owed */
        for (uint32_t t = 0; t < CASC_N; t++)
                cr_assert(sr_status_is_terminal(TR(t)) ||
                          sr_run_tr(&run, t)->cancel_requested);
}

Test(sr_fsm, a_stage_cancel_in_steps_ends_each_target_run_as_at_once)
{
        casc_same_as_at_once(END_STAGE_CANCEL);
}

Test(sr_fsm, a_pipeline_cancel_in_steps_ends_each_target_run_as_at_once)
{
        casc_same_as_at_once(END_RUN_CANCEL);
}

Test(sr_fsm, a_stage_timeout_in_steps_ends_each_target_run_as_at_once)
{
        casc_same_as_at_once(END_STAGE_TIMEOUT);
}

Test(sr_fsm, a_pipeline_timeout_in_steps_ends_each_target_run_as_at_once)
{
        casc_same_as_at_once(END_RUN_TIMEOUT);
}

/* The target runs' own deadline in steps (docs/targets.md section 4):
 * with nothing between its parts, each target run ends as at once. */
Test(sr_fsm, a_target_deadline_in_steps_ends_each_target_run_as_at_once)
{
        casc_early_result = false;
        casc_same_as_at_once(END_TARGET_DEADLINE);
        cr_assert(eq(int, SR(0), SR_ST_FAILURE));
        cr_assert(eq(str, run.stages[0].m.reason, "target_failed"));
        cr_assert(eq(int, TR(8), SR_ST_TIMEOUT));
        cr_assert(eq(str, sr_run_tr(&run, 8)->m.reason, "timeout"));
}

/* Unlike a cascade, the deadline is owed by no status: a result that
 * reaches a target run before its part does counts, as one before a late
 * timer would. At once, the same result finds it timed out. */
Test(sr_fsm, a_result_before_the_deadline_part_reaches_its_target_run_counts)
{
        casc_history(END_TARGET_DEADLINE, 0);
        cr_assert(eq(int, TR(8), SR_ST_TIMEOUT));
        casc_history(END_TARGET_DEADLINE, 2);
        cr_assert(eq(int, TR(8), SR_ST_SUCCESS));
        cr_assert(eq(int, TR(7), SR_ST_TIMEOUT));
        cr_assert(eq(int, SR(0), SR_ST_FAILURE));
        cr_assert(eq(int, PR, SR_ST_FAILURE));
}

/* The defect of docs/targets.md section 4 ("found 2026-12-06"): with the
 * default timeouts a stage and its target runs time out at one instant,
 * and that input moved every target run. Now the stage's cascade does it,
 * in parts, and no deadline chain runs beside it. */
Test(sr_fsm, a_stage_timing_out_with_its_target_runs_moves_one_part_per_input)
{
        sr_command_t c;
        uint32_t inputs = 1;

        opts.step_targets = 2;
        create(1, 1, 7, false);
        cr_assert(eq(i64, sr_run_tr(&run, 0)->m.deadline, run.stages[0].m.deadline));
        now = run.stages[0].m.deadline;
        timer(now);
        cr_assert(eq(int, SR(0), SR_ST_TIMEOUT));
        /* the stage, the pipeline run, two target runs */
        expect_events("s0:timeout t0:timeout t1:timeout p:complete "
                      "p:failure");
        c = take_step();
        cr_assert(eq(str, (char *)c.u.step.step, "timeout"));
        for (;;) {
                apply_step(&c);
                inputs++;
                cr_assert(le(u32, out.n_events, 2));
                if (!out.n_steps)
                        break;
                c = take_step();
                cr_assert(eq(str, (char *)c.u.step.step, "timeout"));
        }
        cr_assert(eq(u32, inputs, 4));
        for (uint32_t t = 0; t < 7; t++) {
                cr_assert(eq(int, TR(t), SR_ST_TIMEOUT));
                cr_assert(eq(str, sr_run_tr(&run, t)->m.reason,
                             "stage_run_timeout"));
        }
}

/* A stage that times out after its target runs (a longer timeout_seconds):
 * their deadline times them out in parts, the stage rolls up at the last
 * one. */
Test(sr_fsm, a_target_deadline_before_the_stage_s_moves_one_part_per_input)
{
        sr_command_t c;
        char rid[SR_UUID_STR_LEN + 1];
        sr_uuid_t id;

        opts.step_targets = 2;
        spec_timeout_s = 30 * 86400;
        create(1, 1, 5, false);
        now = sr_run_tr(&run, 0)->m.deadline;
        timer(now);
        expect_events("t0:timeout t1:timeout");
        cr_assert(eq(u32, count_dispatch(SR_DISPATCH_CANCEL), 2));
        cr_assert(eq(int, SR(0), SR_ST_RUNNING));
        c = take_step();
        sr_uuid_fmt(&run.pr.m.id, rid);
        sr_uuid_v5(&id, &sr_ns, "%s/stage/0/step/deadline/2", rid);
        cr_assert(sr_uuid_eq(&c.command_id, &id));
        cr_assert(eq(u32, c.u.step.cursor, 2));
        cr_assert(eq(i64, c.issued_at, now));
        apply_step(&c);
        expect_events("t2:timeout t3:timeout");
        c = take_step();
        apply_step(&c);
        expect_events("t4:timeout s0:complete s0:failure p:complete "
                      "p:failure");
        cr_assert(eq(u32, out.n_steps, 0));
        cr_assert(eq(str, run.stages[0].m.reason, "target_failed"));
}

/* Target runs a cancel left running (their devices never answer) time out
 * at their deadline in parts too, under a stage and run already ended. */
Test(sr_fsm, running_target_runs_left_by_a_cancel_time_out_in_parts)
{
        sr_command_t c;
        uint32_t steps = 0;

        create(1, 1, 5, false);
        for (uint32_t t = 0; t < 5; t++)
                cr_assert(eq(int, result(t, "INPROGRESS"), SR_OK));
        set_pipeline("CANCELLED");
        cr_assert(eq(int, PR, SR_ST_CANCELLED));
        cr_assert(eq(u32, count_dispatch(SR_DISPATCH_CANCEL), 5));
        opts.step_targets = 2;
        now = sr_run_tr(&run, 0)->m.deadline;
        timer(now);
        expect_events("t0:timeout t1:timeout");
        cr_assert(eq(u32, out.n_dispatches, 0)); /* cancels already sent */
        while (out.n_steps) {
                c = take_step();
                cr_assert(eq(str, (char *)c.u.step.step, "deadline"));
                apply_step(&c);
                steps++;
        }
        cr_assert(eq(u32, steps, 2));
        for (uint32_t t = 0; t < 5; t++)
                cr_assert(eq(int, TR(t), SR_ST_TIMEOUT));
        cr_assert(eq(int, SR(0), SR_ST_CANCELLED));
        cr_assert(eq(int, PR, SR_ST_CANCELLED));
        cr_assert(eq(i64, run.pr.next_deadline, 0));
}

Test(sr_fsm, a_deadline_step_with_nothing_due_or_owed_a_timeout_is_stale)
{
        sr_command_t c, early;
        int64_t dl;

        opts.step_targets = 2;
        spec_timeout_s = 30 * 86400;
        create(1, 1, 5, false);
        dl = sr_run_tr(&run, 0)->m.deadline;
        now = dl;
        timer(now);
        c = take_step();
        /* the same step at an instant before the deadline: nothing due */
        early = c;
        now = dl - 1;
        apply_step(&early);
        cr_assert(out.stale);
        cr_assert(eq(int, TR(2), SR_ST_PROCESSING));
        now = dl;
        early = c;
        early.u.step.cursor = 5; /* past the stage */
        apply_step(&early);
        cr_assert(out.stale);
        /* the stage cancelled and timed out meanwhile: its timeout
         * cascade's steps do the rest, the deadline's are stale */
        timer(run.stages[0].m.deadline);
        cr_assert(eq(int, SR(0), SR_ST_TIMEOUT));
        apply_step(&c);
        cr_assert(out.stale);
        cr_assert(eq(u32, out.n_steps, 0));
}

Test(sr_fsm, a_cascade_sends_one_step_per_part_and_a_replayed_part_changes_nothing)
{
        sr_command_t c, c2;

        opts.step_targets = 0;
        create_open(1, 0, false);
        append_all(0, 5, 5);
        seal_all(0, 5, 5);
        opts.step_targets = 2;
        set_stage(0, "CANCELLED");
        /* the stage at once, two of its five target runs in this input */
        cr_assert(eq(int, SR(0), SR_ST_CANCELLED));
        cr_assert(eq(u32, count_dispatch(SR_DISPATCH_CANCEL), 2));
        c = take_step();
        cr_assert(eq(str, (char *)c.u.step.step, "cancel"));
        cr_assert(eq(u32, c.u.step.cursor, 2));
        apply_step(&c);
        cr_assert(eq(u32, count_dispatch(SR_DISPATCH_CANCEL), 2));
        c2 = take_step();
        cr_assert(eq(u32, c2.u.step.cursor, 4));
        apply_step(&c);
        /* its target runs were reached: nothing but the same next step
         * (the same id, which the worker's dedupe drops); a part whose
         * target runs all ended by results meanwhile is no different,
         * and must still hand on */
        cr_assert(eq(u32, out.n_events, 0));
        cr_assert(eq(u32, out.n_dispatches, 0));
        cr_assert(eq(u32, out.n_steps, 1));
        cr_assert(sr_uuid_eq(&out.steps[0].command_id, &c2.command_id));
        apply_step(&c2);
        cr_assert(eq(u32, out.n_steps, 0)); /* the last part */
        for (uint32_t t = 0; t < 5; t++)
                cr_assert(eq(int, TR(t), SR_ST_CANCELLED));
        cr_assert(eq(int, PR, SR_ST_FAILURE));
}

Test(sr_fsm, a_seal_claiming_more_chunks_than_targets_or_the_limit_is_refused_at_once)
{
        uint8_t d[SR_DIGEST_LEN] = { 0 };

        opts.max.targets = 1000;
        create_open(1, 0, false);
        append_all(0, 3, 3);
        /* 2^31 - 1 chunks: refused without looking at 2^31 indexes */
        seal_stage(0, 0x7fffffffu, 5, d);
        expect_reject(SR_REJECT_INVALID_VALUE, "a chunk holds at least one");
        seal_stage(0, 2, 2000, d);
        expect_reject(SR_REJECT_INVALID_VALUE, "(stage.max.targets)");
        seal_stage(0, 1, 0, d);
        expect_reject(SR_REJECT_INVALID_VALUE, "1 chunks of 0 targets");
        /* a large claim within the limit costs the chunks applied: it
         * names what is missing from them */
        seal_stage(0, 1000, 1000, d);
        expect_reject(SR_REJECT_SEAL_MISMATCH, "chunks 1-999 are missing");
        cr_assert(not(run.stages[0].sealed));
}

Test(sr_fsm, a_pipeline_cancel_sends_no_steps_over_a_stage_whose_target_runs_all_ended)
{
        opts.step_targets = 1;
        create(2, 1, 3, false);
        finish_stage(0, "SUCCESS");
        cr_assert(eq(int, SR(0), SR_ST_SUCCESS));
        set_pipeline("CANCELLED");
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        /* stage 0 owes nothing: no chain of steps that change nothing
         * (the reference model's differential test found it) */
        cr_assert(eq(u32, out.n_steps, 0));
        cr_assert(eq(int, PR, SR_ST_CANCELLED));
}

/* ------------------------- a target run's device command (phase D) */

/* TargetCommand{@p action} on target run @p ti, naming its command id
 * (@p other: another one). */
static void target_cmd(uint32_t ti, const char *action, bool other)
{
        sr_command_t cmd;

        base_cmd(&cmd, SR_CMD_TARGET_COMMAND);
        cmd.u.tcmd.target_run_id = sr_run_tr(&run, ti)->m.id;
        cmd.u.tcmd.command_id = sr_run_tr(&run, ti)->command_id;
        if (other)
                sr_uuid_v5(&cmd.u.tcmd.command_id, &sr_ns, "other-command");
        snprintf(cmd.u.tcmd.action, sizeof(cmd.u.tcmd.action), "%s", action);
        cr_assert(eq(int, sr_fsm_apply_command(&run, &cmd, now, &opts, &out),
                     SR_OK));
        cr_assert(out.has_reply);
}

Test(sr_fsm, a_command_cancel_before_dispatch_cancels_the_target_run)
{
        create(1, 1, 2, false);
        cr_assert(eq(int, TR(0), SR_ST_PROCESSING));
        target_cmd(0, "cancel", false);
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        expect_events("t0:cancelled");
        cr_assert(eq(str, sr_run_tr(&run, 0)->m.reason, "cancelled_by_user"));
        cr_assert(eq(u32, count_dispatch(SR_DISPATCH_CANCEL), 1));
        cr_assert(eq(int, result(1, "SUCCESS"), SR_OK));
        cr_assert(eq(int, SR(0), SR_ST_FAILURE)); /* a target run cancelled */
}

Test(sr_fsm, a_command_cancel_after_dispatch_requests_the_cancel_once_and_the_result_ends_it)
{
        uint32_t v;

        create(1, 1, 1, false);
        cr_assert(eq(int, result(0, "INPROGRESS"), SR_OK));
        v = sr_run_tr(&run, 0)->m.version;
        target_cmd(0, "cancel", false);
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        cr_assert(eq(u32, out.n_events, 0)); /* still running */
        /* a new version, named by the reply: a read after it sees it */
        cr_assert(eq(u32, sr_run_tr(&run, 0)->m.version, v + 1));
        cr_assert(eq(u32, out.reply.versions[1].version, v + 1));
        cr_assert(eq(int, TR(0), SR_ST_RUNNING));
        cr_assert(eq(u32, count_dispatch(SR_DISPATCH_CANCEL), 1));
        cr_assert(sr_run_tr(&run, 0)->cancel_requested);
        cr_assert(sr_uuid_eq(&out.dispatches[0].command_id,
                             &sr_run_tr(&run, 0)->command_id));
        /* again: accepted, no second request */
        target_cmd(0, "cancel", false);
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        cr_assert(eq(u32, out.n_dispatches, 0));
        cr_assert(out.stale);
        cr_assert(eq(u32, sr_run_tr(&run, 0)->m.version, v + 1));
        cr_assert(eq(int, result(0, "CANCELLED"), SR_OK));
        cr_assert(eq(int, TR(0), SR_ST_FAILURE));
        cr_assert(eq(int, PR, SR_ST_FAILURE));
        /* ended: a cancel of it is refused, naming the status */
        target_cmd(0, "cancel", false);
        expect_reject(SR_REJECT_ILLEGAL_TRANSITION, "a final status");
}

Test(sr_fsm, a_command_resend_publishes_the_same_command_while_processing_or_dispatched)
{
        create(1, 1, 1, false);
        target_cmd(0, "resend", false);
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        cr_assert(eq(u32, out.n_events, 0));
        cr_assert(eq(u32, count_dispatch(SR_DISPATCH_COMMAND), 1));
        cr_assert(sr_uuid_eq(&out.dispatches[0].command_id,
                             &sr_run_tr(&run, 0)->command_id));
        cr_assert(eq(int, result(0, "QUEUED"), SR_OK));
        target_cmd(0, "resend", false);
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        cr_assert(eq(u32, count_dispatch(SR_DISPATCH_COMMAND), 1));
        cr_assert(eq(int, result(0, "INPROGRESS"), SR_OK));
        target_cmd(0, "resend", false);
        expect_reject(SR_REJECT_ILLEGAL_TRANSITION,
                      "only while processing or dispatched");
}

Test(sr_fsm, a_command_resend_after_its_cancel_was_requested_is_refused)
{
        create(1, 1, 1, false);
        cr_assert(eq(int, result(0, "QUEUED"), SR_OK));
        target_cmd(0, "cancel", false);
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        target_cmd(0, "resend", false);
        expect_reject(SR_REJECT_ILLEGAL_TRANSITION, "its cancel requested");
}

Test(sr_fsm, a_target_command_naming_another_command_or_action_is_refused)
{
        sr_command_t cmd;

        create(1, 1, 1, false);
        target_cmd(0, "cancel", true);
        expect_reject(SR_REJECT_NOT_FOUND, "is not target run");
        target_cmd(0, "pause", false);
        expect_reject(SR_REJECT_INVALID_VALUE, "want \"cancel\" or");
        cr_assert(eq(int, TR(0), SR_ST_PROCESSING));
        base_cmd(&cmd, SR_CMD_TARGET_COMMAND);
        sr_uuid_v5(&cmd.u.tcmd.target_run_id, &sr_ns, "no-such-target");
        snprintf(cmd.u.tcmd.action, sizeof(cmd.u.tcmd.action), "cancel");
        cr_assert(eq(int, sr_fsm_apply_command(&run, &cmd, now, &opts, &out),
                     SR_OK));
        expect_reject(SR_REJECT_NOT_FOUND, "not found in pipeline run");
}

/* ------------------------------------------- AddTargetRun (phase D) */

/* AddTargetRun of device "late-@p n" to stage run @p si. */
static void add_device(uint32_t si, int n)
{
        sr_command_t cmd;

        base_cmd(&cmd, SR_CMD_ADD_TARGET_RUN);
        cmd.u.add.stage_run_id = run.stages[si].m.id;
        sr_uuid_v5(&cmd.u.add.device_id, &sr_ns, "late-%d", n);
        sr_uuid_v5(&cmd.u.add.target_id, &sr_ns, "late-target-%d", n);
        snprintf(cmd.u.add.device_name, sizeof(cmd.u.add.device_name),
                 "late-%d", n);
        cr_assert(eq(int, sr_fsm_apply_command(&run, &cmd, now, &opts, &out),
                     SR_OK));
        cr_assert(out.has_reply);
}

/* The order a load gives (stage, operation, target index), and the hash
 * finds every target run where it is. */
static void expect_load_order(void)
{
        for (uint32_t i = 0; i < run.n_targets; i++) {
                const sr_target_run_t *t = sr_run_tr(&run, i);

                cr_assert(eq(ptr, sr_run_find_target(&run, &t->m.id),
                             (void *)t), "target run %u", i);
                if (!i)
                        continue;
                cr_assert(t[-1].stage_index < t->stage_index ||
                                  (t[-1].stage_index == t->stage_index &&
                                   (t[-1].op_index < t->op_index ||
                                    (t[-1].op_index == t->op_index &&
                                     t[-1].target_index < t->target_index))),
                          "target runs %u and %u out of order", i - 1, i);
        }
}

Test(sr_fsm, a_device_added_to_a_running_stage_gets_a_target_run_per_operation_dispatched)
{
        sr_uuid_t dev, want;
        char rid[SR_UUID_STR_LEN + 1], d[SR_UUID_STR_LEN + 1];

        create(1, 2, 2, false);
        cr_assert(eq(int, SR(0), SR_ST_RUNNING));
        add_device(0, 1);
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        /* op 0's new one at position 2, op 1's at 5 (target index 2) */
        cr_assert(eq(u32, run.n_targets, 6));
        cr_assert(eq(u32, run.sidx[0].n_tr, 6));
        expect_events("t2:pending t2:queued t2:processing t5:pending "
                      "t5:queued t5:processing");
        cr_assert(eq(u32, count_dispatch(SR_DISPATCH_COMMAND), 2));
        sr_uuid_v5(&dev, &sr_ns, "late-1");
        sr_uuid_fmt(&run.pr.m.id, rid);
        sr_uuid_fmt(&dev, d);
        for (uint32_t j = 0; j < 2; j++) {
                const sr_target_run_t *t = sr_run_tr(&run, j ? 5 : 2);

                cr_assert(eq(u32, t->op_index, j));
                cr_assert(eq(u32, t->target_index, 2));
                cr_assert(sr_uuid_eq(&t->device_id, &dev));
                cr_assert(eq(str, (char *)t->device_name, "late-1"));
                /* named by the device, as an open stage's are */
                sr_uuid_v5(&want, &sr_ns, "%s/stage/0/device/%s/op/%u", rid,
                           d, j);
                cr_assert(sr_uuid_eq(&t->m.id, &want));
                /* the stage's shared deadline */
                cr_assert(eq(i64, t->m.deadline, sr_run_tr(&run, 0)->m.deadline));
        }
        cr_assert(sr_uuid_eq(&out.reply.versions[1].entity_id,
                             &sr_run_tr(&run, 5)->m.id));
        cr_assert(eq(u32, run.n_tr_status[SR_ST_PROCESSING], 6));
        expect_load_order();
        /* a second device: target index 3 */
        add_device(0, 2);
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        cr_assert(eq(u32, sr_run_tr(&run, 3)->target_index, 3));
        cr_assert(eq(u32, sr_run_tr(&run, 7)->target_index, 3));
        expect_load_order();
}

Test(sr_fsm, a_stage_with_a_late_device_waits_for_its_target_runs_then_succeeds)
{
        create(1, 1, 2, false);
        add_device(0, 1);
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        cr_assert(eq(int, result(0, "SUCCESS"), SR_OK));
        cr_assert(eq(int, result(1, "SUCCESS"), SR_OK));
        cr_assert(eq(int, SR(0), SR_ST_RUNNING));
        cr_assert(eq(int, result(2, "SUCCESS"), SR_OK));
        cr_assert(eq(int, SR(0), SR_ST_SUCCESS));
        cr_assert(eq(int, PR, SR_ST_SUCCESS));
}

Test(sr_fsm, a_late_device_added_to_a_pending_stage_is_refused_naming_where_to_add_it)
{
        create(2, 1, 1, false);
        add_device(1, 1);
        expect_reject(SR_REJECT_ILLEGAL_TRANSITION,
                      "created when it is processed");
        cr_assert(strstr(out.reply.message, "run spec") != NULL);
}

Test(sr_fsm, a_late_device_added_to_a_final_stage_is_refused_naming_its_status)
{
        create(2, 1, 1, false);
        finish_stage(0, "SUCCESS");
        cr_assert(eq(int, SR(0), SR_ST_SUCCESS));
        add_device(0, 1);
        expect_reject(SR_REJECT_ILLEGAL_TRANSITION, "is success, a final");
}

Test(sr_fsm, a_late_device_added_to_a_final_pipeline_run_is_refused_naming_its_status)
{
        create(1, 1, 1, false);
        set_pipeline("cancelled");
        add_device(0, 1);
        expect_reject(SR_REJECT_ILLEGAL_TRANSITION,
                      "is cancelled, a final status");
}

Test(sr_fsm, a_late_device_added_to_an_open_stage_before_its_seal_is_refused)
{
        create_open(1, 0, false);
        cr_assert(eq(int, SR(0), SR_ST_PROCESSING));
        add_device(0, 1);
        expect_reject(SR_REJECT_ILLEGAL_TRANSITION,
                      "its targets come in chunks");
}

Test(sr_fsm, a_late_device_added_while_an_open_stage_is_filled_in_steps_is_refused)
{
        opts.step_targets = 2;
        create_open(1, 0, false);
        append_all(0, 5, 5);
        seal_all(0, 5, 5);
        cr_assert(eq(int, SR(0), SR_ST_PROCESSING));
        add_device(0, 1);
        expect_reject(SR_REJECT_ILLEGAL_TRANSITION, "being created");
}

Test(sr_fsm, a_late_device_added_to_a_sealed_running_open_stage_is_accepted)
{
        create_open(1, 0, false);
        append_all(0, 3, 2);
        seal_all(0, 3, 2);
        cr_assert(eq(int, SR(0), SR_ST_RUNNING));
        add_device(0, 1);
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        cr_assert(eq(u32, run.sidx[0].n_tr, 4));
        expect_load_order();
}

Test(sr_fsm, a_device_already_in_the_stage_is_a_duplicate_target)
{
        create(1, 2, 2, false);
        add_device(0, 1);
        cr_assert(out.reply.accepted, "%s", out.reply.message);
        add_device(0, 1);
        expect_reject(SR_REJECT_DUPLICATE_TARGET, "already a target");
        cr_assert(eq(u32, run.n_targets, 6));
}

Test(sr_fsm, a_late_device_over_stage_max_targets_is_too_large)
{
        opts.max.targets = 2;
        create(1, 1, 2, false);
        add_device(0, 1);
        expect_reject(SR_REJECT_TOO_LARGE, "stage.max.targets (2)");
        cr_assert(eq(u32, run.n_targets, 2));
}

Test(sr_fsm, a_late_device_while_the_stages_target_runs_time_out_is_refused)
{
        create(1, 1, 1, false);
        now += SR_TARGET_RUN_TIMEOUT_MS;
        add_device(0, 1);
        expect_reject(SR_REJECT_ILLEGAL_TRANSITION, "being ended");
}

Test(sr_fsm, a_late_device_for_an_unknown_stage_run_is_not_found)
{
        sr_command_t cmd;

        create(1, 1, 1, false);
        base_cmd(&cmd, SR_CMD_ADD_TARGET_RUN);
        sr_uuid_v5(&cmd.u.add.stage_run_id, &sr_ns, "no-such-stage");
        snprintf(cmd.u.add.device_name, sizeof(cmd.u.add.device_name), "x");
        cr_assert(eq(int, sr_fsm_apply_command(&run, &cmd, now, &opts, &out),
                     SR_OK));
        expect_reject(SR_REJECT_NOT_FOUND, "not found in pipeline run");
}
