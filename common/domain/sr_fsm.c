/* common/domain/sr_fsm.c - the state machine of domain.md, table by table.
 *
 * One step applies one input to one run. Every status change goes through
 * move_*(), which bumps the entity's version, stamps the input's time and
 * appends the event with the run's next seq, so the event stream is exactly
 * the sequence of transitions the step made.
 */
#include "sr_fsm.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ outputs */

void sr_fsm_out_init(sr_fsm_out_t *out)
{
        memset(out, 0, sizeof(*out));
}

void sr_fsm_out_reset(sr_fsm_out_t *out)
{
        out->n_events = 0;
        out->n_dispatches = 0;
        out->has_reply = false;
        memset(&out->reply, 0, sizeof(out->reply));
        out->stale = false;
        out->applied = false;
        out->illegal[0] = '\0';
}

void sr_fsm_out_fini(sr_fsm_out_t *out)
{
        if (!out)
                return;
        free(out->events);
        free(out->dispatches);
        sr_fsm_out_init(out);
}

/* ------------------------------------------------------------ step */

typedef struct step {
        sr_run_t *run;
        sr_fsm_out_t *out;
        int64_t now;
        sr_uuid_t cause;
        bool nomem;   /* sticky: an output could not be recorded */
        bool illegal; /* sticky: a transition not in the table was tried */
} step_t;

static void emit(step_t *st, sr_entity_type_t type, const sr_meta_t *m,
                 sr_status_t from, const sr_uuid_t *stage_run_id,
                 const sr_uuid_t *op_id, const sr_uuid_t *device_id)
{
        sr_run_t *run = st->run;
        sr_fsm_out_t *out = st->out;
        sr_event_t *ev;

        if (!sr_array_grow((void **)&out->events, &out->cap_events, out->n_events + 1,
                  sizeof(*out->events))) {
                st->nomem = true;
                return;
        }
        ev = &out->events[out->n_events++];
        memset(ev, 0, sizeof(*ev));
        ev->seq = ++run->pr.last_seq;
        run->pr_dirty = true;
        sr_uuid_event_id(&ev->event_id, &run->pr.m.id, ev->seq);
        ev->pipeline_run_id = run->pr.m.id;
        ev->pipeline_id = run->pr.pipeline_id;
        ev->entity_type = type;
        ev->entity_id = m->id;
        if (stage_run_id)
                ev->stage_run_id = *stage_run_id;
        if (op_id)
                ev->stage_run_operation_id = *op_id;
        if (device_id)
                ev->device_id = *device_id;
        ev->from_status = from;
        ev->to_status = m->status;
        memcpy(ev->reason, m->reason, sizeof(ev->reason));
        ev->occurred_at = st->now;
        ev->causation_id = st->cause;
        memcpy(ev->enterprise_id, run->pr.enterprise_id,
               sizeof(ev->enterprise_id));
        ev->version = m->version;
        out->applied = true;
}

static const char *const entity_names[SR_ENT__COUNT] = {
        [SR_ENT_PIPELINE_RUN] = "pipeline run",
        [SR_ENT_STAGE_RUN] = "stage run",
        [SR_ENT_STAGE_RUN_OPERATION] = "stage run operation",
        [SR_ENT_TARGET_RUN] = "target run",
};

/* The common part of every transition. Refuses (false, nothing changed)
 * what is not a row of the table; the step then fails with
 * SR_ERR_INTERNAL and the caller throws the run away. */
static bool move(step_t *st, sr_entity_type_t type, sr_meta_t *m,
                 sr_status_t to, const char *reason, sr_status_t *fromp)
{
        sr_status_t from = m->status;
        size_t n;

        if (!sr_fsm_transition_find(type, from, to, reason)) {
                if (!st->illegal) {
                        char id[SR_UUID_STR_LEN + 1];

                        sr_uuid_fmt(&m->id, id);
                        snprintf(st->out->illegal, sizeof(st->out->illegal),
                                 "%s %s: %s -> %s (%s) is not a transition "
                                 "of domain.md",
                                 entity_names[type], id, sr_status_name(from),
                                 sr_status_name(to), reason);
                }
                st->illegal = true;
                return false;
        }
        m->status = to;
        /* What snprintf "%s" did, without its format parsing: truncate
         * to the field, always NUL-terminated. */
        n = strnlen(reason, sizeof(m->reason) - 1);
        memcpy(m->reason, reason, n);
        m->reason[n] = '\0';
        m->version++;
        m->updated_at = st->now;
        if (from == SR_ST_NONE)
                m->created_at = st->now;
        if (sr_status_is_terminal(to)) {
                m->ended_at = st->now;
                m->deadline = 0;
        }
        *fromp = from;
        return true;
}

static void move_pr(step_t *st, sr_status_t to, const char *reason)
{
        sr_pipeline_run_t *pr = &st->run->pr;
        sr_status_t from;

        if (!move(st, SR_ENT_PIPELINE_RUN, &pr->m, to, reason, &from))
                return;
        if (to == SR_ST_RUNNING && !pr->m.started_at)
                pr->m.started_at = st->now;
        st->run->pr_dirty = true;
        emit(st, SR_ENT_PIPELINE_RUN, &pr->m, from, NULL, NULL, NULL);
}

static void move_stage(step_t *st, uint32_t si, sr_status_t to,
                       const char *reason)
{
        sr_stage_run_t *s = &st->run->stages[si];
        sr_status_t from;

        if (!move(st, SR_ENT_STAGE_RUN, &s->m, to, reason, &from))
                return;
        if (to == SR_ST_RUNNING && !s->m.started_at)
                s->m.started_at = st->now;
        st->run->stage_dirty[si] = true;
        emit(st, SR_ENT_STAGE_RUN, &s->m, from, NULL, NULL, NULL);
}

static void move_target(step_t *st, uint32_t ti, sr_status_t to,
                        const char *reason)
{
        sr_target_run_t *t = &st->run->targets[ti];
        sr_status_t from;

        if (!move(st, SR_ENT_TARGET_RUN, &t->m, to, reason, &from))
                return;
        if (sr_status_is_terminal(to)) {
                sr_run_stage_idx_t *x = &st->run->sidx[t->stage_index];

                x->n_tr_terminal++;
                if (to == SR_ST_SUCCESS)
                        x->n_tr_success++;
        }
        st->run->target_dirty[ti] = true;
        emit(st, SR_ENT_TARGET_RUN, &t->m, from, &t->stage_run_id,
             &t->stage_run_operation_id, &t->device_id);
}

static void dispatch(step_t *st, uint32_t ti, sr_dispatch_kind_t kind)
{
        sr_run_t *run = st->run;
        sr_target_run_t *t = &run->targets[ti];
        const sr_stage_run_op_t *op;
        sr_fsm_out_t *out = st->out;
        sr_dispatch_t *d;

        if (!sr_array_grow((void **)&out->dispatches, &out->cap_dispatches,
                  out->n_dispatches + 1, sizeof(*out->dispatches))) {
                st->nomem = true;
                return;
        }
        op = &run->ops[run->sidx[t->stage_index].first_op + t->op_index];
        d = &out->dispatches[out->n_dispatches++];
        memset(d, 0, sizeof(*d));
        d->kind = kind;
        d->command_id = t->command_id;
        d->pipeline_run_id = t->pipeline_run_id;
        d->stage_run_id = t->stage_run_id;
        d->target_run_id = t->m.id;
        d->device_id = t->device_id;
        memcpy(d->device_name, t->device_name, sizeof(d->device_name));
        memcpy(d->operation_type, op->operation_type,
               sizeof(d->operation_type));
        d->args_json = op->args_json;
        memcpy(d->enterprise_id, run->pr.enterprise_id,
               sizeof(d->enterprise_id));
        d->issued_at = st->now;
        if (kind == SR_DISPATCH_CANCEL) {
                t->cancel_requested = true;
                run->target_dirty[ti] = true;
        }
        out->applied = true;
}

static bool target_has_command(const sr_target_run_t *t)
{
        return t->m.status == SR_ST_PROCESSING ||
               t->m.status == SR_ST_DISPATCHED ||
               t->m.status == SR_ST_RUNNING;
}

static void rollup_pr(step_t *st);

/* queued -> processing: freeze the operations, create and dispatch the
 * target runs; then running, or invalid for an empty stage. */
static void process_stage(step_t *st, uint32_t si)
{
        sr_run_t *run = st->run;
        sr_stage_run_t *s = &run->stages[si];
        sr_run_stage_idx_t *x = &run->sidx[si];
        char rid[SR_UUID_STR_LEN + 1];
        uint32_t n_tr;

        move_stage(st, si, SR_ST_PROCESSING, "materialising");
        if (s->n_targets == 0) {
                move_stage(st, si, SR_ST_INVALID, "no_targets");
                return;
        }
        if (s->n_ops == 0) {
                move_stage(st, si, SR_ST_INVALID, "no_operations");
                return;
        }
        sr_uuid_fmt(&run->pr.m.id, rid);
        n_tr = s->n_ops * s->n_targets;
        if (!sr_run_reserve_ops(run, run->n_ops + s->n_ops) ||
            !sr_run_reserve_targets(run, run->n_targets + n_tr)) {
                st->nomem = true;
                return;
        }
        x->first_op = run->n_ops;
        x->n_ops = 0;
        for (uint32_t j = 0; j < s->n_ops; j++) {
                sr_stage_run_op_t *op = &run->ops[run->n_ops];

                memset(op, 0, sizeof(*op));
                sr_uuid_v5(&op->id, &sr_ns, "%s/stage/%u/op/%u", rid, si, j);
                op->pipeline_run_id = run->pr.m.id;
                op->stage_run_id = s->m.id;
                op->stage_index = si;
                op->index = j;
                memcpy(op->operation_type, s->ops[j].operation_type,
                       sizeof(op->operation_type));
                if (s->ops[j].args_json &&
                    !(op->args_json = strdup(s->ops[j].args_json))) {
                        st->nomem = true;
                        return;
                }
                op->created_at = st->now;
                op->version = 1;
                run->op_dirty[run->n_ops++] = true;
                x->n_ops++;
        }
        x->first_tr = run->n_targets;
        x->n_tr = 0;
        x->n_tr_terminal = x->n_tr_success = 0;
        for (uint32_t j = 0; j < s->n_ops; j++) {
                for (uint32_t k = 0; k < s->n_targets; k++) {
                        const sr_spec_target_t *spec = &s->targets[k];
                        uint32_t ti = run->n_targets;
                        sr_target_run_t *t = &run->targets[ti];
                        char tid[SR_UUID_STR_LEN + 1];

                        memset(t, 0, sizeof(*t));
                        sr_uuid_v5(&t->m.id, &sr_ns,
                                   "%s/stage/%u/op/%u/target/%u", rid, si, j,
                                   k);
                        t->pipeline_run_id = run->pr.m.id;
                        t->stage_run_id = s->m.id;
                        t->stage_run_operation_id =
                                run->ops[x->first_op + j].id;
                        t->stage_index = si;
                        t->op_index = j;
                        t->target_index = k;
                        t->target_id = spec->target_id;
                        if (sr_uuid_is_nil(&t->target_id))
                                sr_uuid_v5(&t->target_id, &sr_ns,
                                           "%s/stage/%u/target/%u", rid, si,
                                           k);
                        t->device_id = spec->device_id;
                        memcpy(t->device_name, spec->device_name,
                               sizeof(t->device_name));
                        memcpy(t->device_alias, spec->device_alias,
                               sizeof(t->device_alias));
                        run->target_dirty[ti] = true;
                        run->n_targets++;
                        x->n_tr++;
                        move_target(st, ti, SR_ST_PENDING, "created");
                        move_target(st, ti, SR_ST_QUEUED, "queued");
                        sr_uuid_fmt(&t->m.id, tid);
                        sr_uuid_v5(&t->command_id, &sr_ns, "%s/command", tid);
                        t->m.started_at = st->now;
                        t->m.deadline = st->now + SR_TARGET_RUN_TIMEOUT_MS;
                        move_target(st, ti, SR_ST_PROCESSING,
                                    "command_created");
                        dispatch(st, ti, SR_DISPATCH_COMMAND);
                }
        }
        if (!sr_run_rehash(run)) {
                st->nomem = true;
                return;
        }
        move_stage(st, si, SR_ST_RUNNING, "targets_dispatched");
}

/* pending -> queued, and at once on through processing. */
static void queue_stage(step_t *st, uint32_t si, const char *reason)
{
        sr_stage_run_t *s = &st->run->stages[si];
        int64_t timeout = s->timeout_seconds > 0 ?
                                  s->timeout_seconds * 1000 :
                                  SR_STAGE_RUN_DEFAULT_TIMEOUT_MS;

        s->queued_at = st->now;
        s->m.deadline = st->now + timeout;
        move_stage(st, si, SR_ST_QUEUED, reason);
}

/* The target-run side of a cascade from its stage or pipeline run. */
static void cascade_target(step_t *st, uint32_t ti, sr_status_t to,
                           const char *reason)
{
        sr_target_run_t *t = &st->run->targets[ti];

        if (sr_status_is_terminal(t->m.status))
                return;
        if (target_has_command(t) && !t->cancel_requested)
                dispatch(st, ti, SR_DISPATCH_CANCEL);
        /* A running command is not cancelled on the spot: its own result
         * ends the target run. A timeout ends it regardless. */
        if (to == SR_ST_CANCELLED && t->m.status == SR_ST_RUNNING)
                return;
        move_target(st, ti, to, reason);
}

static void cascade_stage_targets(step_t *st, uint32_t si, sr_status_t to,
                                  const char *reason)
{
        const sr_run_stage_idx_t *x = &st->run->sidx[si];

        for (uint32_t i = 0; i < x->n_tr; i++)
                cascade_target(st, x->first_tr + i, to, reason);
}

/* A stage run ends by cancel or timeout: its targets follow, then the
 * pipeline run rolls up. */
static void end_stage(step_t *st, uint32_t si, sr_status_t to,
                      const char *reason, const char *target_reason,
                      bool rollup)
{
        move_stage(st, si, to, reason);
        cascade_stage_targets(st, si, to, target_reason);
        if (rollup)
                rollup_pr(st);
}

static bool stage_is_active(sr_status_t s)
{
        return s == SR_ST_QUEUED || s == SR_ST_PROCESSING ||
               s == SR_ST_RUNNING;
}

/* The pipeline-run table's roll-up rows, after a stage run ended. */
static void rollup_pr(step_t *st)
{
        sr_run_t *run = st->run;
        uint32_t n = run->pr.n_stages;
        bool failed = false, all_success = true;
        uint32_t next = n;

        for (;;) {
                if (run->pr.m.status != SR_ST_RUNNING &&
                    run->pr.m.status != SR_ST_WAITING)
                        return;
                failed = false;
                all_success = true;
                next = n;
                for (uint32_t i = 0; i < n; i++) {
                        sr_status_t s = run->stages[i].m.status;

                        if (stage_is_active(s))
                                return;
                        if (s != SR_ST_SUCCESS)
                                all_success = false;
                        if (sr_status_is_terminal(s) && s != SR_ST_SUCCESS)
                                failed = true;
                        if (s == SR_ST_PENDING && next == n)
                                next = i;
                }
                if (failed) {
                        for (uint32_t i = 0; i < n; i++)
                                if (run->stages[i].m.status == SR_ST_PENDING)
                                        move_stage(st, i, SR_ST_CANCELLED,
                                                   "previous_stage_failed");
                        move_pr(st, SR_ST_COMPLETE, "stage_failed");
                        move_pr(st, SR_ST_FAILURE, "stage_failed");
                        return;
                }
                if (all_success) {
                        move_pr(st, SR_ST_COMPLETE, "all_stages_succeeded");
                        move_pr(st, SR_ST_SUCCESS, "all_stages_succeeded");
                        return;
                }
                if (!run->pr.auto_promote) {
                        if (run->pr.m.status == SR_ST_RUNNING)
                                move_pr(st, SR_ST_WAITING,
                                        "awaiting_promotion");
                        return;
                }
                /* auto_promote: the next stage run is queued at once; the
                 * pipeline run stays running (no self-transition event). */
                queue_stage(st, next, "auto_promoted");
                if (st->nomem)
                        return;
                process_stage(st, next);
                if (st->nomem)
                        return;
                /* An empty stage ends at once: roll up again. */
        }
}

/* After a target run ended: the stage-run table's completion rows. */
static void rollup_stage(step_t *st, uint32_t si)
{
        sr_run_t *run = st->run;
        const sr_run_stage_idx_t *x = &run->sidx[si];
        bool ok;

        if (run->stages[si].m.status != SR_ST_RUNNING ||
            x->n_tr_terminal < x->n_tr)
                return;
        ok = x->n_tr_success == x->n_tr;
        move_stage(st, si, SR_ST_COMPLETE,
                   ok ? "all_targets_succeeded" : "target_failed");
        move_stage(st, si, ok ? SR_ST_SUCCESS : SR_ST_FAILURE,
                   ok ? "all_targets_succeeded" : "target_failed");
        rollup_pr(st);
}

/* Earliest deadline of any non-terminal entity: what the worker arms. */
static void update_next_deadline(sr_run_t *run)
{
        int64_t d = 0;

#define CONSIDER(m)                                                       \
        do {                                                              \
                if (!sr_status_is_terminal((m).status) && (m).deadline && \
                    (!d || (m).deadline < d))                             \
                        d = (m).deadline;                                 \
        } while (0)
        CONSIDER(run->pr.m);
        for (uint32_t i = 0; i < run->pr.n_stages; i++)
                CONSIDER(run->stages[i].m);
        for (uint32_t i = 0; i < run->n_targets; i++)
                CONSIDER(run->targets[i].m);
#undef CONSIDER
        if (d != run->pr.next_deadline) {
                run->pr.next_deadline = d;
                run->pr_dirty = true;
        }
}

/* ------------------------------------------------------------ replies */

static void reply_accept(step_t *st, const sr_command_t *cmd,
                         sr_entity_type_t type, const sr_meta_t *m)
{
        sr_reply_t *r = &st->out->reply;

        st->out->has_reply = true;
        memset(r, 0, sizeof(*r));
        r->command_id = cmd->command_id;
        r->pipeline_run_id = cmd->pipeline_run_id;
        r->accepted = true;
        r->occurred_at = st->now;
        snprintf(r->message, sizeof(r->message), "ok");
        r->versions[r->n_versions].entity_type = SR_ENT_PIPELINE_RUN;
        r->versions[r->n_versions].entity_id = st->run->pr.m.id;
        r->versions[r->n_versions++].version = st->run->pr.m.version;
        if (type != SR_ENT_PIPELINE_RUN && m) {
                r->versions[r->n_versions].entity_type = type;
                r->versions[r->n_versions].entity_id = m->id;
                r->versions[r->n_versions++].version = m->version;
        }
}

static void reply_reject(step_t *st, const sr_command_t *cmd,
                         sr_reject_t why, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void reply_reject(step_t *st, const sr_command_t *cmd,
                         sr_reject_t why, const char *fmt, ...)
{
        sr_reply_t *r = &st->out->reply;
        va_list ap;

        st->out->has_reply = true;
        memset(r, 0, sizeof(*r));
        r->command_id = cmd->command_id;
        r->pipeline_run_id = cmd->pipeline_run_id;
        r->accepted = false;
        r->reason = why;
        r->occurred_at = st->now;
        va_start(ap, fmt);
        vsnprintf(r->message, sizeof(r->message), fmt, ap);
        va_end(ap);
}

/* ------------------------------------------------------------ commands */

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
                        reply_accept(st, cmd, SR_ENT_PIPELINE_RUN, NULL);
                        return SR_OK;
                }
                reply_reject(st, cmd, SR_REJECT_DUPLICATE_SPEC,
                             "pipeline run %s already exists with a "
                             "different spec: use a new pipeline run id",
                             rid);
                return SR_OK;
        }
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
        move_pr(st, SR_ST_PENDING, "created");
        move_pr(st, SR_ST_QUEUED, "queued");
        move_pr(st, SR_ST_PROCESSING, "materialising");

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
                run->stage_dirty[i] = true;
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
                if (!sr_spec_ops_copy(&s->ops, ss->ops, ss->n_ops) ||
                    !sr_spec_targets_copy(&s->targets, ss->targets,
                                          ss->n_targets)) {
                        s->n_ops = s->n_targets = 0;
                        return SR_ERR_NOMEM;
                }
                move_stage(st, i, SR_ST_PENDING, "created");
        }
        if (!sr_run_rehash(run))
                return SR_ERR_NOMEM;
        if (spec->n_stages == 0) {
                move_pr(st, SR_ST_INVALID, "no_stages");
        } else {
                queue_stage(st, 0, "first_stage");
                move_pr(st, SR_ST_RUNNING, "first_stage_queued");
                process_stage(st, 0);
                if (sr_status_is_terminal(run->stages[0].m.status))
                        rollup_pr(st);
        }
        if (st->nomem)
                return SR_ERR_NOMEM;
        reply_accept(st, cmd, SR_ENT_PIPELINE_RUN, NULL);
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
        reply_reject(st, cmd, SR_REJECT_INVALID_VALUE,
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
                reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
                             "pipeline run %s is %s, a final status: "
                             "nothing may be set",
                             rid, sr_status_name(run->pr.m.status));
                return;
        }
        if (to != SR_ST_CANCELLED) {
                reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
                             "pipeline run %s is %s: only \"cancelled\" "
                             "may be set on a pipeline run, not \"%s\"",
                             rid, sr_status_name(run->pr.m.status),
                             sr_status_name(to));
                return;
        }
        move_pr(st, SR_ST_CANCELLED, "cancelled_by_user");
        for (uint32_t i = 0; i < run->pr.n_stages; i++)
                if (!sr_status_is_terminal(run->stages[i].m.status))
                        move_stage(st, i, SR_ST_CANCELLED,
                                   "pipeline_run_cancelled");
        for (uint32_t i = 0; i < run->n_targets; i++)
                cascade_target(st, i, SR_ST_CANCELLED,
                               "pipeline_run_cancelled");
        reply_accept(st, cmd, SR_ENT_PIPELINE_RUN, NULL);
}

static void set_stage_run(step_t *st, const sr_command_t *cmd)
{
        sr_run_t *run = st->run;
        sr_stage_run_t *s = sr_run_find_stage(run, &cmd->u.set.entity_id);
        char sid[SR_UUID_STR_LEN + 1], rid[SR_UUID_STR_LEN + 1];
        const char *cur;
        sr_status_t to;
        uint32_t si;

        sr_uuid_fmt(&cmd->u.set.entity_id, sid);
        sr_uuid_fmt(&run->pr.m.id, rid);
        if (!s) {
                reply_reject(st, cmd, SR_REJECT_NOT_FOUND,
                             "stage run %s not found in pipeline run %s", sid,
                             rid);
                return;
        }
        si = s->index;
        cur = sr_status_name(s->m.status);
        if (!parse_status(st, cmd, "stage run",
                          "\"queued\" (promote) and \"cancelled\"", &to))
                return;
        if (sr_status_is_terminal(s->m.status)) {
                reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
                             "stage run %s is %s, a final status: nothing "
                             "may be set",
                             sid, cur);
                return;
        }
        if (to == SR_ST_CANCELLED) {
                end_stage(st, si, SR_ST_CANCELLED, "cancelled_by_user",
                          "stage_run_cancelled", true);
                reply_accept(st, cmd, SR_ENT_STAGE_RUN, &s->m);
                return;
        }
        if (to != SR_ST_QUEUED) {
                reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
                             "stage run %s is %s: \"%s\" cannot be set; "
                             "allowed are \"queued\" (promote, from pending "
                             "while the pipeline run is waiting) and "
                             "\"cancelled\"",
                             sid, cur, sr_status_name(to));
                return;
        }
        if (s->m.status != SR_ST_PENDING) {
                reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
                             "stage run %s is %s: only a pending stage run "
                             "can be promoted (\"queued\"); \"cancelled\" "
                             "may be set",
                             sid, cur);
                return;
        }
        if (run->pr.m.status != SR_ST_WAITING) {
                reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
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
                        reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
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
        queue_stage(st, si, "promoted");
        move_pr(st, SR_ST_RUNNING, "promoted");
        process_stage(st, si);
        if (sr_status_is_terminal(run->stages[si].m.status))
                rollup_pr(st);
        reply_accept(st, cmd, SR_ENT_STAGE_RUN, &run->stages[si].m);
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
        sr_target_run_t *t = &st->run->targets[ti];

        if (!target_moves(t->m.status, ts.to))
                return false;
        if (ts.to == SR_ST_SUCCESS || ts.to == SR_ST_FAILURE)
                move_target(st, ti, SR_ST_COMPLETE, ts.reason);
        move_target(st, ti, ts.to, ts.reason);
        /* t may move below (an auto-promoted stage grows the array). */
        if (sr_status_is_terminal(ts.to))
                rollup_stage(st, t->stage_index);
        return true;
}

static void set_target_run(step_t *st, const sr_command_t *cmd)
{
        sr_run_t *run = st->run;
        sr_target_run_t *t = sr_run_find_target(run, &cmd->u.set.entity_id);
        char tid[SR_UUID_STR_LEN + 1], rid[SR_UUID_STR_LEN + 1];
        char cmdid[SR_UUID_STR_LEN + 1];
        static const char allowed[] = "\"dispatched\", \"running\", "
                                      "\"success\", \"failure\" and "
                                      "\"cancelled\"";
        target_step_t ts;
        const char *cur;
        sr_status_t to;
        uint32_t ti;

        sr_uuid_fmt(&cmd->u.set.entity_id, tid);
        sr_uuid_fmt(&run->pr.m.id, rid);
        if (!t) {
                reply_reject(st, cmd, SR_REJECT_NOT_FOUND,
                             "target run %s not found in pipeline run %s",
                             tid, rid);
                return;
        }
        /* Use the index from here on: an auto-promoted stage may grow
         * (and move) the targets array during the step. */
        ti = (uint32_t)(t - run->targets);
        sr_uuid_fmt(&t->command_id, cmdid);
        cur = sr_status_name(t->m.status);
        if (!parse_status(st, cmd, "target run", allowed, &to))
                return;
        if (to == t->m.status) { /* idempotent re-statement */
                reply_accept(st, cmd, SR_ENT_TARGET_RUN, &t->m);
                st->out->stale = true;
                return;
        }
        if (sr_status_is_terminal(t->m.status)) {
                reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
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
                        reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
                                     "target run %s is %s: its device "
                                     "command %s was already sent, so the "
                                     "target run can no longer be "
                                     "cancelled; cancel the device command "
                                     "instead",
                                     tid, cur, cmdid);
                        return;
                }
                if (target_has_command(t) && !t->cancel_requested)
                        dispatch(st, ti, SR_DISPATCH_CANCEL);
                move_target(st, ti, SR_ST_CANCELLED, "cancelled_by_user");
                rollup_stage(st, t->stage_index);
                t = &run->targets[ti];
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
                        run->target_dirty[ti] = true;
                }
                if (!advance_target(st, ti, ts)) {
                        t = &run->targets[ti];
                        reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
                                     "target run %s is %s: results only "
                                     "move it forward (processing < "
                                     "dispatched < running < success or "
                                     "failure), so \"%s\" cannot be set",
                                     tid, cur, sr_status_name(to));
                        return;
                }
                break;
        default:
                reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
                             "target run %s is %s: \"%s\" cannot be set; "
                             "allowed are %s",
                             tid, cur, sr_status_name(to), allowed);
                return;
        }
        reply_accept(st, cmd, SR_ENT_TARGET_RUN, &run->targets[ti].m);
}

/* timer fired: every non-terminal entity whose deadline is at or before
 * the timer's deadline times out, the pipeline run first. */
static void timer_fired(step_t *st, const sr_command_t *cmd)
{
        sr_run_t *run = st->run;
        int64_t d = cmd->u.timer.deadline;

        if (sr_status_is_terminal(run->pr.m.status)) {
                st->out->stale = true;
                return;
        }
        if (run->pr.m.deadline && run->pr.m.deadline <= d) {
                move_pr(st, SR_ST_TIMEOUT, "timeout");
                for (uint32_t i = 0; i < run->pr.n_stages; i++)
                        if (!sr_status_is_terminal(run->stages[i].m.status))
                                move_stage(st, i, SR_ST_TIMEOUT,
                                           "pipeline_run_timeout");
                for (uint32_t i = 0; i < run->n_targets; i++)
                        cascade_target(st, i, SR_ST_TIMEOUT,
                                       "pipeline_run_timeout");
                return;
        }
        for (uint32_t i = 0; i < run->pr.n_stages; i++) {
                sr_stage_run_t *s = &run->stages[i];

                if (sr_status_is_terminal(run->pr.m.status))
                        return;
                if (stage_is_active(s->m.status) && s->m.deadline &&
                    s->m.deadline <= d)
                        end_stage(st, i, SR_ST_TIMEOUT, "timeout",
                                  "stage_run_timeout", true);
        }
        for (uint32_t i = 0; i < run->n_targets; i++) {
                sr_target_run_t *t = &run->targets[i];

                if (!sr_status_is_terminal(t->m.status) && t->m.deadline &&
                    t->m.deadline <= d) {
                        uint32_t si = t->stage_index;

                        cascade_target(st, i, SR_ST_TIMEOUT, "timeout");
                        rollup_stage(st, si); /* may move run->targets */
                }
        }
        if (!st->out->applied)
                st->out->stale = true;
}

sr_err_t sr_fsm_apply_command(sr_run_t *run, const sr_command_t *cmd,
                              int64_t now_ms, sr_fsm_out_t *out)
{
        step_t st = { run, out, now_ms, cmd->command_id, false, false };
        char rid[SR_UUID_STR_LEN + 1];
        sr_err_t err = SR_OK;

        sr_fsm_out_reset(out);
        sr_uuid_fmt(&cmd->pipeline_run_id, rid);
        if (cmd->kind == SR_CMD_CREATE_RUN) {
                err = create_run(&st, cmd);
                goto done;
        }
        if (!run->exists ||
            (cmd->kind != SR_CMD_TIMER_FIRED &&
             strcmp(run->pr.enterprise_id, cmd->enterprise_id))) {
                /* Another tenant's run is answered exactly like a missing
                 * one, so ids do not leak across enterprises. */
                if (cmd->kind == SR_CMD_TIMER_FIRED)
                        out->stale = true;
                else
                        reply_reject(&st, cmd, SR_REJECT_NOT_FOUND,
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
        default:
                reply_reject(&st, cmd, SR_REJECT_INVALID_VALUE,
                             "unknown command kind %d", (int)cmd->kind);
                break;
        }
done:
        if (err == SR_OK && st.nomem)
                err = SR_ERR_NOMEM;
        if (err == SR_OK && st.illegal)
                err = SR_ERR_INTERNAL;
        if (err == SR_OK && run->exists && out->applied)
                update_next_deadline(run);
        return err;
}

sr_err_t sr_fsm_apply_result(sr_run_t *run, const sr_result_t *res,
                             int64_t now_ms, sr_fsm_out_t *out)
{
        step_t st = { run, out, now_ms, res->result_id, false, false };
        sr_target_run_t *t;
        sr_cmdst_t cs;
        uint32_t ti;

        sr_fsm_out_reset(out);
        if (!sr_cmdst_parse(res->command_status, strlen(res->command_status),
                            &cs))
                return SR_ERR_SCHEMA;
        if (!run->exists)
                return SR_ERR_NOT_FOUND;
        t = sr_run_find_target(run, &res->target_run_id);
        if (!t)
                return SR_ERR_NOT_FOUND;
        if (!sr_uuid_is_nil(&res->command_id) &&
            !sr_uuid_eq(&res->command_id, &t->command_id)) {
                out->stale = true; /* a result of some other command */
                return SR_OK;
        }
        ti = (uint32_t)(t - run->targets);
        if (sr_status_is_terminal(t->m.status) ||
            !result_moves(t->m.status, cs)) {
                out->stale = true;
                return SR_OK;
        }
        /* Record what the device said before the move, so the events and
         * the stored state carry it. */
        snprintf(t->command_status, sizeof(t->command_status), "%s",
                 sr_cmdst_name(cs));
        if (res->device_name[0])
                memcpy(t->device_name, res->device_name,
                       sizeof(t->device_name));
        run->target_dirty[ti] = true;
        advance_target(&st, ti, map_cmdst(cs));
        if (st.nomem)
                return SR_ERR_NOMEM;
        if (st.illegal)
                return SR_ERR_INTERNAL;
        update_next_deadline(run);
        return SR_OK;
}
