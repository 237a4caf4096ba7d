/* common/domain/sr_outbox.c - flat encoding of an outbox record. Big-endian:
 *   u8 format (1) | u8 topic | u8 flags | u8 n_headers
 *   i32 partition | i64 timestamp
 *   [u32 key_len | key]        unless flags & KEY_NULL
 *   [u32 value_len | value]    unless flags & TOMBSTONE
 *   n_headers x ( u16 name_len | name | NUL | u8 hflags
 *                 [u32 value_len | value] unless hflags & HVAL_NULL )
 * The record fills the input exactly, so any truncation is detected.
 */
#include "sr_outbox.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define OUTREC_FORMAT 1
#define FLAG_KEY_NULL 0x01
#define FLAG_TOMBSTONE 0x02
#define HFLAG_VAL_NULL 0x01
#define FIXED_SIZE 16 /* format .. timestamp */

static const char *const topic_suffixes[SR_TOPIC__COUNT] = {
        [SR_TOPIC_COMMANDS] = "commands",   [SR_TOPIC_RESULTS] = "results",
        [SR_TOPIC_EVENTS] = "events",       [SR_TOPIC_DISPATCH] = "dispatch",
        [SR_TOPIC_CHANGELOG] = "changelog", [SR_TOPIC_REPLIES] = "replies",
        [SR_TOPIC_DLQ] = "dlq",
        [SR_TOPIC_IDEMPOTENCY] = "idempotency",
        [SR_TOPIC_DEF_EVENTS] = "definition-events",
};

const char *sr_topic_suffix(sr_topic_kind_t t)
{
        if ((unsigned)t >= SR_TOPIC__COUNT)
                return NULL;
        return topic_suffixes[t];
}

/* ------------------------------------------------------------ encode */

static uint8_t *put_be(uint8_t *p, uint64_t v, unsigned bytes)
{
        unsigned i;

        for (i = 0; i < bytes; i++)
                p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
        return p + bytes;
}

static uint8_t *put_bytes(uint8_t *p, sr_slice_t s)
{
        p = put_be(p, s.len, 4);
        if (s.len)
                memcpy(p, s.ptr, s.len);
        return p + s.len;
}

/* Checks a key/value/header slice; adds its encoded size to *size. */
static bool slice_ok(sr_slice_t s, size_t *size)
{
        if (!s.ptr)
                return s.len == 0;
        if (s.len > UINT32_MAX || s.len > SIZE_MAX - *size - 4)
                return false;
        *size += 4 + s.len;
        return true;
}

static sr_err_t encoded_size(const sr_outrec_t *rec, size_t *sizep,
                             sr_errctx_t *ec)
{
        size_t size = FIXED_SIZE, nlen;
        uint32_t i;

        if ((unsigned)rec->topic >= SR_TOPIC__COUNT)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "outrec: encode: topic %d",
                                     (int)rec->topic);
        if (rec->partition < -1 || rec->timestamp < 0)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "outrec: encode: partition %d "
                                     "timestamp %lld",
                                     (int)rec->partition,
                                     (long long)rec->timestamp);
        if (rec->n_headers > SR_OUTREC_MAX_HEADERS)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "outrec: encode: %u headers (max %d)",
                                     rec->n_headers, SR_OUTREC_MAX_HEADERS);
        if (!slice_ok(rec->key, &size) || !slice_ok(rec->value, &size))
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "outrec: encode: bad key or value");
        for (i = 0; i < rec->n_headers; i++) {
                if (!rec->headers[i].name)
                        return sr_errctx_set(ec, SR_ERR_INVALID,
                                             "outrec: encode: header %u "
                                             "has no name",
                                             i);
                nlen = strlen(rec->headers[i].name);
                if (nlen > SR_OUTREC_HEADER_NAME_MAX ||
                    nlen > SIZE_MAX - size - 4 ||
                    !slice_ok(rec->headers[i].value, &size))
                        return sr_errctx_set(ec, SR_ERR_INVALID,
                                             "outrec: encode: header %u "
                                             "too large",
                                             i);
                size += 2 + nlen + 1 + 1;
        }
        *sizep = size;
        return SR_OK;
}

sr_err_t sr_outrec_encode(const sr_outrec_t *rec, sr_buf_t *buf,
                          sr_errctx_t *ec)
{
        size_t size = 0, nlen;
        uint8_t *p, *mem;
        sr_err_t err;
        uint32_t i;

        err = encoded_size(rec, &size, ec);
        if (err)
                return err;
        if (size > SIZE_MAX - buf->len)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "outrec: encode: buffer too large");
        mem = realloc(buf->ptr, buf->len + size);
        if (!mem)
                return sr_errctx_set(ec, SR_ERR_NOMEM,
                                     "outrec: encode: realloc %zu bytes",
                                     buf->len + size);
        buf->ptr = mem;
        p = mem + buf->len;
        *p++ = OUTREC_FORMAT;
        *p++ = (uint8_t)rec->topic;
        *p++ = (uint8_t)((rec->key.ptr ? 0 : FLAG_KEY_NULL) |
                         (rec->value.ptr ? 0 : FLAG_TOMBSTONE));
        *p++ = (uint8_t)rec->n_headers;
        p = put_be(p, (uint32_t)rec->partition, 4);
        p = put_be(p, (uint64_t)rec->timestamp, 8);
        if (rec->key.ptr)
                p = put_bytes(p, rec->key);
        if (rec->value.ptr)
                p = put_bytes(p, rec->value);
        for (i = 0; i < rec->n_headers; i++) {
                const sr_outrec_header_t *h = &rec->headers[i];

                nlen = strlen(h->name);
                p = put_be(p, nlen, 2);
                memcpy(p, h->name, nlen + 1); /* with its NUL */
                p += nlen + 1;
                *p++ = h->value.ptr ? 0 : HFLAG_VAL_NULL;
                if (h->value.ptr)
                        p = put_bytes(p, h->value);
        }
        buf->len += size;
        return SR_OK;
}

/* ------------------------------------------------------------ decode */

struct reader {
        const uint8_t *p, *end;
};

static bool take(struct reader *r, size_t n, const uint8_t **out)
{
        if ((size_t)(r->end - r->p) < n)
                return false;
        *out = r->p;
        r->p += n;
        return true;
}

static bool take_be(struct reader *r, unsigned bytes, uint64_t *v)
{
        const uint8_t *p;
        unsigned i;

        if (!take(r, bytes, &p))
                return false;
        *v = 0;
        for (i = 0; i < bytes; i++)
                *v = *v << 8 | p[i];
        return true;
}

/* u32 length then bytes; an empty one still points into the input. */
static bool take_slice(struct reader *r, sr_slice_t *s)
{
        const uint8_t *p;
        uint64_t len;

        if (!take_be(r, 4, &len) || !take(r, (size_t)len, &p))
                return false;
        *s = sr_slice(p, (size_t)len);
        return true;
}

static sr_err_t corrupt(sr_errctx_t *ec, const struct reader *r,
                        const uint8_t *start, const char *what)
{
        return sr_errctx_set(ec, SR_ERR_CORRUPT,
                             "outrec: decode: %s at byte %zu", what,
                             (size_t)(r->p - start));
}

static uint64_t get_be(const uint8_t *p, unsigned bytes)
{
        uint64_t v = 0;
        unsigned i;

        for (i = 0; i < bytes; i++)
                v = v << 8 | p[i];
        return v;
}

sr_err_t sr_outrec_decode(sr_slice_t in, sr_outrec_t *out, sr_errctx_t *ec)
{
        const uint8_t *start = in.ptr, *fixed, *name, *hflags;
        struct reader r;
        sr_outrec_t rec;
        uint64_t nlen;
        uint8_t flags;
        uint32_t i;

        if (!start)
                return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                     "outrec: decode: no input");
        r.p = start;
        r.end = start + in.len;
        if (!take(&r, FIXED_SIZE, &fixed))
                return corrupt(ec, &r, start, "short header");
        if (fixed[0] != OUTREC_FORMAT)
                return corrupt(ec, &r, start, "unknown format");
        memset(&rec, 0, sizeof(rec));
        flags = fixed[2];
        if (fixed[1] >= SR_TOPIC__COUNT ||
            (flags & ~(FLAG_KEY_NULL | FLAG_TOMBSTONE)) ||
            fixed[3] > SR_OUTREC_MAX_HEADERS)
                return corrupt(ec, &r, start, "bad topic/flags/headers");
        rec.topic = (sr_topic_kind_t)fixed[1];
        rec.n_headers = fixed[3];
        rec.partition = (int32_t)(uint32_t)get_be(fixed + 4, 4);
        rec.timestamp = (int64_t)get_be(fixed + 8, 8);
        if (rec.partition < -1 || rec.timestamp < 0)
                return corrupt(ec, &r, start, "bad partition/timestamp");
        if (!(flags & FLAG_KEY_NULL) && !take_slice(&r, &rec.key))
                return corrupt(ec, &r, start, "truncated key");
        if (!(flags & FLAG_TOMBSTONE) && !take_slice(&r, &rec.value))
                return corrupt(ec, &r, start, "truncated value");
        for (i = 0; i < rec.n_headers; i++) {
                if (!take_be(&r, 2, &nlen) ||
                    !take(&r, (size_t)nlen + 1, &name) ||
                    !take(&r, 1, &hflags))
                        return corrupt(ec, &r, start, "truncated header");
                if (name[nlen] != '\0' || memchr(name, 0, (size_t)nlen) ||
                    (*hflags & ~HFLAG_VAL_NULL))
                        return corrupt(ec, &r, start, "bad header");
                rec.headers[i].name = (const char *)name;
                if (!(*hflags & HFLAG_VAL_NULL) &&
                    !take_slice(&r, &rec.headers[i].value))
                        return corrupt(ec, &r, start,
                                       "truncated header value");
        }
        if (r.p != r.end)
                return corrupt(ec, &r, start, "trailing bytes");
        *out = rec;
        return SR_OK;
}

/* ------------------------------------------------------------ bundles */

static sr_err_t reserve(sr_buf_t *buf, size_t *cap, size_t more,
                        sr_errctx_t *ec)
{
        size_t want;
        void *mem;

        if (more <= *cap - buf->len)
                return SR_OK;
        if (more > SIZE_MAX / 2 - buf->len)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "outbundle: too large");
        want = *cap ? *cap : 4096;
        while (want - buf->len < more)
                want *= 2;
        mem = realloc(buf->ptr, want);
        if (!mem)
                return sr_errctx_set(ec, SR_ERR_NOMEM,
                                     "outbundle: realloc %zu bytes", want);
        buf->ptr = mem;
        *cap = want;
        return SR_OK;
}

sr_err_t sr_outbundle_begin(sr_buf_t *buf, size_t *cap, sr_errctx_t *ec)
{
        sr_err_t err;

        if (!buf->ptr)
                *cap = 0;
        buf->len = 0;
        err = reserve(buf, cap, 1, ec);
        if (err)
                return err;
        ((uint8_t *)buf->ptr)[0] = SR_OUTBUNDLE_FORMAT;
        buf->len = 1;
        return SR_OK;
}

sr_err_t sr_outbundle_add(sr_buf_t *buf, size_t *cap, sr_slice_t rec,
                          sr_errctx_t *ec)
{
        sr_err_t err;
        uint8_t *p;

        if (rec.len > UINT32_MAX)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "outbundle: record of %zu bytes",
                                     rec.len);
        err = reserve(buf, cap, 4 + rec.len, ec);
        if (err)
                return err;
        p = put_be((uint8_t *)buf->ptr + buf->len, rec.len, 4);
        memcpy(p, rec.ptr, rec.len);
        buf->len += 4 + rec.len;
        return SR_OK;
}

sr_err_t sr_outbox_entry_each(sr_slice_t entry, sr_outrec_cb cb, void *arg,
                              sr_errctx_t *ec)
{
        const uint8_t *start = entry.ptr;
        struct reader r;
        sr_outrec_t rec;
        sr_slice_t one;
        sr_err_t err;

        if (!start || entry.len == 0)
                return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                     "outbox entry: empty");
        if (start[0] != SR_OUTBUNDLE_FORMAT) {
                err = sr_outrec_decode(entry, &rec, ec);
                if (!err)
                        cb(&rec, arg);
                return err;
        }
        /* Validate the whole bundle first. */
        for (int pass = 0; pass < 2; pass++) {
                r.p = start + 1;
                r.end = start + entry.len;
                while (r.p < r.end) {
                        if (!take_slice(&r, &one))
                                return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                                     "outbox bundle: "
                                                     "truncated at byte %zu",
                                                     (size_t)(r.p - start));
                        err = sr_outrec_decode(one, &rec, ec);
                        if (err)
                                return err;
                        if (pass == 1 && cb(&rec, arg))
                                return SR_OK;
                }
        }
        return SR_OK;
}
