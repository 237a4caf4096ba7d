/* common/codec/sr_json_text.c - a structural scanner over JSON text
 * jansson already accepted (sr_json_text.h). */
#include "sr_json_text.h"

#include <math.h>
#include <stdlib.h>

/* JSON's white space, and NUL: jansson takes a NUL byte after a number
 * ("1\0,2" reads as 1, 2) and refuses it anywhere else. */
static bool is_space(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\0';
}

void sr_json_text_skip_ws(sr_jt_scan_t *s)
{
        while (s->p < s->end && is_space(*s->p))
                s->p++;
}

bool sr_json_text_skip_string(sr_jt_scan_t *s)
{
        for (s->p++; s->p < s->end; s->p++) {
                if (*s->p == '\\')
                        s->p++;
                else if (*s->p == '"')
                        return ++s->p <= s->end;
        }
        return false;
}

bool sr_json_text_skip_value(sr_jt_scan_t *s)
{
        size_t depth = 0;

        sr_json_text_skip_ws(s);
        do {
                if (s->p >= s->end)
                        return false;
                if (*s->p == '"') {
                        if (!sr_json_text_skip_string(s))
                                return false;
                        continue;
                }
                if (*s->p == '{' || *s->p == '[') {
                        depth++;
                } else if (*s->p == '}' || *s->p == ']') {
                        if (depth-- == 0)
                                return false;
                } else if (depth == 0) { /* a number, true, false, null */
                        const char *start = s->p;

                        while (s->p < s->end && !is_space(*s->p) &&
                               *s->p != ',' && *s->p != '}' && *s->p != ']')
                                s->p++;
                        return s->p > start;
                }
                s->p++;
        } while (depth > 0);
        return true;
}

static int hex_value(char c)
{
        return c >= '0' && c <= '9' ? c - '0' :
               c >= 'a' && c <= 'f' ? c - 'a' + 10 :
               c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

bool sr_json_text_key_is(const char *k, const char *end, const char *want)
{
        while (k < end) {
                unsigned c = (unsigned char)*k++;

                if (c == '\\' && k < end) {
                        char e = *k++;
                        int v = 0;

                        if (e == 'u') {
                                for (int i = 0; i < 4; i++) {
                                        int h = k < end ? hex_value(*k++) : -1;

                                        if (h < 0)
                                                return false;
                                        v = v * 16 + h;
                                }
                                c = (unsigned)v;
                        } else {
                                c = e == 'b' ? '\b' : e == 'f' ? '\f' :
                                    e == 'n' ? '\n' : e == 'r' ? '\r' :
                                    e == 't' ? '\t' : (unsigned char)e;
                        }
                }
                if (!*want || c != (unsigned char)*want++)
                        return false;
        }
        return !*want;
}

bool sr_json_text_each_member(sr_jt_scan_t *s, sr_jt_member_fn fn,
                              void *arg)
{
        sr_json_text_skip_ws(s);
        if (s->p >= s->end || *s->p != '{')
                return sr_json_text_skip_value(s); /* the tree says what */
        s->p++;
        for (;;) {
                const char *key, *key_end;

                sr_json_text_skip_ws(s);
                if (s->p < s->end && *s->p == '}') {
                        s->p++;
                        return true;
                }
                if (s->p >= s->end || *s->p != '"')
                        return false;
                key = s->p + 1;
                if (!sr_json_text_skip_string(s))
                        return false;
                key_end = s->p - 1; /* the closing quote */
                sr_json_text_skip_ws(s);
                if (s->p >= s->end || *s->p++ != ':')
                        return false;
                if (!fn(key, key_end, s, arg)) /* consumes the value */
                        return false;
                sr_json_text_skip_ws(s);
                if (s->p < s->end && *s->p == ',')
                        s->p++;
        }
}

bool sr_json_text_each_item(sr_jt_scan_t *s, sr_jt_item_fn fn, void *arg)
{
        sr_json_text_skip_ws(s);
        if (s->p >= s->end || *s->p != '[')
                return sr_json_text_skip_value(s);
        s->p++;
        for (size_t i = 0;; i++) {
                const char *at;

                sr_json_text_skip_ws(s);
                if (s->p < s->end && *s->p == ']') {
                        s->p++;
                        return true;
                }
                at = s->p;
                if (!fn(i, s, arg) || s->p == at)
                        return false;
                sr_json_text_skip_ws(s);
                if (s->p < s->end && *s->p == ',')
                        s->p++;
        }
}

char *sr_json_text_minify(const char *p, size_t n, size_t *out_len)
{
        char *out = malloc(n + 1), *o = out;
        bool in_str = false;

        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                char c = p[i];

                if (in_str) {
                        *o++ = c;
                        if (c == '\\' && i + 1 < n)
                                *o++ = p[++i];
                        else if (c == '"')
                                in_str = false;
                } else if (c == '"') {
                        in_str = true;
                        *o++ = c;
                } else if (!is_space(c)) {
                        *o++ = c;
                }
        }
        *o = '\0';
        *out_len = (size_t)(o - out);
        return out;
}

bool sr_json_text_integral(const json_t *v, json_int_t *out)
{
        double d, whole;

        if (json_is_integer(v)) {
                *out = json_integer_value(v);
                return true;
        }
        if (!json_is_real(v))
                return false;
        d = json_real_value(v);
        if (modf(d, &whole) != 0.0 || d < -9223372036854775808.0 ||
            d >= 9223372036854775808.0)
                return false;
        *out = (json_int_t)d;
        return true;
}

size_t sr_json_text_depth(const json_t *v)
{
        size_t d = 0, sub, i;
        const char *key;
        json_t *item;

        if (json_is_object(v)) {
                json_object_foreach((json_t *)v, key, item) {
                        sub = sr_json_text_depth(item);
                        d = sub > d ? sub : d;
                }
                return d + 1;
        }
        if (json_is_array(v)) {
                json_array_foreach(v, i, item) {
                        sub = sr_json_text_depth(item);
                        d = sub > d ? sub : d;
                }
                return d + 1;
        }
        return 0;
}
