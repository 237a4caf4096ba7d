/* common/domain/sr_run_chunks.c - an open stage's chunks in the run:
 * added, paged out and read back, released once no fill reads them, and
 * the hash of their devices (docs/targets.md sections 3 and 6). */
#include "sr_run_int.h"

#include <stdlib.h>
#include <string.h>

/* Drop chunk @p p's targets, to be read back (clean, with a pager). */
uint32_t sr_run__chunk_page_out(sr_run_t *run, uint32_t p)
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
                sr_run__set_fault(run, &ec);
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

/* *@p arr reallocated to @p cap elements of @p size bytes; unchanged
 * (and still valid) when out of memory. */
static bool grow_to(void **arr, uint32_t cap, size_t size)
{
        void *p = realloc(*arr, (size_t)cap * size);

        if (!p)
                return false;
        *arr = p;
        return true;
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

                /* the four arrays of a chunk, one capacity */
                if (!grow_to((void **)&run->chunks, cap,
                             sizeof(*run->chunks)) ||
                    !grow_to((void **)&run->chunk_dirty, cap,
                             sizeof(*run->chunk_dirty)) ||
                    !grow_to((void **)&run->chunk_devs, cap,
                             sizeof(*run->chunk_devs)) ||
                    !grow_to((void **)&run->chunk_out, cap,
                             sizeof(*run->chunk_out)))
                        return sr_errctx_set(ec, SR_ERR_NOMEM, "chunks");
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
                (void)sr_run__chunk_page_out(run, run->n_chunks - 1);
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
        /* (each release dropped the device hash: release_one()) */
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
