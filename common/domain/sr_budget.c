/* common/domain/sr_budget.c - the size budget arithmetic (sr_budget.h). */
#include "sr_budget.h"

#include <stdint.h>
#include <string.h>

/* Bytes of an unsigned varint of @p v. */
static size_t uvarint_size(uint64_t v)
{
        size_t n = 1;

        while (v >= 0x80) {
                v >>= 7;
                n++;
        }
        return n;
}

/* A header's name or value length as librdkafka writes it: a zig-zag
 * varint (rd_uvarint_enc_i64), so twice the length, unsigned. */
static size_t zigzag_size(size_t len)
{
        return uvarint_size((uint64_t)len << 1);
}

size_t sr_budget_wire_size(const sr_outrec_t *rec)
{
        size_t size = SR_BUDGET_RECORD_FRAMING;

        size += rec->key.ptr ? rec->key.len : 0;
        size += rec->value.ptr ? rec->value.len : 0;
        for (uint32_t i = 0; i < rec->n_headers && i < SR_OUTREC_MAX_HEADERS;
             i++) {
                const sr_outrec_header_t *h = &rec->headers[i];
                size_t name = h->name ? strlen(h->name) : 0;
                size_t value = h->value.ptr ? h->value.len : 0;

                size += zigzag_size(name) + name + zigzag_size(value) + value;
        }
        return size;
}

size_t sr_budget_output_max(size_t command_max)
{
        return command_max + SR_BUDGET_OVERHEAD;
}

bool sr_budget_input_fits(size_t command_max, size_t key_len,
                          size_t value_len)
{
        return key_len <= command_max && value_len <= command_max - key_len;
}

sr_err_t sr_budget_check(long command_max, long message_max,
                         sr_errctx_t *ec)
{
        if (command_max > 0 && message_max > 0 &&
            command_max <= message_max - SR_BUDGET_OVERHEAD)
                return SR_OK;
        return sr_errctx_set(ec, SR_ERR_CONF,
                             "command.max.bytes: %ld plus the %d bytes a "
                             "derived record may add (docs/guarantee.md) "
                             "is more than kafka.message.max.bytes (%ld): "
                             "set command.max.bytes to at most %ld or "
                             "raise kafka.message.max.bytes to at least %ld",
                             command_max, SR_BUDGET_OVERHEAD, message_max,
                             message_max - SR_BUDGET_OVERHEAD,
                             command_max + SR_BUDGET_OVERHEAD);
}
