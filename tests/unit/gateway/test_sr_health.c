/* tests/unit/gateway/test_sr_health.c - the broker health state machine behind the
 * gateway's readiness (sr_health.h). */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <string.h>

#include "sr_health.h"

TestSuite(sr_health, .timeout = 10.0);

Test(sr_health, starts_up)
{
        sr_health_t h;

        sr_health_init(&h, 1000);
        cr_assert(h.up);
        cr_assert(eq(i64, h.since_ms, 1000));
}

Test(sr_health, one_failed_probe_is_not_down_two_in_a_row_are)
{
        sr_health_t h;

        sr_health_init(&h, 0);
        cr_assert(not(sr_health_probe(&h, false, "timed out", 100)));
        cr_assert(h.up);
        cr_assert(not(sr_health_probe(&h, true, NULL, 200)));
        cr_assert(not(sr_health_probe(&h, false, "timed out", 300)));
        cr_assert(h.up, "the answered probe in between resets the count");
        cr_assert(sr_health_probe(&h, false, "kafka metadata: "
                                  "_TRANSPORT: down", 400));
        cr_assert(not(h.up));
        cr_assert(eq(i64, h.since_ms, 400));
        cr_assert(not(eq(ptr, strstr(h.why, "_TRANSPORT"), NULL)), "%s",
                  h.why);
}

Test(sr_health, all_brokers_down_report_is_down_at_once)
{
        sr_health_t h;

        sr_health_init(&h, 0);
        cr_assert(sr_health_all_down(&h, "_ALL_BROKERS_DOWN: 1/1 brokers are "
                                     "down", 50));
        cr_assert(not(h.up));
        cr_assert(not(eq(ptr, strstr(h.why, "1/1 brokers"), NULL)));
        cr_assert(not(sr_health_all_down(&h, "again", 60)),
                  "no change while down");
        cr_assert(eq(i64, h.since_ms, 50));
}

Test(sr_health, first_answered_probe_brings_it_back_up)
{
        sr_health_t h;

        sr_health_init(&h, 0);
        sr_health_all_down(&h, "down", 10);
        cr_assert(not(sr_health_probe(&h, false, "still down", 20)));
        cr_assert(not(h.up));
        cr_assert(sr_health_probe(&h, true, NULL, 30));
        cr_assert(h.up);
        cr_assert(eq(str, h.why, ""));
        cr_assert(eq(i64, h.since_ms, 30));
        /* and one failure after that is not down yet */
        cr_assert(not(sr_health_probe(&h, false, "blip", 40)));
        cr_assert(h.up);
}
