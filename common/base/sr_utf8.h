/* common/base/sr_utf8.h - UTF-8 boundaries, for text cut into fixed buffers.
 *
 * Messages (error contexts, HTTP problems) are formatted into arrays of a
 * fixed size; when one does not fit, it is cut on a character boundary, so
 * a client never receives half a character (which the envelope would then
 * show as U+FFFD). Pure: no allocation, no state; any thread.
 */
#ifndef SR_UTF8_H
#define SR_UTF8_H

#include <stdarg.h>
#include <stddef.h>

#include "sr_err.h"

/**
 * @brief Length of the valid UTF-8 sequence at @p s (at most @p n bytes,
 * n >= 1): 1 for ASCII, 2..4 for a well-formed multi-byte character (no
 * overlong form, no surrogate, nothing above U+10FFFF), 0 when the bytes
 * at @p s are not valid UTF-8 or the sequence is longer than @p n.
 */
size_t sr_utf8_seq_len(const unsigned char *s, size_t n);

/**
 * @brief The longest prefix of @p s[0..len) that does not end inside a
 * multi-byte character: @p len, or less when the last bytes are the lead
 * of a character and fewer continuation bytes than it announces. Bytes
 * that are not UTF-8 anyway are kept (the envelope replaces them).
 * @param[in] s borrowed; need not be NUL-terminated.
 */
size_t sr_utf8_cut(const char *s, size_t len);

/**
 * @brief vsnprintf() into @p buf (@p size >= 1 bytes, always
 * NUL-terminated), then, when the text did not fit, cut it with
 * sr_utf8_cut().
 * @returns what vsnprintf() returns: the length of the whole text, or < 0.
 */
int sr_utf8_vformat(char *buf, size_t size, const char *fmt, va_list ap)
        SR_PRINTF(3, 0);

/** @brief sr_utf8_vformat() with variable arguments. */
int sr_utf8_format(char *buf, size_t size, const char *fmt, ...)
        SR_PRINTF(3, 4);

#endif /* SR_UTF8_H */
