/* common/io/sr_app.c - shared start-up of the worker binaries. */
#include "sr_app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "sr_log.h"
#include "sr_registry.h"

extern char **environ;

volatile sig_atomic_t sr_app_stop_requested;

static void on_stop_signal(int sig)
{
        (void)sig;
        sr_app_stop_requested = 1; /* async-signal-safe: a flag only */
}

int sr_app_exit_status(sr_err_t err)
{
        return err == SR_ERR_AUTH ? EX_NOPERM :
               err == SR_ERR_CONF ? EX_CONFIG :
                                    EXIT_FAILURE;
}

bool sr_app_start(const char *prog, const char *usage_args, int argc,
                  char **argv, sr_conf_t **confp, int *exit_code)
{
        struct sigaction sa;
        sr_errctx_t ec = { 0 };
        sr_conf_t *conf;
        int argi;

        conf = sr_conf_new();
        if (!conf) {
                *exit_code = EX_OSERR;
                return false;
        }
        if (sr_conf_from_args(conf, argc, argv, environ, &argi, &ec) !=
            SR_OK) {
                fprintf(stderr, "%s: %s\n", prog, ec.msg);
                sr_conf_destroy(conf);
                *exit_code = EX_CONFIG;
                return false;
        }
        if (conf->help || conf->list_config || conf->list_config_md ||
            argi != argc) {
                *exit_code = conf->help || argi == argc ? 0 : EX_USAGE;
                if (argi != argc && !conf->help)
                        fprintf(stderr, "%s: unexpected argument \"%s\"\n",
                                prog, argv[argi]);
                if (conf->list_config || conf->list_config_md)
                        sr_conf_list(stdout, conf->list_config_md);
                else /* asked for: stdout; a mistake: stderr */
                        sr_conf_usage(conf->help ? stdout : stderr, prog,
                                      usage_args);
                sr_conf_destroy(conf);
                return false;
        }
        sr_log_max_level = conf->log_level;
        sr_log_set_name(conf->worker_name);
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_stop_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        *confp = conf;
        return true;
}

sr_err_t sr_app_register_schemas(sr_conf_t *conf, sr_errctx_t *ec)
{
        char older[32 * SR_SCHEMA_OLDER_COUNT + 1] = "";
        size_t n = 0;
        sr_err_t err;

        if (!*conf->schema_registry_url)
                return SR_OK;
        err = sr_registry_register(conf->schema_registry_url,
                                   conf->topic_prefix,
                                   conf->schema_registry_wait_ms,
                                   &conf->schema_ids, ec);
        if (err) {
                sr_errctx_prefix(ec, "schema.registry.url %s",
                                 conf->schema_registry_url);
                return err;
        }
        /* the versions still read (and written for what they carry),
         * oldest first: "command=1 changelog=4 command=7 ..." */
        for (int i = 0; i < SR_SCHEMA_OLDER_COUNT && n < sizeof(older); i++)
                n += (size_t)snprintf(older + n, sizeof(older) - n, "%s%s=%d",
                              i ? " " : "",
                              sr_schema_older[i].slot == SR_SCHEMA_COMMAND ?
                                      "command" :
                              sr_schema_older[i].slot == SR_SCHEMA_CHANGELOG ?
                                      "changelog" :
                              sr_schema_older[i].slot == SR_SCHEMA_REPLY ?
                                      "reply" : "other",
                              (int)conf->schema_ids.older[i]);
        SR_INFO("REGISTRY", "schemas registered url=%s command=%d "
                "result=%d event=%d changelog=%d dispatch=%d reply=%d "
                "definition_events=%d older=\"%s\"",
                conf->schema_registry_url,
                (int)conf->schema_ids.wire[SR_SCHEMA_COMMAND],
                (int)conf->schema_ids.wire[SR_SCHEMA_RESULT],
                (int)conf->schema_ids.wire[SR_SCHEMA_EVENT],
                (int)conf->schema_ids.wire[SR_SCHEMA_CHANGELOG],
                (int)conf->schema_ids.wire[SR_SCHEMA_DISPATCH],
                (int)conf->schema_ids.wire[SR_SCHEMA_REPLY],
                (int)conf->schema_ids.wire[SR_SCHEMA_DEF_EVENT], older);
        return SR_OK;
}

bool sr_app_start_notify(const char *prog, const char *usage_args, int argc,
                         char **argv, sr_conf_t **confp,
                         sr_notify_t **notifyp, int *exit_code)
{
        sr_errctx_t ec = { 0 };

        if (!sr_app_start(prog, usage_args, argc, argv, confp, exit_code))
                return false;
        if (sr_app_register_schemas(*confp, &ec) != SR_OK) {
                SR_ERROR("MAIN", "startup failed err=\"%s\"", ec.msg);
                *exit_code = sr_app_exit_status(ec.code);
                sr_conf_destroy(*confp);
                return false;
        }
        if (sr_notify_open_env(notifyp, &ec) != SR_OK) {
                SR_ERROR("MAIN", "startup failed err=\"%s\"", ec.msg);
                sr_conf_destroy(*confp);
                *exit_code = EX_CONFIG;
                return false;
        }
        return true;
}
