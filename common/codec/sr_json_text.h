/* common/codec/sr_json_text.h - a structural scanner over JSON text, for
 * the objects the codec keeps as written. Codec-internal: used by the run
 * spec's reader (sr_spec_args.c, sr_spec_json.c) and the definitions'
 * (sr_defs_json.c) only.
 *
 * jansson reads a body into a tree; the values kept as written (a run
 * spec's args, a stored definition's args and device_meta) are then found
 * again in the text by this scanner, which walks objects and arrays,
 * finds a member's value by its key (compared after decoding its escapes,
 * as jansson does) and gives the value's bytes, which are stored minified.
 * It scans text jansson already accepted: it checks only what it needs to
 * stay inside the text, not that the text is JSON.
 *
 * Also here, for the same readers, two helpers on the tree jansson
 * built: sr_json_text_integral() (a number with a zero fraction counts as
 * an integer) and sr_json_text_depth() (the nesting a limit bounds).
 */
#ifndef SR_JSON_TEXT_H
#define SR_JSON_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Where the scanner is in [p, end). */
typedef struct sr_jt_scan {
        const char *p, *end;
} sr_jt_scan_t;

/** Past the white space at s->p (JSON's, and NUL: see sr_json_text.c). */
void sr_json_text_skip_ws(sr_jt_scan_t *s);

/** At '"': past the closing quote. @returns false if the text ends first. */
bool sr_json_text_skip_string(sr_jt_scan_t *s);

/** Past the white space, then one value (brackets balance outside strings
 * in text jansson accepted). @returns false if the text ends first. */
bool sr_json_text_skip_value(sr_jt_scan_t *s);

/** Is the JSON string key at [k, end) (quotes excluded) @p want, once its
 * escapes are decoded? @p want is ASCII. */
bool sr_json_text_key_is(const char *k, const char *end, const char *want);

/* Called at each member, s->p just past the ':': consumes the value
 * (false: stop with an error). The key is [key, key_end), as written. */
typedef bool (*sr_jt_member_fn)(const char *key, const char *key_end,
                                sr_jt_scan_t *s, void *arg);

/** Each member of the object at s->p (after white space), then past its
 * '}'. A value that is not an object is skipped (the tree says what it
 * is). @returns false if the text ends first or @p fn returns false. */
bool sr_json_text_each_member(sr_jt_scan_t *s, sr_jt_member_fn fn,
                              void *arg);

/* Called at each element (index @p i), s->p at its first byte: consumes
 * it (false: stop with an error). */
typedef bool (*sr_jt_item_fn)(size_t i, sr_jt_scan_t *s, void *arg);

/** Each element of the array at s->p (after white space), then past its
 * ']'. A value that is not an array is skipped. @returns false if the
 * text ends first, or @p fn returns false or consumes nothing. */
bool sr_json_text_each_item(sr_jt_scan_t *s, sr_jt_item_fn fn, void *arg);

/** @p n bytes of JSON without the white space outside strings (strings,
 * escapes and numbers byte for byte), NUL-ended; caller frees.
 * @returns NULL when out of memory. */
char *sr_json_text_minify(const char *p, size_t n, size_t *out_len);

/** A number of jansson's tree as an integer: JSON Schema, and so the
 * OpenAPI document, counts a number with a zero fraction (600.0, 6e2) as
 * an integer; jansson reads it as a real (and every number as one when
 * the text holds an integer past int64). @returns false for anything
 * else, or a real outside int64. */
bool sr_json_text_integral(const json_t *v, json_int_t *out);

/** How deeply @p v nests: 0 for a scalar, 1 for an object or array of
 * scalars (or an empty one), one more for each level inside. */
size_t sr_json_text_depth(const json_t *v);

#endif /* SR_JSON_TEXT_H */
