/* common/io/sr_kafka_int.h - what the files of the Kafka module share
 * (sr_kafka.c: error mapping, configuration, handles; sr_kafka_producer.c,
 * sr_kafka_consumer.c, sr_kafka_reader.c, sr_kafka_mock.c,
 * sr_kafka_admin.c). Included by those files only: the rest of the
 * project sees sr_kafka.h, which shows no librdkafka type. */
#ifndef SR_KAFKA_INT_H
#define SR_KAFKA_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "sr_clock.h"
#include "sr_kafka.h"
#include "sr_log.h"

#define TOPIC_NAME_MAX 256
#define ACKED_PARTITIONS_MAX 1024 /* partitions tracked per topic */

/* The first member of every handle struct given to librdkafka as its
 * opaque (producers, group consumers, readers): where the error callback
 * notes librdkafka's "all brokers down". Error callbacks run inside the
 * handle's own poll calls, on the thread that owns the handle. */
typedef struct kafka_handle {
        bool all_down;       /* reported since the owner last looked */
        char all_down_why[160];
        bool auth_failed;    /* a broker refused our credentials: sticky */
        bool auth_tls;       /* ... or we refused its certificate */
        char auth_why[256];
} kafka_handle_t;

/* Milliseconds left until the monotonic @p deadline, clamped to 0..1e9. */
int sr_kafka__remaining_ms(int64_t deadline);
/* Our class of a librdkafka code (RETRY, FATAL, TOO_LARGE, KAFKA). */
sr_err_t sr_kafka__err_class(rd_kafka_resp_err_t err);
/* True for a code that refuses one record, not the connection. */
bool sr_kafka__record_refused(rd_kafka_resp_err_t err);
/* The one place librdkafka codes become ours, with op and detail. */
sr_err_t sr_kafka__kafka_err(sr_errctx_t *ec, rd_kafka_resp_err_t err,
                             const char *op, const char *detail);
/* kafka_err() for an rd_kafka_error_t (which it destroys). */
sr_err_t sr_kafka__kafka_error(sr_errctx_t *ec, rd_kafka_error_t *error,
                               const char *op);
/* SR_ERR_FATAL with librdkafka's fatal error of @p rk. */
sr_err_t sr_kafka__fatal_err(sr_errctx_t *ec, rd_kafka_t *rk, const char *op);
/* SR_ERR_AUTH naming librdkafka's reason once a broker refused the
 * credentials of handle @p h (may be NULL), SR_OK before. */
sr_err_t sr_kafka__auth_check(const kafka_handle_t *h, const char *op,
                              sr_errctx_t *ec);
/* librdkafka's log lines into sr_log. */
void sr_kafka__kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                            const char *buf);
/* Set a librdkafka property, mapping its refusal. */
sr_err_t sr_kafka__conf_put(rd_kafka_conf_t *kc, const char *name,
                            const char *value, sr_errctx_t *ec);
/* Set a property unless the user set it (it differs from the default). */
sr_err_t sr_kafka__conf_default(rd_kafka_conf_t *kc, const char *name,
                                const char *value, sr_errctx_t *ec);
/* A private copy of the user's librdkafka conf with our callbacks. */
rd_kafka_conf_t *sr_kafka__conf_copy(const sr_conf_t *conf, void *opaque);
/* rd_kafka_new(); frees @p kc when it fails (it takes it only on success). */
sr_err_t sr_kafka__handle_new(rd_kafka_type_t type, rd_kafka_conf_t *kc,
                              rd_kafka_t **rkp, sr_errctx_t *ec);
/* The librdkafka handle of a group consumer (transactional offsets). */
rd_kafka_t *sr_kafka__consumer_rk(struct sr_consumer *c);
/* Fill @p rec from a consumed message (borrowed until released). */
void sr_kafka__fill_inrec(sr_inrec_t *rec, const rd_kafka_message_t *m,
                          int kind);
/* A metadata request: SR_OK when a broker answered in time. */
sr_err_t sr_kafka__metadata_ping(rd_kafka_t *rk, int timeout_ms,
                                 sr_errctx_t *ec);
/* Ask for @p name's metadata once, so a new handle knows its leaders. */
void sr_kafka__warm_metadata(rd_kafka_t *rk, const char *name);
/* The offsets to commit, as a librdkafka list (caller destroys) of
 * @p names[topics[i]] / parts[i] / offsets[i]; NULL and @p ec set
 * (SR_ERR_INVALID, naming @p op) for a topic kind out of range. */
rd_kafka_topic_partition_list_t *
sr_kafka__offsets_list(const char names[][TOPIC_NAME_MAX],
                       const sr_topic_kind_t *topics, const int32_t *parts,
                       const int64_t *offsets, int n, const char *op,
                       sr_errctx_t *ec);

#endif /* SR_KAFKA_INT_H */
