/* common/domain/sr_defs_rules.c - the rules of stored pipelines, their
 * stages, operation lists and operations (docs/definitions.md section 3):
 * each checks the whole command, allocates, then changes the aggregate
 * and records the changes (sr_defs.c has the helpers and the dispatch).
 */
#include "sr_defs.h"
#include "sr_defs_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_utf8.h"

#define FIND SR_DEFS_FIND

/* ------------------------------------------------------------ pipeline */

/* A create of an existing pipeline is a retry when every given field is
 * the stored one. */
static bool pipeline_same(const sr_defs_t *d, const sr_defcmd_t *cmd)
{
        char name[SR_NAME_MAX];

        if (cmd->u.pipeline.has_name &&
            (sr_defs__trim_name(cmd->u.pipeline.name, name) ||
             strcmp(name, d->p.name)))
                return false;
        if (cmd->u.pipeline.has_description &&
            strcmp(cmd->u.pipeline.description, d->p.description))
                return false;
        if (cmd->u.pipeline.has_is_active &&
            cmd->u.pipeline.is_active != d->p.is_active)
                return false;
        if (cmd->u.pipeline.has_is_default &&
            cmd->u.pipeline.is_default != d->p.is_default)
                return false;
        return !cmd->u.pipeline.has_timeout_seconds ||
               cmd->u.pipeline.timeout_seconds == d->p.timeout_seconds;
}

static sr_err_t create_pipeline(sr_defs_ctx_t *c)
{
        const sr_defcmd_t *cmd = c->cmd;
        sr_def_pipeline_t p;

        if (c->d->exists) {
                if (!pipeline_same(c->d, cmd))
                        return sr_defs__reject(c, SR_REJECT_INVALID_VALUE,
                                               "pipeline %s already exists "
                                               "with other fields; update it "
                                               "or use a new id", c->pid);
                return sr_defs__accept(c, c->d->p.a.version);
        }
        memset(&p, 0, sizeof(p));
        if (!cmd->u.pipeline.has_name)
                return sr_defs__reject(c, SR_REJECT_INVALID_VALUE,
                                       "pipeline name: "
                                       "required");
        if (!sr_defs__check_name(c, "pipeline", cmd->u.pipeline.name, p.name))
                return SR_OK;
        if (cmd->u.pipeline.has_timeout_seconds &&
            !sr_defs__check_timeout(c, "pipeline",
                                    cmd->u.pipeline.timeout_seconds))
                return SR_OK;
        if (!sr_defs__reserve_out(c, 1, 0))
                return SR_ERR_NOMEM;
        p.id = cmd->pipeline_id;
        sr_defs__copy_str(p.enterprise_id, SR_SHORT_MAX, cmd->enterprise_id);
        if (cmd->u.pipeline.has_description)
                sr_defs__copy_text(p.description, cmd->u.pipeline.description);
        p.is_active = cmd->u.pipeline.has_is_active ?
                              cmd->u.pipeline.is_active : true;
        p.is_default = cmd->u.pipeline.has_is_default &&
                       cmd->u.pipeline.is_default;
        p.timeout_seconds = cmd->u.pipeline.has_timeout_seconds ?
                                    cmd->u.pipeline.timeout_seconds : 86400;
        sr_defs__audit_new(&p.a, c->now);
        c->d->exists = true;
        c->d->p = p;
        sr_defs__emit(c, SR_DEF_PIPELINE, &p.id, NULL, SR_DEF_CREATED, 1, -1);
        return sr_defs__accept(c, 1);
}

sr_err_t sr_defs__put_pipeline(sr_defs_ctx_t *c)
{
        const sr_defcmd_t *cmd = c->cmd;
        sr_def_pipeline_t p = c->d->p;

        if (cmd->create) {
                if (sr_defs__expects_on_create(c, "pipeline"))
                        return SR_OK;
                return create_pipeline(c);
        }
        if (sr_defs__is_stale(c, "pipeline", &p.id, p.a.version))
                return SR_OK;
        if (cmd->u.pipeline.has_name &&
            !sr_defs__check_name(c, "pipeline", cmd->u.pipeline.name, p.name))
                return SR_OK;
        if (cmd->u.pipeline.has_timeout_seconds) {
                if (!sr_defs__check_timeout(c, "pipeline",
                                            cmd->u.pipeline.timeout_seconds))
                        return SR_OK;
                p.timeout_seconds = cmd->u.pipeline.timeout_seconds;
        }
        if (cmd->u.pipeline.has_description)
                sr_defs__copy_text(p.description, cmd->u.pipeline.description);
        if (cmd->u.pipeline.has_is_active)
                p.is_active = cmd->u.pipeline.is_active;
        if (cmd->u.pipeline.has_is_default)
                p.is_default = cmd->u.pipeline.is_default;
        /* A write that changes nothing is no change: same version, no
         * event (as a retried create). */
        if (!strcmp(p.name, c->d->p.name) &&
            !strcmp(p.description, c->d->p.description) &&
            p.is_active == c->d->p.is_active &&
            p.is_default == c->d->p.is_default &&
            p.timeout_seconds == c->d->p.timeout_seconds)
                return sr_defs__accept(c, p.a.version);
        if (!sr_defs__reserve_out(c, 1, 0))
                return SR_ERR_NOMEM;
        sr_defs__touch(&p.a, c->now);
        c->d->p = p;
        sr_defs__emit(c, SR_DEF_PIPELINE, &p.id, NULL, SR_DEF_UPDATED,
                      p.a.version,
                      -1);
        return sr_defs__accept(c, p.a.version);
}

/* Soft delete (section 7): the record stays with deleted_at, the
 * children stay, as they are; a purge removes them later. */
sr_err_t sr_defs__delete_pipeline(sr_defs_ctx_t *c)
{
        sr_def_pipeline_t *p = &c->d->p;

        if (sr_defs__is_stale(c, "pipeline", &p->id, p->a.version))
                return SR_OK;
        if (sr_defs__runs_use(c, NULL, "pipeline"))
                return SR_OK;
        if (!sr_defs__reserve_out(c, 1, 0))
                return SR_ERR_NOMEM;
        p->deleted_at = c->now;
        sr_defs__touch(&p->a, c->now);
        sr_defs__emit(c, SR_DEF_PIPELINE, &p->id, NULL, SR_DEF_DELETED,
                      p->a.version,
                      -1);
        return sr_defs__accept(c, p->a.version);
}

/* ------------------------------------------------------------ stages */

/* Refused name_taken when another stage (not @p self) has @p name. */
static bool stage_name_taken(sr_defs_ctx_t *c, const char *name,
                             const sr_uuid_t *self)
{
        char hid[SR_UUID_STR_LEN + 1];

        for (uint32_t i = 0; i < c->d->n_stages; i++) {
                const sr_def_stage_t *s = &c->d->stages[i];

                if (sr_uuid_eq(&s->id, self) ||
                    !sr_defs__name_eq_fold(s->name, name))
                        continue;
                sr_uuid_fmt(&s->id, hid);
                sr_defs__reject(c, SR_REJECT_NAME_TAKEN, "stage \"%s\": the "
                                "name is taken by stage %s; choose another "
                                "name", name, hid);
                return true;
        }
        return false;
}

/* Refused order_taken when another stage (not @p self) has @p order. */
static bool stage_order_taken(sr_defs_ctx_t *c, const char *name,
                              uint32_t order,
                              const sr_uuid_t *self)
{
        char hid[SR_UUID_STR_LEN + 1];

        for (uint32_t i = 0; i < c->d->n_stages; i++) {
                const sr_def_stage_t *s = &c->d->stages[i];

                if (sr_uuid_eq(&s->id, self) || s->order != order)
                        continue;
                sr_uuid_fmt(&s->id, hid);
                sr_defs__reject(c, SR_REJECT_ORDER_TAKEN,
                                "stage \"%s\": order %"
                                PRIu32 " is taken by stage \"%s\" (%s); choose "
                                "another order", name, order, s->name, hid);
                return true;
        }
        return false;
}

/* Esper's order field is an int: 1..INT32_MAX. */
static bool check_order(sr_defs_ctx_t *c, uint32_t order)
{
        if (order >= 1 && order <= INT32_MAX)
                return true;
        sr_defs__reject(c, SR_REJECT_INVALID_VALUE,
                        "stage order: %" PRIu32 " is not "
                        "an integer in 1..2147483647", order);
        return false;
}

static bool stage_same(const sr_def_stage_t *s, const sr_defcmd_t *cmd)
{
        char name[SR_NAME_MAX];

        if (cmd->u.stage.has_name &&
            (sr_defs__trim_name(cmd->u.stage.name, name) ||
             strcmp(name, s->name)))
                return false;
        if (cmd->u.stage.has_description &&
            strcmp(cmd->u.stage.description, s->description))
                return false;
        if (cmd->u.stage.has_timeout_seconds &&
            cmd->u.stage.timeout_seconds != s->timeout_seconds)
                return false;
        return !cmd->u.stage.has_order || cmd->u.stage.order == s->order;
}

static sr_err_t create_stage(sr_defs_ctx_t *c)
{
        const sr_defcmd_t *cmd = c->cmd;
        sr_defs_t *d = c->d;
        sr_def_stage_t s;
        uint32_t max = 0;

        memset(&s, 0, sizeof(s));
        s.id = cmd->u.stage.stage_id;
        if (!cmd->u.stage.has_name)
                return sr_defs__reject(c, SR_REJECT_INVALID_VALUE,
                                       "stage name: "
                                       "required");
        if (!sr_defs__check_name(c, "stage", cmd->u.stage.name, s.name))
                return SR_OK;
        if (cmd->u.stage.has_timeout_seconds) {
                if (!sr_defs__check_timeout(c, "stage",
                                            cmd->u.stage.timeout_seconds))
                        return SR_OK;
                s.timeout_seconds = cmd->u.stage.timeout_seconds;
        }
        for (uint32_t i = 0; i < d->n_stages; i++)
                if (d->stages[i].order > max)
                        max = d->stages[i].order;
        if (cmd->u.stage.has_order) {
                if (!check_order(c, cmd->u.stage.order) ||
                    stage_order_taken(c, s.name, cmd->u.stage.order, &s.id))
                        return SR_OK;
                s.order = cmd->u.stage.order;
        } else {
                if (max >= INT32_MAX)
                        return sr_defs__reject(c, SR_REJECT_INVALID_VALUE,
                                               "stage "
                                               "order: no order after %" PRIu32
                                               " is free; give one", max);
                s.order = max + 1;
        }
        if (stage_name_taken(c, s.name, &s.id))
                return SR_OK;
        if (c->opts.max.stages && d->n_stages >= c->opts.max.stages)
                return sr_defs__reject(c, SR_REJECT_INVALID_VALUE,
                                       "stages: the pipeline has %" PRIu32
                                       " stages, at most %" PRIu32
                                       " per pipeline (run.max.stages)",
                                       d->n_stages, c->opts.max.stages);
        if (cmd->u.stage.has_description)
                sr_defs__copy_text(s.description, cmd->u.stage.description);
        if (!sr_defs__reserve_out(c, 1, 0) ||
            !SR_DEFS_GROW(d, stages, n_stages))
                return SR_ERR_NOMEM;
        s.ordinal = d->p.next_ordinal++;
        sr_defs__audit_new(&s.a, c->now);
        d->stages[d->n_stages++] = s;
        sr_defs__emit(c, SR_DEF_STAGE, &s.id, &d->p.id, SR_DEF_CREATED, 1, -1);
        return sr_defs__accept(c, 1);
}

sr_err_t sr_defs__put_stage(sr_defs_ctx_t *c)
{
        const sr_defcmd_t *cmd = c->cmd;
        int64_t i = FIND(c->d, stages, n_stages, &cmd->u.stage.stage_id);
        sr_def_stage_t s, *cur;
        char sid[SR_UUID_STR_LEN + 1];

        sr_uuid_fmt(&cmd->u.stage.stage_id, sid);
        if (cmd->create && sr_defs__expects_on_create(c, "stage"))
                return SR_OK;
        if (cmd->create && i >= 0) {
                if (!stage_same(&c->d->stages[i], cmd))
                        return sr_defs__reject(c, SR_REJECT_INVALID_VALUE,
                                               "stage %s already exists with "
                                               "other fields; update it or use "
                                               "a new id", sid);
                return sr_defs__accept(c, c->d->stages[i].a.version);
        }
        if (cmd->create)
                return create_stage(c);
        if (i < 0)
                return sr_defs__reject(c, SR_REJECT_NOT_FOUND,
                                       "stage %s not found in "
                                       "pipeline %s", sid, c->pid);
        cur = &c->d->stages[i];
        s = *cur;
        if (sr_defs__is_stale(c, "stage", &s.id, s.a.version))
                return SR_OK;
        if (cmd->u.stage.has_name &&
            (!sr_defs__check_name(c, "stage", cmd->u.stage.name, s.name) ||
             stage_name_taken(c, s.name, &s.id)))
                return SR_OK;
        if (cmd->u.stage.has_timeout_seconds) {
                if (!sr_defs__check_timeout(c, "stage",
                                            cmd->u.stage.timeout_seconds))
                        return SR_OK;
                s.timeout_seconds = cmd->u.stage.timeout_seconds;
        }
        if (cmd->u.stage.has_order) {
                if (!check_order(c, cmd->u.stage.order) ||
                    stage_order_taken(c, s.name, cmd->u.stage.order, &s.id))
                        return SR_OK;
                s.order = cmd->u.stage.order;
        }
        if (cmd->u.stage.has_description)
                sr_defs__copy_text(s.description, cmd->u.stage.description);
        if (!strcmp(s.name, cur->name) &&
            !strcmp(s.description, cur->description) &&
            s.timeout_seconds == cur->timeout_seconds && s.order == cur->order)
                return sr_defs__accept(c, s.a.version);
        if (!sr_defs__reserve_out(c, 1, 0))
                return SR_ERR_NOMEM;
        sr_defs__touch(&s.a, c->now);
        *cur = s;
        sr_defs__emit(c, SR_DEF_STAGE, &s.id, &c->d->p.id, SR_DEF_UPDATED,
                      s.a.version,
                      -1);
        return sr_defs__accept(c, s.a.version);
}

/* Remove operation @p i (its args freed) with its change record. */
static void drop_operation(sr_defs_ctx_t *c, uint32_t i)
{
        sr_defs_t *d = c->d;
        sr_def_operation_t *op = &d->operations[i];

        sr_defs__emit(c, SR_DEF_OPERATION, &op->id, &op->operation_list_id,
                      SR_DEF_DELETED, op->a.version + 1, -1);
        free(op->args_json);
        sr_defs__remove_at(d->operations, &d->n_operations, i, sizeof(*op));
}

/* Remove operation list @p i: its operations first (creation order),
 * then the list. */
static void drop_oplist(sr_defs_ctx_t *c, uint32_t i)
{
        sr_defs_t *d = c->d;
        sr_def_oplist_t ol = d->oplists[i];

        for (uint32_t j = 0; j < d->n_operations;) {
                if (sr_uuid_eq(&d->operations[j].operation_list_id, &ol.id))
                        drop_operation(c, j);
                else
                        j++;
        }
        sr_defs__emit(c, SR_DEF_OPERATION_LIST, &ol.id, &ol.stage_id,
                      SR_DEF_DELETED,
                      ol.a.version + 1, -1);
        sr_defs__remove_at(d->oplists, &d->n_oplists, i, sizeof(ol));
}

void sr_defs__drop_attachment(sr_defs_ctx_t *c, uint32_t i)
{
        sr_defs_t *d = c->d;
        sr_def_attachment_t *at = &d->attachments[i];

        sr_defs__emit(c, SR_DEF_ATTACHMENT, &at->id, &at->stage_id,
                      SR_DEF_DELETED,
                      at->a.version + 1, -1);
        sr_defs__remove_at(d->attachments, &d->n_attachments, i, sizeof(*at));
}

/* Change records a stage's delete makes: its attachments, operation
 * lists and their operations, itself. */
static uint32_t stage_cascade(const sr_defs_t *d, const sr_uuid_t *stage)
{
        uint32_t n = 1;

        for (uint32_t i = 0; i < d->n_attachments; i++)
                n += sr_uuid_eq(&d->attachments[i].stage_id, stage);
        for (uint32_t i = 0; i < d->n_oplists; i++)
                n += sr_uuid_eq(&d->oplists[i].stage_id, stage);
        return n + (uint32_t)sr_defs__stage_ops(d, stage);
}

/* The cascade, children before their parent so that no reader of the
 * changelog meets a child whose parent is gone: the stage's attachments
 * (creation order), then each operation list (creation order) after its
 * operations, then the stage. Its order value is free again. */
sr_err_t sr_defs__delete_stage(sr_defs_ctx_t *c)
{
        sr_defs_t *d = c->d;
        int64_t i = FIND(d, stages, n_stages, &c->cmd->u.stage.stage_id);
        char sid[SR_UUID_STR_LEN + 1];
        sr_def_stage_t s;

        sr_uuid_fmt(&c->cmd->u.stage.stage_id, sid);
        if (i < 0)
                return sr_defs__reject(c, SR_REJECT_NOT_FOUND,
                                       "stage %s not found in "
                                       "pipeline %s", sid, c->pid);
        s = d->stages[i];
        if (sr_defs__is_stale(c, "stage", &s.id, s.a.version))
                return SR_OK;
        if (sr_defs__runs_use(c, &s.id, "stage"))
                return SR_OK;
        if (!sr_defs__reserve_out(c, stage_cascade(d, &s.id), 0))
                return SR_ERR_NOMEM;
        for (uint32_t j = 0; j < d->n_attachments;) {
                if (sr_uuid_eq(&d->attachments[j].stage_id, &s.id))
                        sr_defs__drop_attachment(c, j);
                else
                        j++;
        }
        for (uint32_t j = 0; j < d->n_oplists;) {
                if (sr_uuid_eq(&d->oplists[j].stage_id, &s.id))
                        drop_oplist(c, j);
                else
                        j++;
        }
        sr_defs__emit(c, SR_DEF_STAGE, &s.id, &d->p.id, SR_DEF_DELETED,
                      s.a.version + 1, -1);
        sr_defs__remove_at(d->stages, &d->n_stages, (uint32_t)i, sizeof(s));
        return sr_defs__accept(c, s.a.version + 1);
}

/* ---------------------------------------------------- operation lists */

static bool oplist_name_taken(sr_defs_ctx_t *c, const sr_uuid_t *stage,
                              const char *name, const sr_uuid_t *self)
{
        char hid[SR_UUID_STR_LEN + 1];

        for (uint32_t i = 0; i < c->d->n_oplists; i++) {
                const sr_def_oplist_t *ol = &c->d->oplists[i];

                if (sr_uuid_eq(&ol->id, self) ||
                    !sr_uuid_eq(&ol->stage_id, stage) ||
                    !sr_defs__name_eq_fold(ol->name, name))
                        continue;
                sr_uuid_fmt(&ol->id, hid);
                sr_defs__reject(c, SR_REJECT_NAME_TAKEN, "operation list "
                                "\"%s\": the name is taken by operation list "
                                "%s of this stage; choose another name", name,
                                hid);
                return true;
        }
        return false;
}

/* The operation list a command names, refused not_found when it is not
 * in this pipeline or not under the stage the command names (nil: any). */
static int64_t oplist_named(sr_defs_ctx_t *c, const sr_uuid_t *id,
                            const sr_uuid_t *stage)
{
        int64_t i = FIND(c->d, oplists, n_oplists, id);
        char oid[SR_UUID_STR_LEN + 1];

        if (i >= 0 && (!stage || sr_uuid_is_nil(stage) ||
                       sr_uuid_eq(&c->d->oplists[i].stage_id, stage)))
                return i;
        sr_uuid_fmt(id, oid);
        sr_defs__reject(c, SR_REJECT_NOT_FOUND,
                        "operation list %s not found in %s %s",
                        oid, stage && !sr_uuid_is_nil(stage) ? "the stage of" :
                        "pipeline", c->pid);
        return -1;
}

static sr_err_t create_oplist(sr_defs_ctx_t *c, int64_t i)
{
        const sr_defcmd_t *cmd = c->cmd;
        sr_defs_t *d = c->d;
        sr_def_oplist_t ol;
        char name[SR_NAME_MAX], oid[SR_UUID_STR_LEN + 1];

        if (i >= 0) {
                const sr_def_oplist_t *cur = &d->oplists[i];

                sr_uuid_fmt(&cur->id, oid);
                if (!sr_uuid_eq(&cur->stage_id, &cmd->u.oplist.stage_id) ||
                    (cmd->u.oplist.has_name &&
                     (sr_defs__trim_name(cmd->u.oplist.name, name) ||
                      strcmp(name, cur->name))) ||
                    (cmd->u.oplist.has_description &&
                     strcmp(cmd->u.oplist.description, cur->description)))
                        return sr_defs__reject(c, SR_REJECT_INVALID_VALUE,
                                               "operation list %s already "
                                               "exists with other fields; "
                                               "update it or use a new id",
                                               oid);
                return sr_defs__accept(c, cur->a.version);
        }
        memset(&ol, 0, sizeof(ol));
        ol.id = cmd->u.oplist.operation_list_id;
        ol.stage_id = cmd->u.oplist.stage_id;
        if (!cmd->u.oplist.has_name)
                return sr_defs__reject(c, SR_REJECT_INVALID_VALUE,
                                       "operation list "
                                       "name: required");
        if (!sr_defs__check_name(c, "operation list", cmd->u.oplist.name,
                                 ol.name) ||
            oplist_name_taken(c, &ol.stage_id, ol.name, &ol.id))
                return SR_OK;
        if (cmd->u.oplist.has_description)
                sr_defs__copy_text(ol.description, cmd->u.oplist.description);
        if (!sr_defs__reserve_out(c, 1, 0) ||
            !SR_DEFS_GROW(d, oplists, n_oplists))
                return SR_ERR_NOMEM;
        ol.ordinal = d->p.next_ordinal++;
        sr_defs__audit_new(&ol.a, c->now);
        d->oplists[d->n_oplists++] = ol;
        sr_defs__emit(c, SR_DEF_OPERATION_LIST, &ol.id, &ol.stage_id,
                      SR_DEF_CREATED,
                      1, -1);
        return sr_defs__accept(c, 1);
}

sr_err_t sr_defs__put_oplist(sr_defs_ctx_t *c)
{
        const sr_defcmd_t *cmd = c->cmd;
        sr_def_oplist_t ol, *cur;
        char sid[SR_UUID_STR_LEN + 1];
        int64_t i;

        if (cmd->create) {
                if (sr_defs__expects_on_create(c, "operation list"))
                        return SR_OK;
                if (!sr_defs_stage(c->d, &cmd->u.oplist.stage_id)) {
                        sr_uuid_fmt(&cmd->u.oplist.stage_id, sid);
                        return sr_defs__reject(c, SR_REJECT_NOT_FOUND,
                                               "stage %s not found in pipeline "
                                               "%s", sid, c->pid);
                }
                return create_oplist(c, FIND(c->d, oplists, n_oplists,
                                             &cmd->u.oplist.operation_list_id));
        }
        i = oplist_named(c, &cmd->u.oplist.operation_list_id,
                         &cmd->u.oplist.stage_id);
        if (i < 0)
                return SR_OK;
        cur = &c->d->oplists[i];
        ol = *cur;
        if (sr_defs__is_stale(c, "operation list", &ol.id, ol.a.version))
                return SR_OK;
        if (cmd->u.oplist.has_name &&
            (!sr_defs__check_name(c, "operation list", cmd->u.oplist.name,
                                  ol.name) ||
             oplist_name_taken(c, &ol.stage_id, ol.name, &ol.id)))
                return SR_OK;
        if (cmd->u.oplist.has_description)
                sr_defs__copy_text(ol.description, cmd->u.oplist.description);
        if (!strcmp(ol.name, cur->name) &&
            !strcmp(ol.description, cur->description))
                return sr_defs__accept(c, ol.a.version);
        if (!sr_defs__reserve_out(c, 1, 0))
                return SR_ERR_NOMEM;
        sr_defs__touch(&ol.a, c->now);
        *cur = ol;
        sr_defs__emit(c, SR_DEF_OPERATION_LIST, &ol.id, &ol.stage_id,
                      SR_DEF_UPDATED,
                      ol.a.version, -1);
        return sr_defs__accept(c, ol.a.version);
}

sr_err_t sr_defs__delete_oplist(sr_defs_ctx_t *c)
{
        const sr_defcmd_t *cmd = c->cmd;
        sr_defs_t *d = c->d;
        uint32_t n = 1, version;
        int64_t i;

        i = oplist_named(c, &cmd->u.oplist.operation_list_id,
                         &cmd->u.oplist.stage_id);
        if (i < 0)
                return SR_OK;
        version = d->oplists[i].a.version;
        if (sr_defs__is_stale(c, "operation list", &d->oplists[i].id, version))
                return SR_OK;
        for (uint32_t j = 0; j < d->n_operations; j++)
                n += sr_uuid_eq(&d->operations[j].operation_list_id,
                                &d->oplists[i].id);
        if (!sr_defs__reserve_out(c, n, 0))
                return SR_ERR_NOMEM;
        drop_oplist(c, (uint32_t)i);
        return sr_defs__accept(c, version + 1);
}

/* --------------------------------------------------------- operations */

/* The gateway checks that args are a JSON object; the owner only keeps
 * "" out, so that NULL stays the one spelling of "{}". */
static bool check_op_fields(sr_defs_ctx_t *c)
{
        const sr_defcmd_t *cmd = c->cmd;

        if (cmd->u.op.has_operation_type &&
            !sr_defs__optype_ok(cmd->u.op.operation_type)) {
                sr_defs__reject(c, SR_REJECT_INVALID_VALUE, "operation_type: "
                                "\"%.63s\" is not 1..63 upper-case letters, "
                                "digits and _ (LOCK, INSTALL, ...)",
                                cmd->u.op.operation_type);
                return false;
        }
        if (cmd->u.op.has_args && cmd->u.op.args_json &&
            !cmd->u.op.args_json[0]) {
                sr_defs__reject(c, SR_REJECT_INVALID_VALUE,
                                "args: empty text; give a "
                                "JSON object or none");
                return false;
        }
        return true;
}

static bool op_same(const sr_def_operation_t *op, const sr_defcmd_t *cmd)
{
        if (!sr_uuid_eq(&op->operation_list_id, &cmd->u.op.operation_list_id))
                return false;
        if (cmd->u.op.has_operation_type &&
            strcmp(cmd->u.op.operation_type, op->operation_type))
                return false;
        return !cmd->u.op.has_args ||
               sr_defs__str_eq_opt(cmd->u.op.args_json, op->args_json);
}

static sr_err_t create_op(sr_defs_ctx_t *c, const sr_def_oplist_t *ol)
{
        const sr_defcmd_t *cmd = c->cmd;
        sr_defs_t *d = c->d;
        int64_t i = FIND(d, operations, n_operations, &cmd->u.op.operation_id);
        char oid[SR_UUID_STR_LEN + 1], sid[SR_UUID_STR_LEN + 1];
        const sr_def_stage_t *s = sr_defs_stage(d, &ol->stage_id);
        sr_def_operation_t op;
        uint64_t n;

        sr_uuid_fmt(&cmd->u.op.operation_id, oid);
        if (i >= 0) {
                if (!op_same(&d->operations[i], cmd))
                        return sr_defs__reject(c, SR_REJECT_INVALID_VALUE,
                                               "operation %s already exists "
                                               "with other fields; update it "
                                               "or use a new id", oid);
                return sr_defs__accept(c, d->operations[i].a.version);
        }
        if (!cmd->u.op.has_operation_type)
                return sr_defs__reject(c, SR_REJECT_INVALID_VALUE,
                                       "operation_type: "
                                       "required");
        if (!check_op_fields(c))
                return SR_OK;
        n = sr_defs__stage_ops(d, &ol->stage_id) + 1;
        if (c->opts.max.ops && n > c->opts.max.ops) {
                sr_uuid_fmt(&ol->stage_id, sid);
                return sr_defs__reject(c, SR_REJECT_INVALID_VALUE,
                                       "operations: stage \"%s\" (%s) would "
                                       "have %" PRIu64 " operations, at most %"
                                       PRIu32 " per stage "
                                       "(stage.max.operations)", s ? s->name :
                                       "?", sid, n, c->opts.max.ops);
        }
        memset(&op, 0, sizeof(op));
        op.id = cmd->u.op.operation_id;
        op.operation_list_id = ol->id;
        sr_defs__copy_str(op.operation_type, SR_SHORT_MAX,
                          cmd->u.op.operation_type);
        if (!sr_defs__reserve_out(c, 1, 0) ||
            !sr_defs__dup_opt(&op.args_json,
                              cmd->u.op.has_args ? cmd->u.op.args_json :
                                                         NULL))
                return SR_ERR_NOMEM;
        if (!SR_DEFS_GROW(d, operations, n_operations)) {
                free(op.args_json);
                return SR_ERR_NOMEM;
        }
        op.ordinal = d->p.next_ordinal++;
        sr_defs__audit_new(&op.a, c->now);
        d->operations[d->n_operations++] = op;
        sr_defs__emit(c, SR_DEF_OPERATION, &op.id, &op.operation_list_id,
                      SR_DEF_CREATED, 1, -1);
        return sr_defs__accept(c, 1);
}

/* The operation a command names, refused not_found when it is not under
 * the operation list the command names (nil: any). */
static int64_t op_named(sr_defs_ctx_t *c)
{
        const sr_defcmd_t *cmd = c->cmd;
        int64_t i = FIND(c->d, operations, n_operations,
                         &cmd->u.op.operation_id);
        char oid[SR_UUID_STR_LEN + 1];

        if (i >= 0 && (sr_uuid_is_nil(&cmd->u.op.operation_list_id) ||
                       sr_uuid_eq(&c->d->operations[i].operation_list_id,
                                  &cmd->u.op.operation_list_id)))
                return i;
        sr_uuid_fmt(&cmd->u.op.operation_id, oid);
        sr_defs__reject(c, SR_REJECT_NOT_FOUND, "operation %s not found in its "
                        "operation list", oid);
        return -1;
}

sr_err_t sr_defs__put_op(sr_defs_ctx_t *c)
{
        const sr_defcmd_t *cmd = c->cmd;
        sr_def_operation_t *op;
        char *args = NULL;
        int64_t i;

        if (cmd->create) {
                if (sr_defs__expects_on_create(c, "operation"))
                        return SR_OK;
                i = oplist_named(c, &cmd->u.op.operation_list_id, NULL);
                return i < 0 ? SR_OK : create_op(c, &c->d->oplists[i]);
        }
        i = op_named(c);
        if (i < 0)
                return SR_OK;
        op = &c->d->operations[i];
        if (sr_defs__is_stale(c, "operation", &op->id, op->a.version) ||
            !check_op_fields(c))
                return SR_OK;
        if ((!cmd->u.op.has_operation_type ||
             !strcmp(cmd->u.op.operation_type, op->operation_type)) &&
            (!cmd->u.op.has_args || sr_defs__str_eq_opt(cmd->u.op.args_json,
                                                op->args_json)))
                return sr_defs__accept(c, op->a.version);
        if (!sr_defs__reserve_out(c, 1, 0) ||
            (cmd->u.op.has_args &&
             !sr_defs__dup_opt(&args, cmd->u.op.args_json)))
                return SR_ERR_NOMEM;
        if (cmd->u.op.has_operation_type)
                sr_defs__copy_str(op->operation_type, SR_SHORT_MAX,
                                  cmd->u.op.operation_type);
        if (cmd->u.op.has_args) {
                free(op->args_json);
                op->args_json = args; /* ownership moved */
        }
        sr_defs__touch(&op->a, c->now);
        sr_defs__emit(c, SR_DEF_OPERATION, &op->id, &op->operation_list_id,
                      SR_DEF_UPDATED, op->a.version, -1);
        return sr_defs__accept(c, op->a.version);
}

sr_err_t sr_defs__delete_op(sr_defs_ctx_t *c)
{
        int64_t i = op_named(c);
        uint32_t version;

        if (i < 0)
                return SR_OK;
        version = c->d->operations[i].a.version;
        if (sr_defs__is_stale(c, "operation", &c->d->operations[i].id, version))
                return SR_OK;
        if (!sr_defs__reserve_out(c, 1, 0))
                return SR_ERR_NOMEM;
        drop_operation(c, (uint32_t)i);
        return sr_defs__accept(c, version + 1);
}
