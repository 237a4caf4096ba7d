/* common/status/sr_worker_input.c - the inputs of a batch: decoding and
 * applying commands and results (results are forwarded into the command
 * log and applied from there), duplicates, refusals (over command.max.bytes
 * or refused after they were applied) and dead letters. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sr_budget.h"
#include "sr_log.h"
#include "sr_worker_int.h"

/* The refusal recorded for input @p in of this poll, or NULL. */
static const refusal_t *refusal_of(const sr_worker_t *w, int in)
{
        for (int i = 0; i < w->n_refused; i++)
                if (w->refused[i].input == in)
                        return &w->refused[i];
        return NULL;
}

/* Refuse the input being applied, after the fact: record why and redo the
 * batch without its changes. False when it cannot be refused (not an
 * input's doing, or already refused): the caller's defect is fatal. */
bool sr_worker__refuse_current(sr_worker_t *w, sr_reject_t reason,
                               const char *why)
{
        refusal_t *r;

        if (w->cur_in < 0 || refusal_of(w, w->cur_in) ||
            w->n_refused >= w->max_recs)
                return false;
        r = &w->refused[w->n_refused++];
        r->input = w->cur_in;
        r->reason = reason;
        snprintf(r->why, sizeof(r->why), "%s", why);
        w->redo = true;
        SR_WARN("WORKER", "input refused after it was applied, batch redone "
                "partition=%" PRId32 " offset=%" PRId64 " reason=%s "
                "why=\"%s\"",
                w->recs[w->cur_in].partition, w->recs[w->cur_in].offset,
                sr_reject_name(reason), r->why);
        return true;
}

/* The state machine refused a transition of its own (SR_ERR_INTERNAL: a
 * defect, or a stored state it never makes). The input is refused and
 * dead-lettered, deterministically, instead of stopping the worker: every
 * owner of the partition would meet it again. */
/* A target run the state machine needed could not be read back
 * (sr_run_tr()): what it did is not committed, the worker stops. */
static bool run_faulted(sr_worker_t *w, sr_run_t *run)
{
        if (!run->fault)
                return false;
        sr_worker__set_fatal(w, &run->fault_ec, "read back a target run");
        return true;
}

static void fsm_refused(sr_worker_t *w, const char *illegal)
{
        sr_errctx_t ec = { 0 };

        SR_ERROR("WORKER", "state machine refused its own transition: %s",
                 illegal);
        if (!sr_worker__refuse_current(w, SR_REJECT_INTERNAL, illegal)) {
                sr_errctx_set(&ec, SR_ERR_INTERNAL, "%s", illegal);
                sr_worker__set_fatal(w, &ec, "state machine");
        }
}

/* The record goes to the dead-letter topic unchanged, with headers that say
 * where it came from and why it could not be used. A record over
 * command.max.bytes is cut to its first bytes (key and value prefixes),
 * and two more headers give its sizes: a dead letter must fit what the
 * producer can send, whatever the input was. */
static void dead_letter(sr_worker_t *w, const sr_inrec_t *in,
                        const char *reason, const char *error)
{
        char part[16], off[24], origin[48] = "", kbytes[24], vbytes[24];
        sr_outrec_t rec = { 0 };
        const char *topic = sr_topic_suffix(in->topic);
        sr_slice_t fwd;
        int32_t p = in->partition;
        int64_t o = in->offset;

        /* A forwarded result is reported where it first arrived. */
        if (sr_inrec_header(in, FORWARD_HEADER, &fwd) &&
            fwd.len < sizeof(origin)) {
                long long lo;
                int lp;

                memcpy(origin, fwd.ptr, fwd.len);
                origin[fwd.len] = '\0';
                if (sscanf(origin, "results/%d/%lld", &lp, &lo) == 2) {
                        topic = "results";
                        p = lp;
                        o = lo;
                }
        }
        snprintf(part, sizeof(part), "%" PRId32, p);
        snprintf(off, sizeof(off), "%" PRId64, o);
        rec.topic = SR_TOPIC_DLQ;
        rec.partition = -1;
        rec.key = in->key;
        rec.value = in->value;
        rec.timestamp = in->timestamp;
        sr_outrec_add_header(&rec, "sr_dlq_topic", topic);
        sr_outrec_add_header(&rec, "sr_dlq_partition", part);
        sr_outrec_add_header(&rec, "sr_dlq_offset", off);
        sr_outrec_add_header(&rec, "sr_dlq_reason", reason);
        sr_outrec_add_header(&rec, "sr_dlq_error", error);
        if (!sr_budget_input_fits(w->in_max, in->key.len, in->value.len)) {
                snprintf(kbytes, sizeof(kbytes), "%zu", in->key.len);
                snprintf(vbytes, sizeof(vbytes), "%zu", in->value.len);
                if (rec.key.len > SR_BUDGET_DLQ_KEY_PREFIX)
                        rec.key.len = SR_BUDGET_DLQ_KEY_PREFIX;
                if (rec.value.len > SR_BUDGET_DLQ_VALUE_PREFIX)
                        rec.value.len = SR_BUDGET_DLQ_VALUE_PREFIX;
                sr_outrec_add_header(&rec, "sr_dlq_key_bytes", kbytes);
                sr_outrec_add_header(&rec, "sr_dlq_value_bytes", vbytes);
        }
        sr_worker__emit(w, in->partition, SR_STORE_PHASE_EMIT, &rec);
        w->bs.dead_letters++;
        w->bs.inputs[strcmp(topic, "results") == 0][OUT_DLQ]++;
        SR_WARN("WORKER",
                "input dead-lettered topic=%s partition=%" PRId32
                " offset=%" PRId64 " reason=%s err=\"%s\"",
                topic, p, o, reason, error);
}

static const char *reason_of(sr_err_t err)
{
        return err == SR_ERR_CORRUPT ? "undecodable" : "schema_violation";
}

/* Refuse an input: a refusal reply when it is a command whose ids can be
 * read, and a dead letter (reason too_large or internal_error). */
static void refuse_input(sr_worker_t *w, const sr_inrec_t *in,
                         sr_reject_t reason, const char *why)
{
        sr_reply_t r;

        memset(&r, 0, sizeof(r));
        if (in->topic == SR_TOPIC_COMMANDS &&
            sr_codec_peek_command_ids(w->codec, in->value, &r.command_id,
                                      &r.pipeline_run_id, NULL) == SR_OK) {
                r.accepted = false;
                r.reason = reason;
                snprintf(r.message, sizeof(r.message), "%s", why);
                r.occurred_at = in->timestamp;
                sr_worker__emit_reply(w, in->partition, &r);
                w->bs.rejections[reason]++;
        }
        dead_letter(w, in, sr_reject_name(reason), why);
}

/* An input over command.max.bytes (refused before it touches any state),
 * or one refused earlier in this poll after it was applied, is refused
 * (true). */
static bool refused_input(sr_worker_t *w, const sr_inrec_t *in)
{
        const refusal_t *r = refusal_of(w, w->cur_in);
        char msg[160];

        if (!sr_budget_input_fits(w->in_max, in->key.len, in->value.len)) {
                snprintf(msg, sizeof(msg), "record of %zu bytes (key and "
                         "value) is over command.max.bytes (%zu)",
                         in->key.len + in->value.len, w->in_max);
                refuse_input(w, in, SR_REJECT_TOO_LARGE, msg);
                return true;
        }
        if (r) {
                refuse_input(w, in, r->reason, r->why);
                return true;
        }
        return false;
}

static void apply_result(sr_worker_t *w, const sr_inrec_t *in);

/* What retention adds to the state machine's outputs (docs/guarantee.md,
 * "Retention"): a retired run's keys are deleted and tombstoned and its
 * marker written (its timer armed at forget_at); a forgotten marker's
 * keys deleted and tombstoned; a command for a retired run (refused,
 * its reply already emitted) dead-lettered. */
static void retention_outputs(sr_worker_t *w, const sr_inrec_t *in,
                              const sr_uuid_t *run)
{
        char key[SR_ENTITY_KEY_MAX];
        sr_errctx_t ec = { 0 };
        sr_changelog_t cl;
        sr_buf_t val = { 0 };

        if (w->out.for_retired) {
                w->bs.retired_inputs++;
                dead_letter(w, in, sr_reject_name(SR_REJECT_RUN_RETIRED),
                            w->out.reply.message);
                return;
        }
        sr_worker__changelog_del_run(w, in->partition, run);
        if (w->out.forget) {
                w->bs.forgotten++;
                return;
        }
        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_RETIRED;
        cl.u.retired = w->out.retired;
        if (sr_codec_encode_changelog(w->codec, &cl, &val, &ec) != SR_OK) {
                sr_worker__set_fatal(w, &ec, "encode retired run");
                return;
        }
        sr_worker__changelog_put(w, in->partition,
                                 sr_slice(key, sr_retired_key(run, key)),
                                 sr_buf_slice(&val));
        sr_buf_free(&val);
        if (w->out.retired.forget_at)
                sr_worker__timer_arm(w, in->partition,
                                     w->out.retired.forget_at, run);
        w->bs.retired++;
}

void sr_worker__on_command(sr_worker_t *w, const sr_inrec_t *in)
{
        char key[SR_ENTITY_KEY_MAX];
        sr_errctx_t ec = { 0 };
        sr_command_t cmd;
        sr_changelog_t cl;
        sr_slice_t prev;
        sr_buf_t val = { 0 };
        sr_run_t *run;
        sr_err_t err;
        size_t kn;
        int32_t id;

        if (refused_input(w, in))
                return;
        if (sr_codec_peek_schema_id(in->value, &id, NULL) == SR_OK &&
            sr_codec_kind_of(w->codec, id) == SR_SCHEMA_RESULT) {
                apply_result(w, in);
                return;
        }
        if (sr_codec_decode_command(w->codec, in->value, &cmd, &ec) != SR_OK) {
                const char *why = reason_of(ec.code);

                if (sr_codec_peek_schema_id(in->value, &id, NULL) == SR_OK &&
                    !sr_codec_kind_of(w->codec, id))
                        why = "unknown_schema";
                dead_letter(w, in, why, ec.msg);
                return;
        }
        if (cmd.kind == SR_CMD_DEFINITION) {
                sr_worker__on_definition(w, in, &cmd);
                goto out;
        }
        if (cmd.kind == SR_CMD_GROUP) {
                sr_worker__on_group(w, in, &cmd);
                goto out;
        }
        kn = sr_dedupe_key(&cmd.pipeline_run_id, &cmd.command_id, key);
        err = sr_worker__store_get(w, in->partition, sr_slice(key, kn),
                                   &prev);
        if (err && err != SR_ERR_NOT_FOUND)
                goto out; /* the batch is fatal */
        if (err == SR_OK) {
                /* Seen before: the second delivery gets the first reply. */
                if (sr_codec_decode_changelog(w->codec, prev, &cl, &ec) ==
                    SR_OK) {
                        if (cl.kind == SR_CL_DEDUPE && cl.u.dedupe.has_reply)
                                sr_worker__emit_reply(w, in->partition,
                                                      &cl.u.dedupe.reply);
                        /* another kind under a dedupe key (a defect) */
                        sr_changelog_fini(&cl);
                }
                w->bs.inputs[0][OUT_DUPLICATE]++;
                goto out;
        }
        run = sr_worker__batch_run(w, in->partition, &cmd.pipeline_run_id);
        if (!run)
                goto out;
        err = sr_fsm_apply_command(run, &cmd, in->timestamp, &w->fsm_opts,
                                   &w->out);
        if (run_faulted(w, run))
                goto out;
        if (err == SR_ERR_INTERNAL) {
                fsm_refused(w, w->out.illegal);
                goto out;
        }
        if (err) {
                sr_errctx_set(&ec, err, "apply command");
                sr_worker__set_fatal(w, &ec, "state machine");
                goto out;
        }
        if (cmd.kind == SR_CMD_CREATE_RUN && w->out.applied)
                sr_worker__check_created(w, in->partition, run);
        sr_worker__emit_outputs(w, in->partition);
        sr_worker__stored_run_check(w, in->partition, run, &cmd,
                                   in->timestamp);
        if (w->out.retire || w->out.forget || w->out.for_retired) {
                /* No dedupe entry: it would be a key of the retired run
                 * (a redelivery meets the same marker, or no run). */
                retention_outputs(w, in, &cmd.pipeline_run_id);
                goto out;
        }
        if (w->out.applied)
                w->bs.inputs[0][OUT_APPLIED]++;
        else if (w->out.has_reply && !w->out.reply.accepted &&
                 w->out.reply.reason != SR_REJECT_STALE_STAGE)
                w->bs.inputs[0][OUT_REJECTED]++;
        else
                w->bs.inputs[0][OUT_STALE]++;
        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_DEDUPE;
        cl.u.dedupe.input_id = cmd.command_id;
        cl.u.dedupe.pipeline_run_id = cmd.pipeline_run_id;
        cl.u.dedupe.has_reply = w->out.has_reply;
        cl.u.dedupe.reply = w->out.reply;
        if (sr_codec_encode_changelog(w->codec, &cl, &val, &ec) != SR_OK) {
                sr_worker__set_fatal(w, &ec, "encode dedupe");
                goto out;
        }
        sr_worker__changelog_put(w, in->partition, sr_slice(key, kn),
                                 sr_buf_slice(&val));
        sr_buf_free(&val);
out:
        sr_command_fini(&cmd);
}

/* A result found in the command log (forwarded there by on_result): apply
 * it in log order. */
static void apply_result(sr_worker_t *w, const sr_inrec_t *in)
{
        sr_errctx_t ec = { 0 };
        sr_result_t res;
        sr_run_t *run;
        sr_err_t err;

        if (sr_codec_decode_result(w->codec, in->value, &res, &ec) != SR_OK) {
                dead_letter(w, in, strstr(ec.msg, "command status") ?
                                           "unknown_command_status" :
                                           reason_of(ec.code),
                            ec.msg);
                return;
        }
        run = sr_worker__batch_run(w, in->partition, &res.pipeline_run_id);
        if (!run)
                return;
        err = sr_fsm_apply_result(run, &res, in->timestamp, &w->fsm_opts,
                                  &w->out);
        if (run_faulted(w, run))
                return;
        switch (err) {
        case SR_OK:
                sr_worker__emit_outputs(w, in->partition);
                sr_worker__stored_run_check(w, in->partition, run, NULL,
                                           in->timestamp);
                w->bs.inputs[1][w->out.stale ? OUT_STALE : OUT_APPLIED]++;
                if (w->out.stale)
                        SR_DEBUG("WORKER",
                                 "stale result partition=%" PRId32
                                 " offset=%" PRId64 " status=%s",
                                 in->partition, in->offset,
                                 res.command_status);
                break;
        case SR_ERR_NOT_FOUND:
                if (w->out.for_retired) {
                        w->bs.retired_inputs++;
                        dead_letter(w, in,
                                    sr_reject_name(SR_REJECT_RUN_RETIRED),
                                    "result for a retired pipeline run");
                        break;
                }
                dead_letter(w, in,
                            run->exists ? "unknown_target_run" :
                                          "unknown_pipeline_run",
                            run->exists ? "result for a target run that "
                                          "does not exist in its run" :
                                          "result for an unknown pipeline "
                                          "run");
                break;
        case SR_ERR_SCHEMA:
                dead_letter(w, in, "unknown_command_status",
                            "unknown command status");
                break;
        case SR_ERR_INTERNAL:
                fsm_refused(w, w->out.illegal);
                break;
        default:
                sr_errctx_set(&ec, err, "apply result");
                sr_worker__set_fatal(w, &ec, "state machine");
                break;
        }
}

/* A record of sr.results is validated, then sequenced into the command log
 * of its partition, unchanged. Applying every input in the order of one
 * log makes reprocessing after a crash replay exactly the original order
 * (commands and results of two topics have no common order of their own),
 * so it reproduces the same events with the same seq. A result forwarded
 * twice is harmless: results only move a target run forward. */
void sr_worker__on_result(sr_worker_t *w, const sr_inrec_t *in)
{
        char origin[48];
        sr_outrec_t rec = { 0 };
        sr_errctx_t ec = { 0 };
        sr_result_t res;
        int32_t id;

        if (refused_input(w, in))
                return;
        /* A record framed as a result is forwarded as it is: it is decoded
         * once, when applied, and dead-lettered from there if its body is
         * bad (the headers then name this topic, partition and offset).
         * Anything else is dead-lettered here with the decoder's reason. */
        if (!(sr_codec_peek_schema_id(in->value, &id, NULL) == SR_OK &&
              sr_codec_kind_of(w->codec, id) == SR_SCHEMA_RESULT)) {
                if (sr_codec_decode_result(w->codec, in->value, &res,
                                           &ec) == SR_OK) {
                        sr_errctx_set(&ec, SR_ERR_SCHEMA,
                                      "not a target-run result");
                }
                const char *why = reason_of(ec.code);

                if (strstr(ec.msg, "command status"))
                        why = "unknown_command_status";
                else if (sr_codec_peek_schema_id(in->value, &id, NULL) ==
                                 SR_OK &&
                         !sr_codec_kind_of(w->codec, id))
                        why = "unknown_schema";
                dead_letter(w, in, why, ec.msg);
                return;
        }
        snprintf(origin, sizeof(origin), "results/%" PRId32 "/%" PRId64,
                 in->partition, in->offset);
        rec.topic = SR_TOPIC_COMMANDS;
        rec.partition = in->partition;
        rec.key = in->key;
        rec.value = in->value;
        rec.timestamp = in->timestamp;
        rec.n_headers = 1;
        rec.headers[0].name = FORWARD_HEADER;
        rec.headers[0].value = sr_slice(origin, strlen(origin));
        sr_worker__emit(w, in->partition, SR_STORE_PHASE_EMIT, &rec);
}
