/* common/io/sr_notify.c - the notify protocol of sd_notify(3) in a few
 * lines: a SOCK_DGRAM unix socket, one sendto() per message. */
#include "sr_notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sr_log.h"

#define MSG_MAX 4096
#define STATUS_EVERY_MS 250

struct sr_notify {
        int fd; /* -1: disabled */
        struct sockaddr_un addr;
        socklen_t addr_len;
        int64_t watchdog_ms;  /* 0: no watchdog */
        int64_t next_beat_ms; /* 0: send at the next tick */
        int64_t next_status_ms;
        bool ready_sent, stopping, warned;
        char why[256]; /* the last STATUS= sent while not ready */
};

static sr_err_t parse_address(sr_notify_t *n, const char *path,
                              sr_errctx_t *ec)
{
        size_t len = strlen(path);

        if (path[0] != '/' && path[0] != '@')
                return sr_errctx_set(ec, SR_ERR_INVALID, "NOTIFY_SOCKET: "
                                     "\"%s\" is neither an absolute path nor "
                                     "an abstract \"@name\"", path);
        /* A path needs its NUL inside sun_path; "@name" becomes "\0name". */
        if (len + (path[0] == '/') > sizeof(n->addr.sun_path))
                return sr_errctx_set(ec, SR_ERR_INVALID, "NOTIFY_SOCKET: "
                                     "%zu bytes, a unix socket address holds "
                                     "at most %zu: \"%.60s...\"", len,
                                     sizeof(n->addr.sun_path) -
                                             (path[0] == '/'), path);
        n->addr.sun_family = AF_UNIX;
        memcpy(n->addr.sun_path, path, len);
        if (path[0] == '@')
                n->addr.sun_path[0] = '\0';
        n->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
                                  len + (path[0] == '/'));
        return SR_OK;
}

static sr_err_t parse_watchdog(sr_notify_t *n, const char *usec,
                               const char *pid, sr_errctx_t *ec)
{
        unsigned long long v;
        char *end;

        if (!usec || !*usec)
                return SR_OK;
        errno = 0;
        v = strtoull(usec, &end, 10);
        if (errno || *end || end == usec || v == 0 || usec[0] == '-')
                return sr_errctx_set(ec, SR_ERR_INVALID, "WATCHDOG_USEC: "
                                     "expected a positive integer, got "
                                     "\"%.40s\"", usec);
        if (pid && *pid && strtol(pid, NULL, 10) != (long)getpid())
                return SR_OK; /* another process's watchdog */
        n->watchdog_ms = (int64_t)(v / 2000);
        if (n->watchdog_ms < 1)
                n->watchdog_ms = 1;
        return SR_OK;
}

sr_err_t sr_notify_open(const char *socket_path, const char *watchdog_usec,
                        const char *watchdog_pid, sr_notify_t **np,
                        sr_errctx_t *ec)
{
        sr_notify_t *n = calloc(1, sizeof(*n));
        sr_err_t err;

        if (!n)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "notify: out of "
                                     "memory");
        n->fd = -1;
        if (!socket_path || !*socket_path) {
                *np = n;
                return SR_OK;
        }
        if ((err = parse_address(n, socket_path, ec)) ||
            (err = parse_watchdog(n, watchdog_usec, watchdog_pid, ec)))
                goto err_free;
        n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (n->fd < 0) {
                err = sr_errctx_set(ec, SR_ERR_IO, "NOTIFY_SOCKET: socket: "
                                    "%s", strerror(errno));
                goto err_free;
        }
        *np = n;
        return SR_OK;
err_free:
        free(n);
        return err;
}

sr_err_t sr_notify_open_env(sr_notify_t **np, sr_errctx_t *ec)
{
        return sr_notify_open(getenv("NOTIFY_SOCKET"),
                              getenv("WATCHDOG_USEC"), getenv("WATCHDOG_PID"),
                              np, ec);
}

void sr_notify_close(sr_notify_t *n)
{
        if (!n)
                return;
        if (n->fd >= 0)
                close(n->fd);
        free(n);
}

bool sr_notify_is_enabled(const sr_notify_t *n)
{
        return n && n->fd >= 0;
}

int64_t sr_notify_watchdog_ms(const sr_notify_t *n)
{
        return n && n->fd >= 0 ? n->watchdog_ms : 0;
}

bool sr_notify_is_ready_sent(const sr_notify_t *n)
{
        return n && n->ready_sent;
}

sr_err_t sr_notify_send(sr_notify_t *n, const char *msg, sr_errctx_t *ec)
{
        size_t len = strlen(msg);
        ssize_t sent;

        if (!n || n->fd < 0)
                return SR_OK;
        if (len > MSG_MAX)
                return sr_errctx_set(ec, SR_ERR_INVALID, "notify: message of "
                                     "%zu bytes, at most %d", len, MSG_MAX);
        do
                sent = sendto(n->fd, msg, len, MSG_NOSIGNAL,
                              (const struct sockaddr *)&n->addr, n->addr_len);
        while (sent < 0 && errno == EINTR);
        if (sent < 0)
                return sr_errctx_set(ec, SR_ERR_IO, "notify: sendto %s%s: %s",
                                     n->addr.sun_path[0] ? "" : "@",
                                     n->addr.sun_path + !n->addr.sun_path[0],
                                     strerror(errno));
        return SR_OK;
}

/* Sends @p msg; the first failure is logged, later ones are not (the
 * manager may be gone; the process goes on). */
static void send_or_warn(sr_notify_t *n, const char *msg)
{
        sr_errctx_t ec = { 0 };

        if (sr_notify_send(n, msg, &ec) != SR_OK && !n->warned) {
                n->warned = true;
                SR_WARN("NOTIFY", "cannot notify the service manager "
                        "err=\"%s\"", ec.msg);
        }
}

void sr_notify_tick(sr_notify_t *n, sr_notify_ready_fn ready, void *arg,
                    const char *ready_status, int64_t now_ms)
{
        char msg[512], why[256];

        if (!n || n->fd < 0 || n->stopping)
                return;
        if (!n->ready_sent && now_ms >= n->next_status_ms) {
                n->next_status_ms = now_ms + STATUS_EVERY_MS;
                why[0] = '\0';
                if (!ready || ready(arg, why, sizeof(why))) {
                        snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s",
                                 ready_status ? ready_status : "ready");
                        send_or_warn(n, msg);
                        n->ready_sent = true;
                } else if (strcmp(why, n->why)) {
                        why[sizeof(why) - 1] = '\0';
                        snprintf(n->why, sizeof(n->why), "%s", why);
                        snprintf(msg, sizeof(msg), "STATUS=not ready: %s",
                                 why[0] ? why : "starting");
                        send_or_warn(n, msg);
                }
        }
        if (n->watchdog_ms && now_ms >= n->next_beat_ms) {
                n->next_beat_ms = now_ms + n->watchdog_ms;
                send_or_warn(n, "WATCHDOG=1");
        }
}

void sr_notify_stopping(sr_notify_t *n, const char *status)
{
        char msg[512];

        if (!n || n->fd < 0 || n->stopping)
                return;
        n->stopping = true;
        snprintf(msg, sizeof(msg), "STOPPING=1\nSTATUS=%s",
                 status ? status : "stopping");
        send_or_warn(n, msg);
}
