/* tests/integration/test_status_flow.c - sr_worker on the mock cluster:
 * whole runs from create to their final status, as domain.md describes.
 * The test plays the device command service: it reads dispatch requests
 * and answers with results. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "sr_store.h"
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

TestSuite(status_flow, .init = setup, .fini = teardown, .timeout = 120.0);

static void wait_status(const sr_uuid_t *id, sr_status_t st)
{
        kit_status_arg_t a = { *id, st };

        cr_assert(kit_pump_until(&kit, kit_status_is, &a, 30000),
                  "waited for %s, have %s", sr_status_name(st),
                  sr_status_name(kit_status(&kit, id)));
}

struct reply_arg {
        sr_uuid_t cmd;
        int n;
};

static bool replies_for(kit_t *k, void *arg)
{
        struct reply_arg *a = arg;
        int n = 0;

        for (int i = 0; i < k->n_replies; i++)
                n += sr_uuid_eq(&k->replies[i].command_id, &a->cmd);
        return n >= a->n;
}

static const sr_reply_t *wait_reply(const sr_uuid_t *cmd, int n)
{
        struct reply_arg a = { *cmd, n };
        const sr_reply_t *last = NULL;

        cr_assert(kit_pump_until(&kit, replies_for, &a, 30000),
                  "no reply");
        for (int i = 0; i < kit.n_replies; i++)
                if (sr_uuid_eq(&kit.replies[i].command_id, cmd))
                        last = &kit.replies[i];
        return last;
}

/* Answer every command dispatch of @p run (of stage @p sid if given) from
 * index @p from on; returns where it stopped. */
static int answer_stage(const sr_uuid_t *run, const sr_uuid_t *sid, int from,
                        const char *status)
{
        int i;

        for (i = from; i < kit.n_dispatches; i++)
                if (sr_uuid_eq(&kit.dispatches[i].pipeline_run_id, run) &&
                    (!sid || sr_uuid_eq(&kit.dispatches[i].stage_run_id,
                                        sid)) &&
                    kit.dispatches[i].kind == SR_DISPATCH_COMMAND)
                        kit_result_for(&kit, &kit.dispatches[i], status,
                                       NULL);
        return i;
}

static int answer_all(const sr_uuid_t *run, int from, const char *status)
{
        return answer_stage(run, NULL, from, status);
}

static int count_kind(const sr_uuid_t *run, sr_dispatch_kind_t kind)
{
        int n = 0;

        for (int i = 0; i < kit.n_dispatches; i++)
                n += sr_uuid_eq(&kit.dispatches[i].pipeline_run_id, run) &&
                     kit.dispatches[i].kind == kind;
        return n;
}

Test(status_flow, run_of_3_stages_5_targets_2_ops_succeeds_with_promotions)
{
        sr_runspec_t spec;
        sr_uuid_t run, cmd = { { 0 } };
        kit_count_arg_t ca;
        int answered = 0;

        sr_uuid_v4(&run);
        kit_spec(&spec, 3, 2, 5, false);
        kit_create(&kit, &run, &spec, &cmd);
        sr_runspec_fini(&spec);
        cr_assert(wait_reply(&cmd, 1)->accepted);
        for (unsigned s = 0; s < 3; s++) {
                sr_uuid_t sid = kit_stage_id(&run, s);

                if (s > 0) {
                        sr_uuid_t pc = { { 0 } };

                        wait_status(&run, SR_ST_WAITING);
                        kit_set_status(&kit, SR_CMD_SET_STAGE_RUN_STATUS,
                                       &run, &sid, "queued", &pc);
                        cr_assert(wait_reply(&pc, 1)->accepted);
                }
                ca.run = &run;
                ca.n = 10 * (int)(s + 1);
                cr_assert(kit_pump_until(&kit, kit_dispatches_at_least, &ca,
                                         30000));
                wait_status(&sid, SR_ST_RUNNING);
                answer_stage(&run, &sid, answered, "INPROGRESS");
                answered = answer_stage(&run, &sid, answered, "SUCCESS");
                wait_status(&sid, SR_ST_SUCCESS);
        }
        wait_status(&run, SR_ST_SUCCESS);
        /* 3 pr + 3x(4 stage) + ... every transition once, gapless */
        cr_assert(gt(u64, kit_check_seq(&kit, &run), 100));
        cr_assert(eq(int, kit.n_dlq, 0));
}

Test(status_flow, auto_promote_runs_every_stage_without_a_client)
{
        sr_runspec_t spec;
        sr_uuid_t run;
        kit_count_arg_t ca = { &run, 0 };
        int answered = 0;

        sr_uuid_v4(&run);
        kit_spec(&spec, 3, 1, 2, true);
        kit_create(&kit, &run, &spec, NULL);
        sr_runspec_fini(&spec);
        for (int s = 0; s < 3; s++) {
                ca.n = 2 * (s + 1);
                cr_assert(kit_pump_until(&kit, kit_dispatches_at_least, &ca,
                                         30000));
                answered = answer_all(&run, answered, "SUCCESS");
        }
        wait_status(&run, SR_ST_SUCCESS);
        for (int i = 0; i < kit.n_events; i++)
                cr_assert(kit.events[i].to_status != SR_ST_WAITING);
        kit_check_seq(&kit, &run);
}

Test(status_flow, failing_target_fails_the_stage_and_the_run)
{
        sr_runspec_t spec;
        sr_uuid_t run;
        kit_count_arg_t ca = { &run, 3 };
        sr_uuid_t s1;

        sr_uuid_v4(&run);
        s1 = kit_stage_id(&run, 1);
        kit_spec(&spec, 2, 1, 3, false);
        kit_create(&kit, &run, &spec, NULL);
        sr_runspec_fini(&spec);
        cr_assert(kit_pump_until(&kit, kit_dispatches_at_least, &ca, 30000));
        kit_result_for(&kit, &kit.dispatches[0], "SUCCESS", NULL);
        kit_result_for(&kit, &kit.dispatches[1], "FAILED", NULL);
        kit_result_for(&kit, &kit.dispatches[2], "SUCCESS", NULL);
        wait_status(&run, SR_ST_FAILURE);
        cr_assert(eq(int, kit_status(&kit, &s1), SR_ST_CANCELLED));
        kit_check_seq(&kit, &run);
}

Test(status_flow, pipeline_cancel_cascades_with_cancel_requests)
{
        sr_runspec_t spec;
        sr_uuid_t run, cmd = { { 0 } };
        kit_count_arg_t ca = { &run, 3 };

        sr_uuid_v4(&run);
        kit_spec(&spec, 2, 1, 3, false);
        kit_create(&kit, &run, &spec, NULL);
        sr_runspec_fini(&spec);
        cr_assert(kit_pump_until(&kit, kit_dispatches_at_least, &ca, 30000));
        kit_result_for(&kit, &kit.dispatches[0], "QUEUED", NULL);
        kit_result_for(&kit, &kit.dispatches[1], "INPROGRESS", NULL);
        wait_status(&kit.dispatches[1].target_run_id, SR_ST_RUNNING);
        kit_set_status(&kit, SR_CMD_SET_PIPELINE_RUN_STATUS, &run, NULL,
                       "cancelled", &cmd);
        cr_assert(wait_reply(&cmd, 1)->accepted);
        wait_status(&run, SR_ST_CANCELLED);
        cr_assert(eq(int, kit_status(&kit, &kit.dispatches[0].target_run_id),
                     SR_ST_CANCELLED));
        cr_assert(eq(int, kit_status(&kit, &kit.dispatches[2].target_run_id),
                     SR_ST_CANCELLED));
        cr_assert(eq(int, kit_status(&kit, &kit.dispatches[1].target_run_id),
                     SR_ST_RUNNING));
        kit_pump_until(&kit, NULL, NULL, 300);
        cr_assert(eq(int, count_kind(&run, SR_DISPATCH_CANCEL), 3));
        kit_check_seq(&kit, &run);
}

Test(status_flow, stage_cancel_cascades_and_fails_the_run)
{
        sr_runspec_t spec;
        sr_uuid_t run, sid, cmd = { { 0 } };
        kit_count_arg_t ca = { &run, 2 };

        sr_uuid_v4(&run);
        sid = kit_stage_id(&run, 0);
        kit_spec(&spec, 2, 1, 2, false);
        kit_create(&kit, &run, &spec, NULL);
        sr_runspec_fini(&spec);
        cr_assert(kit_pump_until(&kit, kit_dispatches_at_least, &ca, 30000));
        kit_result_for(&kit, &kit.dispatches[0], "QUEUED", NULL);
        wait_status(&kit.dispatches[0].target_run_id, SR_ST_DISPATCHED);
        kit_set_status(&kit, SR_CMD_SET_STAGE_RUN_STATUS, &run, &sid,
                       "cancelled", &cmd);
        cr_assert(wait_reply(&cmd, 1)->accepted);
        wait_status(&run, SR_ST_FAILURE);
        cr_assert(eq(int, kit_status(&kit, &sid), SR_ST_CANCELLED));
        kit_pump_until(&kit, NULL, NULL, 300);
        cr_assert(eq(int, count_kind(&run, SR_DISPATCH_CANCEL), 2));
}

Test(status_flow, short_stage_timeout_times_the_stage_out)
{
        sr_runspec_t spec;
        sr_uuid_t run, sid;
        kit_count_arg_t ca = { &run, 2 };

        sr_uuid_v4(&run);
        sid = kit_stage_id(&run, 0);
        kit_spec(&spec, 1, 1, 2, false);
        spec.stages[0].timeout_seconds = 1;
        kit_create(&kit, &run, &spec, NULL);
        sr_runspec_fini(&spec);
        cr_assert(kit_pump_until(&kit, kit_dispatches_at_least, &ca, 30000));
        kit_result_for(&kit, &kit.dispatches[0], "INPROGRESS", NULL);
        wait_status(&sid, SR_ST_TIMEOUT);
        wait_status(&run, SR_ST_FAILURE);
        cr_assert(eq(int, kit_status(&kit, &kit.dispatches[0].target_run_id),
                     SR_ST_TIMEOUT));
        kit_check_seq(&kit, &run);
}

Test(status_flow, duplicate_commands_and_results_apply_once)
{
        sr_runspec_t spec;
        sr_uuid_t run, sid, cmd = { { 0 } }, res = { { 0 } };
        kit_count_arg_t ca = { &run, 1 };
        const sr_reply_t *r1, *r2;
        int before;

        sr_uuid_v4(&run);
        sid = kit_stage_id(&run, 1);
        kit_spec(&spec, 2, 1, 1, false);
        kit_create(&kit, &run, &spec, NULL);
        sr_runspec_fini(&spec);
        cr_assert(kit_pump_until(&kit, kit_dispatches_at_least, &ca, 30000));
        kit_result_for(&kit, &kit.dispatches[0], "SUCCESS", &res);
        wait_status(&run, SR_ST_WAITING);
        before = kit.n_events;
        kit_result_for(&kit, &kit.dispatches[0], "SUCCESS", &res);
        kit_set_status(&kit, SR_CMD_SET_STAGE_RUN_STATUS, &run, &sid,
                       "queued", &cmd);
        r1 = wait_reply(&cmd, 1);
        cr_assert(r1->accepted, "%s", r1->message);
        wait_status(&sid, SR_ST_RUNNING);
        before = kit.n_events;
        kit_set_status(&kit, SR_CMD_SET_STAGE_RUN_STATUS, &run, &sid,
                       "queued", &cmd); /* same command id again */
        r2 = wait_reply(&cmd, 2);
        cr_assert(r2->accepted, "the second delivery gets the first reply: "
                  "%s", r2->message);
        cr_assert(eq(int, memcmp(r1, r2, sizeof(*r1)), 0));
        kit_pump_until(&kit, NULL, NULL, 300);
        cr_assert(eq(int, kit.n_events, before));
        kit_check_seq(&kit, &run);
}

Test(status_flow, stale_results_change_nothing)
{
        sr_runspec_t spec;
        sr_uuid_t run;
        kit_count_arg_t ca = { &run, 2 };
        int before;

        sr_uuid_v4(&run);
        kit_spec(&spec, 1, 1, 2, false);
        kit_create(&kit, &run, &spec, NULL);
        sr_runspec_fini(&spec);
        cr_assert(kit_pump_until(&kit, kit_dispatches_at_least, &ca, 30000));
        kit_result_for(&kit, &kit.dispatches[0], "SUCCESS", NULL);
        wait_status(&kit.dispatches[0].target_run_id, SR_ST_SUCCESS);
        before = kit.n_events;
        kit_result_for(&kit, &kit.dispatches[0], "INPROGRESS", NULL);
        kit_result_for(&kit, &kit.dispatches[0], "QUEUED", NULL);
        kit_pump_until(&kit, NULL, NULL, 500);
        cr_assert(eq(int, kit.n_events, before));
        cr_assert(eq(int, kit.n_dlq, 0));
}

Test(status_flow, poison_inputs_are_dead_lettered_and_good_ones_go_on)
{
        static const uint8_t bad_magic[] = { 7, 0, 0, 0, 1, 2, 3 };
        static const uint8_t unknown_id[] = { 0, 0, 0, 0, 99, 2, 3 };
        static const uint8_t shorty[] = { 0, 0 };
        sr_runspec_t spec;
        sr_uuid_t run;
        kit_count_arg_t ca = { &run, 1 };
        sr_result_t res;
        sr_buf_t val = { 0 };
        sr_errctx_t ec = { 0 };

        sr_uuid_v4(&run);
        kit_send(&kit, SR_TOPIC_COMMANDS, &run, sr_slice(bad_magic, 7));
        kit_send(&kit, SR_TOPIC_RESULTS, &run, sr_slice(unknown_id, 7));
        kit_send(&kit, SR_TOPIC_COMMANDS, &run, sr_slice(shorty, 2));
        kit_spec(&spec, 1, 1, 1, false);
        kit_create(&kit, &run, &spec, NULL);
        sr_runspec_fini(&spec);
        cr_assert(kit_pump_until(&kit, kit_dispatches_at_least, &ca, 30000));
        /* an unknown command status, then a result for no target run */
        memset(&res, 0, sizeof(res));
        sr_uuid_v4(&res.result_id);
        res.pipeline_run_id = run;
        res.target_run_id = kit.dispatches[0].target_run_id;
        snprintf(res.command_status, sizeof(res.command_status), "EXPLODED");
        /* the codec refuses to encode it: build the poison by hand */
        snprintf(res.command_status, sizeof(res.command_status), "SUCCESS");
        sr_uuid_v4(&res.target_run_id);
        cr_assert(sr_codec_encode_result(kit.codec, &res, &val, &ec) == SR_OK);
        kit_send(&kit, SR_TOPIC_RESULTS, &run, sr_buf_slice(&val));
        sr_buf_free(&val);
        kit_result_for(&kit, &kit.dispatches[0], "SUCCESS", NULL);
        wait_status(&run, SR_ST_SUCCESS);
        kit_pump_until(&kit, NULL, NULL, 300);
        cr_assert(eq(int, kit.n_dlq, 4));
        {
                int undecodable = 0, schema = 0, target = 0;

                for (int i = 0; i < kit.n_dlq; i++) {
                        undecodable += !strcmp(kit.dlq[i].reason,
                                               "undecodable");
                        schema += !strcmp(kit.dlq[i].reason,
                                          "unknown_schema");
                        target += !strcmp(kit.dlq[i].reason,
                                          "unknown_target_run");
                        cr_assert(kit.dlq[i].error[0] != 0);
                }
                cr_assert(eq(int, undecodable, 2));
                cr_assert(eq(int, schema, 1));
                cr_assert(eq(int, target, 1));
        }
}

/* Put target run @p id of @p run back to pending in the worker's snapshot
 * (a state the rules never leave at rest), the worker stopped meanwhile;
 * its recorded changelog end is unchanged, so it trusts the snapshot.
 * Returns the seq of the run's last event as the snapshot records it:
 * every event the run had is at or below it, whether or not this
 * process has consumed it yet (an event of the run's creation may still
 * be in flight, and the restarted worker may publish its outbox again). */
static uint64_t corrupt_target_to_pending(const sr_uuid_t *run,
                                          const sr_uuid_t *id)
{
        sr_store_opts_t so = { .dir = kit.dir };
        sr_errctx_t ec = { 0 };
        sr_store_t *store = NULL;
        sr_txn_t *txn = NULL;
        bool found = false;
        uint64_t last_seq = 0;

        kit_stop_worker(&kit);
        cr_assert(eq(int, sr_store_open(&so, &store, &ec), SR_OK), "%s",
                  ec.msg);
        cr_assert(eq(int, sr_store_txn_begin(store, true, &txn, &ec), SR_OK));
        for (int32_t p = 0; p < kit.parts && !found; p++) {
                char key[SR_ENTITY_KEY_MAX];
                sr_changelog_t cl;
                sr_buf_t val = { 0 };
                sr_slice_t cur;
                sr_entity_t pe;

                memset(&pe, 0, sizeof(pe));
                pe.type = SR_ENT_PIPELINE_RUN;
                pe.u.pr.m.id = *run;
                sr_entity_key(&pe, key);
                if (sr_store_get(txn, p, sr_slice(key, strlen(key)), &cur,
                                 &ec) != SR_OK)
                        continue;
                cr_assert(eq(int, sr_codec_decode_changelog(kit.codec, cur,
                                                            &cl, &ec),
                             SR_OK), "%s", ec.msg);
                last_seq = cl.u.entity.u.pr.last_seq;
                sr_entity_fini(&cl.u.entity);

                for (uint32_t t = 0; t < 4 && !found; t++) {
                        sr_entity_t e;

                        memset(&e, 0, sizeof(e));
                        e.type = SR_ENT_TARGET_RUN;
                        e.u.tr.pipeline_run_id = *run;
                        e.u.tr.target_index = t;
                        sr_entity_key(&e, key);
                        if (sr_store_get(txn, p, sr_slice(key, strlen(key)),
                                         &cur, &ec) != SR_OK)
                                continue;
                        cr_assert(eq(int, sr_codec_decode_changelog(
                                                  kit.codec, cur, &cl, &ec),
                                     SR_OK), "%s", ec.msg);
                        if (!sr_uuid_eq(&cl.u.entity.u.tr.m.id, id)) {
                                sr_entity_fini(&cl.u.entity);
                                continue;
                        }
                        cl.u.entity.u.tr.m.status = SR_ST_PENDING;
                        cr_assert(eq(int, sr_codec_encode_changelog(
                                                  kit.codec, &cl, &val, &ec),
                                     SR_OK), "%s", ec.msg);
                        sr_entity_fini(&cl.u.entity);
                        cr_assert(eq(int, sr_store_put(txn, p,
                                                       sr_slice(key,
                                                                strlen(key)),
                                                       sr_buf_slice(&val),
                                                       &ec),
                                     SR_OK), "%s", ec.msg);
                        sr_buf_free(&val);
                        found = true;
                }
        }
        cr_assert(found, "target run not in the snapshot");
        cr_assert(last_seq > 0, "the run has no event in the snapshot");
        cr_assert(eq(int, sr_store_txn_commit(txn, &ec), SR_OK), "%s",
                  ec.msg);
        sr_store_close(store);
        kit_start_worker(&kit);
        return last_seq;
}

static bool dlq_at_least(kit_t *k, void *arg)
{
        return k->n_dlq >= *(int *)arg;
}

/* A transition the state machine refuses itself (here from a stored state
 * it never makes) refuses that input deterministically: a dead letter
 * (reason internal_error) and, for a command, a refusal reply; no event,
 * no change; the worker goes on with every other run. */
Test(status_flow, a_transition_outside_the_table_refuses_the_input_not_the_worker)
{
        sr_runspec_t spec;
        sr_uuid_t run, run2, target, cmd = { 0 };
        kit_count_arg_t ca = { &run, 1 }, ca2 = { &run2, 1 };
        const sr_reply_t *r;
        uint64_t last_seq;
        int two = 2;

        sr_uuid_v4(&run);
        kit_spec(&spec, 1, 1, 1, false);
        kit_create(&kit, &run, &spec, NULL);
        cr_assert(kit_pump_until(&kit, kit_dispatches_at_least, &ca, 30000));
        target = kit.dispatches[0].target_run_id;
        last_seq = corrupt_target_to_pending(&run, &target);
        kit_result_for(&kit, &kit.dispatches[0], "SUCCESS", NULL);
        kit_set_status(&kit, SR_CMD_SET_TARGET_RUN_STATUS, &run, &target,
                       "success", &cmd);
        r = wait_reply(&cmd, 1);
        cr_assert(not(r->accepted));
        cr_assert(eq(str, (char *)sr_reject_name(r->reason),
                     "internal_error"));
        cr_assert(strstr(r->message, "pending -> complete") != NULL, "%s",
                  r->message);
        cr_assert(kit_pump_until(&kit, dlq_at_least, &two, 30000));
        for (int i = 0; i < kit.n_dlq; i++)
                cr_assert(eq(str, kit.dlq[i].reason, "internal_error"));
        /* no new event: an event of the run above the snapshot's last
         * seq would be a change the refused inputs made (events at or
         * below it are the creation's, late or published again) */
        for (int i = 0; i < kit.n_events; i++) {
                bool other = !sr_uuid_eq(&kit.events[i].pipeline_run_id, &run);

                cr_assert(other || kit.events[i].seq <= last_seq,
                          "the refused inputs changed the run: event seq "
                          "%llu above the snapshot's %llu",
                          (unsigned long long)kit.events[i].seq,
                          (unsigned long long)last_seq);
        }
        /* the worker is alive: another run goes through */
        sr_uuid_v4(&run2);
        kit_create(&kit, &run2, &spec, NULL);
        sr_runspec_fini(&spec);
        cr_assert(kit_pump_until(&kit, kit_dispatches_at_least, &ca2, 30000));
        kit_result_for(&kit, &kit.dispatches[kit.n_dispatches - 1],
                       "SUCCESS", NULL);
        wait_status(&run2, SR_ST_SUCCESS);
}
