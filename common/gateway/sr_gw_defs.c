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
 */
#include "sr_gateway_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_clock.h"
#include "sr_defs_json.h"
#include "sr_idem.h"

enum dop { DOP_LIST, DOP_GET, DOP_CREATE, DOP_UPDATE, DOP_DELETE };

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
 * the projection's (404 when unknown in the caller's enterprise). */
static bool route_pipeline(sr_gw_ctx_t *c, sr_uuid_t *pipeline)
{
        *pipeline = c->route->pipeline_id;
        return true;
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

/* ------------------------------------------------------------ lists */

/* The pipelines' default order is creation order (created_at, then id),
 * `ordering` name or -name (byte order of the names, then creation
 * order). */
static int cmp_created(const sr_def_audit_t *a, const sr_uuid_t *ia,
                       const sr_def_audit_t *b, const sr_uuid_t *ib)
{
        if (a->created_at != b->created_at)
                return a->created_at < b->created_at ? -1 : 1;
        return memcmp(ia->b, ib->b, sizeof(ia->b));
}

static int cmp_pipeline_created(const void *x, const void *y)
{
        const sr_def_pipeline_t *a = &((const sr_def_record_t *)x)->u.pipeline,
                                *b = &((const sr_def_record_t *)y)->u.pipeline;

        return cmp_created(&a->a, &a->id, &b->a, &b->id);
}

static int cmp_pipeline_name(const void *x, const void *y)
{
        const sr_def_pipeline_t *a = &((const sr_def_record_t *)x)->u.pipeline,
                                *b = &((const sr_def_record_t *)y)->u.pipeline;
        int d = strcmp(a->name, b->name);

        return d ? d : cmp_created(&a->a, &a->id, &b->a, &b->id);
}

static int cmp_pipeline_name_desc(const void *x, const void *y)
{
        const sr_def_pipeline_t *a = &((const sr_def_record_t *)x)->u.pipeline,
                                *b = &((const sr_def_record_t *)y)->u.pipeline;
        int d = strcmp(b->name, a->name);

        return d ? d : cmp_created(&a->a, &a->id, &b->a, &b->id);
}

static int cmp_stage_order(const void *x, const void *y)
{
        const sr_def_stage_t *a = &((const sr_def_record_t *)x)->u.stage,
                             *b = &((const sr_def_record_t *)y)->u.stage;

        if (a->order != b->order)
                return a->order < b->order ? -1 : 1;
        return cmp_created(&a->a, &a->id, &b->a, &b->id);
}

/* Keep the items @p keep says yes to, in place. */
static size_t filter_items(sr_def_record_t *items, size_t n,
                           bool (*keep)(const sr_def_record_t *,
                                        const sr_http_query_t *),
                           const sr_http_query_t *q)
{
        size_t w = 0;

        for (size_t i = 0; i < n; i++) {
                if (keep(&items[i], q))
                        items[w++] = items[i];
                else
                        sr_def_record_fini(&items[i]);
        }
        return w;
}

static bool keep_pipeline(const sr_def_record_t *r, const sr_http_query_t *q)
{
        const sr_def_pipeline_t *p = &r->u.pipeline;

        if (p->deleted_at)
                return false; /* "non-deleted pipelines only" */
        if (q->name[0] && strcmp(p->name, q->name))
                return false;
        if (q->is_default && p->is_default != (q->is_default == 2))
                return false;
        return true;
}

static void list(sr_gw_ctx_t *c, const struct def_route *dr)
{
        const char *qs = strchr(c->req->target, '?');
        sr_http_problem_t prob = { 0 };
        sr_def_record_t *items = NULL, p;
        sr_errctx_t ec = { 0 };
        sr_http_query_t q;
        sr_uuid_t pipeline;
        size_t n = 0;
        json_t *arr;
        sr_err_t err;

        if (sr_http_query_parse(c->route->id, qs ? qs + 1 : "",
                                qs ? strlen(qs + 1) : 0, &q, &prob) != SR_OK) {
                sr_gateway__answer_problem(c->resp, &prob);
                return;
        }
        if (dr->kind == SR_DEF_PIPELINE) {
                err = sr_proj_def_pipelines(c->gw->proj, c->enterprise,
                                            &items, &n, &ec);
        } else {
                if (!route_pipeline(c, &pipeline) ||
                    !usable_pipeline(c, &pipeline, &p))
                        return;
                sr_def_record_fini(&p);
                err = sr_proj_def_list(c->gw->proj, c->enterprise, dr->kind,
                                       &pipeline, &items, &n, &ec);
        }
        if (err) {
                sr_gateway__answer_status(c->resp, 500, "%s: %s",
                                          kind_word(dr->kind), ec.msg);
                return;
        }
        switch (dr->kind) {
        case SR_DEF_PIPELINE:
                n = filter_items(items, n, keep_pipeline, &q);
                qsort(items, n, sizeof(*items),
                      !q.n_order           ? cmp_pipeline_created :
                      q.order[0].desc ? cmp_pipeline_name_desc :
                                        cmp_pipeline_name);
                break;
        case SR_DEF_STAGE:
                qsort(items, n, sizeof(*items), cmp_stage_order);
                break;
        default:
                break;
        }
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
        if (!read_entity(c, dr->kind, &pipeline, &id, &e))
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

/* The path's ids into the command's union. */
static void set_path_ids(sr_defcmd_t *d, sr_def_kind_t kind,
                         const sr_uuid_t *id)
{
        switch (kind) {
        case SR_DEF_STAGE:
                d->u.stage.stage_id = *id;
                break;
        default:
                break;
        }
}

static void write_def(sr_gw_ctx_t *c, const struct def_route *dr)
{
        sr_uuid_t pipeline, id = path_entity_id(c->route, dr->kind);
        sr_def_record_t p, was, now;
        bool create = dr->op == DOP_CREATE, have_was = false;
        sr_errctx_t ec = { 0 };
        sr_command_t cmd;
        sr_defcmd_t *d;
        sr_uuid_t cid;
        int rc;

        d = calloc(1, sizeof(*d));
        if (!d) {
                sr_gateway__answer_status(c->resp, 500, "out of memory");
                return;
        }
        d->kind = dr->cmd;
        d->create = create;
        if (dr->kind == SR_DEF_PIPELINE && create) {
                new_id(c, SR_DEF_PIPELINE, &pipeline);
                id = pipeline;
        } else {
                pipeline = c->route->pipeline_id;
                if (create)
                        new_id(c, dr->kind, &id);
        }
        d->pipeline_id = pipeline;
        set_path_ids(d, dr->kind, &id);
        if (sr_defs_json_parse(d->kind, create, c->req->body,
                               c->req->body_len, d, &ec) != SR_OK) {
                sr_gateway__answer_status(c->resp,
                                          ec.code == SR_ERR_NOMEM ? 500 : 400,
                                          "%s", ec.msg);
                goto free_d;
        }
        if (sr_gateway__idem_refused(c))
                goto free_d;
        /* Existence in the caller's enterprise, before anything is sent. */
        if (!(dr->kind == SR_DEF_PIPELINE && create)) {
                if (!usable_pipeline(c, &pipeline, &p))
                        goto free_d;
                if (dr->kind == SR_DEF_PIPELINE) {
                        was = p;
                        have_was = true;
                } else {
                        sr_def_record_fini(&p);
                }
        }
        if (!create && dr->kind != SR_DEF_PIPELINE) {
                if (!read_entity(c, dr->kind, &pipeline, &id, &was))
                        goto free_d;
                have_was = true;
        }
        sr_gateway__command_init(&cmd, SR_CMD_DEFINITION, c->enterprise,
                                 c->req, &pipeline);
        cid = cmd.command_id;
        d->command_id = cid;
        snprintf(d->enterprise_id, sizeof(d->enterprise_id), "%s",
                 c->enterprise);
        d->issued_at = cmd.issued_at;
        cmd.u.def = d; /* owned by cmd from here */
        d = NULL;
        rc = sr_gateway__run_command(c->gw, &cmd, c->resp);
        sr_command_fini(&cmd);
        if (rc)
                goto free_was;
        /* Visible: the answer. A delete answers the entity as it was
         * before (a pipeline: as it is now, deleted_at set, Esper's "the
         * deleted record"). */
        if (dr->op == DOP_DELETE && dr->kind != SR_DEF_PIPELINE) {
                answer_entity(c, &was);
                goto free_was;
        }
        if (sr_proj_def_get(c->gw->proj, c->enterprise, dr->kind, &pipeline,
                            &id, &now, &ec) != SR_OK) {
                /* Accepted and its seq visible, yet not there: a create
                 * the rules took as done before (another entity's id) or
                 * a damaged record. */
                sr_gateway__answer_status(c->resp,
                                          ec.code == SR_ERR_NOT_FOUND ? 404 :
                                                                        500,
                                          "%s: accepted, but %s",
                                          kind_word(dr->kind), ec.msg);
                goto free_was;
        }
        answer_entity(c, &now);
        sr_def_record_fini(&now);
free_was:
        if (have_was)
                sr_def_record_fini(&was);
free_d:
        if (d) {
                sr_defcmd_fini(d);
                free(d);
        }
}

void sr_gateway__def(sr_gw_ctx_t *c)
{
        const struct def_route *dr = find_route(c->route->id);

        if (!dr) {
                sr_gateway__answer_status(c->resp, 404, "unknown path or id");
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
