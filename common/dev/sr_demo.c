/* common/dev/sr_demo.c - sr-dev --demo (sr_demo.h): four runs per round,
 * driven over HTTP through the gateway like an operator would. */
#include "sr_demo.h"

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sr_clock.h"
#include "sr_hclient.h"
#include "sr_log.h"

#define HTTP_TIMEOUT_MS 10000
#define RUN_DEADLINE_MS 300000 /* a run still going after this is dropped */
#define CREATE_TRIES 5

/* deploy/examples/demo/<name>.json, embedded (cmake/demo.cmake) */
extern const char sr_demo_canary_json[], sr_demo_failing_json[],
        sr_demo_cancelled_json[], sr_demo_batch_json[];

typedef enum demo_kind {
        DEMO_CANARY,    /* promoted by us, stage by stage */
        DEMO_FAILING,   /* ends failure by itself */
        DEMO_CANCELLED, /* cancelled by us */
        DEMO_BATCH,     /* auto-promoted */
        DEMO__COUNT
} demo_kind_t;

static const struct {
        const char *name;
        const char *spec;
} kinds[DEMO__COUNT] = {
        { "canary", sr_demo_canary_json },
        { "failing", sr_demo_failing_json },
        { "cancelled", sr_demo_cancelled_json },
        { "batch", sr_demo_batch_json },
};

struct demo_run {
        bool active;
        char id[40], pipeline_id[40];
        int64_t started; /* monotonic ms */
        bool cancel_sent;
};

struct sr_demo {
        sr_demo_conf_t conf; /* host and token point into the copies */
        char host[64], token[256];
        pthread_t thread;
        atomic_bool stop;
        struct demo_run runs[DEMO__COUNT];
};

const char *sr_demo_spec(const char *name)
{
        for (int k = 0; k < DEMO__COUNT; k++)
                if (!strcmp(kinds[k].name, name))
                        return kinds[k].spec;
        return NULL;
}

sr_demo_conf_t sr_demo_conf_default(const char *host, int port,
                                    const char *token)
{
        sr_demo_conf_t c = { host, port, token, 0, 10000, 4000, 500 };

        return c;
}

/* ------------------------------------------------------------ HTTP */

static void sleep_ms(int ms)
{
        struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

        nanosleep(&ts, NULL);
}

/* One call. Returns the HTTP status (0: no answer); on a 200 with a
 * JSON envelope, its "content" (a new reference) in *out. Any other
 * outcome is logged. */
static int call_status(sr_demo_t *d, const char *method, const char *target,
                       const char *body, json_t **out)
{
        sr_errctx_t ec = { 0 };
        sr_hresp_t r = { 0 };
        json_t *root = NULL;
        int status;

        *out = NULL;
        if (sr_hclient_request(d->conf.host, d->conf.port, method, target,
                               d->conf.token, body, HTTP_TIMEOUT_MS, &r,
                               &ec)) {
                SR_WARN("DEMO", "request failed method=%s path=%s err=\"%s\"",
                        method, target, ec.msg);
                return 0;
        }
        status = r.status;
        root = json_loadb(r.body, r.body_len, 0, NULL);
        if (r.status != 200 || !json_is_object(root)) {
                const char *msg = json_string_value(json_object_get(root,
                                                                "message"));
                char quoted[256];

                /* The gateway's message inside message="...": its double
                 * quotes become single ones. */
                snprintf(quoted, sizeof(quoted), "%s", msg ? msg : "");
                for (char *q = quoted; (q = strchr(q, '"')); )
                        *q = '\'';
                SR_WARN("DEMO", "%s method=%s path=%s status=%d "
                        "message=\"%s\"", r.status == 202 ?
                        "write accepted, its outcome not in time (is a "
                        "worker running?)" : "request refused",
                        method, target, r.status, quoted);
                goto cleanup;
        }
        *out = json_incref(json_object_get(root, "content"));
cleanup:
        json_decref(root);
        sr_hresp_free(&r);
        return status;
}

/* call_status() for callers that only care whether content came. */
static bool call(sr_demo_t *d, const char *method, const char *target,
                 const char *body, json_t **out)
{
        return call_status(d, method, target, body, out) == 200 && *out;
}

static const char *str_of(const json_t *o, const char *key)
{
        const char *s = json_string_value(json_object_get(o, key));

        return s ? s : "";
}

static bool is_terminal(const char *status)
{
        static const char *const t[] = { "success", "failure", "cancelled",
                                         "timeout", "invalid" };

        for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
                if (!strcmp(status, t[i]))
                        return true;
        return false;
}

/* ------------------------------------------------------------ actions */

/* POST the spec. Retried only when nothing answered or the gateway is
 * not ready (503): nothing was created then. Any other refusal, and a
 * 202 (created, but the run id did not come back in time), is logged and
 * the run is left out of this round. */
static void create_run(sr_demo_t *d, demo_kind_t k, int round)
{
        struct demo_run *run = &d->runs[k];
        json_t *c = NULL;

        memset(run, 0, sizeof(*run));
        for (int i = 0; i < CREATE_TRIES && !atomic_load(&d->stop); i++) {
                int st = call_status(d, "POST", "/v0/runs/", kinds[k].spec,
                                     &c);

                if (st != 0 && st != 503)
                        break;
                sleep_ms(1000);
        }
        if (!c)
                return;
        snprintf(run->id, sizeof(run->id), "%s", str_of(c, "id"));
        snprintf(run->pipeline_id, sizeof(run->pipeline_id), "%s",
                 str_of(c, "pipeline_id"));
        run->active = *run->id && *run->pipeline_id;
        run->started = sr_clock_mono_ms();
        if (run->active)
                SR_INFO("DEMO", "run started round=%d kind=%s run=%s "
                        "run_number=%lld name=\"%s\"", round, kinds[k].name,
                        run->id,
                        (long long)json_integer_value(
                                json_object_get(c, "run_number")),
                        str_of(c, "pipeline_name"));
        json_decref(c);
}

/* The first pending stage run of a waiting canary: PUT queued. */
static void promote_next(sr_demo_t *d, struct demo_run *run)
{
        char path[160];
        json_t *c = NULL, *sr, *put = NULL;
        size_t i;

        snprintf(path, sizeof(path), "/v0/runs/%s/stageruns/?limit=1000",
                 run->id);
        if (!call(d, "GET", path, NULL, &c))
                return;
        json_array_foreach(json_object_get(c, "results"), i, sr) {
                if (strcmp(str_of(sr, "status"), "pending"))
                        continue;
                snprintf(path, sizeof(path), "/v0/runs/%s/stageruns/%s/",
                         run->id, str_of(sr, "id"));
                if (call(d, "PUT", path, "{\"status\": \"queued\"}", &put))
                        SR_INFO("DEMO", "stage promoted kind=canary run=%s "
                                "stage=\"%s\" stage_run=%s", run->id,
                                str_of(json_object_get(sr, "stage_meta"),
                                       "name"),
                                str_of(sr, "id"));
                json_decref(put);
                break;
        }
        json_decref(c);
}

static void cancel_run(sr_demo_t *d, struct demo_run *run)
{
        char path[160];
        json_t *c = NULL;

        snprintf(path, sizeof(path), "/v0/pipelines/%s/runs/%s/",
                 run->pipeline_id, run->id);
        run->cancel_sent = call(d, "PUT", path, "{\"status\": \"cancelled\"}",
                                &c);
        if (run->cancel_sent)
                SR_INFO("DEMO", "run cancelled kind=cancelled run=%s "
                        "after_ms=%lld", run->id,
                        (long long)(sr_clock_mono_ms() - run->started));
        json_decref(c);
}

/* Read the run and do what an operator would. */
static void drive(sr_demo_t *d, demo_kind_t k)
{
        struct demo_run *run = &d->runs[k];
        int64_t age = sr_clock_mono_ms() - run->started;
        const char *status;
        char path[160];
        json_t *c = NULL;

        snprintf(path, sizeof(path), "/v0/pipelines/%s/runs/%s/",
                 run->pipeline_id, run->id);
        if (!call(d, "GET", path, NULL, &c))
                goto cleanup;
        status = str_of(c, "status");
        if (is_terminal(status)) {
                SR_INFO("DEMO", "run ended kind=%s run=%s status=%s "
                        "reason=\"%s\" took_ms=%lld", kinds[k].name, run->id,
                        status,
                        str_of(json_object_get(c, "status_meta"), "reason"),
                        (long long)age);
                run->active = false;
        } else if (k == DEMO_CANARY && !strcmp(status, "waiting")) {
                promote_next(d, run);
        } else if (k == DEMO_CANCELLED && !run->cancel_sent &&
                   age >= d->conf.cancel_after_ms) {
                cancel_run(d, run);
        }
cleanup:
        json_decref(c);
        if (run->active && age > RUN_DEADLINE_MS) {
                SR_WARN("DEMO", "run given up kind=%s run=%s after_ms=%d",
                        kinds[k].name, run->id, RUN_DEADLINE_MS);
                run->active = false;
        }
}

/* ------------------------------------------------------------ thread */

static void *demo_main(void *arg)
{
        sr_demo_t *d = arg;
        int64_t next_round = 0;
        int round = 0;

        SR_INFO("DEMO", "demo started gateway=%s:%d rounds=%d pause_ms=%d",
                d->conf.host, d->conf.port, d->conf.rounds,
                d->conf.pause_ms);
        while (!atomic_load(&d->stop)) {
                int active = 0;

                for (int k = 0; k < DEMO__COUNT; k++)
                        active += d->runs[k].active;
                if (!active && next_round < 0) { /* a round just ended */
                        SR_INFO("DEMO", "round ended round=%d", round);
                        next_round = sr_clock_mono_ms() + d->conf.pause_ms;
                }
                if (!active && next_round >= 0 &&
                    sr_clock_mono_ms() >= next_round) {
                        if (d->conf.rounds && round >= d->conf.rounds) {
                                SR_INFO("DEMO", "demo done rounds=%d", round);
                                break;
                        }
                        round++;
                        for (int k = 0; k < DEMO__COUNT &&
                                        !atomic_load(&d->stop); k++)
                                create_run(d, (demo_kind_t)k, round);
                        next_round = -1;
                }
                for (int k = 0; k < DEMO__COUNT && !atomic_load(&d->stop);
                     k++)
                        if (d->runs[k].active)
                                drive(d, (demo_kind_t)k);
                for (int t = 0; t < d->conf.poll_ms &&
                                !atomic_load(&d->stop); t += 50)
                        sleep_ms(50);
        }
        return NULL;
}

sr_err_t sr_demo_start(const sr_demo_conf_t *conf, sr_demo_t **out,
                       sr_errctx_t *ec)
{
        sigset_t all, old;
        sr_demo_t *d;
        int rc;

        if (!conf->host || strlen(conf->host) >= sizeof(d->host) ||
            !conf->token || strlen(conf->token) >= sizeof(d->token) ||
            conf->rounds < 0 || conf->pause_ms < 0 ||
            conf->cancel_after_ms < 0 || conf->poll_ms < 50)
                return sr_errctx_set(ec, SR_ERR_INVALID, "demo: host, token, "
                                     "rounds, pause_ms, cancel_after_ms or "
                                     "poll_ms out of range");
        d = calloc(1, sizeof(*d));
        if (!d)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "demo: calloc");
        d->conf = *conf;
        snprintf(d->host, sizeof(d->host), "%s", conf->host);
        snprintf(d->token, sizeof(d->token), "%s", conf->token);
        d->conf.host = d->host;
        d->conf.token = d->token;
        atomic_init(&d->stop, false);
        /* Signals stay with the caller's thread: the thread starts with
         * every signal blocked. */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        rc = pthread_create(&d->thread, NULL, demo_main, d);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (rc) {
                free(d);
                return sr_errctx_set(ec, SR_ERR_IO, "demo: pthread_create");
        }
        *out = d;
        return SR_OK;
}

void sr_demo_stop(sr_demo_t *d)
{
        if (!d)
                return;
        atomic_store(&d->stop, true);
        pthread_join(d->thread, NULL);
        free(d);
}
