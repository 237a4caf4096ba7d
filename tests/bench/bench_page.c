/* tests/bench/bench_page.c - the cost of a list page at the start and at
 * the end of a fleet-scale stage: a projection holding one stage run of
 * 100,000 target runs (3 of 4 success, 1 of 4 failure), pages of 20 of
 * the whole list and of the status=success list, first and last page by
 * offset and by cursor. Prints the median of 21 timings of each and the
 * projection's key steps per page. Usage: bench_page [DIR_PARENT]
 * (default /tmp). A program, not a test: figures vary with the machine.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sr_codec.h"
#include "sr_run.h"
#include "sr_proj.h"
#include "kit_bench.h"
#include "kit_dir.h"

#define N_TARGETS 100000u
#define TXN_RECORDS 5000u
#define PAGE 20u
#define RUNS 21

static double now_us(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void die(const char *what, const sr_errctx_t *ec)
{
        fprintf(stderr, "bench_page: %s: %s\n", what, ec->msg);
        exit(1);
}

static void apply(sr_proj_txn_t *txn, sr_codec_t *codec, const sr_entity_t *e,
                  int64_t off)
{
        char key[SR_ENTITY_KEY_MAX];
        size_t klen = sr_entity_key(e, key);
        sr_errctx_t ec = { 0 };
        sr_changelog_t cl;
        sr_buf_t buf = { 0 };

        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_ENTITY;
        cl.u.entity = *e;
        if (sr_codec_encode_changelog(codec, &cl, &buf, &ec) ||
            sr_proj_apply(txn, 0, off, sr_slice(key, klen),
                          sr_buf_slice(&buf), &ec))
                die("apply", &ec);
        sr_buf_free(&buf);
}

/* One run, one stage, one operation, N_TARGETS target runs. */
static void load(sr_proj_t *proj, sr_uuid_t *stage_id)
{
        sr_entity_t run = { .type = SR_ENT_PIPELINE_RUN };
        sr_entity_t stage = { .type = SR_ENT_STAGE_RUN };
        sr_entity_t op = { .type = SR_ENT_STAGE_RUN_OPERATION };
        sr_entity_t tr = { .type = SR_ENT_TARGET_RUN };
        sr_proj_txn_t *txn = NULL;
        sr_errctx_t ec = { 0 };
        sr_codec_t *codec;
        int64_t off = 0;

        if (sr_codec_new(&codec, &ec))
                die("codec", &ec);
        sr_uuid_v5(&run.u.pr.m.id, &sr_ns, "bench-page/run");
        run.u.pr.m.status = SR_ST_RUNNING;
        run.u.pr.m.created_at = 1000;
        run.u.pr.m.version = 1;
        sr_uuid_v5(&run.u.pr.pipeline_id, &sr_ns, "bench-page/pipeline");
        snprintf(run.u.pr.pipeline_name, sizeof(run.u.pr.pipeline_name),
                 "fleet");
        snprintf(run.u.pr.enterprise_id, sizeof(run.u.pr.enterprise_id),
                 "acme");
        run.u.pr.run_number = 1;
        run.u.pr.n_stages = 1;
        sr_uuid_v5(&stage.u.sr.m.id, &run.u.pr.m.id, "stage");
        stage.u.sr.m.status = SR_ST_PROCESSING;
        stage.u.sr.m.version = 1;
        stage.u.sr.pipeline_run_id = run.u.pr.m.id;
        stage.u.sr.pipeline_id = run.u.pr.pipeline_id;
        snprintf(stage.u.sr.enterprise_id, sizeof(stage.u.sr.enterprise_id),
                 "acme");
        sr_uuid_v5(&op.u.op.id, &stage.u.sr.m.id, "op");
        op.u.op.pipeline_run_id = run.u.pr.m.id;
        op.u.op.stage_run_id = stage.u.sr.m.id;
        snprintf(op.u.op.operation_type, sizeof(op.u.op.operation_type),
                 "INSTALL");
        op.u.op.version = 1;
        *stage_id = stage.u.sr.m.id;

        for (uint32_t t = 0; t <= N_TARGETS; t++) {
                if (t % TXN_RECORDS == 0) {
                        if (txn && sr_proj_commit(txn, &ec))
                                die("commit", &ec);
                        if (t == N_TARGETS)
                                break;
                        if (sr_proj_begin(proj, &txn, &ec))
                                die("begin", &ec);
                        if (t == 0) {
                                apply(txn, codec, &run, off++);
                                apply(txn, codec, &stage, off++);
                                apply(txn, codec, &op, off++);
                        }
                }
                memset(&tr.u.tr, 0, sizeof(tr.u.tr));
                sr_uuid_v5(&tr.u.tr.m.id, &op.u.op.id, "target/%u", t);
                tr.u.tr.m.status = t % 4 ? SR_ST_SUCCESS : SR_ST_FAILURE;
                tr.u.tr.m.created_at = 2000 + t;
                tr.u.tr.m.version = 1;
                tr.u.tr.pipeline_run_id = run.u.pr.m.id;
                tr.u.tr.stage_run_id = stage.u.sr.m.id;
                tr.u.tr.stage_run_operation_id = op.u.op.id;
                tr.u.tr.target_index = t;
                sr_uuid_v5(&tr.u.tr.device_id, &sr_ns, "device/%u", t);
                snprintf(tr.u.tr.device_name, sizeof(tr.u.tr.device_name),
                         "dev-%u", t);
                apply(txn, codec, &tr, off++);
        }
        sr_codec_destroy(codec);
}

/* Median microseconds of one page, and its key steps. */
static double page_us(sr_proj_t *proj, const sr_uuid_t *sid,
                      const sr_proj_query_t *q, uint64_t *steps)
{
        double t[RUNS], t0;
        sr_proj_stats_t a, b;
        sr_target_run_t *items;
        sr_errctx_t ec = { 0 };
        uint64_t count;
        size_t n;

        for (int i = 0; i < RUNS; i++) {
                sr_proj_stats(proj, &a);
                t0 = now_us();
                if (sr_proj_list_target_runs(proj, "acme", sid, q, &items, &n,
                                             &count, &ec))
                        die("list", &ec);
                t[i] = now_us() - t0;
                sr_proj_stats(proj, &b);
                free(items);
                if (n != PAGE) {
                        fprintf(stderr, "bench_page: page of %zu\n", n);
                        exit(1);
                }
                *steps = b.key_steps - a.key_steps;
        }
        qsort(t, RUNS, sizeof(t[0]), kit_cmp_double);
        return t[RUNS / 2];
}

static void bench(sr_proj_t *proj, const sr_uuid_t *sid, const char *name,
                  sr_proj_query_t q, uint64_t total)
{
        char last[SR_PROJ_CURSOR_MAX];
        sr_target_run_t *items;
        sr_errctx_t ec = { 0 };
        sr_proj_page_t page;
        uint64_t count, s_first, s_last, c_first, c_last;
        double o_first, o_last, k_first, k_last;
        size_t n;

        /* The cursor before the last page: one long page's next cursor. */
        q.limit = (uint32_t)(total - PAGE);
        q.page = &page;
        if (sr_proj_list_target_runs(proj, "acme", sid, &q, &items, &n,
                                     &count, &ec))
                die("list", &ec);
        free(items);
        snprintf(last, sizeof(last), "%s", page.next);
        if (count != total || !last[0]) {
                fprintf(stderr, "bench_page: %s: count %llu\n", name,
                        (unsigned long long)count);
                exit(1);
        }
        q.page = NULL;
        q.limit = PAGE;
        q.offset = 0;
        o_first = page_us(proj, sid, &q, &s_first);
        q.offset = total - PAGE;
        o_last = page_us(proj, sid, &q, &s_last);
        q.offset = 0;
        k_first = page_us(proj, sid, &q, &c_first);
        q.cursor = last;
        k_last = page_us(proj, sid, &q, &c_last);
        printf("%-22s %7llu  offset: first %8.1f us (%6llu steps), last "
               "%8.1f us (%6llu steps)   cursor: first %6.1f us (%2llu "
               "steps), last %6.1f us (%2llu steps)\n",
               name, (unsigned long long)total, o_first,
               (unsigned long long)s_first, o_last,
               (unsigned long long)s_last, k_first,
               (unsigned long long)c_first, k_last,
               (unsigned long long)c_last);
}

int main(int argc, char **argv)
{
        char dir[512];
        sr_errctx_t ec = { 0 };
        sr_proj_query_t q;
        sr_proj_t *proj;
        sr_uuid_t sid;
        double t0;

        snprintf(dir, sizeof(dir), "%s/bench_page.XXXXXX",
                 argc > 1 ? argv[1] : "/tmp");
        if (!mkdtemp(dir)) {
                perror("mkdtemp");
                return 1;
        }
        if (sr_proj_open(dir, 1u << 30, &proj, &ec))
                die("open", &ec);
        t0 = now_us();
        load(proj, &sid);
        printf("loaded %u target runs in %.1f s; pages of %u, median of "
               "%d\n", N_TARGETS, (now_us() - t0) / 1e6, PAGE, RUNS);
        memset(&q, 0, sizeof(q));
        bench(proj, &sid, "target runs", q, N_TARGETS);
        q.has_status = true;
        q.status = SR_ST_SUCCESS;
        bench(proj, &sid, "target runs, success", q, N_TARGETS / 4 * 3);
        sr_proj_close(proj);
        kit_rm_rf(dir);
        return 0;
}
