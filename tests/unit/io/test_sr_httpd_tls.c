/* tests/unit/io/test_sr_httpd_tls.c - https (opts.tls_*) on a real
 * loopback socket with an OpenSSL client: the handshake (ALPN http/1.1,
 * the certificate verified against itself as the CA), keep-alive, a large
 * request body and a long streamed answer through TLS records, plain HTTP
 * sent to the https port, a handshake that never completes, and the
 * start-up refusals (a certificate without its key, a file that cannot be
 * read, a key that does not match).
 *
 * The key and the self-signed certificate are made per test with the
 * openssl command, in a fresh directory. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "rawhttp.h"
#include "sr_httpd.h"

#define HEADER_MS 500
#define BIG_BODY ((size_t)4 << 20)
#define STREAM_BYTES ((size_t)1 << 20)

static char dir[64];
static char cert[128], key[128], other_key[128];
static sr_httpd_t *srv;
static int port;

/* ------------------------------------------------------------ the app */

typedef struct gen {
        size_t sent;
} gen_t;

/* STREAM_BYTES of "0123456789abcdef" lines, pulled in pieces. */
static sr_h1_pull_t gen_pull(void *arg, char *out, size_t room, size_t *n)
{
        gen_t *g = arg;

        *n = 0;
        while (g->sent < STREAM_BYTES && room - *n >= 16) {
                memcpy(out + *n, "0123456789abcde\n", 16);
                *n += 16;
                g->sent += 16;
        }
        return g->sent < STREAM_BYTES ? SR_H1_PULL_WAIT : SR_H1_PULL_END;
}

static void gen_close(void *arg, bool stalled)
{
        (void)stalled;
        free(arg);
}

static void answer(sr_h1_response_t *resp, const char *text)
{
        resp->status = 200;
        resp->content_type = "text/plain";
        resp->body.ptr = strdup(text);
        resp->body.len = strlen(text);
}

static void app_request(void *arg, const sr_h1_request_t *r,
                        sr_h1_response_t *resp)
{
        (void)arg;
        if (!strcmp(r->target, "/big")) {
                const unsigned char *p = r->body;
                unsigned long sum = 0;
                char text[64];

                for (size_t i = 0; i < r->body_len; i++)
                        sum = sum * 31 + p[i];
                snprintf(text, sizeof(text), "len=%zu sum=%lu", r->body_len,
                         sum);
                answer(resp, text);
        } else if (!strcmp(r->target, "/stream")) {
                gen_t *g = calloc(1, sizeof(*g));

                cr_assert(g != NULL);
                resp->status = 200;
                resp->content_type = "text/event-stream";
                resp->stream = (sr_h1_stream_t){ .pull = gen_pull,
                                                 .close = gen_close,
                                                 .arg = g };
        } else {
                answer(resp, "hello");
        }
}

static const sr_h1_app_t app = { .on_request = app_request };

/* ------------------------------------------------------------ set-up */

static void run(const char *cmd)
{
        cr_assert(eq(int, system(cmd), 0), "%s", cmd);
}

static void make_key_and_cert(void)
{
        char cmd[1024];

        snprintf(dir, sizeof(dir), "/tmp/sr-tls-XXXXXX");
        cr_assert(mkdtemp(dir) != NULL);
        snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
        snprintf(key, sizeof(key), "%s/key.pem", dir);
        snprintf(other_key, sizeof(other_key), "%s/other.pem", dir);
        snprintf(cmd, sizeof(cmd),
                 "openssl req -x509 -newkey ec -pkeyopt "
                 "ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost "
                 "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
                 "-keyout %s -out %s 2>/dev/null && "
                 "openssl genpkey -algorithm EC -pkeyopt "
                 "ec_paramgen_curve:P-256 -out %s 2>/dev/null",
                 key, cert, other_key);
        run(cmd);
}

static sr_err_t open_tls(const char *c, const char *k, sr_errctx_t *ec)
{
        sr_httpd_opts_t o = { .bind = "127.0.0.1", .loops = 2,
                              .pool_threads = 2, .connections_max = 64,
                              .header_timeout_ms = HEADER_MS,
                              .idle_timeout_ms = 3000,
                              .body_max = BIG_BODY * 2,
                              .tls_cert_file = c, .tls_key_file = k };
        sr_err_t err = sr_httpd_open_app(&o, &app, &srv, ec);

        if (!err)
                port = sr_httpd_port(srv);
        return err;
}

static void setup(void)
{
        sr_errctx_t ec = { 0 };

        make_key_and_cert();
        cr_assert(eq(int, open_tls(cert, key, &ec), SR_OK), "%s", ec.msg);
}

static void setup_keys_only(void)
{
        make_key_and_cert();
        srv = NULL;
}

static void teardown(void)
{
        char cmd[128];

        sr_httpd_close(srv);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        run(cmd);
}

/* ------------------------------------------------------------ the client */

typedef struct tls_client {
        SSL_CTX *ctx;
        SSL *ssl;
        int fd;
} tls_client_t;

/* A verified TLS connection offering @p alpn (wire format, NULL: none). */
static void tls_connect(tls_client_t *t, const unsigned char *alpn,
                        unsigned alpn_len)
{
        struct timeval tv = { .tv_sec = 5 };

        t->ctx = SSL_CTX_new(TLS_client_method());
        cr_assert(t->ctx != NULL);
        cr_assert(eq(int, SSL_CTX_load_verify_locations(t->ctx, cert, NULL),
                     1));
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
        if (alpn)
                cr_assert(eq(int, SSL_CTX_set_alpn_protos(t->ctx, alpn,
                                                          alpn_len), 0));
        t->fd = raw_connect(port);
        setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        t->ssl = SSL_new(t->ctx);
        cr_assert(t->ssl != NULL);
        SSL_set1_host(t->ssl, "localhost");
        SSL_set_tlsext_host_name(t->ssl, "localhost");
        SSL_set_fd(t->ssl, t->fd);
        cr_assert(eq(int, SSL_connect(t->ssl), 1), "handshake: %s",
                  ERR_error_string(ERR_get_error(), NULL));
        cr_assert(eq(long, SSL_get_verify_result(t->ssl), X509_V_OK));
}

static void tls_close(tls_client_t *t)
{
        SSL_free(t->ssl);
        SSL_CTX_free(t->ctx);
        close(t->fd);
}

static void tls_send(tls_client_t *t, const void *p, size_t n)
{
        const char *c = p;

        while (n) {
                int w = SSL_write(t->ssl, c, n > (1 << 30) ? 1 << 30 :
                                                             (int)n);

                cr_assert(gt(int, w, 0), "SSL_write: %d",
                          SSL_get_error(t->ssl, w));
                c += w;
                n -= (size_t)w;
        }
}

/* Read until the head and its Content-Length body are in, or until the
 * close (@p to_close: a streamed answer); malloc'd, NUL-terminated. */
static char *tls_read(tls_client_t *t, bool to_close, size_t *len)
{
        size_t cap = 1 << 16, n = 0;
        char *b = malloc(cap);

        cr_assert(b != NULL);
        for (;;) {
                const char *sep, *cl;
                int r;

                b[n] = '\0';
                /* not for a streamed answer: a search of the whole
                 * buffer per read is quadratic (minutes under ASan) */
                if (!to_close && (sep = strstr(b, "\r\n\r\n")) &&
                    (cl = strstr(b, "Content-Length: ")) &&
                    n >= (size_t)(sep + 4 - b) + strtoul(cl + 16, NULL, 10))
                        break;
                if (cap - n < 4096) {
                        cap *= 2;
                        b = realloc(b, cap);
                        cr_assert(b != NULL);
                }
                r = SSL_read(t->ssl, b + n, (int)(cap - n - 1));
                if (r <= 0)
                        break;
                n += (size_t)r;
        }
        b[n] = '\0';
        *len = n;
        return b;
}

static const char get_root[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";

/* A TLS connection without ALPN, GET / answered 200, closed. */
static void get_root_on_a_new_connection(void)
{
        tls_client_t t;
        size_t len;
        char *r;

        tls_connect(&t, NULL, 0);
        tls_send(&t, get_root, sizeof(get_root) - 1);
        r = tls_read(&t, false, &len);
        cr_assert(eq(int, strncmp(r, "HTTP/1.1 200", 12), 0), "%s", r);
        free(r);
        tls_close(&t);
}

/* ------------------------------------------------------------ tests */

TestSuite(sr_httpd_tls, .init = setup, .fini = teardown, .timeout = 60);

Test(sr_httpd_tls, handshake_selects_http11_and_keep_alive_serves_twice)
{
        static const unsigned char alpn[] = "\x02h2\x08http/1.1";
        const unsigned char *sel = NULL;
        unsigned sel_len = 0;
        tls_client_t t;
        size_t len;

        tls_connect(&t, alpn, sizeof(alpn) - 1);
        SSL_get0_alpn_selected(t.ssl, &sel, &sel_len);
        cr_assert(eq(int, (int)sel_len, 8));
        cr_assert(eq(int, memcmp(sel, "http/1.1", 8), 0));
        cr_assert(ge(int, SSL_version(t.ssl), TLS1_2_VERSION));
        for (int i = 0; i < 2; i++) {
                char *r;

                tls_send(&t, get_root, sizeof(get_root) - 1);
                r = tls_read(&t, false, &len);
                cr_assert(eq(int, strncmp(r, "HTTP/1.1 200", 12), 0), "%s",
                          r);
                cr_assert(strstr(r, "\r\n\r\nhello") != NULL, "%s", r);
                free(r);
        }
        tls_close(&t);
}

Test(sr_httpd_tls, a_client_without_alpn_is_served)
{
        get_root_on_a_new_connection();
}

Test(sr_httpd_tls, plain_http_on_the_https_port_gets_400_and_close)
{
        int fd = raw_connect(port);
        raw_reply_t rr;

        cr_assert(raw_send_str(fd, get_root));
        raw_read_all(fd, 3000, &rr);
        close(fd);
        cr_assert(rr.closed, "not closed: %s", rr.text);
        cr_assert(eq(int, rr.status, 400), "%s", rr.text);
        cr_assert(rr.body != NULL, "%s", rr.text);
        cr_assert(strstr(rr.text, "Content-Length: 49\r\n") != NULL, "%s",
                  rr.text);
        cr_assert(eq(str, (char *)rr.body,
                     "this port speaks https: use https:// to reach it\n"));
        free(rr.text);
        /* and the server goes on serving https */
        get_root_on_a_new_connection();
}

Test(sr_httpd_tls, a_stalled_handshake_is_dropped_at_the_header_deadline)
{
        /* a TLS record header of a ClientHello, and nothing more */
        static const char partial[] = "\x16\x03\x01\x02\x00";
        int fd = raw_connect(port);
        raw_reply_t rr;

        cr_assert(raw_send(fd, partial, sizeof(partial) - 1));
        raw_read_all(fd, 5 * HEADER_MS, &rr);
        close(fd);
        cr_assert(rr.closed, "still open after %.0f ms", rr.ms);
        cr_assert(ge(dbl, rr.ms, HEADER_MS * 0.8), "closed after %.0f ms",
                  rr.ms);
        cr_assert(lt(dbl, rr.ms, HEADER_MS * 4.0), "closed after %.0f ms",
                  rr.ms);
        cr_assert(eq(sz, rr.len, 0), "%s", rr.text);
        free(rr.text);
}

Test(sr_httpd_tls, a_large_body_arrives_whole)
{
        char head[128], want[64], *body = malloc(BIG_BODY), *r;
        unsigned long sum = 0;
        tls_client_t t;
        size_t len;

        cr_assert(body != NULL);
        for (size_t i = 0; i < BIG_BODY; i++) {
                body[i] = (char)('a' + (i * 7919) % 26);
                sum = sum * 31 + (unsigned char)body[i];
        }
        snprintf(head, sizeof(head),
                 "POST /big HTTP/1.1\r\nHost: localhost\r\n"
                 "Content-Length: %zu\r\n\r\n", BIG_BODY);
        snprintf(want, sizeof(want), "len=%zu sum=%lu", BIG_BODY, sum);
        tls_connect(&t, NULL, 0);
        tls_send(&t, head, strlen(head));
        tls_send(&t, body, BIG_BODY);
        r = tls_read(&t, false, &len);
        cr_assert(eq(int, strncmp(r, "HTTP/1.1 200", 12), 0), "%.200s", r);
        cr_assert(strstr(r, want) != NULL, "want %s in %s", want, r);
        free(r);
        /* keep-alive after it */
        tls_send(&t, get_root, sizeof(get_root) - 1);
        r = tls_read(&t, false, &len);
        cr_assert(eq(int, strncmp(r, "HTTP/1.1 200", 12), 0), "%s", r);
        free(r);
        free(body);
        tls_close(&t);
}

Test(sr_httpd_tls, a_streamed_answer_arrives_whole_and_ends_with_the_close)
{
        static const char get[] = "GET /stream HTTP/1.1\r\n"
                                  "Host: localhost\r\n\r\n";
        tls_client_t t;
        size_t len, lines = 0;
        char *r, *body;

        tls_connect(&t, NULL, 0);
        tls_send(&t, get, sizeof(get) - 1);
        r = tls_read(&t, true, &len);
        cr_assert(eq(int, strncmp(r, "HTTP/1.1 200", 12), 0), "%.200s", r);
        body = strstr(r, "\r\n\r\n");
        cr_assert(body != NULL);
        body += 4;
        cr_assert(eq(sz, len - (size_t)(body - r), STREAM_BYTES));
        /* line by line, not strstr(): ASan's measures the rest of the
         * string at every call (quadratic) */
        for (size_t off = 0; off + 16 <= STREAM_BYTES; off += 16)
                lines += !memcmp(body + off, "0123456789abcde\n", 16);
        cr_assert(eq(sz, lines, STREAM_BYTES / 16));
        free(r);
        tls_close(&t);
}

/* More pipelined requests than two TLS records hold, the records' ends
 * inside requests, all answered in order on the one connection. (The
 * engine takes every byte it is given before it asks for more and its
 * input buffer holds a whole record, so OpenSSL never holds decrypted
 * bytes back here: progress()'s tls_pending() is a guard this test does
 * not reach.) */
Test(sr_httpd_tls, pipelined_requests_across_records_are_all_answered)
{
        enum { N = 1365 }; /* 47775 bytes: three records */
        size_t one = sizeof(get_root) - 1, len = 0, cap = 1 << 20, from = 0;
        char *reqs = malloc(N * one), *got = malloc(cap);
        tls_client_t t;
        int answers = 0;

        cr_assert(reqs != NULL && got != NULL);
        for (int i = 0; i < N; i++)
                memcpy(reqs + (size_t)i * one, get_root, one);
        tls_connect(&t, NULL, 0);
        tls_send(&t, reqs, N * one); /* 16 KiB records, 468.1 requests each */
        while (answers < N) {
                int r = SSL_read(t.ssl, got + len, (int)(cap - len - 1));

                if (r <= 0)
                        break;
                len += (size_t)r;
                /* Count only what came since the last read: a rescan of
                 * the whole buffer is quadratic, and ASan's strstr()
                 * measures the rest of the string at every match (40 s
                 * for this test under ASan instead of 0.1 s). */
                for (const char *p; (p = memmem(got + from, len - from,
                                                "HTTP/1.1 200", 12));) {
                        answers++;
                        from = (size_t)(p - got) + 12;
                }
                if (len - from > 11) /* a status line cut by the read */
                        from = len - 11;
                cr_assert(lt(sz, len, cap - 4096));
        }
        cr_assert(eq(int, answers, N));
        free(reqs);
        free(got);
        tls_close(&t);
}

TestSuite(sr_httpd_tls_conf, .init = setup_keys_only, .fini = teardown,
          .timeout = 30);

Test(sr_httpd_tls_conf, a_certificate_without_a_key_is_refused)
{
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, open_tls(cert, NULL, &ec), SR_ERR_INVALID));
        cr_assert(strstr(ec.msg, "key") != NULL, "%s", ec.msg);
        cr_assert(eq(int, open_tls(NULL, key, &ec), SR_ERR_INVALID));
        cr_assert(strstr(ec.msg, "certificate") != NULL, "%s", ec.msg);
}

Test(sr_httpd_tls_conf, a_file_that_cannot_be_read_is_named)
{
        char missing[160];
        sr_errctx_t ec = { 0 };

        snprintf(missing, sizeof(missing), "%s/nope.pem", dir);
        cr_assert(eq(int, open_tls(missing, key, &ec), SR_ERR_INVALID));
        cr_assert(strstr(ec.msg, missing) != NULL, "%s", ec.msg);
        cr_assert(strstr(ec.msg, "certificate file") != NULL, "%s", ec.msg);
        cr_assert(eq(int, open_tls(cert, missing, &ec), SR_ERR_INVALID));
        cr_assert(strstr(ec.msg, missing) != NULL, "%s", ec.msg);
        cr_assert(strstr(ec.msg, "key file") != NULL, "%s", ec.msg);
        /* a key where the certificate should be */
        cr_assert(eq(int, open_tls(key, key, &ec), SR_ERR_INVALID));
        cr_assert(strstr(ec.msg, key) != NULL, "%s", ec.msg);
}

Test(sr_httpd_tls_conf, a_key_that_does_not_match_the_certificate_is_refused)
{
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, open_tls(cert, other_key, &ec), SR_ERR_INVALID));
        cr_assert(strstr(ec.msg, other_key) != NULL, "%s", ec.msg);
        cr_assert(strstr(ec.msg, cert) != NULL, "%s", ec.msg);
}
