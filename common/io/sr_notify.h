/* common/io/sr_notify.h - the service manager's notify protocol (systemd's
 * sd_notify(3), written out): one datagram per message to the unix socket
 * named by NOTIFY_SOCKET (a path, or "@name" for the abstract namespace),
 * "READY=1", "STATUS=...", "WATCHDOG=1", "STOPPING=1", newline-separated.
 *
 * Without NOTIFY_SOCKET every call is a no-op. A notifier belongs to the
 * thread of the main loop that calls sr_notify_tick(). */
#ifndef SR_NOTIFY_H
#define SR_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sr_err.h"

typedef struct sr_notify sr_notify_t;

/** Is the process ready? Same contract as the ops server's /readyz
 *  callback (sr_httpd.h): on false, @p why says why. */
typedef bool (*sr_notify_ready_fn)(void *arg, char *why, size_t why_size);

/**
 * @brief A notifier for the socket @p socket_path.
 * @param socket_path NOTIFY_SOCKET's value: an absolute path or "@name";
 *        NULL or "" gives a notifier whose calls do nothing.
 * @param watchdog_usec WATCHDOG_USEC's value (microseconds) or NULL/"":
 *        sr_notify_tick() sends WATCHDOG=1 every half of it.
 * @param watchdog_pid WATCHDOG_PID's value or NULL/"": when set and not
 *        this process's pid, the watchdog is meant for another process and
 *        stays off (sd_notify(3)).
 * @param[out] np caller owns; sr_notify_close().
 * @returns SR_OK, SR_ERR_INVALID (a path neither absolute nor "@", too long
 *          for a unix socket address, a WATCHDOG_USEC that is not a
 *          positive integer), SR_ERR_IO (socket()), SR_ERR_NOMEM.
 */
sr_err_t sr_notify_open(const char *socket_path, const char *watchdog_usec,
                        const char *watchdog_pid, sr_notify_t **np,
                        sr_errctx_t *ec);

/** @brief sr_notify_open() with NOTIFY_SOCKET, WATCHDOG_USEC and
 *  WATCHDOG_PID from the environment. Same ownership and returns. */
sr_err_t sr_notify_open_env(sr_notify_t **np, sr_errctx_t *ec);

/** @brief Close the socket. NULL ok. */
void sr_notify_close(sr_notify_t *n);

/** @brief Does @p n send anything (NOTIFY_SOCKET was set)? NULL: false. */
bool sr_notify_is_enabled(const sr_notify_t *n);

/** @brief The watchdog period: half of WATCHDOG_USEC, in ms (at least 1);
 *  0 without a watchdog. NULL: 0. */
int64_t sr_notify_watchdog_ms(const sr_notify_t *n);

/**
 * @brief Send @p msg (e.g. "READY=1\nSTATUS=serving") as one datagram.
 * NULL or a disabled notifier: SR_OK, nothing sent.
 * @returns SR_OK, SR_ERR_INVALID (message over 4 KiB), SR_ERR_IO (sendto,
 *          the socket path and errno in the message).
 */
sr_err_t sr_notify_send(sr_notify_t *n, const char *msg, sr_errctx_t *ec);

/**
 * @brief One turn of a main loop: until @p ready says true, STATUS= with
 * its reason whenever that changes (asked at most every 250 ms); the first
 * time it says true, READY=1 with STATUS=@p ready_status; and WATCHDOG=1
 * whenever sr_notify_watchdog_ms() has passed since the last one. Call it
 * from the loop whose progress the watchdog vouches for, only while that
 * loop runs. A failed send is logged once and not retried. NULL ok.
 * @param now_ms monotonic clock (sr_clock_mono_ms()).
 */
void sr_notify_tick(sr_notify_t *n, sr_notify_ready_fn ready, void *arg,
                    const char *ready_status, int64_t now_ms);

/** @brief Has READY=1 been sent? NULL: false. */
bool sr_notify_is_ready_sent(const sr_notify_t *n);

/** @brief STOPPING=1 with STATUS=@p status: the process drains and exits;
 *  the loop stops vouching for itself. NULL ok. */
void sr_notify_stopping(sr_notify_t *n, const char *status);

#endif /* SR_NOTIFY_H */
