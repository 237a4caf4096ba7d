/* tests/bench/bench_stage.c - the cost per result of ONE run whose single
 * stage has N target runs (issue 17, "Fleet-scale stages"), from creation
 * to success, and of a cancel cascade over such a stage. Not a test: a
 * program, run by hand or by tests/bench/run.sh.
 *
 * What it drives, in one thread, without Kafka: the worker's per-input path
 * as sr_worker_input.c / sr_worker_runs.c run it, minus the broker:
 *   per result: encode it (the agent's side) and decode it (the worker's),
 *   look its dedupe key up in LMDB, sr_fsm_apply_result() on the run kept
 *   in memory (the worker's run cache), put its dedupe record, encode its
 *   events;
 *   per batch of --batch inputs (batch.size, default 2000): write every
 *   dirty entity (sr_run_dirty_*: encode the changelog record, put it into
 *   LMDB), clear the dirty set, commit the LMDB transaction.
 * The run is created by one CREATE_RUN applied in memory (the spec is built
 * here, not parsed: no command-size limit applies), then every target run
 * gets INPROGRESS, then SUCCESS (two passes, like bench_worker).
 *
 * Printed per N (median of --repeat runs, each in a forked process on a
 * fresh heap and a fresh LMDB directory):
 *   cpu_us/r   process CPU time of the result phase / results (2 N)
 *   wall_s     wall time from the create to the run's success
 *   create_s   wall time of the create (materialising the N target runs)
 *   rss_mb     peak RSS (VmHWM) of the process at the run's success
 *   cl_rec/t   changelog records (entities written) per target run
 *   cl_B/t     changelog bytes per target run
 *   cancel_s   wall time of cancelling a second, running stage of N target
 *              runs: one SetStageRunStatus cancelled, then the StageSteps
 *              of the cascade (docs/targets.md section 4), each a batch
 *   peak_ev    the most events one input made before the cancel (an
 *              inline stage's create: 3 N; an open stage's fill step:
 *              3 x --step, whatever N)
 *   c_steps    StageSteps the cancel cascade took
 *   dl_s       wall time of the target runs' own deadline over a third
 *              stage of N target runs, all running (devices that never
 *              answer) under a stage timeout of 14 days: the TimerFired
 *              at their 7-day deadline, then its StageSteps{deadline}
 *   dl_peak    the most events one input of that made
 *   dl_steps   StageSteps it took
 *   load_s     wall time of a cache miss on the finished run: the run
 *              loaded from LMDB as the worker's run cache does
 *              (sr_run_load(): every record of the run decoded once; lean,
 *              nothing resident, under --keep), in a fresh read of the
 *              store (needs the store; 0 with --store off)
 *   load_cpu   the process CPU time of that load
 *
 * --open creates the stage open: its targets appended in chunks of
 * --chunk (default 1,000), each an input and a batch, sealed, and filled
 * --step (stage.step.targets, default 1,000, also the cascade's part) target
 * runs per StageStep input, as the worker applies them.
 *
 * --keep K pages the run as the worker does (cache.run.targets = K,
 * docs/targets.md section 6): after each batch's commit at most K target
 * runs stay decoded, the others are read back from LMDB by key when an
 * input needs them (needs the store).
 *
 * --store off leaves LMDB out (no gets, puts or transactions; the
 * records are still encoded): what the state machine and the codec cost
 * alone, to tell the store's share of a growth from the run's.
 *
 * Usage: bench_stage [--targets N[,N...]] [--repeat K] [--batch B]
 *                    [--store on|off] [--open] [--chunk C] [--step S]
 *                    [--keep K] [--dir PARENT]
 * Default: --targets 1000,10000,100000 --repeat 3 --batch 2000.
 * Environment: BENCH_PERF_CTL=FIFO drives
 * `perf record --control=fifo:FIFO -D -1` so only the result phase is
 * recorded.
 */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kit_bench.h"
#include "sr_codec.h"
#include "sr_digest.h"
#include "sr_fsm.h"
#include "sr_run.h"
#include "sr_run_load.h"
#include "sr_store.h"

#define DIE(...)                                                          \
        do {                                                              \
                fprintf(stderr, "bench_stage: " __VA_ARGS__);             \
                fputc('\n', stderr);                                      \
                exit(1);                                                  \
        } while (0)

#define MAX_NS 16
#define MAX_REPEAT 15

typedef struct figures {
        double cpu_us_per_result, wall_s, create_s, rss_mb;
        double cl_records_per_target, cl_bytes_per_target, cancel_s;
        double peak_events; /* most events of one input (the fill's) */
        double cancel_steps; /* StageSteps of the cancel cascade */
        double deadline_s, deadline_peak_events, deadline_steps;
        double load_s, load_cpu_s; /* a cache miss: the run loaded */
} figures_t;

typedef struct bench {
        sr_store_t *store;
        sr_codec_t *codec;
        sr_txn_t *txn;
        sr_fsm_out_t out;
        sr_run_t run;
        uint64_t cl_records, cl_bytes, ev_bytes;
        uint32_t batch;
        size_t released; /* chunk target bytes freed, not yet trimmed */
        bool no_store; /* --store off */
        int64_t keep;  /* --keep: target runs kept decoded, -1 = all */
        /* --open: the stage created open, its targets appended in chunks
         * of --chunk, sealed, and filled --step target runs per input by
         * the StageSteps the run sends itself (docs/targets.md). */
        bool open;
        uint32_t chunk, step;
        int64_t stage_timeout_s; /* the created stage's, 0: the default */
        sr_fsm_opts_t opts;
        uint32_t peak_events; /* most events one input made */
} bench_t;

/* A cheap distinct id: the counter in the last 8 bytes, @p tag first. */
static void id_of(sr_uuid_t *u, uint8_t tag, uint64_t n)
{
        memset(u, 0, sizeof(*u));
        u->b[0] = tag;
        u->b[6] = 0x50; /* looks like v5 */
        u->b[8] = 0x80;
        memcpy(u->b + 9, &n, 7);
}

static void txn_begin(bench_t *b)
{
        sr_errctx_t ec = { 0 };

        if (b->no_store)
                return;
        if (sr_store_txn_begin(b->store, true, &b->txn, &ec))
                DIE("txn begin: %s", ec.msg);
}

/* --keep: the record under @p key read back and decoded, as the
 * worker's read_back(). */
static sr_err_t read_back(bench_t *b, const char *key, size_t n,
                          sr_changelog_t *cl, sr_errctx_t *ec)
{
        sr_slice_t v;
        sr_err_t err = sr_store_get(b->txn, 0, sr_slice(key, n), &v, ec);

        return err ? err : sr_codec_decode_changelog(b->codec, v, cl, ec);
}

/* --keep: a target run read back by key, as the worker's page_in(). */
static sr_err_t page_in(const sr_run_t *run, uint32_t ti,
                        sr_target_run_t *out, void *arg, sr_errctx_t *ec)
{
        bench_t *b = arg;
        char key[SR_ENTITY_KEY_MAX];
        sr_changelog_t cl;
        sr_err_t err = read_back(b, key, sr_run_tr_key(run, ti, key), &cl,
                                 ec);

        if (err)
                return err;
        *out = cl.u.entity.u.tr;
        return SR_OK;
}

/* --keep: a chunk read back by key, as the worker's chunk_in(). */
static sr_err_t chunk_in(const sr_run_t *run, uint32_t pos,
                         sr_stage_chunk_t *out, void *arg, sr_errctx_t *ec)
{
        char key[SR_ENTITY_KEY_MAX];
        sr_changelog_t cl;
        sr_err_t err = read_back(arg, key,
                                 sr_chunk_key(&run->chunks[pos], key), &cl,
                                 ec);

        if (err)
                return err;
        *out = cl.u.chunk;
        return SR_OK;
}

/* An empty run, paged when --keep says so. */
static void run_reset(bench_t *b)
{
        sr_run_fini(&b->run);
        sr_run_init(&b->run);
        if (b->keep >= 0)
                sr_run_set_pager(&b->run, page_in, chunk_in, b);
}

/* Put one encoded record under @p key and count it (the changelog's). */
static void put_record(bench_t *b, const char *key, size_t kn,
                       sr_buf_t *val)
{
        sr_errctx_t ec = { 0 };

        if (!b->no_store &&
            sr_store_put(b->txn, 0, sr_slice(key, kn), sr_buf_slice(val),
                         &ec))
                DIE("store put: %s", ec.msg);
        b->cl_records++;
        b->cl_bytes += val->len;
        sr_buf_free(val);
}

/* Write one entity the way the worker's run_save() does. */
static int save_entity(const sr_entity_t *e, void *arg)
{
        bench_t *b = arg;
        char key[SR_ENTITY_KEY_MAX];
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { 0 };

        if (sr_codec_encode_entity(b->codec, e, &val, &ec))
                DIE("encode entity: %s", ec.msg);
        put_record(b, key, sr_entity_key(e, key), &val);
        return 0;
}

/* Write one new chunk of an open stage, as the worker's save_chunk(). */
static int save_chunk(const sr_stage_chunk_t *c, void *arg)
{
        bench_t *b = arg;
        char key[SR_ENTITY_KEY_MAX];
        sr_errctx_t ec = { 0 };
        sr_changelog_t cl;
        sr_buf_t val = { 0 };

        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_CHUNK;
        cl.u.chunk = *c;
        if (sr_codec_encode_changelog(b->codec, &cl, &val, &ec))
                DIE("encode chunk: %s", ec.msg);
        put_record(b, key, sr_chunk_key(c, key), &val);
        return 0;
}

/* The end of a batch: the dirty entities, then commit. */
static void txn_commit(bench_t *b)
{
        sr_errctx_t ec = { 0 };

        if (b->run.exists) {
                sr_run_dirty_chunks_each(&b->run, save_chunk, b);
                sr_run_dirty_each(&b->run, save_entity, b);
        }
        sr_run_clear_dirty(&b->run);
        /* as save_batch() after a save, and its trim */
        b->released += (size_t)sr_run_release_chunks(&b->run) *
                       sizeof(sr_spec_target_t);
        if (b->keep >= 0)
                b->released += (size_t)sr_run_evict(&b->run,
                                                    (uint32_t)b->keep) *
                               sizeof(sr_target_run_t);
        if (b->released >= ((size_t)64 << 20)) {
                malloc_trim(0);
                b->released = 0;
        }
        if (b->no_store)
                return;
        if (sr_store_txn_commit(b->txn, &ec))
                DIE("txn commit: %s", ec.msg);
        b->txn = NULL;
}

/* The outputs of one input: events and dispatches encoded, as published. */
static void encode_outputs(bench_t *b)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };

        if (b->out.n_events > b->peak_events)
                b->peak_events = b->out.n_events;
        for (uint32_t i = 0; i < b->out.n_events; i++) {
                buf.len = 0;
                if (sr_codec_encode_event(b->codec, &b->out.events[i], &buf,
                                          &ec))
                        DIE("encode event: %s", ec.msg);
                b->ev_bytes += buf.len;
                sr_buf_free(&buf);
        }
        for (uint32_t i = 0; i < b->out.n_dispatches; i++) {
                if (sr_codec_encode_dispatch(b->codec, &b->out.dispatches[i],
                                             &buf, &ec))
                        DIE("encode dispatch: %s", ec.msg);
                sr_buf_free(&buf);
        }
}

/* One command as its own batch (an input through the worker's path but
 * the dedupe lookup, which results pay in one_result()). */
static void one_command(bench_t *b, sr_command_t *cmd, int64_t now)
{
        sr_err_t err;

        txn_begin(b);
        err = sr_fsm_apply_command(&b->run, cmd, now, &b->opts, &b->out);
        if (err || (b->out.has_reply && !b->out.reply.accepted))
                DIE("%s: %s %s", cmd->kind == SR_CMD_STAGE_STEP ? "step" :
                                 "command", sr_err_name(err),
                    b->out.reply.message);
        encode_outputs(b);
        txn_commit(b);
}

/* An open stage's targets: chunks of b->chunk in chunk order, each one
 * input (and batch); the seal; then each StageStep the run sends itself,
 * one input after the other as the worker's partition delivers them. */
static void fill_open(bench_t *b, const sr_uuid_t *run_id, uint32_t n,
                      int64_t now)
{
        uint32_t n_chunks = (n + b->chunk - 1) / b->chunk;
        uint8_t (*digests)[SR_DIGEST_LEN] = calloc(n_chunks, SR_DIGEST_LEN);
        sr_errctx_t ec = { 0 };
        sr_command_t cmd;
        uint64_t k = 0;

        if (!digests)
                DIE("out of memory");
        for (uint32_t c = 0; c < n_chunks; c++) {
                uint32_t first = c * b->chunk;
                uint32_t m = n - first < b->chunk ? n - first : b->chunk;

                memset(&cmd, 0, sizeof(cmd));
                cmd.kind = SR_CMD_APPEND_TARGETS;
                id_of(&cmd.command_id, 7, ((uint64_t)now << 24) + c);
                cmd.pipeline_run_id = *run_id;
                snprintf(cmd.enterprise_id, sizeof(cmd.enterprise_id),
                         "bench");
                cmd.u.append.chunk = c;
                cmd.u.append.n_targets = m;
                cmd.u.append.targets = calloc(m, sizeof(sr_spec_target_t));
                if (!cmd.u.append.targets)
                        DIE("out of memory");
                for (uint32_t i = 0; i < m; i++) {
                        id_of(&cmd.u.append.targets[i].device_id, 3,
                              first + i);
                        snprintf(cmd.u.append.targets[i].device_name,
                                 sizeof(cmd.u.append.targets[i].device_name),
                                 "dev-%" PRIu32, first + i);
                }
                if (sr_targets_digest(cmd.u.append.targets, m,
                                      cmd.u.append.digest, &ec))
                        DIE("digest: %s", ec.msg);
                memcpy(digests[c], cmd.u.append.digest, SR_DIGEST_LEN);
                one_command(b, &cmd, ++now);
                sr_command_fini(&cmd);
        }
        memset(&cmd, 0, sizeof(cmd));
        cmd.kind = SR_CMD_SEAL_TARGETS;
        id_of(&cmd.command_id, 8, (uint64_t)now);
        cmd.pipeline_run_id = *run_id;
        snprintf(cmd.enterprise_id, sizeof(cmd.enterprise_id), "bench");
        cmd.u.seal.chunks = n_chunks;
        cmd.u.seal.count = n;
        if (sr_seal_digest((const uint8_t(*)[SR_DIGEST_LEN])digests,
                           n_chunks, cmd.u.seal.digest, &ec))
                DIE("seal digest: %s", ec.msg);
        free(digests);
        one_command(b, &cmd, ++now);
        while (b->out.n_steps) {
                sr_command_t step = b->out.steps[0];

                one_command(b, &step, ++now);
                k++;
        }
        if (b->run.stages[0].m.status != SR_ST_RUNNING)
                DIE("open stage is %s after its fill (%" PRIu64 " steps)",
                    sr_status_name(b->run.stages[0].m.status), k);
}

static void create(bench_t *b, const sr_uuid_t *run_id, uint32_t n,
                   int64_t now)
{
        sr_command_t cmd;
        sr_spec_stage_t *st;
        sr_errctx_t ec = { 0 };
        sr_err_t err;

        memset(&cmd, 0, sizeof(cmd));
        cmd.kind = SR_CMD_CREATE_RUN;
        id_of(&cmd.command_id, 1, now);
        cmd.pipeline_run_id = *run_id;
        snprintf(cmd.enterprise_id, sizeof(cmd.enterprise_id), "bench");
        cmd.issued_at = now;
        id_of(&cmd.u.create.spec.pipeline_id, 2, 1);
        snprintf(cmd.u.create.spec.pipeline_name,
                 sizeof(cmd.u.create.spec.pipeline_name), "fleet");
        cmd.u.create.spec.n_stages = 1;
        st = cmd.u.create.spec.stages = calloc(1, sizeof(*st));
        if (!st)
                DIE("out of memory");
        snprintf(st->name, sizeof(st->name), "all");
        st->timeout_seconds = b->stage_timeout_s;
        cmd.u.create.spec.timeout_seconds = 2 * b->stage_timeout_s;
        st->n_ops = 1;
        st->ops = calloc(1, sizeof(*st->ops));
        st->n_targets = n;
        st->targets = calloc(n, sizeof(*st->targets));
        if (!st->ops || !st->targets)
                DIE("out of memory");
        snprintf(st->ops[0].operation_type, sizeof(st->ops[0].operation_type),
                 "REBOOT");
        if (b->open) {
                free(st->targets);
                st->targets = NULL;
                st->n_targets = 0;
                st->append_targets = true;
                st->expected_targets = n;
        }
        for (uint32_t i = 0; i < st->n_targets; i++) {
                id_of(&st->targets[i].device_id, 3, i);
                snprintf(st->targets[i].device_name,
                         sizeof(st->targets[i].device_name), "dev-%" PRIu32,
                         i);
        }
        txn_begin(b);
        err = sr_fsm_apply_command(&b->run, &cmd, now, &b->opts, &b->out);
        if (err || !b->out.reply.accepted)
                DIE("create: %s %s", sr_err_name(err), b->out.reply.message);
        encode_outputs(b);
        txn_commit(b);
        (void)ec;
        sr_command_fini(&cmd);
        if (b->open)
                fill_open(b, run_id, n, now);
}

/* One result through the worker's path (see the file comment). */
static void one_result(bench_t *b, const sr_target_run_t *t,
                       const char *status, uint64_t n, int64_t now)
{
        char key[SR_ENTITY_KEY_MAX];
        sr_result_t res, got;
        sr_changelog_t cl;
        sr_errctx_t ec = { 0 };
        sr_buf_t wire = { 0 }, val = { 0 };
        sr_slice_t old;
        size_t kn;
        sr_err_t err;

        memset(&res, 0, sizeof(res));
        id_of(&res.result_id, 4, n);
        res.pipeline_run_id = t->pipeline_run_id;
        res.stage_run_id = t->stage_run_id;
        res.target_run_id = t->m.id;
        res.command_id = t->command_id;
        res.device_id = t->device_id;
        snprintf(res.command_status, sizeof(res.command_status), "%s", status);
        res.reported_at = now;
        if (sr_codec_encode_result(b->codec, &res, &wire, &ec) ||
            sr_codec_decode_result(b->codec, sr_buf_slice(&wire), &got, &ec))
                DIE("result codec: %s", ec.msg);
        kn = sr_dedupe_key(&got.pipeline_run_id, &got.result_id, key);
        err = b->no_store ? SR_ERR_NOT_FOUND :
                            sr_store_get(b->txn, 0, sr_slice(key, kn), &old,
                                         &ec);
        if (err != SR_ERR_NOT_FOUND)
                DIE("dedupe lookup: %s", sr_err_name(err));
        err = sr_fsm_apply_result(&b->run, &got, now, &b->opts, &b->out);
        if (err || !b->out.applied)
                DIE("result %s: %s", status, sr_err_name(err));
        encode_outputs(b);
        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_DEDUPE;
        cl.u.dedupe.input_id = got.result_id;
        cl.u.dedupe.pipeline_run_id = got.pipeline_run_id;
        if (sr_codec_encode_changelog(b->codec, &cl, &val, &ec) ||
            (!b->no_store &&
             sr_store_put(b->txn, 0, sr_slice(key, kn), sr_buf_slice(&val),
                          &ec)))
                DIE("dedupe put: %s", ec.msg);
        b->cl_records++;
        b->cl_bytes += val.len;
        sr_buf_free(&val);
        sr_buf_free(&wire);
}

typedef struct mode {
        uint32_t batch;
        bool no_store, open;
        uint32_t chunk, step;
        int64_t keep;
} mode_t_;

static void bench_open(bench_t *b, const char *dir, uint32_t n,
                       const mode_t_ *mo)
{
        sr_store_opts_t so = { dir, (size_t)(256u << 20) +
                                            (size_t)n * 8192u, false };
        sr_errctx_t ec = { 0 };

        memset(b, 0, sizeof(*b));
        b->batch = mo->batch;
        b->no_store = mo->no_store;
        b->open = mo->open;
        b->chunk = mo->chunk;
        b->step = mo->step;
        b->keep = mo->keep;
        b->opts.max.targets = 10000000;
        b->opts.chunk_targets = mo->chunk;
        b->opts.step_targets = mo->step;
        if (sr_store_open(&so, &b->store, &ec) ||
            sr_codec_new(&b->codec, &ec))
                DIE("open: %s", ec.msg);
        sr_fsm_out_init(&b->out);
        sr_run_init(&b->run);
        run_reset(b);
}

static void bench_close(bench_t *b)
{
        sr_run_fini(&b->run);
        sr_fsm_out_fini(&b->out);
        sr_codec_destroy(b->codec);
        sr_store_close(b->store);
}

/* Profiling hook: see the file comment. */
static void perf_ctl(const char *cmd)
{
        const char *path = getenv("BENCH_PERF_CTL");
        FILE *f;

        if (!path || !*path)
                return;
        f = fopen(path, "w");
        if (!f) {
                fprintf(stderr, "bench_stage: BENCH_PERF_CTL %s: %s\n", path,
                        strerror(errno));
                return;
        }
        fprintf(f, "%s\n", cmd);
        fclose(f);
}

/* The target runs' own deadline (docs/targets.md section 4): a third run,
 * its stage timing out after them (14 days), every target run running as
 * if its device never answered; the TimerFired at their deadline, then the
 * StageSteps it sends, each an input and a batch, as the worker's
 * partition delivers them (at the timer's instant: a step's record
 * carries its cause's). */
static void deadline_phase(bench_t *b, uint32_t n, figures_t *f, int64_t now)
{
        const sr_run_stage_idx_t *x;
        sr_command_t cmd;
        uint64_t seq = 1u << 30;
        double t0;

        run_reset(b);
        memset(&cmd, 0, sizeof(cmd));
        id_of(&cmd.pipeline_run_id, 5, 3);
        b->stage_timeout_s = 14 * 86400;
        create(b, &cmd.pipeline_run_id, n, ++now);
        b->stage_timeout_s = 0;
        x = &b->run.sidx[0];
        for (uint32_t ti = 0; ti < x->n_tr;) {
                txn_begin(b);
                for (uint32_t k = 0; k < b->batch && ti < x->n_tr; k++, ti++)
                        one_result(b, sr_run_tr(&b->run, x->first_tr + ti),
                                   "INPROGRESS", ++seq, ++now);
                txn_commit(b);
        }
        cmd.kind = SR_CMD_TIMER_FIRED;
        id_of(&cmd.command_id, 9, 1);
        snprintf(cmd.enterprise_id, sizeof(cmd.enterprise_id), "bench");
        cmd.u.timer.entity_type = SR_ENT_PIPELINE_RUN;
        cmd.u.timer.entity_id = cmd.pipeline_run_id;
        cmd.u.timer.deadline = b->run.tri[x->first_tr].deadline;
        if (cmd.u.timer.deadline >= b->run.stages[0].m.deadline)
                DIE("the target runs' deadline is not before the stage's");
        now = cmd.issued_at = cmd.u.timer.deadline;
        b->peak_events = 0;
        t0 = kit_mono_s();
        one_command(b, &cmd, now);
        while (b->out.n_steps) {
                sr_command_t step = b->out.steps[0];

                one_command(b, &step, step.issued_at);
                f->deadline_steps++;
        }
        f->deadline_s = kit_mono_s() - t0;
        f->deadline_peak_events = b->peak_events;
        if (b->run.n_tr_status[SR_ST_TIMEOUT] != n ||
            b->run.stages[0].m.status != SR_ST_FAILURE)
                DIE("%" PRIu32 " of %" PRIu32 " target runs timed out, the "
                    "stage %s, after the deadline",
                    b->run.n_tr_status[SR_ST_TIMEOUT], n,
                    sr_status_name(b->run.stages[0].m.status));
}

/* A cache miss on the finished run @p rid: loaded from the store as the
 * worker loads it, timed, and checked (every target run, success). */
static void load_phase(bench_t *b, const sr_uuid_t *rid, uint32_t n,
                       figures_t *f)
{
        sr_errctx_t ec = { 0 };
        sr_run_t run;
        double t0, c0;

        if (b->no_store)
                return;
        txn_begin(b);
        sr_run_init(&run);
        if (b->keep >= 0)
                sr_run_set_pager(&run, page_in, chunk_in, b);
        t0 = kit_mono_s();
        c0 = kit_cpu_s();
        if (sr_run_load(b->txn, 0, b->codec, rid, &run, &ec))
                DIE("load: %s", ec.msg);
        f->load_cpu_s = kit_cpu_s() - c0;
        f->load_s = kit_mono_s() - t0;
        if (!run.exists || run.pr.m.status != SR_ST_SUCCESS ||
            run.n_targets != n || run.n_tr_status[SR_ST_SUCCESS] != n)
                DIE("loaded run: %s, %" PRIu32 " target runs, %" PRIu32
                    " success, of %" PRIu32, sr_status_name(run.pr.m.status),
                    run.n_targets, run.n_tr_status[SR_ST_SUCCESS], n);
        sr_run_fini(&run);
        sr_store_txn_abort(b->txn);
        b->txn = NULL;
}

static figures_t run_once(const char *parent, uint32_t n, const mode_t_ *mo)
{
        uint32_t batch = mo->batch;
        static const char *const pass[2] = { "INPROGRESS", "SUCCESS" };
        char dir[4096];
        figures_t f = { 0 };
        bench_t b;
        sr_uuid_t rid;
        int64_t now = 1700000000000LL;
        uint64_t seq = 0;
        double t0, t1, c0;
        char cmdline[4200];

        snprintf(dir, sizeof(dir), "%s/bench_stage.%d", parent, (int)getpid());
        bench_open(&b, dir, n, mo);
        id_of(&rid, 5, 1);
        t0 = kit_mono_s();
        create(&b, &rid, n, now);
        f.create_s = kit_mono_s() - t0;
        perf_ctl("enable");
        c0 = kit_cpu_s();
        for (int p = 0; p < 2; p++) {
                uint32_t ti = 0;
                const sr_run_stage_idx_t *x = &b.run.sidx[0];

                while (ti < x->n_tr) {
                        txn_begin(&b);
                        for (uint32_t k = 0; k < batch && ti < x->n_tr;
                             k++, ti++)
                                one_result(&b,
                                           sr_run_tr(&b.run, x->first_tr + ti),
                                           pass[p], ++seq, ++now);
                        txn_commit(&b);
                }
        }
        t1 = kit_mono_s();
        f.cpu_us_per_result = (kit_cpu_s() - c0) * 1e6 / (2.0 * n);
        perf_ctl("disable");
        f.wall_s = t1 - t0;
        f.rss_mb = kit_proc_status_mb("VmHWM");
        if (b.run.pr.m.status != SR_ST_SUCCESS)
                DIE("run ended %s, not success",
                    sr_status_name(b.run.pr.m.status));
        f.peak_events = b.peak_events;
        f.cl_records_per_target = (double)b.cl_records / n;
        f.cl_bytes_per_target = (double)b.cl_bytes / n;
        load_phase(&b, &rid, n, &f);
        /* The cancel cascade: a second run, its stage running. */
        run_reset(&b);
        id_of(&rid, 5, 2);
        create(&b, &rid, n, ++now);
        {
                sr_command_t cmd;
                sr_err_t err;

                memset(&cmd, 0, sizeof(cmd));
                cmd.kind = SR_CMD_SET_STAGE_RUN_STATUS;
                id_of(&cmd.command_id, 6, 1);
                cmd.pipeline_run_id = rid;
                snprintf(cmd.enterprise_id, sizeof(cmd.enterprise_id),
                         "bench");
                cmd.u.set.entity_id = b.run.stages[0].m.id;
                snprintf(cmd.u.set.status, sizeof(cmd.u.set.status),
                         "cancelled");
                t0 = kit_mono_s();
                txn_begin(&b);
                err = sr_fsm_apply_command(&b.run, &cmd, ++now, &b.opts,
                                           &b.out);
                if (err || !b.out.reply.accepted)
                        DIE("cancel: %s %s", sr_err_name(err),
                            b.out.reply.message);
                encode_outputs(&b);
                txn_commit(&b);
                /* the rest of the cascade: the StageSteps it sent, each
                 * one input and batch */
                while (b.out.n_steps) {
                        sr_command_t step = b.out.steps[0];

                        one_command(&b, &step, ++now);
                        f.cancel_steps++;
                }
                f.cancel_s = kit_mono_s() - t0;
                if (b.run.stages[0].m.status != SR_ST_CANCELLED)
                        DIE("stage is %s after the cancel",
                            sr_status_name(b.run.stages[0].m.status));
                if (b.run.n_tr_status[SR_ST_CANCELLED] != n)
                        DIE("%" PRIu32 " of %" PRIu32 " target runs "
                            "cancelled after the cascade",
                            b.run.n_tr_status[SR_ST_CANCELLED], n);
        }
        deadline_phase(&b, n, &f, now);
        bench_close(&b);
        snprintf(cmdline, sizeof(cmdline), "rm -rf '%s'", dir);
        if (system(cmdline) != 0)
                fprintf(stderr, "bench_stage: could not remove %s\n", dir);
        return f;
}

/* run_once() in a child process (fresh heap, its own peak RSS). */
static figures_t run_fresh(const char *parent, uint32_t n, const mode_t_ *mo)
{
        int fds[2];
        figures_t f;
        pid_t pid;
        int status;

        if (pipe(fds))
                DIE("pipe: %s", strerror(errno));
        fflush(NULL);
        pid = fork();
        if (pid < 0)
                DIE("fork: %s", strerror(errno));
        if (pid == 0) {
                close(fds[0]);
                f = run_once(parent, n, mo);
                if (write(fds[1], &f, sizeof(f)) != (ssize_t)sizeof(f))
                        _exit(1);
                _exit(0);
        }
        close(fds[1]);
        if (read(fds[0], &f, sizeof(f)) != (ssize_t)sizeof(f))
                DIE("repeat for N=%" PRIu32 " failed", n);
        close(fds[0]);
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
            WEXITSTATUS(status))
                DIE("repeat for N=%" PRIu32 " failed", n);
        return f;
}

static double median_of(const figures_t *v, int k, size_t off)
{
        double a[MAX_REPEAT];

        for (int i = 0; i < k; i++)
                memcpy(&a[i], (const char *)&v[i] + off, sizeof(double));
        qsort(a, (size_t)k, sizeof(double), kit_cmp_double);
        return k % 2 ? a[k / 2] : (a[k / 2 - 1] + a[k / 2]) / 2;
}

static void print_row(const char *label, uint32_t n, const figures_t *f)
{
        printf("%-7s %9" PRIu32 " %9.2f %8.2f %8.2f %8.1f %8.2f %8.0f %9.3f "
               "%9.0f %8.0f %8.3f %8.0f %8.0f %8.3f %8.3f\n",
               label, n, f->cpu_us_per_result, f->wall_s, f->create_s,
               f->rss_mb, f->cl_records_per_target, f->cl_bytes_per_target,
               f->cancel_s, f->peak_events, f->cancel_steps, f->deadline_s,
               f->deadline_peak_events, f->deadline_steps, f->load_s,
               f->load_cpu_s);
        fflush(stdout);
}

static void usage(void)
{
        fprintf(stderr, "usage: bench_stage [--targets N[,N...]] "
                        "[--repeat K] [--batch B] [--store on|off] "
                        "[--open] [--chunk C] [--step S] [--keep K] "
                        "[--dir PARENT]\n");
        exit(2);
}

int main(int argc, char **argv)
{
        uint32_t ns[MAX_NS] = { 1000, 10000, 100000 };
        int n_ns = 3, repeat = 3;
        mode_t_ mo = { 2000, false, false, 1000, 1000, -1 };
        const char *parent = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

        for (int i = 1; i < argc; i++) {
                const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

                if (!strcmp(a, "--open")) {
                        mo.open = true;
                        continue;
                }
                if (!v)
                        usage();
                i++;
                if (!strcmp(a, "--targets")) {
                        char *end;

                        n_ns = 0;
                        for (const char *p = v; *p && n_ns < MAX_NS;) {
                                unsigned long x = strtoul(p, &end, 10);

                                if (end == p || x < 1 || x > 10000000)
                                        usage();
                                ns[n_ns++] = (uint32_t)x;
                                p = *end == ',' ? end + 1 : end;
                                if (*end && *end != ',')
                                        usage();
                        }
                } else if (!strcmp(a, "--repeat")) {
                        repeat = atoi(v);
                        if (repeat < 1 || repeat > MAX_REPEAT)
                                usage();
                } else if (!strcmp(a, "--batch")) {
                        mo.batch = (uint32_t)atoi(v);
                        if (mo.batch < 1)
                                usage();
                } else if (!strcmp(a, "--chunk")) {
                        mo.chunk = (uint32_t)atoi(v);
                        if (mo.chunk < 1 || mo.chunk > 10000)
                                usage();
                } else if (!strcmp(a, "--step")) {
                        mo.step = (uint32_t)atoi(v);
                        if (mo.step < 1)
                                usage();
                } else if (!strcmp(a, "--keep")) {
                        mo.keep = atoll(v);
                        if (mo.keep < 0 || mo.keep > 100000000)
                                usage();
                } else if (!strcmp(a, "--store")) {
                        if (strcmp(v, "on") && strcmp(v, "off"))
                                usage();
                        mo.no_store = !strcmp(v, "off");
                } else if (!strcmp(a, "--dir")) {
                        parent = v;
                } else {
                        usage();
                }
        }
        printf("# one run, one stage x one operation x N targets; results "
               "INPROGRESS then SUCCESS per target; batch %" PRIu32
               "; LMDB %s; median of %d\n",
               mo.batch, mo.no_store ? "off" : "on", repeat);
        if (mo.keep >= 0 && mo.no_store)
                usage();
        if (mo.keep >= 0)
                printf("# paged: at most %" PRId64 " target runs decoded "
                       "between batches, the others read back by key\n",
                       mo.keep);
        if (mo.open)
                printf("# open stage: chunks of %" PRIu32 ", sealed, filled "
                       "%" PRIu32 " target runs per StageStep\n", mo.chunk,
                       mo.step);
        else
                printf("# inline stage: targets in the create, filled in "
                       "one input\n");
        printf("%-7s %9s %9s %8s %8s %8s %8s %8s %9s %9s %8s %8s %8s %8s "
               "%8s %8s\n",
               "", "targets", "cpu_us/r", "wall_s", "create_s", "rss_mb",
               "cl_rec/t", "cl_B/t", "cancel_s", "peak_ev", "c_steps", "dl_s",
               "dl_peak", "dl_steps", "load_s", "load_cpu");
        for (int i = 0; i < n_ns; i++) {
                figures_t f[MAX_REPEAT], m;

                for (int r = 0; r < repeat; r++) {
                        f[r] = run_fresh(parent, ns[i], &mo);
                        print_row("repeat", ns[i], &f[r]);
                }
#define MED(field) m.field = median_of(f, repeat, offsetof(figures_t, field))
                MED(cpu_us_per_result);
                MED(wall_s);
                MED(create_s);
                MED(rss_mb);
                MED(cl_records_per_target);
                MED(cl_bytes_per_target);
                MED(cancel_s);
                MED(peak_events);
                MED(cancel_steps);
                MED(deadline_s);
                MED(deadline_peak_events);
                MED(deadline_steps);
                MED(load_s);
                MED(load_cpu_s);
#undef MED
                print_row("median", ns[i], &m);
        }
        return 0;
}
