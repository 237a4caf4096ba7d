/* common/gateway/sr_gateway.c - the REST gateway's logic.
 *
 * Checks run in this order, so a client always learns the first thing to
 * fix: route (404, 405), auth (401), the 501 of starting a stored
 * definition, readiness (503), content type (415), body size (413), body
 * and query (400), Idempotency-Key reuse (409), existence in the caller's
 * enterprise (404), the size of the command (413: command.max.bytes, what
 * the workers accept), then the worker's verdict (400/404 from its reply;
 * 202 when no reply arrives in time). Readiness follows the broker as
 * librdkafka reports it (health_tick()), never a request's outcome.
 */
#include "sr_gateway.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "sr_auth.h"
#include "sr_budget.h"
#include "sr_codec.h"
#include "sr_health.h"
#include "sr_http.h"
#include "sr_entity_json.h"
#include "sr_idem.h"
#include "sr_json_writer.h"
#include "sr_kafka.h"
#include "sr_log.h"
#include "sr_proj.h"
#include "sr_utf8.h"

extern const char sr_openapi_json[];
extern const size_t sr_openapi_json_len;

#define MAX_WAITERS 1024
#define PROBE_EVERY_MS 1000 /* broker probe period (the feed thread) */
#define PROBE_TIMEOUT_MS 1000
#define FEED_BATCH 2000

typedef struct waiter {
        bool used;
        bool done;
        sr_uuid_t command_id;
        sr_reply_t reply;
        double t_reply; /* mono_s() when the feed read the reply */
} waiter_t;

/* Phases of a write, for sr_gateway_write_phase_seconds. */
enum {
        PHASE_PRODUCE, /* command sent until the broker acknowledged it */
        PHASE_REPLY,   /* acknowledged until the feed read the reply: the
                        * worker's fetch, batch and relay, the gateway's
                        * fetch (the reply's record timestamp cannot split
                        * it: it may carry the command's time) */
        PHASE_VISIBLE, /* reply read until the projection held its versions */
        PHASE__COUNT
};

static const char *const phase_names[PHASE__COUNT] = {
        [PHASE_PRODUCE] = "produce",
        [PHASE_REPLY] = "reply",
        [PHASE_VISIBLE] = "visible",
};

/* sr_http_requests_total series, looked up once per route and code: the
 * registry's lookup takes its lock and compares labels. */
#define CODE_MIN 100
#define CODE_MAX 599

struct sr_gateway {
        const sr_conf_t *conf;
        sr_metrics_t *metrics;
        sr_auth_t *auth;
        sr_proj_t *proj;
        sr_producer_t *prod;
        sr_codec_t *codec;       /* encodes commands; under prod_mu */
        pthread_mutex_t prod_mu; /* the producer's wait is per handle */

        pthread_t feed;
        bool feed_started;
        atomic_bool stop;
        atomic_bool caught_up;
        atomic_bool feed_ok;   /* false once the feed thread gave up */
        atomic_bool broker_up; /* health.up, for a lock-free check */
        pthread_mutex_t health_mu;
        sr_health_t health;    /* from librdkafka's reports; health_mu */
        int n_parts;
        int64_t *start_high; /* changelog ends seen at start */

        char *link_base; /* gateway.public.url without its trailing '/', or
                          * "": links relative to the server root */

        pthread_mutex_t mu; /* waiters, generation */
        pthread_cond_t cv;
        waiter_t waiters[MAX_WAITERS];
        uint64_t generation; /* bumped after every feed batch */
        sr_idem_t *idem; /* Idempotency-Keys; locks itself */
        sr_series_t *idem_keys, *idem_evicted;
        atomic_uint_least64_t idem_evicted_seen; /* added to idem_evicted */

        sr_series_t *latency, *proj_records, *proj_lag;
        sr_series_t *phase[PHASE__COUNT];
        _Atomic(sr_series_t *) *requests; /* [route][code - CODE_MIN] */
};

/* ------------------------------------------------------------ helpers */

static double mono_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t mono_ms(void)
{
        return (int64_t)(mono_s() * 1000.0);
}

static int64_t wall_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void deadline_in(struct timespec *ts, int ms)
{
        clock_gettime(CLOCK_REALTIME, ts);
        ts->tv_sec += ms / 1000;
        ts->tv_nsec += (long)(ms % 1000) * 1000000L;
        if (ts->tv_nsec >= 1000000000L) {
                ts->tv_sec++;
                ts->tv_nsec -= 1000000000L;
        }
}

static void answer_json(sr_gw_response_t *resp, int status,
                        const char *message, json_t *content)
{
        resp->status = status;
        resp->content_type = "application/json";
        if (sr_http_envelope(status, message, content, &resp->body) !=
            SR_OK) {
                resp->status = 500;
                resp->body.ptr = strdup("{\"code\":500,\"message\":\"out of "
                                        "memory\",\"content\":{}}");
                resp->body.len = resp->body.ptr ? strlen(resp->body.ptr) : 0;
        }
        json_decref(content);
}

static void answer_problem(sr_gw_response_t *resp,
                           const sr_http_problem_t *prob)
{
        resp->status = prob->status;
        resp->content_type = "application/json";
        snprintf(resp->allow, sizeof(resp->allow), "%s", prob->allow);
        if (sr_http_problem_envelope(prob, &resp->body) != SR_OK)
                answer_json(resp, 500, "out of memory", json_object());
}

static void answer_status(sr_gw_response_t *resp, int status,
                          const char *fmt, ...) SR_PRINTF(3, 4);

static void answer_status(sr_gw_response_t *resp, int status,
                          const char *fmt, ...)
{
        sr_http_problem_t prob = { 0 };
        va_list ap;

        prob.status = status;
        va_start(ap, fmt);
        sr_utf8_vformat(prob.message, sizeof(prob.message), fmt, ap);
        va_end(ap);
        answer_problem(resp, &prob);
}

static void answer_text(sr_gw_response_t *resp, int status,
                        const char *ctype, const void *text, size_t len)
{
        resp->status = status;
        resp->content_type = ctype;
        resp->body.ptr = malloc(len ? len : 1);
        resp->body.len = resp->body.ptr ? len : 0;
        if (resp->body.ptr)
                memcpy(resp->body.ptr, text, len);
}

/* ------------------------------------------------------------ the feed */

/* A reader from the projection's next offsets (changelog) and the end of
 * the replies. @p parts and @p next hold 2 * n_parts and n_parts. */
static sr_err_t feed_reader(sr_gateway_t *gw, sr_reader_part_t *parts,
                            int64_t *next, sr_reader_t **rp, sr_errctx_t *ec)
{
        int np = gw->n_parts;
        sr_err_t err;

        err = sr_proj_offsets(gw->proj, next, np, ec);
        if (err)
                return err;
        for (int p = 0; p < np; p++) {
                parts[p].topic = SR_TOPIC_CHANGELOG;
                parts[p].partition = p;
                parts[p].offset = next[p] >= 0 ? next[p] : SR_READER_BEGINNING;
                parts[np + p].topic = SR_TOPIC_REPLIES;
                parts[np + p].partition = p;
                parts[np + p].offset = SR_READER_END;
        }
        return sr_reader_new(gw->conf, parts, 2 * np, rp, ec);
}

/* The broker's health from librdkafka: its "all brokers down" report,
 * and a metadata probe every PROBE_EVERY_MS (at once after such a report).
 * Records just fetched (@p fetched) answer for the broker as well as a
 * probe, so a busy feed sends none (a metadata request can wait behind a
 * fetch on the broker's connection). Only this thread writes the state;
 * requests read it. */
static void health_tick(sr_gateway_t *gw, sr_reader_t *reader, bool fetched,
                        int64_t *next_probe)
{
        char why[200];
        sr_errctx_t ec = { 0 };
        bool changed = false, up;

        if (sr_reader_all_brokers_down(reader, why, sizeof(why))) {
                pthread_mutex_lock(&gw->health_mu);
                changed = sr_health_all_down(&gw->health, why, mono_ms());
                pthread_mutex_unlock(&gw->health_mu);
                *next_probe = 0;
        }
        if (fetched && *next_probe) {
                pthread_mutex_lock(&gw->health_mu);
                changed |= sr_health_probe(&gw->health, true, NULL,
                                           mono_ms());
                pthread_mutex_unlock(&gw->health_mu);
                *next_probe = mono_ms() + PROBE_EVERY_MS;
        } else if (mono_ms() >= *next_probe) {
                bool ok = sr_reader_ping(reader, PROBE_TIMEOUT_MS, &ec) ==
                          SR_OK;

                pthread_mutex_lock(&gw->health_mu);
                changed |= sr_health_probe(&gw->health, ok, ec.msg,
                                           mono_ms());
                pthread_mutex_unlock(&gw->health_mu);
                *next_probe = mono_ms() + PROBE_EVERY_MS;
        }
        if (!changed)
                return;
        pthread_mutex_lock(&gw->health_mu);
        up = gw->health.up;
        snprintf(why, sizeof(why), "%s", gw->health.why);
        pthread_mutex_unlock(&gw->health_mu);
        atomic_store(&gw->broker_up, up);
        if (up)
                SR_INFO("GATEWAY", "broker reachable again: ready");
        else
                SR_WARN("GATEWAY", "broker unreachable: answering 503 "
                        "err=\"%s\"", why);
}

/* Apply changelog records to the projection and hand replies to the
 * writes waiting for them. */
static void *feed_main(void *arg)
{
        sr_gateway_t *gw = arg;
        sr_reader_part_t *parts;
        sr_inrec_t *recs;
        sr_codec_t *codec = NULL;
        sr_reader_t *reader = NULL;
        sr_errctx_t ec = { 0 };
        double last_lag = 0;
        int64_t *next, next_probe = 0;
        int np = gw->n_parts;

        parts = calloc((size_t)np * 2, sizeof(*parts));
        next = calloc((size_t)np, sizeof(*next));
        recs = calloc(FEED_BATCH, sizeof(*recs));
        if (!parts || !next || !recs ||
            sr_codec_new(&codec, &ec) != SR_OK) {
                SR_ERROR("GATEWAY", "feed start failed err=\"%s\"", ec.msg);
                goto out;
        }
        if (feed_reader(gw, parts, next, &reader, &ec) != SR_OK) {
                SR_ERROR("GATEWAY", "feed reader failed err=\"%s\"", ec.msg);
                goto out;
        }
        while (!atomic_load(&gw->stop)) {
                sr_proj_txn_t *txn = NULL;
                uint64_t applied = 0;
                bool failed = false;
                sr_err_t err;
                int n = 0;

                if (sr_reader_poll(reader, recs, FEED_BATCH, &n, 100, &ec) !=
                    SR_OK) {
                        SR_ERROR("GATEWAY", "feed failed err=\"%s\"", ec.msg);
                        break;
                }
                health_tick(gw, reader, n > 0, &next_probe);
                for (int i = 0; i < n; i++) {
                        const sr_inrec_t *r = &recs[i];

                        if (r->topic == SR_TOPIC_REPLIES) {
                                sr_reply_t reply;

                                if (sr_codec_decode_reply(codec, r->value,
                                                          &reply, NULL) !=
                                    SR_OK)
                                        continue;
                                pthread_mutex_lock(&gw->mu);
                                for (int w = 0; w < MAX_WAITERS; w++)
                                        if (gw->waiters[w].used &&
                                            !gw->waiters[w].done &&
                                            sr_uuid_eq(&gw->waiters[w]
                                                                .command_id,
                                                       &reply.command_id)) {
                                                gw->waiters[w].reply = reply;
                                                gw->waiters[w].done = true;
                                                gw->waiters[w].t_reply =
                                                        mono_s();
                                        }
                                pthread_mutex_unlock(&gw->mu);
                                continue;
                        }
                        if (r->topic != SR_TOPIC_CHANGELOG)
                                continue;
                        if (!txn && sr_proj_begin(gw->proj, &txn, &ec)) {
                                SR_ERROR("GATEWAY", "projection begin "
                                         "err=\"%s\"", ec.msg);
                                break;
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
                        if (feed_reader(gw, parts, next, &reader, &ec)) {
                                SR_ERROR("GATEWAY", "feed reader failed "
                                         "err=\"%s\"", ec.msg);
                                break;
                        }
                        continue;
                }
                sr_series_add(gw->proj_records, (double)applied);
                if (mono_s() - last_lag > 1.0) {
                        last_lag = mono_s();
                        sr_series_set(gw->proj_lag,
                                      (double)sr_reader_lag(
                                              reader, SR_TOPIC_CHANGELOG));
                }
                if (!atomic_load(&gw->caught_up) &&
                    sr_proj_offsets(gw->proj, next, np, &ec) == SR_OK) {
                        bool all = true;

                        for (int p = 0; p < np; p++)
                                if (gw->start_high[p] > 0 &&
                                    next[p] < gw->start_high[p])
                                        all = false;
                        if (all) {
                                atomic_store(&gw->caught_up, true);
                                SR_INFO("GATEWAY", "projection caught up");
                        }
                }
                pthread_mutex_lock(&gw->mu);
                gw->generation++;
                pthread_cond_broadcast(&gw->cv);
                pthread_mutex_unlock(&gw->mu);
        }
out:
        if (!atomic_load(&gw->stop))
                atomic_store(&gw->feed_ok, false); /* not ready from now */
        sr_reader_destroy(reader);
        sr_codec_destroy(codec);
        free(parts);
        free(next);
        free(recs);
        return NULL;
}

/* ------------------------------------------------------------ writes */

/* Register before producing so the reply cannot be missed. */
static int waiter_add(sr_gateway_t *gw, const sr_uuid_t *cmd)
{
        int slot = -1;

        pthread_mutex_lock(&gw->mu);
        for (int i = 0; i < MAX_WAITERS; i++)
                if (!gw->waiters[i].used) {
                        gw->waiters[i].used = true;
                        gw->waiters[i].done = false;
                        gw->waiters[i].command_id = *cmd;
                        slot = i;
                        break;
                }
        pthread_mutex_unlock(&gw->mu);
        return slot;
}

static void waiter_del(sr_gateway_t *gw, int slot)
{
        pthread_mutex_lock(&gw->mu);
        gw->waiters[slot].used = false;
        pthread_mutex_unlock(&gw->mu);
}

/* Wait for the reply; false on timeout. On success @p t_reply tells when
 * the feed read it. */
static bool waiter_wait(sr_gateway_t *gw, int slot,
                        const struct timespec *until, sr_reply_t *out,
                        double *t_reply)
{
        bool done;

        pthread_mutex_lock(&gw->mu);
        while (!(done = gw->waiters[slot].done) &&
               pthread_cond_timedwait(&gw->cv, &gw->mu, until) == 0)
                ;
        if (!done)
                done = gw->waiters[slot].done;
        if (done) {
                *out = gw->waiters[slot].reply;
                *t_reply = gw->waiters[slot].t_reply;
        }
        pthread_mutex_unlock(&gw->mu);
        return done;
}


/* Read-your-writes: wait until the projection holds every version the
 * reply names. */
static bool wait_versions(sr_gateway_t *gw, const sr_reply_t *r,
                          const struct timespec *until)
{
        for (;;) {
                bool ok = true;
                uint64_t gen;

                for (uint32_t i = 0; i < r->n_versions && ok; i++) {
                        uint32_t v = 0;

                        if (sr_proj_version(gw->proj,
                                            r->versions[i].entity_type,
                                            &r->versions[i].entity_id, &v,
                                            NULL) != SR_OK ||
                            v < r->versions[i].version)
                                ok = false;
                }
                if (ok)
                        return true;
                pthread_mutex_lock(&gw->mu);
                gen = gw->generation;
                while (gw->generation == gen)
                        if (pthread_cond_timedwait(&gw->cv, &gw->mu, until)) {
                                pthread_mutex_unlock(&gw->mu);
                                return false;
                        }
                pthread_mutex_unlock(&gw->mu);
        }
}

/* Idempotency: the same key of the enterprise with another route or body
 * is refused (409; 500 when it cannot be remembered). Returns true after
 * answering. */
static bool idem_refused(sr_gateway_t *gw, const char *enterprise,
                         const sr_gw_request_t *req, const sr_route_t *route,
                         sr_gw_response_t *resp)
{
        uint8_t fp[SR_IDEM_FP_LEN];
        sr_idem_verdict_t v;
        sr_idem_stats_t st;
        sr_errctx_t ec = { 0 };

        sr_idem_fingerprint(route, req->body, req->body_len, fp);
        if (sr_idem_check(gw->idem, enterprise, req->idempotency_key, fp,
                          (int64_t)(mono_s() * 1000.0), &v, &ec) != SR_OK) {
                answer_status(resp, 500, "Idempotency-Key: %s", ec.msg);
                return true;
        }
        if (v == SR_IDEM_FIRST) {
                uint_least64_t seen = atomic_load(&gw->idem_evicted_seen);

                sr_idem_stats(gw->idem, &st);
                sr_series_set(gw->idem_keys, (double)st.keys);
                /* The counter moves forward once per eviction, whichever
                 * thread saw it first. */
                while (st.evicted > seen &&
                       !atomic_compare_exchange_weak(&gw->idem_evicted_seen,
                                                     &seen, st.evicted))
                        ;
                if (st.evicted > seen)
                        sr_series_add(gw->idem_evicted,
                                      (double)(st.evicted - seen));
        }
        if (v != SR_IDEM_CONFLICT)
                return false;
        answer_status(resp, 409, "Idempotency-Key was used before with "
                      "another request (another operation, other path ids "
                      "or another body); use a new key");
        return true;
}

/* The key memory, its bucket hash keyed with libuuid's random bytes. */
static sr_err_t idem_open(sr_gateway_t *gw, sr_errctx_t *ec)
{
        sr_uuid_t random;
        uint64_t seed;

        sr_uuid_v4(&random);
        memcpy(&seed, random.b, sizeof(seed));
        return sr_idem_new((size_t)gw->conf->gateway_idempotency_max_keys,
                           (int64_t)gw->conf->gateway_idempotency_ttl_s * 1000,
                           seed, &gw->idem, ec);
}

/* Send @p cmd and wait for its reply and its visibility. Returns 0 when
 * the command was accepted and is visible; otherwise the response is
 * written and the HTTP status returned. */
static int run_command(sr_gateway_t *gw, sr_command_t *cmd,
                       sr_gw_response_t *resp)
{
        char key[SR_UUID_STR_LEN + 1], cid[SR_UUID_STR_LEN + 1];
        int timeout = gw->conf->gateway_reply_timeout_ms;
        sr_outrec_t rec = { 0 };
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { 0 };
        struct timespec until;
        double t0, t_acked, t_reply = 0;
        sr_reply_t reply;
        sr_err_t err;
        int slot;

        sr_uuid_fmt(&cmd->command_id, cid);
        /* One codec for all writes; they are serialised by prod_mu anyway. */
        pthread_mutex_lock(&gw->prod_mu);
        err = sr_codec_encode_command(gw->codec, cmd, &val, &ec);
        pthread_mutex_unlock(&gw->prod_mu);
        if (err) {
                answer_status(resp, 500, "could not encode the command: %s",
                              ec.msg);
                return 500;
        }
        /* The worker would refuse it (sr_budget.h): say so, send nothing. */
        if (!sr_budget_input_fits((size_t)gw->conf->command_max_bytes,
                                  SR_UUID_STR_LEN, val.len)) {
                answer_status(resp, 413, "the command would be %zu bytes "
                              "(its key and encoded value), over "
                              "command.max.bytes (%d); nothing was "
                              "changed: send a smaller run spec",
                              SR_UUID_STR_LEN + val.len,
                              gw->conf->command_max_bytes);
                sr_buf_free(&val);
                return 413;
        }
        slot = waiter_add(gw, &cmd->command_id);
        if (slot < 0) {
                sr_buf_free(&val);
                resp->retry_after = 1;
                answer_status(resp, 503, "too many writes in flight; retry");
                return 503;
        }
        sr_uuid_fmt(&cmd->pipeline_run_id, key);
        rec.topic = SR_TOPIC_COMMANDS;
        rec.partition = -1;
        rec.key = sr_slice(key, SR_UUID_STR_LEN);
        rec.value = sr_buf_slice(&val);
        rec.timestamp = wall_ms();
        t0 = mono_s();
        pthread_mutex_lock(&gw->prod_mu);
        err = sr_producer_send(gw->prod, &rec, &ec);
        if (!err)
                err = sr_producer_wait(gw->prod, timeout > 0 ? timeout : 1,
                                       &ec);
        pthread_mutex_unlock(&gw->prod_mu);
        sr_buf_free(&val);
        if (err) {
                /* One record's fate: the broker's health is the feed's
                 * business (health_tick()), not this request's. */
                waiter_del(gw, slot);
                if (err == SR_ERR_TOO_LARGE) {
                        answer_status(resp, 413, "the broker refused the "
                                      "command as too large (%s); nothing "
                                      "was changed", ec.msg);
                        return 413;
                }
                if (err != SR_ERR_RETRY) {
                        answer_status(resp, 500, "the broker refused the "
                                      "command (%s); nothing was changed",
                                      ec.msg);
                        return 500;
                }
                resp->retry_after = 5;
                answer_status(resp, 503, "the broker did not take the "
                              "command (%s); nothing was changed, retry",
                              ec.msg);
                return 503;
        }
        t_acked = mono_s();
        sr_series_observe(gw->phase[PHASE_PRODUCE], t_acked - t0);
        deadline_in(&until, timeout);
        if (!waiter_wait(gw, slot, &until, &reply, &t_reply)) {
                json_t *c = json_pack("{s:s}", "command_id", cid);

                waiter_del(gw, slot);
                resp->retry_after = 1;
                answer_json(resp, 202,
                            "accepted; the outcome did not arrive in time",
                            c);
                return 202;
        }
        waiter_del(gw, slot);
        sr_series_observe(gw->phase[PHASE_REPLY], t_reply - t_acked);
        if (!reply.accepted) {
                int code = reply.reason == SR_REJECT_NOT_FOUND ||
                                           reply.reason == SR_REJECT_TENANT ?
                                   404 :
                           reply.reason == SR_REJECT_TOO_LARGE ? 413 :
                           reply.reason == SR_REJECT_INTERNAL  ? 500 :
                                                                 400;

                answer_json(resp, code, reply.message,
                            json_pack("{s:s,s:s}", "command_id", cid, "reason",
                                      sr_reject_name(reply.reason)));
                return code;
        }
        if (!wait_versions(gw, &reply, &until)) {
                answer_json(resp, 202,
                            "accepted; not yet visible in reads",
                            json_pack("{s:s}", "command_id", cid));
                return 202;
        }
        sr_series_observe(gw->phase[PHASE_VISIBLE], mono_s() - t_reply);
        return 0;
}

static void command_init(sr_command_t *cmd, sr_cmd_kind_t kind,
                         const char *enterprise, const sr_gw_request_t *req,
                         const sr_uuid_t *run)
{
        memset(cmd, 0, sizeof(*cmd));
        cmd->kind = kind;
        if (req->idempotency_key)
                sr_idem_uuid(&cmd->command_id, "idem", enterprise,
                             req->idempotency_key);
        else
                sr_uuid_v4(&cmd->command_id);
        if (run)
                cmd->pipeline_run_id = *run;
        snprintf(cmd->enterprise_id, sizeof(cmd->enterprise_id), "%s",
                 enterprise);
        cmd->issued_at = wall_ms();
}

/* ------------------------------------------------------------ handlers */

typedef struct ctx {
        sr_gateway_t *gw;
        const sr_gw_request_t *req;
        sr_gw_response_t *resp;
        const sr_route_t *route;
        char enterprise[SR_SHORT_MAX];
        const char *base; /* of links: gw->link_base */
        char path[1024];
} ctx_t;

static void not_found(ctx_t *c, const char *what)
{
        answer_status(c->resp, 404, "%s not found", what);
}

static void proj_failed(ctx_t *c, const sr_errctx_t *ec, const char *what)
{
        if (ec->code == SR_ERR_NOT_FOUND)
                not_found(c, what);
        else
                answer_status(c->resp, 500, "%s: %s", what, ec->msg);
}

_Static_assert(SR_HTTP_MAX_ORDER <= 1 + SR_PROJ_MAX_THEN,
               "every ordering key must reach the projection");

static void to_proj_query(const sr_http_query_t *hq, sr_proj_query_t *pq)
{
        memset(pq, 0, sizeof(*pq));
        pq->has_status = hq->status != SR_ST_NONE;
        pq->status = hq->status;
        pq->pipeline_name = hq->pipeline_name[0] ? hq->pipeline_name : NULL;
        pq->operation_id = hq->has_operation_id ?
                                   &hq->stage_run_operation_id :
                                   NULL;
        pq->offset = hq->offset;
        pq->limit = hq->limit;
        /* Every key of `ordering`, most significant first. */
        for (uint32_t i = 0; i < hq->n_order && i <= SR_PROJ_MAX_THEN; i++) {
                static const sr_proj_order_t map[] = {
                        [SR_HTTP_ORDER_RUN_NUMBER] = SR_PROJ_ORDER_RUN_NUMBER,
                        [SR_HTTP_ORDER_STATUS] = SR_PROJ_ORDER_STATUS,
                        [SR_HTTP_ORDER_PIPELINE_NAME] =
                                SR_PROJ_ORDER_PIPELINE_NAME,
                        [SR_HTTP_ORDER_STARTED_AT] = SR_PROJ_ORDER_STARTED_AT,
                        [SR_HTTP_ORDER_ENDED_AT] = SR_PROJ_ORDER_ENDED_AT,
                };

                if (i == 0) {
                        pq->order = map[hq->order[0].key];
                        pq->desc = hq->order[0].desc;
                } else {
                        pq->then[i - 1].order = map[hq->order[i].key];
                        pq->then[i - 1].desc = hq->order[i].desc;
                        pq->n_then = i;
                }
        }
}

static void answer_page(ctx_t *c, const sr_http_query_t *q, uint64_t count,
                        json_t *results)
{
        json_t *page = sr_http_page(c->base, c->path, q, count, results);

        if (!page)
                answer_status(c->resp, 500, "out of memory");
        else
                answer_json(c->resp, 200, "ok", page);
}

/* A list answer whose items were written by sr_jw: the page (count and
 * links) from sr_http_page() with an empty results array, the items
 * spliced in. Takes items->p. Byte-identical to answer_page(). */
static void answer_page_jw(ctx_t *c, const sr_http_query_t *q,
                           uint64_t count, sr_jw_t *items)
{
        json_t *page = sr_http_page(c->base, c->path, q, count,
                                    json_array());
        char *pt = page ? json_dumps(page, JSON_COMPACT) : NULL;
        sr_jw_t w = { 0 };
        size_t pl;

        json_decref(page);
        pl = pt ? strlen(pt) : 0;
        if (!pt || items->oom || pl < 3 || strcmp(pt + pl - 3, "[]}")) {
                free(pt);
                free(items->p);
                answer_status(c->resp, 500, "out of memory");
                return;
        }
        sr_jw_reserve(&w, pl + items->len + 64);
        sr_jw_lit(&w, "{\"code\":200,\"message\":\"ok\",\"content\":");
        sr_jw_raw(&w, pt, pl - 2); /* up to and with "results":[ */
        sr_jw_raw(&w, items->p, items->len);
        sr_jw_lit(&w, "]}}");
        free(pt);
        free(items->p);
        if (w.oom) {
                free(w.p);
                answer_status(c->resp, 500, "out of memory");
                return;
        }
        c->resp->status = 200;
        c->resp->content_type = "application/json";
        c->resp->body.ptr = w.p;
        c->resp->body.len = w.len;
}

static void list_entities(ctx_t *c)
{
        const sr_gw_request_t *req = c->req;
        const char *qs = strchr(req->target, '?');
        sr_http_problem_t prob = { 0 };
        sr_errctx_t ec = { 0 };
        sr_http_query_t q;
        sr_proj_query_t pq;
        json_t *arr = json_array();
        uint64_t count = 0;
        size_t n = 0;
        sr_err_t err = SR_OK;

        if (sr_http_query_parse(c->route->id, qs ? qs + 1 : "",
                                qs ? strlen(qs + 1) : 0, &q, &prob) != SR_OK) {
                json_decref(arr);
                answer_problem(c->resp, &prob);
                return;
        }
        to_proj_query(&q, &pq);
        switch (c->route->id) {
        case SR_ROUTE_RUNS_LIST:
        case SR_ROUTE_PIPELINE_RUNS_LIST: {
                sr_pipeline_run_t *items = NULL;

                if (c->route->id == SR_ROUTE_PIPELINE_RUNS_LIST)
                        pq.pipeline_id = &c->route->pipeline_id;
                err = sr_proj_list_pipeline_runs(c->gw->proj, c->enterprise,
                                                 &pq, &items, &n, &count,
                                                 &ec);
                for (size_t i = 0; !err && i < n; i++)
                        json_array_append_new(arr,
                                              sr_json_pipeline_run(&items[i]));
                free(items);
                break;
        }
        case SR_ROUTE_STAGE_RUNS_LIST: {
                sr_stage_run_t *items = NULL;

                sr_jw_t w = { 0 };

                err = sr_proj_list_stage_runs(c->gw->proj, c->enterprise,
                                              &c->route->pipeline_run_id, &pq,
                                              &items, &n, &count, &ec);
                sr_jw_reserve(&w, n * 720);
                for (size_t i = 0; !err && i < n; i++) {
                        sr_entity_t e = { .type = SR_ENT_STAGE_RUN };

                        if (i)
                                sr_jw_lit(&w, ",");
                        sr_jw_stage_run(&w, &items[i]);
                        e.u.sr = items[i];
                        sr_entity_fini(&e);
                }
                free(items);
                if (!err) {
                        json_decref(arr);
                        answer_page_jw(c, &q, count, &w);
                        return;
                }
                free(w.p);
                break;
        }
        case SR_ROUTE_OPERATIONS_LIST: {
                sr_stage_run_op_t *items = NULL;
                sr_jw_t w = { 0 };
                bool ok = true;

                /* sr_jw: args as stored, not printed again by jansson */
                err = sr_proj_list_operations(c->gw->proj, c->enterprise,
                                              &c->route->stage_run_id, &pq,
                                              &items, &n, &count, &ec);
                for (size_t i = 0; !err && ok && i < n; i++) {
                        if (i)
                                sr_jw_lit(&w, ",");
                        ok = sr_jw_stage_run_op(&w, &items[i]);
                }
                sr_proj_ops_free(items, n);
                if (!err && ok) {
                        json_decref(arr);
                        answer_page_jw(c, &q, count, &w);
                        return;
                }
                free(w.p);
                if (!err)
                        err = sr_errctx_set(&ec, SR_ERR_CORRUPT,
                                            "stored operation args are not "
                                            "a JSON object");
                break;
        }
        case SR_ROUTE_TARGET_RUNS_LIST: {
                sr_target_run_t *items = NULL;

                sr_jw_t w = { 0 };

                err = sr_proj_list_target_runs(c->gw->proj, c->enterprise,
                                               &c->route->stage_run_id, &pq,
                                               &items, &n, &count, &ec);
                sr_jw_reserve(&w, n * 760);
                for (size_t i = 0; !err && i < n; i++) {
                        if (i)
                                sr_jw_lit(&w, ",");
                        sr_jw_target_run(&w, &items[i]);
                }
                free(items);
                if (!err) {
                        json_decref(arr);
                        answer_page_jw(c, &q, count, &w);
                        return;
                }
                free(w.p);
                break;
        }
        default:
                break;
        }
        if (err) {
                json_decref(arr);
                proj_failed(c, &ec, "parent");
                return;
        }
        answer_page(c, &q, count, arr);
}

/* The entity a route names, as JSON; NULL after answering 404/500. */
static json_t *get_entity(ctx_t *c)
{
        const sr_route_t *r = c->route;
        sr_errctx_t ec = { 0 };

        switch (r->id) {
        case SR_ROUTE_PIPELINE_RUN_GET:
        case SR_ROUTE_PIPELINE_RUN_PUT: {
                sr_pipeline_run_t pr;

                if (sr_proj_get_pipeline_run(c->gw->proj, c->enterprise,
                                             &r->pipeline_run_id, &pr,
                                             &ec) != SR_OK) {
                        proj_failed(c, &ec, "pipeline run");
                        return NULL;
                }
                if (!sr_uuid_eq(&pr.pipeline_id, &r->pipeline_id)) {
                        not_found(c, "pipeline run");
                        return NULL;
                }
                return sr_json_pipeline_run(&pr);
        }
        case SR_ROUTE_STAGE_RUN_GET:
        case SR_ROUTE_STAGE_RUN_PUT: {
                sr_entity_t e = { .type = SR_ENT_STAGE_RUN };
                json_t *j;

                if (sr_proj_get_stage_run(c->gw->proj, c->enterprise,
                                          &r->pipeline_run_id,
                                          &r->stage_run_id, &e.u.sr,
                                          &ec) != SR_OK) {
                        proj_failed(c, &ec, "stage run");
                        return NULL;
                }
                j = sr_json_stage_run(&e.u.sr);
                sr_entity_fini(&e);
                return j;
        }
        case SR_ROUTE_TARGET_RUN_GET:
        case SR_ROUTE_TARGET_RUN_PUT: {
                sr_target_run_t tr;

                if (sr_proj_get_target_run(c->gw->proj, c->enterprise,
                                           &r->stage_run_id, &r->target_run_id,
                                           &tr, &ec) != SR_OK) {
                        proj_failed(c, &ec, "target run");
                        return NULL;
                }
                return sr_json_target_run(&tr);
        }
        default:
                not_found(c, "entity");
                return NULL;
        }
}

/* An operation is written with sr_jw, its args as stored (jansson would
 * print their numbers again). */
static void get_operation(ctx_t *c)
{
        const sr_route_t *r = c->route;
        sr_errctx_t ec = { 0 };
        sr_stage_run_op_t op;
        sr_jw_t w = { 0 };
        bool ok;

        if (sr_proj_get_operation(c->gw->proj, c->enterprise,
                                  &r->stage_run_id,
                                  &r->stage_run_operation_id, &op,
                                  &ec) != SR_OK) {
                proj_failed(c, &ec, "stage-run operation");
                return;
        }
        sr_jw_lit(&w, "{\"code\":200,\"message\":\"ok\",\"content\":");
        ok = sr_jw_stage_run_op(&w, &op);
        sr_jw_lit(&w, "}");
        free(op.args_json);
        if (!ok || w.oom) {
                free(w.p);
                answer_status(c->resp, 500, ok ? "out of memory" :
                              "stored operation args are not a JSON object");
                return;
        }
        c->resp->status = 200;
        c->resp->content_type = "application/json";
        c->resp->body.ptr = w.p;
        c->resp->body.len = w.len;
}

static void get_one(ctx_t *c)
{
        json_t *j;

        if (c->route->id == SR_ROUTE_OPERATION_GET) {
                get_operation(c);
                return;
        }
        j = get_entity(c);
        if (j)
                answer_json(c->resp, 200, "ok", j);
}

static void put_status(ctx_t *c)
{
        const sr_route_t *r = c->route;
        sr_http_problem_t prob = { 0 };
        sr_errctx_t ec = { 0 };
        sr_http_put_t put;
        sr_command_t cmd;
        sr_uuid_t run = r->pipeline_run_id;
        sr_cmd_kind_t kind;
        json_t *j;

        if (sr_http_parse_put(r->id, c->req->body, c->req->body_len,
                              (size_t)c->gw->conf->gateway_body_max_bytes,
                              &put, &prob) != SR_OK) {
                answer_problem(c->resp, &prob);
                return;
        }
        if (c->req->idempotency_key &&
            idem_refused(c->gw, c->enterprise, c->req, r, c->resp))
                return;
        /* Exists in the caller's enterprise? (404 before any command) */
        j = get_entity(c);
        if (!j)
                return;
        json_decref(j);
        if (r->id == SR_ROUTE_PIPELINE_RUN_PUT) {
                kind = SR_CMD_SET_PIPELINE_RUN_STATUS;
        } else if (r->id == SR_ROUTE_STAGE_RUN_PUT) {
                kind = SR_CMD_SET_STAGE_RUN_STATUS;
        } else {
                sr_target_run_t tr;

                kind = SR_CMD_SET_TARGET_RUN_STATUS;
                if (sr_proj_get_target_run(c->gw->proj, c->enterprise,
                                           &r->stage_run_id, &r->target_run_id,
                                           &tr, &ec) != SR_OK) {
                        proj_failed(c, &ec, "target run");
                        return;
                }
                run = tr.pipeline_run_id;
        }
        command_init(&cmd, kind, c->enterprise, c->req, &run);
        if (kind == SR_CMD_SET_STAGE_RUN_STATUS)
                cmd.u.set.entity_id = r->stage_run_id;
        else if (kind == SR_CMD_SET_TARGET_RUN_STATUS)
                cmd.u.set.entity_id = r->target_run_id;
        snprintf(cmd.u.set.status, sizeof(cmd.u.set.status), "%s",
                 sr_status_name(put.status));
        if (put.has_device_name)
                snprintf(cmd.u.set.device_name, sizeof(cmd.u.set.device_name),
                         "%s", put.device_name);
        if (run_command(c->gw, &cmd, c->resp))
                return;
        get_one(c);
}

static void create_run(ctx_t *c)
{
        sr_http_problem_t prob = { 0 };
        sr_proj_query_t pq = { 0 };
        sr_errctx_t ec = { 0 };
        sr_pipeline_run_t pr;
        sr_command_t cmd;
        sr_uuid_t run;
        uint64_t count = 0;
        size_t n = 0;
        sr_pipeline_run_t *none = NULL;
        int rc;

        command_init(&cmd, SR_CMD_CREATE_RUN, c->enterprise, c->req, NULL);
        if (sr_http_parse_run_spec(c->req->body, c->req->body_len,
                                   (size_t)c->gw->conf->gateway_body_max_bytes,
                                   &cmd.u.create.spec, &prob) != SR_OK) {
                answer_problem(c->resp, &prob);
                return;
        }
        if (c->req->idempotency_key &&
            idem_refused(c->gw, c->enterprise, c->req, c->route, c->resp)) {
                sr_command_fini(&cmd);
                return;
        }
        if (c->req->idempotency_key)
                sr_idem_uuid(&run, "idem-run", c->enterprise,
                             c->req->idempotency_key);
        else
                sr_uuid_v4(&run);
        cmd.pipeline_run_id = run;
        /* run_number: this gateway's count of the pipeline's runs + 1 */
        pq.pipeline_id = &cmd.u.create.spec.pipeline_id;
        if (sr_proj_list_pipeline_runs(c->gw->proj, c->enterprise, &pq, &none,
                                       &n, &count, &ec) == SR_OK)
                free(none);
        cmd.u.create.run_number = (int32_t)(count + 1);
        rc = run_command(c->gw, &cmd, c->resp);
        sr_command_fini(&cmd);
        if (rc)
                return;
        if (sr_proj_get_pipeline_run(c->gw->proj, c->enterprise, &run, &pr,
                                     &ec) != SR_OK) {
                proj_failed(c, &ec, "pipeline run");
                return;
        }
        answer_json(c->resp, 200, "ok", sr_json_pipeline_run(&pr));
}

static void count_request(sr_gateway_t *gw, sr_route_id_t route, int status,
                          double seconds)
{
        _Atomic(sr_series_t *) *slot = NULL;
        sr_series_t *s = NULL;
        char labels[96];

        if (gw->requests && (unsigned)route < SR_ROUTE__COUNT &&
            status >= CODE_MIN && status <= CODE_MAX) {
                slot = &gw->requests[(size_t)route *
                                             (CODE_MAX - CODE_MIN + 1) +
                                     (size_t)(status - CODE_MIN)];
                s = atomic_load_explicit(slot, memory_order_acquire);
        }
        if (!s) { /* first of its kind: the registry's lookup */
                snprintf(labels, sizeof(labels),
                         "route=\"%s\",code=\"%d\"", sr_route_name(route),
                         status);
                s = sr_metrics_counter(gw->metrics, "sr_http_requests_total",
                                       "HTTP requests by route and status "
                                       "code.",
                                       labels);
                if (slot && s)
                        atomic_store_explicit(slot, s, memory_order_release);
        }
        sr_series_add(s, 1);
        sr_series_observe(gw->latency, seconds);
}

/* The checks that need no body, in the order of checks: route (404, 405),
 * auth (401), the 501 of a stored definition, readiness (503), and for
 * writes Content-Type (415) and the declared body size (413). True when
 * @p resp holds their answer; the operations routes pass. */
static bool answer_from_head(sr_gateway_t *gw, const sr_gw_request_t *req,
                             sr_gw_response_t *resp, sr_route_t *route,
                             char *enterprise)
{
        sr_http_problem_t prob = { 0 };
        char why[128];

        route->id = SR_ROUTE_NONE;
        if (sr_http_route(req->method, req->target, route, &prob) != SR_OK) {
                answer_problem(resp, &prob);
                return true;
        }
        if (!sr_route_needs_auth(route->id))
                return false;
        if (!sr_auth_check(gw->auth, req->authorization, enterprise)) {
                answer_status(resp, 401, "missing or unknown token: send "
                              "\"Authorization: Bearer <token>\"");
                return true;
        }
        /* Whatever the body and its Content-Type (it may have none): there
         * is no stored definition to start, and nothing is written. */
        if (route->id == SR_ROUTE_PIPELINE_RUNS_CREATE) {
                sr_http_stored_definition_problem(&route->pipeline_id, &prob);
                answer_problem(resp, &prob);
                return true;
        }
        if (!sr_gateway_is_ready(gw, why, sizeof(why))) {
                resp->retry_after = 1;
                answer_status(resp, 503, "not ready: %s", why);
                return true;
        }
        if (!sr_route_has_body(route->id))
                return false;
        if (sr_http_check_content_type(req->content_type, &prob) != SR_OK) {
                answer_problem(resp, &prob);
                return true;
        }
        if (req->body_too_large) {
                answer_status(resp, 413, "request body over %d bytes",
                              gw->conf->gateway_body_max_bytes);
                return true;
        }
        return false;
}

static void count_answer(sr_gateway_t *gw, sr_route_id_t route,
                         sr_gw_response_t *resp, double t0)
{
        if (resp->status == 503 && !resp->retry_after)
                resp->retry_after = 1;
        count_request(gw, route, resp->status, mono_s() - t0);
}

bool sr_gateway_check_head(sr_gateway_t *gw, const sr_gw_request_t *req,
                           sr_gw_response_t *resp)
{
        char enterprise[SR_SHORT_MAX];
        double t0 = mono_s();
        sr_route_t route;

        memset(resp, 0, sizeof(*resp));
        if (!answer_from_head(gw, req, resp, &route, enterprise))
                return false;
        count_answer(gw, route.id, resp, t0);
        return true;
}

void sr_gateway_handle(sr_gateway_t *gw, const sr_gw_request_t *req,
                       sr_gw_response_t *resp)
{
        sr_http_problem_t prob = { 0 };
        sr_route_t route;
        char why[128];
        double t0 = mono_s();
        ctx_t c;

        memset(resp, 0, sizeof(*resp));
        memset(&c, 0, sizeof(c));
        c.gw = gw;
        c.req = req;
        c.resp = resp;
        c.route = &route;
        if (answer_from_head(gw, req, resp, &route, c.enterprise))
                goto done;
        switch (route.id) {
        case SR_ROUTE_LIVEZ:
                answer_text(resp, 200, "text/plain", "ok\n", 3);
                goto done;
        case SR_ROUTE_READYZ:
                if (sr_gateway_is_ready(gw, why, sizeof(why))) {
                        answer_text(resp, 200, "text/plain", "ready\n", 6);
                } else {
                        strncat(why, "\n", sizeof(why) - strlen(why) - 1);
                        resp->retry_after = 1;
                        answer_text(resp, 503, "text/plain", why,
                                    strlen(why));
                }
                goto done;
        case SR_ROUTE_METRICS: {
                sr_buf_t text = { 0 };

                if (gw->metrics &&
                    sr_metrics_render(gw->metrics, &text, NULL) == SR_OK) {
                        resp->status = 200;
                        resp->content_type = "text/plain; version=0.0.4";
                        resp->body = text;
                } else {
                        answer_text(resp, 404, "text/plain", "no metrics\n",
                                    11);
                }
                goto done;
        }
        case SR_ROUTE_OPENAPI:
                answer_text(resp, 200, "application/json", sr_openapi_json,
                            sr_openapi_json_len);
                goto done;
        default:
                break;
        }
        if (sr_route_has_body(route.id) &&
            sr_http_check_idempotency_key(req->idempotency_key, &prob) !=
                    SR_OK) {
                answer_problem(resp, &prob);
                goto done;
        }
        c.base = gw->link_base;
        snprintf(c.path, sizeof(c.path), "%.*s",
                 (int)strcspn(req->target, "?#"), req->target);
        switch (route.id) {
        case SR_ROUTE_RUNS_LIST:
        case SR_ROUTE_PIPELINE_RUNS_LIST:
        case SR_ROUTE_STAGE_RUNS_LIST:
        case SR_ROUTE_OPERATIONS_LIST:
        case SR_ROUTE_TARGET_RUNS_LIST:
                list_entities(&c);
                break;
        case SR_ROUTE_PIPELINE_RUN_GET:
        case SR_ROUTE_STAGE_RUN_GET:
        case SR_ROUTE_OPERATION_GET:
        case SR_ROUTE_TARGET_RUN_GET:
                get_one(&c);
                break;
        case SR_ROUTE_PIPELINE_RUN_PUT:
        case SR_ROUTE_STAGE_RUN_PUT:
        case SR_ROUTE_TARGET_RUN_PUT:
                put_status(&c);
                break;
        case SR_ROUTE_RUNS_CREATE:
                create_run(&c);
                break;
        default:
                answer_status(resp, 404, "unknown path or id");
                break;
        }
done:
        count_answer(gw, route.id, resp, t0);
}

/* ------------------------------------------------------------ lifecycle */

bool sr_gateway_is_ready(sr_gateway_t *gw, char *why, size_t why_size)
{
        if (!atomic_load(&gw->caught_up)) {
                snprintf(why, why_size, "the projection is catching up with "
                                        "the changelog");
                return false;
        }
        if (!atomic_load(&gw->feed_ok)) {
                snprintf(why, why_size, "the changelog feed stopped (see "
                                        "the log); restart the gateway");
                return false;
        }
        if (!atomic_load(&gw->broker_up)) {
                char reason[200];
                int64_t since;

                pthread_mutex_lock(&gw->health_mu);
                snprintf(reason, sizeof(reason), "%s", gw->health.why);
                since = gw->health.since_ms;
                pthread_mutex_unlock(&gw->health_mu);
                snprintf(why, why_size, "the broker is unreachable (for %lld "
                         "s: %s)", (long long)((mono_ms() - since) / 1000),
                         reason);
                return false;
        }
        return true;
}

sr_err_t sr_gateway_new(const sr_conf_t *conf, sr_metrics_t *metrics,
                        const char *env_tokens, sr_gateway_t **gwp,
                        sr_errctx_t *ec)
{
        sr_gateway_t *gw;
        sr_err_t err;

        err = sr_conf_check_budget(conf, ec);
        if (err)
                return err;
        gw = calloc(1, sizeof(*gw));
        if (!gw)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "gateway: calloc");
        gw->conf = conf;
        gw->metrics = metrics;
        gw->n_parts = conf->partitions;
        pthread_mutex_init(&gw->mu, NULL);
        pthread_mutex_init(&gw->prod_mu, NULL);
        pthread_cond_init(&gw->cv, NULL);
        atomic_init(&gw->stop, false);
        atomic_init(&gw->caught_up, false);
        atomic_init(&gw->idem_evicted_seen, 0);
        atomic_init(&gw->feed_ok, true);
        atomic_init(&gw->broker_up, true);
        pthread_mutex_init(&gw->health_mu, NULL);
        sr_health_init(&gw->health, mono_ms());
        gw->start_high = calloc((size_t)gw->n_parts, sizeof(int64_t));
        gw->link_base = strdup(conf->gateway_public_url ?
                               conf->gateway_public_url : "");
        if (gw->link_base) {
                size_t n = strlen(gw->link_base);

                while (n && gw->link_base[n - 1] == '/')
                        gw->link_base[--n] = '\0';
        }
        if (!gw->start_high || !gw->link_base) {
                err = sr_errctx_set(ec, SR_ERR_NOMEM, "gateway: tables");
                goto err_free;
        }
        err = idem_open(gw, ec);
        if (err)
                goto err_free;
        gw->idem_keys = sr_metrics_gauge(
                metrics, "sr_gateway_idempotency_keys",
                "Idempotency-Keys this gateway remembers (at most "
                "gateway.idempotency.max.keys).", NULL);
        gw->idem_evicted = sr_metrics_counter(
                metrics, "sr_gateway_idempotency_evicted_total",
                "Idempotency-Keys forgotten before gateway.idempotency."
                "ttl.s because gateway.idempotency.max.keys were held.",
                NULL);
        gw->latency = sr_metrics_histogram(metrics,
                                           "sr_http_request_duration_seconds",
                                           "Time to answer a request.", NULL,
                                           NULL, 0);
        gw->proj_lag = sr_metrics_gauge(
                metrics, "sr_projection_lag_records",
                "Changelog records not yet in the projection (-1: unknown).",
                NULL);
        gw->proj_records = sr_metrics_counter(
                metrics, "sr_projection_records_total",
                "Changelog records applied to the projection.", NULL);
        for (int i = 0; i < PHASE__COUNT; i++) {
                char labels[32];

                snprintf(labels, sizeof(labels), "phase=\"%s\"",
                         phase_names[i]);
                gw->phase[i] = sr_metrics_histogram(
                        metrics, "sr_gateway_write_phase_seconds",
                        "Where a write's time goes: produce (until the "
                        "broker acknowledged the command), reply (until "
                        "the gateway read the worker's reply), visible "
                        "(until the projection held what it names).",
                        labels, NULL, 0);
        }
        gw->requests = calloc((size_t)SR_ROUTE__COUNT *
                                      (CODE_MAX - CODE_MIN + 1),
                              sizeof(*gw->requests));
        if (!gw->requests) {
                err = sr_errctx_set(ec, SR_ERR_NOMEM, "gateway: tables");
                goto err_free;
        }
        err = sr_auth_new(conf->gateway_tokens_file, env_tokens, &gw->auth,
                          ec);
        if (err)
                goto err_free;
        if (sr_auth_count(gw->auth) == 0) {
                err = sr_errctx_set(ec, SR_ERR_CONF,
                                    "no API tokens: set gateway.tokens.file "
                                    "or SR_API_TOKENS=token:enterprise");
                goto err_free;
        }
        err = sr_proj_open(conf->data_dir, 0, &gw->proj, ec);
        if (err)
                goto err_free;
        for (int p = 0; p < gw->n_parts; p++) {
                int64_t low;

                /* Topics created a moment ago are not served yet by every
                 * broker (unknown partition, no leader): retry for 30 s. */
                for (int attempt = 1;; attempt++) {
                        err = sr_kafka_watermarks(conf, SR_TOPIC_CHANGELOG,
                                                  p, &low,
                                                  &gw->start_high[p], 10000,
                                                  ec);
                        if (!err || err == SR_ERR_FATAL || attempt >= 30)
                                break;
                        SR_WARN("GATEWAY", "changelog partition %d not "
                                "served yet, retrying attempt=%d err=\"%s\"",
                                p, attempt, ec->msg);
                        sleep(1);
                }
                if (err)
                        goto err_free;
        }
        err = sr_producer_new(conf, "sr-gateway", &gw->prod, ec);
        if (!err)
                err = sr_codec_new(&gw->codec, ec);
        if (err)
                goto err_free;
        if (pthread_create(&gw->feed, NULL, feed_main, gw)) {
                err = sr_errctx_set(ec, SR_ERR_FATAL, "gateway: thread");
                goto err_free;
        }
        gw->feed_started = true;
        *gwp = gw;
        return SR_OK;
err_free:
        sr_gateway_destroy(gw);
        return err;
}

void sr_gateway_destroy(sr_gateway_t *gw)
{
        if (!gw)
                return;
        atomic_store(&gw->stop, true);
        if (gw->feed_started)
                pthread_join(gw->feed, NULL);
        sr_producer_destroy(gw->prod);
        sr_codec_destroy(gw->codec);
        sr_proj_close(gw->proj);
        sr_auth_destroy(gw->auth);
        sr_idem_destroy(gw->idem);
        free(gw->start_high);
        free(gw->link_base);
        free((void *)gw->requests);
        pthread_cond_destroy(&gw->cv);
        pthread_mutex_destroy(&gw->mu);
        pthread_mutex_destroy(&gw->prod_mu);
        pthread_mutex_destroy(&gw->health_mu);
        free(gw);
}
