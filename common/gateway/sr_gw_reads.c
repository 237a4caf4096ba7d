/* common/gateway/sr_gw_reads.c - the gateway's reads: lists (through
 * sr_proj_list_*, pages by sr_http_page) and single gets, in the caller's
 * enterprise; also the answer of a write once it is visible.
 */
#include "sr_gateway_int.h"

#include <stdlib.h>
#include <string.h>

#include "sr_entity_json.h"

_Static_assert(SR_HTTP_MAX_ORDER <= 1 + SR_PROJ_MAX_THEN,
               "every ordering key must reach the projection");

static void to_proj_query(const sr_http_query_t *hq, sr_proj_query_t *pq)
{
        memset(pq, 0, sizeof(*pq));
        pq->has_status = hq->status != SR_ST_NONE;
        pq->status = hq->status;
        pq->pipeline_name = hq->pipeline_name[0] ? hq->pipeline_name : NULL;
        pq->operation_id = hq->has_operation_id ?
                                   &hq->stage_run_operation_id :
                                   NULL;
        pq->offset = hq->offset;
        pq->limit = hq->limit;
        pq->cursor = hq->cursor[0] ? hq->cursor : NULL;
        /* Every key of `ordering`, most significant first. */
        for (uint32_t i = 0; i < hq->n_order && i <= SR_PROJ_MAX_THEN; i++) {
                static const sr_proj_order_t map[] = {
                        [SR_HTTP_ORDER_RUN_NUMBER] = SR_PROJ_ORDER_RUN_NUMBER,
                        [SR_HTTP_ORDER_STATUS] = SR_PROJ_ORDER_STATUS,
                        [SR_HTTP_ORDER_PIPELINE_NAME] =
                                SR_PROJ_ORDER_PIPELINE_NAME,
                        [SR_HTTP_ORDER_STARTED_AT] = SR_PROJ_ORDER_STARTED_AT,
                        [SR_HTTP_ORDER_ENDED_AT] = SR_PROJ_ORDER_ENDED_AT,
                        /* stored pipelines: never a run list's */
                        [SR_HTTP_ORDER_NAME] = SR_PROJ_ORDER_DEFAULT,
                };

                if (i == 0) {
                        pq->order = map[hq->order[0].key];
                        pq->desc = hq->order[0].desc;
                } else {
                        pq->then[i - 1].order = map[hq->order[i].key];
                        pq->then[i - 1].desc = hq->order[i].desc;
                        pq->n_then = i;
                }
        }
}

/* The items of a list route written by sr_jw into @p w (comma-separated
 * objects), and the count of matches. Operations keep their args as
 * stored (jansson would print their numbers again). */
static sr_err_t list_stage_runs(sr_gw_ctx_t *c, const sr_proj_query_t *pq,
                                sr_jw_t *w, uint64_t *count, sr_errctx_t *ec)
{
        sr_stage_run_t *items = NULL;
        size_t n = 0;
        sr_err_t err;

        err = sr_proj_list_stage_runs(c->gw->proj, c->enterprise,
                                      &c->route->pipeline_run_id, pq, &items,
                                      &n, count, ec);
        sr_jw_reserve(w, n * 720);
        for (size_t i = 0; !err && i < n; i++) {
                sr_entity_t e = { .type = SR_ENT_STAGE_RUN };

                if (i)
                        sr_jw_lit(w, ",");
                sr_jw_stage_run(w, &items[i]);
                e.u.sr = items[i];
                sr_entity_fini(&e);
        }
        free(items);
        return err;
}

static sr_err_t list_operations(sr_gw_ctx_t *c, const sr_proj_query_t *pq,
                                sr_jw_t *w, uint64_t *count, sr_errctx_t *ec)
{
        sr_stage_run_op_t *items = NULL;
        size_t n = 0;
        bool ok = true;
        sr_err_t err;

        err = sr_proj_list_operations(c->gw->proj, c->enterprise,
                                      &c->route->stage_run_id, pq, &items,
                                      &n, count, ec);
        for (size_t i = 0; !err && ok && i < n; i++) {
                if (i)
                        sr_jw_lit(w, ",");
                ok = sr_jw_stage_run_op(w, &items[i]);
        }
        sr_proj_ops_free(items, n);
        if (!err && !ok)
                err = sr_errctx_set(ec, SR_ERR_CORRUPT,
                                    "stored operation args are not a JSON "
                                    "object");
        return err;
}

static sr_err_t list_target_runs(sr_gw_ctx_t *c, const sr_proj_query_t *pq,
                                 sr_jw_t *w, uint64_t *count,
                                 sr_errctx_t *ec)
{
        sr_target_run_t *items = NULL;
        size_t n = 0;
        sr_err_t err;

        err = sr_proj_list_target_runs(c->gw->proj, c->enterprise,
                                       &c->route->stage_run_id, pq, &items,
                                       &n, count, ec);
        sr_jw_reserve(w, n * 760);
        for (size_t i = 0; !err && i < n; i++) {
                if (i)
                        sr_jw_lit(w, ",");
                sr_jw_target_run(w, &items[i]);
        }
        free(items);
        return err;
}

/* An open stage's appended targets (docs/targets.md, section 5): the
 * fields of a target run's that a target has, and where it came from. */
static sr_err_t list_stage_targets(sr_gw_ctx_t *c, const sr_proj_query_t *pq,
                                   sr_jw_t *w, uint64_t *count,
                                   sr_errctx_t *ec)
{
        sr_proj_target_t *items = NULL;
        size_t n = 0;
        sr_err_t err;

        err = sr_proj_list_stage_targets(c->gw->proj, c->enterprise,
                                         &c->route->pipeline_run_id,
                                         &c->route->stage_run_id, pq, &items,
                                         &n, count, ec);
        sr_jw_reserve(w, n * 200);
        for (size_t i = 0; !err && i < n; i++) {
                const sr_proj_target_t *t = &items[i];

                if (i)
                        sr_jw_lit(w, ",");
                sr_jw_lit(w, "{\"target_id\":");
                sr_jw_uuid(w, &t->target_id, false);
                sr_jw_lit(w, ",\"device_id\":");
                sr_jw_uuid(w, &t->device_id, false);
                sr_jw_lit(w, ",\"device_name\":");
                sr_jw_str(w, t->device_name,
                          strnlen(t->device_name, sizeof(t->device_name)));
                sr_jw_lit(w, ",\"device_alias\":");
                sr_jw_str(w, t->device_alias,
                          strnlen(t->device_alias, sizeof(t->device_alias)));
                sr_jw_lit(w, ",\"chunk\":");
                sr_jw_u64(w, t->chunk);
                sr_jw_lit(w, ",\"item\":");
                sr_jw_u64(w, t->item);
                sr_jw_lit(w, "}");
        }
        free(items);
        return err;
}

/* Pipeline runs, as jansson objects. */
static sr_err_t list_pipeline_runs(sr_gw_ctx_t *c, sr_proj_query_t *pq,
                                   json_t *arr, uint64_t *count,
                                   sr_errctx_t *ec)
{
        sr_pipeline_run_t *items = NULL;
        size_t n = 0;
        sr_err_t err;

        if (c->route->id == SR_ROUTE_PIPELINE_RUNS_LIST)
                pq->pipeline_id = &c->route->pipeline_id;
        err = sr_proj_list_pipeline_runs(c->gw->proj, c->enterprise, pq,
                                         &items, &n, count, ec);
        for (size_t i = 0; !err && i < n; i++)
                json_array_append_new(arr, sr_json_pipeline_run(&items[i]));
        free(items);
        return err;
}

void sr_gateway__list(sr_gw_ctx_t *c)
{
        sr_errctx_t ec = { 0 };
        sr_http_query_t q;
        sr_proj_query_t pq;
        sr_proj_page_t page = { 0 };
        sr_jw_t w = { 0 };
        const char *next;
        json_t *arr = NULL;
        uint64_t count = 0;
        sr_err_t err;

        if (!sr_gateway__list_query(c, &q))
                return;
        to_proj_query(&q, &pq);
        pq.page = &page;
        switch (c->route->id) {
        case SR_ROUTE_STAGE_RUNS_LIST:
                err = list_stage_runs(c, &pq, &w, &count, &ec);
                break;
        case SR_ROUTE_OPERATIONS_LIST:
                err = list_operations(c, &pq, &w, &count, &ec);
                break;
        case SR_ROUTE_TARGET_RUNS_LIST:
                err = list_target_runs(c, &pq, &w, &count, &ec);
                break;
        case SR_ROUTE_STAGE_TARGETS_LIST:
                err = list_stage_targets(c, &pq, &w, &count, &ec);
                break;
        default: /* SR_ROUTE_RUNS_LIST, SR_ROUTE_PIPELINE_RUNS_LIST */
                arr = json_array();
                err = list_pipeline_runs(c, &pq, arr, &count, &ec);
                break;
        }
        /* Keyset lists link their next page by cursor. */
        next = page.keyset ? page.next : NULL;
        if (err) {
                free(w.p);
                json_decref(arr);
                if (err == SR_ERR_INVALID && !strncmp(ec.msg, "cursor: ", 8))
                        sr_gateway__answer_status(c->resp, 400, "%s", ec.msg);
                else
                        /* The stage run is in this list's path, as in
                         * GET of the stage run: its 404 says so. */
                        sr_gateway__proj_failed(
                                c, &ec,
                                c->route->id == SR_ROUTE_STAGE_TARGETS_LIST ?
                                        "stage run" :
                                        "parent");
        } else if (arr) {
                sr_gateway__answer_page(c, &q, count, next, arr);
        } else {
                sr_gateway__answer_page_jw(c, &q, count, next, &w);
        }
}

void sr_gateway__route_pipeline(sr_gateway_t *gw, const char *enterprise,
                                sr_route_t *route)
{
        sr_pipeline_run_t pr;
        sr_proj_retired_t note;

        if (!route->any_pipeline)
                return;
        if (sr_proj_get_pipeline_run(gw->proj, enterprise,
                                     &route->pipeline_run_id, &pr,
                                     NULL) == SR_OK)
                route->pipeline_id = pr.pipeline_id;
        else if (sr_proj_get_retired(gw->proj, enterprise,
                                     &route->pipeline_run_id, &note,
                                     NULL) == SR_OK)
                route->pipeline_id = note.pipeline_id;
}

bool sr_gateway__read_entity(sr_gw_ctx_t *c, sr_entity_t *e)
{
        const sr_route_t *r = c->route;
        sr_errctx_t ec = { 0 };

        memset(e, 0, sizeof(*e));
        switch (r->id) {
        case SR_ROUTE_PIPELINE_RUN_GET:
        case SR_ROUTE_PIPELINE_RUN_PUT:
        case SR_ROUTE_PIPELINE_RUN_DELETE:
                e->type = SR_ENT_PIPELINE_RUN;
                if (sr_proj_get_pipeline_run(c->gw->proj, c->enterprise,
                                             &r->pipeline_run_id, &e->u.pr,
                                             &ec) != SR_OK) {
                        sr_gateway__proj_failed(c, &ec, "pipeline run");
                        return false;
                }
                if (!sr_uuid_eq(&e->u.pr.pipeline_id, &r->pipeline_id)) {
                        sr_gateway__not_found(c, "pipeline run");
                        return false;
                }
                return true;
        case SR_ROUTE_STAGE_RUN_GET:
        case SR_ROUTE_STAGE_RUN_PUT:
                e->type = SR_ENT_STAGE_RUN;
                if (sr_proj_get_stage_run(c->gw->proj, c->enterprise,
                                          &r->pipeline_run_id,
                                          &r->stage_run_id, &e->u.sr,
                                          &ec) != SR_OK) {
                        sr_gateway__proj_failed(c, &ec, "stage run");
                        return false;
                }
                return true;
        case SR_ROUTE_TARGET_RUN_GET:
        case SR_ROUTE_TARGET_RUN_PUT:
                e->type = SR_ENT_TARGET_RUN;
                if (sr_proj_get_target_run(c->gw->proj, c->enterprise,
                                           &r->stage_run_id, &r->target_run_id,
                                           &e->u.tr, &ec) != SR_OK) {
                        sr_gateway__proj_failed(c, &ec, "target run");
                        return false;
                }
                return true;
        default:
                sr_gateway__not_found(c, "entity");
                return false;
        }
}

/* An answer that renders a stored operation: 500 when its args were not
 * a JSON object (@p ok false: nothing of it written), else @p w's text. */
static void answer_op_jw(sr_gw_ctx_t *c, sr_jw_t *w, bool ok)
{
        if (!ok) {
                free(w->p);
                sr_gateway__answer_status(c->resp, 500, "stored operation "
                                          "args are not a JSON object");
                return;
        }
        sr_gateway__answer_jw(c->resp, w);
}

/* An operation is written with sr_jw, its args as stored (jansson would
 * print their numbers again). */
static void get_operation(sr_gw_ctx_t *c)
{
        const sr_route_t *r = c->route;
        sr_errctx_t ec = { 0 };
        sr_stage_run_op_t op;
        sr_jw_t w = { 0 };
        bool ok;

        if (sr_proj_get_operation(c->gw->proj, c->enterprise,
                                  &r->stage_run_id,
                                  &r->stage_run_operation_id, &op,
                                  &ec) != SR_OK) {
                sr_gateway__proj_failed(c, &ec, "stage-run operation");
                return;
        }
        sr_jw_lit(&w, "{\"code\":200,\"message\":\"ok\",\"content\":");
        ok = sr_jw_stage_run_op(&w, &op);
        sr_jw_lit(&w, "}");
        free(op.args_json);
        answer_op_jw(c, &w, ok);
}

/* The reference's CommandResponse (section 3.12) from the target run and
 * its stage-run operation: the command the worker asked the device
 * command service for (command_id, sent as the request's id), and the
 * last status reported for it. A target run that has no command yet
 * (pending, queued, or ended before one was sent) answers 404. */
void sr_gateway__get_command(sr_gw_ctx_t *c)
{
        const sr_route_t *r = c->route;
        sr_errctx_t ec = { 0 };
        sr_target_run_t t;
        sr_stage_run_op_t op;
        sr_jw_t w = { 0 };
        bool ok;

        if (sr_proj_get_target_run(c->gw->proj, c->enterprise,
                                   &r->stage_run_id, &r->target_run_id, &t,
                                   &ec) != SR_OK) {
                sr_gateway__proj_failed(c, &ec, "target run");
                return;
        }
        if (sr_uuid_is_nil(&t.command_id)) {
                char id[SR_UUID_STR_LEN + 1];

                sr_uuid_fmt(&t.m.id, id);
                sr_gateway__answer_status(c->resp, 404,
                                          "target run %s has no device "
                                          "command: it is %s, and a command "
                                          "is sent when it is processing",
                                          id, sr_status_name(t.m.status));
                return;
        }
        if (sr_proj_get_operation(c->gw->proj, c->enterprise,
                                  &r->stage_run_id, &t.stage_run_operation_id,
                                  &op, &ec) != SR_OK) {
                sr_gateway__proj_failed(c, &ec, "stage-run operation");
                return;
        }
        sr_jw_lit(&w, "{\"code\":200,\"message\":\"ok\",\"content\":");
        ok = sr_jw_target_command(&w, &t, &op, c->enterprise);
        sr_jw_lit(&w, "}");
        free(op.args_json);
        answer_op_jw(c, &w, ok);
}

void sr_gateway__get(sr_gw_ctx_t *c)
{
        sr_entity_t e;
        json_t *j;

        if (c->route->id == SR_ROUTE_OPERATION_GET) {
                get_operation(c);
                return;
        }
        if (!sr_gateway__read_entity(c, &e))
                return;
        switch (e.type) {
        case SR_ENT_PIPELINE_RUN:
                j = sr_json_pipeline_run(&e.u.pr);
                break;
        case SR_ENT_STAGE_RUN:
                j = sr_json_stage_run(&e.u.sr);
                break;
        default:
                j = sr_json_target_run(&e.u.tr);
                break;
        }
        sr_entity_fini(&e);
        if (!j)
                sr_gateway__answer_status(c->resp, 500, "out of memory");
        else
                sr_gateway__answer_json(c->resp, 200, "ok", j);
}
