/* tests/lib/testkit.h - in-process fixture for integration tests: a mock
 * cluster, one sr_worker, a producer for inputs and an observer that
 * collects everything the worker publishes (events, dispatch requests,
 * replies, dead letters), decoded.
 *
 * Everything is created in the test's own process (call kit_open() from a
 * Criterion .init), never before the fork. Header-only: each test binary is
 * one translation unit.
 *
 * With SR_TEST_KAFKA=HOST:PORT (scripts/kafka.sh run/env) the fixture uses
 * that real Kafka broker instead of a mock: each kit takes a topic prefix and
 * consumer group ids of its own (kit_unique_prefix) so tests sharing the
 * broker never see each other's records.
 */
#ifndef SR_TESTKIT_H
#define SR_TESTKIT_H

#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sr_codec.h"
#include "sr_conf.h"
#include "sr_fsm.h"
#include "sr_kafka.h"
#include "sr_log.h"
#include "sr_worker.h"

#define KIT_MAX 20000

typedef struct kit_dlq {
        char reason[64];
        char topic[32];
        char error[256];
        int64_t offset;
        int32_t partition;    /* of the input */
        size_t len;           /* of the dead letter's value */
        char value_bytes[24]; /* sr_dlq_value_bytes: "" unless cut */
} kit_dlq_t;

typedef struct kit {
        sr_conf_t *conf;
        sr_mock_t *mock;
        sr_worker_t *w;
        sr_producer_t *prod;
        sr_codec_t *codec;
        rd_kafka_t *obs; /* group-less observer of the output topics */
        char dir[64];
        char bootstrap[512];
        char prefix[64]; /* topic.prefix; "" for the default */
        int parts;

        sr_event_t *events;
        int n_events;
        sr_dispatch_t *dispatches;
        int n_dispatches;
        sr_reply_t *replies;
        int n_replies;
        kit_dlq_t *dlq;
        int n_dlq;
        uint64_t seen_max_seq;
} kit_t;

static inline int64_t kit_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void kit_set(kit_t *k, const char *key, const char *val)
{
        sr_errctx_t ec = { 0 };

        cr_assert(sr_conf_set(k->conf, key, val, &ec) == SR_OK, "%s=%s: %s",
                  key, val, ec.msg);
}

/* The real broker of the kafka suite (SR_TEST_KAFKA), or NULL. */
static inline const char *kit_real_kafka(void)
{
        const char *b = getenv("SR_TEST_KAFKA");

        return b && *b ? b : NULL;
}

static inline void kit_observe(kit_t *k)
{
        char errstr[256], name[256];
        rd_kafka_conf_t *kc = rd_kafka_conf_new();
        rd_kafka_topic_partition_list_t *tl;
        static const sr_topic_kind_t outs[] = { SR_TOPIC_EVENTS,
                                                SR_TOPIC_DISPATCH,
                                                SR_TOPIC_REPLIES,
                                                SR_TOPIC_DLQ };

        rd_kafka_conf_set(kc, "bootstrap.servers", k->bootstrap, errstr,
                          sizeof(errstr));
        rd_kafka_conf_set(kc, "group.id", "kit-observer", errstr,
                          sizeof(errstr));
        if (!kit_real_kafka()) /* the mock does not wake a waiting fetch */
                rd_kafka_conf_set(kc, "fetch.wait.max.ms", "1", errstr,
                                  sizeof(errstr));
        rd_kafka_conf_set(kc, "enable.auto.commit", "false", errstr,
                          sizeof(errstr));
        rd_kafka_conf_set(kc, "log_level", "3", errstr, sizeof(errstr));
        k->obs = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, sizeof(errstr));
        cr_assert(k->obs != NULL, "%s", errstr);
        rd_kafka_poll_set_consumer(k->obs);
        tl = rd_kafka_topic_partition_list_new(4 * k->parts);
        for (int t = 0; t < 4; t++) {
                sr_kafka_topic_name(k->conf, outs[t], name, sizeof(name));
                for (int p = 0; p < k->parts; p++)
                        rd_kafka_topic_partition_list_add(tl, name, p)
                                ->offset = RD_KAFKA_OFFSET_BEGINNING;
        }
        cr_assert(rd_kafka_assign(k->obs, tl) == RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_topic_partition_list_destroy(tl);
}

/* A topic prefix no other test uses: "it-TAG-PID-MS-N." */
static inline void kit_unique_prefix(char *out, size_t outsz, const char *tag)
{
        static int n;

        snprintf(out, outsz, "it-%s-%d-%lld-%d.", tag, (int)getpid(),
                 (long long)kit_now_ms(), n++);
}

/* True when every partition of the kit's topics answers a watermark query:
 * a broker serves a new topic a moment after it created it. */
static inline bool kit_topics_served(kit_t *k, rd_kafka_t *rk)
{
        char name[256];

        for (int t = 0; t < SR_TOPIC__COUNT; t++) {
                sr_kafka_topic_name(k->conf, (sr_topic_kind_t)t, name,
                                    sizeof(name));
                for (int p = 0; p < k->parts; p++) {
                        int64_t lo, hi;

                        if (rd_kafka_query_watermark_offsets(rk, name, p, &lo,
                                                             &hi, 5000))
                                return false;
                }
        }
        return true;
}

/* Create the kit's topics (k->parts partitions, the changelog compacted)
 * on the real broker k->bootstrap and wait until it serves them. */
static inline void kit_create_topics(kit_t *k)
{
        rd_kafka_NewTopic_t *nt[SR_TOPIC__COUNT];
        const rd_kafka_topic_result_t **tr;
        rd_kafka_conf_t *kc = rd_kafka_conf_new();
        rd_kafka_queue_t *q;
        rd_kafka_event_t *ev;
        rd_kafka_t *rk;
        char errstr[256], name[256];
        size_t n = 0;
        int64_t end;

        rd_kafka_conf_set(kc, "bootstrap.servers", k->bootstrap, errstr,
                          sizeof(errstr));
        rd_kafka_conf_set(kc, "log_level", "3", errstr, sizeof(errstr));
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof(errstr));
        cr_assert(rk != NULL, "%s", errstr);
        for (int t = 0; t < SR_TOPIC__COUNT; t++) {
                sr_kafka_topic_name(k->conf, (sr_topic_kind_t)t, name,
                                    sizeof(name));
                nt[t] = rd_kafka_NewTopic_new(name, k->parts, 1, errstr,
                                              sizeof(errstr));
                cr_assert(nt[t] != NULL, "%s: %s", name, errstr);
                if (t == SR_TOPIC_CHANGELOG)
                        cr_assert(rd_kafka_NewTopic_set_config(
                                          nt[t], "cleanup.policy",
                                          "compact") == 0);
        }
        q = rd_kafka_queue_new(rk);
        rd_kafka_CreateTopics(rk, nt, SR_TOPIC__COUNT, NULL, q);
        ev = rd_kafka_queue_poll(q, 30000);
        cr_assert(ev != NULL, "CreateTopics on %s timed out", k->bootstrap);
        cr_assert(rd_kafka_event_error(ev) == 0, "CreateTopics: %s",
                  rd_kafka_event_error_string(ev));
        tr = rd_kafka_CreateTopics_result_topics(
                rd_kafka_event_CreateTopics_result(ev), &n);
        for (size_t i = 0; i < n; i++)
                cr_assert(rd_kafka_topic_result_error(tr[i]) == 0,
                          "create %s: %s", rd_kafka_topic_result_name(tr[i]),
                          rd_kafka_topic_result_error_string(tr[i]));
        rd_kafka_event_destroy(ev);
        rd_kafka_queue_destroy(q);
        for (int t = 0; t < SR_TOPIC__COUNT; t++)
                rd_kafka_NewTopic_destroy(nt[t]);
        for (end = kit_now_ms() + 30000; !kit_topics_served(k, rk);) {
                cr_assert(kit_now_ms() < end, "topics %s* not served",
                          k->prefix);
                usleep(100 * 1000);
        }
        rd_kafka_destroy(rk);
}

static inline void kit_open_full(kit_t *k, int parts, int brokers,
                                 const char *bootstrap, const char *prefix);

/* Open the fixture with @p parts partitions on a mock cluster of its own,
 * or, under SR_TEST_KAFKA, on fresh topics of the real broker. */
static inline void kit_open(kit_t *k, int parts)
{
        kit_open_full(k, parts, 1, NULL, NULL);
}

/* As kit_open(), on a mock cluster of @p brokers brokers. */
static inline void kit_open_brokers(kit_t *k, int parts, int brokers)
{
        kit_open_full(k, parts, brokers, NULL, NULL);
}

/* Open the fixture on @p bootstrap (an sr-dev's cluster), or as kit_open()
 * when NULL. */
static inline void kit_open_at(kit_t *k, int parts, const char *bootstrap)
{
        kit_open_full(k, parts, 1, bootstrap, NULL);
}

/* As kit_open_at(), on the topics of @p prefix (NULL: the default prefix,
 * or a fresh one when the kit creates topics on the real broker). */
static inline void kit_open_prefixed(kit_t *k, int parts,
                                     const char *bootstrap,
                                     const char *prefix)
{
        kit_open_full(k, parts, 1, bootstrap, prefix);
}

static inline void kit_open_full(kit_t *k, int parts, int brokers,
                                 const char *bootstrap, const char *prefix)
{
        sr_errctx_t ec = { 0 };
        bool create = false;
        char v[128];

        memset(k, 0, sizeof(*k));
        k->parts = parts;
        sr_log_max_level = getenv("SR_TEST_DEBUG") ? SR_LOG_DEBUG :
                                                     SR_LOG_WARN;
        k->conf = sr_conf_new();
        snprintf(k->dir, sizeof(k->dir), "/tmp/sr-it.XXXXXX");
        cr_assert(mkdtemp(k->dir) != NULL);
        kit_set(k, "data.dir", k->dir);
        kit_set(k, "http.enable", "false");
        snprintf(v, sizeof(v), "%d", parts);
        kit_set(k, "partitions", v);
        kit_set(k, "kafka.session.timeout.ms", "6000");
        kit_set(k, "kafka.log_level", "3");
        kit_set(k, "poll.timeout.ms", "20");
        kit_set(k, "cache.verify", "true"); /* cached runs == snapshot */
        if (getenv("SR_TEST_GUARANTEE")) /* e.g. exactly_once (real broker) */
                kit_set(k, "processing.guarantee",
                        getenv("SR_TEST_GUARANTEE"));
        if (!bootstrap && kit_real_kafka()) {
                bootstrap = kit_real_kafka();
                create = true;
                if (!prefix)
                        kit_unique_prefix(k->prefix, sizeof(k->prefix),
                                          "kit");
        }
        if (prefix)
                snprintf(k->prefix, sizeof(k->prefix), "%s", prefix);
        if (k->prefix[0]) {
                kit_set(k, "topic.prefix", k->prefix);
                /* groups of their own: a real broker's groups are shared */
                snprintf(v, sizeof(v), "%sstatus", k->prefix);
                kit_set(k, "group.id", v);
                snprintf(v, sizeof(v), "%sagent", k->prefix);
                kit_set(k, "agent.group.id", v);
        }
        /* The 2.0.2 mock does not wake a waiting fetch; a real broker
         * answers as soon as data arrives. */
        if (!kit_real_kafka())
                kit_set(k, "kafka.fetch.wait.max.ms", "1");
        if (!bootstrap) {
                cr_assert(sr_mock_new(k->conf, brokers, parts, &k->mock,
                                      &ec) == SR_OK,
                          "%s", ec.msg);
                bootstrap = sr_mock_bootstraps(k->mock);
        }
        snprintf(k->bootstrap, sizeof(k->bootstrap), "%s", bootstrap);
        kit_set(k, "kafka.bootstrap.servers", bootstrap);
        if (create)
                kit_create_topics(k);
        cr_assert(sr_codec_new(&k->codec, &ec) == SR_OK, "%s", ec.msg);
        cr_assert(sr_producer_new(k->conf, "kit", &k->prod, &ec) == SR_OK,
                  "%s", ec.msg);
        k->events = calloc(KIT_MAX, sizeof(*k->events));
        k->dispatches = calloc(KIT_MAX, sizeof(*k->dispatches));
        k->replies = calloc(KIT_MAX, sizeof(*k->replies));
        k->dlq = calloc(KIT_MAX, sizeof(*k->dlq));
        kit_observe(k);
}

static inline void kit_start_worker(kit_t *k)
{
        sr_errctx_t ec = { 0 };

        cr_assert(sr_worker_new(k->conf, NULL, &k->w, &ec) == SR_OK, "%s",
                  ec.msg);
}

static inline void kit_stop_worker(kit_t *k)
{
        sr_worker_destroy(k->w);
        k->w = NULL;
}

static inline void kit_close(kit_t *k)
{
        char cmd[128];

        sr_worker_destroy(k->w);
        if (k->obs) {
                rd_kafka_consumer_close(k->obs);
                rd_kafka_destroy(k->obs);
        }
        sr_producer_destroy(k->prod);
        sr_codec_destroy(k->codec);
        sr_mock_destroy(k->mock);
        sr_conf_destroy(k->conf);
        free(k->events);
        free(k->dispatches);
        free(k->replies);
        free(k->dlq);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", k->dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", k->dir);
}

static inline void kit_header(rd_kafka_message_t *m, const char *name,
                              char *out, size_t outsz)
{
        rd_kafka_headers_t *hdrs = NULL;
        const void *v = NULL;
        size_t n = 0;

        out[0] = '\0';
        if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
            rd_kafka_header_get_last(hdrs, name, &v, &n) ==
                    RD_KAFKA_RESP_ERR_NO_ERROR &&
            v) {
                if (n >= outsz)
                        n = outsz - 1;
                memcpy(out, v, n);
                out[n] = '\0';
        }
}

/* Drain what the observer has, decoding into the kit's arrays. */
static inline void kit_drain(kit_t *k, int timeout_ms)
{
        rd_kafka_message_t *m;
        char name[256];

        while ((m = rd_kafka_consumer_poll(k->obs, timeout_ms))) {
                sr_slice_t v = sr_slice(m->payload, m->len);
                const char *t;
                sr_errctx_t ec = { 0 };

                timeout_ms = 0;
                if (m->err) {
                        rd_kafka_message_destroy(m);
                        continue;
                }
                t = rd_kafka_topic_name(m->rkt);
                sr_kafka_topic_name(k->conf, SR_TOPIC_EVENTS, name,
                                    sizeof(name));
                if (!strcmp(t, name) && k->n_events < KIT_MAX) {
                        cr_assert(sr_codec_decode_event(
                                          k->codec, v,
                                          &k->events[k->n_events], &ec) ==
                                          SR_OK,
                                  "%s", ec.msg);
                        k->n_events++;
                }
                sr_kafka_topic_name(k->conf, SR_TOPIC_DISPATCH, name,
                                    sizeof(name));
                if (!strcmp(t, name) && k->n_dispatches < KIT_MAX) {
                        char *args = NULL;

                        cr_assert(sr_codec_decode_dispatch(
                                          k->codec, v,
                                          &k->dispatches[k->n_dispatches],
                                          &args, &ec) == SR_OK,
                                  "%s", ec.msg);
                        free(args);
                        k->dispatches[k->n_dispatches].args_json = NULL;
                        k->n_dispatches++;
                }
                sr_kafka_topic_name(k->conf, SR_TOPIC_REPLIES, name,
                                    sizeof(name));
                if (!strcmp(t, name) && k->n_replies < KIT_MAX) {
                        cr_assert(sr_codec_decode_reply(
                                          k->codec, v,
                                          &k->replies[k->n_replies], &ec) ==
                                          SR_OK,
                                  "%s", ec.msg);
                        k->n_replies++;
                }
                sr_kafka_topic_name(k->conf, SR_TOPIC_DLQ, name, sizeof(name));
                if (!strcmp(t, name) && k->n_dlq < KIT_MAX) {
                        kit_dlq_t *d = &k->dlq[k->n_dlq++];
                        char off[32];

                        kit_header(m, "sr_dlq_reason", d->reason,
                                   sizeof(d->reason));
                        kit_header(m, "sr_dlq_topic", d->topic,
                                   sizeof(d->topic));
                        kit_header(m, "sr_dlq_error", d->error,
                                   sizeof(d->error));
                        kit_header(m, "sr_dlq_offset", off, sizeof(off));
                        d->offset = atoll(off);
                        kit_header(m, "sr_dlq_partition", off, sizeof(off));
                        d->partition = atoi(off);
                        kit_header(m, "sr_dlq_value_bytes", d->value_bytes,
                                   sizeof(d->value_bytes));
                        d->len = m->len;
                }
                rd_kafka_message_destroy(m);
        }
}

/* Run the worker and the observer until @p done returns true. */
typedef bool (*kit_pred)(kit_t *k, void *arg);

static inline bool kit_pump_until(kit_t *k, kit_pred done, void *arg,
                                  int timeout_ms)
{
        int64_t end = kit_now_ms() + timeout_ms;
        sr_errctx_t ec = { 0 };

        while (kit_now_ms() < end) {
                if (k->w)
                        cr_assert(sr_worker_poll(k->w, &ec) == SR_OK, "%s",
                                  ec.msg);
                kit_drain(k, k->w ? 0 : 20);
                if (done && done(k, arg))
                        return true;
        }
        return done ? done(k, arg) : true;
}

static inline void kit_send(kit_t *k, sr_topic_kind_t topic,
                            const sr_uuid_t *run, sr_slice_t value)
{
        char key[SR_UUID_STR_LEN + 1];
        sr_outrec_t rec = { 0 };
        sr_errctx_t ec = { 0 };

        sr_uuid_fmt(run, key);
        rec.topic = topic;
        rec.partition = -1;
        rec.key = sr_slice(key, SR_UUID_STR_LEN);
        rec.value = value;
        rec.timestamp = kit_now_ms();
        cr_assert(sr_producer_send(k->prod, &rec, &ec) == SR_OK, "%s",
                  ec.msg);
        cr_assert(sr_producer_wait(k->prod, 10000, &ec) == SR_OK, "%s",
                  ec.msg);
}

static inline void kit_send_command(kit_t *k, const sr_command_t *cmd)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { 0 };

        cr_assert(sr_codec_encode_command(k->codec, cmd, &val, &ec) == SR_OK,
                  "%s", ec.msg);
        kit_send(k, SR_TOPIC_COMMANDS, &cmd->pipeline_run_id,
                 sr_buf_slice(&val));
        sr_buf_free(&val);
}

static inline void kit_send_result(kit_t *k, const sr_result_t *res)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { 0 };

        cr_assert(sr_codec_encode_result(k->codec, res, &val, &ec) == SR_OK,
                  "%s", ec.msg);
        kit_send(k, SR_TOPIC_RESULTS, &res->pipeline_run_id,
                 sr_buf_slice(&val));
        sr_buf_free(&val);
}

/* A spec of n_stages x n_ops x n_targets. Caller: sr_runspec_fini(). */
static inline void kit_spec(sr_runspec_t *spec, uint32_t n_stages,
                            uint32_t n_ops, uint32_t n_targets,
                            bool auto_promote)
{
        memset(spec, 0, sizeof(*spec));
        sr_uuid_v4(&spec->pipeline_id);
        snprintf(spec->pipeline_name, sizeof(spec->pipeline_name), "it");
        spec->auto_promote = auto_promote;
        spec->n_stages = n_stages;
        spec->stages = calloc(n_stages ? n_stages : 1, sizeof(*spec->stages));
        for (uint32_t i = 0; i < n_stages; i++) {
                sr_spec_stage_t *s = &spec->stages[i];

                snprintf(s->name, sizeof(s->name), "stage-%u", i + 1);
                s->n_ops = n_ops;
                s->ops = calloc(n_ops ? n_ops : 1, sizeof(*s->ops));
                for (uint32_t j = 0; j < n_ops; j++) {
                        snprintf(s->ops[j].operation_type,
                                 sizeof(s->ops[j].operation_type),
                                 j ? "REBOOT" : "INSTALL");
                        s->ops[j].args_json = strdup("{}");
                }
                s->n_targets = n_targets;
                s->targets = calloc(n_targets ? n_targets : 1,
                                    sizeof(*s->targets));
                for (uint32_t t = 0; t < n_targets; t++) {
                        sr_uuid_v4(&s->targets[t].device_id);
                        snprintf(s->targets[t].device_name,
                                 sizeof(s->targets[t].device_name),
                                 "dev-%u-%u", i, t);
                }
        }
}

static inline void kit_create(kit_t *k, const sr_uuid_t *run,
                              const sr_runspec_t *spec, sr_uuid_t *cmd_id)
{
        sr_command_t cmd;

        memset(&cmd, 0, sizeof(cmd));
        cmd.kind = SR_CMD_CREATE_RUN;
        sr_uuid_v4(&cmd.command_id);
        if (cmd_id)
                *cmd_id = cmd.command_id;
        cmd.pipeline_run_id = *run;
        snprintf(cmd.enterprise_id, sizeof(cmd.enterprise_id), "acme");
        cmd.issued_at = kit_now_ms();
        cmd.u.create.spec = *spec; /* borrowed for the encode */
        cmd.u.create.run_number = 1;
        kit_send_command(k, &cmd);
}

static inline void kit_set_status(kit_t *k, sr_cmd_kind_t kind,
                                  const sr_uuid_t *run, const sr_uuid_t *id,
                                  const char *status, sr_uuid_t *cmd_id)
{
        sr_command_t cmd;

        memset(&cmd, 0, sizeof(cmd));
        cmd.kind = kind;
        if (cmd_id && !sr_uuid_is_nil(cmd_id))
                cmd.command_id = *cmd_id;
        else
                sr_uuid_v4(&cmd.command_id);
        if (cmd_id)
                *cmd_id = cmd.command_id;
        cmd.pipeline_run_id = *run;
        snprintf(cmd.enterprise_id, sizeof(cmd.enterprise_id), "acme");
        cmd.issued_at = kit_now_ms();
        if (id)
                cmd.u.set.entity_id = *id;
        snprintf(cmd.u.set.status, sizeof(cmd.u.set.status), "%s", status);
        kit_send_command(k, &cmd);
}

/* The result a device would send for a dispatch request. */
static inline void kit_result_for(kit_t *k, const sr_dispatch_t *d,
                                  const char *status, sr_uuid_t *res_id)
{
        sr_result_t res;

        memset(&res, 0, sizeof(res));
        if (res_id && !sr_uuid_is_nil(res_id))
                res.result_id = *res_id;
        else
                sr_uuid_v4(&res.result_id);
        if (res_id)
                *res_id = res.result_id;
        res.pipeline_run_id = d->pipeline_run_id;
        res.stage_run_id = d->stage_run_id;
        res.target_run_id = d->target_run_id;
        res.command_id = d->command_id;
        snprintf(res.command_status, sizeof(res.command_status), "%s",
                 status);
        res.device_id = d->device_id;
        snprintf(res.device_name, sizeof(res.device_name), "%s",
                 d->device_name);
        res.reported_at = kit_now_ms();
        kit_send_result(k, &res);
}

/* Last known status of an entity from the events seen, SR_ST_NONE if none. */
static inline sr_status_t kit_status(const kit_t *k, const sr_uuid_t *id)
{
        sr_status_t st = SR_ST_NONE;
        uint64_t best = 0;

        for (int i = 0; i < k->n_events; i++)
                if (sr_uuid_eq(&k->events[i].entity_id, id) &&
                    k->events[i].seq >= best) {
                        best = k->events[i].seq;
                        st = k->events[i].to_status;
                }
        return st;
}

/* kit_pump_until() predicate: the entity's last known status is @p st. */
typedef struct kit_status_arg {
        sr_uuid_t id;
        sr_status_t st;
} kit_status_arg_t;

static inline bool kit_status_is(kit_t *k, void *arg)
{
        kit_status_arg_t *a = arg;

        return kit_status(k, &a->id) == a->st;
}

/* kit_pump_until() predicate: at least @p n device commands dispatched
 * for @p run. */
typedef struct kit_count_arg {
        const sr_uuid_t *run;
        int n;
} kit_count_arg_t;

static inline bool kit_dispatches_at_least(kit_t *k, void *arg)
{
        kit_count_arg_t *a = arg;
        int n = 0;

        for (int i = 0; i < k->n_dispatches; i++)
                n += sr_uuid_eq(&k->dispatches[i].pipeline_run_id, a->run) &&
                     k->dispatches[i].kind == SR_DISPATCH_COMMAND;
        return n >= a->n;
}

/* Stage run id of stage @p index of @p run, as the state machine derives. */
static inline sr_uuid_t kit_stage_id(const sr_uuid_t *run, unsigned index)
{
        char rid[SR_UUID_STR_LEN + 1];
        sr_uuid_t id;

        sr_uuid_fmt(run, rid);
        sr_uuid_v5(&id, &sr_ns, "%s/stage/%u", rid, index);
        return id;
}

/* Check a run's events: seq 1..n exactly once each (duplicates allowed
 * when identical). Returns n. */
static inline uint64_t kit_check_seq(const kit_t *k, const sr_uuid_t *run)
{
        uint64_t max = 0, n = 0;
        static sr_event_t first[KIT_MAX];
        static bool have[KIT_MAX];

        memset(have, 0, sizeof(have));
        for (int i = 0; i < k->n_events; i++) {
                const sr_event_t *ev = &k->events[i];

                if (!sr_uuid_eq(&ev->pipeline_run_id, run))
                        continue;
                cr_assert(ev->seq >= 1 && ev->seq < KIT_MAX);
                if (have[ev->seq]) {
                        cr_assert(memcmp(&first[ev->seq], ev, sizeof(*ev)) == 0,
                                  "seq %llu duplicated with other content",
                                  (unsigned long long)ev->seq);
                        continue;
                }
                have[ev->seq] = true;
                first[ev->seq] = *ev;
                n++;
                if (ev->seq > max)
                        max = ev->seq;
        }
        cr_assert(n == max, "seq gap: %llu distinct, max %llu",
                  (unsigned long long)n, (unsigned long long)max);
        return n;
}

/* The last reply received for command @p cmd, NULL when none yet; *seen:
 * how many came (NULL: not wanted). */
static inline const sr_reply_t *kit_reply_of(const kit_t *k,
                                             const sr_uuid_t *cmd, int *seen)
{
        const sr_reply_t *r = NULL;

        if (seen)
                *seen = 0;
        for (int i = 0; i < k->n_replies; i++)
                if (sr_uuid_eq(&k->replies[i].command_id, cmd)) {
                        r = &k->replies[i];
                        if (seen)
                                (*seen)++;
                }
        return r;
}

/* Every record of topic @p t so far, partition by partition, to @p cb. */
static inline void kit_read_topic(kit_t *k, sr_topic_kind_t t,
                                  sr_kafka_read_cb cb, void *arg)
{
        sr_errctx_t ec = { 0 };

        for (int32_t p = 0; p < k->parts; p++) {
                int64_t lo, hi;

                cr_assert(eq(int, sr_kafka_watermarks(k->conf, t, p, &lo,
                                                      &hi, 5000, &ec),
                             SR_OK), "%s", ec.msg);
                if (hi > 0)
                        cr_assert(eq(int, sr_kafka_read_partition(
                                                  k->conf, t, p, hi, cb, arg,
                                                  10000, &ec),
                                     SR_OK), "%s", ec.msg);
        }
}

#endif /* SR_TESTKIT_H */
