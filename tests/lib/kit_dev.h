/* tests/lib/kit_dev.h - sr-dev as a child of a test: started with its
 * stdout on a pipe and its stderr in DIR/dev.log, killed with the test.
 *
 * PR_SET_PDEATHSIG: when Criterion kills a test that timed out or crashed,
 * its .fini does not run; the fleet must not outlive it (orphaned fleets
 * were seen eating the CPU of later tests). */
#ifndef SR_KIT_DEV_H
#define SR_KIT_DEV_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

/**
 * Fork and exec SR_BUILD_DIR/sr-dev with @p argv (argv[0] included,
 * NULL-terminated) and the NULL-terminated "NAME=VALUE" list @p env
 * added to the environment. Returns the child's pid (-1 on failure) and
 * its stdout in *out.
 */
static inline pid_t kit_dev_start(const char *dir, char *const argv[],
                                  char *const env[], FILE **out)
{
        pid_t pid;
        int fds[2];

        if (pipe(fds))
                return -1;
        pid = fork();
        if (pid == 0) {
                char log[512];

                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() == 1) /* the test died before prctl() */
                        _exit(1);
                snprintf(log, sizeof(log), "%s/dev.log", dir);
                dup2(fds[1], 1);
                close(fds[0]);
                close(fds[1]);
                if (!freopen(log, "w", stderr))
                        _exit(127);
                for (int i = 0; env && env[i]; i++)
                        putenv(env[i]);
                execv(SR_BUILD_DIR "/sr-dev", argv);
                _exit(127);
        }
        close(fds[1]);
        if (pid < 0) {
                close(fds[0]);
                return -1;
        }
        *out = fdopen(fds[0], "r");
        return pid;
}

#endif /* SR_KIT_DEV_H */
