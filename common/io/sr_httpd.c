/* common/io/sr_httpd.c - sockets, epoll event loops, deadlines and the pool
 * of blocking requests around sr_h1_conn_t (the protocol, in sr_h1_conn.c).
 * The operations endpoints are in sr_httpd_ops.c.
 *
 * Every loop owns its connections: only its thread touches them, except a
 * connection handed to the pool (phase SR_H1_PHASE_APP), which is out of
 * the loop's epoll set until a pool thread hands it back through the
 * loop's done list and eventfd. The listening socket is in every loop's
 * epoll set (EPOLLEXCLUSIVE: one loop wakes per connection); the loop
 * that accepts gives the connection to the loop with the fewest (through
 * the same done list), and a loop that finds the connection limit reached
 * takes the socket out of its set until a connection closes.
 *
 * https (opts.tls_*): every accepted connection gets an SSL and shakes
 * hands before its first request, under the first request head's
 * deadline (a client that never finishes is dropped like a slow one);
 * then its bytes go through sr_httpd_tls.c instead of recv()/sendmsg(),
 * the rest is the same. What OpenSSL has decrypted but the engine has
 * not taken yet is invisible to epoll: progress() hands it over before
 * it waits for the socket. */
#include "sr_httpd.h"

#include <assert.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "sr_httpd_int.h"
#include "sr_log.h"

#define EVENTS_MAX 64
#define ACCEPT_BATCH 32
#define TICK_MAX_MS 1000
#define LINGER_MS 2000             /* reading what a refused client sends */
#define LINGER_BYTES ((size_t)4 << 20)
#define STOP_GRACE_MS 5000         /* for answers still being sent */
#define IDLE_TIMEOUT_MS 10000
#define CONNECTIONS_DEFAULT 64
#define KEEPALIVE_MS 15000
static const char keepalive_note[] = ": keep-alive\n\n"; /* an SSE comment */

typedef struct loop loop_t;

typedef struct conn {
        struct conn *prev, *next; /* the loop's connections */
        struct conn *qnext;       /* pool queue, then the loop's done list */
        loop_t *loop;
        int fd;
        uint32_t events;   /* epoll interest; valid when registered */
        bool registered;   /* in the loop's epoll set */
        bool lingering;    /* answered and shut down: draining input */
        bool peer_eof;
        bool counted;      /* holds a slot of connections_max */
        bool first;        /* no request head complete yet */
        bool fresh;        /* accepted by another loop, not yet ours */
        bool sndbuf_set;   /* a streamed answer's socket buffer bounded */
        bool handshaking;  /* ssl set, handshake not done */
        SSL *ssl;          /* https; NULL: plain */
        sr_h1_phase_t phase; /* as last seen, for the deadlines */
        int64_t deadline;    /* CLOCK_MONOTONIC ms; 0: none */
        size_t lingered;
        sr_h1_conn_t h1;
} conn_t;

struct loop {
        sr_httpd_t *srv;
        pthread_t thread;
        bool started;
        int epfd, evfd;
        conn_t *conns;
        int n_conns;
        atomic_int load; /* connections given to it, for the balance */
        bool accepting;  /* the listening socket is in epfd */
        bool stop_seen;
        int64_t stop_deadline; /* 0 until the pool is done */
        int64_t next_check;
        atomic_bool stream_wake; /* pull every waiting stream */
        pthread_mutex_t mu; /* done */
        conn_t *done;       /* answered by the pool, or new for it */
        char date[40];      /* IMF-fixdate of now, for every answer */
        time_t date_sec;
};

struct sr_httpd {
        sr_httpd_opts_t opts;
        char *bind, *stop_message;
        sr_h1_app_t app;
        sr_httpd_handlers_t ops; /* the operations app */
        SSL_CTX *tls;            /* https; NULL: plain */
        int listen_fd;
        int port;
        atomic_int n_conns;     /* open, lingering ones excepted */
        atomic_int n_lingering;
        atomic_bool stopping;
        atomic_bool pool_done;
        loop_t *loops;
        int n_loops;
        /* the pool */
        pthread_mutex_t mu;
        pthread_cond_t cv;
        conn_t *qhead, *qtail;
        pthread_t *threads;
        int n_threads;
        bool pool_stopping; /* under mu */
};

static int64_t mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wake(loop_t *l)
{
        uint64_t one = 1;

        if (write(l->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
                SR_WARN("HTTPD", "eventfd write failed err=\"%s\"",
                        strerror(errno));
}

static void update_date(loop_t *l)
{
        time_t now = time(NULL);
        struct tm tm;

        if (now == l->date_sec)
                return;
        l->date_sec = now;
        gmtime_r(&now, &tm);
        strftime(l->date, sizeof(l->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* ------------------------------------------------------------ pool */

static void hand_back(conn_t *c)
{
        loop_t *l = c->loop;

        pthread_mutex_lock(&l->mu);
        c->qnext = l->done;
        l->done = c;
        pthread_mutex_unlock(&l->mu);
        wake(l);
}

static void *pool_main(void *arg)
{
        sr_httpd_t *s = arg;

        for (;;) {
                bool stopping;
                conn_t *c;

                pthread_mutex_lock(&s->mu);
                while (!s->qhead && !s->pool_stopping)
                        pthread_cond_wait(&s->cv, &s->mu);
                c = s->qhead;
                if (c) {
                        s->qhead = c->qnext;
                        if (!s->qhead)
                                s->qtail = NULL;
                }
                stopping = s->pool_stopping;
                pthread_mutex_unlock(&s->mu);
                if (!c)
                        break;
                if (stopping) /* queued before the stop: not started */
                        sr_h1_conn_fail(&c->h1, 503, 1, s->stop_message);
                else
                        sr_h1_conn_handle(&c->h1);
                hand_back(c);
        }
        return NULL;
}

/* False when the pool is stopped (or absent): answer it on the loop. */
static bool pool_submit(sr_httpd_t *s, conn_t *c)
{
        bool ok;

        pthread_mutex_lock(&s->mu);
        ok = s->opts.pool_threads > 0 && !s->pool_stopping;
        if (ok) {
                c->qnext = NULL;
                if (s->qtail)
                        s->qtail->qnext = c;
                else
                        s->qhead = c;
                s->qtail = c;
                pthread_cond_signal(&s->cv);
        }
        pthread_mutex_unlock(&s->mu);
        return ok;
}

/* Queued requests get 503, running ones finish; then the threads end. */
static void pool_stop(sr_httpd_t *s)
{
        pthread_mutex_lock(&s->mu);
        s->pool_stopping = true;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        for (int i = 0; i < s->n_threads; i++)
                pthread_join(s->threads[i], NULL);
}

/* ------------------------------------------------------------ connections */

static void set_interest(conn_t *c, uint32_t events)
{
        struct epoll_event ev = { .events = events, .data.ptr = c };
        int op = c->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

        if (c->registered && c->events == events)
                return;
        if (epoll_ctl(c->loop->epfd, op, c->fd, &ev) == 0) {
                c->registered = true;
                c->events = events;
        } else {
                SR_WARN("HTTPD", "epoll_ctl failed err=\"%s\"",
                        strerror(errno));
        }
}

static void unregister(conn_t *c)
{
        if (c->registered)
                epoll_ctl(c->loop->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        c->registered = false;
}

static void arm_accept(loop_t *l)
{
        sr_httpd_t *s = l->srv;
        struct epoll_event ev = { .events = EPOLLIN | EPOLLEXCLUSIVE,
                                  .data.ptr = &s->listen_fd };

        if (!l->accepting && epoll_ctl(l->epfd, EPOLL_CTL_ADD, s->listen_fd,
                                       &ev) == 0)
                l->accepting = true;
}

static void pause_accept(loop_t *l)
{
        if (l->accepting)
                epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->srv->listen_fd, NULL);
        l->accepting = false;
}

static void set_deadline(conn_t *c, int64_t at)
{
        c->deadline = at;
        if (at && at < c->loop->next_check)
                c->loop->next_check = at;
}

/* The socket, the SSL and the engine of @p c, and c itself. */
static void free_conn(conn_t *c)
{
        SSL_free(c->ssl);
        close(c->fd);
        sr_h1_conn_fini(&c->h1);
        free(c);
}

static void close_conn(conn_t *c)
{
        loop_t *l = c->loop;
        sr_httpd_t *s = l->srv;

        unregister(c);
        if (c->prev)
                c->prev->next = c->next;
        else
                l->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        l->n_conns--;
        atomic_fetch_sub(&l->load, 1);
        if (c->counted)
                atomic_fetch_sub(&s->n_conns, 1);
        else
                atomic_fetch_sub(&s->n_lingering, 1);
        free_conn(c);
        if (!l->accepting && !atomic_load(&s->stopping))
                arm_accept(l);
}

/* A new phase starts its deadline: the head from its first byte (the
 * first head from the accept: waiting before the first byte buys no
 * time), the body from the end of the head; none while the pool has the
 * request. */
static void enter_phase(conn_t *c, sr_h1_phase_t ph)
{
        const sr_httpd_opts_t *o = &c->loop->srv->opts;
        int64_t now = mono_ms();

        if (ph == c->phase)
                return;
        c->phase = ph;
        if (ph == SR_H1_PHASE_HEAD && c->first)
                return; /* the accept's deadline stands */
        c->first = false;
        switch (ph) {
        case SR_H1_PHASE_IDLE:
        case SR_H1_PHASE_WRITE:
                set_deadline(c, now + o->idle_timeout_ms);
                break;
        case SR_H1_PHASE_HEAD:
                set_deadline(c, now + o->header_timeout_ms);
                break;
        case SR_H1_PHASE_BODY:
                set_deadline(c, now + o->body_timeout_ms);
                break;
        case SR_H1_PHASE_STREAM:
                set_deadline(c, now + o->stream_keepalive_ms);
                break;
        default:
                set_deadline(c, 0);
                break;
        }
}

/* Answered with "Connection: close": stop sending, and read what the
 * client still sends for a while, so that our answer is not lost to the
 * reset a close with unread input would send. A lingering connection
 * gives its slot back (the client is done with us), but no more of them
 * than connections_max are kept. */
static void start_linger(conn_t *c)
{
        sr_httpd_t *s = c->loop->srv;

        if (c->peer_eof || atomic_load(&s->stopping)) {
                close_conn(c);
                return;
        }
        if (atomic_fetch_add(&s->n_lingering, 1) >=
            s->opts.connections_max) {
                atomic_fetch_sub(&s->n_lingering, 1);
                close_conn(c);
                return;
        }
        if (c->ssl && !c->handshaking)
                SSL_shutdown(c->ssl); /* close_notify, if the socket takes
                                       * it; never waits for the client's */
        if (shutdown(c->fd, SHUT_WR) != 0) {
                atomic_fetch_sub(&s->n_lingering, 1);
                close_conn(c);
                return;
        }
        c->counted = false;
        atomic_fetch_sub(&s->n_conns, 1);
        c->lingering = true;
        set_interest(c, EPOLLIN);
        set_deadline(c, mono_ms() + LINGER_MS);
        if (!c->loop->accepting)
                arm_accept(c->loop);
}

static void linger_read(conn_t *c)
{
        for (;;) {
                ssize_t n = recv(c->fd, c->h1.in, sizeof(c->h1.in), 0);

                if (n > 0) {
                        c->lingered += (size_t)n;
                        if (c->lingered < LINGER_BYTES)
                                continue;
                }
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                close_conn(c);
                return;
        }
}

/* Send what the engine has; false when the connection was closed. */
static bool flush(conn_t *c)
{
        for (;;) {
                sr_slice_t out[2];
                struct iovec iov[2];
                struct msghdr msg = { .msg_iov = iov };
                int n = sr_h1_conn_output(&c->h1, out);
                ssize_t sent;

                if (!n)
                        return true;
                for (int i = 0; i < n; i++) {
                        iov[i].iov_base = (void *)(uintptr_t)out[i].ptr;
                        iov[i].iov_len = out[i].len;
                }
                msg.msg_iovlen = (size_t)n;
                if (c->ssl) /* one slice a record; the loop sends the next */
                        sent = sr_httpd__tls_send(c->ssl, out[0].ptr,
                                                  out[0].len);
                else
                        sent = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
                if (sent > 0) {
                        sr_h1_conn_sent(&c->h1, (size_t)sent);
                        /* progress: the client is reading */
                        set_deadline(c, mono_ms() +
                                                c->loop->srv->opts
                                                        .idle_timeout_ms);
                        continue;
                }
                if (sent < 0 && (errno == EAGAIN || errno == EINTR))
                        return true;
                close_conn(c); /* the client is gone */
                return false;
        }
}

/* A streamed answer lives long: the kernel's part of its output is
 * bounded too (no autotuning up to tcp_wmem's max), so that a client that
 * stops reading holds little memory and is seen stalled soon. */
static void bound_sndbuf(conn_t *c)
{
        int size = SR_H1_STREAM_BUF;

        c->sndbuf_set = true;
        if (setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)))
                SR_WARN("HTTPD", "SO_SNDBUF failed err=\"%s\"",
                        strerror(errno));
}

static void on_readable(conn_t *c);

/* Bytes OpenSSL decrypted and holds that the engine can take now: epoll
 * will not tell (they left the socket). */
static bool tls_pending(conn_t *c)
{
        size_t space;

        if (!c->ssl || SSL_pending(c->ssl) <= 0)
                return false;
        sr_h1_conn_rbuf(&c->h1, &space);
        return space > 0;
}

/* Run the engine until it waits for the socket, the pool or the end. */
static void progress(conn_t *c)
{
        sr_httpd_t *s = c->loop->srv;

        for (;;) {
                sr_h1_phase_t ph = sr_h1_conn_run(&c->h1);

                switch (ph) {
                case SR_H1_PHASE_WRITE:
                        /* also when it is all sent at once: the next
                         * request's deadlines start afresh */
                        enter_phase(c, ph);
                        if (!c->sndbuf_set &&
                            sr_h1_conn_is_streaming(&c->h1))
                                bound_sndbuf(c);
                        if (!flush(c))
                                return;
                        if (sr_h1_conn_output(&c->h1,
                                              (sr_slice_t[2]){ { 0 } })) {
                                set_interest(c, EPOLLOUT);
                                return;
                        }
                        break; /* all sent: go on */
                case SR_H1_PHASE_APP:
                        enter_phase(c, ph);
                        unregister(c);
                        if (pool_submit(s, c))
                                return;
                        if (s->opts.pool_threads > 0) /* stopped */
                                sr_h1_conn_fail(&c->h1, 503, 1,
                                                s->stop_message);
                        else
                                sr_h1_conn_handle(&c->h1); /* no pool */
                        break;
                case SR_H1_PHASE_CLOSE:
                        start_linger(c);
                        return;
                case SR_H1_PHASE_STREAM:
                        /* reading only to see the client's end */
                        enter_phase(c, ph);
                        set_interest(c, EPOLLIN | EPOLLRDHUP);
                        return;
                default:
                        enter_phase(c, ph);
                        if (tls_pending(c)) {
                                on_readable(c);
                                break;
                        }
                        set_interest(c, EPOLLIN);
                        return;
                }
        }
}

static void on_readable(conn_t *c)
{
        size_t space;
        char *at = sr_h1_conn_rbuf(&c->h1, &space);
        ssize_t n;

        if (!space)
                return;
        n = c->ssl ? sr_httpd__tls_recv(c->ssl, at, space) :
                     recv(c->fd, at, space, 0);
        if (n > 0) {
                sr_h1_conn_received(&c->h1, (size_t)n);
        } else if (n == 0) {
                c->peer_eof = true;
                sr_h1_conn_eof(&c->h1);
        } else if (errno != EAGAIN && errno != EINTR) {
                c->peer_eof = true; /* reset: nothing can be sent either */
                sr_h1_conn_stop(&c->h1);
        }
}

/* Plain HTTP on the https port: one plain answer that says so (what
 * nginx does), best effort, then close. */
#define PLAIN_REFUSAL_BODY "this port speaks https: use https:// to reach it\n"
#define STR_(x) #x
#define STR(x) STR_(x)
static const char plain_refusal[] =
        "HTTP/1.1 400 Bad Request\r\n"
        "Content-Type: text/plain\r\n"
        "Content-Length: " STR(49) "\r\n"
        "Connection: close\r\n\r\n" PLAIN_REFUSAL_BODY;
static_assert(sizeof(PLAIN_REFUSAL_BODY) - 1 == 49,
              "plain_refusal's Content-Length");

/* One step of the handshake; true when done (the connection can read),
 * false while waiting or when it failed (then c is closed and freed). */
static bool handshake(conn_t *c)
{
        uint32_t want = EPOLLIN;
        char drain[4096];

        switch (sr_httpd__tls_accept(c->ssl, &want)) {
        case 1:
                c->handshaking = false;
                return true;
        case 0:
                set_interest(c, want);
                return false;
        case -2:
                SR_DEBUG("HTTPD", "plain HTTP on the https port: refused");
                if (send(c->fd, plain_refusal, sizeof(plain_refusal) - 1,
                         MSG_NOSIGNAL) > 0) {
                        /* the rest of the request, so that the close does
                         * not reset the answer away */
                        while (recv(c->fd, drain, sizeof(drain), 0) > 0)
                                ;
                        shutdown(c->fd, SHUT_WR);
                }
                break;
        default:
                SR_DEBUG("HTTPD", "TLS handshake failed: closed");
                break;
        }
        close_conn(c);
        return false;
}

static void conn_event(conn_t *c, uint32_t events)
{
        if (c->lingering) {
                linger_read(c);
                return;
        }
        if (c->handshaking) {
                if (!handshake(c))
                        return;
                events |= EPOLLIN; /* what came with the handshake */
        }
        if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                on_readable(c);
        progress(c);
}

/* Make @p c, accepted or handed over, one of @p l's connections. */
static void adopt(loop_t *l, conn_t *c)
{
        const sr_httpd_opts_t *o = &l->srv->opts;

        c->fresh = false;
        c->next = l->conns;
        if (l->conns)
                l->conns->prev = c;
        l->conns = c;
        l->n_conns++;
        c->phase = SR_H1_PHASE_IDLE;
        /* A new connection sends its request at once: the header deadline
         * runs from the accept. */
        set_deadline(c, mono_ms() + (o->header_timeout_ms <
                                                     o->idle_timeout_ms ?
                                             o->header_timeout_ms :
                                             o->idle_timeout_ms));
        set_interest(c, EPOLLIN);
        if (c->ssl) {
                c->handshaking = true;
                SSL_set_accept_state(c->ssl);
        }
}

/* The loop with the fewest connections (this one on a tie): whichever
 * loop the kernel wakes for a connection, they all get their share. */
static loop_t *least_loaded(loop_t *l)
{
        sr_httpd_t *s = l->srv;
        loop_t *best = l;
        int min = atomic_load(&l->load);

        for (int i = 0; i < s->n_loops; i++) {
                int n = atomic_load(&s->loops[i].load);

                if (n < min) {
                        min = n;
                        best = &s->loops[i];
                }
        }
        return best;
}

static void accept_some(loop_t *l)
{
        sr_httpd_t *s = l->srv;

        for (int i = 0; i < ACCEPT_BATCH && !atomic_load(&s->stopping);
             i++) {
                const int one = 1;
                loop_t *to;
                conn_t *c;
                int fd;

                if (atomic_fetch_add(&s->n_conns, 1) >=
                    s->opts.connections_max) {
                        atomic_fetch_sub(&s->n_conns, 1);
                        pause_accept(l);
                        return;
                }
                fd = accept4(s->listen_fd, NULL, NULL,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                        atomic_fetch_sub(&s->n_conns, 1);
                        if (errno == EMFILE || errno == ENFILE ||
                            errno == ENOBUFS || errno == ENOMEM) {
                                SR_WARN("HTTPD", "accept failed, pausing "
                                        "err=\"%s\"", strerror(errno));
                                pause_accept(l); /* retried on a tick */
                        }
                        return;
                }
                c = malloc(sizeof(*c));
                if (!c) {
                        close(fd);
                        atomic_fetch_sub(&s->n_conns, 1);
                        continue;
                }
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                memset(c, 0, offsetof(conn_t, h1));
                if (s->tls && (!(c->ssl = SSL_new(s->tls)) ||
                               !SSL_set_fd(c->ssl, fd))) {
                        SR_WARN("HTTPD", "SSL_new failed: connection "
                                "closed");
                        SSL_free(c->ssl);
                        ERR_clear_error();
                        free(c);
                        close(fd);
                        atomic_fetch_sub(&s->n_conns, 1);
                        continue;
                }
                c->counted = true;
                c->first = true;
                c->fd = fd;
                to = least_loaded(l);
                atomic_fetch_add(&to->load, 1);
                c->loop = to;
                sr_h1_conn_init(&c->h1, &s->app, s->opts.body_max, to->date);
                if (to == l) {
                        adopt(l, c);
                } else {
                        c->fresh = true;
                        hand_back(c); /* to its loop, through the done list */
                }
        }
}

static void expire(conn_t *c)
{
        const sr_httpd_opts_t *o = &c->loop->srv->opts;
        char msg[96];

        if (c->phase == SR_H1_PHASE_STREAM) {
                /* nothing to say for a while: a note keeps it alive */
                c->deadline = 0;
                sr_h1_conn_stream_note(&c->h1, keepalive_note);
                progress(c);
                return;
        }
        if (c->phase == SR_H1_PHASE_WRITE &&
            sr_h1_conn_is_streaming(&c->h1) &&
            !sr_h1_conn_is_stalled(&c->h1)) {
                /* The client reads nothing: it gets what is buffered and
                 * a last word if it ever reads again, within one more
                 * idle timeout; the stream is pulled no more. */
                sr_h1_conn_stall(&c->h1);
                set_deadline(c, mono_ms() + o->idle_timeout_ms);
                progress(c);
                return;
        }
        if (c->lingering || c->phase == SR_H1_PHASE_IDLE ||
            c->phase == SR_H1_PHASE_WRITE) {
                close_conn(c);
                return;
        }
        if (c->phase == SR_H1_PHASE_HEAD)
                snprintf(msg, sizeof(msg), "request header not complete "
                         "within %d ms", o->header_timeout_ms);
        else
                snprintf(msg, sizeof(msg), "request body not complete "
                         "within %d ms", o->body_timeout_ms);
        c->deadline = 0;
        sr_h1_conn_fail(&c->h1, 408, 0, msg);
        progress(c);
}

static void check_timers(loop_t *l, int64_t now)
{
        conn_t *c = l->conns, *next;

        l->next_check = now + TICK_MAX_MS;
        for (; c; c = next) {
                next = c->next;
                if (c->deadline && c->deadline <= now)
                        expire(c); /* may free c */
                else if (c->deadline && c->deadline < l->next_check)
                        l->next_check = c->deadline;
        }
}

static void take_done(loop_t *l)
{
        uint64_t n;
        conn_t *c;

        if (read(l->evfd, &n, sizeof(n)) < 0 && errno != EAGAIN)
                SR_WARN("HTTPD", "eventfd read failed err=\"%s\"",
                        strerror(errno));
        pthread_mutex_lock(&l->mu);
        c = l->done;
        l->done = NULL;
        pthread_mutex_unlock(&l->mu);
        if (atomic_exchange(&l->stream_wake, false)) {
                conn_t *s = l->conns, *next;

                for (; s; s = next) {
                        next = s->next; /* progress may free s */
                        if (s->phase == SR_H1_PHASE_STREAM)
                                progress(s);
                }
        }
        while (c) {
                conn_t *next = c->qnext;

                if (c->fresh) {
                        adopt(l, c);
                        if (atomic_load(&l->srv->stopping))
                                close_conn(c);
                } else {
                        if (atomic_load(&l->srv->stopping))
                                sr_h1_conn_stop(&c->h1);
                        progress(c);
                }
                c = next;
        }
}

/* The server stops: no more accepts; connections without a request in
 * progress close. */
static void begin_stop(loop_t *l)
{
        conn_t *c = l->conns, *next;

        l->stop_seen = true;
        pause_accept(l);
        for (; c; c = next) {
                next = c->next;
                if (c->phase == SR_H1_PHASE_APP)
                        continue; /* the pool hands it back */
                if (c->lingering) {
                        close_conn(c);
                        continue;
                }
                sr_h1_conn_stop(&c->h1);
                progress(c);
        }
}

static void *loop_main(void *arg)
{
        loop_t *l = arg;
        sr_httpd_t *s = l->srv;
        struct epoll_event evs[EVENTS_MAX];

        for (;;) {
                int64_t now = mono_ms();
                int64_t wait = l->next_check - now;
                int n;

                if (wait < 0)
                        wait = 0;
                if (wait > TICK_MAX_MS || (!l->accepting && wait > 250))
                        wait = l->accepting ? TICK_MAX_MS : 250;
                n = epoll_wait(l->epfd, evs, EVENTS_MAX, (int)wait);
                if (n < 0 && errno != EINTR) {
                        SR_ERROR("HTTPD", "epoll_wait failed err=\"%s\"",
                                 strerror(errno));
                        break;
                }
                update_date(l);
                for (int i = 0; i < n; i++) {
                        void *p = evs[i].data.ptr;

                        if (p == &s->listen_fd)
                                accept_some(l);
                        else if (p == &l->evfd)
                                take_done(l);
                        else
                                conn_event(p, evs[i].events);
                }
                now = mono_ms();
                if (now >= l->next_check)
                        check_timers(l, now);
                if (!atomic_load(&s->stopping)) {
                        if (!l->accepting &&
                            atomic_load(&s->n_conns) <
                                    s->opts.connections_max)
                                arm_accept(l);
                        continue;
                }
                if (!l->stop_seen)
                        begin_stop(l);
                if (!atomic_load(&s->pool_done))
                        continue;
                take_done(l);
                if (!l->stop_deadline)
                        l->stop_deadline = now + STOP_GRACE_MS;
                if (!l->n_conns)
                        break;
                if (now >= l->stop_deadline) {
                        while (l->conns)
                                close_conn(l->conns);
                        break;
                }
        }
        return NULL;
}

/* ------------------------------------------------------------ lifecycle */

static sr_err_t resolve(const char *bind, int port,
                        struct sockaddr_storage *ss, socklen_t *len,
                        sr_errctx_t *ec)
{
        struct addrinfo hints, *res;
        char service[8];
        int rc;

        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
        snprintf(service, sizeof(service), "%d", port);
        rc = getaddrinfo(bind, service, &hints, &res);
        if (rc)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "httpd %s: resolve: %s", bind,
                                     gai_strerror(rc));
        if (res->ai_addrlen > sizeof(*ss)) {
                freeaddrinfo(res);
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "httpd %s: address too long", bind);
        }
        memset(ss, 0, sizeof(*ss));
        memcpy(ss, res->ai_addr, res->ai_addrlen);
        *len = res->ai_addrlen;
        freeaddrinfo(res);
        return SR_OK;
}

static sr_err_t listen_on(sr_httpd_t *s, sr_errctx_t *ec)
{
        struct sockaddr_storage ss;
        socklen_t len;
        const int one = 1;
        sr_err_t err;

        err = resolve(s->bind, s->opts.port, &ss, &len, ec);
        if (err)
                return err;
        s->listen_fd = socket(ss.ss_family,
                              SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s->listen_fd < 0)
                return sr_errctx_set(ec, SR_ERR_IO, "httpd %s:%d: socket: %s",
                                     s->bind, s->opts.port, strerror(errno));
        setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(s->listen_fd, (struct sockaddr *)&ss, len) != 0 ||
            listen(s->listen_fd, 1024) != 0)
                return sr_errctx_set(ec, SR_ERR_IO,
                                     "httpd %s:%d: cannot listen: %s",
                                     s->bind, s->opts.port, strerror(errno));
        len = sizeof(ss);
        if (getsockname(s->listen_fd, (struct sockaddr *)&ss, &len) != 0)
                return sr_errctx_set(ec, SR_ERR_IO, "httpd: getsockname: %s",
                                     strerror(errno));
        s->port = ss.ss_family == AF_INET6 ?
                          ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) :
                          ntohs(((struct sockaddr_in *)&ss)->sin_port);
        return SR_OK;
}

/* Every loop is ready (a loop may hand a connection to any other) before
 * any of them runs. */
static sr_err_t init_loop(sr_httpd_t *s, loop_t *l, sr_errctx_t *ec)
{
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &l->evfd };

        l->srv = s;
        l->next_check = mono_ms() + TICK_MAX_MS;
        pthread_mutex_init(&l->mu, NULL);
        update_date(l);
        l->epfd = epoll_create1(EPOLL_CLOEXEC);
        l->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (l->epfd < 0 || l->evfd < 0 ||
            epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evfd, &ev) != 0)
                return sr_errctx_set(ec, SR_ERR_IO, "httpd: epoll: %s",
                                     strerror(errno));
        arm_accept(l);
        if (!l->accepting)
                return sr_errctx_set(ec, SR_ERR_IO, "httpd: epoll: %s",
                                     strerror(errno));
        return SR_OK;
}

static void destroy(sr_httpd_t *s)
{
        atomic_store(&s->stopping, true);
        for (int i = 0; i < s->n_loops; i++)
                if (s->loops[i].started)
                        wake(&s->loops[i]);
        pool_stop(s);
        atomic_store(&s->pool_done, true);
        for (int i = 0; i < s->n_loops; i++) {
                loop_t *l = &s->loops[i];

                if (l->started) {
                        wake(l);
                        pthread_join(l->thread, NULL);
                }
        }
        for (int i = 0; i < s->n_loops; i++) {
                loop_t *l = &s->loops[i];

                while (l->done) { /* handed over after its loop ended */
                        conn_t *c = l->done;

                        l->done = c->qnext;
                        free_conn(c);
                }
                if (l->epfd >= 0)
                        close(l->epfd);
                if (l->evfd >= 0)
                        close(l->evfd);
                if (l->srv)
                        pthread_mutex_destroy(&l->mu);
        }
        if (s->listen_fd >= 0)
                close(s->listen_fd);
        SSL_CTX_free(s->tls);
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        free(s->loops);
        free(s->threads);
        free(s->bind);
        free(s->stop_message);
        free(s);
}

sr_err_t sr_httpd__open(const sr_httpd_opts_t *opts, const sr_h1_app_t *app,
                       const sr_httpd_handlers_t *ops, sr_httpd_t **out,
                       sr_errctx_t *ec)
{
        sr_httpd_t *s;
        sr_err_t err;

        if (opts->port < 0 || opts->port > 65535)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "httpd: port %d out of range 0..65535",
                                     opts->port);
        s = calloc(1, sizeof(*s));
        if (!s)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "httpd: calloc");
        s->opts = *opts;
        s->listen_fd = -1;
        pthread_mutex_init(&s->mu, NULL);
        pthread_cond_init(&s->cv, NULL);
        if (s->opts.loops < 1)
                s->opts.loops = 1;
        if (s->opts.connections_max < 1)
                s->opts.connections_max = CONNECTIONS_DEFAULT;
        if (s->opts.header_timeout_ms < 1)
                s->opts.header_timeout_ms = SR_HTTPD_HEADER_TIMEOUT_MS;
        if (s->opts.body_timeout_ms < 1)
                s->opts.body_timeout_ms = SR_HTTPD_BODY_TIMEOUT_MS;
        if (s->opts.idle_timeout_ms < 1)
                s->opts.idle_timeout_ms = IDLE_TIMEOUT_MS;
        if (s->opts.stream_keepalive_ms < 1)
                s->opts.stream_keepalive_ms = KEEPALIVE_MS;
        s->app = *app;
        if (ops) {
                s->ops = *ops;
                s->app.arg = s;
        }
        s->bind = strdup(opts->bind ? opts->bind : "127.0.0.1");
        s->stop_message = strdup(opts->stop_message ?
                                         opts->stop_message :
                                         "the server is stopping; nothing "
                                         "was changed, retry");
        s->loops = calloc((size_t)s->opts.loops, sizeof(*s->loops));
        s->threads = calloc((size_t)(s->opts.pool_threads > 0 ?
                                             s->opts.pool_threads :
                                             1),
                            sizeof(*s->threads));
        if (!s->bind || !s->stop_message || !s->loops || !s->threads) {
                err = sr_errctx_set(ec, SR_ERR_NOMEM, "httpd: calloc");
                goto err_destroy;
        }
        s->opts.bind = s->bind;
        s->opts.stop_message = s->stop_message;
        for (int i = 0; i < s->opts.loops; i++)
                s->loops[i].epfd = s->loops[i].evfd = -1;
        if ((opts->tls_cert_file && *opts->tls_cert_file) ||
            (opts->tls_key_file && *opts->tls_key_file)) {
                err = sr_httpd__tls_ctx(opts, &s->tls, ec);
                if (err)
                        goto err_destroy;
        }
        /* the files were read: their names are not kept */
        s->opts.tls_cert_file = s->opts.tls_key_file =
                s->opts.tls_chain_file = NULL;
        err = listen_on(s, ec);
        if (err)
                goto err_destroy;
        for (int i = 0; i < s->opts.pool_threads; i++) {
                if (pthread_create(&s->threads[i], NULL, pool_main, s)) {
                        err = sr_errctx_set(ec, SR_ERR_IO, "httpd: thread");
                        goto err_destroy;
                }
                s->n_threads++;
        }
        for (int i = 0; i < s->opts.loops; i++) {
                s->n_loops++;
                err = init_loop(s, &s->loops[i], ec);
                if (err)
                        goto err_destroy;
        }
        for (int i = 0; i < s->n_loops; i++) {
                loop_t *l = &s->loops[i];

                if (pthread_create(&l->thread, NULL, loop_main, l)) {
                        err = sr_errctx_set(ec, SR_ERR_IO, "httpd: thread");
                        goto err_destroy;
                }
                l->started = true;
        }
        SR_INFO("HTTPD", "listening bind=%s port=%d scheme=%s loops=%d "
                "pool=%d connections_max=%d", s->bind, s->port,
                s->tls ? "https" : "http", s->opts.loops, s->n_threads,
                s->opts.connections_max);
        *out = s;
        return SR_OK;

err_destroy:
        destroy(s);
        return err;
}

sr_err_t sr_httpd_open_app(const sr_httpd_opts_t *opts,
                           const sr_h1_app_t *app, sr_httpd_t **out,
                           sr_errctx_t *ec)
{
        return sr_httpd__open(opts, app, NULL, out, ec);
}

const sr_httpd_handlers_t *sr_httpd__ops(const sr_httpd_t *httpd)
{
        return &httpd->ops;
}

sr_err_t sr_httpd_check_tls(const sr_httpd_opts_t *opts, sr_errctx_t *ec)
{
        SSL_CTX *ctx = NULL;
        sr_err_t err;

        if ((!opts->tls_cert_file || !*opts->tls_cert_file) &&
            (!opts->tls_key_file || !*opts->tls_key_file))
                return SR_OK;
        err = sr_httpd__tls_ctx(opts, &ctx, ec);
        SSL_CTX_free(ctx);
        return err;
}

int sr_httpd_port(const sr_httpd_t *httpd)
{
        return httpd->port;
}

void sr_httpd_wake_streams(sr_httpd_t *httpd)
{
        for (int i = 0; httpd && i < httpd->n_loops; i++) {
                loop_t *l = &httpd->loops[i];

                if (!l->started)
                        continue;
                atomic_store(&l->stream_wake, true);
                wake(l);
        }
}

void sr_httpd_close(sr_httpd_t *httpd)
{
        if (httpd)
                destroy(httpd);
}
