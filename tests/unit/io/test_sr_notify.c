/* tests/unit/io/test_sr_notify.c - the notify protocol: datagrams to a
 * path or an abstract socket, no-op without NOTIFY_SOCKET, bad addresses
 * refused with their reason, the main loop's READY/STATUS/WATCHDOG pacing
 * and STOPPING. Each test listens on a socket of its own. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sr_notify.h"

static int lfd = -1;
static char lpath[108];
static sr_notify_t *nt;
static sr_errctx_t ec;

static void fini(void)
{
        sr_notify_close(nt);
        nt = NULL;
        if (lfd >= 0)
                close(lfd);
        if (lpath[0] == '/')
                unlink(lpath);
        lpath[0] = '\0';
}

TestSuite(sr_notify, .fini = fini, .timeout = 10.0);

/* Listen on a datagram socket: @p abstract "@name", else a path. The
 * NOTIFY_SOCKET value is left in lpath. */
static void listen_on(bool abstract)
{
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        socklen_t len;

        lfd = socket(AF_UNIX, SOCK_DGRAM, 0);
        cr_assert(ge(int, lfd, 0));
        if (abstract) {
                snprintf(lpath, sizeof(lpath), "@sr-notify-test-%d",
                         (int)getpid());
                memcpy(a.sun_path, lpath, strlen(lpath));
                a.sun_path[0] = '\0';
                len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
                                  strlen(lpath));
        } else {
                snprintf(lpath, sizeof(lpath), "/tmp/sr-notify-test-%d.sock",
                         (int)getpid());
                unlink(lpath);
                snprintf(a.sun_path, sizeof(a.sun_path), "%s", lpath);
                len = sizeof(a);
        }
        cr_assert(eq(int, bind(lfd, (struct sockaddr *)&a, len), 0));
}

/* The next datagram ("" when none arrives within 200 ms). */
static const char *next_msg(void)
{
        static char buf[4200];
        struct pollfd p = { .fd = lfd, .events = POLLIN };
        ssize_t n;

        if (poll(&p, 1, 200) != 1)
                return "";
        n = recv(lfd, buf, sizeof(buf) - 1, 0);
        cr_assert(gt(sz, (size_t)n + 1, 0));
        buf[n < 0 ? 0 : n] = '\0';
        return buf;
}

Test(sr_notify, a_path_socket_receives_each_message_as_one_datagram)
{
        listen_on(false);
        cr_assert(eq(int, sr_notify_open(lpath, NULL, NULL, &nt, &ec), SR_OK),
                  "%s", ec.msg);
        cr_assert(sr_notify_is_enabled(nt));
        cr_assert(eq(int, sr_notify_send(nt, "READY=1\nSTATUS=up", &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(str, (char *)next_msg(), "READY=1\nSTATUS=up"));
        cr_assert(eq(int, sr_notify_send(nt, "WATCHDOG=1", &ec), SR_OK));
        cr_assert(eq(str, (char *)next_msg(), "WATCHDOG=1"));
}

Test(sr_notify, an_abstract_at_socket_is_reached_in_the_abstract_namespace)
{
        listen_on(true);
        cr_assert(eq(int, sr_notify_open(lpath, NULL, NULL, &nt, &ec), SR_OK),
                  "%s", ec.msg);
        cr_assert(eq(int, sr_notify_send(nt, "READY=1", &ec), SR_OK), "%s",
                  ec.msg);
        cr_assert(eq(str, (char *)next_msg(), "READY=1"));
}

Test(sr_notify, without_notify_socket_every_call_is_a_no_op)
{
        cr_assert(eq(int, sr_notify_open(NULL, "1000000", NULL, &nt, &ec),
                     SR_OK));
        cr_assert(not(sr_notify_is_enabled(nt)));
        cr_assert(eq(i64, sr_notify_watchdog_ms(nt), 0));
        cr_assert(eq(int, sr_notify_send(nt, "READY=1", &ec), SR_OK));
        sr_notify_tick(nt, NULL, NULL, "x", 0);
        sr_notify_stopping(nt, "x");
        cr_assert(not(sr_notify_is_ready_sent(nt)));
        sr_notify_close(nt);
        nt = NULL;
        cr_assert(eq(int, sr_notify_open("", NULL, NULL, &nt, &ec), SR_OK));
        cr_assert(not(sr_notify_is_enabled(nt)));
        /* A NULL notifier (none opened) is a no-op too. */
        cr_assert(eq(int, sr_notify_send(NULL, "READY=1", &ec), SR_OK));
}

Test(sr_notify, a_path_too_long_for_a_unix_address_is_refused_by_name)
{
        char path[200];

        memset(path, 'a', sizeof(path) - 1);
        path[0] = '/';
        path[sizeof(path) - 1] = '\0';
        cr_assert(eq(int, sr_notify_open(path, NULL, NULL, &nt, &ec),
                     SR_ERR_INVALID));
        cr_assert(eq(ptr, nt, NULL));
        cr_assert(not(eq(ptr, strstr(ec.msg, "NOTIFY_SOCKET: 199 bytes"),
                         NULL)), "%s", ec.msg);
        cr_assert(not(eq(ptr, strstr(ec.msg, "at most 107"), NULL)), "%s",
                  ec.msg);
        /* 107 bytes and its NUL fit exactly; 108 do not. */
        path[107] = '\0';
        cr_assert(eq(int, sr_notify_open(path, NULL, NULL, &nt, &ec),
                     SR_OK), "%s", ec.msg);
        sr_notify_close(nt);
        nt = NULL;
        path[107] = 'a';
        path[108] = '\0';
        cr_assert(eq(int, sr_notify_open(path, NULL, NULL, &nt, &ec),
                     SR_ERR_INVALID));
}

Test(sr_notify, a_relative_path_or_a_bad_watchdog_is_refused_by_name)
{
        cr_assert(eq(int, sr_notify_open("run/notify", NULL, NULL, &nt, &ec),
                     SR_ERR_INVALID));
        cr_assert(not(eq(ptr, strstr(ec.msg, "neither an absolute path"),
                         NULL)), "%s", ec.msg);
        cr_assert(eq(int, sr_notify_open("/run/n", "soon", NULL, &nt, &ec),
                     SR_ERR_INVALID));
        cr_assert(not(eq(ptr, strstr(ec.msg, "WATCHDOG_USEC"), NULL)), "%s",
                  ec.msg);
        cr_assert(eq(int, sr_notify_open("/run/n", "0", NULL, &nt, &ec),
                     SR_ERR_INVALID));
}

Test(sr_notify, sending_to_a_socket_nobody_listens_on_names_it)
{
        cr_assert(eq(int, sr_notify_open("/tmp/sr-notify-nobody.sock", NULL,
                                         NULL, &nt, &ec), SR_OK));
        cr_assert(eq(int, sr_notify_send(nt, "READY=1", &ec), SR_ERR_IO));
        cr_assert(not(eq(ptr, strstr(ec.msg, "/tmp/sr-notify-nobody.sock"),
                         NULL)), "%s", ec.msg);
}

static int ready_calls;

static bool ready_after_two(void *arg, char *why, size_t why_size)
{
        (void)arg;
        if (++ready_calls > 2)
                return true;
        snprintf(why, why_size, "restoring partitions");
        return false;
}

Test(sr_notify, tick_sends_status_until_ready_then_ready_once)
{
        listen_on(false);
        cr_assert(eq(int, sr_notify_open(lpath, NULL, NULL, &nt, &ec),
                     SR_OK));
        sr_notify_tick(nt, ready_after_two, NULL, "processing", 0);
        cr_assert(eq(str, (char *)next_msg(),
                     "STATUS=not ready: restoring partitions"));
        /* Asked again only 250 ms later; the same reason is not repeated. */
        sr_notify_tick(nt, ready_after_two, NULL, "processing", 100);
        cr_assert(eq(int, ready_calls, 1));
        sr_notify_tick(nt, ready_after_two, NULL, "processing", 250);
        cr_assert(eq(str, (char *)next_msg(), ""));
        cr_assert(not(sr_notify_is_ready_sent(nt)));
        sr_notify_tick(nt, ready_after_two, NULL, "processing", 500);
        cr_assert(eq(str, (char *)next_msg(), "READY=1\nSTATUS=processing"));
        cr_assert(sr_notify_is_ready_sent(nt));
        sr_notify_tick(nt, ready_after_two, NULL, "processing", 1000);
        cr_assert(eq(int, ready_calls, 3));
        cr_assert(eq(str, (char *)next_msg(), "")); /* no watchdog asked */
}

Test(sr_notify, the_watchdog_is_paced_at_half_watchdog_usec)
{
        listen_on(true);
        cr_assert(eq(int, sr_notify_open(lpath, "300000", NULL, &nt, &ec),
                     SR_OK));
        cr_assert(eq(i64, sr_notify_watchdog_ms(nt), 150));
        sr_notify_tick(nt, NULL, NULL, "up", 1000);
        cr_assert(eq(str, (char *)next_msg(), "READY=1\nSTATUS=up"));
        cr_assert(eq(str, (char *)next_msg(), "WATCHDOG=1"));
        sr_notify_tick(nt, NULL, NULL, "up", 1149);
        cr_assert(eq(str, (char *)next_msg(), ""));
        sr_notify_tick(nt, NULL, NULL, "up", 1150);
        cr_assert(eq(str, (char *)next_msg(), "WATCHDOG=1"));
        sr_notify_stopping(nt, "draining");
        cr_assert(eq(str, (char *)next_msg(), "STOPPING=1\nSTATUS=draining"));
        /* Once stopping, the loop no longer vouches for itself. */
        sr_notify_tick(nt, NULL, NULL, "up", 5000);
        cr_assert(eq(str, (char *)next_msg(), ""));
}

Test(sr_notify, a_watchdog_meant_for_another_pid_stays_off)
{
        char pid[32];

        snprintf(pid, sizeof(pid), "%d", (int)getpid() + 1);
        cr_assert(eq(int, sr_notify_open("@x", "300000", pid, &nt, &ec),
                     SR_OK));
        cr_assert(eq(i64, sr_notify_watchdog_ms(nt), 0));
        sr_notify_close(nt);
        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        cr_assert(eq(int, sr_notify_open("@x", "300000", pid, &nt, &ec),
                     SR_OK));
        cr_assert(eq(i64, sr_notify_watchdog_ms(nt), 150));
}
