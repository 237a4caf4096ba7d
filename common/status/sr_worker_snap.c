/* common/status/sr_worker_snap.c - a run start's copies of its linked
 * device groups (docs/definitions.md section 6, "Read against the fill as
 * built", steps 1-3 and 5):
 *
 * - the pipeline's owner, on an accepted StartPipelineRun whose stages link
 *   device groups, sends SnapshotGroup keyed by each distinct group and not
 *   yet the CreateRun (snap_start);
 * - the group's owner answers each step with one GroupMembers chunk of the
 *   members after the step's cursor, keyed by the pipeline, and the next
 *   step to its own partition, or the closing GroupMembers (count and
 *   digest); a group unknown to the directory, or another enterprise's,
 *   answers an empty closing record (on_snapshot). No stored state: the
 *   step carries the cursor, the count and the digest in progress, as a
 *   FillStep does;
 * - the pipeline's owner stores each chunk's members as the run's copy
 *   (P<p>/r/<run>/m/<group>/<device>) and its progress in
 *   P<p>/r/<run>/s/<group> (chunks, count, the digest in progress), so a
 *   chunk met again (a replay, a second chain after a crash) is stale;
 *   the closing record is checked against the progress (else the start
 *   ends invalid with RunEnded, as a refused CreateRun does), and when
 *   the last group's copy closes it sends the CreateRun
 *   (on_group_members);
 * - RunEnded deletes the run's copies in steps of at most
 *   DROP_STEP_FACTOR x definition.chunk.targets keys, a DropRunCopies to
 *   its own partition while keys remain (drop_copies).
 *
 * Every command sent has an id derived from what it carries; the steps and
 * the chunks leave no dedupe entry (the progress record makes a chunk's
 * second delivery stale).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_groups.h"
#include "sr_log.h"
#include "sr_sha256.h"
#include "sr_worker_int.h"

/* Keys one deletion step removes, per definition.chunk.targets. */
#define DROP_STEP_FACTOR 4

/* ------------------------------------------------------------ sending */

static void grp_send(sr_worker_t *w, int32_t part, sr_command_t *c,
                     int32_t to)
{
        sr_worker__emit_command(w, part, c, to);
        sr_command_fini(c);
}

/* @p h's state into @p dst (64 bytes: the hash of whole 32-byte digests
 * leaves at most one pending, 32 + 32). @returns its length. */
static uint32_t save_state(const sr_sha256_ctx_t *h, uint8_t dst[64])
{
        uint8_t saved[SR_SHA256_SAVED_MAX];
        size_t n = sr_sha256_save(h, saved);

        n = n > 64 ? 64 : n;
        memcpy(dst, saved, n);
        return (uint32_t)n;
}

static void nomem(sr_worker_t *w, const char *what)
{
        sr_errctx_t ec = { 0 };

        sr_errctx_set(&ec, SR_ERR_NOMEM, "%s", what);
        sr_worker__set_fatal(w, &ec, "device group copy");
}

/* SnapshotGroup of @p run's copy of @p group from @p after (chunk, count,
 * digest in progress @p h), keyed by the group, to partition @p to. */
static void send_snapshot(sr_worker_t *w, int32_t part,
                          const sr_uuid_t *group, const sr_uuid_t *pipeline,
                          const sr_uuid_t *run, const char *enterprise,
                          const sr_uuid_t *after, uint32_t chunk,
                          uint64_t count, const sr_sha256_ctx_t *h,
                          int64_t ts, int32_t to)
{
        char rid[SR_UUID_STR_LEN + 1], gid[SR_UUID_STR_LEN + 1],
                aid[SR_UUID_STR_LEN + 1];
        sr_command_t c;
        sr_grpcmd_t *g;
        sr_uuid_t id;

        sr_uuid_fmt(run, rid);
        sr_uuid_fmt(group, gid);
        sr_uuid_fmt(after, aid);
        sr_uuid_v5(&id, &sr_ns, "%s/group/%s/snapshot/%s/%" PRIu32, rid, gid,
                   aid, chunk);
        g = sr_grpcmd_new(&c, SR_GRPCMD_SNAPSHOT, group, &id, enterprise,
                          ts);
        if (!g) {
                nomem(w, "snapshot step");
                return;
        }
        g->pipeline_id = *pipeline;
        g->pipeline_run_id = *run;
        g->after = *after;
        g->chunk = chunk;
        g->count = count;
        g->seal_state_len = save_state(h, g->seal_state);
        grp_send(w, part, &c, to);
}

bool sr_worker__snap_start(sr_worker_t *w, int32_t part, const sr_defs_t *d,
                           const sr_uuid_t *run, int64_t ts)
{
        sr_uuid_t *groups, nil = { { 0 } };
        sr_sha256_ctx_t h;
        bool oom;
        uint32_t n = sr_defs_linked_groups(d, NULL, &groups, &oom);

        if (oom) {
                nomem(w, "linked groups");
                return true; /* the batch is lost anyway */
        }
        sr_sha256_init(&h);
        for (uint32_t i = 0; i < n; i++)
                send_snapshot(w, part, &groups[i], &d->p.id, run,
                              d->p.enterprise_id, &nil, 0, 0, &h, ts, -1);
        free(groups);
        return n > 0;
}

/* ------------------------------------------------------------ the group */

typedef struct snap_scan {
        sr_worker_t *w;
        sr_uuid_t after, last;
        sr_def_group_member_t *items;
        uint32_t n, max;
        bool more;
        sr_err_t err;
        sr_errctx_t ec;
} snap_scan_t;

static int snap_one(sr_slice_t key, sr_slice_t value, void *arg)
{
        snap_scan_t *ss = arg;
        sr_changelog_t cl;
        sr_uuid_t id;

        if (key.len != SR_GROUP_KEY_LEN ||
            !sr_uuid_parse((const char *)key.ptr + key.len - SR_UUID_STR_LEN,
                           SR_UUID_STR_LEN, &id)) {
                ss->err = sr_errctx_set(&ss->ec, SR_ERR_CORRUPT,
                                        "a key of another form among a "
                                        "group's members");
                return 1;
        }
        if (!sr_uuid_is_nil(&ss->after) && sr_uuid_eq(&id, &ss->after))
                return 0; /* the cursor: sent by the step before */
        if (ss->n == ss->max) {
                ss->more = true;
                return 1;
        }
        ss->err = sr_codec_decode_changelog(ss->w->codec, value, &cl, &ss->ec);
        if (ss->err)
                return 1;
        if (cl.kind != SR_CL_GROUP || cl.u.grp.kind != SR_GREC_MEMBER) {
                sr_changelog_fini(&cl);
                ss->err = sr_errctx_set(&ss->ec, SR_ERR_CORRUPT,
                                        "not a member under a member key");
                return 1;
        }
        ss->items[ss->n++] = cl.u.grp.member;
        ss->last = id;
        return 0;
}

/* GroupMembers of @p g's run: a chunk of @p n items, or (@p closing) the
 * closing record of @p chunk chunks, @p count members and @p digest. */
static void send_members(sr_worker_t *w, int32_t part, const sr_grpcmd_t *s,
                         const char *enterprise, uint32_t chunk,
                         const sr_def_group_member_t *items, uint32_t n,
                         bool closing, uint64_t count,
                         const uint8_t digest[SR_DIGEST_LEN], int64_t ts)
{
        char rid[SR_UUID_STR_LEN + 1], gid[SR_UUID_STR_LEN + 1];
        sr_command_t c;
        sr_grpcmd_t *g;
        sr_uuid_t id;

        sr_uuid_fmt(&s->pipeline_run_id, rid);
        sr_uuid_fmt(&s->group_id, gid);
        if (closing)
                sr_uuid_v5(&id, &sr_ns, "%s/group/%s/close", rid, gid);
        else
                sr_uuid_v5(&id, &sr_ns, "%s/group/%s/chunk/%" PRIu32, rid,
                           gid, chunk);
        g = sr_grpcmd_new(&c, SR_GRPCMD_MEMBERS, &s->pipeline_id, &id,
                          enterprise, ts);
        if (!g || (n && !(g->items = malloc(n * sizeof(*items))))) {
                if (g)
                        sr_command_fini(&c);
                nomem(w, "group members");
                return;
        }
        g->group_id = s->group_id;
        g->pipeline_run_id = s->pipeline_run_id;
        g->chunk = chunk;
        if (n)
                memcpy(g->items, items, n * sizeof(*items));
        g->n_items = n;
        g->closing = closing;
        g->count = count;
        if (closing)
                memcpy(g->digest, digest, SR_DIGEST_LEN);
        grp_send(w, part, &c, -1);
}

void sr_worker__on_snapshot(sr_worker_t *w, const sr_inrec_t *in,
                            const sr_command_t *cmd)
{
        const sr_grpcmd_t *s = cmd->u.grp;
        char prefix[SR_GROUP_KEY_LEN], from[SR_GROUP_KEY_LEN];
        uint8_t digest[SR_DIGEST_LEN];
        int32_t part = in->partition;
        uint32_t chunk = s->chunk;
        uint64_t count = s->count;
        sr_errctx_t ec = { 0 };
        snap_scan_t ss;
        sr_sha256_ctx_t h;
        sr_group_t g;

        if (!sr_sha256_restore(&h, s->seal_state, s->seal_state_len,
                               (uint64_t)chunk * SR_SHA256_LEN)) {
                w->bs.inputs[0][OUT_STALE]++; /* not a step we send */
                return;
        }
        memset(&ss, 0, sizeof(ss));
        ss.w = w;
        ss.after = s->after;
        ss.max = (uint32_t)w->conf->definition_chunk_targets;
        ss.items = calloc(ss.max ? ss.max : 1, sizeof(*ss.items));
        if (!ss.items) {
                nomem(w, "snapshot step");
                return;
        }
        /* A group unknown to the directory, or another enterprise's,
         * gives nothing: a link may come before the directory's feed. */
        if (sr_worker__group_get(w, part, &s->group_id, &g) &&
            !strcmp(g.enterprise_id, cmd->enterprise_id)) {
                size_t np = sr_group_members_prefix(&s->group_id, prefix);

                sr_group_member_key(&s->group_id, &s->after, from);
                if (sr_store_scan_from(w->txn, part, sr_slice(prefix, np),
                                       sr_uuid_is_nil(&s->after) ?
                                               sr_slice(prefix, np) :
                                               sr_slice(from,
                                                        SR_GROUP_KEY_LEN),
                                       snap_one, &ss, &ec) != SR_OK ||
                    ss.err) {
                        sr_worker__set_fatal(w, ss.err ? &ss.ec : &ec,
                                             "group snapshot: members");
                        goto out;
                }
        }
        if (ss.n) {
                sr_group_chunk_digest(ss.items, ss.n, digest);
                send_members(w, part, s, cmd->enterprise_id, chunk, ss.items,
                             ss.n, false, 0, NULL, in->timestamp);
                sr_sha256_update(&h, digest, SR_DIGEST_LEN);
                chunk++;
                count += ss.n;
        }
        if (ss.more) {
                send_snapshot(w, part, &s->group_id, &s->pipeline_id,
                              &s->pipeline_run_id, cmd->enterprise_id,
                              &ss.last, chunk, count, &h, in->timestamp, part);
        } else {
                sr_sha256_final(&h, digest);
                send_members(w, part, s, cmd->enterprise_id, chunk, NULL, 0,
                             true, count, digest, in->timestamp);
        }
        w->bs.inputs[0][OUT_APPLIED]++;
out:
        free(ss.items);
}

/* ------------------------------------------------------------ the copy */

/* The progress record of @p run's copy of @p group (a fresh one when none
 * is stored: nothing received). */
static void progress_get(sr_worker_t *w, int32_t part, const sr_defs_t *d,
                         const sr_uuid_t *run, const sr_uuid_t *group,
                         sr_group_record_t *r)
{
        char key[SR_GROUP_COPY_KEY_LEN];
        size_t n = sr_group_copy_state_key(&d->p.id, run, group, key);
        sr_sha256_ctx_t h;

        if (sr_worker__group_rec_get(w, part, sr_slice(key, n),
                                     SR_GREC_COPY_CLOSE, r))
                return;
        memset(r, 0, sizeof(*r));
        r->kind = SR_GREC_COPY_CLOSE;
        sr_sha256_init(&h);
        r->state_len = save_state(&h, r->state);
}

/* Is every linked group's copy of @p run closed? */
static bool all_closed(sr_worker_t *w, int32_t part, const sr_defs_t *d,
                       const sr_uuid_t *run)
{
        sr_group_record_t r;
        sr_uuid_t *groups;
        bool oom, closed = true;
        uint32_t n = sr_defs_linked_groups(d, NULL, &groups, &oom);

        for (uint32_t i = 0; i < n && closed; i++) {
                progress_get(w, part, d, run, &groups[i], &r);
                closed = r.closed;
        }
        free(groups);
        return closed && !oom;
}

/* Every copy closed: the CreateRun of the definition as it is now. The
 * run's target lists, links and attachments cannot have changed since its
 * start (the fill's lock holds from the start), its stages and operations
 * are those of this moment. */
static void create_run(sr_worker_t *w, int32_t part, sr_defs_t *d,
                       sr_def_active_run_t *r, int64_t ts)
{
        char why[SR_NAME_MAX];
        sr_command_t create;
        sr_defs_out_t out;
        sr_runspec_t spec;
        sr_reject_t reason = SR_REJECT_NONE;
        bool ok;

        /* resolve refuses a pipeline with a fill in progress: this run's
         * own (the aggregate is this input's copy, loaded for it) */
        memset(&spec, 0, sizeof(spec));
        r->filling = false;
        ok = sr_defs_resolve(d, &spec, &reason, why, sizeof(why));
        r->filling = true;
        memset(&out, 0, sizeof(out));
        if (ok && sr_worker__run_create(w, d, &r->run_id,
                                        (int32_t)d->p.runs_started, &spec,
                                        ts, &create, &out)) {
                sr_worker__emit_command(w, part, &create, -1);
                sr_command_fini(&create);
                return;
        }
        if (ok)
                sr_command_fini(&create); /* it holds the spec */
        SR_WARN("STATUS", "run of a stored pipeline not created after its "
                "device groups' copies: %s", ok ? out.message : why);
        sr_worker__send_run_ended(w, part, &d->p.id, &r->run_id,
                                  d->p.enterprise_id, SR_ST_INVALID, ts);
}

/* Store one chunk, or check the closing record; @p r the progress. */
static void apply_members(sr_worker_t *w, int32_t part, sr_defs_t *d,
                          sr_def_active_run_t *ar, const sr_grpcmd_t *g,
                          sr_group_record_t *r, int64_t ts)
{
        char key[SR_GROUP_COPY_KEY_LEN];
        uint8_t digest[SR_DIGEST_LEN];
        const sr_uuid_t *run = &ar->run_id;
        sr_group_record_t m;
        sr_sha256_ctx_t h;

        if (!sr_sha256_restore(&h, r->state, r->state_len,
                               (uint64_t)r->chunks * SR_SHA256_LEN)) {
                sr_errctx_t ec = { 0 };

                sr_errctx_set(&ec, SR_ERR_CORRUPT, "a copy's progress state "
                              "of %u bytes after %u chunks", r->state_len,
                              r->chunks);
                sr_worker__set_fatal(w, &ec, "device group copy");
                return;
        }
        if (g->closing) {
                sr_sha256_final(&h, digest);
                if (g->count != r->count || g->chunk != r->chunks ||
                    memcmp(digest, g->digest, SR_DIGEST_LEN)) {
                        SR_WARN("STATUS", "a device group's copy does not "
                                "match its closing record (%" PRIu64
                                " members in %u chunks stored, %" PRIu64
                                " in %u sent): the start ends invalid",
                                r->count, r->chunks, g->count, g->chunk);
                        sr_worker__send_run_ended(w, part, &d->p.id, run,
                                                  d->p.enterprise_id,
                                                  SR_ST_INVALID, ts);
                        return;
                }
                r->closed = true;
                r->state_len = SR_DIGEST_LEN;
                memcpy(r->state, digest, SR_DIGEST_LEN);
        } else {
                memset(&m, 0, sizeof(m));
                m.kind = SR_GREC_COPY_MEMBER;
                memcpy(m.enterprise_id, d->p.enterprise_id,
                       sizeof(m.enterprise_id));
                m.pipeline_id = d->p.id;
                m.pipeline_run_id = *run;
                m.group_id = g->group_id;
                for (uint32_t i = 0; i < g->n_items && !w->fatal; i++) {
                        size_t n = sr_group_copy_member_key(
                                &d->p.id, run, &g->group_id,
                                &g->items[i].device_id, key);

                        m.member = g->items[i];
                        m.member.group_id = g->group_id;
                        sr_worker__group_rec_put(w, part, sr_slice(key, n),
                                                 &m);
                }
                sr_group_chunk_digest(g->items, g->n_items, digest);
                sr_sha256_update(&h, digest, SR_DIGEST_LEN);
                r->state_len = save_state(&h, r->state);
                r->count += g->n_items;
                r->chunks++;
        }
        memcpy(r->enterprise_id, d->p.enterprise_id, sizeof(r->enterprise_id));
        r->pipeline_id = d->p.id;
        r->pipeline_run_id = *run;
        r->group_id = g->group_id;
        sr_worker__group_rec_put(
                w, part, sr_slice(key, sr_group_copy_state_key(
                                               &d->p.id, run, &g->group_id,
                                               key)), r);
        if (r->closed && !w->fatal && all_closed(w, part, d, run))
                create_run(w, part, d, ar, ts);
}

void sr_worker__on_group_members(sr_worker_t *w, const sr_inrec_t *in,
                                 const sr_command_t *cmd)
{
        const sr_grpcmd_t *g = cmd->u.grp;
        int32_t part = in->partition;
        sr_def_active_run_t *ar;
        sr_errctx_t ec = { 0 };
        sr_group_record_t r;
        sr_defs_t d;

        memset(&d, 0, sizeof(d));
        if (sr_worker__defs_load(w, part, &g->pipeline_id, &d, &ec) != SR_OK) {
                sr_worker__set_fatal(w, &ec, "group members: pipeline");
                return;
        }
        ar = (sr_def_active_run_t *)sr_defs_active_run(&d,
                                                       &g->pipeline_run_id);
        if (!ar || !ar->filling) {
                w->bs.inputs[0][OUT_STALE]++; /* the start ended */
                goto out;
        }
        progress_get(w, part, &d, &ar->run_id, &g->group_id, &r);
        /* a chunk or a closing record met again: stale */
        if (r.closed || (!g->closing && g->chunk != r.chunks)) {
                w->bs.inputs[0][OUT_STALE]++;
                goto out;
        }
        apply_members(w, part, &d, ar, g, &r, in->timestamp);
        w->bs.inputs[0][OUT_APPLIED]++;
out:
        sr_defs_fini(&d);
}

/* ------------------------------------------------------------ deleting */

typedef struct drop_scan {
        char (*keys)[SR_GROUP_COPY_KEY_LEN];
        size_t *lens;
        uint32_t n, max;
        bool more;
} drop_scan_t;

static int drop_one(sr_slice_t key, sr_slice_t value, void *arg)
{
        drop_scan_t *ds = arg;

        (void)value;
        if (key.len > SR_GROUP_COPY_KEY_LEN)
                return 0; /* not a key of ours */
        if (ds->n == ds->max) {
                ds->more = true;
                return 1;
        }
        memcpy(ds->keys[ds->n], key.ptr, key.len);
        ds->lens[ds->n++] = key.len;
        return 0;
}

void sr_worker__drop_copies(sr_worker_t *w, int32_t part,
                            const sr_uuid_t *pipeline, const sr_uuid_t *run,
                            const char *enterprise, uint32_t step,
                            int64_t ts)
{
        char prefix[SR_GROUP_COPY_KEY_LEN], rid[SR_UUID_STR_LEN + 1];
        size_t np = sr_group_copy_prefix(pipeline, run, prefix);
        drop_scan_t ds = { 0 };
        sr_errctx_t ec = { 0 };
        sr_command_t c;
        sr_grpcmd_t *g;
        sr_uuid_t id;

        if (w->fatal || w->redo)
                return;
        ds.max = DROP_STEP_FACTOR *
                 (uint32_t)(w->conf->definition_chunk_targets > 0 ?
                            w->conf->definition_chunk_targets : 1000);
        ds.keys = malloc(ds.max * sizeof(*ds.keys));
        ds.lens = malloc(ds.max * sizeof(*ds.lens));
        if (!ds.keys || !ds.lens) {
                nomem(w, "drop copies");
                goto out;
        }
        if (sr_store_scan(w->txn, part, sr_slice(prefix, np), drop_one, &ds,
                          &ec) != SR_OK) {
                sr_worker__set_fatal(w, &ec, "drop copies");
                goto out;
        }
        for (uint32_t i = 0; i < ds.n; i++)
                sr_worker__changelog_del(w, part,
                                         sr_slice(ds.keys[i], ds.lens[i]));
        if (!ds.more)
                goto out;
        /* more than one step's keys: the rest in the next step, sent to
         * this partition (a step met again deletes what is left) */
        sr_uuid_fmt(run, rid);
        sr_uuid_v5(&id, &sr_ns, "%s/copies/drop/%" PRIu32, rid, step + 1);
        g = sr_grpcmd_new(&c, SR_GRPCMD_DROP_COPIES, pipeline, &id,
                          enterprise, ts);
        if (!g) {
                nomem(w, "drop copies");
                goto out;
        }
        g->pipeline_run_id = *run;
        g->chunk = step + 1;
        grp_send(w, part, &c, part);
out:
        free(ds.keys);
        free(ds.lens);
}
