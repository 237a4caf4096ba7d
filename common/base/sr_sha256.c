/* common/base/sr_sha256.c - SHA-256 (FIPS 180-4, section 6.2), portable C.
 * Checked against FIPS 180-4's examples and a million 'a's
 * (unit.test_sr_sha256) and, through the chunk digests, against Python's
 * hashlib (api.chunk_digest_fastavro). */
#include "sr_sha256.h"

#include <string.h>

#include "sr_slice.h"

static const uint32_t K[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b,
        0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
        0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7,
        0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
        0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152,
        0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
        0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
        0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
        0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
        0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
        0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

static uint32_t ror(uint32_t x, unsigned n)
{
        return x >> n | x << (32 - n);
}

static void block(uint32_t h[8], const uint8_t *p)
{
        uint32_t w[64], v[8];

        for (int t = 0; t < 16; t++)
                w[t] = (uint32_t)p[4 * t] << 24 |
                       (uint32_t)p[4 * t + 1] << 16 |
                       (uint32_t)p[4 * t + 2] << 8 | p[4 * t + 3];
        for (int t = 16; t < 64; t++) {
                uint32_t s0 = ror(w[t - 15], 7) ^ ror(w[t - 15], 18) ^
                              w[t - 15] >> 3;
                uint32_t s1 = ror(w[t - 2], 17) ^ ror(w[t - 2], 19) ^
                              w[t - 2] >> 10;

                w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }
        memcpy(v, h, sizeof(v));
        for (int t = 0; t < 64; t++) {
                uint32_t e = v[4], a = v[0];
                uint32_t t1 = v[7] + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) +
                              ((e & v[5]) ^ (~e & v[6])) + K[t] + w[t];
                uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) +
                              ((a & v[1]) ^ (a & v[2]) ^ (v[1] & v[2]));

                memmove(v + 1, v, 7 * sizeof(v[0]));
                v[4] += t1;
                v[0] = t1 + t2;
        }
        for (int i = 0; i < 8; i++)
                h[i] += v[i];
}

void sr_sha256_init(sr_sha256_ctx_t *c)
{
        static const uint32_t h0[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372,
                                        0xa54ff53a, 0x510e527f, 0x9b05688c,
                                        0x1f83d9ab, 0x5be0cd19 };

        memcpy(c->h, h0, sizeof(h0));
        c->len = 0;
        c->n = 0;
}

void sr_sha256_update(sr_sha256_ctx_t *c, const void *data, size_t len)
{
        const uint8_t *p = data;

        c->len += len;
        if (c->n) {
                size_t k = 64 - c->n < len ? 64 - c->n : len;

                memcpy(c->buf + c->n, p, k);
                c->n += k;
                p += k;
                len -= k;
                if (c->n < 64)
                        return;
                block(c->h, c->buf);
                c->n = 0;
        }
        for (; len >= 64; p += 64, len -= 64)
                block(c->h, p);
        /* Nothing from NULL: memcpy() may not be given it even for 0
         * bytes (a seal of no chunks hashes NULL, 0; UBSan says so). */
        if (len)
                memcpy(c->buf, p, len);
        c->n = len;
}

void sr_sha256_final(sr_sha256_ctx_t *c, uint8_t out[SR_SHA256_LEN])
{
        uint64_t bits = c->len * 8;

        c->buf[c->n++] = 0x80;
        if (c->n > 56) {
                memset(c->buf + c->n, 0, 64 - c->n);
                block(c->h, c->buf);
                c->n = 0;
        }
        memset(c->buf + c->n, 0, 56 - c->n);
        for (int i = 0; i < 8; i++)
                c->buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
        block(c->h, c->buf);
        for (int i = 0; i < 8; i++) {
                out[4 * i] = (uint8_t)(c->h[i] >> 24);
                out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
                out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
                out[4 * i + 3] = (uint8_t)c->h[i];
        }
}

void sr_sha256(const void *data, size_t len, uint8_t out[SR_SHA256_LEN])
{
        sr_sha256_ctx_t c;

        sr_sha256_init(&c);
        sr_sha256_update(&c, data, len);
        sr_sha256_final(&c, out);
}

void sr_sha256_hex(const uint8_t d[SR_SHA256_LEN],
                   char out[2 * SR_SHA256_LEN + 1])
{
        static const char x[] = "0123456789abcdef";

        for (int i = 0; i < SR_SHA256_LEN; i++) {
                out[2 * i] = x[d[i] >> 4];
                out[2 * i + 1] = x[d[i] & 15];
        }
        out[2 * SR_SHA256_LEN] = '\0';
}

bool sr_sha256_parse_hex(const char *s, size_t len,
                         uint8_t out[SR_SHA256_LEN])
{
        if (!s || len != 2 * SR_SHA256_LEN)
                return false;
        for (size_t i = 0; i < SR_SHA256_LEN; i++) {
                int hi = sr_hex_value(s[2 * i]);
                int lo = sr_hex_value(s[2 * i + 1]);

                if (hi < 0 || lo < 0)
                        return false;
                out[i] = (uint8_t)(hi << 4 | lo);
        }
        return true;
}

size_t sr_sha256_save(const sr_sha256_ctx_t *c,
                      uint8_t out[SR_SHA256_SAVED_MAX])
{
        for (int i = 0; i < 8; i++) {
                out[4 * i] = (uint8_t)(c->h[i] >> 24);
                out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
                out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
                out[4 * i + 3] = (uint8_t)c->h[i];
        }
        memcpy(out + 32, c->buf, c->n);
        return 32 + c->n;
}

bool sr_sha256_restore(sr_sha256_ctx_t *c, const uint8_t *saved, size_t n,
                       uint64_t len)
{
        if (n < 32 || n - 32 != len % 64)
                return false;
        for (int i = 0; i < 8; i++)
                c->h[i] = (uint32_t)saved[4 * i] << 24 |
                          (uint32_t)saved[4 * i + 1] << 16 |
                          (uint32_t)saved[4 * i + 2] << 8 |
                          (uint32_t)saved[4 * i + 3];
        c->len = len;
        c->n = n - 32;
        memcpy(c->buf, saved + 32, c->n);
        return true;
}
