/* common/base/sr_sha256.h - SHA-256 (FIPS 180-4), portable C.
 *
 * The digests of an open stage's targets (docs/targets.md, section 2): the
 * codec hashes a chunk's Avro bytes (sr_digest.c) and the state machine,
 * which links no library, hashes the chunks' digests at a seal. Not on a
 * hot path: one chunk's bytes once, 32 bytes per chunk at a seal.
 */
#ifndef SR_SHA256_H
#define SR_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SR_SHA256_LEN 32

typedef struct sr_sha256_ctx {
        uint32_t h[8];
        uint64_t len; /* bytes hashed so far */
        uint8_t buf[64];
        size_t n; /* bytes in buf */
} sr_sha256_ctx_t;

void sr_sha256_init(sr_sha256_ctx_t *c);
void sr_sha256_update(sr_sha256_ctx_t *c, const void *data, size_t len);
/** @brief The digest; @p c must be initialised again before reuse. */
void sr_sha256_final(sr_sha256_ctx_t *c, uint8_t out[SR_SHA256_LEN]);
/** @brief SHA-256 of @p data[0..len) in one call. */
void sr_sha256(const void *data, size_t len, uint8_t out[SR_SHA256_LEN]);

/* A hash in progress as bytes, so that an input can carry it to the next
 * (the fill of a run started from a stored pipeline hashes its chunks'
 * digests one FillStep at a time): the eight state words big-endian, then
 * the bytes not yet hashed (fewer than 64). */
#define SR_SHA256_SAVED_MAX (32 + 63)

/** @brief @p c as bytes into @p out. @returns their count (32 + c->n). */
size_t sr_sha256_save(const sr_sha256_ctx_t *c,
                      uint8_t out[SR_SHA256_SAVED_MAX]);
/**
 * @brief A hash saved by sr_sha256_save() after @p len bytes were hashed.
 * @returns false, @p c unchanged, when @p n does not fit @p len (the bytes
 *          not yet hashed must be len % 64).
 */
bool sr_sha256_restore(sr_sha256_ctx_t *c, const uint8_t *saved, size_t n,
                       uint64_t len);

/** @brief A digest as 64 lower-case hex digits and a NUL (messages, JSON,
 *  command-id names). */
void sr_sha256_hex(const uint8_t d[SR_SHA256_LEN],
                   char out[2 * SR_SHA256_LEN + 1]);
/** @brief Exactly 64 hex digits, any case, into a digest. @returns false
 *  for any other text (@p out then undefined). */
bool sr_sha256_parse_hex(const char *s, size_t len,
                         uint8_t out[SR_SHA256_LEN]);

#endif /* SR_SHA256_H */
