/* common/codec/sr_digest.c - chunk and seal digests of an open stage's
 * targets (sr_digest.h).
 *
 * A chunk is encoded with the hand-written Avro writer (sr_avro_enc.h) the
 * way sr_codec_fast.c's targets_put() writes a targets array, into a stack
 * buffer that is handed to the hash whenever it cannot take one more item:
 * one pass, no allocation, memory independent of the chunk's size. The
 * checks and messages are the codec's (sr_codec__targets_to(): the
 * "targets[i]" prefix, sr_codec__str_check()), so an item the encoder
 * refuses is refused here with the same words.
 */
#include "sr_digest.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sr_avro_enc.h"
#include "sr_codec_int.h"
#include "sr_sha256.h"

/* Bytes encoded before they go to the hash. */
#define DIGEST_BUF 8192
/* Longest encoding of one SpecTarget: target_id (branch, length, 36 bytes),
 * device_id (length, 36 bytes), two strings of at most SR_NAME_MAX - 1
 * bytes each behind their varint length. */
#define ITEM_MAX (2 + 2 * (1 + SR_UUID_STR_LEN) +                      \
                  2 * (SR_AVRO_MAX_VARINT + SR_NAME_MAX))

_Static_assert(DIGEST_BUF >= 2 * ITEM_MAX + SR_AVRO_MAX_VARINT,
               "the digest buffer holds the count and an item");

/* Hash what @p e holds and empty it. */
static sr_err_t flush(sr_sha256_ctx_t *ctx, sr_avro_enc_t *e, sr_errctx_t *ec)
{
        if (e->ae_nomem)
                return sr_errctx_set(ec, SR_ERR_NOMEM,
                                     "sha-256: avro writer out of memory");
        sr_sha256_update(ctx, e->ae_ptr, e->ae_len);
        sr_avro_enc_reset(e);
        return SR_OK;
}

/* One SpecTarget, in schema order, with the checks of
 * sr_codec__targets_to() in its order. */
static sr_err_t put_target(sr_avro_enc_t *e, const sr_spec_target_t *t,
                           sr_errctx_t *ec)
{
        size_t name_len, alias_len;
        sr_err_t err;

        if ((err = sr_codec__str_check("device_name", t->device_name,
                                       sizeof(t->device_name), &name_len,
                                       ec)) ||
            (err = sr_codec__str_check("device_alias", t->device_alias,
                                       sizeof(t->device_alias), &alias_len,
                                       ec)))
                return err;
        if (sr_uuid_is_nil(&t->target_id)) {
                sr_avro_put_null_union(e);
        } else {
                sr_avro_put_branch(e, 1);
                sr_avro_put_uuid(e, &t->target_id);
        }
        sr_avro_put_uuid(e, &t->device_id);
        sr_avro_put_string(e, t->device_name, name_len);
        sr_avro_put_string(e, t->device_alias, alias_len);
        return SR_OK;
}

sr_err_t sr_targets_digest(const sr_spec_target_t *targets, uint32_t n,
                           uint8_t out[SR_DIGEST_LEN], sr_errctx_t *ec)
{
        uint8_t buf[DIGEST_BUF];
        sr_sha256_ctx_t ctx;
        sr_avro_enc_t e;
        sr_err_t err;

        if (n && !targets)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field targets: %u items, NULL array",
                                     n);
        sr_sha256_init(&ctx);
        sr_avro_enc_init(&e, buf, sizeof(buf));
        /* One block of n items, then the 0 count (only that when empty):
         * as avro-c writes an array. */
        if (n)
                sr_avro_put_long(&e, n);
        for (uint32_t i = 0; i < n; i++) {
                if (e.ae_cap - e.ae_len < ITEM_MAX &&
                    (err = flush(&ctx, &e, ec)))
                        goto out;
                if ((err = put_target(&e, &targets[i], ec))) {
                        sr_errctx_prefix(ec, "targets[%u]", i);
                        goto out;
                }
        }
        sr_avro_put_long(&e, 0);
        if ((err = flush(&ctx, &e, ec)))
                goto out;
        sr_sha256_final(&ctx, out);
out:
        sr_avro_enc_fini(&e);
        return err;
}

sr_err_t sr_seal_digest(const uint8_t (*chunk_digests)[SR_DIGEST_LEN],
                        uint32_t n, uint8_t out[SR_DIGEST_LEN],
                        sr_errctx_t *ec)
{
        if (n && !chunk_digests)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "chunk digests: %u chunks, NULL array",
                                     n);
        sr_sha256(chunk_digests, (size_t)n * SR_DIGEST_LEN, out);
        return SR_OK;
}

void sr_chunk_command_id(const sr_uuid_t *run, uint32_t stage, uint32_t chunk,
                         const uint8_t digest[SR_DIGEST_LEN], sr_uuid_t *out)
{
        char rid[SR_UUID_STR_LEN + 1], hex[2 * SR_SHA256_LEN + 1];

        sr_uuid_fmt(run, rid);
        sr_sha256_hex(digest, hex);
        sr_uuid_v5(out, &sr_ns, "%s/stage/%" PRIu32 "/chunk/%" PRIu32 "/%s",
                   rid, stage, chunk, hex);
}
