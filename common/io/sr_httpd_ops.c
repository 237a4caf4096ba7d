/* common/io/sr_httpd_ops.c - the operations endpoints of every worker
 * (/livez, /readyz, /metrics; see sr_httpd.h) as an application of the
 * server: one event loop, answers inline, every other method refused from
 * the head. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_httpd.h"
#include "sr_httpd_int.h"
#include "sr_log.h"

#define TEXT_PLAIN "text/plain; charset=utf-8"
#define PROMETHEUS_TEXT "text/plain; version=0.0.4; charset=utf-8"
#define OPS_CONNECTIONS 64
#define OPS_BODY_MAX 16384
#define OPS_IDLE_TIMEOUT_MS 10000

static void ops_text(sr_h1_response_t *resp, int status, const char *ctype,
                     const char *text, size_t len)
{
        resp->status = status;
        resp->content_type = ctype;
        resp->body.ptr = malloc(len ? len : 1);
        resp->body.len = resp->body.ptr ? len : 0;
        if (resp->body.ptr)
                memcpy(resp->body.ptr, text, len);
}

static void ops_problem(sr_h1_response_t *resp, int status, const char *msg)
{
        char body[160];
        int n = snprintf(body, sizeof(body),
                         "{\"code\":%d,\"message\":\"%s\",\"content\":{}}",
                         status, msg);

        ops_text(resp, status, "application/json", body, (size_t)n);
}

/* Only GET (and HEAD) exist: refused from the head, body unread. */
static bool ops_head(void *arg, const sr_h1_request_t *req,
                     sr_h1_response_t *resp, bool *blocking)
{
        (void)arg;
        (void)blocking;
        if (!strcmp(req->method, "GET"))
                return false;
        ops_problem(resp, 405, "method not allowed: use GET");
        snprintf(resp->allow, sizeof(resp->allow), "GET");
        return true;
}

static void ops_request(void *arg, const sr_h1_request_t *req,
                        sr_h1_response_t *resp)
{
        const sr_httpd_handlers_t *h = sr_httpd__ops(arg);
        size_t plen = strcspn(req->target, "?#");
        char why[256], body[sizeof(why) + 1];
        sr_errctx_t ec = { 0 };
        sr_buf_t text;

        if (plen == 6 && !memcmp(req->target, "/livez", 6)) {
                ops_text(resp, 200, TEXT_PLAIN, "ok\n", 3);
        } else if (plen == 7 && !memcmp(req->target, "/readyz", 7)) {
                why[0] = '\0';
                if (!h->ready || h->ready(h->arg, why,
                                                  sizeof(why))) {
                        ops_text(resp, 200, TEXT_PLAIN, "ready\n", 6);
                        return;
                }
                why[sizeof(why) - 1] = '\0'; /* in case the callback forgot */
                snprintf(body, sizeof(body), "%s\n",
                         why[0] ? why : "not ready");
                ops_text(resp, 503, TEXT_PLAIN, body, strlen(body));
        } else if (plen == 8 && !memcmp(req->target, "/metrics", 8) &&
                   h->metrics) {
                if (sr_metrics_render(h->metrics, &text, &ec) != SR_OK) {
                        SR_WARN("HTTPD", "metrics render failed err=\"%s\"",
                                ec.msg);
                        ops_problem(resp, 500, "cannot render metrics");
                        return;
                }
                resp->status = 200;
                resp->content_type = PROMETHEUS_TEXT;
                resp->body = text;
        } else {
                ops_problem(resp, 404, "unknown path: /livez, /readyz and "
                            "/metrics are served");
        }
}

sr_err_t sr_httpd_open(const char *bind, int port,
                       const sr_httpd_handlers_t *h, sr_httpd_t **out,
                       sr_errctx_t *ec)
{
        static const sr_h1_app_t ops_app = { .on_head = ops_head,
                                             .on_request = ops_request };
        sr_httpd_opts_t o = {
                .bind = bind,
                .port = port,
                .loops = 1,
                .connections_max = OPS_CONNECTIONS,
                .header_timeout_ms = h ? h->header_timeout_ms : 0,
                .body_timeout_ms = h ? h->body_timeout_ms : 0,
                .idle_timeout_ms = OPS_IDLE_TIMEOUT_MS,
                .body_max = OPS_BODY_MAX,
        };
        static const sr_httpd_handlers_t none = { 0 };

        return sr_httpd__open(&o, &ops_app, h ? h : &none, out, ec);
}
