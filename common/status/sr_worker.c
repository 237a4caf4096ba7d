/* common/status/sr_worker.c - the status worker loop and its guarantee.
 *
 * 1. Poll a batch. Each record is decoded, the run is loaded from LMDB, the
 *    pure state machine is applied with the record's own timestamp as "now",
 *    and every output is appended to the LMDB outbox. Nothing depends on
 *    the clock or on chance, so reprocessing an input reproduces its
 *    outputs byte for byte.
 * 2. One LMDB write transaction per batch holds the new entity states, the
 *    dedupe entries of commands, the outbox and the next input offsets.
 * 3. The outbox is relayed in phases: events, dispatch requests, replies
 *    and dead letters; once all are acknowledged the changelog records
 *    (each tagged with the batch id, the batch closed by a marker record
 *    holding the input offsets); once those are acknowledged the outbox is
 *    emptied, the changelog end offset is recorded, and the consumer
 *    offsets are committed.
 * 4. On assignment a partition's snapshot is trusted only when its recorded
 *    changelog end equals the changelog's end offset. Otherwise it is
 *    dropped and rebuilt from the changelog: records are applied only once
 *    their batch is known complete (its marker, or a later batch of the
 *    same writer, follows: sr_batchlog.h), so a batch cut short by a crash
 *    is discarded whole and its inputs are reprocessed (from the last
 *    marker's offsets) into the same outputs. This holds on a compacted
 *    changelog too (docs/guarantee.md).
 * 5. Timers: each pipeline run records its earliest deadline; when it is
 *    due the worker publishes a `timer fired` command to its own partition
 *    and acts on it when it reads it back.
 */
#include "sr_worker.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sr_batchlog.h"
#include "sr_budget.h"
#include "sr_clock.h"
#include "sr_codec.h"
#include "sr_fsm.h"
#include "sr_kafka.h"
#include "sr_log.h"
#include "sr_outbox.h"
#include "sr_store.h"

#define MAX_PARTS 1024
#define MARKER_KEY "~marker"
#define BATCH_HEADER "sr_batch"
#define FORWARD_HEADER "sr_forwarded_from"
#define RELAY_TIMEOUT_MS 30000

/* ------------------------------------------------------------ timers */

typedef struct timer_ent {
        int64_t deadline;
        sr_uuid_t run;
} timer_ent_t;

typedef struct timer_heap {
        timer_ent_t *v;
        size_t n, cap;
} timer_heap_t;

static void heap_push(timer_heap_t *h, int64_t deadline, const sr_uuid_t *run)
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

static timer_ent_t heap_pop(timer_heap_t *h)
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

/* ------------------------------------------------------------ state */

typedef struct part {
        bool owned;
        bool touched; /* has work in the current batch */
        int64_t next_cmd, next_res; /* next input offsets seen this batch */
        uint64_t last_seq; /* outbox seq of its last record this batch */
        sr_store_pmeta_t pm; /* its input offsets after this batch */
        timer_heap_t timers;
        /* outbox mode: TimerFired commands sent, not known delivered */
        timer_heap_t unacked;
} part_t;

/* A run as decoded from the snapshot, kept between batches (the run
 * cache) and changed in place by the state machine. The snapshot is only
 * written by this worker's batches, so a cached run equals its LMDB copy
 * after every committed batch; an aborted batch drops the cache. */
typedef struct batch_run {
        int32_t partition;
        sr_uuid_t id;
        sr_run_t run;
        int64_t loaded_deadline; /* run.pr.next_deadline already in heap */
        uint64_t used_in;        /* batch_no of its last use */
        uint32_t entities;       /* what it counts against cache.entities */
        int last_in;             /* index in recs of its last input */
} batch_run_t;

/* A phase-1 or phase-2 record of a batch, kept in memory (as written to
 * the outbox) so the relay need not read the outbox back. */
typedef struct mem_rec {
        int32_t partition;
        uint8_t phase;
        size_t off, len; /* into membuf_t.bytes */
} mem_rec_t;

/* The outbox records of one batch, in order. */
typedef struct membuf {
        mem_rec_t *recs;
        size_t n, cap;
        uint8_t *bytes;
        size_t len, bytes_cap;
} membuf_t;

/* Input offsets of some partitions' snapshots, to commit. */
typedef struct offsets {
        sr_topic_kind_t topic[2 * MAX_PARTS];
        int32_t part[2 * MAX_PARTS];
        int64_t off[2 * MAX_PARTS];
        int n;
} offsets_t;

/* A batch of the pipelined relay (pipe_step()), between its LMDB commit
 * and the acknowledgement of its last phase. */
typedef struct pipe_batch {
        bool active;
        int np;
        int32_t parts[MAX_PARTS];
        uint64_t last[MAX_PARTS]; /* its last outbox seq, per partition */
        uint64_t records;         /* its outbox records */
        offsets_t offs;           /* input offsets once it is published */
        int64_t *ts;              /* its inputs' timestamps (latency) */
        int n_ts;
} pipe_batch_t;

/* Metric increments of the current batch, added to the registry only when
 * its transaction commits (a batch redone after MDB_MAP_FULL counts once). */
typedef struct batch_stats {
        uint32_t inputs[2][6];
        uint32_t transitions[SR_ENT__COUNT][SR_ST__COUNT];
        uint32_t rejections[SR_REJECT__COUNT];
        uint32_t dead_letters, events;
} batch_stats_t;

/* An input of the current poll refused after it was applied: a record it
 * leads to would be over the output budget (SR_REJECT_TOO_LARGE), or the
 * state machine refused a transition of its own (SR_REJECT_INTERNAL, a
 * defect). The batch is redone without its changes. */
typedef struct refusal {
        int input; /* index in recs */
        sr_reject_t reason;
        char why[200];
} refusal_t;

typedef struct metrics {
        sr_series_t *inputs[2][6]; /* topic x outcome */
        sr_series_t *transitions[SR_ENT__COUNT][SR_ST__COUNT];
        sr_series_t *rejections[SR_REJECT__COUNT];
        sr_series_t *dead_letters;
        sr_series_t *events, *outbox_depth, *lag, *latency, *batch_latency;
        sr_series_t *restore_records, *restoring, *restore_remaining;
        sr_series_t *timers_fired, *map_grows, *resends;
} metrics_t;

enum { OUT_APPLIED, OUT_STALE, OUT_DUPLICATE, OUT_REJECTED, OUT_DLQ,
       OUT_IGNORED };
static const char *const outcome_names[] = { "applied", "stale", "duplicate",
                                             "rejected", "dead_letter",
                                             "ignored" };

struct sr_worker {
        const sr_conf_t *conf;
        sr_metrics_t *registry;
        metrics_t m;
        sr_codec_t *codec;
        sr_store_t *store;
        sr_producer_t *prod;
        sr_consumer_t *cons;
        /* The writer id of batch ids "WRITER/N": new at every assignment,
         * so only a writer's last batch can be cut short (sr_batchlog.h). */
        char instance[SR_UUID_STR_LEN + 1];
        char marker_key[sizeof(MARKER_KEY) + SR_UUID_STR_LEN + 1];
        uint64_t batch_no;
        char batch_id[64];

        part_t parts[MAX_PARTS];
        sr_inrec_t *recs;
        int max_recs;
        sr_fsm_out_t out;

        batch_run_t **runs; /* open addressing by (partition, run id) */
        size_t runs_cap, runs_used, runs_max;
        batch_run_t **used; /* the runs of the current batch, max_recs */
        size_t n_used;
        uint64_t cached_entities;
        batch_stats_t bs;

        membuf_t cur;      /* this batch's outbox records */
        membuf_t held;     /* pe's, until its changelog phase is sent */
        pipe_batch_t pe;   /* emit phase sent, changelog phase not yet */
        pipe_batch_t pc;   /* changelog phase sent, not acknowledged */

        sr_buf_t scratch;  /* encoded outrec */
        sr_buf_t bundle;   /* outbox entry being built */
        size_t bundle_cap;
        sr_txn_t *txn;     /* the batch transaction */
        sr_err_t fatal;    /* sticky */
        char fatal_msg[256];

        atomic_int restoring;
        atomic_bool assigned_once; /* the group gave us an assignment */
        const volatile sig_atomic_t *stop_flag;
        atomic_bool broker_ok;
        atomic_bool store_ok;
        atomic_bool map_full; /* growing the map, input paused */
        atomic_bool relay_refused; /* a record is refused, relay retries */
        size_t in_max;        /* command.max.bytes: largest input */
        size_t out_max;       /* largest record derived from inputs */
        int cur_in;           /* index in recs of the input applied, -1 */
        bool redo;            /* an output is over out_max: redo batch */
        refusal_t *refused;   /* this poll's inputs refused for outputs */
        int n_refused;
        unsigned relay_failures; /* failed publications in a row */
        char txn_base[300];   /* exactly_once: transactional.id prefix */
        bool relay_pending;   /* exactly_once: the outbox holds an
                               * unpublished batch (relay_deferred) */
        unsigned txn_gen;     /* producers made so far */
        int64_t last_ping_ms;
        int64_t last_timer_ms;
        uint64_t outbox_pending; /* appended, not yet acknowledged */
        unsigned n_unacked;      /* in the parts' unacked timer lists */
};

static int64_t wall_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void metrics_init(sr_worker_t *w)
{
        sr_metrics_t *r = w->registry;
        char labels[128];

        if (!r)
                return;
        for (int t = 0; t < 2; t++)
                for (int o = 0; o < 6; o++) {
                        snprintf(labels, sizeof(labels),
                                 "topic=\"%s\",outcome=\"%s\"",
                                 t ? "results" : "commands", outcome_names[o]);
                        w->m.inputs[t][o] = sr_metrics_counter(
                                r, "sr_inputs_total",
                                "Input records by topic and outcome.", labels);
                }
        for (int e = 0; e < SR_ENT__COUNT; e++)
                for (int s = 1; s < SR_ST__COUNT; s++) {
                        snprintf(labels, sizeof(labels),
                                 "entity=\"%s\",status=\"%s\"",
                                 sr_entity_type_name((sr_entity_type_t)e),
                                 sr_status_name((sr_status_t)s));
                        w->m.transitions[e][s] = sr_metrics_counter(
                                r, "sr_transitions_total",
                                "Status transitions by entity and new status.",
                                labels);
                }
        for (int k = 1; k < SR_REJECT__COUNT; k++) {
                snprintf(labels, sizeof(labels), "reason=\"%s\"",
                         sr_reject_name((sr_reject_t)k));
                w->m.rejections[k] = sr_metrics_counter(
                        r, "sr_rejections_total",
                        "Commands refused by the state machine, by reason.",
                        labels);
        }
        w->m.dead_letters = sr_metrics_counter(
                r, "sr_dead_letters_total",
                "Input records sent to the dead-letter topic.", NULL);
        w->m.events = sr_metrics_counter(r, "sr_events_total",
                                         "Status-change events made (each is "
                                         "published before its batch's "
                                         "offsets are committed).",
                                         NULL);
        w->m.outbox_depth = sr_metrics_gauge(
                r, "sr_outbox_depth",
                "Records in the outbox not yet acknowledged.", NULL);
        w->m.lag = sr_metrics_gauge(r, "sr_consumer_lag",
                                    "Input records not yet consumed.", NULL);
        w->m.latency = sr_metrics_histogram(
                r, "sr_processing_latency_seconds",
                "From an input's timestamp to its events, dispatch "
                "requests and replies acknowledged.",
                NULL, NULL, 0);
        w->m.batch_latency = sr_metrics_histogram(
                r, "sr_batch_duration_seconds",
                "Time to apply one batch and relay it (outbox mode: "
                "its first phase sent, the previous batches' phases "
                "acknowledged).", NULL, NULL, 0);
        w->m.resends = sr_metrics_counter(
                r, "sr_relay_resends_total",
                "Outbox publications redone because a delivery was not "
                "acknowledged (broker trouble); the copies are identical.",
                NULL);
        w->m.restore_records = sr_metrics_counter(
                r, "sr_restore_records_total",
                "Changelog records read while restoring partitions.", NULL);
        w->m.restoring = sr_metrics_gauge(
                r, "sr_restore_partitions_in_progress",
                "Partitions being restored from the changelog.", NULL);
        w->m.restore_remaining = sr_metrics_gauge(
                r, "sr_restore_records_remaining",
                "Changelog records left to read in the current restore.",
                NULL);
        w->m.timers_fired = sr_metrics_counter(
                r, "sr_timers_fired_total",
                "Timer-fired commands published.", NULL);
        w->m.map_grows = sr_metrics_counter(
                r, "sr_store_map_grows_total",
                "Times the LMDB map was grown after MDB_MAP_FULL.", NULL);
}

static void set_fatal(sr_worker_t *w, const sr_errctx_t *ec, const char *op)
{
        if (w->fatal)
                return;
        w->fatal = SR_ERR_FATAL;
        if (snprintf(w->fatal_msg, sizeof(w->fatal_msg), "%s: %s", op,
                     ec ? ec->msg : "") < 0)
                w->fatal_msg[0] = '\0';
        atomic_store(&w->store_ok, false);
        SR_ERROR("WORKER", "fatal: %s", w->fatal_msg);
}

/* ------------------------------------------------------------ outbox */

static void new_writer(sr_worker_t *w)
{
        sr_uuid_t id;

        sr_uuid_v4(&id);
        sr_uuid_fmt(&id, w->instance);
        snprintf(w->marker_key, sizeof(w->marker_key), "%s/%s", MARKER_KEY,
                 w->instance);
}

/* Keep a copy of an outbox record of this batch for relay_mem(). */
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
                        set_fatal(w, &ec, "outbox append");
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
                        set_fatal(w, &ec, "outbox append");
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

/* The refusal recorded for input @p in of this poll, or NULL. */
static const refusal_t *refusal_of(const sr_worker_t *w, int in)
{
        for (int i = 0; i < w->n_refused; i++)
                if (w->refused[i].input == in)
                        return &w->refused[i];
        return NULL;
}

/* Refuse the input being applied, after the fact: record why and redo the
 * batch without its changes. False when it cannot be refused (not an
 * input's doing, or already refused): the caller's defect is fatal. */
static bool refuse_current(sr_worker_t *w, sr_reject_t reason,
                           const char *why)
{
        refusal_t *r;

        if (w->cur_in < 0 || refusal_of(w, w->cur_in) ||
            w->n_refused >= w->max_recs)
                return false;
        r = &w->refused[w->n_refused++];
        r->input = w->cur_in;
        r->reason = reason;
        snprintf(r->why, sizeof(r->why), "%s", why);
        w->redo = true;
        SR_WARN("WORKER", "input refused after it was applied, batch redone "
                "partition=%" PRId32 " offset=%" PRId64 " reason=%s "
                "why=\"%s\"",
                w->recs[w->cur_in].partition, w->recs[w->cur_in].offset,
                sr_reject_name(reason), r->why);
        return true;
}

/* A record of @p size bytes, derived from the input being applied, would
 * be over the output budget (docs/guarantee.md proves it cannot be for an
 * input within command.max.bytes; this is the safety net). The input is
 * refused and the batch redone without its changes: a verdict that only
 * depends on the run's state and the input, so reprocessing repeats it. */
static void over_budget(sr_worker_t *w, const char *what, size_t size)
{
        sr_errctx_t ec = { 0 };
        char why[200];

        snprintf(why, sizeof(why), "it leads to a %s of %zu bytes, over the "
                 "%zu-byte limit of a record (command.max.bytes + %d)", what,
                 size, w->out_max, SR_BUDGET_OVERHEAD);
        if (!refuse_current(w, SR_REJECT_TOO_LARGE, why)) {
                /* Not an input's doing (a marker), or its refusal itself
                 * does not fit: a defect, not a poison input. */
                sr_errctx_set(&ec, SR_ERR_FATAL, "%s of %zu bytes is over "
                              "the %zu-byte budget of a record", what, size,
                              w->out_max);
                set_fatal(w, &ec, "outbox");
        }
}

/* The state machine refused a transition of its own (SR_ERR_INTERNAL: a
 * defect, or a stored state it never makes). The input is refused and
 * dead-lettered, deterministically, instead of stopping the worker: every
 * owner of the partition would meet it again. */
static void fsm_refused(sr_worker_t *w, const char *illegal)
{
        sr_errctx_t ec = { 0 };

        SR_ERROR("WORKER", "state machine refused its own transition: %s",
                 illegal);
        if (!refuse_current(w, SR_REJECT_INTERNAL, illegal)) {
                sr_errctx_set(&ec, SR_ERR_INTERNAL, "%s", illegal);
                set_fatal(w, &ec, "state machine");
        }
}

/* The size a record is judged by: its wire size, with a changelog
 * record's batch id ("WRITER/N", longer as N grows) counted at its longest,
 * so that the verdict on an input, and the size its refusal names, do not
 * depend on which batch applied it. */
static size_t judged_size(const sr_worker_t *w, const sr_outrec_t *rec)
{
        static const char longest[sizeof(w->batch_id) - 1] = { 0 };
        sr_outrec_t r = *rec;

        for (uint32_t i = 0; i < r.n_headers && i < SR_OUTREC_MAX_HEADERS;
             i++)
                if (!strcmp(r.headers[i].name, BATCH_HEADER))
                        r.headers[i].value = sr_slice(longest,
                                                      sizeof(longest));
        return sr_budget_wire_size(&r);
}

/* An output of the batch: kept in memory, written to the outbox by
 * outbox_flush() at the end of the batch. */
static void outbox_put(sr_worker_t *w, int32_t part, uint8_t phase,
                       const sr_outrec_t *rec)
{
        sr_errctx_t ec = { 0 };
        size_t size;

        if (w->fatal || w->redo)
                return;
        size = judged_size(w, rec);
        if (size > w->out_max) {
                char what[48];

                snprintf(what, sizeof(what), "%s record",
                         sr_topic_suffix(rec->topic));
                over_budget(w, what, size);
                return;
        }
        w->scratch.len = 0;
        if (sr_outrec_encode(rec, &w->scratch, &ec) != SR_OK) {
                set_fatal(w, &ec, "outbox encode");
                return;
        }
        mem_put(w, part, phase, sr_buf_slice(&w->scratch));
}

/* Write the batch's outputs to the outbox, one bundle per partition and
 * phase, in the batch transaction. */
static void outbox_flush(sr_worker_t *w)
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
                set_fatal(w, &ec, "outbox append");
}

/* The changelog record of an entity-keyed value (batch id header). */
static void changelog_rec(const sr_worker_t *w, int32_t part, sr_slice_t key,
                          sr_slice_t value, sr_outrec_t *rec)
{
        memset(rec, 0, sizeof(*rec));
        rec->topic = SR_TOPIC_CHANGELOG;
        rec->partition = part;
        rec->key = key;
        rec->value = value;
        rec->n_headers = 1;
        rec->headers[0].name = BATCH_HEADER;
        rec->headers[0].value = sr_slice(w->batch_id, strlen(w->batch_id));
}

/* Put an entity-keyed changelog value into the snapshot and the outbox. */
static void changelog_put(sr_worker_t *w, int32_t part, sr_slice_t key,
                          sr_slice_t value)
{
        sr_outrec_t rec;
        sr_errctx_t ec = { 0 };

        if (w->fatal || w->redo)
                return;
        if (sr_store_put(w->txn, part, key, value, &ec) != SR_OK) {
                if (ec.code == SR_ERR_MAP_FULL) {
                        w->fatal = SR_ERR_MAP_FULL;
                        return;
                }
                set_fatal(w, &ec, "store put");
                return;
        }
        changelog_rec(w, part, key, value, &rec);
        outbox_put(w, part, SR_STORE_PHASE_CHANGELOG, &rec);
}

/* RFC 3339 UTC with milliseconds (the ce_time header); "" before 1970. */
static void iso_time(int64_t ms, char out[32])
{
        if (ms < 0 || !sr_clock_iso8601(ms, out)) {
                out[0] = '\0';
                return;
        }
        out[SR_ISO8601_LEN] = '\0';
}

static void emit_event(sr_worker_t *w, int32_t part, const sr_event_t *ev)
{
        char key[SR_UUID_STR_LEN + 1], id[SR_UUID_STR_LEN + 1];
        char subject[96], when[32], ent[SR_UUID_STR_LEN + 1];
        sr_outrec_t rec = { 0 };
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { 0 };

        if (sr_codec_encode_event(w->codec, ev, &val, &ec) != SR_OK) {
                set_fatal(w, &ec, "encode event");
                return;
        }
        sr_uuid_fmt(&ev->pipeline_run_id, key);
        sr_uuid_fmt(&ev->event_id, id);
        sr_uuid_fmt(&ev->entity_id, ent);
        snprintf(subject, sizeof(subject), "%s/%s",
                 sr_entity_type_name(ev->entity_type), ent);
        iso_time(ev->occurred_at, when);
        rec.topic = SR_TOPIC_EVENTS;
        rec.partition = -1;
        rec.key = sr_slice(key, SR_UUID_STR_LEN);
        rec.value = sr_buf_slice(&val);
        rec.timestamp = ev->occurred_at;
        /* CloudEvents Kafka protocol binding, binary mode. Every header is
         * derived from the event, so a re-published event is identical. */
#define HDR(n, v)                                                        \
        do {                                                             \
                rec.headers[rec.n_headers].name = (n);                   \
                rec.headers[rec.n_headers++].value =                     \
                        sr_slice((v), strlen(v));                        \
        } while (0)
        HDR("ce_specversion", "1.0");
        HDR("ce_id", id);
        HDR("ce_source", "/sr-status");
        HDR("ce_type", "io.sr.v1.StatusChanged");
        HDR("ce_subject", subject);
        HDR("ce_time", when);
        HDR("content-type", "application/avro");
#undef HDR
        outbox_put(w, part, SR_STORE_PHASE_EMIT, &rec);
        sr_buf_free(&val);
}

/* Append an encoded phase-1 record keyed by a uuid; takes @p val. */
static void emit_keyed(sr_worker_t *w, int32_t part, sr_topic_kind_t topic,
                       const sr_uuid_t *key_id, sr_buf_t *val, int64_t ts)
{
        char key[SR_UUID_STR_LEN + 1];
        sr_outrec_t rec = { 0 };

        sr_uuid_fmt(key_id, key);
        rec.topic = topic;
        rec.partition = -1;
        rec.key = sr_slice(key, SR_UUID_STR_LEN);
        rec.value = sr_buf_slice(val);
        rec.timestamp = ts;
        outbox_put(w, part, SR_STORE_PHASE_EMIT, &rec);
        sr_buf_free(val);
}

static void emit_dispatch(sr_worker_t *w, int32_t part, const sr_dispatch_t *d)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { 0 };

        if (sr_codec_encode_dispatch(w->codec, d, &val, &ec) != SR_OK)
                set_fatal(w, &ec, "encode dispatch");
        else
                emit_keyed(w, part, SR_TOPIC_DISPATCH, &d->device_id, &val,
                           d->issued_at);
}

static void emit_reply(sr_worker_t *w, int32_t part, const sr_reply_t *r)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { 0 };

        if (sr_codec_encode_reply(w->codec, r, &val, &ec) != SR_OK)
                set_fatal(w, &ec, "encode reply");
        else
                emit_keyed(w, part, SR_TOPIC_REPLIES, &r->command_id, &val,
                           r->occurred_at);
}

/* The record goes to the dead-letter topic unchanged, with headers that say
 * where it came from and why it could not be used. A record over
 * command.max.bytes is cut to its first bytes (key and value prefixes),
 * and two more headers give its sizes: a dead letter must fit what the
 * producer can send, whatever the input was. */
static void dead_letter(sr_worker_t *w, const sr_inrec_t *in,
                        const char *reason, const char *error)
{
        char part[16], off[24], origin[48] = "", kbytes[24], vbytes[24];
        sr_outrec_t rec = { 0 };
        const char *topic = sr_topic_suffix(in->topic);
        sr_slice_t fwd;
        int32_t p = in->partition;
        int64_t o = in->offset;

        /* A forwarded result is reported where it first arrived. */
        if (sr_inrec_header(in, FORWARD_HEADER, &fwd) &&
            fwd.len < sizeof(origin)) {
                long long lo;
                int lp;

                memcpy(origin, fwd.ptr, fwd.len);
                origin[fwd.len] = '\0';
                if (sscanf(origin, "results/%d/%lld", &lp, &lo) == 2) {
                        topic = "results";
                        p = lp;
                        o = lo;
                }
        }
        snprintf(part, sizeof(part), "%" PRId32, p);
        snprintf(off, sizeof(off), "%" PRId64, o);
        rec.topic = SR_TOPIC_DLQ;
        rec.partition = -1;
        rec.key = in->key;
        rec.value = in->value;
        rec.timestamp = in->timestamp;
#define HDR(n, v)                                                        \
        do {                                                             \
                rec.headers[rec.n_headers].name = (n);                   \
                rec.headers[rec.n_headers++].value =                     \
                        sr_slice((v), strlen(v));                        \
        } while (0)
        HDR("sr_dlq_topic", topic);
        HDR("sr_dlq_partition", part);
        HDR("sr_dlq_offset", off);
        HDR("sr_dlq_reason", reason);
        HDR("sr_dlq_error", error);
        if (!sr_budget_input_fits(w->in_max, in->key.len, in->value.len)) {
                snprintf(kbytes, sizeof(kbytes), "%zu", in->key.len);
                snprintf(vbytes, sizeof(vbytes), "%zu", in->value.len);
                if (rec.key.len > SR_BUDGET_DLQ_KEY_PREFIX)
                        rec.key.len = SR_BUDGET_DLQ_KEY_PREFIX;
                if (rec.value.len > SR_BUDGET_DLQ_VALUE_PREFIX)
                        rec.value.len = SR_BUDGET_DLQ_VALUE_PREFIX;
                HDR("sr_dlq_key_bytes", kbytes);
                HDR("sr_dlq_value_bytes", vbytes);
        }
#undef HDR
        outbox_put(w, in->partition, SR_STORE_PHASE_EMIT, &rec);
        w->bs.dead_letters++;
        w->bs.inputs[strcmp(topic, "results") == 0][OUT_DLQ]++;
        SR_WARN("WORKER",
                "input dead-lettered topic=%s partition=%" PRId32
                " offset=%" PRId64 " reason=%s err=\"%s\"",
                topic, p, o, reason, error);
}

/* ------------------------------------------------------------ runs */

typedef struct load_ctx {
        sr_worker_t *w;
        sr_run_t *run;
        sr_err_t err;
        sr_errctx_t ec;
} load_ctx_t;

static int load_one(sr_slice_t key, sr_slice_t value, void *arg)
{
        load_ctx_t *lc = arg;
        sr_changelog_t cl;
        const char *k = key.ptr;

        /* "<run>/d/..." are dedupe entries, not entities. */
        if (key.len > SR_UUID_STR_LEN + 2 && k[SR_UUID_STR_LEN + 1] == 'd')
                return 0;
        lc->err = sr_codec_decode_changelog(lc->w->codec, value, &cl, &lc->ec);
        if (lc->err)
                return 1;
        if (cl.kind != SR_CL_ENTITY)
                return 0;
        lc->err = sr_run_add_entity(lc->run, &cl.u.entity, &lc->ec);
        if (lc->err) {
                sr_entity_fini(&cl.u.entity);
                return 1;
        }
        return 0;
}

static sr_err_t run_load(sr_worker_t *w, int32_t part, const sr_uuid_t *id,
                         sr_run_t *run, sr_errctx_t *ec)
{
        char prefix[SR_ENTITY_KEY_MAX];
        size_t n = sr_run_key_prefix(id, prefix);
        load_ctx_t lc = { w, run, SR_OK, { 0 } };
        sr_err_t err;

        sr_run_init(run);
        err = sr_store_scan(w->txn, part, sr_slice(prefix, n), load_one, &lc,
                            ec);
        if (!err && lc.err) {
                *ec = lc.ec;
                err = lc.err;
        }
        if (!err && (run->exists || run->pr.n_stages))
                err = sr_run_index(run, ec);
        if (err)
                sr_run_fini(run);
        return err;
}

static uint32_t run_slot(int32_t part, const sr_uuid_t *id, size_t cap)
{
        uint32_t h;

        memcpy(&h, id->b + 4, sizeof(h));
        return (h ^ (uint32_t)part * 0x9e3779b9u) & (uint32_t)(cap - 1);
}

static uint32_t run_entities(const sr_run_t *run)
{
        return 1 + run->pr.n_stages + run->n_ops + run->n_targets;
}

/* Drop the whole run cache. */
static void runs_reset(sr_worker_t *w)
{
        for (size_t i = 0; i < w->runs_cap; i++)
                if (w->runs[i]) {
                        sr_run_fini(&w->runs[i]->run);
                        free(w->runs[i]);
                        w->runs[i] = NULL;
                }
        w->runs_used = 0;
        w->n_used = 0;
        w->cached_entities = 0;
}

static void runs_insert(sr_worker_t *w, batch_run_t *br)
{
        uint32_t i;

        for (i = run_slot(br->partition, &br->id, w->runs_cap); w->runs[i];
             i = (i + 1) & (uint32_t)(w->runs_cap - 1))
                ;
        w->runs[i] = br;
        w->runs_used++;
}

/* After a committed batch: keep the cache within cache.entities (and the
 * table at most half full) by dropping the runs this batch did not use,
 * or everything if that is not enough. */
static void runs_trim(sr_worker_t *w)
{
        batch_run_t **keep;
        uint64_t kept = 0;
        size_t nk = 0;

        /* cached_entities is kept current by batch_run() and save_batch() */
        if (w->cached_entities <= (uint64_t)w->conf->cache_entities &&
            w->runs_used <= w->runs_max)
                return;
        for (size_t i = 0; i < w->n_used; i++)
                kept += w->used[i]->entities;
        keep = malloc(w->runs_used * sizeof(*keep) + 1);
        if (!keep || kept > (uint64_t)w->conf->cache_entities) {
                free(keep);
                runs_reset(w);
                return;
        }
        for (size_t i = 0; i < w->runs_cap; i++) {
                batch_run_t *br = w->runs[i];

                if (!br)
                        continue;
                w->runs[i] = NULL;
                if (br->used_in == w->batch_no) {
                        keep[nk++] = br;
                } else {
                        sr_run_fini(&br->run);
                        free(br);
                }
        }
        w->runs_used = 0;
        for (size_t i = 0; i < nk; i++)
                runs_insert(w, keep[i]);
        w->cached_entities = kept;
        free(keep);
        if (w->runs_used > w->runs_max)
                runs_reset(w);
}

/* The run's entities exactly as they would be written to the changelog. */
static sr_err_t run_encode(sr_worker_t *w, const sr_run_t *run, sr_buf_t *out,
                           sr_errctx_t *ec)
{
        sr_changelog_t cl;
        sr_buf_t val = { 0 };
        sr_err_t err = SR_OK;
        uint32_t total = run->exists ? run_entities(run) : 0;

        for (uint32_t k = 0; k < total && !err; k++) {
                uint32_t i = k;
                void *mem;

                memset(&cl, 0, sizeof(cl));
                cl.kind = SR_CL_ENTITY;
                if (i == 0) {
                        cl.u.entity.type = SR_ENT_PIPELINE_RUN;
                        cl.u.entity.u.pr = run->pr;
                } else if ((i -= 1) < run->pr.n_stages) {
                        cl.u.entity.type = SR_ENT_STAGE_RUN;
                        cl.u.entity.u.sr = run->stages[i];
                } else if ((i -= run->pr.n_stages) < run->n_ops) {
                        cl.u.entity.type = SR_ENT_STAGE_RUN_OPERATION;
                        cl.u.entity.u.op = run->ops[i];
                } else {
                        cl.u.entity.type = SR_ENT_TARGET_RUN;
                        cl.u.entity.u.tr = run->targets[i - run->n_ops];
                }
                val.len = 0;
                err = sr_codec_encode_changelog(w->codec, &cl, &val, ec);
                if (err)
                        break;
                mem = realloc(out->ptr, out->len + val.len);
                if (!mem) {
                        err = sr_errctx_set(ec, SR_ERR_NOMEM, "run encode");
                        break;
                }
                out->ptr = mem;
                memcpy((uint8_t *)out->ptr + out->len, val.ptr, val.len);
                out->len += val.len;
                sr_buf_free(&val);
        }
        sr_buf_free(&val);
        return err;
}

/* cache.verify: a cached run must equal its LMDB copy, entity by entity,
 * derived per-stage counters included. */
static bool run_verify(sr_worker_t *w, const batch_run_t *br)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t a = { 0 }, b = { 0 };
        sr_run_t disk;
        bool same;

        if (run_load(w, br->partition, &br->id, &disk, &ec) != SR_OK) {
                set_fatal(w, &ec, "cache verify: load run");
                return false;
        }
        same = disk.exists == br->run.exists &&
               run_encode(w, &br->run, &a, &ec) == SR_OK &&
               run_encode(w, &disk, &b, &ec) == SR_OK && a.len == b.len &&
               (a.len == 0 || !memcmp(a.ptr, b.ptr, a.len)) &&
               (!disk.exists ||
                !memcmp(disk.sidx, br->run.sidx,
                        disk.pr.n_stages * sizeof(*disk.sidx)));
        sr_buf_free(&a);
        sr_buf_free(&b);
        sr_run_fini(&disk);
        if (!same) {
                char id[SR_UUID_STR_LEN + 1];

                sr_uuid_fmt(&br->id, id);
                sr_errctx_set(&ec, SR_ERR_CORRUPT,
                              "run %s differs from its snapshot", id);
                set_fatal(w, &ec, "cache verify");
        }
        return same;
}

/* The run, from the cache or loaded on first use; NULL on failure. */
static sr_run_t *batch_run(sr_worker_t *w, int32_t part, const sr_uuid_t *id)
{
        sr_errctx_t ec = { 0 };
        batch_run_t *br;
        uint32_t i;

        for (i = run_slot(part, id, w->runs_cap); (br = w->runs[i]);
             i = (i + 1) & (uint32_t)(w->runs_cap - 1))
                if (br->partition == part && sr_uuid_eq(&br->id, id)) {
                        br->last_in = w->cur_in;
                        if (br->used_in != w->batch_no) {
                                if (w->conf->cache_verify &&
                                    !run_verify(w, br))
                                        return NULL;
                                br->used_in = w->batch_no;
                                w->used[w->n_used++] = br;
                        }
                        return &br->run;
                }
        br = calloc(1, sizeof(*br));
        if (!br) {
                sr_errctx_set(&ec, SR_ERR_NOMEM, "run cache");
                set_fatal(w, &ec, "load run");
                return NULL;
        }
        if (run_load(w, part, id, &br->run, &ec) != SR_OK) {
                free(br);
                set_fatal(w, &ec, "load run");
                return NULL;
        }
        br->partition = part;
        br->id = *id;
        br->used_in = w->batch_no;
        br->last_in = w->cur_in;
        br->loaded_deadline = br->run.exists ? br->run.pr.next_deadline : 0;
        br->entities = run_entities(&br->run);
        w->cached_entities += br->entities;
        w->runs[i] = br;
        w->runs_used++;
        w->used[w->n_used++] = br;
        return &br->run;
}

/* Write every dirty entity of a run: snapshot + changelog. */
static void run_save(sr_worker_t *w, int32_t part, sr_run_t *run)
{
        char key[SR_ENTITY_KEY_MAX];
        sr_changelog_t cl;
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { 0 };
        size_t kn;

#define SAVE(etype, field, src)                                             \
        do {                                                                \
                memset(&cl, 0, sizeof(cl));                                 \
                cl.kind = SR_CL_ENTITY;                                     \
                cl.u.entity.type = (etype);                                 \
                cl.u.entity.u.field = (src);                                \
                kn = sr_entity_key(&cl.u.entity, key);                      \
                if (sr_codec_encode_changelog(w->codec, &cl, &val, &ec)) {  \
                        set_fatal(w, &ec, "encode entity");                 \
                        return;                                             \
                }                                                           \
                changelog_put(w, part, sr_slice(key, kn), sr_buf_slice(&val)); \
                sr_buf_free(&val);                                          \
        } while (0)
        if (!run->exists)
                return;
        for (uint32_t i = 0; i < run->pr.n_stages; i++)
                if (run->stage_dirty[i])
                        SAVE(SR_ENT_STAGE_RUN, sr, run->stages[i]);
        for (uint32_t i = 0; i < run->n_ops; i++)
                if (run->op_dirty[i])
                        SAVE(SR_ENT_STAGE_RUN_OPERATION, op, run->ops[i]);
        for (uint32_t i = 0; i < run->n_targets; i++)
                if (run->target_dirty[i])
                        SAVE(SR_ENT_TARGET_RUN, tr, run->targets[i]);
        /* The pipeline run last: its last_seq covers everything above. */
        if (run->pr_dirty)
                SAVE(SR_ENT_PIPELINE_RUN, pr, run->pr);
#undef SAVE
        sr_run_clear_dirty(run);
}

/* ------------------------------------------------------------ inputs */

static void emit_outputs(sr_worker_t *w, int32_t part)
{
        const sr_fsm_out_t *out = &w->out;

        for (uint32_t i = 0; i < out->n_events; i++) {
                const sr_event_t *ev = &out->events[i];
                char run[SR_UUID_STR_LEN + 1], ent[SR_UUID_STR_LEN + 1];

                emit_event(w, part, ev);
                w->bs.events++;
                w->bs.transitions[ev->entity_type][ev->to_status]++;
                if (sr_log_is_enabled(SR_LOG_INFO)) {
                        sr_uuid_fmt(&ev->pipeline_run_id, run);
                        sr_uuid_fmt(&ev->entity_id, ent);
                        SR_INFO("FSM",
                                "%s %s -> %s run=%s %s=%s seq=%" PRIu64
                                " reason=%s version=%u",
                                sr_entity_type_name(ev->entity_type),
                                sr_status_name(ev->from_status),
                                sr_status_name(ev->to_status), run,
                                ev->entity_type == SR_ENT_PIPELINE_RUN ?
                                        "pipeline_run" :
                                ev->entity_type == SR_ENT_STAGE_RUN ?
                                        "stage_run" :
                                        "target_run",
                                ent, ev->seq,
                                ev->reason[0] ? ev->reason : "-",
                                ev->version);
                }
        }
        for (uint32_t i = 0; i < out->n_dispatches; i++)
                emit_dispatch(w, part, &out->dispatches[i]);
        if (out->has_reply) {
                emit_reply(w, part, &out->reply);
                if (!out->reply.accepted)
                        w->bs.rejections[out->reply.reason]++;
        }
}

static void apply_result(sr_worker_t *w, const sr_inrec_t *in);

static const char *reason_of(sr_err_t err)
{
        return err == SR_ERR_CORRUPT ? "undecodable" : "schema_violation";
}

/* Refuse an input: a refusal reply when it is a command whose ids can be
 * read, and a dead letter (reason too_large or internal_error). */
static void refuse_input(sr_worker_t *w, const sr_inrec_t *in,
                         sr_reject_t reason, const char *why)
{
        sr_reply_t r;

        memset(&r, 0, sizeof(r));
        if (in->topic == SR_TOPIC_COMMANDS &&
            sr_codec_peek_command_ids(in->value, &r.command_id,
                                      &r.pipeline_run_id, NULL) == SR_OK) {
                r.accepted = false;
                r.reason = reason;
                snprintf(r.message, sizeof(r.message), "%s", why);
                r.occurred_at = in->timestamp;
                emit_reply(w, in->partition, &r);
                w->bs.rejections[reason]++;
        }
        dead_letter(w, in, sr_reject_name(reason), why);
}

/* An input over command.max.bytes (refused before it touches any state),
 * or one refused earlier in this poll after it was applied, is refused
 * (true). */
static bool refused_input(sr_worker_t *w, const sr_inrec_t *in)
{
        const refusal_t *r = refusal_of(w, w->cur_in);
        char msg[160];

        if (!sr_budget_input_fits(w->in_max, in->key.len, in->value.len)) {
                snprintf(msg, sizeof(msg), "record of %zu bytes (key and "
                         "value) is over command.max.bytes (%zu)",
                         in->key.len + in->value.len, w->in_max);
                refuse_input(w, in, SR_REJECT_TOO_LARGE, msg);
                return true;
        }
        if (r) {
                refuse_input(w, in, r->reason, r->why);
                return true;
        }
        return false;
}

/* After a create: its stage runs and operations are the records that
 * carry the spec (args included) and the only ones whose size depends on
 * the input; check them now, while the input is known. A stage run's
 * record still grows afterwards, by its status fields only (at most
 * SR_BUDGET_ENTITY_GROWTH bytes). */
static void check_created(sr_worker_t *w, int32_t part, const sr_run_t *run)
{
        uint32_t total = run->pr.n_stages + run->n_ops;
        char key[SR_ENTITY_KEY_MAX];
        sr_changelog_t cl;
        sr_outrec_t rec;
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { 0 };

        for (uint32_t k = 0; k < total && !w->fatal && !w->redo; k++) {
                bool stage = k < run->pr.n_stages;
                size_t size, kn;

                memset(&cl, 0, sizeof(cl));
                cl.kind = SR_CL_ENTITY;
                cl.u.entity.type = stage ? SR_ENT_STAGE_RUN :
                                           SR_ENT_STAGE_RUN_OPERATION;
                if (stage)
                        cl.u.entity.u.sr = run->stages[k];
                else
                        cl.u.entity.u.op = run->ops[k - run->pr.n_stages];
                kn = sr_entity_key(&cl.u.entity, key);
                val.len = 0;
                if (sr_codec_encode_changelog(w->codec, &cl, &val, &ec)) {
                        set_fatal(w, &ec, "encode entity");
                        break;
                }
                changelog_rec(w, part, sr_slice(key, kn), sr_buf_slice(&val),
                              &rec);
                size = judged_size(w, &rec) +
                       (stage ? SR_BUDGET_ENTITY_GROWTH : 0);
                if (size > w->out_max)
                        over_budget(w, stage ? "stage_run changelog record" :
                                               "stage_run_operation "
                                               "changelog record",
                                    size);
                sr_buf_free(&val);
        }
        sr_buf_free(&val);
}

static void on_command(sr_worker_t *w, const sr_inrec_t *in)
{
        char key[SR_ENTITY_KEY_MAX];
        sr_errctx_t ec = { 0 };
        sr_command_t cmd;
        sr_changelog_t cl;
        sr_slice_t prev;
        sr_buf_t val = { 0 };
        sr_run_t *run;
        sr_err_t err;
        size_t kn;
        int32_t id;

        if (refused_input(w, in))
                return;
        if (sr_codec_peek_schema_id(in->value, &id, NULL) == SR_OK &&
            id == SR_SCHEMA_RESULT) {
                apply_result(w, in);
                return;
        }
        if (sr_codec_decode_command(w->codec, in->value, &cmd, &ec) != SR_OK) {
                const char *why = reason_of(ec.code);

                if (sr_codec_peek_schema_id(in->value, &id, NULL) == SR_OK &&
                    !sr_codec_schema_name(id))
                        why = "unknown_schema";
                dead_letter(w, in, why, ec.msg);
                return;
        }
        kn = sr_dedupe_key(&cmd.pipeline_run_id, &cmd.command_id, key);
        if (sr_store_get(w->txn, in->partition, sr_slice(key, kn), &prev,
                         &ec) == SR_OK) {
                /* Seen before: the second delivery gets the first reply. */
                if (sr_codec_decode_changelog(w->codec, prev, &cl, &ec) ==
                            SR_OK &&
                    cl.kind == SR_CL_DEDUPE && cl.u.dedupe.has_reply)
                        emit_reply(w, in->partition, &cl.u.dedupe.reply);
                w->bs.inputs[0][OUT_DUPLICATE]++;
                goto out;
        }
        run = batch_run(w, in->partition, &cmd.pipeline_run_id);
        if (!run)
                goto out;
        err = sr_fsm_apply_command(run, &cmd, in->timestamp, &w->out);
        if (err == SR_ERR_INTERNAL) {
                fsm_refused(w, w->out.illegal);
                goto out;
        }
        if (err) {
                sr_errctx_set(&ec, err, "apply command");
                set_fatal(w, &ec, "state machine");
                goto out;
        }
        if (cmd.kind == SR_CMD_CREATE_RUN && w->out.applied)
                check_created(w, in->partition, run);
        emit_outputs(w, in->partition);
        w->bs.inputs[0][w->out.applied                             ? OUT_APPLIED :
                        w->out.has_reply && !w->out.reply.accepted ?
                                                                  OUT_REJECTED :
                                                                  OUT_STALE]++;
        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_DEDUPE;
        cl.u.dedupe.input_id = cmd.command_id;
        cl.u.dedupe.pipeline_run_id = cmd.pipeline_run_id;
        cl.u.dedupe.has_reply = w->out.has_reply;
        cl.u.dedupe.reply = w->out.reply;
        if (sr_codec_encode_changelog(w->codec, &cl, &val, &ec) != SR_OK) {
                set_fatal(w, &ec, "encode dedupe");
                goto out;
        }
        changelog_put(w, in->partition, sr_slice(key, kn), sr_buf_slice(&val));
        sr_buf_free(&val);
out:
        sr_command_fini(&cmd);
}

/* A result found in the command log (forwarded there by on_result): apply
 * it in log order. */
static void apply_result(sr_worker_t *w, const sr_inrec_t *in)
{
        sr_errctx_t ec = { 0 };
        sr_result_t res;
        sr_run_t *run;
        sr_err_t err;

        if (sr_codec_decode_result(w->codec, in->value, &res, &ec) != SR_OK) {
                dead_letter(w, in, strstr(ec.msg, "command status") ?
                                           "unknown_command_status" :
                                           reason_of(ec.code),
                            ec.msg);
                return;
        }
        run = batch_run(w, in->partition, &res.pipeline_run_id);
        if (!run)
                return;
        err = sr_fsm_apply_result(run, &res, in->timestamp, &w->out);
        switch (err) {
        case SR_OK:
                emit_outputs(w, in->partition);
                w->bs.inputs[1][w->out.stale ? OUT_STALE : OUT_APPLIED]++;
                if (w->out.stale)
                        SR_DEBUG("WORKER",
                                 "stale result partition=%" PRId32
                                 " offset=%" PRId64 " status=%s",
                                 in->partition, in->offset,
                                 res.command_status);
                break;
        case SR_ERR_NOT_FOUND:
                dead_letter(w, in,
                            run->exists ? "unknown_target_run" :
                                          "unknown_pipeline_run",
                            run->exists ? "result for a target run that "
                                          "does not exist in its run" :
                                          "result for an unknown pipeline "
                                          "run");
                break;
        case SR_ERR_SCHEMA:
                dead_letter(w, in, "unknown_command_status",
                            "unknown command status");
                break;
        case SR_ERR_INTERNAL:
                fsm_refused(w, w->out.illegal);
                break;
        default:
                sr_errctx_set(&ec, err, "apply result");
                set_fatal(w, &ec, "state machine");
                break;
        }
}

/* A record of sr.results is validated, then sequenced into the command log
 * of its partition, unchanged. Applying every input in the order of one
 * log makes reprocessing after a crash replay exactly the original order
 * (commands and results of two topics have no common order of their own),
 * so it reproduces the same events with the same seq. A result forwarded
 * twice is harmless: results only move a target run forward. */
static void on_result(sr_worker_t *w, const sr_inrec_t *in)
{
        char origin[48];
        sr_outrec_t rec = { 0 };
        sr_errctx_t ec = { 0 };
        sr_result_t res;
        int32_t id;

        if (refused_input(w, in))
                return;
        /* A record framed as a result is forwarded as it is: it is decoded
         * once, when applied, and dead-lettered from there if its body is
         * bad (the headers then name this topic, partition and offset).
         * Anything else is dead-lettered here with the decoder's reason. */
        if (!(sr_codec_peek_schema_id(in->value, &id, NULL) == SR_OK &&
              id == SR_SCHEMA_RESULT)) {
                if (sr_codec_decode_result(w->codec, in->value, &res,
                                           &ec) == SR_OK) {
                        sr_errctx_set(&ec, SR_ERR_SCHEMA,
                                      "not a target-run result");
                }
                const char *why = reason_of(ec.code);

                if (strstr(ec.msg, "command status"))
                        why = "unknown_command_status";
                else if (sr_codec_peek_schema_id(in->value, &id, NULL) ==
                                 SR_OK &&
                         !sr_codec_schema_name(id))
                        why = "unknown_schema";
                dead_letter(w, in, why, ec.msg);
                return;
        }
        snprintf(origin, sizeof(origin), "results/%" PRId32 "/%" PRId64,
                 in->partition, in->offset);
        rec.topic = SR_TOPIC_COMMANDS;
        rec.partition = in->partition;
        rec.key = in->key;
        rec.value = in->value;
        rec.timestamp = in->timestamp;
        rec.n_headers = 1;
        rec.headers[0].name = FORWARD_HEADER;
        rec.headers[0].value = sr_slice(origin, strlen(origin));
        outbox_put(w, in->partition, SR_STORE_PHASE_EMIT, &rec);
}

/* ------------------------------------------------------------ batches */

static void save_batch(sr_worker_t *w)
{
        sr_errctx_t ec = { 0 };

        for (size_t i = 0; i < w->n_used && !w->fatal && !w->redo; i++) {
                batch_run_t *br = w->used[i];

                /* A record over the budget here is the last input's on the
                 * run (check_created() makes that unreachable). */
                w->cur_in = br->last_in;
                run_save(w, br->partition, &br->run);
                w->cur_in = -1;
                {
                        uint32_t n = run_entities(&br->run);

                        w->cached_entities += n;
                        w->cached_entities -= br->entities;
                        br->entities = n;
                }
                /* Only a new deadline needs an entry: the one the run had
                 * when loaded is in the heap already (pushed then, or by
                 * arm_timers). */
                if (br->run.exists && br->run.pr.next_deadline &&
                    br->run.pr.next_deadline != br->loaded_deadline &&
                    !sr_status_is_terminal(br->run.pr.m.status))
                        heap_push(&w->parts[br->partition].timers,
                                  br->run.pr.next_deadline, &br->id);
                br->loaded_deadline = br->run.pr.next_deadline;
        }
        for (int32_t p = 0; p < MAX_PARTS && !w->fatal && !w->redo; p++) {
                part_t *pt = &w->parts[p];
                sr_store_pmeta_t pm = { -1, -1, -1, 0 };
                sr_changelog_t cl;
                sr_buf_t val = { 0 };

                if (!pt->touched)
                        continue;
                if (sr_store_pmeta_get(w->txn, p, &pm, &ec) != SR_OK &&
                    ec.code != SR_ERR_NOT_FOUND) {
                        set_fatal(w, &ec, "pmeta get");
                        return;
                }
                if (pt->next_cmd >= 0)
                        pm.commands_offset = pt->next_cmd;
                if (pt->next_res >= 0)
                        pm.results_offset = pt->next_res;
                pm.batch_seq++;
                pt->pm = pm;
                memset(&cl, 0, sizeof(cl));
                cl.kind = SR_CL_MARKER;
                snprintf(cl.u.marker.batch_id, sizeof(cl.u.marker.batch_id),
                         "%s", w->batch_id);
                cl.u.marker.partition = p;
                cl.u.marker.commands_offset = pm.commands_offset;
                cl.u.marker.results_offset = pm.results_offset;
                cl.u.marker.written_at = 0; /* deterministic content */
                if (sr_codec_encode_changelog(w->codec, &cl, &val, &ec)) {
                        set_fatal(w, &ec, "encode marker");
                        return;
                }
                /* The marker is outbox-only: it closes the batch on the
                 * changelog; the snapshot keeps its offsets in pmeta. */
                {
                        sr_outrec_t rec = { 0 };

                        rec.topic = SR_TOPIC_CHANGELOG;
                        rec.partition = p;
                        rec.key = sr_slice(w->marker_key,
                                           strlen(w->marker_key));
                        rec.value = sr_buf_slice(&val);
                        rec.n_headers = 1;
                        rec.headers[0].name = BATCH_HEADER;
                        rec.headers[0].value =
                                sr_slice(w->batch_id, strlen(w->batch_id));
                        outbox_put(w, p, SR_STORE_PHASE_CHANGELOG, &rec);
                }
                sr_buf_free(&val);
                if (!w->fatal &&
                    sr_store_pmeta_put(w->txn, p, &pm, &ec) != SR_OK) {
                        if (ec.code == SR_ERR_MAP_FULL)
                                w->fatal = SR_ERR_MAP_FULL;
                        else
                                set_fatal(w, &ec, "pmeta put");
                }
        }
}

static void stats_flush(sr_worker_t *w);

/* Apply the polled records in one transaction. SR_ERR_MAP_FULL: nothing was
 * written; grow the map and call again. SR_ERR_REJECTED: nothing was
 * written either; an input was refused for the size of its outputs (in
 * w->refused): call again, it is then answered with its refusal. */
static sr_err_t apply_batch(sr_worker_t *w, int n, sr_errctx_t *ec)
{
        sr_err_t err;

        w->batch_no++;
        snprintf(w->batch_id, sizeof(w->batch_id), "%s/%" PRIu64, w->instance,
                 w->batch_no);
        for (int p = 0; p < MAX_PARTS; p++) {
                w->parts[p].touched = false;
                w->parts[p].next_cmd = w->parts[p].next_res = -1;
                w->parts[p].last_seq = 0;
        }
        memset(&w->bs, 0, sizeof(w->bs));
        w->n_used = 0;
        w->cur.n = 0;
        w->cur.len = 0;
        err = sr_store_txn_begin(w->store, true, &w->txn, ec);
        if (err)
                return err;
        w->redo = false;
        for (int i = 0; i < n && !w->fatal && !w->redo; i++) {
                const sr_inrec_t *in = &w->recs[i];
                part_t *pt;

                if (in->partition < 0 || in->partition >= MAX_PARTS ||
                    !w->parts[in->partition].owned)
                        continue; /* revoked meanwhile: the owner has it */
                pt = &w->parts[in->partition];
                pt->touched = true;
                w->cur_in = i;
                if (in->topic == SR_TOPIC_COMMANDS) {
                        pt->next_cmd = in->offset + 1;
                        on_command(w, in);
                } else {
                        pt->next_res = in->offset + 1;
                        on_result(w, in);
                }
                w->cur_in = -1;
        }
        if (!w->fatal && !w->redo)
                save_batch(w);
        if (!w->fatal && !w->redo)
                outbox_flush(w);
        if (w->fatal || w->redo) {
                /* The cached runs hold this batch's changes: drop them. */
                runs_reset(w);
                sr_store_txn_abort(w->txn);
                w->txn = NULL;
                if (w->redo && !w->fatal)
                        return sr_errctx_set(ec, SR_ERR_REJECTED,
                                             "input refused for its output "
                                             "size: batch redone");
                if (w->fatal == SR_ERR_MAP_FULL) {
                        w->fatal = SR_OK;
                        return sr_errctx_set(ec, SR_ERR_MAP_FULL,
                                             "batch does not fit the map");
                }
                return sr_errctx_set(ec, SR_ERR_FATAL, "%s", w->fatal_msg);
        }
        err = sr_store_txn_commit(w->txn, ec); /* frees the txn either way */
        w->txn = NULL;
        if (err) {
                runs_reset(w);
                return err;
        }
        w->outbox_pending += w->cur.n;
        runs_trim(w);
        stats_flush(w);
        return SR_OK;
}

/* The committed batch's metric increments. */
static void stats_flush(sr_worker_t *w)
{
        const batch_stats_t *b = &w->bs;

        for (int t = 0; t < 2; t++)
                for (int o = 0; o < 6; o++)
                        if (b->inputs[t][o])
                                sr_series_add(w->m.inputs[t][o],
                                              b->inputs[t][o]);
        for (int e = 0; e < SR_ENT__COUNT; e++)
                for (int st = 0; st < SR_ST__COUNT; st++)
                        if (b->transitions[e][st])
                                sr_series_add(w->m.transitions[e][st],
                                              b->transitions[e][st]);
        for (int k = 0; k < SR_REJECT__COUNT; k++)
                if (b->rejections[k])
                        sr_series_add(w->m.rejections[k], b->rejections[k]);
        if (b->dead_letters)
                sr_series_add(w->m.dead_letters, b->dead_letters);
        if (b->events)
                sr_series_add(w->m.events, b->events);
}

/* ------------------------------------------------------------ relay */

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
                        timer_ent_t t = heap_pop(&pt->unacked);

                        heap_push(&pt->timers, t.deadline, &t.run);
                }
                pt->unacked.n = 0;
        }
}

/* Wait for every delivery report, then settle the timers sent meanwhile. */
static sr_err_t wait_acks(sr_worker_t *w, int timeout_ms, sr_errctx_t *ec)
{
        sr_err_t err = sr_producer_wait(w->prod, timeout_ms, ec);

        timers_settle(w, err != SR_OK);
        return err;
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
static sr_err_t relay_mem(sr_worker_t *w, const membuf_t *b, uint8_t phase,
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
                return relay_mem(w, &w->cur, phase, sent, ec);
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

static bool stopping(const sr_worker_t *w)
{
        return w->stop_flag && *w->stop_flag;
}

/* A publication that began at @p t0 failed with @p err (relay_retries()).
 * Readiness says why, and the next attempt waits: 100 ms doubling up to
 * 30 s since the failed one began, so a record refused every time is not
 * sent in a loop. Nothing is dropped: a refused record stays in the
 * outbox and holds this worker's relay (not the others') until the broker
 * takes it, e.g. once a topic's max.message.bytes is raised
 * (docs/guarantee.md). @returns false when stopping. */
static bool relay_failed(sr_worker_t *w, sr_err_t err, double t0,
                         const sr_errctx_t *ec)
{
        unsigned shift = w->relay_failures < 9 ? w->relay_failures : 9;
        double wait = 0.1 * (double)(1u << shift);

        if (wait > 30.0)
                wait = 30.0;
        w->relay_failures++;
        sr_series_add(w->m.resends, 1);
        if (err == SR_ERR_RETRY) {
                atomic_store(&w->broker_ok, false);
        } else {
                if (!atomic_exchange(&w->relay_refused, true))
                        SR_ERROR("RELAY", "a record is refused; it stays in "
                                 "the outbox and is sent again until the "
                                 "broker takes it err=\"%s\"", ec->msg);
        }
        while (mono_s() - t0 < wait && !stopping(w)) {
                struct timespec ts = { 0, 20 * 1000 * 1000 };

                nanosleep(&ts, NULL);
        }
        return !stopping(w);
}

static void relay_succeeded(sr_worker_t *w)
{
        w->relay_failures = 0;
        atomic_store(&w->broker_ok, true);
        if (atomic_exchange(&w->relay_refused, false))
                SR_INFO("RELAY", "the refused record was taken");
}

/* Send one phase of the LMDB outbox and wait for the acks; re-send the
 * whole phase until every record is acknowledged (duplicates are
 * identical). */
static sr_err_t relay_phase(sr_worker_t *w, const int32_t *parts, int np,
                            uint8_t phase, uint64_t *last_seq, uint64_t *sent,
                            sr_errctx_t *ec)
{
        for (int attempt = 0;; attempt++) {
                double t0 = mono_s();
                sr_err_t err;

                err = send_phase(w, parts, np, false, phase, last_seq, sent,
                                 ec);
                if (!err)
                        err = wait_acks(w, RELAY_TIMEOUT_MS, ec);
                if (err == SR_OK) {
                        relay_succeeded(w);
                        return SR_OK;
                }
                if (!relay_retries(err))
                        return err;
                if (stopping(w))
                        return sr_errctx_set(ec, SR_ERR_RETRY,
                                             "stopping with phase %u "
                                             "unacknowledged: %s",
                                             phase, ec->msg);
                SR_WARN("RELAY", "phase %u not acknowledged, re-sending "
                        "attempt=%d err=\"%s\"", phase, attempt + 1, ec->msg);
                if (!relay_failed(w, err, t0, ec))
                        return sr_errctx_set(ec, SR_ERR_RETRY,
                                             "stopping with phase %u "
                                             "unacknowledged: %s",
                                             phase, ec->msg);
        }
}

static void offsets_add(offsets_t *o, int32_t p, const sr_store_pmeta_t *pm)
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
static sr_err_t relay_done(sr_worker_t *w, const int32_t *parts, int np,
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
                        offsets_add(o, parts[i], &pm);
        }
        return sr_store_txn_commit(txn, ec);
err_abort:
        sr_store_txn_abort(txn);
        return err;
}

/* Offsets only speed up a restart; the snapshot and the changelog markers
 * are authoritative, so a failed commit is logged, not fatal. */
static void commit_offsets(sr_worker_t *w, const offsets_t *o)
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
static sr_err_t renew_producer(sr_worker_t *w, sr_errctx_t *ec)
{
        char txn_id[sizeof(w->txn_base) + 16];
        sr_err_t err;

        if (w->prod) {
                SR_WARN("WORKER", "transactional producer failed, making a "
                        "new one err=\"%s\"", ec->msg);
                sr_producer_destroy(w->prod);
                w->prod = NULL;
        }
        snprintf(txn_id, sizeof(txn_id), "%s-%u", w->txn_base, w->txn_gen++);
        err = sr_producer_new_txn(w->conf, w->conf->worker_name, txn_id,
                                  30000, &w->prod, ec);
        if (!err)
                SR_INFO("WORKER", "exactly-once processing: transactional "
                        "producer ready transactional.id=%s", txn_id);
        return err;
}

/* processing.guarantee=exactly_once: both phases and the input offsets in
 * one Kafka transaction; an aborted one is redone whole. Then the outbox
 * is emptied and the changelog end recorded, as in relay(). */
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
                        offsets_add(&o, parts[i], &pm);
        }
        sr_store_txn_abort(txn);
        for (int attempt = 0, renewed = 0;; attempt++) {
                double t0 = mono_s();

                err = sr_producer_txn_begin(w->prod, ec);
                if (err == SR_ERR_FATAL && renewed++ < 3) {
                        err = renew_producer(w, ec);
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
                        if (w->cons)
                                err = sr_producer_txn_offsets(
                                        w->prod, w->cons, o.topic, o.part,
                                        o.off, o.n, RELAY_TIMEOUT_MS, ec);
                        if (!err)
                                err = sr_producer_txn_commit(
                                        w->prod, RELAY_TIMEOUT_MS, ec);
                }
                if (err == SR_OK) {
                        relay_succeeded(w);
                        break;
                }
                if (err == SR_ERR_FATAL && renewed++ < 3) {
                        err = renew_producer(w, ec);
                        if (err)
                                return err;
                        continue;
                }
                if (err == SR_ERR_FATAL)
                        return err;
                if (stopping(w))
                        return sr_errctx_set(ec, SR_ERR_RETRY,
                                             "stopping with the transaction "
                                             "aborted: %s", ec->msg);
                if (!relay_failed(w, err, t0, ec) ||
                    attempt >= 2) { /* let the consumer poll (rebalance) */
                        ec->code = SR_ERR_RETRY;
                        return SR_ERR_RETRY;
                }
                SR_WARN("RELAY", "transaction aborted, redoing it attempt=%d "
                        "err=\"%s\"", attempt + 1, ec->msg);
        }
        /* The offsets went with the transaction. */
        err = relay_done(w, parts, np, last1, last2, 2, NULL, ec);
        if (!err)
                outbox_published(w);
        return err;
}

/* Publish the outbox of @p parts. Outbox mode reads it from LMDB (the
 * batch just applied goes through pipe_step() instead); exactly_once sends
 * the batch just applied from memory when @p from_mem. */
static sr_err_t relay(sr_worker_t *w, const int32_t *parts, int np,
                      bool from_mem, sr_errctx_t *ec)
{
        uint64_t last1[MAX_PARTS], last2[MAX_PARTS], sent1, sent2;
        offsets_t o;
        sr_err_t err;

        if (np == 0)
                return SR_OK;
        sr_series_set(w->m.outbox_depth, (double)w->outbox_pending);
        if (sr_producer_is_txn(w->prod))
                return relay_txn(w, parts, np, from_mem, ec);
        err = relay_phase(w, parts, np, SR_STORE_PHASE_EMIT, last1, &sent1,
                          ec);
        if (err)
                return err;
        err = relay_phase(w, parts, np, SR_STORE_PHASE_CHANGELOG,
                          last2, &sent2, ec);
        if (!err)
                err = relay_done(w, parts, np, last1, last2, 1, &o, ec);
        if (err)
                return err;
        outbox_published(w);
        commit_offsets(w, &o);
        return SR_OK;
}

/* Partitions owned now, for relaying. */
static int owned_parts(const sr_worker_t *w, int32_t *parts)
{
        int n = 0;

        for (int32_t p = 0; p < MAX_PARTS; p++)
                if (w->parts[p].owned)
                        parts[n++] = p;
        return n;
}

/* ------------------------------------------------------------ pipelined relay */

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
 * relay(), which publishes the whole outbox again from LMDB, phase by
 * phase (duplicates are identical). With no input waiting the pipeline is
 * drained at once (pipe_drain()), so a quiet worker publishes a batch as
 * promptly as an unpipelined one. exactly_once mode does not pipeline:
 * each batch is one transaction. */

static void pipe_free(pipe_batch_t *pb)
{
        free(pb->ts);
        pb->ts = NULL;
}

/* The whole outbox, from LMDB, after the pipeline failed. */
static sr_err_t pipe_fallback(sr_worker_t *w, sr_errctx_t *ec)
{
        int32_t owned[MAX_PARTS];
        int np = owned_parts(w, owned);

        SR_WARN("RELAY", "pipelined relay failed, publishing the outbox "
                "again err=\"%s\"", ec->msg);
        if (ec->code == SR_ERR_RETRY)
                atomic_store(&w->broker_ok, false);
        sr_series_add(w->m.resends, 1);
        w->pe.active = w->pc.active = false;
        return relay(w, owned, np, false, ec);
}

/* An input's latency: from its timestamp to @p now_ms, when its outputs
 * (phase 1) are acknowledged. */
static void observe_latency(sr_worker_t *w, double now_ms, int64_t ts)
{
        if (ts > 0)
                sr_series_observe(w->m.latency,
                                  (now_ms - (double)ts) / 1000.0);
}

static void pipe_observe(sr_worker_t *w, const pipe_batch_t *pb)
{
        double now_ms = (double)wall_ms();

        for (int i = 0; i < pb->n_ts; i++)
                observe_latency(w, now_ms, pb->ts[i]);
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
                offsets_add(&pb->offs, parts[i], &pt->pm);
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
static sr_err_t pipe_step(sr_worker_t *w, const int32_t *parts, int np,
                          int n_in, sr_errctx_t *ec)
{
        uint64_t sent;
        sr_err_t err;

        if (w->pe.active || w->pc.active) {
                err = wait_acks(w, RELAY_TIMEOUT_MS, ec);
                if (err == SR_ERR_FATAL)
                        return err;
                if (err)
                        return pipe_fallback(w, ec);
                relay_succeeded(w);
        }
        if (w->pc.active) {
                pipe_batch_t *pb = &w->pc;

                err = relay_done(w, pb->parts, pb->np, pb->last, pb->last, 1,
                                 NULL, ec);
                if (err)
                        return err;
                pb->active = false;
                commit_offsets(w, &pb->offs);
                w->outbox_pending -= pb->records < w->outbox_pending ?
                                             pb->records :
                                             w->outbox_pending;
        }
        if (w->pe.active) {
                pipe_observe(w, &w->pe);
                err = relay_mem(w, &w->held, SR_STORE_PHASE_CHANGELOG, &sent,
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
                        err = relay_mem(w, &w->held, SR_STORE_PHASE_EMIT,
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
static sr_err_t pipe_drain(sr_worker_t *w, sr_errctx_t *ec)
{
        while (w->pe.active || w->pc.active) {
                sr_err_t err = pipe_step(w, NULL, 0, 0, ec);

                if (err)
                        return err;
        }
        return SR_OK;
}

/* ------------------------------------------------------------ restore */

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
        double t0 = mono_s();
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
                part, rc.read, rc.applied, rc.discarded, mono_s() - t0,
                rc.pm.commands_offset, rc.pm.results_offset);
        sr_series_set(w->m.restore_remaining, 0);
        return SR_OK;
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
                        heap_push(&ac->w->parts[ac->part].timers,
                                  pr->next_deadline, &pr->m.id);
                sr_entity_fini(&cl.u.entity);
        }
        return 0;
}

static sr_err_t arm_timers(sr_worker_t *w, int32_t part, sr_errctx_t *ec)
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
        return arm_timers(w, part, ec);
}

static bool relay_deferred(sr_worker_t *w, sr_err_t err, sr_errctx_t *ec);

static void on_assign(void *arg, const int32_t *parts, int n,
                      int64_t *start_offsets)
{
        sr_worker_t *w = arg;
        sr_errctx_t ec = { 0 };

        /* The previous ownership period's batches go out first. */
        if (pipe_drain(w, &ec))
                set_fatal(w, &ec, "relay before assign");
        new_writer(w); /* a new ownership period */

        runs_reset(w); /* a restore rewrites the snapshot under the cache */
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
                                set_fatal(w, &ec, "assign");
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
                int np = owned_parts(w, owned);

                sr_err_t err = relay(w, owned, np, false, &ec);

                if (!relay_deferred(w, err, &ec) && err)
                        set_fatal(w, &ec, "relay after assign");
        }
        atomic_fetch_sub(&w->restoring, 1);
        atomic_store(&w->assigned_once, true);
        sr_series_set(w->m.restoring, 0);
}

static void on_revoke(void *arg, const int32_t *parts, int n)
{
        sr_worker_t *w = arg;
        sr_errctx_t ec = { 0 };
        int32_t owned[MAX_PARTS];
        int np;

        runs_reset(w); /* another worker may change these runs next */
        /* Flush what can be flushed while still the owner. */
        if (!w->fatal && pipe_drain(w, &ec) != SR_OK)
                SR_WARN("WORKER", "relay before revoke failed err=\"%s\"",
                        ec.msg);
        np = owned_parts(w, owned);
        if (!w->fatal && relay(w, owned, np, false, &ec) != SR_OK)
                SR_WARN("WORKER", "relay before revoke failed err=\"%s\"",
                        ec.msg);
        for (int i = 0; i < n; i++) {
                if (parts[i] < 0 || parts[i] >= MAX_PARTS)
                        continue;
                w->parts[parts[i]].owned = false;
                w->parts[parts[i]].timers.n = 0;
                w->parts[parts[i]].unacked.n = 0;
                SR_INFO("WORKER", "partition revoked partition=%" PRId32,
                        parts[i]);
        }
}

/* ------------------------------------------------------------ timers */

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
static void fire_timers(sr_worker_t *w)
{
        static timer_ent_t due[TIMERS_PER_TICK];
        static int32_t due_part[TIMERS_PER_TICK];
        bool txn = sr_producer_is_txn(w->prod);
        int64_t now = wall_ms();
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
                (void)wait_acks(w, 0, &ec);
        for (int32_t p = 0; p < MAX_PARTS && n < TIMERS_PER_TICK; p++) {
                timer_heap_t *h = &w->parts[p].timers;

                while (w->parts[p].owned && h->n && h->v[0].deadline <= now &&
                       n < TIMERS_PER_TICK) {
                        due_part[n] = p;
                        due[n++] = heap_pop(h);
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
                        heap_push(&w->parts[due_part[i]].unacked,
                                  due[i].deadline, &due[i].run);
                w->n_unacked += (unsigned)n;
        }
        else if (txn && sent > 0) /* a send failed inside the transaction */
                (void)sr_producer_txn_abort(w->prod, RELAY_TIMEOUT_MS, NULL);
        if (err) {
                SR_ERROR("TIMER", "timers not published, retrying at the "
                         "next tick count=%d err=\"%s\"", n, ec.msg);
                for (int i = 0; i < n; i++)
                        heap_push(&w->parts[due_part[i]].timers,
                                  due[i].deadline, &due[i].run);
                if (err == SR_ERR_FATAL && txn &&
                    renew_producer(w, &ec) != SR_OK)
                        set_fatal(w, &ec, "timers");
                else if (err == SR_ERR_FATAL && !txn)
                        set_fatal(w, &ec, "timers");
                return;
        }
        sr_series_add(w->m.timers_fired, (double)n);
}

/* ------------------------------------------------------------ public */

sr_err_t sr_worker_new(const sr_conf_t *conf, sr_metrics_t *metrics,
                       sr_worker_t **wp, sr_errctx_t *ec)
{
        static const sr_topic_kind_t topics[] = { SR_TOPIC_COMMANDS,
                                                  SR_TOPIC_RESULTS };
        sr_consumer_hooks_t hooks;
        sr_store_opts_t so = { 0 };
        sr_worker_t *w;
        sr_err_t err;

        err = sr_conf_check_budget(conf, ec);
        if (err)
                return err;
        w = calloc(1, sizeof(*w));
        if (!w)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "worker: calloc");
        w->conf = conf;
        w->registry = metrics;
        w->cur_in = -1;
        w->in_max = (size_t)conf->command_max_bytes;
        w->out_max = sr_budget_output_max(w->in_max);
        atomic_init(&w->relay_refused, false);
        atomic_init(&w->restoring, 0);
        atomic_init(&w->assigned_once, false);
        atomic_init(&w->broker_ok, true);
        atomic_init(&w->store_ok, true);
        atomic_init(&w->map_full, false);
        metrics_init(w);
        sr_fsm_out_init(&w->out);
        new_writer(w);
        w->max_recs = conf->batch_size;
        w->recs = calloc((size_t)w->max_recs, sizeof(*w->recs));
        /* A run counts at least 4 entities (run, stage, operation, target);
         * the table stays at most half full with a whole batch of new runs
         * on top of a full cache. */
        w->runs_max = (size_t)conf->cache_entities / 4;
        w->runs_cap = 16;
        while (w->runs_cap < 2 * (w->runs_max + (size_t)w->max_recs) + 2)
                w->runs_cap *= 2;
        w->runs = calloc(w->runs_cap, sizeof(*w->runs));
        w->used = calloc((size_t)w->max_recs + 1, sizeof(*w->used));
        w->refused = calloc((size_t)w->max_recs, sizeof(*w->refused));
        if (!w->recs || !w->runs || !w->used || !w->refused) {
                err = sr_errctx_set(ec, SR_ERR_NOMEM, "worker: buffers");
                goto err_free;
        }
        err = sr_codec_new(&w->codec, ec);
        if (err)
                goto err_free;
        so.dir = conf->data_dir;
        so.map_size = (size_t)conf->store_map_size_mb << 20;
        so.sync = conf->store_sync;
        err = sr_store_open(&so, &w->store, ec);
        if (err)
                goto err_free;
        if (sr_store_is_untrusted(w->store)) {
                SR_WARN("WORKER", "snapshot written without fsync before a "
                        "reboot: discarding it dir=%s", conf->data_dir);
                err = sr_store_drop_all(w->store, ec);
                if (err)
                        goto err_free;
        }
        if (conf->processing_guarantee == SR_GUARANTEE_EXACTLY_ONCE) {
                /* Unique per process: zombies are fenced by the consumer
                 * group's generation (send_offsets_to_transaction). */
                snprintf(w->txn_base, sizeof(w->txn_base), "%s-%s",
                         conf->group_id, w->instance);
                err = renew_producer(w, ec);
        } else {
                err = sr_producer_new(conf, conf->worker_name, &w->prod, ec);
        }
        if (err)
                goto err_free;
        hooks.on_assign = on_assign;
        hooks.on_revoke = on_revoke;
        hooks.arg = w;
        err = sr_consumer_new(conf, conf->group_id, topics, 2, &hooks,
                              &w->cons, ec);
        if (err)
                goto err_free;
        *wp = w;
        return SR_OK;
err_free:
        sr_worker_destroy(w);
        return err;
}

/* exactly_once: a transaction that could not be committed (typically the
 * consumer lost its group membership while the broker was unreachable, so
 * its offsets are refused) leaves the batch in the outbox. The consumer
 * must be polled for the rebalance to happen, so the worker goes on and
 * publishes the outbox with the next batch (or at the next assignment).
 * @returns true when @p err was such a deferral. */
static bool relay_deferred(sr_worker_t *w, sr_err_t err, sr_errctx_t *ec)
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

sr_err_t sr_worker_poll(sr_worker_t *w, sr_errctx_t *ec)
{
        int32_t parts[MAX_PARTS];
        bool piped;
        double t0;
        int n = 0, np = 0;
        sr_err_t err;

        if (w->fatal)
                return sr_errctx_set(ec, SR_ERR_FATAL, "%s", w->fatal_msg);
        /* With a batch in the pipeline, only take input already here;
         * none: the pipeline is drained below. */
        piped = w->pe.active || w->pc.active;
        err = sr_consumer_poll(w->cons, w->recs, w->max_recs, &n,
                               piped ? 0 : w->conf->poll_timeout_ms, ec);
        if (err)
                return SR_ERR_FATAL;
        if (w->fatal) /* set inside a rebalance hook */
                return sr_errctx_set(ec, SR_ERR_FATAL, "%s", w->fatal_msg);
        t0 = mono_s();
        w->n_refused = 0;
        if (n > 0) {
                for (int attempt = 0;;) {
                        err = apply_batch(w, n, ec);
                        /* Each redo refuses one more input (at most n). */
                        if (err == SR_ERR_REJECTED && w->n_refused <= n)
                                continue;
                        if (err != SR_ERR_MAP_FULL)
                                break;
                        /* The snapshot needs more room: grow the map and
                         * redo the batch (nothing of it was written). */
                        size_t sz = sr_store_map_size(w->store) * 2;
                        sr_errctx_t gec = { 0 };

                        atomic_store(&w->map_full, true);
                        SR_WARN("STORE", "map full (MDB_MAP_FULL): input "
                                "paused, nothing of the batch was written; "
                                "growing the map map_size=%zu records=%d",
                                sz, n);
                        sr_series_add(w->m.map_grows, 1);
                        if (attempt++ >= 8 ||
                            sr_store_grow(w->store, sz, &gec) != SR_OK) {
                                /* Give the partitions up: the process
                                 * exits, the group hands them on. */
                                atomic_store(&w->store_ok, false);
                                return sr_errctx_set(ec, SR_ERR_FATAL,
                                                     "store full and cannot "
                                                     "grow: %s", gec.msg);
                        }
                }
                if (atomic_load(&w->map_full)) {
                        atomic_store(&w->map_full, false);
                        SR_INFO("STORE", "map grown, batch redone, input "
                                "resumed map_size=%zu",
                                sr_store_map_size(w->store));
                }
                if (err) {
                        atomic_store(&w->store_ok, false);
                        return sr_errctx_set(ec, SR_ERR_FATAL, "%s", ec->msg);
                }
                if (w->relay_pending) {
                        /* exactly_once: an earlier batch is still in the
                         * outbox: send it all, from LMDB. */
                        np = owned_parts(w, parts);
                } else {
                        for (int32_t p = 0; p < MAX_PARTS; p++)
                                if (w->parts[p].touched)
                                        parts[np++] = p;
                }
                if (!sr_producer_is_txn(w->prod)) {
                        if (pipe_step(w, parts, np, n, ec))
                                return SR_ERR_FATAL;
                } else {
                        double now_ms;

                        err = relay(w, parts, np, !w->relay_pending, ec);
                        if (relay_deferred(w, err, ec))
                                return SR_OK;
                        if (err)
                                return SR_ERR_FATAL;
                        now_ms = (double)wall_ms();
                        for (int i = 0; i < n; i++)
                                observe_latency(w, now_ms,
                                                w->recs[i].timestamp);
                }
                sr_series_observe(w->m.batch_latency, mono_s() - t0);
        }
        if (n == 0 && w->relay_pending) {
                np = owned_parts(w, parts);
                err = relay(w, parts, np, false, ec);
                if (!relay_deferred(w, err, ec) && err)
                        return SR_ERR_FATAL;
        }
        if (n == 0 && piped && pipe_drain(w, ec))
                return SR_ERR_FATAL;
        fire_timers(w);
        sr_producer_poll(w->prod);
        if (wall_ms() - w->last_ping_ms > 5000) {
                sr_errctx_t pec = { 0 };
                bool up = sr_consumer_ping(w->cons, 1000, &pec) == SR_OK;

                if (up != atomic_load(&w->broker_ok))
                        SR_WARN("WORKER", "broker %s err=\"%s\"",
                                up ? "reachable again" : "unreachable",
                                pec.msg);
                atomic_store(&w->broker_ok, up);
                w->last_ping_ms = wall_ms();
                sr_series_set(w->m.lag, (double)sr_consumer_lag(w->cons));
        }
        return SR_OK;
}

sr_err_t sr_worker_flush(sr_worker_t *w, sr_errctx_t *ec)
{
        if (w->fatal)
                return sr_errctx_set(ec, SR_ERR_FATAL, "%s", w->fatal_msg);
        return pipe_drain(w, ec) ? SR_ERR_FATAL : SR_OK;
}

void sr_worker_set_stop_flag(sr_worker_t *w, const volatile sig_atomic_t *flag)
{
        w->stop_flag = flag;
}

bool sr_worker_is_ready(sr_worker_t *w, char *why, size_t why_size)
{
        if (!atomic_load(&w->assigned_once)) {
                snprintf(why, why_size, "waiting for a partition assignment "
                                        "from the consumer group");
                return false;
        }
        if (atomic_load(&w->restoring) > 0) {
                snprintf(why, why_size, "restoring partitions from the "
                                        "changelog");
                return false;
        }
        if (!atomic_load(&w->store_ok)) {
                snprintf(why, why_size, "local store failed");
                return false;
        }
        if (atomic_load(&w->map_full)) {
                snprintf(why, why_size, "local store map full: growing it, "
                                        "input paused");
                return false;
        }
        if (atomic_load(&w->relay_refused)) {
                snprintf(why, why_size, "a record is refused by the producer "
                                        "or the broker (see the log); it is "
                                        "sent again until taken");
                return false;
        }
        if (!atomic_load(&w->broker_ok)) {
                snprintf(why, why_size, "broker unreachable");
                return false;
        }
        return true;
}

void sr_worker_destroy(sr_worker_t *w)
{
        if (!w)
                return;
        if (w->cons && !w->fatal) {
                int32_t parts[MAX_PARTS];
                int np;
                sr_errctx_t ec = { 0 };

                if (pipe_drain(w, &ec) != SR_OK)
                        SR_WARN("WORKER", "final relay failed err=\"%s\"",
                                ec.msg);
                np = owned_parts(w, parts);
                if (relay(w, parts, np, false, &ec) != SR_OK)
                        SR_WARN("WORKER", "final relay failed err=\"%s\"",
                                ec.msg);
        }
        sr_consumer_destroy(w->cons); /* leaves the group */
        sr_producer_destroy(w->prod);
        sr_store_close(w->store);
        sr_codec_destroy(w->codec);
        runs_reset(w);
        free(w->runs);
        free(w->used);
        free(w->refused);
        free(w->recs);
        free(w->cur.recs);
        free(w->cur.bytes);
        free(w->held.recs);
        free(w->held.bytes);
        pipe_free(&w->pe);
        pipe_free(&w->pc);
        sr_fsm_out_fini(&w->out);
        for (int p = 0; p < MAX_PARTS; p++) {
                free(w->parts[p].timers.v);
                free(w->parts[p].unacked.v);
        }
        sr_buf_free(&w->scratch);
        sr_buf_free(&w->bundle);
        free(w);
}
