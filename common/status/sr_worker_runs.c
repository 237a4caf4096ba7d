/* common/status/sr_worker_runs.c - the runs a batch works on: the run
 * cache (decoded runs kept between batches), loaded through sr_run_load()
 * with a pager on the batch's transaction, saving their changed entities,
 * and the batch transaction
 * (apply_batch: every polled input, the runs, the markers and the outbox in
 * one LMDB write transaction). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_run_load.h"
#include "sr_worker_int.h"

/* The record under @p key, read back from the batch's transaction (what
 * a run dropped, clean: not found included is an error) and decoded;
 * anything but a @p kind (and, for an entity, a target run) is corrupt. */
static sr_err_t read_back(const batch_run_t *br, const char *key, size_t n,
                          sr_cl_kind_t kind, sr_changelog_t *cl,
                          sr_errctx_t *ec)
{
        sr_worker_t *w = br->w;
        sr_slice_t v;
        sr_err_t err;

        err = sr_store_get(w->txn, br->partition, sr_slice(key, n), &v, ec);
        if (!err)
                err = sr_codec_decode_changelog(w->codec, v, cl, ec);
        if (err)
                return err;
        if (cl->kind != kind || (kind == SR_CL_ENTITY &&
                                 cl->u.entity.type != SR_ENT_TARGET_RUN)) {
                sr_changelog_fini(cl);
                return sr_errctx_set(ec, SR_ERR_CORRUPT, "%s: not a %s", key,
                                     kind == SR_CL_CHUNK ? "chunk" :
                                                           "target run");
        }
        return SR_OK;
}

/* sr_run_t's pager: a target run read back by its key. */
static sr_err_t page_in(const sr_run_t *run, uint32_t ti,
                        sr_target_run_t *out, void *arg, sr_errctx_t *ec)
{
        batch_run_t *br = arg;
        char key[SR_ENTITY_KEY_MAX];
        sr_changelog_t cl;
        sr_err_t err = read_back(br, key, sr_run_tr_key(run, ti, key),
                                 SR_CL_ENTITY, &cl, ec);

        if (err)
                return err;
        *out = cl.u.entity.u.tr;
        br->w->bs.page_ins++;
        return SR_OK;
}

/* sr_run_t's chunk pager: a chunk read back by its key. */
static sr_err_t chunk_in(const sr_run_t *run, uint32_t pos,
                         sr_stage_chunk_t *out, void *arg, sr_errctx_t *ec)
{
        batch_run_t *br = arg;
        char key[SR_ENTITY_KEY_MAX];
        sr_changelog_t cl;
        sr_err_t err = read_back(br, key, sr_chunk_key(&run->chunks[pos], key),
                                 SR_CL_CHUNK, &cl, ec);

        if (err)
                return err;
        *out = cl.u.chunk;
        br->w->bs.chunk_ins++;
        return SR_OK;
}

/* @p br: the cache entry to page through (its run is @p run), or NULL
 * for a whole load (cache.verify's copy). */
static sr_err_t run_load(sr_worker_t *w, int32_t part, const sr_uuid_t *id,
                         sr_run_t *run, batch_run_t *br, sr_errctx_t *ec)
{
        sr_run_init(run);
        if (br) {
                br->w = w;
                br->partition = part;
                sr_run_set_pager(run, page_in, chunk_in, br);
        }
        return sr_run_load(w->txn, part, w->codec, id, run, ec);
}

static uint32_t run_slot(int32_t part, const sr_uuid_t *id, size_t cap)
{
        uint32_t h;

        memcpy(&h, id->b + 4, sizeof(h));
        return (h ^ (uint32_t)part * 0x9e3779b9u) & (uint32_t)(cap - 1);
}

/* What a run holds, for the cache's bound (cache.entities): its entities
 * and the appended targets its open stages' fills still read (each as
 * large as a target run; sr_run_release_chunks() frees the others). */
static uint32_t run_entities(const sr_run_t *run)
{
        uint32_t n = 1 + run->pr.n_stages + run->n_ops + run->n_resident;

        for (uint32_t i = 0; i < run->n_chunks; i++)
                n += sr_chunk_held(&run->chunks[i]);
        return n;
}

/* Drop the whole run cache. */
void sr_worker__runs_reset(sr_worker_t *w)
{
        for (size_t i = 0; i < w->runs_cap; i++)
                if (w->runs[i]) {
                        sr_run_fini(&w->runs[i]->run);
                        free(w->runs[i]);
                        w->runs[i] = NULL;
                }
        w->runs_used = 0;
        w->n_used = 0;
        w->cached_entities = 0;
        w->big = NULL;
}

static void runs_insert(sr_worker_t *w, batch_run_t *br)
{
        uint32_t i;

        for (i = run_slot(br->partition, &br->id, w->runs_cap); w->runs[i];
             i = (i + 1) & (uint32_t)(w->runs_cap - 1))
                ;
        w->runs[i] = br;
        w->runs_used++;
}

/* After a committed batch: keep the cache within its bound (and the table
 * at most half full) by dropping the runs this batch did not use, or
 * everything if that is not enough. The bound is cache.entities **plus
 * the largest run** of the cache (w->big: the largest a batch used, kept
 * until a larger one is used or the cache is reset), which is not counted
 * against it. A run larger than cache.entities alone was otherwise
 * dropped after every batch and reloaded, O(run), by the next one that
 * touched it: a 100,000-target open stage (200,003 entities with its
 * chunks, over the default 200,000) paid that per batch of its fill,
 * results and cascade, and a batch that used no run (results forwarded to
 * the command log) dropped it too. So the cache holds at most
 * cache.entities + the largest run, and that run is bounded by the
 * limits (run.max.stages, stage.max.targets). */
static void runs_trim(sr_worker_t *w)
{
        uint64_t bound = (uint64_t)w->conf->cache_entities, kept = 0;
        batch_run_t **keep, *big = w->big, *big_used = NULL;
        size_t nk = 0;

        for (size_t i = 0; i < w->n_used; i++)
                if (!big_used || w->used[i]->entities > big_used->entities)
                        big_used = w->used[i];
        /* a run this batch used wins a tie: it is the one in use */
        if (big_used && (!big || big_used->entities >= big->entities))
                big = big_used;
        w->big = big;
        /* cached_entities is kept current by sr_worker__batch_run() and
         * save_batch() */
        if (w->cached_entities - (big ? big->entities : 0) <= bound &&
            w->runs_used <= w->runs_max)
                return;
        for (size_t i = 0; i < w->n_used; i++)
                if (w->used[i] != big)
                        kept += w->used[i]->entities;
        keep = malloc(w->runs_used * sizeof(*keep) + 1);
        if (!keep || kept > bound) {
                /* the batch's own runs are over: its largest alone */
                free(keep);
                big = big_used;
                if (!big) {
                        sr_worker__runs_reset(w);
                        return;
                }
                for (size_t i = 0; i < w->runs_cap; i++)
                        if (w->runs[i] == big)
                                w->runs[i] = NULL;
                sr_worker__runs_reset(w);
                runs_insert(w, big);
                w->cached_entities = big->entities;
                w->big = big;
                return;
        }
        for (size_t i = 0; i < w->runs_cap; i++) {
                batch_run_t *br = w->runs[i];

                if (!br)
                        continue;
                w->runs[i] = NULL;
                if (br->used_in == w->batch_no || br == big) {
                        keep[nk++] = br;
                } else {
                        sr_run_fini(&br->run);
                        free(br);
                }
        }
        w->runs_used = 0;
        for (size_t i = 0; i < nk; i++)
                runs_insert(w, keep[i]);
        w->cached_entities = kept + (big ? big->entities : 0);
        free(keep);
        if (w->runs_used > w->runs_max)
                sr_worker__runs_reset(w);
}

/* Chunk positions by (stage, chunk): their keys' order. */
static int chunk_cmp(const void *a, const void *b, void *arg)
{
        const sr_run_t *run = arg;
        const sr_stage_chunk_t *x = &run->chunks[*(const uint32_t *)a];
        const sr_stage_chunk_t *y = &run->chunks[*(const uint32_t *)b];

        if (x->stage_index != y->stage_index)
                return x->stage_index < y->stage_index ? -1 : 1;
        return x->chunk < y->chunk ? -1 : x->chunk > y->chunk;
}

/* @p cl encoded, appended to @p out. */
static sr_err_t encode_append(sr_worker_t *w, const sr_changelog_t *cl,
                              sr_buf_t *out, sr_errctx_t *ec)
{
        sr_buf_t val = { 0 };
        sr_err_t err = sr_codec_encode_changelog(w->codec, cl, &val, ec);
        void *mem;

        if (err)
                return err;
        mem = realloc(out->ptr, out->len + val.len);
        if (!mem) {
                sr_buf_free(&val);
                return sr_errctx_set(ec, SR_ERR_NOMEM, "run encode");
        }
        out->ptr = mem;
        memcpy((uint8_t *)out->ptr + out->len, val.ptr, val.len);
        out->len += val.len;
        sr_buf_free(&val);
        return SR_OK;
}

/* The run's entities and chunks exactly as they would be written to the
 * changelog; a target run @p run does not hold is @p whole's (a run
 * loaded whole), so that comparing reads nothing back. */
static sr_err_t run_encode(sr_worker_t *w, const sr_run_t *run,
                           const sr_run_t *whole, sr_buf_t *out,
                           sr_errctx_t *ec)
{
        sr_changelog_t cl;
        sr_err_t err = SR_OK;
        uint32_t total = run->exists ? 1 + run->pr.n_stages + run->n_ops +
                                               run->n_targets : 0;

        for (uint32_t k = 0; k < total && !err; k++) {
                uint32_t i = k;

                memset(&cl, 0, sizeof(cl));
                cl.kind = SR_CL_ENTITY;
                if (i == 0) {
                        cl.u.entity.type = SR_ENT_PIPELINE_RUN;
                        cl.u.entity.u.pr = run->pr;
                } else if ((i -= 1) < run->pr.n_stages) {
                        cl.u.entity.type = SR_ENT_STAGE_RUN;
                        cl.u.entity.u.sr = run->stages[i];
                } else if ((i -= run->pr.n_stages) < run->n_ops) {
                        cl.u.entity.type = SR_ENT_STAGE_RUN_OPERATION;
                        cl.u.entity.u.op = run->ops[i];
                } else {
                        uint32_t ti = i - run->n_ops;

                        cl.u.entity.type = SR_ENT_TARGET_RUN;
                        cl.u.entity.u.tr =
                                run->tri[ti].resident || !whole ||
                                                ti >= whole->n_targets ?
                                        *sr_run_tr(run, ti) :
                                        *sr_run_tr(whole, ti);
                }
                err = encode_append(w, &cl, out, ec);
        }
        /* Chunks in key order: a cached run holds them as they arrived,
         * a loaded one as the snapshot lists them. */
        if (run->exists && run->n_chunks && !err) {
                uint32_t *order = malloc(run->n_chunks * sizeof(*order));

                if (!order)
                        return sr_errctx_set(ec, SR_ERR_NOMEM, "run encode");
                for (uint32_t i = 0; i < run->n_chunks; i++)
                        order[i] = i;
                qsort_r(order, run->n_chunks, sizeof(*order), chunk_cmp,
                        (void *)run);
                for (uint32_t i = 0; i < run->n_chunks && !err; i++) {
                        memset(&cl, 0, sizeof(cl));
                        cl.kind = SR_CL_CHUNK;
                        cl.u.chunk = run->chunks[order[i]]; /* borrowed */
                        /* paged out: the whole run's copy of it */
                        if (whole && run->chunk_out[order[i]]) {
                                int64_t at = sr_run_find_chunk(
                                        whole, cl.u.chunk.stage_index,
                                        cl.u.chunk.chunk);

                                if (at >= 0)
                                        cl.u.chunk = whole->chunks[at];
                        }
                        /* a released chunk: its digest, not its targets */
                        cl.u.chunk.n_targets = sr_chunk_held(&cl.u.chunk);
                        err = encode_append(w, &cl, out, ec);
                }
                free(order);
        }
        return err;
}

/* What @p a keeps of each target run (resident or not) equals what
 * @p b does. */
static bool tri_same(const sr_run_t *a, const sr_run_t *b)
{
        if (a->n_targets != b->n_targets)
                return false;
        for (uint32_t i = 0; i < a->n_targets; i++) {
                const sr_run_tri_t *x = &a->tri[i], *y = &b->tri[i];

                if (!sr_uuid_eq(&x->id, &y->id) ||
                    x->deadline != y->deadline || x->status != y->status ||
                    x->target_index != y->target_index ||
                    x->stage_index != y->stage_index ||
                    x->op_index != y->op_index)
                        return false;
        }
        return true;
}

/* cache.verify: a cached run must equal its LMDB copy, entity by entity,
 * derived per-stage counters included; its target runs not held are
 * compared by what it keeps of them (nothing is read back). */
static bool run_verify(sr_worker_t *w, const batch_run_t *br)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t a = { 0 }, b = { 0 };
        sr_run_t disk;
        bool same;

        if (run_load(w, br->partition, &br->id, &disk, NULL, &ec) != SR_OK) {
                char op[96], sid[SR_UUID_STR_LEN + 1];

                sr_uuid_fmt(&br->id, sid);
                snprintf(op, sizeof(op), "cache verify: load run %s of "
                         "partition %" PRId32, sid, br->partition);
                sr_worker__set_fatal(w, &ec, op);
                return false;
        }
        same = disk.exists == br->run.exists &&
               run_encode(w, &br->run, &disk, &a, &ec) == SR_OK &&
               run_encode(w, &disk, NULL, &b, &ec) == SR_OK && a.len == b.len &&
               tri_same(&br->run, &disk) &&
               (a.len == 0 || !memcmp(a.ptr, b.ptr, a.len)) &&
               (!disk.exists ||
                !memcmp(disk.sidx, br->run.sidx,
                        disk.pr.n_stages * sizeof(*disk.sidx)));
        sr_buf_free(&a);
        sr_buf_free(&b);
        sr_run_fini(&disk);
        if (!same) {
                char id[SR_UUID_STR_LEN + 1];

                sr_uuid_fmt(&br->id, id);
                sr_errctx_set(&ec, SR_ERR_CORRUPT,
                              "run %s differs from its snapshot", id);
                sr_worker__set_fatal(w, &ec, "cache verify");
        }
        return same;
}

/* The run, from the cache or loaded on first use; NULL on failure. */
sr_run_t *sr_worker__batch_run(sr_worker_t *w, int32_t part,
                               const sr_uuid_t *id)
{
        sr_errctx_t ec = { 0 };
        batch_run_t *br;
        uint32_t i;

        for (i = run_slot(part, id, w->runs_cap); (br = w->runs[i]);
             i = (i + 1) & (uint32_t)(w->runs_cap - 1))
                if (br->partition == part && sr_uuid_eq(&br->id, id)) {
                        br->last_in = w->cur_in;
                        br->run.tick = w->batch_no;
                        if (br->used_in != w->batch_no) {
                                if (w->conf->cache_verify &&
                                    !run_verify(w, br))
                                        return NULL;
                                br->used_in = w->batch_no;
                                w->used[w->n_used++] = br;
                        }
                        return &br->run;
                }
        br = calloc(1, sizeof(*br));
        if (!br) {
                sr_errctx_set(&ec, SR_ERR_NOMEM, "run cache");
                sr_worker__set_fatal(w, &ec, "load run");
                return NULL;
        }
        if (run_load(w, part, id, &br->run, br, &ec) != SR_OK) {
                char op[80], sid[SR_UUID_STR_LEN + 1];

                /* name the run and where it lives: the snapshot is what
                 * an operator inspects (sr-cli dump) */
                sr_uuid_fmt(id, sid);
                snprintf(op, sizeof(op), "load run %s of partition %" PRId32,
                         sid, part);
                free(br);
                sr_worker__set_fatal(w, &ec, op);
                return NULL;
        }
        sr_series_add(w->m.run_loads, 1);
        br->partition = part;
        br->id = *id;
        br->used_in = w->batch_no;
        br->last_in = w->cur_in;
        br->run.tick = w->batch_no;
        br->loaded_deadline = br->run.exists ? br->run.pr.next_deadline : 0;
        br->entities = run_entities(&br->run);
        if (br->entities > (uint64_t)w->conf->cache_entities) {
                char sid[SR_UUID_STR_LEN + 1];

                /* It stays cached while batches use it (runs_trim()), so
                 * this is once per run and per period of disuse: more
                 * often, and the cache is too small for the work. */
                sr_uuid_fmt(id, sid);
                SR_WARN("WORKER", "run larger than cache.entities loaded "
                        "run=%s partition=%" PRId32 " entities=%" PRIu32
                        " cache_entities=%d", sid, part, br->entities,
                        w->conf->cache_entities);
        }
        w->cached_entities += br->entities;
        w->runs[i] = br;
        w->runs_used++;
        w->used[w->n_used++] = br;
        return &br->run;
}

typedef struct save_ctx {
        sr_worker_t *w;
        int32_t part;
} save_ctx_t;

static int save_one(const sr_entity_t *e, void *arg)
{
        save_ctx_t *sc = arg;
        char key[SR_ENTITY_KEY_MAX];
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { 0 };
        size_t kn = sr_entity_key(e, key);

        if (sr_codec_encode_entity(sc->w->codec, e, &val, &ec)) {
                sr_worker__set_fatal(sc->w, &ec, "encode entity");
                return 1;
        }
        sr_worker__changelog_put(sc->w, sc->part, sr_slice(key, kn),
                                 sr_buf_slice(&val));
        sr_buf_free(&val);
        return 0;
}

static int save_chunk(const sr_stage_chunk_t *c, void *arg)
{
        save_ctx_t *sc = arg;
        char key[SR_ENTITY_KEY_MAX];
        sr_errctx_t ec = { 0 };
        sr_changelog_t cl;
        sr_buf_t val = { 0 };
        size_t kn = sr_chunk_key(c, key);

        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_CHUNK;
        cl.u.chunk = *c; /* borrowed */
        if (sr_codec_encode_changelog(sc->w->codec, &cl, &val, &ec)) {
                sr_worker__set_fatal(sc->w, &ec, "encode chunk");
                return 1;
        }
        sr_worker__changelog_put(sc->w, sc->part, sr_slice(key, kn),
                                 sr_buf_slice(&val));
        sr_buf_free(&val);
        return 0;
}

/* Write every dirty entity of a run: snapshot + changelog. The run's dirty
 * list names them (no scan of its entities); an open stage's new chunks
 * come first (its stage run counts them), the pipeline run last, its
 * last_seq covering everything before it. */
static void run_save(sr_worker_t *w, int32_t part, sr_run_t *run)
{
        save_ctx_t sc = { w, part };

        if (!run->exists)
                return;
        if (sr_run_dirty_chunks_each(run, save_chunk, &sc) ||
            sr_run_dirty_each(run, save_one, &sc))
                return;
        sr_run_clear_dirty(run);
}

static void save_batch(sr_worker_t *w)
{
        sr_errctx_t ec = { 0 };

        for (size_t i = 0; i < w->n_used && !w->fatal && !w->redo; i++) {
                batch_run_t *br = w->used[i];

                /* A record over the budget here is the last input's on the
                 * run (sr_worker__check_created() makes that unreachable). */
                w->cur_in = br->last_in;
                run_save(w, br->partition, &br->run);
                w->cur_in = -1;
                /* written: what no fill reads again leaves memory */
                if (!w->fatal)
                        w->released_bytes +=
                                (size_t)sr_run_release_chunks(&br->run) *
                                sizeof(sr_spec_target_t);
                /* and the target runs beyond cache.run.targets: clean
                 * now, read back by key when an input needs them */
                if (!w->fatal)
                        w->released_bytes +=
                                (size_t)sr_run_evict(&br->run,
                                        (uint32_t)w->conf->cache_run_targets) *
                                sizeof(sr_target_run_t);
                {
                        uint32_t n = run_entities(&br->run);

                        w->cached_entities += n;
                        w->cached_entities -= br->entities;
                        br->entities = n;
                }
                /* Only a new deadline needs an entry: the one the run had
                 * when loaded is in the heap already (pushed then, or by
                 * arm_timers). A finished run's is its retirement. */
                if (br->run.exists && br->run.pr.next_deadline &&
                    br->run.pr.next_deadline != br->loaded_deadline)
                        sr_worker__timer_arm(w, br->partition,
                                             br->run.pr.next_deadline,
                                             &br->id);
                br->loaded_deadline = br->run.pr.next_deadline;
        }
        for (int32_t p = 0; p < MAX_PARTS && !w->fatal && !w->redo; p++) {
                part_t *pt = &w->parts[p];
                sr_store_pmeta_t pm = { -1, -1, -1, 0 };

                if (!pt->touched)
                        continue;
                if (sr_store_pmeta_get(w->txn, p, &pm, &ec) != SR_OK &&
                    ec.code != SR_ERR_NOT_FOUND) {
                        sr_worker__set_fatal(w, &ec, "pmeta get");
                        return;
                }
                if (pt->next_cmd >= 0)
                        pm.commands_offset = pt->next_cmd;
                if (pt->next_res >= 0)
                        pm.results_offset = pt->next_res;
                pm.batch_seq++;
                pt->pm = pm;
                sr_worker__emit_marker(w, p, &pm);
                if (!w->fatal &&
                    sr_store_pmeta_put(w->txn, p, &pm, &ec) != SR_OK) {
                        if (ec.code == SR_ERR_MAP_FULL)
                                w->fatal = SR_ERR_MAP_FULL;
                        else
                                sr_worker__set_fatal(w, &ec, "pmeta put");
                }
        }
}

/* Apply the polled records in one transaction. SR_ERR_MAP_FULL: nothing was
 * written; grow the map and call again. SR_ERR_REJECTED: nothing was
 * written either; an input was refused for the size of its outputs (in
 * w->refused): call again, it is then answered with its refusal. */
sr_err_t sr_worker__apply_batch(sr_worker_t *w, int n, sr_errctx_t *ec)
{
        sr_err_t err;

        w->batch_no++;
        snprintf(w->batch_id, sizeof(w->batch_id), "%s/%" PRIu64, w->instance,
                 w->batch_no);
        for (int p = 0; p < MAX_PARTS; p++) {
                w->parts[p].touched = false;
                w->parts[p].next_cmd = w->parts[p].next_res = -1;
        }
        memset(&w->bs, 0, sizeof(w->bs));
        w->n_used = 0;
        sr_worker__outbox_begin(w);
        err = sr_store_txn_begin(w->store, true, &w->txn, ec);
        if (err)
                return err;
        w->redo = false;
        for (int i = 0; i < n && !w->fatal && !w->redo; i++) {
                const sr_inrec_t *in = &w->recs[i];
                part_t *pt;

                if (in->partition < 0 || in->partition >= MAX_PARTS ||
                    !w->parts[in->partition].owned)
                        continue; /* revoked meanwhile: the owner has it */
                pt = &w->parts[in->partition];
                pt->touched = true;
                w->cur_in = i;
                if (in->topic == SR_TOPIC_COMMANDS) {
                        pt->next_cmd = in->offset + 1;
                        sr_worker__on_command(w, in);
                } else {
                        pt->next_res = in->offset + 1;
                        sr_worker__on_result(w, in);
                }
                w->cur_in = -1;
        }
        if (!w->fatal && !w->redo)
                save_batch(w);
        if (!w->fatal && !w->redo)
                sr_worker__outbox_flush(w);
        if (w->fatal || w->redo) {
                /* The cached runs hold this batch's changes: drop them. */
                sr_worker__runs_reset(w);
                sr_store_txn_abort(w->txn);
                w->txn = NULL;
                if (w->redo && !w->fatal)
                        return sr_errctx_set(ec, SR_ERR_REJECTED,
                                             "input refused for its output "
                                             "size: batch redone");
                if (w->fatal == SR_ERR_MAP_FULL) {
                        w->fatal = SR_OK;
                        return sr_errctx_set(ec, SR_ERR_MAP_FULL,
                                             "batch does not fit the map");
                }
                return sr_errctx_set(ec, SR_ERR_FATAL, "%s", w->fatal_msg);
        }
        err = sr_store_txn_commit(w->txn, ec); /* frees the txn either way */
        w->txn = NULL;
        if (err) {
                sr_worker__runs_reset(w);
                return err;
        }
        sr_worker__outbox_committed(w);
        sr_worker__buffers_trim(w);
        runs_trim(w);
        sr_series_set(w->m.run_cache, (double)w->cached_entities);
        if (w->released_bytes >= SR_WORKER_TRIM_AFTER) {
                sr_worker__give_back(w->released_bytes);
                w->released_bytes = 0;
        }
        sr_worker__stats_flush(w);
        return SR_OK;
}
