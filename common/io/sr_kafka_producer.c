/* common/io/sr_kafka_producer.c - the producer: sends with delivery
 * reports counted per topic and partition (acknowledged offsets), waits,
 * and the transactional calls of processing.guarantee=exactly_once. */
#include "sr_kafka_int.h"

#include <errno.h>
#include <inttypes.h>
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
                        return sr_kafka__kafka_err(ec, err, "send: header",
                                                   NULL);
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
                        return sr_kafka__fatal_err(ec, p->rk, "send");
                }
                rd_kafka_poll(p->rk, 100);
        }
        if (error) {
                if (hdrs)
                        rd_kafka_headers_destroy(hdrs);
                err = sr_kafka__kafka_error(ec, error, "send");
                sr_errctx_prefix(ec, "topic %s partition %d",
                                 p->names[rec->topic], (int)rec->partition);
                return err;
        }
        p->outstanding++;
        return SR_OK;
}

sr_err_t sr_producer_wait(sr_producer_t *p, int timeout_ms, sr_errctx_t *ec)
{
        int64_t deadline = sr_clock_mono_ms() +
                           (timeout_ms < 0 ? 0 : timeout_ms);
        uint64_t failed, refused;
        int left;

        rd_kafka_poll(p->rk, 0);
        while (p->outstanding > 0 && !rd_kafka_fatal_error(p->rk, NULL, 0) &&
               (left = sr_kafka__remaining_ms(deadline)) > 0)
                rd_kafka_poll(p->rk, left < 100 ? left : 100);

        failed = p->failed;
        refused = p->refused;
        p->failed = p->refused = 0;
        if (rd_kafka_fatal_error(p->rk, NULL, 0))
                return sr_kafka__fatal_err(ec, p->rk, "producer");
        if (failed) {
                sr_err_t code = refused ? sr_kafka__err_class(p->last_err) :
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

uint64_t sr_producer_acked_gaps(const sr_producer_t *p, sr_topic_kind_t t,
                               int32_t partition)
{
        if ((unsigned)t >= SR_TOPIC__COUNT || partition < 0 ||
            partition >= ACKED_PARTITIONS_MAX)
                return 0;
        return p->gaps[t][partition];
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
