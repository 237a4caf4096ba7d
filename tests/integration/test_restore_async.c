/* tests/integration/test_restore_async.c - a restore runs beside the poll
 * loop (docs/guarantee.md, "Assignment and restore"): a partition whose
 * changelog holds a million records is restored by a worker whose
 * max.poll.interval.ms is well under the restore's time, without a
 * rebalance, while its other partition is processed; a worker that leaves
 * during a restore stops it at once and nothing half-restored is trusted.
 *
 * The big changelog: a worker processes one run per partition, then the
 * test appends to sr.changelog [0] copies of that partition's own records
 * (same keys, same values, in the same order: the state they restore to is
 * the run's real state), in batches of a writer of its own, each closed by
 * its marker (the last real marker's offsets). zstd keeps the a million
 * records under the mock's 5 MiB per partition.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <inttypes.h>

#include "sr_clock.h"
#include "sr_metrics.h"
#include "sr_store.h"
#include "testkit.h"

#define PARTS 2
#define BULK_RECORDS 1000000

static kit_t kit;
static sr_metrics_t *metrics;

static void setup(void)
{
        kit_open(&kit, PARTS);
        metrics = sr_metrics_new();
}

static void teardown(void)
{
        kit_close(&kit);
        sr_metrics_destroy(metrics);
}

TestSuite(restore_async, .init = setup, .fini = teardown, .timeout = 120.0);

/* The partition the project's producers put @p run on. */
static int32_t partition_of(const sr_uuid_t *run)
{
        char key[SR_UUID_STR_LEN + 1];

        sr_uuid_fmt(run, key);
        return rd_kafka_msg_partitioner_murmur2_random(
                NULL, key, SR_UUID_STR_LEN, kit.parts, NULL, NULL);
}

static sr_uuid_t run_on(int32_t part)
{
        sr_uuid_t id;

        do
                sr_uuid_v4(&id);
        while (partition_of(&id) != part);
        return id;
}

static double metric(const char *name, bool gauge)
{
        return sr_series_value(gauge ? sr_metrics_gauge(metrics, name, "",
                                                        NULL) :
                                       sr_metrics_counter(metrics, name, "",
                                                          NULL));
}

static double restoring(void)
{
        return metric("sr_restore_partitions_in_progress", true);
}

struct reply_arg {
        sr_uuid_t cmd;
};

static bool have_reply(kit_t *k, void *arg)
{
        struct reply_arg *a = arg;

        for (int i = 0; i < k->n_replies; i++)
                if (sr_uuid_eq(&k->replies[i].command_id, &a->cmd))
                        return true;
        return false;
}

static bool dispatched(kit_t *k, void *arg)
{
        const sr_uuid_t *run = arg;

        for (int i = 0; i < k->n_dispatches; i++)
                if (sr_uuid_eq(&k->dispatches[i].pipeline_run_id, run))
                        return true;
        return false;
}

/* One run per partition, processed by a first worker that then leaves. */
static void two_runs(sr_uuid_t *r0, sr_uuid_t *r1)
{
        sr_runspec_t spec;

        *r0 = run_on(0);
        *r1 = run_on(1);
        kit_start_worker(&kit);
        kit_spec(&spec, 2, 12, 24, false);
        kit_create(&kit, r0, &spec, NULL);
        kit_create(&kit, r1, &spec, NULL);
        sr_runspec_fini(&spec);
        cr_assert(kit_pump_until(&kit, dispatched, r0, 30000));
        cr_assert(kit_pump_until(&kit, dispatched, r1, 30000));
        kit_stop_worker(&kit);
}

typedef struct clrec {
        char *key;
        size_t klen;
        void *val;
        size_t vlen;
} clrec_t;

typedef struct cl_copy {
        clrec_t *recs;
        int n, cap;
        sr_cl_marker_t last_marker;
        bool have_marker;
} cl_copy_t;

static int collect(const sr_inrec_t *in, void *arg)
{
        cl_copy_t *c = arg;
        sr_changelog_t cl;
        sr_errctx_t ec = { 0 };

        if (in->key.len >= 7 && !memcmp(in->key.ptr, "~marker", 7)) {
                cr_assert(sr_codec_decode_changelog(kit.codec, in->value, &cl,
                                                    &ec) == SR_OK,
                          "%s", ec.msg);
                c->last_marker = cl.u.marker;
                c->have_marker = true;
                return 0;
        }
        if (c->n == c->cap) {
                c->cap = c->cap ? 2 * c->cap : 64;
                c->recs = realloc(c->recs, (size_t)c->cap * sizeof(*c->recs));
        }
        c->recs[c->n].key = malloc(in->key.len);
        memcpy(c->recs[c->n].key, in->key.ptr, in->key.len);
        c->recs[c->n].klen = in->key.len;
        c->recs[c->n].vlen = in->value.len;
        c->recs[c->n].val = NULL;
        if (in->value.ptr) {
                c->recs[c->n].val = malloc(in->value.len);
                memcpy(c->recs[c->n].val, in->value.ptr, in->value.len);
        }
        c->n++;
        return 0;
}

static int64_t changelog_end(int32_t part)
{
        int64_t lo, hi;
        sr_errctx_t ec = { 0 };

        cr_assert(sr_kafka_watermarks(kit.conf, SR_TOPIC_CHANGELOG, part, &lo,
                                      &hi, 5000, &ec) == SR_OK,
                  "%s", ec.msg);
        cr_assert(eq(i64, lo, 0), "the mock dropped the changelog's start");
        return hi;
}

/* Append at least @p n copies of sr.changelog [0]'s entity records, in
 * complete batches of a writer of its own. Returns the changelog's end. */
static int64_t grow_changelog(int n)
{
        char errstr[256], topic[256], writer[SR_UUID_STR_LEN + 1];
        char bid[64], mkey[128];
        cl_copy_t c = { 0 };
        sr_errctx_t ec = { 0 };
        rd_kafka_conf_t *kc = rd_kafka_conf_new();
        rd_kafka_t *rk;
        sr_uuid_t u;
        int sent = 0, per_batch;
        double t0 = sr_clock_mono_ms();

        cr_assert(sr_kafka_read_partition(kit.conf, SR_TOPIC_CHANGELOG, 0,
                                          changelog_end(0), collect, &c, 10000,
                                          &ec) == SR_OK,
                  "%s", ec.msg);
        cr_assert(c.n > 0 && c.have_marker);
        sr_uuid_v4(&u);
        sr_uuid_fmt(&u, writer);
        snprintf(mkey, sizeof(mkey), "~marker/%s", writer);
        sr_kafka_topic_name(kit.conf, SR_TOPIC_CHANGELOG, topic,
                            sizeof(topic));
        rd_kafka_conf_set(kc, "bootstrap.servers", kit.bootstrap, errstr,
                          sizeof(errstr));
        cr_assert(rd_kafka_conf_set(kc, "compression.codec", "zstd", errstr,
                                    sizeof(errstr)) == RD_KAFKA_CONF_OK,
                  "%s", errstr);
        /* batches cut by size, not by time: a slower producer (ASan) must not
         * make smaller, less compressed batches that overflow the mock's
         * 5 MiB per partition */
        rd_kafka_conf_set(kc, "linger.ms", "30000", errstr, sizeof(errstr));
        rd_kafka_conf_set(kc, "batch.num.messages", "1000000", errstr,
                          sizeof(errstr));
        rd_kafka_conf_set(kc, "batch.size", "50000000", errstr,
                          sizeof(errstr));
        rd_kafka_conf_set(kc, "message.max.bytes", "60000000", errstr,
                          sizeof(errstr));
        rd_kafka_conf_set(kc, "queue.buffering.max.messages", "2000000",
                          errstr, sizeof(errstr));
        rd_kafka_conf_set(kc, "queue.buffering.max.kbytes", "2000000",
                          errstr, sizeof(errstr));
        rd_kafka_conf_set(kc, "log_level", "3", errstr, sizeof(errstr));
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof(errstr));
        cr_assert(rk != NULL, "%s", errstr);
        /* whole copies of the records: each batch ends in the real state */
        per_batch = c.n * (1000 / c.n > 0 ? 1000 / c.n : 1);
        for (int b = 0; sent < n; b++) {
                sr_changelog_t cl = { 0 };
                sr_buf_t mv = { 0 };
                rd_kafka_headers_t *h;

                snprintf(bid, sizeof(bid), "%s/%d", writer, b + 1);
                for (int i = 0; i < per_batch; i++, sent++) {
                        const clrec_t *r = &c.recs[i % c.n];

                        h = rd_kafka_headers_new(1);
                        rd_kafka_header_add(h, "sr_batch", -1, bid, -1);
                        cr_assert(eq(int, rd_kafka_producev(
                                     rk, RD_KAFKA_V_TOPIC(topic),
                                     RD_KAFKA_V_PARTITION(0),
                                     RD_KAFKA_V_KEY(r->key, r->klen),
                                     RD_KAFKA_V_VALUE(r->val, r->vlen),
                                     RD_KAFKA_V_HEADERS(h),
                                     RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                     RD_KAFKA_V_END), 0));
                }
                cl.kind = SR_CL_MARKER;
                cl.u.marker = c.last_marker;
                snprintf(cl.u.marker.batch_id, sizeof(cl.u.marker.batch_id),
                         "%s", bid);
                cr_assert(sr_codec_encode_changelog(kit.codec, &cl, &mv,
                                                    &ec) == SR_OK,
                          "%s", ec.msg);
                cr_assert(eq(int, rd_kafka_producev(
                             rk, RD_KAFKA_V_TOPIC(topic),
                             RD_KAFKA_V_PARTITION(0),
                             RD_KAFKA_V_KEY(mkey, strlen(mkey)),
                             RD_KAFKA_V_VALUE(mv.ptr, mv.len),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_END), 0));
                sr_buf_free(&mv);
                rd_kafka_poll(rk, 0);
        }
        cr_assert(eq(int, rd_kafka_flush(rk, 60000), 0));
        rd_kafka_destroy(rk);
        for (int i = 0; i < c.n; i++) {
                free(c.recs[i].key);
                free(c.recs[i].val);
        }
        free(c.recs);
        fprintf(stderr, "changelog [0]: %d records appended in %.1f s\n",
                sent, (sr_clock_mono_ms() - t0) / 1000.0);
        return changelog_end(0);
}

/* The group notices a member that stops polling after this long. */
static void short_poll_interval(void)
{
        kit_set(&kit, "kafka.session.timeout.ms", "3000");
        kit_set(&kit, "kafka.heartbeat.interval.ms", "500");
        kit_set(&kit, "kafka.max.poll.interval.ms", "3000");
        /* A restore longer than 2 x max.poll.interval.ms (6 s): the
         * changelog reader fetches 10,000 records at a time and waits for
         * librdkafka's next fetch decision between them. Since the reader
         * stopped stalling on its default (2026-12-05) a million records
         * restored here in 2.4 s, and the mock keeps at most ~1.2M of them
         * (5 MiB a partition) nor a group with sessions under 3 s. */
        kit_set(&kit, "kafka.queued.min.messages", "10000");
}

static void start_worker_with_metrics(void)
{
        sr_errctx_t ec = { 0 };

        cr_assert(sr_worker_new(kit.conf, metrics, &kit.w, &ec) == SR_OK,
                  "%s", ec.msg);
}

static bool restore_started(kit_t *k, void *arg)
{
        (void)k;
        (void)arg;
        /* (a restore inside the rebalance callback is over by then) */
        return metric("sr_restore_records_total", false) > 0;
}

static bool restore_over(kit_t *k, void *arg)
{
        (void)k;
        (void)arg;
        return restoring() == 0 &&
               metric("sr_partitions_assigned_total", false) > 0;
}

static void cancel_run(const sr_uuid_t *run, sr_uuid_t *cmd)
{
        memset(cmd, 0, sizeof(*cmd));
        kit_set_status(&kit, SR_CMD_SET_PIPELINE_RUN_STATUS, run, NULL,
                       "cancelled", cmd);
}

static const sr_reply_t *reply_of(const sr_uuid_t *cmd)
{
        for (int i = 0; i < kit.n_replies; i++)
                if (sr_uuid_eq(&kit.replies[i].command_id, cmd))
                        return &kit.replies[i];
        return NULL;
}

Test(restore_async,
     a_long_restore_keeps_the_group_and_the_other_partition_going)
{
        sr_uuid_t r0, r1, c0, c1;
        struct reply_arg a1, a0;
        kit_status_arg_t st0, st1;
        double t_start, t_r1 = 0, t_over = 0;
        int64_t end;

        short_poll_interval();
        two_runs(&r0, &r1);
        end = grow_changelog(BULK_RECORDS);
        cr_assert(end >= BULK_RECORDS);
        start_worker_with_metrics();
        /* Partition 0's snapshot is behind its changelog: restored. */
        cr_assert(kit_pump_until(&kit, restore_started, NULL, 30000),
                  "no restore began");
        t_start = sr_clock_mono_ms();
        cancel_run(&r1, &c1); /* partition 1: processed meanwhile */
        cancel_run(&r0, &c0); /* partition 0: after its restore */
        a1.cmd = c1;
        a0.cmd = c0;
        while (sr_clock_mono_ms() - t_start < 60000) {
                sr_errctx_t ec = { 0 };

                cr_assert(sr_worker_poll(kit.w, &ec) == SR_OK, "%s", ec.msg);
                kit_drain(&kit, 0);
                if (!t_r1 && have_reply(&kit, &a1)) {
                        t_r1 = sr_clock_mono_ms();
                        cr_assert(restoring() > 0,
                                  "partition 1 answered only after the "
                                  "restore of partition 0");
                        cr_assert(not(have_reply(&kit, &a0)),
                                  "partition 0 answered while restoring");
                }
                if (!t_over && restoring() == 0) {
                        t_over = sr_clock_mono_ms();
                        /* /readyz was not ready until now */
                }
                if (t_r1 && t_over && have_reply(&kit, &a0))
                        break;
        }
        fprintf(stderr, "assigned %.0f revoked %.0f\n",
                metric("sr_partitions_assigned_total", false),
                metric("sr_partitions_revoked_total", false));
        cr_assert(t_r1 > 0, "no reply on partition 1");
        cr_assert(t_over > 0, "the restore never ended");
        fprintf(stderr, "restore of %" PRId64 " records: %.1f s from its "
                "first record (%.0f records/s); partition 1 answered "
                "after %.2f s\n", end, (t_over - t_start) / 1000.0,
                (double)end / ((t_over - t_start) / 1000.0),
                (t_r1 - t_start) / 1000.0);
        cr_assert(t_over - t_start > 2 * 3000,
                  "restore shorter than 2 x max.poll.interval.ms: the test "
                  "proves nothing");
        cr_assert(have_reply(&kit, &a0), "no reply on partition 0");
        cr_assert(reply_of(&c0)->accepted && reply_of(&c1)->accepted);
        /* No rebalance: one assignment of both partitions, no revoke. */
        cr_assert(eq(dbl, metric("sr_partitions_assigned_total", false),
                     PARTS));
        cr_assert(eq(dbl, metric("sr_partitions_revoked_total", false), 0));
        cr_assert(eq(dbl, metric("sr_restore_records_remaining", true), 0));
        /* The restored state is the run's: it cancels like the other. */
        st0 = (kit_status_arg_t){ r0, SR_ST_CANCELLED };
        st1 = (kit_status_arg_t){ r1, SR_ST_CANCELLED };
        cr_assert(kit_pump_until(&kit, kit_status_is, &st0, 30000));
        cr_assert(kit_pump_until(&kit, kit_status_is, &st1, 30000));
        kit_check_seq(&kit, &r0);
        kit_check_seq(&kit, &r1);
        {
                char why[200];

                cr_assert(sr_worker_is_ready(kit.w, why, sizeof(why)), "%s",
                          why);
        }
}

/* The partition metadata of @p part in the store of @p dir; false: none. */
static bool store_pmeta(const char *dir, int32_t part, sr_store_pmeta_t *pm)
{
        sr_store_opts_t so = { 0 };
        sr_store_t *st = NULL;
        sr_txn_t *txn = NULL;
        sr_errctx_t ec = { 0 };
        sr_err_t err;

        so.dir = dir;
        so.map_size = 64u << 20;
        cr_assert(sr_store_open(&so, &st, &ec) == SR_OK, "%s", ec.msg);
        cr_assert(sr_store_txn_begin(st, false, &txn, &ec) == SR_OK, "%s",
                  ec.msg);
        err = sr_store_pmeta_get(txn, part, pm, &ec);
        sr_store_txn_abort(txn);
        sr_store_close(st);
        cr_assert(err == SR_OK || err == SR_ERR_NOT_FOUND, "%s", ec.msg);
        return err == SR_OK;
}

static bool restore_halfway(kit_t *k, void *arg)
{
        (void)k;
        (void)arg;
        return restoring() > 0 &&
               metric("sr_restore_records_total", false) > 100000;
}

Test(restore_async,
     a_worker_leaving_during_a_restore_stops_it_and_the_next_owner_restores)
{
        sr_uuid_t r0, r1, c0;
        struct reply_arg a0;
        kit_status_arg_t st0;
        sr_store_pmeta_t pm;
        double t0;
        int64_t end;

        short_poll_interval();
        two_runs(&r0, &r1);
        end = grow_changelog(BULK_RECORDS / 2);
        start_worker_with_metrics();
        cr_assert(kit_pump_until(&kit, restore_halfway, NULL, 30000),
                  "no restore under way");
        cr_assert(metric("sr_restore_records_remaining", true) > 0);
        /* The worker leaves (SIGTERM's path): the revoke cancels the
         * restore at once, without reading the rest. */
        t0 = sr_clock_mono_ms();
        kit_stop_worker(&kit);
        cr_assert(sr_clock_mono_ms() - t0 < 3000,
                  "leaving took %.0f ms", sr_clock_mono_ms() - t0);
        cr_assert(eq(dbl, metric("sr_restores_cancelled_total", false), 1));
        cr_assert(metric("sr_restore_records_total", false) < (double)end,
                  "the restore ran to its end");
        /* Nothing half-restored is trusted: no changelog end recorded. */
        cr_assert(not(store_pmeta(kit.dir, 0, &pm) &&
                      pm.changelog_end == end + 1), /* + its claim */
                  "a cancelled restore left a trusted snapshot");
        /* The next owner (the same data dir) restores it all again. */
        sr_metrics_destroy(metrics);
        metrics = sr_metrics_new();
        start_worker_with_metrics();
        cr_assert(kit_pump_until(&kit, restore_over, NULL, 60000),
                  "the next owner did not restore");
        /* the records, the first owner's claim and its own (docs/
         * guarantee.md, "Fencing") */
        cr_assert(eq(dbl, metric("sr_restore_records_total", false),
                     (double)(end + 2)));
        cancel_run(&r0, &c0);
        a0.cmd = c0;
        cr_assert(kit_pump_until(&kit, have_reply, &a0, 30000));
        cr_assert(reply_of(&c0)->accepted);
        st0 = (kit_status_arg_t){ r0, SR_ST_CANCELLED };
        cr_assert(kit_pump_until(&kit, kit_status_is, &st0, 30000));
        kit_check_seq(&kit, &r0);
}
