/* common/status/sr_worker_int.h - what the files of the status worker
 * share: struct sr_worker, its per-partition and per-batch state, and the
 * module-internal functions (sr_worker__: module-internal), by file:
 *
 *   sr_worker.c          lifecycle, the poll loop, readiness, fatal state
 *   sr_worker_metrics.c  metric registration, per-batch stats, latency
 *   sr_worker_input.c    decoding and applying inputs, refusals, dead
 *                        letters, result forwarding
 *   sr_worker_runs.c     the run cache, loading and saving runs, the batch
 *                        transaction
 *   sr_worker_emit.c     state-machine outputs as records, their size checks
 *   sr_worker_outbox.c   the one owner of the outbox: batch records in
 *                        memory and in LMDB, relay, acks, resends, the
 *                        timers' TimerFired commands
 *   sr_worker_outbox_pipe.c  the outbox's pipelined relay
 *   sr_worker_restore.c  assignment, trust-or-restore, revoke
 *   sr_worker_timers.c   the timer heaps: arming, firing due timers
 *
 * Included by those files only. The protocol: docs/guarantee.md.
 */
#ifndef SR_WORKER_INT_H
#define SR_WORKER_INT_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "sr_codec.h"
#include "sr_defs.h"
#include "sr_fsm.h"
#include "sr_kafka.h"
#include "sr_outbox.h"
#include "sr_store.h"
#include "sr_worker.h"

#define MAX_PARTS 1024
#define SR_WORKER_TIMERS_PER_TICK 1024 /* timers fired per tick, at most */
#define MARKER_KEY "~marker"
/* "~claim/WRITER": a new owner's claim on a changelog partition */
#define CLAIM_KEY "~claim"
#define BATCH_HEADER "sr_batch"
#define FORWARD_HEADER "sr_forwarded_from"
#define RELAY_TIMEOUT_MS 30000
/* A restore slice between two polls: this long at most when the poll
 * brought no input, RESTORE_SLICE_BUSY_MS when it did (the ready
 * partitions' batches and the restore share the thread). */
#define RESTORE_SLICE_MS 100
#define RESTORE_SLICE_BUSY_MS 20
#define RESTORE_STALL_S 120 /* no changelog record for this long: retry */

typedef struct timer_ent {
        int64_t deadline;
        sr_uuid_t run;
} timer_ent_t;

typedef struct timer_heap {
        timer_ent_t *v;
        size_t n, cap;
} timer_heap_t;

typedef struct part {
        bool owned;
        bool touched; /* has work in the current batch */
        int64_t next_cmd, next_res; /* next input offsets seen this batch */
        uint64_t last_seq; /* outbox seq of its last record this batch */
        sr_store_pmeta_t pm; /* its input offsets after this batch */
        timer_heap_t timers; /* the timers' (sr_worker_timers.c) */
        /* the outbox's, outbox mode: TimerFired commands sent, not known
         * delivered */
        timer_heap_t unacked;
        /* Assigned, input paused, snapshot being rebuilt (not owned yet);
         * then restored, input not started yet (sr_worker_restore.c). */
        bool restoring, start_pending;
        /* exactly_once, restoring: a transaction was still open on its
         * changelog partition when assigned: trusted or restored once it
         * settles (sr_worker__restore_step); stable_t0, stable_next,
         * stable_warn: when the wait began, when to look again, when to
         * warn again (monotonic seconds) */
        bool await_stable;
        double stable_t0, stable_next, stable_warn;
        uint64_t restore_total; /* its changelog's records */
        int restore_attempts, restore_grows;
        int64_t start[2]; /* restored: input offsets (commands, results) */
        /* outbox mode: this ownership period's claim on its changelog
         * partition is acknowledged; acknowledgements not contiguous with
         * our previous ones there, beyond gap_base, mean another writer
         * claimed it (sr_worker__fence_check()) */
        bool claimed;
        uint64_t gap_base;
        int64_t claim_high; /* the changelog's end when assigned */
} part_t;

typedef struct restore_ctx restore_ctx_t;

/* A run as decoded from the snapshot, kept between batches (the run
 * cache) and changed in place by the state machine. The snapshot is only
 * written by this worker's batches, so a cached run equals its LMDB copy
 * after every committed batch; an aborted batch drops the cache. */
typedef struct batch_run {
        struct sr_worker *w; /* its pager's */
        int32_t partition;
        sr_uuid_t id;
        sr_run_t run;
        int64_t loaded_deadline; /* run.pr.next_deadline already in heap */
        uint64_t used_in;        /* batch_no of its last use */
        uint32_t entities;       /* what it counts against cache.entities */
        int last_in;             /* index in recs of its last input */
} batch_run_t;

/* A phase-1 or phase-2 record of a batch, kept in memory (as written to
 * the outbox) so the relay need not read the outbox back. */
typedef struct mem_rec {
        int32_t partition;
        uint8_t phase;
        size_t off, len; /* into membuf_t.bytes */
} mem_rec_t;

/* The outbox records of one batch, in order. */
typedef struct membuf {
        mem_rec_t *recs;
        size_t n, cap;
        uint8_t *bytes;
        size_t len, bytes_cap;
} membuf_t;

/* Input offsets of some partitions' snapshots, to commit. */
typedef struct offsets {
        sr_topic_kind_t topic[2 * MAX_PARTS];
        int32_t part[2 * MAX_PARTS];
        int64_t off[2 * MAX_PARTS];
        int n;
} offsets_t;

/* A batch of the pipelined relay (sr_worker__pipe_step()), between its
 * LMDB commit and the acknowledgement of its last phase. */
typedef struct pipe_batch {
        bool active;
        int np;
        int32_t parts[MAX_PARTS];
        uint64_t last[MAX_PARTS]; /* its last outbox seq, per partition */
        uint64_t records;         /* its outbox records */
        offsets_t offs;           /* input offsets once it is published */
        int64_t *ts;              /* its inputs' timestamps (latency) */
        int n_ts;
} pipe_batch_t;

/* Metric increments of the current batch, added to the registry only when
 * its transaction commits (a batch redone after MDB_MAP_FULL counts once). */
typedef struct batch_stats {
        uint32_t inputs[2][6];
        uint32_t transitions[SR_ENT__COUNT][SR_ST__COUNT];
        uint32_t rejections[SR_REJECT__COUNT];
        uint32_t dead_letters, events;
        uint32_t retired, forgotten, retired_inputs; /* retention */
        uint32_t page_ins;  /* target runs read back by key */
        uint32_t chunk_ins; /* chunks read back by key */
} batch_stats_t;

/* An input of the current poll refused after it was applied: a record it
 * leads to would be over the output budget (SR_REJECT_TOO_LARGE), or the
 * state machine refused a transition of its own (SR_REJECT_INTERNAL, a
 * defect). The batch is redone without its changes. */
typedef struct refusal {
        int input; /* index in recs */
        sr_reject_t reason;
        char why[200];
} refusal_t;

typedef struct metrics {
        sr_series_t *inputs[2][6]; /* topic x outcome */
        sr_series_t *transitions[SR_ENT__COUNT][SR_ST__COUNT];
        sr_series_t *rejections[SR_REJECT__COUNT];
        sr_series_t *dead_letters;
        sr_series_t *inputs_lost[2]; /* commands, results */
        sr_series_t *events, *outbox_depth, *lag, *latency, *batch_latency;
        sr_series_t *buffer_bytes;
        sr_series_t *restore_records, *restoring, *restore_remaining;
        sr_series_t *assigned, *revoked, *restores_cancelled;
        sr_series_t *fenced, *restore_fenced;
        sr_series_t *timers_fired, *map_grows, *resends;
        sr_series_t *runs_retired, *markers_forgotten, *retired_inputs;
        sr_series_t *run_loads; /* the run cache's misses */
        sr_series_t *page_ins;  /* target runs read back by key */
        sr_series_t *chunk_ins; /* chunks read back by key */
        sr_series_t *run_cache; /* entities the run cache holds */
        sr_mapuse_watch_t map_use; /* the store's map: gauges, warning */
} metrics_t;

enum { OUT_APPLIED, OUT_STALE, OUT_DUPLICATE, OUT_REJECTED, OUT_DLQ,
       OUT_IGNORED };

struct sr_worker {
        const sr_conf_t *conf;
        sr_metrics_t *registry;
        metrics_t m;
        sr_codec_t *codec;
        sr_fsm_opts_t fsm_opts; /* retention.*, for the state machine */
        sr_store_t *store;
        sr_producer_t *prod;
        sr_consumer_t *cons;
        /* The writer id of batch ids "WRITER/N": new at every assignment,
         * so only a writer's last batch can be cut short (sr_batchlog.h). */
        char instance[SR_UUID_STR_LEN + 1];
        char marker_key[sizeof(MARKER_KEY) + SR_UUID_STR_LEN + 1];
        uint64_t batch_no;
        char batch_id[64];
        char test_pause_file[256]; /* SR_TEST_RELAY_PAUSE_FILE, test-only */
        /* outbox mode: when the consumer was last polled, and the group's
         * session (kafka.session.timeout.ms): a relay after a longer
         * absence checks its claims first (sr_worker__fence_stale()) */
        double polled_s, session_s;

        part_t parts[MAX_PARTS];
        sr_inrec_t *recs;
        int max_recs;
        sr_fsm_out_t out;

        batch_run_t **runs; /* open addressing by (partition, run id) */
        size_t runs_cap, runs_used, runs_max;
        batch_run_t **used; /* the runs of the current batch, max_recs */
        batch_run_t *big;   /* the cache's largest run: not counted against
                               cache.entities (runs_trim()) */
        size_t n_used;
        uint64_t cached_entities;
        /* Bytes of chunk targets freed since memory was last given back
         * (sr_run_release_chunks(); SR_WORKER_TRIM_AFTER). */
        size_t released_bytes;
        batch_stats_t bs;

        membuf_t cur;      /* this batch's outbox records */
        membuf_t held;     /* pe's, until its changelog phase is sent */
        pipe_batch_t pe;   /* emit phase sent, changelog phase not yet */
        pipe_batch_t pc;   /* changelog phase sent, not acknowledged */

        sr_buf_t scratch;  /* encoded outrec */
        sr_buf_t bundle;   /* outbox entry being built */
        size_t bundle_cap;
        size_t bundle_used; /* largest entry of this batch (trimming) */
        sr_txn_t *txn;     /* the batch transaction */
        sr_err_t fatal;    /* sticky */
        char fatal_msg[256];

        /* partitions restoring or waiting to start (+1 inside on_assign):
         * read by /readyz */
        atomic_int restoring;
        restore_ctx_t *rst;      /* the restore under way, or NULL */
        uint64_t restore_queued; /* records of the restores to finish */
        atomic_bool assigned_once; /* the group gave us an assignment */
        const volatile sig_atomic_t *stop_flag;
        atomic_bool broker_ok;
        atomic_bool store_ok;
        atomic_bool map_full; /* growing the map, input paused */
        atomic_bool relay_refused; /* a record is refused, relay retries */
        size_t in_max;        /* command.max.bytes: largest input */
        size_t out_max;       /* largest record derived from inputs */
        int cur_in;           /* index in recs of the input applied, -1 */
        bool redo;            /* an output is over out_max: redo batch */
        refusal_t *refused;   /* this poll's inputs refused for outputs */
        int n_refused;
        unsigned relay_failures; /* failed publications in a row */
        char txn_base[300];   /* exactly_once: transactional.id prefix */
        bool relay_pending;   /* exactly_once: the outbox holds an
                               * unpublished batch (relay_deferred) */
        unsigned txn_gen;     /* producers made so far */
        bool txn_static;      /* txn_base is the static member's own: every
                               * producer of every incarnation uses it */
        int64_t last_ping_ms;
        int64_t last_timer_ms;
        /* the timers due at a tick (sr_worker__timers_fire()) */
        timer_ent_t due[SR_WORKER_TIMERS_PER_TICK];
        int32_t due_part[SR_WORKER_TIMERS_PER_TICK];
        uint64_t outbox_pending; /* appended, not yet acknowledged */
        unsigned n_unacked;      /* in the parts' unacked timer lists */
};

static inline int64_t sr_worker__wall_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline double sr_worker__mono_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ sr_worker.c */

/* The worker stops (sticky SR_ERR_FATAL): @p op and the reason are kept for
 * sr_worker_poll() to return, logged, and the store reported failed. The
 * first reason wins. */
/* The store's map is full (MDB_MAP_FULL) @p when: double it so the caller
 * can redo its transaction; no transaction may be open. @p grows counts
 * the caller's attempts (8 at most). @returns SR_OK (grown; w->map_full
 * stays set until the caller clears it), SR_ERR_FATAL (ec set; the store
 * is marked failed). */
sr_err_t sr_worker__grow_map(sr_worker_t *w, int *grows, const char *when,
                             sr_errctx_t *ec);
/* One small write transaction of the snapshot (bookkeeping), redone whole
 * when it returns SR_ERR_MAP_FULL. */
typedef sr_err_t (*sr_worker_write_fn)(sr_worker_t *w, void *arg,
                                       sr_errctx_t *ec);

/* Run @p write, growing the map (sr_worker__grow_map(), @p when) and
 * redoing it while the map is full. @returns @p write's result, or
 * SR_ERR_FATAL when the map cannot grow. */
sr_err_t sr_worker__write_growing(sr_worker_t *w, sr_worker_write_fn write,
                                  void *arg, const char *when,
                                  sr_errctx_t *ec);
void sr_worker__set_fatal(sr_worker_t *w, const sr_errctx_t *ec,
                          const char *op);

/* Key @p key of partition @p part in the batch's transaction: SR_OK with
 * *v (borrowed until the transaction changes), SR_ERR_NOT_FOUND when
 * absent. Any other error of the store makes the batch fatal (nothing of
 * it is committed) and is returned: a read that failed is never taken
 * for an absent key (a dedupe entry, a group or a target the input would
 * then create again). */
sr_err_t sr_worker__store_get(sr_worker_t *w, int32_t part, sr_slice_t key,
                              sr_slice_t *v);

/* ------------------------------------------------------------ metrics */

/* Register the worker's series (no-op without a registry). */
void sr_worker__metrics_init(sr_worker_t *w);
/* Add the committed batch's increments (w->bs) to the registry. */
void sr_worker__stats_flush(sr_worker_t *w);
/* An input's latency: from its timestamp @p ts to @p now_ms. */
void sr_worker__observe_latency(sr_worker_t *w, double now_ms, int64_t ts);
/* Measure the store's map when due (every SR_MAPUSE_EVERY_MS, and at
 * once after growth: sr_mapuse_watch_force()); no txn may be open. */
void sr_worker__map_use(sr_worker_t *w);

/* ------------------------------------------------------------ input */

/* Apply a record of sr.commands (a command, or a result forwarded there). */
void sr_worker__on_command(sr_worker_t *w, const sr_inrec_t *in);
/* A definition command (sr_worker_defs.c), decoded, not a duplicate run
 * command: applied with the rules of sr_defs.h. */
void sr_worker__on_definition(sr_worker_t *w, const sr_inrec_t *in,
                              const sr_command_t *cmd);
/* sr_worker_defs.c, shared with sr_worker_fill.c: the records and events
 * of a definition's changes (the pipeline's record last); a stored target
 * by key (false when there is none). */
void sr_worker__def_changes(sr_worker_t *w, int32_t part, const sr_defs_t *d,
                            const sr_defs_out_t *o, const sr_command_t *cmd,
                            int64_t ts);
bool sr_worker__def_target_get(sr_worker_t *w, int32_t part,
                               const sr_uuid_t *pipeline, const sr_uuid_t *id,
                               sr_def_target_t *t);
/* sr_worker_defs.c, shared with sr_worker_groups.c: tombstone one key in
 * the snapshot and on the changelog; a command's dedupe entry with its
 * reply under @p key (SR_DEF_KEY_LEN = SR_GROUP_KEY_LEN bytes). */
void sr_worker__changelog_del(sr_worker_t *w, int32_t part, sr_slice_t key);
/* A command met before under dedupe @p key (SR_DEF_KEY_LEN bytes): its
 * first reply sent again, counted a duplicate; false when new. */
bool sr_worker__def_seen(sr_worker_t *w, int32_t part, const char *key);
/* A command's outcome: counted applied or rejected, its reply sent, its
 * dedupe entry with the reply written under @p key. */
void sr_worker__def_answer(sr_worker_t *w, int32_t part, const char *key,
                           const sr_command_t *cmd, const sr_reply_t *reply);
/* A device-group command (sr_worker_groups.c): the directory's commands
 * applied with the rules of sr_groups.h, a run-start snapshot's steps. */
void sr_worker__on_group(sr_worker_t *w, const sr_inrec_t *in,
                         const sr_command_t *cmd);
/* sr_worker_fill.c: runs of stored pipelines (docs/definitions.md section
 * 5). run_create builds the CreateRun of an accepted StartPipelineRun
 * from @p spec (moved) and checks its size (false: @p out refused), sent
 * keyed by the run once the rules accepted; fill_step applies one
 * FillStep (false: a late or foreign step, nothing sent);
 * stored_run_check, on the run's owner after a run input, sends the fill's
 * first FillStep when the input created a run of a stored pipeline with an
 * open stage, and RunEnded when such a run ended in this input or its
 * CreateRun was refused. */
bool sr_worker__run_create(sr_worker_t *w, const sr_defs_t *d,
                           const sr_uuid_t *run, int32_t run_number,
                           sr_runspec_t *spec, int64_t ts,
                           sr_command_t *create, sr_defs_out_t *out);
/* sr_worker_fill.c: RunEnded of @p run, keyed by @p pipeline (id v5 of
 * "<run>/ended"). */
void sr_worker__send_run_ended(sr_worker_t *w, int32_t part,
                               const sr_uuid_t *pipeline, const sr_uuid_t *run,
                               const char *enterprise, sr_status_t status,
                               int64_t ts);
/* sr_worker_snap.c: a run start's copies of its linked device groups
 * (docs/definitions.md section 6). snap_start sends a SnapshotGroup per
 * distinct linked group of an accepted start (false: none, the CreateRun
 * goes now); on_snapshot is the group's owner's step, on_group_members
 * the pipeline's owner's storing of a chunk or closing record (the
 * CreateRun once every copy is closed); drop_copies one bounded step of
 * the copies' deletion after RunEnded. */
bool sr_worker__snap_start(sr_worker_t *w, int32_t part, const sr_defs_t *d,
                           const sr_uuid_t *run, int64_t ts);
void sr_worker__on_snapshot(sr_worker_t *w, const sr_inrec_t *in,
                            const sr_command_t *cmd);
void sr_worker__on_group_members(sr_worker_t *w, const sr_inrec_t *in,
                                 const sr_command_t *cmd);
void sr_worker__drop_copies(sr_worker_t *w, int32_t part,
                            const sr_uuid_t *pipeline, const sr_uuid_t *run,
                            const char *enterprise, uint32_t step,
                            int64_t ts);
/* sr_worker_groups.c: a group's or copy's record under @p key, of kind
 * @p kind (false: none); a group of the directory (false, exists false:
 * none). */
bool sr_worker__group_rec_get(sr_worker_t *w, int32_t part, sr_slice_t key,
                              sr_group_rec_kind_t kind, sr_group_record_t *r);
bool sr_worker__group_get(sr_worker_t *w, int32_t part,
                          const sr_uuid_t *group, sr_group_t *g);
/* The record @p r (SR_CL_GROUP) under @p key, in the snapshot and on the
 * changelog. */
void sr_worker__group_rec_put(sr_worker_t *w, int32_t part, sr_slice_t key,
                              const sr_group_record_t *r);
/* sr_worker_defs.c: the aggregate of @p pipeline from the batch's
 * transaction (sr_defs_fini() it). */
sr_err_t sr_worker__defs_load(sr_worker_t *w, int32_t part,
                              const sr_uuid_t *pipeline, sr_defs_t *d,
                              sr_errctx_t *ec);
bool sr_worker__fill_step(sr_worker_t *w, int32_t part, sr_defs_t *d,
                          const sr_defcmd_t *dc, const sr_command_t *cmd,
                          int64_t ts);
void sr_worker__stored_run_check(sr_worker_t *w, int32_t part,
                                const sr_run_t *run, const sr_command_t *cmd,
                                int64_t ts);
void sr_worker__emit_def_event(sr_worker_t *w, int32_t part,
                               const sr_def_event_t *ev);
void sr_worker__changelog_tombstone(sr_worker_t *w, int32_t part,
                                    sr_slice_t key);
/* Validate a record of sr.results and forward it into the command log. */
void sr_worker__on_result(sr_worker_t *w, const sr_inrec_t *in);
/* Refuse the input being applied (w->cur_in) after the fact: record why
 * and redo the batch without it. False when it cannot be refused. */
bool sr_worker__refuse_current(sr_worker_t *w, sr_reject_t reason,
                               const char *why);

/* ------------------------------------------------------------ emit */

/* An output of the batch: checked against the output budget (over it, the
 * input that led to it is refused), then handed to the outbox.
 * @p rec and what it points to are borrowed. */
void sr_worker__emit(sr_worker_t *w, int32_t part, uint8_t phase,
                     const sr_outrec_t *rec);
/* Put an entity-keyed changelog value into the snapshot and the outbox. */
void sr_worker__changelog_put(sr_worker_t *w, int32_t part, sr_slice_t key,
                              sr_slice_t value);
/* The batch's marker record of partition @p p (input offsets @p pm). */
void sr_worker__emit_marker(sr_worker_t *w, int32_t p,
                            const sr_store_pmeta_t *pm);
/* A command to the command topic, keyed by its pipeline_run_id, to
 * partition @p to (-1: the key's, by the producer's partitioner). */
void sr_worker__emit_command(sr_worker_t *w, int32_t part,
                             const sr_command_t *c, int32_t to);
void sr_worker__emit_reply(sr_worker_t *w, int32_t part,
                           const sr_reply_t *r);
/* Delete every key of run @p run from the snapshot and tombstone each on
 * the changelog (its entities, dedupe entries and marker). */
void sr_worker__changelog_del_run(sr_worker_t *w, int32_t part,
                                  const sr_uuid_t *run);
/* The records of the state machine's outputs (w->out). */
void sr_worker__emit_outputs(sr_worker_t *w, int32_t part);
/* After a create: refuse it now if a record it created is over budget. */
void sr_worker__check_created(sr_worker_t *w, int32_t part,
                              const sr_run_t *run);

/* ------------------------------------------------------------ runs */

/* The run, from the cache or loaded on first use; NULL on failure (fatal
 * set). Borrowed until the cache is trimmed or reset. */
sr_run_t *sr_worker__batch_run(sr_worker_t *w, int32_t part,
                               const sr_uuid_t *id);
/* Drop the whole run cache. */
void sr_worker__runs_reset(sr_worker_t *w);
/* Apply the @p n polled records in one LMDB transaction (see there). */
sr_err_t sr_worker__apply_batch(sr_worker_t *w, int n, sr_errctx_t *ec);

/* ------------------------------------------------------------ outbox */

/* A batch's buffers (its records, the outbox entry being built, the state
 * machine's outputs) grow to the largest batch; one over this much whose
 * last batch used under a quarter of it is given back between batches
 * (sr_worker__outbox_begin(), sr_worker__buffers_trim()). */
#define SR_WORKER_BUF_KEEP ((size_t)4 << 20)

/* Freed memory back to the system (glibc's malloc_trim()) when @p freed
 * bytes were freed: glibc keeps what free() returns in its arenas. */
void sr_worker__give_back(size_t freed);
/* Chunk targets freed (an open stage's, as its fill passes them) are given
 * back to the system once this much accumulates: a 1,000,000-target
 * stage's 544 MB in a few trims, not one per fill part. */
#define SR_WORKER_TRIM_AFTER ((size_t)64 << 20)

/* A batch begins: no records yet (the records buffer of the batch before
 * last, relayed since, may be given back: SR_WORKER_BUF_KEEP). */
void sr_worker__outbox_begin(sr_worker_t *w);
/* After a committed batch: the outbox entry and the state machine's
 * outputs, dead now, may be given back (SR_WORKER_BUF_KEEP), the freed
 * memory returned to the system, sr_worker_buffer_bytes set. */
void sr_worker__buffers_trim(sr_worker_t *w);
/* Keep a record of the batch (encoded) until sr_worker__outbox_flush(). */
void sr_worker__outbox_add(sr_worker_t *w, int32_t part, uint8_t phase,
                           const sr_outrec_t *rec);
/* Write the batch's records to the LMDB outbox, in the batch txn. */
void sr_worker__outbox_flush(sr_worker_t *w);
/* The batch transaction committed: its records are pending relay. */
void sr_worker__outbox_committed(sr_worker_t *w);
/* Publish the outbox of @p parts (see there). */
sr_err_t sr_worker__relay(sr_worker_t *w, const int32_t *parts, int np,
                          bool from_mem, sr_errctx_t *ec);
/* exactly_once: true when @p err only defers the publication. */
bool sr_worker__relay_deferred(sr_worker_t *w, sr_err_t err,
                               sr_errctx_t *ec);
/* Partitions owned now, into @p parts (MAX_PARTS); their number. */
int sr_worker__owned_parts(const sr_worker_t *w, int32_t *parts);
/* The timers' TimerFired commands. The timers module hands the outbox the
 * due timers of a tick; the outbox sends their commands (exactly_once: in
 * a transaction of their own) and hands back, through
 * sr_worker__timer_arm(), each one not delivered: at once when it cannot
 * be sent, or (outbox mode) when a later wait for acknowledgements fails.
 * @p parts and @p due (n entries each) are borrowed for the call. */
void sr_worker__outbox_send_timers(sr_worker_t *w, const int32_t *parts,
                                   const timer_ent_t *due, int n,
                                   int64_t now);
/* Learn, when the relay is idle, whether the commands sent at earlier
 * ticks were delivered (re-arming those that were not). */
void sr_worker__outbox_settle_timers(sr_worker_t *w);
/* Partition @p part is revoked: forget its commands not known delivered. */
void sr_worker__outbox_revoke(sr_worker_t *w, int32_t part);
/* exactly_once: a new transactional producer (replacing a failed one). */
sr_err_t sr_worker__renew_producer(sr_worker_t *w, sr_errctx_t *ec);
/* Free the outbox's buffers. */
void sr_worker__outbox_fini(sr_worker_t *w);

/* Shared with sr_worker_outbox_pipe.c. sr_worker__wait_acks() also
 * settles the timers' commands sent meanwhile. */
sr_err_t sr_worker__wait_acks(sr_worker_t *w, int timeout_ms,
                              sr_errctx_t *ec);
sr_err_t sr_worker__relay_mem(sr_worker_t *w, const membuf_t *b,
                              uint8_t phase, uint64_t *sent, sr_errctx_t *ec);
void sr_worker__relay_succeeded(sr_worker_t *w);
void sr_worker__offsets_add(offsets_t *o, int32_t p,
                            const sr_store_pmeta_t *pm);
sr_err_t sr_worker__relay_done(sr_worker_t *w, const int32_t *parts, int np,
                               const uint64_t *last1, const uint64_t *last2,
                               int64_t tail, offsets_t *o, sr_errctx_t *ec);
void sr_worker__commit_offsets(sr_worker_t *w, const offsets_t *o);

/* ------------------------------------------------------------ outbox pipe */

/* A batch is in the relay pipeline (sent, not yet acknowledged). */
static inline bool sr_worker__piped(const sr_worker_t *w)
{
        return w->pe.active || w->pc.active;
}
/* One step of the pipelined relay; @p np > 0 hands it the batch just
 * applied (@p n_in inputs). */
sr_err_t sr_worker__pipe_step(sr_worker_t *w, const int32_t *parts, int np,
                              int n_in, sr_errctx_t *ec);
/* Publish everything in the pipeline and wait for it. */
sr_err_t sr_worker__pipe_drain(sr_worker_t *w, sr_errctx_t *ec);

/* ------------------------------------------------------------ restore */

/* A new writer id (a new ownership period). */
void sr_worker__new_writer(sr_worker_t *w);
sr_err_t sr_worker__fence_check(sr_worker_t *w, sr_errctx_t *ec);
sr_err_t sr_worker__fence_stale(sr_worker_t *w, bool *resend,
                                sr_errctx_t *ec);
/* The consumer's rebalance hooks (sr_consumer_hooks_t); @p arg is w. */
void sr_worker__on_assign(void *arg, const int32_t *parts, int n,
                          int64_t *start_offsets);
void sr_worker__on_revoke(void *arg, const int32_t *parts, int n);
/* A partition is restoring or waiting to start its input. */
bool sr_worker__restore_pending(const sr_worker_t *w);
/* Between two polls: start the input of restored partitions, and restore
 * for at most about @p budget_ms (one LMDB transaction). */
void sr_worker__restore_step(sr_worker_t *w, int budget_ms);
/* Set the restore gauges from the restores left. */
void sr_worker__restore_gauges(sr_worker_t *w);
/* Free the restore under way (the worker is destroyed). */
void sr_worker__restore_fini(sr_worker_t *w);

/* ------------------------------------------------------------ timers */

/* A min-heap of timer entries by deadline (the timers' heaps, and the
 * outbox's list of commands not known delivered). A push that cannot grow
 * the heap drops the entry (re-armed on reassignment). */
void sr_worker__heap_push(timer_heap_t *h, int64_t deadline,
                          const sr_uuid_t *run);
/* The earliest entry; @p h must not be empty. */
timer_ent_t sr_worker__heap_pop(timer_heap_t *h);
/* Arm a timer of partition @p part: run @p run (borrowed), due at
 * @p deadline. Also how the outbox gives back a timer whose TimerFired
 * command was not delivered. */
void sr_worker__timer_arm(sr_worker_t *w, int32_t part, int64_t deadline,
                          const sr_uuid_t *run);
/* Arm the timers of every unfinished run of a partition's snapshot. */
sr_err_t sr_worker__timers_load(sr_worker_t *w, int32_t part,
                                sr_errctx_t *ec);
/* Fire the due timers of owned partitions (every timer.resolution.ms):
 * their commands go out through the outbox. */
void sr_worker__timers_fire(sr_worker_t *w);
/* Partition @p part is revoked: drop its timers. */
void sr_worker__timers_drop(sr_worker_t *w, int32_t part);
/* Free the timer heaps. */
void sr_worker__timers_fini(sr_worker_t *w);

#endif /* SR_WORKER_INT_H */
