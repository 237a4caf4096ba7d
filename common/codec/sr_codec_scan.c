/* common/codec/sr_codec_scan.c - the body validator that runs before avro-c.
 *
 * avro-c 1.11.1 trusts its input: a string length is malloc'd before it is
 * checked against the buffer, and a union discriminant or enum index is not
 * range-checked (an out-of-range branch indexes past its tables). So every
 * body is first walked against the schema here, and only bytes that pass
 * are handed to avro_value_read(). Pure: no allocation, no avro-c state.
 */
#include "sr_codec_int.h"

#include <inttypes.h>

#define SCAN_MAX_DEPTH 32

/* A walk of the body against the schema, checking what avro-c does not:
 * lengths against the bytes left, union and enum ranges, array sizes,
 * boolean bytes, and that the body ends exactly where the record does. */
struct scan {
        const uint8_t *start, *p, *end;
        const char *field; /* innermost field being read, for messages */
        sr_errctx_t *ec;
};

static size_t scan_left(const struct scan *s)
{
        return (size_t)(s->end - s->p);
}

static size_t scan_off(const struct scan *s)
{
        return SR_CODEC_HEADER + (size_t)(s->p - s->start);
}

static sr_err_t scan_truncated(struct scan *s, const char *what,
                               uint64_t need)
{
        return sr_errctx_set(s->ec, SR_ERR_CORRUPT,
                             "truncated body: field %s: %s needs %" PRIu64
                             " bytes at offset %zu, %zu left",
                             s->field, what, need, scan_off(s),
                             scan_left(s));
}

static sr_err_t scan_long(struct scan *s, const char *what, int64_t *out)
{
        uint64_t v = 0;

        for (unsigned shift = 0; shift < 70; shift += 7) {
                uint8_t b;

                if (s->p == s->end)
                        return scan_truncated(s, what, 1);
                b = *s->p++;
                v |= (uint64_t)(b & 0x7f) << shift;
                if (!(b & 0x80)) {
                        /* zig-zag */
                        *out = (int64_t)((v >> 1) ^ (0 - (v & 1)));
                        return SR_OK;
                }
        }
        return sr_errctx_set(s->ec, SR_ERR_CORRUPT,
                             "undecodable body: field %s: varint longer "
                             "than 10 bytes at offset %zu",
                             s->field, scan_off(s));
}

static sr_err_t scan_skip(struct scan *s, const char *what, uint64_t n)
{
        if (n > scan_left(s))
                return scan_truncated(s, what, n);
        s->p += n;
        return SR_OK;
}

/* Lower bound of the encoded size of one value of @p sc. */
static size_t min_size(avro_schema_t sc, int depth)
{
        size_t n = 0;

        switch (avro_typeof(sc)) {
        case AVRO_NULL:
                return 0;
        case AVRO_LINK: /* a named type used again: its size (bounded depth,
                         * so a recursive type ends) */
                return depth > SCAN_MAX_DEPTH ?
                               0 :
                               min_size(avro_schema_link_target(sc),
                                        depth + 1);
        case AVRO_FLOAT:
                return 4;
        case AVRO_DOUBLE:
                return 8;
        case AVRO_FIXED:
                return (size_t)avro_schema_fixed_size(sc);
        case AVRO_RECORD:
                if (depth > SCAN_MAX_DEPTH)
                        return 0;
                for (size_t i = 0; i < avro_schema_record_size(sc); i++)
                        n += min_size(avro_schema_record_field_get_by_index(
                                              sc, (int)i), depth + 1);
                return n;
        default:
                return 1;
        }
}

static sr_err_t scan_value(struct scan *s, avro_schema_t sc, int depth);

static sr_err_t scan_blocks(struct scan *s, avro_schema_t items, bool map,
                           int depth)
{
        size_t min = min_size(items, 0) + (map ? 1 : 0);
        uint64_t total = 0;
        int64_t count, bytes;
        sr_err_t err;

        for (;;) {
                err = scan_long(s, "block count", &count);
                if (err)
                        return err;
                if (count == 0)
                        return SR_OK;
                if (count < 0) {
                        if (count == INT64_MIN)
                                return sr_errctx_set(
                                        s->ec, SR_ERR_CORRUPT,
                                        "undecodable body: field %s: bad "
                                        "block count at offset %zu",
                                        s->field, scan_off(s));
                        count = -count;
                        err = scan_long(s, "block size", &bytes);
                        if (err)
                                return err;
                        if (bytes < 0 || (uint64_t)bytes > scan_left(s))
                                return scan_truncated(s, "block",
                                                      (uint64_t)bytes);
                }
                if (min > 0 && (uint64_t)count > scan_left(s) / min)
                        return scan_truncated(s, "items",
                                              (uint64_t)count * min);
                total += (uint64_t)count;
                if (total > SR_CODEC_MAX_ITEMS)
                        return sr_errctx_set(
                                s->ec, SR_ERR_SCHEMA,
                                "field %s: absurd array size (more than "
                                "%d items)", s->field, SR_CODEC_MAX_ITEMS);
                for (int64_t i = 0; i < count; i++) {
                        if (map) {
                                err = scan_long(s, "key length", &bytes);
                                if (!err && bytes < 0)
                                        return scan_truncated(s, "key", 0);
                                if (!err)
                                        err = scan_skip(s, "key",
                                                        (uint64_t)bytes);
                                if (err)
                                        return err;
                        }
                        err = scan_value(s, items, depth + 1);
                        if (err)
                                return err;
                }
        }
}

static sr_err_t scan_value(struct scan *s, avro_schema_t sc, int depth)
{
        int64_t v;
        sr_err_t err;

        if (depth > SCAN_MAX_DEPTH)
                return sr_errctx_set(s->ec, SR_ERR_SCHEMA,
                                     "field %s: nested too deeply",
                                     s->field);
        switch (avro_typeof(sc)) {
        case AVRO_NULL:
                return SR_OK;
        case AVRO_BOOLEAN:
                if (s->p == s->end)
                        return scan_truncated(s, "boolean", 1);
                if (*s->p > 1)
                        return sr_errctx_set(s->ec, SR_ERR_CORRUPT,
                                             "undecodable body: field %s: "
                                             "boolean byte 0x%02x at "
                                             "offset %zu", s->field, *s->p,
                                             scan_off(s));
                s->p++;
                return SR_OK;
        case AVRO_INT32:
                err = scan_long(s, "int", &v);
                if (!err && (v < INT32_MIN || v > INT32_MAX))
                        return sr_errctx_set(s->ec, SR_ERR_CORRUPT,
                                             "undecodable body: field %s: "
                                             "int out of range (%" PRId64
                                             ")", s->field, v);
                return err;
        case AVRO_INT64:
                return scan_long(s, "long", &v);
        case AVRO_FLOAT:
                return scan_skip(s, "float", 4);
        case AVRO_DOUBLE:
                return scan_skip(s, "double", 8);
        case AVRO_FIXED:
                return scan_skip(s, "fixed",
                                 (uint64_t)avro_schema_fixed_size(sc));
        case AVRO_STRING:
        case AVRO_BYTES:
                err = scan_long(s, "length", &v);
                if (err)
                        return err;
                if (v < 0)
                        return sr_errctx_set(s->ec, SR_ERR_CORRUPT,
                                             "undecodable body: field %s: "
                                             "negative length %" PRId64,
                                             s->field, v);
                return scan_skip(s, "string", (uint64_t)v);
        case AVRO_ENUM:
                err = scan_long(s, "enum", &v);
                if (!err && (v < 0 ||
                             v >= avro_schema_enum_number_of_symbols(sc)))
                        return sr_errctx_set(s->ec, SR_ERR_SCHEMA,
                                             "field %s: unknown enum index "
                                             "%" PRId64, s->field, v);
                return err;
        case AVRO_UNION:
                err = scan_long(s, "union branch", &v);
                if (err)
                        return err;
                if (v < 0 || (uint64_t)v >= avro_schema_union_size(sc))
                        return sr_errctx_set(s->ec, SR_ERR_SCHEMA,
                                             "field %s: unknown union "
                                             "branch %" PRId64, s->field, v);
                return scan_value(s, avro_schema_union_branch(sc, (int)v),
                                  depth + 1);
        case AVRO_RECORD: {
                const char *outer = s->field;

                for (size_t i = 0; i < avro_schema_record_size(sc); i++) {
                        s->field = avro_schema_record_field_name(sc, (int)i);
                        err = scan_value(s,
                                         avro_schema_record_field_get_by_index(
                                                 sc, (int)i), depth + 1);
                        if (err)
                                return err;
                }
                s->field = outer;
                return SR_OK;
        }
        case AVRO_ARRAY:
                return scan_blocks(s, avro_schema_array_items(sc), false,
                                   depth);
        case AVRO_MAP:
                return scan_blocks(s, avro_schema_map_values(sc), true,
                                   depth);
        case AVRO_LINK:
                return scan_value(s, avro_schema_link_target(sc), depth + 1);
        default:
                return sr_errctx_set(s->ec, SR_ERR_SCHEMA,
                                     "field %s: unsupported schema type",
                                     s->field);
        }
}

sr_err_t sr_codec__scan(avro_schema_t schema, const uint8_t *body,
                        size_t len, sr_errctx_t *ec)
{
        struct scan s;
        sr_err_t err;

        s.start = s.p = body;
        s.end = body + len;
        s.field = "-";
        s.ec = ec;
        err = scan_value(&s, schema, 0);
        if (err)
                return err;
        if (s.p != s.end)
                return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                     "trailing garbage: %zu bytes after "
                                     "the body at offset %zu",
                                     scan_left(&s), scan_off(&s));
        return SR_OK;
}
