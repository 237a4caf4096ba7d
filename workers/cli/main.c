/* workers/cli/main.c - sr-cli: start, promote and cancel runs, and watch
 * events and replies, straight on Kafka; start runs with large stages
 * through the gateway (run create).
 *
 *   sr-cli [-b BOOTSTRAP] [-c FILE] [-D K=V]... COMMAND ...
 *     run SPEC.json [--run-id UUID] [--enterprise E]   prints run=<id>
 *     run create SPEC.json --gateway URL [--targets-file STAGE:FILE]...
 *         [--chunk-targets N] [--in-flight N] [--token-file F]
 *                       prints run=<id>, then each sealed stage run
 *     promote RUN_ID STAGE_RUN_ID [--enterprise E]     prints command=<id>
 *     cancel RUN_ID [STAGE_RUN_ID] [--enterprise E]    prints command=<id>
 *     delete RUN_ID PIPELINE_ID [--enterprise E]       prints command=<id>
 *     follow [--run RUN_ID] [--from-beginning]         one line per event
 *     replies [--from-beginning]                       one line per reply
 *     dump TOPIC                  every record of TOPIC, one JSON line each
 *     groups put --group G [--name N] FILE [--enterprise E]
 *                       the device group's members made FILE's (a CSV of
 *                       device_id,device_name[,device_alias]); prints
 *                       the counts
 *     groups rm --group G [--enterprise E]   every member removed, then
 *                       the group deleted
 *   --bootstrap BOOTSTRAP is the same as -b.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "commands.h"
#include "groups.h"
#include "sr_app.h"
#include "dump.h"
#include "sr_codec.h"
#include "sr_conf.h"
#include "sr_kafka.h"
#include "sr_log.h"

extern char **environ;

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
        (void)sig;
        stop_requested = 1;
}

static void usage(FILE *out)
{
        sr_conf_usage(out, "sr-cli [-b BOOTSTRAP]", "COMMAND ...");
        fprintf(out,
                "Commands:\n"
                "  run SPEC.json [--run-id UUID] [--enterprise E]\n"
                "  run create SPEC.json --gateway http://HOST:PORT\n"
                "      [--targets-file STAGE:FILE]... [--chunk-targets N]\n"
                "      [--in-flight N] [--token-file F]\n"
                "      (through the gateway; STAGE a 0-based index or a\n"
                "      name; FILE a JSON array of targets or one target\n"
                "      object per line; token: --token-file, else the\n"
                "      first of SR_API_TOKENS)\n"
                "  promote RUN_ID STAGE_RUN_ID [--enterprise E]\n"
                "  cancel RUN_ID [STAGE_RUN_ID] [--enterprise E]\n"
                "  delete RUN_ID PIPELINE_ID [--enterprise E]\n"
                "      (a finished run: every entity of it final)\n"
                "  groups put --group G [--name N] FILE [--enterprise E]\n"
                "      (the device group's members made FILE's: a CSV of\n"
                "      device_id,device_name[,device_alias], header\n"
                "      optional; --name needed to create the group)\n"
                "  groups rm --group G [--enterprise E]\n"
                "      (every member removed, then the group deleted)\n"
                "  follow [--run RUN_ID] [--from-beginning]\n"
                "  replies [--from-beginning]\n"
                "  dump TOPIC   (commands|results|events|dispatch|changelog|"
                "replies|dlq|idempotency|definition-events)\n");
}

/* An integer option's value within lo..hi, or -1 after saying why. */
static int int_arg(const char *opt, const char *v, int lo, int hi)
{
        char *end;
        long n = strtol(v, &end, 10);

        if (end == v || *end || n < lo || n > hi) {
                fprintf(stderr, "sr-cli: %s: expected %d..%d, got \"%s\"\n",
                        opt, lo, hi, v);
                return -1;
        }
        return (int)n;
}

/* run create's options; 1: not one of them, 0: taken, -1: bad. */
static int parse_create_opt(struct cli *cli, int argc, char **argv, int *i)
{
        const char *a = argv[*i];

        if (strcmp(a, "--gateway") && strcmp(a, "--token-file") &&
            strcmp(a, "--targets-file") && strcmp(a, "--chunk-targets") &&
            strcmp(a, "--in-flight"))
                return 1;
        if (++*i >= argc)
                return fprintf(stderr, "sr-cli: %s needs a value\n", a), -1;
        if (!strcmp(a, "--gateway")) {
                cli->gateway = argv[*i];
        } else if (!strcmp(a, "--token-file")) {
                cli->token_file = argv[*i];
        } else if (!strcmp(a, "--targets-file")) {
                if (cli->n_targets_files == SR_CLI_MAX_TARGET_FILES)
                        return fprintf(stderr, "sr-cli: at most %d "
                                       "--targets-file\n",
                                       SR_CLI_MAX_TARGET_FILES), -1;
                cli->targets_files[cli->n_targets_files++] = argv[*i];
        } else if (!strcmp(a, "--chunk-targets")) {
                cli->chunk_targets = int_arg(a, argv[*i], 1, 10000);
                return cli->chunk_targets < 0 ? -1 : 0;
        } else {
                cli->in_flight = int_arg(a, argv[*i], 1, 64);
                return cli->in_flight < 0 ? -1 : 0;
        }
        return 0;
}

/* Subcommand arguments: positionals and the few options. */
static int parse_sub(struct cli *cli, int argc, char **argv, int i,
                     const char **pos, int max_pos, int *n_pos)
{
        int r;

        *n_pos = 0;
        for (; i < argc; i++) {
                const char *a = argv[i];

                if ((r = parse_create_opt(cli, argc, argv, &i)) <= 0) {
                        if (r < 0)
                                return -1;
                } else if (!strcmp(a, "--from-beginning")) {
                        cli->from_beginning = true;
                } else if (!strcmp(a, "--run-id") || !strcmp(a, "--run") ||
                           !strcmp(a, "--enterprise") ||
                           !strcmp(a, "--group") || !strcmp(a, "--name")) {
                        if (++i >= argc)
                                return fprintf(stderr, "sr-cli: %s needs a "
                                               "value\n", a), -1;
                        if (!strcmp(a, "--enterprise"))
                                cli->enterprise = argv[i];
                        else if (!strcmp(a, "--group"))
                                cli->group = argv[i];
                        else if (!strcmp(a, "--name"))
                                cli->group_name = argv[i];
                        else if (!strcmp(a, "--run-id"))
                                cli->run_id = argv[i];
                        else if (!sr_cli_parse_uuid("--run", argv[i],
                                                 &cli->filter_run))
                                return -1;
                } else if (a[0] == '-' || *n_pos == max_pos) {
                        return fprintf(stderr, "sr-cli: unexpected argument "
                                       "\"%s\"\n", a), -1;
                } else {
                        pos[(*n_pos)++] = a;
                }
        }
        return 0;
}

static int dispatch(struct cli *cli, int argc, char **argv, int argi)
{
        const char *sub = argv[argi], *pos[2] = { NULL, NULL };
        int n;

        if (parse_sub(cli, argc, argv, argi + 1, pos, 2, &n))
                return EX_USAGE;
        if (!strcmp(sub, "run") && n == 2 && !strcmp(pos[0], "create")) {
                cli->spec_path = pos[1];
                if (!cli->gateway) {
                        fprintf(stderr, "sr-cli: run create needs --gateway "
                                "http://HOST:PORT\n");
                        return EX_USAGE;
                }
                return sr_cli_create(cli);
        }
        if ((cli->gateway || cli->n_targets_files) &&
            strcmp(sub, "run")) {
                fprintf(stderr, "sr-cli: --gateway and --targets-file are "
                        "options of run create\n");
                return EX_USAGE;
        }
        if (!strcmp(sub, "run") && n == 1 && !cli->n_targets_files) {
                cli->spec_path = pos[0];
                return sr_cli_run(cli);
        }
        if (!strcmp(sub, "promote") && n == 2) {
                cli->run_id = pos[0];
                cli->stage_run_id = pos[1];
                return sr_cli_set(cli, "queued");
        }
        if (!strcmp(sub, "cancel") && n >= 1) {
                cli->run_id = pos[0];
                cli->stage_run_id = pos[1];
                return sr_cli_set(cli, "cancelled");
        }
        if (!strcmp(sub, "delete") && n == 2) {
                cli->run_id = pos[0];
                return sr_cli_delete(cli, pos[1]);
        }
        if (!strcmp(sub, "follow") && n == 0)
                return sr_cli_watch(cli, SR_TOPIC_EVENTS);
        if (!strcmp(sub, "replies") && n == 0)
                return sr_cli_watch(cli, SR_TOPIC_REPLIES);
        if (!strcmp(sub, "groups") && n == 2 && !strcmp(pos[0], "put"))
                return sr_cli_groups_put(cli, cli->group, cli->group_name,
                                         pos[1]);
        if (!strcmp(sub, "groups") && n == 1 && !strcmp(pos[0], "rm") &&
            !cli->group_name)
                return sr_cli_groups_rm(cli, cli->group);
        if (!strcmp(sub, "dump") && n == 1)
                return sr_cli_dump(cli->conf, cli->codec, pos[0], stdout);
        usage(stderr);
        return EX_USAGE;
}

int main(int argc, char **argv)
{
        struct cli cli = { .enterprise = "default", .stop = &stop_requested,
                           .chunk_targets = 1000, .in_flight = 4 };
        const char *bootstrap = NULL;
        char *rest[256];
        struct sigaction sa;
        sr_errctx_t ec = { 0 };
        sr_conf_t *conf;
        int rest_argc = 0, argi, rc = EX_USAGE;

        /* -b may come anywhere before the command; the rest is sr_conf's. */
        for (int i = 0; i < argc && rest_argc < 255; i++) {
                if ((!strcmp(argv[i], "-b") ||
                     !strcmp(argv[i], "--bootstrap")) && i + 1 < argc &&
                    rest_argc > 0)
                        bootstrap = argv[++i];
                else
                        rest[rest_argc++] = argv[i];
        }
        rest[rest_argc] = NULL;
        conf = sr_conf_new();
        if (!conf)
                return EX_OSERR;
        if (sr_conf_from_args(conf, rest_argc, rest, environ, &argi, &ec) ||
            (bootstrap && sr_conf_set(conf, "kafka.bootstrap.servers",
                                      bootstrap, &ec))) {
                fprintf(stderr, "sr-cli: %s\n", ec.msg);
                sr_conf_destroy(conf);
                return EX_CONFIG;
        }
        sr_log_max_level = conf->log_level < SR_LOG_WARN ? conf->log_level :
                                                           SR_LOG_WARN;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_stop_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        if (conf->help || argi >= rest_argc) {
                usage(conf->help ? stdout : stderr);
                rc = conf->help ? EXIT_SUCCESS : EX_USAGE;
        } else if (conf->list_config || conf->list_config_md) {
                sr_conf_list(stdout, conf->list_config_md);
                rc = EXIT_SUCCESS;
        } else if (sr_app_register_schemas(conf, &ec)) {
                fprintf(stderr, "sr-cli: %s\n", ec.msg);
                rc = sr_app_exit_status(ec.code);
        } else if (sr_codec_new(&cli.codec, &ec)) {
                fprintf(stderr, "sr-cli: %s\n", ec.msg);
                rc = EX_SOFTWARE;
        } else {
                sr_codec_set_ids(cli.codec, &conf->schema_ids);
                cli.conf = conf;
                rc = dispatch(&cli, rest_argc, rest, argi);
        }
        sr_codec_destroy(cli.codec);
        sr_conf_destroy(conf);
        return rc;
}
