/* workers/cli/recjson.c - the project's records as JSON values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recjson.h"
#include "recjson_int.h"
#include "sr_digest.h"
#include "sr_sha256.h"
#include "sr_entity_json.h"
#include "sr_spec_json.h"

json_t *sr_recjson_uuid(const sr_uuid_t *u)
{
        char s[SR_UUID_STR_LEN + 1];

        if (sr_uuid_is_nil(u))
                return json_null();
        sr_uuid_fmt(u, s);
        return json_string(s);
}

json_t *sr_recjson_command(const sr_command_t *cmd)
{
        static const char *kinds[] = { "create_run", "set_pipeline_run_status",
                                       "set_stage_run_status",
                                       "set_target_run_status",
                                       "timer_fired", "append_targets",
                                       "seal_targets", "stage_step",
                                       "target_command", "delete_run",
                                       "definition", "add_target_run",
                                       "group" };
        _Static_assert(sizeof(kinds) / sizeof(kinds[0]) == SR_CMD__COUNT,
                       "a name for every command kind");
        char hex[2 * SR_DIGEST_LEN + 1];
        uint8_t digest[SR_DIGEST_LEN];
        json_t *o = json_object();
        bool oom = !o;

        if (oom)
                return NULL;
        put(o, "kind", json_string(cmd->kind < SR_CMD__COUNT ?
                                   kinds[cmd->kind] : "unknown"), &oom);
        put(o, "command_id", sr_recjson_uuid(&cmd->command_id), &oom);
        put(o, "pipeline_run_id", sr_recjson_uuid(&cmd->pipeline_run_id),
            &oom);
        put(o, "enterprise_id", str(cmd->enterprise_id), &oom);
        put(o, "issued_at", json_integer(cmd->issued_at), &oom);
        switch (cmd->kind) {
        case SR_CMD_CREATE_RUN:
                put(o, "spec", sr_runspec_to_json_value(&cmd->u.create.spec),
                    &oom);
                put(o, "run_number", json_integer(cmd->u.create.run_number),
                    &oom);
                break;
        case SR_CMD_SET_PIPELINE_RUN_STATUS:
        case SR_CMD_SET_STAGE_RUN_STATUS:
        case SR_CMD_SET_TARGET_RUN_STATUS:
                put(o, "entity_id", sr_recjson_uuid(&cmd->u.set.entity_id),
                    &oom);
                put(o, "status", str(cmd->u.set.status), &oom);
                if (cmd->kind == SR_CMD_SET_TARGET_RUN_STATUS)
                        put(o, "device_name",
                            cmd->u.set.device_name[0] ?
                                    str(cmd->u.set.device_name) :
                                    json_null(), &oom);
                break;
        case SR_CMD_TIMER_FIRED:
                put(o, "entity_type", json_string(sr_entity_type_name(
                                              cmd->u.timer.entity_type)),
                    &oom);
                put(o, "entity_id", sr_recjson_uuid(&cmd->u.timer.entity_id),
                    &oom);
                put(o, "deadline", json_integer(cmd->u.timer.deadline), &oom);
                break;
        case SR_CMD_APPEND_TARGETS:
                put(o, "stage_index", json_integer(cmd->u.append.stage_index),
                    &oom);
                put(o, "chunk", json_integer(cmd->u.append.chunk), &oom);
                put(o, "targets",
                    sr_spec_targets_to_json_value(cmd->u.append.targets,
                                                  cmd->u.append.n_targets),
                    &oom);
                /* The chunk's digest, as its seal must count it
                 * (docs/targets.md, "Digest"); null if it cannot be
                 * computed. */
                if (sr_targets_digest(cmd->u.append.targets,
                                      cmd->u.append.n_targets, digest,
                                      NULL) == SR_OK) {
                        sr_sha256_hex(digest, hex);
                        put(o, "digest", str(hex), &oom);
                } else {
                        put(o, "digest", json_null(), &oom);
                }
                break;
        case SR_CMD_SEAL_TARGETS:
                put(o, "stage_index", json_integer(cmd->u.seal.stage_index),
                    &oom);
                put(o, "chunks", json_integer(cmd->u.seal.chunks), &oom);
                put(o, "count", json_integer(cmd->u.seal.count), &oom);
                sr_sha256_hex(cmd->u.seal.digest, hex);
                put(o, "digest", str(hex), &oom);
                break;
        case SR_CMD_STAGE_STEP:
                put(o, "stage_index", json_integer(cmd->u.step.stage_index),
                    &oom);
                put(o, "step", str(cmd->u.step.step), &oom);
                put(o, "cursor", json_integer(cmd->u.step.cursor), &oom);
                break;
        case SR_CMD_TARGET_COMMAND:
                put(o, "target_run_id",
                    sr_recjson_uuid(&cmd->u.tcmd.target_run_id), &oom);
                put(o, "device_command_id",
                    sr_recjson_uuid(&cmd->u.tcmd.command_id), &oom);
                put(o, "action", str(cmd->u.tcmd.action), &oom);
                break;
        case SR_CMD_DELETE_RUN:
                put(o, "pipeline_id", sr_recjson_uuid(&cmd->u.del.pipeline_id),
                    &oom);
                break;
        case SR_CMD_ADD_TARGET_RUN:
                put(o, "stage_run_id",
                    sr_recjson_uuid(&cmd->u.add.stage_run_id), &oom);
                put(o, "target_id", sr_recjson_uuid(&cmd->u.add.target_id),
                    &oom);
                put(o, "device_id", sr_recjson_uuid(&cmd->u.add.device_id),
                    &oom);
                put(o, "device_name", str(cmd->u.add.device_name), &oom);
                put(o, "device_alias",
                    cmd->u.add.device_alias[0] ?
                            str(cmd->u.add.device_alias) :
                            json_null(),
                    &oom);
                break;
        case SR_CMD_DEFINITION: {
                json_t *d = cmd->u.def ? json_object() : json_null();

                put(o, "definition", d, &oom);
                if (d && cmd->u.def)
                        sr_recjson__put_defcmd(d, cmd->u.def, &oom);
                break;
        }
        case SR_CMD_GROUP: {
                json_t *g = cmd->u.grp ? json_object() : json_null();

                put(o, "group", g, &oom);
                if (g && cmd->u.grp)
                        sr_recjson__put_grpcmd(g, cmd->u.grp, &oom);
                break;
        }
        default:
                break;
        }
        return finish(o, oom);
}

json_t *sr_recjson_result(const sr_result_t *res)
{
        json_t *o = json_object();
        bool oom = !o;

        if (oom)
                return NULL;
        put(o, "result_id", sr_recjson_uuid(&res->result_id), &oom);
        put(o, "pipeline_run_id", sr_recjson_uuid(&res->pipeline_run_id),
            &oom);
        put(o, "stage_run_id", sr_recjson_uuid(&res->stage_run_id), &oom);
        put(o, "target_run_id", sr_recjson_uuid(&res->target_run_id), &oom);
        put(o, "command_id", sr_recjson_uuid(&res->command_id), &oom);
        put(o, "command_status", str(res->command_status), &oom);
        put(o, "device_id", sr_recjson_uuid(&res->device_id), &oom);
        put(o, "device_name", str(res->device_name), &oom);
        put(o, "reported_at", json_integer(res->reported_at), &oom);
        return finish(o, oom);
}

json_t *sr_recjson_event(const sr_event_t *ev)
{
        json_t *o = json_object();
        bool oom = !o;

        if (oom)
                return NULL;
        put(o, "event_id", sr_recjson_uuid(&ev->event_id), &oom);
        put(o, "pipeline_run_id", sr_recjson_uuid(&ev->pipeline_run_id),
            &oom);
        put(o, "seq", json_integer((json_int_t)ev->seq), &oom);
        put(o, "entity_type", json_string(sr_entity_type_name(
                                      ev->entity_type)), &oom);
        put(o, "entity_id", sr_recjson_uuid(&ev->entity_id), &oom);
        put(o, "pipeline_id", sr_recjson_uuid(&ev->pipeline_id), &oom);
        put(o, "stage_run_id", sr_recjson_uuid(&ev->stage_run_id), &oom);
        put(o, "stage_run_operation_id",
            sr_recjson_uuid(&ev->stage_run_operation_id), &oom);
        put(o, "device_id", sr_recjson_uuid(&ev->device_id), &oom);
        put(o, "from_status", ev->from_status == SR_ST_NONE ? json_null() :
                              json_string(sr_status_name(ev->from_status)),
            &oom);
        put(o, "to_status", json_string(sr_status_name(ev->to_status)), &oom);
        put(o, "reason", str(ev->reason), &oom);
        put(o, "occurred_at", json_integer(ev->occurred_at), &oom);
        put(o, "causation_id", sr_recjson_uuid(&ev->causation_id), &oom);
        put(o, "enterprise_id", str(ev->enterprise_id), &oom);
        put(o, "version", json_integer(ev->version), &oom);
        return finish(o, oom);
}

json_t *sr_recjson_dispatch(const sr_dispatch_t *d)
{
        json_t *o = json_object();
        bool oom = !o;

        if (oom)
                return NULL;
        put(o, "kind", json_string(d->kind == SR_DISPATCH_CANCEL ? "CANCEL" :
                                                                   "COMMAND"),
            &oom);
        put(o, "command_id", sr_recjson_uuid(&d->command_id), &oom);
        put(o, "pipeline_run_id", sr_recjson_uuid(&d->pipeline_run_id), &oom);
        put(o, "stage_run_id", sr_recjson_uuid(&d->stage_run_id), &oom);
        put(o, "target_run_id", sr_recjson_uuid(&d->target_run_id), &oom);
        put(o, "device_id", sr_recjson_uuid(&d->device_id), &oom);
        put(o, "device_name", str(d->device_name), &oom);
        put(o, "operation_type", str(d->operation_type), &oom);
        put(o, "args_json", str(d->args_json ? d->args_json : "{}"), &oom);
        put(o, "enterprise_id", str(d->enterprise_id), &oom);
        put(o, "issued_at", json_integer(d->issued_at), &oom);
        return finish(o, oom);
}

json_t *sr_recjson_reply(const sr_reply_t *r)
{
        json_t *o = json_object(), *vs = json_array();
        bool oom = !o || !vs;

        if (oom) {
                json_decref(o);
                json_decref(vs);
                return NULL;
        }
        put(o, "command_id", sr_recjson_uuid(&r->command_id), &oom);
        put(o, "pipeline_run_id", sr_recjson_uuid(&r->pipeline_run_id), &oom);
        put(o, "accepted", json_boolean(r->accepted), &oom);
        put(o, "reason", json_string(sr_reject_name(r->reason)), &oom);
        put(o, "message", str(r->message), &oom);
        for (uint32_t i = 0; i < r->n_versions && !oom; i++) {
                const sr_version_ref_t *v = &r->versions[i];
                json_t *vo = json_object();

                if (!vo || json_array_append_new(vs, vo)) {
                        oom = true;
                        break;
                }
                put(vo, "entity_type", json_string(sr_entity_type_name(
                                               v->entity_type)), &oom);
                put(vo, "entity_id", sr_recjson_uuid(&v->entity_id), &oom);
                put(vo, "version", json_integer(v->version), &oom);
        }
        put(o, "versions", vs, &oom);
        put(o, "occurred_at", json_integer(r->occurred_at), &oom);
        /* Reply version 2: only a definition command's reply has one (the
         * key is left out otherwise, so a run command's reply reads as
         * before). */
        if (r->has_def) {
                const char *kind =
                        r->def.entity_kind == SR_REPLY_KIND_DEVICE_GROUP ?
                                "device_group" :
                                sr_def_kind_name(
                                        (sr_def_kind_t)r->def.entity_kind);
                json_t *d = json_object();

                put(o, "definition", d, &oom);
                if (d) {
                        put(d, "entity_type",
                            json_string(kind ? kind : "unknown"), &oom);
                        put(d, "entity_id", sr_recjson_uuid(&r->def.entity_id),
                            &oom);
                        put(d, "version", json_integer(r->def.version), &oom);
                        put(d, "seq", json_integer((json_int_t)r->def.seq),
                            &oom);
                        put(d, "created", json_integer(r->def.created), &oom);
                        put(d, "added", json_integer(r->def.added), &oom);
                        put(d, "skipped", json_integer(r->def.skipped), &oom);
                }
        }
        return finish(o, oom);
}

static void put_meta(json_t *o, const sr_meta_t *m, bool *oom)
{
        json_t *mo = json_object();

        if (!mo) {
                *oom = true;
                return;
        }
        put(mo, "id", sr_recjson_uuid(&m->id), oom);
        put(mo, "status", json_string(sr_status_name(m->status)), oom);
        put(mo, "reason", str(m->reason), oom);
        put(mo, "created_at", json_integer(m->created_at), oom);
        put(mo, "updated_at", json_integer(m->updated_at), oom);
        put(mo, "started_at", json_integer(m->started_at), oom);
        put(mo, "ended_at", json_integer(m->ended_at), oom);
        put(mo, "version", json_integer(m->version), oom);
        put(mo, "deadline", json_integer(m->deadline), oom);
        put(o, "meta", mo, oom);
}

static json_t *spec_ops(const sr_spec_op_t *ops, uint32_t n)
{
        json_t *a = json_array();

        for (uint32_t i = 0; a && i < n; i++) {
                json_t *o = json_object();
                bool oom = !o;

                if (!oom) {
                        put(o, "operation_type", str(ops[i].operation_type),
                            &oom);
                        put(o, "args_json", args_value(ops[i].args_json),
                            &oom);
                }
                if (oom || json_array_append_new(a, o)) {
                        json_decref(a);
                        return NULL;
                }
        }
        return a;
}

static json_t *spec_targets(const sr_spec_target_t *ts, uint32_t n)
{
        json_t *a = json_array();

        for (uint32_t i = 0; a && i < n; i++) {
                json_t *o = json_object();
                bool oom = !o;

                if (!oom) {
                        put(o, "target_id", sr_recjson_uuid(&ts[i].target_id),
                            &oom);
                        put(o, "device_id", sr_recjson_uuid(&ts[i].device_id),
                            &oom);
                        put(o, "device_name", str(ts[i].device_name), &oom);
                        put(o, "device_alias", str(ts[i].device_alias),
                            &oom);
                }
                if (oom || json_array_append_new(a, o)) {
                        json_decref(a);
                        return NULL;
                }
        }
        return a;
}

/* An open stage's state (docs/targets.md, section 3), under "targets" in
 * place of the inline list it never has: the gateway's stage-run object
 * (append, expected (null: not said), appended, chunks, sealed) plus the
 * seal as stored, seal_digest in hex, null before the seal as on the wire
 * (sr_codec_changelog.c writes it when sealed or not all zero). */
static json_t *open_targets(const sr_stage_run_t *sr)
{
        static const uint8_t zero[SR_DIGEST_LEN];
        char hex[2 * SR_DIGEST_LEN + 1];
        json_t *o = json_object();
        bool oom = !o;

        if (oom)
                return NULL;
        put(o, "append", json_true(), &oom);
        put(o, "expected", sr->expected_targets ?
                                   json_integer(sr->expected_targets) :
                                   json_null(), &oom);
        put(o, "appended", json_integer(sr->targets_appended), &oom);
        put(o, "chunks", json_integer(sr->chunks_applied), &oom);
        put(o, "sealed", json_boolean(sr->sealed), &oom);
        put(o, "seal_chunks", json_integer(sr->seal_chunks), &oom);
        put(o, "seal_count", json_integer(sr->seal_count), &oom);
        if (sr->sealed || memcmp(sr->seal_digest, zero, SR_DIGEST_LEN)) {
                sr_sha256_hex(sr->seal_digest, hex);
                put(o, "seal_digest", str(hex), &oom);
        } else {
                put(o, "seal_digest", json_null(), &oom);
        }
        return finish(o, oom);
}

static json_t *entity_json(const sr_entity_t *e)
{
        json_t *o = json_object();
        bool oom = !o;

        if (oom)
                return NULL;
        put(o, "entity_type", json_string(sr_entity_type_name(e->type)),
            &oom);
        switch (e->type) {
        case SR_ENT_PIPELINE_RUN: {
                const sr_pipeline_run_t *pr = &e->u.pr;

                put_meta(o, &pr->m, &oom);
                put(o, "pipeline_id", sr_recjson_uuid(&pr->pipeline_id), &oom);
                put(o, "pipeline_name", str(pr->pipeline_name), &oom);
                put(o, "enterprise_id", str(pr->enterprise_id), &oom);
                put(o, "run_number", json_integer(pr->run_number), &oom);
                put(o, "auto_promote", json_boolean(pr->auto_promote), &oom);
                put(o, "timeout_seconds", json_integer(pr->timeout_seconds),
                    &oom);
                put(o, "n_stages", json_integer(pr->n_stages), &oom);
                put(o, "last_seq", json_integer((json_int_t)pr->last_seq),
                    &oom);
                put(o, "next_deadline", json_integer(pr->next_deadline), &oom);
                put(o, "spec_hash", json_integer((json_int_t)pr->spec_hash),
                    &oom);
                put(o, "created_by_command",
                    sr_recjson_uuid(&pr->created_by_command), &oom);
                break;
        }
        case SR_ENT_STAGE_RUN: {
                const sr_stage_run_t *sr = &e->u.sr;

                put_meta(o, &sr->m, &oom);
                put(o, "pipeline_run_id", sr_recjson_uuid(&sr->pipeline_run_id),
                    &oom);
                put(o, "pipeline_id", sr_recjson_uuid(&sr->pipeline_id), &oom);
                put(o, "stage_id", sr_recjson_uuid(&sr->stage_id), &oom);
                put(o, "enterprise_id", str(sr->enterprise_id), &oom);
                put(o, "index", json_integer(sr->index), &oom);
                put(o, "name", str(sr->name), &oom);
                put(o, "description", str(sr->description), &oom);
                put(o, "timeout_seconds", json_integer(sr->timeout_seconds),
                    &oom);
                put(o, "queued_at", json_integer(sr->queued_at), &oom);
                put(o, "operations", spec_ops(sr->ops, sr->n_ops), &oom);
                /* An open stage's object, as the run spec's JSON gives
                 * an open stage (sr_spec_json): its list is always empty. */
                put(o, "targets", sr->append_targets ? open_targets(sr) :
                                  spec_targets(sr->targets, sr->n_targets),
                    &oom);
                break;
        }
        case SR_ENT_STAGE_RUN_OPERATION: {
                const sr_stage_run_op_t *op = &e->u.op;

                put(o, "id", sr_recjson_uuid(&op->id), &oom);
                put(o, "pipeline_run_id", sr_recjson_uuid(&op->pipeline_run_id),
                    &oom);
                put(o, "stage_run_id", sr_recjson_uuid(&op->stage_run_id),
                    &oom);
                put(o, "stage_index", json_integer(op->stage_index), &oom);
                put(o, "index", json_integer(op->index), &oom);
                put(o, "operation_type", str(op->operation_type), &oom);
                put(o, "args_json", args_value(op->args_json), &oom);
                put(o, "created_at", json_integer(op->created_at), &oom);
                put(o, "version", json_integer(op->version), &oom);
                break;
        }
        case SR_ENT_TARGET_RUN: {
                const sr_target_run_t *tr = &e->u.tr;

                put_meta(o, &tr->m, &oom);
                put(o, "pipeline_run_id", sr_recjson_uuid(&tr->pipeline_run_id),
                    &oom);
                put(o, "stage_run_id", sr_recjson_uuid(&tr->stage_run_id),
                    &oom);
                put(o, "stage_run_operation_id",
                    sr_recjson_uuid(&tr->stage_run_operation_id), &oom);
                put(o, "stage_index", json_integer(tr->stage_index), &oom);
                put(o, "op_index", json_integer(tr->op_index), &oom);
                put(o, "target_index", json_integer(tr->target_index), &oom);
                put(o, "target_id", sr_recjson_uuid(&tr->target_id), &oom);
                put(o, "device_id", sr_recjson_uuid(&tr->device_id), &oom);
                put(o, "device_name", str(tr->device_name), &oom);
                put(o, "device_alias", str(tr->device_alias), &oom);
                put(o, "command_id", sr_recjson_uuid(&tr->command_id), &oom);
                put(o, "command_status", str(tr->command_status), &oom);
                put(o, "cancel_requested", json_boolean(tr->cancel_requested),
                    &oom);
                break;
        }
        default:
                break;
        }
        return finish(o, oom);
}

json_t *sr_recjson_changelog(const sr_changelog_t *cl)
{
        json_t *o = json_object();
        bool oom = !o;

        if (oom)
                return NULL;
        switch (cl->kind) {
        case SR_CL_ENTITY:
                put(o, "kind", json_string("entity"), &oom);
                put(o, "state", entity_json(&cl->u.entity), &oom);
                break;
        case SR_CL_DEDUPE:
                put(o, "kind", json_string("dedupe"), &oom);
                put(o, "input_id", sr_recjson_uuid(&cl->u.dedupe.input_id),
                    &oom);
                put(o, "pipeline_run_id",
                    sr_recjson_uuid(&cl->u.dedupe.pipeline_run_id), &oom);
                put(o, "reply", cl->u.dedupe.has_reply ?
                                sr_recjson_reply(&cl->u.dedupe.reply) :
                                json_null(), &oom);
                break;
        case SR_CL_MARKER:
                put(o, "kind", json_string("marker"), &oom);
                put(o, "batch_id", str(cl->u.marker.batch_id), &oom);
                put(o, "partition", json_integer(cl->u.marker.partition),
                    &oom);
                put(o, "commands_offset",
                    json_integer(cl->u.marker.commands_offset), &oom);
                put(o, "results_offset",
                    json_integer(cl->u.marker.results_offset), &oom);
                put(o, "written_at", json_integer(cl->u.marker.written_at),
                    &oom);
                break;
        case SR_CL_DEF:
                put(o, "kind", json_string("definition"), &oom);
                put(o, "entity_type",
                    str(sr_def_kind_name(cl->u.def.kind)), &oom);
                put(o, "pipeline_id", sr_recjson_uuid(&cl->u.def.pipeline_id),
                    &oom);
                put(o, "id", sr_recjson_uuid(sr_def_record_id(&cl->u.def)),
                    &oom);
                sr_recjson__put_def_record(o, &cl->u.def, &oom);
                break;
        case SR_CL_GROUP:
                put(o, "kind", json_string("group"), &oom);
                sr_recjson__put_group_record(o, &cl->u.grp, &oom);
                break;
        case SR_CL_RETIRED:
                put(o, "kind", json_string("retired"), &oom);
                put(o, "pipeline_run_id",
                    sr_recjson_uuid(&cl->u.retired.pipeline_run_id), &oom);
                put(o, "enterprise_id", str(cl->u.retired.enterprise_id),
                    &oom);
                put(o, "pipeline_id",
                    sr_recjson_uuid(&cl->u.retired.pipeline_id), &oom);
                put(o, "ended_at", json_integer(cl->u.retired.ended_at),
                    &oom);
                put(o, "retired_at", json_integer(cl->u.retired.retired_at),
                    &oom);
                put(o, "forget_at", json_integer(cl->u.retired.forget_at),
                    &oom);
                break;
        case SR_CL_CHUNK: {
                char hex[2 * SR_DIGEST_LEN + 1];

                put(o, "kind", json_string("chunk"), &oom);
                put(o, "pipeline_run_id",
                    sr_recjson_uuid(&cl->u.chunk.pipeline_run_id), &oom);
                put(o, "stage_index", json_integer(cl->u.chunk.stage_index),
                    &oom);
                put(o, "chunk", json_integer(cl->u.chunk.chunk), &oom);
                sr_sha256_hex(cl->u.chunk.digest, hex);
                put(o, "digest", str(hex), &oom);
                put(o, "count", json_integer(cl->u.chunk.n_targets), &oom);
                put(o, "targets", spec_targets(cl->u.chunk.targets,
                                               cl->u.chunk.n_targets), &oom);
                break;
        }
        }
        return finish(o, oom);
}

char *sr_recjson_base64(const void *p, size_t n)
{
        static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "abcdefghijklmnopqrstuvwxyz0123456789+/";
        const unsigned char *s = p;
        char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;

        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i += 3) {
                uint32_t v = (uint32_t)s[i] << 16;

                if (i + 1 < n)
                        v |= (uint32_t)s[i + 1] << 8;
                if (i + 2 < n)
                        v |= s[i + 2];
                *o++ = tbl[(v >> 18) & 63];
                *o++ = tbl[(v >> 12) & 63];
                *o++ = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
                *o++ = i + 2 < n ? tbl[v & 63] : '=';
        }
        *o = '\0';
        return out;
}

/* Strict UTF-8 (no overlongs, no surrogates) and no NUL. */
static bool is_text(const unsigned char *s, size_t n)
{
        size_t i = 0;

        while (i < n) {
                unsigned char c = s[i];
                size_t k;
                uint32_t cp;

                if (c == 0)
                        return false;
                if (c < 0x80) {
                        i++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf)
                        k = 1, cp = c & 0x1f;
                else if (c >= 0xe0 && c <= 0xef)
                        k = 2, cp = c & 0x0f;
                else if (c >= 0xf0 && c <= 0xf4)
                        k = 3, cp = c & 0x07;
                else
                        return false;
                for (size_t j = 1; j <= k; j++) {
                        if (i + j >= n || (s[i + j] & 0xc0) != 0x80)
                                return false;
                        cp = cp << 6 | (s[i + j] & 0x3f);
                }
                if ((k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
                    || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
                        return false;
                i += k + 1;
        }
        return true;
}

json_t *sr_recjson_bytes(const void *p, size_t n, int *is_b64)
{
        char *b;
        json_t *v;

        if (is_text(p, n)) {
                *is_b64 = 0;
                return json_stringn(p, n);
        }
        *is_b64 = 1;
        b = sr_recjson_base64(p, n);
        if (!b)
                return NULL;
        v = json_string(b);
        free(b);
        return v;
}
