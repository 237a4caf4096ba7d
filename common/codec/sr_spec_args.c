/* common/codec/sr_spec_args.c - the args of a spec kept as written.
 *
 * jansson keeps numbers as doubles (or int64), so printing a parsed args
 * object again turns 0.1 into 0.10000000000000001 (five times the bytes),
 * 1e2 into 100.0, and refuses integers past 2^63. The args of a spec that
 * comes as text are therefore kept as written: a second, structural pass
 * over the text jansson accepted finds the bytes of each operation's args
 * value (the scanner of sr_json_text.c), and they are stored minified
 * (whitespace outside strings dropped; strings, escapes and numbers byte
 * for byte). */
#include "sr_spec_json_int.h"
#include "sr_json_text.h"

#include <stdlib.h>
#include <string.h>

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

static bool op_member(const char *key, const char *key_end,
                      sr_jt_scan_t *s, void *arg)
{
        struct locate *l = arg;
        spans_t *sp = l->spans;
        const char *at;

        if (!sr_json_text_key_is(key, key_end, "args"))
                return sr_json_text_skip_value(s);
        sr_json_text_skip_ws(s);
        at = s->p;
        if (!sr_json_text_skip_value(s))
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

static bool op_item(size_t i, sr_jt_scan_t *s, void *arg)
{
        struct locate *l = arg;

        if (i > UINT32_MAX)
                return sr_json_text_skip_value(s); /* the tree walk refuses */
        l->op = i;
        return sr_json_text_each_member(s, op_member, l);
}

static bool stage_member(const char *key, const char *key_end,
                         sr_jt_scan_t *s, void *arg)
{
        struct locate *l = arg;
        spans_t *sp = l->spans;

        if (!sr_json_text_key_is(key, key_end, "operations"))
                return sr_json_text_skip_value(s);
        /* A repeated "operations": the last one counts. */
        while (sp->n && sp->v[sp->n - 1].stage == l->stage)
                sp->n--;
        return sr_json_text_each_item(s, op_item, arg);
}

static bool stage_item(size_t i, sr_jt_scan_t *s, void *arg)
{
        struct locate *l = arg;

        if (i > UINT32_MAX)
                return sr_json_text_skip_value(s);
        l->stage = i;
        return sr_json_text_each_member(s, stage_member, l);
}

static bool root_member(const char *key, const char *key_end,
                        sr_jt_scan_t *s, void *arg)
{
        struct locate *l = arg;

        if (!sr_json_text_key_is(key, key_end, "stages"))
                return sr_json_text_skip_value(s);
        l->spans->n = 0; /* the last one counts */
        return sr_json_text_each_item(s, stage_item, l);
}

/* The spans of every operation's args in @p text. */
bool sr_spec__locate_args(const char *text, size_t len, spans_t *spans,
                          bool *oom)
{
        sr_jt_scan_t s = { text, text + len };
        struct locate l = { spans, text, 0, 0, false };
        bool ok;

        memset(spans, 0, sizeof(*spans));
        ok = sr_json_text_each_member(&s, root_member, &l);
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
