/* tests/unit/codec/test_sr_spec_json.c - run-spec JSON: round trip, and every
 * kind of error names its JSON path. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_spec_json.h"
#include "kit_spec.h"

#define PID "6f1c1d1e-0b7a-4c1e-9a7e-3c2b1a0f9e8d"
#define DID "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#define SID "11111111-2222-4333-8444-555555555555"

static const char valid_spec[] =
        "{\"pipeline_id\": \"" PID "\", \"pipeline_name\": \"canary rollout\","
        " \"auto_promote\": true, \"timeout_seconds\": 1814400,"
        " \"stages\": ["
        "  {\"stage_id\": \"" SID "\", \"name\": \"canary\","
        "   \"description\": \"first\", \"timeout_seconds\": 604800,"
        "   \"operations\": [{\"operation_type\": \"install\","
        "     \"args\": {\"package_name\": \"com.example\", \"a\": [1, 2]}},"
        "     {\"operation_type\": \"REBOOT\"}],"
        "   \"targets\": [{\"target_id\": \"" SID "\", \"device_id\": \"" DID
        "\", \"device_name\": \"d-1\", \"device_alias\": \"lobby\"}]},"
        "  {\"name\": \"empty\"}"
        " ]}";

TestSuite(sr_spec_json, .timeout = 5.0);

Test(sr_spec_json, valid_spec_decodes_every_field)
{
        sr_runspec_t spec;
        sr_errctx_t ec = { 0 };
        char id[SR_UUID_STR_LEN + 1];

        cr_assert(eq(int, sr_spec_json_parse(valid_spec, strlen(valid_spec),
                                             &spec, &ec), SR_OK), "%s",
                  ec.msg);
        sr_uuid_fmt(&spec.pipeline_id, id);
        cr_assert(eq(str, id, PID));
        cr_assert(eq(str, spec.pipeline_name, "canary rollout"));
        cr_assert(spec.auto_promote);
        cr_assert(eq(i64, spec.timeout_seconds, 1814400));
        cr_assert(eq(u32, spec.n_stages, 2));
        cr_assert(eq(u32, spec.stages[0].n_ops, 2));
        cr_assert(eq(str, spec.stages[0].ops[0].operation_type, "INSTALL"));
        /* as written, minified */
        cr_assert(eq(str, spec.stages[0].ops[0].args_json,
                     "{\"package_name\":\"com.example\",\"a\":[1,2]}"));
        cr_assert(eq(ptr, spec.stages[0].ops[1].args_json, NULL));
        cr_assert(eq(u32, spec.stages[0].n_targets, 1));
        sr_uuid_fmt(&spec.stages[0].targets[0].device_id, id);
        cr_assert(eq(str, id, DID));
        cr_assert(eq(str, spec.stages[0].targets[0].device_alias, "lobby"));
        cr_assert(eq(u32, spec.stages[1].n_ops, 0));
        cr_assert(eq(u32, spec.stages[1].n_targets, 0));
        cr_assert(sr_uuid_is_nil(&spec.stages[1].stage_id));
        sr_runspec_fini(&spec);
}

Test(sr_spec_json, to_json_then_parse_gives_the_same_spec)
{
        sr_runspec_t a, b;
        sr_errctx_t ec = { 0 };
        char *text, *again;

        cr_assert(eq(int, sr_spec_json_parse(valid_spec, strlen(valid_spec),
                                             &a, &ec), SR_OK), "%s", ec.msg);
        text = sr_runspec_to_json(&a);
        cr_assert(not(eq(ptr, text, NULL)));
        cr_assert(eq(int, sr_spec_json_parse(text, strlen(text), &b, &ec),
                     SR_OK), "%s: %s", ec.msg, text);
        cr_assert(eq(u64, sr_runspec_hash(&a), sr_runspec_hash(&b)));
        again = sr_runspec_to_json(&b);
        cr_assert(eq(str, text, again));
        free(again);
        free(text);
        sr_runspec_fini(&a);
        sr_runspec_fini(&b);
}

/* The args of a spec given as text are kept as written: jansson would
 * print 0.1 as 0.10000000000000001, 1e2 as 100.0, and refuses integers
 * past 2^63. Only the whitespace outside strings goes. */
static void assert_args_kept(const char *args, const char *stored)
{
        char js[4096];
        sr_runspec_t spec, again;
        sr_errctx_t ec = { 0 };
        char *text;

        snprintf(js, sizeof(js),
                 "{\"pipeline_id\":\"" PID "\",\"stages\":[{\"name\":"
                 "\"s\",\"operations\":[{\"operation_type\":\"REBOOT\"},"
                 "{\"args\" : %s ,\"operation_type\":\"INSTALL\"}]}]}",
                 args);
        cr_assert(eq(int, sr_spec_json_parse(js, strlen(js), &spec, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(str, spec.stages[0].ops[1].args_json, (char *)stored));
        cr_assert(eq(ptr, spec.stages[0].ops[0].args_json, NULL));
        /* and so again after to_json, byte for byte */
        text = sr_runspec_to_json(&spec);
        cr_assert(not(eq(ptr, text, NULL)));
        cr_assert(eq(int, sr_spec_json_parse(text, strlen(text), &again,
                                             &ec), SR_OK), "%s", ec.msg);
        cr_assert(eq(str, again.stages[0].ops[1].args_json, (char *)stored));
        cr_assert(eq(u64, sr_runspec_hash(&spec), sr_runspec_hash(&again)));
        free(text);
        sr_runspec_fini(&spec);
        sr_runspec_fini(&again);
}

Test(sr_spec_json, args_numbers_are_kept_as_written)
{
        assert_args_kept("{\"p\": 0.1, \"e\": 1e2, \"E\": -2.50E-3}",
                         "{\"p\":0.1,\"e\":1e2,\"E\":-2.50E-3}");
        assert_args_kept("{\"big\": 123456789012345678901234567890,"
                         " \"i64\": 9007199254740993, \"neg\": -0}",
                         "{\"big\":123456789012345678901234567890,"
                         "\"i64\":9007199254740993,\"neg\":-0}");
}

/* An integer past int64 in args makes jansson read every number as a
 * real; timeouts still read as the integers they are (600.0 too, as JSON
 * Schema counts it), and to_json gives them back as integers. */
Test(sr_spec_json, big_integer_in_args_leaves_timeouts_integers)
{
        static const char js[] =
                "{\"pipeline_id\":\"" PID "\",\"timeout_seconds\":600.0,"
                "\"stages\":[{\"timeout_seconds\":6e2,\"operations\":[{"
                "\"operation_type\":\"LOCK\",\"args\":{\"n\":"
                "18446744073709551616}}]}]}";
        sr_runspec_t spec, again;
        sr_errctx_t ec = { 0 };
        char *text;

        cr_assert(eq(int, sr_spec_json_parse(js, strlen(js), &spec, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(i64, spec.timeout_seconds, 600));
        cr_assert(eq(i64, spec.stages[0].timeout_seconds, 600));
        cr_assert(eq(str, spec.stages[0].ops[0].args_json,
                     "{\"n\":18446744073709551616}"));
        text = sr_runspec_to_json(&spec);
        cr_assert(not(eq(ptr, strstr(text, "\"timeout_seconds\":600,"),
                         NULL)), "%s", text);
        cr_assert(eq(int, sr_spec_json_parse(text, strlen(text), &again,
                                             &ec), SR_OK), "%s", ec.msg);
        cr_assert(eq(u64, sr_runspec_hash(&spec), sr_runspec_hash(&again)));
        free(text);
        sr_runspec_fini(&spec);
        sr_runspec_fini(&again);
}

Test(sr_spec_json, args_strings_and_key_order_are_kept_and_only_outer_space_goes)
{
        assert_args_kept("{ \"z\" : \"a b\\\" ]}\" ,\n\t\"a\":[ 1 , {\"k\":"
                         "\"\\u00e9 \\n\"} ] }",
                         "{\"z\":\"a b\\\" ]}\",\"a\":[1,{\"k\":"
                         "\"\\u00e9 \\n\"}]}");
        assert_args_kept("{}", "{}");
}

Test(sr_spec_json, escaped_member_names_still_find_the_args)
{
        static const char js[] =
                "{\"pipeline_id\":\"" PID "\",\"st\\u0061ges\":[{"
                "\"operations\":[{\"operation_type\":\"LOCK\","
                "\"\\u0061rgs\":{\"n\":1.50}}]}]}";
        sr_runspec_t spec;
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_spec_json_parse(js, strlen(js), &spec, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(str, spec.stages[0].ops[0].args_json, "{\"n\":1.50}"));
        sr_runspec_fini(&spec);
}

/* jansson reads a NUL byte after a number as the number's end ("1\0,2" is
 * 1, 2): the args keep the numbers, not the NUL (a C string would end
 * there), and the structural pass does not stall on it. */
Test(sr_spec_json, nul_after_a_number_is_dropped_from_args_like_jansson_does)
{
        static const char js[] =
                "{\"pipeline_id\":\"" PID "\",\"timeout_seconds\":60\0,"
                "\"stages\":[{\"operations\":[{\"operation_type\":\"LOCK\","
                "\"args\":{\"n\":[1\0,2.5]}}]}]}";
        sr_runspec_t spec;
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_spec_json_parse(js, sizeof(js) - 1, &spec, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(str, spec.stages[0].ops[0].args_json,
                     "{\"n\":[1,2.5]}"));
        sr_runspec_fini(&spec);
}

Test(sr_spec_json, args_limit_counts_the_text_as_written)
{
        /* 16400 x ",0.1" and the rest: 65,609 bytes, over 65,536 as written (it
         * was over 300 KB once printed again) */
        size_t n = 16400, cap = n * 4 + 256, len = 0;
        char *js = malloc(cap);
        sr_runspec_t spec;
        sr_errctx_t ec = { 0 };

        len += (size_t)snprintf(js, cap, "{\"pipeline_id\":\"" PID "\","
                                "\"stages\":[{\"operations\":[{"
                                "\"operation_type\":\"LOCK\",\"args\":"
                                "{\"v\":[0");
        for (size_t i = 0; i < n; i++)
                len += (size_t)snprintf(js + len, cap - len, ",0.1");
        len += (size_t)snprintf(js + len, cap - len, "]}}]}]}");
        cr_assert(eq(int, sr_spec_json_parse(js, len, &spec, &ec),
                     SR_ERR_INVALID));
        cr_assert(not(eq(ptr, strstr(ec.msg, "stages[0].operations[0].args:"
                                     " too large (65609 bytes"), NULL)),
                  "%s", ec.msg);
        free(js);
}

Test(sr_spec_json, empty_stage_list_is_accepted)
{
        static const char js[] = "{\"pipeline_id\":\"" PID "\",\"stages\":[]}";
        sr_runspec_t spec;
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_spec_json_parse(js, strlen(js), &spec, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(u32, spec.n_stages, 0));
        cr_assert(eq(ptr, spec.stages, NULL));
        sr_runspec_fini(&spec);
}

Test(sr_spec_json, every_operation_type_is_known_in_any_case)
{
        cr_assert(eq(str, (char *)sr_spec_operation_type("set_wallpaper", 13),
                     "SET_WALLPAPER"));
        cr_assert(eq(str, (char *)sr_spec_operation_type("Lock", 4), "LOCK"));
        cr_assert(eq(ptr, (void *)sr_spec_operation_type("LOCKX", 5), NULL));
        cr_assert(eq(ptr, (void *)sr_spec_operation_type("LOC", 3), NULL));
}

/* Each bad input and the start of the message it must produce. Arrays,
 * not pointers: parameters are copied into the test's process. */
struct bad_spec {
        char json[400];
        char msg[120];
};

ParameterizedTestParameters(sr_spec_json, bad_spec_error_names_path)
{
        static struct bad_spec cases[] = {
                { "[1]", "(root): expected a JSON object (the run spec), "
                         "got [1]" },
                { "{\"pipeline_id\": ", "(root): malformed JSON at line 1" },
                { "{\"stages\": []}", "pipeline_id: required field missing" },
                { "{\"pipeline_id\":\"" PID "\"}",
                  "stages: required field missing" },
                { "{\"pipeline_id\": 42, \"stages\": []}",
                  "pipeline_id: expected a UUID string, got 42" },
                { "{\"pipeline_id\":\"" PID "\",\"stages\":{}}",
                  "stages: expected an array of stages, got {}" },
                { "{\"pipeline_id\":\"" PID "\",\"stages\":[],\"x\":1}",
                  "x: unknown field" },
                { "{\"pipeline_id\":\"" PID "\",\"stages\":[{\"colour\":1}]}",
                  "stages[0].colour: unknown field" },
                { "{\"pipeline_id\":\"" PID "\",\"stages\":[{},{\"targets\":"
                  "[{\"device_id\":\"" DID "\"},{\"device_id\":42}]}]}",
                  "stages[1].targets[1].device_id: expected a UUID string, "
                  "got 42" },
                { "{\"pipeline_id\":\"" PID "\",\"stages\":[{\"targets\":"
                  "[{\"device_name\":\"x\"}]}]}",
                  "stages[0].targets[0].device_id: required field missing" },
                { "{\"pipeline_id\":\"" PID "\",\"stages\":[{\"operations\":"
                  "[{\"operation_type\":\"FLY\"}]}]}",
                  "stages[0].operations[0].operation_type: expected an Esper "
                  "command name" },
                { "{\"pipeline_id\":\"" PID "\",\"stages\":[{\"operations\":"
                  "[{\"args\":{}}]}]}",
                  "stages[0].operations[0].operation_type: required field "
                  "missing" },
                { "{\"pipeline_id\":\"" PID "\",\"stages\":[{\"operations\":"
                  "[{\"operation_type\":\"LOCK\",\"args\":[1]}]}]}",
                  "stages[0].operations[0].args: expected an object, got [1]" },
                { "{\"pipeline_id\":\"" PID "\",\"stages\":[{\"operations\":"
                  "[{\"operation_type\":\"LOCK\",\"args\":{\"a\":"
                  "[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}}]}]}",
                  "stages[0].operations[0].args: nested too deeply" },
                { "{\"pipeline_id\":\"" PID "\",\"stages\":[],"
                  "\"timeout_seconds\":-5}",
                  "timeout_seconds: expected 1..315360000 seconds, got -5" },
                { "{\"pipeline_id\":\"" PID "\",\"stages\":[],"
                  "\"timeout_seconds\":1.5}",
                  "timeout_seconds: expected an integer number of seconds" },
                { "{\"pipeline_id\":\"" PID "\",\"stages\":[],"
                  "\"auto_promote\":\"yes\"}",
                  "auto_promote: expected true or false, got \"yes\"" },
                { "{\"pipeline_id\":\"" PID "\",\"stages\":[{\"name\":7}]}",
                  "stages[0].name: expected a string, got 7" },
                { "{\"pipeline_id\":\"" PID "\",\"pipeline_id\":\"" PID
                  "\",\"stages\":[]}",
                  "(root): malformed JSON" },
                { "{\"pipeline_id\":\"" PID "\",\"stages\":[7]}",
                  "stages[0]: expected an object, got 7" },
        };
        return cr_make_param_array(struct bad_spec, cases,
                                   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_spec *c, sr_spec_json, bad_spec_error_names_path)
{
        sr_runspec_t spec;
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_spec_json_parse(c->json, strlen(c->json), &spec,
                                             &ec), SR_ERR_INVALID),
                  "accepted: %s", c->json);
        cr_assert(eq(int, strncmp(ec.msg, c->msg, strlen(c->msg)), 0),
                  "message \"%s\" does not start with \"%s\"", ec.msg,
                  c->msg);
}

Test(sr_spec_json, string_too_long_for_buffer_is_an_error)
{
        char js[1024], name[300];
        sr_runspec_t spec;
        sr_errctx_t ec = { 0 };

        memset(name, 'n', sizeof(name) - 1);
        name[sizeof(name) - 1] = '\0';
        snprintf(js, sizeof(js),
                 "{\"pipeline_id\":\"" PID "\",\"stages\":[{\"targets\":"
                 "[{\"device_id\":\"" DID "\",\"device_name\":\"%s\"}]}]}",
                 name);
        cr_assert(eq(int, sr_spec_json_parse(js, strlen(js), &spec, &ec),
                     SR_ERR_INVALID));
        cr_assert(eq(str, ec.msg, "stages[0].targets[0].device_name: string "
                                  "too long (299 bytes, at most 255)"));
}

/* A spec of @p stages stages of @p ops operations (args {"n":0.10,"i":j},
 * as written) and @p targets targets each; caller frees. */
static char *spec_of(uint32_t stages, uint32_t ops, uint32_t targets)
{
        char *js = kit_spec_text(PID, stages, ops, targets, true);

        cr_assert(not(eq(ptr, js, NULL)));
        return js;
}

/* sr_spec_json_from_parsed() of @p js with @p lim (NULL: defaults). */
static sr_err_t parse_with(const char *js, const sr_spec_limits_t *lim,
                          sr_runspec_t *spec, sr_errctx_t *ec)
{
        json_t *root = json_loads(js, JSON_REJECT_DUPLICATES, NULL);
        sr_err_t err;

        cr_assert(not(eq(ptr, root, NULL)));
        err = sr_spec_json_from_parsed(root, js, strlen(js), lim, spec, ec);
        json_decref(root);
        return err;
}

Test(sr_spec_json, default_limits_refuse_the_101st_stage_naming_the_key)
{
        char *js = spec_of(101, 0, 0);
        sr_runspec_t spec;
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_spec_json_parse(js, strlen(js), &spec, &ec),
                     SR_ERR_INVALID));
        cr_assert(eq(str, ec.msg, "stages: 101 stages, at most 100 per run "
                                  "(run.max.stages)"));
        free(js);
        /* Each default at its value (all at once is over 4 MiB). */
        js = spec_of(100, 16, 1);
        cr_assert(eq(int, sr_spec_json_parse(js, strlen(js), &spec, &ec),
                     SR_OK), "%s", ec.msg);
        sr_runspec_fini(&spec);
        free(js);
        js = spec_of(1, 1, 1000);
        cr_assert(eq(int, sr_spec_json_parse(js, strlen(js), &spec, &ec),
                     SR_OK), "%s", ec.msg);
        sr_runspec_fini(&spec);
        free(js);
}

Test(sr_spec_json, each_configured_limit_takes_its_value_and_refuses_one_more)
{
        const sr_spec_limits_t lim = { 3, 2, 4 };
        static const struct {
                uint32_t s, o, t;
                const char *msg; /* NULL: accepted */
        } cases[] = {
                { 3, 2, 4, NULL },
                { 4, 1, 1, "stages: 4 stages, at most 3 per run "
                           "(run.max.stages)" },
                { 1, 3, 1, "stages[0].operations: 3 operations, at most 2 "
                           "per stage (stage.max.operations)" },
                { 1, 1, 5, "stages[0].targets: 5 targets, at most 4 per "
                           "stage (stage.max.targets)" },
        };
        sr_runspec_t spec;
        sr_errctx_t ec;

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *js = spec_of(cases[i].s, cases[i].o, cases[i].t);

                memset(&ec, 0, sizeof(ec));
                if (!cases[i].msg) {
                        cr_assert(eq(int, parse_with(js, &lim, &spec, &ec),
                                     SR_OK), "%s", ec.msg);
                        sr_runspec_fini(&spec);
                } else {
                        cr_assert(eq(int, parse_with(js, &lim, &spec, &ec),
                                     SR_ERR_INVALID));
                        cr_assert(eq(str, ec.msg, (char *)cases[i].msg));
                }
                free(js);
        }
}

Test(sr_spec_json, args_beyond_the_old_fixed_table_are_kept_as_written)
{
        /* 150 stages of 20 operations: past the 100 x 16 table the args
         * spans used to live in. */
        const sr_spec_limits_t lim = { 150, 20, 1 };
        char *js = spec_of(150, 20, 1);
        sr_runspec_t spec;
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, parse_with(js, &lim, &spec, &ec), SR_OK), "%s",
                  ec.msg);
        cr_assert(eq(u32, spec.n_stages, 150));
        cr_assert(eq(u32, spec.stages[149].n_ops, 20));
        cr_assert(eq(str, spec.stages[149].ops[19].args_json,
                     "{\"n\":0.10,\"i\":19}"));
        cr_assert(eq(str, spec.stages[0].ops[0].args_json,
                     "{\"n\":0.10,\"i\":0}"));
        sr_runspec_fini(&spec);
        free(js);
}

/* docs/targets.md, section 1: a stage whose targets come in chunks. */
static const char open_spec[] =
        "{\"pipeline_id\":\"" PID "\",\"stages\":["
        "{\"name\":\"canary\",\"operations\":[{\"operation_type\":"
        "\"REBOOT\"}],\"targets\":[{\"device_id\":\"" DID "\"}]},"
        "{\"name\":\"fleet\",\"operations\":[{\"operation_type\":"
        "\"REBOOT\"}],\"targets\":{\"append\":true,\"expected\":250000}},"
        "{\"name\":\"rest\",\"targets\":{\"expected\":null,"
        "\"append\":true}}]}";

Test(sr_spec_json, an_open_stage_parses_and_round_trips)
{
        sr_runspec_t spec, again;
        sr_errctx_t ec = { 0 };
        char *text;

        cr_assert(eq(int, sr_spec_json_parse(open_spec, strlen(open_spec),
                                             &spec, &ec), SR_OK), "%s",
                  ec.msg);
        cr_assert(not(spec.stages[0].append_targets));
        cr_assert(eq(u32, spec.stages[0].n_targets, 1));
        cr_assert(spec.stages[1].append_targets);
        cr_assert(eq(i64, spec.stages[1].expected_targets, 250000));
        cr_assert(eq(u32, spec.stages[1].n_targets, 0));
        cr_assert(eq(ptr, spec.stages[1].targets, NULL));
        cr_assert(spec.stages[2].append_targets);
        cr_assert(eq(i64, spec.stages[2].expected_targets, 0));
        text = sr_runspec_to_json(&spec);
        cr_assert(not(eq(ptr, text, NULL)));
        cr_assert(not(eq(ptr, strstr(text, "\"targets\":{\"append\":true,"
                                           "\"expected\":250000}"),
                         NULL)),
                  "%s", text);
        cr_assert(eq(int, sr_spec_json_parse(text, strlen(text), &again,
                                             &ec), SR_OK), "%s", ec.msg);
        cr_assert(eq(u64, sr_runspec_hash(&spec), sr_runspec_hash(&again)));
        free(text);
        sr_runspec_fini(&spec);
        sr_runspec_fini(&again);
}

Test(sr_spec_json, a_bad_open_stage_names_its_field)
{
        static const struct {
                char targets[96], msg[160];
        } cases[] = {
                { "{\"append\":false}",
                  "stages[0].targets.append: expected true (an open stage; "
                  "give inline targets as an array), got false" },
                { "{\"expected\":3}",
                  "stages[0].targets.append: required field missing (an "
                  "open stage is {\"append\": true, \"expected\": N})" },
                { "{\"append\":true,\"expected\":-1}",
                  "stages[0].targets.expected: expected a count of targets "
                  "(an integer >= 0), got -1" },
                { "{\"append\":true,\"expected\":\"9\"}",
                  "stages[0].targets.expected: expected a count of targets "
                  "(an integer >= 0), got \"9\"" },
                { "{\"append\":true,\"chunks\":3}",
                  "stages[0].targets.chunks: unknown field; allowed: "
                  "append, expected" },
                { "7", "stages[0].targets: expected an array, got 7" },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char js[2048];
                sr_runspec_t spec;
                sr_errctx_t ec = { 0 };

                snprintf(js, sizeof(js), "{\"pipeline_id\":\"" PID "\","
                         "\"stages\":[{\"name\":\"s\",\"targets\":%s}]}",
                         cases[i].targets);
                cr_assert(eq(int, sr_spec_json_parse(js, strlen(js), &spec,
                                                     &ec), SR_ERR_INVALID),
                          "%s", js);
                cr_assert(eq(str, ec.msg, (char *)cases[i].msg));
        }
}

/* A chunk's items (POST .../targets/): the inline targets' decoder, the
 * path and the limit given by the caller. */
Test(sr_spec_json, a_targets_array_is_decoded_naming_each_item_by_path)
{
        static const char good[] =
                "[{\"device_id\":\"" DID "\",\"device_name\":\"d-1\"},"
                "{\"device_id\":\"" SID "\",\"target_id\":\"" PID "\","
                "\"device_alias\":\"lobby\"}]";
        sr_spec_target_t *t = NULL, one;
        sr_errctx_t ec = { 0 };
        json_t *v = json_loads(good, 0, NULL);
        char id[SR_UUID_STR_LEN + 1];
        uint32_t n = 0;

        cr_assert(eq(int, sr_spec_json_targets(v, "targets", 2, "chunk",
                                               "stage.chunk.targets", &t, &n,
                                               &ec), SR_OK), "%s", ec.msg);
        cr_assert(eq(u32, n, 2));
        cr_assert(eq(str, t[0].device_name, "d-1"));
        sr_uuid_fmt(&t[1].target_id, id);
        cr_assert(eq(str, id, PID));
        cr_assert(eq(str, t[1].device_alias, "lobby"));
        free(t);
        cr_assert(eq(int, sr_spec_json_targets(v, "targets", 1, "chunk",
                                               "stage.chunk.targets", &t, &n,
                                               &ec), SR_ERR_INVALID));
        cr_assert(eq(str, ec.msg, "targets: 2 targets, at most 1 per chunk "
                                  "(stage.chunk.targets)"));
        json_decref(v);

        v = json_loads("[{\"device_id\":\"" DID "\"},{\"device_id\":42}]", 0,
                       NULL);
        cr_assert(eq(int, sr_spec_json_targets(v, "targets", 10, "chunk",
                                               "stage.chunk.targets", &t, &n,
                                               &ec), SR_ERR_INVALID));
        cr_assert(eq(str, ec.msg, "targets[1].device_id: expected a UUID "
                                  "string, got 42"));
        json_decref(v);

        v = json_loads("{\"device_id\":\"" DID "\"}", 0, NULL);
        cr_assert(eq(int, sr_spec_json_targets(v, "targets", 10, "chunk",
                                               "stage.chunk.targets", &t, &n,
                                               &ec), SR_ERR_INVALID));
        cr_assert(eq(str, ec.msg, "targets: expected an array of targets, "
                                  "got {\"device_id\":\"0a1b2c3d-4e5f-"
                                  "4a6b-8c7d-9e0f1a...")); /* shortened */
        /* one item, named by its caller */
        cr_assert(eq(int, sr_spec_json_target(v, "", &one, &ec), SR_OK),
                  "%s", ec.msg);
        sr_uuid_fmt(&one.device_id, id);
        cr_assert(eq(str, id, DID));
        json_decref(v);
        v = json_loads("{\"device\":1}", 0, NULL);
        cr_assert(eq(int, sr_spec_json_target(v, "", &one, &ec),
                     SR_ERR_INVALID));
        cr_assert(eq(str, ec.msg, "device: unknown field"));
        json_decref(v);
}
