/* common/io/sr_store_int.h - what the files of the store module share
 * (sr_store.c: environment, transactions, entities, metadata;
 * sr_store_outbox.c: the outbox), and its test hooks. Included by those
 * files and the store's unit tests only; not for workers. */
#ifndef SR_STORE_INT_H
#define SR_STORE_INT_H

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "sr_store.h"

#define BOOT_ID_MAX 64
#define OSEQ_CACHE 16 /* outbox counters cached per txn */

enum { DBI_ENT, DBI_META, DBI_OUTBOX, DBI_SYS, DBI__COUNT };

/* What MARK_FILE says about data.mdb. */
enum boot_mark {
        MARK_ABSENT,  /* everything synced (or nothing written) */
        MARK_CURRENT, /* unsynced writes under this boot: trusted */
        MARK_OTHER,   /* unsynced writes under another boot: untrusted */
};

struct sr_store {
        MDB_env *env; /* NULL while untrusted (never opened) */
        MDB_dbi dbi[DBI__COUNT];
        char *dir; /* owned copy */
        size_t map_size;
        bool sync;
        bool boot_known; /* boot_id was readable */
        char boot_id[BOOT_ID_MAX];
        enum boot_mark mark;
        unsigned n_txn;  /* open txns, for grow/drop_all checks */
        bool write_open; /* LMDB allows one writer */
};

/* A partition's outbox counter, written back to "sys" at commit. */
struct oseq {
        uint32_t part;
        uint64_t next;
        uint64_t count;
        bool dirty;
};

struct sr_txn {
        sr_store_t *store;
        MDB_txn *mtxn;
        bool write;
        bool failed; /* a write op failed: commit refused */
        unsigned n_oseq;
        struct oseq oseq[OSEQ_CACHE];
};

/* Shared by the module's files (sr_store__: module-internal). */
/* A failed write: the txn refuses to commit; maps @p rc. */
sr_err_t sr_store__txn_fail(sr_txn_t *txn, sr_errctx_t *ec, int rc,
                            const char *op);
/* The txn may write @p partition (a write txn, partition >= 0). */
sr_err_t sr_store__check_write(const sr_txn_t *txn, int32_t partition,
                               const char *op, sr_errctx_t *ec);
/* @p partition is valid for reading. */
sr_err_t sr_store__check_read(const sr_txn_t *txn, int32_t partition,
                              const char *op, sr_errctx_t *ec);
/* Delete the keys of @p dbi under @p prefix (outbox: only seq <=
 * @p last_seq with @p by_seq); counts in *ndel; an LMDB code. */
int sr_store__del_range(MDB_txn *mtxn, MDB_dbi dbi, const uint8_t *prefix,
                        size_t plen, bool by_seq, uint64_t last_seq,
                        uint64_t *ndel);
/* Write the txn's dirty outbox counters back (at commit). */
sr_err_t sr_store__oseq_flush(sr_txn_t *txn, sr_errctx_t *ec);
/* The partition's outbox counter, cached in the txn; *op is borrowed
 * until the next call for the txn. */
sr_err_t sr_store__oseq_find(sr_txn_t *txn, uint32_t part, struct oseq **op,
                             sr_errctx_t *ec);

/**
 * @brief Test only: record @p boot_id (borrowed) as the boot of unsynced
 * writes, durably, then behave exactly as sr_store_open() would with it:
 * another boot id makes the store untrusted (txns refused until
 * sr_store_drop_all()). Simulates "unsynced writes, then a machine crash".
 * No txn may be open.
 * @returns SR_OK, SR_ERR_INVALID (a txn is open), SR_ERR_IO.
 */
sr_err_t sr_store_debug_set_boot_id(sr_store_t *store, const char *boot_id,
                                    sr_errctx_t *ec);

/**
 * @brief Test only: true when a boot id is recorded, i.e. the data file
 * may hold unsynced pages that a machine crash could tear (read at open,
 * kept up to date by writes, syncs and close).
 */
bool sr_store_debug_has_boot_mark(const sr_store_t *store);

#endif /* SR_STORE_INT_H */
