/* common/domain/sr_fsm_int.h - what the two files of the state machine
 * share: the step (one input applied to one run) and its primitives
 * (sr_fsm_step.c: moves, dispatches, cascades, roll-ups, replies) used by
 * the rules of each input (sr_fsm.c). Included by those files only. */
#ifndef SR_FSM_INT_H
#define SR_FSM_INT_H

#include "sr_fsm.h"

typedef struct step {
        sr_run_t *run;
        sr_fsm_out_t *out;
        int64_t now;
        const sr_fsm_opts_t *opts; /* never NULL */
        sr_uuid_t cause;
        bool nomem;   /* sticky: an output could not be recorded */
        bool illegal; /* sticky: a transition not in the table was tried */
} step_t;

/* The pipeline run moves @p to (a row of the table), with its event. */
void sr_fsm__move_pr(step_t *st, sr_status_t to, const char *reason);
/* Stage run @p si moves @p to, with its event. */
void sr_fsm__move_stage(step_t *st, uint32_t si, sr_status_t to,
                        const char *reason);
/* Target run @p ti moves @p to, with its event and stage counters. */
void sr_fsm__move_target(step_t *st, uint32_t ti, sr_status_t to,
                         const char *reason);
/* A device command (or a cancel request) for target run @p ti. */
void sr_fsm__dispatch(step_t *st, uint32_t ti, sr_dispatch_kind_t kind);
/* True when the target run's device command was sent and is open. */
bool sr_fsm__target_has_command(const sr_target_run_t *t);
/* The pipeline-run table's roll-up rows, after a stage run ended. */
void sr_fsm__rollup_pr(step_t *st);
/* queued -> processing, then filled (an open stage waits for its seal). */
void sr_fsm__process_stage(step_t *st, uint32_t si);
/* A processing stage with its whole target set: freeze the operations,
 * create and dispatch the target runs (sr_fsm_step.c). */
void sr_fsm__fill_stage(step_t *st, uint32_t si);
/* AddTargetRun's change: one target run per operation of filled stage
 * @p si for @p spec's device, created, dispatched and put in the order a
 * load gives (sr_fsm_step.c). false: out of memory or a defect. */
bool sr_fsm__add_device(step_t *st, uint32_t si, const sr_spec_target_t *spec);
/* AddTargetRun: the rule (sr_fsm_targets.c), over sr_fsm__add_device(). */
void sr_fsm__add_target_run(step_t *st, const sr_command_t *cmd);
/* The stage run @p id a client's command names; NULL when it is not in
 * the run (refused not_found, naming both ids; sr_fsm.c). */
sr_stage_run_t *sr_fsm__reach_stage(step_t *st, const sr_command_t *cmd,
                                    const sr_uuid_t *id);

/* Open stages (sr_fsm_targets.c, docs/targets.md section 3). */
void sr_fsm__append_targets(step_t *st, const sr_command_t *cmd);
void sr_fsm__seal_targets(step_t *st, const sr_command_t *cmd);
void sr_fsm__stage_step(step_t *st, const sr_command_t *cmd);
/* A sealed stage's targets in chunk order, read from the run's chunks
 * (borrowed) from any position: a fill's part costs its own targets plus
 * one pass over the run's chunks, not the stage. */
typedef struct sr_fsm_chunks {
        const sr_run_t *run;
        uint32_t *pos;      /* chunk c of the stage: run->chunks[pos[c]] */
        uint32_t n_chunks;  /* the seal's */
        uint32_t c, i;      /* the next target: chunk c's item i */
} sr_fsm_chunks_t;
/* At target @p k (0-based, chunk order). false when out of memory. */
bool sr_fsm__chunks_init(sr_fsm_chunks_t *f, const sr_run_t *run,
                         uint32_t si, uint32_t k);
void sr_fsm__chunks_seek(sr_fsm_chunks_t *f, uint32_t k);
/* The next target; never past the seal's count (the caller counts). */
const sr_spec_target_t *sr_fsm__chunks_next(sr_fsm_chunks_t *f);
void sr_fsm__chunks_fini(sr_fsm_chunks_t *f);
/* The run sends itself StageStep{@p kind, @p cursor} for stage @p si. */
void sr_fsm__send_step(step_t *st, uint32_t si, const char *kind,
                       uint32_t cursor);
/* A state the rules never make: the input fails (SR_ERR_INTERNAL). */
void sr_fsm__defect(step_t *st, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* The instant stage run @p s times out: queued_at + its timeout. */
int64_t sr_fsm__stage_timeout_at(const sr_stage_run_t *s);
/* An open stage went processing before its seal: the fill timeout
 * (stage.fill.timeout.ms) shortens its deadline. */
void sr_fsm__await_targets(step_t *st, uint32_t si);
/* A timer at @p d found @p s processing and never sealed, before its own
 * timeout: the fill timeout (invalid, targets_incomplete). */
bool sr_fsm__fill_timed_out(const sr_stage_run_t *s, int64_t d);
/* pending -> queued, with the stage's deadline. */
void sr_fsm__queue_stage(step_t *st, uint32_t si, const char *reason);
/* The target-run side of a cascade from its stage or pipeline run. */
void sr_fsm__cascade_target(step_t *st, uint32_t ti, sr_status_t to,
                            const char *reason);
/* A stage run ends by cancel or timeout; its targets follow, then (@p rollup) the run. */
void sr_fsm__end_stage(step_t *st, uint32_t si, sr_status_t to,
                      const char *reason, bool rollup);
/* Target run @p ti gets every cascade it is owed and has not had (its
 * stage run's end, then its pipeline run's): before any input touches it,
 * so a cascade in steps is logically complete at once. */
void sr_fsm__catch_up(step_t *st, uint32_t ti);
/* The cascade over stage @p si's target runs from position @p from, in
 * parts of stage.step.targets (StageStep{cancel|timeout}). */
void sr_fsm__cascade_from(step_t *st, uint32_t si, uint32_t from);
/* The first cascade stage @p si's target runs are owed (its own end's,
 * else its pipeline run's), SR_ST_NONE for none. */
sr_status_t sr_fsm__stage_owes(const sr_run_t *run, uint32_t si);
/* The target runs' own deadline @p d over stage @p si from position
 * @p from, in parts of stage.step.targets (StageStep{deadline}). */
void sr_fsm__deadline_from(step_t *st, uint32_t si, uint32_t from, int64_t d);
/* Stage @p si has an open target run due at @p d and is owed no timeout
 * cascade (whose steps would time them all out): its deadline's parts
 * apply. */
bool sr_fsm__deadline_due(const sr_run_t *run, uint32_t si, int64_t d);
/* Stage @p si's target runs are owed a cascade (its end or its run's). */
bool sr_fsm__cascade_owed(const sr_run_t *run, uint32_t si);
/* queued, processing or running. */
bool sr_fsm__stage_is_active(sr_status_t s);
/* The stage-run table's completion rows, after a target run ended. */
void sr_fsm__rollup_stage(step_t *st, uint32_t si);
/* The earliest deadline of any non-terminal entity, or with every entity
 * final the retirement instant (latest ended_at + retention.finished, 0
 * when that is 0): what the worker arms. */
void sr_fsm__update_next_deadline(sr_run_t *run, const sr_fsm_opts_t *opts);
/* The accepting reply, with the versions of what the command changed. */
void sr_fsm__reply_accept(step_t *st, const sr_command_t *cmd,
                          sr_entity_type_t type, const sr_meta_t *m);
/* The refusing reply: the reason and a message naming the current status. */
void sr_fsm__reply_reject(step_t *st, const sr_command_t *cmd,
                          sr_reject_t why, const char *fmt,
                          ...)
        __attribute__((format(printf, 4, 5)));

#endif /* SR_FSM_INT_H */
