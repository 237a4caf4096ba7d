/* common/gateway/sr_gw_defs_reads.c - the reads of stored definitions
 * (sr_gw_defs.c's routes): lists from the projection, filtered and
 * ordered as Esper's (creation order, stages by `order`, pipelines by
 * name), a list's targets by keyset, and one entity by its path. */
#include "sr_gw_defs_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sr_defs_json.h"

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
        case SR_DEF_GROUP_LINK:
                return sr_uuid_eq(&r->u.group_link.target_list_id,
                                  &k->r->target_list_id);
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

/* A keyset page's cursor: the last id of the page before, 32 hex digits
 * (400 answered when it is not). */
static bool parse_cursor(sr_gw_ctx_t *c, const sr_http_query_t *q,
                         sr_uuid_t *after)
{
        if (strlen(q->cursor) != 32) {
                sr_gateway__answer_status(c->resp, 400, "cursor: expected "
                                          "the cursor of a `next` link of "
                                          "this list, unchanged");
                return false;
        }
        for (int i = 0; i < 16; i++)
                after->b[i] = (uint8_t)(sr_hex_value(q->cursor[2 * i]) << 4 |
                                        sr_hex_value(q->cursor[2 * i + 1]));
        return true;
}

/* The cursor of the page after the one ending at @p last ("" when
 * @p more is false: no next page). */
static void format_cursor(bool more, const sr_uuid_t *last,
                          char next[2 * 16 + 1])
{
        static const char hex[] = "0123456789abcdef";

        next[0] = '\0';
        if (!more || !last)
                return;
        for (int i = 0; i < 16; i++) {
                next[2 * i] = hex[last->b[i] >> 4];
                next[2 * i + 1] = hex[last->b[i] & 15];
        }
        next[32] = '\0';
}

/* The JSON array of @p n items of @p size bytes at @p items, each as
 * @p render gives it; NULL when out of memory or an item cannot be
 * rendered. */
static json_t *render_all(const void *items, size_t n, size_t size,
                          json_t *(*render)(const void *item))
{
        json_t *arr = json_array();

        for (size_t i = 0; arr && i < n; i++) {
                json_t *j = render((const char *)items + i * size);

                if (!j || json_array_append_new(arr, j)) {
                        json_decref(arr);
                        arr = NULL;
                }
        }
        return arr;
}

static json_t *render_entity(const void *item)
{
        return sr_gwdef__entity_json(item);
}

static json_t *render_device(const void *item)
{
        return sr_json_group_device(item);
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

        if (q->cursor[0] && !parse_cursor(c, q, &after))
                return;
        if (!sr_gwdef__open_pipeline(c, &pipeline) ||
            !sr_gwdef__parent_list(
                    c, sr_gwdef__find_route(SR_ROUTE_DEF_TARGETS_LIST),
                    &pipeline, &l))
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
        arr = render_all(items, n, sizeof(*items), render_entity);
        format_cursor(more, n ? &items[n - 1].u.target.id : NULL, next);
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

void sr_gwdef__list(sr_gw_ctx_t *c, const struct def_route *dr)
{
        sr_def_record_t *items = NULL;
        sr_errctx_t ec = { 0 };
        sr_http_query_t q;
        sr_uuid_t pipeline;
        struct keep_ctx k;
        bool by_stage = c->route->id == SR_ROUTE_DEF_STAGE_TARGETLISTS_LIST;
        size_t n = 0, page;
        json_t *arr;
        sr_err_t err;

        if (!sr_gateway__list_query(c, &q))
                return;
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
                if (!sr_gwdef__open_pipeline(c, &pipeline) ||
                    !sr_gwdef__parent_list(c, dr, &pipeline, NULL))
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
                                          sr_gwdef__kind_word(dr->kind),
                                          ec.msg);
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
        /* the page: limit items from offset */
        page = q.offset < n ? n - (size_t)q.offset : 0;
        if (page > q.limit)
                page = q.limit;
        arr = render_all(page ? items + q.offset : items, page,
                         sizeof(*items), render_entity);
        sr_proj_def_free(items, n);
        if (!arr) {
                sr_gateway__answer_status(c->resp, 500, "%s: out of memory "
                                          "or a damaged record",
                                          sr_gwdef__kind_word(dr->kind));
                return;
        }
        sr_gateway__answer_page(c, &q, n, NULL, arr);
}

/* ------------------------------------------------------------ get */

void sr_gwdef__get(sr_gw_ctx_t *c, const struct def_route *dr)
{
        sr_def_record_t p, e;
        sr_uuid_t pipeline, id = sr_gwdef__path_entity_id(c->route, dr->kind);

        if (!sr_gwdef__route_pipeline(c, &pipeline) ||
            !sr_gwdef__usable_pipeline(c, &pipeline, &p))
                return;
        if (dr->kind == SR_DEF_PIPELINE) {
                sr_gwdef__answer_entity(c, &p);
                sr_def_record_fini(&p);
                return;
        }
        sr_def_record_fini(&p);
        if (!sr_gwdef__parent_list(c, dr, &pipeline, NULL) ||
            !sr_gwdef__read_path_entity(c, dr->kind, &pipeline, &id, &e))
                return;
        sr_gwdef__answer_entity(c, &e);
        sr_def_record_fini(&e);
}

/* ------------------------------------------------------- device groups */

/* GET .../devicegroups/{device_group_id}/devices/ (reference section 6.6,
 * docs/definitions.md section 6): the members of a group linked to the
 * path's list, from the directory's records in the projection, as
 * Esper's Device; keyset pages in device id order (cursor) or offset. A
 * group not linked to the list is 404; a linked group the directory does
 * not hold (yet: a link may come before the platform feeds the group, or
 * the group is another enterprise's) is an empty page, as a run's
 * snapshot of it is empty. */
void sr_gwdef__group_devices(sr_gw_ctx_t *c)
{
        sr_def_group_member_t *items = NULL;
        sr_def_record_t link;
        sr_errctx_t ec = { 0 };
        sr_http_query_t q;
        sr_uuid_t pipeline, after, link_id;
        uint64_t total = 0;
        bool more = false;
        char next[2 * 16 + 1];
        size_t n = 0;
        json_t *arr;
        sr_err_t err;

        if (!sr_gateway__list_query(c, &q))
                return;
        if ((q.cursor[0] && !parse_cursor(c, &q, &after)) ||
            !sr_gwdef__open_pipeline(c, &pipeline) ||
            !sr_gwdef__parent_list(
                    c, sr_gwdef__find_route(SR_ROUTE_DEF_GROUPS_LIST),
                    &pipeline, NULL))
                return;
        /* the path names the group: linked to this list, or 404 */
        sr_def_group_link_id(&c->route->target_list_id,
                             &c->route->device_group_id, &link_id);
        if (!sr_gwdef__read_entity(c, SR_DEF_GROUP_LINK, &pipeline, &link_id,
                                   &link))
                return;
        sr_def_record_fini(&link);
        err = sr_proj_group_members(c->gw->proj, c->enterprise,
                                    &c->route->device_group_id, q.offset,
                                    q.cursor[0] ? &after : NULL, q.limit,
                                    &items, &n, &more, &total, &ec);
        if (err == SR_ERR_NOT_FOUND) {
                items = NULL;
                n = 0;
                more = false;
                total = 0;
        } else if (err) {
                sr_gateway__answer_status(c->resp, 500, "device group: %s",
                                          ec.msg);
                return;
        }
        arr = render_all(items, n, sizeof(*items), render_device);
        format_cursor(more, n ? &items[n - 1].device_id : NULL, next);
        free(items);
        if (!arr) {
                sr_gateway__answer_status(c->resp, 500, "device group: out "
                                          "of memory");
                return;
        }
        sr_gateway__answer_page(c, &q, total, next, arr);
}
