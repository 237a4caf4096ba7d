/* tests/bench/bench_store.c - bulk-load speed of sr_store, as a restore
 * does it: 500k records of ~200 bytes under random uuid-like keys, in
 * write txns of 5000, MDB_NOSYNC. Prints records/s, median of 5 runs, each
 * on a fresh store. Usage: bench_store [DIR_PARENT] (default /tmp).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sr_store.h"
#include "kit_bench.h"
#include "kit_dir.h"

#define N_RECORDS 500000
#define TXN_RECORDS 5000
#define VALUE_SIZE 200
#define KEY_SIZE 38 /* uuid text + "/p" */
#define RUNS 5

static uint64_t next_rand(uint64_t *state)
{
        /* xorshift64*: cheap, good enough for key spread */
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        return *state * UINT64_C(2685821657736338717);
}

static void make_keys(char *keys, uint64_t seed)
{
        static const char hex[] = "0123456789abcdef";
        uint64_t st = seed | 1, r = 0;
        size_t i, j;
        char *k;

        for (i = 0; i < N_RECORDS; i++) {
                k = keys + i * KEY_SIZE;
                for (j = 0; j < 36; j++) {
                        if (j == 8 || j == 13 || j == 18 || j == 23) {
                                k[j] = '-';
                                continue;
                        }
                        if (j % 16 == 0)
                                r = next_rand(&st);
                        k[j] = hex[r & 15];
                        r >>= 4;
                }
                memcpy(k + 36, "/p", 2);
        }
}

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One run on a fresh store; records/s, or a negative value on error. */
static double run_once(const char *parent, const char *keys,
                       const char *value)
{
        sr_store_opts_t opts = { .map_size = (size_t)2 << 30, .sync = false };
        sr_errctx_t ec = { 0 };
        sr_store_t *store = NULL;
        sr_txn_t *txn = NULL;
        double t0, secs = -1.0;
        char dir[4096];
        size_t i;

        snprintf(dir, sizeof(dir), "%s/bench_store.XXXXXX", parent);
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return -1.0;
        }
        opts.dir = dir;
        if (sr_store_open(&opts, &store, &ec))
                goto out_fail;
        t0 = now_s();
        for (i = 0; i < N_RECORDS; i++) {
                if (i % TXN_RECORDS == 0 &&
                    sr_store_txn_begin(store, true, &txn, &ec))
                        goto out_fail;
                if (sr_store_put(txn, (int32_t)(i % 12),
                                 sr_slice(keys + i * KEY_SIZE, KEY_SIZE),
                                 sr_slice(value, VALUE_SIZE), &ec))
                        goto out_fail;
                if ((i + 1) % TXN_RECORDS == 0 || i + 1 == N_RECORDS) {
                        sr_err_t err = sr_store_txn_commit(txn, &ec);

                        txn = NULL; /* freed either way */
                        if (err)
                                goto out_fail;
                }
        }
        secs = now_s() - t0;
        goto out_close;

out_fail:
        fprintf(stderr, "bench_store: %s\n", ec.msg);
out_close:
        sr_store_txn_abort(txn);
        sr_store_close(store);
        kit_rm_rf(dir);
        return secs > 0 ? N_RECORDS / secs : -1.0;
}

int main(int argc, char **argv)
{
        const char *parent = argc > 1 ? argv[1] : "/tmp";
        double rates[RUNS];
        char value[VALUE_SIZE];
        char *keys;
        int i;

        keys = malloc((size_t)N_RECORDS * KEY_SIZE);
        if (!keys) {
                fprintf(stderr, "bench_store: out of memory\n");
                return 1;
        }
        memset(value, 'v', sizeof(value));
        for (i = 0; i < RUNS; i++) {
                /* A different key set per run, reproducible. */
                make_keys(keys, UINT64_C(0x9e3779b97f4a7c15) *
                                        (uint64_t)(i + 1));
                rates[i] = run_once(parent, keys, value);
                if (rates[i] < 0) {
                        free(keys);
                        return 1;
                }
                printf("run %d: %.0f records/s\n", i + 1, rates[i]);
        }
        qsort(rates, RUNS, sizeof(rates[0]), kit_cmp_double);
        printf("bench_store: %d records x %d bytes, txns of %d, NOSYNC: "
               "median %.0f records/s\n",
               N_RECORDS, VALUE_SIZE, TXN_RECORDS, rates[RUNS / 2]);
        free(keys);
        return 0;
}
