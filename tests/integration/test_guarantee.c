/* tests/integration/test_guarantee.c - the worker's guarantee under kill -9.
 *
 * sr-status runs as separate processes against a mock cluster owned by
 * this test. While a steady stream of runs and device results flows, a
 * worker is killed with SIGKILL at random moments (at least 20 times) and
 * restarted, sometimes on a wiped data dir; a second worker is added and
 * removed (rebalances). Afterwards the whole sr.events stream is checked:
 * per pipeline run, seq runs 1..n with no gap; every duplicate is
 * byte-identical to its first copy; every run reached the status its
 * inputs imply. SR_TEST_SEED makes a run repeatable.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <signal.h>
#include <sys/wait.h>

#include "testkit.h"

#define N_RUNS 150
#define MIN_KILLS 20

/* SR_TEST_GUARANTEE_KILLS lowers the number of kills (scripts/
 * test-sanitize.sh: workers are slow under ASan); never below 3. */
static int min_kills(void)
{
        const char *v = getenv("SR_TEST_GUARANTEE_KILLS");
        long n = v ? strtol(v, NULL, 10) : MIN_KILLS;

        return n < 3 ? 3 : n > MIN_KILLS ? MIN_KILLS : (int)n;
}

static kit_t kit;

typedef struct worker {
        pid_t pid;
        char dir[96];
        char log[96];
        int starts;
        long log_off;  /* how far the log has been scanned */
        int assigned;  /* "partition assigned" lines seen */
} worker_t;

static worker_t workers[2];
static char root[64];

/* What the generator did to a run and therefore expects of it. */
typedef struct gen_run {
        sr_uuid_t id;
        bool auto_promote;
        bool fail_first_target;
        bool cancel_when_waiting;
        bool acted; /* promoted or cancelled once */
        sr_status_t expect;
} gen_run_t;

static gen_run_t runs[N_RUNS];
static int n_runs;

/* Dispatch requests already answered (by command id). */
static sr_uuid_t answered[N_RUNS * 8];
static int n_answered;
static int dispatch_seen;
static int event_seen;

static uint64_t rng_state;

static uint64_t rnd(void)
{
        uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

static void setup(void)
{
        const char *seed = getenv("SR_TEST_SEED");

        rng_state = seed ? strtoull(seed, NULL, 10) : (uint64_t)time(NULL);
        fprintf(stderr, "guarantee: SR_TEST_SEED=%llu\n",
                (unsigned long long)rng_state);
        kit_open(&kit, 6);
        snprintf(root, sizeof(root), "%s", kit.dir);
        for (int i = 0; i < 2; i++) {
                snprintf(workers[i].dir, sizeof(workers[i].dir),
                         "%s/worker-%d", root, i);
                snprintf(workers[i].log, sizeof(workers[i].log),
                         "%s/worker-%d.log", root, i);
                workers[i].pid = 0;
        }
}

static void stop_worker(int i, int sig)
{
        int st;

        if (!workers[i].pid)
                return;
        kill(workers[i].pid, sig);
        waitpid(workers[i].pid, &st, 0);
        workers[i].pid = 0;
}

static void teardown(void)
{
        stop_worker(0, SIGKILL);
        stop_worker(1, SIGKILL);
        if (!getenv("SR_TEST_KEEP"))
                kit_close(&kit);
}

TestSuite(guarantee, .init = setup, .fini = teardown, .timeout = 900.0);

static void start_worker(int i, bool wipe)
{
        char bs[256], dd[160];
        pid_t pid;

        if (wipe) {
                char cmd[160];

                snprintf(cmd, sizeof(cmd), "rm -rf %s", workers[i].dir);
                cr_assert(system(cmd) == 0);
        }
        snprintf(bs, sizeof(bs), "kafka.bootstrap.servers=%s",
                 sr_mock_bootstraps(kit.mock));
        snprintf(dd, sizeof(dd), "data.dir=%s", workers[i].dir);
        pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
                FILE *f = freopen(workers[i].log, "a", stderr);

                (void)f;
                if (!freopen("/dev/null", "w", stdout))
                        _exit(127);
                execl(SR_BUILD_DIR "/sr-status", "sr-status", "-D", bs, "-D",
                      dd, "-D", "http.enable=false", "-D",
                      "kafka.fetch.wait.max.ms=1", "-D",
                      "kafka.session.timeout.ms=6000", "-D",
                      "kafka.heartbeat.interval.ms=500", "-D",
                      "log.level=info", "-D", "poll.timeout.ms=50", "-D",
                      "batch.size=200", "-D", "cache.verify=true", "-D",
                      /* the second worker's tiny run cache evicts in
                       * almost every batch, and keeps no target run
                       * decoded between batches (each read back by key
                       * when an input needs it) */
                      i ? "cache.entities=60" : "cache.entities=200000",
                      "-D",
                      i ? "cache.run.targets=0" : "cache.run.targets=16384",
                      (char *)NULL);
                _exit(127);
        }
        workers[i].pid = pid;
        workers[i].starts++;
}

/* Count the worker's "partition assigned" log lines (new ones only). */
static int count_assigned(int i)
{
        FILE *f = fopen(workers[i].log, "r");
        char line[4096];

        if (!f)
                return workers[i].assigned;
        if (fseek(f, workers[i].log_off, SEEK_SET) == 0) {
                while (fgets(line, sizeof(line), f)) {
                        size_t n = strlen(line);

                        if (n && line[n - 1] != '\n')
                                break; /* partial line: read it again */
                        workers[i].log_off += (long)n;
                        if (strstr(line, "msg=\"partition assigned\""))
                                workers[i].assigned++;
                }
        }
        fclose(f);
        return workers[i].assigned;
}

/* A worker that exited on its own is a failure of the test. */
static void check_alive(void)
{
        for (int i = 0; i < 2; i++) {
                int st;

                if (workers[i].pid &&
                    waitpid(workers[i].pid, &st, WNOHANG) == workers[i].pid) {
                        workers[i].pid = 0;
                        cr_fail("worker %d exited by itself (status %d); "
                                "see %s", i, st, workers[i].log);
                        cr_fatal();
                }
        }
}

static void create_run(void)
{
        gen_run_t *r = &runs[n_runs];
        sr_runspec_t spec;
        int i = n_runs++;

        sr_uuid_v4(&r->id);
        r->auto_promote = i % 3 != 0;
        r->fail_first_target = i % 7 == 0;
        r->cancel_when_waiting = !r->auto_promote && i % 2 == 1;
        if (r->fail_first_target)
                r->expect = SR_ST_FAILURE;
        else if (r->cancel_when_waiting)
                r->expect = SR_ST_CANCELLED;
        else
                r->expect = SR_ST_SUCCESS;
        kit_spec(&spec, 2, 1, 4, r->auto_promote);
        kit_create(&kit, &r->id, &spec, NULL);
        sr_runspec_fini(&spec);
}

static gen_run_t *find_run(const sr_uuid_t *id)
{
        for (int i = 0; i < n_runs; i++)
                if (sr_uuid_eq(&runs[i].id, id))
                        return &runs[i];
        return NULL;
}

static bool is_answered(const sr_uuid_t *cmd)
{
        for (int i = 0; i < n_answered; i++)
                if (sr_uuid_eq(&answered[i], cmd))
                        return true;
        return false;
}

/* Play the device command service and the client. */
static void react(void)
{
        for (; dispatch_seen < kit.n_dispatches; dispatch_seen++) {
                const sr_dispatch_t *d = &kit.dispatches[dispatch_seen];
                gen_run_t *r = find_run(&d->pipeline_run_id);
                char tid[SR_UUID_STR_LEN + 1], want[SR_UUID_STR_LEN + 1];
                sr_uuid_t first;

                if (d->kind != SR_DISPATCH_COMMAND || !r ||
                    is_answered(&d->command_id))
                        continue;
                answered[n_answered++] = d->command_id;
                kit_result_for(&kit, d, "INPROGRESS", NULL);
                /* target 0 of stage 0 fails in the failing runs */
                sr_uuid_fmt(&r->id, want);
                sr_uuid_v5(&first, &sr_ns, "%s/stage/0/op/0/target/0", want);
                sr_uuid_fmt(&d->target_run_id, tid);
                kit_result_for(&kit, d,
                               r->fail_first_target &&
                                               sr_uuid_eq(&first,
                                                          &d->target_run_id) ?
                                       "FAILED" :
                                       "SUCCESS",
                               NULL);
        }
        for (; event_seen < kit.n_events; event_seen++) {
                const sr_event_t *ev = &kit.events[event_seen];
                gen_run_t *r;

                if (ev->entity_type != SR_ENT_PIPELINE_RUN ||
                    ev->to_status != SR_ST_WAITING)
                        continue;
                r = find_run(&ev->pipeline_run_id);
                if (!r || r->acted)
                        continue;
                r->acted = true;
                if (r->cancel_when_waiting) {
                        kit_set_status(&kit, SR_CMD_SET_PIPELINE_RUN_STATUS,
                                       &r->id, NULL, "cancelled", NULL);
                } else {
                        sr_uuid_t sid = kit_stage_id(&r->id, 1);

                        kit_set_status(&kit, SR_CMD_SET_STAGE_RUN_STATUS,
                                       &r->id, &sid, "queued", NULL);
                }
        }
}

static bool all_final(kit_t *k, void *arg)
{
        (void)arg;
        react();
        for (int i = 0; i < n_runs; i++)
                if (kit_status(k, &runs[i].id) != runs[i].expect)
                        return false;
        return true;
}

/* ------------------------------------------------------ the raw check */

typedef struct raw_ev {
        sr_uuid_t run;
        uint64_t seq;
        void *bytes; /* value + headers, as published */
        size_t len;
} raw_ev_t;

static int cmp_raw(const void *a, const void *b)
{
        const raw_ev_t *x = a, *y = b;
        int c = memcmp(&x->run, &y->run, sizeof(x->run));

        if (c)
                return c;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Read all of sr.events from the beginning, keeping the exact bytes. */
static raw_ev_t *read_all_events(size_t *np)
{
        char errstr[256], name[256];
        rd_kafka_conf_t *kc = rd_kafka_conf_new();
        rd_kafka_topic_partition_list_t *tl;
        rd_kafka_message_t *m;
        raw_ev_t *v = NULL;
        size_t n = 0, cap = 0;
        int eof = 0;
        rd_kafka_t *rk;

        rd_kafka_conf_set(kc, "bootstrap.servers", kit.bootstrap, errstr,
                          sizeof(errstr));
        rd_kafka_conf_set(kc, "group.id", "checker", errstr, sizeof(errstr));
        rd_kafka_conf_set(kc, "enable.partition.eof", "true", errstr,
                          sizeof(errstr));
        rd_kafka_conf_set(kc, "fetch.wait.max.ms", "1", errstr,
                          sizeof(errstr));
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, sizeof(errstr));
        cr_assert(rk != NULL, "%s", errstr);
        rd_kafka_poll_set_consumer(rk);
        sr_kafka_topic_name(kit.conf, SR_TOPIC_EVENTS, name, sizeof(name));
        tl = rd_kafka_topic_partition_list_new(kit.parts);
        for (int p = 0; p < kit.parts; p++)
                rd_kafka_topic_partition_list_add(tl, name, p)->offset =
                        RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_assign(rk, tl);
        rd_kafka_topic_partition_list_destroy(tl);
        while (eof < kit.parts && (m = rd_kafka_consumer_poll(rk, 10000))) {
                sr_errctx_t ec = { 0 };
                rd_kafka_headers_t *hdrs = NULL;
                sr_event_t ev;
                size_t hlen = 0;
                const char *hn;
                const void *hv;
                size_t hvl;

                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        eof++;
                        rd_kafka_message_destroy(m);
                        continue;
                }
                cr_assert(m->err == 0, "%s", rd_kafka_message_errstr(m));
                cr_assert(sr_codec_decode_event(kit.codec,
                                                sr_slice(m->payload, m->len),
                                                &ev, &ec) == SR_OK,
                          "%s", ec.msg);
                if (n == cap) {
                        cap = cap ? cap * 2 : 4096;
                        v = realloc(v, cap * sizeof(*v));
                }
                if (rd_kafka_message_headers(m, &hdrs) == 0)
                        for (size_t i = 0; !rd_kafka_header_get_all(
                                     hdrs, i, &hn, &hv, &hvl);
                             i++)
                                hlen += strlen(hn) + 1 + hvl + 1;
                v[n].run = ev.pipeline_run_id;
                v[n].seq = ev.seq;
                v[n].len = m->len + m->key_len + hlen;
                v[n].bytes = malloc(v[n].len + 1);
                {
                        char *p = v[n].bytes;

                        memcpy(p, m->key, m->key_len);
                        p += m->key_len;
                        memcpy(p, m->payload, m->len);
                        p += m->len;
                        if (hdrs)
                                for (size_t i = 0; !rd_kafka_header_get_all(
                                             hdrs, i, &hn, &hv, &hvl);
                                     i++) {
                                        memcpy(p, hn, strlen(hn) + 1);
                                        p += strlen(hn) + 1;
                                        memcpy(p, hv, hvl);
                                        p += hvl;
                                        *p++ = '\n';
                                }
                }
                n++;
                rd_kafka_message_destroy(m);
        }
        cr_assert(eq(int, eof, kit.parts), "events not read to the end");
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        *np = n;
        return v;
}

static void check_stream(int *dups_out, size_t *total_out)
{
        size_t n, i = 0;
        raw_ev_t *v = read_all_events(&n);
        int dups = 0;

        qsort(v, n, sizeof(*v), cmp_raw);
        while (i < n) {
                size_t j = i;
                uint64_t want = 1;
                char rid[SR_UUID_STR_LEN + 1];

                sr_uuid_fmt(&v[i].run, rid);
                for (; j < n && sr_uuid_eq(&v[j].run, &v[i].run); j++) {
                        if (j > i && v[j].seq == v[j - 1].seq) {
                                cr_assert(v[j].len == v[j - 1].len &&
                                                  memcmp(v[j].bytes,
                                                         v[j - 1].bytes,
                                                         v[j].len) == 0,
                                          "run %s seq %llu: duplicate differs",
                                          rid,
                                          (unsigned long long)v[j].seq);
                                dups++;
                                continue;
                        }
                        cr_assert(v[j].seq == want,
                                  "run %s: seq %llu where %llu was due (gap)",
                                  rid, (unsigned long long)v[j].seq,
                                  (unsigned long long)want);
                        want++;
                }
                i = j;
        }
        for (i = 0; i < n; i++)
                free(v[i].bytes);
        free(v);
        *dups_out = dups;
        *total_out = n;
}

Test(guarantee, kill_9_restarts_and_rebalances_lose_nothing)
{
        int kills = 0, wiped = 0, dups = 0;
        size_t total = 0;
        int64_t next_create = 0, next_chaos;
        bool second_added = false, second_removed = false, finished;

        /* Chaos steps wait until the worker concerned has partitions
         * (a group join after a kill takes a session timeout), then strike
         * at a random moment while it works. */
        int victim = 0, seen = 0, unassigned_kills = 0;
        bool armed = false;
        int64_t wait_since;

        start_worker(0, false);
        wait_since = kit_now_ms();
        next_chaos = 0;
        while (kills < min_kills() || n_runs < N_RUNS) {
                int64_t now = kit_now_ms();

                kit_drain(&kit, 20);
                react();
                check_alive();
                if (n_runs < N_RUNS && now >= next_create) {
                        create_run();
                        next_create = now + 20 + (int64_t)(rnd() % 120);
                }
                if (!armed) {
                        /* strike once it holds partitions, or (rarely)
                         * while it is still joining */
                        if (count_assigned(victim) > seen ||
                            now - wait_since > 20000) {
                                if (count_assigned(victim) <= seen)
                                        unassigned_kills++;
                                armed = true;
                                next_chaos = now + 50 +
                                             (int64_t)(rnd() % 1500);
                        }
                        continue;
                }
                if (now < next_chaos)
                        continue;
                if (!second_added && kills >= 4) {
                        start_worker(1, false); /* rebalance: 2 members */
                        second_added = true;
                        victim = 1;
                } else if (second_added && !second_removed && kills >= 12) {
                        stop_worker(1, SIGTERM); /* graceful leave */
                        second_removed = true;
                        victim = 0;
                } else {
                        /* kill -9, restart, sometimes on a wiped dir */
                        bool wipe = rnd() % 3 == 0;

                        stop_worker(victim, SIGKILL);
                        kills++;
                        wiped += wipe;
                        start_worker(victim, wipe);
                        if (second_added && !second_removed)
                                victim = (int)(rnd() % 2);
                }
                seen = count_assigned(victim);
                armed = false;
                wait_since = now;
        }
        fprintf(stderr, "guarantee: %d kills (%d wiped), %d runs; waiting "
                "for every run to finish\n",
                kills, wiped, n_runs);
        finished = kit_pump_until(&kit, all_final, NULL, 240000);
        check_alive();
        /* The stream check first: a lost event shows as a precise gap. */
        check_stream(&dups, &total);
        for (int i = 0; i < n_runs && !finished; i++) {
                char rid[SR_UUID_STR_LEN + 1];

                sr_uuid_fmt(&runs[i].id, rid);
                if (kit_status(&kit, &runs[i].id) != runs[i].expect)
                        fprintf(stderr, "guarantee: run %s is %s, inputs "
                                "imply %s\n", rid,
                                sr_status_name(kit_status(&kit,
                                                          &runs[i].id)),
                                sr_status_name(runs[i].expect));
        }
        cr_assert(finished,
                  "not every run reached the status its inputs imply");
        fprintf(stderr, "guarantee: checked %zu event records, %d "
                "duplicates (all byte-identical), %d kills (%d before the "
                "worker had partitions), %d wiped restarts, %d+%d "
                "assignments\n",
                total, dups, kills, unassigned_kills, wiped,
                count_assigned(0), count_assigned(1));
        cr_assert(ge(int, kills, min_kills()));
}
