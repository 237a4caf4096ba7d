/* common/domain/sr_fsm.c - the state machine of domain.md, one function
 * per input: create a run, set a pipeline, stage or target run's status,
 * a timer fired, a device result. The moves and cascades they make are the
 * primitives of sr_fsm_step.c, so the event stream is exactly the sequence
 * of transitions the step made.
 */
#include "sr_fsm_int.h"
#include "sr_clock.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ commands */

/* The first count of @p spec over @p max, refused; false: none. */
static bool over_limits(step_t *st, const sr_command_t *cmd,
                        const sr_spec_limits_t *max)
{
        const sr_runspec_t *spec = &cmd->u.create.spec;

        if (max->stages && spec->n_stages > max->stages) {
                sr_fsm__reply_reject(st, cmd, SR_REJECT_INVALID_VALUE,
                                     "stages: %" PRIu32 " stages, at most "
                                     "%" PRIu32 " per run on this worker "
                                     "(run.max.stages)", spec->n_stages,
                                     max->stages);
                return true;
        }
        for (uint32_t i = 0; i < spec->n_stages; i++) {
                const sr_spec_stage_t *ss = &spec->stages[i];

                if (max->ops && ss->n_ops > max->ops) {
                        sr_fsm__reply_reject(st, cmd, SR_REJECT_INVALID_VALUE,
                                             "stages[%" PRIu32 "].operations:"
                                             " %" PRIu32 " operations, at "
                                             "most %" PRIu32 " per stage on "
                                             "this worker "
                                             "(stage.max.operations)", i,
                                             ss->n_ops, max->ops);
                        return true;
                }
                /* An open stage's targets come in chunks, never inline
                 * (the codec cannot tell an empty inline list apart). */
                if (ss->append_targets && ss->n_targets) {
                        sr_fsm__reply_reject(st, cmd, SR_REJECT_INVALID_VALUE,
                                             "stages[%" PRIu32 "].targets: "
                                             "an open stage (targets in "
                                             "chunks) has no inline "
                                             "targets, this one has %"
                                             PRIu32, i, ss->n_targets);
                        return true;
                }
                if (max->targets && ss->n_targets > max->targets) {
                        sr_fsm__reply_reject(st, cmd, SR_REJECT_INVALID_VALUE,
                                             "stages[%" PRIu32 "].targets: "
                                             "%" PRIu32 " targets, at most "
                                             "%" PRIu32 " per stage on this "
                                             "worker (stage.max.targets)", i,
                                             ss->n_targets, max->targets);
                        return true;
                }
        }
        return false;
}

static sr_err_t create_run(step_t *st, const sr_command_t *cmd)
{
        sr_run_t *run = st->run;
        const sr_runspec_t *spec = &cmd->u.create.spec;
        uint64_t hash = sr_runspec_hash(spec);
        char rid[SR_UUID_STR_LEN + 1];
        int64_t timeout;

        sr_uuid_fmt(&cmd->pipeline_run_id, rid);
        if (run->exists) {
                if (run->pr.spec_hash == hash &&
                    !strcmp(run->pr.enterprise_id, cmd->enterprise_id)) {
                        sr_fsm__reply_accept(st, cmd, SR_ENT_PIPELINE_RUN, NULL);
                        return SR_OK;
                }
                sr_fsm__reply_reject(st, cmd, SR_REJECT_DUPLICATE_SPEC,
                             "pipeline run %s already exists with a "
                             "different spec: use a new pipeline run id",
                             rid);
                return SR_OK;
        }
        if (over_limits(st, cmd, &st->opts->max))
                return SR_OK;
        if (!sr_run_reserve_stages(run, spec->n_stages ? spec->n_stages : 1))
                return SR_ERR_NOMEM;
        memset(&run->pr, 0, sizeof(run->pr));
        run->exists = true;
        run->pr.m.id = cmd->pipeline_run_id;
        run->pr.pipeline_id = spec->pipeline_id;
        memcpy(run->pr.pipeline_name, spec->pipeline_name,
               sizeof(run->pr.pipeline_name));
        memcpy(run->pr.enterprise_id, cmd->enterprise_id,
               sizeof(run->pr.enterprise_id));
        run->pr.run_number = cmd->u.create.run_number;
        run->pr.auto_promote = spec->auto_promote;
        run->pr.timeout_seconds = spec->timeout_seconds;
        run->pr.spec_hash = hash;
        run->pr.created_by_command = cmd->command_id;
        run->pr.n_stages = 0;
        timeout = spec->timeout_seconds > 0 ? spec->timeout_seconds * 1000 :
                                              SR_PIPELINE_RUN_DEFAULT_TIMEOUT_MS;
        run->pr.m.deadline = st->now + timeout;
        sr_fsm__move_pr(st, SR_ST_PENDING, "created");
        sr_fsm__move_pr(st, SR_ST_QUEUED, "queued");
        sr_fsm__move_pr(st, SR_ST_PROCESSING, "materialising");

        /* Stage runs, all pending, each with its frozen spec. */
        free(run->sidx);
        run->sidx = calloc(spec->n_stages ? spec->n_stages : 1,
                           sizeof(*run->sidx));
        if (!run->sidx)
                return SR_ERR_NOMEM;
        for (uint32_t i = 0; i < spec->n_stages; i++) {
                const sr_spec_stage_t *ss = &spec->stages[i];
                sr_stage_run_t *s = &run->stages[i];

                memset(s, 0, sizeof(*s));
                run->pr.n_stages = i + 1;
                run->stage_dirty[i] = false;
                sr_run_stage_added(run, i);
                sr_run_mark_stage(run, i);
                sr_uuid_v5(&s->m.id, &sr_ns, "%s/stage/%u", rid, i);
                s->pipeline_run_id = run->pr.m.id;
                s->pipeline_id = spec->pipeline_id;
                s->stage_id = ss->stage_id;
                if (sr_uuid_is_nil(&s->stage_id))
                        sr_uuid_v5(&s->stage_id, &sr_ns, "%s/stage-def/%u",
                                   rid, i);
                memcpy(s->enterprise_id, cmd->enterprise_id,
                       sizeof(s->enterprise_id));
                s->index = i;
                memcpy(s->name, ss->name, sizeof(s->name));
                memcpy(s->description, ss->description,
                       sizeof(s->description));
                s->timeout_seconds = ss->timeout_seconds;
                s->n_ops = ss->n_ops;
                s->n_targets = ss->n_targets;
                s->append_targets = ss->append_targets;
                s->expected_targets = ss->expected_targets;
                if (!sr_spec_ops_copy(&s->ops, ss->ops, ss->n_ops) ||
                    !sr_spec_targets_copy(&s->targets, ss->targets,
                                          ss->n_targets)) {
                        s->n_ops = s->n_targets = 0;
                        return SR_ERR_NOMEM;
                }
                sr_fsm__move_stage(st, i, SR_ST_PENDING, "created");
        }
        if (!sr_run_rehash(run))
                return SR_ERR_NOMEM;
        if (spec->n_stages == 0) {
                sr_fsm__move_pr(st, SR_ST_INVALID, "no_stages");
        } else {
                sr_fsm__queue_stage(st, 0, "first_stage");
                sr_fsm__move_pr(st, SR_ST_RUNNING, "first_stage_queued");
                sr_fsm__process_stage(st, 0);
                if (sr_status_is_terminal(run->stages[0].m.status))
                        sr_fsm__rollup_pr(st);
        }
        if (st->nomem)
                return SR_ERR_NOMEM;
        sr_fsm__reply_accept(st, cmd, SR_ENT_PIPELINE_RUN, NULL);
        return SR_OK;
}

/* Parse a client-supplied status; refuses with the list on failure. */
static bool parse_status(step_t *st, const sr_command_t *cmd,
                         const char *what, const char *allowed,
                         sr_status_t *out)
{
        if (sr_status_parse(cmd->u.set.status, strlen(cmd->u.set.status),
                            out))
                return true;
        sr_fsm__reply_reject(st, cmd, SR_REJECT_INVALID_VALUE,
                     "unknown status \"%s\" for a %s: allowed are %s",
                     cmd->u.set.status, what, allowed);
        return false;
}

static void set_pipeline_run(step_t *st, const sr_command_t *cmd)
{
        sr_run_t *run = st->run;
        char rid[SR_UUID_STR_LEN + 1];
        sr_status_t to;

        sr_uuid_fmt(&run->pr.m.id, rid);
        if (!parse_status(st, cmd, "pipeline run", "\"cancelled\"", &to))
                return;
        if (sr_status_is_terminal(run->pr.m.status)) {
                sr_fsm__reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
                             "pipeline run %s is %s, a final status: "
                             "nothing may be set",
                             rid, sr_status_name(run->pr.m.status));
                return;
        }
        if (to != SR_ST_CANCELLED) {
                sr_fsm__reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
                             "pipeline run %s is %s: only \"cancelled\" "
                             "may be set on a pipeline run, not \"%s\"",
                             rid, sr_status_name(run->pr.m.status),
                             sr_status_name(to));
                return;
        }
        sr_fsm__move_pr(st, SR_ST_CANCELLED, "cancelled_by_user");
        for (uint32_t i = 0; i < run->pr.n_stages; i++)
                if (!sr_status_is_terminal(run->stages[i].m.status))
                        sr_fsm__move_stage(st, i, SR_ST_CANCELLED,
                                   "pipeline_run_cancelled");
        for (uint32_t si = 0; si < run->pr.n_stages; si++)
                sr_fsm__cascade_from(st, si, 0);
        sr_fsm__reply_accept(st, cmd, SR_ENT_PIPELINE_RUN, NULL);
}

/* The stage run @p id a client's command names; NULL when it is not in
 * the run (refused not_found, naming both ids). */
sr_stage_run_t *sr_fsm__reach_stage(step_t *st, const sr_command_t *cmd,
                                    const sr_uuid_t *id)
{
        sr_stage_run_t *s = sr_run_find_stage(st->run, id);
        char sid[SR_UUID_STR_LEN + 1], rid[SR_UUID_STR_LEN + 1];

        if (s)
                return s;
        sr_uuid_fmt(id, sid);
        sr_uuid_fmt(&st->run->pr.m.id, rid);
        sr_fsm__reply_reject(st, cmd, SR_REJECT_NOT_FOUND,
                             "stage run %s not found in pipeline run %s", sid,
                             rid);
        return NULL;
}

static void set_stage_run(step_t *st, const sr_command_t *cmd)
{
        sr_run_t *run = st->run;
        sr_stage_run_t *s = sr_fsm__reach_stage(st, cmd, &cmd->u.set.entity_id);
        char sid[SR_UUID_STR_LEN + 1], rid[SR_UUID_STR_LEN + 1];
        const char *cur;
        sr_status_t to;
        uint32_t si;

        if (!s)
                return;
        sr_uuid_fmt(&cmd->u.set.entity_id, sid);
        sr_uuid_fmt(&run->pr.m.id, rid);
        si = s->index;
        cur = sr_status_name(s->m.status);
        if (!parse_status(st, cmd, "stage run",
                          "\"queued\" (promote) and \"cancelled\"", &to))
                return;
        if (sr_status_is_terminal(s->m.status)) {
                sr_fsm__reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
                             "stage run %s is %s, a final status: nothing "
                             "may be set",
                             sid, cur);
                return;
        }
        if (to == SR_ST_CANCELLED) {
                sr_fsm__end_stage(st, si, SR_ST_CANCELLED, "cancelled_by_user",
                                  true);
                sr_fsm__reply_accept(st, cmd, SR_ENT_STAGE_RUN, &s->m);
                return;
        }
        if (to != SR_ST_QUEUED) {
                sr_fsm__reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
                             "stage run %s is %s: \"%s\" cannot be set; "
                             "allowed are \"queued\" (promote, from pending "
                             "while the pipeline run is waiting) and "
                             "\"cancelled\"",
                             sid, cur, sr_status_name(to));
                return;
        }
        if (s->m.status != SR_ST_PENDING) {
                sr_fsm__reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
                             "stage run %s is %s: only a pending stage run "
                             "can be promoted (\"queued\"); \"cancelled\" "
                             "may be set",
                             sid, cur);
                return;
        }
        if (run->pr.m.status != SR_ST_WAITING) {
                sr_fsm__reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
                             "stage run %s is pending but its pipeline run "
                             "is %s: it can be promoted (\"queued\") only "
                             "while the pipeline run is waiting; "
                             "\"cancelled\" may be set",
                             sid, sr_status_name(run->pr.m.status));
                return;
        }
        for (uint32_t i = 0; i < si; i++) {
                if (run->stages[i].m.status != SR_ST_SUCCESS) {
                        char pid[SR_UUID_STR_LEN + 1];

                        sr_uuid_fmt(&run->stages[i].m.id, pid);
                        sr_fsm__reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
                                     "stage run %s is pending but cannot "
                                     "be promoted: earlier stage run %s "
                                     "(stage %u) is %s, and every earlier "
                                     "stage run must be success; "
                                     "\"cancelled\" may be set",
                                     sid, pid, i + 1,
                                     sr_status_name(run->stages[i].m.status));
                        return;
                }
        }
        sr_fsm__queue_stage(st, si, "promoted");
        sr_fsm__move_pr(st, SR_ST_RUNNING, "promoted");
        sr_fsm__process_stage(st, si);
        if (sr_status_is_terminal(run->stages[si].m.status))
                sr_fsm__rollup_pr(st);
        sr_fsm__reply_accept(st, cmd, SR_ENT_STAGE_RUN, &run->stages[si].m);
}

/* Forward-only rank of a target-run status for results. */
static int target_rank(sr_status_t s)
{
        switch (s) {
        case SR_ST_PENDING:
        case SR_ST_QUEUED:
        case SR_ST_PROCESSING:
                return 0;
        case SR_ST_DISPATCHED:
                return 1;
        case SR_ST_RUNNING:
                return 2;
        default:
                return 3;
        }
}

/* What a command status does to a target run. */
typedef struct target_step {
        sr_status_t to;     /* dispatched, running, success, failure, invalid */
        const char *reason;
} target_step_t;

static target_step_t map_cmdst(sr_cmdst_t cs)
{
        switch (cs) {
        case SR_CMDST_QUEUED:
                return (target_step_t){ SR_ST_DISPATCHED, "command_queued" };
        case SR_CMDST_INITIATED:
        case SR_CMDST_ACKNOWLEDGED:
        case SR_CMDST_INPROGRESS:
                return (target_step_t){ SR_ST_RUNNING, "command_running" };
        case SR_CMDST_SUCCESS:
                return (target_step_t){ SR_ST_SUCCESS, "command_succeeded" };
        case SR_CMDST_TIMEOUT:
                return (target_step_t){ SR_ST_FAILURE, "command_timeout" };
        case SR_CMDST_CANCELLED:
                return (target_step_t){ SR_ST_FAILURE, "command_cancelled" };
        case SR_CMDST_ERROR:
                return (target_step_t){ SR_ST_INVALID, "command_error" };
        case SR_CMDST_FAILED:
        case SR_CMDST_FAILURE:
        default:
                return (target_step_t){ SR_ST_FAILURE, "command_failed" };
        }
}

/* Would a move to @p to go forward from @p cur? */
static bool target_moves(sr_status_t cur, sr_status_t to)
{
        if (sr_status_is_terminal(cur))
                return false;
        if (to == SR_ST_INVALID) /* ERROR: the command was never created */
                return cur == SR_ST_PROCESSING || cur == SR_ST_DISPATCHED;
        return target_rank(to) > target_rank(cur);
}

static bool result_moves(sr_status_t cur, sr_cmdst_t cs)
{
        return target_moves(cur, map_cmdst(cs).to);
}

/* Apply a forward move to a target run; false when it is stale. */
static bool advance_target(step_t *st, uint32_t ti, target_step_t ts)
{
        sr_target_run_t *t = sr_run_tr(st->run, ti);

        if (!target_moves(t->m.status, ts.to))
                return false;
        if (ts.to == SR_ST_SUCCESS || ts.to == SR_ST_FAILURE)
                sr_fsm__move_target(st, ti, SR_ST_COMPLETE, ts.reason);
        sr_fsm__move_target(st, ti, ts.to, ts.reason);
        /* t may move below (an auto-promoted stage grows the array). */
        if (sr_status_is_terminal(ts.to))
                sr_fsm__rollup_stage(st, t->stage_index);
        return true;
}

/* A client's cancel of target run @p ti before its command went out
 * (pending, queued, processing): a cancel request for a command already
 * created, the target run cancelled, its stage rolled up. */
static void cancel_by_user(step_t *st, uint32_t ti)
{
        sr_target_run_t *t = sr_run_tr(st->run, ti);
        uint32_t si = t->stage_index;

        if (sr_fsm__target_has_command(t) && !t->cancel_requested)
                sr_fsm__dispatch(st, ti, SR_DISPATCH_CANCEL);
        sr_fsm__move_target(st, ti, SR_ST_CANCELLED, "cancelled_by_user");
        sr_fsm__rollup_stage(st, si);
}

/* The target run @p id a client's command names, caught up on any
 * cascade in steps: its index in *@p ti (the run's handle on a target
 * run: sr_run_tr() reads it back if it was dropped). false
 * when it is not in the run (refused not_found). */
static bool reach_target(step_t *st, const sr_command_t *cmd,
                         const sr_uuid_t *id, uint32_t *ti)
{
        sr_run_t *run = st->run;
        int64_t at = sr_run_find_target_idx(run, id);
        char tid[SR_UUID_STR_LEN + 1], rid[SR_UUID_STR_LEN + 1];

        if (at < 0) {
                sr_uuid_fmt(id, tid);
                sr_uuid_fmt(&run->pr.m.id, rid);
                sr_fsm__reply_reject(st, cmd, SR_REJECT_NOT_FOUND,
                             "target run %s not found in pipeline run %s",
                             tid, rid);
                return false;
        }
        *ti = (uint32_t)at;
        sr_fsm__catch_up(st, *ti); /* a cascade in steps first */
        return true;
}

static void set_target_run(step_t *st, const sr_command_t *cmd)
{
        sr_run_t *run = st->run;
        sr_target_run_t *t;
        char tid[SR_UUID_STR_LEN + 1], cmdid[SR_UUID_STR_LEN + 1];
        static const char allowed[] = "\"dispatched\", \"running\", "
                                      "\"success\", \"failure\" and "
                                      "\"cancelled\"";
        target_step_t ts;
        const char *cur;
        sr_status_t to;
        uint32_t ti;

        if (!reach_target(st, cmd, &cmd->u.set.entity_id, &ti))
                return;
        t = sr_run_tr(run, ti);
        sr_uuid_fmt(&t->m.id, tid);
        sr_uuid_fmt(&t->command_id, cmdid);
        cur = sr_status_name(t->m.status);
        if (!parse_status(st, cmd, "target run", allowed, &to))
                return;
        if (to == t->m.status) { /* idempotent re-statement */
                sr_fsm__reply_accept(st, cmd, SR_ENT_TARGET_RUN, &t->m);
                st->out->stale = true;
                return;
        }
        if (sr_status_is_terminal(t->m.status)) {
                sr_fsm__reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
                             "target run %s is %s, a final status: nothing "
                             "may be set",
                             tid, cur);
                return;
        }
        switch (to) {
        case SR_ST_CANCELLED:
                if (t->m.status != SR_ST_PENDING &&
                    t->m.status != SR_ST_QUEUED &&
                    t->m.status != SR_ST_PROCESSING) {
                        sr_fsm__reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
                                     "target run %s is %s: its device "
                                     "command was already sent; cancel the "
                                     "command instead: PUT .../command/%s/ "
                                     "{\"request_status\": \"cancelled\"}",
                                     tid, cur, cmdid);
                        return;
                }
                cancel_by_user(st, ti);
                t = sr_run_tr(run, ti);
                break;
        case SR_ST_DISPATCHED:
                ts = map_cmdst(SR_CMDST_QUEUED);
                goto forward;
        case SR_ST_RUNNING:
                ts = map_cmdst(SR_CMDST_INPROGRESS);
                goto forward;
        case SR_ST_SUCCESS:
                ts = map_cmdst(SR_CMDST_SUCCESS);
                goto forward;
        case SR_ST_FAILURE:
                ts = map_cmdst(SR_CMDST_FAILED);
forward:
                if (cmd->u.set.device_name[0]) {
                        memcpy(t->device_name, cmd->u.set.device_name,
                               sizeof(t->device_name));
                        sr_run_mark_target(run, ti);
                }
                if (!advance_target(st, ti, ts)) {
                        t = sr_run_tr(run, ti);
                        sr_fsm__reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
                                     "target run %s is %s: results only "
                                     "move it forward (processing < "
                                     "dispatched < running < success or "
                                     "failure), so \"%s\" cannot be set",
                                     tid, cur, sr_status_name(to));
                        return;
                }
                break;
        default:
                sr_fsm__reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
                             "target run %s is %s: \"%s\" cannot be set; "
                             "allowed are %s",
                             tid, cur, sr_status_name(to), allowed);
                return;
        }
        sr_fsm__reply_accept(st, cmd, SR_ENT_TARGET_RUN,
                             &sr_run_tr(run, ti)->m);
}

/* TargetCommand: a client's write on a target run's device command
 * (docs/definitions.md section 9, phase D; PUT and POST
 * .../targetruns/{id}/command/). "cancel" is the target-run cancel of
 * domain.md: before the command went out (processing) the target run is
 * cancelled as by a PUT of "cancelled"; once it did (dispatched,
 * running) a cancel request is published once and the device's result
 * ends the target run. "resend" publishes the dispatch request again,
 * the same command id (the device command service dedupes), while the
 * command is not known to have reached the device (processing,
 * dispatched) and no cancel of it was requested. */
static void target_command(step_t *st, const sr_command_t *cmd)
{
        sr_run_t *run = st->run;
        sr_target_run_t *t;
        char tid[SR_UUID_STR_LEN + 1];
        char want[SR_UUID_STR_LEN + 1], have[SR_UUID_STR_LEN + 1];
        const char *action = cmd->u.tcmd.action, *cur;
        bool cancel = !strcmp(action, "cancel");
        uint32_t ti;

        if (!reach_target(st, cmd, &cmd->u.tcmd.target_run_id, &ti))
                return;
        t = sr_run_tr(run, ti);
        sr_uuid_fmt(&t->m.id, tid);
        sr_uuid_fmt(&cmd->u.tcmd.command_id, want);
        cur = sr_status_name(t->m.status);
        if (sr_uuid_is_nil(&t->command_id)) {
                sr_fsm__reply_reject(st, cmd, SR_REJECT_NOT_FOUND,
                             "target run %s is %s and has no device "
                             "command yet: command %s not found",
                             tid, cur, want);
                return;
        }
        if (!sr_uuid_eq(&t->command_id, &cmd->u.tcmd.command_id)) {
                sr_uuid_fmt(&t->command_id, have);
                sr_fsm__reply_reject(st, cmd, SR_REJECT_NOT_FOUND,
                             "command %s is not target run %s's device "
                             "command (%s)", want, tid, have);
                return;
        }
        if (!cancel && strcmp(action, "resend")) {
                sr_fsm__reply_reject(st, cmd, SR_REJECT_INVALID_VALUE,
                             "action \"%s\": want \"cancel\" or "
                             "\"resend\"", action);
                return;
        }
        if (cancel && (t->m.status == SR_ST_CANCELLED ||
                       ((t->m.status == SR_ST_DISPATCHED ||
                         t->m.status == SR_ST_RUNNING) &&
                        t->cancel_requested))) {
                /* said before: accepted, nothing more sent */
                sr_fsm__reply_accept(st, cmd, SR_ENT_TARGET_RUN, &t->m);
                st->out->stale = true;
                return;
        }
        if (sr_status_is_terminal(t->m.status)) {
                sr_fsm__reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
                             "target run %s is %s, a final status: its "
                             "device command %s has ended, so it cannot be "
                             "%s",
                             tid, cur, want,
                             cancel ? "cancelled" : "sent again");
                return;
        }
        if (cancel && t->m.status == SR_ST_PROCESSING) {
                cancel_by_user(st, ti);
        } else if (cancel) { /* dispatched, running */
                sr_fsm__dispatch(st, ti, SR_DISPATCH_CANCEL);
                /* not a status: no event, but a new version, so the
                 * client's read after the reply sees the request (as a
                 * chunk's append does for its stage run) */
                t = sr_run_tr(run, ti);
                t->m.version++;
                t->m.updated_at = st->now;
        } else if (t->cancel_requested ||
                   (t->m.status != SR_ST_PROCESSING &&
                    t->m.status != SR_ST_DISPATCHED)) {
                sr_fsm__reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
                             "target run %s is %s%s: its device command %s "
                             "is sent again only while processing or "
                             "dispatched, and not after a cancel of it",
                             tid, cur,
                             t->cancel_requested ? ", its cancel requested" :
                                                   "",
                             want);
                return;
        } else {
                sr_fsm__dispatch(st, ti, SR_DISPATCH_COMMAND);
        }
        sr_fsm__reply_accept(st, cmd, SR_ENT_TARGET_RUN,
                             &sr_run_tr(run, ti)->m);
}

/* The retirement instant @p at has come (docs/guarantee.md, "Retention"),
 * or a client deleted the run: the run keeps only its marker; the caller
 * deletes its keys. */
static void retire(step_t *st, int64_t ended, int64_t at)
{
        sr_run_t *run = st->run;
        sr_retired_t *r = &st->out->retired;

        memset(r, 0, sizeof(*r));
        r->pipeline_run_id = run->pr.m.id;
        memcpy(r->enterprise_id, run->pr.enterprise_id,
               sizeof(r->enterprise_id));
        r->pipeline_id = run->pr.pipeline_id;
        r->ended_at = ended;
        r->retired_at = at;
        r->forget_at = st->opts->retention_inputs_ms > 0 ?
                       at + st->opts->retention_inputs_ms : 0;
        sr_run_fini(run);
        run->retired = true;
        run->ret = *r;
        st->out->retire = true;
        st->out->applied = true;
}

/* A client's delete of a run (docs/definitions.md section 7): only a run
 * whose every entity is final, as retention.finished would retire it, and
 * only under the pipeline the path names; it retires now. The reply
 * carries the run's last version (its last state, which the client
 * gets back). */
static void delete_run(step_t *st, const sr_command_t *cmd, const char *rid)
{
        sr_run_t *run = st->run;
        char pid[SR_UUID_STR_LEN + 1];
        int64_t ended;

        if (!sr_uuid_eq(&cmd->u.del.pipeline_id, &run->pr.pipeline_id)) {
                sr_uuid_fmt(&cmd->u.del.pipeline_id, pid);
                sr_fsm__reply_reject(st, cmd, SR_REJECT_NOT_FOUND,
                                     "pipeline run %s not found under "
                                     "pipeline %s", rid, pid);
                return;
        }
        if (!sr_status_is_terminal(run->pr.m.status)) {
                sr_fsm__reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
                                     "pipeline run %s is %s: only a finished "
                                     "run is deleted; cancel it first", rid,
                                     sr_status_name(run->pr.m.status));
                return;
        }
        if (!sr_run_all_final(run, &ended)) {
                sr_fsm__reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
                                     "pipeline run %s is %s but %u of its "
                                     "stage and target runs are not final "
                                     "yet (a target run waits for its "
                                     "device's answer or its own deadline); "
                                     "delete it after they end", rid,
                                     sr_status_name(run->pr.m.status),
                                     sr_run_n_open(run));
                return;
        }
        sr_fsm__reply_accept(st, cmd, SR_ENT_PIPELINE_RUN, &run->pr.m);
        retire(st, ended, st->now);
}

/* timer fired: every non-terminal entity whose deadline is at or before
 * the timer's deadline times out, the pipeline run first. A child's own
 * deadline still fires after its pipeline run ended (a target run left
 * running by a cancel, whose device never answers): it times out and
 * terminal stage and pipeline runs do not move again. On a run whose
 * entities are all final, the deadline that is its next_deadline retires
 * it. */
static void timer_fired(step_t *st, const sr_command_t *cmd)
{
        sr_run_t *run = st->run;
        int64_t d = cmd->u.timer.deadline, ended;

        if (sr_status_is_terminal(run->pr.m.status)) {
                if (sr_run_all_final(run, &ended)) {
                        if (d && d == run->pr.next_deadline)
                                retire(st, ended, run->pr.next_deadline);
                        else
                                st->out->stale = true;
                        return;
                }
        } else if (run->pr.m.deadline && run->pr.m.deadline <= d) {
                sr_fsm__move_pr(st, SR_ST_TIMEOUT, "timeout");
                for (uint32_t i = 0; i < run->pr.n_stages; i++)
                        if (!sr_status_is_terminal(run->stages[i].m.status))
                                sr_fsm__move_stage(st, i, SR_ST_TIMEOUT,
                                           "pipeline_run_timeout");
                for (uint32_t si = 0; si < run->pr.n_stages; si++)
                        sr_fsm__cascade_from(st, si, 0);
                return;
        }
        /* A stage run is active only while its pipeline run is open. */
        for (uint32_t i = 0; i < run->pr.n_stages; i++) {
                sr_stage_run_t *s = &run->stages[i];

                if (sr_status_is_terminal(run->pr.m.status))
                        break;
                if (!sr_fsm__stage_is_active(s->m.status) ||
                    !s->m.deadline || s->m.deadline > d)
                        continue;
                if (sr_fsm__fill_timed_out(s, d)) {
                        /* never sealed: its target set is not known */
                        sr_fsm__move_stage(st, i, SR_ST_INVALID,
                                           "targets_incomplete");
                        sr_fsm__rollup_pr(st);
                } else {
                        sr_fsm__end_stage(st, i, SR_ST_TIMEOUT, "timeout",
                                          true);
                }
        }
        /* The target runs' own deadlines, whatever their stage and
         * pipeline run: a roll-up moves only a running stage run. A stage
         * whose earliest open target deadline is later is skipped, and so
         * is one whose target runs are owed a timeout cascade: its steps
         * time them all out. The others' in parts (StageStep{deadline}). */
        for (uint32_t si = 0; si < run->pr.n_stages; si++) {
                if (sr_fsm__deadline_due(run, si, d))
                        sr_fsm__deadline_from(st, si, 0, d);
        }
        if (!st->out->applied)
                st->out->stale = true;
}

static const sr_fsm_opts_t no_opts;

/* A command for a run of which only the marker is left: the TimerFired at
 * its forget_at forgets it; any other is refused, never applied (the run
 * is not recreated, nothing is dispatched). Another tenant's command is
 * answered as for a missing run. */
static void retired_command(step_t *st, const sr_command_t *cmd,
                            const char *rid)
{
        const sr_retired_t *r = &st->run->ret;
        char at[SR_ISO8601_LEN + 1] = { 0 }; /* sr_clock_iso8601: no NUL */

        if (cmd->kind == SR_CMD_STAGE_STEP) {
                st->out->stale = true; /* its own, late: nothing to do */
                return;
        }
        if (cmd->kind == SR_CMD_TIMER_FIRED) {
                if (r->forget_at && cmd->u.timer.deadline == r->forget_at) {
                        sr_run_fini(st->run);
                        st->out->forget = true;
                        st->out->applied = true;
                } else {
                        st->out->stale = true;
                }
                return;
        }
        if (strcmp(r->enterprise_id, cmd->enterprise_id)) {
                sr_fsm__reply_reject(st, cmd, SR_REJECT_NOT_FOUND,
                                     "pipeline run %s not found", rid);
                return;
        }
        if (!sr_clock_iso8601(r->retired_at, at))
                snprintf(at, sizeof(at), "%" PRId64, r->retired_at);
        st->out->for_retired = true;
        sr_fsm__reply_reject(st, cmd, SR_REJECT_RUN_RETIRED,
                             "pipeline run %s was retired at %s: deleted by "
                             "a client, or it ended more than "
                             "retention.finished before", rid, at);
}

sr_err_t sr_fsm_apply_command(sr_run_t *run, const sr_command_t *cmd,
                              int64_t now_ms, const sr_fsm_opts_t *opts,
                              sr_fsm_out_t *out)
{
        step_t st = { run, out, now_ms, opts ? opts : &no_opts,
                      cmd->command_id, false, false };
        char rid[SR_UUID_STR_LEN + 1];
        sr_err_t err = SR_OK;

        sr_fsm_out_reset(out);
        sr_uuid_fmt(&cmd->pipeline_run_id, rid);
        if (!run->exists && run->retired) {
                retired_command(&st, cmd, rid);
                return SR_OK;
        }
        if (cmd->kind == SR_CMD_CREATE_RUN) {
                err = create_run(&st, cmd);
                goto done;
        }
        if (!run->exists ||
            (cmd->kind != SR_CMD_TIMER_FIRED &&
             strcmp(run->pr.enterprise_id, cmd->enterprise_id))) {
                /* Another tenant's run is answered exactly like a missing
                 * one, so ids do not leak across enterprises. A run's own
                 * inputs (timers, steps) are merely late. */
                if (cmd->kind == SR_CMD_TIMER_FIRED ||
                    cmd->kind == SR_CMD_STAGE_STEP)
                        out->stale = true;
                else
                        sr_fsm__reply_reject(&st, cmd, SR_REJECT_NOT_FOUND,
                                     "pipeline run %s not found", rid);
                return SR_OK;
        }
        switch (cmd->kind) {
        case SR_CMD_SET_PIPELINE_RUN_STATUS:
                set_pipeline_run(&st, cmd);
                break;
        case SR_CMD_SET_STAGE_RUN_STATUS:
                set_stage_run(&st, cmd);
                break;
        case SR_CMD_SET_TARGET_RUN_STATUS:
                set_target_run(&st, cmd);
                break;
        case SR_CMD_TIMER_FIRED:
                timer_fired(&st, cmd);
                break;
        case SR_CMD_APPEND_TARGETS:
                sr_fsm__append_targets(&st, cmd);
                break;
        case SR_CMD_SEAL_TARGETS:
                sr_fsm__seal_targets(&st, cmd);
                break;
        case SR_CMD_STAGE_STEP:
                sr_fsm__stage_step(&st, cmd);
                break;
        case SR_CMD_TARGET_COMMAND:
                target_command(&st, cmd);
                break;
        case SR_CMD_DELETE_RUN:
                delete_run(&st, cmd, rid);
                break;
        case SR_CMD_ADD_TARGET_RUN:
                sr_fsm__add_target_run(&st, cmd);
                break;
        default:
                sr_fsm__reply_reject(&st, cmd, SR_REJECT_INVALID_VALUE,
                             "unknown command kind %d", (int)cmd->kind);
                break;
        }
done:
        if (err == SR_OK && st.nomem)
                err = SR_ERR_NOMEM;
        if (err == SR_OK && st.illegal)
                err = SR_ERR_INTERNAL;
        if (err == SR_OK && run->exists && out->applied)
                sr_fsm__update_next_deadline(run, st.opts);
        return err;
}

sr_err_t sr_fsm_apply_result(sr_run_t *run, const sr_result_t *res,
                             int64_t now_ms, const sr_fsm_opts_t *opts,
                             sr_fsm_out_t *out)
{
        step_t st = { run, out, now_ms, opts ? opts : &no_opts,
                      res->result_id, false, false };
        sr_target_run_t *t;
        sr_cmdst_t cs;
        int64_t at;
        uint32_t ti;

        sr_fsm_out_reset(out);
        if (!sr_cmdst_parse(res->command_status, strlen(res->command_status),
                            &cs))
                return SR_ERR_SCHEMA;
        if (!run->exists) {
                out->for_retired = run->retired;
                return SR_ERR_NOT_FOUND;
        }
        at = sr_run_find_target_idx(run, &res->target_run_id);
        if (at < 0)
                return SR_ERR_NOT_FOUND;
        ti = (uint32_t)at;
        t = sr_run_tr(run, ti);
        if (!sr_uuid_is_nil(&res->command_id) &&
            !sr_uuid_eq(&res->command_id, &t->command_id)) {
                out->stale = true; /* a result of some other command */
                return SR_OK;
        }
        /* A cascade in steps that has not reached this target run yet
         * reaches it now, before the result: as if it had run at once. */
        sr_fsm__catch_up(&st, ti);
        if (st.nomem)
                return SR_ERR_NOMEM;
        if (st.illegal)
                return SR_ERR_INTERNAL;
        if (sr_status_is_terminal(t->m.status) ||
            !result_moves(t->m.status, cs)) {
                /* stale, though the catch-up may have changed the run */
                out->stale = true;
                if (out->applied)
                        sr_fsm__update_next_deadline(run, st.opts);
                return SR_OK;
        }
        /* Record what the device said before the move, so the events and
         * the stored state carry it. */
        snprintf(t->command_status, sizeof(t->command_status), "%s",
                 sr_cmdst_name(cs));
        if (res->device_name[0])
                memcpy(t->device_name, res->device_name,
                       sizeof(t->device_name));
        sr_run_mark_target(run, ti);
        advance_target(&st, ti, map_cmdst(cs));
        if (st.nomem)
                return SR_ERR_NOMEM;
        if (st.illegal)
                return SR_ERR_INTERNAL;
        sr_fsm__update_next_deadline(run, st.opts);
        return SR_OK;
}
