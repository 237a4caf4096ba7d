/* common/domain/sr_batchlog.h - which changelog records a restore may trust.
 *
 * A worker writes the changelog in batches. Every record carries its batch
 * id "WRITER/N": WRITER is new each time the worker is assigned partitions
 * (one ownership period), N grows with every batch. Within one WRITER the
 * batches of a partition are strictly sequential: batch N+1 is only written
 * after every record of batch N, its marker last, was acknowledged. So the
 * only batch of a WRITER that can be cut short (by a crash, or by losing
 * the partition mid-relay) is its last one, and a batch is complete when
 * its marker follows it OR a later batch of the same WRITER does.
 *
 * The second rule is what makes a compacted changelog restorable: markers
 * are keyed "~marker/WRITER", so compaction keeps each WRITER's last marker
 * and drops the earlier ones, and a batch whose own marker was compacted
 * away is still known complete.
 *
 * sr_batchlog_t buffers the records of each WRITER's latest batch until it
 * is known complete (then hands them to the apply callback, in log order)
 * or the log ends (then they are discarded). Memory: one batch per WRITER
 * whose last batch is still open.
 *
 * Claims fence the writers that lost a partition (docs/guarantee.md,
 * "Fencing"): a new owner writes a claim "~claim/WRITER" before its first
 * batch. From a claim on, only the claiming WRITER's records and markers
 * are trusted, up to the next claim; whatever another writer left open at
 * the claim is cut (discarded), and what another writer (a zombie that
 * still believes it owns the partition) writes after it is ignored.
 * A log without claims (written before they existed) is trusted as above.
 */
#ifndef SR_BATCHLOG_H
#define SR_BATCHLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sr_err.h"
#include "sr_slice.h"

typedef struct sr_batchlog sr_batchlog_t;

/** Apply one trusted record; value.ptr NULL is a tombstone. */
typedef sr_err_t (*sr_batchlog_apply_cb)(sr_slice_t key, sr_slice_t value,
                                         void *arg, sr_errctx_t *ec);

/** @returns SR_OK, SR_ERR_NOMEM. */
sr_err_t sr_batchlog_new(sr_batchlog_apply_cb apply, void *arg,
                         sr_batchlog_t **out, sr_errctx_t *ec);
void sr_batchlog_destroy(sr_batchlog_t *bl);

/**
 * @brief Split "WRITER/N" (at most 63 bytes) into its parts.
 * @returns SR_OK, SR_ERR_CORRUPT (no '/', empty writer, N not a number).
 */
sr_err_t sr_batchlog_parse_id(sr_slice_t id, sr_slice_t *writer, uint64_t *n,
                              sr_errctx_t *ec);

/**
 * @brief A claim by @p writer (the WRITER of "WRITER/N"): from here on only
 * its batches are trusted; every other writer's open batch is dropped.
 * @returns SR_OK, SR_ERR_CORRUPT (empty or over 63 bytes).
 */
sr_err_t sr_batchlog_claim(sr_batchlog_t *bl, sr_slice_t writer,
                           sr_errctx_t *ec);

/** Is batch @p batch_id's writer trusted here: no claim read yet, or it
 *  made the last one? (A malformed id is not.) */
bool sr_batchlog_trusted(const sr_batchlog_t *bl, sr_slice_t batch_id);

/** Records and markers ignored so far because a claim fenced their
 *  writer. */
uint64_t sr_batchlog_fenced(const sr_batchlog_t *bl);

/**
 * @brief A changelog record of batch @p batch_id. May apply the records of
 * an earlier batch of the same writer (now known complete).
 * @returns SR_OK, SR_ERR_CORRUPT (bad id, or a batch older than one already
 * seen from its writer), SR_ERR_NOMEM, or the apply callback's error.
 */
sr_err_t sr_batchlog_record(sr_batchlog_t *bl, sr_slice_t batch_id,
                            sr_slice_t key, sr_slice_t value, sr_errctx_t *ec);

/**
 * @brief A marker: batch @p batch_id and every earlier one of its writer are
 * complete; applies their buffered records.
 * @returns SR_OK, SR_ERR_CORRUPT, or the apply callback's error.
 */
sr_err_t sr_batchlog_marker(sr_batchlog_t *bl, sr_slice_t batch_id,
                            sr_errctx_t *ec);

/**
 * @brief End of the log: drop every batch not known complete.
 * @returns the number of records discarded.
 */
uint64_t sr_batchlog_end(sr_batchlog_t *bl);

/** Records handed to the apply callback so far. */
uint64_t sr_batchlog_applied(const sr_batchlog_t *bl);

#endif /* SR_BATCHLOG_H */
