/* tests/unit/domain/test_sr_fsm_table.c - the transition table (sr_fsm_table.c)
 * enumerated: its shape follows domain.md, every (row, from) pair is
 * reached by the rules, the rules make no transition outside it, and a
 * move outside it fails the step. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_fsm.h"
#include "sr_sha256.h"

TestSuite(sr_fsm_table, .timeout = 60.0);

Test(sr_fsm_table, terminal_statuses_are_absorbing_and_complete_is_transient)
{
        size_t n;
        const sr_fsm_transition_t *t = sr_fsm_transitions(&n);

        cr_assert(gt(sz, n, 0));
        for (size_t i = 0; i < n; i++) {
                for (int s = 0; s < SR_ST__COUNT; s++) {
                        if (!(t[i].from & (1u << s)))
                                continue;
                        cr_assert(not(sr_status_is_terminal((sr_status_t)s)),
                                  "row %zu leaves the final status %s", i,
                                  sr_status_name((sr_status_t)s));
                        if (s == SR_ST_COMPLETE)
                                cr_assert(t[i].to == SR_ST_SUCCESS ||
                                                  t[i].to == SR_ST_FAILURE,
                                          "row %zu: complete -> %s", i,
                                          sr_status_name(t[i].to));
                        if (s == SR_ST_NONE)
                                cr_assert(eq(int, t[i].to, SR_ST_PENDING),
                                          "row %zu creates in %s", i,
                                          sr_status_name(t[i].to));
                }
                cr_assert(t[i].from != 0, "row %zu has no from-status", i);
                cr_assert(t[i].to != SR_ST_NONE);
                cr_assert(t[i].reason[0] != '\0', "row %zu has no reason", i);
                cr_assert(lt(sz, strlen(t[i].reason), SR_SHORT_MAX));
                /* complete is entered only to be left for success/failure
                 * under the same reason */
                if (t[i].to == SR_ST_COMPLETE) {
                        bool left = false;

                        for (size_t j = 0; j < n; j++)
                                left |= t[j].entity == t[i].entity &&
                                        t[j].from == (1u << SR_ST_COMPLETE) &&
                                        !strcmp(t[j].reason, t[i].reason);
                        cr_assert(left, "row %zu enters complete (%s) with "
                                  "no way out", i, t[i].reason);
                }
        }
}

Test(sr_fsm_table, find_refuses_what_domain_md_does_not_list)
{
        cr_assert_not_null(sr_fsm_transition_find(
                SR_ENT_STAGE_RUN, SR_ST_PENDING, SR_ST_QUEUED, "promoted"));
        /* a right pair with a reason of another row */
        cr_assert_null(sr_fsm_transition_find(
                SR_ENT_STAGE_RUN, SR_ST_PENDING, SR_ST_QUEUED, "timeout"));
        cr_assert_null(sr_fsm_transition_find(SR_ENT_TARGET_RUN,
                                              SR_ST_SUCCESS, SR_ST_RUNNING,
                                              "command_running"));
        cr_assert_null(sr_fsm_transition_find(SR_ENT_TARGET_RUN,
                                              SR_ST_RUNNING, SR_ST_CANCELLED,
                                              "stage_run_cancelled"));
        cr_assert_null(sr_fsm_transition_find(SR_ENT_TARGET_RUN,
                                              SR_ST_PENDING, SR_ST_COMPLETE,
                                              "command_succeeded"));
        cr_assert_null(sr_fsm_transition_find(SR_ENT_PIPELINE_RUN,
                                              SR_ST_WAITING, SR_ST_COMPLETE,
                                              "all_stages_succeeded"));
        /* a row of another entity */
        cr_assert_null(sr_fsm_transition_find(SR_ENT_PIPELINE_RUN,
                                              SR_ST_PROCESSING, SR_ST_INVALID,
                                              "no_targets"));
}

/* ------------------------------------------------------ random runs */

static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return (uint32_t)(rng % n);
}

typedef struct world {
        sr_run_t run;
        sr_fsm_out_t out;
        int64_t now;
        int n_inputs;
        bool covered[64][SR_ST__COUNT];
} world_t;

static void base_cmd(world_t *w, sr_command_t *cmd, sr_cmd_kind_t kind)
{
        memset(cmd, 0, sizeof(*cmd));
        cmd->kind = kind;
        sr_uuid_v5(&cmd->command_id, &sr_ns, "table-cmd-%d", ++w->n_inputs);
        sr_uuid_v5(&cmd->pipeline_run_id, &sr_ns, "table-run");
        snprintf(cmd->enterprise_id, sizeof(cmd->enterprise_id), "acme");
        cmd->issued_at = w->now;
}

/* Every event of the last step must be a row; mark (row, from). */
static void record(world_t *w)
{
        size_t n;
        const sr_fsm_transition_t *t0 = sr_fsm_transitions(&n);

        for (uint32_t i = 0; i < w->out.n_events; i++) {
                const sr_event_t *ev = &w->out.events[i];
                const sr_fsm_transition_t *t = sr_fsm_transition_find(
                        ev->entity_type, ev->from_status, ev->to_status,
                        ev->reason);

                cr_assert_not_null(t, "event %s -> %s (%s) of entity type "
                                   "%d is no row",
                                   sr_status_name(ev->from_status),
                                   sr_status_name(ev->to_status), ev->reason,
                                   (int)ev->entity_type);
                w->covered[t - t0][ev->from_status] = true;
        }
}

/* The fill timeout, drawn per run (create()): off, or shorter or longer
 * than a stage's own timeout, so an open stage that is never sealed ends
 * either way. */
static sr_fsm_opts_t opts;

static void apply(world_t *w, sr_command_t *cmd)
{
        sr_err_t err = sr_fsm_apply_command(&w->run, cmd, w->now, &opts,
                                            &w->out);

        cr_assert(eq(int, err, SR_OK), "%s", w->out.illegal);
        record(w);
        sr_command_fini(cmd);
}

static void create(world_t *w)
{
        static const int64_t stage_timeouts[] = { 0, 3600, 30 * 86400 };
        static const int64_t run_timeouts[] = { 0, 7200, 60 * 86400 };
        static const int64_t fill_timeouts[] = { 0, 1800 * 1000,
                                                 5 * 3600 * 1000 };
        sr_command_t cmd;
        sr_runspec_t *spec = &cmd.u.create.spec;

        opts.fill_timeout_ms = fill_timeouts[rnd(3)];
        base_cmd(w, &cmd, SR_CMD_CREATE_RUN);
        sr_uuid_v5(&spec->pipeline_id, &sr_ns, "table-pipeline");
        snprintf(spec->pipeline_name, sizeof(spec->pipeline_name), "p");
        spec->auto_promote = rnd(2);
        spec->timeout_seconds = run_timeouts[rnd(3)];
        spec->n_stages = rnd(4); /* 0 stages: invalid */
        spec->stages = calloc(spec->n_stages + 1, sizeof(*spec->stages));
        for (uint32_t i = 0; i < spec->n_stages; i++) {
                sr_spec_stage_t *s = &spec->stages[i];

                s->timeout_seconds = stage_timeouts[rnd(3)];
                /* mostly non-empty; sometimes no ops or no targets */
                s->n_ops = rnd(8) ? 1 + rnd(2) : 0;
                s->n_targets = rnd(8) ? 1 + rnd(3) : 0;
                /* one in four open: targets in chunks (random_input) */
                if (!rnd(4)) {
                        s->append_targets = true;
                        s->n_targets = 0;
                }
                s->ops = calloc(s->n_ops + 1, sizeof(*s->ops));
                for (uint32_t j = 0; j < s->n_ops; j++) {
                        snprintf(s->ops[j].operation_type,
                                 sizeof(s->ops[j].operation_type), "INSTALL");
                        s->ops[j].args_json = strdup("{}");
                }
                s->targets = calloc(s->n_targets + 1, sizeof(*s->targets));
                for (uint32_t k = 0; k < s->n_targets; k++)
                        sr_uuid_v5(&s->targets[k].device_id, &sr_ns,
                                   "dev-%u-%u", i, k);
        }
        cmd.u.create.run_number = 1;
        apply(w, &cmd);
}

/* A chunk (mostly the next index, sometimes one already applied, once in
 * a while empty) or a seal (mostly right, sometimes a count off). */
static void open_input(world_t *w, uint32_t si)
{
        const sr_stage_run_t *s = &w->run.stages[si];
        sr_command_t cmd;

        if (rnd(3)) {
                uint32_t n = rnd(6) ? 1 + rnd(2) : 0;

                base_cmd(w, &cmd, SR_CMD_APPEND_TARGETS);
                cmd.u.append.stage_index = si;
                cmd.u.append.chunk = rnd(4) ? s->chunks_applied :
                                              rnd(s->chunks_applied + 1);
                cmd.u.append.n_targets = n;
                cmd.u.append.targets = calloc(n + 1, sizeof(sr_spec_target_t));
                for (uint32_t i = 0; i < n; i++)
                        sr_uuid_v5(&cmd.u.append.targets[i].device_id, &sr_ns,
                                   "odev-%u-%d-%u", si, w->n_inputs, i);
                sr_sha256(cmd.u.append.targets,
                          n * sizeof(sr_spec_target_t), cmd.u.append.digest);
        } else {
                sr_sha256_ctx_t c;

                base_cmd(w, &cmd, SR_CMD_SEAL_TARGETS);
                cmd.u.seal.stage_index = si;
                cmd.u.seal.chunks = s->chunks_applied;
                cmd.u.seal.count = s->targets_appended + (rnd(5) ? 0 : 1);
                sr_sha256_init(&c);
                for (uint32_t k = 0; k < s->chunks_applied; k++) {
                        int64_t at = sr_run_find_chunk(&w->run, si, k);

                        if (at >= 0)
                                sr_sha256_update(&c, w->run.chunks[at].digest,
                                                 SR_DIGEST_LEN);
                }
                sr_sha256_final(&c, cmd.u.seal.digest);
        }
        apply(w, &cmd);
}

static void random_input(world_t *w)
{
        static const char *const cmdst[] = { "QUEUED",    "INITIATED",
                                             "INPROGRESS", "SUCCESS",
                                             "FAILED",    "TIMEOUT",
                                             "CANCELLED", "ERROR" };
        static const char *const target_set[] = { "dispatched", "running",
                                                  "success", "failure",
                                                  "cancelled" };
        static const int64_t steps[] = { 1000, 3600000, 2 * 3600000,
                                         8 * 86400000LL, 25 * 86400000LL };
        sr_run_t *run = &w->run;
        sr_command_t cmd;
        uint32_t k = rnd(23);

        if (k < 8 && run->n_targets) { /* a device result */
                const sr_target_run_t *t = sr_run_tr(run, rnd(run->n_targets));
                sr_result_t res;
                sr_err_t err;

                memset(&res, 0, sizeof(res));
                sr_uuid_v5(&res.result_id, &sr_ns, "table-res-%d",
                           ++w->n_inputs);
                res.pipeline_run_id = run->pr.m.id;
                res.stage_run_id = t->stage_run_id;
                res.target_run_id = t->m.id;
                res.command_id = t->command_id;
                snprintf(res.command_status, sizeof(res.command_status), "%s",
                         cmdst[rnd(8)]);
                err = sr_fsm_apply_result(run, &res, w->now, &opts, &w->out);
                cr_assert(eq(int, err, SR_OK), "%s", w->out.illegal);
                record(w);
        } else if (k < 11 && run->n_targets) { /* PUT on a target run */
                base_cmd(w, &cmd, SR_CMD_SET_TARGET_RUN_STATUS);
                cmd.u.set.entity_id = sr_run_tr(run, rnd(run->n_targets))->m.id;
                snprintf(cmd.u.set.status, sizeof(cmd.u.set.status), "%s",
                         target_set[rnd(5)]);
                apply(w, &cmd);
        } else if (k < 16 && run->pr.n_stages) { /* promote or cancel */
                base_cmd(w, &cmd, SR_CMD_SET_STAGE_RUN_STATUS);
                cmd.u.set.entity_id = run->stages[rnd(run->pr.n_stages)].m.id;
                snprintf(cmd.u.set.status, sizeof(cmd.u.set.status), "%s",
                         rnd(4) ? "queued" : "cancelled");
                apply(w, &cmd);
        } else if (k < 17) {
                base_cmd(w, &cmd, SR_CMD_SET_PIPELINE_RUN_STATUS);
                snprintf(cmd.u.set.status, sizeof(cmd.u.set.status),
                         "cancelled");
                apply(w, &cmd);
        } else if (k >= 20 && run->pr.n_stages) { /* an open stage's input */
                uint32_t si = rnd(run->pr.n_stages);

                if (run->stages[si].append_targets)
                        open_input(w, si);
        } else { /* time passes; the worker fires the run's next deadline */
                w->now += steps[rnd(5)];
                if (run->pr.next_deadline &&
                    run->pr.next_deadline <= w->now) {
                        base_cmd(w, &cmd, SR_CMD_TIMER_FIRED);
                        cmd.u.timer.entity_type = SR_ENT_PIPELINE_RUN;
                        cmd.u.timer.entity_id = run->pr.m.id;
                        cmd.u.timer.deadline = run->pr.next_deadline;
                        apply(w, &cmd);
                }
        }
}

Test(sr_fsm_table, random_runs_reach_every_row_from_every_status_of_it)
{
        static world_t w;
        size_t n;
        const sr_fsm_transition_t *t = sr_fsm_transitions(&n);

        cr_assert(le(sz, n, 64));
        memset(&w, 0, sizeof(w));
        rng = 0x9e3779b97f4a7c15ULL;
        for (int r = 0; r < 3000; r++) {
                sr_run_init(&w.run);
                sr_fsm_out_init(&w.out);
                w.now = 1700000000000LL;
                create(&w);
                for (int i = 0; i < 40 && w.run.exists &&
                                !sr_status_is_terminal(w.run.pr.m.status);
                     i++)
                        random_input(&w);
                sr_run_fini(&w.run);
                sr_fsm_out_fini(&w.out);
        }
        for (size_t i = 0; i < n; i++)
                for (int s = 0; s < SR_ST__COUNT; s++)
                        if (t[i].from & (1u << s))
                                cr_expect(w.covered[i][s],
                                          "row %zu (%d: %s -> %s, %s) never "
                                          "taken from %s",
                                          i, (int)t[i].entity,
                                          sr_status_name((sr_status_t)s),
                                          sr_status_name(t[i].to),
                                          t[i].reason,
                                          sr_status_name((sr_status_t)s));
}

/* A stored state the rules never make: a target run at rest in pending.
 * A success result would move it pending -> complete, which is no row:
 * the step fails and names the transition. */
Test(sr_fsm_table, a_move_outside_the_table_fails_the_step)
{
        static world_t w;
        sr_result_t res;
        sr_target_run_t *t;

        memset(&w, 0, sizeof(w));
        rng = 1;
        sr_run_init(&w.run);
        sr_fsm_out_init(&w.out);
        w.now = 1700000000000LL;
        do { /* a run with a target run */
                sr_run_fini(&w.run);
                create(&w);
        } while (!w.run.n_targets);
        t = sr_run_tr(&w.run, 0);
        t->m.status = SR_ST_PENDING;
        memset(&res, 0, sizeof(res));
        sr_uuid_v5(&res.result_id, &sr_ns, "table-res-corrupt");
        res.pipeline_run_id = w.run.pr.m.id;
        res.target_run_id = t->m.id;
        res.command_id = t->command_id;
        snprintf(res.command_status, sizeof(res.command_status), "SUCCESS");
        cr_assert(eq(int, sr_fsm_apply_result(&w.run, &res, w.now, NULL, &w.out),
                     SR_ERR_INTERNAL));
        cr_assert(strstr(w.out.illegal, "pending -> complete "
                                        "(command_succeeded)") != NULL,
                  "%s", w.out.illegal);
        cr_assert(eq(int, t->m.status, SR_ST_PENDING));
        sr_run_fini(&w.run);
        sr_fsm_out_fini(&w.out);
}
