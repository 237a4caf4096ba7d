/* common/gateway/sr_gw_targets.c - an open stage's writes (docs/targets.md,
 * section 5): a chunk of its targets (POST .../targets/, an AppendTargets
 * command) and its seal (POST .../targets/seal/, SealTargets).
 *
 * A chunk's command id is UUID v5 of what it carries, not of the request:
 *   AppendTargets  v5(NS, "<run>/stage/<i>/chunk/<c>/<chunk digest hex>")
 * so a retry of the same chunk, from any client through any gateway, with
 * or without an Idempotency-Key, is the same command, which the worker's
 * dedupe answers with its first reply (every refusal of a chunk is final:
 * nothing later makes the same chunk acceptable); the same chunk index
 * with other items is another command, which the worker refuses
 * chunk_conflict (a v5 of the index alone would be deduped into the first
 * chunk's "accepted" instead). An Idempotency-Key is checked as on every
 * write, but does not choose a chunk's id.
 *
 * A seal's id is a write's usual one (the Idempotency-Key's, else a new
 * one): a seal refused seal_mismatch (a chunk missing) is sent again,
 * the same, once the chunk is in, and must then be applied, not answered
 * with the first refusal; an equal second seal is accepted unchanged by
 * the rule itself, so a retry needs no dedupe.
 */
#include "sr_gateway_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_digest.h"
#include "sr_entity_json.h"
#include "sr_sha256.h"

/* The stage run the route names, in the caller's enterprise and under the
 * route's run: false after answering 404 (absent, another enterprise's or
 * another run's, retired) or 500. Nothing of it is on the heap: the
 * projection keeps no stage spec. */
static bool read_stage_run(sr_gw_ctx_t *c, sr_stage_run_t *sr)
{
        sr_errctx_t ec = { 0 };

        if (sr_proj_get_stage_run(c->gw->proj, c->enterprise,
                                  &c->route->pipeline_run_id,
                                  &c->route->stage_run_id, sr,
                                  &ec) != SR_OK) {
                sr_gateway__proj_failed(c, &ec, "stage run");
                return false;
        }
        return true;
}

/* The answer to an accepted chunk: its index and size, and the stage's
 * counts as the projection holds them now that the reply's versions are
 * visible (they may include chunks applied since, by other requests in
 * flight); null while the projection does not show the stage open (a
 * changelog without the open-stage fields). */
static void answer_appended(sr_gw_ctx_t *c, const sr_command_t *cmd)
{
        sr_stage_run_t sr;
        json_t *content;
        bool open;

        if (!read_stage_run(c, &sr))
                return;
        open = sr.append_targets;
        content = json_pack("{s:I,s:I,s:o,s:o}", "chunk",
                            (json_int_t)cmd->u.append.chunk, "targets",
                            (json_int_t)cmd->u.append.n_targets,
                            "targets_appended",
                            open ? json_integer(sr.targets_appended) :
                                   json_null(),
                            "chunks",
                            open ? json_integer(sr.chunks_applied) :
                                   json_null());
        if (!content)
                sr_gateway__answer_status(c->resp, 500, "out of memory");
        else
                sr_gateway__answer_json(c->resp, 200, "ok", content);
}

void sr_gateway__append_targets(sr_gw_ctx_t *c)
{
        sr_gateway_t *gw = c->gw;
        const sr_route_t *r = c->route;
        uint8_t digest[SR_DIGEST_LEN];
        sr_http_problem_t prob = { 0 };
        sr_http_append_t ap = { 0 };
        sr_errctx_t ec = { 0 };
        sr_stage_run_t sr;
        sr_command_t cmd;
        sr_err_t err;

        if (sr_http_parse_append(c->req->body, c->req->body_len,
                                 (size_t)gw->conf->gateway_body_max_bytes,
                                 (uint32_t)gw->conf->stage_chunk_targets,
                                 &ap, &prob) != SR_OK) {
                sr_gateway__answer_problem(c->resp, &prob);
                return;
        }
        if (sr_gateway__idem_refused(c))
                goto out;
        /* The command carries the stage's index, which the path does not
         * give; the read is also the 404 of an unknown stage run. */
        if (!read_stage_run(c, &sr))
                goto out;
        err = sr_targets_digest(ap.targets, ap.n_targets, digest, &ec);
        if (err) {
                /* What the encoder would refuse: the item and field named. */
                sr_gateway__answer_status(c->resp,
                                          err == SR_ERR_INVALID ? 400 : 500,
                                          "%s", ec.msg);
                goto out;
        }
        sr_gateway__command_init(&cmd, SR_CMD_APPEND_TARGETS, c->enterprise,
                                 c->req, &r->pipeline_run_id);
        sr_chunk_command_id(&r->pipeline_run_id, sr.index, ap.chunk, digest,
                            &cmd.command_id);
        cmd.u.append.stage_index = sr.index;
        cmd.u.append.chunk = ap.chunk;
        cmd.u.append.n_targets = ap.n_targets;
        cmd.u.append.targets = ap.targets; /* the command's from here */
        ap.targets = NULL;
        if (!sr_gateway__run_command(gw, &cmd, c->resp))
                answer_appended(c, &cmd);
        sr_command_fini(&cmd);
out:
        free(ap.targets);
}

void sr_gateway__seal_targets(sr_gw_ctx_t *c)
{
        sr_gateway_t *gw = c->gw;
        const sr_route_t *r = c->route;
        sr_http_problem_t prob = { 0 };
        sr_http_seal_t seal;
        sr_stage_run_t sr;
        sr_command_t cmd;
        json_t *j;

        if (sr_http_parse_seal(c->req->body, c->req->body_len,
                               (size_t)gw->conf->gateway_body_max_bytes,
                               &seal, &prob) != SR_OK) {
                sr_gateway__answer_problem(c->resp, &prob);
                return;
        }
        if (sr_gateway__idem_refused(c))
                return;
        if (!read_stage_run(c, &sr))
                return;
        sr_gateway__command_init(&cmd, SR_CMD_SEAL_TARGETS, c->enterprise,
                                 c->req, &r->pipeline_run_id);
        cmd.u.seal.stage_index = sr.index;
        cmd.u.seal.chunks = seal.chunks;
        cmd.u.seal.count = seal.count;
        memcpy(cmd.u.seal.digest, seal.digest, SR_DIGEST_LEN);
        if (sr_gateway__run_command(gw, &cmd, c->resp))
                return;
        /* The stage run as it reads now that the seal is visible. */
        if (!read_stage_run(c, &sr))
                return;
        j = sr_json_stage_run(&sr);
        if (!j)
                sr_gateway__answer_status(c->resp, 500, "out of memory");
        else
                sr_gateway__answer_json(c->resp, 200, "ok", j);
}
