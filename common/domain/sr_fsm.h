/* common/domain/sr_fsm.h - the pure state machine of pipeline, stage and target runs.
 *
 * Implements ../shared/design/domain.md. Pure: no I/O, no clock (the input's
 * timestamp is a parameter), no logging. It allocates only where documented
 * (growing a run when a stage materialises its target runs, and the output
 * arrays). Everything an input causes is a function of the run's state and
 * the input, so reprocessing an input reproduces identical outputs.
 *
 * A run (sr_run_t) holds every entity of one pipeline run. The caller loads
 * it from its store (sr_run_add_entity + sr_run_index), applies inputs, then
 * saves the entities marked dirty and publishes the outputs in order.
 */
#ifndef SR_FSM_H
#define SR_FSM_H

#include <stdbool.h>
#include <stdint.h>

#include "sr_err.h"
#include "sr_model.h"

#define SR_DAY_MS (24LL * 3600 * 1000)
#define SR_PIPELINE_RUN_DEFAULT_TIMEOUT_MS (21 * SR_DAY_MS)
#define SR_STAGE_RUN_DEFAULT_TIMEOUT_MS (7 * SR_DAY_MS)
#define SR_TARGET_RUN_TIMEOUT_MS (7 * SR_DAY_MS)

/* Derived per-stage bookkeeping, rebuilt by sr_run_index(). */
typedef struct sr_run_stage_idx {
        uint32_t first_op, n_ops;       /* into run->ops */
        uint32_t first_tr, n_tr;        /* into run->targets */
        uint32_t n_tr_terminal, n_tr_success;
} sr_run_stage_idx_t;

typedef struct sr_run {
        bool exists; /* false until the pipeline run is created/loaded */
        sr_pipeline_run_t pr;
        bool pr_dirty;

        sr_stage_run_t *stages; /* pr.n_stages, in stage order; owned */
        bool *stage_dirty;

        sr_stage_run_op_t *ops; /* sorted by (stage, index); owned */
        bool *op_dirty;
        uint32_t n_ops, cap_ops;

        sr_target_run_t *targets; /* sorted by (stage, op, target); owned */
        bool *target_dirty;
        uint32_t n_targets, cap_targets;

        /* derived */
        sr_run_stage_idx_t *sidx; /* pr.n_stages */
        uint32_t *tr_hash;        /* open addressing: target index + 1 */
        uint32_t tr_hash_cap;
} sr_run_t;

/** @brief An empty run (exists = false). */
void sr_run_init(sr_run_t *run);
/** @brief Free everything the run owns; the run is empty afterwards. */
void sr_run_fini(sr_run_t *run);

/**
 * @brief Add one stored entity while loading a run. Takes ownership of the
 * entity's heap parts (the caller must not sr_entity_fini() it after SR_OK).
 * Entities may come in any order; call sr_run_index() once after the last.
 * @returns SR_OK, SR_ERR_NOMEM, SR_ERR_CORRUPT (index out of range, a stage
 *          before its pipeline run is fine, but not a duplicate).
 */
sr_err_t sr_run_add_entity(sr_run_t *run, sr_entity_t *e, sr_errctx_t *ec);

/**
 * @brief Sort and index a loaded run; validates that every stage run is
 * present. @returns SR_OK, SR_ERR_NOMEM, SR_ERR_CORRUPT.
 */
sr_err_t sr_run_index(sr_run_t *run, sr_errctx_t *ec);

/** @brief Clear every dirty flag (after the caller saved the entities). */
void sr_run_clear_dirty(sr_run_t *run);

/** @brief Target run by id, or NULL. */
sr_target_run_t *sr_run_find_target(const sr_run_t *run, const sr_uuid_t *id);
/** @brief Stage run by id, or NULL. */
sr_stage_run_t *sr_run_find_stage(const sr_run_t *run, const sr_uuid_t *id);

/**
 * @brief The key of an entity in the store and on sr.changelog:
 * "<run>/p", "<run>/s/SSSS", "<run>/o/SSSS/OOOO", "<run>/t/SSSS/OOOO/TTTTTT",
 * and for dedupe entries "<run>/d/<input id>". Keys of one run sort
 * together, and within a run by (kind, stage, op, target).
 * @returns the key length (< SR_ENTITY_KEY_MAX).
 */
#define SR_ENTITY_KEY_MAX 96
size_t sr_entity_key(const sr_entity_t *e, char out[SR_ENTITY_KEY_MAX]);
size_t sr_dedupe_key(const sr_uuid_t *run, const sr_uuid_t *input_id,
                     char out[SR_ENTITY_KEY_MAX]);
/** @brief "<run>/" : the prefix of every key of a run. */
size_t sr_run_key_prefix(const sr_uuid_t *run, char out[SR_ENTITY_KEY_MAX]);

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

/* ------------------------------------------------------------ outputs */

typedef struct sr_fsm_out {
        sr_event_t *events;
        uint32_t n_events, cap_events;
        sr_dispatch_t *dispatches; /* args_json borrowed from the run */
        uint32_t n_dispatches, cap_dispatches;
        bool has_reply; /* commands other than timers get one */
        sr_reply_t reply;
        bool stale;   /* a result/command that changed nothing (late) */
        bool applied; /* the input changed the run */
        /* SR_ERR_INTERNAL: the first transition the rules tried that is
         * not in the table, e.g. "target run <id>: pending -> complete
         * (command_succeeded)". */
        char illegal[160];
} sr_fsm_out_t;

void sr_fsm_out_init(sr_fsm_out_t *out);
/** @brief Forget the outputs, keep the arrays' memory. */
void sr_fsm_out_reset(sr_fsm_out_t *out);
void sr_fsm_out_fini(sr_fsm_out_t *out);

/**
 * @brief Apply a command to @p run (an empty run for an unknown id).
 * @param now_ms the input's timestamp: every time the step records.
 * @returns SR_OK (accepted or refused: see out->reply), SR_ERR_NOMEM,
 *          SR_ERR_INTERNAL (the rules tried a transition that is not in
 *          the table: a bug, or a stored state the rules never make; see
 *          out->illegal). On an error the run may be half-changed and the
 *          outputs incomplete: reload the run, publish nothing.
 */
sr_err_t sr_fsm_apply_command(sr_run_t *run, const sr_command_t *cmd,
                              int64_t now_ms, sr_fsm_out_t *out);

/**
 * @brief Apply a device command result to @p run.
 * @returns SR_OK (applied, or out->stale), SR_ERR_NOT_FOUND (unknown run or
 *          target run: the caller dead-letters it), SR_ERR_SCHEMA (unknown
 *          command status), SR_ERR_NOMEM, SR_ERR_INTERNAL (as for
 *          sr_fsm_apply_command()).
 */
sr_err_t sr_fsm_apply_result(sr_run_t *run, const sr_result_t *res,
                             int64_t now_ms, sr_fsm_out_t *out);

#endif /* SR_FSM_H */
