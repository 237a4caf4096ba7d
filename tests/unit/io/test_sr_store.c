/* tests/unit/io/test_sr_store.c - the LMDB snapshot: entities, meta, outbox,
 * partitions, map full and grow, reopen, boot-id trust. Each test gets its
 * own store in a fresh temp dir, opened in the fixture. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sr_metrics.h"
#include "sr_store.h"
#include "sr_store_int.h"
#include "kit_dir.h"

static char dir[] = "/tmp/sr_store_test.XXXXXX";
static sr_store_t *store;

static void store_reopen(size_t map_size, bool sync)
{
        sr_store_opts_t opts = { .dir = dir, .map_size = map_size,
                                 .sync = sync };
        sr_errctx_t ec = { 0 };

        sr_store_close(store);
        store = NULL;
        cr_assert(eq(int, sr_store_open(&opts, &store, &ec), SR_OK), "%s",
                  ec.msg);
}

static void store_setup(void)
{
        cr_assert(not(eq(ptr, mkdtemp(dir), NULL)));
        store_reopen(16u << 20, false);
}

static void store_teardown(void)
{
        sr_store_close(store);
        store = NULL;
        kit_rm_rf(dir);
}

TestSuite(sr_store, .init = store_setup, .fini = store_teardown,
          .timeout = 20.0);

/* ------------------------------------------------------------ helpers */

static sr_slice_t str(const char *s)
{
        return sr_slice(s, strlen(s));
}

static sr_txn_t *begin(bool write)
{
        sr_errctx_t ec = { 0 };
        sr_txn_t *txn = NULL;

        cr_assert(eq(int, sr_store_txn_begin(store, write, &txn, &ec), SR_OK),
                  "%s", ec.msg);
        return txn;
}

static void commit(sr_txn_t *txn)
{
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_store_txn_commit(txn, &ec), SR_OK), "%s",
                  ec.msg);
}

static void put(sr_txn_t *txn, int32_t part, const char *k, const char *v)
{
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_store_put(txn, part, str(k), str(v), &ec),
                     SR_OK),
                  "%s", ec.msg);
}

/* Value of k as a string, or "<missing>". */
static const char *get(sr_txn_t *txn, int32_t part, const char *k)
{
        static char out[512];
        sr_slice_t v;
        sr_err_t err;

        err = sr_store_get(txn, part, str(k), &v, NULL);
        if (err == SR_ERR_NOT_FOUND)
                return "<missing>";
        cr_assert(eq(int, err, SR_OK));
        cr_assert(lt(sz, v.len, sizeof(out)));
        memcpy(out, v.ptr, v.len);
        out[v.len] = '\0';
        return out;
}

static void put1(int32_t part, const char *k, const char *v)
{
        sr_txn_t *txn = begin(true);

        put(txn, part, k, v);
        commit(txn);
}

static const char *get1(int32_t part, const char *k)
{
        sr_txn_t *txn = begin(false);
        const char *v = get(txn, part, k);

        sr_store_txn_abort(txn);
        return v;
}

/* Scan result as "k=v;k=v;" */
struct collect {
        char text[4096];
        int stop_after; /* 0: never */
        int n;
};

static int collect_cb(sr_slice_t key, sr_slice_t value, void *arg)
{
        struct collect *c = arg;
        size_t len = strlen(c->text);

        snprintf(c->text + len, sizeof(c->text) - len, "%.*s=%.*s;",
                 (int)key.len, (const char *)key.ptr, (int)value.len,
                 (const char *)value.ptr);
        c->n++;
        return c->stop_after && c->n >= c->stop_after;
}

static const char *scan(int32_t part, const char *prefix,
                        struct collect *c)
{
        sr_txn_t *txn = begin(false);
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_store_scan(txn, part, str(prefix), collect_cb, c,
                                        &ec),
                     SR_OK),
                  "%s", ec.msg);
        sr_store_txn_abort(txn);
        return c->text;
}

struct obx {
        char text[4096];
        uint64_t seqs[64];
        int n;
};

static int obx_cb(uint64_t seq, uint8_t phase, sr_slice_t rec, void *arg)
{
        struct obx *o = arg;
        size_t len = strlen(o->text);

        snprintf(o->text + len, sizeof(o->text) - len, "%llu:%u:%.*s;",
                 (unsigned long long)seq, phase, (int)rec.len,
                 (const char *)rec.ptr);
        if (o->n < 64)
                o->seqs[o->n] = seq;
        o->n++;
        return 0;
}

static const char *outbox(int32_t part, struct obx *o)
{
        sr_txn_t *txn = begin(false);
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_store_outbox_scan(txn, part, obx_cb, o, &ec),
                     SR_OK),
                  "%s", ec.msg);
        sr_store_txn_abort(txn);
        return o->text;
}

static uint64_t append(sr_txn_t *txn, int32_t part, uint8_t phase,
                       const char *rec)
{
        sr_errctx_t ec = { 0 };
        uint64_t seq = 0;

        cr_assert(eq(int, sr_store_outbox_append(txn, part, phase, str(rec),
                                                 &seq, &ec),
                     SR_OK),
                  "%s", ec.msg);
        return seq;
}

static uint64_t count1(int32_t part)
{
        sr_txn_t *txn = begin(false);
        uint64_t n = 99;

        cr_assert(eq(int, sr_store_outbox_count(txn, part, &n, NULL), SR_OK));
        sr_store_txn_abort(txn);
        return n;
}

/* ------------------------------------------------------- entities */

Test(sr_store, put_then_get_returns_value_and_del_removes_it)
{
        sr_txn_t *txn;

        put1(0, "run/p", "hello");
        cr_assert(eq(str, (char *)get1(0, "run/p"), "hello"));
        txn = begin(true);
        cr_assert(eq(int, sr_store_del(txn, 0, str("run/p"), NULL), SR_OK));
        cr_assert(eq(str, (char *)get(txn, 0, "run/p"), "<missing>"));
        commit(txn);
        cr_assert(eq(str, (char *)get1(0, "run/p"), "<missing>"));
}

Test(sr_store, get_of_missing_key_is_not_found_and_del_of_it_is_ok)
{
        sr_txn_t *txn = begin(true);
        sr_errctx_t ec = { 0 };
        sr_slice_t v = { "x", 1 };

        cr_assert(eq(int, sr_store_get(txn, 0, str("nope"), &v, &ec),
                     SR_ERR_NOT_FOUND));
        cr_assert(eq(ptr, (void *)v.ptr, "x"), "out-param written on error");
        cr_assert(eq(int, sr_store_del(txn, 0, str("nope"), &ec), SR_OK));
        commit(txn);
}

Test(sr_store, put_replaces_value_and_empty_key_and_value_are_allowed)
{
        sr_txn_t *txn = begin(true);
        sr_slice_t v;

        put(txn, 1, "k", "one");
        put(txn, 1, "k", "two");
        cr_assert(eq(int, sr_store_put(txn, 1, sr_slice(NULL, 0),
                                       sr_slice(NULL, 0), NULL),
                     SR_OK));
        commit(txn);
        cr_assert(eq(str, (char *)get1(1, "k"), "two"));
        txn = begin(false);
        cr_assert(eq(int, sr_store_get(txn, 1, sr_slice("", 0), &v, NULL),
                     SR_OK));
        cr_assert(eq(sz, v.len, 0));
        sr_store_txn_abort(txn);
}

Test(sr_store, scan_with_prefix_visits_matching_keys_in_byte_order)
{
        struct collect c = { .text = "" }, all = { .text = "" };
        sr_txn_t *txn = begin(true);

        put(txn, 2, "r1/t/000002", "b");
        put(txn, 2, "r1/s/0001", "s");
        put(txn, 2, "r1/t/000001", "a");
        put(txn, 2, "r1/t", "no: shorter than prefix");
        put(txn, 2, "r1/u/1", "after");
        put(txn, 2, "r0/t/000001", "before");
        commit(txn);
        cr_assert(eq(str, (char *)scan(2, "r1/t/", &c),
                     "r1/t/000001=a;r1/t/000002=b;"));
        cr_assert(eq(str, (char *)scan(2, "", &all),
                     "r0/t/000001=before;r1/s/0001=s;r1/t=no: shorter than "
                     "prefix;r1/t/000001=a;r1/t/000002=b;r1/u/1=after;"));
}

Test(sr_store, scan_stops_when_callback_returns_nonzero)
{
        struct collect c = { .text = "", .stop_after = 2 };
        sr_txn_t *txn = begin(true);

        put(txn, 0, "a", "1");
        put(txn, 0, "b", "2");
        put(txn, 0, "c", "3");
        commit(txn);
        cr_assert(eq(str, (char *)scan(0, "", &c), "a=1;b=2;"));
}

Test(sr_store, partitions_never_see_each_others_keys)
{
        struct collect c1 = { .text = "" }, c2 = { .text = "" };
        struct collect c3 = { .text = "" };
        sr_txn_t *txn = begin(true);

        put(txn, 1, "shared", "p1");
        put(txn, 1, "only1", "x");
        put(txn, 1, "\xff\xff\xff\xff", "last of p1");
        put(txn, 2, "shared", "p2");
        put(txn, 3, "", "first of p3");
        commit(txn);
        cr_assert(eq(str, (char *)get1(2, "shared"), "p2"));
        cr_assert(eq(str, (char *)get1(1, "shared"), "p1"));
        cr_assert(eq(str, (char *)get1(2, "only1"), "<missing>"));
        cr_assert(eq(str, (char *)scan(2, "", &c2), "shared=p2;"));
        cr_assert(eq(int, c2.n, 1));
        scan(1, "", &c1);
        cr_assert(eq(int, c1.n, 3));
        scan(3, "", &c3);
        cr_assert(eq(int, c3.n, 1));
}

Test(sr_store, key_over_400_bytes_is_invalid_and_400_is_fine)
{
        char key[402];
        sr_txn_t *txn = begin(true);
        sr_errctx_t ec = { 0 };

        memset(key, 'k', sizeof(key));
        cr_assert(eq(int, sr_store_put(txn, 0, sr_slice(key, 400),
                                       str("v"), &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(int, sr_store_put(txn, 0, sr_slice(key, 401),
                                       str("v"), &ec),
                     SR_ERR_INVALID));
        cr_assert(not(eq(ptr, strstr(ec.msg, "401"), NULL)), "%s", ec.msg);
        commit(txn);
}

Test(sr_store, write_in_read_txn_and_negative_partition_are_invalid)
{
        sr_txn_t *txn = begin(false);
        sr_errctx_t ec = { 0 };
        sr_store_pmeta_t pm = { 0 };

        cr_assert(eq(int, sr_store_put(txn, 0, str("k"), str("v"), &ec),
                     SR_ERR_INVALID));
        cr_assert(eq(int, sr_store_pmeta_put(txn, 0, &pm, &ec),
                     SR_ERR_INVALID));
        cr_assert(eq(int, sr_store_outbox_append(txn, 0, 1, str("r"), NULL,
                                                 &ec),
                     SR_ERR_INVALID));
        cr_assert(eq(int, sr_store_get(txn, -1, str("k"), NULL, &ec),
                     SR_ERR_INVALID));
        sr_store_txn_abort(txn);
}

Test(sr_store, read_txn_sees_state_of_its_start)
{
        sr_txn_t *rd, *wr;

        put1(0, "k", "old");
        rd = begin(false);
        wr = begin(true);
        put(wr, 0, "k", "new");
        commit(wr);
        cr_assert(eq(str, (char *)get(rd, 0, "k"), "old"));
        sr_store_txn_abort(rd);
        cr_assert(eq(str, (char *)get1(0, "k"), "new"));
}

Test(sr_store, second_write_txn_is_refused_instead_of_deadlocking)
{
        sr_txn_t *wr = begin(true), *wr2 = NULL;
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_store_txn_begin(store, true, &wr2, &ec),
                     SR_ERR_INVALID));
        cr_assert(eq(ptr, wr2, NULL));
        sr_store_txn_abort(wr);
        wr2 = begin(true);
        sr_store_txn_abort(wr2);
        sr_store_txn_abort(NULL);
}

Test(sr_store, aborted_txn_changes_nothing_and_reopen_keeps_commits)
{
        sr_txn_t *txn;

        put1(5, "kept", "yes");
        txn = begin(true);
        put(txn, 5, "dropped", "no");
        sr_store_txn_abort(txn);
        store_reopen(16u << 20, false);
        cr_assert(eq(str, (char *)get1(5, "kept"), "yes"));
        cr_assert(eq(str, (char *)get1(5, "dropped"), "<missing>"));
}

Test(sr_store, open_creates_missing_nested_directories)
{
        char sub[sizeof(dir) + 32];
        sr_store_opts_t opts = { .dir = sub };
        sr_store_t *other = NULL;
        sr_errctx_t ec = { 0 };

        snprintf(sub, sizeof(sub), "%s/a/b/c", dir);
        cr_assert(eq(int, sr_store_open(&opts, &other, &ec), SR_OK), "%s",
                  ec.msg);
        cr_assert(eq(int, access(sub, F_OK), 0));
        cr_assert(ge(sz, sr_store_map_size(other), (size_t)1 << 30));
        sr_store_close(other);
}

/* ---------------------------------------------------------- meta */

Test(sr_store, pmeta_round_trips_and_unwritten_is_not_found)
{
        sr_store_pmeta_t in = { .commands_offset = 42,
                                .results_offset = -1,
                                .changelog_end = INT64_MAX,
                                .batch_seq = UINT64_MAX - 1 };
        sr_store_pmeta_t out = { 0 };
        sr_txn_t *txn = begin(true);

        cr_assert(eq(int, sr_store_pmeta_get(txn, 3, &out, NULL),
                     SR_ERR_NOT_FOUND));
        cr_assert(eq(int, sr_store_pmeta_put(txn, 3, &in, NULL), SR_OK));
        commit(txn);
        store_reopen(16u << 20, false);
        txn = begin(false);
        cr_assert(eq(int, sr_store_pmeta_get(txn, 3, &out, NULL), SR_OK));
        cr_assert(eq(i64, out.commands_offset, 42));
        cr_assert(eq(i64, out.results_offset, -1));
        cr_assert(eq(i64, out.changelog_end, INT64_MAX));
        cr_assert(eq(u64, out.batch_seq, UINT64_MAX - 1));
        cr_assert(eq(int, sr_store_pmeta_get(txn, 4, &out, NULL),
                     SR_ERR_NOT_FOUND));
        sr_store_txn_abort(txn);
}

/* -------------------------------------------------------- outbox */

Test(sr_store, outbox_scan_returns_records_in_seq_order_with_phase)
{
        struct obx o = { .text = "" }, o2 = { .text = "" };
        sr_txn_t *txn = begin(true);

        cr_assert(eq(u64, append(txn, 0, 1, "ev1"), 1));
        cr_assert(eq(u64, append(txn, 0, 2, "cl1"), 2));
        cr_assert(eq(u64, append(txn, 1, 1, "other"), 1));
        commit(txn);
        txn = begin(true);
        cr_assert(eq(u64, append(txn, 0, 1, "ev2"), 3));
        commit(txn);
        cr_assert(eq(str, (char *)outbox(0, &o), "1:1:ev1;2:2:cl1;3:1:ev2;"));
        cr_assert(eq(str, (char *)outbox(1, &o2), "1:1:other;"));
        cr_assert(eq(u64, count1(0), 3));
        cr_assert(eq(u64, count1(1), 1));
        cr_assert(eq(u64, count1(9), 0));
}

Test(sr_store, outbox_append_rejects_unknown_phase)
{
        sr_txn_t *txn = begin(true);

        cr_assert(eq(int, sr_store_outbox_append(txn, 0, 0, str("r"), NULL,
                                                 NULL),
                     SR_ERR_INVALID));
        cr_assert(eq(int, sr_store_outbox_append(txn, 0, 3, str("r"), NULL,
                                                 NULL),
                     SR_ERR_INVALID));
        sr_store_txn_abort(txn);
}

Test(sr_store, outbox_delete_upto_is_inclusive_and_updates_count)
{
        struct obx o = { .text = "" };
        sr_txn_t *txn = begin(true);
        int i;

        for (i = 0; i < 5; i++)
                append(txn, 4, 1, "r");
        append(txn, 5, 1, "neighbour");
        commit(txn);
        txn = begin(true);
        cr_assert(eq(int, sr_store_outbox_delete_upto(txn, 4, 3, NULL),
                     SR_OK));
        commit(txn);
        cr_assert(eq(str, (char *)outbox(4, &o), "4:1:r;5:1:r;"));
        cr_assert(eq(u64, count1(4), 2));
        cr_assert(eq(u64, count1(5), 1));
        txn = begin(true);
        cr_assert(eq(int, sr_store_outbox_delete_upto(txn, 4, 100, NULL),
                     SR_OK));
        cr_assert(eq(int, sr_store_outbox_delete_upto(txn, 4, 100, NULL),
                     SR_OK));
        commit(txn);
        cr_assert(eq(u64, count1(4), 0));
        cr_assert(eq(u64, count1(5), 1));
}

Test(sr_store, outbox_seq_keeps_increasing_after_delete_and_reopen)
{
        sr_txn_t *txn = begin(true);

        append(txn, 0, 1, "a");
        append(txn, 0, 1, "b");
        append(txn, 0, 2, "c");
        commit(txn);
        txn = begin(true);
        cr_assert(eq(int, sr_store_outbox_delete_upto(txn, 0, 3, NULL),
                     SR_OK));
        commit(txn);
        store_reopen(16u << 20, false);
        txn = begin(true);
        cr_assert(eq(u64, append(txn, 0, 1, "d"), 4));
        commit(txn);
        cr_assert(eq(u64, count1(0), 1));
}

Test(sr_store, outbox_seq_of_aborted_txn_is_reused)
{
        sr_txn_t *txn = begin(true);

        append(txn, 0, 1, "a");
        commit(txn);
        txn = begin(true);
        cr_assert(eq(u64, append(txn, 0, 1, "lost"), 2));
        sr_store_txn_abort(txn);
        txn = begin(true);
        cr_assert(eq(u64, append(txn, 0, 1, "b"), 2));
        commit(txn);
}

Test(sr_store, outbox_counters_survive_many_partitions_in_one_txn)
{
        sr_txn_t *txn = begin(true);
        int32_t p;

        /* More partitions than the per-txn counter cache holds. */
        for (p = 0; p < 40; p++) {
                cr_assert(eq(u64, append(txn, p, 1, "a"), 1));
                cr_assert(eq(u64, append(txn, p, 2, "b"), 2));
        }
        for (p = 0; p < 40; p++)
                cr_assert(eq(u64, append(txn, p, 1, "c"), 3));
        commit(txn);
        for (p = 0; p < 40; p++)
                cr_assert(eq(u64, count1(p), 3));
        txn = begin(true);
        cr_assert(eq(u64, append(txn, 39, 1, "d"), 4));
        commit(txn);
}

/* ---------------------------------------------------- partitions */

Test(sr_store, partition_drop_removes_only_that_partition)
{
        struct collect c0 = { .text = "" }, c1 = { .text = "" };
        struct collect c2 = { .text = "" };
        struct obx o = { .text = "" };
        sr_store_pmeta_t pm = { 1, 2, 3, 4 }, out;
        char key[32];
        sr_txn_t *txn = begin(true);
        int i;

        /* Enough keys to span many pages on every side of partition 1. */
        for (i = 0; i < 3000; i++) {
                snprintf(key, sizeof(key), "run/t/%06d", i);
                put(txn, 0, key, "zero");
                put(txn, 1, key, "one");
                put(txn, 2, key, "two");
        }
        for (i = 0; i < 3; i++) {
                cr_assert(eq(int, sr_store_pmeta_put(txn, i, &pm, NULL),
                             SR_OK));
                append(txn, i, 1, "rec");
        }
        commit(txn);
        txn = begin(true);
        cr_assert(eq(int, sr_store_partition_drop(txn, 1, NULL), SR_OK));
        commit(txn);

        scan(0, "", &c0);
        scan(1, "", &c1);
        scan(2, "", &c2);
        cr_assert(eq(int, c0.n, 3000));
        cr_assert(eq(int, c1.n, 0));
        cr_assert(eq(int, c2.n, 3000));
        txn = begin(true);
        cr_assert(eq(int, sr_store_pmeta_get(txn, 1, &out, NULL),
                     SR_ERR_NOT_FOUND));
        cr_assert(eq(int, sr_store_pmeta_get(txn, 2, &out, NULL), SR_OK));
        /* A stale ack for the dropped record must not hit a new one. */
        cr_assert(eq(u64, append(txn, 1, 1, "new"), 2));
        commit(txn);
        cr_assert(eq(str, (char *)outbox(1, &o), "2:1:new;"));
        cr_assert(eq(u64, count1(1), 1));
        cr_assert(eq(u64, count1(0), 1));
        cr_assert(eq(u64, count1(2), 1));
}

Test(sr_store, partitions_lists_every_partition_with_any_state)
{
        sr_store_pmeta_t pm = { -1, -1, -1, 0 };
        int32_t parts[8] = { 0 };
        sr_errctx_t ec = { 0 };
        size_t n = 99;
        sr_txn_t *txn;

        txn = begin(false);
        cr_assert(eq(int, sr_store_partitions(txn, parts, 8, &n, &ec),
                     SR_OK));
        cr_assert(eq(sz, n, 0));
        sr_store_txn_abort(txn);

        txn = begin(true);
        put(txn, 7, "k", "v");
        put(txn, 7, "k2", "v");
        cr_assert(eq(int, sr_store_pmeta_put(txn, 3, &pm, NULL), SR_OK));
        append(txn, 11, 1, "r");
        append(txn, 0, 2, "r");
        put(txn, 3, "k", "v");
        commit(txn);

        txn = begin(false);
        cr_assert(eq(int, sr_store_partitions(txn, parts, 8, &n, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(sz, n, 4));
        cr_assert(eq(i32, parts[0], 0));
        cr_assert(eq(i32, parts[1], 3));
        cr_assert(eq(i32, parts[2], 7));
        cr_assert(eq(i32, parts[3], 11));
        n = 99;
        cr_assert(eq(int, sr_store_partitions(txn, parts, 3, &n, &ec),
                     SR_ERR_INVALID));
        cr_assert(eq(sz, n, 99));
        sr_store_txn_abort(txn);

        /* Emptying the outbox of 11 leaves no state there. */
        txn = begin(true);
        cr_assert(eq(int, sr_store_outbox_delete_upto(txn, 11, 1, NULL),
                     SR_OK));
        commit(txn);
        txn = begin(false);
        cr_assert(eq(int, sr_store_partitions(txn, parts, 8, &n, &ec),
                     SR_OK));
        cr_assert(eq(sz, n, 3));
        cr_assert(eq(i32, parts[2], 7));
        sr_store_txn_abort(txn);
}

/* ------------------------------------------------- map full, grow */

/* Puts n values of 1 KiB in one txn and commits: the first error. */
static sr_err_t write_batch(int n, sr_errctx_t *ec)
{
        char key[32], val[1024];
        sr_txn_t *txn = begin(true);
        sr_err_t err;
        int i;

        memset(val, 'v', sizeof(val));
        for (i = 0; i < n; i++) {
                snprintf(key, sizeof(key), "big/%04d", i);
                err = sr_store_put(txn, 0, str(key),
                                   sr_slice(val, sizeof(val)), ec);
                if (err) {
                        sr_store_txn_abort(txn);
                        return err;
                }
        }
        return sr_store_txn_commit(txn, ec);
}

Test(sr_store, map_full_fails_the_batch_and_leaves_previous_state)
{
        sr_errctx_t ec = { 0 };
        struct collect c = { .text = "" };

        store_reopen(64u << 10, false);
        put1(0, "a", "committed");
        cr_assert(eq(int, write_batch(200, &ec), SR_ERR_MAP_FULL));
        cr_assert(not(eq(ptr, strstr(ec.msg, "MDB_MAP_FULL"), NULL)), "%s",
                  ec.msg);
        cr_assert(eq(str, (char *)get1(0, "a"), "committed"));
        cr_assert(eq(str, (char *)scan(0, "big/", &c), ""));

        /* Grow after the failure; the same batch now fits. */
        cr_assert(eq(int, sr_store_grow(store, 4u << 20, &ec), SR_OK), "%s",
                  ec.msg);
        cr_assert(ge(sz, sr_store_map_size(store), 4u << 20));
        cr_assert(eq(int, write_batch(200, &ec), SR_OK), "%s", ec.msg);
        scan(0, "big/", &c);
        cr_assert(eq(int, c.n, 200));
        cr_assert(eq(str, (char *)get1(0, "a"), "committed"));

        /* Reopening with the small size still maps all the data. */
        store_reopen(64u << 10, false);
        cr_assert(eq(str, (char *)get1(0, "a"), "committed"));
}

Test(sr_store, commit_after_a_failed_put_is_refused_and_changes_nothing)
{
        char val[1024];
        sr_txn_t *txn;
        sr_errctx_t ec = { 0 };
        sr_err_t err = SR_OK;
        int i;

        store_reopen(64u << 10, false);
        put1(0, "a", "committed");
        memset(val, 'v', sizeof(val));
        txn = begin(true);
        put(txn, 0, "a", "changed");
        for (i = 0; i < 200 && !err; i++) {
                char key[16];

                snprintf(key, sizeof(key), "k%d", i);
                err = sr_store_put(txn, 0, str(key),
                                   sr_slice(val, sizeof(val)), &ec);
        }
        cr_assert(eq(int, err, SR_ERR_MAP_FULL));
        /* Misuse: commit instead of abort. It must not half-commit, and
         * it frees the txn (ASan would flag a leak or double free). */
        cr_assert(not(eq(int, sr_store_txn_commit(txn, &ec), SR_OK)));
        cr_assert(eq(str, (char *)get1(0, "a"), "committed"));
        cr_assert(eq(int, sr_store_grow(store, 1u << 20, &ec), SR_OK), "%s",
                  ec.msg);
}

Test(sr_store, grow_with_open_txn_or_to_a_smaller_size_is_invalid)
{
        sr_txn_t *txn = begin(false);
        sr_errctx_t ec = { 0 };
        size_t size = sr_store_map_size(store);

        cr_assert(eq(int, sr_store_grow(store, size * 2, &ec),
                     SR_ERR_INVALID));
        sr_store_txn_abort(txn);
        cr_assert(eq(int, sr_store_grow(store, size / 2, &ec),
                     SR_ERR_INVALID));
        cr_assert(eq(int, sr_store_grow(store, size, &ec), SR_OK));
        cr_assert(eq(sz, sr_store_map_size(store), size));
}

/* ------------------------------------------------------ boot id */

Test(sr_store, unsynced_store_is_trusted_after_reopen_on_same_boot)
{
        put1(0, "k", "v");
        cr_assert(not(sr_store_is_untrusted(store)));
        store_reopen(16u << 20, false);
        cr_assert(not(sr_store_is_untrusted(store)));
        cr_assert(eq(str, (char *)get1(0, "k"), "v"));
}

Test(sr_store, other_boot_id_makes_store_untrusted_until_drop_all)
{
        sr_txn_t *txn = NULL;
        sr_errctx_t ec = { 0 };

        put1(0, "k", "v");
        txn = begin(true);
        append(txn, 0, 1, "r");
        append(txn, 0, 1, "r");
        commit(txn);
        cr_assert(eq(int, sr_store_debug_set_boot_id(store, "x", &ec), SR_OK),
                  "%s", ec.msg);
        cr_assert(sr_store_is_untrusted(store));
        /* Nothing of a possibly torn snapshot can be read or written. */
        cr_assert(eq(int, sr_store_txn_begin(store, false, &txn, &ec),
                     SR_ERR_INVALID));
        cr_assert(eq(int, sr_store_grow(store, 64u << 20, &ec),
                     SR_ERR_INVALID));
        store_reopen(16u << 20, false);
        cr_assert(sr_store_is_untrusted(store));
        store_reopen(16u << 20, true);
        cr_assert(sr_store_is_untrusted(store));
        cr_assert(eq(int, sr_store_txn_begin(store, true, &txn, &ec),
                     SR_ERR_INVALID));

        cr_assert(eq(int, sr_store_drop_all(store, &ec), SR_OK), "%s",
                  ec.msg);
        cr_assert(not(sr_store_is_untrusted(store)));
        cr_assert(eq(str, (char *)get1(0, "k"), "<missing>"));
        cr_assert(eq(u64, count1(0), 0));
        txn = begin(true);
        cr_assert(eq(u64, append(txn, 0, 1, "r"), 1));
        commit(txn);
        store_reopen(16u << 20, false);
        cr_assert(not(sr_store_is_untrusted(store)));
        cr_assert(eq(u64, count1(0), 1));
}

Test(sr_store, untrusted_store_with_garbage_data_file_opens_and_drops)
{
        char path[sizeof(dir) + 16], junk[65536];
        sr_errctx_t ec = { 0 };
        FILE *f;

        put1(0, "k", "v");
        cr_assert(eq(int, sr_store_debug_set_boot_id(store, "x", &ec), SR_OK),
                  "%s", ec.msg);
        sr_store_close(store);
        store = NULL;
        /* What a torn file may look like: not even LMDB's meta pages. */
        snprintf(path, sizeof(path), "%s/data.mdb", dir);
        memset(junk, 0xa5, sizeof(junk));
        f = fopen(path, "w");
        cr_assert(not(eq(ptr, f, NULL)));
        cr_assert(eq(sz, fwrite(junk, 1, sizeof(junk), f), sizeof(junk)));
        fclose(f);

        store_reopen(16u << 20, false);
        cr_assert(sr_store_is_untrusted(store));
        cr_assert(eq(int, sr_store_drop_all(store, &ec), SR_OK), "%s",
                  ec.msg);
        put1(0, "k", "fresh");
        cr_assert(eq(str, (char *)get1(0, "k"), "fresh"));
}

/* Closes the fixture's store; a child process opens it unsynced, commits
 * k=v and dies without closing, as kill -9 would leave it. */
static void crash_writer(const char *k, const char *v)
{
        sr_store_opts_t opts = { .dir = dir, .map_size = 16u << 20 };
        int status = -1;
        pid_t pid;

        sr_store_close(store);
        store = NULL;
        pid = fork();
        cr_assert(not(eq(int, pid, -1)));
        if (pid == 0) {
                sr_store_t *st = NULL;
                sr_txn_t *txn = NULL;

                if (sr_store_open(&opts, &st, NULL) ||
                    sr_store_txn_begin(st, true, &txn, NULL) ||
                    sr_store_put(txn, 0, str(k), str(v), NULL) ||
                    sr_store_txn_commit(txn, NULL))
                        _exit(1);
                _exit(0);
        }
        cr_assert(eq(int, waitpid(pid, &status, 0), pid));
        cr_assert(eq(int, status, 0));
}

Test(sr_store, process_crash_keeps_snapshot_trusted_on_same_boot)
{
        sr_errctx_t ec = { 0 };

        crash_writer("k", "crash");
        store_reopen(16u << 20, false);
        cr_assert(sr_store_debug_has_boot_mark(store), "mark survives");
        cr_assert(not(sr_store_is_untrusted(store)));
        cr_assert(eq(str, (char *)get1(0, "k"), "crash"));
        /* The same files after a reboot: */
        cr_assert(eq(int, sr_store_debug_set_boot_id(store, "next-boot",
                                                     &ec),
                     SR_OK));
        cr_assert(sr_store_is_untrusted(store));
}

Test(sr_store, clean_close_and_synced_commits_clear_the_boot_mark)
{
        sr_errctx_t ec = { 0 };

        /* Unsynced mode marks before the first write can happen. */
        cr_assert(sr_store_debug_has_boot_mark(store));
        put1(0, "k", "v");
        store_reopen(16u << 20, true); /* clean close syncs */
        cr_assert(not(sr_store_debug_has_boot_mark(store)));
        put1(0, "k", "synced");
        cr_assert(not(sr_store_debug_has_boot_mark(store)));
        cr_assert(eq(str, (char *)get1(0, "k"), "synced"));

        /* drop_all of a synced store leaves no mark. */
        cr_assert(eq(int, sr_store_debug_set_boot_id(store, "other-boot",
                                                     &ec),
                     SR_OK));
        cr_assert(sr_store_is_untrusted(store));
        cr_assert(eq(int, sr_store_drop_all(store, &ec), SR_OK), "%s",
                  ec.msg);
        cr_assert(not(sr_store_debug_has_boot_mark(store)));
        put1(0, "k", "again");
        store_reopen(16u << 20, true);
        cr_assert(not(sr_store_debug_has_boot_mark(store)));
        cr_assert(eq(str, (char *)get1(0, "k"), "again"));
}

Test(sr_store, synced_open_after_unsynced_crash_flushes_and_clears_mark)
{
        crash_writer("k", "v");
        store_reopen(16u << 20, true);
        cr_assert(not(sr_store_debug_has_boot_mark(store)));
        cr_assert(not(sr_store_is_untrusted(store)));
        cr_assert(eq(str, (char *)get1(0, "k"), "v"));
}

Test(sr_store, drop_all_with_open_txn_is_invalid)
{
        sr_txn_t *txn = begin(false);
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_store_drop_all(store, &ec), SR_ERR_INVALID));
        sr_store_txn_abort(txn);
        cr_assert(eq(int, sr_store_drop_all(store, &ec), SR_OK), "%s",
                  ec.msg);
}

/* ------------------------------------------------------------ map use */

/* Write (or delete) keys "k<i>" for i in [from, to) with 1 KiB values. */
static void fill(int from, int to, bool del)
{
        static char val[1024];
        sr_errctx_t ec = { 0 };
        sr_txn_t *txn = begin(true);
        char key[32];

        memset(val, 'v', sizeof(val));
        for (int i = from; i < to; i++) {
                snprintf(key, sizeof(key), "k%06d", i);
                if (del)
                        cr_assert(eq(int, sr_store_del(txn, 0, str(key), &ec),
                                     SR_OK),
                                  "%s", ec.msg);
                else
                        cr_assert(eq(int, sr_store_put(txn, 0, str(key),
                                                       sr_slice(val,
                                                                sizeof(val)),
                                                       &ec),
                                     SR_OK),
                                  "%s", ec.msg);
        }
        cr_assert(eq(int, sr_store_txn_commit(txn, &ec), SR_OK), "%s",
                  ec.msg);
}

static sr_mapuse_t use_now(void)
{
        sr_errctx_t ec = { 0 };
        sr_mapuse_t u;

        cr_assert(eq(int, sr_store_use(store, &u, &ec), SR_OK), "%s", ec.msg);
        cr_assert(le(u64, u.used_bytes, u.high_bytes));
        cr_assert(le(u64, u.high_bytes, u.map_bytes));
        return u;
}

Test(sr_store, map_use_gauges_and_the_80_percent_warning_once_per_crossing)
{
        sr_metrics_t *m = sr_metrics_new();
        sr_mapuse_watch_t w = { 0 };
        sr_mapuse_t u;
        int n = 0, warned = 0;
        uint64_t full;

        store_reopen(1u << 20, false);
        sr_mapuse_watch_init(&w, m, "store", true);
        cr_assert(sr_mapuse_watch_due(&w, 0));
        u = use_now();
        cr_assert(eq(u64, u.map_bytes, sr_store_map_size(store)));
        cr_assert(not(sr_mapuse_watch_set(&w, &u, dir, 0)));
        cr_assert(eq(dbl, sr_series_value(w.map), (double)u.map_bytes));
        cr_assert(eq(dbl, sr_series_value(w.used), (double)u.used_bytes));
        cr_assert(not(sr_mapuse_watch_due(&w, SR_MAPUSE_EVERY_MS - 1)));
        cr_assert(sr_mapuse_watch_due(&w, SR_MAPUSE_EVERY_MS));
        /* Fill 5 KiB at a time: the warning comes exactly when use
         * passes 80 %, once. */
        while (n < 2000 && !warned) {
                fill(n, n + 5, false);
                n += 5;
                u = use_now();
                warned += sr_mapuse_watch_set(&w, &u, dir, 0);
                cr_assert(eq(dbl, sr_series_value(w.used),
                             (double)u.used_bytes));
                cr_assert(eq(int, warned,
                             u.used_bytes * 100 > u.map_bytes * 80 ? 1 : 0),
                          "used %llu of %llu",
                          (unsigned long long)u.used_bytes,
                          (unsigned long long)u.map_bytes);
        }
        cr_assert(eq(int, warned, 1));
        full = u.used_bytes;
        /* Still over: no second warning. */
        cr_assert(not(sr_mapuse_watch_set(&w, &u, dir, 0)));
        /* Deleted keys free their pages: below again, no warning. */
        fill(0, n, true);
        u = use_now();
        cr_assert(lt(u64, u.used_bytes * 2, full), "used %llu after delete",
                  (unsigned long long)u.used_bytes);
        cr_assert(not(sr_mapuse_watch_set(&w, &u, dir, 0)));
        /* Rising past it again warns again, once. */
        warned = 0;
        for (n = 0; n < 2000 && !warned; n += 5) {
                fill(n, n + 5, false);
                u = use_now();
                warned += sr_mapuse_watch_set(&w, &u, dir, 0);
        }
        cr_assert(eq(int, warned, 1));
        cr_assert(gt(u64, u.used_bytes * 100, u.map_bytes * 80));
        /* The map grows (doubled): below, no warning, the size gauge. */
        cr_assert(eq(int, sr_store_grow(store, 2u << 20, NULL), SR_OK));
        u = use_now();
        cr_assert(eq(u64, u.map_bytes, 2u << 20));
        cr_assert(not(sr_mapuse_watch_set(&w, &u, dir, 0)));
        cr_assert(eq(dbl, sr_series_value(w.map), (double)(2u << 20)));
        sr_metrics_destroy(m);
}
