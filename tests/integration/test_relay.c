/* tests/integration/test_relay.c - the worker's relay on the mock cluster
 * when deliveries fail. In outbox mode the relay is pipelined (a batch's
 * changelog phase goes out with the next batch's emit phase); when a
 * delivery is not acknowledged it falls back to publishing the whole
 * outbox again from LMDB. Here the only broker goes down for longer than
 * message.timeout.ms while batches are in flight: every delivery of that
 * time fails, and nothing may be lost or differ once it is back. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <unistd.h>

#include "sr_metrics.h"
#include "sr_kafka_mock.h"
#include "testkit.h"

#define RUNS 8
#define TARGETS 10

static kit_t kit;
static sr_metrics_t *reg;

static void setup(void)
{
        sr_errctx_t ec = { 0 };

        kit_open(&kit, 4);
        /* Deliveries fail fast while the broker is down (the kit's own
         * producer was made before this and keeps the default). */
        kit_set(&kit, "kafka.message.timeout.ms", "1000");
        /* and the group outlives the outage: no rebalance (whose revoke
         * would republish the outbox too) may hide a broken fallback. */
        kit_set(&kit, "kafka.session.timeout.ms", "30000");
        reg = sr_metrics_new();
        cr_assert(sr_worker_new(kit.conf, reg, &kit.w, &ec) == SR_OK, "%s",
                  ec.msg);
}

static void teardown(void)
{
        kit_close(&kit);
        sr_metrics_destroy(reg);
}

TestSuite(relay, .init = setup, .fini = teardown, .timeout = 120.0);

static bool dispatches_at_least(kit_t *k, void *arg)
{
        return k->n_dispatches >= *(int *)arg;
}

static bool all_runs_succeeded(kit_t *k, void *arg)
{
        const sr_uuid_t *runs = arg;

        for (int i = 0; i < RUNS; i++)
                if (kit_status(k, &runs[i]) != SR_ST_SUCCESS)
                        return false;
        return true;
}

/* RUNS auto-promoted runs of 1 stage x 1 op x TARGETS targets, created and
 * dispatched. */
static void create_runs(sr_uuid_t runs[RUNS])
{
        int want = RUNS * TARGETS;

        for (int i = 0; i < RUNS; i++) {
                sr_runspec_t spec;

                sr_uuid_v4(&runs[i]);
                kit_spec(&spec, 1, 1, TARGETS, true);
                kit_create(&kit, &runs[i], &spec, NULL);
                sr_runspec_fini(&spec);
        }
        cr_assert(kit_pump_until(&kit, dispatches_at_least, &want, 30000),
                  "dispatches: %d of %d", kit.n_dispatches, want);
}

struct outage {
        rd_kafka_mock_cluster_t *mc;
        int ms;
};

static void *broker_back(void *arg)
{
        struct outage *o = arg;

        usleep((useconds_t)o->ms * 1000);
        rd_kafka_mock_broker_set_up(o->mc, 1);
        return NULL;
}

/* Every device answers twice; the worker's consumer prefetches the
 * results while the test sleeps, then the only broker goes down for
 * @p down_ms: the next polls apply them and their outputs cannot be
 * delivered. Pumps until every run succeeded (or @p wait_ms) and the
 * broker is back. */
static void answer_all_during_an_outage(sr_uuid_t runs[RUNS], int down_ms,
                                        int wait_ms)
{
        struct outage o;
        pthread_t th;
        int want = RUNS * TARGETS;

        for (int i = 0; i < want; i++)
                kit_result_for(&kit, &kit.dispatches[i], "INPROGRESS", NULL);
        for (int i = 0; i < want; i++)
                kit_result_for(&kit, &kit.dispatches[i], "SUCCESS", NULL);
        usleep(500 * 1000);
        o.mc = sr_mock_cluster(kit.mock);
        o.ms = down_ms;
        cr_assert(o.mc != NULL);
        cr_assert(eq(int, rd_kafka_mock_broker_set_down(o.mc, 1), 0));
        cr_assert(eq(int, pthread_create(&th, NULL, broker_back, &o), 0));
        cr_assert(kit_pump_until(&kit, all_runs_succeeded, runs, wait_ms),
                  "not every run succeeded after the outage");
        pthread_join(th, NULL);
        kit_pump_until(&kit, NULL, NULL, 500); /* late copies, if any */
}

/* Every target run reached success. */
static void check_targets_succeeded(void)
{
        for (int i = 0; i < RUNS * TARGETS; i++)
                cr_assert(eq(int, kit_status(&kit,
                                             &kit.dispatches[i].target_run_id),
                             SR_ST_SUCCESS));
}

Test(relay, broker_outage_with_batches_in_flight_republishes_and_loses_nothing)
{
        sr_uuid_t runs[RUNS];
        sr_series_t *resends;

        create_runs(runs);
        answer_all_during_an_outage(runs, 3000, 60000);
        resends = sr_metrics_counter(reg, "sr_relay_resends_total", "", NULL);
        cr_assert(sr_series_value(resends) >= 1,
                  "the outage should have made the relay publish again");
        for (int i = 0; i < RUNS; i++) {
                /* Gapless, duplicates identical; 1 pipeline run + 1 stage
                 * run (each pending, running, success... as the state
                 * machine says) and every target run reached success. */
                uint64_t n = kit_check_seq(&kit, &runs[i]);

                cr_assert(n > (uint64_t)2 * TARGETS, "run %d: %llu events",
                          i, (unsigned long long)n);
        }
        check_targets_succeeded();
}

/* A stage's deadline passes while the broker is down: the TimerFired
 * command the worker sends cannot be delivered (message.timeout.ms is 1 s
 * here). It must be sent again once the broker is back, or the stage
 * would never time out (nothing else re-arms a fired timer before the
 * next rebalance). */
Test(relay, timer_fired_during_an_outage_fires_again_once_the_broker_is_back)
{
        sr_runspec_t spec;
        sr_uuid_t run;
        kit_status_arg_t sa;
        struct outage o;
        pthread_t th;
        int want = 2;

        sr_uuid_v4(&run);
        kit_spec(&spec, 1, 1, 2, false);
        spec.stages[0].timeout_seconds = 2;
        kit_create(&kit, &run, &spec, NULL);
        sr_runspec_fini(&spec);
        cr_assert(kit_pump_until(&kit, dispatches_at_least, &want, 30000));
        sa.id = kit_stage_id(&run, 0);
        sa.st = SR_ST_RUNNING;
        cr_assert(kit_pump_until(&kit, kit_status_is, &sa, 30000));
        o.mc = sr_mock_cluster(kit.mock);
        o.ms = 5000; /* the deadline (2 s) and its delivery timeout pass */
        cr_assert(eq(int, rd_kafka_mock_broker_set_down(o.mc, 1), 0));
        cr_assert(eq(int, pthread_create(&th, NULL, broker_back, &o), 0));
        sa.st = SR_ST_TIMEOUT;
        cr_assert(kit_pump_until(&kit, kit_status_is, &sa, 30000),
                  "the stage did not time out: its timer was lost");
        pthread_join(th, NULL);
        sa.id = run;
        sa.st = SR_ST_FAILURE;
        cr_assert(kit_pump_until(&kit, kit_status_is, &sa, 10000));
        kit_check_seq(&kit, &run);
}

/* ------------------------------------------------------ the stale check */

/* The check a relay makes after the consumer was not polled for half a
 * session (sr_worker__fence_stale()): here deliveries fail 4 s after the
 * broker goes (message.timeout.ms), longer than half the group's session
 * (6 s), so the fallback relay that follows is such a relay, and it runs
 * while the broker is still away. */
static void setup_stale(void)
{
        sr_errctx_t ec = { 0 };

        kit_open(&kit, 4);
        kit_set(&kit, "kafka.message.timeout.ms", "4000");
        kit_set(&kit, "kafka.session.timeout.ms", "6000");
        reg = sr_metrics_new();
        cr_assert(sr_worker_new(kit.conf, reg, &kit.w, &ec) == SR_OK, "%s",
                  ec.msg);
}

TestSuite(relay_stale, .init = setup_stale, .fini = teardown,
          .timeout = 120.0);

/* The check cannot be answered while the broker is away (its watermark
 * query times out after 10 s): the worker must not exit for that (it
 * did: "watermarks ... timed out", the process stopped, its supervisor
 * restarted it); it asks again until the broker answers, publishing
 * nothing meanwhile, then goes on with nothing lost. */
Test(relay_stale, an_unanswered_ownership_check_is_asked_again_not_an_exit)
{
        sr_uuid_t runs[RUNS];

        create_runs(runs);
        /* 4 s of failing deliveries, then > 10 s unanswered */
        answer_all_during_an_outage(runs, 16000, 90000);
        for (int i = 0; i < RUNS; i++)
                kit_check_seq(&kit, &runs[i]);
        check_targets_succeeded();
}

/* ------------------------------------------------------------ ordering */

/* Two brokers: sr.events is led by broker 2, everything else by broker 1,
 * so events can be made undeliverable while the changelog stays
 * writable. The relay's rule: a batch's changelog records (phase 2) go out
 * only once its events (phase 1) are acknowledged; a worker restored from
 * a changelog that got ahead of its events would never publish them. */
static void setup_split(void)
{
        rd_kafka_mock_cluster_t *mc;
        sr_errctx_t ec = { 0 };
        char name[256];

        kit_open_brokers(&kit, 4, 2);
        kit_set(&kit, "kafka.message.timeout.ms", "1000");
        kit_set(&kit, "kafka.session.timeout.ms", "30000");
        mc = sr_mock_cluster(kit.mock);
        for (int t = 0; t < SR_TOPIC__COUNT; t++) {
                sr_kafka_topic_name(kit.conf, (sr_topic_kind_t)t, name,
                                    sizeof(name));
                for (int p = 0; p < 4; p++)
                        cr_assert(eq(int,
                                     rd_kafka_mock_partition_set_leader(
                                             mc, name, p,
                                             t == SR_TOPIC_EVENTS ? 2 : 1),
                                     0));
        }
        reg = sr_metrics_new();
        cr_assert(sr_worker_new(kit.conf, reg, &kit.w, &ec) == SR_OK, "%s",
                  ec.msg);
}

TestSuite(relay_order, .init = setup_split, .fini = teardown,
          .timeout = 120.0);

static int64_t changelog_ends(int64_t end[4])
{
        int64_t sum = 0;

        for (int p = 0; p < 4; p++) {
                sr_errctx_t ec = { 0 };
                int64_t low;

                cr_assert(sr_kafka_watermarks(kit.conf, SR_TOPIC_CHANGELOG, p,
                                              &low, &end[p], 5000,
                                              &ec) == SR_OK,
                          "%s", ec.msg);
                sum += end[p];
        }
        return sum;
}

struct split_outage {
        rd_kafka_mock_cluster_t *mc;
        int64_t during[4]; /* changelog ends near the outage's end */
};

static void *events_back(void *arg)
{
        struct split_outage *o = arg;

        usleep(4000 * 1000);
        changelog_ends(o->during);
        rd_kafka_mock_broker_set_up(o->mc, 2);
        return NULL;
}

struct entity_count {
        int64_t from;
        int n; /* records other than batch markers at offsets >= from */
};

static int count_entities(const sr_inrec_t *rec, void *arg)
{
        struct entity_count *c = arg;
        static const char marker[] = "~marker/";

        if (rec->offset >= c->from &&
            !(rec->key.len >= sizeof(marker) - 1 &&
              !memcmp(rec->key.ptr, marker, sizeof(marker) - 1)))
                c->n++;
        return 0;
}

Test(relay_order, no_changelog_record_goes_out_while_its_events_cannot)
{
        sr_uuid_t runs[RUNS];
        struct split_outage o;
        int64_t before[4], after[4], sum_before;
        pthread_t th;
        int want = RUNS * TARGETS, entities = 0, markers = 0;

        memset(&o, 0, sizeof(o));
        create_runs(runs);
        kit_pump_until(&kit, NULL, NULL, 500); /* idle: pipeline drained */
        sum_before = changelog_ends(before);
        o.mc = sr_mock_cluster(kit.mock);
        cr_assert(eq(int, rd_kafka_mock_broker_set_down(o.mc, 2), 0));
        /* New input (its topics are on broker 1): the batches that forward
         * results have no events and may complete (their changelog phase
         * is a marker); the batches that apply them cannot publish their
         * events, so none of their entity states may reach the changelog
         * until the events are back. */
        for (int i = 0; i < want; i++)
                kit_result_for(&kit, &kit.dispatches[i], "INPROGRESS", NULL);
        for (int i = 0; i < want; i++)
                kit_result_for(&kit, &kit.dispatches[i], "SUCCESS", NULL);
        cr_assert(eq(int, pthread_create(&th, NULL, events_back, &o), 0));
        cr_assert(kit_pump_until(&kit, all_runs_succeeded, runs, 60000),
                  "not every run succeeded after the outage");
        pthread_join(th, NULL);
        for (int p = 0; p < 4; p++) {
                struct entity_count c = { before[p], 0 };
                sr_errctx_t ec = { 0 };

                cr_assert(sr_kafka_read_partition(kit.conf,
                                                  SR_TOPIC_CHANGELOG, p,
                                                  o.during[p],
                                                  count_entities, &c, 10000,
                                                  &ec) == SR_OK,
                          "%s", ec.msg);
                entities += c.n;
                markers += (int)(o.during[p] - before[p]) - c.n;
        }
        cr_assert(eq(int, entities, 0),
                  "%d entity records (and %d markers) reached the changelog "
                  "while no event could be delivered", entities, markers);
        cr_assert(changelog_ends(after) > sum_before + markers,
                  "the applied batches' changelog came after the outage");
        for (int i = 0; i < RUNS; i++)
                kit_check_seq(&kit, &runs[i]);
}
