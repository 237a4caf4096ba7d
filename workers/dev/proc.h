/* workers/dev/proc.h - sr-dev's child processes: start, watch their
 * stdout for the "http=URL" line, probe /readyz, stop.
 * Single-threaded: only sr-dev's main loop touches them. */
#ifndef SR_DEV_PROC_H
#define SR_DEV_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sr_err.h"

typedef struct child {
        char name[32];     /* "status-0", "agent": for logs */
        char **argv;       /* borrowed; NULL-terminated; argv[0] the path */
        pid_t pid;         /* 0: not running */
        int out_fd;        /* read end of its stdout; -1 none */
        char line[1024];   /* partial stdout line */
        size_t line_len;
        char http_host[64]; /* from "http=http://HOST:PORT" */
        int http_port;      /* 0: not announced (yet) */
        bool ready;         /* /readyz answered 200 once */
        int64_t started_at; /* monotonic ms */
        int64_t restart_at; /* monotonic ms; 0: none scheduled */
        int restarts;       /* consecutive quick deaths, for backoff */
} child_t;

/**
 * @brief fork+exec @p c->argv with stdout on a pipe, in its own process
 * group, killed with SIGTERM should sr-dev die first.
 * @returns SR_OK or SR_ERR_IO (pipe/fork failed; exec failures show up as
 *          the child exiting with status 127).
 */
sr_err_t child_start(child_t *c, int64_t now, sr_errctx_t *ec);

/**
 * @brief Read what the child wrote to stdout without blocking: remember
 * its "http=" line, copy every other line to stderr prefixed by its name.
 * Closes the pipe at end of file.
 */
void child_drain(child_t *c);

/** @brief GET /readyz on the child's ops server: true on 200. */
bool child_probe_ready(const child_t *c);

/** @brief Forget the exited child's pipe and announced port. */
void child_reset(child_t *c);

#endif /* SR_DEV_PROC_H */
