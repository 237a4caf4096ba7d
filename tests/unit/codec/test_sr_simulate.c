/* tests/unit/codec/test_sr_simulate.c - the agent's "simulate" directive
 * in operation args: which devices fail, how slowly, and errors that name
 * their path. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <string.h>

#include "sr_simulate.h"

TestSuite(sr_simulate, .timeout = 5.0);

Test(sr_simulate, listed_device_fails_and_others_succeed_with_the_latency)
{
        const char *args = "{\"package_name\":\"x\",\"simulate\":"
                           "{\"fail\":[\"lobby-2\",\"floor-9\"],"
                           "\"latency_ms\":750}}";
        sr_simulate_t s;
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_simulate_parse(args, "lobby-2", &s, &ec), SR_OK));
        cr_assert(s.present && s.fail);
        cr_assert(eq(int, s.latency_ms, 750));
        cr_assert(eq(int, sr_simulate_parse(args, "floor-9", &s, &ec), SR_OK));
        cr_assert(s.fail);
        cr_assert(eq(int, sr_simulate_parse(args, "lobby-1", &s, &ec), SR_OK));
        cr_assert(s.present && !s.fail);
        cr_assert(eq(int, s.latency_ms, 750));
}

Test(sr_simulate, fail_true_fails_every_device)
{
        sr_simulate_t s;
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_simulate_parse("{\"simulate\":{\"fail\":true}}",
                                            "any", &s, &ec), SR_OK));
        cr_assert(s.fail);
        cr_assert(eq(int, s.latency_ms, -1));
}

Test(sr_simulate, args_without_directive_keep_the_agent_defaults)
{
        const char *cases[] = { NULL, "", "{}", "{\"package_name\":\"x\"}" };
        sr_simulate_t s;
        sr_errctx_t ec = { 0 };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                cr_assert(eq(int, sr_simulate_parse(cases[i], "d", &s, &ec),
                             SR_OK));
                cr_assert(s.present == false && s.fail == false);
                cr_assert(eq(int, s.latency_ms, -1));
        }
}

Test(sr_simulate, malformed_directive_is_refused_naming_its_path)
{
        static const struct {
                const char *args, *msg;
        } cases[] = {
                { "[1]", "args: expected an object" },
                { "{\"simulate\":3}", "args.simulate: expected an object" },
                { "{\"simulate\":{\"fail\":[\"a\",2]}}",
                  "args.simulate.fail[1]: expected a device name" },
                { "{\"simulate\":{\"fail\":\"a\"}}", "args.simulate.fail:" },
                { "{\"simulate\":{\"latency_ms\":-1}}",
                  "args.simulate.latency_ms: expected an integer" },
                { "{\"simulate\":{\"latency_ms\":600001}}",
                  "args.simulate.latency_ms:" },
                { "{\"simulate\":{\"latency_ms\":1.5}}",
                  "args.simulate.latency_ms:" },
                { "{\"simulate\":{\"fial\":[]}}",
                  "args.simulate.fial: unknown key" },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                sr_simulate_t s;
                sr_errctx_t ec = { 0 };

                cr_assert(eq(int, sr_simulate_parse(cases[i].args, "a", &s,
                                                    &ec), SR_ERR_INVALID),
                          "%s", cases[i].args);
                cr_assert(strstr(ec.msg, cases[i].msg) != NULL,
                          "%s: got \"%s\"", cases[i].args, ec.msg);
                cr_assert(s.present == false && s.fail == false &&
                                  s.latency_ms == -1,
                          "%s: an error leaves no directive", cases[i].args);
        }
}
