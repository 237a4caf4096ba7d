/* common/base/sr_slice.h - byte ranges. A slice is borrowed, a buf is owned.
 * Neither is NUL-terminated: print with "%.*s", (int)s.len, s.ptr. */
#ifndef SR_SLICE_H
#define SR_SLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/** Borrowed view: never freed by the receiver. */
typedef struct sr_slice {
        const void *ptr;
        size_t len;
} sr_slice_t;

/** Owned bytes: whoever holds it calls sr_buf_free() exactly once. */
typedef struct sr_buf {
        void *ptr;
        size_t len;
} sr_buf_t;

static inline sr_slice_t sr_slice(const void *ptr, size_t len)
{
        sr_slice_t s = { ptr, len };
        return s;
}

static inline sr_slice_t sr_buf_slice(const sr_buf_t *buf)
{
        return sr_slice(buf->ptr, buf->len);
}

static inline void sr_buf_free(sr_buf_t *buf)
{
        free(buf->ptr);
        buf->ptr = NULL;
        buf->len = 0;
}

/**
 * @brief Grow the heap array @p *arr of @p size-byte elements so that it
 * holds at least @p need (capacity doubles, from 8). @p *arr and @p *cap
 * change only on success; the old array stays valid on failure.
 * @returns false when out of memory.
 */
static inline bool sr_array_grow(void **arr, uint32_t *cap, uint32_t need,
                                 size_t size)
{
        uint32_t ncap;
        void *p;

        if (need <= *cap)
                return true;
        ncap = *cap ? *cap : 8;
        while (ncap < need)
                ncap *= 2;
        p = realloc(*arr, (size_t)ncap * size);
        if (!p)
                return false;
        *arr = p;
        *cap = ncap;
        return true;
}

/** @brief The value of hex digit @p c (any case), -1 for any other
 *  character: percent-decoding, chunked sizes, digests' text. */
static inline int sr_hex_value(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

#endif /* SR_SLICE_H */
