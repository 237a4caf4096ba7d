/* tests/unit/io/test_sr_httpd_stream.c - streamed answers (sr_h1_stream_t)
 * on a real loopback socket: many streams woken at once, a client that
 * never reads stalled and closed without holding back the others, the
 * keep-alive note of a quiet stream.
 *
 * The app streams one shared log of messages ("id: N\ndata: ...\n\n"),
 * each stream from its own cursor, as the gateway streams a run's events.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rawhttp.h"
#include "sr_httpd.h"

#define LOG_MAX 4096
#define IDLE_MS 600
#define KEEPALIVE_MS 5000 /* a wake, not a keep-alive, must move streams */
#define QUICK_KEEPALIVE_MS 200

static sr_httpd_t *srv;
static int port;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char *log_msgs[LOG_MAX];
static int log_n;
static atomic_int opened, closed, closed_stalled;

typedef struct cursor {
        int next;
} cursor_t;

static sr_h1_pull_t st_pull(void *arg, char *out, size_t room, size_t *n)
{
        cursor_t *cur = arg;

        *n = 0;
        pthread_mutex_lock(&log_mu);
        while (cur->next < log_n) {
                size_t len = strlen(log_msgs[cur->next]);

                if (*n + len > room)
                        break;
                memcpy(out + *n, log_msgs[cur->next++], len);
                *n += len;
        }
        pthread_mutex_unlock(&log_mu);
        return SR_H1_PULL_WAIT;
}

static void st_close(void *arg, bool stalled)
{
        free(arg);
        atomic_fetch_add(&closed, 1);
        if (stalled)
                atomic_fetch_add(&closed_stalled, 1);
}

static void app_request(void *arg, const sr_h1_request_t *r,
                        sr_h1_response_t *resp)
{
        cursor_t *cur = calloc(1, sizeof(*cur));

        (void)arg;
        (void)r;
        cr_assert(cur != NULL);
        pthread_mutex_lock(&log_mu);
        cur->next = log_n; /* from now */
        pthread_mutex_unlock(&log_mu);
        atomic_fetch_add(&opened, 1);
        resp->status = 200;
        resp->content_type = "text/event-stream";
        resp->stream = (sr_h1_stream_t){
                .pull = st_pull, .close = st_close, .arg = cur,
                .stalled_last = "event: dropped\ndata: {}\n\n" };
}

static const sr_h1_app_t app = { .on_request = app_request };

/* Append message @p id with @p pad bytes of data, then wake. */
static void push(int id, size_t pad)
{
        char *m = malloc(pad + 64);
        int n;

        cr_assert(m != NULL);
        n = snprintf(m, 64, "id: %d\ndata: ", id);
        memset(m + n, 'x', pad);
        memcpy(m + n + pad, "\n\n", 3);
        pthread_mutex_lock(&log_mu);
        cr_assert(lt(int, log_n, LOG_MAX));
        log_msgs[log_n++] = m;
        pthread_mutex_unlock(&log_mu);
        sr_httpd_wake_streams(srv);
}

static void open_server(int keepalive_ms)
{
        sr_httpd_opts_t o = { .bind = "127.0.0.1", .loops = 2,
                              .connections_max = 256,
                              .idle_timeout_ms = IDLE_MS,
                              .stream_keepalive_ms = keepalive_ms,
                              .body_max = 1024 };
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_httpd_open_app(&o, &app, &srv, &ec), SR_OK),
                  "%s", ec.msg);
        port = sr_httpd_port(srv);
}

static void setup(void)
{
        log_n = 0;
        atomic_store(&opened, 0);
        atomic_store(&closed, 0);
        atomic_store(&closed_stalled, 0);
        open_server(KEEPALIVE_MS);
}

static void teardown(void)
{
        sr_httpd_close(srv);
        for (int i = 0; i < log_n; i++)
                free(log_msgs[i]);
}

TestSuite(sr_httpd_stream, .init = setup, .fini = teardown, .timeout = 60);

/* A stream whose head was read; the fd is blocking. */
static int open_stream(int rcvbuf)
{
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET,
                                  .sin_port = htons((uint16_t)port),
                                  .sin_addr.s_addr =
                                          htonl(INADDR_LOOPBACK) };
        char head[1024];
        size_t len = 0;

        cr_assert(fd >= 0);
        if (rcvbuf)
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
                           sizeof(rcvbuf));
        cr_assert(eq(int, connect(fd, (struct sockaddr *)&sa, sizeof(sa)),
                     0));
        cr_assert(raw_send_str(fd, "GET /s HTTP/1.1\r\nHost: h\r\n\r\n"));
        while (!memmem(head, len, "\r\n\r\n", 4)) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t n;

                cr_assert(eq(int, poll(&p, 1, 5000), 1), "no stream head");
                n = recv(fd, head + len, sizeof(head) - len - 1, 0);
                cr_assert(gt(sz, (size_t)(n > 0 ? n : 0), 0));
                len += (size_t)n;
                head[len] = '\0';
        }
        cr_assert(not(eq(ptr, strstr(head, "text/event-stream"), NULL)));
        cr_assert(eq(ptr, strstr(head, "Content-Length"), NULL));
        return fd;
}

/* Read from @p fd until "id: <id>\n" was seen (the text accumulates in
 * @p acc, the tail kept); the ms it took, or -1 on timeout or close. */
static double read_until(int fd, int id, char *acc, size_t cap, size_t *len,
                         int timeout_ms)
{
        char want[32];
        double t0 = raw_now_ms();

        snprintf(want, sizeof(want), "id: %d\n", id);
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int left = timeout_ms - (int)(raw_now_ms() - t0);
                ssize_t n;

                acc[*len] = '\0';
                if (strstr(acc, want))
                        return raw_now_ms() - t0;
                if (*len > cap / 2) { /* keep the tail only */
                        memmove(acc, acc + *len - 64, 64);
                        *len = 64;
                }
                if (left <= 0 || poll(&p, 1, left) <= 0)
                        return -1;
                n = recv(fd, acc + *len, cap - *len - 1, 0);
                if (n <= 0)
                        return -1;
                *len += (size_t)n;
        }
}

Test(sr_httpd_stream, sixty_streams_each_get_a_message_soon_after_a_wake)
{
        enum { N = 60 };
        static char acc[N][4096];
        size_t len[N] = { 0 };
        int fds[N];
        double worst = 0;

        for (int i = 0; i < N; i++)
                fds[i] = open_stream(0);
        for (int id = 1; id <= 3; id++) {
                push(id, 100);
                for (int i = 0; i < N; i++) {
                        double ms = read_until(fds[i], id, acc[i],
                                               sizeof(acc[i]), &len[i],
                                               2000);

                        cr_assert(ge(dbl, ms, 0), "stream %d missed %d", i,
                                  id);
                        worst = ms > worst ? ms : worst;
                }
        }
        cr_log_info("60 streams: worst wait for a message %.1f ms", worst);
        for (int i = 0; i < N; i++)
                close(fds[i]);
        cr_assert(eq(int, atomic_load(&opened), N));
}

Test(sr_httpd_stream,
     a_client_that_never_reads_is_stalled_and_closed_others_keep_up)
{
        static char acc[65536];
        size_t len = 0;
        int sleeper = open_stream(4096); /* reads nothing from now on */
        int reader = open_stream(0);
        double worst = 0, t0 = raw_now_ms();
        int id = 0;

        /* 3 s of 8 KiB messages: far more than the sleeper's buffers */
        while (raw_now_ms() - t0 < 3 * IDLE_MS + 1200) {
                double ms;

                push(++id, 8192);
                ms = read_until(reader, id, acc, sizeof(acc), &len, 2000);
                cr_assert(ge(dbl, ms, 0), "the reader missed %d", id);
                worst = ms > worst ? ms : worst;
                usleep(2000);
        }
        cr_log_info("reader beside a sleeper: %d messages, worst wait "
                    "%.1f ms", id, worst);
        cr_assert(lt(dbl, worst, 500.0));
        cr_assert(eq(int, atomic_load(&closed_stalled), 1),
                  "the sleeper was not dropped (closed %d)",
                  atomic_load(&closed));
        close(sleeper);
        close(reader);
}

Test(sr_httpd_stream, a_stalled_client_that_reads_again_gets_the_last_word)
{
        int fd = open_stream(4096);
        raw_reply_t r;

        for (int id = 1; id <= 1024; id++)
                push(id, 8192); /* 8 MiB: more than the socket buffers */
        usleep((IDLE_MS + 200) * 1000); /* stalled, not yet closed */
        raw_read_all(fd, 5000, &r);
        cr_assert(r.closed);
        cr_assert(not(eq(ptr, strstr(r.text, "\n\nevent: dropped\ndata: "
                                             "{}\n\n"),
                         NULL)),
                  "no last word in %zu bytes", r.len);
        for (int i = 0; i < 300 && !atomic_load(&closed_stalled); i++)
                usleep(10000); /* the server's close follows its last byte */
        cr_assert(eq(int, atomic_load(&closed_stalled), 1));
        free(r.text);
        close(fd);
}

Test(sr_httpd_stream, a_quiet_stream_gets_a_keep_alive_note)
{
        char acc[4096];
        size_t len = 0;
        int fd;
        double t0;

        sr_httpd_close(srv);
        open_server(QUICK_KEEPALIVE_MS);
        fd = open_stream(0);
        t0 = raw_now_ms();

        while (len < 10 && raw_now_ms() - t0 < 3000) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t n;

                if (poll(&p, 1, 3000) != 1)
                        break;
                n = recv(fd, acc + len, sizeof(acc) - len - 1, 0);
                if (n <= 0)
                        break;
                len += (size_t)n;
        }
        acc[len] = '\0';
        cr_assert(eq(str, acc, ": keep-alive\n\n"));
        cr_assert(ge(dbl, raw_now_ms() - t0, QUICK_KEEPALIVE_MS * 0.8));
        close(fd);
}

Test(sr_httpd_stream, a_client_that_leaves_releases_its_stream)
{
        int fd = open_stream(0);
        double t0 = raw_now_ms();

        close(fd);
        while (atomic_load(&closed) < 1 && raw_now_ms() - t0 < 3000)
                usleep(10000);
        cr_assert(eq(int, atomic_load(&closed), 1));
        cr_assert(eq(int, atomic_load(&closed_stalled), 0));
}
