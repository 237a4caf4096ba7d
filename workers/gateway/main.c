/* workers/gateway/main.c - sr-gateway: the REST gateway. HTTP wiring
 * (libmicrohttpd, a thread per connection, since a write waits for its
 * reply); all behaviour is in common/sr_gateway.c. */
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "sr_conf.h"
#include "sr_gateway.h"
#include "sr_log.h"
#include "sr_metrics.h"

extern char **environ;

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
        (void)sig;
        stop_requested = 1;
}

/* Per-request state: the raw target (with its query) and the body. */
typedef struct req_state {
        char *target;
        char *body;
        size_t len, cap;
        bool too_large;
        bool started; /* the first call only sees the headers */
} req_state_t;

typedef struct server {
        sr_gateway_t *gw;
        size_t body_max;
} server_t;

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *con)
{
        req_state_t *st = calloc(1, sizeof(*st));

        (void)cls;
        (void)con;
        if (st)
                st->target = strdup(uri ? uri : "/");
        return st;
}

static void on_done(void *cls, struct MHD_Connection *con, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
        req_state_t *st = *con_cls;

        (void)cls;
        (void)con;
        (void)toe;
        if (st) {
                free(st->target);
                free(st->body);
                free(st);
        }
        *con_cls = NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
        server_t *srv = cls;
        req_state_t *st = *con_cls;
        sr_gw_request_t req = { 0 };
        sr_gw_response_t resp;
        struct MHD_Response *r;
        enum MHD_Result ret;
        char num[16];

        (void)url;
        (void)version;
        if (!st)
                return MHD_NO;
        if (!st->started) {
                st->started = true;
                return MHD_YES;
        }
        if (*upload_size) { /* collect the body, up to the limit */
                if (!st->too_large) {
                        if (st->len + *upload_size > srv->body_max) {
                                st->too_large = true;
                        } else {
                                if (st->len + *upload_size > st->cap) {
                                        size_t cap = (st->len +
                                                      *upload_size) * 2;
                                        char *b = realloc(st->body, cap);

                                        if (!b)
                                                return MHD_NO;
                                        st->body = b;
                                        st->cap = cap;
                                }
                                memcpy(st->body + st->len, upload,
                                       *upload_size);
                                st->len += *upload_size;
                        }
                }
                *upload_size = 0;
                return MHD_YES;
        }
        req.method = method;
        req.target = st->target ? st->target : "/";
        req.authorization = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
                                                        "Authorization");
        req.content_type = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
                                                       "Content-Type");
        req.idempotency_key = MHD_lookup_connection_value(
                con, MHD_HEADER_KIND, "Idempotency-Key");
        req.host = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Host");
        req.body = st->body ? st->body : "";
        req.body_len = st->len;
        req.body_too_large = st->too_large;
        sr_gateway_handle(srv->gw, &req, &resp);
        r = MHD_create_response_from_buffer(resp.body.len, resp.body.ptr,
                                            MHD_RESPMEM_MUST_FREE);
        if (!r) {
                sr_buf_free(&resp.body);
                return MHD_NO;
        }
        MHD_add_response_header(r, "Content-Type", resp.content_type ?
                                                           resp.content_type :
                                                           "application/json");
        if (resp.allow[0])
                MHD_add_response_header(r, "Allow", resp.allow);
        if (resp.retry_after) {
                snprintf(num, sizeof(num), "%d", resp.retry_after);
                MHD_add_response_header(r, "Retry-After", num);
        }
        ret = MHD_queue_response(con, (unsigned)resp.status, r);
        MHD_destroy_response(r);
        return ret;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
        char msg[512];

        (void)cls;
        vsnprintf(msg, sizeof(msg), fmt, ap);
        msg[strcspn(msg, "\n")] = '\0';
        SR_WARN("HTTP", "libmicrohttpd: %s", msg);
}

int main(int argc, char **argv)
{
        struct MHD_Daemon *d = NULL;
        struct sigaction sa;
        sr_errctx_t ec = { 0 };
        sr_metrics_t *metrics = NULL;
        sr_conf_t *conf;
        server_t srv = { 0 };
        int status = EXIT_FAILURE, argi;

        conf = sr_conf_new();
        if (!conf)
                return EX_OSERR;
        if (sr_conf_from_args(conf, argc, argv, environ, &argi, &ec) !=
            SR_OK) {
                fprintf(stderr, "sr-gateway: %s\n", ec.msg);
                sr_conf_destroy(conf);
                return EX_CONFIG;
        }
        if (conf->help || argi != argc || conf->list_config ||
            conf->list_config_md) {
                int rc = argi != argc && !conf->help ? EX_USAGE : 0;

                if (conf->list_config || conf->list_config_md)
                        sr_conf_list(stdout, conf->list_config_md);
                else
                        sr_conf_usage(stderr, "sr-gateway", NULL);
                sr_conf_destroy(conf);
                return rc;
        }
        sr_log_max_level = conf->log_level;
        sr_log_set_name(conf->worker_name);
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_stop_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        metrics = sr_metrics_new();
        if (sr_gateway_new(conf, metrics, getenv("SR_API_TOKENS"), &srv.gw,
                           &ec) != SR_OK) {
                SR_ERROR("MAIN", "startup failed err=\"%s\"", ec.msg);
                status = ec.code == SR_ERR_CONF ? EX_CONFIG : EXIT_FAILURE;
                goto out;
        }
        srv.body_max = (size_t)conf->gateway_body_max_bytes;
        d = MHD_start_daemon(
                MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                        MHD_USE_ERROR_LOG,
                (uint16_t)conf->http_port, NULL, NULL, on_request, &srv,
                MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
                MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
                MHD_OPTION_CONNECTION_LIMIT,
                (unsigned)conf->gateway_connections_max,
                MHD_OPTION_CONNECTION_TIMEOUT,
                (unsigned)conf->gateway_client_timeout_s,
                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
                MHD_OPTION_END);
        if (!d) {
                SR_ERROR("MAIN", "cannot listen port=%d", conf->http_port);
                goto out;
        }
        printf("http=http://%s:%u\n", conf->http_bind,
               (unsigned)MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)
                       ->port);
        fflush(stdout);
        SR_INFO("MAIN", "gateway serving port=%u",
                (unsigned)MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)
                        ->port);
        while (!stop_requested)
                usleep(100 * 1000);
        status = EXIT_SUCCESS;
out:
        if (d)
                MHD_stop_daemon(d);
        sr_gateway_destroy(srv.gw);
        sr_metrics_destroy(metrics);
        sr_conf_destroy(conf);
        return status;
}
