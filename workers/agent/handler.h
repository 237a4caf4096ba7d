/* workers/agent/handler.h - sr-agent's device-command simulator.
 *
 * Reads dispatch requests, answers each device command on sr.results with
 * QUEUED, INITIATED, INPROGRESS and then SUCCESS or FAILED, agent.latency.ms
 * apart. Everything it sends is a function of the request and agent.seed
 * (result ids are v5 of command id and status, the outcome is drawn from a
 * PRNG seeded by agent.seed and the command id), so a re-delivered request
 * reproduces the same results. An operation's args may carry a
 * "simulate" directive (sr_simulate.h: failing devices, latency) that
 * replaces the draw and agent.latency.ms for its commands.
 * Single-threaded: one poll thread.
 */
#ifndef SR_AGENT_HANDLER_H
#define SR_AGENT_HANDLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sr_conf.h"
#include "sr_err.h"
#include "sr_kafka.h"
#include "sr_metrics.h"

typedef struct agent agent_t; /* opaque */

/**
 * @brief A simulator sending on @p producer (borrowed, must outlive it) and
 * counting into @p metrics (borrowed; may be NULL).
 * @param[out] out set on SR_OK; caller owns it (agent_destroy()).
 * @returns SR_OK, SR_ERR_NOMEM, SR_ERR_SCHEMA (codec).
 */
sr_err_t agent_new(const sr_conf_t *conf, sr_producer_t *producer,
                   sr_metrics_t *metrics, agent_t **out, sr_errctx_t *ec);

/** @brief Free the simulator; pending answers are dropped. NULL ok. */
void agent_destroy(agent_t *a);

/**
 * @brief Take one consumed dispatch record (borrowed for the call):
 * schedule a new command's answers, turn a cancel into a CANCELLED answer,
 * ignore a command already known. Undecodable records are logged, counted
 * and skipped. @p now is CLOCK_MONOTONIC ms.
 * @returns SR_OK, SR_ERR_NOMEM, or a producer error (cancel answers are
 *          sent at once).
 */
sr_err_t agent_on_record(agent_t *a, const sr_inrec_t *rec, int64_t now,
                         sr_errctx_t *ec);

/**
 * @brief Send every answer due at @p now and forget finished commands
 * older than the retention time.
 * @returns SR_OK or a producer error.
 */
sr_err_t agent_tick(agent_t *a, int64_t now, sr_errctx_t *ec);

/** @brief Milliseconds until the next answer is due, at most @p max. */
int agent_wait_ms(const agent_t *a, int64_t now, int max);

/**
 * @brief Commit, per partition, the offset below which every request is
 * answered and acknowledged by the broker. Skipped (SR_OK) while answers
 * are unacknowledged.
 * @returns SR_OK, or the consumer's commit error (SR_ERR_RETRY after a
 *          rebalance, for instance: the caller logs and goes on).
 */
sr_err_t agent_commit(agent_t *a, sr_consumer_t *consumer, sr_errctx_t *ec);

/** @brief Commands known and not finished. */
size_t agent_pending(const agent_t *a);

/**
 * @brief Ask the cluster for metadata through @p consumer (borrowed; at
 * most 1 s) if none answered yet or the last check is 5 s old, and note
 * whether a broker answered. Call from the poll thread.
 */
void agent_check_broker(agent_t *a, sr_consumer_t *consumer, int64_t now);

/**
 * @brief The agent's readiness (/readyz, READY=1): a broker answered the
 * last check. On false, @p why says why. Any thread.
 */
bool agent_is_ready(void *a, char *why, size_t why_size);

#endif /* SR_AGENT_HANDLER_H */
