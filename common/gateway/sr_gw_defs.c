/* common/gateway/sr_gw_defs.c - the routes of stored pipeline definitions
 * (docs/definitions.md, phase A; reference sections 6.1-6.7): lists and
 * gets from the projection (sr_proj_defs.c), writes as definition
 * commands (SR_CMD_DEFINITION, keyed by the pipeline id) through the
 * command port, answered once the projection holds the reply's seq.
 *
 * Order of checks (docs/api-decisions.md, "Order of checks"), after the
 * dispatcher's route, auth, readiness, Content-Type and size: the query
 * or the body (400, sr_defs_json_parse()), Idempotency-Key reuse (409),
 * existence in the caller's enterprise (404: the pipeline, unknown or
 * soft-deleted; the entity an update or a delete names), then the
 * worker's verdict. A soft-deleted pipeline and everything under it
 * answer 404 "pipeline <id> was deleted at <ISO-8601>" (section 7).
 * POST /pipelines/{id}/runs/ (section 5) starts a run of the stored
 * pipeline the same way (sr_gateway__start_pipeline_run()).
 */
#include "sr_gateway_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sr_budget.h"
#include "sr_clock.h"
#include "sr_defs_json.h"
#include "sr_entity_json.h"
#include "sr_idem.h"

enum dop { DOP_LIST, DOP_GET, DOP_CREATE, DOP_UPDATE, DOP_DELETE,
           DOP_ATTACH, DOP_DETACH };

/* What a DEF_* route does: the entity kind it answers, and for a write
 * the definition command it sends. */
struct def_route {
        sr_route_id_t id;
        sr_def_kind_t kind;
        enum dop op;
        sr_defcmd_kind_t cmd;
};

static const struct def_route def_routes[] = {
        { SR_ROUTE_DEF_PIPELINES_LIST, SR_DEF_PIPELINE, DOP_LIST, 0 },
        { SR_ROUTE_DEF_PIPELINES_CREATE, SR_DEF_PIPELINE, DOP_CREATE,
          SR_DEFCMD_PUT_PIPELINE },
        { SR_ROUTE_DEF_PIPELINE_GET, SR_DEF_PIPELINE, DOP_GET, 0 },
        { SR_ROUTE_DEF_PIPELINE_PUT, SR_DEF_PIPELINE, DOP_UPDATE,
          SR_DEFCMD_PUT_PIPELINE },
        { SR_ROUTE_DEF_PIPELINE_DELETE, SR_DEF_PIPELINE, DOP_DELETE,
          SR_DEFCMD_DELETE_PIPELINE },
        { SR_ROUTE_DEF_STAGES_LIST, SR_DEF_STAGE, DOP_LIST, 0 },
        { SR_ROUTE_DEF_STAGES_CREATE, SR_DEF_STAGE, DOP_CREATE,
          SR_DEFCMD_PUT_STAGE },
        { SR_ROUTE_DEF_STAGE_GET, SR_DEF_STAGE, DOP_GET, 0 },
        { SR_ROUTE_DEF_STAGE_PUT, SR_DEF_STAGE, DOP_UPDATE,
          SR_DEFCMD_PUT_STAGE },
        { SR_ROUTE_DEF_STAGE_DELETE, SR_DEF_STAGE, DOP_DELETE,
          SR_DEFCMD_DELETE_STAGE },
        { SR_ROUTE_DEF_TARGETLISTS_LIST, SR_DEF_TARGET_LIST, DOP_LIST, 0 },
        { SR_ROUTE_DEF_TARGETLISTS_CREATE, SR_DEF_TARGET_LIST, DOP_CREATE,
          SR_DEFCMD_PUT_TARGET_LIST },
        { SR_ROUTE_DEF_TARGETLIST_GET, SR_DEF_TARGET_LIST, DOP_GET, 0 },
        { SR_ROUTE_DEF_TARGETLIST_PUT, SR_DEF_TARGET_LIST, DOP_UPDATE,
          SR_DEFCMD_PUT_TARGET_LIST },
        { SR_ROUTE_DEF_TARGETLIST_DELETE, SR_DEF_TARGET_LIST, DOP_DELETE,
          SR_DEFCMD_DELETE_TARGET_LIST },
        /* a stage's lists: the answers are target lists */
        { SR_ROUTE_DEF_STAGE_TARGETLISTS_LIST, SR_DEF_TARGET_LIST, DOP_LIST,
          0 },
        { SR_ROUTE_DEF_STAGE_TARGETLISTS_ATTACH, SR_DEF_TARGET_LIST,
          DOP_ATTACH, SR_DEFCMD_ATTACH_TARGET_LIST },
        { SR_ROUTE_DEF_STAGE_TARGETLIST_DETACH, SR_DEF_TARGET_LIST,
          DOP_DETACH, SR_DEFCMD_DETACH_TARGET_LIST },
        { SR_ROUTE_DEF_OPLISTS_LIST, SR_DEF_OPERATION_LIST, DOP_LIST, 0 },
        { SR_ROUTE_DEF_OPLISTS_CREATE, SR_DEF_OPERATION_LIST, DOP_CREATE,
          SR_DEFCMD_PUT_OPERATION_LIST },
        { SR_ROUTE_DEF_OPLIST_PUT, SR_DEF_OPERATION_LIST, DOP_UPDATE,
          SR_DEFCMD_PUT_OPERATION_LIST },
        { SR_ROUTE_DEF_OPLIST_DELETE, SR_DEF_OPERATION_LIST, DOP_DELETE,
          SR_DEFCMD_DELETE_OPERATION_LIST },
        { SR_ROUTE_DEF_OPERATIONS_LIST, SR_DEF_OPERATION, DOP_LIST, 0 },
        { SR_ROUTE_DEF_OPERATIONS_CREATE, SR_DEF_OPERATION, DOP_CREATE,
          SR_DEFCMD_PUT_OPERATION },
        { SR_ROUTE_DEF_OPERATION_GET, SR_DEF_OPERATION, DOP_GET, 0 },
        { SR_ROUTE_DEF_OPERATION_PUT, SR_DEF_OPERATION, DOP_UPDATE,
          SR_DEFCMD_PUT_OPERATION },
        { SR_ROUTE_DEF_OPERATION_DELETE, SR_DEF_OPERATION, DOP_DELETE,
          SR_DEFCMD_DELETE_OPERATION },
        { SR_ROUTE_DEF_TARGETS_LIST, SR_DEF_TARGET, DOP_LIST, 0 },
        { SR_ROUTE_DEF_TARGETS_CREATE, SR_DEF_TARGET, DOP_CREATE,
          SR_DEFCMD_ADD_TARGETS },
        { SR_ROUTE_DEF_TARGET_GET, SR_DEF_TARGET, DOP_GET, 0 },
        { SR_ROUTE_DEF_TARGET_PUT, SR_DEF_TARGET, DOP_UPDATE,
          SR_DEFCMD_UPDATE_TARGET },
        { SR_ROUTE_DEF_TARGET_DELETE, SR_DEF_TARGET, DOP_DELETE,
          SR_DEFCMD_REMOVE_TARGET },
        { SR_ROUTE_DEF_TARGETS_BULK, SR_DEF_TARGET, DOP_CREATE,
          SR_DEFCMD_ADD_TARGETS },
};

static const struct def_route *find_route(sr_route_id_t id)
{
        for (size_t i = 0; i < sizeof(def_routes) / sizeof(def_routes[0]);
             i++)
                if (def_routes[i].id == id)
                        return &def_routes[i];
        return NULL;
}

/* "pipeline", "stage", ... as messages name them. */
static const char *kind_word(sr_def_kind_t k)
{
        switch (k) {
        case SR_DEF_TARGET_LIST:
                return "target list";
        case SR_DEF_OPERATION_LIST:
                return "operation list";
        default:
                return sr_def_kind_name(k);
        }
}

/* The id of the entity the route's path names (nil for a list or a
 * create). */
static sr_uuid_t path_entity_id(const sr_route_t *r, sr_def_kind_t k)
{
        sr_uuid_t nil = { { 0 } };

        switch (k) {
        case SR_DEF_PIPELINE:
                return r->pipeline_id;
        case SR_DEF_STAGE:
                return r->stage_id;
        case SR_DEF_TARGET_LIST:
                return r->target_list_id;
        case SR_DEF_OPERATION_LIST:
                return r->operation_list_id;
        case SR_DEF_OPERATION:
                return r->def_operation_id;
        case SR_DEF_TARGET:
                return r->def_target_id;
        default:
                return nil;
        }
}

/* 404 for a pipeline the caller cannot use: unknown in its enterprise,
 * or soft-deleted (section 7). True when @p p is usable (then it holds
 * the record, released by the caller). */
static bool usable_pipeline(sr_gw_ctx_t *c, const sr_uuid_t *pipeline,
                            sr_def_record_t *p)
{
        char id[SR_UUID_STR_LEN + 1], when[SR_ISO8601_LEN + 1];
        sr_errctx_t ec = { 0 };

        sr_uuid_fmt(pipeline, id);
        if (sr_proj_def_get(c->gw->proj, c->enterprise, SR_DEF_PIPELINE,
                            pipeline, pipeline, p, &ec) != SR_OK) {
                if (ec.code == SR_ERR_NOT_FOUND)
                        sr_gateway__answer_status(c->resp, 404,
                                                  "pipeline %s not found", id);
                else
                        sr_gateway__answer_status(c->resp, 500, "pipeline: "
                                                  "%s", ec.msg);
                return false;
        }
        if (p->u.pipeline.deleted_at) {
                if (!sr_clock_iso8601(p->u.pipeline.deleted_at, when))
                        snprintf(when, sizeof(when), "?");
                else
                        when[SR_ISO8601_LEN] = '\0';
                sr_gateway__answer_status(c->resp, 404,
                                          "pipeline %s was deleted at %s; "
                                          "its stages, lists and operations "
                                          "went with it (its runs stay "
                                          "readable)",
                                          id, when);
                sr_def_record_fini(p);
                return false;
        }
        return true;
}

/* The pipeline of the route: its path's, or for the paths without one
 * (/stages/{id}/..., /operationlists/{id}/...) the projection's: 404
 * when the stage or the operation list is unknown in the caller's
 * enterprise. */
static bool route_pipeline(sr_gw_ctx_t *c, sr_uuid_t *pipeline)
{
        const sr_route_t *r = c->route;
        char id[SR_UUID_STR_LEN + 1];
        sr_errctx_t ec = { 0 };
        sr_def_kind_t k;
        const sr_uuid_t *by;

        if (!sr_uuid_is_nil(&r->pipeline_id)) {
                *pipeline = r->pipeline_id;
                return true;
        }
        if (!sr_uuid_is_nil(&r->stage_id)) {
                k = SR_DEF_STAGE;
                by = &r->stage_id;
        } else if (!sr_uuid_is_nil(&r->operation_list_id)) {
                k = SR_DEF_OPERATION_LIST;
                by = &r->operation_list_id;
        } else {
                /* the pipelines' own paths: none */
                memset(pipeline, 0, sizeof(*pipeline));
                return true;
        }
        if (sr_proj_def_pipeline_of(c->gw->proj, c->enterprise, k, by,
                                    pipeline, &ec) == SR_OK)
                return true;
        sr_uuid_fmt(by, id);
        if (ec.code == SR_ERR_NOT_FOUND)
                sr_gateway__answer_status(c->resp, 404, "%s %s not found",
                                          kind_word(k), id);
        else
                sr_gateway__answer_status(c->resp, 500, "%s: %s",
                                          kind_word(k), ec.msg);
        return false;
}

/* The entity as Esper JSON (NULL: out of memory or a damaged record). */
static json_t *entity_json(const sr_def_record_t *r)
{
        switch (r->kind) {
        case SR_DEF_PIPELINE:
                return sr_json_def_pipeline(&r->u.pipeline, NULL);
        case SR_DEF_STAGE:
                return sr_json_def_stage(&r->u.stage, r->enterprise_id,
                                         &r->pipeline_id);
        case SR_DEF_TARGET_LIST:
                return sr_json_def_target_list(&r->u.list, &r->pipeline_id);
        case SR_DEF_OPERATION_LIST:
                return sr_json_def_oplist(&r->u.oplist, &r->pipeline_id);
        case SR_DEF_OPERATION:
                return sr_json_def_operation(&r->u.operation,
                                             &r->pipeline_id);
        case SR_DEF_TARGET:
                return sr_json_def_target(&r->u.target, &r->pipeline_id);
        default:
                return NULL;
        }
}

static void answer_entity(sr_gw_ctx_t *c, const sr_def_record_t *r)
{
        json_t *j = entity_json(r);

        if (!j)
                sr_gateway__answer_status(c->resp, 500, "%s: out of memory "
                                          "or a damaged record",
                                          kind_word(r->kind));
        else
                sr_gateway__answer_json(c->resp, 200, "ok", j);
}

/* Read entity @p id of @p kind under @p pipeline (404 when absent). */
static bool read_entity(sr_gw_ctx_t *c, sr_def_kind_t kind,
                        const sr_uuid_t *pipeline, const sr_uuid_t *id,
                        sr_def_record_t *out)
{
        char text[SR_UUID_STR_LEN + 1];
        sr_errctx_t ec = { 0 };

        if (sr_proj_def_get(c->gw->proj, c->enterprise, kind, pipeline, id,
                            out, &ec) == SR_OK)
                return true;
        sr_uuid_fmt(id, text);
        if (ec.code == SR_ERR_NOT_FOUND)
                sr_gateway__answer_status(c->resp, 404, "%s %s not found",
                                          kind_word(kind), text);
        else
                sr_gateway__answer_status(c->resp, 500, "%s: %s",
                                          kind_word(kind), ec.msg);
        return false;
}

/* The parent the route's path names (a stage for /stages/{id}/...,
 * an operation list for /operationlists/{id}/...) is the entity's: a
 * child of another parent is not found. */
static bool parent_matches(const sr_route_t *r, const sr_def_record_t *e)
{
        switch (e->kind) {
        case SR_DEF_OPERATION_LIST:
                return sr_uuid_is_nil(&r->stage_id) ||
                       sr_uuid_eq(&e->u.oplist.stage_id, &r->stage_id);
        case SR_DEF_OPERATION:
                return sr_uuid_is_nil(&r->operation_list_id) ||
                       sr_uuid_eq(&e->u.operation.operation_list_id,
                                  &r->operation_list_id);
        case SR_DEF_TARGET:
                return sr_uuid_eq(&e->u.target.target_list_id,
                                  &r->target_list_id);
        default:
                return true;
        }
}

/* The entity the path names, under its parent (404 otherwise). */
static bool read_path_entity(sr_gw_ctx_t *c, sr_def_kind_t kind,
                             const sr_uuid_t *pipeline, const sr_uuid_t *id,
                             sr_def_record_t *out)
{
        char text[SR_UUID_STR_LEN + 1];

        if (!read_entity(c, kind, pipeline, id, out))
                return false;
        if (parent_matches(c->route, out))
                return true;
        sr_def_record_fini(out);
        sr_uuid_fmt(id, text);
        sr_gateway__answer_status(c->resp, 404, "%s %s not found",
                                  kind_word(kind), text);
        return false;
}

/* The pipeline of the route, usable (404 otherwise), and the parent of a
 * path under /stages/{id}/ or /operationlists/{id}/ checked through
 * route_pipeline(). */
static bool open_pipeline(sr_gw_ctx_t *c, sr_uuid_t *pipeline)
{
        sr_def_record_t p;

        if (!route_pipeline(c, pipeline) || !usable_pipeline(c, pipeline, &p))
                return false;
        sr_def_record_fini(&p);
        return true;
}

/* The target list a targets path names, in the pipeline (404 when
 * not); its record into @p out when given. True for the other routes. */
static bool parent_list(sr_gw_ctx_t *c, const struct def_route *dr,
                        const sr_uuid_t *pipeline, sr_def_record_t *out)
{
        sr_def_record_t l;

        if (dr->kind != SR_DEF_TARGET)
                return true;
        if (!read_entity(c, SR_DEF_TARGET_LIST, pipeline,
                         &c->route->target_list_id, &l))
                return false;
        if (out)
                *out = l;
        else
                sr_def_record_fini(&l);
        return true;
}

/* ------------------------------------------------------------ lists */

/* Default orders: creation order (created_at, then the pipeline's
 * creation ordinal, then id); stages by
 * `order`; pipelines by `ordering` name or -name (byte order of the names,
 * then creation order). */
static const sr_def_audit_t *audit_of(const sr_def_record_t *r)
{
        switch (r->kind) {
        case SR_DEF_PIPELINE:
                return &r->u.pipeline.a;
        case SR_DEF_STAGE:
                return &r->u.stage.a;
        case SR_DEF_TARGET_LIST:
                return &r->u.list.a;
        case SR_DEF_ATTACHMENT:
                return &r->u.attachment.a;
        case SR_DEF_OPERATION_LIST:
                return &r->u.oplist.a;
        case SR_DEF_OPERATION:
                return &r->u.operation.a;
        case SR_DEF_GROUP_LINK:
                return &r->u.group_link.a;
        case SR_DEF_ACTIVE_RUN:
                return &r->u.active_run.a;
        default:
                return &r->u.target.a;
        }
}

/* Creation order within a pipeline (0 for a pipeline or a target, which
 * have none). */
static uint64_t ordinal_of(const sr_def_record_t *r)
{
        switch (r->kind) {
        case SR_DEF_STAGE:
                return r->u.stage.ordinal;
        case SR_DEF_TARGET_LIST:
                return r->u.list.ordinal;
        case SR_DEF_ATTACHMENT:
                return r->u.attachment.ordinal;
        case SR_DEF_OPERATION_LIST:
                return r->u.oplist.ordinal;
        case SR_DEF_OPERATION:
                return r->u.operation.ordinal;
        case SR_DEF_GROUP_LINK:
                return r->u.group_link.ordinal;
        case SR_DEF_ACTIVE_RUN:
                return r->u.active_run.ordinal;
        default:
                return 0;
        }
}

/* Creation time, then (two entities of one pipeline created in the same
 * millisecond) creation order, then id. */
static int cmp_created(const void *x, const void *y)
{
        const sr_def_record_t *a = x, *b = y;
        const sr_def_audit_t *aa = audit_of(a), *ab = audit_of(b);
        uint64_t oa = ordinal_of(a), ob = ordinal_of(b);

        if (aa->created_at != ab->created_at)
                return aa->created_at < ab->created_at ? -1 : 1;
        if (oa != ob && sr_uuid_eq(&a->pipeline_id, &b->pipeline_id))
                return oa < ob ? -1 : 1;
        return memcmp(sr_def_record_id(a)->b, sr_def_record_id(b)->b,
                      sizeof(a->pipeline_id.b));
}

static int cmp_pipeline_name(const void *x, const void *y)
{
        int d = strcmp(((const sr_def_record_t *)x)->u.pipeline.name,
                       ((const sr_def_record_t *)y)->u.pipeline.name);

        return d ? d : cmp_created(x, y);
}

static int cmp_pipeline_name_desc(const void *x, const void *y)
{
        int d = strcmp(((const sr_def_record_t *)y)->u.pipeline.name,
                       ((const sr_def_record_t *)x)->u.pipeline.name);

        return d ? d : cmp_created(x, y);
}

static int cmp_stage_order(const void *x, const void *y)
{
        const sr_def_stage_t *a = &((const sr_def_record_t *)x)->u.stage,
                             *b = &((const sr_def_record_t *)y)->u.stage;

        if (a->order != b->order)
                return a->order < b->order ? -1 : 1;
        return cmp_created(x, y);
}

/* What a list keeps: the filters of its query, and its parent. */
struct keep_ctx {
        const sr_http_query_t *q;
        const sr_route_t *r;
};

static bool keep_item(const sr_def_record_t *r, const struct keep_ctx *k)
{
        const sr_http_query_t *q = k->q;

        switch (r->kind) {
        case SR_DEF_PIPELINE:
                if (r->u.pipeline.deleted_at)
                        return false; /* "non-deleted pipelines only" */
                if (q->name[0] && strcmp(r->u.pipeline.name, q->name))
                        return false;
                return !q->is_default ||
                       r->u.pipeline.is_default == (q->is_default == 2);
        case SR_DEF_ATTACHMENT:
                return sr_uuid_eq(&r->u.attachment.stage_id, &k->r->stage_id);
        case SR_DEF_TARGET_LIST: {
                sr_tl_type_t t;

                return !q->tl_type[0] ||
                       (sr_defs_json_type_filter(q->tl_type,
                                                 strlen(q->tl_type), &t) &&
                        r->u.list.type == t);
        }
        case SR_DEF_OPERATION_LIST:
                return sr_uuid_eq(&r->u.oplist.stage_id, &k->r->stage_id);
        case SR_DEF_OPERATION:
                return sr_uuid_eq(&r->u.operation.operation_list_id,
                                  &k->r->operation_list_id) &&
                       (!q->operation_type[0] ||
                        !strcasecmp(r->u.operation.operation_type,
                                    q->operation_type));
        default:
                return true;
        }
}

/* Keep the items keep_item() says yes to, in place. */
static size_t filter_items(sr_def_record_t *items, size_t n,
                           const struct keep_ctx *k)
{
        size_t w = 0;

        for (size_t i = 0; i < n; i++) {
                if (keep_item(&items[i], k))
                        items[w++] = items[i];
                else
                        sr_def_record_fini(&items[i]);
        }
        return w;
}

/* A stage's target lists: its attachments, in their creation order, each
 * replaced by its list (an attachment whose list is gone is skipped). */
static sr_err_t stage_lists(sr_gw_ctx_t *c, const sr_uuid_t *pipeline,
                            sr_def_record_t *items, size_t *n,
                            sr_errctx_t *ec)
{
        size_t w = 0;
        sr_def_record_t l;
        sr_err_t err = SR_OK;

        if (*n > 1) /* qsort() of a NULL array is undefined */
                qsort(items, *n, sizeof(*items), cmp_created);
        for (size_t i = 0; i < *n; i++) {
                sr_uuid_t list = items[i].u.attachment.target_list_id;

                sr_def_record_fini(&items[i]);
                if (err)
                        continue;
                err = sr_proj_def_get(c->gw->proj, c->enterprise,
                                      SR_DEF_TARGET_LIST, pipeline, &list, &l,
                                      ec);
                if (err == SR_ERR_NOT_FOUND) {
                        err = SR_OK;
                        continue;
                }
                if (!err)
                        items[w++] = l;
        }
        if (err) {
                for (size_t i = 0; i < w; i++)
                        sr_def_record_fini(&items[i]);
                w = 0;
        }
        *n = w;
        return err;
}

/* A list's targets: keyset pages in target id order (the cursor is the
 * last id of the page before, 32 hex digits), or offset; the count is the
 * list's own (n_targets, kept by the owner). */
static void list_targets(sr_gw_ctx_t *c, const sr_http_query_t *q)
{
        char next[2 * 16 + 1];
        sr_def_record_t l, *items = NULL;
        sr_uuid_t pipeline, after;
        sr_errctx_t ec = { 0 };
        bool more = false;
        size_t n = 0;
        json_t *arr;

        if (q->cursor[0]) {
                if (strlen(q->cursor) != 32) {
                        sr_gateway__answer_status(c->resp, 400, "cursor: "
                                                  "expected the cursor of a "
                                                  "`next` link of this list, "
                                                  "unchanged");
                        return;
                }
                for (int i = 0; i < 16; i++)
                        after.b[i] = (uint8_t)(sr_hex_value(q->cursor[2 * i])
                                               << 4 |
                                       sr_hex_value(q->cursor[2 * i + 1]));
        }
        if (!open_pipeline(c, &pipeline) ||
            !parent_list(c, find_route(SR_ROUTE_DEF_TARGETS_LIST), &pipeline,
                         &l))
                return;
        if (sr_proj_def_targets(c->gw->proj, c->enterprise, &pipeline,
                                &c->route->target_list_id, q->offset,
                                q->cursor[0] ? &after : NULL, q->limit,
                                &items, &n, &more, &ec) != SR_OK) {
                sr_def_record_fini(&l);
                sr_gateway__answer_status(c->resp, 500, "targets: %s",
                                          ec.msg);
                return;
        }
        arr = json_array();
        for (size_t i = 0; arr && i < n; i++) {
                json_t *j = entity_json(&items[i]);

                if (!j || json_array_append_new(arr, j)) {
                        json_decref(arr);
                        arr = NULL;
                }
        }
        next[0] = '\0';
        if (more && n) {
                static const char hex[] = "0123456789abcdef";
                const uint8_t *b = items[n - 1].u.target.id.b;

                for (int i = 0; i < 16; i++) {
                        next[2 * i] = hex[b[i] >> 4];
                        next[2 * i + 1] = hex[b[i] & 15];
                }
                next[32] = '\0';
        }
        sr_proj_def_free(items, n);
        if (!arr) {
                sr_def_record_fini(&l);
                sr_gateway__answer_status(c->resp, 500, "targets: out of "
                                          "memory or a damaged record");
                return;
        }
        sr_gateway__answer_page(c, q, l.u.list.n_targets, next, arr);
        sr_def_record_fini(&l);
}

static void list(sr_gw_ctx_t *c, const struct def_route *dr)
{
        const char *qs = strchr(c->req->target, '?');
        sr_http_problem_t prob = { 0 };
        sr_def_record_t *items = NULL;
        sr_errctx_t ec = { 0 };
        sr_http_query_t q;
        sr_uuid_t pipeline;
        struct keep_ctx k;
        bool by_stage = c->route->id == SR_ROUTE_DEF_STAGE_TARGETLISTS_LIST;
        size_t n = 0;
        json_t *arr;
        sr_err_t err;

        if (sr_http_query_parse(c->route->id, qs ? qs + 1 : "",
                                qs ? strlen(qs + 1) : 0, &q, &prob) != SR_OK) {
                sr_gateway__answer_problem(c->resp, &prob);
                return;
        }
        k.q = &q;
        k.r = c->route;
        if (dr->kind == SR_DEF_TARGET) {
                list_targets(c, &q);
                return;
        }
        if (dr->kind == SR_DEF_PIPELINE) {
                err = sr_proj_def_pipelines(c->gw->proj, c->enterprise,
                                            &items, &n, &ec);
        } else {
                if (!open_pipeline(c, &pipeline))
                        return;
                err = sr_proj_def_list(c->gw->proj, c->enterprise,
                                       by_stage ? SR_DEF_ATTACHMENT :
                                                  dr->kind,
                                       &pipeline, &items, &n, &ec);
        }
        if (!err && by_stage) {
                n = filter_items(items, n, &k);
                err = stage_lists(c, &pipeline, items, &n, &ec);
        }
        if (err) {
                sr_proj_def_free(items, n);
                sr_gateway__answer_status(c->resp, 500, "%s: %s",
                                          kind_word(dr->kind), ec.msg);
                return;
        }
        n = filter_items(items, n, &k);
        if (n < 2)
                ; /* nothing to sort (qsort() of a NULL array is undefined) */
        else if (dr->kind == SR_DEF_PIPELINE && q.n_order)
                qsort(items, n, sizeof(*items),
                      q.order[0].desc ? cmp_pipeline_name_desc :
                                        cmp_pipeline_name);
        else if (dr->kind == SR_DEF_STAGE)
                qsort(items, n, sizeof(*items), cmp_stage_order);
        else if (!by_stage)
                qsort(items, n, sizeof(*items), cmp_created);
        arr = json_array();
        for (uint64_t i = q.offset; arr && i < n && i - q.offset < q.limit;
             i++) {
                json_t *j = entity_json(&items[i]);

                if (!j || json_array_append_new(arr, j)) {
                        json_decref(arr);
                        arr = NULL;
                }
        }
        sr_proj_def_free(items, n);
        if (!arr) {
                sr_gateway__answer_status(c->resp, 500, "%s: out of memory "
                                          "or a damaged record",
                                          kind_word(dr->kind));
                return;
        }
        sr_gateway__answer_page(c, &q, n, NULL, arr);
}

/* ------------------------------------------------------------ get */

static void get(sr_gw_ctx_t *c, const struct def_route *dr)
{
        sr_def_record_t p, e;
        sr_uuid_t pipeline, id = path_entity_id(c->route, dr->kind);

        if (!route_pipeline(c, &pipeline) ||
            !usable_pipeline(c, &pipeline, &p))
                return;
        if (dr->kind == SR_DEF_PIPELINE) {
                answer_entity(c, &p);
                sr_def_record_fini(&p);
                return;
        }
        sr_def_record_fini(&p);
        if (!parent_list(c, dr, &pipeline, NULL) ||
            !read_path_entity(c, dr->kind, &pipeline, &id, &e))
                return;
        answer_entity(c, &e);
        sr_def_record_fini(&e);
}

/* ------------------------------------------------------------ writes */

/* The id of a new entity: UUID v5 of the Idempotency-Key (a retry is the
 * same command, naming the same entity), else v4. */
static void new_id(sr_gw_ctx_t *c, sr_def_kind_t kind, sr_uuid_t *out)
{
        char label[32];

        if (c->req->idempotency_key) {
                snprintf(label, sizeof(label), "idem-def-%s",
                         sr_def_kind_name(kind));
                sr_idem_uuid(out, label, c->enterprise,
                             c->req->idempotency_key);
        } else {
                sr_uuid_v4(out);
        }
}

/* The path's ids (and the new entity's) into the command's union, before
 * the body is parsed. */
static void set_path_ids(sr_defcmd_t *d, const sr_route_t *r,
                         const sr_uuid_t *id)
{
        switch (d->kind) {
        case SR_DEFCMD_PUT_STAGE:
        case SR_DEFCMD_DELETE_STAGE:
                d->u.stage.stage_id = *id;
                break;
        case SR_DEFCMD_PUT_TARGET_LIST:
        case SR_DEFCMD_DELETE_TARGET_LIST:
                d->u.list.target_list_id = *id;
                break;
        case SR_DEFCMD_ATTACH_TARGET_LIST:
        case SR_DEFCMD_DETACH_TARGET_LIST:
                d->u.attach.stage_id = r->stage_id;
                d->u.attach.target_list_id = r->target_list_id;
                break;
        case SR_DEFCMD_PUT_OPERATION_LIST:
        case SR_DEFCMD_DELETE_OPERATION_LIST:
                d->u.oplist.stage_id = r->stage_id;
                d->u.oplist.operation_list_id = *id;
                break;
        case SR_DEFCMD_PUT_OPERATION:
        case SR_DEFCMD_DELETE_OPERATION:
                d->u.op.operation_list_id = r->operation_list_id;
                d->u.op.operation_id = *id;
                break;
        case SR_DEFCMD_ADD_TARGETS:
                d->u.add.target_list_id = r->target_list_id;
                d->u.add.chunk_index = 0;
                break;
        case SR_DEFCMD_UPDATE_TARGET:
        case SR_DEFCMD_REMOVE_TARGET:
                d->u.target.target_list_id = r->target_list_id;
                d->u.target.target_id = *id;
                break;
        default:
                break;
        }
}

/* A detach names an attachment that must exist (404 before anything is
 * sent: the list is not attached to the stage). */
static bool attached(sr_gw_ctx_t *c, const sr_uuid_t *pipeline)
{
        const sr_route_t *r = c->route;
        char sid[SR_UUID_STR_LEN + 1], lid[SR_UUID_STR_LEN + 1];
        sr_def_record_t a;
        sr_errctx_t ec = { 0 };
        sr_uuid_t id;

        sr_def_attachment_id(&r->stage_id, &r->target_list_id, &id);
        if (sr_proj_def_get(c->gw->proj, c->enterprise, SR_DEF_ATTACHMENT,
                            pipeline, &id, &a, &ec) == SR_OK) {
                sr_def_record_fini(&a);
                return true;
        }
        sr_uuid_fmt(&r->stage_id, sid);
        sr_uuid_fmt(&r->target_list_id, lid);
        if (ec.code == SR_ERR_NOT_FOUND)
                sr_gateway__answer_status(c->resp, 404, "target list %s is "
                                          "not attached to stage %s",
                                          lid, sid);
        else
                sr_gateway__answer_status(c->resp, 500, "attachment: %s",
                                          ec.msg);
        return false;
}

static void write_def(sr_gw_ctx_t *c, const struct def_route *dr)
{
        const sr_route_t *r = c->route;
        sr_uuid_t pipeline, id = path_entity_id(r, dr->kind);
        sr_def_record_t p, was, now;
        bool create = dr->op == DOP_CREATE, have_was = false,
             new_pipeline = dr->kind == SR_DEF_PIPELINE && create,
             pipeline_known;
        sr_errctx_t ec = { 0 };
        sr_command_t cmd;
        sr_defcmd_t *d;
        int rc;

        d = calloc(1, sizeof(*d));
        if (!d) {
                sr_gateway__answer_status(c->resp, 500, "out of memory");
                return;
        }
        d->kind = dr->cmd;
        d->create = create;
        /* The pipeline: the path's, the new one's, or (paths without it)
         * the projection's; an unknown parent answers 404 only after the
         * body and the Idempotency-Key (order of checks). */
        memset(&pipeline, 0, sizeof(pipeline));
        if (new_pipeline) {
                new_id(c, SR_DEF_PIPELINE, &pipeline);
                id = pipeline;
                pipeline_known = true;
        } else if (!sr_uuid_is_nil(&r->pipeline_id)) {
                pipeline = r->pipeline_id;
                pipeline_known = true;
        } else if (!sr_uuid_is_nil(&r->stage_id)) {
                pipeline_known = sr_proj_def_pipeline_of(
                                         c->gw->proj, c->enterprise,
                                         SR_DEF_STAGE, &r->stage_id,
                                         &pipeline, NULL) == SR_OK;
        } else {
                pipeline_known = sr_proj_def_pipeline_of(
                                         c->gw->proj, c->enterprise,
                                         SR_DEF_OPERATION_LIST,
                                         &r->operation_list_id, &pipeline,
                                         NULL) == SR_OK;
        }
        if (create && !new_pipeline)
                new_id(c, dr->kind, &id);
        d->pipeline_id = pipeline;
        set_path_ids(d, r, &id);
        if (sr_defs_json_parse(d->kind, create, c->req->body,
                               c->req->body_len, d, &ec) != SR_OK) {
                sr_gateway__answer_status(c->resp,
                                          ec.code == SR_ERR_NOMEM ? 500 : 400,
                                          "%s", ec.msg);
                goto free_d;
        }
        if (dr->op == DOP_ATTACH)
                id = d->u.attach.target_list_id; /* the answer: the list */
        if (d->kind == SR_DEFCMD_ADD_TARGETS && d->u.add.n_items == 1)
                /* a target's id is the list's and the device's */
                sr_def_target_id(&r->target_list_id,
                                 &d->u.add.items[0].device_id, &id);
        if (sr_gateway__idem_refused(c))
                goto free_d;
        /* Existence in the caller's enterprise, before anything is sent. */
        if (!new_pipeline) {
                if (!pipeline_known) {
                        route_pipeline(c, &pipeline); /* answers its 404 */
                        goto free_d;
                }
                if (!usable_pipeline(c, &pipeline, &p))
                        goto free_d;
                if (dr->kind == SR_DEF_PIPELINE) {
                        was = p;
                        have_was = true;
                } else {
                        sr_def_record_fini(&p);
                }
        }
        if ((dr->op == DOP_DETACH && !attached(c, &pipeline)) ||
            !parent_list(c, dr, &pipeline, NULL))
                goto free_have;
        if ((dr->op == DOP_UPDATE || dr->op == DOP_DELETE ||
             dr->op == DOP_DETACH) &&
            dr->kind != SR_DEF_PIPELINE) {
                if (!read_path_entity(c, dr->kind, &pipeline, &id, &was))
                        goto free_have;
                have_was = true;
        }
        sr_gateway__command_init(&cmd, SR_CMD_DEFINITION, c->enterprise,
                                 c->req, &pipeline);
        d->command_id = cmd.command_id;
        snprintf(d->enterprise_id, sizeof(d->enterprise_id), "%s",
                 c->enterprise);
        d->issued_at = cmd.issued_at;
        cmd.u.def = d; /* owned by cmd from here */
        d = NULL;
        rc = sr_gateway__run_command(c->gw, &cmd, c->resp);
        sr_command_fini(&cmd);
        if (rc)
                goto free_have;
        /* Visible: the answer. A delete or a detach answers the entity as
         * it was before (a pipeline: as it is now, deleted_at set, Esper's
         * "the deleted record"). */
        if ((dr->op == DOP_DELETE && dr->kind != SR_DEF_PIPELINE) ||
            dr->op == DOP_DETACH) {
                answer_entity(c, &was);
                goto free_have;
        }
        if (sr_proj_def_get(c->gw->proj, c->enterprise, dr->kind, &pipeline,
                            &id, &now, &ec) != SR_OK) {
                /* Accepted and its seq visible, yet not there: a record
                 * the projection could not read. */
                sr_gateway__answer_status(c->resp,
                                          ec.code == SR_ERR_NOT_FOUND ? 404 :
                                                                        500,
                                          "%s: accepted, but %s",
                                          kind_word(dr->kind), ec.msg);
                goto free_have;
        }
        answer_entity(c, &now);
        sr_def_record_fini(&now);
free_have:
        if (have_was)
                sr_def_record_fini(&was);
free_d:
        if (d) {
                sr_defcmd_fini(d);
                free(d);
        }
}

/* ------------------------------------------------------------ bulk */

/* POST .../targets-bulk/ (docs/definitions.md, section 8): the body's
 * valid items in AddTargets chunks of definition.chunk.targets, every
 * chunk encoded first (one over command.max.bytes: 413, nothing sent),
 * then all sent, then every reply awaited (pipelined); command ids UUID v5
 * of (the request's command id, chunk index), so a retry with the same
 * Idempotency-Key resends the same commands and the owner's dedupe answers
 * the applied ones. The answer sums the replies' counts, with the items
 * left out (`errors`). A chunk refused: its refusal (the chunks before it
 * may be applied; each chunk is atomic, the bulk is not). A chunk without
 * reply in time: 202 with the missing chunks' command ids. */
struct bulk_chunk {
        sr_command_t cmd;
        sr_buf_t val;
        int ticket;
        bool sent, replied;
        sr_reply_t reply;
};

static void bulk(sr_gw_ctx_t *c)
{
        sr_gateway_t *gw = c->gw;
        const sr_route_t *r = c->route;
        int timeout = gw->conf->gateway_reply_timeout_ms;
        uint32_t per = (uint32_t)gw->conf->definition_chunk_targets, nch,
                 created = 0, added = 0, skipped = 0;
        char base[SR_UUID_STR_LEN + 1], cid[SR_UUID_STR_LEN + 1],
                msg[160], text[SR_NAME_MAX + 64];
        struct bulk_chunk *ch = NULL;
        sr_defs_bulk_t b = { 0 };
        sr_errctx_t ec = { 0 };
        sr_command_t first;
        sr_uuid_t pipeline;
        uint64_t seq = 0;
        int64_t until;
        json_t *missing;
        sr_err_t err;
        uint32_t i;

        if (sr_defs_json_bulk(c->req->body, c->req->body_len,
                              (uint32_t)gw->conf->gateway_bulk_max_items, &b,
                              &ec) != SR_OK) {
                sr_gateway__answer_status(c->resp,
                                          ec.code == SR_ERR_NOMEM ? 500 : 400,
                                          "%s", ec.msg);
                return;
        }
        if (sr_gateway__idem_refused(c) || !open_pipeline(c, &pipeline) ||
            !parent_list(c, find_route(SR_ROUTE_DEF_TARGETS_CREATE),
                         &pipeline, NULL))
                goto out;
        per = per ? per : 1;
        nch = (b.n_items + per - 1) / per;
        ch = calloc(nch ? nch : 1, sizeof(*ch));
        if (!ch) {
                sr_gateway__answer_status(c->resp, 500, "out of memory");
                goto out;
        }
        /* The request's own command id names its chunks. */
        sr_gateway__command_init(&first, SR_CMD_DEFINITION, c->enterprise,
                                 c->req, &pipeline);
        sr_uuid_fmt(&first.command_id, base);
        for (i = 0; i < nch; i++) {
                uint32_t from = i * per,
                         n = b.n_items - from < per ? b.n_items - from : per;
                sr_defcmd_t *d = calloc(1, sizeof(*d));

                ch[i].cmd = first;
                ch[i].ticket = -1;
                sr_uuid_v5(&ch[i].cmd.command_id, &sr_ns, "%s/bulk/%u", base,
                           i);
                if (!d) {
                        sr_gateway__answer_status(c->resp, 500, "out of "
                                                  "memory");
                        goto out;
                }
                ch[i].cmd.u.def = d;
                d->kind = SR_DEFCMD_ADD_TARGETS;
                d->command_id = ch[i].cmd.command_id;
                snprintf(d->enterprise_id, sizeof(d->enterprise_id), "%s",
                         c->enterprise);
                d->issued_at = first.issued_at;
                d->pipeline_id = pipeline;
                d->u.add.target_list_id = r->target_list_id;
                d->u.add.chunk_index = i;
                /* the items move to the chunk (b keeps no pointer) */
                d->u.add.n_items = n;
                d->u.add.items = malloc((size_t)n * sizeof(*d->u.add.items));
                if (!d->u.add.items) {
                        d->u.add.n_items = 0;
                        sr_gateway__answer_status(c->resp, 500, "out of "
                                                  "memory");
                        goto out;
                }
                memcpy(d->u.add.items, b.items + from,
                       (size_t)n * sizeof(*d->u.add.items));
                memset(b.items + from, 0, (size_t)n * sizeof(*b.items));
                pthread_mutex_lock(&gw->codec_mu);
                err = sr_codec_encode_command(gw->codec, &ch[i].cmd,
                                              &ch[i].val, &ec);
                pthread_mutex_unlock(&gw->codec_mu);
                if (err) {
                        sr_gateway__answer_status(c->resp, 500, "could not "
                                                  "encode the command: %s",
                                                  ec.msg);
                        goto out;
                }
                if (!sr_budget_input_fits((size_t)gw->conf->command_max_bytes,
                                          SR_UUID_STR_LEN, ch[i].val.len)) {
                        sr_gateway__answer_status(
                                c->resp, 413, "chunk %u of the bulk would be "
                                "a command of %zu bytes, over "
                                "command.max.bytes (%d); nothing was sent: "
                                "send fewer targets per call, or lower "
                                "definition.chunk.targets",
                                i, SR_UUID_STR_LEN + ch[i].val.len,
                                gw->conf->command_max_bytes);
                        goto out;
                }
        }
        for (i = 0; i < nch; i++) {
                sr_gw_sent_t sent = gw->port.send(gw->port.ctx, &ch[i].cmd,
                                                  sr_buf_slice(&ch[i].val),
                                                  timeout > 0 ? timeout : 1,
                                                  &ch[i].ticket, &ec);

                if (sent != SR_GW_SENT) {
                        /* the chunks sent are still awaited (tickets) */
                        sr_gateway__send_failed(sent, &ec, c->resp);
                        break;
                }
                ch[i].sent = true;
        }
        until = sr_clock_mono_ms() + timeout;
        for (uint32_t k = 0; k < nch && ch[k].sent; k++) {
                double t_read;

                ch[k].replied = gw->port.wait_reply(gw->port.ctx,
                                                    ch[k].ticket, until,
                                                    &ch[k].reply, &t_read);
        }
        if (c->resp->status) /* a send failed */
                goto out;
        for (i = 0; i < nch; i++) {
                if (!ch[i].replied || ch[i].reply.accepted)
                        continue;
                sr_uuid_fmt(&ch[i].cmd.command_id, cid);
                if (ch[i].reply.reason == SR_REJECT_RUN_STARTING)
                        c->resp->retry_after = 1;
                /* which chunk (of the valid items, in body order), and
                 * the owner's message */
                snprintf(text, sizeof(text), "chunk %u of %u: %s", i, nch,
                         ch[i].reply.message);
                sr_gateway__answer_json(
                        c->resp,
                        sr_gateway__refusal_status(ch[i].reply.reason), text,
                        sr_gateway__refusal_content(cid, &ch[i].reply));
                goto out;
        }
        missing = json_array();
        for (i = 0; i < nch; i++) {
                if (!ch[i].replied) {
                        sr_uuid_fmt(&ch[i].cmd.command_id, cid);
                        json_array_append_new(missing, json_string(cid));
                        continue;
                }
                if (ch[i].reply.has_def) {
                        created += ch[i].reply.def.created;
                        added += ch[i].reply.def.added;
                        skipped += ch[i].reply.def.skipped;
                        if (ch[i].reply.def.seq > seq)
                                seq = ch[i].reply.def.seq;
                }
        }
        if (json_array_size(missing) ||
            (nch && !gw->port.wait_def_seq(gw->port.ctx, c->enterprise,
                                           &pipeline, seq, until))) {
                c->resp->retry_after = 1;
                sr_gateway__answer_json(
                        c->resp, 202, json_array_size(missing) ?
                        "accepted; the outcome of some chunks did not "
                        "arrive in time: retry with the same "
                        "Idempotency-Key" :
                        "accepted; not yet visible in reads",
                        json_pack("{s:s,s:o}", "command_id", base,
                                  "missing_command_ids", missing));
                goto out;
        }
        json_decref(missing);
        snprintf(msg, sizeof(msg), "created %u, added %u, skipped %u",
                 created, added, skipped);
        sr_gateway__answer_json(c->resp, 200, msg,
                                sr_json_def_bulk_answer(created, added,
                                                        skipped, &b));
out:
        for (i = 0; ch && i < nch; i++) {
                sr_command_fini(&ch[i].cmd);
                sr_buf_free(&ch[i].val);
        }
        free(ch);
        sr_defs_bulk_fini(&b);
}

/* ------------------------------------------------------------ runs */

/* POST /v0/pipelines/{id}/runs/ (docs/definitions.md section 5): the body
 * ({} or none: 400), the Idempotency-Key (409; its fingerprint holds the
 * path's pipeline id), the pipeline in the caller's enterprise, not
 * deleted (404), then StartPipelineRun keyed by the pipeline, naming the
 * run id POST /v0/runs/ would pick (UUID v5 of the key, else v4). The
 * owner's refusals map as every definition write's (run_starting 409
 * with Retry-After, not_supported 400, pipeline_deleted and not_found
 * 404). Accepted, or a run already active under that id (a retry): the
 * run is created by the CreateRun the owner emits, so the answer waits
 * until the projection holds the run, then is 200 with it as POST
 * /v0/runs/ gives a run; not in gateway.reply.timeout.ms: 202 with the
 * command id, and a retry with the key answers the same run. */
void sr_gateway__start_pipeline_run(sr_gw_ctx_t *c)
{
        const sr_route_t *r = c->route;
        sr_http_problem_t prob = { 0 };
        sr_def_record_t p;
        sr_command_t cmd;
        sr_defcmd_t *d;
        sr_uuid_t run;
        int rc;

        if (sr_http_parse_start_run(c->req->body, c->req->body_len,
                                    (size_t)c->gw->conf->gateway_body_max_bytes,
                                    &prob) != SR_OK) {
                sr_gateway__answer_problem(c->resp, &prob);
                return;
        }
        if (sr_gateway__idem_refused(c) ||
            !usable_pipeline(c, &r->pipeline_id, &p))
                return;
        sr_def_record_fini(&p);
        d = calloc(1, sizeof(*d));
        if (!d) {
                sr_gateway__answer_status(c->resp, 500, "out of memory");
                return;
        }
        sr_gateway__new_run_id(c, &r->pipeline_id, &run);
        sr_gateway__command_init(&cmd, SR_CMD_DEFINITION, c->enterprise,
                                 c->req, &r->pipeline_id);
        d->kind = SR_DEFCMD_START_PIPELINE_RUN;
        d->command_id = cmd.command_id;
        snprintf(d->enterprise_id, sizeof(d->enterprise_id), "%s",
                 c->enterprise);
        d->issued_at = cmd.issued_at;
        d->pipeline_id = r->pipeline_id;
        d->u.run.pipeline_run_id = run;
        cmd.u.def = d; /* owned by cmd from here */
        rc = sr_gateway__run_command(c->gw, &cmd, c->resp);
        sr_command_fini(&cmd);
        if (!rc)
                sr_gateway__answer_new_run(c, &run);
}

void sr_gateway__def(sr_gw_ctx_t *c)
{
        const struct def_route *dr = find_route(c->route->id);

        if (!dr) {
                sr_gateway__answer_status(c->resp, 404, "unknown path or id");
                return;
        }
        if (c->route->id == SR_ROUTE_DEF_TARGETS_BULK) {
                bulk(c);
                return;
        }
        switch (dr->op) {
        case DOP_LIST:
                list(c, dr);
                break;
        case DOP_GET:
                get(c, dr);
                break;
        default:
                write_def(c, dr);
                break;
        }
}
