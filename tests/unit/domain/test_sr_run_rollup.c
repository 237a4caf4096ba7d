/* tests/unit/domain/test_sr_run_rollup.c - the O(1) bookkeeping of a run
 * (sr_run.h: per-status counts per stage and per run, each stage's earliest
 * open target deadline, the latest ended_at, the dirty list) against a full
 * scan of the run, after every step of random histories: results (success,
 * failure, progress, duplicates, stale ones of another command), user
 * statuses on target, stage and pipeline runs (cancels, promotes), timer
 * firings (timeouts, retirement), an open stage's chunks and seals
 * (docs/targets.md: filled from its chunks, or ended by the fill timeout),
 * saves (the dirty set is cleared) and reloads (the run rebuilt from
 * copies of its entities and chunks in random order).
 * Fixed seeds: a failure names its seed and step. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_fsm.h"
#include "sr_sha256.h"

#define HISTORIES 1600
#define STEPS 80

static sr_run_t run;
static sr_fsm_out_t out;
static sr_fsm_opts_t opts;
static int64_t now;
static uint64_t rng;
static int counter;
static unsigned seed, step_no;
static unsigned open_filled; /* histories that filled an open stage */
static unsigned stepped; /* StageSteps that made a part of a fill */
static uint64_t released; /* chunk targets freed after a save */
/* The StageSteps the run sent itself and not yet delivered (the command
 * topic's): delivered in any order between other inputs, sometimes twice,
 * across reloads, as a partition would. */
#define MAX_STEPS 64
static sr_command_t steps[MAX_STEPS];
static uint32_t n_steps;

static void keep_steps(void)
{
        for (uint32_t i = 0; i < out.n_steps && n_steps < MAX_STEPS; i++)
                steps[n_steps++] = out.steps[i];
}

/* What the run looked like at the last save: entities that differ since
 * must be dirty. */
static sr_pipeline_run_t snap_pr;
static sr_stage_run_t *snap_stages;
static sr_target_run_t *snap_targets;
static sr_stage_run_op_t *snap_ops;
static uint32_t snap_n_stages, snap_n_targets, snap_n_ops;

#define CHECK(cond, fmt, ...)                                             \
        do {                                                              \
                if (!(cond))                                              \
                        cr_fatal("seed %u step %u: " fmt, seed, step_no,  \
                                 ##__VA_ARGS__);                          \
        } while (0)

/* Paged histories (docs/targets.md section 6): the run keeps no clean
 * target run decoded between inputs (sr_run_evict(0) after every save
 * and every check) and reads each back from a store of what its saves
 * wrote, keyed like the worker's (stage, operation, target); the twin
 * gets every input too, holding every target run, and after each input
 * the outputs and the state of the two must be the same. */
static bool paged;
static sr_run_t twin;
static sr_fsm_out_t tout;
static sr_target_run_t *store;
static uint32_t n_store, cap_store;
static uint64_t page_reads, page_drops;

static sr_target_run_t *store_find(uint32_t si, uint32_t oi, uint32_t k)
{
        for (uint32_t i = 0; i < n_store; i++)
                if (store[i].stage_index == si && store[i].op_index == oi &&
                    store[i].target_index == k)
                        return &store[i];
        return NULL;
}

static void store_put(const sr_target_run_t *t)
{
        sr_target_run_t *at = store_find(t->stage_index, t->op_index,
                                         t->target_index);

        if (!at) {
                cr_assert(sr_array_grow((void **)&store, &cap_store,
                                        n_store + 1, sizeof(*store)));
                at = &store[n_store++];
        }
        *at = *t;
}

static sr_err_t pager(const sr_run_t *r, uint32_t ti, sr_target_run_t *o,
                      void *arg, sr_errctx_t *ec)
{
        const sr_run_tri_t *x = &r->tri[ti];
        const sr_target_run_t *t = store_find(x->stage_index, x->op_index,
                                              x->target_index);

        (void)arg;
        if (!t)
                return sr_errctx_set(ec, SR_ERR_NOT_FOUND, "not stored");
        *o = *t;
        page_reads++;
        return SR_OK;
}

/* The chunks the saves wrote, by (stage, chunk), owning their targets. */
static sr_stage_chunk_t *cstore;
static uint32_t n_cstore, cap_cstore;
static uint64_t chunk_reads;

static int store_chunk(const sr_stage_chunk_t *c, void *arg)
{
        sr_stage_chunk_t *at = NULL;

        (void)arg;
        for (uint32_t i = 0; i < n_cstore && !at; i++)
                if (cstore[i].stage_index == c->stage_index &&
                    cstore[i].chunk == c->chunk)
                        at = &cstore[i];
        if (at) /* written once: never changed */
                return 0;
        cr_assert(sr_array_grow((void **)&cstore, &cap_cstore, n_cstore + 1,
                                sizeof(*cstore)));
        at = &cstore[n_cstore++];
        *at = *c;
        at->targets = NULL;
        cr_assert(sr_spec_targets_copy(&at->targets, c->targets,
                                       c->n_targets));
        return 0;
}

static sr_err_t chunk_pager(const sr_run_t *r, uint32_t pos,
                            sr_stage_chunk_t *o, void *arg, sr_errctx_t *ec)
{
        const sr_stage_chunk_t *c = &r->chunks[pos];

        (void)arg;
        for (uint32_t i = 0; i < n_cstore; i++)
                if (cstore[i].stage_index == c->stage_index &&
                    cstore[i].chunk == c->chunk) {
                        *o = cstore[i];
                        o->targets = NULL;
                        cr_assert(sr_spec_targets_copy(&o->targets,
                                                       cstore[i].targets,
                                                       cstore[i].n_targets));
                        chunk_reads++;
                        return SR_OK;
                }
        return sr_errctx_set(ec, SR_ERR_NOT_FOUND, "chunk not stored");
}

static void cstore_reset(void)
{
        for (uint32_t i = 0; i < n_cstore; i++)
                sr_stage_chunk_fini(&cstore[i]);
        n_cstore = 0;
}

static void drop_pages(void)
{
        if (paged && run.exists)
                page_drops += sr_run_evict(&run, 0);
}

static void setup(void)
{
        sr_run_init(&run);
        sr_run_init(&twin);
        sr_fsm_out_init(&out);
        sr_fsm_out_init(&tout);
}

static void teardown(void)
{
        sr_run_fini(&run);
        sr_run_fini(&twin);
        sr_fsm_out_fini(&tout);
        free(store);
        store = NULL;
        n_store = cap_store = 0;
        cstore_reset();
        free(cstore);
        cstore = NULL;
        cap_cstore = 0;
        sr_fsm_out_fini(&out);
        free(snap_stages);
        free(snap_targets);
        free(snap_ops);
        snap_stages = NULL;
        snap_targets = NULL;
        snap_ops = NULL;
}

TestSuite(sr_run_rollup, .init = setup, .fini = teardown, .timeout = 120.0);

static uint32_t rnd(uint32_t n)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return n ? (uint32_t)(rng % n) : 0;
}

static sr_uuid_t run_id(void)
{
        sr_uuid_t id;

        sr_uuid_v5(&id, &sr_ns, "rollup-run");
        return id;
}

static void base_cmd(sr_command_t *cmd, sr_cmd_kind_t kind)
{
        memset(cmd, 0, sizeof(*cmd));
        cmd->kind = kind;
        sr_uuid_v5(&cmd->command_id, &sr_ns, "cmd-%d", ++counter);
        cmd->pipeline_run_id = run_id();
        snprintf(cmd->enterprise_id, sizeof(cmd->enterprise_id), "acme");
        cmd->issued_at = now;
}

static void same_outputs(sr_err_t e1, sr_err_t e2)
{
        CHECK(e1 == e2, "paged %s, whole %s", sr_err_name(e1),
              sr_err_name(e2));
        CHECK(!run.fault, "paged run faulted: %s", run.fault_ec.msg);
        CHECK(out.n_events == tout.n_events &&
                      out.n_dispatches == tout.n_dispatches &&
                      out.n_steps == tout.n_steps &&
                      out.applied == tout.applied &&
                      out.stale == tout.stale &&
                      out.retire == tout.retire &&
                      out.has_reply == tout.has_reply &&
                      (!out.has_reply ||
                       (out.reply.accepted == tout.reply.accepted &&
                        out.reply.reason == tout.reply.reason)),
              "paged outputs differ: %u/%u events, %u/%u dispatches, "
              "%u/%u steps", out.n_events, tout.n_events, out.n_dispatches,
              tout.n_dispatches, out.n_steps, tout.n_steps);
        for (uint32_t i = 0; i < out.n_events; i++) {
                const sr_event_t *a = &out.events[i], *b = &tout.events[i];

                CHECK(sr_uuid_eq(&a->event_id, &b->event_id) &&
                              a->seq == b->seq &&
                              sr_uuid_eq(&a->entity_id, &b->entity_id) &&
                              a->from_status == b->from_status &&
                              a->to_status == b->to_status &&
                              !strcmp(a->reason, b->reason) &&
                              a->occurred_at == b->occurred_at &&
                              a->version == b->version,
                      "paged event %u differs", i);
        }
        for (uint32_t i = 0; i < out.n_dispatches; i++)
                CHECK(out.dispatches[i].kind == tout.dispatches[i].kind &&
                              sr_uuid_eq(&out.dispatches[i].command_id,
                                         &tout.dispatches[i].command_id) &&
                              sr_uuid_eq(&out.dispatches[i].target_run_id,
                                         &tout.dispatches[i].target_run_id) &&
                              sr_uuid_eq(&out.dispatches[i].device_id,
                                         &tout.dispatches[i].device_id) &&
                              !strcmp(out.dispatches[i].device_name,
                                      tout.dispatches[i].device_name),
                      "paged dispatch %u differs", i);
        for (uint32_t i = 0; i < out.n_steps; i++)
                CHECK(sr_uuid_eq(&out.steps[i].command_id,
                                 &tout.steps[i].command_id),
                      "paged step %u differs", i);
}

/* The run and the twin the same: bookkeeping and every entity. */
static void same_state(void)
{
        if (!paged)
                return;
        CHECK(run.exists == twin.exists && run.n_targets == twin.n_targets &&
                      run.n_ops == twin.n_ops &&
                      run.pr.m.status == twin.pr.m.status &&
                      run.pr.m.version == twin.pr.m.version &&
                      run.pr.next_deadline == twin.pr.next_deadline,
              "paged run differs");
        if (!run.exists)
                return;
        CHECK(!memcmp(run.sidx, twin.sidx,
                      run.pr.n_stages * sizeof(*run.sidx)) &&
                      !memcmp(run.n_tr_status, twin.n_tr_status,
                              sizeof(run.n_tr_status)) &&
                      run.max_ended_at == twin.max_ended_at,
              "paged run's bookkeeping differs");
        for (uint32_t i = 0; i < run.pr.n_stages; i++)
                CHECK(run.stages[i].m.status == twin.stages[i].m.status &&
                              run.stages[i].m.version ==
                                      twin.stages[i].m.version,
                      "paged stage run %u differs", i);
        for (uint32_t i = 0; i < run.n_targets; i++) {
                const sr_target_run_t *a = sr_run_tr(&run, i);
                const sr_target_run_t *b = sr_run_tr(&twin, i);

                CHECK(sr_uuid_eq(&a->m.id, &b->m.id) &&
                              a->m.status == b->m.status &&
                              a->m.version == b->m.version &&
                              a->m.deadline == b->m.deadline &&
                              a->m.ended_at == b->m.ended_at &&
                              !strcmp(a->m.reason, b->m.reason) &&
                              !strcmp(a->command_status, b->command_status) &&
                              a->cancel_requested == b->cancel_requested &&
                              sr_uuid_eq(&a->device_id, &b->device_id) &&
                              sr_uuid_eq(&a->target_id, &b->target_id) &&
                              !strcmp(a->device_name, b->device_name) &&
                              !strcmp(a->device_alias, b->device_alias) &&
                              sr_uuid_eq(&a->command_id, &b->command_id),
                      "paged target run %u differs", i);
        }
}

static sr_err_t fsm_cmd(const sr_command_t *cmd)
{
        sr_err_t err = sr_fsm_apply_command(&run, cmd, now, &opts, &out);

        if (paged)
                same_outputs(err, sr_fsm_apply_command(&twin, cmd, now, &opts,
                                                       &tout));
        return err;
}

static sr_err_t fsm_res(const sr_result_t *res)
{
        sr_err_t err = sr_fsm_apply_result(&run, res, now, &opts, &out);

        if (paged)
                same_outputs(err, sr_fsm_apply_result(&twin, res, now, &opts,
                                                      &tout));
        return err;
}

static void apply_cmd(sr_command_t *cmd)
{
        sr_err_t err = fsm_cmd(cmd);

        CHECK(err == SR_OK, "%s %s", sr_err_name(err), out.illegal);
        keep_steps();
        sr_command_fini(cmd);
}

static void create(void)
{
        sr_command_t cmd;
        sr_runspec_t *spec = &cmd.u.create.spec;
        uint32_t n_stages = 1 + rnd(4);

        base_cmd(&cmd, SR_CMD_CREATE_RUN);
        sr_uuid_v5(&spec->pipeline_id, &sr_ns, "pipeline");
        spec->auto_promote = rnd(2);
        spec->timeout_seconds = rnd(3) ? 0 : 3600 * (1 + rnd(200));
        spec->n_stages = n_stages;
        spec->stages = calloc(n_stages, sizeof(*spec->stages));
        cr_assert(not(eq(ptr, spec->stages, NULL)));
        for (uint32_t i = 0; i < n_stages; i++) {
                sr_spec_stage_t *s = &spec->stages[i];

                s->timeout_seconds = rnd(3) ? 0 : 3600 * (1 + rnd(200));
                s->n_ops = rnd(16) ? 1 + rnd(2) : 0;
                s->ops = s->n_ops ? calloc(s->n_ops, sizeof(*s->ops)) : NULL;
                for (uint32_t j = 0; j < s->n_ops; j++)
                        snprintf(s->ops[j].operation_type,
                                 sizeof(s->ops[j].operation_type), "INSTALL");
                s->n_targets = rnd(16) ? 1 + rnd(6) : 0;
                /* one in four open: targets in chunks (step_open) */
                if (!rnd(4)) {
                        s->append_targets = true;
                        s->n_targets = 0;
                }
                s->targets = s->n_targets ?
                                     calloc(s->n_targets, sizeof(*s->targets)) :
                                     NULL;
                for (uint32_t k = 0; k < s->n_targets; k++)
                        sr_uuid_v5(&s->targets[k].device_id, &sr_ns,
                                   "device-%u-%u", i, k);
        }
        cmd.u.create.run_number = 1;
        apply_cmd(&cmd);
        CHECK(out.reply.accepted, "%s", out.reply.message);
}

/* ------------------------------------------------------------ oracle */

/* The scans the bookkeeping replaced, written out again. */
static bool scan_all_final(int64_t *ended)
{
        int64_t e = run.pr.m.ended_at;

        if (!sr_status_is_terminal(run.pr.m.status))
                return false;
        for (uint32_t i = 0; i < run.pr.n_stages; i++) {
                if (!sr_status_is_terminal(run.stages[i].m.status))
                        return false;
                if (run.stages[i].m.ended_at > e)
                        e = run.stages[i].m.ended_at;
        }
        for (uint32_t i = 0; i < run.n_targets; i++) {
                if (!sr_status_is_terminal(sr_run_tr(&run, i)->m.status))
                        return false;
                if (sr_run_tr(&run, i)->m.ended_at > e)
                        e = sr_run_tr(&run, i)->m.ended_at;
        }
        *ended = e;
        return true;
}

static void consider(int64_t *d, const sr_meta_t *m)
{
        if (!sr_status_is_terminal(m->status) && m->deadline &&
            (!*d || m->deadline < *d))
                *d = m->deadline;
}

static int64_t scan_next_deadline(void)
{
        int64_t d = 0, ended;

        consider(&d, &run.pr.m);
        for (uint32_t i = 0; i < run.pr.n_stages; i++)
                consider(&d, &run.stages[i].m);
        for (uint32_t i = 0; i < run.n_targets; i++)
                consider(&d, &sr_run_tr(&run, i)->m);
        if (!d && opts.retention_finished_ms > 0 && scan_all_final(&ended))
                d = ended + opts.retention_finished_ms;
        return d;
}


static void check_counts(void)
{
        uint32_t tr_all[SR_ST__COUNT] = { 0 }, st_all[SR_ST__COUNT] = { 0 };
        int64_t e_scan = 0, e_kept = 0;
        bool f_scan, f_kept;

        for (uint32_t si = 0; si < run.pr.n_stages; si++) {
                const sr_run_stage_idx_t *x = &run.sidx[si];
                uint32_t n[SR_ST__COUNT] = { 0 }, n_tr = 0, at_min = 0;
                int64_t min = 0;

                st_all[run.stages[si].m.status]++;
                for (uint32_t i = 0; i < run.n_targets; i++) {
                        const sr_target_run_t *t = sr_run_tr(&run, i);

                        if (t->stage_index != si)
                                continue;
                        CHECK(i >= x->first_tr && i < x->first_tr + x->n_tr,
                              "target run %u outside stage %u's range", i, si);
                        n_tr++;
                        n[t->m.status]++;
                        if (sr_status_is_terminal(t->m.status) ||
                            !t->m.deadline)
                                continue;
                        if (!min || t->m.deadline < min) {
                                min = t->m.deadline;
                                at_min = 1;
                        } else if (t->m.deadline == min) {
                                at_min++;
                        }
                }
                CHECK(n_tr == x->n_tr, "stage %u: %u target runs, kept %u",
                      si, n_tr, x->n_tr);
                for (int s = 0; s < SR_ST__COUNT; s++) {
                        CHECK(n[s] == x->n_tr_status[s],
                              "stage %u: %u target runs %s, kept %u", si,
                              n[s], sr_status_name((sr_status_t)s),
                              x->n_tr_status[s]);
                        tr_all[s] += n[s];
                }
                CHECK(min == x->tr_min_deadline,
                      "stage %u: earliest target deadline %lld, kept %lld",
                      si, (long long)min, (long long)x->tr_min_deadline);
                CHECK(!min || at_min == x->n_tr_at_min,
                      "stage %u: %u at the earliest deadline, kept %u", si,
                      at_min, x->n_tr_at_min);
        }
        for (int s = 0; s < SR_ST__COUNT; s++) {
                CHECK(tr_all[s] == run.n_tr_status[s],
                      "run: %u target runs %s, kept %u", tr_all[s],
                      sr_status_name((sr_status_t)s), run.n_tr_status[s]);
                CHECK(st_all[s] == run.n_stage_status[s],
                      "run: %u stage runs %s, kept %u", st_all[s],
                      sr_status_name((sr_status_t)s), run.n_stage_status[s]);
        }
        /* a chunk is released only once no fill reads it: its stage made
         * all its target runs, or it or the run ended */
        {
                uint32_t held = 0;

                for (uint32_t p = 0; p < run.n_chunks; p++) {
                        const sr_stage_chunk_t *c = &run.chunks[p];
                        const sr_stage_run_t *st = &run.stages[c->stage_index];

                        uint64_t end = 0;

                        held += sr_chunk_held(c) > 0;
                        /* paged out: dropped clean, read back when a fill
                         * needs it */
                        if (run.chunk_out && run.chunk_out[p])
                                continue;
                        /* where the fill's last operation is past it */
                        for (uint32_t q = 0; q < run.n_chunks; q++)
                                if (run.chunks[q].stage_index ==
                                            c->stage_index &&
                                    run.chunks[q].chunk <= c->chunk)
                                        end += run.chunks[q].n_targets;
                        CHECK(sr_chunk_held(c) ||
                                      sr_status_is_terminal(st->m.status) ||
                                      sr_status_is_terminal(run.pr.m.status) ||
                                      (st->sealed && st->n_ops &&
                                       run.sidx[c->stage_index].n_tr >=
                                               (uint64_t)(st->n_ops - 1) *
                                                               st->seal_count +
                                                       end),
                              "chunk %u of stage %u released while its fill "
                              "reads it", c->chunk, c->stage_index);
                }
                CHECK(held == run.n_chunks_held, "%u chunks hold targets, "
                      "kept %u", held, run.n_chunks_held);
        }
        f_scan = scan_all_final(&e_scan);
        f_kept = sr_run_all_final(&run, &e_kept);
        CHECK(f_scan == f_kept, "all final: scan %d, kept %d", f_scan,
              f_kept);
        CHECK(!f_scan || e_scan == e_kept, "latest ended_at %lld, kept %lld",
              (long long)e_scan, (long long)e_kept);
        CHECK(scan_next_deadline() == run.pr.next_deadline,
              "next deadline %lld, kept %lld", (long long)scan_next_deadline(),
              (long long)run.pr.next_deadline);
}

/* The dirty list names exactly the flagged entities, each once, and every
 * entity that changed since the last save is among them. */
static void check_dirty(void)
{
        uint32_t flagged = 0;

        CHECK(run.n_dirty <= run.cap_dirty, "dirty list over its capacity");
        for (uint32_t i = 0; i < run.pr.n_stages; i++)
                flagged += run.stage_dirty[i];
        for (uint32_t i = 0; i < run.n_ops; i++)
                flagged += run.op_dirty[i];
        for (uint32_t i = 0; i < run.n_targets; i++)
                flagged += run.tri[i].dirty;
        CHECK(flagged == run.n_dirty, "%u flagged, %u in the dirty list",
              flagged, run.n_dirty);
        for (uint32_t k = 0; k < run.n_dirty; k++) {
                uint64_t e = run.dirty[k];
                uint32_t i = (uint32_t)e;
                bool *f = NULL;

                switch ((sr_entity_type_t)(e >> 32)) {
                case SR_ENT_STAGE_RUN:
                        f = i < run.pr.n_stages ? &run.stage_dirty[i] : NULL;
                        break;
                case SR_ENT_STAGE_RUN_OPERATION:
                        f = i < run.n_ops ? &run.op_dirty[i] : NULL;
                        break;
                case SR_ENT_TARGET_RUN:
                        f = i < run.n_targets ? &run.tri[i].dirty : NULL;
                        break;
                default:
                        break;
                }
                CHECK(f && *f, "dirty entry %u names a clean or no entity", k);
                for (uint32_t j = 0; j < k; j++)
                        CHECK(run.dirty[j] != e, "entity twice in the list");
        }
        for (uint32_t i = 0; i < run.pr.n_stages; i++)
                CHECK(run.stage_dirty[i] || (i < snap_n_stages &&
                      !memcmp(&run.stages[i], &snap_stages[i],
                              sizeof(run.stages[i]))),
                      "stage run %u changed but is not dirty", i);
        for (uint32_t i = 0; i < run.n_ops; i++)
                CHECK(run.op_dirty[i] ||
                      (i < snap_n_ops &&
                       !memcmp(&run.ops[i], &snap_ops[i], sizeof(run.ops[i]))),
                      "operation %u changed but is not dirty", i);
        for (uint32_t i = 0; i < run.n_targets; i++)
                CHECK(run.tri[i].dirty ||
                      (i < snap_n_targets &&
                       !memcmp(sr_run_tr(&run, i), &snap_targets[i],
                               sizeof(snap_targets[i]))),
                      "target run %u changed but is not dirty", i);
        CHECK(run.pr_dirty || !memcmp(&run.pr, &snap_pr, sizeof(run.pr)),
              "pipeline run changed but is not dirty");
}

static void *dup_mem(const void *p, size_t n)
{
        void *q = malloc(n ? n : 1);

        cr_assert(not(eq(ptr, q, NULL)));
        if (n)
                memcpy(q, p, n);
        return q;
}

static void snapshot(void)
{
        free(snap_stages);
        free(snap_targets);
        free(snap_ops);
        snap_pr = run.pr;
        snap_n_stages = run.pr.n_stages;
        snap_n_ops = run.n_ops;
        snap_n_targets = run.n_targets;
        snap_stages = dup_mem(run.stages, snap_n_stages * sizeof(*run.stages));
        snap_ops = dup_mem(run.ops, snap_n_ops * sizeof(*run.ops));
        snap_targets = calloc(snap_n_targets ? snap_n_targets : 1,
                              sizeof(*snap_targets));
        cr_assert(not(eq(ptr, snap_targets, NULL)));
        for (uint32_t i = 0; i < snap_n_targets; i++)
                snap_targets[i] = *sr_run_tr(&run, i);
}

typedef struct visit {
        uint64_t last;
        uint32_t n;
        bool pr_seen;
} visit_t;

static int visit_one(const sr_entity_t *e, void *arg)
{
        visit_t *v = arg;
        uint32_t i;
        uint64_t key;

        CHECK(!v->pr_seen, "an entity after the pipeline run");
        if (e->type == SR_ENT_PIPELINE_RUN) {
                v->pr_seen = true;
                return 0;
        }
        i = e->type == SR_ENT_STAGE_RUN ? e->u.sr.index :
            e->type == SR_ENT_TARGET_RUN ?
                (uint32_t)sr_run_find_target_idx(&run, &e->u.tr.m.id) :
                (uint32_t)(run.sidx[e->u.op.stage_index].first_op +
                           e->u.op.index);
        key = SR_RUN_DIRTY(e->type, i);
        if (paged && e->type == SR_ENT_TARGET_RUN)
                store_put(&e->u.tr);
        CHECK(v->n == 0 || key > v->last, "save order not by kind, index");
        v->last = key;
        v->n++;
        return 0;
}

/* A save: every dirty entity visited in order, then the set cleared. */
static void save(void)
{
        visit_t v = { 0, 0, false };
        uint32_t n = run.n_dirty;

        if (paged)
                cr_assert(eq(int, sr_run_dirty_chunks_each(&run, store_chunk,
                                                           NULL), 0));
        cr_assert(eq(int, sr_run_dirty_each(&run, visit_one, &v), 0));
        CHECK(v.n == n && v.pr_seen == run.pr_dirty,
              "save visited %u of %u dirty entities", v.n, n);
        sr_run_clear_dirty(&run);
        CHECK(run.n_dirty == 0 && !run.pr_dirty, "dirty after the clear");
        /* as the worker after its save: what no fill reads again leaves
         * memory; a fill that still needed it would read freed targets
         * (ASan) or NULL */
        released += sr_run_release_chunks(&run);
        if (paged) {
                sr_run_clear_dirty(&twin);
                (void)sr_run_release_chunks(&twin);
        }
        snapshot();
        drop_pages();
}

/* A reload: the run rebuilt from copies of its saved entities in random
 * order (as the worker loads it), then the same bookkeeping expected. */
static void reload(void)
{
        uint32_t n = 1 + run.pr.n_stages + run.n_ops + run.n_targets;
        sr_entity_t *es = calloc(n, sizeof(*es));
        sr_errctx_t ec = { 0 };
        sr_run_t fresh;
        uint32_t k = 0;

        cr_assert(not(eq(ptr, es, NULL)));
        save();
        es[k].type = SR_ENT_PIPELINE_RUN;
        es[k++].u.pr = run.pr;
        for (uint32_t i = 0; i < run.pr.n_stages; i++) {
                sr_stage_run_t *s = &es[k].u.sr;

                es[k++].type = SR_ENT_STAGE_RUN;
                *s = run.stages[i];
                CHECK(sr_spec_ops_copy(&s->ops, run.stages[i].ops, s->n_ops) &&
                              sr_spec_targets_copy(&s->targets,
                                                   run.stages[i].targets,
                                                   s->n_targets),
                      "out of memory");
        }
        for (uint32_t i = 0; i < run.n_ops; i++) {
                es[k].type = SR_ENT_STAGE_RUN_OPERATION;
                es[k].u.op = run.ops[i];
                es[k++].u.op.args_json = run.ops[i].args_json ?
                                                 strdup(run.ops[i].args_json) :
                                                 NULL;
        }
        for (uint32_t i = 0; i < run.n_targets; i++) {
                es[k].type = SR_ENT_TARGET_RUN;
                es[k++].u.tr = (*sr_run_tr(&run, i));
        }
        for (uint32_t i = n; i > 1; i--) {
                uint32_t j = rnd(i);
                sr_entity_t t = es[i - 1];

                es[i - 1] = es[j];
                es[j] = t;
        }
        sr_run_init(&fresh);
        if (paged) /* a lean load: no target run decoded */
                sr_run_set_pager(&fresh, pager, chunk_pager, NULL);
        for (uint32_t i = 0; i < n; i++)
                cr_assert(eq(int, sr_run_add_entity(&fresh, &es[i], &ec),
                             SR_OK), "%s", ec.msg);
        for (uint32_t i = run.n_chunks; i-- > 0;) { /* another order */
                sr_stage_chunk_t c;

                (void)sr_run_chunk_targets(&run, i); /* if paged out */
                c = run.chunks[i];

                /* a released chunk comes back released (the worker's load
                 * releases what its cached copy did) */
                CHECK(!sr_chunk_held(&c) ||
                              sr_spec_targets_copy(&c.targets,
                                                   run.chunks[i].targets,
                                                   c.n_targets),
                      "out of memory");
                cr_assert(eq(int, sr_run_add_chunk(&fresh, &c, &ec), SR_OK),
                          "%s", ec.msg);
        }
        cr_assert(eq(int, sr_run_index(&fresh, &ec), SR_OK), "%s", ec.msg);
        free(es);
        CHECK(!memcmp(fresh.sidx, run.sidx,
                      run.pr.n_stages * sizeof(*run.sidx)),
              "reloaded stage bookkeeping differs");
        CHECK(!memcmp(fresh.n_tr_status, run.n_tr_status,
                      sizeof(run.n_tr_status)) &&
                      !memcmp(fresh.n_stage_status, run.n_stage_status,
                              sizeof(run.n_stage_status)) &&
                      fresh.max_ended_at == run.max_ended_at,
              "reloaded run roll-ups differ");
        sr_run_fini(&run);
        run = fresh;
        snapshot();
}

/* ------------------------------------------------------------ steps */

static const char *const results[] = { "QUEUED",  "INITIATED", "ACKNOWLEDGED",
                                       "INPROGRESS", "SUCCESS", "SUCCESS",
                                       "SUCCESS", "FAILED",    "FAILURE",
                                       "TIMEOUT", "CANCELLED", "ERROR" };
static const char *const statuses[] = { "cancelled", "queued",  "running",
                                        "success",   "failure", "dispatched",
                                        "pending" };

static void step_result(void)
{
        sr_result_t res;
        uint32_t ti;
        sr_err_t err;

        if (!run.n_targets)
                return;
        ti = rnd(run.n_targets);
        memset(&res, 0, sizeof(res));
        /* A duplicate: the id of an earlier result, sent again. */
        sr_uuid_v5(&res.result_id, &sr_ns, "res-%d",
                   rnd(4) ? ++counter : counter);
        res.pipeline_run_id = run_id();
        res.stage_run_id = sr_run_tr(&run, ti)->stage_run_id;
        res.target_run_id = sr_run_tr(&run, ti)->m.id;
        res.command_id = sr_run_tr(&run, ti)->command_id;
        if (!rnd(8)) /* stale: another command's result */
                sr_uuid_v5(&res.command_id, &sr_ns, "other-%d", counter);
        /* Mostly progress and success, so runs also get through their
         * stages (promotes, success), not only fail early. */
        snprintf(res.command_status, sizeof(res.command_status), "%s",
                 rnd(4) ? (rnd(3) ? "SUCCESS" : "INPROGRESS") :
                          results[rnd(sizeof(results) / sizeof(results[0]))]);
        res.reported_at = now;
        err = fsm_res(&res);
        CHECK(err == SR_OK || err == SR_ERR_NOT_FOUND, "%s %s",
              sr_err_name(err), out.illegal);
        if (err == SR_OK)
                keep_steps();
}

/* Deliver a pending StageStep (a random one; sometimes it stays for a
 * second delivery, which must be stale). */
static void step_deliver(void)
{
        uint32_t i;
        sr_command_t cmd;
        sr_err_t err;

        if (!n_steps)
                return;
        i = rnd(n_steps);
        cmd = steps[i];
        if (rnd(4))
                steps[i] = steps[--n_steps];
        err = fsm_cmd(&cmd);
        CHECK(err == SR_OK, "%s %s", sr_err_name(err), out.illegal);
        CHECK(!out.has_reply, "a step got a reply");
        if (out.applied)
                stepped++;
        keep_steps();
}

static void step_set(void)
{
        sr_command_t cmd;
        uint32_t what = rnd(10);

        if (run.pr.m.status == SR_ST_WAITING && rnd(3)) {
                uint32_t si = 0; /* a promote: the first pending stage */

                while (si + 1 < run.pr.n_stages &&
                       run.stages[si].m.status != SR_ST_PENDING)
                        si++;
                base_cmd(&cmd, SR_CMD_SET_STAGE_RUN_STATUS);
                cmd.u.set.entity_id = run.stages[si].m.id;
                snprintf(cmd.u.set.status, sizeof(cmd.u.set.status),
                         "queued");
                apply_cmd(&cmd);
                return;
        }
        if (what < 5 && run.n_targets) {
                uint32_t ti = rnd(run.n_targets);

                base_cmd(&cmd, SR_CMD_SET_TARGET_RUN_STATUS);
                cmd.u.set.entity_id = sr_run_tr(&run, ti)->m.id;
        } else if (what < 9) {
                base_cmd(&cmd, SR_CMD_SET_STAGE_RUN_STATUS);
                cmd.u.set.entity_id = run.stages[rnd(run.pr.n_stages)].m.id;
        } else {
                base_cmd(&cmd, SR_CMD_SET_PIPELINE_RUN_STATUS);
        }
        snprintf(cmd.u.set.status, sizeof(cmd.u.set.status), "%s",
                 statuses[rnd(sizeof(statuses) / sizeof(statuses[0]))]);
        apply_cmd(&cmd);
}

static void step_timer(void)
{
        sr_command_t cmd;

        base_cmd(&cmd, SR_CMD_TIMER_FIRED);
        cmd.u.timer.entity_type = SR_ENT_PIPELINE_RUN;
        cmd.u.timer.entity_id = run_id();
        /* Mostly the armed deadline, once it has come; else any instant. */
        if (run.pr.next_deadline && rnd(4)) {
                if (now < run.pr.next_deadline)
                        now = run.pr.next_deadline;
                cmd.u.timer.deadline = run.pr.next_deadline;
        } else {
                cmd.u.timer.deadline = now - (int64_t)rnd(1000);
        }
        apply_cmd(&cmd);
}

/* An open stage's input: the next chunk (1-3 devices, sometimes one
 * already applied again) or a seal (mostly right). */
static void step_open(void)
{
        uint32_t si = rnd(run.pr.n_stages);
        const sr_stage_run_t *s;
        sr_command_t cmd;

        /* the first open stage from a random one on, if any */
        for (uint32_t k = 0; k < run.pr.n_stages; k++)
                if (run.stages[(si + k) % run.pr.n_stages].append_targets) {
                        si = (si + k) % run.pr.n_stages;
                        break;
                }
        s = &run.stages[si];
        if (!s->append_targets)
                return;
        if (!s->chunks_applied || rnd(2)) {
                uint32_t n = 1 + rnd(3);

                base_cmd(&cmd, SR_CMD_APPEND_TARGETS);
                cmd.u.append.stage_index = si;
                cmd.u.append.chunk = rnd(5) ? s->chunks_applied :
                                              rnd(s->chunks_applied + 1);
                cmd.u.append.n_targets = n;
                cmd.u.append.targets = calloc(n, sizeof(sr_spec_target_t));
                for (uint32_t i = 0; i < n; i++)
                        sr_uuid_v5(&cmd.u.append.targets[i].device_id, &sr_ns,
                                   "open-%u-%d-%u", si, counter, i);
                sr_sha256(cmd.u.append.targets, n * sizeof(sr_spec_target_t),
                          cmd.u.append.digest);
        } else {
                sr_sha256_ctx_t c;

                base_cmd(&cmd, SR_CMD_SEAL_TARGETS);
                cmd.u.seal.stage_index = si;
                cmd.u.seal.chunks = s->chunks_applied;
                cmd.u.seal.count = s->targets_appended + (rnd(6) ? 0 : 1);
                sr_sha256_init(&c);
                for (uint32_t k = 0; k < s->chunks_applied; k++) {
                        int64_t at = sr_run_find_chunk(&run, si, k);

                        if (at >= 0)
                                sr_sha256_update(&c, run.chunks[at].digest,
                                                 SR_DIGEST_LEN);
                }
                sr_sha256_final(&c, cmd.u.seal.digest);
        }
        apply_cmd(&cmd);
}

static void history(unsigned s)
{
        bool filled = false;

        seed = s;
        step_no = 0;
        rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)s * 0x2545f4914f6cdd1dull);
        rnd(1);
        now = 1700000000000LL;
        counter = 0;
        memset(&opts, 0, sizeof(opts));
        opts.retention_finished_ms = rnd(2) ? 0 : 3600000LL * (1 + rnd(48));
        opts.fill_timeout_ms = rnd(2) ? 0 : 3600000LL * (1 + rnd(48));
        /* open stages filled in parts of 1-4 target runs, or at once */
        opts.step_targets = rnd(4) ? 1 + rnd(2) : 0;
        n_steps = 0;
        sr_run_fini(&run);
        sr_run_fini(&twin);
        n_store = 0;
        cstore_reset();
        if (paged)
                sr_run_set_pager(&run, pager, chunk_pager, NULL);
        create();
        check_counts();
        check_dirty();
        same_state();
        save();
        for (step_no = 1; step_no <= STEPS && run.exists; step_no++) {
                uint32_t a = rnd(165);

                now += rnd(8) ? (int64_t)rnd(60000) :
                                (int64_t)rnd(9) * 24 * 3600 * 1000;
                if (a < 60)
                        step_result();
                else if (a < 72)
                        step_set();
                else if (a < 88)
                        step_timer();
                else if (a < 95)
                        save();
                else if (a < 100)
                        reload();
                else if (a < 135)
                        step_open();
                else
                        step_deliver();
                if (!run.exists)
                        break; /* retired: only its marker is left */
                check_counts();
                check_dirty();
                same_state();
                drop_pages();
                for (uint32_t i = 0; i < run.pr.n_stages && !filled; i++)
                        filled = run.stages[i].append_targets &&
                                 run.sidx[i].n_tr > 0;
        }
        open_filled += filled;
}

Test(sr_run_rollup,
     counts_deadline_and_dirty_set_equal_a_full_scan_after_every_step)
{
        open_filled = 0;
        stepped = 0;
        released = 0;
        for (unsigned s = 1; s <= HISTORIES; s++)
                history(s);
        /* chunks were released, and fills after it never read them */
        cr_assert(gt(u64, released, HISTORIES / 20), "%" PRIu64
                  " chunk targets released", released);
        /* the generator must fill open stages, not only refuse chunks,
         * and in parts, not only at once */
        cr_assert(gt(u32, open_filled, HISTORIES / 20), "%u filled",
                  open_filled);
        cr_assert(gt(u32, stepped, HISTORIES / 40), "%u parts by steps",
                  stepped);
}

/* The same histories with the run paged (docs/targets.md section 6): no
 * clean target run decoded between inputs, each read back from what the
 * saves stored when an input needs it; the outputs of every input and
 * the state after it equal those of a twin that holds every target run,
 * and the bookkeeping still equals a full scan. */
Test(sr_run_rollup, a_paged_run_reads_target_runs_back_and_behaves_as_a_whole_one)
{
        paged = true;
        page_reads = page_drops = chunk_reads = 0;
        open_filled = 0;
        stepped = 0;
        for (unsigned s = 1; s <= HISTORIES / 2; s++)
                history(s);
        for (unsigned s = 1000; s < 1000 + HISTORIES / 4; s++)
                history(s);
        paged = false;
        cr_assert(gt(u64, chunk_reads, HISTORIES / 20), "%" PRIu64
                  " chunks read back", chunk_reads);
        /* pages were dropped and read back, on every kind of history */
        cr_assert(gt(u64, page_drops, HISTORIES * 10), "%" PRIu64
                  " dropped", page_drops);
        cr_assert(gt(u64, page_reads, HISTORIES * 10), "%" PRIu64
                  " read back", page_reads);
        cr_assert(gt(u32, open_filled, HISTORIES / 40), "%u filled",
                  open_filled);
        cr_assert(gt(u32, stepped, HISTORIES / 80), "%u parts by steps",
                  stepped);
}

/* Stages that all end, some by cancel or timeout, with retention set: the
 * bookkeeping reaches "all final" and the retirement instant like a scan. */
Test(sr_run_rollup, histories_reach_all_final_and_retire_like_a_scan)
{
        unsigned retired = 0, final = 0;

        for (unsigned s = 1000; s < 1000 + HISTORIES / 2; s++) {
                int64_t ended;

                history(s);
                if (!run.exists && run.retired)
                        retired++;
                else if (sr_run_all_final(&run, &ended))
                        final++;
        }
        /* The generator must reach the interesting end states. */
        cr_assert(gt(u32, retired + final, HISTORIES / 20), "%u retired, %u final",
                  retired, final);
}

/* The counts are indexed by status: a loaded entity with a status out of
 * range is refused as corrupt, never counted out of bounds. */
Test(sr_run_rollup, loading_a_target_run_with_an_unknown_status_is_corrupt)
{
        sr_entity_t e;
        sr_errctx_t ec = { 0 };

        memset(&e, 0, sizeof(e));
        e.type = SR_ENT_PIPELINE_RUN;
        e.u.pr.m.id = run_id();
        e.u.pr.m.status = SR_ST_RUNNING;
        e.u.pr.n_stages = 1;
        cr_assert(eq(int, sr_run_add_entity(&run, &e, &ec), SR_OK));
        memset(&e, 0, sizeof(e));
        e.type = SR_ENT_STAGE_RUN;
        sr_uuid_v5(&e.u.sr.m.id, &sr_ns, "stage");
        e.u.sr.m.status = SR_ST_RUNNING;
        cr_assert(eq(int, sr_run_add_entity(&run, &e, &ec), SR_OK));
        memset(&e, 0, sizeof(e));
        e.type = SR_ENT_TARGET_RUN;
        sr_uuid_v5(&e.u.tr.m.id, &sr_ns, "target");
        e.u.tr.m.status = (sr_status_t)(SR_ST__COUNT + 7);
        cr_assert(eq(int, sr_run_add_entity(&run, &e, &ec), SR_OK));
        cr_assert(eq(int, sr_run_index(&run, &ec), SR_ERR_CORRUPT));
        cr_assert(not(eq(ptr, strstr(ec.msg, "target run status"), NULL)),
                  "%s", ec.msg);
}
