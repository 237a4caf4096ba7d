/* common/io/sr_kafka_admin.c - the project's topics on a real cluster:
 * created when missing (CreateTopics), then waited for until every
 * partition has a leader that answers; the input topics' retention.ms
 * checked against retention.inputs (DescribeConfigs). */
#include "sr_kafka_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sr_clock.h"
#include "sr_log.h"

/* True when every partition of every project topic answers a watermark
 * query: a broker serves new topics a moment after it created them (first
 * unknown, then "not leader"), and the gateway reads watermarks at start. */
static bool topics_led(const sr_conf_t *conf, rd_kafka_t *rk)
{
        const struct rd_kafka_metadata *md = NULL;
        char name[256];
        int found = 0;

        if (rd_kafka_metadata(rk, 1, NULL, &md, 5000))
                return false;
        for (int t = 0; t < SR_TOPIC__COUNT; t++) {
                sr_kafka_topic_name(conf, (sr_topic_kind_t)t, name,
                                    sizeof(name));
                for (int i = 0; i < md->topic_cnt; i++) {
                        const rd_kafka_metadata_topic_t *mt = &md->topics[i];
                        bool led = !mt->err && mt->partition_cnt > 0;

                        if (strcmp(mt->topic, name))
                                continue;
                        for (int p = 0; led && p < mt->partition_cnt; p++) {
                                int64_t lo, hi;

                                led = mt->partitions[p].leader >= 0 &&
                                      !mt->partitions[p].err &&
                                      !rd_kafka_query_watermark_offsets(
                                              rk, name, p, &lo, &hi, 5000);
                        }
                        found += led;
                }
        }
        rd_kafka_metadata_destroy(md);
        return found == SR_TOPIC__COUNT;
}

/* What an admin request leaves to free (any may be NULL). */
static void admin_free(rd_kafka_event_t *ev, rd_kafka_queue_t *q,
                       rd_kafka_AdminOptions_t *opts)
{
        if (ev)
                rd_kafka_event_destroy(ev);
        if (q)
                rd_kafka_queue_destroy(q);
        if (opts)
                rd_kafka_AdminOptions_destroy(opts);
}

/* Ask for every topic; a topic that exists already is left alone. */
static sr_err_t create(const sr_conf_t *conf, rd_kafka_t *rk,
                       const kafka_handle_t *h, const char *boot,
                       int partitions, int timeout_ms, sr_errctx_t *ec)
{
        rd_kafka_NewTopic_t *nt[SR_TOPIC__COUNT] = { 0 };
        const rd_kafka_CreateTopics_result_t *res;
        const rd_kafka_topic_result_t **tr;
        rd_kafka_AdminOptions_t *opts = NULL;
        rd_kafka_queue_t *q = NULL;
        rd_kafka_event_t *ev = NULL;
        char errstr[512], name[256];
        sr_err_t err = SR_OK;
        size_t n = 0;

        for (int t = 0; t < SR_TOPIC__COUNT; t++) {
                sr_kafka_topic_name(conf, (sr_topic_kind_t)t, name,
                                    sizeof(name));
                nt[n] = rd_kafka_NewTopic_new(name, partitions, -1, errstr,
                                              sizeof(errstr));
                if (!nt[n]) {
                        err = sr_errctx_set(ec, SR_ERR_INVALID, "topic %s: %s",
                                            name, errstr);
                        goto out;
                }
                /* compacted; min.compaction.lag.ms: docs/guarantee.md */
                if (t == SR_TOPIC_CHANGELOG &&
                    (rd_kafka_NewTopic_set_config(nt[n], "cleanup.policy",
                                                  "compact") ||
                     rd_kafka_NewTopic_set_config(nt[n],
                                                  "min.compaction.lag.ms",
                                                  "86400000"))) {
                        err = sr_errctx_set(ec, SR_ERR_INVALID, "topic %s: "
                                            "cleanup.policy", name);
                        goto out;
                }
                /* Idempotency-Key claims: compacted (one record per key
                 * and fingerprint) and dropped after the keys' ttl
                 * (docs/api-decisions.md). */
                if (t == SR_TOPIC_IDEMPOTENCY) {
                        char ms[32];

                        snprintf(ms, sizeof(ms), "%lld",
                                 (long long)conf->gateway_idempotency_ttl_s *
                                         1000);
                        if (rd_kafka_NewTopic_set_config(nt[n],
                                                         "cleanup.policy",
                                                         "compact,delete") ||
                            rd_kafka_NewTopic_set_config(nt[n],
                                                         "retention.ms", ms)) {
                                err = sr_errctx_set(ec, SR_ERR_INVALID,
                                                    "topic %s: "
                                                    "cleanup.policy", name);
                                goto out;
                        }
                }
                n++;
        }
        opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, errstr,
                                                  sizeof(errstr));
        rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms, errstr,
                                                    sizeof(errstr));
        q = rd_kafka_queue_new(rk);
        rd_kafka_CreateTopics(rk, nt, n, opts, q);
        /* In slices, serving the handle's error events between them: a
         * broker refusing our credentials or certificate ends the wait at
         * once (the request itself would only time out). */
        for (int64_t end = sr_clock_mono_ms() + timeout_ms + 5000;
             !(ev = rd_kafka_queue_poll(q, 200)) &&
             sr_clock_mono_ms() < end;) {
                rd_kafka_poll(rk, 0);
                if ((err = sr_kafka__auth_check(h, "create topics", ec)))
                        goto out;
        }
        if (!ev || rd_kafka_event_error(ev)) {
                err = sr_errctx_set(ec, SR_ERR_KAFKA, "create topics on %s: "
                                    "%s", boot, ev ?
                                    rd_kafka_event_error_string(ev) :
                                    "timed out");
                goto out;
        }
        res = rd_kafka_event_CreateTopics_result(ev);
        tr = rd_kafka_CreateTopics_result_topics(res, &n);
        for (size_t i = 0; i < n && !err; i++) {
                rd_kafka_resp_err_t te = rd_kafka_topic_result_error(tr[i]);
                const char *topic = rd_kafka_topic_result_name(tr[i]);

                if (te == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                        SR_INFO("KAFKA", "topic exists topic=%s", topic);
                else if (te)
                        err = sr_errctx_set(
                                ec, SR_ERR_KAFKA, "create topic %s: %s",
                                topic,
                                rd_kafka_topic_result_error_string(tr[i]));
                else
                        SR_INFO("KAFKA", "topic created topic=%s "
                                "partitions=%d", topic, partitions);
        }
out:
        admin_free(ev, q, opts);
        for (size_t i = 0; i < SR_TOPIC__COUNT; i++)
                if (nt[i])
                        rd_kafka_NewTopic_destroy(nt[i]);
        return err;
}

sr_err_t sr_kafka_create_topics(const sr_conf_t *conf, const char *bootstrap,
                                int partitions, int timeout_ms,
                                sr_errctx_t *ec)
{
        kafka_handle_t h = { 0 };
        rd_kafka_conf_t *kc = sr_kafka__conf_copy(conf, &h);
        rd_kafka_t *rk;
        sr_err_t err;

        if (!kc)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "kafka conf");
        err = sr_kafka__conf_put(kc, "bootstrap.servers", bootstrap, ec);
        if (err) {
                rd_kafka_conf_destroy(kc);
                return err;
        }
        err = sr_kafka__handle_new(RD_KAFKA_PRODUCER, kc, &rk, ec);
        if (err)
                return err; /* kc freed by handle_new */
        err = create(conf, rk, &h, bootstrap, partitions, timeout_ms, ec);
        for (int64_t end = sr_clock_mono_ms() + timeout_ms; !err;) {
                if (topics_led(conf, rk))
                        break;
                if (sr_clock_mono_ms() > end)
                        err = sr_errctx_set(ec, SR_ERR_KAFKA, "topics on %s "
                                            "have no leader after %d ms",
                                            bootstrap, timeout_ms);
                else
                        usleep(100 * 1000);
        }
        rd_kafka_destroy(rk);
        return err;
}

/* ------------------------------------------------------------ retention */

/* One described topic: SR_ERR_CONF when it keeps records longer than
 * @p max_ms; SR_ERR_RETRY (and @p why) when the answer says nothing. */
static sr_err_t topic_retention(const rd_kafka_ConfigResource_t *r,
                                int64_t max_ms, char *why, size_t why_size,
                                sr_errctx_t *ec)
{
        const rd_kafka_ConfigEntry_t **ce;
        const char *topic = rd_kafka_ConfigResource_name(r);
        const char *v = NULL;
        size_t n = 0;
        long long ms;
        char *end;

        if (rd_kafka_ConfigResource_error(r)) {
                snprintf(why, why_size, "%s",
                         rd_kafka_ConfigResource_error_string(r));
                return SR_ERR_RETRY;
        }
        ce = rd_kafka_ConfigResource_configs(r, &n);
        for (size_t i = 0; i < n && !v; i++)
                if (!strcmp(rd_kafka_ConfigEntry_name(ce[i]), "retention.ms"))
                        v = rd_kafka_ConfigEntry_value(ce[i]);
        errno = 0;
        ms = v ? strtoll(v, &end, 10) : 0;
        if (!v || !*v || *end || errno) {
                snprintf(why, why_size, "no retention.ms in the answer%s%s",
                         v ? ": " : "", v ? v : "");
                return SR_ERR_RETRY;
        }
        if (ms < 0)
                return sr_errctx_set(
                        ec, SR_ERR_CONF,
                        "topic %s keeps records for ever (retention.ms=%lld) "
                        "but retention.inputs=%" PRId64 " ms: a command "
                        "re-read after its run's retired marker was "
                        "forgotten would create the run again; set the "
                        "topic's retention.ms to at most retention.inputs, "
                        "or retention.inputs=0 (keep markers for ever)",
                        topic, ms, max_ms);
        if (ms > max_ms)
                return sr_errctx_set(
                        ec, SR_ERR_CONF,
                        "topic %s keeps records for retention.ms=%lld, longer "
                        "than retention.inputs=%" PRId64 " ms: a command "
                        "re-read after its run's retired marker was "
                        "forgotten would create the run again; lower the "
                        "topic's retention.ms or raise retention.inputs",
                        topic, ms, max_ms);
        SR_INFO("KAFKA", "input topic retention checked topic=%s "
                "retention_ms=%lld retention_inputs_ms=%" PRId64, topic, ms,
                max_ms);
        return SR_OK;
}

sr_err_t sr_kafka_check_input_retention(const sr_conf_t *conf, int64_t max_ms,
                                        int timeout_ms, sr_errctx_t *ec)
{
        static const sr_topic_kind_t inputs[] = { SR_TOPIC_COMMANDS,
                                                  SR_TOPIC_RESULTS };
        rd_kafka_ConfigResource_t *cr[2] = { 0 };
        const rd_kafka_ConfigResource_t **res;
        rd_kafka_conf_t *kc = sr_kafka__conf_copy(conf, NULL);
        rd_kafka_AdminOptions_t *opts = NULL;
        rd_kafka_queue_t *q = NULL;
        rd_kafka_event_t *ev = NULL;
        char errstr[512], name[256], why[512] = "";
        char unchecked[520] = "";
        sr_err_t err = SR_OK;
        rd_kafka_t *rk;
        size_t n = 0;

        if (!kc)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "kafka conf");
        /* quiet: an unsupported request is expected on the mock */
        rd_kafka_conf_set(kc, "log_level", "3", errstr, sizeof(errstr));
        err = sr_kafka__handle_new(RD_KAFKA_PRODUCER, kc, &rk, ec);
        if (err)
                return err; /* kc freed by handle_new */
        for (size_t i = 0; i < 2; i++) {
                sr_kafka_topic_name(conf, inputs[i], name, sizeof(name));
                snprintf(unchecked + strlen(unchecked),
                         sizeof(unchecked) - strlen(unchecked), "%s%s",
                         i ? "," : "", name);
                cr[i] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC,
                                                    name);
                if (!cr[i]) {
                        err = sr_errctx_set(ec, SR_ERR_NOMEM, "config "
                                            "resource");
                        goto out;
                }
        }
        /* librdkafka 2.0.2's mock cluster (sr-dev, the tests) does not
         * serve DescribeConfigs: the request would only time out, so say
         * so at once. It names itself in the cluster id. */
        {
                const struct rd_kafka_metadata *md = NULL;
                rd_kafka_resp_err_t me =
                        rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms);
                char *cid = me ? NULL : rd_kafka_clusterid(rk, 0);
                bool mock = cid && !strncmp(cid, "mockCluster", 11);

                if (md)
                        rd_kafka_metadata_destroy(md);
                if (cid)
                        rd_kafka_mem_free(rk, cid);
                if (me || mock) {
                        snprintf(why, sizeof(why), "%s",
                                 me ? rd_kafka_err2str(me) :
                                      "librdkafka's mock cluster does not "
                                      "serve DescribeConfigs");
                        goto out;
                }
        }
        opts = rd_kafka_AdminOptions_new(rk,
                                         RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
        if (!opts) {
                err = sr_errctx_set(ec, SR_ERR_NOMEM, "admin options");
                goto out;
        }
        rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, errstr,
                                                  sizeof(errstr));
        q = rd_kafka_queue_new(rk);
        rd_kafka_DescribeConfigs(rk, cr, 2, opts, q);
        ev = rd_kafka_queue_poll(q, timeout_ms + 2000);
        if (!ev || rd_kafka_event_error(ev)) {
                snprintf(why, sizeof(why), "%s",
                         ev ? rd_kafka_event_error_string(ev) :
                              "no answer in time");
                goto out;
        }
        res = rd_kafka_DescribeConfigs_result_resources(
                rd_kafka_event_DescribeConfigs_result(ev), &n);
        if (n != 2)
                snprintf(why, sizeof(why), "%zu topics in the answer", n);
        for (size_t i = 0; i < n && !err; i++) {
                sr_err_t e = topic_retention(res[i], max_ms, why,
                                             sizeof(why), ec);

                if (e == SR_ERR_RETRY)
                        snprintf(unchecked, sizeof(unchecked), "%s",
                                 rd_kafka_ConfigResource_name(res[i]));
                else
                        err = e;
        }
out:
        if (!err && why[0])
                SR_WARN("KAFKA", "input topic retention.ms could not be "
                        "checked: keep it at most retention.inputs "
                        "(docs/guarantee.md, Retention) topic=%s "
                        "retention_inputs_ms=%" PRId64 " why=\"%s\"",
                        unchecked, max_ms, why);
        admin_free(ev, q, opts);
        for (size_t i = 0; i < 2; i++)
                if (cr[i])
                        rd_kafka_ConfigResource_destroy(cr[i]);
        rd_kafka_destroy(rk);
        return err;
}
