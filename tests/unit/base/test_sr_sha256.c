/* tests/unit/base/test_sr_sha256.c - SHA-256 against FIPS 180-4's examples
 * and a million 'a's, and fed in pieces of every size against one call. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdio.h>
#include <string.h>

#include "sr_sha256.h"

TestSuite(sr_sha256, .timeout = 10.0);

static void hex(const uint8_t *d, char out[2 * SR_SHA256_LEN + 1])
{
        for (int i = 0; i < SR_SHA256_LEN; i++)
                snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void check(const char *msg, size_t len, const char *want)
{
        uint8_t md[SR_SHA256_LEN];
        char got[2 * SR_SHA256_LEN + 1];

        sr_sha256(msg, len, md);
        hex(md, got);
        cr_expect(eq(str, got, (char *)want), "%zu bytes", len);
}

Test(sr_sha256, fips_180_examples_give_their_digests)
{
        static const char two_blocks[] =
                "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

        check("", 0, "e3b0c44298fc1c149afbf4c8996fb924"
                     "27ae41e4649b934ca495991b7852b855");
        check("abc", 3, "ba7816bf8f01cfea414140de5dae2223"
                        "b00361a396177a9cb410ff61f20015ad");
        check(two_blocks, strlen(two_blocks),
              "248d6a61d20638b8e5c026930c3e6039"
              "a33ce45964ff2167f6ecedd419db06c1");
}

/* The digest of no chunks (sr_seal_digest(NULL, 0)): NULL with 0 bytes is
 * the empty message, and reads nothing (UBSan: memcpy from NULL). */
Test(sr_sha256, null_with_no_bytes_is_the_empty_message)
{
        check(NULL, 0, "e3b0c44298fc1c149afbf4c8996fb924"
                       "27ae41e4649b934ca495991b7852b855");
}

Test(sr_sha256, a_million_a_in_pieces_gives_the_fips_digest)
{
        static char a[1000];
        sr_sha256_ctx_t c;
        uint8_t md[SR_SHA256_LEN];
        char got[2 * SR_SHA256_LEN + 1];

        memset(a, 'a', sizeof(a));
        sr_sha256_init(&c);
        for (int i = 0; i < 1000; i++)
                sr_sha256_update(&c, a, sizeof(a));
        sr_sha256_final(&c, md);
        hex(md, got);
        cr_expect(eq(str, got, "cdc76e5c9914fb9281a1c7e284d73e67"
                               "f1809a48a497200e046d39ccc7112cd0"));
}

/* Every length around the padding's edges (55, 56, 63, 64 bytes...), fed
 * in pieces of every size, equals the one-call digest. */
Test(sr_sha256, pieces_of_any_size_equal_one_call)
{
        uint8_t msg[200], one[SR_SHA256_LEN], parts[SR_SHA256_LEN];

        for (size_t i = 0; i < sizeof(msg); i++)
                msg[i] = (uint8_t)(i * 31 + 7);
        for (size_t len = 0; len <= sizeof(msg); len++) {
                sr_sha256(msg, len, one);
                for (size_t piece = 1; piece <= 70; piece += 3) {
                        sr_sha256_ctx_t c;

                        sr_sha256_init(&c);
                        for (size_t at = 0; at < len; at += piece)
                                sr_sha256_update(&c, msg + at,
                                                 len - at < piece ?
                                                         len - at : piece);
                        sr_sha256_final(&c, parts);
                        cr_assert(eq(int, memcmp(one, parts, sizeof(one)), 0),
                                  "%zu bytes in pieces of %zu", len, piece);
                }
        }
}

Test(sr_sha256, hex_text_round_trips_and_refuses_anything_else)
{
        uint8_t md[SR_SHA256_LEN], back[SR_SHA256_LEN];
        char hex[2 * SR_SHA256_LEN + 1], upper[2 * SR_SHA256_LEN + 1];

        sr_sha256("abc", 3, md);
        sr_sha256_hex(md, hex);
        cr_expect(eq(str, hex, "ba7816bf8f01cfea414140de5dae2223"
                               "b00361a396177a9cb410ff61f20015ad"));
        cr_assert(sr_sha256_parse_hex(hex, strlen(hex), back));
        cr_expect(eq(int, memcmp(md, back, sizeof(md)), 0));
        for (size_t i = 0; i <= 2 * SR_SHA256_LEN; i++)
                upper[i] = (char)(hex[i] >= 'a' && hex[i] <= 'f' ?
                                          hex[i] - 'a' + 'A' : hex[i]);
        cr_expect(sr_sha256_parse_hex(upper, strlen(upper), back));
        cr_expect(not(sr_sha256_parse_hex(hex, strlen(hex) - 1, back)));
        hex[7] = 'g';
        cr_expect(not(sr_sha256_parse_hex(hex, strlen(hex), back)));
        cr_expect(not(sr_sha256_parse_hex(NULL, 0, back)));
}

/* A hash saved after every piece and restored into a fresh context, as a
 * run's fill carries it from one FillStep to the next, gives the digest
 * of the whole input fed at once. */
Test(sr_sha256, a_hash_saved_and_restored_between_pieces_gives_the_same_digest)
{
        uint8_t msg[1000], want[SR_SHA256_LEN], got[SR_SHA256_LEN];
        uint8_t saved[SR_SHA256_SAVED_MAX];
        static const size_t pieces[] = { 32, 32, 1, 63, 64, 65, 100, 7 };

        for (size_t i = 0; i < sizeof(msg); i++)
                msg[i] = (uint8_t)(i * 31 + 7);
        for (size_t p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++) {
                size_t step = pieces[p], at = 0, n;
                sr_sha256_ctx_t c;

                sr_sha256(msg, sizeof(msg), want);
                sr_sha256_init(&c);
                n = sr_sha256_save(&c, saved);
                while (at < sizeof(msg)) {
                        size_t k = sizeof(msg) - at < step ?
                                           sizeof(msg) - at : step;
                        sr_sha256_ctx_t next;

                        cr_assert(sr_sha256_restore(&next, saved, n, at));
                        sr_sha256_update(&next, msg + at, k);
                        at += k;
                        n = sr_sha256_save(&next, saved);
                        cr_assert(eq(sz, n, 32 + at % 64));
                }
                sr_sha256_restore(&c, saved, n, at);
                sr_sha256_final(&c, got);
                cr_expect(memcmp(got, want, sizeof(want)) == 0, "pieces of %zu",
                          step);
        }
}

Test(sr_sha256, a_saved_hash_that_does_not_fit_its_length_is_refused)
{
        uint8_t saved[SR_SHA256_SAVED_MAX] = { 0 };
        sr_sha256_ctx_t c;

        cr_expect(sr_sha256_restore(&c, saved, 31, 0) == false);
        cr_expect(sr_sha256_restore(&c, saved, 64, 0) == false);
        cr_expect(sr_sha256_restore(&c, saved, 32, 32) == false);
        cr_expect(sr_sha256_restore(&c, saved, 64, 96));
        cr_expect(sr_sha256_restore(&c, saved, 32, 128));
}
