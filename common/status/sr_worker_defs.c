/* common/status/sr_worker_defs.c - definition commands (Command version 5,
 * docs/definitions.md sections 1-4): the worker that owns a pipeline's
 * partition applies them with the rules of sr_defs.h.
 *
 * One command: its dedupe entry (P<pipeline>/d/<command>), the pipeline's
 * aggregate loaded from the snapshot (every kind but targets: a target is
 * read by key, so no input reads a whole list), the targets it names read
 * by key, the rules, then, when accepted, one changelog record (or a
 * tombstone) and one definition event per change, in order, the
 * pipeline's record last (its last_seq), the reply and the dedupe entry.
 * The aggregate is loaded afresh for every command from the batch's
 * transaction, which holds every earlier write of the batch: nothing is
 * cached between inputs, so a command applied again after a restore meets
 * exactly the aggregate it met the first time (sr_defs_loaded()).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_defs.h"
#include "sr_log.h"
#include "sr_worker_int.h"

typedef struct defs_load {
        sr_worker_t *w;
        sr_defs_t *d;
        sr_err_t err;
        sr_errctx_t ec;
} defs_load_t;

static int load_one(sr_slice_t key, sr_slice_t value, void *arg)
{
        defs_load_t *dl = arg;
        sr_changelog_t cl;

        /* "P<p>/r/<run>/...": a run's copies of its device groups, under
         * the active run's key (sr_worker_snap.c), not the aggregate's */
        if (key.len != SR_DEF_KEY_LEN)
                return 0;
        dl->err = sr_codec_decode_changelog(dl->w->codec, value, &cl, &dl->ec);
        if (dl->err)
                return 1;
        if (cl.kind != SR_CL_DEF || cl.u.def.kind == SR_DEF_TARGET) {
                sr_changelog_fini(&cl);
                dl->err = sr_errctx_set(&dl->ec, SR_ERR_CORRUPT,
                                        "not a definition entity under a "
                                        "definition key");
                return 1;
        }
        dl->err = sr_defs_load_record(dl->d, &cl.u.def);
        if (dl->err)
                sr_errctx_set(&dl->ec, dl->err, "load definition");
        sr_changelog_fini(&cl);
        return dl->err ? 1 : 0;
}

/* The aggregate of @p pipeline: one scan per kind of entity it holds
 * ("P<pipeline>/<letter>/"), so the keys of its targets are never read. */
sr_err_t sr_worker__defs_load(sr_worker_t *w, int32_t part,
                              const sr_uuid_t *pipeline, sr_defs_t *d,
                              sr_errctx_t *ec)
{
        defs_load_t dl = { w, d, SR_OK, { 0 } };
        char prefix[SR_DEF_KEY_LEN];
        size_t n = sr_def_key_prefix(pipeline, prefix);
        sr_err_t err = SR_OK;

        for (int k = 0; k < SR_DEF__COUNT && !err; k++) {
                if (k == SR_DEF_TARGET)
                        continue;
                prefix[n] = sr_def_kind_letter((sr_def_kind_t)k);
                prefix[n + 1] = '/';
                err = sr_store_scan(w->txn, part, sr_slice(prefix, n + 2),
                                    load_one, &dl, ec);
                if (!err && dl.err) {
                        *ec = dl.ec;
                        err = dl.err;
                }
        }
        if (err)
                sr_defs_fini(d);
        else
                sr_defs_loaded(d);
        return err;
}

/* A stored target by key, decoded into @p t; false when there is none. */
bool sr_worker__def_target_get(sr_worker_t *w, int32_t part,
                               const sr_uuid_t *pipeline, const sr_uuid_t *id,
                               sr_def_target_t *t)
{
        char key[SR_DEF_KEY_LEN];
        sr_errctx_t ec = { 0 };
        sr_changelog_t cl;
        sr_slice_t v;

        sr_def_key(SR_DEF_TARGET, pipeline, id, key);
        if (sr_worker__store_get(w, part, sr_slice(key, SR_DEF_KEY_LEN),
                                 &v) != SR_OK)
                return false; /* none, or the batch is fatal */
        if (sr_codec_decode_changelog(w->codec, v, &cl, &ec) != SR_OK)
                return false;
        if (cl.kind != SR_CL_DEF || cl.u.def.kind != SR_DEF_TARGET) {
                sr_changelog_fini(&cl);
                return false;
        }
        *t = cl.u.def.u.target; /* its strings move to t */
        memset(&cl.u.def.u.target, 0, sizeof(cl.u.def.u.target));
        sr_changelog_fini(&cl);
        return true;
}

/* The targets a target command names, read by key (sr_defs_targets_in_t:
 * found[i] NULL when not stored). */
typedef struct targets_read {
        sr_def_target_t *got;
        const sr_def_target_t **found;
        uint32_t n;
} targets_read_t;

static bool targets_read(sr_worker_t *w, int32_t part, const sr_defcmd_t *c,
                         targets_read_t *tr)
{
        uint32_t n = 0;

        memset(tr, 0, sizeof(*tr));
        if (c->kind == SR_DEFCMD_ADD_TARGETS)
                n = c->u.add.n_items;
        else if (c->kind == SR_DEFCMD_UPDATE_TARGET ||
                 c->kind == SR_DEFCMD_REMOVE_TARGET)
                n = 1;
        if (!n)
                return true;
        tr->got = calloc(n, sizeof(*tr->got));
        tr->found = calloc(n, sizeof(*tr->found));
        if (!tr->got || !tr->found)
                return false;
        tr->n = n;
        for (uint32_t i = 0; i < n; i++) {
                sr_uuid_t id;

                if (c->kind == SR_DEFCMD_ADD_TARGETS)
                        sr_def_target_id(&c->u.add.target_list_id,
                                         &c->u.add.items[i].device_id, &id);
                else
                        id = c->u.target.target_id;
                if (sr_worker__def_target_get(w, part, &c->pipeline_id, &id,
                                              &tr->got[i]))
                        tr->found[i] = &tr->got[i];
        }
        return true;
}

static void targets_free(targets_read_t *tr)
{
        for (uint32_t i = 0; tr->got && i < tr->n; i++)
                sr_def_target_fini(&tr->got[i]);
        free(tr->got);
        free(tr->found);
}

/* Tombstone one key in the snapshot and on the changelog. */
void sr_worker__changelog_del(sr_worker_t *w, int32_t part, sr_slice_t key)
{
        sr_errctx_t ec = { 0 };

        if (w->fatal || w->redo)
                return;
        if (sr_store_del(w->txn, part, key, &ec) != SR_OK) {
                if (ec.code == SR_ERR_MAP_FULL)
                        w->fatal = SR_ERR_MAP_FULL;
                else
                        sr_worker__set_fatal(w, &ec, "store del");
                return;
        }
        sr_worker__changelog_tombstone(w, part, key);
}

static void put_record(sr_worker_t *w, int32_t part, const char *key,
                       const sr_def_record_t *r)
{
        sr_errctx_t ec = { 0 };
        sr_changelog_t cl;
        sr_buf_t val = { 0 };

        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_DEF;
        cl.u.def = *r; /* borrowed */
        if (sr_codec_encode_changelog(w->codec, &cl, &val, &ec) != SR_OK) {
                sr_worker__set_fatal(w, &ec, "encode definition");
                return;
        }
        sr_worker__changelog_put(w, part, sr_slice(key, SR_DEF_KEY_LEN),
                                 sr_buf_slice(&val));
        sr_buf_free(&val);
}

/* The records of an accepted command's changes, in order, then the
 * pipeline's record (its last_seq and counters), and one event per
 * change. */
void sr_worker__def_changes(sr_worker_t *w, int32_t part, const sr_defs_t *d,
                            const sr_defs_out_t *o, const sr_command_t *cmd,
                            int64_t ts)
{
        sr_def_change_rec_t pc = { .kind = SR_DEF_PIPELINE,
                                   .target_index = -1 };
        char key[SR_DEF_KEY_LEN];
        sr_errctx_t ec = { 0 };
        sr_def_record_t r;
        sr_err_t err;

        for (uint32_t i = 0; i < o->n_changes && !w->fatal && !w->redo;
             i++) {
                const sr_def_change_rec_t *c = &o->changes[i];
                sr_def_event_t ev;

                sr_def_key(c->kind, &d->p.id, &c->id, key);
                err = sr_defs_record_of(d, o, c, &r);
                if (err == SR_ERR_NOT_FOUND) {
                        sr_worker__changelog_del(w, part,
                                                 sr_slice(key,
                                                          SR_DEF_KEY_LEN));
                } else if (err == SR_OK) {
                        put_record(w, part, key, &r);
                        sr_def_record_fini(&r);
                } else {
                        sr_errctx_set(&ec, err, "definition record");
                        sr_worker__set_fatal(w, &ec, "definition record");
                        return;
                }
                memset(&ev, 0, sizeof(ev));
                ev.seq = c->seq;
                ev.pipeline_id = d->p.id;
                sr_def_event_id(&d->p.id, c->seq, &ev.event_id);
                memcpy(ev.enterprise_id, d->p.enterprise_id,
                       sizeof(ev.enterprise_id));
                ev.entity_type = c->kind;
                ev.entity_id = c->id;
                ev.parent_id = c->parent_id;
                ev.change = c->change;
                ev.version = c->version;
                ev.occurred_at = ts;
                ev.causation_id = cmd->command_id;
                sr_worker__emit_def_event(w, part, &ev);
        }
        pc.id = d->p.id;
        sr_def_key(SR_DEF_PIPELINE, &d->p.id, &d->p.id, key);
        if (!w->fatal && !w->redo &&
            sr_defs_record_of(d, o, &pc, &r) == SR_OK) {
                put_record(w, part, key, &r);
                sr_def_record_fini(&r);
        }
}

bool sr_worker__def_seen(sr_worker_t *w, int32_t part, const char *key)
{
        sr_errctx_t ec = { 0 };
        sr_changelog_t cl;
        sr_slice_t prev;

        switch (sr_worker__store_get(w, part, sr_slice(key, SR_DEF_KEY_LEN),
                                     &prev)) {
        case SR_OK:
                break;
        case SR_ERR_NOT_FOUND:
                return false;
        default:
                return true; /* the batch is fatal: apply nothing */
        }
        /* Seen before: the second delivery gets the first reply. */
        if (sr_codec_decode_changelog(w->codec, prev, &cl, &ec) == SR_OK) {
                if (cl.kind == SR_CL_DEDUPE && cl.u.dedupe.has_reply)
                        sr_worker__emit_reply(w, part, &cl.u.dedupe.reply);
                sr_changelog_fini(&cl);
        }
        w->bs.inputs[0][OUT_DUPLICATE]++;
        return true;
}

/* A command's outcome: counted applied or rejected, its reply sent, and
 * its dedupe entry with that reply under @p key (a definition's or a
 * device group's: SR_DEF_KEY_LEN bytes both). */
void sr_worker__def_answer(sr_worker_t *w, int32_t part, const char *key,
                           const sr_command_t *cmd, const sr_reply_t *reply)
{
        sr_errctx_t ec = { 0 };
        sr_changelog_t cl;
        sr_buf_t val = { 0 };

        if (reply->accepted) {
                w->bs.inputs[0][OUT_APPLIED]++;
        } else {
                w->bs.inputs[0][OUT_REJECTED]++;
                w->bs.rejections[reply->reason]++;
        }
        sr_worker__emit_reply(w, part, reply);
        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_DEDUPE;
        cl.u.dedupe.input_id = cmd->command_id;
        cl.u.dedupe.pipeline_run_id = cmd->pipeline_run_id;
        cl.u.dedupe.has_reply = true;
        cl.u.dedupe.reply = *reply;
        if (sr_codec_encode_changelog(w->codec, &cl, &val, &ec) != SR_OK) {
                sr_worker__set_fatal(w, &ec, "encode dedupe");
                return;
        }
        sr_worker__changelog_put(w, part, sr_slice(key, SR_DEF_KEY_LEN),
                                 sr_buf_slice(&val));
        sr_buf_free(&val);
}

void sr_worker__on_definition(sr_worker_t *w, const sr_inrec_t *in,
                              const sr_command_t *cmd)
{
        const sr_defcmd_t *dc = cmd->u.def;
        int32_t part = in->partition;
        char key[SR_DEF_KEY_LEN];
        sr_errctx_t ec = { 0 };
        sr_defs_opts_t opts;
        targets_read_t tr;
        sr_defs_targets_in_t tin;
        sr_defs_out_t out;
        sr_defs_t d;
        sr_reply_t reply;
        sr_command_t create;
        bool has_create = false;
        sr_err_t err;

        sr_def_dedupe_key(&cmd->pipeline_run_id, &cmd->command_id, key);
        if (sr_worker__def_seen(w, part, key))
                return;
        memset(&d, 0, sizeof(d));
        memset(&out, 0, sizeof(out));
        memset(&reply, 0, sizeof(reply));
        memset(&opts, 0, sizeof(opts));
        opts.max = w->fsm_opts.max;
        /* definition.chunk.targets: the gateway's targets-bulk sends
         * chunks of this size, so both sides hold one bound */
        opts.chunk_targets = (uint32_t)w->conf->definition_chunk_targets;
        reply.command_id = cmd->command_id;
        reply.pipeline_run_id = cmd->pipeline_run_id;
        reply.occurred_at = in->timestamp;
        reply.has_def = true;
        if (sr_worker__defs_load(w, part, &cmd->pipeline_run_id, &d, &ec) !=
            SR_OK) {
                char op[96], pid[SR_UUID_STR_LEN + 1];

                sr_uuid_fmt(&cmd->pipeline_run_id, pid);
                snprintf(op, sizeof(op), "load pipeline %s of partition %"
                         PRId32, pid, part);
                sr_worker__set_fatal(w, &ec, op);
                return;
        }
        if (!targets_read(w, part, dc, &tr)) {
                sr_errctx_set(&ec, SR_ERR_NOMEM, "definition targets");
                sr_worker__set_fatal(w, &ec, "definition command");
                goto out;
        }
        tin.n = tr.n;
        tin.found = tr.found;
        if (dc->kind == SR_DEFCMD_FILL_STEP) {
                /* The owner's own step: no reply, no rules, and no dedupe
                 * entry (one a chunk would grow the pipeline's keys with
                 * every run, as no definition's entry retires). A second
                 * delivery during the fill sends the same commands again,
                 * which their owners deduplicate (a second chain of steps
                 * that ends with the fill: docs/definitions.md section 5);
                 * after the fill it is stale. */
                if (!sr_worker__fill_step(w, part, &d, dc, cmd,
                                          in->timestamp))
                        w->bs.inputs[0][OUT_STALE]++;
                else
                        w->bs.inputs[0][OUT_APPLIED]++;
                goto out;
        }
        if (dc->kind == SR_DEFCMD_START_PIPELINE_RUN && d.exists &&
            !sr_defs_active_run(&d, &dc->u.run.pipeline_run_id)) {
                sr_runspec_t spec;
                sr_reject_t why;
                char msg[8];

                /* The skeleton is resolved before the rules mark the run
                 * filling (after which resolving is refused); a refusal
                 * here the rules give again, with their message. */
                why = SR_REJECT_NONE;
                if (sr_defs_resolve(&d, &spec, &why, msg, sizeof(msg))) {
                        has_create = true;
                        if (!sr_worker__run_create(
                                    w, &d, &dc->u.run.pipeline_run_id,
                                    (int32_t)(d.p.runs_started + 1), &spec,
                                    in->timestamp, &create, &out)) {
                                out.entity_kind = SR_DEF_ACTIVE_RUN;
                                out.entity_id = dc->u.run.pipeline_run_id;
                                goto answer;
                        }
                } else if (why == SR_REJECT_INTERNAL) {
                        sr_errctx_set(&ec, SR_ERR_NOMEM, "resolve the run");
                        sr_worker__set_fatal(w, &ec, "StartPipelineRun");
                        goto out;
                }
        }
        err = sr_defs_apply(&d, dc, &tin, in->timestamp, &opts, &out);
        if (err) {
                sr_errctx_set(&ec, err, "%s", sr_defcmd_name(dc->kind));
                sr_worker__set_fatal(w, &ec, "definition rules");
                goto out;
        }
answer:
        reply.accepted = out.accepted;
        reply.reason = out.reason;
        snprintf(reply.message, sizeof(reply.message), "%s", out.message);
        reply.def.entity_kind = (int)out.entity_kind;
        reply.def.entity_id = out.entity_id;
        reply.def.version = out.entity_version;
        reply.def.seq = d.exists ? d.p.last_seq : 0;
        reply.def.created = out.created;
        reply.def.added = out.added;
        reply.def.skipped = out.skipped;
        if (out.accepted && out.n_changes)
                sr_worker__def_changes(w, part, &d, &out, cmd,
                                       in->timestamp);
        if (out.accepted && has_create && out.n_changes &&
            !sr_worker__snap_start(w, part, &d, &dc->u.run.pipeline_run_id,
                                   in->timestamp))
                /* the CreateRun alone, to the run's owner: it sends the
                 * fill's first step once it has created the run (a run
                 * linking device groups: once their copies are closed,
                 * sr_worker_snap.c) */
                sr_worker__emit_command(w, part, &create, -1);
        if (out.accepted && dc->kind == SR_DEFCMD_RUN_ENDED)
                /* the run's copies of its device groups go too */
                sr_worker__drop_copies(w, part, &cmd->pipeline_run_id,
                                       &dc->u.run.pipeline_run_id,
                                       cmd->enterprise_id, 0, in->timestamp);
        sr_worker__def_answer(w, part, key, cmd, &reply);
out:
        if (has_create)
                sr_command_fini(&create);
        targets_free(&tr);
        sr_defs_out_fini(&out);
        sr_defs_fini(&d);
}
