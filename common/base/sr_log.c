/* common/base/sr_log.c - logfmt lines built in a stack buffer, one write(2) each.
 * Three process-wide settings, all written only before threads start: the
 * level (the house style's one allowed mutable global), the worker name and
 * the output fd (a test hook). */
#include "sr_log.h"

#include "sr_clock.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

sr_log_level_t sr_log_max_level = SR_LOG_INFO;

static char log_name[64];
static int log_fd = STDERR_FILENO;

static const char *const level_names[] = {
        [SR_LOG_ERROR] = "error",
        [SR_LOG_WARN] = "warn",
        [SR_LOG_INFO] = "info",
        [SR_LOG_DEBUG] = "debug",
};
static_assert(sizeof(level_names) / sizeof(level_names[0]) == SR_LOG__COUNT,
              "level_names out of sync with sr_log_level_t");

/* Room kept at the end of a line for the truncation mark, a closing quote
 * and the newline, so they always fit. */
#define LINE_RESERVE 8

struct line {
        char buf[SR_LOG_LINE_MAX];
        size_t len;
        bool full;
};

bool sr_log_level_parse(const char *s, sr_log_level_t *out)
{
        size_t i;

        for (i = 0; i < SR_LOG__COUNT; i++) {
                if (!strcasecmp(s, level_names[i])) {
                        *out = (sr_log_level_t)i;
                        return true;
                }
        }
        return false;
}

const char *sr_log_level_name(sr_log_level_t level)
{
        if ((unsigned)level >= SR_LOG__COUNT)
                return "?";
        return level_names[level];
}

void sr_log_set_name(const char *name)
{
        snprintf(log_name, sizeof(log_name), "%s", name ? name : "");
}

int sr_log_set_fd(int fd)
{
        int old = log_fd;

        log_fd = fd;
        return old;
}

static void put_char(struct line *l, char c)
{
        if (l->len >= sizeof(l->buf) - LINE_RESERVE) {
                l->full = true;
                return;
        }
        l->buf[l->len++] = c;
}

static void put_str(struct line *l, const char *s)
{
        while (*s && !l->full)
                put_char(l, *s++);
}

/* Escape so the result stays on one line; inside a quoted value also
 * escape the quote and the backslash. */
static void put_escaped(struct line *l, const char *s, size_t n, bool quoted)
{
        static const char hex[] = "0123456789abcdef";
        size_t i;

        for (i = 0; i < n && !l->full; i++) {
                unsigned char c = (unsigned char)s[i];

                if (c == '\n') {
                        put_str(l, "\\n");
                } else if (c == '\r') {
                        put_str(l, "\\r");
                } else if (c == '\t') {
                        put_str(l, "\\t");
                } else if (c < 0x20 || c == 0x7f) {
                        put_str(l, "\\x");
                        put_char(l, hex[c >> 4]);
                        put_char(l, hex[c & 0xf]);
                } else if (quoted && (c == '"' || c == '\\')) {
                        put_char(l, '\\');
                        put_char(l, (char)c);
                } else {
                        put_char(l, (char)c);
                }
        }
}

static bool is_key_start(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_key_char(char c)
{
        return is_key_start(c) || (c >= '0' && c <= '9') || c == '.';
}

/* True if s starts with "key=". */
static bool is_field_at(const char *s)
{
        if (!is_key_start(*s))
                return false;
        while (is_key_char(*s))
                s++;
        return *s == '=';
}

/* Offset of the first "key=" token that starts the text or follows a
 * space; strlen(s) if there is none. */
static size_t find_fields(const char *s)
{
        size_t i;

        for (i = 0; s[i]; i++)
                if ((i == 0 || s[i - 1] == ' ') && is_field_at(s + i))
                        return i;
        return i;
}

/* The fields part, "k=v k2=\"v 2\" ...": control characters escaped
 * everywhere; inside a quoted value (k="...") a quote or backslash of the
 * caller's text is escaped too, so a value that holds them (an error
 * string naming "a topic", a path with \) stays one value for a logfmt
 * reader. The value's closing quote is the first quote followed by the
 * end or by " key=": the one sequence a quoted value cannot hold. */
static void put_fields(struct line *l, const char *s)
{
        size_t i = 0, n = strlen(s);

        while (i < n && !l->full) {
                size_t k = i, j;

                while (k < n && s[k] != '=' && s[k] != ' ')
                        k++;
                if (k + 1 >= n || s[k] != '=' || s[k + 1] != '"') {
                        /* an unquoted token: up to the next space */
                        for (j = i; j < n && s[j] != ' '; j++)
                                ;
                        put_escaped(l, s + i, j + (j < n) - i, false);
                        i = j + (j < n);
                        continue;
                }
                put_escaped(l, s + i, k + 2 - i, false); /* key=" */
                for (j = k + 2; j < n; j++)
                        if (s[j] == '"' &&
                            (j + 1 == n ||
                             (s[j + 1] == ' ' && is_field_at(s + j + 2))))
                                break;
                put_escaped(l, s + k + 2, j - (k + 2), true);
                put_char(l, '"'); /* closed, also when the caller did not */
                i = j + (j < n);
        }
}

static void put_timestamp(struct line *l)
{
        char ts[SR_ISO8601_LEN + 1];

        if (!sr_clock_iso8601(sr_clock_wall_ms(), ts))
                ts[0] = '\0';
        ts[SR_ISO8601_LEN] = '\0';
        put_str(l, "ts=");
        put_str(l, ts);
}

static void write_all(int fd, const char *p, size_t n)
{
        while (n > 0) {
                ssize_t w = write(fd, p, n);

                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return; /* nowhere left to report it */
                }
                p += w;
                n -= (size_t)w;
        }
}

void sr_log_vwrite(sr_log_level_t level, const char *fac, const char *file,
                   int line, const char *fmt, va_list ap)
{
        char text[SR_LOG_LINE_MAX], num[16];
        const char *base = strrchr(file, '/');
        struct line l;
        size_t split, mlen;
        int saved_errno = errno, n;
        bool in_msg;

        l.len = 0;
        l.full = false;
        n = vsnprintf(text, sizeof(text), fmt, ap);
        if (n < 0)
                snprintf(text, sizeof(text), "(bad log format \"%s\")", fmt);

        put_timestamp(&l);
        put_str(&l, " level=");
        put_str(&l, sr_log_level_name(level));
        if (log_name[0]) {
                put_str(&l, " worker=");
                put_str(&l, log_name);
        }
        put_str(&l, " fac=");
        put_str(&l, fac);
        put_str(&l, " src=");
        put_str(&l, base ? base + 1 : file);
        snprintf(num, sizeof(num), ":%d", line);
        put_str(&l, num);

        split = find_fields(text);
        for (mlen = split; mlen > 0 && text[mlen - 1] == ' '; mlen--)
                ;
        put_str(&l, " msg=\"");
        put_escaped(&l, text, mlen, true);
        put_char(&l, '"');
        in_msg = l.full;
        if (text[split]) {
                put_char(&l, ' ');
                put_fields(&l, text + split);
        }
        if (l.full || (n > 0 && (size_t)n >= sizeof(text))) {
                /* LINE_RESERVE keeps room for the mark, quote and newline. */
                memcpy(l.buf + l.len, "...", 3);
                l.len += 3;
                if (in_msg)
                        l.buf[l.len++] = '"';
        }
        l.buf[l.len++] = '\n';
        write_all(log_fd, l.buf, l.len);
        errno = saved_errno;
}

void sr_log_write(sr_log_level_t level, const char *fac, const char *file,
                  int line, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        sr_log_vwrite(level, fac, file, line, fmt, ap);
        va_end(ap);
}
