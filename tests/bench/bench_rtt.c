/* tests/bench/bench_rtt.c - the broker's own round trip with the
 * librdkafka the workers link (Debian's 2.0.2): the floor under every hop
 * of the latency figures (tests/bench/README.md, issue 14). Not a test: a
 * program.
 *
 *   bench_rtt --bootstrap B --topic T [--records 300] [--gap-ms 5]
 *             [--fetch-wait-ms 500]
 *
 * One record at a time (10 bytes) to partition 0 of T from a producer with
 * sr-status's settings (enable.idempotence, acks=all, linger.ms 1), then
 * read back by a group-less consumer of that partition (from its
 * beginning, each record awaited by its offset); --gap-ms between records.
 * The first 20 records warm the path up and are not counted.
 *
 * Prints one line:
 *   librdkafka=V records=N ack_p50_ms= ack_p99_ms= p50_ms= p99_ms= max_ms=
 * (ack: produce -> delivery report; p: produce -> consumed). Exits 1 on
 * any error, or when a record does not come back within 30 s.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "kit_bench.h"

#define WARMUP 20

static int64_t acked_offset = -1;
static int delivery_err;

static double mono_ms(void)
{
        return kit_mono_s() * 1e3;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque)
{
        (void)rk;
        (void)opaque;
        if (m->err)
                delivery_err = 1;
        else
                acked_offset = m->offset;
}

static double pct(const double *sorted, int n, double p)
{
        int i = (int)(p * n);

        return sorted[i < n ? i : n - 1];
}

static rd_kafka_t *client(rd_kafka_type_t type, const char *bootstrap,
                          const char *const *kv)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char err[512];
        rd_kafka_t *rk;

        if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err,
                              sizeof(err)) != RD_KAFKA_CONF_OK)
                goto fail;
        for (; kv[0]; kv += 2)
                if (rd_kafka_conf_set(conf, kv[0], kv[1], err, sizeof(err)) !=
                    RD_KAFKA_CONF_OK)
                        goto fail;
        if (type == RD_KAFKA_PRODUCER)
                rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rk = rd_kafka_new(type, conf, err, sizeof(err));
        if (rk)
                return rk;
fail:
        rd_kafka_conf_destroy(conf); /* rd_kafka_new() took it only on
                                        success */
        fprintf(stderr, "bench_rtt: %s\n", err);
        exit(1);
}

static void usage(void)
{
        fprintf(stderr, "usage: bench_rtt --bootstrap B --topic T "
                        "[--records 300] [--gap-ms 5] "
                        "[--fetch-wait-ms 500]\n");
        exit(2);
}

int main(int argc, char **argv)
{
        const char *bootstrap = NULL, *topic = NULL, *fetch_wait = "500";
        int records = 300, gap_ms = 5;
        rd_kafka_topic_partition_list_t *parts;
        rd_kafka_t *prod, *cons;
        double *ack, *rtt;

        for (int i = 1; i < argc; i++) {
                const char *v = i + 1 < argc ? argv[i + 1] : NULL;

                if (!v)
                        usage();
                if (!strcmp(argv[i], "--bootstrap"))
                        bootstrap = v;
                else if (!strcmp(argv[i], "--topic"))
                        topic = v;
                else if (!strcmp(argv[i], "--records"))
                        records = atoi(v);
                else if (!strcmp(argv[i], "--gap-ms"))
                        gap_ms = atoi(v);
                else if (!strcmp(argv[i], "--fetch-wait-ms"))
                        fetch_wait = v;
                else
                        usage();
                i++;
        }
        if (!bootstrap || !topic || records < 1 || records > 1000000 ||
            gap_ms < 0)
                usage();
        {
                const char *pkv[] = { "enable.idempotence", "true", "acks",
                                      "all", "linger.ms", "1", NULL };
                const char *ckv[] = { "group.id", "bench-rtt",
                                      "enable.auto.commit", "false",
                                      "fetch.wait.max.ms", fetch_wait, NULL };

                prod = client(RD_KAFKA_PRODUCER, bootstrap, pkv);
                cons = client(RD_KAFKA_CONSUMER, bootstrap, ckv);
        }
        rd_kafka_poll_set_consumer(cons);
        parts = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(parts, topic, 0)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
        if (rd_kafka_assign(cons, parts)) {
                fprintf(stderr, "bench_rtt: assign failed\n");
                return 1;
        }
        rd_kafka_topic_partition_list_destroy(parts);
        ack = calloc((size_t)records, sizeof(*ack));
        rtt = calloc((size_t)records, sizeof(*rtt));
        if (!ack || !rtt)
                return 1;
        for (int i = 0; i < WARMUP + records; i++) {
                double t0 = mono_ms(), t_ack, deadline = t0 + 30000;
                rd_kafka_resp_err_t err;
                int64_t want;

                acked_offset = -1;
                err = rd_kafka_producev(
                        prod, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
                        RD_KAFKA_V_VALUE("0123456789", 10),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_END);
                if (err) {
                        fprintf(stderr, "bench_rtt: produce: %s\n",
                                rd_kafka_err2str(err));
                        return 1;
                }
                while (acked_offset < 0 && !delivery_err &&
                       mono_ms() < deadline)
                        rd_kafka_poll(prod, 1);
                if (delivery_err || acked_offset < 0) {
                        fprintf(stderr, "bench_rtt: record %d not "
                                        "delivered\n", i);
                        return 1;
                }
                t_ack = mono_ms();
                want = acked_offset;
                for (;;) {
                        rd_kafka_message_t *m = rd_kafka_consumer_poll(cons,
                                                                       100);
                        int64_t got = m && !m->err ? m->offset : -1;

                        if (m)
                                rd_kafka_message_destroy(m);
                        if (got >= want)
                                break;
                        if (mono_ms() > deadline) {
                                fprintf(stderr, "bench_rtt: record %d (offset "
                                        "%" PRId64 ") not read back within "
                                        "30 s\n", i, want);
                                return 1;
                        }
                }
                if (i >= WARMUP) {
                        ack[i - WARMUP] = t_ack - t0;
                        rtt[i - WARMUP] = mono_ms() - t0;
                }
                if (gap_ms)
                        usleep((useconds_t)gap_ms * 1000);
        }
        qsort(ack, (size_t)records, sizeof(*ack), kit_cmp_double);
        qsort(rtt, (size_t)records, sizeof(*rtt), kit_cmp_double);
        printf("librdkafka=%s records=%d fetch_wait_ms=%s ack_p50_ms=%.2f "
               "ack_p99_ms=%.2f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
               rd_kafka_version_str(), records, fetch_wait,
               pct(ack, records, .5), pct(ack, records, .99),
               pct(rtt, records, .5), pct(rtt, records, .99),
               rtt[records - 1]);
        free(ack);
        free(rtt);
        rd_kafka_consumer_close(cons);
        rd_kafka_destroy(cons);
        rd_kafka_flush(prod, 10000);
        rd_kafka_destroy(prod);
        return 0;
}
