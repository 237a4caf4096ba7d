/* tests/fuzz/fuzz_gwpath.h - the gateway's request path without sockets
 * or broker, in the order sr_gateway_handle() takes it; shared by
 * fuzz_http (requests in a line format) and fuzz_http1 (raw HTTP/1.1
 * through sr_h1). Aborts (a libFuzzer crash) when an invariant breaks.
 */
#ifndef FUZZ_GWPATH_H
#define FUZZ_GWPATH_H

#include <stddef.h>

#include "sr_http.h"

/* One request; header values NULL when absent. Borrowed. */
typedef struct fuzz_gw_req {
        const char *method, *target;
        const char *authorization, *content_type, *idempotency_key, *host;
        const char *body;
        size_t body_len;
} fuzz_gw_req_t;

/** @brief Report a broken invariant and abort. */
void fuzz_fail(const char *what, const char *msg);

/**
 * @brief Run every check and body parser of the gateway on @p r (all of
 * them, whatever the earlier ones say, for coverage), building the
 * envelope of each refusal and each page.
 * @param[out] first the first refusal in the gateway's order of checks
 *                   (status 0 when none).
 * @returns first->status, or 200 when nothing refuses the request.
 */
int fuzz_gw_run(const fuzz_gw_req_t *r, sr_http_problem_t *first);

#endif /* FUZZ_GWPATH_H */
