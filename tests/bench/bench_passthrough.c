/* tests/bench/bench_passthrough.c - the stateless pass-through of the
 * harness (tests/bench/harness.py, issue 14) on a real Kafka cluster: the
 * ceiling a status worker is measured against. Not a test: a program.
 *
 *   bench_passthrough --bootstrap B --from TOPIC
 *                     [--out TOPIC:RATIO:BYTES]...
 *                     [--copy-to TOPIC] [--timeout-s 300]
 *
 * A group-less consumer reads every partition of --from from its low to its
 * high watermark as they are when it starts (a backlog: the harness fills
 * it first). For each input record it produces, to each --out topic, RATIO
 * records on average (a fractional ratio is kept exact over the run with a
 * running remainder), keyed by the input's key, with a value of BYTES
 * bytes (the input's bytes, repeated or cut) and the input's headers. With --copy-to it copies each input instead, to the same
 * partition of that topic, key, value and headers unchanged (the harness
 * builds a drain backlog with it). The producer has sr-status's settings
 * (common/io/sr_kafka_producer.c: enable.idempotence, acks=all, linger.ms
 * 1, murmur2_random). The clock starts when the first record has arrived
 * and stops when every output is acknowledged.
 *
 * Prints one line:
 *   inputs=N outputs=M seconds=S inputs_per_s=R cpu_s=C peak_rss_mb=H
 * cpu_s is this process's CPU over the whole run (getrusage), peak_rss_mb
 * its VmHWM. Exits 1 on any error (a failed delivery included).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <librdkafka/rdkafka.h>

#include "kit_bench.h"

#define MAX_OUT 8
#define MAX_BYTES (1 << 20)

typedef struct out {
        char topic[256];
        double ratio, acc; /* records per input; running remainder */
        int bytes;         /* value size */
} out_t;

typedef struct opts {
        const char *bootstrap, *from, *copy_to;
        out_t out[MAX_OUT];
        int n_out, timeout_s;
} opts_t;

static int g_failed; /* delivery reports with an error */

static void die(const char *what, const char *detail)
{
        fprintf(stderr, "bench_passthrough: %s%s%s\n", what,
                detail ? ": " : "", detail ? detail : "");
        exit(1);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque)
{
        (void)rk;
        (void)opaque;
        if (m->err && g_failed++ < 5)
                fprintf(stderr, "bench_passthrough: delivery failed: %s\n",
                        rd_kafka_err2str(m->err));
}

static void conf_set(rd_kafka_conf_t *c, const char *k, const char *v)
{
        char err[512];

        if (rd_kafka_conf_set(c, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK)
                die(k, err);
}

static void parse(int argc, char **argv, opts_t *o)
{
        o->timeout_s = 300;
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

                if (!v)
                        die("missing value after", a);
                i++;
                if (!strcmp(a, "--bootstrap")) {
                        o->bootstrap = v;
                } else if (!strcmp(a, "--from")) {
                        o->from = v;
                } else if (!strcmp(a, "--copy-to")) {
                        o->copy_to = v;
                } else if (!strcmp(a, "--timeout-s")) {
                        o->timeout_s = atoi(v);
                } else if (!strcmp(a, "--out")) {
                        const char *colon = strchr(v, ':'), *c2;
                        out_t *t = &o->out[o->n_out];

                        if (o->n_out == MAX_OUT)
                                die("too many --out", v);
                        if (!colon || colon == v ||
                            (size_t)(colon - v) >= sizeof(t->topic) ||
                            !(c2 = strchr(colon + 1, ':')))
                                die("--out is TOPIC:RATIO:BYTES, got", v);
                        memcpy(t->topic, v, (size_t)(colon - v));
                        t->ratio = atof(colon + 1);
                        t->bytes = atoi(c2 + 1);
                        if (t->ratio <= 0 || t->ratio > 1000)
                                die("--out RATIO out of (0, 1000]", v);
                        if (t->bytes < 1 || t->bytes > MAX_BYTES)
                                die("--out BYTES out of 1..1048576", v);
                        o->n_out++;
                } else {
                        die("unknown option", a);
                }
        }
        if (!o->bootstrap || !o->from || (!o->n_out && !o->copy_to))
                die("usage: bench_passthrough --bootstrap B --from TOPIC "
                    "(--out TOPIC:RATIO:BYTES... | --copy-to TOPIC) "
                    "[--timeout-s S]",
                    NULL);
}

/* The partitions of @p topic with their watermarks, assigned from low to
 * high into @p rk; returns the number of records to read. */
static int64_t assign_backlog(rd_kafka_t *rk, const char *topic)
{
        const rd_kafka_metadata_t *md;
        rd_kafka_topic_partition_list_t *l;
        rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
        int64_t total = 0;
        rd_kafka_resp_err_t e;

        e = rd_kafka_metadata(rk, 0, t, &md, 10000);
        if (e || md->topic_cnt != 1 || md->topics[0].err)
                die("metadata", e ? rd_kafka_err2str(e) : topic);
        l = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
        for (int i = 0; i < md->topics[0].partition_cnt; i++) {
                int32_t p = md->topics[0].partitions[i].id;
                int64_t lo, hi;

                e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi,
                                                     10000);
                if (e)
                        die("watermarks", rd_kafka_err2str(e));
                if (hi > lo) {
                        rd_kafka_topic_partition_list_add(l, topic, p)
                                ->offset = lo;
                        total += hi - lo;
                }
        }
        rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(t);
        if ((e = rd_kafka_assign(rk, l)))
                die("assign", rd_kafka_err2str(e));
        rd_kafka_topic_partition_list_destroy(l);
        return total;
}

static void produce(rd_kafka_t *p, const char *topic, int32_t part,
                    const rd_kafka_message_t *in, const void *val, size_t len)
{
        rd_kafka_headers_t *h = NULL, *hc = NULL;
        rd_kafka_resp_err_t e;

        if (!rd_kafka_message_headers(in, &h))
                hc = rd_kafka_headers_copy(h);
        for (;;) {
                e = rd_kafka_producev(
                        p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(part),
                        RD_KAFKA_V_KEY(in->key, in->key_len),
                        RD_KAFKA_V_VALUE((void *)val, len),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_HEADERS(hc), RD_KAFKA_V_END);
                if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        break;
                rd_kafka_poll(p, 10);
        }
        if (e) {
                if (hc)
                        rd_kafka_headers_destroy(hc);
                die("produce", rd_kafka_err2str(e));
        }
}

/* @p val (@p n bytes): the input's value, repeated or cut. */
static void fill(unsigned char *val, size_t n, const rd_kafka_message_t *m)
{
        size_t k = 0;

        if (!m->len) {
                memset(val, 0, n);
                return;
        }
        while (k < n) {
                size_t c = n - k < m->len ? n - k : m->len;

                memcpy(val + k, m->payload, c);
                k += c;
        }
}

int main(int argc, char **argv)
{
        opts_t o = { 0 };
        char err[512];
        rd_kafka_conf_t *cc = rd_kafka_conf_new(), *pc = rd_kafka_conf_new();
        rd_kafka_t *c, *p;
        unsigned char *val;
        int64_t want, got = 0, outputs = 0;
        double t0 = 0, t1, deadline;
        struct rusage ru;

        parse(argc, argv, &o);
        conf_set(cc, "bootstrap.servers", o.bootstrap);
        conf_set(cc, "group.id", "bench-passthrough"); /* assign: no join */
        conf_set(cc, "enable.auto.commit", "false");
        conf_set(cc, "fetch.wait.max.ms", "10");
        conf_set(pc, "bootstrap.servers", o.bootstrap);
        conf_set(pc, "enable.idempotence", "true");
        conf_set(pc, "acks", "all");
        conf_set(pc, "linger.ms", "1");
        conf_set(pc, "partitioner", "murmur2_random");
        rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);
        if (!(c = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof(err))))
                die("consumer", err);
        if (!(p = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof(err))))
                die("producer", err);
        val = malloc(MAX_BYTES);
        if (!val)
                die("malloc", NULL);
        /* The producer connected (and its idempotent producer id taken)
         * before the clock can start. */
        for (int i = 0; i < o.n_out + (o.copy_to ? 1 : 0); i++) {
                const rd_kafka_metadata_t *md;
                rd_kafka_topic_t *t = rd_kafka_topic_new(
                        p, i < o.n_out ? o.out[i].topic : o.copy_to, NULL);

                if (rd_kafka_metadata(p, 0, t, &md, 10000) == 0)
                        rd_kafka_metadata_destroy(md);
                rd_kafka_topic_destroy(t);
        }
        for (int i = 0; i < 20; i++)
                rd_kafka_poll(p, 50);
        want = assign_backlog(c, o.from);
        deadline = kit_mono_s() + o.timeout_s;
        while (got < want) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);

                if (kit_mono_s() > deadline)
                        die("timeout: the backlog was not read", o.from);
                rd_kafka_poll(p, 0);
                if (!m)
                        continue;
                if (m->err) {
                        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                die("consume", rd_kafka_message_errstr(m));
                        rd_kafka_message_destroy(m);
                        continue;
                }
                if (!got++)
                        t0 = kit_mono_s();
                if (o.copy_to) {
                        produce(p, o.copy_to, m->partition, m, m->payload,
                                m->len);
                        outputs++;
                }
                for (int i = 0; i < o.n_out; i++) {
                        out_t *t = &o.out[i];

                        fill(val, (size_t)t->bytes, m);
                        for (t->acc += t->ratio; t->acc >= 1.0; t->acc -= 1.0) {
                                produce(p, t->topic, RD_KAFKA_PARTITION_UA, m,
                                        val, (size_t)t->bytes);
                                outputs++;
                        }
                }
                rd_kafka_message_destroy(m);
        }
        if (rd_kafka_flush(p, o.timeout_s * 1000))
                die("flush: outputs not acknowledged in time", NULL);
        t1 = kit_mono_s();
        if (g_failed)
                die("some deliveries failed", NULL);
        getrusage(RUSAGE_SELF, &ru);
        printf("inputs=%" PRId64 " outputs=%" PRId64 " seconds=%.3f "
               "inputs_per_s=%.0f cpu_s=%.3f peak_rss_mb=%.1f\n",
               got, outputs, t1 - t0, got / (t1 - t0 > 0 ? t1 - t0 : 1e-9),
               (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6,
               kit_proc_status_mb("VmHWM"));
        rd_kafka_consumer_close(c);
        rd_kafka_destroy(c);
        rd_kafka_destroy(p);
        free(val);
        return 0;
}
