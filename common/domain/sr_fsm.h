/* common/domain/sr_fsm.h - the pure state machine of pipeline, stage and target runs.
 *
 * Implements ../shared/design/domain.md. Pure: no I/O, no clock (the input's
 * timestamp is a parameter), no logging. It allocates only where documented
 * (growing a run when a stage materialises its target runs, and the output
 * arrays). Everything an input causes is a function of the run's state and
 * the input, so reprocessing an input reproduces identical outputs.
 *
 * A run (sr_run_t, sr_run.h) holds every entity of one pipeline run. The
 * caller loads it from its store, applies inputs here, then saves the
 * entities marked dirty and publishes the outputs in order. Every status
 * change is a row of the transition table (sr_fsm_table.c).
 */
#ifndef SR_FSM_H
#define SR_FSM_H

#include <stdbool.h>
#include <stdint.h>

#include "sr_err.h"
#include "sr_model.h"
#include "sr_run.h"

/* ------------------------------------------------------------ table */

/**
 * One row of domain.md's transition tables: an entity of type @p entity
 * whose status is in @p from (bits 1u << sr_status_t) may move to @p to,
 * recording @p reason as status_meta.reason. The rules only ever make
 * transitions that are rows (sr_fsm_table.c).
 */
typedef struct sr_fsm_transition {
        sr_entity_type_t entity;
        uint32_t from;
        sr_status_t to;
        const char *reason;
} sr_fsm_transition_t;

/** @brief The whole table, in domain.md's order. Static; never NULL.
 *  @param[out] n its number of rows. */
const sr_fsm_transition_t *sr_fsm_transitions(size_t *n);

/** @brief The row allowing @p entity to move @p from -> @p to for
 *  @p reason, or NULL when domain.md has no such row. Static result. */
const sr_fsm_transition_t *sr_fsm_transition_find(sr_entity_type_t entity,
                                                  sr_status_t from,
                                                  sr_status_t to,
                                                  const char *reason);

/* ------------------------------------------------------------ options */

/* What the rules take from the configuration. Passed with every input (the
 * state machine reads no clock and no configuration of its own); a NULL
 * options pointer means all zero. */
typedef struct sr_fsm_opts {
        /* retention.finished: a run whose entities are all final is
         * retired this long after the latest ended_at (its next_deadline
         * then holds that instant, fixed when it is set); 0 = never. */
        int64_t retention_finished_ms;
        /* retention.inputs: a retired run's marker is forgotten this long
         * after it retired; 0 = never. */
        int64_t retention_inputs_ms;
        /* run.max.stages, stage.max.operations, stage.max.targets: a
         * create command over one is refused (invalid_value, naming the
         * count, the limit and the key); 0 = no limit. A run that exists
         * is never refused for them (the same spec again is accepted). */
        sr_spec_limits_t max;
        /* stage.chunk.targets: most targets in one AppendTargets (else
         * invalid_value); 0 = no limit. */
        uint32_t chunk_targets;
        /* stage.fill.timeout.ms: an open stage processing this long
         * without its seal ends invalid (targets_incomplete); 0 = only the
         * stage's own timeout. */
        int64_t fill_timeout_ms;
        /* stage.step.targets: most target runs one input creates while it
         * fills an open stage (docs/targets.md, section 4); the rest come
         * in StageStep commands the run sends itself (out->steps). 0 = the
         * whole stage in one input (as an inline stage always is). */
        uint32_t step_targets;
} sr_fsm_opts_t;

/* ------------------------------------------------------------ outputs */

typedef struct sr_fsm_out {
        sr_event_t *events;
        uint32_t n_events, cap_events;
        sr_dispatch_t *dispatches; /* args_json borrowed from the run */
        uint32_t n_dispatches, cap_dispatches;
        /* Commands the run sends itself (StageStep: the next part of a
         * fill), to be published to the run's own partition of the
         * command topic with the input's other outputs. They are derived
         * from the run and the input alone (ids included), so a replayed
         * input sends the same ones, and the dedupe drops the second. */
        sr_command_t *steps;
        uint32_t n_steps, cap_steps;
        bool has_reply; /* commands other than timers get one */
        sr_reply_t reply;
        bool stale;   /* a result/command that changed nothing (late) */
        bool applied; /* the input changed the run */
        /* The input retired the run: the caller deletes every key of the
         * run and stores @c retired (the run now holds only it). */
        bool retire;
        /* The input ends a retired run's marker: the caller deletes every
         * key of the run (the run is now empty: unknown). */
        bool forget;
        sr_retired_t retired; /* valid when retire */
        /* The input is for a retired run: refused (run_retired). */
        bool for_retired;
        /* SR_ERR_INTERNAL: the first transition the rules tried that is
         * not in the table, e.g. "target run <id>: pending -> complete
         * (command_succeeded)". */
        char illegal[160];
} sr_fsm_out_t;

void sr_fsm_out_init(sr_fsm_out_t *out);
/** @brief Forget the outputs, keep the arrays' memory. */
void sr_fsm_out_reset(sr_fsm_out_t *out);
void sr_fsm_out_fini(sr_fsm_out_t *out);
/** @brief After sr_fsm_out_reset(): free an array whose capacity is over
 * @p keep_bytes (it grows again on demand), so one large input (a stage
 * of many targets materialised) does not keep its outputs' memory for
 * good. @returns the bytes freed. */
size_t sr_fsm_out_trim(sr_fsm_out_t *out, size_t keep_bytes);
/** @brief Bytes the output arrays hold (their capacity). */
size_t sr_fsm_out_capacity(const sr_fsm_out_t *out);

/**
 * @brief Apply a command to @p run (an empty run for an unknown id).
 * A TimerFired whose deadline is the run's next_deadline, on a run whose
 * entities are all final, retires it (out->retire); one whose deadline is
 * a retired run's forget_at forgets it (out->forget). Any other command
 * for a retired run is refused with SR_REJECT_RUN_RETIRED (another
 * tenant's: not_found), a TimerFired is stale.
 * @param now_ms the input's timestamp: every time the step records.
 * @param opts   borrowed; NULL: all options 0.
 * @returns SR_OK (accepted or refused: see out->reply), SR_ERR_NOMEM,
 *          SR_ERR_INTERNAL (the rules tried a transition that is not in
 *          the table: a bug, or a stored state the rules never make; see
 *          out->illegal). On an error the run may be half-changed and the
 *          outputs incomplete: reload the run, publish nothing.
 */
sr_err_t sr_fsm_apply_command(sr_run_t *run, const sr_command_t *cmd,
                              int64_t now_ms, const sr_fsm_opts_t *opts,
                              sr_fsm_out_t *out);

/**
 * @brief Apply a device command result to @p run.
 * @returns SR_OK (applied, or out->stale), SR_ERR_NOT_FOUND (unknown run or
 *          target run, or a retired run: out->for_retired; the caller
 *          dead-letters it), SR_ERR_SCHEMA (unknown
 *          command status), SR_ERR_NOMEM, SR_ERR_INTERNAL (as for
 *          sr_fsm_apply_command()).
 */
sr_err_t sr_fsm_apply_result(sr_run_t *run, const sr_result_t *res,
                             int64_t now_ms, const sr_fsm_opts_t *opts,
                             sr_fsm_out_t *out);

#endif /* SR_FSM_H */
