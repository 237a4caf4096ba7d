/* common/domain/sr_defs_int.h - what the rules (sr_defs.c, with the
 * pipeline, stage and operation rules in sr_defs_rules.c and the target
 * list, target and link rules in sr_defs_targets.c) and sr_defs_store.c
 * (the records) share. Not for use outside those files.
 */
#ifndef SR_DEFS_INT_H
#define SR_DEFS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sr_defs.h"
#include "sr_err.h"

/** Index of the entity with @p id in @p arr (elements of @p size whose
 * first member is the id: every entity type of the aggregate starts with
 * its id), -1 when none. */
int64_t sr_defs__find(const void *arr, uint32_t n, size_t size,
                      const sr_uuid_t *id);

#define SR_DEFS_FIND(d, arr, n, id)                                       \
        sr_defs__find((d)->arr, (d)->n, sizeof(*(d)->arr), id)

/* ------------------------------------------------------------ the rules */

/* One command being applied (sr_defs_apply()). */
typedef struct sr_defs_ctx {
        sr_defs_t *d;
        const sr_defcmd_t *cmd;
        const sr_defs_targets_in_t *tin;
        int64_t now;
        sr_defs_opts_t opts; /* all zero when the caller gave none */
        sr_defs_out_t *out;
        char pid[SR_UUID_STR_LEN + 1]; /* the pipeline's id, as text */
} sr_defs_ctx_t;

/* sr_defs.c: refusing and accepting, change records, the aggregate's
 * arrays, the common checks. */
sr_err_t sr_defs__reject(sr_defs_ctx_t *c, sr_reject_t why, const char *fmt,
                         ...) SR_PRINTF(3, 4);
sr_err_t sr_defs__accept(sr_defs_ctx_t *c, uint32_t version);
bool sr_defs__reserve_out(sr_defs_ctx_t *c, uint32_t nch, uint32_t ntg);
bool sr_defs__grow(void **arr, uint32_t n, size_t size);
void sr_defs__remove_at(void *arr, uint32_t *n, uint32_t i, size_t size);
void sr_defs__emit(sr_defs_ctx_t *c, sr_def_kind_t kind, const sr_uuid_t *id,
                   const sr_uuid_t *parent, sr_def_change_t change,
                   uint32_t version, int32_t target_index);
void sr_defs__touch(sr_def_audit_t *a, int64_t now);
void sr_defs__audit_new(sr_def_audit_t *a, int64_t now);
bool sr_defs__is_stale(sr_defs_ctx_t *c, const char *what, const sr_uuid_t *id,
                       uint32_t cur);
bool sr_defs__expects_on_create(sr_defs_ctx_t *c, const char *what);
bool sr_defs__check_name(sr_defs_ctx_t *c, const char *what, const char *in,
                         char out[SR_NAME_MAX]);
bool sr_defs__check_timeout(sr_defs_ctx_t *c, const char *what, int64_t t);
bool sr_defs__runs_use(sr_defs_ctx_t *c, const sr_uuid_t *stage,
                       const char *what);
bool sr_defs__filling_refused(sr_defs_ctx_t *c);
bool sr_defs__name_eq_fold(const char *a, const char *b);
const char *sr_defs__trim_name(const char *in, char out[SR_NAME_MAX]);
bool sr_defs__optype_ok(const char *s);
void sr_defs__copy_str(char *dst, size_t size, const char *src);
void sr_defs__copy_text(char dst[SR_NAME_MAX], const char *src);
bool sr_defs__str_eq_opt(const char *a, const char *b);
uint64_t sr_defs__stage_devices(const sr_defs_t *d, const sr_uuid_t *stage);
uint64_t sr_defs__stage_ops(const sr_defs_t *d, const sr_uuid_t *stage);

#define SR_DEFS_GROW(d, arr, n)                                           \
        sr_defs__grow((void **)&(d)->arr, (d)->n, sizeof(*(d)->arr))

/* sr_defs_rules.c: pipelines, stages, operation lists, operations. */
sr_err_t sr_defs__put_pipeline(sr_defs_ctx_t *c);
sr_err_t sr_defs__delete_pipeline(sr_defs_ctx_t *c);
sr_err_t sr_defs__put_stage(sr_defs_ctx_t *c);
sr_err_t sr_defs__delete_stage(sr_defs_ctx_t *c);
void sr_defs__drop_attachment(sr_defs_ctx_t *c, uint32_t i);
sr_err_t sr_defs__put_oplist(sr_defs_ctx_t *c);
sr_err_t sr_defs__delete_oplist(sr_defs_ctx_t *c);
sr_err_t sr_defs__put_op(sr_defs_ctx_t *c);
sr_err_t sr_defs__delete_op(sr_defs_ctx_t *c);

/* sr_defs_targets.c: target lists, attachments, targets, group links. */
sr_err_t sr_defs__put_list(sr_defs_ctx_t *c);
sr_err_t sr_defs__delete_list(sr_defs_ctx_t *c);
sr_err_t sr_defs__attach_list(sr_defs_ctx_t *c);
sr_err_t sr_defs__detach_list(sr_defs_ctx_t *c);
sr_err_t sr_defs__add_targets(sr_defs_ctx_t *c);
sr_err_t sr_defs__update_target(sr_defs_ctx_t *c);
sr_err_t sr_defs__remove_target(sr_defs_ctx_t *c);
sr_err_t sr_defs__link_group(sr_defs_ctx_t *c);
sr_err_t sr_defs__unlink_group(sr_defs_ctx_t *c);
bool sr_defs__dup_opt(char **dst, const char *src);

#endif /* SR_DEFS_INT_H */
