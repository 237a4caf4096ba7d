/* common/gateway/sr_http_route.c - routing for sr-gateway: the route
 * table (method and path template to a route id, the ids in the path
 * parsed), 404 and 405 answers, and the route predicates. */
#include "sr_http_int.h"
#include "sr_ui.h"

#include <stdio.h>
#include <string.h>

static const char *const route_names[] = {
#define SR_ROUTE_TEXT(name, text) [SR_ROUTE_##name] = text,
        SR_ROUTE_MAP(SR_ROUTE_TEXT)
#undef SR_ROUTE_TEXT
};

_Static_assert(sizeof(route_names) / sizeof(route_names[0]) ==
               SR_ROUTE__COUNT, "route_names out of sync with SR_ROUTE_MAP");

const char *sr_route_name(sr_route_id_t id)
{
        return (unsigned)id < SR_ROUTE__COUNT ? route_names[id] : "unknown";
}

bool sr_route_needs_auth(sr_route_id_t id)
{
        return id > SR_ROUTE_OPENAPI && id < SR_ROUTE__COUNT;
}

bool sr_route_is_registry(sr_route_id_t id)
{
        return id == SR_ROUTE_REGISTRY;
}

bool sr_route_is_list(sr_route_id_t id)
{
        return id == SR_ROUTE_RUNS_LIST || id == SR_ROUTE_PIPELINE_RUNS_LIST ||
               id == SR_ROUTE_STAGE_RUNS_LIST ||
               id == SR_ROUTE_OPERATIONS_LIST ||
               id == SR_ROUTE_TARGET_RUNS_LIST ||
               id == SR_ROUTE_STAGE_TARGETS_LIST ||
               id == SR_ROUTE_DEF_PIPELINES_LIST ||
               id == SR_ROUTE_DEF_STAGES_LIST ||
               id == SR_ROUTE_DEF_TARGETLISTS_LIST ||
               id == SR_ROUTE_DEF_STAGE_TARGETLISTS_LIST ||
               id == SR_ROUTE_DEF_OPLISTS_LIST ||
               id == SR_ROUTE_DEF_OPERATIONS_LIST ||
               id == SR_ROUTE_DEF_TARGETS_LIST ||
               id == SR_ROUTE_DEF_GROUPS_LIST ||
               id == SR_ROUTE_DEF_GROUP_DEVICES;
}

/* A stored definition's DELETE: its body is absent or {"version": N}. */
static bool is_def_delete(sr_route_id_t id)
{
        return id == SR_ROUTE_DEF_PIPELINE_DELETE ||
               id == SR_ROUTE_DEF_STAGE_DELETE ||
               id == SR_ROUTE_DEF_TARGETLIST_DELETE ||
               id == SR_ROUTE_DEF_STAGE_TARGETLIST_DETACH ||
               id == SR_ROUTE_DEF_OPLIST_DELETE ||
               id == SR_ROUTE_DEF_OPERATION_DELETE ||
               id == SR_ROUTE_DEF_TARGET_DELETE ||
               id == SR_ROUTE_DEF_GROUP_UNLINK;
}

bool sr_route_has_body(sr_route_id_t id)
{
        return is_def_delete(id) || id == SR_ROUTE_DEF_PIPELINES_CREATE ||
               id == SR_ROUTE_DEF_PIPELINE_PUT ||
               id == SR_ROUTE_DEF_STAGES_CREATE ||
               id == SR_ROUTE_DEF_STAGE_PUT ||
               id == SR_ROUTE_DEF_TARGETLISTS_CREATE ||
               id == SR_ROUTE_DEF_TARGETLIST_PUT ||
               id == SR_ROUTE_DEF_STAGE_TARGETLISTS_ATTACH ||
               id == SR_ROUTE_DEF_OPLISTS_CREATE ||
               id == SR_ROUTE_DEF_OPLIST_PUT ||
               id == SR_ROUTE_DEF_OPERATIONS_CREATE ||
               id == SR_ROUTE_DEF_OPERATION_PUT ||
               id == SR_ROUTE_DEF_TARGETS_CREATE ||
               id == SR_ROUTE_DEF_TARGET_PUT ||
               id == SR_ROUTE_DEF_TARGETS_BULK ||
               id == SR_ROUTE_DEF_GROUPS_LINK ||
               id == SR_ROUTE_RUNS_CREATE ||
               id == SR_ROUTE_PIPELINE_RUNS_CREATE ||
               id == SR_ROUTE_PIPELINE_RUN_PUT ||
               id == SR_ROUTE_STAGE_RUN_PUT || id == SR_ROUTE_TARGET_RUN_PUT ||
               id == SR_ROUTE_STAGE_TARGETS_APPEND ||
               id == SR_ROUTE_STAGE_TARGETS_SEAL ||
               id == SR_ROUTE_TARGET_RUN_COMMAND_SEND ||
               id == SR_ROUTE_TARGET_RUN_COMMAND_CANCEL ||
               id == SR_ROUTE_TARGET_RUNS_ADD;
}

bool sr_route_is_write(sr_route_id_t id)
{
        return sr_route_has_body(id) || id == SR_ROUTE_PIPELINE_RUN_DELETE;
}

bool sr_route_is_definition(sr_route_id_t id)
{
        return (id >= SR_ROUTE_DEF_PIPELINES_LIST &&
                id <= SR_ROUTE_DEF_TARGETS_BULK) ||
               (id >= SR_ROUTE_DEF_GROUPS_LIST &&
                id <= SR_ROUTE_DEF_GROUP_DEVICES);
}

bool sr_route_body_optional(sr_route_id_t id)
{
        return id == SR_ROUTE_TARGET_RUN_COMMAND_SEND ||
               id == SR_ROUTE_PIPELINE_RUNS_CREATE || is_def_delete(id);
}

/* What an id segment of a path template fills in. */
enum slot {
        LIT = 0,
        PIPELINE_ID,
        PIPELINE_RUN_ID,
        STAGE_RUN_ID,
        OPERATION_ID,
        TARGET_RUN_ID,
        COMMAND_ID,
        STAGE_ID,
        TARGET_LIST_ID,
        OPERATION_LIST_ID,
        DEF_OPERATION_ID,
        DEF_TARGET_ID,
        DEVICE_GROUP_ID,
};

#define MAX_SEGS 7 /* pipelines/{id}/targetlists/{id}/devicegroups/{id}/
                    devices */
#define MAX_METHODS 3 /* GET, PUT, DELETE of a pipeline run */

struct method_route {
        const char *method;
        sr_route_id_t id;
};

/* One path template after the "/v0" prefix: a literal segment has its
 * text, an id segment a NULL text and its slot. */
struct path_def {
        unsigned n_segs;
        const char *lit[MAX_SEGS];
        enum slot slot[MAX_SEGS];
        struct method_route m[MAX_METHODS];
};

static const struct path_def api_paths[] = {
        { 1, { "runs" }, { LIT },
          { { "GET", SR_ROUTE_RUNS_LIST }, { "POST", SR_ROUTE_RUNS_CREATE } } },
        /* Our extension (docs/api-decisions.md): the run a POST /v0/runs/
         * answered with, read, cancelled and deleted without its
         * pipeline id. */
        { 2, { "runs", NULL }, { LIT, PIPELINE_RUN_ID },
          { { "GET", SR_ROUTE_PIPELINE_RUN_GET },
            { "PUT", SR_ROUTE_PIPELINE_RUN_PUT },
            { "DELETE", SR_ROUTE_PIPELINE_RUN_DELETE } } },
        { 1, { "events" }, { LIT }, { { "GET", SR_ROUTE_EVENTS } } },
        { 3, { "runs", NULL, "events" }, { LIT, PIPELINE_RUN_ID, LIT },
          { { "GET", SR_ROUTE_RUN_EVENTS } } },
        { 3, { "runs", NULL, "stageruns" }, { LIT, PIPELINE_RUN_ID, LIT },
          { { "GET", SR_ROUTE_STAGE_RUNS_LIST } } },
        { 4, { "runs", NULL, "stageruns", NULL },
          { LIT, PIPELINE_RUN_ID, LIT, STAGE_RUN_ID },
          { { "GET", SR_ROUTE_STAGE_RUN_GET },
            { "PUT", SR_ROUTE_STAGE_RUN_PUT } } },
        /* An open stage's targets in chunks, listed, and its seal
         * (docs/targets.md, section 5). */
        { 5, { "runs", NULL, "stageruns", NULL, "targets" },
          { LIT, PIPELINE_RUN_ID, LIT, STAGE_RUN_ID, LIT },
          { { "GET", SR_ROUTE_STAGE_TARGETS_LIST },
            { "POST", SR_ROUTE_STAGE_TARGETS_APPEND } } },
        { 6, { "runs", NULL, "stageruns", NULL, "targets", "seal" },
          { LIT, PIPELINE_RUN_ID, LIT, STAGE_RUN_ID, LIT, LIT },
          { { "POST", SR_ROUTE_STAGE_TARGETS_SEAL } } },
        { 3, { "pipelines", NULL, "runs" }, { LIT, PIPELINE_ID, LIT },
          { { "GET", SR_ROUTE_PIPELINE_RUNS_LIST },
            { "POST", SR_ROUTE_PIPELINE_RUNS_CREATE } } },
        { 4, { "pipelines", NULL, "runs", NULL },
          { LIT, PIPELINE_ID, LIT, PIPELINE_RUN_ID },
          { { "GET", SR_ROUTE_PIPELINE_RUN_GET },
            { "PUT", SR_ROUTE_PIPELINE_RUN_PUT },
            { "DELETE", SR_ROUTE_PIPELINE_RUN_DELETE } } },
        { 3, { "stageruns", NULL, "operations" }, { LIT, STAGE_RUN_ID, LIT },
          { { "GET", SR_ROUTE_OPERATIONS_LIST } } },
        { 4, { "stageruns", NULL, "operations", NULL },
          { LIT, STAGE_RUN_ID, LIT, OPERATION_ID },
          { { "GET", SR_ROUTE_OPERATION_GET } } },
        { 3, { "stageruns", NULL, "targetruns" }, { LIT, STAGE_RUN_ID, LIT },
          { { "GET", SR_ROUTE_TARGET_RUNS_LIST },
            { "POST", SR_ROUTE_TARGET_RUNS_ADD } } },
        { 4, { "stageruns", NULL, "targetruns", NULL },
          { LIT, STAGE_RUN_ID, LIT, TARGET_RUN_ID },
          { { "GET", SR_ROUTE_TARGET_RUN_GET },
            { "PUT", SR_ROUTE_TARGET_RUN_PUT } } },
        /* A target run's device command (reference section 6.10,
         * docs/definitions.md section 9, phase D): read, sent again,
         * cancelled. */
        { 5, { "stageruns", NULL, "targetruns", NULL, "command" },
          { LIT, STAGE_RUN_ID, LIT, TARGET_RUN_ID, LIT },
          { { "GET", SR_ROUTE_TARGET_RUN_COMMAND_GET },
            { "POST", SR_ROUTE_TARGET_RUN_COMMAND_SEND } } },
        { 6, { "stageruns", NULL, "targetruns", NULL, "command", NULL },
          { LIT, STAGE_RUN_ID, LIT, TARGET_RUN_ID, LIT, COMMAND_ID },
          { { "PUT", SR_ROUTE_TARGET_RUN_COMMAND_CANCEL } } },
        /* Stored definitions (docs/definitions.md section 9, phase A). */
        { 1, { "pipelines" }, { LIT },
          { { "GET", SR_ROUTE_DEF_PIPELINES_LIST },
            { "POST", SR_ROUTE_DEF_PIPELINES_CREATE } } },
        { 2, { "pipelines", NULL }, { LIT, PIPELINE_ID },
          { { "GET", SR_ROUTE_DEF_PIPELINE_GET },
            { "PUT", SR_ROUTE_DEF_PIPELINE_PUT },
            { "DELETE", SR_ROUTE_DEF_PIPELINE_DELETE } } },
        { 3, { "pipelines", NULL, "stages" }, { LIT, PIPELINE_ID, LIT },
          { { "GET", SR_ROUTE_DEF_STAGES_LIST },
            { "POST", SR_ROUTE_DEF_STAGES_CREATE } } },
        { 4, { "pipelines", NULL, "stages", NULL },
          { LIT, PIPELINE_ID, LIT, STAGE_ID },
          { { "GET", SR_ROUTE_DEF_STAGE_GET },
            { "PUT", SR_ROUTE_DEF_STAGE_PUT },
            { "DELETE", SR_ROUTE_DEF_STAGE_DELETE } } },
        { 3, { "pipelines", NULL, "targetlists" }, { LIT, PIPELINE_ID, LIT },
          { { "GET", SR_ROUTE_DEF_TARGETLISTS_LIST },
            { "POST", SR_ROUTE_DEF_TARGETLISTS_CREATE } } },
        { 4, { "pipelines", NULL, "targetlists", NULL },
          { LIT, PIPELINE_ID, LIT, TARGET_LIST_ID },
          { { "GET", SR_ROUTE_DEF_TARGETLIST_GET },
            { "PUT", SR_ROUTE_DEF_TARGETLIST_PUT },
            { "DELETE", SR_ROUTE_DEF_TARGETLIST_DELETE } } },
        /* Without the pipeline id: the gateway reads it from the stage or
         * the operation list (docs/definitions.md, section 9). */
        { 3, { "stages", NULL, "targetlists" }, { LIT, STAGE_ID, LIT },
          { { "GET", SR_ROUTE_DEF_STAGE_TARGETLISTS_LIST },
            { "POST", SR_ROUTE_DEF_STAGE_TARGETLISTS_ATTACH } } },
        { 4, { "stages", NULL, "targetlists", NULL },
          { LIT, STAGE_ID, LIT, TARGET_LIST_ID },
          { { "DELETE", SR_ROUTE_DEF_STAGE_TARGETLIST_DETACH } } },
        { 3, { "stages", NULL, "operationlists" }, { LIT, STAGE_ID, LIT },
          { { "GET", SR_ROUTE_DEF_OPLISTS_LIST },
            { "POST", SR_ROUTE_DEF_OPLISTS_CREATE } } },
        { 4, { "stages", NULL, "operationlists", NULL },
          { LIT, STAGE_ID, LIT, OPERATION_LIST_ID },
          { { "PUT", SR_ROUTE_DEF_OPLIST_PUT },
            { "DELETE", SR_ROUTE_DEF_OPLIST_DELETE } } },
        { 3, { "operationlists", NULL, "operations" },
          { LIT, OPERATION_LIST_ID, LIT },
          { { "GET", SR_ROUTE_DEF_OPERATIONS_LIST },
            { "POST", SR_ROUTE_DEF_OPERATIONS_CREATE } } },
        { 4, { "operationlists", NULL, "operations", NULL },
          { LIT, OPERATION_LIST_ID, LIT, DEF_OPERATION_ID },
          { { "GET", SR_ROUTE_DEF_OPERATION_GET },
            { "PUT", SR_ROUTE_DEF_OPERATION_PUT },
            { "DELETE", SR_ROUTE_DEF_OPERATION_DELETE } } },
        { 5, { "pipelines", NULL, "targetlists", NULL, "targets" },
          { LIT, PIPELINE_ID, LIT, TARGET_LIST_ID, LIT },
          { { "GET", SR_ROUTE_DEF_TARGETS_LIST },
            { "POST", SR_ROUTE_DEF_TARGETS_CREATE } } },
        { 6, { "pipelines", NULL, "targetlists", NULL, "targets", NULL },
          { LIT, PIPELINE_ID, LIT, TARGET_LIST_ID, LIT, DEF_TARGET_ID },
          { { "GET", SR_ROUTE_DEF_TARGET_GET },
            { "PUT", SR_ROUTE_DEF_TARGET_PUT },
            { "DELETE", SR_ROUTE_DEF_TARGET_DELETE } } },
        { 5, { "pipelines", NULL, "targetlists", NULL, "targets-bulk" },
          { LIT, PIPELINE_ID, LIT, TARGET_LIST_ID, LIT },
          { { "POST", SR_ROUTE_DEF_TARGETS_BULK } } },
        /* A GROUPS list's device groups (phase C): the links, one link
         * removed (named by its group's id or its own), a linked group's
         * member devices. */
        { 5, { "pipelines", NULL, "targetlists", NULL, "devicegroups" },
          { LIT, PIPELINE_ID, LIT, TARGET_LIST_ID, LIT },
          { { "GET", SR_ROUTE_DEF_GROUPS_LIST },
            { "POST", SR_ROUTE_DEF_GROUPS_LINK } } },
        { 6, { "pipelines", NULL, "targetlists", NULL, "devicegroups", NULL },
          { LIT, PIPELINE_ID, LIT, TARGET_LIST_ID, LIT, DEVICE_GROUP_ID },
          { { "DELETE", SR_ROUTE_DEF_GROUP_UNLINK } } },
        { 7,
          { "pipelines", NULL, "targetlists", NULL, "devicegroups", NULL,
            "devices" },
          { LIT, PIPELINE_ID, LIT, TARGET_LIST_ID, LIT, DEVICE_GROUP_ID,
            LIT },
          { { "GET", SR_ROUTE_DEF_GROUP_DEVICES } } },
};

static const struct {
        const char *path;
        sr_route_id_t id;
} ops_paths[] = {
        { "/livez", SR_ROUTE_LIVEZ },
        { "/readyz", SR_ROUTE_READYZ },
        { "/metrics", SR_ROUTE_METRICS },
        { "/openapi.json", SR_ROUTE_OPENAPI },
        { "/asyncapi.yaml", SR_ROUTE_ASYNCAPI },
};

/* The Confluent Schema Registry's read paths: the path itself, or it and
 * a '/' and more. */
static const char *const registry_roots[] = { "/schemas", "/subjects",
                                              "/config" };

static bool is_registry_path(const char *path, size_t plen)
{
        for (size_t i = 0;
             i < sizeof(registry_roots) / sizeof(registry_roots[0]); i++) {
                size_t n = strlen(registry_roots[i]);

                if (plen >= n && !memcmp(path, registry_roots[i], n) &&
                    (plen == n || path[n] == '/'))
                        return true;
        }
        return false;
}

static const char *const api_prefixes[] = { "/api/pipelines/v0", "/v0" };

struct seg {
        const char *p;
        size_t len;
};

/* Checked before libuuid sees the text: only hex digits and the dashes. */
bool sr_http__parse_uuid(const char *s, size_t len, sr_uuid_t *out)
{
        static const char hexdigits[] = "0123456789abcdefABCDEF";

        if (len != SR_UUID_STR_LEN)
                return false;
        for (size_t i = 0; i < len; i++) {
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (s[i] != '-')
                                return false;
                } else if (!s[i] || !strchr(hexdigits, s[i])) {
                        return false;
                }
        }
        return sr_uuid_parse(s, len, out);
}

static sr_uuid_t *slot_field(sr_route_t *r, enum slot slot)
{
        switch (slot) {
        case PIPELINE_ID:
                return &r->pipeline_id;
        case PIPELINE_RUN_ID:
                return &r->pipeline_run_id;
        case STAGE_RUN_ID:
                return &r->stage_run_id;
        case OPERATION_ID:
                return &r->stage_run_operation_id;
        case TARGET_RUN_ID:
                return &r->target_run_id;
        case COMMAND_ID:
                return &r->command_id;
        case STAGE_ID:
                return &r->stage_id;
        case TARGET_LIST_ID:
                return &r->target_list_id;
        case OPERATION_LIST_ID:
                return &r->operation_list_id;
        case DEF_OPERATION_ID:
                return &r->def_operation_id;
        case DEF_TARGET_ID:
                return &r->def_target_id;
        case DEVICE_GROUP_ID:
                return &r->device_group_id;
        case LIT:
                break;
        }
        return NULL;
}

/* A pipeline run's route whose template names no pipeline id: the run of
 * any pipeline (GET/PUT/DELETE /v0/runs/{id}/). */
static bool names_no_pipeline(const struct path_def *def, sr_route_id_t id)
{
        if (id != SR_ROUTE_PIPELINE_RUN_GET &&
            id != SR_ROUTE_PIPELINE_RUN_PUT &&
            id != SR_ROUTE_PIPELINE_RUN_DELETE)
                return false;
        for (unsigned i = 0; i < def->n_segs; i++) {
                if (def->slot[i] == PIPELINE_ID)
                        return false;
        }
        return true;
}

static bool match_def(const struct path_def *def, const struct seg *segs,
                      unsigned n, sr_route_t *r)
{
        if (n != def->n_segs)
                return false;
        for (unsigned i = 0; i < n; i++) {
                if (def->slot[i] == LIT) {
                        if (strlen(def->lit[i]) != segs[i].len ||
                            memcmp(def->lit[i], segs[i].p, segs[i].len))
                                return false;
                } else if (!sr_http__parse_uuid(segs[i].p, segs[i].len,
                                                slot_field(r, def->slot[i]))) {
                        return false;
                }
        }
        return true;
}

/* Split "/a/b/c/" (the part after the prefix) into segments; one trailing
 * slash is allowed, an empty segment anywhere else is not. */
static bool split_segs(const char *p, size_t len, struct seg *segs,
                       unsigned *n)
{
        size_t i = 0, start;

        *n = 0;
        if (len == 0 || p[0] != '/')
                return false;
        if (p[len - 1] == '/')
                len--;
        i = 1;
        while (i <= len) {
                start = i;
                while (i < len && p[i] != '/')
                        i++;
                if (i == start || *n == MAX_SEGS)
                        return false;
                segs[*n].p = p + start;
                segs[*n].len = i - start;
                (*n)++;
                i++;
        }
        return *n > 0;
}

static sr_err_t method_not_allowed(const struct method_route *m, size_t n,
                                   sr_http_problem_t *prob)
{
        size_t len = 0;

        if (!prob)
                return SR_ERR_INVALID;
        prob->status = 405;
        prob->allow[0] = '\0';
        for (size_t i = 0; i < n && m[i].method; i++) {
                int w = snprintf(prob->allow + len, sizeof(prob->allow) - len,
                                 "%s%s", i ? ", " : "", m[i].method);

                if (w > 0 && len + (size_t)w < sizeof(prob->allow))
                        len += (size_t)w;
        }
        snprintf(prob->message, sizeof(prob->message),
                 "method not allowed on this path; allowed: %s",
                 prob->allow);
        return SR_ERR_INVALID;
}

sr_err_t sr_http_route(const char *method, const char *path, sr_route_t *out,
                       sr_http_problem_t *prob)
{
        static const struct method_route get_only[] = { { "GET", 0 } };
        struct seg segs[MAX_SEGS];
        sr_route_t r;
        size_t plen, pre;
        unsigned n;

        method = method ? method : "";
        path = path ? path : "";
        plen = strcspn(path, "?#");
        memset(&r, 0, sizeof(r));

        /* The console: a name of the table or a 404, never a path built
         * from the request. */
        if (plen >= 3 && !memcmp(path, "/ui", 3) &&
            (plen == 3 || path[3] == '/')) {
                r.ui_file = sr_ui_find(path + (plen > 3 ? 4 : 3),
                                       plen > 3 ? plen - 4 : 0);
                if (!r.ui_file)
                        return sr_http__refuse(prob, 404, "no such file in "
                                               "the console (/ui/)");
                if (strcmp(method, "GET"))
                        return method_not_allowed(get_only, 1, prob);
                r.id = SR_ROUTE_UI;
                *out = r;
                return SR_OK;
        }
        for (size_t i = 0; i < sizeof(ops_paths) / sizeof(ops_paths[0]);
             i++) {
                if (strlen(ops_paths[i].path) != plen ||
                    memcmp(ops_paths[i].path, path, plen))
                        continue;
                if (strcmp(method, "GET"))
                        return method_not_allowed(get_only, 1, prob);
                r.id = ops_paths[i].id;
                *out = r;
                return SR_OK;
        }

        if (is_registry_path(path, plen)) {
                r.id = SR_ROUTE_REGISTRY;
                *out = r;
                return SR_OK;
        }
        for (size_t i = 0; i < sizeof(api_prefixes) / sizeof(api_prefixes[0]);
             i++) {
                pre = strlen(api_prefixes[i]);
                if (plen <= pre || memcmp(path, api_prefixes[i], pre))
                        continue;
                if (!split_segs(path + pre, plen - pre, segs, &n))
                        break;
                for (size_t d = 0; d < sizeof(api_paths) / sizeof(api_paths[0]);
                     d++) {
                        const struct path_def *def = &api_paths[d];

                        memset(&r, 0, sizeof(r));
                        if (!match_def(def, segs, n, &r))
                                continue;
                        for (size_t k = 0;
                             k < MAX_METHODS && def->m[k].method; k++) {
                                if (!strcmp(method, def->m[k].method)) {
                                        r.id = def->m[k].id;
                                        r.any_pipeline =
                                                names_no_pipeline(def, r.id);
                                        *out = r;
                                        return SR_OK;
                                }
                        }
                        return method_not_allowed(def->m, MAX_METHODS,
                                                  prob);
                }
                break;
        }
        return sr_http__refuse(prob, 404, "unknown path or id");
}
