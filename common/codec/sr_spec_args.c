/* common/codec/sr_spec_args.c - the args of a spec kept as written.
 *
 * jansson keeps numbers as doubles (or int64), so printing a parsed args
 * object again turns 0.1 into 0.10000000000000001 (five times the bytes),
 * 1e2 into 100.0, and refuses integers past 2^63. The args of a spec that
 * comes as text are therefore kept as written: a second, structural pass
 * over the text jansson accepted finds the bytes of each operation's args
 * value, and they are stored minified (whitespace outside strings
 * dropped; strings, escapes and numbers byte for byte). */
#include "sr_spec_json_int.h"

#include <stdlib.h>
#include <string.h>

struct scan {
        const char *p, *end;
};

/* JSON's whitespace, and NUL: jansson takes a NUL byte after a number
 * ("1\0,2" reads as 1, 2) and refuses it anywhere else. */
static bool is_space(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\0';
}

static void skip_ws(struct scan *s)
{
        while (s->p < s->end && is_space(*s->p))
                s->p++;
}

/* At '"': past the closing quote. */
static bool skip_string(struct scan *s)
{
        for (s->p++; s->p < s->end; s->p++) {
                if (*s->p == '\\')
                        s->p++;
                else if (*s->p == '"')
                        return ++s->p <= s->end;
        }
        return false;
}

/* Past one value (the text is JSON jansson accepted: brackets balance
 * outside strings). */
static bool skip_value(struct scan *s)
{
        size_t depth = 0;

        skip_ws(s);
        do {
                if (s->p >= s->end)
                        return false;
                if (*s->p == '"') {
                        if (!skip_string(s))
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

/* Is the JSON string key at [k, end) (quotes excluded) @p want, once its
 * escapes are decoded? @p want is ASCII. */
static bool key_is(const char *k, const char *end, const char *want)
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

/* Each member of the object at s->p: @p on_member(key, key_end, s, arg)
 * consumes the value (false: stop with an error). */
typedef bool (*member_fn)(const char *key, const char *key_end,
                          struct scan *s, void *arg);

static bool each_member(struct scan *s, member_fn fn, void *arg)
{
        skip_ws(s);
        if (s->p >= s->end || *s->p != '{')
                return skip_value(s); /* not an object: the tree says so */
        s->p++;
        for (;;) {
                const char *key, *key_end;

                skip_ws(s);
                if (s->p < s->end && *s->p == '}') {
                        s->p++;
                        return true;
                }
                if (s->p >= s->end || *s->p != '"')
                        return false;
                key = s->p + 1;
                if (!skip_string(s))
                        return false;
                key_end = s->p - 1; /* the closing quote */
                skip_ws(s);
                if (s->p >= s->end || *s->p++ != ':')
                        return false;
                if (!fn(key, key_end, s, arg)) /* consumes the value */
                        return false;
                skip_ws(s);
                if (s->p < s->end && *s->p == ',')
                        s->p++;
        }
}

/* Each element of the array at s->p: @p on_item(index, s, arg). */
typedef bool (*item_fn)(size_t i, struct scan *s, void *arg);

static bool each_item(struct scan *s, item_fn fn, void *arg)
{
        skip_ws(s);
        if (s->p >= s->end || *s->p != '[')
                return skip_value(s);
        s->p++;
        for (size_t i = 0;; i++) {
                const char *at;

                skip_ws(s);
                if (s->p < s->end && *s->p == ']') {
                        s->p++;
                        return true;
                }
                at = s->p;
                if (!fn(i, s, arg) || s->p == at)
                        return false;
                skip_ws(s);
                if (s->p < s->end && *s->p == ',')
                        s->p++;
        }
}

struct locate {
        spans_t *spans;
        const char *text;
        size_t stage, op;
        bool oom;
};

static int span_cmp(size_t s1, size_t o1, const struct span *b)
{
        if (s1 != b->stage)
                return s1 < b->stage ? -1 : 1;
        return o1 < b->op ? -1 : o1 > b->op;
}

static bool op_member(const char *key, const char *key_end, struct scan *s,
                      void *arg)
{
        struct locate *l = arg;
        spans_t *sp = l->spans;
        const char *at;

        if (!key_is(key, key_end, "args"))
                return skip_value(s);
        skip_ws(s);
        at = s->p;
        if (!skip_value(s))
                return false;
        /* A repeated key: the last one counts, as in the tree. */
        while (sp->n && span_cmp(l->stage, l->op, &sp->v[sp->n - 1]) <= 0)
                sp->n--;
        if (sp->n == sp->cap) {
                size_t cap = sp->cap ? sp->cap * 2 : 16;
                struct span *p = realloc(sp->v, cap * sizeof(*p));

                if (!p) {
                        l->oom = true;
                        return false;
                }
                sp->v = p;
                sp->cap = cap;
        }
        sp->v[sp->n++] = (struct span){ (size_t)(at - l->text),
                                        (size_t)(s->p - at),
                                        (uint32_t)l->stage, (uint32_t)l->op };
        return true;
}

static bool op_item(size_t i, struct scan *s, void *arg)
{
        struct locate *l = arg;

        if (i > UINT32_MAX)
                return skip_value(s); /* refused by the tree walk */
        l->op = i;
        return each_member(s, op_member, l);
}

static bool stage_member(const char *key, const char *key_end,
                         struct scan *s, void *arg)
{
        struct locate *l = arg;
        spans_t *sp = l->spans;

        if (!key_is(key, key_end, "operations"))
                return skip_value(s);
        /* A repeated "operations": the last one counts. */
        while (sp->n && sp->v[sp->n - 1].stage == l->stage)
                sp->n--;
        return each_item(s, op_item, arg);
}

static bool stage_item(size_t i, struct scan *s, void *arg)
{
        struct locate *l = arg;

        if (i > UINT32_MAX)
                return skip_value(s);
        l->stage = i;
        return each_member(s, stage_member, l);
}

static bool root_member(const char *key, const char *key_end, struct scan *s,
                        void *arg)
{
        struct locate *l = arg;

        if (!key_is(key, key_end, "stages"))
                return skip_value(s);
        l->spans->n = 0; /* the last one counts */
        return each_item(s, stage_item, l);
}

/* The spans of every operation's args in @p text. */
bool sr_spec__locate_args(const char *text, size_t len, spans_t *spans,
                          bool *oom)
{
        struct scan s = { text, text + len };
        struct locate l = { spans, text, 0, 0, false };
        bool ok;

        memset(spans, 0, sizeof(*spans));
        ok = each_member(&s, root_member, &l);
        *oom = l.oom;
        return ok;
}

const struct span *sr_spec__find_args(const spans_t *spans, size_t stage,
                                      size_t op)
{
        size_t lo = 0, hi = spans->n, mid;
        int c;

        while (lo < hi) {
                mid = lo + (hi - lo) / 2;
                c = span_cmp(stage, op, &spans->v[mid]);
                if (!c)
                        return &spans->v[mid];
                if (c < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return NULL;
}

/* @p n bytes of JSON without the whitespace outside strings; caller frees. */
char *sr_spec__minify(const char *p, size_t n, size_t *out_len)
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

