/* common/status/sr_worker_restore.c - partition ownership: on assignment,
 * trust the snapshot or rebuild it from the changelog (sr_batchlog.h) and
 * republish its outbox; on revocation, publish what can be while still the
 * owner. Each assignment starts a new writer id (docs/guarantee.md,
 * "Assignment and restore").
 *
 * A restore runs beside the poll loop, not in the rebalance callback: the
 * partition is assigned paused, then restored in slices of bounded time
 * between polls (sr_worker__restore_step()), one partition at a time, each
 * slice one LMDB write transaction of this thread; the partition's
 * metadata (its trusted changelog end) is written only by the last one. A
 * restored partition gets its timers, then is started at the last marker's
 * offsets. A revoke cancels the restore of a revoked partition. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sr_batchlog.h"
#include "sr_log.h"
#include "sr_worker_int.h"

/* The longest a partition's start waits to learn its inputs' log start. */
#define LOG_START_TIMEOUT_MS 2000
/* The longest one assignment retries its partitions' retriable errors, in
 * all (well under max.poll.interval.ms: this runs in the rebalance
 * callback). */
#define ASSIGN_RETRY_MS 60000
/* exactly_once: how long the assignment waits for a changelog partition's
 * open transaction to settle before handing the partition to the restore
 * loop, which keeps looking (STABLE_POLL_S apart) without blocking the
 * rebalance callback or the other partitions. */
#define ASSIGN_STABLE_WAIT_MS 2000
#define STABLE_POLL_S 0.5
#define STABLE_WARN_S 30.0

static void await_stable_step(sr_worker_t *w, int32_t part);

void sr_worker__new_writer(sr_worker_t *w)
{
        sr_uuid_t id;

        sr_uuid_v4(&id);
        sr_uuid_fmt(&id, w->instance);
        snprintf(w->marker_key, sizeof(w->marker_key), "%s/%s", MARKER_KEY,
                 w->instance);
}

/* The restore of one partition, kept between the slices. */
struct restore_ctx {
        sr_worker_t *w;
        int32_t part;
        sr_txn_t *txn; /* open during a slice only */
        sr_batchlog_t *bl;
        sr_part_reader_t *rd;
        uint64_t applied, discarded, read, total;
        uint64_t in_txn;
        sr_store_pmeta_t pm;
        double t0, last_read; /* monotonic s: start, last record read */
        bool dropped;         /* the partition's old snapshot is gone */
        sr_err_t err;
        sr_errctx_t ec;
};

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

/* "~claim/WRITER": the WRITER part, or an empty slice. */
static sr_slice_t claim_writer(sr_slice_t key)
{
        size_t n = strlen(CLAIM_KEY);

        if (key.len > n + 1 && !memcmp(key.ptr, CLAIM_KEY, n) &&
            ((const char *)key.ptr)[n] == '/')
                return sr_slice((const char *)key.ptr + n + 1,
                                key.len - n - 1);
        return sr_slice(NULL, 0);
}

static int restore_one(const sr_inrec_t *in, void *arg)
{
        restore_ctx_t *rc = arg;
        sr_slice_t batch = { 0 }, claim = claim_writer(in->key);
        uint64_t fenced = sr_batchlog_fenced(rc->bl);

        rc->read++;
        sr_series_add(rc->w->m.restore_records, 1);
        if ((rc->read & 4095) == 0)
                sr_worker__restore_gauges(rc->w);
        if (claim.len) {
                rc->err = sr_batchlog_claim(rc->bl, claim, &rc->ec);
                return rc->err != SR_OK;
        }
        if (is_marker_key(in->key)) {
                sr_changelog_t cl;
                bool decoded = sr_codec_decode_changelog(
                                       rc->w->codec, in->value, &cl,
                                       &rc->ec) == SR_OK;

                if (!decoded || cl.kind != SR_CL_MARKER) {
                        /* Another kind under a marker's key: what it owns
                         * is freed before the restore stops on it. */
                        if (decoded)
                                sr_changelog_fini(&cl);
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
                if (sr_batchlog_fenced(rc->bl) != fenced) {
                        /* a fenced writer's marker: not where to resume */
                        sr_series_add(rc->w->m.restore_fenced, 1);
                        return 0;
                }
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
        if (sr_batchlog_fenced(rc->bl) != fenced)
                sr_series_add(rc->w->m.restore_fenced, 1);
        return rc->err != SR_OK;
}

/* Records left to read in every restore to come or under way. */
void sr_worker__restore_gauges(sr_worker_t *w)
{
        uint64_t left = w->restore_queued;
        int n = atomic_load(&w->restoring);

        if (w->rst)
                left -= w->rst->read < w->rst->total ? w->rst->read :
                                                        w->rst->total;
        sr_series_set(w->m.restore_remaining, (double)left);
        sr_series_set(w->m.restoring, n > 0 ? (double)n : 0);
}

/* Stop the restore under way (nothing of it is trusted: the partition's
 * metadata is only written with its last records). */
static void restore_free(sr_worker_t *w)
{
        restore_ctx_t *rc = w->rst;

        if (!rc)
                return;
        sr_store_txn_abort(rc->txn);
        sr_batchlog_destroy(rc->bl);
        sr_part_reader_destroy(rc->rd);
        free(rc);
        w->rst = NULL;
}

/* Begin rebuilding partition @p part from its changelog (@p high records)
 * into w->rst. */
static sr_err_t restore_begin(sr_worker_t *w, int32_t part, int64_t high,
                              sr_errctx_t *ec)
{
        restore_ctx_t *rc = calloc(1, sizeof(*rc));
        sr_err_t err;

        if (!rc)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "restore: calloc");
        rc->w = w;
        rc->part = part;
        rc->total = (uint64_t)(high > 0 ? high : 0);
        rc->pm.commands_offset = rc->pm.results_offset = -1;
        rc->pm.changelog_end = high;
        rc->t0 = rc->last_read = sr_worker__mono_s();
        w->rst = rc;
        err = sr_batchlog_new(restore_apply, rc, &rc->bl, ec);
        if (!err)
                err = sr_part_reader_new(w->conf, SR_TOPIC_CHANGELOG, part,
                                         high, &rc->rd, ec);
        if (err) {
                restore_free(w);
                return err;
        }
        SR_INFO("RESTORE", "restoring partition from changelog partition=%"
                PRId32 " records=%" PRId64, part, high);
        return SR_OK;
}

/* Give the partition up without a restore: no longer counted. */
static void restore_unqueue(sr_worker_t *w, int32_t part)
{
        part_t *pt = &w->parts[part];

        if (!pt->restoring && !pt->start_pending)
                return;
        w->restore_queued -= pt->restore_total;
        pt->restoring = pt->start_pending = pt->await_stable = false;
        pt->restore_total = 0;
        atomic_fetch_sub(&w->restoring, 1);
}

/* Input the snapshot expects that the topic no longer holds: records from
 * @p start on, deleted by retention before any worker read them (the
 * partition went unowned, or its owner lagged, longer than the input
 * topics keep records). The consumer would silently go on from the log's
 * start (auto.offset.reset); this says so, loudly, and counts them. A
 * failed query only skips the check: it never delays the partition. */
static void check_inputs_kept(sr_worker_t *w, int32_t part,
                              const int64_t start[2])
{
        static const sr_topic_kind_t topics[2] = { SR_TOPIC_COMMANDS,
                                                   SR_TOPIC_RESULTS };

        for (int t = 0; t < 2; t++) {
                sr_errctx_t ec = { 0 };
                int64_t low;

                if (start[t] < 0)
                        continue;
                if (sr_consumer_log_start(w->cons, topics[t], part,
                                          LOG_START_TIMEOUT_MS, &low, &ec)) {
                        SR_DEBUG("WORKER", "input retention not checked "
                                 "partition=%" PRId32 " err=\"%s\"", part,
                                 ec.msg);
                        continue;
                }
                if (low <= start[t])
                        continue;
                sr_series_add(w->m.inputs_lost[t], (double)(low - start[t]));
                SR_ERROR("WORKER", "input records lost: deleted by the "
                         "topic's retention before any worker read them; "
                         "keep input topics longer than a partition can go "
                         "unowned topic=%s partition=%" PRId32 " from=%"
                         PRId64 " to=%" PRId64 " count=%" PRId64,
                         t == 0 ? "commands" : "results", part, start[t],
                         low, low - start[t]);
        }
}

/* The partition's snapshot is ready (trusted or restored): start its
 * input at the snapshot's offsets. Until the consumer can (the
 * assignment still settling), it stays pending and is tried again. */
static void restore_start_input(sr_worker_t *w, int32_t part)
{
        part_t *pt = &w->parts[part];
        sr_errctx_t ec = { 0 };
        sr_err_t err;

        err = sr_consumer_start(w->cons, part, pt->start, &ec);
        if (err == SR_ERR_RETRY) {
                SR_DEBUG("RESTORE", "input not started yet partition=%"
                         PRId32 " err=\"%s\"", part, ec.msg);
                return;
        }
        if (err) {
                sr_worker__set_fatal(w, &ec, "start after restore");
                return;
        }
        restore_unqueue(w, part);
        pt->owned = true;
        SR_INFO("WORKER", "partition assigned partition=%" PRId32
                " commands_offset=%" PRId64 " results_offset=%" PRId64
                " (restored)", part, pt->start[0], pt->start[1]);
        check_inputs_kept(w, part, pt->start);
}

/* The last slice: what is complete is in, the metadata says so. */
static sr_err_t restore_finish(sr_worker_t *w, sr_errctx_t *ec)
{
        restore_ctx_t *rc = w->rst;
        part_t *pt = &w->parts[rc->part];
        sr_err_t err;

        /* Batches never completed: cut short by a crash or a lost
         * partition. Their inputs are reprocessed from the last marker. */
        rc->discarded = sr_batchlog_end(rc->bl);
        rc->applied = sr_batchlog_applied(rc->bl);
        if (rc->err) { /* a record applied by the end failed */
                *ec = rc->ec;
                return rc->err;
        }
        err = sr_store_pmeta_put(rc->txn, rc->part, &rc->pm, ec);
        if (err)
                return err;
        err = sr_store_txn_commit(rc->txn, ec);
        rc->txn = NULL;
        if (err)
                return err;
        SR_INFO("RESTORE", "restored partition=%" PRId32 " read=%" PRIu64
                " applied=%" PRIu64 " discarded=%" PRIu64
                " seconds=%.3f commands_offset=%" PRId64
                " results_offset=%" PRId64,
                rc->part, rc->read, rc->applied, rc->discarded,
                sr_worker__mono_s() - rc->t0, rc->pm.commands_offset,
                rc->pm.results_offset);
        pt->start[0] = rc->pm.commands_offset;
        pt->start[1] = rc->pm.results_offset;
        /* Arm the timers of the restored partition's unfinished runs. */
        err = sr_worker__timers_load(w, rc->part, ec);
        if (err)
                return err;
        w->restore_queued -= rc->total;
        pt->restore_total = 0;
        pt->restoring = false;
        pt->start_pending = true;
        restore_free(w);
        return SR_OK;
}

/* One slice of the restore under way: at most @p budget_ms of reading,
 * in one LMDB write transaction committed before returning. */
static sr_err_t restore_slice(sr_worker_t *w, int budget_ms, sr_errctx_t *ec)
{
        restore_ctx_t *rc = w->rst;
        uint64_t n = 0;
        bool done = false;
        sr_err_t err;

        err = sr_store_txn_begin(w->store, true, &rc->txn, ec);
        if (err)
                return err;
        if (!rc->dropped) {
                err = sr_store_partition_drop(rc->txn, rc->part, ec);
                if (err)
                        return err;
                rc->dropped = true;
        }
        rc->in_txn = 0;
        err = sr_part_reader_step(rc->rd, restore_one, rc, budget_ms, &n,
                                  &done, ec);
        if (rc->err) { /* the callback's reason, not "stopped by callback" */
                *ec = rc->ec;
                err = rc->err;
        }
        if (err)
                return err;
        if (n)
                rc->last_read = sr_worker__mono_s();
        else if (!done && sr_worker__mono_s() - rc->last_read >
                                  RESTORE_STALL_S)
                return sr_errctx_set(ec, SR_ERR_RETRY, "restore partition %"
                                     PRId32 ": no record for %d s at "
                                     "offset %" PRId64 " of %" PRIu64,
                                     rc->part, RESTORE_STALL_S,
                                     sr_part_reader_last(rc->rd), rc->total);
        if (done)
                return restore_finish(w, ec);
        err = sr_store_txn_commit(rc->txn, ec);
        rc->txn = NULL;
        return err;
}

/* The restore under way failed: redo it from the start (after growing
 * the map when it did not fit), or give the worker up. */
static void restore_failed(sr_worker_t *w, sr_errctx_t *ec)
{
        int32_t part = w->rst->part;
        part_t *pt = &w->parts[part];
        int64_t high = (int64_t)w->rst->total;

        restore_free(w);
        if (ec->code == SR_ERR_MAP_FULL) {
                /* The partition does not fit: grow the map and restore
                 * again (what was written is dropped first). */
                char when[64];

                snprintf(when, sizeof(when), "while restoring partition=%"
                         PRId32, part);
                if (sr_worker__grow_map(w, &pt->restore_grows, when, ec)) {
                        sr_worker__set_fatal(w, ec, "restore");
                        return;
                }
                atomic_store(&w->map_full, false);
        } else if (ec->code != SR_ERR_RETRY || pt->restore_attempts++ >= 5) {
                sr_worker__set_fatal(w, ec, "restore");
                return;
        } else {
                SR_WARN("RESTORE", "restore retry partition=%" PRId32
                        " err=\"%s\"", part, ec->msg);
        }
        if (restore_begin(w, part, high, ec))
                sr_worker__set_fatal(w, ec, "restore");
}

bool sr_worker__restore_pending(const sr_worker_t *w)
{
        return atomic_load(&w->restoring) > 0;
}

void sr_worker__restore_step(sr_worker_t *w, int budget_ms)
{
        sr_errctx_t ec = { 0 };

        if (w->fatal || (w->stop_flag && *w->stop_flag))
                return;
        for (int32_t p = 0; p < MAX_PARTS && !w->fatal; p++)
                if (w->parts[p].await_stable)
                        await_stable_step(w, p);
        for (int32_t p = 0; p < MAX_PARTS && !w->fatal; p++)
                if (w->parts[p].start_pending)
                        restore_start_input(w, p);
        for (int32_t p = 0; !w->rst && p < MAX_PARTS && !w->fatal; p++)
                if (w->parts[p].restoring && !w->parts[p].await_stable &&
                    restore_begin(w, p, w->parts[p].restore_total, &ec))
                        sr_worker__set_fatal(w, &ec, "restore");
        if (w->rst && !w->fatal) {
                int32_t p = w->rst->part;

                ec.msg[0] = '\0';
                ec.code = restore_slice(w, budget_ms, &ec);
                if (ec.code) {
                        if (w->rst && w->rst->txn) {
                                sr_store_txn_abort(w->rst->txn);
                                w->rst->txn = NULL;
                        }
                        restore_failed(w, &ec);
                } else if (w->parts[p].start_pending) {
                        restore_start_input(w, p); /* no wait for a poll */
                }
        }
        sr_worker__restore_gauges(w);
}

void sr_worker__restore_fini(sr_worker_t *w)
{
        restore_free(w);
}

/* Decide, per assigned partition, between trusting the snapshot and
 * restoring it: return where consumption starts, or SR_CONSUMER_PAUSED
 * (and the changelog's end in @p high) when it must be restored first. */
static sr_err_t assign_decide(sr_worker_t *w, int32_t part, int64_t *start,
                              int64_t *high_out, sr_errctx_t *ec)
{
        sr_store_pmeta_t pm;
        int64_t low, high;
        sr_txn_t *txn;
        sr_err_t err;
        bool have;

        err = sr_kafka_watermarks(w->conf, SR_TOPIC_CHANGELOG, part, &low,
                                  &high, 10000, ec);
        if (err)
                return err;
        w->parts[part].claim_high = high;
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
                        " changelog_end=%" PRId64 ": restoring it beside "
                        "the poll loop, its input paused", part,
                        have ? pm.changelog_end : -1, high);
                start[0] = start[1] = SR_CONSUMER_PAUSED;
                *high_out = high;
                return SR_OK;
        }
        start[0] = have ? pm.commands_offset : -1;
        start[1] = have ? pm.results_offset : -1;
        return sr_worker__timers_load(w, part, ec);
}

/* As assign_decide(), exactly_once first waiting for the changelog
 * partition to settle: the previous owner's last transaction may still be
 * completing (its commit outlives a kill -9) or be left open until it
 * expires (transaction.timeout.ms, or longer when its coordinator is slow
 * to abort it). Read the changelog only once it is settled, or a commit
 * landing after the restore would duplicate the batch. Past
 * ASSIGN_STABLE_WAIT_MS the partition is deferred (SR_CONSUMER_PAUSED,
 * *@p high_out -1): the restore loop waits on, however long it takes;
 * until 2026-12-05 a wait of 60 s stopped the worker, whose restart could
 * only wait again. */
static sr_err_t assign_one(sr_worker_t *w, int32_t part, int64_t *start,
                           int64_t *high_out, sr_errctx_t *ec)
{
        if (w->conf->processing_guarantee == SR_GUARANTEE_EXACTLY_ONCE) {
                sr_err_t err = sr_kafka_wait_stable(
                        w->conf, SR_TOPIC_CHANGELOG, part,
                        ASSIGN_STABLE_WAIT_MS, ec);

                if (err == SR_ERR_RETRY) {
                        SR_WARN("WORKER", "changelog partition not settled: "
                                "a transaction is still open; its input "
                                "paused until it settles partition=%" PRId32
                                " err=\"%s\"", part, ec->msg);
                        start[0] = start[1] = SR_CONSUMER_PAUSED;
                        *high_out = -1;
                        return SR_OK;
                }
                if (err)
                        return err;
        }
        return assign_decide(w, part, start, high_out, ec);
}

/* A deferred partition (assign_one()): look again, STABLE_POLL_S apart;
 * once settled, trust its snapshot (start its input) or restore it. */
static void await_stable_step(sr_worker_t *w, int32_t part)
{
        part_t *pt = &w->parts[part];
        double now = sr_worker__mono_s();
        sr_errctx_t ec = { 0 };
        int64_t start[2], high = 0;
        sr_err_t err;

        if (now < pt->stable_next)
                return;
        pt->stable_next = now + STABLE_POLL_S;
        /* one look (an unanswered one too: looked at again) */
        err = sr_kafka_wait_stable(w->conf, SR_TOPIC_CHANGELOG, part, 0, &ec);
        if (err) {
                if (now >= pt->stable_warn) {
                        SR_WARN("WORKER", "changelog partition still not "
                                "settled partition=%" PRId32 " waited_s=%.0f "
                                "err=\"%s\"", part, now - pt->stable_t0,
                                ec.msg);
                        pt->stable_warn = now + STABLE_WARN_S;
                }
                return;
        }
        err = assign_decide(w, part, start, &high, &ec);
        if (err == SR_ERR_RETRY)
                return; /* decided at the next look */
        if (err) {
                sr_worker__set_fatal(w, &ec, "assign");
                return;
        }
        pt->await_stable = false;
        SR_INFO("WORKER", "changelog partition settled partition=%" PRId32
                " waited_s=%.1f", part, now - pt->stable_t0);
        if (start[0] == SR_CONSUMER_PAUSED) {
                pt->restore_total = high > 0 ? (uint64_t)high : 0;
                w->restore_queued += pt->restore_total;
                return; /* restored next (sr_worker__restore_step) */
        }
        pt->start[0] = start[0];
        pt->start[1] = start[1];
        pt->restoring = false;
        pt->start_pending = true; /* started by sr_worker__restore_step */
}

/* Send the claim "~claim/WRITER" of this ownership period on changelog
 * partition @p part: a changelog marker record (so every reader of the
 * changelog that skips markers skips it) of batch WRITER/0. */
static sr_err_t claim_send(sr_worker_t *w, int32_t part, sr_errctx_t *ec)
{
        char key[sizeof(CLAIM_KEY) + SR_UUID_STR_LEN + 1];
        sr_changelog_t cl;
        sr_outrec_t rec;
        sr_buf_t val = { 0 };
        sr_err_t err;

        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_MARKER;
        snprintf(cl.u.marker.batch_id, sizeof(cl.u.marker.batch_id), "%s/0",
                 w->instance);
        cl.u.marker.partition = part;
        cl.u.marker.commands_offset = -1;
        cl.u.marker.results_offset = -1;
        err = sr_codec_encode_changelog(w->codec, &cl, &val, ec);
        if (err)
                return err;
        snprintf(key, sizeof(key), "%s/%s", CLAIM_KEY, w->instance);
        memset(&rec, 0, sizeof(rec));
        rec.topic = SR_TOPIC_CHANGELOG;
        rec.partition = part;
        rec.key = sr_slice(key, strlen(key));
        rec.value = sr_buf_slice(&val);
        rec.n_headers = 1;
        rec.headers[0].name = BATCH_HEADER;
        rec.headers[0].value = sr_slice(cl.u.marker.batch_id,
                                        strlen(cl.u.marker.batch_id));
        err = sr_producer_send(w->prod, &rec, ec);
        sr_buf_free(&val);
        return err;
}

/* A partition assigned as trusted must be restored after all (its claim
 * did not land where its snapshot ends): assign it paused. */
static void restore_instead(sr_worker_t *w, int32_t p, int64_t high,
                            int64_t *start)
{
        part_t *pt = &w->parts[p];

        pt->owned = false;
        sr_worker__timers_drop(w, p); /* armed again once restored */
        pt->restoring = true;
        pt->restore_total = high > 0 ? high : 0;
        pt->restore_attempts = pt->restore_grows = 0;
        w->restore_queued += pt->restore_total;
        atomic_fetch_add(&w->restoring, 1);
        start[0] = start[1] = SR_CONSUMER_PAUSED;
}

/* The changelog end each claimed partition's snapshot now matches
 * (@p ends[p] >= 0), in one transaction. */
static sr_err_t claim_record(sr_worker_t *w, void *arg, sr_errctx_t *ec)
{
        const int64_t *ends = arg;
        sr_txn_t *txn = NULL;
        sr_err_t err;

        err = sr_store_txn_begin(w->store, true, &txn, ec);
        for (int32_t p = 0; p < MAX_PARTS && !err; p++) {
                sr_store_pmeta_t pm;

                if (ends[p] < 0)
                        continue;
                err = sr_store_pmeta_get(txn, p, &pm, ec);
                if (err == SR_ERR_NOT_FOUND) {
                        pm.commands_offset = pm.results_offset = -1;
                        pm.batch_seq = 0;
                        err = SR_OK;
                }
                pm.changelog_end = ends[p];
                if (!err)
                        err = sr_store_pmeta_put(txn, p, &pm, ec);
        }
        if (!txn)
                return err;
        if (err) {
                sr_store_txn_abort(txn);
                return err;
        }
        return sr_store_txn_commit(txn, ec);
}

/* Outbox mode: claim every assigned partition, after the trusted
 * snapshots' outboxes were republished and before any batch (see
 * "Fencing" in docs/guarantee.md). Each claim is acknowledged before the
 * partition is processed. A trusted snapshot stays trusted only if its
 * claim landed right where it (and its republished outbox) ended, and
 * then records the changelog's end after the claim; a restore reads up to
 * and including the claim. */
static sr_err_t claim_parts(sr_worker_t *w, const int32_t *parts, int n,
                            int64_t *start_offsets, sr_errctx_t *ec)
{
        int64_t before[MAX_PARTS], ends[MAX_PARTS];
        sr_err_t err = SR_OK;

        for (int32_t p = 0; p < MAX_PARTS; p++)
                ends[p] = -1;
        for (int i = 0; i < n; i++)
                if (parts[i] >= 0 && parts[i] < MAX_PARTS)
                        before[parts[i]] = sr_producer_acked_offset(
                                w->prod, SR_TOPIC_CHANGELOG, parts[i]);
        /* A claim refused or lost is sent again, as the relay does (a
         * second claim of the same writer changes nothing). Unanswered
         * (the broker away: SR_ERR_RETRY) it is sent again until the
         * broker answers, as the relay does: an outage is ridden out, not
         * turned into an exit. Refused for a minute, the worker stops and
         * the group hands the partitions on. */
        for (double wait = 0.1, t0 = sr_worker__mono_s();; wait *= 2) {
                for (int i = 0; i < n && !err; i++)
                        if (parts[i] >= 0 && parts[i] < MAX_PARTS)
                                err = claim_send(w, parts[i], ec);
                if (!err)
                        err = sr_worker__wait_acks(w, RELAY_TIMEOUT_MS, ec);
                if (err && w->stop_flag && *w->stop_flag) {
                        sr_errctx_prefix(ec, "stopping with claims "
                                         "unacknowledged");
                        break;
                }
                if (!err || err == SR_ERR_FATAL || err == SR_ERR_NOMEM ||
                    (err != SR_ERR_RETRY &&
                     sr_worker__mono_s() - t0 > 60.0))
                        break;
                if (err == SR_ERR_RETRY)
                        atomic_store(&w->broker_ok, false);
                SR_WARN("WORKER", "claims not acknowledged, sending them "
                        "again err=\"%s\"", ec->msg);
                {
                        double d = wait < 5.0 ? wait : 5.0;
                        struct timespec ts = {
                                (time_t)d, (long)((d - (double)(time_t)d) * 1e9)
                        };

                        nanosleep(&ts, NULL);
                }
                err = SR_OK;
        }
        for (int i = 0; i < n && !err; i++) {
                int32_t p = parts[i];
                part_t *pt;
                int64_t c, want;

                if (p < 0 || p >= MAX_PARTS)
                        continue;
                pt = &w->parts[p];
                c = sr_producer_acked_offset(w->prod, SR_TOPIC_CHANGELOG, p);
                pt->claimed = true;
                pt->gap_base = sr_producer_acked_gaps(w->prod,
                                                      SR_TOPIC_CHANGELOG, p);
                SR_INFO("WORKER", "partition claimed partition=%" PRId32
                        " writer=%s claim_offset=%" PRId64, p, w->instance,
                        c);
                if (pt->restoring) { /* read up to our claim */
                        w->restore_queued -= pt->restore_total;
                        pt->restore_total = (uint64_t)(c + 1);
                        w->restore_queued += pt->restore_total;
                        continue;
                }
                if (!pt->owned)
                        continue;
                /* our republished outbox, else the end seen when assigned */
                want = before[p] >= pt->claim_high ? before[p] + 1 :
                                                     pt->claim_high;
                if (c != want) {
                        SR_WARN("WORKER", "snapshot not trusted after all: "
                                "another writer's records before our claim "
                                "partition=%" PRId32 " claim_offset=%" PRId64
                                " expected=%" PRId64, p, c, want);
                        restore_instead(w, p, c + 1, &start_offsets[2 * i]);
                        continue;
                }
                ends[p] = c + 1;
        }
        if (err)
                return err;
        return sr_worker__write_growing(w, claim_record, ends,
                                        "recording claims", ec);
}

void sr_worker__on_assign(void *arg, const int32_t *parts, int n,
                          int64_t *start_offsets)
{
        sr_worker_t *w = arg;
        sr_errctx_t ec = { 0 };
        double t_assign = sr_worker__mono_s();

        /* The previous ownership period's batches go out first. */
        if (sr_worker__pipe_drain(w, &ec))
                sr_worker__set_fatal(w, &ec, "relay before assign");
        sr_worker__new_writer(w); /* a new ownership period */
        for (int p = 0; p < MAX_PARTS; p++)
                w->parts[p].claimed = false;

        /* a restore rewrites the snapshot under the cache */
        sr_worker__runs_reset(w);
        sr_series_add(w->m.assigned, n);
        /* not ready while deciding (the watermark lookups) */
        atomic_fetch_add(&w->restoring, 1);
        sr_series_set(w->m.restoring, 1);
        for (int i = 0; i < n; i++) {
                int32_t p = parts[i];
                int64_t *start = &start_offsets[2 * i];
                int64_t high = 0;
                part_t *pt;

                start[0] = start[1] = -1;
                if (p < 0 || p >= MAX_PARTS) {
                        SR_ERROR("WORKER", "partition out of range "
                                 "partition=%" PRId32, p);
                        continue;
                }
                pt = &w->parts[p];
                /* A retriable error (a leader moving in a cluster: the
                 * changelog's watermarks answer NOT_LEADER_FOR_PARTITION
                 * until the client's metadata catches up, seconds on a
                 * busy cluster) is retried with a growing pause for up to
                 * ASSIGN_RETRY_MS; five retries without a pause stopped the
                 * worker (chaos.real_kafka_cluster, seed 1796436360). */
                for (int attempt = 0, pause = 50;; attempt++) {
                        double spent;

                        ec.msg[0] = '\0';
                        if (assign_one(w, p, start, &high, &ec) == SR_OK)
                                break;
                        spent = (sr_worker__mono_s() - t_assign) * 1000.0;
                        if (ec.code != SR_ERR_RETRY ||
                            spent + pause > ASSIGN_RETRY_MS) {
                                sr_worker__set_fatal(w, &ec, "assign");
                                break;
                        }
                        SR_WARN("WORKER", "assignment retry partition=%"
                                PRId32 " attempt=%d pause_ms=%d err=\"%s\"",
                                p, attempt + 1, pause, ec.msg);
                        usleep((useconds_t)pause * 1000);
                        pause = pause * 2 > 1000 ? 1000 : pause * 2;
                }
                if (w->fatal)
                        break;
                if (start[0] == SR_CONSUMER_PAUSED) {
                        /* owned once restored (sr_worker__restore_step) */
                        pt->restoring = true;
                        pt->restore_total = high > 0 ? high : 0;
                        pt->restore_attempts = pt->restore_grows = 0;
                        pt->await_stable = high < 0;
                        pt->stable_t0 = pt->stable_next =
                                sr_worker__mono_s();
                        pt->stable_warn = pt->stable_t0 + STABLE_WARN_S;
                        w->restore_queued += pt->restore_total;
                        atomic_fetch_add(&w->restoring, 1);
                        continue;
                }
                pt->owned = true;
                SR_INFO("WORKER", "partition assigned partition=%" PRId32
                        " commands_offset=%" PRId64 " results_offset=%"
                        PRId64, p, start[0], start[1]);
                check_inputs_kept(w, p, start);
        }
        /* Republish what a trusted snapshot still had in its outbox. */
        if (!w->fatal) {
                int32_t owned[MAX_PARTS];
                int np = sr_worker__owned_parts(w, owned);

                sr_err_t err = sr_worker__relay(w, owned, np, false, &ec);

                if (!sr_worker__relay_deferred(w, err, &ec) && err)
                        sr_worker__set_fatal(w, &ec, "relay after assign");
        }
        /* exactly_once: the group generation fences the transactions */
        if (!w->fatal && !sr_producer_is_txn(w->prod) &&
            claim_parts(w, parts, n, start_offsets, &ec) != SR_OK)
                sr_worker__set_fatal(w, &ec, "claim");
        atomic_fetch_sub(&w->restoring, 1);
        atomic_store(&w->assigned_once, true);
        sr_worker__restore_gauges(w);
}

void sr_worker__on_revoke(void *arg, const int32_t *parts, int n)
{
        sr_worker_t *w = arg;
        sr_errctx_t ec = { 0 };
        int32_t owned[MAX_PARTS];
        int np;

        sr_series_add(w->m.revoked, n);
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
                int32_t p = parts[i];

                if (p < 0 || p >= MAX_PARTS)
                        continue;
                if (w->rst && w->rst->part == p) {
                        /* Cancelled: its metadata was not written, so no
                         * owner trusts what the slices wrote. */
                        SR_INFO("RESTORE", "restore cancelled by revoke "
                                "partition=%" PRId32 " read=%" PRIu64
                                " of %" PRIu64, p, w->rst->read,
                                w->rst->total);
                        sr_series_add(w->m.restores_cancelled, 1);
                        restore_free(w);
                }
                restore_unqueue(w, p);
                w->parts[p].owned = false;
                sr_worker__timers_drop(w, p);
                sr_worker__outbox_revoke(w, p);
                SR_INFO("WORKER", "partition revoked partition=%" PRId32, p);
        }
        sr_worker__restore_gauges(w);
}
