/* tests/integration/test_dev_fleet.c - the embedded default end to end:
 * sr-dev starts its mock cluster, two sr-status workers and sr-agent as
 * processes; runs go from create to their final status with the agent
 * answering device commands; SIGTERM stops the fleet cleanly.
 * Under SR_TEST_KAFKA (the kafka suite) sr-dev runs 3 workers on that real
 * broker, on topics and groups of this test's own. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <signal.h>
#include <sys/wait.h>

#include "kit_dev.h"
#include "testkit.h"

static kit_t kit;
static pid_t dev_pid;
static FILE *dev_out;
static char dev_dir[64];

static void start_dev(const char *agent_args)
{
        char line[512], bs[512] = "", prefix[64] = "", dp[96], gp[96], ap[96];
        const char *real = kit_real_kafka();
        bool ready = false;

        snprintf(dev_dir, sizeof(dev_dir), "/tmp/sr-dev-it.XXXXXX");
        cr_assert(mkdtemp(dev_dir) != NULL);
        if (real) {
                kit_unique_prefix(prefix, sizeof(prefix), "fleet");
                snprintf(dp, sizeof(dp), "topic.prefix=%s", prefix);
                snprintf(gp, sizeof(gp), "group.id=%sstatus", prefix);
                snprintf(ap, sizeof(ap), "agent.group.id=%sagent", prefix);
        }
        {
                char *real_argv[] = { "sr-dev", "--data-dir", dev_dir,
                                      "--bootstrap", (char *)real,
                                      "--workers", "3", "--partitions", "4",
                                      "--http-port", "0", "-D",
                                      (char *)agent_args, "-D",
                                      "log.level=warn", "-D", dp, "-D", gp,
                                      "-D", ap, NULL };
                char *mock_argv[] = { "sr-dev", "--data-dir", dev_dir,
                                      "--workers", "2", "--partitions", "4",
                                      "--http-port", "0", "-D",
                                      (char *)agent_args, "-D",
                                      "log.level=warn", NULL };

                dev_pid = kit_dev_start(dev_dir, real ? real_argv : mock_argv,
                                        NULL, &dev_out);
        }
        cr_assert(dev_pid > 0);
        while (!ready && fgets(line, sizeof(line), dev_out)) {
                line[strcspn(line, "\n")] = '\0';
                if (!strncmp(line, "bootstrap.servers=", 18))
                        snprintf(bs, sizeof(bs), "%s", line + 18);
                if (!strncmp(line, "ready ", 6))
                        ready = true;
        }
        cr_assert(ready && bs[0], "sr-dev did not get ready (see %s/dev.log)",
                  dev_dir);
        kit_open_prefixed(&kit, 4, bs, real ? prefix : NULL);
}

static void teardown(void)
{
        char cmd[128];

        if (dev_pid > 0) {
                kill(dev_pid, SIGKILL);
                waitpid(dev_pid, NULL, 0);
        }
        kit_close(&kit);
        if (dev_out)
                fclose(dev_out);
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dev_dir);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", dev_dir);
}

TestSuite(dev_fleet, .fini = teardown, .timeout = 120.0);

static bool has_reply(kit_t *k, void *arg)
{
        for (int i = 0; i < k->n_replies; i++)
                if (sr_uuid_eq(&k->replies[i].command_id, arg))
                        return true;
        return false;
}

Test(dev_fleet, agent_answers_and_runs_succeed_then_sigterm_stops_all)
{
        kit_status_arg_t a;
        sr_runspec_t spec;
        sr_uuid_t run[3];
        int st = -1;

        start_dev("agent.latency.ms=5");
        for (int i = 0; i < 3; i++) {
                sr_uuid_v4(&run[i]);
                kit_spec(&spec, 2, 2, 3, true);
                kit_create(&kit, &run[i], &spec, NULL);
                sr_runspec_fini(&spec);
        }
        for (int i = 0; i < 3; i++) {
                a.id = run[i];
                a.st = SR_ST_SUCCESS;
                cr_assert(kit_pump_until(&kit, kit_status_is, &a, 60000),
                          "run %d is %s", i,
                          sr_status_name(kit_status(&kit, &run[i])));
                kit_check_seq(&kit, &run[i]);
        }
        cr_assert(eq(int, kit.n_dlq, 0));
        kill(dev_pid, SIGTERM);
        cr_assert(waitpid(dev_pid, &st, 0) == dev_pid);
        dev_pid = 0;
        cr_assert(eq(int, WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0),
                  "sr-dev exit status %d", st);
}

Test(dev_fleet, failing_agent_fails_runs_and_cancel_reaches_the_agent)
{
        kit_status_arg_t a;
        sr_runspec_t spec;
        sr_uuid_t run, cmd = { { 0 } };
        bool cancelled = false;

        /* every device command fails, slowly enough to cancel one */
        start_dev("agent.failure.rate=1");
        sr_uuid_v4(&run);
        kit_spec(&spec, 2, 1, 2, false);
        kit_create(&kit, &run, &spec, NULL);
        sr_runspec_fini(&spec);
        a.id = run;
        a.st = SR_ST_FAILURE;
        cr_assert(kit_pump_until(&kit, kit_status_is, &a, 60000), "run is %s",
                  sr_status_name(kit_status(&kit, &run)));
        kit_check_seq(&kit, &run);
        /* a cancelled run: the agent is told (cancel requests) */
        sr_uuid_v4(&run);
        kit_spec(&spec, 1, 1, 2, false);
        kit_create(&kit, &run, &spec, NULL);
        sr_runspec_fini(&spec);
        kit_set_status(&kit, SR_CMD_SET_PIPELINE_RUN_STATUS, &run, NULL,
                       "cancelled", &cmd);
        a.id = run;
        a.st = SR_ST_CANCELLED;
        cr_assert(kit_pump_until(&kit, kit_status_is, &a, 60000));
        /* the reply travels on its own topic: it may trail the event */
        cr_assert(kit_pump_until(&kit, has_reply, &cmd, 30000));
        for (int i = 0; i < kit.n_replies; i++)
                if (sr_uuid_eq(&kit.replies[i].command_id, &cmd))
                        cancelled = kit.replies[i].accepted;
        cr_assert(cancelled == true);
        kit_check_seq(&kit, &run);
}

/* A child that refuses its configuration (here every child: NOTIFY_SOCKET,
 * which sr-dev itself ignores, is a relative path, so each exits
 * EX_CONFIG) would refuse again at every restart: sr-dev stops the fleet
 * at once with that exit status and names the child, instead of
 * restarting it for ever. */
Test(dev_fleet, a_child_refusing_its_configuration_stops_sr_dev_with_its_status)
{
        char line[512], log[600], *text = NULL;
        char *argv[] = { "sr-dev", "--data-dir", dev_dir, "--workers", "2",
                         "--partitions", "4", "--http-port", "0", NULL };
        char *env[] = { "NOTIFY_SOCKET=relative/notify.sock", NULL };
        size_t cap = 0;
        int wstatus = 0, code;
        FILE *lf;

        snprintf(dev_dir, sizeof(dev_dir), "/tmp/sr-dev-it.XXXXXX");
        cr_assert(mkdtemp(dev_dir) != NULL);
        dev_pid = kit_dev_start(dev_dir, argv, env, &dev_out);
        cr_assert(dev_pid > 0);
        while (fgets(line, sizeof(line), dev_out))
                cr_assert(strncmp(line, "ready ", 6) != 0, "sr-dev got ready");
        cr_assert(waitpid(dev_pid, &wstatus, 0) == dev_pid);
        dev_pid = 0;
        code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
        cr_assert(eq(int, code, 78), "sr-dev ended with wait status %d, "
                  "not exit 78", wstatus);
        snprintf(log, sizeof(log), "%s/dev.log", dev_dir);
        lf = fopen(log, "r");
        cr_assert(lf != NULL);
        cr_assert(getdelim(&text, &cap, '\0', lf) > 0);
        fclose(lf);
        cr_assert(strstr(text, "refused to run (exit status 78): stopping "
                               "the fleet") != NULL, "%s", text);
        cr_assert(strstr(text, "NOTIFY_SOCKET") != NULL, "%s", text);
        cr_assert(strstr(text, "died unexpectedly") == NULL,
                  "a refusing child was restarted:\n%s", text);
        free(text);
}
