/* tests/lib/kit_bench.h - clocks and memory figures the benchmark programs
 * share (header only; no Criterion). */
#ifndef SR_KIT_BENCH_H
#define SR_KIT_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/** Seconds on the monotonic clock. */
static inline double kit_mono_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/** qsort() comparator of doubles, ascending. */
static inline int kit_cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

/** CPU seconds of this process (every thread). */
static inline double kit_cpu_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/** A kB field of /proc/self/status ("VmHWM", "VmRSS") in MB; -1 when it
 * cannot be read. */
static inline double kit_proc_status_mb(const char *field)
{
        char line[256];
        size_t fl = strlen(field);
        double kb = -1;
        FILE *f = fopen("/proc/self/status", "r");

        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (!strncmp(line, field, fl) && line[fl] == ':') {
                        kb = atof(line + fl + 1);
                        break;
                }
        fclose(f);
        return kb / 1024.0;
}

#endif /* SR_KIT_BENCH_H */
