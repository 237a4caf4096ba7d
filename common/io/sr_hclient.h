/* common/io/sr_hclient.h - a minimal blocking HTTP/1.1 client for our own
 * servers on loopback (sr-dev probing /readyz, sr-dev --demo driving the
 * gateway) and for registering our schemas (sr_registry.h): one request
 * per connection ("Connection: close"), IPv4 literal hosts only (the
 * caller resolves names), the connect, send and read all within the
 * timeout, a Content-Length, chunked or read-to-close body, TLS only for
 * sr_hclient_request_https() (not verified), no redirects.
 *
 * Thread-safe: no shared state.
 */
#ifndef SR_HCLIENT_H
#define SR_HCLIENT_H

#include <stddef.h>

#include "sr_err.h"

#define SR_HCLIENT_BODY_MAX (16u << 20) /* larger answers: SR_ERR_TOO_LARGE */

typedef struct sr_hresp {
        int status;    /* e.g. 200 */
        char *body;    /* owned, NUL-terminated; sr_hresp_free() */
        size_t body_len;
} sr_hresp_t;

/**
 * @brief Send @p method @p target (origin-form, "/v0/runs/") to
 * @p host:@p port and read the whole answer within @p timeout_ms.
 * @param token  borrowed; NULL: no Authorization header, else "Bearer".
 * @param body   borrowed JSON, NULL: no body.
 * @param[out] out set on SR_OK only; caller owns it (sr_hresp_free()).
 * @returns SR_OK (whatever the status), SR_ERR_IO (connect/send/read
 *          failed or timed out), SR_ERR_CORRUPT (not an HTTP/1.x answer),
 *          SR_ERR_TOO_LARGE, SR_ERR_NOMEM, SR_ERR_INVALID (bad host).
 */
sr_err_t sr_hclient_request(const char *host, int port, const char *method,
                            const char *target, const char *token,
                            const char *body, int timeout_ms,
                            sr_hresp_t *out, sr_errctx_t *ec);

/**
 * @brief sr_hclient_request() with more header fields: @p headers
 * (borrowed; NULL: none) is whole lines, each ending "\r\n", sent as
 * they are ("Idempotency-Key: <key>\r\n"). The caller makes sure they
 * hold no bare CR or LF of their own.
 */
sr_err_t sr_hclient_request_headers(const char *host, int port,
                                    const char *method, const char *target,
                                    const char *token, const char *headers,
                                    const char *body, int timeout_ms,
                                    sr_hresp_t *out, sr_errctx_t *ec);

/**
 * @brief sr_hclient_request() over TLS (1.2 at least). The server's
 * certificate is NOT verified: for sr-dev probing the /readyz of a
 * gateway it started on loopback with gateway.tls.* (no secret is sent);
 * never for a token or a remote host.
 */
sr_err_t sr_hclient_request_https(const char *host, int port,
                                  const char *method, const char *target,
                                  const char *token, const char *body,
                                  int timeout_ms, sr_hresp_t *out,
                                  sr_errctx_t *ec);

/** @brief Free @p r's body; NULL ok. */
void sr_hresp_free(sr_hresp_t *r);

#endif /* SR_HCLIENT_H */
