/* common/codec/sr_avro_enc.c - storage and the less hot puts of the Avro binary
 * writer (sr_avro_enc.h).
 */
#include "sr_avro_enc.h"

#include <stdlib.h>
#include <string.h>

void sr_avro_enc_init(sr_avro_enc_t *e, void *initial, size_t cap)
{
        e->ae_ptr = initial;
        e->ae_initial = initial;
        e->ae_cap = initial ? cap : 0;
        e->ae_len = 0;
        e->ae_nomem = false;
}

void sr_avro_enc_fini(sr_avro_enc_t *e)
{
        if (e->ae_ptr != e->ae_initial)
                free(e->ae_ptr);
        e->ae_ptr = e->ae_initial = NULL;
        e->ae_len = e->ae_cap = 0;
}

bool sr_avro_enc__grow(sr_avro_enc_t *e, size_t n)
{
        size_t cap = e->ae_cap ? e->ae_cap : 256;
        uint8_t *p;

        if (e->ae_nomem || n > SIZE_MAX / 2 - e->ae_len) {
                e->ae_nomem = true;
                return false;
        }
        while (cap - e->ae_len < n)
                cap *= 2;
        if (e->ae_ptr == e->ae_initial) {
                /* Leave caller storage: copy what was written. */
                p = malloc(cap);
                if (p && e->ae_len)
                        memcpy(p, e->ae_ptr, e->ae_len);
        } else {
                p = realloc(e->ae_ptr, cap);
        }
        if (!p) {
                e->ae_nomem = true;
                return false;
        }
        e->ae_ptr = p;
        e->ae_cap = cap;
        return true;
}

sr_err_t sr_avro_enc_take(sr_avro_enc_t *e, sr_buf_t *out, sr_errctx_t *ec)
{
        uint8_t *p;

        if (e->ae_nomem)
                return sr_errctx_set(ec, SR_ERR_NOMEM,
                                     "avro writer: out of memory after %zu "
                                     "bytes", e->ae_len);
        /* Exactly sized, as the avro-c path: the buffer may wait in an
         * outbox for a while. */
        p = malloc(e->ae_len ? e->ae_len : 1);
        if (!p)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "malloc %zu bytes",
                                     e->ae_len);
        if (e->ae_len)
                memcpy(p, e->ae_ptr, e->ae_len);
        out->ptr = p;
        out->len = e->ae_len;
        return SR_OK;
}

void sr_avro_put_double(sr_avro_enc_t *e, double v)
{
        uint8_t b[8];
        uint64_t bits;

        memcpy(&bits, &v, sizeof(bits));
        for (int i = 0; i < 8; i++)
                b[i] = (uint8_t)(bits >> (8 * i));
        sr_avro_put_raw(e, b, sizeof(b));
}

void sr_avro_put_uuid(sr_avro_enc_t *e, const sr_uuid_t *u)
{
        uint8_t *p;

        if (!sr_avro_enc__room(e, 1 + SR_UUID_STR_LEN))
                return;
        p = e->ae_ptr + e->ae_len;
        *p++ = 2 * SR_UUID_STR_LEN; /* zig-zag of 36, one byte */
        sr_uuid_hex(u, (char *)p);
        e->ae_len += 1 + SR_UUID_STR_LEN;
}

void sr_avro_put_confluent_header(sr_avro_enc_t *e, uint32_t schema_id)
{
        uint8_t h[5] = {
                0, (uint8_t)(schema_id >> 24), (uint8_t)(schema_id >> 16),
                (uint8_t)(schema_id >> 8), (uint8_t)schema_id
        };

        sr_avro_put_raw(e, h, sizeof(h));
}
