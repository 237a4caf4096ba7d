/* common/io/sr_httpd.h - the HTTP/1.1 server of every process: sr-gateway's
 * API (sr_httpd_open_app) and the workers' operations endpoints
 * (sr_httpd_open):
 *
 *   GET /livez    200 "ok"
 *   GET /readyz   200 "ready", or 503 with the reason from handlers->ready
 *   GET /metrics  200, the registry in Prometheus text format 0.0.4
 *   HEAD          as GET, without the body
 *   other paths   404;  other methods: 405 with "Allow: GET, HEAD"
 *
 * Event loops (epoll, non-blocking sockets) drive one sr_h1_conn_t per
 * connection (common/sr_h1.h: the protocol, without sockets): requests are
 * parsed, refused or answered there; this module adds the sockets, the
 * connection limit, the deadlines and a pool of threads for requests the
 * application marks blocking. Deadlines: the request head must arrive
 * within header_timeout_ms of its first byte (or of the connection's
 * accept), the body within body_timeout_ms of the end of the head (both:
 * 408 and close); a keep-alive connection idle for idle_timeout_ms, or a
 * client that reads nothing of an answer for as long, is closed. At the
 * connection limit no connection is accepted (clients wait in the kernel's
 * backlog) and the open ones are served as usual.
 *
 * Threads: the application's callbacks run on the event loops (on_head,
 * and on_request of inline requests: they must not block) and on the pool
 * (on_request of blocking requests); they must be thread-safe.
 */
#ifndef SR_HTTPD_H
#define SR_HTTPD_H

#include <stdbool.h>
#include <stddef.h>

#include "sr_err.h"
#include "sr_h1.h"
#include "sr_metrics.h"

typedef struct sr_httpd sr_httpd_t; /* opaque */

#define SR_HTTPD_HEADER_TIMEOUT_MS 10000 /* http.header.timeout.ms */
#define SR_HTTPD_BODY_TIMEOUT_MS 30000   /* http.body.timeout.ms */

typedef struct sr_httpd_opts {
        const char *bind;     /* address or host name ("127.0.0.1", "::") */
        int port;             /* 0: a free port, see sr_httpd_port() */
        int loops;            /* event-loop threads; < 1: 1 */
        int pool_threads;     /* threads of blocking requests; 0: none
                               * (blocking requests then run inline) */
        int connections_max;  /* open connections at most; < 1: 64 */
        int header_timeout_ms; /* < 1: SR_HTTPD_HEADER_TIMEOUT_MS */
        int body_timeout_ms;   /* < 1: SR_HTTPD_BODY_TIMEOUT_MS */
        int idle_timeout_ms;   /* < 1: 10000 */
        size_t body_max;       /* largest request body (413 above) */
        /* A streamed answer with nothing to send for as long gets a
         * note (an SSE comment); < 1: 15000. */
        int stream_keepalive_ms;
        /* The 503 message of blocking requests still queued when the
         * server stops (copied); NULL: "the server is stopping; nothing
         * was changed, retry". */
        const char *stop_message;
        /* https: PEM files (copied names). tls_cert_file and tls_key_file
         * both set: every connection is TLS (1.2 at least, ALPN
         * http/1.1), the handshake within header_timeout_ms of the
         * accept; both NULL or "": plain HTTP. tls_chain_file (NULL or
         * ""): intermediate certificates sent after the certificate. */
        const char *tls_cert_file;
        const char *tls_key_file;
        const char *tls_chain_file;
} sr_httpd_opts_t;

/**
 * @brief Listen on opts->bind:opts->port and serve @p app.
 * @param opts copied (its strings too).
 * @param app  borrowed: must outlive the server.
 * @param[out] out set on SR_OK; the caller owns the server and stops it
 *                 with sr_httpd_close().
 * @returns SR_OK, SR_ERR_INVALID (bad port or address), SR_ERR_IO (cannot
 *          listen, e.g. the port is taken; or no thread) or SR_ERR_NOMEM.
 */
sr_err_t sr_httpd_open_app(const sr_httpd_opts_t *opts,
                           const sr_h1_app_t *app, sr_httpd_t **out,
                           sr_errctx_t *ec);

typedef struct sr_httpd_handlers {
        /* Readiness, called on the HTTP thread. Return true when ready;
         * otherwise write a short reason into why (NUL-terminated, at most
         * why_size bytes). NULL: always ready. */
        bool (*ready)(void *arg, char *why, size_t why_size);
        void *arg; /* passed to ready; borrowed */
        /* Rendered by GET /metrics; NULL answers 404. Borrowed: must outlive
         * the server. */
        sr_metrics_t *metrics;
        int header_timeout_ms; /* http.header.timeout.ms; < 1: default */
        int body_timeout_ms;   /* http.body.timeout.ms; < 1: default */
} sr_httpd_handlers_t;

/**
 * @brief Serve the operations endpoints on @p bind (an address or host
 * name, e.g. "127.0.0.1", "::1", "0.0.0.0") and @p port (0: a free port,
 * see sr_httpd_port()): one event loop, at most 64 connections. @p h is
 * copied (NULL: no callbacks, no metrics); what it points to is borrowed.
 * The callbacks run on the server's thread, one request at a time,
 * concurrently with the worker's threads: they must be thread-safe with
 * respect to the worker (read atomics, or take the worker's own lock) and
 * quick: a slow callback stalls every probe.
 * @param[out] out as for sr_httpd_open_app().
 * @returns as sr_httpd_open_app().
 */
sr_err_t sr_httpd_open(const char *bind, int port,
                       const sr_httpd_handlers_t *h, sr_httpd_t **out,
                       sr_errctx_t *ec);

/** @brief The port actually listened on (useful after port 0). */
/**
 * @brief Read opts->tls_* as sr_httpd_open_app() would, and let go: a
 * certificate or key error is known at start-up, before slower steps.
 * @returns SR_OK (also when no TLS is asked for) or as sr_httpd_open_app().
 */
sr_err_t sr_httpd_check_tls(const sr_httpd_opts_t *opts, sr_errctx_t *ec);

int sr_httpd_port(const sr_httpd_t *httpd);

/**
 * @brief New data may be there for streamed answers (sr_h1_stream_t):
 * every stream waiting for data is pulled again, soon, on its own loop.
 * Thread-safe, does not block; callable until sr_httpd_close() begins.
 * Streams: each connection's output is bounded by SR_H1_STREAM_BUF bytes
 * (plus the kernel's socket buffer); a stream with nothing to send for
 * stream_keepalive_ms gets a note; a client that takes no byte of a
 * streamed answer for idle_timeout_ms is stalled (sr_h1_conn_stall(): its
 * last word follows what is buffered) and closed if it still reads
 * nothing for as long again.
 */
void sr_httpd_wake_streams(sr_httpd_t *httpd);

/**
 * @brief Stop the server: no new connection is accepted; blocking
 * requests still queued are answered 503 (opts->stop_message, Retry-After:
 * 1) without running; those running finish and their answers are sent;
 * idle connections close. Waits for every thread, so no callback runs
 * after it returns. NULL is a no-op.
 */
void sr_httpd_close(sr_httpd_t *httpd);

#endif /* SR_HTTPD_H */
