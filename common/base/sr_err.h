/* common/base/sr_err.h - one error enum for the whole project, with a context
 * buffer that grows while unwinding ("<where>: <op>: <cause>").
 * Thread-safe: no hidden state. */
#ifndef SR_ERR_H
#define SR_ERR_H

#include <stdarg.h>

#if defined(__GNUC__)
#define SR_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define SR_PRINTF(fmt, args)
#endif

#define SR_ERR_MAP(X)                                                  \
        X(NOMEM, "out of memory")                                      \
        X(INVALID, "invalid argument")                                 \
        X(CONF, "invalid configuration")                               \
        X(IO, "I/O error")                                             \
        X(NOT_FOUND, "not found")                                      \
        X(CORRUPT, "data corrupt or undecodable")                      \
        X(SCHEMA, "schema mismatch")                                   \
        X(KAFKA, "Kafka client error")                                 \
        X(TOO_LARGE, "record over the size limit")                     \
        X(MAP_FULL, "local store is full")                             \
        X(REJECTED, "refused by the state machine")                    \
        X(RETRY, "transient failure, retry later")                     \
        X(INTERNAL, "internal invariant broken (a bug)")               \
        X(FATAL, "fatal error, process must exit")                     \
        X(AUTH, "authentication to Kafka failed")

typedef enum sr_err {
        SR_OK = 0,
#define SR_ERR_ENUM(name, text) SR_ERR_##name,
        SR_ERR_MAP(SR_ERR_ENUM)
#undef SR_ERR_ENUM
        SR_ERR__COUNT /* not an error; keep last */
} sr_err_t;

/** @brief Static description of @p err; never NULL. */
const char *sr_strerror(sr_err_t err);
/** @brief Symbolic name ("NOT_FOUND") of @p err, for logs; never NULL. */
const char *sr_err_name(sr_err_t err);

typedef struct sr_errctx {
        sr_err_t code;
        char msg[512]; /* "<where>: <op>: <cause>" */
} sr_errctx_t;

/**
 * @brief Record @p code and a formatted message in @p ec (may be NULL).
 * @returns @p code, so callers can write: return sr_errctx_set(...);
 */
sr_err_t sr_errctx_set(sr_errctx_t *ec, sr_err_t code, const char *fmt, ...)
        SR_PRINTF(3, 4);

/** @brief Prepend "<formatted>: " to the message in @p ec (may be NULL). */
void sr_errctx_prefix(sr_errctx_t *ec, const char *fmt, ...) SR_PRINTF(2, 3);

#endif /* SR_ERR_H */
