/* common/status/sr_worker.h - the status worker: consume commands and results,
 * apply the state machine to the LMDB snapshot, publish through the outbox.
 *
 * The protocol behind the guarantee (no accepted input lost, no event lost,
 * duplicates byte-identical, per-run seq gapless) is described in
 * docs/guarantee.md and at the top of sr_worker.c.
 *
 * Threads: every function runs on the caller's (poll) thread except
 * sr_worker_is_ready(), which any thread may call. Create after fork().
 */
#ifndef SR_WORKER_H
#define SR_WORKER_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "sr_conf.h"
#include "sr_err.h"
#include "sr_metrics.h"

typedef struct sr_worker sr_worker_t;

/**
 * @brief Open the store, the producer and the group consumer.
 * @param conf borrowed; must outlive the worker.
 * @param metrics borrowed; may be NULL.
 * @param[out] wp caller owns; sr_worker_destroy().
 * @returns SR_OK, SR_ERR_IO, SR_ERR_KAFKA, SR_ERR_NOMEM, SR_ERR_CORRUPT.
 */
sr_err_t sr_worker_new(const sr_conf_t *conf, sr_metrics_t *metrics,
                       sr_worker_t **wp, sr_errctx_t *ec);

/**
 * @brief One round: poll a batch, apply it in one LMDB transaction, relay
 * the outbox (events, dispatch requests, replies and dead letters first,
 * then changelog records, then consumer offsets), fire due timers. In
 * outbox mode the relay is pipelined: a batch's outputs are sent when it
 * is applied, and acknowledged while the next batch applies; a round that
 * finds no input waiting publishes everything still in flight.
 * No input makes it fail: an input over command.max.bytes, or one whose
 * records would be over the budget, is refused (reply and dead letter
 * too_large), and a record the broker refuses is sent again
 * (docs/guarantee.md, "Sizes").
 * @returns SR_OK, SR_ERR_AUTH (a broker refused the kafka.sasl.*
 *          credentials: the process should exit, a restart will not
 *          help), or SR_ERR_FATAL (the process should exit and restart:
 *          the store failed, a fatal producer error, a defect).
 */
sr_err_t sr_worker_poll(sr_worker_t *w, sr_errctx_t *ec);

/**
 * @brief Publish every applied batch still in the relay pipeline and wait
 * for its acknowledgements (outbox mode; a no-op otherwise).
 * @returns SR_OK, or SR_ERR_FATAL.
 */
sr_err_t sr_worker_flush(sr_worker_t *w, sr_errctx_t *ec);

/**
 * @brief Readiness for /readyz: false until the first partition
 * assignment (possibly empty) arrived, while restoring a partition, when
 * the broker was unreachable at the last check, while the producer or the
 * broker refuses a record the relay must publish (it is sent again after a
 * growing wait), or after a store failure. Thread-safe.
 */
bool sr_worker_is_ready(sr_worker_t *w, char *why, size_t why_size);

/**
 * @brief Watch @p flag (the process's stop flag, e.g. sr_app's): while it
 * is set, relaying gives up instead of retrying forever against an
 * unreachable broker (what is not relayed stays in the outbox and is
 * republished on the next start). @p flag may be NULL.
 */
void sr_worker_set_stop_flag(sr_worker_t *w, const volatile sig_atomic_t *flag);

/**
 * @brief Graceful stop: relay what is pending, commit offsets, leave the
 * group, flush the producer, close the store. NULL ok.
 */
void sr_worker_destroy(sr_worker_t *w);

#endif /* SR_WORKER_H */
