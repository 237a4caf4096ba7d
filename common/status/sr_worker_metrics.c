/* common/status/sr_worker_metrics.c - the status worker's metrics: their
 * registration, the increments of a batch (added only once it commits) and
 * the latency of inputs. */
#include <stdio.h>

#include "sr_clock.h"
#include "sr_worker_int.h"

static const char *const outcome_names[] = { "applied", "stale", "duplicate",
                                             "rejected", "dead_letter",
                                             "ignored" };

void sr_worker__metrics_init(sr_worker_t *w)
{
        sr_metrics_t *r = w->registry;
        char labels[128];

        if (!r)
                return;
        for (int t = 0; t < 2; t++)
                for (int o = 0; o < 6; o++) {
                        snprintf(labels, sizeof(labels),
                                 "topic=\"%s\",outcome=\"%s\"",
                                 t ? "results" : "commands", outcome_names[o]);
                        w->m.inputs[t][o] = sr_metrics_counter(
                                r, "sr_inputs_total",
                                "Input records by topic and outcome.", labels);
                }
        for (int e = 0; e < SR_ENT__COUNT; e++)
                for (int s = 1; s < SR_ST__COUNT; s++) {
                        snprintf(labels, sizeof(labels),
                                 "entity=\"%s\",status=\"%s\"",
                                 sr_entity_type_name((sr_entity_type_t)e),
                                 sr_status_name((sr_status_t)s));
                        w->m.transitions[e][s] = sr_metrics_counter(
                                r, "sr_transitions_total",
                                "Status transitions by entity and new status.",
                                labels);
                }
        for (int k = 1; k < SR_REJECT__COUNT; k++) {
                snprintf(labels, sizeof(labels), "reason=\"%s\"",
                         sr_reject_name((sr_reject_t)k));
                w->m.rejections[k] = sr_metrics_counter(
                        r, "sr_rejections_total",
                        "Commands refused by the state machine, by reason.",
                        labels);
        }
        w->m.dead_letters = sr_metrics_counter(
                r, "sr_dead_letters_total",
                "Input records sent to the dead-letter topic.", NULL);
        for (int t = 0; t < 2; t++)
                w->m.inputs_lost[t] = sr_metrics_counter(
                        r, "sr_input_records_lost_total",
                        "Input records deleted by the topic's retention "
                        "before any worker read them (found when a "
                        "partition's input starts past the snapshot's "
                        "offset, or when a lagging reader's next record "
                        "jumps past the log's start): accepted data lost, "
                        "never expected.",
                        t == 0 ? "topic=\"commands\"" :
                                 "topic=\"results\"");
        w->m.events = sr_metrics_counter(r, "sr_events_total",
                                         "Status-change events made (each is "
                                         "published before its batch's "
                                         "offsets are committed).",
                                         NULL);
        w->m.outbox_depth = sr_metrics_gauge(
                r, "sr_outbox_depth",
                "Records in the outbox not yet acknowledged.", NULL);
        w->m.buffer_bytes = sr_metrics_gauge(
                r, "sr_worker_buffer_bytes",
                "Memory the worker keeps for its batches between them (the "
                "records of the batch in flight and the next, the outbox "
                "entry, the state machine's outputs): each buffer grows to "
                "the largest batch; one over 4 MiB is given back once a "
                "batch used under a quarter of it.",
                NULL);
        w->m.lag = sr_metrics_gauge(r, "sr_consumer_lag",
                                    "Input records not yet consumed.", NULL);
        w->m.latency = sr_metrics_histogram(
                r, "sr_processing_latency_seconds",
                "From an input's timestamp to its events, dispatch "
                "requests and replies acknowledged.",
                NULL, NULL, 0);
        w->m.batch_latency = sr_metrics_histogram(
                r, "sr_batch_duration_seconds",
                "Time to apply one batch and relay it (outbox mode: "
                "its first phase sent, the previous batches' phases "
                "acknowledged).", NULL, NULL, 0);
        w->m.resends = sr_metrics_counter(
                r, "sr_relay_resends_total",
                "Outbox publications redone because a delivery was not "
                "acknowledged (broker trouble); the copies are identical.",
                NULL);
        w->m.restore_records = sr_metrics_counter(
                r, "sr_restore_records_total",
                "Changelog records read while restoring partitions.", NULL);
        w->m.restoring = sr_metrics_gauge(
                r, "sr_restore_partitions_in_progress",
                "Partitions being restored from the changelog.", NULL);
        w->m.restore_remaining = sr_metrics_gauge(
                r, "sr_restore_records_remaining",
                "Changelog records left to read in the restores under way "
                "or waiting (every partition assigned and not restored "
                "yet).",
                NULL);
        w->m.assigned = sr_metrics_counter(
                r, "sr_partitions_assigned_total",
                "Partitions assigned to this worker by its consumer group "
                "(each rebalance counts its partitions).", NULL);
        w->m.revoked = sr_metrics_counter(
                r, "sr_partitions_revoked_total",
                "Partitions revoked from this worker by its consumer group.",
                NULL);
        w->m.restores_cancelled = sr_metrics_counter(
                r, "sr_restores_cancelled_total",
                "Restores stopped before their end by a revoke or a "
                "shutdown (nothing of them is trusted).", NULL);
        w->m.fenced = sr_metrics_counter(
                r, "sr_fenced_total",
                "Times this worker found another worker's claim between "
                "its own changelog records and stopped publishing.", NULL);
        w->m.restore_fenced = sr_metrics_counter(
                r, "sr_restore_fenced_records_total",
                "Changelog records a restore ignored: written by a worker "
                "after a newer owner's claim.", NULL);
        w->m.timers_fired = sr_metrics_counter(
                r, "sr_timers_fired_total",
                "Timer-fired commands published.", NULL);
        w->m.map_grows = sr_metrics_counter(
                r, "sr_store_map_grows_total",
                "Times the LMDB map was grown after MDB_MAP_FULL.", NULL);
        w->m.runs_retired = sr_metrics_counter(
                r, "sr_runs_retired_total",
                "Pipeline runs retired (retention.finished after they "
                "ended): their keys deleted and tombstoned.", NULL);
        w->m.markers_forgotten = sr_metrics_counter(
                r, "sr_retired_markers_forgotten_total",
                "Markers of retired runs deleted (retention.inputs after "
                "the run retired).", NULL);
        w->m.retired_inputs = sr_metrics_counter(
                r, "sr_retired_run_inputs_total",
                "Commands and results for a retired run, refused and "
                "dead-lettered (reason run_retired).", NULL);
        w->m.run_loads = sr_metrics_counter(
                r, "sr_run_loads_total",
                "Runs decoded whole from the snapshot: the run cache's "
                "misses (cache.entities).", NULL);
        w->m.page_ins = sr_metrics_counter(
                r, "sr_run_target_reads_total",
                "Target runs read back from the snapshot by key: a cached "
                "run keeps at most cache.run.targets of its target runs "
                "decoded between batches.", NULL);
        w->m.chunk_ins = sr_metrics_counter(
                r, "sr_run_chunk_reads_total",
                "Chunks of open stages read back from the snapshot by key "
                "for a fill: a cached run keeps no clean chunk's targets "
                "decoded between batches.", NULL);
        w->m.run_cache = sr_metrics_gauge(
                r, "sr_run_cache_entities",
                "Entities the run cache holds after the last batch: each "
                "cached run's pipeline, stage, operation and target runs, "
                "and the appended targets its fills still read. At most "
                "cache.entities plus the largest run.", NULL);
        sr_mapuse_watch_init(&w->m.map_use, r, "store", true);
}

void sr_worker__map_use(sr_worker_t *w)
{
        int64_t now = sr_clock_mono_ms();
        sr_errctx_t ec = { 0 };
        sr_mapuse_t u;

        if (!w->store || !sr_mapuse_watch_due(&w->m.map_use, now))
                return;
        if (sr_store_use(w->store, &u, &ec) == SR_OK)
                sr_mapuse_watch_set(&w->m.map_use, &u,
                                    w->conf->data_dir, now);
        else
                w->m.map_use.next_ms = now + SR_MAPUSE_EVERY_MS;
}

/* The committed batch's metric increments. */
void sr_worker__stats_flush(sr_worker_t *w)
{
        const batch_stats_t *b = &w->bs;

        for (int t = 0; t < 2; t++)
                for (int o = 0; o < 6; o++)
                        if (b->inputs[t][o])
                                sr_series_add(w->m.inputs[t][o],
                                              b->inputs[t][o]);
        for (int e = 0; e < SR_ENT__COUNT; e++)
                for (int st = 0; st < SR_ST__COUNT; st++)
                        if (b->transitions[e][st])
                                sr_series_add(w->m.transitions[e][st],
                                              b->transitions[e][st]);
        for (int k = 0; k < SR_REJECT__COUNT; k++)
                if (b->rejections[k])
                        sr_series_add(w->m.rejections[k], b->rejections[k]);
        if (b->dead_letters)
                sr_series_add(w->m.dead_letters, b->dead_letters);
        if (b->events)
                sr_series_add(w->m.events, b->events);
        if (b->retired)
                sr_series_add(w->m.runs_retired, b->retired);
        if (b->forgotten)
                sr_series_add(w->m.markers_forgotten, b->forgotten);
        if (b->retired_inputs)
                sr_series_add(w->m.retired_inputs, b->retired_inputs);
        if (b->page_ins)
                sr_series_add(w->m.page_ins, b->page_ins);
        if (b->chunk_ins)
                sr_series_add(w->m.chunk_ins, b->chunk_ins);
}

/* An input's latency: from its timestamp to @p now_ms, when its outputs
 * (phase 1) are acknowledged. */
void sr_worker__observe_latency(sr_worker_t *w, double now_ms, int64_t ts)
{
        if (ts > 0)
                sr_series_observe(w->m.latency,
                                  (now_ms - (double)ts) / 1000.0);
}
