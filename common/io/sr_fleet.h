/* common/io/sr_fleet.h - a supervised set of child processes (sr-dev's
 * workers, agent and gateway): started with stdout on a pipe, their
 * "http=URL" line remembered and every other line copied to stderr under
 * their name, probed on GET /readyz, restarted with a bounded backoff when
 * they die (not when they refuse to run: sr_fleet_refused()), stopped with
 * SIGTERM then SIGKILL.
 *
 * Single-threaded: one thread owns a fleet. Children run in their own
 * process group (a terminal's ^C reaches the supervisor only) and get
 * SIGTERM should the supervisor die first. SR_TEST_DEV_WRAP="valgrind ..."
 * runs every child under that command (scripts/test-valgrind.sh).
 */
#ifndef SR_FLEET_H
#define SR_FLEET_H

#include <stdbool.h>
#include <stddef.h>

#include "sr_err.h"

typedef struct sr_fleet sr_fleet_t; /* opaque */

#define SR_FLEET_MAX 65 /* children */

/** @brief An empty fleet. @returns NULL when out of memory; caller owns,
 *  sr_fleet_destroy(). */
sr_fleet_t *sr_fleet_new(void);

/**
 * @brief Add a child, not started yet. @p argv (NULL-terminated,
 * argv[0] the binary's path) and @p name are copied.
 * @returns its index, or -1 (too many children, too many arguments, out
 *          of memory).
 */
int sr_fleet_add(sr_fleet_t *f, const char *name, char *const argv[]);

/** @brief Start every child not running. @returns SR_OK or SR_ERR_IO
 *  (pipe/fork failed; a failed exec shows as the child exiting 127). */
sr_err_t sr_fleet_start(sr_fleet_t *f, sr_errctx_t *ec);

/**
 * @brief One turn of supervision, waiting up to @p timeout_ms for output:
 * copy the children's output, probe the ones not ready yet, reap the dead
 * and (with @p restart) restart those whose backoff has passed.
 * @returns how many children are ready (answered /readyz with 200 since
 *          they last started).
 */
int sr_fleet_poll(sr_fleet_t *f, int timeout_ms, bool restart);

/**
 * @brief Did a child refuse to run? A child that exits with EX_USAGE,
 * EX_NOPERM or EX_CONFIG (its configuration, arguments or credentials are
 * wrong) is not restarted: the supervisor should stop and say so.
 * @param[out] name the first such child's name (borrowed), or NULL.
 * @returns its exit status, 0 if none refused.
 */
int sr_fleet_refused(const sr_fleet_t *f, const char **name);

/** @brief Number of children. */
int sr_fleet_size(const sr_fleet_t *f);
/** @brief Whether child @p i announced "http=https://" (a gateway with
 *  gateway.tls.*): its /readyz is probed over TLS. */
bool sr_fleet_https(const sr_fleet_t *f, int i);
/** @brief The port child @p i announced with "http=", 0 before. */
int sr_fleet_http_port(const sr_fleet_t *f, int i);

/** @brief SIGTERM every child, wait up to @p grace_ms, SIGKILL the rest. */
void sr_fleet_stop(sr_fleet_t *f, int grace_ms);

/** @brief Stop (10 s grace) and free. NULL is a no-op. */
void sr_fleet_destroy(sr_fleet_t *f);

/**
 * @brief "<directory of this executable>/<name>" into @p out.
 * @returns SR_OK or SR_ERR_INVALID (unknown executable path, too long).
 */
sr_err_t sr_fleet_sibling_path(const char *name, char *out, size_t outsz,
                               sr_errctx_t *ec);

#endif /* SR_FLEET_H */
