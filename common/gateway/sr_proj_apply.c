/* common/gateway/sr_proj_apply.c - the writer's batch: begin, apply
 * (entities, tombstones), skip, commit, abort, and the per-partition
 * next offsets stored with them. */
#include "sr_proj_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sr_lmdb.h"
#include "sr_run.h"

sr_err_t sr_proj_begin(sr_proj_t *proj, sr_proj_txn_t **txnp,
                       sr_errctx_t *ec)
{
        sr_proj_txn_t *txn;
        int rc;

        if (proj->write_open)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "proj %s: begin: a batch is already "
                                     "open",
                                     proj->dir);
        txn = malloc(sizeof(*txn));
        if (!txn)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "proj %s: malloc",
                                     proj->dir);
        txn->proj = proj;
        txn->failed = false;
        rc = mdb_txn_begin(proj->env, NULL, 0, &txn->mtxn);
        if (rc) {
                free(txn);
                return sr_lmdb_err(ec, rc, "proj", proj->dir, "txn_begin");
        }
        proj->write_open = true;
        *txnp = txn;
        return SR_OK;
}

static void txn_release(sr_proj_txn_t *txn)
{
        txn->proj->write_open = false;
        free(txn);
}

sr_err_t sr_proj_commit(sr_proj_txn_t *txn, sr_errctx_t *ec)
{
        sr_proj_t *proj = txn->proj;
        int rc;

        if (txn->failed) {
                mdb_txn_abort(txn->mtxn);
                txn_release(txn);
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "proj %s: commit: a write failed in "
                                     "this batch; it was aborted",
                                     proj->dir);
        }
        /* Frees the LMDB txn on failure too: no abort after this. */
        rc = mdb_txn_commit(txn->mtxn);
        txn_release(txn);
        if (rc)
                return sr_lmdb_err(ec, rc, "proj", proj->dir, "txn_commit");
        return SR_OK;
}

void sr_proj_abort(sr_proj_txn_t *txn)
{
        if (!txn)
                return;
        mdb_txn_abort(txn->mtxn);
        txn_release(txn);
}

static void offset_key(uint8_t key[5], char topic, int32_t partition)
{
        key[0] = (uint8_t)topic;
        sr_lmdb_put_be32(key + 1, (uint32_t)partition);
}

int sr_proj__offset_get(const sr_proj_t *proj, MDB_txn *txn,
                        int32_t partition, int64_t *next)
{
        return sr_proj__topic_offset_get(proj, txn, PROJ_OFF_CHANGELOG,
                                         partition, next);
}

int sr_proj__topic_offset_get(const sr_proj_t *proj, MDB_txn *txn,
                              char topic, int32_t partition, int64_t *next)
{
        uint8_t kb[5];
        uint64_t v;
        int rc;

        offset_key(kb, topic, partition);
        rc = sr_proj__u64_get(txn, proj->dbi[DBI_META], kb, sizeof(kb),
                              (uint64_t)-1, &v);
        *next = (int64_t)v;
        return rc;
}

/* Load the stored entity @p id (if any) and compute its index entries;
 * its changelog key is copied to @p clkey (SR_PROJ_KEY_MAX bytes).
 * @returns 0 (found), MDB_NOTFOUND, MDB_CORRUPTED, or an LMDB error. */
static int load_old(const sr_proj_t *proj, MDB_txn *txn, const sr_uuid_t *id,
                    struct ients *out, uint8_t *clkey, size_t *clkey_len)
{
        MDB_val k = sr_lmdb_val(id->b, ID_LEN), v;
        struct stored s;
        sr_entity_t e;
        int rc;

        out->n = 0;
        rc = mdb_get(txn, proj->dbi[DBI_ENT], &k, &v);
        if (rc)
                return rc;
        if (!sr_proj__parse_stored(&v, &s) || s.clkey_len > SR_PROJ_KEY_MAX ||
            sr_proj__dec_entity(&s, &e, false) != SR_OK)
                return MDB_CORRUPTED;
        memcpy(clkey, s.clkey, s.clkey_len);
        *clkey_len = s.clkey_len;
        sr_proj__ients_of(&e, out);
        return 0;
}

/* Delete entity @p id, its index entries (@p ients) and its changelog
 * key mapping. */
static int remove_entity(const sr_proj_t *proj, MDB_txn *txn,
                         const sr_uuid_t *id, const struct ients *ients,
                         const uint8_t *clkey, size_t clkey_len)
{
        struct ients none = { 0 };
        MDB_val k;
        int rc;

        rc = sr_proj__idx_move(proj, txn, ients, &none);
        if (rc)
                return rc;
        k = sr_lmdb_val(id->b, ID_LEN);
        rc = mdb_del(txn, proj->dbi[DBI_ENT], &k, NULL);
        if (rc && rc != MDB_NOTFOUND)
                return rc;
        k = sr_lmdb_val(clkey, clkey_len);
        rc = mdb_del(txn, proj->dbi[DBI_CLKEY], &k, NULL);
        return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The id a changelog key maps to. @returns 0, MDB_NOTFOUND, or an error. */
static int clkey_get(const sr_proj_t *proj, MDB_txn *txn, sr_slice_t key,
                     sr_uuid_t *id)
{
        MDB_val k = sr_lmdb_val(key.ptr, key.len), v;
        int rc = mdb_get(txn, proj->dbi[DBI_CLKEY], &k, &v);

        if (rc)
                return rc;
        if (v.mv_size != ID_LEN)
                return MDB_CORRUPTED;
        memcpy(id->b, v.mv_data, ID_LEN);
        return 0;
}

/* Is @p key a retired run's marker key, "<run>/r"? Sets @p run. */
static bool retired_key(sr_slice_t key, sr_uuid_t *run)
{
        const char *k = key.ptr;

        return key.len == SR_UUID_STR_LEN + 2 &&
               k[SR_UUID_STR_LEN] == '/' && k[SR_UUID_STR_LEN + 1] == 'r' &&
               sr_uuid_parse(k, SR_UUID_STR_LEN, run);
}

/* The tombstone of a marker: the run's note goes (absent: nothing). */
static sr_err_t forget_note(sr_proj_txn_t *txn, const sr_uuid_t *run,
                            sr_errctx_t *ec)
{
        MDB_val k = sr_lmdb_val(run->b, ID_LEN);
        int rc = mdb_del(txn->mtxn, txn->proj->dbi[DBI_RET], &k, NULL);

        if (rc && rc != MDB_NOTFOUND) {
                txn->failed = true;
                return sr_lmdb_err(ec, rc, "proj", txn->proj->dir,
                                   "forget retired run");
        }
        return SR_OK;
}

static sr_err_t apply_tombstone(sr_proj_txn_t *txn, sr_slice_t key,
                                sr_errctx_t *ec)
{
        const sr_proj_t *proj = txn->proj;
        uint8_t old_key[SR_PROJ_KEY_MAX];
        size_t old_len = 0;
        sr_uuid_t id;
        MDB_val k;
        int rc;

        if (key.len == 0 || key.len > SR_PROJ_KEY_MAX)
                return SR_OK; /* never an entity key of ours */
        if (retired_key(key, &id))
                return forget_note(txn, &id, ec);
        if (sr_proj__is_chunk_key(key)) {
                rc = sr_proj__chunk_forget(proj, txn->mtxn, key);
                goto out;
        }
        rc = clkey_get(proj, txn->mtxn, key, &id);
        if (rc == MDB_NOTFOUND)
                return SR_OK; /* dedupe entry, marker, or unknown */
        if (!rc) {
                rc = load_old(proj, txn->mtxn, &id, &txn->old, old_key,
                              &old_len);
                if (rc == MDB_NOTFOUND) {
                        /* A dangling mapping: drop it. */
                        k = sr_lmdb_val(key.ptr, key.len);
                        rc = mdb_del(txn->mtxn, proj->dbi[DBI_CLKEY], &k,
                                     NULL);
                        goto out;
                }
        }
        if (rc == MDB_CORRUPTED)
                return sr_lmdb_err(ec, rc, "proj", proj->dir, "tombstone: stored entity");
        if (!rc)
                rc = remove_entity(proj, txn->mtxn, &id, &txn->old, key.ptr,
                                   key.len);
out:
        if (rc) {
                txn->failed = true;
                return sr_lmdb_err(ec, rc, "proj", proj->dir, "tombstone");
        }
        return SR_OK;
}

/* The first changelog key still mapped under @p prefix, copied to
 * @p out (SR_PROJ_KEY_MAX bytes). @returns 0, MDB_NOTFOUND (none), or an
 * LMDB error. */
static int first_key_under(const sr_proj_t *proj, MDB_txn *txn,
                           const char *prefix, size_t plen, uint8_t *out,
                           size_t *len)
{
        MDB_val k = sr_lmdb_val(prefix, plen), v;
        MDB_cursor *cur;
        int rc;

        rc = mdb_cursor_open(txn, proj->dbi[DBI_CLKEY], &cur);
        if (rc)
                return rc;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (!rc && (k.mv_size < plen || k.mv_size > SR_PROJ_KEY_MAX ||
                    memcmp(k.mv_data, prefix, plen)))
                rc = MDB_NOTFOUND;
        if (!rc) {
                memcpy(out, k.mv_data, k.mv_size);
                *len = k.mv_size;
        }
        mdb_cursor_close(cur);
        return rc;
}

/* A retired run's marker: whatever of the run is still projected goes
 * (as if each key had its tombstone: lists and counts stay exact), and
 * the run's note is kept until the marker's own tombstone. */
static sr_err_t apply_retired(sr_proj_txn_t *txn, sr_slice_t key,
                              const sr_cl_retired_t *r, sr_errctx_t *ec)
{
        const sr_proj_t *proj = txn->proj;
        char prefix[SR_ENTITY_KEY_MAX];
        size_t plen = sr_run_key_prefix(&r->pipeline_run_id, prefix), len;
        uint8_t left[SR_PROJ_KEY_MAX], note[NOTE_FIXED + SR_SHORT_MAX];
        size_t elen = bounded_len(r->enterprise_id, SR_SHORT_MAX);
        sr_uuid_t id;
        sr_err_t err;
        MDB_val k, v;
        int rc;

        if (!retired_key(key, &id) || !sr_uuid_eq(&id, &r->pipeline_run_id))
                return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                     "proj %s: a retired run's marker "
                                     "under key \"%.*s\", not \"<its "
                                     "run>/r\"",
                                     proj->dir,
                                     (int)(key.len > 80 ? 80 : key.len),
                                     (const char *)key.ptr);
        while ((rc = first_key_under(proj, txn->mtxn, prefix, plen, left,
                                     &len)) == 0) {
                err = apply_tombstone(txn, sr_slice(left, len), ec);
                if (err)
                        return err;
        }
        /* Its chunks are not in clkey: they are no entities. */
        if (rc == MDB_NOTFOUND)
                rc = sr_proj__chunks_forget_run(proj, txn->mtxn, prefix,
                                                plen);
        if (rc == 0)
                rc = sr_proj__events_forget(proj, txn->mtxn,
                                            &r->pipeline_run_id);
        if (rc == 0) {
                sr_lmdb_put_be64(note, i64_key(r->retired_at));
                sr_lmdb_put_be64(note + 8, i64_key(r->forget_at));
                memcpy(note + 16, r->pipeline_id.b, ID_LEN);
                note[NOTE_FIXED - 1] = (uint8_t)elen;
                memcpy(note + NOTE_FIXED, r->enterprise_id, elen);
                k = sr_lmdb_val(r->pipeline_run_id.b, ID_LEN);
                v = sr_lmdb_val(note, NOTE_FIXED + elen);
                rc = mdb_put(txn->mtxn, proj->dbi[DBI_RET], &k, &v, 0);
        }
        if (rc) {
                txn->failed = true;
                return sr_lmdb_err(ec, rc, "proj", proj->dir,
                                   "retire run");
        }
        return SR_OK;
}

static sr_err_t apply_entity(sr_proj_txn_t *txn, sr_slice_t key,
                             const sr_entity_t *e, sr_errctx_t *ec)
{
        sr_proj_t *proj = txn->proj;
        uint8_t old_key[SR_PROJ_KEY_MAX], other_key[SR_PROJ_KEY_MAX];
        size_t old_len = 0, other_len = 0;
        bool has_other = false, same_key;
        sr_uuid_t id, other;
        const char *op = "read";
        uint32_t ver;
        MDB_val k, v;
        int rc;

        if (key.len == 0 || key.len > SR_PROJ_KEY_MAX)
                return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                     "proj %s: entity key of %zu bytes "
                                     "(1..%d)",
                                     proj->dir, key.len, SR_PROJ_KEY_MAX);
        sr_proj__entity_id(e, &id, &ver);
        sr_proj__enc_entity(&proj->enc, e, key);
        if (proj->enc.oom)
                return sr_errctx_set(ec, SR_ERR_NOMEM,
                                     "proj %s: encode entity", proj->dir);
        sr_proj__ients_of(e, &txn->cur);

        /* Reads first: a corrupt store fails before anything changed. */
        rc = clkey_get(proj, txn->mtxn, key, &other);
        if (!rc && !sr_uuid_eq(&other, &id)) {
                /* The key named another entity (never in practice). */
                has_other = true;
                rc = load_old(proj, txn->mtxn, &other, &txn->other,
                              other_key, &other_len);
                if (rc == MDB_NOTFOUND) {
                        txn->other.n = 0;
                        memcpy(other_key, key.ptr, key.len);
                        other_len = key.len;
                        rc = 0;
                }
        }
        if (rc && rc != MDB_NOTFOUND)
                return sr_lmdb_err(ec, rc, "proj", proj->dir, "read key map");
        rc = load_old(proj, txn->mtxn, &id, &txn->old, old_key, &old_len);
        if (rc && rc != MDB_NOTFOUND)
                return sr_lmdb_err(ec, rc, "proj", proj->dir, "read entity");
        same_key = !rc && old_len == key.len &&
                   !memcmp(old_key, key.ptr, key.len);

        /* Writes: any failure leaves the batch unusable. */
        op = "remove other";
        rc = has_other ? remove_entity(proj, txn->mtxn, &other, &txn->other,
                                       other_key, other_len) :
                         0;
        if (!rc && old_len && !same_key) {
                op = "remove old key";
                k = sr_lmdb_val(old_key, old_len);
                rc = mdb_del(txn->mtxn, proj->dbi[DBI_CLKEY], &k, NULL);
                if (rc == MDB_NOTFOUND)
                        rc = 0;
        }
        if (!rc && (!same_key || has_other)) {
                op = "put key map";
                k = sr_lmdb_val(key.ptr, key.len);
                v = sr_lmdb_val(id.b, ID_LEN);
                rc = mdb_put(txn->mtxn, proj->dbi[DBI_CLKEY], &k, &v, 0);
        }
        if (!rc) {
                op = "put entity";
                k = sr_lmdb_val(id.b, ID_LEN);
                v = sr_lmdb_val(proj->enc.p, proj->enc.len);
                rc = mdb_put(txn->mtxn, proj->dbi[DBI_ENT], &k, &v, 0);
        }
        if (!rc) {
                op = "index";
                rc = sr_proj__idx_move(proj, txn->mtxn, &txn->old, &txn->cur);
        }
        if (rc) {
                txn->failed = true;
                return sr_lmdb_err(ec, rc, "proj", proj->dir, op);
        }
        return SR_OK;
}

sr_err_t sr_proj__apply_check(sr_proj_txn_t *txn, char topic,
                              int32_t partition, int64_t offset, bool *stale,
                              sr_errctx_t *ec)
{
        sr_proj_t *proj = txn->proj;
        int64_t next;
        int rc;

        if (txn->failed)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "proj %s: apply: an earlier write "
                                     "failed in this batch",
                                     proj->dir);
        if (partition < 0 || offset < 0 || offset == INT64_MAX)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "proj %s: apply: partition %d offset "
                                     "%" PRId64,
                                     proj->dir, (int)partition, offset);
        rc = sr_proj__topic_offset_get(proj, txn->mtxn, topic, partition,
                                       &next);
        if (rc)
                return sr_lmdb_err(ec, rc, "proj", proj->dir, "read offset");
        *stale = offset < next;
        if (*stale)
                atomic_fetch_add_explicit(&proj->skipped, 1,
                                          memory_order_relaxed);
        return SR_OK;
}

sr_err_t sr_proj__offset_put(sr_proj_txn_t *txn, char topic,
                             int32_t partition, int64_t next,
                             sr_errctx_t *ec)
{
        uint8_t kb[5], ob[8];
        MDB_val k, v;
        int rc;

        offset_key(kb, topic, partition);
        sr_lmdb_put_be64(ob, (uint64_t)next);
        k = sr_lmdb_val(kb, sizeof(kb));
        v = sr_lmdb_val(ob, sizeof(ob));
        rc = mdb_put(txn->mtxn, txn->proj->dbi[DBI_META], &k, &v, 0);
        if (rc) {
                txn->failed = true;
                return sr_lmdb_err(ec, rc, "proj", txn->proj->dir, "put offset");
        }
        return SR_OK;
}

sr_err_t sr_proj_apply(sr_proj_txn_t *txn, int32_t partition, int64_t offset,
                       sr_slice_t key, sr_slice_t value, sr_errctx_t *ec)
{
        sr_proj_t *proj = txn->proj;
        sr_changelog_t cl;
        bool stale = false;
        sr_err_t err;

        err = sr_proj__apply_check(txn, PROJ_OFF_CHANGELOG, partition,
                                   offset, &stale, ec);
        if (err || stale)
                return err;
        if (!value.ptr) {
                /* A definition's key is no run entity's (its first byte
                 * is not a hex digit). */
                err = sr_proj__is_def_key(key) ?
                              sr_proj__apply_def(txn, key, NULL, ec) :
                      sr_proj__is_group_key(key) ?
                              sr_proj__apply_group(txn, key, NULL, ec) :
                              apply_tombstone(txn, key, ec);
        } else {
                err = sr_codec_decode_changelog(proj->codec, value, &cl, ec);
                /* Undecodable, whatever the codec's class: CORRUPT. */
                if (err == SR_ERR_SCHEMA)
                        err = SR_ERR_CORRUPT;
                if (ec && err == SR_ERR_CORRUPT)
                        ec->code = err;
                if (!err && cl.kind == SR_CL_ENTITY) {
                        err = apply_entity(txn, key, &cl.u.entity, ec);
                        sr_entity_fini(&cl.u.entity);
                } else if (!err && cl.kind == SR_CL_RETIRED) {
                        err = apply_retired(txn, key, &cl.u.retired, ec);
                } else if (!err && cl.kind == SR_CL_CHUNK) {
                        /* An open stage's chunk: its targets, listed by
                         * GET .../targets/ (docs/targets.md, section 5). */
                        err = sr_proj__apply_chunk(txn, key, &cl.u.chunk,
                                                   ec);
                        sr_stage_chunk_fini(&cl.u.chunk);
                } else if (!err && cl.kind == SR_CL_DEF) {
                        /* A stored definition's entity
                         * (docs/definitions.md, section 2). */
                        err = sr_proj__apply_def(txn, key, &cl.u.def, ec);
                        sr_def_record_fini(&cl.u.def);
                } else if (!err && cl.kind == SR_CL_GROUP &&
                           (cl.u.grp.kind == SR_GREC_GROUP ||
                            cl.u.grp.kind == SR_GREC_MEMBER)) {
                        /* The device-group directory (docs/definitions.md
                         * section 6); a run's copy of a group is the
                         * worker's alone. */
                        err = sr_proj__apply_group(txn, key, &cl.u.grp, ec);
                }
        }
        if (err) {
                sr_errctx_prefix(ec, "proj: partition %d offset %" PRId64,
                                 (int)partition, offset);
                return err;
        }
        err = sr_proj__offset_put(txn, PROJ_OFF_CHANGELOG, partition,
                                  offset + 1, ec);
        if (!err)
                atomic_fetch_add_explicit(&proj->applied, 1,
                                          memory_order_relaxed);
        return err;
}

sr_err_t sr_proj_skip(sr_proj_txn_t *txn, int32_t partition, int64_t offset,
                      sr_errctx_t *ec)
{
        bool stale = false;
        sr_err_t err;

        err = sr_proj__apply_check(txn, PROJ_OFF_CHANGELOG, partition,
                                   offset, &stale, ec);
        if (err || stale)
                return err;
        return sr_proj__offset_put(txn, PROJ_OFF_CHANGELOG, partition,
                                   offset + 1, ec);
}
