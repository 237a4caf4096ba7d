/* tests/unit/domain/test_sr_batchlog.c - which changelog records a restore trusts:
 * complete batches (marker, or a later batch of the same writer), cut
 * batches discarded, and a compacted changelog restoring to the same state
 * as the full one. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdio.h>
#include <string.h>

#include "sr_batchlog.h"

TestSuite(sr_batchlog, .timeout = 20.0);

#define NKEYS 16
#define VMAX 32

/* The state the apply callback builds: key "kN" -> value ("" = absent). */
typedef struct state {
        char v[NKEYS][VMAX];
        int applied_order[4096];
        int n_applied;
} state_t;

static sr_err_t apply(sr_slice_t key, sr_slice_t value, void *arg,
                      sr_errctx_t *ec)
{
        state_t *st = arg;
        int k;

        (void)ec;
        cr_assert(key.len >= 2 && ((const char *)key.ptr)[0] == 'k', "key %.*s",
                  (int)key.len, (const char *)key.ptr);
        {
                char kb[16];

                cr_assert(key.len < sizeof(kb));
                memcpy(kb, key.ptr, key.len);
                kb[key.len] = '\0';
                k = atoi(kb + 1);
        }
        cr_assert(k >= 0 && k < NKEYS, "key k%d", k);
        if (value.ptr) {
                cr_assert(value.len < VMAX);
                memcpy(st->v[k], value.ptr, value.len);
                st->v[k][value.len] = '\0';
        } else {
                st->v[k][0] = '\0';
        }
        if (st->n_applied < 4096)
                st->applied_order[st->n_applied++] = k;
        return SR_OK;
}

static sr_slice_t s(const char *str)
{
        return sr_slice(str, strlen(str));
}

static sr_batchlog_t *open_log(state_t *st)
{
        sr_batchlog_t *bl = NULL;
        sr_errctx_t ec = { 0 };

        memset(st, 0, sizeof(*st));
        cr_assert(eq(int, sr_batchlog_new(apply, st, &bl, &ec), SR_OK));
        return bl;
}

static void rec(sr_batchlog_t *bl, const char *bid, const char *k,
                const char *v)
{
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int,
                     sr_batchlog_record(bl, s(bid), s(k),
                                        v ? s(v) : sr_slice(NULL, 0), &ec),
                     SR_OK),
                  "%s", ec.msg);
}

static void marker(sr_batchlog_t *bl, const char *bid)
{
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_batchlog_marker(bl, s(bid), &ec), SR_OK), "%s",
                  ec.msg);
}

Test(sr_batchlog, complete_batch_is_applied_when_its_marker_arrives)
{
        state_t st;
        sr_batchlog_t *bl = open_log(&st);

        rec(bl, "w1/1", "k1", "a");
        rec(bl, "w1/1", "k2", "b");
        cr_assert(eq(u64, sr_batchlog_applied(bl), 0));
        marker(bl, "w1/1");
        cr_assert(eq(u64, sr_batchlog_applied(bl), 2));
        cr_assert(eq(str, st.v[1], "a"));
        cr_assert(eq(str, st.v[2], "b"));
        cr_assert(eq(u64, sr_batchlog_end(bl), 0));
        sr_batchlog_destroy(bl);
}

Test(sr_batchlog, batch_without_marker_at_the_end_is_discarded)
{
        state_t st;
        sr_batchlog_t *bl = open_log(&st);

        rec(bl, "w1/1", "k1", "a");
        marker(bl, "w1/1");
        rec(bl, "w1/2", "k1", "cut");
        rec(bl, "w1/2", "k3", "cut");
        cr_assert(eq(u64, sr_batchlog_end(bl), 2));
        cr_assert(eq(str, st.v[1], "a"));
        cr_assert(eq(str, st.v[3], ""));
        sr_batchlog_destroy(bl);
}

Test(sr_batchlog, later_batch_of_the_same_writer_completes_one_whose_marker_was_compacted)
{
        state_t st;
        sr_batchlog_t *bl = open_log(&st);

        rec(bl, "w1/7", "k1", "a"); /* its marker compacted away */
        rec(bl, "w1/9", "k2", "b");
        cr_assert(eq(str, st.v[1], "a"));
        cr_assert(eq(str, st.v[2], ""));
        marker(bl, "w1/9");
        cr_assert(eq(str, st.v[2], "b"));
        sr_batchlog_destroy(bl);
}

Test(sr_batchlog, cut_last_batch_of_an_ended_writer_is_discarded_while_the_next_writer_applies)
{
        state_t st;
        sr_batchlog_t *bl = open_log(&st);

        rec(bl, "w1/1", "k1", "a");
        marker(bl, "w1/1");
        rec(bl, "w1/2", "k1", "cut"); /* w1 crashed mid-relay */
        rec(bl, "w2/3", "k1", "redo");
        marker(bl, "w2/3");
        cr_assert(eq(str, st.v[1], "redo"));
        cr_assert(eq(u64, sr_batchlog_end(bl), 1));
        cr_assert(eq(str, st.v[1], "redo"));
        sr_batchlog_destroy(bl);
}

static void claim(sr_batchlog_t *bl, const char *writer)
{
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_batchlog_claim(bl, s(writer), &ec), SR_OK), "%s",
                  ec.msg);
}

/* A zombie (w1, cut off from the group) goes on writing after the new
 * owner's (w2's) claim: its later batches, complete or not, are ignored;
 * only the claimant's count from there. */
Test(sr_batchlog, batches_of_a_writer_fenced_by_a_later_claim_are_ignored)
{
        state_t st;
        sr_batchlog_t *bl = open_log(&st);

        rec(bl, "w1/1", "k1", "a");
        marker(bl, "w1/1");
        claim(bl, "w2");
        rec(bl, "w2/1", "k1", "b");
        marker(bl, "w2/1");
        rec(bl, "w2/2", "k1", "c");
        rec(bl, "w1/2", "k1", "zombie"); /* interleaved with w2's batch */
        rec(bl, "w1/2", "k2", "zombie");
        marker(bl, "w2/2");
        marker(bl, "w1/2"); /* complete, but after w2's claim */
        rec(bl, "w1/3", "k3", "zombie");
        cr_assert(eq(str, st.v[1], "c"));
        cr_assert(eq(str, st.v[2], ""));
        cr_assert(eq(str, st.v[3], ""));
        cr_assert(eq(u64, sr_batchlog_fenced(bl), 4));
        cr_assert(not(sr_batchlog_trusted(bl, s("w1/4"))));
        cr_assert(sr_batchlog_trusted(bl, s("w2/4")));
        cr_assert(eq(u64, sr_batchlog_end(bl), 0));
        sr_batchlog_destroy(bl);
}

/* A batch another writer left open at a claim is cut: its marker, landing
 * after the claim, does not complete it. */
Test(sr_batchlog, batch_open_at_a_claim_is_cut_even_if_its_marker_follows)
{
        state_t st;
        sr_batchlog_t *bl = open_log(&st);

        rec(bl, "w1/1", "k1", "a");
        marker(bl, "w1/1");
        rec(bl, "w1/2", "k1", "open");
        claim(bl, "w2");
        marker(bl, "w1/2");
        rec(bl, "w2/1", "k2", "b");
        marker(bl, "w2/1");
        cr_assert(eq(str, st.v[1], "a"));
        cr_assert(eq(str, st.v[2], "b"));
        cr_assert(eq(u64, sr_batchlog_end(bl), 0));
        sr_batchlog_destroy(bl);
}

/* Ownership moves on: w1 claims again (as a new writer, w3) after w2; w2
 * is fenced from then on. Before any claim everything is trusted (logs
 * written before claims existed). */
Test(sr_batchlog, each_claim_fences_every_writer_but_the_claimant)
{
        state_t st;
        sr_batchlog_t *bl = open_log(&st);
        sr_errctx_t ec = { 0 };

        cr_assert(sr_batchlog_trusted(bl, s("w9/1")));
        claim(bl, "w2");
        rec(bl, "w2/1", "k1", "b");
        marker(bl, "w2/1");
        claim(bl, "w3");
        rec(bl, "w2/2", "k1", "zombie");
        marker(bl, "w2/2");
        rec(bl, "w3/1", "k2", "c");
        marker(bl, "w3/1");
        cr_assert(eq(str, st.v[1], "b"));
        cr_assert(eq(str, st.v[2], "c"));
        cr_assert(eq(int, sr_batchlog_claim(bl, s(""), &ec), SR_ERR_CORRUPT));
        sr_batchlog_destroy(bl);
}

Test(sr_batchlog, marker_of_an_older_batch_leaves_a_newer_open_batch_open)
{
        state_t st;
        sr_batchlog_t *bl = open_log(&st);

        rec(bl, "w1/5", "k1", "x");
        marker(bl, "w1/4");
        cr_assert(eq(u64, sr_batchlog_applied(bl), 0));
        marker(bl, "w1/5");
        cr_assert(eq(u64, sr_batchlog_applied(bl), 1));
        sr_batchlog_destroy(bl);
}

Test(sr_batchlog, tombstone_reaches_the_callback_as_a_null_value)
{
        state_t st;
        sr_batchlog_t *bl = open_log(&st);

        rec(bl, "w/1", "k4", "v");
        rec(bl, "w/1", "k4", NULL);
        marker(bl, "w/1");
        cr_assert(eq(str, st.v[4], ""));
        cr_assert(eq(int, st.n_applied, 2));
        sr_batchlog_destroy(bl);
}

Test(sr_batchlog, older_batch_after_a_newer_one_of_the_same_writer_is_corrupt)
{
        state_t st;
        sr_batchlog_t *bl = open_log(&st);
        sr_errctx_t ec = { 0 };

        rec(bl, "w/5", "k1", "a");
        cr_assert(eq(int,
                     sr_batchlog_record(bl, s("w/4"), s("k1"), s("b"), &ec),
                     SR_ERR_CORRUPT));
        cr_assert(strstr(ec.msg, "batch 4 of writer w after its batch 5") !=
                  NULL, "%s", ec.msg);
        sr_batchlog_destroy(bl);
}

Test(sr_batchlog, malformed_batch_ids_are_corrupt)
{
        static const char *const bad[] = {
                "", "w", "w/", "/5", "w/x", "w/5x", "w/-1",
                "w/123456789012345678901", /* over 20 digits */
                "w/99999999999999999999", /* over 2^64 */
                "0123456789012345678901234567890123456789012345678901234567890123/1"
        };
        state_t st;
        sr_batchlog_t *bl = open_log(&st);

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                sr_errctx_t ec = { 0 };

                cr_assert(eq(int,
                             sr_batchlog_record(bl, s(bad[i]), s("k1"),
                                                s("v"), &ec),
                             SR_ERR_CORRUPT),
                          "\"%s\" accepted", bad[i]);
                cr_assert(strstr(ec.msg, "is not WRITER/N") != NULL);
        }
        sr_batchlog_destroy(bl);
}

Test(sr_batchlog, writer_ids_may_contain_slashes_the_last_one_splits)
{
        sr_errctx_t ec = { 0 };
        sr_slice_t w;
        uint64_t n;

        cr_assert(eq(int,
                     sr_batchlog_parse_id(s("a/b/42"), &w, &n, &ec), SR_OK));
        cr_assert(eq(u64, n, 42));
        cr_assert(eq(sz, w.len, 3));
        cr_assert(eq(int, memcmp(w.ptr, "a/b", 3), 0));
}

/* ------------------------------------------------------ compaction
 * A random history of writers: each writes batches of random keys and a
 * marker "~marker/W" after each; a writer's last batch is sometimes cut
 * (a prefix of its records, no marker) and then the next writer's first
 * batch rewrites every key the cut batch touched (reprocessing the same
 * inputs dirties the same entities). Restoring the full log, and the log
 * compacted Kafka's way (the last record of each key survives, in place),
 * must both give the state of the complete batches. */

typedef struct entry {
        char bid[32];
        char key[32];
        char val[VMAX];
        bool is_marker;
} entry_t;

#define LOGMAX 4000

static uint64_t rng;

static unsigned rnd(unsigned n)
{
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        return (unsigned)((rng >> 33) % n);
}

static void feed(const entry_t *log, const bool *keep, int n, state_t *st)
{
        sr_batchlog_t *bl = open_log(st);

        for (int i = 0; i < n; i++) {
                if (keep && !keep[i])
                        continue;
                if (log[i].is_marker)
                        marker(bl, log[i].bid);
                else
                        rec(bl, log[i].bid, log[i].key,
                            log[i].val[0] ? log[i].val : NULL);
        }
        (void)sr_batchlog_end(bl);
        sr_batchlog_destroy(bl);
}

Test(sr_batchlog, compacted_changelog_restores_to_the_same_state_as_the_full_one)
{
        static entry_t log[LOGMAX];
        static bool keep[LOGMAX];
        static state_t full, compacted;
        char expect[NKEYS][VMAX];

        for (unsigned seed = 1; seed <= 300; seed++) {
                bool cut_keys[NKEYS] = { false };
                bool have_cut = false;
                int n = 0;
                uint64_t batch = 0;

                rng = seed;
                memset(expect, 0, sizeof(expect));
                for (int wr = 0; wr < 1 + (int)rnd(6); wr++) {
                        int nb = 1 + (int)rnd(5);

                        for (int b = 0; b < nb; b++) {
                                bool cut = b == nb - 1 && rnd(3) == 0;
                                int nrec = 1 + (int)rnd(6);
                                char tmp[NKEYS][VMAX];
                                bool touched[NKEYS] = { false };

                                batch += 1 + rnd(3);
                                memcpy(tmp, expect, sizeof(tmp));
                                /* reprocessing the cut batches' inputs */
                                for (int k = 0; k < NKEYS; k++)
                                        if (cut_keys[k])
                                                touched[k] = true;
                                for (int r = 0; r < nrec; r++)
                                        touched[rnd(NKEYS)] = true;
                                {
                                        int written = 0;
                                        int limit = cut ? (int)rnd(NKEYS) :
                                                          NKEYS;

                                        for (int k = 0; k < NKEYS; k++) {
                                                entry_t *e;

                                                if (!touched[k])
                                                        continue;
                                                if (written++ >= limit)
                                                        break;
                                                cr_assert(n < LOGMAX - 1);
                                                e = &log[n++];
                                                memset(e, 0, sizeof(*e));
                                                snprintf(e->bid,
                                                         sizeof(e->bid),
                                                         "w%d/%llu", wr,
                                                         (unsigned long long)
                                                                 batch);
                                                snprintf(e->key,
                                                         sizeof(e->key),
                                                         "k%d", k);
                                                if (rnd(8)) /* else delete */
                                                        snprintf(e->val,
                                                                 VMAX,
                                                                 "w%d-%llu",
                                                                 wr,
                                                                 (unsigned long long)
                                                                         batch);
                                                snprintf(tmp[k], VMAX, "%s",
                                                         e->val);
                                                if (cut)
                                                        cut_keys[k] = true;
                                        }
                                }
                                if (cut) {
                                        have_cut = true;
                                        break; /* the writer ended */
                                }
                                memcpy(expect, tmp, sizeof(tmp));
                                have_cut = false;
                                memset(cut_keys, 0, sizeof(cut_keys));
                                {
                                        entry_t *e = &log[n++];

                                        memset(e, 0, sizeof(*e));
                                        snprintf(e->bid, sizeof(e->bid),
                                                 "w%d/%llu", wr,
                                                 (unsigned long long)batch);
                                        snprintf(e->key, sizeof(e->key),
                                                 "~marker/w%d", wr);
                                        e->is_marker = true;
                                }
                        }
                }
                /* Kafka compaction: the last record of each key survives,
                 * where it was (tombstones too, until delete.retention). */
                for (int i = 0; i < n; i++) {
                        keep[i] = true;
                        for (int j = i + 1; j < n; j++)
                                if (!strcmp(log[i].key, log[j].key)) {
                                        keep[i] = false;
                                        break;
                                }
                }
                feed(log, NULL, n, &full);
                feed(log, keep, n, &compacted);
                for (int k = 0; k < NKEYS; k++) {
                        cr_assert(eq(str, full.v[k], expect[k]),
                                  "seed %u key k%d (full log)", seed, k);
                        /* A cut batch's keys are rewritten by the next
                         * writer; a trailing cut batch is what the next
                         * restore discards, and compaction may then have
                         * removed the older value: Kafka's
                         * min.compaction.lag.ms keeps it until the
                         * rewrite (docs/guarantee.md). */
                        if (!have_cut)
                                cr_assert(eq(str, compacted.v[k], expect[k]),
                                          "seed %u key k%d (compacted)", seed,
                                          k);
                }
        }
}
