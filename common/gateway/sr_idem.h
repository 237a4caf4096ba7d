/* common/gateway/sr_idem.h - the gateway's memory of Idempotency-Keys.
 *
 * A key belongs to an enterprise: (enterprise, key) is looked up by its
 * full value (a keyed hash only picks the bucket), and remembers the
 * fingerprint of the first request sent with it: the route it named (route
 * id and path ids, not the path's spelling) and a SHA-1 of its body. A
 * retry with the same fingerprint is SAME, with another CONFLICT (409). No
 * other key, of this enterprise or another, can change that answer.
 *
 * Bounded: a key is forgotten @p ttl_ms after its first use, and when
 * @p max_keys are held the oldest is forgotten first. A forgotten key is
 * FIRST again. The memory itself is per process; the gateway's feed
 * fills it from the fleet's claim records (sr_idem_claim_t, the topic
 * <topic.prefix>idempotency), so a restart or another gateway of the
 * fleet knows the key (docs/api-decisions.md).
 *
 * Thread-safe: one mutex inside; every call is O(1) amortised (plus the
 * keys that expire). Time is a parameter (milliseconds of any monotonic
 * clock), so tests drive it.
 */
#ifndef SR_IDEM_H
#define SR_IDEM_H

#include <stddef.h>
#include <stdint.h>

#include "sr_err.h"
#include "sr_http.h"
#include "sr_sha1.h"
#include "sr_slice.h"

#define SR_IDEM_FP_LEN SR_SHA1_LEN

typedef struct sr_idem sr_idem_t;

typedef enum sr_idem_verdict {
        SR_IDEM_FIRST = 0, /* not known (or forgotten): remembered now */
        SR_IDEM_SAME,      /* known with this fingerprint: a retry */
        SR_IDEM_CONFLICT,  /* known with another fingerprint: 409 */
} sr_idem_verdict_t;

typedef struct sr_idem_stats {
        uint64_t keys;    /* held now */
        uint64_t expired; /* forgotten after ttl_ms, since new */
        uint64_t evicted; /* forgotten early because max_keys were held */
} sr_idem_stats_t;

/**
 * @brief An empty memory.
 * @param max_keys most keys held (>= 1); the bucket array is sized for it
 *        up front (8 bytes per key, touched as it fills).
 * @param ttl_ms   how long a key is kept after its first use (>= 1).
 * @param seed     key of the bucket hash: random in production (so that
 *        nobody can pick keys that share a bucket), fixed in tests.
 * @param[out] out set on SR_OK; caller owns it (sr_idem_destroy()).
 * @returns SR_OK, SR_ERR_INVALID (a zero bound), SR_ERR_NOMEM.
 */
sr_err_t sr_idem_new(size_t max_keys, int64_t ttl_ms, uint64_t seed,
                     sr_idem_t **out, sr_errctx_t *ec);

/** @brief Free every key and the table. NULL ok. */
void sr_idem_destroy(sr_idem_t *idem);

/**
 * @brief The fingerprint of a write: SHA-1 of the route identity (route
 * id and every path id, as bytes: "/v0/runs/", "/v0/runs" and
 * "/api/pipelines/v0/runs/" are one route, UUIDs in any case one id)
 * followed by the body as sent, byte for byte.
 * @param[in] route borrowed; from sr_http_route().
 * @param[in] body  borrowed, @p len bytes; NULL with len 0 is empty.
 */
void sr_idem_fingerprint(const sr_route_t *route, const void *body,
                         size_t len, uint8_t out[SR_IDEM_FP_LEN]);

/**
 * @brief Look (@p enterprise, @p key) up at time @p now_ms and remember it
 * with @p fp when it is not known. Keys older than ttl_ms are forgotten
 * first; a new key when max_keys are held forgets the oldest.
 * @param[in] enterprise, key borrowed, NUL-terminated; compared in full
 *            (enterprise < 256 bytes, key < 65536 bytes, else INVALID).
 * @param[out] verdict set on SR_OK.
 * @returns SR_OK, SR_ERR_INVALID, SR_ERR_NOMEM (nothing remembered).
 */
sr_err_t sr_idem_check(sr_idem_t *idem, const char *enterprise,
                       const char *key, const uint8_t fp[SR_IDEM_FP_LEN],
                       int64_t now_ms, sr_idem_verdict_t *verdict,
                       sr_errctx_t *ec);

/**
 * @brief What sr_idem_check() answers, without remembering anything:
 * FIRST means "not known" (or known but older than ttl_ms).
 * @returns SR_OK, SR_ERR_INVALID (as sr_idem_check()).
 */
sr_err_t sr_idem_peek(sr_idem_t *idem, const char *enterprise,
                      const char *key, const uint8_t fp[SR_IDEM_FP_LEN],
                      int64_t now_ms, sr_idem_verdict_t *verdict,
                      sr_errctx_t *ec);

/* ------------------------------------------------ the fleet's claims */

#define SR_IDEM_ENTERPRISE_MAX 255 /* bytes, as sr_idem_check() takes */

/* One key's claim on the topic <topic.prefix>idempotency: the first
 * unexpired claim of (enterprise, key) in its partition is the key's
 * fingerprint for every gateway of the fleet. */
typedef struct sr_idem_claim {
        char enterprise[SR_IDEM_ENTERPRISE_MAX + 1];
        char key[SR_HTTP_IDEM_KEY_MAX + 1];
        uint8_t fp[SR_IDEM_FP_LEN];
        int64_t first_use_ms; /* wall clock, ms since the epoch */
} sr_idem_claim_t;

/**
 * @brief The claim's record: key "<fingerprint, 40 hex digits>/<the name
 * sr_idem_uuid() hashes for the command id>" (one record per key and
 * fingerprint survives compaction: two gateways racing with other bodies
 * both stay readable, and the first still decides), value the JSON
 * object {"enterprise","key","fingerprint","first_use_ms"}.
 * @param[out] key, value set on SR_OK; the caller owns them
 *             (sr_buf_free()). Neither is NUL-terminated.
 * @returns SR_OK, SR_ERR_INVALID (an enterprise or key too long or
 *          empty), SR_ERR_NOMEM.
 */
sr_err_t sr_idem_claim_encode(const sr_idem_claim_t *c, sr_buf_t *key,
                              sr_buf_t *value, sr_errctx_t *ec);

/**
 * @brief Read a claim record's value back.
 * @param value borrowed.
 * @returns SR_OK, SR_ERR_CORRUPT (@p ec says what is wrong).
 */
sr_err_t sr_idem_claim_decode(sr_slice_t value, sr_idem_claim_t *out,
                              sr_errctx_t *ec);

/**
 * @brief The partition (of @p n_parts >= 1) of (@p enterprise, @p key)'s
 * claims: every claim of a key in one partition, whatever its body, so
 * the first is well defined. The same on every gateway (no seed).
 */
int32_t sr_idem_claim_partition(const char *enterprise, const char *key,
                                int n_parts);

/**
 * @brief What a claim read from the topic at wall time @p now_wall_ms
 * does to @p idem (now_mono_ms on its clock): nothing when it is
 * ttl_ms old or older (SR_ERR_NOT_FOUND, verdict untouched), else
 * sr_idem_check() with its first use on the monotonic clock (FIRST: this
 * claim decides the key; SAME or CONFLICT: an earlier claim did).
 */
sr_err_t sr_idem_claim_apply(sr_idem_t *idem, const sr_idem_claim_t *c,
                             int64_t now_wall_ms, int64_t now_mono_ms,
                             sr_idem_verdict_t *verdict, sr_errctx_t *ec);

/**
 * @brief The id a keyed write derives from (@p enterprise, @p key), the
 * same through any gateway and across restarts: UUID v5 of
 * "<kind>/<enterprise>/<key>" (@p kind "idem" for the command id,
 * "idem-run" for the run a POST /v0/runs/ creates). An enterprise id that
 * holds a '/' is written "<kind>@<its length>/<enterprise>/<key>" instead,
 * so that no two (enterprise, key) pairs share a name ("a/b" + "c" and
 * "a" + "b/c" differ) while every other id stays what it always was.
 * @param[in] kind a fixed word of the gateway's, without '/' or '@'.
 * @param[in] enterprise, key borrowed, NUL-terminated.
 */
void sr_idem_uuid(sr_uuid_t *out, const char *kind, const char *enterprise,
                  const char *key);

/** @brief Counters (a consistent copy). */
void sr_idem_stats(sr_idem_t *idem, sr_idem_stats_t *out);

#endif /* SR_IDEM_H */
