/* workers/dev/main.c - sr-dev: the embedded default. Starts librdkafka's
 * mock cluster in this process, creates the topics, runs sr-status xN and
 * sr-agent against it, restarts a child that dies, and stops them all on
 * SIGINT/SIGTERM. The mock outlives every child. A child that refuses to
 * run (exit EX_USAGE, EX_NOPERM, EX_CONFIG: its configuration, arguments
 * or credentials) is not restarted: sr-dev stops and exits with its status.
 *
 * With --bootstrap HOST:PORT it uses that Kafka cluster instead of the mock:
 * it creates the project's topics that are missing there (CreateTopics,
 * --partitions partitions, the broker's default replication factor, the
 * changelog compacted) and leaves existing ones alone.
 *
 * --workers 0 runs the broker, the gateway and the agent only: attach
 * your own sr-status (under a debugger, a tracer, a profiler) to its
 * bootstrap.servers and it is the group's only member.
 *
 * --demo, once the fleet is ready, starts realistic rollouts through the
 * gateway and drives them (sr_demo.h: a canary promoted stage by stage,
 * a run whose devices fail, a cancelled run, an auto-promoted batch), a
 * new round 10 s after the last ended, until --demo-rounds N rounds
 * (100, about 40 minutes; 0: until sr-dev stops). The bound keeps the
 * embedded broker's ~5 MiB per partition from overflowing: a round
 * publishes ~260 KB of changelog and ~550 KB of events (record bytes,
 * measured with sr-cli dump), ~22 KB and ~45 KB a partition on average
 * over the default 12, so 100 rounds use under half of the changelog's
 * room; a mock that dropped a changelog's beginning stops a restarting
 * worker (README, "The two commands"). The fleet stays up after the last round.
 * Its log lines (fac=DEMO) go to stderr; stdout is unchanged.
 *
 * stdout, once every child answers /readyz with 200:
 *   bootstrap.servers=127.0.0.1:PORT
 *   http=http://127.0.0.1:PORT  (https:// when gateway.tls.* is given)
 *   token=...
 *   ready workers=N agent=on|off
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>

#include "sr_clock.h"
#include "sr_app.h"
#include "sr_conf.h"
#include "sr_demo.h"
#include "sr_fleet.h"
#include "sr_kafka.h"
#include "sr_log.h"

#define MAX_ARGS 64
#define STOP_GRACE_MS 10000
#define READY_TIMEOUT_MS 120000
#define ADMIN_TIMEOUT_MS 30000

#define USAGE                                                        \
        "[--workers N] [--agent on|off] [--data-dir DIR] [--partitions N] " \
        "[--http-port PORT] [--bootstrap HOST:PORT] [--demo] " \
        "[--demo-rounds N]"

struct dev_opts {
        int workers, partitions, http_port, demo_rounds;
        bool agent, demo;
        const char *data_dir;
        const char *bootstrap; /* --bootstrap: external cluster, no mock */
        int n_fwd;
        char *fwd[MAX_ARGS]; /* -c/-D flags for the children (borrowed) */
};

/* Take sr-dev's own flags out of argv; the rest goes to sr_conf. */
static int parse_dev_flags(int argc, char **argv, struct dev_opts *o,
                           int *rest_argc, char **rest)
{
        static const struct {
                const char *flag;
                long min, max; /* 0, 0: a string */
        } flags[] = { { "--workers", 0, 64 },     { "--partitions", 1, 1024 },
                      { "--http-port", 0, 65535 }, { "--agent", 0, 0 },
                      { "--data-dir", 0, 0 },      { "--bootstrap", 0, 0 },
                      { "--demo-rounds", 0, 1000000 } };
        int *ints[] = { &o->workers, &o->partitions, &o->http_port };
        const size_t n_flags = sizeof(flags) / sizeof(flags[0]);

        *rest_argc = 0;
        rest[(*rest_argc)++] = argv[0];
        for (int i = 1; i < argc; i++) {
                const char *v = i + 1 < argc ? argv[i + 1] : NULL;
                size_t f = 0;
                char *end;
                long n;

                if (!strcmp(argv[i], "--demo")) { /* takes no value */
                        o->demo = true;
                        continue;
                }
                while (f < n_flags && strcmp(argv[i], flags[f].flag))
                        f++;
                if (f == n_flags) {
                        rest[(*rest_argc)++] = argv[i];
                        continue;
                }
                if (!v || !*v)
                        return fprintf(stderr, "sr-dev: %s needs a value\n",
                                       argv[i]), -1;
                i++;
                if (f == 3 && strcmp(v, "on") && strcmp(v, "off"))
                        return fprintf(stderr, "sr-dev: --agent on|off, got "
                                       "\"%s\"\n", v), -1;
                if (f >= 3 && f <= 5) {
                        if (f == 3)
                                o->agent = !strcmp(v, "on");
                        else
                                *(f == 4 ? &o->data_dir : &o->bootstrap) = v;
                        continue;
                }
                errno = 0;
                n = strtol(v, &end, 10);
                if (errno || *end || end == v || n < flags[f].min ||
                    n > flags[f].max)
                        return fprintf(stderr, "sr-dev: %s: bad value \"%s\" "
                                       "(%ld..%ld)\n", flags[f].flag, v,
                                       flags[f].min, flags[f].max), -1;
                *(f == 6 ? &o->demo_rounds : ints[f]) = (int)n;
                o->demo |= f == 6;
        }
        rest[*rest_argc] = NULL;
        if (o->demo && !o->agent) /* no device would ever answer */
                return fprintf(stderr, "sr-dev: --demo needs the agent "
                               "(--agent on)\n"), -1;
        return 0;
}

/* Child @p name: BIN, fixed defaults, the user's flags, then ours. */
static void add_child(sr_fleet_t *f, const struct dev_opts *o,
                      const char *bin, const char *name, const char *boot,
                      int http_port)
{
        char strs[12][PATH_MAX + 64], *av[MAX_ARGS + 24];
        int k = 0, s = 0;

#define DEF(...)                                                        \
        do {                                                            \
                av[k++] = "-D";                                         \
                snprintf(strs[s], sizeof(strs[s]), __VA_ARGS__);        \
                av[k++] = strs[s++];                                    \
        } while (0)
        av[k++] = (char *)bin;
        /* The 2.0.2 mock does not wake a waiting fetch (a real broker
         * answers a fetch as soon as data arrives), and a fetch it
         * answers with an error waits fetch.error.backoff.ms (500) before
         * the next: a command one worker sends another partition (a
         * stored pipeline's run, docs/definitions.md section 5) then
         * waited up to a second, measured 2026-12-07 (one POST
         * /pipelines/{id}/runs/ in 20 over 0.9 s; none at 10 ms). A short
         * session timeout makes a restarted child rejoin quickly. */
        if (!o->bootstrap) {
                DEF("kafka.fetch.wait.max.ms=1");
                DEF("kafka.fetch.error.backoff.ms=10");
        }
        DEF("kafka.session.timeout.ms=6000");
        for (int i = 0; i < o->n_fwd; i++)
                av[k++] = o->fwd[i];
        DEF("kafka.bootstrap.servers=%s", boot);
        DEF("data.dir=%s/%s", o->data_dir, name);
        DEF("worker.name=%s", name);
        DEF("http.enable=true"); /* readiness is read from /readyz */
        DEF("http.port=%d", http_port);
        DEF("partitions=%d", o->partitions);
        av[k] = NULL;
#undef DEF
        snprintf(strs[11], sizeof(strs[11]), "%s/%s", o->data_dir, name);
        if (mkdir(strs[11], 0750) && errno != EEXIST)
                SR_WARN("DEV", "mkdir failed dir=%s err=\"%s\"", strs[11],
                        strerror(errno));
        if (sr_fleet_add(f, name, av) < 0)
                SR_ERROR("DEV", "cannot add %s", name);
}

/* The first token of SR_API_TOKENS ("token:enterprise,...") into @p out:
 * the demo's credentials. */
static void first_token(char *out, size_t size)
{
        const char *env = getenv("SR_API_TOKENS"), *end;
        size_t n;

        *out = '\0';
        if (!env)
                return;
        while (*env == ' ')
                env++;
        end = strchr(env, ',');
        n = end ? (size_t)(end - env) : strlen(env);
        while (n && env[n - 1] != ':')
                n--;
        if (n && n <= size)
                snprintf(out, size, "%.*s", (int)(n - 1), env);
}

/* --demo: start driving demo runs through the gateway on @p port. */
static sr_demo_t *demo_start(const struct dev_opts *o, int port)
{
        sr_demo_conf_t dc;
        sr_errctx_t ec = { 0 };
        sr_demo_t *demo = NULL;
        char token[257];

        first_token(token, sizeof(token));
        dc = sr_demo_conf_default("127.0.0.1", port, token);
        dc.rounds = o->demo_rounds;
        if (sr_demo_start(&dc, &demo, &ec))
                SR_ERROR("DEV", "demo did not start err=\"%s\"", ec.msg);
        return demo;
}

static int run(const sr_conf_t *conf, struct dev_opts *o, sr_fleet_t *f)
{
        char status_bin[PATH_MAX], agent_bin[PATH_MAX], name[32];
        char gateway_bin[PATH_MAX];
        int64_t deadline = sr_clock_mono_ms() + READY_TIMEOUT_MS;
        const char *dev_token, *boot;
        sr_errctx_t ec = { 0 };
        sr_mock_t *mock = NULL;
        sr_demo_t *demo = NULL;
        bool announced = false;
        int rc = EXIT_FAILURE;

        if (sr_fleet_sibling_path("sr-status", status_bin,
                                  sizeof(status_bin), &ec) ||
            sr_fleet_sibling_path("sr-agent", agent_bin, sizeof(agent_bin),
                                  &ec) ||
            sr_fleet_sibling_path("sr-gateway", gateway_bin,
                                  sizeof(gateway_bin), &ec)) {
                SR_ERROR("DEV", "cannot find the binaries err=\"%s\"",
                         ec.msg);
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
                sr_err_t err = sr_kafka_create_topics(conf, o->bootstrap,
                                                      o->partitions,
                                                      ADMIN_TIMEOUT_MS, &ec);

                if (err) {
                        SR_ERROR("DEV", "external cluster failed err=\"%s\"",
                                 ec.msg);
                        /* refused credentials or certificate: EX_NOPERM,
                         * as every process of the fleet */
                        return err == SR_ERR_AUTH ? EX_NOPERM :
                                                    EX_UNAVAILABLE;
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
                add_child(f, o, status_bin, name, boot, 0);
        }
        if (o->agent)
                add_child(f, o, agent_bin, "agent", boot, 0);
        add_child(f, o, gateway_bin, "gateway", boot, o->http_port);
        if (sr_fleet_start(f, &ec)) {
                SR_ERROR("DEV", "start failed err=\"%s\"", ec.msg);
                goto out;
        }
        SR_INFO("DEV", "waiting for children bootstrap=%s http_port=%d",
                boot, o->http_port);
        while (!sr_app_stop_requested) {
                int ready = sr_fleet_poll(f, 100, true);
                const char *who;
                int refused = sr_fleet_refused(f, &who);

                if (refused) { /* restarting would only repeat it */
                        SR_ERROR("DEV", "%s refused to run (exit status "
                                 "%d): stopping the fleet", who, refused);
                        rc = refused;
                        goto out;
                }

                if (!announced && ready == sr_fleet_size(f)) {
                        printf("bootstrap.servers=%s\n"
                               "http=%s://127.0.0.1:%d\n"
                               "token=%s\n"
                               "ready workers=%d agent=%s\n",
                               boot,
                               sr_fleet_https(f, sr_fleet_size(f) - 1) ?
                                       "https" :
                                       "http",
                               sr_fleet_http_port(f, sr_fleet_size(f) - 1),
                               dev_token, o->workers,
                               o->agent ? "on" : "off");
                        fflush(stdout);
                        announced = true;
                        if (o->demo)
                                demo = demo_start(o, sr_fleet_http_port(
                                        f, sr_fleet_size(f) - 1));
                } else if (!announced && sr_clock_mono_ms() > deadline) {
                        SR_ERROR("DEV", "children not ready after %d ms",
                                 READY_TIMEOUT_MS);
                        goto out;
                }
        }
        rc = EXIT_SUCCESS;
out:
        sr_demo_stop(demo); /* before its gateway goes */
        sr_fleet_stop(f, STOP_GRACE_MS); /* the mock outlives every child */
        sr_mock_destroy(mock); /* NULL with --bootstrap */
        return rc;
}

int main(int argc, char **argv)
{
        struct dev_opts o = { .workers = 2, .partitions = 12,
                              .http_port = 8080, .agent = true,
                              .demo_rounds = 100,
                              .data_dir = "./var" };
        char *rest[MAX_ARGS + 2];
        sr_fleet_t *fleet;
        sr_conf_t *conf;
        int rest_argc, rc;

        if (argc > MAX_ARGS || parse_dev_flags(argc, argv, &o, &rest_argc,
                                               rest)) {
                sr_conf_usage(stderr, "sr-dev", USAGE);
                return EX_USAGE;
        }
        if (!sr_app_start("sr-dev", USAGE, rest_argc, rest, &conf, &rc))
                return rc;
        for (int i = 1; i < rest_argc; i++) /* -c/-D, for the children */
                o.fwd[o.n_fwd++] = rest[i];
        sr_log_set_name("sr-dev");
        fleet = sr_fleet_new();
        rc = fleet ? run(conf, &o, fleet) : EX_OSERR;
        sr_fleet_destroy(fleet);
        sr_conf_destroy(conf);
        return rc;
}
