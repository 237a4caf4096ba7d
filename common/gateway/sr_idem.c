/* common/gateway/sr_idem.c - Idempotency-Keys: a chained hash table of
 * (enterprise, key) with the first request's fingerprint, and a FIFO of
 * the same entries in order of first use, whose head is both the next to
 * expire (every key lives ttl_ms) and the one evicted at the cap. */
#include "sr_idem.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>


struct entry {
        struct entry *chain; /* next in its bucket */
        struct entry *newer; /* next in order of first use */
        int64_t born_ms;
        uint64_t hash;
        uint8_t fp[SR_IDEM_FP_LEN];
        uint8_t elen;   /* bytes of the enterprise */
        uint16_t klen;  /* bytes of the key */
        char text[];    /* enterprise, NUL, key, NUL */
};

struct sr_idem {
        pthread_mutex_t mu;
        struct entry **buckets;
        size_t mask;            /* buckets - 1 (a power of two) */
        struct entry *oldest, *newest;
        size_t n, max_keys;
        int64_t ttl_ms;
        uint8_t seed[8];
        uint64_t expired, evicted;
};

sr_err_t sr_idem_new(size_t max_keys, int64_t ttl_ms, uint64_t seed,
                     sr_idem_t **out, sr_errctx_t *ec)
{
        sr_idem_t *idem;
        size_t nb = 1;

        if (max_keys == 0 || ttl_ms <= 0 || max_keys > (SIZE_MAX >> 4))
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "idem: max_keys %zu, ttl_ms %lld",
                                     max_keys, (long long)ttl_ms);
        while (nb < max_keys)
                nb <<= 1;
        idem = calloc(1, sizeof(*idem));
        if (!idem)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "idem: calloc");
        /* calloc of a large array maps zero pages: memory is touched as
         * buckets fill, not up front. */
        idem->buckets = calloc(nb, sizeof(*idem->buckets));
        if (!idem->buckets) {
                free(idem);
                return sr_errctx_set(ec, SR_ERR_NOMEM, "idem: %zu buckets",
                                     nb);
        }
        pthread_mutex_init(&idem->mu, NULL);
        idem->mask = nb - 1;
        idem->max_keys = max_keys;
        idem->ttl_ms = ttl_ms;
        for (int i = 0; i < 8; i++)
                idem->seed[i] = (uint8_t)(seed >> (8 * i));
        *out = idem;
        return SR_OK;
}

void sr_idem_destroy(sr_idem_t *idem)
{
        struct entry *e, *next;

        if (!idem)
                return;
        for (e = idem->oldest; e; e = next) {
                next = e->newer;
                free(e);
        }
        free(idem->buckets);
        pthread_mutex_destroy(&idem->mu);
        free(idem);
}

void sr_idem_fingerprint(const sr_route_t *route, const void *body,
                         size_t len, uint8_t out[SR_IDEM_FP_LEN])
{
        const sr_uuid_t *ids[] = {
                &route->pipeline_id,  &route->pipeline_run_id,
                &route->stage_run_id, &route->stage_run_operation_id,
                &route->target_run_id,
        };
        uint8_t ident[1 + sizeof(ids) / sizeof(ids[0]) * 16];

        ident[0] = (uint8_t)route->id;
        for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
                memcpy(ident + 1 + 16 * i, ids[i]->b, 16);
        sr_sha1_2(ident, sizeof(ident), body ? body : "", body ? len : 0,
                  out);
}

/* Keyed: a client cannot choose keys that share a bucket. */
static uint64_t name_hash(const sr_idem_t *idem, const char *name,
                          size_t len)
{
        uint8_t d[SR_SHA1_LEN];
        uint64_t h = 0;

        sr_sha1_2(idem->seed, sizeof(idem->seed), name, len, d);
        for (int i = 0; i < 8; i++)
                h = h << 8 | d[i];
        return h;
}

/* Unlink the oldest entry from its bucket and the FIFO, and free it. */
static void drop_oldest(sr_idem_t *idem)
{
        struct entry *e = idem->oldest, **pp;

        for (pp = &idem->buckets[e->hash & idem->mask]; *pp != e;
             pp = &(*pp)->chain)
                ;
        *pp = e->chain;
        idem->oldest = e->newer;
        if (!idem->oldest)
                idem->newest = NULL;
        idem->n--;
        free(e);
}

sr_err_t sr_idem_check(sr_idem_t *idem, const char *enterprise,
                       const char *key, const uint8_t fp[SR_IDEM_FP_LEN],
                       int64_t now_ms, sr_idem_verdict_t *verdict,
                       sr_errctx_t *ec)
{
        size_t elen = strlen(enterprise), klen = strlen(key), len;
        struct entry *e;
        uint64_t h;

        if (elen > UINT8_MAX || klen > UINT16_MAX)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "idem: enterprise %zu bytes, key %zu "
                                     "bytes", elen, klen);
        len = elen + 1 + klen; /* the NUL keeps ("ab","c") from ("a","bc") */
        e = malloc(sizeof(*e) + len + 1);
        if (!e)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "idem: malloc");
        memcpy(e->text, enterprise, elen + 1);
        memcpy(e->text + elen + 1, key, klen + 1);
        h = name_hash(idem, e->text, len);

        pthread_mutex_lock(&idem->mu);
        while (idem->oldest && now_ms - idem->oldest->born_ms >= idem->ttl_ms) {
                drop_oldest(idem);
                idem->expired++;
        }
        for (struct entry *x = idem->buckets[h & idem->mask]; x;
             x = x->chain) {
                if (x->hash == h && x->elen == elen && x->klen == klen &&
                    !memcmp(x->text, e->text, len)) {
                        *verdict = memcmp(x->fp, fp, SR_IDEM_FP_LEN) ?
                                           SR_IDEM_CONFLICT :
                                           SR_IDEM_SAME;
                        pthread_mutex_unlock(&idem->mu);
                        free(e);
                        return SR_OK;
                }
        }
        if (idem->n == idem->max_keys) {
                drop_oldest(idem);
                idem->evicted++;
        }
        e->chain = idem->buckets[h & idem->mask];
        e->newer = NULL;
        /* A clock that steps back must not break the FIFO's order. */
        e->born_ms = idem->newest && idem->newest->born_ms > now_ms ?
                             idem->newest->born_ms :
                             now_ms;
        e->hash = h;
        memcpy(e->fp, fp, SR_IDEM_FP_LEN);
        e->elen = (uint8_t)elen;
        e->klen = (uint16_t)klen;
        idem->buckets[h & idem->mask] = e;
        if (idem->newest)
                idem->newest->newer = e;
        else
                idem->oldest = e;
        idem->newest = e;
        idem->n++;
        *verdict = SR_IDEM_FIRST;
        pthread_mutex_unlock(&idem->mu);
        return SR_OK;
}

void sr_idem_stats(sr_idem_t *idem, sr_idem_stats_t *out)
{
        pthread_mutex_lock(&idem->mu);
        out->keys = idem->n;
        out->expired = idem->expired;
        out->evicted = idem->evicted;
        pthread_mutex_unlock(&idem->mu);
}

void sr_idem_uuid(sr_uuid_t *out, const char *kind, const char *enterprise,
                  const char *key)
{
        if (!strchr(enterprise, '/'))
                sr_uuid_v5(out, &sr_ns, "%s/%s/%s", kind, enterprise, key);
        else
                sr_uuid_v5(out, &sr_ns, "%s@%zu/%s/%s", kind,
                           strlen(enterprise), enterprise, key);
}
