/* tests/integration/test_retention.c - finished runs retire (issue 10,
 * docs/guarantee.md "Retention"): sr_worker on the mock cluster with a
 * retention of about a second. The test reads sr.changelog itself. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "sr_store.h"
#include "testkit.h"

static kit_t kit;

static void setup(void)
{
        kit_open(&kit, 4);
        kit_set(&kit, "retention.finished", "1s");
        kit_set(&kit, "retention.inputs", "1h");
        kit_set(&kit, "timer.resolution.ms", "50");
}

static void teardown(void)
{
        kit_close(&kit);
}

TestSuite(retention, .init = setup, .fini = teardown, .timeout = 180.0);

/* ---------------------------------------------------------- changelog */

#define LOG_MAX 4096

typedef struct cl_rec {
        char key[SR_ENTITY_KEY_MAX];
        bool tombstone;
        sr_cl_kind_t kind; /* when not a tombstone */
        sr_cl_retired_t retired;
} cl_rec_t;

typedef struct cl_log {
        const char *prefix; /* "<run>/" */
        cl_rec_t recs[LOG_MAX];
        int n;
} cl_log_t;

static int read_one(const sr_inrec_t *in, void *arg)
{
        cl_log_t *log = arg;
        size_t pn = strlen(log->prefix);
        cl_rec_t *r;
        sr_changelog_t cl;
        sr_errctx_t ec = { 0 };

        if (in->key.len < pn || in->key.len >= SR_ENTITY_KEY_MAX ||
            memcmp(in->key.ptr, log->prefix, pn) || log->n == LOG_MAX)
                return 0;
        r = &log->recs[log->n++];
        memset(r, 0, sizeof(*r));
        memcpy(r->key, in->key.ptr, in->key.len);
        r->tombstone = !in->value.ptr;
        if (r->tombstone)
                return 0;
        cr_assert(eq(int, sr_codec_decode_changelog(kit.codec, in->value, &cl,
                                                    &ec), SR_OK), "%s",
                  ec.msg);
        r->kind = cl.kind;
        if (cl.kind == SR_CL_ENTITY)
                sr_entity_fini(&cl.u.entity);
        if (cl.kind == SR_CL_RETIRED)
                r->retired = cl.u.retired;
        return 0;
}

/* Every changelog record of run @p run, in log order (a run's keys are all
 * on its partition). */
static void read_changelog(const sr_uuid_t *run, cl_log_t *log)
{
        char prefix[SR_ENTITY_KEY_MAX];
        sr_errctx_t ec = { 0 };

        sr_run_key_prefix(run, prefix);
        log->prefix = prefix;
        log->n = 0;
        for (int32_t p = 0; p < kit.parts; p++) {
                int64_t lo, hi;

                cr_assert(eq(int, sr_kafka_watermarks(kit.conf,
                                                      SR_TOPIC_CHANGELOG, p,
                                                      &lo, &hi, 5000, &ec),
                             SR_OK), "%s", ec.msg);
                if (hi > 0)
                        cr_assert(eq(int, sr_kafka_read_partition(
                                                  kit.conf,
                                                  SR_TOPIC_CHANGELOG, p, hi,
                                                  read_one, log, 10000, &ec),
                                     SR_OK), "%s", ec.msg);
        }
        log->prefix = NULL;
}

/* The index of the last record of @p key, or -1. */
static int last_of(const cl_log_t *log, const char *key)
{
        int last = -1;

        for (int i = 0; i < log->n; i++)
                if (!strcmp(log->recs[i].key, key))
                        last = i;
        return last;
}

static char marker_key[SR_ENTITY_KEY_MAX];

/* Pump the worker until the changelog's last record of the run's marker
 * key is a value (@p tombstone false) or a tombstone (true). */
static void wait_marker(const sr_uuid_t *run, bool tombstone, cl_log_t *log,
                        int timeout_ms)
{
        int64_t end = kit_now_ms() + timeout_ms;
        int i;

        sr_retired_key(run, marker_key);
        for (;;) {
                kit_pump_until(&kit, NULL, NULL, 200);
                read_changelog(run, log);
                i = last_of(log, marker_key);
                if (i >= 0 && log->recs[i].tombstone == tombstone)
                        return;
                cr_assert(lt(i64, kit_now_ms(), end),
                          "no %s of %s on the changelog",
                          tombstone ? "tombstone" : "value", marker_key);
        }
}

/* ---------------------------------------------------------- helpers */

/* A run of one stage and one target, succeeded; its dispatch in *d. */
static void finished_run(sr_uuid_t *run, sr_dispatch_t *d)
{
        kit_count_arg_t ca = { run, 1 };
        kit_status_arg_t sa;
        sr_runspec_t spec;

        sr_uuid_v4(run);
        kit_spec(&spec, 1, 1, 1, false);
        kit_create(&kit, run, &spec, NULL);
        sr_runspec_fini(&spec);
        cr_assert(kit_pump_until(&kit, kit_dispatches_at_least, &ca, 30000));
        for (int i = 0; i < kit.n_dispatches; i++)
                if (sr_uuid_eq(&kit.dispatches[i].pipeline_run_id, run))
                        *d = kit.dispatches[i];
        kit_result_for(&kit, d, "SUCCESS", NULL);
        sa.id = *run;
        sa.st = SR_ST_SUCCESS;
        cr_assert(kit_pump_until(&kit, kit_status_is, &sa, 30000));
}

struct reply_arg {
        sr_uuid_t cmd;
        const sr_reply_t *r;
};

static bool reply_for(kit_t *k, void *arg)
{
        struct reply_arg *a = arg;

        for (int i = 0; i < k->n_replies; i++)
                if (sr_uuid_eq(&k->replies[i].command_id, &a->cmd))
                        a->r = &k->replies[i];
        return a->r != NULL;
}

static bool dlq_retired(kit_t *k, void *arg)
{
        (void)arg;
        for (int i = 0; i < k->n_dlq; i++)
                if (!strcmp(k->dlq[i].reason, "run_retired"))
                        return true;
        return false;
}

/* Keys of @p run in the worker's snapshot (the worker stopped). */
static int snapshot_keys(const sr_uuid_t *run, char keys[][SR_ENTITY_KEY_MAX],
                         int max);

struct keys_arg {
        char (*keys)[SR_ENTITY_KEY_MAX];
        int n, max;
};

static int key_one(sr_slice_t key, sr_slice_t value, void *arg)
{
        struct keys_arg *a = arg;

        (void)value;
        if (a->n < a->max && key.len < SR_ENTITY_KEY_MAX) {
                memcpy(a->keys[a->n], key.ptr, key.len);
                a->keys[a->n][key.len] = '\0';
                a->n++;
        }
        return 0;
}

static int snapshot_keys(const sr_uuid_t *run, char keys[][SR_ENTITY_KEY_MAX],
                         int max)
{
        sr_store_opts_t so = { .dir = kit.dir };
        char prefix[SR_ENTITY_KEY_MAX];
        size_t pn = sr_run_key_prefix(run, prefix);
        struct keys_arg a = { keys, 0, max };
        sr_errctx_t ec = { 0 };
        sr_store_t *store = NULL;
        sr_txn_t *txn = NULL;

        cr_assert(eq(int, sr_store_open(&so, &store, &ec), SR_OK), "%s",
                  ec.msg);
        cr_assert(eq(int, sr_store_txn_begin(store, false, &txn, &ec),
                     SR_OK));
        for (int32_t p = 0; p < kit.parts; p++)
                cr_assert(eq(int, sr_store_scan(txn, p, sr_slice(prefix, pn),
                                                key_one, &a, &ec), SR_OK),
                          "%s", ec.msg);
        sr_store_txn_abort(txn);
        sr_store_close(store);
        return a.n;
}

/* ---------------------------------------------------------- tests */

Test(retention, finished_run_retires_tombstones_every_key_and_a_fresh_worker_restores_only_the_marker)
{
        static cl_log_t log;
        char keys[64][SR_ENTITY_KEY_MAX];
        sr_uuid_t run, cmd = { { 0 } };
        struct reply_arg ra;
        sr_dispatch_t d;
        int before, m, n;

        kit_start_worker(&kit);
        finished_run(&run, &d);
        kit_drain(&kit, 100);
        before = kit.n_events;
        wait_marker(&run, false, &log, 30000);
        m = last_of(&log, marker_key);
        cr_assert(eq(int, log.recs[m].kind, SR_CL_RETIRED));
        cr_assert(sr_uuid_eq(&log.recs[m].retired.pipeline_run_id, &run));
        cr_assert(eq(i64, log.recs[m].retired.retired_at,
                     log.recs[m].retired.ended_at + 1000));
        cr_assert(eq(i64, log.recs[m].retired.forget_at,
                     log.recs[m].retired.retired_at + 3600000));
        /* Every other key the run ever had (entities, the create's dedupe
         * entry) ends with a tombstone, written before the marker. */
        n = 0;
        for (int i = 0; i < log.n; i++) {
                int last = last_of(&log, log.recs[i].key);

                if (!strcmp(log.recs[i].key, marker_key) || last != i)
                        continue;
                cr_assert(log.recs[i].tombstone, "%s not tombstoned",
                          log.recs[i].key);
                cr_assert(lt(int, i, m));
                n++;
        }
        cr_assert(ge(int, n, 5), "tombstones: %d (run, stage, op, target, "
                  "dedupe)", n);
        /* Retirement is no status change: no event. */
        kit_pump_until(&kit, NULL, NULL, 500);
        for (int i = before; i < kit.n_events; i++)
                cr_assert(not(sr_uuid_eq(&kit.events[i].pipeline_run_id,
                                         &run)), "event after retirement");

        /* A fresh worker restores the changelog: only the marker. */
        kit_stop_worker(&kit);
        {
                char rm[128];

                snprintf(rm, sizeof(rm), "rm -rf %s/*", kit.dir);
                cr_assert(eq(int, system(rm), 0));
        }
        kit_start_worker(&kit);

        /* Late inputs: a result is dead-lettered, a command refused. */
        kit_result_for(&kit, &d, "SUCCESS", NULL);
        cr_assert(kit_pump_until(&kit, dlq_retired, NULL, 30000),
                  "no run_retired dead letter");
        kit_set_status(&kit, SR_CMD_SET_PIPELINE_RUN_STATUS, &run, NULL,
                       "cancelled", &cmd);
        memset(&ra, 0, sizeof(ra));
        ra.cmd = cmd;
        cr_assert(kit_pump_until(&kit, reply_for, &ra, 30000), "no reply");
        cr_assert(not(ra.r->accepted));
        cr_assert(eq(str, (char *)sr_reject_name(ra.r->reason),
                     "run_retired"));
        cr_assert(strstr(ra.r->message, "retired at") != NULL, "%s",
                  ra.r->message);
        kit_pump_until(&kit, NULL, NULL, 300);
        for (int i = before; i < kit.n_events; i++)
                cr_assert(not(sr_uuid_eq(&kit.events[i].pipeline_run_id,
                                         &run)), "a late input revived it");
        kit_stop_worker(&kit);
        n = snapshot_keys(&run, keys, 64);
        cr_assert(eq(int, n, 1), "keys of the run after restore: %d "
                  "(first %s)", n, n ? keys[0] : "-");
        cr_assert(eq(str, keys[0], marker_key));
}

Test(retention, marker_is_forgotten_after_retention_inputs_and_tombstoned)
{
        static cl_log_t log;
        char keys[8][SR_ENTITY_KEY_MAX];
        sr_uuid_t run, cmd = { { 0 } };
        struct reply_arg ra;
        sr_dispatch_t d;

        kit_set(&kit, "retention.inputs", "2s");
        kit_start_worker(&kit);
        finished_run(&run, &d);
        wait_marker(&run, false, &log, 30000);
        wait_marker(&run, true, &log, 30000);
        /* Then the run is unknown, as any other. */
        kit_set_status(&kit, SR_CMD_SET_PIPELINE_RUN_STATUS, &run, NULL,
                       "cancelled", &cmd);
        memset(&ra, 0, sizeof(ra));
        ra.cmd = cmd;
        cr_assert(kit_pump_until(&kit, reply_for, &ra, 30000), "no reply");
        cr_assert(eq(str, (char *)sr_reject_name(ra.r->reason),
                     "not_found"));
        kit_stop_worker(&kit);
        /* What is left is the unknown run's dedupe entry, as before
         * retention existed; no marker. */
        for (int i = 0, n = snapshot_keys(&run, keys, 8); i < n; i++)
                cr_assert(not(eq(str, keys[i], marker_key)), "marker kept");
}

Test(retention, retirement_timer_survives_a_worker_restart)
{
        static cl_log_t log;
        sr_uuid_t run;
        sr_dispatch_t d;

        kit_set(&kit, "retention.finished", "3s");
        kit_start_worker(&kit);
        finished_run(&run, &d);
        kit_pump_until(&kit, NULL, NULL, 300); /* the batch relayed */
        /* Stopped before the run retires; the new worker trusts the
         * snapshot and must arm the finished run's timer from it. */
        kit_stop_worker(&kit);
        kit_start_worker(&kit);
        wait_marker(&run, false, &log, 30000);
}

/* DELETE of a run (docs/definitions.md section 7): a DeleteRun naming
 * @p pipeline for @p run; its command id in *cmd. */
static void send_delete(const sr_uuid_t *run, const sr_uuid_t *pipeline,
                        sr_uuid_t *cmd)
{
        sr_command_t c;

        memset(&c, 0, sizeof(c));
        c.kind = SR_CMD_DELETE_RUN;
        sr_uuid_v4(&c.command_id);
        *cmd = c.command_id;
        c.pipeline_run_id = *run;
        snprintf(c.enterprise_id, sizeof(c.enterprise_id), "acme");
        c.issued_at = kit_now_ms();
        c.u.del.pipeline_id = *pipeline;
        kit_send_command(&kit, &c);
}

static const sr_reply_t *wait_reply(const sr_uuid_t *cmd)
{
        struct reply_arg ra;

        memset(&ra, 0, sizeof(ra));
        ra.cmd = *cmd;
        cr_assert(kit_pump_until(&kit, reply_for, &ra, 30000), "no reply");
        return ra.r;
}

/* A client's delete retires a finished run at once, long before
 * retention.finished, through the same path: tombstones, the marker, no
 * event; a running run is refused; after a worker restart the run is
 * still retired, and a late command says it may have been deleted. */
Test(retention, a_client_deletes_a_finished_run_at_once_through_the_retirement_path)
{
        static cl_log_t log;
        kit_count_arg_t ca;
        kit_status_arg_t sa;
        sr_runspec_t spec;
        sr_uuid_t run, pipeline, cmd = { { 0 } };
        const sr_reply_t *r;
        sr_dispatch_t d;
        int before, m, n = 0;

        kit_set(&kit, "retention.finished", "1h");
        kit_start_worker(&kit);
        sr_uuid_v4(&run);
        kit_spec(&spec, 1, 1, 1, false);
        pipeline = spec.pipeline_id;
        kit_create(&kit, &run, &spec, NULL);
        sr_runspec_fini(&spec);
        ca.run = &run;
        ca.n = 1;
        cr_assert(kit_pump_until(&kit, kit_dispatches_at_least, &ca, 30000));
        d = kit.dispatches[kit.n_dispatches - 1];
        /* running: refused, nothing changes */
        send_delete(&run, &pipeline, &cmd);
        r = wait_reply(&cmd);
        cr_assert(not(r->accepted));
        cr_assert(eq(str, (char *)sr_reject_name(r->reason),
                     "illegal_transition"));
        cr_assert(strstr(r->message, "cancel it first") != NULL, "%s",
                  r->message);
        kit_result_for(&kit, &d, "SUCCESS", NULL);
        sa.id = run;
        sa.st = SR_ST_SUCCESS;
        cr_assert(kit_pump_until(&kit, kit_status_is, &sa, 30000));
        kit_drain(&kit, 100);
        before = kit.n_events;
        /* finished: deleted at once (retention.finished is an hour) */
        send_delete(&run, &pipeline, &cmd);
        r = wait_reply(&cmd);
        cr_assert(r->accepted, "%s", r->message);
        wait_marker(&run, false, &log, 30000);
        m = last_of(&log, marker_key);
        cr_assert(eq(int, log.recs[m].kind, SR_CL_RETIRED));
        cr_assert(ge(i64, log.recs[m].retired.retired_at,
                     log.recs[m].retired.ended_at));
        cr_assert(lt(i64, log.recs[m].retired.retired_at,
                     log.recs[m].retired.ended_at + 3600000));
        cr_assert(eq(i64, log.recs[m].retired.forget_at,
                     log.recs[m].retired.retired_at + 3600000));
        for (int i = 0; i < log.n; i++) {
                if (!strcmp(log.recs[i].key, marker_key) ||
                    last_of(&log, log.recs[i].key) != i)
                        continue;
                cr_assert(log.recs[i].tombstone, "%s not tombstoned",
                          log.recs[i].key);
                cr_assert(lt(int, i, m));
                n++;
        }
        cr_assert(ge(int, n, 5), "tombstones: %d", n);
        /* a worker that restarts from its snapshot keeps it retired */
        kit_stop_worker(&kit);
        kit_start_worker(&kit);
        memset(&cmd, 0, sizeof(cmd));
        kit_set_status(&kit, SR_CMD_SET_PIPELINE_RUN_STATUS, &run, NULL,
                       "cancelled", &cmd);
        r = wait_reply(&cmd);
        cr_assert(eq(str, (char *)sr_reject_name(r->reason), "run_retired"));
        cr_assert(strstr(r->message, "deleted by a client") != NULL, "%s",
                  r->message);
        send_delete(&run, &pipeline, &cmd);
        r = wait_reply(&cmd);
        cr_assert(eq(str, (char *)sr_reject_name(r->reason), "run_retired"));
        kit_pump_until(&kit, NULL, NULL, 300);
        for (int i = before; i < kit.n_events; i++)
                cr_assert(not(sr_uuid_eq(&kit.events[i].pipeline_run_id,
                                         &run)), "an event after the delete");
}

/* ------------------------------------------- input topics' retention.ms */

#include <sys/prctl.h>
#include <sys/wait.h>
#include <sysexits.h>

static kit_t ck;

static void check_setup(void)
{
        kit_open(&ck, 2);
}

static void check_teardown(void)
{
        kit_close(&ck);
}

/* The same .timeout as the suite above: Criterion 2.4.1 leaks in its
 * runner when suites of one file have different ones (tests/CMakeLists.txt). */
TestSuite(retention_check, .init = check_setup, .fini = check_teardown,
          .timeout = 180.0);

/* sr-status on the kit's cluster and topics with retention.finished=1h and
 * retention.inputs=@p inputs, its stderr in DIR/status.log. Its exit status
 * when it exits within @p wait_ms; else -1 (then stopped by SIGTERM). */
static int run_status(const char *inputs, int wait_ms, char *log,
                      size_t log_size)
{
        char dd[256], boot[600], pre[128], grp[160], inp[64];
        int64_t end = kit_now_ms() + wait_ms;
        bool clean;
        int st = 0;
        pid_t pid;

        snprintf(log, log_size, "%s/status.log", ck.dir);
        snprintf(dd, sizeof(dd), "data.dir=%s/status", ck.dir);
        snprintf(boot, sizeof(boot), "kafka.bootstrap.servers=%s",
                 ck.bootstrap);
        snprintf(pre, sizeof(pre), "topic.prefix=%s", ck.prefix);
        snprintf(grp, sizeof(grp), "group.id=%sstatus", ck.prefix);
        snprintf(inp, sizeof(inp), "retention.inputs=%s", inputs);
        pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
                char *argv[] = { "sr-status", "-D", dd, "-D", boot,
                                 "-D", ck.prefix[0] ? pre : "topic.prefix=sr.",
                                 "-D", grp, "-D", "retention.finished=1h",
                                 "-D", inp, "-D", "http.enable=false",
                                 "-D", "kafka.fetch.wait.max.ms=1", NULL };

                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (!freopen(log, "w", stderr))
                        _exit(127);
                execv(SR_BUILD_DIR "/sr-status", argv);
                _exit(127);
        }
        while (kit_now_ms() < end) {
                if (waitpid(pid, &st, WNOHANG) == pid) {
                        if (WIFEXITED(st))
                                return WEXITSTATUS(st);
                        return 128;
                }
                usleep(50 * 1000);
        }
        kill(pid, SIGTERM);
        cr_assert(waitpid(pid, &st, 0) == pid);
        clean = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        cr_assert(clean, "sr-status did not stop cleanly (status %d)", st);
        return -1;
}

static bool log_has(const char *log, const char *what)
{
        char line[4096];
        bool found = false;
        FILE *f = fopen(log, "r");

        cr_assert(f != NULL, "%s", log);
        while (!found && fgets(line, sizeof(line), f))
                found = strstr(line, what) != NULL;
        fclose(f);
        return found;
}

/* On the real broker (kafka suite) the fresh topics keep records for the
 * broker's default retention.ms (7 days): retention.inputs=1h is refused
 * with EX_CONFIG and a message naming the topic, its retention.ms and the
 * key. The mock cluster does not serve DescribeConfigs: a WARN says the
 * check could not be done and the worker starts. */
Test(retention_check, input_topic_kept_longer_than_retention_inputs)
{
        char log[128], topic[256], want[400];
        int rc = run_status("1h", 15000, log, sizeof(log));

        sr_kafka_topic_name(ck.conf, SR_TOPIC_COMMANDS, topic, sizeof(topic));
        if (kit_real_kafka()) {
                cr_assert(rc == EX_CONFIG, "exited %d; log %s", rc, log);
                snprintf(want, sizeof(want), "topic %s keeps records for "
                         "retention.ms=604800000, longer than "
                         "retention.inputs=3600000 ms", topic);
                cr_assert(log_has(log, want), "%s lacks: %s", log, want);
        } else {
                cr_assert(rc == -1, "exited %d; log %s", rc, log);
                cr_assert(log_has(log, "retention.ms could not be checked"),
                          "no WARN in %s", log);
                cr_assert(log_has(log, "retention_inputs_ms=3600000"),
                          "%s", log);
                cr_assert(log_has(log, "msg=\"started\""), "%s", log);
        }
}

/* retention.inputs at least the topics' retention.ms: a normal start (on
 * the real broker the check passed; on the mock it could not be done). */
Test(retention_check, input_topics_within_retention_inputs_start)
{
        char log[128];
        int rc = run_status("7d", 4000, log, sizeof(log));

        cr_assert(rc == -1, "exited %d; log %s", rc, log);
        cr_assert(log_has(log, "msg=\"started\""), "%s", log);
        if (kit_real_kafka())
                cr_assert(log_has(log, "input topic retention checked"),
                          "%s", log);
}
