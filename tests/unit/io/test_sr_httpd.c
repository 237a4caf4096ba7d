/* tests/unit/io/test_sr_httpd.c - the ops endpoints over a real loopback
 * socket, with a plain socket client (no HTTP library in the tree). */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sr_httpd.h"

static sr_metrics_t *metrics;
static sr_httpd_t *httpd;
static atomic_bool is_ready;
static sr_errctx_t ec;

static bool check_ready(void *arg, char *why, size_t why_size)
{
        atomic_bool *flag = arg; /* runs on the HTTP thread: no asserts */

        if (atomic_load(flag))
                return true;
        snprintf(why, why_size, "restoring partition 3");
        return false;
}

static void httpd_setup(void)
{
        sr_httpd_handlers_t h = {
                .ready = check_ready,
                .arg = &is_ready,
        };

        memset(&ec, 0, sizeof(ec));
        atomic_store(&is_ready, true);
        metrics = sr_metrics_new();
        cr_assert(not(eq(ptr, metrics, NULL)));
        h.metrics = metrics;
        cr_assert(eq(int, sr_httpd_open("127.0.0.1", 0, &h, &httpd, &ec),
                     SR_OK), "%s", ec.msg);
}

static void httpd_teardown(void)
{
        sr_httpd_close(httpd);
        sr_metrics_destroy(metrics);
}

TestSuite(sr_httpd, .init = httpd_setup, .fini = httpd_teardown,
          .timeout = 20.0);

struct response {
        int status;
        char head[2048]; /* status line and headers */
        char *body;      /* malloc'd, NUL-terminated */
};

/* Send @p request as is and read until the server closes. */
static void http_raw(int port, const char *request, struct response *r)
{
        struct sockaddr_in sa;
        size_t len = 0, cap = 4096;
        char *text = malloc(cap), *sep;
        ssize_t n;
        int fd;

        cr_assert(not(eq(ptr, text, NULL)));
        fd = socket(AF_INET, SOCK_STREAM, 0);
        cr_assert(ge(int, fd, 0));
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        cr_assert(eq(int, connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0));
        cr_assert(eq(long, write(fd, request, strlen(request)),
                     (long)strlen(request)));
        while ((n = read(fd, text + len, cap - len - 1)) > 0) {
                len += (size_t)n;
                if (cap - len < 1024) {
                        cap *= 2;
                        text = realloc(text, cap);
                        cr_assert(not(eq(ptr, text, NULL)));
                }
        }
        close(fd);
        text[len] = '\0';
        cr_assert(eq(int, sscanf(text, "HTTP/1.%*d %d", &r->status), 1),
                  "bad response: %s", text);
        sep = strstr(text, "\r\n\r\n");
        cr_assert(not(eq(ptr, sep, NULL)), "no header end: %s", text);
        *sep = '\0';
        snprintf(r->head, sizeof(r->head), "%s\r\n", text);
        r->body = strdup(sep + 4);
        free(text);
}

static void http_get(const char *path, struct response *r)
{
        char request[256];

        snprintf(request, sizeof(request),
                 "GET %s HTTP/1.1\r\nHost: localhost\r\n"
                 "Connection: close\r\n\r\n", path);
        http_raw(sr_httpd_port(httpd), request, r);
}

static void assert_header(const struct response *r, const char *line)
{
        cr_assert(not(eq(ptr, strcasestr(r->head, line), NULL)),
                  "no \"%s\" in:\n%s", line, r->head);
}

Test(sr_httpd, port_zero_binds_an_ephemeral_port)
{
        cr_assert(gt(int, sr_httpd_port(httpd), 0));
        cr_assert(le(int, sr_httpd_port(httpd), 65535));
}

Test(sr_httpd, livez_answers_ok)
{
        struct response r;

        http_get("/livez", &r);
        cr_assert(eq(int, r.status, 200));
        cr_assert(eq(str, r.body, "ok\n"));
        assert_header(&r, "\r\nContent-Type: text/plain; charset=utf-8\r\n");
        free(r.body);
}

Test(sr_httpd, readyz_answers_ready_when_callback_agrees)
{
        struct response r;

        http_get("/readyz", &r);
        cr_assert(eq(int, r.status, 200));
        cr_assert(eq(str, r.body, "ready\n"));
        free(r.body);
}

Test(sr_httpd, readyz_answers_503_with_callback_reason)
{
        struct response r;

        atomic_store(&is_ready, false);
        http_get("/readyz", &r);
        cr_assert(eq(int, r.status, 503));
        cr_assert(eq(str, r.body, "restoring partition 3\n"));
        free(r.body);
}

Test(sr_httpd, query_string_is_ignored)
{
        struct response r;

        http_get("/livez?verbose=1", &r);
        cr_assert(eq(int, r.status, 200));
        free(r.body);
}

Test(sr_httpd, metrics_render_registry_as_prometheus_text)
{
        struct response r;

        sr_series_add(sr_metrics_counter(metrics, "sr_inputs_total", "In.",
                                         "topic=\"t\""), 7);
        http_get("/metrics", &r);
        cr_assert(eq(int, r.status, 200));
        assert_header(&r, "\r\nContent-Type: text/plain; version=0.0.4");
        cr_assert(not(eq(ptr, strstr(r.body, "# TYPE sr_inputs_total counter\n"
                                             "sr_inputs_total{topic=\"t\"} "
                                             "7\n"), NULL)), "%s", r.body);
        cr_assert(not(eq(ptr, strstr(r.body, "process_resident_memory_bytes "),
                         NULL)));
        free(r.body);
}

Test(sr_httpd, unknown_path_is_404_with_the_envelope)
{
        struct response r;

        http_get("/livez/", &r);
        cr_assert(eq(int, r.status, 404));
        assert_header(&r, "\r\nContent-Type: application/json\r\n");
        cr_assert(eq(str, r.body, "{\"code\":404,\"message\":\"unknown path: "
                                  "/livez, /readyz and /metrics are "
                                  "served\",\"content\":{}}"));
        free(r.body);
        http_get("/", &r);
        cr_assert(eq(int, r.status, 404));
        free(r.body);
}

Test(sr_httpd, other_methods_are_405_allowing_get_and_head)
{
        struct response r;

        http_raw(sr_httpd_port(httpd),
                 "POST /livez HTTP/1.1\r\nHost: localhost\r\n"
                 "Content-Length: 5\r\nConnection: close\r\n\r\nhello", &r);
        cr_assert(eq(int, r.status, 405));
        assert_header(&r, "\r\nAllow: GET, HEAD\r\n");
        assert_header(&r, "\r\nContent-Type: application/json\r\n");
        cr_assert(eq(str, r.body, "{\"code\":405,\"message\":\"method not "
                                  "allowed: use GET\",\"content\":{}}"));
        free(r.body);
        http_raw(sr_httpd_port(httpd),
                 "DELETE /metrics HTTP/1.0\r\n\r\n", &r);
        cr_assert(eq(int, r.status, 405));
        free(r.body);
}

Test(sr_httpd, metrics_without_registry_is_404)
{
        sr_httpd_handlers_t h = { 0 };
        sr_httpd_t *bare;
        struct response r;

        cr_assert(eq(int, sr_httpd_open("127.0.0.1", 0, &h, &bare, &ec),
                     SR_OK), "%s", ec.msg);
        http_raw(sr_httpd_port(bare), "GET /metrics HTTP/1.0\r\n\r\n", &r);
        cr_assert(eq(int, r.status, 404));
        free(r.body);
        http_raw(sr_httpd_port(bare), "GET /readyz HTTP/1.0\r\n\r\n", &r);
        cr_assert(eq(int, r.status, 200), "no callback: always ready");
        free(r.body);
        sr_httpd_close(bare);
}

Test(sr_httpd, port_in_use_is_an_io_error)
{
        sr_httpd_t *second = NULL;

        cr_assert(eq(int, sr_httpd_open("127.0.0.1", sr_httpd_port(httpd),
                                        NULL, &second, &ec), SR_ERR_IO));
        cr_assert(eq(ptr, second, NULL));
        cr_assert(not(eq(ptr, strstr(ec.msg, "cannot listen: Address already "
                                             "in use"), NULL)), "%s", ec.msg);
}

Test(sr_httpd, bad_address_or_port_is_invalid)
{
        sr_httpd_t *other = NULL;

        cr_assert(eq(int, sr_httpd_open("not an address", 0, NULL, &other,
                                        &ec), SR_ERR_INVALID));
        cr_assert(eq(int, sr_httpd_open("127.0.0.1", 70000, NULL, &other,
                                        &ec), SR_ERR_INVALID));
        cr_assert(eq(str, ec.msg, "httpd: port 70000 out of range 0..65535"));
        cr_assert(eq(ptr, other, NULL));
        sr_httpd_close(NULL);
}

Test(sr_httpd, head_on_livez_sends_the_headers_without_the_body)
{
        struct response r;

        http_raw(sr_httpd_port(httpd), "HEAD /livez HTTP/1.1\r\n"
                 "Host: localhost\r\nConnection: close\r\n\r\n", &r);
        cr_assert(eq(int, r.status, 200));
        assert_header(&r, "\r\nContent-Length: 3\r\n");
        assert_header(&r, "\r\nContent-Type: text/plain; charset=utf-8\r\n");
        cr_assert(eq(str, r.body, ""));
        free(r.body);
}

Test(sr_httpd, every_answer_is_not_to_be_cached)
{
        struct response r;

        http_get("/metrics", &r);
        assert_header(&r, "\r\nCache-Control: no-store\r\n");
        free(r.body);
}

Test(sr_httpd, a_slow_head_is_408_at_the_configured_deadline)
{
        sr_httpd_handlers_t h = { .header_timeout_ms = 300 };
        sr_httpd_t *quick;
        struct response r;

        cr_assert(eq(int, sr_httpd_open("127.0.0.1", 0, &h, &quick, &ec),
                     SR_OK), "%s", ec.msg);
        /* never finished: the server answers and closes at 300 ms */
        http_raw(sr_httpd_port(quick), "GET /livez HTTP/1.1\r\nHost: x\r\n",
                 &r);
        cr_assert(eq(int, r.status, 408));
        cr_assert(eq(str, r.body, "{\"code\":408,\"message\":\"request "
                                  "header not complete within 300 ms\","
                                  "\"content\":{}}"));
        free(r.body);
        sr_httpd_close(quick);
}

Test(sr_httpd, http_1_1_without_host_is_400)
{
        struct response r;

        http_raw(sr_httpd_port(httpd), "GET /livez HTTP/1.1\r\n\r\n", &r);
        cr_assert(eq(int, r.status, 400));
        cr_assert(eq(str, r.body, "{\"code\":400,\"message\":\"missing Host "
                                  "header (required in HTTP/1.1)\","
                                  "\"content\":{}}"));
        free(r.body);
}
