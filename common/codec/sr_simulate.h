/* common/codec/sr_simulate.h - sr-agent's simulation directive: an
 * operation's args may carry
 *
 *   "simulate": {"fail": ["lobby-2", ...] | true, "latency_ms": 800}
 *
 * telling the simulated device agent which devices' commands end FAILED
 * (by device_name; true: every device) and how far apart their answers
 * are. It exists for demos and tests (sr-dev --demo); a real device agent
 * ignores it like any unknown arg. Pure: no I/O, no globals.
 */
#ifndef SR_SIMULATE_H
#define SR_SIMULATE_H

#include <stdbool.h>

#include "sr_err.h"

#define SR_SIMULATE_LATENCY_MAX 600000 /* ms, as agent.latency.ms */

typedef struct sr_simulate {
        bool present;   /* the args hold a "simulate" object */
        bool fail;      /* this device's command ends FAILED */
        int latency_ms; /* -1: the agent's agent.latency.ms */
} sr_simulate_t;

/**
 * @brief Read the directive of operation args @p args_json (borrowed; NULL
 * or "" read as {}) for the device @p device_name (borrowed).
 * @param[out] out always set: on an error, as if there were no directive.
 * @returns SR_OK (no "simulate" key included), or SR_ERR_INVALID when the
 *          args are not a JSON object or "simulate" is malformed: @p ec
 *          names the offending path (args.simulate.fail[1], ...).
 */
sr_err_t sr_simulate_parse(const char *args_json, const char *device_name,
                           sr_simulate_t *out, sr_errctx_t *ec);

#endif /* SR_SIMULATE_H */
