/* common/io/sr_store.h - LMDB snapshot of the partitions a worker owns:
 * entity records, per-partition metadata and an outbox, per partition.
 *
 * A snapshot, not the source of truth: it may run without fsync and is
 * discarded after a machine crash (sr_store_is_untrusted()). Open after any
 * fork(), once per directory per process; one thread at a time per handle.
 * Every read and write happens inside an sr_txn_t; one write txn at a time.
 */
#ifndef SR_STORE_H
#define SR_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sr_err.h"
#include "sr_mapuse.h"
#include "sr_slice.h"

typedef struct sr_store sr_store_t; /* opaque; open after fork() */
typedef struct sr_txn sr_txn_t;     /* opaque */

#define SR_STORE_DEFAULT_MAP_SIZE ((size_t)1 << 30) /* 1 GiB */
#define SR_STORE_KEY_MAX 400 /* bytes, entity keys */
#define SR_STORE_PHASE_EMIT 1      /* events, dispatch, replies, DLQ */
#define SR_STORE_PHASE_CHANGELOG 2 /* changelog records */

typedef struct sr_store_opts {
        const char *dir; /* borrowed for the call; created if missing */
        size_t map_size; /* bytes; 0: SR_STORE_DEFAULT_MAP_SIZE; never
                          * less than the data already stored */
        bool sync;       /* false: MDB_NOSYNC | MDB_NOMETASYNC */
} sr_store_opts_t;

/**
 * @brief Open (creating @p opts->dir and the environment if needed).
 *
 * Also clears reader slots left by dead processes and learns whether the
 * snapshot is trusted (see sr_store_is_untrusted()). An untrusted store
 * opens without reading its data file at all, so a torn file cannot make
 * the open fail. Without @p opts->sync, the open durably records the
 * current boot id before anything unsynced can reach the data file.
 * @param[out] storep set on SR_OK only. The caller owns the handle and
 *                    releases it with sr_store_close().
 * @param[out] ec     optional; filled on failure.
 * @returns SR_OK, SR_ERR_INVALID (no dir), SR_ERR_NOMEM, SR_ERR_IO, or
 *          SR_ERR_CORRUPT (not an LMDB file, or another store format).
 */
sr_err_t sr_store_open(const sr_store_opts_t *opts, sr_store_t **storep,
                       sr_errctx_t *ec);

/**
 * @brief Close the environment and free the handle. Every txn must have
 * ended. NULL is a no-op. Syncs unsynced writes to disk first (and then
 * forgets the boot id), so a clean shutdown keeps the snapshot trusted
 * across a reboot; a process that dies without closing stays trusted on
 * the same boot only.
 */
void sr_store_close(sr_store_t *store);

/**
 * @brief True when the snapshot was written without fsync under another
 * boot id, i.e. the machine crashed or rebooted since, and pages may be
 * torn or missing: the caller must sr_store_drop_all() before using it.
 * Until then every txn_begin and grow fails with SR_ERR_INVALID.
 *
 * The boot id (/proc/sys/kernel/random/boot_id) is kept in a small file
 * beside the data file, written and fsync'd before the first unsynced
 * write of a session, removed once everything is synced (a synced commit,
 * sr_store_close()). It lives outside LMDB because it must survive the
 * very crash that may tear the data file. If the current boot id cannot
 * be read, any recorded one counts as different.
 */
bool sr_store_is_untrusted(const sr_store_t *store);

/**
 * @brief Empty the whole store (every partition, the outbox sequences) and
 * make it trusted again, by deleting and recreating the LMDB files (a torn
 * file is never read). No txn may be open. On failure the handle refuses
 * txns (SR_ERR_INVALID) until a later drop_all succeeds; closing it is
 * always fine.
 * @returns SR_OK, SR_ERR_INVALID (a txn is open), SR_ERR_IO.
 */
sr_err_t sr_store_drop_all(sr_store_t *store, sr_errctx_t *ec);

/** @brief Current map size in bytes (the most the store can hold). */
size_t sr_store_map_size(const sr_store_t *store);

/**
 * @brief How full the map is (sr_mapuse.h): size, bytes in use, bytes
 * ever written. No txn of the store may be open.
 * @param[out] out set on SR_OK only.
 * @returns SR_OK, SR_ERR_INVALID (a txn is open, or the store is
 *          untrusted or broken), SR_ERR_IO.
 */
sr_err_t sr_store_use(sr_store_t *store, sr_mapuse_t *out, sr_errctx_t *ec);

/**
 * @brief Enlarge the map to @p new_size bytes (rounded up to a page),
 * typically after SR_ERR_MAP_FULL: abort the failed txn, grow, redo the
 * batch. No txn may be open. A size equal to the current one is a no-op.
 * @returns SR_OK, SR_ERR_INVALID (a txn is open, @p new_size is smaller
 *          than the current size, or the store is untrusted), SR_ERR_IO
 *          (mmap failed).
 */
sr_err_t sr_store_grow(sr_store_t *store, size_t new_size, sr_errctx_t *ec);

/* ------------------------------------------------------------ txns */

/**
 * @brief Begin a transaction. Only one write txn may exist at a time (a
 * second one would deadlock, so it is refused); read txns see the state of
 * their start.
 * @param[out] txnp set on SR_OK only; end it with sr_store_txn_commit() or
 *                  sr_store_txn_abort(), before sr_store_close().
 * @returns SR_OK, SR_ERR_INVALID (second write txn, or the store is
 *          untrusted), SR_ERR_NOMEM, SR_ERR_MAP_FULL, SR_ERR_IO.
 */
sr_err_t sr_store_txn_begin(sr_store_t *store, bool write, sr_txn_t **txnp,
                            sr_errctx_t *ec);

/**
 * @brief Commit (for a read txn: just end) and free @p txn, on success AND
 * on failure: never abort after a failed commit. On failure nothing of the
 * txn is stored. Refuses (and frees) a write txn in which an operation
 * failed.
 * @returns SR_OK, SR_ERR_MAP_FULL, SR_ERR_IO, SR_ERR_INVALID (an earlier
 *          operation failed).
 */
sr_err_t sr_store_txn_commit(sr_txn_t *txn, sr_errctx_t *ec);

/** @brief Discard and free @p txn. NULL is a no-op. */
void sr_store_txn_abort(sr_txn_t *txn);

/* -------------------------------------------------------- entities
 * Keys are opaque bytes (at most SR_STORE_KEY_MAX, empty allowed); key
 * order within a partition is their byte order. Partitions never see each
 * other's keys. A write op that fails leaves the txn unusable: abort it.
 * Slices returned are borrowed from LMDB: valid until the txn ends or the
 * next write in it, whichever comes first. Copy what must live longer.
 */

/**
 * @brief Insert or replace. @p key and @p value are copied.
 * @returns SR_OK, SR_ERR_INVALID (read txn, key too long), SR_ERR_MAP_FULL,
 *          SR_ERR_IO.
 */
sr_err_t sr_store_put(sr_txn_t *txn, int32_t partition, sr_slice_t key,
                      sr_slice_t value, sr_errctx_t *ec);

/**
 * @brief Look up @p key.
 * @param[out] value set on SR_OK only; borrowed (see above).
 * @returns SR_OK, SR_ERR_NOT_FOUND, SR_ERR_INVALID, SR_ERR_IO.
 */
sr_err_t sr_store_get(sr_txn_t *txn, int32_t partition, sr_slice_t key,
                      sr_slice_t *value, sr_errctx_t *ec);

/**
 * @brief Delete @p key; a missing key is SR_OK.
 * @returns SR_OK, SR_ERR_INVALID, SR_ERR_MAP_FULL, SR_ERR_IO.
 */
sr_err_t sr_store_del(sr_txn_t *txn, int32_t partition, sr_slice_t key,
                      sr_errctx_t *ec);

/**
 * Called once per key; @p key (without the partition) and @p value are
 * borrowed for the call only. Return non-zero to stop the scan. Must not
 * write to the txn being scanned (collect keys, write afterwards).
 */
typedef int (*sr_store_scan_cb)(sr_slice_t key, sr_slice_t value, void *arg);

/**
 * @brief Call @p cb for every key of @p partition starting with @p prefix
 * (empty prefix: all), in key order. A callback's stop is still SR_OK.
 * @returns SR_OK, SR_ERR_INVALID (prefix too long), SR_ERR_IO.
 */
sr_err_t sr_store_scan(sr_txn_t *txn, int32_t partition, sr_slice_t prefix,
                       sr_store_scan_cb cb, void *arg, sr_errctx_t *ec);

/**
 * @brief sr_store_scan() from the first key at or after @p from (which
 * starts with @p prefix) instead of the prefix's first: a scan continued
 * from a cursor.
 */
sr_err_t sr_store_scan_from(sr_txn_t *txn, int32_t partition,
                            sr_slice_t prefix, sr_slice_t from,
                            sr_store_scan_cb cb, void *arg, sr_errctx_t *ec);

/* ---------------------------------------------- per-partition meta */

typedef struct sr_store_pmeta {
        int64_t commands_offset; /* next offset to consume, -1 unknown */
        int64_t results_offset;  /* next offset to consume, -1 unknown */
        int64_t changelog_end;   /* changelog end this snapshot matches,
                                  * -1 unknown */
        uint64_t batch_seq;      /* batches applied */
} sr_store_pmeta_t;

/**
 * @brief Read the partition's metadata into @p out (copied; set on SR_OK
 * only).
 * @returns SR_OK, SR_ERR_NOT_FOUND (never written, or dropped),
 *          SR_ERR_CORRUPT, SR_ERR_IO.
 */
sr_err_t sr_store_pmeta_get(sr_txn_t *txn, int32_t partition,
                            sr_store_pmeta_t *out, sr_errctx_t *ec);

/**
 * @brief Write the partition's metadata (copied).
 * @returns SR_OK, SR_ERR_INVALID (read txn), SR_ERR_MAP_FULL, SR_ERR_IO.
 */
sr_err_t sr_store_pmeta_put(sr_txn_t *txn, int32_t partition,
                            const sr_store_pmeta_t *pmeta, sr_errctx_t *ec);

/**
 * @brief List, in ascending order, the partitions having any entity,
 * metadata or outbox record.
 * @param[out] parts filled with up to @p cap partitions, on SR_OK only.
 * @param[out] n     number stored, on SR_OK only.
 * @returns SR_OK, SR_ERR_INVALID (more than @p cap partitions: nothing
 *          written), SR_ERR_IO.
 */
sr_err_t sr_store_partitions(sr_txn_t *txn, int32_t *parts, size_t cap,
                             size_t *n, sr_errctx_t *ec);

/**
 * @brief Delete every entity, the metadata and the outbox of @p partition.
 * The outbox sequence keeps increasing (a later append gets a larger seq
 * than any record dropped), so a stale acknowledgement cannot delete new
 * records.
 * @returns SR_OK, SR_ERR_INVALID (read txn), SR_ERR_MAP_FULL, SR_ERR_IO.
 */
sr_err_t sr_store_partition_drop(sr_txn_t *txn, int32_t partition,
                                 sr_errctx_t *ec);

/* ---------------------------------------------------------- outbox
 * Records to publish, appended in order with a per-partition sequence
 * that starts at 1 and only increases (across commits, reopen and
 * partition drops; sr_store_drop_all() resets it). Phase
 * SR_STORE_PHASE_EMIT (events, dispatch, replies, dead letters) or
 * SR_STORE_PHASE_CHANGELOG. The bytes are opaque here (see sr_outbox.h).
 */

/**
 * @brief Append a copy of @p rec to the partition's outbox.
 * @param[out] seqp optional; the record's sequence, set on SR_OK only.
 * @returns SR_OK, SR_ERR_INVALID (read txn, bad phase), SR_ERR_MAP_FULL,
 *          SR_ERR_CORRUPT, SR_ERR_IO.
 */
sr_err_t sr_store_outbox_append(sr_txn_t *txn, int32_t partition,
                                uint8_t phase, sr_slice_t rec, uint64_t *seqp,
                                sr_errctx_t *ec);

/**
 * Called once per outbox record; @p rec is borrowed for the call only (not
 * aligned). Return non-zero to stop. Must not write to the txn.
 */
typedef int (*sr_store_outbox_cb)(uint64_t seq, uint8_t phase, sr_slice_t rec,
                                  void *arg);

/**
 * @brief Call @p cb for every outbox record of @p partition, in sequence
 * order, all phases. A callback's stop is still SR_OK.
 * @returns SR_OK, SR_ERR_CORRUPT, SR_ERR_IO.
 */
sr_err_t sr_store_outbox_scan(sr_txn_t *txn, int32_t partition,
                              sr_store_outbox_cb cb, void *arg,
                              sr_errctx_t *ec);

/**
 * @brief Delete the partition's outbox records with seq <= @p last_seq
 * (none left is fine).
 * @returns SR_OK, SR_ERR_INVALID (read txn), SR_ERR_MAP_FULL,
 *          SR_ERR_CORRUPT, SR_ERR_IO.
 */
sr_err_t sr_store_outbox_delete_upto(sr_txn_t *txn, int32_t partition,
                                     uint64_t last_seq, sr_errctx_t *ec);

/**
 * @brief Number of outbox records of @p partition (O(1)).
 * @param[out] n set on SR_OK only.
 * @returns SR_OK, SR_ERR_CORRUPT, SR_ERR_IO.
 */
sr_err_t sr_store_outbox_count(sr_txn_t *txn, int32_t partition, uint64_t *n,
                               sr_errctx_t *ec);

#endif /* SR_STORE_H */
