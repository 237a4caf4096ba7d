/* common/gateway/sr_auth.h - API tokens of the gateway, each bound to one
 * enterprise. Tokens are compared in constant time and never logged.
 * Read-only after creation: any thread may call sr_auth_check(). */
#ifndef SR_AUTH_H
#define SR_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "sr_err.h"
#include "sr_model.h"

#define SR_AUTH_TOKEN_MAX 256 /* bytes, without the NUL */

typedef struct sr_auth sr_auth_t;

/**
 * @brief Load tokens from @p path (may be NULL or "": none) and from
 * @p env_tokens (may be NULL): "token:enterprise" per line in the file
 * (blank lines and '#' comments allowed), comma-separated in the variable.
 * @param[out] out set on SR_OK; caller owns it (sr_auth_destroy()).
 * An enterprise id is 1..63 bytes without '/' (a write's command id is
 * derived from "<enterprise>/<Idempotency-Key>").
 * @param[out] ec e.g. "tokens.txt:3: expected token:enterprise" or
 *                "SR_API_TOKENS entry 2: empty enterprise"; never the token.
 * @returns SR_OK, SR_ERR_CONF, SR_ERR_IO, SR_ERR_NOMEM.
 */
sr_err_t sr_auth_new(const char *path, const char *env_tokens,
                     sr_auth_t **out, sr_errctx_t *ec);

/** @brief Free. NULL ok. */
void sr_auth_destroy(sr_auth_t *auth);

/** @brief Number of tokens loaded. */
size_t sr_auth_count(const sr_auth_t *auth);

/**
 * @brief Check an Authorization header value ("Bearer <token>"; the scheme
 * "Token" is accepted too, any case). SP and HTAB are alike (RFC 9110):
 * any run of them may stand before the scheme, between scheme and token
 * (at least one) and after the token. Every configured token is compared,
 * each in constant time, so timing does not tell which prefix matched.
 * @param header may be NULL (missing header).
 * @param[out] enterprise set when true: the token's enterprise id.
 * @returns true when the token is known.
 */
bool sr_auth_check(const sr_auth_t *auth, const char *header,
                   char enterprise[SR_SHORT_MAX]);

#endif /* SR_AUTH_H */
