/* common/io/sr_httpd.h - the small operations HTTP server of every worker.
 *
 *   GET /livez    200 "ok"
 *   GET /readyz   200 "ready", or 503 with the reason from handlers->ready
 *   GET /metrics  200, the registry in Prometheus text format 0.0.4
 *   other paths   404;  methods other than GET: 405 with "Allow: GET"
 *
 * libmicrohttpd with one internal thread: the handler callbacks run on that
 * thread, one request at a time, concurrently with the worker's threads.
 * They must be thread-safe with respect to the worker (read atomics, or
 * take the worker's own lock) and quick: a slow callback stalls every probe.
 */
#ifndef SR_HTTPD_H
#define SR_HTTPD_H

#include <stdbool.h>
#include <stddef.h>

#include "sr_err.h"
#include "sr_metrics.h"

typedef struct sr_httpd sr_httpd_t; /* opaque */

typedef struct sr_httpd_handlers {
        /* Readiness, called on the HTTP thread. Return true when ready;
         * otherwise write a short reason into why (NUL-terminated, at most
         * why_size bytes). NULL: always ready. */
        bool (*ready)(void *arg, char *why, size_t why_size);
        void *arg; /* passed to ready; borrowed */
        /* Rendered by GET /metrics; NULL answers 404. Borrowed: must outlive
         * the server. */
        sr_metrics_t *metrics;
} sr_httpd_handlers_t;

/**
 * @brief Start serving on @p bind (an address or host name, e.g.
 * "127.0.0.1", "::1", "0.0.0.0") and @p port (0: a free port, see
 * sr_httpd_port()). @p h is copied (NULL: no callbacks, no metrics); what
 * it points to is borrowed.
 * @param[out] out set on SR_OK; the caller owns the server and stops it
 *                 with sr_httpd_close().
 * @returns SR_OK, SR_ERR_INVALID (bad port or address), SR_ERR_IO (cannot
 *          listen, e.g. the port is taken) or SR_ERR_NOMEM.
 */
sr_err_t sr_httpd_open(const char *bind, int port,
                       const sr_httpd_handlers_t *h, sr_httpd_t **out,
                       sr_errctx_t *ec);

/** @brief The port actually listened on (useful after port 0). */
int sr_httpd_port(const sr_httpd_t *httpd);

struct sockaddr_storage;
/**
 * @brief Resolve the numeric or named address @p bind, with @p port, into
 * @p ss (for MHD_OPTION_SOCK_ADDR).
 * @returns SR_OK, SR_ERR_INVALID (cannot resolve).
 */
sr_err_t sr_httpd_resolve(const char *bind, int port,
                          struct sockaddr_storage *ss, sr_errctx_t *ec);

/**
 * @brief Stop the server: waits for the HTTP thread, so no callback runs
 * after it returns. NULL is a no-op.
 */
void sr_httpd_close(sr_httpd_t *httpd);

#endif /* SR_HTTPD_H */
