/* tests/integration/test_gateway_e2e.c - the REST gateway end to end on
 * sr-dev (agent off): the test is the client and the device command
 * service, through PUT .../targetruns/. Under SR_TEST_KAFKA (the kafka
 * suite) sr-dev runs 3 workers on that real broker, on topics and groups
 * of this test's own. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kit_dev.h"
#include "old_idem_slot.h"
#include "rawhttp.h"

static pid_t dev_pid;
static char dev_dir[64];
static int port;
static const char *dev_public_url; /* gateway.public.url of sr-dev */
static const char *dev_extra[5]; /* more -D flags of sr-dev, NULL-ended */
static char dev_bootstrap[256]; /* its broker, for sr-cli */
static char dev_prefix[128];    /* "topic.prefix=..." under SR_TEST_KAFKA */

static void start_dev(void)
{
        char line[512], dp[128], gp[128], ap[128], url_env[256];
        const char *real = getenv("SR_TEST_KAFKA");
        FILE *out = NULL;
        bool ready = false;

        snprintf(dev_dir, sizeof(dev_dir), "/tmp/sr-gw-it.XXXXXX");
        cr_assert(mkdtemp(dev_dir) != NULL);
        if (real && *real) { /* topics and groups of this test's own */
                long long now = (long long)time(NULL);

                snprintf(dp, sizeof(dp), "topic.prefix=it-gw-%d-%lld.",
                         (int)getpid(), now);
                snprintf(dev_prefix, sizeof(dev_prefix), "%s", dp);
                snprintf(gp, sizeof(gp), "group.id=it-gw-%d-%lld.status",
                         (int)getpid(), now);
                snprintf(ap, sizeof(ap), "agent.group.id=it-gw-%d-%lld.agent",
                         (int)getpid(), now);
        }
        if (dev_public_url)
                snprintf(url_env, sizeof(url_env), "SR_GATEWAY_PUBLIC_URL=%s",
                         dev_public_url);
        {
                char *real_argv[] = { "sr-dev", "--data-dir", dev_dir,
                                      "--bootstrap", (char *)real,
                                      "--workers", "3", "--partitions", "4",
                                      "--agent", "off", "--http-port", "0",
                                      "-D", "log.level=warn", "-D", dp, "-D",
                                      gp, "-D", ap, NULL };
                char *mock_argv[] = { "sr-dev", "--data-dir", dev_dir,
                                      "--workers", "1", "--partitions", "4",
                                      "--agent", "off", "--http-port", "0",
                                      "-D", "log.level=warn", NULL };
                char *env[] = { "SR_API_TOKENS=tok-acme:acme,tok-other:other",
                                dev_public_url ? url_env : NULL, NULL };
                char *argv[40];
                char **base = real && *real ? real_argv : mock_argv;
                int n = 0;

                while (base[n])
                        argv[n] = base[n], n++;
                for (int i = 0; dev_extra[i]; i++) {
                        argv[n++] = "-D";
                        argv[n++] = (char *)dev_extra[i];
                }
                argv[n] = NULL;
                dev_pid = kit_dev_start(dev_dir, argv, env, &out);
        }
        cr_assert(dev_pid > 0);
        while (!ready && fgets(line, sizeof(line), out)) {
                if (!strncmp(line, "http=http://127.0.0.1:", 22))
                        port = atoi(line + 22);
                if (!strncmp(line, "bootstrap.servers=", 18))
                        snprintf(dev_bootstrap, sizeof(dev_bootstrap), "%.*s",
                                 (int)strcspn(line + 18, "\r\n"), line + 18);
                if (!strncmp(line, "ready ", 6))
                        ready = true;
        }
        fclose(out);
        cr_assert(ready && port > 0, "sr-dev not ready (see %s/dev.log)",
                  dev_dir);
}

/* Every answer parsed by http(), freed when the test ends. */
#define MAX_PARSED 8192
static json_t *parsed[MAX_PARSED];
static int n_parsed;

static void teardown(void)
{
        char cmd[128];

        while (n_parsed > 0)
                json_decref(parsed[--n_parsed]);

        if (dev_pid > 0) {
                kill(dev_pid, SIGTERM);
                waitpid(dev_pid, NULL, 0);
        }
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dev_dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", dev_dir);
}

static void start_dev_public_url(void)
{
        dev_public_url = "https://sr.example.com/base/";
        start_dev();
}

TestSuite(gateway_e2e, .init = start_dev, .fini = teardown, .timeout = 120.0);

typedef struct answer {
        int status;
        char head[2048];
        json_t *json; /* the envelope, NULL if not JSON */
} answer_t;

/* One HTTP/1.1 request on a fresh connection, with @p headers (each
 * line ending in CRLF; NULL: none) and a Host header of our own. */
static void http_with(answer_t *a, const char *method, const char *target,
                      const char *token, const char *ctype,
                      const char *headers, const char *body)
{
        struct sockaddr_in sa = { 0 };
        static char buf[1 << 20];
        char req[8192];
        size_t len = 0;
        ssize_t r;
        char *sep;
        int fd, n;

        memset(a, 0, sizeof(*a));
        fd = socket(AF_INET, SOCK_STREAM, 0);
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        cr_assert(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
        n = snprintf(req, sizeof(req),
                     "%s %s HTTP/1.1\r\n%s"
                     "Connection: close\r\n%s%s%s%s%s%s"
                     "Content-Length: %zu\r\n\r\n",
                     method, target, headers ? headers : "",
                     token ? "Authorization: Bearer " : "",
                     token ? token : "", token ? "\r\n" : "",
                     ctype ? "Content-Type: " : "", ctype ? ctype : "",
                     ctype ? "\r\n" : "", body ? strlen(body) : 0);
        cr_assert(write(fd, req, (size_t)n) == n);
        if (body && *body)
                cr_assert(write(fd, body, strlen(body)) ==
                          (ssize_t)strlen(body));
        while ((r = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
                len += (size_t)r;
        close(fd);
        buf[len] = '\0';
        cr_assert(sscanf(buf, "HTTP/1.1 %d", &a->status) == 1, "%s", buf);
        sep = strstr(buf, "\r\n\r\n");
        cr_assert(sep != NULL);
        snprintf(a->head, sizeof(a->head), "%.*s", (int)(sep - buf), buf);
        a->json = json_loads(sep + 4, 0, NULL);
        if (a->json) { /* freed by teardown() */
                cr_assert(n_parsed < MAX_PARSED, "raise MAX_PARSED");
                parsed[n_parsed++] = a->json;
        }
}

static void http(answer_t *a, const char *method, const char *target,
                 const char *token, const char *ctype, const char *body)
{
        char host[64];

        snprintf(host, sizeof(host), "Host: 127.0.0.1:%d\r\n", port);
        http_with(a, method, target, token, ctype, host, body);
}

static const char *str_at(json_t *j, const char *a, const char *b)
{
        json_t *v = json_object_get(j, a);

        if (b)
                v = json_object_get(v, b);
        return json_string_value(v);
}

static void expect(answer_t *a, int status)
{
        cr_assert(eq(int, a->status, status), "%s\n%s", a->head,
                  a->json ? json_dumps(a->json, 0) : "(no json)");
        cr_assert(a->json != NULL);
        cr_assert(eq(int, (int)json_integer_value(
                                  json_object_get(a->json, "code")),
                     status));
}

/* The answer's message says @p part. */
static void expect_message(answer_t *a, const char *part)
{
        const char *msg = json_string_value(json_object_get(a->json,
                                                            "message"));

        cr_assert(msg != NULL && strstr(msg, part) != NULL, "%s",
                  msg ? msg : "(no message)");
}

static const char spec[] =
        "{\"pipeline_id\":\"7d2f1a1e-3c4b-4f7a-9a61-0c3c1b2d4e5f\","
        "\"pipeline_name\":\"e2e\",\"stages\":["
        "{\"name\":\"s1\",\"operations\":[{\"operation_type\":\"INSTALL\","
        "\"args\":{\"package_name\":\"x\"}}],\"targets\":["
        "{\"device_id\":\"0b7a8c7e-1111-4a0e-8f0e-000000000001\"},"
        "{\"device_id\":\"0b7a8c7e-1111-4a0e-8f0e-000000000002\"}]},"
        "{\"name\":\"s2\",\"operations\":[{\"operation_type\":\"REBOOT\","
        "\"args\":{}}],\"targets\":["
        "{\"device_id\":\"0b7a8c7e-1111-4a0e-8f0e-000000000003\"}]}]}";

static void finish_stage(const char *stage_id)
{
        char path[256], p2[320];
        answer_t a;
        json_t *res;
        size_t i;

        snprintf(path, sizeof(path), "/v0/stageruns/%s/targetruns/",
                 stage_id);
        http(&a, "GET", path, "tok-acme", NULL, NULL);
        expect(&a, 200);
        res = json_object_get(json_object_get(a.json, "content"), "results");
        cr_assert(json_array_size(res) > 0);
        for (i = 0; i < json_array_size(res); i++) {
                answer_t b;

                snprintf(p2, sizeof(p2), "%s%s/", path,
                         json_string_value(json_object_get(
                                 json_array_get(res, i), "id")));
                http(&b, "PUT", p2, "tok-acme", "application/json",
                     "{\"status\":\"running\",\"device_name\":\"dev\"}");
                expect(&b, 200);
                cr_assert(eq(str, (char *)str_at(b.json, "content", "status"),
                             "running"));
                http(&b, "PUT", p2, "tok-acme", "application/json",
                     "{\"status\":\"success\"}");
                expect(&b, 200);
                cr_assert(eq(str, (char *)str_at(b.json, "content", "status"),
                             "success"));
        }
}

Test(gateway_e2e, full_run_with_promotion_refusals_and_tenancy)
{
        char path[256], s1[64], s2[64], run[64];
        json_t *res;
        answer_t a;

        http(&a, "POST", "/v0/runs/", "tok-acme", "application/json", spec);
        expect(&a, 200);
        snprintf(run, sizeof(run), "%s", str_at(a.json, "content", "id"));
        cr_assert(eq(str, (char *)str_at(a.json, "content", "status"),
                     "running"));
        snprintf(path, sizeof(path), "/api/pipelines/v0/runs/%s/stageruns",
                 run);
        http(&a, "GET", path, "tok-acme", NULL, NULL);
        expect(&a, 200);
        res = json_object_get(json_object_get(a.json, "content"), "results");
        cr_assert(eq(sz, json_array_size(res), 2));
        snprintf(s1, sizeof(s1), "%s",
                 json_string_value(json_object_get(json_array_get(res, 0),
                                                   "id")));
        snprintf(s2, sizeof(s2), "%s",
                 json_string_value(json_object_get(json_array_get(res, 1),
                                                   "id")));
        /* promote before the run waits: refused with the rule */
        snprintf(path, sizeof(path), "/v0/runs/%s/stageruns/%s/", run, s2);
        http(&a, "PUT", path, "tok-acme", "application/json",
             "{\"status\":\"queued\"}");
        expect(&a, 400);
        expect_message(&a, "only while the pipeline run is waiting");
        finish_stage(s1);
        snprintf(path, sizeof(path), "/v0/pipelines/"
                 "7d2f1a1e-3c4b-4f7a-9a61-0c3c1b2d4e5f/runs/%s/", run);
        http(&a, "GET", path, "tok-acme", NULL, NULL);
        expect(&a, 200);
        cr_assert(eq(str, (char *)str_at(a.json, "content", "status"),
                     "waiting"));
        /* another enterprise sees nothing */
        http(&a, "GET", path, "tok-other", NULL, NULL);
        expect(&a, 404);
        http(&a, "GET", "/v0/runs/", "tok-other", NULL, NULL);
        expect(&a, 200);
        cr_assert(eq(int, (int)json_integer_value(json_object_get(
                                  json_object_get(a.json, "content"),
                                  "count")),
                     0));
        /* promote stage 2, finish it: success */
        snprintf(path, sizeof(path), "/v0/runs/%s/stageruns/%s", run, s2);
        http(&a, "PUT", path, "tok-acme", "application/json",
             "{\"status\":\"QUEUED\"}");
        expect(&a, 200);
        cr_assert(eq(str, (char *)str_at(a.json, "content", "status"),
                     "running"));
        finish_stage(s2);
        snprintf(path, sizeof(path), "/v0/pipelines/"
                 "7d2f1a1e-3c4b-4f7a-9a61-0c3c1b2d4e5f/runs/%s/", run);
        http(&a, "GET", path, "tok-acme", NULL, NULL);
        expect(&a, 200);
        cr_assert(eq(str, (char *)str_at(a.json, "content", "status"),
                     "success"));
        /* a final run refuses cancel */
        http(&a, "PUT", path, "tok-acme", "application/json",
             "{\"status\":\"cancelled\"}");
        expect(&a, 400);
        /* and is deleted: by its enterprise only, answered as it was */
        http(&a, "DELETE", path, "tok-other", NULL, NULL);
        expect(&a, 404);
        http(&a, "DELETE", path, "tok-acme", NULL, NULL);
        expect(&a, 200);
        cr_assert(eq(str, (char *)str_at(a.json, "content", "status"),
                     "success"));
        cr_assert(eq(str, (char *)str_at(a.json, "content", "id"), run));
}

Test(gateway_e2e, cancel_idempotency_and_client_errors)
{
        char path[256], run[64];
        answer_t a, b;

        http(&a, "POST", "/v0/runs/", "tok-acme", "application/json", spec);
        expect(&a, 200);
        snprintf(run, sizeof(run), "%s", str_at(a.json, "content", "id"));
        snprintf(path, sizeof(path), "/v0/pipelines/"
                 "7d2f1a1e-3c4b-4f7a-9a61-0c3c1b2d4e5f/runs/%s/", run);
        http(&a, "PUT", path, "tok-acme", "application/json",
             "{\"status\":\"cancelled\"}");
        expect(&a, 200);
        cr_assert(eq(str, (char *)str_at(a.json, "content", "status"),
                     "cancelled"));
        http(&a, "GET", "/v0/runs/", NULL, NULL, NULL);
        expect(&a, 401);
        http(&a, "PATCH", path, "tok-acme", NULL, NULL);
        expect(&a, 405);
        cr_assert(strstr(a.head, "Allow: GET, HEAD, PUT, DELETE") != NULL,
                  "%s", a.head);
        http(&a, "PUT", path, "tok-acme", "text/plain",
             "{\"status\":\"cancelled\"}");
        expect(&a, 415);
        http(&a, "POST", "/v0/runs/", "tok-acme", "application/json",
             "{\"pipeline_id\": ");
        expect(&a, 400);
        http(&a, "POST", "/v0/runs/", "tok-acme", "application/json",
             "{\"pipeline_id\":\"7d2f1a1e-3c4b-4f7a-9a61-0c3c1b2d4e5f\","
             "\"stages\":[],\"colour\":1}");
        expect(&a, 400);
        http(&a, "GET", "/v0/runs/?limit=abc", "tok-acme", NULL, NULL);
        expect(&a, 400);
        http(&a, "GET", "/v0/runs/?limit=0", "tok-acme", NULL, NULL);
        expect(&a, 200);
        http(&a, "GET", "/v0/runs/?offset=999999", "tok-acme", NULL, NULL);
        expect(&a, 200);
        http(&a, "GET", "/v0/nothing/", "tok-acme", NULL, NULL);
        expect(&a, 404);
        /* the same Idempotency-Key with another body: 409 */
        (void)b;
        {
                struct sockaddr_in sa = { 0 };
                char req[4096], buf[8192];
                const char *bodies[2] = { "{\"status\":\"cancelled\"}",
                                          "{\"status\":\"queued\"}" };
                int codes[2];

                for (int i = 0; i < 2; i++) {
                        ssize_t r;
                        size_t len = 0;
                        int fd = socket(AF_INET, SOCK_STREAM, 0), n;

                        sa.sin_family = AF_INET;
                        sa.sin_port = htons((uint16_t)port);
                        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                        cr_assert(connect(fd, (struct sockaddr *)&sa,
                                          sizeof(sa)) == 0);
                        n = snprintf(req, sizeof(req),
                                     "PUT %s HTTP/1.1\r\nHost: x\r\n"
                                     "Connection: close\r\n"
                                     "Authorization: Bearer tok-acme\r\n"
                                     "Content-Type: application/json\r\n"
                                     "Idempotency-Key: k-1\r\n"
                                     "Content-Length: %zu\r\n\r\n%s",
                                     path, strlen(bodies[i]), bodies[i]);
                        cr_assert(write(fd, req, (size_t)n) == n);
                        while ((r = read(fd, buf + len,
                                         sizeof(buf) - 1 - len)) > 0)
                                len += (size_t)r;
                        close(fd);
                        buf[len] = '\0';
                        cr_assert(sscanf(buf, "HTTP/1.1 %d", &codes[i]) == 1);
                }
                cr_assert(eq(int, codes[1], 409));
        }
}

/* A target run's device command through the worker (phase D): sent
 * again while out and unseen, cancelled once running (the request goes to
 * the device command service, the target run waits for its result),
 * refused when it names another command or the target run ended. */
/* The ids of a stage run list's results into @p ids (at most 4). */
static size_t stage_run_ids(const char *run, char ids[4][64])
{
        char path[256];
        answer_t a;
        json_t *res;
        size_t n;

        snprintf(path, sizeof(path), "/v0/runs/%s/stageruns/", run);
        http(&a, "GET", path, "tok-acme", NULL, NULL);
        expect(&a, 200);
        res = json_object_get(json_object_get(a.json, "content"), "results");
        n = json_array_size(res);
        for (size_t i = 0; i < n && i < 4; i++)
                snprintf(ids[i], 64, "%s", json_string_value(json_object_get(
                                 json_array_get(res, i), "id")));
        return n;
}

/* A run of the inline spec (two stages) created; its id into @p run, its
 * stage runs' into @p ids. */
static void start_spec_run(char run[64], char ids[4][64])
{
        answer_t a;

        http(&a, "POST", "/v0/runs/", "tok-acme", "application/json", spec);
        expect(&a, 200);
        snprintf(run, 64, "%s", str_at(a.json, "content", "id"));
        cr_assert(eq(sz, stage_run_ids(run, ids), 2));
}

Test(gateway_e2e, a_device_command_is_sent_again_and_cancelled_by_the_worker)
{
        char run[64], ids[4][64], tr[64], cid[64], base[256], path[400];
        const char *sr = ids[0];
        bool requested;
        json_t *res;
        answer_t a;

        start_spec_run(run, ids);
        snprintf(path, sizeof(path), "/v0/stageruns/%s/targetruns/", sr);
        http(&a, "GET", path, "tok-acme", NULL, NULL);
        expect(&a, 200);
        res = json_object_get(json_object_get(a.json, "content"), "results");
        snprintf(tr, sizeof(tr), "%s", json_string_value(json_object_get(
                                          json_array_get(res, 0), "id")));
        snprintf(cid, sizeof(cid), "%s", json_string_value(json_object_get(
                                          json_array_get(res, 0),
                                          "command_id")));
        snprintf(base, sizeof(base), "/v0/stageruns/%s/targetruns/%s/", sr,
                 tr);

        /* processing: sent again, the same request id */
        snprintf(path, sizeof(path), "%scommand/", base);
        http(&a, "POST", path, "tok-acme", "application/json", "{}");
        expect(&a, 200);
        cr_assert(eq(str, (char *)str_at(a.json, "content", "request_id"),
                     cid));
        /* the device runs it; a resend now is refused, naming why */
        http(&a, "PUT", base, "tok-acme", "application/json",
             "{\"status\":\"running\"}");
        expect(&a, 200);
        http(&a, "POST", path, "tok-acme", "application/json", "{}");
        expect(&a, 400);
        expect_message(&a, "only while processing or dispatched");
        /* another command id: 404 naming the target run's */
        snprintf(path, sizeof(path),
                 "%scommand/0b7a8c7e-2222-4a0e-8f0e-00000000000f/", base);
        http(&a, "PUT", path, "tok-acme", "application/json",
             "{\"request_status\":\"cancelled\"}");
        expect(&a, 404);
        expect_message(&a, cid);
        /* its own: the cancel is requested, the target run still runs */
        snprintf(path, sizeof(path), "%scommand/%s/", base, cid);
        http(&a, "PUT", path, "tok-acme", "application/json",
             "{\"request_status\":\"Cancelled\"}");
        expect(&a, 200);
        requested = json_is_true(json_object_get(
                json_object_get(a.json, "content"), "cancel_requested"));
        cr_assert(requested, "%s", json_dumps(a.json, 0));
        http(&a, "GET", base, "tok-acme", NULL, NULL);
        expect(&a, 200);
        cr_assert(eq(str, (char *)str_at(a.json, "content", "status"),
                     "running"));
        /* the device's result ends it; a cancel of an ended one: 400 */
        http(&a, "PUT", base, "tok-acme", "application/json",
             "{\"status\":\"failure\"}");
        expect(&a, 200);
        http(&a, "PUT", path, "tok-acme", "application/json",
             "{\"request_status\":\"cancelled\"}");
        expect(&a, 400);
        expect_message(&a, "a final status");
}

static void idem_header(char *out, size_t size, const char *key);

/* Phase D's POST .../targetruns/: a device added late joins the running
 * first stage (one target run per operation, dispatched: it has its
 * device command), the stage waits for it, then succeeds; the refusals
 * through the real worker. */
Test(gateway_e2e, a_device_added_late_joins_a_running_stage)
{
        static const char late[] = "0b7a8c7e-1111-4a0e-8f0e-0000000000aa";
        char run[64], ids[4][64], tr[64], path[400], hdr[256];
        const char *s1 = ids[0], *s2 = ids[1];
        json_t *res;
        answer_t a;

        start_spec_run(run, ids);

        /* the device joins stage 1, under the alias prefix, with a key */
        snprintf(path, sizeof(path),
                 "/api/pipelines/v0/stageruns/%s/targetruns/", s1);
        idem_header(hdr, sizeof(hdr), "late-1");
        http_with(&a, "POST", path, "tok-acme", "application/json", hdr,
                  "{\"target_id\":\"0b7a8c7e-1111-4a0e-8f0e-0000000000aa\","
                  "\"device_name\":\"late\"}");
        expect(&a, 200);
        res = json_object_get(a.json, "content");
        cr_assert(eq(sz, json_array_size(res), 1), "%s",
                  json_dumps(a.json, 0));
        snprintf(tr, sizeof(tr), "%s", json_string_value(json_object_get(
                                          json_array_get(res, 0), "id")));
        cr_assert(eq(str, (char *)json_string_value(json_object_get(
                                  json_array_get(res, 0), "device_id")),
                     (char *)late));
        cr_assert(eq(str, (char *)json_string_value(json_object_get(
                                  json_array_get(res, 0), "status")),
                     "processing"));
        /* the same key again: the same command, the same target run */
        http_with(&a, "POST", path, "tok-acme", "application/json", hdr,
                  "{\"target_id\":\"0b7a8c7e-1111-4a0e-8f0e-0000000000aa\","
                  "\"device_name\":\"late\"}");
        expect(&a, 200);
        cr_assert(eq(str, (char *)json_string_value(json_object_get(
                                  json_array_get(json_object_get(
                                                         a.json, "content"),
                                                 0),
                                  "id")),
                     tr));
        /* dispatched: it has its device command */
        snprintf(path, sizeof(path), "/v0/stageruns/%s/targetruns/%s/command/",
                 s1, tr);
        http(&a, "GET", path, "tok-acme", NULL, NULL);
        expect(&a, 200);

        /* refusals: a device already there, no name, another tenant */
        snprintf(path, sizeof(path), "/v0/stageruns/%s/targetruns/", s1);
        http(&a, "POST", path, "tok-acme", "application/json",
             "{\"target_id\":\"0b7a8c7e-1111-4a0e-8f0e-000000000001\","
             "\"device_name\":\"again\"}");
        expect(&a, 409);
        cr_assert(eq(str, (char *)str_at(a.json, "content", "reason"),
                     "duplicate_target"));
        http(&a, "POST", path, "tok-acme", "application/json",
             "{\"target_id\":\"0b7a8c7e-1111-4a0e-8f0e-0000000000ab\"}");
        expect(&a, 400);
        expect_message(&a, "device_name");
        http(&a, "POST", path, "tok-other", "application/json",
             "{\"target_id\":\"0b7a8c7e-1111-4a0e-8f0e-0000000000ab\","
             "\"device_name\":\"x\"}");
        expect(&a, 404);
        /* the pending stage: its target runs come when it is processed */
        snprintf(path, sizeof(path), "/v0/stageruns/%s/targetruns/", s2);
        http(&a, "POST", path, "tok-acme", "application/json",
             "{\"target_id\":\"0b7a8c7e-1111-4a0e-8f0e-0000000000ab\","
             "\"device_name\":\"x\"}");
        expect(&a, 400);
        expect_message(&a, "created when it is processed");

        /* the first two answer: the stage waits for the late one */
        snprintf(path, sizeof(path), "/v0/stageruns/%s/targetruns/", s1);
        http(&a, "GET", path, "tok-acme", NULL, NULL);
        expect(&a, 200);
        res = json_object_get(json_object_get(a.json, "content"), "results");
        cr_assert(eq(sz, json_array_size(res), 3));
        for (size_t i = 0; i < 3; i++) {
                const char *id = json_string_value(json_object_get(
                        json_array_get(res, i), "id"));
                answer_t b;

                if (!strcmp(id, tr))
                        continue;
                snprintf(path, sizeof(path),
                         "/v0/stageruns/%s/targetruns/%s/", s1, id);
                http(&b, "PUT", path, "tok-acme", "application/json",
                     "{\"status\":\"success\"}");
                expect(&b, 200);
        }
        snprintf(path, sizeof(path), "/v0/runs/%s/stageruns/%s/", run, s1);
        http(&a, "GET", path, "tok-acme", NULL, NULL);
        expect(&a, 200);
        cr_assert(eq(str, (char *)str_at(a.json, "content", "status"),
                     "running"));
        /* then the late one: the stage succeeds */
        snprintf(path, sizeof(path), "/v0/stageruns/%s/targetruns/%s/", s1,
                 tr);
        http(&a, "PUT", path, "tok-acme", "application/json",
             "{\"status\":\"success\"}");
        expect(&a, 200);
        snprintf(path, sizeof(path), "/v0/runs/%s/stageruns/%s/", run, s1);
        http(&a, "GET", path, "tok-acme", NULL, NULL);
        expect(&a, 200);
        cr_assert(eq(str, (char *)str_at(a.json, "content", "status"),
                     "success"));
        /* a final stage takes no device */
        snprintf(path, sizeof(path), "/v0/stageruns/%s/targetruns/", s1);
        http(&a, "POST", path, "tok-acme", "application/json",
             "{\"target_id\":\"0b7a8c7e-1111-4a0e-8f0e-0000000000ab\","
             "\"device_name\":\"x\"}");
        expect(&a, 400);
        expect_message(&a, "a final status");
}

/* Raw request with a given body (may hold any bytes). */
static int raw_status(const char *method, const char *target,
                      const char *ctype, const char *body, size_t len)
{
        struct sockaddr_in sa = { 0 };
        static char buf[1 << 16];
        char head[1024];
        size_t got = 0;
        ssize_t r;
        int fd, n, status = 0;

        fd = socket(AF_INET, SOCK_STREAM, 0);
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        cr_assert(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
        n = snprintf(head, sizeof(head),
                     "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     "Authorization: Bearer tok-acme\r\n"
                     "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                     method, target, ctype, len);
        cr_assert(write(fd, head, (size_t)n) == n);
        for (size_t off = 0; off < len;) {
                r = write(fd, body + off, len - off);
                if (r <= 0)
                        break; /* the server may stop reading (413) */
                off += (size_t)r;
        }
        while ((r = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
                got += (size_t)r;
        close(fd);
        buf[got] = '\0';
        if (sscanf(buf, "HTTP/1.1 %d", &status) != 1)
                status = -1;
        return status;
}

Test(gateway_e2e, malformed_bodies_and_queries_get_clear_4xx)
{
        static char big[2 * 1024 * 1024];
        char deep[4096];
        answer_t a;
        size_t i;

        memset(big, ' ', sizeof(big));
        big[0] = '{';
        big[sizeof(big) - 1] = '}';
        cr_assert(eq(int, raw_status("POST", "/v0/runs/", "application/json",
                                     big, sizeof(big)),
                     413));
        for (i = 0; i < 2000; i++)
                deep[i] = '[';
        deep[i] = '\0';
        cr_assert(eq(int, raw_status("POST", "/v0/runs/", "application/json",
                                     deep, strlen(deep)),
                     400));
        cr_assert(eq(int, raw_status("POST", "/v0/runs/", "application/json",
                                     "{\"pipeline_id\":\"\xff\xfe\"}", 20),
                     400));
        cr_assert(eq(int, raw_status("POST", "/v0/runs/", "application/json",
                                     "{\"pipeline_id\":42,\"stages\":[]}",
                                     31),
                     400));
        cr_assert(eq(int, raw_status("POST", "/v0/runs/", "application/json",
                                     "[]", 2),
                     400));
        http(&a, "GET", "/v0/runs/?limit=1001", "tok-acme", NULL, NULL);
        expect(&a, 400);
        http(&a, "GET", "/v0/runs/?status=paused", "tok-acme", NULL, NULL);
        expect(&a, 400);
        http(&a, "GET", "/v0/runs/?ordering=colour", "tok-acme", NULL, NULL);
        expect(&a, 400);
        http(&a, "GET", "/v0/runs/not-a-uuid/stageruns/", "tok-acme", NULL,
             NULL);
        expect(&a, 404);
        /* the operations endpoints need no token */
        http(&a, "GET", "/openapi.json", NULL, NULL, NULL);
        cr_assert(eq(int, a.status, 200));
        cr_assert(eq(str, (char *)json_string_value(json_object_get(a.json,
                                                                    "openapi")),
                     "3.1.0"));
        http(&a, "GET", "/metrics", NULL, NULL, NULL);
        cr_assert(eq(int, a.status, 200));
        cr_assert(strstr(a.head, "text/plain") != NULL, "%s", a.head);
}

/* Start @p n runs of the spec; the ids of the first and the last. */
static void start_runs(int n, char *first, size_t fsize, char *last,
                       size_t lsize)
{
        answer_t a;

        for (int i = 0; i < n; i++) {
                http(&a, "POST", "/v0/runs/", "tok-acme", "application/json",
                     spec);
                expect(&a, 200);
                if (i == 0 && first)
                        snprintf(first, fsize, "%s",
                                 str_at(a.json, "content", "id"));
                if (i == n - 1 && last)
                        snprintf(last, lsize, "%s",
                                 str_at(a.json, "content", "id"));
        }
}

static void cancel_run(const char *run)
{
        char path[256];
        answer_t a;

        snprintf(path, sizeof(path), "/v0/pipelines/"
                 "7d2f1a1e-3c4b-4f7a-9a61-0c3c1b2d4e5f/runs/%s/", run);
        http(&a, "PUT", path, "tok-acme", "application/json",
             "{\"status\":\"cancelled\"}");
        expect(&a, 200);
}

Test(gateway_e2e, status_filters_and_orderings_select_and_sort)
{
        static const char *const orderings[] = {
                "run_number", "-run_number", "status", "-status",
                "pipeline__name", "-pipeline__name", "started_at",
                "-started_at", "ended_at", "-ended_at",
        };
        char run[64];
        answer_t a;
        json_t *res;

        start_runs(2, NULL, 0, run, sizeof(run));
        cancel_run(run);
        http(&a, "GET", "/v0/runs/?status=cancelled", "tok-acme", NULL,
             NULL);
        expect(&a, 200);
        res = json_object_get(json_object_get(a.json, "content"), "results");
        cr_assert(eq(sz, json_array_size(res), 1));
        cr_assert(eq(str, (char *)json_string_value(json_object_get(
                                  json_array_get(res, 0), "id")),
                     run));
        http(&a, "GET", "/v0/runs/?status=RUNNING", "tok-acme", NULL, NULL);
        expect(&a, 200);
        res = json_object_get(json_object_get(a.json, "content"), "results");
        cr_assert(eq(sz, json_array_size(res), 1));
        for (size_t i = 0; i < sizeof(orderings) / sizeof(*orderings); i++) {
                char q[96];

                snprintf(q, sizeof(q), "/v0/runs/?ordering=%s", orderings[i]);
                http(&a, "GET", q, "tok-acme", NULL, NULL);
                expect(&a, 200);
                cr_assert(eq(int,
                             (int)json_integer_value(json_object_get(
                                     json_object_get(a.json, "content"),
                                     "count")),
                             2),
                          "%s", q);
        }
        http(&a, "GET", "/v0/runs/?ordering=-run_number&limit=1", "tok-acme",
             NULL, NULL);
        expect(&a, 200);
        res = json_object_get(json_object_get(a.json, "content"), "results");
        cr_assert(eq(int, (int)json_integer_value(json_object_get(
                                  json_array_get(res, 0), "run_number")),
                     2));
        cr_assert(json_string_value(json_object_get(
                          json_object_get(a.json, "content"), "next")) !=
                  NULL);
}

/* Run numbers of a list answer, as "1,3,2". */
static const char *run_numbers(answer_t *a)
{
        static char out[256];
        json_t *res = json_object_get(json_object_get(a->json, "content"),
                                      "results");
        size_t len = 0;

        out[0] = '\0';
        for (size_t i = 0; i < json_array_size(res); i++)
                len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%d",
                                        i ? "," : "",
                                        (int)json_integer_value(
                                                json_object_get(
                                                        json_array_get(res, i),
                                                        "run_number")));
        return out;
}

Test(gateway_e2e, ordering_applies_every_key_in_its_direction)
{
        char first[64];
        answer_t a;

        start_runs(3, first, sizeof(first), NULL, 0);
        cancel_run(first);
        /* cancelled 1; running 2, 3: the second key orders those */
        http(&a, "GET", "/v0/runs/?ordering=status,-run_number", "tok-acme",
             NULL, NULL);
        expect(&a, 200);
        cr_assert(eq(str, (char *)run_numbers(&a), "1,3,2"));
        http(&a, "GET", "/v0/runs/?ordering=-status,run_number", "tok-acme",
             NULL, NULL);
        expect(&a, 200);
        cr_assert(eq(str, (char *)run_numbers(&a), "2,3,1"));
        http(&a, "GET", "/v0/pipelines/7d2f1a1e-3c4b-4f7a-9a61-0c3c1b2d4e5f"
             "/runs/?ordering=status,-run_number&limit=2", "tok-acme", NULL,
             NULL);
        expect(&a, 200);
        cr_assert(eq(str, (char *)run_numbers(&a), "1,3"));
        cr_assert(strstr(str_at(a.json, "content", "next"),
                         "/runs/?limit=2&offset=2"
                         "&ordering=status%2C-run_number") != NULL);
        http(&a, "GET", "/v0/runs/?ordering=status,-run_number&offset=2",
             "tok-acme", NULL, NULL);
        expect(&a, 200);
        cr_assert(eq(str, (char *)run_numbers(&a), "2"));
}

/* Two runs, then the first page of one with a foreign Host header. */
static void first_of_two_runs_via_evil_host(answer_t *a)
{
        for (int i = 0; i < 2; i++) {
                http(a, "POST", "/v0/runs/", "tok-acme", "application/json",
                     spec);
                expect(a, 200);
        }
        http_with(a, "GET", "/v0/runs/?limit=1", "tok-acme", NULL,
                  "Host: evil.example\r\n", NULL);
        expect(a, 200);
}

/* @p link is <prefix>?cursor=<lowercase hex>&limit=1 (the next page of
 * a list that pages by cursor). */
static void expect_cursor_link(const char *link, const char *prefix)
{
        size_t n = strlen(prefix), h;

        cr_assert(eq(int, strncmp(link, prefix, n), 0), "%s", link);
        cr_assert(eq(int, strncmp(link + n, "?cursor=", 8), 0), "%s", link);
        h = strspn(link + n + 8, "0123456789abcdef");
        cr_assert(gt(sz, h, 0), "%s", link);
        cr_assert(eq(str, (char *)link + n + 8 + h, "&limit=1"), "%s", link);
}

/* A page link is built from configuration, never from the request's Host
 * header: by default relative to the server root. */
Test(gateway_e2e, links_never_show_the_host_header)
{
        char next[256];
        answer_t a;
        bool last;

        first_of_two_runs_via_evil_host(&a);
        expect_cursor_link(str_at(a.json, "content", "next"), "/v0/runs/");
        /* The link is the next page: the other run, and no further one. */
        snprintf(next, sizeof(next), "%s", str_at(a.json, "content", "next"));
        http(&a, "GET", next, "tok-acme", NULL, NULL);
        expect(&a, 200);
        cr_assert(eq(sz, json_array_size(json_object_get(
                                 json_object_get(a.json, "content"),
                                 "results")), 1));
        last = json_is_null(json_object_get(json_object_get(a.json,
                                                            "content"),
                                            "next"));
        cr_assert(last, "%s", a.head);
        http_with(&a, "GET", "/api/pipelines/v0/runs?limit=1&offset=1",
                  "tok-acme", NULL, "Host: evil.example:8080\r\n", NULL);
        expect(&a, 200);
        cr_assert(eq(str, (char *)str_at(a.json, "content", "previous"),
                     "/api/pipelines/v0/runs?limit=1"));
}

Test(gateway_e2e, links_use_the_configured_public_url,
     .init = start_dev_public_url)
{
        answer_t a;

        first_of_two_runs_via_evil_host(&a);
        expect_cursor_link(str_at(a.json, "content", "next"),
                           "https://sr.example.com/base/v0/runs/");
}

static void idem_header(char *out, size_t size, const char *key)
{
        snprintf(out, size, "Host: 127.0.0.1:%d\r\nIdempotency-Key: %s\r\n",
                 port, key);
}

/* Another tenant's key in the first tenant's old slot took the slot over;
 * the first tenant's retry with another body then got 200 with the first
 * run's outcome. Keys are per enterprise and compared in full now. */
Test(gateway_e2e, cross_tenant_idempotency_collision_never_changes_an_answer)
{
        char path[256], run[64], hdr[256], other_key[32];
        answer_t a;

        old_idem_colliding_key("acme", "k-1", "other", "o-", other_key,
                               sizeof(other_key));
        http(&a, "POST", "/v0/runs/", "tok-acme", "application/json", spec);
        expect(&a, 200);
        snprintf(run, sizeof(run), "%s", str_at(a.json, "content", "id"));
        snprintf(path, sizeof(path), "/v0/pipelines/"
                 "7d2f1a1e-3c4b-4f7a-9a61-0c3c1b2d4e5f/runs/%s/", run);
        idem_header(hdr, sizeof(hdr), "k-1");
        http_with(&a, "PUT", path, "tok-acme", "application/json", hdr,
                  "{\"status\":\"cancelled\"}");
        expect(&a, 200);
        idem_header(hdr, sizeof(hdr), other_key);
        http_with(&a, "POST", "/v0/runs/", "tok-other", "application/json",
                  hdr, spec);
        expect(&a, 200);
        idem_header(hdr, sizeof(hdr), "k-1");
        http_with(&a, "PUT", path, "tok-acme", "application/json", hdr,
                  "{\"status\":\"queued\"}");
        expect(&a, 409);
        /* the same key and body is still the same request */
        http_with(&a, "PUT", path, "tok-acme", "application/json", hdr,
                  "{\"status\":\"cancelled\"}");
        expect(&a, 200);
        cr_assert(eq(str, (char *)str_at(a.json, "content", "status"),
                     "cancelled"));
}

/* A key is bound to the route (and its ids), not to how its path is
 * spelled: prefix, trailing slash and the case of UUIDs do not matter. */
Test(gateway_e2e, one_key_under_every_spelling_of_a_route_is_one_request)
{
        static const char *const spellings[] = {
                "/v0/runs/", "/v0/runs", "/api/pipelines/v0/runs/",
                "/api/pipelines/v0/runs",
        };
        char path[256], upper[256], run[64], hdr[256];
        answer_t a;

        idem_header(hdr, sizeof(hdr), "same-1");
        for (size_t i = 0; i < sizeof(spellings) / sizeof(*spellings); i++) {
                http_with(&a, "POST", spellings[i], "tok-acme",
                          "application/json", hdr, spec);
                expect(&a, 200);
                if (i == 0)
                        snprintf(run, sizeof(run), "%s",
                                 str_at(a.json, "content", "id"));
                cr_assert(eq(str, (char *)str_at(a.json, "content", "id"),
                             run), "%s", spellings[i]);
        }
        http(&a, "GET", "/v0/runs/", "tok-acme", NULL, NULL);
        expect(&a, 200);
        cr_assert(eq(int, (int)json_integer_value(json_object_get(
                                  json_object_get(a.json, "content"),
                                  "count")),
                     1));
        /* the key on another route: 409 */
        snprintf(path, sizeof(path), "/v0/pipelines/"
                 "7d2f1a1e-3c4b-4f7a-9a61-0c3c1b2d4e5f/runs/%s/", run);
        http_with(&a, "PUT", path, "tok-acme", "application/json", hdr,
                  "{\"status\":\"cancelled\"}");
        expect(&a, 409);
        /* a PUT under two spellings, UUIDs upper-cased in the second */
        idem_header(hdr, sizeof(hdr), "cancel-1");
        http_with(&a, "PUT", path, "tok-acme", "application/json", hdr,
                  "{\"status\":\"cancelled\"}");
        expect(&a, 200);
        snprintf(upper, sizeof(upper), "/api/pipelines/v0/pipelines/"
                 "7D2F1A1E-3C4B-4F7A-9A61-0C3C1B2D4E5F/runs/%s", run);
        for (char *p = strrchr(upper, '/'); *p; p++)
                if (*p >= 'a' && *p <= 'f')
                        *p = (char)(*p - 'a' + 'A');
        http_with(&a, "PUT", upper, "tok-acme", "application/json", hdr,
                  "{\"status\":\"cancelled\"}");
        expect(&a, 200);
        cr_assert(eq(str, (char *)str_at(a.json, "content", "status"),
                     "cancelled"));
        /* and with another body: 409 */
        http_with(&a, "PUT", upper, "tok-acme", "application/json", hdr,
                  "{\"status\":\"CANCELLED\"}");
        expect(&a, 409);
}

/* GET/PUT /v0/runs/{id}/ (our extension) is the scoped run route spelled
 * without the pipeline id: the same answers, the same Idempotency-Key,
 * the write visible in the answer and in the next read. */
Test(gateway_e2e, a_run_by_its_id_alone_is_the_scoped_run_route)
{
        char scoped[256], alone[256], run[64], hdr[256];
        answer_t a, b;
        char *first, *again;

        http(&a, "POST", "/v0/runs/", "tok-acme", "application/json", spec);
        expect(&a, 200);
        snprintf(run, sizeof(run), "%s", str_at(a.json, "content", "id"));
        snprintf(scoped, sizeof(scoped), "/v0/pipelines/"
                 "7d2f1a1e-3c4b-4f7a-9a61-0c3c1b2d4e5f/runs/%s/", run);
        snprintf(alone, sizeof(alone), "/api/pipelines/v0/runs/%s", run);
        http(&a, "GET", alone, "tok-acme", NULL, NULL);
        expect(&a, 200);
        cr_assert(eq(str, (char *)str_at(a.json, "content", "id"), run));
        cr_assert(eq(str, (char *)str_at(a.json, "content", "pipeline_id"),
                     "7d2f1a1e-3c4b-4f7a-9a61-0c3c1b2d4e5f"));
        /* another enterprise: the scoped path's 404 */
        http(&a, "GET", alone, "tok-other", NULL, NULL);
        http(&b, "GET", scoped, "tok-other", NULL, NULL);
        expect(&a, 404);
        cr_assert(json_equal(a.json, b.json));
        /* cancel by the id alone; the answer and the next read say so */
        idem_header(hdr, sizeof(hdr), "alone-1");
        http_with(&a, "PUT", alone, "tok-acme", "application/json", hdr,
                  "{\"status\":\"cancelled\"}");
        expect(&a, 200);
        cr_assert(eq(str, (char *)str_at(a.json, "content", "status"),
                     "cancelled"));
        http(&b, "GET", alone, "tok-acme", NULL, NULL);
        expect(&b, 200);
        cr_assert(json_equal(a.json, b.json));
        /* the same key on the scoped path is a retry: the first answer */
        first = json_dumps(a.json, JSON_SORT_KEYS);
        http_with(&a, "PUT", scoped, "tok-acme", "application/json", hdr,
                  "{\"status\":\"cancelled\"}");
        expect(&a, 200);
        again = json_dumps(a.json, JSON_SORT_KEYS);
        cr_assert(eq(str, again, first));
        free(first);
        free(again);
        /* and another body with it a 409 on either path */
        http_with(&a, "PUT", alone, "tok-acme", "application/json", hdr,
                  "{\"status\":\"CANCELLED\"}");
        expect(&a, 409);
        /* the final run's refusal, word for word */
        http(&a, "PUT", alone, "tok-acme", "application/json",
             "{\"status\":\"cancelled\"}");
        http(&b, "PUT", scoped, "tok-acme", "application/json",
             "{\"status\":\"cancelled\"}");
        expect(&a, 400);
        cr_assert(eq(str, (char *)str_at(a.json, "message", NULL),
                     (char *)str_at(b.json, "message", NULL)));
        http(&a, "GET", alone, "tok-acme", NULL, NULL);
        http(&b, "GET", scoped, "tok-acme", NULL, NULL);
        cr_assert(json_equal(a.json, b.json));
}

/* The transport refuses or answers from the head, through the real
 * gateway: nothing of a refused body is read, repeated or malformed
 * framing is never guessed at, every refusal has the envelope. */
static void refused_raw(const char *req, size_t len, int status)
{
        raw_reply_t r;
        json_t *j;

        raw_exchange(port, req, len, 3000, &r);
        cr_assert(eq(int, r.status, status), "after %.0f ms: %s", r.ms,
                  r.text);
        cr_assert(r.closed, "%s", r.text);
        cr_assert(lt(dbl, r.ms, 2000.0));
        cr_assert(eq(int, raw_count(r.text, "HTTP/1.1 "), 1), "%s", r.text);
        cr_assert(strstr(r.text, "\r\nContent-Type: application/json\r\n") !=
                  NULL);
        j = json_loads(r.body, 0, NULL);
        cr_assert(j != NULL, "%s", r.text);
        cr_assert(eq(int, (int)json_integer_value(json_object_get(j, "code")),
                     status));
        json_decref(j);
        free(r.text);
}

#define RAW_WRITE "POST /v0/runs/ HTTP/1.1\r\nHost: x\r\n" \
                  "Content-Type: application/json\r\n"
#define RAW_TOKEN "Authorization: Bearer tok-acme\r\n"

Test(gateway_e2e, transport_answers_from_the_head_and_refuses_bad_framing)
{
        static const char nul[] = "GET /v0/runs/ HTTP/1.1\r\nHost: x\r\n"
                                  "Authorization: Bearer tok-acme\0junk\r\n"
                                  "\r\n";
        char *q = malloc(16384);
        raw_reply_t r;
        size_t n;

#define REFUSED(req, status) refused_raw(req, strlen(req), status)
        /* only heads are sent: the answers come without the bodies */
        REFUSED(RAW_WRITE RAW_TOKEN "Content-Length: 50000000\r\n\r\n",
                413);
        REFUSED(RAW_WRITE "Content-Length: 3145728\r\n\r\n", 401);
        REFUSED("PUT /v0/runs/ HTTP/1.1\r\nHost: x\r\n"
                "Content-Length: 3145728\r\n\r\n", 405);
        REFUSED(RAW_WRITE RAW_TOKEN "Expect: 100-continue\r\n"
                "Content-Length: 50000000\r\n\r\n", 413);
        REFUSED(RAW_WRITE RAW_TOKEN "Content-Length: 2\r\n"
                "Content-Length: 40\r\n\r\n{}GET /livez HTTP/1.1\r\n"
                "Host: x\r\n\r\n", 400);
        REFUSED(RAW_WRITE RAW_TOKEN "Content-Length: -5\r\n\r\n", 400);
        REFUSED(RAW_WRITE RAW_TOKEN "Transfer-Encoding: gzip\r\n\r\n", 400);
        REFUSED(RAW_WRITE RAW_TOKEN "Transfer-Encoding: xchunked\r\n"
                "Content-Length: 2\r\n\r\n{}", 400);
        REFUSED(RAW_WRITE RAW_TOKEN RAW_TOKEN "Content-Length: 2\r\n\r\n{}",
                400);
        REFUSED("GET /livez HTTP/1.1\r\n\r\n", 400);
        refused_raw(nul, sizeof(nul) - 1, 400);
#undef REFUSED
        /* HEAD: the headers of GET, no body */
        n = (size_t)sprintf(q, "HEAD /livez HTTP/1.1\r\nHost: x\r\n"
                            "Connection: close\r\n\r\n");
        raw_exchange(port, q, n, 3000, &r);
        cr_assert(eq(int, r.status, 200), "%s", r.text);
        cr_assert(strstr(r.text, "\r\nContent-Length: 3\r\n") != NULL);
        cr_assert(eq(str, (char *)r.body, ""));
        free(r.text);
        n = (size_t)sprintf(q, "HEAD /v0/runs/ HTTP/1.1\r\nHost: x\r\n"
                            RAW_TOKEN "Connection: close\r\n\r\n");
        raw_exchange(port, q, n, 3000, &r);
        cr_assert(eq(int, r.status, 200), "%s", r.text);
        cr_assert(strstr(r.text, "\r\nContent-Length: 0\r\n") == NULL);
        cr_assert(eq(str, (char *)r.body, ""));
        free(r.text);
        /* 3,000 query parameters: an answer at once */
        n = (size_t)sprintf(q, "GET /v0/runs/?");
        for (int i = 0; i < 3000; i++)
                n += (size_t)sprintf(q + n, "%c&", 'a' + i % 26);
        n += (size_t)sprintf(q + n - 1, " HTTP/1.1\r\nHost: x\r\n" RAW_TOKEN
                             "Connection: close\r\n\r\n") - 1;
        raw_exchange(port, q, n, 1000, &r);
        cr_assert(eq(int, r.status, 200), "after %.0f ms: %.300s", r.ms,
                  r.text);
        free(r.text);
        free(q);
}

/* ------------------------------------------------------------ retention */

/* Retention of one second; on the embedded broker the marker is kept for
 * 3 s (retention.inputs), on a real broker for ever (retention.inputs 0:
 * its topics keep records for 7 days, which the worker's start-up check
 * would refuse with a shorter retention.inputs). */
static void start_dev_retention(void)
{
        const char *real = getenv("SR_TEST_KAFKA");

        dev_extra[0] = "retention.finished=1s";
        dev_extra[1] = real && *real ? "retention.inputs=0" :
                                       "retention.inputs=3s";
        dev_extra[2] = "timer.resolution.ms=100";
        start_dev();
}

/* GET @p path as tok-acme until its status is @p status (at most
 * @p wait_ms); the last answer in @p a. */
static void get_until(answer_t *a, const char *path, int status, int wait_ms)
{
        for (int waited = 0;; waited += 100) {
                http(a, "GET", path, "tok-acme", NULL, NULL);
                if (a->status == status || waited >= wait_ms)
                        return;
                usleep(100 * 1000);
        }
}

static size_t run_count(void)
{
        answer_t a;

        http(&a, "GET", "/v0/pipelines/7d2f1a1e-3c4b-4f7a-9a61-0c3c1b2d4e5f"
             "/runs/", "tok-acme", NULL, NULL);
        expect(&a, 200);
        return (size_t)json_integer_value(json_object_get(
                json_object_get(a.json, "content"), "count"));
}

/* DELETE of a run through the worker (docs/definitions.md section 7): a
 * running run is refused and left as it was; a cancelled one (every
 * entity of it final) answers the run as it was, and is retired by then:
 * the next GET says so. */
Test(gateway_e2e, a_running_run_delete_is_refused_a_cancelled_one_deleted)
{
        char run[64], path[256], alone[128], stages[128];
        answer_t a, before;

        start_runs(1, run, sizeof(run), NULL, 0);
        snprintf(path, sizeof(path), "/v0/pipelines/"
                 "7d2f1a1e-3c4b-4f7a-9a61-0c3c1b2d4e5f/runs/%s/", run);
        snprintf(alone, sizeof(alone), "/api/pipelines/v0/runs/%s", run);
        snprintf(stages, sizeof(stages), "/v0/runs/%s/stageruns/", run);
        http(&a, "DELETE", path, "tok-acme", NULL, NULL);
        expect(&a, 400);
        expect_message(&a, "cancel it first");
        cr_assert(eq(str, (char *)str_at(a.json, "content", "reason"),
                     "illegal_transition"));
        http(&a, "DELETE", alone, "tok-acme", "application/json", "{}");
        expect(&a, 400);
        expect_message(&a, "DELETE takes none");
        http(&a, "GET", path, "tok-acme", NULL, NULL);
        expect(&a, 200);
        cr_assert(eq(str, (char *)str_at(a.json, "content", "status"),
                     "running"));
        cr_assert(eq(sz, run_count(), 1));

        cancel_run(run);
        http(&before, "GET", path, "tok-acme", NULL, NULL);
        expect(&before, 200);
        http(&a, "DELETE", alone, "tok-acme", NULL, NULL);
        expect(&a, 200);
        cr_assert(json_equal(json_object_get(a.json, "content"),
                             json_object_get(before.json, "content")),
                  "%s", json_dumps(a.json, 0));
        /* read-your-writes: retired on this gateway when it answered */
        http(&a, "GET", path, "tok-acme", NULL, NULL);
        expect(&a, 404);
        expect_message(&a, "was retired at ");
        expect_message(&a, "deleted by a client");
        http(&a, "GET", stages, "tok-acme", NULL, NULL);
        expect(&a, 404);
        expect_message(&a, "was retired at ");
        cr_assert(eq(sz, run_count(), 0));
        http(&a, "DELETE", path, "tok-acme", NULL, NULL);
        expect(&a, 404);
        expect_message(&a, "was retired at ");
}

/* The content's "id" of an answer. */
static void content_id(answer_t *a, char *out, size_t n)
{
        const char *id = str_at(a->json, "content", "id");

        cr_assert(id != NULL, "%s", json_dumps(a->json, 0));
        snprintf(out, n, "%s", id);
}

/* Stored definitions through the API only (docs/definitions.md, phase A),
 * applied by the fleet's workers: a pipeline, its stages in order, a
 * target list attached to a stage with targets added in bulk and one by
 * one, an operation list and its operation; read-your-writes on every
 * write; a stale version, a taken name, a type that holds no targets;
 * tenancy; the soft delete and its 404s. */
Test(gateway_e2e, a_pipeline_is_built_read_changed_and_deleted_through_the_api)
{
        char pipe[64], s1[64], s2[64], tl[64], gl[64], ol[64], op[64];
        char path[320], body[512];
        answer_t a;
        json_t *res;

        http(&a, "POST", "/v0/pipelines/", "tok-acme", "application/json",
             "{\"name\":\"rollout\",\"description\":\"canary first\"}");
        expect(&a, 200);
        content_id(&a, pipe, sizeof(pipe));
        cr_assert(eq(int, (int)json_integer_value(json_object_get(
                             json_object_get(a.json, "content"), "version")),
                     1));
        cr_assert(eq(int, (int)json_integer_value(json_object_get(
                             json_object_get(a.json, "content"),
                             "timeout_seconds")), 86400));
        /* read at once, on the list too */
        snprintf(path, sizeof(path), "/v0/pipelines/%s/", pipe);
        http(&a, "GET", path, "tok-acme", NULL, NULL);
        expect(&a, 200);
        cr_assert(eq(str, (char *)str_at(a.json, "content", "name"),
                     "rollout"));
        http(&a, "GET", "/api/pipelines/v0/pipelines/?name=rollout",
             "tok-acme", NULL, NULL);
        expect(&a, 200);
        cr_assert(ge(int, (int)json_integer_value(json_object_get(
                             json_object_get(a.json, "content"), "count")),
                     1));
        /* another tenant sees nothing */
        http(&a, "GET", path, "tok-other", NULL, NULL);
        expect(&a, 404);
        /* a run of it (POST .../runs/): the body is {} or none, a member
         * named (400); another tenant's pipeline or an unknown one is 404;
         * all before anything is sent */
        snprintf(path, sizeof(path), "/v0/pipelines/%s/runs/", pipe);
        http(&a, "POST", path, "tok-acme", "application/json", "{\"x\":1}");
        expect(&a, 400);
        expect_message(&a, "unknown field \"x\"");
        http(&a, "POST", path, "tok-other", NULL, NULL);
        expect(&a, 404);
        http(&a, "POST", "/api/pipelines/v0/pipelines/"
             "00000000-0000-4000-8000-00000000beef/runs", "tok-acme",
             "application/json", "{}");
        expect(&a, 404);
        expect_message(&a, "not found");

        /* stages: the second created first in order 2, then order 1 */
        snprintf(path, sizeof(path), "/v0/pipelines/%s/stages/", pipe);
        http(&a, "POST", path, "tok-acme", "application/json",
             "{\"name\":\"wide\",\"order\":2}");
        expect(&a, 200);
        content_id(&a, s2, sizeof(s2));
        http(&a, "POST", path, "tok-acme", "application/json",
             "{\"name\":\"canary\",\"order\":1}");
        expect(&a, 200);
        content_id(&a, s1, sizeof(s1));
        http(&a, "POST", path, "tok-acme", "application/json",
             "{\"name\":\"CANARY\"}");
        expect(&a, 400);
        expect_message(&a, "taken by stage");
        http(&a, "GET", path, "tok-acme", NULL, NULL);
        expect(&a, 200);
        res = json_object_get(json_object_get(a.json, "content"), "results");
        cr_assert(eq(sz, json_array_size(res), 2));
        cr_assert(eq(str, (char *)json_string_value(json_object_get(
                             json_array_get(res, 0), "name")), "canary"));

        /* a DEVICES list, attached to the canary, filled in bulk */
        snprintf(path, sizeof(path), "/v0/pipelines/%s/targetlists/", pipe);
        http(&a, "POST", path, "tok-acme", "application/json",
             "{\"name\":\"fleet\",\"target_list_type\":\"DEVICES\"}");
        expect(&a, 200);
        content_id(&a, tl, sizeof(tl));
        http(&a, "POST", path, "tok-acme", "application/json",
             "{\"name\":\"groups\",\"target_list_type\":\"GROUPS\"}");
        expect(&a, 200);
        content_id(&a, gl, sizeof(gl));
        snprintf(path, sizeof(path), "/v0/stages/%s/targetlists/", s1);
        snprintf(body, sizeof(body), "{\"target_list_id\":\"%s\"}", tl);
        http(&a, "POST", path, "tok-acme", "application/json", body);
        expect(&a, 200);
        http(&a, "GET", path, "tok-acme", NULL, NULL);
        expect(&a, 200);
        cr_assert(eq(sz, json_array_size(json_object_get(
                             json_object_get(a.json, "content"), "results")),
                     1));
        snprintf(path, sizeof(path),
                 "/v0/pipelines/%s/targetlists/%s/targets-bulk/", pipe, tl);
        http(&a, "POST", path, "tok-acme", "application/json",
             "[\"0b7a8c7e-2222-4a0e-8f0e-000000000001\","
             "{\"device_id\":\"0b7a8c7e-2222-4a0e-8f0e-000000000002\","
             "\"device_name\":\"kiosk-2\"},\"not-a-uuid\"]");
        expect(&a, 200);
        cr_assert(eq(int, (int)json_integer_value(json_object_get(
                             json_object_get(a.json, "content"),
                             "created_count")), 2));
        cr_assert(eq(sz, json_array_size(json_object_get(
                             json_object_get(a.json, "content"), "errors")),
                     1));
        /* the same again: skipped */
        http(&a, "POST", path, "tok-acme", "application/json",
             "[\"0b7a8c7e-2222-4a0e-8f0e-000000000001\"]");
        expect(&a, 200);
        cr_assert(eq(int, (int)json_integer_value(json_object_get(
                             json_object_get(a.json, "content"),
                             "skipped_count")), 1));
        snprintf(path, sizeof(path),
                 "/v0/pipelines/%s/targetlists/%s/targets/", pipe, tl);
        http(&a, "GET", path, "tok-acme", NULL, NULL);
        expect(&a, 200);
        cr_assert(eq(int, (int)json_integer_value(json_object_get(
                             json_object_get(a.json, "content"), "count")),
                     2));
        /* a GROUPS list holds no targets */
        snprintf(path, sizeof(path),
                 "/v0/pipelines/%s/targetlists/%s/targets/", pipe, gl);
        http(&a, "POST", path, "tok-acme", "application/json",
             "{\"device_id\":\"0b7a8c7e-2222-4a0e-8f0e-000000000003\","
             "\"device_name\":\"d3\"}");
        expect(&a, 400);
        cr_assert(eq(str, (char *)str_at(a.json, "content", "reason"),
                     "wrong_type"));

        /* an operation list and an operation */
        snprintf(path, sizeof(path), "/v0/stages/%s/operationlists/", s1);
        http(&a, "POST", path, "tok-acme", "application/json",
             "{\"name\":\"install\"}");
        expect(&a, 200);
        content_id(&a, ol, sizeof(ol));
        snprintf(path, sizeof(path), "/v0/operationlists/%s/operations/", ol);
        http(&a, "POST", path, "tok-acme", "application/json",
             "{\"operation_type\":\"INSTALL\","
             "\"args\":{\"package_name\":\"com.example\",\"v\":0.1}}");
        expect(&a, 200);
        content_id(&a, op, sizeof(op));
        snprintf(path, sizeof(path), "/v0/operationlists/%s/operations/%s/",
                 ol, op);
        http(&a, "GET", path, "tok-acme", NULL, NULL);
        expect(&a, 200);
        cr_assert(eq(str, (char *)str_at(a.json, "content", "operation_type"),
                     "INSTALL"));

        /* a stale version is refused with the current one; the right one
         * is applied */
        snprintf(path, sizeof(path), "/v0/pipelines/%s/", pipe);
        http(&a, "PUT", path, "tok-acme", "application/json",
             "{\"name\":\"rollout-2\",\"version\":9}");
        expect(&a, 409);
        cr_assert(eq(str, (char *)str_at(a.json, "content", "reason"),
                     "stale_version"));
        http(&a, "PUT", path, "tok-acme", "application/json",
             "{\"name\":\"rollout-2\",\"version\":1}");
        expect(&a, 200);
        cr_assert(eq(str, (char *)str_at(a.json, "content", "name"),
                     "rollout-2"));
        cr_assert(eq(int, (int)json_integer_value(json_object_get(
                             json_object_get(a.json, "content"), "version")),
                     2));

        /* the soft delete: the pipeline as it was; then 404 "was deleted"
         * on it and under it */
        http(&a, "DELETE", path, "tok-acme", NULL, NULL);
        expect(&a, 200);
        cr_assert(eq(str, (char *)str_at(a.json, "content", "name"),
                     "rollout-2"));
        http(&a, "GET", path, "tok-acme", NULL, NULL);
        expect(&a, 404);
        expect_message(&a, "was deleted at");
        snprintf(path, sizeof(path), "/v0/pipelines/%s/stages/%s/", pipe, s1);
        http(&a, "GET", path, "tok-acme", NULL, NULL);
        expect(&a, 404);
        expect_message(&a, "was deleted at");
}

/* Same .timeout as gateway_e2e (see tests/CMakeLists.txt). */
/* A POST and its content's id, 200 expected. */
static void create_at(const char *path, const char *body, char *id, size_t n)
{
        answer_t a;

        http(&a, "POST", path, "tok-acme", "application/json", body);
        expect(&a, 200);
        content_id(&a, id, n);
}

/* How many target runs stage run @p sid has (one page holds them). */
static int target_run_count(const char *sid)
{
        char path[256];
        answer_t a;

        snprintf(path, sizeof(path), "/v0/stageruns/%s/targetruns/", sid);
        http(&a, "GET", path, "tok-acme", NULL, NULL);
        expect(&a, 200);
        return (int)json_integer_value(json_object_get(
                json_object_get(a.json, "content"), "count"));
}

/* Issue 15, docs/definitions.md section 5: a client of the reference
 * builds a pipeline through the API only, starts a run of it with
 * POST /pipelines/{id}/runs/ and {}, and runs it to success while the
 * definition changes under it: the run keeps what it froze at its start
 * (its targets, its stages' names). */
Test(gateway_e2e, a_stored_pipeline_is_run_to_success_frozen_against_edits)
{
        char pipe[64], s1[64], s2[64], tl[64], ol[64], op[64], run[64];
        char path[320], body[512], sr[4][64];
        answer_t a;

        create_at("/v0/pipelines/", "{\"name\":\"stored-run\"}", pipe,
                  sizeof(pipe));
        snprintf(path, sizeof(path), "/v0/pipelines/%s/stages/", pipe);
        create_at(path, "{\"name\":\"canary\",\"order\":1}", s1,
                  sizeof(s1));
        create_at(path, "{\"name\":\"rest\",\"order\":2}", s2, sizeof(s2));
        snprintf(path, sizeof(path), "/v0/pipelines/%s/targetlists/", pipe);
        create_at(path, "{\"name\":\"fleet\",\"target_list_type\":"
                  "\"DEVICES\"}", tl, sizeof(tl));
        snprintf(path, sizeof(path),
                 "/v0/pipelines/%s/targetlists/%s/targets-bulk/", pipe, tl);
        http(&a, "POST", path, "tok-acme", "application/json",
             "[\"0b7a8c7e-3333-4a0e-8f0e-000000000001\","
             "\"0b7a8c7e-3333-4a0e-8f0e-000000000002\","
             "\"0b7a8c7e-3333-4a0e-8f0e-000000000003\"]");
        expect(&a, 200);
        snprintf(body, sizeof(body), "{\"target_list_id\":\"%s\"}", tl);
        snprintf(path, sizeof(path), "/v0/stages/%s/targetlists/", s1);
        http(&a, "POST", path, "tok-acme", "application/json", body);
        expect(&a, 200);
        snprintf(path, sizeof(path), "/v0/stages/%s/targetlists/", s2);
        http(&a, "POST", path, "tok-acme", "application/json", body);
        expect(&a, 200);
        snprintf(path, sizeof(path), "/v0/stages/%s/operationlists/", s1);
        create_at(path, "{\"name\":\"ops\"}", ol, sizeof(ol));
        snprintf(path, sizeof(path), "/v0/operationlists/%s/operations/", ol);
        create_at(path, "{\"operation_type\":\"INSTALL\",\"args\":"
                  "{\"package_name\":\"x\"}}", op, sizeof(op));
        snprintf(path, sizeof(path), "/v0/stages/%s/operationlists/", s2);
        create_at(path, "{\"name\":\"ops\"}", ol, sizeof(ol));
        snprintf(path, sizeof(path), "/v0/operationlists/%s/operations/", ol);
        create_at(path, "{\"operation_type\":\"REBOOT\"}", op, sizeof(op));

        /* the run: 200 with it, under its pipeline */
        snprintf(path, sizeof(path), "/api/pipelines/v0/pipelines/%s/runs/",
                 pipe);
        http(&a, "POST", path, "tok-acme", "application/json", "{}");
        expect(&a, 200);
        content_id(&a, run, sizeof(run));
        cr_assert(eq(str, (char *)str_at(a.json, "content", "pipeline_id"),
                     pipe));
        cr_assert(eq(sz, stage_run_ids(run, sr), 2));
        /* its targets arrive in chunks after the answer */
        for (int i = 0; i < 100 && target_run_count(sr[0]) < 3; i++)
                usleep(100 * 1000);
        cr_assert(eq(int, target_run_count(sr[0]), 3));

        /* the definition changes: a fourth device (once the fill lets
         * target writes in again), the second stage renamed */
        snprintf(path, sizeof(path),
                 "/v0/pipelines/%s/targetlists/%s/targets/", pipe, tl);
        for (int i = 0;; i++) {
                http(&a, "POST", path, "tok-acme", "application/json",
                     "{\"device_id\":\"0b7a8c7e-3333-4a0e-8f0e-000000000004\","
                     "\"device_name\":\"late\"}");
                if (a.status == 200)
                        break;
                expect(&a, 409); /* run_starting: the fill holds them */
                cr_assert(lt(int, i, 100));
                usleep(100 * 1000);
        }
        snprintf(path, sizeof(path), "/v0/pipelines/%s/stages/%s/", pipe, s2);
        http(&a, "PUT", path, "tok-acme", "application/json",
             "{\"name\":\"everyone\"}");
        expect(&a, 200);
        /* a stage a run uses cannot go */
        http(&a, "DELETE", path, "tok-acme", NULL, NULL);
        expect(&a, 409);

        finish_stage(sr[0]);
        snprintf(path, sizeof(path), "/v0/runs/%s/stageruns/%s/", run, sr[1]);
        for (int i = 0;; i++) {
                http(&a, "PUT", path, "tok-acme", "application/json",
                     "{\"status\":\"queued\"}");
                if (a.status == 200)
                        break;
                cr_assert(lt(int, i, 100), "%d", a.status);
                usleep(100 * 1000);
        }
        /* the name it froze, not the stage's new one */
        cr_assert(eq(str, (char *)json_string_value(json_object_get(
                             json_object_get(json_object_get(a.json,
                                                             "content"),
                                             "stage_meta"), "name")),
                     "rest"), "%s", json_dumps(a.json, 0));
        cr_assert(eq(int, target_run_count(sr[1]), 3));
        finish_stage(sr[1]);
        snprintf(path, sizeof(path), "/v0/pipelines/%s/runs/%s/", pipe, run);
        get_until(&a, path, 200, 5000);
        cr_assert(eq(str, (char *)str_at(a.json, "content", "status"),
                     "success"));
        /* the ended run frees its stage */
        snprintf(path, sizeof(path), "/v0/pipelines/%s/stages/%s/", pipe, s2);
        for (int i = 0;; i++) {
                http(&a, "DELETE", path, "tok-acme", NULL, NULL);
                if (a.status == 200)
                        break;
                expect(&a, 409);
                cr_assert(lt(int, i, 100));
                usleep(100 * 1000);
        }
}

/* `sr-cli groups put` of group @p group of enterprise acme, its members
 * the CSV lines of @p csv (device_id,device_name,device_alias). */
static void groups_put(const char *group, const char *csv)
{
        char file[128], cmd[1024];
        FILE *f;

        snprintf(file, sizeof(file), "%s/group-%s.csv", dev_dir, group);
        f = fopen(file, "w");
        cr_assert(f != NULL);
        fputs(csv, f);
        fclose(f);
        cr_assert(strlen(dev_bootstrap) > 0,
                  "sr-dev printed no bootstrap.servers");
        snprintf(cmd, sizeof(cmd),
                 "'%s/sr-cli' -b '%s' %s%s groups put --enterprise acme "
                 "--group %s --name 'group %.8s' '%s' >>'%s/cli.log' 2>&1",
                 SR_BUILD_DIR, dev_bootstrap, dev_prefix[0] ? "-D " : "",
                 dev_prefix, group, group, file, dev_dir);
        cr_assert(eq(int, system(cmd), 0), "%s (see %s/cli.log)", cmd,
                  dev_dir);
}

/* The device ids of stage run @p sid's target runs, sorted, joined by
 * ','; their count. */
static int stage_devices(const char *sid, char *out, size_t size)
{
        char path[256], *ids[64];
        json_t *res;
        answer_t a;
        size_t n, len = 0;

        snprintf(path, sizeof(path), "/v0/stageruns/%s/targetruns/?limit=64",
                 sid);
        http(&a, "GET", path, "tok-acme", NULL, NULL);
        expect(&a, 200);
        res = json_object_get(json_object_get(a.json, "content"), "results");
        n = json_array_size(res);
        cr_assert(lt(sz, n, 64));
        for (size_t i = 0; i < n; i++)
                ids[i] = (char *)json_string_value(json_object_get(
                        json_array_get(res, i), "device_id"));
        for (size_t i = 1; i < n; i++) /* insertion sort: a handful */
                for (size_t j = i; j > 0 && strcmp(ids[j - 1], ids[j]) > 0;
                     j--) {
                        char *x = ids[j];

                        ids[j] = ids[j - 1];
                        ids[j - 1] = x;
                }
        out[0] = '\0';
        for (size_t i = 0; i < n; i++)
                len += (size_t)snprintf(out + len, size - len, "%s%.4s",
                                        i ? "," : "", ids[i] + 32);
        return (int)n;
}

/* Issue 15 phase C, docs/definitions.md section 6: device groups fed to
 * the directory by `sr-cli groups put`, linked to a GROUPS list; a run
 * of the pipeline freezes their members at its start, once each beside a
 * DEVICES list's devices (the DEVICES entry wins), and a member added
 * after the start is not in the run. */
Test(gateway_e2e, a_run_of_device_groups_freezes_their_members_at_its_start)
{
        static const char g1[] = "5e1d0a2c-0000-4000-8000-0000000000a1",
                          g2[] = "5e1d0a2c-0000-4000-8000-0000000000a2",
                          dev[] = "0c0ffee0-0000-4000-8000-00000000";
        char pipe[64], st[64], gl[64], dl[64], ol[64], op[64], run[64];
        char path[400], body[512], sr[4][64], got[512], csv[1024];
        const char *next;
        answer_t a;
        int n = 0;

        /* the directory: g1 = d1 d2 d3, g2 = d3 d4 */
        snprintf(csv, sizeof(csv),
                 "device_id,device_name,device_alias\n"
                 "%s0001,m-1,\n%s0002,m-2,front\n%s0003,m-3,\n",
                 dev, dev, dev);
        groups_put(g1, csv);
        snprintf(csv, sizeof(csv), "%s0003,m-3,\n%s0004,m-4,\n", dev, dev);
        groups_put(g2, csv);

        create_at("/v0/pipelines/", "{\"name\":\"by-groups\"}", pipe,
                  sizeof(pipe));
        snprintf(path, sizeof(path), "/v0/pipelines/%s/stages/", pipe);
        create_at(path, "{\"name\":\"all\",\"order\":1}", st, sizeof(st));
        snprintf(path, sizeof(path), "/v0/pipelines/%s/targetlists/", pipe);
        create_at(path, "{\"name\":\"named\",\"target_list_type\":"
                  "\"DEVICES\"}", dl, sizeof(dl));
        create_at(path, "{\"name\":\"groups\",\"target_list_type\":"
                  "\"GROUPS\"}", gl, sizeof(gl));
        snprintf(path, sizeof(path),
                 "/v0/pipelines/%s/targetlists/%s/targets/", pipe, dl);
        snprintf(body, sizeof(body), "{\"device_id\":\"%s0001\","
                 "\"device_name\":\"listed-1\"}", dev);
        create_at(path, body, op, sizeof(op));
        snprintf(body, sizeof(body), "{\"device_id\":\"%s0005\","
                 "\"device_name\":\"listed-5\"}", dev);
        create_at(path, body, op, sizeof(op));
        snprintf(path, sizeof(path),
                 "/api/pipelines/v0/pipelines/%s/targetlists/%s/"
                 "devicegroups/", pipe, gl);
        for (int i = 0; i < 2; i++) {
                snprintf(body, sizeof(body), "{\"device_group_id\":\"%s\"}",
                         i ? g2 : g1);
                create_at(path, body, op, sizeof(op));
        }
        snprintf(path, sizeof(path), "/v0/stages/%s/targetlists/", st);
        snprintf(body, sizeof(body), "{\"target_list_id\":\"%s\"}", dl);
        http(&a, "POST", path, "tok-acme", "application/json", body);
        expect(&a, 200);
        snprintf(body, sizeof(body), "{\"target_list_id\":\"%s\"}", gl);
        http(&a, "POST", path, "tok-acme", "application/json", body);
        expect(&a, 200);
        snprintf(path, sizeof(path), "/v0/stages/%s/operationlists/", st);
        create_at(path, "{\"name\":\"ops\"}", ol, sizeof(ol));
        snprintf(path, sizeof(path), "/v0/operationlists/%s/operations/", ol);
        create_at(path, "{\"operation_type\":\"REBOOT\"}", op, sizeof(op));

        /* the linked group's devices, as the directory holds them (its
         * records reach the gateway's projection on their own time) */
        snprintf(path, sizeof(path),
                 "/v0/pipelines/%s/targetlists/%s/devicegroups/%s/devices/"
                 "?limit=2", pipe, gl, g1);
        for (int i = 0; i < 100; i++) {
                http(&a, "GET", path, "tok-acme", NULL, NULL);
                expect(&a, 200);
                n = (int)json_integer_value(json_object_get(
                        json_object_get(a.json, "content"), "count"));
                if (n == 3)
                        break;
                usleep(100 * 1000);
        }
        cr_assert(eq(int, n, 3), "%s", json_dumps(a.json, 0));
        cr_assert(eq(str, (char *)json_string_value(json_object_get(
                             json_array_get(json_object_get(
                                     json_object_get(a.json, "content"),
                                     "results"), 1), "alias_name")),
                     "front"));
        next = json_string_value(json_object_get(json_object_get(a.json,
                                                                 "content"),
                                                 "next"));
        cr_assert(next != NULL, "a second page: %s", json_dumps(a.json, 0));
        /* another enterprise sees no such pipeline */
        http(&a, "GET", path, "tok-other", NULL, NULL);
        expect(&a, 404);

        /* the run: d1 (listed) d2 d3 (g1) d4 (g2) d5 (listed), each once */
        snprintf(path, sizeof(path), "/v0/pipelines/%s/runs/", pipe);
        http(&a, "POST", path, "tok-acme", "application/json", "{}");
        expect(&a, 200);
        content_id(&a, run, sizeof(run));
        cr_assert(eq(sz, stage_run_ids(run, sr), 1));
        for (int i = 0; i < 100 && stage_devices(sr[0], got, sizeof(got)) < 5;
             i++)
                usleep(100 * 1000);
        cr_assert(eq(int, stage_devices(sr[0], got, sizeof(got)), 5), "%s",
                  got);
        cr_assert(eq(str, got, "0001,0002,0003,0004,0005"));

        /* a member added to g1 after the start is not the run's */
        snprintf(csv, sizeof(csv), "%s0001,m-1,\n%s0002,m-2,front\n"
                 "%s0003,m-3,\n%s0006,m-6,\n", dev, dev, dev, dev);
        groups_put(g1, csv);
        snprintf(path, sizeof(path),
                 "/v0/pipelines/%s/targetlists/%s/devicegroups/%s/devices/",
                 pipe, gl, g1);
        for (int i = 0; i < 100; i++) {
                http(&a, "GET", path, "tok-acme", NULL, NULL);
                n = (int)json_integer_value(json_object_get(
                        json_object_get(a.json, "content"), "count"));
                if (n == 4)
                        break;
                usleep(100 * 1000);
        }
        cr_assert(eq(int, n, 4));
        cr_assert(eq(int, stage_devices(sr[0], got, sizeof(got)), 5), "%s",
                  got);
        finish_stage(sr[0]);
        snprintf(path, sizeof(path), "/v0/pipelines/%s/runs/%s/", pipe, run);
        get_until(&a, path, 200, 5000);
        for (int i = 0; i < 50 && strcmp(str_at(a.json, "content", "status"),
                                         "success");
             i++) {
                usleep(100 * 1000);
                http(&a, "GET", path, "tok-acme", NULL, NULL);
        }
        cr_assert(eq(str, (char *)str_at(a.json, "content", "status"),
                     "success"));
}

TestSuite(gateway_retention, .init = start_dev_retention, .fini = teardown,
          .timeout = 120.0);

Test(gateway_retention,
     a_retired_run_is_forgotten_and_its_get_is_404_saying_when)
{
        const char *real = getenv("SR_TEST_KAFKA");
        char run[64], keep[64], path[256], stages[256];
        const char *detail;
        answer_t a;

        start_runs(1, run, sizeof(run), NULL, 0);
        start_runs(1, keep, sizeof(keep), NULL, 0); /* stays running */
        cr_assert(eq(sz, run_count(), 2));
        snprintf(path, sizeof(path), "/v0/pipelines/"
                 "7d2f1a1e-3c4b-4f7a-9a61-0c3c1b2d4e5f/runs/%s/", run);
        snprintf(stages, sizeof(stages), "/v0/runs/%s/stageruns/", run);
        http(&a, "GET", stages, "tok-acme", NULL, NULL);
        expect(&a, 200);
        /* The agent is off: the first stage's targets are dispatched and
         * stay so; a cancel ends every entity of the run. */
        cancel_run(run);

        /* Retired one second after it ended: the run and its stage runs
         * are gone from reads and lists, and a GET says when. */
        get_until(&a, path, 404, 20000);
        expect(&a, 404);
        detail = str_at(a.json, "message", NULL);
        cr_assert(detail != NULL && strstr(detail, "was retired at ") != NULL,
                  "%s", json_dumps(a.json, 0));
        http(&a, "GET", stages, "tok-acme", NULL, NULL);
        expect(&a, 404);
        cr_assert(strstr(str_at(a.json, "message", NULL), "retired") != NULL);
        cr_assert(eq(sz, run_count(), 1), "the list still counts it");
        /* another enterprise learns nothing */
        http(&a, "GET", path, "tok-other", NULL, NULL);
        expect(&a, 404);
        cr_assert(strstr(str_at(a.json, "message", NULL), "retired") == NULL);
        /* a write meets the retired run too, and changes nothing */
        http(&a, "PUT", path, "tok-acme", "application/json",
             "{\"status\":\"cancelled\"}");
        expect(&a, 404);
        cr_assert(strstr(str_at(a.json, "message", NULL), "retired") != NULL);
        /* the run that is still running is untouched */
        snprintf(path, sizeof(path), "/v0/runs/%s/stageruns/", keep);
        http(&a, "GET", path, "tok-acme", NULL, NULL);
        expect(&a, 200);

        if (real && *real)
                return; /* markers kept for ever there (see above) */
        /* After retention.inputs the marker is forgotten: a plain 404. */
        snprintf(path, sizeof(path), "/v0/pipelines/"
                 "7d2f1a1e-3c4b-4f7a-9a61-0c3c1b2d4e5f/runs/%s/", run);
        for (int waited = 0;; waited += 200) {
                http(&a, "GET", path, "tok-acme", NULL, NULL);
                expect(&a, 404);
                if (!strstr(str_at(a.json, "message", NULL), "retired"))
                        break;
                cr_assert(waited < 20000, "the marker was never forgotten");
                usleep(200 * 1000);
        }
}
