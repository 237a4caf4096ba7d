/* common/io/sr_httpd.c - libmicrohttpd, one internal polling thread. The only
 * file that sees libmicrohttpd types. */
#include "sr_httpd.h"

#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "sr_log.h"

#define CONNECTION_LIMIT 64
#define CONNECTION_TIMEOUT_S 10
#define TEXT_PLAIN "text/plain; charset=utf-8"
#define PROMETHEUS_TEXT "text/plain; version=0.0.4; charset=utf-8"

struct sr_httpd {
        struct MHD_Daemon *daemon;
        sr_httpd_handlers_t h;
        int port;
};

/* libmicrohttpd's own error messages, into our log. */
static void log_mhd(void *cls, const char *fmt, va_list ap)
{
        char text[512];
        size_t len;

        (void)cls;
        if (!sr_log_is_enabled(SR_LOG_WARN))
                return;
        vsnprintf(text, sizeof(text), fmt, ap);
        len = strlen(text);
        while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
                text[--len] = '\0';
        SR_WARN("HTTPD", "libmicrohttpd: %s", text);
}

/* Queue a response; takes ownership of @p body when @p mode is
 * MHD_RESPMEM_MUST_FREE, even on failure. */
static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status,
                             const char *ctype, void *body, size_t len,
                             enum MHD_ResponseMemoryMode mode)
{
        struct MHD_Response *resp;
        enum MHD_Result ret;

        resp = MHD_create_response_from_buffer(len, body, mode);
        if (!resp) {
                if (mode == MHD_RESPMEM_MUST_FREE)
                        free(body);
                return MHD_NO;
        }
        if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                    ctype) != MHD_YES ||
            MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
                                    "no-store") != MHD_YES ||
            (status == MHD_HTTP_METHOD_NOT_ALLOWED &&
             MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET") !=
                     MHD_YES)) {
                MHD_destroy_response(resp);
                return MHD_NO;
        }
        ret = MHD_queue_response(conn, status, resp);
        MHD_destroy_response(resp);
        return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn,
                                  unsigned status, const char *text)
{
        /* MUST_COPY: the text may live on our stack. */
        return reply(conn, status, TEXT_PLAIN, (void *)(uintptr_t)text,
                     strlen(text), MHD_RESPMEM_MUST_COPY);
}

static enum MHD_Result serve_readyz(const sr_httpd_t *httpd,
                                    struct MHD_Connection *conn)
{
        char why[256], body[sizeof(why) + 1];

        why[0] = '\0';
        if (!httpd->h.ready ||
            httpd->h.ready(httpd->h.arg, why, sizeof(why)))
                return reply_text(conn, MHD_HTTP_OK, "ready\n");
        why[sizeof(why) - 1] = '\0'; /* in case the callback forgot */
        snprintf(body, sizeof(body), "%s\n", why[0] ? why : "not ready");
        return reply_text(conn, MHD_HTTP_SERVICE_UNAVAILABLE, body);
}

static enum MHD_Result serve_metrics(const sr_httpd_t *httpd,
                                     struct MHD_Connection *conn)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t text;

        if (!httpd->h.metrics)
                return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
        if (sr_metrics_render(httpd->h.metrics, &text, &ec) != SR_OK) {
                SR_WARN("HTTPD", "metrics render failed: %s", ec.msg);
                return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                  "cannot render metrics\n");
        }
        return reply(conn, MHD_HTTP_OK, PROMETHEUS_TEXT, text.ptr, text.len,
                     MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn,
                              const char *url, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
        const sr_httpd_t *httpd = cls;

        (void)version;
        (void)upload_data;
        /* First call: headers only. Answer once any body is consumed. */
        if (!*req_cls) {
                *req_cls = cls;
                return MHD_YES;
        }
        if (*upload_data_size) {
                *upload_data_size = 0; /* discarded: we take no bodies */
                return MHD_YES;
        }
        if (strcmp(method, MHD_HTTP_METHOD_GET))
                return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                                  "method not allowed\n");
        if (!strcmp(url, "/livez"))
                return reply_text(conn, MHD_HTTP_OK, "ok\n");
        if (!strcmp(url, "/readyz"))
                return serve_readyz(httpd, conn);
        if (!strcmp(url, "/metrics"))
                return serve_metrics(httpd, conn);
        return reply_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

sr_err_t sr_httpd_resolve(const char *bind, int port,
                          struct sockaddr_storage *ss, sr_errctx_t *ec)
{
        struct addrinfo hints, *res;
        char service[8];
        int rc;

        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
        snprintf(service, sizeof(service), "%d", port);
        rc = getaddrinfo(bind, service, &hints, &res);
        if (rc)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "httpd %s: resolve: %s", bind,
                                     gai_strerror(rc));
        if (res->ai_addrlen > sizeof(*ss)) {
                freeaddrinfo(res);
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "httpd %s: address too long", bind);
        }
        memset(ss, 0, sizeof(*ss));
        memcpy(ss, res->ai_addr, res->ai_addrlen);
        freeaddrinfo(res);
        return SR_OK;
}

sr_err_t sr_httpd_open(const char *bind, int port,
                       const sr_httpd_handlers_t *h, sr_httpd_t **out,
                       sr_errctx_t *ec)
{
        const union MHD_DaemonInfo *info;
        struct sockaddr_storage ss;
        unsigned int flags;
        sr_httpd_t *httpd;
        sr_err_t err;

        if (port < 0 || port > 65535)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "httpd: port %d out of range 0..65535",
                                     port);
        err = sr_httpd_resolve(bind, port, &ss, ec);
        if (err)
                return err;
        httpd = calloc(1, sizeof(*httpd));
        if (!httpd)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "httpd: calloc");
        if (h)
                httpd->h = *h;
        flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
        if (ss.ss_family == AF_INET6)
                flags |= MHD_USE_IPv6;
        errno = 0;
        httpd->daemon = MHD_start_daemon(
                flags, (uint16_t)port, NULL, NULL, answer, httpd,
                /* the logger first, or MHD warns on stderr */
                MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL,
                MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&ss,
                MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CONNECTION_LIMIT,
                MHD_OPTION_CONNECTION_TIMEOUT,
                (unsigned int)CONNECTION_TIMEOUT_S, MHD_OPTION_END);
        if (!httpd->daemon) {
                err = sr_errctx_set(ec, SR_ERR_IO,
                                    "httpd %s:%d: cannot listen: %s", bind,
                                    port, errno ? strerror(errno) :
                                                  "libmicrohttpd failed");
                goto err_free;
        }
        info = MHD_get_daemon_info(httpd->daemon, MHD_DAEMON_INFO_BIND_PORT);
        httpd->port = info ? info->port : port;
        SR_INFO("HTTPD", "listening bind=%s port=%d", bind, httpd->port);
        *out = httpd;
        return SR_OK;

err_free:
        free(httpd);
        return err;
}

int sr_httpd_port(const sr_httpd_t *httpd)
{
        return httpd->port;
}

void sr_httpd_close(sr_httpd_t *httpd)
{
        if (!httpd)
                return;
        MHD_stop_daemon(httpd->daemon);
        free(httpd);
}
