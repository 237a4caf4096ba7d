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

static sr_err_t send_all(int fd, const char *p, size_t n, int64_t deadline,
                         sr_errctx_t *ec)
{
        while (n) {
                struct pollfd pfd = { fd, POLLOUT, 0 };
                ssize_t w;

                if (poll(&pfd, 1, remaining_ms(deadline)) != 1)
                        return sr_errctx_set(ec, SR_ERR_IO,
                                             "http client: send timed out");
                w = send(fd, p, n, MSG_NOSIGNAL);
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
static sr_err_t recv_all(int fd, struct rbuf *b, int64_t deadline,
                         sr_errctx_t *ec)
{
        for (;;) {
                struct pollfd pfd = { fd, POLLIN, 0 };
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
                if (poll(&pfd, 1, remaining_ms(deadline)) != 1)
                        return sr_errctx_set(ec, SR_ERR_IO,
                                             "http client: no answer in time");
                r = recv(fd, b->p + b->len, b->cap - b->len - 1, 0);
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

sr_err_t sr_hclient_request(const char *host, int port, const char *method,
                            const char *target, const char *token,
                            const char *body, int timeout_ms,
                            sr_hresp_t *out, sr_errctx_t *ec)
{
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
                     "Connection: close\r\n%s%s%s%s%zu\r\n\r\n",
                     method, target, host, port,
                     token ? "Authorization: Bearer " : "",
                     token ? token : "", token ? "\r\n" : "",
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
        err = send_all(fd, req, (size_t)n, deadline, ec);
        if (!err && body_len)
                err = send_all(fd, body, body_len, deadline, ec);
        if (!err)
                err = recv_all(fd, &b, deadline, ec);
        if (!err)
                err = parse_answer(&b, out, ec);
cleanup:
        if (fd >= 0)
                close(fd);
        free(req);
        free(b.p);
        return err;
}

void sr_hresp_free(sr_hresp_t *r)
{
        if (!r)
                return;
        free(r->body);
        r->body = NULL;
        r->body_len = 0;
}
