/* common/io/sr_kafka_producer.c - the producer: sends with delivery
 * reports counted per topic and partition (acknowledged offsets), waits,
 * and the transactional calls of processing.guarantee=exactly_once.
 *
 * A producer's delivery reports are served by a thread of its own
 * (reports_thread()), which also frees each reported record and its
 * headers: a worker's thread spent ~10 % of its CPU there
 * (tests/bench/README.md, "Making it fast"). One thread serves them, so
 * one partition's reports are still counted in log order
 * (sr_producer_acked_gaps()). A transactional producer keeps them on the
 * caller's thread: librdkafka's commit and abort serve the same queue
 * (rd_kafka_flush()), and two servers could count one partition's reports
 * out of order. */
#include "sr_kafka_int.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sr_producer {
        kafka_handle_t h; /* first: the librdkafka opaque */
        rd_kafka_t *rk;
        char names[SR_TOPIC__COUNT][TOPIC_NAME_MAX];
        uint64_t outstanding; /* sent, no delivery report yet */
        uint64_t failed;      /* failed reports since the last wait */
        uint64_t refused;     /* of which sr_kafka__record_refused() */
        rd_kafka_resp_err_t last_err;
        int32_t last_err_partition;
        sr_topic_kind_t last_err_topic;
        int64_t acked[SR_TOPIC__COUNT][ACKED_PARTITIONS_MAX];
        /* acknowledgements not right after the previous one of their
         * partition (sr_producer_acked_gaps()) */
        uint64_t gaps[SR_TOPIC__COUNT][ACKED_PARTITIONS_MAX];
        bool txn; /* transactional.id set, transactions initialised */
        /* The counters above are the reports' (mu); cv is signalled when
         * nothing is outstanding, or on every report while a send waits
         * for room (full_waits). */
        pthread_mutex_t mu;
        pthread_cond_t cv;
        unsigned full_waits;
        pthread_t thread; /* reports_thread(), when threaded */
        bool threaded;
        atomic_bool stop;
};

/* One report, under p->mu. */
static void report(sr_producer_t *p, const rd_kafka_message_t *m)
{
        intptr_t t = (intptr_t)m->_private;

        if (p->outstanding)
                p->outstanding--;
        if (m->err) {
                p->failed++;
                /* A refusal is reported rather than a later transient
                 * failure of the same wait. */
                if (sr_kafka__record_refused(m->err))
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
            m->partition < ACKED_PARTITIONS_MAX) {
                int64_t *last = &p->acked[t][m->partition];

                /* One partition's reports come in log order (idempotent
                 * producer): another offset than the next one means a
                 * record of someone else landed in between. */
                if (*last >= 0 && m->offset != *last + 1)
                        p->gaps[t][m->partition]++;
                if (m->offset > *last)
                        *last = m->offset;
        }
}

/* Delivery reports run inside rd_kafka_poll()/flush(): on the reports'
 * thread, or the caller's (transactional). The topic kind travels as the
 * message's opaque. */
static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m,
                      void *opaque)
{
        sr_producer_t *p = opaque;

        (void)rk;
        pthread_mutex_lock(&p->mu);
        report(p, m);
        if (p->outstanding == 0 || p->full_waits)
                pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
}

/* The only server of the producer's queue while threaded. */
static void *reports_thread(void *arg)
{
        sr_producer_t *p = arg;

        while (!atomic_load(&p->stop))
                rd_kafka_poll(p->rk, 50);
        return NULL;
}

/* Up to @p ms for reports, p->mu held: waits for the reports' thread's
 * signal, or serves them here (unthreaded). */
static void reports_wait(sr_producer_t *p, int ms)
{
        struct timespec ts;

        if (!p->threaded) {
                pthread_mutex_unlock(&p->mu);
                rd_kafka_poll(p->rk, ms);
                pthread_mutex_lock(&p->mu);
                return;
        }
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += ms / 1000;
        ts.tv_nsec += (long)(ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
        }
        (void)pthread_cond_timedwait(&p->cv, &p->mu, &ts);
}

static int cond_init_mono(pthread_cond_t *cv)
{
        pthread_condattr_t a;
        int rc = pthread_condattr_init(&a);

        if (rc)
                return rc;
        rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
        if (!rc)
                rc = pthread_cond_init(cv, &a);
        pthread_condattr_destroy(&a);
        return rc;
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
        if (cond_init_mono(&p->cv)) {
                free(p);
                return sr_errctx_set(ec, SR_ERR_NOMEM, "kafka: cond");
        }
        pthread_mutex_init(&p->mu, NULL);
        for (int t = 0; t < SR_TOPIC__COUNT; t++) {
                sr_kafka_topic_name(conf, (sr_topic_kind_t)t, p->names[t],
                                    sizeof(p->names[t]));
                for (int i = 0; i < ACKED_PARTITIONS_MAX; i++)
                        p->acked[t][i] = -1;
        }
        kc = sr_kafka__conf_copy(conf, p);
        if (!kc) {
                err = sr_errctx_set(ec, SR_ERR_NOMEM, "kafka: conf");
                goto err_free;
        }
        for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
                err = sr_kafka__conf_default(kc, defaults[i][0],
                                             defaults[i][1], ec);
                if (err)
                        goto err_free;
        }
        if (client_id && (err = sr_kafka__conf_put(kc, "client.id", client_id,
                                                   ec)))
                goto err_free;
        if (txn_id) {
                /* A short transaction timeout: a worker that died mid-
                 * transaction holds back read_committed readers of its
                 * partitions (a restore among them) until it expires. */
                if ((err = sr_kafka__conf_put(kc, "transactional.id", txn_id,
                                              ec)) ||
                    (err = sr_kafka__conf_default(kc, "transaction.timeout.ms",
                                                  "10000",
                                        ec)))
                        goto err_free;
        }
        rd_kafka_conf_set_dr_msg_cb(kc, dr_msg_cb);
        err = sr_kafka__handle_new(RD_KAFKA_PRODUCER, kc, &p->rk, ec);
        kc = NULL; /* taken by rd_kafka_new() or freed by handle_new() */
        if (err)
                goto err_free;
        if (!txn_id) {
                int rc = pthread_create(&p->thread, NULL, reports_thread, p);

                if (rc) {
                        rd_kafka_destroy(p->rk);
                        err = sr_errctx_set(ec, SR_ERR_NOMEM, "kafka: "
                                            "reports thread: %s",
                                            strerror(rc));
                        goto err_free;
                }
                p->threaded = true;
        }
        *pp = p;
        return SR_OK;

err_free:
        if (kc)
                rd_kafka_conf_destroy(kc);
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
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
        pthread_mutex_lock(&p->mu);
        p->failed = p->refused = 0;
        p->last_err = RD_KAFKA_RESP_ERR_NO_ERROR;
        pthread_mutex_unlock(&p->mu);
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
                err = sr_kafka__kafka_error(ec, error, "init_transactions");
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

        return error ? sr_kafka__kafka_error(ec, error,
                                             "begin_transaction") : SR_OK;
}

/* An error of a transactional call: fatal, or abortable (abort now and
 * have the caller redo the transaction), or retriable as it is. */
static sr_err_t txn_error(sr_producer_t *p, rd_kafka_error_t *error,
                          const char *op, int timeout_ms, sr_errctx_t *ec)
{
        bool fatal = rd_kafka_error_is_fatal(error);
        sr_errctx_t aec = { 0 };

        (void)sr_kafka__kafka_error(ec, error, op); /* destroys error */
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
        list = sr_kafka__offsets_list((const char (*)[TOPIC_NAME_MAX])p->names,
                                      topics, parts, offsets, n,
                                      "txn offsets", ec);
        if (!list) /* a topic kind out of range */
                return SR_ERR_INVALID;
        md = rd_kafka_consumer_group_metadata(sr_kafka__consumer_rk(c));
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

                (void)sr_kafka__kafka_error(&tmp, error, "abort_transaction");
                return sr_errctx_set(ec, SR_ERR_FATAL, "%s", tmp.msg);
        }
        /* Aborted records fail their delivery reports; they come soon (the
         * queue was purged). */
        txn_reports_done(p, 1000);
        pthread_mutex_lock(&p->mu);
        p->outstanding = 0;
        pthread_mutex_unlock(&p->mu);
        return SR_OK;
}

void sr_producer_destroy(sr_producer_t *p)
{
        rd_kafka_resp_err_t err;

        if (!p)
                return;
        if (p->threaded) { /* rd_kafka_flush() serves the reports now */
                atomic_store(&p->stop, true);
                pthread_join(p->thread, NULL);
                p->threaded = false;
        }
        err = rd_kafka_flush(p->rk, 10000);
        if (err)
                SR_WARN("KAFKA", "producer closed with records unsent: %s "
                        "outstanding=%" PRIu64, rd_kafka_err2str(err),
                        p->outstanding);
        rd_kafka_destroy(p->rk);
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
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
                        return sr_kafka__kafka_err(ec, err, "send: header",
                                                   NULL);
                }
        }
        *hdrsp = hdrs;
        return SR_OK;
}

static void outstanding_add(sr_producer_t *p, int d)
{
        pthread_mutex_lock(&p->mu);
        if (d > 0 || p->outstanding)
                p->outstanding += (uint64_t)(int64_t)d;
        pthread_mutex_unlock(&p->mu);
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

        /* A full local queue is back-pressure: wait for delivery reports
         * until there is room. On any failure the headers stay ours. The
         * record is counted first: its report may come before produceva()
         * returns. */
        outstanding_add(p, 1);
        while ((error = rd_kafka_produceva(p->rk, vus, n)) &&
               rd_kafka_error_code(error) == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_error_destroy(error);
                if (rd_kafka_fatal_error(p->rk, NULL, 0)) {
                        outstanding_add(p, -1);
                        rd_kafka_headers_destroy(hdrs);
                        return sr_kafka__fatal_err(ec, p->rk, "send");
                }
                pthread_mutex_lock(&p->mu);
                p->full_waits++;
                reports_wait(p, 100);
                p->full_waits--;
                pthread_mutex_unlock(&p->mu);
        }
        if (error) {
                outstanding_add(p, -1);
                if (hdrs)
                        rd_kafka_headers_destroy(hdrs);
                err = sr_kafka__kafka_error(ec, error, "send");
                sr_errctx_prefix(ec, "topic %s partition %d",
                                 p->names[rec->topic], (int)rec->partition);
                return err;
        }
        return SR_OK;
}

sr_err_t sr_producer_wait(sr_producer_t *p, int timeout_ms, sr_errctx_t *ec)
{
        int64_t deadline = sr_clock_mono_ms() +
                           (timeout_ms < 0 ? 0 : timeout_ms);
        uint64_t failed, refused, outstanding;
        rd_kafka_resp_err_t last_err;
        int32_t last_partition;
        sr_topic_kind_t last_topic;
        int left;

        pthread_mutex_lock(&p->mu);
        if (!p->threaded)
                reports_wait(p, 0);
        while (p->outstanding > 0 && !rd_kafka_fatal_error(p->rk, NULL, 0) &&
               (left = sr_kafka__remaining_ms(deadline)) > 0)
                reports_wait(p, left < 100 ? left : 100);

        failed = p->failed;
        refused = p->refused;
        p->failed = p->refused = 0;
        outstanding = p->outstanding;
        last_err = p->last_err;
        last_partition = p->last_err_partition;
        last_topic = p->last_err_topic;
        if (failed)
                p->last_err = RD_KAFKA_RESP_ERR_NO_ERROR;
        pthread_mutex_unlock(&p->mu);
        if (rd_kafka_fatal_error(p->rk, NULL, 0))
                return sr_kafka__fatal_err(ec, p->rk, "producer");
        if (failed) {
                sr_err_t code = refused ? sr_kafka__err_class(last_err) :
                                          SR_ERR_RETRY;

                sr_errctx_set(ec, code,
                              "kafka produce: %" PRIu64 " record(s) failed, "
                              "last: %s: %s (topic %s partition %d)", failed,
                              rd_kafka_err2name(last_err),
                              rd_kafka_err2str(last_err),
                              p->names[last_topic], (int)last_partition);
                return code;
        }
        if (outstanding)
                return sr_errctx_set(ec, SR_ERR_RETRY,
                                     "kafka produce: timed out after %d ms "
                                     "with %" PRIu64 " record(s) "
                                     "unacknowledged", timeout_ms,
                                     outstanding);
        return SR_OK;
}

/* The counters are written under p->mu by the reports' thread; their
 * readers take it too (the producer is const to them only). */
static pthread_mutex_t *mu_of(const sr_producer_t *p)
{
        return (pthread_mutex_t *)&p->mu;
}

uint64_t sr_producer_acked_gaps(const sr_producer_t *p, sr_topic_kind_t t,
                               int32_t partition)
{
        uint64_t v;

        if ((unsigned)t >= SR_TOPIC__COUNT || partition < 0 ||
            partition >= ACKED_PARTITIONS_MAX)
                return 0;
        pthread_mutex_lock(mu_of(p));
        v = p->gaps[t][partition];
        pthread_mutex_unlock(mu_of(p));
        return v;
}

int64_t sr_producer_acked_offset(const sr_producer_t *p, sr_topic_kind_t t,
                                 int32_t partition)
{
        int64_t v;

        if ((unsigned)t >= SR_TOPIC__COUNT || partition < 0 ||
            partition >= ACKED_PARTITIONS_MAX)
                return -1;
        pthread_mutex_lock(mu_of(p));
        v = p->acked[t][partition];
        pthread_mutex_unlock(mu_of(p));
        return v;
}

void sr_producer_poll(sr_producer_t *p)
{
        if (!p->threaded) /* the reports' thread serves them otherwise */
                rd_kafka_poll(p->rk, 0);
}

uint64_t sr_producer_outstanding(const sr_producer_t *p)
{
        uint64_t v;

        pthread_mutex_lock(mu_of(p));
        v = p->outstanding;
        pthread_mutex_unlock(mu_of(p));
        return v;
}
