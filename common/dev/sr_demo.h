/* common/dev/sr_demo.h - sr-dev --demo: realistic rollouts driven through
 * the fleet's own gateway, so that a newcomer sees runs move in the
 * console and in `sr-cli follow` within a minute.
 *
 * Each round starts four runs from the specs in deploy/examples/demo/
 * (embedded in the binary at build time) and drives them as an operator
 * would: the canary (1% -> 10% -> 100%, auto_promote false) is promoted
 * stage by stage each time it waits; the failing run (two devices fail
 * through the agent's "simulate" directive) ends failure on its own; the
 * slow run is cancelled once it has run cancel_after_ms; the batch is
 * auto-promoted to success. A round ends when all four are terminal; the
 * next starts pause_ms later, up to `rounds` rounds (0: until stopped).
 * Everything it does is logged (logfmt, fac=DEMO) on stderr.
 *
 * Threads: the demo runs on a thread of its own; start and stop from one
 * thread.
 */
#ifndef SR_DEMO_H
#define SR_DEMO_H

#include "sr_err.h"

typedef struct sr_demo sr_demo_t; /* opaque */

typedef struct sr_demo_conf {
        const char *host;    /* gateway, IPv4 literal (borrowed, copied) */
        int port;
        const char *token;   /* bearer token (borrowed, copied) */
        int rounds;          /* 0: until stopped (the default) */
        int pause_ms;        /* between the end of a round and the next */
        int cancel_after_ms; /* the slow run's time before its cancel */
        int poll_ms;         /* how often each run is read */
} sr_demo_conf_t;

/** @brief The demo's defaults for @p host:@p port and @p token. */
sr_demo_conf_t sr_demo_conf_default(const char *host, int port,
                                    const char *token);

/**
 * @brief Start the demo thread.
 * @param[out] out set on SR_OK; caller owns it (sr_demo_stop()).
 * @returns SR_OK, SR_ERR_NOMEM, SR_ERR_INVALID (a conf value out of
 *          range, named in @p ec), SR_ERR_IO (the thread did not start).
 */
sr_err_t sr_demo_start(const sr_demo_conf_t *conf, sr_demo_t **out,
                       sr_errctx_t *ec);

/** @brief Stop the thread (at most one HTTP timeout, 10 s), join it and
 *  free. Runs in flight are left as they are. NULL ok. */
void sr_demo_stop(sr_demo_t *d);

/** @brief The embedded spec of demo run @p name ("canary", "failing",
 *  "cancelled", "batch"): borrowed static text, NULL if unknown. */
const char *sr_demo_spec(const char *name);

#endif /* SR_DEMO_H */
