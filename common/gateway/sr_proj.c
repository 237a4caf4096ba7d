/* common/gateway/sr_proj.c - the gateway's LMDB projection of
 * sr.changelog: open, close, clear, the single-entity reads and the
 * stats (layout: sr_proj_int.h; writes: sr_proj_apply.c; lists:
 * sr_proj_query.c). */
#include "sr_proj_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_lmdb.h"

static const char *const dbi_names[DBI__COUNT] = {
        [DBI_ENT] = "ent",
        [DBI_CLKEY] = "clkey",
        [DBI_IDX] = "idx",
        [DBI_CNT] = "cnt",
        [DBI_META] = "meta",
        [DBI_RET] = "ret",
        [DBI_EVT] = "evt",
        [DBI_CHK] = "chk",
        [DBI_DEF] = "def",
};

static const char *uuid_text(const sr_uuid_t *id, char buf[SR_UUID_STR_LEN + 1])
{
        sr_uuid_fmt(id, buf);
        return buf;
}

/* ------------------------------------------------------------ open */

/* Empty every DBI (offsets included) and write our format. */
static int empty_all(sr_proj_t *proj, MDB_txn *txn)
{
        MDB_val k = sr_lmdb_val("format", 6), v;
        uint8_t fmt[4];
        int rc = 0;

        for (int i = 0; i < DBI__COUNT && !rc; i++)
                rc = mdb_drop(txn, proj->dbi[i], 0);
        if (rc)
                return rc;
        sr_lmdb_put_be32(fmt, PROJ_FORMAT_STORED);
        v = sr_lmdb_val(fmt, 4);
        return mdb_put(txn, proj->dbi[DBI_META], &k, &v, 0);
}

/* Open the DBIs; empty everything unless the format is ours. */
static sr_err_t proj_init(sr_proj_t *proj, sr_errctx_t *ec)
{
        MDB_val k = sr_lmdb_val("format", 6), v;
        const char *op = "dbi_open";
        MDB_txn *txn;
        int rc, i;

        rc = mdb_txn_begin(proj->env, NULL, 0, &txn);
        if (rc)
                return sr_lmdb_err(ec, rc, "proj", proj->dir, "txn_begin");
        for (i = 0; i < DBI__COUNT && !rc; i++)
                rc = mdb_dbi_open(txn, dbi_names[i], MDB_CREATE,
                                  &proj->dbi[i]);
        if (rc)
                goto err_abort;
        op = "format";
        rc = mdb_get(txn, proj->dbi[DBI_META], &k, &v);
        if (rc && rc != MDB_NOTFOUND)
                goto err_abort;
        if (rc || v.mv_size != 4 ||
            sr_lmdb_get_be32(v.mv_data) != PROJ_FORMAT_STORED) {
                /* New, or another format: a cache, so start over. */
                op = "empty";
                rc = empty_all(proj, txn);
                if (rc)
                        goto err_abort;
        }
        rc = mdb_txn_commit(txn); /* frees txn, also on failure */
        return rc ? sr_lmdb_err(ec, rc, "proj", proj->dir, "txn_commit") : SR_OK;

err_abort:
        mdb_txn_abort(txn);
        return sr_lmdb_err(ec, rc, "proj", proj->dir, op);
}

void sr_proj_set_ids(sr_proj_t *proj, const sr_schema_ids_t *ids)
{
        sr_codec_set_ids(proj->codec, ids);
}

sr_err_t sr_proj_open(const char *dir, size_t map_size, sr_proj_t **projp,
                      sr_errctx_t *ec)
{
        sr_proj_t *proj;
        sr_err_t err;
        int rc, dead;

        if (!dir || !projp)
                return sr_errctx_set(ec, SR_ERR_INVALID, "proj: no directory");
        err = sr_lmdb_make_dir("proj", dir, ec);
        if (err)
                return err;
        proj = calloc(1, sizeof(*proj));
        if (!proj)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "proj %s: calloc", dir);
        proj->dir = strdup(dir);
        if (!proj->dir) {
                err = sr_errctx_set(ec, SR_ERR_NOMEM, "proj %s: strdup", dir);
                goto err_free;
        }
        err = sr_codec_new(&proj->codec, ec);
        if (err)
                goto err_free;
        rc = mdb_env_create(&proj->env);
        if (rc) {
                proj->env = NULL;
                err = sr_lmdb_err(ec, rc, "proj", dir, "env_create");
                goto err_free;
        }
        rc = mdb_env_set_maxdbs(proj->env, DBI__COUNT);
        if (!rc)
                rc = mdb_env_set_maxreaders(proj->env, SR_PROJ_MAX_READERS);
        if (!rc)
                rc = mdb_env_set_mapsize(proj->env,
                                         map_size ? map_size :
                                                    SR_PROJ_DEFAULT_MAP_SIZE);
        if (rc) {
                err = sr_lmdb_err(ec, rc, "proj", dir, "env_set");
                goto err_free;
        }
        /* NOTLS: read txns belong to the call, not the thread.
         * NOMETASYNC: data pages synced per commit, so a crash loses at
         * most the last batch and never tears the file. */
        rc = mdb_env_open(proj->env, dir, MDB_NOTLS | MDB_NOMETASYNC, 0640);
        if (rc) {
                err = sr_lmdb_err(ec, rc, "proj", dir, "env_open");
                goto err_free;
        }
        /* Reader slots of killed processes would pin old pages forever. */
        rc = mdb_reader_check(proj->env, &dead);
        if (rc) {
                err = sr_lmdb_err(ec, rc, "proj", dir, "reader_check");
                goto err_free;
        }
        err = proj_init(proj, ec);
        if (err)
                goto err_free;
        *projp = proj;
        return SR_OK;

err_free:
        if (proj->env)
                mdb_env_close(proj->env);
        sr_codec_destroy(proj->codec);
        free(proj->dir);
        free(proj);
        return err;
}

void sr_proj_close(sr_proj_t *proj)
{
        if (!proj)
                return;
        /* NOMETASYNC leaves the last meta page unsynced: flush it. */
        mdb_env_sync(proj->env, 1);
        mdb_env_close(proj->env);
        sr_codec_destroy(proj->codec);
        free(proj->enc.p);
        free(proj->dir);
        free(proj);
}

/* ------------------------------------------------------------ writes */

sr_err_t sr_proj_clear(sr_proj_t *proj, sr_errctx_t *ec)
{
        MDB_txn *txn;
        int rc;

        if (proj->write_open)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "proj %s: clear: a batch is open",
                                     proj->dir);
        rc = mdb_txn_begin(proj->env, NULL, 0, &txn);
        if (rc)
                return sr_lmdb_err(ec, rc, "proj", proj->dir, "clear: txn_begin");
        rc = empty_all(proj, txn);
        if (rc) {
                mdb_txn_abort(txn);
                return sr_lmdb_err(ec, rc, "proj", proj->dir, "clear");
        }
        rc = mdb_txn_commit(txn); /* frees txn, also on failure */
        return rc ? sr_lmdb_err(ec, rc, "proj", proj->dir, "clear: txn_commit") : SR_OK;
}

/* ------------------------------------------------------------ reads */

sr_err_t sr_proj__rd_begin(sr_proj_t *proj, struct rctx *rc,
                           sr_errctx_t *ec)
{
        int r;

        rc->proj = proj;
        rc->cur = NULL;
        rc->decodes = 0;
        rc->steps = 0;
        r = mdb_txn_begin(proj->env, NULL, MDB_RDONLY, &rc->txn);
        if (r)
                return sr_lmdb_err(ec, r, "proj", proj->dir, "read txn_begin");
        return SR_OK;
}

void sr_proj__rd_end(struct rctx *rc)
{
        if (rc->cur)
                mdb_cursor_close(rc->cur);
        mdb_txn_abort(rc->txn);
        if (rc->decodes)
                atomic_fetch_add_explicit(&rc->proj->decodes, rc->decodes,
                                          memory_order_relaxed);
        if (rc->steps)
                atomic_fetch_add_explicit(&rc->proj->key_steps, rc->steps,
                                          memory_order_relaxed);
}

sr_err_t sr_proj__not_found(sr_errctx_t *ec, const char *what,
                            const sr_uuid_t *id)
{
        char buf[SR_UUID_STR_LEN + 1];

        return sr_errctx_set(ec, SR_ERR_NOT_FOUND, "proj: %s %s: not found",
                             what, uuid_text(id, buf));
}

/* Load and decode entity @p id of @p type into @p e.
 * @returns SR_OK, SR_ERR_NOT_FOUND (absent or another type),
 *          SR_ERR_CORRUPT, SR_ERR_NOMEM, SR_ERR_IO. */
sr_err_t sr_proj__rd_entity(struct rctx *rc, sr_entity_type_t type,
                            const sr_uuid_t *id, sr_entity_t *e,
                            bool want_args, sr_errctx_t *ec)
{
        MDB_val k = sr_lmdb_val(id->b, ID_LEN), v;
        char buf[SR_UUID_STR_LEN + 1];
        struct stored s;
        sr_err_t err;
        int r;

        r = mdb_get(rc->txn, rc->proj->dbi[DBI_ENT], &k, &v);
        if (r == MDB_NOTFOUND)
                return sr_proj__not_found(ec, sr_entity_type_name(type), id);
        if (r)
                return sr_lmdb_err(ec, r, "proj", rc->proj->dir, "get");
        if (!sr_proj__parse_stored(&v, &s))
                goto corrupt;
        if (s.type != type)
                return sr_proj__not_found(ec, sr_entity_type_name(type), id);
        rc->decodes++;
        err = sr_proj__dec_entity(&s, e, want_args);
        if (err == SR_ERR_NOMEM)
                return sr_errctx_set(ec, err, "proj: decode: malloc");
        if (err)
                goto corrupt;
        return SR_OK;

corrupt:
        return sr_errctx_set(ec, SR_ERR_CORRUPT,
                             "proj %s: stored %s %s does not decode",
                             rc->proj->dir, sr_entity_type_name(type),
                             uuid_text(id, buf));
}

static bool tenant_is(const char *have, const char *want)
{
        return !strncmp(have, want, SR_SHORT_MAX);
}

/* Entity @p id of @p type, a pipeline run or a stage run, if
 * @p enterprise's (its own enterprise_id). */
sr_err_t sr_proj__rd_owned(struct rctx *rc, const char *enterprise,
                           sr_entity_type_t type, const sr_uuid_t *id,
                           sr_entity_t *e, sr_errctx_t *ec)
{
        sr_err_t err = sr_proj__rd_entity(rc, type, id, e, false, ec);
        const char *tenant;

        if (err)
                return err;
        tenant = type == SR_ENT_PIPELINE_RUN ? e->u.pr.enterprise_id :
                                               e->u.sr.enterprise_id;
        if (!tenant_is(tenant, enterprise))
                return sr_proj__not_found(ec, sr_entity_type_name(type), id);
        return SR_OK;
}

sr_err_t sr_proj_get_retired(sr_proj_t *proj, const char *enterprise_id,
                             const sr_uuid_t *pipeline_run_id,
                             sr_proj_retired_t *out, sr_errctx_t *ec)
{
        MDB_val k, v;
        struct rctx rc;
        sr_err_t err;
        const uint8_t *p;
        size_t elen;
        int r;

        CHECK_ARGS(proj && enterprise_id && pipeline_run_id && out);
        err = sr_proj__rd_begin(proj, &rc, ec);
        if (err)
                return err;
        k = sr_lmdb_val(pipeline_run_id->b, ID_LEN);
        r = mdb_get(rc.txn, proj->dbi[DBI_RET], &k, &v);
        p = r ? NULL : v.mv_data;
        elen = p && v.mv_size >= NOTE_FIXED ? p[NOTE_FIXED - 1] : 0;
        if (r == MDB_NOTFOUND) {
                err = sr_proj__not_found(ec, "retired run", pipeline_run_id);
        } else if (r) {
                err = sr_lmdb_err(ec, r, "proj", proj->dir, "get");
        } else if (v.mv_size < NOTE_FIXED || v.mv_size != NOTE_FIXED + elen) {
                err = sr_errctx_set(ec, SR_ERR_CORRUPT,
                                    "proj %s: a retired run's note of %zu "
                                    "bytes does not decode",
                                    proj->dir, v.mv_size);
        } else if (strlen(enterprise_id) != elen ||
                   memcmp(enterprise_id, p + NOTE_FIXED, elen)) {
                err = sr_proj__not_found(ec, "retired run", pipeline_run_id);
        } else {
                out->retired_at = i64_unkey(sr_lmdb_get_be64(p));
                out->forget_at = i64_unkey(sr_lmdb_get_be64(p + 8));
                memcpy(out->pipeline_id.b, p + 16, ID_LEN);
        }
        sr_proj__rd_end(&rc);
        return err;
}

/* A child of stage run @p parent: decode it, check its parent and the
 * parent's tenant. */
static sr_err_t rd_child(struct rctx *rc, const char *enterprise,
                         const sr_uuid_t *parent, sr_entity_type_t type,
                         const sr_uuid_t *id, sr_entity_t *e, sr_errctx_t *ec)
{
        const sr_uuid_t *have;
        sr_entity_t stage;
        sr_err_t err;

        err = sr_proj__rd_entity(rc, type, id, e,
                                 type == SR_ENT_STAGE_RUN_OPERATION, ec);
        if (err)
                return err;
        have = type == SR_ENT_TARGET_RUN ? &e->u.tr.stage_run_id :
                                           &e->u.op.stage_run_id;
        if (!sr_uuid_eq(have, parent))
                err = sr_proj__not_found(ec, sr_entity_type_name(type), id);
        else
                err = sr_proj__rd_owned(rc, enterprise, SR_ENT_STAGE_RUN,
                                        parent, &stage, ec);
        if (err && err != SR_ERR_NOT_FOUND) {
                sr_entity_fini(e);
                return err;
        }
        if (err) {
                sr_entity_fini(e);
                return sr_proj__not_found(ec, sr_entity_type_name(type), id);
        }
        return SR_OK;
}

/* What every get does, in its own snapshot: entity @p id of @p type
 * into @p e, its tenancy checked. @p parent is the path's parent: a stage
 * run's pipeline run (NULL: not checked), an operation's or target run's
 * stage run; unused for a pipeline run. */
static sr_err_t get_one(sr_proj_t *proj, const char *enterprise,
                        sr_entity_type_t type, const sr_uuid_t *parent,
                        const sr_uuid_t *id, sr_entity_t *e, sr_errctx_t *ec)
{
        struct rctx rc;
        sr_err_t err;

        err = sr_proj__rd_begin(proj, &rc, ec);
        if (err)
                return err;
        if (type == SR_ENT_PIPELINE_RUN || type == SR_ENT_STAGE_RUN)
                err = sr_proj__rd_owned(&rc, enterprise, type, id, e, ec);
        else
                err = rd_child(&rc, enterprise, parent, type, id, e, ec);
        if (!err && type == SR_ENT_STAGE_RUN && parent &&
            !sr_uuid_eq(&e->u.sr.pipeline_run_id, parent))
                err = sr_proj__not_found(ec, "stage_run", id);
        sr_proj__rd_end(&rc);
        return err;
}

sr_err_t sr_proj_get_pipeline_run(sr_proj_t *proj, const char *enterprise_id,
                                  const sr_uuid_t *id, sr_pipeline_run_t *out,
                                  sr_errctx_t *ec)
{
        sr_entity_t e;
        sr_err_t err;

        CHECK_ARGS(proj && enterprise_id && id && out);
        err = get_one(proj, enterprise_id, SR_ENT_PIPELINE_RUN, NULL, id, &e,
                      ec);
        if (!err)
                *out = e.u.pr;
        return err;
}

sr_err_t sr_proj_get_stage_run(sr_proj_t *proj, const char *enterprise_id,
                               const sr_uuid_t *pipeline_run_id,
                               const sr_uuid_t *id, sr_stage_run_t *out,
                               sr_errctx_t *ec)
{
        sr_entity_t e;
        sr_err_t err;

        CHECK_ARGS(proj && enterprise_id && id && out);
        err = get_one(proj, enterprise_id, SR_ENT_STAGE_RUN, pipeline_run_id,
                      id, &e, ec);
        if (!err)
                *out = e.u.sr;
        return err;
}

sr_err_t sr_proj_get_operation(sr_proj_t *proj, const char *enterprise_id,
                               const sr_uuid_t *stage_run_id,
                               const sr_uuid_t *id, sr_stage_run_op_t *out,
                               sr_errctx_t *ec)
{
        sr_entity_t e;
        sr_err_t err;

        CHECK_ARGS(proj && enterprise_id && stage_run_id && id && out);
        err = get_one(proj, enterprise_id, SR_ENT_STAGE_RUN_OPERATION,
                      stage_run_id, id, &e, ec);
        if (!err)
                *out = e.u.op; /* takes args_json */
        return err;
}

sr_err_t sr_proj_get_target_run(sr_proj_t *proj, const char *enterprise_id,
                                const sr_uuid_t *stage_run_id,
                                const sr_uuid_t *id, sr_target_run_t *out,
                                sr_errctx_t *ec)
{
        sr_entity_t e;
        sr_err_t err;

        CHECK_ARGS(proj && enterprise_id && stage_run_id && id && out);
        err = get_one(proj, enterprise_id, SR_ENT_TARGET_RUN, stage_run_id,
                      id, &e, ec);
        if (!err)
                *out = e.u.tr;
        return err;
}

sr_err_t sr_proj_version(sr_proj_t *proj, sr_entity_type_t type,
                         const sr_uuid_t *id, uint32_t *version,
                         sr_errctx_t *ec)
{
        struct rctx rc;
        struct stored s;
        MDB_val k, v;
        sr_err_t err;
        int r;

        CHECK_ARGS(proj && id && version);
        err = sr_proj__rd_begin(proj, &rc, ec);
        if (err)
                return err;
        k = sr_lmdb_val(id->b, ID_LEN);
        r = mdb_get(rc.txn, proj->dbi[DBI_ENT], &k, &v);
        if (r == MDB_NOTFOUND)
                err = sr_proj__not_found(ec, sr_entity_type_name(type), id);
        else if (r)
                err = sr_lmdb_err(ec, r, "proj", proj->dir, "get");
        else if (!sr_proj__parse_stored(&v, &s))
                err = sr_errctx_set(ec, SR_ERR_CORRUPT,
                                    "proj %s: stored entity does not parse",
                                    proj->dir);
        else if (s.type != type)
                err = sr_proj__not_found(ec, sr_entity_type_name(type), id);
        else
                *version = s.version;
        sr_proj__rd_end(&rc);
        return err;
}

sr_err_t sr_proj_offsets(sr_proj_t *proj, int64_t *next, int32_t n_parts,
                         sr_errctx_t *ec)
{
        struct rctx rc;
        sr_err_t err;
        int r = 0;

        CHECK_ARGS(proj && (next || n_parts == 0));
        if (n_parts < 0)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "proj: offsets: %d partitions",
                                     (int)n_parts);
        err = sr_proj__rd_begin(proj, &rc, ec);
        if (err)
                return err;
        for (int32_t p = 0; p < n_parts && !r; p++)
                r = sr_proj__offset_get(proj, rc.txn, p, &next[p]);
        sr_proj__rd_end(&rc);
        if (r)
                return sr_lmdb_err(ec, r, "proj", proj->dir, "read offsets");
        return SR_OK;
}

/* ------------------------------------------------------------ stats */

void sr_proj_stats(sr_proj_t *proj, sr_proj_stats_t *out)
{
        out->applied = atomic_load_explicit(&proj->applied,
                                            memory_order_relaxed);
        out->skipped = atomic_load_explicit(&proj->skipped,
                                            memory_order_relaxed);
        out->decodes = atomic_load_explicit(&proj->decodes,
                                            memory_order_relaxed);
        out->key_steps = atomic_load_explicit(&proj->key_steps,
                                              memory_order_relaxed);
}

sr_err_t sr_proj_size(sr_proj_t *proj, sr_proj_size_t *out, sr_errctx_t *ec)
{
        static const int dbis[] = { DBI_ENT, DBI_CLKEY, DBI_IDX, DBI_CNT,
                                    DBI_RET, DBI_EVT, DBI_CHK, DBI_DEF };
        uint64_t n[sizeof(dbis) / sizeof(dbis[0])];
        struct rctx rc;
        MDB_stat st;
        sr_err_t err;
        int r = 0;

        CHECK_ARGS(proj && out);
        err = sr_proj__rd_begin(proj, &rc, ec);
        if (err)
                return err;
        for (size_t i = 0; i < sizeof(dbis) / sizeof(dbis[0]) && !r; i++) {
                r = mdb_stat(rc.txn, proj->dbi[dbis[i]], &st);
                n[i] = st.ms_entries;
        }
        sr_proj__rd_end(&rc);
        if (r)
                return sr_lmdb_err(ec, r, "proj", proj->dir, "stat");
        err = sr_lmdb_use(proj->env, "proj", proj->dir, &out->use, ec);
        if (err)
                return err;
        out->entities = n[0];
        out->keys = n[1];
        out->index_entries = n[2];
        out->counters = n[3];
        out->retired = n[4];
        out->events = n[5];
        out->chunks = n[6];
        out->definitions = n[7];
        return SR_OK;
}
