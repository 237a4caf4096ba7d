/* common/io/sr_hclient.c - one HTTP/1.1 request per connection to a
 * loopback server (sr_hclient.h). */
#include "sr_hclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "sr_clock.h"

struct rbuf {
        char *p;
        size_t len, cap;
};

static int remaining_ms(int64_t deadline)
{
        int64_t left = deadline - sr_clock_mono_ms();

        return left <= 0 ? 0 : left > 60000 ? 60000 : (int)left;
}

/* send() or SSL_write() (@p ssl not NULL); -1 with errno EAGAIN when the
 * socket must be ready for *ev first. */
static ssize_t io_send(int fd, SSL *ssl, const void *p, size_t n,
                       short *ev)
{
        int r;

        *ev = POLLOUT;
        if (!ssl)
                return send(fd, p, n, MSG_NOSIGNAL);
        ERR_clear_error();
        r = SSL_write(ssl, p, n > 1u << 30 ? 1 << 30 : (int)n);
        if (r > 0)
                return r;
        switch (SSL_get_error(ssl, r)) {
        case SSL_ERROR_WANT_READ:
                *ev = POLLIN;
                errno = EAGAIN;
                break;
        case SSL_ERROR_WANT_WRITE:
                errno = EAGAIN;
                break;
        default:
                errno = EPIPE;
                break;
        }
        ERR_clear_error();
        return -1;
}

/* recv() or SSL_read(), as io_send(). */
static ssize_t io_recv(int fd, SSL *ssl, void *p, size_t n, short *ev)
{
        int r;

        *ev = POLLIN;
        if (!ssl)
                return recv(fd, p, n, 0);
        ERR_clear_error();
        r = SSL_read(ssl, p, n > 1u << 30 ? 1 << 30 : (int)n);
        if (r > 0)
                return r;
        switch (SSL_get_error(ssl, r)) {
        case SSL_ERROR_ZERO_RETURN:
                r = 0;
                break;
        case SSL_ERROR_WANT_WRITE:
                *ev = POLLOUT;
                errno = EAGAIN;
                break;
        case SSL_ERROR_WANT_READ:
                errno = EAGAIN;
                break;
        default:
                /* a close without close_notify ends the answer too: the
                 * body's length is checked by parse_answer() */
                r = SSL_get_error(ssl, r) == SSL_ERROR_SYSCALL ? 0 : -1;
                errno = ECONNRESET;
                break;
        }
        ERR_clear_error();
        return r;
}

/* The client handshake of @p ssl by @p deadline (the certificate is not
 * verified: see sr_hclient_request_https()). */
static sr_err_t handshake(int fd, SSL *ssl, int64_t deadline,
                          sr_errctx_t *ec)
{
        for (;;) {
                struct pollfd pfd = { fd, POLLIN, 0 };
                int r;

                ERR_clear_error();
                r = SSL_connect(ssl);
                if (r == 1)
                        return SR_OK;
                r = SSL_get_error(ssl, r);
                ERR_clear_error();
                if (r == SSL_ERROR_WANT_WRITE)
                        pfd.events = POLLOUT;
                else if (r != SSL_ERROR_WANT_READ)
                        return sr_errctx_set(ec, SR_ERR_IO,
                                             "http client: TLS handshake "
                                             "failed");
                if (poll(&pfd, 1, remaining_ms(deadline)) != 1)
                        return sr_errctx_set(ec, SR_ERR_IO,
                                             "http client: TLS handshake "
                                             "timed out");
        }
}

static sr_err_t send_all(int fd, SSL *ssl, const char *p, size_t n,
                         int64_t deadline, sr_errctx_t *ec)
{
        short ev = POLLOUT;

        while (n) {
                struct pollfd pfd = { fd, ev, 0 };
                ssize_t w;

                if (poll(&pfd, 1, remaining_ms(deadline)) != 1)
                        return sr_errctx_set(ec, SR_ERR_IO,
                                             "http client: send timed out");
                w = io_send(fd, ssl, p, n, &ev);
                if (w < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (w <= 0)
                        return sr_errctx_set(ec, SR_ERR_IO,
                                             "http client: send: %s",
                                             strerror(errno));
                p += w;
                n -= (size_t)w;
        }
        return SR_OK;
}

/* Connect the non-blocking @p fd by @p deadline (a remote host that drops
 * packets would otherwise hold a blocking connect for minutes). */
static sr_err_t connect_within(int fd, const struct sockaddr_in *addr,
                               int64_t deadline, const char *host, int port,
                               sr_errctx_t *ec)
{
        struct pollfd pfd = { fd, POLLOUT, 0 };
        socklen_t len = sizeof(int);
        int soerr = 0;

        if (!connect(fd, (const struct sockaddr *)addr, sizeof(*addr)))
                return SR_OK;
        if (errno != EINPROGRESS)
                return sr_errctx_set(ec, SR_ERR_IO, "http client: connect "
                                     "%s:%d: %s", host, port,
                                     strerror(errno));
        if (poll(&pfd, 1, remaining_ms(deadline)) != 1)
                return sr_errctx_set(ec, SR_ERR_IO, "http client: connect "
                                     "%s:%d: timed out", host, port);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) || soerr)
                return sr_errctx_set(ec, SR_ERR_IO, "http client: connect "
                                     "%s:%d: %s", host, port,
                                     strerror(soerr ? soerr : errno));
        return SR_OK;
}

/* Everything until the server closes (we asked it to). */
static sr_err_t recv_all(int fd, SSL *ssl, struct rbuf *b, int64_t deadline,
                         sr_errctx_t *ec)
{
        short ev = POLLIN;

        for (;;) {
                struct pollfd pfd = { fd, ev, 0 };
                ssize_t r;

                if (b->cap - b->len < 4096) {
                        size_t cap = b->cap ? b->cap * 2 : 8192;
                        char *p;

                        if (cap > SR_HCLIENT_BODY_MAX + 65536)
                                return sr_errctx_set(ec, SR_ERR_TOO_LARGE,
                                        "http client: answer over %u bytes",
                                        SR_HCLIENT_BODY_MAX);
                        p = realloc(b->p, cap);
                        if (!p)
                                return sr_errctx_set(ec, SR_ERR_NOMEM,
                                                     "http client: realloc");
                        b->p = p;
                        b->cap = cap;
                }
                /* decrypted bytes already there: no wait */
                if (!(ssl && SSL_pending(ssl) > 0) &&
                    poll(&pfd, 1, remaining_ms(deadline)) != 1)
                        return sr_errctx_set(ec, SR_ERR_IO,
                                             "http client: no answer in time");
                r = io_recv(fd, ssl, b->p + b->len, b->cap - b->len - 1,
                            &ev);
                if (r < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (r < 0)
                        return sr_errctx_set(ec, SR_ERR_IO,
                                             "http client: recv: %s",
                                             strerror(errno));
                if (r == 0)
                        break;
                b->len += (size_t)r;
        }
        b->p[b->len] = '\0';
        return SR_OK;
}

/* Decode the chunked body @p p[0..len) in place (RFC 9112 7.1: hex size,
 * optional extensions, CRLF, data, CRLF; size 0 ends it, trailers are
 * dropped). @returns its decoded length, or -1 when malformed or cut. */
static long dechunk(char *p, size_t len)
{
        size_t in = 0, out = 0;

        for (;;) {
                char *eol, *end;
                unsigned long n;

                eol = memmem(p + in, len - in, "\r\n", 2);
                if (!eol)
                        return -1;
                n = strtoul(p + in, &end, 16);
                if (end == p + in || (end != eol && *end != ';' &&
                                      *end != ' ' && *end != '\t'))
                        return -1;
                in = (size_t)(eol - p) + 2;
                if (n == 0)
                        return (long)out;
                if (n > len - in || len - in - n < 2 ||
                    memcmp(p + in + n, "\r\n", 2))
                        return -1;
                memmove(p + out, p + in, n);
                out += n;
                in += n + 2;
        }
}

/* Status and body out of a whole answer in @p b (its buffer moves to
 * @p out). */
static sr_err_t parse_answer(struct rbuf *b, sr_hresp_t *out,
                             sr_errctx_t *ec)
{
        char *end = strstr(b->p, "\r\n\r\n"), *cl, *te;
        size_t head_len, body_len;
        int status;

        if (b->len < 12 || strncmp(b->p, "HTTP/1.", 7) || b->p[8] != ' ' ||
            sscanf(b->p + 9, "%3d", &status) != 1 || !end)
                return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                     "http client: not an HTTP/1.x answer");
        head_len = (size_t)(end - b->p) + 4;
        body_len = b->len - head_len;
        *end = '\0'; /* the head is searched as a string */
        te = strcasestr(b->p, "\r\nTransfer-Encoding:");
        cl = strcasestr(b->p, "\r\nContent-Length:");
        if (te && strcasestr(te, "chunked")) {
                long n;

                memmove(b->p, b->p + head_len, body_len);
                n = dechunk(b->p, body_len);
                if (n < 0)
                        return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                             "http client: malformed or "
                                             "cut chunked body");
                head_len = 0;
                body_len = (size_t)n;
        } else if (cl) {
                unsigned long long n = strtoull(cl + 17, NULL, 10);

                if (n > body_len)
                        return sr_errctx_set(ec, SR_ERR_IO,
                                "http client: answer cut short (%zu of %llu "
                                "body bytes)", body_len, n);
                body_len = (size_t)n;
        }
        memmove(b->p, b->p + head_len, body_len);
        b->p[body_len] = '\0';
        out->status = status;
        out->body = b->p;
        out->body_len = body_len;
        b->p = NULL;
        return SR_OK;
}

static sr_err_t request(bool tls, const char *host, int port,
                        const char *method, const char *target,
                        const char *token, const char *headers,
                        const char *body, int timeout_ms, sr_hresp_t *out,
                        sr_errctx_t *ec)
{
        SSL_CTX *ctx = NULL;
        SSL *ssl = NULL;
        int64_t deadline = sr_clock_mono_ms() + timeout_ms;
        size_t body_len = body ? strlen(body) : 0;
        struct sockaddr_in addr;
        struct rbuf b = { NULL, 0, 0 };
        char *req = NULL;
        sr_err_t err;
        int fd = -1, n;

        memset(&addr, 0, sizeof(addr));
        addr.sin_family = AF_INET;
        addr.sin_port = htons((uint16_t)port);
        if (port <= 0 || port > 65535 ||
            inet_pton(AF_INET, host, &addr.sin_addr) != 1)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "http client: bad address %s:%d", host,
                                     port);
        n = asprintf(&req, "%s %s HTTP/1.1\r\nHost: %s:%d\r\n"
                     "Connection: close\r\n%s%s%s%s%s%zu\r\n\r\n",
                     method, target, host, port,
                     token ? "Authorization: Bearer " : "",
                     token ? token : "", token ? "\r\n" : "",
                     headers ? headers : "",
                     body ? "Content-Type: application/json\r\n"
                            "Content-Length: " : "Content-Length: ",
                     body_len);
        if (n < 0)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "http client: request");
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        err = fd < 0 ? sr_errctx_set(ec, SR_ERR_IO, "http client: socket: "
                                     "%s", strerror(errno)) :
                       connect_within(fd, &addr, deadline, host, port, ec);
        if (err)
                goto cleanup;
        if (tls) {
                ctx = SSL_CTX_new(TLS_client_method());
                ssl = ctx ? SSL_new(ctx) : NULL;
                if (!ssl || !SSL_set_fd(ssl, fd)) {
                        ERR_clear_error();
                        err = sr_errctx_set(ec, SR_ERR_NOMEM,
                                            "http client: SSL_new");
                        goto cleanup;
                }
                SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
                err = handshake(fd, ssl, deadline, ec);
                if (err)
                        goto cleanup;
        }
        err = send_all(fd, ssl, req, (size_t)n, deadline, ec);
        if (!err && body_len)
                err = send_all(fd, ssl, body, body_len, deadline, ec);
        if (!err)
                err = recv_all(fd, ssl, &b, deadline, ec);
        if (!err)
                err = parse_answer(&b, out, ec);
cleanup:
        SSL_free(ssl);
        SSL_CTX_free(ctx);
        if (fd >= 0)
                close(fd);
        free(req);
        free(b.p);
        return err;
}

sr_err_t sr_hclient_request(const char *host, int port, const char *method,
                            const char *target, const char *token,
                            const char *body, int timeout_ms,
                            sr_hresp_t *out, sr_errctx_t *ec)
{
        return request(false, host, port, method, target, token, NULL,
                       body, timeout_ms, out, ec);
}

sr_err_t sr_hclient_request_headers(const char *host, int port,
                                    const char *method, const char *target,
                                    const char *token, const char *headers,
                                    const char *body, int timeout_ms,
                                    sr_hresp_t *out, sr_errctx_t *ec)
{
        return request(false, host, port, method, target, token, headers,
                       body, timeout_ms, out, ec);
}

sr_err_t sr_hclient_request_https(const char *host, int port,
                                  const char *method, const char *target,
                                  const char *token, const char *body,
                                  int timeout_ms, sr_hresp_t *out,
                                  sr_errctx_t *ec)
{
        return request(true, host, port, method, target, token, NULL,
                       body, timeout_ms, out, ec);
}

void sr_hresp_free(sr_hresp_t *r)
{
        if (!r)
                return;
        free(r->body);
        r->body = NULL;
        r->body_len = 0;
}
