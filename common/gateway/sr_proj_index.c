/* common/gateway/sr_proj_index.c - the projection's list indexes: the
 * index entries of each entity (keys and summary values, table in
 * sr_proj_int.h), the per-prefix counters, and moving an entity's entries
 * when it changes. */
#include "sr_proj_int.h"

#include <string.h>

#include "sr_lmdb.h"

/* Position of @p st in the alphabetical order of status names. Computed,
 * not tabled, so a new status cannot put the table out of date. */
uint8_t sr_proj__status_rank(sr_status_t st)
{
        const char *name = sr_status_name(st);
        unsigned r = 0;

        for (int i = 0; i < SR_ST__COUNT; i++)
                if (strcmp(sr_status_name((sr_status_t)i), name) < 0)
                        r++;
        return (uint8_t)r;
}

/* ------------------------------------------------------------ entries */

void sr_proj__k_bytes(struct ient *ie, const void *p, size_t n)
{
        /* Sizes are bounded by construction (IK_MAX covers the longest
         * key, 'M': 1 + 64 + 256 + 1 + 8 + 16 bytes). */
        memcpy(ie->key + ie->klen, p, n);
        ie->klen = (uint16_t)(ie->klen + n);
}

void sr_proj__k_u8(struct ient *ie, uint8_t v)
{
        sr_proj__k_bytes(ie, &v, 1);
}

static void k_u32(struct ient *ie, uint32_t v)
{
        uint8_t b[4];

        sr_lmdb_put_be32(b, v);
        sr_proj__k_bytes(ie, b, 4);
}

static void k_i64(struct ient *ie, int64_t v)
{
        uint8_t b[8];

        sr_lmdb_put_be64(b, i64_key(v));
        sr_proj__k_bytes(ie, b, 8);
}

/* u8 length + bytes: a prefix that cannot match a longer string. */
void sr_proj__k_str8(struct ient *ie, const char *s, size_t cap)
{
        size_t n = bounded_len(s, cap);

        if (n > UINT8_MAX)
                n = UINT8_MAX;
        sr_proj__k_u8(ie, (uint8_t)n);
        sr_proj__k_bytes(ie, s, n);
}

static struct ient *ient_new(struct ients *out, uint8_t tag)
{
        struct ient *ie = &out->e[out->n++];

        ie->klen = 0;
        ie->plen = 0;
        ie->vlen = 0;
        sr_proj__k_u8(ie, tag);
        return ie;
}

static void pr_summary(struct ient *ie, const sr_pipeline_run_t *pr)
{
        size_t n = bounded_len(pr->pipeline_name, sizeof(pr->pipeline_name));
        uint8_t *v = ie->val;

        if (n > UINT8_MAX)
                n = UINT8_MAX;
        v[0] = sr_proj__status_rank(pr->m.status);
        sr_lmdb_put_be32(v + 1, (uint32_t)pr->run_number);
        sr_lmdb_put_be64(v + 5, i64_key(pr->m.created_at));
        sr_lmdb_put_be64(v + 13, i64_key(pr->m.started_at));
        sr_lmdb_put_be64(v + 21, i64_key(pr->m.ended_at));
        v[29] = (uint8_t)n;
        memcpy(v + PRSUM_FIXED, pr->pipeline_name, n);
        ie->vlen = (uint16_t)(PRSUM_FIXED + n);
}

static void pr_entry(struct ients *out, uint8_t tag,
                     const sr_pipeline_run_t *pr, bool pipe, bool name,
                     bool rank)
{
        struct ient *ie = ient_new(out, tag);

        sr_proj__k_str8(ie, pr->enterprise_id, sizeof(pr->enterprise_id));
        if (pipe)
                sr_proj__k_bytes(ie, pr->pipeline_id.b, ID_LEN);
        if (name)
                sr_proj__k_str8(ie, pr->pipeline_name,
                                sizeof(pr->pipeline_name));
        if (rank)
                sr_proj__k_u8(ie, sr_proj__status_rank(pr->m.status));
        ie->plen = ie->klen;
        k_i64(ie, pr->m.created_at);
        sr_proj__k_bytes(ie, pr->m.id.b, ID_LEN);
        pr_summary(ie, pr);
}

static void tr_entry(struct ients *out, uint8_t tag, const sr_target_run_t *tr,
                     bool op, bool rank)
{
        struct ient *ie = ient_new(out, tag);

        sr_proj__k_bytes(ie, tr->stage_run_id.b, ID_LEN);
        if (op)
                sr_proj__k_bytes(ie, tr->stage_run_operation_id.b, ID_LEN);
        if (rank)
                sr_proj__k_u8(ie, sr_proj__status_rank(tr->m.status));
        ie->plen = ie->klen;
        if (!op)
                k_u32(ie, tr->op_index);
        k_u32(ie, tr->target_index);
        sr_proj__k_bytes(ie, tr->m.id.b, ID_LEN);
}

/* Every index entry of @p e. */
void sr_proj__ients_of(const sr_entity_t *e, struct ients *out)
{
        struct ient *ie;

        out->n = 0;
        switch (e->type) {
        case SR_ENT_PIPELINE_RUN:
                pr_entry(out, TAG_PR, &e->u.pr, false, false, false);
                pr_entry(out, TAG_PR_ST, &e->u.pr, false, false, true);
                pr_entry(out, TAG_PR_PIPE, &e->u.pr, true, false, false);
                pr_entry(out, TAG_PR_PIPE_ST, &e->u.pr, true, false, true);
                pr_entry(out, TAG_PR_NAME, &e->u.pr, false, true, false);
                pr_entry(out, TAG_PR_NAME_ST, &e->u.pr, false, true, true);
                break;
        case SR_ENT_STAGE_RUN:
                ie = ient_new(out, TAG_SR);
                sr_proj__k_bytes(ie, e->u.sr.pipeline_run_id.b, ID_LEN);
                ie->plen = ie->klen;
                k_u32(ie, e->u.sr.index);
                sr_proj__k_bytes(ie, e->u.sr.m.id.b, ID_LEN);
                ie->val[0] = sr_proj__status_rank(e->u.sr.m.status);
                ie->vlen = 1;
                break;
        case SR_ENT_STAGE_RUN_OPERATION:
                ie = ient_new(out, TAG_OP);
                sr_proj__k_bytes(ie, e->u.op.stage_run_id.b, ID_LEN);
                ie->plen = ie->klen;
                k_u32(ie, e->u.op.index);
                sr_proj__k_bytes(ie, e->u.op.id.b, ID_LEN);
                break;
        case SR_ENT_TARGET_RUN:
        default:
                tr_entry(out, TAG_TR, &e->u.tr, false, false);
                tr_entry(out, TAG_TR_ST, &e->u.tr, false, true);
                tr_entry(out, TAG_TR_OP, &e->u.tr, true, false);
                tr_entry(out, TAG_TR_OP_ST, &e->u.tr, true, true);
                break;
        }
}

static const struct ient *ients_find(const struct ients *set,
                                     const struct ient *ie)
{
        for (unsigned i = 0; i < set->n; i++)
                if (set->e[i].klen == ie->klen &&
                    !memcmp(set->e[i].key, ie->key, ie->klen))
                        return &set->e[i];
        return NULL;
}

/* ------------------------------------------------------------ counters */

int sr_proj__cnt_add(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key,
                     size_t len, int delta)
{
        MDB_val k = sr_lmdb_val(key, len), v;
        uint64_t c = 0;
        uint8_t b[8];
        int rc;

        rc = mdb_get(txn, dbi, &k, &v);
        if (rc == 0 && v.mv_size == 8)
                c = sr_lmdb_get_be64(v.mv_data);
        else if (rc && rc != MDB_NOTFOUND)
                return rc;
        if (delta < 0)
                c = c ? c - 1 : 0;
        else
                c++;
        if (c == 0) {
                rc = mdb_del(txn, dbi, &k, NULL);
                return rc == MDB_NOTFOUND ? 0 : rc;
        }
        sr_lmdb_put_be64(b, c);
        v = sr_lmdb_val(b, 8);
        return mdb_put(txn, dbi, &k, &v, 0);
}

int sr_proj__u64_get(MDB_txn *txn, MDB_dbi dbi, const void *key,
                     size_t len, uint64_t absent, uint64_t *out)
{
        MDB_val k = sr_lmdb_val(key, len), v;
        int rc = mdb_get(txn, dbi, &k, &v);

        *out = absent;
        if (rc == MDB_NOTFOUND)
                return 0;
        if (rc)
                return rc;
        if (v.mv_size != 8)
                return MDB_CORRUPTED;
        *out = sr_lmdb_get_be64(v.mv_data);
        return 0;
}

/* Move the index from @p old to @p cur: delete entries that went away,
 * put new or changed ones; counters follow keys that appear or vanish.
 * Tolerates an index that lacks an old entry or has a new one already. */
int sr_proj__idx_move(const sr_proj_t *proj, MDB_txn *txn,
                      const struct ients *old, const struct ients *cur)
{
        MDB_dbi idx = proj->dbi[DBI_IDX], cnt = proj->dbi[DBI_CNT];
        MDB_val k, v;
        int rc;

        for (unsigned i = 0; i < old->n; i++) {
                const struct ient *o = &old->e[i];

                if (ients_find(cur, o))
                        continue;
                k = sr_lmdb_val(o->key, o->klen);
                rc = mdb_del(txn, idx, &k, NULL);
                if (rc == MDB_NOTFOUND)
                        continue;
                if (!rc)
                        rc = sr_proj__cnt_add(txn, cnt, o->key, o->plen, -1);
                if (rc)
                        return rc;
        }
        for (unsigned i = 0; i < cur->n; i++) {
                const struct ient *c = &cur->e[i];
                const struct ient *o = ients_find(old, c);

                if (o && o->vlen == c->vlen &&
                    !memcmp(o->val, c->val, c->vlen))
                        continue;
                k = sr_lmdb_val(c->key, c->klen);
                v = sr_lmdb_val(c->val, c->vlen);
                rc = mdb_put(txn, idx, &k, &v, MDB_NOOVERWRITE);
                if (rc == MDB_KEYEXIST) {
                        /* Only the value changed (or a stale entry). */
                        v = sr_lmdb_val(c->val, c->vlen);
                        rc = mdb_put(txn, idx, &k, &v, 0);
                } else if (!rc) {
                        rc = sr_proj__cnt_add(txn, cnt, c->key, c->plen, +1);
                }
                if (rc)
                        return rc;
        }
        return 0;
}
