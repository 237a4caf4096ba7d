/* common/gateway/sr_gateway_int.h - what the gateway's files share: the
 * gateway itself, one request's context, and the module-internal
 * sr_gateway__* functions of sr_gw_answer.c, sr_gw_reads.c, sr_gw_writes.c
 * and sr_gw_feed.c. Not for use outside common/gateway/sr_g*.c.
 */
#ifndef SR_GATEWAY_INT_H
#define SR_GATEWAY_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "sr_auth.h"
#include "sr_codec.h"
#include "sr_gateway.h"
#include "sr_gw_port.h"
#include "sr_http.h"
#include "sr_idem.h"
#include "sr_json_writer.h"
#include "sr_metrics.h"
#include "sr_proj.h"

/* Phases of a write, for sr_gateway_write_phase_seconds. */
enum {
        SR_GW_PHASE_PRODUCE, /* command sent until the broker acknowledged
                              * it */
        SR_GW_PHASE_REPLY,   /* acknowledged until the feed read the reply:
                              * the worker's fetch, batch and relay, the
                              * gateway's fetch (the reply's record
                              * timestamp cannot split it: it may carry the
                              * command's time) */
        SR_GW_PHASE_VISIBLE, /* reply read until the projection held its
                              * versions */
        SR_GW_PHASE__COUNT
};

/* sr_http_requests_total series, looked up once per route and code: the
 * registry's lookup takes its lock and compares labels. */
#define SR_GW_CODE_MIN 100
#define SR_GW_CODE_MAX 599

/* The Kafka side (sr_gw_feed.c): producer, feed thread, reply waiters,
 * broker health. */
typedef struct sr_gw_kafka sr_gw_kafka_t;
typedef struct sr_gw_watch sr_gw_watch_t;

/* Events of the enterprise watchers' ring (GET /v0/events/): a watcher
 * further behind is dropped. */
#define SR_GW_WATCH_RING 4096

struct sr_gateway {
        const sr_conf_t *conf;
        sr_metrics_t *metrics;
        sr_auth_t *auth;
        sr_proj_t *proj;
        bool owns_proj;        /* opened by sr_gateway_new() */
        sr_gw_port_t port;     /* every write goes through it */
        sr_gw_kafka_t *kafka;  /* behind port; NULL with the caller's port */
        sr_codec_t *codec;     /* encodes commands; under codec_mu */
        pthread_mutex_t codec_mu;

        char *link_base; /* gateway.public.url without its trailing '/', or
                          * "": links relative to the server root */

        sr_idem_t *idem; /* Idempotency-Keys; locks itself */
        sr_series_t *idem_keys, *idem_evicted;
        atomic_uint_least64_t idem_evicted_seen; /* added to idem_evicted */

        sr_series_t *latency, *proj_records, *proj_lag;
        sr_mapuse_watch_t proj_use; /* the projection's map; the feed
                                     * thread measures it */
        sr_series_t *phase[SR_GW_PHASE__COUNT];
        _Atomic(sr_series_t *) *requests; /* [route][code - CODE_MIN] */
        sr_gw_watch_t *watch; /* the watchers' ring and waker */
        sr_series_t *watch_conns, *watch_dropped;
};

/* One request being answered. */
typedef struct sr_gw_ctx {
        sr_gateway_t *gw;
        const sr_gw_request_t *req;
        sr_gw_response_t *resp;
        const sr_route_t *route;
        char enterprise[SR_SHORT_MAX];
        const char *base; /* of links: gw->link_base */
        char path[1024];
} sr_gw_ctx_t;

/* ------------------------------------------------------------ answers
 * sr_gw_answer.c. Each writes @p resp (status, content type, body) in
 * full; the body is malloc'd (the caller frees it). */

/** @brief Answer 200 with the enveloped JSON @p w wrote (the response
 *  takes its buffer), or 500 when it ran out of memory. */
void sr_gateway__answer_jw(sr_gw_response_t *resp, sr_jw_t *w);
/** @brief The envelope {code, message, content}; takes @p content. */
void sr_gateway__answer_json(sr_gw_response_t *resp, int status,
                             const char *message, json_t *content);

/** @brief A refusal described by @p prob (Allow included). */
void sr_gateway__answer_problem(sr_gw_response_t *resp,
                                const sr_http_problem_t *prob);

/** @brief A refusal with a formatted message (UTF-8, cut at 511 bytes). */
void sr_gateway__answer_status(sr_gw_response_t *resp, int status,
                               const char *fmt, ...) SR_PRINTF(3, 4);

/** @brief A body that is not enveloped: @p len bytes of @p text copied. */
void sr_gateway__answer_text(sr_gw_response_t *resp, int status,
                             const char *ctype, const void *text,
                             size_t len);

/** @brief The request's query, parsed for its route's list into @p q;
 *  false after answering its problem (400). */
bool sr_gateway__list_query(sr_gw_ctx_t *c, sr_http_query_t *q);

/** @brief A list page of @p count matches; takes @p results.
 *  @p next_cursor (borrowed): see sr_http_page_keyset(); NULL: offset
 *  links. */
void sr_gateway__answer_page(sr_gw_ctx_t *c, const sr_http_query_t *q,
                             uint64_t count, const char *next_cursor,
                             json_t *results);

/** @brief A list page whose items sr_jw wrote (comma-separated objects);
 *  takes items->p. Byte-identical to sr_gateway__answer_page(). */
void sr_gateway__answer_page_jw(sr_gw_ctx_t *c, const sr_http_query_t *q,
                                uint64_t count, const char *next_cursor,
                                sr_jw_t *items);

/** @brief 404 "<what> not found"; when the route names a pipeline run
 *  that the caller's enterprise retired and the projection still has its
 *  note, the 404 of sr_gateway__answer_retired() instead. */
void sr_gateway__not_found(sr_gw_ctx_t *c, const char *what);

/**
 * @brief If the projection holds the note of retired run @p run in
 * @p enterprise (and of pipeline @p pipeline, unless NULL), answer 404
 * "pipeline run <id> was retired at <ISO-8601> ..." with @p content
 * (taken; NULL: {}) and return true; otherwise touch nothing (content
 * freed) and return false.
 */
bool sr_gateway__answer_retired(sr_gateway_t *gw, const char *enterprise,
                                const sr_uuid_t *run,
                                const sr_uuid_t *pipeline,
                                sr_gw_response_t *resp, json_t *content);

/** @brief A failed projection read: 404 for NOT_FOUND, else 500. */
void sr_gateway__proj_failed(sr_gw_ctx_t *c, const sr_errctx_t *ec,
                             const char *what);

/* ------------------------------------------------------------ reads
 * sr_gw_reads.c. */

/** @brief GET of a list route. */
void sr_gateway__list(sr_gw_ctx_t *c);

/** @brief GET of one entity or operation; also the answer of a PUT once
 *  its write is visible. */
void sr_gateway__get(sr_gw_ctx_t *c);

/** @brief GET .../targetruns/{id}/command/: the target run's device
 *  command (docs/api-decisions.md, "A target run's device command"). */
void sr_gateway__get_command(sr_gw_ctx_t *c);

/**
 * @brief Read the entity a pipeline-run, stage-run or target-run route
 * names (GET, PUT, or DELETE of a pipeline run) in the caller's
 * enterprise, without rendering it.
 * @param[out] e set on true; owns nothing on the heap.
 * @returns false after answering 404 (absent, another enterprise's, or
 *          under another parent) or 500.
 */
bool sr_gateway__read_entity(sr_gw_ctx_t *c, sr_entity_t *e);

/**
 * @brief GET/PUT/DELETE /v0/runs/{id}/ (route->any_pipeline, our
 * extension) is the pipeline-scoped run route spelled without its
 * pipeline id: set
 * @p route->pipeline_id to the run's pipeline in @p enterprise, from the
 * projection (the run, else the note it left when it retired), so that
 * every later step (Idempotency-Key fingerprint, tenancy, retired runs,
 * the answer) is the pipeline-scoped route's. An unknown run, or another
 * enterprise's, leaves the id nil: the handler then answers the 404 that
 * path gives. Answers nothing; one projection read.
 */
void sr_gateway__route_pipeline(sr_gateway_t *gw, const char *enterprise,
                                sr_route_t *route);

/* ------------------------------------------------------------ registry
 * sr_gw_registry.c. */

/** @brief A request of SR_ROUTE_REGISTRY: the Confluent Schema Registry
 *  read API over the built-in schemas; @p resp written in full. */
void sr_gateway__registry(sr_gateway_t *gw, const sr_gw_request_t *req,
                          sr_gw_response_t *resp);

/** @brief A registry error: {"error_code": @p code, "message": ...} as
 *  application/vnd.schemaregistry.v1+json with HTTP @p status. */
void sr_gateway__registry_error(sr_gw_response_t *resp, int status,
                                int code, const char *fmt, ...)
        SR_PRINTF(4, 5);

/* ------------------------------------------------------------ writes
 * sr_gw_writes.c. */

/** @brief PUT of a pipeline run, stage run or target run. */
void sr_gateway__put_status(sr_gw_ctx_t *c);

/** @brief POST .../command/ (send again) and PUT .../command/{id}/
 *  (cancel) of a target run's device command. */
void sr_gateway__command_write(sr_gw_ctx_t *c);
/** @brief POST /stageruns/{id}/targetruns/: AddTargetRun, then the new
 *  target runs as an array (sr_gw_writes.c). */
void sr_gateway__add_target_run(sr_gw_ctx_t *c);

/** @brief POST /v0/runs/. */
void sr_gateway__create_run(sr_gw_ctx_t *c);

/** @brief The id of a run a write creates (POST /v0/runs/, @p pipeline
 *  NULL; POST /v0/pipelines/{id}/runs/, its pipeline): UUID v5 of the
 *  caller's Idempotency-Key and, for a stored pipeline's run, the
 *  pipeline (a retry names the same run), else UUID v4. */
void sr_gateway__new_run_id(const sr_gw_ctx_t *c, const sr_uuid_t *pipeline,
                            sr_uuid_t *out);
/* The new run @p run as this gateway's projection holds it: 200 with it
 * (POST /v0/runs/, POST /pipelines/{id}/runs/), or 500. */
void sr_gateway__answer_new_run(sr_gw_ctx_t *c, const sr_uuid_t *run);

/** @brief DELETE of a pipeline run: DeleteRun, then the run as it was. */
void sr_gateway__delete_run(sr_gw_ctx_t *c);

/**
 * @brief A write's Idempotency-Key check (the key is
 * c->req->idempotency_key): true after answering 409 (the key was used
 * with another route or body), 500 or 503; false when the write may go
 * on, or came without a key.
 */
bool sr_gateway__idem_refused(sr_gw_ctx_t *c);

/** @brief @p cmd zeroed, then its kind, enterprise, issued_at, run (NULL:
 *  none yet) and command id: of the Idempotency-Key when one came, else
 *  random (a caller with a deterministic id sets its own after). */
void sr_gateway__command_init(sr_command_t *cmd, sr_cmd_kind_t kind,
                              const char *enterprise,
                              const sr_gw_request_t *req,
                              const sr_uuid_t *run);

/**
 * @brief Encode @p cmd (413 over command.max.bytes), send it through the
 * port, wait for its reply and until the projection holds what the reply
 * names (a StartPipelineRun's: the run it started, port call wait_run). @returns 0 when accepted and visible (nothing answered yet);
 * else the HTTP status of the answer written: the worker's refusal
 * (400/404/409/413/500 with its message, reason and the command id), 202
 * when the reply or the visibility did not come in time, 413/500/503
 * when it was not sent.
 */
int sr_gateway__run_command(sr_gateway_t *gw, sr_command_t *cmd,
                            sr_gw_response_t *resp);
/** @brief sr_gateway__run_command() that also copies the worker's reply
 *  to @p out (when one arrived; NULL: not wanted). */
int sr_gateway__run_command_reply(sr_gateway_t *gw, sr_command_t *cmd,
                                  sr_gw_response_t *resp, sr_reply_t *out);

/* ------------------------------------------------------------ definitions
 * sr_gw_defs.c: the routes of stored definitions (docs/definitions.md,
 * phase A): lists and gets from the projection, writes as definition
 * commands keyed by the pipeline. */

/** @brief The answer to a send that did not go out (503, 413, 500). */
int sr_gateway__send_failed(sr_gw_sent_t sent, const sr_errctx_t *ec,
                            sr_gw_response_t *resp);
/** @brief The HTTP status of a refused command's reason. */
int sr_gateway__refusal_status(sr_reject_t reason);
/** @brief A refusal's content: command_id, reason, and current_version
 *  with a definition's stale_version. New reference (NULL: no memory). */
json_t *sr_gateway__refusal_content(const char *cid, const sr_reply_t *reply);

/** @brief Any DEF_* route (sr_route_is_definition()). */
void sr_gateway__def(sr_gw_ctx_t *c);

/** @brief POST /v0/pipelines/{id}/runs/: StartPipelineRun keyed by the
 *  pipeline, then 201 with the run once the projection holds it
 *  (docs/definitions.md section 5). */
void sr_gateway__start_pipeline_run(sr_gw_ctx_t *c);

/* sr_gw_targets.c: an open stage's targets (docs/targets.md, 5). */
/** @brief POST /v0/runs/{run}/stageruns/{stage_run}/targets/. */
void sr_gateway__append_targets(sr_gw_ctx_t *c);
/** @brief POST /v0/runs/{run}/stageruns/{stage_run}/targets/seal/. */
void sr_gateway__seal_targets(sr_gw_ctx_t *c);

/** @brief The Idempotency-Key memory (gw->idem), its bucket hash keyed
 *  with random bytes. */
sr_err_t sr_gateway__idem_open(sr_gateway_t *gw, sr_errctx_t *ec);

/** @brief The key memory's count and evictions into the metrics (after
 *  keys were added). Any thread. */
void sr_gateway__idem_stats_publish(sr_gateway_t *gw);

/* ------------------------------------------------------------ Kafka
 * sr_gw_feed.c: the port sr_gateway_new() builds. */

/**
 * @brief Read the changelog's ends, connect the producer, start the feed
 * thread; set gw->kafka and gw->port. gw->conf, proj and the metrics
 * series must be set.
 * @returns SR_OK; on failure gw->kafka may be set:
 *          sr_gateway__kafka_stop() frees it.
 */
/* sr_gw_watch.c: the watch API (Server-Sent Events). */
/** @brief The ring, the waker and the watch metrics, into gw->watch. */
sr_err_t sr_gateway__watch_new(sr_gateway_t *gw, sr_errctx_t *ec);
/** @brief Free the ring; no stream may be open. NULL is a no-op. */
void sr_gateway__watch_destroy(sr_gw_watch_t *w);
/** @brief The feed applied @p ev (@p json, @p len bytes: copied): into
 *  the enterprise watchers' ring. */
void sr_gateway__watch_publish(sr_gw_watch_t *w, const sr_event_t *ev,
                               const char *json, size_t len);
/** @brief New events are readable: wake the streams (the waker). */
void sr_gateway__watch_notify(sr_gw_watch_t *w);
/** @brief GET /v0/runs/{id}/events/ and GET /v0/events/. */
void sr_gateway__watch_run(sr_gw_ctx_t *c);
void sr_gateway__watch_all(sr_gw_ctx_t *c);

sr_err_t sr_gateway__kafka_start(sr_gateway_t *gw, sr_errctx_t *ec);

/** @brief Stop the feed thread, free the Kafka side. NULL ok. */
void sr_gateway__kafka_stop(sr_gw_kafka_t *k);

/** @brief Readiness as the feed sees it (sr_gateway_is_ready()). */
bool sr_gateway__kafka_ready(sr_gw_kafka_t *k, char *why, size_t why_size);
/* Did the feed thread start a turn of its loop in the last max_age_ms? */
bool sr_gateway__kafka_alive(sr_gw_kafka_t *k, int64_t now_ms,
                             int64_t max_age_ms);

#endif /* SR_GATEWAY_INT_H */
