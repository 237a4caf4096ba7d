/* common/base/sr_slice.h - byte ranges. A slice is borrowed, a buf is owned.
 * Neither is NUL-terminated: print with "%.*s", (int)s.len, s.ptr. */
#ifndef SR_SLICE_H
#define SR_SLICE_H

#include <stddef.h>
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

#endif /* SR_SLICE_H */
