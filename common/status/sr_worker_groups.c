/* common/status/sr_worker_groups.c - device-group commands (Command
 * version 8, docs/definitions.md section 6): the worker that owns a
 * group's partition applies the directory's commands with the rules of
 * sr_groups.h.
 *
 * One command: its dedupe entry (G<group>/d/<command>), the group's record
 * (G<group>/g) and the members it names (G<group>/m/<device>) read by key
 * from the batch's transaction, the rules, then, when accepted, the
 * members' records and tombstones, the group's record (or its tombstone)
 * after them, the reply and the dedupe entry. Nothing is cached between
 * inputs and the state is only changelog records, so a command applied
 * again after a restore meets what it met the first time. No
 * DefinitionChanged event: the directory is input the platform feeds,
 * not a definition (docs/definitions.md section 6).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_groups.h"
#include "sr_log.h"
#include "sr_worker_int.h"

/* The record under @p key, decoded, of kind @p kind; false when there is
 * none (or another kind: a defect, read as none), or when the store
 * failed to read it (the batch is then fatal: sr_worker__store_get()). */
bool sr_worker__group_rec_get(sr_worker_t *w, int32_t part, sr_slice_t key,
                              sr_group_rec_kind_t kind, sr_group_record_t *r)
{
        sr_errctx_t ec = { 0 };
        sr_changelog_t cl;
        sr_slice_t v;

        if (sr_worker__store_get(w, part, key, &v) != SR_OK ||
            sr_codec_decode_changelog(w->codec, v, &cl, &ec) != SR_OK)
                return false;
        if (cl.kind != SR_CL_GROUP || cl.u.grp.kind != kind) {
                sr_changelog_fini(&cl);
                return false;
        }
        *r = cl.u.grp;
        return true;
}

/* Group @p group from the directory (exists false when none). */
bool sr_worker__group_get(sr_worker_t *w, int32_t part,
                          const sr_uuid_t *group, sr_group_t *g)
{
        char key[SR_GROUP_KEY_LEN];
        sr_group_record_t r;

        memset(g, 0, sizeof(*g));
        if (!sr_worker__group_rec_get(w, part,
                                      sr_slice(key, sr_group_key(group, key)),
                                      SR_GREC_GROUP, &r))
                return false;
        *g = r.group;
        return true;
}

void sr_worker__group_rec_put(sr_worker_t *w, int32_t part, sr_slice_t key,
                              const sr_group_record_t *r)
{
        sr_errctx_t ec = { 0 };
        sr_changelog_t cl;
        sr_buf_t val = { 0 };

        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_GROUP;
        cl.u.grp = *r;
        if (sr_codec_encode_changelog(w->codec, &cl, &val, &ec) != SR_OK) {
                sr_worker__set_fatal(w, &ec, "encode device group");
                return;
        }
        sr_worker__changelog_put(w, part, key, sr_buf_slice(&val));
        sr_buf_free(&val);
}

/* The records of an accepted directory command: members first, then the
 * group's record or tombstone. */
static void group_changes(sr_worker_t *w, int32_t part, const sr_grpcmd_t *c,
                          const sr_group_t *g, const sr_groups_out_t *o)
{
        char key[SR_GROUP_KEY_LEN];
        sr_group_record_t r;

        memset(&r, 0, sizeof(r));
        memcpy(r.enterprise_id, c->enterprise_id, sizeof(r.enterprise_id));
        r.kind = SR_GREC_MEMBER;
        for (uint32_t i = 0; i < o->n_put && !w->fatal && !w->redo; i++) {
                size_t n = sr_group_member_key(&c->group_id,
                                               &o->put[i].device_id, key);

                r.member = o->put[i];
                sr_worker__group_rec_put(w, part, sr_slice(key, n), &r);
        }
        for (uint32_t i = 0; i < o->n_del && !w->fatal && !w->redo; i++)
                sr_worker__changelog_del(
                        w, part,
                        sr_slice(key, sr_group_member_key(&c->group_id,
                                                          &o->del[i], key)));
        if (w->fatal || w->redo)
                return;
        if (o->group_deleted) {
                sr_worker__changelog_del(
                        w, part, sr_slice(key, sr_group_key(&c->group_id,
                                                            key)));
        } else if (o->group_put) {
                memset(&r.member, 0, sizeof(r.member));
                r.kind = SR_GREC_GROUP;
                r.group = *g;
                sr_worker__group_rec_put(
                        w, part, sr_slice(key, sr_group_key(&c->group_id,
                                                            key)), &r);
        }
}

/* The members a member command names, read by key (found[i] NULL when
 * not a member). */
typedef struct members_read {
        sr_def_group_member_t *got;
        const sr_def_group_member_t **found;
} members_read_t;

static bool members_read(sr_worker_t *w, int32_t part, const sr_grpcmd_t *c,
                         members_read_t *mr)
{
        char key[SR_GROUP_KEY_LEN];
        sr_group_record_t r;

        memset(mr, 0, sizeof(*mr));
        if (c->kind != SR_GRPCMD_PUT_MEMBERS &&
            c->kind != SR_GRPCMD_REMOVE_MEMBERS)
                return true;
        if (!c->n_items)
                return true;
        mr->got = calloc(c->n_items, sizeof(*mr->got));
        mr->found = calloc(c->n_items, sizeof(*mr->found));
        if (!mr->got || !mr->found)
                return false;
        for (uint32_t i = 0; i < c->n_items; i++) {
                size_t n = sr_group_member_key(&c->group_id,
                                               &c->items[i].device_id, key);

                if (sr_worker__group_rec_get(w, part, sr_slice(key, n),
                                             SR_GREC_MEMBER, &r)) {
                        mr->got[i] = r.member;
                        mr->found[i] = &mr->got[i];
                }
        }
        return true;
}

static void on_directory(sr_worker_t *w, const sr_inrec_t *in,
                         const sr_command_t *cmd)
{
        const sr_grpcmd_t *c = cmd->u.grp;
        int32_t part = in->partition;
        char key[SR_GROUP_KEY_LEN];
        sr_errctx_t ec = { 0 };
        members_read_t mr;
        sr_groups_out_t out;
        sr_reply_t reply;
        sr_group_t g;
        sr_err_t err;

        sr_group_dedupe_key(&c->group_id, &cmd->command_id, key);
        if (sr_worker__def_seen(w, part, key))
                return;
        memset(&out, 0, sizeof(out));
        memset(&reply, 0, sizeof(reply));
        sr_worker__group_get(w, part, &c->group_id, &g);
        if (!members_read(w, part, c, &mr)) {
                sr_errctx_set(&ec, SR_ERR_NOMEM, "group members");
                sr_worker__set_fatal(w, &ec, "group command");
                goto out;
        }
        err = sr_groups_apply(&g, c, mr.found, in->timestamp,
                              (uint32_t)w->conf->definition_chunk_targets,
                              &out);
        if (err) {
                sr_errctx_set(&ec, err, "%s", sr_grpcmd_name(c->kind));
                sr_worker__set_fatal(w, &ec, "device group rules");
                goto out;
        }
        reply.command_id = cmd->command_id;
        reply.pipeline_run_id = cmd->pipeline_run_id;
        reply.occurred_at = in->timestamp;
        reply.accepted = out.accepted;
        reply.reason = out.reason;
        snprintf(reply.message, sizeof(reply.message), "%s", out.message);
        reply.has_def = true;
        reply.def.entity_kind = SR_REPLY_KIND_DEVICE_GROUP;
        reply.def.entity_id = c->group_id;
        reply.def.version = out.version;
        reply.def.created = out.created;
        reply.def.added = out.added;
        reply.def.skipped = out.skipped;
        if (out.accepted)
                group_changes(w, part, c, &g, &out);
        sr_worker__def_answer(w, part, key, cmd, &reply);
out:
        free(mr.got);
        free(mr.found);
        sr_groups_out_fini(&out);
}

void sr_worker__on_group(sr_worker_t *w, const sr_inrec_t *in,
                         const sr_command_t *cmd)
{
        switch (cmd->u.grp->kind) {
        case SR_GRPCMD_PUT_GROUP:
        case SR_GRPCMD_PUT_MEMBERS:
        case SR_GRPCMD_REMOVE_MEMBERS:
        case SR_GRPCMD_DELETE_GROUP:
                on_directory(w, in, cmd);
                return;
        case SR_GRPCMD_SNAPSHOT:
                sr_worker__on_snapshot(w, in, cmd);
                return;
        case SR_GRPCMD_MEMBERS:
                sr_worker__on_group_members(w, in, cmd);
                return;
        case SR_GRPCMD_DROP_COPIES:
                sr_worker__drop_copies(w, in->partition,
                                       &cmd->u.grp->pipeline_id,
                                       &cmd->u.grp->pipeline_run_id,
                                       cmd->enterprise_id,
                                       cmd->u.grp->chunk, in->timestamp);
                w->bs.inputs[0][OUT_APPLIED]++;
                return;
        default:
                w->bs.inputs[0][OUT_STALE]++;
                return;
        }
}
