/* tests/unit/domain/test_sr_sha1.c - SHA-1 against FIPS 180 vectors, the SHA-NI
 * path against the portable one, and our v5 ids against libuuid's. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "sr_model.h"
#include "sr_sha1.h"

static void restore(void)
{
        sr_sha1_force_portable(false);
}

TestSuite(sr_sha1, .fini = restore, .timeout = 10.0);

/* xorshift64: the same bytes on every run. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint8_t rnd8(void)
{
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return (uint8_t)(rng >> 32);
}

static void rnd_fill(void *p, size_t n)
{
        for (size_t i = 0; i < n; i++)
                ((uint8_t *)p)[i] = rnd8();
}

static void hex(const uint8_t *d, size_t n, char *out)
{
        for (size_t i = 0; i < n; i++)
                sprintf(out + 2 * i, "%02x", d[i]);
}

static const struct {
        const char *msg;
        const char *digest;
} fips[] = {
        { "abc", "a9993e364706816aba3e25717850c26c9cd0d89d" },
        { "", "da39a3ee5e6b4b0d3255bfef95601890afd80709" },
        { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
          "84983e441c3bd26ebaae4aa1f95129e5e54670f1" },
};

/* Every vector on both paths, whole and split at every point (the split
 * exercises sr_sha1_2's buffering across its two parts). */
static void check_fips(void)
{
        for (size_t i = 0; i < sizeof(fips) / sizeof(*fips); i++) {
                size_t len = strlen(fips[i].msg);
                uint8_t d[SR_SHA1_LEN];
                char h[2 * SR_SHA1_LEN + 1];

                sr_sha1(fips[i].msg, len, d);
                hex(d, sizeof(d), h);
                cr_assert(eq(str, h, (char *)fips[i].digest), "%s: \"%s\"",
                          sr_sha1_impl(), fips[i].msg);
                for (size_t k = 0; k <= len; k++) {
                        sr_sha1_2(fips[i].msg, k, fips[i].msg + k, len - k, d);
                        hex(d, sizeof(d), h);
                        cr_assert(eq(str, h, (char *)fips[i].digest),
                                  "%s: \"%s\" split at %zu", sr_sha1_impl(),
                                  fips[i].msg, k);
                }
        }
}

Test(sr_sha1, fips_180_vectors_on_the_chosen_path)
{
        cr_log_info("sr_sha1: %s", sr_sha1_impl());
        check_fips();
}

Test(sr_sha1, fips_180_vectors_on_the_portable_path)
{
        sr_sha1_force_portable(true);
        cr_assert(eq(str, (char *)sr_sha1_impl(), "portable"));
        check_fips();
}

Test(sr_sha1, one_million_a_on_both_paths)
{
        enum { N = 1000000 };
        char *m = malloc(N);
        uint8_t d[SR_SHA1_LEN];
        char h[2 * SR_SHA1_LEN + 1];

        cr_assert(m != NULL);
        memset(m, 'a', N);
        for (int portable = 0; portable < 2; portable++) {
                sr_sha1_force_portable(portable);
                sr_sha1(m, N, d);
                hex(d, sizeof(d), h);
                cr_assert(eq(str, h,
                             "34aa973cd4c4daa4f61eeb2bdbad27316534016f"),
                          "%s", sr_sha1_impl());
                /* Odd split: the second part starts mid-block. */
                sr_sha1_2(m, 333333, m + 333333, N - 333333, d);
                hex(d, sizeof(d), h);
                cr_assert(eq(str, h,
                             "34aa973cd4c4daa4f61eeb2bdbad27316534016f"),
                          "%s split", sr_sha1_impl());
        }
        free(m);
}

Test(sr_sha1, sha_ni_and_portable_agree_on_random_input)
{
        static uint8_t buf[1100];

        /* The best path of this CPU, fed in two pieces, against the
         * portable one in one piece: on a CPU without SHA-NI both are the
         * portable code, and the test still checks the split against the
         * one-shot hash. */
        for (size_t len = 0; len <= 1024; len++) {
                uint8_t a[SR_SHA1_LEN], b[SR_SHA1_LEN];
                size_t k = len ? rnd8() % (len + 1) : 0;

                rnd_fill(buf, len);
                sr_sha1_force_portable(false);
                sr_sha1_2(buf, k, buf + k, len - k, a);
                sr_sha1_force_portable(true);
                sr_sha1(buf, len, b);
                cr_assert(eq(int, memcmp(a, b, sizeof(a)), 0),
                          "len %zu split %zu", len, k);
        }
}

/* Names of every length 0..300, random bytes and namespaces: our v5 bytes
 * are libuuid's, on both paths. */
Test(sr_sha1, v5_equals_libuuid_for_every_name_length)
{
        static char name[301];

        for (int portable = 0; portable < 2; portable++) {
                sr_sha1_force_portable(portable);
                for (size_t len = 0; len <= 300; len++) {
                        uint8_t d[SR_SHA1_LEN];
                        sr_uuid_t ns;
                        uuid_t ref;

                        rnd_fill(&ns, sizeof(ns));
                        rnd_fill(name, len);
                        uuid_generate_sha1(ref, ns.b, name, len);
                        sr_sha1_2(ns.b, sizeof(ns.b), name, len, d);
                        d[6] = (uint8_t)((d[6] & 0x0f) | 0x50);
                        d[8] = (uint8_t)((d[8] & 0x3f) | 0x80);
                        cr_assert(eq(int, memcmp(d, ref, 16), 0),
                                  "%s len %zu", sr_sha1_impl(), len);
                }
        }
}

/* The same through the public entry points, with printable names. */
Test(sr_sha1, uuid_v5_and_event_id_equal_libuuid)
{
        static const uint64_t seqs[] = { 0, 1, 9, 10, 12345, UINT64_MAX };
        static char name[301];

        for (int portable = 0; portable < 2; portable++) {
                sr_sha1_force_portable(portable);
                for (size_t len = 0; len <= 300; len++) {
                        sr_uuid_t ns, u;
                        uuid_t ref;

                        rnd_fill(&ns, sizeof(ns));
                        for (size_t i = 0; i < len; i++)
                                name[i] = (char)('a' + rnd8() % 26);
                        name[len] = '\0';
                        uuid_generate_sha1(ref, ns.b, name, len);
                        sr_uuid_v5(&u, &ns, "%s", name);
                        cr_assert(eq(int, memcmp(u.b, ref, 16), 0),
                                  "%s len %zu", sr_sha1_impl(), len);
                }
                for (int i = 0; i < 200; i++) {
                        char n[SR_UUID_STR_LEN + 32];
                        uint64_t seq = i < 6 ? seqs[i] :
                                               (uint64_t)i * 0x9e3779b97f4aULL;
                        sr_uuid_t run, u;
                        uuid_t ref;
                        int k;

                        rnd_fill(&run, sizeof(run));
                        sr_uuid_fmt(&run, n);
                        k = snprintf(n + SR_UUID_STR_LEN, 32,
                                     "/event/%" PRIu64, seq);
                        uuid_generate_sha1(ref, sr_ns.b, n,
                                           SR_UUID_STR_LEN + (size_t)k);
                        sr_uuid_event_id(&u, &run, seq);
                        cr_assert(eq(int, memcmp(u.b, ref, 16), 0),
                                  "%s %s", sr_sha1_impl(), n);
                }
        }
}
