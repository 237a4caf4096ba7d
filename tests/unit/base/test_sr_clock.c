/* tests/unit/base/test_sr_clock.c - the clocks and the one ISO-8601
 * formatter, against known instants and against gmtime_r + strftime. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "sr_clock.h"

TestSuite(sr_clock, .timeout = 30.0);

static void expect_iso(int64_t ms, const char *want)
{
        char out[SR_ISO8601_LEN + 1];

        memset(out, '#', sizeof(out));
        cr_assert(sr_clock_iso8601(ms, out), "%lld", (long long)ms);
        cr_assert(eq(chr, out[SR_ISO8601_LEN], '#'), "wrote past the end");
        out[SR_ISO8601_LEN] = '\0';
        cr_assert(eq(str, out, (char *)want));
}

Test(sr_clock, iso8601_of_known_instants)
{
        expect_iso(0, "1970-01-01T00:00:00.000Z");
        expect_iso(1700000000123LL, "2023-11-14T22:13:20.123Z");
        expect_iso(951827696007LL, "2000-02-29T12:34:56.007Z");
        expect_iso(-1, "1969-12-31T23:59:59.999Z");
        expect_iso(-62167219200000LL, "0000-01-01T00:00:00.000Z");
        expect_iso(253402300799999LL, "9999-12-31T23:59:59.999Z");
}

Test(sr_clock, iso8601_refuses_years_outside_four_digits)
{
        char out[SR_ISO8601_LEN] = { 0 };

        cr_assert(not(sr_clock_iso8601(253402300800000LL, out)));
        cr_assert(not(sr_clock_iso8601(-62167219200001LL, out)));
        cr_assert(not(sr_clock_iso8601(INT64_MAX, out)));
        cr_assert(not(sr_clock_iso8601(INT64_MIN, out)));
        cr_assert(eq(chr, out[0], 0), "wrote on refusal");
}

/* A million instants from 1970 to 2200, against the C library. */
Test(sr_clock, iso8601_equals_gmtime_and_strftime)
{
        uint64_t x = 0x243f6a8885a308d3ULL;

        for (int i = 0; i < 1000000; i++) {
                char got[SR_ISO8601_LEN + 1], want[64];
                int64_t ms;
                time_t s;
                struct tm tm;

                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ms = (int64_t)(x % 7258118400000ULL); /* < 2200-01-01 */
                s = (time_t)(ms / 1000);
                cr_assert_not_null(gmtime_r(&s, &tm));
                strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
                snprintf(want + 19, sizeof(want) - 19, ".%03dZ",
                         (int)(ms % 1000));
                cr_assert(sr_clock_iso8601(ms, got));
                got[SR_ISO8601_LEN] = '\0';
                if (strcmp(got, want))
                        cr_fatal("%lld: %s, want %s", (long long)ms,
                                 got, want);
        }
}

Test(sr_clock, monotonic_clock_never_goes_back_and_wall_clock_is_now)
{
        int64_t a = sr_clock_mono_ms(), w = sr_clock_wall_ms();
        double s = sr_clock_mono_s();

        cr_assert(ge(i64, sr_clock_mono_ms(), a));
        cr_assert(ge(dbl, sr_clock_mono_s(), s));
        cr_assert(w >= (int64_t)time(NULL) * 1000 - 1000,
                  "wall clock %lld is behind time()", (long long)w);
}
