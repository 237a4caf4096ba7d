/* common/gateway/sr_gateway.c - the REST gateway: its lifecycle, readiness,
 * the request dispatcher and the request metrics. Answers, reads, writes
 * and the Kafka side are in sr_gw_answer.c, sr_gw_reads.c, sr_gw_writes.c
 * and sr_gw_feed.c (sr_gateway_int.h).
 *
 * Checks run in this order, so a client always learns the first thing to
 * fix: route (404, 405), auth (401), readiness (503), content type
 * (415), body size (413), body
 * and query (400), Idempotency-Key reuse (409), existence in the caller's
 * enterprise (404), the size of the command (413: command.max.bytes, what
 * the workers accept), then the worker's verdict (400/404 from its reply;
 * 202 when no reply arrives in time). Readiness follows the broker as
 * librdkafka reports it (sr_gw_feed.c), never a request's outcome.
 */
#include "sr_gateway_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_clock.h"
#include "sr_ui.h"

extern const char sr_openapi_json[];
extern const size_t sr_openapi_json_len;
extern const char sr_asyncapi_yaml[];
extern const size_t sr_asyncapi_yaml_len;

static const char *const phase_names[SR_GW_PHASE__COUNT] = {
        [SR_GW_PHASE_PRODUCE] = "produce",
        [SR_GW_PHASE_REPLY] = "reply",
        [SR_GW_PHASE_VISIBLE] = "visible",
};

/* ------------------------------------------------------------ requests */

static void count_request(sr_gateway_t *gw, sr_route_id_t route, int status,
                          double seconds)
{
        _Atomic(sr_series_t *) *slot = NULL;
        sr_series_t *s = NULL;
        char labels[96];

        if (gw->requests && (unsigned)route < SR_ROUTE__COUNT &&
            status >= SR_GW_CODE_MIN && status <= SR_GW_CODE_MAX) {
                slot = &gw->requests[(size_t)route * (SR_GW_CODE_MAX -
                                                      SR_GW_CODE_MIN + 1) +
                                     (size_t)(status - SR_GW_CODE_MIN)];
                s = atomic_load_explicit(slot, memory_order_acquire);
        }
        /* The first of its kind: the registry's lookup. */
        if (!s && gw->metrics) {
                snprintf(labels, sizeof(labels),
                         "route=\"%s\",code=\"%d\"", sr_route_name(route),
                         status);
                s = sr_metrics_counter(gw->metrics, "sr_http_requests_total",
                                       "HTTP requests by route and status "
                                       "code.",
                                       labels);
                if (slot && s)
                        atomic_store_explicit(slot, s, memory_order_release);
        }
        sr_series_add(s, 1);
        sr_series_observe(gw->latency, seconds);
}

/* A 401's challenge (RFC 9110 11.6.1, RFC 6750 3): the scheme and realm;
 * invalid_token when a token came and was not accepted. */
static const char *www_authenticate(const sr_gw_request_t *req)
{
        return req->authorization && req->authorization[0] ?
                       "WWW-Authenticate: Bearer realm=\"sr\", "
                       "error=\"invalid_token\"\r\n" :
                       "WWW-Authenticate: Bearer realm=\"sr\"\r\n";
}

static size_t route_body_max(const sr_gateway_t *gw, sr_route_id_t id)
{
        return (size_t)(id == SR_ROUTE_DEF_TARGETS_BULK ?
                                gw->conf->gateway_bulk_max_bytes :
                                gw->conf->gateway_body_max_bytes);
}

size_t sr_gateway_body_max(sr_gateway_t *gw, const char *method,
                           const char *target)
{
        sr_route_t route;

        /* only a POST can be the bulk's: no routing for the others */
        if (strcmp(method, "POST") ||
            sr_http_route(method, target, &route, NULL) != SR_OK)
                return (size_t)gw->conf->gateway_body_max_bytes;
        return route_body_max(gw, route.id);
}

/* The checks that need no body, in the order of checks: route (404, 405),
 * auth (401), readiness (503), and for
 * writes Content-Type (415) and the declared body size (413). True when
 * @p resp holds their answer; the operations routes pass. */
static bool answer_from_head(sr_gateway_t *gw, const sr_gw_request_t *req,
                             sr_gw_response_t *resp, sr_route_t *route,
                             char *enterprise)
{
        sr_http_problem_t prob = { 0 };
        char why[128];

        route->id = SR_ROUTE_NONE;
        if (sr_http_route(req->method, req->target, route, &prob) != SR_OK) {
                sr_gateway__answer_problem(resp, &prob);
                return true;
        }
        if (sr_route_is_registry(route->id)) {
                if (!gw->conf->gateway_registry_auth ||
                    sr_auth_check(gw->auth, req->authorization, enterprise))
                        return false;
                sr_gateway__registry_error(resp, 401, 40101,
                                           "missing or unknown token: send "
                                           "\"Authorization: Bearer "
                                           "<token>\" "
                                           "(gateway.registry.auth)");
                resp->headers = www_authenticate(req);
                return true;
        }
        if (!sr_route_needs_auth(route->id))
                return false;
        if (!sr_auth_check(gw->auth, req->authorization, enterprise)) {
                sr_gateway__answer_status(resp, 401, "missing or unknown "
                                          "token: send \"Authorization: "
                                          "Bearer <token>\"");
                resp->headers = www_authenticate(req);
                return true;
        }
        if (!sr_gateway_is_ready(gw, why, sizeof(why))) {
                resp->retry_after = 1;
                sr_gateway__answer_status(resp, 503, "not ready: %s", why);
                return true;
        }
        if (!sr_route_has_body(route->id))
                return false;
        if (sr_route_body_optional(route->id) && !req->content_type &&
            req->body_len == 0 && !req->body_too_large)
                return false;
        if (sr_http_check_content_type(req->content_type, &prob) != SR_OK) {
                sr_gateway__answer_problem(resp, &prob);
                return true;
        }
        if (req->body_too_large) {
                bool bulk = route->id == SR_ROUTE_DEF_TARGETS_BULK;

                sr_gateway__answer_status(resp, 413, "request body over %zu "
                                          "bytes (%s)",
                                          route_body_max(gw, route->id),
                                          bulk ? "gateway.bulk.max.bytes" :
                                                 "gateway.body.max.bytes");
                return true;
        }
        return false;
}

static void count_answer(sr_gateway_t *gw, sr_route_id_t route,
                         sr_gw_response_t *resp, double t0)
{
        if (resp->status == 503 && !resp->retry_after)
                resp->retry_after = 1;
        count_request(gw, route, resp->status, sr_clock_mono_s() - t0);
}

/* The operations routes and the console (no envelope, no token). False for
 * the others. */
static bool answer_ops(sr_gateway_t *gw, const sr_route_t *route,
                       sr_gw_response_t *resp)
{
        sr_buf_t text = { 0 };
        char why[128];

        switch (route->id) {
        case SR_ROUTE_LIVEZ:
                sr_gateway__answer_text(resp, 200, "text/plain", "ok\n", 3);
                return true;
        case SR_ROUTE_READYZ:
                if (sr_gateway_is_ready(gw, why, sizeof(why))) {
                        sr_gateway__answer_text(resp, 200, "text/plain",
                                                "ready\n", 6);
                        return true;
                }
                strncat(why, "\n", sizeof(why) - strlen(why) - 1);
                resp->retry_after = 1;
                sr_gateway__answer_text(resp, 503, "text/plain", why,
                                        strlen(why));
                return true;
        case SR_ROUTE_METRICS:
                if (gw->metrics &&
                    sr_metrics_render(gw->metrics, &text, NULL) == SR_OK) {
                        resp->status = 200;
                        resp->content_type = "text/plain; version=0.0.4";
                        resp->body = text;
                } else {
                        sr_gateway__answer_text(resp, 404, "text/plain",
                                                "no metrics\n", 11);
                }
                return true;
        case SR_ROUTE_OPENAPI:
                sr_gateway__answer_text(resp, 200, "application/json",
                                        sr_openapi_json, sr_openapi_json_len);
                return true;
        case SR_ROUTE_ASYNCAPI:
                sr_gateway__answer_text(resp, 200, "application/yaml",
                                        sr_asyncapi_yaml,
                                        sr_asyncapi_yaml_len);
                return true;
        case SR_ROUTE_UI:
                sr_gateway__answer_text(resp, 200, route->ui_file->content_type,
                                        route->ui_file->bytes,
                                        route->ui_file->len);
                resp->headers = SR_UI_HEADERS;
                return true;
        default:
                return false;
        }
}

bool sr_gateway_check_head(sr_gateway_t *gw, const sr_gw_request_t *req,
                           sr_gw_response_t *resp)
{
        char enterprise[SR_SHORT_MAX];
        double t0 = sr_clock_mono_s();
        sr_route_t route;

        memset(resp, 0, sizeof(*resp));
        if (!answer_from_head(gw, req, resp, &route, enterprise))
                return false;
        count_answer(gw, route.id, resp, t0);
        return true;
}

void sr_gateway_handle(sr_gateway_t *gw, const sr_gw_request_t *req,
                       sr_gw_response_t *resp)
{
        sr_http_problem_t prob = { 0 };
        sr_route_t route;
        double t0 = sr_clock_mono_s();
        sr_gw_ctx_t c;

        memset(resp, 0, sizeof(*resp));
        memset(&c, 0, sizeof(c));
        c.gw = gw;
        c.req = req;
        c.resp = resp;
        c.route = &route;
        if (answer_from_head(gw, req, resp, &route, c.enterprise))
                goto done;
        if (answer_ops(gw, &route, resp))
                goto done;
        if (sr_route_is_registry(route.id)) {
                sr_gateway__registry(gw, req, resp);
                goto done;
        }
        /* A write's key; a write without a body (DELETE) takes none. */
        if (sr_route_is_write(route.id) &&
            (sr_http_check_idempotency_key(req->idempotency_key, &prob) !=
                     SR_OK ||
             sr_http_check_no_body(route.id, req->body_len, &prob) !=
                     SR_OK)) {
                sr_gateway__answer_problem(resp, &prob);
                goto done;
        }
        /* /v0/runs/{id}/ is the pipeline-scoped run route from here on. */
        sr_gateway__route_pipeline(gw, c.enterprise, &route);
        c.base = gw->link_base;
        snprintf(c.path, sizeof(c.path), "%.*s",
                 (int)strcspn(req->target, "?#"), req->target);
        switch (route.id) {
        case SR_ROUTE_RUNS_LIST:
        case SR_ROUTE_PIPELINE_RUNS_LIST:
        case SR_ROUTE_STAGE_RUNS_LIST:
        case SR_ROUTE_OPERATIONS_LIST:
        case SR_ROUTE_TARGET_RUNS_LIST:
        case SR_ROUTE_STAGE_TARGETS_LIST:
                sr_gateway__list(&c);
                break;
        case SR_ROUTE_PIPELINE_RUN_GET:
        case SR_ROUTE_STAGE_RUN_GET:
        case SR_ROUTE_OPERATION_GET:
        case SR_ROUTE_TARGET_RUN_GET:
                sr_gateway__get(&c);
                break;
        case SR_ROUTE_TARGET_RUN_COMMAND_GET:
                sr_gateway__get_command(&c);
                break;
        case SR_ROUTE_TARGET_RUN_COMMAND_SEND:
        case SR_ROUTE_TARGET_RUN_COMMAND_CANCEL:
                sr_gateway__command_write(&c);
                break;
        case SR_ROUTE_TARGET_RUNS_ADD:
                sr_gateway__add_target_run(&c);
                break;
        case SR_ROUTE_PIPELINE_RUN_PUT:
        case SR_ROUTE_STAGE_RUN_PUT:
        case SR_ROUTE_TARGET_RUN_PUT:
                sr_gateway__put_status(&c);
                break;
        case SR_ROUTE_PIPELINE_RUN_DELETE:
                sr_gateway__delete_run(&c);
                break;
        case SR_ROUTE_RUNS_CREATE:
                sr_gateway__create_run(&c);
                break;
        case SR_ROUTE_PIPELINE_RUNS_CREATE:
                sr_gateway__start_pipeline_run(&c);
                break;
        case SR_ROUTE_STAGE_TARGETS_APPEND:
                sr_gateway__append_targets(&c);
                break;
        case SR_ROUTE_STAGE_TARGETS_SEAL:
                sr_gateway__seal_targets(&c);
                break;
        case SR_ROUTE_RUN_EVENTS:
                sr_gateway__watch_run(&c);
                break;
        case SR_ROUTE_EVENTS:
                sr_gateway__watch_all(&c);
                break;
        default:
                if (sr_route_is_definition(route.id))
                        sr_gateway__def(&c);
                else
                        sr_gateway__answer_status(resp, 404,
                                                  "unknown path or id");
                break;
        }
done:
        count_answer(gw, route.id, resp, t0);
}

/* ------------------------------------------------------------ lifecycle */

bool sr_gateway_is_ready(sr_gateway_t *gw, char *why, size_t why_size)
{
        if (!gw->kafka)
                return true; /* the caller's port: nothing to catch up */
        return sr_gateway__kafka_ready(gw->kafka, why, why_size);
}

bool sr_gateway_is_alive(sr_gateway_t *gw, int64_t now_ms)
{
        if (!gw->kafka)
                return true;
        return sr_gateway__kafka_alive(gw->kafka, now_ms, SR_GW_FEED_STUCK_MS);
}

/* The gateway's series, in the order /metrics lists them. */
static void register_series(sr_gateway_t *gw)
{
        gw->idem_keys = sr_metrics_gauge(
                gw->metrics, "sr_gateway_idempotency_keys",
                "Idempotency-Keys this gateway remembers (at most "
                "gateway.idempotency.max.keys).", NULL);
        gw->idem_evicted = sr_metrics_counter(
                gw->metrics, "sr_gateway_idempotency_evicted_total",
                "Idempotency-Keys forgotten before gateway.idempotency."
                "ttl.s because gateway.idempotency.max.keys were held.",
                NULL);
        gw->latency = sr_metrics_histogram(gw->metrics,
                                           "sr_http_request_duration_seconds",
                                           "Time to answer a request.", NULL,
                                           NULL, 0);
        gw->proj_lag = sr_metrics_gauge(
                gw->metrics, "sr_projection_lag_records",
                "Changelog records not yet in the projection (-1: unknown).",
                NULL);
        gw->proj_records = sr_metrics_counter(
                gw->metrics, "sr_projection_records_total",
                "Changelog records applied to the projection.", NULL);
        sr_mapuse_watch_init(&gw->proj_use, gw->metrics, "projection",
                             false);
        for (int i = 0; i < SR_GW_PHASE__COUNT; i++) {
                char labels[32];

                snprintf(labels, sizeof(labels), "phase=\"%s\"",
                         phase_names[i]);
                gw->phase[i] = sr_metrics_histogram(
                        gw->metrics, "sr_gateway_write_phase_seconds",
                        "Where a write's time goes: produce (until the "
                        "broker acknowledged the command), reply (until "
                        "the gateway read the worker's reply), visible "
                        "(until the projection held what it names).",
                        labels, NULL, 0);
        }
}

/* What every gateway has: links, Idempotency-Keys, metrics, tokens, the
 * command codec. The projection and the port are the constructors'. */
static sr_err_t gateway_alloc(const sr_conf_t *conf, sr_metrics_t *metrics,
                              const char *env_tokens, sr_gateway_t **gwp,
                              sr_errctx_t *ec)
{
        sr_gateway_t *gw;
        sr_err_t err;

        err = sr_conf_check_budget(conf, ec);
        if (err)
                return err;
        gw = calloc(1, sizeof(*gw));
        if (!gw)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "gateway: calloc");
        *gwp = gw;
        gw->conf = conf;
        gw->metrics = metrics;
        pthread_mutex_init(&gw->codec_mu, NULL);
        atomic_init(&gw->idem_evicted_seen, 0);
        gw->link_base = strdup(conf->gateway_public_url ?
                               conf->gateway_public_url : "");
        if (!gw->link_base)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "gateway: tables");
        for (size_t n = strlen(gw->link_base);
             n && gw->link_base[n - 1] == '/';)
                gw->link_base[--n] = '\0';
        err = sr_gateway__idem_open(gw, ec);
        if (err)
                return err;
        if (metrics)
                register_series(gw);
        err = sr_gateway__watch_new(gw, ec);
        if (err)
                return err;
        gw->requests = calloc((size_t)SR_ROUTE__COUNT *
                                      (SR_GW_CODE_MAX - SR_GW_CODE_MIN + 1),
                              sizeof(*gw->requests));
        if (!gw->requests)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "gateway: tables");
        err = sr_auth_new(conf->gateway_tokens_file, env_tokens, &gw->auth,
                          ec);
        if (err)
                return err;
        if (sr_auth_count(gw->auth) == 0)
                return sr_errctx_set(ec, SR_ERR_CONF,
                                     "no API tokens: set gateway.tokens.file "
                                     "or SR_API_TOKENS=token:enterprise");
        err = sr_codec_new(&gw->codec, ec);
        if (!err)
                sr_codec_set_ids(gw->codec, &conf->schema_ids);
        return err;
}

sr_err_t sr_gateway_new(const sr_conf_t *conf, sr_metrics_t *metrics,
                        const char *env_tokens, sr_gateway_t **gwp,
                        sr_errctx_t *ec)
{
        sr_gateway_t *gw = NULL;
        sr_err_t err;

        err = gateway_alloc(conf, metrics, env_tokens, &gw, ec);
        if (!err)
                err = sr_proj_open(conf->data_dir, 0, &gw->proj, ec);
        if (!err) {
                gw->owns_proj = true;
                sr_proj_set_ids(gw->proj, &conf->schema_ids);
                err = sr_gateway__kafka_start(gw, ec);
        }
        if (err) {
                sr_gateway_destroy(gw);
                return err;
        }
        *gwp = gw;
        return SR_OK;
}

sr_err_t sr_gateway_new_with_port(const sr_conf_t *conf,
                                  sr_metrics_t *metrics,
                                  const char *env_tokens, sr_proj_t *proj,
                                  const sr_gw_port_t *port,
                                  sr_gateway_t **gwp, sr_errctx_t *ec)
{
        sr_gateway_t *gw = NULL;
        sr_err_t err;

        if (!proj || !port || !port->send || !port->wait_reply ||
            !port->wait_visible || !port->wait_retired ||
            !port->wait_def_seq || !port->wait_run ||
            !port->claim != !port->wait_feed)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "gateway: a projection and a port "
                                     "with every call are needed (claim "
                                     "and wait_feed: both or neither)");
        err = gateway_alloc(conf, metrics, env_tokens, &gw, ec);
        if (err) {
                sr_gateway_destroy(gw);
                return err;
        }
        gw->proj = proj;
        gw->port = *port;
        *gwp = gw;
        return SR_OK;
}

void sr_gateway_destroy(sr_gateway_t *gw)
{
        if (!gw)
                return;
        sr_gateway__kafka_stop(gw->kafka);
        sr_gateway__watch_destroy(gw->watch);
        sr_codec_destroy(gw->codec);
        if (gw->owns_proj)
                sr_proj_close(gw->proj);
        sr_auth_destroy(gw->auth);
        sr_idem_destroy(gw->idem);
        free(gw->link_base);
        free((void *)gw->requests);
        pthread_mutex_destroy(&gw->codec_mu);
        free(gw);
}
