/* common/gateway/sr_health.h - is the broker reachable? A small pure state machine
 * fed with what librdkafka reports (the gateway's readiness).
 *
 * Inputs: the outcome of a periodic probe (a metadata request answered by
 * a broker, or not, within its timeout) and librdkafka's "all brokers
 * down" report (its error callback, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN).
 * Down at once on that report, or after SR_HEALTH_PROBES_DOWN failed
 * probes in a row; up again at the first answered probe. Nothing else
 * moves it: a request's failure (a record refused, a produce timing out)
 * says nothing about the broker as a whole.
 *
 * Pure: time is a parameter, no I/O, no clock, no lock; the caller
 * serialises access.
 */
#ifndef SR_HEALTH_H
#define SR_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#define SR_HEALTH_PROBES_DOWN 2 /* failed probes in a row that mean down */

typedef struct sr_health {
        bool up;
        int failed;       /* failed probes in a row */
        int64_t since_ms; /* when the current state began */
        char why[200];    /* while down: what librdkafka said */
} sr_health_t;

/** @brief Start up (the caller reached the broker to get this far). */
void sr_health_init(sr_health_t *h, int64_t now_ms);

/**
 * @brief A probe's outcome: @p answered, or not (then @p err says why,
 * may be NULL).
 * @returns true when the state changed (up <-> down).
 */
bool sr_health_probe(sr_health_t *h, bool answered, const char *err,
                     int64_t now_ms);

/**
 * @brief librdkafka reported every broker connection down (@p reason its
 * text, may be NULL).
 * @returns true when the state changed.
 */
bool sr_health_all_down(sr_health_t *h, const char *reason, int64_t now_ms);

#endif /* SR_HEALTH_H */
