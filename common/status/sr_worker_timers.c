/* common/status/sr_worker_timers.c - the timers: per owned partition, a
 * heap of the unfinished runs' deadlines (armed from the snapshot on
 * assignment and by each batch), and firing the due ones every
 * timer.resolution.ms as TimerFired commands (docs/guarantee.md,
 * "Determinism first"). */
#include <inttypes.h>
#include <stdlib.h>

#include "sr_log.h"
#include "sr_worker_int.h"

void sr_worker__heap_push(timer_heap_t *h, int64_t deadline,
                          const sr_uuid_t *run)
{
        size_t i;

        if (h->n == h->cap) {
                size_t cap = h->cap ? h->cap * 2 : 64;
                timer_ent_t *v = realloc(h->v, cap * sizeof(*v));

                if (!v)
                        return; /* a lost timer is re-armed on reassignment */
                h->v = v;
                h->cap = cap;
        }
        i = h->n++;
        while (i > 0 && h->v[(i - 1) / 2].deadline > deadline) {
                h->v[i] = h->v[(i - 1) / 2];
                i = (i - 1) / 2;
        }
        h->v[i].deadline = deadline;
        h->v[i].run = *run;
}

timer_ent_t sr_worker__heap_pop(timer_heap_t *h)
{
        timer_ent_t top = h->v[0], last = h->v[--h->n];
        size_t i = 0;

        for (;;) {
                size_t c = 2 * i + 1;

                if (c >= h->n)
                        break;
                if (c + 1 < h->n && h->v[c + 1].deadline < h->v[c].deadline)
                        c++;
                if (last.deadline <= h->v[c].deadline)
                        break;
                h->v[i] = h->v[c];
                i = c;
        }
        if (h->n)
                h->v[i] = last;
        return top;
}

void sr_worker__timer_arm(sr_worker_t *w, int32_t part, int64_t deadline,
                          const sr_uuid_t *run)
{
        sr_worker__heap_push(&w->parts[part].timers, deadline, run);
}

/* Arm the timers of every unfinished run of a partition. */
typedef struct arm_ctx {
        sr_worker_t *w;
        int32_t part;
} arm_ctx_t;

static int arm_one(sr_slice_t key, sr_slice_t value, void *arg)
{
        arm_ctx_t *ac = arg;
        const char *k = key.ptr;
        sr_changelog_t cl;

        if (key.len != SR_UUID_STR_LEN + 2 || k[SR_UUID_STR_LEN + 1] != 'p')
                return 0;
        if (sr_codec_decode_changelog(ac->w->codec, value, &cl, NULL) ==
                    SR_OK &&
            cl.kind == SR_CL_ENTITY && cl.u.entity.type == SR_ENT_PIPELINE_RUN) {
                const sr_pipeline_run_t *pr = &cl.u.entity.u.pr;

                if (pr->next_deadline && !sr_status_is_terminal(pr->m.status))
                        sr_worker__timer_arm(ac->w, ac->part,
                                             pr->next_deadline, &pr->m.id);
                sr_entity_fini(&cl.u.entity);
        }
        return 0;
}

sr_err_t sr_worker__timers_load(sr_worker_t *w, int32_t part, sr_errctx_t *ec)
{
        arm_ctx_t ac = { w, part };
        sr_txn_t *txn;
        sr_err_t err;

        w->parts[part].timers.n = 0;
        err = sr_store_txn_begin(w->store, false, &txn, ec);
        if (err)
                return err;
        err = sr_store_scan(txn, part, sr_slice("", 0), arm_one, &ac, ec);
        sr_store_txn_abort(txn);
        return err;
}

#define TIMERS_PER_TICK 1024

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

/* Publish a TimerFired command for every due deadline of an owned
 * partition. One that cannot be sent goes back into the heap and is tried
 * at the next tick (a duplicate is harmless: the command id is derived
 * from the run and the deadline). */
void sr_worker__timers_fire(sr_worker_t *w)
{
        static timer_ent_t due[TIMERS_PER_TICK];
        static int32_t due_part[TIMERS_PER_TICK];
        bool txn = sr_producer_is_txn(w->prod);
        int64_t now = sr_worker__wall_ms();
        sr_errctx_t ec = { 0 };
        sr_err_t err = SR_OK;
        int n = 0, sent = 0;

        if (now - w->last_timer_ms < w->conf->timer_resolution_ms)
                return;
        w->last_timer_ms = now;
        /* Idle (no relay in flight, every report served): settle the
         * timers sent at earlier ticks here; a busy worker's relay waits
         * do it otherwise. */
        if (w->n_unacked && !w->pe.active && !w->pc.active &&
            sr_producer_outstanding(w->prod) == 0)
                (void)sr_worker__wait_acks(w, 0, &ec);
        for (int32_t p = 0; p < MAX_PARTS && n < TIMERS_PER_TICK; p++) {
                timer_heap_t *h = &w->parts[p].timers;

                while (w->parts[p].owned && h->n && h->v[0].deadline <= now &&
                       n < TIMERS_PER_TICK) {
                        due_part[n] = p;
                        due[n++] = sr_worker__heap_pop(h);
                }
        }
        if (n == 0)
                return;
        if (txn)
                err = sr_producer_txn_begin(w->prod, &ec);
        for (; !err && sent < n; sent++)
                err = send_timer(w, due_part[sent], &due[sent], now, &ec);
        if (txn && !err)
                err = sr_producer_txn_commit(w->prod, RELAY_TIMEOUT_MS, &ec);
        else if (!err) { /* outbox mode: until their delivery is known */
                for (int i = 0; i < n; i++)
                        sr_worker__heap_push(&w->parts[due_part[i]].unacked,
                                             due[i].deadline, &due[i].run);
                w->n_unacked += (unsigned)n;
        }
        else if (txn && sent > 0) /* a send failed inside the transaction */
                (void)sr_producer_txn_abort(w->prod, RELAY_TIMEOUT_MS, NULL);
        if (err) {
                SR_ERROR("TIMER", "timers not published, retrying at the "
                         "next tick count=%d err=\"%s\"", n, ec.msg);
                for (int i = 0; i < n; i++)
                        sr_worker__heap_push(&w->parts[due_part[i]].timers,
                                             due[i].deadline, &due[i].run);
                if (err == SR_ERR_FATAL && txn &&
                    sr_worker__renew_producer(w, &ec) != SR_OK)
                        sr_worker__set_fatal(w, &ec, "timers");
                else if (err == SR_ERR_FATAL && !txn)
                        sr_worker__set_fatal(w, &ec, "timers");
                return;
        }
        sr_series_add(w->m.timers_fired, (double)n);
}

void sr_worker__timers_fini(sr_worker_t *w)
{
        for (int p = 0; p < MAX_PARTS; p++)
                free(w->parts[p].timers.v);
}
