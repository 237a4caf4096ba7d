/* common/domain/sr_run.c - the run container: every entity of one pipeline
 * run, loaded in any order, sorted and indexed; and the storage keys of
 * entities. */
#include "sr_run.h"

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

/* The page table for @p n target runs (entries zeroed: no page held). */
static bool reserve_pages(sr_run_t *run, uint32_t n)
{
        uint32_t need = (n + SR_RUN_PAGE - 1) >> SR_RUN_PAGE_SHIFT;
        uint32_t cap = run->cap_pages, c1 = cap, c2 = cap;

        if (need <= cap)
                return true;
        if (!sr_array_grow((void **)&run->pages, &cap, need,
                           sizeof(*run->pages)) ||
            !sr_array_grow((void **)&run->page_res, &c1, need,
                           sizeof(*run->page_res)) ||
            !sr_array_grow((void **)&run->page_used, &c2, need,
                           sizeof(*run->page_used)))
                return false; /* cap_pages unchanged: grown again later */
        memset(run->pages + run->cap_pages, 0,
               (cap - run->cap_pages) * sizeof(*run->pages));
        memset(run->page_res + run->cap_pages, 0,
               (cap - run->cap_pages) * sizeof(*run->page_res));
        memset(run->page_used + run->cap_pages, 0,
               (cap - run->cap_pages) * sizeof(*run->page_used));
        run->cap_pages = cap;
        return true;
}

bool sr_run_reserve_targets(sr_run_t *run, uint32_t need)
{
        uint32_t cap = run->cap_targets;

        if (!sr_array_grow((void **)&run->tri, &cap, need, sizeof(*run->tri)))
                return false;
        run->cap_targets = cap;
        return reserve_pages(run, cap) &&
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

/* Hold page @p pg (allocated, uninitialised slots). */
static sr_target_run_t *page_get(sr_run_t *run, uint32_t pg)
{
        if (!run->pages[pg])
                run->pages[pg] = malloc(SR_RUN_PAGE *
                                        sizeof(sr_target_run_t));
        return run->pages[pg];
}

static void make_resident(sr_run_t *run, uint32_t ti)
{
        run->tri[ti].resident = true;
        run->page_res[ti >> SR_RUN_PAGE_SHIFT]++;
        run->page_used[ti >> SR_RUN_PAGE_SHIFT] = run->tick;
        run->n_resident++;
}

sr_target_run_t *sr_run_tr_new(sr_run_t *run)
{
        uint32_t ti = run->n_targets;
        sr_target_run_t *pg, *t;

        if (!reserve_pages(run, ti + 1) ||
            !(pg = page_get(run, ti >> SR_RUN_PAGE_SHIFT)))
                return NULL;
        t = &pg[ti & (SR_RUN_PAGE - 1)];
        memset(t, 0, sizeof(*t));
        memset(&run->tri[ti], 0, sizeof(run->tri[ti]));
        make_resident(run, ti);
        return t;
}

static sr_target_run_t *fault(sr_run_t *run, sr_err_t err, const char *what,
                              uint32_t ti)
{
        if (!run->fault) {
                run->fault = true;
                if (err)
                        sr_errctx_set(&run->fault_ec, err,
                                      "run: target run %u: %s", ti, what);
        }
        memset(&run->scratch, 0, sizeof(run->scratch));
        return &run->scratch;
}

sr_target_run_t *sr_run__page_in(const sr_run_t *crun, uint32_t ti)
{
        sr_run_t *run = (sr_run_t *)crun; /* a cache: logically const */
        sr_target_run_t *pg, *t;
        sr_errctx_t ec = { 0 };
        sr_err_t err;

        if (!run->pager)
                return fault(run, SR_ERR_INTERNAL, "not resident, no pager",
                             ti);
        if (!(pg = page_get(run, ti >> SR_RUN_PAGE_SHIFT)))
                return fault(run, SR_ERR_NOMEM, "page", ti);
        t = &pg[ti & (SR_RUN_PAGE - 1)];
        err = run->pager(run, ti, t, run->pager_arg, &ec);
        if (err) {
                if (!run->fault) {
                        run->fault = true;
                        run->fault_ec = ec;
                }
                memset(&run->scratch, 0, sizeof(run->scratch));
                return &run->scratch;
        }
        if (!sr_uuid_eq(&t->m.id, &run->tri[ti].id) ||
            t->m.status != (sr_status_t)run->tri[ti].status ||
            t->m.deadline != run->tri[ti].deadline)
                return fault(run, SR_ERR_CORRUPT,
                             "read back other than it was dropped", ti);
        make_resident(run, ti);
        return t;
}

void sr_run_set_pager(sr_run_t *run, sr_run_pager_fn fn,
                      sr_run_chunk_pager_fn chunk_fn, void *arg)
{
        run->pager = fn;
        run->chunk_pager = chunk_fn;
        run->pager_arg = arg;
}

/* Drop chunk @p p's targets, to be read back (clean, with a pager). */
static uint32_t chunk_page_out(sr_run_t *run, uint32_t p)
{
        sr_stage_chunk_t *c = &run->chunks[p];

        if (!sr_chunk_held(c) || run->chunk_dirty[p] || !run->chunk_pager)
                return 0;
        free(c->targets);
        c->targets = NULL;
        run->n_chunks_held--;
        run->chunk_out[p] = true;
        run->n_chunks_out++;
        return c->n_targets;
}

const sr_spec_target_t *sr_run_chunk_targets(const sr_run_t *crun,
                                             uint32_t pos)
{
        sr_run_t *run = (sr_run_t *)crun; /* a cache: logically const */
        sr_stage_chunk_t *c = &run->chunks[pos];
        sr_stage_chunk_t got;
        sr_errctx_t ec = { 0 };
        sr_err_t err = SR_OK;

        if (c->targets || !run->chunk_out[pos])
                return c->targets;
        memset(&got, 0, sizeof(got));
        err = run->chunk_pager(run, pos, &got, run->pager_arg, &ec);
        if (!err && (got.stage_index != c->stage_index ||
                     got.chunk != c->chunk || got.n_targets != c->n_targets ||
                     memcmp(got.digest, c->digest, sizeof(c->digest)))) {
                sr_stage_chunk_fini(&got);
                err = sr_errctx_set(&ec, SR_ERR_CORRUPT,
                                    "run: chunk %u of stage %u read back "
                                    "other than it was dropped", c->chunk,
                                    c->stage_index);
        }
        if (err) {
                if (!run->fault) {
                        run->fault = true;
                        run->fault_ec = ec;
                }
                /* scratch the fill may read: the batch is not committed */
                got.targets = calloc(c->n_targets ? c->n_targets : 1,
                                     sizeof(*got.targets));
                if (!got.targets)
                        abort(); /* nothing safe to hand back */
        }
        c->targets = got.targets;
        run->chunk_out[pos] = false;
        run->n_chunks_out--;
        run->n_chunks_held++;
        return c->targets;
}

typedef struct page_age {
        uint64_t used;
        uint32_t pg;
} page_age_t;

static int cmp_age(const void *a, const void *b)
{
        const page_age_t *x = a, *y = b;

        if (x->used != y->used)
                return x->used < y->used ? -1 : 1;
        return x->pg < y->pg ? -1 : x->pg > y->pg;
}

uint32_t sr_run_evict(sr_run_t *run, uint32_t keep)
{
        uint32_t n_pages = (run->n_targets + SR_RUN_PAGE - 1) >>
                           SR_RUN_PAGE_SHIFT;
        uint32_t n = 0, dropped = 0;
        page_age_t *ages;

        for (uint32_t p = 0; run->n_chunks_held && p < run->n_chunks; p++)
                dropped += chunk_page_out(run, p);
        if (!run->pager || run->n_resident <= keep)
                return dropped;
        ages = malloc((size_t)(n_pages ? n_pages : 1) * sizeof(*ages));
        if (!ages)
                return dropped; /* kept: memory, not correctness */
        for (uint32_t pg = 0; pg < n_pages; pg++)
                if (run->page_res[pg])
                        ages[n++] = (page_age_t){ run->page_used[pg], pg };
        qsort(ages, n, sizeof(*ages), cmp_age);
        for (uint32_t k = 0; k < n && run->n_resident > keep; k++) {
                uint32_t pg = ages[k].pg, first = pg << SR_RUN_PAGE_SHIFT;
                uint32_t end = first + SR_RUN_PAGE;

                if (end > run->n_targets)
                        end = run->n_targets;
                for (uint32_t ti = first; ti < end; ti++) {
                        sr_run_tri_t *x = &run->tri[ti];

                        if (!x->resident || x->dirty)
                                continue;
                        x->resident = false;
                        run->page_res[pg]--;
                        run->n_resident--;
                        dropped++;
                }
                if (!run->page_res[pg]) {
                        free(run->pages[pg]);
                        run->pages[pg] = NULL;
                }
        }
        free(ages);
        return dropped;
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

void sr_run__sort_perm(uint32_t *perm, uint32_t n, const sr_run_tri_t *tri)
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
                sr_run__sort_perm(perm, n, run->tri);
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
                sr_target_run_t *pg = page_get(run, i >> SR_RUN_PAGE_SHIFT);

                if (!pg)
                        return false;
                pg[i & (SR_RUN_PAGE - 1)] = run->load_tr[i];
                make_resident(run, i);
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

/* ------------------------------------------------------------ chunks */

static bool index_chunk(sr_run_t *run, uint32_t pos);

int64_t sr_run_find_chunk(const sr_run_t *run, uint32_t si, uint32_t chunk)
{
        for (uint32_t i = run->n_chunks; i-- > 0;)
                if (run->chunks[i].stage_index == si &&
                    run->chunks[i].chunk == chunk)
                        return i;
        return -1;
}

sr_err_t sr_run_add_chunk(sr_run_t *run, sr_stage_chunk_t *c,
                          sr_errctx_t *ec)
{
        if (sr_run_find_chunk(run, c->stage_index, c->chunk) >= 0)
                return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                     "chunk %u of stage %u stored twice",
                                     c->chunk, c->stage_index);
        if (run->n_chunks == run->cap_chunks) {
                uint32_t cap = run->cap_chunks ? 2 * run->cap_chunks : 8;
                sr_stage_chunk_t *cs;
                bool *d;

                sr_uuid_t **dv;
                bool *o;

                cs = realloc(run->chunks, cap * sizeof(*cs));
                if (!cs)
                        return sr_errctx_set(ec, SR_ERR_NOMEM, "chunks");
                run->chunks = cs;
                d = realloc(run->chunk_dirty, cap * sizeof(*d));
                if (!d)
                        return sr_errctx_set(ec, SR_ERR_NOMEM, "chunks");
                run->chunk_dirty = d;
                dv = realloc(run->chunk_devs, cap * sizeof(*dv));
                if (!dv)
                        return sr_errctx_set(ec, SR_ERR_NOMEM, "chunks");
                run->chunk_devs = dv;
                o = realloc(run->chunk_out, cap * sizeof(*o));
                if (!o)
                        return sr_errctx_set(ec, SR_ERR_NOMEM, "chunks");
                run->chunk_out = o;
                run->cap_chunks = cap;
        }
        /* its devices, for the duplicate check (a released chunk has
         * none: it takes no part in it) */
        run->chunk_devs[run->n_chunks] = NULL;
        if (sr_chunk_held(c)) {
                sr_uuid_t *dv = malloc(c->n_targets * sizeof(*dv));

                if (!dv)
                        return sr_errctx_set(ec, SR_ERR_NOMEM, "chunks");
                for (uint32_t k = 0; k < c->n_targets; k++)
                        dv[k] = c->targets[k].device_id;
                run->chunk_devs[run->n_chunks] = dv;
        }
        run->chunk_out[run->n_chunks] = false;
        run->chunk_dirty[run->n_chunks] = false;
        run->chunks[run->n_chunks++] = *c;
        if (sr_chunk_held(c))
                run->n_chunks_held++;
        c->targets = NULL;
        c->n_targets = 0;
        /* A lean load (a pager, before sr_run_index()) keeps no chunk's
         * targets: they are read back when a fill needs them. */
        if (run->chunk_pager && !run->sidx)
                (void)chunk_page_out(run, run->n_chunks - 1);
        /* Positions never move (appended), so a built hash takes the new
         * devices; while loading it is not built yet. */
        if (run->dev_hash_ok && !index_chunk(run, run->n_chunks - 1))
                run->dev_hash_ok = false; /* rebuilt on next use */
        return SR_OK;
}

int sr_run_dirty_chunks_each(sr_run_t *run,
                             int (*fn)(const sr_stage_chunk_t *c, void *arg),
                             void *arg)
{
        int rc;

        for (uint32_t i = 0; run->n_chunks_dirty && i < run->n_chunks; i++)
                if (run->chunk_dirty[i] && (rc = fn(&run->chunks[i], arg)))
                        return rc;
        return 0;
}

void sr_run_mark_chunk(sr_run_t *run, uint32_t pos)
{
        if (!run->chunk_dirty[pos]) {
                run->chunk_dirty[pos] = true;
                run->n_chunks_dirty++;
        }
}

static uint32_t dev_slot(uint32_t si, const sr_uuid_t *dev, uint32_t cap)
{
        uint64_t a, b;

        /* every byte: device ids need not be random (v4) ones */
        memcpy(&a, dev->b, sizeof(a));
        memcpy(&b, dev->b + 8, sizeof(b));
        a = (a ^ (b * 0x9e3779b97f4a7c15ull) ^ si) * 0xff51afd7ed558ccdull;
        return (uint32_t)(a ^ (a >> 32)) & (cap - 1);
}

static const sr_uuid_t *dev_at(const sr_run_t *run, uint64_t e,
                                      uint32_t *si)
{
        uint32_t p = (uint32_t)((e - 1) >> 32);

        *si = run->chunks[p].stage_index;
        return &run->chunk_devs[p][(uint32_t)(e - 1)];
}

/* Enter one item; the hash has room. */
static void dev_put(sr_run_t *run, uint32_t pos, uint32_t item)
{
        const sr_stage_chunk_t *c = &run->chunks[pos];
        uint32_t cap = run->dev_hash_cap;
        uint32_t i = dev_slot(c->stage_index, &run->chunk_devs[pos][item],
                              cap);

        while (run->dev_hash[i])
                i = (i + 1) & (cap - 1);
        run->dev_hash[i] = ((uint64_t)pos << 32 | item) + 1;
        run->dev_hash_n++;
}

static bool dev_rebuild(sr_run_t *run, uint32_t need)
{
        uint32_t cap = 64;

        while (cap < 2 * need + 2)
                cap *= 2;
        free(run->dev_hash);
        run->dev_hash = calloc(cap, sizeof(*run->dev_hash));
        run->dev_hash_cap = run->dev_hash ? cap : 0;
        run->dev_hash_n = 0;
        run->dev_hash_ok = false;
        if (!run->dev_hash)
                return false;
        for (uint32_t p = 0; p < run->n_chunks; p++)
                for (uint32_t k = 0; run->chunk_devs[p] &&
                                     k < run->chunks[p].n_targets; k++)
                        dev_put(run, p, k);
        run->dev_hash_ok = true;
        return true;
}

static uint32_t chunk_items(const sr_run_t *run)
{
        uint32_t n = 0;

        for (uint32_t p = 0; p < run->n_chunks; p++)
                if (run->chunk_devs[p])
                        n += run->chunks[p].n_targets;
        return n;
}

/* True when no fill reads stage @p si's chunks again. */
static bool chunks_done(const sr_run_t *run, uint32_t si)
{
        const sr_stage_run_t *s = &run->stages[si];

        if (sr_status_is_terminal(s->m.status) ||
            sr_status_is_terminal(run->pr.m.status))
                return true;
        return s->sealed && run->sidx[si].n_ops &&
               (uint64_t)run->sidx[si].n_tr ==
                       (uint64_t)s->n_ops * s->seal_count;
}

static uint32_t release_one(sr_run_t *run, uint32_t p)
{
        sr_stage_chunk_t *c = &run->chunks[p];
        uint32_t n = 0;

        if (run->chunk_dirty[p] || (!sr_chunk_held(c) && !run->chunk_out[p]))
                return 0;
        if (sr_chunk_held(c)) {
                free(c->targets);
                c->targets = NULL;
                run->n_chunks_held--;
                n = c->n_targets;
        } else {
                run->chunk_out[p] = false; /* never read back now */
                run->n_chunks_out--;
        }
        free(run->chunk_devs[p]);
        run->chunk_devs[p] = NULL;
        /* its devices left the duplicate check: rebuilt on next use */
        free(run->dev_hash);
        run->dev_hash = NULL;
        run->dev_hash_cap = run->dev_hash_n = 0;
        run->dev_hash_ok = false;
        return n;
}

/* A stage still filling (sealed, its operations made, not all its target
 * runs): the fill reads its chunks in index order once per operation, so
 * in its last operation the chunks wholly before the fill's position are
 * read no more. O(seal_chunks), like a fill part's own chunk index. */
static uint32_t release_filled_part(sr_run_t *run, uint32_t si)
{
        const sr_stage_run_t *s = &run->stages[si];
        uint64_t made = run->sidx[si].n_tr, end = 0, last_op;
        uint32_t *pos, freed = 0;

        if (!s->append_targets || !s->sealed || !s->n_ops ||
            !run->sidx[si].n_ops || !s->seal_chunks)
                return 0;
        last_op = (uint64_t)(s->n_ops - 1) * s->seal_count;
        if (made <= last_op)
                return 0;
        pos = malloc(s->seal_chunks * sizeof(*pos));
        if (!pos)
                return 0; /* kept: memory, not correctness */
        for (uint32_t c = 0; c < s->seal_chunks; c++)
                pos[c] = UINT32_MAX;
        for (uint32_t p = 0; p < run->n_chunks; p++)
                if (run->chunks[p].stage_index == si &&
                    run->chunks[p].chunk < s->seal_chunks)
                        pos[run->chunks[p].chunk] = p;
        for (uint32_t c = 0; c < s->seal_chunks && pos[c] != UINT32_MAX;
             c++) {
                end += run->chunks[pos[c]].n_targets;
                if (last_op + end > made)
                        break;
                freed += release_one(run, pos[c]);
        }
        free(pos);
        return freed;
}

uint32_t sr_run_release_chunks(sr_run_t *run)
{
        uint32_t freed = 0;

        if ((!run->n_chunks_held && !run->n_chunks_out) || !run->exists ||
            !run->sidx)
                return 0;
        for (uint32_t p = 0; p < run->n_chunks; p++) {
                const sr_stage_chunk_t *c = &run->chunks[p];

                if ((sr_chunk_held(c) || run->chunk_out[p]) &&
                    c->stage_index < run->pr.n_stages &&
                    chunks_done(run, c->stage_index))
                        freed += release_one(run, p);
        }
        for (uint32_t si = 0;
             si < run->pr.n_stages && (run->n_chunks_held || run->n_chunks_out);
             si++)
                if (!chunks_done(run, si))
                        freed += release_filled_part(run, si);
        if (freed) {
                free(run->dev_hash);
                run->dev_hash = NULL;
                run->dev_hash_cap = run->dev_hash_n = 0;
                run->dev_hash_ok = false;
        }
        return freed;
}

static bool index_chunk(sr_run_t *run, uint32_t pos)
{
        const sr_stage_chunk_t *c = &run->chunks[pos];

        if (!run->dev_hash_ok)
                return dev_rebuild(run, chunk_items(run));
        if (2 * (run->dev_hash_n + c->n_targets) + 2 > run->dev_hash_cap)
                return dev_rebuild(run, run->dev_hash_n + c->n_targets);
        for (uint32_t k = 0; k < c->n_targets; k++)
                dev_put(run, pos, k);
        return true;
}

int sr_run_find_device(sr_run_t *run, uint32_t si, const sr_uuid_t *dev,
                       uint32_t *pos, uint32_t *item)
{
        uint32_t i, cap;

        if (!run->dev_hash_ok && !dev_rebuild(run, chunk_items(run)))
                return -1;
        cap = run->dev_hash_cap;
        for (i = dev_slot(si, dev, cap); run->dev_hash[i];
             i = (i + 1) & (cap - 1)) {
                uint32_t esi;
                const sr_uuid_t *d = dev_at(run, run->dev_hash[i], &esi);

                if (esi == si && sr_uuid_eq(d, dev)) {
                        *pos = (uint32_t)((run->dev_hash[i] - 1) >> 32);
                        *item = (uint32_t)(run->dev_hash[i] - 1);
                        return 1;
                }
        }
        return 0;
}
