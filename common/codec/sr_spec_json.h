/* common/codec/sr_spec_json.h - the run spec (body of POST /v0/runs/) as JSON.
 *
 * Strict decoding with jansson into sr_runspec_t: unknown fields, wrong
 * types, malformed UUIDs, unknown operation types and strings too long for
 * the C buffers are errors whose message starts with the JSON path and says
 * what to fix ("stages[1].targets[0].device_id: expected a UUID string, got
 * 42"). Sizes and nesting are bounded (limits below). Pure: no I/O, no
 * clock, no logging; thread-safe.
 */
#ifndef SR_SPEC_JSON_H
#define SR_SPEC_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sr_err.h"
#include "sr_model.h"

#define SR_SPEC_MAX_ARGS 65536     /* bytes of one operation's args JSON */
#define SR_SPEC_MAX_DEPTH 16       /* nesting inside one args object */
#define SR_SPEC_MAX_TIMEOUT 315360000 /* seconds (10 years) */
/* SR_SPEC_MAX_TEXT and the count limits: sr_model.h */


/**
 * @brief Decode run-spec JSON text with the default limits; args are kept
 * as written (see sr_spec_json_from_parsed()).
 * @param[in]  text borrowed; need not be NUL-terminated.
 * @param[out] out  set on SR_OK only. The caller owns what it holds and
 *                  releases it with sr_runspec_fini().
 * @param[out] ec   optional; on failure "<json path>: <what to fix>".
 * @returns SR_OK, SR_ERR_INVALID (syntax, shape, value) or SR_ERR_NOMEM.
 */
sr_err_t sr_spec_json_parse(const char *text, size_t len, sr_runspec_t *out,
                            sr_errctx_t *ec);

/**
 * @brief Decode a JSON value parsed from @p text (the gateway's request
 * body): every operation's args are kept as written in @p text (numbers
 * byte for byte, key order as sent), minified (whitespace outside strings
 * dropped). The args limit (SR_SPEC_MAX_ARGS) applies to that text.
 * A count over @p lim is refused naming the limit and its key
 * ("stages: 101 stages, at most 100 per run (run.max.stages)").
 * @param[in]  root borrowed; not modified; parsed from @p text.
 * @param[in]  lim  borrowed; NULL: sr_spec_limits_default().
 * @param[in]  text borrowed, @p len bytes; need not be NUL-terminated.
 * @param[out] out  as for sr_spec_json_parse().
 * @returns SR_OK, SR_ERR_INVALID or SR_ERR_NOMEM.
 */
sr_err_t sr_spec_json_from_parsed(const json_t *root, const char *text,
                                  size_t len, const sr_spec_limits_t *lim,
                                  sr_runspec_t *out, sr_errctx_t *ec);

/**
 * @brief Decode a JSON value without its text (tools), with the default
 * limits: args are printed
 * again by jansson, compact with sorted keys, so a number may not read as
 * it was written (0.1 becomes 0.10000000000000001). Prefer
 * sr_spec_json_from_parsed() wherever the text is at hand.
 * @param[in]  root borrowed; not modified.
 * @param[out] out  as for sr_spec_json_parse().
 * @returns SR_OK, SR_ERR_INVALID or SR_ERR_NOMEM.
 */
sr_err_t sr_spec_json_from_value(const json_t *root, sr_runspec_t *out,
                                 sr_errctx_t *ec);

/**
 * @brief Decode a targets array as a stage's inline targets are decoded:
 * an AppendTargets chunk's items (POST .../targets/), sr-cli's targets
 * files. Every error starts with the item's path ("targets[3].device_id:
 * expected a UUID string, got 42").
 * @param[in]  v    borrowed; must be an array.
 * @param[in]  path the array's name in messages ("targets").
 * @param[in]  max  most items: more is refused "<path>: N targets, at most
 *                  <max> per <per> (<key>)".
 * @param[out] out, n set on SR_OK only: *out is calloc'd (NULL when n is
 *                  0), the caller frees it with free().
 * @returns SR_OK, SR_ERR_INVALID or SR_ERR_NOMEM.
 */
sr_err_t sr_spec_json_targets(const json_t *v, const char *path,
                              uint32_t max, const char *per,
                              const char *key, sr_spec_target_t **out,
                              uint32_t *n, sr_errctx_t *ec);

/**
 * @brief Decode one target object (as an item of sr_spec_json_targets()).
 * @param[in]  path its name in messages; "" gives "device_id: ..." (a
 *                  caller that names the item itself, by file and line).
 * @param[out] out  set on SR_OK only.
 * @returns SR_OK or SR_ERR_INVALID.
 */
sr_err_t sr_spec_json_target(const json_t *v, const char *path,
                             sr_spec_target_t *out, sr_errctx_t *ec);

/**
 * @brief Encode @p spec as a JSON value in the same shape the parser
 * accepts (nil ids, zero timeouts and NULL args are left out), so that
 * parse(to_json(s)) equals s. An open stage (Command v2, append_targets)
 * is written {"targets": {"append": true, "expected": N}}, the form of
 * docs/targets.md section 1, which the parser takes too ("append" must be
 * true; "expected" an integer >= 0 or null, optional).
 * @returns a new reference the caller owns (json_decref()), or NULL when
 *          out of memory or an args text is not valid JSON.
 */
json_t *sr_runspec_to_json_value(const sr_runspec_t *spec);

/**
 * @brief A targets array (an AppendTargets chunk) as JSON, each item as a
 * stage's inline targets are in sr_runspec_to_json_value().
 * @returns a new reference the caller owns, or NULL when out of memory.
 */
json_t *sr_spec_targets_to_json_value(const sr_spec_target_t *targets,
                                      uint32_t n);

/**
 * @brief Encode @p spec as compact JSON text.
 * @returns a NUL-terminated string the caller owns and frees with free(),
 *          or NULL when out of memory or an args text is not valid JSON.
 */
char *sr_runspec_to_json(const sr_runspec_t *spec);

/**
 * @brief Upper-case canonical Esper command name for @p s (any case).
 * @returns static text (borrowed, valid for the life of the process), or
 *          NULL when @p s is not one of Esper's 39 operation types.
 */
const char *sr_spec_operation_type(const char *s, size_t len);

#endif /* SR_SPEC_JSON_H */
