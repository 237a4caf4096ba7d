/* workers/agent/main.c - sr-agent: a device-command simulator for demos,
 * tests and benchmarks. Only wiring lives here; see handler.c. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "handler.h"
#include "sr_clock.h"
#include "sr_app.h"
#include "sr_conf.h"
#include "sr_httpd.h"
#include "sr_kafka.h"
#include "sr_log.h"
#include "sr_metrics.h"
#include "sr_notify.h"

#define COMMIT_INTERVAL_MS 1000


/* One poll: take requests, send what is due, commit now and then. */
static sr_err_t run_once(const sr_conf_t *conf, agent_t *a, sr_consumer_t *c,
                         sr_inrec_t *recs, int64_t *next_commit,
                         sr_errctx_t *ec)
{
        int n, wait = agent_wait_ms(a, sr_clock_mono_ms(), conf->poll_timeout_ms);
        sr_err_t err;

        err = sr_consumer_poll(c, recs, conf->batch_size, &n, wait, ec);
        if (err)
                return err;
        for (int i = 0; i < n; i++)
                if ((err = agent_on_record(a, &recs[i], sr_clock_mono_ms(), ec)))
                        return err;
        if ((err = agent_tick(a, sr_clock_mono_ms(), ec)))
                return err;
        if (sr_clock_mono_ms() >= *next_commit) {
                *next_commit = sr_clock_mono_ms() + COMMIT_INTERVAL_MS;
                if (agent_commit(a, c, ec))
                        SR_WARN("MAIN", "commit failed err=\"%s\"", ec->msg);
        }
        return SR_OK;
}

int main(int argc, char **argv)
{
        static const sr_topic_kind_t topics[] = { SR_TOPIC_DISPATCH };
        sr_httpd_handlers_t hh = { 0 };
        sr_errctx_t ec = { 0 };
        sr_metrics_t *metrics = NULL;
        sr_producer_t *producer = NULL;
        sr_consumer_t *consumer = NULL;
        sr_httpd_t *httpd = NULL;
        sr_inrec_t *recs = NULL;
        agent_t *agent = NULL;
        sr_notify_t *nt = NULL;
        int64_t next_commit = 0;
        sr_conf_t *conf;
        int status;
        sr_err_t err;

        if (!sr_app_start_notify("sr-agent", NULL, argc, argv, &conf, &nt,
                                 &status))
                return status;
        status = EXIT_FAILURE;
        metrics = sr_metrics_new();
        recs = calloc((size_t)conf->batch_size, sizeof(*recs));
        if (!metrics || !recs) {
                SR_ERROR("MAIN", "startup failed: out of memory");
                goto out;
        }
        if (sr_producer_new(conf, conf->worker_name, &producer, &ec) ||
            agent_new(conf, producer, metrics, &agent, &ec) ||
            sr_consumer_new(conf, conf->agent_group_id, topics, 1, NULL,
                            &consumer, &ec)) {
                SR_ERROR("MAIN", "startup failed err=\"%s\"", ec.msg);
                goto out;
        }
        if (conf->http_enable) {
                hh.metrics = metrics;
                hh.ready = agent_is_ready;
                hh.arg = agent;
                hh.header_timeout_ms = conf->http_header_timeout_ms;
                hh.body_timeout_ms = conf->http_body_timeout_ms;
                if (sr_httpd_open(conf->http_bind, conf->http_port, &hh,
                                  &httpd, &ec)) {
                        SR_ERROR("MAIN", "ops server failed err=\"%s\"",
                                 ec.msg);
                        goto out;
                }
                /* sr-dev reads this line to find the ops server. */
                printf("http=http://%s:%d\n", conf->http_bind,
                       sr_httpd_port(httpd));
                fflush(stdout);
        }
        SR_INFO("MAIN", "started group=%s latency_ms=%d failure_rate=%g "
                "seed=%d", conf->agent_group_id, conf->agent_latency_ms,
                conf->agent_failure_rate, conf->agent_seed);
        while (!sr_app_stop_requested) {
                err = run_once(conf, agent, consumer, recs, &next_commit,
                               &ec);
                if (err == SR_ERR_FATAL || err == SR_ERR_NOMEM ||
                    err == SR_ERR_AUTH) {
                        SR_ERROR("MAIN", "stopping err=\"%s\"", ec.msg);
                        status = sr_app_exit_status(err);
                        goto out;
                }
                if (err)
                        SR_WARN("MAIN", "poll failed err=\"%s\"", ec.msg);
                /* READY=1 once a broker answered; WATCHDOG=1 while this
                 * loop turns. */
                agent_check_broker(agent, consumer, sr_clock_mono_ms());
                sr_notify_tick(nt, agent_is_ready, agent, "answering",
                               sr_clock_mono_ms());
        }
        sr_notify_stopping(nt, "sending what is due and committing");
        SR_INFO("MAIN", "stopping pending=%zu", agent_pending(agent));
        if (sr_producer_wait(producer, 5000, &ec) ||
            agent_commit(agent, consumer, &ec))
                SR_WARN("MAIN", "final flush failed err=\"%s\"", ec.msg);
        status = EXIT_SUCCESS;
out:
        sr_httpd_close(httpd);
        sr_consumer_destroy(consumer);
        agent_destroy(agent);
        sr_producer_destroy(producer);
        free(recs);
        sr_metrics_destroy(metrics);
        sr_notify_close(nt);
        sr_conf_destroy(conf);
        return status;
}
