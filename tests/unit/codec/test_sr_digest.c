/* tests/unit/codec/test_sr_digest.c - sr_digest: known answers, the bytes
 * a chunk's digest hashes being exactly the targets array the codec writes
 * in an AppendTargets command (sliced out of its body, hashed here with
 * libcrypto directly), what changes a digest, and the refusals (those of
 * the codec's encoder). Python's hashlib over fastavro's encoding:
 * api.chunk_digest_fastavro (tests/codec/digest_check.py).
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_codec.h"
#include "sr_digest.h"

#include "kit_codec.h"

TestSuite(sr_digest, .init = codec_setup, .fini = codec_teardown,
          .timeout = 60.0);

/* ------------------------------------------------------------ helpers */

#define assert_msg(ec, frag)                                            \
        cr_assert(not(eq(ptr, strstr((ec).msg, (frag)), NULL)),         \
                  "message \"%s\" lacks \"%s\"", (ec).msg, (frag))

static void hex(const uint8_t d[SR_DIGEST_LEN], char out[2 * SR_DIGEST_LEN + 1])
{
        for (int i = 0; i < SR_DIGEST_LEN; i++)
                snprintf(out + 2 * i, 3, "%02x", d[i]);
}

#define assert_hex(d, want)                                             \
        do {                                                            \
                char h_[2 * SR_DIGEST_LEN + 1];                         \
                hex((d), h_);                                           \
                cr_assert(eq(str, h_, (char *)(want)));                 \
        } while (0)

#define assert_digest_eq(a, b)                                          \
        cr_assert(eq(int, memcmp((a), (b), SR_DIGEST_LEN), 0),          \
                  "%s differs from %s", #a, #b)

#define assert_digest_ne(a, b)                                          \
        cr_assert(not(eq(int, memcmp((a), (b), SR_DIGEST_LEN), 0)),     \
                  "%s equals %s", #a, #b)

/* libcrypto's SHA-256 of @p p, the reference for the slices. */
static void sha256(const void *p, size_t n, uint8_t out[SR_DIGEST_LEN])
{
        unsigned int len = 0;

        cr_assert(eq(int, EVP_Digest(p, n, out, &len, EVP_sha256(), NULL),
                     1));
        cr_assert(eq(u32, len, SR_DIGEST_LEN));
}

static sr_uuid_t uuid_text(const char *s)
{
        sr_uuid_t u;

        cr_assert(sr_uuid_parse(s, strlen(s), &u), "%s", s);
        return u;
}

static sr_uuid_t uuid_n(uint32_t n)
{
        sr_uuid_t u;

        for (int i = 0; i < 16; i++)
                u.b[i] = (uint8_t)(n >> (8 * (i % 4))) ^ (uint8_t)(i * 37 + 1);
        return u;
}

static void digest_ok(const sr_spec_target_t *t, uint32_t n,
                      uint8_t out[SR_DIGEST_LEN])
{
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_targets_digest(t, n, out, &ec), SR_OK), "%s",
                  ec.msg);
}

/* The chunk of the known-answer vector (and digest_check.py's chunk 1):
 * a derived target, then one with an id, a non-ASCII name and an alias. */
static void kat_chunk(sr_spec_target_t t[2])
{
        memset(t, 0, 2 * sizeof(*t));
        t[0].device_id = uuid_text("00000000-0000-4000-8000-000000000001");
        strcpy(t[0].device_name, "lobby-1");
        t[1].target_id = uuid_text("11111111-2222-4333-8444-555555555555");
        t[1].device_id = uuid_text("AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE");
        strcpy(t[1].device_name, "T\xc3\xbcrschlo\xc3\x9f "
               "\xe6\x9d\xb1\xe4\xba\xac"); /* "Türschloß 東京" */
        strcpy(t[1].device_alias, "rack 7");
}

/* @p n targets: every third derived (nil target_id), names of every length
 * 0..255 (so items of up to the longest encoding), non-ASCII bytes. */
static sr_spec_target_t *many_targets(uint32_t n)
{
        sr_spec_target_t *t = calloc(n ? n : 1, sizeof(*t));

        cr_assert(not(eq(ptr, t, NULL)));
        for (uint32_t i = 0; i < n; i++) {
                size_t name_len = i % SR_NAME_MAX;
                size_t alias_len = (i * 7) % SR_NAME_MAX;

                if (i % 3)
                        t[i].target_id = uuid_n(2 * i + 1);
                t[i].device_id = uuid_n(2 * i + 2);
                for (size_t k = 0; k < name_len; k++)
                        t[i].device_name[k] = (char)('a' + (i + k) % 26);
                for (size_t k = 0; k + 1 < alias_len; k += 2)
                        memcpy(t[i].device_alias + k, "\xc3\xa9", 2); /* é */
                if (alias_len % 2)
                        t[i].device_alias[alias_len - 1] = 'z';
        }
        return t;
}

/* Read a zig-zag varint at *p (within end); advance. */
static int64_t rd_long(const uint8_t **p, const uint8_t *end)
{
        uint64_t v = 0;
        int shift = 0;

        for (;;) {
                cr_assert(eq(int, *p < end, 1), "varint past the end");
                cr_assert(lt(int, shift, 64), "varint too long");
                uint8_t b = *(*p)++;

                v |= (uint64_t)(b & 0x7f) << shift;
                shift += 7;
                if (!(b & 0x80))
                        break;
        }
        return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static void skip_str(const uint8_t **p, const uint8_t *end)
{
        int64_t n = rd_long(p, end);

        cr_assert(eq(int, n >= 0 && n <= end - *p, 1), "string past the end");
        *p += n;
}

/* Encode an AppendTargets of @p t with the codec; the slice of its body
 * that is the targets array (it runs to the end of the body). The caller
 * frees *buf. */
static sr_slice_t encode_append(const sr_spec_target_t *t, uint32_t n,
                                sr_buf_t *buf)
{
        sr_errctx_t ec = { 0 };
        const uint8_t *p, *end;
        sr_command_t c;

        memset(&c, 0, sizeof(c));
        c.kind = SR_CMD_APPEND_TARGETS;
        c.command_id = uuid_n(7001);
        c.pipeline_run_id = uuid_n(7002);
        strcpy(c.enterprise_id, "acme");
        c.issued_at = 1767225600123LL;
        c.u.append.stage_index = 3;
        c.u.append.chunk = 41;
        c.u.append.n_targets = n;
        c.u.append.targets = (sr_spec_target_t *)t; /* borrowed: no fini */
        cr_assert(eq(int, sr_codec_encode_command(codec, &c, buf, &ec),
                     SR_OK), "%s", ec.msg);
        p = buf->ptr;
        end = p + buf->len;
        cr_assert(gt(sz, buf->len, 5));
        cr_assert(eq(u8, p[0], 0));                  /* magic */
        cr_assert(eq(u8, p[4], 7));                  /* schema id 7 */
        p += 5;
        skip_str(&p, end);                           /* command_id */
        skip_str(&p, end);                           /* pipeline_run_id */
        skip_str(&p, end);                           /* enterprise_id */
        cr_assert(eq(i64, rd_long(&p, end), c.issued_at));
        cr_assert(eq(i64, rd_long(&p, end), 5));     /* AppendTargets */
        cr_assert(eq(i64, rd_long(&p, end), 3));     /* stage_index */
        cr_assert(eq(i64, rd_long(&p, end), 41));    /* chunk */
        return (sr_slice_t){ .ptr = p, .len = (size_t)(end - p) };
}

/* The property: sr_targets_digest() hashes exactly the codec's bytes. */
static void assert_digest_is_codec_bytes(const sr_spec_target_t *t,
                                         uint32_t n)
{
        uint8_t want[SR_DIGEST_LEN], got[SR_DIGEST_LEN];
        sr_buf_t buf = { 0 };
        sr_slice_t s = encode_append(t, n, &buf);

        sha256(s.ptr, s.len, want);
        digest_ok(t, n, got);
        assert_digest_eq(got, want);
        sr_buf_free(&buf);
}

/* ------------------------------------------------------- known answers */

Test(sr_digest, empty_chunk_is_sha256_of_one_zero_byte)
{
        uint8_t d[SR_DIGEST_LEN];

        digest_ok(NULL, 0, d);
        assert_hex(d, "6e340b9cffb37a989ca544e6bb780a2c"
                      "78901d3fb33738768511a30617afa01d");
}

Test(sr_digest, seal_of_no_chunk_is_sha256_of_nothing)
{
        sr_errctx_t ec = { 0 };
        uint8_t d[SR_DIGEST_LEN];

        cr_assert(eq(int, sr_seal_digest(NULL, 0, d, &ec), SR_OK), "%s",
                  ec.msg);
        assert_hex(d, "e3b0c44298fc1c149afbf4c8996fb924"
                      "27ae41e4649b934ca495991b7852b855");
}

/* Vectors computed with Python: hashlib.sha256 over fastavro's
 * schemaless_writer of the targets array schema (command.avsc). */
Test(sr_digest, known_chunk_and_seals)
{
        uint8_t chunks[2][SR_DIGEST_LEN], seal[SR_DIGEST_LEN];
        sr_errctx_t ec = { 0 };
        sr_spec_target_t t[2];

        kat_chunk(t);
        digest_ok(t, 2, chunks[0]);
        assert_hex(chunks[0], "42e4da431cf66078f2769b08633e754c"
                              "83019d69b8d6236a97c704333b9f0748");
        digest_ok(NULL, 0, chunks[1]);
        cr_assert(eq(int, sr_seal_digest(chunks, 2, seal, &ec), SR_OK),
                  "%s", ec.msg);
        assert_hex(seal, "fabc8320bbeea1ebfa3649d26b8b882b"
                         "c641abc2c02ee2bf0bfdadbc34a2cc7c");
        cr_assert(eq(int, sr_seal_digest(&chunks[1], 1, seal, &ec), SR_OK),
                  "%s", ec.msg);
        assert_hex(seal, "1406e05881e299367766d313e26c0556"
                         "4ec91bf721d31726bd6e46e60689539a");
}

/* The seal is SHA-256 over the chunk digests concatenated. */
Test(sr_digest, seal_hashes_the_chunk_digests_in_order)
{
        uint8_t chunks[5][SR_DIGEST_LEN], want[SR_DIGEST_LEN];
        uint8_t got[SR_DIGEST_LEN], swapped[SR_DIGEST_LEN];
        sr_errctx_t ec = { 0 };

        for (int i = 0; i < 5; i++)
                for (int k = 0; k < SR_DIGEST_LEN; k++)
                        chunks[i][k] = (uint8_t)(i * 51 + k);
        sha256(chunks, sizeof(chunks), want);
        cr_assert(eq(int, sr_seal_digest(chunks, 5, got, &ec), SR_OK), "%s",
                  ec.msg);
        assert_digest_eq(got, want);

        memcpy(chunks[0], chunks[4], SR_DIGEST_LEN);
        for (int k = 0; k < SR_DIGEST_LEN; k++)
                chunks[4][k] = (uint8_t)k;
        cr_assert(eq(int, sr_seal_digest(chunks, 5, swapped, &ec), SR_OK),
                  "%s", ec.msg);
        assert_digest_ne(swapped, got);
}

/* ------------------------------------------- the codec's bytes, exactly */

Test(sr_digest, hashes_the_targets_bytes_of_an_append_command)
{
        sr_spec_target_t t[2];

        kat_chunk(t);
        assert_digest_is_codec_bytes(NULL, 0);
        assert_digest_is_codec_bytes(t, 1);
        assert_digest_is_codec_bytes(t, 2);
        assert_digest_is_codec_bytes(&t[1], 1);
}

/* Items of every name length (the longest encodings: names and aliases of
 * 255 bytes), counts around the varint steps (63/64: one byte to two),
 * and enough items to pass the internal buffer many times. */
Test(sr_digest, hashes_the_codec_bytes_for_every_size)
{
        static const uint32_t counts[] = { 1, 13, 14, 63, 64, 65, 300, 1000 };
        sr_spec_target_t *t = many_targets(1000);

        for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
                assert_digest_is_codec_bytes(t, counts[i]);
        /* from an offset: other alignments of the long items */
        assert_digest_is_codec_bytes(t + 250, 750);
        free(t);
}

/* 10,000 targets (the most stage.chunk.targets allows): the same bytes
 * as the codec, and the same digest every time. Its speed is measured,
 * not asserted (1.6 ms per 10,000 targets when it was written). */
Test(sr_digest, ten_thousand_targets)
{
        uint8_t d[SR_DIGEST_LEN], again[SR_DIGEST_LEN];
        sr_spec_target_t *t = many_targets(10000);

        assert_digest_is_codec_bytes(t, 10000);
        digest_ok(t, 10000, d);
        digest_ok(t, 10000, again);
        assert_digest_eq(d, again);
        free(t);
}

/* --------------------------------------------- what changes the digest */

Test(sr_digest, null_and_non_null_target_id_differ)
{
        uint8_t a[SR_DIGEST_LEN], b[SR_DIGEST_LEN], c[SR_DIGEST_LEN];
        sr_spec_target_t t[2];

        kat_chunk(t);
        digest_ok(&t[1], 1, a);
        memset(&t[1].target_id, 0, sizeof(t[1].target_id));
        digest_ok(&t[1], 1, b);
        assert_digest_ne(a, b);
        /* the nil id is null, not the text of the nil uuid */
        assert_digest_is_codec_bytes(&t[1], 1);
        t[1].target_id = uuid_text("00000000-0000-0000-0000-000000000001");
        digest_ok(&t[1], 1, c);
        assert_digest_ne(c, b);
        assert_digest_ne(c, a);
}

Test(sr_digest, order_matters)
{
        uint8_t a[SR_DIGEST_LEN], b[SR_DIGEST_LEN];
        sr_spec_target_t t[2], s[2];

        kat_chunk(t);
        s[0] = t[1];
        s[1] = t[0];
        digest_ok(t, 2, a);
        digest_ok(s, 2, b);
        assert_digest_ne(a, b);
}

Test(sr_digest, every_field_counts)
{
        uint8_t base[SR_DIGEST_LEN], d[SR_DIGEST_LEN];
        sr_spec_target_t t[2], u[2];

        kat_chunk(t);
        digest_ok(t, 2, base);

        memcpy(u, t, sizeof(u));
        u[1].device_id.b[15] ^= 1;
        digest_ok(u, 2, d);
        assert_digest_ne(d, base);

        memcpy(u, t, sizeof(u));
        u[1].target_id.b[0] ^= 0x10;
        digest_ok(u, 2, d);
        assert_digest_ne(d, base);

        memcpy(u, t, sizeof(u));
        strcpy(u[0].device_name, "lobby-2");
        digest_ok(u, 2, d);
        assert_digest_ne(d, base);

        /* the same bytes moved from the name to the alias */
        memcpy(u, t, sizeof(u));
        strcpy(u[1].device_alias, "");
        strcat(u[1].device_name, "rack 7");
        digest_ok(u, 2, d);
        assert_digest_ne(d, base);

        /* one chunk of two is not two chunks of one */
        digest_ok(t, 1, d);
        assert_digest_ne(d, base);
}

/* ------------------------------------------------------------ refusals */

/* @p t[@p at] broken by @p breaker: the digest and the codec refuse it
 * with the same code, and the digest's message is the codec's (less the
 * codec's "payload AppendTargets" prefix), naming the item and field. */
static void assert_refused_as_codec(sr_spec_target_t *t, uint32_t n,
                                    const char *want)
{
        sr_errctx_t ec = { 0 }, cec = { 0 };
        uint8_t d[SR_DIGEST_LEN], keep[SR_DIGEST_LEN];
        sr_buf_t buf = { 0 };
        sr_command_t c;

        memset(keep, 0xa5, sizeof(keep));
        memcpy(d, keep, sizeof(d));
        cr_assert(eq(int, sr_targets_digest(t, n, d, &ec), SR_ERR_INVALID));
        assert_msg(ec, want);
        cr_assert(eq(int, memcmp(d, keep, SR_DIGEST_LEN), 0),
                  "out written on a refusal");

        memset(&c, 0, sizeof(c));
        c.kind = SR_CMD_APPEND_TARGETS;
        c.command_id = uuid_n(1);
        c.pipeline_run_id = uuid_n(2);
        strcpy(c.enterprise_id, "acme");
        c.u.append.n_targets = n;
        c.u.append.targets = t; /* borrowed: no fini */
        cr_assert(eq(int, sr_codec_encode_command(codec, &c, &buf, &cec),
                     SR_ERR_INVALID), "the codec took it");
        cr_assert(not(eq(ptr, strstr(cec.msg, ec.msg), NULL)),
                  "codec says \"%s\", digest \"%s\"", cec.msg, ec.msg);
}

Test(sr_digest, refuses_a_name_without_nul_as_the_codec)
{
        sr_spec_target_t *t = many_targets(5);

        memset(t[2].device_name, 'x', sizeof(t[2].device_name));
        assert_refused_as_codec(t, 5, "targets[2]: field device_name: "
                                "not NUL-terminated within 256 bytes");
        free(t);
}

Test(sr_digest, refuses_an_alias_without_nul_as_the_codec)
{
        sr_spec_target_t *t = many_targets(40);

        memset(t[37].device_alias, 'y', sizeof(t[37].device_alias));
        assert_refused_as_codec(t, 40, "targets[37]: field device_alias: "
                                "not NUL-terminated within 256 bytes");
        /* the first bad item and, within it, the first bad field */
        memset(t[37].device_name, 'x', sizeof(t[37].device_name));
        memset(t[39].device_name, 'x', sizeof(t[39].device_name));
        assert_refused_as_codec(t, 40, "targets[37]: field device_name:");
        free(t);
}

Test(sr_digest, longest_strings_are_taken)
{
        sr_spec_target_t t[1];
        uint8_t d[SR_DIGEST_LEN];

        memset(t, 0, sizeof(t));
        memset(t[0].device_name, 'n', SR_NAME_MAX - 1);
        memset(t[0].device_alias, 'a', SR_NAME_MAX - 1);
        digest_ok(t, 1, d);
        assert_digest_is_codec_bytes(t, 1);
}

Test(sr_digest, refuses_a_null_array)
{
        sr_errctx_t ec = { 0 };
        uint8_t d[SR_DIGEST_LEN];

        cr_assert(eq(int, sr_targets_digest(NULL, 3, d, &ec),
                     SR_ERR_INVALID));
        assert_msg(ec, "field targets: 3 items, NULL array");
        cr_assert(eq(int, sr_seal_digest(NULL, 2, d, &ec), SR_ERR_INVALID));
        assert_msg(ec, "2 chunks, NULL array");
}
