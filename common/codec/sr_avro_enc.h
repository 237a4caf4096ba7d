/* common/codec/sr_avro_enc.h - a tiny append-only writer of the Avro binary
 * encoding (Avro 1.11 spec, "Binary Encoding"), for the codec's hand-written
 * fast paths (sr_codec_fast.c).
 *
 * The writer knows no schema: the caller puts the values of a record in
 * schema order. Encodings:
 * - int, long: zig-zag varint (1..10 bytes); enum: the index as an int;
 * - string, bytes: long length, then the bytes;
 * - boolean: one byte 0 or 1; double: 8 bytes IEEE 754, little-endian;
 * - union: long branch index, then the branch's value (null: nothing);
 * - array, map: blocks of (long count, items), ended by a count of 0;
 * - fixed: the raw bytes; record: its fields in order.
 *
 * Storage is a growable buffer that may start in caller storage (typically
 * a stack array), so a small record costs no allocation until
 * sr_avro_enc_take(). An allocation failure is sticky: the puts after it do
 * nothing and sr_avro_enc_take() reports SR_ERR_NOMEM, so a sequence of
 * puts needs one check at the end.
 */
#ifndef SR_AVRO_ENC_H
#define SR_AVRO_ENC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sr_err.h"
#include "sr_model.h"
#include "sr_slice.h"

typedef struct sr_avro_enc {
        uint8_t *ae_ptr;    /* ae_initial or heap */
        size_t ae_len;      /* bytes written */
        size_t ae_cap;      /* bytes available at ae_ptr */
        uint8_t *ae_initial; /* caller storage; never freed here */
        bool ae_nomem;      /* an allocation failed: sticky */
} sr_avro_enc_t;

/* Longest zig-zag varint of a 64-bit value. */
#define SR_AVRO_MAX_VARINT 10

/**
 * @brief Start an empty writer.
 * @param initial optional caller storage of @p cap bytes used until it is
 *                full; it must outlive the writer. NULL (and cap 0): the
 *                first put allocates.
 */
void sr_avro_enc_init(sr_avro_enc_t *e, void *initial, size_t cap);

/** @brief Free heap storage (not caller storage). The writer is empty and
 *         must be initialised again before reuse. */
void sr_avro_enc_fini(sr_avro_enc_t *e);

/** @brief Forget the bytes written; keeps the storage (and a nomem). */
static inline void sr_avro_enc_reset(sr_avro_enc_t *e)
{
        e->ae_len = 0;
}

/**
 * @brief Hand the bytes written over as an exactly sized malloc'd buffer.
 * @param[out] out set on SR_OK only; the caller owns it (sr_buf_free()).
 * @returns SR_OK, or SR_ERR_NOMEM (an earlier put or this copy failed).
 *          The writer still holds its storage either way: call
 *          sr_avro_enc_fini().
 */
sr_err_t sr_avro_enc_take(sr_avro_enc_t *e, sr_buf_t *out, sr_errctx_t *ec);

/* Slow path of sr_avro_enc__room(): grow to hold @p n more bytes.
 * @returns false (and sets ae_nomem) when that cannot be allocated. */
bool sr_avro_enc__grow(sr_avro_enc_t *e, size_t n);

/* Room for @p n more bytes? */
static inline bool sr_avro_enc__room(sr_avro_enc_t *e, size_t n)
{
        return e->ae_cap - e->ae_len >= n || sr_avro_enc__grow(e, n);
}

/** @brief Raw bytes (fixed, or pre-encoded parts). */
static inline void sr_avro_put_raw(sr_avro_enc_t *e, const void *p, size_t n)
{
        if (!sr_avro_enc__room(e, n))
                return;
        if (n)
                memcpy(e->ae_ptr + e->ae_len, p, n);
        e->ae_len += n;
}

/** @brief long (zig-zag varint). */
static inline void sr_avro_put_long(sr_avro_enc_t *e, int64_t v)
{
        uint64_t n = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
        uint8_t *p;

        if (!sr_avro_enc__room(e, SR_AVRO_MAX_VARINT))
                return;
        p = e->ae_ptr + e->ae_len;
        while (n > 0x7f) {
                *p++ = (uint8_t)(n | 0x80);
                n >>= 7;
        }
        *p++ = (uint8_t)n;
        e->ae_len = (size_t)(p - e->ae_ptr);
}

/** @brief int: the same bytes as the long of the same value. */
static inline void sr_avro_put_int(sr_avro_enc_t *e, int32_t v)
{
        sr_avro_put_long(e, v);
}

/** @brief enum symbol index. */
static inline void sr_avro_put_enum(sr_avro_enc_t *e, int index)
{
        sr_avro_put_long(e, index);
}

/** @brief union branch index; the branch's value follows. */
static inline void sr_avro_put_branch(sr_avro_enc_t *e, int index)
{
        sr_avro_put_long(e, index);
}

/** @brief The null branch (index 0) of a ["null", X] union. */
static inline void sr_avro_put_null_union(sr_avro_enc_t *e)
{
        sr_avro_put_long(e, 0);
}

static inline void sr_avro_put_bool(sr_avro_enc_t *e, bool v)
{
        uint8_t b = v ? 1 : 0;

        sr_avro_put_raw(e, &b, 1);
}

void sr_avro_put_double(sr_avro_enc_t *e, double v);

/** @brief bytes or string: long length, then @p n bytes. */
static inline void sr_avro_put_bytes(sr_avro_enc_t *e, const void *p,
                                     size_t n)
{
        sr_avro_put_long(e, (int64_t)n);
        sr_avro_put_raw(e, p, n);
}

static inline void sr_avro_put_string(sr_avro_enc_t *e, const char *s,
                                      size_t n)
{
        sr_avro_put_bytes(e, s, n);
}

/** @brief A uuid as its canonical lower-case text (a 36-byte string), the
 *         bytes sr_uuid_fmt() gives. */
void sr_avro_put_uuid(sr_avro_enc_t *e, const sr_uuid_t *u);

/** @brief The Confluent header: 0x00 and @p schema_id big-endian. */
void sr_avro_put_confluent_header(sr_avro_enc_t *e, uint32_t schema_id);

#endif /* SR_AVRO_ENC_H */
