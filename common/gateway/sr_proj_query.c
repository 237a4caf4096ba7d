/* common/gateway/sr_proj_query.c - the projection's lists: range walks
 * over the index, paging, page decoding, and the list queries with their
 * orderings (pipeline runs sorted in memory on index summaries), and the
 * `ordering` names. */
#include "sr_proj_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sr_lmdb.h"

/* ------------------------------------------------------------ scans */

/* A range scan over the idx keys starting with a prefix. */
struct walk {
        struct rctx *rc;
        const uint8_t *prefix;
        size_t plen;
        bool desc, started;
        const uint8_t *after; /* sort part to start after; NULL: none */
        size_t alen;
};

/* Position on the first key after (before, descending) prefix | after:
 * the keyset seek, O(log n). */
static int seek_after(struct walk *w, MDB_val *k, MDB_val *v)
{
        uint8_t key[IK_MAX];
        size_t n = w->plen + w->alen;
        int r;

        memcpy(key, w->prefix, w->plen);
        memcpy(key + w->plen, w->after, w->alen);
        *k = sr_lmdb_val(key, n);
        r = mdb_cursor_get(w->rc->cur, k, v, MDB_SET_RANGE);
        if (w->desc) {
                if (r == MDB_NOTFOUND)
                        return mdb_cursor_get(w->rc->cur, k, v, MDB_LAST);
                return r ? r : mdb_cursor_get(w->rc->cur, k, v, MDB_PREV);
        }
        if (!r && k->mv_size == n && !memcmp(k->mv_data, key, n))
                r = mdb_cursor_get(w->rc->cur, k, v, MDB_NEXT);
        return r;
}

/* Position on the last key starting with the prefix. */
static int seek_last(struct walk *w, MDB_val *k, MDB_val *v)
{
        uint8_t up[IK_MAX];
        size_t n = w->plen;
        int r;

        memcpy(up, w->prefix, n);
        while (n > 0 && up[n - 1] == 0xFF)
                n--;
        if (n == 0)
                return mdb_cursor_get(w->rc->cur, k, v, MDB_LAST);
        up[n - 1]++; /* the first key after every prefixed one */
        *k = sr_lmdb_val(up, n);
        r = mdb_cursor_get(w->rc->cur, k, v, MDB_SET_RANGE);
        if (r == MDB_NOTFOUND)
                return mdb_cursor_get(w->rc->cur, k, v, MDB_LAST);
        if (r)
                return r;
        return mdb_cursor_get(w->rc->cur, k, v, MDB_PREV);
}

/* Next key of the range. @returns 0, MDB_NOTFOUND at its end, or an
 * LMDB error. */
static int walk_next(struct walk *w, MDB_val *k, MDB_val *v)
{
        int r;

        w->rc->steps++;
        if (w->started) {
                r = mdb_cursor_get(w->rc->cur, k, v,
                                   w->desc ? MDB_PREV : MDB_NEXT);
        } else if (w->after) {
                w->started = true;
                r = seek_after(w, k, v);
        } else if (w->desc) {
                w->started = true;
                r = seek_last(w, k, v);
        } else {
                w->started = true;
                *k = sr_lmdb_val(w->prefix, w->plen);
                r = mdb_cursor_get(w->rc->cur, k, v, MDB_SET_RANGE);
        }
        if (r)
                return r;
        if (k->mv_size < w->plen + ID_LEN ||
            memcmp(k->mv_data, w->prefix, w->plen))
                return MDB_NOTFOUND;
        return 0;
}

static int walk_start(struct rctx *rc, struct walk *w, const uint8_t *prefix,
                      size_t plen, bool desc)
{
        w->rc = rc;
        w->prefix = prefix;
        w->plen = plen;
        w->desc = desc;
        w->started = false;
        w->after = NULL;
        w->alen = 0;
        if (rc->cur)
                return 0;
        return mdb_cursor_open(rc->txn, rc->proj->dbi[DBI_IDX], &rc->cur);
}

/* Ids of a page, in order, and its keyset state. */
struct idvec {
        sr_uuid_t *v;
        size_t n, cap;
        bool keyset;               /* look one entry past the page */
        bool more;                 /* keyset: an entry follows the page */
        const uint8_t *after;      /* keyset: start after this sort part */
        size_t alen, llen;
        uint8_t cur[IK_MAX];       /* the decoded cursor (after) */
        uint8_t last[IK_MAX];      /* sort part of the last key pushed */
};

static bool idvec_push(struct idvec *iv, const void *id16)
{
        if (iv->n == iv->cap) {
                size_t cap = iv->cap ? iv->cap * 2 : 32;
                sr_uuid_t *p = realloc(iv->v, cap * sizeof(*p));

                if (!p)
                        return false;
                iv->v = p;
                iv->cap = cap;
        }
        memcpy(iv->v[iv->n++].b, id16, ID_LEN);
        return true;
}

/* The id is the last 16 bytes of every idx key. */
static const uint8_t *key_id(const MDB_val *k)
{
        return (const uint8_t *)k->mv_data + k->mv_size - ID_LEN;
}

/* Push the id of @p k, an idx key whose prefix is @p plen bytes, and
 * keep its sort part for the next cursor. */
static bool page_push(struct idvec *ids, const MDB_val *k, size_t plen)
{
        ids->llen = k->mv_size - plen;
        memcpy(ids->last, (const uint8_t *)k->mv_data + plen, ids->llen);
        return idvec_push(ids, key_id(k));
}

/* Skip @p skip keys of the range (or, keyset, start after ids->after),
 * then collect up to @p limit ids: at most skip + limit + 1 key steps
 * (keyset: a seek and limit + 1 steps, the last one to see whether an
 * entry follows). @returns 0 or an LMDB error or ENOMEM. */
static int walk_page(struct rctx *rc, const uint8_t *prefix, size_t plen,
                     bool desc, uint64_t skip, uint64_t limit,
                     struct idvec *ids, size_t *got)
{
        struct walk w;
        MDB_val k, v;
        int r;

        *got = 0;
        if (limit == 0)
                return 0;
        r = walk_start(rc, &w, prefix, plen, desc);
        w.after = ids->after;
        w.alen = ids->alen;
        while (!r && (r = walk_next(&w, &k, &v)) == 0) {
                if (skip) {
                        skip--;
                        continue;
                }
                if (*got == limit) {
                        ids->more = true; /* the keyset look-ahead */
                        break;
                }
                if (!page_push(ids, &k, plen))
                        return ENOMEM;
                if (++*got == limit && !ids->keyset)
                        break;
        }
        return r == MDB_NOTFOUND ? 0 : r;
}

/* ------------------------------------------------------------ cursors */

/* Cursor bytes: version | index tag | direction | identity hash (u32) |
 * sort part of the last key; as lowercase hex. */
#define CUR_VERSION 1
#define CUR_HEAD 7

/* Bytes of the sort part of the keys of index @p tag (sr_proj_int.h). */
static size_t sort_len(uint8_t tag)
{
        switch (tag) {
        case TAG_SR:
        case TAG_OP:
        case TAG_TR_OP:
        case TAG_TR_OP_ST:
                return 4 + ID_LEN; /* index | id */
        case TAG_TGT:
                return ID_LEN; /* device id */
        default:
                return 8 + ID_LEN; /* created_at | id; op | target | id */
        }
}

/* FNV-1a of the list's identity: its index prefix and @p extra (a
 * filter the prefix does not hold, or 0xFF). */
static uint32_t list_ident(const uint8_t *prefix, size_t plen, uint8_t extra)
{
        uint32_t h = 2166136261u;

        for (size_t i = 0; i < plen; i++)
                h = (h ^ prefix[i]) * 16777619u;
        return (h ^ extra) * 16777619u;
}

static int unhex(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

/* Decode q->cursor for the list of index @p prefix (identity @p ident,
 * direction @p desc) into ids->after; ids->keyset set. */
static sr_err_t cursor_open(const sr_proj_query_t *q, const uint8_t *prefix,
                            uint32_t ident, bool desc, struct idvec *ids,
                            sr_errctx_t *ec)
{
        size_t len, want = CUR_HEAD + sort_len(prefix[0]);
        uint8_t b[CUR_HEAD + 8 + ID_LEN];
        int hi, lo;

        ids->keyset = true;
        if (!q->cursor)
                return SR_OK;
        if (q->offset)
                return sr_errctx_set(ec, SR_ERR_INVALID, "cursor: give "
                                     "cursor or offset, not both");
        len = strlen(q->cursor);
        if (len != 2 * want)
                return sr_errctx_set(ec, SR_ERR_INVALID, "cursor: malformed "
                                     "(%zu characters): pass the cursor of "
                                     "a `next` link unchanged", len);
        for (size_t i = 0; i < want; i++) {
                hi = unhex(q->cursor[2 * i]);
                lo = unhex(q->cursor[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return sr_errctx_set(ec, SR_ERR_INVALID, "cursor: "
                                             "malformed (not lowercase "
                                             "hex): pass the cursor of a "
                                             "`next` link unchanged");
                b[i] = (uint8_t)(hi << 4 | lo);
        }
        if (b[0] != CUR_VERSION || b[1] != prefix[0] || b[2] != desc ||
            sr_lmdb_get_be32(b + 3) != ident)
                return sr_errctx_set(ec, SR_ERR_INVALID, "cursor: made by "
                                     "another list, filter or ordering "
                                     "than this one; start again without "
                                     "a cursor");
        ids->alen = want - CUR_HEAD;
        memcpy(ids->cur, b + CUR_HEAD, ids->alen);
        ids->after = ids->cur;
        return SR_OK;
}

/* Tell q->page how the page continues (keyset lists). */
static void cursor_emit(const sr_proj_query_t *q, const uint8_t *prefix,
                        uint32_t ident, bool desc, const struct idvec *ids)
{
        static const char hex[] = "0123456789abcdef";
        uint8_t b[CUR_HEAD + IK_MAX];
        size_t n = CUR_HEAD + ids->llen;
        char *o;

        if (!q->page)
                return;
        q->page->keyset = true;
        q->page->next[0] = '\0';
        if (!ids->more || !ids->n || ids->llen != sort_len(prefix[0]))
                return;
        b[0] = CUR_VERSION;
        b[1] = prefix[0];
        b[2] = desc;
        sr_lmdb_put_be32(b + 3, ident);
        memcpy(b + CUR_HEAD, ids->last, ids->llen);
        o = q->page->next;
        for (size_t i = 0; i < n; i++) {
                *o++ = hex[b[i] >> 4];
                *o++ = hex[b[i] & 15];
        }
        *o = '\0';
}

/* A list or ordering that pages by offset only. */
static sr_err_t cursor_refuse(const sr_proj_query_t *q, sr_errctx_t *ec)
{
        if (q->page) {
                q->page->keyset = false;
                q->page->next[0] = '\0';
        }
        if (!q->cursor)
                return SR_OK;
        return sr_errctx_set(ec, SR_ERR_INVALID, "cursor: not offered with "
                             "this ordering; page with offset");
}

/* Decode the page's entities into a new array of @p size-byte items. */
static sr_err_t decode_page(struct rctx *rc, sr_entity_type_t type,
                            const struct idvec *ids, size_t size,
                            void **items, sr_errctx_t *ec)
{
        uint8_t *arr;
        sr_entity_t e;
        sr_err_t err = SR_OK;
        size_t i;

        *items = NULL;
        if (!ids->n)
                return SR_OK;
        arr = calloc(ids->n, size);
        if (!arr)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "proj: list: calloc");
        for (i = 0; i < ids->n && !err; i++) {
                err = sr_proj__rd_entity(rc, type, &ids->v[i], &e,
                                         type == SR_ENT_STAGE_RUN_OPERATION,
                                         ec);
                if (err == SR_ERR_NOT_FOUND)
                        err = sr_errctx_set(ec, SR_ERR_CORRUPT,
                                            "proj %s: index names a "
                                            "missing %s",
                                            rc->proj->dir,
                                            sr_entity_type_name(type));
                if (!err)
                        memcpy(arr + i * size, &e.u, size);
        }
        if (err) {
                if (type == SR_ENT_STAGE_RUN_OPERATION)
                        sr_proj_ops_free((sr_stage_run_op_t *)(void *)arr,
                                         i);
                else
                        free(arr);
                return err;
        }
        *items = arr;
        return SR_OK;
}

static sr_err_t scan_err(struct rctx *rc, int r, sr_errctx_t *ec)
{
        if (r == ENOMEM)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "proj: list: malloc");
        return sr_lmdb_err(ec, r, "proj", rc->proj->dir, "list");
}

/* ------------------------------------------------------------ lists */

/* Pipeline-run summary, parsed for the in-memory sort. */
struct prsum {
        uint8_t id[ID_LEN];
        int64_t created, started, ended;
        int32_t run_number;
        uint8_t rank, name_len;
        const uint8_t *name; /* into the snapshot */
};

/* The sort keys, most significant first; key[0] is never DEFAULT. */
struct prsort {
        uint32_t n;
        sr_proj_sort_key_t key[1 + SR_PROJ_MAX_THEN];
};

static bool prsum_parse(const MDB_val *k, const MDB_val *v, struct prsum *s)
{
        const uint8_t *p = v->mv_data;

        if (v->mv_size < PRSUM_FIXED ||
            v->mv_size != (size_t)PRSUM_FIXED + p[29])
                return false;
        memcpy(s->id, key_id(k), ID_LEN);
        s->rank = p[0];
        s->run_number = (int32_t)sr_lmdb_get_be32(p + 1);
        s->created = i64_unkey(sr_lmdb_get_be64(p + 5));
        s->started = i64_unkey(sr_lmdb_get_be64(p + 13));
        s->ended = i64_unkey(sr_lmdb_get_be64(p + 21));
        s->name_len = p[29];
        s->name = p + PRSUM_FIXED;
        return true;
}

static int cmp_i64(int64_t a, int64_t b)
{
        return (a > b) - (a < b);
}

/* 0 (unset) after every set time: NULLS LAST ascending. */
static int64_t time_or_max(int64_t t)
{
        return t ? t : INT64_MAX;
}

/* One key, ascending. */
static int prsum_key_cmp(const struct prsum *a, const struct prsum *b,
                         sr_proj_order_t order)
{
        size_t n;
        int c = 0;

        switch (order) {
        case SR_PROJ_ORDER_RUN_NUMBER:
                c = cmp_i64(a->run_number, b->run_number);
                break;
        case SR_PROJ_ORDER_STATUS:
                c = cmp_i64(a->rank, b->rank);
                break;
        case SR_PROJ_ORDER_PIPELINE_NAME:
                n = a->name_len < b->name_len ? a->name_len : b->name_len;
                c = memcmp(a->name, b->name, n);
                if (!c)
                        c = cmp_i64(a->name_len, b->name_len);
                break;
        case SR_PROJ_ORDER_STARTED_AT:
                c = cmp_i64(time_or_max(a->started),
                            time_or_max(b->started));
                break;
        case SR_PROJ_ORDER_ENDED_AT:
                c = cmp_i64(time_or_max(a->ended), time_or_max(b->ended));
                break;
        case SR_PROJ_ORDER_CREATED_AT:
                c = cmp_i64(a->created, b->created);
                break;
        default:
                break;
        }
        return c;
}

/* Every key in its own direction; entries equal on all of them follow
 * (created_at, id) in the first key's direction, so that flipping every
 * key's direction gives the exact reverse order, ties included. */
static int prsum_cmp(const void *pa, const void *pb, void *arg)
{
        const struct prsum *a = pa, *b = pb;
        const struct prsort *how = arg;
        int c;

        for (uint32_t i = 0; i < how->n; i++) {
                c = prsum_key_cmp(a, b, how->key[i].order);
                if (c)
                        return how->key[i].desc ? -c : c;
        }
        c = cmp_i64(a->created, b->created);
        if (!c)
                c = memcmp(a->id, b->id, ID_LEN);
        return how->key[0].desc ? -c : c;
}

static bool str_fits(const char *s, size_t cap)
{
        return strnlen(s, cap) < cap;
}

static sr_err_t check_query(const sr_proj_query_t *q, sr_errctx_t *ec)
{
        if (q->has_status && (unsigned)q->status >= SR_ST__COUNT)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "proj: list: status %d",
                                     (int)q->status);
        if ((unsigned)q->order >= SR_PROJ_ORDER__COUNT)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "proj: list: ordering %d",
                                     (int)q->order);
        if (q->n_then > SR_PROJ_MAX_THEN ||
            (q->n_then && q->order == SR_PROJ_ORDER_DEFAULT))
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "proj: list: %u further sort keys "
                                     "after ordering %d", q->n_then,
                                     (int)q->order);
        for (uint32_t i = 0; i < q->n_then; i++)
                if (q->then[i].order == SR_PROJ_ORDER_DEFAULT ||
                    (unsigned)q->then[i].order >= SR_PROJ_ORDER__COUNT)
                        return sr_errctx_set(ec, SR_ERR_INVALID,
                                             "proj: list: sort key %u: "
                                             "ordering %d", i + 2,
                                             (int)q->then[i].order);
        return SR_OK;
}

static sr_err_t bad_order(const sr_proj_query_t *q, const char *list,
                          sr_errctx_t *ec)
{
        if (q->n_then)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "proj: list %s: one sort key at most",
                                     list);
        return sr_errctx_set(ec, SR_ERR_INVALID,
                             "proj: list %s: ordering %d not offered", list,
                             (int)q->order);
}

/* Index prefix of a pipeline-run list (see the table in sr_proj_int.h). */
static void pr_prefix(struct ient *ie, const char *enterprise,
                      const sr_proj_query_t *q)
{
        uint8_t tag;

        if (q->pipeline_id)
                tag = q->has_status ? TAG_PR_PIPE_ST : TAG_PR_PIPE;
        else if (q->pipeline_name)
                tag = q->has_status ? TAG_PR_NAME_ST : TAG_PR_NAME;
        else
                tag = q->has_status ? TAG_PR_ST : TAG_PR;
        ie->klen = 0;
        sr_proj__k_u8(ie, tag);
        sr_proj__k_str8(ie, enterprise, SR_SHORT_MAX);
        if (q->pipeline_id)
                sr_proj__k_bytes(ie, q->pipeline_id->b, ID_LEN);
        else if (q->pipeline_name)
                sr_proj__k_str8(ie, q->pipeline_name, SR_NAME_MAX);
        if (q->has_status)
                sr_proj__k_u8(ie, sr_proj__status_rank(q->status));
        ie->plen = ie->klen;
}

/* Every matching summary, in key (created_at) order. */
static int pr_collect(struct rctx *rc, const struct ient *pre,
                      const char *name, struct prsum **out, size_t *n)
{
        size_t cap = 0, name_len = name ? strlen(name) : 0;
        struct prsum *arr = NULL, s, *p;
        struct walk w;
        MDB_val k, v;
        int r;

        *n = 0;
        r = walk_start(rc, &w, pre->key, pre->plen, false);
        while (!r && (r = walk_next(&w, &k, &v)) == 0) {
                if (!prsum_parse(&k, &v, &s)) {
                        r = MDB_CORRUPTED;
                        break;
                }
                if (name && (s.name_len != name_len ||
                             memcmp(s.name, name, name_len)))
                        continue;
                if (*n == cap) {
                        cap = cap ? cap * 2 : 64;
                        p = realloc(arr, cap * sizeof(*arr));
                        if (!p) {
                                r = ENOMEM;
                                break;
                        }
                        arr = p;
                }
                arr[(*n)++] = s;
        }
        *out = arr;
        return r == MDB_NOTFOUND ? 0 : r;
}

sr_err_t sr_proj_list_pipeline_runs(sr_proj_t *proj, const char *enterprise_id,
                                    const sr_proj_query_t *q,
                                    sr_pipeline_run_t **items, size_t *n,
                                    uint64_t *count, sr_errctx_t *ec)
{
        struct prsort how = { 0 };
        struct idvec ids = { 0 };
        struct prsum *sums = NULL;
        struct ient pre;
        struct rctx rc;
        uint64_t total = 0;
        size_t got, n_sums, i;
        void *arr = NULL;
        sr_err_t err;
        int r;

        CHECK_ARGS(proj && enterprise_id && q && items && n && count);
        err = check_query(q, ec);
        if (err)
                return err;
        if (!str_fits(enterprise_id, SR_SHORT_MAX) ||
            (q->pipeline_name && !str_fits(q->pipeline_name, SR_NAME_MAX))) {
                *items = NULL; /* no stored run can have these */
                *n = 0;
                *count = 0;
                return SR_OK;
        }
        how.n = 1 + q->n_then;
        how.key[0].order = q->order;
        how.key[0].desc = q->desc;
        memcpy(how.key + 1, q->then, q->n_then * sizeof(q->then[0]));
        if (q->order == SR_PROJ_ORDER_DEFAULT) {
                how.key[0].order = SR_PROJ_ORDER_CREATED_AT;
                how.key[0].desc = true;
        }
        pr_prefix(&pre, enterprise_id, q);
        err = sr_proj__rd_begin(proj, &rc, ec);
        if (err)
                return err;
        if (how.n == 1 && how.key[0].order == SR_PROJ_ORDER_CREATED_AT &&
            !(q->pipeline_id && q->pipeline_name)) {
                /* The index order itself: a page is offset + limit steps,
                 * or a seek and limit steps after a cursor. */
                uint32_t ident = list_ident(pre.key, pre.plen, 0xFF);

                err = cursor_open(q, pre.key, ident, how.key[0].desc, &ids,
                                  ec);
                if (err)
                        goto out;
                r = sr_proj__cnt_get(rc.txn, proj->dbi[DBI_CNT], pre.key,
                                     pre.plen, &total);
                if (!r)
                        r = walk_page(&rc, pre.key, pre.plen, how.key[0].desc,
                                      q->offset, q->limit, &ids, &got);
                if (!r)
                        cursor_emit(q, pre.key, ident, how.key[0].desc, &ids);
        } else {
                err = cursor_refuse(q, ec);
                if (err)
                        goto out;
                /* Filter and sort summaries: n steps, no decodes. */
                r = pr_collect(&rc, &pre,
                               q->pipeline_id ? q->pipeline_name : NULL,
                               &sums, &n_sums);
                if (!r) {
                        total = n_sums;
                        if (n_sums > 1)
                                qsort_r(sums, n_sums, sizeof(*sums),
                                        prsum_cmp, &how);
                        for (i = q->offset; i < n_sums &&
                                            ids.n < q->limit; i++)
                                if (!idvec_push(&ids, sums[i].id)) {
                                        r = ENOMEM;
                                        break;
                                }
                }
        }
        if (r)
                err = scan_err(&rc, r, ec);
        else
                err = decode_page(&rc, SR_ENT_PIPELINE_RUN, &ids,
                                  sizeof(sr_pipeline_run_t), &arr, ec);
out:
        sr_proj__rd_end(&rc);
        free(sums);
        if (!err) {
                *items = arr;
                *n = ids.n;
                *count = total;
        }
        free(ids.v);
        return err;
}

/* Stage runs and operations: few per parent. Without a status filter the
 * counter and a page walk; with one, a walk over the parent's entries
 * reading the status rank from the index value. */
static int small_list(struct rctx *rc, const uint8_t *pre, size_t plen,
                      const sr_proj_query_t *q, struct idvec *ids,
                      uint64_t *total)
{
        uint8_t want = q->has_status ? sr_proj__status_rank(q->status) : 0;
        uint64_t idx = 0;
        struct walk w;
        MDB_val k, v;
        size_t got;
        int r;

        if (!q->has_status) {
                r = sr_proj__cnt_get(rc->txn, rc->proj->dbi[DBI_CNT], pre,
                                     plen, total);
                return r ? r : walk_page(rc, pre, plen, false, q->offset,
                                         q->limit, ids, &got);
        }
        /* The whole parent for the count; the page starts at offset, or
         * after the cursor's entry (the same sort-part length). */
        *total = 0;
        r = walk_start(rc, &w, pre, plen, false);
        while (!r && (r = walk_next(&w, &k, &v)) == 0) {
                if (v.mv_size != 1) {
                        r = MDB_CORRUPTED;
                        break;
                }
                if (*(const uint8_t *)v.mv_data != want)
                        continue;
                ++*total;
                if (idx++ < q->offset ||
                    (ids->after && k.mv_size == plen + ids->alen &&
                     memcmp((const uint8_t *)k.mv_data + plen, ids->after,
                            ids->alen) <= 0))
                        continue;
                if (ids->n == q->limit) {
                        ids->more = q->limit > 0;
                        continue;
                }
                if (!page_push(ids, &k, plen)) {
                        r = ENOMEM;
                        break;
                }
        }
        return r == MDB_NOTFOUND ? 0 : r;
}

/* Stage runs of pipeline run @p parent (@p type SR_ENT_STAGE_RUN) or
 * operations of stage run @p parent: the parent's tenancy, small_list(),
 * the page's decode. *items, *n and *count set on SR_OK only. */
static sr_err_t list_small(sr_proj_t *proj, const char *enterprise,
                           sr_entity_type_t type, const sr_uuid_t *parent,
                           const sr_proj_query_t *q, void **items, size_t *n,
                           uint64_t *count, sr_errctx_t *ec)
{
        bool stages = type == SR_ENT_STAGE_RUN;
        struct idvec ids = { 0 };
        uint64_t total = 0;
        uint8_t pre[1 + ID_LEN];
        uint32_t ident;
        struct rctx rc;
        void *arr = NULL;
        sr_entity_t owner;
        sr_err_t err;
        int r;

        pre[0] = stages ? TAG_SR : TAG_OP;
        memcpy(pre + 1, parent->b, ID_LEN);
        ident = list_ident(pre, sizeof(pre),
                           q->has_status ? sr_proj__status_rank(q->status) :
                                           0xFF);
        err = cursor_open(q, pre, ident, false, &ids, ec);
        if (err)
                return err;
        err = sr_proj__rd_begin(proj, &rc, ec);
        if (err) {
                free(ids.v);
                return err;
        }
        err = sr_proj__rd_owned(&rc, enterprise,
                                stages ? SR_ENT_PIPELINE_RUN :
                                         SR_ENT_STAGE_RUN,
                                parent, &owner, ec);
        if (!err) {
                r = small_list(&rc, pre, sizeof(pre), q, &ids, &total);
                if (!r)
                        cursor_emit(q, pre, ident, false, &ids);
                err = r ? scan_err(&rc, r, ec) :
                          decode_page(&rc, type, &ids,
                                      stages ? sizeof(sr_stage_run_t) :
                                               sizeof(sr_stage_run_op_t),
                                      &arr, ec);
        }
        sr_proj__rd_end(&rc);
        if (!err) {
                *items = arr;
                *n = ids.n;
                *count = total;
        }
        free(ids.v);
        return err;
}

sr_err_t sr_proj_list_stage_runs(sr_proj_t *proj, const char *enterprise_id,
                                 const sr_uuid_t *pipeline_run_id,
                                 const sr_proj_query_t *q,
                                 sr_stage_run_t **items, size_t *n,
                                 uint64_t *count, sr_errctx_t *ec)
{
        void *arr;
        sr_err_t err;

        CHECK_ARGS(proj && enterprise_id && pipeline_run_id && q && items &&
                   n && count);
        err = check_query(q, ec);
        if (err)
                return err;
        if (q->order != SR_PROJ_ORDER_DEFAULT)
                return bad_order(q, "stage_runs", ec);
        err = list_small(proj, enterprise_id, SR_ENT_STAGE_RUN,
                         pipeline_run_id, q, &arr, n, count, ec);
        if (!err)
                *items = arr;
        return err;
}

sr_err_t sr_proj_list_operations(sr_proj_t *proj, const char *enterprise_id,
                                 const sr_uuid_t *stage_run_id,
                                 const sr_proj_query_t *q,
                                 sr_stage_run_op_t **items, size_t *n,
                                 uint64_t *count, sr_errctx_t *ec)
{
        void *arr;
        sr_err_t err;

        CHECK_ARGS(proj && enterprise_id && stage_run_id && q && items && n &&
                   count);
        err = check_query(q, ec);
        if (err)
                return err;
        if (q->has_status)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "proj: list operations: no status");
        if (q->order != SR_PROJ_ORDER_DEFAULT)
                return bad_order(q, "operations", ec);
        err = list_small(proj, enterprise_id, SR_ENT_STAGE_RUN_OPERATION,
                         stage_run_id, q, &arr, n, count, ec);
        if (!err)
                *items = arr;
        return err;
}

void sr_proj_ops_free(sr_stage_run_op_t *ops, size_t n)
{
        if (!ops)
                return;
        for (size_t i = 0; i < n; i++)
                free(ops[i].args_json);
        free(ops);
}

/* Target runs ordered by status without a status filter: one bucket per
 * status, in rank order; the counters skip whole buckets. */
static int tr_by_status(struct rctx *rc, const uint8_t *base, size_t blen,
                        const sr_proj_query_t *q, struct idvec *ids,
                        uint64_t *total)
{
        uint64_t counts[SR_ST__COUNT], skip = q->offset;
        uint8_t pre[IK_MAX];
        size_t got;
        int r = 0, i;

        memcpy(pre, base, blen);
        *total = 0;
        for (i = 0; i < SR_ST__COUNT && !r; i++) {
                pre[blen] = (uint8_t)i;
                r = sr_proj__cnt_get(rc->txn, rc->proj->dbi[DBI_CNT], pre,
                                     blen + 1, &counts[i]);
                *total += counts[i];
        }
        for (i = 0; i < SR_ST__COUNT && !r && ids->n < q->limit; i++) {
                int b = q->desc ? SR_ST__COUNT - 1 - i : i;

                if (skip >= counts[b]) {
                        skip -= counts[b];
                        continue;
                }
                pre[blen] = (uint8_t)b;
                r = walk_page(rc, pre, blen + 1, q->desc, skip,
                              q->limit - ids->n, ids, &got);
                skip = 0;
        }
        return r;
}

sr_err_t sr_proj_list_target_runs(sr_proj_t *proj, const char *enterprise_id,
                                  const sr_uuid_t *stage_run_id,
                                  const sr_proj_query_t *q,
                                  sr_target_run_t **items, size_t *n,
                                  uint64_t *count, sr_errctx_t *ec)
{
        struct idvec ids = { 0 };
        uint8_t pre[2 + 2 * ID_LEN];
        size_t plen = 0, got;
        uint64_t total = 0;
        struct rctx rc;
        void *arr = NULL;
        sr_entity_t stage;
        sr_err_t err;
        bool desc;
        int r;

        CHECK_ARGS(proj && enterprise_id && stage_run_id && q && items && n &&
                   count);
        err = check_query(q, ec);
        if (err)
                return err;
        if ((q->order != SR_PROJ_ORDER_DEFAULT &&
             q->order != SR_PROJ_ORDER_STATUS) || q->n_then)
                return bad_order(q, "target_runs", ec);
        if (q->operation_id)
                pre[plen++] = q->has_status ? TAG_TR_OP_ST : TAG_TR_OP;
        else
                pre[plen++] = q->has_status ? TAG_TR_ST : TAG_TR;
        memcpy(pre + plen, stage_run_id->b, ID_LEN);
        plen += ID_LEN;
        if (q->operation_id) {
                memcpy(pre + plen, q->operation_id->b, ID_LEN);
                plen += ID_LEN;
        }
        if (q->has_status)
                pre[plen++] = sr_proj__status_rank(q->status);
        err = sr_proj__rd_begin(proj, &rc, ec);
        if (err)
                return err;
        err = sr_proj__rd_owned(&rc, enterprise_id, SR_ENT_STAGE_RUN,
                                stage_run_id, &stage, ec);
        if (err)
                goto out;
        if (q->order == SR_PROJ_ORDER_STATUS && !q->has_status) {
                /* The status-bucketed twin of the chosen index. */
                err = cursor_refuse(q, ec);
                if (err)
                        goto out;
                pre[0] = q->operation_id ? TAG_TR_OP_ST : TAG_TR_ST;
                r = tr_by_status(&rc, pre, plen, q, &ids, &total);
        } else {
                /* One status (or the default order): desc reverses it. */
                uint32_t ident = list_ident(pre, plen, 0xFF);

                desc = q->order == SR_PROJ_ORDER_STATUS && q->desc;
                err = cursor_open(q, pre, ident, desc, &ids, ec);
                if (err)
                        goto out;
                r = sr_proj__cnt_get(rc.txn, proj->dbi[DBI_CNT], pre, plen,
                                     &total);
                if (!r)
                        r = walk_page(&rc, pre, plen, desc, q->offset,
                                      q->limit, &ids, &got);
                if (!r)
                        cursor_emit(q, pre, ident, desc, &ids);
        }
        err = r ? scan_err(&rc, r, ec) :
                  decode_page(&rc, SR_ENT_TARGET_RUN, &ids,
                              sizeof(sr_target_run_t), &arr, ec);
out:
        sr_proj__rd_end(&rc);
        if (!err) {
                *items = arr;
                *n = ids.n;
                *count = total;
        }
        free(ids.v);
        return err;
}

/* The value of appended target @p device (a 'D' entry under @p pre)
 * into @p t. @returns 0, MDB_CORRUPTED, or an LMDB error. */
static int target_read(struct rctx *rc, const uint8_t *pre,
                       const sr_uuid_t *device, const sr_uuid_t *run,
                       uint32_t stage, sr_proj_target_t *t)
{
        uint8_t key[TGT_PLEN + ID_LEN];
        struct rbuf b;
        MDB_val k, v;
        size_t nlen, alen;
        int r;

        memcpy(key, pre, TGT_PLEN);
        memcpy(key + TGT_PLEN, device->b, ID_LEN);
        k = sr_lmdb_val(key, sizeof(key));
        r = mdb_get(rc->txn, rc->proj->dbi[DBI_IDX], &k, &v);
        if (r)
                return r == MDB_NOTFOUND ? MDB_CORRUPTED : r;
        rc->decodes++;
        b = (struct rbuf){ v.mv_data, v.mv_size, 0, false };
        if (b.len < TGT_VFIXED + 2)
                return MDB_CORRUPTED;
        memset(t, 0, sizeof(*t));
        t->device_id = *device;
        t->chunk = sr_lmdb_get_be32(b.p);
        t->item = sr_lmdb_get_be32(b.p + 4);
        memcpy(t->target_id.b, b.p + 8, ID_LEN);
        nlen = (size_t)b.p[TGT_VFIXED] << 8 | b.p[TGT_VFIXED + 1];
        b.pos = TGT_VFIXED + 2;
        if (nlen >= sizeof(t->device_name) || b.len < b.pos + nlen + 2)
                return MDB_CORRUPTED;
        memcpy(t->device_name, b.p + b.pos, nlen);
        b.pos += nlen;
        alen = (size_t)b.p[b.pos] << 8 | b.p[b.pos + 1];
        b.pos += 2;
        if (alen >= sizeof(t->device_alias) || b.len != b.pos + alen)
                return MDB_CORRUPTED;
        memcpy(t->device_alias, b.p + b.pos, alen);
        /* Not given: the id its target runs will carry. Derived here, per
         * page, rather than stored: a chunk applies without hashing. */
        if (sr_uuid_is_nil(&t->target_id))
                sr_uuid_open_target_id(&t->target_id, run, stage, device);
        return 0;
}

sr_err_t sr_proj_list_stage_targets(sr_proj_t *proj,
                                    const char *enterprise_id,
                                    const sr_uuid_t *pipeline_run_id,
                                    const sr_uuid_t *stage_run_id,
                                    const sr_proj_query_t *q,
                                    sr_proj_target_t **items, size_t *n,
                                    uint64_t *count, sr_errctx_t *ec)
{
        struct idvec ids = { 0 };
        sr_proj_target_t *arr = NULL;
        uint8_t pre[TGT_PLEN];
        uint64_t total = 0;
        uint32_t ident;
        struct rctx rc;
        sr_entity_t stage;
        sr_err_t err;
        size_t got;
        int r;

        CHECK_ARGS(proj && enterprise_id && pipeline_run_id && stage_run_id &&
                   q && items && n && count);
        err = check_query(q, ec);
        if (err)
                return err;
        if (q->order != SR_PROJ_ORDER_DEFAULT || q->n_then)
                return bad_order(q, "targets", ec);
        if (q->has_status || q->operation_id || q->pipeline_name ||
            q->pipeline_id)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "proj: targets: no filter is offered");
        err = sr_proj__rd_begin(proj, &rc, ec);
        if (err)
                return err;
        err = sr_proj__rd_owned(&rc, enterprise_id, SR_ENT_STAGE_RUN,
                                stage_run_id, &stage, ec);
        if (!err && !sr_uuid_eq(&stage.u.sr.pipeline_run_id, pipeline_run_id))
                err = sr_proj__not_found(ec, "stage run", stage_run_id);
        if (err)
                goto out;
        /* An inline stage has no entries under its prefix: an empty list
         * by the same walk, so a cursor is checked as anywhere. */
        pre[0] = TAG_TGT;
        memcpy(pre + 1, pipeline_run_id->b, ID_LEN);
        sr_lmdb_put_be32(pre + 1 + ID_LEN, stage.u.sr.index);
        ident = list_ident(pre, sizeof(pre), 0xFF);
        err = cursor_open(q, pre, ident, false, &ids, ec);
        if (err)
                goto out;
        r = sr_proj__cnt_get(rc.txn, proj->dbi[DBI_CNT], pre, sizeof(pre),
                             &total);
        if (!r)
                r = walk_page(&rc, pre, sizeof(pre), false, q->offset,
                              q->limit, &ids, &got);
        if (!r)
                cursor_emit(q, pre, ident, false, &ids);
        if (!r && ids.n && !(arr = calloc(ids.n, sizeof(*arr))))
                r = ENOMEM;
        for (size_t i = 0; !r && i < ids.n; i++)
                r = target_read(&rc, pre, &ids.v[i], pipeline_run_id,
                                stage.u.sr.index, &arr[i]);
        if (r == MDB_CORRUPTED)
                err = sr_errctx_set(ec, SR_ERR_CORRUPT,
                                    "proj %s: an appended target's entry "
                                    "does not parse",
                                    proj->dir);
        else if (r)
                err = scan_err(&rc, r, ec);
out:
        sr_proj__rd_end(&rc);
        if (!err) {
                *items = arr;
                *n = ids.n;
                *count = total;
        } else {
                free(arr);
        }
        free(ids.v);
        return err;
}

bool sr_proj_order_parse(const char *s, size_t len, sr_proj_order_t *order,
                         bool *desc)
{
        static const struct {
                const char *name;
                sr_proj_order_t order;
        } names[] = {
                { "created_at", SR_PROJ_ORDER_CREATED_AT },
                { "run_number", SR_PROJ_ORDER_RUN_NUMBER },
                { "status", SR_PROJ_ORDER_STATUS },
                { "pipeline__name", SR_PROJ_ORDER_PIPELINE_NAME },
                { "started_at", SR_PROJ_ORDER_STARTED_AT },
                { "ended_at", SR_PROJ_ORDER_ENDED_AT },
        };
        bool minus = len > 0 && s[0] == '-';

        if (minus) {
                s++;
                len--;
        }
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                if (strlen(names[i].name) == len &&
                    !memcmp(names[i].name, s, len)) {
                        *order = names[i].order;
                        *desc = minus;
                        return true;
                }
        }
        return false;
}
