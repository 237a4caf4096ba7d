/* common/codec/sr_codec_defs_records.c - stored pipeline definitions'
 * records on the wire (docs/definitions.md section 2): the 9 entity
 * records (ChangelogRecord version 3's DefPipeline ... DefTarget), the
 * reply's DefinitionReply (CommandReply version 2, and the changelog's
 * dedupe entries since version 3) and io.sr.v1.DefinitionChanged (the
 * definition events). The commands, and the field helpers both files use,
 * are in sr_codec_defs.c; the wire conventions are its.
 */
#include "sr_codec_int.h"

#include <inttypes.h>
#include <limits.h>
#include <string.h>

/* ---------------------------------------------------------- texts */

static sr_err_t kind_of_text(const char *field, const char *text,
                             sr_def_kind_t *out, sr_errctx_t *ec)
{
        char q[64];
        for (int k = 0; k < SR_DEF__COUNT; k++)
                if (!strcmp(text, sr_def_kind_name((sr_def_kind_t)k))) {
                        *out = (sr_def_kind_t)k;
                        return SR_OK;
                }
        return sr_errctx_set(ec, SR_ERR_SCHEMA,
                             "field %s: unknown definition entity type "
                             "\"%s\"", field,
                             sr_codec__quote(q, text, strlen(text)));
}

static sr_err_t set_kind(avro_value_t *rec, const char *name, int kind,
                         sr_errctx_t *ec)
{
        if ((unsigned)kind >= SR_DEF__COUNT)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field %s: value %d out of range", name,
                                     kind);
        return sr_codec__set_str(rec, name,
                                 sr_def_kind_name((sr_def_kind_t)kind), 0,
                                 ec);
}

static sr_err_t get_kind(avro_value_t *rec, const char *name,
                         sr_def_kind_t *out, sr_errctx_t *ec)
{
        char text[SR_SHORT_MAX];
        sr_err_t err;

        err = sr_codec__get_str(rec, name, text, sizeof(text), ec);
        if (err)
                return err;
        return kind_of_text(name, text, out, ec);
}

/* ---------------------------------------------------------- records */

/* The audit fields of a definition's or a device group's record. */
sr_err_t sr_codec__audit_to(avro_value_t *b, const sr_def_audit_t *a,
                            sr_errctx_t *ec)
{
        sr_err_t err;

        if ((err = sr_codec__set_u32(b, "version", a->version, ec)) ||
            (err = sr_codec__set_long(b, "created_at", a->created_at, ec)) ||
            (err = sr_codec__set_long(b, "updated_at", a->updated_at, ec)))
                return err;
        return SR_OK;
}

sr_err_t sr_codec__audit_from(avro_value_t *b, sr_def_audit_t *a,
                              sr_errctx_t *ec)
{
        sr_err_t err;

        if ((err = sr_codec__get_u32(b, "version", &a->version, ec)) ||
            (err = sr_codec__get_long(b, "created_at", &a->created_at, ec)) ||
            (err = sr_codec__get_long(b, "updated_at", &a->updated_at, ec)))
                return err;
        return SR_OK;
}

#define STR_TO(b, name, s) sr_codec__set_str(b, name, s, sizeof(s), ec)
#define STR_FROM(b, name, s) sr_codec__get_str(b, name, s, sizeof(s), ec)

static sr_err_t stage_ids_to(avro_value_t *b, const sr_def_active_run_t *r,
                             sr_errctx_t *ec)
{
        avro_value_t arr, item;
        sr_err_t err;

        if (r->n_stage_ids && !r->stage_ids)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field stage_ids: %u items, NULL array",
                                     r->n_stage_ids);
        err = sr_codec__field(b, "stage_ids", &arr, ec);
        for (uint32_t i = 0; !err && i < r->n_stage_ids; i++) {
                err = sr_codec__append(&arr, "stage_ids", &item, ec);
                if (!err)
                        err = sr_codec__val_set_uuid(&item, "stage_ids",
                                                     &r->stage_ids[i], ec);
        }
        return err;
}

static sr_err_t stage_ids_from(avro_value_t *b, sr_def_active_run_t *r,
                               sr_errctx_t *ec)
{
        avro_value_t arr, item;
        sr_err_t err;
        size_t n;
        int rc;

        err = sr_codec__get_array(b, "stage_ids", SR_CODEC_MAX_ITEMS, &arr,
                                  &n, ec);
        if (err || n == 0)
                return err;
        r->stage_ids = calloc(n, sizeof(*r->stage_ids));
        if (!r->stage_ids)
                return sr_errctx_set(ec, SR_ERR_NOMEM,
                                     "field stage_ids: calloc %zu items", n);
        r->n_stage_ids = (uint32_t)n;
        for (size_t i = 0; i < n; i++) {
                rc = avro_value_get_by_index(&arr, i, &item, NULL);
                err = rc ? sr_codec__avro_err(ec, rc, "stage_ids", "get") :
                           sr_codec__val_uuid(&item, "stage_ids",
                                              &r->stage_ids[i], ec);
                if (err) {
                        sr_errctx_prefix(ec, "stage_ids[%zu]", i);
                        return err;
                }
        }
        return SR_OK;
}

sr_err_t sr_codec__def_record_to(avro_value_t *b, const sr_def_record_t *r,
                                 sr_errctx_t *ec)
{
        sr_err_t err;

        if ((err = sr_codec__set_uuid(b, "pipeline_id", &r->pipeline_id,
                                      ec)) ||
            (err = STR_TO(b, "enterprise_id", r->enterprise_id)))
                return err;
        switch (r->kind) {
        case SR_DEF_PIPELINE: {
                const sr_def_pipeline_t *p = &r->u.pipeline;

                /* Its id and tenant are the record's: written once. */
                if (!sr_uuid_eq(&p->id, &r->pipeline_id) ||
                    strncmp(p->enterprise_id, r->enterprise_id,
                            sizeof(p->enterprise_id)))
                        return sr_errctx_set(ec, SR_ERR_INVALID,
                                             "field pipeline_id: the "
                                             "pipeline's id and "
                                             "enterprise_id must be the "
                                             "record's");
                if ((err = STR_TO(b, "name", p->name)) ||
                    (err = STR_TO(b, "description", p->description)) ||
                    (err = sr_codec__set_bool(b, "is_active", p->is_active,
                                              ec)) ||
                    (err = sr_codec__set_bool(b, "is_default", p->is_default,
                                              ec)) ||
                    (err = sr_codec__set_long(b, "timeout_seconds",
                                              p->timeout_seconds, ec)) ||
                    (err = sr_codec__set_long(b, "deleted_at", p->deleted_at,
                                              ec)) ||
                    (err = sr_codec__set_u64(b, "runs_started", p->runs_started,
                                             ec)) ||
                    (err = sr_codec__set_u64(b, "last_seq", p->last_seq, ec)) ||
                    (err = sr_codec__set_u64(b, "next_ordinal", p->next_ordinal,
                                             ec)))
                        return err;
                return sr_codec__audit_to(b, &p->a, ec);
        }
        case SR_DEF_STAGE: {
                const sr_def_stage_t *s = &r->u.stage;

                if ((err = sr_codec__set_uuid(b, "id", &s->id, ec)) ||
                    (err = STR_TO(b, "name", s->name)) ||
                    (err = STR_TO(b, "description", s->description)) ||
                    (err = sr_codec__set_long(b, "timeout_seconds",
                                              s->timeout_seconds, ec)) ||
                    (err = sr_codec__set_u32(b, "order", s->order, ec)) ||
                    (err = sr_codec__set_u64(b, "ordinal", s->ordinal, ec)))
                        return err;
                return sr_codec__audit_to(b, &s->a, ec);
        }
        case SR_DEF_TARGET_LIST: {
                const sr_def_target_list_t *l = &r->u.list;

                if ((err = sr_codec__set_uuid(b, "id", &l->id, ec)) ||
                    (err = STR_TO(b, "name", l->name)) ||
                    (err = sr_codec__set_tl_type(b, "type", false, true,
                                                 l->type,
                                                 ec)) ||
                    (err = sr_codec__set_u64(b, "ordinal", l->ordinal, ec)) ||
                    (err = sr_codec__set_u32(b, "n_targets", l->n_targets,
                                             ec)) ||
                    (err = sr_codec__set_u32(b, "n_groups", l->n_groups, ec)))
                        return err;
                return sr_codec__audit_to(b, &l->a, ec);
        }
        case SR_DEF_ATTACHMENT: {
                const sr_def_attachment_t *a = &r->u.attachment;

                if ((err = sr_codec__set_uuid(b, "id", &a->id, ec)) ||
                    (err = sr_codec__set_uuid(b, "stage_id", &a->stage_id,
                                              ec)) ||
                    (err = sr_codec__set_uuid(b, "target_list_id",
                                              &a->target_list_id, ec)) ||
                    (err = sr_codec__set_u64(b, "ordinal", a->ordinal, ec)))
                        return err;
                return sr_codec__audit_to(b, &a->a, ec);
        }
        case SR_DEF_OPERATION_LIST: {
                const sr_def_oplist_t *o = &r->u.oplist;

                if ((err = sr_codec__set_uuid(b, "id", &o->id, ec)) ||
                    (err = sr_codec__set_uuid(b, "stage_id", &o->stage_id,
                                              ec)) ||
                    (err = STR_TO(b, "name", o->name)) ||
                    (err = STR_TO(b, "description", o->description)) ||
                    (err = sr_codec__set_u64(b, "ordinal", o->ordinal, ec)))
                        return err;
                return sr_codec__audit_to(b, &o->a, ec);
        }
        case SR_DEF_OPERATION: {
                const sr_def_operation_t *o = &r->u.operation;

                if ((err = sr_codec__set_uuid(b, "id", &o->id, ec)) ||
                    (err = sr_codec__set_uuid(b, "operation_list_id",
                                              &o->operation_list_id, ec)) ||
                    (err = STR_TO(b, "operation_type", o->operation_type)) ||
                    (err = sr_codec__set_opt_str(b, "args_json", o->args_json,
                                                 0, ec)) ||
                    (err = sr_codec__set_u64(b, "ordinal", o->ordinal, ec)))
                        return err;
                return sr_codec__audit_to(b, &o->a, ec);
        }
        case SR_DEF_GROUP_LINK: {
                const sr_def_group_link_t *g = &r->u.group_link;

                if ((err = sr_codec__set_uuid(b, "id", &g->id, ec)) ||
                    (err = sr_codec__set_uuid(b, "target_list_id",
                                              &g->target_list_id, ec)) ||
                    (err = sr_codec__set_uuid(b, "device_group_id",
                                              &g->device_group_id, ec)) ||
                    (err = sr_codec__set_u64(b, "ordinal", g->ordinal, ec)))
                        return err;
                return sr_codec__audit_to(b, &g->a, ec);
        }
        case SR_DEF_ACTIVE_RUN: {
                const sr_def_active_run_t *a = &r->u.active_run;

                if ((err = sr_codec__set_uuid(b, "run_id", &a->run_id, ec)) ||
                    (err = sr_codec__set_u64(b, "definition_seq",
                                             a->definition_seq,
                                             ec)) ||
                    (err = sr_codec__set_bool(b, "filling", a->filling, ec)) ||
                    (err = sr_codec__set_u64(b, "ordinal", a->ordinal, ec)) ||
                    (err = stage_ids_to(b, a, ec)))
                        return err;
                return sr_codec__audit_to(b, &a->a, ec);
        }
        case SR_DEF_TARGET: {
                const sr_def_target_t *t = &r->u.target;

                if ((err = sr_codec__set_uuid(b, "id", &t->id, ec)) ||
                    (err = sr_codec__set_uuid(b, "target_list_id",
                                              &t->target_list_id, ec)) ||
                    (err = sr_codec__set_uuid(b, "device_id", &t->device_id,
                                              ec)) ||
                    (err = STR_TO(b, "device_name", t->device_name)) ||
                    (err = STR_TO(b, "device_alias", t->device_alias)) ||
                    (err = sr_codec__set_bool(b, "is_active", t->is_active,
                                              ec)) ||
                    (err = sr_codec__set_opt_str(b, "device_meta_json",
                                                 t->device_meta_json, 0,
                                                 ec)) ||
                    (err = sr_codec__set_opt_str(b, "args_json", t->args_json,
                                                 0, ec)))
                        return err;
                return sr_codec__audit_to(b, &t->a, ec);
        }
        default:
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field state: unknown definition kind "
                                     "%d", (int)r->kind);
        }
}

sr_err_t sr_codec__def_record_from(avro_value_t *b, sr_def_record_t *r,
                                   sr_errctx_t *ec)
{
        char text[SR_SHORT_MAX];
        sr_err_t err;

        if ((err = sr_codec__get_uuid(b, "pipeline_id", &r->pipeline_id,
                                      ec)) ||
            (err = STR_FROM(b, "enterprise_id", r->enterprise_id)))
                return err;
        switch (r->kind) {
        case SR_DEF_PIPELINE: {
                sr_def_pipeline_t *p = &r->u.pipeline;

                p->id = r->pipeline_id;
                memcpy(p->enterprise_id, r->enterprise_id,
                       sizeof(p->enterprise_id));
                if ((err = STR_FROM(b, "name", p->name)) ||
                    (err = STR_FROM(b, "description", p->description)) ||
                    (err = sr_codec__get_bool(b, "is_active", &p->is_active,
                                              ec)) ||
                    (err = sr_codec__get_bool(b, "is_default", &p->is_default,
                                              ec)) ||
                    (err = sr_codec__get_long(b, "timeout_seconds",
                                              &p->timeout_seconds, ec)) ||
                    (err = sr_codec__get_long(b, "deleted_at", &p->deleted_at,
                                              ec)) ||
                    (err = sr_codec__get_u64(b, "runs_started",
                                             &p->runs_started, ec)) ||
                    (err = sr_codec__get_u64(b, "last_seq", &p->last_seq,
                                             ec)) ||
                    (err = sr_codec__get_u64(b, "next_ordinal",
                                             &p->next_ordinal, ec)))
                        return err;
                return sr_codec__audit_from(b, &p->a, ec);
        }
        case SR_DEF_STAGE: {
                sr_def_stage_t *s = &r->u.stage;

                if ((err = sr_codec__get_uuid(b, "id", &s->id, ec)) ||
                    (err = STR_FROM(b, "name", s->name)) ||
                    (err = STR_FROM(b, "description", s->description)) ||
                    (err = sr_codec__get_long(b, "timeout_seconds",
                                              &s->timeout_seconds, ec)) ||
                    (err = sr_codec__get_u32(b, "order", &s->order, ec)) ||
                    (err = sr_codec__get_u64(b, "ordinal", &s->ordinal, ec)))
                        return err;
                return sr_codec__audit_from(b, &s->a, ec);
        }
        case SR_DEF_TARGET_LIST: {
                sr_def_target_list_t *l = &r->u.list;

                if ((err = sr_codec__get_uuid(b, "id", &l->id, ec)) ||
                    (err = STR_FROM(b, "name", l->name)) ||
                    (err = STR_FROM(b, "type", text)) ||
                    (err = sr_codec__parse_tl_type("type", text, &l->type,
                                                   ec)) ||
                    (err = sr_codec__get_u64(b, "ordinal", &l->ordinal, ec)) ||
                    (err = sr_codec__get_u32(b, "n_targets", &l->n_targets,
                                             ec)) ||
                    (err = sr_codec__get_u32(b, "n_groups", &l->n_groups,
                                             ec)))
                        return err;
                return sr_codec__audit_from(b, &l->a, ec);
        }
        case SR_DEF_ATTACHMENT: {
                sr_def_attachment_t *a = &r->u.attachment;

                if ((err = sr_codec__get_uuid(b, "id", &a->id, ec)) ||
                    (err = sr_codec__get_uuid(b, "stage_id", &a->stage_id,
                                              ec)) ||
                    (err = sr_codec__get_uuid(b, "target_list_id",
                                              &a->target_list_id, ec)) ||
                    (err = sr_codec__get_u64(b, "ordinal", &a->ordinal, ec)))
                        return err;
                return sr_codec__audit_from(b, &a->a, ec);
        }
        case SR_DEF_OPERATION_LIST: {
                sr_def_oplist_t *o = &r->u.oplist;

                if ((err = sr_codec__get_uuid(b, "id", &o->id, ec)) ||
                    (err = sr_codec__get_uuid(b, "stage_id", &o->stage_id,
                                              ec)) ||
                    (err = STR_FROM(b, "name", o->name)) ||
                    (err = STR_FROM(b, "description", o->description)) ||
                    (err = sr_codec__get_u64(b, "ordinal", &o->ordinal, ec)))
                        return err;
                return sr_codec__audit_from(b, &o->a, ec);
        }
        case SR_DEF_OPERATION: {
                sr_def_operation_t *o = &r->u.operation;

                if ((err = sr_codec__get_uuid(b, "id", &o->id, ec)) ||
                    (err = sr_codec__get_uuid(b, "operation_list_id",
                                              &o->operation_list_id, ec)) ||
                    (err = STR_FROM(b, "operation_type", o->operation_type)) ||
                    (err = sr_codec__get_u64(b, "ordinal", &o->ordinal, ec)) ||
                    (err = sr_codec__audit_from(b, &o->a, ec)))
                        return err;
                /* Last: the only allocation. */
                return sr_codec__get_str_dup(b, "args_json", true,
                                             &o->args_json, ec);
        }
        case SR_DEF_GROUP_LINK: {
                sr_def_group_link_t *g = &r->u.group_link;

                if ((err = sr_codec__get_uuid(b, "id", &g->id, ec)) ||
                    (err = sr_codec__get_uuid(b, "target_list_id",
                                              &g->target_list_id, ec)) ||
                    (err = sr_codec__get_uuid(b, "device_group_id",
                                              &g->device_group_id, ec)) ||
                    (err = sr_codec__get_u64(b, "ordinal", &g->ordinal, ec)))
                        return err;
                return sr_codec__audit_from(b, &g->a, ec);
        }
        case SR_DEF_ACTIVE_RUN: {
                sr_def_active_run_t *a = &r->u.active_run;

                if ((err = sr_codec__get_uuid(b, "run_id", &a->run_id, ec)) ||
                    (err = sr_codec__get_u64(b, "definition_seq",
                                             &a->definition_seq,
                                             ec)) ||
                    (err = sr_codec__get_bool(b, "filling", &a->filling,
                                              ec)) ||
                    (err = sr_codec__get_u64(b, "ordinal", &a->ordinal, ec)) ||
                    (err = sr_codec__audit_from(b, &a->a, ec)))
                        return err;
                return stage_ids_from(b, a, ec);
        }
        case SR_DEF_TARGET: {
                sr_def_target_t *t = &r->u.target;

                if ((err = sr_codec__get_uuid(b, "id", &t->id, ec)) ||
                    (err = sr_codec__get_uuid(b, "target_list_id",
                                              &t->target_list_id, ec)) ||
                    (err = sr_codec__get_uuid(b, "device_id", &t->device_id,
                                              ec)) ||
                    (err = STR_FROM(b, "device_name", t->device_name)) ||
                    (err = STR_FROM(b, "device_alias", t->device_alias)) ||
                    (err = sr_codec__get_bool(b, "is_active", &t->is_active,
                                              ec)) ||
                    (err = sr_codec__audit_from(b, &t->a, ec)) ||
                    (err = sr_codec__get_str_dup(b, "device_meta_json", true,
                                                 &t->device_meta_json, ec)) ||
                    (err = sr_codec__get_str_dup(b, "args_json", true,
                                                 &t->args_json, ec)))
                        return err;
                return SR_OK;
        }
        default:
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field state: unknown definition kind "
                                     "%d", (int)r->kind);
        }
}

/* ---------------------------------------------------------- replies */

sr_err_t sr_codec__reply_def_to(avro_value_t *rec, const sr_reply_def_t *d,
                                sr_errctx_t *ec)
{
        sr_err_t err;

        /* A device group's reply (sr_groups.h) names it beside the
         * definition kinds: the field is text, so version 2 carries it. */
        err = d->entity_kind == SR_REPLY_KIND_DEVICE_GROUP ?
                      sr_codec__set_str(rec, "entity_type", "device_group", 0,
                                        ec) :
                      set_kind(rec, "entity_type", d->entity_kind, ec);
        if (err ||
            (err = sr_codec__set_uuid(rec, "entity_id", &d->entity_id, ec)) ||
            (err = sr_codec__set_u32(rec, "version", d->version, ec)) ||
            (err = sr_codec__set_u64(rec, "seq", d->seq, ec)) ||
            (err = sr_codec__set_u32(rec, "created", d->created, ec)) ||
            (err = sr_codec__set_u32(rec, "added", d->added, ec)) ||
            (err = sr_codec__set_u32(rec, "skipped", d->skipped, ec)))
                return err;
        return SR_OK;
}

sr_err_t sr_codec__reply_def_from(avro_value_t *rec, sr_reply_def_t *d,
                                  sr_errctx_t *ec)
{
        char text[SR_SHORT_MAX];
        sr_def_kind_t k;
        sr_err_t err;

        err = sr_codec__get_str(rec, "entity_type", text, sizeof(text), ec);
        if (!err && !strcmp(text, "device_group"))
                k = (sr_def_kind_t)SR_REPLY_KIND_DEVICE_GROUP;
        else if (!err)
                err = kind_of_text("entity_type", text, &k, ec);
        if (err ||
            (err = sr_codec__get_uuid(rec, "entity_id", &d->entity_id, ec)) ||
            (err = sr_codec__get_u32(rec, "version", &d->version, ec)) ||
            (err = sr_codec__get_u64(rec, "seq", &d->seq, ec)) ||
            (err = sr_codec__get_u32(rec, "created", &d->created, ec)) ||
            (err = sr_codec__get_u32(rec, "added", &d->added, ec)) ||
            (err = sr_codec__get_u32(rec, "skipped", &d->skipped, ec)))
                return err;
        d->entity_kind = (int)k;
        return SR_OK;
}

/* ---------------------------------------------------------- events */

static sr_err_t def_event_to(avro_value_t *v, const sr_def_event_t *e,
                             sr_errctx_t *ec)
{
        const char *change = sr_def_change_name(e->change);
        sr_err_t err;

        if ((err = sr_codec__set_uuid(v, "event_id", &e->event_id, ec)) ||
            (err = sr_codec__set_u64(v, "seq", e->seq, ec)) ||
            (err = sr_codec__set_uuid(v, "pipeline_id", &e->pipeline_id,
                                      ec)) ||
            (err = STR_TO(v, "enterprise_id", e->enterprise_id)) ||
            (err = set_kind(v, "entity_type", (int)e->entity_type, ec)) ||
            (err = sr_codec__set_uuid(v, "entity_id", &e->entity_id, ec)) ||
            (err = sr_codec__set_opt_uuid(v, "parent_id", &e->parent_id,
                                          ec)))
                return err;
        if (!change)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field change: value %d out of range",
                                     (int)e->change);
        if ((err = sr_codec__set_str(v, "change", change, 0, ec)) ||
            (err = sr_codec__set_u32(v, "version", e->version, ec)) ||
            (err = sr_codec__set_long(v, "occurred_at", e->occurred_at,
                                      ec)) ||
            (err = sr_codec__set_uuid(v, "causation_id", &e->causation_id,
                                      ec)))
                return err;
        return SR_OK;
}

static sr_err_t def_event_from(avro_value_t *v, sr_def_event_t *e,
                               sr_errctx_t *ec)
{
        char text[SR_SHORT_MAX], q[64];
        sr_err_t err;
        int c;

        if ((err = sr_codec__get_uuid(v, "event_id", &e->event_id, ec)) ||
            (err = sr_codec__get_u64(v, "seq", &e->seq, ec)) ||
            (err = sr_codec__get_uuid(v, "pipeline_id", &e->pipeline_id,
                                      ec)) ||
            (err = STR_FROM(v, "enterprise_id", e->enterprise_id)) ||
            (err = get_kind(v, "entity_type", &e->entity_type, ec)) ||
            (err = sr_codec__get_uuid(v, "entity_id", &e->entity_id, ec)) ||
            (err = sr_codec__get_opt_uuid(v, "parent_id", &e->parent_id,
                                          ec)) ||
            (err = STR_FROM(v, "change", text)))
                return err;
        for (c = 0; sr_def_change_name((sr_def_change_t)c); c++)
                if (!strcmp(text, sr_def_change_name((sr_def_change_t)c)))
                        break;
        if (!sr_def_change_name((sr_def_change_t)c))
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field change: unknown change \"%s\" "
                                     "(created, updated or deleted)",
                                     sr_codec__quote(q, text, strlen(text)));
        e->change = (sr_def_change_t)c;
        if ((err = sr_codec__get_u32(v, "version", &e->version, ec)) ||
            (err = sr_codec__get_long(v, "occurred_at", &e->occurred_at,
                                      ec)) ||
            (err = sr_codec__get_uuid(v, "causation_id", &e->causation_id,
                                      ec)))
                return err;
        return SR_OK;
}

sr_err_t sr_codec_encode_def_event(sr_codec_t *codec,
                                   const sr_def_event_t *ev, sr_buf_t *out,
                                   sr_errctx_t *ec)
{
        avro_value_t *v;
        sr_err_t err;

        err = sr_codec__begin_encode(codec, SR_SCHEMA_DEF_EVENT, &v, ec);
        if (!err)
                err = def_event_to(v, ev, ec);
        if (!err)
                err = sr_codec__finish_encode(codec, SR_SCHEMA_DEF_EVENT, out,
                                              ec);
        if (err)
                sr_errctx_prefix(ec, "encode definition event");
        return err;
}

sr_err_t sr_codec_decode_def_event(sr_codec_t *codec, sr_slice_t in,
                                   sr_def_event_t *out, sr_errctx_t *ec)
{
        sr_def_event_t tmp;
        avro_value_t *v;
        sr_err_t err;

        memset(&tmp, 0, sizeof(tmp));
        err = sr_codec__begin_decode(codec, in, SR_SCHEMA_DEF_EVENT, &v, ec);
        if (!err)
                err = def_event_from(v, &tmp, ec);
        if (err) {
                sr_errctx_prefix(ec, "definition event");
                return err;
        }
        *out = tmp;
        return SR_OK;
}
