/* tests/integration/test_sr_kafka.c - the Kafka boundary against librdkafka's
 * mock cluster, started in .init inside each test's own process. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "sr_conf.h"
#include "sr_kafka_mock.h"
#include "sr_kafka.h"

#define PARTS 4

static sr_mock_t *mock;
static sr_conf_t *conf;

static double timeout_mult(void)
{
        const char *m = getenv("SR_TEST_TIMEOUT_MULT");

        return m && atof(m) > 0 ? atof(m) : 1.0;
}

static int64_t mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set(const char *key, const char *value)
{
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_conf_set(conf, key, value, &ec), SR_OK), "%s",
                  ec.msg);
}

static void mock_setup(void)
{
        sr_errctx_t ec = { 0 };

        conf = sr_conf_new();
        cr_assert(not(eq(ptr, conf, NULL)));
        if (getenv("SR_TEST_DEBUG"))
                sr_log_max_level = SR_LOG_DEBUG;
        else
                sr_log_max_level = SR_LOG_WARN;
        cr_assert(eq(int, sr_mock_new(conf, 1, PARTS, &mock, &ec), SR_OK),
                  "%s", ec.msg);
        set("kafka.bootstrap.servers", sr_mock_bootstraps(mock));
        /* The 2.0.2 mock does not wake a waiting fetch. */
        set("kafka.fetch.wait.max.ms", "1");
        set("kafka.session.timeout.ms", "6000");
        set("group.id", "test-group");
        if (getenv("SR_TEST_KAFKA_DEBUG")) /* e.g. "cgrp,fetch" */
                set("kafka.debug", getenv("SR_TEST_KAFKA_DEBUG"));
}

static void mock_teardown(void)
{
        sr_conf_destroy(conf);
        sr_mock_destroy(mock);
}

TestSuite(sr_kafka, .init = mock_setup, .fini = mock_teardown,
          .timeout = 60.0);

/* Send @p n records "k<i>"/"v<i>" with two headers to (topic, part). */
static void produce_n(sr_producer_t *p, sr_topic_kind_t topic, int32_t part,
                      int n)
{
        sr_errctx_t ec = { 0 };

        for (int i = 0; i < n; i++) {
                char key[16], value[16], seq[16];
                sr_outrec_t rec = { 0 };

                snprintf(key, sizeof(key), "k%d", i);
                snprintf(value, sizeof(value), "v%d", i);
                snprintf(seq, sizeof(seq), "%d", i);
                rec.topic = topic;
                rec.partition = part;
                rec.key = sr_slice(key, strlen(key));
                rec.value = sr_slice(value, strlen(value));
                rec.n_headers = 2;
                rec.headers[0].name = "seq";
                rec.headers[0].value = sr_slice(seq, strlen(seq));
                rec.headers[1].name = "nothing"; /* a null header value */
                cr_assert(eq(int, sr_producer_send(p, &rec, &ec), SR_OK),
                          "%s", ec.msg);
        }
}

Test(sr_kafka, hundred_records_are_all_acknowledged)
{
        sr_producer_t *p;
        sr_errctx_t ec = { 0 };
        int64_t t0;

        cr_assert(eq(int, sr_producer_new(conf, "test", &p, &ec), SR_OK),
                  "%s", ec.msg);
        cr_assert(eq(i64, sr_producer_acked_offset(p, SR_TOPIC_EVENTS, 3),
                     -1));
        t0 = mono_ms();
        produce_n(p, SR_TOPIC_EVENTS, 3, 100);
        cr_assert(eq(u64, sr_producer_outstanding(p), 100));
        cr_assert(eq(int, sr_producer_wait(p, (int)(10000 * timeout_mult()),
                                           &ec), SR_OK), "%s", ec.msg);
        cr_log_info("100 records acknowledged in %" PRId64 " ms",
                    mono_ms() - t0);
        cr_assert(eq(u64, sr_producer_outstanding(p), 0));
        cr_assert(eq(i64, sr_producer_acked_offset(p, SR_TOPIC_EVENTS, 3),
                     99));
        cr_assert(eq(i64, sr_producer_acked_offset(p, SR_TOPIC_EVENTS, 2),
                     -1));
        cr_assert(eq(i64, sr_producer_acked_offset(p, SR_TOPIC_EVENTS, 5000),
                     -1));
        sr_producer_destroy(p);
}

/* Kafka's Java client partitioner: murmur2, positive, modulo. */
static int32_t java_partition(const char *key, int32_t n)
{
        const uint32_t m = 0x5bd1e995;
        size_t len = strlen(key);
        uint32_t h = 0x9747b28c ^ (uint32_t)len, k;
        const unsigned char *d = (const unsigned char *)key;

        for (; len >= 4; len -= 4, d += 4) {
                k = (uint32_t)d[0] | (uint32_t)d[1] << 8 |
                    (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24;
                k *= m;
                k ^= k >> 24;
                k *= m;
                h *= m;
                h ^= k;
        }
        switch (len) {
        case 3:
                h ^= (uint32_t)d[2] << 16; /* fall through */
        case 2:
                h ^= (uint32_t)d[1] << 8; /* fall through */
        case 1:
                h ^= d[0];
                h *= m;
        }
        h ^= h >> 13;
        h *= m;
        h ^= h >> 15;
        return (int32_t)((h & 0x7fffffff) % (uint32_t)n);
}

Test(sr_kafka, keyed_records_land_where_murmur2_puts_them)
{
        /* Both records of one key go to the partition Java clients pick. */
        sr_producer_t *p;
        sr_errctx_t ec = { 0 };
        sr_outrec_t rec = { 0 };
        int64_t before[PARTS], lo, hi, after;
        int changed = -1;

        cr_assert(eq(int, sr_producer_new(conf, NULL, &p, &ec), SR_OK), "%s",
                  ec.msg);
        for (int i = 0; i < PARTS; i++)
                before[i] = sr_producer_acked_offset(p, SR_TOPIC_RESULTS, i);
        rec.topic = SR_TOPIC_RESULTS;
        rec.partition = -1;
        rec.key = sr_slice("run-1", 5);
        rec.value = sr_slice("x", 1);
        cr_assert(eq(int, sr_producer_send(p, &rec, &ec), SR_OK));
        cr_assert(eq(int, sr_producer_send(p, &rec, &ec), SR_OK));
        cr_assert(eq(int, sr_producer_wait(p, 10000, &ec), SR_OK), "%s",
                  ec.msg);
        for (int i = 0; i < PARTS; i++) {
                after = sr_producer_acked_offset(p, SR_TOPIC_RESULTS, i);
                if (after != before[i]) {
                        cr_assert(eq(int, changed, -1), "two partitions");
                        changed = i;
                        cr_assert(eq(i64, after, 1));
                }
        }
        cr_assert(eq(int, changed, java_partition("run-1", PARTS)));
        cr_assert(eq(int, sr_kafka_watermarks(conf, SR_TOPIC_RESULTS, changed,
                                              &lo, &hi, 5000, &ec), SR_OK),
                  "%s", ec.msg);
        cr_assert(eq(i64, hi, 2));
        sr_producer_destroy(p);
}

struct hook_log {
        int assigns, revokes;
        int n_parts;
        int32_t parts[PARTS];
};

static void test_on_assign(void *arg, const int32_t *parts, int n,
                           int64_t *starts)
{
        struct hook_log *log = arg;

        log->assigns++;
        log->n_parts = n;
        for (int i = 0; i < n && i < PARTS; i++) {
                log->parts[i] = parts[i];
                /* commands of partition 2 from offset 10; the rest from the
                 * committed offset (none: earliest) */
                if (parts[i] == 2)
                        starts[i * 2 + 0] = 10;
        }
}

/* Counts assignments; every partition from its committed offset. */
static void count_on_assign(void *arg, const int32_t *parts, int n,
                            int64_t *starts)
{
        struct hook_log *log = arg;

        (void)parts;
        (void)starts;
        log->assigns++;
        log->n_parts = n;
}

static void test_on_revoke(void *arg, const int32_t *parts, int n)
{
        struct hook_log *log = arg;

        (void)parts;
        (void)n;
        log->revokes++;
}

Test(sr_kafka, group_consumer_gets_records_headers_and_start_offsets)
{
        static const sr_topic_kind_t topics[] = { SR_TOPIC_COMMANDS,
                                                  SR_TOPIC_RESULTS };
        struct hook_log log = { 0 };
        sr_consumer_hooks_t hooks = { test_on_assign, test_on_revoke, &log };
        sr_inrec_t recs[64];
        int n, commands = 0, results = 0;
        int64_t t0, t_first = -1, deadline, next_cmd = 10;
        sr_producer_t *p;
        sr_consumer_t *c;
        sr_errctx_t ec = { 0 };
        sr_slice_t h;

        cr_assert(eq(int, sr_producer_new(conf, NULL, &p, &ec), SR_OK));
        produce_n(p, SR_TOPIC_COMMANDS, 2, 100);
        produce_n(p, SR_TOPIC_RESULTS, 2, 5);
        cr_assert(eq(int, sr_producer_wait(p, 10000, &ec), SR_OK), "%s",
                  ec.msg);

        t0 = mono_ms();
        cr_assert(eq(int, sr_consumer_new(conf, NULL, topics, 2, &hooks, &c,
                                          &ec), SR_OK), "%s", ec.msg);
        deadline = t0 + (int64_t)(30000 * timeout_mult());
        while ((commands < 90 || results < 5) && mono_ms() < deadline) {
                cr_assert(eq(int, sr_consumer_poll(c, recs, 64, &n, 200, &ec),
                             SR_OK), "%s", ec.msg);
                if (n && t_first < 0)
                        t_first = mono_ms();
                for (int i = 0; i < n; i++) {
                        cr_assert(eq(i32, recs[i].partition, 2));
                        cr_assert(sr_inrec_header(&recs[i], "seq", &h));
                        cr_assert(eq(i64, strtoll(h.ptr, NULL, 10) ==
                                                  recs[i].offset, 1));
                        cr_assert(sr_inrec_header(&recs[i], "nothing", &h));
                        cr_assert(eq(ptr, (void *)h.ptr, NULL));
                        cr_assert(not(sr_inrec_header(&recs[i], "nope", &h)));
                        cr_assert(gt(i64, recs[i].timestamp, 0));
                        if (recs[i].topic == SR_TOPIC_COMMANDS) {
                                cr_assert(eq(i64, recs[i].offset, next_cmd));
                                next_cmd++;
                                commands++;
                        } else {
                                cr_assert(eq(int, recs[i].topic,
                                             SR_TOPIC_RESULTS));
                                results++;
                        }
                }
        }
        cr_log_info("group join + first record after %" PRId64 " ms, all "
                    "after %" PRId64 " ms", t_first - t0, mono_ms() - t0);
        cr_assert(eq(int, commands, 90));
        cr_assert(eq(int, results, 5));
        cr_assert(eq(int, log.assigns, 1));
        cr_assert(eq(int, log.n_parts, PARTS));
        for (int i = 0; i < PARTS; i++)
                cr_assert(eq(i32, log.parts[i], i));
        {
                sr_topic_kind_t ct[] = { SR_TOPIC_COMMANDS, SR_TOPIC_RESULTS };
                int32_t cp[] = { 2, 2 };
                int64_t co[] = { 100, 5 };

                cr_assert(eq(int, sr_consumer_commit(c, ct, cp, co, 2, &ec),
                             SR_OK), "%s", ec.msg);
        }
        /* Lag is known once every partition has had a fetch response. */
        deadline = mono_ms() + 5000;
        while (sr_consumer_lag(c) < 0 && mono_ms() < deadline)
                cr_assert(eq(int, sr_consumer_poll(c, recs, 64, &n, 100,
                                                   &ec), SR_OK));
        cr_assert(eq(i64, sr_consumer_lag(c), 0));
        sr_consumer_destroy(c);
        cr_assert(eq(int, log.revokes, 1));

        /* A member of the same group later (a restarted worker), nothing
         * left to read: its lag is 0, not unknown (-1), although it has
         * consumed nothing yet and so has no position on partition 2. */
        {
                struct hook_log log2 = { 0 };
                sr_consumer_hooks_t h2 = { count_on_assign, test_on_revoke,
                                           &log2 };
                int64_t lag = -1;

                cr_assert(eq(int, sr_consumer_new(conf, NULL, topics, 2, &h2,
                                                  &c, &ec), SR_OK), "%s",
                          ec.msg);
                deadline = mono_ms() + (int64_t)(30000 * timeout_mult());
                do {
                        cr_assert(eq(int, sr_consumer_poll(c, recs, 64, &n,
                                                           200, &ec), SR_OK),
                                  "%s", ec.msg);
                        cr_assert(eq(int, n, 0), "nothing left to read");
                        if (log2.assigns)
                                lag = sr_consumer_lag(c);
                } while (lag != 0 && mono_ms() < deadline);
                cr_assert(eq(int, log2.n_parts, PARTS));
                cr_assert(eq(i64, lag, 0), "an idle member's lag: %" PRId64,
                          lag);
                sr_consumer_destroy(c);
        }
        sr_producer_destroy(p);
}

struct read_log {
        int n;
        int64_t next;
        bool stop_at_5;
};

static int read_cb(const sr_inrec_t *rec, void *arg)
{
        struct read_log *log = arg;

        if (rec->offset != log->next)
                return -1;
        log->next++;
        log->n++;
        return log->stop_at_5 && rec->offset == 5;
}

Test(sr_kafka, read_partition_stops_exactly_at_end_offset)
{
        struct read_log log = { 0 };
        sr_producer_t *p;
        sr_errctx_t ec = { 0 };
        int64_t lo = -5, hi = -5, t0;

        cr_assert(eq(int, sr_producer_new(conf, NULL, &p, &ec), SR_OK));
        produce_n(p, SR_TOPIC_CHANGELOG, 1, 20);
        cr_assert(eq(int, sr_producer_wait(p, 10000, &ec), SR_OK), "%s",
                  ec.msg);
        cr_assert(eq(int, sr_kafka_watermarks(conf, SR_TOPIC_CHANGELOG, 1,
                                              &lo, &hi, 5000, &ec), SR_OK),
                  "%s", ec.msg);
        cr_assert(eq(i64, lo, 0));
        cr_assert(eq(i64, hi, 20));
        cr_assert(eq(int, sr_kafka_watermarks(conf, SR_TOPIC_CHANGELOG, 0,
                                              &lo, &hi, 5000, &ec), SR_OK));
        cr_assert(eq(i64, hi, 0));

        t0 = mono_ms();
        cr_assert(eq(int, sr_kafka_read_partition(conf, SR_TOPIC_CHANGELOG, 1,
                                                  15, read_cb, &log, 10000,
                                                  &ec), SR_OK), "%s", ec.msg);
        cr_log_info("read 15 records in %" PRId64 " ms", mono_ms() - t0);
        cr_assert(eq(int, log.n, 15));

        memset(&log, 0, sizeof(log));
        cr_assert(eq(int, sr_kafka_read_partition(conf, SR_TOPIC_CHANGELOG, 1,
                                                  20, read_cb, &log, 10000,
                                                  &ec), SR_OK), "%s", ec.msg);
        cr_assert(eq(int, log.n, 20));

        memset(&log, 0, sizeof(log));
        cr_assert(eq(int, sr_kafka_read_partition(conf, SR_TOPIC_CHANGELOG, 0,
                                                  0, read_cb, &log, 10000,
                                                  &ec), SR_OK));
        cr_assert(eq(int, log.n, 0));

        memset(&log, 0, sizeof(log));
        log.stop_at_5 = true;
        cr_assert(eq(int, sr_kafka_read_partition(conf, SR_TOPIC_CHANGELOG, 1,
                                                  20, read_cb, &log, 10000,
                                                  &ec), SR_ERR_INVALID));
        cr_assert(eq(int, log.n, 6));

        /* An end beyond the log: times out, says so. */
        memset(&log, 0, sizeof(log));
        cr_assert(eq(int, sr_kafka_read_partition(conf, SR_TOPIC_CHANGELOG, 1,
                                                  25, read_cb, &log, 1500,
                                                  &ec), SR_ERR_RETRY));
        cr_assert(eq(int, log.n, 20));
        cr_assert(not(eq(ptr, strstr(ec.msg, "timed out"), NULL)), "%s",
                  ec.msg);
        sr_producer_destroy(p);
}

Test(sr_kafka, send_to_missing_topic_fails_within_bounded_time)
{
        sr_producer_t *p;
        sr_errctx_t ec = { 0 };
        sr_outrec_t rec = { 0 };
        int64_t t0;
        sr_err_t err;

        set("topic.prefix", "nope.");
        set("kafka.message.timeout.ms", "5000");
        cr_assert(eq(int, sr_producer_new(conf, NULL, &p, &ec), SR_OK));
        rec.topic = SR_TOPIC_EVENTS;
        rec.partition = -1;
        rec.value = sr_slice("x", 1);
        t0 = mono_ms();
        err = sr_producer_send(p, &rec, &ec);
        if (err == SR_OK)
                err = sr_producer_wait(p, 20000, &ec);
        cr_log_info("missing topic: %s after %" PRId64 " ms: %s",
                    sr_err_name(err), mono_ms() - t0, ec.msg);
        cr_assert(eq(int, err, SR_ERR_RETRY));
        cr_assert(lt(i64, mono_ms() - t0, 15000));
        cr_assert(eq(u64, sr_producer_outstanding(p), 0));
        sr_producer_destroy(p);
}

Test(sr_kafka, watermarks_of_missing_partition_is_an_error)
{
        sr_errctx_t ec = { 0 };
        int64_t lo, hi;
        sr_err_t err;

        err = sr_kafka_watermarks(conf, SR_TOPIC_EVENTS, 77, &lo, &hi, 3000,
                                  &ec);
        cr_log_info("missing partition: %s: %s", sr_err_name(err), ec.msg);
        cr_assert(not(eq(int, err, SR_OK)));
}

Test(sr_kafka, reader_follows_partitions_from_beginning_or_end)
{
        sr_reader_part_t parts[2] = {
                { SR_TOPIC_REPLIES, 0, SR_READER_BEGINNING },
                { SR_TOPIC_REPLIES, 1, SR_READER_END },
        };
        sr_inrec_t recs[64];
        sr_errctx_t ec = { 0 };
        sr_producer_t *p;
        sr_reader_t *r;
        int64_t end, next_send = 0;
        int got[2] = { 0, 0 }, n;

        cr_assert(eq(int, sr_producer_new(conf, "t", &p, &ec), SR_OK), "%s",
                  ec.msg);
        produce_n(p, SR_TOPIC_REPLIES, 0, 5);
        produce_n(p, SR_TOPIC_REPLIES, 1, 5); /* before the reader: unseen */
        cr_assert(eq(int, sr_producer_wait(p, 10000, &ec), SR_OK), "%s",
                  ec.msg); /* written before the reader starts */
        cr_assert(eq(int, sr_reader_new(conf, parts, 2, &r, &ec), SR_OK),
                  "%s", ec.msg);
        /* Keep adding to partition 1 until the reader, once its END
         * position resolved, sees some: none may be from before it. */
        for (end = mono_ms() + (int64_t)(20000 * timeout_mult());
             mono_ms() < end && (got[0] < 5 || got[1] == 0);) {
                if (mono_ms() >= next_send) {
                        produce_n(p, SR_TOPIC_REPLIES, 1, 1);
                        next_send = mono_ms() + 200;
                }
                cr_assert(eq(int, sr_reader_poll(r, recs, 64, &n, 50, &ec),
                             SR_OK));
                for (int i = 0; i < n; i++) {
                        cr_assert(eq(int, recs[i].topic, SR_TOPIC_REPLIES));
                        if (recs[i].partition == 1)
                                cr_assert(ge(i64, recs[i].offset, 5),
                                          "END reader saw an old record");
                        got[recs[i].partition]++;
                }
        }
        cr_assert(eq(int, got[0], 5));
        cr_assert(gt(int, got[1], 0));
        sr_reader_destroy(r);
        sr_producer_destroy(p);
}

/* A record over message.max.bytes is refused at once as too large, and a
 * record the broker refuses (its delivery report) is reported as refused,
 * not as a transient failure to send again at once. */
Test(sr_kafka, refused_records_are_told_apart_from_transient_failures)
{
        static char big[3000];
        rd_kafka_resp_err_t errs[1] = { RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE };
        sr_producer_t *p;
        sr_outrec_t rec = { 0 };
        sr_errctx_t ec = { 0 };

        set("kafka.message.max.bytes", "2000");
        cr_assert(eq(int, sr_producer_new(conf, "t", &p, &ec), SR_OK), "%s",
                  ec.msg);
        rec.topic = SR_TOPIC_EVENTS;
        rec.partition = 0;
        rec.key = sr_slice("k", 1);
        rec.value = sr_slice(big, sizeof(big));
        cr_assert(eq(int, sr_producer_send(p, &rec, &ec), SR_ERR_TOO_LARGE),
                  "%s", ec.msg);
        cr_assert(not(eq(ptr, strstr(ec.msg, "MSG_SIZE_TOO_LARGE"), NULL)),
                  "%s", ec.msg);
        rd_kafka_mock_push_request_errors_array(sr_mock_cluster(mock),
                                                0 /* Produce */, 1, errs);
        rec.value.len = 100;
        cr_assert(eq(int, sr_producer_send(p, &rec, &ec), SR_OK), "%s",
                  ec.msg);
        cr_assert(eq(int, sr_producer_wait(p, 10000, &ec), SR_ERR_TOO_LARGE),
                  "%s", ec.msg);
        cr_assert(eq(int, sr_producer_send(p, &rec, &ec), SR_OK));
        cr_assert(eq(int, sr_producer_wait(p, 10000, &ec), SR_OK), "%s",
                  ec.msg);
        sr_producer_destroy(p);
}

/* The gateway's broker probe: a reader's metadata request is answered
 * while the broker is up, not while it is down, and librdkafka's "all
 * brokers down" reaches the reader's owner. */
Test(sr_kafka, reader_ping_and_all_brokers_down_follow_the_broker)
{
        sr_reader_part_t part = { SR_TOPIC_EVENTS, 0, SR_READER_END };
        sr_inrec_t recs[4];
        sr_reader_t *r;
        sr_errctx_t ec = { 0 };
        char why[200] = "";
        bool down = false;
        int n;

        cr_assert(eq(int, sr_reader_new(conf, &part, 1, &r, &ec), SR_OK),
                  "%s", ec.msg);
        cr_assert(eq(int, sr_reader_ping(r, 5000, &ec), SR_OK), "%s",
                  ec.msg);
        cr_assert(not(sr_reader_all_brokers_down(r, why, sizeof(why))));
        cr_assert(eq(int, rd_kafka_mock_broker_set_down(sr_mock_cluster(mock),
                                                        1),
                     RD_KAFKA_RESP_ERR_NO_ERROR));
        for (int64_t end = mono_ms() + 10000; !down && mono_ms() < end;) {
                cr_assert(eq(int, sr_reader_poll(r, recs, 4, &n, 100, &ec),
                             SR_OK));
                down = sr_reader_all_brokers_down(r, why, sizeof(why));
        }
        cr_assert(down, "no all-brokers-down report");
        cr_assert(not(eq(ptr, strstr(why, "_ALL_BROKERS_DOWN"), NULL)),
                  "%s", why);
        cr_assert(eq(int, sr_reader_ping(r, 500, &ec), SR_ERR_RETRY));
        cr_assert(eq(int, rd_kafka_mock_broker_set_up(sr_mock_cluster(mock),
                                                      1),
                     RD_KAFKA_RESP_ERR_NO_ERROR));
        for (int64_t end = mono_ms() + 15000;
             sr_reader_ping(r, 500, &ec) != SR_OK;)
                cr_assert(lt(i64, mono_ms(), end), "no answer after the "
                          "broker came back: %s", ec.msg);
        sr_reader_destroy(r);
}
