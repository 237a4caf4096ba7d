/* common/gateway/sr_proj_events.c - sr.events in the projection: every
 * run's status-change events by (run, seq), for the run's watchers, until
 * the run retires (layout: sr_proj_int.h, database evt). */
#include "sr_proj_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "sr_lmdb.h"

#define EVT_KEY_LEN (ID_LEN + 8)

static void evt_key(uint8_t key[EVT_KEY_LEN], const sr_uuid_t *run,
                    uint64_t seq)
{
        memcpy(key, run->b, ID_LEN);
        sr_lmdb_put_be64(key + ID_LEN, seq);
}

int sr_proj__events_forget(const sr_proj_t *proj, MDB_txn *txn,
                           const sr_uuid_t *run)
{
        uint8_t kb[EVT_KEY_LEN];
        MDB_cursor *cur;
        MDB_val k, v;
        int rc;

        evt_key(kb, run, 0);
        k = sr_lmdb_val(kb, sizeof(kb));
        rc = mdb_cursor_open(txn, proj->dbi[DBI_EVT], &cur);
        if (rc)
                return rc;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        while (!rc && k.mv_size == EVT_KEY_LEN &&
               !memcmp(k.mv_data, run->b, ID_LEN)) {
                rc = mdb_cursor_del(cur, 0);
                if (!rc)
                        rc = mdb_cursor_get(cur, &k, &v, MDB_GET_CURRENT);
                if (rc == EINVAL) /* deleted the last key */
                        rc = MDB_NOTFOUND;
        }
        mdb_cursor_close(cur);
        return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Store @p ev (as @p json) unless the run retired or it is past the
 * bound; *kept when it was not there yet. An LMDB code. */
static int evt_put(sr_proj_txn_t *txn, const sr_event_t *ev,
                   const sr_jw_t *json, bool *kept)
{
        sr_proj_t *proj = txn->proj;
        size_t elen = bounded_len(ev->enterprise_id, SR_SHORT_MAX);
        uint8_t kb[EVT_KEY_LEN];
        MDB_val k, v;
        int rc;

        *kept = false;
        if (ev->seq < 1 || ev->seq > SR_PROJ_EVENTS_PER_RUN_MAX)
                return 0;
        k = sr_lmdb_val(ev->pipeline_run_id.b, ID_LEN);
        rc = mdb_get(txn->mtxn, proj->dbi[DBI_RET], &k, &v);
        if (rc != MDB_NOTFOUND)
                return rc; /* 0: retired, its events are gone */
        evt_key(kb, &ev->pipeline_run_id, ev->seq);
        k = sr_lmdb_val(kb, sizeof(kb));
        v.mv_size = 1 + elen + json->len;
        rc = mdb_put(txn->mtxn, proj->dbi[DBI_EVT], &k, &v,
                     MDB_NOOVERWRITE | MDB_RESERVE);
        if (rc == MDB_KEYEXIST)
                return 0; /* a repeated event: the same bytes */
        if (rc)
                return rc;
        ((uint8_t *)v.mv_data)[0] = (uint8_t)elen;
        memcpy((uint8_t *)v.mv_data + 1, ev->enterprise_id, elen);
        memcpy((uint8_t *)v.mv_data + 1 + elen, json->p, json->len);
        *kept = true;
        return 0;
}

sr_err_t sr_proj_apply_event(sr_proj_txn_t *txn, int32_t partition,
                             int64_t offset, sr_slice_t value,
                             sr_event_t *ev, sr_jw_t *json, bool *kept,
                             sr_errctx_t *ec)
{
        sr_proj_t *proj;
        bool stale = false;
        sr_err_t err;
        int rc;

        CHECK_ARGS(txn && ev && json && kept);
        proj = txn->proj;
        *kept = false;
        err = sr_proj__apply_check(txn, PROJ_OFF_EVENTS, partition, offset,
                                   &stale, ec);
        if (err || stale)
                return err;
        err = sr_codec_decode_event(proj->codec, value, ev, ec);
        if (err == SR_ERR_SCHEMA || err == SR_ERR_CORRUPT) {
                if (ec)
                        ec->code = SR_ERR_CORRUPT;
                sr_errctx_prefix(ec, "proj: events partition %d offset "
                                 "%" PRId64, (int)partition, offset);
                return SR_ERR_CORRUPT;
        }
        if (err)
                return err;
        json->len = 0;
        sr_jw_event(json, ev);
        if (json->oom)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "proj: event json");
        rc = evt_put(txn, ev, json, kept);
        if (rc) {
                txn->failed = true;
                return sr_lmdb_err(ec, rc, "proj", proj->dir, "put event");
        }
        return sr_proj__offset_put(txn, PROJ_OFF_EVENTS, partition,
                                   offset + 1, ec);
}

sr_err_t sr_proj_skip_event(sr_proj_txn_t *txn, int32_t partition,
                            int64_t offset, sr_errctx_t *ec)
{
        bool stale = false;
        sr_err_t err;

        err = sr_proj__apply_check(txn, PROJ_OFF_EVENTS, partition, offset,
                                   &stale, ec);
        if (err || stale)
                return err;
        return sr_proj__offset_put(txn, PROJ_OFF_EVENTS, partition,
                                   offset + 1, ec);
}

sr_err_t sr_proj_event_offsets(sr_proj_t *proj, int64_t *next,
                               int32_t n_parts, sr_errctx_t *ec)
{
        struct rctx rc;
        sr_err_t err;
        int r = 0;

        CHECK_ARGS(proj && (next || n_parts == 0) && n_parts >= 0);
        err = sr_proj__rd_begin(proj, &rc, ec);
        if (err)
                return err;
        for (int32_t p = 0; p < n_parts && !r; p++)
                r = sr_proj__topic_offset_get(proj, rc.txn, PROJ_OFF_EVENTS,
                                              p, &next[p]);
        sr_proj__rd_end(&rc);
        if (r)
                return sr_lmdb_err(ec, r, "proj", proj->dir,
                                   "read events offsets");
        return SR_OK;
}

/* The first seq of @p run stored after @p seq, into *@p out (0: none);
 * an LMDB code. */
static int first_after(const sr_proj_t *proj, MDB_txn *txn,
                       const sr_uuid_t *run, uint64_t seq, uint64_t *out)
{
        uint8_t kb[EVT_KEY_LEN];
        MDB_cursor *cur;
        MDB_val k, v;
        int rc;

        *out = 0;
        evt_key(kb, run, seq);
        k = sr_lmdb_val(kb, sizeof(kb));
        rc = mdb_cursor_open(txn, proj->dbi[DBI_EVT], &cur);
        if (rc)
                return rc;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (!rc && k.mv_size == EVT_KEY_LEN &&
            !memcmp(k.mv_data, run->b, ID_LEN))
                *out = sr_lmdb_get_be64((const uint8_t *)k.mv_data + ID_LEN);
        mdb_cursor_close(cur);
        return rc == MDB_NOTFOUND ? 0 : rc;
}

sr_err_t sr_proj_read_events(sr_proj_t *proj, const char *enterprise_id,
                             const sr_uuid_t *run, uint64_t after_seq,
                             sr_proj_event_fn fn, void *arg,
                             sr_proj_run_events_t *out, sr_errctx_t *ec)
{
        size_t elen;
        sr_entity_t e;
        struct rctx rc;
        uint64_t seq = after_seq + 1;
        sr_err_t err;

        CHECK_ARGS(proj && enterprise_id && run && fn && out);
        memset(out, 0, sizeof(*out));
        out->next_seq = seq;
        elen = strlen(enterprise_id);
        err = sr_proj__rd_begin(proj, &rc, ec);
        if (err)
                return err;
        err = sr_proj__rd_owned(&rc, enterprise_id, SR_ENT_PIPELINE_RUN, run,
                                &e, ec);
        if (err == SR_ERR_NOT_FOUND) {
                err = SR_OK; /* not (yet, or any more) projected */
                goto out;
        }
        if (err)
                goto out;
        out->run_found = true;
        out->run_final = sr_status_is_terminal(e.u.pr.m.status);
        out->last_seq = e.u.pr.last_seq;
        sr_entity_fini(&e);
        for (;; seq++) {
                uint8_t kb[EVT_KEY_LEN];
                MDB_val k, v;
                const uint8_t *p;
                int r;

                evt_key(kb, run, seq);
                k = sr_lmdb_val(kb, sizeof(kb));
                r = mdb_get(rc.txn, proj->dbi[DBI_EVT], &k, &v);
                if (r == MDB_NOTFOUND) {
                        r = first_after(proj, rc.txn, run, seq,
                                        &out->kept_from);
                        if (r)
                                err = sr_lmdb_err(ec, r, "proj", proj->dir,
                                                  "read event");
                        break;
                }
                if (r) {
                        err = sr_lmdb_err(ec, r, "proj", proj->dir,
                                          "read event");
                        break;
                }
                p = v.mv_data;
                if (v.mv_size < 1 || v.mv_size < 1u + p[0]) {
                        err = sr_lmdb_err(ec, MDB_CORRUPTED, "proj",
                                          proj->dir, "stored event");
                        break;
                }
                if (p[0] != elen || memcmp(p + 1, enterprise_id, elen))
                        break; /* never: the run is the caller's */
                if (!fn(arg, seq, sr_slice(p + 1 + p[0],
                                           v.mv_size - 1 - p[0])))
                        break;
        }
        out->next_seq = seq;
out:
        sr_proj__rd_end(&rc);
        return err;
}
