/* common/base/sr_clock.c - clocks and ISO-8601 (see sr_clock.h). */
#include "sr_clock.h"

#include <time.h>

int64_t sr_clock_wall_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sr_clock_mono_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double sr_clock_mono_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Days since 1970-01-01 to a civil date (proleptic Gregorian); H. Hinnant's
 * algorithm, exact for every int64 day count we can be given. */
static void civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
        int64_t z = days + 719468;
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        int64_t doe = z - era * 146097;
        int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        int64_t mp = (5 * doy + 2) / 153;

        *d = (int)(doy - (153 * mp + 2) / 5 + 1);
        *m = (int)(mp < 10 ? mp + 3 : mp - 9);
        *y = yoe + era * 400 + (*m <= 2);
}

static char *d2(char *o, int v)
{
        *o++ = (char)('0' + v / 10);
        *o++ = (char)('0' + v % 10);
        return o;
}

bool sr_clock_iso8601(int64_t ms, char out[SR_ISO8601_LEN])
{
        int64_t secs = ms / 1000, msec = ms % 1000, days, sod, y;
        int m, d;
        char *o = out;

        /* Floor division: -1 ms is 1969-12-31T23:59:59.999Z. */
        if (msec < 0) {
                msec += 1000;
                secs -= 1;
        }
        days = secs / 86400;
        sod = secs % 86400;
        if (sod < 0) {
                sod += 86400;
                days -= 1;
        }
        civil_from_days(days, &y, &m, &d);
        if (y < 0 || y > 9999)
                return false;
        o = d2(o, (int)(y / 100));
        o = d2(o, (int)(y % 100));
        *o++ = '-';
        o = d2(o, m);
        *o++ = '-';
        o = d2(o, d);
        *o++ = 'T';
        o = d2(o, (int)(sod / 3600));
        *o++ = ':';
        o = d2(o, (int)(sod / 60 % 60));
        *o++ = ':';
        o = d2(o, (int)(sod % 60));
        *o++ = '.';
        *o++ = (char)('0' + msec / 100);
        o = d2(o, (int)(msec % 100));
        *o = 'Z';
        return true;
}
