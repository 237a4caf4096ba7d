/* common/io/sr_kafka_mock.c - the embedded broker: librdkafka's mock
 * cluster, owned by a producer handle of its own, with the project's
 * topics created in it (it has no CreateTopics API). */
#include "sr_kafka_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka_mock.h>

#include "sr_kafka_mock.h"

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
        rd_kafka_conf_set_log_cb(kc, sr_kafka__kafka_log_cb);
        /* The mock's accepted sockets take this handle's socket options:
         * without TCP_NODELAY a response written while the previous one is
         * unacknowledged waits for the client's delayed ACK (40 ms). */
        if (rd_kafka_conf_set(kc, "socket.nagle.disable", "true", NULL, 0) !=
            RD_KAFKA_CONF_OK)
                SR_WARN("KAFKA", "mock: socket.nagle.disable refused");
        err = sr_kafka__handle_new(RD_KAFKA_PRODUCER, kc, &m->owner, ec);
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
                        err = sr_kafka__kafka_err(ec, kerr,
                                                  "mock topic create", NULL);
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
