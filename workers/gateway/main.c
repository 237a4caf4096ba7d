/* workers/gateway/main.c - sr-gateway: the REST gateway. HTTP wiring only;
 * all behaviour is in common/sr_gateway.c.
 *
 * libmicrohttpd runs event loops (epoll, one per CPU, at most
 * HTTP_THREADS_MAX) that answer reads on the spot: a read is a short LMDB
 * lookup and never blocks. A write (PUT, POST) waits for the worker's reply
 * and for the projection to catch up with it, so its connection is
 * suspended and the request handed to a pool of write threads; the thread
 * that answers it resumes the connection, and the event loop sends the
 * answer. Neither a slow write nor a crowd of idle keep-alive connections
 * holds an event loop or costs a thread per connection.
 */
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "sr_conf.h"
#include "sr_gateway.h"
#include "sr_httpd.h"
#include "sr_log.h"
#include "sr_metrics.h"

extern char **environ;

/* Event loops: reads are CPU-bound, more loops than CPUs only add
 * switches. */
#define HTTP_THREADS_MAX 8
/* Writes in progress at once; more wait in the queue (each is bounded by
 * gateway.reply.timeout.ms). The threads mostly sleep on a condition. */
#define WRITE_THREADS 32

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
        (void)sig;
        stop_requested = 1;
}

/* A write's header values, copied while its connection is suspended. */
enum { HDR_AUTH, HDR_CTYPE, HDR_IDEM, HDR_HOST, HDR__COUNT };

static const char *const hdr_names[HDR__COUNT] = {
        [HDR_AUTH] = "Authorization",
        [HDR_CTYPE] = "Content-Type",
        [HDR_IDEM] = "Idempotency-Key",
        [HDR_HOST] = "Host",
};

/* Per-request state: the raw target (with its query), the body and, for a
 * write, its place in the write queue and its answer. */
typedef struct req_state {
        struct req_state *next; /* write queue */
        struct MHD_Connection *con;
        char *target;
        char *body;
        size_t len, cap;
        bool too_large;
        bool started;  /* the first call only sees the headers */
        bool answered; /* resp holds the answer of a resumed write */
        char *hdr[HDR__COUNT];
        const char *method; /* static in libmicrohttpd */
        sr_gw_response_t resp;
} req_state_t;

typedef struct write_pool {
        pthread_mutex_t mu;
        pthread_cond_t cv;
        req_state_t *head, *tail;
        pthread_t threads[WRITE_THREADS];
        int n_threads;
        bool stopping; /* under mu: no more writes are queued */
} write_pool_t;

typedef struct server {
        sr_gateway_t *gw;
        size_t body_max;
        write_pool_t pool;
} server_t;

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *con)
{
        req_state_t *st = calloc(1, sizeof(*st));

        (void)cls;
        if (st) {
                st->con = con;
                st->target = strdup(uri ? uri : "/");
        }
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
                for (int i = 0; i < HDR__COUNT; i++)
                        free(st->hdr[i]);
                sr_buf_free(&st->resp.body);
                free(st);
        }
        *con_cls = NULL;
}

/* Send @p resp; its body is taken. */
static enum MHD_Result queue_answer(struct MHD_Connection *con,
                                    sr_gw_response_t *resp)
{
        struct MHD_Response *r;
        enum MHD_Result ret;
        char num[16];

        r = MHD_create_response_from_buffer(resp->body.len, resp->body.ptr,
                                            MHD_RESPMEM_MUST_FREE);
        if (!r) {
                sr_buf_free(&resp->body);
                return MHD_NO;
        }
        resp->body.ptr = NULL; /* the response owns it now */
        resp->body.len = 0;
        MHD_add_response_header(r, "Content-Type", resp->content_type ?
                                                           resp->content_type :
                                                           "application/json");
        if (resp->allow[0])
                MHD_add_response_header(r, "Allow", resp->allow);
        if (resp->retry_after) {
                snprintf(num, sizeof(num), "%d", resp->retry_after);
                MHD_add_response_header(r, "Retry-After", num);
        }
        ret = MHD_queue_response(con, (unsigned)resp->status, r);
        MHD_destroy_response(r);
        return ret;
}

static void fill_request(const req_state_t *st, const char *method,
                         const char *const hdr[HDR__COUNT],
                         sr_gw_request_t *req)
{
        memset(req, 0, sizeof(*req));
        req->method = method;
        req->target = st->target ? st->target : "/";
        req->authorization = hdr[HDR_AUTH];
        req->content_type = hdr[HDR_CTYPE];
        req->idempotency_key = hdr[HDR_IDEM];
        req->host = hdr[HDR_HOST];
        req->body = st->body ? st->body : "";
        req->body_len = st->len;
        req->body_too_large = st->too_large;
}

/* ------------------------------------------------------------ writes */

static void *write_main(void *arg)
{
        server_t *srv = arg;
        write_pool_t *pool = &srv->pool;

        for (;;) {
                sr_gw_request_t req;
                req_state_t *st;
                bool stopping;

                pthread_mutex_lock(&pool->mu);
                while (!pool->head && !pool->stopping)
                        pthread_cond_wait(&pool->cv, &pool->mu);
                st = pool->head;
                if (st) {
                        pool->head = st->next;
                        if (!pool->head)
                                pool->tail = NULL;
                }
                stopping = pool->stopping;
                pthread_mutex_unlock(&pool->mu);
                if (!st)
                        break;
                if (stopping) { /* queued before the stop: not started */
                        memset(&st->resp, 0, sizeof(st->resp));
                        st->resp.status = 503;
                        st->resp.retry_after = 1;
                        st->resp.content_type = "application/json";
                        st->resp.body.ptr = strdup(
                                "{\"code\":503,\"message\":\"the gateway "
                                "is stopping; nothing was changed, retry\","
                                "\"content\":{}}");
                        st->resp.body.len = st->resp.body.ptr ?
                                                    strlen(st->resp.body.ptr) :
                                                    0;
                } else {
                        fill_request(st, st->method,
                                     (const char *const *)st->hdr, &req);
                        sr_gateway_handle(srv->gw, &req, &st->resp);
                }
                st->answered = true;
                /* The mutex inside publishes st to the event loop. */
                MHD_resume_connection(st->con);
        }
        return NULL;
}

/* Queue a write; false when the pool stopped (answer it here). */
static bool write_queue(write_pool_t *pool, req_state_t *st)
{
        bool ok;

        pthread_mutex_lock(&pool->mu);
        ok = !pool->stopping;
        if (ok) {
                st->next = NULL;
                if (pool->tail)
                        pool->tail->next = st;
                else
                        pool->head = st;
                pool->tail = st;
                pthread_cond_signal(&pool->cv);
        }
        pthread_mutex_unlock(&pool->mu);
        return ok;
}

static bool write_pool_start(server_t *srv)
{
        write_pool_t *pool = &srv->pool;

        pthread_mutex_init(&pool->mu, NULL);
        pthread_cond_init(&pool->cv, NULL);
        for (int i = 0; i < WRITE_THREADS; i++) {
                if (pthread_create(&pool->threads[i], NULL, write_main, srv))
                        return false;
                pool->n_threads++;
        }
        return true;
}

/* Answer what is queued (503: not started), let the writes in progress
 * finish, join the threads. */
static void write_pool_stop(write_pool_t *pool)
{
        pthread_mutex_lock(&pool->mu);
        pool->stopping = true;
        pthread_cond_broadcast(&pool->cv);
        pthread_mutex_unlock(&pool->mu);
        for (int i = 0; i < pool->n_threads; i++)
                pthread_join(pool->threads[i], NULL);
        pool->n_threads = 0;
}

static void write_pool_destroy(write_pool_t *pool)
{
        pthread_cond_destroy(&pool->cv);
        pthread_mutex_destroy(&pool->mu);
}

/* A write waits for the worker's reply: it leaves the event loop. */
static bool is_write(const char *method)
{
        return !strcmp(method, MHD_HTTP_METHOD_PUT) ||
               !strcmp(method, MHD_HTTP_METHOD_POST);
}

/* ------------------------------------------------------------ requests */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
        server_t *srv = cls;
        req_state_t *st = *con_cls;
        const char *hdr[HDR__COUNT];
        sr_gw_request_t req;
        sr_gw_response_t resp;

        (void)url;
        (void)version;
        if (!st)
                return MHD_NO;
        if (st->answered) /* a write, resumed by its write thread */
                return queue_answer(con, &st->resp);
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
        for (int i = 0; i < HDR__COUNT; i++)
                hdr[i] = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
                                                     hdr_names[i]);
        if (is_write(method)) {
                bool copied = true;

                for (int i = 0; i < HDR__COUNT; i++)
                        if (hdr[i] && !(st->hdr[i] = strdup(hdr[i])))
                                copied = false;
                if (!copied)
                        return MHD_NO;
                st->method = method;
                /* Suspend first: the write thread may resume at once. */
                MHD_suspend_connection(con);
                if (write_queue(&srv->pool, st))
                        return MHD_YES;
                MHD_resume_connection(con);
                memset(&resp, 0, sizeof(resp));
                resp.status = 503;
                resp.retry_after = 1;
                resp.content_type = "application/json";
                resp.body.ptr = strdup("{\"code\":503,\"message\":\"the "
                                       "gateway is stopping; nothing was "
                                       "changed, retry\",\"content\":{}}");
                resp.body.len = resp.body.ptr ? strlen(resp.body.ptr) : 0;
                return queue_answer(con, &resp);
        }
        fill_request(st, method, hdr, &req);
        sr_gateway_handle(srv->gw, &req, &resp);
        return queue_answer(con, &resp);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
        char msg[512];

        (void)cls;
        vsnprintf(msg, sizeof(msg), fmt, ap);
        msg[strcspn(msg, "\n")] = '\0';
        SR_WARN("HTTP", "libmicrohttpd: %s", msg);
}

/* One event loop per CPU this process may run on (taskset, cgroups). */
static unsigned http_threads(void)
{
        cpu_set_t set;
        long n;

        if (sched_getaffinity(0, sizeof(set), &set) == 0)
                n = CPU_COUNT(&set);
        else
                n = sysconf(_SC_NPROCESSORS_ONLN);
        if (n < 1)
                n = 1;
        return (unsigned)(n < HTTP_THREADS_MAX ? n : HTTP_THREADS_MAX);
}

int main(int argc, char **argv)
{
        struct MHD_Daemon *d = NULL;
        struct sockaddr_storage bind_ss;
        struct sigaction sa;
        sr_errctx_t ec = { 0 };
        sr_metrics_t *metrics = NULL;
        sr_conf_t *conf;
        server_t srv = { 0 };
        MHD_socket listen_fd = MHD_INVALID_SOCKET;
        bool pool_up = false;
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
        pool_up = true;
        if (!write_pool_start(&srv)) {
                SR_ERROR("MAIN", "cannot start the write threads");
                goto out;
        }
        /* Listen on http.bind only, not on every address. */
        if (sr_httpd_resolve(conf->http_bind, conf->http_port, &bind_ss,
                             &ec) != SR_OK) {
                SR_ERROR("MAIN", "http.bind: %s", ec.msg);
                status = EX_CONFIG;
                goto out;
        }
        d = MHD_start_daemon(
                MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
                        MHD_USE_ERROR_LOG |
                        (bind_ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
                (uint16_t)conf->http_port, NULL, NULL, on_request, &srv,
                MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&bind_ss,
                MHD_OPTION_THREAD_POOL_SIZE, http_threads(),
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
        SR_INFO("MAIN", "gateway serving port=%u http_threads=%u "
                "write_threads=%d",
                (unsigned)MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)
                        ->port,
                http_threads(), WRITE_THREADS);
        while (!stop_requested)
                usleep(100 * 1000);
        status = EXIT_SUCCESS;
out:
        /* No new connections; the writes queued get 503, those in progress
         * finish and resume their connections; then the event loops stop
         * with no connection left suspended. */
        if (d)
                listen_fd = MHD_quiesce_daemon(d);
        if (pool_up)
                write_pool_stop(&srv.pool);
        if (d)
                MHD_stop_daemon(d);
        if (listen_fd != MHD_INVALID_SOCKET)
                close(listen_fd); /* quiesced: ours to close */
        if (pool_up)
                write_pool_destroy(&srv.pool);
        sr_gateway_destroy(srv.gw);
        sr_metrics_destroy(metrics);
        sr_conf_destroy(conf);
        return status;
}
