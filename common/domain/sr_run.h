/* common/domain/sr_run.h - the run container: every entity of one pipeline
 * run (the pipeline run, its stage runs, their operations and target
 * runs), with derived per-stage counters and a target-run hash, plus the
 * keys entities are stored under (LMDB and sr.changelog).
 *
 * The caller loads a run from its store (sr_run_add_entity, then
 * sr_run_index), the state machine (sr_fsm.h) changes it and marks what it
 * changed dirty, the caller saves the dirty entities. Pure: no I/O; it
 * allocates as documented. One thread at a time per run.
 */
#ifndef SR_RUN_H
#define SR_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sr_err.h"
#include "sr_model.h"
#include "sr_slice.h"

#define SR_DAY_MS (24LL * 3600 * 1000)
#define SR_PIPELINE_RUN_DEFAULT_TIMEOUT_MS (21 * SR_DAY_MS)
#define SR_STAGE_RUN_DEFAULT_TIMEOUT_MS (7 * SR_DAY_MS)
#define SR_TARGET_RUN_TIMEOUT_MS (7 * SR_DAY_MS)

/* Derived per-stage bookkeeping: rebuilt by sr_run_index() on load, then
 * kept current by the state machine on every change (sr_run_target_changed),
 * so one result costs O(1) here, not a scan of the stage. */
typedef struct sr_run_stage_idx {
        uint32_t first_op, n_ops;       /* into run->ops */
        uint32_t first_tr, n_tr;        /* into run->targets */
        /* The stage's target runs per status (sum: n_tr). */
        uint32_t n_tr_status[SR_ST__COUNT];
        /* The earliest deadline of the stage's non-terminal target runs,
         * 0 = none, and how many of them have exactly that deadline. */
        int64_t tr_min_deadline;
        uint32_t n_tr_at_min;
} sr_run_stage_idx_t;

/* Dirty-list entries: the entity kind (SR_ENT_*) in the high 32 bits, its
 * index in the low 32, so sorting them gives the save order (stages,
 * operations, target runs, each by index). */
#define SR_RUN_DIRTY(kind, i) (((uint64_t)(kind) << 32) | (uint32_t)(i))

/* What the run keeps of every target run, resident or not: what its
 * bookkeeping (counts, deadlines, hash, dirty list) and a read back by
 * key need. */
typedef struct sr_run_tri {
        sr_uuid_t id;
        int64_t deadline;
        uint32_t target_index;
        uint16_t stage_index, op_index;
        uint8_t status;
        bool dirty;
        bool resident;
} sr_run_tri_t;

#define SR_RUN_PAGE_SHIFT 6
#define SR_RUN_PAGE (1u << SR_RUN_PAGE_SHIFT)

struct sr_run;
/* Reads target run @p ti (stage, op and target index in run->tri[ti])
 * back from where the caller saved it. SR_OK and *out, or an error (the
 * run records a fault). */
typedef sr_err_t (*sr_run_pager_fn)(const struct sr_run *run, uint32_t ti,
                                    sr_target_run_t *out, void *arg,
                                    sr_errctx_t *ec);
/* Reads chunk @p pos (run->chunks[pos]: its stage and index) back: SR_OK
 * and *out decoded (its targets owned by the caller), or an error. */
typedef sr_err_t (*sr_run_chunk_pager_fn)(const struct sr_run *run,
                                          uint32_t pos, sr_stage_chunk_t *out,
                                          void *arg, sr_errctx_t *ec);

typedef struct sr_run {
        bool exists; /* false until the pipeline run is created/loaded */
        /* Only the marker of a retired run is left (exists is false). */
        bool retired;
        sr_retired_t ret; /* valid when retired */
        sr_pipeline_run_t pr;
        bool pr_dirty;

        sr_stage_run_t *stages; /* pr.n_stages, in stage order; owned */
        bool *stage_dirty;

        sr_stage_run_op_t *ops; /* sorted by (stage, index); owned */
        bool *op_dirty;
        uint32_t n_ops, cap_ops;

        /* Target runs, sorted by (stage, op, target), in pages of
         * SR_RUN_PAGE: target run ti is pages[ti >> SR_RUN_PAGE_SHIFT]
         * [ti & (SR_RUN_PAGE - 1)], reached only through sr_run_tr().
         * What the bookkeeping needs of each (id, status, deadline, key)
         * is in tri[], always; the target run itself is resident or not
         * (tri[ti].resident). Without a pager every target run is
         * resident. With one (the worker: sr_run_set_pager()), a run
         * loads lean (no target run resident), sr_run_tr() reads a
         * missing one back through the pager, and sr_run_evict() drops
         * clean ones: memory per target run not resident is
         * sizeof(sr_run_tri_t) + the hash's, not sizeof(sr_target_run_t)
         * (docs/targets.md section 6). Pages never move: a pointer from
         * sr_run_tr() stays valid until the next sr_run_evict(). */
        sr_run_tri_t *tri;               /* n_targets; owned */
        uint32_t n_targets, cap_targets;
        sr_target_run_t **pages;         /* cap_pages; NULL = none held */
        uint32_t *page_res;              /* resident target runs per page */
        uint64_t *page_used;             /* the tick a page was last used */
        uint32_t cap_pages;
        uint32_t n_resident;             /* resident target runs */
        uint64_t tick;                   /* set by the caller (LRU) */
        sr_run_pager_fn pager;
        sr_run_chunk_pager_fn chunk_pager;
        void *pager_arg;
        /* A pager read failed (or found another target run): the caller
         * must not commit what the state machine did (sr_run_tr() gave
         * it scratch). */
        bool fault;
        sr_errctx_t fault_ec;
        sr_target_run_t scratch;
        /* While loading (sr_run_add_entity, then sr_run_index): the
         * target runs added, when no pager (a lean load keeps none). */
        sr_target_run_t *load_tr;
        uint32_t cap_load;
        int64_t load_max_ended;

        /* The dirty stage runs, operations and target runs (each once,
         * SR_RUN_DIRTY entries, in marking order): what a save writes and
         * sr_run_clear_dirty() clears, without a scan of the flags. Its
         * capacity follows the entity arrays', so marking never allocates. */
        uint64_t *dirty;
        uint32_t n_dirty, cap_dirty;

        /* The applied chunks of open stages (docs/targets.md), in the
         * order they were added (loaded or applied): a stage has at most
         * stage.max.targets / stage.chunk.targets of them. A chunk is
         * written once, when applied (chunk_dirty), never changed. */
        sr_stage_chunk_t *chunks; /* owned */
        bool *chunk_dirty;
        uint32_t n_chunks, cap_chunks;
        uint32_t n_chunks_dirty; /* a save scans the chunks only then */
        /* Chunks that still hold their targets: a stage's fill reads
         * them, then sr_run_release_chunks() frees them (a released
         * chunk has targets NULL, its n_targets kept). */
        uint32_t n_chunks_held;
        /* Per chunk (cap_chunks): its devices while it is not released
         * (the append's duplicate check: sr_run_find_device()), and
         * whether its targets were dropped to be read back (paged out:
         * sr_run_chunk_targets()) rather than released for good. With a
         * pager a load keeps no chunk's targets and sr_run_evict() drops
         * the clean ones: a sealed stage of a million targets holds 16
         * bytes of each until its fill passes it, not 544. */
        sr_uuid_t **chunk_devs;
        bool *chunk_out;
        uint32_t n_chunks_out;
        /* Devices of open stages' chunks: open addressing over (stage,
         * device id), entries (chunk position << 32 | item) + 1, 0 =
         * empty; built on first use after a load (dev_hash_ok). */
        uint64_t *dev_hash;
        uint32_t dev_hash_cap, dev_hash_n;
        bool dev_hash_ok;

        /* derived */
        sr_run_stage_idx_t *sidx; /* pr.n_stages */
        uint32_t *tr_hash;        /* open addressing: target index + 1 */
        uint32_t tr_hash_cap;
        /* Roll-ups of the whole run, kept like sidx: stage runs and target
         * runs per status, and the latest ended_at of any entity. */
        uint32_t n_stage_status[SR_ST__COUNT];
        uint32_t n_tr_status[SR_ST__COUNT];
        int64_t max_ended_at;
} sr_run_t;

/** @brief An empty run (exists = false). */
void sr_run_init(sr_run_t *run);
/** @brief Free everything the run owns; the run is empty afterwards. */
void sr_run_fini(sr_run_t *run);

/**
 * @brief Add one stored entity while loading a run. Takes ownership of the
 * entity's heap parts (the caller must not sr_entity_fini() it after SR_OK).
 * Entities may come in any order; call sr_run_index() once after the last.
 * @returns SR_OK, SR_ERR_NOMEM, SR_ERR_CORRUPT (index out of range, a stage
 *          before its pipeline run is fine, but not a duplicate).
 */
sr_err_t sr_run_add_entity(sr_run_t *run, sr_entity_t *e, sr_errctx_t *ec);

/**
 * @brief Sort and index a loaded run; validates that every stage run is
 * present. @returns SR_OK, SR_ERR_NOMEM, SR_ERR_CORRUPT.
 */
sr_err_t sr_run_index(sr_run_t *run, sr_errctx_t *ec);

/**
 * @brief Add one stored chunk while loading a run (or applying one: the
 * state machine marks it dirty itself), at the end of run->chunks; its
 * devices enter the device hash if it is built. Takes ownership of the
 * chunk's targets on SR_OK. @returns SR_OK, SR_ERR_NOMEM, SR_ERR_CORRUPT
 * (the same (stage, chunk) twice).
 */
sr_err_t sr_run_add_chunk(sr_run_t *run, sr_stage_chunk_t *c,
                          sr_errctx_t *ec);
/**
 * @brief Free the targets of every chunk that no fill will read again: its
 * stage made all its target runs (sealed, stage.n_ops x seal_count of them)
 * or it, or its pipeline run, ended; or the fill, in its last operation
 * (it reads the chunks in index order once per operation), is past every
 * target of the chunk and of the chunks before it. A released chunk
 * keeps its stage, index, digest and n_targets (a repeated append
 * compares the digest, a seal the digests); its targets are NULL. Dirty
 * chunks are kept whole (a save writes them): call it after the save.
 * Drops the device hash when anything was freed (it is rebuilt on next
 * use, from the chunks still held). O(1) when no chunk holds targets, else O(chunks + stages + the
 * seal_chunks of each stage being filled).
 * @returns the number of targets freed.
 */
uint32_t sr_run_release_chunks(sr_run_t *run);
/**
 * @brief The targets of chunk @p pos, read back through the chunk pager
 * when paged out. NULL when released (no fill reads it again). On a
 * pager failure the run's fault is set and the targets are zeroed
 * scratch (see sr_run_t.fault).
 */
const sr_spec_target_t *sr_run_chunk_targets(const sr_run_t *run,
                                             uint32_t pos);
/** @brief Targets chunk @p c holds in memory (0 once released or while
 *  paged out). */
static inline uint32_t sr_chunk_held(const sr_stage_chunk_t *c)
{
        return c->targets ? c->n_targets : 0;
}
/** @brief Mark chunk @p pos to be written by the next save. */
void sr_run_mark_chunk(sr_run_t *run, uint32_t pos);
/** @brief Position of stage @p si's chunk @p chunk in run->chunks, or -1:
 *  O(chunks of the run). */
int64_t sr_run_find_chunk(const sr_run_t *run, uint32_t si, uint32_t chunk);
/**
 * @brief Visit each dirty chunk (in the order added); @p fn gets it
 * borrowed. Stops at and returns the first non-zero from @p fn. The
 * dirty flags are cleared by sr_run_clear_dirty().
 */
int sr_run_dirty_chunks_each(sr_run_t *run,
                             int (*fn)(const sr_stage_chunk_t *c, void *arg),
                             void *arg);
/**
 * @brief The (chunk position, item) of the device @p dev among stage
 * @p si's appended targets. Builds the device hash on first use.
 * @returns 1 found, 0 not found, -1 out of memory.
 */
int sr_run_find_device(sr_run_t *run, uint32_t si, const sr_uuid_t *dev,
                       uint32_t *pos, uint32_t *item);

/** @brief Clear every dirty flag (after the caller saved the entities):
 *  O(dirty entities). */
void sr_run_clear_dirty(sr_run_t *run);

/* Marking an entity dirty (the state machine): O(1), never allocates (the
 * entity's slot was reserved with it). Marking twice is marking once. */
void sr_run_mark_stage(sr_run_t *run, uint32_t si);
void sr_run_mark_op(sr_run_t *run, uint32_t oi);
void sr_run_mark_target(sr_run_t *run, uint32_t ti);

/**
 * @brief Visit each dirty entity, stage runs, then operations, then target
 * runs (each in index order), the pipeline run last (its last_seq covers
 * the rest): what a save writes. @p fn gets a copy that borrows the run's
 * heap parts. Sorts the dirty list (O(d log d) for d dirty entities; no
 * scan of the run). Stops at and returns the first non-zero from @p fn.
 */
int sr_run_dirty_each(sr_run_t *run,
                      int (*fn)(const sr_entity_t *e, void *arg), void *arg);

/**
 * @brief The bookkeeping after target run @p ti changed its status from
 * @p from and/or its deadline from @p old_deadline (the state machine calls
 * it on every such change): per-status counts of its stage and of the run,
 * the stage's earliest target deadline, the run's latest ended_at. O(1),
 * except that when the last open target run at the stage's earliest
 * deadline closes the stage's target runs are scanned once for the next
 * one (target runs of a stage share their deadline: once per stage).
 */
void sr_run_target_changed(sr_run_t *run, uint32_t ti, sr_status_t from,
                           int64_t old_deadline);
/** @brief The same for stage run @p si, whose status was @p from. */
void sr_run_stage_changed(sr_run_t *run, uint32_t si, sr_status_t from);
/** @brief Count new target run @p ti (status none) in its stage and run. */
void sr_run_target_added(sr_run_t *run, uint32_t ti);
/** @brief Count new stage run @p si (status none) in the run. */
void sr_run_stage_added(sr_run_t *run, uint32_t si);

/** @brief Target runs of stage @p x that are terminal. */
uint32_t sr_run_stage_terminal(const sr_run_stage_idx_t *x);
/** @brief True when the pipeline run, every stage run and every target run
 *  is terminal (O(1)); then *ended_at is the latest ended_at of them. */
bool sr_run_all_final(const sr_run_t *run, int64_t *ended_at);
/** @brief Stage runs and target runs of the run that are not terminal
 *  (O(1)). */
uint32_t sr_run_n_open(const sr_run_t *run);
/** @brief The earliest deadline of any non-terminal entity of the run, 0 =
 *  none: O(stages). */
int64_t sr_run_min_deadline(const sr_run_t *run);

/** @brief Target run by id, or NULL (read back when not resident). */
sr_target_run_t *sr_run_find_target(const sr_run_t *run, const sr_uuid_t *id);
/** @brief Index of the target run @p id, or -1: O(1), nothing read. */
int64_t sr_run_find_target_idx(const sr_run_t *run, const sr_uuid_t *id);

/* ------------------------------------------------------------ pages */

/** @brief Read target run @p ti back (sr_run_tr()'s slow path). */
sr_target_run_t *sr_run__page_in(const sr_run_t *run, uint32_t ti);

/**
 * @brief Target run @p ti (< n_targets). Resident: O(1); else read back
 * through the pager, O(one read). The run is logically const: paging is
 * a cache of what the caller saved. On a pager failure the run's fault
 * is set and the result is scratch memory (see sr_run_t.fault).
 */
static inline sr_target_run_t *sr_run_tr(const sr_run_t *run, uint32_t ti)
{
        sr_run_t *r = (sr_run_t *)run;

        if (__builtin_expect(!run->tri[ti].resident, 0))
                return sr_run__page_in(run, ti);
        r->page_used[ti >> SR_RUN_PAGE_SHIFT] = run->tick;
        return &run->pages[ti >> SR_RUN_PAGE_SHIFT][ti & (SR_RUN_PAGE - 1)];
}

/**
 * @brief Page target runs in and out through @p fn (NULL: every target
 * run resident, the default). Set it on an empty run, before loading:
 * the load is then lean (no target run resident until used).
 */
void sr_run_set_pager(sr_run_t *run, sr_run_pager_fn fn,
                      sr_run_chunk_pager_fn chunk_fn, void *arg);

/**
 * @brief Drop clean resident target runs, least recently used pages
 * first (run->tick), until at most @p keep are resident, and the targets
 * of every clean chunk. Only with a pager; dirty ones stay. Invalidates
 * pointers from sr_run_tr() and sr_run_chunk_targets(). O(chunks) +
 * O(pages held log pages held) when over @p keep.
 * @returns the number of target runs and chunk targets dropped.
 */
uint32_t sr_run_evict(sr_run_t *run, uint32_t keep);

/**
 * @brief The next target run slot, index n_targets, zeroed and resident
 * (room reserved by sr_run_reserve_targets()); the caller fills it, then
 * counts it (n_targets++, sr_run_target_added()). NULL when out of
 * memory (a page).
 */
sr_target_run_t *sr_run_tr_new(sr_run_t *run);

/** @brief tri[ti] from the resident target run (after the caller
 *  changed it in place beyond status and deadline, e.g. a permutation). */
void sr_run_tri_sync(sr_run_t *run, uint32_t ti);
/** @brief Stage run by id, or NULL. */
sr_stage_run_t *sr_run_find_stage(const sr_run_t *run, const sr_uuid_t *id);

/**
 * @brief The key of an entity in the store and on sr.changelog:
 * "<run>/p", "<run>/s/SSSS", "<run>/o/SSSS/OOOO", "<run>/t/SSSS/OOOO/TTTTTT",
 * for dedupe entries "<run>/d/<input id>", and "<run>/r" for the marker
 * of a retired run (sr_retired_key()). Keys of one run sort
 * together, and within a run by (kind, stage, op, target).
 * @returns the key length (< SR_ENTITY_KEY_MAX).
 */
#define SR_ENTITY_KEY_MAX 96
size_t sr_entity_key(const sr_entity_t *e, char out[SR_ENTITY_KEY_MAX]);
size_t sr_dedupe_key(const sr_uuid_t *run, const sr_uuid_t *input_id,
                     char out[SR_ENTITY_KEY_MAX]);
size_t sr_retired_key(const sr_uuid_t *run, char out[SR_ENTITY_KEY_MAX]);
/** @brief The key of target run @p ti from what the run keeps of it
 *  (nothing read): what a pager reads it back by. */
size_t sr_run_tr_key(const sr_run_t *run, uint32_t ti,
                     char out[SR_ENTITY_KEY_MAX]);
/** @brief "<run>/k/SSSS/CCCCCC": the key of an open stage's chunk. */
size_t sr_chunk_key(const sr_stage_chunk_t *c, char out[SR_ENTITY_KEY_MAX]);
/** @brief "<run>/" : the prefix of every key of a run. */
size_t sr_run_key_prefix(const sr_uuid_t *run, char out[SR_ENTITY_KEY_MAX]);

/* Capacity, for the state machine growing a run. Each returns false when
 * out of memory (the run is unchanged but for capacity). */
/** @brief Room for @p n stage runs (stages and stage_dirty). */
bool sr_run_reserve_stages(sr_run_t *run, uint32_t n);
/** @brief Room for @p need operations. */
bool sr_run_reserve_ops(sr_run_t *run, uint32_t need);
/** @brief Room for @p need target runs. */
bool sr_run_reserve_targets(sr_run_t *run, uint32_t need);
/** @brief Rebuild the target-run hash after target runs were added. */
bool sr_run_rehash(sr_run_t *run);
/** @brief Hash target runs @p from..n_targets-1, just added: O(added)
 *  while the hash has room, else a rehash. */
bool sr_run_hash_added(sr_run_t *run, uint32_t from);

#endif /* SR_RUN_H */
