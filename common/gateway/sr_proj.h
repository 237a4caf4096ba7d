/* common/gateway/sr_proj.h - the gateway's read model: an LMDB projection of
 * sr.changelog (all partitions), with the indexes the REST list endpoints
 * need (design/api.md, design/architecture.md "The gateway").
 *
 * Writes come from one thread, the gateway's changelog consumer: it
 * applies records in batches (sr_proj_begin, sr_proj_apply..., then
 * sr_proj_commit) and the projection records, per partition, the next
 * changelog offset to apply, in the same transaction as the entities.
 *
 * Reads come from any number of threads at once: every sr_proj_get_* and
 * sr_proj_list_* call runs in its own LMDB read transaction (one consistent
 * snapshot per call, never blocked by the writer) and returns copies.
 * Tenancy is enforced here: an entity of another enterprise is NOT_FOUND,
 * exactly like a missing one, and never appears in a list.
 *
 * Orderings (see sr_proj_order_t): "desc" is always the exact reverse of
 * the ascending order, ties included. Pipeline runs take several sort keys
 * (sr_proj_query_t.then), each in its own direction; runs equal on every
 * key are ordered by created_at, then id, in the FIRST key's direction (so
 * flipping every key's direction gives the exact reverse). Other lists
 * break ties by position (stage, operation and target order).
 * Status order is ALPHABETICAL by wire name (cancelled, complete,
 * dispatched, failure, invalid, none, pending, processing, queued, running,
 * success, timeout, waiting), as the reference API (a Django service with
 * a text status column) sorts it. A null time (0) sorts after every set
 * time in ascending order (PostgreSQL's NULLS LAST), so first in
 * descending order.
 *
 * The projection is a cache of the changelog: a store of another format is
 * emptied at open (offsets too), and the caller replays the changelog.
 * Open after any fork(), once per directory per process.
 */
#ifndef SR_PROJ_H
#define SR_PROJ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sr_codec.h"
#include "sr_err.h"
#include "sr_json_writer.h"
#include "sr_mapuse.h"
#include "sr_model.h"
#include "sr_slice.h"

typedef struct sr_proj sr_proj_t;         /* opaque; open after fork() */
typedef struct sr_proj_txn sr_proj_txn_t; /* opaque; the writer's batch */

#define SR_PROJ_DEFAULT_MAP_SIZE ((size_t)8 << 30) /* 8 GiB, sparse */
#define SR_PROJ_MAX_READERS 1024 /* concurrent read calls */
#define SR_PROJ_KEY_MAX 400      /* bytes of a changelog key */

/* ------------------------------------------------------------ lifecycle */

/**
 * @brief Open (creating @p dir and the environment if needed).
 *
 * The environment is opened with MDB_NOTLS (a read call may run on any
 * thread) and MDB_NOMETASYNC: every commit fdatasyncs the data pages but
 * not the meta page, so a machine crash may lose the last committed batch
 * (its offsets with it: the records are applied again) but never tears
 * the file. A store written by another projection format is emptied.
 * @param[in]  dir      borrowed for the call.
 * @param[in]  map_size bytes; 0: SR_PROJ_DEFAULT_MAP_SIZE. Address space
 *                      only (the file grows as data is written).
 * @param[out] projp    set on SR_OK only. The caller owns the handle and
 *                      releases it with sr_proj_close().
 * @param[out] ec       optional; filled on failure.
 * @returns SR_OK, SR_ERR_INVALID (no dir), SR_ERR_NOMEM, SR_ERR_IO,
 *          SR_ERR_CORRUPT (not an LMDB file).
 */
sr_err_t sr_proj_open(const char *dir, size_t map_size, sr_proj_t **projp,
                      sr_errctx_t *ec);

/**
 * @brief Decode the records it applies with @p ids (copied; the process's
 * schema ids, sr_conf_t.schema_ids) instead of the built-in ones.
 */
void sr_proj_set_ids(sr_proj_t *proj, const sr_schema_ids_t *ids);

/**
 * @brief Close the environment and free the handle. No call may be running
 * and the write txn must have ended. NULL is a no-op.
 */
void sr_proj_close(sr_proj_t *proj);

/* ------------------------------------------------------------ writes */

/**
 * @brief Empty the projection: every entity, index entry, counter and
 * offset (sr_proj_offsets() answers -1 afterwards), in one write txn;
 * readers see the old state until it commits. For a changelog that was
 * recreated (its offsets restarted): the caller then replays it from the
 * start. No batch may be open; call it from the writer's thread.
 * @returns SR_OK, SR_ERR_INVALID (a batch is open), SR_ERR_MAP_FULL,
 *          SR_ERR_IO.
 */
sr_err_t sr_proj_clear(sr_proj_t *proj, sr_errctx_t *ec);

/**
 * @brief Begin a write batch. One at a time; begin, apply and commit (or
 * abort) on the same thread (LMDB's writer lock belongs to it). Readers
 * keep seeing the last committed state until the commit.
 * @param[out] txnp set on SR_OK only; end it with sr_proj_commit() or
 *                  sr_proj_abort(), before sr_proj_close().
 * @returns SR_OK, SR_ERR_INVALID (a batch is already open), SR_ERR_NOMEM,
 *          SR_ERR_MAP_FULL, SR_ERR_IO.
 */
sr_err_t sr_proj_begin(sr_proj_t *proj, sr_proj_txn_t **txnp,
                       sr_errctx_t *ec);

/**
 * @brief Apply one sr.changelog record at @p offset of @p partition.
 *
 * An entity record replaces the entity (stored by id) and moves its index
 * entries (a status change removes the old status entries). A tombstone
 * (@p value.ptr NULL) removes the entity last stored under @p key and its
 * index entries; a tombstone of an unknown key changes nothing. A retired
 * run's marker (RetiredRun, key "<run>/r") removes every entity of the
 * run still projected and keeps a note of the run (its enterprise and
 * when it retired: sr_proj_get_retired()); the tombstone of "<run>/r"
 * removes the note. Dedupe entries and batch markers are ignored. Every applied record, whatever
 * its kind, advances the partition's next offset to @p offset + 1. A
 * record below the partition's next offset was applied already and is
 * skipped (SR_OK), so a redelivery cannot move an entity back in time.
 *
 * A value that does not decode changes nothing (not even the offset) and
 * leaves the batch usable: the caller decides whether to skip it
 * (sr_proj_skip()).
 * @param[in] key   borrowed; the changelog key (1..SR_PROJ_KEY_MAX bytes).
 * @param[in] value borrowed; ptr NULL for a tombstone.
 * @returns SR_OK; SR_ERR_CORRUPT (a value that does not decode, whatever
 *          the codec's class, an entity key of a bad length, or a
 *          retired run's marker under another key than its own: nothing
 *          changed; ec has the codec's message); SR_ERR_INVALID
 *          (bad partition or offset, or the batch already failed);
 *          SR_ERR_NOMEM; SR_ERR_MAP_FULL or SR_ERR_IO (the batch is now
 *          unusable: abort it).
 */
sr_err_t sr_proj_apply(sr_proj_txn_t *txn, int32_t partition, int64_t offset,
                       sr_slice_t key, sr_slice_t value, sr_errctx_t *ec);

/**
 * @brief Record that the record at @p offset of @p partition was seen and
 * deliberately not applied (after sr_proj_apply() refused it as
 * SR_ERR_CORRUPT): the partition's next offset becomes @p offset + 1, so
 * a poison record that ends a partition does not hold back catch-up. An
 * offset below the next one is a no-op.
 * @returns SR_OK, SR_ERR_INVALID (bad partition or offset, or the batch
 *          already failed), SR_ERR_MAP_FULL or SR_ERR_IO (abort the batch).
 */
sr_err_t sr_proj_skip(sr_proj_txn_t *txn, int32_t partition, int64_t offset,
                      sr_errctx_t *ec);

/**
 * @brief Commit and free @p txn, on success AND on failure (never abort
 * after a failed commit). A batch in which a write failed is refused and
 * discarded. On failure nothing of the batch is stored.
 * @returns SR_OK, SR_ERR_INVALID (a write failed earlier), SR_ERR_MAP_FULL,
 *          SR_ERR_IO.
 */
sr_err_t sr_proj_commit(sr_proj_txn_t *txn, sr_errctx_t *ec);

/** @brief Discard and free @p txn. NULL is a no-op. */
void sr_proj_abort(sr_proj_txn_t *txn);

/**
 * @brief The next changelog offset to apply, per partition: where the
 * consumer resumes, and (with the partition's end offset) the lag.
 * @param[out] next @p n_parts entries; next[p] is -1 for a partition of
 *                  which nothing was applied yet. Written on SR_OK only.
 * @returns SR_OK, SR_ERR_INVALID (n_parts < 0), SR_ERR_RETRY (every reader
 *          slot busy), SR_ERR_CORRUPT, SR_ERR_IO.
 */
sr_err_t sr_proj_offsets(sr_proj_t *proj, int64_t *next, int32_t n_parts,
                         sr_errctx_t *ec);

/* ------------------------------------------------------------ gets
 * Each get is one read snapshot. @p enterprise_id is the caller's tenant
 * (borrowed, NUL-terminated). NOT_FOUND covers: no such id, an id of
 * another entity type, another enterprise's entity, a path parent that
 * does not match. Common errors: SR_ERR_INVALID (NULL argument),
 * SR_ERR_RETRY (every reader slot busy: answer 503), SR_ERR_CORRUPT
 * (a stored value does not decode), SR_ERR_IO.
 */

/**
 * @brief One pipeline run.
 * @param[out] out set on SR_OK only; owns nothing on the heap.
 * @returns SR_OK, SR_ERR_NOT_FOUND, or a common error.
 */
sr_err_t sr_proj_get_pipeline_run(sr_proj_t *proj, const char *enterprise_id,
                                  const sr_uuid_t *id, sr_pipeline_run_t *out,
                                  sr_errctx_t *ec);

/**
 * @brief One stage run; tenant from its own enterprise_id.
 * @param[in]  pipeline_run_id the path's parent, NULL: not checked.
 * @param[out] out set on SR_OK only. The stage's frozen spec is not
 *                 projected (the REST StageRun has no such fields; the
 *                 operations and target runs are entities of their own):
 *                 n_ops and n_targets are 0 and the arrays NULL, so out
 *                 owns nothing on the heap.
 * @returns SR_OK, SR_ERR_NOT_FOUND, or a common error.
 */
sr_err_t sr_proj_get_stage_run(sr_proj_t *proj, const char *enterprise_id,
                               const sr_uuid_t *pipeline_run_id,
                               const sr_uuid_t *id, sr_stage_run_t *out,
                               sr_errctx_t *ec);

/**
 * @brief One stage-run operation of stage run @p stage_run_id; tenant via
 * that stage run (which carries its pipeline run's enterprise_id).
 * @param[out] out set on SR_OK only; the caller owns out->args_json (NULL
 *                 or malloc'd) and frees it with free().
 * @returns SR_OK, SR_ERR_NOT_FOUND, SR_ERR_NOMEM, or a common error.
 */
sr_err_t sr_proj_get_operation(sr_proj_t *proj, const char *enterprise_id,
                               const sr_uuid_t *stage_run_id,
                               const sr_uuid_t *id, sr_stage_run_op_t *out,
                               sr_errctx_t *ec);

/**
 * @brief One target run of stage run @p stage_run_id; tenant via that
 * stage run.
 * @param[out] out set on SR_OK only; owns nothing on the heap.
 * @returns SR_OK, SR_ERR_NOT_FOUND, or a common error.
 */
sr_err_t sr_proj_get_target_run(sr_proj_t *proj, const char *enterprise_id,
                                const sr_uuid_t *stage_run_id,
                                const sr_uuid_t *id, sr_target_run_t *out,
                                sr_errctx_t *ec);

/**
 * @brief The stored version of an entity, for read-your-writes (wait until
 * it reaches a reply's version). No tenancy check: internal use only.
 * @param[out] version set on SR_OK only.
 * @returns SR_OK, SR_ERR_NOT_FOUND (absent, or of another type), or a
 *          common error.
 */
sr_err_t sr_proj_version(sr_proj_t *proj, sr_entity_type_t type,
                         const sr_uuid_t *id, uint32_t *version,
                         sr_errctx_t *ec);

/* The note a retired pipeline run left. */
typedef struct sr_proj_retired {
        sr_uuid_t pipeline_id;
        int64_t retired_at; /* ms since the epoch */
        int64_t forget_at;  /* when its marker goes (0: never) */
} sr_proj_retired_t;

/**
 * @brief The note a retired pipeline run left: from its RetiredRun marker
 * (changelog key "<run>/r", applied by sr_proj_apply(): whatever of the
 * run was still projected is removed with it) until that marker's
 * tombstone. A note of another enterprise is NOT_FOUND, like none.
 * @param[out] out set on SR_OK only.
 * @returns SR_OK, SR_ERR_NOT_FOUND, or a common error.
 */
sr_err_t sr_proj_get_retired(sr_proj_t *proj, const char *enterprise_id,
                             const sr_uuid_t *pipeline_run_id,
                             sr_proj_retired_t *out, sr_errctx_t *ec);

/* ------------------------------------------------------------ lists */

typedef enum sr_proj_order {
        SR_PROJ_ORDER_DEFAULT = 0, /* the endpoint's default; desc ignored:
                                    * pipeline runs -created_at; stage runs
                                    * stage order; operations index order;
                                    * target runs (operation, target) */
        SR_PROJ_ORDER_CREATED_AT,   /* pipeline runs */
        SR_PROJ_ORDER_RUN_NUMBER,   /* pipeline runs */
        SR_PROJ_ORDER_STATUS,       /* pipeline runs, target runs */
        SR_PROJ_ORDER_PIPELINE_NAME, /* pipeline runs: "pipeline__name" */
        SR_PROJ_ORDER_STARTED_AT,   /* pipeline runs */
        SR_PROJ_ORDER_ENDED_AT,     /* pipeline runs */
        SR_PROJ_ORDER__COUNT
} sr_proj_order_t;

/**
 * @brief Parse an `ordering` query value: "run_number", "-run_number",
 * "status", "pipeline__name", "started_at", "ended_at", "created_at",
 * each optionally prefixed by '-'. Which ones an endpoint accepts is the
 * list call's business (it answers SR_ERR_INVALID for the others).
 * @param[out] order, desc set on success only.
 * @returns false for any other text.
 */
bool sr_proj_order_parse(const char *s, size_t len, sr_proj_order_t *order,
                         bool *desc);

#define SR_PROJ_MAX_THEN 4 /* sort keys after the first */

/* A sort key after the first: applied to the entries that tie on every
 * key before it. */
typedef struct sr_proj_sort_key {
        sr_proj_order_t order; /* never DEFAULT */
        bool desc;
} sr_proj_sort_key_t;

/* One list request. Zero-initialise, then set what the request has.
 * Pointers are borrowed for the call. */
typedef struct sr_proj_query {
        bool has_status; /* filter `status` (every list) */
        sr_status_t status;
        const char *pipeline_name;     /* pipeline runs: exact, NULL any */
        const sr_uuid_t *pipeline_id;  /* pipeline runs: NULL all */
        const sr_uuid_t *operation_id; /* target runs: NULL all */
        sr_proj_order_t order; /* the first sort key */
        bool desc;       /* `ordering=-field` */
        uint32_t n_then; /* 0..SR_PROJ_MAX_THEN further keys (pipeline
                          * runs only; needs a first key) */
        sr_proj_sort_key_t then[SR_PROJ_MAX_THEN];
        uint64_t offset; /* results to skip (O(offset) key steps) */
        uint32_t limit;  /* results wanted; 0: count only */
        const char *cursor;   /* keyset paging: the page starts after the
                               * entry this cursor names (a previous
                               * page's next cursor, text); NULL: offset
                               * paging. Needs offset 0. */
        struct sr_proj_page *page; /* optional out: see sr_proj_page_t */
} sr_proj_query_t;

#define SR_PROJ_CURSOR_MAX 80 /* cursor text, NUL included */

/* How the page just listed continues (set on SR_OK when the query's
 * `page` is set). A cursor is opaque text: the sort part of the index key
 * of the page's last entry, the direction, and a hash of the list's
 * identity (index prefix: parent, filters). Because the sort part of an
 * entry never changes while it stays in the list (creation time and id,
 * stage index, operation and target index), a walk by cursors returns
 * every entry that is in the list for the whole walk exactly once, in
 * order, whatever is inserted or removed meanwhile; an entry added behind
 * the cursor is not seen, one added ahead is. */
typedef struct sr_proj_page {
        bool keyset; /* this list and ordering page by cursor */
        char next[SR_PROJ_CURSOR_MAX]; /* keyset: the cursor after the
                                        * page's last entry when an entry
                                        * follows it, else "" */
} sr_proj_page_t;

/* Cost (n = entries matching the filter, k = offset + limit):
 * - Target runs, every filter and ordering: one index range scan, at
 *   most k + 1 key steps, `limit` decodes; the count is a counter kept
 *   per index prefix on apply: O(1). Ordered by status without a status
 *   filter: one counter per status, whole status buckets before the
 *   offset skipped by their counts, then range scans from there (at most
 *   k + 13 steps).
 * - Pipeline runs, default or created_at ordering: same, unless both
 *   pipeline_id and pipeline_name are given (then n key steps, no value
 *   decodes, for the count). Other orderings, and any list of several
 *   sort keys: n key steps reading a small
 *   summary stored in the index value (status, run number, times, name;
 *   no entity decode), an in-memory sort of n summaries (O(n log n), ~64
 *   bytes each), then `limit` decodes.
 * - Stage runs and operations (a handful per parent): a scan of the
 *   parent's entries (status from the index value), `limit` decodes.
 * Every list of a parent (stage runs, operations, target runs) first reads
 * the parent for the tenancy check (one extra decode).
 *
 * Keyset paging (q->cursor): target runs in every case except ordered by
 * status without a status filter, stage runs, operations, pipeline runs
 * in the default (or created_at alone) ordering without both
 * pipeline_id and pipeline_name: one seek (O(log n)) then limit + 1 key
 * steps, wherever the page is; the count as above. The other lists refuse
 * a cursor (SR_ERR_INVALID, "cursor: ..."), as they do a cursor that does
 * not decode or was made by another list, filter or direction (checked
 * by a 32-bit hash: a collision at worst starts this list's walk at
 * another place in it).
 *
 * Common results: on SR_OK *items is a malloc'd array of *n entities (NULL
 * when *n is 0), owned by the caller; *count is the number of entities
 * matching the filter, whatever offset and limit. Errors: SR_ERR_INVALID
 * (an ordering or further sort key the endpoint does not offer, further
 * keys without a first one, a status out of range, NULL
 * argument), SR_ERR_NOT_FOUND (the parent is missing or another
 * enterprise's), SR_ERR_NOMEM, SR_ERR_RETRY, SR_ERR_CORRUPT, SR_ERR_IO.
 */

/**
 * @brief Pipeline runs of @p enterprise_id: filters status, pipeline_name,
 * pipeline_id; every ordering, and further sort keys (then). Free *items
 * with free().
 */
sr_err_t sr_proj_list_pipeline_runs(sr_proj_t *proj, const char *enterprise_id,
                                    const sr_proj_query_t *q,
                                    sr_pipeline_run_t **items, size_t *n,
                                    uint64_t *count, sr_errctx_t *ec);

/**
 * @brief Stage runs of a pipeline run, in stage order: filter status;
 * ordering DEFAULT only. Items as sr_proj_get_stage_run() returns them
 * (no frozen spec). Free *items with free().
 */
sr_err_t sr_proj_list_stage_runs(sr_proj_t *proj, const char *enterprise_id,
                                 const sr_uuid_t *pipeline_run_id,
                                 const sr_proj_query_t *q,
                                 sr_stage_run_t **items, size_t *n,
                                 uint64_t *count, sr_errctx_t *ec);

/**
 * @brief Operations of a stage run, in index order: no filter (has_status
 * is refused); ordering DEFAULT only. Free with sr_proj_ops_free().
 */
sr_err_t sr_proj_list_operations(sr_proj_t *proj, const char *enterprise_id,
                                 const sr_uuid_t *stage_run_id,
                                 const sr_proj_query_t *q,
                                 sr_stage_run_op_t **items, size_t *n,
                                 uint64_t *count, sr_errctx_t *ec);

/** @brief Free an operation list (each args_json, then the array). */
void sr_proj_ops_free(sr_stage_run_op_t *ops, size_t n);

/**
 * @brief Target runs of a stage run: filters status, operation_id;
 * ordering DEFAULT or STATUS, no further key. Free *items with free().
 */
sr_err_t sr_proj_list_target_runs(sr_proj_t *proj, const char *enterprise_id,
                                  const sr_uuid_t *stage_run_id,
                                  const sr_proj_query_t *q,
                                  sr_target_run_t **items, size_t *n,
                                  uint64_t *count, sr_errctx_t *ec);

/* One appended target of an open stage (GET .../targets/), as its
 * chunk gave it, before its target runs exist. */
typedef struct sr_proj_target {
        sr_uuid_t target_id; /* as given; if not given, derived as the
                              * stage's target runs will carry it
                              * (sr_uuid_open_target_id()) */
        sr_uuid_t device_id;
        char device_name[SR_NAME_MAX];
        char device_alias[SR_NAME_MAX];
        uint32_t chunk; /* the chunk that appended it */
        uint32_t item;  /* its position in that chunk, from 0 */
} sr_proj_target_t;

/**
 * @brief The appended targets of stage run @p stage_run_id of pipeline run
 * @p pipeline_run_id, by device id (bytes of the UUID, so its text's
 * order): no filter, ordering DEFAULT only; keyset paging by cursor as
 * target runs (one seek, limit + 1 key steps, limit value reads); the
 * count is a counter: O(1). A stage run of another run is NOT_FOUND as
 * one of another enterprise; an inline (not open) stage has none: an
 * empty list. Free *items with free().
 */
sr_err_t sr_proj_list_stage_targets(sr_proj_t *proj,
                                    const char *enterprise_id,
                                    const sr_uuid_t *pipeline_run_id,
                                    const sr_uuid_t *stage_run_id,
                                    const sr_proj_query_t *q,
                                    sr_proj_target_t **items, size_t *n,
                                    uint64_t *count, sr_errctx_t *ec);

/* ------------------------------------------------------------ definitions
 * Stored pipeline definitions (docs/definitions.md; sr_proj_defs.c): one
 * record per entity under its changelog key P<pipeline>/<letter>/<id>,
 * replaced on change, removed by its tombstone. Reads check the tenant
 * (a record of another enterprise is NOT_FOUND) but not deleted_at: the
 * gateway answers a soft-deleted pipeline's 404 itself. */

/**
 * @brief Apply one definition record (SR_CL_DEF) at @p offset of
 * @p partition, as sr_proj_apply() does after decoding it; @p r NULL is
 * the tombstone of @p key. A record whose key is not sr_def_key() of its
 * kind, pipeline and id is SR_ERR_CORRUPT. Target records (kind
 * SR_DEF_TARGET) are stored like the others. For tests and for
 * sr_proj_apply(); the offset rules are sr_proj_apply()'s.
 */
sr_err_t sr_proj_apply_def(sr_proj_txn_t *txn, int32_t partition,
                           int64_t offset, sr_slice_t key,
                           const sr_def_record_t *r, sr_errctx_t *ec);

/**
 * @brief The record of entity @p id of @p kind under pipeline
 * @p pipeline_id, if @p enterprise_id's. For a pipeline @p id is the
 * pipeline id. Release @p out with sr_def_record_fini().
 * @returns SR_OK, SR_ERR_NOT_FOUND, SR_ERR_CORRUPT, SR_ERR_NOMEM, ...
 */
sr_err_t sr_proj_def_get(sr_proj_t *proj, const char *enterprise_id,
                         sr_def_kind_t kind, const sr_uuid_t *pipeline_id,
                         const sr_uuid_t *id, sr_def_record_t *out,
                         sr_errctx_t *ec);

/**
 * @brief The pipeline of stage or operation list @p id (@p kind
 * SR_DEF_STAGE or SR_DEF_OPERATION_LIST), if @p enterprise_id's: the
 * paths without a pipeline id (/stages/{id}/..., /operationlists/{id}/...).
 * @returns SR_OK, SR_ERR_NOT_FOUND (unknown, another kind, another
 *          tenant's), SR_ERR_CORRUPT, ...
 */
sr_err_t sr_proj_def_pipeline_of(sr_proj_t *proj, const char *enterprise_id,
                                 sr_def_kind_t kind, const sr_uuid_t *id,
                                 sr_uuid_t *pipeline_id, sr_errctx_t *ec);

/**
 * @brief Every record of @p kind under pipeline @p pipeline_id that is
 * @p enterprise_id's, in key (id) order; the caller filters, sorts and
 * pages (each kind is bounded by the owner's limits: stages, lists,
 * attachments, operation lists, operations). Free with
 * sr_proj_def_free().
 */
sr_err_t sr_proj_def_list(sr_proj_t *proj, const char *enterprise_id,
                          sr_def_kind_t kind, const sr_uuid_t *pipeline_id,
                          sr_def_record_t **items, size_t *n,
                          sr_errctx_t *ec);

/**
 * @brief Every pipeline record of @p enterprise_id (deleted ones
 * included: the caller leaves them out), in pipeline id order. Free with
 * sr_proj_def_free().
 */
sr_err_t sr_proj_def_pipelines(sr_proj_t *proj, const char *enterprise_id,
                               sr_def_record_t **items, size_t *n,
                               sr_errctx_t *ec);

/**
 * @brief A page of the targets of target list @p list_id of pipeline
 * @p pipeline_id that are @p enterprise_id's, in target id order (byte
 * order of the UUID): after target @p after (a keyset cursor: the last id
 * of the page before; NULL: from the first), then @p offset skipped, at
 * most @p limit. *more: another target follows. One seek and offset +
 * limit + 1 key steps, limit record reads. Free with sr_proj_def_free().
 */
sr_err_t sr_proj_def_targets(sr_proj_t *proj, const char *enterprise_id,
                             const sr_uuid_t *pipeline_id,
                             const sr_uuid_t *list_id, uint64_t offset,
                             const sr_uuid_t *after, uint32_t limit,
                             sr_def_record_t **items, size_t *n, bool *more,
                             sr_errctx_t *ec);

/** @brief Free an array of records (each one's owned parts, then it). */
void sr_proj_def_free(sr_def_record_t *items, size_t n);

/**
 * @brief The last definition seq of pipeline @p pipeline_id as its record
 * in the projection says (read-your-writes of a definition command: its
 * reply's seq is visible once this is at least that).
 * @returns SR_OK, SR_ERR_NOT_FOUND (no record yet), ...
 */
sr_err_t sr_proj_def_last_seq(sr_proj_t *proj, const sr_uuid_t *pipeline_id,
                              uint64_t *seq, sr_errctx_t *ec);

/* ------------------------------------------------------------ events
 * sr.events into the projection: each run's status-change events by seq,
 * for its watchers (GET /v0/runs/{id}/events/), kept until the run
 * retires (its RetiredRun marker removes them with its entities). */

/* A run's events beyond this seq are not kept (its watchers are told). */
#define SR_PROJ_EVENTS_PER_RUN_MAX 100000

/**
 * @brief Apply one sr.events record at @p offset of @p partition, in the
 * batch @p txn: the event is stored under (run, seq), once (a repeated
 * event, after a worker's crash, has the same bytes); an event of a
 * retired run, or past SR_PROJ_EVENTS_PER_RUN_MAX, is not kept. The
 * partition's next events offset becomes @p offset + 1; a record below
 * it was applied already (SR_OK, nothing done, *kept false).
 * @param[in]  value borrowed: the record's value (Confluent wire Avro).
 * @param[out] ev    the decoded event (set when *kept).
 * @param[out] json  reset, then the event as JSON (set when *kept); the
 *                   caller frees json->p.
 * @param[out] kept  true when the event is new to the projection.
 * @returns SR_OK; SR_ERR_CORRUPT (the value does not decode: nothing
 *          changed, the batch is still usable: sr_proj_skip_event());
 *          SR_ERR_INVALID, SR_ERR_NOMEM, SR_ERR_MAP_FULL, SR_ERR_IO
 *          (abort the batch).
 */
sr_err_t sr_proj_apply_event(sr_proj_txn_t *txn, int32_t partition,
                             int64_t offset, sr_slice_t value,
                             sr_event_t *ev, sr_jw_t *json, bool *kept,
                             sr_errctx_t *ec);

/** @brief As sr_proj_skip(), for an sr.events record. */
sr_err_t sr_proj_skip_event(sr_proj_txn_t *txn, int32_t partition,
                            int64_t offset, sr_errctx_t *ec);

/** @brief As sr_proj_offsets(), for sr.events. */
sr_err_t sr_proj_event_offsets(sr_proj_t *proj, int64_t *next,
                               int32_t n_parts, sr_errctx_t *ec);

/* One stored event handed to a reader: false stops the read. */
typedef bool (*sr_proj_event_fn)(void *arg, uint64_t seq, sr_slice_t json);

/* Where a run's watcher stands. */
typedef struct sr_proj_run_events {
        bool run_found;   /* the run is projected, in the enterprise */
        bool run_final;   /* ... and in a terminal status */
        uint64_t last_seq; /* the run's last event as projected */
        uint64_t next_seq; /* the next seq to read after this call */
        /* Not 0: next_seq is not stored but a later seq is, the first of
         * them: events next_seq .. kept_from - 1 will never come (sr.events
         * is read in order; they were gone from the topic, e.g. by its
         * retention, when the projection read it). */
        uint64_t kept_from;
} sr_proj_run_events_t;

/**
 * @brief Hand the events of run @p run in @p enterprise_id with seq
 * after_seq + 1, after_seq + 2, ... to @p fn, in order and without gap
 * (it stops before a seq not stored, telling out->kept_from when a later
 * one is, or when @p fn returns false),
 * in one read snapshot; @p out tells where the run stands in the same
 * snapshot. Another enterprise's run and its events are not seen. Any
 * thread; does not block.
 * @returns SR_OK or a common error.
 */
sr_err_t sr_proj_read_events(sr_proj_t *proj, const char *enterprise_id,
                             const sr_uuid_t *run, uint64_t after_seq,
                             sr_proj_event_fn fn, void *arg,
                             sr_proj_run_events_t *out, sr_errctx_t *ec);

/* ------------------------------------------------------------ stats */

typedef struct sr_proj_stats {
        uint64_t applied;   /* records applied (all kinds), committed or not */
        uint64_t skipped;   /* records below the next offset */
        uint64_t decodes;   /* stored entities decoded by gets and lists */
        uint64_t key_steps; /* index cursor moves by lists */
} sr_proj_stats_t;

/** @brief Counters since open (relaxed atomics: any thread). */
void sr_proj_stats(sr_proj_t *proj, sr_proj_stats_t *out);

/* What the projection holds: records per kind and the map's use. */
typedef struct sr_proj_size {
        uint64_t entities;      /* projected entities */
        uint64_t keys;          /* changelog keys mapped to them */
        uint64_t index_entries; /* list index entries */
        uint64_t counters;      /* nonzero index counters */
        uint64_t retired;       /* retired runs' notes */
        uint64_t events;        /* runs' events kept for watchers */
        uint64_t chunks;        /* open stages' chunks (their targets are
                                 * index entries) */
        uint64_t definitions;   /* stored definitions' records and their
                                 * two indexes' entries */
        sr_mapuse_t use;        /* the LMDB map (sr_mapuse.h) */
} sr_proj_size_t;

/**
 * @brief Measure the projection (one read snapshot; any thread).
 * @param[out] out set on SR_OK only.
 * @returns SR_OK, SR_ERR_RETRY (every reader slot busy), SR_ERR_IO.
 */
sr_err_t sr_proj_size(sr_proj_t *proj, sr_proj_size_t *out,
                      sr_errctx_t *ec);

/**
 * @brief The members of device group @p group_id of enterprise
 * @p enterprise_id, in device id order: from @p after (exclusive; NULL:
 * the first) or else skipping @p offset, at most @p limit into a new
 * array *items (free()), *n of them; *more: another follows; *total: the
 * group's member count (its record's n_members).
 * @returns SR_OK; SR_ERR_NOT_FOUND when the directory has no such group
 *          in that enterprise; others with @p ec.
 */
sr_err_t sr_proj_group_members(sr_proj_t *proj, const char *enterprise_id,
                               const sr_uuid_t *group_id, uint64_t offset,
                               const sr_uuid_t *after, uint32_t limit,
                               sr_def_group_member_t **items, size_t *n,
                               bool *more, uint64_t *total, sr_errctx_t *ec);

#endif /* SR_PROJ_H */
