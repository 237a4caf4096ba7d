/* common/status/sr_worker_outbox.c - the one owner of the outbox: the
 * records of a batch in memory and in the LMDB outbox (sr_store_outbox.c
 * stores them), relaying them in phases (plain or in a Kafka transaction;
 * the pipelined relay is sr_worker_outbox_pipe.c), acknowledgements,
 * resends, and the timers' TimerFired commands. */
#include <inttypes.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sr_log.h"
#include "sr_worker_int.h"

/* Keep a copy of an outbox record of this batch for sr_worker__relay_mem(). */
static void mem_put(sr_worker_t *w, int32_t part, uint8_t phase,
                    sr_slice_t bytes)
{
        membuf_t *b = &w->cur;
        sr_errctx_t ec = { 0 };
        mem_rec_t *m;

        if (b->n == b->cap) {
                size_t cap = b->cap ? b->cap * 2 : 1024;
                mem_rec_t *n = realloc(b->recs, cap * sizeof(*n));

                if (!n) {
                        sr_errctx_set(&ec, SR_ERR_NOMEM, "batch records");
                        sr_worker__set_fatal(w, &ec, "outbox append");
                        return;
                }
                b->recs = n;
                b->cap = cap;
        }
        m = &b->recs[b->n];
        m->partition = part;
        m->phase = phase;
        if (bytes.len > b->bytes_cap - b->len) {
                size_t cap = b->bytes_cap ? b->bytes_cap : 65536;
                uint8_t *n;

                while (cap - b->len < bytes.len)
                        cap *= 2;
                n = realloc(b->bytes, cap);
                if (!n) {
                        sr_errctx_set(&ec, SR_ERR_NOMEM, "batch records");
                        sr_worker__set_fatal(w, &ec, "outbox append");
                        return;
                }
                b->bytes = n;
                b->bytes_cap = cap;
        }
        memcpy(b->bytes + b->len, bytes.ptr, bytes.len);
        m->off = b->len;
        m->len = bytes.len;
        b->len += bytes.len;
        b->n++;
}

/* A records buffer over SR_WORKER_BUF_KEEP whose last batch (what it still
 * holds, about to be dropped) used under a quarter of it gives its memory
 * back: one large batch does not keep it for good, while a steady stream
 * of large batches keeps its buffers (no free and regrow per batch).
 * @returns the bytes freed. */
static size_t membuf_trim(membuf_t *b)
{
        size_t freed = 0;

        if (b->cap * sizeof(*b->recs) > SR_WORKER_BUF_KEEP &&
            b->n < b->cap / 4) {
                freed += b->cap * sizeof(*b->recs);
                free(b->recs);
                b->recs = NULL;
                b->cap = 0;
        }
        if (b->bytes_cap > SR_WORKER_BUF_KEEP && b->len < b->bytes_cap / 4) {
                freed += b->bytes_cap;
                free(b->bytes);
                b->bytes = NULL;
                b->bytes_cap = 0;
        }
        return freed;
}

static size_t membuf_capacity(const membuf_t *b)
{
        return b->cap * sizeof(*b->recs) + b->bytes_cap;
}

/* Freed memory back to the system: glibc keeps what free() returns in its
 * arenas (and raises its mmap threshold after a large block is freed, so
 * the next large buffers come from the heap too); malloc_trim() gives the
 * free pages back. Called only after a buffer over SR_WORKER_BUF_KEEP was
 * freed, i.e. after a batch far larger than usual. */
void sr_worker__give_back(size_t freed)
{
#ifdef __GLIBC__
        if (freed)
                malloc_trim(0);
#else
        (void)freed;
#endif
}

/* A batch begins: no records, no outbox seq per partition yet. */
void sr_worker__outbox_begin(sr_worker_t *w)
{
        for (int p = 0; p < MAX_PARTS; p++)
                w->parts[p].last_seq = 0;
        sr_worker__give_back(membuf_trim(&w->cur)); /* the batch before last's */
        w->cur.n = 0;
        w->cur.len = 0;
}

void sr_worker__buffers_trim(sr_worker_t *w)
{
        size_t freed = 0;

        if (w->bundle_cap > SR_WORKER_BUF_KEEP &&
            w->bundle_used < w->bundle_cap / 4) {
                freed += w->bundle_cap;
                sr_buf_free(&w->bundle);
                w->bundle_cap = 0;
        }
        w->bundle_used = 0;
        sr_fsm_out_reset(&w->out);
        freed += sr_fsm_out_trim(&w->out, SR_WORKER_BUF_KEEP);
        sr_worker__give_back(freed);
        sr_series_set(w->m.buffer_bytes,
                      (double)(membuf_capacity(&w->cur) +
                               membuf_capacity(&w->held) + w->bundle_cap +
                               sr_fsm_out_capacity(&w->out)));
}

/* An output of the batch (within the budget: sr_worker__emit()): kept in
 * memory, written to the outbox by sr_worker__outbox_flush() at the end of
 * the batch. */
void sr_worker__outbox_add(sr_worker_t *w, int32_t part, uint8_t phase,
                           const sr_outrec_t *rec)
{
        sr_errctx_t ec = { 0 };

        w->scratch.len = 0;
        if (sr_outrec_encode(rec, &w->scratch, &ec) != SR_OK) {
                sr_worker__set_fatal(w, &ec, "outbox encode");
                return;
        }
        mem_put(w, part, phase, sr_buf_slice(&w->scratch));
}

/* Write the batch's outputs to the outbox, one bundle per partition and
 * phase, in the batch transaction. */
void sr_worker__outbox_flush(sr_worker_t *w)
{
        sr_errctx_t ec = { 0 };

        for (int32_t p = 0; p < MAX_PARTS && !w->fatal; p++) {
                if (!w->parts[p].touched)
                        continue;
                for (uint8_t ph = SR_STORE_PHASE_EMIT;
                     ph <= SR_STORE_PHASE_CHANGELOG; ph++) {
                        bool any = false;
                        uint64_t seq;

                        if (sr_outbundle_begin(&w->bundle, &w->bundle_cap,
                                               &ec) != SR_OK)
                                goto err;
                        for (size_t i = 0; i < w->cur.n; i++) {
                                const mem_rec_t *m = &w->cur.recs[i];

                                if (m->partition != p || m->phase != ph)
                                        continue;
                                any = true;
                                if (sr_outbundle_add(
                                            &w->bundle, &w->bundle_cap,
                                            sr_slice(w->cur.bytes + m->off,
                                                     m->len),
                                            &ec) != SR_OK)
                                        goto err;
                        }
                        if (!any)
                                continue;
                        if (w->bundle.len > w->bundle_used)
                                w->bundle_used = w->bundle.len;
                        if (sr_store_outbox_append(w->txn, p, ph,
                                                   sr_buf_slice(&w->bundle),
                                                   &seq, &ec) != SR_OK)
                                goto err;
                        w->parts[p].last_seq = seq;
                }
        }
        return;
err:
        if (ec.code == SR_ERR_MAP_FULL)
                w->fatal = SR_ERR_MAP_FULL;
        else
                sr_worker__set_fatal(w, &ec, "outbox append");
}

/* The batch transaction committed: its records wait for the relay. */
void sr_worker__outbox_committed(sr_worker_t *w)
{
        w->outbox_pending += w->cur.n;
}

/* Every record sent so far has its delivery report (a producer wait just
 * ended): the TimerFired commands sent meanwhile were delivered, unless
 * something failed. Then they go back into the heap and are sent again
 * at the next tick: a delivery can fail (the broker gone for longer than
 * message.timeout.ms), and nothing else would re-arm a fired timer before
 * the next rebalance. A copy is harmless: its command id is derived from
 * the run and the deadline. */
static void timers_settle(sr_worker_t *w, bool failed)
{
        if (!w->n_unacked)
                return;
        w->n_unacked = 0;
        for (int32_t p = 0; p < MAX_PARTS; p++) {
                part_t *pt = &w->parts[p];

                while (failed && pt->owned && pt->unacked.n) {
                        timer_ent_t t = sr_worker__heap_pop(&pt->unacked);

                        sr_worker__timer_arm(w, p, t.deadline, &t.run);
                }
                pt->unacked.n = 0;
        }
}

static sr_err_t fenced(sr_worker_t *w, int32_t p, int64_t near,
                       sr_errctx_t *ec)
{
        sr_errctx_set(ec, SR_ERR_FATAL,
                      "fenced: changelog partition %" PRId32 " has another "
                      "writer's records after ours (near offset %" PRId64
                      "): another worker claimed the partition; nothing "
                      "more is published", p, near);
        sr_series_add(w->m.fenced, 1);
        sr_worker__set_fatal(w, ec, "relay");
        return SR_ERR_FATAL;
}

/* Outbox mode, after every record sent was acknowledged: is each claimed
 * partition's changelog still ours? Our records there land one after the
 * other from our claim on; a record of another writer between two of
 * ours is a newer owner's claim (or its batches): this worker is fenced.
 * It stops before sending anything more (the events of its next batches
 * among them) and exits: its supervisor restarts it, it joins the group
 * again and restores. A restore trusts nothing of ours after that claim
 * (sr_batchlog.h). Fails closed: a record reported failed that landed
 * after all looks the same, and costs a restart. */
sr_err_t sr_worker__fence_check(sr_worker_t *w, sr_errctx_t *ec)
{
        for (int32_t p = 0; p < MAX_PARTS; p++) {
                const part_t *pt = &w->parts[p];
                uint64_t gaps;

                if (!pt->claimed || !pt->owned)
                        continue;
                gaps = sr_producer_acked_gaps(w->prod, SR_TOPIC_CHANGELOG, p);
                if (gaps == pt->gap_base)
                        continue;
                return fenced(w, p,
                              sr_producer_acked_offset(w->prod,
                                                       SR_TOPIC_CHANGELOG, p),
                              ec);
        }
        return SR_OK;
}

static bool stopping(const sr_worker_t *w)
{
        return w->stop_flag && *w->stop_flag;
}

/* Before the next attempt of what began at @p t0 and failed @p failures
 * times before this one: 100 ms doubling up to 30 s since t0.
 * @returns false when stopping. */
static bool retry_wait(const sr_worker_t *w, unsigned failures, double t0)
{
        unsigned shift = failures < 9 ? failures : 9;
        double wait = 0.1 * (double)(1u << shift);

        if (wait > 30.0)
                wait = 30.0;
        while (sr_worker__mono_s() - t0 < wait && !stopping(w)) {
                struct timespec ts = { 0, 20 * 1000 * 1000 };

                nanosleep(&ts, NULL);
        }
        return !stopping(w);
}

/* One attempt of sr_worker__fence_stale()'s check. */
static sr_err_t stale_check(sr_worker_t *w, sr_errctx_t *ec)
{
        sr_err_t err = sr_worker__wait_acks(w, RELAY_TIMEOUT_MS, ec);

        if (err)
                return err;
        for (int32_t p = 0; p < MAX_PARTS; p++) {
                const part_t *pt = &w->parts[p];
                int64_t low, high, ours;

                if (!pt->claimed || !pt->owned)
                        continue;
                err = sr_kafka_watermarks(w->conf, SR_TOPIC_CHANGELOG, p,
                                          &low, &high, 10000, ec);
                if (err)
                        return err;
                ours = sr_producer_acked_offset(w->prod, SR_TOPIC_CHANGELOG,
                                                p);
                if (high != ours + 1)
                        return fenced(w, p, ours + 1, ec);
        }
        return SR_OK;
}

/* Outbox mode, before a relay: a worker whose consumer was not polled for
 * half a session or more (a paused process, a stalled relay) may have
 * been replaced meanwhile and not know it yet; before it publishes
 * anything more, every record it sent is acknowledged (fence check) and
 * each claimed partition's changelog must still end with its own last
 * record. It fails closed: nothing is published until the check passes.
 * Another writer's records stop it (fenced); no answer (the broker away
 * or unreachable, SR_ERR_RETRY) does not: the check is made again, 100 ms
 * doubling up to 30 s apart, as the relay retries, until the broker
 * answers or the worker is stopping. An outage of any length is ridden
 * out, not turned into an exit (tests/chaos: the outage rule). A failed
 * attempt may have taken the news of deliveries that failed or never came
 * (the producer reports each once): then *@p resend is set, and every
 * record sent before the check must be sent again (the relay from LMDB
 * does; the pipeline's own acks can no longer be trusted). */
sr_err_t sr_worker__fence_stale(sr_worker_t *w, bool *resend,
                                sr_errctx_t *ec)
{
        bool any = false;

        *resend = false;
        if (sr_producer_is_txn(w->prod) ||
            sr_worker__mono_s() - w->polled_s < w->session_s / 2)
                return SR_OK;
        for (int32_t p = 0; p < MAX_PARTS; p++)
                any |= w->parts[p].claimed && w->parts[p].owned;
        if (!any)
                return SR_OK;
        SR_WARN("RELAY", "consumer not polled for %.1f s: checking that the "
                "partitions are still ours before publishing",
                sr_worker__mono_s() - w->polled_s);
        for (unsigned failures = 0;; failures++) {
                double t0 = sr_worker__mono_s();
                sr_err_t err = stale_check(w, ec);

                if (err == SR_OK) /* checked: as good as a poll */
                        w->polled_s = sr_worker__mono_s();
                if (err != SR_ERR_RETRY)
                        return err;
                *resend = true;
                atomic_store(&w->broker_ok, false);
                if (stopping(w) || !retry_wait(w, failures, t0)) {
                        sr_errctx_prefix(ec, "stopping before the partitions "
                                         "were checked");
                        return SR_ERR_RETRY;
                }
                SR_WARN("RELAY", "no answer to the check, asking again "
                        "attempt=%u err=\"%s\"", failures + 1, ec->msg);
        }
}

/* Wait for every delivery report, then settle the timers sent meanwhile;
 * then the fence (sr_worker__fence_check()). */
sr_err_t sr_worker__wait_acks(sr_worker_t *w, int timeout_ms, sr_errctx_t *ec)
{
        sr_err_t err = sr_producer_wait(w->prod, timeout_ms, ec);

        timers_settle(w, err != SR_OK);
        if (!err)
                err = sr_worker__fence_check(w, ec);
        return err;
}

/* The timers' TimerFired commands of earlier ticks: when the relay is
 * idle (no relay in flight, every report served), settle them here; a busy
 * worker's relay waits do it otherwise. */
void sr_worker__outbox_settle_timers(sr_worker_t *w)
{
        sr_errctx_t ec = { 0 };

        if (w->n_unacked && !sr_worker__piped(w) &&
            sr_producer_outstanding(w->prod) == 0)
                (void)sr_worker__wait_acks(w, 0, &ec);
}

static sr_err_t send_timer(sr_worker_t *w, int32_t p, const timer_ent_t *t,
                           int64_t now, sr_errctx_t *ec)
{
        char key[SR_UUID_STR_LEN + 1];
        sr_command_t cmd = { 0 };
        sr_outrec_t rec = { 0 };
        sr_buf_t val = { 0 };
        sr_err_t err;

        cmd.kind = SR_CMD_TIMER_FIRED;
        sr_uuid_fmt(&t->run, key);
        sr_uuid_v5(&cmd.command_id, &sr_ns, "%s/timer/%" PRId64, key,
                   t->deadline);
        cmd.pipeline_run_id = t->run;
        cmd.issued_at = now;
        cmd.u.timer.entity_type = SR_ENT_PIPELINE_RUN;
        cmd.u.timer.entity_id = t->run;
        cmd.u.timer.deadline = t->deadline;
        err = sr_codec_encode_command(w->codec, &cmd, &val, ec);
        if (err)
                return err;
        rec.topic = SR_TOPIC_COMMANDS;
        rec.partition = p; /* our own partition */
        rec.key = sr_slice(key, SR_UUID_STR_LEN);
        rec.value = sr_buf_slice(&val);
        rec.timestamp = now;
        err = sr_producer_send(w->prod, &rec, ec);
        sr_buf_free(&val);
        SR_DEBUG("TIMER", "timer fired run=%s deadline=%" PRId64, key,
                 t->deadline);
        return err;
}

/* Publish a TimerFired command for each of the @p n due timers (@p due,
 * of partitions @p parts). One that cannot be sent goes back into the
 * timers' heap and is tried at the next tick (a duplicate is harmless: the
 * command id is derived from the run and the deadline); in outbox mode the
 * sent ones are kept until their delivery is known (timers_settle()). In
 * exactly_once mode one tick's commands are a transaction of their own. */
void sr_worker__outbox_send_timers(sr_worker_t *w, const int32_t *parts,
                                   const timer_ent_t *due, int n, int64_t now)
{
        bool txn = sr_producer_is_txn(w->prod);
        sr_errctx_t ec = { 0 };
        sr_err_t err = SR_OK;
        int sent = 0;

        if (txn)
                err = sr_producer_txn_begin(w->prod, &ec);
        for (; !err && sent < n; sent++)
                err = send_timer(w, parts[sent], &due[sent], now, &ec);
        if (txn && !err)
                err = sr_producer_txn_commit(w->prod, RELAY_TIMEOUT_MS, &ec);
        else if (!err) { /* outbox mode: until their delivery is known */
                for (int i = 0; i < n; i++)
                        sr_worker__heap_push(&w->parts[parts[i]].unacked,
                                             due[i].deadline, &due[i].run);
                w->n_unacked += (unsigned)n;
        }
        else if (txn && sent > 0) /* a send failed inside the transaction */
                (void)sr_producer_txn_abort(w->prod, RELAY_TIMEOUT_MS, NULL);
        if (err) {
                SR_ERROR("TIMER", "timers not published, retrying at the "
                         "next tick count=%d err=\"%s\"", n, ec.msg);
                for (int i = 0; i < n; i++)
                        sr_worker__timer_arm(w, parts[i], due[i].deadline,
                                             &due[i].run);
                if (err == SR_ERR_FATAL && txn &&
                    sr_worker__renew_producer(w, &ec) != SR_OK)
                        sr_worker__set_fatal(w, &ec, "timers");
                else if (err == SR_ERR_FATAL && !txn)
                        sr_worker__set_fatal(w, &ec, "timers");
                return;
        }
        sr_series_add(w->m.timers_fired, (double)n);
}

/* The partition is no longer ours: forget its commands not known
 * delivered (the next owner arms its timers from the snapshot). */
void sr_worker__outbox_revoke(sr_worker_t *w, int32_t part)
{
        w->parts[part].unacked.n = 0;
}

typedef struct relay_ctx {
        sr_worker_t *w;
        uint8_t phase;
        uint64_t last_seq;
        uint64_t n;
        sr_err_t err;
        sr_errctx_t ec;
} relay_ctx_t;

static int relay_send(const sr_outrec_t *rec, void *arg)
{
        relay_ctx_t *rc = arg;

        rc->err = sr_producer_send(rc->w->prod, rec, &rc->ec);
        if (rc->err)
                return 1;
        rc->n++;
        return 0;
}

static int relay_one(uint64_t seq, uint8_t phase, sr_slice_t bytes, void *arg)
{
        relay_ctx_t *rc = arg;
        sr_err_t err;

        if (seq > rc->last_seq)
                rc->last_seq = seq;
        if (phase != rc->phase)
                return 0;
        err = sr_outbox_entry_each(bytes, relay_send, rc, &rc->ec);
        if (err)
                rc->err = err;
        return rc->err != SR_OK;
}

/* Send one phase of a batch from memory: the same records, in the same
 * order, as its outbox holds. */
sr_err_t sr_worker__relay_mem(sr_worker_t *w, const membuf_t *b, uint8_t phase,
                              uint64_t *sent, sr_errctx_t *ec)
{
        for (size_t i = 0; i < b->n; i++) {
                const mem_rec_t *m = &b->recs[i];
                sr_outrec_t rec;
                sr_err_t err;

                if (m->phase != phase)
                        continue;
                err = sr_outrec_decode(sr_slice(b->bytes + m->off, m->len),
                                       &rec, ec);
                if (!err)
                        err = sr_producer_send(w->prod, &rec, ec);
                if (err)
                        return err;
                (*sent)++;
        }
        return SR_OK;
}

/* Send one phase of every listed partition's outbox (from memory when
 * @p from_mem: the batch just applied); wait for the acks. */
/* Send one phase of every listed partition's outbox, from memory when
 * @p from_mem (the batch just applied); no waiting. */
static sr_err_t send_phase(sr_worker_t *w, const int32_t *parts, int np,
                           bool from_mem, uint8_t phase, uint64_t *last_seq,
                           uint64_t *sent, sr_errctx_t *ec)
{
        sr_txn_t *txn;
        sr_err_t err;

        *sent = 0;
        if (from_mem) {
                for (int i = 0; i < np; i++)
                        last_seq[i] = w->parts[parts[i]].last_seq;
                return sr_worker__relay_mem(w, &w->cur, phase, sent, ec);
        }
        err = sr_store_txn_begin(w->store, false, &txn, ec);
        if (err)
                return err;
        for (int i = 0; i < np; i++) {
                relay_ctx_t rc = { w, phase, 0, 0, SR_OK, { 0 } };

                err = sr_store_outbox_scan(txn, parts[i], relay_one, &rc, ec);
                if (!err && rc.err) {
                        *ec = rc.ec;
                        err = rc.err;
                }
                if (err)
                        break;
                last_seq[i] = rc.last_seq;
                *sent += rc.n;
        }
        sr_store_txn_abort(txn);
        return err;
}

/* Failures the relay retries: the broker away (SR_ERR_RETRY), or a record
 * refused by the producer or the broker (SR_ERR_TOO_LARGE, SR_ERR_KAFKA,
 * SR_ERR_INVALID: MSG_SIZE_TOO_LARGE, INVALID_RECORD...). Anything else
 * (the store, a corrupt outbox entry, a fatal producer) is not a
 * publication problem. */
static bool relay_retries(sr_err_t err)
{
        return err == SR_ERR_RETRY || err == SR_ERR_TOO_LARGE ||
               err == SR_ERR_KAFKA || err == SR_ERR_INVALID;
}

/* A publication that began at @p t0 failed with @p err (relay_retries()).
 * Readiness says why, and the next attempt waits (retry_wait()), so a
 * record refused every time is not sent in a loop. Nothing is dropped: a
 * refused record stays in the outbox and holds this worker's relay (not
 * the others') until the broker takes it, e.g. once a topic's
 * max.message.bytes is raised (docs/guarantee.md). @returns false when
 * stopping. */
static bool relay_failed(sr_worker_t *w, sr_err_t err, double t0,
                         const sr_errctx_t *ec)
{
        unsigned failures = w->relay_failures++;

        sr_series_add(w->m.resends, 1);
        if (err == SR_ERR_RETRY) {
                atomic_store(&w->broker_ok, false);
        } else {
                if (!atomic_exchange(&w->relay_refused, true))
                        SR_ERROR("RELAY", "a record is refused; it stays in "
                                 "the outbox and is sent again until the "
                                 "broker takes it err=\"%s\"", ec->msg);
        }
        return retry_wait(w, failures, t0);
}

void sr_worker__relay_succeeded(sr_worker_t *w)
{
        w->relay_failures = 0;
        atomic_store(&w->broker_ok, true);
        if (atomic_exchange(&w->relay_refused, false))
                SR_INFO("RELAY", "the refused record was taken");
}

/* The error of a relay phase given up because the worker is stopping
 * (the cause kept after it: ec->msg cannot be both a source and the
 * destination of one format). */
static sr_err_t stopping_with_phase(sr_errctx_t *ec, uint8_t phase)
{
        sr_errctx_prefix(ec, "stopping with phase %u unacknowledged", phase);
        ec->code = SR_ERR_RETRY;
        return SR_ERR_RETRY;
}

/* Send one phase of the LMDB outbox and wait for the acks; re-send the
 * whole phase until every record is acknowledged (duplicates are
 * identical). */
static sr_err_t relay_phase(sr_worker_t *w, const int32_t *parts, int np,
                            uint8_t phase, uint64_t *last_seq, uint64_t *sent,
                            sr_errctx_t *ec)
{
        for (int attempt = 0;; attempt++) {
                double t0 = sr_worker__mono_s();
                sr_err_t err;

                err = send_phase(w, parts, np, false, phase, last_seq, sent,
                                 ec);
                if (!err)
                        err = sr_worker__wait_acks(w, RELAY_TIMEOUT_MS, ec);
                if (err == SR_OK) {
                        sr_worker__relay_succeeded(w);
                        return SR_OK;
                }
                if (!relay_retries(err))
                        return err;
                if (stopping(w))
                        return stopping_with_phase(ec, phase);
                SR_WARN("RELAY", "phase %u not acknowledged, re-sending "
                        "attempt=%d err=\"%s\"", phase, attempt + 1, ec->msg);
                if (!relay_failed(w, err, t0, ec))
                        return stopping_with_phase(ec, phase);
        }
}

void sr_worker__offsets_add(offsets_t *o, int32_t p, const sr_store_pmeta_t *pm)
{
        if (pm->commands_offset >= 0) {
                o->topic[o->n] = SR_TOPIC_COMMANDS;
                o->part[o->n] = p;
                o->off[o->n++] = pm->commands_offset;
        }
        if (pm->results_offset >= 0) {
                o->topic[o->n] = SR_TOPIC_RESULTS;
                o->part[o->n] = p;
                o->off[o->n++] = pm->results_offset;
        }
}

/* The outbox of @p parts is published (up to last1/last2 of each): delete
 * it, record the changelog end the snapshot now matches (the last
 * acknowledged changelog offset + @p tail: 1, or 2 when a transaction's
 * commit marker follows it) and collect the input offsets in @p o (unless
 * NULL). */
static sr_err_t relay_done_txn(sr_worker_t *w, const int32_t *parts, int np,
                               const uint64_t *last1, const uint64_t *last2,
                               int64_t tail, offsets_t *o, sr_errctx_t *ec)
{
        sr_txn_t *txn;
        sr_err_t err;

        if (o)
                o->n = 0;
        err = sr_store_txn_begin(w->store, true, &txn, ec);
        if (err)
                return err;
        for (int i = 0; i < np; i++) {
                uint64_t last = last1[i] > last2[i] ? last1[i] : last2[i];
                sr_store_pmeta_t pm;
                int64_t acked;

                if (last)
                        err = sr_store_outbox_delete_upto(txn, parts[i], last,
                                                          ec);
                if (!err)
                        err = sr_store_pmeta_get(txn, parts[i], &pm, ec);
                if (err == SR_ERR_NOT_FOUND) {
                        err = SR_OK;
                        continue;
                }
                if (err)
                        goto err_abort;
                acked = sr_producer_acked_offset(w->prod, SR_TOPIC_CHANGELOG,
                                                 parts[i]);
                if (acked >= 0 && acked + tail > pm.changelog_end) {
                        pm.changelog_end = acked + tail;
                        err = sr_store_pmeta_put(txn, parts[i], &pm, ec);
                        if (err)
                                goto err_abort;
                }
                if (o)
                        sr_worker__offsets_add(o, parts[i], &pm);
        }
        return sr_store_txn_commit(txn, ec);
err_abort:
        sr_store_txn_abort(txn);
        return err;
}

typedef struct relay_done_arg {
        const int32_t *parts;
        int np;
        const uint64_t *last1, *last2;
        int64_t tail;
        offsets_t *o;
} relay_done_arg_t;

static sr_err_t relay_done_write(sr_worker_t *w, void *arg, sr_errctx_t *ec)
{
        relay_done_arg_t *a = arg;

        return relay_done_txn(w, a->parts, a->np, a->last1, a->last2, a->tail,
                              a->o, ec);
}

/* Deleting from the outbox and updating the partition's metadata takes
 * pages too: a map filled by a restore or a batch just before is grown
 * and the transaction redone (it is idempotent). */
sr_err_t sr_worker__relay_done(sr_worker_t *w, const int32_t *parts, int np,
                               const uint64_t *last1, const uint64_t *last2,
                               int64_t tail, offsets_t *o, sr_errctx_t *ec)
{
        relay_done_arg_t a = { parts, np, last1, last2, tail, o };

        return sr_worker__write_growing(w, relay_done_write, &a,
                                        "recording a relayed outbox", ec);
}

/* Offsets only speed up a restart; the snapshot and the changelog markers
 * are authoritative, so a failed commit is logged, not fatal. */
void sr_worker__commit_offsets(sr_worker_t *w, const offsets_t *o)
{
        sr_errctx_t cec = { 0 };

        if (o->n && w->cons &&
            sr_consumer_commit(w->cons, o->topic, o->part, o->off, o->n,
                               &cec) != SR_OK)
                SR_WARN("RELAY", "offset commit failed err=\"%s\"", cec.msg);
}

/* The whole outbox is published. */
static void outbox_published(sr_worker_t *w)
{
        w->outbox_pending = 0;
        sr_series_set(w->m.outbox_depth, 0);
}

/* exactly_once: a new transactional producer. A fatal producer error (its
 * transaction expired while the broker was unreachable, and the
 * coordinator fenced its epoch) ends that producer, not the worker: its
 * transaction was aborted, the outbox still holds the batch, and a new
 * producer publishes it again. */
/* Test-only (tests/kafka/eos_restart.py; SR_TEST_RELAY_PAUSE_FILE, as the
 * outbox pipeline's hook): the batch's records sent and acknowledged inside
 * its open transaction, the worker stops itself (SIGSTOP) before the commit,
 * leaving the transaction open on the broker for the test's kill -9. */
static void test_pause_in_txn(sr_worker_t *w)
{
        if (!w->test_pause_file[0] || unlink(w->test_pause_file) != 0)
                return;
        (void)sr_producer_wait(w->prod, RELAY_TIMEOUT_MS, NULL);
        SR_WARN("RELAY", "test hook: stopping inside the open transaction "
                "of batch %s", w->batch_id);
        raise(SIGSTOP);
}

sr_err_t sr_worker__renew_producer(sr_worker_t *w, sr_errctx_t *ec)
{
        char txn_id[sizeof(w->txn_base) + 16];
        sr_err_t err;

        if (w->prod) {
                SR_WARN("WORKER", "transactional producer failed, making a "
                        "new one err=\"%s\"", ec->msg);
                sr_producer_destroy(w->prod);
                w->prod = NULL;
        }
        if (w->txn_static) /* the new producer fences the old one */
                snprintf(txn_id, sizeof(txn_id), "%s", w->txn_base);
        else
                snprintf(txn_id, sizeof(txn_id), "%s-%u", w->txn_base,
                         w->txn_gen);
        w->txn_gen++;
        err = sr_producer_new_txn(w->conf, w->conf->worker_name, txn_id,
                                  30000, &w->prod, ec);
        if (!err)
                SR_INFO("WORKER", "exactly-once processing: transactional "
                        "producer ready transactional.id=%s", txn_id);
        return err;
}

/* processing.guarantee=exactly_once: both phases and the input offsets in
 * one Kafka transaction; an aborted one is redone whole. Then the outbox
 * is emptied and the changelog end recorded, as in sr_worker__relay(). */
static sr_err_t relay_txn(sr_worker_t *w, const int32_t *parts, int np,
                          bool from_mem, sr_errctx_t *ec)
{
        uint64_t last1[MAX_PARTS], last2[MAX_PARTS], sent1, sent2;
        offsets_t o = { .n = 0 };
        sr_txn_t *txn;
        sr_err_t err;

        err = sr_store_txn_begin(w->store, false, &txn, ec);
        if (err)
                return err;
        for (int i = 0; i < np; i++) {
                sr_store_pmeta_t pm;

                if (sr_store_pmeta_get(txn, parts[i], &pm, NULL) == SR_OK)
                        sr_worker__offsets_add(&o, parts[i], &pm);
        }
        sr_store_txn_abort(txn);
        for (int attempt = 0, renewed = 0;; attempt++) {
                double t0 = sr_worker__mono_s();

                err = sr_producer_txn_begin(w->prod, ec);
                if (err == SR_ERR_FATAL && renewed++ < 3) {
                        err = sr_worker__renew_producer(w, ec);
                        if (err)
                                return err;
                        continue;
                }
                if (err)
                        return err;
                err = send_phase(w, parts, np, from_mem, SR_STORE_PHASE_EMIT,
                                 last1, &sent1, ec);
                if (!err)
                        err = send_phase(w, parts, np, from_mem,
                                         SR_STORE_PHASE_CHANGELOG, last2,
                                         &sent2, ec);
                if (err) {
                        sr_errctx_t aec = { 0 };

                        (void)sr_producer_txn_abort(w->prod, RELAY_TIMEOUT_MS,
                                                    &aec);
                        if (!relay_retries(err)) /* not the broker's doing */
                                return err;
                } else {
                        test_pause_in_txn(w);
                        if (w->cons)
                                err = sr_producer_txn_offsets(
                                        w->prod, w->cons, o.topic, o.part,
                                        o.off, o.n, RELAY_TIMEOUT_MS, ec);
                        if (!err)
                                err = sr_producer_txn_commit(
                                        w->prod, RELAY_TIMEOUT_MS, ec);
                }
                if (err == SR_OK) {
                        sr_worker__relay_succeeded(w);
                        break;
                }
                if (err == SR_ERR_FATAL && renewed++ < 3) {
                        err = sr_worker__renew_producer(w, ec);
                        if (err)
                                return err;
                        continue;
                }
                if (err == SR_ERR_FATAL)
                        return err;
                if (stopping(w)) {
                        sr_errctx_prefix(ec, "stopping with the transaction "
                                         "aborted");
                        ec->code = SR_ERR_RETRY;
                        return SR_ERR_RETRY;
                }
                if (!relay_failed(w, err, t0, ec) ||
                    attempt >= 2) { /* let the consumer poll (rebalance) */
                        ec->code = SR_ERR_RETRY;
                        return SR_ERR_RETRY;
                }
                SR_WARN("RELAY", "transaction aborted, redoing it attempt=%d "
                        "err=\"%s\"", attempt + 1, ec->msg);
        }
        /* The offsets went with the transaction. */
        err = sr_worker__relay_done(w, parts, np, last1, last2, 2, NULL, ec);
        if (!err)
                outbox_published(w);
        return err;
}

/* Publish the outbox of @p parts. Outbox mode reads it from LMDB (the
 * batch just applied goes through sr_worker__pipe_step() instead);
 * exactly_once sends the batch just applied from memory when
 * @p from_mem. */
sr_err_t sr_worker__relay(sr_worker_t *w, const int32_t *parts, int np,
                          bool from_mem, sr_errctx_t *ec)
{
        uint64_t last1[MAX_PARTS], last2[MAX_PARTS], sent1, sent2;
        bool resend; /* the phases below send everything again anyway */
        offsets_t o;
        sr_err_t err;

        if (np == 0)
                return SR_OK;
        sr_series_set(w->m.outbox_depth, (double)w->outbox_pending);
        if (sr_producer_is_txn(w->prod))
                return relay_txn(w, parts, np, from_mem, ec);
        err = sr_worker__fence_stale(w, &resend, ec);
        if (!err)
                err = relay_phase(w, parts, np, SR_STORE_PHASE_EMIT, last1,
                                  &sent1, ec);
        if (err)
                return err;
        err = relay_phase(w, parts, np, SR_STORE_PHASE_CHANGELOG,
                          last2, &sent2, ec);
        if (!err)
                err = sr_worker__relay_done(w, parts, np, last1, last2, 1,
                                            &o, ec);
        if (err)
                return err;
        outbox_published(w);
        sr_worker__commit_offsets(w, &o);
        return SR_OK;
}

/* Partitions owned now, for relaying. */
int sr_worker__owned_parts(const sr_worker_t *w, int32_t *parts)
{
        int n = 0;

        for (int32_t p = 0; p < MAX_PARTS; p++)
                if (w->parts[p].owned)
                        parts[n++] = p;
        return n;
}

/* exactly_once: a transaction that could not be committed (typically the
 * consumer lost its group membership while the broker was unreachable, so
 * its offsets are refused) leaves the batch in the outbox. The consumer
 * must be polled for the rebalance to happen, so the worker goes on and
 * publishes the outbox with the next batch (or at the next assignment).
 * @returns true when @p err was such a deferral. */
bool sr_worker__relay_deferred(sr_worker_t *w, sr_err_t err, sr_errctx_t *ec)
{
        if (!err) {
                w->relay_pending = false;
                return false;
        }
        if (err != SR_ERR_RETRY || !sr_producer_is_txn(w->prod) ||
            (w->stop_flag && *w->stop_flag))
                return false;
        if (!w->relay_pending)
                SR_WARN("RELAY", "batch not published yet, it stays in the "
                        "outbox and goes with the next transaction "
                        "err=\"%s\"", ec->msg);
        w->relay_pending = true;
        atomic_store(&w->broker_ok, false);
        return true;
}

void sr_worker__outbox_fini(sr_worker_t *w)
{
        free(w->cur.recs);
        free(w->cur.bytes);
        free(w->held.recs);
        free(w->held.bytes);
        free(w->pe.ts);
        free(w->pc.ts);
        for (int p = 0; p < MAX_PARTS; p++)
                free(w->parts[p].unacked.v);
        sr_buf_free(&w->scratch);
        sr_buf_free(&w->bundle);
}
