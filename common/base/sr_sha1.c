/* common/base/sr_sha1.c - SHA-1 (FIPS 180-4) with an x86-64 SHA-NI path.
 *
 * The block function is picked once, on first use: SHA-NI when CPUID says
 * the CPU has it, the portable C otherwise. Only blocks_shani() is compiled
 * for the SHA extensions (target attribute), so the rest of the build keeps
 * its baseline ISA and the binary still runs on CPUs without them.
 */
#include "sr_sha1.h"

#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

/* Compress @p n 64-byte blocks at @p p into @p h. */
typedef void blocks_fn(uint32_t h[5], const uint8_t *p, size_t n);

static uint32_t rol(uint32_t x, unsigned n)
{
        return x << n | x >> (32 - n);
}

static uint32_t load_be32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
               (uint32_t)p[2] << 8 | p[3];
}

static void blocks_portable(uint32_t h[5], const uint8_t *p, size_t n)
{
        for (; n; n--, p += 64) {
                uint32_t w[16];
                uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];

                /* The schedule kept as a ring of 16 words. */
                for (int t = 0; t < 80; t++) {
                        uint32_t f, k, x;

                        if (t < 16)
                                w[t] = load_be32(p + 4 * t);
                        else
                                w[t & 15] = rol(w[(t - 3) & 15] ^
                                                w[(t - 8) & 15] ^
                                                w[(t - 14) & 15] ^ w[t & 15],
                                                1);
                        if (t < 20) {
                                f = (b & c) | (~b & d);
                                k = 0x5a827999;
                        } else if (t < 40) {
                                f = b ^ c ^ d;
                                k = 0x6ed9eba1;
                        } else if (t < 60) {
                                f = (b & c) | (b & d) | (c & d);
                                k = 0x8f1bbcdc;
                        } else {
                                f = b ^ c ^ d;
                                k = 0xca62c1d6;
                        }
                        x = rol(a, 5) + f + e + k + w[t & 15];
                        e = d;
                        d = c;
                        c = rol(b, 30);
                        b = a;
                        a = x;
                }
                h[0] += a;
                h[1] += b;
                h[2] += c;
                h[3] += d;
                h[4] += e;
        }
}

#if defined(__x86_64__)
/*
 * Rounds 4g..4g+3 for g >= 3, where the message schedule is in steady state:
 * mc holds W[4g..4g+3]; the next three groups' words are finished in mn
 * (msg2), advanced in mp (xor) and started in mq (msg1). ea/eb alternate
 * between groups. In the last groups some of this work is dead and the
 * compiler drops it.
 */
#define SHA1_R4(f, ea, eb, mc, mn, mp, mq)                              \
        do {                                                            \
                ea = _mm_sha1nexte_epu32(ea, mc);                       \
                eb = abcd;                                              \
                mn = _mm_sha1msg2_epu32(mn, mc);                        \
                abcd = _mm_sha1rnds4_epu32(abcd, ea, f);                \
                mq = _mm_sha1msg1_epu32(mq, mc);                        \
                mp = _mm_xor_si128(mp, mc);                             \
        } while (0)

/* Four big-endian message words, as the SHA instructions want them. */
#define SHA1_LOAD(q)                                                    \
        _mm_shuffle_epi8(                                               \
                _mm_loadu_si128((const __m128i *)(const void *)(q)), bswap)

__attribute__((target("sha,sse4.1")))
static void blocks_shani(uint32_t h[5], const uint8_t *p, size_t n)
{
        /* Big-endian words in, and h[0] in the top lane as rnds4 wants. */
        const __m128i bswap = _mm_set_epi64x(0x0001020304050607LL,
                                             0x08090a0b0c0d0e0fLL);
        __m128i abcd = _mm_shuffle_epi32(
                _mm_loadu_si128((const __m128i *)(const void *)h), 0x1b);
        __m128i e0 = _mm_set_epi32((int)h[4], 0, 0, 0), e1;
        __m128i m0, m1, m2, m3;

        for (; n; n--, p += 64) {
                __m128i abcd_save = abcd, e_save = e0;

                m0 = SHA1_LOAD(p);
                m1 = SHA1_LOAD(p + 16);
                m2 = SHA1_LOAD(p + 32);
                m3 = SHA1_LOAD(p + 48);

                /* Groups 0-2: the schedule is still filling up. */
                e0 = _mm_add_epi32(e0, m0);
                e1 = abcd;
                abcd = _mm_sha1rnds4_epu32(abcd, e0, 0);

                e1 = _mm_sha1nexte_epu32(e1, m1);
                e0 = abcd;
                abcd = _mm_sha1rnds4_epu32(abcd, e1, 0);
                m0 = _mm_sha1msg1_epu32(m0, m1);

                e0 = _mm_sha1nexte_epu32(e0, m2);
                e1 = abcd;
                abcd = _mm_sha1rnds4_epu32(abcd, e0, 0);
                m1 = _mm_sha1msg1_epu32(m1, m2);
                m0 = _mm_xor_si128(m0, m2);

                SHA1_R4(0, e1, e0, m3, m0, m1, m2);     /* rounds 12-15 */
                SHA1_R4(0, e0, e1, m0, m1, m2, m3);
                SHA1_R4(1, e1, e0, m1, m2, m3, m0);     /* rounds 20-23 */
                SHA1_R4(1, e0, e1, m2, m3, m0, m1);
                SHA1_R4(1, e1, e0, m3, m0, m1, m2);
                SHA1_R4(1, e0, e1, m0, m1, m2, m3);
                SHA1_R4(1, e1, e0, m1, m2, m3, m0);
                SHA1_R4(2, e0, e1, m2, m3, m0, m1);     /* rounds 40-43 */
                SHA1_R4(2, e1, e0, m3, m0, m1, m2);
                SHA1_R4(2, e0, e1, m0, m1, m2, m3);
                SHA1_R4(2, e1, e0, m1, m2, m3, m0);
                SHA1_R4(2, e0, e1, m2, m3, m0, m1);
                SHA1_R4(3, e1, e0, m3, m0, m1, m2);     /* rounds 60-63 */
                SHA1_R4(3, e0, e1, m0, m1, m2, m3);
                SHA1_R4(3, e1, e0, m1, m2, m3, m0);
                SHA1_R4(3, e0, e1, m2, m3, m0, m1);
                SHA1_R4(3, e1, e0, m3, m0, m1, m2);     /* rounds 76-79 */

                e0 = _mm_sha1nexte_epu32(e0, e_save);
                abcd = _mm_add_epi32(abcd, abcd_save);
        }
        _mm_storeu_si128((__m128i *)(void *)h, _mm_shuffle_epi32(abcd, 0x1b));
        h[4] = (uint32_t)_mm_extract_epi32(e0, 3);
}
#undef SHA1_LOAD
#undef SHA1_R4
#endif /* __x86_64__ */

static blocks_fn *pick(void)
{
#if defined(__x86_64__)
        unsigned int a, b, c, d;

        /* SSSE3 and SSE4.1 (byte shuffle, lane extract), then SHA. */
        if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSSE3) &&
            (c & bit_SSE4_1) && __get_cpuid_count(7, 0, &a, &b, &c, &d) &&
            (b & bit_SHA))
                return blocks_shani;
#endif
        return blocks_portable;
}

/* NULL until first use. Racing first users store the same value. */
static _Atomic(blocks_fn *) blocks;

static blocks_fn *get_blocks(void)
{
        blocks_fn *f = atomic_load_explicit(&blocks, memory_order_relaxed);

        if (!f) {
                f = pick();
                atomic_store_explicit(&blocks, f, memory_order_relaxed);
        }
        return f;
}

void sr_sha1_force_portable(bool on)
{
        atomic_store_explicit(&blocks, on ? blocks_portable : pick(),
                              memory_order_relaxed);
}

const char *sr_sha1_impl(void)
{
        return get_blocks() == blocks_portable ? "portable" : "sha-ni";
}

typedef struct sha1 {
        blocks_fn *blocks;
        uint32_t h[5];
        uint64_t len;   /* bytes so far */
        size_t nbuf;    /* bytes in buf, < 64 */
        uint8_t buf[64];
} sha1_t;

static void sha1_update(sha1_t *s, const uint8_t *p, size_t n)
{
        if (!n)
                return;
        s->len += n;
        if (s->nbuf) {
                size_t k = 64 - s->nbuf < n ? 64 - s->nbuf : n;

                memcpy(s->buf + s->nbuf, p, k);
                s->nbuf += k;
                p += k;
                n -= k;
                if (s->nbuf < 64)
                        return;
                s->blocks(s->h, s->buf, 1);
                s->nbuf = 0;
        }
        if (n >= 64) {
                s->blocks(s->h, p, n / 64);
                p += n & ~(size_t)63;
                n &= 63;
        }
        memcpy(s->buf, p, n);
        s->nbuf = n;
}

void sr_sha1_2(const void *a, size_t alen, const void *b, size_t blen,
               uint8_t out[SR_SHA1_LEN])
{
        sha1_t s = {
                .blocks = get_blocks(),
                .h = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476,
                       0xc3d2e1f0 },
        };
        uint64_t bits;

        sha1_update(&s, a, alen);
        sha1_update(&s, b, blen);

        /* Padding: 0x80, zeros up to 56 mod 64, the bit length. */
        bits = s.len * 8;
        s.buf[s.nbuf++] = 0x80;
        if (s.nbuf > 56) {
                memset(s.buf + s.nbuf, 0, 64 - s.nbuf);
                s.blocks(s.h, s.buf, 1);
                s.nbuf = 0;
        }
        memset(s.buf + s.nbuf, 0, 56 - s.nbuf);
        for (int i = 0; i < 8; i++)
                s.buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
        s.blocks(s.h, s.buf, 1);

        for (int i = 0; i < 5; i++) {
                out[4 * i] = (uint8_t)(s.h[i] >> 24);
                out[4 * i + 1] = (uint8_t)(s.h[i] >> 16);
                out[4 * i + 2] = (uint8_t)(s.h[i] >> 8);
                out[4 * i + 3] = (uint8_t)s.h[i];
        }
}

void sr_sha1(const void *data, size_t len, uint8_t out[SR_SHA1_LEN])
{
        sr_sha1_2(data, len, NULL, 0, out);
}
