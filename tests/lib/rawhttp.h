/* tests/lib/rawhttp.h - a raw-socket HTTP/1.1 client for tests: send exact
 * bytes (NUL included), read what comes back with a deadline, count status
 * lines. No HTTP library: the point is to send what libraries refuse to.
 * Header-only, static inline (each test binary is one translation unit). */
#ifndef SR_RAWHTTP_H
#define SR_RAWHTTP_H

#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static inline double raw_now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* A connected, blocking socket to 127.0.0.1:port (-1 on failure). */
static inline int raw_try_connect(int port)
{
        struct sockaddr_in sa;
        const int one = 1;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -1;
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
                close(fd);
                return -1;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        return fd;
}

static inline int raw_connect(int port)
{
        int fd = raw_try_connect(port);

        cr_assert(fd >= 0, "connect to port %d: %s", port, strerror(errno));
        return fd;
}

/* Send all of @p p; false when the peer closed or reset. */
static inline bool raw_send(int fd, const void *p, size_t n)
{
        const char *c = p;

        while (n > 0) {
                ssize_t k = send(fd, c, n, MSG_NOSIGNAL);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return false;
                c += k;
                n -= (size_t)k;
        }
        return true;
}

static inline bool raw_send_str(int fd, const char *s)
{
        return raw_send(fd, s, strlen(s));
}

typedef struct raw_reply {
        char *text;   /* everything read, NUL-terminated; free() it */
        size_t len;
        bool closed;  /* the server closed (EOF or reset) */
        double ms;    /* from the call until the close or the deadline */
        int status;   /* of the first status line; 0: none */
        const char *body; /* after the first head's empty line, or NULL */
} raw_reply_t;

static inline void raw_reply_parse(raw_reply_t *r)
{
        const char *sep;

        r->status = 0;
        r->body = NULL;
        if (sscanf(r->text, "HTTP/1.%*d %d", &r->status) != 1)
                r->status = 0;
        sep = strstr(r->text, "\r\n\r\n");
        if (sep)
                r->body = sep + 4;
}

/* Read until the server closes, at most @p timeout_ms. */
static inline void raw_read_all(int fd, int timeout_ms, raw_reply_t *r)
{
        size_t cap = 65536;
        double t0 = raw_now_ms();

        memset(r, 0, sizeof(*r));
        r->text = malloc(cap);
        cr_assert(r->text != NULL);
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int left = timeout_ms - (int)(raw_now_ms() - t0);
                ssize_t n;

                if (left <= 0 || poll(&p, 1, left) <= 0)
                        break;
                if (cap - r->len < 4096) {
                        cap *= 2;
                        r->text = realloc(r->text, cap);
                        cr_assert(r->text != NULL);
                }
                n = recv(fd, r->text + r->len, cap - r->len - 1, 0);
                if (n <= 0) {
                        r->closed = true;
                        break;
                }
                r->len += (size_t)n;
        }
        r->ms = raw_now_ms() - t0;
        r->text[r->len] = '\0';
        raw_reply_parse(r);
}

/* Read one answer (head and Content-Length body), at most @p timeout_ms;
 * the connection stays open. False on timeout or close before it. */
static inline bool raw_read_one(int fd, int timeout_ms, raw_reply_t *r)
{
        size_t cap = 65536, want = 0;
        double t0 = raw_now_ms();

        memset(r, 0, sizeof(*r));
        r->text = malloc(cap);
        cr_assert(r->text != NULL);
        r->text[0] = '\0';
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int left = timeout_ms - (int)(raw_now_ms() - t0);
                const char *sep = strstr(r->text, "\r\n\r\n");
                ssize_t n;

                if (sep && !want) {
                        const char *cl = strcasestr(r->text,
                                                    "\r\nContent-Length:");

                        want = (size_t)(sep + 4 - r->text) +
                               (cl && cl < sep ?
                                        (size_t)strtoul(cl + 17, NULL, 10) :
                                        0);
                }
                if (want && r->len >= want)
                        break;
                if (left <= 0 || poll(&p, 1, left) <= 0)
                        return false;
                if (cap - r->len < 4096) {
                        cap *= 2;
                        r->text = realloc(r->text, cap);
                }
                n = recv(fd, r->text + r->len, cap - r->len - 1, 0);
                if (n <= 0) {
                        r->closed = true;
                        r->text[r->len] = '\0';
                        return false;
                }
                r->len += (size_t)n;
                r->text[r->len] = '\0';
        }
        r->ms = raw_now_ms() - t0;
        raw_reply_parse(r);
        return true;
}

/* Send @p req (@p len bytes) on a new connection and read until close. */
static inline void raw_exchange(int port, const void *req, size_t len,
                                int timeout_ms, raw_reply_t *r)
{
        int fd = raw_connect(port);

        raw_send(fd, req, len);
        raw_read_all(fd, timeout_ms, r);
        close(fd);
}

static inline int raw_count(const char *hay, const char *needle)
{
        int n = 0;

        for (const char *p = hay; (p = strstr(p, needle)); p++)
                n++;
        return n;
}

#endif /* SR_RAWHTTP_H */
