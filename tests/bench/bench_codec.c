/* tests/bench/bench_codec.c - encodes per second of the worker's hottest
 * records, hand-written encoder (sr_codec_encode_*) against the avro-c one
 * (sr_codec__encode_*_avro): a status change event, and changelog records
 * of a target run, a pipeline run, a stage run (2 ops, 10 targets) and a
 * dedupe entry with a reply; and decodes per second of a result, hand-written
 * reader (sr_codec_decode_result) against avro-c
 * (sr_codec__decode_result_avro). Not a test: a program, run by hand.
 *
 * Each case runs for --ms milliseconds (default 500) per path; the rate is
 * per second of this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so a busy
 * machine costs wall time but changes the figures less. Both paths of a
 * case are checked to give the same bytes (or the same result).
 *
 * Usage: bench_codec [--ms N]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sr_codec.h"
#include "sr_codec_int.h"

typedef sr_err_t (*enc_fn)(sr_codec_t *, const void *, sr_buf_t *,
                           sr_errctx_t *);

static double cpu_now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static sr_err_t fast_event(sr_codec_t *c, const void *v, sr_buf_t *out,
                           sr_errctx_t *ec)
{
        return sr_codec_encode_event(c, v, out, ec);
}

static sr_err_t avro_event(sr_codec_t *c, const void *v, sr_buf_t *out,
                           sr_errctx_t *ec)
{
        return sr_codec__encode_event_avro(c, v, out, ec);
}

static sr_err_t fast_cl(sr_codec_t *c, const void *v, sr_buf_t *out,
                        sr_errctx_t *ec)
{
        return sr_codec_encode_changelog(c, v, out, ec);
}

static sr_err_t avro_cl(sr_codec_t *c, const void *v, sr_buf_t *out,
                        sr_errctx_t *ec)
{
        return sr_codec__encode_changelog_avro(c, v, out, ec);
}

/* Encodes per CPU second of @p fn on @p rec for about @p ms. */
static double rate(sr_codec_t *codec, enc_fn fn, const void *rec, int ms,
                   size_t *len)
{
        sr_errctx_t ec = { 0 };
        double t0 = cpu_now(), t;
        uint64_t n = 0;
        sr_buf_t buf;

        do {
                for (int i = 0; i < 1000; i++) {
                        if (fn(codec, rec, &buf, &ec) != SR_OK) {
                                fprintf(stderr, "bench_codec: %s\n", ec.msg);
                                exit(1);
                        }
                        *len = buf.len;
                        sr_buf_free(&buf);
                }
                n += 1000;
                t = cpu_now() - t0;
        } while (t * 1000.0 < ms);
        return (double)n / t;
}

static void same_bytes(sr_codec_t *codec, enc_fn a, enc_fn b,
                       const void *rec, const char *name)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t x, y;

        if (a(codec, rec, &x, &ec) || b(codec, rec, &y, &ec)) {
                fprintf(stderr, "bench_codec: %s: %s\n", name, ec.msg);
                exit(1);
        }
        if (x.len != y.len || memcmp(x.ptr, y.ptr, x.len)) {
                fprintf(stderr, "bench_codec: %s: paths differ\n", name);
                exit(1);
        }
        sr_buf_free(&x);
        sr_buf_free(&y);
}

static void run_case(sr_codec_t *codec, const char *name, enc_fn fast,
                     enc_fn slow, const void *rec, int ms)
{
        double rf, rs;
        size_t len = 0;

        same_bytes(codec, fast, slow, rec, name);
        rs = rate(codec, slow, rec, ms, &len);
        rf = rate(codec, fast, rec, ms, &len);
        printf("%-22s %6zu %14.0f %14.0f %8.1fx %9.2f %9.2f\n", name, len,
               rs, rf, rf / rs, 1e6 / rs, 1e6 / rf);
}

typedef sr_err_t (*dec_fn)(sr_codec_t *, sr_slice_t, sr_result_t *,
                           sr_errctx_t *);

/* Decodes per CPU second of @p fn on @p in for about @p ms. */
static double dec_rate(sr_codec_t *codec, dec_fn fn, sr_slice_t in, int ms)
{
        sr_errctx_t ec = { 0 };
        double t0 = cpu_now(), t;
        sr_result_t res;
        uint64_t n = 0;

        do {
                for (int i = 0; i < 1000; i++) {
                        if (fn(codec, in, &res, &ec) != SR_OK) {
                                fprintf(stderr, "bench_codec: %s\n", ec.msg);
                                exit(1);
                        }
                }
                n += 1000;
                t = cpu_now() - t0;
        } while (t * 1000.0 < ms);
        return (double)n / t;
}

static void run_decode_case(sr_codec_t *codec, const char *name,
                            sr_slice_t in, int ms)
{
        sr_result_t a, b;
        sr_errctx_t ec = { 0 };
        double rf, rs;

        memset(&a, 0, sizeof(a));
        memset(&b, 0, sizeof(b));
        if (sr_codec_decode_result(codec, in, &a, &ec) ||
            sr_codec__decode_result_avro(codec, in, &b, &ec) ||
            memcmp(&a, &b, sizeof(a))) {
                fprintf(stderr, "bench_codec: %s: paths differ (%s)\n",
                        name, ec.msg);
                exit(1);
        }
        rs = dec_rate(codec, sr_codec__decode_result_avro, in, ms);
        rf = dec_rate(codec, sr_codec_decode_result, in, ms);
        printf("%-22s %6zu %14.0f %14.0f %8.1fx %9.2f %9.2f\n", name,
               in.len, rs, rf, rf / rs, 1e6 / rs, 1e6 / rf);
}

static sr_uuid_t uuid_n(int n)
{
        sr_uuid_t u;

        for (int i = 0; i < 16; i++)
                u.b[i] = (uint8_t)(n * 31 + i + 1);
        return u;
}

static void fill_meta(sr_meta_t *m, int n, sr_status_t st)
{
        m->id = uuid_n(n);
        m->status = st;
        m->created_at = 1700000000000;
        m->updated_at = 1700000001234;
        m->started_at = 1700000000100;
        m->version = 3;
        m->deadline = 1700604800000;
}

int main(int argc, char **argv)
{
        sr_spec_target_t targets[10];
        sr_spec_op_t ops[2];
        sr_errctx_t ec = { 0 };
        sr_changelog_t cl;
        sr_codec_t *codec;
        sr_result_t res;
        sr_event_t ev;
        sr_buf_t buf;
        int ms = 500;

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--ms") && i + 1 < argc) {
                        ms = atoi(argv[++i]);
                } else {
                        fprintf(stderr, "usage: bench_codec [--ms N]\n");
                        return 2;
                }
        }
        if (ms <= 0)
                ms = 500;
        if (sr_codec_new(&codec, &ec)) {
                fprintf(stderr, "bench_codec: %s\n", ec.msg);
                return 1;
        }
        printf("%-22s %6s %14s %14s %9s %9s %9s\n", "record", "bytes",
               "avro-c enc/s", "fast enc/s", "speedup", "avro-c us",
               "fast us");

        /* A target run's event, as the worker emits on a result. */
        memset(&ev, 0, sizeof(ev));
        ev.event_id = uuid_n(1);
        ev.pipeline_run_id = uuid_n(2);
        ev.seq = 17;
        ev.entity_type = SR_ENT_TARGET_RUN;
        ev.entity_id = uuid_n(3);
        ev.pipeline_id = uuid_n(4);
        ev.stage_run_id = uuid_n(5);
        ev.stage_run_operation_id = uuid_n(6);
        ev.device_id = uuid_n(7);
        ev.from_status = SR_ST_RUNNING;
        ev.to_status = SR_ST_SUCCESS;
        ev.occurred_at = 1700000001234;
        ev.causation_id = uuid_n(8);
        strcpy(ev.enterprise_id, "enterprise-0042");
        ev.version = 4;
        run_case(codec, "event", fast_event, avro_event, &ev, ms);

        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_ENTITY;
        cl.u.entity.type = SR_ENT_TARGET_RUN;
        fill_meta(&cl.u.entity.u.tr.m, 3, SR_ST_RUNNING);
        cl.u.entity.u.tr.pipeline_run_id = uuid_n(2);
        cl.u.entity.u.tr.stage_run_id = uuid_n(5);
        cl.u.entity.u.tr.stage_run_operation_id = uuid_n(6);
        cl.u.entity.u.tr.target_index = 7;
        cl.u.entity.u.tr.target_id = uuid_n(9);
        cl.u.entity.u.tr.device_id = uuid_n(7);
        strcpy(cl.u.entity.u.tr.device_name, "device-000123");
        cl.u.entity.u.tr.command_id = uuid_n(10);
        strcpy(cl.u.entity.u.tr.command_status, "INPROGRESS");
        run_case(codec, "changelog target_run", fast_cl, avro_cl, &cl, ms);

        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_ENTITY;
        cl.u.entity.type = SR_ENT_PIPELINE_RUN;
        fill_meta(&cl.u.entity.u.pr.m, 2, SR_ST_RUNNING);
        cl.u.entity.u.pr.pipeline_id = uuid_n(4);
        strcpy(cl.u.entity.u.pr.pipeline_name, "deploy-firmware");
        strcpy(cl.u.entity.u.pr.enterprise_id, "enterprise-0042");
        cl.u.entity.u.pr.run_number = 12;
        cl.u.entity.u.pr.n_stages = 1;
        cl.u.entity.u.pr.last_seq = 17;
        cl.u.entity.u.pr.spec_hash = 0x9e3779b97f4a7c15ull;
        cl.u.entity.u.pr.created_by_command = uuid_n(11);
        run_case(codec, "changelog pipeline_run", fast_cl, avro_cl, &cl, ms);

        memset(&cl, 0, sizeof(cl));
        memset(ops, 0, sizeof(ops));
        memset(targets, 0, sizeof(targets));
        cl.kind = SR_CL_ENTITY;
        cl.u.entity.type = SR_ENT_STAGE_RUN;
        fill_meta(&cl.u.entity.u.sr.m, 5, SR_ST_RUNNING);
        cl.u.entity.u.sr.pipeline_run_id = uuid_n(2);
        cl.u.entity.u.sr.pipeline_id = uuid_n(4);
        cl.u.entity.u.sr.stage_id = uuid_n(12);
        strcpy(cl.u.entity.u.sr.enterprise_id, "enterprise-0042");
        strcpy(cl.u.entity.u.sr.name, "stage one");
        strcpy(ops[0].operation_type, "reboot");
        strcpy(ops[1].operation_type, "install");
        ops[1].args_json = (char *)"{\"version\":\"1.2.3\"}";
        for (int i = 0; i < 10; i++) {
                targets[i].device_id = uuid_n(100 + i);
                snprintf(targets[i].device_name,
                         sizeof(targets[i].device_name), "device-%06d", i);
        }
        cl.u.entity.u.sr.n_ops = 2;
        cl.u.entity.u.sr.ops = ops;
        cl.u.entity.u.sr.n_targets = 10;
        cl.u.entity.u.sr.targets = targets;
        run_case(codec, "changelog stage_run", fast_cl, avro_cl, &cl, ms);

        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_DEDUPE;
        cl.u.dedupe.input_id = uuid_n(20);
        cl.u.dedupe.pipeline_run_id = uuid_n(2);
        cl.u.dedupe.has_reply = true;
        cl.u.dedupe.reply.command_id = uuid_n(20);
        cl.u.dedupe.reply.pipeline_run_id = uuid_n(2);
        cl.u.dedupe.reply.accepted = true;
        cl.u.dedupe.reply.n_versions = 2;
        cl.u.dedupe.reply.versions[0].entity_id = uuid_n(2);
        cl.u.dedupe.reply.versions[0].version = 4;
        cl.u.dedupe.reply.versions[1].entity_type = SR_ENT_TARGET_RUN;
        cl.u.dedupe.reply.versions[1].entity_id = uuid_n(3);
        cl.u.dedupe.reply.versions[1].version = 5;
        cl.u.dedupe.reply.occurred_at = 1700000001234;
        run_case(codec, "changelog dedupe", fast_cl, avro_cl, &cl, ms);

        printf("%-22s %6s %14s %14s %9s %9s %9s\n", "record", "bytes",
               "avro-c dec/s", "fast dec/s", "speedup", "avro-c us",
               "fast us");
        memset(&res, 0, sizeof(res));
        res.result_id = uuid_n(30);
        res.pipeline_run_id = uuid_n(2);
        res.stage_run_id = uuid_n(5);
        res.target_run_id = uuid_n(3);
        res.command_id = uuid_n(10);
        strcpy(res.command_status, "SUCCESS");
        res.device_id = uuid_n(7);
        strcpy(res.device_name, "device-000123");
        res.reported_at = 1700000001234;
        if (sr_codec_encode_result(codec, &res, &buf, &ec)) {
                fprintf(stderr, "bench_codec: %s\n", ec.msg);
                return 1;
        }
        run_decode_case(codec, "result (decode)", sr_buf_slice(&buf), ms);
        sr_buf_free(&buf);

        sr_codec_destroy(codec);
        return 0;
}
