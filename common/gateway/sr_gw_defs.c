/* common/gateway/sr_gw_defs.c - the routes of stored pipeline definitions
 * (docs/definitions.md, phase A; reference sections 6.1-6.7): the table
 * of DEF_* routes, what each does, the helpers its handlers share (the
 * route's pipeline and entity, 404s, entities as JSON) and the dispatch.
 * Lists and gets from the projection (sr_proj_defs.c) are in
 * sr_gw_defs_reads.c; writes as definition commands (SR_CMD_DEFINITION,
 * keyed by the pipeline id) through the command port, answered once the
 * projection holds the reply's seq, in sr_gw_defs_writes.c.
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
#include "sr_gw_defs_int.h"

#include <stdio.h>
#include <string.h>

#include "sr_clock.h"
#include "sr_defs_json.h"

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
        /* a GROUPS list's device groups (phase C) */
        { SR_ROUTE_DEF_GROUPS_LIST, SR_DEF_GROUP_LINK, DOP_LIST, 0 },
        { SR_ROUTE_DEF_GROUPS_LINK, SR_DEF_GROUP_LINK, DOP_CREATE,
          SR_DEFCMD_LINK_DEVICE_GROUP },
        { SR_ROUTE_DEF_GROUP_UNLINK, SR_DEF_GROUP_LINK, DOP_DELETE,
          SR_DEFCMD_UNLINK_DEVICE_GROUP },
        { SR_ROUTE_DEF_GROUP_DEVICES, SR_DEF_GROUP_LINK, DOP_LIST, 0 },
};

const struct def_route *sr_gwdef__find_route(sr_route_id_t id)
{
        for (size_t i = 0; i < sizeof(def_routes) / sizeof(def_routes[0]);
             i++)
                if (def_routes[i].id == id)
                        return &def_routes[i];
        return NULL;
}

/* "pipeline", "stage", ... as messages name them. */
const char *sr_gwdef__kind_word(sr_def_kind_t k)
{
        switch (k) {
        case SR_DEF_TARGET_LIST:
                return "target list";
        case SR_DEF_OPERATION_LIST:
                return "operation list";
        case SR_DEF_GROUP_LINK:
                return "device-group link";
        default:
                return sr_def_kind_name(k);
        }
}

/* The id of the entity the route's path names (nil for a list or a
 * create). */
sr_uuid_t sr_gwdef__path_entity_id(const sr_route_t *r, sr_def_kind_t k)
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
bool sr_gwdef__usable_pipeline(sr_gw_ctx_t *c, const sr_uuid_t *pipeline,
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
bool sr_gwdef__route_pipeline(sr_gw_ctx_t *c, sr_uuid_t *pipeline)
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
                                          sr_gwdef__kind_word(k), id);
        else
                sr_gateway__answer_status(c->resp, 500, "%s: %s",
                                          sr_gwdef__kind_word(k), ec.msg);
        return false;
}

/* The entity as Esper JSON (NULL: out of memory or a damaged record). */
json_t *sr_gwdef__entity_json(const sr_def_record_t *r)
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
        case SR_DEF_GROUP_LINK:
                return sr_json_def_group_link(&r->u.group_link,
                                              &r->pipeline_id);
        default:
                return NULL;
        }
}

void sr_gwdef__answer_entity(sr_gw_ctx_t *c, const sr_def_record_t *r)
{
        json_t *j = sr_gwdef__entity_json(r);

        if (!j)
                sr_gateway__answer_status(c->resp, 500, "%s: out of memory "
                                          "or a damaged record",
                                          sr_gwdef__kind_word(r->kind));
        else
                sr_gateway__answer_json(c->resp, 200, "ok", j);
}

/* Read entity @p id of @p kind under @p pipeline (404 when absent). */
bool sr_gwdef__read_entity(sr_gw_ctx_t *c, sr_def_kind_t kind,
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
                                          sr_gwdef__kind_word(kind), text);
        else
                sr_gateway__answer_status(c->resp, 500, "%s: %s",
                                          sr_gwdef__kind_word(kind), ec.msg);
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
        case SR_DEF_GROUP_LINK:
                return sr_uuid_eq(&e->u.group_link.target_list_id,
                                  &r->target_list_id);
        default:
                return true;
        }
}

/* The entity the path names, under its parent (404 otherwise). */
bool sr_gwdef__read_path_entity(sr_gw_ctx_t *c, sr_def_kind_t kind,
                                const sr_uuid_t *pipeline, const sr_uuid_t *id,
                                sr_def_record_t *out)
{
        char text[SR_UUID_STR_LEN + 1];

        if (!sr_gwdef__read_entity(c, kind, pipeline, id, out))
                return false;
        if (parent_matches(c->route, out))
                return true;
        sr_def_record_fini(out);
        sr_uuid_fmt(id, text);
        sr_gateway__answer_status(c->resp, 404, "%s %s not found",
                                  sr_gwdef__kind_word(kind), text);
        return false;
}

/* The pipeline of the route, usable (404 otherwise), and the parent of a
 * path under /stages/{id}/ or /operationlists/{id}/ checked through
 * sr_gwdef__route_pipeline(). */
bool sr_gwdef__open_pipeline(sr_gw_ctx_t *c, sr_uuid_t *pipeline)
{
        sr_def_record_t p;

        if (!sr_gwdef__route_pipeline(c, pipeline) ||
            !sr_gwdef__usable_pipeline(c, pipeline, &p))
                return false;
        sr_def_record_fini(&p);
        return true;
}

/* The target list a targets or device-groups path names, in the pipeline
 * (404 when not); its record into @p out when given. True for the other
 * routes. */
bool sr_gwdef__parent_list(sr_gw_ctx_t *c, const struct def_route *dr,
                           const sr_uuid_t *pipeline, sr_def_record_t *out)
{
        sr_def_record_t l;

        if (dr->kind != SR_DEF_TARGET && dr->kind != SR_DEF_GROUP_LINK)
                return true;
        if (!sr_gwdef__read_entity(c, SR_DEF_TARGET_LIST, pipeline,
                                   &c->route->target_list_id, &l))
                return false;
        if (out)
                *out = l;
        else
                sr_def_record_fini(&l);
        return true;
}

/* The link of the path's list that `{devicegroup_id}` names: Esper's
 * path names the device group (its DELETE answers the list and the
 * group), so the id is taken as the group's, and else as the link's own
 * (the `id` our links answer with). 404 when neither is linked. */
bool sr_gwdef__path_link(sr_gw_ctx_t *c, const sr_uuid_t *pipeline,
                         sr_def_record_t *out)
{
        const sr_route_t *r = c->route;
        char gid[SR_UUID_STR_LEN + 1], lid[SR_UUID_STR_LEN + 1];
        sr_errctx_t ec = { 0 };
        sr_uuid_t ids[2];

        sr_def_group_link_id(&r->target_list_id, &r->device_group_id,
                             &ids[0]);
        ids[1] = r->device_group_id;
        for (int i = 0; i < 2; i++) {
                sr_err_t err = sr_proj_def_get(c->gw->proj, c->enterprise,
                                               SR_DEF_GROUP_LINK, pipeline,
                                               &ids[i], out, &ec);

                if (err == SR_OK && parent_matches(r, out))
                        return true;
                if (err == SR_OK)
                        sr_def_record_fini(out);
                else if (err != SR_ERR_NOT_FOUND)
                        goto failed;
                memset(&ec, 0, sizeof(ec));
        }
        sr_uuid_fmt(&r->device_group_id, gid);
        sr_uuid_fmt(&r->target_list_id, lid);
        sr_gateway__answer_status(c->resp, 404, "device group %s is not "
                                  "linked to target list %s",
                                  gid, lid);
        return false;
failed:
        sr_gateway__answer_status(c->resp, 500, "device-group link: %s",
                                  ec.msg);
        return false;
}

void sr_gateway__def(sr_gw_ctx_t *c)
{
        const struct def_route *dr = sr_gwdef__find_route(c->route->id);

        if (!dr) {
                sr_gateway__answer_status(c->resp, 404, "unknown path or id");
                return;
        }
        if (c->route->id == SR_ROUTE_DEF_TARGETS_BULK) {
                sr_gwdef__bulk(c);
                return;
        }
        if (c->route->id == SR_ROUTE_DEF_GROUP_DEVICES) {
                sr_gwdef__group_devices(c);
                return;
        }
        switch (dr->op) {
        case DOP_LIST:
                sr_gwdef__list(c, dr);
                break;
        case DOP_GET:
                sr_gwdef__get(c, dr);
                break;
        default:
                sr_gwdef__write_def(c, dr);
                break;
        }
}
