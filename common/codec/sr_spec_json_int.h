/* common/codec/sr_spec_json_int.h - what sr_spec_json.c (the decoder) and
 * sr_spec_args.c (the args of a spec kept as written) share. Not for use
 * outside those two files.
 */
#ifndef SR_SPEC_JSON_INT_H
#define SR_SPEC_JSON_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "sr_spec_json.h"

/* Where stages[i].operations[j].args is in the text. */
struct span {
        size_t at, len;
        bool found;
};

typedef struct span spans_t[SR_SPEC_MAX_STAGES][SR_SPEC_MAX_OPS];

/** The spans of every operation's args in @p text (JSON jansson accepted).
 * @returns false if the text is not the shape a spec has. */
bool sr_spec__locate_args(const char *text, size_t len, spans_t *spans);

/** @p n bytes of JSON without the whitespace outside strings, NUL-ended;
 * caller frees. @returns NULL when out of memory. */
char *sr_spec__minify(const char *p, size_t n, size_t *out_len);

#endif /* SR_SPEC_JSON_INT_H */
