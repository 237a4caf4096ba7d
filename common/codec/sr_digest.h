/* common/codec/sr_digest.h - the digests of an open stage's targets
 * (docs/targets.md, section 2, "Digest"): what SealTargets.digest carries
 * and the worker compares.
 *
 * - A chunk's digest is SHA-256 over the canonical Avro binary encoding of
 *   its targets array, the bytes the codec writes for the `targets` field
 *   of an AppendTargets command (schemas/command.avsc): one block, the
 *   zig-zag varint count n then the n SpecTarget items, then a 0 count; an
 *   empty chunk is the single byte 0x00. A SpecTarget is target_id
 *   (["null", uuid string]: the nil uuid is branch 0, null; else branch 1
 *   and the canonical lower-case text of sr_uuid_fmt()), device_id,
 *   device_name, device_alias (strings: zig-zag varint length, bytes).
 * - A stage's (seal) digest is SHA-256 over the concatenation of its
 *   chunks' 32-byte digests in chunk order, so a client computes it chunk
 *   by chunk, whatever order it sends them in.
 *
 * SHA-256 is sr_sha256.h's (portable C, the one the state machine uses
 * for the seal). Pure: no I/O, no
 * globals. tests/unit/codec/test_sr_digest.c checks the bytes hashed
 * against the codec's encoding; api.chunk_digest_fastavro
 * (tests/codec/digest_check.py) against Python's hashlib over fastavro's.
 */
#ifndef SR_DIGEST_H
#define SR_DIGEST_H

#include <stdint.h>

#include "sr_err.h"
#include "sr_model.h"

/**
 * @brief The digest of one chunk of @p n targets (borrowed; NULL when n is
 * 0), in their order.
 * @param[out] out set on SR_OK only.
 * @returns SR_OK; SR_ERR_INVALID for what sr_codec_encode_command() would
 *          refuse of the same items (@p ec names the item and field, e.g.
 *          "targets[3]: field device_name: not NUL-terminated within 256
 *          bytes"; n > 0 with a NULL array); SR_ERR_NOMEM when the hash
 *          cannot be set up (libcrypto's allocation).
 */
sr_err_t sr_targets_digest(const sr_spec_target_t *targets, uint32_t n,
                           uint8_t out[SR_DIGEST_LEN], sr_errctx_t *ec);

/**
 * @brief The stage's digest from its @p n chunks' digests (borrowed,
 * contiguous, chunk 0 first; NULL when n is 0). Zero chunks give SHA-256 of
 * nothing (e3b0c442...b855).
 * @param[out] out set on SR_OK only.
 * @returns SR_OK, or SR_ERR_NOMEM when the hash cannot be set up
 *          (libcrypto's allocation).
 */
sr_err_t sr_seal_digest(const uint8_t (*chunk_digests)[SR_DIGEST_LEN],
                        uint32_t n, uint8_t out[SR_DIGEST_LEN],
                        sr_errctx_t *ec);

/**
 * @brief The command id of an AppendTargets chunk: UUID v5 of
 * "<run>/stage/<stage>/chunk/<chunk>/<the chunk's digest in hex>", so the
 * same chunk from any sender (a client through any gateway, or the fill
 * of a run started from a stored pipeline) is the same command, and the
 * same index with other items another one (docs/targets.md section 2).
 */
void sr_chunk_command_id(const sr_uuid_t *run, uint32_t stage, uint32_t chunk,
                         const uint8_t digest[SR_DIGEST_LEN], sr_uuid_t *out);

#endif /* SR_DIGEST_H */
