/* workers/status/main.c - sr-status: the state machine worker.
 * Only wiring lives here; the behaviour is in common/status/
 * (docs/architecture.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "sr_app.h"
#include "sr_clock.h"
#include "sr_conf.h"
#include "sr_httpd.h"
#include "sr_log.h"
#include "sr_metrics.h"
#include "sr_notify.h"
#include "sr_worker.h"

static bool ready(void *arg, char *why, size_t why_size)
{
        return sr_worker_is_ready(arg, why, why_size);
}

int main(int argc, char **argv)
{
        sr_httpd_handlers_t hh = { 0 };
        sr_errctx_t ec = { 0 };
        sr_metrics_t *metrics = NULL;
        sr_httpd_t *httpd = NULL;
        sr_worker_t *w = NULL;
        sr_notify_t *nt = NULL;
        sr_conf_t *conf;
        int status;

        if (!sr_app_start_notify("sr-status", NULL, argc, argv, &conf, &nt,
                                 &status))
                return status;
        status = EXIT_FAILURE;
        metrics = sr_metrics_new();
        if (sr_worker_new(conf, metrics, &w, &ec) != SR_OK) {
                SR_ERROR("MAIN", "startup failed err=\"%s\"", ec.msg);
                /* a configuration the cluster contradicts (sysexits) */
                if (ec.code == SR_ERR_CONF)
                        status = EX_CONFIG;
                goto out;
        }
        sr_worker_set_stop_flag(w, &sr_app_stop_requested);
        if (conf->http_enable) {
                hh.ready = ready;
                hh.arg = w;
                hh.metrics = metrics;
                hh.header_timeout_ms = conf->http_header_timeout_ms;
                hh.body_timeout_ms = conf->http_body_timeout_ms;
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
        /* READY=1 once every owned partition is restored (/readyz),
         * WATCHDOG=1 while this loop turns. */
        while (!sr_app_stop_requested) {
                sr_err_t err = sr_worker_poll(w, &ec);

                if (err != SR_OK) {
                        SR_ERROR("MAIN", "worker stopped err=\"%s\"", ec.msg);
                        status = sr_app_exit_status(err);
                        goto out;
                }
                sr_notify_tick(nt, ready, w, "processing",
                               sr_clock_mono_ms());
        }
        sr_notify_stopping(nt, "finishing the batch and leaving the group");
        SR_INFO("MAIN", "stopping: finishing the batch and leaving the group");
        status = EXIT_SUCCESS;
out:
        sr_httpd_close(httpd);
        sr_worker_destroy(w);
        sr_metrics_destroy(metrics);
        sr_notify_close(nt);
        sr_conf_destroy(conf);
        return status;
}
