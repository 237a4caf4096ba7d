/* tests/unit/domain/test_sr_outbox.c - outbox record encoding: round trips,
 * null vs empty, rejection of bad records, and hostile bytes. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <string.h>

#include "sr_outbox.h"

TestSuite(sr_outbox, .timeout = 10.0);

/* A record with every feature: key, value, headers (one null). */
static sr_outrec_t full_record(void)
{
        sr_outrec_t rec;

        memset(&rec, 0, sizeof(rec));
        rec.topic = SR_TOPIC_EVENTS;
        rec.partition = 7;
        rec.key = sr_slice("run-1", 5);
        rec.value = sr_slice("\x00\x01payload\xff", 10);
        rec.timestamp = 1700000000123;
        rec.n_headers = 3;
        rec.headers[0].name = "event_id";
        rec.headers[0].value = sr_slice("e-42", 4);
        rec.headers[1].name = "empty";
        rec.headers[1].value = sr_slice("", 0);
        rec.headers[2].name = "null";
        rec.headers[2].value = sr_slice(NULL, 0);
        return rec;
}

static void assert_slice(sr_slice_t got, sr_slice_t want)
{
        cr_assert(eq(sz, got.len, want.len));
        if (!want.ptr) {
                cr_assert(eq(ptr, (void *)got.ptr, NULL));
                return;
        }
        cr_assert(not(eq(ptr, (void *)got.ptr, NULL)));
        cr_assert(eq(int, memcmp(got.ptr, want.ptr, want.len), 0));
}

static void assert_same(const sr_outrec_t *got, const sr_outrec_t *want)
{
        uint32_t i;

        cr_assert(eq(int, got->topic, want->topic));
        cr_assert(eq(i32, got->partition, want->partition));
        cr_assert(eq(i64, got->timestamp, want->timestamp));
        assert_slice(got->key, want->key);
        assert_slice(got->value, want->value);
        cr_assert(eq(u32, got->n_headers, want->n_headers));
        for (i = 0; i < want->n_headers; i++) {
                cr_assert(eq(str, (char *)got->headers[i].name,
                             (char *)want->headers[i].name));
                assert_slice(got->headers[i].value, want->headers[i].value);
        }
}

static sr_buf_t encode(const sr_outrec_t *rec)
{
        sr_buf_t buf = { NULL, 0 };
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_outrec_encode(rec, &buf, &ec), SR_OK), "%s",
                  ec.msg);
        return buf;
}

Test(sr_outbox, round_trip_keeps_fields_headers_and_null_vs_empty)
{
        sr_outrec_t rec = full_record(), out;
        sr_buf_t buf = encode(&rec);
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_outrec_decode(sr_buf_slice(&buf), &out, &ec),
                     SR_OK), "%s", ec.msg);
        assert_same(&out, &rec);
        /* Borrowed: the slices point into the encoding. */
        cr_assert(ge(ptr, (void *)out.key.ptr, buf.ptr));
        cr_assert(lt(ptr, (void *)out.key.ptr,
                     (void *)((char *)buf.ptr + buf.len)));
        cr_assert(eq(ptr, (void *)out.headers[3].name, NULL));
        sr_buf_free(&buf);
}

Test(sr_outbox, tombstone_with_null_key_and_no_headers_round_trips)
{
        sr_outrec_t rec, out;
        sr_buf_t buf;

        memset(&rec, 0, sizeof(rec));
        rec.topic = SR_TOPIC_CHANGELOG;
        rec.partition = -1;
        rec.key = sr_slice("entity", 6);
        rec.value = sr_slice(NULL, 0);
        buf = encode(&rec);
        cr_assert(eq(int, sr_outrec_decode(sr_buf_slice(&buf), &out, NULL),
                     SR_OK));
        assert_same(&out, &rec);
        cr_assert(eq(ptr, (void *)out.value.ptr, NULL), "tombstone");
        sr_buf_free(&buf);

        rec.key = sr_slice(NULL, 0);
        rec.value = sr_slice("", 0);
        buf = encode(&rec);
        cr_assert(eq(int, sr_outrec_decode(sr_buf_slice(&buf), &out, NULL),
                     SR_OK));
        cr_assert(eq(ptr, (void *)out.key.ptr, NULL), "null key");
        cr_assert(not(eq(ptr, (void *)out.value.ptr, NULL)), "empty value");
        sr_buf_free(&buf);
}

Test(sr_outbox, sixteen_headers_round_trip)
{
        static const char *const names[SR_OUTREC_MAX_HEADERS] = {
                "h0", "h1", "h2",  "h3",  "h4",  "h5",  "h6",  "h7",
                "h8", "h9", "h10", "h11", "h12", "h13", "h14", "h15",
        };
        sr_outrec_t rec = full_record(), out;
        sr_buf_t buf;
        int i;

        rec.n_headers = SR_OUTREC_MAX_HEADERS;
        for (i = 0; i < SR_OUTREC_MAX_HEADERS; i++) {
                rec.headers[i].name = names[i];
                rec.headers[i].value = sr_slice(names[i], strlen(names[i]));
        }
        buf = encode(&rec);
        cr_assert(eq(int, sr_outrec_decode(sr_buf_slice(&buf), &out, NULL),
                     SR_OK));
        assert_same(&out, &rec);
        sr_buf_free(&buf);
}

Test(sr_outbox, encode_appends_after_existing_bytes)
{
        sr_outrec_t a = full_record(), b = full_record(), out;
        sr_buf_t buf = { NULL, 0 };
        size_t first;

        b.topic = SR_TOPIC_DLQ;
        b.n_headers = 0;
        cr_assert(eq(int, sr_outrec_encode(&a, &buf, NULL), SR_OK));
        first = buf.len;
        cr_assert(eq(int, sr_outrec_encode(&b, &buf, NULL), SR_OK));
        cr_assert(eq(int, sr_outrec_decode(sr_slice(buf.ptr, first), &out,
                                           NULL),
                     SR_OK));
        assert_same(&out, &a);
        cr_assert(eq(int, sr_outrec_decode(sr_slice((char *)buf.ptr + first,
                                                    buf.len - first),
                                           &out, NULL),
                     SR_OK));
        assert_same(&out, &b);
        sr_buf_free(&buf);
}

Test(sr_outbox, encode_rejects_invalid_records_and_leaves_buffer)
{
        sr_outrec_t rec;
        sr_buf_t buf = { NULL, 0 };
        sr_errctx_t ec = { 0 };

        rec = full_record();
        rec.topic = SR_TOPIC__COUNT;
        cr_assert(eq(int, sr_outrec_encode(&rec, &buf, &ec), SR_ERR_INVALID));
        rec = full_record();
        rec.partition = -2;
        cr_assert(eq(int, sr_outrec_encode(&rec, &buf, &ec), SR_ERR_INVALID));
        rec = full_record();
        rec.timestamp = -1;
        cr_assert(eq(int, sr_outrec_encode(&rec, &buf, &ec), SR_ERR_INVALID));
        rec = full_record();
        rec.n_headers = SR_OUTREC_MAX_HEADERS + 1;
        cr_assert(eq(int, sr_outrec_encode(&rec, &buf, &ec), SR_ERR_INVALID));
        rec = full_record();
        rec.headers[1].name = NULL;
        cr_assert(eq(int, sr_outrec_encode(&rec, &buf, &ec), SR_ERR_INVALID));
        rec = full_record();
        rec.key = sr_slice(NULL, 3);
        cr_assert(eq(int, sr_outrec_encode(&rec, &buf, &ec), SR_ERR_INVALID));
        cr_assert(eq(ptr, buf.ptr, NULL));
        cr_assert(eq(sz, buf.len, 0));
}

Test(sr_outbox, every_truncated_prefix_is_corrupt)
{
        sr_outrec_t rec = full_record(), out;
        sr_buf_t buf = encode(&rec);
        sr_errctx_t ec = { 0 };
        size_t len;
        char *copy;

        for (len = 0; len < buf.len; len++) {
                /* An exact-size heap copy lets ASan catch any overread. */
                copy = malloc(len ? len : 1);
                cr_assert(not(eq(ptr, copy, NULL)));
                memcpy(copy, buf.ptr, len);
                cr_assert(eq(int, sr_outrec_decode(sr_slice(copy, len), &out,
                                                   &ec),
                             SR_ERR_CORRUPT),
                          "prefix of %zu/%zu bytes", len, buf.len);
                free(copy);
        }
        cr_assert(eq(int, sr_outrec_decode(sr_slice(NULL, 0), &out, &ec),
                     SR_ERR_CORRUPT));
        sr_buf_free(&buf);
}

Test(sr_outbox, trailing_byte_is_corrupt)
{
        sr_outrec_t rec = full_record(), out;
        sr_buf_t buf = encode(&rec);
        sr_errctx_t ec = { 0 };
        char *copy = malloc(buf.len + 1);

        cr_assert(not(eq(ptr, copy, NULL)));
        memcpy(copy, buf.ptr, buf.len);
        copy[buf.len] = 0;
        cr_assert(eq(int, sr_outrec_decode(sr_slice(copy, buf.len + 1), &out,
                                           &ec),
                     SR_ERR_CORRUPT));
        cr_assert(not(eq(ptr, strstr(ec.msg, "trailing"), NULL)), "%s",
                  ec.msg);
        free(copy);
        sr_buf_free(&buf);
}

/* Any byte changed to any value: decode fails cleanly, or succeeds on a
 * record that encodes back to exactly those bytes. */
Test(sr_outbox, mutated_bytes_decode_cleanly_or_reencode_identically)
{
        sr_outrec_t rec = full_record(), out;
        sr_buf_t buf = encode(&rec), again;
        size_t i;
        unsigned v;
        sr_err_t err;
        char *copy = malloc(buf.len);

        cr_assert(not(eq(ptr, copy, NULL)));
        for (i = 0; i < buf.len; i++) {
                for (v = 0; v < 256; v++) {
                        memcpy(copy, buf.ptr, buf.len);
                        copy[i] = (char)v;
                        err = sr_outrec_decode(sr_slice(copy, buf.len), &out,
                                               NULL);
                        if (err) {
                                cr_assert(eq(int, err, SR_ERR_CORRUPT));
                                continue;
                        }
                        again = encode(&out);
                        cr_assert(eq(sz, again.len, buf.len));
                        cr_assert(eq(int, memcmp(again.ptr, copy, buf.len),
                                     0),
                                  "byte %zu value %u", i, v);
                        sr_buf_free(&again);
                }
        }
        free(copy);
        sr_buf_free(&buf);
}

Test(sr_outbox, topic_suffixes_name_every_topic)
{
        cr_assert(eq(str, (char *)sr_topic_suffix(SR_TOPIC_COMMANDS),
                     "commands"));
        cr_assert(eq(str, (char *)sr_topic_suffix(SR_TOPIC_RESULTS),
                     "results"));
        cr_assert(eq(str, (char *)sr_topic_suffix(SR_TOPIC_EVENTS), "events"));
        cr_assert(eq(str, (char *)sr_topic_suffix(SR_TOPIC_DISPATCH),
                     "dispatch"));
        cr_assert(eq(str, (char *)sr_topic_suffix(SR_TOPIC_CHANGELOG),
                     "changelog"));
        cr_assert(eq(str, (char *)sr_topic_suffix(SR_TOPIC_REPLIES),
                     "replies"));
        cr_assert(eq(str, (char *)sr_topic_suffix(SR_TOPIC_DLQ), "dlq"));
        cr_assert(eq(str, (char *)sr_topic_suffix(SR_TOPIC_IDEMPOTENCY),
                     "idempotency"));
        cr_assert(eq(str, (char *)sr_topic_suffix(SR_TOPIC_DEF_EVENTS),
                     "definition-events"));
        cr_assert(eq(ptr, (void *)sr_topic_suffix(SR_TOPIC__COUNT), NULL));
}
