/* common/gateway/sr_gw_defs_writes.c - the writes of stored definitions
 * (sr_gw_defs.c's routes): one definition command per request, keyed by
 * the pipeline, answered with the entity once the projection holds the
 * reply's seq; `targets-bulk` as chunks sent at once; the start of a
 * stored pipeline's run (StartPipelineRun). */
#include "sr_gw_defs_int.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_budget.h"
#include "sr_clock.h"
#include "sr_defs_json.h"
#include "sr_idem.h"

/* ------------------------------------------------------------ writes */

/* The id of a new entity: UUID v5 of the Idempotency-Key (a retry is the
 * same command, naming the same entity), else v4. */
static void new_id(sr_gw_ctx_t *c, sr_def_kind_t kind, sr_uuid_t *out)
{
        char label[32];

        if (c->req->idempotency_key) {
                snprintf(label, sizeof(label), "idem-def-%s",
                         sr_def_kind_name(kind));
                sr_idem_uuid(out, label, c->enterprise,
                             c->req->idempotency_key);
        } else {
                sr_uuid_v4(out);
        }
}

/* The path's ids (and the new entity's) into the command's union, before
 * the body is parsed. */
static void set_path_ids(sr_defcmd_t *d, const sr_route_t *r,
                         const sr_uuid_t *id)
{
        switch (d->kind) {
        case SR_DEFCMD_PUT_STAGE:
        case SR_DEFCMD_DELETE_STAGE:
                d->u.stage.stage_id = *id;
                break;
        case SR_DEFCMD_PUT_TARGET_LIST:
        case SR_DEFCMD_DELETE_TARGET_LIST:
                d->u.list.target_list_id = *id;
                break;
        case SR_DEFCMD_ATTACH_TARGET_LIST:
        case SR_DEFCMD_DETACH_TARGET_LIST:
                d->u.attach.stage_id = r->stage_id;
                d->u.attach.target_list_id = r->target_list_id;
                break;
        case SR_DEFCMD_PUT_OPERATION_LIST:
        case SR_DEFCMD_DELETE_OPERATION_LIST:
                d->u.oplist.stage_id = r->stage_id;
                d->u.oplist.operation_list_id = *id;
                break;
        case SR_DEFCMD_PUT_OPERATION:
        case SR_DEFCMD_DELETE_OPERATION:
                d->u.op.operation_list_id = r->operation_list_id;
                d->u.op.operation_id = *id;
                break;
        case SR_DEFCMD_ADD_TARGETS:
                d->u.add.target_list_id = r->target_list_id;
                d->u.add.chunk_index = 0;
                break;
        case SR_DEFCMD_UPDATE_TARGET:
        case SR_DEFCMD_REMOVE_TARGET:
                d->u.target.target_list_id = r->target_list_id;
                d->u.target.target_id = *id;
                break;
        case SR_DEFCMD_LINK_DEVICE_GROUP:
        case SR_DEFCMD_UNLINK_DEVICE_GROUP:
                d->u.group.target_list_id = r->target_list_id;
                break;
        default:
                break;
        }
}

/* A detach names an attachment that must exist (404 before anything is
 * sent: the list is not attached to the stage). */
static bool attached(sr_gw_ctx_t *c, const sr_uuid_t *pipeline)
{
        const sr_route_t *r = c->route;
        char sid[SR_UUID_STR_LEN + 1], lid[SR_UUID_STR_LEN + 1];
        sr_def_record_t a;
        sr_errctx_t ec = { 0 };
        sr_uuid_t id;

        sr_def_attachment_id(&r->stage_id, &r->target_list_id, &id);
        if (sr_proj_def_get(c->gw->proj, c->enterprise, SR_DEF_ATTACHMENT,
                            pipeline, &id, &a, &ec) == SR_OK) {
                sr_def_record_fini(&a);
                return true;
        }
        sr_uuid_fmt(&r->stage_id, sid);
        sr_uuid_fmt(&r->target_list_id, lid);
        if (ec.code == SR_ERR_NOT_FOUND)
                sr_gateway__answer_status(c->resp, 404, "target list %s is "
                                          "not attached to stage %s",
                                          lid, sid);
        else
                sr_gateway__answer_status(c->resp, 500, "attachment: %s",
                                          ec.msg);
        return false;
}

/* A link removed: Esper answers `{target_list, device_group}`, the two
 * ids (reference section 6.6). */
static void answer_unlinked(sr_gw_ctx_t *c, const sr_def_group_link_t *g)
{
        char lid[SR_UUID_STR_LEN + 1], gid[SR_UUID_STR_LEN + 1];

        sr_uuid_fmt(&g->target_list_id, lid);
        sr_uuid_fmt(&g->device_group_id, gid);
        sr_gateway__answer_json(c->resp, 200, "ok",
                                json_pack("{s:s,s:s}", "target_list", lid,
                                          "device_group", gid));
}

void sr_gwdef__write_def(sr_gw_ctx_t *c, const struct def_route *dr)
{
        const sr_route_t *r = c->route;
        sr_uuid_t pipeline, id = sr_gwdef__path_entity_id(r, dr->kind);
        sr_def_record_t p, was, now;
        bool create = dr->op == DOP_CREATE, have_was = false,
             new_pipeline = dr->kind == SR_DEF_PIPELINE && create,
             pipeline_known;
        sr_errctx_t ec = { 0 };
        sr_command_t cmd;
        sr_defcmd_t *d;
        int rc;

        d = calloc(1, sizeof(*d));
        if (!d) {
                sr_gateway__answer_status(c->resp, 500, "out of memory");
                return;
        }
        d->kind = dr->cmd;
        d->create = create;
        /* The pipeline: the path's, the new one's, or (paths without it)
         * the projection's; an unknown parent answers 404 only after the
         * body and the Idempotency-Key (order of checks). */
        memset(&pipeline, 0, sizeof(pipeline));
        if (new_pipeline) {
                new_id(c, SR_DEF_PIPELINE, &pipeline);
                id = pipeline;
                pipeline_known = true;
        } else if (!sr_uuid_is_nil(&r->pipeline_id)) {
                pipeline = r->pipeline_id;
                pipeline_known = true;
        } else if (!sr_uuid_is_nil(&r->stage_id)) {
                pipeline_known = sr_proj_def_pipeline_of(
                                         c->gw->proj, c->enterprise,
                                         SR_DEF_STAGE, &r->stage_id,
                                         &pipeline, NULL) == SR_OK;
        } else {
                pipeline_known = sr_proj_def_pipeline_of(
                                         c->gw->proj, c->enterprise,
                                         SR_DEF_OPERATION_LIST,
                                         &r->operation_list_id, &pipeline,
                                         NULL) == SR_OK;
        }
        if (create && !new_pipeline)
                new_id(c, dr->kind, &id);
        d->pipeline_id = pipeline;
        set_path_ids(d, r, &id);
        if (sr_defs_json_parse(d->kind, create, c->req->body,
                               c->req->body_len, d, &ec) != SR_OK) {
                sr_gateway__answer_status(c->resp,
                                          ec.code == SR_ERR_NOMEM ? 500 : 400,
                                          "%s", ec.msg);
                goto free_d;
        }
        if (dr->op == DOP_ATTACH)
                id = d->u.attach.target_list_id; /* the answer: the list */
        if (d->kind == SR_DEFCMD_ADD_TARGETS && d->u.add.n_items == 1)
                /* a target's id is the list's and the device's */
                sr_def_target_id(&r->target_list_id,
                                 &d->u.add.items[0].device_id, &id);
        if (d->kind == SR_DEFCMD_LINK_DEVICE_GROUP)
                /* a link's id is the list's and the group's */
                sr_def_group_link_id(&r->target_list_id,
                                     &d->u.group.device_group_id, &id);
        if (sr_gateway__idem_refused(c))
                goto free_d;
        /* Existence in the caller's enterprise, before anything is sent. */
        if (!new_pipeline) {
                if (!pipeline_known) {
                        /* answers its 404 */
                        sr_gwdef__route_pipeline(c, &pipeline);
                        goto free_d;
                }
                if (!sr_gwdef__usable_pipeline(c, &pipeline, &p))
                        goto free_d;
                if (dr->kind == SR_DEF_PIPELINE) {
                        was = p;
                        have_was = true;
                } else {
                        sr_def_record_fini(&p);
                }
        }
        if ((dr->op == DOP_DETACH && !attached(c, &pipeline)) ||
            !sr_gwdef__parent_list(c, dr, &pipeline, NULL))
                goto free_have;
        if (dr->op == DOP_DELETE && dr->kind == SR_DEF_GROUP_LINK) {
                /* named by its group's id or its own */
                if (!sr_gwdef__path_link(c, &pipeline, &was))
                        goto free_have;
                have_was = true;
                d->u.group.device_group_id =
                        was.u.group_link.device_group_id;
        } else if ((dr->op == DOP_UPDATE || dr->op == DOP_DELETE ||
                    dr->op == DOP_DETACH) &&
                   dr->kind != SR_DEF_PIPELINE) {
                if (!sr_gwdef__read_path_entity(c, dr->kind, &pipeline, &id,
                                                &was))
                        goto free_have;
                have_was = true;
        }
        sr_gateway__command_init(&cmd, SR_CMD_DEFINITION, c->enterprise,
                                 c->req, &pipeline);
        d->command_id = cmd.command_id;
        snprintf(d->enterprise_id, sizeof(d->enterprise_id), "%s",
                 c->enterprise);
        d->issued_at = cmd.issued_at;
        cmd.u.def = d; /* owned by cmd from here */
        d = NULL;
        rc = sr_gateway__run_command(c->gw, &cmd, c->resp);
        sr_command_fini(&cmd);
        if (rc)
                goto free_have;
        /* Visible: the answer. A delete or a detach answers the entity as
         * it was before (a pipeline: as it is now, deleted_at set, Esper's
         * "the deleted record"). */
        if (dr->op == DOP_DELETE && dr->kind == SR_DEF_GROUP_LINK) {
                /* Esper's answer: the list and the group, no more */
                answer_unlinked(c, &was.u.group_link);
                goto free_have;
        }
        if ((dr->op == DOP_DELETE && dr->kind != SR_DEF_PIPELINE) ||
            dr->op == DOP_DETACH) {
                sr_gwdef__answer_entity(c, &was);
                goto free_have;
        }
        if (sr_proj_def_get(c->gw->proj, c->enterprise, dr->kind, &pipeline,
                            &id, &now, &ec) != SR_OK) {
                /* Accepted and its seq visible, yet not there: a record
                 * the projection could not read. */
                sr_gateway__answer_status(c->resp,
                                          ec.code == SR_ERR_NOT_FOUND ? 404 :
                                                                        500,
                                          "%s: accepted, but %s",
                                          sr_gwdef__kind_word(dr->kind),
                                          ec.msg);
                goto free_have;
        }
        sr_gwdef__answer_entity(c, &now);
        sr_def_record_fini(&now);
free_have:
        if (have_was)
                sr_def_record_fini(&was);
free_d:
        if (d) {
                sr_defcmd_fini(d);
                free(d);
        }
}

/* ------------------------------------------------------------ bulk */

/* A bulk body from which on the freed memory is given back to the
 * system (malloc_trim()). */
#define BULK_TRIM_BYTES (1u << 20)

/* POST .../targets-bulk/ (docs/definitions.md, section 8): the body's
 * valid items in AddTargets chunks of definition.chunk.targets, every
 * chunk encoded first (one over command.max.bytes: 413, nothing sent),
 * then all sent, then every reply awaited (pipelined); command ids UUID v5
 * of (the request's command id, chunk index), so a retry with the same
 * Idempotency-Key resends the same commands and the owner's dedupe answers
 * the applied ones. The answer sums the replies' counts, with the items
 * left out (`errors`). A chunk refused: its refusal (the chunks before it
 * may be applied; each chunk is atomic, the bulk is not). A chunk without
 * reply in time: 202 with the missing chunks' command ids. */
struct bulk_chunk {
        sr_command_t cmd;
        sr_buf_t val;
        int ticket;
        bool sent, replied;
        sr_reply_t reply;
};

void sr_gwdef__bulk(sr_gw_ctx_t *c)
{
        sr_gateway_t *gw = c->gw;
        const sr_route_t *r = c->route;
        int timeout = gw->conf->gateway_reply_timeout_ms;
        uint32_t per = (uint32_t)gw->conf->definition_chunk_targets, nch,
                 created = 0, added = 0, skipped = 0;
        char base[SR_UUID_STR_LEN + 1], cid[SR_UUID_STR_LEN + 1],
                msg[160], text[SR_NAME_MAX + 64];
        struct bulk_chunk *ch = NULL;
        sr_defs_bulk_t b = { 0 };
        sr_errctx_t ec = { 0 };
        sr_command_t first;
        sr_uuid_t pipeline;
        uint64_t seq = 0;
        int64_t until;
        json_t *missing;
        sr_err_t err;
        uint32_t i;

        if (sr_defs_json_bulk(c->req->body, c->req->body_len,
                              (uint32_t)gw->conf->gateway_bulk_max_items, &b,
                              &ec) != SR_OK) {
                sr_gateway__answer_status(c->resp,
                                          ec.code == SR_ERR_NOMEM ? 500 : 400,
                                          "%s", ec.msg);
                return;
        }
        if (sr_gateway__idem_refused(c) ||
            !sr_gwdef__open_pipeline(c, &pipeline) ||
            !sr_gwdef__parent_list(
                    c, sr_gwdef__find_route(SR_ROUTE_DEF_TARGETS_CREATE),
                    &pipeline, NULL))
                goto out;
        per = per ? per : 1;
        nch = (b.n_items + per - 1) / per;
        ch = calloc(nch ? nch : 1, sizeof(*ch));
        if (!ch) {
                sr_gateway__answer_status(c->resp, 500, "out of memory");
                goto out;
        }
        /* The request's own command id names its chunks. */
        sr_gateway__command_init(&first, SR_CMD_DEFINITION, c->enterprise,
                                 c->req, &pipeline);
        sr_uuid_fmt(&first.command_id, base);
        for (i = 0; i < nch; i++) {
                uint32_t from = i * per,
                         n = b.n_items - from < per ? b.n_items - from : per;
                sr_defcmd_t *d = calloc(1, sizeof(*d));

                ch[i].cmd = first;
                ch[i].ticket = -1;
                sr_uuid_v5(&ch[i].cmd.command_id, &sr_ns, "%s/bulk/%u", base,
                           i);
                if (!d) {
                        sr_gateway__answer_status(c->resp, 500, "out of "
                                                  "memory");
                        goto out;
                }
                ch[i].cmd.u.def = d;
                d->kind = SR_DEFCMD_ADD_TARGETS;
                d->command_id = ch[i].cmd.command_id;
                snprintf(d->enterprise_id, sizeof(d->enterprise_id), "%s",
                         c->enterprise);
                d->issued_at = first.issued_at;
                d->pipeline_id = pipeline;
                d->u.add.target_list_id = r->target_list_id;
                d->u.add.chunk_index = i;
                /* the items move to the chunk (b keeps no pointer) */
                d->u.add.n_items = n;
                d->u.add.items = malloc((size_t)n * sizeof(*d->u.add.items));
                if (!d->u.add.items) {
                        d->u.add.n_items = 0;
                        sr_gateway__answer_status(c->resp, 500, "out of "
                                                  "memory");
                        goto out;
                }
                memcpy(d->u.add.items, b.items + from,
                       (size_t)n * sizeof(*d->u.add.items));
                memset(b.items + from, 0, (size_t)n * sizeof(*b.items));
                pthread_mutex_lock(&gw->codec_mu);
                err = sr_codec_encode_command(gw->codec, &ch[i].cmd,
                                              &ch[i].val, &ec);
                pthread_mutex_unlock(&gw->codec_mu);
                if (err) {
                        sr_gateway__answer_status(c->resp, 500, "could not "
                                                  "encode the command: %s",
                                                  ec.msg);
                        goto out;
                }
                if (!sr_budget_input_fits((size_t)gw->conf->command_max_bytes,
                                          SR_UUID_STR_LEN, ch[i].val.len)) {
                        sr_gateway__answer_status(
                                c->resp, 413, "chunk %u of the bulk would be "
                                "a command of %zu bytes, over "
                                "command.max.bytes (%d); nothing was sent: "
                                "send fewer targets per call, or lower "
                                "definition.chunk.targets",
                                i, SR_UUID_STR_LEN + ch[i].val.len,
                                gw->conf->command_max_bytes);
                        goto out;
                }
        }
        for (i = 0; i < nch; i++) {
                sr_gw_sent_t sent = gw->port.send(gw->port.ctx, &ch[i].cmd,
                                                  sr_buf_slice(&ch[i].val),
                                                  timeout > 0 ? timeout : 1,
                                                  &ch[i].ticket, &ec);

                if (sent != SR_GW_SENT) {
                        /* the chunks sent are still awaited (tickets) */
                        sr_gateway__send_failed(sent, &ec, c->resp);
                        break;
                }
                ch[i].sent = true;
        }
        until = sr_clock_mono_ms() + timeout;
        for (uint32_t k = 0; k < nch && ch[k].sent; k++) {
                double t_read;

                ch[k].replied = gw->port.wait_reply(gw->port.ctx,
                                                    ch[k].ticket, until,
                                                    &ch[k].reply, &t_read);
        }
        if (c->resp->status) /* a send failed */
                goto out;
        for (i = 0; i < nch; i++) {
                if (!ch[i].replied || ch[i].reply.accepted)
                        continue;
                sr_uuid_fmt(&ch[i].cmd.command_id, cid);
                if (ch[i].reply.reason == SR_REJECT_RUN_STARTING)
                        c->resp->retry_after = 1;
                /* which chunk (of the valid items, in body order), and
                 * the owner's message */
                snprintf(text, sizeof(text), "chunk %u of %u: %s", i, nch,
                         ch[i].reply.message);
                sr_gateway__answer_json(
                        c->resp,
                        sr_gateway__refusal_status(ch[i].reply.reason), text,
                        sr_gateway__refusal_content(cid, &ch[i].reply));
                goto out;
        }
        missing = json_array();
        for (i = 0; i < nch; i++) {
                if (!ch[i].replied) {
                        sr_uuid_fmt(&ch[i].cmd.command_id, cid);
                        json_array_append_new(missing, json_string(cid));
                        continue;
                }
                if (ch[i].reply.has_def) {
                        created += ch[i].reply.def.created;
                        added += ch[i].reply.def.added;
                        skipped += ch[i].reply.def.skipped;
                        if (ch[i].reply.def.seq > seq)
                                seq = ch[i].reply.def.seq;
                }
        }
        if (json_array_size(missing) ||
            (nch && !gw->port.wait_def_seq(gw->port.ctx, c->enterprise,
                                           &pipeline, seq, until))) {
                c->resp->retry_after = 1;
                sr_gateway__answer_json(
                        c->resp, 202, json_array_size(missing) ?
                        "accepted; the outcome of some chunks did not "
                        "arrive in time: retry with the same "
                        "Idempotency-Key" :
                        "accepted; not yet visible in reads",
                        json_pack("{s:s,s:o}", "command_id", base,
                                  "missing_command_ids", missing));
                goto out;
        }
        json_decref(missing);
        snprintf(msg, sizeof(msg), "created %u, added %u, skipped %u",
                 created, added, skipped);
        sr_gateway__answer_json(c->resp, 200, msg,
                                sr_json_def_bulk_answer(created, added,
                                                        skipped, &b));
out:
        for (i = 0; ch && i < nch; i++) {
                sr_command_fini(&ch[i].cmd);
                sr_buf_free(&ch[i].val);
        }
        free(ch);
        sr_defs_bulk_fini(&b);
#ifdef __GLIBC__
        /* A bulk's items, its JSON tree and its chunks (some 1 KB an item)
         * were freed on this write thread, whose malloc arena would keep
         * them: give them back, so the gateway's memory after a 100,000-
         * target bulk is what it was before (tests/bench/README.md,
         * "One bulk call"). Some milliseconds, on large bodies only. */
        if (c->req->body_len >= BULK_TRIM_BYTES)
                malloc_trim(0);
#endif
}

/* ------------------------------------------------------------ runs */

/* POST /v0/pipelines/{id}/runs/ (docs/definitions.md section 5): the body
 * ({} or none: 400), the Idempotency-Key (409; its fingerprint holds the
 * path's pipeline id), the pipeline in the caller's enterprise, not
 * deleted (404), then StartPipelineRun keyed by the pipeline, naming the
 * run id POST /v0/runs/ would pick (UUID v5 of the key, else v4). The
 * owner's refusals map as every definition write's (run_starting 409
 * with Retry-After, not_supported 400, pipeline_deleted and not_found
 * 404). Accepted, or a run already active under that id (a retry): the
 * run is created by the CreateRun the owner emits, so the answer waits
 * until the projection holds the run, then is 200 with it as POST
 * /v0/runs/ gives a run; not in gateway.reply.timeout.ms: 202 with the
 * command id, and a retry with the key answers the same run. */
void sr_gateway__start_pipeline_run(sr_gw_ctx_t *c)
{
        const sr_route_t *r = c->route;
        sr_http_problem_t prob = { 0 };
        sr_def_record_t p;
        sr_command_t cmd;
        sr_defcmd_t *d;
        sr_uuid_t run;
        int rc;

        if (sr_http_parse_start_run(c->req->body, c->req->body_len,
                                    (size_t)c->gw->conf->gateway_body_max_bytes,
                                    &prob) != SR_OK) {
                sr_gateway__answer_problem(c->resp, &prob);
                return;
        }
        if (sr_gateway__idem_refused(c) ||
            !sr_gwdef__usable_pipeline(c, &r->pipeline_id, &p))
                return;
        sr_def_record_fini(&p);
        d = calloc(1, sizeof(*d));
        if (!d) {
                sr_gateway__answer_status(c->resp, 500, "out of memory");
                return;
        }
        sr_gateway__new_run_id(c, &r->pipeline_id, &run);
        sr_gateway__command_init(&cmd, SR_CMD_DEFINITION, c->enterprise,
                                 c->req, &r->pipeline_id);
        d->kind = SR_DEFCMD_START_PIPELINE_RUN;
        d->command_id = cmd.command_id;
        snprintf(d->enterprise_id, sizeof(d->enterprise_id), "%s",
                 c->enterprise);
        d->issued_at = cmd.issued_at;
        d->pipeline_id = r->pipeline_id;
        d->u.run.pipeline_run_id = run;
        cmd.u.def = d; /* owned by cmd from here */
        rc = sr_gateway__run_command(c->gw, &cmd, c->resp);
        sr_command_fini(&cmd);
        if (!rc)
                sr_gateway__answer_new_run(c, &run);
}
