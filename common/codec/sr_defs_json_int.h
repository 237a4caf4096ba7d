/* common/codec/sr_defs_json_int.h - shared by sr_defs_json.c (bodies)
 * and sr_defs_json_bulk.c (the targets-bulk body) only. */
#ifndef SR_DEFS_JSON_INT_H
#define SR_DEFS_JSON_INT_H

#include "sr_defs_json.h"
#include "sr_json_text.h"

/* Where a value is in the body's text. */
struct tspan {
        size_t at, len;
        bool found;
};

/** @brief "<field>: <what>", SR_ERR_INVALID into @p ec. */
sr_err_t sr_defs_json__bad(sr_errctx_t *ec, const char *field,
                           const char *fmt, ...) SR_PRINTF(3, 4);

/** @brief "<field>: expected <what>, got <value>" (the value quoted,
 *  cut). */
sr_err_t sr_defs_json__bad_got(sr_errctx_t *ec, const char *field,
                               const char *expected, const json_t *v);

/** @brief SR_ERR_NOMEM into @p ec, naming @p what. */
sr_err_t sr_defs_json__oom(sr_errctx_t *ec, const char *what);

/** @brief Load @p body: JSON, no duplicate keys, nesting bounded. */
sr_err_t sr_defs_json__load(const char *body, size_t len, json_t **out,
                            sr_errctx_t *ec);

/** @brief Where the members "args" (spans[0]) and "device_meta"
 *  (spans[1]) of the object at s->p are in @p text. */
bool sr_defs_json__scan_members(sr_jt_scan_t *s, const char *text,
                                struct tspan spans[2]);

/** @brief One bulk item that is an object into @p t, by the table of a
 *  bulk Target (read-only fields ignored; args and device_meta kept as
 *  written, found at @p spans of @p text). */
sr_err_t sr_defs_json__bulk_target(const json_t *v, const char *text,
                                   const struct tspan spans[2],
                                   sr_defcmd_target_t *t, sr_errctx_t *ec);

#endif /* SR_DEFS_JSON_INT_H */
