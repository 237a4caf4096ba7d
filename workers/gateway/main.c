/* workers/gateway/main.c - sr-gateway: the REST gateway. Wiring only: the
 * behaviour is in common/gateway/, HTTP in common/io/sr_httpd.c.
 *
 * Event loops (one per CPU, at most HTTP_LOOPS_MAX) answer reads on the
 * spot: a read is a short LMDB lookup and never blocks. A write (PUT,
 * POST, DELETE) waits for the worker's reply and for the projection to
 * catch up with it, so the server hands it to a pool of WRITE_THREADS
 * threads and sends the answer from the loop. What can be refused from
 * the head (route, token, readiness, Content-Type, declared size) is
 * refused before any body byte is read.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "sr_app.h"
#include "sr_clock.h"
#include "sr_conf.h"
#include "sr_gateway.h"
#include "sr_httpd.h"
#include "sr_log.h"
#include "sr_metrics.h"
#include "sr_notify.h"

/* Event loops: reads are CPU-bound, more loops than CPUs only add
 * switches. */
#define HTTP_LOOPS_MAX 8
/* Writes in progress at once; more wait in the queue (each is bounded by
 * gateway.reply.timeout.ms). The threads mostly sleep on a condition. */
#define WRITE_THREADS 32

static bool gw_ready(void *arg, char *why, size_t why_size)
{
        return sr_gateway_is_ready(arg, why, why_size);
}

/* The request as the gateway sees it: header values from the parser (a
 * repeated one never gets here: the server refuses it). */
static void to_gw(const sr_h1_request_t *r, sr_gw_request_t *req)
{
        memset(req, 0, sizeof(*req));
        req->method = r->method;
        req->target = r->target;
        req->authorization = sr_h1_head_get(r->head, "Authorization");
        req->content_type = sr_h1_head_get(r->head, "Content-Type");
        req->idempotency_key = sr_h1_head_get(r->head, "Idempotency-Key");
        req->last_event_id = sr_h1_head_get(r->head, "Last-Event-ID");
        req->host = sr_h1_head_get(r->head, "Host");
        req->body = r->body ? r->body : "";
        req->body_len = r->body_len;
        req->body_too_large = r->body_too_large;
}

static void from_gw(sr_gw_response_t *g, sr_h1_response_t *resp)
{
        resp->status = g->status;
        resp->body = g->body; /* taken */
        resp->content_type = g->content_type;
        snprintf(resp->allow, sizeof(resp->allow), "%s", g->allow);
        resp->retry_after = g->retry_after;
        resp->stream = g->stream; /* taken */
        resp->headers = g->headers;
}

static void wake_streams(void *arg)
{
        sr_httpd_wake_streams(arg);
}

static bool is_write(const char *method)
{
        return !strcmp(method, "PUT") || !strcmp(method, "POST") ||
               !strcmp(method, "DELETE");
}

static bool on_head(void *arg, const sr_h1_request_t *r,
                    sr_h1_response_t *resp, bool *blocking)
{
        sr_gw_request_t req;
        sr_gw_response_t g;

        *blocking = is_write(r->method);
        /* Without a body or a write there is nothing to spare: the whole
         * request is answered next, with the same checks. */
        if (!r->has_body && !*blocking)
                return false;
        to_gw(r, &req);
        if (!sr_gateway_check_head(arg, &req, &g))
                return false;
        from_gw(&g, resp);
        return true;
}

static size_t body_max(void *arg, const sr_h1_request_t *r)
{
        return sr_gateway_body_max(arg, r->method, r->target);
}

static void on_request(void *arg, const sr_h1_request_t *r,
                       sr_h1_response_t *resp)
{
        sr_gw_request_t req;
        sr_gw_response_t g;

        to_gw(r, &req);
        sr_gateway_handle(arg, &req, &g);
        from_gw(&g, resp);
}

/* One event loop per CPU this process may run on (taskset, cgroups). */
static int http_loops(void)
{
        cpu_set_t set;
        long n;

        if (sched_getaffinity(0, sizeof(set), &set) == 0)
                n = CPU_COUNT(&set);
        else
                n = sysconf(_SC_NPROCESSORS_ONLN);
        if (n < 1)
                n = 1;
        return (int)(n < HTTP_LOOPS_MAX ? n : HTTP_LOOPS_MAX);
}

/* The keys a refusal to serve https names. */
#define TLS_KEYS                                                          \
        "gateway.tls.cert.file, gateway.tls.key.file, gateway.tls.chain.file"

int main(int argc, char **argv)
{
        sr_h1_app_t app = { .on_head = on_head, .body_max = body_max,
                            .on_request = on_request };
        sr_httpd_opts_t opts = { 0 };
        sr_errctx_t ec = { 0 };
        sr_metrics_t *metrics = NULL;
        sr_gateway_t *gw = NULL;
        sr_httpd_t *httpd = NULL;
        sr_notify_t *nt = NULL;
        sr_conf_t *conf;
        bool https;
        int status;

        if (!sr_app_start_notify("sr-gateway", NULL, argc, argv, &conf, &nt,
                                 &status))
                return status;
        status = EXIT_FAILURE;
        /* the certificate and key now, not after the broker answered */
        opts.tls_cert_file = conf->gateway_tls_cert_file;
        opts.tls_key_file = conf->gateway_tls_key_file;
        opts.tls_chain_file = conf->gateway_tls_chain_file;
        if (sr_httpd_check_tls(&opts, &ec) != SR_OK) {
                SR_ERROR("MAIN", "cannot serve https (" TLS_KEYS ") "
                         "err=\"%s\"", ec.msg);
                status = EX_CONFIG;
                goto out;
        }
        metrics = sr_metrics_new();
        if (sr_gateway_new(conf, metrics, getenv("SR_API_TOKENS"), &gw,
                           &ec) != SR_OK) {
                SR_ERROR("MAIN", "startup failed err=\"%s\"", ec.msg);
                status = sr_app_exit_status(ec.code);
                goto out;
        }
        app.arg = gw;
        opts.bind = conf->http_bind; /* listen on http.bind only */
        opts.port = conf->http_port;
        opts.loops = http_loops();
        opts.pool_threads = WRITE_THREADS;
        opts.connections_max = conf->gateway_connections_max;
        opts.header_timeout_ms = conf->http_header_timeout_ms;
        opts.body_timeout_ms = conf->http_body_timeout_ms;
        opts.idle_timeout_ms = conf->gateway_client_timeout_s * 1000;
        opts.body_max = (size_t)conf->gateway_body_max_bytes;
        opts.stop_message = "the gateway is stopping; nothing was changed, "
                            "retry";
        https = *conf->gateway_tls_cert_file != '\0'; /* opts.tls_* set */
        if (sr_httpd_open_app(&opts, &app, &httpd, &ec) != SR_OK) {
                if (https && ec.code == SR_ERR_INVALID)
                        SR_ERROR("MAIN", "cannot serve https ("
                                 TLS_KEYS ") err=\"%s\"", ec.msg);
                else
                        SR_ERROR("MAIN", "cannot serve err=\"%s\"", ec.msg);
                status = ec.code == SR_ERR_INVALID ? EX_CONFIG : EXIT_FAILURE;
                goto out;
        }
        sr_gateway_set_watch_waker(gw, wake_streams, httpd);
        printf("http=%s://%s:%d\n", https ? "https" : "http",
               conf->http_bind, sr_httpd_port(httpd));
        fflush(stdout);
        SR_INFO("MAIN", "gateway serving port=%d http_loops=%d "
                "write_threads=%d", sr_httpd_port(httpd), opts.loops,
                WRITE_THREADS);
        /* READY=1 once the projection caught up (/readyz); WATCHDOG=1
         * only while the changelog feed's loop turns. */
        while (!sr_app_stop_requested) {
                if (sr_gateway_is_alive(gw, sr_clock_mono_ms()))
                        sr_notify_tick(nt, gw_ready, gw, "serving",
                                       sr_clock_mono_ms());
                usleep(100 * 1000);
        }
        sr_notify_stopping(nt, "draining: finishing the writes in "
                               "progress");
        status = EXIT_SUCCESS;
out:
        /* No new connections; queued writes get 503, those in progress
         * finish and are answered; then the loops stop. */
        if (gw) /* the feed wakes no server from now */
                sr_gateway_set_watch_waker(gw, NULL, NULL);
        sr_httpd_close(httpd);
        sr_gateway_destroy(gw);
        sr_metrics_destroy(metrics);
        sr_notify_close(nt);
        sr_conf_destroy(conf);
        return status;
}
