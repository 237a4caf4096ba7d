/* workers/dev/main.c - sr-dev: the embedded default. Starts librdkafka's
 * mock cluster in this process, creates the topics, runs sr-status xN and
 * sr-agent against it, restarts a child that dies, and stops them all on
 * SIGINT/SIGTERM. The mock outlives every child.
 *
 * With --bootstrap HOST:PORT it uses that Kafka cluster instead of the mock:
 * it creates the project's topics that are missing there (CreateTopics,
 * --partitions partitions, the broker's default replication factor, the
 * changelog compacted) and leaves existing ones alone.
 *
 * stdout, once every child answers /readyz with 200:
 *   bootstrap.servers=127.0.0.1:PORT
 *   ready workers=N agent=on|off
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "proc.h"
#include "sr_conf.h"
#include "sr_kafka.h"
#include "sr_log.h"

#define MAX_CHILDREN 65
#define MAX_ARGS 64
#define STOP_GRACE_MS 10000
#define READY_TIMEOUT_MS 120000
#define ADMIN_TIMEOUT_MS 30000

extern char **environ;

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
        (void)sig;
        stop_requested = 1;
}

struct dev_opts {
        int workers, partitions, http_port;
        bool agent;
        const char *data_dir;
        const char *bootstrap; /* --bootstrap: external cluster, no mock */
        int n_fwd;
        char *fwd[MAX_ARGS]; /* -c/-D flags for the children (borrowed) */
};

struct dev {
        int n;
        child_t kids[MAX_CHILDREN];
        char *argv[MAX_CHILDREN][MAX_ARGS + 24];
        char strs[MAX_CHILDREN][10][PATH_MAX + 64]; /* owned -D texts */
};

static int64_t mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(FILE *out)
{
        sr_conf_usage(out, "sr-dev", "[--workers N] [--agent on|off] "
                      "[--data-dir DIR] [--partitions N] [--http-port PORT] "
                      "[--bootstrap HOST:PORT]");
}

/* Take sr-dev's own flags out of argv; the rest goes to sr_conf. */
static int parse_dev_flags(int argc, char **argv, struct dev_opts *o,
                           int *rest_argc, char **rest)
{
        *rest_argc = 0;
        rest[(*rest_argc)++] = argv[0];
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] :
                                                             NULL;
                char *end;
                long n;

                if (strcmp(a, "--workers") && strcmp(a, "--agent") &&
                    strcmp(a, "--data-dir") && strcmp(a, "--partitions") &&
                    strcmp(a, "--http-port") && strcmp(a, "--bootstrap")) {
                        rest[(*rest_argc)++] = argv[i];
                        continue;
                }
                if (!v)
                        return fprintf(stderr, "sr-dev: %s needs a value\n",
                                       a), -1;
                i++;
                if (!strcmp(a, "--agent")) {
                        if (strcmp(v, "on") && strcmp(v, "off"))
                                return fprintf(stderr, "sr-dev: --agent on|"
                                               "off, got \"%s\"\n", v), -1;
                        o->agent = !strcmp(v, "on");
                        continue;
                }
                if (!strcmp(a, "--data-dir")) {
                        o->data_dir = v;
                        continue;
                }
                if (!strcmp(a, "--bootstrap")) {
                        if (!*v)
                                return fprintf(stderr, "sr-dev: --bootstrap "
                                               "needs HOST:PORT\n"), -1;
                        o->bootstrap = v;
                        continue;
                }
                errno = 0;
                n = strtol(v, &end, 10);
                if (errno || *end || end == v || n < 0 || n > 65535 ||
                    (!strcmp(a, "--workers") && (n < 1 || n > 64)) ||
                    (!strcmp(a, "--partitions") && (n < 1 || n > 1024)))
                        return fprintf(stderr, "sr-dev: %s: bad value "
                                       "\"%s\"\n", a, v), -1;
                *(!strcmp(a, "--workers")    ? &o->workers :
                  !strcmp(a, "--partitions") ? &o->partitions :
                                               &o->http_port) = (int)n;
        }
        rest[*rest_argc] = NULL;
        return 0;
}

/* argv of child @p i: BIN, fixed defaults, the user's flags, then ours. */
static void add_child(struct dev *d, const struct dev_opts *o,
                      const char *bin, const char *name, const char *boot,
                      int http_port)
{
        int i = d->n++, k = 0, s = 0;
        char **av = d->argv[i];
        child_t *c = &d->kids[i];

#define DEF(...)                                                        \
        do {                                                            \
                av[k++] = "-D";                                         \
                snprintf(d->strs[i][s], sizeof(d->strs[i][s]),          \
                         __VA_ARGS__);                                  \
                av[k++] = d->strs[i][s++];                              \
        } while (0)
        memset(c, 0, sizeof(*c));
        snprintf(c->name, sizeof(c->name), "%s", name);
        c->out_fd = -1;
        snprintf(d->strs[i][s], sizeof(d->strs[i][s]), "%s", bin);
        av[k++] = d->strs[i][s++];
        /* The 2.0.2 mock does not wake a waiting fetch (a real broker
         * answers a fetch as soon as data arrives); a short session
         * timeout makes a restarted child rejoin quickly. */
        if (!o->bootstrap)
                DEF("kafka.fetch.wait.max.ms=1");
        DEF("kafka.session.timeout.ms=6000");
        for (int f = 0; f < o->n_fwd; f++)
                av[k++] = o->fwd[f];
        DEF("kafka.bootstrap.servers=%s", boot);
        DEF("data.dir=%s/%s", o->data_dir, name);
        DEF("worker.name=%s", name);
        DEF("http.enable=true"); /* readiness is read from /readyz */
        DEF("http.port=%d", http_port);
        DEF("partitions=%d", o->partitions);
        av[k] = NULL;
#undef DEF
        c->argv = av;
        snprintf(d->strs[i][9], sizeof(d->strs[i][9]), "%s/%s", o->data_dir,
                 name);
        if (mkdir(d->strs[i][9], 0750) && errno != EEXIST)
                SR_WARN("DEV", "mkdir failed dir=%s err=\"%s\"",
                        d->strs[i][9], strerror(errno));
}

/* Reap exited children and schedule restarts with a bounded backoff. */
static void reap(struct dev *d, int64_t now)
{
        int wstatus;
        pid_t pid;

        while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
                for (int i = 0; i < d->n; i++) {
                        child_t *c = &d->kids[i];
                        int64_t backoff;

                        if (c->pid != pid)
                                continue;
                        child_reset(c);
                        if (stop_requested)
                                break;
                        c->restarts = now - c->started_at > 60000 ? 0 :
                                      c->restarts + 1;
                        backoff = 500LL << (c->restarts < 6 ? c->restarts :
                                                              6);
                        c->restart_at = now + backoff;
                        SR_ERROR("DEV", "%s died unexpectedly pid=%d "
                                 "status=%d signal=%d restart_in_ms=%lld",
                                 c->name, (int)pid,
                                 WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) :
                                                      -1,
                                 WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0,
                                 (long long)backoff);
                }
        }
}

/* One turn of the supervisor: read stdout, probe, reap, restart. */
static int supervise(struct dev *d, int timeout_ms)
{
        struct pollfd pfds[MAX_CHILDREN];
        int64_t now;
        int n = 0, ready = 0;
        sr_errctx_t ec = { 0 };

        for (int i = 0; i < d->n; i++)
                if (d->kids[i].out_fd >= 0)
                        pfds[n++] = (struct pollfd){ d->kids[i].out_fd,
                                                     POLLIN, 0 };
        poll(pfds, (nfds_t)n, timeout_ms);
        now = mono_ms();
        for (int i = 0; i < d->n; i++) {
                child_t *c = &d->kids[i];

                child_drain(c);
                if (c->pid && !c->ready && child_probe_ready(c)) {
                        c->ready = true;
                        SR_INFO("DEV", "%s ready", c->name);
                }
                ready += c->ready;
        }
        reap(d, now);
        for (int i = 0; i < d->n && !stop_requested; i++) {
                child_t *c = &d->kids[i];

                if (!c->pid && c->restart_at && now >= c->restart_at &&
                    child_start(c, now, &ec))
                        SR_ERROR("DEV", "restart failed err=\"%s\"", ec.msg);
        }
        return ready;
}

static void stop_all(struct dev *d)
{
        int64_t deadline = mono_ms() + STOP_GRACE_MS;
        int alive;

        for (int i = 0; i < d->n; i++)
                if (d->kids[i].pid)
                        kill(d->kids[i].pid, SIGTERM);
        do {
                supervise(d, 100);
                alive = 0;
                for (int i = 0; i < d->n; i++)
                        alive += d->kids[i].pid != 0;
        } while (alive && mono_ms() < deadline);
        for (int i = 0; i < d->n; i++) {
                if (!d->kids[i].pid)
                        continue;
                SR_WARN("DEV", "%s did not stop in time: SIGKILL",
                        d->kids[i].name);
                kill(d->kids[i].pid, SIGKILL);
                waitpid(d->kids[i].pid, NULL, 0);
                child_reset(&d->kids[i]);
        }
}

/* "<dir of /proc/self/exe>/<name>" */
static int sibling_path(const char *name, char *out, size_t outsz)
{
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        char *slash;

        if (n <= 0)
                return -1;
        self[n] = '\0';
        slash = strrchr(self, '/');
        if (!slash)
                return -1;
        *slash = '\0';
        return snprintf(out, outsz, "%s/%s", self, name) < (int)outsz ? 0 :
                                                                       -1;
}

/* True when every partition of every project topic answers a watermark
 * query: a broker serves new topics a moment after it created them (first
 * unknown, then "not leader"), and the gateway reads watermarks at start. */
static bool topics_led(const sr_conf_t *conf, rd_kafka_t *rk)
{
        const struct rd_kafka_metadata *md = NULL;
        char name[256];
        int found = 0;

        if (rd_kafka_metadata(rk, 1, NULL, &md, 5000))
                return false;
        for (int t = 0; t < SR_TOPIC__COUNT; t++) {
                sr_kafka_topic_name(conf, (sr_topic_kind_t)t, name,
                                    sizeof(name));
                for (int i = 0; i < md->topic_cnt; i++) {
                        const rd_kafka_metadata_topic_t *mt = &md->topics[i];
                        bool led = !mt->err && mt->partition_cnt > 0;

                        if (strcmp(mt->topic, name))
                                continue;
                        for (int p = 0; led && p < mt->partition_cnt; p++) {
                                int64_t lo, hi;

                                led = mt->partitions[p].leader >= 0 &&
                                      !mt->partitions[p].err &&
                                      !rd_kafka_query_watermark_offsets(
                                              rk, name, p, &lo, &hi, 5000);
                        }
                        found += led;
                }
        }
        rd_kafka_metadata_destroy(md);
        return found == SR_TOPIC__COUNT;
}

/* --bootstrap: create the project's topics missing on the cluster at
 * @p boot; a topic that exists already is left as it is. Returns once
 * the broker serves them all. */
static sr_err_t create_topics(const sr_conf_t *conf, const char *boot,
                              int partitions, sr_errctx_t *ec)
{
        rd_kafka_NewTopic_t *nt[SR_TOPIC__COUNT] = { 0 };
        const rd_kafka_CreateTopics_result_t *res;
        const rd_kafka_topic_result_t **tr;
        rd_kafka_AdminOptions_t *opts = NULL;
        rd_kafka_queue_t *q = NULL;
        rd_kafka_event_t *ev = NULL;
        rd_kafka_conf_t *kc;
        rd_kafka_t *rk;
        char errstr[512], name[256];
        sr_err_t err = SR_OK;
        size_t n = 0;

        kc = conf->kafka ? rd_kafka_conf_dup(conf->kafka) :
                           rd_kafka_conf_new();
        if (!kc)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "kafka conf");
        if (rd_kafka_conf_set(kc, "bootstrap.servers", boot, errstr,
                              sizeof(errstr)) != RD_KAFKA_CONF_OK) {
                rd_kafka_conf_destroy(kc);
                return sr_errctx_set(ec, SR_ERR_INVALID, "--bootstrap %s: %s",
                                     boot, errstr);
        }
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof(errstr));
        if (!rk) {
                rd_kafka_conf_destroy(kc);
                return sr_errctx_set(ec, SR_ERR_KAFKA, "kafka admin: %s",
                                     errstr);
        }
        for (int t = 0; t < SR_TOPIC__COUNT; t++) {
                sr_kafka_topic_name(conf, (sr_topic_kind_t)t, name,
                                    sizeof(name));
                nt[n] = rd_kafka_NewTopic_new(name, partitions, -1, errstr,
                                              sizeof(errstr));
                if (!nt[n]) {
                        err = sr_errctx_set(ec, SR_ERR_INVALID, "topic %s: %s",
                                            name, errstr);
                        goto out;
                }
                /* compacted; min.compaction.lag.ms: docs/guarantee.md */
                if (t == SR_TOPIC_CHANGELOG &&
                    (rd_kafka_NewTopic_set_config(nt[n], "cleanup.policy",
                                                  "compact") ||
                     rd_kafka_NewTopic_set_config(nt[n],
                                                  "min.compaction.lag.ms",
                                                  "86400000"))) {
                        err = sr_errctx_set(ec, SR_ERR_INVALID, "topic %s: "
                                            "cleanup.policy", name);
                        goto out;
                }
                n++;
        }
        opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_AdminOptions_set_request_timeout(opts, ADMIN_TIMEOUT_MS,
                                                  errstr, sizeof(errstr));
        rd_kafka_AdminOptions_set_operation_timeout(opts, ADMIN_TIMEOUT_MS,
                                                    errstr, sizeof(errstr));
        q = rd_kafka_queue_new(rk);
        rd_kafka_CreateTopics(rk, nt, n, opts, q);
        ev = rd_kafka_queue_poll(q, ADMIN_TIMEOUT_MS + 5000);
        if (!ev || rd_kafka_event_error(ev)) {
                err = sr_errctx_set(ec, SR_ERR_KAFKA, "create topics on %s: "
                                    "%s", boot, ev ?
                                    rd_kafka_event_error_string(ev) :
                                    "timed out");
                goto out;
        }
        res = rd_kafka_event_CreateTopics_result(ev);
        tr = rd_kafka_CreateTopics_result_topics(res, &n);
        for (size_t i = 0; i < n; i++) {
                rd_kafka_resp_err_t te = rd_kafka_topic_result_error(tr[i]);

                if (te == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                        SR_INFO("DEV", "topic exists topic=%s",
                                rd_kafka_topic_result_name(tr[i]));
                } else if (te) {
                        err = sr_errctx_set(ec, SR_ERR_KAFKA, "create topic "
                                            "%s: %s",
                                            rd_kafka_topic_result_name(tr[i]),
                                            rd_kafka_topic_result_error_string(
                                                    tr[i]));
                        break;
                } else {
                        SR_INFO("DEV", "topic created topic=%s partitions=%d",
                                rd_kafka_topic_result_name(tr[i]),
                                partitions);
                }
        }
        for (int64_t end = mono_ms() + ADMIN_TIMEOUT_MS; !err;) {
                if (topics_led(conf, rk))
                        break;
                if (mono_ms() > end)
                        err = sr_errctx_set(ec, SR_ERR_KAFKA, "topics on %s "
                                            "have no leader after %d ms",
                                            boot, ADMIN_TIMEOUT_MS);
                else
                        usleep(100 * 1000);
        }
out:
        if (ev)
                rd_kafka_event_destroy(ev);
        if (q)
                rd_kafka_queue_destroy(q);
        if (opts)
                rd_kafka_AdminOptions_destroy(opts);
        for (size_t i = 0; i < SR_TOPIC__COUNT; i++)
                if (nt[i])
                        rd_kafka_NewTopic_destroy(nt[i]);
        rd_kafka_destroy(rk);
        return err;
}

static int run(const sr_conf_t *conf, struct dev_opts *o, struct dev *d)
{
        const char *dev_token;

        char status_bin[PATH_MAX], agent_bin[PATH_MAX], name[32];
        char gateway_bin[PATH_MAX];
        int64_t deadline = mono_ms() + READY_TIMEOUT_MS;
        sr_errctx_t ec = { 0 };
        sr_mock_t *mock = NULL;
        const char *boot;
        bool announced = false;
        int rc = EXIT_FAILURE;

        if (sibling_path("sr-status", status_bin, sizeof(status_bin)) ||
            sibling_path("sr-agent", agent_bin, sizeof(agent_bin)) ||
            sibling_path("sr-gateway", gateway_bin, sizeof(gateway_bin))) {
                SR_ERROR("DEV", "cannot find the sr-status binary");
                return EX_SOFTWARE;
        }
        /* The gateway's tokens: SR_API_TOKENS, or dev-token for "dev". */
        if (!getenv("SR_API_TOKENS") || !*getenv("SR_API_TOKENS")) {
                setenv("SR_API_TOKENS", "dev-token:dev", 1);
                dev_token = "dev-token enterprise=dev";
        } else {
                dev_token = "(from SR_API_TOKENS)"; /* never printed */
        }
        if (mkdir(o->data_dir, 0750) && errno != EEXIST) {
                SR_ERROR("DEV", "mkdir failed dir=%s err=\"%s\"", o->data_dir,
                         strerror(errno));
                return EX_CANTCREAT;
        }
        if (o->bootstrap) {
                if (create_topics(conf, o->bootstrap, o->partitions, &ec)) {
                        SR_ERROR("DEV", "external cluster failed err=\"%s\"",
                                 ec.msg);
                        return EX_UNAVAILABLE;
                }
                boot = o->bootstrap;
        } else {
                if (sr_mock_new(conf, 1, o->partitions, &mock, &ec)) {
                        SR_ERROR("DEV", "mock cluster failed err=\"%s\"",
                                 ec.msg);
                        return EX_SOFTWARE;
                }
                boot = sr_mock_bootstraps(mock);
        }
        for (int i = 0; i < o->workers; i++) {
                snprintf(name, sizeof(name), "status-%d", i);
                add_child(d, o, status_bin, name, boot, 0);
        }
        if (o->agent)
                add_child(d, o, agent_bin, "agent", boot, 0);
        add_child(d, o, gateway_bin, "gateway", boot, o->http_port);
        for (int i = 0; i < d->n; i++)
                if (child_start(&d->kids[i], mono_ms(), &ec)) {
                        SR_ERROR("DEV", "start failed err=\"%s\"", ec.msg);
                        goto out;
                }
        SR_INFO("DEV", "waiting for children bootstrap=%s http_port=%d",
                boot, o->http_port);
        while (!stop_requested) {
                int ready = supervise(d, 100);

                if (!announced && ready == d->n) {
                        printf("bootstrap.servers=%s\n"
                               "http=http://127.0.0.1:%d\n"
                               "token=%s\n"
                               "ready workers=%d agent=%s\n",
                               boot, d->kids[d->n - 1].http_port, dev_token,
                               o->workers, o->agent ? "on" : "off");
                        fflush(stdout);
                        announced = true;
                } else if (!announced && mono_ms() > deadline) {
                        SR_ERROR("DEV", "children not ready after %d ms",
                                 READY_TIMEOUT_MS);
                        goto out;
                }
        }
        rc = EXIT_SUCCESS;
out:
        stop_all(d); /* the mock outlives every child */
        sr_mock_destroy(mock); /* NULL with --bootstrap */
        return rc;
}

int main(int argc, char **argv)
{
        struct dev_opts o = { .workers = 2, .partitions = 12,
                              .http_port = 8080, .agent = true,
                              .data_dir = "./var" };
        struct dev *d;
        char *rest[MAX_ARGS + 2];
        struct sigaction sa;
        sr_errctx_t ec = { 0 };
        sr_conf_t *conf;
        int rest_argc, argi, rc;

        if (argc > MAX_ARGS || parse_dev_flags(argc, argv, &o, &rest_argc,
                                               rest))
                return usage(stderr), EX_USAGE;
        conf = sr_conf_new();
        if (!conf)
                return EX_OSERR;
        if (sr_conf_from_args(conf, rest_argc, rest, environ, &argi, &ec)) {
                fprintf(stderr, "sr-dev: %s\n", ec.msg);
                sr_conf_destroy(conf);
                return EX_CONFIG;
        }
        if (conf->help || conf->list_config || conf->list_config_md ||
            argi != rest_argc) {
                rc = conf->help || argi == rest_argc ? EXIT_SUCCESS : EX_USAGE;
                if (conf->list_config || conf->list_config_md)
                        sr_conf_list(stdout, conf->list_config_md);
                else
                        usage(conf->help ? stdout : stderr);
                sr_conf_destroy(conf);
                return rc;
        }
        for (int i = 1; i < rest_argc; i++) /* -c/-D, for the children */
                o.fwd[o.n_fwd++] = rest[i];
        sr_log_max_level = conf->log_level;
        sr_log_set_name("sr-dev");
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_stop_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        d = calloc(1, sizeof(*d)); /* ~3 MB: not a stack object */
        rc = d ? run(conf, &o, d) : EX_OSERR;
        free(d);
        sr_conf_destroy(conf);
        return rc;
}
