/* tests/integration/test_input_loss.c - input records deleted by the
 * topic's retention before any worker read them are reported and counted
 * (issue 11, the stuck run of the three-broker chaos scenario: its results
 * were deleted by a 30 s retention while their partition had no owner, and
 * the next owner went on from the log's start without a word).
 *
 * The mock cluster keeps at most 5 MiB per partition: results produced
 * while no worker runs push the partition's log start past the offset the
 * worker's snapshot resumes from, as retention does on a real broker. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "sr_metrics.h"
#include "testkit.h"

static kit_t kit;
static sr_metrics_t *metrics;

static void setup(void)
{
        kit_open(&kit, 1);
        metrics = sr_metrics_new();
}

static void teardown(void)
{
        kit_close(&kit);
        sr_metrics_destroy(metrics);
}

TestSuite(input_loss, .init = setup, .fini = teardown, .timeout = 120.0);

static double lost(const char *topic)
{
        char labels[64];

        snprintf(labels, sizeof(labels), "topic=\"%s\"", topic);
        return sr_series_value(sr_metrics_counter(
                metrics, "sr_input_records_lost_total", "", labels));
}

static bool results_lost(kit_t *k, void *arg)
{
        (void)k;
        (void)arg;
        return lost("results") > 0;
}

static void start_worker_with_metrics(void)
{
        sr_errctx_t ec = { 0 };

        cr_assert(sr_worker_new(kit.conf, metrics, &kit.w, &ec) == SR_OK,
                  "%s", ec.msg);
}

/* A run of one stage, one operation and two targets, both dispatched. */
static void start_run(sr_uuid_t *run)
{
        sr_runspec_t spec;
        kit_count_arg_t both;

        sr_uuid_v4(run);
        kit_spec(&spec, 1, 1, 2, true);
        kit_create(&kit, run, &spec, NULL);
        sr_runspec_fini(&spec);
        both = (kit_count_arg_t){ run, 2 };
        cr_assert(kit_pump_until(&kit, kit_dispatches_at_least, &both,
                                 30000));
}

Test(input_loss,
     results_deleted_before_any_worker_read_them_are_counted_and_logged)
{
        static char junk[100 * 1024];
        sr_uuid_t run;
        kit_status_arg_t ran;
        sr_errctx_t ec = { 0 };
        int64_t lo, hi, lo2, hi2;

        /* A run whose first device answered: the snapshot resumes the
         * results at offset 1. */
        start_worker_with_metrics();
        start_run(&run);
        kit_result_for(&kit, &kit.dispatches[0], "SUCCESS", NULL);
        ran = (kit_status_arg_t){ kit.dispatches[0].target_run_id,
                                  SR_ST_SUCCESS };
        cr_assert(kit_pump_until(&kit, kit_status_is, &ran, 30000));
        kit_stop_worker(&kit);
        cr_assert(eq(dbl, lost("results"), 0));

        /* No owner while 6 MiB of results arrive: the oldest are gone. */
        cr_assert(eq(int, sr_kafka_watermarks(kit.conf, SR_TOPIC_RESULTS, 0,
                                              &lo, &hi, 5000, &ec), SR_OK),
                  "%s", ec.msg);
        cr_assert(eq(i64, hi, 1));
        memset(junk, 'j', sizeof(junk));
        for (int i = 0; i < 60; i++)
                kit_send(&kit, SR_TOPIC_RESULTS, &run,
                         sr_slice(junk, sizeof(junk)));
        cr_assert(eq(int, sr_kafka_watermarks(kit.conf, SR_TOPIC_RESULTS, 0,
                                              &lo2, &hi2, 5000, &ec), SR_OK),
                  "%s", ec.msg);
        cr_assert(gt(i64, lo2, 1), "the mock kept every record (log start "
                  "%" PRId64 ")", lo2);

        /* The next owner resumes from its snapshot: it finds the gap,
         * logs it and counts exactly the records it will never see. */
        start_worker_with_metrics();
        cr_assert(kit_pump_until(&kit, results_lost, NULL, 30000),
                  "no input loss reported");
        cr_assert(eq(dbl, lost("results"), (double)(lo2 - 1)));
        cr_assert(eq(dbl, lost("commands"), 0));
}

typedef struct {
        int64_t lo; /* the results' log start once the junk was sent */
} jump_arg_t;

/* The worker read past the jump: a loss counted and a record from the
 * log's start dead-lettered. */
static bool jumped(kit_t *k, void *arg)
{
        const jump_arg_t *a = arg;

        if (lost("results") <= 0)
                return false;
        for (int i = 0; i < k->n_dlq; i++)
                if (k->dlq[i].offset >= a->lo)
                        return true;
        return false;
}

Test(input_loss,
     results_deleted_while_the_worker_lags_behind_them_are_counted_and_logged)
{
        static char junk[100 * 1024];
        enum { N_JUNK = 60 };
        sr_uuid_t run;
        jump_arg_t jump;
        sr_errctx_t ec = { 0 };
        int64_t lo, hi, read_before = 0, first_after = INT64_MAX;

        /* A worker whose fetcher stops after 64 KiB queued: while it is
         * not polled it falls behind what the topic keeps. (It then
         * fetches a record about every second: the test waits for the
         * first ones past the jump only.) */
        kit_set(&kit, "kafka.queued.max.messages.kbytes", "64");
        start_worker_with_metrics();
        start_run(&run);
        cr_assert(eq(int, kit.n_dlq, 0));

        /* 6 MiB of results while the worker runs but is not polled: the
         * mock keeps 5 MiB, the oldest go before the worker reads them. */
        memset(junk, 'j', sizeof(junk));
        for (int i = 0; i < N_JUNK; i++)
                kit_send(&kit, SR_TOPIC_RESULTS, &run,
                         sr_slice(junk, sizeof(junk)));
        cr_assert(eq(int, sr_kafka_watermarks(kit.conf, SR_TOPIC_RESULTS, 0,
                                              &lo, &hi, 5000, &ec), SR_OK),
                  "%s", ec.msg);
        cr_assert(eq(i64, hi, N_JUNK));
        cr_assert(gt(i64, lo, 1), "the mock kept every record (log start "
                  "%" PRId64 ")", lo);

        /* Polled again, it reads what its fetcher had queued (offsets 0
         * on), then librdkafka jumps to the log's start: the records in
         * between are counted lost, exactly, while the partition stays
         * assigned (no start check is involved). */
        jump.lo = lo;
        cr_assert(kit_pump_until(&kit, jumped, &jump, 30000),
                  "no jump seen: %d in the DLQ, %.0f counted lost",
                  kit.n_dlq, lost("results"));
        for (int i = 0; i < kit.n_dlq; i++) {
                int64_t off = kit.dlq[i].offset;

                if (off < lo) {
                        cr_assert(eq(i64, off, read_before),
                                  "read before the jump out of order");
                        read_before++;
                } else if (off < first_after) {
                        first_after = off;
                }
        }
        cr_assert(gt(i64, read_before, 0), "the fetcher queued nothing");
        cr_assert(eq(i64, first_after, lo));
        cr_assert(eq(dbl, lost("results"), (double)(lo - read_before)));
        cr_assert(eq(dbl, lost("commands"), 0));
}
