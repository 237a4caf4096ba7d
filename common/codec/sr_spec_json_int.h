/* common/codec/sr_spec_json_int.h - what sr_spec_json.c (the decoder) and
 * sr_spec_args.c (the args of a spec kept as written) share. Not for use
 * outside those two files.
 */
#ifndef SR_SPEC_JSON_INT_H
#define SR_SPEC_JSON_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sr_spec_json.h"

/* Where stages[stage].operations[op].args is in the text. */
struct span {
        size_t at, len;
        uint32_t stage, op;
};

/* Every args value of the text, in (stage, op) order: sized by the text,
 * not by the configured limits (the tree walk refuses what is over). */
typedef struct spans {
        struct span *v; /* owned */
        size_t n, cap;
} spans_t;

/** The spans of every operation's args in @p text (JSON jansson accepted);
 * free spans->v. @returns false if the text is not the shape a spec has,
 * or out of memory (*oom set). */
bool sr_spec__locate_args(const char *text, size_t len, spans_t *spans,
                          bool *oom);

/** The span of stages[@p stage].operations[@p op].args, or NULL. */
const struct span *sr_spec__find_args(const spans_t *spans, size_t stage,
                                      size_t op);

#endif /* SR_SPEC_JSON_INT_H */
