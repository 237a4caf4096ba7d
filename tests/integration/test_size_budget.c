/* tests/integration/test_size_budget.c - one record or one request never
 * takes the fleet down (issue 16): inputs over command.max.bytes are
 * refused (reply + dead letter too_large) and the workers go on; an input
 * whose records would be over the budget is refused and changes nothing;
 * the gateway answers 413 to a run spec whose command is over the budget
 * and stays ready; its readiness follows the broker, not its writes.
 *
 * Suite size_budget: one worker pumped by the test. Suite fleet_budget:
 * two workers in threads and the gateway in this process, on the kit's
 * mock cluster. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "sr_gateway.h"
#include "sr_kafka_mock.h"
#include "testkit.h"

static kit_t kit;

/* ------------------------------------------------------------ helpers */

/* A producer of the test's own that may send records up to 4 MB (the
 * issue's reproduction: any producer with message.max.bytes raised),
 * partitioning keys like the project's producers. */
static rd_kafka_t *big_producer(void)
{
        char errstr[256];
        rd_kafka_conf_t *kc = rd_kafka_conf_new();
        rd_kafka_t *rk;

        rd_kafka_conf_set(kc, "bootstrap.servers", kit.bootstrap, errstr,
                          sizeof(errstr));
        rd_kafka_conf_set(kc, "message.max.bytes", "4000000", errstr,
                          sizeof(errstr));
        rd_kafka_conf_set(kc, "partitioner", "murmur2_random", errstr,
                          sizeof(errstr));
        rd_kafka_conf_set(kc, "log_level", "3", errstr, sizeof(errstr));
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof(errstr));
        cr_assert(rk != NULL, "%s", errstr);
        return rk;
}

static void big_send(rd_kafka_t *rk, sr_topic_kind_t topic,
                     const sr_uuid_t *key_id, sr_slice_t value)
{
        char name[256], key[SR_UUID_STR_LEN + 1];

        sr_kafka_topic_name(kit.conf, topic, name, sizeof(name));
        sr_uuid_fmt(key_id, key);
        cr_assert(eq(int, rd_kafka_producev(
                                 rk, RD_KAFKA_V_TOPIC(name),
                                 RD_KAFKA_V_KEY(key, SR_UUID_STR_LEN),
                                 RD_KAFKA_V_VALUE((void *)value.ptr,
                                                  value.len),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_END),
                     RD_KAFKA_RESP_ERR_NO_ERROR));
        cr_assert(eq(int, rd_kafka_flush(rk, 10000),
                     RD_KAFKA_RESP_ERR_NO_ERROR));
}

/* The partition the project's producers put @p run on. */
static int32_t partition_of(const sr_uuid_t *run)
{
        char key[SR_UUID_STR_LEN + 1];

        sr_uuid_fmt(run, key);
        return rd_kafka_msg_partitioner_murmur2_random(
                NULL, key, SR_UUID_STR_LEN, kit.parts, NULL, NULL);
}

/* A run id whose partition is (@p same) or is not @p part. */
static sr_uuid_t run_on(int32_t part, bool same)
{
        sr_uuid_t id;

        do
                sr_uuid_v4(&id);
        while ((partition_of(&id) == part) != same);
        return id;
}

/* A create command of @p n_ops operations with @p args_len bytes of args
 * each (a JSON object; 0: empty args and operation type, the smallest
 * operation the schema allows) and one target. Caller: sr_buf_free(). */
static sr_buf_t create_bytes(const sr_uuid_t *run, sr_uuid_t *cmd_id,
                             uint32_t n_ops, size_t args_len)
{
        sr_command_t cmd;
        sr_runspec_t spec;
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { 0 };

        kit_spec(&spec, 1, n_ops, 1, true);
        for (uint32_t j = 0; j < n_ops; j++) {
                char *a = malloc(args_len + 1);

                memset(a, ' ', args_len);
                if (args_len) {
                        a[0] = '{';
                        a[args_len - 1] = '}';
                } else {
                        spec.stages[0].ops[j].operation_type[0] = '\0';
                }
                a[args_len] = '\0';
                free(spec.stages[0].ops[j].args_json);
                spec.stages[0].ops[j].args_json = a;
        }
        memset(&cmd, 0, sizeof(cmd));
        cmd.kind = SR_CMD_CREATE_RUN;
        sr_uuid_v4(&cmd.command_id);
        *cmd_id = cmd.command_id;
        cmd.pipeline_run_id = *run;
        snprintf(cmd.enterprise_id, sizeof(cmd.enterprise_id), "acme");
        cmd.issued_at = kit_now_ms();
        cmd.u.create.spec = spec;
        cmd.u.create.run_number = 1;
        cr_assert(eq(int, sr_codec_encode_command(kit.codec, &cmd, &val, &ec),
                     SR_OK), "%s", ec.msg);
        sr_runspec_fini(&spec);
        return val;
}

static const sr_reply_t *reply_of(const sr_uuid_t *cmd)
{
        for (int i = 0; i < kit.n_replies; i++)
                if (sr_uuid_eq(&kit.replies[i].command_id, cmd))
                        return &kit.replies[i];
        return NULL;
}

static bool has_reply(kit_t *k, void *arg)
{
        (void)k;
        return reply_of(arg) != NULL;
}

static kit_dlq_t *dlq_with(const char *reason)
{
        for (int i = 0; i < kit.n_dlq; i++)
                if (!strcmp(kit.dlq[i].reason, reason))
                        return &kit.dlq[i];
        return NULL;
}

static bool has_dlq(kit_t *k, void *arg)
{
        (void)k;
        return dlq_with(arg) != NULL;
}

/* Create a run of one stage, one operation, one target and answer its
 * device command: true once the run succeeded. */
static bool run_succeeds(const sr_uuid_t *run, int timeout_ms)
{
        kit_status_arg_t a = { *run, SR_ST_SUCCESS };
        int64_t end = kit_now_ms() + timeout_ms;
        sr_runspec_t spec;

        kit_spec(&spec, 1, 1, 1, true);
        kit_create(&kit, run, &spec, NULL);
        sr_runspec_fini(&spec);
        while (kit_now_ms() < end) {
                for (int i = 0; i < kit.n_dispatches; i++)
                        if (sr_uuid_eq(&kit.dispatches[i].pipeline_run_id,
                                       run)) {
                                kit_result_for(&kit, &kit.dispatches[i],
                                               "SUCCESS", NULL);
                                return kit_pump_until(&kit, kit_status_is,
                                                      &a,
                                                      (int)(end -
                                                            kit_now_ms()));
                        }
                kit_pump_until(&kit, NULL, NULL, 50);
        }
        return false;
}

/* ------------------------------------------------------------ one worker */

static void setup_one(void)
{
        kit_open(&kit, 4);
}

static void teardown_one(void)
{
        kit_close(&kit);
}

TestSuite(size_budget, .init = setup_one, .fini = teardown_one,
          .timeout = 120.0);

/* The record: a valid 1 MB create (16 operations of 64 KB args)
 * that a producer with message.max.bytes raised got onto sr.commands. */
Test(size_budget, oversized_command_is_refused_and_the_worker_goes_on)
{
        rd_kafka_t *rk = big_producer();
        const sr_reply_t *r;
        kit_dlq_t *d;
        sr_uuid_t run, cmd, next;
        sr_buf_t val;

        kit_start_worker(&kit);
        sr_uuid_v4(&run);
        val = create_bytes(&run, &cmd, 16, 65536);
        cr_assert(gt(sz, val.len, (size_t)kit.conf->command_max_bytes));
        big_send(rk, SR_TOPIC_COMMANDS, &run, sr_buf_slice(&val));
        sr_buf_free(&val);
        cr_assert(kit_pump_until(&kit, has_reply, &cmd, 30000),
                  "no reply to the oversized command");
        r = reply_of(&cmd);
        cr_assert(not(r->accepted));
        cr_assert(eq(str, (char *)sr_reject_name(r->reason), "too_large"));
        cr_assert(not(eq(ptr, strstr(r->message, "command.max.bytes "
                                     "(983040)"), NULL)), "%s", r->message);
        cr_assert(kit_pump_until(&kit, has_dlq, "too_large", 30000));
        d = dlq_with("too_large");
        cr_assert(eq(str, d->topic, "commands"));
        cr_assert(le(sz, d->len, (size_t)1024), "dead letter value cut");
        cr_assert(gt(i64, atoll(d->value_bytes), 1000000),
                  "original size in sr_dlq_value_bytes: %s", d->value_bytes);
        /* nothing of it exists; the same partition and the others go on */
        cr_assert(eq(int, kit_status(&kit, &run), SR_ST_NONE));
        next = run_on(partition_of(&run), true);
        cr_assert(run_succeeds(&next, 30000), "same partition: %s",
                  sr_status_name(kit_status(&kit, &next)));
        next = run_on(partition_of(&run), false);
        cr_assert(run_succeeds(&next, 30000), "other partition");
        rd_kafka_destroy(rk);
}

/* Within command.max.bytes, but its stage run's record (one byte more per
 * operation than the command, 30000 operations) would be over the
 * budget: refused, with nothing of it kept, while the commands before and
 * after it in the same batch are applied. */
Test(size_budget, input_whose_records_exceed_the_budget_is_refused_alone)
{
        kit_status_arg_t a;
        sr_uuid_t before, big, after, c_before, c_big, c_after, c_probe = {
                { 0 } };
        sr_buf_t val;
        const sr_reply_t *r;

        kit_set(&kit, "command.max.bytes", "65536");
        /* stage.max.operations (at most 1,024) refuses such a create
         * before the budget check sees it; the check is the second line
         * of defence, so lift the limit past what the key allows to
         * reach it. */
        kit.conf->stage_max_operations = 100000;
        sr_uuid_v4(&before);
        sr_uuid_v4(&after);
        big = run_on(partition_of(&before), true);
        val = create_bytes(&before, &c_before, 1, 2);
        kit_send(&kit, SR_TOPIC_COMMANDS, &before, sr_buf_slice(&val));
        sr_buf_free(&val);
        val = create_bytes(&big, &c_big, 30000, 0);
        cr_assert(lt(sz, val.len + 36, (size_t)65536));
        kit_send(&kit, SR_TOPIC_COMMANDS, &big, sr_buf_slice(&val));
        sr_buf_free(&val);
        val = create_bytes(&after, &c_after, 1, 2);
        kit_send(&kit, SR_TOPIC_COMMANDS, &after, sr_buf_slice(&val));
        sr_buf_free(&val);
        kit_start_worker(&kit); /* all three in its first batches */
        cr_assert(kit_pump_until(&kit, has_reply, &c_after, 30000));
        cr_assert(kit_pump_until(&kit, has_reply, &c_big, 30000));
        r = reply_of(&c_big);
        cr_assert(not(r->accepted));
        cr_assert(eq(str, (char *)sr_reject_name(r->reason), "too_large"));
        cr_assert(not(eq(ptr, strstr(r->message, "stage_run changelog"),
                         NULL)), "%s", r->message);
        cr_assert(reply_of(&c_before)->accepted);
        cr_assert(reply_of(&c_after)->accepted);
        cr_assert(kit_pump_until(&kit, has_dlq, "too_large", 30000));
        a.id = before;
        a.st = SR_ST_RUNNING;
        cr_assert(kit_pump_until(&kit, kit_status_is, &a, 10000));
        a.id = after;
        cr_assert(kit_pump_until(&kit, kit_status_is, &a, 10000));
        cr_assert(eq(int, kit_status(&kit, &big), SR_ST_NONE));
        /* the refused run was rolled back: it does not exist */
        kit_set_status(&kit, SR_CMD_SET_PIPELINE_RUN_STATUS, &big, NULL,
                       "cancelled", &c_probe);
        cr_assert(kit_pump_until(&kit, has_reply, &c_probe, 30000));
        cr_assert(eq(str, (char *)sr_reject_name(reply_of(&c_probe)->reason),
                     "not_found"));
}

/* A result over command.max.bytes on sr.results is dead-lettered where it
 * arrived, not copied into sr.commands. */
Test(size_budget, oversized_result_is_dead_lettered_not_forwarded)
{
        static uint8_t value[100000];
        kit_dlq_t *d;
        sr_uuid_t run;

        kit_set(&kit, "command.max.bytes", "65536");
        kit_start_worker(&kit);
        memset(value, 'r', sizeof(value));
        memcpy(value, "\0\0\0\0\2", 5); /* framed as a result */
        sr_uuid_v4(&run);
        kit_send(&kit, SR_TOPIC_RESULTS, &run, sr_slice(value, sizeof(value)));
        cr_assert(kit_pump_until(&kit, has_dlq, "too_large", 30000));
        d = dlq_with("too_large");
        cr_assert(eq(str, d->topic, "results"));
        cr_assert(eq(str, d->value_bytes, "100000"));
        kit_pump_until(&kit, NULL, NULL, 1000);
        cr_assert(eq(int, kit.n_dlq, 1), "forwarded and dead-lettered again "
                  "(%d dead letters)", kit.n_dlq);
}

/* Watches the kit's worker's readiness from another thread (it is
 * thread-safe): did it ever say a record is refused? */
static atomic_bool watching, saw_refused;

static bool worker_ready(kit_t *k, void *arg)
{
        char why[256];

        (void)arg;
        return sr_worker_is_ready(k->w, why, sizeof(why));
}

static void *watch_ready(void *arg)
{
        char why[256];

        (void)arg;
        while (atomic_load(&watching)) {
                if (!sr_worker_is_ready(kit.w, why, sizeof(why)) &&
                    strstr(why, "record is refused"))
                        atomic_store(&saw_refused, true);
                usleep(2000);
        }
        return NULL;
}

/* The broker refuses the worker's records a few times (INVALID_RECORD):
 * the worker does not exit, says so in its readiness, sends them again
 * after a growing wait rather than in a loop, and publishes everything
 * once the broker takes them. */
Test(size_budget, refused_records_are_sent_again_after_a_wait)
{
        pthread_t watcher;
        char why[256];
        rd_kafka_resp_err_t errs[4] = {
                RD_KAFKA_RESP_ERR_INVALID_RECORD,
                RD_KAFKA_RESP_ERR_INVALID_RECORD,
                RD_KAFKA_RESP_ERR_INVALID_RECORD,
                RD_KAFKA_RESP_ERR_INVALID_RECORD,
        };
        sr_uuid_t run, cmd;
        sr_runspec_t spec;
        kit_start_worker(&kit);
        /* assigned (its claims acknowledged: they would meet the injected
         * refusals otherwise), idle */
        cr_assert(kit_pump_until(&kit, worker_ready, NULL, 30000));
        kit_pump_until(&kit, NULL, NULL, 200);
        atomic_store(&watching, true);
        cr_assert(pthread_create(&watcher, NULL, watch_ready, NULL) == 0);
        sr_uuid_v4(&run);
        kit_spec(&spec, 1, 1, 1, false);
        kit_create(&kit, &run, &spec, &cmd);
        sr_runspec_fini(&spec);
        rd_kafka_mock_push_request_errors_array(sr_mock_cluster(kit.mock),
                                                0 /* Produce */, 4, errs);
        cr_assert(kit_pump_until(&kit, has_reply, &cmd, 60000));
        cr_assert(reply_of(&cmd)->accepted);
        kit_pump_until(&kit, NULL, NULL, 500);
        atomic_store(&watching, false);
        pthread_join(watcher, NULL);
        cr_assert(atomic_load(&saw_refused), "readiness never named the "
                  "refused record");
        cr_assert(sr_worker_is_ready(kit.w, why, sizeof(why)), "%s", why);
}

/* ------------------------------------------------------------ fleet */

#define FLEET 2

typedef struct fleet_worker {
        sr_conf_t *conf;
        char dir[64];
        pthread_t thread;
        volatile sig_atomic_t stop;
        atomic_bool started, failed;
        sr_worker_t *w;
        char err[512];
} fleet_worker_t;

static fleet_worker_t fleet[FLEET];
static sr_conf_t *gw_conf;
static char gw_dir[64];
static sr_metrics_t *gw_metrics; /* sr_gateway_new() needs one */
static sr_gateway_t *gw;

static sr_conf_t *conf_like_kit(char *dir, size_t dirsz)
{
        static const char *const keys[] = {
                "partitions", "kafka.session.timeout.ms", "kafka.log_level",
                "poll.timeout.ms", "kafka.fetch.wait.max.ms",
                "kafka.bootstrap.servers",
        };
        sr_conf_t *conf = sr_conf_new();
        sr_errctx_t ec = { 0 };
        char v[512];

        snprintf(dir, dirsz, "/tmp/sr-it-size.XXXXXX");
        cr_assert(mkdtemp(dir) != NULL);
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
                size_t n = sizeof(v);

                if (!strncmp(keys[i], "kafka.", 6))
                        cr_assert(rd_kafka_conf_get(kit.conf->kafka,
                                                    keys[i] + 6, v, &n) ==
                                  RD_KAFKA_CONF_OK);
                else if (!strcmp(keys[i], "partitions"))
                        snprintf(v, sizeof(v), "%d", kit.conf->partitions);
                else
                        snprintf(v, sizeof(v), "%d",
                                 kit.conf->poll_timeout_ms);
                cr_assert(sr_conf_set(conf, keys[i], v, &ec) == SR_OK, "%s",
                          ec.msg);
        }
        cr_assert(sr_conf_set(conf, "data.dir", dir, &ec) == SR_OK);
        cr_assert(sr_conf_set(conf, "http.enable", "false", &ec) == SR_OK);
        return conf;
}

static void *fleet_main(void *arg)
{
        fleet_worker_t *f = arg;
        sr_errctx_t ec = { 0 };

        if (sr_worker_new(f->conf, NULL, &f->w, &ec) != SR_OK) {
                snprintf(f->err, sizeof(f->err), "%s", ec.msg);
                atomic_store(&f->failed, true);
                return NULL;
        }
        sr_worker_set_stop_flag(f->w, &f->stop);
        atomic_store(&f->started, true);
        while (!f->stop)
                if (sr_worker_poll(f->w, &ec) != SR_OK) {
                        snprintf(f->err, sizeof(f->err), "%s", ec.msg);
                        atomic_store(&f->failed, true);
                        break;
                }
        return NULL;
}

/* Every worker alive (no poll failed) and ready. */
static bool fleet_ready(char *why, size_t why_size)
{
        for (int i = 0; i < FLEET; i++) {
                cr_assert(not(atomic_load(&fleet[i].failed)),
                          "worker %d stopped: %s", i, fleet[i].err);
                if (!atomic_load(&fleet[i].started) ||
                    !sr_worker_is_ready(fleet[i].w, why, why_size))
                        return false;
        }
        return true;
}

static bool fleet_ready_pred(kit_t *k, void *arg)
{
        char why[256];

        (void)k;
        (void)arg;
        return fleet_ready(why, sizeof(why));
}

static void wait_gateway_ready(int timeout_ms)
{
        int64_t end = kit_now_ms() + timeout_ms;
        char why[256] = "";

        while (kit_now_ms() < end) {
                if (sr_gateway_is_ready(gw, why, sizeof(why)))
                        return;
                kit_pump_until(&kit, NULL, NULL, 50);
        }
        cr_assert(false, "gateway not ready: %s", why);
}

static void setup_fleet(void)
{
        sr_errctx_t ec = { 0 };

        kit_open(&kit, 4);
        for (int i = 0; i < FLEET; i++) {
                fleet[i].conf = conf_like_kit(fleet[i].dir,
                                              sizeof(fleet[i].dir));
                cr_assert(pthread_create(&fleet[i].thread, NULL, fleet_main,
                                         &fleet[i]) == 0);
        }
        gw_conf = conf_like_kit(gw_dir, sizeof(gw_dir));
        gw_metrics = sr_metrics_new();
        cr_assert(sr_gateway_new(gw_conf, gw_metrics, "tok-a:acme,tok-b:other",
                                 &gw, &ec) == SR_OK, "%s", ec.msg);
        cr_assert(kit_pump_until(&kit, fleet_ready_pred, NULL, 60000),
                  "workers not ready");
        wait_gateway_ready(60000);
}

static void teardown_fleet(void)
{
        char cmd[128];

        sr_gateway_destroy(gw);
        gw = NULL;
        sr_metrics_destroy(gw_metrics);
        for (int i = 0; i < FLEET; i++) {
                fleet[i].stop = 1;
                pthread_join(fleet[i].thread, NULL);
                sr_worker_destroy(fleet[i].w);
                sr_conf_destroy(fleet[i].conf);
                snprintf(cmd, sizeof(cmd), "rm -rf %s", fleet[i].dir);
                if (system(cmd) != 0)
                        fprintf(stderr, "could not remove %s\n",
                                fleet[i].dir);
        }
        sr_conf_destroy(gw_conf);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", gw_dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", gw_dir);
        kit_close(&kit);
}

/* The same .timeout as the other suite: Criterion 2.4.1's runner leaks a
 * test's stats when suites of one binary with different timeouts run in
 * parallel (--jobs 2), which fails the ASan step (found there). */
TestSuite(fleet_budget, .init = setup_fleet, .fini = teardown_fleet,
          .timeout = 120.0);

/* One request to the gateway; returns the status, frees the body. */
static int gw_call(const char *method, const char *target, const char *token,
                   const char *body, char *msg, size_t msg_size)
{
        char auth[64];
        sr_gw_request_t req = { 0 };
        sr_gw_response_t resp;
        int status;

        snprintf(auth, sizeof(auth), "Bearer %s", token);
        req.method = method;
        req.target = target;
        req.authorization = auth;
        req.content_type = "application/json";
        req.host = "localhost";
        req.body = body;
        req.body_len = body ? strlen(body) : 0;
        sr_gateway_handle(gw, &req, &resp);
        status = resp.status;
        if (msg)
                snprintf(msg, msg_size, "%.*s",
                         (int)(resp.body.len < 4000 ? resp.body.len : 4000),
                         resp.body.ptr ? (char *)resp.body.ptr : "");
        sr_buf_free(&resp.body);
        return status;
}

/* A run spec of @p n_stages x @p n_ops operations whose args hold @p n
 * numbers 0.1 each (4 bytes of JSON a number), one target. */
static char *numbers_body(int n_stages, int n_ops, int n)
{
        size_t cap = (size_t)n_stages * (size_t)n_ops * ((size_t)n * 4 + 64) +
                     (size_t)n_stages * 200 + 200;
        char *b = malloc(cap), id[SR_UUID_STR_LEN + 1];
        size_t len = 0;
        sr_uuid_t u;

        sr_uuid_v4(&u);
        sr_uuid_fmt(&u, id);
        len += (size_t)snprintf(b + len, cap - len, "{\"pipeline_id\":\"%s\","
                                "\"pipeline_name\":\"numbers\",\"stages\":[",
                                id);
        for (int s = 0; s < n_stages; s++) {
                len += (size_t)snprintf(b + len, cap - len,
                                        "%s{\"name\":\"s%d\","
                                        "\"operations\":[", s ? "," : "", s);
                for (int o = 0; o < n_ops; o++) {
                        len += (size_t)snprintf(b + len, cap - len,
                                                "%s{\"operation_type\":"
                                                "\"INSTALL\",\"args\":{\"v\":[",
                                                o ? "," : "");
                        for (int k = 0; k < n; k++) {
                                memcpy(b + len, k ? ",0.1" : "0.1",
                                       k ? 4 : 3);
                                len += k ? 4 : 3;
                        }
                        len += (size_t)snprintf(b + len, cap - len, "]}}");
                }
                sr_uuid_v4(&u);
                sr_uuid_fmt(&u, id);
                len += (size_t)snprintf(b + len, cap - len,
                                        "],\"targets\":[{\"device_id\":"
                                        "\"%s\"}]}", id);
        }
        len += (size_t)snprintf(b + len, cap - len, "]}");
        cr_assert(lt(sz, len, cap));
        return b;
}

static const char small_run[] =
        "{\"pipeline_id\":\"6f0c51a3-5a2b-4b0e-9c53-3e4f0d6b7a11\","
        "\"pipeline_name\":\"small\",\"stages\":[{\"name\":\"s\","
        "\"operations\":[{\"operation_type\":\"REBOOT\"}],\"targets\":"
        "[{\"device_id\":\"0b9f1c2e-8d4a-4f3b-a2c1-5e6d7f8a9b0c\"}]}]}";

Test(fleet_budget, oversized_command_leaves_every_worker_up_and_runs_going)
{
        rd_kafka_t *rk = big_producer();
        sr_uuid_t run, cmd, next;
        char why[256];
        sr_buf_t val;

        sr_uuid_v4(&run);
        val = create_bytes(&run, &cmd, 16, 65536);
        big_send(rk, SR_TOPIC_COMMANDS, &run, sr_buf_slice(&val));
        sr_buf_free(&val);
        cr_assert(kit_pump_until(&kit, has_reply, &cmd, 30000));
        cr_assert(eq(str, (char *)sr_reject_name(reply_of(&cmd)->reason),
                     "too_large"));
        cr_assert(kit_pump_until(&kit, has_dlq, "too_large", 30000));
        next = run_on(partition_of(&run), true);
        cr_assert(run_succeeds(&next, 30000), "same partition");
        for (int i = 0; i < 3; i++) {
                next = run_on(partition_of(&run), false);
                cr_assert(run_succeeds(&next, 30000), "other partition");
        }
        cr_assert(fleet_ready(why, sizeof(why)), "%s", why);
        rd_kafka_destroy(rk);
}

Test(fleet_budget, oversized_run_spec_is_413_and_the_gateway_stays_ready)
{
        char msg[512], why[256];
        char *body;

        /* The body: 616 KB of 0.1s, 3 x 16 operations. Stored as
         * written it is a ~616 KB command: accepted. */
        body = numbers_body(3, 16, 3200);
        cr_assert(gt(sz, strlen(body), (size_t)600000));
        cr_assert(eq(int, gw_call("POST", "/v0/runs/", "tok-a", body, msg,
                                  sizeof(msg)), 200), "%s", msg);
        free(body);
        /* Under the 1 MiB body limit, over command.max.bytes: 413. */
        body = numbers_body(1, 16, 16000);
        cr_assert(lt(sz, strlen(body), (size_t)1048576));
        cr_assert(eq(int, gw_call("POST", "/v0/runs/", "tok-a", body, msg,
                                  sizeof(msg)), 413), "%s", msg);
        cr_assert(not(eq(ptr, strstr(msg, "command.max.bytes (983040)"),
                         NULL)), "%s", msg);
        free(body);
        cr_assert(sr_gateway_is_ready(gw, why, sizeof(why)), "%s", why);
        cr_assert(eq(int, gw_call("GET", "/readyz", "tok-a", NULL, NULL, 0),
                     200));
        cr_assert(eq(int, gw_call("POST", "/v0/runs/", "tok-a", small_run,
                                  msg, sizeof(msg)), 200), "%s", msg);
        cr_assert(eq(int, gw_call("POST", "/v0/runs/", "tok-b", small_run,
                                  msg, sizeof(msg)), 200), "%s", msg);
        cr_assert(fleet_ready(why, sizeof(why)), "%s", why);
}

/* Args are stored and answered as written: 0.1 stays 0.1 (not
 * 0.10000000000000001), 1e2 stays 1e2, a 30-digit integer keeps its
 * digits. */
Test(fleet_budget, operation_args_are_answered_as_written)
{
        static const char body[] =
                "{\"pipeline_id\":\"6f0c51a3-5a2b-4b0e-9c53-3e4f0d6b7a11\","
                "\"stages\":[{\"operations\":[{\"operation_type\":"
                "\"INSTALL\",\"args\":{\"v\": 0.1, \"n\": 1e2, \"big\":"
                " 123456789012345678901234567890}}],\"targets\":[{"
                "\"device_id\":\"0b9f1c2e-8d4a-4f3b-a2c1-5e6d7f8a9b0c\"}]}]}";
        static const char want[] =
                "\"args\":{\"v\":0.1,\"n\":1e2,"
                "\"big\":123456789012345678901234567890}";
        char msg[8192], target[160], sid[SR_UUID_STR_LEN + 1];
        json_t *root, *id;
        sr_uuid_t run, stage;

        cr_assert(eq(int, gw_call("POST", "/v0/runs/", "tok-a", body, msg,
                                  sizeof(msg)), 200), "%s", msg);
        root = json_loads(msg, 0, NULL);
        id = json_object_get(json_object_get(root, "content"), "id");
        cr_assert(json_string_value(id) != NULL, "%s", msg);
        cr_assert(sr_uuid_parse(json_string_value(id), SR_UUID_STR_LEN,
                                &run));
        json_decref(root);
        stage = kit_stage_id(&run, 0);
        sr_uuid_fmt(&stage, sid);
        snprintf(target, sizeof(target), "/v0/stageruns/%s/operations/", sid);
        cr_assert(eq(int, gw_call("GET", target, "tok-a", NULL, msg,
                                  sizeof(msg)), 200), "%s", msg);
        cr_assert(not(eq(ptr, strstr(msg, want), NULL)), "%s", msg);
}

Test(fleet_budget, broker_outage_is_503_and_readiness_comes_back_by_itself)
{
        rd_kafka_mock_cluster_t *mc = sr_mock_cluster(kit.mock);
        char why[256] = "", msg[512];
        int64_t end;

        cr_assert(eq(int, rd_kafka_mock_broker_set_down(mc, 1),
                     RD_KAFKA_RESP_ERR_NO_ERROR));
        for (end = kit_now_ms() + 20000;
             sr_gateway_is_ready(gw, why, sizeof(why));)
                cr_assert(kit_now_ms() < end, "still ready with the broker "
                          "down");
        cr_assert(not(eq(ptr, strstr(why, "broker is unreachable"), NULL)),
                  "%s", why);
        cr_assert(eq(int, gw_call("GET", "/readyz", "tok-a", NULL, msg,
                                  sizeof(msg)), 503));
        cr_assert(eq(int, rd_kafka_mock_broker_set_up(mc, 1),
                     RD_KAFKA_RESP_ERR_NO_ERROR));
        /* no write in between: the gateway sees the broker by itself */
        for (end = kit_now_ms() + 30000;
             !sr_gateway_is_ready(gw, why, sizeof(why));)
                cr_assert(kit_now_ms() < end, "not ready again: %s", why);
        cr_assert(eq(int, gw_call("GET", "/readyz", "tok-a", NULL, NULL, 0),
                     200));
        cr_assert(eq(int, gw_call("POST", "/v0/runs/", "tok-b", small_run,
                                  msg, sizeof(msg)), 200), "%s", msg);
}

/* A create over the worker's own stage.max.operations (here 4; the
 * gateway may allow more, or another producer sent it): refused with a
 * reply naming the count and the key, nothing of it made, and the worker
 * goes on; a create at the limit on the same partition is applied. */
Test(size_budget, a_create_over_the_workers_operation_limit_is_refused_by_it)
{
        sr_uuid_t over, at, c_over, c_at;
        const sr_reply_t *r;
        sr_buf_t val;

        kit_set(&kit, "stage.max.operations", "4");
        sr_uuid_v4(&over);
        at = run_on(partition_of(&over), true);
        val = create_bytes(&over, &c_over, 5, 0);
        kit_send(&kit, SR_TOPIC_COMMANDS, &over, sr_buf_slice(&val));
        sr_buf_free(&val);
        val = create_bytes(&at, &c_at, 4, 0);
        kit_send(&kit, SR_TOPIC_COMMANDS, &at, sr_buf_slice(&val));
        sr_buf_free(&val);
        kit_start_worker(&kit);
        cr_assert(kit_pump_until(&kit, has_reply, &c_over, 30000));
        cr_assert(kit_pump_until(&kit, has_reply, &c_at, 30000));
        r = reply_of(&c_over);
        cr_assert(not(r->accepted));
        cr_assert(eq(str, (char *)sr_reject_name(r->reason), "invalid_value"));
        cr_assert(eq(str, (char *)r->message,
                     "stages[0].operations: 5 operations, at most 4 per "
                     "stage on this worker (stage.max.operations)"));
        cr_assert(eq(int, kit_status(&kit, &over), SR_ST_NONE));
        cr_assert(reply_of(&c_at)->accepted, "%s", reply_of(&c_at)->message);
}

/* ------------------------------------------------------------ buffers */

static sr_metrics_t *buf_metrics;

static double buffer_bytes(void)
{
        return sr_series_value(sr_metrics_gauge(
                buf_metrics, "sr_worker_buffer_bytes", "", NULL));
}

static bool buffers_grew(kit_t *k, void *arg)
{
        (void)k;
        return buffer_bytes() >= *(double *)arg;
}

/* One stage of 6,000 targets materialised in one batch grows the worker's
 * batch buffers to tens of MiB; they must not keep that memory once the
 * batches are small again (a worker that once ran a large stage would
 * hold it for good): a buffer over SR_WORKER_BUF_KEEP that a batch used
 * under a quarter of is given back. */
Test(size_budget, a_large_batch_gives_its_buffers_back_after_it)
{
        const double big = 24.0 * 1024 * 1024;
        kit_count_arg_t all;
        sr_runspec_t spec;
        sr_errctx_t ec = { 0 };
        sr_uuid_t run;
        double peak;

        kit_set(&kit, "stage.max.targets", "6000");
        buf_metrics = sr_metrics_new();
        cr_assert(sr_worker_new(kit.conf, buf_metrics, &kit.w, &ec) == SR_OK,
                  "%s", ec.msg);
        sr_uuid_v4(&run);
        kit_spec(&spec, 1, 1, 6000, true);
        kit_create(&kit, &run, &spec, NULL);
        sr_runspec_fini(&spec);
        all.run = &run;
        all.n = 6000;
        cr_assert(kit_pump_until(&kit, buffers_grew, (void *)&big, 60000),
                  "the stage's batch grew the buffers to %.0f bytes only",
                  buffer_bytes());
        cr_assert(kit_pump_until(&kit, kit_dispatches_at_least, &all, 60000));
        peak = buffer_bytes();
        /* Small batches after it: each run on its own batch. */
        for (int i = 0; i < 4; i++) {
                sr_uuid_t r = run_on(partition_of(&run), false);

                cr_assert(run_succeeds(&r, 30000));
        }
        /* Seven buffers (two batches' records and bytes, the outbox entry,
         * the state machine's events and dispatches), at most 4 MiB each
         * (SR_WORKER_BUF_KEEP); here ~5 MB of ~38 MB are kept. */
        cr_log_info("buffers: peak %.0f, after %.0f bytes", peak,
                    buffer_bytes());
        cr_assert(le(dbl, buffer_bytes(), 7.0 * 4 * 1024 * 1024),
                  "the batch buffers keep %.0f bytes after the large "
                  "batch (%.0f at its peak)", buffer_bytes(), peak);
        cr_assert(lt(dbl, buffer_bytes(), peak / 4),
                  "the batch buffers keep %.0f bytes after the large "
                  "batch (%.0f at its peak)", buffer_bytes(), peak);
        sr_worker_destroy(kit.w);
        kit.w = NULL;
        sr_metrics_destroy(buf_metrics);
}
