/* common/status/sr_worker_restore.c - partition ownership: on assignment,
 * trust the snapshot or rebuild it from the changelog (sr_batchlog.h) and
 * republish its outbox; on revocation, publish what can be while still the
 * owner. Each assignment starts a new writer id (docs/guarantee.md,
 * "Assignment and restore"). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sr_batchlog.h"
#include "sr_log.h"
#include "sr_worker_int.h"

void sr_worker__new_writer(sr_worker_t *w)
{
        sr_uuid_t id;

        sr_uuid_v4(&id);
        sr_uuid_fmt(&id, w->instance);
        snprintf(w->marker_key, sizeof(w->marker_key), "%s/%s", MARKER_KEY,
                 w->instance);
}

typedef struct restore_ctx {
        sr_worker_t *w;
        int32_t part;
        sr_txn_t *txn;
        sr_batchlog_t *bl;
        uint64_t applied, discarded, read, total;
        uint64_t in_txn;
        sr_store_pmeta_t pm;
        sr_err_t err;
        sr_errctx_t ec;
} restore_ctx_t;

/* A record of a complete batch: into the snapshot. */
static sr_err_t restore_apply(sr_slice_t key, sr_slice_t value, void *arg,
                              sr_errctx_t *ec)
{
        restore_ctx_t *rc = arg;
        sr_err_t err;

        err = value.ptr ? sr_store_put(rc->txn, rc->part, key, value, ec) :
                          sr_store_del(rc->txn, rc->part, key, ec);
        if (err)
                return err;
        if (++rc->in_txn >= (uint64_t)rc->w->conf->restore_batch_size) {
                err = sr_store_txn_commit(rc->txn, ec);
                rc->txn = NULL;
                if (!err)
                        err = sr_store_txn_begin(rc->w->store, true, &rc->txn,
                                                 ec);
                if (err)
                        return err;
                rc->in_txn = 0;
        }
        return SR_OK;
}

static bool is_marker_key(sr_slice_t key)
{
        size_t n = strlen(MARKER_KEY);

        /* "~marker/WRITER"; "~marker" alone in changelogs written before
         * writers had marker keys of their own */
        return key.len >= n && !memcmp(key.ptr, MARKER_KEY, n) &&
               (key.len == n || ((const char *)key.ptr)[n] == '/');
}

static int restore_one(const sr_inrec_t *in, void *arg)
{
        restore_ctx_t *rc = arg;
        sr_slice_t batch = { 0 };

        rc->read++;
        sr_series_add(rc->w->m.restore_records, 1);
        if ((rc->read & 4095) == 0)
                sr_series_set(rc->w->m.restore_remaining,
                              (double)(rc->total - rc->read));
        if (is_marker_key(in->key)) {
                sr_changelog_t cl;

                if (sr_codec_decode_changelog(rc->w->codec, in->value, &cl,
                                              &rc->ec) != SR_OK ||
                    cl.kind != SR_CL_MARKER) {
                        rc->err = sr_errctx_set(&rc->ec, SR_ERR_CORRUPT,
                                                "changelog offset %" PRId64
                                                ": bad marker: %s",
                                                in->offset, rc->ec.msg);
                        return 1;
                }
                rc->err = sr_batchlog_marker(
                        rc->bl,
                        sr_slice(cl.u.marker.batch_id,
                                 strlen(cl.u.marker.batch_id)),
                        &rc->ec);
                if (rc->err)
                        return 1;
                /* Markers follow one another in log order: the last one
                 * read holds the offsets to resume from. */
                rc->pm.commands_offset = cl.u.marker.commands_offset;
                rc->pm.results_offset = cl.u.marker.results_offset;
                rc->pm.batch_seq++;
                return 0;
        }
        if (!sr_inrec_header(in, BATCH_HEADER, &batch)) {
                rc->err = sr_errctx_set(&rc->ec, SR_ERR_CORRUPT,
                                        "changelog offset %" PRId64
                                        ": no %s header",
                                        in->offset, BATCH_HEADER);
                return 1;
        }
        rc->err = sr_batchlog_record(rc->bl, batch, in->key, in->value,
                                     &rc->ec);
        return rc->err != SR_OK;
}

/* Drop the partition's snapshot and rebuild it from the changelog. */
static sr_err_t restore(sr_worker_t *w, int32_t part, int64_t high,
                        sr_errctx_t *ec)
{
        restore_ctx_t rc = { 0 };
        double t0 = sr_worker__mono_s();
        sr_err_t err;

        rc.w = w;
        rc.part = part;
        rc.total = (uint64_t)(high > 0 ? high : 0);
        rc.pm.commands_offset = rc.pm.results_offset = -1;
        rc.pm.changelog_end = high;
        err = sr_batchlog_new(restore_apply, &rc, &rc.bl, ec);
        if (err)
                return err;
        err = sr_store_txn_begin(w->store, true, &rc.txn, ec);
        if (err) {
                sr_batchlog_destroy(rc.bl);
                return err;
        }
        err = sr_store_partition_drop(rc.txn, part, ec);
        if (err) {
                sr_store_txn_abort(rc.txn);
                sr_batchlog_destroy(rc.bl);
                return err;
        }
        SR_INFO("RESTORE", "restoring partition from changelog partition=%"
                PRId32 " records=%" PRId64, part, high);
        if (high > 0)
                err = sr_kafka_read_partition(w->conf, SR_TOPIC_CHANGELOG,
                                              part, high, restore_one, &rc,
                                              120000, ec);
        if (rc.err) { /* the callback's reason, not "stopped by callback" */
                *ec = rc.ec;
                err = rc.err;
        }
        /* Batches never completed: cut short by a crash or a lost
         * partition. Their inputs are reprocessed from the last marker. */
        rc.discarded = sr_batchlog_end(rc.bl);
        rc.applied = sr_batchlog_applied(rc.bl);
        sr_batchlog_destroy(rc.bl);
        if (!err)
                err = sr_store_pmeta_put(rc.txn, part, &rc.pm, ec);
        if (err) {
                if (rc.txn)
                        sr_store_txn_abort(rc.txn);
                return err;
        }
        err = sr_store_txn_commit(rc.txn, ec);
        if (err)
                return err;
        SR_INFO("RESTORE", "restored partition=%" PRId32 " read=%" PRIu64
                " applied=%" PRIu64 " discarded=%" PRIu64
                " seconds=%.3f commands_offset=%" PRId64
                " results_offset=%" PRId64,
                part, rc.read, rc.applied, rc.discarded,
                sr_worker__mono_s() - t0, rc.pm.commands_offset,
                rc.pm.results_offset);
        sr_series_set(w->m.restore_remaining, 0);
        return SR_OK;
}

/* Decide, per assigned partition, between trusting the snapshot and
 * restoring it; return where consumption starts. */
static sr_err_t assign_one(sr_worker_t *w, int32_t part, int64_t *start,
                           sr_errctx_t *ec)
{
        sr_store_pmeta_t pm;
        int64_t low, high;
        sr_txn_t *txn;
        sr_err_t err;
        bool have;

        /* exactly_once: the previous owner's last transaction may still be
         * completing (its commit outlives a kill -9) or be left open until
         * it expires. Read the changelog only once it is settled, or a
         * commit landing after the restore would duplicate the batch. */
        if (w->conf->processing_guarantee == SR_GUARANTEE_EXACTLY_ONCE) {
                err = sr_kafka_wait_stable(w->conf, SR_TOPIC_CHANGELOG, part,
                                           60000, ec);
                if (err)
                        return err;
        }
        err = sr_kafka_watermarks(w->conf, SR_TOPIC_CHANGELOG, part, &low,
                                  &high, 10000, ec);
        if (err)
                return err;
        err = sr_store_txn_begin(w->store, false, &txn, ec);
        if (err)
                return err;
        err = sr_store_pmeta_get(txn, part, &pm, ec);
        sr_store_txn_abort(txn);
        if (err && err != SR_ERR_NOT_FOUND)
                return err;
        have = err == SR_OK;
        if (low > 0) {
                /* A compacted changelog starts at 0; records before `low`
                 * were deleted (retention on the topic, or the embedded
                 * broker's 5 MiB-per-partition cap): a restore would
                 * silently build an incomplete snapshot. */
                SR_ERROR("WORKER", "changelog lost its beginning: a restore "
                         "would be incomplete partition=%" PRId32
                         " low=%" PRId64 " high=%" PRId64, part, low, high);
                if (!(have && pm.changelog_end == high))
                        return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                             "changelog partition %" PRId32
                                             " starts at offset %" PRId64
                                             ", not 0", part, low);
        }
        if ((have && pm.changelog_end == high) || (!have && high == 0)) {
                SR_INFO("WORKER", "snapshot trusted partition=%" PRId32
                        " changelog_end=%" PRId64, part, high);
        } else {
                SR_INFO("WORKER", "snapshot not trusted partition=%" PRId32
                        " local_changelog_end=%" PRId64
                        " changelog_end=%" PRId64, part,
                        have ? pm.changelog_end : -1, high);
                for (int attempt = 0;; attempt++) {
                        sr_errctx_t gec = { 0 };
                        size_t sz;

                        err = restore(w, part, high, ec);
                        if (err != SR_ERR_MAP_FULL)
                                break;
                        /* The partition does not fit: grow the map and
                         * restore again (what was written is dropped
                         * first); no input is taken meanwhile. */
                        sz = sr_store_map_size(w->store) * 2;
                        atomic_store(&w->map_full, true);
                        sr_series_add(w->m.map_grows, 1);
                        sr_mapuse_watch_force(&w->m.map_use);
                        SR_WARN("STORE", "map full (MDB_MAP_FULL) while "
                                "restoring partition=%" PRId32 ": growing "
                                "the map map_size=%zu", part, sz);
                        if (attempt >= 8 ||
                            sr_store_grow(w->store, sz, &gec) != SR_OK) {
                                atomic_store(&w->store_ok, false);
                                return sr_errctx_set(ec, SR_ERR_FATAL,
                                                     "store full and cannot "
                                                     "grow: %s", gec.msg);
                        }
                }
                atomic_store(&w->map_full, false);
                if (err)
                        return err;
                err = sr_store_txn_begin(w->store, false, &txn, ec);
                if (err)
                        return err;
                err = sr_store_pmeta_get(txn, part, &pm, ec);
                sr_store_txn_abort(txn);
                if (err)
                        return err;
                have = true;
        }
        start[0] = have ? pm.commands_offset : -1;
        start[1] = have ? pm.results_offset : -1;
        return sr_worker__timers_load(w, part, ec);
}

void sr_worker__on_assign(void *arg, const int32_t *parts, int n,
                          int64_t *start_offsets)
{
        sr_worker_t *w = arg;
        sr_errctx_t ec = { 0 };

        /* The previous ownership period's batches go out first. */
        if (sr_worker__pipe_drain(w, &ec))
                sr_worker__set_fatal(w, &ec, "relay before assign");
        sr_worker__new_writer(w); /* a new ownership period */

        /* a restore rewrites the snapshot under the cache */
        sr_worker__runs_reset(w);
        atomic_fetch_add(&w->restoring, 1);
        sr_series_set(w->m.restoring, 1);
        for (int i = 0; i < n; i++) {
                int32_t p = parts[i];
                int64_t *start = &start_offsets[2 * i];

                start[0] = start[1] = -1;
                if (p < 0 || p >= MAX_PARTS) {
                        SR_ERROR("WORKER", "partition out of range "
                                 "partition=%" PRId32, p);
                        continue;
                }
                w->parts[p].owned = true;
                for (int attempt = 0;; attempt++) {
                        ec.msg[0] = '\0';
                        if (assign_one(w, p, start, &ec) == SR_OK)
                                break;
                        if (attempt >= 5 || ec.code != SR_ERR_RETRY) {
                                sr_worker__set_fatal(w, &ec, "assign");
                                break;
                        }
                        SR_WARN("WORKER", "assignment retry partition=%"
                                PRId32 " err=\"%s\"", p, ec.msg);
                }
                if (w->fatal)
                        break;
                SR_INFO("WORKER", "partition assigned partition=%" PRId32
                        " commands_offset=%" PRId64 " results_offset=%"
                        PRId64, p, start[0], start[1]);
        }
        /* Republish what a trusted snapshot still had in its outbox. */
        if (!w->fatal) {
                int32_t owned[MAX_PARTS];
                int np = sr_worker__owned_parts(w, owned);

                sr_err_t err = sr_worker__relay(w, owned, np, false, &ec);

                if (!sr_worker__relay_deferred(w, err, &ec) && err)
                        sr_worker__set_fatal(w, &ec, "relay after assign");
        }
        atomic_fetch_sub(&w->restoring, 1);
        atomic_store(&w->assigned_once, true);
        sr_series_set(w->m.restoring, 0);
}

void sr_worker__on_revoke(void *arg, const int32_t *parts, int n)
{
        sr_worker_t *w = arg;
        sr_errctx_t ec = { 0 };
        int32_t owned[MAX_PARTS];
        int np;

        /* another worker may change these runs next */
        sr_worker__runs_reset(w);
        /* Flush what can be flushed while still the owner. */
        if (!w->fatal && sr_worker__pipe_drain(w, &ec) != SR_OK)
                SR_WARN("WORKER", "relay before revoke failed err=\"%s\"",
                        ec.msg);
        np = sr_worker__owned_parts(w, owned);
        if (!w->fatal && sr_worker__relay(w, owned, np, false, &ec) != SR_OK)
                SR_WARN("WORKER", "relay before revoke failed err=\"%s\"",
                        ec.msg);
        for (int i = 0; i < n; i++) {
                if (parts[i] < 0 || parts[i] >= MAX_PARTS)
                        continue;
                w->parts[parts[i]].owned = false;
                sr_worker__timers_drop(w, parts[i]);
                sr_worker__outbox_revoke(w, parts[i]);
                SR_INFO("WORKER", "partition revoked partition=%" PRId32,
                        parts[i]);
        }
}
