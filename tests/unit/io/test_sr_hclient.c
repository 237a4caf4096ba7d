/* tests/unit/io/test_sr_hclient.c - the loopback HTTP client: what it
 * sends, how it reads an answer, and every failure named. A one-shot
 * server thread per test answers with scripted bytes. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sr_hclient.h"

struct server {
        int fd, port;
        const char *answer; /* NULL: read, then say nothing for 2 s */
        char got[4096];     /* the request as received */
        pthread_t thread;
};

static void *serve(void *arg)
{
        struct server *s = arg;
        int c = accept(s->fd, NULL, NULL);
        size_t n = 0;
        ssize_t r;

        if (c < 0)
                return NULL;
        /* Until the head and its Content-Length body are in. */
        while (n < sizeof(s->got) - 1 &&
               (r = read(c, s->got + n, sizeof(s->got) - 1 - n)) > 0) {
                char *end, *cl;

                n += (size_t)r;
                s->got[n] = '\0';
                end = strstr(s->got, "\r\n\r\n");
                cl = strstr(s->got, "Content-Length: ");
                if (end && cl &&
                    strlen(end + 4) >= strtoul(cl + 16, NULL, 10))
                        break;
        }
        if (s->answer)
                (void)!write(c, s->answer, strlen(s->answer));
        else
                sleep(2);
        close(c);
        return NULL;
}

static void server_start(struct server *s, const char *answer)
{
        struct sockaddr_in a = { .sin_family = AF_INET };
        socklen_t len = sizeof(a);

        memset(s, 0, sizeof(*s));
        s->answer = answer;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        s->fd = socket(AF_INET, SOCK_STREAM, 0);
        cr_assert(s->fd >= 0);
        cr_assert(eq(int, bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0));
        cr_assert(eq(int, listen(s->fd, 1), 0));
        getsockname(s->fd, (struct sockaddr *)&a, &len);
        s->port = ntohs(a.sin_port);
        cr_assert(eq(int, pthread_create(&s->thread, NULL, serve, s), 0));
}

static void server_join(struct server *s)
{
        pthread_join(s->thread, NULL);
        close(s->fd);
}

TestSuite(sr_hclient, .timeout = 10.0);

Test(sr_hclient, post_sends_token_and_body_and_reads_status_and_body)
{
        struct server s;
        sr_hresp_t r = { 0 };
        sr_errctx_t ec = { 0 };

        server_start(&s, "HTTP/1.1 201 Created\r\nContent-Type: x\r\n"
                         "content-length: 5\r\n\r\nhello");
        cr_assert(eq(int, sr_hclient_request("127.0.0.1", s.port, "POST",
                                             "/v0/runs/", "tok", "{\"a\":1}",
                                             2000, &r, &ec), SR_OK),
                  "%s", ec.msg);
        server_join(&s);
        cr_assert(eq(int, r.status, 201));
        cr_assert(eq(str, r.body, "hello"));
        cr_assert(eq(sz, r.body_len, 5));
        cr_assert(strncmp(s.got, "POST /v0/runs/ HTTP/1.1\r\n", 25) == 0,
                  "%s", s.got);
        cr_assert(strstr(s.got, "\r\nAuthorization: Bearer tok\r\n") != NULL);
        cr_assert(strstr(s.got, "\r\nConnection: close\r\n") != NULL);
        cr_assert(strstr(s.got, "\r\nContent-Type: application/json\r\n"
                                "Content-Length: 7\r\n\r\n{\"a\":1}") != NULL,
                  "%s", s.got);
        sr_hresp_free(&r);
}

Test(sr_hclient, get_without_token_reads_the_body_to_the_close)
{
        struct server s;
        sr_hresp_t r = { 0 };
        sr_errctx_t ec = { 0 };

        server_start(&s, "HTTP/1.0 503 Service Unavailable\r\n\r\nnot yet");
        cr_assert(eq(int, sr_hclient_request("127.0.0.1", s.port, "GET",
                                             "/readyz", NULL, NULL, 2000, &r,
                                             &ec), SR_OK), "%s", ec.msg);
        server_join(&s);
        cr_assert(eq(int, r.status, 503));
        cr_assert(eq(str, r.body, "not yet"));
        cr_assert(strstr(s.got, "Authorization") == NULL);
        sr_hresp_free(&r);
}

static void answer_fails(const char *answer, int timeout_ms, sr_err_t want,
                         const char *msg);

Test(sr_hclient, chunked_answer_is_decoded_extensions_and_trailers_dropped)
{
        struct server s;
        sr_hresp_t r = { 0 };
        sr_errctx_t ec = { 0 };

        /* What a registry behind Vert.x or Jetty may send. */
        server_start(&s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                         "Content-Type: application/json\r\n\r\n"
                         "4\r\n{\"id\r\n"
                         "A;ext=1\r\n\": 100002}\r\n"
                         "0\r\nX-Trailer: t\r\n\r\n");
        cr_assert(eq(int, sr_hclient_request("127.0.0.1", s.port, "GET", "/",
                                             NULL, NULL, 2000, &r, &ec),
                     SR_OK), "%s", ec.msg);
        server_join(&s);
        cr_assert(eq(int, r.status, 200));
        cr_assert(eq(str, r.body, "{\"id\": 100002}"));
        cr_assert(eq(sz, r.body_len, 14));
        sr_hresp_free(&r);
}

Test(sr_hclient, malformed_or_cut_chunked_answer_is_corrupt)
{
        answer_fails("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "zz\r\nabc\r\n0\r\n\r\n", 2000, SR_ERR_CORRUPT,
                     "malformed or cut chunked body");
        answer_fails("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "10\r\nabc", 2000, SR_ERR_CORRUPT,
                     "malformed or cut chunked body");
        answer_fails("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3\r\nabcX\r\n0\r\n\r\n", 2000, SR_ERR_CORRUPT,
                     "malformed or cut chunked body");
}

/* A GET to a server answering @p answer (NULL: silence) fails with
 * @p want, and the message holds @p msg. */
static void answer_fails(const char *answer, int timeout_ms, sr_err_t want,
                         const char *msg)
{
        struct server s;
        sr_hresp_t r = { 0 };
        sr_errctx_t ec = { 0 };

        server_start(&s, answer);
        cr_assert(eq(int, sr_hclient_request("127.0.0.1", s.port, "GET", "/",
                                             NULL, NULL, timeout_ms, &r, &ec),
                     want));
        cr_assert(strstr(ec.msg, msg) != NULL, "%s", ec.msg);
        server_join(&s);
}

Test(sr_hclient, answer_shorter_than_its_content_length_is_an_io_error)
{
        answer_fails("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 2000,
                     SR_ERR_IO, "cut short (3 of 10");
}

Test(sr_hclient, answer_that_is_not_http_is_corrupt)
{
        answer_fails("SSH-2.0-OpenSSH_9.2\r\n", 2000, SR_ERR_CORRUPT,
                     "not an HTTP/1.x answer");
}

Test(sr_hclient, silent_server_times_out)
{
        answer_fails(NULL, 300, SR_ERR_IO, "no answer in time");
}

Test(sr_hclient, refused_connection_and_bad_address_are_named)
{
        sr_hresp_t r = { 0 };
        sr_errctx_t ec = { 0 };
        struct sockaddr_in a = { .sin_family = AF_INET };
        socklen_t len = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM, 0), port;

        /* A port bound but not listening refuses. */
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        cr_assert(eq(int, bind(fd, (struct sockaddr *)&a, sizeof(a)), 0));
        getsockname(fd, (struct sockaddr *)&a, &len);
        port = ntohs(a.sin_port);
        cr_assert(eq(int, sr_hclient_request("127.0.0.1", port, "GET", "/",
                                             NULL, NULL, 1000, &r, &ec),
                     SR_ERR_IO));
        cr_assert(strstr(ec.msg, "connect 127.0.0.1:") != NULL, "%s", ec.msg);
        close(fd);
        cr_assert(eq(int, sr_hclient_request("localhost", 80, "GET", "/",
                                             NULL, NULL, 1000, &r, &ec),
                     SR_ERR_INVALID));
        cr_assert(strstr(ec.msg, "bad address localhost:80") != NULL);
}
