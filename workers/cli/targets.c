/* workers/cli/targets.c - a targets file into chunks, their bodies and
 * digests, the seal's body, a stage marked open (targets.h). */
#include "targets.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sr_digest.h"
#include "sr_spec_json.h"

/* Chunks being made: the items of the one being filled, then its body
 * and digest. */
struct builder {
        const char *name; /* the file's, in messages */
        uint32_t per;
        sr_spec_target_t *items; /* per of them */
        uint32_t n_items;
        uint32_t cap;            /* of the chunk arrays */
        sr_cli_chunks_t c;
};

static sr_err_t grow(struct builder *b, sr_errctx_t *ec)
{
        uint32_t cap = b->cap ? 2 * b->cap : 16;
        char **bodies = realloc(b->c.bodies, cap * sizeof(*bodies));
        uint32_t *sizes;
        uint8_t(*digests)[SR_DIGEST_LEN];

        if (bodies)
                b->c.bodies = bodies;
        sizes = bodies ? realloc(b->c.sizes, cap * sizeof(*sizes)) : NULL;
        if (sizes)
                b->c.sizes = sizes;
        digests = sizes ? realloc(b->c.digests, cap * sizeof(*digests)) :
                          NULL;
        if (!digests)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "chunks: realloc");
        b->c.digests = digests;
        b->cap = cap;
        return SR_OK;
}

/* The chunk being filled becomes chunk c.n: its digest and its body. */
static sr_err_t flush(struct builder *b, sr_errctx_t *ec)
{
        uint32_t i = b->c.n;
        json_t *o;
        sr_err_t err;

        if (i == b->cap && (err = grow(b, ec)))
                return err;
        err = sr_targets_digest(b->items, b->n_items, b->c.digests[i], ec);
        if (err)
                return err;
        o = json_pack("{s:I,s:o}", "chunk", (json_int_t)i, "targets",
                      sr_spec_targets_to_json_value(b->items, b->n_items));
        b->c.bodies[i] = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (!b->c.bodies[i])
                return sr_errctx_set(ec, SR_ERR_NOMEM, "chunk %" PRIu32
                                     ": body", i);
        b->c.sizes[i] = b->n_items;
        b->c.n++;
        b->n_items = 0;
        return SR_OK;
}

static sr_err_t add(struct builder *b, const sr_spec_target_t *t,
                    sr_errctx_t *ec)
{
        if (b->c.count == SR_CLI_TARGETS_MAX)
                return sr_errctx_set(ec, SR_ERR_INVALID, "more than %u "
                                     "targets (the most a stage may hold)",
                                     SR_CLI_TARGETS_MAX);
        b->items[b->n_items++] = *t;
        b->c.count++;
        return b->n_items == b->per ? flush(b, ec) : SR_OK;
}

/* [ {...}, ... ]: each item named by its index. */
static sr_err_t read_array(struct builder *b, const char *text, size_t len,
                           sr_errctx_t *ec)
{
        json_error_t jerr;
        sr_spec_target_t t;
        char path[32];
        json_t *root;
        sr_err_t err = SR_OK;

        root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
                return sr_errctx_set(ec, SR_ERR_INVALID, "%s:%d: malformed "
                                     "JSON at column %d: %s", b->name,
                                     jerr.line, jerr.column, jerr.text);
        for (size_t i = 0; !err && i < json_array_size(root); i++) {
                snprintf(path, sizeof(path), "targets[%zu]", i);
                err = sr_spec_json_target(json_array_get(root, i), path, &t,
                                          ec);
                if (!err)
                        err = add(b, &t, ec);
        }
        json_decref(root);
        if (err)
                sr_errctx_prefix(ec, "%s", b->name);
        return err;
}

/* One target object per line; blank lines skipped; each named by its
 * line number. */
static sr_err_t read_lines(struct builder *b, const char *text, size_t len,
                           sr_errctx_t *ec)
{
        const char *p = text, *end = text + len;
        json_error_t jerr;
        sr_spec_target_t t;
        unsigned line = 0;
        sr_err_t err = SR_OK;

        while (!err && p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
                bool blank = true;
                json_t *v;

                line++;
                for (size_t i = 0; i < n && blank; i++)
                        blank = isspace((unsigned char)p[i]) != 0;
                if (!blank) {
                        v = json_loadb(p, n, JSON_REJECT_DUPLICATES, &jerr);
                        if (!v)
                                err = sr_errctx_set(ec, SR_ERR_INVALID,
                                                    "malformed JSON at "
                                                    "column %d: %s",
                                                    jerr.column, jerr.text);
                        else
                                err = sr_spec_json_target(v, "", &t, ec);
                        json_decref(v);
                        if (!err)
                                err = add(b, &t, ec);
                        if (err)
                                sr_errctx_prefix(ec, "%s:%u", b->name, line);
                }
                p += n + 1;
        }
        return err;
}

sr_err_t sr_cli_chunks_read(const char *text, size_t len, const char *name,
                            uint32_t per, sr_cli_chunks_t *out,
                            sr_errctx_t *ec)
{
        struct builder b;
        size_t i = 0;
        sr_err_t err;

        if (per == 0)
                return sr_errctx_set(ec, SR_ERR_INVALID, "%s: chunks of 0 "
                                     "targets", name);
        memset(&b, 0, sizeof(b));
        b.name = name;
        b.per = per;
        b.items = calloc(per, sizeof(*b.items));
        if (!b.items)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "%s: calloc", name);
        while (i < len && isspace((unsigned char)text[i]))
                i++;
        if (i < len && text[i] == '[')
                err = read_array(&b, text, len, ec);
        else
                err = read_lines(&b, text, len, ec);
        if (!err && b.n_items) {
                err = flush(&b, ec);
                if (err)
                        sr_errctx_prefix(ec, "%s", name);
        }
        if (!err)
                err = sr_seal_digest((const uint8_t(*)[SR_DIGEST_LEN])
                                             b.c.digests,
                                     b.c.n, b.c.seal, ec);
        free(b.items);
        if (err) {
                sr_cli_chunks_fini(&b.c);
                return err;
        }
        *out = b.c;
        return SR_OK;
}

void sr_cli_chunks_fini(sr_cli_chunks_t *c)
{
        if (!c)
                return;
        for (uint32_t i = 0; c->bodies && i < c->n; i++)
                free(c->bodies[i]);
        free(c->bodies);
        free(c->sizes);
        free(c->digests);
        memset(c, 0, sizeof(*c));
}

char *sr_cli_seal_body(const sr_cli_chunks_t *c)
{
        char hex[2 * SR_DIGEST_LEN + 1];
        json_t *o;
        char *text;

        for (int i = 0; i < SR_DIGEST_LEN; i++)
                snprintf(hex + 2 * i, 3, "%02x", c->seal[i]);
        o = json_pack("{s:I,s:I,s:s}", "chunks", (json_int_t)c->n, "count",
                      (json_int_t)c->count, "digest", hex);
        text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        return text;
}

sr_err_t sr_cli_open_stage(sr_runspec_t *spec, const char *stage,
                           uint64_t expected, uint32_t *index,
                           sr_errctx_t *ec)
{
        uint32_t found = UINT32_MAX;
        sr_spec_stage_t *st;
        char *end;

        if (*stage && strspn(stage, "0123456789") == strlen(stage)) {
                unsigned long v;

                errno = 0;
                v = strtoul(stage, &end, 10);
                if (errno || v >= spec->n_stages)
                        return sr_errctx_set(ec, SR_ERR_INVALID, "stage %s: "
                                             "the spec has %" PRIu32
                                             " stages (0-based index)",
                                             stage, spec->n_stages);
                found = (uint32_t)v;
        } else {
                for (uint32_t i = 0; i < spec->n_stages; i++) {
                        if (strcmp(spec->stages[i].name, stage))
                                continue;
                        if (found != UINT32_MAX)
                                return sr_errctx_set(ec, SR_ERR_INVALID,
                                                     "stage \"%s\": several "
                                                     "stages have that "
                                                     "name; give its "
                                                     "index", stage);
                        found = i;
                }
                if (found == UINT32_MAX)
                        return sr_errctx_set(ec, SR_ERR_INVALID, "stage "
                                             "\"%s\": no stage of that "
                                             "name (or give its 0-based "
                                             "index)", stage);
        }
        st = &spec->stages[found];
        if (st->n_targets || st->append_targets)
                return sr_errctx_set(ec, SR_ERR_INVALID, "stage %s: it has "
                                     "its targets in the spec already%s",
                                     stage, st->append_targets ?
                                             " (open), or was given twice" :
                                             "; --targets-file gives them "
                                             "all");
        st->append_targets = true;
        st->expected_targets = (int64_t)expected;
        *index = found;
        return SR_OK;
}
