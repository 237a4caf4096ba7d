/* common/io/sr_store_outbox.c - the store's outbox: records waiting to be
 * published, per partition in sequence order, with a counter per
 * partition (next seq, count) kept in "sys" and cached per txn.
 * Layout: outbox  part | seq (8 BE) -> phase (1 byte) | record. */
#include "sr_store.h"
#include "sr_lmdb.h"
#include "sr_store_int.h"

#include <string.h>

static sr_err_t oseq_write(sr_txn_t *txn, const struct oseq *o,
                           sr_errctx_t *ec)
{
        uint8_t kb[5] = { 0 }, vb[16] = { 0 };
        MDB_val k = sr_lmdb_val(kb, sizeof(kb));
        MDB_val v = sr_lmdb_val(vb, sizeof(vb));
        int rc;

        kb[0] = 'o';
        sr_lmdb_put_be32(kb + 1, o->part);
        sr_lmdb_put_be64(vb, o->next);
        sr_lmdb_put_be64(vb + 8, o->count);
        rc = mdb_put(txn->mtxn, txn->store->dbi[DBI_SYS], &k, &v, 0);
        if (rc)
                return sr_store__txn_fail(txn, ec, rc, "outbox seq");
        return SR_OK;
}

sr_err_t sr_store__oseq_flush(sr_txn_t *txn, sr_errctx_t *ec)
{
        sr_err_t err;
        unsigned i;

        for (i = 0; i < txn->n_oseq; i++) {
                if (!txn->oseq[i].dirty)
                        continue;
                err = oseq_write(txn, &txn->oseq[i], ec);
                if (err)
                        return err;
                txn->oseq[i].dirty = false;
        }
        return SR_OK;
}

/* The partition's outbox counter, cached in the txn; borrowed *op is
 * valid until the next sr_store__oseq_find() of the txn. */
sr_err_t sr_store__oseq_find(sr_txn_t *txn, uint32_t part, struct oseq **op,
                          sr_errctx_t *ec)
{
        uint8_t kb[5] = { 0 };
        MDB_val k = sr_lmdb_val(kb, sizeof(kb)), v;
        struct oseq *o = NULL;
        sr_err_t err;
        unsigned i;
        int rc;

        for (i = 0; i < txn->n_oseq; i++) {
                if (txn->oseq[i].part == part) {
                        *op = &txn->oseq[i];
                        return SR_OK;
                }
        }
        if (txn->n_oseq == OSEQ_CACHE) {
                err = sr_store__oseq_flush(txn, ec);
                if (err)
                        return err;
                txn->n_oseq = 0;
        }
        kb[0] = 'o';
        sr_lmdb_put_be32(kb + 1, part);
        o = &txn->oseq[txn->n_oseq];
        o->part = part;
        o->dirty = false;
        rc = mdb_get(txn->mtxn, txn->store->dbi[DBI_SYS], &k, &v);
        if (rc == MDB_NOTFOUND) {
                o->next = 1;
                o->count = 0;
        } else if (rc) {
                return sr_lmdb_err(ec, rc, "store", txn->store->dir,
                                   "outbox seq");
        } else if (v.mv_size != 16 || sr_lmdb_get_be64(v.mv_data) == 0) {
                return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                     "store %s: outbox seq of partition %u",
                                     txn->store->dir, part);
        } else {
                o->next = sr_lmdb_get_be64(v.mv_data);
                o->count = sr_lmdb_get_be64((const uint8_t *)v.mv_data + 8);
        }
        txn->n_oseq++;
        *op = o;
        return SR_OK;
}

static void outbox_key(uint8_t kb[12], int32_t partition, uint64_t seq)
{
        sr_lmdb_put_be32(kb, (uint32_t)partition);
        sr_lmdb_put_be64(kb + 4, seq);
}

sr_err_t sr_store_outbox_append(sr_txn_t *txn, int32_t partition,
                                uint8_t phase, sr_slice_t rec, uint64_t *seqp,
                                sr_errctx_t *ec)
{
        uint8_t kb[12] = { 0 };
        MDB_val k = sr_lmdb_val(kb, sizeof(kb)), v;
        struct oseq *o = NULL;
        sr_err_t err;
        int rc;

        err = sr_store__check_write(txn, partition, "outbox_append", ec);
        if (err)
                return err;
        if (phase != SR_STORE_PHASE_EMIT && phase != SR_STORE_PHASE_CHANGELOG)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "store %s: outbox_append: phase %u",
                                     txn->store->dir, phase);
        err = sr_store__oseq_find(txn, (uint32_t)partition, &o, ec);
        if (err)
                return err;
        outbox_key(kb, partition, o->next);
        v.mv_data = NULL;
        v.mv_size = 1 + rec.len;
        /* Reserve and fill in place: no staging copy of the record. */
        rc = mdb_put(txn->mtxn, txn->store->dbi[DBI_OUTBOX], &k, &v,
                     MDB_NOOVERWRITE | MDB_RESERVE);
        if (rc == MDB_KEYEXIST)
                return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                     "store %s: outbox_append: partition %d "
                                     "seq %llu exists",
                                     txn->store->dir, (int)partition,
                                     (unsigned long long)o->next);
        if (rc)
                return sr_store__txn_fail(txn, ec, rc, "outbox_append");
        *(uint8_t *)v.mv_data = phase;
        if (rec.len)
                memcpy((uint8_t *)v.mv_data + 1, rec.ptr, rec.len);
        if (seqp)
                *seqp = o->next;
        o->next++;
        o->count++;
        o->dirty = true;
        return SR_OK;
}

sr_err_t sr_store_outbox_scan(sr_txn_t *txn, int32_t partition,
                              sr_store_outbox_cb cb, void *arg,
                              sr_errctx_t *ec)
{
        uint8_t kb[12] = { 0 };
        MDB_val k = sr_lmdb_val(kb, sizeof(kb)), v;
        const uint8_t *val;
        MDB_cursor *cur;
        sr_err_t err = SR_OK;
        int rc;

        err = sr_store__check_read(txn, partition, "outbox_scan", ec);
        if (err)
                return err;
        outbox_key(kb, partition, 0);
        rc = mdb_cursor_open(txn->mtxn, txn->store->dbi[DBI_OUTBOX], &cur);
        if (rc)
                return sr_lmdb_err(ec, rc, "store", txn->store->dir,
                                   "outbox_scan");
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        while (!rc) {
                if (k.mv_size < 4 || memcmp(k.mv_data, kb, 4))
                        break;
                if (k.mv_size != 12 || v.mv_size < 1) {
                        err = sr_errctx_set(ec, SR_ERR_CORRUPT,
                                            "store %s: outbox_scan: "
                                            "partition %d: bad record",
                                            txn->store->dir, (int)partition);
                        break;
                }
                val = v.mv_data;
                if (cb(sr_lmdb_get_be64((const uint8_t *)k.mv_data + 4), val[0],
                       sr_slice(val + 1, v.mv_size - 1), arg))
                        break;
                rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        mdb_cursor_close(cur);
        if (!err && rc && rc != MDB_NOTFOUND)
                err = sr_lmdb_err(ec, rc, "store", txn->store->dir,
                                  "outbox_scan");
        return err;
}

sr_err_t sr_store_outbox_delete_upto(sr_txn_t *txn, int32_t partition,
                                     uint64_t last_seq, sr_errctx_t *ec)
{
        uint64_t ndel = 0;
        uint8_t kb[4];
        struct oseq *o = NULL;
        sr_err_t err;
        int rc;

        err = sr_store__check_write(txn, partition, "outbox_delete_upto", ec);
        if (!err)
                err = sr_store__oseq_find(txn, (uint32_t)partition, &o, ec);
        if (err)
                return err;
        sr_lmdb_put_be32(kb, (uint32_t)partition);
        rc = sr_store__del_range(txn->mtxn, txn->store->dbi[DBI_OUTBOX], kb, 4,
                                 true,
                       last_seq, &ndel);
        if (rc)
                return sr_store__txn_fail(txn, ec, rc, "outbox_delete_upto");
        if (ndel) {
                o->count = o->count > ndel ? o->count - ndel : 0;
                o->dirty = true;
        }
        return SR_OK;
}

sr_err_t sr_store_outbox_count(sr_txn_t *txn, int32_t partition, uint64_t *n,
                               sr_errctx_t *ec)
{
        struct oseq *o = NULL;
        sr_err_t err;

        err = sr_store__check_read(txn, partition, "outbox_count", ec);
        if (!err)
                err = sr_store__oseq_find(txn, (uint32_t)partition, &o, ec);
        if (err)
                return err;
        *n = o->count;
        return SR_OK;
}

