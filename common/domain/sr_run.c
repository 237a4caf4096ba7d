/* common/domain/sr_run.c - the run container: every entity of one pipeline
 * run, loaded in any order, sorted and indexed; and the storage keys of
 * entities; its pages and chunks are sr_run_pages.c's and sr_run_chunks.c's. */
#include "sr_run_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ run */

void sr_run_init(sr_run_t *run)
{
        memset(run, 0, sizeof(*run));
}

void sr_run_fini(sr_run_t *run)
{
        sr_entity_t e;

        if (!run)
                return;
        for (uint32_t i = 0; run->stages && i < run->pr.n_stages; i++) {
                e.type = SR_ENT_STAGE_RUN;
                e.u.sr = run->stages[i];
                sr_entity_fini(&e);
        }
        for (uint32_t i = 0; i < run->n_ops; i++)
                free(run->ops[i].args_json);
        free(run->stages);
        free(run->stage_dirty);
        free(run->ops);
        free(run->op_dirty);
        for (uint32_t i = 0; i < run->cap_pages; i++)
                free(run->pages[i]);
        free(run->pages);
        free(run->page_res);
        free(run->page_used);
        free(run->tri);
        free(run->load_tr);
        free(run->dirty);
        free(run->sidx);
        free(run->tr_hash);
        for (uint32_t i = 0; i < run->n_chunks; i++)
                sr_stage_chunk_fini(&run->chunks[i]);
        for (uint32_t i = 0; run->chunk_devs && i < run->n_chunks; i++)
                free(run->chunk_devs[i]);
        free(run->chunks);
        free(run->chunk_dirty);
        free(run->chunk_devs);
        free(run->chunk_out);
        free(run->dev_hash);
        sr_run_init(run);
}

/* The dirty list holds each entity at most once: room for every stage
 * slot, operation and target run there is room for. */
static bool reserve_dirty(sr_run_t *run, uint32_t stage_slots)
{
        uint64_t need = (uint64_t)stage_slots + run->cap_ops + run->cap_targets;

        if (stage_slots < run->pr.n_stages)
                need += run->pr.n_stages - stage_slots;
        if (need > UINT32_MAX)
                return false;
        return sr_array_grow((void **)&run->dirty, &run->cap_dirty,
                             (uint32_t)need, sizeof(*run->dirty));
}

/* Grow the stage arrays to n stages (zero-filling the new ones). */
bool sr_run_reserve_stages(sr_run_t *run, uint32_t n)
{
        sr_stage_run_t *s;
        bool *d;

        if (n <= run->pr.n_stages && run->stages)
                return true;
        s = realloc(run->stages, (size_t)n * sizeof(*s));
        if (!s)
                return false;
        run->stages = s;
        d = realloc(run->stage_dirty, (size_t)n * sizeof(*d));
        if (!d)
                return false;
        run->stage_dirty = d;
        return reserve_dirty(run, n);
}

bool sr_run_reserve_ops(sr_run_t *run, uint32_t need)
{
        uint32_t cap = run->cap_ops, cap2 = run->cap_ops;

        if (!sr_array_grow((void **)&run->ops, &cap, need, sizeof(*run->ops)))
                return false;
        if (!sr_array_grow((void **)&run->op_dirty, &cap2, need, sizeof(bool)))
                return false;
        run->cap_ops = cap;
        return reserve_dirty(run, run->pr.n_stages);
}

bool sr_run_reserve_targets(sr_run_t *run, uint32_t need)
{
        uint32_t cap = run->cap_targets;

        if (!sr_array_grow((void **)&run->tri, &cap, need, sizeof(*run->tri)))
                return false;
        run->cap_targets = cap;
        return sr_run__reserve_pages(run, cap) &&
               reserve_dirty(run, run->pr.n_stages);
}

void sr_run_tri_sync(sr_run_t *run, uint32_t ti)
{
        const sr_target_run_t *t = sr_run_tr(run, ti);
        sr_run_tri_t *x = &run->tri[ti];

        x->id = t->m.id;
        x->deadline = t->m.deadline;
        x->target_index = t->target_index;
        x->stage_index = (uint16_t)t->stage_index;
        x->op_index = (uint16_t)t->op_index;
        x->status = (uint8_t)t->m.status;
}

/* Stage slots are filled as stage entities arrive; a zero id marks a hole. */
sr_err_t sr_run_add_entity(sr_run_t *run, sr_entity_t *e, sr_errctx_t *ec)
{
        switch (e->type) {
        case SR_ENT_PIPELINE_RUN: {
                uint32_t have = run->pr.n_stages; /* stage slots so far */
                uint32_t n = e->u.pr.n_stages;

                if (run->exists)
                        return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                             "run: pipeline run twice");
                /* Stage runs may have been added before: keep them. */
                if (n < have)
                        return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                             "run: stage beyond n_stages");
                run->pr = e->u.pr;
                run->pr.n_stages = have;
                if (n && !sr_run_reserve_stages(run, n))
                        return sr_errctx_set(ec, SR_ERR_NOMEM, "run: stages");
                for (uint32_t i = have; i < n; i++) {
                        memset(&run->stages[i], 0, sizeof(run->stages[i]));
                        run->stage_dirty[i] = false;
                }
                run->pr.n_stages = n;
                run->exists = true;
                return SR_OK;
        }
        case SR_ENT_STAGE_RUN: {
                uint32_t i = e->u.sr.index;

                if (i >= 65536)
                        return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                             "run: stage index %u", i);
                if (i >= run->pr.n_stages) {
                        uint32_t old = run->pr.n_stages;

                        if (run->exists)
                                return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                                     "run: stage %u of %u", i,
                                                     old);
                        if (!sr_run_reserve_stages(run, i + 1))
                                return sr_errctx_set(ec, SR_ERR_NOMEM,
                                                     "run: stages");
                        for (uint32_t k = old; k <= i; k++) {
                                memset(&run->stages[k], 0,
                                       sizeof(run->stages[k]));
                                run->stage_dirty[k] = false;
                        }
                        run->pr.n_stages = i + 1;
                }
                if (!sr_uuid_is_nil(&run->stages[i].m.id))
                        return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                             "run: stage %u twice", i);
                run->stages[i] = e->u.sr;
                run->stage_dirty[i] = false;
                return SR_OK;
        }
        case SR_ENT_STAGE_RUN_OPERATION:
                if (!sr_run_reserve_ops(run, run->n_ops + 1))
                        return sr_errctx_set(ec, SR_ERR_NOMEM, "run: ops");
                run->ops[run->n_ops] = e->u.op;
                run->op_dirty[run->n_ops++] = false;
                return SR_OK;
        case SR_ENT_TARGET_RUN: {
                const sr_target_run_t *t = &e->u.tr;
                sr_run_tri_t *x;

                if (!sr_run_reserve_targets(run, run->n_targets + 1))
                        return sr_errctx_set(ec, SR_ERR_NOMEM, "run: targets");
                if (t->stage_index > UINT16_MAX || t->op_index > UINT16_MAX)
                        return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                             "run: target run of stage %u, "
                                             "operation %u", t->stage_index,
                                             t->op_index);
                /* A lean load (a pager) keeps none of them. */
                if (!run->pager) {
                        if (!sr_array_grow((void **)&run->load_tr,
                                           &run->cap_load, run->n_targets + 1,
                                           sizeof(*run->load_tr)))
                                return sr_errctx_set(ec, SR_ERR_NOMEM,
                                                     "run: targets");
                        run->load_tr[run->n_targets] = *t;
                }
                x = &run->tri[run->n_targets++];
                memset(x, 0, sizeof(*x));
                x->id = t->m.id;
                x->deadline = t->m.deadline;
                x->target_index = t->target_index;
                x->stage_index = (uint16_t)t->stage_index;
                x->op_index = (uint16_t)t->op_index;
                /* out of range: refused by sr_run_index() */
                x->status = (unsigned)t->m.status < SR_ST__COUNT ?
                                    (uint8_t)t->m.status : UINT8_MAX;
                if (t->m.ended_at > run->load_max_ended)
                        run->load_max_ended = t->m.ended_at;
                return SR_OK;
        }
        default:
                return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                     "run: unknown entity type %d", e->type);
        }
}

static int cmp_op(const void *a, const void *b)
{
        const sr_stage_run_op_t *x = a, *y = b;

        if (x->stage_index != y->stage_index)
                return x->stage_index < y->stage_index ? -1 : 1;
        return x->index < y->index ? -1 : x->index > y->index;
}

static int cmp_tri(const void *a, const void *b)
{
        const sr_run_tri_t *x = a, *y = b;

        if (x->stage_index != y->stage_index)
                return x->stage_index < y->stage_index ? -1 : 1;
        if (x->op_index != y->op_index)
                return x->op_index < y->op_index ? -1 : 1;
        return x->target_index < y->target_index  ? -1 :
               x->target_index > y->target_index;
}

/* Sort positions @p perm by the tri they index (qsort_r: glibc). */
static int cmp_perm(const void *a, const void *b, void *arg)
{
        const sr_run_tri_t *tri = arg;
        uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
        int c = cmp_tri(&tri[x], &tri[y]);

        return c ? c : (x > y) - (x < y);
}

static void sort_perm(uint32_t *perm, uint32_t n, const sr_run_tri_t *tri)
{
        qsort_r(perm, n, sizeof(*perm), cmp_perm, (void *)tri);
}

static uint32_t uuid_hash(const sr_uuid_t *u)
{
        uint32_t h;

        memcpy(&h, u->b, sizeof(h)); /* ids are hashes already */
        return h;
}

static void hash_insert(sr_run_t *run, uint32_t ti)
{
        uint32_t mask = run->tr_hash_cap - 1;
        uint32_t h = uuid_hash(&run->tri[ti].id) & mask;

        while (run->tr_hash[h])
                h = (h + 1) & mask;
        run->tr_hash[h] = ti + 1;
}

/* Rebuild the target hash for capacity >= 2 * n_targets. */
bool sr_run_rehash(sr_run_t *run)
{
        uint32_t cap = 16;
        uint32_t *h;

        while (cap < 2 * run->n_targets + 2)
                cap *= 2;
        h = calloc(cap, sizeof(*h));
        if (!h)
                return false;
        free(run->tr_hash);
        run->tr_hash = h;
        run->tr_hash_cap = cap;
        for (uint32_t i = 0; i < run->n_targets; i++)
                hash_insert(run, i);
        return true;
}

bool sr_run_hash_added(sr_run_t *run, uint32_t from)
{
        /* Room left at the load factor rehash keeps: insert the new ones
         * only, so a stage filled in parts does not rehash the run per
         * part. */
        if (!run->tr_hash_cap || run->tr_hash_cap < 2 * run->n_targets + 2)
                return sr_run_rehash(run);
        for (uint32_t i = from; i < run->n_targets; i++)
                hash_insert(run, i);
        return true;
}

/* Derived counters of every stage from the (sorted) ops and targets, and
 * the run's roll-ups: the one full scan, on load. */
static bool reindex(sr_run_t *run)
{
        sr_run_stage_idx_t *sidx;
        uint32_t n = run->pr.n_stages;

        sidx = calloc(n ? n : 1, sizeof(*sidx));
        if (!sidx)
                return false;
        memset(run->n_stage_status, 0, sizeof(run->n_stage_status));
        memset(run->n_tr_status, 0, sizeof(run->n_tr_status));
        run->max_ended_at = run->pr.m.ended_at;
        for (uint32_t i = 0; i < n; i++) {
                const sr_meta_t *m = &run->stages[i].m;

                run->n_stage_status[m->status]++;
                if (m->ended_at > run->max_ended_at)
                        run->max_ended_at = m->ended_at;
        }
        for (uint32_t i = run->n_ops; i-- > 0;) {
                sidx[run->ops[i].stage_index].first_op = i;
                sidx[run->ops[i].stage_index].n_ops++;
        }
        if (run->load_max_ended > run->max_ended_at)
                run->max_ended_at = run->load_max_ended;
        run->load_max_ended = 0; /* a load's: used */
        for (uint32_t i = run->n_targets; i-- > 0;) {
                const sr_run_tri_t *t = &run->tri[i];
                sr_run_stage_idx_t *x = &sidx[t->stage_index];
                int64_t d = t->deadline;

                x->first_tr = i;
                x->n_tr++;
                x->n_tr_status[t->status]++;
                run->n_tr_status[t->status]++;
                if (sr_status_is_terminal(t->status) || !d)
                        continue;
                if (!x->tr_min_deadline || d < x->tr_min_deadline) {
                        x->tr_min_deadline = d;
                        x->n_tr_at_min = 1;
                } else if (d == x->tr_min_deadline) {
                        x->n_tr_at_min++;
                }
        }
        free(run->sidx);
        run->sidx = sidx;
        return reserve_dirty(run, n) && sr_run_rehash(run);
}

/* Sort the loaded target runs (tri, and their bodies when kept) into
 * (stage, op, target) order, and put the kept bodies in their pages. A
 * store scan gives them in that order already (keys sort so): then
 * nothing moves. */
static bool place_targets(sr_run_t *run)
{
        uint32_t n = run->n_targets;
        bool sorted = true;

        for (uint32_t i = 1; i < n && sorted; i++)
                sorted = cmp_tri(&run->tri[i - 1], &run->tri[i]) <= 0;
        if (!sorted) {
                uint32_t *perm = malloc((size_t)n * sizeof(*perm));
                sr_run_tri_t *tri = malloc((size_t)n * sizeof(*tri));
                sr_target_run_t *tr = NULL;

                if (run->load_tr)
                        tr = malloc((size_t)n * sizeof(*tr));
                if (!perm || !tri || (run->load_tr && !tr)) {
                        free(perm);
                        free(tri);
                        free(tr);
                        return false;
                }
                memcpy(tri, run->tri, (size_t)n * sizeof(*tri));
                for (uint32_t i = 0; i < n; i++)
                        perm[i] = i;
                sort_perm(perm, n, run->tri);
                for (uint32_t i = 0; i < n; i++) {
                        run->tri[i] = tri[perm[i]];
                        if (tr)
                                tr[i] = run->load_tr[perm[i]];
                }
                if (tr) {
                        free(run->load_tr);
                        run->load_tr = tr;
                        run->cap_load = n;
                }
                free(tri);
                free(perm);
        }
        for (uint32_t i = 0; run->load_tr && i < n; i++) {
                sr_target_run_t *pg = sr_run__page_get(run,
                                                       i >> SR_RUN_PAGE_SHIFT);

                if (!pg)
                        return false;
                pg[i & (SR_RUN_PAGE - 1)] = run->load_tr[i];
                sr_run__make_resident(run, i);
        }
        free(run->load_tr);
        run->load_tr = NULL;
        run->cap_load = 0;
        return true;
}

sr_err_t sr_run_index(sr_run_t *run, sr_errctx_t *ec)
{
        if (!run->exists)
                return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                     "run: no pipeline run record");
        for (uint32_t i = 0; i < run->pr.n_stages; i++)
                if (sr_uuid_is_nil(&run->stages[i].m.id))
                        return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                             "run: stage run %u missing", i);
        for (uint32_t i = 0; i < run->n_ops; i++)
                if (run->ops[i].stage_index >= run->pr.n_stages)
                        return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                             "run: op of stage %u",
                                             run->ops[i].stage_index);
        for (uint32_t i = 0; i < run->n_targets; i++)
                if (run->tri[i].stage_index >= run->pr.n_stages)
                        return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                             "run: target of stage %u",
                                             run->tri[i].stage_index);
        /* The counts are indexed by status. */
        for (uint32_t i = 0; i < run->pr.n_stages; i++)
                if ((unsigned)run->stages[i].m.status >= SR_ST__COUNT)
                        return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                             "run: stage run %u status %d", i,
                                             (int)run->stages[i].m.status);
        for (uint32_t i = 0; i < run->n_targets; i++)
                if (run->tri[i].status >= SR_ST__COUNT)
                        return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                             "run: target run status out of "
                                             "range");
        if (run->n_ops)
                qsort(run->ops, run->n_ops, sizeof(*run->ops), cmp_op);
        if (!place_targets(run))
                return sr_errctx_set(ec, SR_ERR_NOMEM, "run: targets");
        if (!reindex(run))
                return sr_errctx_set(ec, SR_ERR_NOMEM, "run: index");
        return SR_OK;
}

static bool *dirty_flag(sr_run_t *run, uint64_t e)
{
        uint32_t i = (uint32_t)e;

        switch ((sr_entity_type_t)(e >> 32)) {
        case SR_ENT_STAGE_RUN:
                return &run->stage_dirty[i];
        case SR_ENT_STAGE_RUN_OPERATION:
                return &run->op_dirty[i];
        default:
                return &run->tri[i].dirty;
        }
}

void sr_run_clear_dirty(sr_run_t *run)
{
        run->pr_dirty = false;
        for (uint32_t i = 0; run->n_chunks_dirty && i < run->n_chunks; i++)
                run->chunk_dirty[i] = false;
        run->n_chunks_dirty = 0;
        for (uint32_t k = 0; k < run->n_dirty; k++)
                *dirty_flag(run, run->dirty[k]) = false;
        run->n_dirty = 0;
}

static void mark(sr_run_t *run, bool *flag, sr_entity_type_t kind,
                 uint32_t i)
{
        if (*flag)
                return;
        *flag = true;
        /* Room was reserved with the entity (reserve_dirty). */
        run->dirty[run->n_dirty++] = SR_RUN_DIRTY(kind, i);
}

void sr_run_mark_stage(sr_run_t *run, uint32_t si)
{
        mark(run, &run->stage_dirty[si], SR_ENT_STAGE_RUN, si);
}

void sr_run_mark_op(sr_run_t *run, uint32_t oi)
{
        mark(run, &run->op_dirty[oi], SR_ENT_STAGE_RUN_OPERATION, oi);
}

void sr_run_mark_target(sr_run_t *run, uint32_t ti)
{
        (void)sr_run_tr(run, ti); /* changed, so resident: kept so */
        mark(run, &run->tri[ti].dirty, SR_ENT_TARGET_RUN, ti);
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

        return (x > y) - (x < y);
}

int sr_run_dirty_each(sr_run_t *run,
                      int (*fn)(const sr_entity_t *e, void *arg), void *arg)
{
        sr_entity_t e;
        int rc;

        if (run->n_dirty > 1)
                qsort(run->dirty, run->n_dirty, sizeof(*run->dirty), cmp_u64);
        for (uint32_t k = 0; k < run->n_dirty; k++) {
                uint32_t i = (uint32_t)run->dirty[k];

                e.type = (sr_entity_type_t)(run->dirty[k] >> 32);
                if (e.type == SR_ENT_STAGE_RUN)
                        e.u.sr = run->stages[i];
                else if (e.type == SR_ENT_STAGE_RUN_OPERATION)
                        e.u.op = run->ops[i];
                else
                        e.u.tr = *sr_run_tr(run, i);
                if ((rc = fn(&e, arg)))
                        return rc;
        }
        if (run->pr_dirty) {
                e.type = SR_ENT_PIPELINE_RUN;
                e.u.pr = run->pr;
                return fn(&e, arg);
        }
        return 0;
}

/* ------------------------------------------------------------ roll-ups */

/* Drop a non-terminal target run at deadline @p d from its stage's
 * minimum; when it was the last one there, find the next minimum. */
static void min_remove(sr_run_t *run, sr_run_stage_idx_t *x, int64_t d)
{
        if (d != x->tr_min_deadline || --x->n_tr_at_min)
                return;
        x->tr_min_deadline = 0;
        for (uint32_t i = 0; i < x->n_tr; i++) {
                const sr_run_tri_t *m = &run->tri[x->first_tr + i];

                if (sr_status_is_terminal(m->status) || !m->deadline)
                        continue;
                if (!x->tr_min_deadline || m->deadline < x->tr_min_deadline) {
                        x->tr_min_deadline = m->deadline;
                        x->n_tr_at_min = 1;
                } else if (m->deadline == x->tr_min_deadline) {
                        x->n_tr_at_min++;
                }
        }
}

static void min_add(sr_run_stage_idx_t *x, int64_t d)
{
        if (!x->tr_min_deadline || d < x->tr_min_deadline) {
                x->tr_min_deadline = d;
                x->n_tr_at_min = 1;
        } else if (d == x->tr_min_deadline) {
                x->n_tr_at_min++;
        }
}

void sr_run_target_changed(sr_run_t *run, uint32_t ti, sr_status_t from,
                           int64_t old_deadline)
{
        const sr_meta_t *m = &sr_run_tr(run, ti)->m;
        sr_run_stage_idx_t *x = &run->sidx[run->tri[ti].stage_index];
        bool was_open = !sr_status_is_terminal(from) && old_deadline;
        bool is_open = !sr_status_is_terminal(m->status) && m->deadline;

        if (from != m->status) {
                x->n_tr_status[from]--;
                x->n_tr_status[m->status]++;
                run->n_tr_status[from]--;
                run->n_tr_status[m->status]++;
        }
        run->tri[ti].status = (uint8_t)m->status;
        run->tri[ti].deadline = m->deadline;
        if (m->ended_at > run->max_ended_at)
                run->max_ended_at = m->ended_at;
        if (was_open && is_open && old_deadline == m->deadline)
                return;
        /* Add before removing: a rescan in min_remove() then sees the
         * target run as it is now. */
        if (is_open)
                min_add(x, m->deadline);
        if (was_open)
                min_remove(run, x, old_deadline);
}

void sr_run_stage_changed(sr_run_t *run, uint32_t si, sr_status_t from)
{
        const sr_meta_t *m = &run->stages[si].m;

        run->n_stage_status[from]--;
        run->n_stage_status[m->status]++;
        if (m->ended_at > run->max_ended_at)
                run->max_ended_at = m->ended_at;
}

void sr_run_target_added(sr_run_t *run, uint32_t ti)
{
        const sr_target_run_t *t = sr_run_tr(run, ti);

        sr_run_tri_sync(run, ti);
        run->sidx[t->stage_index].n_tr_status[t->m.status]++;
        run->n_tr_status[t->m.status]++;
}

void sr_run_stage_added(sr_run_t *run, uint32_t si)
{
        run->n_stage_status[run->stages[si].m.status]++;
}

static uint32_t n_terminal(const uint32_t n[SR_ST__COUNT])
{
        return n[SR_ST_SUCCESS] + n[SR_ST_FAILURE] + n[SR_ST_CANCELLED] +
               n[SR_ST_TIMEOUT] + n[SR_ST_INVALID];
}

uint32_t sr_run_stage_terminal(const sr_run_stage_idx_t *x)
{
        return n_terminal(x->n_tr_status);
}

bool sr_run_all_final(const sr_run_t *run, int64_t *ended_at)
{
        if (!sr_status_is_terminal(run->pr.m.status) ||
            n_terminal(run->n_stage_status) != run->pr.n_stages ||
            n_terminal(run->n_tr_status) != run->n_targets)
                return false;
        *ended_at = run->max_ended_at;
        return true;
}

uint32_t sr_run_n_open(const sr_run_t *run)
{
        return run->pr.n_stages - n_terminal(run->n_stage_status) +
               run->n_targets - n_terminal(run->n_tr_status);
}

int64_t sr_run_min_deadline(const sr_run_t *run)
{
        int64_t d = 0;

#define CONSIDER(dl)                                                      \
        do {                                                              \
                if ((dl) && (!d || (dl) < d))                             \
                        d = (dl);                                         \
        } while (0)
        if (!sr_status_is_terminal(run->pr.m.status))
                CONSIDER(run->pr.m.deadline);
        for (uint32_t i = 0; i < run->pr.n_stages; i++) {
                if (!sr_status_is_terminal(run->stages[i].m.status))
                        CONSIDER(run->stages[i].m.deadline);
                CONSIDER(run->sidx[i].tr_min_deadline);
        }
#undef CONSIDER
        return d;
}

int64_t sr_run_find_target_idx(const sr_run_t *run, const sr_uuid_t *id)
{
        uint32_t mask, h;

        if (!run->tr_hash_cap)
                return -1;
        mask = run->tr_hash_cap - 1;
        for (h = uuid_hash(id) & mask; run->tr_hash[h]; h = (h + 1) & mask) {
                uint32_t ti = run->tr_hash[h] - 1;

                if (sr_uuid_eq(&run->tri[ti].id, id))
                        return ti;
        }
        return -1;
}

sr_target_run_t *sr_run_find_target(const sr_run_t *run, const sr_uuid_t *id)
{
        int64_t ti = sr_run_find_target_idx(run, id);

        return ti < 0 ? NULL : sr_run_tr(run, (uint32_t)ti);
}

sr_stage_run_t *sr_run_find_stage(const sr_run_t *run, const sr_uuid_t *id)
{
        for (uint32_t i = 0; i < run->pr.n_stages; i++)
                if (sr_uuid_eq(&run->stages[i].m.id, id))
                        return &run->stages[i];
        return NULL;
}

/* ------------------------------------------------------------ keys */

size_t sr_run_key_prefix(const sr_uuid_t *run, char out[SR_ENTITY_KEY_MAX])
{
        sr_uuid_hex(run, out);
        out[SR_UUID_STR_LEN] = '/';
        out[SR_UUID_STR_LEN + 1] = '\0';
        return SR_UUID_STR_LEN + 1;
}

/* The longest key, "<run>/t/" and three 10-digit indices, always fits:
 * no bound checks below. */
_Static_assert(SR_UUID_STR_LEN + 1 + 2 + 3 * 10 + 2 < SR_ENTITY_KEY_MAX,
               "SR_ENTITY_KEY_MAX too small for a target run key");

/* Written by hand, not snprintf: one key per changed entity per step. */
size_t sr_entity_key(const sr_entity_t *e, char out[SR_ENTITY_KEY_MAX])
{
        size_t n;

        switch (e->type) {
        case SR_ENT_PIPELINE_RUN:
                n = sr_run_key_prefix(&e->u.pr.m.id, out);
                out[n++] = 'p';
                break;
        case SR_ENT_STAGE_RUN:
                n = sr_run_key_prefix(&e->u.sr.pipeline_run_id, out);
                out[n++] = 's';
                out[n++] = '/';
                n += sr_put_uint(out + n, e->u.sr.index, 4);
                break;
        case SR_ENT_STAGE_RUN_OPERATION:
                n = sr_run_key_prefix(&e->u.op.pipeline_run_id, out);
                out[n++] = 'o';
                out[n++] = '/';
                n += sr_put_uint(out + n, e->u.op.stage_index, 4);
                out[n++] = '/';
                n += sr_put_uint(out + n, e->u.op.index, 4);
                break;
        case SR_ENT_TARGET_RUN:
        default:
                n = sr_run_key_prefix(&e->u.tr.pipeline_run_id, out);
                out[n++] = 't';
                out[n++] = '/';
                n += sr_put_uint(out + n, e->u.tr.stage_index, 4);
                out[n++] = '/';
                n += sr_put_uint(out + n, e->u.tr.op_index, 4);
                out[n++] = '/';
                n += sr_put_uint(out + n, e->u.tr.target_index, 6);
                break;
        }
        out[n] = '\0';
        return n;
}

size_t sr_run_tr_key(const sr_run_t *run, uint32_t ti,
                     char out[SR_ENTITY_KEY_MAX])
{
        const sr_run_tri_t *x = &run->tri[ti];
        sr_entity_t e;

        e.type = SR_ENT_TARGET_RUN;
        e.u.tr.pipeline_run_id = run->pr.m.id;
        e.u.tr.stage_index = x->stage_index;
        e.u.tr.op_index = x->op_index;
        e.u.tr.target_index = x->target_index;
        return sr_entity_key(&e, out);
}

size_t sr_dedupe_key(const sr_uuid_t *run, const sr_uuid_t *input_id,
                     char out[SR_ENTITY_KEY_MAX])
{
        size_t n = sr_run_key_prefix(run, out);

        out[n++] = 'd';
        out[n++] = '/';
        sr_uuid_fmt(input_id, out + n);
        return n + SR_UUID_STR_LEN;
}


size_t sr_retired_key(const sr_uuid_t *run, char out[SR_ENTITY_KEY_MAX])
{
        size_t n = sr_run_key_prefix(run, out);

        out[n++] = 'r';
        out[n] = '\0';
        return n;
}

size_t sr_chunk_key(const sr_stage_chunk_t *c, char out[SR_ENTITY_KEY_MAX])
{
        size_t n = sr_run_key_prefix(&c->pipeline_run_id, out);

        out[n++] = 'k';
        out[n++] = '/';
        n += sr_put_uint(out + n, c->stage_index, 4);
        out[n++] = '/';
        n += sr_put_uint(out + n, c->chunk, 6);
        out[n] = '\0';
        return n;
}
