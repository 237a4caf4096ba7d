/* common/status/sr_worker_outbox_pipe.c - the outbox's pipelined relay
 * (outbox mode): the two phases of consecutive batches overlap, each batch
 * still published in the order and with the acknowledgements the protocol
 * needs. Part of the outbox's owner (sr_worker_outbox.c). */
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "sr_log.h"
#include "sr_worker_int.h"

/* Outbox mode publishes a batch in two acknowledged phases: its events,
 * dispatch requests, replies, dead letters and forwarded results (EMIT),
 * then, only once those are acknowledged, its changelog records and
 * marker (CHANGELOG). Waiting for both after every batch left the worker
 * idle for two round trips per batch, so the phases of consecutive
 * batches overlap:
 *
 *   apply batch k            (EMIT(k-1) and CHANGELOG(k-2) in flight)
 *   wait for every ack
 *   done(k-2)                outbox deleted, changelog end, offsets
 *   send CHANGELOG(k-1)      its EMIT phase is acknowledged
 *   send EMIT(k)
 *
 * The protocol is the same: a batch's changelog goes out only after its
 * emit phase is acknowledged, every batch stays in the LMDB outbox until
 * both are, and the changelog end that makes a snapshot trusted is only
 * recorded with nothing in flight. A failure of any kind falls back to
 * sr_worker__relay(), which publishes the whole outbox again from LMDB,
 * phase by phase (duplicates are identical). With no input waiting the
 * pipeline is drained at once (sr_worker__pipe_drain()), so a quiet
 * worker publishes a batch as promptly as an unpipelined one.
 * exactly_once mode does not pipeline: each batch is one transaction. */

/* The whole outbox, from LMDB, after the pipeline failed. */
static sr_err_t pipe_fallback(sr_worker_t *w, sr_errctx_t *ec)
{
        int32_t owned[MAX_PARTS];
        int np = sr_worker__owned_parts(w, owned);

        SR_WARN("RELAY", "pipelined relay failed, publishing the outbox "
                "again err=\"%s\"", ec->msg);
        if (ec->code == SR_ERR_RETRY)
                atomic_store(&w->broker_ok, false);
        sr_series_add(w->m.resends, 1);
        w->pe.active = w->pc.active = false;
        return sr_worker__relay(w, owned, np, false, ec);
}

static void pipe_observe(sr_worker_t *w, const pipe_batch_t *pb)
{
        double now_ms = (double)sr_worker__wall_ms();

        for (int i = 0; i < pb->n_ts; i++)
                sr_worker__observe_latency(w, now_ms, pb->ts[i]);
}

/* The batch just applied (its @p np touched partitions) becomes w->pe. */
static sr_err_t pipe_take(sr_worker_t *w, const int32_t *parts, int np,
                          int n_in, sr_errctx_t *ec)
{
        pipe_batch_t *pb = &w->pe;
        membuf_t tmp;

        if (!pb->ts) {
                pb->ts = malloc((size_t)w->max_recs * sizeof(*pb->ts));
                if (!pb->ts)
                        return sr_errctx_set(ec, SR_ERR_NOMEM,
                                             "batch timestamps");
        }
        pb->np = np;
        pb->offs.n = 0;
        for (int i = 0; i < np; i++) {
                const part_t *pt = &w->parts[parts[i]];

                pb->parts[i] = parts[i];
                pb->last[i] = pt->last_seq;
                sr_worker__offsets_add(&pb->offs, parts[i], &pt->pm);
        }
        pb->records = w->cur.n;
        pb->n_ts = n_in;
        for (int i = 0; i < n_in; i++)
                pb->ts[i] = w->recs[i].timestamp;
        pb->active = true;
        tmp = w->held; /* its records are kept for the changelog phase */
        w->held = w->cur;
        w->cur = tmp;
        return SR_OK;
}

/* One step of the pipeline (see above); @p np > 0 hands it the batch just
 * applied, @p np == 0 only moves it on. */
sr_err_t sr_worker__pipe_step(sr_worker_t *w, const int32_t *parts, int np,
                              int n_in, sr_errctx_t *ec)
{
        uint64_t sent;
        bool resend;
        sr_err_t err;

        if (np > 0 && w->test_pause_file[0] &&
            unlink(w->test_pause_file) == 0) {
                SR_WARN("RELAY", "test hook: stopping before the relay of "
                        "batch %s", w->batch_id);
                raise(SIGSTOP); /* the test sends SIGCONT */
        }
        err = sr_worker__fence_stale(w, &resend, ec);
        if (err)
                return err;
        if (resend && (w->pe.active || w->pc.active)) {
                sr_errctx_set(ec, SR_ERR_RETRY, "deliveries failed or not "
                              "acknowledged while the partitions were "
                              "checked");
                return pipe_fallback(w, ec);
        }
        if (w->pe.active || w->pc.active) {
                err = sr_worker__wait_acks(w, RELAY_TIMEOUT_MS, ec);
                if (err == SR_ERR_FATAL)
                        return err;
                if (err)
                        return pipe_fallback(w, ec);
                sr_worker__relay_succeeded(w);
        }
        if (w->pc.active) {
                pipe_batch_t *pb = &w->pc;

                err = sr_worker__relay_done(w, pb->parts, pb->np, pb->last,
                                            pb->last, 1, NULL, ec);
                if (err)
                        return err;
                pb->active = false;
                sr_worker__commit_offsets(w, &pb->offs);
                w->outbox_pending -= pb->records < w->outbox_pending ?
                                             pb->records :
                                             w->outbox_pending;
        }
        if (w->pe.active) {
                pipe_observe(w, &w->pe);
                err = sr_worker__relay_mem(w, &w->held,
                                           SR_STORE_PHASE_CHANGELOG, &sent,
                                           ec);
                /* pc takes pe's bookkeeping; the two swap their buffers. */
                {
                        pipe_batch_t tmp = w->pc;

                        w->pc = w->pe;
                        w->pe = tmp;
                        w->pe.active = false;
                }
                if (err == SR_ERR_FATAL)
                        return err;
                if (err)
                        return pipe_fallback(w, ec);
        }
        if (np > 0) {
                err = pipe_take(w, parts, np, n_in, ec);
                if (!err)
                        err = sr_worker__relay_mem(w, &w->held,
                                                   SR_STORE_PHASE_EMIT,
                                                   &sent, ec);
                if (err == SR_ERR_FATAL || err == SR_ERR_NOMEM)
                        return err;
                if (err)
                        return pipe_fallback(w, ec);
        }
        sr_series_set(w->m.outbox_depth, (double)w->outbox_pending);
        return SR_OK;
}

/* Publish everything in the pipeline and wait for it. */
sr_err_t sr_worker__pipe_drain(sr_worker_t *w, sr_errctx_t *ec)
{
        while (w->pe.active || w->pc.active) {
                sr_err_t err = sr_worker__pipe_step(w, NULL, 0, 0, ec);

                if (err)
                        return err;
        }
        return SR_OK;
}
