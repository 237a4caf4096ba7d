/* tests/bench/bench_worker.c - throughput of ONE status worker (sr_worker_*
 * in this process) on the embedded broker (librdkafka's mock cluster, 12
 * partitions), next to a stateless pass-through baseline, plus the speed of
 * a restore from sr.changelog into an empty LMDB snapshot. Not a test: a
 * program, run by hand or by tests/bench/run.sh.
 *
 * Per repeat, on a fresh cluster:
 *  1. preload (not timed): CREATE_RUN commands for --runs measured runs and
 *     --restore-runs filler runs (1 stage x 1 op x --targets targets); the
 *     worker runs until every dispatch request is on sr.dispatch (read by a
 *     group-less consumer). For each dispatch a result INPROGRESS, then (a
 *     second pass) SUCCESS. The filler runs' results are produced and
 *     drained first: they grow the changelog for step 4, and make the
 *     worker's producer know every output topic before the clock starts.
 *  2. worker (timed): the measured runs' results (2 x runs x targets) are
 *     all produced and acknowledged first (a backlog), then the worker is
 *     polled until its sr_inputs_total{topic="results"} series account for
 *     all of them, then sr_worker_flush() publishes what is still in its
 *     relay pipeline and waits for the acks: when the clock stops, every
 *     output is acknowledged. Outputs
 *     are counted from the watermarks of sr.events, sr.changelog,
 *     sr.dispatch, sr.replies, sr.dlq and sr.commands (the worker forwards
 *     each result into its partition's command log and applies it from
 *     there) before and after; the events are read back and each run's seq
 *     is checked gapless.
 *  3. baseline (timed): a librdkafka consumer reads the same result records
 *     (group-less assignment of the same offsets of sr.results), and for
 *     each input produces the worker's average number of outputs per input,
 *     topic by topic, with the average value size and the headers of what
 *     the worker really published (to "bl."-prefixed copies of the topics,
 *     same producer: sr_producer, idempotent, acks=all), waits for delivery
 *     and commits offsets once per batch of batch.size. Its clock starts
 *     when its first record has arrived.
 *  4. restore (timed): the worker is destroyed (graceful), a fresh one with
 *     the same group id and an empty data.dir is started; it restores every
 *     partition from sr.changelog. Restore time = from the
 *     sr_restore_partitions_in_progress gauge rising to it falling (the
 *     whole on_assign: watermark lookups, readers, LMDB writes, timer
 *     arming), sampled every 1 ms by a second thread; the group join before
 *     it is not counted (ready_s counts it). The restored snapshot is then
 *     compared, partition by partition, to the first worker's.
 *
 * The 2.0.2 mock keeps at most 5 MiB per partition and silently drops the
 * oldest record batches beyond that, compacted topic or not: the changelog
 * must stay under it (about 11k records per partition, ~3000 runs of 10
 * targets on 12 partitions, less on a partition that draws more than its
 * share of the random run ids) for the restore to be complete; the bench
 * checks the low watermarks. Hence 2000 + 800 runs by default (1000 filler
 * runs overflowed one partition in about one repeat in twenty).
 *
 * Processes: every repeat runs in a process of its own, forked from the
 * bench's first process (which runs nothing itself), and the baseline in
 * one more, forked at the start of its repeat before any Kafka handle
 * exists: each starts on a fresh heap. (Run after the worker in the same
 * process, the baseline's malloc calls cost up to twice as much on the
 * heap the worker phase left.) --broker inproc keeps everything in one
 * process.
 *
 * Peak RSS: VmHWM of this process, reset (/proc/self/clear_refs, after a
 * malloc_trim) when the timed worker phase starts. With --broker fork
 * (default) the mock runs in a child process forked before any Kafka handle
 * exists: the figure is the worker (LMDB pages included) plus the bench's
 * idle clients. With --broker inproc the mock cluster shares this process,
 * and its in-memory topics count too.
 *
 * Usage: bench_worker [--runs N] [--targets T] [--restore-runs R]
 *                     [--repeat K] [--partitions P] [--broker fork|inproc]
 *                     [--mock-nagle] [-D key=value]... [--dir PARENT] [-v]
 * Environment: BENCH_TRACE_POLLS=1 prints every timed worker poll;
 * BENCH_PERF_CTL=FIFO drives `perf record --control=fifo:FIFO -D -1` so only
 * the timed worker phase is recorded (BENCH_PERF_PHASE=baseline: the
 * baseline's instead).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "kit_bench.h"
#include "sr_codec.h"
#include "sr_conf.h"
#include "sr_fsm.h"
#include "sr_kafka.h"
#include "sr_log.h"
#include "sr_metrics.h"
#include "sr_model.h"
#include "sr_outbox.h"
#include "sr_store.h"
#include "sr_worker.h"
#include "kit_dir.h"

#define MAXP 64 /* most partitions --partitions accepts */
#define MAX_DEFS 32
#define PHASE_TIMEOUT_S 900.0
#define BL_PREFIX "bl."

/* ------------------------------------------------------------ options */

static int g_parts = 12; /* --partitions */

typedef struct opts {
        int runs, targets, restore_runs, repeat;
        bool fork_broker;
        bool mock_nagle;
        bool verbose;
        const char *parent;
        const char *defs[MAX_DEFS]; /* -D key=value */
        int n_defs;
} opts_t;

static void usage(FILE *out)
{
        fprintf(out,
                "usage: bench_worker [--runs N] [--targets T] "
                "[--restore-runs R] [--repeat K]\n"
                "                    [--partitions P] [--broker fork|inproc] "
                "[--mock-nagle]\n"
                "                    [-D key=value]... [--dir PARENT] "
                "[-v]\n"
                "  --runs N          measured runs (default 2000); each "
                "1 stage x 1 op x T targets\n"
                "  --targets T       targets per run (default 10); 2 results "
                "per target\n"
                "  --restore-runs R  extra runs processed before the timed "
                "phase, to grow the\n"
                "                    changelog for the restore figure "
                "(default 800, at least 1:\n"
                "                    they also make the worker's producer "
                "know every output\n"
                "                    topic; the first record to a new topic "
                "waits ~1 s)\n"
                "  --repeat K        repeats; medians are printed (default "
                "1)\n"
                "  --partitions P    partitions of every topic (default 12, "
                "at most 64)\n"
                "  --broker MODE     fork: mock cluster in a child process "
                "(default; peak RSS\n"
                "                    without the broker); inproc: in this "
                "process\n"
                "  --mock-nagle      leave Nagle on in the mock broker's "
                "sockets (librdkafka's\n"
                "                    default, and sr_mock_new()'s before "
                "863a400): a response\n"
                "                    queued behind another waits ~40 ms for "
                "a delayed ACK\n"
                "  -D key=value      worker configuration key (e.g. "
                "batch.size=500)\n"
                "  --dir PARENT      where data dirs are made (default "
                "/tmp)\n"
                "  -v                per-thread CPU and per-phase details\n");
}

static int parse_int(const char *s, int min, int *out)
{
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || *end || v < min || v > 100000000)
                return -1;
        *out = (int)v;
        return 0;
}

static int parse_opts(int argc, char **argv, opts_t *o)
{
        memset(o, 0, sizeof(*o));
        o->runs = 2000;
        o->targets = 10;
        o->restore_runs = 800;
        o->repeat = 1;
        o->parent = "/tmp";
        o->fork_broker = true;
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                const char *v = i + 1 < argc ? argv[i + 1] : NULL;
                int rc = 0;

                if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
                        usage(stdout);
                        exit(0);
                } else if (!strcmp(a, "-v")) {
                        o->verbose = true;
                        continue;
                } else if (!strcmp(a, "--mock-nagle")) {
                        o->mock_nagle = true;
                        continue;
                }
                if (!v) {
                        fprintf(stderr, "bench_worker: %s needs a value\n", a);
                        return -1;
                }
                i++;
                if (!strcmp(a, "--runs"))
                        rc = parse_int(v, 1, &o->runs);
                else if (!strcmp(a, "--targets"))
                        rc = parse_int(v, 1, &o->targets);
                else if (!strcmp(a, "--restore-runs"))
                        rc = parse_int(v, 1, &o->restore_runs);
                else if (!strcmp(a, "--repeat"))
                        rc = parse_int(v, 1, &o->repeat);
                else if (!strcmp(a, "--partitions")) {
                        rc = parse_int(v, 1, &g_parts);
                        if (!rc && g_parts > MAXP)
                                rc = -1;
                } else if (!strcmp(a, "--dir"))
                        o->parent = v;
                else if (!strcmp(a, "--broker")) {
                        if (!strcmp(v, "inproc"))
                                o->fork_broker = false;
                        else if (strcmp(v, "fork"))
                                rc = -1;
                } else if (!strcmp(a, "-D")) {
                        if (o->n_defs == MAX_DEFS || !strchr(v, '='))
                                rc = -1;
                        else
                                o->defs[o->n_defs++] = v;
                } else {
                        fprintf(stderr, "bench_worker: unknown flag %s\n", a);
                        usage(stderr);
                        return -1;
                }
                if (rc) {
                        fprintf(stderr, "bench_worker: bad value for %s: %s\n",
                                a, v);
                        return -1;
                }
        }
        return 0;
}

/* ------------------------------------------------------------ helpers */

static int64_t wall_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
        struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

        nanosleep(&ts, NULL);
}

#define DIE(...)                                                         \
        do {                                                             \
                fprintf(stderr, "bench_worker: " __VA_ARGS__);           \
                fputc('\n', stderr);                                     \
                exit(1);                                                 \
        } while (0)

static void rm_tree(const char *dir)
{
        kit_rm_rf(dir);
}

static double file_mb(const char *dir, const char *name)
{
        char f[4200];
        struct stat sb;

        snprintf(f, sizeof(f), "%s/%s", dir, name);
        return stat(f, &sb) ? -1 : (double)sb.st_size / 1e6;
}

static bool reset_peak_rss(void)
{
        FILE *f = fopen("/proc/self/clear_refs", "w");
        bool ok;

        if (!f)
                return false;
        ok = fputs("5", f) >= 0;
        return fclose(f) == 0 && ok;
}

/* CPU seconds of the threads of @p pid, split into the thread whose tid is
 * @p main_tid, threads named rdk:mock, and the rest. */
typedef struct cpu_split {
        double main, mock, other;
        double main_run, main_wait; /* schedstat: on CPU, runnable waiting */
} cpu_split_t;

static cpu_split_t cpu_of(pid_t pid, pid_t main_tid)
{
        cpu_split_t c = { 0, 0, 0, 0, 0 };
        double tck = (double)sysconf(_SC_CLK_TCK);
        char path[64];
        struct dirent *de;
        DIR *d;

        snprintf(path, sizeof(path), "/proc/%d/task/%d/schedstat", (int)pid,
                 (int)main_tid);
        {
                FILE *f = fopen(path, "r");
                unsigned long long run = 0, wait = 0;

                if (f) {
                        if (fscanf(f, "%llu %llu", &run, &wait) == 2) {
                                c.main_run = (double)run / 1e9;
                                c.main_wait = (double)wait / 1e9;
                        }
                        fclose(f);
                }
        }
        snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
        d = opendir(path);
        if (!d)
                return c;
        while ((de = readdir(d))) {
                char sp[400], buf[1024], comm[64] = "";
                unsigned long ut = 0, st = 0;
                const char *lp, *rp;
                size_t n;
                FILE *f;

                if (de->d_name[0] == '.')
                        continue;
                snprintf(sp, sizeof(sp), "%s/%s/stat", path, de->d_name);
                f = fopen(sp, "r");
                if (!f)
                        continue;
                n = fread(buf, 1, sizeof(buf) - 1, f);
                fclose(f);
                buf[n] = '\0';
                lp = strchr(buf, '(');
                rp = strrchr(buf, ')');
                if (!lp || !rp || rp < lp)
                        continue;
                n = (size_t)(rp - lp - 1);
                if (n >= sizeof(comm))
                        n = sizeof(comm) - 1;
                memcpy(comm, lp + 1, n);
                comm[n] = '\0';
                if (sscanf(rp + 2,
                           "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                           "%lu %lu",
                           &ut, &st) != 2)
                        continue;
                if (atoi(de->d_name) == (int)main_tid)
                        c.main += (double)(ut + st) / tck;
                else if (!strcmp(comm, "rdk:mock"))
                        c.mock += (double)(ut + st) / tck;
                else
                        c.other += (double)(ut + st) / tck;
        }
        closedir(d);
        return c;
}

/* Profiling hook: with BENCH_PERF_CTL=FIFO and
 *   perf record --control=fifo:FIFO -D -1 ... bench_worker ...
 * only the timed worker phase is recorded. */
static void perf_ctl(const char *phase, const char *cmd)
{
        const char *path = getenv("BENCH_PERF_CTL");
        const char *want = getenv("BENCH_PERF_PHASE");
        FILE *f;

        if (!path || !*path || strcmp(phase, want && *want ? want : "worker"))
                return;
        f = fopen(path, "w");
        if (!f) {
                fprintf(stderr, "bench_worker: BENCH_PERF_CTL %s: %s\n",
                        path, strerror(errno));
                return;
        }
        fprintf(f, "%s\n", cmd);
        fclose(f);
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
        double *s = malloc((size_t)n * sizeof(*s));
        double m;

        if (!s)
                DIE("out of memory");
        memcpy(s, v, (size_t)n * sizeof(*s));
        qsort(s, (size_t)n, sizeof(*s), cmp_double);
        m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2.0;
        free(s);
        return m;
}

/* ------------------------------------------------------------ broker */

typedef struct broker {
        bool forked;
        rd_kafka_t *owner; /* inproc */
        rd_kafka_mock_cluster_t *mc;
        pid_t child; /* fork */
        int ctl_fd;  /* fork: closing it stops the child */
        char boot[256];
} broker_t;

static void topics_create(rd_kafka_mock_cluster_t *mc, const char *prefix)
{
        char name[256];

        for (int t = 0; t < SR_TOPIC__COUNT; t++) {
                rd_kafka_resp_err_t err;

                snprintf(name, sizeof(name), "%s%s", prefix,
                         sr_topic_suffix((sr_topic_kind_t)t));
                err = rd_kafka_mock_topic_create(mc, name, g_parts, 1);
                if (err)
                        DIE("mock topic %s: %s", name, rd_kafka_err2str(err));
        }
}

static void mock_open(rd_kafka_t **ownerp, rd_kafka_mock_cluster_t **mcp,
                      bool nagle)
{
        char errstr[256];
        rd_kafka_conf_t *kc = rd_kafka_conf_new();

        /* As sr_mock_new(): the owner handle only hosts the cluster; the
         * Metadata v4 cap makes the mock honour allow.auto.create.topics;
         * the mock's accepted sockets take the owner's socket options, and
         * without TCP_NODELAY a response written while the previous one is
         * unacknowledged waits for the client's delayed ACK (~40 ms per
         * multi-partition flush). --mock-nagle keeps librdkafka's default
         * (what sr_mock_new() did before it set socket.nagle.disable). */
        rd_kafka_conf_set(kc, "log_level", "3", errstr, sizeof(errstr));
        if (!nagle && rd_kafka_conf_set(kc, "socket.nagle.disable", "true",
                                        errstr, sizeof(errstr)))
                DIE("mock owner: %s", errstr);
        *ownerp = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof(errstr));
        if (!*ownerp)
                DIE("mock owner: %s", errstr);
        *mcp = rd_kafka_mock_cluster_new(*ownerp, 1);
        if (!*mcp)
                DIE("mock cluster: cannot start");
        rd_kafka_mock_set_apiversion(*mcp, 3 /* Metadata */, 0, 4);
        topics_create(*mcp, "sr.");
        topics_create(*mcp, BL_PREFIX);
}

static void broker_start(broker_t *b, bool forked, bool nagle)
{
        int up[2], ctl[2];
        ssize_t n;
        size_t got = 0;

        memset(b, 0, sizeof(*b));
        b->forked = forked;
        b->ctl_fd = -1;
        if (!forked) {
                mock_open(&b->owner, &b->mc, nagle);
                snprintf(b->boot, sizeof(b->boot), "%s",
                         rd_kafka_mock_cluster_bootstraps(b->mc));
                return;
        }
        /* Forked before any Kafka handle of this repeat exists (the
         * previous repeat's are all destroyed). */
        if (pipe(up) || pipe(ctl))
                DIE("pipe: %s", strerror(errno));
        fflush(NULL);
        b->child = fork();
        if (b->child < 0)
                DIE("fork: %s", strerror(errno));
        if (b->child == 0) {
                rd_kafka_t *owner;
                rd_kafka_mock_cluster_t *mc;
                char c;
                const char *bs;

                close(up[0]);
                close(ctl[1]);
                mock_open(&owner, &mc, nagle);
                bs = rd_kafka_mock_cluster_bootstraps(mc);
                if (write(up[1], bs, strlen(bs)) < 0 ||
                    write(up[1], "\n", 1) < 0)
                        _exit(1);
                close(up[1]);
                while (read(ctl[0], &c, 1) > 0)
                        ;
                rd_kafka_mock_cluster_destroy(mc);
                rd_kafka_destroy(owner);
                _exit(0);
        }
        close(up[1]);
        close(ctl[0]);
        b->ctl_fd = ctl[1];
        while (got < sizeof(b->boot) - 1 &&
               (n = read(up[0], b->boot + got, sizeof(b->boot) - 1 - got)) >
                       0) {
                got += (size_t)n;
                if (memchr(b->boot, '\n', got))
                        break;
        }
        close(up[0]);
        b->boot[got] = '\0';
        b->boot[strcspn(b->boot, "\n")] = '\0';
        if (!b->boot[0])
                DIE("broker child did not start");
}

static void broker_stop(broker_t *b)
{
        if (!b->forked) {
                rd_kafka_mock_cluster_destroy(b->mc);
                rd_kafka_destroy(b->owner);
                return;
        }
        close(b->ctl_fd);
        waitpid(b->child, NULL, 0);
}

/* CPU seconds of the broker (mock thread or child process). */
static double broker_cpu(const broker_t *b, const cpu_split_t *self)
{
        if (!b->forked)
                return self->mock;
        {
                cpu_split_t c = cpu_of(b->child, b->child);

                return c.main + c.mock + c.other;
        }
}

/* ------------------------------------------------------------ conf */

static sr_conf_t *make_conf(const opts_t *o, const char *prefix,
                            const char *boot, const char *dir)
{
        sr_conf_t *c = sr_conf_new();
        sr_errctx_t ec = { 0 };
        char parts[16];
        const char *kv[][2] = {
                { "http.enable", "false" },
                { "log.level", "warn" },
                { "partitions", parts },
                { "kafka.fetch.wait.max.ms", "1" },
                { "kafka.session.timeout.ms", "6000" },
                { "kafka.log_level", "3" },
        };

        if (!c)
                DIE("out of memory");
        snprintf(parts, sizeof(parts), "%d", g_parts);
        for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
                if (sr_conf_set(c, kv[i][0], kv[i][1], &ec))
                        DIE("%s", ec.msg);
        for (int i = 0; i < o->n_defs; i++) {
                char key[256];
                const char *eq = strchr(o->defs[i], '=');
                size_t kl = (size_t)(eq - o->defs[i]);

                if (kl >= sizeof(key))
                        DIE("-D %s: key too long", o->defs[i]);
                memcpy(key, o->defs[i], kl);
                key[kl] = '\0';
                if (sr_conf_set(c, key, eq + 1, &ec))
                        DIE("-D %s: %s", o->defs[i], ec.msg);
        }
        if (sr_conf_set(c, "topic.prefix", prefix, &ec) ||
            sr_conf_set(c, "kafka.bootstrap.servers", boot, &ec) ||
            (dir && sr_conf_set(c, "data.dir", dir, &ec)) ||
            sr_conf_finalize(c, &ec))
                DIE("%s", ec.msg);
        return c;
}

/* A raw consumer on a dup of conf->kafka: group-less use (assign). */
static rd_kafka_t *raw_consumer(const sr_conf_t *conf, const char *group)
{
        char errstr[256];
        rd_kafka_conf_t *kc = rd_kafka_conf_dup(conf->kafka);
        rd_kafka_t *rk;

        if (rd_kafka_conf_set(kc, "group.id", group, errstr,
                              sizeof(errstr)) ||
            rd_kafka_conf_set(kc, "enable.auto.commit", "false", errstr,
                              sizeof(errstr)) ||
            rd_kafka_conf_set(kc, "enable.auto.offset.store", "false", errstr,
                              sizeof(errstr)))
                DIE("consumer conf: %s", errstr);
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, sizeof(errstr));
        if (!rk)
                DIE("consumer: %s", errstr);
        rd_kafka_poll_set_consumer(rk);
        return rk;
}

static void wmarks(rd_kafka_t *rk, const char *topic, int64_t low[MAXP],
                   int64_t out[MAXP])
{
        for (int p = 0; p < g_parts; p++) {
                int64_t lo, hi;
                rd_kafka_resp_err_t err;

                err = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi,
                                                       10000);
                if (err)
                        DIE("watermarks %s [%d]: %s", topic, p,
                            rd_kafka_err2str(err));
                out[p] = hi;
                if (low)
                        low[p] = lo;
        }
}

static void highs(rd_kafka_t *rk, const char *topic, int64_t out[MAXP])
{
        wmarks(rk, topic, NULL, out);
}

static int64_t sum_parts(const int64_t v[MAXP])
{
        int64_t s = 0;

        for (int p = 0; p < g_parts; p++)
                s += v[p];
        return s;
}

static void topic_name(const char *prefix, sr_topic_kind_t t, char *out,
                       size_t outsz)
{
        snprintf(out, outsz, "%s%s", prefix, sr_topic_suffix(t));
}

/* ------------------------------------------------------------ dispatches */

typedef struct disp {
        sr_uuid_t run, stage, target, cmd, device;
        char device_name[48];
        bool filler;
} disp_t;

typedef struct dispset {
        disp_t *v;
        size_t n, cap;
        size_t cancels, bad;
} dispset_t;

static int cmp_uuid(const void *a, const void *b)
{
        return memcmp(a, b, sizeof(sr_uuid_t));
}

typedef struct ctx {
        const opts_t *o;
        sr_conf_t *conf, *conf_bl;
        rd_kafka_t *meta; /* watermark queries */
        sr_codec_t *codec;
        sr_producer_t *prod;
        sr_uuid_t *fillers; /* sorted run ids of the filler runs */
        size_t n_fillers;
        dispset_t ds;
} ctx_t;

static void drain_dispatch(ctx_t *c, rd_kafka_t *obs, int timeout_ms)
{
        rd_kafka_message_t *m;

        while ((m = rd_kafka_consumer_poll(obs, timeout_ms))) {
                sr_dispatch_t d;
                sr_errctx_t ec = { 0 };
                char *args = NULL;

                timeout_ms = 0;
                if (m->err) {
                        rd_kafka_message_destroy(m);
                        continue;
                }
                if (sr_codec_decode_dispatch(c->codec,
                                             sr_slice(m->payload, m->len), &d,
                                             &args, &ec)) {
                        c->ds.bad++;
                        rd_kafka_message_destroy(m);
                        continue;
                }
                free(args);
                rd_kafka_message_destroy(m);
                if (d.kind != SR_DISPATCH_COMMAND) {
                        c->ds.cancels++;
                        continue;
                }
                if (c->ds.n == c->ds.cap) {
                        size_t cap = c->ds.cap ? c->ds.cap * 2 : 4096;
                        disp_t *v = realloc(c->ds.v, cap * sizeof(*v));

                        if (!v)
                                DIE("out of memory");
                        c->ds.v = v;
                        c->ds.cap = cap;
                }
                {
                        disp_t *x = &c->ds.v[c->ds.n++];

                        x->run = d.pipeline_run_id;
                        x->stage = d.stage_run_id;
                        x->target = d.target_run_id;
                        x->cmd = d.command_id;
                        x->device = d.device_id;
                        snprintf(x->device_name, sizeof(x->device_name),
                                 "%.40s", d.device_name);
                        x->filler = bsearch(&x->run, c->fillers, c->n_fillers,
                                            sizeof(sr_uuid_t), cmp_uuid) !=
                                    NULL;
                }
        }
}

static rd_kafka_t *dispatch_observer(ctx_t *c)
{
        char name[256], group[64];
        rd_kafka_topic_partition_list_t *tl;
        rd_kafka_t *obs;

        snprintf(group, sizeof(group), "bench-obs-%d", (int)getpid());
        obs = raw_consumer(c->conf, group);
        topic_name("sr.", SR_TOPIC_DISPATCH, name, sizeof(name));
        tl = rd_kafka_topic_partition_list_new(g_parts);
        for (int p = 0; p < g_parts; p++)
                rd_kafka_topic_partition_list_add(tl, name, p)->offset =
                        RD_KAFKA_OFFSET_BEGINNING;
        if (rd_kafka_assign(obs, tl))
                DIE("observer assign failed");
        rd_kafka_topic_partition_list_destroy(tl);
        return obs;
}

/* ------------------------------------------------------------ inputs */

static void send_rec(ctx_t *c, sr_topic_kind_t topic, const sr_uuid_t *run,
                     const sr_buf_t *val)
{
        char key[SR_UUID_STR_LEN + 1];
        sr_outrec_t rec = { 0 };
        sr_errctx_t ec = { 0 };

        sr_uuid_fmt(run, key);
        rec.topic = topic;
        rec.partition = -1;
        rec.key = sr_slice(key, SR_UUID_STR_LEN);
        rec.value = sr_buf_slice(val);
        rec.timestamp = wall_ms();
        if (sr_producer_send(c->prod, &rec, &ec))
                DIE("send: %s", ec.msg);
}

static void producer_wait(sr_producer_t *p)
{
        sr_errctx_t ec = { 0 };

        if (sr_producer_wait(p, 120000, &ec))
                DIE("producer wait: %s", ec.msg);
}

/* CREATE_RUN for @p n runs; their ids into @p ids. */
static void send_creates(ctx_t *c, sr_uuid_t *ids, int n)
{
        sr_runspec_t spec;

        memset(&spec, 0, sizeof(spec));
        for (int i = 0; i < n; i++) {
                sr_spec_stage_t st;
                sr_spec_op_t op;
                sr_spec_target_t *tg;
                sr_command_t cmd;
                sr_errctx_t ec = { 0 };
                sr_buf_t val = { 0 };

                tg = calloc((size_t)c->o->targets, sizeof(*tg));
                if (!tg)
                        DIE("out of memory");
                memset(&st, 0, sizeof(st));
                memset(&op, 0, sizeof(op));
                sr_uuid_v4(&spec.pipeline_id);
                snprintf(spec.pipeline_name, sizeof(spec.pipeline_name),
                         "bench");
                spec.auto_promote = false;
                spec.n_stages = 1;
                spec.stages = &st;
                snprintf(st.name, sizeof(st.name), "stage-1");
                st.n_ops = 1;
                st.ops = &op;
                snprintf(op.operation_type, sizeof(op.operation_type),
                         "INSTALL");
                op.args_json = (char *)"{}";
                st.n_targets = (uint32_t)c->o->targets;
                st.targets = tg;
                for (int t = 0; t < c->o->targets; t++) {
                        sr_uuid_v4(&tg[t].device_id);
                        snprintf(tg[t].device_name, sizeof(tg[t].device_name),
                                 "dev-%d-%d", i, t);
                }
                memset(&cmd, 0, sizeof(cmd));
                cmd.kind = SR_CMD_CREATE_RUN;
                sr_uuid_v4(&cmd.command_id);
                sr_uuid_v4(&ids[i]);
                cmd.pipeline_run_id = ids[i];
                snprintf(cmd.enterprise_id, sizeof(cmd.enterprise_id),
                         "acme");
                cmd.issued_at = wall_ms();
                cmd.u.create.spec = spec; /* borrowed for the encode */
                cmd.u.create.run_number = 1;
                if (sr_codec_encode_command(c->codec, &cmd, &val, &ec))
                        DIE("encode create: %s", ec.msg);
                send_rec(c, SR_TOPIC_COMMANDS, &ids[i], &val);
                sr_buf_free(&val);
                free(tg);
        }
        producer_wait(c->prod);
}

/* INPROGRESS for every dispatch of the set, then SUCCESS for every one. */
static int64_t send_results(ctx_t *c, bool filler)
{
        static const char *const statuses[] = { "INPROGRESS", "SUCCESS" };
        int64_t n = 0;

        for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < c->ds.n; i++) {
                        const disp_t *d = &c->ds.v[i];
                        sr_result_t res;
                        sr_errctx_t ec = { 0 };
                        sr_buf_t val = { 0 };

                        if (d->filler != filler)
                                continue;
                        memset(&res, 0, sizeof(res));
                        sr_uuid_v4(&res.result_id);
                        res.pipeline_run_id = d->run;
                        res.stage_run_id = d->stage;
                        res.target_run_id = d->target;
                        res.command_id = d->cmd;
                        snprintf(res.command_status,
                                 sizeof(res.command_status), "%s",
                                 statuses[pass]);
                        res.device_id = d->device;
                        snprintf(res.device_name, sizeof(res.device_name),
                                 "%s", d->device_name);
                        res.reported_at = wall_ms();
                        if (sr_codec_encode_result(c->codec, &res, &val, &ec))
                                DIE("encode result: %s", ec.msg);
                        send_rec(c, SR_TOPIC_RESULTS, &d->run, &val);
                        sr_buf_free(&val);
                        n++;
                }
        producer_wait(c->prod);
        return n;
}

/* ------------------------------------------------------------ metrics */

static const char *const outcomes[] = { "applied", "stale", "duplicate",
                                        "rejected", "dead_letter",
                                        "ignored" };
#define N_OUTCOMES 6

typedef struct wmetrics {
        sr_series_t *res[N_OUTCOMES], *cmd[N_OUTCOMES];
        sr_series_t *pr_success, *events, *restore_records, *restoring;
        sr_series_t *transitions[SR_ENT__COUNT][SR_ST__COUNT];
        sr_series_t *batches; /* sr_batch_duration_seconds: its count */
} wmetrics_t;

static void wmetrics_get(sr_metrics_t *r, wmetrics_t *m)
{
        char labels[128];

        /* Same names and label text as the worker registers
         * (common/status/sr_worker_metrics.c): the registry hands back the
         * worker's series. */
        for (int o = 0; o < N_OUTCOMES; o++) {
                snprintf(labels, sizeof(labels),
                         "topic=\"results\",outcome=\"%s\"", outcomes[o]);
                m->res[o] = sr_metrics_counter(r, "sr_inputs_total", "",
                                               labels);
                snprintf(labels, sizeof(labels),
                         "topic=\"commands\",outcome=\"%s\"", outcomes[o]);
                m->cmd[o] = sr_metrics_counter(r, "sr_inputs_total", "",
                                               labels);
        }
        for (int e = 0; e < SR_ENT__COUNT; e++)
                for (int s = 1; s < SR_ST__COUNT; s++) {
                        snprintf(labels, sizeof(labels),
                                 "entity=\"%s\",status=\"%s\"",
                                 sr_entity_type_name((sr_entity_type_t)e),
                                 sr_status_name((sr_status_t)s));
                        m->transitions[e][s] = sr_metrics_counter(
                                r, "sr_transitions_total", "", labels);
                }
        m->pr_success = m->transitions[SR_ENT_PIPELINE_RUN][SR_ST_SUCCESS];
        m->events = sr_metrics_counter(r, "sr_events_total", "", NULL);
        m->restore_records = sr_metrics_counter(
                r, "sr_restore_records_total", "", NULL);
        m->restoring = sr_metrics_gauge(r, "sr_restore_partitions_in_progress",
                                        "", NULL);
        m->batches = sr_metrics_histogram(r, "sr_batch_duration_seconds", "",
                                          NULL, NULL, 0);
}

static double sum_series(sr_series_t *const *s, int n)
{
        double v = 0;

        for (int i = 0; i < n; i++)
                v += sr_series_value(s[i]);
        return v;
}

static double transitions_total(const wmetrics_t *m)
{
        double v = 0;

        for (int e = 0; e < SR_ENT__COUNT; e++)
                for (int s = 1; s < SR_ST__COUNT; s++)
                        v += sr_series_value(m->transitions[e][s]);
        return v;
}

static void worker_poll(sr_worker_t *w)
{
        sr_errctx_t ec = { 0 };

        if (sr_worker_poll(w, &ec))
                DIE("worker poll: %s", ec.msg);
}

/* ------------------------------------------------------------ outputs */

/* Everything the worker publishes. sr.commands: each result of sr.results
 * is forwarded (validated, unchanged) into its partition's command log and
 * applied when read back from there; timer-fired commands go there too. */
static const sr_topic_kind_t out_topics[] = { SR_TOPIC_EVENTS,
                                              SR_TOPIC_CHANGELOG,
                                              SR_TOPIC_DISPATCH,
                                              SR_TOPIC_REPLIES,
                                              SR_TOPIC_DLQ,
                                              SR_TOPIC_COMMANDS };
#define N_OUT 6

typedef struct tmpl {
        int64_t n;          /* records the worker published */
        uint64_t key_bytes, value_bytes, headers;
        bool have;
        uint32_t n_headers; /* of the first record seen */
        char *hname[SR_OUTREC_MAX_HEADERS];
        void *hval[SR_OUTREC_MAX_HEADERS];
        size_t hlen[SR_OUTREC_MAX_HEADERS];
        char *value; /* average-sized value, bytes of a real one */
        size_t value_len;
} tmpl_t;

static void tmpl_free(tmpl_t *t)
{
        for (uint32_t i = 0; i < t->n_headers; i++) {
                free(t->hname[i]);
                free(t->hval[i]);
        }
        free(t->value);
        memset(t, 0, sizeof(*t));
}

/* Per-run event sequence of the timed window: gapless, duplicates
 * identical (the guarantee). */
typedef struct evkey {
        sr_uuid_t run;
        uint64_t seq, hash;
} evkey_t;

typedef struct evcheck {
        int64_t decoded, undecodable, dup_same, dup_diff, gaps, runs;
} evcheck_t;

static int cmp_evkey(const void *a, const void *b)
{
        const evkey_t *x = a, *y = b;
        int c = memcmp(&x->run, &y->run, sizeof(x->run));

        if (c)
                return c;
        return (x->seq > y->seq) - (x->seq < y->seq);
}

static uint64_t fnv_bytes(const void *p, size_t n)
{
        const unsigned char *b = p;
        uint64_t h = UINT64_C(14695981039346656037);

        for (size_t i = 0; i < n; i++) {
                h ^= b[i];
                h *= UINT64_C(1099511628211);
        }
        return h;
}

static evcheck_t check_events(evkey_t *ev, size_t n)
{
        evcheck_t r = { 0 };

        qsort(ev, n, sizeof(*ev), cmp_evkey);
        for (size_t i = 0; i < n; i++) {
                if (i == 0 || !sr_uuid_eq(&ev[i].run, &ev[i - 1].run)) {
                        r.runs++;
                        continue;
                }
                if (ev[i].seq == ev[i - 1].seq) {
                        if (ev[i].hash == ev[i - 1].hash)
                                r.dup_same++;
                        else
                                r.dup_diff++;
                } else if (ev[i].seq != ev[i - 1].seq + 1) {
                        r.gaps++;
                }
        }
        return r;
}

/* Read what the worker published between @p lo and @p hi (per topic and
 * partition): sizes, the first record of each topic as a template, and the
 * events' per-run sequence. */
static evcheck_t measure_outputs(ctx_t *c, int64_t lo[N_OUT][MAXP],
                                 int64_t hi[N_OUT][MAXP], tmpl_t tm[N_OUT])
{
        evkey_t *ev = NULL;
        size_t n_ev = 0;
        evcheck_t ek;
        char names[N_OUT][256], group[64];
        rd_kafka_topic_partition_list_t *tl;
        rd_kafka_t *rk;
        int64_t want = 0, got = 0;
        char *first_val[N_OUT] = { 0 };
        size_t first_len[N_OUT] = { 0 };
        double t0 = kit_mono_s();

        snprintf(group, sizeof(group), "bench-measure-%d", (int)getpid());
        rk = raw_consumer(c->conf, group);
        tl = rd_kafka_topic_partition_list_new(N_OUT * g_parts);
        for (int t = 0; t < N_OUT; t++) {
                topic_name("sr.", out_topics[t], names[t], sizeof(names[t]));
                tm[t].n = 0;
                for (int p = 0; p < g_parts; p++) {
                        tm[t].n += hi[t][p] - lo[t][p];
                        if (hi[t][p] > lo[t][p])
                                rd_kafka_topic_partition_list_add(
                                        tl, names[t], p)
                                        ->offset = lo[t][p];
                }
                want += tm[t].n;
        }
        if (tl->cnt && rd_kafka_assign(rk, tl))
                DIE("measure assign failed");
        rd_kafka_topic_partition_list_destroy(tl);
        while (got < want) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
                const char *tn;
                int t;

                if (kit_mono_s() - t0 > PHASE_TIMEOUT_S)
                        DIE("reading outputs: timeout (%" PRId64 " of %" PRId64
                            ")", got, want);
                if (!m)
                        continue;
                if (m->err) {
                        rd_kafka_message_destroy(m);
                        continue;
                }
                tn = rd_kafka_topic_name(m->rkt);
                for (t = 0; t < N_OUT && strcmp(tn, names[t]); t++)
                        ;
                if (t == N_OUT || m->offset >= hi[t][m->partition]) {
                        rd_kafka_message_destroy(m);
                        continue;
                }
                got++;
                tm[t].key_bytes += m->key_len;
                tm[t].value_bytes += m->len;
                {
                        rd_kafka_headers_t *hdrs = NULL;
                        const char *hn;
                        const void *hv;
                        size_t hs;

                        if (!rd_kafka_message_headers(m, &hdrs)) {
                                size_t cnt = rd_kafka_header_cnt(hdrs);

                                tm[t].headers += cnt;
                                for (size_t i = 0;
                                     !tm[t].have && i < cnt &&
                                     i < SR_OUTREC_MAX_HEADERS &&
                                     !rd_kafka_header_get_all(hdrs, i, &hn,
                                                              &hv, &hs);
                                     i++) {
                                        uint32_t k = tm[t].n_headers++;

                                        tm[t].hname[k] = strdup(hn);
                                        tm[t].hval[k] = malloc(hs ? hs : 1);
                                        if (!tm[t].hname[k] || !tm[t].hval[k])
                                                DIE("out of memory");
                                        if (hv)
                                                memcpy(tm[t].hval[k], hv, hs);
                                        tm[t].hlen[k] = hs;
                                }
                        }
                }
                if (out_topics[t] == SR_TOPIC_EVENTS) {
                        sr_event_t e;

                        if (!ev) {
                                ev = calloc((size_t)tm[t].n, sizeof(*ev));
                                if (!ev)
                                        DIE("out of memory");
                        }
                        if (n_ev < (size_t)tm[t].n &&
                            sr_codec_decode_event(c->codec,
                                                  sr_slice(m->payload, m->len),
                                                  &e, NULL) == SR_OK) {
                                ev[n_ev].run = e.pipeline_run_id;
                                ev[n_ev].seq = e.seq;
                                ev[n_ev++].hash = fnv_bytes(m->payload,
                                                            m->len);
                        }
                }
                if (!tm[t].have) {
                        tm[t].have = true;
                        first_len[t] = m->len;
                        first_val[t] = malloc(m->len ? m->len : 1);
                        if (!first_val[t])
                                DIE("out of memory");
                        memcpy(first_val[t], m->payload, m->len);
                }
                rd_kafka_message_destroy(m);
        }
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        for (int t = 0; t < N_OUT; t++) {
                if (!tm[t].n)
                        continue;
                tm[t].value_len = (size_t)(tm[t].value_bytes /
                                           (uint64_t)tm[t].n);
                tm[t].value = malloc(tm[t].value_len + 1);
                if (!tm[t].value)
                        DIE("out of memory");
                for (size_t i = 0; i < tm[t].value_len; i++)
                        tm[t].value[i] = first_len[t] ?
                                                 first_val[t][i % first_len[t]] :
                                                 'x';
                free(first_val[t]);
        }
        ek = check_events(ev, n_ev);
        ek.decoded = (int64_t)n_ev;
        ek.undecodable = tm[0].n - (int64_t)n_ev;
        free(ev);
        return ek;
}

/* ------------------------------------------------------------ baseline */

typedef struct bl_result {
        double secs, per_s, cpu_main, cpu_other, cpu_broker, main_wait;
        int64_t inputs, outputs;
} bl_result_t;

static bl_result_t run_baseline(ctx_t *c, const broker_t *b,
                                const int64_t start[MAXP],
                                const int64_t end[MAXP], tmpl_t tm[N_OUT])
{
        char name[256], group[64];
        rd_kafka_topic_partition_list_t *tl;
        rd_kafka_message_t **batch;
        sr_producer_t *prod;
        sr_errctx_t ec = { 0 };
        bl_result_t r = { 0 };
        int64_t total = 0, done = 0, outputs = 0;
        int max = c->conf->batch_size;
        cpu_split_t c0, c1;
        double b0, t0;
        rd_kafka_message_t *first = NULL;
        rd_kafka_t *rk;

        for (int p = 0; p < g_parts; p++)
                total += end[p] - start[p];
        if (sr_producer_new(c->conf_bl, "baseline", &prod, &ec))
                DIE("baseline producer: %s", ec.msg);
        batch = calloc((size_t)max, sizeof(*batch));
        if (!batch)
                DIE("out of memory");
        snprintf(group, sizeof(group), "bench-baseline-%d", (int)getpid());
        rk = raw_consumer(c->conf, group);
        topic_name("sr.", SR_TOPIC_RESULTS, name, sizeof(name));
        tl = rd_kafka_topic_partition_list_new(g_parts);
        for (int p = 0; p < g_parts; p++)
                rd_kafka_topic_partition_list_add(tl, name, p)->offset =
                        start[p];
        if (rd_kafka_assign(rk, tl))
                DIE("baseline assign failed");
        rd_kafka_topic_partition_list_destroy(tl);

        /* Warm-up, not timed. The worker's producer had published to every
         * output topic before its clock started: librdkafka holds the first
         * record to a topic new to a producer for ~1 s (topic metadata), so
         * this producer publishes one record to each output topic first.
         * The worker's consumer was connected and had prefetched its
         * backlog: this one starts the clock once its own prefetch has
         * stopped growing (or holds everything), first record in hand. */
        for (int t = 0; t < N_OUT; t++) {
                sr_outrec_t rec = { 0 };

                rec.topic = out_topics[t];
                rec.partition = 0;
                rec.key = sr_slice("warm-up", 7);
                rec.value = sr_slice("", 0);
                if (sr_producer_send(prod, &rec, &ec))
                        DIE("baseline warm-up: %s", ec.msg);
        }
        if (sr_producer_wait(prod, 30000, &ec))
                DIE("baseline warm-up: %s", ec.msg);
        t0 = kit_mono_s();
        {
                rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
                size_t prev = 0;
                int stable = 0;

                while (kit_mono_s() - t0 < 30 && stable < 5) {
                        size_t len;

                        sleep_ms(50);
                        len = rd_kafka_queue_length(q);
                        if ((int64_t)len >= total)
                                break;
                        stable = len > 0 && len == prev ? stable + 1 : 0;
                        prev = len;
                }
                rd_kafka_queue_destroy(q);
        }
        while (!first) {
                first = rd_kafka_consumer_poll(rk, 100);
                if (first && (first->err ||
                              first->offset >= end[first->partition])) {
                        rd_kafka_message_destroy(first);
                        first = NULL;
                }
                if (kit_mono_s() - t0 > 60)
                        DIE("baseline: no input within 60 s");
        }
        malloc_trim(0); /* as before the worker phase */
        c0 = cpu_of(getpid(), getpid());
        b0 = broker_cpu(b, &c0);
        perf_ctl("baseline", "enable");
        t0 = kit_mono_s();
        while (done < total) {
                int64_t next[MAXP];
                int n = 0;

                if (kit_mono_s() - t0 > PHASE_TIMEOUT_S)
                        DIE("baseline: timeout at %" PRId64 " of %" PRId64,
                            done, total);
                for (int p = 0; p < g_parts; p++)
                        next[p] = -1;
                if (first) {
                        batch[n++] = first;
                        first = NULL;
                }
                /* As sr_consumer_poll(): wait for the first record only,
                 * then take what is already there. */
                while (n < max) {
                        rd_kafka_message_t *m =
                                rd_kafka_consumer_poll(rk, n ? 0 : 100);

                        if (!m)
                                break;
                        if (m->err || m->offset >= end[m->partition]) {
                                rd_kafka_message_destroy(m);
                                continue;
                        }
                        batch[n++] = m;
                }
                for (int i = 0; i < n; i++) {
                        rd_kafka_message_t *m = batch[i];
                        int64_t k = done + i;

                        for (int t = 0; t < N_OUT; t++) {
                                int64_t cnt = (k + 1) * tm[t].n / total -
                                              k * tm[t].n / total;
                                sr_outrec_t rec = { 0 };

                                rec.topic = out_topics[t];
                                rec.partition = out_topics[t] ==
                                                                SR_TOPIC_CHANGELOG ?
                                                        m->partition :
                                                        -1;
                                rec.key = sr_slice(m->key, m->key_len);
                                rec.value = sr_slice(tm[t].value,
                                                     tm[t].value_len);
                                rec.timestamp = wall_ms();
                                rec.n_headers = tm[t].n_headers;
                                for (uint32_t h = 0; h < tm[t].n_headers;
                                     h++) {
                                        rec.headers[h].name = tm[t].hname[h];
                                        rec.headers[h].value = sr_slice(
                                                tm[t].hval[h], tm[t].hlen[h]);
                                }
                                for (int64_t j = 0; j < cnt; j++) {
                                        if (sr_producer_send(prod, &rec, &ec))
                                                DIE("baseline send: %s",
                                                    ec.msg);
                                        outputs++;
                                }
                        }
                        next[m->partition] = m->offset + 1;
                }
                if (n) {
                        rd_kafka_topic_partition_list_t *cl =
                                rd_kafka_topic_partition_list_new(g_parts);
                        rd_kafka_resp_err_t kerr;

                        if (sr_producer_wait(prod, 30000, &ec))
                                DIE("baseline wait: %s", ec.msg);
                        for (int p = 0; p < g_parts; p++)
                                if (next[p] >= 0)
                                        rd_kafka_topic_partition_list_add(
                                                cl, name, p)
                                                ->offset = next[p];
                        kerr = rd_kafka_commit(rk, cl, 0);
                        if (kerr)
                                DIE("baseline commit: %s",
                                    rd_kafka_err2str(kerr));
                        rd_kafka_topic_partition_list_destroy(cl);
                }
                for (int i = 0; i < n; i++)
                        rd_kafka_message_destroy(batch[i]);
                done += n;
                if (getenv("BENCH_TRACE_POLLS"))
                        printf("  baseline batch at %7.3f s: %5d records, "
                               "%" PRId64 " done\n", kit_mono_s() - t0, n, done);
        }
        r.secs = kit_mono_s() - t0;
        perf_ctl("baseline", "disable");
        c1 = cpu_of(getpid(), getpid());
        r.cpu_main = c1.main - c0.main;
        r.cpu_other = c1.other - c0.other;
        r.cpu_broker = broker_cpu(b, &c1) - b0;
        r.main_wait = c1.main_wait - c0.main_wait;
        r.inputs = done;
        r.outputs = outputs;
        r.per_s = (double)done / r.secs;
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        sr_producer_destroy(prod);
        free(batch);
        return r;
}

/* The baseline runs in a process of its own, forked at the start of its
 * repeat (before any Kafka handle or thread exists, from a process that
 * has run nothing yet: see main()). In the bench's own process it ran
 * after the worker phase, on a heap left fragmented by it: its malloc
 * calls then cost up to twice as much, and the baseline's speed varied
 * between ~90k and ~190k inputs/s from repeat to repeat. It gets the
 * worker's output templates and the input offsets through a pipe once the
 * worker phase is over, and answers with its bl_result_t. */
typedef struct bl_child {
        pid_t pid;
        int job_fd, res_fd;
} bl_child_t;

static void put_all(int fd, const void *p, size_t n)
{
        const char *c = p;

        while (n) {
                ssize_t k = write(fd, c, n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        DIE("pipe write: %s", strerror(errno));
                c += k;
                n -= (size_t)k;
        }
}

static bool get_all(int fd, void *p, size_t n)
{
        char *c = p;

        while (n) {
                ssize_t k = read(fd, c, n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return false;
                c += k;
                n -= (size_t)k;
        }
        return true;
}

static void put_blob(int fd, const void *p, size_t n)
{
        uint64_t len = n;

        put_all(fd, &len, sizeof(len));
        put_all(fd, p, n);
}

/* NUL-terminated copy; NULL when the pipe closed. */
static void *get_blob(int fd, size_t *n)
{
        uint64_t len;
        char *p;

        if (!get_all(fd, &len, sizeof(len)) || len > (1u << 30))
                return NULL;
        p = malloc(len + 1);
        if (!p)
                DIE("out of memory");
        if (!get_all(fd, p, len)) {
                free(p);
                return NULL;
        }
        p[len] = '\0';
        if (n)
                *n = len;
        return p;
}

static void bl_child_start(bl_child_t *bc, ctx_t *c, const broker_t *b)
{
        int job[2], res[2];

        if (pipe(job) || pipe(res))
                DIE("pipe: %s", strerror(errno));
        fflush(NULL);
        bc->pid = fork();
        if (bc->pid < 0)
                DIE("fork: %s", strerror(errno));
        if (bc->pid == 0) {
                int64_t start[MAXP], end[MAXP];
                tmpl_t tm[N_OUT];
                bl_result_t r;
                bool ok;

                close(job[1]);
                close(res[0]);
                memset(tm, 0, sizeof(tm));
                /* The parent gave up (a failed check, a DIE): just go. */
                ok = get_all(job[0], start, sizeof(start)) &&
                     get_all(job[0], end, sizeof(end));
                for (int t = 0; ok && t < N_OUT; t++) {
                        ok = get_all(job[0], &tm[t].n, sizeof(tm[t].n)) &&
                             get_all(job[0], &tm[t].n_headers,
                                     sizeof(tm[t].n_headers)) &&
                             tm[t].n_headers <= SR_OUTREC_MAX_HEADERS;
                        for (uint32_t h = 0; ok && h < tm[t].n_headers;
                             h++) {
                                tm[t].hname[h] = get_blob(job[0], NULL);
                                tm[t].hval[h] = get_blob(job[0],
                                                         &tm[t].hlen[h]);
                                ok = tm[t].hname[h] && tm[t].hval[h];
                        }
                        if (ok)
                                tm[t].value = get_blob(job[0],
                                                       &tm[t].value_len);
                        ok = ok && tm[t].value;
                }
                if (!ok)
                        _exit(0);
                r = run_baseline(c, b, start, end, tm);
                put_all(res[1], &r, sizeof(r));
                fflush(NULL);
                _exit(0);
        }
        close(job[0]);
        close(res[1]);
        bc->job_fd = job[1];
        bc->res_fd = res[0];
}

static bl_result_t bl_child_run(bl_child_t *bc, const int64_t start[MAXP],
                                const int64_t end[MAXP],
                                const tmpl_t tm[N_OUT])
{
        bl_result_t r;
        int st = 0;

        put_all(bc->job_fd, start, sizeof(int64_t) * MAXP);
        put_all(bc->job_fd, end, sizeof(int64_t) * MAXP);
        for (int t = 0; t < N_OUT; t++) {
                put_all(bc->job_fd, &tm[t].n, sizeof(tm[t].n));
                put_all(bc->job_fd, &tm[t].n_headers,
                        sizeof(tm[t].n_headers));
                for (uint32_t h = 0; h < tm[t].n_headers; h++) {
                        put_blob(bc->job_fd, tm[t].hname[h],
                                 strlen(tm[t].hname[h]));
                        put_blob(bc->job_fd, tm[t].hval[h], tm[t].hlen[h]);
                }
                put_blob(bc->job_fd, tm[t].value ? tm[t].value : "",
                         tm[t].value ? tm[t].value_len : 0);
        }
        close(bc->job_fd);
        bc->job_fd = -1;
        if (!get_all(bc->res_fd, &r, sizeof(r)))
                DIE("the baseline process ended without a result");
        close(bc->res_fd);
        bc->res_fd = -1;
        if (waitpid(bc->pid, &st, 0) < 0 || !WIFEXITED(st) ||
            WEXITSTATUS(st) != 0)
                DIE("the baseline process failed");
        bc->pid = 0;
        return r;
}

/* ------------------------------------------------------------ restore */

typedef struct sampler {
        pthread_t th;
        const wmetrics_t *m;
        atomic_bool stop;
        double t_rise, t_fall, t_first, t_last, last;
} sampler_t;

static void *sampler_main(void *arg)
{
        sampler_t *s = arg;

        while (!atomic_load(&s->stop)) {
                double g = sr_series_value(s->m->restoring);
                double v = sr_series_value(s->m->restore_records);
                double t = kit_mono_s();

                if (g > 0 && s->t_rise < 0)
                        s->t_rise = t;
                if (g == 0 && s->t_rise >= 0)
                        s->t_fall = t;
                if (v > 0 && s->t_first < 0)
                        s->t_first = t;
                if (v != s->last) {
                        s->last = v;
                        s->t_last = t;
                }
                {
                        struct timespec ts = { 0, 1000000L };

                        nanosleep(&ts, NULL);
                }
        }
        return NULL;
}

/* Count and hash of every entity of every partition, and the offsets. */
typedef struct digest {
        uint64_t n[MAXP], h[MAXP], bytes; /* bytes: keys + values, all */
        int64_t cmd_off[MAXP], res_off[MAXP];
} digest_t;

static void fnv(uint64_t *h, const void *p, size_t n)
{
        const unsigned char *b = p;

        for (size_t i = 0; i < n; i++) {
                *h ^= b[i];
                *h *= UINT64_C(1099511628211);
        }
}

typedef struct dig_ctx {
        uint64_t n, h, bytes;
} dig_ctx_t;

static int dig_one(sr_slice_t key, sr_slice_t value, void *arg)
{
        dig_ctx_t *d = arg;

        fnv(&d->h, &key.len, sizeof(key.len));
        fnv(&d->h, key.ptr, key.len);
        fnv(&d->h, &value.len, sizeof(value.len));
        fnv(&d->h, value.ptr, value.len);
        d->bytes += key.len + value.len;
        d->n++;
        return 0;
}

static void store_digest(const char *dir, digest_t *dg)
{
        sr_store_opts_t so = { .dir = dir, .map_size = 0, .sync = false };
        sr_errctx_t ec = { 0 };
        sr_store_t *st;
        sr_txn_t *txn;

        if (sr_store_open(&so, &st, &ec) ||
            sr_store_txn_begin(st, false, &txn, &ec))
                DIE("digest %s: %s", dir, ec.msg);
        for (int p = 0; p < g_parts; p++) {
                dig_ctx_t d = { 0, UINT64_C(14695981039346656037), 0 };
                sr_store_pmeta_t pm = { -1, -1, -1, 0 };

                if (sr_store_scan(txn, p, sr_slice("", 0), dig_one, &d, &ec))
                        DIE("digest scan: %s", ec.msg);
                dg->n[p] = d.n;
                dg->h[p] = d.h;
                dg->bytes += d.bytes;
                if (sr_store_pmeta_get(txn, p, &pm, &ec) &&
                    ec.code != SR_ERR_NOT_FOUND)
                        DIE("digest pmeta: %s", ec.msg);
                dg->cmd_off[p] = pm.commands_offset;
                dg->res_off[p] = pm.results_offset;
        }
        sr_store_txn_abort(txn);
        sr_store_close(st);
}

/* ------------------------------------------------------------ one repeat */

typedef struct rep_result {
        double worker_s, worker_res_per_s, worker_ev_per_s, outputs_per_in;
        double baseline_per_s, ratio;
        double restore_s, restore_read_s, restore_per_s, ready_s;
        int64_t restore_records;
        double peak_rss_mb, rss_start_mb;
        /* main thread during the timed worker phase (schedstat) */
        double worker_cpu_us_per_result, worker_blocked_s, worker_cpu_wait_s;
        bool restore_identical;
        bool ready_before_assign; /* sr_worker_is_ready() before restoring */
        int problems;
} rep_result_t;

static void check(rep_result_t *r, bool ok, const char *fmt, ...)
        SR_PRINTF(3, 4);
static void check(rep_result_t *r, bool ok, const char *fmt, ...)
{
        va_list ap;

        if (ok)
                return;
        r->problems++;
        fprintf(stderr, "bench_worker: CHECK FAILED: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

static rep_result_t run_once(const opts_t *o, int rep)
{
        rep_result_t r;
        broker_t b;
        ctx_t c;
        char dir1[4096], dir2[4096], name[256];
        sr_metrics_t *reg1, *reg2;
        wmetrics_t m1, m2;
        sr_worker_t *w;
        sr_errctx_t ec = { 0 };
        rd_kafka_t *obs;
        sr_uuid_t *ids;
        int total_runs = o->runs + o->restore_runs;
        size_t want_disp = (size_t)total_runs * (size_t)o->targets;
        int64_t res_lo[MAXP], res_hi[MAXP];
        int64_t out_lo[N_OUT][MAXP], out_hi[N_OUT][MAXP];
        int64_t n_filler_res, n_res, expect_res;
        double t0, base_res, base_tr, tr_timed;
        cpu_split_t c0, c1;
        double b0, b1;
        tmpl_t tm[N_OUT];
        bl_result_t bl;
        bl_child_t blc = { 0, -1, -1 };
        sr_conf_t *conf2;
        sampler_t smp;
        digest_t d1, d2;
        struct poll_trace {
                double start, secs, batches, applied;
        } *trace = NULL; /* BENCH_TRACE_POLLS: every timed worker poll */
        int n_trace = 0;
        double mdb_start_mb;

        memset(&r, 0, sizeof(r));
        memset(&c, 0, sizeof(c));
        memset(tm, 0, sizeof(tm));
        c.o = o;
        snprintf(dir1, sizeof(dir1), "%s/bench_worker.XXXXXX", o->parent);
        snprintf(dir2, sizeof(dir2), "%s/bench_worker.XXXXXX", o->parent);
        if (!mkdtemp(dir1) || !mkdtemp(dir2))
                DIE("mkdtemp in %s: %s", o->parent, strerror(errno));

        broker_start(&b, o->fork_broker, o->mock_nagle);
        c.conf = make_conf(o, "sr.", b.boot, dir1);
        c.conf_bl = make_conf(o, BL_PREFIX, b.boot, NULL);
        if (o->fork_broker) /* inproc: the mock's threads would not fork */
                bl_child_start(&blc, &c, &b);
        c.meta = raw_consumer(c.conf, "bench-meta");
        if (sr_codec_new(&c.codec, &ec) ||
            sr_producer_new(c.conf, "bench", &c.prod, &ec))
                DIE("%s", ec.msg);
        reg1 = sr_metrics_new();
        if (!reg1)
                DIE("out of memory");

        /* ---- 1. preload */
        t0 = kit_mono_s();
        if (sr_worker_new(c.conf, reg1, &w, &ec))
                DIE("worker: %s", ec.msg);
        wmetrics_get(reg1, &m1);
        obs = dispatch_observer(&c);
        ids = calloc((size_t)total_runs, sizeof(*ids));
        if (!ids)
                DIE("out of memory");
        send_creates(&c, ids, total_runs);
        c.fillers = ids; /* the first restore_runs ids are the fillers */
        c.n_fillers = (size_t)o->restore_runs;
        qsort(c.fillers, c.n_fillers, sizeof(sr_uuid_t), cmp_uuid);
        while (c.ds.n < want_disp) {
                if (kit_mono_s() - t0 > PHASE_TIMEOUT_S)
                        DIE("preload: %zu of %zu dispatches", c.ds.n,
                            want_disp);
                worker_poll(w);
                drain_dispatch(&c, obs, 0);
        }
        /* Let any stray extra dispatch arrive (there should be none). */
        for (int i = 0; i < 5; i++) {
                worker_poll(w);
                drain_dispatch(&c, obs, 10);
        }
        check(&r, c.ds.n == want_disp && c.ds.cancels == 0 && c.ds.bad == 0,
              "dispatches: %zu commands (want %zu), %zu cancels, %zu "
              "undecodable", c.ds.n, want_disp, c.ds.cancels, c.ds.bad);
        check(&r,
              sr_series_value(m1.cmd[0]) == (double)total_runs &&
                      sum_series(m1.cmd, N_OUTCOMES) == (double)total_runs,
              "creates: %.0f applied of %.0f consumed, want %d",
              sr_series_value(m1.cmd[0]), sum_series(m1.cmd, N_OUTCOMES),
              total_runs);
        n_filler_res = send_results(&c, true);
        while (sum_series(m1.res, N_OUTCOMES) < (double)n_filler_res) {
                if (kit_mono_s() - t0 > PHASE_TIMEOUT_S)
                        DIE("preload: filler results not drained");
                worker_poll(w);
        }
        drain_dispatch(&c, obs, 0);
        rd_kafka_consumer_close(obs);
        rd_kafka_destroy(obs);
        if (o->verbose)
                printf("  [rep %d] preload %.1f s: %d runs created, %zu "
                       "dispatches, %" PRId64 " filler results\n",
                       rep, kit_mono_s() - t0, total_runs, c.ds.n, n_filler_res);

        /* ---- 2. worker, timed */
        topic_name("sr.", SR_TOPIC_RESULTS, name, sizeof(name));
        highs(c.meta, name, res_lo);
        n_res = send_results(&c, false);
        highs(c.meta, name, res_hi);
        expect_res = n_filler_res + n_res;
        check(&r, sum_parts(res_hi) - sum_parts(res_lo) == n_res,
              "results on the topic: %" PRId64 ", sent %" PRId64,
              sum_parts(res_hi) - sum_parts(res_lo), n_res);
        for (int t = 0; t < N_OUT; t++) {
                topic_name("sr.", out_topics[t], name, sizeof(name));
                highs(c.meta, name, out_lo[t]);
        }
        /* Let the worker's consumer prefetch the backlog (it fetches in
         * its own threads while nobody polls it), as the baseline's does
         * before its clock starts. */
        sleep_ms(1000);
        base_res = sum_series(m1.res, N_OUTCOMES);
        base_tr = transitions_total(&m1);
        mdb_start_mb = file_mb(dir1, "data.mdb");
        malloc_trim(0); /* give back what the bench's own clients freed */
        r.rss_start_mb = kit_proc_status_mb("VmRSS");
        if (!reset_peak_rss())
                fprintf(stderr, "bench_worker: cannot reset VmHWM; peak RSS "
                                "is the process's lifetime peak\n");
        c0 = cpu_of(getpid(), getpid());
        b0 = broker_cpu(&b, &c0);
        if (getenv("BENCH_TRACE_POLLS")) {
                trace = calloc(4096, sizeof(*trace));
                if (!trace)
                        DIE("out of memory");
        }
        perf_ctl("worker", "enable");
        t0 = kit_mono_s();
        while (sum_series(m1.res, N_OUTCOMES) < (double)expect_res) {
                if (kit_mono_s() - t0 > PHASE_TIMEOUT_S)
                        DIE("worker: %.0f of %" PRId64 " results after %.0f s",
                            sum_series(m1.res, N_OUTCOMES) - base_res, n_res,
                            PHASE_TIMEOUT_S);
                if (trace && n_trace < 4096) {
                        double a = kit_mono_s();

                        worker_poll(w);
                        trace[n_trace].start = a - t0;
                        trace[n_trace].secs = kit_mono_s() - a;
                        trace[n_trace].batches =
                                sr_series_value(m1.batches);
                        trace[n_trace++].applied =
                                sum_series(m1.res, N_OUTCOMES) - base_res;
                } else {
                        worker_poll(w);
                }
        }
        {
                /* The last batches' outputs are still in the relay
                 * pipeline: the clock stops when they are acknowledged. */
                sr_errctx_t fec = { 0 };

                if (sr_worker_flush(w, &fec))
                        DIE("worker flush: %s", fec.msg);
        }
        r.worker_s = kit_mono_s() - t0;
        perf_ctl("worker", "disable");
        for (int i = 0; i < n_trace; i++)
                printf("  poll %4d at %7.3f s: %7.3f s, batches so far %5.0f,"
                       " results applied %6.0f\n", i, trace[i].start,
                       trace[i].secs, trace[i].batches, trace[i].applied);
        free(trace);
        r.peak_rss_mb = kit_proc_status_mb("VmHWM");
        c1 = cpu_of(getpid(), getpid());
        b1 = broker_cpu(&b, &c1);
        tr_timed = transitions_total(&m1) - base_tr;
        r.worker_cpu_wait_s = c1.main_wait - c0.main_wait;
        r.worker_blocked_s = r.worker_s - (c1.main_run - c0.main_run) -
                             r.worker_cpu_wait_s;
        r.worker_cpu_us_per_result =
                1e6 * (c1.main_run - c0.main_run) / (double)n_res;
        for (int t = 0; t < N_OUT; t++) {
                topic_name("sr.", out_topics[t], name, sizeof(name));
                highs(c.meta, name, out_hi[t]);
        }
        {
                int64_t d[N_OUT], all = 0;

                for (int t = 0; t < N_OUT; t++) {
                        d[t] = sum_parts(out_hi[t]) - sum_parts(out_lo[t]);
                        all += d[t];
                }
                r.worker_res_per_s = (double)n_res / r.worker_s;
                r.worker_ev_per_s = (double)d[0] / r.worker_s;
                r.outputs_per_in = (double)all / (double)n_res;
                check(&r,
                      sr_series_value(m1.res[0]) == (double)expect_res,
                      "results: %.0f applied, %.0f stale, %.0f dead-lettered "
                      "of %" PRId64,
                      sr_series_value(m1.res[0]), sr_series_value(m1.res[1]),
                      sr_series_value(m1.res[4]), expect_res);
                check(&r, sr_series_value(m1.pr_success) == (double)total_runs,
                      "pipeline runs succeeded: %.0f of %d",
                      sr_series_value(m1.pr_success), total_runs);
                check(&r, (double)d[0] == tr_timed,
                      "events on sr.events %" PRId64 " != transitions "
                      "counted %.0f (duplicates or losses)",
                      d[0], tr_timed);
                check(&r, d[4] == 0, "%" PRId64 " dead letters", d[4]);
                check(&r, d[5] == n_res,
                      "%" PRId64 " records added to sr.commands for %" PRId64
                      " results (each should be forwarded once)", d[5],
                      n_res);
                if (o->verbose) {
                        printf("  [rep %d] worker %.2f s: outputs events=%"
                               PRId64 " changelog=%" PRId64 " dispatch=%"
                               PRId64 " replies=%" PRId64 " dlq=%" PRId64
                               " commands(forwarded results)=%" PRId64
                               " (%.2f per result)\n",
                               rep, r.worker_s, d[0], d[1], d[2], d[3], d[4],
                               d[5], r.outputs_per_in);
                        printf("  [rep %d] worker CPU s: main thread %.2f "
                               "(%.0f%%), librdkafka client threads %.2f, "
                               "broker %.2f; sr_events_total=%.0f\n",
                               rep, c1.main - c0.main,
                               100.0 * (c1.main - c0.main) / r.worker_s,
                               c1.other - c0.other, b1 - b0,
                               sr_series_value(m1.events));
                        printf("  [rep %d] main thread: on CPU %.2f s, "
                               "runnable but waiting for a CPU %.2f s, "
                               "blocked %.2f s (of %.2f s)\n",
                               rep, c1.main_run - c0.main_run,
                               c1.main_wait - c0.main_wait,
                               r.worker_s - (c1.main_run - c0.main_run) -
                                       (c1.main_wait - c0.main_wait),
                               r.worker_s);
                        printf("  [rep %d] RSS at phase start %.1f MB, peak "
                               "%.1f MB; now anon %.1f MB, file %.1f MB\n",
                               rep, r.rss_start_mb, r.peak_rss_mb,
                               kit_proc_status_mb("RssAnon"),
                               kit_proc_status_mb("RssFile"));
                        printf("  [rep %d] LMDB data.mdb %.1f MB at the "
                               "phase start, %.1f MB at its end\n", rep,
                               mdb_start_mb, file_mb(dir1, "data.mdb"));
                        if (getenv("BENCH_MALLOC_STATS"))
                                malloc_stats();
                }
        }

        /* ---- stop the first worker (graceful), read its outputs */
        sr_worker_destroy(w);
        w = NULL;
        /* The mock's retention (5 MiB per partition) must not have eaten
         * what the measurement reads back. */
        for (int t = 0; t <= N_OUT; t++) {
                int64_t lo[MAXP], hi[MAXP];
                const int64_t *need = t < N_OUT ? out_lo[t] : res_lo;

                topic_name("sr.", t < N_OUT ? out_topics[t] : SR_TOPIC_RESULTS,
                           name, sizeof(name));
                wmarks(c.meta, name, lo, hi);
                for (int p = 0; p < g_parts; p++)
                        if (lo[p] > need[p])
                                DIE("%s [%d]: the mock broker dropped records "
                                    "the bench must read back (its retention "
                                    "is 5 MiB per partition): use fewer runs "
                                    "or more --partitions", name, p);
        }
        {
                evcheck_t ek = measure_outputs(&c, out_lo, out_hi, tm);

                check(&r, ek.undecodable == 0 && ek.gaps == 0 &&
                                  ek.dup_diff == 0,
                      "events of the timed phase: %" PRId64 " undecodable, %"
                      PRId64 " seq gaps, %" PRId64 " duplicated seq with "
                      "other content", ek.undecodable, ek.gaps, ek.dup_diff);
                if (o->verbose)
                        printf("  [rep %d] events checked: %" PRId64 " of %"
                               PRId64 " runs; per-run seq gapless: %s, "
                               "identical duplicates %" PRId64 "\n",
                               rep, ek.decoded, ek.runs,
                               ek.gaps ? "NO" : "yes", ek.dup_same);
        }
        if (o->verbose)
                for (int t = 0; t < N_OUT; t++)
                        if (tm[t].n)
                                printf("  [rep %d] %-9s %7" PRId64
                                       " records, avg key %.0f B, value "
                                       "%zu B, %.1f headers\n",
                                       rep,
                                       sr_topic_suffix(out_topics[t]),
                                       tm[t].n,
                                       (double)tm[t].key_bytes /
                                               (double)tm[t].n,
                                       tm[t].value_len,
                                       (double)tm[t].headers /
                                               (double)tm[t].n);

        /* ---- 3. baseline, timed */
        bl = o->fork_broker ? bl_child_run(&blc, res_lo, res_hi, tm) :
                              run_baseline(&c, &b, res_lo, res_hi, tm);
        r.baseline_per_s = bl.per_s;
        r.ratio = r.worker_res_per_s / r.baseline_per_s;
        check(&r, bl.inputs == n_res, "baseline consumed %" PRId64
              " of %" PRId64, bl.inputs, n_res);
        if (o->verbose)
                printf("  [rep %d] baseline %.2f s: %" PRId64 " inputs, %"
                       PRId64 " outputs; CPU s: main %.2f, client threads "
                       "%.2f, broker %.2f; main thread waiting for a CPU "
                       "%.2f s\n",
                       rep, bl.secs, bl.inputs, bl.outputs, bl.cpu_main,
                       bl.cpu_other, bl.cpu_broker, bl.main_wait);

        /* ---- 4. restore, timed */
        topic_name("sr.", SR_TOPIC_CHANGELOG, name, sizeof(name));
        {
                int64_t cl_lo[MAXP], cl_hi[MAXP];

                /* What a restore can read is [low, high). The 2.0.2 mock
                 * keeps at most 5 MiB per partition and drops the oldest
                 * record batches beyond that, compacted topic or not: then
                 * low > 0 and the snapshot a restore builds is incomplete. */
                wmarks(c.meta, name, cl_lo, cl_hi);
                r.restore_records = sum_parts(cl_hi) - sum_parts(cl_lo);
                check(&r, sum_parts(cl_lo) == 0,
                      "sr.changelog lost %" PRId64 " records to the mock "
                      "broker's 5 MiB-per-partition retention: the restore "
                      "cannot be complete (use fewer --restore-runs or more "
                      "--partitions)", sum_parts(cl_lo));
        }
        conf2 = make_conf(o, "sr.", b.boot, dir2);
        reg2 = sr_metrics_new();
        if (!reg2)
                DIE("out of memory");
        wmetrics_get(reg2, &m2);
        memset(&smp, 0, sizeof(smp));
        smp.m = &m2;
        smp.t_rise = smp.t_fall = smp.t_first = smp.t_last = -1;
        atomic_init(&smp.stop, false);
        if (pthread_create(&smp.th, NULL, sampler_main, &smp))
                DIE("pthread_create failed");
        /* -v: the worker's own restore lines (info) on stderr. Only the
         * assignment and restore log at info here: no input is left. */
        if (o->verbose)
                sr_log_max_level = SR_LOG_INFO;
        t0 = kit_mono_s();
        if (sr_worker_new(conf2, reg2, &w, &ec))
                DIE("restore worker: %s", ec.msg);
        {
                char why[128];

                r.ready_before_assign = sr_worker_is_ready(w, why,
                                                           sizeof(why));
        }
        for (;;) {
                char why[128];

                if (kit_mono_s() - t0 > PHASE_TIMEOUT_S)
                        DIE("restore: %.0f of %" PRId64 " records",
                            sr_series_value(m2.restore_records),
                            r.restore_records);
                worker_poll(w);
                if (sr_series_value(m2.restore_records) >=
                            (double)r.restore_records &&
                    sr_series_value(m2.restoring) == 0 &&
                    sr_worker_is_ready(w, why, sizeof(why)))
                        break;
        }
        r.ready_s = kit_mono_s() - t0;
        sr_log_max_level = SR_LOG_WARN;
        sleep_ms(5); /* let the sampler see the final state */
        atomic_store(&smp.stop, true);
        pthread_join(smp.th, NULL);
        r.restore_s = smp.t_fall - smp.t_rise;
        r.restore_read_s = smp.t_last - smp.t_first;
        r.restore_per_s = (double)r.restore_records / r.restore_s;
        /* + the restoring worker's own claim on each partition, which it
         * reads too (docs/guarantee.md, "Fencing") */
        check(&r,
              sr_series_value(m2.restore_records) ==
                      (double)(r.restore_records + g_parts),
              "restore read %.0f records, changelog has %" PRId64
              " + %d claims",
              sr_series_value(m2.restore_records), r.restore_records,
              g_parts);
        check(&r, sum_series(m2.res, N_OUTCOMES) == 0 &&
                          sum_series(m2.cmd, N_OUTCOMES) == 0,
              "restored worker reprocessed %.0f results, %.0f commands",
              sum_series(m2.res, N_OUTCOMES), sum_series(m2.cmd, N_OUTCOMES));
        sr_worker_destroy(w);
        memset(&d1, 0, sizeof(d1));
        memset(&d2, 0, sizeof(d2));
        store_digest(dir1, &d1);
        store_digest(dir2, &d2);
        if (o->verbose) {
                uint64_t ents = 0;

                for (int p = 0; p < g_parts; p++)
                        ents += d1.n[p];
                printf("  [rep %d] snapshot: %" PRIu64 " entries, %.1f MB of "
                       "keys+values; data.mdb %.1f MB (worker), %.1f MB "
                       "(restored)\n",
                       rep, ents, (double)d1.bytes / 1e6,
                       file_mb(dir1, "data.mdb"), file_mb(dir2, "data.mdb"));
        }
        r.restore_identical = true;
        for (int p = 0; p < g_parts; p++)
                if (d1.n[p] != d2.n[p] || d1.h[p] != d2.h[p] ||
                    d1.cmd_off[p] != d2.cmd_off[p] ||
                    d1.res_off[p] != d2.res_off[p]) {
                        r.restore_identical = false;
                        check(&r, false,
                              "restored partition %d differs: %" PRIu64
                              " vs %" PRIu64 " entities, offsets %" PRId64
                              "/%" PRId64 " vs %" PRId64 "/%" PRId64,
                              p, d1.n[p], d2.n[p], d1.cmd_off[p],
                              d1.res_off[p], d2.cmd_off[p], d2.res_off[p]);
                }
        if (o->verbose)
                printf("  [rep %d] restore %.2f s (records read in %.2f s), "
                       "ready %.2f s after start; %" PRId64 " records; "
                       "snapshot %s\n",
                       rep, r.restore_s, r.restore_read_s, r.ready_s,
                       r.restore_records,
                       r.restore_identical ? "identical" : "DIFFERS");

        /* ---- teardown */
        for (int t = 0; t < N_OUT; t++)
                tmpl_free(&tm[t]);
        sr_metrics_destroy(reg2);
        sr_conf_destroy(conf2);
        sr_producer_destroy(c.prod);
        sr_codec_destroy(c.codec);
        rd_kafka_destroy(c.meta);
        sr_metrics_destroy(reg1);
        free(ids);
        free(c.ds.v);
        sr_conf_destroy(c.conf);
        sr_conf_destroy(c.conf_bl);
        broker_stop(&b);
        rm_tree(dir1);
        rm_tree(dir2);
        return r;
}

/* ------------------------------------------------------------ main */

/* One repeat in a process of its own, forked from this one, which runs
 * nothing itself: every repeat (and its baseline, bl_child_start()) starts
 * on a fresh heap, as a worker process does, instead of on what the
 * previous repeats left. */
static rep_result_t run_fresh(const opts_t *o, int rep)
{
        rep_result_t r;
        int fd[2], st = 0;
        pid_t pid;

        if (!o->fork_broker) /* inproc: everything in this process */
                return run_once(o, rep);
        if (pipe(fd))
                DIE("pipe: %s", strerror(errno));
        fflush(NULL);
        pid = fork();
        if (pid < 0)
                DIE("fork: %s", strerror(errno));
        if (pid == 0) {
                close(fd[0]);
                r = run_once(o, rep);
                put_all(fd[1], &r, sizeof(r));
                fflush(NULL);
                _exit(0);
        }
        close(fd[1]);
        if (!get_all(fd[0], &r, sizeof(r)))
                DIE("repeat %d: its process ended without a result", rep);
        close(fd[0]);
        if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) ||
            WEXITSTATUS(st) != 0)
                DIE("repeat %d: its process failed", rep);
        return r;
}

int main(int argc, char **argv)
{
        opts_t o;
        rep_result_t *rs;
        double *v;
        int problems = 0;
        struct {
                const char *name;
                size_t off;
        } cols[] = {
#define COL(f) { #f, offsetof(rep_result_t, f) }
                COL(worker_res_per_s), COL(worker_ev_per_s),
                COL(baseline_per_s),   COL(ratio),
                COL(restore_per_s),    COL(peak_rss_mb),
                COL(worker_s),         COL(outputs_per_in),
                COL(restore_s),        COL(ready_s),
                COL(worker_cpu_us_per_result),
                COL(worker_blocked_s), COL(worker_cpu_wait_s),
#undef COL
        };
        enum { N_COLS = sizeof(cols) / sizeof(cols[0]) };
        double med[N_COLS];

        if (parse_opts(argc, argv, &o))
                return 2;
        signal(SIGPIPE, SIG_IGN);
        sr_log_max_level = SR_LOG_WARN;
        rs = calloc((size_t)o.repeat, sizeof(*rs));
        v = calloc((size_t)o.repeat, sizeof(*v));
        if (!rs || !v)
                DIE("out of memory");
        printf("bench_worker: 1 worker, mock cluster %s, %d partitions; "
               "%d measured runs x 1 stage x 1 op x %d targets = %d results "
               "(INPROGRESS+SUCCESS), %d filler runs for the restore, %d "
               "repeat(s)\n",
               o.fork_broker ? "in a child process" : "in this process",
               g_parts, o.runs, o.targets, 2 * o.runs * o.targets,
               o.restore_runs, o.repeat);
        if (o.mock_nagle)
                printf("  mock broker sockets with Nagle (--mock-nagle)\n");
        for (int i = 0; i < o.n_defs; i++)
                printf("  -D %s\n", o.defs[i]);
        printf("%-4s %9s %11s %11s %8s %11s %6s %9s %9s %11s %8s %8s "
               "%9s %9s %9s\n",
               "rep", "worker_s", "results/s", "events/s", "out/in",
               "baseline/s", "ratio", "cl_recs", "restore_s", "restore/s",
               "ready_s", "rss_mb", "cpu_us/r", "blocked_s", "cpuwait_s");
        fflush(stdout);
        for (int i = 0; i < o.repeat; i++) {
                rep_result_t *r = &rs[i];

                *r = run_fresh(&o, i + 1);
                problems += r->problems;
                printf("%-4d %9.2f %11.0f %11.0f %8.2f %11.0f %6.2f %9" PRId64
                       " %9.2f %11.0f %8.2f %8.1f %9.1f %9.2f %9.2f%s\n",
                       i + 1, r->worker_s, r->worker_res_per_s,
                       r->worker_ev_per_s, r->outputs_per_in,
                       r->baseline_per_s, r->ratio, r->restore_records,
                       r->restore_s, r->restore_per_s, r->ready_s,
                       r->peak_rss_mb, r->worker_cpu_us_per_result,
                       r->worker_blocked_s, r->worker_cpu_wait_s,
                       r->problems ? "  CHECKS FAILED" : "");
                fflush(stdout);
        }
        for (int c = 0; c < N_COLS; c++) {
                for (int i = 0; i < o.repeat; i++)
                        v[i] = *(const double *)((const char *)&rs[i] +
                                                 cols[c].off);
                med[c] = median(v, o.repeat);
        }
        printf("peak_rss_mb: VmHWM of this process during the timed worker "
               "phase (%s)\n",
               o.fork_broker ? "worker + idle bench clients; broker in a "
                               "child process" :
                               "worker + the in-process mock broker, which "
                               "keeps every topic in memory");
        printf("restore_s: gauge sr_restore_partitions_in_progress up->down "
               "(%d partitions, all of on_assign); ready_s: from "
               "sr_worker_new() to restored and ready (group join "
               "included)\n", g_parts);
        {
                int early = 0;

                for (int i = 0; i < o.repeat; i++)
                        early += rs[i].ready_before_assign;
                if (early)
                        printf("note: sr_worker_is_ready() said ready right "
                               "after sr_worker_new(), before any partition "
                               "was assigned or restored (%d of %d "
                               "repeats)\n", early, o.repeat);
        }
        printf("checks: %s\n", problems ? "FAILED (see stderr)" : "all passed");
        printf("cpu_us/r: on-CPU time of the worker's (main) thread per "
               "result; blocked_s: that thread asleep (acks, fetches); "
               "cpuwait_s: runnable, waiting for a CPU (a busy machine)\n");
        printf("median-detail:");
        for (int c = 6; c < N_COLS; c++)
                printf(" %s=%.2f", cols[c].name, med[c]);
        printf("\n");
        /* Last line, for scripts. */
        printf("median:");
        for (int c = 0; c < 6; c++)
                printf(" %s=%.*f", cols[c].name,
                       !strcmp(cols[c].name, "ratio") ? 2 :
                       !strcmp(cols[c].name, "peak_rss_mb") ? 1 : 0,
                       med[c]);
        printf(" worker_cpu_us_per_result=%.1f\n", med[10]);
        free(rs);
        free(v);
        return problems ? 1 : 0;
}
