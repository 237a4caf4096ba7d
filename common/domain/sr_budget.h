/* common/domain/sr_budget.h - the size budget of records, end to end.
 *
 * command.max.bytes (B) bounds an input: a command or result record whose
 * key and value together are over B is refused (reason too_large) before
 * it touches any state, and the gateway answers 413 rather than produce a
 * command over B. Every record sr-status derives from accepted inputs
 * (events, dispatch requests, replies, dead letters, forwarded results,
 * changelog records) then has a wire size of at most B +
 * SR_BUDGET_OVERHEAD: each variable-length part of such a record is a copy
 * of a part of one accepted input, and the rest is bounded by the schemas
 * (docs/guarantee.md derives the constant; tests/unit/test_sr_budget.c
 * checks it on the largest records). The worker checks every record it
 * derives against that limit anyway and refuses an input whose outputs
 * would not fit, so the promise holds by construction; a producer limit
 * (kafka.message.max.bytes) below it is refused at start.
 *
 * Pure: no I/O, no state; thread-safe.
 */
#ifndef SR_BUDGET_H
#define SR_BUDGET_H

#include <stdbool.h>
#include <stddef.h>

#include "sr_err.h"
#include "sr_outbox.h"

/* What a derived record may add to the input part it carries: the largest
 * such addition is 689 bytes (a dead letter's headers), the largest
 * record of fixed size about 1,300 bytes (a target run); see
 * docs/guarantee.md. */
#define SR_BUDGET_OVERHEAD 4096

/* The most a stage run's changelog record grows after its creation, when
 * its status fields change (status, reason, four times, version, deadline,
 * queued_at: at most 140 bytes more; test_sr_budget.c checks it). The
 * worker checks a created stage run's record with this added. */
#define SR_BUDGET_ENTITY_GROWTH 256

/* librdkafka's per-record accounting against message.max.bytes (MessageV2
 * framing at its largest: length, attributes, timestamp and offset deltas,
 * key and value lengths, header count, all varints). */
#define SR_BUDGET_RECORD_FRAMING 36

/* A dead letter of an input over B keeps only this much of it (key and
 * value prefixes); headers sr_dlq_key_bytes and sr_dlq_value_bytes then
 * give the original sizes. */
#define SR_BUDGET_DLQ_KEY_PREFIX 256
#define SR_BUDGET_DLQ_VALUE_PREFIX 1024

/**
 * @brief The size of @p rec as librdkafka checks it against
 * message.max.bytes: framing + key + value + serialised headers (each
 * name and value with a zig-zag varint length).
 */
size_t sr_budget_wire_size(const sr_outrec_t *rec);

/** @brief The largest wire size of a record derived from inputs of at
 *  most @p command_max bytes: command_max + SR_BUDGET_OVERHEAD. */
size_t sr_budget_output_max(size_t command_max);

/** @brief True when an input of @p key_len + @p value_len bytes is within
 *  @p command_max. */
bool sr_budget_input_fits(size_t command_max, size_t key_len,
                          size_t value_len);

/**
 * @brief Can a producer limited to @p message_max bytes per record
 * (kafka.message.max.bytes) send every record derived from inputs of
 * @p command_max bytes?
 * @param[out] ec optional; on failure the message names both keys, the
 *                values and the largest command.max.bytes that fits.
 * @returns SR_OK or SR_ERR_CONF.
 */
sr_err_t sr_budget_check(long command_max, long message_max,
                         sr_errctx_t *ec);

#endif /* SR_BUDGET_H */
