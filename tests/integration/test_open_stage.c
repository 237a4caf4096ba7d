/* tests/integration/test_open_stage.c - an open stage (docs/targets.md) on
 * the mock cluster through a whole sr_worker: targets appended in chunks,
 * in any order, then sealed; the stage filled and run to success, its
 * target runs named by device; chunks
 * kept across a restart on the same snapshot and across one on a wiped
 * data dir (restored from sr.changelog); a lost chunk named by the seal's
 * refusal and resent. The test plays the client (chunks, digests, seal)
 * and the device command service. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "sr_digest.h"
#include "testkit.h"

static kit_t kit;

static void setup(void)
{
        kit_open(&kit, 4);
        kit_start_worker(&kit);
}

static void teardown(void)
{
        kit_close(&kit);
}

TestSuite(open_stage, .init = setup, .fini = teardown, .timeout = 180.0);

#define PER 400 /* targets per chunk: 1,000 targets in all (the mock keeps
                 * 5 MiB a partition: tests/CMakeLists.txt, stage_e2e) */

/* The targets of chunk @p c (device ids derived from the run). */
static sr_spec_target_t *chunk_targets(const sr_uuid_t *run, uint32_t c,
                                       uint32_t n)
{
        sr_spec_target_t *ts = calloc(n, sizeof(*ts));
        char rid[SR_UUID_STR_LEN + 1];

        sr_uuid_fmt(run, rid);
        for (uint32_t i = 0; i < n; i++) {
                sr_uuid_v5(&ts[i].device_id, &sr_ns, "%s/it-device/%u", rid,
                           c * PER + i);
                snprintf(ts[i].device_name, sizeof(ts[i].device_name),
                         "dev-%u", c * PER + i);
        }
        return ts;
}

/* AppendTargets of chunk @p c (@p n targets); its command id into @p id. */
static void send_chunk(const sr_uuid_t *run, uint32_t c, uint32_t n,
                       sr_uuid_t *id)
{
        sr_command_t cmd;

        memset(&cmd, 0, sizeof(cmd));
        cmd.kind = SR_CMD_APPEND_TARGETS;
        sr_uuid_v4(&cmd.command_id);
        if (id)
                *id = cmd.command_id;
        cmd.pipeline_run_id = *run;
        snprintf(cmd.enterprise_id, sizeof(cmd.enterprise_id), "acme");
        cmd.issued_at = kit_now_ms();
        cmd.u.append.stage_index = 0;
        cmd.u.append.chunk = c;
        cmd.u.append.n_targets = n;
        cmd.u.append.targets = chunk_targets(run, c, n);
        kit_send_command(&kit, &cmd);
        sr_command_fini(&cmd);
}

/* SealTargets of @p chunks chunks of PER targets, the last @p last. */
static void send_seal(const sr_uuid_t *run, uint32_t chunks, uint32_t last,
                      sr_uuid_t *id)
{
        uint8_t (*d)[SR_DIGEST_LEN] = calloc(chunks, SR_DIGEST_LEN);
        sr_errctx_t ec = { 0 };
        sr_command_t cmd;

        for (uint32_t c = 0; c < chunks; c++) {
                uint32_t n = c + 1 == chunks ? last : PER;
                sr_spec_target_t *ts = chunk_targets(run, c, n);

                cr_assert(eq(int, sr_targets_digest(ts, n, d[c], &ec), SR_OK),
                          "%s", ec.msg);
                free(ts);
        }
        memset(&cmd, 0, sizeof(cmd));
        cmd.kind = SR_CMD_SEAL_TARGETS;
        sr_uuid_v4(&cmd.command_id);
        *id = cmd.command_id;
        cmd.pipeline_run_id = *run;
        snprintf(cmd.enterprise_id, sizeof(cmd.enterprise_id), "acme");
        cmd.issued_at = kit_now_ms();
        cmd.u.seal.stage_index = 0;
        cmd.u.seal.chunks = chunks;
        cmd.u.seal.count = (int64_t)(chunks - 1) * PER + last;
        cr_assert(eq(int, sr_seal_digest((const uint8_t(*)[SR_DIGEST_LEN])d,
                                         chunks, cmd.u.seal.digest, &ec),
                     SR_OK));
        free(d);
        kit_send_command(&kit, &cmd);
}

/* A run of one open stage of one operation. */
static sr_uuid_t create_open(void)
{
        sr_runspec_t spec;
        sr_uuid_t run;

        sr_uuid_v4(&run);
        kit_spec(&spec, 1, 1, 0, false);
        spec.stages[0].append_targets = true;
        spec.stages[0].expected_targets = 1000;
        kit_create(&kit, &run, &spec, NULL);
        sr_runspec_fini(&spec);
        return run;
}

static bool has_reply(kit_t *k, void *arg)
{
        for (int i = 0; i < k->n_replies; i++)
                if (sr_uuid_eq(&k->replies[i].command_id, arg))
                        return true;
        return false;
}

static const sr_reply_t *wait_reply(sr_uuid_t *id)
{
        cr_assert(kit_pump_until(&kit, has_reply, id, 30000), "no reply");
        for (int i = kit.n_replies; i-- > 0;)
                if (sr_uuid_eq(&kit.replies[i].command_id, id))
                        return &kit.replies[i];
        return NULL;
}

static void expect_accepted(sr_uuid_t *id)
{
        const sr_reply_t *r = wait_reply(id);

        cr_assert(r->accepted, "refused %s: %s", sr_reject_name(r->reason),
                  r->message);
}

/* Every dispatch of @p run answered SUCCESS; the run ends success. */
static void run_to_success(const sr_uuid_t *run, int n)
{
        kit_count_arg_t c = { run, n };
        kit_status_arg_t s = { *run, SR_ST_SUCCESS };

        cr_assert(kit_pump_until(&kit, kit_dispatches_at_least, &c, 60000),
                  "fewer than %d dispatches", n);
        for (int i = 0; i < kit.n_dispatches; i++)
                if (sr_uuid_eq(&kit.dispatches[i].pipeline_run_id, run) &&
                    kit.dispatches[i].kind == SR_DISPATCH_COMMAND)
                        kit_result_for(&kit, &kit.dispatches[i], "SUCCESS",
                                       NULL);
        cr_assert(kit_pump_until(&kit, kit_status_is, &s, 60000),
                  "the run is %s", sr_status_name(kit_status(&kit, run)));
        /* every event of the run, seq 1..n, none lost (asserts itself) */
        cr_assert(gt(u64, kit_check_seq(&kit, run), (uint64_t)5 * n));
}

/* Every device of the stage has its target run, named by the device
 * (docs/targets.md section 3: not by a position that depends on the
 * chunks). Their order is the unit tests' (target_index). */
static void expect_ids_by_device(const sr_uuid_t *run, uint32_t n)
{
        char rid[SR_UUID_STR_LEN + 1], dev[SR_UUID_STR_LEN + 1];
        uint32_t seen = 0;

        sr_uuid_fmt(run, rid);
        for (int i = 0; i < kit.n_dispatches; i++) {
                const sr_dispatch_t *d = &kit.dispatches[i];
                sr_uuid_t tid, want_dev;
                unsigned k;

                if (!sr_uuid_eq(&d->pipeline_run_id, run) ||
                    d->kind != SR_DISPATCH_COMMAND)
                        continue;
                cr_assert(eq(int, sscanf(d->device_name, "dev-%u", &k), 1));
                sr_uuid_v5(&want_dev, &sr_ns, "%s/it-device/%u", rid, k);
                cr_assert(sr_uuid_eq(&d->device_id, &want_dev),
                          "dev-%u carries another device id", k);
                sr_uuid_fmt(&d->device_id, dev);
                sr_uuid_v5(&tid, &sr_ns, "%s/stage/0/device/%s/op/0", rid,
                           dev);
                cr_assert(sr_uuid_eq(&d->target_run_id, &tid),
                          "device dev-%u's target run is not named by it",
                          k);
                seen++;
        }
        cr_assert(eq(u32, seen, n));
}

Test(open_stage, chunks_in_any_order_and_a_seal_run_the_stage_to_success)
{
        sr_uuid_t run = create_open(), ids[3], seal;
        kit_count_arg_t none = { &run, 1 };

        send_chunk(&run, 2, 200, &ids[2]);
        send_chunk(&run, 0, PER, &ids[0]);
        send_chunk(&run, 1, PER, &ids[1]);
        for (int i = 0; i < 3; i++)
                expect_accepted(&ids[i]);
        /* nothing is dispatched before the seal */
        cr_assert(not(kit_pump_until(&kit, kit_dispatches_at_least, &none,
                                     500)));
        send_seal(&run, 3, 200, &seal);
        expect_accepted(&seal);
        run_to_success(&run, 1000);
        expect_ids_by_device(&run, 1000);
}

Test(open_stage, chunks_outlive_a_restart_and_a_wiped_snapshot)
{
        sr_uuid_t run = create_open(), id, again, seal;
        char cmd[128];

        send_chunk(&run, 0, PER, &id);
        expect_accepted(&id);
        kit_stop_worker(&kit);
        kit_start_worker(&kit); /* same snapshot */
        send_chunk(&run, 1, PER, &id);
        expect_accepted(&id);
        kit_stop_worker(&kit);
        snprintf(cmd, sizeof(cmd), "rm -rf %s/*", kit.dir);
        cr_assert(eq(int, system(cmd), 0));
        kit_start_worker(&kit); /* restored from sr.changelog */
        /* chunk 0 again under a new command id: the stored chunk's digest
         * says it is the same chunk */
        send_chunk(&run, 0, PER, &again);
        expect_accepted(&again);
        send_chunk(&run, 2, 200, &id);
        expect_accepted(&id);
        send_seal(&run, 3, 200, &seal);
        expect_accepted(&seal);
        run_to_success(&run, 1000);
        expect_ids_by_device(&run, 1000);
}

Test(open_stage, a_lost_chunk_is_named_by_the_seal_and_resent)
{
        sr_uuid_t run = create_open(), id, seal;
        const sr_reply_t *r;

        send_chunk(&run, 0, PER, &id);
        send_chunk(&run, 2, 200, &id);
        expect_accepted(&id);
        send_seal(&run, 3, 200, &seal);
        r = wait_reply(&seal);
        cr_assert(not(r->accepted));
        cr_assert(eq(str, (char *)sr_reject_name(r->reason), "seal_mismatch"));
        cr_assert(strstr(r->message, "the first chunk 1") != NULL, "%s",
                  r->message);
        send_chunk(&run, 1, PER, &id);
        expect_accepted(&id);
        send_seal(&run, 3, 200, &seal); /* a new command id */
        expect_accepted(&seal);
        run_to_success(&run, 1000);
}

/* The stage's 1,000 targets in chunk order, then the seal, each
 * accepted. */
static void fill_in_order(const sr_uuid_t *run)
{
        sr_uuid_t ids[3], seal;

        send_chunk(run, 0, PER, &ids[0]);
        send_chunk(run, 1, PER, &ids[1]);
        send_chunk(run, 2, 200, &ids[2]);
        for (int i = 0; i < 3; i++)
                expect_accepted(&ids[i]);
        send_seal(run, 3, 200, &seal);
        expect_accepted(&seal);
}

/* stage.step.targets below the stage (docs/targets.md section 4): the
 * fill comes in parts, each StageStep going through the worker's own
 * partition of the command topic; a restart between two parts goes on
 * where the fill was, and the run's events stay gapless. */
Test(open_stage, a_fill_in_parts_goes_through_the_worker_s_own_partition_and_a_restart)
{
        sr_uuid_t run;
        kit_count_arg_t first = { NULL, 150 };

        kit_stop_worker(&kit);
        kit_set(&kit, "stage.step.targets", "150");
        kit_start_worker(&kit);
        run = create_open();
        first.run = &run;
        fill_in_order(&run);
        cr_assert(kit_pump_until(&kit, kit_dispatches_at_least, &first,
                                 30000));
        kit_stop_worker(&kit);
        kit_start_worker(&kit);
        run_to_success(&run, 1000);
        expect_ids_by_device(&run, 1000);
}

/* The worker again, with @p key = @p value and fills in parts of 150,
 * and a metrics registry of its own to read. */
static sr_metrics_t *restart_with(const char *key, const char *value)
{
        sr_metrics_t *m = sr_metrics_new();
        sr_errctx_t ec = { 0 };

        kit_stop_worker(&kit);
        kit_set(&kit, key, value);
        kit_set(&kit, "stage.step.targets", "150");
        cr_assert(sr_worker_new(kit.conf, m, &kit.w, &ec) == SR_OK, "%s",
                  ec.msg);
        return m;
}

/* A run larger than cache.entities (1,000 target runs and their chunks
 * against 100) stays cached while batches use it: it was in memory at
 * each batch's peak anyway, and reloading it per batch cost O(run) per
 * batch (a 100,000-target stage's cancel took 89 s for it). */
Test(open_stage, a_run_larger_than_the_cache_stays_cached_between_batches)
{
        sr_metrics_t *m = restart_with("cache.entities", "100");
        sr_uuid_t run;
        double loads;

        run = create_open();
        fill_in_order(&run);
        run_to_success(&run, 1000);
        loads = sr_series_value(sr_metrics_counter(m, "sr_run_loads_total",
                                                   "", NULL));
        /* the create's (an empty run) and at most a few more: not one per
         * batch of the chunks, the seal, 7 fill parts and 4,000 results */
        cr_assert(le(dbl, loads, 3.0), "the run was loaded %.0f times",
                  loads);
        kit_stop_worker(&kit);
        sr_metrics_destroy(m);
}

/* A fill's chunks are read no more once it passed them: the worker frees
 * their targets after the save (sr_run_release_chunks()), so the cache
 * holds a filled 1,000-target stage as 1,003 entities (its pipeline run,
 * stage run, operation and target runs), not 2,003; with cache.verify
 * every batch's first use of the cached run still equals the run loaded
 * from the snapshot, during the fill (the chunks ahead of it held on
 * both) and after it (released on both), to success. */
/* An open stage of 1,000 created and filled in order until every target
 * run is dispatched; @returns the entities the cache then holds. */
static double fill_all(sr_metrics_t *m, sr_uuid_t *run)
{
        kit_count_arg_t all = { NULL, 1000 };

        *run = create_open();
        all.run = run;
        fill_in_order(run);
        cr_assert(kit_pump_until(&kit, kit_dispatches_at_least, &all, 60000),
                  "the fill did not dispatch its 1,000 target runs");
        return sr_series_value(sr_metrics_gauge(m, "sr_run_cache_entities",
                                                "", NULL));
}

Test(open_stage, a_filled_stage_s_chunks_leave_the_cache_and_it_still_equals_the_snapshot)
{
        sr_metrics_t *m = restart_with("cache.verify", "true");
        sr_uuid_t run;
        double held = fill_all(m, &run);

        cr_assert(eq(dbl, held, 1003.0), "the cache holds %.0f entities",
                  held);
        run_to_success(&run, 1000);
        kit_stop_worker(&kit);
        sr_metrics_destroy(m);
}

/* A cached run keeps at most cache.run.targets of its target runs decoded
 * between batches, and no clean chunk's targets (docs/targets.md section
 * 6): after the fill of 1,000 target runs the cache holds the pipeline
 * run, stage run, operation and at most 100 of them, and the 4,000 results of the run read the others
 * back by key, to the same success and gapless events; cache.verify
 * (on) compares each batch's cached run with the snapshot without
 * reading anything back. */
Test(open_stage, a_run_keeps_at_most_cache_run_targets_decoded_and_reads_the_rest_back)
{
        sr_metrics_t *m = restart_with("cache.run.targets", "100");
        sr_uuid_t run;
        double held = fill_all(m, &run), reads, chunks;

        cr_assert(le(dbl, held, 103.0), "the cache holds %.0f entities",
                  held);
        run_to_success(&run, 1000);
        held = sr_series_value(sr_metrics_gauge(m, "sr_run_cache_entities",
                                                "", NULL));
        reads = sr_series_value(sr_metrics_counter(
                m, "sr_run_target_reads_total", "", NULL));
        cr_assert(le(dbl, held, 103.0), "the cache holds %.0f entities",
                  held);
        cr_assert(ge(dbl, reads, 900.0), "%.0f target runs read back",
                  reads);
        /* and the fill read its chunks back: 7 parts of 150 over the 3
         * chunks, each part a batch of its own after which the chunks
         * are dropped again */
        chunks = sr_series_value(sr_metrics_counter(
                m, "sr_run_chunk_reads_total", "", NULL));
        cr_assert(ge(dbl, chunks, 7.0), "%.0f chunks read back", chunks);
        kit_stop_worker(&kit);
        sr_metrics_destroy(m);
}
