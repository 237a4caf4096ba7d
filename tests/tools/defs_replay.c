/* tests/tools/defs_replay.c - sr-defs-replay: the rules of stored pipeline
 * definitions (common/domain/sr_defs.h) driven from JSON lines, as the
 * worker will drive them, for the differential test against the Python
 * reference model (tests/model/defs_differential.py, defsmodel.py).
 *
 * stdin, one input per line:
 *   {"reset": {"max_stages": N, "max_ops": N, "max_targets": N,
 *              "chunk_targets": N}}      forget everything; these limits
 *   {"now": MS, "cmd": {"kind": "PutPipeline", "command_id": ID,
 *    "enterprise_id": E, "pipeline_id": ID, "create": BOOL,
 *    "expected_version": N, ...}}
 * A command's fields are the sr_defcmd_t union's, by name (name,
 * description, is_active, is_default, timeout_seconds, stage_id, order,
 * target_list_id, type ("DEVICES", ...), chunk_index, items [{device_id,
 * device_name, device_alias, is_active}], target_id, device_name,
 * device_group_id, operation_list_id, operation_id, operation_type, args
 * (an object), pipeline_run_id, status); a field present sets its has_
 * flag. The targets a command names are read from this tool's own store
 * of target records (written from the accepted outputs), as the worker
 * will read them by key.
 *
 * stdout, one line per command:
 *   {"accepted": B, "reason": R, "entity": [KIND, ID, VERSION],
 *    "counts": [CREATED, ADDED, SKIPPED],
 *    "changes": [[KIND, ID, PARENT|null, CHANGE, VERSION, SEQ], ...],
 *    "targets": [{...}], "state": {...} | null}
 * "state" is the whole aggregate of the command's pipeline after it.
 *
 * sr-defs-replay --reload: as the worker will keep them, the outputs of
 * every accepted command go to a store of records by key (sr_defs_record_of
 * for each change, a tombstone for an entity gone, the pipeline's record
 * after every command with changes), and the aggregate is dropped and
 * loaded again from that store (sr_defs_load_record, sr_defs_loaded)
 * before the next command; targets are read from the same store by key.
 * Its output must be the same as without --reload.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sr_defs.h"
#include "sr_model.h"

#define MAX_PIPELINES 4096
#define MAX_TARGETS 65536

static struct {
        sr_uuid_t id;
        sr_defs_t d;
} pipes[MAX_PIPELINES];
static uint32_t n_pipes;

static sr_def_target_t targets[MAX_TARGETS];
static uint32_t n_targets;
static sr_defs_opts_t opts;

static void die(const char *what)
{
        fprintf(stderr, "sr-defs-replay: %s\n", what);
        exit(2);
}

static sr_defs_t *pipe_of(const sr_uuid_t *id)
{
        for (uint32_t i = 0; i < n_pipes; i++)
                if (sr_uuid_eq(&pipes[i].id, id))
                        return &pipes[i].d;
        if (n_pipes == MAX_PIPELINES)
                die("too many pipelines");
        pipes[n_pipes].id = *id;
        memset(&pipes[n_pipes].d, 0, sizeof(pipes[n_pipes].d));
        return &pipes[n_pipes++].d;
}

static sr_def_target_t *target_of(const sr_uuid_t *id)
{
        for (uint32_t i = 0; i < n_targets; i++)
                if (sr_uuid_eq(&targets[i].id, id))
                        return &targets[i];
        return NULL;
}

/* --reload: records by key, as the worker's store will hold them. */
#define MAX_RECORDS 65536
static bool reload;
static struct {
        char key[SR_DEF_KEY_LEN];
        sr_def_record_t rec;
} records[MAX_RECORDS];
static uint32_t n_records;

static int32_t record_at(const char key[SR_DEF_KEY_LEN])
{
        for (uint32_t i = 0; i < n_records; i++)
                if (!memcmp(records[i].key, key, SR_DEF_KEY_LEN))
                        return (int32_t)i;
        return -1;
}

static void record_del(const char key[SR_DEF_KEY_LEN])
{
        int32_t i = record_at(key);

        if (i < 0)
                return;
        sr_def_record_fini(&records[i].rec);
        records[i] = records[--n_records];
}

/* Takes what @p r owns. */
static void record_put(const char key[SR_DEF_KEY_LEN], sr_def_record_t *r)
{
        int32_t i = record_at(key);

        if (i < 0) {
                if (n_records == MAX_RECORDS)
                        die("too many records");
                i = (int32_t)n_records++;
                memcpy(records[i].key, key, SR_DEF_KEY_LEN);
        } else {
                sr_def_record_fini(&records[i].rec);
        }
        records[i].rec = *r;
        memset(r, 0, sizeof(*r));
}

static char *dup_or_null(const char *s)
{
        char *d = s ? strdup(s) : NULL;

        if (s && !d)
                die("out of memory");
        return d;
}

/* A deep copy of a stored record, for loading (the load takes it). */
static void record_dup(sr_def_record_t *dst, const sr_def_record_t *src)
{
        *dst = *src;
        switch (src->kind) {
        case SR_DEF_OPERATION:
                dst->u.operation.args_json =
                        dup_or_null(src->u.operation.args_json);
                break;
        case SR_DEF_ACTIVE_RUN:
                dst->u.active_run.stage_ids = NULL;
                if (src->u.active_run.n_stage_ids) {
                        size_t n = src->u.active_run.n_stage_ids *
                                   sizeof(sr_uuid_t);

                        dst->u.active_run.stage_ids = malloc(n);
                        if (!dst->u.active_run.stage_ids)
                                die("out of memory");
                        memcpy(dst->u.active_run.stage_ids,
                               src->u.active_run.stage_ids, n);
                }
                break;
        case SR_DEF_TARGET:
                dst->u.target.device_meta_json =
                        dup_or_null(src->u.target.device_meta_json);
                dst->u.target.args_json = dup_or_null(src->u.target.args_json);
                break;
        default:
                break;
        }
}

/* What the worker will write for an accepted command. */
static void store_outputs(const sr_defs_t *d, const sr_defs_out_t *out)
{
        char key[SR_DEF_KEY_LEN];
        sr_def_change_rec_t pc = { .kind = SR_DEF_PIPELINE,
                                   .target_index = -1 };
        sr_def_record_t r;
        sr_err_t err;

        if (!out->n_changes)
                return;
        for (uint32_t i = 0; i < out->n_changes; i++) {
                const sr_def_change_rec_t *c = &out->changes[i];

                sr_def_key(c->kind, &d->p.id, &c->id, key);
                err = sr_defs_record_of(d, out, c, &r);
                if (err == SR_ERR_NOT_FOUND)
                        record_del(key);
                else if (err == SR_OK)
                        record_put(key, &r);
                else
                        die("sr_defs_record_of failed");
        }
        pc.id = d->p.id;
        sr_def_key(SR_DEF_PIPELINE, &d->p.id, &d->p.id, key);
        if (sr_defs_record_of(d, out, &pc, &r) != SR_OK)
                die("no pipeline record");
        record_put(key, &r);
}

/* The aggregate of @p pipeline from the records, as a restore loads it. */
static void load(sr_defs_t *d, const sr_uuid_t *pipeline)
{
        char prefix[SR_DEF_KEY_LEN];
        size_t n = sr_def_key_prefix(pipeline, prefix);

        sr_defs_fini(d);
        for (uint32_t i = 0; i < n_records; i++) {
                sr_def_record_t r;
                sr_def_kind_t k;
                sr_uuid_t p, id;

                if (memcmp(records[i].key, prefix, n) ||
                    !sr_def_key_parse(records[i].key, SR_DEF_KEY_LEN, &p, &k,
                                      &id) ||
                    k == SR_DEF_TARGET)
                        continue;
                record_dup(&r, &records[i].rec);
                if (sr_defs_load_record(d, &r) != SR_OK)
                        die("load record");
                sr_def_record_fini(&r);
        }
        sr_defs_loaded(d);
}

static const sr_def_target_t *stored_target(const sr_uuid_t *pipeline,
                                            const sr_uuid_t *id)
{
        char key[SR_DEF_KEY_LEN];
        int32_t i;

        sr_def_key(SR_DEF_TARGET, pipeline, id, key);
        i = record_at(key);
        return i < 0 ? NULL : &records[i].rec.u.target;
}

static void reset(json_t *r)
{
        for (uint32_t i = 0; i < n_pipes; i++)
                sr_defs_fini(&pipes[i].d);
        n_pipes = 0;
        for (uint32_t i = 0; i < n_targets; i++)
                sr_def_target_fini(&targets[i]);
        n_targets = 0;
        for (uint32_t i = 0; i < n_records; i++)
                sr_def_record_fini(&records[i].rec);
        n_records = 0;
        memset(&opts, 0, sizeof(opts));
        opts.max.stages = (uint32_t)json_integer_value(
                json_object_get(r, "max_stages"));
        opts.max.ops = (uint32_t)json_integer_value(
                json_object_get(r, "max_ops"));
        opts.max.targets = (uint32_t)json_integer_value(
                json_object_get(r, "max_targets"));
        opts.chunk_targets = (uint32_t)json_integer_value(
                json_object_get(r, "chunk_targets"));
}

/* ------------------------------------------------------------ input */

static bool get_uuid(json_t *o, const char *k, sr_uuid_t *out)
{
        json_t *v = json_object_get(o, k);

        if (!json_is_string(v))
                return false;
        if (!sr_uuid_parse(json_string_value(v), json_string_length(v), out))
                die("bad uuid");
        return true;
}

static bool get_str(json_t *o, const char *k, char *out, size_t n)
{
        json_t *v = json_object_get(o, k);

        if (!json_is_string(v))
                return false;
        snprintf(out, n, "%s", json_string_value(v));
        return true;
}

static bool get_bool(json_t *o, const char *k, bool *out)
{
        json_t *v = json_object_get(o, k);

        if (!json_is_boolean(v))
                return false;
        *out = json_is_true(v);
        return true;
}

static bool get_int(json_t *o, const char *k, int64_t *out)
{
        json_t *v = json_object_get(o, k);

        if (!json_is_integer(v))
                return false;
        *out = json_integer_value(v);
        return true;
}

static char *get_args(json_t *o, const char *k, bool *has)
{
        json_t *v = json_object_get(o, k);

        *has = v != NULL;
        return v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
}

static sr_defcmd_kind_t kind_of(const char *name)
{
        for (int k = 0; k < SR_DEFCMD__COUNT; k++)
                if (!strcmp(sr_defcmd_name((sr_defcmd_kind_t)k), name))
                        return (sr_defcmd_kind_t)k;
        die("unknown command kind");
        return SR_DEFCMD__COUNT;
}

static void parse_cmd(json_t *c, sr_defcmd_t *cmd)
{
        int64_t v;
        char type[32];

        memset(cmd, 0, sizeof(*cmd));
        cmd->kind = kind_of(json_string_value(json_object_get(c, "kind")));
        get_uuid(c, "command_id", &cmd->command_id);
        get_str(c, "enterprise_id", cmd->enterprise_id,
                sizeof(cmd->enterprise_id));
        get_uuid(c, "pipeline_id", &cmd->pipeline_id);
        get_bool(c, "create", &cmd->create);
        if (get_int(c, "expected_version", &v)) {
                cmd->has_expected_version = true;
                cmd->expected_version = (uint32_t)v;
        }
        switch (cmd->kind) {
        case SR_DEFCMD_PUT_PIPELINE:
        case SR_DEFCMD_DELETE_PIPELINE:
                cmd->u.pipeline.has_name = get_str(
                        c, "name", cmd->u.pipeline.name, SR_NAME_MAX);
                cmd->u.pipeline.has_description =
                        get_str(c, "description", cmd->u.pipeline.description,
                                SR_NAME_MAX);
                cmd->u.pipeline.has_is_active = get_bool(
                        c, "is_active", &cmd->u.pipeline.is_active);
                cmd->u.pipeline.has_is_default = get_bool(
                        c, "is_default", &cmd->u.pipeline.is_default);
                cmd->u.pipeline.has_timeout_seconds =
                        get_int(c, "timeout_seconds",
                                &cmd->u.pipeline.timeout_seconds);
                break;
        case SR_DEFCMD_PUT_STAGE:
        case SR_DEFCMD_DELETE_STAGE:
                get_uuid(c, "stage_id", &cmd->u.stage.stage_id);
                cmd->u.stage.has_name =
                        get_str(c, "name", cmd->u.stage.name, SR_NAME_MAX);
                cmd->u.stage.has_description = get_str(
                        c, "description", cmd->u.stage.description,
                        SR_NAME_MAX);
                cmd->u.stage.has_timeout_seconds = get_int(
                        c, "timeout_seconds", &cmd->u.stage.timeout_seconds);
                if (get_int(c, "order", &v)) {
                        cmd->u.stage.has_order = true;
                        cmd->u.stage.order = (uint32_t)v;
                }
                break;
        case SR_DEFCMD_PUT_TARGET_LIST:
        case SR_DEFCMD_DELETE_TARGET_LIST:
                get_uuid(c, "target_list_id", &cmd->u.list.target_list_id);
                cmd->u.list.has_name =
                        get_str(c, "name", cmd->u.list.name, SR_NAME_MAX);
                if (get_str(c, "type", type, sizeof(type))) {
                        cmd->u.list.has_type = true;
                        if (!sr_tl_type_parse(type, true, &cmd->u.list.type))
                                die("bad list type");
                }
                break;
        case SR_DEFCMD_ATTACH_TARGET_LIST:
        case SR_DEFCMD_DETACH_TARGET_LIST:
                get_uuid(c, "stage_id", &cmd->u.attach.stage_id);
                get_uuid(c, "target_list_id", &cmd->u.attach.target_list_id);
                break;
        case SR_DEFCMD_ADD_TARGETS: {
                json_t *items = json_object_get(c, "items");
                size_t n = json_array_size(items);

                get_uuid(c, "target_list_id", &cmd->u.add.target_list_id);
                if (get_int(c, "chunk_index", &v))
                        cmd->u.add.chunk_index = (uint32_t)v;
                cmd->u.add.items = calloc(n ? n : 1, sizeof(*cmd->u.add.items));
                if (!cmd->u.add.items)
                        die("out of memory");
                cmd->u.add.n_items = (uint32_t)n;
                for (size_t i = 0; i < n; i++) {
                        json_t *it = json_array_get(items, i);
                        sr_defcmd_target_t *t = &cmd->u.add.items[i];

                        get_uuid(it, "device_id", &t->device_id);
                        get_str(it, "device_name", t->device_name,
                                SR_NAME_MAX);
                        get_str(it, "device_alias", t->device_alias,
                                SR_NAME_MAX);
                        t->is_active = true;
                        get_bool(it, "is_active", &t->is_active);
                }
                break;
        }
        case SR_DEFCMD_UPDATE_TARGET:
        case SR_DEFCMD_REMOVE_TARGET:
                get_uuid(c, "target_list_id", &cmd->u.target.target_list_id);
                get_uuid(c, "target_id", &cmd->u.target.target_id);
                cmd->u.target.has_device_name = get_str(
                        c, "device_name", cmd->u.target.device_name,
                        SR_NAME_MAX);
                cmd->u.target.has_is_active = get_bool(
                        c, "is_active", &cmd->u.target.is_active);
                break;
        case SR_DEFCMD_LINK_DEVICE_GROUP:
        case SR_DEFCMD_UNLINK_DEVICE_GROUP:
                get_uuid(c, "target_list_id", &cmd->u.group.target_list_id);
                get_uuid(c, "device_group_id", &cmd->u.group.device_group_id);
                break;
        case SR_DEFCMD_PUT_OPERATION_LIST:
        case SR_DEFCMD_DELETE_OPERATION_LIST:
                get_uuid(c, "stage_id", &cmd->u.oplist.stage_id);
                get_uuid(c, "operation_list_id",
                         &cmd->u.oplist.operation_list_id);
                cmd->u.oplist.has_name =
                        get_str(c, "name", cmd->u.oplist.name, SR_NAME_MAX);
                cmd->u.oplist.has_description = get_str(
                        c, "description", cmd->u.oplist.description,
                        SR_NAME_MAX);
                break;
        case SR_DEFCMD_PUT_OPERATION:
        case SR_DEFCMD_DELETE_OPERATION:
                get_uuid(c, "operation_list_id", &cmd->u.op.operation_list_id);
                get_uuid(c, "operation_id", &cmd->u.op.operation_id);
                cmd->u.op.has_operation_type = get_str(
                        c, "operation_type", cmd->u.op.operation_type,
                        SR_SHORT_MAX);
                cmd->u.op.args_json = get_args(c, "args", &cmd->u.op.has_args);
                break;
        case SR_DEFCMD_START_PIPELINE_RUN:
        case SR_DEFCMD_RUN_ENDED:
                get_uuid(c, "pipeline_run_id", &cmd->u.run.pipeline_run_id);
                if (get_str(c, "status", type, sizeof(type)) &&
                    !sr_status_parse(type, strlen(type), &cmd->u.run.status))
                        die("bad status");
                break;
        default:
                break;
        }
}

/* ------------------------------------------------------------ output */

static json_t *jid(const sr_uuid_t *u)
{
        char s[SR_UUID_STR_LEN + 1];

        if (sr_uuid_is_nil(u))
                return json_null();
        sr_uuid_fmt(u, s);
        return json_string(s);
}

static json_t *jargs(const char *a)
{
        json_t *v;

        if (!a)
                return json_null();
        v = json_loads(a, JSON_DECODE_ANY, NULL);
        return v ? v : json_string(a);
}

static json_t *jaudit(const sr_def_audit_t *a)
{
        return json_pack("[I,I,I]", (json_int_t)a->version,
                         (json_int_t)a->created_at,
                         (json_int_t)a->updated_at);
}

static json_t *jtarget(const sr_def_target_t *t)
{
        return json_pack("{s:o,s:o,s:o,s:s,s:s,s:b,s:o}", "id", jid(&t->id),
                         "list", jid(&t->target_list_id), "device",
                         jid(&t->device_id), "name", t->device_name, "alias",
                         t->device_alias, "active", t->is_active, "audit",
                         jaudit(&t->a));
}

static json_t *jstate(const sr_defs_t *d)
{
        json_t *s, *a;

        if (!d->exists)
                return json_null();
        s = json_pack("{s:o,s:s,s:s,s:s,s:b,s:b,s:I,s:I,s:I,s:I,s:o}", "id",
                      jid(&d->p.id), "enterprise", d->p.enterprise_id, "name",
                      d->p.name, "description", d->p.description, "active",
                      d->p.is_active, "default", d->p.is_default, "timeout",
                      (json_int_t)d->p.timeout_seconds, "deleted_at",
                      (json_int_t)d->p.deleted_at, "runs_started",
                      (json_int_t)d->p.runs_started, "last_seq",
                      (json_int_t)d->p.last_seq, "audit", jaudit(&d->p.a));
        a = json_array();
        for (uint32_t i = 0; i < d->n_stages; i++) {
                const sr_def_stage_t *x = &d->stages[i];

                json_array_append_new(
                        a, json_pack("[o,s,s,I,I,I,o]", jid(&x->id),
                                     x->name, x->description,
                                     (json_int_t)x->timeout_seconds,
                                     (json_int_t)x->order,
                                     (json_int_t)x->ordinal, jaudit(&x->a)));
        }
        json_object_set_new(s, "stages", a);
        a = json_array();
        for (uint32_t i = 0; i < d->n_lists; i++) {
                const sr_def_target_list_t *x = &d->lists[i];

                json_array_append_new(
                        a, json_pack("[o,s,s,I,I,I,o]", jid(&x->id),
                                     x->name, sr_tl_type_name(x->type),
                                     (json_int_t)x->n_targets,
                                     (json_int_t)x->n_groups,
                                     (json_int_t)x->ordinal, jaudit(&x->a)));
        }
        json_object_set_new(s, "lists", a);
        a = json_array();
        for (uint32_t i = 0; i < d->n_attachments; i++) {
                const sr_def_attachment_t *x = &d->attachments[i];

                json_array_append_new(
                        a, json_pack("[o,o,o,I,o]", jid(&x->id),
                                     jid(&x->stage_id),
                                     jid(&x->target_list_id),
                                     (json_int_t)x->ordinal, jaudit(&x->a)));
        }
        json_object_set_new(s, "attachments", a);
        a = json_array();
        for (uint32_t i = 0; i < d->n_oplists; i++) {
                const sr_def_oplist_t *x = &d->oplists[i];

                json_array_append_new(
                        a, json_pack("[o,o,s,s,I,o]", jid(&x->id),
                                     jid(&x->stage_id), x->name,
                                     x->description, (json_int_t)x->ordinal,
                                     jaudit(&x->a)));
        }
        json_object_set_new(s, "oplists", a);
        a = json_array();
        for (uint32_t i = 0; i < d->n_operations; i++) {
                const sr_def_operation_t *x = &d->operations[i];

                json_array_append_new(
                        a, json_pack("[o,o,s,o,I,o]", jid(&x->id),
                                     jid(&x->operation_list_id),
                                     x->operation_type, jargs(x->args_json),
                                     (json_int_t)x->ordinal, jaudit(&x->a)));
        }
        json_object_set_new(s, "operations", a);
        a = json_array();
        for (uint32_t i = 0; i < d->n_group_links; i++) {
                const sr_def_group_link_t *x = &d->group_links[i];

                json_array_append_new(
                        a, json_pack("[o,o,o,I,o]", jid(&x->id),
                                     jid(&x->target_list_id),
                                     jid(&x->device_group_id),
                                     (json_int_t)x->ordinal, jaudit(&x->a)));
        }
        json_object_set_new(s, "group_links", a);
        a = json_array();
        for (uint32_t i = 0; i < d->n_active_runs; i++) {
                const sr_def_active_run_t *x = &d->active_runs[i];
                json_t *st = json_array();

                for (uint32_t j = 0; j < x->n_stage_ids; j++)
                        json_array_append_new(st, jid(&x->stage_ids[j]));
                json_array_append_new(
                        a, json_pack("[o,I,b,o,I,o]", jid(&x->run_id),
                                     (json_int_t)x->definition_seq,
                                     x->filling, st, (json_int_t)x->ordinal,
                                     jaudit(&x->a)));
        }
        json_object_set_new(s, "active_runs", a);
        return s;
}

/* Keep the accepted target records, as the worker's store will. */
static void store_targets(const sr_defs_out_t *out)
{
        for (uint32_t i = 0; i < out->n_changes; i++) {
                const sr_def_change_rec_t *c = &out->changes[i];
                const sr_def_target_t *t;
                sr_def_target_t *cur;

                if (c->kind != SR_DEF_TARGET || c->target_index < 0)
                        continue;
                t = &out->targets[c->target_index];
                cur = target_of(&t->id);
                if (c->change == SR_DEF_DELETED) {
                        if (cur) {
                                sr_def_target_fini(cur);
                                *cur = targets[--n_targets];
                        }
                        continue;
                }
                if (!cur) {
                        if (n_targets == MAX_TARGETS)
                                die("too many targets");
                        cur = &targets[n_targets++];
                } else {
                        sr_def_target_fini(cur);
                }
                *cur = *t;
                cur->device_meta_json = t->device_meta_json ?
                                                strdup(t->device_meta_json) :
                                                NULL;
                cur->args_json = t->args_json ? strdup(t->args_json) : NULL;
        }
}

static void apply(json_t *line)
{
        const sr_def_target_t *found[4096];
        sr_defs_targets_in_t tin = { 0, found };
        sr_defs_out_t out;
        sr_defcmd_t cmd;
        sr_defs_t *d;
        json_t *o, *a;

        parse_cmd(json_object_get(line, "cmd"), &cmd);
        d = pipe_of(&cmd.pipeline_id);
        if (reload)
                load(d, &cmd.pipeline_id);
        if (cmd.kind == SR_DEFCMD_ADD_TARGETS) {
                if (cmd.u.add.n_items > 4096)
                        die("too many items");
                for (uint32_t i = 0; i < cmd.u.add.n_items; i++) {
                        sr_uuid_t tid;

                        sr_def_target_id(&cmd.u.add.target_list_id,
                                         &cmd.u.add.items[i].device_id, &tid);
                        found[i] = reload ?
                                           stored_target(&cmd.pipeline_id,
                                                         &tid) :
                                           target_of(&tid);
                }
                tin.n = cmd.u.add.n_items;
        } else if (cmd.kind == SR_DEFCMD_UPDATE_TARGET ||
                   cmd.kind == SR_DEFCMD_REMOVE_TARGET) {
                found[0] = reload ? stored_target(&cmd.pipeline_id,
                                                  &cmd.u.target.target_id) :
                                    target_of(&cmd.u.target.target_id);
                tin.n = 1;
        }
        memset(&out, 0, sizeof(out));
        if (sr_defs_apply(d, &cmd, &tin,
                          json_integer_value(json_object_get(line, "now")),
                          &opts, &out) != SR_OK)
                die("sr_defs_apply failed");
        if (out.accepted && reload)
                store_outputs(d, &out);
        else if (out.accepted)
                store_targets(&out);
        o = json_pack("{s:b,s:s,s:[s,o,I],s:[I,I,I]}", "accepted",
                      out.accepted, "reason", sr_reject_name(out.reason),
                      "entity", sr_def_kind_name(out.entity_kind),
                      jid(&out.entity_id), (json_int_t)out.entity_version,
                      "counts", (json_int_t)out.created,
                      (json_int_t)out.added, (json_int_t)out.skipped);
        a = json_array();
        for (uint32_t i = 0; i < out.n_changes; i++) {
                const sr_def_change_rec_t *c = &out.changes[i];

                json_array_append_new(
                        a, json_pack("[s,o,o,s,I,I]",
                                     sr_def_kind_name(c->kind), jid(&c->id),
                                     jid(&c->parent_id),
                                     sr_def_change_name(c->change),
                                     (json_int_t)c->version,
                                     (json_int_t)c->seq));
        }
        json_object_set_new(o, "changes", a);
        a = json_array();
        for (uint32_t i = 0; i < out.n_targets; i++)
                json_array_append_new(a, jtarget(&out.targets[i]));
        json_object_set_new(o, "targets", a);
        json_object_set_new(o, "message", json_string(out.message));
        json_object_set_new(o, "state", jstate(d));
        if (json_dumpf(o, stdout, JSON_COMPACT) < 0)
                die("write");
        fputc('\n', stdout);
        json_decref(o);
        sr_defs_out_fini(&out);
        sr_defcmd_fini(&cmd);
}

int main(int argc, char **argv)
{
        char *line = NULL;
        size_t cap = 0;

        reload = argc > 1 && !strcmp(argv[1], "--reload");
        while (getline(&line, &cap, stdin) > 0) {
                json_error_t err;
                json_t *in = json_loads(line, 0, &err);

                if (!in)
                        die(err.text);
                if (json_object_get(in, "reset"))
                        reset(json_object_get(in, "reset"));
                else
                        apply(in);
                json_decref(in);
                fflush(stdout);
        }
        free(line);
        reset(NULL);
        return 0;
}
