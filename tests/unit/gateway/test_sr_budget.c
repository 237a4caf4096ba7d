/* tests/unit/gateway/test_sr_budget.c - the size budget (sr_budget.h): the wire
 * size librdkafka checks, the start-up check, and the bound on derived
 * records, on the largest records the schemas allow.
 * Here, not in tests/unit/domain/ beside sr_budget, because it measures
 * the codec's largest records: the gateway layer links both. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_budget.h"
#include "sr_codec.h"
#include "sr_fsm.h"

static sr_codec_t *codec;

static void setup(void)
{
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_codec_new(&codec, &ec), SR_OK), "%s", ec.msg);
}

static void teardown(void)
{
        sr_codec_destroy(codec);
}

TestSuite(sr_budget, .init = setup, .fini = teardown, .timeout = 60.0);

/* ------------------------------------------------------------ helpers */

/* @p dst (capacity @p cap incl. NUL) filled to its longest. */
#define FILL(dst) fill((dst), sizeof(dst))
static void fill(char *dst, size_t cap)
{
        memset(dst, 'x', cap - 1);
        dst[cap - 1] = '\0';
}

static sr_uuid_t uuid_n(int n)
{
        sr_uuid_t u;

        for (int i = 0; i < 16; i++)
                u.b[i] = (uint8_t)(n * 31 + i + 1);
        return u;
}

/* Every time field at its longest varint. */
static void max_meta(sr_meta_t *m)
{
        m->id = uuid_n(1);
        m->status = SR_ST_PROCESSING; /* the longest names: 10 bytes */
        FILL(m->reason);
        m->created_at = m->updated_at = m->started_at = m->ended_at =
                INT64_MAX;
        m->version = UINT32_MAX;
        m->deadline = INT64_MAX;
}

/* The changelog record as the worker writes it, with the longest key and
 * batch id header. */
static size_t changelog_wire(const sr_changelog_t *cl)
{
        char key[SR_ENTITY_KEY_MAX], batch[64];
        sr_outrec_t rec = { 0 };
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { 0 };
        size_t size;

        memset(key, 'k', sizeof(key));
        FILL(batch);
        cr_assert(eq(int, sr_codec_encode_changelog(codec, cl, &val, &ec),
                     SR_OK), "%s", ec.msg);
        rec.topic = SR_TOPIC_CHANGELOG;
        rec.key = sr_slice(key, sizeof(key) - 1);
        rec.value = sr_buf_slice(&val);
        rec.n_headers = 1;
        rec.headers[0].name = "sr_batch";
        rec.headers[0].value = sr_slice(batch, strlen(batch));
        size = sr_budget_wire_size(&rec);
        sr_buf_free(&val);
        return size;
}

/* A spec stage with @p n_ops operations of @p args_len bytes of args and
 * @p n_targets targets, every string at its longest. */
static void big_stage(sr_spec_stage_t *st, uint32_t n_ops, size_t args_len,
                      uint32_t n_targets)
{
        memset(st, 0, sizeof(*st));
        st->stage_id = uuid_n(7);
        FILL(st->name);
        FILL(st->description);
        st->timeout_seconds = INT64_MAX;
        st->n_ops = n_ops;
        st->ops = calloc(n_ops, sizeof(*st->ops));
        for (uint32_t i = 0; i < n_ops; i++) {
                FILL(st->ops[i].operation_type);
                st->ops[i].args_json = malloc(args_len + 1);
                memset(st->ops[i].args_json, '1', args_len);
                st->ops[i].args_json[args_len] = '\0';
        }
        st->n_targets = n_targets;
        st->targets = calloc(n_targets, sizeof(*st->targets));
        for (uint32_t i = 0; i < n_targets; i++) {
                st->targets[i].target_id = uuid_n(100 + (int)i);
                st->targets[i].device_id = uuid_n(200 + (int)i);
                FILL(st->targets[i].device_name);
                FILL(st->targets[i].device_alias);
        }
}

/* The command carrying @p st alone, keyed by its run id: its wire size
 * as the worker receives it (key + value). */
static size_t create_input_size(sr_spec_stage_t *st)
{
        sr_command_t cmd;
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { 0 };
        size_t size;

        memset(&cmd, 0, sizeof(cmd));
        cmd.kind = SR_CMD_CREATE_RUN;
        cmd.command_id = uuid_n(2);
        cmd.pipeline_run_id = uuid_n(3);
        cmd.u.create.spec.pipeline_id = uuid_n(4);
        cmd.u.create.spec.n_stages = 1;
        cmd.u.create.spec.stages = st; /* borrowed */
        cr_assert(eq(int, sr_codec_encode_command(codec, &cmd, &val, &ec),
                     SR_OK), "%s", ec.msg);
        size = SR_UUID_STR_LEN + val.len;
        sr_buf_free(&val);
        return size;
}

static void stage_free(sr_spec_stage_t *st)
{
        for (uint32_t i = 0; i < st->n_ops; i++)
                free(st->ops[i].args_json);
        free(st->ops);
        free(st->targets);
}

/* ------------------------------------------------------------ wire size */

static rd_kafka_t *producer_limited(int max)
{
        char errstr[256], v[32];
        rd_kafka_conf_t *kc = rd_kafka_conf_new();
        rd_kafka_t *rk;

        snprintf(v, sizeof(v), "%d", max);
        cr_assert(rd_kafka_conf_set(kc, "message.max.bytes", v, errstr,
                                    sizeof(errstr)) == RD_KAFKA_CONF_OK,
                  "%s", errstr);
        rd_kafka_conf_set(kc, "log_level", "0", errstr, sizeof(errstr));
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof(errstr));
        cr_assert(rk != NULL, "%s", errstr);
        return rk;
}

static rd_kafka_resp_err_t produce(rd_kafka_t *rk, const sr_outrec_t *rec)
{
        rd_kafka_headers_t *hdrs = rd_kafka_headers_new(8);

        for (uint32_t i = 0; i < rec->n_headers; i++)
                rd_kafka_header_add(hdrs, rec->headers[i].name, -1,
                                    rec->headers[i].value.ptr,
                                    (ssize_t)rec->headers[i].value.len);
        rd_kafka_resp_err_t err = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC("t"),
                RD_KAFKA_V_KEY(rec->key.ptr, rec->key.len),
                RD_KAFKA_V_VALUE((void *)rec->value.ptr, rec->value.len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);

        if (err)
                rd_kafka_headers_destroy(hdrs);
        return err;
}

Test(sr_budget, wire_size_is_what_librdkafka_checks_against_message_max_bytes)
{
        static char value[8000], hval[300];
        const int max = 6000;
        rd_kafka_t *rk = producer_limited(max);
        sr_outrec_t rec = { 0 };
        size_t fixed;

        memset(value, 'v', sizeof(value));
        memset(hval, 'h', sizeof(hval));
        rec.key = sr_slice("a-key", 5);
        rec.n_headers = 2;
        rec.headers[0].name = "short";
        rec.headers[0].value = sr_slice(hval, 3);
        rec.headers[1].name = "a-header-with-a-longer-name";
        rec.headers[1].value = sr_slice(hval, sizeof(hval)); /* 2-byte len */
        rec.value = sr_slice(value, 0);
        fixed = sr_budget_wire_size(&rec);
        rec.value.len = (size_t)max - fixed;
        cr_assert(eq(sz, sr_budget_wire_size(&rec), (size_t)max));
        cr_assert(eq(int, produce(rk, &rec), RD_KAFKA_RESP_ERR_NO_ERROR));
        rec.value.len++;
        cr_assert(eq(int, produce(rk, &rec),
                     RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE));
        rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE);
        rd_kafka_destroy(rk);
}

/* ------------------------------------------------------------ check */

Test(sr_budget, producer_limit_below_command_max_plus_overhead_is_refused)
{
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_budget_check(1000000 - SR_BUDGET_OVERHEAD,
                                          1000000, &ec), SR_OK));
        cr_assert(eq(int, sr_budget_check(1000000 - SR_BUDGET_OVERHEAD + 1,
                                          1000000, &ec), SR_ERR_CONF));
        cr_assert(not(eq(ptr, strstr(ec.msg, "command.max.bytes"), NULL)),
                  "%s", ec.msg);
        cr_assert(not(eq(ptr, strstr(ec.msg, "kafka.message.max.bytes"),
                         NULL)), "%s", ec.msg);
        cr_assert(not(eq(ptr, strstr(ec.msg, "at most 995904"), NULL)),
                  "%s", ec.msg);
}

Test(sr_budget, input_size_counts_key_and_value_and_never_overflows)
{
        cr_assert(sr_budget_input_fits(100, 36, 64));
        cr_assert(not(sr_budget_input_fits(100, 36, 65)));
        cr_assert(not(sr_budget_input_fits(100, 101, 0)));
        cr_assert(not(sr_budget_input_fits(100, 50, SIZE_MAX)));
        cr_assert(eq(sz, sr_budget_output_max(1000),
                     1000 + SR_BUDGET_OVERHEAD));
}

/* ------------------------------------------------------------ bounds */

Test(sr_budget, records_of_fixed_size_fit_the_overhead_alone)
{
        sr_changelog_t cl;
        sr_event_t ev = { 0 };
        sr_reply_t r = { 0 };
        sr_outrec_t rec = { 0 };
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { 0 };
        char key[40], id[40], subject[96], when[32], schema_url[1100];
        size_t size;

        /* target run */
        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_ENTITY;
        cl.u.entity.type = SR_ENT_TARGET_RUN;
        max_meta(&cl.u.entity.u.tr.m);
        cl.u.entity.u.tr.pipeline_run_id = uuid_n(2);
        cl.u.entity.u.tr.stage_run_id = uuid_n(3);
        cl.u.entity.u.tr.stage_run_operation_id = uuid_n(4);
        cl.u.entity.u.tr.stage_index = cl.u.entity.u.tr.op_index =
                cl.u.entity.u.tr.target_index = INT32_MAX;
        cl.u.entity.u.tr.target_id = uuid_n(5);
        cl.u.entity.u.tr.device_id = uuid_n(6);
        FILL(cl.u.entity.u.tr.device_name);
        FILL(cl.u.entity.u.tr.device_alias);
        cl.u.entity.u.tr.command_id = uuid_n(7);
        FILL(cl.u.entity.u.tr.command_status);
        size = changelog_wire(&cl);
        cr_assert(le(sz, size, (size_t)SR_BUDGET_OVERHEAD), "target run %zu",
                  size);
        /* pipeline run */
        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_ENTITY;
        cl.u.entity.type = SR_ENT_PIPELINE_RUN;
        max_meta(&cl.u.entity.u.pr.m);
        cl.u.entity.u.pr.pipeline_id = uuid_n(2);
        FILL(cl.u.entity.u.pr.pipeline_name);
        FILL(cl.u.entity.u.pr.enterprise_id);
        cl.u.entity.u.pr.run_number = INT32_MIN;
        cl.u.entity.u.pr.timeout_seconds = INT64_MAX;
        cl.u.entity.u.pr.n_stages = INT32_MAX;
        cl.u.entity.u.pr.last_seq = INT64_MAX;
        cl.u.entity.u.pr.next_deadline = INT64_MAX;
        cl.u.entity.u.pr.spec_hash = UINT64_MAX / 2 + 1;
        cl.u.entity.u.pr.created_by_command = uuid_n(3);
        size = changelog_wire(&cl);
        cr_assert(le(sz, size, (size_t)SR_BUDGET_OVERHEAD), "pipeline run "
                  "%zu", size);
        /* reply and dedupe entry: the most versions, the longest message */
        r.command_id = uuid_n(1);
        r.pipeline_run_id = uuid_n(2);
        r.reason = SR_REJECT_ILLEGAL_TRANSITION;
        FILL(r.message);
        r.n_versions = SR_REPLY_MAX_VERSIONS;
        for (int i = 0; i < SR_REPLY_MAX_VERSIONS; i++) {
                r.versions[i].entity_type = SR_ENT_STAGE_RUN_OPERATION;
                r.versions[i].entity_id = uuid_n(10 + i);
                r.versions[i].version = UINT32_MAX;
        }
        r.occurred_at = INT64_MAX;
        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_DEDUPE;
        cl.u.dedupe.has_reply = true;
        cl.u.dedupe.reply = r;
        size = changelog_wire(&cl);
        cr_assert(le(sz, size, (size_t)SR_BUDGET_OVERHEAD), "dedupe %zu",
                  size);
        cr_assert(eq(int, sr_codec_encode_reply(codec, &r, &val, &ec), SR_OK),
                  "%s", ec.msg);
        rec.key = sr_slice(key, SR_UUID_STR_LEN);
        rec.value = sr_buf_slice(&val);
        size = sr_budget_wire_size(&rec);
        sr_buf_free(&val);
        cr_assert(le(sz, size, (size_t)SR_BUDGET_OVERHEAD), "reply %zu",
                  size);
        /* an event with its CloudEvents headers */
        ev.entity_type = SR_ENT_STAGE_RUN_OPERATION;
        ev.seq = INT64_MAX;
        ev.from_status = ev.to_status = SR_ST_PROCESSING;
        FILL(ev.reason);
        FILL(ev.enterprise_id);
        ev.occurred_at = INT64_MAX;
        ev.version = UINT32_MAX;
        ev.stage_run_id = ev.stage_run_operation_id = ev.device_id =
                uuid_n(3);
        cr_assert(eq(int, sr_codec_encode_event(codec, &ev, &val, &ec),
                     SR_OK), "%s", ec.msg);
        memset(id, 'i', SR_UUID_STR_LEN);
        id[SR_UUID_STR_LEN] = '\0';
        snprintf(subject, sizeof(subject), "stage_run_operation/%s", id);
        snprintf(when, sizeof(when), "9999-12-31T23:59:59.999Z");
        memset(&rec, 0, sizeof(rec));
        rec.key = sr_slice(id, SR_UUID_STR_LEN);
        rec.value = sr_buf_slice(&val);
        /* ce_dataschema at its longest: events.dataschema.base (1,024
         * bytes at most) + "/schemas/ids/3" */
        memset(schema_url, 'u', 1024);
        snprintf(schema_url + 1024, sizeof(schema_url) - 1024,
                 "/schemas/ids/3");
        rec.n_headers = 8;
        rec.headers[7] = (sr_outrec_header_t){
                "ce_dataschema", sr_slice(schema_url, strlen(schema_url)) };
        rec.headers[0] = (sr_outrec_header_t){ "ce_specversion",
                                               sr_slice("1.0", 3) };
        rec.headers[1] = (sr_outrec_header_t){ "ce_id", sr_slice(id, 36) };
        rec.headers[2] = (sr_outrec_header_t){ "ce_source",
                                               sr_slice("/sr-status", 10) };
        rec.headers[3] = (sr_outrec_header_t){
                "ce_type", sr_slice("io.sr.v1.StatusChanged", 22) };
        rec.headers[4] = (sr_outrec_header_t){
                "ce_subject", sr_slice(subject, strlen(subject)) };
        rec.headers[5] = (sr_outrec_header_t){ "ce_time",
                                               sr_slice(when, strlen(when)) };
        rec.headers[6] = (sr_outrec_header_t){
                "content-type", sr_slice("application/avro", 16) };
        size = sr_budget_wire_size(&rec);
        sr_buf_free(&val);
        cr_assert(le(sz, size, (size_t)SR_BUDGET_OVERHEAD), "event %zu",
                  size);
}

/* The records that carry part of a create command (the stage run with its
 * frozen spec, an operation, a dispatch request) and a dead letter exceed
 * the input they carry by less than the overhead, at the spec's limits
 * (16 operations a stage) with every string at its longest. */
Test(sr_budget, records_carrying_an_input_exceed_it_by_less_than_the_overhead)
{
        sr_spec_stage_t st;
        sr_changelog_t cl;
        sr_dispatch_t d = { 0 };
        sr_outrec_t rec = { 0 };
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { 0 };
        char err[512], part[16], off[24];
        size_t in, size;

        big_stage(&st, 16, 4000, 20);
        in = create_input_size(&st);
        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_ENTITY;
        cl.u.entity.type = SR_ENT_STAGE_RUN;
        max_meta(&cl.u.entity.u.sr.m);
        cl.u.entity.u.sr.pipeline_run_id = uuid_n(3);
        cl.u.entity.u.sr.pipeline_id = uuid_n(4);
        cl.u.entity.u.sr.stage_id = uuid_n(5);
        FILL(cl.u.entity.u.sr.enterprise_id);
        cl.u.entity.u.sr.index = INT32_MAX;
        memcpy(cl.u.entity.u.sr.name, st.name, sizeof(st.name));
        memcpy(cl.u.entity.u.sr.description, st.description,
               sizeof(st.description));
        cl.u.entity.u.sr.timeout_seconds = st.timeout_seconds;
        cl.u.entity.u.sr.queued_at = INT64_MAX;
        cl.u.entity.u.sr.n_ops = st.n_ops;
        cl.u.entity.u.sr.ops = st.ops; /* borrowed */
        cl.u.entity.u.sr.n_targets = st.n_targets;
        cl.u.entity.u.sr.targets = st.targets;
        size = changelog_wire(&cl);
        cr_assert(lt(sz, size, in + SR_BUDGET_OVERHEAD), "stage run %zu, "
                  "input %zu", size, in);
        /* one operation */
        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_ENTITY;
        cl.u.entity.type = SR_ENT_STAGE_RUN_OPERATION;
        cl.u.entity.u.op.id = uuid_n(1);
        cl.u.entity.u.op.stage_index = cl.u.entity.u.op.index = INT32_MAX;
        FILL(cl.u.entity.u.op.operation_type);
        cl.u.entity.u.op.args_json = st.ops[0].args_json;
        cl.u.entity.u.op.created_at = INT64_MAX;
        cl.u.entity.u.op.version = UINT32_MAX;
        size = changelog_wire(&cl);
        cr_assert(lt(sz, size, in + SR_BUDGET_OVERHEAD));
        /* a dispatch request of that operation */
        d.kind = SR_DISPATCH_CANCEL;
        FILL(d.device_name);
        FILL(d.operation_type);
        FILL(d.enterprise_id);
        d.args_json = st.ops[0].args_json;
        d.issued_at = INT64_MAX;
        cr_assert(eq(int, sr_codec_encode_dispatch(codec, &d, &val, &ec),
                     SR_OK), "%s", ec.msg);
        rec.key = sr_slice("0123456789abcdef0123456789abcdef0123", 36);
        rec.value = sr_buf_slice(&val);
        size = sr_budget_wire_size(&rec);
        sr_buf_free(&val);
        cr_assert(lt(sz, size, in + SR_BUDGET_OVERHEAD));
        /* a dead letter of an input of @p in bytes: its headers at their
         * longest (sr_worker_input.c dead_letter()) */
        memset(err, 'e', sizeof(err) - 1);
        err[sizeof(err) - 1] = '\0';
        snprintf(part, sizeof(part), "%d", INT32_MIN);
        snprintf(off, sizeof(off), "%lld", (long long)INT64_MIN);
        memset(&rec, 0, sizeof(rec));
        rec.key = sr_slice(err, 36);
        rec.value = sr_slice(err, in - 36); /* the input, unchanged */
        rec.n_headers = 5;
        rec.headers[0] = (sr_outrec_header_t){ "sr_dlq_topic",
                                               sr_slice("results", 7) };
        rec.headers[1] = (sr_outrec_header_t){ "sr_dlq_partition",
                                               sr_slice(part, strlen(part)) };
        rec.headers[2] = (sr_outrec_header_t){ "sr_dlq_offset",
                                               sr_slice(off, strlen(off)) };
        rec.headers[3] = (sr_outrec_header_t){
                "sr_dlq_reason", sr_slice("unknown_command_status", 22) };
        rec.headers[4] = (sr_outrec_header_t){ "sr_dlq_error",
                                               sr_slice(err, strlen(err)) };
        size = sr_budget_wire_size(&rec);
        cr_assert(lt(sz, size, in + SR_BUDGET_OVERHEAD));
        stage_free(&st);
}

/* A stage run's record is checked when it is created; its status fields
 * can only make it grow by SR_BUDGET_ENTITY_GROWTH later. */
Test(sr_budget, stage_run_record_grows_by_less_than_the_entity_growth)
{
        sr_spec_stage_t st;
        sr_changelog_t cl;
        size_t born, grown;

        big_stage(&st, 2, 10, 2);
        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_ENTITY;
        cl.u.entity.type = SR_ENT_STAGE_RUN;
        cl.u.entity.u.sr.m.id = uuid_n(1);
        cl.u.entity.u.sr.m.status = SR_ST_NONE; /* the shortest: "none" */
        cl.u.entity.u.sr.n_ops = st.n_ops;
        cl.u.entity.u.sr.ops = st.ops;
        cl.u.entity.u.sr.n_targets = st.n_targets;
        cl.u.entity.u.sr.targets = st.targets;
        born = changelog_wire(&cl);
        max_meta(&cl.u.entity.u.sr.m);
        cl.u.entity.u.sr.m.id = uuid_n(1);
        cl.u.entity.u.sr.queued_at = INT64_MAX;
        grown = changelog_wire(&cl);
        cr_assert(le(sz, grown - born, (size_t)SR_BUDGET_ENTITY_GROWTH),
                  "grew by %zu", grown - born);
        stage_free(&st);
}
