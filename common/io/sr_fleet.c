/* common/io/sr_fleet.c - spawning, watching and restarting child
 * processes (see sr_fleet.h). */
#include "sr_clock.h"
#include "sr_fleet.h"
#include "sr_hclient.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "sr_log.h"

#define MAX_ARGS 96

typedef struct child {
        char name[32];     /* "status-0", "agent": for logs */
        char **argv;       /* owned; NULL-terminated; argv[0] the path */
        pid_t pid;         /* 0: not running */
        int out_fd;        /* read end of its stdout; -1 none */
        char line[1024];   /* partial stdout line */
        size_t line_len;
        char http_host[64]; /* from "http=http[s]://HOST:PORT" */
        bool https;         /* the gateway with gateway.tls.* */
        int http_port;      /* 0: not announced (yet) */
        bool ready;         /* /readyz answered 200 once */
        int64_t started_at; /* monotonic ms */
        int64_t restart_at; /* monotonic ms; 0: none scheduled */
        int restarts;       /* consecutive quick deaths, for backoff */
} child_t;

struct sr_fleet {
        int n;
        child_t kids[SR_FLEET_MAX];
        int refused_status;   /* 0, or the exit status of a refusal */
        char refused_by[32];  /* the child that refused */
};

/* A child that exits with one of these said its configuration, its
 * arguments or its credentials are wrong (sysexits.h): starting it again
 * would only repeat the refusal. */
static bool refusal_status(int status)
{
        return status == EX_USAGE || status == EX_NOPERM ||
               status == EX_CONFIG;
}

/* ---- SR_TEST_DEV_WRAP (scripts/test-valgrind.sh) ----
 * SR_TEST_DEV_WRAP="valgrind --error-exitcode=99 ..." (SR_TEST_* is not
 * configuration, see sr_conf.c) runs every child as
 * "<wrapper words> <argv...>": the words are split on spaces (no quoting).
 * Built before fork (the child may only make async-signal-safe calls).
 * Returns NULL without the variable (use c->argv) or when out of memory;
 * the caller frees the array and the copy in *words. */
static char **wrap_argv(char *const *argv, char **words)
{
        const char *env = getenv("SR_TEST_DEV_WRAP");
        size_t n = 0, k = 0, argc = 0;
        char **av, *tok, *save = NULL;

        *words = NULL;
        if (!env || !*env)
                return NULL;
        for (const char *p = env; *p; p++)
                n += *p != ' ' && (p == env || p[-1] == ' ');
        while (argv[argc])
                argc++;
        *words = strdup(env);
        av = calloc(n + argc + 1, sizeof(*av));
        if (!*words || !av) {
                free(*words);
                free(av);
                *words = NULL;
                return NULL;
        }
        for (tok = strtok_r(*words, " ", &save); tok && k < n;
             tok = strtok_r(NULL, " ", &save))
                av[k++] = tok;
        for (size_t i = 0; i < argc; i++)
                av[k++] = argv[i];
        av[k] = NULL;
        return av;
}
/* ---- end SR_TEST_DEV_WRAP ---- */

static sr_err_t child_start(child_t *c, int64_t now, sr_errctx_t *ec)
{
        char *wrap_words = NULL;
        char **wrapped = wrap_argv(c->argv, &wrap_words);
        char **exec_argv = wrapped ? wrapped : c->argv;
        int fds[2];
        pid_t pid;

        if (pipe2(fds, O_CLOEXEC)) {
                free(wrapped);
                free(wrap_words);
                return sr_errctx_set(ec, SR_ERR_IO, "%s: pipe: %s", c->name,
                                     strerror(errno));
        }
        pid = fork();
        if (pid < 0) {
                free(wrapped);
                free(wrap_words);
                close(fds[0]);
                close(fds[1]);
                return sr_errctx_set(ec, SR_ERR_IO, "%s: fork: %s", c->name,
                                     strerror(errno));
        }
        if (pid == 0) {
                /* Child: only async-signal-safe calls until exec. Its own
                 * process group, so a terminal's ^C reaches sr-dev only and
                 * sr-dev stops the children in order. */
                struct sigaction sa;

                memset(&sa, 0, sizeof(sa));
                sa.sa_handler = SIG_DFL;
                sigaction(SIGINT, &sa, NULL);
                sigaction(SIGTERM, &sa, NULL);
                sigaction(SIGPIPE, &sa, NULL);
                setpgid(0, 0);
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (getppid() == 1) /* sr-dev died before prctl() */
                        _exit(1);
                if (dup2(fds[1], STDOUT_FILENO) < 0)
                        _exit(127);
                if (wrapped) /* "valgrind": PATH lookup */
                        execvp(exec_argv[0], exec_argv);
                else
                        execv(exec_argv[0], exec_argv);
                _exit(127);
        }
        free(wrapped);
        free(wrap_words);
        close(fds[1]);
        fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
        c->pid = pid;
        c->out_fd = fds[0];
        c->line_len = 0;
        c->http_port = 0;
        c->ready = false;
        c->started_at = now;
        c->restart_at = 0;
        SR_INFO("FLEET", "started %s pid=%d", c->name, (int)pid);
        return SR_OK;
}

static void on_line(child_t *c, const char *line)
{
        char host[64];
        int port;

        char scheme[8];

        if (sscanf(line, "http=%7[a-z]://%63[^:/]:%d", scheme, host,
                   &port) == 3 &&
            (!strcmp(scheme, "http") || !strcmp(scheme, "https")) &&
            port > 0 && port < 65536) {
                c->https = !strcmp(scheme, "https");
                /* A wildcard bind is reached through loopback. */
                snprintf(c->http_host, sizeof(c->http_host), "%s",
                         !strcmp(host, "0.0.0.0") ? "127.0.0.1" : host);
                c->http_port = port;
                SR_INFO("FLEET", "%s ops server http=%s://%s:%d", c->name,
                        scheme, c->http_host, port);
                return;
        }
        fprintf(stderr, "[%s] %s\n", c->name, line);
}

static void child_drain(child_t *c)
{
        char buf[4096];
        ssize_t n;

        while (c->out_fd >= 0) {
                n = read(c->out_fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return;
                if (n <= 0) { /* end of file or error: the child is gone */
                        close(c->out_fd);
                        c->out_fd = -1;
                        return;
                }
                for (ssize_t i = 0; i < n; i++) {
                        if (buf[i] == '\n' ||
                            c->line_len == sizeof(c->line) - 1) {
                                c->line[c->line_len] = '\0';
                                on_line(c, c->line);
                                c->line_len = 0;
                                if (buf[i] == '\n')
                                        continue;
                        }
                        c->line[c->line_len++] = buf[i];
                }
        }
}

static bool child_probe_ready(const child_t *c)
{
        sr_hresp_t r = { 0 };
        bool ok;

        if (!c->http_port)
                return false;
        ok = (c->https ? sr_hclient_request_https :
                         sr_hclient_request)(c->http_host, c->http_port, "GET",
                                             "/readyz", NULL, NULL, 1000, &r,
                                             NULL) == SR_OK &&
             r.status == 200;
        sr_hresp_free(&r);
        return ok;
}

static void child_reset(child_t *c)
{
        if (c->out_fd >= 0) {
                child_drain(c);
                if (c->out_fd >= 0)
                        close(c->out_fd);
        }
        c->out_fd = -1;
        c->pid = 0;
        c->http_port = 0;
        c->ready = false;
}

/* ------------------------------------------------------------ fleet */

sr_fleet_t *sr_fleet_new(void)
{
        return calloc(1, sizeof(sr_fleet_t));
}

int sr_fleet_add(sr_fleet_t *f, const char *name, char *const argv[])
{
        child_t *c;
        size_t argc = 0;

        while (argv[argc])
                argc++;
        if (f->n == SR_FLEET_MAX || argc == 0 || argc > MAX_ARGS)
                return -1;
        c = &f->kids[f->n];
        memset(c, 0, sizeof(*c));
        c->argv = calloc(argc + 1, sizeof(*c->argv));
        if (!c->argv)
                return -1;
        for (size_t i = 0; i < argc; i++) {
                if (!(c->argv[i] = strdup(argv[i]))) {
                        while (i-- > 0)
                                free(c->argv[i]);
                        free(c->argv);
                        c->argv = NULL;
                        return -1;
                }
        }
        snprintf(c->name, sizeof(c->name), "%s", name);
        c->out_fd = -1;
        return f->n++;
}

sr_err_t sr_fleet_start(sr_fleet_t *f, sr_errctx_t *ec)
{
        int64_t now = sr_clock_mono_ms();

        for (int i = 0; i < f->n; i++) {
                sr_err_t err;

                if (f->kids[i].pid)
                        continue;
                err = child_start(&f->kids[i], now, ec);
                if (err)
                        return err;
        }
        return SR_OK;
}

/* Reap exited children; with @p restart, schedule their restart with a
 * backoff that doubles with every quick death (0.5 s .. 32 s). */
static void reap(sr_fleet_t *f, int64_t now, bool restart)
{
        int wstatus;
        pid_t pid;

        while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
                for (int i = 0; i < f->n; i++) {
                        child_t *c = &f->kids[i];
                        int64_t backoff;

                        if (c->pid != pid)
                                continue;
                        child_reset(c);
                        if (!restart)
                                break;
                        if (WIFEXITED(wstatus) &&
                            refusal_status(WEXITSTATUS(wstatus))) {
                                SR_ERROR("FLEET", "%s refused to run, not "
                                         "restarted pid=%d status=%d "
                                         "reason=\"its configuration, "
                                         "arguments or credentials: see its "
                                         "error above\"", c->name, (int)pid,
                                         WEXITSTATUS(wstatus));
                                if (!f->refused_status) {
                                        f->refused_status =
                                                WEXITSTATUS(wstatus);
                                        snprintf(f->refused_by,
                                                 sizeof(f->refused_by), "%s",
                                                 c->name);
                                }
                                break;
                        }
                        c->restarts = now - c->started_at > 60000 ? 0 :
                                      c->restarts + 1;
                        backoff = 500LL << (c->restarts < 6 ? c->restarts :
                                                              6);
                        c->restart_at = now + backoff;
                        SR_ERROR("FLEET", "%s died unexpectedly pid=%d "
                                 "status=%d signal=%d restart_in_ms=%lld",
                                 c->name, (int)pid,
                                 WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) :
                                                      -1,
                                 WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0,
                                 (long long)backoff);
                }
        }
}

int sr_fleet_poll(sr_fleet_t *f, int timeout_ms, bool restart)
{
        struct pollfd pfds[SR_FLEET_MAX];
        sr_errctx_t ec = { 0 };
        int64_t now;
        int n = 0, ready = 0;

        for (int i = 0; i < f->n; i++)
                if (f->kids[i].out_fd >= 0)
                        pfds[n++] = (struct pollfd){ f->kids[i].out_fd,
                                                     POLLIN, 0 };
        poll(pfds, (nfds_t)n, timeout_ms);
        now = sr_clock_mono_ms();
        for (int i = 0; i < f->n; i++) {
                child_t *c = &f->kids[i];

                child_drain(c);
                if (c->pid && !c->ready && child_probe_ready(c)) {
                        c->ready = true;
                        SR_INFO("FLEET", "%s ready", c->name);
                }
                ready += c->ready;
        }
        reap(f, now, restart);
        for (int i = 0; i < f->n && restart; i++) {
                child_t *c = &f->kids[i];

                if (!c->pid && c->restart_at && now >= c->restart_at &&
                    child_start(c, now, &ec))
                        SR_ERROR("FLEET", "restart failed err=\"%s\"",
                                 ec.msg);
        }
        return ready;
}

int sr_fleet_refused(const sr_fleet_t *f, const char **name)
{
        if (name)
                *name = f->refused_status ? f->refused_by : NULL;
        return f->refused_status;
}

int sr_fleet_size(const sr_fleet_t *f)
{
        return f->n;
}

bool sr_fleet_https(const sr_fleet_t *f, int i)
{
        return i >= 0 && i < f->n && f->kids[i].https;
}

int sr_fleet_http_port(const sr_fleet_t *f, int i)
{
        return i >= 0 && i < f->n ? f->kids[i].http_port : 0;
}

void sr_fleet_stop(sr_fleet_t *f, int grace_ms)
{
        int64_t deadline = sr_clock_mono_ms() + grace_ms;
        int alive;

        for (int i = 0; i < f->n; i++)
                if (f->kids[i].pid)
                        kill(f->kids[i].pid, SIGTERM);
        do {
                sr_fleet_poll(f, 100, false);
                alive = 0;
                for (int i = 0; i < f->n; i++)
                        alive += f->kids[i].pid != 0;
        } while (alive && sr_clock_mono_ms() < deadline);
        for (int i = 0; i < f->n; i++) {
                if (!f->kids[i].pid)
                        continue;
                SR_WARN("FLEET", "%s did not stop in time: SIGKILL",
                        f->kids[i].name);
                kill(f->kids[i].pid, SIGKILL);
                waitpid(f->kids[i].pid, NULL, 0);
                child_reset(&f->kids[i]);
        }
}

void sr_fleet_destroy(sr_fleet_t *f)
{
        if (!f)
                return;
        sr_fleet_stop(f, 10000);
        for (int i = 0; i < f->n; i++) {
                for (char **a = f->kids[i].argv; a && *a; a++)
                        free(*a);
                free(f->kids[i].argv);
        }
        free(f);
}

sr_err_t sr_fleet_sibling_path(const char *name, char *out, size_t outsz,
                               sr_errctx_t *ec)
{
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        char *slash;

        if (n <= 0)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "/proc/self/exe: %s", strerror(errno));
        self[n] = '\0';
        slash = strrchr(self, '/');
        if (!slash)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "/proc/self/exe: no directory");
        *slash = '\0';
        if (snprintf(out, outsz, "%s/%s", self, name) >= (int)outsz)
                return sr_errctx_set(ec, SR_ERR_INVALID, "%s/%s: too long",
                                     self, name);
        return SR_OK;
}
