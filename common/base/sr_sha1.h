/* common/base/sr_sha1.h - SHA-1 for UUID v5 ids (not for security).
 *
 * Every event carries a v5 id, so SHA-1 is on the worker's hot path.
 * libuuid's SHA-1 is plain C; this one uses the SHA extensions of x86-64
 * when the CPU has them (chosen once at run time) and portable C otherwise.
 */
#ifndef SR_SHA1_H
#define SR_SHA1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SR_SHA1_LEN 20

/** @brief SHA-1 of @p data[0..len). */
void sr_sha1(const void *data, size_t len, uint8_t out[SR_SHA1_LEN]);
/**
 * @brief SHA-1 of @p a[0..alen) followed by @p b[0..blen), without joining
 * them first (UUID v5: namespace bytes, then the name).
 */
void sr_sha1_2(const void *a, size_t alen, const void *b, size_t blen,
               uint8_t out[SR_SHA1_LEN]);
/** @brief "sha-ni" or "portable": the implementation in use. */
const char *sr_sha1_impl(void);

/** @brief Tests only: use the portable code even when SHA-NI is there. */
void sr_sha1_force_portable(bool on);

#endif /* SR_SHA1_H */
