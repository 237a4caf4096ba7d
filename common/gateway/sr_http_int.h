/* common/gateway/sr_http_int.h - what the files of the gateway's pure
 * request/response layer share (sr_http.c: problems, the quoting of client
 * input, answers; sr_http_route.c: routing; sr_http_query.c: list query
 * parameters; sr_http_body.c: request headers and bodies). Included by
 * those files only. */
#ifndef SR_HTTP_INT_H
#define SR_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sr_http.h"

#define QUOTE_SHOWN 40 /* bytes of client input shown in a message */
#define QUOTE_MAX (QUOTE_SHOWN * 4 + 8)

#define BIT(n) (1u << (n))
#define ST(s) BIT(SR_ST_##s)

/* Esper's enums (reference §4): list filters and PUT bodies. */
#define PIPELINE_RUN_STATUSES                                             \
        (ST(PENDING) | ST(QUEUED) | ST(PROCESSING) | ST(RUNNING) |        \
         ST(WAITING) | ST(COMPLETE) | ST(SUCCESS) | ST(FAILURE) |         \
         ST(CANCELLED) | ST(TIMEOUT) | ST(INVALID))
#define STAGE_RUN_STATUSES (PIPELINE_RUN_STATUSES & ~ST(WAITING))
#define TARGET_RUN_STATUSES (STAGE_RUN_STATUSES | ST(DISPATCHED))
#define TARGET_RUN_PUT_STATUSES (TARGET_RUN_STATUSES & ~ST(TIMEOUT))

_Static_assert(SR_ST__COUNT <= 32, "status sets are 32-bit masks");

/* Shared by the module's files (sr_http__: module-internal). */

/* sr_http.c */
/* Fill @p prob; @returns the sr_err_t matching @p status. */
sr_err_t sr_http__refuse(sr_http_problem_t *prob, int status,
                         const char *fmt, ...) SR_PRINTF(3, 4);
/* A 500 "out of memory"; @returns SR_ERR_NOMEM. */
sr_err_t sr_http__out_of_memory(sr_http_problem_t *prob);
/* "<s>" with printable ASCII kept, '"' and '\' escaped, other bytes as
 * \xNN, and "..." after QUOTE_SHOWN bytes. */
void sr_http__quote(char out[QUOTE_MAX], const char *s, size_t len);
/* A JSON value as compact ASCII text, shortened: for "got <value>". */
void sr_http__show_json(char out[QUOTE_MAX], const json_t *v);

/* sr_http_route.c */
/* A UUID in its text form (hex digits and dashes only). */
bool sr_http__parse_uuid(const char *s, size_t len, sr_uuid_t *out);

/* sr_http_query.c */
/* A status of @p mask from @p s (any case). */
bool sr_http__parse_status_in(const char *s, size_t len, uint32_t mask,
                              sr_status_t *out);
/* "pending, queued, ..." for the statuses in @p mask. */
void sr_http__list_statuses(char *out, size_t size, uint32_t mask);

#endif /* SR_HTTP_INT_H */
