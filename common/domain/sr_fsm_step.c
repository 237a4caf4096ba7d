/* common/domain/sr_fsm_step.c - the primitives of a step: every status
 * change goes through move(), which refuses what is not a row of the table
 * (sr_fsm_table.c), bumps the entity's version, stamps the input's time and
 * appends the event with the run's next seq; then dispatches, cascades,
 * roll-ups and replies, as the tables of domain.md chain them. */
#include "sr_fsm_int.h"

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
        out->n_steps = 0;
        out->has_reply = false;
        memset(&out->reply, 0, sizeof(out->reply));
        out->stale = false;
        out->applied = false;
        out->retire = false;
        out->forget = false;
        out->for_retired = false;
        out->illegal[0] = '\0';
}

void sr_fsm_out_fini(sr_fsm_out_t *out)
{
        if (!out)
                return;
        free(out->events);
        free(out->dispatches);
        free(out->steps);
        sr_fsm_out_init(out);
}

size_t sr_fsm_out_trim(sr_fsm_out_t *out, size_t keep_bytes)
{
        size_t freed = 0, ev, dp;

        ev = (size_t)out->cap_events * sizeof(*out->events);
        if (out->n_events == 0 && ev > keep_bytes) {
                free(out->events);
                out->events = NULL;
                out->cap_events = 0;
                freed += ev;
        }
        dp = (size_t)out->cap_dispatches * sizeof(*out->dispatches);
        if (out->n_dispatches == 0 && dp > keep_bytes) {
                free(out->dispatches);
                out->dispatches = NULL;
                out->cap_dispatches = 0;
                freed += dp;
        }
        return freed;
}

size_t sr_fsm_out_capacity(const sr_fsm_out_t *out)
{
        return (size_t)out->cap_events * sizeof(*out->events) +
               (size_t)out->cap_dispatches * sizeof(*out->dispatches);
}

/* ------------------------------------------------------------ step */


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

/* A state the rules never make (the run's arrays out of step): the
 * input fails with SR_ERR_INTERNAL, as for a transition not in the table,
 * and the caller throws the run's changes away. */
void sr_fsm__defect(step_t *st, const char *fmt, ...)
{
        va_list ap;

        if (!st->illegal) {
                va_start(ap, fmt);
                vsnprintf(st->out->illegal, sizeof(st->out->illegal), fmt,
                          ap);
                va_end(ap);
        }
        st->illegal = true;
}

/* The run sends itself the next StageStep of stage @p si: its id is v5 of
 * (run, stage, kind, cursor), so a replay of this input sends the same
 * command and the dedupe keeps one. */
void sr_fsm__send_step(step_t *st, uint32_t si, const char *kind,
                       uint32_t cursor)
{
        sr_run_t *run = st->run;
        sr_fsm_out_t *out = st->out;
        char rid[SR_UUID_STR_LEN + 1];
        sr_command_t *c;

        if (!sr_array_grow((void **)&out->steps, &out->cap_steps,
                           out->n_steps + 1, sizeof(*out->steps))) {
                st->nomem = true;
                return;
        }
        c = &out->steps[out->n_steps++];
        memset(c, 0, sizeof(*c));
        sr_uuid_fmt(&run->pr.m.id, rid);
        c->kind = SR_CMD_STAGE_STEP;
        sr_uuid_v5(&c->command_id, &sr_ns, "%s/stage/%u/step/%s/%u", rid, si,
                   kind, cursor);
        c->pipeline_run_id = run->pr.m.id;
        memcpy(c->enterprise_id, run->pr.enterprise_id,
               sizeof(c->enterprise_id));
        c->issued_at = st->now;
        c->u.step.stage_index = si;
        c->u.step.cursor = cursor;
        snprintf(c->u.step.step, sizeof(c->u.step.step), "%s", kind);
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
                if (st->now > st->run->max_ended_at)
                        st->run->max_ended_at = st->now;
        }
        *fromp = from;
        return true;
}

void sr_fsm__move_pr(step_t *st, sr_status_t to, const char *reason)
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

void sr_fsm__move_stage(step_t *st, uint32_t si, sr_status_t to,
                       const char *reason)
{
        sr_stage_run_t *s = &st->run->stages[si];
        sr_status_t from;

        if (!move(st, SR_ENT_STAGE_RUN, &s->m, to, reason, &from))
                return;
        if (to == SR_ST_RUNNING && !s->m.started_at)
                s->m.started_at = st->now;
        sr_run_stage_changed(st->run, si, from);
        sr_run_mark_stage(st->run, si);
        emit(st, SR_ENT_STAGE_RUN, &s->m, from, NULL, NULL, NULL);
}

void sr_fsm__move_target(step_t *st, uint32_t ti, sr_status_t to,
                        const char *reason)
{
        sr_target_run_t *t = sr_run_tr(st->run, ti);
        int64_t deadline = t->m.deadline;
        sr_status_t from;

        if (!move(st, SR_ENT_TARGET_RUN, &t->m, to, reason, &from))
                return;
        sr_run_target_changed(st->run, ti, from, deadline);
        sr_run_mark_target(st->run, ti);
        emit(st, SR_ENT_TARGET_RUN, &t->m, from, &t->stage_run_id,
             &t->stage_run_operation_id, &t->device_id);
}

void sr_fsm__dispatch(step_t *st, uint32_t ti, sr_dispatch_kind_t kind)
{
        sr_run_t *run = st->run;
        sr_target_run_t *t = sr_run_tr(run, ti);
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
                sr_run_mark_target(run, ti);
        }
        out->applied = true;
}

bool sr_fsm__target_has_command(const sr_target_run_t *t)
{
        return t->m.status == SR_ST_PROCESSING ||
               t->m.status == SR_ST_DISPATCHED ||
               t->m.status == SR_ST_RUNNING;
}

/* queued -> processing; then filled at once, unless the stage is open
 * and not sealed yet: it waits in processing for its seal (the fill
 * timeout shortening its deadline). */
void sr_fsm__process_stage(step_t *st, uint32_t si)
{
        sr_stage_run_t *s = &st->run->stages[si];

        sr_fsm__move_stage(st, si, SR_ST_PROCESSING, "materialising");
        if (s->append_targets && !s->sealed) {
                sr_fsm__await_targets(st, si);
                return;
        }
        sr_fsm__fill_stage(st, si);
}

/* The first part of a fill: freeze the stage's operations; the stage's
 * target runs start at the end of the run's (stages fill in turn, one
 * active at a time). false when out of memory. */
static bool create_ops(step_t *st, uint32_t si)
{
        sr_run_t *run = st->run;
        sr_stage_run_t *s = &run->stages[si];
        sr_run_stage_idx_t *x = &run->sidx[si];
        char rid[SR_UUID_STR_LEN + 1];

        if (!sr_run_reserve_ops(run, run->n_ops + s->n_ops))
                return false;
        sr_uuid_fmt(&run->pr.m.id, rid);
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
                    !(op->args_json = strdup(s->ops[j].args_json)))
                        return false;
                op->created_at = st->now;
                op->version = 1;
                run->op_dirty[run->n_ops] = false;
                sr_run_mark_op(run, run->n_ops++);
                x->n_ops++;
        }
        x->first_tr = run->n_targets;
        x->n_tr = 0;
        memset(x->n_tr_status, 0, sizeof(x->n_tr_status));
        x->tr_min_deadline = 0;
        x->n_tr_at_min = 0;
        return true;
}

/* The next target run of run @p rid (its id's text), stage @p si,
 * operation @p j, target @p k, from its spec item: created, queued and
 * dispatched; its timeout counts from @p since. */
static void create_target(step_t *st, const char *rid, uint32_t si,
                          uint32_t j, uint32_t k,
                          const sr_spec_target_t *spec, bool open,
                          int64_t since)
{
        sr_run_t *run = st->run;
        sr_stage_run_t *s = &run->stages[si];
        sr_run_stage_idx_t *x = &run->sidx[si];
        uint32_t ti = run->n_targets;
        sr_target_run_t *t = sr_run_tr_new(run); /* zeroed */
        char tid[SR_UUID_STR_LEN + 1], dev[SR_UUID_STR_LEN + 1];

        if (!t) {
                st->nomem = true;
                return;
        }
        /* An open stage's target runs are named by their device
         * (docs/targets.md section 3), not by a position that depends on
         * the chunks. */
        if (open) {
                sr_uuid_fmt(&spec->device_id, dev);
                sr_uuid_v5(&t->m.id, &sr_ns, "%s/stage/%u/device/%s/op/%u",
                           rid, si, dev, j);
        } else {
                sr_uuid_v5(&t->m.id, &sr_ns, "%s/stage/%u/op/%u/target/%u",
                           rid, si, j, k);
        }
        t->pipeline_run_id = run->pr.m.id;
        t->stage_run_id = s->m.id;
        t->stage_run_operation_id = run->ops[x->first_op + j].id;
        t->stage_index = si;
        t->op_index = j;
        t->target_index = k;
        t->target_id = spec->target_id;
        if (sr_uuid_is_nil(&t->target_id) && open)
                sr_uuid_open_target_id(&t->target_id, &run->pr.m.id, si,
                                       &spec->device_id);
        else if (sr_uuid_is_nil(&t->target_id))
                sr_uuid_v5(&t->target_id, &sr_ns, "%s/stage/%u/target/%u",
                           rid, si, k);
        t->device_id = spec->device_id;
        memcpy(t->device_name, spec->device_name, sizeof(t->device_name));
        memcpy(t->device_alias, spec->device_alias, sizeof(t->device_alias));
        sr_run_mark_target(run, ti);
        run->n_targets++;
        x->n_tr++;
        sr_run_target_added(run, ti);
        sr_fsm__move_target(st, ti, SR_ST_PENDING, "created");
        sr_fsm__move_target(st, ti, SR_ST_QUEUED, "queued");
        sr_uuid_fmt(&t->m.id, tid);
        sr_uuid_v5(&t->command_id, &sr_ns, "%s/command", tid);
        t->m.started_at = st->now;
        t->m.deadline = since + SR_TARGET_RUN_TIMEOUT_MS;
        sr_run_target_changed(run, ti, t->m.status, 0);
        sr_fsm__move_target(st, ti, SR_ST_PROCESSING, "command_created");
        sr_fsm__dispatch(st, ti, SR_DISPATCH_COMMAND);
}

/* A processing stage run with its whole target set (inline, or sealed
 * chunks in chunk order): freeze the operations, create and dispatch the
 * target runs; then running, or invalid for an empty stage. An open
 * stage is filled stage.step.targets target runs per input (section 4 of
 * docs/targets.md): operation-major, (op 0: targets 0..n-1, op 1: ...),
 * which is also the order the run keeps and reloads them in; each part
 * but the last sends the next StageStep, whose cursor is the count of the
 * stage's target runs so far, and the last moves the stage running. */
void sr_fsm__fill_stage(step_t *st, uint32_t si)
{
        sr_run_t *run = st->run;
        sr_stage_run_t *s = &run->stages[si];
        sr_run_stage_idx_t *x = &run->sidx[si];
        bool open = s->append_targets;
        uint32_t n_t = open ? s->seal_count : s->n_targets;
        uint32_t step = open ? st->opts->step_targets : 0;
        sr_fsm_chunks_t src;
        uint32_t from, to, first_new = run->n_targets;
        uint64_t total;
        int64_t since;
        char rid[SR_UUID_STR_LEN + 1];

        if (x->n_ops == 0) {
                if (n_t == 0) {
                        sr_fsm__move_stage(st, si, SR_ST_INVALID,
                                           "no_targets");
                        return;
                }
                if (s->n_ops == 0) {
                        sr_fsm__move_stage(st, si, SR_ST_INVALID,
                                           "no_operations");
                        return;
                }
                if (!create_ops(st, si)) {
                        st->nomem = true;
                        return;
                }
                /* The fill timeout no longer applies: the stage's own
                 * again. */
                if (open)
                        s->m.deadline = sr_fsm__stage_timeout_at(s);
        } else if (x->first_tr + x->n_tr != run->n_targets) {
                /* Stages fill in turn, so a filling stage's target runs
                 * are the run's last: anything else is a defect. */
                sr_fsm__defect(st, "stage run %u: its %u target runs are "
                               "not the run's last (%u of %u): the fill "
                               "cannot go on", si, x->n_tr, x->first_tr,
                               run->n_targets);
                return;
        }
        total = (uint64_t)s->n_ops * n_t;
        from = x->n_tr;
        to = step && total - from > step ? from + step : (uint32_t)total;
        if (!sr_run_reserve_targets(run, run->n_targets + (to - from)) ||
            (open && !sr_fsm__chunks_init(&src, run, si, from % n_t))) {
                st->nomem = true;
                return;
        }
        /* A stage's target runs share their deadline, whichever part
         * made them: the first part's start (the first target run's),
         * + 7 days. Else each part is a deadline of its own, and every
         * time the last open target run of one ends, its stage's are
         * scanned for the next minimum (sr_run.c): O(stage) per part. */
        since = from ? sr_run_tr(run, x->first_tr)->m.started_at : st->now;
        sr_uuid_fmt(&run->pr.m.id, rid);
        for (uint32_t n = from; n < to && !st->nomem; n++) {
                uint32_t j = n / n_t, k = n % n_t;
                const sr_spec_target_t *spec;

                if (open) {
                        if (k == 0 && n != from)
                                sr_fsm__chunks_seek(&src, 0);
                        spec = sr_fsm__chunks_next(&src);
                } else {
                        spec = &s->targets[k];
                }
                create_target(st, rid, si, j, k, spec, open, since);
        }
        if (open)
                sr_fsm__chunks_fini(&src);
        if (!sr_run_hash_added(run, first_new)) {
                st->nomem = true;
                return;
        }
        if (to < total) {
                sr_fsm__send_step(st, si, "fill", to);
                return;
        }
        sr_fsm__move_stage(st, si, SR_ST_RUNNING, "targets_dispatched");
}

/* Where a target run of the filled stage block moves when the block
 * (n_ops operations of m target runs each, operation-major) gains one
 * target run per operation at its end, then put in place: position
 * j*m + k becomes j*(m+1) + k, and the new one of operation j (block
 * position n_ops*m + j) becomes j*(m+1) + m. */
static uint32_t added_pos(uint32_t p, uint32_t n_ops, uint32_t m)
{
        if (p >= n_ops * m)
                return (p - n_ops * m) * (m + 1) + m;
        return (p / m) * (m + 1) + p % m;
}

/* AddTargetRun (docs/domain-decisions.md, "A target run added late"):
 * one target run per operation of filled stage @p si for the device of
 * @p spec, each created and dispatched as a fill creates them (named by
 * the device, as an open stage's are; the stage's shared deadline), then
 * put where a load would sort it: operation j's after its others, with
 * target index m (the stage's count of targets before). The stage's
 * target runs are the run's last (stages fill in turn). O(stage): the
 * block is moved, the dirty list's entries in it renumbered, the hash
 * rebuilt. false when out of memory or a defect (st says which). */
bool sr_fsm__add_device(step_t *st, uint32_t si, const sr_spec_target_t *spec)
{
        sr_run_t *run = st->run;
        sr_run_stage_idx_t *x = &run->sidx[si];
        uint32_t n_ops = x->n_ops, first = x->first_tr;
        uint32_t m = n_ops ? x->n_tr / n_ops : 0, n_block;
        sr_target_run_t *tmp;
        bool *dtmp;
        int64_t since;
        char rid[SR_UUID_STR_LEN + 1];

        if (!n_ops || x->n_tr != n_ops * m ||
            first + x->n_tr != run->n_targets) {
                sr_fsm__defect(st, "stage run %u: %u target runs over %u "
                               "operations from %u of %u: not a filled "
                               "stage at the run's end", si, x->n_tr,
                               n_ops, first, run->n_targets);
                return false;
        }
        if (!sr_run_reserve_targets(run, run->n_targets + n_ops)) {
                st->nomem = true;
                return false;
        }
        since = m ? sr_run_tr(run, first)->m.started_at : st->now;
        sr_uuid_fmt(&run->pr.m.id, rid);
        for (uint32_t j = 0; j < n_ops && !st->nomem; j++)
                create_target(st, rid, si, j, m, spec, true, since);
        if (st->nomem)
                return false;
        n_block = n_ops * (m + 1);
        tmp = malloc((size_t)n_block * sizeof(*tmp));
        dtmp = malloc((size_t)n_block * sizeof(*dtmp));
        if (!tmp || !dtmp) {
                free(tmp);
                free(dtmp);
                st->nomem = true;
                return false;
        }
        /* every target run of the block resident (read back if paged
         * out), then moved: the bodies and what the run keeps of each */
        for (uint32_t p = 0; p < n_block; p++) {
                tmp[added_pos(p, n_ops, m)] = *sr_run_tr(run, first + p);
                dtmp[added_pos(p, n_ops, m)] = run->tri[first + p].dirty;
        }
        for (uint32_t p = 0; p < n_block; p++) {
                *sr_run_tr(run, first + p) = tmp[p];
                sr_run_tri_sync(run, first + p);
                run->tri[first + p].dirty = dtmp[p];
        }
        free(tmp);
        free(dtmp);
        for (uint32_t k = 0; k < run->n_dirty; k++) {
                uint64_t e = run->dirty[k];
                uint32_t i = (uint32_t)e;

                if ((sr_entity_type_t)(e >> 32) == SR_ENT_TARGET_RUN &&
                    i >= first)
                        run->dirty[k] = SR_RUN_DIRTY(
                                SR_ENT_TARGET_RUN,
                                first + added_pos(i - first, n_ops, m));
        }
        if (!sr_run_rehash(run)) {
                st->nomem = true;
                return false;
        }
        return true;
}

/* pending -> queued, and at once on through processing. */
void sr_fsm__queue_stage(step_t *st, uint32_t si, const char *reason)
{
        sr_stage_run_t *s = &st->run->stages[si];

        s->queued_at = st->now;
        s->m.deadline = sr_fsm__stage_timeout_at(s);
        sr_fsm__move_stage(st, si, SR_ST_QUEUED, reason);
}

/* The target-run side of a cascade from its stage or pipeline run. */
void sr_fsm__cascade_target(step_t *st, uint32_t ti, sr_status_t to,
                           const char *reason)
{
        sr_target_run_t *t = sr_run_tr(st->run, ti);

        if (sr_status_is_terminal(t->m.status))
                return;
        if (sr_fsm__target_has_command(t) && !t->cancel_requested)
                sr_fsm__dispatch(st, ti, SR_DISPATCH_CANCEL);
        /* A running command is not cancelled on the spot: its own result
         * ends the target run. A timeout ends it regardless. */
        if (to == SR_ST_CANCELLED && t->m.status == SR_ST_RUNNING)
                return;
        sr_fsm__move_target(st, ti, to, reason);
}

/* ------------------------------------------------------------ cascades */

/* The cascade an entity's end owes the target runs below it, from its
 * status and reason alone (docs/targets.md section 4: no record holds a
 * cascade's progress): a stage run cancelled or timed out, by a user or
 * by its pipeline run; a pipeline run cancelled or timed out. false: none
 * (not ended so, or ended by its targets). */
static bool owed_cascade(const sr_meta_t *m, bool pipeline, sr_status_t *to,
                         const char **reason)
{
        if (m->status == SR_ST_CANCELLED) {
                *to = SR_ST_CANCELLED;
                if (pipeline && !strcmp(m->reason, "cancelled_by_user"))
                        *reason = "pipeline_run_cancelled";
                else if (!pipeline && !strcmp(m->reason, "cancelled_by_user"))
                        *reason = "stage_run_cancelled";
                else if (!pipeline &&
                         !strcmp(m->reason, "pipeline_run_cancelled"))
                        *reason = "pipeline_run_cancelled";
                else
                        return false;
                return true;
        }
        if (m->status == SR_ST_TIMEOUT) {
                *to = SR_ST_TIMEOUT;
                if (pipeline && !strcmp(m->reason, "timeout"))
                        *reason = "pipeline_run_timeout";
                else if (!pipeline && !strcmp(m->reason, "timeout"))
                        *reason = "stage_run_timeout";
                else if (!pipeline &&
                         !strcmp(m->reason, "pipeline_run_timeout"))
                        *reason = "pipeline_run_timeout";
                else
                        return false;
                return true;
        }
        return false;
}

sr_status_t sr_fsm__stage_owes(const sr_run_t *run, uint32_t si)
{
        const char *reason;
        sr_status_t to;

        if (owed_cascade(&run->stages[si].m, false, &to, &reason) ||
            owed_cascade(&run->pr.m, true, &to, &reason))
                return to;
        return SR_ST_NONE;
}

void sr_fsm__catch_up(step_t *st, uint32_t ti)
{
        sr_run_t *run = st->run;
        const sr_target_run_t *t = sr_run_tr(run, ti);
        const char *reason;
        sr_status_t to;

        if (sr_status_is_terminal(t->m.status))
                return;
        /* The stage's own end first, then its pipeline run's: the order
         * they happened in (a pipeline run ends after its stages). */
        if (owed_cascade(&run->stages[t->stage_index].m, false, &to, &reason))
                sr_fsm__cascade_target(st, ti, to, reason);
        if (owed_cascade(&run->pr.m, true, &to, &reason))
                sr_fsm__cascade_target(st, ti, to, reason);
}

/* Where the part of stage @p si's target runs that starts at position
 * @p from ends: stage.step.targets later, or the stage's end (0: no
 * parts). */
static uint32_t part_end(const step_t *st, uint32_t si, uint32_t from)
{
        const sr_run_stage_idx_t *x = &st->run->sidx[si];
        uint32_t step = st->opts->step_targets;

        if (step && x->n_tr > from && x->n_tr - from > step)
                return from + step;
        return x->n_tr;
}

/* The cascade over stage @p si's target runs from position @p from (in
 * the stage's order): stage.step.targets of them in this input, and a
 * StageStep for the rest. Each target run gets every cascade it is owed
 * (sr_fsm__catch_up), so a step, a replayed step or a result that comes
 * first all leave it as the cascade at once would have. */
void sr_fsm__cascade_from(step_t *st, uint32_t si, uint32_t from)
{
        const sr_run_stage_idx_t *x = &st->run->sidx[si];
        uint32_t end = part_end(st, si, from);

        /* Every target run final (a stage that ended before its pipeline
         * run's cancel or timeout, or one a part's results finished):
         * nothing is owed, and a chain of steps would change nothing
         * (found by the reference model's differential test). */
        if (sr_run_stage_terminal(x) == x->n_tr)
                return;
        for (uint32_t i = from; i < end; i++)
                sr_fsm__catch_up(st, x->first_tr + i);
        if (end < x->n_tr && sr_run_stage_terminal(x) < x->n_tr)
                sr_fsm__send_step(st, si,
                                  sr_fsm__stage_owes(st->run, si) ==
                                                  SR_ST_TIMEOUT ?
                                          "timeout" : "cancel",
                                  end);
}

/* The target runs' own deadline over stage @p si from position @p from:
 * stage.step.targets of them in this input, each caught up on what it is
 * owed and timed out when open and due at @p d, and a StageStep{deadline}
 * for the rest while one is still due. Unlike a cascade it is not owed by
 * a status: a target run a result reaches before its part does takes the
 * result, as it would before a late timer (docs/targets.md section 4). */
void sr_fsm__deadline_from(step_t *st, uint32_t si, uint32_t from, int64_t d)
{
        sr_run_t *run = st->run;
        const sr_run_stage_idx_t *x = &run->sidx[si];
        uint32_t end = part_end(st, si, from);

        for (uint32_t k = from; k < end; k++) {
                uint32_t i = x->first_tr + k;
                const sr_target_run_t *t;

                /* a cascade in steps not there yet comes first */
                sr_fsm__catch_up(st, i);
                t = sr_run_tr(run, i);
                if (sr_status_is_terminal(t->m.status) || !t->m.deadline ||
                    t->m.deadline > d)
                        continue;
                sr_fsm__cascade_target(st, i, SR_ST_TIMEOUT, "timeout");
                sr_fsm__rollup_stage(st, si);
        }
        if (end < x->n_tr && sr_fsm__deadline_due(run, si, d))
                sr_fsm__send_step(st, si, "deadline", end);
}

bool sr_fsm__deadline_due(const sr_run_t *run, uint32_t si, int64_t d)
{
        const sr_run_stage_idx_t *x = &run->sidx[si];

        return x->tr_min_deadline && x->tr_min_deadline <= d &&
               sr_fsm__stage_owes(run, si) != SR_ST_TIMEOUT;
}

bool sr_fsm__cascade_owed(const sr_run_t *run, uint32_t si)
{
        return sr_fsm__stage_owes(run, si) != SR_ST_NONE;
}

/* A stage run ends by cancel or timeout: its targets follow (in steps
 * over a large stage), then the pipeline run rolls up. */
void sr_fsm__end_stage(step_t *st, uint32_t si, sr_status_t to,
                      const char *reason, bool rollup)
{
        sr_fsm__move_stage(st, si, to, reason);
        sr_fsm__cascade_from(st, si, 0);
        if (rollup)
                sr_fsm__rollup_pr(st);
}

bool sr_fsm__stage_is_active(sr_status_t s)
{
        return s == SR_ST_QUEUED || s == SR_ST_PROCESSING ||
               s == SR_ST_RUNNING;
}

/* The pipeline-run table's roll-up rows, after a stage run ended. */
void sr_fsm__rollup_pr(step_t *st)
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

                        if (sr_fsm__stage_is_active(s))
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
                                        sr_fsm__move_stage(st, i, SR_ST_CANCELLED,
                                                   "previous_stage_failed");
                        sr_fsm__move_pr(st, SR_ST_COMPLETE, "stage_failed");
                        sr_fsm__move_pr(st, SR_ST_FAILURE, "stage_failed");
                        return;
                }
                if (all_success) {
                        sr_fsm__move_pr(st, SR_ST_COMPLETE, "all_stages_succeeded");
                        sr_fsm__move_pr(st, SR_ST_SUCCESS, "all_stages_succeeded");
                        return;
                }
                if (!run->pr.auto_promote) {
                        if (run->pr.m.status == SR_ST_RUNNING)
                                sr_fsm__move_pr(st, SR_ST_WAITING,
                                        "awaiting_promotion");
                        return;
                }
                /* auto_promote: the next stage run is queued at once; the
                 * pipeline run stays running (no self-transition event). */
                sr_fsm__queue_stage(st, next, "auto_promoted");
                if (st->nomem)
                        return;
                sr_fsm__process_stage(st, next);
                if (st->nomem)
                        return;
                /* An empty stage ends at once: roll up again. */
        }
}

/* After a target run ended: the stage-run table's completion rows. */
void sr_fsm__rollup_stage(step_t *st, uint32_t si)
{
        sr_run_t *run = st->run;
        const sr_run_stage_idx_t *x = &run->sidx[si];
        bool ok;

        if (run->stages[si].m.status != SR_ST_RUNNING ||
            sr_run_stage_terminal(x) < x->n_tr)
                return;
        ok = x->n_tr_status[SR_ST_SUCCESS] == x->n_tr;
        sr_fsm__move_stage(st, si, SR_ST_COMPLETE,
                   ok ? "all_targets_succeeded" : "target_failed");
        sr_fsm__move_stage(st, si, ok ? SR_ST_SUCCESS : SR_ST_FAILURE,
                   ok ? "all_targets_succeeded" : "target_failed");
        sr_fsm__rollup_pr(st);
}

/* What the worker arms: the earliest deadline of any non-terminal entity
 * (sr_run.c keeps per-stage minima: O(stages), not a scan of the target
 * runs), or the retirement instant. */
void sr_fsm__update_next_deadline(sr_run_t *run, const sr_fsm_opts_t *opts)
{
        int64_t d = sr_run_min_deadline(run), ended;

        /* Nothing is open: the instant the run retires. No input changes
         * a run whose entities are all final, so it is set once. */
        if (!d && opts->retention_finished_ms > 0 &&
            sr_run_all_final(run, &ended))
                d = ended + opts->retention_finished_ms;
        if (d != run->pr.next_deadline) {
                run->pr.next_deadline = d;
                run->pr_dirty = true;
        }
}

/* ------------------------------------------------------------ replies */

void sr_fsm__reply_accept(step_t *st, const sr_command_t *cmd,
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

void sr_fsm__reply_reject(step_t *st, const sr_command_t *cmd,
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
