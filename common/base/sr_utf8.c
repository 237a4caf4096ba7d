/* common/base/sr_utf8.c - UTF-8 sequence lengths and boundary-safe cuts. */
#include "sr_utf8.h"

#include <stdio.h>

size_t sr_utf8_seq_len(const unsigned char *s, size_t n)
{
        unsigned char c = s[0], lo = 0x80, hi = 0xbf; /* 2nd byte's range */
        size_t len;

        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf) {
                len = 2;
        } else if (c >= 0xe0 && c <= 0xef) {
                len = 3;
                if (c == 0xe0)
                        lo = 0xa0; /* no overlong forms */
                else if (c == 0xed)
                        hi = 0x9f; /* no surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
                len = 4;
                if (c == 0xf0)
                        lo = 0x90;
                else if (c == 0xf4)
                        hi = 0x8f; /* nothing above U+10FFFF */
        } else {
                return 0;
        }
        if (n < len || s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i < len; i++)
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
        return len;
}

size_t sr_utf8_cut(const char *s, size_t len)
{
        const unsigned char *u = (const unsigned char *)s;
        size_t i = len, want;

        /* Back over at most 3 continuation bytes to the lead byte. */
        while (i > 0 && len - i < 3 && (u[i - 1] & 0xc0) == 0x80)
                i--;
        if (i == 0 || u[i - 1] < 0xc0 || u[i - 1] >= 0xf8)
                return len; /* no lead byte: nothing announced */
        want = u[i - 1] >= 0xf0 ? 4 : u[i - 1] >= 0xe0 ? 3 : 2;
        return len - (i - 1) < want ? i - 1 : len;
}

int sr_utf8_vformat(char *buf, size_t size, const char *fmt, va_list ap)
{
        int n = vsnprintf(buf, size, fmt, ap);

        if (n < 0)
                buf[0] = '\0';
        else if ((size_t)n >= size)
                buf[sr_utf8_cut(buf, size - 1)] = '\0';
        return n;
}

int sr_utf8_format(char *buf, size_t size, const char *fmt, ...)
{
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = sr_utf8_vformat(buf, size, fmt, ap);
        va_end(ap);
        return n;
}
