/* common/gateway/sr_idem.c - Idempotency-Keys: a chained hash table of
 * (enterprise, key) with the first request's fingerprint, and a FIFO of
 * the same entries in order of first use, whose head is both the next to
 * expire (every key lives ttl_ms) and the one evicted at the cap; and the
 * claim records the gateways of a fleet share them through. */
#include "sr_idem.h"

#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* Claims read back from the topic are not in order of first use across
 * partitions: an entry's place in the FIFO (born_ms, never before the
 * newest's) can be later than its first use (first_ms), which alone says
 * whether a lookup still knows it. */
struct entry {
        struct entry *chain; /* next in its bucket */
        struct entry *newer; /* next in order of first use */
        struct entry *older; /* previous in order of first use */
        int64_t born_ms;     /* its place in the FIFO */
        int64_t first_ms;    /* its first use */
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
                &route->target_run_id, &route->command_id,
                /* stored definitions' path ids (DEF_* routes only) */
                &route->stage_id, &route->target_list_id,
                &route->operation_list_id, &route->def_operation_id,
                &route->def_target_id,
        };
        /* The command id of PUT .../command/{command_id}/ only, and the
         * definitions' ids on their routes only: every other route's
         * fingerprint stays what the fleet's older gateways compute (the
         * first five ids). */
        size_t n = sr_route_is_definition(route->id) ? 11 :
                   route->id == SR_ROUTE_TARGET_RUN_COMMAND_CANCEL ? 6 :
                                                                     5;
        uint8_t ident[1 + sizeof(ids) / sizeof(ids[0]) * 16];

        ident[0] = (uint8_t)route->id;
        for (size_t i = 0; i < n; i++)
                memcpy(ident + 1 + 16 * i, ids[i]->b, 16);
        sr_sha1_2(ident, 1 + 16 * n, body ? body : "", body ? len : 0, out);
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

/* Take @p e out of the FIFO (it stays in its bucket). */
static void fifo_unlink(sr_idem_t *idem, struct entry *e)
{
        if (e->older)
                e->older->newer = e->newer;
        else
                idem->oldest = e->newer;
        if (e->newer)
                e->newer->older = e->older;
        else
                idem->newest = e->older;
        e->newer = e->older = NULL;
}

/* Append @p e to the FIFO, first used at @p now_ms. A clock that steps
 * back, or a claim read late, must not break the FIFO's order. A clock
 * that steps back forgets nothing early either; a claim's own time
 * (@p exact) is kept as it is. */
static void fifo_append(sr_idem_t *idem, struct entry *e, int64_t now_ms,
                        bool exact)
{
        e->born_ms = idem->newest && idem->newest->born_ms > now_ms ?
                             idem->newest->born_ms :
                             now_ms;
        e->first_ms = exact ? now_ms : e->born_ms;
        e->newer = NULL;
        e->older = idem->newest;
        if (idem->newest)
                idem->newest->newer = e;
        else
                idem->oldest = e;
        idem->newest = e;
}

/* Unlink the oldest entry from its bucket and the FIFO, and free it. */
static void drop_oldest(sr_idem_t *idem)
{
        struct entry *e = idem->oldest, **pp;

        for (pp = &idem->buckets[e->hash & idem->mask]; *pp != e;
             pp = &(*pp)->chain)
                ;
        *pp = e->chain;
        fifo_unlink(idem, e);
        idem->n--;
        free(e);
}

/* sr_idem_check() and sr_idem_peek(): @p remember says whether an
 * unknown key is remembered, @p exact whether @p now_ms is the first use
 * of a claim read back (fifo_append()). */
static sr_err_t lookup(sr_idem_t *idem, const char *enterprise,
                       const char *key, const uint8_t fp[SR_IDEM_FP_LEN],
                       int64_t now_ms, bool remember, bool exact,
                       sr_idem_verdict_t *verdict, sr_errctx_t *ec)
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
                if (x->hash != h || x->elen != elen || x->klen != klen ||
                    memcmp(x->text, e->text, len))
                        continue;
                free(e);
                if (now_ms - x->first_ms < idem->ttl_ms) {
                        *verdict = memcmp(x->fp, fp, SR_IDEM_FP_LEN) ?
                                           SR_IDEM_CONFLICT :
                                           SR_IDEM_SAME;
                } else {
                        /* Expired, though not yet out of the FIFO: a
                         * new first use. */
                        if (remember) {
                                memcpy(x->fp, fp, SR_IDEM_FP_LEN);
                                fifo_unlink(idem, x);
                                fifo_append(idem, x, now_ms, exact);
                        }
                        *verdict = SR_IDEM_FIRST;
                }
                pthread_mutex_unlock(&idem->mu);
                return SR_OK;
        }
        *verdict = SR_IDEM_FIRST;
        if (!remember) {
                pthread_mutex_unlock(&idem->mu);
                free(e);
                return SR_OK;
        }
        if (idem->n == idem->max_keys) {
                drop_oldest(idem);
                idem->evicted++;
        }
        e->chain = idem->buckets[h & idem->mask];
        e->hash = h;
        memcpy(e->fp, fp, SR_IDEM_FP_LEN);
        e->elen = (uint8_t)elen;
        e->klen = (uint16_t)klen;
        idem->buckets[h & idem->mask] = e;
        fifo_append(idem, e, now_ms, exact);
        idem->n++;
        pthread_mutex_unlock(&idem->mu);
        return SR_OK;
}

sr_err_t sr_idem_check(sr_idem_t *idem, const char *enterprise,
                       const char *key, const uint8_t fp[SR_IDEM_FP_LEN],
                       int64_t now_ms, sr_idem_verdict_t *verdict,
                       sr_errctx_t *ec)
{
        return lookup(idem, enterprise, key, fp, now_ms, true, false, verdict,
                      ec);
}

sr_err_t sr_idem_peek(sr_idem_t *idem, const char *enterprise,
                      const char *key, const uint8_t fp[SR_IDEM_FP_LEN],
                      int64_t now_ms, sr_idem_verdict_t *verdict,
                      sr_errctx_t *ec)
{
        return lookup(idem, enterprise, key, fp, now_ms, false, false, verdict,
                      ec);
}

void sr_idem_stats(sr_idem_t *idem, sr_idem_stats_t *out)
{
        pthread_mutex_lock(&idem->mu);
        out->keys = idem->n;
        out->expired = idem->expired;
        out->evicted = idem->evicted;
        pthread_mutex_unlock(&idem->mu);
}

/* The name sr_idem_uuid() hashes, into @p out (NUL-terminated; snprintf's
 * length). */
static int idem_name(char *out, size_t size, const char *kind,
                     const char *enterprise, const char *key)
{
        if (!strchr(enterprise, '/'))
                return snprintf(out, size, "%s/%s/%s", kind, enterprise,
                                key);
        return snprintf(out, size, "%s@%zu/%s/%s", kind, strlen(enterprise),
                        enterprise, key);
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

/* ------------------------------------------------ the fleet's claims */

static void fp_hex(const uint8_t fp[SR_IDEM_FP_LEN],
                   char out[2 * SR_IDEM_FP_LEN + 1])
{
        for (int i = 0; i < SR_IDEM_FP_LEN; i++)
                snprintf(out + 2 * i, 3, "%02x", fp[i]);
}

/* A claim's enterprise and key: what sr_idem_check() takes and the
 * gateway sends (an Idempotency-Key is 1..255 bytes). */
static bool claim_names_ok(const char *enterprise, const char *key)
{
        size_t elen = strlen(enterprise), klen = strlen(key);

        return elen <= SR_IDEM_ENTERPRISE_MAX && klen >= 1 &&
               klen <= SR_HTTP_IDEM_KEY_MAX;
}

sr_err_t sr_idem_claim_encode(const sr_idem_claim_t *c, sr_buf_t *key,
                              sr_buf_t *value, sr_errctx_t *ec)
{
        char hex[2 * SR_IDEM_FP_LEN + 1];
        bool packed;
        size_t klen;
        json_t *j;
        char *k, *v;
        int n;

        if (!memchr(c->enterprise, 0, sizeof(c->enterprise)) ||
            !memchr(c->key, 0, sizeof(c->key)) ||
            !claim_names_ok(c->enterprise, c->key))
                return sr_errctx_set(ec, SR_ERR_INVALID, "idem claim: the "
                                     "enterprise (at most %d bytes) or the "
                                     "key (1 to %d bytes) is out of range",
                                     SR_IDEM_ENTERPRISE_MAX,
                                     SR_HTTP_IDEM_KEY_MAX);
        fp_hex(c->fp, hex);
        klen = 2 * SR_IDEM_FP_LEN + 1 + 32 + strlen(c->enterprise) +
               strlen(c->key) + 1;
        k = malloc(klen);
        if (!k)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "idem claim: key");
        n = snprintf(k, klen, "%s/", hex);
        n += idem_name(k + n, klen - (size_t)n, "idem", c->enterprise,
                       c->key);
        j = json_pack("{s:s,s:s,s:s,s:I}", "enterprise", c->enterprise, "key",
                      c->key, "fingerprint", hex, "first_use_ms",
                      (json_int_t)c->first_use_ms);
        packed = j != NULL;
        v = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        json_decref(j);
        if (!v) {
                free(k);
                return sr_errctx_set(ec, packed ? SR_ERR_NOMEM :
                                                  SR_ERR_INVALID,
                                     "idem claim: %s", packed ?
                                     "out of memory" :
                                     "the enterprise id is not UTF-8");
        }
        key->ptr = k;
        key->len = (size_t)n;
        value->ptr = v;
        value->len = strlen(v);
        return SR_OK;
}

sr_err_t sr_idem_claim_decode(sr_slice_t value, sr_idem_claim_t *out,
                              sr_errctx_t *ec)
{
        const char *e = NULL, *k = NULL, *hex = NULL;
        json_int_t first = 0;
        json_error_t jerr;
        sr_err_t err = SR_OK;
        json_t *j;

        if (!value.ptr)
                return sr_errctx_set(ec, SR_ERR_CORRUPT, "idem claim: no "
                                     "value (a tombstone)");
        j = json_loadb(value.ptr, value.len, JSON_REJECT_DUPLICATES, &jerr);
        if (!j)
                return sr_errctx_set(ec, SR_ERR_CORRUPT, "idem claim: not "
                                     "JSON: %s", jerr.text);
        /* Not JSON_STRICT: a later version's fields are ignored, so a
         * claim stays readable by every gateway of a fleet mid-upgrade. */
        if (json_unpack_ex(j, &jerr, 0, "{s:s,s:s,s:s,s:I}",
                           "enterprise", &e, "key", &k, "fingerprint", &hex,
                           "first_use_ms", &first)) {
                err = sr_errctx_set(ec, SR_ERR_CORRUPT, "idem claim: %s",
                                    jerr.text);
                goto out;
        }
        if (!claim_names_ok(e, k) || strlen(hex) != 2 * SR_IDEM_FP_LEN) {
                err = sr_errctx_set(ec, SR_ERR_CORRUPT, "idem claim: "
                                    "enterprise, key or fingerprint out "
                                    "of range");
                goto out;
        }
        for (int i = 0; i < SR_IDEM_FP_LEN; i++) {
                unsigned b;

                if (!strchr("0123456789abcdef", hex[2 * i]) ||
                    !strchr("0123456789abcdef", hex[2 * i + 1]) ||
                    sscanf(hex + 2 * i, "%2x", &b) != 1) {
                        err = sr_errctx_set(ec, SR_ERR_CORRUPT, "idem "
                                            "claim: fingerprint is not 40 "
                                            "lower-case hex digits");
                        goto out;
                }
                out->fp[i] = (uint8_t)b;
        }
        snprintf(out->enterprise, sizeof(out->enterprise), "%s", e);
        snprintf(out->key, sizeof(out->key), "%s", k);
        out->first_use_ms = (int64_t)first;
out:
        json_decref(j);
        return err;
}

int32_t sr_idem_claim_partition(const char *enterprise, const char *key,
                                int n_parts)
{
        uint8_t d[SR_SHA1_LEN];
        uint32_t h;

        /* The NUL keeps ("ab","c") from ("a","bc"). */
        sr_sha1_2(enterprise, strlen(enterprise) + 1, key, strlen(key), d);
        h = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 |
            (uint32_t)d[2] << 8 | d[3];
        return n_parts > 0 ? (int32_t)(h % (uint32_t)n_parts) : 0;
}

sr_err_t sr_idem_claim_apply(sr_idem_t *idem, const sr_idem_claim_t *c,
                             int64_t now_wall_ms, int64_t now_mono_ms,
                             sr_idem_verdict_t *verdict, sr_errctx_t *ec)
{
        int64_t age = now_wall_ms - c->first_use_ms;

        if (age < 0) /* another host's clock ahead of ours */
                age = 0;
        if (age >= idem->ttl_ms)
                return sr_errctx_set(ec, SR_ERR_NOT_FOUND, "idem claim: "
                                     "%" PRId64 " ms old, past the ttl",
                                     age);
        return lookup(idem, c->enterprise, c->key, c->fp, now_mono_ms - age,
                      true, true, verdict, ec);
}
