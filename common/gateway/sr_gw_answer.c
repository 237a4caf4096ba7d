/* common/gateway/sr_gw_answer.c - the gateway's answers: the envelope,
 * refusals, plain text, and list pages (sr_gateway_int.h).
 */
#include "sr_gateway_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_clock.h"
#include "sr_utf8.h"

void sr_gateway__answer_json(sr_gw_response_t *resp, int status,
                             const char *message, json_t *content)
{
        resp->status = status;
        resp->content_type = "application/json";
        if (sr_http_envelope(status, message, content, &resp->body) !=
            SR_OK) {
                resp->status = 500;
                resp->body.ptr = strdup("{\"code\":500,\"message\":\"out of "
                                        "memory\",\"content\":{}}");
                resp->body.len = resp->body.ptr ? strlen(resp->body.ptr) : 0;
        }
        json_decref(content);
}

void sr_gateway__answer_problem(sr_gw_response_t *resp,
                                const sr_http_problem_t *prob)
{
        resp->status = prob->status;
        resp->content_type = "application/json";
        snprintf(resp->allow, sizeof(resp->allow), "%s", prob->allow);
        if (sr_http_problem_envelope(prob, &resp->body) != SR_OK)
                sr_gateway__answer_json(resp, 500, "out of memory",
                                        json_object());
}

void sr_gateway__answer_status(sr_gw_response_t *resp, int status,
                               const char *fmt, ...)
{
        sr_http_problem_t prob = { 0 };
        va_list ap;

        prob.status = status;
        va_start(ap, fmt);
        sr_utf8_vformat(prob.message, sizeof(prob.message), fmt, ap);
        va_end(ap);
        sr_gateway__answer_problem(resp, &prob);
}

void sr_gateway__answer_text(sr_gw_response_t *resp, int status,
                             const char *ctype, const void *text, size_t len)
{
        resp->status = status;
        resp->content_type = ctype;
        resp->body.ptr = malloc(len ? len : 1);
        resp->body.len = resp->body.ptr ? len : 0;
        if (resp->body.ptr)
                memcpy(resp->body.ptr, text, len);
}

bool sr_gateway__list_query(sr_gw_ctx_t *c, sr_http_query_t *q)
{
        const char *qs = strchr(c->req->target, '?');
        sr_http_problem_t prob = { 0 };

        if (sr_http_query_parse(c->route->id, qs ? qs + 1 : "",
                                qs ? strlen(qs + 1) : 0, q, &prob) == SR_OK)
                return true;
        sr_gateway__answer_problem(c->resp, &prob);
        return false;
}

void sr_gateway__answer_page(sr_gw_ctx_t *c, const sr_http_query_t *q,
                             uint64_t count, const char *next_cursor,
                             json_t *results)
{
        json_t *page = sr_http_page_keyset(c->base, c->path, q, count,
                                           next_cursor, results);

        if (!page)
                sr_gateway__answer_status(c->resp, 500, "out of memory");
        else
                sr_gateway__answer_json(c->resp, 200, "ok", page);
}

/* The page (count and links) from sr_http_page() with an empty results
 * array, the items spliced in. */
void sr_gateway__answer_page_jw(sr_gw_ctx_t *c, const sr_http_query_t *q,
                                uint64_t count, const char *next_cursor,
                                sr_jw_t *items)
{
        json_t *page = sr_http_page_keyset(c->base, c->path, q, count,
                                           next_cursor, json_array());
        char *pt = page ? json_dumps(page, JSON_COMPACT) : NULL;
        sr_jw_t w = { 0 };
        size_t pl;

        json_decref(page);
        pl = pt ? strlen(pt) : 0;
        if (!pt || items->oom || pl < 3 || strcmp(pt + pl - 3, "[]}")) {
                free(pt);
                free(items->p);
                sr_gateway__answer_status(c->resp, 500, "out of memory");
                return;
        }
        sr_jw_reserve(&w, pl + items->len + 64);
        sr_jw_lit(&w, "{\"code\":200,\"message\":\"ok\",\"content\":");
        sr_jw_raw(&w, pt, pl - 2); /* up to and with "results":[ */
        sr_jw_raw(&w, items->p, items->len);
        sr_jw_lit(&w, "]}}");
        free(pt);
        free(items->p);
        sr_gateway__answer_jw(c->resp, &w);
}

void sr_gateway__answer_jw(sr_gw_response_t *resp, sr_jw_t *w)
{
        if (w->oom) {
                free(w->p);
                sr_gateway__answer_status(resp, 500, "out of memory");
                return;
        }
        resp->status = 200;
        resp->content_type = "application/json";
        resp->body.ptr = w->p;
        resp->body.len = w->len;
}

bool sr_gateway__answer_retired(sr_gateway_t *gw, const char *enterprise,
                                const sr_uuid_t *run,
                                const sr_uuid_t *pipeline,
                                sr_gw_response_t *resp, json_t *content)
{
        char id[SR_UUID_STR_LEN + 1], at[SR_ISO8601_LEN + 1] = { 0 };
        char msg[256];
        sr_proj_retired_t note;

        if (sr_uuid_is_nil(run) ||
            sr_proj_get_retired(gw->proj, enterprise, run, &note, NULL) !=
                    SR_OK ||
            (pipeline && !sr_uuid_eq(pipeline, &note.pipeline_id))) {
                json_decref(content);
                return false;
        }
        sr_uuid_fmt(run, id);
        sr_clock_iso8601(note.retired_at, at);
        snprintf(msg, sizeof(msg), "pipeline run %s was retired at %s: "
                 "deleted by a client, or a finished run kept for "
                 "retention.finished after it ended, then forgotten", id,
                 at);
        sr_gateway__answer_json(resp, 404, msg,
                                content ? content : json_object());
        return true;
}

void sr_gateway__not_found(sr_gw_ctx_t *c, const char *what)
{
        const sr_route_t *r = c->route;

        if (r && sr_gateway__answer_retired(
                         c->gw, c->enterprise, &r->pipeline_run_id,
                         sr_uuid_is_nil(&r->pipeline_id) ? NULL :
                                                           &r->pipeline_id,
                         c->resp, NULL))
                return;
        sr_gateway__answer_status(c->resp, 404, "%s not found", what);
}

void sr_gateway__proj_failed(sr_gw_ctx_t *c, const sr_errctx_t *ec,
                             const char *what)
{
        if (ec->code == SR_ERR_NOT_FOUND)
                sr_gateway__not_found(c, what);
        else
                sr_gateway__answer_status(c->resp, 500, "%s: %s", what,
                                          ec->msg);
}
