/* common/domain/sr_outbox.h - one record to publish (topic, partition, key, value,
 * timestamp, headers) and its flat byte encoding, as kept in the store's
 * outbox. Pure: no I/O, no clock; encode allocates only by growing the
 * caller's buffer. Thread-safe (no state).
 */
#ifndef SR_OUTBOX_H
#define SR_OUTBOX_H

#include <stdint.h>
#include <string.h>

#include "sr_err.h"
#include "sr_slice.h"

typedef enum sr_topic_kind {
        SR_TOPIC_COMMANDS = 0,
        SR_TOPIC_RESULTS,
        SR_TOPIC_EVENTS,
        SR_TOPIC_DISPATCH,
        SR_TOPIC_CHANGELOG,
        SR_TOPIC_REPLIES,
        SR_TOPIC_DLQ,
        SR_TOPIC_IDEMPOTENCY, /* the gateways' Idempotency-Key claims */
        /* Stored definitions' changes (definition_event.avsc, keyed by
         * pipeline id; docs/definitions.md section 2). */
        SR_TOPIC_DEF_EVENTS,
        SR_TOPIC__COUNT
} sr_topic_kind_t;

/**
 * @brief Topic name suffix: "commands", "results", "events", "dispatch",
 * "changelog", "replies", "dlq", "idempotency", "definition-events".
 * Static text; NULL if @p t is out of range.
 */
const char *sr_topic_suffix(sr_topic_kind_t t);

#define SR_OUTREC_MAX_HEADERS 16
#define SR_OUTREC_HEADER_NAME_MAX 65535 /* bytes, without the NUL */

typedef struct sr_outrec_header {
        const char *name; /* NUL-terminated, non-NULL */
        sr_slice_t value; /* value.ptr NULL: null header value */
} sr_outrec_header_t;

/* Every pointer is borrowed: the record owns nothing. */
typedef struct sr_outrec {
        sr_topic_kind_t topic;
        int32_t partition; /* -1: the producer's partitioner picks */
        sr_slice_t key;    /* key.ptr NULL: null key */
        sr_slice_t value;  /* value.ptr NULL: tombstone */
        int64_t timestamp; /* ms since the epoch, 0: broker's time */
        uint32_t n_headers;
        sr_outrec_header_t headers[SR_OUTREC_MAX_HEADERS];
} sr_outrec_t;

/**
 * @brief Append the header @p name = @p value (NUL-terminated text, both
 * borrowed like the record) to @p rec. The caller adds at most
 * SR_OUTREC_MAX_HEADERS (a fixed set per record kind); one more is a
 * programming error, refused (false) without writing.
 */
static inline bool sr_outrec_add_header(sr_outrec_t *rec, const char *name,
                                        const char *value)
{
        if (rec->n_headers >= SR_OUTREC_MAX_HEADERS)
                return false;
        rec->headers[rec->n_headers].name = name;
        rec->headers[rec->n_headers++].value = sr_slice(value, strlen(value));
        return true;
}

/**
 * @brief Append the encoding of @p rec to @p buf.
 *
 * NULL and empty keys, values and header values stay distinct.
 * @param buf owned by the caller; buf->ptr may be NULL (then buf->len must
 *            be 0). Grown with realloc(); on failure left unchanged.
 * @returns SR_OK, SR_ERR_INVALID (bad topic, partition < -1, timestamp < 0,
 *          too many headers, NULL header name, NULL pointer with a length,
 *          or a length over 4 GiB), SR_ERR_NOMEM.
 */
sr_err_t sr_outrec_encode(const sr_outrec_t *rec, sr_buf_t *buf,
                          sr_errctx_t *ec);

/**
 * @brief Decode exactly one encoded record filling all of @p in.
 *
 * Validates every byte; never reads outside @p in.
 * @param[out] out set on SR_OK only. Its slices and header names point into
 *                 @p in (borrowed: valid as long as @p in); header names
 *                 are NUL-terminated inside the encoding. Unused header
 *                 slots are zeroed.
 * @returns SR_OK or SR_ERR_CORRUPT.
 */
sr_err_t sr_outrec_decode(sr_slice_t in, sr_outrec_t *out, sr_errctx_t *ec);

/* ---------------------------------------------------------- bundles
 * A batch writes one outbox entry per partition and phase: a bundle of
 * encoded records, u8 format (2) then per record u32 length (big-endian)
 * and the record's sr_outrec_encode() bytes. */
#define SR_OUTBUNDLE_FORMAT 2

/**
 * @brief Start a bundle in @p buf (its bytes are replaced).
 * @returns SR_OK, SR_ERR_NOMEM.
 */
sr_err_t sr_outbundle_begin(sr_buf_t *buf, size_t *cap, sr_errctx_t *ec);

/**
 * @brief Append one encoded record to the bundle in @p buf; @p cap is the
 * buffer's capacity, kept by the caller between calls.
 * @returns SR_OK, SR_ERR_INVALID (record over 4 GiB), SR_ERR_NOMEM.
 */
sr_err_t sr_outbundle_add(sr_buf_t *buf, size_t *cap, sr_slice_t rec,
                          sr_errctx_t *ec);

/** Called for each record of an outbox entry; non-zero stops. */
typedef int (*sr_outrec_cb)(const sr_outrec_t *rec, void *arg);

/**
 * @brief Decode an outbox entry, a bundle or a single encoded record, and
 * call @p cb for each record in order. Every record is decoded before the
 * first call, so a corrupt entry calls nothing.
 * @returns SR_OK (also when @p cb stopped), SR_ERR_CORRUPT.
 */
sr_err_t sr_outbox_entry_each(sr_slice_t entry, sr_outrec_cb cb, void *arg,
                              sr_errctx_t *ec);

#endif /* SR_OUTBOX_H */
