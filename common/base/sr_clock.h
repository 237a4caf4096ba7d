/* common/base/sr_clock.h - the clocks and the one ISO-8601 formatter.
 *
 * Wall time (CLOCK_REALTIME) is for timestamps that leave the process;
 * monotonic time is for deadlines and durations. Pure code (the state
 * machine, the codecs) never reads a clock: it is given times.
 * Thread-safe; no state.
 */
#ifndef SR_CLOCK_H
#define SR_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

/** @brief Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t sr_clock_wall_ms(void);
/** @brief Monotonic milliseconds (CLOCK_MONOTONIC), for deadlines. */
int64_t sr_clock_mono_ms(void);
/** @brief Monotonic seconds with sub-microsecond resolution, for
 *  durations measured in metrics. */
double sr_clock_mono_s(void);

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" */
#define SR_ISO8601_LEN 24

/**
 * @brief @p ms (milliseconds since the epoch, negative before 1970) as
 * ISO-8601 / RFC 3339 UTC with milliseconds, in the proleptic Gregorian
 * calendar, without printf: exactly SR_ISO8601_LEN characters, no NUL.
 * @returns false (nothing written) outside the years 0000..9999.
 */
bool sr_clock_iso8601(int64_t ms, char out[SR_ISO8601_LEN]);

#endif /* SR_CLOCK_H */
