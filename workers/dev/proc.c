/* workers/dev/proc.c - spawning and watching sr-dev's children. */
#include "proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sr_log.h"

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

sr_err_t child_start(child_t *c, int64_t now, sr_errctx_t *ec)
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
        SR_INFO("DEV", "started %s pid=%d", c->name, (int)pid);
        return SR_OK;
}

static void on_line(child_t *c, const char *line)
{
        char host[64];
        int port;

        if (sscanf(line, "http=http://%63[^:/]:%d", host, &port) == 2 &&
            port > 0 && port < 65536) {
                /* A wildcard bind is reached through loopback. */
                snprintf(c->http_host, sizeof(c->http_host), "%s",
                         !strcmp(host, "0.0.0.0") ? "127.0.0.1" : host);
                c->http_port = port;
                SR_INFO("DEV", "%s ops server http=http://%s:%d", c->name,
                        c->http_host, port);
                return;
        }
        fprintf(stderr, "[%s] %s\n", c->name, line);
}

void child_drain(child_t *c)
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

bool child_probe_ready(const child_t *c)
{
        static const char req[] = "GET /readyz HTTP/1.0\r\n"
                                  "Host: localhost\r\n\r\n";
        struct sockaddr_in addr;
        struct pollfd pfd;
        char resp[64];
        size_t got = 0;
        ssize_t n;
        int fd;
        bool ok = false;

        if (!c->http_port)
                return false;
        memset(&addr, 0, sizeof(addr));
        addr.sin_family = AF_INET;
        addr.sin_port = htons((uint16_t)c->http_port);
        if (inet_pton(AF_INET, c->http_host, &addr.sin_addr) != 1)
                return false;
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return false;
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
            write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1))
                goto out;
        pfd.fd = fd;
        pfd.events = POLLIN;
        /* Only the status line matters: "HTTP/1.x 200 ...". */
        while (got < 12 && poll(&pfd, 1, 1000) == 1) {
                n = read(fd, resp + got, sizeof(resp) - 1 - got);
                if (n <= 0)
                        break;
                got += (size_t)n;
        }
        resp[got] = '\0';
        ok = got >= 12 && !strncmp(resp, "HTTP/1.", 7) &&
             !strncmp(resp + 8, " 200", 4);
out:
        close(fd);
        return ok;
}

void child_reset(child_t *c)
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
