/* common/io/sr_kafka.c - the Kafka boundary: producer, group consumer, one-off
 * readers and the embedded mock cluster, on librdkafka.
 *
 * Every handle works on a rd_kafka_conf_dup() of the frozen conf->kafka,
 * logs through sr_log, and reports librdkafka's codes through kafka_err()
 * only. Callbacks (delivery reports, rebalances, errors) run inside our own
 * poll calls on the owning thread, except the log callback, which
 * librdkafka may call from its internal threads (sr_log is thread-safe).
 */
#include "sr_kafka.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <syslog.h>
#include <time.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "sr_log.h"
#include "sr_model.h"

#define TOPIC_NAME_MAX 256
#define ACKED_PARTITIONS_MAX 1024 /* partitions tracked per topic */

/* ------------------------------------------------------------ common */

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining_ms(int64_t deadline)
{
        int64_t left = deadline - now_ms();

        return left <= 0 ? 0 : left > 1000000000 ? 1000000000 : (int)left;
}

/* Our class of a librdkafka code: SR_ERR_RETRY (transient), SR_ERR_FATAL,
 * SR_ERR_TOO_LARGE (a record over a size limit), or SR_ERR_KAFKA
 * (permanent for the request or record at hand, e.g. INVALID_RECORD). */
static sr_err_t err_class(rd_kafka_resp_err_t err)
{
        switch (err) {
        case RD_KAFKA_RESP_ERR__TRANSPORT:
        case RD_KAFKA_RESP_ERR__TIMED_OUT:
        case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
        case RD_KAFKA_RESP_ERR__QUEUE_FULL:
        case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
        case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
        case RD_KAFKA_RESP_ERR__WAIT_COORD:
        case RD_KAFKA_RESP_ERR__RESOLVE:
        case RD_KAFKA_RESP_ERR__NODE_UPDATE:
        case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
        case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
        case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
        case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
        case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
        case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
        case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
        case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
        case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
        case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
        case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
        case RD_KAFKA_RESP_ERR__STATE:
                return SR_ERR_RETRY;
        case RD_KAFKA_RESP_ERR__FATAL: /* details: rd_kafka_fatal_error() */
                return SR_ERR_FATAL;
        case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
        case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
        case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
                return SR_ERR_TOO_LARGE;
        case RD_KAFKA_RESP_ERR_NO_ERROR: /* caller's bug; keep it visible */
        default:
                return SR_ERR_KAFKA;
        }
}

/* A delivery report's error that the same record meets again whatever
 * the broker's state: the record itself is refused. Any other failed
 * report is transient (the record is sent again). */
static bool record_refused(rd_kafka_resp_err_t err)
{
        switch (err) {
        case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
        case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
        case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
        case RD_KAFKA_RESP_ERR_INVALID_RECORD:
        case RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:
        case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
        case RD_KAFKA_RESP_ERR__INVALID_ARG:
                return true;
        default:
                return false;
        }
}

/* Boundary mapping, the only one: keep librdkafka's name and text (or the
 * more precise @p detail), return our class. */
static sr_err_t kafka_err(sr_errctx_t *ec, rd_kafka_resp_err_t err,
                          const char *op, const char *detail)
{
        sr_err_t code = err_class(err);

        return sr_errctx_set(ec, code, "kafka %s: %s: %s", op,
                             rd_kafka_err2name(err),
                             detail ? detail : rd_kafka_err2str(err));
}

/* Same, for the rich error object; consumes @p error. */
static sr_err_t kafka_error(sr_errctx_t *ec, rd_kafka_error_t *error,
                            const char *op)
{
        sr_err_t code = kafka_err(ec, rd_kafka_error_code(error), op,
                                  rd_kafka_error_string(error));

        if (rd_kafka_error_is_fatal(error))
                code = sr_errctx_set(ec, SR_ERR_FATAL, "kafka %s: fatal: %s",
                                     op, rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        return code;
}

/* A fatal error leaves the handle unusable; say why. */
static sr_err_t fatal_err(sr_errctx_t *ec, rd_kafka_t *rk, const char *op)
{
        char why[256];
        rd_kafka_resp_err_t err = rd_kafka_fatal_error(rk, why, sizeof(why));

        return sr_errctx_set(ec, SR_ERR_FATAL, "kafka %s: fatal: %s: %s", op,
                             rd_kafka_err2name(err), why);
}

/* One log pipeline: librdkafka's syslog-style levels mapped onto ours. */
static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                         const char *buf)
{
        sr_log_level_t lvl = level <= LOG_ERR     ? SR_LOG_ERROR :
                             level == LOG_WARNING ? SR_LOG_WARN :
                             level <= LOG_INFO    ? SR_LOG_INFO :
                                                    SR_LOG_DEBUG;

        /* One conf serves every handle type, so "consumer property ignored
         * by this producer" is expected, not worth a warning. */
        if (!strcmp(fac, "CONFWARN"))
                lvl = SR_LOG_DEBUG;
        SR_LOG(lvl, "KAFKA", "%s client=%s rdkafka_fac=%s", buf,
               rd_kafka_name(rk), fac);
}

/* The first member of every handle struct given to librdkafka as its
 * opaque (producers, group consumers, readers): where the error callback
 * notes librdkafka's "all brokers down". Error callbacks run inside the
 * handle's own poll calls, on the thread that owns the handle. */
typedef struct kafka_handle {
        bool all_down;       /* reported since the owner last looked */
        char all_down_why[160];
} kafka_handle_t;

/* Client-level errors (broker down, authentication, fatal). They are
 * informational: the client retries by itself, and fatal errors are
 * checked where they matter (rd_kafka_fatal_error()). */
static void kafka_error_cb(rd_kafka_t *rk, int err, const char *reason,
                           void *opaque)
{
        kafka_handle_t *h = opaque;

        if (h && err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
                h->all_down = true;
                snprintf(h->all_down_why, sizeof(h->all_down_why), "%s: %s",
                         rd_kafka_err2name((rd_kafka_resp_err_t)err),
                         reason ? reason : "");
        }
        if (err == RD_KAFKA_RESP_ERR__FATAL)
                SR_ERROR("KAFKA", "fatal client error: %s client=%s", reason,
                         rd_kafka_name(rk));
        else
                SR_WARN("KAFKA", "client error: %s client=%s err=%s", reason,
                        rd_kafka_name(rk),
                        rd_kafka_err2name((rd_kafka_resp_err_t)err));
}

static sr_err_t conf_put(rd_kafka_conf_t *kc, const char *name,
                         const char *value, sr_errctx_t *ec)
{
        char errstr[256];

        if (rd_kafka_conf_set(kc, name, value, errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK)
                return sr_errctx_set(ec, SR_ERR_CONF, "kafka conf %s=%s: %s",
                                     name, value, errstr);
        return SR_OK;
}

/* Our default for @p name, unless the user's conf already changed it from
 * librdkafka's own default. A value set by the user equal to librdkafka's
 * default is indistinguishable from "not set"; it then gets ours.
 * Topic-level keys (acks, partitioner) live in the default topic conf,
 * which exists only once some topic-level key was set. */
static sr_err_t conf_default(rd_kafka_conf_t *kc, const char *name,
                             const char *value, sr_errctx_t *ec)
{
        char cur[256] = "", def[256] = "";
        size_t cur_sz = sizeof(cur), def_sz = sizeof(def);
        rd_kafka_conf_t *pristine;
        rd_kafka_topic_conf_t *pristine_topic;
        rd_kafka_conf_res_t rd;

        if (rd_kafka_conf_get(kc, name, cur, &cur_sz) != RD_KAFKA_CONF_OK)
                return conf_put(kc, name, value, ec); /* no topic conf */
        pristine = rd_kafka_conf_new();
        pristine_topic = rd_kafka_topic_conf_new();
        rd = rd_kafka_conf_get(pristine, name, def, &def_sz);
        if (rd != RD_KAFKA_CONF_OK) {
                def_sz = sizeof(def);
                rd = rd_kafka_topic_conf_get(pristine_topic, name, def,
                                             &def_sz);
        }
        rd_kafka_topic_conf_destroy(pristine_topic);
        rd_kafka_conf_destroy(pristine);
        if (rd == RD_KAFKA_CONF_OK && !strcmp(cur, def))
                return conf_put(kc, name, value, ec);
        return SR_OK;
}

/* A private copy of the user's librdkafka conf with our callbacks. */
static rd_kafka_conf_t *conf_copy(const sr_conf_t *conf, void *opaque)
{
        rd_kafka_conf_t *kc = conf->kafka ? rd_kafka_conf_dup(conf->kafka) :
                                            rd_kafka_conf_new();

        if (!kc)
                return NULL;
        rd_kafka_conf_set_log_cb(kc, kafka_log_cb);
        rd_kafka_conf_set_error_cb(kc, kafka_error_cb);
        rd_kafka_conf_set_opaque(kc, opaque);
        return kc;
}

/* rd_kafka_new() takes @p kc only when it succeeds: free it otherwise. */
static sr_err_t handle_new(rd_kafka_type_t type, rd_kafka_conf_t *kc,
                           rd_kafka_t **rkp, sr_errctx_t *ec)
{
        char errstr[512];
        rd_kafka_t *rk = rd_kafka_new(type, kc, errstr, sizeof(errstr));

        if (!rk) {
                rd_kafka_conf_destroy(kc); /* still ours on failure */
                return sr_errctx_set(ec, SR_ERR_KAFKA, "kafka new %s: %s",
                                     type == RD_KAFKA_PRODUCER ? "producer" :
                                                                 "consumer",
                                     errstr);
        }
        *rkp = rk;
        return SR_OK;
}

void sr_kafka_topic_name(const sr_conf_t *conf, sr_topic_kind_t t, char *out,
                         size_t outsz)
{
        const char *suffix = sr_topic_suffix(t);

        snprintf(out, outsz, "%s%s", conf->topic_prefix ? conf->topic_prefix :
                                                          "",
                 suffix ? suffix : "unknown");
}

/* ------------------------------------------------------------ producer */

struct sr_producer {
        kafka_handle_t h; /* first: the librdkafka opaque */
        rd_kafka_t *rk;
        char names[SR_TOPIC__COUNT][TOPIC_NAME_MAX];
        uint64_t outstanding; /* sent, no delivery report yet */
        uint64_t failed;      /* failed reports since the last wait */
        uint64_t refused;     /* of which record_refused() */
        rd_kafka_resp_err_t last_err;
        int32_t last_err_partition;
        sr_topic_kind_t last_err_topic;
        int64_t acked[SR_TOPIC__COUNT][ACKED_PARTITIONS_MAX];
        bool txn; /* transactional.id set, transactions initialised */
};

/* Delivery reports run inside rd_kafka_poll()/flush() on our thread. The
 * topic kind travels as the message's opaque. */
static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m,
                      void *opaque)
{
        sr_producer_t *p = opaque;
        intptr_t t = (intptr_t)m->_private;

        (void)rk;
        if (p->outstanding)
                p->outstanding--;
        if (m->err) {
                p->failed++;
                /* A refusal is reported rather than a later transient
                 * failure of the same wait. */
                if (record_refused(m->err))
                        p->refused++;
                else if (p->refused)
                        return;
                p->last_err = m->err;
                p->last_err_partition = m->partition;
                p->last_err_topic = (sr_topic_kind_t)t;
                SR_DEBUG("KAFKA", "delivery failed: %s topic=%s partition=%d",
                         rd_kafka_err2str(m->err),
                         rd_kafka_topic_name(m->rkt), (int)m->partition);
                return;
        }
        if (t >= 0 && t < SR_TOPIC__COUNT && m->partition >= 0 &&
            m->partition < ACKED_PARTITIONS_MAX &&
            m->offset > p->acked[t][m->partition])
                p->acked[t][m->partition] = m->offset;
}

static sr_err_t producer_new(const sr_conf_t *conf, const char *client_id,
                             const char *txn_id, sr_producer_t **pp,
                             sr_errctx_t *ec)
{
        /* enable.idempotence: no duplicates or reordering from retries.
         * partitioner: murmur2 like the Java client, so every producer
         * (ours, Java, kcat -X partitioner=murmur2_random) agrees on where
         * a run's records go. allow.auto.create.topics=false: a typo in a
         * topic prefix fails instead of creating a topic with the wrong
         * partition count. */
        static const char *const defaults[][2] = {
                { "enable.idempotence", "true" },
                { "acks", "all" },
                { "linger.ms", "1" },
                { "partitioner", "murmur2_random" },
                { "allow.auto.create.topics", "false" },
        };
        rd_kafka_conf_t *kc = NULL;
        sr_producer_t *p;
        sr_err_t err;

        p = calloc(1, sizeof(*p));
        if (!p)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "kafka: calloc");
        for (int t = 0; t < SR_TOPIC__COUNT; t++) {
                sr_kafka_topic_name(conf, (sr_topic_kind_t)t, p->names[t],
                                    sizeof(p->names[t]));
                for (int i = 0; i < ACKED_PARTITIONS_MAX; i++)
                        p->acked[t][i] = -1;
        }
        kc = conf_copy(conf, p);
        if (!kc) {
                err = sr_errctx_set(ec, SR_ERR_NOMEM, "kafka: conf");
                goto err_free;
        }
        for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
                err = conf_default(kc, defaults[i][0], defaults[i][1], ec);
                if (err)
                        goto err_free;
        }
        if (client_id && (err = conf_put(kc, "client.id", client_id, ec)))
                goto err_free;
        if (txn_id) {
                /* A short transaction timeout: a worker that died mid-
                 * transaction holds back read_committed readers of its
                 * partitions (a restore among them) until it expires. */
                if ((err = conf_put(kc, "transactional.id", txn_id, ec)) ||
                    (err = conf_default(kc, "transaction.timeout.ms", "10000",
                                        ec)))
                        goto err_free;
        }
        rd_kafka_conf_set_dr_msg_cb(kc, dr_msg_cb);
        err = handle_new(RD_KAFKA_PRODUCER, kc, &p->rk, ec);
        kc = NULL; /* taken by rd_kafka_new() or freed by handle_new() */
        if (err)
                goto err_free;
        *pp = p;
        return SR_OK;

err_free:
        if (kc)
                rd_kafka_conf_destroy(kc);
        free(p);
        return err;
}

sr_err_t sr_producer_new(const sr_conf_t *conf, const char *client_id,
                         sr_producer_t **pp, sr_errctx_t *ec)
{
        return producer_new(conf, client_id, NULL, pp, ec);
}

/* A transactional call, repeated while its error is retriable (calling it
 * again resumes it), at most @p tries times. NULL: it succeeded. */
static rd_kafka_error_t *txn_call(rd_kafka_t *rk,
                                  rd_kafka_error_t *(*call)(rd_kafka_t *, int),
                                  const char *op, int timeout_ms, int tries)
{
        rd_kafka_error_t *error;

        for (int attempt = 1;; attempt++) {
                error = call(rk, timeout_ms);
                if (!error || !rd_kafka_error_is_retriable(error) ||
                    attempt >= tries)
                        return error;
                SR_WARN("KAFKA", "%s: %s, retrying attempt=%d", op,
                        rd_kafka_error_string(error), attempt);
                rd_kafka_error_destroy(error);
        }
}

/* After a transaction ended: serve the delivery reports it left, then
 * forget failures, which belong to an aborted transaction (a committed one
 * delivered every record) and must not make the caller redo anything. */
static void txn_reports_done(sr_producer_t *p, int wait_ms)
{
        (void)sr_producer_wait(p, wait_ms, NULL);
        p->failed = p->refused = 0;
        p->last_err = RD_KAFKA_RESP_ERR_NO_ERROR;
}

sr_err_t sr_producer_new_txn(const sr_conf_t *conf, const char *client_id,
                             const char *txn_id, int timeout_ms,
                             sr_producer_t **pp, sr_errctx_t *ec)
{
        rd_kafka_error_t *error;
        sr_producer_t *p;
        sr_err_t err;

        err = producer_new(conf, client_id, txn_id, &p, ec);
        if (err)
                return err;
        /* A broker that cannot be reached yet (restarting, or cut off):
         * give up after ten times timeout_ms. */
        error = txn_call(p->rk, rd_kafka_init_transactions,
                         "init_transactions", timeout_ms, 10);
        if (error) {
                err = kafka_error(ec, error, "init_transactions");
                sr_producer_destroy(p);
                return err;
        }
        p->txn = true;
        *pp = p;
        return SR_OK;
}

bool sr_producer_is_txn(const sr_producer_t *p)
{
        return p && p->txn;
}

sr_err_t sr_producer_txn_begin(sr_producer_t *p, sr_errctx_t *ec)
{
        rd_kafka_error_t *error = rd_kafka_begin_transaction(p->rk);

        return error ? kafka_error(ec, error, "begin_transaction") : SR_OK;
}

static rd_kafka_t *consumer_rk(struct sr_consumer *c);

/* An error of a transactional call: fatal, or abortable (abort now and
 * have the caller redo the transaction), or retriable as it is. */
static sr_err_t txn_error(sr_producer_t *p, rd_kafka_error_t *error,
                          const char *op, int timeout_ms, sr_errctx_t *ec)
{
        bool fatal = rd_kafka_error_is_fatal(error);
        sr_errctx_t aec = { 0 };

        (void)kafka_error(ec, error, op); /* destroys error */
        if (fatal)
                return SR_ERR_FATAL;
        /* Abortable, or retriable and still failing: abort, so that the
         * caller can redo the whole transaction. */
        if (sr_producer_txn_abort(p, timeout_ms, &aec) != SR_OK) {
                char first[sizeof(ec->msg)];

                memcpy(first, ec->msg, sizeof(first));
                return sr_errctx_set(ec, SR_ERR_FATAL, "%.200s; then %.200s",
                                     first, aec.msg);
        }
        ec->code = SR_ERR_RETRY;
        return SR_ERR_RETRY;
}

sr_err_t sr_producer_txn_offsets(sr_producer_t *p, struct sr_consumer *c,
                                 const sr_topic_kind_t *topics,
                                 const int32_t *parts, const int64_t *offsets,
                                 int n, int timeout_ms, sr_errctx_t *ec)
{
        rd_kafka_topic_partition_list_t *list;
        rd_kafka_consumer_group_metadata_t *md;
        rd_kafka_error_t *error;

        if (n <= 0)
                return SR_OK;
        list = rd_kafka_topic_partition_list_new(n);
        for (int i = 0; i < n; i++) {
                if ((unsigned)topics[i] >= SR_TOPIC__COUNT) {
                        rd_kafka_topic_partition_list_destroy(list);
                        return sr_errctx_set(ec, SR_ERR_INVALID,
                                             "kafka txn offsets: bad topic "
                                             "%d", (int)topics[i]);
                }
                rd_kafka_topic_partition_list_add(list, p->names[topics[i]],
                                                  parts[i])->offset =
                        offsets[i];
        }
        md = rd_kafka_consumer_group_metadata(consumer_rk(c));
        error = rd_kafka_send_offsets_to_transaction(p->rk, list, md,
                                                     timeout_ms);
        rd_kafka_consumer_group_metadata_destroy(md);
        rd_kafka_topic_partition_list_destroy(list);
        return error ? txn_error(p, error, "send_offsets_to_transaction",
                                 timeout_ms, ec) :
                       SR_OK;
}

sr_err_t sr_producer_txn_commit(sr_producer_t *p, int timeout_ms,
                                sr_errctx_t *ec)
{
        rd_kafka_error_t *error;

        error = txn_call(p->rk, rd_kafka_commit_transaction,
                         "commit_transaction", timeout_ms, 4);
        if (error)
                return txn_error(p, error, "commit_transaction", timeout_ms,
                                 ec);
        /* The acknowledged offsets; a late failure report of an earlier,
         * aborted transaction must not make the caller commit this one
         * twice. */
        txn_reports_done(p, timeout_ms);
        return SR_OK;
}

sr_err_t sr_producer_txn_abort(sr_producer_t *p, int timeout_ms,
                               sr_errctx_t *ec)
{
        rd_kafka_error_t *error;

        error = txn_call(p->rk, rd_kafka_abort_transaction,
                         "abort_transaction", timeout_ms, 4);
        if (error) {
                sr_errctx_t tmp = { 0 };

                (void)kafka_error(&tmp, error, "abort_transaction");
                return sr_errctx_set(ec, SR_ERR_FATAL, "%s", tmp.msg);
        }
        /* Aborted records fail their delivery reports; they come soon (the
         * queue was purged). */
        txn_reports_done(p, 1000);
        p->outstanding = 0;
        return SR_OK;
}

void sr_producer_destroy(sr_producer_t *p)
{
        rd_kafka_resp_err_t err;

        if (!p)
                return;
        err = rd_kafka_flush(p->rk, 10000);
        if (err)
                SR_WARN("KAFKA", "producer closed with records unsent: %s "
                        "outstanding=%" PRIu64, rd_kafka_err2str(err),
                        p->outstanding);
        rd_kafka_destroy(p->rk);
        free(p);
}

/* rd_kafka_headers_t from the record's; NULL when it has none. */
static sr_err_t make_headers(const sr_outrec_t *rec,
                             rd_kafka_headers_t **hdrsp, sr_errctx_t *ec)
{
        rd_kafka_headers_t *hdrs;
        rd_kafka_resp_err_t err;

        *hdrsp = NULL;
        if (rec->n_headers == 0)
                return SR_OK;
        if (rec->n_headers > SR_OUTREC_MAX_HEADERS)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "kafka send: %u headers, at most %d",
                                     rec->n_headers, SR_OUTREC_MAX_HEADERS);
        hdrs = rd_kafka_headers_new(rec->n_headers);
        for (uint32_t i = 0; i < rec->n_headers; i++) {
                const sr_outrec_header_t *h = &rec->headers[i];

                err = rd_kafka_header_add(hdrs, h->name, -1, h->value.ptr,
                                          h->value.ptr ?
                                                  (ssize_t)h->value.len : 0);
                if (err) {
                        rd_kafka_headers_destroy(hdrs);
                        return kafka_err(ec, err, "send: header", NULL);
                }
        }
        *hdrsp = hdrs;
        return SR_OK;
}

sr_err_t sr_producer_send(sr_producer_t *p, const sr_outrec_t *rec,
                          sr_errctx_t *ec)
{
        rd_kafka_vu_t vus[8];
        rd_kafka_headers_t *hdrs;
        rd_kafka_error_t *error;
        size_t n = 0;
        sr_err_t err;

        if ((unsigned)rec->topic >= SR_TOPIC__COUNT || rec->partition < -1)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "kafka send: bad topic %d or partition "
                                     "%d", (int)rec->topic,
                                     (int)rec->partition);
        err = make_headers(rec, &hdrs, ec);
        if (err)
                return err;

        vus[n].vtype = RD_KAFKA_VTYPE_TOPIC;
        vus[n++].u.cstr = p->names[rec->topic];
        vus[n].vtype = RD_KAFKA_VTYPE_PARTITION;
        vus[n++].u.i32 = rec->partition < 0 ? RD_KAFKA_PARTITION_UA :
                                              rec->partition;
        vus[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
        vus[n++].u.i = RD_KAFKA_MSG_F_COPY;
        vus[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
        vus[n++].u.ptr = (void *)(intptr_t)rec->topic;
        if (rec->key.ptr) {
                vus[n].vtype = RD_KAFKA_VTYPE_KEY;
                vus[n].u.mem.ptr = (void *)rec->key.ptr;
                vus[n++].u.mem.size = rec->key.len;
        }
        vus[n].vtype = RD_KAFKA_VTYPE_VALUE; /* NULL ptr: a tombstone */
        vus[n].u.mem.ptr = (void *)rec->value.ptr;
        vus[n++].u.mem.size = rec->value.ptr ? rec->value.len : 0;
        if (rec->timestamp > 0) {
                vus[n].vtype = RD_KAFKA_VTYPE_TIMESTAMP;
                vus[n++].u.i64 = rec->timestamp;
        }
        if (hdrs) {
                vus[n].vtype = RD_KAFKA_VTYPE_HEADERS;
                vus[n++].u.headers = hdrs;
        }

        /* A full local queue is back-pressure: serve delivery reports until
         * there is room. On any failure the headers stay ours. */
        while ((error = rd_kafka_produceva(p->rk, vus, n)) &&
               rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_error_destroy(error);
                if (rd_kafka_fatal_error(p->rk, NULL, 0)) {
                        rd_kafka_headers_destroy(hdrs);
                        return fatal_err(ec, p->rk, "send");
                }
                rd_kafka_poll(p->rk, 100);
        }
        if (error) {
                if (hdrs)
                        rd_kafka_headers_destroy(hdrs);
                err = kafka_error(ec, error, "send");
                sr_errctx_prefix(ec, "topic %s partition %d",
                                 p->names[rec->topic], (int)rec->partition);
                return err;
        }
        p->outstanding++;
        return SR_OK;
}

sr_err_t sr_producer_wait(sr_producer_t *p, int timeout_ms, sr_errctx_t *ec)
{
        int64_t deadline = now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
        uint64_t failed, refused;
        int left;

        rd_kafka_poll(p->rk, 0);
        while (p->outstanding > 0 && !rd_kafka_fatal_error(p->rk, NULL, 0) &&
               (left = remaining_ms(deadline)) > 0)
                rd_kafka_poll(p->rk, left < 100 ? left : 100);

        failed = p->failed;
        refused = p->refused;
        p->failed = p->refused = 0;
        if (rd_kafka_fatal_error(p->rk, NULL, 0))
                return fatal_err(ec, p->rk, "producer");
        if (failed) {
                sr_err_t code = refused ? err_class(p->last_err) :
                                          SR_ERR_RETRY;

                sr_errctx_set(ec, code,
                              "kafka produce: %" PRIu64 " record(s) failed, "
                              "last: %s: %s (topic %s partition %d)", failed,
                              rd_kafka_err2name(p->last_err),
                              rd_kafka_err2str(p->last_err),
                              p->names[p->last_err_topic],
                              (int)p->last_err_partition);
                p->last_err = RD_KAFKA_RESP_ERR_NO_ERROR;
                return code;
        }
        if (p->outstanding)
                return sr_errctx_set(ec, SR_ERR_RETRY,
                                     "kafka produce: timed out after %d ms "
                                     "with %" PRIu64 " record(s) "
                                     "unacknowledged", timeout_ms,
                                     p->outstanding);
        return SR_OK;
}

int64_t sr_producer_acked_offset(const sr_producer_t *p, sr_topic_kind_t t,
                                 int32_t partition)
{
        if ((unsigned)t >= SR_TOPIC__COUNT || partition < 0 ||
            partition >= ACKED_PARTITIONS_MAX)
                return -1;
        return p->acked[t][partition];
}

void sr_producer_poll(sr_producer_t *p)
{
        rd_kafka_poll(p->rk, 0);
}

uint64_t sr_producer_outstanding(const sr_producer_t *p)
{
        return p->outstanding;
}

/* ------------------------------------------------------------ consumer */

struct sr_consumer {
        kafka_handle_t h; /* first: the librdkafka opaque */
        rd_kafka_t *rk;
        int n_topics;
        sr_topic_kind_t topics[SR_TOPIC__COUNT];
        char names[SR_TOPIC__COUNT][TOPIC_NAME_MAX]; /* by sr_topic_kind_t */
        bool have_hooks;
        sr_consumer_hooks_t hooks;
        rd_kafka_message_t **held; /* records of the last poll */
        int n_held, cap_held;
};

static rd_kafka_t *consumer_rk(struct sr_consumer *c)
{
        return c->rk;
}

static int topic_kind_of(const sr_consumer_t *c, const char *name)
{
        for (int i = 0; i < c->n_topics; i++)
                if (!strcmp(c->names[c->topics[i]], name))
                        return (int)c->topics[i];
        return -1;
}

/* Column of a topic in on_assign's [n][2] table: commands 0, results 1;
 * other topics by their place in the subscription. -1: none. */
static int hook_column(const sr_consumer_t *c, int kind)
{
        if (kind == SR_TOPIC_COMMANDS)
                return 0;
        if (kind == SR_TOPIC_RESULTS)
                return 1;
        for (int i = 0; i < c->n_topics && i < 2; i++)
                if ((int)c->topics[i] == kind)
                        return i;
        return -1;
}

static int cmp_i32(const void *a, const void *b)
{
        int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

        return (x > y) - (x < y);
}

/* The distinct partition numbers of @p list, sorted, into @p parts. */
static int distinct_partitions(const rd_kafka_topic_partition_list_t *list,
                               int32_t *parts)
{
        int n = 0;

        for (int i = 0; i < list->cnt; i++)
                parts[i] = list->elems[i].partition;
        qsort(parts, (size_t)list->cnt, sizeof(*parts), cmp_i32);
        for (int i = 0; i < list->cnt; i++)
                if (n == 0 || parts[n - 1] != parts[i])
                        parts[n++] = parts[i];
        return n;
}

static void apply_assignment(sr_consumer_t *c,
                             rd_kafka_topic_partition_list_t *list,
                             bool assign)
{
        rd_kafka_error_t *error = NULL;
        rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
        bool cooperative =
                !strcmp(rd_kafka_rebalance_protocol(c->rk), "COOPERATIVE");

        if (cooperative && !list)
                return;
        if (cooperative)
                error = assign ? rd_kafka_incremental_assign(c->rk, list) :
                                 rd_kafka_incremental_unassign(c->rk, list);
        else
                err = rd_kafka_assign(c->rk, assign ? list : NULL);
        if (error) {
                SR_ERROR("KAFKA", "%s failed: %s", assign ? "assign" :
                                                           "unassign",
                         rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        } else if (err) {
                SR_ERROR("KAFKA", "%s failed: %s", assign ? "assign" :
                                                           "unassign",
                         rd_kafka_err2str(err));
        }
}

static void on_assign(sr_consumer_t *c, rd_kafka_topic_partition_list_t *list)
{
        int32_t *parts;
        int64_t *starts;
        int n;

        if (!c->have_hooks || !c->hooks.on_assign || list->cnt == 0) {
                apply_assignment(c, list, true);
                return;
        }
        parts = malloc((size_t)list->cnt * sizeof(*parts));
        starts = malloc((size_t)list->cnt * 2 * sizeof(*starts));
        if (!parts || !starts) {
                /* Without memory we cannot ask the owner; assign from the
                 * committed offsets, which is always safe here. */
                SR_ERROR("KAFKA", "assign: out of memory, using committed "
                         "offsets");
                free(parts);
                free(starts);
                apply_assignment(c, list, true);
                return;
        }
        n = distinct_partitions(list, parts);
        for (int i = 0; i < n * 2; i++)
                starts[i] = -1;
        c->hooks.on_assign(c->hooks.arg, parts, n, starts);
        for (int i = 0; i < list->cnt; i++) {
                rd_kafka_topic_partition_t *tp = &list->elems[i];
                int col = hook_column(c, topic_kind_of(c, tp->topic));
                int32_t *hit = bsearch(&tp->partition, parts, (size_t)n,
                                       sizeof(*parts), cmp_i32);
                int64_t start = -1;

                if (col >= 0 && hit)
                        start = starts[(hit - parts) * 2 + col];
                tp->offset = start < 0 ? RD_KAFKA_OFFSET_INVALID : start;
        }
        free(parts);
        free(starts);
        apply_assignment(c, list, true);
}

static void on_revoke(sr_consumer_t *c, rd_kafka_topic_partition_list_t *list)
{
        int32_t *parts;
        int n;

        if (c->have_hooks && c->hooks.on_revoke && list->cnt > 0) {
                parts = malloc((size_t)list->cnt * sizeof(*parts));
                if (parts) {
                        n = distinct_partitions(list, parts);
                        c->hooks.on_revoke(c->hooks.arg, parts, n);
                        free(parts);
                } else {
                        SR_ERROR("KAFKA", "revoke: out of memory, hooks not "
                                 "called");
                }
        }
        apply_assignment(c, list, false);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *list, void *opaque)
{
        sr_consumer_t *c = opaque;

        (void)rk;
        SR_INFO("KAFKA", "rebalance: %s partitions=%d",
                err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? "assign" :
                err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS ? "revoke" :
                                                              "error",
                list ? list->cnt : 0);
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                on_assign(c, list);
        } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
                on_revoke(c, list);
        } else {
                SR_ERROR("KAFKA", "rebalance error: %s", rd_kafka_err2str(err));
                apply_assignment(c, list, false);
        }
}

sr_err_t sr_consumer_new(const sr_conf_t *conf, const char *group_id,
                         const sr_topic_kind_t *topics, int n_topics,
                         const sr_consumer_hooks_t *hooks,
                         sr_consumer_t **cp, sr_errctx_t *ec)
{
        /* Forced: the worker commits itself after its outbox is relayed,
         * and range assignment keeps partition i of every subscribed topic
         * on the same member (co-partitioning). */
        const char *const forced[][2] = {
                { "group.id", group_id ? group_id : conf->group_id },
                { "enable.auto.commit", "false" },
                { "auto.offset.reset", "earliest" },
                { "partition.assignment.strategy", "range" },
        };
        rd_kafka_topic_partition_list_t *subs = NULL;
        rd_kafka_conf_t *kc;
        rd_kafka_resp_err_t kerr;
        sr_consumer_t *c;
        sr_err_t err;

        if (n_topics < 1 || n_topics > SR_TOPIC__COUNT || !forced[0][1])
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "kafka consumer: need 1..%d topics and "
                                     "a group id", SR_TOPIC__COUNT);
        c = calloc(1, sizeof(*c));
        if (!c)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "kafka: calloc");
        c->n_topics = n_topics;
        for (int i = 0; i < n_topics; i++) {
                if ((unsigned)topics[i] >= SR_TOPIC__COUNT) {
                        free(c);
                        return sr_errctx_set(ec, SR_ERR_INVALID,
                                             "kafka consumer: bad topic %d",
                                             (int)topics[i]);
                }
                c->topics[i] = topics[i];
        }
        for (int t = 0; t < SR_TOPIC__COUNT; t++)
                sr_kafka_topic_name(conf, (sr_topic_kind_t)t, c->names[t],
                                    sizeof(c->names[t]));
        if (hooks) {
                c->have_hooks = true;
                c->hooks = *hooks;
        }
        kc = conf_copy(conf, c);
        if (!kc) {
                free(c);
                return sr_errctx_set(ec, SR_ERR_NOMEM, "kafka: conf");
        }
        for (size_t i = 0; i < sizeof(forced) / sizeof(forced[0]); i++) {
                err = conf_put(kc, forced[i][0], forced[i][1], ec);
                if (err) {
                        rd_kafka_conf_destroy(kc);
                        free(c);
                        return err;
                }
        }
        if (conf->worker_name && conf->worker_name[0])
                conf_put(kc, "client.id", conf->worker_name, NULL);
        rd_kafka_conf_set_rebalance_cb(kc, rebalance_cb);
        err = handle_new(RD_KAFKA_CONSUMER, kc, &c->rk, ec);
        if (err) {
                free(c);
                return err;
        }
        rd_kafka_poll_set_consumer(c->rk);

        subs = rd_kafka_topic_partition_list_new(n_topics);
        for (int i = 0; i < n_topics; i++)
                rd_kafka_topic_partition_list_add(subs, c->names[topics[i]],
                                                  RD_KAFKA_PARTITION_UA);
        kerr = rd_kafka_subscribe(c->rk, subs);
        rd_kafka_topic_partition_list_destroy(subs);
        if (kerr) {
                err = kafka_err(ec, kerr, "subscribe", NULL);
                rd_kafka_destroy(c->rk);
                free(c);
                return err;
        }
        *cp = c;
        return SR_OK;
}

static void release_held(sr_consumer_t *c)
{
        for (int i = 0; i < c->n_held; i++)
                rd_kafka_message_destroy(c->held[i]);
        c->n_held = 0;
}

void sr_consumer_destroy(sr_consumer_t *c)
{
        rd_kafka_resp_err_t err;

        if (!c)
                return;
        release_held(c);
        free(c->held);
        /* Leaving the group runs the revoke hook one last time. */
        err = rd_kafka_consumer_close(c->rk);
        if (err)
                SR_WARN("KAFKA", "consumer close: %s", rd_kafka_err2str(err));
        rd_kafka_destroy(c->rk);
        free(c);
}

static void fill_inrec(sr_inrec_t *rec, const rd_kafka_message_t *m, int kind)
{
        rd_kafka_timestamp_type_t tstype;
        int64_t ts = rd_kafka_message_timestamp(m, &tstype);

        rec->topic = (sr_topic_kind_t)kind;
        rec->partition = m->partition;
        rec->offset = m->offset;
        rec->timestamp = ts < 0 ? 0 : ts;
        rec->key = sr_slice(m->key, m->key ? m->key_len : 0);
        rec->value = sr_slice(m->payload, m->payload ? m->len : 0);
        rec->msg = m;
}

sr_err_t sr_consumer_poll(sr_consumer_t *c, sr_inrec_t *out, int max,
                          int *n, int timeout_ms, sr_errctx_t *ec)
{
        int64_t deadline = now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
        rd_kafka_message_t *m;
        int got = 0, kind;

        release_held(c);
        if (max > c->cap_held) {
                rd_kafka_message_t **held =
                        realloc(c->held, (size_t)max * sizeof(*held));

                if (!held)
                        return sr_errctx_set(ec, SR_ERR_NOMEM,
                                             "kafka poll: realloc");
                c->held = held;
                c->cap_held = max;
        }
        while (got < max) {
                /* Wait for the first record only; then take what is
                 * already there. */
                m = rd_kafka_consumer_poll(c->rk,
                                           got ? 0 : remaining_ms(deadline));
                if (!m) {
                        if (got || remaining_ms(deadline) == 0)
                                break;
                        continue;
                }
                if (m->err) {
                        rd_kafka_resp_err_t e = m->err;

                        if (e != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                SR_WARN("KAFKA", "consume: %s topic=%s "
                                        "partition=%d err=%s",
                                        rd_kafka_message_errstr(m),
                                        m->rkt ? rd_kafka_topic_name(m->rkt) :
                                                 "-",
                                        (int)m->partition,
                                        rd_kafka_err2name(e));
                        rd_kafka_message_destroy(m);
                        if (rd_kafka_fatal_error(c->rk, NULL, 0) ||
                            e == RD_KAFKA_RESP_ERR__FATAL)
                                return fatal_err(ec, c->rk, "consume");
                        continue;
                }
                kind = topic_kind_of(c, rd_kafka_topic_name(m->rkt));
                if (kind < 0) { /* not ours: cannot happen with subscribe */
                        rd_kafka_message_destroy(m);
                        continue;
                }
                c->held[c->n_held++] = m;
                fill_inrec(&out[got++], m, kind);
        }
        *n = got;
        return SR_OK;
}

sr_err_t sr_consumer_commit(sr_consumer_t *c, const sr_topic_kind_t *topics,
                            const int32_t *parts, const int64_t *offsets,
                            int n, sr_errctx_t *ec)
{
        rd_kafka_topic_partition_list_t *list;
        rd_kafka_resp_err_t kerr;
        sr_err_t err = SR_OK;

        if (n <= 0)
                return SR_OK;
        list = rd_kafka_topic_partition_list_new(n);
        for (int i = 0; i < n; i++) {
                if ((unsigned)topics[i] >= SR_TOPIC__COUNT) {
                        rd_kafka_topic_partition_list_destroy(list);
                        return sr_errctx_set(ec, SR_ERR_INVALID,
                                             "kafka commit: bad topic %d",
                                             (int)topics[i]);
                }
                rd_kafka_topic_partition_list_add(list, c->names[topics[i]],
                                                  parts[i])->offset =
                        offsets[i];
        }
        /* Asynchronous: offsets only speed up a restart (the snapshot and
         * the changelog markers are authoritative), and a synchronous
         * commit waits forever for a coordinator that is gone. */
        kerr = rd_kafka_commit(c->rk, list, 1);
        if (kerr) {
                err = kafka_err(ec, kerr, "commit", NULL);
        } else {
                for (int i = 0; i < list->cnt; i++) {
                        if (!list->elems[i].err)
                                continue;
                        err = kafka_err(ec, list->elems[i].err, "commit",
                                        NULL);
                        sr_errctx_prefix(ec, "%s [%d]", list->elems[i].topic,
                                         (int)list->elems[i].partition);
                        break;
                }
        }
        rd_kafka_topic_partition_list_destroy(list);
        return err;
}

/* A metadata request (the topics the handle knows): a broker answered. */
static sr_err_t metadata_ping(rd_kafka_t *rk, int timeout_ms, sr_errctx_t *ec)
{
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err;

        err = rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms);
        if (md)
                rd_kafka_metadata_destroy(md);
        if (err)
                return kafka_err(ec, err, "metadata", NULL) == SR_ERR_FATAL ?
                               SR_ERR_FATAL :
                               SR_ERR_RETRY;
        return SR_OK;
}

sr_err_t sr_consumer_ping(sr_consumer_t *c, int timeout_ms, sr_errctx_t *ec)
{
        return metadata_ping(c->rk, timeout_ms, ec);
}

int64_t sr_consumer_lag(sr_consumer_t *c)
{
        rd_kafka_topic_partition_list_t *list = NULL;
        int64_t sum = 0, low, high;

        if (rd_kafka_assignment(c->rk, &list))
                return -1;
        if (rd_kafka_position(c->rk, list)) {
                rd_kafka_topic_partition_list_destroy(list);
                return -1;
        }
        for (int i = 0; i < list->cnt && sum >= 0; i++) {
                rd_kafka_topic_partition_t *tp = &list->elems[i];

                /* Cached values from fetch responses: no broker call. A
                 * partition with nothing consumed yet has no position; it
                 * has no lag only if it is empty. */
                if (rd_kafka_get_watermark_offsets(c->rk, tp->topic,
                                                   tp->partition, &low,
                                                   &high) ||
                    high < 0)
                        sum = -1;
                else if (tp->offset >= 0)
                        sum += high > tp->offset ? high - tp->offset : 0;
                else if (low < 0 || high != low)
                        sum = -1;
        }
        rd_kafka_topic_partition_list_destroy(list);
        return sum;
}

bool sr_inrec_header(const sr_inrec_t *rec, const char *name,
                     sr_slice_t *value)
{
        rd_kafka_headers_t *hdrs;
        const void *val;
        size_t size;

        if (!rec->msg ||
            rd_kafka_message_headers((rd_kafka_message_t *)rec->msg, &hdrs) ||
            rd_kafka_header_get_last(hdrs, name, &val, &size))
                return false;
        *value = sr_slice(val, val ? size : 0);
        return true;
}

/* ------------------------------------------------------------ reading */

/* @p isolation NULL: the conf's (read_committed unless set otherwise: the
 * high end is then the last stable offset). */
static sr_err_t watermarks(const sr_conf_t *conf, sr_topic_kind_t topic,
                           int32_t partition, const char *isolation,
                           int64_t *low, int64_t *high, int timeout_ms,
                           sr_errctx_t *ec)
{
        char name[TOPIC_NAME_MAX];
        rd_kafka_conf_t *kc;
        rd_kafka_resp_err_t kerr;
        rd_kafka_t *rk = NULL;
        int64_t lo, hi;
        sr_err_t err;

        sr_kafka_topic_name(conf, topic, name, sizeof(name));
        kc = conf_copy(conf, NULL);
        if (!kc)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "kafka: conf");
        if (isolation && (err = conf_put(kc, "isolation.level", isolation,
                                         ec))) {
                rd_kafka_conf_destroy(kc);
                return err;
        }
        err = handle_new(RD_KAFKA_CONSUMER, kc, &rk, ec);
        if (err)
                return err;
        kerr = rd_kafka_query_watermark_offsets(rk, name, partition, &lo, &hi,
                                                timeout_ms);
        rd_kafka_destroy(rk);
        if (kerr) {
                err = kafka_err(ec, kerr, "watermarks", NULL);
                sr_errctx_prefix(ec, "%s [%d]", name, (int)partition);
                return err;
        }
        *low = lo;
        *high = hi;
        return SR_OK;
}

sr_err_t sr_kafka_watermarks(const sr_conf_t *conf, sr_topic_kind_t topic,
                             int32_t partition, int64_t *low, int64_t *high,
                             int timeout_ms, sr_errctx_t *ec)
{
        return watermarks(conf, topic, partition, NULL, low, high, timeout_ms,
                          ec);
}

sr_err_t sr_kafka_wait_stable(const sr_conf_t *conf, sr_topic_kind_t topic,
                              int32_t partition, int timeout_ms,
                              sr_errctx_t *ec)
{
        int64_t deadline = now_ms() + timeout_ms, lo, hw, lso;
        sr_err_t err;

        for (;;) {
                err = watermarks(conf, topic, partition, "read_uncommitted",
                                 &lo, &hw, 10000, ec);
                if (!err)
                        err = watermarks(conf, topic, partition,
                                         "read_committed", &lo, &lso, 10000,
                                         ec);
                if (err)
                        return err;
                if (lso >= hw)
                        return SR_OK;
                if (now_ms() > deadline)
                        return sr_errctx_set(ec, SR_ERR_RETRY,
                                             "kafka: %s partition %d: a "
                                             "transaction is still open "
                                             "(stable offset %" PRId64
                                             ", end %" PRId64 ")",
                                             sr_topic_suffix(topic),
                                             (int)partition, lso, hw);
                usleep(100 * 1000);
        }
}

/* Learn the topic's leaders before assigning: assigned without them, the
 * consumer retries its first offset lookup only after ~500 ms. Failure is
 * harmless (the consumer finds them itself, later). */
static void warm_metadata(rd_kafka_t *rk, const char *name)
{
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, name, NULL);

        if (!rkt)
                return;
        if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) ==
            RD_KAFKA_RESP_ERR_NO_ERROR)
                rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
}

static sr_err_t reader_new(const sr_conf_t *conf, const char *name,
                           int32_t partition, rd_kafka_t **rkp,
                           sr_errctx_t *ec)
{
        /* rd_kafka_assign() needs a group, not a membership: a random,
         * never-joined group id keeps readers from touching real groups. */
        char group[64], id[SR_UUID_STR_LEN + 1];
        rd_kafka_topic_partition_list_t *list;
        rd_kafka_resp_err_t kerr;
        rd_kafka_conf_t *kc;
        sr_uuid_t u;
        sr_err_t err;

        sr_uuid_v4(&u);
        sr_uuid_fmt(&u, id);
        snprintf(group, sizeof(group), "sr-reader-%s", id);
        kc = conf_copy(conf, NULL);
        if (!kc)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "kafka: conf");
        if ((err = conf_put(kc, "group.id", group, ec)) ||
            (err = conf_put(kc, "enable.auto.commit", "false", ec)) ||
            (err = conf_put(kc, "enable.auto.offset.store", "false", ec)) ||
            (err = conf_put(kc, "enable.partition.eof", "true", ec)) ||
            (err = conf_put(kc, "auto.offset.reset", "earliest", ec)) ||
            /* A reader's first fetch can meet a transient error (its
             * partition just assigned); the default 500 ms back-off then
             * stalled a restore for half a second. */
            (err = conf_default(kc, "fetch.error.backoff.ms", "20", ec))) {
                rd_kafka_conf_destroy(kc);
                return err;
        }
        err = handle_new(RD_KAFKA_CONSUMER, kc, rkp, ec);
        if (err)
                return err;
        rd_kafka_poll_set_consumer(*rkp);
        warm_metadata(*rkp, name);
        list = rd_kafka_topic_partition_list_new(1);
        /* Offset 0, not BEGINNING: no offset lookup before the first fetch
         * (one that meets a leader not connected yet is retried only after
         * 500 ms). A log that no longer starts at 0 answers out of range,
         * and auto.offset.reset=earliest takes over. */
        rd_kafka_topic_partition_list_add(list, name, partition)->offset = 0;
        kerr = rd_kafka_assign(*rkp, list);
        rd_kafka_topic_partition_list_destroy(list);
        if (kerr) {
                rd_kafka_destroy(*rkp);
                return kafka_err(ec, kerr, "assign", NULL);
        }
        return SR_OK;
}

sr_err_t sr_kafka_read_partition(const sr_conf_t *conf, sr_topic_kind_t topic,
                                 int32_t partition, int64_t end_offset,
                                 sr_kafka_read_cb cb, void *arg,
                                 int timeout_ms, sr_errctx_t *ec)
{
        int64_t deadline = now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
        int64_t last = -1;
        char name[TOPIC_NAME_MAX];
        rd_kafka_message_t *m;
        rd_kafka_t *rk = NULL;
        sr_inrec_t rec;
        sr_err_t err;
        bool done = false;

        if (end_offset <= 0)
                return SR_OK;
        sr_kafka_topic_name(conf, topic, name, sizeof(name));
        err = reader_new(conf, name, partition, &rk, ec);
        if (err)
                return err;
        while (!done) {
                int left = remaining_ms(deadline);

                if (left == 0) {
                        err = sr_errctx_set(ec, SR_ERR_RETRY,
                                            "kafka read %s [%d]: timed out "
                                            "after %d ms at offset %" PRId64
                                            " of %" PRId64, name,
                                            (int)partition, timeout_ms, last,
                                            end_offset);
                        break;
                }
                m = rd_kafka_consumer_poll(rk, left < 100 ? left : 100);
                if (!m)
                        continue;
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        /* Compaction may have removed the record at
                         * end_offset - 1: the end of the log says enough. */
                        done = m->offset >= end_offset;
                } else if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
                           m->err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
                           m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
                        err = kafka_err(ec, m->err, "read",
                                        rd_kafka_message_errstr(m));
                        sr_errctx_prefix(ec, "%s [%d]", name, (int)partition);
                        done = true;
                } else if (m->err) {
                        SR_WARN("KAFKA", "read: %s topic=%s partition=%d",
                                rd_kafka_message_errstr(m), name,
                                (int)partition);
                        if (rd_kafka_fatal_error(rk, NULL, 0)) {
                                err = fatal_err(ec, rk, "read");
                                done = true;
                        }
                } else if (m->offset >= end_offset) {
                        done = true;
                } else {
                        fill_inrec(&rec, m, (int)topic);
                        last = m->offset;
                        if (cb(&rec, arg)) {
                                err = sr_errctx_set(ec, SR_ERR_INVALID,
                                                    "kafka read %s [%d]: "
                                                    "stopped by callback at "
                                                    "offset %" PRId64, name,
                                                    (int)partition, last);
                                done = true;
                        } else {
                                done = last >= end_offset - 1;
                        }
                }
                rd_kafka_message_destroy(m);
        }
        /* A reader never joined its group and commits nothing: closing
         * the consumer would only wait on the group coordinator. */
        rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
        return err;
}

/* ------------------------------------------------------------ mock */

struct sr_mock {
        rd_kafka_t *owner;
        rd_kafka_mock_cluster_t *mc;
};

sr_err_t sr_mock_new(const sr_conf_t *conf, int brokers, int partitions,
                     sr_mock_t **mp, sr_errctx_t *ec)
{
        char name[TOPIC_NAME_MAX];
        rd_kafka_conf_t *kc;
        rd_kafka_resp_err_t kerr;
        sr_mock_t *m;
        sr_err_t err;

        if (brokers < 1 || partitions < 1 || partitions > ACKED_PARTITIONS_MAX)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "mock: need >= 1 broker and 1..%d "
                                     "partitions", ACKED_PARTITIONS_MAX);
        m = calloc(1, sizeof(*m));
        if (!m)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "mock: calloc");
        /* The owner handle only hosts the cluster's thread: it gets a fresh
         * conf, not the user's (which may point at the mock itself). */
        kc = rd_kafka_conf_new();
        rd_kafka_conf_set_log_cb(kc, kafka_log_cb);
        /* The mock's accepted sockets take this handle's socket options:
         * without TCP_NODELAY a response written while the previous one is
         * unacknowledged waits for the client's delayed ACK (40 ms). */
        if (rd_kafka_conf_set(kc, "socket.nagle.disable", "true", NULL, 0) !=
            RD_KAFKA_CONF_OK)
                SR_WARN("KAFKA", "mock: socket.nagle.disable refused");
        err = handle_new(RD_KAFKA_PRODUCER, kc, &m->owner, ec);
        if (err)
                goto err_free;
        m->mc = rd_kafka_mock_cluster_new(m->owner, brokers);
        if (!m->mc) {
                err = sr_errctx_set(ec, SR_ERR_KAFKA,
                                    "mock: cannot start cluster");
                goto err_destroy_owner;
        }
        /* Metadata v4 carries AllowAutoTopicCreation; at v2 (the 2.0.2
         * mock's default maximum) the mock creates any topic asked for. */
        kerr = rd_kafka_mock_set_apiversion(m->mc, 3 /* Metadata */, 0, 4);
        if (kerr)
                SR_WARN("KAFKA", "mock: Metadata v4: %s",
                        rd_kafka_err2str(kerr));
        /* The mock has no CreateTopics: topics are made here, in-process. */
        for (int t = 0; t < SR_TOPIC__COUNT; t++) {
                sr_kafka_topic_name(conf, (sr_topic_kind_t)t, name,
                                    sizeof(name));
                kerr = rd_kafka_mock_topic_create(m->mc, name, partitions, 1);
                if (kerr) {
                        err = kafka_err(ec, kerr, "mock topic create", NULL);
                        sr_errctx_prefix(ec, "%s", name);
                        goto err_destroy_cluster;
                }
        }
        SR_INFO("KAFKA", "mock cluster started bootstrap=%s brokers=%d "
                "partitions=%d", rd_kafka_mock_cluster_bootstraps(m->mc),
                brokers, partitions);
        *mp = m;
        return SR_OK;

err_destroy_cluster:
        rd_kafka_mock_cluster_destroy(m->mc);
err_destroy_owner:
        rd_kafka_destroy(m->owner);
err_free:
        free(m);
        return err;
}

const char *sr_mock_bootstraps(const sr_mock_t *m)
{
        return rd_kafka_mock_cluster_bootstraps(m->mc);
}

rd_kafka_mock_cluster_t *sr_mock_cluster(sr_mock_t *m)
{
        return m ? m->mc : NULL;
}

void sr_mock_destroy(sr_mock_t *m)
{
        if (!m)
                return;
        rd_kafka_mock_cluster_destroy(m->mc);
        rd_kafka_destroy(m->owner);
        free(m);
}

/* ------------------------------------------------------------ reader */

struct sr_reader {
        kafka_handle_t h; /* first: the librdkafka opaque */
        rd_kafka_t *rk;
        char names[SR_TOPIC__COUNT][TOPIC_NAME_MAX];
        rd_kafka_message_t **held;
        int n_held, cap_held;
};

sr_err_t sr_reader_new(const sr_conf_t *conf, const sr_reader_part_t *parts,
                       int n, sr_reader_t **rp, sr_errctx_t *ec)
{
        char group[64], id[SR_UUID_STR_LEN + 1];
        rd_kafka_topic_partition_list_t *list;
        rd_kafka_resp_err_t kerr;
        rd_kafka_conf_t *kc;
        sr_reader_t *r;
        sr_uuid_t u;
        sr_err_t err;

        r = calloc(1, sizeof(*r));
        if (!r)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "kafka: reader");
        for (int t = 0; t < SR_TOPIC__COUNT; t++)
                sr_kafka_topic_name(conf, (sr_topic_kind_t)t, r->names[t],
                                    sizeof(r->names[t]));
        /* rd_kafka_assign() needs a group id, not a membership. */
        sr_uuid_v4(&u);
        sr_uuid_fmt(&u, id);
        snprintf(group, sizeof(group), "sr-reader-%s", id);
        kc = conf_copy(conf, r);
        if (!kc) {
                free(r);
                return sr_errctx_set(ec, SR_ERR_NOMEM, "kafka: conf");
        }
        if ((err = conf_put(kc, "group.id", group, ec)) ||
            (err = conf_put(kc, "enable.auto.commit", "false", ec)) ||
            (err = conf_put(kc, "enable.auto.offset.store", "false", ec)) ||
            (err = conf_put(kc, "auto.offset.reset", "earliest", ec))) {
                rd_kafka_conf_destroy(kc);
                free(r);
                return err;
        }
        err = handle_new(RD_KAFKA_CONSUMER, kc, &r->rk, ec);
        if (err) {
                free(r);
                return err;
        }
        rd_kafka_poll_set_consumer(r->rk);
        list = rd_kafka_topic_partition_list_new(n > 0 ? n : 1);
        for (int i = 0; i < n; i++) {
                int64_t off = parts[i].offset;

                if (i == 0 || parts[i].topic != parts[i - 1].topic)
                        warm_metadata(r->rk, r->names[parts[i].topic]);
                rd_kafka_topic_partition_list_add(list,
                                                  r->names[parts[i].topic],
                                                  parts[i].partition)
                        ->offset = off == SR_READER_BEGINNING ?
                                           RD_KAFKA_OFFSET_BEGINNING :
                                   off == SR_READER_END ?
                                           RD_KAFKA_OFFSET_END :
                                           off;
        }
        kerr = rd_kafka_assign(r->rk, list);
        rd_kafka_topic_partition_list_destroy(list);
        if (kerr) {
                rd_kafka_destroy(r->rk);
                free(r);
                return kafka_err(ec, kerr, "assign", NULL);
        }
        *rp = r;
        return SR_OK;
}

static void reader_release(sr_reader_t *r)
{
        for (int i = 0; i < r->n_held; i++)
                rd_kafka_message_destroy(r->held[i]);
        r->n_held = 0;
}

void sr_reader_destroy(sr_reader_t *r)
{
        if (!r)
                return;
        reader_release(r);
        free(r->held);
        rd_kafka_consumer_close(r->rk);
        rd_kafka_destroy(r->rk);
        free(r);
}

sr_err_t sr_reader_poll(sr_reader_t *r, sr_inrec_t *out, int max, int *n,
                        int timeout_ms, sr_errctx_t *ec)
{
        int got = 0;

        reader_release(r);
        if (max > r->cap_held) {
                rd_kafka_message_t **h = realloc(r->held,
                                                 (size_t)max * sizeof(*h));

                if (!h)
                        return sr_errctx_set(ec, SR_ERR_FATAL,
                                             "kafka: reader buffers");
                r->held = h;
                r->cap_held = max;
        }
        while (got < max) {
                rd_kafka_message_t *m =
                        rd_kafka_consumer_poll(r->rk, got ? 0 : timeout_ms);
                int kind = -1;

                if (!m)
                        break;
                if (m->err) {
                        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                SR_WARN("KAFKA", "reader: %s",
                                        rd_kafka_message_errstr(m));
                        rd_kafka_message_destroy(m);
                        if (rd_kafka_fatal_error(r->rk, NULL, 0))
                                return fatal_err(ec, r->rk, "reader");
                        continue;
                }
                for (int t = 0; t < SR_TOPIC__COUNT && kind < 0; t++)
                        if (!strcmp(r->names[t], rd_kafka_topic_name(m->rkt)))
                                kind = t;
                r->held[r->n_held++] = m;
                fill_inrec(&out[got++], m, kind < 0 ? 0 : kind);
        }
        *n = got;
        return SR_OK;
}

sr_err_t sr_reader_ping(sr_reader_t *r, int timeout_ms, sr_errctx_t *ec)
{
        return metadata_ping(r->rk, timeout_ms, ec);
}

bool sr_reader_all_brokers_down(sr_reader_t *r, char *why, size_t why_size)
{
        if (!r->h.all_down)
                return false;
        r->h.all_down = false;
        snprintf(why, why_size, "%s", r->h.all_down_why);
        return true;
}

int64_t sr_reader_lag(sr_reader_t *r, sr_topic_kind_t topic)
{
        rd_kafka_topic_partition_list_t *asg = NULL;
        int64_t lag = 0;

        if (rd_kafka_assignment(r->rk, &asg) || !asg)
                return -1;
        if (rd_kafka_position(r->rk, asg)) {
                rd_kafka_topic_partition_list_destroy(asg);
                return -1;
        }
        for (int i = 0; i < asg->cnt && lag >= 0; i++) {
                rd_kafka_topic_partition_t *tp = &asg->elems[i];
                int64_t low, high;

                if (strcmp(tp->topic, r->names[topic]))
                        continue;
                if (rd_kafka_get_watermark_offsets(r->rk, tp->topic,
                                                   tp->partition, &low,
                                                   &high) ||
                    high < 0) {
                        lag = -1;
                        break;
                }
                /* No position yet: nothing returned since the start. */
                lag += high - (tp->offset >= 0 ? tp->offset : low);
        }
        rd_kafka_topic_partition_list_destroy(asg);
        return lag;
}
