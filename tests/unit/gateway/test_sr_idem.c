/* tests/unit/gateway/test_sr_idem.c - Idempotency-Keys: scoped by enterprise and
 * compared in full (no collision may change an answer), bound to the route
 * and not to its spelling, bounded by age and count, safe on threads. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_http.h"
#include "sr_idem.h"
#include "sr_sha1.h"

#include "old_idem_slot.h"

#define DAY_MS (24LL * 3600 * 1000)
#define P_ID "6f1c1d1e-0b7a-4c1e-9a7e-3c2b1a0f9e8d"
#define R_ID "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#define S_ID "11111111-2222-4333-8444-555555555555"

static sr_idem_t *idem;

static void fini(void)
{
        sr_idem_destroy(idem);
        idem = NULL;
}

TestSuite(sr_idem, .fini = fini, .timeout = 30.0);

static void open_idem(size_t max_keys, int64_t ttl_ms)
{
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_idem_new(max_keys, ttl_ms, 42, &idem, &ec),
                     SR_OK), "%s", ec.msg);
}

typedef sr_err_t (*ask_fn)(sr_idem_t *, const char *, const char *,
                           const uint8_t *, int64_t, sr_idem_verdict_t *,
                           sr_errctx_t *);

static sr_idem_verdict_t ask(ask_fn fn, const char *ent, const char *key,
                             const uint8_t *fp, int64_t now)
{
        sr_idem_verdict_t v = (sr_idem_verdict_t)-1;
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, fn(idem, ent, key, fp, now, &v, &ec), SR_OK), "%s",
                  ec.msg);
        return v;
}

static sr_idem_verdict_t check(const char *ent, const char *key,
                               const uint8_t *fp, int64_t now)
{
        return ask(sr_idem_check, ent, key, fp, now);
}

/* A fingerprint that differs by its first byte. */
static const uint8_t *fp_n(int n)
{
        static uint8_t fps[8][SR_IDEM_FP_LEN];

        memset(fps[n], 0xab, SR_IDEM_FP_LEN);
        fps[n][0] = (uint8_t)n;
        return fps[n];
}

Test(sr_idem, another_tenants_colliding_key_cannot_change_an_answer)
{
        char other[32];

        old_idem_colliding_key("acme", "k-1", "other", "k-", other,
                               sizeof(other));
        cr_assert(eq(uint, old_idem_slot("other", other), old_idem_slot("acme", "k-1")));
        open_idem(1000, DAY_MS);
        cr_assert(eq(int, check("acme", "k-1", fp_n(1), 0), SR_IDEM_FIRST));
        cr_assert(eq(int, check("other", other, fp_n(2), 1), SR_IDEM_FIRST));
        /* the first tenant's retry with another body: 409, not 200 */
        cr_assert(eq(int, check("acme", "k-1", fp_n(3), 2),
                     SR_IDEM_CONFLICT));
        cr_assert(eq(int, check("acme", "k-1", fp_n(1), 3), SR_IDEM_SAME));
        cr_assert(eq(int, check("other", other, fp_n(1), 4),
                     SR_IDEM_CONFLICT));
        cr_assert(eq(int, check("other", other, fp_n(2), 5), SR_IDEM_SAME));
}

Test(sr_idem, one_key_in_two_enterprises_is_two_keys)
{
        open_idem(1000, DAY_MS);
        cr_assert(eq(int, check("acme", "k", fp_n(1), 0), SR_IDEM_FIRST));
        cr_assert(eq(int, check("other", "k", fp_n(2), 0), SR_IDEM_FIRST));
        cr_assert(eq(int, check("acme", "k", fp_n(1), 0), SR_IDEM_SAME));
        cr_assert(eq(int, check("other", "k", fp_n(2), 0), SR_IDEM_SAME));
        /* the split between enterprise and key is part of the value */
        cr_assert(eq(int, check("ab", "c", fp_n(1), 0), SR_IDEM_FIRST));
        cr_assert(eq(int, check("a", "bc", fp_n(2), 0), SR_IDEM_FIRST));
        cr_assert(eq(int, check("acme", "k1", fp_n(3), 0), SR_IDEM_FIRST));
        cr_assert(eq(int, check("acme", "k", fp_n(1), 0), SR_IDEM_SAME));
}

/* Many more keys than buckets' worth of spread: every chain holds several
 * keys, and each still answers for itself alone. */
Test(sr_idem, keys_sharing_buckets_are_compared_in_full)
{
        char key[32];

        open_idem(1000, DAY_MS); /* 1024 buckets */
        for (int i = 0; i < 1000; i++) {
                snprintf(key, sizeof(key), "key-%d", i);
                cr_assert(eq(int, check(i % 2 ? "acme" : "other", key,
                                        fp_n(i % 4), 0),
                             SR_IDEM_FIRST), "%s", key);
        }
        for (int i = 0; i < 1000; i++) {
                snprintf(key, sizeof(key), "key-%d", i);
                cr_assert(eq(int, check(i % 2 ? "acme" : "other", key,
                                        fp_n(i % 4), 1),
                             SR_IDEM_SAME), "%s", key);
                cr_assert(eq(int, check(i % 2 ? "acme" : "other", key,
                                        fp_n(4 + i % 4), 1),
                             SR_IDEM_CONFLICT), "%s", key);
        }
}

static void route(const char *method, const char *path, sr_route_t *r)
{
        cr_assert(eq(int, sr_http_route(method, path, r, NULL), SR_OK), "%s",
                  path);
}

static void fingerprint(const char *method, const char *path,
                        const char *body, uint8_t out[SR_IDEM_FP_LEN])
{
        sr_route_t r;

        route(method, path, &r);
        sr_idem_fingerprint(&r, body, strlen(body), out);
}

Test(sr_idem, fingerprint_is_the_route_not_its_spelling)
{
        static const char *const runs[] = {
                "/v0/runs/", "/v0/runs", "/api/pipelines/v0/runs/",
                "/api/pipelines/v0/runs", "/v0/runs/?x=1",
        };
        static const char *const put[] = {
                "/v0/pipelines/" P_ID "/runs/" R_ID "/",
                "/api/pipelines/v0/pipelines/" P_ID "/runs/" R_ID,
                "/v0/pipelines/6F1C1D1E-0B7A-4C1E-9A7E-3C2B1A0F9E8D/runs/"
                "0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D/",
        };
        uint8_t a[SR_IDEM_FP_LEN], b[SR_IDEM_FP_LEN];

        fingerprint("POST", runs[0], "{}", a);
        for (size_t i = 1; i < sizeof(runs) / sizeof(runs[0]); i++) {
                fingerprint("POST", runs[i], "{}", b);
                cr_assert(eq(int, memcmp(a, b, sizeof(a)), 0), "%s",
                          runs[i]);
        }
        fingerprint("PUT", put[0], "{\"status\":\"cancelled\"}", a);
        for (size_t i = 1; i < sizeof(put) / sizeof(put[0]); i++) {
                fingerprint("PUT", put[i], "{\"status\":\"cancelled\"}", b);
                cr_assert(eq(int, memcmp(a, b, sizeof(a)), 0), "%s", put[i]);
        }
}

/* A device command's cancel names the command in its path: two cancels
 * of two commands are two requests. Every other route's fingerprint is
 * the one older gateways of the fleet compute: the route number and five
 * ids, then the body. */
Test(sr_idem, a_command_cancel_fingerprint_has_the_command_id_and_no_other_moved)
{
        static const char body[] = "{\"request_status\":\"cancelled\"}";
        uint8_t a[SR_IDEM_FP_LEN], b[SR_IDEM_FP_LEN], ident[1 + 5 * 16];
        sr_route_t r;

        fingerprint("PUT", "/v0/stageruns/" S_ID "/targetruns/" R_ID
                    "/command/" P_ID "/", body, a);
        fingerprint("PUT", "/v0/stageruns/" S_ID "/targetruns/" R_ID
                    "/command/" S_ID "/", body, b);
        cr_assert(not(eq(int, memcmp(a, b, sizeof(a)), 0)));
        route("PUT", "/v0/stageruns/" S_ID "/targetruns/" R_ID "/", &r);
        ident[0] = (uint8_t)r.id;
        memcpy(ident + 1, r.pipeline_id.b, 16);
        memcpy(ident + 17, r.pipeline_run_id.b, 16);
        memcpy(ident + 33, r.stage_run_id.b, 16);
        memcpy(ident + 49, r.stage_run_operation_id.b, 16);
        memcpy(ident + 65, r.target_run_id.b, 16);
        sr_sha1_2(ident, sizeof(ident), body, strlen(body), a);
        sr_idem_fingerprint(&r, body, strlen(body), b);
        cr_assert(eq(int, memcmp(a, b, sizeof(a)), 0));
}

Test(sr_idem, fingerprint_differs_by_route_ids_and_body)
{
        uint8_t base[SR_IDEM_FP_LEN], fp[SR_IDEM_FP_LEN];
        static const char body[] = "{\"status\":\"cancelled\"}";
        static const struct {
                const char *method, *path, *body;
        } other[] = {
                /* another run of the pipeline */
                { "PUT", "/v0/pipelines/" P_ID "/runs/" S_ID "/", body },
                /* another pipeline, same run id */
                { "PUT", "/v0/pipelines/" S_ID "/runs/" R_ID "/", body },
                /* another route with the same ids in other places */
                { "PUT", "/v0/runs/" R_ID "/stageruns/" P_ID "/", body },
                /* one byte of the body */
                { "PUT", "/v0/pipelines/" P_ID "/runs/" R_ID "/",
                  "{\"status\":\"cancelleD\"}" },
                { "PUT", "/v0/pipelines/" P_ID "/runs/" R_ID "/",
                  "{\"status\":\"cancelled\"} " },
                { "POST", "/v0/runs/", body },
        };

        fingerprint("PUT", "/v0/pipelines/" P_ID "/runs/" R_ID "/", body,
                    base);
        for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
                fingerprint(other[i].method, other[i].path, other[i].body, fp);
                cr_assert(not(eq(int, memcmp(base, fp, sizeof(fp)), 0)),
                          "%s %s %s", other[i].method, other[i].path,
                          other[i].body);
        }
}

Test(sr_idem, a_key_is_forgotten_ttl_after_its_first_use)
{
        sr_idem_stats_t st;

        open_idem(1000, 1000);
        cr_assert(eq(int, check("acme", "k", fp_n(1), 5000), SR_IDEM_FIRST));
        cr_assert(eq(int, check("acme", "j", fp_n(1), 5500), SR_IDEM_FIRST));
        /* a retry does not extend the key's life */
        cr_assert(eq(int, check("acme", "k", fp_n(1), 5999), SR_IDEM_SAME));
        cr_assert(eq(int, check("acme", "k", fp_n(2), 5999),
                     SR_IDEM_CONFLICT));
        cr_assert(eq(int, check("acme", "k", fp_n(2), 6000), SR_IDEM_FIRST));
        cr_assert(eq(int, check("acme", "j", fp_n(2), 6000),
                     SR_IDEM_CONFLICT));
        sr_idem_stats(idem, &st);
        cr_assert(eq(u64, st.keys, 2));
        cr_assert(eq(u64, st.expired, 1));
        cr_assert(eq(u64, st.evicted, 0));
        /* a clock that steps back forgets nothing early */
        cr_assert(eq(int, check("acme", "m", fp_n(1), 100), SR_IDEM_FIRST));
        cr_assert(eq(int, check("acme", "m", fp_n(2), 6999),
                     SR_IDEM_CONFLICT));
}

Test(sr_idem, at_the_cap_the_oldest_key_is_forgotten_first)
{
        sr_idem_stats_t st;
        char key[16];

        open_idem(3, DAY_MS);
        for (int i = 0; i < 4; i++) {
                snprintf(key, sizeof(key), "k%d", i);
                cr_assert(eq(int, check("acme", key, fp_n(1), i),
                             SR_IDEM_FIRST));
        }
        sr_idem_stats(idem, &st);
        cr_assert(eq(u64, st.keys, 3));
        cr_assert(eq(u64, st.evicted, 1));
        cr_assert(eq(int, check("acme", "k1", fp_n(2), 10),
                     SR_IDEM_CONFLICT));
        cr_assert(eq(int, check("acme", "k3", fp_n(1), 10), SR_IDEM_SAME));
        /* k0 was evicted: known again as new (this evicts k1) */
        cr_assert(eq(int, check("acme", "k0", fp_n(2), 10), SR_IDEM_FIRST));
        cr_assert(eq(int, check("acme", "k1", fp_n(2), 11), SR_IDEM_FIRST));
}

Test(sr_idem, bad_bounds_and_oversized_names_are_refused)
{
        char big[300];
        sr_idem_verdict_t v;
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_idem_new(0, 1000, 1, &idem, &ec),
                     SR_ERR_INVALID));
        cr_assert(eq(int, sr_idem_new(10, 0, 1, &idem, &ec),
                     SR_ERR_INVALID));
        open_idem(10, 1000);
        memset(big, 'e', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        cr_assert(eq(int, sr_idem_check(idem, big, "k", fp_n(1), 0, &v,
                                        &ec), SR_ERR_INVALID));
}

struct worker_arg {
        int id;
        int bad;
};

static void *worker(void *p)
{
        struct worker_arg *w = p;
        uint8_t fp[SR_IDEM_FP_LEN] = { 0 }; /* this thread's own */
        sr_idem_verdict_t v;
        char ent[16], key[32];

        snprintf(ent, sizeof(ent), "ent-%d", w->id);
        for (int round = 0; round < 2; round++)
                for (int i = 0; i < 2000; i++) {
                        snprintf(key, sizeof(key), "key-%d", i);
                        fp[0] = (uint8_t)i;
                        if (sr_idem_check(idem, ent, key, fp, round, &v,
                                          NULL) != SR_OK ||
                            v != (round ? SR_IDEM_SAME : SR_IDEM_FIRST))
                                w->bad++;
                }
        return NULL;
}

Test(sr_idem, concurrent_writers_each_see_their_own_keys)
{
        struct worker_arg args[8];
        pthread_t th[8];
        sr_idem_stats_t st;

        open_idem(100000, DAY_MS);
        for (int i = 0; i < 8; i++) {
                args[i].id = i;
                args[i].bad = 0;
                cr_assert(eq(int, pthread_create(&th[i], NULL, worker,
                                                 &args[i]), 0));
        }
        for (int i = 0; i < 8; i++) {
                pthread_join(th[i], NULL);
                cr_assert(eq(int, args[i].bad, 0), "thread %d", i);
        }
        sr_idem_stats(idem, &st);
        cr_assert(eq(u64, st.keys, 16000));
}

/* Keyed ids: unchanged for every enterprise id without '/', and no two
 * (enterprise, key) pairs share one when an enterprise id holds '/'. */
Test(sr_idem, keyed_ids_never_collide_across_enterprises)
{
        sr_uuid_t a, b, want;

        sr_idem_uuid(&a, "idem", "acme", "k1");
        sr_uuid_v5(&want, &sr_ns, "idem/acme/k1");
        cr_assert(sr_uuid_eq(&a, &want), "an existing id changed");
        sr_idem_uuid(&a, "idem", "a/b", "c");
        sr_idem_uuid(&b, "idem", "a", "b/c");
        cr_assert(not(sr_uuid_eq(&a, &b)));
        sr_idem_uuid(&b, "idem-run", "a/b", "c");
        cr_assert(not(sr_uuid_eq(&a, &b)));
        sr_idem_uuid(&b, "idem", "a/", "b/c");
        cr_assert(not(sr_uuid_eq(&a, &b)));
}

/* ------------------------------------------------ the fleet's claims */

static sr_idem_verdict_t peek(const char *ent, const char *key,
                              const uint8_t *fp, int64_t now)
{
        return ask(sr_idem_peek, ent, key, fp, now);
}

static sr_idem_claim_t claim_of(const char *ent, const char *key, int fp,
                                int64_t first_use_ms)
{
        sr_idem_claim_t c = { 0 };

        snprintf(c.enterprise, sizeof(c.enterprise), "%s", ent);
        snprintf(c.key, sizeof(c.key), "%s", key);
        memcpy(c.fp, fp_n(fp), SR_IDEM_FP_LEN);
        c.first_use_ms = first_use_ms;
        return c;
}

Test(sr_idem, peek_answers_as_check_and_remembers_nothing)
{
        sr_idem_stats_t st;

        open_idem(1000, 1000);
        cr_assert(eq(int, peek("acme", "k", fp_n(1), 10), SR_IDEM_FIRST));
        cr_assert(eq(int, peek("acme", "k", fp_n(2), 11), SR_IDEM_FIRST));
        sr_idem_stats(idem, &st);
        cr_assert(eq(u64, st.keys, 0));
        cr_assert(eq(int, check("acme", "k", fp_n(1), 20), SR_IDEM_FIRST));
        cr_assert(eq(int, peek("acme", "k", fp_n(1), 21), SR_IDEM_SAME));
        cr_assert(eq(int, peek("acme", "k", fp_n(2), 22), SR_IDEM_CONFLICT));
        /* past the ttl the key is unknown again, and still not replaced */
        cr_assert(eq(int, peek("acme", "k", fp_n(2), 1020), SR_IDEM_FIRST));
        cr_assert(eq(int, check("acme", "k", fp_n(2), 1020), SR_IDEM_FIRST));
}

Test(sr_idem, a_claim_record_reads_back_as_written)
{
        sr_idem_claim_t c = claim_of("ac/me", "key-\"1\"", 7, 1733300000123),
                        back;
        sr_buf_t key = { 0 }, val = { 0 };
        sr_errctx_t ec = { 0 };
        char want_key[128];

        cr_assert(eq(int, sr_idem_claim_encode(&c, &key, &val, &ec), SR_OK),
                  "%s", ec.msg);
        /* "<fingerprint hex>/" + the name the command id hashes */
        snprintf(want_key, sizeof(want_key),
                 "07ababababababababababababababababababab/"
                 "idem@5/ac/me/key-\"1\"");
        cr_assert(eq(sz, key.len, strlen(want_key)));
        cr_assert(eq(int, memcmp(key.ptr, want_key, key.len), 0), "%.*s",
                  (int)key.len, (char *)key.ptr);
        cr_assert(eq(int, sr_idem_claim_decode(sr_buf_slice(&val), &back,
                                               &ec), SR_OK), "%s", ec.msg);
        cr_assert(eq(str, back.enterprise, "ac/me"));
        cr_assert(eq(str, back.key, "key-\"1\""));
        cr_assert(eq(i64, back.first_use_ms, 1733300000123));
        cr_assert(eq(int, memcmp(back.fp, c.fp, SR_IDEM_FP_LEN), 0));
        sr_buf_free(&key);
        sr_buf_free(&val);
}

Test(sr_idem, a_claim_out_of_range_is_not_encoded)
{
        sr_idem_claim_t c = claim_of("acme", "", 1, 0);
        sr_buf_t key = { 0 }, val = { 0 };
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_idem_claim_encode(&c, &key, &val, &ec),
                     SR_ERR_INVALID));
        cr_assert(eq(ptr, key.ptr, NULL));
        cr_assert(eq(ptr, val.ptr, NULL));
}

Test(sr_idem, a_damaged_claim_record_is_refused_naming_what_is_wrong)
{
        static const struct {
                const char *value, *says;
        } bad[] = {
                { "", "not JSON" },
                { "[1]", "object" },
                { "{\"enterprise\":\"a\",\"key\":\"k\",\"fingerprint\":"
                  "\"07ababababababababababababababababababab\"}",
                  "first_use_ms" },
                { "{\"enterprise\":\"a\",\"key\":\"k\",\"fingerprint\":"
                  "\"07ab\",\"first_use_ms\":1}", "out of range" },
                { "{\"enterprise\":\"a\",\"key\":\"k\",\"fingerprint\":"
                  "\"07ABABABABABABABABABABABABABABABABABABAB\","
                  "\"first_use_ms\":1}", "hex" },
                { "{\"enterprise\":\"a\",\"key\":\"\",\"fingerprint\":"
                  "\"07ababababababababababababababababababab\","
                  "\"first_use_ms\":1}", "out of range" },
                { "{\"enterprise\":1,\"key\":\"k\",\"fingerprint\":"
                  "\"07ababababababababababababababababababab\","
                  "\"first_use_ms\":1}", "Expected string" },
        };
        sr_idem_claim_t c;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                sr_errctx_t ec = { 0 };

                cr_assert(eq(int, sr_idem_claim_decode(
                                          sr_slice(bad[i].value,
                                                   strlen(bad[i].value)),
                                          &c, &ec),
                             SR_ERR_CORRUPT), "%s", bad[i].value);
                cr_assert(strstr(ec.msg, bad[i].says) != NULL, "%s: %s",
                          bad[i].value, ec.msg);
        }
        cr_assert(eq(int, sr_idem_claim_decode(sr_slice(NULL, 0), &c, NULL),
                     SR_ERR_CORRUPT));
}

/* A later version's claim, with a field this one does not know, still
 * reads (a fleet mid-upgrade agrees on its keys). */
Test(sr_idem, a_claim_with_a_field_added_later_still_reads)
{
        static const char v[] =
                "{\"enterprise\":\"a\",\"key\":\"k\",\"fingerprint\":"
                "\"07ababababababababababababababababababab\","
                "\"first_use_ms\":1,\"gateway\":\"gw-2\"}";
        sr_idem_claim_t c;
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_idem_claim_decode(sr_slice(v, strlen(v)), &c,
                                               &ec), SR_OK), "%s", ec.msg);
        cr_assert(eq(str, c.key, "k"));
        cr_assert(eq(i64, c.first_use_ms, 1));
}

Test(sr_idem, every_claim_of_a_key_goes_to_one_partition_whatever_its_body)
{
        int seen[4] = { 0 };
        char key[32];

        /* The same on every gateway: no seed, fixed for a name. */
        cr_assert(eq(i32, sr_idem_claim_partition("acme", "k-1", 12),
                     sr_idem_claim_partition("acme", "k-1", 12)));
        cr_assert(eq(i32, sr_idem_claim_partition("acme", "k-1", 1), 0));
        for (int i = 0; i < 400; i++) {
                int32_t p;

                snprintf(key, sizeof(key), "k-%d", i);
                p = sr_idem_claim_partition("acme", key, 4);
                cr_assert(p >= 0 && p < 4);
                seen[p]++;
        }
        for (int p = 0; p < 4; p++) /* spread, not all on one */
                cr_assert(seen[p] > 50, "partition %d: %d of 400", p,
                          seen[p]);
}

/* The first unexpired claim in the partition decides; a later one with
 * another body does not replace it, one past the ttl is ignored. */
Test(sr_idem, the_first_claim_read_back_decides_the_key)
{
        const int64_t wall = 1733300000000, mono = 50000000;
        sr_idem_claim_t a = claim_of("acme", "k", 1, wall - 500),
                        b = claim_of("acme", "k", 2, wall - 400),
                        old = claim_of("acme", "o", 1, wall - 1000);
        sr_idem_verdict_t v = (sr_idem_verdict_t)-1;
        sr_errctx_t ec = { 0 };

        open_idem(1000, 1000);
        cr_assert(eq(int, sr_idem_claim_apply(idem, &a, wall, mono, &v, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(int, v, SR_IDEM_FIRST));
        cr_assert(eq(int, sr_idem_claim_apply(idem, &b, wall, mono, &v, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(int, v, SR_IDEM_CONFLICT));
        cr_assert(eq(int, peek("acme", "k", fp_n(1), mono), SR_IDEM_SAME));
        cr_assert(eq(int, peek("acme", "k", fp_n(2), mono),
                     SR_IDEM_CONFLICT));
        /* a's first use was 500 ms ago: known 499 ms more, not 1000 */
        cr_assert(eq(int, peek("acme", "k", fp_n(1), mono + 499),
                     SR_IDEM_SAME));
        cr_assert(eq(int, peek("acme", "k", fp_n(2), mono + 500),
                     SR_IDEM_FIRST));
        v = (sr_idem_verdict_t)-1;
        cr_assert(eq(int, sr_idem_claim_apply(idem, &old, wall, mono, &v,
                                              &ec), SR_ERR_NOT_FOUND));
        cr_assert(eq(int, v, -1));
        cr_assert(eq(int, peek("acme", "o", fp_n(2), mono), SR_IDEM_FIRST));
}

/* Claims read partition after partition are not in order of first use:
 * one read after a younger one is still forgotten on its own time. */
Test(sr_idem, a_claim_read_late_is_forgotten_ttl_after_its_own_first_use)
{
        const int64_t wall = 1733300000000, mono = 50000000;
        sr_idem_claim_t young = claim_of("acme", "y", 1, wall - 100),
                        old = claim_of("acme", "o", 1, wall - 900);
        sr_idem_verdict_t v;
        sr_errctx_t ec = { 0 };

        open_idem(1000, 1000);
        cr_assert(eq(int, sr_idem_claim_apply(idem, &young, wall, mono, &v,
                                              &ec), SR_OK));
        cr_assert(eq(int, sr_idem_claim_apply(idem, &old, wall, mono, &v,
                                              &ec), SR_OK));
        cr_assert(eq(int, v, SR_IDEM_FIRST));
        cr_assert(eq(int, peek("acme", "o", fp_n(2), mono + 99),
                     SR_IDEM_CONFLICT));
        cr_assert(eq(int, peek("acme", "o", fp_n(2), mono + 100),
                     SR_IDEM_FIRST));
        /* a new first use of it starts its own ttl, and stays */
        cr_assert(eq(int, check("acme", "o", fp_n(2), mono + 100),
                     SR_IDEM_FIRST));
        cr_assert(eq(int, peek("acme", "y", fp_n(1), mono + 899),
                     SR_IDEM_SAME));
        cr_assert(eq(int, peek("acme", "o", fp_n(2), mono + 1099),
                     SR_IDEM_SAME));
}

/* A stored definition's paths name stages, lists, operation lists,
 * operations and targets: the same key on another of them (with the same
 * body) is another request, a 409, not a retry. */
Test(sr_idem, a_definition_fingerprint_has_its_path_ids)
{
        static const char body[] = "{\"name\":\"x\"}";
        static const char *const pairs[][2] = {
                { "/v0/pipelines/" P_ID "/stages/" S_ID "/",
                  "/v0/pipelines/" P_ID "/stages/" R_ID "/" },
                { "/v0/stages/" S_ID "/operationlists/" R_ID "/",
                  "/v0/stages/" S_ID "/operationlists/" P_ID "/" },
                { "/v0/operationlists/" S_ID "/operations/" R_ID "/",
                  "/v0/operationlists/" R_ID "/operations/" R_ID "/" },
                { "/v0/pipelines/" P_ID "/targetlists/" S_ID "/targets/"
                  R_ID "/",
                  "/v0/pipelines/" P_ID "/targetlists/" S_ID "/targets/"
                  P_ID "/" },
                { "/v0/pipelines/" P_ID "/targetlists/" S_ID "/",
                  "/v0/pipelines/" P_ID "/targetlists/" R_ID "/" },
        };
        uint8_t a[SR_IDEM_FP_LEN], b[SR_IDEM_FP_LEN];

        for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
                fingerprint("PUT", pairs[i][0], body, a);
                fingerprint("PUT", pairs[i][1], body, b);
                cr_assert(not(eq(int, memcmp(a, b, sizeof(a)), 0)), "%s",
                          pairs[i][0]);
                /* the spelling still does not count */
                fingerprint("PUT", pairs[i][0] + 0, body, b);
                cr_assert(eq(int, memcmp(a, b, sizeof(a)), 0));
        }
}
