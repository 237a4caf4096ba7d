/* common/io/sr_kafka.c - the Kafka boundary's common part: librdkafka's
 * codes mapped to ours (the one place), its log and error callbacks into
 * sr_log, the private copy of the user's configuration every handle is
 * made from, and topic names.
 *
 * Every handle works on a rd_kafka_conf_dup() of the frozen conf->kafka.
 * Callbacks (delivery reports, rebalances, errors) run inside our own
 * poll calls on the owning thread, except the log callback, which
 * librdkafka may call from its internal threads (sr_log is thread-safe).
 */
#include "sr_kafka_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "sr_model.h"

int sr_kafka__remaining_ms(int64_t deadline)
{
        int64_t left = deadline - sr_clock_mono_ms();

        return left <= 0 ? 0 : left > 1000000000 ? 1000000000 : (int)left;
}

/* Our class of a librdkafka code: SR_ERR_RETRY (transient), SR_ERR_FATAL,
 * SR_ERR_TOO_LARGE (a record over a size limit), or SR_ERR_KAFKA
 * (permanent for the request or record at hand, e.g. INVALID_RECORD). */
sr_err_t sr_kafka__err_class(rd_kafka_resp_err_t err)
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
bool sr_kafka__record_refused(rd_kafka_resp_err_t err)
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
sr_err_t sr_kafka__kafka_err(sr_errctx_t *ec, rd_kafka_resp_err_t err,
                          const char *op, const char *detail)
{
        sr_err_t code = sr_kafka__err_class(err);

        return sr_errctx_set(ec, code, "kafka %s: %s: %s", op,
                             rd_kafka_err2name(err),
                             detail ? detail : rd_kafka_err2str(err));
}

/* Same, for the rich error object; consumes @p error. */
sr_err_t sr_kafka__kafka_error(sr_errctx_t *ec, rd_kafka_error_t *error,
                            const char *op)
{
        sr_err_t code = sr_kafka__kafka_err(ec, rd_kafka_error_code(error), op,
                                  rd_kafka_error_string(error));

        if (rd_kafka_error_is_fatal(error))
                code = sr_errctx_set(ec, SR_ERR_FATAL, "kafka %s: fatal: %s",
                                     op, rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        return code;
}

/* A fatal error leaves the handle unusable; say why. */
sr_err_t sr_kafka__fatal_err(sr_errctx_t *ec, rd_kafka_t *rk, const char *op)
{
        char why[256];
        rd_kafka_resp_err_t err = rd_kafka_fatal_error(rk, why, sizeof(why));

        return sr_errctx_set(ec, SR_ERR_FATAL, "kafka %s: fatal: %s: %s", op,
                             rd_kafka_err2name(err), why);
}

sr_err_t sr_kafka__auth_check(const kafka_handle_t *h, const char *op,
                              sr_errctx_t *ec)
{
        if (!h || !h->auth_failed)
                return SR_OK;
        if (h->auth_tls)
                return sr_errctx_set(ec, SR_ERR_AUTH, "kafka %s: TLS "
                                     "authentication failed: the broker's "
                                     "certificate is not trusted (check "
                                     "kafka.ssl.ca.location and the name "
                                     "the certificate holds): %s", op,
                                     h->auth_why);
        return sr_errctx_set(ec, SR_ERR_AUTH, "kafka %s: authentication "
                             "failed (check kafka.sasl.username, "
                             "kafka.sasl.password, kafka.sasl.mechanism): %s",
                             op, h->auth_why);
}

/* One log pipeline: librdkafka's syslog-style levels mapped onto ours. */
void sr_kafka__kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
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


/* Client-level errors (broker down, authentication, fatal). Most are
 * informational: the client retries by itself, and fatal errors are
 * checked where they matter (rd_kafka_fatal_error()). A refused SASL
 * authentication, or a broker certificate our CA does not verify (a TLS
 * handshake's "certificate verify failed", not a connection cut during
 * the handshake), is noted on the handle: librdkafka would retry it
 * forever, but credentials and trust do not heal by themselves, so the
 * owner's next poll fails (sr_kafka__auth_check(), docs/guarantee.md). The reason
 * names the mechanism, never the password. */
static void kafka_error_cb(rd_kafka_t *rk, int err, const char *reason,
                           void *opaque)
{
        kafka_handle_t *h = opaque;

        if (h && !h->auth_failed &&
            (err == RD_KAFKA_RESP_ERR__AUTHENTICATION ||
             (err == RD_KAFKA_RESP_ERR__SSL && reason &&
              strstr(reason, "certificate verify failed")))) {
                h->auth_failed = true;
                h->auth_tls = err == RD_KAFKA_RESP_ERR__SSL;
                snprintf(h->auth_why, sizeof(h->auth_why), "%s",
                         reason ? reason : "");
        }

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

sr_err_t sr_kafka__conf_put(rd_kafka_conf_t *kc, const char *name,
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
sr_err_t sr_kafka__conf_default(rd_kafka_conf_t *kc, const char *name,
                             const char *value, sr_errctx_t *ec)
{
        char cur[256] = "", def[256] = "";
        size_t cur_sz = sizeof(cur), def_sz = sizeof(def);
        rd_kafka_conf_t *pristine;
        rd_kafka_topic_conf_t *pristine_topic;
        rd_kafka_conf_res_t rd;

        if (rd_kafka_conf_get(kc, name, cur, &cur_sz) != RD_KAFKA_CONF_OK)
                /* no topic conf */
                return sr_kafka__conf_put(kc, name, value, ec);
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
                return sr_kafka__conf_put(kc, name, value, ec);
        return SR_OK;
}

/* A private copy of the user's librdkafka conf with our callbacks. */
rd_kafka_conf_t *sr_kafka__conf_copy(const sr_conf_t *conf, void *opaque)
{
        rd_kafka_conf_t *kc = conf->kafka ? rd_kafka_conf_dup(conf->kafka) :
                                            rd_kafka_conf_new();

        if (!kc)
                return NULL;
        rd_kafka_conf_set_log_cb(kc, sr_kafka__kafka_log_cb);
        rd_kafka_conf_set_error_cb(kc, kafka_error_cb);
        rd_kafka_conf_set_opaque(kc, opaque);
        return kc;
}

/* rd_kafka_new() takes @p kc only when it succeeds: free it otherwise. */
sr_err_t sr_kafka__handle_new(rd_kafka_type_t type, rd_kafka_conf_t *kc,
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

rd_kafka_topic_partition_list_t *
sr_kafka__offsets_list(const char names[][TOPIC_NAME_MAX],
                       const sr_topic_kind_t *topics, const int32_t *parts,
                       const int64_t *offsets, int n, const char *op,
                       sr_errctx_t *ec)
{
        rd_kafka_topic_partition_list_t *list;

        list = rd_kafka_topic_partition_list_new(n);
        for (int i = 0; i < n; i++) {
                if ((unsigned)topics[i] >= SR_TOPIC__COUNT) {
                        rd_kafka_topic_partition_list_destroy(list);
                        sr_errctx_set(ec, SR_ERR_INVALID,
                                      "kafka %s: bad topic %d", op,
                                      (int)topics[i]);
                        return NULL;
                }
                rd_kafka_topic_partition_list_add(list, names[topics[i]],
                                                  parts[i])->offset =
                        offsets[i];
        }
        return list;
}
