/* tests/unit/io/test_sr_httpd_wire.c - sr_httpd on a real loopback socket,
 * driven byte for byte by a raw client (issue 16, items 3-10): deadlines,
 * the connection limit under slow clients, early answers from the head,
 * framing refusals, the envelope on every refusal, HEAD.
 *
 * The server serves a small gateway-like application (fake_*): /livez, and
 * /v0/runs/ with the gateway's order of checks (405, 401, 415, 413) and a
 * token "tok-acme". Suite sr_httpd_wire can run against another server
 * that behaves alike, e.g. an sr-gateway of an older build:
 *   SR_TEST_HTTPD_PORT=8080 [SR_TEST_HTTPD_HEADER_MS=10000]
 *   [SR_TEST_HTTPD_CONN_MAX=1024] test_sr_httpd_wire --filter 'sr_httpd_wire/+'
 * (the gateway with SR_API_TOKENS=tok-acme:acme). Suite sr_httpd_server
 * needs the server in process (stop, pool, idle and body deadlines).
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rawhttp.h"
#include "sr_httpd.h"

#define TOKEN "Bearer tok-acme"
#define BODY_MAX ((size_t)1 << 20)
#define HEADER_MS 1000
#define BODY_MS 1500
#define IDLE_MS 2000
#define CONN_MAX 200

static sr_httpd_t *srv;
static int port, header_ms, conn_max;
static atomic_int slow_started;

/* ------------------------------------------------------------ the app */

static void fake_envelope(sr_h1_response_t *resp, int status,
                          const char *msg)
{
        char text[256];
        int n = snprintf(text, sizeof(text),
                         "{\"code\":%d,\"message\":\"%s\",\"content\":{}}",
                         status, msg);

        resp->status = status;
        resp->content_type = "application/json";
        resp->body.ptr = strdup(text);
        resp->body.len = (size_t)n;
}

static bool path_is(const sr_h1_request_t *r, const char *path)
{
        size_t n = strcspn(r->target, "?");

        return n == strlen(path) && !memcmp(r->target, path, n);
}

static bool fake_head(void *arg, const sr_h1_request_t *r,
                      sr_h1_response_t *resp, bool *blocking)
{
        const char *auth = sr_h1_head_get(r->head, "Authorization");
        const char *ctype = sr_h1_head_get(r->head, "Content-Type");
        bool post = !strcmp(r->method, "POST");

        (void)arg;
        if (path_is(r, "/slow")) {
                *blocking = true;
                return false;
        }
        if (path_is(r, "/nap"))
                return false; /* inline: holds its event loop */
        if (path_is(r, "/livez")) {
                if (!strcmp(r->method, "GET"))
                        return false;
                fake_envelope(resp, 405, "method not allowed");
                snprintf(resp->allow, sizeof(resp->allow), "GET");
                return true;
        }
        if (!path_is(r, "/v0/runs/")) {
                fake_envelope(resp, 404, "unknown path or id");
                return true;
        }
        if (strcmp(r->method, "GET") && !post) {
                fake_envelope(resp, 405, "method not allowed");
                snprintf(resp->allow, sizeof(resp->allow), "GET, POST");
                return true;
        }
        if (!auth || strcmp(auth, TOKEN)) {
                fake_envelope(resp, 401, "missing or unknown token");
                return true;
        }
        if (!post)
                return false;
        if (!ctype || strcmp(ctype, "application/json")) {
                fake_envelope(resp, 415, "Content-Type must be "
                              "application/json");
                return true;
        }
        if (r->body_too_large) {
                fake_envelope(resp, 413, "request body over 1048576 bytes");
                return true;
        }
        *blocking = true;
        return false;
}

static void fake_request(void *arg, const sr_h1_request_t *r,
                         sr_h1_response_t *resp)
{
        (void)arg;
        if (path_is(r, "/slow")) {
                atomic_fetch_add(&slow_started, 1);
                usleep(400 * 1000);
                fake_envelope(resp, 200, "slow");
        } else if (path_is(r, "/nap")) {
                usleep(200 * 1000);
                fake_envelope(resp, 200, "nap");
        } else if (path_is(r, "/livez")) {
                resp->status = 200;
                resp->content_type = "text/plain";
                resp->body.ptr = strdup("ok\n");
                resp->body.len = 3;
        } else if (!strcmp(r->method, "GET")) {
                fake_envelope(resp, 200, "ok");
        } else {
                fake_envelope(resp, 400, "fake: the body is not parsed");
        }
}

static const sr_h1_app_t fake_app = {
        .on_head = fake_head, .on_request = fake_request,
};

static int env_int(const char *name, int def)
{
        const char *v = getenv(name);

        return v && *v ? atoi(v) : def;
}

static void start(int pool_threads)
{
        sr_httpd_opts_t o = {
                .bind = "127.0.0.1",
                .loops = 2,
                .pool_threads = pool_threads,
                .connections_max = CONN_MAX,
                .header_timeout_ms = HEADER_MS,
                .body_timeout_ms = BODY_MS,
                .idle_timeout_ms = IDLE_MS,
                .body_max = BODY_MAX,
                .stop_message = "the test server is stopping; retry",
        };
        sr_errctx_t ec = { 0 };

        atomic_store(&slow_started, 0);
        cr_assert(eq(int, sr_httpd_open_app(&o, &fake_app, &srv, &ec),
                     SR_OK), "%s", ec.msg);
        port = sr_httpd_port(srv);
        header_ms = HEADER_MS;
        conn_max = CONN_MAX;
}

static void wire_setup(void)
{
        if (env_int("SR_TEST_HTTPD_PORT", 0)) { /* another server */
                port = env_int("SR_TEST_HTTPD_PORT", 0);
                header_ms = env_int("SR_TEST_HTTPD_HEADER_MS", 10000);
                conn_max = env_int("SR_TEST_HTTPD_CONN_MAX", 1024);
                return;
        }
        start(4);
}

static void wire_teardown(void)
{
        sr_httpd_close(srv);
        srv = NULL;
}

TestSuite(sr_httpd_wire, .init = wire_setup, .fini = wire_teardown,
          .timeout = 90.0);

/* ------------------------------------------------------------ checks */

/* The first answer of @p r is @p status with the JSON envelope, then the
 * server closed. */
static void assert_refused(const raw_reply_t *r, int status)
{
        bool is_obj;
        json_t *j;

        cr_assert(eq(int, r->status, status), "after %.0f ms:\n%.600s",
                  r->ms, r->text);
        cr_assert(strcasestr(r->text, "\r\nContent-Type: application/json") !=
                  NULL, "%.600s", r->text);
        cr_assert(r->body != NULL);
        j = json_loads(r->body, JSON_DISABLE_EOF_CHECK, NULL);
        cr_assert(j != NULL, "not JSON: %.300s", r->body);
        cr_assert(eq(int, (int)json_integer_value(json_object_get(j, "code")),
                     status));
        cr_assert(json_string_length(json_object_get(j, "message")) > 0);
        is_obj = json_is_object(json_object_get(j, "content"));
        cr_assert(is_obj, "content is not an object");
        json_decref(j);
        cr_assert(eq(int, raw_count(r->text, "HTTP/1.1 "), 1), "%.600s",
                  r->text);
        cr_assert(r->closed, "the connection stays open:\n%.600s", r->text);
        cr_assert(strcasestr(r->text, "\r\nConnection: close\r\n") != NULL);
}

static void exchange_str(const char *req, raw_reply_t *r)
{
        raw_exchange(port, req, strlen(req), 3000, r);
}

static void refused_str(const char *req, int status)
{
        raw_reply_t r;

        exchange_str(req, &r);
        assert_refused(&r, status);
        free(r.text);
}

#define RUNS_HEAD "POST /v0/runs/ HTTP/1.1\r\nHost: x\r\n" \
                  "Authorization: " TOKEN "\r\n"          \
                  "Content-Type: application/json\r\n"

/* ------------------------------------------------------------ item 3 */

Test(sr_httpd_wire, two_thousand_query_parameters_get_an_answer_at_once)
{
        size_t cap = 64 * 1024, n;
        char *req = malloc(cap);
        raw_reply_t r;

        /* 3,000 short parameters (6 KB): within the request line limit */
        n = (size_t)sprintf(req, "GET /v0/runs/?");
        for (int i = 0; i < 3000; i++)
                n += (size_t)sprintf(req + n, "%c&", 'a' + i % 26);
        n += (size_t)sprintf(req + n - 1, " HTTP/1.1\r\nHost: x\r\n"
                             "Authorization: " TOKEN "\r\n"
                             "Connection: close\r\n\r\n") - 1;
        raw_exchange(port, req, n, 1000, &r);
        cr_assert(eq(int, r.status, 200), "after %.0f ms: %.300s", r.ms,
                  r.text);
        free(r.text);
        /* 3,000 longer ones (20 KB): 414 with the envelope */
        n = (size_t)sprintf(req, "GET /v0/runs/?");
        for (int i = 0; i < 3000; i++)
                n += (size_t)sprintf(req + n, "p%d=%d&", i, i);
        n += (size_t)sprintf(req + n - 1, " HTTP/1.1\r\nHost: x\r\n"
                             "Authorization: " TOKEN "\r\n\r\n") - 1;
        raw_exchange(port, req, n, 1000, &r);
        assert_refused(&r, 414);
        cr_assert(lt(dbl, r.ms, 1000.0));
        free(r.text);
        free(req);
}

/* ------------------------------------------------------------ item 4 */

Test(sr_httpd_wire, a_slow_drip_is_closed_at_the_header_deadline)
{
        int fd = raw_connect(port);
        double t0 = raw_now_ms();
        raw_reply_t r = { 0 };

        raw_send_str(fd, "GET /livez HTTP/1.1\r\nHost: x\r\nX-Drip: ");
        /* one byte every 200 ms: the idle timer never fires */
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };

                if (poll(&p, 1, 200) > 0)
                        break;
                cr_assert(lt(dbl, raw_now_ms() - t0, header_ms + 3000.0),
                          "still open after %.0f ms", raw_now_ms() - t0);
                raw_send_str(fd, "a");
        }
        raw_read_all(fd, 3000, &r);
        close(fd);
        cr_assert(ge(dbl, raw_now_ms() - t0, header_ms - 100.0));
        cr_assert(le(dbl, raw_now_ms() - t0, header_ms + 1000.0),
                  "closed after %.0f ms", raw_now_ms() - t0);
        assert_refused(&r, 408);
        free(r.text);
}

typedef struct drip {
        int *fds;
        int n;
        atomic_bool stop;
} drip_t;

static void *drip_main(void *arg)
{
        drip_t *d = arg;

        while (!atomic_load(&d->stop)) {
                for (int i = 0; i < d->n; i++)
                        if (d->fds[i] >= 0 &&
                            send(d->fds[i], "a", 1, MSG_NOSIGNAL) != 1) {
                                close(d->fds[i]);
                                d->fds[i] = -1;
                        }
                usleep(250 * 1000);
        }
        return NULL;
}

Test(sr_httpd_wire, slow_clients_cannot_starve_the_connection_limit)
{
        drip_t d = { .n = conn_max };
        pthread_t th;
        raw_reply_t r;
        double t0;
        int fd;

        d.fds = calloc((size_t)d.n, sizeof(int));
        for (int i = 0; i < d.n; i++) {
                d.fds[i] = raw_connect(port);
                cr_assert(raw_send_str(d.fds[i], "GET /livez HTTP/1.1\r\n"
                                                 "Host: x\r\nX-Drip: "));
        }
        atomic_init(&d.stop, false);
        pthread_create(&th, NULL, drip_main, &d);
        usleep(100 * 1000); /* every slot is taken by now */
        fd = raw_connect(port); /* in the kernel's backlog */
        t0 = raw_now_ms();
        raw_send_str(fd, "GET /livez HTTP/1.1\r\nHost: x\r\n"
                         "Connection: close\r\n\r\n");
        cr_assert(raw_read_one(fd, header_ms + 1000, &r),
                  "no answer within %d ms", header_ms + 1000);
        cr_assert(eq(int, r.status, 200), "%s", r.text);
        cr_assert(le(dbl, raw_now_ms() - t0, header_ms + 1000.0));
        free(r.text);
        close(fd);
        atomic_store(&d.stop, true);
        pthread_join(th, NULL);
        for (int i = 0; i < d.n; i++)
                if (d.fds[i] >= 0)
                        close(d.fds[i]);
        free(d.fds);
}

/* ------------------------------------------------------------ item 5 */

Test(sr_httpd_wire, fifty_mb_content_length_is_413_before_the_body)
{
        raw_reply_t r;

        /* only the head is sent: the answer and the close come anyway */
        exchange_str(RUNS_HEAD "Content-Length: 50000000\r\n\r\n", &r);
        assert_refused(&r, 413);
        cr_assert(lt(dbl, r.ms, 1000.0));
        free(r.text);
}

Test(sr_httpd_wire, expect_continue_with_fifty_mb_is_413_without_100)
{
        raw_reply_t r;

        exchange_str(RUNS_HEAD "Expect: 100-continue\r\n"
                     "Content-Length: 50000000\r\n\r\n", &r);
        cr_assert(eq(int, raw_count(r.text, "100 Continue"), 0), "%s",
                  r.text);
        assert_refused(&r, 413);
        free(r.text);
}

Test(sr_httpd_wire, expect_continue_within_the_limit_gets_100)
{
        int fd = raw_connect(port);
        raw_reply_t r;

        raw_send_str(fd, RUNS_HEAD "Expect: 100-continue\r\n"
                         "Content-Length: 2\r\n\r\n");
        cr_assert(raw_read_one(fd, 2000, &r));
        cr_assert(eq(int, r.status, 100), "%s", r.text);
        free(r.text);
        raw_send_str(fd, "{}");
        cr_assert(raw_read_one(fd, 2000, &r));
        cr_assert(eq(int, r.status, 400), "%s", r.text);
        free(r.text);
        close(fd);
}

Test(sr_httpd_wire, three_mib_body_without_a_token_is_401_from_the_head)
{
        raw_reply_t r;

        exchange_str("POST /v0/runs/ HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: application/json\r\n"
                     "Content-Length: 3145728\r\n\r\n", &r);
        assert_refused(&r, 401);
        cr_assert(lt(dbl, r.ms, 1000.0));
        free(r.text);
}

Test(sr_httpd_wire, chunked_forty_mib_is_413_before_the_end)
{
        static char chunk[65536 + 16];
        size_t sent = 0, total = (size_t)40 << 20;
        int fd = raw_connect(port), n;
        raw_reply_t r = { 0 };

        n = sprintf(chunk, "%x\r\n", 65536);
        memset(chunk + n, 'x', 65536);
        memcpy(chunk + n + 65536, "\r\n", 2);
        cr_assert(raw_send_str(fd, RUNS_HEAD "Transfer-Encoding: chunked\r\n"
                                   "\r\n"));
        while (sent < total) {
                struct pollfd p = { .fd = fd, .events = POLLIN };

                if (poll(&p, 1, 0) > 0)
                        break; /* an answer came */
                if (!raw_send(fd, chunk, (size_t)n + 65538))
                        break;
                sent += 65536;
        }
        raw_read_all(fd, 3000, &r);
        close(fd);
        assert_refused(&r, 413);
        cr_assert(lt(sz, sent, total), "the whole body was taken");
        free(r.text);
}

/* ------------------------------------------------------------ item 6 */

Test(sr_httpd_wire, transfer_encoding_gzip_is_refused_at_once)
{
        raw_reply_t r;

        exchange_str(RUNS_HEAD "Transfer-Encoding: gzip\r\n\r\n", &r);
        assert_refused(&r, 400);
        cr_assert(lt(dbl, r.ms, 1000.0));
        free(r.text);
        refused_str(RUNS_HEAD "Transfer-Encoding: gzip, chunked\r\n\r\n",
                    501);
}

Test(sr_httpd_wire, xchunked_with_content_length_is_400)
{
        refused_str(RUNS_HEAD "Transfer-Encoding: xchunked\r\n"
                    "Content-Length: 5\r\n\r\nhello", 400);
}

/* ------------------------------------------------------------ item 7 */

Test(sr_httpd_wire, two_content_lengths_are_400_and_the_rest_is_never_parsed)
{
        raw_reply_t r;

        exchange_str(RUNS_HEAD "Content-Length: 2\r\n"
                     "Content-Length: 42\r\n\r\n"
                     "{}GET /livez HTTP/1.1\r\nHost: x\r\n\r\n", &r);
        assert_refused(&r, 400);
        cr_assert(strstr(r.text, "Content-Length") != NULL);
        cr_assert(eq(int, raw_count(r.text, "ok\n"), 0));
        free(r.text);
}

Test(sr_httpd_wire, repeated_authorization_host_or_content_type_is_400)
{
        refused_str("GET /v0/runs/ HTTP/1.1\r\nHost: x\r\n"
                    "Authorization: Bearer nobody\r\n"
                    "Authorization: " TOKEN "\r\n\r\n", 400);
        refused_str("GET /v0/runs/ HTTP/1.1\r\nHost: x\r\nHost: y\r\n"
                    "Authorization: " TOKEN "\r\n\r\n", 400);
        refused_str(RUNS_HEAD "Content-Type: text/plain\r\n"
                    "Content-Length: 2\r\n\r\n{}", 400);
}

Test(sr_httpd_wire, nul_in_a_header_value_is_400)
{
        static const char req[] = "GET /v0/runs/ HTTP/1.1\r\nHost: x\r\n"
                                  "Authorization: Bearer tok-acme\0junk\r\n"
                                  "\r\n";
        raw_reply_t r;

        raw_exchange(port, req, sizeof(req) - 1, 3000, &r);
        assert_refused(&r, 400);
        free(r.text);
}

/* ------------------------------------------------------------ item 8 */

Test(sr_httpd_wire, malformed_content_length_gets_one_status_line)
{
        static const char *const values[] = { "-5", "abc" };

        for (int i = 0; i < 2; i++) {
                char req[512];
                raw_reply_t r;

                snprintf(req, sizeof(req), RUNS_HEAD "Content-Length: %s\r\n"
                         "\r\n{}", values[i]);
                exchange_str(req, &r);
                assert_refused(&r, 400);
                free(r.text);
        }
}

/* ------------------------------------------------------------ item 9 */

Test(sr_httpd_wire, every_refusal_of_the_server_carries_the_envelope)
{
        char *big = malloc(20000);

        refused_str("GET  /livez HTTP/1.1\r\nHost: x\r\n\r\n", 400);
        refused_str("GET /livez HTTP/2.0\r\nHost: x\r\n\r\n", 505);
        refused_str(RUNS_HEAD "Expect: 200-ok\r\nContent-Length: 2\r\n\r\n"
                    "{}", 417);
        /* header section over 16 KiB */
        strcpy(big, "GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: ");
        memset(big + strlen(big), 'b', 17000);
        strcpy(big + 17000, "\r\n\r\n");
        refused_str(big, 431);
        /* request line over 8 KiB */
        strcpy(big, "GET /livez?");
        memset(big + strlen(big), 'q', 9000);
        strcpy(big + 9000, " HTTP/1.1\r\nHost: x\r\n\r\n");
        refused_str(big, 414);
        free(big);
}

/* ------------------------------------------------------------ item 10 */

Test(sr_httpd_wire, head_is_served_with_the_headers_of_get_and_no_body)
{
        raw_reply_t r;
        unsigned long len = 0;
        const char *cl;

        exchange_str("HEAD /livez HTTP/1.1\r\nHost: x\r\n"
                     "Connection: close\r\n\r\n", &r);
        cr_assert(eq(int, r.status, 200), "%s", r.text);
        cl = strcasestr(r.text, "\r\nContent-Length: ");
        cr_assert(cl && sscanf(cl + 18, "%lu", &len) == 1 && len == 3, "%s",
                  r.text);
        cr_assert(eq(str, (char *)r.body, ""), "a body was sent");
        free(r.text);
        exchange_str("HEAD /v0/runs/?limit=1 HTTP/1.1\r\nHost: x\r\n"
                     "Authorization: " TOKEN "\r\n"
                     "Connection: close\r\n\r\n", &r);
        cr_assert(eq(int, r.status, 200), "%s", r.text);
        cl = strcasestr(r.text, "\r\nContent-Length: ");
        cr_assert(cl && sscanf(cl + 18, "%lu", &len) == 1 && len > 10, "%s",
                  r.text);
        cr_assert(eq(str, (char *)r.body, ""), "a body was sent");
        free(r.text);
}

Test(sr_httpd_wire, allow_lists_head_next_to_get)
{
        raw_reply_t r;

        exchange_str("DELETE /livez HTTP/1.1\r\nHost: x\r\n"
                     "Connection: close\r\n\r\n", &r);
        cr_assert(eq(int, r.status, 405), "%s", r.text);
        cr_assert(strstr(r.text, "\r\nAllow: GET, HEAD\r\n") != NULL, "%s",
                  r.text);
        free(r.text);
}

Test(sr_httpd_wire, http_1_1_without_host_is_400)
{
        refused_str("GET /livez HTTP/1.1\r\n\r\n", 400);
}

Test(sr_httpd_wire, pipelined_requests_are_answered_in_order)
{
        raw_reply_t r;

        exchange_str("GET /livez HTTP/1.1\r\nHost: x\r\n\r\n"
                     "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                     "GET /livez HTTP/1.1\r\nHost: x\r\n"
                     "Connection: close\r\n\r\n", &r);
        cr_assert(eq(int, raw_count(r.text, "HTTP/1.1 "), 3), "%s", r.text);
        cr_assert(strstr(r.text, "HTTP/1.1 200 ") == r.text);
        cr_assert(strstr(r.text, "HTTP/1.1 404 ") <
                  strstr(strstr(r.text, "HTTP/1.1 404 "), "HTTP/1.1 200 "));
        free(r.text);
}

/* ------------------------------------------------------------ server */

static void server_teardown(void)
{
        sr_httpd_close(srv);
        srv = NULL;
}

static void server_setup(void)
{
        start(1);
}

TestSuite(sr_httpd_server, .init = server_setup, .fini = server_teardown,
          .timeout = 90.0); /* as the other suite: see test_size_budget.c */

Test(sr_httpd_server, a_body_slower_than_its_deadline_is_408)
{
        int fd = raw_connect(port);
        double t0 = raw_now_ms();
        raw_reply_t r;

        raw_send_str(fd, RUNS_HEAD "Content-Length: 100\r\n\r\n{\"a\":");
        raw_read_all(fd, BODY_MS + 2000, &r);
        close(fd);
        assert_refused(&r, 408);
        cr_assert(strstr(r.body, "request body not complete within 1500 ms") !=
                  NULL, "%s", r.body);
        cr_assert(ge(dbl, raw_now_ms() - t0, BODY_MS - 100.0));
        free(r.text);
}

Test(sr_httpd_server, a_silent_connection_closes_at_the_header_deadline)
{
        int fd = raw_connect(port);
        raw_reply_t r;

        raw_read_all(fd, HEADER_MS + 2000, &r);
        close(fd);
        cr_assert(r.closed);
        cr_assert(eq(sz, r.len, 0), "nothing is sent: %s", r.text);
        cr_assert(ge(dbl, r.ms, HEADER_MS - 100.0));
        cr_assert(le(dbl, r.ms, HEADER_MS + 500.0));
        free(r.text);
}

Test(sr_httpd_server, the_first_head_is_due_from_the_accept)
{
        int fd = raw_connect(port);
        double t0 = raw_now_ms();
        raw_reply_t r;

        usleep(HEADER_MS * 600); /* waiting before the first byte */
        raw_send_str(fd, "GET /livez HTTP/1.1\r\nHost: x\r\n");
        raw_read_all(fd, HEADER_MS + 2000, &r);
        close(fd);
        assert_refused(&r, 408);
        cr_assert(le(dbl, raw_now_ms() - t0, HEADER_MS + 300.0),
                  "closed %.0f ms after the accept", raw_now_ms() - t0);
        free(r.text);
}

Test(sr_httpd_server, a_pipelined_partial_head_has_the_header_deadline)
{
        int fd = raw_connect(port);
        double t0;
        raw_reply_t r;

        usleep(100 * 1000);
        t0 = raw_now_ms();
        /* an answered request, then the start of one that never ends */
        raw_send_str(fd, "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n"
                         "GET /livez HTTP/1.1\r\nHost: x\r\n");
        raw_read_all(fd, IDLE_MS + 2000, &r);
        close(fd);
        cr_assert(eq(int, raw_count(r.text, "HTTP/1.1 200 "), 1), "%s",
                  r.text);
        cr_assert(strstr(r.text, "HTTP/1.1 408 ") != NULL, "%s", r.text);
        cr_assert(lt(dbl, raw_now_ms() - t0, HEADER_MS + 400.0),
                  "closed after %.0f ms: the idle timeout, not the header "
                  "deadline", raw_now_ms() - t0);
        free(r.text);
}

Test(sr_httpd_server, an_idle_keep_alive_connection_closes_silently)
{
        int fd = raw_connect(port);
        raw_reply_t r;

        raw_send_str(fd, "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n");
        cr_assert(raw_read_one(fd, 2000, &r));
        cr_assert(eq(int, r.status, 200));
        free(r.text);
        raw_read_all(fd, IDLE_MS + 2000, &r);
        close(fd);
        cr_assert(r.closed);
        cr_assert(eq(sz, r.len, 0));
        cr_assert(ge(dbl, r.ms, IDLE_MS - 100.0));
        free(r.text);
}

Test(sr_httpd_server, stop_answers_queued_writes_503_and_finishes_running_ones)
{
        int a = raw_connect(port), b;
        raw_reply_t ra, rb;

        raw_send_str(a, "POST /slow HTTP/1.1\r\nHost: x\r\n"
                        "Content-Length: 0\r\n\r\n");
        while (!atomic_load(&slow_started))
                usleep(1000);
        b = raw_connect(port); /* the only pool thread is busy: queued */
        raw_send_str(b, "POST /slow HTTP/1.1\r\nHost: x\r\n"
                        "Content-Length: 0\r\n\r\n");
        usleep(100 * 1000);
        sr_httpd_close(srv);
        srv = NULL;
        raw_read_all(a, 2000, &ra);
        raw_read_all(b, 2000, &rb);
        close(a);
        close(b);
        cr_assert(eq(int, ra.status, 200), "%s", ra.text);
        cr_assert(strstr(ra.text, "\r\nConnection: close\r\n") != NULL);
        assert_refused(&rb, 503);
        cr_assert(strstr(rb.text, "\r\nRetry-After: 1\r\n") != NULL);
        cr_assert(strstr(rb.body, "the test server is stopping; retry") !=
                  NULL);
        cr_assert(eq(int, atomic_load(&slow_started), 1));
        free(ra.text);
        free(rb.text);
}

Test(sr_httpd_server, connections_are_shared_out_over_the_loops)
{
        int fds[8];
        double t0;

        /* one at a time, so that each is accepted before the next */
        for (int i = 0; i < 8; i++) {
                raw_reply_t r;

                fds[i] = raw_connect(port);
                raw_send_str(fds[i], "GET /livez HTTP/1.1\r\nHost: x\r\n"
                                     "\r\n");
                cr_assert(raw_read_one(fds[i], 2000, &r));
                free(r.text);
        }
        /* 8 requests that hold their loop 200 ms each: 2 loops with 4
         * connections each answer them all in 800 ms; 5 and 3, 1000 ms;
         * all on one loop, 1600 ms */
        t0 = raw_now_ms();
        for (int i = 0; i < 8; i++)
                raw_send_str(fds[i], "GET /nap HTTP/1.1\r\nHost: x\r\n\r\n");
        for (int i = 0; i < 8; i++) {
                raw_reply_t r;

                cr_assert(raw_read_one(fds[i], 3000, &r));
                cr_assert(eq(int, r.status, 200));
                free(r.text);
                close(fds[i]);
        }
        cr_assert(lt(dbl, raw_now_ms() - t0, 950.0),
                  "%.0f ms: the connections are not shared out evenly",
                  raw_now_ms() - t0);
}

Test(sr_httpd_server, a_closed_server_refuses_connections)
{
        int p = port;

        sr_httpd_close(srv);
        srv = NULL;
        cr_assert(eq(int, raw_try_connect(p), -1));
}
