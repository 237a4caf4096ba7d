/* common/status/sr_worker.c - the status worker loop and its guarantee.
 *
 * 1. Poll a batch. Each record is decoded, the run is loaded from LMDB, the
 *    pure state machine is applied with the record's own timestamp as "now",
 *    and every output is appended to the LMDB outbox. Nothing depends on
 *    the clock or on chance, so reprocessing an input reproduces its
 *    outputs byte for byte.
 * 2. One LMDB write transaction per batch holds the new entity states, the
 *    dedupe entries of commands, the outbox and the next input offsets.
 * 3. The outbox is relayed in phases: events, dispatch requests, replies
 *    and dead letters; once all are acknowledged the changelog records
 *    (each tagged with the batch id, the batch closed by a marker record
 *    holding the input offsets); once those are acknowledged the outbox is
 *    emptied, the changelog end offset is recorded, and the consumer
 *    offsets are committed.
 * 4. On assignment a partition's snapshot is trusted only when its recorded
 *    changelog end equals the changelog's end offset. Otherwise it is
 *    dropped and rebuilt from the changelog: records are applied only once
 *    their batch is known complete (its marker, or a later batch of the
 *    same writer, follows: sr_batchlog.h), so a batch cut short by a crash
 *    is discarded whole and its inputs are reprocessed (from the last
 *    marker's offsets) into the same outputs. This holds on a compacted
 *    changelog too (docs/guarantee.md).
 * 5. Timers: each pipeline run records its earliest deadline; when it is
 *    due the worker publishes a `timer fired` command to its own partition
 *    and acts on it when it reads it back.
 *
 * This file: creating and destroying the worker, the poll loop (batch,
 * relay, timers, broker check), readiness and the fatal state. The other
 * sr_worker_*.c files hold one concern each (sr_worker_int.h lists them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "sr_budget.h"
#include "sr_log.h"
#include "sr_worker_int.h"

void sr_worker__set_fatal(sr_worker_t *w, const sr_errctx_t *ec, const char *op)
{
        if (w->fatal)
                return;
        w->fatal = SR_ERR_FATAL;
        if (snprintf(w->fatal_msg, sizeof(w->fatal_msg), "%s: %s", op,
                     ec ? ec->msg : "") < 0)
                w->fatal_msg[0] = '\0';
        atomic_store(&w->store_ok, false);
        SR_ERROR("WORKER", "fatal: %s", w->fatal_msg);
}

sr_err_t sr_worker__store_get(sr_worker_t *w, int32_t part, sr_slice_t key,
                              sr_slice_t *v)
{
        sr_errctx_t ec = { 0 };
        sr_err_t err = sr_store_get(w->txn, part, key, v, &ec);

        if (err && err != SR_ERR_NOT_FOUND)
                sr_worker__set_fatal(w, &ec, "store read");
        return err;
}

sr_err_t sr_worker__grow_map(sr_worker_t *w, int *grows, const char *when,
                             sr_errctx_t *ec)
{
        size_t sz = sr_store_map_size(w->store) * 2;
        sr_errctx_t gec = { 0 };

        atomic_store(&w->map_full, true);
        sr_series_add(w->m.map_grows, 1);
        sr_mapuse_watch_force(&w->m.map_use);
        SR_WARN("STORE", "map full (MDB_MAP_FULL) %s: growing the map "
                "map_size=%zu", when, sz);
        if ((*grows)++ >= 8 || sr_store_grow(w->store, sz, &gec) != SR_OK) {
                atomic_store(&w->store_ok, false);
                return sr_errctx_set(ec, SR_ERR_FATAL, "store full and cannot "
                                     "grow (%s): %s", when,
                                     gec.msg[0] ? gec.msg :
                                                  "grown 8 times already");
        }
        return SR_OK;
}

sr_err_t sr_worker__write_growing(sr_worker_t *w, sr_worker_write_fn write,
                                  void *arg, const char *when,
                                  sr_errctx_t *ec)
{
        sr_err_t err;
        int grows = 0;

        while ((err = write(w, arg, ec)) == SR_ERR_MAP_FULL) {
                err = sr_worker__grow_map(w, &grows, when, ec);
                if (err)
                        return err;
        }
        if (grows)
                atomic_store(&w->map_full, false);
        return err;
}

sr_err_t sr_worker_new(const sr_conf_t *conf, sr_metrics_t *metrics,
                       sr_worker_t **wp, sr_errctx_t *ec)
{
        static const sr_topic_kind_t topics[] = { SR_TOPIC_COMMANDS,
                                                  SR_TOPIC_RESULTS };
        sr_consumer_hooks_t hooks;
        sr_store_opts_t so = { 0 };
        sr_worker_t *w;
        sr_err_t err;

        err = sr_conf_check_budget(conf, ec);
        if (err)
                return err;
        /* A marker outliving the inputs it refuses (docs/guarantee.md,
         * "Retention"); only when runs retire and markers are forgotten. */
        if (conf->retention_finished_ms > 0 && conf->retention_inputs_ms > 0) {
                err = sr_kafka_check_input_retention(
                        conf, conf->retention_inputs_ms, 10000, ec);
                if (err)
                        return err;
        }
        w = calloc(1, sizeof(*w));
        if (!w)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "worker: calloc");
        w->conf = conf;
        w->registry = metrics;
        w->cur_in = -1;
        w->in_max = (size_t)conf->command_max_bytes;
        w->fsm_opts.retention_finished_ms = conf->retention_finished_ms;
        w->fsm_opts.retention_inputs_ms = conf->retention_inputs_ms;
        w->fsm_opts.max.stages = (uint32_t)conf->run_max_stages;
        w->fsm_opts.max.ops = (uint32_t)conf->stage_max_operations;
        w->fsm_opts.max.targets = (uint32_t)conf->stage_max_targets;
        w->fsm_opts.chunk_targets = (uint32_t)conf->stage_chunk_targets;
        w->fsm_opts.fill_timeout_ms = conf->stage_fill_timeout_ms;
        w->fsm_opts.step_targets = (uint32_t)conf->stage_step_targets;
        w->out_max = sr_budget_output_max(w->in_max);
        atomic_init(&w->relay_refused, false);
        atomic_init(&w->restoring, 0);
        atomic_init(&w->assigned_once, false);
        atomic_init(&w->broker_ok, true);
        atomic_init(&w->store_ok, true);
        atomic_init(&w->map_full, false);
        sr_worker__metrics_init(w);
        sr_fsm_out_init(&w->out);
        sr_worker__new_writer(w);
        {
                /* Test-only (tests/integration/test_fence.c): once this
                 * file exists, the worker stops itself (SIGSTOP) right
                 * before relaying the next batch it applied, and removes
                 * the file. Unset in production: nothing happens. */
                const char *pf = getenv("SR_TEST_RELAY_PAUSE_FILE");

                if (pf && strlen(pf) < sizeof(w->test_pause_file))
                        strcpy(w->test_pause_file, pf);
        }
        {
                char v[32];
                size_t vs = sizeof(v);

                w->session_s = 45.0; /* librdkafka's default */
                if (rd_kafka_conf_get(conf->kafka, "session.timeout.ms", v,
                                      &vs) == RD_KAFKA_CONF_OK &&
                    atol(v) > 0)
                        w->session_s = (double)atol(v) / 1000.0;
        }
        w->polled_s = sr_worker__mono_s();
        w->max_recs = conf->batch_size;
        w->recs = calloc((size_t)w->max_recs, sizeof(*w->recs));
        /* A run counts at least 4 entities (run, stage, operation, target);
         * the table stays at most half full with a whole batch of new runs
         * on top of a full cache. */
        w->runs_max = (size_t)conf->cache_entities / 4;
        w->runs_cap = 16;
        while (w->runs_cap < 2 * (w->runs_max + (size_t)w->max_recs) + 2)
                w->runs_cap *= 2;
        w->runs = calloc(w->runs_cap, sizeof(*w->runs));
        w->used = calloc((size_t)w->max_recs + 1, sizeof(*w->used));
        w->refused = calloc((size_t)w->max_recs, sizeof(*w->refused));
        if (!w->recs || !w->runs || !w->used || !w->refused) {
                err = sr_errctx_set(ec, SR_ERR_NOMEM, "worker: buffers");
                goto err_free;
        }
        err = sr_codec_new(&w->codec, ec);
        if (err)
                goto err_free;
        sr_codec_set_ids(w->codec, &conf->schema_ids);
        so.dir = conf->data_dir;
        so.map_size = (size_t)conf->store_map_size_mb << 20;
        so.sync = conf->store_sync;
        err = sr_store_open(&so, &w->store, ec);
        if (err)
                goto err_free;
        if (sr_store_is_untrusted(w->store)) {
                SR_WARN("WORKER", "snapshot written without fsync before a "
                        "reboot: discarding it dir=%s", conf->data_dir);
                err = sr_store_drop_all(w->store, ec);
                if (err)
                        goto err_free;
        }
        if (conf->processing_guarantee == SR_GUARANTEE_EXACTLY_ONCE) {
                char gi[200];
                size_t gs = sizeof(gi);

                /* A static member (kafka.group.instance.id) keeps one
                 * transactional id across producers and restarts: its next
                 * incarnation's init_transactions aborts the transaction a
                 * kill -9 left open at once, instead of every read_committed
                 * reader of its partitions (its own restore too) waiting
                 * for transaction.timeout.ms. Otherwise the id is unique
                 * per process. Zombies are fenced by the consumer group's
                 * generation either way (send_offsets_to_transaction). */
                if (rd_kafka_conf_get(conf->kafka, "group.instance.id", gi,
                                      &gs) == RD_KAFKA_CONF_OK && gi[0]) {
                        snprintf(w->txn_base, sizeof(w->txn_base),
                                 "%s-static-%s", conf->group_id, gi);
                        w->txn_static = true;
                } else {
                        snprintf(w->txn_base, sizeof(w->txn_base), "%s-%s",
                                 conf->group_id, w->instance);
                }
                err = sr_worker__renew_producer(w, ec);
        } else {
                err = sr_producer_new(conf, conf->worker_name, &w->prod, ec);
        }
        if (err)
                goto err_free;
        hooks.on_assign = sr_worker__on_assign;
        hooks.on_revoke = sr_worker__on_revoke;
        hooks.arg = w;
        err = sr_consumer_new(conf, conf->group_id, topics, 2, &hooks,
                              &w->cons, ec);
        if (err)
                goto err_free;
        *wp = w;
        return SR_OK;
err_free:
        sr_worker_destroy(w);
        return err;
}

sr_err_t sr_worker_poll(sr_worker_t *w, sr_errctx_t *ec)
{
        int32_t parts[MAX_PARTS];
        bool piped, restoring;
        double t0;
        int n = 0, np = 0;
        sr_err_t err;

        if (w->fatal)
                return sr_errctx_set(ec, SR_ERR_FATAL, "%s", w->fatal_msg);
        /* With a batch in the pipeline, only take input already here;
         * none: the pipeline is drained below. */
        piped = sr_worker__piped(w);
        /* A restore in progress: its slice is the wait. */
        restoring = sr_worker__restore_pending(w);
        err = sr_consumer_poll(w->cons, w->recs, w->max_recs, &n,
                               piped || restoring ?
                                       0 : w->conf->poll_timeout_ms, ec);
        if (err) /* SR_ERR_AUTH kept: the exit status tells it apart */
                return err == SR_ERR_AUTH ? err : SR_ERR_FATAL;
        if (w->fatal) /* set inside a rebalance hook */
                return sr_errctx_set(ec, SR_ERR_FATAL, "%s", w->fatal_msg);
        /* Input deleted under us while we lagged (the consumer logged it):
         * counted beside what a partition's start check finds. */
        {
                uint64_t lost[2];

                sr_consumer_take_lost(w->cons, lost);
                for (int t = 0; t < 2; t++)
                        if (lost[t])
                                sr_series_add(w->m.inputs_lost[t],
                                              (double)lost[t]);
        }
        t0 = sr_worker__mono_s();
        w->polled_s = t0; /* the group had news of us just now */
        w->n_refused = 0;
        if (n > 0) {
                for (int attempt = 0;;) {
                        err = sr_worker__apply_batch(w, n, ec);
                        /* Each redo refuses one more input (at most n). */
                        if (err == SR_ERR_REJECTED && w->n_refused <= n)
                                continue;
                        if (err != SR_ERR_MAP_FULL)
                                break;
                        /* The snapshot needs more room: grow the map and
                         * redo the batch (nothing of it was written). */
                        if (sr_worker__grow_map(w, &attempt, "applying a "
                                                "batch: input paused, nothing "
                                                "of the batch was written",
                                                ec) != SR_OK)
                                /* Give the partitions up: the process
                                 * exits, the group hands them on. */
                                return SR_ERR_FATAL;
                }
                if (atomic_load(&w->map_full)) {
                        atomic_store(&w->map_full, false);
                        sr_mapuse_watch_force(&w->m.map_use);
                        SR_INFO("STORE", "map grown, batch redone, input "
                                "resumed map_size=%zu",
                                sr_store_map_size(w->store));
                }
                if (err) {
                        atomic_store(&w->store_ok, false);
                        ec->code = SR_ERR_FATAL;
                        return SR_ERR_FATAL;
                }
                if (w->relay_pending) {
                        /* exactly_once: an earlier batch is still in the
                         * outbox: send it all, from LMDB. */
                        np = sr_worker__owned_parts(w, parts);
                } else {
                        for (int32_t p = 0; p < MAX_PARTS; p++)
                                if (w->parts[p].touched)
                                        parts[np++] = p;
                }
                if (!sr_producer_is_txn(w->prod)) {
                        if (sr_worker__pipe_step(w, parts, np, n, ec))
                                return SR_ERR_FATAL;
                } else {
                        double now_ms;

                        err = sr_worker__relay(w, parts, np,
                                               !w->relay_pending, ec);
                        if (sr_worker__relay_deferred(w, err, ec))
                                return SR_OK;
                        if (err)
                                return SR_ERR_FATAL;
                        now_ms = (double)sr_worker__wall_ms();
                        for (int i = 0; i < n; i++)
                                sr_worker__observe_latency(
                                        w, now_ms, w->recs[i].timestamp);
                }
                sr_series_observe(w->m.batch_latency, sr_worker__mono_s() - t0);
        }
        if (n == 0 && w->relay_pending) {
                np = sr_worker__owned_parts(w, parts);
                err = sr_worker__relay(w, parts, np, false, ec);
                if (!sr_worker__relay_deferred(w, err, ec) && err)
                        return SR_ERR_FATAL;
        }
        if (n == 0 && piped && sr_worker__pipe_drain(w, ec))
                return SR_ERR_FATAL;
        /* Restores beside the poll loop (partitions assigned meanwhile
         * included): a slice of bounded time, then the next poll. */
        if (sr_worker__restore_pending(w)) {
                sr_worker__restore_step(w, n > 0 ? RESTORE_SLICE_BUSY_MS :
                                                   RESTORE_SLICE_MS);
                if (w->fatal)
                        return sr_errctx_set(ec, SR_ERR_FATAL, "%s",
                                             w->fatal_msg);
        }
        sr_worker__timers_fire(w);
        sr_worker__map_use(w);
        sr_producer_poll(w->prod);
        if (sr_worker__wall_ms() - w->last_ping_ms > 5000) {
                sr_errctx_t pec = { 0 };
                bool up = sr_consumer_ping(w->cons, 1000, &pec) == SR_OK;

                if (up != atomic_load(&w->broker_ok))
                        SR_WARN("WORKER", "broker %s err=\"%s\"",
                                up ? "reachable again" : "unreachable",
                                pec.msg);
                atomic_store(&w->broker_ok, up);
                w->last_ping_ms = sr_worker__wall_ms();
                sr_series_set(w->m.lag, (double)sr_consumer_lag(w->cons));
        }
        return SR_OK;
}

sr_err_t sr_worker_flush(sr_worker_t *w, sr_errctx_t *ec)
{
        if (w->fatal)
                return sr_errctx_set(ec, SR_ERR_FATAL, "%s", w->fatal_msg);
        return sr_worker__pipe_drain(w, ec) ? SR_ERR_FATAL : SR_OK;
}

void sr_worker_set_stop_flag(sr_worker_t *w, const volatile sig_atomic_t *flag)
{
        w->stop_flag = flag;
}

bool sr_worker_is_ready(sr_worker_t *w, char *why, size_t why_size)
{
        if (!atomic_load(&w->assigned_once)) {
                snprintf(why, why_size, "waiting for a partition assignment "
                                        "from the consumer group");
                return false;
        }
        if (atomic_load(&w->restoring) > 0) {
                snprintf(why, why_size, "restoring partitions from the "
                                        "changelog (their input paused)");
                return false;
        }
        if (!atomic_load(&w->store_ok)) {
                snprintf(why, why_size, "local store failed");
                return false;
        }
        if (atomic_load(&w->map_full)) {
                snprintf(why, why_size, "local store map full: growing it, "
                                        "input paused");
                return false;
        }
        if (atomic_load(&w->relay_refused)) {
                snprintf(why, why_size, "a record is refused by the producer "
                                        "or the broker (see the log); it is "
                                        "sent again until taken");
                return false;
        }
        if (!atomic_load(&w->broker_ok)) {
                snprintf(why, why_size, "broker unreachable");
                return false;
        }
        return true;
}

void sr_worker_destroy(sr_worker_t *w)
{
        if (!w)
                return;
        if (w->cons && !w->fatal) {
                int32_t parts[MAX_PARTS];
                int np;
                sr_errctx_t ec = { 0 };

                if (sr_worker__pipe_drain(w, &ec) != SR_OK)
                        SR_WARN("WORKER", "final relay failed err=\"%s\"",
                                ec.msg);
                np = sr_worker__owned_parts(w, parts);
                if (sr_worker__relay(w, parts, np, false, &ec) != SR_OK)
                        SR_WARN("WORKER", "final relay failed err=\"%s\"",
                                ec.msg);
        }
        sr_consumer_destroy(w->cons); /* leaves the group */
        sr_worker__restore_fini(w);
        sr_producer_destroy(w->prod);
        sr_store_close(w->store);
        sr_codec_destroy(w->codec);
        sr_worker__runs_reset(w);
        free(w->runs);
        free(w->used);
        free(w->refused);
        free(w->recs);
        sr_worker__outbox_fini(w);
        sr_fsm_out_fini(&w->out);
        sr_worker__timers_fini(w);
        free(w);
}
