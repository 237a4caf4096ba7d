/* common/domain/sr_run_pages.c - the run's target runs in pages: held,
 * read back through the pager, dropped least recently used first
 * (docs/targets.md section 6). */
#include "sr_run_int.h"

#include <stdlib.h>
#include <string.h>

/* The page table for @p n target runs (entries zeroed: no page held). */
bool sr_run__reserve_pages(sr_run_t *run, uint32_t n)
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

/* Hold page @p pg (allocated, uninitialised slots). */
sr_target_run_t *sr_run__page_get(sr_run_t *run, uint32_t pg)
{
        if (!run->pages[pg])
                run->pages[pg] = malloc(SR_RUN_PAGE *
                                        sizeof(sr_target_run_t));
        return run->pages[pg];
}

void sr_run__make_resident(sr_run_t *run, uint32_t ti)
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

        if (!sr_run__reserve_pages(run, ti + 1) ||
            !(pg = sr_run__page_get(run, ti >> SR_RUN_PAGE_SHIFT)))
                return NULL;
        t = &pg[ti & (SR_RUN_PAGE - 1)];
        memset(t, 0, sizeof(*t));
        memset(&run->tri[ti], 0, sizeof(run->tri[ti]));
        sr_run__make_resident(run, ti);
        return t;
}

void sr_run__set_fault(sr_run_t *run, const sr_errctx_t *ec)
{
        if (!run->fault) {
                run->fault = true;
                run->fault_ec = *ec;
        }
}

/* Target run @p ti could not be read back: the fault, and scratch. */
static sr_target_run_t *fault(sr_run_t *run, const sr_errctx_t *ec)
{
        sr_run__set_fault(run, ec);
        memset(&run->scratch, 0, sizeof(run->scratch));
        return &run->scratch;
}

sr_target_run_t *sr_run__page_in(const sr_run_t *crun, uint32_t ti)
{
        sr_run_t *run = (sr_run_t *)crun; /* a cache: logically const */
        sr_target_run_t *pg, *t;
        sr_errctx_t ec = { 0 };
        sr_err_t err;

        if (!run->pager) {
                sr_errctx_set(&ec, SR_ERR_INTERNAL, "run: target run %u: "
                              "not resident, no pager", ti);
                return fault(run, &ec);
        }
        if (!(pg = sr_run__page_get(run, ti >> SR_RUN_PAGE_SHIFT))) {
                sr_errctx_set(&ec, SR_ERR_NOMEM, "run: target run %u: page",
                              ti);
                return fault(run, &ec);
        }
        t = &pg[ti & (SR_RUN_PAGE - 1)];
        err = run->pager(run, ti, t, run->pager_arg, &ec);
        if (err)
                return fault(run, &ec);
        if (!sr_uuid_eq(&t->m.id, &run->tri[ti].id) ||
            t->m.status != (sr_status_t)run->tri[ti].status ||
            t->m.deadline != run->tri[ti].deadline) {
                sr_errctx_set(&ec, SR_ERR_CORRUPT, "run: target run %u: "
                              "read back other than it was dropped", ti);
                return fault(run, &ec);
        }
        sr_run__make_resident(run, ti);
        return t;
}

void sr_run_set_pager(sr_run_t *run, sr_run_pager_fn fn,
                      sr_run_chunk_pager_fn chunk_fn, void *arg)
{
        run->pager = fn;
        run->chunk_pager = chunk_fn;
        run->pager_arg = arg;
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
                dropped += sr_run__chunk_page_out(run, p);
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
