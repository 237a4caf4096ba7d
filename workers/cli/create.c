/* workers/cli/create.c - `sr-cli run create`: a run started through the
 * gateway's REST API, its open stages' targets sent in chunks and sealed
 * (docs/targets.md, section 5; the reference client of those paths).
 *
 * The create carries an Idempotency-Key chosen once, so a retry after a
 * lost answer is the same run. A chunk or a seal needs none: its command
 * id is derived from what it carries (sr_gw_targets.c), so sending the
 * same body again is the same command, answered as the first. That is
 * what makes the retries here safe, and the chunks of a stage go out
 * several at a time (--in-flight threads, each one blocking request at a
 * time: sr_hclient is one request per connection).
 */
#include "commands.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <jansson.h>

#include "sr_hclient.h"
#include "sr_spec_json.h"
#include "targets.h"

#define FILE_MAX (1u << 30)   /* bytes of a targets file */
#define SPEC_FILE_MAX (4u << 20)
#define HTTP_TIMEOUT_MS 60000 /* > gateway.reply.timeout.ms: its 202 */
#define ATTEMPTS 6            /* of one request: 0.25 s .. 8 s apart */
#define VISIBLE_WAIT_MS 30000 /* for a new run's stage runs */

/* Where the gateway is. */
struct gw {
        char host[INET_ADDRSTRLEN];
        int port;
        char prefix[256]; /* path before /v0, "" or "/base" */
        char token[512];
};

/* An outcome of one request after its retries. */
struct outcome {
        int status;       /* HTTP status; 0: no answer */
        char message[1024]; /* the gateway's, or why no answer came */
        json_t *content;  /* the envelope's content (200 only); owned */
};

static void sleep_ms(long ms)
{
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) && errno == EINTR)
                ;
}

/* http://HOST[:PORT][/PREFIX]: HOST a name or an IPv4 literal (sr_hclient
 * speaks to IPv4 literals: the name is resolved here). No https: the
 * client does not verify certificates, and the token must not go to an
 * unverified server. */
static bool parse_gateway(const char *url, struct gw *g)
{
        struct addrinfo hints = { 0 }, *res = NULL;
        const char *p, *host_end, *path;
        char host[256];
        size_t n;

        if (!url || strncmp(url, "http://", 7)) {
                fprintf(stderr, "sr-cli: --gateway: expected http://HOST"
                        "[:PORT][/PREFIX], got \"%s\" (plain HTTP only: "
                        "the token is never sent to an unverified TLS "
                        "server)\n", url ? url : "");
                return false;
        }
        p = url + 7;
        path = strchr(p, '/');
        host_end = strchr(p, ':');
        if (!host_end || (path && host_end > path))
                host_end = path ? path : p + strlen(p);
        n = (size_t)(host_end - p);
        if (n == 0 || n >= sizeof(host))
                goto bad;
        memcpy(host, p, n);
        host[n] = '\0';
        g->port = 80;
        if (*host_end == ':') {
                char *end;
                long port = strtol(host_end + 1, &end, 10);

                if (end == host_end + 1 || port < 1 || port > 65535 ||
                    (*end && *end != '/'))
                        goto bad;
                g->port = (int)port;
        }
        snprintf(g->prefix, sizeof(g->prefix), "%s", path ? path : "");
        n = strlen(g->prefix);
        while (n && g->prefix[n - 1] == '/')
                g->prefix[--n] = '\0';
        hints.ai_family = AF_INET;
        hints.ai_socktype = SOCK_STREAM;
        if (getaddrinfo(host, NULL, &hints, &res) || !res) {
                fprintf(stderr, "sr-cli: --gateway: cannot resolve \"%s\" "
                        "to an IPv4 address\n", host);
                return false;
        }
        inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr,
                  g->host, sizeof(g->host));
        freeaddrinfo(res);
        return true;
bad:
        fprintf(stderr, "sr-cli: --gateway: expected http://HOST[:PORT]"
                "[/PREFIX], got \"%s\"\n", url);
        return false;
}

/* The token: the first line of --token-file, else the first token of
 * SR_API_TOKENS ("token:enterprise,...", the gateway's own variable, as
 * sr-dev's demo does). Never printed. */
static bool read_token(const char *path, char *out, size_t size)
{
        const char *env = getenv("SR_API_TOKENS");
        size_t n;

        out[0] = '\0';
        if (path) {
                FILE *f = fopen(path, "r");

                if (!f || !fgets(out, (int)size, f)) {
                        if (f)
                                fclose(f);
                        fprintf(stderr, "sr-cli: --token-file %s: cannot "
                                "read a line\n", path);
                        return false;
                }
                fclose(f);
                out[strcspn(out, "\r\n")] = '\0';
        } else if (env) {
                env += strspn(env, " ");
                n = strcspn(env, ",");
                if (memchr(env, ':', n))
                        n = (size_t)((const char *)memchr(env, ':', n) - env);
                if (n < size)
                        snprintf(out, size, "%.*s", (int)n, env);
        }
        if (!out[0]) {
                fprintf(stderr, "sr-cli: no API token: give --token-file "
                        "FILE or set SR_API_TOKENS=token[:enterprise]\n");
                return false;
        }
        return true;
}

/* Worth sending again: no answer, 202 (outcome not known in time: the
 * same command answers again), 408, 429, 503, and 500/502/504 from
 * whatever stands between. A 4xx otherwise is the answer. */
static bool retryable(int status)
{
        return status == 0 || status == 202 || status == 408 ||
               status == 429 || status == 500 || status == 502 ||
               status == 503 || status == 504;
}

/* One request, sent again while the answer is retryable, ATTEMPTS times
 * at most (0.25 s, 0.5 s, ... apart). @p stop: give up early. */
static void request(const struct gw *g, const char *method,
                    const char *path, const char *headers, const char *body,
                    atomic_int *stop, struct outcome *o)
{
        char target[1024];
        long wait = 250;

        memset(o, 0, sizeof(*o));
        snprintf(target, sizeof(target), "%s%s", g->prefix, path);
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
                sr_errctx_t ec = { 0 };
                json_error_t jerr;
                sr_hresp_t r = { 0 };
                json_t *env, *msg;

                if (attempt) {
                        sleep_ms(wait);
                        wait *= 2;
                }
                if (stop && atomic_load(stop))
                        break;
                json_decref(o->content);
                o->content = NULL;
                if (sr_hclient_request_headers(g->host, g->port, method,
                                               target, g->token, headers,
                                               body, HTTP_TIMEOUT_MS, &r,
                                               &ec)) {
                        o->status = 0;
                        snprintf(o->message, sizeof(o->message),
                                 "no answer from %s:%d: %s", g->host,
                                 g->port, ec.msg);
                        continue;
                }
                o->status = r.status;
                env = json_loadb(r.body, r.body_len, 0, &jerr);
                msg = json_object_get(env, "message");
                snprintf(o->message, sizeof(o->message), "%s",
                         json_is_string(msg) ? json_string_value(msg) :
                                               "(no message)");
                if (r.status == 200 || !retryable(r.status)) {
                        o->content = json_incref(json_object_get(env,
                                                                 "content"));
                        if (r.status != 200 && json_is_string(json_object_get(
                                    o->content, "reason")))
                                snprintf(o->message + strlen(o->message),
                                         sizeof(o->message) -
                                                 strlen(o->message),
                                         " (%s)",
                                         json_string_value(json_object_get(
                                                 o->content, "reason")));
                        json_decref(env);
                        sr_hresp_free(&r);
                        return;
                }
                json_decref(env);
                sr_hresp_free(&r);
        }
}

static int failed(const char *what, const struct outcome *o)
{
        if (o->status)
                fprintf(stderr, "sr-cli: %s: %d %s\n", what, o->status,
                        o->message);
        else
                fprintf(stderr, "sr-cli: %s: gave up after %d attempts: "
                        "%s\n", what, ATTEMPTS, o->message);
        json_decref(o->content);
        return o->status >= 400 && o->status < 500 ? EX_DATAERR :
                                                     EX_UNAVAILABLE;
}

static char *read_file(const char *path, size_t max, size_t *len)
{
        FILE *f = fopen(path, "rb");
        size_t cap = 1 << 16, n = 0;
        char *buf = NULL, *p;

        if (!f)
                return NULL;
        for (;;) {
                if (n == cap || !buf) {
                        cap = buf ? 2 * cap : cap;
                        p = realloc(buf, cap + 1);
                        if (!p)
                                break;
                        buf = p;
                }
                n += fread(buf + n, 1, cap - n, f);
                if (n > max || ferror(f))
                        break;
                if (feof(f)) {
                        fclose(f);
                        buf[n] = '\0';
                        *len = n;
                        return buf;
                }
        }
        fclose(f);
        free(buf);
        return NULL;
}

/* One --targets-file: its stage and its chunks. */
struct stage_targets {
        const char *arg;   /* STAGE:FILE as given */
        uint32_t index;
        sr_cli_chunks_t chunks;
        char stage_run[SR_UUID_STR_LEN + 1];
};

/* The chunks of one stage, sent by --in-flight threads. */
struct sender {
        const struct gw *g;
        const struct stage_targets *st;
        char path[256];
        pthread_mutex_t mu;
        uint32_t next;        /* the next chunk to send */
        atomic_int stop;      /* a chunk failed for good */
        struct outcome fail;  /* its outcome (under mu) */
        uint32_t failed_chunk;
};

static void *send_chunks(void *arg)
{
        struct sender *s = arg;
        struct outcome o;
        uint32_t i;

        for (;;) {
                pthread_mutex_lock(&s->mu);
                i = s->next++;
                pthread_mutex_unlock(&s->mu);
                if (i >= s->st->chunks.n || atomic_load(&s->stop))
                        return NULL;
                request(s->g, "POST", s->path, NULL,
                        s->st->chunks.bodies[i], &s->stop, &o);
                if (o.status == 200) {
                        json_decref(o.content);
                        continue;
                }
                pthread_mutex_lock(&s->mu);
                if (!atomic_load(&s->stop)) {
                        atomic_store(&s->stop, 1);
                        s->fail = o;
                        s->failed_chunk = i;
                } else {
                        json_decref(o.content);
                }
                pthread_mutex_unlock(&s->mu);
                return NULL;
        }
}

/* Until GET of the stage run answers 200: the create's answer names the
 * pipeline run, and the stage runs written in its batch may reach this
 * gateway's projection a moment later. */
static bool stage_run_visible(const struct gw *g, const char *run,
                              const struct stage_targets *st)
{
        char path[256];
        struct outcome o;

        snprintf(path, sizeof(path), "/v0/runs/%s/stageruns/%s/", run,
                 st->stage_run);
        for (int waited = 0; waited < VISIBLE_WAIT_MS; waited += 100) {
                request(g, "GET", path, NULL, NULL, NULL, &o);
                json_decref(o.content);
                if (o.status == 200)
                        return true;
                if (o.status != 404) {
                        failed(path, &o);
                        return false;
                }
                sleep_ms(100);
        }
        fprintf(stderr, "sr-cli: stage run %s of run %s not visible after "
                "%d s\n", st->stage_run, run, VISIBLE_WAIT_MS / 1000);
        return false;
}

/* Send a stage's chunks (--in-flight at a time), then seal it; print the
 * stage run as sealed. */
static int fill_stage(const struct gw *g, const char *run,
                      struct stage_targets *st, int in_flight)
{
        pthread_t threads[64];
        struct sender s;
        struct outcome o;
        char what[128], *seal;
        int n = 0, rc;

        if (!stage_run_visible(g, run, st))
                return EX_UNAVAILABLE;
        memset(&s, 0, sizeof(s));
        atomic_init(&s.stop, 0);
        s.g = g;
        s.st = st;
        snprintf(s.path, sizeof(s.path), "/v0/runs/%s/stageruns/%s/targets/",
                 run, st->stage_run);
        pthread_mutex_init(&s.mu, NULL);
        for (; n < in_flight && (uint32_t)n < st->chunks.n; n++)
                if (pthread_create(&threads[n], NULL, send_chunks, &s))
                        break;
        if (n == 0 && st->chunks.n)
                send_chunks(&s); /* no thread: this one */
        for (int i = 0; i < n; i++)
                pthread_join(threads[i], NULL);
        pthread_mutex_destroy(&s.mu);
        if (atomic_load(&s.stop)) {
                snprintf(what, sizeof(what), "%s: chunk %" PRIu32, st->arg,
                         s.failed_chunk);
                return failed(what, &s.fail);
        }
        seal = sr_cli_seal_body(&st->chunks);
        if (!seal)
                return fprintf(stderr, "sr-cli: out of memory\n"), EX_OSERR;
        strcat(s.path, "seal/");
        request(g, "POST", s.path, NULL, seal, NULL, &o);
        free(seal);
        if (o.status != 200) {
                snprintf(what, sizeof(what), "%s: seal", st->arg);
                return failed(what, &o);
        }
        rc = json_dumpf(o.content, stdout, JSON_COMPACT) ? EX_IOERR :
                                                           EXIT_SUCCESS;
        printf("\n");
        fflush(stdout);
        json_decref(o.content);
        return rc;
}

/* STAGE:FILE -> the stage's chunks; the spec's stage marked open. */
static int load_stage(struct cli *cli, const char *arg, sr_runspec_t *spec,
                      struct stage_targets *st)
{
        const char *colon = strchr(arg, ':');
        sr_errctx_t ec = { 0 };
        char stage[256];
        size_t len = 0;
        char *text;

        if (!colon || colon == arg || !colon[1] ||
            (size_t)(colon - arg) >= sizeof(stage)) {
                fprintf(stderr, "sr-cli: --targets-file: expected STAGE:FILE "
                        "(STAGE a 0-based index or a stage's name), got "
                        "\"%s\"\n", arg);
                return EX_USAGE;
        }
        snprintf(stage, sizeof(stage), "%.*s", (int)(colon - arg), arg);
        st->arg = arg;
        text = read_file(colon + 1, FILE_MAX, &len);
        if (!text) {
                fprintf(stderr, "sr-cli: %s: cannot read (or larger than "
                        "%u bytes)\n", colon + 1, FILE_MAX);
                return EX_NOINPUT;
        }
        if (sr_cli_chunks_read(text, len, colon + 1,
                               (uint32_t)cli->chunk_targets, &st->chunks,
                               &ec) ||
            sr_cli_open_stage(spec, stage, st->chunks.count, &st->index,
                              &ec)) {
                fprintf(stderr, "sr-cli: %s\n", ec.msg);
                free(text);
                return EX_DATAERR;
        }
        free(text);
        return EXIT_SUCCESS;
}

int sr_cli_create(struct cli *cli)
{
        struct stage_targets st[SR_CLI_MAX_TARGET_FILES];
        char id[SR_UUID_STR_LEN + 1], key_hdr[80], *text, *body = NULL;
        sr_errctx_t ec = { 0 };
        sr_runspec_t spec;
        struct outcome o;
        struct gw g;
        sr_uuid_t key, run, sr_id;
        const char *rid;
        size_t len = 0;
        int rc = EXIT_SUCCESS, n = 0;

        memset(&g, 0, sizeof(g));
        memset(st, 0, sizeof(st));
        if (!parse_gateway(cli->gateway, &g) ||
            !read_token(cli->token_file, g.token, sizeof(g.token)))
                return EX_USAGE;
        text = read_file(cli->spec_path, SPEC_FILE_MAX, &len);
        if (!text) {
                fprintf(stderr, "sr-cli: %s: cannot read (or larger than "
                        "%u bytes)\n", cli->spec_path, SPEC_FILE_MAX);
                return EX_NOINPUT;
        }
        if (sr_spec_json_parse(text, len, &spec, &ec)) {
                fprintf(stderr, "sr-cli: %s: %s\n", cli->spec_path, ec.msg);
                free(text);
                return EX_DATAERR;
        }
        free(text);
        for (; n < cli->n_targets_files && !rc; n++)
                rc = load_stage(cli, cli->targets_files[n], &spec, &st[n]);
        if (!rc) {
                body = sr_runspec_to_json(&spec);
                if (!body)
                        rc = EX_OSERR;
        }
        if (rc)
                goto out;
        /* One key for every attempt: a retry is the same run. */
        sr_uuid_v4(&key);
        sr_uuid_fmt(&key, id);
        snprintf(key_hdr, sizeof(key_hdr), "Idempotency-Key: %s\r\n", id);
        request(&g, "POST", "/v0/runs/", key_hdr, body, NULL, &o);
        if (o.status != 200) {
                rc = failed("POST /v0/runs/", &o);
                goto out;
        }
        rid = json_string_value(json_object_get(o.content, "id"));
        if (!rid || !sr_uuid_parse(rid, strlen(rid), &run)) {
                fprintf(stderr, "sr-cli: POST /v0/runs/: no run id in the "
                        "answer\n");
                json_decref(o.content);
                rc = EX_PROTOCOL;
                goto out;
        }
        sr_uuid_fmt(&run, id);
        json_decref(o.content);
        printf("run=%s\n", id);
        fflush(stdout);
        for (int i = 0; i < n && !rc; i++) {
                /* The stage run's id, as sr_model.c derives it. */
                sr_uuid_v5(&sr_id, &sr_ns, "%s/stage/%" PRIu32, id,
                           st[i].index);
                sr_uuid_fmt(&sr_id, st[i].stage_run);
                rc = fill_stage(&g, id, &st[i], cli->in_flight);
        }
out:
        for (int i = 0; i < n; i++)
                sr_cli_chunks_fini(&st[i].chunks);
        free(body);
        sr_runspec_fini(&spec);
        return rc;
}
