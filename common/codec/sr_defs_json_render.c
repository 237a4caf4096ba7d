/* common/codec/sr_defs_json_render.c - the entities of stored pipeline
 * definitions as Esper JSON objects (docs/definitions.md section 9):
 * each entity's fields, its audit fields (the *_by ones null: we keep no
 * user), args and device_meta from their stored minified text. The bodies
 * are read in sr_defs_json.c.
 */
#include "sr_defs_json.h"

#include "sr_entity_json.h"
#include "sr_spec_json.h"

#include <string.h>

/* ------------------------------------------------------------ entities */

/* Takes @p v in every case; a NULL @p v is an earlier allocation failure. */
static bool put(json_t *obj, const char *key, json_t *v)
{
        return v && json_object_set_new(obj, key, v) == 0;
}

static json_t *fixed_str(const char *s, size_t size)
{
        return sr_json_string_lossy(s, strnlen(s, size));
}

#define FIXED_STR(field) fixed_str((field), sizeof(field))

/* A stored object text as a JSON object; NULL text: {} when
 * @p empty_when_null, else null. */
static json_t *stored_object(const char *text, bool empty_when_null)
{
        json_error_t jerr;
        json_t *v;

        if (!text)
                return empty_when_null ? json_object() : json_null();
        v = json_loads(text, 0, &jerr);
        if (!v && json_error_code(&jerr) == json_error_numeric_overflow)
                v = json_loads(text, JSON_DECODE_INT_AS_REAL, NULL);
        if (v && !json_is_object(v)) {
                json_decref(v);
                return NULL;
        }
        return v;
}

static bool put_audit(json_t *o, const sr_def_audit_t *a)
{
        return put(o, "created_by", json_null()) &&
               put(o, "updated_by", json_null()) &&
               put(o, "created_at", sr_json_time(a->created_at)) &&
               put(o, "updated_at", sr_json_time(a->updated_at));
}

static json_t *done(json_t *o, bool ok)
{
        if (!ok) {
                json_decref(o);
                return NULL;
        }
        return o;
}

json_t *sr_json_def_pipeline(const sr_def_pipeline_t *p,
                             const bool *is_valid)
{
        json_t *o = json_object();

        if (!o)
                return NULL;
        return done(o,
                    put(o, "id", sr_json_uuid(&p->id, false)) &&
                    put(o, "enterprise_id", FIXED_STR(p->enterprise_id)) &&
                    put(o, "name", FIXED_STR(p->name)) &&
                    put(o, "description", FIXED_STR(p->description)) &&
                    put(o, "is_active", json_boolean(p->is_active)) &&
                    put(o, "is_valid", is_valid ? json_boolean(*is_valid) :
                                                  json_null()) &&
                    put(o, "is_visible", json_true()) &&
                    put(o, "is_archived", json_boolean(p->deleted_at != 0)) &&
                    put(o, "is_default", json_boolean(p->is_default)) &&
                    put(o, "timeout_seconds",
                        json_integer((json_int_t)p->timeout_seconds)) &&
                    put_audit(o, &p->a) &&
                    put(o, "version", json_integer(p->a.version)) &&
                    put(o, "deleted_at", sr_json_time(p->deleted_at)));
}

json_t *sr_json_def_stage(const sr_def_stage_t *s, const char *enterprise_id,
                          const sr_uuid_t *pipeline_id)
{
        json_t *o = json_object();

        if (!o)
                return NULL;
        return done(o,
                    put(o, "id", sr_json_uuid(&s->id, false)) &&
                    put(o, "enterprise_id",
                        enterprise_id ?
                                fixed_str(enterprise_id, SR_SHORT_MAX) :
                                json_null()) &&
                    put(o, "pipeline_id", sr_json_uuid(pipeline_id, false)) &&
                    put(o, "name", FIXED_STR(s->name)) &&
                    put(o, "description", FIXED_STR(s->description)) &&
                    put(o, "timeout_seconds",
                        s->timeout_seconds ?
                                json_integer((json_int_t)s->timeout_seconds) :
                                json_null()) &&
                    put(o, "order", json_integer(s->order)) &&
                    put_audit(o, &s->a) &&
                    put(o, "version", json_integer(s->a.version)));
}

json_t *sr_json_def_target_list(const sr_def_target_list_t *l,
                                const sr_uuid_t *pipeline_id)
{
        json_t *o = json_object();

        if (!o)
                return NULL;
        return done(o,
                    put(o, "id", sr_json_uuid(&l->id, false)) &&
                    put(o, "pipeline_id", sr_json_uuid(pipeline_id, false)) &&
                    put(o, "name", FIXED_STR(l->name)) &&
                    put(o, "target_list_type",
                        sr_defs_json_type_name(l->type) ?
                                json_string(sr_defs_json_type_name(l->type)) :
                                json_null()) &&
                    put_audit(o, &l->a) &&
                    put(o, "version", json_integer(l->a.version)));
}

json_t *sr_json_def_target(const sr_def_target_t *t,
                           const sr_uuid_t *pipeline_id)
{
        json_t *o = json_object();

        if (!o)
                return NULL;
        return done(o,
                    put(o, "id", sr_json_uuid(&t->id, false)) &&
                    put(o, "pipeline_id", sr_json_uuid(pipeline_id, false)) &&
                    put(o, "target_list_id",
                        sr_json_uuid(&t->target_list_id, false)) &&
                    put(o, "device_id", sr_json_uuid(&t->device_id, false)) &&
                    put(o, "device_name", FIXED_STR(t->device_name)) &&
                    put(o, "device_alias", FIXED_STR(t->device_alias)) &&
                    put(o, "is_active", json_boolean(t->is_active)) &&
                    put(o, "device_meta",
                        stored_object(t->device_meta_json, false)) &&
                    put(o, "args", stored_object(t->args_json, false)) &&
                    put_audit(o, &t->a) &&
                    put(o, "version", json_integer(t->a.version)));
}

json_t *sr_json_group_device(const sr_def_group_member_t *m)
{
        static const char *const unknown[] = {
                "serial", "template_name", "manufacturer", "android_version",
                "api_level", "is_gms", "is_active", "model", "esper_client",
        };
        json_t *o = json_object();
        bool ok;

        if (!o)
                return NULL;
        ok = put(o, "id", sr_json_uuid(&m->device_id, false)) &&
             put(o, "device_name", FIXED_STR(m->device_name)) &&
             put(o, "alias_name", m->device_alias[0] ?
                                          FIXED_STR(m->device_alias) :
                                          json_null());
        for (size_t i = 0; ok && i < sizeof(unknown) / sizeof(unknown[0]);
             i++)
                ok = put(o, unknown[i], json_null());
        return done(o, ok);
}

json_t *sr_json_def_group_link(const sr_def_group_link_t *g,
                               const sr_uuid_t *pipeline_id)
{
        json_t *o = json_object();

        if (!o)
                return NULL;
        return done(o,
                    put(o, "id", sr_json_uuid(&g->id, false)) &&
                    put(o, "pipeline_id", sr_json_uuid(pipeline_id, false)) &&
                    put(o, "device_group_id",
                        sr_json_uuid(&g->device_group_id, false)) &&
                    put(o, "target_list_id",
                        sr_json_uuid(&g->target_list_id, false)) &&
                    put_audit(o, &g->a) &&
                    put(o, "version", json_integer(g->a.version)));
}

json_t *sr_json_def_oplist(const sr_def_oplist_t *l,
                           const sr_uuid_t *pipeline_id)
{
        json_t *o = json_object();

        if (!o)
                return NULL;
        return done(o,
                    put(o, "id", sr_json_uuid(&l->id, false)) &&
                    put(o, "pipeline_id", sr_json_uuid(pipeline_id, false)) &&
                    put(o, "stage_id", sr_json_uuid(&l->stage_id, false)) &&
                    put(o, "name", FIXED_STR(l->name)) &&
                    put(o, "description", FIXED_STR(l->description)) &&
                    put_audit(o, &l->a) &&
                    put(o, "version", json_integer(l->a.version)));
}

json_t *sr_json_def_operation(const sr_def_operation_t *x,
                              const sr_uuid_t *pipeline_id)
{
        json_t *o = json_object();

        if (!o)
                return NULL;
        return done(o,
                    put(o, "id", sr_json_uuid(&x->id, false)) &&
                    put(o, "operation_list_id",
                        sr_json_uuid(&x->operation_list_id, false)) &&
                    put(o, "pipeline_id", sr_json_uuid(pipeline_id, false)) &&
                    put(o, "operation_type", FIXED_STR(x->operation_type)) &&
                    put(o, "args", stored_object(x->args_json, true)) &&
                    put_audit(o, &x->a) &&
                    put(o, "version", json_integer(x->a.version)));
}

json_t *sr_json_def_bulk_answer(uint32_t created, uint32_t added,
                                uint32_t skipped, const sr_defs_bulk_t *b)
{
        json_t *o, *errs = json_array(), *e;

        for (uint32_t i = 0; errs && b && i < b->n_errors; i++) {
                const sr_defs_bulk_error_t *x = &b->errors[i];

                e = json_object();
                if (!e || !put(e, "index", json_integer(x->index)) ||
                    !put(e, "device_id",
                         x->has_device_id ? FIXED_STR(x->device_id) :
                                            json_null()) ||
                    !put(e, "message", FIXED_STR(x->message))) {
                        json_decref(e);
                        json_decref(errs);
                        return NULL;
                }
                if (json_array_append_new(errs, e)) { /* took e */
                        json_decref(errs);
                        return NULL;
                }
        }
        o = json_object();
        if (!o || !errs) {
                json_decref(o);
                json_decref(errs);
                return NULL;
        }
        if (!put(o, "created_count", json_integer(created)) ||
            !put(o, "added_count", json_integer(added)) ||
            !put(o, "skipped_count", json_integer(skipped))) {
                json_decref(errs);
                json_decref(o);
                return NULL;
        }
        return done(o, put(o, "errors", errs));
}
