/* common/gateway/sr_gw_feed.c - the gateway's Kafka side, the command
 * port sr_gateway_new() builds: the producer of commands and
 * Idempotency-Key claims, the feed thread (sr.changelog into the
 * projection, sr.replies to the waiting writes, sr.idempotency into the
 * key memory, the broker's health), reply waiters and read-your-writes
 * waits.
 */
#include "sr_gateway_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sr_clock.h"
#include "sr_health.h"
#include "sr_kafka.h"
#include "sr_log.h"

#define MAX_WAITERS 1024
#define PROBE_EVERY_MS 1000 /* broker probe period (the feed thread) */
#define PROBE_TIMEOUT_MS 1000
#define FEED_BATCH 2000
/* the feed reads changelog, replies, events and idempotency claims */
#define FEED_TOPICS 4

typedef struct waiter {
        bool used;
        bool done;
        sr_uuid_t command_id;
        sr_reply_t reply;
        double t_reply; /* sr_clock_mono_s() when the feed read the reply */
} waiter_t;

struct sr_gw_kafka {
        sr_gateway_t *gw;        /* conf, proj, metrics */
        sr_producer_t *prod;
        pthread_mutex_t prod_mu; /* the producer's wait is per handle */

        pthread_t feed;
        bool feed_started;
        atomic_bool stop;
        atomic_bool caught_up;
        atomic_bool feed_ok;   /* false once the feed thread gave up */
        atomic_bool broker_up; /* health.up, for a lock-free check */
        _Atomic int64_t feed_beat_ms; /* mono ms of the feed loop's turn */
        pthread_mutex_t health_mu;
        sr_health_t health;    /* from librdkafka's reports; health_mu */
        int n_parts;
        int64_t *start_high; /* changelog ends seen at start */
        int64_t *idem_high;  /* claims' ends seen at start */
        int64_t *idem_next;  /* next offset of each claims partition (feed) */

        pthread_mutex_t mu; /* waiters, generation */
        pthread_cond_t cv;  /* on CLOCK_MONOTONIC */
        waiter_t waiters[MAX_WAITERS];
        uint64_t generation; /* bumped after every feed batch */
};

/* A deadline of sr_clock_mono_ms() as pthread_cond_timedwait() takes it
 * on a CLOCK_MONOTONIC condition. */
static struct timespec mono_deadline(int64_t until_ms)
{
        struct timespec ts;

        ts.tv_sec = (time_t)(until_ms / 1000);
        ts.tv_nsec = (long)(until_ms % 1000) * 1000000L;
        return ts;
}

/* ------------------------------------------------------------ the feed */

/* A reader from the projection's next offsets (changelog, events), the
 * end of the replies and the claims not yet read (from the beginning at
 * start). @p parts and @p next hold FEED_TOPICS * n_parts and n_parts. */
static sr_err_t feed_reader(sr_gw_kafka_t *k, sr_reader_part_t *parts,
                            int64_t *next, sr_reader_t **rp, sr_errctx_t *ec)
{
        int np = k->n_parts;
        sr_err_t err;

        err = sr_proj_event_offsets(k->gw->proj, next, np, ec);
        if (err)
                return err;
        for (int p = 0; p < np; p++) {
                parts[2 * np + p].topic = SR_TOPIC_EVENTS;
                parts[2 * np + p].partition = p;
                parts[2 * np + p].offset = next[p] >= 0 ? next[p] :
                                                          SR_READER_BEGINNING;
        }
        err = sr_proj_offsets(k->gw->proj, next, np, ec);
        if (err)
                return err;
        for (int p = 0; p < np; p++) {
                parts[p].topic = SR_TOPIC_CHANGELOG;
                parts[p].partition = p;
                parts[p].offset = next[p] >= 0 ? next[p] : SR_READER_BEGINNING;
                parts[np + p].topic = SR_TOPIC_REPLIES;
                parts[np + p].partition = p;
                parts[np + p].offset = SR_READER_END;
                parts[3 * np + p].topic = SR_TOPIC_IDEMPOTENCY;
                parts[3 * np + p].partition = p;
                parts[3 * np + p].offset = k->idem_next[p];
        }
        return sr_reader_new(k->gw->conf, parts, FEED_TOPICS * np, rp, ec);
}

/* The broker's health from librdkafka: its "all brokers down" report,
 * and a metadata probe every PROBE_EVERY_MS (at once after such a report).
 * Records just fetched (@p fetched) answer for the broker as well as a
 * probe, so a busy feed sends none (a metadata request can wait behind a
 * fetch on the broker's connection). Only this thread writes the state;
 * requests read it. */
static void health_tick(sr_gw_kafka_t *k, sr_reader_t *reader, bool fetched,
                        int64_t *next_probe)
{
        char why[200];
        sr_errctx_t ec = { 0 };
        bool changed = false, up;

        if (sr_reader_all_brokers_down(reader, why, sizeof(why))) {
                pthread_mutex_lock(&k->health_mu);
                changed = sr_health_all_down(&k->health, why,
                                             sr_clock_mono_ms());
                pthread_mutex_unlock(&k->health_mu);
                *next_probe = 0;
        }
        if (fetched && *next_probe) {
                pthread_mutex_lock(&k->health_mu);
                changed |= sr_health_probe(&k->health, true, NULL,
                                           sr_clock_mono_ms());
                pthread_mutex_unlock(&k->health_mu);
                *next_probe = sr_clock_mono_ms() + PROBE_EVERY_MS;
        } else if (sr_clock_mono_ms() >= *next_probe) {
                bool ok = sr_reader_ping(reader, PROBE_TIMEOUT_MS, &ec) ==
                          SR_OK;

                pthread_mutex_lock(&k->health_mu);
                changed |= sr_health_probe(&k->health, ok, ec.msg,
                                           sr_clock_mono_ms());
                pthread_mutex_unlock(&k->health_mu);
                *next_probe = sr_clock_mono_ms() + PROBE_EVERY_MS;
        }
        if (!changed)
                return;
        pthread_mutex_lock(&k->health_mu);
        up = k->health.up;
        snprintf(why, sizeof(why), "%s", k->health.why);
        pthread_mutex_unlock(&k->health_mu);
        atomic_store(&k->broker_up, up);
        if (up)
                SR_INFO("GATEWAY", "broker reachable again: ready");
        else
                SR_WARN("GATEWAY", "broker unreachable: answering 503 "
                        "err=\"%s\"", why);
}

/* Hand a reply to the writes waiting for its command. */
static void deliver_reply(sr_gw_kafka_t *k, const sr_reply_t *reply)
{
        pthread_mutex_lock(&k->mu);
        for (int w = 0; w < MAX_WAITERS; w++)
                if (k->waiters[w].used && !k->waiters[w].done &&
                    sr_uuid_eq(&k->waiters[w].command_id,
                               &reply->command_id)) {
                        k->waiters[w].reply = *reply;
                        k->waiters[w].done = true;
                        k->waiters[w].t_reply = sr_clock_mono_s();
                }
        pthread_mutex_unlock(&k->mu);
}

/* A claim read back: into the key memory, where the first unexpired
 * claim of a key decides (sr_idem_claim_apply()). Returns true when the
 * key was new to the memory. */
static bool apply_claim(sr_gw_kafka_t *k, const sr_inrec_t *r)
{
        sr_idem_claim_t c;
        sr_idem_verdict_t v;
        sr_errctx_t ec = { 0 };
        sr_err_t err;

        k->idem_next[r->partition] = r->offset + 1;
        err = sr_idem_claim_decode(r->value, &c, &ec);
        if (!err)
                err = sr_idem_claim_apply(k->gw->idem, &c, sr_clock_wall_ms(),
                                          sr_clock_mono_ms(), &v, &ec);
        if (err && err != SR_ERR_NOT_FOUND) /* NOT_FOUND: past the ttl */
                SR_WARN("GATEWAY", "idempotency claim skipped partition=%"
                        PRId32 " offset=%" PRId64 " err=\"%s\"",
                        r->partition, r->offset, ec.msg);
        return !err && v == SR_IDEM_FIRST;
}

/* The claims read up to their ends seen at start (an empty partition,
 * or one whose records the retention dropped meanwhile, has nothing to
 * read: the reader's lag says so). */
static bool claims_caught_up(sr_gw_kafka_t *k, sr_reader_t *reader)
{
        for (int p = 0; p < k->n_parts; p++)
                if (k->idem_high[p] > 0 && k->idem_next[p] < k->idem_high[p])
                        return sr_reader_lag(reader, SR_TOPIC_IDEMPOTENCY) ==
                               0;
        return true;
}

/* Caught up once the projection reached the changelog's ends seen at
 * start, and the key memory the claims' (a restarted gateway knows every
 * key of the fleet before it is ready). */
static void check_caught_up(sr_gw_kafka_t *k, sr_reader_t *reader,
                            int64_t *next)
{
        sr_errctx_t ec = { 0 };
        bool all = true;

        if (atomic_load(&k->caught_up) ||
            sr_proj_offsets(k->gw->proj, next, k->n_parts, &ec) != SR_OK)
                return;
        for (int p = 0; p < k->n_parts; p++)
                if (k->start_high[p] > 0 && next[p] < k->start_high[p])
                        all = false;
        if (all && claims_caught_up(k, reader)) {
                atomic_store(&k->caught_up, true);
                SR_INFO("GATEWAY", "projection and idempotency keys caught "
                        "up");
        }
}

/* The projection's map use, when due (sr_mapuse.h). */
static void proj_use_tick(sr_gateway_t *gw)
{
        int64_t now = sr_clock_mono_ms();
        sr_proj_size_t z;
        sr_errctx_t ec = { 0 };

        if (!sr_mapuse_watch_due(&gw->proj_use, now))
                return;
        if (sr_proj_size(gw->proj, &z, &ec) == SR_OK)
                sr_mapuse_watch_set(&gw->proj_use, &z.use,
                                    gw->conf->data_dir, now);
        else
                gw->proj_use.next_ms = now + SR_MAPUSE_EVERY_MS;
}

/* One sr.events record into the projection (a run's watchers read it
 * there after the commit) and, once caught up, into the enterprise
 * watchers' ring. A record that does not decode is skipped, noted. */
static sr_err_t feed_event(sr_gw_kafka_t *k, sr_proj_txn_t *txn,
                           const sr_inrec_t *r, sr_jw_t *json,
                           sr_errctx_t *ec)
{
        sr_event_t ev;
        bool kept = false;
        sr_err_t err;

        err = sr_proj_apply_event(txn, r->partition, r->offset, r->value,
                                  &ev, json, &kept, ec);
        if (err == SR_ERR_CORRUPT) {
                SR_WARN("GATEWAY", "event record skipped partition=%" PRId32
                        " offset=%" PRId64 " err=\"%s\"", r->partition,
                        r->offset, ec->msg);
                return sr_proj_skip_event(txn, r->partition, r->offset, ec);
        }
        if (!err && kept && atomic_load(&k->caught_up))
                sr_gateway__watch_publish(k->gw->watch, &ev, json->p,
                                          json->len);
        return err;
}

/* Apply changelog records to the projection and hand replies to the
 * writes waiting for them. */
static void *feed_main(void *arg)
{
        sr_gw_kafka_t *k = arg;
        sr_gateway_t *gw = k->gw;
        sr_reader_part_t *parts;
        sr_inrec_t *recs;
        sr_codec_t *codec = NULL;
        sr_reader_t *reader = NULL;
        sr_errctx_t ec = { 0 };
        sr_jw_t ev_json = { 0 };
        double last_lag = 0;
        int64_t *next, next_probe = 0;
        int np = k->n_parts;

        parts = calloc((size_t)np * FEED_TOPICS, sizeof(*parts));
        next = calloc((size_t)np, sizeof(*next));
        recs = calloc(FEED_BATCH, sizeof(*recs));
        if (!parts || !next || !recs ||
            sr_codec_new(&codec, &ec) != SR_OK) {
                SR_ERROR("GATEWAY", "feed start failed err=\"%s\"", ec.msg);
                goto out;
        }
        sr_codec_set_ids(codec, &gw->conf->schema_ids);
        if (feed_reader(k, parts, next, &reader, &ec) != SR_OK) {
                SR_ERROR("GATEWAY", "feed reader failed err=\"%s\"", ec.msg);
                goto out;
        }
        while (!atomic_load(&k->stop)) {
                sr_proj_txn_t *txn = NULL;
                uint64_t applied = 0;
                bool failed = false, new_keys = false, events = false;
                sr_err_t err;
                int n = 0;

                atomic_store(&k->feed_beat_ms, sr_clock_mono_ms());
                if (sr_reader_poll(reader, recs, FEED_BATCH, &n, 100, &ec) !=
                    SR_OK) {
                        SR_ERROR("GATEWAY", "feed failed err=\"%s\"", ec.msg);
                        break;
                }
                health_tick(k, reader, n > 0, &next_probe);
                for (int i = 0; i < n; i++) {
                        const sr_inrec_t *r = &recs[i];

                        if (r->topic == SR_TOPIC_REPLIES) {
                                sr_reply_t reply;

                                if (sr_codec_decode_reply(codec, r->value,
                                                          &reply, NULL) ==
                                    SR_OK)
                                        deliver_reply(k, &reply);
                                continue;
                        }
                        if (r->topic == SR_TOPIC_IDEMPOTENCY &&
                            r->partition >= 0 && r->partition < np) {
                                new_keys |= apply_claim(k, r);
                                continue;
                        }
                        if (r->topic != SR_TOPIC_CHANGELOG &&
                            r->topic != SR_TOPIC_EVENTS)
                                continue;
                        if (!txn && sr_proj_begin(gw->proj, &txn, &ec)) {
                                SR_ERROR("GATEWAY", "projection begin "
                                         "err=\"%s\"", ec.msg);
                                break;
                        }
                        if (r->topic == SR_TOPIC_EVENTS) {
                                err = feed_event(k, txn, r, &ev_json, &ec);
                                events |= err == SR_OK;
                                if (err) {
                                        failed = true;
                                        break;
                                }
                                continue;
                        }
                        err = sr_proj_apply(txn, r->partition, r->offset,
                                            r->key, r->value, &ec);
                        if (err == SR_ERR_CORRUPT) {
                                /* Not ours to fix: note it, move past it,
                                 * so the projection can still catch up. */
                                SR_WARN("GATEWAY", "changelog record "
                                        "skipped partition=%" PRId32
                                        " offset=%" PRId64 " err=\"%s\"",
                                        r->partition, r->offset, ec.msg);
                                err = sr_proj_skip(txn, r->partition,
                                                   r->offset, &ec);
                        }
                        if (err) {
                                failed = true;
                                break;
                        }
                        applied++;
                }
                if (txn && !failed && sr_proj_commit(txn, &ec) != SR_OK)
                        failed = true; /* the commit freed the txn */
                else if (txn && failed)
                        sr_proj_abort(txn);
                if (failed) {
                        /* Nothing of the batch was kept: read it again
                         * from what the projection holds. */
                        SR_ERROR("GATEWAY", "projection write failed, "
                                 "re-reading from its offsets err=\"%s\"",
                                 ec.msg);
                        sr_reader_destroy(reader);
                        reader = NULL;
                        if (feed_reader(k, parts, next, &reader, &ec)) {
                                SR_ERROR("GATEWAY", "feed reader failed "
                                         "err=\"%s\"", ec.msg);
                                break;
                        }
                        continue;
                }
                if (new_keys)
                        sr_gateway__idem_stats_publish(gw);
                /* a run's stream ends on its changelog record (final,
                 * last_seq), which may come after its last event */
                if (events || applied)
                        sr_gateway__watch_notify(gw->watch);
                sr_series_add(gw->proj_records, (double)applied);
                if (sr_clock_mono_s() - last_lag > 1.0) {
                        last_lag = sr_clock_mono_s();
                        sr_series_set(gw->proj_lag,
                                      (double)sr_reader_lag(
                                              reader, SR_TOPIC_CHANGELOG));
                }
                proj_use_tick(gw);
                check_caught_up(k, reader, next);
                pthread_mutex_lock(&k->mu);
                k->generation++;
                pthread_cond_broadcast(&k->cv);
                pthread_mutex_unlock(&k->mu);
        }
out:
        if (!atomic_load(&k->stop))
                atomic_store(&k->feed_ok, false); /* not ready from now */
        sr_reader_destroy(reader);
        sr_codec_destroy(codec);
        free(ev_json.p);
        free(parts);
        free(next);
        free(recs);
        return NULL;
}

/* ------------------------------------------------------------ the port */

/* Register before producing so the reply cannot be missed. */
static int waiter_add(sr_gw_kafka_t *k, const sr_uuid_t *cmd)
{
        int slot = -1;

        pthread_mutex_lock(&k->mu);
        for (int i = 0; i < MAX_WAITERS; i++)
                if (!k->waiters[i].used) {
                        k->waiters[i].used = true;
                        k->waiters[i].done = false;
                        k->waiters[i].command_id = *cmd;
                        slot = i;
                        break;
                }
        pthread_mutex_unlock(&k->mu);
        return slot;
}

static void waiter_del(sr_gw_kafka_t *k, int slot)
{
        pthread_mutex_lock(&k->mu);
        k->waiters[slot].used = false;
        pthread_mutex_unlock(&k->mu);
}

/* Produce @p rec, stamped now, and wait up to @p timeout_ms until the
 * broker has it (acks=all). */
static sr_err_t produce_acked(sr_gw_kafka_t *k, sr_outrec_t *rec,
                              int timeout_ms, sr_errctx_t *ec)
{
        sr_err_t err;

        rec->timestamp = sr_clock_wall_ms();
        pthread_mutex_lock(&k->prod_mu);
        err = sr_producer_send(k->prod, rec, ec);
        if (!err)
                err = sr_producer_wait(k->prod, timeout_ms, ec);
        pthread_mutex_unlock(&k->prod_mu);
        return err;
}

static sr_gw_sent_t kafka_send(void *ctx, const sr_command_t *cmd,
                               sr_slice_t value, int timeout_ms, int *ticket,
                               sr_errctx_t *ec)
{
        sr_gw_kafka_t *k = ctx;
        char key[SR_UUID_STR_LEN + 1];
        sr_outrec_t rec = { 0 };
        sr_err_t err;
        int slot;

        slot = waiter_add(k, &cmd->command_id);
        if (slot < 0)
                return SR_GW_SEND_BUSY;
        sr_uuid_fmt(&cmd->pipeline_run_id, key);
        rec.topic = SR_TOPIC_COMMANDS;
        rec.partition = -1;
        rec.key = sr_slice(key, SR_UUID_STR_LEN);
        rec.value = value;
        err = produce_acked(k, &rec, timeout_ms, ec);
        if (err) {
                waiter_del(k, slot);
                return SR_GW_SEND_FAILED;
        }
        *ticket = slot;
        return SR_GW_SENT;
}

static bool kafka_wait_reply(void *ctx, int slot, int64_t until_ms,
                             sr_reply_t *out, double *t_read)
{
        sr_gw_kafka_t *k = ctx;
        struct timespec until = mono_deadline(until_ms);
        bool done;

        pthread_mutex_lock(&k->mu);
        while (!(done = k->waiters[slot].done) &&
               pthread_cond_timedwait(&k->cv, &k->mu, &until) == 0)
                ;
        if (!done)
                done = k->waiters[slot].done;
        if (done) {
                *out = k->waiters[slot].reply;
                *t_read = k->waiters[slot].t_reply;
        }
        k->waiters[slot].used = false;
        pthread_mutex_unlock(&k->mu);
        return done;
}

/* Until @p done(@p arg), asked again after every feed batch, or until
 * @p until_ms. */
static bool kafka_wait_feed(void *ctx, bool (*done)(void *arg), void *arg,
                            int64_t until_ms)
{
        sr_gw_kafka_t *k = ctx;
        struct timespec until = mono_deadline(until_ms);

        for (;;) {
                uint64_t gen;

                pthread_mutex_lock(&k->mu);
                gen = k->generation;
                pthread_mutex_unlock(&k->mu);
                if (done(arg))
                        return true;
                pthread_mutex_lock(&k->mu);
                while (k->generation == gen)
                        if (pthread_cond_timedwait(&k->cv, &k->mu, &until)) {
                                pthread_mutex_unlock(&k->mu);
                                return false;
                        }
                pthread_mutex_unlock(&k->mu);
        }
}

typedef struct visible_arg {
        sr_gw_kafka_t *k;
        const sr_reply_t *reply;
} visible_arg_t;

/* Every entity version the reply names is in the projection. */
static bool versions_visible(void *arg)
{
        const visible_arg_t *a = arg;
        const sr_reply_t *r = a->reply;

        for (uint32_t i = 0; i < r->n_versions; i++) {
                uint32_t v = 0;

                if (sr_proj_version(a->k->gw->proj,
                                    r->versions[i].entity_type,
                                    &r->versions[i].entity_id, &v,
                                    NULL) != SR_OK ||
                    v < r->versions[i].version)
                        return false;
        }
        return true;
}

static bool kafka_wait_visible(void *ctx, const sr_reply_t *r,
                               int64_t until_ms)
{
        visible_arg_t a = { ctx, r };

        return kafka_wait_feed(ctx, versions_visible, &a, until_ms);
}

typedef struct retired_arg {
        sr_gw_kafka_t *k;
        const char *enterprise;
        const sr_uuid_t *run;
} retired_arg_t;

/* The run's retired marker is applied: its note is there, and every
 * entity of the run is gone with it. */
static bool note_visible(void *arg)
{
        const retired_arg_t *a = arg;
        sr_proj_retired_t note;

        return sr_proj_get_retired(a->k->gw->proj, a->enterprise, a->run,
                                   &note, NULL) == SR_OK;
}

/* The note, else at the deadline the run's absence: a marker tombstoned
 * (retention.inputs) in the batch that brought it left no note. */
static bool kafka_wait_retired(void *ctx, const char *enterprise,
                               const sr_uuid_t *run, int64_t until_ms)
{
        retired_arg_t a = { ctx, enterprise, run };
        uint32_t v;

        return kafka_wait_feed(ctx, note_visible, &a, until_ms) ||
               sr_proj_version(a.k->gw->proj, SR_ENT_PIPELINE_RUN, run, &v,
                               NULL) == SR_ERR_NOT_FOUND;
}

typedef struct def_seq_arg {
        sr_gw_kafka_t *k;
        const sr_uuid_t *pipeline;
        uint64_t seq;
} def_seq_arg_t;

/* The pipeline's record holds the command's seq or a later one. */
static bool def_seq_visible(void *arg)
{
        const def_seq_arg_t *a = arg;
        uint64_t seq = 0;

        return sr_proj_def_last_seq(a->k->gw->proj, a->pipeline, &seq,
                                    NULL) == SR_OK &&
               seq >= a->seq;
}

static bool kafka_wait_def_seq(void *ctx, const char *enterprise,
                               const sr_uuid_t *pipeline, uint64_t seq,
                               int64_t until_ms)
{
        def_seq_arg_t a = { ctx, pipeline, seq };

        (void)enterprise;
        return kafka_wait_feed(ctx, def_seq_visible, &a, until_ms);
}

typedef struct run_arg {
        sr_gw_kafka_t *k;
        const sr_uuid_t *run;
} run_arg_t;

/* The run is projected (at any version). */
static bool run_visible(void *arg)
{
        const run_arg_t *a = arg;
        uint32_t v = 0;

        return sr_proj_version(a->k->gw->proj, SR_ENT_PIPELINE_RUN, a->run,
                               &v, NULL) == SR_OK;
}

static bool kafka_wait_run(void *ctx, const char *enterprise,
                           const sr_uuid_t *run, int64_t until_ms)
{
        run_arg_t a = { ctx, run };

        (void)enterprise;
        return kafka_wait_feed(ctx, run_visible, &a, until_ms);
}

static sr_err_t kafka_claim(void *ctx, sr_slice_t key, sr_slice_t value,
                            int32_t partition, int timeout_ms,
                            sr_errctx_t *ec)
{
        sr_outrec_t rec = { 0 };

        rec.topic = SR_TOPIC_IDEMPOTENCY;
        rec.partition = partition;
        rec.key = key;
        rec.value = value;
        return produce_acked(ctx, &rec, timeout_ms, ec);
}

/* ------------------------------------------------------------ lifecycle */

bool sr_gateway__kafka_alive(sr_gw_kafka_t *k, int64_t now_ms,
                             int64_t max_age_ms)
{
        return now_ms - atomic_load(&k->feed_beat_ms) <= max_age_ms;
}

bool sr_gateway__kafka_ready(sr_gw_kafka_t *k, char *why, size_t why_size)
{
        if (!atomic_load(&k->caught_up)) {
                snprintf(why, why_size, "the projection is catching up with "
                                        "the changelog, or the key memory "
                                        "with the idempotency claims");
                return false;
        }
        if (!atomic_load(&k->feed_ok)) {
                snprintf(why, why_size, "the changelog feed stopped (see "
                                        "the log); restart the gateway");
                return false;
        }
        if (!atomic_load(&k->broker_up)) {
                char reason[200];
                int64_t since;

                pthread_mutex_lock(&k->health_mu);
                snprintf(reason, sizeof(reason), "%s", k->health.why);
                since = k->health.since_ms;
                pthread_mutex_unlock(&k->health_mu);
                snprintf(why, why_size, "the broker is unreachable (for %lld "
                         "s: %s)",
                         (long long)((sr_clock_mono_ms() - since) / 1000),
                         reason);
                return false;
        }
        return true;
}

/* The ends of @p topic's partition @p p now.
 * Topics created a moment ago are not served yet by every broker
 * (unknown partition, no leader): retry for 30 s; refused credentials
 * (SR_ERR_AUTH) end it at once. */
static sr_err_t start_end(sr_gw_kafka_t *k, sr_topic_kind_t topic, int p,
                          int64_t *low, int64_t *high, sr_errctx_t *ec)
{
        sr_err_t err;

        for (int attempt = 1;; attempt++) {
                err = sr_kafka_watermarks(k->gw->conf, topic, p, low, high,
                                          10000, ec);
                if (!err || err == SR_ERR_FATAL || err == SR_ERR_AUTH ||
                    attempt >= 30)
                        return err;
                SR_WARN("GATEWAY", "%s partition %d not served yet, "
                        "retrying attempt=%d err=\"%s\"",
                        sr_topic_suffix(topic), p, attempt, ec->msg);
                sleep(1);
        }
}

/* The changelog's and the claims' ends now: ready once the projection and
 * the key memory reached them. */
static sr_err_t read_start_ends(sr_gw_kafka_t *k, sr_errctx_t *ec)
{
        sr_err_t err = SR_OK;

        for (int p = 0; p < k->n_parts && !err; p++) {
                int64_t low, high;

                err = start_end(k, SR_TOPIC_CHANGELOG, p, &low,
                                &k->start_high[p], ec);
                if (!err)
                        err = start_end(k, SR_TOPIC_IDEMPOTENCY, p, &low,
                                        &high, ec);
                if (!err)
                        k->idem_high[p] = high > low ? high : 0;
        }
        return err;
}

/* A projection that applied records beyond a changelog partition's end is
 * the projection of another changelog (the topic deleted and created
 * again, another cluster, a data dir reused): its offsets would make the
 * feed skip the new records as applied, and serve runs that do not exist.
 * It is a cache: empty it and rebuild from the changelog. */
static sr_err_t check_projection_of(sr_gw_kafka_t *k, sr_errctx_t *ec)
{
        int64_t *next = calloc((size_t)k->n_parts, sizeof(*next));
        sr_err_t err;
        int p;

        if (!next)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "gateway: offsets");
        err = sr_proj_offsets(k->gw->proj, next, k->n_parts, ec);
        for (p = 0; !err && p < k->n_parts; p++)
                if (next[p] > k->start_high[p])
                        break;
        if (!err && p < k->n_parts) {
                SR_WARN("GATEWAY", "the projection is ahead of the changelog: "
                        "not this changelog's, rebuilt from it partition=%d "
                        "next=%" PRId64 " end=%" PRId64, p, next[p],
                        k->start_high[p]);
                err = sr_proj_clear(k->gw->proj, ec);
        }
        free(next);
        return err;
}

sr_err_t sr_gateway__kafka_start(sr_gateway_t *gw, sr_errctx_t *ec)
{
        pthread_condattr_t ca;
        sr_gw_kafka_t *k;
        sr_err_t err;

        k = calloc(1, sizeof(*k));
        if (!k)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "gateway: calloc");
        gw->kafka = k;
        k->gw = gw;
        k->n_parts = gw->conf->partitions;
        pthread_mutex_init(&k->mu, NULL);
        pthread_mutex_init(&k->prod_mu, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&k->cv, &ca);
        pthread_condattr_destroy(&ca);
        atomic_init(&k->stop, false);
        atomic_init(&k->caught_up, false);
        atomic_init(&k->feed_ok, true);
        atomic_init(&k->broker_up, true);
        atomic_init(&k->feed_beat_ms, sr_clock_mono_ms());
        pthread_mutex_init(&k->health_mu, NULL);
        sr_health_init(&k->health, sr_clock_mono_ms());
        k->start_high = calloc((size_t)k->n_parts, sizeof(int64_t));
        k->idem_high = calloc((size_t)k->n_parts, sizeof(int64_t));
        k->idem_next = calloc((size_t)k->n_parts, sizeof(int64_t));
        if (!k->start_high || !k->idem_high || !k->idem_next)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "gateway: tables");
        for (int p = 0; p < k->n_parts; p++)
                k->idem_next[p] = SR_READER_BEGINNING;
        err = read_start_ends(k, ec);
        if (!err)
                err = check_projection_of(k, ec);
        if (!err)
                err = sr_producer_new(gw->conf, "sr-gateway", &k->prod, ec);
        if (err)
                return err;
        if (pthread_create(&k->feed, NULL, feed_main, k))
                return sr_errctx_set(ec, SR_ERR_FATAL, "gateway: thread");
        k->feed_started = true;
        gw->port.ctx = k;
        gw->port.send = kafka_send;
        gw->port.wait_reply = kafka_wait_reply;
        gw->port.wait_visible = kafka_wait_visible;
        gw->port.wait_retired = kafka_wait_retired;
        gw->port.wait_def_seq = kafka_wait_def_seq;
        gw->port.wait_run = kafka_wait_run;
        gw->port.claim = kafka_claim;
        gw->port.wait_feed = kafka_wait_feed;
        return SR_OK;
}

void sr_gateway__kafka_stop(sr_gw_kafka_t *k)
{
        if (!k)
                return;
        atomic_store(&k->stop, true);
        if (k->feed_started)
                pthread_join(k->feed, NULL);
        sr_producer_destroy(k->prod);
        free(k->start_high);
        free(k->idem_high);
        free(k->idem_next);
        pthread_cond_destroy(&k->cv);
        pthread_mutex_destroy(&k->mu);
        pthread_mutex_destroy(&k->prod_mu);
        pthread_mutex_destroy(&k->health_mu);
        free(k);
}
