/* common/gateway/sr_proj_defs.c - stored pipeline definitions in the
 * projection (docs/definitions.md, sections 2 and 9): SR_CL_DEF records
 * put by key, tombstones of definition keys, and the reads the gateway's
 * definition routes need (an entity by key, a stage or an operation list
 * by id alone, the records of one kind under a pipeline, the pipelines of
 * a tenant, a pipeline's last definition seq). Layout: sr_proj_int.h
 * ("def"). */
#include "sr_proj_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_lmdb.h"

#define NULL_LEN UINT32_C(0xffffffff)
#define DEF_VAL_MAX (1u << 24) /* a stored record: bounded by its wire */

/* ------------------------------------------------------------ encoding */

static void wb_reset(struct wbuf *w)
{
        w->len = 0;
        w->oom = false;
}

static void wb_add(struct wbuf *w, const void *p, size_t n)
{
        uint8_t *np;
        size_t cap;

        if (w->oom)
                return;
        if (w->len + n > w->cap) {
                cap = w->cap ? w->cap : 1024;
                while (cap < w->len + n)
                        cap *= 2;
                np = realloc(w->p, cap);
                if (!np) {
                        w->oom = true;
                        return;
                }
                w->p = np;
                w->cap = cap;
        }
        if (n)
                memcpy(w->p + w->len, p, n);
        w->len += n;
}

/* u32 length (NULL_LEN: NULL) + bytes. */
static void wb_blob(struct wbuf *w, const void *p, size_t n)
{
        uint8_t b[4];

        sr_lmdb_put_be32(b, p ? (uint32_t)n : NULL_LEN);
        wb_add(w, b, 4);
        if (p)
                wb_add(w, p, n);
}

static void wb_str(struct wbuf *w, const char *s)
{
        wb_blob(w, s, s ? strlen(s) : 0);
}

/* The size of the union member of @p kind. */
static size_t member_size(sr_def_kind_t kind)
{
        switch (kind) {
        case SR_DEF_PIPELINE:
                return sizeof(sr_def_pipeline_t);
        case SR_DEF_STAGE:
                return sizeof(sr_def_stage_t);
        case SR_DEF_TARGET_LIST:
                return sizeof(sr_def_target_list_t);
        case SR_DEF_ATTACHMENT:
                return sizeof(sr_def_attachment_t);
        case SR_DEF_OPERATION_LIST:
                return sizeof(sr_def_oplist_t);
        case SR_DEF_OPERATION:
                return sizeof(sr_def_operation_t);
        case SR_DEF_GROUP_LINK:
                return sizeof(sr_def_group_link_t);
        case SR_DEF_ACTIVE_RUN:
                return sizeof(sr_def_active_run_t);
        case SR_DEF_TARGET:
                return sizeof(sr_def_target_t);
        default:
                return 0;
        }
}

/* enterprise | member (pointers zeroed) | owned parts. */
static void enc_def(struct wbuf *w, const sr_def_record_t *r)
{
        size_t elen = bounded_len(r->enterprise_id, SR_SHORT_MAX);
        sr_def_record_t copy;
        uint8_t b = (uint8_t)elen;

        wb_reset(w);
        wb_add(w, &b, 1);
        wb_add(w, r->enterprise_id, elen);
        memcpy(&copy, r, sizeof(copy));
        switch (r->kind) {
        case SR_DEF_OPERATION:
                copy.u.operation.args_json = NULL;
                break;
        case SR_DEF_ACTIVE_RUN:
                copy.u.active_run.stage_ids = NULL;
                break;
        case SR_DEF_TARGET:
                copy.u.target.device_meta_json = NULL;
                copy.u.target.args_json = NULL;
                break;
        default:
                break;
        }
        wb_add(w, &copy.u, member_size(r->kind));
        switch (r->kind) {
        case SR_DEF_OPERATION:
                wb_str(w, r->u.operation.args_json);
                break;
        case SR_DEF_ACTIVE_RUN:
                wb_blob(w, r->u.active_run.stage_ids,
                        (size_t)r->u.active_run.n_stage_ids *
                                sizeof(sr_uuid_t));
                break;
        case SR_DEF_TARGET:
                wb_str(w, r->u.target.device_meta_json);
                wb_str(w, r->u.target.args_json);
                break;
        default:
                break;
        }
}

static bool rb_take(struct rbuf *rb, void *out, size_t n)
{
        if (rb->bad || rb->len - rb->pos < n) {
                rb->bad = true;
                return false;
        }
        memcpy(out, rb->p + rb->pos, n);
        rb->pos += n;
        return true;
}

/* A blob into a malloc'd copy (NUL added), NULL for NULL_LEN. */
static sr_err_t rb_blob(struct rbuf *rb, void **out, size_t *n)
{
        uint8_t b[4];
        uint32_t len;
        char *p;

        *out = NULL;
        if (n)
                *n = 0;
        if (!rb_take(rb, b, 4))
                return SR_ERR_CORRUPT;
        len = sr_lmdb_get_be32(b);
        if (len == NULL_LEN)
                return SR_OK;
        if (rb->len - rb->pos < len) {
                rb->bad = true;
                return SR_ERR_CORRUPT;
        }
        p = malloc((size_t)len + 1);
        if (!p)
                return SR_ERR_NOMEM;
        memcpy(p, rb->p + rb->pos, len);
        p[len] = '\0';
        rb->pos += len;
        *out = p;
        if (n)
                *n = len;
        return SR_OK;
}

/* Decode a stored record of @p kind under @p pipeline into @p r. */
static sr_err_t dec_def(const MDB_val *v, sr_def_kind_t kind,
                        const sr_uuid_t *pipeline, sr_def_record_t *r)
{
        struct rbuf rb = { v->mv_data, v->mv_size, 0, false };
        size_t msize = member_size(kind), n = 0;
        sr_err_t err = SR_OK;
        uint8_t elen;
        void *p;

        memset(r, 0, sizeof(*r));
        if (!msize || !rb_take(&rb, &elen, 1) || elen >= SR_SHORT_MAX ||
            !rb_take(&rb, r->enterprise_id, elen) ||
            !rb_take(&rb, &r->u, msize))
                return SR_ERR_CORRUPT;
        r->enterprise_id[elen] = '\0';
        r->kind = kind;
        r->pipeline_id = *pipeline;
        switch (kind) {
        case SR_DEF_OPERATION:
                r->u.operation.args_json = NULL;
                err = rb_blob(&rb, &p, NULL);
                r->u.operation.args_json = p;
                break;
        case SR_DEF_ACTIVE_RUN:
                r->u.active_run.stage_ids = NULL;
                err = rb_blob(&rb, &p, &n);
                r->u.active_run.stage_ids = p;
                if (!err && n != (size_t)r->u.active_run.n_stage_ids *
                                         sizeof(sr_uuid_t))
                        err = SR_ERR_CORRUPT;
                break;
        case SR_DEF_TARGET:
                r->u.target.device_meta_json = NULL;
                r->u.target.args_json = NULL;
                err = rb_blob(&rb, &p, NULL);
                r->u.target.device_meta_json = p;
                if (!err) {
                        err = rb_blob(&rb, &p, NULL);
                        r->u.target.args_json = p;
                }
                break;
        default:
                break;
        }
        if (!err && rb.pos != rb.len)
                err = SR_ERR_CORRUPT;
        if (err)
                sr_def_record_fini(r);
        return err;
}

/* ------------------------------------------------------------ keys */

/* 'I' | id: a stage or an operation list by id. */
static void id_key(uint8_t out[1 + ID_LEN], const sr_uuid_t *id)
{
        out[0] = 'I';
        memcpy(out + 1, id->b, ID_LEN);
}

/* 'E' | E | pipeline: the pipelines of a tenant. @returns its length. */
static size_t tenant_key(uint8_t *out, const char *enterprise,
                         const sr_uuid_t *pipeline)
{
        size_t elen = bounded_len(enterprise, SR_SHORT_MAX);

        out[0] = 'E';
        out[1] = (uint8_t)elen;
        memcpy(out + 2, enterprise, elen);
        if (pipeline)
                memcpy(out + 2 + elen, pipeline->b, ID_LEN);
        return 2 + elen + (pipeline ? ID_LEN : 0);
}

/* 'L' | list | target: the targets of a list, in target id order. */
#define LIST_KEY_LEN (1 + 2 * ID_LEN)
static void list_key(uint8_t out[LIST_KEY_LEN], const sr_uuid_t *list,
                     const sr_uuid_t *target)
{
        out[0] = 'L';
        memcpy(out + 1, list->b, ID_LEN);
        memcpy(out + 1 + ID_LEN, target->b, ID_LEN);
}

static bool indexed_by_id(sr_def_kind_t k)
{
        return k == SR_DEF_STAGE || k == SR_DEF_OPERATION_LIST;
}

/* ------------------------------------------------------------ applying */

static int del_ok(int rc)
{
        return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The stored pipeline's enterprise (to remove its tenant entry). */
static int stored_enterprise(MDB_txn *txn, MDB_dbi dbi, sr_slice_t key,
                             char out[SR_SHORT_MAX])
{
        MDB_val k = sr_lmdb_val(key.ptr, key.len), v;
        const uint8_t *p;
        int rc = mdb_get(txn, dbi, &k, &v);

        if (rc)
                return rc;
        p = v.mv_data;
        if (v.mv_size < 1 || p[0] >= SR_SHORT_MAX ||
            v.mv_size < 1u + p[0])
                return MDB_CORRUPTED;
        memcpy(out, p + 1, p[0]);
        out[p[0]] = '\0';
        return 0;
}

/* The list of the stored target under @p key. */
static int stored_target_list(MDB_txn *txn, MDB_dbi dbi, sr_slice_t key,
                              const sr_uuid_t *pipeline, sr_uuid_t *list)
{
        MDB_val k = sr_lmdb_val(key.ptr, key.len), v;
        sr_def_record_t r;
        int rc = mdb_get(txn, dbi, &k, &v);

        if (rc)
                return rc;
        if (dec_def(&v, SR_DEF_TARGET, pipeline, &r) != SR_OK)
                return MDB_CORRUPTED;
        *list = r.u.target.target_list_id;
        sr_def_record_fini(&r);
        return 0;
}

sr_err_t sr_proj__apply_def(sr_proj_txn_t *txn, sr_slice_t key,
                            const sr_def_record_t *r, sr_errctx_t *ec)
{
        sr_proj_t *proj = txn->proj;
        MDB_dbi dbi = proj->dbi[DBI_DEF];
        char want[SR_DEF_KEY_LEN], old_ent[SR_SHORT_MAX];
        uint8_t ik[1 + ID_LEN], iv[ID_LEN + 1],
                tk[2 + SR_SHORT_MAX + ID_LEN];
        uint8_t lk[LIST_KEY_LEN];
        sr_uuid_t pipeline, id, old_list;
        bool has_old_list = false;
        sr_def_kind_t kind;
        const char *op = "read";
        MDB_val k, v;
        int rc;

        if (!sr_def_key_parse(key.ptr, key.len, &pipeline, &kind, &id)) {
                if (!r)
                        return SR_OK; /* never a key of ours */
                return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                     "proj %s: a definition record under "
                                     "key \"%.*s\", not P<pipeline>/"
                                     "<letter>/<id>",
                                     proj->dir,
                                     (int)(key.len > 80 ? 80 : key.len),
                                     (const char *)key.ptr);
        }
        if (kind == SR_DEF__COUNT) {
                /* A dedupe entry's key: nothing projected. */
                if (!r)
                        return SR_OK;
                return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                     "proj %s: a definition record under a "
                                     "dedupe key",
                                     proj->dir);
        }
        if (r && (r->kind != kind ||
                  sr_def_key(r->kind, &r->pipeline_id, sr_def_record_id(r),
                             want) != key.len ||
                  memcmp(want, key.ptr, key.len)))
                return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                     "proj %s: a %s record under key "
                                     "\"%.*s\", not its own",
                                     proj->dir,
                                     sr_def_kind_name(r->kind) ?
                                             sr_def_kind_name(r->kind) :
                                             "definition",
                                     (int)key.len, (const char *)key.ptr);
        /* The tenant entry of a pipeline follows its record. */
        old_ent[0] = '\0';
        rc = 0;
        if (kind == SR_DEF_PIPELINE) {
                rc = stored_enterprise(txn->mtxn, dbi, key, old_ent);
                if (rc == MDB_NOTFOUND) {
                        old_ent[0] = '\0';
                        rc = 0;
                }
        }
        if (!rc && kind == SR_DEF_TARGET) {
                rc = stored_target_list(txn->mtxn, dbi, key, &pipeline,
                                        &old_list);
                if (rc == MDB_NOTFOUND) {
                        has_old_list = false;
                        rc = 0;
                } else if (!rc) {
                        has_old_list = true;
                }
        }
        if (rc == MDB_CORRUPTED)
                return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                     "proj %s: stored %s record does "
                                     "not decode",
                                     proj->dir, sr_def_kind_name(kind));
        if (rc)
                return sr_lmdb_err(ec, rc, "proj", proj->dir, "read");
        if (r) {
                enc_def(&proj->enc, r);
                if (proj->enc.oom)
                        return sr_errctx_set(ec, SR_ERR_NOMEM,
                                             "proj %s: encode definition",
                                             proj->dir);
        }

        /* Writes: any failure leaves the batch unusable. */
        if (old_ent[0] &&
            (!r || strncmp(old_ent, r->enterprise_id, SR_SHORT_MAX))) {
                op = "tenant index";
                k = sr_lmdb_val(tk, tenant_key(tk, old_ent, &pipeline));
                rc = del_ok(mdb_del(txn->mtxn, dbi, &k, NULL));
        }
        if (!rc && has_old_list &&
            (!r || !sr_uuid_eq(&old_list, &r->u.target.target_list_id))) {
                op = "list index";
                list_key(lk, &old_list, &id);
                k = sr_lmdb_val(lk, sizeof(lk));
                rc = del_ok(mdb_del(txn->mtxn, dbi, &k, NULL));
        }
        if (!rc && r && kind == SR_DEF_TARGET) {
                op = "list index";
                list_key(lk, &r->u.target.target_list_id, &id);
                k = sr_lmdb_val(lk, sizeof(lk));
                v = sr_lmdb_val("", 0);
                rc = mdb_put(txn->mtxn, dbi, &k, &v, 0);
        }
        if (!rc && !r) {
                op = "delete";
                k = sr_lmdb_val(key.ptr, key.len);
                rc = del_ok(mdb_del(txn->mtxn, dbi, &k, NULL));
                if (!rc && indexed_by_id(kind)) {
                        id_key(ik, &id);
                        k = sr_lmdb_val(ik, sizeof(ik));
                        rc = del_ok(mdb_del(txn->mtxn, dbi, &k, NULL));
                }
        } else if (!rc) {
                op = "put";
                k = sr_lmdb_val(key.ptr, key.len);
                v = sr_lmdb_val(proj->enc.p, proj->enc.len);
                rc = mdb_put(txn->mtxn, dbi, &k, &v, 0);
                if (!rc && indexed_by_id(kind)) {
                        op = "id index";
                        id_key(ik, &id);
                        memcpy(iv, pipeline.b, ID_LEN);
                        iv[ID_LEN] = (uint8_t)sr_def_kind_letter(kind);
                        k = sr_lmdb_val(ik, sizeof(ik));
                        v = sr_lmdb_val(iv, sizeof(iv));
                        rc = mdb_put(txn->mtxn, dbi, &k, &v, 0);
                }
                if (!rc && kind == SR_DEF_PIPELINE) {
                        op = "tenant index";
                        k = sr_lmdb_val(tk, tenant_key(tk, r->enterprise_id,
                                                       &pipeline));
                        v = sr_lmdb_val("", 0);
                        rc = mdb_put(txn->mtxn, dbi, &k, &v, 0);
                }
        }
        if (rc) {
                txn->failed = true;
                return sr_lmdb_err(ec, rc, "proj", proj->dir, op);
        }
        return SR_OK;
}

sr_err_t sr_proj_apply_def(sr_proj_txn_t *txn, int32_t partition,
                           int64_t offset, sr_slice_t key,
                           const sr_def_record_t *r, sr_errctx_t *ec)
{
        bool stale = false;
        sr_err_t err;

        CHECK_ARGS(txn);
        err = sr_proj__apply_check(txn, PROJ_OFF_CHANGELOG, partition,
                                   offset, &stale, ec);
        if (err || stale)
                return err;
        err = sr_proj__apply_def(txn, key, r, ec);
        if (err) {
                sr_errctx_prefix(ec, "proj: partition %d offset %" PRId64,
                                 (int)partition, offset);
                return err;
        }
        err = sr_proj__offset_put(txn, PROJ_OFF_CHANGELOG, partition,
                                  offset + 1, ec);
        if (!err)
                atomic_fetch_add_explicit(&txn->proj->applied, 1,
                                          memory_order_relaxed);
        return err;
}

/* ------------------------------------------------------------ reading */

static sr_err_t corrupt(sr_proj_t *proj, sr_errctx_t *ec, const char *what)
{
        return sr_errctx_set(ec, SR_ERR_CORRUPT,
                             "proj %s: stored %s record does not decode",
                             proj->dir, what);
}

/* Get and decode the record under @p key (kind @p kind) in @p rc. */
static sr_err_t rd_def(struct rctx *rc, const char *enterprise,
                       sr_def_kind_t kind, const sr_uuid_t *pipeline,
                       const sr_uuid_t *id, sr_def_record_t *out,
                       sr_errctx_t *ec)
{
        char key[SR_DEF_KEY_LEN];
        MDB_val k = sr_lmdb_val(key, sr_def_key(kind, pipeline, id, key)), v;
        const char *what = sr_def_kind_name(kind);
        sr_err_t err;
        int r;

        what = what ? what : "definition";
        r = mdb_get(rc->txn, rc->proj->dbi[DBI_DEF], &k, &v);
        if (r == MDB_NOTFOUND)
                return sr_proj__not_found(ec, what, id);
        if (r)
                return sr_lmdb_err(ec, r, "proj", rc->proj->dir, "get");
        rc->decodes++;
        err = dec_def(&v, kind, pipeline, out);
        if (err == SR_ERR_NOMEM)
                return sr_errctx_set(ec, err, "proj: decode: malloc");
        if (err)
                return corrupt(rc->proj, ec, what);
        if (strncmp(out->enterprise_id, enterprise, SR_SHORT_MAX)) {
                sr_def_record_fini(out);
                return sr_proj__not_found(ec, what, id);
        }
        return SR_OK;
}

sr_err_t sr_proj_def_get(sr_proj_t *proj, const char *enterprise_id,
                         sr_def_kind_t kind, const sr_uuid_t *pipeline_id,
                         const sr_uuid_t *id, sr_def_record_t *out,
                         sr_errctx_t *ec)
{
        struct rctx rc;
        sr_err_t err;

        CHECK_ARGS(proj && enterprise_id && pipeline_id && id && out &&
                   member_size(kind));
        err = sr_proj__rd_begin(proj, &rc, ec);
        if (err)
                return err;
        err = rd_def(&rc, enterprise_id, kind, pipeline_id, id, out, ec);
        sr_proj__rd_end(&rc);
        return err;
}

sr_err_t sr_proj_def_pipeline_of(sr_proj_t *proj, const char *enterprise_id,
                                 sr_def_kind_t kind, const sr_uuid_t *id,
                                 sr_uuid_t *pipeline_id, sr_errctx_t *ec)
{
        uint8_t ik[1 + ID_LEN];
        sr_def_record_t rec;
        struct rctx rc;
        sr_uuid_t pipe;
        MDB_val k, v;
        sr_err_t err;
        int r;

        CHECK_ARGS(proj && enterprise_id && id && pipeline_id &&
                   indexed_by_id(kind));
        err = sr_proj__rd_begin(proj, &rc, ec);
        if (err)
                return err;
        id_key(ik, id);
        k = sr_lmdb_val(ik, sizeof(ik));
        r = mdb_get(rc.txn, proj->dbi[DBI_DEF], &k, &v);
        if (r == MDB_NOTFOUND) {
                err = sr_proj__not_found(ec, sr_def_kind_name(kind), id);
        } else if (r) {
                err = sr_lmdb_err(ec, r, "proj", proj->dir, "get");
        } else if (v.mv_size != ID_LEN + 1) {
                err = corrupt(proj, ec, "id index");
        } else if (((const uint8_t *)v.mv_data)[ID_LEN] !=
                   (uint8_t)sr_def_kind_letter(kind)) {
                err = sr_proj__not_found(ec, sr_def_kind_name(kind), id);
        } else {
                memcpy(pipe.b, v.mv_data, ID_LEN);
                /* The tenant: the entity's own record says it. */
                err = rd_def(&rc, enterprise_id, kind, &pipe, id, &rec, ec);
                if (!err) {
                        sr_def_record_fini(&rec);
                        *pipeline_id = pipe;
                }
        }
        sr_proj__rd_end(&rc);
        return err;
}

void sr_proj_def_free(sr_def_record_t *items, size_t n)
{
        for (size_t i = 0; items && i < n; i++)
                sr_def_record_fini(&items[i]);
        free(items);
}

/* Append a decoded record to a growing array. */
static sr_err_t push(sr_def_record_t **items, size_t *n, size_t *cap,
                     const sr_def_record_t *r)
{
        sr_def_record_t *p;

        if (*n == *cap) {
                size_t nc = *cap ? *cap * 2 : 16;

                p = realloc(*items, nc * sizeof(*p));
                if (!p)
                        return SR_ERR_NOMEM;
                *items = p;
                *cap = nc;
        }
        (*items)[(*n)++] = *r;
        return SR_OK;
}

sr_err_t sr_proj_def_list(sr_proj_t *proj, const char *enterprise_id,
                          sr_def_kind_t kind, const sr_uuid_t *pipeline_id,
                          sr_def_record_t **items, size_t *n,
                          sr_errctx_t *ec)
{
        char prefix[SR_DEF_KEY_LEN];
        size_t plen, cap = 0;
        sr_def_record_t rec, *out = NULL;
        sr_uuid_t pipe, id;
        sr_def_kind_t kk;
        struct rctx rc;
        MDB_cursor *cur = NULL;
        MDB_val k, v;
        sr_err_t err;
        int r;

        CHECK_ARGS(proj && enterprise_id && pipeline_id && items && n &&
                   member_size(kind));
        *items = NULL;
        *n = 0;
        plen = sr_def_key_prefix(pipeline_id, prefix);
        prefix[plen++] = sr_def_kind_letter(kind);
        prefix[plen++] = '/';
        err = sr_proj__rd_begin(proj, &rc, ec);
        if (err)
                return err;
        r = mdb_cursor_open(rc.txn, proj->dbi[DBI_DEF], &cur);
        k = sr_lmdb_val(prefix, plen);
        if (!r)
                r = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        while (!r && !err) {
                if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen))
                        break;
                rc.steps++;
                if (!sr_def_key_parse(k.mv_data, k.mv_size, &pipe, &kk,
                                      &id) ||
                    kk != kind) {
                        err = corrupt(proj, ec, "definition key of a");
                        break;
                }
                rc.decodes++;
                err = dec_def(&v, kind, pipeline_id, &rec);
                if (err == SR_ERR_NOMEM) {
                        err = sr_errctx_set(ec, err, "proj: malloc");
                        break;
                }
                if (err) {
                        err = corrupt(proj, ec, sr_def_kind_name(kind));
                        break;
                }
                if (strncmp(rec.enterprise_id, enterprise_id,
                            SR_SHORT_MAX)) {
                        sr_def_record_fini(&rec);
                } else if (push(&out, n, &cap, &rec)) {
                        sr_def_record_fini(&rec);
                        err = sr_errctx_set(ec, SR_ERR_NOMEM,
                                            "proj: malloc");
                        break;
                }
                r = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        if (!err && r && r != MDB_NOTFOUND)
                err = sr_lmdb_err(ec, r, "proj", proj->dir, "scan");
        if (cur)
                mdb_cursor_close(cur);
        sr_proj__rd_end(&rc);
        if (err) {
                sr_proj_def_free(out, *n);
                *n = 0;
                return err;
        }
        *items = out;
        return SR_OK;
}

sr_err_t sr_proj_def_pipelines(sr_proj_t *proj, const char *enterprise_id,
                               sr_def_record_t **items, size_t *n,
                               sr_errctx_t *ec)
{
        uint8_t prefix[2 + SR_SHORT_MAX + ID_LEN];
        size_t plen, cap = 0;
        sr_def_record_t rec, *out = NULL;
        sr_uuid_t pipe;
        struct rctx rc;
        MDB_cursor *cur = NULL;
        MDB_val k, v;
        sr_err_t err;
        int r;

        CHECK_ARGS(proj && enterprise_id && items && n);
        *items = NULL;
        *n = 0;
        plen = tenant_key(prefix, enterprise_id, NULL);
        err = sr_proj__rd_begin(proj, &rc, ec);
        if (err)
                return err;
        r = mdb_cursor_open(rc.txn, proj->dbi[DBI_DEF], &cur);
        k = sr_lmdb_val(prefix, plen);
        if (!r)
                r = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        while (!r && !err) {
                if (k.mv_size != plen + ID_LEN ||
                    memcmp(k.mv_data, prefix, plen))
                        break;
                rc.steps++;
                memcpy(pipe.b, (const uint8_t *)k.mv_data + plen, ID_LEN);
                err = rd_def(&rc, enterprise_id, SR_DEF_PIPELINE, &pipe,
                             &pipe, &rec, ec);
                if (err)
                        break;
                if (push(&out, n, &cap, &rec)) {
                        sr_def_record_fini(&rec);
                        err = sr_errctx_set(ec, SR_ERR_NOMEM,
                                            "proj: malloc");
                        break;
                }
                r = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        if (!err && r && r != MDB_NOTFOUND)
                err = sr_lmdb_err(ec, r, "proj", proj->dir, "scan");
        if (cur)
                mdb_cursor_close(cur);
        sr_proj__rd_end(&rc);
        if (err) {
                sr_proj_def_free(out, *n);
                *n = 0;
                return err;
        }
        *items = out;
        return SR_OK;
}

sr_err_t sr_proj_def_last_seq(sr_proj_t *proj, const sr_uuid_t *pipeline_id,
                              uint64_t *seq, sr_errctx_t *ec)
{
        char key[SR_DEF_KEY_LEN];
        sr_def_record_t rec;
        struct rctx rc;
        MDB_val k, v;
        sr_err_t err;
        int r;

        CHECK_ARGS(proj && pipeline_id && seq);
        err = sr_proj__rd_begin(proj, &rc, ec);
        if (err)
                return err;
        k = sr_lmdb_val(key, sr_def_key(SR_DEF_PIPELINE, pipeline_id,
                                        pipeline_id, key));
        r = mdb_get(rc.txn, proj->dbi[DBI_DEF], &k, &v);
        if (r == MDB_NOTFOUND) {
                err = sr_proj__not_found(ec, "pipeline", pipeline_id);
        } else if (r) {
                err = sr_lmdb_err(ec, r, "proj", proj->dir, "get");
        } else {
                rc.decodes++;
                err = dec_def(&v, SR_DEF_PIPELINE, pipeline_id, &rec);
                if (err == SR_ERR_NOMEM)
                        err = sr_errctx_set(ec, err, "proj: malloc");
                else if (err)
                        err = corrupt(proj, ec, "pipeline");
                else
                        *seq = rec.u.pipeline.last_seq;
        }
        sr_proj__rd_end(&rc);
        return err;
}

sr_err_t sr_proj_def_targets(sr_proj_t *proj, const char *enterprise_id,
                             const sr_uuid_t *pipeline_id,
                             const sr_uuid_t *list_id, uint64_t offset,
                             const sr_uuid_t *after, uint32_t limit,
                             sr_def_record_t **items, size_t *n, bool *more,
                             sr_errctx_t *ec)
{
        uint8_t lk[LIST_KEY_LEN];
        sr_def_record_t rec, *out = NULL;
        sr_uuid_t tid, zero = { { 0 } };
        size_t cap = 0;
        uint64_t skipped = 0;
        struct rctx rc;
        MDB_cursor *cur = NULL;
        MDB_val k, v;
        sr_err_t err;
        int r;

        CHECK_ARGS(proj && enterprise_id && pipeline_id && list_id && items &&
                   n && more);
        *items = NULL;
        *n = 0;
        *more = false;
        list_key(lk, list_id, after ? after : &zero);
        err = sr_proj__rd_begin(proj, &rc, ec);
        if (err)
                return err;
        r = mdb_cursor_open(rc.txn, proj->dbi[DBI_DEF], &cur);
        k = sr_lmdb_val(lk, sizeof(lk));
        if (!r)
                r = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        /* A cursor names the last target of the page before: after it. */
        if (!r && after && k.mv_size == sizeof(lk) &&
            !memcmp(k.mv_data, lk, sizeof(lk)))
                r = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        while (!r && !err) {
                if (k.mv_size != sizeof(lk) ||
                    memcmp(k.mv_data, lk, 1 + ID_LEN))
                        break;
                rc.steps++;
                if (skipped < offset) {
                        skipped++;
                } else if (*n == limit) {
                        *more = true;
                        break;
                } else {
                        memcpy(tid.b, (const uint8_t *)k.mv_data + 1 + ID_LEN,
                               ID_LEN);
                        err = rd_def(&rc, enterprise_id, SR_DEF_TARGET,
                                     pipeline_id, &tid, &rec, ec);
                        if (err == SR_ERR_NOT_FOUND) {
                                /* another pipeline's list id, or tenant:
                                 * not ours */
                                err = SR_OK;
                        } else if (!err && push(&out, n, &cap, &rec)) {
                                sr_def_record_fini(&rec);
                                err = sr_errctx_set(ec, SR_ERR_NOMEM,
                                                    "proj: malloc");
                        }
                }
                if (!err)
                        r = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        if (!err && r && r != MDB_NOTFOUND)
                err = sr_lmdb_err(ec, r, "proj", proj->dir, "scan");
        if (cur)
                mdb_cursor_close(cur);
        sr_proj__rd_end(&rc);
        if (err) {
                sr_proj_def_free(out, *n);
                *n = 0;
                return err;
        }
        *items = out;
        return SR_OK;
}
