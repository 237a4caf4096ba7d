/* tests/lib/old_idem_slot.h - the gateway's former Idempotency-Key table,
 * for tests that pick keys colliding in it: FNV-1a 64 of enterprise + NUL
 * + key, in 65,536 slots shared by every tenant, one key per slot (a
 * newcomer took the slot over). Header-only. */
#ifndef SR_OLD_IDEM_SLOT_H
#define SR_OLD_IDEM_SLOT_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static inline uint64_t old_idem_fnv64(uint64_t h, const void *p, size_t n)
{
        const uint8_t *b = p;

        for (size_t i = 0; i < n; i++) {
                h ^= b[i];
                h *= 1099511628211ULL;
        }
        return h;
}

static inline unsigned old_idem_slot(const char *ent, const char *key)
{
        uint64_t kh = 14695981039346656037ULL;

        kh = old_idem_fnv64(kh, ent, strlen(ent) + 1);
        kh = old_idem_fnv64(kh, key, strlen(key));
        return (unsigned)((kh ? kh : 1) % 65536);
}

/* A key "<prefix><n>" of @p ent, other than @p key0, in the old slot of
 * (@p ent0, @p key0); about 65,536 tries. */
static inline void old_idem_colliding_key(const char *ent0, const char *key0,
                                          const char *ent, const char *prefix,
                                          char *out, size_t size)
{
        unsigned want = old_idem_slot(ent0, key0);

        for (unsigned long i = 0;; i++) {
                snprintf(out, size, "%s%lu", prefix, i);
                if (old_idem_slot(ent, out) == want && strcmp(out, key0))
                        return;
        }
}

#endif /* SR_OLD_IDEM_SLOT_H */
