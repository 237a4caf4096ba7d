/* common/status/sr_worker_fill.c - runs of stored pipelines
 * (docs/definitions.md section 5), the worker's side:
 *
 * - the pipeline's owner, when it accepts a StartPipelineRun, sends the
 *   run's CreateRun (keyed by the run: its owner may be another worker)
 *   with the skeleton sr_defs_resolve() gives (every stage with a target
 *   list attached is open: its targets come in chunks);
 * - the run's owner, when it creates such a run with an open stage, sends
 *   the fill's first FillStep to the pipeline's partition, so every chunk
 *   the fill sends the run is sent after the run exists: after a
 *   rebalance, a chunk from the pipeline's new owner cannot overtake a
 *   CreateRun still on its way from the old one;
 * - each FillStep passes over the pipeline's targets in key order from its
 *   cursor, at most FILL_SCAN_FACTOR x definition.chunk.targets keys, and
 *   sends the run one AppendTargets chunk of the stage's targets it met;
 *   at the end of the targets it sends the stage's SealTargets (count and
 *   digest, the digest carried from step to step in the FillStep), then
 *   the next open stage's first step, and after the last stage it ends
 *   the fill (sr_defs_fill_done(): the pipeline's target writes and new
 *   runs are accepted again);
 * - the run's owner, when such a run ends (or its CreateRun is refused),
 *   sends the pipeline's owner RunEnded, which drops the active run.
 *
 * Every command sent has an id derived from what it carries, so a step
 * applied again after a crash sends the same commands, which their
 * owners' dedupe answers. No batch grows with the stage: one step is one
 * chunk. The run freezes the definition at its start: the targets cannot
 * change while the fill holds the pipeline (run_starting), and the
 * stages, operations and attachments are in the CreateRun or cannot
 * change during it either (attach and detach wait for the fill too).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_budget.h"
#include "sr_defs.h"
#include "sr_digest.h"
#include "sr_groups.h"
#include "sr_log.h"
#include "sr_sha256.h"
#include "sr_utf8.h"
#include "sr_worker_int.h"

/* Keys a step examines: a stage's lists may hold a small part of the
 * pipeline's targets, so a step passes more keys than it sends. */
#define FILL_SCAN_FACTOR 4

/* ------------------------------------------------------------ ids */

/* A group copy's source (> 0) is in the name: its first step has the
 * nil cursor and the chunk the source before left. */
static void fill_step_id(const sr_uuid_t *run, uint32_t stage,
                         const sr_uuid_t *after, uint32_t chunk,
                         uint32_t source, sr_uuid_t *out)
{
        char rid[SR_UUID_STR_LEN + 1], aid[SR_UUID_STR_LEN + 1];

        sr_uuid_fmt(run, rid);
        sr_uuid_fmt(after, aid);
        if (source)
                sr_uuid_v5(out, &sr_ns, "%s/fill/%" PRIu32 "/%s/%" PRIu32
                           "/source/%" PRIu32, rid, stage, aid, chunk,
                           source);
        else
                sr_uuid_v5(out, &sr_ns, "%s/fill/%" PRIu32 "/%s/%" PRIu32,
                           rid, stage, aid, chunk);
}

/* ------------------------------------------------------------ sending */

/* A FillStep of @p run at stage @p stage, source @p source, cursor
 * @p after, the stage's @p chunk, @p count and digest in progress @p h,
 * keyed by @p pipeline of @p enterprise, to partition @p to (-1: the
 * key's). */
static void send_step(sr_worker_t *w, int32_t part, const sr_uuid_t *pipeline,
                      const char *enterprise, const sr_uuid_t *run,
                      uint32_t stage, uint32_t source, const sr_uuid_t *after,
                      uint32_t chunk, uint64_t count,
                      const sr_sha256_ctx_t *h, int64_t ts, int32_t to)
{
        sr_command_t c;
        sr_defcmd_t *f = calloc(1, sizeof(*f));
        uint8_t saved[SR_SHA256_SAVED_MAX];
        sr_errctx_t ec = { 0 };

        if (!f) {
                sr_errctx_set(&ec, SR_ERR_NOMEM, "fill step");
                sr_worker__set_fatal(w, &ec, "run fill");
                return;
        }
        memset(&c, 0, sizeof(c));
        c.kind = SR_CMD_DEFINITION;
        c.pipeline_run_id = *pipeline; /* the key */
        snprintf(c.enterprise_id, sizeof(c.enterprise_id), "%s", enterprise);
        c.issued_at = ts;
        fill_step_id(run, stage, after, chunk, source, &c.command_id);
        f->kind = SR_DEFCMD_FILL_STEP;
        f->command_id = c.command_id;
        memcpy(f->enterprise_id, c.enterprise_id, sizeof(f->enterprise_id));
        f->issued_at = ts;
        f->pipeline_id = *pipeline;
        f->u.fill.pipeline_run_id = *run;
        f->u.fill.stage_index = stage;
        f->u.fill.after = *after;
        f->u.fill.chunk = chunk;
        f->u.fill.count = count;
        f->u.fill.source = source;
        f->u.fill.seal_state_len = (uint32_t)sr_sha256_save(h, saved);
        memcpy(f->u.fill.seal_state, saved, f->u.fill.seal_state_len);
        c.u.def = f;
        sr_worker__emit_command(w, part, &c, to);
        sr_command_fini(&c);
}

/* The first open stage of the run at or after @p from (a stage with a
 * target list attached: at the start every attached list was DEVICES or
 * GROUPS, and attachments cannot change during the fill, so this is the
 * stage the skeleton opened), or n when none is left. */
static uint32_t next_open_stage(const sr_defs_t *d,
                                const sr_def_active_run_t *r, uint32_t from)
{
        for (uint32_t i = from; i < r->n_stage_ids; i++)
                for (uint32_t j = 0; j < d->n_attachments; j++)
                        if (sr_uuid_eq(&d->attachments[j].stage_id,
                                       &r->stage_ids[i]))
                                return i;
        return r->n_stage_ids;
}

/* The first step of a stage: from the first target, nothing counted. */
static void first_step(sr_worker_t *w, int32_t part, const sr_uuid_t *pipeline,
                       const char *enterprise, const sr_uuid_t *run,
                       uint32_t stage, int64_t ts, int32_t to)
{
        sr_uuid_t nil;
        sr_sha256_ctx_t h;

        memset(&nil, 0, sizeof(nil));
        sr_sha256_init(&h);
        send_step(w, part, pipeline, enterprise, run, stage, 0, &nil, 0, 0,
                  &h, ts, to);
}

/* ------------------------------------------------------------ start */

bool sr_worker__run_create(sr_worker_t *w, const sr_defs_t *d,
                           const sr_uuid_t *run, int32_t run_number,
                           sr_runspec_t *spec, int64_t ts,
                           sr_command_t *create, sr_defs_out_t *out)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { 0 };
        uint32_t n_ops = 0;

        memset(create, 0, sizeof(*create));
        create->kind = SR_CMD_CREATE_RUN;
        sr_def_start_command_id(&d->p.id, run, &create->command_id);
        create->pipeline_run_id = *run;
        memcpy(create->enterprise_id, d->p.enterprise_id,
               sizeof(create->enterprise_id));
        create->issued_at = ts;
        create->u.create.spec = *spec; /* moved */
        memset(spec, 0, sizeof(*spec));
        create->u.create.run_number = run_number;
        if (sr_codec_encode_command(w->codec, create, &val, &ec) != SR_OK) {
                /* the rules keep names, types and args within the codec's
                 * bounds, so this is the skeleton's size or a defect */
                out->accepted = false;
                out->reason = SR_REJECT_INVALID_VALUE;
                sr_utf8_format(out->message, sizeof(out->message),
                               "the run's skeleton cannot be encoded: %s",
                               ec.msg);
                return false;
        }
        for (uint32_t i = 0; i < create->u.create.spec.n_stages; i++)
                n_ops += create->u.create.spec.stages[i].n_ops;
        if (!sr_budget_input_fits(w->in_max, SR_UUID_STR_LEN, val.len)) {
                out->accepted = false;
                out->reason = SR_REJECT_TOO_LARGE;
                sr_utf8_format(out->message, sizeof(out->message),
                               "the run's skeleton (%" PRIu32 " stages, %"
                               PRIu32 " operations) is %zu bytes, over "
                               "command.max.bytes (%zu): shorten the "
                               "operations' args or split the pipeline",
                               create->u.create.spec.n_stages, n_ops,
                               val.len, w->in_max);
                sr_buf_free(&val);
                return false;
        }
        sr_buf_free(&val);
        return true;
}

/* The run's owner created a run of a stored pipeline: its first open
 * stage's first FillStep, keyed by the pipeline (no open stage: the
 * pipeline's owner did not mark the run filling, nothing to fill). */
static void start_fill(sr_worker_t *w, int32_t part, const sr_command_t *create,
                       int64_t ts)
{
        const sr_runspec_t *spec = &create->u.create.spec;

        for (uint32_t i = 0; i < spec->n_stages; i++)
                if (spec->stages[i].append_targets) {
                        first_step(w, part, &spec->pipeline_id,
                                   create->enterprise_id,
                                   &create->pipeline_run_id, i, ts, -1);
                        return;
                }
}

/* ------------------------------------------------------------ a step */

typedef struct fill_scan {
        sr_worker_t *w;
        int32_t part;
        const sr_defs_t *d;
        sr_uuid_t *lists; /* owned: the stage's DEVICES lists, in order */
        uint32_t n_lists;
        /* the stage's linked groups (owned) and the copy being passed
         * (groups[source - 1]) of run */
        sr_uuid_t *groups;
        uint32_t n_groups, source;
        const sr_uuid_t *run;
        sr_uuid_t after;
        uint32_t budget; /* keys left to examine */
        uint32_t max;    /* items per chunk */
        sr_spec_target_t *items;
        uint32_t n;
        sr_uuid_t last; /* the last key examined */
        bool more;      /* stopped before the end of the targets */
        sr_err_t err;
        sr_errctx_t ec;
} fill_scan_t;

/* Is the device of list @p k also in an earlier list of the stage, and
 * active there? Then that list gave it: one target run per device. */
static bool in_earlier_list(fill_scan_t *fs, uint32_t k,
                            const sr_uuid_t *device)
{
        for (uint32_t j = 0; j < k; j++) {
                sr_def_target_t t;
                sr_uuid_t id;
                bool active;

                sr_def_target_id(&fs->lists[j], device, &id);
                if (!sr_worker__def_target_get(fs->w, fs->part, &fs->d->p.id,
                                               &id, &t))
                        continue;
                active = t.is_active;
                sr_def_target_fini(&t);
                if (active)
                        return true;
        }
        return false;
}

/* A source's key of @p len bytes ending in an id: -1 stop (a key of
 * another form: fs->err; the chunk full or the step's keys spent:
 * fs->more), 0 skip (the cursor itself, passed by the last step), 1 take
 * it (fs->last) and decode its record into @p cl (-1 when it does not). */
static int scan_key(fill_scan_t *fs, sr_slice_t key, sr_slice_t value,
                    size_t len, sr_changelog_t *cl)
{
        sr_uuid_t id;

        if (key.len != len ||
            !sr_uuid_parse((const char *)key.ptr + key.len - SR_UUID_STR_LEN,
                           SR_UUID_STR_LEN, &id)) {
                fs->err = sr_errctx_set(&fs->ec, SR_ERR_CORRUPT,
                                        "a key of another form among a "
                                        "stage's source's keys");
                return -1;
        }
        if (!sr_uuid_is_nil(&fs->after) && sr_uuid_eq(&id, &fs->after))
                return 0;
        if (fs->n == fs->max || fs->budget == 0) {
                fs->more = true;
                return -1;
        }
        fs->budget--;
        fs->last = id;
        fs->err = sr_codec_decode_changelog(fs->w->codec, value, cl, &fs->ec);
        return fs->err ? -1 : 1;
}

static int scan_one(sr_slice_t key, sr_slice_t value, void *arg)
{
        fill_scan_t *fs = arg;
        sr_changelog_t cl;
        const sr_def_target_t *t;
        uint32_t k;
        int r = scan_key(fs, key, value, SR_DEF_KEY_LEN, &cl);

        if (r <= 0)
                return -r;
        if (cl.kind != SR_CL_DEF || cl.u.def.kind != SR_DEF_TARGET) {
                sr_changelog_fini(&cl);
                fs->err = sr_errctx_set(&fs->ec, SR_ERR_CORRUPT,
                                        "not a target under a target key");
                return 1;
        }
        t = &cl.u.def.u.target;
        for (k = 0; k < fs->n_lists; k++)
                if (sr_uuid_eq(&fs->lists[k], &t->target_list_id))
                        break;
        if (k < fs->n_lists && t->is_active &&
            !in_earlier_list(fs, k, &t->device_id)) {
                sr_spec_target_t *it = &fs->items[fs->n++];

                it->target_id = t->id;
                it->device_id = t->device_id;
                memcpy(it->device_name, t->device_name,
                       sizeof(it->device_name));
                memcpy(it->device_alias, t->device_alias,
                       sizeof(it->device_alias));
        }
        sr_changelog_fini(&cl);
        return 0;
}

/* Is @p device in the copy of a group the stage passed before the one
 * being passed? Then that copy gave it. */
static bool in_earlier_copy(fill_scan_t *fs, const sr_uuid_t *device)
{
        char key[SR_GROUP_COPY_KEY_LEN];
        sr_slice_t v;

        /* a read that failed makes the batch fatal: its answer is moot */
        for (uint32_t j = 0; j + 1 < fs->source; j++)
                if (sr_worker__store_get(
                            fs->w, fs->part,
                            sr_slice(key, sr_group_copy_member_key(
                                                  &fs->d->p.id, fs->run,
                                                  &fs->groups[j], device,
                                                  key)),
                            &v) == SR_OK)
                        return true;
        return false;
}

/* One member of the copy being passed: a target of the stage unless a
 * DEVICES list of the stage (active there) or an earlier copy has it, so
 * a DEVICES entry wins over a member. */
static int scan_copy(sr_slice_t key, sr_slice_t value, void *arg)
{
        fill_scan_t *fs = arg;
        const sr_def_group_member_t *m;
        sr_changelog_t cl;
        int r = scan_key(fs, key, value, SR_GROUP_COPY_KEY_LEN, &cl);

        if (r <= 0)
                return -r;
        if (cl.kind != SR_CL_GROUP || cl.u.grp.kind != SR_GREC_COPY_MEMBER) {
                sr_changelog_fini(&cl);
                fs->err = sr_errctx_set(&fs->ec, SR_ERR_CORRUPT,
                                        "not a copied member under a copy "
                                        "key");
                return 1;
        }
        m = &cl.u.grp.member;
        if (!in_earlier_list(fs, fs->n_lists, &m->device_id) &&
            !in_earlier_copy(fs, &m->device_id)) {
                sr_spec_target_t *it = &fs->items[fs->n++];

                /* the target's id: v5 of (group, device), as a DEVICES
                 * target's is v5 of (list, device) */
                sr_def_target_id(&m->group_id, &m->device_id,
                                 &it->target_id);
                it->device_id = m->device_id;
                memcpy(it->device_name, m->device_name,
                       sizeof(it->device_name));
                memcpy(it->device_alias, m->device_alias,
                       sizeof(it->device_alias));
        }
        sr_changelog_fini(&cl);
        return 0;
}

/* The stage's DEVICES lists in attachment order (owned; NULL when none). */
static sr_uuid_t *stage_lists(const sr_defs_t *d, const sr_uuid_t *stage,
                              uint32_t *n)
{
        sr_uuid_t *ids = malloc((d->n_attachments + 1) * sizeof(*ids));

        *n = 0;
        if (!ids)
                return NULL;
        for (uint32_t i = 0; i < d->n_attachments; i++) {
                const sr_def_attachment_t *at = &d->attachments[i];
                const sr_def_target_list_t *l;

                if (!sr_uuid_eq(&at->stage_id, stage))
                        continue;
                l = sr_defs_list(d, &at->target_list_id);
                if (l && l->type == SR_TL_DEVICES)
                        ids[(*n)++] = l->id;
        }
        return ids;
}

static void send_chunk(sr_worker_t *w, const sr_defs_t *d,
                       const sr_uuid_t *run, uint32_t stage, uint32_t chunk,
                       fill_scan_t *fs, uint8_t digest[SR_DIGEST_LEN],
                       int64_t ts, int32_t part)
{
        sr_errctx_t ec = { 0 };
        sr_command_t c;

        memset(&c, 0, sizeof(c));
        if (sr_targets_digest(fs->items, fs->n, digest, &ec) != SR_OK) {
                sr_worker__set_fatal(w, &ec, "run fill: chunk digest");
                return;
        }
        c.kind = SR_CMD_APPEND_TARGETS;
        c.pipeline_run_id = *run;
        memcpy(c.enterprise_id, d->p.enterprise_id, sizeof(c.enterprise_id));
        c.issued_at = ts;
        sr_chunk_command_id(run, stage, chunk, digest, &c.command_id);
        c.u.append.stage_index = stage;
        c.u.append.chunk = chunk;
        c.u.append.n_targets = fs->n;
        c.u.append.targets = fs->items; /* borrowed: not freed below */
        memcpy(c.u.append.digest, digest, SR_DIGEST_LEN);
        sr_worker__emit_command(w, part, &c, -1);
}

static void send_seal(sr_worker_t *w, const sr_defs_t *d, const sr_uuid_t *run,
                      uint32_t stage, uint32_t chunks, uint64_t count,
                      sr_sha256_ctx_t *h, int64_t ts, int32_t part)
{
        char rid[SR_UUID_STR_LEN + 1];
        sr_command_t c;

        memset(&c, 0, sizeof(c));
        sr_uuid_fmt(run, rid);
        c.kind = SR_CMD_SEAL_TARGETS;
        c.pipeline_run_id = *run;
        memcpy(c.enterprise_id, d->p.enterprise_id, sizeof(c.enterprise_id));
        c.issued_at = ts;
        sr_uuid_v5(&c.command_id, &sr_ns, "%s/stage/%" PRIu32 "/seal/fill",
                   rid, stage);
        c.u.seal.stage_index = stage;
        c.u.seal.chunks = chunks;
        c.u.seal.count = (int64_t)count;
        sr_sha256_final(h, c.u.seal.digest);
        sr_worker__emit_command(w, part, &c, -1);
}

/* Pass the source @p fs names from its cursor: the pipeline's targets
 * ("P<p>/t/...", source 0) or the copy of the stage's groups[source - 1]
 * ("P<p>/r/<run>/m/<group>/..."). */
static sr_err_t scan_source(fill_scan_t *fs, sr_errctx_t *ec)
{
        char prefix[SR_GROUP_COPY_KEY_LEN], from[SR_GROUP_COPY_KEY_LEN];
        const sr_defs_t *d = fs->d;
        size_t np, nf;
        sr_err_t err;

        if (fs->source == 0) {
                if (!fs->n_lists)
                        return SR_OK;
                nf = sr_def_key(SR_DEF_TARGET, &d->p.id, &fs->after, from);
                np = sr_def_key_prefix(&d->p.id, prefix);
                prefix[np] = sr_def_kind_letter(SR_DEF_TARGET);
                prefix[np + 1] = '/';
                np += 2;
        } else {
                const sr_uuid_t *g = &fs->groups[fs->source - 1];

                np = sr_group_copy_member_key(&d->p.id, fs->run, g, NULL,
                                              prefix);
                nf = sr_group_copy_member_key(&d->p.id, fs->run, g,
                                              &fs->after, from);
        }
        err = sr_store_scan_from(fs->w->txn, fs->part, sr_slice(prefix, np),
                                 sr_uuid_is_nil(&fs->after) ?
                                         sr_slice(prefix, np) :
                                         sr_slice(from, nf),
                                 fs->source ? scan_copy : scan_one, fs, ec);
        if (!err && fs->err) {
                *ec = fs->ec;
                err = fs->err;
        }
        return err;
}

bool sr_worker__fill_step(sr_worker_t *w, int32_t part, sr_defs_t *d,
                          const sr_defcmd_t *dc, const sr_command_t *cmd,
                          int64_t ts)
{
        const sr_def_active_run_t *r;
        const sr_uuid_t *run = &dc->u.fill.pipeline_run_id;
        uint32_t si = dc->u.fill.stage_index, chunk = dc->u.fill.chunk;
        uint64_t count = dc->u.fill.count;
        uint8_t digest[SR_DIGEST_LEN];
        sr_errctx_t ec = { 0 };
        sr_uuid_t nil = { { 0 } };
        sr_sha256_ctx_t h;
        sr_defs_out_t out;
        fill_scan_t fs;
        uint32_t next;
        bool nomem;
        sr_err_t err;

        r = sr_defs_active_run(d, run);
        if (!r || !r->filling || si >= r->n_stage_ids)
                return false; /* late: the fill ended, or the run did */
        if (!sr_sha256_restore(&h, dc->u.fill.seal_state,
                               dc->u.fill.seal_state_len,
                               (uint64_t)chunk * SR_SHA256_LEN))
                return false; /* not a step this owner sent */
        memset(&fs, 0, sizeof(fs));
        fs.w = w;
        fs.part = part;
        fs.d = d;
        fs.run = run;
        fs.source = dc->u.fill.source;
        fs.after = dc->u.fill.after;
        fs.max = (uint32_t)w->conf->definition_chunk_targets;
        fs.budget = fs.max * FILL_SCAN_FACTOR;
        fs.lists = stage_lists(d, &r->stage_ids[si], &fs.n_lists);
        fs.items = calloc(fs.max ? fs.max : 1, sizeof(*fs.items));
        fs.n_groups = sr_defs_linked_groups(d, &r->stage_ids[si], &fs.groups,
                                            &nomem);
        if (!fs.lists || !fs.items || nomem) {
                sr_errctx_set(&ec, SR_ERR_NOMEM, "fill step");
                sr_worker__set_fatal(w, &ec, "run fill");
                goto out;
        }
        if (fs.source > fs.n_groups)
                goto out; /* no such source: not a step this owner sent */
        err = scan_source(&fs, &ec);
        if (err) {
                sr_worker__set_fatal(w, &ec, "run fill: targets");
                goto out;
        }
        if (fs.n) {
                send_chunk(w, d, run, si, chunk, &fs, digest, ts, part);
                sr_sha256_update(&h, digest, SR_DIGEST_LEN);
                chunk++;
                count += fs.n;
        }
        if (fs.more) {
                send_step(w, part, &d->p.id, d->p.enterprise_id, run, si,
                          fs.source, &fs.last, chunk, count, &h, ts, part);
                goto out;
        }
        /* the stage's next source: the copy of its next linked group */
        if (fs.source < fs.n_groups) {
                send_step(w, part, &d->p.id, d->p.enterprise_id, run, si,
                          fs.source + 1, &nil, chunk, count, &h, ts, part);
                goto out;
        }
        send_seal(w, d, run, si, chunk, count, &h, ts, part);
        next = next_open_stage(d, r, si + 1);
        if (next < r->n_stage_ids) {
                first_step(w, part, &d->p.id, d->p.enterprise_id, run, next,
                           ts, part);
                goto out;
        }
        memset(&out, 0, sizeof(out));
        err = sr_defs_fill_done(d, run, ts, &out);
        if (err == SR_OK)
                sr_worker__def_changes(w, part, d, &out, cmd, ts);
        else if (err != SR_ERR_NOT_FOUND) {
                sr_errctx_set(&ec, err, "fill done");
                sr_worker__set_fatal(w, &ec, "run fill");
        }
        sr_defs_out_fini(&out);
out:
        free(fs.lists);
        free(fs.items);
        free(fs.groups);
        return true;
}

/* ------------------------------------------------------------ ended */

void sr_worker__send_run_ended(sr_worker_t *w, int32_t part,
                               const sr_uuid_t *pipeline, const sr_uuid_t *run,
                               const char *enterprise, sr_status_t status,
                               int64_t ts)
{
        char rid[SR_UUID_STR_LEN + 1];
        sr_defcmd_t *f = calloc(1, sizeof(*f));
        sr_errctx_t ec = { 0 };
        sr_command_t c;

        if (!f) {
                sr_errctx_set(&ec, SR_ERR_NOMEM, "run ended");
                sr_worker__set_fatal(w, &ec, "run ended");
                return;
        }
        memset(&c, 0, sizeof(c));
        sr_uuid_fmt(run, rid);
        c.kind = SR_CMD_DEFINITION;
        c.pipeline_run_id = *pipeline; /* the key */
        snprintf(c.enterprise_id, sizeof(c.enterprise_id), "%s", enterprise);
        c.issued_at = ts;
        sr_uuid_v5(&c.command_id, &sr_ns, "%s/ended", rid);
        f->kind = SR_DEFCMD_RUN_ENDED;
        f->command_id = c.command_id;
        memcpy(f->enterprise_id, c.enterprise_id, sizeof(f->enterprise_id));
        f->issued_at = ts;
        f->pipeline_id = *pipeline;
        f->u.run.pipeline_run_id = *run;
        f->u.run.status = status;
        c.u.def = f;
        sr_worker__emit_command(w, part, &c, -1);
        sr_command_fini(&c);
}

/* Was @p run started from a stored pipeline? Its CreateRun then came from
 * the pipeline's owner, with the id only that owner gives. */
static bool from_stored(const sr_run_t *run)
{
        sr_uuid_t id;

        sr_def_start_command_id(&run->pr.pipeline_id, &run->pr.m.id, &id);
        return sr_uuid_eq(&id, &run->pr.created_by_command);
}

void sr_worker__stored_run_check(sr_worker_t *w, int32_t part,
                                const sr_run_t *run, const sr_command_t *cmd,
                                int64_t ts)
{
        const sr_fsm_out_t *o = &w->out;

        if (cmd && cmd->kind == SR_CMD_CREATE_RUN) {
                sr_uuid_t id;

                sr_def_start_command_id(&cmd->u.create.spec.pipeline_id,
                                        &cmd->pipeline_run_id, &id);
                if (!sr_uuid_eq(&id, &cmd->command_id))
                        return; /* not a run of a stored pipeline */
                if (o->has_reply && !o->reply.accepted && !o->applied) {
                        /* A run the pipeline's owner started that will
                         * never exist: its pin must go. */
                        sr_worker__send_run_ended(
                                w, part, &cmd->u.create.spec.pipeline_id,
                                &cmd->pipeline_run_id, cmd->enterprise_id,
                                SR_ST_INVALID, ts);
                        return;
                }
                if (o->applied)
                        start_fill(w, part, cmd, ts);
        }
        if (!run || !run->exists)
                return;
        /* The run's end first: it is rare, and asking whether the run is a
         * stored pipeline's costs a UUID v5 (SHA-1), which every result
         * would otherwise pay. */
        for (uint32_t i = 0; i < o->n_events; i++) {
                const sr_event_t *ev = &o->events[i];

                if (ev->entity_type == SR_ENT_PIPELINE_RUN &&
                    sr_status_is_terminal(ev->to_status) &&
                    !sr_status_is_terminal(ev->from_status)) {
                        if (from_stored(run))
                                sr_worker__send_run_ended(
                                        w, part, &run->pr.pipeline_id,
                                        &run->pr.m.id, run->pr.enterprise_id,
                                        ev->to_status, ts);
                        return;
                }
        }
}
