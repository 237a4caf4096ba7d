/* tests/integration/test_fence.c - a zombie owner cannot publish in outbox
 * mode (docs/guarantee.md, "Fencing").
 *
 * Two sr-status processes on a two-broker mock cluster: the group
 * coordinator on broker 1, every partition leader on broker 2. Worker A
 * owns the partition, applies a batch and is stopped (SIGSTOP, through the
 * test-only hook SR_TEST_RELAY_PAUSE_FILE) right before relaying it, for
 * longer than its session: the group hands the partition to worker B,
 * which claims it, restores and goes on (it applies the same batch again,
 * then more). Then A resumes where it was, still believing it owns the
 * partition, and relays. Checked: A publishes no event B had not already
 * published (identical duplicates only), stops publishing ("fenced") and
 * exits; of A's changelog records after B's claim at most the one batch
 * already applied remains, and a fresh worker restoring the changelog gets
 * exactly the state the inputs imply (the reference model: R1 waiting, R2
 * cancelled). Without the fence, A's late batch lands after B's state on
 * the changelog and a restore regresses R2 (its cancel, deduplicated by
 * B's dedupe entry, is not applied again).
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "testkit.h"

#include "sr_kafka_mock.h"
#include "sr_store.h"

#include <lmdb.h>

static kit_t kit;

typedef struct proc {
        pid_t pid;
        char dir[96];
        char log[96];
} proc_t;

static proc_t wa, wb;
static char pause_file[96];

static void stop_proc(proc_t *p)
{
        int st;

        if (!p->pid)
                return;
        kill(p->pid, SIGCONT);
        kill(p->pid, SIGKILL);
        waitpid(p->pid, &st, 0);
        p->pid = 0;
}

static void setup(void)
{
        rd_kafka_mock_cluster_t *mc;
        char name[256];

        kit_open_brokers(&kit, 1, 2);
        mc = sr_mock_cluster(kit.mock);
        for (int t = 0; t < SR_TOPIC__COUNT; t++) {
                sr_kafka_topic_name(kit.conf, (sr_topic_kind_t)t, name,
                                    sizeof(name));
                cr_assert(eq(int, rd_kafka_mock_partition_set_leader(mc, name,
                                                                     0, 2),
                             0));
        }
        cr_assert(eq(int, rd_kafka_mock_coordinator_set(mc, "group",
                                                        "sr-status", 1),
                     0));
        snprintf(wa.dir, sizeof(wa.dir), "%s/worker-a", kit.dir);
        snprintf(wa.log, sizeof(wa.log), "%s/worker-a.log", kit.dir);
        snprintf(wb.dir, sizeof(wb.dir), "%s/worker-b", kit.dir);
        snprintf(wb.log, sizeof(wb.log), "%s/worker-b.log", kit.dir);
        snprintf(pause_file, sizeof(pause_file), "%s/pause-a", kit.dir);
}

static void teardown(void)
{
        stop_proc(&wa);
        stop_proc(&wb);
        if (!getenv("SR_TEST_KEEP"))
                kit_close(&kit);
}

TestSuite(fence, .init = setup, .fini = teardown, .timeout = 120.0);

static void start_proc_with(proc_t *p, const char *pause, const char *def)
{
        char bs[600], dd[160];
        pid_t pid;

        snprintf(bs, sizeof(bs), "kafka.bootstrap.servers=%s",
                 sr_mock_bootstraps(kit.mock));
        snprintf(dd, sizeof(dd), "data.dir=%s", p->dir);
        pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
                FILE *f = freopen(p->log, "a", stderr);

                (void)f;
                if (!freopen("/dev/null", "w", stdout))
                        _exit(127);
                if (pause)
                        setenv("SR_TEST_RELAY_PAUSE_FILE", pause, 1);
                execl(SR_BUILD_DIR "/sr-status", "sr-status", "-D", bs, "-D",
                      dd, "-D", "http.enable=false", "-D",
                      "kafka.fetch.wait.max.ms=1", "-D",
                      "kafka.session.timeout.ms=6000", "-D",
                      "kafka.heartbeat.interval.ms=500", "-D",
                      "log.level=info", "-D", "poll.timeout.ms=50",
                      def ? "-D" : (char *)NULL, def, (char *)NULL);
                _exit(127);
        }
        p->pid = pid;
}

static void start_proc(proc_t *p, const char *pause)
{
        start_proc_with(p, pause, NULL);
}

/* Does the process's log hold @p what? */
static bool log_has(const proc_t *p, const char *what)
{
        FILE *f = fopen(p->log, "r");
        char line[4096];
        bool found = false;

        if (!f)
                return false;
        while (!found && fgets(line, sizeof(line), f))
                found = strstr(line, what) != NULL;
        fclose(f);
        return found;
}

/* Pump the observer, answering every device command with SUCCESS, until
 * @p p's log holds @p what (NULL: until @p done). */
static sr_uuid_t answered[64];
static int n_answered, dispatch_seen;

static void answer_dispatches(void)
{
        for (; dispatch_seen < kit.n_dispatches; dispatch_seen++) {
                const sr_dispatch_t *d = &kit.dispatches[dispatch_seen];
                bool seen = false;

                if (d->kind != SR_DISPATCH_COMMAND)
                        continue;
                for (int i = 0; i < n_answered; i++)
                        seen |= sr_uuid_eq(&answered[i], &d->command_id);
                if (seen || n_answered == 64)
                        continue;
                answered[n_answered++] = d->command_id;
                kit_result_for(&kit, d, "INPROGRESS", NULL);
                kit_result_for(&kit, d, "SUCCESS", NULL);
        }
}

typedef struct until_arg {
        const proc_t *p;
        const char *log;
        const sr_uuid_t *run;
        sr_status_t st;
} until_arg_t;

static bool until(kit_t *k, void *arg)
{
        until_arg_t *a = arg;

        answer_dispatches();
        if (a->log && !log_has(a->p, a->log))
                return false;
        return !a->run || kit_status(k, a->run) == a->st;
}

static void pump(const proc_t *p, const char *log, const sr_uuid_t *run,
                 sr_status_t st, int ms, const char *what)
{
        until_arg_t a = { p, log, run, st };

        cr_assert(kit_pump_until(&kit, until, &a, ms), "%s", what);
}

static bool stopped(pid_t pid, int ms)
{
        for (int64_t end = kit_now_ms() + ms; kit_now_ms() < end;) {
                int st;

                if (waitpid(pid, &st, WNOHANG | WUNTRACED) == pid &&
                    WIFSTOPPED(st))
                        return true;
                usleep(20 * 1000);
        }
        return false;
}

/* ---------------------------------------------- the changelog afterwards */

typedef struct cl_scan {
        char claims[8][64]; /* claiming writers, in log order */
        int64_t claim_at[8];
        int n_claims;
        /* after the last claim: batch ids of other writers */
        char foreign[8][64];
        int n_foreign;
        int foreign_records;
} cl_scan_t;

static int scan_one(const sr_inrec_t *in, void *arg)
{
        cl_scan_t *s = arg;
        sr_slice_t b = { 0 };
        char bid[64];
        size_t wl;

        if (in->key.len > 7 && !memcmp(in->key.ptr, "~claim/", 7) &&
            s->n_claims < 8) {
                snprintf(s->claims[s->n_claims], 64, "%.*s",
                         (int)in->key.len - 7, (const char *)in->key.ptr + 7);
                s->claim_at[s->n_claims++] = in->offset;
                s->n_foreign = s->foreign_records = 0;
                return 0;
        }
        if (!s->n_claims || !sr_inrec_header(in, "sr_batch", &b))
                return 0;
        snprintf(bid, sizeof(bid), "%.*s", (int)b.len, (const char *)b.ptr);
        wl = strlen(s->claims[s->n_claims - 1]);
        if (!strncmp(bid, s->claims[s->n_claims - 1], wl) && bid[wl] == '/')
                return 0; /* the claimant's own */
        s->foreign_records++;
        for (int i = 0; i < s->n_foreign; i++)
                if (!strcmp(s->foreign[i], bid))
                        return 0;
        if (s->n_foreign < 8)
                snprintf(s->foreign[s->n_foreign++], 64, "%s", bid);
        return 0;
}

static void scan_changelog(cl_scan_t *s)
{
        sr_errctx_t ec = { 0 };
        int64_t low, high;

        memset(s, 0, sizeof(*s));
        cr_assert(eq(int, sr_kafka_watermarks(kit.conf, SR_TOPIC_CHANGELOG, 0,
                                              &low, &high, 5000, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(int, sr_kafka_read_partition(kit.conf,
                                                  SR_TOPIC_CHANGELOG, 0, high,
                                                  scan_one, s, 10000, &ec),
                     SR_OK), "%s", ec.msg);
}

/* The pipeline run's status in the snapshot at kit.dir (worker stopped). */
static sr_status_t snapshot_status(const sr_uuid_t *run)
{
        sr_store_opts_t so = { .dir = kit.dir };
        sr_errctx_t ec = { 0 };
        sr_store_t *store = NULL;
        sr_txn_t *txn = NULL;
        char key[SR_ENTITY_KEY_MAX];
        sr_status_t st = SR_ST_NONE;
        sr_entity_t e;
        sr_slice_t cur;
        sr_changelog_t cl;

        memset(&e, 0, sizeof(e));
        e.type = SR_ENT_PIPELINE_RUN;
        e.u.pr.m.id = *run;
        sr_entity_key(&e, key);
        cr_assert(eq(int, sr_store_open(&so, &store, &ec), SR_OK), "%s",
                  ec.msg);
        cr_assert(eq(int, sr_store_txn_begin(store, false, &txn, &ec), SR_OK));
        if (sr_store_get(txn, 0, sr_slice(key, strlen(key)), &cur, &ec) ==
            SR_OK) {
                cr_assert(eq(int, sr_codec_decode_changelog(kit.codec, cur,
                                                            &cl, &ec),
                             SR_OK), "%s", ec.msg);
                st = cl.u.entity.u.pr.m.status;
                sr_entity_fini(&cl.u.entity);
        }
        sr_store_txn_abort(txn);
        sr_store_close(store);
        return st;
}

static bool worker_ready(kit_t *k, void *arg)
{
        char why[128];

        (void)arg;
        return k->w && sr_worker_is_ready(k->w, why, sizeof(why));
}

/* A (started with @p pause and the config @p def) owns the partition; R1
 * runs its first stage and waits. @p spec stays the caller's. */
static void a_waits_with_r1(const char *pause, const char *def,
                            sr_uuid_t *r1, sr_runspec_t *spec)
{
        start_proc_with(&wa, pause, def);
        pump(&wa, "msg=\"partition claimed\"", NULL, 0, 20000,
             "A did not claim the partition");
        sr_uuid_v4(r1);
        kit_spec(spec, 2, 1, 2, false);
        kit_create(&kit, r1, spec, NULL);
        pump(&wa, NULL, r1, SR_ST_WAITING, 20000, "R1 did not wait");
}

/* A applies R2's create and stops (SIGSTOP) before relaying it. */
static void a_stops_before_relaying_r2(sr_uuid_t *r2,
                                       const sr_runspec_t *spec)
{
        FILE *f = fopen(pause_file, "w");

        cr_assert(f != NULL);
        fclose(f);
        sr_uuid_v4(r2);
        kit_create(&kit, r2, spec, NULL);
        cr_assert(stopped(wa.pid, 10000), "A did not stop before its relay");
}

Test(fence, a_zombie_owner_resuming_after_the_new_owners_claim_publishes_nothing_new_and_is_not_restored)
{
        sr_uuid_t r1, r2;
        sr_runspec_t spec;
        cl_scan_t scan;
        int events_before, st;
        char awriter[80];
        bool a_fenced, a_went_on;

        /* A owns the partition; R1 runs its first stage and waits. */
        a_waits_with_r1(pause_file, NULL, &r1, &spec);
        /* A applies R2's create and stops before relaying it. */
        a_stops_before_relaying_r2(&r2, &spec);
        sr_runspec_fini(&spec);

        /* B gets the partition once A's session expired, claims it, applies
         * R2's create again; R2 runs its first stage and is cancelled. */
        start_proc(&wb, NULL);
        pump(&wb, "msg=\"partition claimed\"", NULL, 0, 30000,
             "B did not claim the partition");
        pump(&wb, NULL, &r2, SR_ST_WAITING, 20000, "R2 did not wait");
        kit_set_status(&kit, SR_CMD_SET_PIPELINE_RUN_STATUS, &r2, NULL,
                       "cancelled", NULL);
        pump(&wb, NULL, &r2, SR_ST_CANCELLED, 20000, "R2 not cancelled");

        /* B pauses (well within its session), A resumes its relay: every
         * event published from now on is A's. */
        kit_pump_until(&kit, NULL, NULL, 500);
        kill(wb.pid, SIGSTOP);
        kit_pump_until(&kit, NULL, NULL, 300);
        events_before = kit.n_events;
        kill(wa.pid, SIGCONT);
        for (int64_t end = kit_now_ms() + 4000; kit_now_ms() < end;) {
                kit_pump_until(&kit, NULL, NULL, 50);
                if (waitpid(wa.pid, &st, WNOHANG) == wa.pid) {
                        wa.pid = 0; /* A stopped by itself */
                        break;
                }
        }
        kit_pump_until(&kit, NULL, NULL, 500);
        kill(wb.pid, SIGCONT);
        /* A published nothing after B's claim: not even the events of
         * the batch it had applied, which B published identically. */
        for (int i = events_before; i < kit.n_events; i++) {
                const sr_event_t *ev = &kit.events[i];
                bool known = false;

                for (int j = 0; j < events_before && !known; j++)
                        known = memcmp(&kit.events[j], ev, sizeof(*ev)) == 0;
                cr_expect(known, "A published an event B never did: seq "
                          "%llu", (unsigned long long)ev->seq);
        }
        cr_expect(eq(int, kit.n_events - events_before, 0),
                  "A published %d events after B's claim",
                  kit.n_events - events_before);
        a_fenced = log_has(&wa, "fenced: changelog partition 0");
        a_went_on = wa.pid != 0;
        stop_proc(&wa);
        stop_proc(&wb);

        /* The changelog: no record of A after B's claim. */
        scan_changelog(&scan);
        cr_expect(eq(int, scan.n_claims, 2), "claims: %d", scan.n_claims);
        snprintf(awriter, sizeof(awriter), "%s/", scan.claims[0]);
        cr_expect(eq(int, scan.foreign_records, 0),
                  "A wrote %d records (%d batches) after B's claim",
                  scan.foreign_records, scan.n_foreign);
        for (int i = 0; i < scan.n_foreign; i++)
                cr_expect(eq(int, strncmp(scan.foreign[i], awriter,
                                          strlen(awriter)), 0),
                          "records of %s after B's claim", scan.foreign[i]);

        /* A fresh worker restores the changelog: the reference model. */
        kit_start_worker(&kit);
        cr_assert(kit_pump_until(&kit, worker_ready, NULL, 30000),
                  "the fresh worker did not restore");
        kit_pump_until(&kit, NULL, NULL, 1000);
        kit_stop_worker(&kit);
        cr_assert(eq(int, snapshot_status(&r1), SR_ST_WAITING));
        cr_assert(eq(int, snapshot_status(&r2), SR_ST_CANCELLED),
                  "R2 restored as %d, not cancelled", snapshot_status(&r2));
        kit_check_seq(&kit, &r1);
        kit_check_seq(&kit, &r2);
        /* A found itself fenced and stopped */
        cr_assert(a_fenced, "A did not find itself fenced (see %s)", wa.log);
        cr_assert(not(a_went_on), "A went on after being fenced");
        {
                bool failed = WIFEXITED(st) && WEXITSTATUS(st) != 0;

                cr_assert(failed, "A did not exit with an error");
        }
}

/* The broker refuses the claims a few times (INVALID_RECORD on the first
 * Produce requests, which are the claims: nothing else is produced before
 * the assignment): the worker sends them again, as the relay would a
 * batch, rather than stopping, and then works. */
Test(fence, refused_claims_are_sent_again_and_the_worker_goes_on)
{
        rd_kafka_resp_err_t errs[3] = {
                RD_KAFKA_RESP_ERR_INVALID_RECORD,
                RD_KAFKA_RESP_ERR_INVALID_RECORD,
                RD_KAFKA_RESP_ERR_INVALID_RECORD,
        };
        sr_runspec_t spec;
        cl_scan_t scan;
        sr_uuid_t run;

        rd_kafka_mock_push_request_errors_array(sr_mock_cluster(kit.mock),
                                                0 /* Produce */, 3, errs);
        kit_start_worker(&kit);
        cr_assert(kit_pump_until(&kit, worker_ready, NULL, 30000),
                  "the worker did not get ready");
        scan_changelog(&scan);
        cr_assert(scan.n_claims >= 1, "no claim on the changelog");
        sr_uuid_v4(&run);
        kit_spec(&spec, 1, 1, 1, true);
        kit_create(&kit, &run, &spec, NULL);
        sr_runspec_fini(&spec);
        {
                until_arg_t a = { NULL, NULL, &run, SR_ST_SUCCESS };

                cr_assert(kit_pump_until(&kit, until, &a, 20000),
                          "the run did not succeed");
        }
        kit_stop_worker(&kit);
}

/* Fill the stopped worker's store with @p bytes in a partition it does not
 * own, then rewrite data.mdb compacted: no free page is left, and a map
 * size below the data's opens at exactly the data's size (LMDB never maps
 * less than what is stored), so the next write needing a page fails with
 * MDB_MAP_FULL. */
static void fill_store_to_the_brim(const char *dir, size_t bytes)
{
        sr_store_opts_t so = { .dir = dir, .map_size = 64u << 20 };
        sr_errctx_t ec = { 0 };
        sr_store_t *store = NULL;
        sr_txn_t *txn = NULL;
        static char value[16384];
        char key[32], copy[160], path[200];
        MDB_env *env;

        cr_assert(eq(int, sr_store_open(&so, &store, &ec), SR_OK), "%s",
                  ec.msg);
        cr_assert(eq(int, sr_store_txn_begin(store, true, &txn, &ec), SR_OK));
        memset(value, 'f', sizeof(value));
        for (size_t i = 0; i * sizeof(value) < bytes; i++) {
                snprintf(key, sizeof(key), "filler/%zu", i);
                cr_assert(eq(int, sr_store_put(txn, 7, sr_slice(key,
                                                               strlen(key)),
                                               sr_slice(value, sizeof(value)),
                                               &ec),
                             SR_OK), "%s", ec.msg);
        }
        cr_assert(eq(int, sr_store_txn_commit(txn, &ec), SR_OK), "%s",
                  ec.msg);
        sr_store_close(store);
        snprintf(copy, sizeof(copy), "%s.compact", dir);
        cr_assert(eq(int, mkdir(copy, 0750), 0));
        cr_assert(eq(int, mdb_env_create(&env), 0));
        cr_assert(eq(int, mdb_env_set_maxdbs(env, 16), 0));
        cr_assert(eq(int, mdb_env_open(env, dir, MDB_RDONLY, 0640), 0));
        cr_assert(eq(int, mdb_env_copy2(env, copy, MDB_CP_COMPACT), 0));
        mdb_env_close(env);
        snprintf(path, sizeof(path), "%s/data.mdb", copy);
        {
                char to[200];
                struct stat sb;

                snprintf(to, sizeof(to), "%s/data.mdb", dir);
                cr_assert(eq(int, rename(path, to), 0));
                cr_assert(eq(int, stat(to, &sb), 0));
                cr_assert(sb.st_size > (off_t)(1u << 20),
                          "compacted store of %lld bytes: a 1 MiB map would "
                          "not be full", (long long)sb.st_size);
        }
        rmdir(copy);
}

/* A worker restarted on a snapshot whose map is full (a restore or a batch
 * filled it just before) republishes its outbox and records its claim:
 * both write to the store, and each grows the map and redoes its write
 * instead of stopping the worker ("fatal: relay after assign: ...
 * MDB_MAP_FULL", found by the chaos scenario). */
Test(fence, a_full_map_at_restart_is_grown_to_republish_the_outbox_and_record_the_claim)
{
        sr_uuid_t r1, r2;
        sr_runspec_t spec;

        a_waits_with_r1(pause_file, "store.map.size.mb=1", &r1, &spec);
        /* A applies R2's create and is killed before relaying it: the
         * batch stays in its outbox. */
        a_stops_before_relaying_r2(&r2, &spec);
        sr_runspec_fini(&spec);
        stop_proc(&wa);
        fill_store_to_the_brim(wa.dir, 2u << 20);
        unlink(wa.log); /* the restarted worker's log only */
        /* The same worker again, on its full map. */
        start_proc_with(&wa, NULL, "store.map.size.mb=1");
        pump(&wa, "msg=\"partition claimed\"", &r2, SR_ST_WAITING, 30000,
             "R2 (republished from the outbox) did not run");
        cr_assert(log_has(&wa, "map full (MDB_MAP_FULL) recording a relayed "
                               "outbox"),
                  "the republish did not meet a full map (see %s)", wa.log);
        cr_assert(not(log_has(&wa, "fatal")), "see %s", wa.log);
        cr_assert(eq(int, waitpid(wa.pid, NULL, WNOHANG), 0),
                  "the worker stopped");
        stop_proc(&wa);
        kit_check_seq(&kit, &r1);
        kit_check_seq(&kit, &r2);
}

/* Nothing left in the outbox: the claim's record of the changelog end is
 * the first write on the full map. */
Test(fence, a_full_map_at_restart_is_grown_to_record_the_claim)
{
        sr_uuid_t r1, r2;
        sr_runspec_t spec;

        a_waits_with_r1(NULL, "store.map.size.mb=1", &r1, &spec);
        sr_uuid_v4(&r2);
        kit_pump_until(&kit, NULL, NULL, 500);
        stop_proc(&wa);
        fill_store_to_the_brim(wa.dir, 2u << 20);
        unlink(wa.log); /* the restarted worker's log only */
        start_proc_with(&wa, NULL, "store.map.size.mb=1");
        pump(&wa, "msg=\"partition claimed\"", NULL, 0, 30000,
             "A did not claim the partition again");
        cr_assert(log_has(&wa, "map full (MDB_MAP_FULL) recording claims"),
                  "the claim did not meet a full map (see %s)", wa.log);
        kit_create(&kit, &r2, &spec, NULL);
        sr_runspec_fini(&spec);
        pump(&wa, NULL, &r2, SR_ST_WAITING, 20000, "R2 did not wait");
        cr_assert(not(log_has(&wa, "fatal")), "see %s", wa.log);
        stop_proc(&wa);
        kit_check_seq(&kit, &r1);
        kit_check_seq(&kit, &r2);
}

/* A snapshot that lost a record of a run (here stage run 0 deleted by
 * hand): the worker stops with an error naming the run and its partition,
 * what an operator needs to inspect the snapshot and the changelog. */
Test(fence, a_run_missing_from_the_snapshot_is_named_with_its_partition)
{
        sr_store_opts_t so = { .dir = wa.dir };
        sr_errctx_t ec = { 0 };
        sr_store_t *store = NULL;
        sr_txn_t *txn = NULL;
        char key[SR_ENTITY_KEY_MAX], sid[SR_UUID_STR_LEN + 1], want[160];
        sr_runspec_t spec;
        sr_entity_t e;
        sr_uuid_t r1;
        int st = 0;

        a_waits_with_r1(NULL, NULL, &r1, &spec);
        sr_runspec_fini(&spec);
        kit_pump_until(&kit, NULL, NULL, 500);
        stop_proc(&wa);
        memset(&e, 0, sizeof(e));
        e.type = SR_ENT_STAGE_RUN;
        e.u.sr.pipeline_run_id = r1;
        e.u.sr.index = 0;
        sr_entity_key(&e, key);
        cr_assert(eq(int, sr_store_open(&so, &store, &ec), SR_OK), "%s",
                  ec.msg);
        cr_assert(eq(int, sr_store_txn_begin(store, true, &txn, &ec), SR_OK));
        cr_assert(eq(int, sr_store_del(txn, 0, sr_slice(key, strlen(key)),
                                       &ec),
                     SR_OK), "%s: %s", key, ec.msg);
        cr_assert(eq(int, sr_store_txn_commit(txn, &ec), SR_OK), "%s",
                  ec.msg);
        sr_store_close(store);
        unlink(wa.log);
        start_proc(&wa, NULL);
        pump(&wa, "msg=\"partition claimed\"", NULL, 0, 30000,
             "A did not claim the partition again");
        kit_set_status(&kit, SR_CMD_SET_PIPELINE_RUN_STATUS, &r1, NULL,
                       "cancelled", NULL);
        sr_uuid_fmt(&r1, sid);
        snprintf(want, sizeof(want), "load run %s of partition 0: run: stage "
                 "run 0 missing", sid);
        pump(&wa, want, NULL, 0, 20000, "no error naming the run");
        for (int64_t end = kit_now_ms() + 10000;
             kit_now_ms() < end && waitpid(wa.pid, &st, WNOHANG) != wa.pid;)
                usleep(20 * 1000);
        {
                bool failed = WIFEXITED(st) && WEXITSTATUS(st) != 0;

                cr_assert(failed, "the worker went on with a broken "
                                  "snapshot");
        }
        wa.pid = 0;
}
