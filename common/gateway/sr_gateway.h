/* common/gateway/sr_gateway.h - the REST gateway: requests in, commands
 * out, reads from its own projection of sr.changelog.
 *
 * sr_gateway_handle() turns one HTTP request into one answer. A read
 * (GET; the server answers HEAD as GET) never blocks: the server answers
 * it on its event loop. A write (PUT, POST, DELETE) may block up to
 * gateway.reply.timeout.ms (it waits for the worker's reply and for the
 * projection to catch up with it), so the server calls it from a write
 * thread. Any number of threads may call it at once. Writes go through a
 * command port (sr_gw_port.h): sr_gateway_new() builds the Kafka one, with
 * a background thread that feeds the projection from sr.changelog and the
 * waiting writes from sr.replies; sr_gateway_new_with_port() takes the
 * caller's (unit tests: no broker, no thread).
 */
#ifndef SR_GATEWAY_H
#define SR_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sr_conf.h"
#include "sr_err.h"
#include "sr_gw_port.h"
#include "sr_h1.h"
#include "sr_metrics.h"
#include "sr_proj.h"
#include "sr_slice.h"

typedef struct sr_gateway sr_gateway_t;

/** One request; every pointer is borrowed for the call. */
typedef struct sr_gw_request {
        const char *method;        /* "GET" */
        const char *target;        /* path and query as sent */
        const char *authorization; /* header values, NULL when absent */
        const char *content_type;
        const char *idempotency_key;
        const char *last_event_id; /* the watch API's resumption */
        const char *host;          /* not used: no answer depends on it
                                    * (links: gateway.public.url) */
        const void *body;
        size_t body_len;
        bool body_too_large; /* over the route's limit (sr_gateway_body_max()):
                                413 */
} sr_gw_request_t;

/** One answer. The caller frees body with sr_buf_free(). */
typedef struct sr_gw_response {
        int status;
        sr_buf_t body;
        const char *content_type; /* static */
        char allow[32];           /* 405: "GET, PUT" */
        int retry_after;          /* seconds for 503/202, 0: none */
        /* The watch API's answers are streamed (pull set): the caller
         * hands it to the HTTP server, which releases it (close). */
        sr_h1_stream_t stream;
        const char *headers;      /* static extra header lines, each
                                     ending "\r\n" (the console's CSP);
                                     NULL: none */
} sr_gw_response_t;

/**
 * @brief How the gateway tells the HTTP server that watch streams have
 * new data (sr_httpd_wake_streams()): called from the feed thread after
 * a batch with events. NULL @p wake: none (call it so before the server
 * closes). Thread-safe.
 */
void sr_gateway_set_watch_waker(sr_gateway_t *gw, void (*wake)(void *arg),
                                void *arg);

/**
 * @brief Open the projection (under conf->data_dir), load the tokens
 * (gateway.tokens.file and @p env_tokens, e.g. getenv("SR_API_TOKENS")),
 * connect the producer and start the feed thread.
 * @param conf, metrics borrowed; must outlive the gateway. metrics may be
 *        NULL.
 * @param[out] gwp caller owns; sr_gateway_destroy().
 */
sr_err_t sr_gateway_new(const sr_conf_t *conf, sr_metrics_t *metrics,
                        const char *env_tokens, sr_gateway_t **gwp,
                        sr_errctx_t *ec);

/**
 * @brief A gateway over the caller's command port and projection, without
 * producer, feed thread or broker (unit tests): ready at once, its writes
 * sent through @p port, its reads (and the answers of its writes) from
 * @p proj, which the caller feeds. Tokens as for sr_gateway_new().
 * @param conf, metrics borrowed; must outlive the gateway. metrics may be
 *        NULL.
 * @param proj borrowed: the caller opened it and closes it after
 *        sr_gateway_destroy().
 * @param port copied; port->ctx is borrowed and must outlive the gateway.
 *        Every call must be set. The port's calls run on the threads
 *        that call sr_gateway_handle().
 * @param[out] gwp caller owns; sr_gateway_destroy().
 * @returns SR_OK, SR_ERR_INVALID (no proj, or a call missing),
 *          SR_ERR_CONF (no token, a budget out of range), SR_ERR_NOMEM.
 */
sr_err_t sr_gateway_new_with_port(const sr_conf_t *conf,
                                  sr_metrics_t *metrics,
                                  const char *env_tokens, sr_proj_t *proj,
                                  const sr_gw_port_t *port,
                                  sr_gateway_t **gwp, sr_errctx_t *ec);

/**
 * @brief The checks of sr_gateway_handle() that need no body, for the
 * server to call once the head is read: route (404, 405), auth (401), the
 * 501 of a stored definition, readiness (503), and for writes Content-Type
 * (415) and the declared size (413, from req->body_too_large): the same
 * answer, in the same order, as sr_gateway_handle() would give after the
 * body. req->body is not read. Thread-safe; never blocks.
 * @param[out] resp written in full when the function answers.
 * @returns true when @p resp holds the answer (counted in the metrics);
 *          false: read the body and call sr_gateway_handle().
 */
/**
 * @brief The largest body of a request of @p method to @p target, by its
 * route: gateway.bulk.max.bytes for POST .../targets-bulk/, else
 * gateway.body.max.bytes (also for a path that matches no route: its
 * answer is a 404 or a 405 anyway). For the server to call once the head
 * is read; thread-safe, never blocks.
 */
size_t sr_gateway_body_max(sr_gateway_t *gw, const char *method,
                           const char *target);

bool sr_gateway_check_head(sr_gateway_t *gw, const sr_gw_request_t *req,
                           sr_gw_response_t *resp);

/** @brief Answer one request (thread-safe; may block up to the reply
 *  timeout). @p resp is written in full. */
void sr_gateway_handle(sr_gateway_t *gw, const sr_gw_request_t *req,
                       sr_gw_response_t *resp);

/** @brief False while the projection catches up, once the feed thread
 *  stopped, or while the broker is away as librdkafka reports it (a
 *  metadata probe every second, its "all brokers down" report); @p why
 *  says which. Always true with the caller's port. Any thread. */
bool sr_gateway_is_ready(sr_gateway_t *gw, char *why, size_t why_size);

/** A feed thread whose loop has not turned for this long is stuck. */
#define SR_GW_FEED_STUCK_MS 10000

/** @brief Is the changelog feed thread still turning its loop (a turn
 *  started in the last SR_GW_FEED_STUCK_MS)? False once it stopped or hung,
 *  so the service manager's watchdog (WATCHDOG=1 only while alive) restarts
 *  the gateway. Always true with the caller's port. Any thread.
 *  @param now_ms sr_clock_mono_ms(). */
bool sr_gateway_is_alive(sr_gateway_t *gw, int64_t now_ms);

/** @brief Stop the feed thread, close everything (not a projection the
 *  caller gave). NULL ok. */
void sr_gateway_destroy(sr_gateway_t *gw);

#endif /* SR_GATEWAY_H */
