/* common/domain/sr_fsm_targets.c - an open stage's rules (docs/targets.md,
 * section 3): AppendTargets stores a chunk, SealTargets closes the set
 * after comparing chunks, count and digest, and a stage run that is
 * processing and sealed is filled from its chunks in chunk order. Every
 * refusal changes nothing and names what was wrong (section 8 lists what
 * each lost, repeated or late input gets). Also AddTargetRun: a device
 * added late to a running stage run (docs/domain-decisions.md). */
#include "sr_fsm_int.h"
#include "sr_sha256.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The open stage run @p si that @p what (the command's name) is for, or
 * NULL after the refusal: unknown stage, a stage given inline, a stage or
 * run that ended (stale_stage: a late input, counted as stale). */
static sr_stage_run_t *open_stage(step_t *st, const sr_command_t *cmd,
                                  uint32_t si, const char *what)
{
        sr_run_t *run = st->run;
        char rid[SR_UUID_STR_LEN + 1], sid[SR_UUID_STR_LEN + 1];
        sr_stage_run_t *s;

        sr_uuid_fmt(&run->pr.m.id, rid);
        if (si >= run->pr.n_stages) {
                sr_fsm__reply_reject(st, cmd, SR_REJECT_NOT_FOUND,
                                     "%s: stage %" PRIu32 " not found in "
                                     "pipeline run %s (%" PRIu32 " stages, "
                                     "0-based)", what, si, rid,
                                     run->pr.n_stages);
                return NULL;
        }
        s = &run->stages[si];
        sr_uuid_fmt(&s->m.id, sid);
        if (!s->append_targets) {
                sr_fsm__reply_reject(st, cmd, SR_REJECT_INVALID_VALUE,
                                     "%s: stage run %s (stage %" PRIu32 ") is "
                                     "not open: its targets were given "
                                     "inline when the run was created",
                                     what, sid, si);
                return NULL;
        }
        if (sr_status_is_terminal(s->m.status) ||
            sr_status_is_terminal(run->pr.m.status)) {
                bool own = sr_status_is_terminal(s->m.status);

                sr_fsm__reply_reject(st, cmd, SR_REJECT_STALE_STAGE,
                                     "%s: %s %s is %s, a final status: its "
                                     "targets can no longer change", what,
                                     own ? "stage run" : "pipeline run",
                                     own ? sid : rid,
                                     sr_status_name(own ? s->m.status :
                                                          run->pr.m.status));
                return NULL;
        }
        return s;
}

/* ------------------------------------------------------------ append */

static int dev_cmp(const void *a, const void *b)
{
        const sr_spec_target_t *x = *(const sr_spec_target_t *const *)a;
        const sr_spec_target_t *y = *(const sr_spec_target_t *const *)b;
        int c = memcmp(&x->device_id, &y->device_id, sizeof(x->device_id));

        /* ties by position, so the message names the first two */
        return c ? c : (x < y ? -1 : x > y);
}

/* The items themselves: a device id, no device twice in the chunk, none
 * already in another chunk of the stage. false after the refusal. */
static bool items_ok(step_t *st, const sr_command_t *cmd, uint32_t si)
{
        const sr_spec_target_t *ts = cmd->u.append.targets;
        uint32_t n = cmd->u.append.n_targets, chunk = cmd->u.append.chunk;
        const sr_spec_target_t **by_dev;
        char dev[SR_UUID_STR_LEN + 1];
        bool ok = true;

        for (uint32_t i = 0; i < n; i++) {
                if (sr_uuid_is_nil(&ts[i].device_id)) {
                        sr_fsm__reply_reject(st, cmd, SR_REJECT_INVALID_VALUE,
                                             "AppendTargets: chunk %" PRIu32
                                             ": targets[%" PRIu32 "]."
                                             "device_id is the nil id",
                                             chunk, i);
                        return false;
                }
        }
        by_dev = malloc((size_t)n * sizeof(*by_dev));
        if (!by_dev) {
                st->nomem = true;
                return false;
        }
        for (uint32_t i = 0; i < n; i++)
                by_dev[i] = &ts[i];
        qsort(by_dev, n, sizeof(*by_dev), dev_cmp);
        for (uint32_t i = 1; i < n && ok; i++) {
                if (sr_uuid_eq(&by_dev[i - 1]->device_id,
                               &by_dev[i]->device_id)) {
                        sr_uuid_fmt(&by_dev[i]->device_id, dev);
                        sr_fsm__reply_reject(st, cmd,
                                             SR_REJECT_DUPLICATE_TARGET,
                                             "AppendTargets: chunk %" PRIu32
                                             ": device %s is targets[%zu] "
                                             "and targets[%zu]: a device is "
                                             "in a stage once", chunk, dev,
                                             (size_t)(by_dev[i - 1] - ts),
                                             (size_t)(by_dev[i] - ts));
                        ok = false;
                }
        }
        free(by_dev);
        for (uint32_t i = 0; i < n && ok; i++) {
                uint32_t pos, item;
                int found = sr_run_find_device(st->run, si, &ts[i].device_id,
                                               &pos, &item);

                if (found < 0) {
                        st->nomem = true;
                        return false;
                }
                if (found) {
                        sr_uuid_fmt(&ts[i].device_id, dev);
                        sr_fsm__reply_reject(st, cmd,
                                             SR_REJECT_DUPLICATE_TARGET,
                                             "AppendTargets: chunk %" PRIu32
                                             ": targets[%" PRIu32 "], device "
                                             "%s, is already in chunk %"
                                             PRIu32 " (its targets[%" PRIu32
                                             "]): a device is in a stage "
                                             "once", chunk, i, dev,
                                             st->run->chunks[pos].chunk, item);
                        ok = false;
                }
        }
        return ok;
}

void sr_fsm__append_targets(step_t *st, const sr_command_t *cmd)
{
        sr_run_t *run = st->run;
        uint32_t si = cmd->u.append.stage_index, chunk = cmd->u.append.chunk;
        uint32_t n = cmd->u.append.n_targets;
        const sr_fsm_opts_t *o = st->opts;
        sr_stage_run_t *s = open_stage(st, cmd, si, "AppendTargets");
        sr_stage_chunk_t c;
        sr_errctx_t ec = { 0 };
        int64_t at;

        if (!s)
                return;
        at = sr_run_find_chunk(run, si, chunk);
        if (at >= 0) {
                /* The same chunk again (a client's retry under a new
                 * command id, a second gateway): nothing to do. */
                const sr_stage_chunk_t *old = &run->chunks[at];
                char h1[2 * SR_DIGEST_LEN + 1], h2[2 * SR_DIGEST_LEN + 1];

                if (!memcmp(old->digest, cmd->u.append.digest,
                            SR_DIGEST_LEN)) {
                        sr_fsm__reply_accept(st, cmd, SR_ENT_STAGE_RUN,
                                             &s->m);
                        return;
                }
                sr_sha256_hex(old->digest, h1);
                sr_sha256_hex(cmd->u.append.digest, h2);
                sr_fsm__reply_reject(st, cmd, SR_REJECT_CHUNK_CONFLICT,
                                     "AppendTargets: chunk %" PRIu32 " of "
                                     "stage %" PRIu32 " was applied with "
                                     "digest %.16s..., this one is %.16s...: "
                                     "a chunk index is written once",
                                     chunk, si, h1, h2);
                return;
        }
        if (s->sealed) {
                sr_fsm__reply_reject(st, cmd, SR_REJECT_SEALED,
                                     "AppendTargets: stage %" PRIu32 " is "
                                     "sealed (%" PRIu32 " chunks, %" PRIu32
                                     " targets): chunk %" PRIu32 " cannot be "
                                     "added", si, s->seal_chunks,
                                     s->seal_count, chunk);
                return;
        }
        if (n == 0) {
                sr_fsm__reply_reject(st, cmd, SR_REJECT_INVALID_VALUE,
                                     "AppendTargets: chunk %" PRIu32 " has "
                                     "no targets", chunk);
                return;
        }
        if (o->chunk_targets && n > o->chunk_targets) {
                sr_fsm__reply_reject(st, cmd, SR_REJECT_INVALID_VALUE,
                                     "AppendTargets: chunk %" PRIu32 " has %"
                                     PRIu32 " targets, at most %" PRIu32
                                     " per chunk on this worker "
                                     "(stage.chunk.targets)", chunk, n,
                                     o->chunk_targets);
                return;
        }
        if (o->max.targets &&
            (uint64_t)s->targets_appended + n > o->max.targets) {
                sr_fsm__reply_reject(st, cmd, SR_REJECT_TOO_MANY_TARGETS,
                                     "AppendTargets: chunk %" PRIu32 ": %"
                                     PRIu32 " targets appended and %" PRIu32
                                     " more exceed %" PRIu32 " per stage on "
                                     "this worker (stage.max.targets)", chunk,
                                     s->targets_appended, n, o->max.targets);
                return;
        }
        if (!items_ok(st, cmd, si))
                return;
        memset(&c, 0, sizeof(c));
        c.pipeline_run_id = run->pr.m.id;
        c.stage_index = si;
        c.chunk = chunk;
        memcpy(c.digest, cmd->u.append.digest, SR_DIGEST_LEN);
        if (!sr_spec_targets_copy(&c.targets, cmd->u.append.targets, n)) {
                st->nomem = true;
                return;
        }
        c.n_targets = n;
        if (sr_run_add_chunk(run, &c, &ec) != SR_OK) {
                sr_stage_chunk_fini(&c);
                st->nomem = true;
                return;
        }
        sr_run_mark_chunk(run, run->n_chunks - 1);
        /* Counts, not a status: no event; but the stage run changed, so
         * its version moves, and a reader waiting for the reply's version
         * (the gateway's answer) sees the counts. */
        s->chunks_applied++;
        s->targets_appended += n;
        s->m.version++;
        s->m.updated_at = st->now;
        sr_run_mark_stage(run, si);
        st->out->applied = true;
        sr_fsm__reply_accept(st, cmd, SR_ENT_STAGE_RUN, &s->m);
}

/* ------------------------------------------------------------ seal */

/* The stage's digest from its chunks 0..n-1 (all present). */
static bool stage_digest(step_t *st, uint32_t si, uint32_t n,
                         uint8_t out[SR_DIGEST_LEN])
{
        sr_sha256_ctx_t c;

        sr_sha256_init(&c);
        for (uint32_t k = 0; k < n; k++) {
                int64_t at = sr_run_find_chunk(st->run, si, k);

                if (at < 0)
                        return false;
                sr_sha256_update(&c, st->run->chunks[at].digest,
                                 SR_DIGEST_LEN);
        }
        sr_sha256_final(&c, out);
        return true;
}

/* A seal's refusal for missing chunks; %s is the list missing_ranges()
 * writes. One literal for both the measure and the reply. */
#define SEAL_MISSING_FMT                                                     \
        "SealTargets: stage %" PRIu32 ": chunk%s %s %s missing (%" PRIu32  \
        " of the %" PRIu32 " chunks, the first chunk %" PRIu32 "); send %s " \
        "and seal again"

static int u32_cmp(const void *a, const void *b)
{
        uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

        return (x > y) - (x < y);
}

/* The chunk indexes below @p chunks stage @p si has, sorted, into a new
 * array (@p n of them); NULL when out of memory. O(the run's chunks), so
 * a seal claiming any count of chunks costs what was applied, not what
 * it claims. */
static uint32_t *present_chunks(const sr_run_t *run, uint32_t si,
                                uint32_t chunks, uint32_t *n)
{
        uint32_t *v = malloc((run->n_chunks ? run->n_chunks : 1) *
                             sizeof(*v));

        *n = 0;
        if (!v)
                return NULL;
        for (uint32_t p = 0; p < run->n_chunks; p++)
                if (run->chunks[p].stage_index == si &&
                    run->chunks[p].chunk < chunks)
                        v[(*n)++] = run->chunks[p].chunk;
        qsort(v, *n, sizeof(*v), u32_cmp);
        return v;
}

/* The chunk indexes of 0..chunks-1 absent from @p have (sorted, @p n_have
 * of them; @p missing absent in all), as ranges ("3, 7-9, 12") into
 * @p buf of @p size bytes, NUL included. When they do not all fit, as
 * many ranges as fit and then ", ... and N more" (N: the missing chunks
 * not listed): each range is added only if that ending would still fit
 * after it, so the ending always does (but for a buffer too small for one
 * range, which gets "... and N more" cut to fit). Stops at the first range
 * that does not fit. */
static void missing_ranges(const uint32_t *have, uint32_t n_have,
                           uint32_t chunks, uint32_t missing, char *buf,
                           size_t size)
{
        uint32_t listed = 0, next = 0;
        size_t len = 0;

        buf[0] = '\0';
        for (uint32_t h = 0; h <= n_have && next < chunks; h++) {
                uint32_t a = next, k = (h < n_have ? have[h] : chunks);
                uint32_t after;
                char item[32];
                int n, more;

                next = h < n_have ? have[h] + 1 : chunks;
                if (k <= a)
                        continue; /* no gap before this one */
                k--; /* the range a..k is missing */
                n = a == k ? snprintf(item, sizeof(item), "%s%" PRIu32,
                                      len ? ", " : "", a) :
                             snprintf(item, sizeof(item),
                                      "%s%" PRIu32 "-%" PRIu32,
                                      len ? ", " : "", a, k);
                after = missing - listed - (k - a + 1);
                more = after ? snprintf(NULL, 0, ", ... and %" PRIu32
                                        " more", after) : 0;
                if (len + (size_t)n + (size_t)more >= size)
                        break;
                memcpy(buf + len, item, (size_t)n + 1);
                len += (size_t)n;
                listed += k - a + 1;
        }
        if (listed < missing)
                snprintf(buf + len, size - len, "%s... and %" PRIu32 " more",
                         len ? ", " : "", missing - listed);
}

/* Refuse a seal of @p chunks chunks of which the stage has only @p have
 * (sorted, @p n_have of them): the message lists them all as ranges when they fit the reply's message
 * (sr_reply_t), else as many as fit (missing_ranges()), so a client that
 * lost several resends them all before it seals again. */
static void refuse_missing(step_t *st, const sr_command_t *cmd, uint32_t si,
                           uint32_t chunks, const uint32_t *have,
                           uint32_t n_have)
{
        uint32_t missing = chunks - n_have, first = 0;
        char list[sizeof(((sr_reply_t *)0)->message)];
        const char *s = missing > 1 ? "s" : "";
        const char *are = missing > 1 ? "are" : "is";
        const char *them = missing > 1 ? "them" : "it";
        size_t room;
        int fixed;

        while (first < n_have && have[first] == first)
                first++; /* the first gap */
        fixed = snprintf(NULL, 0, SEAL_MISSING_FMT, si, s, "", are, missing,
                         chunks, first, them);
        room = fixed >= 0 && (size_t)fixed < sizeof(list) ?
                       sizeof(list) - (size_t)fixed : 1;
        missing_ranges(have, n_have, chunks, missing, list, room);
        sr_fsm__reply_reject(st, cmd, SR_REJECT_SEAL_MISMATCH,
                             SEAL_MISSING_FMT, si, s, list, are, missing,
                             chunks, first, them);
}

void sr_fsm__seal_targets(step_t *st, const sr_command_t *cmd)
{
        uint32_t si = cmd->u.seal.stage_index, chunks = cmd->u.seal.chunks;
        int64_t count = cmd->u.seal.count;
        sr_stage_run_t *s = open_stage(st, cmd, si, "SealTargets");
        char h1[2 * SR_DIGEST_LEN + 1], h2[2 * SR_DIGEST_LEN + 1];
        uint8_t d[SR_DIGEST_LEN];
        uint32_t *have, n_have;

        if (!s)
                return;
        if (s->sealed) {
                if (s->seal_chunks == chunks && s->seal_count == count &&
                    !memcmp(s->seal_digest, cmd->u.seal.digest,
                            SR_DIGEST_LEN)) {
                        sr_fsm__reply_accept(st, cmd, SR_ENT_STAGE_RUN,
                                             &s->m);
                        return;
                }
                sr_fsm__reply_reject(st, cmd, SR_REJECT_SEAL_MISMATCH,
                                     "SealTargets: stage %" PRIu32 " is "
                                     "already sealed with %" PRIu32
                                     " chunks and %" PRIu32 " targets; this "
                                     "seal says %" PRIu32 " chunks and %"
                                     PRId64 " targets", si, s->seal_chunks,
                                     s->seal_count, chunks, count);
                return;
        }
        if (count < 0 || (count == 0 && chunks) || (int64_t)chunks > count ||
            (st->opts->max.targets && count > st->opts->max.targets)) {
                sr_fsm__reply_reject(st, cmd, SR_REJECT_INVALID_VALUE,
                                     "SealTargets: stage %" PRIu32 ": %"
                                     PRIu32 " chunks of %" PRId64 " targets "
                                     "cannot be: a chunk holds at least one "
                                     "target, a stage at most %" PRIu32
                                     " (stage.max.targets)", si, chunks,
                                     count, st->opts->max.targets);
                return;
        }
        have = present_chunks(st->run, si, chunks, &n_have);
        if (!have) {
                st->nomem = true;
                return;
        }
        if (n_have < chunks) {
                refuse_missing(st, cmd, si, chunks, have, n_have);
                free(have);
                return;
        }
        free(have);
        if (s->chunks_applied != chunks) {
                sr_fsm__reply_reject(st, cmd, SR_REJECT_SEAL_MISMATCH,
                                     "SealTargets: stage %" PRIu32 ": %"
                                     PRIu32 " chunks were applied, the seal "
                                     "says %" PRIu32 " (chunks 0 to %" PRIu32
                                     "): a chunk index beyond them was "
                                     "applied", si, s->chunks_applied, chunks,
                                     chunks ? chunks - 1 : 0);
                return;
        }
        if (count != (int64_t)s->targets_appended) {
                sr_fsm__reply_reject(st, cmd, SR_REJECT_SEAL_MISMATCH,
                                     "SealTargets: stage %" PRIu32 ": the "
                                     "seal says %" PRId64 " targets, its %"
                                     PRIu32 " chunks hold %" PRIu32, si,
                                     count, chunks, s->targets_appended);
                return;
        }
        if (!stage_digest(st, si, chunks, d))
                return; /* unreachable: every chunk was found above */
        if (memcmp(d, cmd->u.seal.digest, SR_DIGEST_LEN)) {
                sr_sha256_hex(cmd->u.seal.digest, h1);
                sr_sha256_hex(d, h2);
                sr_fsm__reply_reject(st, cmd, SR_REJECT_SEAL_MISMATCH,
                                     "SealTargets: stage %" PRIu32 ": the "
                                     "seal's digest is %s, the chunks' is %s",
                                     si, h1, h2);
                return;
        }
        s->sealed = true;
        s->seal_chunks = chunks;
        s->seal_count = (uint32_t)count;
        memcpy(s->seal_digest, d, SR_DIGEST_LEN);
        s->m.version++; /* as for a chunk */
        s->m.updated_at = st->now;
        sr_run_mark_stage(st->run, si);
        st->out->applied = true;
        /* Its turn came already: fill it now. */
        if (s->m.status == SR_ST_PROCESSING) {
                sr_fsm__fill_stage(st, si);
                if (sr_status_is_terminal(st->run->stages[si].m.status))
                        sr_fsm__rollup_pr(st);
        }
        sr_fsm__reply_accept(st, cmd, SR_ENT_STAGE_RUN,
                             &st->run->stages[si].m);
}

/* ------------------------------------------------------------ fill */

bool sr_fsm__chunks_init(sr_fsm_chunks_t *f, const sr_run_t *run,
                         uint32_t si, uint32_t k)
{
        const sr_stage_run_t *s = &run->stages[si];

        memset(f, 0, sizeof(*f));
        f->run = run;
        f->n_chunks = s->seal_chunks;
        f->pos = malloc((s->seal_chunks ? s->seal_chunks : 1) *
                        sizeof(*f->pos));
        if (!f->pos)
                return false;
        /* Sealed: chunks 0..n-1 are all in the run, each once. */
        for (uint32_t p = 0; p < run->n_chunks; p++) {
                const sr_stage_chunk_t *c = &run->chunks[p];

                if (c->stage_index == si && c->chunk < f->n_chunks)
                        f->pos[c->chunk] = p;
        }
        sr_fsm__chunks_seek(f, k);
        return true;
}

void sr_fsm__chunks_seek(sr_fsm_chunks_t *f, uint32_t k)
{
        f->c = 0;
        while (f->c < f->n_chunks &&
               k >= f->run->chunks[f->pos[f->c]].n_targets)
                k -= f->run->chunks[f->pos[f->c++]].n_targets;
        f->i = k;
}

const sr_spec_target_t *sr_fsm__chunks_next(sr_fsm_chunks_t *f)
{
        const sr_stage_chunk_t *c = &f->run->chunks[f->pos[f->c]];
        /* read back when paged out (sr_run_chunk_targets()) */
        const sr_spec_target_t *t =
                &sr_run_chunk_targets(f->run, f->pos[f->c])[f->i];

        if (++f->i == c->n_targets && f->c + 1 < f->n_chunks) {
                f->c++;
                f->i = 0;
        }
        return t;
}

void sr_fsm__chunks_fini(sr_fsm_chunks_t *f)
{
        free(f->pos);
        f->pos = NULL;
}

/* ------------------------------------------------------------ steps */

/* StageStep{fill, cursor}: the next part of an open stage's fill, sent by
 * the run to itself (sr_fsm__send_step). It applies only to the fill it
 * continues: stage processing and sealed, and exactly @c cursor target
 * runs made so far. Anything else (the stage cancelled or timed out
 * meanwhile, a step from before a restore, a forged one) is stale and
 * changes nothing. Steps get no reply: nobody waits for one.
 *
 * StageStep{cancel|timeout, cursor}: the next part of the cascade a
 * stage's or pipeline run's end owes its target runs; stale once nothing
 * is owed. StageStep{deadline, cursor}: the next part of the target runs'
 * own deadline, timing out those due at the step's instant; stale once
 * none is due, or when a timeout cascade is owed (its steps do it). */
void sr_fsm__stage_step(step_t *st, const sr_command_t *cmd)
{
        sr_run_t *run = st->run;
        uint32_t si = cmd->u.step.stage_index;
        const sr_stage_run_t *s;

        if (si >= run->pr.n_stages) {
                st->out->stale = true;
                return;
        }
        if (!strcmp(cmd->u.step.step, "cancel") ||
            !strcmp(cmd->u.step.step, "timeout")) {
                /* A cascade's next part; each target run in it gets what
                 * it is owed and has not had, so a replay changes
                 * nothing. */
                if (!sr_fsm__cascade_owed(run, si) ||
                    cmd->u.step.cursor >= run->sidx[si].n_tr) {
                        st->out->stale = true;
                        return;
                }
                sr_fsm__cascade_from(st, si, cmd->u.step.cursor);
                if (!st->out->applied)
                        st->out->stale = true;
                return;
        }
        if (!strcmp(cmd->u.step.step, "deadline")) {
                if (cmd->u.step.cursor >= run->sidx[si].n_tr ||
                    !sr_fsm__deadline_due(run, si, st->now)) {
                        st->out->stale = true;
                        return;
                }
                sr_fsm__deadline_from(st, si, cmd->u.step.cursor, st->now);
                if (!st->out->applied)
                        st->out->stale = true;
                return;
        }
        if (strcmp(cmd->u.step.step, "fill")) {
                st->out->stale = true;
                return;
        }
        s = &run->stages[si];
        if (!s->append_targets || !s->sealed ||
            s->m.status != SR_ST_PROCESSING ||
            sr_status_is_terminal(run->pr.m.status) ||
            run->sidx[si].n_ops == 0 ||
            run->sidx[si].n_tr != cmd->u.step.cursor) {
                st->out->stale = true;
                return;
        }
        sr_fsm__fill_stage(st, si);
}

int64_t sr_fsm__stage_timeout_at(const sr_stage_run_t *s)
{
        return s->queued_at + (s->timeout_seconds > 0 ?
                                       s->timeout_seconds * 1000 :
                                       SR_STAGE_RUN_DEFAULT_TIMEOUT_MS);
}

void sr_fsm__await_targets(step_t *st, uint32_t si)
{
        sr_stage_run_t *s = &st->run->stages[si];
        int64_t fill = st->opts->fill_timeout_ms;

        if (fill > 0 && st->now + fill < s->m.deadline)
                s->m.deadline = st->now + fill;
}

bool sr_fsm__fill_timed_out(const sr_stage_run_t *s, int64_t d)
{
        return s->m.status == SR_ST_PROCESSING && s->append_targets &&
               !s->sealed && d < sr_fsm__stage_timeout_at(s);
}

/* ------------------------------------------------------------ a target run
 * added late (docs/domain-decisions.md, "A target run added late") */

/* AddTargetRun: a client adds a device to a stage run (POST
 * /stageruns/{id}/targetruns/, docs/domain-decisions.md, "A target run
 * added late"). Accepted while the stage is running (every target run
 * made: a stage is running once its fill ends) and nothing ends it: one target
 * run per operation, created and dispatched as the stage's others
 * (sr_fsm__add_device()); the stage then waits for them too. Refused:
 * a stage not processed yet, or one whose target runs are still being
 * made (an open stage's chunks before its seal, a fill in steps); a
 * final stage or pipeline run, a cascade or the target runs' deadline
 * under way; a device already in the stage (duplicate_target: a scan of
 * the stage's first operation, O(stage)); a stage at stage.max.targets
 * (too_large). The reply names the last new target run. */
void sr_fsm__add_target_run(step_t *st, const sr_command_t *cmd)
{
        sr_run_t *run = st->run;
        sr_stage_run_t *s =
                sr_fsm__reach_stage(st, cmd, &cmd->u.add.stage_run_id);
        const sr_run_stage_idx_t *x;
        char sid[SR_UUID_STR_LEN + 1], rid[SR_UUID_STR_LEN + 1];
        char dev[SR_UUID_STR_LEN + 1];
        uint32_t si, m, max = st->opts->max.targets;
        sr_spec_target_t spec;
        const char *cur;

        if (!s)
                return;
        sr_uuid_fmt(&cmd->u.add.stage_run_id, sid);
        sr_uuid_fmt(&run->pr.m.id, rid);
        sr_uuid_fmt(&cmd->u.add.device_id, dev);
        si = s->index;
        x = &run->sidx[si];
        cur = sr_status_name(s->m.status);
        if (sr_status_is_terminal(run->pr.m.status)) {
                sr_fsm__reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
                                     "pipeline run %s is %s, a final status: "
                                     "no target run may be added", rid,
                                     sr_status_name(run->pr.m.status));
                return;
        }
        if (sr_status_is_terminal(s->m.status) ||
            s->m.status == SR_ST_COMPLETE) {
                sr_fsm__reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
                                     "stage run %s is %s, a final status: no "
                                     "target run may be added", sid, cur);
                return;
        }
        if (s->m.status == SR_ST_PENDING || s->m.status == SR_ST_QUEUED) {
                sr_fsm__reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
                                     "stage run %s is %s: its target runs are "
                                     "created when it is processed; add the "
                                     "device to the run spec's stage or to the "
                                     "stored pipeline's target list instead",
                                     sid, cur);
                return;
        }
        if (s->append_targets && !s->sealed) {
                sr_fsm__reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
                                     "stage run %s is %s and open, not sealed: "
                                     "its targets come in chunks; append the "
                                     "device to a chunk (POST .../targets/) "
                                     "before the seal", sid, cur);
                return;
        }
        if (s->m.status != SR_ST_RUNNING) {
                /* processing: filled in steps (an inline stage is filled
                 * within the input that processes it) */
                sr_fsm__reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
                                     "stage run %s is %s: its target runs are "
                                     "being created (%u so far); add the "
                                     "device once it is running", sid, cur,
                                     x->n_tr);
                return;
        }
        if (sr_fsm__cascade_owed(run, si) ||
            sr_fsm__deadline_due(run, si, st->now)) {
                sr_fsm__reply_reject(st, cmd, SR_REJECT_ILLEGAL_TRANSITION,
                                     "stage run %s is %s and its target runs "
                                     "are being ended (a cancel or a timeout "
                                     "under way): no target run may be added",
                                     sid, cur);
                return;
        }
        m = x->n_tr / x->n_ops;
        for (uint32_t k = 0; k < m; k++)
                if (sr_uuid_eq(&sr_run_tr(run, x->first_tr + k)->device_id,
                               &cmd->u.add.device_id)) {
                        sr_fsm__reply_reject(st, cmd,
                                             SR_REJECT_DUPLICATE_TARGET,
                                             "device %s is already a target of "
                                             "stage run %s", dev, sid);
                        return;
                }
        if (max && m >= max) {
                sr_fsm__reply_reject(st, cmd, SR_REJECT_TOO_LARGE,
                                     "stage run %s has %u targets, the most "
                                     "stage.max.targets (%u) allows: no target "
                                     "run may be added", sid, m, max);
                return;
        }
        memset(&spec, 0, sizeof(spec));
        spec.target_id = cmd->u.add.target_id;
        spec.device_id = cmd->u.add.device_id;
        memcpy(spec.device_name, cmd->u.add.device_name,
               sizeof(spec.device_name));
        memcpy(spec.device_alias, cmd->u.add.device_alias,
               sizeof(spec.device_alias));
        if (!sr_fsm__add_device(st, si, &spec))
                return;
        sr_fsm__reply_accept(st, cmd, SR_ENT_TARGET_RUN,
                             &sr_run_tr(run, run->n_targets - 1)->m);
}
