/* common/gateway/sr_gw_writes.c - the gateway's writes: PUTs of a status,
 * run creation and deletion, Idempotency-Key checks, and the command each
 * becomes, sent through the command port (sr_gw_port.h). An open stage's
 * chunks and seal are in sr_gw_targets.c, over the same checks and
 * sending.
 */
#include "sr_gateway_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_budget.h"
#include "sr_clock.h"
#include "sr_defs.h"
#include "sr_entity_json.h"

void sr_gateway__idem_stats_publish(sr_gateway_t *gw)
{
        uint_least64_t seen = atomic_load(&gw->idem_evicted_seen);
        sr_idem_stats_t st;

        sr_idem_stats(gw->idem, &st);
        sr_series_set(gw->idem_keys, (double)st.keys);
        /* The counter moves forward once per eviction, whichever thread
         * saw it first. */
        while (st.evicted > seen &&
               !atomic_compare_exchange_weak(&gw->idem_evicted_seen, &seen,
                                             st.evicted))
                ;
        if (st.evicted > seen)
                sr_series_add(gw->idem_evicted, (double)(st.evicted - seen));
}

/* What wait_feed() asks while a claim is read back. */
typedef struct idem_wait {
        sr_gateway_t *gw;
        const char *enterprise, *key;
        const uint8_t *fp;
        sr_idem_verdict_t verdict;
        sr_err_t err;
        sr_errctx_t ec;
} idem_wait_t;

/* Known to the memory the feed fills (or failed): decided. */
static bool idem_known(void *arg)
{
        idem_wait_t *w = arg;

        w->err = sr_idem_peek(w->gw->idem, w->enterprise, w->key, w->fp,
                              sr_clock_mono_ms(), &w->verdict, &w->ec);
        return w->err || w->verdict != SR_IDEM_FIRST;
}

/* The fleet's verdict on a key (docs/api-decisions.md, "Idempotency-Key"):
 * a key the feed has read a claim of is decided by the first claim; an
 * unknown one is claimed (acks=all) and read back, and the first claim of
 * the key in its partition, ours or another gateway's, decides. Returns
 * the HTTP status written to @p resp, or 0 with @p v set. */
static int idem_fleet_verdict(sr_gateway_t *gw, const char *enterprise,
                              const char *key, const uint8_t *fp,
                              sr_gw_response_t *resp, sr_idem_verdict_t *v)
{
        int timeout = gw->conf->gateway_reply_timeout_ms;
        idem_wait_t w = { gw, enterprise, key, fp, SR_IDEM_FIRST, SR_OK,
                          { 0 } };
        sr_buf_t rkey = { 0 }, rval = { 0 };
        sr_idem_claim_t c = { 0 };
        sr_errctx_t ec = { 0 };
        sr_err_t err;

        if (idem_known(&w))
                goto decided;
        snprintf(c.enterprise, sizeof(c.enterprise), "%s", enterprise);
        snprintf(c.key, sizeof(c.key), "%s", key);
        memcpy(c.fp, fp, SR_IDEM_FP_LEN);
        c.first_use_ms = sr_clock_wall_ms();
        err = sr_idem_claim_encode(&c, &rkey, &rval, &ec);
        if (!err)
                err = gw->port.claim(gw->port.ctx, sr_buf_slice(&rkey),
                                     sr_buf_slice(&rval),
                                     sr_idem_claim_partition(
                                             enterprise, key,
                                             gw->conf->partitions),
                                     timeout > 0 ? timeout : 1, &ec);
        sr_buf_free(&rkey);
        sr_buf_free(&rval);
        if (err) {
                resp->retry_after = 5;
                sr_gateway__answer_status(resp, 503, "the Idempotency-Key "
                                          "could not be recorded on the "
                                          "broker (%s); nothing was sent, "
                                          "retry", ec.msg);
                return 503;
        }
        if (!gw->port.wait_feed(gw->port.ctx, idem_known, &w,
                                sr_clock_mono_ms() + (timeout > 0 ? timeout :
                                                                    1))) {
                resp->retry_after = 1;
                sr_gateway__answer_status(resp, 503, "the Idempotency-Key "
                                          "was recorded but not read back "
                                          "in time; nothing was sent, "
                                          "retry with the same key");
                return 503;
        }
        sr_gateway__idem_stats_publish(gw);
decided:
        if (w.err) {
                sr_gateway__answer_status(resp, 500, "Idempotency-Key: %s",
                                          w.ec.msg);
                return 500;
        }
        *v = w.verdict;
        return 0;
}

/* Idempotency: the same key of the enterprise with another route or body
 * is refused (409; 500 when it cannot be remembered, 503 when the claim
 * cannot be shared with the fleet). Returns true after answering; false
 * without a key. */
bool sr_gateway__idem_refused(sr_gw_ctx_t *c)
{
        sr_gateway_t *gw = c->gw;
        const char *enterprise = c->enterprise;
        const sr_gw_request_t *req = c->req;
        const sr_route_t *route = c->route;
        sr_gw_response_t *resp = c->resp;
        uint8_t fp[SR_IDEM_FP_LEN];
        sr_idem_verdict_t v;
        sr_errctx_t ec = { 0 };

        if (!req->idempotency_key)
                return false;
        sr_idem_fingerprint(route, req->body, req->body_len, fp);
        if (gw->port.claim) {
                if (idem_fleet_verdict(gw, enterprise, req->idempotency_key,
                                       fp, resp, &v))
                        return true;
        } else if (sr_idem_check(gw->idem, enterprise, req->idempotency_key,
                                 fp, sr_clock_mono_ms(), &v, &ec) != SR_OK) {
                sr_gateway__answer_status(resp, 500, "Idempotency-Key: %s",
                                          ec.msg);
                return true;
        } else if (v == SR_IDEM_FIRST) {
                sr_gateway__idem_stats_publish(gw);
        }
        if (v != SR_IDEM_CONFLICT)
                return false;
        sr_gateway__answer_status(resp, 409, "Idempotency-Key was used "
                                  "before with another request (another "
                                  "operation, other path ids or another "
                                  "body); use a new key");
        return true;
}

sr_err_t sr_gateway__idem_open(sr_gateway_t *gw, sr_errctx_t *ec)
{
        sr_uuid_t random;
        uint64_t seed;

        sr_uuid_v4(&random);
        memcpy(&seed, random.b, sizeof(seed));
        return sr_idem_new((size_t)gw->conf->gateway_idempotency_max_keys,
                           (int64_t)gw->conf->gateway_idempotency_ttl_s * 1000,
                           seed, &gw->idem, ec);
}

/* The answer to a send that did not go out. */
int sr_gateway__send_failed(sr_gw_sent_t sent, const sr_errctx_t *ec,
                            sr_gw_response_t *resp)
{
        if (sent == SR_GW_SEND_BUSY) {
                resp->retry_after = 1;
                sr_gateway__answer_status(resp, 503, "too many writes in "
                                          "flight; retry");
                return 503;
        }
        /* One record's fate: the broker's health is the feed's business,
         * not this request's. */
        if (ec->code == SR_ERR_TOO_LARGE) {
                sr_gateway__answer_status(resp, 413, "the broker refused "
                                          "the command as too large (%s); "
                                          "nothing was changed", ec->msg);
                return 413;
        }
        if (ec->code != SR_ERR_RETRY) {
                sr_gateway__answer_status(resp, 500, "the broker refused "
                                          "the command (%s); nothing was "
                                          "changed", ec->msg);
                return 500;
        }
        resp->retry_after = 5;
        sr_gateway__answer_status(resp, 503, "the broker did not take the "
                                  "command (%s); nothing was changed, "
                                  "retry", ec->msg);
        return 503;
}

/* The status of a refused command: 404 for an unknown or foreign id, a
 * retired run or a deleted pipeline, 413 for a command too large, 500 for the worker's
 * internal error, 409 for what an open stage's state refuses (a chunk
 * index taken by other items, a device already in the stage, too many
 * targets, a sealed or ended stage, a seal that does not match; a stale
 * version, an entity in use, a run of the pipeline starting: the request
 * was well formed, the state is not one to take it), else 400 (the
 * state machine's or the definition rules' message). */
int sr_gateway__refusal_status(sr_reject_t reason)
{
        switch (reason) {
        case SR_REJECT_NOT_FOUND:
        case SR_REJECT_TENANT:
        case SR_REJECT_RUN_RETIRED:
        case SR_REJECT_PIPELINE_DELETED:
                return 404;
        case SR_REJECT_TOO_LARGE:
                return 413;
        case SR_REJECT_INTERNAL:
                return 500;
        case SR_REJECT_CHUNK_CONFLICT:
        case SR_REJECT_DUPLICATE_TARGET:
        case SR_REJECT_TOO_MANY_TARGETS:
        case SR_REJECT_SEALED:
        case SR_REJECT_SEAL_MISMATCH:
        case SR_REJECT_STALE_STAGE:
        /* stored definitions (docs/definitions.md, section 2): a version
         * not the entity's, an entity a run or a list still uses, a fill
         * of the pipeline's run in progress */
        case SR_REJECT_STALE_VERSION:
        case SR_REJECT_IN_USE:
        case SR_REJECT_RUN_STARTING:
                return 409;
        default:
                return 400;
        }
}

/* The content of a refusal: the command id and the reason, and for a
 * stale version of a definition the entity's current one. */
json_t *sr_gateway__refusal_content(const char *cid,
                                     const sr_reply_t *reply)
{
        json_t *j = json_pack("{s:s,s:s}", "command_id", cid, "reason",
                              sr_reject_name(reply->reason));

        if (j && reply->reason == SR_REJECT_STALE_VERSION && reply->has_def)
                json_object_set_new(j, "current_version",
                                    json_integer(reply->def.version));
        return j;
}

int sr_gateway__run_command(sr_gateway_t *gw, sr_command_t *cmd,
                            sr_gw_response_t *resp)
{
        return sr_gateway__run_command_reply(gw, cmd, resp, NULL);
}

/* Send @p cmd through the port and wait for its reply and its
 * visibility. Returns 0 when the command was accepted and is visible;
 * otherwise the response is written and the HTTP status returned. */
int sr_gateway__run_command_reply(sr_gateway_t *gw, sr_command_t *cmd,
                                  sr_gw_response_t *resp, sr_reply_t *out)
{
        bool visible;
        char cid[SR_UUID_STR_LEN + 1];
        int timeout = gw->conf->gateway_reply_timeout_ms;
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { 0 };
        double t0, t_acked, t_reply = 0;
        sr_reply_t reply;
        sr_gw_sent_t sent;
        int64_t until;
        int ticket = -1, code;
        sr_err_t err;

        sr_uuid_fmt(&cmd->command_id, cid);
        pthread_mutex_lock(&gw->codec_mu);
        err = sr_codec_encode_command(gw->codec, cmd, &val, &ec);
        pthread_mutex_unlock(&gw->codec_mu);
        if (err) {
                sr_gateway__answer_status(resp, 500, "could not encode the "
                                          "command: %s", ec.msg);
                return 500;
        }
        /* The worker would refuse it (sr_budget.h): say so, send nothing. */
        if (!sr_budget_input_fits((size_t)gw->conf->command_max_bytes,
                                  SR_UUID_STR_LEN, val.len)) {
                sr_gateway__answer_status(resp, 413, "the command would be "
                                          "%zu bytes (its key and encoded "
                                          "value), over command.max.bytes "
                                          "(%d); nothing was changed: send "
                                          "%s",
                                          SR_UUID_STR_LEN + val.len,
                                          gw->conf->command_max_bytes,
                                          cmd->kind == SR_CMD_APPEND_TARGETS ?
                                                  "fewer targets in the "
                                                  "chunk" :
                                          cmd->kind == SR_CMD_DEFINITION ?
                                                  "a smaller body" :
                                                  "a smaller run spec");
                sr_buf_free(&val);
                return 413;
        }
        t0 = sr_clock_mono_s();
        sent = gw->port.send(gw->port.ctx, cmd, sr_buf_slice(&val),
                             timeout > 0 ? timeout : 1, &ticket, &ec);
        sr_buf_free(&val);
        if (sent != SR_GW_SENT)
                return sr_gateway__send_failed(sent, &ec, resp);
        t_acked = sr_clock_mono_s();
        sr_series_observe(gw->phase[SR_GW_PHASE_PRODUCE], t_acked - t0);
        until = sr_clock_mono_ms() + timeout;
        if (!gw->port.wait_reply(gw->port.ctx, ticket, until, &reply,
                                 &t_reply)) {
                resp->retry_after = 1;
                sr_gateway__answer_json(resp, 202, "accepted; the outcome "
                                        "did not arrive in time",
                                        json_pack("{s:s}", "command_id",
                                                  cid));
                return 202;
        }
        sr_series_observe(gw->phase[SR_GW_PHASE_REPLY], t_reply - t_acked);
        if (out)
                *out = reply;
        if (!reply.accepted) {
                code = sr_gateway__refusal_status(reply.reason);
                /* A retired run: when and why, from the projection's note
                 * (else the worker's message says it). */
                if (reply.reason == SR_REJECT_RUN_RETIRED &&
                    sr_gateway__answer_retired(
                            gw, cmd->enterprise_id, &cmd->pipeline_run_id,
                            NULL, resp,
                            json_pack("{s:s,s:s}", "command_id", cid,
                                      "reason",
                                      sr_reject_name(reply.reason))))
                        return code;
                /* A run of the pipeline is being filled: retry soon. */
                if (reply.reason == SR_REJECT_RUN_STARTING)
                        resp->retry_after = 1;
                sr_gateway__answer_json(resp, code, reply.message,
                                        sr_gateway__refusal_content(cid, &reply));
                return code;
        }
        /* A deleted run is retired, not at a new version: it is visible
         * once it is gone from the projection. A started run of a stored
         * pipeline once the projection holds the run. A definition
         * command is
         * visible once its pipeline's record holds the reply's seq (a
         * reply without its definition part names no seq: nothing to
         * wait for). */
        if (cmd->kind == SR_CMD_DELETE_RUN)
                visible = gw->port.wait_retired(gw->port.ctx,
                                                cmd->enterprise_id,
                                                &cmd->pipeline_run_id, until);
        else if (cmd->kind == SR_CMD_DEFINITION &&
                 cmd->u.def->kind == SR_DEFCMD_START_PIPELINE_RUN)
                /* the run the owner started: its CreateRun is applied
                 * apart from the reply (docs/definitions.md section 5) */
                visible = gw->port.wait_run(gw->port.ctx,
                                            cmd->enterprise_id,
                                            &cmd->u.def->u.run.pipeline_run_id,
                                            until);
        else if (cmd->kind == SR_CMD_DEFINITION)
                visible = gw->port.wait_def_seq(
                        gw->port.ctx, cmd->enterprise_id,
                        &cmd->pipeline_run_id,
                        reply.has_def ? reply.def.seq : 0, until);
        else
                visible = gw->port.wait_visible(gw->port.ctx, &reply, until);
        if (!visible) {
                sr_gateway__answer_json(resp, 202, "accepted; not yet "
                                        "visible in reads",
                                        json_pack("{s:s}", "command_id",
                                                  cid));
                return 202;
        }
        sr_series_observe(gw->phase[SR_GW_PHASE_VISIBLE],
                          sr_clock_mono_s() - t_reply);
        return 0;
}

void sr_gateway__command_init(sr_command_t *cmd, sr_cmd_kind_t kind,
                              const char *enterprise,
                              const sr_gw_request_t *req,
                              const sr_uuid_t *run)
{
        memset(cmd, 0, sizeof(*cmd));
        cmd->kind = kind;
        if (req->idempotency_key)
                sr_idem_uuid(&cmd->command_id, "idem", enterprise,
                             req->idempotency_key);
        else
                sr_uuid_v4(&cmd->command_id);
        if (run)
                cmd->pipeline_run_id = *run;
        snprintf(cmd->enterprise_id, sizeof(cmd->enterprise_id), "%s",
                 enterprise);
        cmd->issued_at = sr_clock_wall_ms();
}

/* One read before the command (existence and tenancy: 404 before
 * anything is sent; the pipeline run a target run belongs to), one after
 * it is visible (the answer, sr_gateway__get()). */
void sr_gateway__put_status(sr_gw_ctx_t *c)
{
        const sr_route_t *r = c->route;
        sr_http_problem_t prob = { 0 };
        sr_http_put_t put;
        sr_command_t cmd;
        sr_uuid_t run = r->pipeline_run_id;
        sr_cmd_kind_t kind;
        sr_entity_t e;

        if (sr_http_parse_put(r->id, c->req->body, c->req->body_len,
                              (size_t)c->gw->conf->gateway_body_max_bytes,
                              &put, &prob) != SR_OK) {
                sr_gateway__answer_problem(c->resp, &prob);
                return;
        }
        if (sr_gateway__idem_refused(c))
                return;
        if (!sr_gateway__read_entity(c, &e))
                return;
        if (e.type == SR_ENT_PIPELINE_RUN) {
                kind = SR_CMD_SET_PIPELINE_RUN_STATUS;
        } else if (e.type == SR_ENT_STAGE_RUN) {
                kind = SR_CMD_SET_STAGE_RUN_STATUS;
        } else {
                kind = SR_CMD_SET_TARGET_RUN_STATUS;
                run = e.u.tr.pipeline_run_id;
        }
        sr_entity_fini(&e);
        sr_gateway__command_init(&cmd, kind, c->enterprise, c->req, &run);
        if (kind == SR_CMD_SET_STAGE_RUN_STATUS)
                cmd.u.set.entity_id = r->stage_run_id;
        else if (kind == SR_CMD_SET_TARGET_RUN_STATUS)
                cmd.u.set.entity_id = r->target_run_id;
        snprintf(cmd.u.set.status, sizeof(cmd.u.set.status), "%s",
                 sr_status_name(put.status));
        if (put.has_device_name)
                snprintf(cmd.u.set.device_name, sizeof(cmd.u.set.device_name),
                         "%s", put.device_name);
        if (sr_gateway__run_command(c->gw, &cmd, c->resp))
                return;
        sr_gateway__get(c);
}

/* A target run's device command sent again (POST .../command/) or
 * cancelled (PUT .../command/{command_id}/): TargetCommand to the run's
 * worker, which decides (docs/definitions.md section 9, phase D); then
 * the CommandResponse as GET .../command/ answers it. */
void sr_gateway__command_write(sr_gw_ctx_t *c)
{
        const sr_route_t *r = c->route;
        bool cancel = r->id == SR_ROUTE_TARGET_RUN_COMMAND_CANCEL;
        sr_http_problem_t prob = { 0 };
        sr_errctx_t ec = { 0 };
        sr_target_run_t t;
        sr_command_t cmd;

        if (sr_http_parse_command_write(
                    r->id, c->req->body, c->req->body_len,
                    (size_t)c->gw->conf->gateway_body_max_bytes,
                    &prob) != SR_OK) {
                sr_gateway__answer_problem(c->resp, &prob);
                return;
        }
        if (sr_gateway__idem_refused(c))
                return;
        if (sr_proj_get_target_run(c->gw->proj, c->enterprise,
                                   &r->stage_run_id, &r->target_run_id, &t,
                                   &ec) != SR_OK) {
                sr_gateway__proj_failed(c, &ec, "target run");
                return;
        }
        sr_gateway__command_init(&cmd, SR_CMD_TARGET_COMMAND, c->enterprise,
                                 c->req, &t.pipeline_run_id);
        cmd.u.tcmd.target_run_id = r->target_run_id;
        /* a resend names the target run's own command (none yet: the
         * worker answers 404, as GET .../command/ does) */
        cmd.u.tcmd.command_id = cancel ? r->command_id : t.command_id;
        snprintf(cmd.u.tcmd.action, sizeof(cmd.u.tcmd.action), "%s",
                 cancel ? "cancel" : "resend");
        if (sr_gateway__run_command(c->gw, &cmd, c->resp))
                return;
        sr_gateway__get_command(c);
}

/* The device POST /stageruns/{id}/targetruns/ adds (docs/api-decisions.md,
 * "A target run added late"): a stored target of the stage run's pipeline
 * when @p body's target_id is one (its device, name and alias), else the
 * target id is the device id (an inline run's targets are named by
 * device) and the body's device_name is required; the body's name and
 * alias override. false: the answer is written (400, 500). */
static bool resolve_device(sr_gw_ctx_t *c, const sr_stage_run_t *s,
                           const sr_http_add_target_t *body, sr_command_t *cmd)
{
        sr_errctx_t ec = { 0 };
        sr_def_record_t rec;

        memset(&rec, 0, sizeof(rec));
        cmd->u.add.target_id = body->target_id;
        cmd->u.add.device_id = body->target_id;
        if (sr_proj_def_get(c->gw->proj, c->enterprise, SR_DEF_TARGET,
                            &s->pipeline_id, &body->target_id, &rec,
                            &ec) == SR_OK) {
                cmd->u.add.device_id = rec.u.target.device_id;
                snprintf(cmd->u.add.device_name,
                         sizeof(cmd->u.add.device_name), "%s",
                         rec.u.target.device_name);
                snprintf(cmd->u.add.device_alias,
                         sizeof(cmd->u.add.device_alias), "%s",
                         rec.u.target.device_alias);
                sr_def_record_fini(&rec);
        } else if (ec.code != SR_ERR_NOT_FOUND) {
                sr_gateway__answer_status(c->resp, 500, "target: %s",
                                          ec.msg);
                return false;
        }
        if (body->has_device_name)
                snprintf(cmd->u.add.device_name,
                         sizeof(cmd->u.add.device_name), "%s",
                         body->device_name);
        if (body->has_device_alias)
                snprintf(cmd->u.add.device_alias,
                         sizeof(cmd->u.add.device_alias), "%s",
                         body->device_alias);
        if (!cmd->u.add.device_name[0]) {
                sr_gateway__answer_status(c->resp, 400, "device_name: "
                                          "required: target_id is not a "
                                          "stored target of the run's "
                                          "pipeline, so it is taken as the "
                                          "device id, and the device needs "
                                          "its name");
                return false;
        }
        return true;
}

/* POST /stageruns/{id}/targetruns/ (Esper's TargetRun_POST): a device
 * joins a running stage run. The stage run in the caller's enterprise
 * (else 404), the device resolved (resolve_device()), AddTargetRun to the
 * run's worker, which decides (docs/domain-decisions.md, "A target run
 * added late"); then the new target runs, one per operation (their ids
 * the worker's: v5 of run, stage, device and operation), as an array,
 * once the projection holds them. */
void sr_gateway__add_target_run(sr_gw_ctx_t *c)
{
        const sr_route_t *r = c->route;
        sr_http_problem_t prob = { 0 };
        sr_http_add_target_t body;
        sr_errctx_t ec = { 0 };
        char rid[SR_UUID_STR_LEN + 1], dev[SR_UUID_STR_LEN + 1];
        sr_stage_run_t s;
        sr_command_t cmd;
        json_t *arr;

        if (sr_http_parse_add_target(c->req->body, c->req->body_len,
                                     (size_t)c->gw->conf->gateway_body_max_bytes,
                                     &body, &prob) != SR_OK) {
                sr_gateway__answer_problem(c->resp, &prob);
                return;
        }
        if (sr_gateway__idem_refused(c))
                return;
        if (sr_proj_get_stage_run(c->gw->proj, c->enterprise, NULL,
                                  &r->stage_run_id, &s, &ec) != SR_OK) {
                sr_gateway__proj_failed(c, &ec, "stage run");
                return;
        }
        sr_gateway__command_init(&cmd, SR_CMD_ADD_TARGET_RUN, c->enterprise,
                                 c->req, &s.pipeline_run_id);
        cmd.u.add.stage_run_id = r->stage_run_id;
        if (!resolve_device(c, &s, &body, &cmd))
                return;
        if (sr_gateway__run_command(c->gw, &cmd, c->resp))
                return;
        arr = json_array();
        sr_uuid_fmt(&s.pipeline_run_id, rid);
        sr_uuid_fmt(&cmd.u.add.device_id, dev);
        /* one per operation, in operation order, until the first absent */
        for (uint32_t j = 0; arr; j++) {
                sr_target_run_t t;
                sr_uuid_t id;

                sr_uuid_v5(&id, &sr_ns, "%s/stage/%u/device/%s/op/%u", rid,
                           s.index, dev, j);
                if (sr_proj_get_target_run(c->gw->proj, c->enterprise,
                                           &r->stage_run_id, &id, &t,
                                           &ec) != SR_OK)
                        break;
                if (json_array_append_new(arr, sr_json_target_run(&t))) {
                        json_decref(arr);
                        arr = NULL;
                }
        }
        if (!arr)
                sr_gateway__answer_status(c->resp, 500, "out of memory");
        else
                sr_gateway__answer_json(c->resp, 200, "ok", arr);
}

/* DELETE of a pipeline run (docs/definitions.md section 7): the run as
 * the projection holds it before the command (404 as GET answers it:
 * unknown, another enterprise's, under another pipeline, retired), then
 * DeleteRun under the route's pipeline (the run's own for
 * /v0/runs/{id}/) to the run's worker, which retires a run whose every
 * entity is final and refuses any other (400: cancel it first, or wait
 * for its children); once the run is gone from the projection, the run
 * as it was. No body: the dispatcher refused one. */
void sr_gateway__delete_run(sr_gw_ctx_t *c)
{
        const sr_route_t *r = c->route;
        sr_command_t cmd;
        sr_entity_t e;
        json_t *was;

        if (sr_gateway__idem_refused(c))
                return;
        if (!sr_gateway__read_entity(c, &e))
                return;
        was = sr_json_pipeline_run(&e.u.pr);
        sr_entity_fini(&e);
        if (!was) {
                sr_gateway__answer_status(c->resp, 500, "out of memory");
                return;
        }
        sr_gateway__command_init(&cmd, SR_CMD_DELETE_RUN, c->enterprise,
                                 c->req, &r->pipeline_run_id);
        cmd.u.del.pipeline_id = r->pipeline_id;
        if (sr_gateway__run_command(c->gw, &cmd, c->resp)) {
                json_decref(was);
                return;
        }
        sr_gateway__answer_json(c->resp, 200, "ok", was);
}

void sr_gateway__new_run_id(const sr_gw_ctx_t *c, const sr_uuid_t *pipeline,
                            sr_uuid_t *out)
{
        char label[16 + SR_UUID_STR_LEN] = "idem-run";

        if (!c->req->idempotency_key) {
                sr_uuid_v4(out);
                return;
        }
        /* A stored pipeline's run: the pipeline in the name, so one key
         * never names the same run from two paths or two pipelines, even
         * once the key itself is forgotten. */
        if (pipeline) {
                label[8] = '/';
                sr_uuid_fmt(pipeline, label + 9);
        }
        sr_idem_uuid(out, label, c->enterprise, c->req->idempotency_key);
}

void sr_gateway__create_run(sr_gw_ctx_t *c)
{
        sr_http_problem_t prob = { 0 };
        sr_proj_query_t pq = { 0 };
        sr_errctx_t ec = { 0 };
        sr_command_t cmd;
        sr_uuid_t run;
        uint64_t count = 0;
        size_t n = 0;
        sr_pipeline_run_t *none = NULL;
        sr_spec_limits_t lim;
        int rc;

        sr_gateway__command_init(&cmd, SR_CMD_CREATE_RUN, c->enterprise,
                                 c->req, NULL);
        lim.stages = (uint32_t)c->gw->conf->run_max_stages;
        lim.ops = (uint32_t)c->gw->conf->stage_max_operations;
        lim.targets = (uint32_t)c->gw->conf->stage_max_targets;
        if (sr_http_parse_run_spec(c->req->body, c->req->body_len,
                                   (size_t)c->gw->conf->gateway_body_max_bytes,
                                   &lim, &cmd.u.create.spec,
                                   &prob) != SR_OK) {
                sr_gateway__answer_problem(c->resp, &prob);
                return;
        }
        if (sr_gateway__idem_refused(c)) {
                sr_command_fini(&cmd);
                return;
        }
        sr_gateway__new_run_id(c, NULL, &run);
        cmd.pipeline_run_id = run;
        /* run_number: this gateway's count of the pipeline's runs + 1 */
        pq.pipeline_id = &cmd.u.create.spec.pipeline_id;
        if (sr_proj_list_pipeline_runs(c->gw->proj, c->enterprise, &pq, &none,
                                       &n, &count, &ec) == SR_OK)
                free(none);
        cmd.u.create.run_number = (int32_t)(count + 1);
        rc = sr_gateway__run_command(c->gw, &cmd, c->resp);
        sr_command_fini(&cmd);
        if (!rc)
                sr_gateway__answer_new_run(c, &run);
}

void sr_gateway__answer_new_run(sr_gw_ctx_t *c, const sr_uuid_t *run)
{
        sr_errctx_t ec = { 0 };
        sr_pipeline_run_t pr;

        if (sr_proj_get_pipeline_run(c->gw->proj, c->enterprise, run, &pr,
                                     &ec) != SR_OK) {
                sr_gateway__proj_failed(c, &ec, "pipeline run");
                return;
        }
        sr_gateway__answer_json(c->resp, 200, "ok",
                                sr_json_pipeline_run(&pr));
}
