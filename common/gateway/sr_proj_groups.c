/* common/gateway/sr_proj_groups.c - the device-group directory in the
 * projection (docs/definitions.md section 6): SR_CL_GROUP records of a
 * group (G<group>/g) and of its members (G<group>/m/<device>) put by key,
 * their tombstones, and the page of a group's members the gateway's
 * GET .../devicegroups/{id}/devices/ reads. A run's frozen copy of a group
 * (P<pipeline>/r/<run>/...) is the worker's, not projected.
 *
 * Layout, in the "def" database beside the definitions (whose keys start
 * 'P', 'I', 'E', 'L'):
 *   'g' | group (16)                -> E len (u8) | E | n_members (u64 LE)
 *                                      | version (u32 LE) | name len (u16
 *                                      LE) | name
 *   'm' | group (16) | device (16)  -> name len (u16 LE) | name | alias
 *                                      len (u16 LE) | alias
 * so a group's members are one key range, in device id order.
 */
#include "sr_proj_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_groups.h"
#include "sr_lmdb.h"

#define GKEY_LEN (1 + ID_LEN)
#define MKEY_LEN (1 + 2 * ID_LEN)
/* the largest value: E, name and alias within their C buffers */
#define GVAL_MAX (1 + SR_SHORT_MAX + 8 + 4 + 2 + SR_NAME_MAX)
#define MVAL_MAX (2 + SR_NAME_MAX + 2 + SR_NAME_MAX)

static void gkey(uint8_t out[GKEY_LEN], const sr_uuid_t *group)
{
        out[0] = 'g';
        memcpy(out + 1, group->b, ID_LEN);
}

static void mkey(uint8_t out[MKEY_LEN], const sr_uuid_t *group,
                 const sr_uuid_t *device)
{
        out[0] = 'm';
        memcpy(out + 1, group->b, ID_LEN);
        memcpy(out + 1 + ID_LEN, device->b, ID_LEN);
}

static size_t put_u(uint8_t *p, uint64_t v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                p[i] = (uint8_t)(v >> (8 * i));
        return n;
}

static uint64_t get_u(const uint8_t *p, size_t n)
{
        uint64_t v = 0;

        for (size_t i = 0; i < n; i++)
                v |= (uint64_t)p[i] << (8 * i);
        return v;
}

static size_t put_text(uint8_t *p, const char *s, size_t cap)
{
        size_t n = bounded_len(s, cap);

        put_u(p, n, 2);
        memcpy(p + 2, s, n);
        return 2 + n;
}

/* A counted text at *pos of @p v into @p out (cap bytes with the NUL). */
static bool get_text(const MDB_val *v, size_t *pos, char *out, size_t cap)
{
        const uint8_t *p = v->mv_data;
        size_t n;

        if (*pos + 2 > v->mv_size)
                return false;
        n = (size_t)get_u(p + *pos, 2);
        if (n >= cap || *pos + 2 + n > v->mv_size)
                return false;
        memcpy(out, p + *pos + 2, n);
        memset(out + n, 0, cap - n);
        *pos += 2 + n;
        return true;
}

static bool dec_group(const MDB_val *v, char ent[SR_SHORT_MAX],
                      uint64_t *n_members)
{
        const uint8_t *p = v->mv_data;
        size_t elen;

        if (v->mv_size < 1)
                return false;
        elen = p[0];
        if (elen >= SR_SHORT_MAX || v->mv_size < 1 + elen + 8 + 4 + 2)
                return false;
        memcpy(ent, p + 1, elen);
        memset(ent + elen, 0, SR_SHORT_MAX - elen);
        *n_members = get_u(p + 1 + elen, 8);
        return true;
}

static bool dec_member(const MDB_val *v, sr_def_group_member_t *m)
{
        size_t pos = 0;

        return get_text(v, &pos, m->device_name, sizeof(m->device_name)) &&
               get_text(v, &pos, m->device_alias, sizeof(m->device_alias)) &&
               pos == v->mv_size;
}

static int del_ok(int rc)
{
        return rc == MDB_NOTFOUND ? 0 : rc;
}

sr_err_t sr_proj__apply_group(sr_proj_txn_t *txn, sr_slice_t key,
                              const sr_group_record_t *r, sr_errctx_t *ec)
{
        sr_proj_t *proj = txn->proj;
        MDB_dbi dbi = proj->dbi[DBI_DEF];
        uint8_t k8[MKEY_LEN], val[GVAL_MAX > MVAL_MAX ? GVAL_MAX : MVAL_MAX];
        sr_group_rec_kind_t kind;
        sr_uuid_t group, device;
        size_t n = 0;
        MDB_val k, v;
        int rc;

        if (!sr_group_key_parse(key.ptr, key.len, &group, &kind, &device) ||
            kind == SR_GREC__COUNT) {
                /* a group command's dedupe entry: nothing projected */
                if (!r || kind == SR_GREC__COUNT)
                        return SR_OK;
                return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                     "proj %s: a device group record under "
                                     "key \"%.*s\", not G<group>/g or "
                                     "G<group>/m/<device>", proj->dir,
                                     (int)(key.len > 80 ? 80 : key.len),
                                     (const char *)key.ptr);
        }
        if (r && r->kind != kind)
                return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                     "proj %s: key \"%.*s\" holds a record "
                                     "of another kind (%d)", proj->dir,
                                     (int)(key.len > 80 ? 80 : key.len),
                                     (const char *)key.ptr, (int)r->kind);
        if (kind == SR_GREC_GROUP) {
                gkey(k8, &group);
                k = sr_lmdb_val(k8, GKEY_LEN);
        } else {
                mkey(k8, &group, &device);
                k = sr_lmdb_val(k8, MKEY_LEN);
        }
        if (!r) {
                rc = del_ok(mdb_del(txn->mtxn, dbi, &k, NULL));
                return rc ? sr_lmdb_err(ec, rc, "proj", proj->dir,
                                        "del group") : SR_OK;
        }
        if (kind == SR_GREC_GROUP) {
                size_t elen = bounded_len(r->enterprise_id, SR_SHORT_MAX);

                val[n++] = (uint8_t)elen;
                memcpy(val + n, r->enterprise_id, elen);
                n += elen;
                n += put_u(val + n, r->group.n_members, 8);
                n += put_u(val + n, r->group.a.version, 4);
                n += put_text(val + n, r->group.name, SR_NAME_MAX);
        } else {
                n += put_text(val + n, r->member.device_name, SR_NAME_MAX);
                n += put_text(val + n, r->member.device_alias, SR_NAME_MAX);
        }
        v = sr_lmdb_val(val, n);
        rc = mdb_put(txn->mtxn, dbi, &k, &v, 0);
        return rc ? sr_lmdb_err(ec, rc, "proj", proj->dir, "put group") :
                    SR_OK;
}

sr_err_t sr_proj_group_members(sr_proj_t *proj, const char *enterprise_id,
                               const sr_uuid_t *group_id, uint64_t offset,
                               const sr_uuid_t *after, uint32_t limit,
                               sr_def_group_member_t **items, size_t *n,
                               bool *more, uint64_t *total, sr_errctx_t *ec)
{
        uint8_t gk[GKEY_LEN], mk[MKEY_LEN];
        char ent[SR_SHORT_MAX];
        sr_def_group_member_t *out = NULL, *p;
        sr_uuid_t zero = { { 0 } };
        size_t cap = 0;
        uint64_t skipped = 0;
        struct rctx rc;
        MDB_cursor *cur = NULL;
        MDB_val k, v;
        sr_err_t err = SR_OK;
        int r;

        CHECK_ARGS(proj && enterprise_id && group_id && items && n && more &&
                   total);
        *items = NULL;
        *n = 0;
        *more = false;
        *total = 0;
        err = sr_proj__rd_begin(proj, &rc, ec);
        if (err)
                return err;
        gkey(gk, group_id);
        k = sr_lmdb_val(gk, sizeof(gk));
        r = mdb_get(rc.txn, proj->dbi[DBI_DEF], &k, &v);
        if (r == MDB_NOTFOUND) {
                err = sr_proj__not_found(ec, "device group", group_id);
                goto out;
        }
        if (r) {
                err = sr_lmdb_err(ec, r, "proj", proj->dir, "get group");
                goto out;
        }
        rc.decodes++;
        if (!dec_group(&v, ent, total)) {
                err = sr_errctx_set(ec, SR_ERR_CORRUPT, "proj %s: stored "
                                    "device group record does not decode",
                                    proj->dir);
                goto out;
        }
        /* another enterprise's group is not revealed */
        if (strncmp(ent, enterprise_id, SR_SHORT_MAX)) {
                *total = 0;
                err = sr_proj__not_found(ec, "device group", group_id);
                goto out;
        }
        mkey(mk, group_id, after ? after : &zero);
        r = mdb_cursor_open(rc.txn, proj->dbi[DBI_DEF], &cur);
        k = sr_lmdb_val(mk, sizeof(mk));
        if (!r)
                r = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        /* A cursor names the last member of the page before: after it. */
        if (!r && after && k.mv_size == sizeof(mk) &&
            !memcmp(k.mv_data, mk, sizeof(mk)))
                r = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        while (!r && !err) {
                if (k.mv_size != sizeof(mk) ||
                    memcmp(k.mv_data, mk, 1 + ID_LEN))
                        break;
                rc.steps++;
                if (skipped < offset) {
                        skipped++;
                } else if (*n == limit) {
                        *more = true;
                        break;
                } else {
                        if (*n == cap) {
                                cap = cap ? cap * 2 : 16;
                                p = realloc(out, cap * sizeof(*out));
                                if (!p) {
                                        err = sr_errctx_set(
                                                ec, SR_ERR_NOMEM,
                                                "proj: malloc");
                                        break;
                                }
                                out = p;
                        }
                        p = &out[*n];
                        memset(p, 0, sizeof(*p));
                        p->group_id = *group_id;
                        memcpy(p->device_id.b,
                               (const uint8_t *)k.mv_data + 1 + ID_LEN,
                               ID_LEN);
                        rc.decodes++;
                        if (!dec_member(&v, p)) {
                                err = sr_errctx_set(
                                        ec, SR_ERR_CORRUPT, "proj %s: "
                                        "stored device group member does "
                                        "not decode", proj->dir);
                                break;
                        }
                        (*n)++;
                }
                r = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        if (!err && r && r != MDB_NOTFOUND)
                err = sr_lmdb_err(ec, r, "proj", proj->dir, "scan");
out:
        if (cur)
                mdb_cursor_close(cur);
        sr_proj__rd_end(&rc);
        if (err) {
                free(out);
                *n = 0;
                *more = false;
                return err;
        }
        *items = out;
        return SR_OK;
}
