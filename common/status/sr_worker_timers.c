/* common/status/sr_worker_timers.c - the timers: per owned partition, a
 * heap of the unfinished runs' deadlines (armed from the snapshot on
 * assignment, by each batch, and again by the outbox for a TimerFired
 * command not delivered), and, every timer.resolution.ms, handing the due
 * ones to the outbox, which sends their TimerFired commands
 * (docs/guarantee.md, "Determinism first"). */
#include <stdlib.h>

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

        /* "<run>/p": a pipeline run; "<run>/r": a retired run's marker. */
        if (key.len != SR_UUID_STR_LEN + 2 ||
            (k[SR_UUID_STR_LEN + 1] != 'p' && k[SR_UUID_STR_LEN + 1] != 'r'))
                return 0;
        if (sr_codec_decode_changelog(ac->w->codec, value, &cl, NULL) !=
            SR_OK)
                return 0;
        if (cl.kind == SR_CL_ENTITY &&
            cl.u.entity.type == SR_ENT_PIPELINE_RUN) {
                const sr_pipeline_run_t *pr = &cl.u.entity.u.pr;

                /* A finished run's next_deadline is its retirement. */
                if (pr->next_deadline)
                        sr_worker__timer_arm(ac->w, ac->part,
                                             pr->next_deadline, &pr->m.id);
        } else if (cl.kind == SR_CL_RETIRED && cl.u.retired.forget_at) {
                sr_worker__timer_arm(ac->w, ac->part, cl.u.retired.forget_at,
                                     &cl.u.retired.pipeline_run_id);
        }
        sr_changelog_fini(&cl); /* a chunk here would be a defect */
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

/* Hand the outbox a TimerFired command for every due deadline of an owned
 * partition; it re-arms (sr_worker__timer_arm()) each one whose command is
 * not delivered. */
void sr_worker__timers_fire(sr_worker_t *w)
{
        timer_ent_t *due = w->due;
        int32_t *due_part = w->due_part;
        int64_t now = sr_worker__wall_ms();
        int n = 0;

        if (now - w->last_timer_ms < w->conf->timer_resolution_ms)
                return;
        w->last_timer_ms = now;
        /* Commands of earlier ticks whose delivery failed are re-armed
         * first, and fire again now. */
        sr_worker__outbox_settle_timers(w);
        for (int32_t p = 0; p < MAX_PARTS && n < SR_WORKER_TIMERS_PER_TICK; p++) {
                timer_heap_t *h = &w->parts[p].timers;

                while (w->parts[p].owned && h->n && h->v[0].deadline <= now &&
                       n < SR_WORKER_TIMERS_PER_TICK) {
                        due_part[n] = p;
                        due[n++] = sr_worker__heap_pop(h);
                }
        }
        if (n == 0)
                return;
        sr_worker__outbox_send_timers(w, due_part, due, n, now);
}

/* The partition is no longer ours: its timers go with it. */
void sr_worker__timers_drop(sr_worker_t *w, int32_t part)
{
        w->parts[part].timers.n = 0;
}

void sr_worker__timers_fini(sr_worker_t *w)
{
        for (int p = 0; p < MAX_PARTS; p++)
                free(w->parts[p].timers.v);
}
