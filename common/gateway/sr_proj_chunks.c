/* common/gateway/sr_proj_chunks.c - an open stage's chunks in the
 * projection (docs/targets.md, section 5: GET .../targets/): each chunk's
 * targets enter the 'D' index, one entry per (run, stage, device id), so
 * that a page of a stage's appended targets is one seek and a range walk
 * whatever the stage's size; the chunk's record in chk names its devices,
 * so that its tombstone (or its run's retirement) removes exactly what it
 * put, in O(chunk). Layout: sr_proj_int.h. */
#include "sr_proj_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sr_lmdb.h"
#include "sr_run.h"

/* chk value: run | stage | chunk | n, then n device ids. */
#define CHK_FIXED (ID_LEN + 4 + 4 + 4)

bool sr_proj__is_chunk_key(sr_slice_t key)
{
        const char *k = key.ptr;

        /* "<run>/k/": a run's other keys have another letter there. */
        return key.len > SR_UUID_STR_LEN + 3 && key.len <= SR_PROJ_KEY_MAX &&
               k[SR_UUID_STR_LEN] == '/' && k[SR_UUID_STR_LEN + 1] == 'k' &&
               k[SR_UUID_STR_LEN + 2] == '/';
}

static void tgt_key(uint8_t key[TGT_PLEN + ID_LEN], const sr_uuid_t *run,
                    uint32_t stage, const uint8_t *device)
{
        key[0] = TAG_TGT;
        memcpy(key + 1, run->b, ID_LEN);
        sr_lmdb_put_be32(key + 1 + ID_LEN, stage);
        memcpy(key + TGT_PLEN, device, ID_LEN);
}

/* u16 length + the bytes of a fixed-size string field. */
static size_t put_str16(uint8_t *p, const char *s, size_t cap)
{
        size_t n = bounded_len(s, cap);

        p[0] = (uint8_t)(n >> 8);
        p[1] = (uint8_t)n;
        memcpy(p + 2, s, n);
        return 2 + n;
}

/* One target's entry; a device already indexed (by this chunk applied
 * before, or, never in practice, by another chunk: the worker refuses a
 * duplicate device) has its value replaced and is counted once. */
static int put_target(const sr_proj_t *proj, MDB_txn *txn,
                      const sr_stage_chunk_t *c, uint32_t item)
{
        const sr_spec_target_t *t = &c->targets[item];
        uint8_t key[TGT_PLEN + ID_LEN];
        uint8_t val[TGT_VFIXED + 2 * (2 + SR_NAME_MAX)];
        size_t vlen = TGT_VFIXED;
        MDB_val k, v;
        int rc;

        tgt_key(key, &c->pipeline_run_id, c->stage_index, t->device_id.b);
        sr_lmdb_put_be32(val, c->chunk);
        sr_lmdb_put_be32(val + 4, item);
        memcpy(val + 8, t->target_id.b, ID_LEN);
        vlen += put_str16(val + vlen, t->device_name, sizeof(t->device_name));
        vlen += put_str16(val + vlen, t->device_alias,
                          sizeof(t->device_alias));
        k = sr_lmdb_val(key, sizeof(key));
        v = sr_lmdb_val(val, vlen);
        rc = mdb_put(txn, proj->dbi[DBI_IDX], &k, &v, MDB_NOOVERWRITE);
        if (rc == MDB_KEYEXIST) {
                v = sr_lmdb_val(val, vlen);
                return mdb_put(txn, proj->dbi[DBI_IDX], &k, &v, 0);
        }
        if (rc)
                return rc;
        return sr_proj__cnt_add(txn, proj->dbi[DBI_CNT], key, TGT_PLEN, +1);
}

int sr_proj__chunk_forget(const sr_proj_t *proj, MDB_txn *txn,
                          sr_slice_t key)
{
        uint8_t ik[TGT_PLEN + ID_LEN], *copy;
        uint32_t stage, chunk, n;
        MDB_val k = sr_lmdb_val(key.ptr, key.len), v, iv;
        sr_uuid_t run;
        int rc;

        rc = mdb_get(txn, proj->dbi[DBI_CHK], &k, &v);
        if (rc)
                return rc == MDB_NOTFOUND ? 0 : rc;
        if (v.mv_size < CHK_FIXED)
                return MDB_CORRUPTED;
        n = sr_lmdb_get_be32((const uint8_t *)v.mv_data + ID_LEN + 8);
        if (v.mv_size != CHK_FIXED + (size_t)n * ID_LEN)
                return MDB_CORRUPTED;
        /* A write invalidates v: the record is copied first. */
        copy = malloc(v.mv_size);
        if (!copy)
                return ENOMEM;
        memcpy(copy, v.mv_data, v.mv_size);
        memcpy(run.b, copy, ID_LEN);
        stage = sr_lmdb_get_be32(copy + ID_LEN);
        chunk = sr_lmdb_get_be32(copy + ID_LEN + 4);
        for (uint32_t i = 0; i < n && !rc; i++) {
                tgt_key(ik, &run, stage, copy + CHK_FIXED + (size_t)i * ID_LEN);
                k = sr_lmdb_val(ik, sizeof(ik));
                rc = mdb_get(txn, proj->dbi[DBI_IDX], &k, &iv);
                if (rc == MDB_NOTFOUND) {
                        rc = 0; /* a device twice in the chunk: gone */
                        continue;
                }
                if (rc)
                        break;
                if (iv.mv_size < TGT_VFIXED)
                        rc = MDB_CORRUPTED;
                /* Only this chunk's entry: another chunk's is its own. */
                else if (sr_lmdb_get_be32(iv.mv_data) != chunk)
                        continue;
                if (!rc)
                        rc = mdb_del(txn, proj->dbi[DBI_IDX], &k, NULL);
                if (!rc)
                        rc = sr_proj__cnt_add(txn, proj->dbi[DBI_CNT], ik,
                                              TGT_PLEN, -1);
        }
        free(copy);
        if (rc)
                return rc;
        k = sr_lmdb_val(key.ptr, key.len);
        rc = mdb_del(txn, proj->dbi[DBI_CHK], &k, NULL);
        return rc == MDB_NOTFOUND ? 0 : rc;
}

sr_err_t sr_proj__apply_chunk(sr_proj_txn_t *txn, sr_slice_t key,
                              const sr_stage_chunk_t *c, sr_errctx_t *ec)
{
        const sr_proj_t *proj = txn->proj;
        char want[SR_ENTITY_KEY_MAX];
        size_t wlen = sr_chunk_key(c, want), len;
        const char *op = "forget chunk";
        uint8_t *rec;
        MDB_val k, v;
        int rc;

        /* Its tombstone comes under the key; a record under another one
         * would leave its targets behind for ever. */
        if (key.len != wlen || memcmp(key.ptr, want, wlen))
                return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                     "proj %s: chunk %u of stage %u under "
                                     "key \"%.*s\", not \"%s\"",
                                     proj->dir, c->chunk, c->stage_index,
                                     (int)(key.len > 80 ? 80 : key.len),
                                     (const char *)key.ptr, want);
        len = CHK_FIXED + (size_t)c->n_targets * ID_LEN;
        rec = malloc(len);
        if (!rec)
                return sr_errctx_set(ec, SR_ERR_NOMEM,
                                     "proj %s: chunk record of %u targets",
                                     proj->dir, c->n_targets);
        memcpy(rec, c->pipeline_run_id.b, ID_LEN);
        sr_lmdb_put_be32(rec + ID_LEN, c->stage_index);
        sr_lmdb_put_be32(rec + ID_LEN + 4, c->chunk);
        sr_lmdb_put_be32(rec + ID_LEN + 8, c->n_targets);
        for (uint32_t i = 0; i < c->n_targets; i++)
                memcpy(rec + CHK_FIXED + (size_t)i * ID_LEN,
                       c->targets[i].device_id.b, ID_LEN);

        /* The same chunk again (the worker publishes a run's state again
         * after a restore): what it put goes first, so a count stays
         * exact whatever the record says now. */
        rc = sr_proj__chunk_forget(proj, txn->mtxn, key);
        for (uint32_t i = 0; !rc && i < c->n_targets; i++) {
                op = "index target";
                rc = put_target(proj, txn->mtxn, c, i);
        }
        if (!rc) {
                op = "put chunk";
                k = sr_lmdb_val(key.ptr, key.len);
                v = sr_lmdb_val(rec, len);
                rc = mdb_put(txn->mtxn, proj->dbi[DBI_CHK], &k, &v, 0);
        }
        free(rec);
        if (rc) {
                txn->failed = true;
                return sr_lmdb_err(ec, rc, "proj", proj->dir, op);
        }
        return SR_OK;
}

int sr_proj__chunks_forget_run(const sr_proj_t *proj, MDB_txn *txn,
                               const char *prefix, size_t plen)
{
        uint8_t key[SR_PROJ_KEY_MAX];
        MDB_cursor *cur;
        MDB_val k, v;
        size_t len;
        int rc;

        /* Seek again after each chunk: the forget moved the tree. */
        for (;;) {
                rc = mdb_cursor_open(txn, proj->dbi[DBI_CHK], &cur);
                if (rc)
                        return rc;
                k = sr_lmdb_val(prefix, plen);
                rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
                if (!rc && (k.mv_size < plen || k.mv_size > SR_PROJ_KEY_MAX ||
                            memcmp(k.mv_data, prefix, plen)))
                        rc = MDB_NOTFOUND;
                len = rc ? 0 : k.mv_size;
                if (!rc)
                        memcpy(key, k.mv_data, len);
                mdb_cursor_close(cur);
                if (rc)
                        return rc == MDB_NOTFOUND ? 0 : rc;
                rc = sr_proj__chunk_forget(proj, txn, sr_slice(key, len));
                if (rc)
                        return rc;
        }
}
