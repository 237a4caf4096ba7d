/* common/io/sr_app.h - the start-up every worker binary shares: the common
 * command line and configuration, --help and --list-config, the log level
 * and name, and the stop signals.
 *
 * Call sr_app_start() first thing in main(), before any thread starts. */
#ifndef SR_APP_H
#define SR_APP_H

#include <signal.h>
#include <stdbool.h>

#include "sr_conf.h"
#include "sr_notify.h"

/** Set to 1 by SIGINT and SIGTERM (installed by sr_app_start()). */
extern volatile sig_atomic_t sr_app_stop_requested;

/**
 * @brief Parse the command line and environment into a new conf, answer
 * --help / --list-config / --list-config-md, set the log level and name,
 * install SIGINT/SIGTERM (stop flag) and ignore SIGPIPE.
 * @param prog the binary's name for messages ("sr-status").
 * @param usage_args the binary's own arguments for the usage line (e.g.
 *        "[--workers N]"), NULL for none.
 * @param[out] confp on true: caller owns the conf (sr_conf_destroy()).
 * @param[out] exit_code on false: what main() returns (0 after --help or a
 *             listing, EX_USAGE, EX_CONFIG, EX_OSERR); nothing to free.
 * @returns true when the worker should run.
 */
bool sr_app_start(const char *prog, const char *usage_args, int argc,
                  char **argv, sr_conf_t **confp, int *exit_code);

/**
 * @brief With schema.registry.url set, register our schemas there
 * (sr_registry_register()) and keep the ids it gives in
 * @p conf->schema_ids; without it, nothing. Call before any codec is made.
 * @returns SR_OK, or the sr_registry_register() error, prefixed with the
 *          URL (SR_ERR_CONF: a refused schema, exit EX_CONFIG).
 */
sr_err_t sr_app_register_schemas(sr_conf_t *conf, sr_errctx_t *ec);

/**
 * @brief sr_app_start(), then the schemas registered
 * (sr_app_register_schemas(): a failure is logged and the binary exits
 * with sr_app_exit_status() of it), then the service manager's notifier from
 * NOTIFY_SOCKET / WATCHDOG_USEC / WATCHDOG_PID (sr_notify_open_env(); a
 * no-op notifier without them). A bad NOTIFY_SOCKET is logged and the
 * binary exits EX_CONFIG.
 * @param[out] confp, notifyp on true: caller owns both (sr_conf_destroy(),
 *             sr_notify_close()).
 * @param[out] exit_code on false: what main() returns; nothing to free.
 * @returns true when the service should run.
 */
bool sr_app_start_notify(const char *prog, const char *usage_args, int argc,
                         char **argv, sr_conf_t **confp,
                         sr_notify_t **notifyp, int *exit_code);

/**
 * @brief The exit status of a worker binary stopped by @p err:
 * EX_NOPERM (77) for SR_ERR_AUTH (Kafka refused the credentials),
 * EX_CONFIG for SR_ERR_CONF, EXIT_FAILURE otherwise (README, "Exit status").
 */
int sr_app_exit_status(sr_err_t err);

#endif /* SR_APP_H */
