/* workers/cli/recjson_defs.c - stored definitions' records as JSON values
 * (recjson.h): a definition command's payload (Command versions 5 and 6),
 * the definition entities (ChangelogRecord version 3), a definition event. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recjson.h"
#include "recjson_int.h"

/* ---------------------------------------------------------- definitions */

/* ["null", T] of the definition records: absent is null. */
static json_t *opt_text(bool has, const char *s)
{
        return has ? str(s) : json_null();
}

static json_t *opt_int(bool has, json_int_t v)
{
        return has ? json_integer(v) : json_null();
}

static json_t *opt_bool(bool has, bool v)
{
        return has ? json_boolean(v) : json_null();
}

static json_t *uuid_list(const sr_uuid_t *ids, uint32_t n)
{
        json_t *a = json_array();

        for (uint32_t i = 0; a && i < n; i++)
                if (json_array_append_new(a, sr_recjson_uuid(&ids[i]))) {
                        json_decref(a);
                        return NULL;
                }
        return a;
}

static json_t *def_items(const sr_defcmd_target_t *items, uint32_t n)
{
        json_t *a = json_array();
        bool oom = !a;

        for (uint32_t i = 0; !oom && i < n; i++) {
                const sr_defcmd_target_t *t = &items[i];
                json_t *io = json_object();

                if (!io || json_array_append_new(a, io)) {
                        oom = true;
                        break;
                }
                put(io, "device_id", sr_recjson_uuid(&t->device_id), &oom);
                put(io, "device_name", str(t->device_name), &oom);
                put(io, "device_alias", str(t->device_alias), &oom);
                put(io, "is_active", json_boolean(t->is_active), &oom);
                put(io, "device_meta_json", args_value(t->device_meta_json),
                    &oom);
                put(io, "args_json", args_value(t->args_json), &oom);
        }
        return finish(a, oom);
}

/* Bytes as lower-case hex digits (FillStep's seal_state). */
static json_t *hex_bytes(const uint8_t *b, size_t n)
{
        static const char digits[] = "0123456789abcdef";
        char s[2 * 64 + 1];

        if (n > 64)
                n = 64;
        for (size_t i = 0; i < n; i++) {
                s[2 * i] = digits[b[i] >> 4];
                s[2 * i + 1] = digits[b[i] & 15];
        }
        s[2 * n] = '\0';
        return json_string(s);
}

/* A definition command's payload (Command version 5; FillStep, version 6):
 * "command" its record's name (PutPipeline, ...), then the record's fields
 * with the .avsc names (absent optional ones null), into @p o (the
 * command's "definition"). */
void sr_recjson__put_defcmd(json_t *o, const sr_defcmd_t *d, bool *oom)
{
        const char *tl;

        put(o, "command", json_string(
                    sr_defcmd_name(d->kind) ? sr_defcmd_name(d->kind) :
                                              "unknown"), oom);
        put(o, "pipeline_id", sr_recjson_uuid(&d->pipeline_id), oom);
        put(o, "expected_version", opt_int(d->has_expected_version,
                                           d->expected_version), oom);
        switch (d->kind) {
        case SR_DEFCMD_PUT_PIPELINE:
                put(o, "create", json_boolean(d->create), oom);
                put(o, "name", opt_text(d->u.pipeline.has_name,
                                        d->u.pipeline.name), oom);
                put(o, "description", opt_text(d->u.pipeline.has_description,
                                               d->u.pipeline.description),
                    oom);
                put(o, "is_active", opt_bool(d->u.pipeline.has_is_active,
                                             d->u.pipeline.is_active), oom);
                put(o, "is_default", opt_bool(d->u.pipeline.has_is_default,
                                              d->u.pipeline.is_default), oom);
                put(o, "timeout_seconds",
                    opt_int(d->u.pipeline.has_timeout_seconds,
                            d->u.pipeline.timeout_seconds), oom);
                break;
        case SR_DEFCMD_PUT_STAGE:
                put(o, "create", json_boolean(d->create), oom);
                put(o, "name", opt_text(d->u.stage.has_name, d->u.stage.name),
                    oom);
                put(o, "description", opt_text(d->u.stage.has_description,
                                               d->u.stage.description), oom);
                put(o, "timeout_seconds",
                    opt_int(d->u.stage.has_timeout_seconds,
                            d->u.stage.timeout_seconds), oom);
                put(o, "order", opt_int(d->u.stage.has_order,
                                        d->u.stage.order), oom);
                /* fall through */
        case SR_DEFCMD_DELETE_STAGE:
                put(o, "stage_id", sr_recjson_uuid(&d->u.stage.stage_id), oom);
                break;
        case SR_DEFCMD_PUT_TARGET_LIST:
                tl = sr_tl_type_name(d->u.list.type);
                put(o, "create", json_boolean(d->create), oom);
                put(o, "name", opt_text(d->u.list.has_name, d->u.list.name),
                    oom);
                put(o, "type", opt_text(d->u.list.has_type,
                                        tl ? tl : "unknown"), oom);
                /* fall through */
        case SR_DEFCMD_DELETE_TARGET_LIST:
                put(o, "target_list_id",
                    sr_recjson_uuid(&d->u.list.target_list_id), oom);
                break;
        case SR_DEFCMD_ATTACH_TARGET_LIST:
        case SR_DEFCMD_DETACH_TARGET_LIST:
                put(o, "stage_id", sr_recjson_uuid(&d->u.attach.stage_id), oom);
                put(o, "target_list_id",
                    sr_recjson_uuid(&d->u.attach.target_list_id), oom);
                break;
        case SR_DEFCMD_ADD_TARGETS:
                put(o, "target_list_id",
                    sr_recjson_uuid(&d->u.add.target_list_id), oom);
                put(o, "chunk_index", json_integer(d->u.add.chunk_index), oom);
                put(o, "items", def_items(d->u.add.items, d->u.add.n_items),
                    oom);
                break;
        case SR_DEFCMD_UPDATE_TARGET:
                put(o, "device_name", opt_text(d->u.target.has_device_name,
                                               d->u.target.device_name), oom);
                put(o, "is_active", opt_bool(d->u.target.has_is_active,
                                             d->u.target.is_active), oom);
                /* fall through */
        case SR_DEFCMD_REMOVE_TARGET:
                put(o, "target_list_id",
                    sr_recjson_uuid(&d->u.target.target_list_id), oom);
                put(o, "target_id", sr_recjson_uuid(&d->u.target.target_id),
                    oom);
                break;
        case SR_DEFCMD_LINK_DEVICE_GROUP:
        case SR_DEFCMD_UNLINK_DEVICE_GROUP:
                put(o, "target_list_id",
                    sr_recjson_uuid(&d->u.group.target_list_id), oom);
                put(o, "device_group_id",
                    sr_recjson_uuid(&d->u.group.device_group_id), oom);
                break;
        case SR_DEFCMD_PUT_OPERATION_LIST:
                put(o, "create", json_boolean(d->create), oom);
                put(o, "name", opt_text(d->u.oplist.has_name,
                                        d->u.oplist.name), oom);
                put(o, "description", opt_text(d->u.oplist.has_description,
                                               d->u.oplist.description), oom);
                /* fall through */
        case SR_DEFCMD_DELETE_OPERATION_LIST:
                put(o, "stage_id", sr_recjson_uuid(&d->u.oplist.stage_id), oom);
                put(o, "operation_list_id",
                    sr_recjson_uuid(&d->u.oplist.operation_list_id), oom);
                break;
        case SR_DEFCMD_PUT_OPERATION:
                put(o, "create", json_boolean(d->create), oom);
                put(o, "operation_type",
                    opt_text(d->u.op.has_operation_type,
                             d->u.op.operation_type), oom);
                put(o, "args_json", !d->u.op.has_args ? json_null() :
                                    str(d->u.op.args_json ?
                                                d->u.op.args_json : "{}"),
                    oom);
                /* fall through */
        case SR_DEFCMD_DELETE_OPERATION:
                put(o, "operation_list_id",
                    sr_recjson_uuid(&d->u.op.operation_list_id), oom);
                put(o, "operation_id", sr_recjson_uuid(&d->u.op.operation_id),
                    oom);
                break;
        case SR_DEFCMD_RUN_ENDED:
                put(o, "status", json_string(sr_status_name(d->u.run.status)),
                    oom);
                /* fall through */
        case SR_DEFCMD_START_PIPELINE_RUN:
                put(o, "pipeline_run_id",
                    sr_recjson_uuid(&d->u.run.pipeline_run_id), oom);
                break;
        case SR_DEFCMD_FILL_STEP: {
                /* after is a plain uuid on the wire: the nil one (from the
                 * first target) is shown as such, not as null. */
                char u[SR_UUID_STR_LEN + 1];

                sr_uuid_fmt(&d->u.fill.after, u);
                put(o, "pipeline_run_id",
                    sr_recjson_uuid(&d->u.fill.pipeline_run_id), oom);
                put(o, "stage_index", json_integer(d->u.fill.stage_index),
                    oom);
                put(o, "after", json_string(u), oom);
                put(o, "chunk", json_integer(d->u.fill.chunk), oom);
                put(o, "count", json_integer((json_int_t)d->u.fill.count),
                    oom);
                put(o, "seal_state",
                    hex_bytes(d->u.fill.seal_state,
                              d->u.fill.seal_state_len <=
                                              sizeof(d->u.fill.seal_state) ?
                                      d->u.fill.seal_state_len :
                                      sizeof(d->u.fill.seal_state)),
                    oom);
                break;
        }
        default:
                break;
        }
}

static void put_audit(json_t *o, const sr_def_audit_t *a, bool *oom)
{
        put(o, "version", json_integer(a->version), oom);
        put(o, "created_at", json_integer(a->created_at), oom);
        put(o, "updated_at", json_integer(a->updated_at), oom);
}

/* A definition entity's record (ChangelogRecord version 3): its fields
 * with the .avsc names, into @p o. */
void sr_recjson__put_def_record(json_t *o, const sr_def_record_t *r,
                                bool *oom)
{
        const char *tl;

        put(o, "enterprise_id", str(r->enterprise_id), oom);
        switch (r->kind) {
        case SR_DEF_PIPELINE: {
                const sr_def_pipeline_t *p = &r->u.pipeline;

                put(o, "name", str(p->name), oom);
                put(o, "description", str(p->description), oom);
                put(o, "is_active", json_boolean(p->is_active), oom);
                put(o, "is_default", json_boolean(p->is_default), oom);
                put(o, "timeout_seconds", json_integer(p->timeout_seconds),
                    oom);
                put(o, "deleted_at", json_integer(p->deleted_at), oom);
                put(o, "runs_started", json_integer((json_int_t)
                                                    p->runs_started), oom);
                put(o, "last_seq", json_integer((json_int_t)p->last_seq),
                    oom);
                put(o, "next_ordinal", json_integer((json_int_t)
                                                    p->next_ordinal), oom);
                put_audit(o, &p->a, oom);
                break;
        }
        case SR_DEF_STAGE: {
                const sr_def_stage_t *s = &r->u.stage;

                put(o, "name", str(s->name), oom);
                put(o, "description", str(s->description), oom);
                put(o, "timeout_seconds", json_integer(s->timeout_seconds),
                    oom);
                put(o, "order", json_integer(s->order), oom);
                put(o, "ordinal", json_integer((json_int_t)s->ordinal), oom);
                put_audit(o, &s->a, oom);
                break;
        }
        case SR_DEF_TARGET_LIST: {
                const sr_def_target_list_t *l = &r->u.list;

                tl = sr_tl_type_name(l->type);
                put(o, "name", str(l->name), oom);
                put(o, "type", json_string(tl ? tl : "unknown"), oom);
                put(o, "ordinal", json_integer((json_int_t)l->ordinal), oom);
                put(o, "n_targets", json_integer(l->n_targets), oom);
                put(o, "n_groups", json_integer(l->n_groups), oom);
                put_audit(o, &l->a, oom);
                break;
        }
        case SR_DEF_ATTACHMENT: {
                const sr_def_attachment_t *a = &r->u.attachment;

                put(o, "stage_id", sr_recjson_uuid(&a->stage_id), oom);
                put(o, "target_list_id", sr_recjson_uuid(&a->target_list_id),
                    oom);
                put(o, "ordinal", json_integer((json_int_t)a->ordinal), oom);
                put_audit(o, &a->a, oom);
                break;
        }
        case SR_DEF_OPERATION_LIST: {
                const sr_def_oplist_t *l = &r->u.oplist;

                put(o, "stage_id", sr_recjson_uuid(&l->stage_id), oom);
                put(o, "name", str(l->name), oom);
                put(o, "description", str(l->description), oom);
                put(o, "ordinal", json_integer((json_int_t)l->ordinal), oom);
                put_audit(o, &l->a, oom);
                break;
        }
        case SR_DEF_OPERATION: {
                const sr_def_operation_t *x = &r->u.operation;

                put(o, "operation_list_id",
                    sr_recjson_uuid(&x->operation_list_id), oom);
                put(o, "operation_type", str(x->operation_type), oom);
                put(o, "args_json", args_value(x->args_json), oom);
                put(o, "ordinal", json_integer((json_int_t)x->ordinal), oom);
                put_audit(o, &x->a, oom);
                break;
        }
        case SR_DEF_GROUP_LINK: {
                const sr_def_group_link_t *g = &r->u.group_link;

                put(o, "target_list_id", sr_recjson_uuid(&g->target_list_id),
                    oom);
                put(o, "device_group_id",
                    sr_recjson_uuid(&g->device_group_id), oom);
                put(o, "ordinal", json_integer((json_int_t)g->ordinal), oom);
                put_audit(o, &g->a, oom);
                break;
        }
        case SR_DEF_ACTIVE_RUN: {
                const sr_def_active_run_t *a = &r->u.active_run;

                put(o, "definition_seq",
                    json_integer((json_int_t)a->definition_seq), oom);
                put(o, "filling", json_boolean(a->filling), oom);
                put(o, "ordinal", json_integer((json_int_t)a->ordinal), oom);
                put(o, "stage_ids", uuid_list(a->stage_ids, a->n_stage_ids),
                    oom);
                put_audit(o, &a->a, oom);
                break;
        }
        case SR_DEF_TARGET: {
                const sr_def_target_t *t = &r->u.target;

                put(o, "target_list_id", sr_recjson_uuid(&t->target_list_id),
                    oom);
                put(o, "device_id", sr_recjson_uuid(&t->device_id), oom);
                put(o, "device_name", str(t->device_name), oom);
                put(o, "device_alias", str(t->device_alias), oom);
                put(o, "is_active", json_boolean(t->is_active), oom);
                put(o, "device_meta_json", args_value(t->device_meta_json),
                    oom);
                put(o, "args_json", args_value(t->args_json), oom);
                put_audit(o, &t->a, oom);
                break;
        }
        default:
                break;
        }
}

json_t *sr_recjson_def_event(const sr_def_event_t *ev)
{
        json_t *o = json_object();
        bool oom = !o;
        const char *kind = sr_def_kind_name(ev->entity_type),
                   *change = sr_def_change_name(ev->change);

        if (oom)
                return NULL;
        put(o, "event_id", sr_recjson_uuid(&ev->event_id), &oom);
        put(o, "seq", json_integer((json_int_t)ev->seq), &oom);
        put(o, "pipeline_id", sr_recjson_uuid(&ev->pipeline_id), &oom);
        put(o, "enterprise_id", str(ev->enterprise_id), &oom);
        put(o, "entity_type", json_string(kind ? kind : "unknown"), &oom);
        put(o, "entity_id", sr_recjson_uuid(&ev->entity_id), &oom);
        put(o, "parent_id", sr_recjson_uuid(&ev->parent_id), &oom);
        put(o, "change", json_string(change ? change : "unknown"), &oom);
        put(o, "version", json_integer(ev->version), &oom);
        put(o, "occurred_at", json_integer(ev->occurred_at), &oom);
        put(o, "causation_id", sr_recjson_uuid(&ev->causation_id), &oom);
        return finish(o, oom);
}
