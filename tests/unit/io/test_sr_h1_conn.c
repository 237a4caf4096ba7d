/* tests/unit/io/test_sr_h1_conn.c - the per-connection HTTP/1.1 engine
 * without sockets: bytes in, application calls, bytes out (HEAD, early
 * answers from the head, 413, 100-continue, pipelining, blocking requests,
 * deadlines and stops as the server drives them). */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_h1.h"

/* A streamed answer (GET /stream): messages queued by the test. */
typedef struct fake_stream {
        char queue[8][256];
        int n_queued, n_pulled, closes;
        bool end, last_stalled;
        size_t max_room;
} fake_stream_t;

static fake_stream_t fst;

static sr_h1_pull_t fst_pull(void *arg, char *out, size_t room, size_t *n)
{
        fake_stream_t *f = arg;

        *n = 0;
        if (room > f->max_room)
                f->max_room = room;
        while (f->n_pulled < f->n_queued) {
                size_t len = strlen(f->queue[f->n_pulled]);

                if (*n + len > room)
                        return SR_H1_PULL_WAIT;
                memcpy(out + *n, f->queue[f->n_pulled++], len);
                *n += len;
        }
        return f->end ? SR_H1_PULL_END : SR_H1_PULL_WAIT;
}

static void fst_close(void *arg, bool stalled)
{
        fake_stream_t *f = arg;

        f->closes++;
        f->last_stalled = stalled;
}

static void fst_push(const char *msg)
{
        snprintf(fst.queue[fst.n_queued++], sizeof(fst.queue[0]), "%s", msg);
}

typedef struct fake {
        int heads, requests;
        bool blocking;            /* PUT and POST are blocking */
        bool last_is_head, last_too_large;
        char last_method[16];
        char last_body[64];
        size_t last_body_len;
} fake_t;

static fake_t fake;
static sr_h1_conn_t *conn;

static void set_text(sr_h1_response_t *resp, int status, const char *text)
{
        resp->status = status;
        resp->content_type = "text/plain";
        resp->body.len = strlen(text);
        resp->body.ptr = malloc(resp->body.len + 1);
        memcpy(resp->body.ptr, text, resp->body.len);
}

/* Writes without "Authorization" are refused from the head (401). */
static bool fake_head(void *arg, const sr_h1_request_t *r,
                      sr_h1_response_t *resp, bool *blocking)
{
        fake_t *f = arg;
        bool write = !strcmp(r->method, "PUT") || !strcmp(r->method, "POST");

        f->heads++;
        f->last_too_large = r->body_too_large;
        if (write && !sr_h1_head_get(r->head, "Authorization")) {
                set_text(resp, 401, "no token\n");
                return true;
        }
        *blocking = write && f->blocking;
        return false;
}

static void fake_request(void *arg, const sr_h1_request_t *r,
                         sr_h1_response_t *resp)
{
        fake_t *f = arg;
        char text[128];

        f->requests++;
        f->last_is_head = r->is_head;
        snprintf(f->last_method, sizeof(f->last_method), "%s", r->method);
        f->last_body_len = r->body_len;
        snprintf(f->last_body, sizeof(f->last_body), "%.*s",
                 (int)(r->body_len < 63 ? r->body_len : 63),
                 (const char *)r->body);
        if (!strcmp(r->target, "/allow")) {
                set_text(resp, 405, "no\n");
                snprintf(resp->allow, sizeof(resp->allow), "GET, PUT");
                resp->retry_after = 0;
                return;
        }
        if (!strcmp(r->target, "/stream")) {
                resp->status = 200;
                resp->content_type = "text/event-stream";
                resp->stream = (sr_h1_stream_t){
                        .pull = fst_pull, .close = fst_close, .arg = &fst,
                        .stalled_last = "event: dropped\n\n" };
                return;
        }
        if (!strcmp(r->target, "/extra")) {
                set_text(resp, 200, "x\n");
                resp->headers = "X-One: 1\r\nX-Two: 2\r\n";
                return;
        }
        if (!strcmp(r->target, "/busy")) {
                set_text(resp, 503, "busy\n");
                resp->retry_after = 7;
                return;
        }
        snprintf(text, sizeof(text), "%s %s %zu\n", r->method, r->target,
                 r->body_len);
        set_text(resp, 200, text);
}

/* "/big" takes bodies of up to 200 bytes; the others the connection's
 * BODY_MAX. */
static size_t fake_body_max(void *arg, const sr_h1_request_t *r)
{
        (void)arg;
        return !strcmp(r->target, "/big") ? 200 : 0;
}

static const sr_h1_app_t app = {
        .on_head = fake_head, .body_max = fake_body_max,
        .on_request = fake_request, .arg = &fake,
};

#define BODY_MAX 64

static void setup(void)
{
        memset(&fake, 0, sizeof(fake));
        memset(&fst, 0, sizeof(fst));
        conn = malloc(sizeof(*conn));
        sr_h1_conn_init(conn, &app, BODY_MAX,
                        "Sun, 06 Nov 1994 08:49:37 GMT");
}

static void teardown(void)
{
        sr_h1_conn_fini(conn);
        free(conn);
}

TestSuite(sr_h1_conn, .init = setup, .fini = teardown);

typedef struct out {
        char text[16384];
        size_t len;
} out_t;

/* Send everything the engine has to send; blocking requests are handled
 * at once. */
static sr_h1_phase_t pump(out_t *o)
{
        sr_h1_phase_t ph;

        for (;;) {
                sr_slice_t s[2];
                int n;

                ph = sr_h1_conn_run(conn);
                if (ph == SR_H1_PHASE_APP) {
                        sr_h1_conn_handle(conn);
                        continue;
                }
                if (ph != SR_H1_PHASE_WRITE)
                        return ph;
                n = sr_h1_conn_output(conn, s);
                cr_assert(gt(int, n, 0));
                /* send a few bytes at a time: partial writes */
                for (int i = 0; i < n; i++) {
                        size_t k = s[i].len > 5 ? 5 : s[i].len;

                        cr_assert(lt(sz, o->len + k, sizeof(o->text)));
                        memcpy(o->text + o->len, s[i].ptr, k);
                        o->len += k;
                        o->text[o->len] = '\0';
                        sr_h1_conn_sent(conn, k);
                        break;
                }
        }
}

/* Feed @p in in pieces of @p piece bytes (0: whole), pumping after each;
 * stops at CLOSE. */
static sr_h1_phase_t feed(const char *in, size_t len, size_t piece,
                          out_t *o)
{
        sr_h1_phase_t ph = pump(o);
        size_t off = 0;

        while (off < len && ph != SR_H1_PHASE_CLOSE) {
                size_t space, n;
                char *at = sr_h1_conn_rbuf(conn, &space);

                cr_assert(gt(sz, space, 0), "phase %d", (int)ph);
                n = len - off;
                if (piece && n > piece)
                        n = piece;
                if (n > space)
                        n = space;
                memcpy(at, in + off, n);
                sr_h1_conn_received(conn, n);
                off += n;
                ph = pump(o);
        }
        return ph;
}

static sr_h1_phase_t feed_str(const char *in, out_t *o)
{
        memset(o, 0, sizeof(*o));
        return feed(in, strlen(in), 0, o);
}

static int count(const char *hay, const char *needle)
{
        int n = 0;

        for (const char *p = hay; (p = strstr(p, needle)); p++)
                n++;
        return n;
}

Test(sr_h1_conn, get_is_answered_with_length_cache_control_and_date)
{
        out_t o;

        cr_assert(eq(int, feed_str("GET /x HTTP/1.1\r\nHost: h\r\n\r\n", &o),
                     SR_H1_PHASE_IDLE));
        cr_assert(eq(str, o.text,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                     "Content-Length: 9\r\nCache-Control: no-store\r\n"
                     "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n"
                     "GET /x 0\n"));
}

Test(sr_h1_conn, head_is_answered_as_get_without_the_body)
{
        out_t o;

        cr_assert(eq(int, feed_str("HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n"
                                   "GET /y HTTP/1.1\r\nHost: h\r\n\r\n", &o),
                     SR_H1_PHASE_IDLE));
        cr_assert(eq(str, fake.last_method, "GET"));
        cr_assert(eq(str, o.text,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                     "Content-Length: 9\r\nCache-Control: no-store\r\n"
                     "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n"
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                     "Content-Length: 9\r\nCache-Control: no-store\r\n"
                     "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n"
                     "GET /y 0\n"));
}

Test(sr_h1_conn, allow_lists_head_next_to_get)
{
        out_t o;

        feed_str("PUT /allow HTTP/1.1\r\nHost: h\r\nAuthorization: x\r\n"
                 "Content-Length: 0\r\n\r\n", &o);
        cr_assert(strstr(o.text, "\r\nAllow: GET, HEAD, PUT\r\n") != NULL,
                  "%s", o.text);
}

Test(sr_h1_conn, retry_after_is_sent_when_set)
{
        out_t o;

        feed_str("GET /busy HTTP/1.1\r\nHost: h\r\n\r\n", &o);
        cr_assert(strstr(o.text, "HTTP/1.1 503 Service Unavailable\r\n") ==
                  o.text);
        cr_assert(strstr(o.text, "\r\nRetry-After: 7\r\n") != NULL);
}

Test(sr_h1_conn, extra_header_lines_are_sent_for_their_answer_only)
{
        out_t o;
        const char *second;

        feed_str("GET /extra HTTP/1.1\r\nHost: h\r\n\r\n"
                 "GET /plain HTTP/1.1\r\nHost: h\r\n\r\n", &o);
        second = strstr(o.text + 1, "HTTP/1.1 200");
        cr_assert(second != NULL, "%s", o.text);
        cr_assert(strstr(o.text, "\r\nX-One: 1\r\nX-Two: 2\r\n") != NULL &&
                  strstr(o.text, "\r\nX-One: 1\r\n") < second,
                  "%s", o.text);
        /* the next answer on the connection has none of them */
        cr_assert(strstr(second, "X-One") == NULL, "%s", o.text);
        cr_assert(strstr(second, "\r\n\r\nGET /plain 0\n") != NULL,
                  "%s", o.text);
}

Test(sr_h1_conn, early_answer_closes_without_reading_the_body)
{
        out_t o;

        cr_assert(eq(int, feed_str("PUT /x HTTP/1.1\r\nHost: h\r\n"
                                   "Content-Length: 1000000\r\n\r\nabc",
                                   &o),
                     SR_H1_PHASE_CLOSE));
        cr_assert(eq(int, fake.requests, 0));
        cr_assert(strstr(o.text, "HTTP/1.1 401 Unauthorized\r\n") == o.text);
        cr_assert(strstr(o.text, "\r\nConnection: close\r\n\r\nno token\n") !=
                  NULL, "%s", o.text);
        cr_assert(eq(int, count(o.text, "HTTP/1.1 "), 1));
}

Test(sr_h1_conn, early_answer_without_a_body_keeps_the_connection)
{
        out_t o;

        cr_assert(eq(int, feed_str("PUT /x HTTP/1.1\r\nHost: h\r\n\r\n"
                                   "GET /y HTTP/1.1\r\nHost: h\r\n\r\n", &o),
                     SR_H1_PHASE_IDLE));
        cr_assert(eq(int, count(o.text, "HTTP/1.1 401 "), 1));
        cr_assert(eq(int, count(o.text, "HTTP/1.1 200 "), 1));
        cr_assert(eq(int, count(o.text, "Connection: close"), 0));
}

Test(sr_h1_conn, content_length_over_the_limit_is_413_from_the_head)
{
        out_t o;

        cr_assert(eq(int, feed_str("PUT /x HTTP/1.1\r\nHost: h\r\n"
                                   "Authorization: t\r\n"
                                   "Content-Length: 65\r\n\r\n", &o),
                     SR_H1_PHASE_CLOSE));
        cr_assert(fake.last_too_large);
        cr_assert(eq(int, fake.requests, 0));
        cr_assert(strstr(o.text, "HTTP/1.1 413 Content Too Large\r\n"
                                 "Content-Type: application/json\r\n") ==
                  o.text, "%s", o.text);
        cr_assert(strstr(o.text, "Connection: close\r\n\r\n{\"code\":413,"
                                 "\"message\":\"request body over 64 bytes\","
                                 "\"content\":{}}") != NULL, "%s", o.text);
}

Test(sr_h1_conn, a_route_with_a_larger_limit_takes_a_body_over_the_connections)
{
        char req[512];
        out_t o = { 0 };
        int n;

        n = snprintf(req, sizeof(req), "PUT /big HTTP/1.1\r\nHost: h\r\n"
                     "Authorization: t\r\nContent-Length: 150\r\n\r\n"
                     "%0150d", 7);
        cr_assert(eq(int, feed(req, (size_t)n, 0, &o), SR_H1_PHASE_IDLE));
        cr_assert(not(fake.last_too_large));
        cr_assert(eq(sz, fake.last_body_len, 150));
        cr_assert(strstr(o.text, "HTTP/1.1 200 OK\r\n") == o.text, "%s",
                  o.text);
        cr_assert(strstr(o.text, "PUT /big 150\n") != NULL, "%s", o.text);
}

Test(sr_h1_conn, a_routes_own_limit_refuses_above_it_and_says_it)
{
        out_t o;

        cr_assert(eq(int, feed_str("PUT /big HTTP/1.1\r\nHost: h\r\n"
                                   "Authorization: t\r\n"
                                   "Content-Length: 201\r\n\r\n", &o),
                     SR_H1_PHASE_CLOSE));
        cr_assert(fake.last_too_large);
        cr_assert(eq(int, fake.requests, 0));
        cr_assert(strstr(o.text, "\"message\":\"request body over 200 "
                                 "bytes\"") != NULL, "%s", o.text);
}

Test(sr_h1_conn, a_chunked_body_grows_to_its_routes_limit_not_further)
{
        char req[1024];
        out_t o = { 0 };
        int n;

        /* 180 bytes in two chunks: over the connection's 64, within 200 */
        n = snprintf(req, sizeof(req), "PUT /big HTTP/1.1\r\nHost: h\r\n"
                     "Authorization: t\r\nTransfer-Encoding: chunked\r\n"
                     "\r\n5a\r\n%090d\r\n5a\r\n%090d\r\n0\r\n\r\n", 1,
                     2);
        cr_assert(eq(int, feed(req, (size_t)n, 0, &o), SR_H1_PHASE_IDLE));
        cr_assert(eq(sz, fake.last_body_len, 180));
        teardown();
        setup();
        memset(&o, 0, sizeof(o));
        /* 270: past 200 while it arrives */
        n = snprintf(req, sizeof(req), "PUT /big HTTP/1.1\r\nHost: h\r\n"
                     "Authorization: t\r\nTransfer-Encoding: chunked\r\n"
                     "\r\n5a\r\n%090d\r\n5a\r\n%090d\r\n5a\r\n%090d\r\n"
                     "0\r\n\r\n", 1, 2, 3);
        feed(req, (size_t)n, 0, &o);
        cr_assert(eq(int, fake.requests, 0));
        cr_assert(strstr(o.text, "HTTP/1.1 413 ") == o.text, "%s", o.text);
        cr_assert(strstr(o.text, "request body over 200 bytes") != NULL,
                  "%s", o.text);
}

Test(sr_h1_conn, expect_100_continue_gets_100_only_when_not_answered)
{
        out_t o;

        cr_assert(eq(int, feed_str("PUT /x HTTP/1.1\r\nHost: h\r\n"
                                   "Authorization: t\r\n"
                                   "Expect: 100-continue\r\n"
                                   "Content-Length: 3\r\n\r\n", &o),
                     SR_H1_PHASE_BODY));
        cr_assert(eq(str, o.text, "HTTP/1.1 100 Continue\r\n\r\n"));
        cr_assert(eq(int, feed("abc", 3, 0, &o), SR_H1_PHASE_IDLE));
        cr_assert(strstr(o.text, "HTTP/1.1 100 Continue\r\n\r\n"
                                 "HTTP/1.1 200 OK\r\n") == o.text);
        cr_assert(eq(str, fake.last_body, "abc"));
        teardown();
        setup();
        feed_str("PUT /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
                 "Content-Length: 3\r\n\r\n", &o);
        cr_assert(strstr(o.text, "HTTP/1.1 401 ") == o.text, "%s", o.text);
        cr_assert(eq(int, count(o.text, "100 Continue"), 0));
        teardown();
        setup();
        feed_str("PUT /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
                 "Authorization: t\r\nContent-Length: 50000000\r\n\r\n", &o);
        cr_assert(strstr(o.text, "HTTP/1.1 413 ") == o.text, "%s", o.text);
        cr_assert(eq(int, count(o.text, "100 Continue"), 0));
}

Test(sr_h1_conn, chunked_body_over_the_limit_is_413_as_soon_as_it_passes)
{
        char in[512];
        out_t o = { 0 };
        int n;

        n = snprintf(in, sizeof(in),
                     "POST /x HTTP/1.1\r\nHost: h\r\nAuthorization: t\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n"
                     "20\r\n%032d\r\n20\r\n%032d\r\n1\r\nz\r\n", 0, 0);
        cr_assert(eq(int, feed(in, (size_t)n - 6, 0, &o), SR_H1_PHASE_BODY));
        cr_assert(eq(sz, o.len, 0));
        cr_assert(eq(int, feed(in + n - 6, 6, 1, &o), SR_H1_PHASE_CLOSE));
        cr_assert(strstr(o.text, "HTTP/1.1 413 ") == o.text, "%s", o.text);
        cr_assert(eq(int, fake.requests, 0));
}

Test(sr_h1_conn, chunked_body_within_the_limit_reaches_the_app)
{
        out_t o;

        feed_str("POST /x HTTP/1.1\r\nHost: h\r\nAuthorization: t\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n"
                 "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", &o);
        cr_assert(eq(str, fake.last_body, "abcde"));
        cr_assert(strstr(o.text, "POST /x 5\n") != NULL, "%s", o.text);
}

Test(sr_h1_conn, refusals_get_one_status_line_the_envelope_and_close)
{
        static const char *const bad[] = { "-5", "abc" };
        out_t o;

        for (size_t i = 0; i < 2; i++) {
                char in[256];

                teardown();
                setup();
                snprintf(in, sizeof(in), "PUT /x HTTP/1.1\r\nHost: h\r\n"
                         "Content-Length: %s\r\n\r\nGET / HTTP/1.1\r\n\r\n",
                         bad[i]);
                cr_assert(eq(int, feed_str(in, &o), SR_H1_PHASE_CLOSE));
                cr_assert(eq(int, count(o.text, "HTTP/1.1 "), 1), "%s",
                          o.text);
                cr_assert(strstr(o.text, "HTTP/1.1 400 Bad Request\r\n"
                                         "Content-Type: application/json\r\n")
                          == o.text);
                cr_assert(strstr(o.text, "\r\n\r\n{\"code\":400,\"message\":"
                                         "\"Content-Length: not a decimal "
                                         "number of bytes (0 to 2^63-1)\","
                                         "\"content\":{}}") != NULL,
                          "%s", o.text);
                cr_assert(eq(int, fake.heads, 0));
        }
}

Test(sr_h1_conn, pipelined_requests_are_answered_in_order)
{
        out_t o;
        const char *a, *b, *c;

        fake.blocking = true;
        feed_str("GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
                 "POST /2 HTTP/1.1\r\nHost: h\r\nAuthorization: t\r\n"
                 "Content-Length: 2\r\n\r\nhi"
                 "GET /3 HTTP/1.1\r\nHost: h\r\n\r\n", &o);
        a = strstr(o.text, "GET /1 0\n");
        b = strstr(o.text, "POST /2 2\n");
        c = strstr(o.text, "GET /3 0\n");
        cr_assert(a && b && c && a < b && b < c, "%s", o.text);
}

Test(sr_h1_conn, the_same_bytes_split_anywhere_give_the_same_answers)
{
        static const char in[] =
                "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
                "HEAD /h HTTP/1.1\r\nHost: h\r\n\r\n"
                "POST /2 HTTP/1.1\r\nHost: h\r\nAuthorization: t\r\n"
                "Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
                "PUT /3 HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"
                "GET /4 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                "GET /5 HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n";
        static out_t whole, split;

        feed(in, sizeof(in) - 1, 0, &whole);
        for (size_t piece = 1; piece < 9; piece++) {
                teardown();
                setup();
                memset(&split, 0, sizeof(split));
                cr_assert(eq(int, feed(in, sizeof(in) - 1, piece, &split),
                             SR_H1_PHASE_CLOSE));
                cr_assert(eq(str, split.text, whole.text), "piece %zu",
                          piece);
        }
        cr_assert(eq(int, count(whole.text, "HTTP/1.1 "), 6));
}

Test(sr_h1_conn, blocking_requests_wait_for_handle)
{
        out_t o = { 0 };
        static const char in[] = "PUT /x HTTP/1.1\r\nHost: h\r\n"
                                 "Authorization: t\r\nContent-Length: 2\r\n"
                                 "\r\nok";
        size_t space;
        char *at;

        fake.blocking = true;
        at = sr_h1_conn_rbuf(conn, &space);
        memcpy(at, in, sizeof(in) - 1);
        sr_h1_conn_received(conn, sizeof(in) - 1);
        cr_assert(eq(int, sr_h1_conn_run(conn), SR_H1_PHASE_APP));
        cr_assert(eq(int, fake.requests, 0));
        sr_h1_conn_rbuf(conn, &space);
        cr_assert(eq(sz, space, 0), "nothing is read meanwhile");
        sr_h1_conn_handle(conn);
        cr_assert(eq(int, fake.requests, 1));
        cr_assert(eq(int, pump(&o), SR_H1_PHASE_IDLE));
        cr_assert(strstr(o.text, "PUT /x 2\n") != NULL);
}

Test(sr_h1_conn, http_1_0_keep_alive_is_confirmed_and_default_closes)
{
        out_t o;

        cr_assert(eq(int, feed_str("GET / HTTP/1.0\r\nConnection: keep-alive"
                                   "\r\n\r\n", &o),
                     SR_H1_PHASE_IDLE));
        cr_assert(strstr(o.text, "\r\nConnection: keep-alive\r\n") != NULL);
        cr_assert(eq(int, feed_str("GET / HTTP/1.0\r\n\r\n", &o),
                     SR_H1_PHASE_CLOSE));
        cr_assert(strstr(o.text, "\r\nConnection: close\r\n") != NULL);
}

Test(sr_h1_conn, fail_during_the_head_answers_408_and_closes)
{
        out_t o = { 0 };

        cr_assert(eq(int, feed("GET / HTTP/1.1\r\nHo", 19, 0, &o),
                     SR_H1_PHASE_HEAD));
        sr_h1_conn_fail(conn, 408, 0, "request header not received in 10 s");
        cr_assert(eq(int, pump(&o), SR_H1_PHASE_CLOSE));
        cr_assert(strstr(o.text, "HTTP/1.1 408 Request Timeout\r\n") ==
                  o.text);
        cr_assert(strstr(o.text, "Connection: close\r\n\r\n{\"code\":408,"
                                 "\"message\":\"request header not received "
                                 "in 10 s\",\"content\":{}}") != NULL);
}

Test(sr_h1_conn, fail_while_idle_closes_silently)
{
        out_t o = { 0 };

        cr_assert(eq(int, feed("GET / HTTP/1.1\r\nHost: h\r\n\r\n", 27, 0,
                               &o),
                     SR_H1_PHASE_IDLE));
        o.len = 0;
        sr_h1_conn_fail(conn, 408, 0, "late");
        cr_assert(eq(int, pump(&o), SR_H1_PHASE_CLOSE));
        cr_assert(eq(sz, o.len, 0));
}

Test(sr_h1_conn, fail_of_a_waiting_request_answers_it)
{
        out_t o = { 0 };
        static const char in[] = "PUT /x HTTP/1.1\r\nHost: h\r\n"
                                 "Authorization: t\r\nContent-Length: 0\r\n"
                                 "\r\n";

        fake.blocking = true;
        memcpy(sr_h1_conn_rbuf(conn, &(size_t){ 0 }), in, sizeof(in) - 1);
        sr_h1_conn_received(conn, sizeof(in) - 1);
        cr_assert(eq(int, sr_h1_conn_run(conn), SR_H1_PHASE_APP));
        sr_h1_conn_fail(conn, 503, 1, "stopping; retry");
        sr_h1_conn_handle(conn); /* too late: already answered */
        cr_assert(eq(int, fake.requests, 0));
        cr_assert(eq(int, pump(&o), SR_H1_PHASE_CLOSE));
        cr_assert(strstr(o.text, "HTTP/1.1 503 ") == o.text);
        cr_assert(strstr(o.text, "\r\nRetry-After: 1\r\nConnection: close\r\n"
                                 "\r\n{\"code\":503,") != NULL, "%s", o.text);
}

Test(sr_h1_conn, stop_finishes_the_answer_then_closes)
{
        out_t o = { 0 };
        static const char in[] = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
                                 "GET /b HTTP/1.1\r\nHost: h\r\n\r\n";

        memcpy(sr_h1_conn_rbuf(conn, &(size_t){ 0 }), in, sizeof(in) - 1);
        sr_h1_conn_received(conn, sizeof(in) - 1);
        cr_assert(eq(int, sr_h1_conn_run(conn), SR_H1_PHASE_WRITE));
        sr_h1_conn_stop(conn);
        cr_assert(eq(int, pump(&o), SR_H1_PHASE_CLOSE));
        cr_assert(eq(int, count(o.text, "HTTP/1.1 "), 1), "%s", o.text);
        cr_assert(eq(int, fake.requests, 1));
}

Test(sr_h1_conn, stop_drops_a_partial_request)
{
        out_t o = { 0 };

        feed("GET /a HTTP/1.1\r\n", 17, 0, &o);
        sr_h1_conn_stop(conn);
        cr_assert(eq(int, pump(&o), SR_H1_PHASE_CLOSE));
        cr_assert(eq(sz, o.len, 0));
}

Test(sr_h1_conn, eof_after_a_request_still_answers_it)
{
        out_t o = { 0 };
        static const char in[] = "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b";

        memcpy(sr_h1_conn_rbuf(conn, &(size_t){ 0 }), in, sizeof(in) - 1);
        sr_h1_conn_received(conn, sizeof(in) - 1);
        sr_h1_conn_eof(conn);
        cr_assert(eq(int, pump(&o), SR_H1_PHASE_CLOSE));
        cr_assert(strstr(o.text, "HTTP/1.1 200 OK\r\n") == o.text);
        cr_assert(strstr(o.text, "Connection: close\r\n") != NULL);
        cr_assert(eq(int, fake.requests, 1), "the partial one is dropped");
}

Test(sr_h1_conn, head_request_to_a_refused_body_sends_no_body)
{
        out_t o;

        feed_str("HEAD /x HTTP/1.1\r\nHost: h\r\nContent-Length: 65\r\n\r\n",
                 &o);
        cr_assert(strstr(o.text, "HTTP/1.1 413 ") == o.text);
        cr_assert(strstr(o.text, "Connection: close\r\n\r\n") + 21 ==
                  o.text + o.len, "%s", o.text);
}

/* ------------------------------------------------------------ streams */

#define STREAM_GET "GET /stream HTTP/1.1\r\nHost: h\r\n\r\n"

Test(sr_h1_conn, streamed_answer_has_no_length_then_sends_what_is_pulled)
{
        out_t o;

        fst_push("id: 1\ndata: {}\n\n");
        cr_assert(eq(int, feed_str(STREAM_GET, &o), SR_H1_PHASE_STREAM));
        cr_assert(eq(str, o.text,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     "Cache-Control: no-store\r\n"
                     "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                     "Connection: close\r\n\r\n"
                     "id: 1\ndata: {}\n\n"));
        /* woken with more: it follows */
        fst_push("id: 2\ndata: {}\n\n");
        cr_assert(eq(int, pump(&o), SR_H1_PHASE_STREAM));
        cr_assert(not(eq(ptr, strstr(o.text, "\n\nid: 2\ndata: {}\n\n"),
                         NULL)));
        cr_assert(eq(int, fst.closes, 0));
}

Test(sr_h1_conn, streamed_answer_closes_after_end_and_releases_once)
{
        out_t o;

        fst_push("id: 1\ndata: {}\n\n");
        cr_assert(eq(int, feed_str(STREAM_GET, &o), SR_H1_PHASE_STREAM));
        fst_push("id: 2\ndata: {}\n\n");
        fst.end = true;
        cr_assert(eq(int, pump(&o), SR_H1_PHASE_CLOSE));
        cr_assert(not(eq(ptr, strstr(o.text, "id: 2"), NULL)));
        sr_h1_conn_fini(conn);
        cr_assert(eq(int, fst.closes, 1));
        cr_assert(not(fst.last_stalled));
        sr_h1_conn_init(conn, &app, BODY_MAX, NULL); /* for teardown */
}

Test(sr_h1_conn, pull_is_offered_at_most_the_bounded_buffer)
{
        out_t o;

        cr_assert(eq(int, feed_str(STREAM_GET, &o), SR_H1_PHASE_STREAM));
        cr_assert(gt(sz, fst.max_room, 0));
        cr_assert(le(sz, fst.max_room,
                     SR_H1_STREAM_BUF - SR_H1_STREAM_RESERVE));
}

Test(sr_h1_conn, stalled_stream_keeps_what_is_buffered_adds_last_word_closes)
{
        sr_slice_t s[2];
        out_t o;
        int n;

        cr_assert(eq(int, feed_str(STREAM_GET, &o), SR_H1_PHASE_STREAM));
        fst_push("id: 1\ndata: {\"a\":1}\n\n");
        cr_assert(eq(int, sr_h1_conn_run(conn), SR_H1_PHASE_WRITE));
        sr_h1_conn_sent(conn, 4); /* the client took 4 bytes, then stopped */
        sr_h1_conn_stall(conn);
        fst_push("id: 2\ndata: {}\n\n"); /* never pulled after a stall */
        cr_assert(eq(int, sr_h1_conn_run(conn), SR_H1_PHASE_WRITE));
        n = sr_h1_conn_output(conn, s);
        cr_assert(eq(int, n, 1));
        cr_assert(eq(sz, s[0].len, strlen("1\ndata: {\"a\":1}\n\n"
                                          "event: dropped\n\n")));
        cr_assert(eq(int, memcmp(s[0].ptr, "1\ndata: {\"a\":1}\n\n"
                                 "event: dropped\n\n", s[0].len), 0));
        sr_h1_conn_sent(conn, s[0].len);
        cr_assert(eq(int, sr_h1_conn_run(conn), SR_H1_PHASE_CLOSE));
        cr_assert(eq(int, fst.n_pulled, 1));
        sr_h1_conn_fini(conn);
        cr_assert(eq(int, fst.closes, 1));
        cr_assert(fst.last_stalled);
        sr_h1_conn_init(conn, &app, BODY_MAX, NULL);
}

Test(sr_h1_conn, input_after_a_streamed_answer_is_dropped_and_eof_closes)
{
        const char more[] = "GET /x HTTP/1.1\r\nHost: h\r\n\r\n";
        size_t space;
        char *at;
        out_t o;

        cr_assert(eq(int, feed_str(STREAM_GET, &o), SR_H1_PHASE_STREAM));
        at = sr_h1_conn_rbuf(conn, &space);
        cr_assert(gt(sz, space, sizeof(more)));
        memcpy(at, more, sizeof(more) - 1);
        sr_h1_conn_received(conn, sizeof(more) - 1);
        cr_assert(eq(int, pump(&o), SR_H1_PHASE_STREAM));
        cr_assert(eq(int, fake.requests, 1)); /* /x was not answered */
        sr_h1_conn_eof(conn);
        cr_assert(eq(int, pump(&o), SR_H1_PHASE_CLOSE));
}

Test(sr_h1_conn, keep_alive_note_goes_out_while_waiting)
{
        out_t o;

        cr_assert(eq(int, feed_str(STREAM_GET, &o), SR_H1_PHASE_STREAM));
        sr_h1_conn_stream_note(conn, ": keep-alive\n\n");
        cr_assert(eq(int, pump(&o), SR_H1_PHASE_STREAM));
        cr_assert(not(eq(ptr, strstr(o.text, "\r\n\r\n: keep-alive\n\n"),
                         NULL)));
}

Test(sr_h1_conn, head_of_a_streamed_answer_sends_the_head_and_closes)
{
        out_t o;

        cr_assert(eq(int, feed_str("HEAD /stream HTTP/1.1\r\nHost: h\r\n"
                                   "\r\n", &o),
                     SR_H1_PHASE_CLOSE));
        cr_assert(eq(ptr, strstr(o.text, "Content-Length"), NULL));
        cr_assert(eq(int, fst.n_pulled, 0));
        sr_h1_conn_fini(conn);
        cr_assert(eq(int, fst.closes, 1));
        sr_h1_conn_init(conn, &app, BODY_MAX, NULL);
}
