/* workers/status/main.c - sr-status: the state machine worker.
 * Only wiring lives here; the behaviour is in common/sr_worker.c. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "sr_conf.h"
#include "sr_httpd.h"
#include "sr_log.h"
#include "sr_metrics.h"
#include "sr_worker.h"

extern char **environ;

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
        (void)sig;
        stop_requested = 1;
}

static bool ready(void *arg, char *why, size_t why_size)
{
        return sr_worker_is_ready(arg, why, why_size);
}

int main(int argc, char **argv)
{
        sr_httpd_handlers_t hh = { 0 };
        struct sigaction sa;
        sr_errctx_t ec = { 0 };
        sr_metrics_t *metrics = NULL;
        sr_httpd_t *httpd = NULL;
        sr_worker_t *w = NULL;
        sr_conf_t *conf;
        int status = EXIT_FAILURE, argi;

        conf = sr_conf_new();
        if (!conf)
                return EX_OSERR;
        if (sr_conf_from_args(conf, argc, argv, environ, &argi, &ec) !=
            SR_OK) {
                fprintf(stderr, "sr-status: %s\n", ec.msg);
                sr_conf_destroy(conf);
                return EX_CONFIG;
        }
        if (conf->help || argi != argc) {
                int rc = conf->help ? EXIT_SUCCESS : EX_USAGE;

                sr_conf_usage(stderr, "sr-status", NULL);
                sr_conf_destroy(conf);
                return rc;
        }
        if (conf->list_config || conf->list_config_md) {
                sr_conf_list(stdout, conf->list_config_md);
                sr_conf_destroy(conf);
                return EXIT_SUCCESS;
        }
        sr_log_max_level = conf->log_level;
        sr_log_set_name(conf->worker_name);
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_stop_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);

        metrics = sr_metrics_new();
        if (sr_worker_new(conf, metrics, &w, &ec) != SR_OK) {
                SR_ERROR("MAIN", "startup failed err=\"%s\"", ec.msg);
                goto out;
        }
        if (conf->http_enable) {
                hh.ready = ready;
                hh.arg = w;
                hh.metrics = metrics;
                if (sr_httpd_open(conf->http_bind, conf->http_port, &hh,
                                  &httpd, &ec) != SR_OK) {
                        SR_ERROR("MAIN", "ops server failed err=\"%s\"",
                                 ec.msg);
                        goto out;
                }
                printf("http=http://%s:%d\n", conf->http_bind,
                       sr_httpd_port(httpd));
                fflush(stdout);
        }
        SR_INFO("MAIN", "started group=%s data_dir=%s", conf->group_id,
                conf->data_dir);
        while (!stop_requested) {
                if (sr_worker_poll(w, &ec) != SR_OK) {
                        SR_ERROR("MAIN", "worker stopped err=\"%s\"", ec.msg);
                        goto out;
                }
        }
        SR_INFO("MAIN", "stopping: finishing the batch and leaving the group");
        status = EXIT_SUCCESS;
out:
        sr_httpd_close(httpd);
        sr_worker_destroy(w);
        sr_metrics_destroy(metrics);
        sr_conf_destroy(conf);
        return status;
}
