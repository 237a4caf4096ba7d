/* common/domain/sr_fsm_table.c - the transition tables of domain.md as data.
 *
 * Every status change the rules of sr_fsm.c make goes through move(),
 * which looks its (entity, from, to, reason) up here and refuses anything
 * that is not a row: the tables of ../shared/design/domain.md are the
 * only transitions that can ever reach an event.
 *
 * The from-sets are the statuses an entity can be in when the rule runs.
 * Where domain.md says "any non-terminal" of a pipeline or stage run, the
 * set leaves out pending, queued and processing when the entity is never
 * at rest there: a run is created, queued and materialised, and a stage run
 * queued and materialised, within one step, so no later input finds them
 * there. An open stage (docs/targets.md) is the exception: it rests in
 * processing until its targets are sealed, so the stage-run rows that
 * leave a resting status include processing. tests/unit/test_sr_fsm_table.c drives random runs through the
 * rules and checks that every (row, from) pair is reached.
 */
#include "sr_fsm.h"

#include <string.h>

#define F(s) (1u << SR_ST_##s)
#define ROW(ent, from, to, reason) \
        { SR_ENT_##ent, (from), SR_ST_##to, (reason) }

static const sr_fsm_transition_t table[] = {
        /* Pipeline run */
        ROW(PIPELINE_RUN, F(NONE), PENDING, "created"),
        ROW(PIPELINE_RUN, F(PENDING), QUEUED, "queued"),
        ROW(PIPELINE_RUN, F(QUEUED), PROCESSING, "materialising"),
        ROW(PIPELINE_RUN, F(PROCESSING), INVALID, "no_stages"),
        ROW(PIPELINE_RUN, F(PROCESSING), RUNNING, "first_stage_queued"),
        ROW(PIPELINE_RUN, F(RUNNING), WAITING, "awaiting_promotion"),
        ROW(PIPELINE_RUN, F(WAITING), RUNNING, "promoted"),
        ROW(PIPELINE_RUN, F(RUNNING), COMPLETE, "all_stages_succeeded"),
        ROW(PIPELINE_RUN, F(COMPLETE), SUCCESS, "all_stages_succeeded"),
        ROW(PIPELINE_RUN, F(RUNNING) | F(WAITING), COMPLETE, "stage_failed"),
        ROW(PIPELINE_RUN, F(COMPLETE), FAILURE, "stage_failed"),
        ROW(PIPELINE_RUN, F(RUNNING) | F(WAITING), CANCELLED,
            "cancelled_by_user"),
        ROW(PIPELINE_RUN, F(RUNNING) | F(WAITING), TIMEOUT, "timeout"),

        /* Stage run */
        ROW(STAGE_RUN, F(NONE), PENDING, "created"),
        ROW(STAGE_RUN, F(PENDING), QUEUED, "first_stage"),
        ROW(STAGE_RUN, F(PENDING), QUEUED, "promoted"),
        ROW(STAGE_RUN, F(PENDING), QUEUED, "auto_promoted"),
        ROW(STAGE_RUN, F(QUEUED), PROCESSING, "materialising"),
        ROW(STAGE_RUN, F(PROCESSING), INVALID, "no_targets"),
        ROW(STAGE_RUN, F(PROCESSING), INVALID, "no_operations"),
        /* an open stage never sealed within stage.fill.timeout.ms */
        ROW(STAGE_RUN, F(PROCESSING), INVALID, "targets_incomplete"),
        ROW(STAGE_RUN, F(PROCESSING), RUNNING, "targets_dispatched"),
        ROW(STAGE_RUN, F(RUNNING), COMPLETE, "all_targets_succeeded"),
        ROW(STAGE_RUN, F(COMPLETE), SUCCESS, "all_targets_succeeded"),
        ROW(STAGE_RUN, F(RUNNING), COMPLETE, "target_failed"),
        ROW(STAGE_RUN, F(COMPLETE), FAILURE, "target_failed"),
        ROW(STAGE_RUN, F(PENDING) | F(PROCESSING) | F(RUNNING), CANCELLED,
            "cancelled_by_user"),
        ROW(STAGE_RUN, F(PENDING) | F(PROCESSING) | F(RUNNING), CANCELLED,
            "pipeline_run_cancelled"),
        ROW(STAGE_RUN, F(PENDING), CANCELLED, "previous_stage_failed"),
        ROW(STAGE_RUN, F(PROCESSING) | F(RUNNING), TIMEOUT, "timeout"),
        ROW(STAGE_RUN, F(PENDING) | F(PROCESSING) | F(RUNNING), TIMEOUT,
            "pipeline_run_timeout"),

        /* Target run */
        ROW(TARGET_RUN, F(NONE), PENDING, "created"),
        ROW(TARGET_RUN, F(PENDING), QUEUED, "queued"),
        ROW(TARGET_RUN, F(QUEUED), PROCESSING, "command_created"),
        ROW(TARGET_RUN, F(PROCESSING), DISPATCHED, "command_queued"),
        ROW(TARGET_RUN, F(PROCESSING) | F(DISPATCHED), RUNNING,
            "command_running"),
        ROW(TARGET_RUN, F(PROCESSING) | F(DISPATCHED) | F(RUNNING), COMPLETE,
            "command_succeeded"),
        ROW(TARGET_RUN, F(COMPLETE), SUCCESS, "command_succeeded"),
        ROW(TARGET_RUN, F(PROCESSING) | F(DISPATCHED) | F(RUNNING), COMPLETE,
            "command_failed"),
        ROW(TARGET_RUN, F(COMPLETE), FAILURE, "command_failed"),
        ROW(TARGET_RUN, F(PROCESSING) | F(DISPATCHED) | F(RUNNING), COMPLETE,
            "command_timeout"),
        ROW(TARGET_RUN, F(COMPLETE), FAILURE, "command_timeout"),
        ROW(TARGET_RUN, F(PROCESSING) | F(DISPATCHED) | F(RUNNING), COMPLETE,
            "command_cancelled"),
        ROW(TARGET_RUN, F(COMPLETE), FAILURE, "command_cancelled"),
        ROW(TARGET_RUN, F(PROCESSING) | F(DISPATCHED), INVALID,
            "command_error"),
        ROW(TARGET_RUN, F(PROCESSING), CANCELLED, "cancelled_by_user"),
        ROW(TARGET_RUN, F(PROCESSING) | F(DISPATCHED), CANCELLED,
            "stage_run_cancelled"),
        ROW(TARGET_RUN, F(PROCESSING) | F(DISPATCHED), CANCELLED,
            "pipeline_run_cancelled"),
        ROW(TARGET_RUN, F(PROCESSING) | F(DISPATCHED) | F(RUNNING), TIMEOUT,
            "timeout"),
        ROW(TARGET_RUN, F(PROCESSING) | F(DISPATCHED) | F(RUNNING), TIMEOUT,
            "stage_run_timeout"),
        ROW(TARGET_RUN, F(PROCESSING) | F(DISPATCHED) | F(RUNNING), TIMEOUT,
            "pipeline_run_timeout"),
};

#undef ROW
#undef F

const sr_fsm_transition_t *sr_fsm_transitions(size_t *n)
{
        *n = sizeof(table) / sizeof(table[0]);
        return table;
}

const sr_fsm_transition_t *sr_fsm_transition_find(sr_entity_type_t entity,
                                                  sr_status_t from,
                                                  sr_status_t to,
                                                  const char *reason)
{
        /* ~50 rows: a scan with cheap integer tests first is faster than
         * building (and owning) an index. */
        for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
                const sr_fsm_transition_t *t = &table[i];

                if (t->entity == entity && t->to == to &&
                    (t->from & (1u << from)) && !strcmp(t->reason, reason))
                        return t;
        }
        return NULL;
}
