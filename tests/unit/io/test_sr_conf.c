/* tests/unit/io/test_sr_conf.c - defaults, value validation, file/env/flag
 * sources and their precedence, kafka.* pass-through, the key listing. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "sr_conf.h"

static sr_conf_t *conf;
static sr_errctx_t ec;
static char path[] = "/tmp/sr_conf_test.XXXXXX";

static void conf_setup(void)
{
        memset(&ec, 0, sizeof(ec));
        conf = sr_conf_new();
        cr_assert(not(eq(ptr, conf, NULL)));
}

static void conf_teardown(void)
{
        sr_conf_destroy(conf);
        if (strcmp(path + strlen(path) - 6, "XXXXXX"))
                unlink(path);
}

TestSuite(sr_conf, .init = conf_setup, .fini = conf_teardown,
          .timeout = 10.0);

/* Write @p text to a fresh temporary file whose name is in path. */
static void write_file(const char *text)
{
        int fd = mkstemp(path);
        size_t len = strlen(text);

        cr_assert(ge(int, fd, 0));
        cr_assert(eq(long, write(fd, text, len), (long)len));
        close(fd);
}

static void assert_msg_contains(const char *part)
{
        cr_assert(not(eq(ptr, strstr(ec.msg, part), NULL)),
                  "message \"%s\" lacks \"%s\"", ec.msg, part);
}

static char *kafka_get(const char *name, char *buf, size_t size)
{
        cr_assert(eq(int, rd_kafka_conf_get(conf->kafka, name, buf, &size),
                     RD_KAFKA_CONF_OK), "%s not set", name);
        return buf;
}

Test(sr_conf, new_conf_holds_documented_defaults)
{
        cr_assert(eq(str, conf->worker_name, "sr"));
        cr_assert(eq(int, conf->log_level, SR_LOG_INFO));
        cr_assert(eq(str, conf->topic_prefix, "sr."));
        cr_assert(eq(int, conf->partitions, 12));
        cr_assert(eq(str, conf->data_dir, "./var/sr"));
        cr_assert(eq(int, conf->store_map_size_mb, 1024));
        cr_assert(not(conf->store_sync));
        cr_assert(eq(int, conf->batch_size, 2000));
        cr_assert(eq(int, conf->poll_timeout_ms, 100));
        cr_assert(eq(str, conf->group_id, "sr-status"));
        cr_assert(eq(int, conf->http_port, 0));
        cr_assert(eq(str, conf->http_bind, "127.0.0.1"));
        cr_assert(conf->http_enable);
        cr_assert(eq(int, conf->restore_batch_size, 5000));
        cr_assert(eq(int, conf->timer_resolution_ms, 200));
        cr_assert(eq(int, conf->agent_latency_ms, 20));
        cr_assert(eq(dbl, conf->agent_failure_rate, 0.0));
        cr_assert(eq(int, conf->agent_seed, 1));
        cr_assert(eq(str, conf->agent_group_id, "sr-agent"));
        cr_assert(not(eq(ptr, conf->kafka, NULL)));
        cr_assert(not(conf->help || conf->list_config ||
                      conf->list_config_md));
        cr_assert(eq(int, sr_conf_finalize(conf, &ec), SR_OK), "%s", ec.msg);
}

struct bad_value {
        char key[32];
        char value[32];
        char msg[96]; /* the whole message, or a part of it */
};

ParameterizedTestParameters(sr_conf, set_rejects_bad_value_naming_key_and_range)
{
        static struct bad_value cases[] = {
                { "batch.size", "0",
                  "batch.size: expected integer 1..100000, got \"0\"" },
                { "batch.size", "12abc",
                  "batch.size: expected integer 1..100000, got \"12abc\"" },
                { "batch.size", "", "batch.size: expected integer" },
                { "batch.size", "99999999999999999999",
                  "batch.size: expected integer 1..100000" },
                { "batch.size", "100001", "got \"100001\"" },
                { "partitions", "1025",
                  "partitions: expected integer 1..1024, got \"1025\"" },
                { "http.port", "-1", "http.port: expected integer 0..65535" },
                { "http.port", "65536", "got \"65536\"" },
                { "poll.timeout.ms", "10001", "0..10000" },
                { "timer.resolution.ms", "9", "10..60000" },
                { "store.map.size.mb", "0", "1..1048576" },
                { "restore.batch.size", "1000001", "1..1000000" },
                { "agent.latency.ms", "600001", "0..600000" },
                { "agent.seed", "-1", "agent.seed: expected integer 0.." },
                { "store.sync", "maybe",
                  "store.sync: expected true or false, got \"maybe\"" },
                { "http.enable", "", "http.enable: expected true or false" },
                { "log.level", "loud",
                  "log.level: expected one of error|warn|info|debug, "
                  "got \"loud\"" },
                { "agent.failure.rate", "1.5",
                  "agent.failure.rate: expected number 0..1, got \"1.5\"" },
                { "agent.failure.rate", "nan", "expected number 0..1" },
                { "agent.failure.rate", "0.5x", "got \"0.5x\"" },
                { "agent.failure.rate", "-0.1", "expected number 0..1" },
                { "worker.name", "", "worker.name: must not be empty" },
                { "group.id", "", "group.id: must not be empty" },
                { "no.such.key", "1", "no.such.key: unknown key" },
                { "kafka.acks", "maybe", "kafka.acks: Invalid value" },
                { "kafka.no.such", "1",
                  "kafka.no.such: No such configuration property" },
        };

        return cr_make_param_array(struct bad_value, cases,
                                   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_value *c, sr_conf,
                  set_rejects_bad_value_naming_key_and_range)
{
        cr_assert(eq(int, sr_conf_set(conf, c->key, c->value, &ec),
                     SR_ERR_CONF));
        cr_assert(eq(int, ec.code, SR_ERR_CONF));
        assert_msg_contains(c->msg);
}

Test(sr_conf, rejected_value_leaves_previous_value)
{
        cr_assert(eq(int, sr_conf_set(conf, "batch.size", "7", &ec), SR_OK));
        cr_assert(eq(int, sr_conf_set(conf, "batch.size", "7x", &ec),
                     SR_ERR_CONF));
        cr_assert(eq(int, conf->batch_size, 7));
}

Test(sr_conf, range_limits_are_inclusive)
{
        cr_assert(eq(int, sr_conf_set(conf, "batch.size", "1", &ec), SR_OK));
        cr_assert(eq(int, sr_conf_set(conf, "batch.size", "100000", &ec),
                     SR_OK));
        cr_assert(eq(int, conf->batch_size, 100000));
        cr_assert(eq(int, sr_conf_set(conf, "agent.failure.rate", "1", &ec),
                     SR_OK));
        cr_assert(eq(dbl, conf->agent_failure_rate, 1.0));
        cr_assert(eq(int, sr_conf_set(conf, "http.port", "65535", &ec),
                     SR_OK));
        cr_assert(eq(int, conf->http_port, 65535));
}

Test(sr_conf, retention_defaults_are_thirty_and_seven_days)
{
        cr_assert(eq(i64, conf->retention_finished_ms, 30 * 86400000LL));
        cr_assert(eq(i64, conf->retention_inputs_ms, 7 * 86400000LL));
}

Test(sr_conf, durations_take_every_unit_and_a_bare_zero)
{
        static const struct {
                const char *text;
                int64_t ms;
        } good[] = {
                { "500ms", 500 }, { "90s", 90000 }, { "15m", 900000 },
                { "12h", 43200000 }, { "30d", 2592000000LL }, { "0", 0 },
                { "0s", 0 }, { "1ms", 1 }, { "36500d", 36500 * 86400000LL },
        };

        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                cr_assert(eq(int, sr_conf_set(conf, "retention.finished",
                                              good[i].text, &ec), SR_OK),
                          "%s: %s", good[i].text, ec.msg);
                cr_assert(eq(i64, conf->retention_finished_ms, good[i].ms),
                          "%s", good[i].text);
        }
        cr_assert(eq(int, sr_conf_set(conf, "retention.inputs", "2h", &ec),
                     SR_OK));
        cr_assert(eq(i64, conf->retention_inputs_ms, 7200000));
}

Test(sr_conf, bad_durations_are_refused_naming_the_key)
{
        static const char *const bad[] = {
                "", "30", "7 d", "d", "-1s", "1.5h", "10w", "5sec", "1d ",
                "36501d", "99999999999999999999d", "9223372036854775807s",
        };

        cr_assert(eq(int, sr_conf_set(conf, "retention.finished", "1h", &ec),
                     SR_OK));
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                memset(&ec, 0, sizeof(ec));
                cr_assert(eq(int, sr_conf_set(conf, "retention.finished",
                                              bad[i], &ec), SR_ERR_CONF),
                          "\"%s\" accepted", bad[i]);
                assert_msg_contains("retention.finished: expected a "
                                    "duration with a unit");
        }
        cr_assert(eq(i64, conf->retention_finished_ms, 3600000));
        cr_assert(eq(int, sr_conf_set(conf, "retention.inputs", "7", &ec),
                     SR_ERR_CONF));
        assert_msg_contains("retention.inputs:");
        assert_msg_contains("\"7\"");
}

Test(sr_conf, bool_and_enum_accept_usual_spellings)
{
        cr_assert(eq(int, sr_conf_set(conf, "store.sync", "yes", &ec), SR_OK));
        cr_assert(conf->store_sync);
        cr_assert(eq(int, sr_conf_set(conf, "store.sync", "OFF", &ec), SR_OK));
        cr_assert(not(conf->store_sync));
        cr_assert(eq(int, sr_conf_set(conf, "store.sync", "1", &ec), SR_OK));
        cr_assert(conf->store_sync);
        cr_assert(eq(int, sr_conf_set(conf, "log.level", "DEBUG", &ec),
                     SR_OK));
        cr_assert(eq(int, conf->log_level, SR_LOG_DEBUG));
        cr_assert(eq(int, sr_conf_set(conf, "log.level", "error", &ec),
                     SR_OK));
        cr_assert(eq(int, conf->log_level, SR_LOG_ERROR));
}

Test(sr_conf, string_is_copied_and_replaced)
{
        char value[] = "worker-1";

        cr_assert(eq(int, sr_conf_set(conf, "worker.name", value, &ec),
                     SR_OK));
        value[0] = 'X';
        cr_assert(eq(str, conf->worker_name, "worker-1"));
        cr_assert(eq(int, sr_conf_set(conf, "topic.prefix", "", &ec), SR_OK),
                  "an empty prefix is allowed");
        cr_assert(eq(str, conf->topic_prefix, ""));
}

Test(sr_conf, kafka_keys_pass_through_to_librdkafka)
{
        char buf[128];

        cr_assert(eq(int, sr_conf_set(conf, "kafka.bootstrap.servers",
                                      "broker:9092", &ec), SR_OK), "%s",
                  ec.msg);
        cr_assert(eq(int, sr_conf_set(conf, "kafka.acks", "all", &ec), SR_OK));
        cr_assert(eq(str, kafka_get("bootstrap.servers", buf, sizeof(buf)),
                     "broker:9092"));
        cr_assert(eq(str, kafka_get("acks", buf, sizeof(buf)), "-1"));
}

/* gateway.public.url: where clients reach the gateway, for the links of
 * list answers; unset (the default) gives links relative to the root. */
Test(sr_conf, public_url_accepts_http_and_https_with_a_path_prefix)
{
        static const char *const good[] = {
                "", "https://sr.example.com", "http://sr.example.com/",
                "https://sr.example.com/base", "HTTPS://SR.example.com:8443",
                "http://10.0.0.1:80/a/b-c_d.e~f/", "https://[::1]:8443/x",
                "https://sr.example.com/a%20b/(v)!$&'*+,;=:@",
        };

        cr_assert(eq(str, conf->gateway_public_url, ""));
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                cr_assert(eq(int, sr_conf_set(conf, "gateway.public.url",
                                              good[i], &ec), SR_OK),
                          "%s: %s", good[i], ec.msg);
                cr_assert(eq(str, conf->gateway_public_url, (char *)good[i]));
        }
}

struct bad_url {
        char value[80];
        char why[48];
};

ParameterizedTestParameters(sr_conf, public_url_refuses_what_a_link_cannot_be)
{
        static struct bad_url cases[] = {
                { "sr.example.com", "http:// or https://" },
                { "ftp://sr.example.com", "http:// or https://" },
                { "https://", "no host" },
                { "https:///base", "no host" },
                { "https://sr.example.com?x=1", "query or fragment" },
                { "https://sr.example.com/base#top", "query or fragment" },
                { "https://user:pw@sr.example.com", "user information" },
                { "https://sr.example.com:0", "port" },
                { "https://sr.example.com:65536", "port" },
                { "https://sr.example.com:80a", "port" },
                { "https://sr.exa mple.com", "host" },
                { "https://sr.example.com/a b", "path" },
                { "https://sr.example.com/a\"b", "path" },
                { "https://sr.example.com/%zz", "path" },
                { "https://[::1", "host" },
                { "https://sr.example.com/\xc3\xa9", "path" },
        };
        return cr_make_param_array(struct bad_url, cases,
                                   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_url *c, sr_conf,
                  public_url_refuses_what_a_link_cannot_be)
{
        cr_assert(eq(int, sr_conf_set(conf, "gateway.public.url", c->value,
                                      &ec), SR_ERR_CONF), "%s", c->value);
        assert_msg_contains("gateway.public.url: ");
        assert_msg_contains(c->why);
        cr_assert(eq(str, conf->gateway_public_url, ""));
}

Test(sr_conf, public_url_error_in_a_file_names_path_and_line)
{
        write_file("# gateway\n\ngateway.public.url = sr.example.com\n");
        cr_assert(eq(int, sr_conf_load_file(conf, path, &ec), SR_ERR_CONF));
        cr_assert(eq(int, strncmp(ec.msg, path, strlen(path)), 0), "%s",
                  ec.msg);
        assert_msg_contains(":3: gateway.public.url: ");
}

Test(sr_conf, file_sets_keys_skipping_comments_and_blank_lines)
{
        write_file("# a comment\n"
                   "\n"
                   "   batch.size   =   10   \n"
                   "\t# indented comment\n"
                   "worker.name=w1\r\n"
                   "kafka.client.id = c # not a comment\n"
                   "data.dir = /tmp/x=y\n");
        cr_assert(eq(int, sr_conf_load_file(conf, path, &ec), SR_OK), "%s",
                  ec.msg);
        cr_assert(eq(int, conf->batch_size, 10));
        cr_assert(eq(str, conf->worker_name, "w1"));
        cr_assert(eq(str, conf->data_dir, "/tmp/x=y"));
}

Test(sr_conf, file_error_names_path_line_key_and_reason)
{
        char want[256];

        write_file("# ok\nbatch.size = 5\n\nbatch.size = 0\n");
        cr_assert(eq(int, sr_conf_load_file(conf, path, &ec), SR_ERR_CONF));
        snprintf(want, sizeof(want),
                 "%s:4: batch.size: expected integer 1..100000, got \"0\"",
                 path);
        cr_assert(eq(str, ec.msg, want));
}

Test(sr_conf, file_unknown_key_is_an_error)
{
        char want[256];

        write_file("batch.size = 5\nbatch.sise = 6\n");
        cr_assert(eq(int, sr_conf_load_file(conf, path, &ec), SR_ERR_CONF));
        snprintf(want, sizeof(want), "%s:2: batch.sise: unknown key", path);
        cr_assert(eq(str, ec.msg, want));
}

Test(sr_conf, file_line_without_equals_is_an_error)
{
        char want[256];

        write_file("batch.size 5\n");
        cr_assert(eq(int, sr_conf_load_file(conf, path, &ec), SR_ERR_CONF));
        snprintf(want, sizeof(want),
                 "%s:1: expected key = value, got \"batch.size 5\"", path);
        cr_assert(eq(str, ec.msg, want));
}

Test(sr_conf, file_line_without_key_is_an_error)
{
        write_file("= 5\n");
        cr_assert(eq(int, sr_conf_load_file(conf, path, &ec), SR_ERR_CONF));
        assert_msg_contains(":1: missing key before '='");
}

Test(sr_conf, file_kafka_rejection_reports_librdkafka_text)
{
        write_file("kafka.acks = maybe\n");
        cr_assert(eq(int, sr_conf_load_file(conf, path, &ec), SR_ERR_CONF));
        assert_msg_contains(":1: kafka.acks: Invalid value for configuration "
                            "property");
        assert_msg_contains("got \"maybe\"");
}

Test(sr_conf, missing_file_is_a_config_error)
{
        cr_assert(eq(int, sr_conf_load_file(conf, "/nonexistent/sr.conf",
                                            &ec), SR_ERR_CONF));
        cr_assert(eq(str, ec.msg, "/nonexistent/sr.conf: cannot open: "
                                  "No such file or directory"));
}

Test(sr_conf, env_maps_upper_case_underscores_to_keys)
{
        char *envp[] = {
                "PATH=/bin",
                "SR_BATCH_SIZE=10",
                "SR_STORE_MAP_SIZE_MB=64",
                "SR_KAFKA_BOOTSTRAP_SERVERS=b1:9092,b2:9092",
                "SR_BUILD_DIR=/tmp/b",
                "SR_SOURCE_DIR=/tmp/s",
                "SR_API_TOKENS=t",
                "SR_TEST_TIMEOUT_MULT=3",
                "NOT_SR_BATCH_SIZE=1",
                NULL,
        };
        char buf[128];

        cr_assert(eq(int, sr_conf_load_env(conf, envp, &ec), SR_OK), "%s",
                  ec.msg);
        cr_assert(eq(int, conf->batch_size, 10));
        cr_assert(eq(int, conf->store_map_size_mb, 64));
        cr_assert(eq(str, kafka_get("bootstrap.servers", buf, sizeof(buf)),
                     "b1:9092,b2:9092"));
}

Test(sr_conf, env_variable_mapping_to_no_key_is_ignored_and_the_rest_applies)
{
        char *envp[] = { "SR_BATCH_SIZ=10", "SR_CHAOS_KEEP=1",
                         "SR_POLL_TIMEOUT_MS=7", NULL };

        cr_assert(eq(int, sr_conf_load_env(conf, envp, &ec), SR_OK), "%s",
                  ec.msg);
        cr_assert(eq(int, conf->batch_size, 2000));
        cr_assert(eq(int, conf->poll_timeout_ms, 7));
}

Test(sr_conf, env_bad_value_names_variable_and_key)
{
        char *envp[] = { "SR_POLL_TIMEOUT_MS=-5", NULL };

        cr_assert(eq(int, sr_conf_load_env(conf, envp, &ec), SR_ERR_CONF));
        cr_assert(eq(str, ec.msg, "env SR_POLL_TIMEOUT_MS: poll.timeout.ms: "
                                  "expected integer 0..10000, got \"-5\""));
}

Test(sr_conf, env_null_is_no_environment)
{
        cr_assert(eq(int, sr_conf_load_env(conf, NULL, &ec), SR_OK));
}

Test(sr_conf, precedence_is_defaults_file_env_then_define_flags)
{
        char *envp[] = { "SR_BATCH_SIZE=6", "SR_POLL_TIMEOUT_MS=8", NULL };
        char *argv[] = { "sr-x", "-c", path, "-D", "batch.size=9", NULL };
        int argi = -1;

        write_file("batch.size = 5\npoll.timeout.ms = 7\npartitions = 3\n");
        cr_assert(eq(int, sr_conf_from_args(conf, 5, argv, envp, &argi, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(int, conf->batch_size, 9), "-D wins");
        cr_assert(eq(int, conf->poll_timeout_ms, 8), "env beats file");
        cr_assert(eq(int, conf->partitions, 3), "file beats default");
        cr_assert(eq(int, conf->timer_resolution_ms, 200), "default");
        cr_assert(eq(int, argi, 5));
}

Test(sr_conf, define_flags_apply_in_order_in_both_spellings)
{
        char *argv[] = { "sr-x", "-Dbatch.size=3", "-D", "batch.size=4",
                         "-Dkafka.client.id=abc", "-D", "worker.name=a=b",
                         NULL };
        char buf[64];
        int argi;

        cr_assert(eq(int, sr_conf_from_args(conf, 7, argv, NULL, &argi, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(int, conf->batch_size, 4));
        cr_assert(eq(str, conf->worker_name, "a=b"));
        cr_assert(eq(str, kafka_get("client.id", buf, sizeof(buf)), "abc"));
}

Test(sr_conf, config_flag_accepts_long_spellings)
{
        char arg[64];
        char *argv[] = { "sr-x", "--config", path, arg, NULL };
        int argi;

        write_file("batch.size = 5\n");
        snprintf(arg, sizeof(arg), "--config=%s", path);
        cr_assert(eq(int, sr_conf_from_args(conf, 4, argv, NULL, &argi, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(int, conf->batch_size, 5));
}

Test(sr_conf, unknown_flag_is_an_error_naming_it)
{
        char *argv[] = { "sr-x", "-D", "batch.size=3", "--foo", NULL };
        int argi = -1;

        cr_assert(eq(int, sr_conf_from_args(conf, 4, argv, NULL, &argi, &ec),
                     SR_ERR_CONF));
        cr_assert(eq(str, ec.msg, "argument 3: unknown flag \"--foo\""));
        cr_assert(eq(int, argi, -1), "argi untouched on error");
        cr_assert(eq(int, conf->batch_size, 2000), "nothing applied");
}

Test(sr_conf, define_flag_with_bad_value_names_argument_and_key)
{
        char *argv[] = { "sr-x", "-D", "batch.size=0", NULL };
        int argi;

        cr_assert(eq(int, sr_conf_from_args(conf, 3, argv, NULL, &argi, &ec),
                     SR_ERR_CONF));
        cr_assert(eq(str, ec.msg, "argument 2: batch.size: expected integer "
                                  "1..100000, got \"0\""));
}

Test(sr_conf, define_flag_without_equals_is_an_error)
{
        char *argv[] = { "sr-x", "-D", "batch.size", NULL };
        int argi;

        cr_assert(eq(int, sr_conf_from_args(conf, 3, argv, NULL, &argi, &ec),
                     SR_ERR_CONF));
        cr_assert(eq(str, ec.msg, "argument 2: -D \"batch.size\": expected "
                                  "KEY=VALUE"));
}

Test(sr_conf, flag_missing_its_value_is_an_error)
{
        char *argv[] = { "sr-x", "-c", NULL };
        int argi;

        cr_assert(eq(int, sr_conf_from_args(conf, 2, argv, NULL, &argi, &ec),
                     SR_ERR_CONF));
        cr_assert(eq(str, ec.msg, "argument 1: flag \"-c\" needs a value"));
}

Test(sr_conf, config_file_error_from_flag_names_path_and_line)
{
        char *argv[] = { "sr-x", "-c", path, NULL };
        char want[256];
        int argi;

        write_file("\nhttp.port = http\n");
        cr_assert(eq(int, sr_conf_from_args(conf, 3, argv, NULL, &argi, &ec),
                     SR_ERR_CONF));
        snprintf(want, sizeof(want), "%s:2: http.port: expected integer "
                 "0..65535, got \"http\"", path);
        cr_assert(eq(str, ec.msg, want));
}

Test(sr_conf, flags_stop_at_first_non_flag_argument)
{
        char *argv[] = { "sr-x", "-D", "batch.size=3", "run", "-x", NULL };
        int argi;

        cr_assert(eq(int, sr_conf_from_args(conf, 5, argv, NULL, &argi, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(int, argi, 3));
        cr_assert(eq(int, conf->batch_size, 3));
}

Test(sr_conf, double_dash_ends_flags)
{
        char *argv[] = { "sr-x", "--", "-D", NULL };
        int argi;

        cr_assert(eq(int, sr_conf_from_args(conf, 3, argv, NULL, &argi, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(int, argi, 2));
}

Test(sr_conf, no_arguments_leave_defaults)
{
        char *argv[] = { "sr-x", NULL };
        int argi;

        cr_assert(eq(int, sr_conf_from_args(conf, 1, argv, NULL, &argi, &ec),
                     SR_OK));
        cr_assert(eq(int, argi, 1));
}

Test(sr_conf, help_and_list_flags_are_set_and_skip_sources)
{
        char *envp[] = { "SR_BATCH_SIZE=oops", NULL };
        char *argv[] = { "sr-x", "--list-config", "--list-config-md", "-h",
                         "-D", "batch.size=7", NULL };
        int argi;

        cr_assert(eq(int, sr_conf_from_args(conf, 6, argv, envp, &argi, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(conf->list_config);
        cr_assert(conf->list_config_md);
        cr_assert(conf->help);
        cr_assert(eq(int, conf->batch_size, 2000));
        cr_assert(eq(int, argi, 6));
}

Test(sr_conf, from_args_runs_finalize)
{
        char *argv[] = { "sr-x", "-D", "agent.group.id=sr-status", NULL };
        int argi;

        cr_assert(eq(int, sr_conf_from_args(conf, 3, argv, NULL, &argi, &ec),
                     SR_ERR_CONF));
        assert_msg_contains("agent.group.id: must differ from group.id");
}

Test(sr_conf, finalize_rejects_prefix_making_illegal_topic_names)
{
        cr_assert(eq(int, sr_conf_set(conf, "topic.prefix", "my prefix.",
                                      &ec), SR_OK));
        cr_assert(eq(int, sr_conf_finalize(conf, &ec), SR_ERR_CONF));
        assert_msg_contains("topic.prefix: \"my prefix.\" has a character "
                            "not allowed");
}

Test(sr_conf, finalize_rejects_a_tls_certificate_without_its_key)
{
        cr_assert(eq(int, sr_conf_set(conf, "gateway.tls.cert.file",
                                      "/etc/sr/cert.pem", &ec), SR_OK));
        cr_assert(eq(int, sr_conf_finalize(conf, &ec), SR_ERR_CONF));
        assert_msg_contains("gateway.tls.key.file: not set, but "
                            "gateway.tls.cert.file is (\"/etc/sr/cert.pem\")");
        cr_assert(eq(int, sr_conf_set(conf, "gateway.tls.key.file",
                                      "/etc/sr/key.pem", &ec), SR_OK));
        cr_assert(eq(int, sr_conf_finalize(conf, &ec), SR_OK), "%s",
                  ec.msg);
        cr_assert(eq(int, sr_conf_set(conf, "gateway.tls.cert.file", "",
                                      &ec), SR_OK));
        cr_assert(eq(int, sr_conf_finalize(conf, &ec), SR_ERR_CONF));
        assert_msg_contains("gateway.tls.cert.file: not set, but "
                            "gateway.tls.key.file is");
}

Test(sr_conf, finalize_rejects_a_tls_chain_without_a_certificate)
{
        cr_assert(eq(int, sr_conf_set(conf, "gateway.tls.chain.file",
                                      "/etc/sr/chain.pem", &ec), SR_OK));
        cr_assert(eq(int, sr_conf_finalize(conf, &ec), SR_ERR_CONF));
        assert_msg_contains("gateway.tls.chain.file: set");
}

Test(sr_conf, finalize_rejects_a_command_budget_the_producer_cannot_send)
{
        cr_assert(eq(int, sr_conf_finalize(conf, &ec), SR_OK), "%s",
                  ec.msg);
        cr_assert(eq(int, sr_conf_set(conf, "kafka.message.max.bytes",
                                      "500000", &ec), SR_OK));
        cr_assert(eq(int, sr_conf_finalize(conf, &ec), SR_ERR_CONF));
        cr_assert(not(eq(ptr, strstr(ec.msg, "command.max.bytes: 983040"),
                         NULL)), "%s", ec.msg);
        cr_assert(not(eq(ptr, strstr(ec.msg, "kafka.message.max.bytes "
                                     "(500000)"), NULL)), "%s", ec.msg);
        cr_assert(eq(int, sr_conf_set(conf, "command.max.bytes", "495904",
                                      &ec), SR_OK));
        cr_assert(eq(int, sr_conf_finalize(conf, &ec), SR_OK), "%s",
                  ec.msg);
}

Test(sr_conf, finalize_rejects_kafka_group_id)
{
        cr_assert(eq(int, sr_conf_set(conf, "kafka.group.id", "g", &ec),
                     SR_OK));
        cr_assert(eq(int, sr_conf_finalize(conf, &ec), SR_ERR_CONF));
        assert_msg_contains("kafka.group.id: not allowed");
}

static const char *const all_keys[] = {
        "worker.name", "log.level", "topic.prefix", "partitions", "data.dir",
        "store.map.size.mb", "store.sync", "batch.size", "poll.timeout.ms",
        "group.id", "http.port", "http.bind", "http.enable",
        "restore.batch.size", "timer.resolution.ms", "agent.latency.ms",
        "agent.failure.rate", "agent.seed", "agent.group.id", "kafka.*",
};

static char *list(bool markdown)
{
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);

        cr_assert(not(eq(ptr, f, NULL)));
        sr_conf_list(f, markdown);
        fclose(f);
        return text;
}

Test(sr_conf, list_names_every_key)
{
        char *text = list(false);
        char want[64];
        size_t i;

        for (i = 0; i < sizeof(all_keys) / sizeof(all_keys[0]); i++) {
                snprintf(want, sizeof(want), "\n%s ", all_keys[i]);
                cr_assert(not(eq(ptr, strstr(text, want), NULL)),
                          "no line for %s in:\n%s", all_keys[i], text);
        }
        cr_assert(not(eq(ptr, strstr(text, "\nbatch.size           int    "
                                           "2000       1..100000"), NULL)),
                  "%s", text);
        free(text);
}

Test(sr_conf, list_markdown_is_a_table_of_every_key)
{
        static const char head[] = "| key | type | default | range | "
                                   "description |\n|---|---|---|---|---|\n";
        char *text = list(true);
        char want[64];
        size_t i;

        cr_assert(eq(int, strncmp(text, head, strlen(head)), 0), "%s", text);
        for (i = 0; i < sizeof(all_keys) / sizeof(all_keys[0]); i++) {
                snprintf(want, sizeof(want), "\n| `%s` |", all_keys[i]);
                cr_assert(not(eq(ptr, strstr(text, want), NULL)),
                          "no row for %s in:\n%s", all_keys[i], text);
        }
        cr_assert(not(eq(ptr, strstr(text, "| `log.level` | enum | `info` | "
                                           "error \\| warn \\| info \\| debug "
                                           "|"), NULL)), "%s", text);
        cr_assert(not(eq(ptr, strstr(text, "| `batch.size` | int | `2000` | "
                                           "1..100000 | "), NULL)), "%s",
                  text);
        free(text);
}

Test(sr_conf, usage_mentions_every_flag)
{
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);

        sr_conf_usage(f, "sr-x", "[COMMAND]");
        fclose(f);
        cr_assert(eq(int, strncmp(text, "usage: sr-x ", 12), 0));
        cr_assert(not(eq(ptr, strstr(text, "[COMMAND]\n"), NULL)));
        cr_assert(not(eq(ptr, strstr(text, "-c, --config FILE"), NULL)));
        cr_assert(not(eq(ptr, strstr(text, "-D KEY=VALUE"), NULL)));
        cr_assert(not(eq(ptr, strstr(text, "--list-config-md"), NULL)));
        free(text);
}

/* events.dataschema.base: the registry the ce_dataschema header of events
 * points into (docs/schemas.md "CloudEvents headers"). */
Test(sr_conf, dataschema_url_is_the_base_else_the_public_url_else_none)
{
        char out[1100];

        cr_assert(eq(str, conf->events_dataschema_base, ""));
        cr_assert(not(sr_conf_dataschema_url(conf, 3, out, sizeof(out))),
                  "neither key set: no dataschema, got %s", out);
        cr_assert(eq(int, sr_conf_set(conf, "gateway.public.url",
                                      "https://sr.example.com/base/", &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(sr_conf_dataschema_url(conf, 3, out, sizeof(out)));
        cr_assert(eq(str, out, "https://sr.example.com/base/schemas/ids/3"));
        cr_assert(eq(int, sr_conf_set(conf, "events.dataschema.base",
                                      "http://registry.internal:8081",
                                      &ec), SR_OK), "%s", ec.msg);
        cr_assert(sr_conf_dataschema_url(conf, 6, out, sizeof(out)));
        cr_assert(eq(str, out, "http://registry.internal:8081/schemas/ids/6"));
        cr_assert(not(sr_conf_dataschema_url(conf, 3, out, 20)),
                  "a short buffer is refused, never cut");
}

Test(sr_conf, dataschema_base_refuses_what_a_url_cannot_be)
{
        cr_assert(eq(int, sr_conf_set(conf, "events.dataschema.base",
                                      "registry:8081", &ec), SR_ERR_CONF));
        assert_msg_contains("events.dataschema.base: ");
        assert_msg_contains("http:// or https://");
        cr_assert(eq(str, conf->events_dataschema_base, ""));
}
