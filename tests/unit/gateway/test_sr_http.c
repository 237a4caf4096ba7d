/* tests/unit/gateway/test_sr_http.c - the gateway's pure request/response layer:
 * routes under both prefixes, 404/405, every query rule, body validation,
 * the envelope text and pagination links. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_http.h"
#include "sr_ui.h"

#define P_ID "6f1c1d1e-0b7a-4c1e-9a7e-3c2b1a0f9e8d"
#define R_ID "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#define S_ID "11111111-2222-4333-8444-555555555555"
#define O_ID "33333333-4444-4555-8666-777777777777"
#define T_ID "44444444-5555-4666-8777-888888888888"

#define BASE "https://api.example.com"

TestSuite(sr_http, .timeout = 5.0);

static bool contains(const char *hay, const char *needle)
{
        return strstr(hay, needle) != NULL;
}

static char *uuid_text(const sr_uuid_t *u)
{
        static char text[SR_UUID_STR_LEN + 1]; /* one test process each */

        sr_uuid_fmt(u, text);
        return text;
}

/* ------------------------------------------------------------ routing */

struct route_case {
        char method[8];
        char tail[160]; /* path after the prefix, without trailing slash */
        int id;
};

ParameterizedTestParameters(sr_http, every_route_matches_under_both_prefixes)
{
        static struct route_case cases[] = {
                { "GET", "/runs", SR_ROUTE_RUNS_LIST },
                { "POST", "/runs", SR_ROUTE_RUNS_CREATE },
                { "GET", "/pipelines/" P_ID "/runs",
                  SR_ROUTE_PIPELINE_RUNS_LIST },
                { "POST", "/pipelines/" P_ID "/runs",
                  SR_ROUTE_PIPELINE_RUNS_CREATE },
                { "GET", "/pipelines/" P_ID "/runs/" R_ID,
                  SR_ROUTE_PIPELINE_RUN_GET },
                { "PUT", "/pipelines/" P_ID "/runs/" R_ID,
                  SR_ROUTE_PIPELINE_RUN_PUT },
                { "DELETE", "/pipelines/" P_ID "/runs/" R_ID,
                  SR_ROUTE_PIPELINE_RUN_DELETE },
                { "GET", "/runs/" R_ID, SR_ROUTE_PIPELINE_RUN_GET },
                { "PUT", "/runs/" R_ID, SR_ROUTE_PIPELINE_RUN_PUT },
                { "DELETE", "/runs/" R_ID, SR_ROUTE_PIPELINE_RUN_DELETE },
                { "GET", "/runs/" R_ID "/stageruns", SR_ROUTE_STAGE_RUNS_LIST },
                { "GET", "/runs/" R_ID "/stageruns/" S_ID,
                  SR_ROUTE_STAGE_RUN_GET },
                { "PUT", "/runs/" R_ID "/stageruns/" S_ID,
                  SR_ROUTE_STAGE_RUN_PUT },
                { "GET", "/stageruns/" S_ID "/operations",
                  SR_ROUTE_OPERATIONS_LIST },
                { "GET", "/stageruns/" S_ID "/operations/" O_ID,
                  SR_ROUTE_OPERATION_GET },
                { "GET", "/stageruns/" S_ID "/targetruns",
                  SR_ROUTE_TARGET_RUNS_LIST },
                { "POST", "/stageruns/" S_ID "/targetruns",
                  SR_ROUTE_TARGET_RUNS_ADD },
                { "GET", "/stageruns/" S_ID "/targetruns/" T_ID,
                  SR_ROUTE_TARGET_RUN_GET },
                { "PUT", "/stageruns/" S_ID "/targetruns/" T_ID,
                  SR_ROUTE_TARGET_RUN_PUT },
                { "GET", "/stageruns/" S_ID "/targetruns/" T_ID "/command",
                  SR_ROUTE_TARGET_RUN_COMMAND_GET },
                { "POST", "/stageruns/" S_ID "/targetruns/" T_ID "/command",
                  SR_ROUTE_TARGET_RUN_COMMAND_SEND },
                { "PUT", "/stageruns/" S_ID "/targetruns/" T_ID "/command/"
                  R_ID, SR_ROUTE_TARGET_RUN_COMMAND_CANCEL },
                { "POST", "/runs/" R_ID "/stageruns/" S_ID "/targets",
                  SR_ROUTE_STAGE_TARGETS_APPEND },
                { "GET", "/runs/" R_ID "/stageruns/" S_ID "/targets",
                  SR_ROUTE_STAGE_TARGETS_LIST },
                { "POST", "/runs/" R_ID "/stageruns/" S_ID "/targets/seal",
                  SR_ROUTE_STAGE_TARGETS_SEAL },
                /* stored definitions (docs/definitions.md, phase A) */
                { "GET", "/pipelines", SR_ROUTE_DEF_PIPELINES_LIST },
                { "POST", "/pipelines", SR_ROUTE_DEF_PIPELINES_CREATE },
                { "GET", "/pipelines/" P_ID, SR_ROUTE_DEF_PIPELINE_GET },
                { "PUT", "/pipelines/" P_ID, SR_ROUTE_DEF_PIPELINE_PUT },
                { "DELETE", "/pipelines/" P_ID,
                  SR_ROUTE_DEF_PIPELINE_DELETE },
                { "GET", "/pipelines/" P_ID "/stages",
                  SR_ROUTE_DEF_STAGES_LIST },
                { "POST", "/pipelines/" P_ID "/stages",
                  SR_ROUTE_DEF_STAGES_CREATE },
                { "GET", "/pipelines/" P_ID "/stages/" S_ID,
                  SR_ROUTE_DEF_STAGE_GET },
                { "PUT", "/pipelines/" P_ID "/stages/" S_ID,
                  SR_ROUTE_DEF_STAGE_PUT },
                { "DELETE", "/pipelines/" P_ID "/stages/" S_ID,
                  SR_ROUTE_DEF_STAGE_DELETE },
                { "GET", "/pipelines/" P_ID "/targetlists",
                  SR_ROUTE_DEF_TARGETLISTS_LIST },
                { "POST", "/pipelines/" P_ID "/targetlists",
                  SR_ROUTE_DEF_TARGETLISTS_CREATE },
                { "GET", "/pipelines/" P_ID "/targetlists/" T_ID,
                  SR_ROUTE_DEF_TARGETLIST_GET },
                { "PUT", "/pipelines/" P_ID "/targetlists/" T_ID,
                  SR_ROUTE_DEF_TARGETLIST_PUT },
                { "DELETE", "/pipelines/" P_ID "/targetlists/" T_ID,
                  SR_ROUTE_DEF_TARGETLIST_DELETE },
                { "GET", "/stages/" S_ID "/targetlists",
                  SR_ROUTE_DEF_STAGE_TARGETLISTS_LIST },
                { "POST", "/stages/" S_ID "/targetlists",
                  SR_ROUTE_DEF_STAGE_TARGETLISTS_ATTACH },
                { "DELETE", "/stages/" S_ID "/targetlists/" T_ID,
                  SR_ROUTE_DEF_STAGE_TARGETLIST_DETACH },
                { "GET", "/stages/" S_ID "/operationlists",
                  SR_ROUTE_DEF_OPLISTS_LIST },
                { "POST", "/stages/" S_ID "/operationlists",
                  SR_ROUTE_DEF_OPLISTS_CREATE },
                { "PUT", "/stages/" S_ID "/operationlists/" O_ID,
                  SR_ROUTE_DEF_OPLIST_PUT },
                { "DELETE", "/stages/" S_ID "/operationlists/" O_ID,
                  SR_ROUTE_DEF_OPLIST_DELETE },
                { "GET", "/operationlists/" O_ID "/operations",
                  SR_ROUTE_DEF_OPERATIONS_LIST },
                { "POST", "/operationlists/" O_ID "/operations",
                  SR_ROUTE_DEF_OPERATIONS_CREATE },
                { "GET", "/operationlists/" O_ID "/operations/" R_ID,
                  SR_ROUTE_DEF_OPERATION_GET },
                { "PUT", "/operationlists/" O_ID "/operations/" R_ID,
                  SR_ROUTE_DEF_OPERATION_PUT },
                { "DELETE", "/operationlists/" O_ID "/operations/" R_ID,
                  SR_ROUTE_DEF_OPERATION_DELETE },
                { "GET", "/pipelines/" P_ID "/targetlists/" T_ID "/targets",
                  SR_ROUTE_DEF_TARGETS_LIST },
                { "POST", "/pipelines/" P_ID "/targetlists/" T_ID "/targets",
                  SR_ROUTE_DEF_TARGETS_CREATE },
                { "GET", "/pipelines/" P_ID "/targetlists/" T_ID "/targets/"
                  R_ID, SR_ROUTE_DEF_TARGET_GET },
                { "PUT", "/pipelines/" P_ID "/targetlists/" T_ID "/targets/"
                  R_ID, SR_ROUTE_DEF_TARGET_PUT },
                { "DELETE", "/pipelines/" P_ID "/targetlists/" T_ID
                  "/targets/" R_ID, SR_ROUTE_DEF_TARGET_DELETE },
                { "POST", "/pipelines/" P_ID "/targetlists/" T_ID
                  "/targets-bulk", SR_ROUTE_DEF_TARGETS_BULK },
                { "GET", "/pipelines/" P_ID "/targetlists/" T_ID
                  "/devicegroups", SR_ROUTE_DEF_GROUPS_LIST },
                { "POST", "/pipelines/" P_ID "/targetlists/" T_ID
                  "/devicegroups", SR_ROUTE_DEF_GROUPS_LINK },
                { "DELETE", "/pipelines/" P_ID "/targetlists/" T_ID
                  "/devicegroups/" R_ID, SR_ROUTE_DEF_GROUP_UNLINK },
                { "GET", "/pipelines/" P_ID "/targetlists/" T_ID
                  "/devicegroups/" R_ID "/devices",
                  SR_ROUTE_DEF_GROUP_DEVICES },
        };
        return cr_make_param_array(struct route_case, cases,
                                   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct route_case *c, sr_http,
                  every_route_matches_under_both_prefixes)
{
        static const char *const prefixes[] = { "/v0", "/api/pipelines/v0" };
        static const char *const endings[] = { "", "/" };
        char path[256];

        for (int p = 0; p < 2; p++) {
                for (int e = 0; e < 2; e++) {
                        sr_http_problem_t prob = { 0 };
                        sr_route_t r;

                        snprintf(path, sizeof(path), "%s%s%s", prefixes[p],
                                 c->tail, endings[e]);
                        cr_assert(eq(int, sr_http_route(c->method, path, &r,
                                                        &prob), SR_OK),
                                  "%s %s: %d %s", c->method, path,
                                  prob.status, prob.message);
                        cr_assert(eq(int, r.id, c->id), "%s %s", c->method,
                                  path);
                        cr_assert(sr_route_needs_auth(r.id));
                }
        }
}

Test(sr_http, a_linked_groups_devices_take_get_only_and_a_link_no_put)
{
        sr_http_problem_t prob = { 0 };
        sr_route_t r;

        cr_assert(eq(int, sr_http_route("POST", "/v0/pipelines/" P_ID
                                        "/targetlists/" T_ID "/devicegroups/"
                                        R_ID "/devices/", &r, &prob),
                     SR_ERR_INVALID));
        cr_assert(eq(int, prob.status, 405));
        cr_assert(eq(str, prob.allow, "GET"));
        cr_assert(eq(int, sr_http_route("PUT", "/v0/pipelines/" P_ID
                                        "/targetlists/" T_ID "/devicegroups/"
                                        R_ID "/", &r, &prob),
                     SR_ERR_INVALID));
        cr_assert(eq(int, prob.status, 405));
        cr_assert(eq(str, prob.allow, "DELETE"));
        /* the path's group id */
        cr_assert(eq(int, sr_http_route("GET", "/v0/pipelines/" P_ID
                                        "/targetlists/" T_ID "/devicegroups/"
                                        R_ID "/devices", &r, NULL),
                     SR_OK));
        cr_assert(eq(int, r.id, SR_ROUTE_DEF_GROUP_DEVICES));
        cr_assert(not(sr_uuid_is_nil(&r.device_group_id)));
        cr_assert(not(sr_uuid_is_nil(&r.target_list_id)));
}

Test(sr_http, a_run_by_its_id_alone_is_the_pipeline_run_route_of_any_pipeline)
{
        sr_http_problem_t prob = { 0 };
        sr_route_t r;

        cr_assert(eq(int, sr_http_route("GET", "/v0/runs/" R_ID "/", &r,
                                        NULL), SR_OK));
        cr_assert(r.any_pipeline);
        cr_assert(sr_uuid_is_nil(&r.pipeline_id));
        cr_assert(eq(int, sr_http_route("GET", "/v0/pipelines/" P_ID
                                        "/runs/" R_ID "/", &r, NULL),
                     SR_OK));
        cr_assert(not(r.any_pipeline));
        cr_assert(eq(int, sr_http_route("PATCH", "/v0/runs/" R_ID "/", &r,
                                        &prob), SR_ERR_INVALID));
        cr_assert(eq(int, prob.status, 405));
        cr_assert(eq(str, prob.allow, "GET, PUT, DELETE"));
}

Test(sr_http, a_run_is_deleted_by_either_path_the_id_alone_of_any_pipeline)
{
        sr_route_t r;

        cr_assert(eq(int, sr_http_route("DELETE", "/v0/runs/" R_ID "/", &r,
                                        NULL), SR_OK));
        cr_assert(eq(int, r.id, SR_ROUTE_PIPELINE_RUN_DELETE));
        cr_assert(r.any_pipeline);
        cr_assert(sr_uuid_is_nil(&r.pipeline_id));
        cr_assert(eq(str, uuid_text(&r.pipeline_run_id), R_ID));
        cr_assert(eq(int, sr_http_route("DELETE", "/api/pipelines/v0/"
                                        "pipelines/" P_ID "/runs/" R_ID, &r,
                                        NULL), SR_OK));
        cr_assert(eq(int, r.id, SR_ROUTE_PIPELINE_RUN_DELETE));
        cr_assert(not(r.any_pipeline));
        cr_assert(eq(str, uuid_text(&r.pipeline_id), P_ID));
        cr_assert(eq(str, uuid_text(&r.pipeline_run_id), R_ID));
}

Test(sr_http, an_open_stages_paths_carry_both_ids_targets_take_get_and_post)
{
        sr_http_problem_t prob = { 0 };
        sr_route_t r;

        cr_assert(eq(int, sr_http_route("POST", "/v0/runs/" R_ID
                                        "/stageruns/" S_ID "/targets/seal/",
                                        &r, NULL), SR_OK));
        cr_assert(eq(str, uuid_text(&r.pipeline_run_id), R_ID));
        cr_assert(eq(str, uuid_text(&r.stage_run_id), S_ID));
        cr_assert(eq(int, sr_http_route("GET", "/v0/runs/" R_ID
                                        "/stageruns/" S_ID "/targets/", &r,
                                        &prob), SR_OK));
        cr_assert(eq(int, r.id, SR_ROUTE_STAGE_TARGETS_LIST));
        cr_assert(eq(str, uuid_text(&r.pipeline_run_id), R_ID));
        cr_assert(eq(str, uuid_text(&r.stage_run_id), S_ID));
        cr_assert(eq(int, sr_http_route("PUT", "/v0/runs/" R_ID
                                        "/stageruns/" S_ID "/targets/", &r,
                                        &prob), SR_ERR_INVALID));
        cr_assert(eq(int, prob.status, 405));
        cr_assert(eq(str, prob.allow, "GET, POST"));
        cr_assert(eq(int, sr_http_route("GET", "/v0/runs/" R_ID
                                        "/stageruns/" S_ID "/targets/seal/",
                                        &r, &prob), SR_ERR_INVALID));
        cr_assert(eq(int, prob.status, 405));
        cr_assert(eq(str, prob.allow, "POST"));
        cr_assert(eq(int, sr_http_route("POST", "/v0/runs/" R_ID
                                        "/stageruns/" S_ID "/targets/seal/x",
                                        &r, &prob), SR_ERR_NOT_FOUND));
        cr_assert(eq(int, sr_http_route("POST", "/v0/runs/" R_ID
                                        "/stageruns/" S_ID "/target/", &r,
                                        &prob), SR_ERR_NOT_FOUND));
}

Test(sr_http, stage_run_path_without_trailing_slash_routes_like_with_it)
{
        sr_route_t a, b;

        cr_assert(eq(int, sr_http_route("PUT", "/v0/runs/" R_ID
                                        "/stageruns/" S_ID, &a, NULL),
                     SR_OK));
        cr_assert(eq(int, sr_http_route("PUT", "/v0/runs/" R_ID
                                        "/stageruns/" S_ID "/", &b, NULL),
                     SR_OK));
        cr_assert(eq(int, a.id, SR_ROUTE_STAGE_RUN_PUT));
        cr_assert(eq(int, memcmp(&a, &b, sizeof(a)), 0));
}

Test(sr_http, path_ids_are_parsed_into_their_fields)
{
        sr_route_t r;

        cr_assert(eq(int, sr_http_route("GET", "/v0/pipelines/" P_ID "/runs/"
                                        R_ID "/", &r, NULL), SR_OK));
        cr_assert(eq(str, uuid_text(&r.pipeline_id), P_ID));
        cr_assert(eq(str, uuid_text(&r.pipeline_run_id), R_ID));
        cr_assert(sr_uuid_is_nil(&r.stage_run_id));

        cr_assert(eq(int, sr_http_route("GET", "/v0/stageruns/" S_ID
                                        "/operations/" O_ID "/", &r, NULL),
                     SR_OK));
        cr_assert(eq(str, uuid_text(&r.stage_run_id), S_ID));
        cr_assert(eq(str, uuid_text(&r.stage_run_operation_id), O_ID));

        cr_assert(eq(int, sr_http_route("PUT", "/v0/stageruns/" S_ID
                                        "/targetruns/" T_ID "/", &r, NULL),
                     SR_OK));
        cr_assert(eq(str, uuid_text(&r.stage_run_id), S_ID));
        cr_assert(eq(str, uuid_text(&r.target_run_id), T_ID));
        cr_assert(sr_uuid_is_nil(&r.pipeline_run_id));

        cr_assert(eq(int, sr_http_route("GET", "/v0/runs/" R_ID
                                        "/stageruns/" S_ID, &r, NULL), SR_OK));
        cr_assert(eq(str, uuid_text(&r.pipeline_run_id), R_ID));
        cr_assert(eq(str, uuid_text(&r.stage_run_id), S_ID));
}

Test(sr_http, upper_case_uuid_in_path_is_accepted)
{
        sr_route_t r;

        cr_assert(eq(int, sr_http_route("GET", "/v0/stageruns/"
                                        "AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE"
                                        "/targetruns/", &r, NULL), SR_OK));
        cr_assert(eq(str, uuid_text(&r.stage_run_id),
                     "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"));
}

Test(sr_http, query_string_after_the_path_is_not_part_of_it)
{
        sr_route_t r;

        cr_assert(eq(int, sr_http_route("GET", "/v0/runs/?limit=5&x=/y",
                                        &r, NULL), SR_OK));
        cr_assert(eq(int, r.id, SR_ROUTE_RUNS_LIST));
        cr_assert(eq(int, sr_http_route("GET", "/livez?probe=1", &r, NULL),
                     SR_OK));
        cr_assert(eq(int, r.id, SR_ROUTE_LIVEZ));
}

struct ops_case {
        char path[24];
        int id;
};

ParameterizedTestParameters(sr_http, operations_paths_route_without_auth)
{
        static struct ops_case cases[] = {
                { "/livez", SR_ROUTE_LIVEZ },
                { "/readyz", SR_ROUTE_READYZ },
                { "/metrics", SR_ROUTE_METRICS },
                { "/openapi.json", SR_ROUTE_OPENAPI },
                { "/asyncapi.yaml", SR_ROUTE_ASYNCAPI },
        };
        return cr_make_param_array(struct ops_case, cases,
                                   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct ops_case *c, sr_http,
                  operations_paths_route_without_auth)
{
        sr_http_problem_t prob = { 0 };
        sr_route_t r;

        cr_assert(eq(int, sr_http_route("GET", c->path, &r, NULL), SR_OK));
        cr_assert(eq(int, r.id, c->id));
        cr_assert(not(sr_route_needs_auth(r.id)));
        cr_assert(not(sr_route_is_list(r.id)));
        cr_assert(eq(int, sr_http_route("POST", c->path, &r, &prob),
                     SR_ERR_INVALID));
        cr_assert(eq(int, prob.status, 405));
        cr_assert(eq(str, prob.allow, "GET"));
}

/* ------------------------------------------------------------ console */

struct ui_case {
        char path[40];
        char file[24];
};

ParameterizedTestParameters(sr_http, console_paths_route_to_their_file)
{
        static struct ui_case cases[] = {
                { "/ui", "index.html" },
                { "/ui/", "index.html" },
                { "/ui/?x=1", "index.html" },
                { "/ui/index.html", "index.html" },
                { "/ui/console.js", "console.js" },
                { "/ui/console.css#top", "console.css" },
        };
        return cr_make_param_array(struct ui_case, cases,
                                   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct ui_case *c, sr_http, console_paths_route_to_their_file)
{
        sr_http_problem_t prob = { 0 };
        sr_route_t r;

        cr_assert(eq(int, sr_http_route("GET", c->path, &r, &prob), SR_OK),
                  "%s: %s", c->path, prob.message);
        cr_assert(eq(int, r.id, SR_ROUTE_UI));
        cr_assert(not(eq(ptr, (void *)r.ui_file, NULL)));
        cr_assert(eq(str, (char *)r.ui_file->name, c->file));
        cr_assert(not(sr_route_needs_auth(r.id)), "static files need no token");
        cr_assert(not(sr_route_is_list(r.id)));
        cr_assert(not(sr_route_has_body(r.id)));
        cr_assert(eq(str, (char *)sr_route_name(r.id), "ui"));
}

ParameterizedTestParameters(sr_http, console_answers_get_only)
{
        static struct ui_case cases[] = {
                { "/ui", "" }, { "/ui/", "" }, { "/ui/console.js", "" },
        };
        return cr_make_param_array(struct ui_case, cases,
                                   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct ui_case *c, sr_http, console_answers_get_only)
{
        static const char *const methods[] = { "POST", "PUT", "DELETE",
                                               "PATCH", "OPTIONS", "get" };

        for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
                sr_http_problem_t prob = { 0 };
                sr_route_t r;

                cr_assert(eq(int, sr_http_route(methods[i], c->path, &r,
                                                &prob), SR_ERR_INVALID));
                cr_assert(eq(int, prob.status, 405), "%s %s", methods[i],
                          c->path);
                cr_assert(eq(str, prob.allow, "GET"));
        }
}

/* Only a name of the table is served: nothing is resolved, decoded or
 * read from disk, so no spelling reaches another file. */
ParameterizedTestParameters(sr_http, console_unknown_or_traversing_names_are_404)
{
        static struct ui_case cases[] = {
                { "/ui/../openapi.json", "" },
                { "/ui/..", "" },
                { "/ui/./index.html", "" },
                { "/ui//index.html", "" },
                { "/ui/%2e%2e/openapi.json", "" },
                { "/ui/..%2fopenapi.json", "" },
                { "/ui/index.html/", "" },
                { "/ui/console.js/x", "" },
                { "/ui/INDEX.HTML", "" },
                { "/ui/index.html%00", "" },
                { "/ui/sr_ui.c", "" },
                { "/ui/ui/index.html", "" },
                { "/ui/etc/passwd", "" },
                { "/ui\\index.html", "" },
                { "/uix", "" },
                { "/UI/", "" },
        };
        return cr_make_param_array(struct ui_case, cases,
                                   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct ui_case *c, sr_http,
                  console_unknown_or_traversing_names_are_404)
{
        sr_http_problem_t prob = { 0 };
        sr_route_t r;

        cr_assert(eq(int, sr_http_route("GET", c->path, &r, &prob),
                     SR_ERR_NOT_FOUND), "%s", c->path);
        cr_assert(eq(int, prob.status, 404), "%s", c->path);
        /* an unknown file is 404 whatever the method */
        cr_assert(eq(int, sr_http_route("POST", c->path, &r, &prob),
                     SR_ERR_NOT_FOUND), "%s", c->path);
}

Test(sr_http, console_table_holds_plain_names_with_their_content_type)
{
        static const struct {
                const char *ext, *type;
        } types[] = {
                { ".html", "text/html; charset=utf-8" },
                { ".css", "text/css; charset=utf-8" },
                { ".js", "text/javascript; charset=utf-8" },
                { ".svg", "image/svg+xml" },
        };

        cr_assert(ge(sz, sr_ui_n_files, 3));
        cr_assert(eq(ptr, (void *)sr_ui_find("", 0),
                     (void *)sr_ui_find("index.html", 10)));
        cr_assert(eq(ptr, (void *)sr_ui_find("index.htm", 9), NULL));
        cr_assert(eq(ptr, (void *)sr_ui_find("index.html.", 11), NULL));
        for (size_t i = 0; i < sr_ui_n_files; i++) {
                const sr_ui_file_t *f = &sr_ui_files[i];
                const char *dot = strrchr(f->name, '.');
                bool typed = false;

                cr_assert(eq(ptr, strchr(f->name, '/'), NULL), "%s", f->name);
                cr_assert(eq(ptr, (void *)sr_ui_find(f->name, strlen(f->name)),
                             (void *)f));
                cr_assert(gt(sz, f->len, 0), "%s is empty", f->name);
                cr_assert(not(eq(ptr, (char *)dot, NULL)), "%s", f->name);
                for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
                        if (!strcmp(dot, types[k].ext)) {
                                cr_assert(eq(str, (char *)f->content_type,
                                             (char *)types[k].type));
                                typed = true;
                        }
                }
                cr_assert(typed, "%s: no expected type", f->name);
        }
}

struct unknown_path {
        char path[200];
};

ParameterizedTestParameters(sr_http, unknown_path_is_404)
{
        static struct unknown_path cases[] = {
                { "" },
                { "/" },
                { "runs/" },
                { "/v0" },
                { "/v0/" },
                { "/api/pipelines/v0/" },
                { "/v1/runs/" },
                { "/V0/runs/" },
                { "/v0/RUNS/" },
                { "/pipelines/v0/runs/" },
                { "/api/pipelines/v0runs/" },
                { "/v0runs" },
                { "/v0//runs/" },
                { "/v0/runs//" },
                { "/v0/runs/" R_ID "/nothing/" },
                { "/v0/pipelines/" P_ID "/nothing/" },
                { "/v0/pipelines/not-a-uuid/" },
                { "/v0/pipelines/" P_ID "/stages/x/" },
                { "/v0/stageruns/" S_ID "/" },
                { "/v0/stageruns/" S_ID "/targetruns/" T_ID "/command/x/" },
                { "/v0/runs/" R_ID "/stageruns/" S_ID "/extra" },
                { "/v0/runs/" R_ID "/stageruns/" S_ID "/a/b/c" },
                { "/livez/" },
                { "/metrics/x" },
                { "/v0/livez" },
                { "/healthz" },
        };
        return cr_make_param_array(struct unknown_path, cases,
                                   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct unknown_path *c, sr_http, unknown_path_is_404)
{
        sr_http_problem_t prob = { 0 };
        sr_route_t r;

        cr_assert(eq(int, sr_http_route("GET", c->path, &r, &prob),
                     SR_ERR_NOT_FOUND), "%s", c->path);
        cr_assert(eq(int, prob.status, 404));
        cr_assert(eq(str, prob.message, "unknown path or id"));
        cr_assert(eq(str, prob.allow, ""));
}

ParameterizedTestParameters(sr_http, malformed_id_in_path_is_404_not_400)
{
        static struct unknown_path cases[] = {
                { "/v0/pipelines/not-a-uuid/runs/" },
                { "/v0/pipelines/" P_ID "/runs/123/" },
                { "/v0/runs/6f1c1d1e0b7a4c1e9a7e3c2b1a0f9e8d/stageruns/" },
                { "/v0/runs/6f1c1d1e-0b7a-4c1e-9a7e-3c2b1a0f9e8/stageruns/" },
                { "/v0/runs/6f1c1d1e-0b7a-4c1e-9a7e-3c2b1a0f9e8dd/stageruns/" },
                { "/v0/runs/6f1c1d1e-0b7a-4c1e-9a7e-3c2b1a0f9e8g/stageruns/" },
                { "/v0/runs/{6f1c1d1e-0b7a-4c1e-9a7e-3c2b1a0f9e}/stageruns/" },
                { "/v0/stageruns/" S_ID "/targetruns/%20/" },
                { "/v0/stageruns/\xff\xfe/operations/" },
        };
        return cr_make_param_array(struct unknown_path, cases,
                                   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct unknown_path *c, sr_http,
                  malformed_id_in_path_is_404_not_400)
{
        sr_http_problem_t prob = { 0 };
        sr_route_t r;

        cr_assert(eq(int, sr_http_route("PUT", c->path, &r, &prob),
                     SR_ERR_NOT_FOUND), "%s", c->path);
        cr_assert(eq(int, prob.status, 404));
        cr_assert(eq(str, prob.message, "unknown path or id"));
}

struct allow_case {
        char method[12];
        char path[160];
        char allow[32];
};

ParameterizedTestParameters(sr_http, wrong_method_is_405_with_exact_allow)
{
        static struct allow_case cases[] = {
                { "PUT", "/v0/runs/", "GET, POST" },
                { "DELETE", "/api/pipelines/v0/runs", "GET, POST" },
                { "get", "/v0/runs/", "GET, POST" },
                { "HEAD", "/v0/runs/", "GET, POST" },
                { "PUT", "/v0/pipelines/" P_ID "/runs/", "GET, POST" },
                { "PATCH", "/v0/pipelines/" P_ID "/runs/" R_ID "/",
                  "GET, PUT, DELETE" },
                { "POST", "/api/pipelines/v0/runs/" R_ID,
                  "GET, PUT, DELETE" },
                { "DELETE", "/v0/runs/" R_ID "/stageruns/" S_ID "/",
                  "GET, PUT" },
                { "POST", "/v0/runs/" R_ID "/stageruns/", "GET" },
                { "PATCH", "/v0/runs/" R_ID "/stageruns/" S_ID, "GET, PUT" },
                { "PUT", "/v0/stageruns/" S_ID "/operations/", "GET" },
                { "DELETE", "/v0/stageruns/" S_ID "/operations/" O_ID "/",
                  "GET" },
                { "PUT", "/v0/stageruns/" S_ID "/targetruns/", "GET, POST" },
                { "OPTIONS", "/v0/stageruns/" S_ID "/targetruns/" T_ID "/",
                  "GET, PUT" },
                { "PUT", "/v0/stageruns/" S_ID "/targetruns/" T_ID
                  "/command/", "GET, POST" },
                { "GET", "/v0/stageruns/" S_ID "/targetruns/" T_ID
                  "/command/" R_ID "/", "PUT" },
                { "", "/v0/runs/", "GET, POST" },
                { "PUT", "/metrics", "GET" },
                { "DELETE", "/v0/pipelines/", "GET, POST" },
                { "POST", "/api/pipelines/v0/pipelines/" P_ID "/",
                  "GET, PUT, DELETE" },
                { "PUT", "/v0/pipelines/" P_ID "/stages/", "GET, POST" },
                { "POST", "/v0/pipelines/" P_ID "/stages/" S_ID "/",
                  "GET, PUT, DELETE" },
                { "PATCH", "/v0/pipelines/" P_ID "/targetlists/" T_ID,
                  "GET, PUT, DELETE" },
                { "GET", "/v0/stages/" S_ID "/targetlists/" T_ID "/",
                  "DELETE" },
                { "PUT", "/v0/stages/" S_ID "/targetlists/", "GET, POST" },
                { "GET", "/v0/stages/" S_ID "/operationlists/" O_ID "/",
                  "PUT, DELETE" },
                { "DELETE", "/v0/operationlists/" O_ID "/operations/",
                  "GET, POST" },
                { "PUT", "/v0/pipelines/" P_ID "/targetlists/" T_ID
                  "/targets/", "GET, POST" },
                { "POST", "/v0/pipelines/" P_ID "/targetlists/" T_ID
                  "/targets/" R_ID "/", "GET, PUT, DELETE" },
                { "GET", "/v0/pipelines/" P_ID "/targetlists/" T_ID
                  "/targets-bulk/", "POST" },
        };
        return cr_make_param_array(struct allow_case, cases,
                                   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct allow_case *c, sr_http,
                  wrong_method_is_405_with_exact_allow)
{
        sr_http_problem_t prob = { 0 };
        sr_route_t r;

        cr_assert(eq(int, sr_http_route(c->method, c->path, &r, &prob),
                     SR_ERR_INVALID), "%s %s", c->method, c->path);
        cr_assert(eq(int, prob.status, 405));
        cr_assert(eq(str, prob.allow, c->allow));
        cr_assert(contains(prob.message, c->allow), "%s", prob.message);
}

Test(sr_http, null_method_or_path_is_refused_without_crash)
{
        sr_http_problem_t prob = { 0 };
        sr_route_t r;

        cr_assert(eq(int, sr_http_route(NULL, "/v0/runs/", &r, &prob),
                     SR_ERR_INVALID));
        cr_assert(eq(int, prob.status, 405));
        cr_assert(eq(int, sr_http_route("GET", NULL, &r, &prob),
                     SR_ERR_NOT_FOUND));
        cr_assert(eq(int, sr_http_route(NULL, NULL, &r, NULL),
                     SR_ERR_NOT_FOUND));
}

Test(sr_http, route_properties_follow_the_contract)
{
        cr_assert(sr_route_is_list(SR_ROUTE_RUNS_LIST));
        cr_assert(sr_route_is_list(SR_ROUTE_TARGET_RUNS_LIST));
        cr_assert(sr_route_is_list(SR_ROUTE_STAGE_TARGETS_LIST));
        cr_assert(not(sr_route_has_body(SR_ROUTE_STAGE_TARGETS_LIST)));
        cr_assert(not(sr_route_is_list(SR_ROUTE_TARGET_RUN_GET)));
        cr_assert(sr_route_has_body(SR_ROUTE_RUNS_CREATE));
        cr_assert(sr_route_has_body(SR_ROUTE_TARGET_RUN_PUT));
        cr_assert(sr_route_has_body(SR_ROUTE_STAGE_TARGETS_APPEND));
        cr_assert(sr_route_has_body(SR_ROUTE_STAGE_TARGETS_SEAL));
        /* appended after every older route: a route's number is in the
         * Idempotency-Key fingerprints the fleet shares */
        cr_assert(eq(int, SR_ROUTE_STAGE_TARGETS_APPEND, SR_ROUTE_EVENTS + 1));
        cr_assert(eq(int, SR_ROUTE_STAGE_TARGETS_SEAL,
                     SR_ROUTE_STAGE_TARGETS_APPEND + 1));
        cr_assert(eq(int, SR_ROUTE_STAGE_TARGETS_LIST,
                     SR_ROUTE_STAGE_TARGETS_SEAL + 1));
        cr_assert(eq(int, SR_ROUTE_TARGET_RUN_COMMAND_GET,
                     SR_ROUTE_STAGE_TARGETS_LIST + 1));
        cr_assert(eq(int, SR_ROUTE_TARGET_RUN_COMMAND_SEND,
                     SR_ROUTE_TARGET_RUN_COMMAND_GET + 1));
        cr_assert(eq(int, SR_ROUTE_TARGET_RUN_COMMAND_CANCEL,
                     SR_ROUTE_TARGET_RUN_COMMAND_SEND + 1));
        cr_assert(eq(int, SR_ROUTE_DEF_PIPELINES_LIST,
                     SR_ROUTE_PIPELINE_RUN_DELETE + 1));
        cr_assert(eq(int, SR_ROUTE_DEF_TARGETLISTS_LIST,
                     SR_ROUTE_DEF_STAGE_DELETE + 1));
        /* appended: the ids before them keep their numbers */
        cr_assert(eq(int, SR_ROUTE_DEF_GROUP_DEVICES, SR_ROUTE__COUNT - 1));
        cr_assert(eq(int, SR_ROUTE_DEF_GROUPS_LIST, SR_ROUTE__COUNT - 4));
        cr_assert(eq(int, SR_ROUTE_TARGET_RUNS_ADD, SR_ROUTE__COUNT - 5));
        cr_assert(eq(int, SR_ROUTE_DEF_TARGETS_BULK, SR_ROUTE__COUNT - 6));
        cr_assert(sr_route_is_definition(SR_ROUTE_DEF_GROUPS_LIST));
        cr_assert(sr_route_is_definition(SR_ROUTE_DEF_GROUP_DEVICES));
        cr_assert(sr_route_is_list(SR_ROUTE_DEF_GROUPS_LIST));
        cr_assert(sr_route_is_list(SR_ROUTE_DEF_GROUP_DEVICES));
        cr_assert(sr_route_has_body(SR_ROUTE_DEF_GROUPS_LINK));
        cr_assert(not(sr_route_body_optional(SR_ROUTE_DEF_GROUPS_LINK)));
        cr_assert(sr_route_body_optional(SR_ROUTE_DEF_GROUP_UNLINK));
        cr_assert(sr_route_is_write(SR_ROUTE_DEF_GROUP_UNLINK));
        cr_assert(not(sr_route_is_write(SR_ROUTE_DEF_GROUP_DEVICES)));
        cr_assert(sr_route_has_body(SR_ROUTE_TARGET_RUNS_ADD));
        cr_assert(sr_route_is_write(SR_ROUTE_TARGET_RUNS_ADD));
        cr_assert(sr_route_needs_auth(SR_ROUTE_TARGET_RUNS_ADD));
        cr_assert(not(sr_route_body_optional(SR_ROUTE_TARGET_RUNS_ADD)));
        cr_assert(not(sr_route_is_definition(SR_ROUTE_TARGET_RUNS_ADD)));
        cr_assert(not(sr_route_is_list(SR_ROUTE_TARGET_RUNS_ADD)));
        cr_assert(sr_route_has_body(SR_ROUTE_DEF_TARGETS_BULK));
        cr_assert(not(sr_route_body_optional(SR_ROUTE_DEF_TARGETS_BULK)));
        cr_assert(sr_route_is_list(SR_ROUTE_DEF_TARGETS_LIST));
        cr_assert(sr_route_body_optional(SR_ROUTE_DEF_TARGET_DELETE));
        cr_assert(sr_route_body_optional(SR_ROUTE_DEF_STAGE_TARGETLIST_DETACH));
        cr_assert(not(sr_route_body_optional(
                SR_ROUTE_DEF_STAGE_TARGETLISTS_ATTACH)));
        cr_assert(sr_route_has_body(SR_ROUTE_DEF_OPERATION_PUT));
        cr_assert(sr_route_is_list(SR_ROUTE_DEF_OPERATIONS_LIST));
        cr_assert(sr_route_is_list(SR_ROUTE_DEF_STAGE_TARGETLISTS_LIST));
        /* stored definitions: lists, bodies, the deletes' optional
         * {"version"} */
        cr_assert(sr_route_is_definition(SR_ROUTE_DEF_PIPELINES_LIST));
        cr_assert(not(sr_route_is_definition(SR_ROUTE_PIPELINE_RUN_DELETE)));
        cr_assert(sr_route_is_list(SR_ROUTE_DEF_PIPELINES_LIST));
        cr_assert(sr_route_is_list(SR_ROUTE_DEF_STAGES_LIST));
        cr_assert(not(sr_route_is_write(SR_ROUTE_DEF_PIPELINE_GET)));
        cr_assert(sr_route_has_body(SR_ROUTE_DEF_PIPELINES_CREATE));
        cr_assert(not(sr_route_body_optional(SR_ROUTE_DEF_PIPELINES_CREATE)));
        cr_assert(sr_route_has_body(SR_ROUTE_DEF_STAGE_PUT));
        cr_assert(sr_route_is_write(SR_ROUTE_DEF_PIPELINE_DELETE));
        cr_assert(sr_route_has_body(SR_ROUTE_DEF_PIPELINE_DELETE));
        cr_assert(sr_route_body_optional(SR_ROUTE_DEF_PIPELINE_DELETE));
        cr_assert(sr_route_body_optional(SR_ROUTE_DEF_STAGE_DELETE));
        cr_assert(sr_route_needs_auth(SR_ROUTE_DEF_STAGE_DELETE));
        cr_assert(eq(str, (char *)sr_route_name(SR_ROUTE_PIPELINE_RUN_DELETE),
                     "pipeline_run_delete"));
        /* a write (Idempotency-Key checked) without a body */
        cr_assert(sr_route_is_write(SR_ROUTE_PIPELINE_RUN_DELETE));
        cr_assert(not(sr_route_has_body(SR_ROUTE_PIPELINE_RUN_DELETE)));
        cr_assert(sr_route_needs_auth(SR_ROUTE_PIPELINE_RUN_DELETE));
        cr_assert(sr_route_is_write(SR_ROUTE_PIPELINE_RUN_PUT));
        cr_assert(sr_route_is_write(SR_ROUTE_TARGET_RUN_COMMAND_SEND));
        cr_assert(not(sr_route_is_write(SR_ROUTE_PIPELINE_RUN_GET)));
        cr_assert(not(sr_route_is_write(SR_ROUTE_RUNS_LIST)));
        cr_assert(sr_route_has_body(SR_ROUTE_TARGET_RUN_COMMAND_SEND));
        cr_assert(sr_route_has_body(SR_ROUTE_TARGET_RUN_COMMAND_CANCEL));
        cr_assert(sr_route_needs_auth(SR_ROUTE_TARGET_RUN_COMMAND_CANCEL));
        cr_assert(sr_route_needs_auth(SR_ROUTE_TARGET_RUN_COMMAND_GET));
        cr_assert(not(sr_route_is_list(SR_ROUTE_TARGET_RUN_COMMAND_GET)));
        cr_assert(not(sr_route_has_body(SR_ROUTE_TARGET_RUN_COMMAND_GET)));
        cr_assert(not(sr_route_has_body(SR_ROUTE_RUNS_LIST)));
        cr_assert(not(sr_route_needs_auth(SR_ROUTE_NONE)));
        cr_assert(eq(str, (char *)sr_route_name(SR_ROUTE_STAGE_RUN_PUT),
                     "stage_run_put"));
        cr_assert(eq(str, (char *)sr_route_name(SR_ROUTE__COUNT), "unknown"));
}

Test(sr_http, start_of_a_stored_pipeline_takes_no_body_or_an_empty_one)
{
        static const struct {
                const char *body, *msg;
        } bad[] = {
                { "{\"pipeline_version\": 3}",
                  "unknown field \"pipeline_version\": a run of a stored "
                  "pipeline starts from its definition as it is; send no "
                  "body or {}" },
                { "{\"stages\": []}", "unknown field \"stages\"" },
                { "[]", "expected a JSON object" },
                { "null", "expected a JSON object" },
                { "\"{}\"", "expected a JSON object" },
                { "{", "" },
                { "{} {}", "" },
        };
        const char *ok[] = { "", "{}", " { } " };
        sr_http_problem_t prob = { 0 };
        sr_route_t r;

        for (size_t i = 0; i < 2; i++) {
                cr_assert(eq(int, sr_http_route("POST", i ?
                                                "/api/pipelines/v0/pipelines/"
                                                P_ID "/runs" :
                                                "/v0/pipelines/" P_ID
                                                "/runs/", &r, NULL),
                             SR_OK));
                cr_assert(eq(int, r.id, SR_ROUTE_PIPELINE_RUNS_CREATE));
                cr_assert(eq(str, uuid_text(&r.pipeline_id), P_ID));
        }
        cr_assert(sr_route_is_write(SR_ROUTE_PIPELINE_RUNS_CREATE));
        cr_assert(sr_route_has_body(SR_ROUTE_PIPELINE_RUNS_CREATE));
        cr_assert(sr_route_body_optional(SR_ROUTE_PIPELINE_RUNS_CREATE));
        cr_assert(not(sr_route_is_definition(SR_ROUTE_PIPELINE_RUNS_CREATE)));
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
                cr_assert(eq(int, sr_http_parse_start_run(ok[i], strlen(ok[i]),
                                                          0, &prob),
                             SR_OK), "%s: %s", ok[i], prob.message);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                memset(&prob, 0, sizeof(prob));
                cr_assert(eq(int, sr_http_parse_start_run(bad[i].body,
                                                          strlen(bad[i].body),
                                                          0, &prob),
                             SR_ERR_INVALID), "%s", bad[i].body);
                cr_assert(eq(int, prob.status, 400), "%s", bad[i].body);
                cr_assert(contains(prob.message, bad[i].msg), "%s: %s",
                          bad[i].body, prob.message);
        }
        /* over the limit: 413 */
        memset(&prob, 0, sizeof(prob));
        cr_assert(eq(int, sr_http_parse_start_run("{ }", 3, 2, &prob),
                     SR_ERR_INVALID));
        cr_assert(eq(int, prob.status, 413), "%s", prob.message);
}

/* ------------------------------------------------------------ queries */

static sr_http_query_t query_ok(sr_route_id_t route, const char *qs)
{
        sr_http_problem_t prob = { 0 };
        sr_http_query_t q;

        cr_assert(eq(int, sr_http_query_parse(route, qs, strlen(qs), &q,
                                              &prob), SR_OK),
                  "%s: %s", qs, prob.message);
        return q;
}

static sr_http_problem_t query_bad(sr_route_id_t route, const char *qs)
{
        sr_http_problem_t prob = { 0 };
        sr_http_query_t q;

        cr_assert(eq(int, sr_http_query_parse(route, qs, strlen(qs), &q,
                                              &prob), SR_ERR_INVALID), "%s",
                  qs);
        cr_assert(eq(int, prob.status, 400));
        return prob;
}

Test(sr_http, empty_query_gives_defaults)
{
        sr_http_query_t q = query_ok(SR_ROUTE_RUNS_LIST, "");

        cr_assert(eq(u32, q.limit, 20));
        cr_assert(eq(u64, q.offset, 0));
        cr_assert(eq(int, q.status, SR_ST_NONE));
        cr_assert(eq(str, q.pipeline_name, ""));
        cr_assert(not(q.has_operation_id));
        cr_assert(eq(u32, q.n_order, 0));
        cr_assert(eq(int, sr_http_query_parse(SR_ROUTE_RUNS_LIST, NULL, 0,
                                              &q, NULL), SR_OK));
}

Test(sr_http, limit_zero_is_accepted_as_count_only)
{
        sr_http_query_t q = query_ok(SR_ROUTE_RUNS_LIST, "limit=0");

        cr_assert(eq(u32, q.limit, 0));
}

Test(sr_http, limit_1000_is_the_maximum)
{
        sr_http_query_t q = query_ok(SR_ROUTE_RUNS_LIST, "limit=1000");

        cr_assert(eq(u32, q.limit, 1000));
}

Test(sr_http, limit_1001_is_refused_with_the_range)
{
        sr_http_problem_t prob = query_bad(SR_ROUTE_RUNS_LIST, "limit=1001");

        cr_assert(eq(str, prob.message,
                     "limit: expected an integer 0..1000, got \"1001\""));
}

Test(sr_http, huge_offset_is_accepted)
{
        sr_http_query_t q = query_ok(SR_ROUTE_STAGE_RUNS_LIST,
                                     "offset=9223372036854775807");

        cr_assert(eq(u64, q.offset, 9223372036854775807ULL));
}

struct bad_query {
        int route;
        char qs[160];
        char msg[160]; /* the whole message, or a part of it */
};

ParameterizedTestParameters(sr_http, malformed_query_value_is_400_saying_what)
{
        static struct bad_query cases[] = {
                { SR_ROUTE_RUNS_LIST, "limit=abc",
                  "limit: expected an integer 0..1000, got \"abc\"" },
                { SR_ROUTE_RUNS_LIST, "limit=-1",
                  "limit: expected an integer 0..1000, got \"-1\"" },
                { SR_ROUTE_RUNS_LIST, "limit=%2B5",
                  "limit: expected an integer 0..1000, got \"+5\"" },
                { SR_ROUTE_RUNS_LIST, "limit=+5",
                  "limit: expected an integer 0..1000, got \" 5\"" },
                { SR_ROUTE_RUNS_LIST, "limit=%205",
                  "limit: expected an integer 0..1000, got \" 5\"" },
                { SR_ROUTE_RUNS_LIST, "limit=5x",
                  "limit: expected an integer 0..1000, got \"5x\"" },
                { SR_ROUTE_RUNS_LIST, "limit=1e3",
                  "limit: expected an integer 0..1000, got \"1e3\"" },
                { SR_ROUTE_RUNS_LIST, "limit=99999999999999999999999",
                  "limit: expected an integer 0..1000" },
                { SR_ROUTE_RUNS_LIST, "offset=-1",
                  "offset: expected an integer 0..9223372036854775807, "
                  "got \"-1\"" },
                { SR_ROUTE_RUNS_LIST, "offset=9223372036854775808",
                  "offset: expected an integer 0..9223372036854775807" },
                { SR_ROUTE_RUNS_LIST, "offset=0x10", "got \"0x10\"" },
                { SR_ROUTE_RUNS_LIST, "status=bogus",
                  "status: expected one of pending, queued, processing, "
                  "running, waiting, complete, success, failure, cancelled, "
                  "timeout, invalid (any case), got \"bogus\"" },
                { SR_ROUTE_RUNS_LIST, "status=none", "got \"none\"" },
                { SR_ROUTE_RUNS_LIST, "status=dispatched",
                  "got \"dispatched\"" },
                { SR_ROUTE_STAGE_RUNS_LIST, "status=waiting",
                  "status: expected one of pending, queued, processing, "
                  "running, complete, success, failure, cancelled, "
                  "timeout, invalid (any case), got \"waiting\"" },
                { SR_ROUTE_TARGET_RUNS_LIST, "status=waiting",
                  "pending, queued, processing, running, dispatched," },
                { SR_ROUTE_TARGET_RUNS_LIST, "status=queued%00",
                  "got \"queued\\x00\"" },
                { SR_ROUTE_RUNS_LIST, "ordering=colour",
                  "ordering: unknown field \"colour\"; allowed: run_number, "
                  "status, pipeline__name, started_at, ended_at, each "
                  "optionally prefixed with \"-\"" },
                { SR_ROUTE_PIPELINE_RUNS_LIST, "ordering=-pipeline__name",
                  "ordering: unknown field \"-pipeline__name\"; allowed: "
                  "run_number, status, started_at, ended_at," },
                { SR_ROUTE_TARGET_RUNS_LIST, "ordering=run_number",
                  "allowed: status, each optionally" },
                { SR_ROUTE_RUNS_LIST, "ordering=Status",
                  "unknown field \"Status\"" },
                { SR_ROUTE_RUNS_LIST, "ordering=status,",
                  "unknown field \"\"" },
                { SR_ROUTE_RUNS_LIST, "ordering=--status",
                  "unknown field \"--status\"" },
                { SR_ROUTE_RUNS_LIST, "ordering=status,-status",
                  "ordering: \"status\" given more than once" },
                { SR_ROUTE_TARGET_RUNS_LIST, "stage_run_operation_id=7",
                  "stage_run_operation_id: expected a UUID, got \"7\"" },
                { SR_ROUTE_RUNS_LIST, "limit=5&limit=5",
                  "limit: given more than once" },
                { SR_ROUTE_RUNS_LIST, "status=queued&x=1&status=",
                  "status: given more than once" },
                { SR_ROUTE_RUNS_LIST, "ordering=status&ordering=status",
                  "ordering: given more than once" },
                { SR_ROUTE_RUNS_LIST, "pipeline_name=a%00b",
                  "pipeline_name: must not contain a NUL byte" },
                { SR_ROUTE_RUNS_LIST, "status=%ff%fe",
                  "got \"\\xff\\xfe\"" },
        };
        return cr_make_param_array(struct bad_query, cases,
                                   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_query *c, sr_http,
                  malformed_query_value_is_400_saying_what)
{
        sr_http_problem_t prob = query_bad((sr_route_id_t)c->route, c->qs);

        cr_assert(contains(prob.message, c->msg), "%s: \"%s\" lacks \"%s\"",
                  c->qs, prob.message, c->msg);
}

Test(sr_http, status_filter_is_accepted_in_any_case)
{
        sr_http_query_t q = query_ok(SR_ROUTE_RUNS_LIST, "status=QuEuEd");

        cr_assert(eq(int, q.status, SR_ST_QUEUED));
        q = query_ok(SR_ROUTE_TARGET_RUNS_LIST, "status=DISPATCHED");
        cr_assert(eq(int, q.status, SR_ST_DISPATCHED));
        q = query_ok(SR_ROUTE_PIPELINE_RUNS_LIST, "status=waiting");
        cr_assert(eq(int, q.status, SR_ST_WAITING));
}

Test(sr_http, ordering_takes_a_comma_list_with_descending_prefix)
{
        sr_http_query_t q = query_ok(SR_ROUTE_RUNS_LIST,
                                     "ordering=-run_number,pipeline__name");

        cr_assert(eq(u32, q.n_order, 2));
        cr_assert(eq(int, q.order[0].key, SR_HTTP_ORDER_RUN_NUMBER));
        cr_assert(q.order[0].desc);
        cr_assert(eq(int, q.order[1].key, SR_HTTP_ORDER_PIPELINE_NAME));
        cr_assert(not(q.order[1].desc));
        q = query_ok(SR_ROUTE_TARGET_RUNS_LIST, "ordering=-status");
        cr_assert(eq(u32, q.n_order, 1));
        cr_assert(q.order[0].desc);
        q = query_ok(SR_ROUTE_RUNS_LIST, "ordering=-run_number%2Cstatus,"
                     "started_at,-ended_at,pipeline__name");
        cr_assert(eq(u32, q.n_order, 5));
        cr_assert(eq(int, q.order[4].key, SR_HTTP_ORDER_PIPELINE_NAME));
}

Test(sr_http, filters_are_decoded)
{
        sr_http_query_t q = query_ok(SR_ROUTE_RUNS_LIST,
                                     "pipeline_name=canary+rollout%21"
                                     "&st%61tus=%51ueued");

        cr_assert(eq(str, q.pipeline_name, "canary rollout!"));
        cr_assert(eq(int, q.status, SR_ST_QUEUED));
        q = query_ok(SR_ROUTE_TARGET_RUNS_LIST,
                     "stage_run_operation_id=" O_ID);
        cr_assert(q.has_operation_id);
        cr_assert(eq(str, uuid_text(&q.stage_run_operation_id), O_ID));
}

Test(sr_http, malformed_percent_escape_stays_literal)
{
        sr_http_query_t q = query_ok(SR_ROUTE_RUNS_LIST,
                                     "pipeline_name=100%zz%2");

        cr_assert(eq(str, q.pipeline_name, "100%zz%2"));
}

Test(sr_http, unknown_query_keys_are_ignored)
{
        sr_http_query_t q = query_ok(SR_ROUTE_RUNS_LIST,
                                     "_=1700000000&foo=bar&_=again&LIMIT=x"
                                     "&limit=5&&=&%zz=1&stage_run_operation_"
                                     "id=nonsense");

        cr_assert(eq(u32, q.limit, 5));
        cr_assert(not(q.has_operation_id));
}

Test(sr_http, parameter_of_another_route_is_ignored)
{
        sr_http_query_t q = query_ok(SR_ROUTE_OPERATIONS_LIST,
                                     "status=bogus&ordering=x&limit=3");

        cr_assert(eq(u32, q.limit, 3));
        cr_assert(eq(int, q.status, SR_ST_NONE));
        q = query_ok(SR_ROUTE_PIPELINE_RUNS_LIST, "pipeline_name=x");
        cr_assert(eq(str, q.pipeline_name, ""));
        q = query_ok(SR_ROUTE_STAGE_RUNS_LIST, "ordering=nonsense");
        cr_assert(eq(u32, q.n_order, 0));
        /* an open stage's targets: by device id only, no filter */
        q = query_ok(SR_ROUTE_STAGE_TARGETS_LIST,
                     "status=bogus&ordering=x&offset=2&limit=3");
        cr_assert(eq(u32, q.limit, 3));
        cr_assert(eq(u64, q.offset, 2));
        cr_assert(eq(int, q.status, SR_ST_NONE));
        cr_assert(eq(u32, q.n_order, 0));
}

Test(sr_http, empty_value_is_the_same_as_absent)
{
        sr_http_query_t q = query_ok(SR_ROUTE_TARGET_RUNS_LIST,
                                     "limit=&offset&status=&ordering="
                                     "&stage_run_operation_id=");

        cr_assert(eq(u32, q.limit, 20));
        cr_assert(eq(u64, q.offset, 0));
        cr_assert(eq(int, q.status, SR_ST_NONE));
        cr_assert(eq(u32, q.n_order, 0));
        cr_assert(not(q.has_operation_id));
}

Test(sr_http, pipeline_name_longer_than_the_model_is_refused)
{
        char qs[700];
        sr_http_problem_t prob;

        strcpy(qs, "pipeline_name=");
        memset(qs + strlen(qs), 'n', 256);
        qs[14 + 256] = '\0';
        prob = query_bad(SR_ROUTE_RUNS_LIST, qs);
        cr_assert(contains(prob.message, "pipeline_name: too long (256 "
                           "bytes, at most 255)"), "%s", prob.message);
        memset(qs + 14, 'n', 600);
        qs[14 + 600] = '\0';
        prob = query_bad(SR_ROUTE_RUNS_LIST, qs);
        cr_assert(contains(prob.message, "pipeline_name: value too long"),
                  "%s", prob.message);
}

Test(sr_http, decoded_pairs_can_be_added_one_by_one)
{
        sr_http_problem_t prob = { 0 };
        sr_http_query_t q;

        sr_http_query_init(&q);
        cr_assert(eq(int, sr_http_query_add(&q, SR_ROUTE_RUNS_LIST, "limit",
                                            5, "7", 1, &prob), SR_OK));
        cr_assert(eq(int, sr_http_query_add(&q, SR_ROUTE_RUNS_LIST, "status",
                                            6, NULL, 0, &prob), SR_OK));
        cr_assert(eq(int, sr_http_query_add(&q, SR_ROUTE_RUNS_LIST, NULL, 0,
                                            "x", 1, &prob), SR_OK));
        cr_assert(eq(u32, q.limit, 7));
        cr_assert(eq(int, sr_http_query_add(&q, SR_ROUTE_RUNS_LIST, "limit",
                                            5, "8", 1, &prob),
                     SR_ERR_INVALID));
        cr_assert(eq(int, prob.status, 400));
}

/* ------------------------------------------------------------ bodies */

struct ct_case {
        char value[64];
};

ParameterizedTestParameters(sr_http, json_content_type_is_accepted)
{
        static struct ct_case cases[] = {
                { "application/json" },
                { "Application/JSON" },
                { "application/json; charset=utf-8" },
                { "application/json;charset=UTF-8" },
                { "application/json ; charset=\"utf-8\"" },
                { "application/json;" },
                { " application/json " },
        };
        return cr_make_param_array(struct ct_case, cases,
                                   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct ct_case *c, sr_http, json_content_type_is_accepted)
{
        cr_assert(eq(int, sr_http_check_content_type(c->value, NULL), SR_OK),
                  "%s", c->value);
}

ParameterizedTestParameters(sr_http, other_content_type_is_415)
{
        static struct ct_case cases[] = {
                { "" },
                { "text/plain" },
                { "application/x-www-form-urlencoded" },
                { "application/jsonx" },
                { "application/json-patch+json" },
                { "application/json; charset=latin1" },
                { "application/json; charset=\"utf-8" },
                { "application/json; charset" },
                { "application/json; boundary=x" },
                { "application/json, text/plain" },
                { "application" },
        };
        return cr_make_param_array(struct ct_case, cases,
                                   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct ct_case *c, sr_http, other_content_type_is_415)
{
        sr_http_problem_t prob = { 0 };

        cr_assert(eq(int, sr_http_check_content_type(c->value, &prob),
                     SR_ERR_INVALID), "%s", c->value);
        cr_assert(eq(int, prob.status, 415));
        cr_assert(contains(prob.message, "application/json"));
}

Test(sr_http, missing_content_type_is_415)
{
        sr_http_problem_t prob = { 0 };

        cr_assert(eq(int, sr_http_check_content_type(NULL, &prob),
                     SR_ERR_INVALID));
        cr_assert(eq(int, prob.status, 415));
        cr_assert(contains(prob.message, "missing"));
}

/* ------------------------------------------------------------ keys */

ParameterizedTestParameters(sr_http, visible_ascii_idempotency_key_is_ok)
{
        static struct ct_case cases[] = {
                { "k" },
                { "6f1c1d1e-0b7a-4c1e-9a7e-3c2b1a0f9e8d" },
                { "!~\"'{}[]<>" },
        };
        return cr_make_param_array(struct ct_case, cases,
                                   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct ct_case *c, sr_http,
                  visible_ascii_idempotency_key_is_ok)
{
        cr_assert(eq(int, sr_http_check_idempotency_key(c->value, NULL),
                     SR_OK), "%s", c->value);
}

ParameterizedTestParameters(sr_http, other_idempotency_key_is_400)
{
        static struct ct_case cases[] = {
                { "" },
                { "two words" },
                { "tab\there" },
                { "caf\xc3\xa9" },
                { "del\x7f" },
                { "\xff" },
        };
        return cr_make_param_array(struct ct_case, cases,
                                   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct ct_case *c, sr_http, other_idempotency_key_is_400)
{
        sr_http_problem_t prob = { 0 };

        cr_assert(eq(int, sr_http_check_idempotency_key(c->value, &prob),
                     SR_ERR_INVALID), "%s", c->value);
        cr_assert(eq(int, prob.status, 400));
        cr_assert(contains(prob.message, "Idempotency-Key: expected 1 to 255 "
                           "visible ASCII characters"), "%s", prob.message);
}

Test(sr_http, idempotency_key_of_255_characters_is_the_maximum)
{
        sr_http_problem_t prob = { 0 };
        char key[257];

        memset(key, 'k', 256);
        key[256] = '\0';
        cr_assert(eq(int, sr_http_check_idempotency_key(key, &prob),
                     SR_ERR_INVALID));
        cr_assert(eq(int, prob.status, 400));
        key[255] = '\0';
        cr_assert(eq(int, sr_http_check_idempotency_key(key, NULL), SR_OK));
}

Test(sr_http, absent_idempotency_key_is_ok)
{
        cr_assert(eq(int, sr_http_check_idempotency_key(NULL, NULL), SR_OK));
}

Test(sr_http, a_delete_takes_no_body_other_routes_are_not_checked)
{
        sr_http_problem_t prob = { 0 };

        cr_assert(eq(int, sr_http_check_no_body(SR_ROUTE_PIPELINE_RUN_DELETE,
                                                0, &prob),
                     SR_OK));
        cr_assert(eq(int, sr_http_check_no_body(SR_ROUTE_PIPELINE_RUN_DELETE,
                                                2, &prob),
                     SR_ERR_INVALID));
        cr_assert(eq(int, prob.status, 400));
        cr_assert(contains(prob.message, "DELETE takes none"), "%s",
                  prob.message);
        cr_assert(contains(prob.message, "2 bytes"), "%s", prob.message);
        cr_assert(eq(int, sr_http_check_no_body(SR_ROUTE_PIPELINE_RUN_DELETE,
                                                1, NULL),
                     SR_ERR_INVALID));
        /* a body route's body is its parser's; a read's is ignored */
        cr_assert(eq(int, sr_http_check_no_body(SR_ROUTE_PIPELINE_RUN_PUT,
                                                2, NULL),
                     SR_OK));
        cr_assert(eq(int, sr_http_check_no_body(SR_ROUTE_PIPELINE_RUN_GET,
                                                2, NULL),
                     SR_OK));
}

static sr_http_put_t put_ok(sr_route_id_t route, const char *body)
{
        sr_http_problem_t prob = { 0 };
        sr_http_put_t put;

        cr_assert(eq(int, sr_http_parse_put(route, body, strlen(body), 0,
                                            &put, &prob), SR_OK),
                  "%s: %s", body, prob.message);
        return put;
}

Test(sr_http, pipeline_run_cancel_body_is_parsed_in_any_case)
{
        sr_http_put_t put = put_ok(SR_ROUTE_PIPELINE_RUN_PUT,
                                   "{\"status\": \"CANCELLED\"}");

        cr_assert(eq(int, put.status, SR_ST_CANCELLED));
        cr_assert(not(put.has_device_name));
}

Test(sr_http, transition_legality_is_left_to_the_worker)
{
        sr_http_put_t put = put_ok(SR_ROUTE_PIPELINE_RUN_PUT,
                                   "{\"status\": \"running\"}");

        cr_assert(eq(int, put.status, SR_ST_RUNNING));
        put = put_ok(SR_ROUTE_STAGE_RUN_PUT, "{\"status\": \"success\"}");
        cr_assert(eq(int, put.status, SR_ST_SUCCESS));
}

Test(sr_http, stage_run_promote_body_is_parsed)
{
        sr_http_put_t put = put_ok(SR_ROUTE_STAGE_RUN_PUT,
                                   "{\"status\":\"Queued\"}");

        cr_assert(eq(int, put.status, SR_ST_QUEUED));
}

Test(sr_http, target_run_body_takes_optional_device_name)
{
        sr_http_put_t put = put_ok(SR_ROUTE_TARGET_RUN_PUT,
                                   "{\"device_name\":\"d-1\","
                                   "\"status\":\"dispatched\"}");

        cr_assert(eq(int, put.status, SR_ST_DISPATCHED));
        cr_assert(put.has_device_name);
        cr_assert(eq(str, put.device_name, "d-1"));
        put = put_ok(SR_ROUTE_TARGET_RUN_PUT,
                     "{\"status\":\"success\",\"device_name\":null}");
        cr_assert(not(put.has_device_name));
        put = put_ok(SR_ROUTE_TARGET_RUN_PUT, "{\"status\":\"failure\"}");
        cr_assert(not(put.has_device_name));
}

struct bad_body {
        int route;
        char body[200];
        int status;
        char msg[200]; /* the whole message, or a part of it */
};

ParameterizedTestParameters(sr_http, bad_put_body_is_refused_saying_what)
{
        static struct bad_body cases[] = {
                { SR_ROUTE_PIPELINE_RUN_PUT, "", 400,
                  "body: empty; expected a JSON object" },
                { SR_ROUTE_PIPELINE_RUN_PUT, "null", 400,
                  "body: expected a JSON object, got null" },
                { SR_ROUTE_PIPELINE_RUN_PUT, "[{\"status\":\"cancelled\"}]",
                  400, "body: expected a JSON object, got "
                  "[{\"status\":\"cancelled\"}]" },
                { SR_ROUTE_PIPELINE_RUN_PUT, "\"cancelled\"", 400,
                  "body: expected a JSON object, got \"cancelled\"" },
                { SR_ROUTE_PIPELINE_RUN_PUT, "{\"status\":", 400,
                  "body: malformed JSON at line 1 column" },
                { SR_ROUTE_PIPELINE_RUN_PUT, "{status: \"cancelled\"}", 400,
                  "body: malformed JSON" },
                { SR_ROUTE_PIPELINE_RUN_PUT, "{\"status\":\"queued\"} x", 400,
                  "body: malformed JSON" },
                { SR_ROUTE_PIPELINE_RUN_PUT, "{\"status\":\"queued\"}{}", 400,
                  "body: malformed JSON" },
                { SR_ROUTE_PIPELINE_RUN_PUT,
                  "{\"status\":\"cancelled\",\"status\":\"queued\"}", 400,
                  "duplicate" },
                { SR_ROUTE_PIPELINE_RUN_PUT, "{\"status\":\"q\\u0000\"}", 400,
                  "body: malformed JSON" },
                { SR_ROUTE_PIPELINE_RUN_PUT, "{\"status\":\"\xff\"}", 400,
                  "body: malformed JSON" },
                { SR_ROUTE_PIPELINE_RUN_PUT, "{\"status\":\"\xc0\xaf\"}", 400,
                  "body: malformed JSON" },
                { SR_ROUTE_PIPELINE_RUN_PUT, "{}", 400,
                  "status: required field missing" },
                { SR_ROUTE_PIPELINE_RUN_PUT, "{\"status\":42}", 400,
                  "status: expected a string, got 42" },
                { SR_ROUTE_PIPELINE_RUN_PUT, "{\"status\":null}", 400,
                  "status: expected a string, got null" },
                { SR_ROUTE_PIPELINE_RUN_PUT, "{\"status\":[\"cancelled\"]}",
                  400, "status: expected a string, got [\"cancelled\"]" },
                { SR_ROUTE_PIPELINE_RUN_PUT, "{\"status\":true}", 400,
                  "status: expected a string, got true" },
                { SR_ROUTE_PIPELINE_RUN_PUT, "{\"status\":\"bogus\"}", 400,
                  "status: expected one of pending, queued, processing, "
                  "running, waiting, complete, success, failure, cancelled, "
                  "timeout, invalid (any case), got \"bogus\"" },
                { SR_ROUTE_PIPELINE_RUN_PUT, "{\"status\":\"\"}", 400,
                  "got \"\"" },
                { SR_ROUTE_PIPELINE_RUN_PUT, "{\"status\":\"dispatched\"}",
                  400, "got \"dispatched\"" },
                { SR_ROUTE_STAGE_RUN_PUT, "{\"status\":\"waiting\"}", 400,
                  "status: expected one of pending, queued, processing, "
                  "running, complete, success, failure, cancelled, "
                  "timeout, invalid (any case), got \"waiting\"" },
                { SR_ROUTE_TARGET_RUN_PUT, "{\"status\":\"timeout\"}", 400,
                  "status: expected one of pending, queued, processing, "
                  "running, dispatched, complete, success, failure, "
                  "cancelled, invalid (any case), got \"timeout\"" },
                { SR_ROUTE_PIPELINE_RUN_PUT,
                  "{\"status\":\"cancelled\",\"colour\":\"red\"}", 400,
                  "unknown field \"colour\"; allowed: status" },
                { SR_ROUTE_STAGE_RUN_PUT,
                  "{\"status\":\"queued\",\"device_name\":\"d\"}", 400,
                  "unknown field \"device_name\"; allowed: status" },
                { SR_ROUTE_TARGET_RUN_PUT, "{\"Status\":\"success\"}", 400,
                  "unknown field \"Status\"; allowed: status, device_name" },
                { SR_ROUTE_TARGET_RUN_PUT,
                  "{\"status\":\"success\",\"device_name\":5}", 400,
                  "device_name: expected a string or null, got 5" },
                { SR_ROUTE_TARGET_RUN_PUT,
                  "{\"status\":\"success\",\"device_name\":{}}", 400,
                  "device_name: expected a string or null, got {}" },
                { SR_ROUTE_PIPELINE_RUN_PUT, "{\"caf\xc3\xa9\":1}", 400,
                  "unknown field \"caf\\xc3\\xa9\"" },
                { SR_ROUTE_PIPELINE_RUN_PUT,
                  "{\"status\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                  "aaaaaaaaaaaa\"}", 400,
                  "got \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa..." },
        };
        return cr_make_param_array(struct bad_body, cases,
                                   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_body *c, sr_http,
                  bad_put_body_is_refused_saying_what)
{
        sr_http_problem_t prob = { 0 };
        sr_http_put_t put;

        cr_assert(eq(int, sr_http_parse_put((sr_route_id_t)c->route, c->body,
                                            strlen(c->body), 0, &put, &prob),
                     SR_ERR_INVALID), "%s", c->body);
        cr_assert(eq(int, prob.status, c->status));
        cr_assert(contains(prob.message, c->msg), "%s: \"%s\" lacks \"%s\"",
                  c->body, prob.message, c->msg);
}

Test(sr_http, nul_byte_in_body_is_malformed_json)
{
        static const char body[] = "{\"status\":\"queued\"}\0";
        sr_http_problem_t prob = { 0 };
        sr_http_put_t put;

        cr_assert(eq(int, sr_http_parse_put(SR_ROUTE_STAGE_RUN_PUT, body,
                                            sizeof(body) - 1, 0, &put,
                                            &prob), SR_ERR_INVALID));
        cr_assert(eq(int, prob.status, 400));
}

Test(sr_http, thousand_nested_brackets_are_refused_as_too_deep)
{
        char body[1001];
        sr_http_problem_t prob = { 0 };
        sr_http_put_t put;

        memset(body, '[', 1000);
        body[1000] = '\0';
        cr_assert(eq(int, sr_http_parse_put(SR_ROUTE_PIPELINE_RUN_PUT, body,
                                            1000, 0, &put, &prob),
                     SR_ERR_INVALID));
        cr_assert(eq(int, prob.status, 400));
        cr_assert(eq(str, prob.message, "body: nested too deeply (at most 32 "
                     "levels of arrays and objects)"));
}

Test(sr_http, nesting_at_the_limit_passes_the_depth_check)
{
        char body[256];
        size_t n = 0;
        sr_http_problem_t prob = { 0 };
        sr_http_put_t put;

        n += (size_t)sprintf(body, "{\"status\":\"queued\",\"x\":");
        for (int i = 0; i < SR_HTTP_MAX_DEPTH - 1; i++)
                body[n++] = '[';
        for (int i = 0; i < SR_HTTP_MAX_DEPTH - 1; i++)
                body[n++] = ']';
        body[n++] = '}';
        body[n] = '\0';
        cr_assert(eq(int, sr_http_parse_put(SR_ROUTE_PIPELINE_RUN_PUT, body,
                                            n, 0, &put, &prob),
                     SR_ERR_INVALID));
        cr_assert(contains(prob.message, "unknown field \"x\""), "%s",
                  prob.message);
}

Test(sr_http, brackets_inside_strings_do_not_count_as_nesting)
{
        char body[1100];
        sr_http_problem_t prob = { 0 };
        sr_http_put_t put;
        size_t n;

        n = (size_t)sprintf(body, "{\"status\":\"queued\",\"device_name\":\"");
        memset(body + n, '[', 200);
        n += 200;
        n += (size_t)sprintf(body + n, "\\\"\"}");
        cr_assert(eq(int, sr_http_parse_put(SR_ROUTE_TARGET_RUN_PUT, body,
                                            n, 0, &put, &prob), SR_OK),
                  "%s", prob.message);
        cr_assert(eq(sz, strlen(put.device_name), 201));
}

Test(sr_http, body_over_the_limit_is_413)
{
        static const char body[] = "{\"status\":\"queued\"}";
        sr_http_problem_t prob = { 0 };
        sr_http_put_t put;

        cr_assert(eq(int, sr_http_parse_put(SR_ROUTE_STAGE_RUN_PUT, body,
                                            sizeof(body) - 1, 10, &put,
                                            &prob), SR_ERR_INVALID));
        cr_assert(eq(int, prob.status, 413));
        cr_assert(eq(str, prob.message,
                     "body too large (19 bytes, at most 10)"));
        cr_assert(eq(int, sr_http_parse_put(SR_ROUTE_STAGE_RUN_PUT, body,
                                            sizeof(body) - 1, 19, &put,
                                            &prob), SR_OK));
}

/* gateway.body.max.bytes may be above SR_SPEC_MAX_TEXT (other writes);
 * a run spec over the cap is refused naming the cap and the key that did
 * not decide, not "at most 4194304" as if that were the key's value. */
Test(sr_http, run_spec_over_its_4_mib_cap_names_the_cap_not_the_body_limit)
{
        size_t len = SR_SPEC_MAX_TEXT + 1;
        char *body = malloc(len);
        sr_http_problem_t prob = { 0 };
        sr_runspec_t spec;

        cr_assert(body != NULL);
        memset(body, ' ', len);
        body[0] = '{';
        body[len - 1] = '}';
        cr_assert(eq(int, sr_http_parse_run_spec(body, len, 8u << 20, NULL,
                                                 &spec, &prob),
                     SR_ERR_INVALID));
        cr_assert(eq(int, prob.status, 413));
        cr_assert(eq(str, prob.message,
                     "body too large (4194305 bytes): a run spec is at most "
                     "4194304 bytes of JSON, whatever gateway.body.max.bytes "
                     "says"));
        /* under the configured limit alone: the usual message */
        cr_assert(eq(int, sr_http_parse_run_spec(body, len, 1u << 20, NULL,
                                                 &spec, &prob),
                     SR_ERR_INVALID));
        cr_assert(eq(str, prob.message,
                     "body too large (4194305 bytes, at most 1048576)"));
        free(body);
}

Test(sr_http, device_name_longer_than_the_model_is_refused)
{
        char body[400];
        sr_http_problem_t prob = { 0 };
        sr_http_put_t put;
        size_t n;

        n = (size_t)sprintf(body, "{\"status\":\"queued\",\"device_name\":\"");
        memset(body + n, 'd', 256);
        n += 256;
        n += (size_t)sprintf(body + n, "\"}");
        cr_assert(eq(int, sr_http_parse_put(SR_ROUTE_TARGET_RUN_PUT, body,
                                            n, 0, &put, &prob),
                     SR_ERR_INVALID));
        cr_assert(eq(str, prob.message, "device_name: too long (256 bytes, "
                     "at most 255)"));
}

Test(sr_http, put_body_for_a_route_without_one_is_an_internal_error)
{
        sr_http_problem_t prob = { 0 };
        sr_http_put_t put;

        cr_assert(eq(int, sr_http_parse_put(SR_ROUTE_RUNS_LIST, "{}", 2, 0,
                                            &put, &prob), SR_ERR_INVALID));
        cr_assert(eq(int, prob.status, 500));
}

Test(sr_http, null_body_pointer_is_empty_body)
{
        sr_http_problem_t prob = { 0 };
        sr_http_put_t put;

        cr_assert(eq(int, sr_http_parse_put(SR_ROUTE_STAGE_RUN_PUT, NULL, 0,
                                            0, &put, &prob), SR_ERR_INVALID));
        cr_assert(eq(int, prob.status, 400));
}

#define SPEC "{\"pipeline_id\":\"" P_ID "\",\"pipeline_name\":\"p\"," \
             "\"stages\":[{\"name\":\"canary\",\"operations\":"       \
             "[{\"operation_type\":\"install\",\"args\":{\"a\":1}}],"  \
             "\"targets\":[{\"device_id\":\"" T_ID "\"}]}]}"

Test(sr_http, run_spec_body_is_decoded)
{
        static const char body[] = SPEC;
        sr_http_problem_t prob = { 0 };
        sr_runspec_t spec;

        cr_assert(eq(int, sr_http_parse_run_spec(body, sizeof(body) - 1, 0, NULL,
                                                 &spec, &prob), SR_OK),
                  "%s", prob.message);
        cr_assert(eq(str, uuid_text(&spec.pipeline_id), P_ID));
        cr_assert(eq(u32, spec.n_stages, 1));
        cr_assert(eq(str, spec.stages[0].ops[0].operation_type, "INSTALL"));
        sr_runspec_fini(&spec);
}

ParameterizedTestParameters(sr_http, bad_run_spec_is_400_with_its_path)
{
        static struct bad_body cases[] = {
                { 0, "", 400, "body: empty" },
                { 0, "[]", 400, "body: expected a JSON object, got []" },
                { 0, "null", 400, "body: expected a JSON object, got null" },
                { 0, "{\"pipeline_id\":\"" P_ID "\"}", 400,
                  "stages: required field missing" },
                { 0, "{\"pipeline_id\":\"" P_ID "\",\"stages\":[],"
                  "\"colour\":1}", 400, "colour: unknown field" },
                { 0, "{\"pipeline_id\":\"" P_ID "\",\"stages\":[{\"name\":"
                  "7}]}", 400, "stages[0].name: expected a string, got 7" },
                { 0, "{\"pipeline_id\":\"" P_ID "\",\"pipeline_id\":\"" P_ID
                  "\",\"stages\":[]}", 400, "duplicate" },
                { 0, "{\"pipeline_id\":\"" P_ID "\",\"stages\":[{\"operations"
                  "\":[{\"operation_type\":\"REBOOT\",\"args\":{\"a\":"
                  "[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]}}]}]}", 400,
                  "stages[0].operations[0].args: nested too deeply" },
        };
        return cr_make_param_array(struct bad_body, cases,
                                   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_body *c, sr_http,
                  bad_run_spec_is_400_with_its_path)
{
        sr_http_problem_t prob = { 0 };
        sr_runspec_t spec;

        cr_assert(eq(int, sr_http_parse_run_spec(c->body, strlen(c->body), 0, NULL,
                                                 &spec, &prob),
                     SR_ERR_INVALID), "%s", c->body);
        cr_assert(eq(int, prob.status, c->status));
        cr_assert(contains(prob.message, c->msg), "%s: \"%s\" lacks \"%s\"",
                  c->body, prob.message, c->msg);
}

/* JSON Schema (and so the OpenAPI document) counts 5.0 and 5e2 as
 * integers; jansson reads them as reals. */
Test(sr_http, run_spec_timeout_with_a_zero_fraction_is_an_integer)
{
        static const char body[] =
                "{\"pipeline_id\":\"" P_ID "\",\"timeout_seconds\":263635.0,"
                "\"stages\":[{\"timeout_seconds\":6e2,\"operations\":"
                "[{\"operation_type\":\"LOCK\",\"args\":{\"n\":1.0}}]}]}";
        sr_http_problem_t prob = { 0 };
        sr_runspec_t spec;

        cr_assert(eq(int, sr_http_parse_run_spec(body, sizeof(body) - 1, 0, NULL,
                                                 &spec, &prob), SR_OK),
                  "%s", prob.message);
        cr_assert(eq(i64, spec.timeout_seconds, 263635));
        cr_assert(eq(i64, spec.stages[0].timeout_seconds, 600));
        /* args are passed on as given: their reals stay reals */
        cr_assert(eq(str, spec.stages[0].ops[0].args_json, "{\"n\":1.0}"));
        sr_runspec_fini(&spec);
}

ParameterizedTestParameters(sr_http, run_spec_timeout_with_a_fraction_is_400)
{
        static struct bad_body cases[] = {
                { 0, "{\"pipeline_id\":\"" P_ID "\",\"timeout_seconds\":1.5,"
                  "\"stages\":[]}", 400,
                  "timeout_seconds: expected an integer" },
                { 0, "{\"pipeline_id\":\"" P_ID "\",\"timeout_seconds\":"
                  "0.0,\"stages\":[]}", 400,
                  "timeout_seconds: expected 1..315360000 seconds, got 0" },
                { 0, "{\"pipeline_id\":\"" P_ID "\",\"timeout_seconds\":"
                  "1e300,\"stages\":[]}", 400,
                  "timeout_seconds: expected" },
                { 0, "{\"pipeline_id\":\"" P_ID "\",\"stages\":[{"
                  "\"timeout_seconds\":-2.0}]}", 400,
                  "stages[0].timeout_seconds: expected 1..315360000 "
                  "seconds, got -2" },
        };
        return cr_make_param_array(struct bad_body, cases,
                                   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_body *c, sr_http,
                  run_spec_timeout_with_a_fraction_is_400)
{
        sr_http_problem_t prob = { 0 };
        sr_runspec_t spec;

        cr_assert(eq(int, sr_http_parse_run_spec(c->body, strlen(c->body), 0, NULL,
                                                 &spec, &prob),
                     SR_ERR_INVALID), "%s", c->body);
        cr_assert(eq(int, prob.status, c->status));
        cr_assert(contains(prob.message, c->msg), "%s: \"%s\" lacks \"%s\"",
                  c->body, prob.message, c->msg);
}

Test(sr_http, run_spec_over_the_limit_is_413)
{
        static const char body[] = SPEC;
        sr_http_problem_t prob = { 0 };
        sr_runspec_t spec;

        cr_assert(eq(int, sr_http_parse_run_spec(body, sizeof(body) - 1, 64, NULL,
                                                 &spec, &prob),
                     SR_ERR_INVALID));
        cr_assert(eq(int, prob.status, 413));
}

/* ------------------------------------------------------------ envelope */

static char *envelope_text(int code, const char *msg, const json_t *content)
{
        sr_buf_t buf = { NULL, 0 };

        cr_assert(eq(int, sr_http_envelope(code, msg, content, &buf), SR_OK));
        cr_assert(eq(sz, buf.len, strlen(buf.ptr)));
        return buf.ptr;
}

Test(sr_http, error_envelope_has_exact_text)
{
        sr_http_problem_t prob = { 0 };
        sr_buf_t buf = { NULL, 0 };
        sr_route_t r;

        sr_http_route("GET", "/v0/nothing/", &r, &prob);
        cr_assert(eq(int, sr_http_problem_envelope(&prob, &buf), SR_OK));
        cr_assert(eq(str, (char *)buf.ptr,
                     "{\"code\":404,\"message\":\"unknown path or id\","
                     "\"content\":{}}"));
        sr_buf_free(&buf);

        prob = query_bad(SR_ROUTE_RUNS_LIST, "limit=abc");
        cr_assert(eq(int, sr_http_problem_envelope(&prob, &buf), SR_OK));
        cr_assert(eq(str, (char *)buf.ptr,
                     "{\"code\":400,\"message\":\"limit: expected an integer "
                     "0..1000, got \\\"abc\\\"\",\"content\":{}}"));
        sr_buf_free(&buf);
}

Test(sr_http, success_envelope_carries_the_content)
{
        json_t *content = json_pack("{s:s, s:i}", "id", "x", "n", 1);
        char *text = envelope_text(200, "ok", content);

        cr_assert(eq(str, text, "{\"code\":200,\"message\":\"ok\","
                     "\"content\":{\"id\":\"x\",\"n\":1}}"));
        free(text);
        json_decref(content);
        content = json_array();
        text = envelope_text(200, "ok", content);
        cr_assert(eq(str, text, "{\"code\":200,\"message\":\"ok\","
                     "\"content\":[]}"));
        free(text);
        json_decref(content);
}

Test(sr_http, envelope_message_is_escaped_and_made_utf8)
{
        char *text = envelope_text(400, "bad \"x\"\n\xff", NULL);

        cr_assert(eq(str, text, "{\"code\":400,\"message\":"
                     "\"bad \\\"x\\\"\\n\xef\xbf\xbd\",\"content\":{}}"));
        free(text);
        text = envelope_text(500, NULL, NULL);
        cr_assert(eq(str, text, "{\"code\":500,\"message\":\"\","
                     "\"content\":{}}"));
        free(text);
}

Test(sr_http, problem_envelope_of_a_full_message_buffer_stays_in_bounds)
{
        sr_http_problem_t prob;
        sr_buf_t buf = { NULL, 0 };

        prob.status = 400;
        memset(prob.message, 'm', sizeof(prob.message)); /* no NUL */
        prob.allow[0] = '\0';
        cr_assert(eq(int, sr_http_problem_envelope(&prob, &buf), SR_OK));
        cr_assert(eq(sz, buf.len, strlen("{\"code\":400,\"message\":\"\","
                                         "\"content\":{}}") +
                                          SR_HTTP_MSG_MAX - 1));
        sr_buf_free(&buf);
}

/* ------------------------------------------------------------ pages */

static json_t *page_for(const char *path, const char *qs, uint64_t count)
{
        sr_http_query_t q = query_ok(SR_ROUTE_RUNS_LIST, qs);
        json_t *page = sr_http_page(BASE, path, &q, count, json_array());

        cr_assert(not(eq(ptr, page, NULL)));
        return page;
}

/* The link @p key of @p page, or "null". */
static char *link_of(const json_t *page, const char *key)
{
        const json_t *v = json_object_get(page, key);

        cr_assert(not(eq(ptr, (void *)v, NULL)), "%s missing", key);
        return (char *)(json_is_string(v) ? json_string_value(v) : "null");
}

Test(sr_http, first_page_has_next_and_no_previous)
{
        json_t *page = page_for("/v0/runs/", "", 45);

        cr_assert(eq(int, (int)json_integer_value(json_object_get(page,
                                                                  "count")),
                     45));
        cr_assert(eq(str, link_of(page, "previous"), "null"));
        cr_assert(eq(str, link_of(page, "next"),
                     BASE "/v0/runs/?limit=20&offset=20"));
        cr_assert(eq(sz, json_array_size(json_object_get(page, "results")),
                     0));
        json_decref(page);
}

Test(sr_http, middle_page_links_both_ways)
{
        json_t *page = page_for("/v0/runs/", "offset=20", 45);

        cr_assert(eq(str, link_of(page, "previous"),
                     BASE "/v0/runs/?limit=20"));
        cr_assert(eq(str, link_of(page, "next"),
                     BASE "/v0/runs/?limit=20&offset=40"));
        json_decref(page);
}

Test(sr_http, last_page_has_previous_and_no_next)
{
        json_t *page = page_for("/api/pipelines/v0/runs", "offset=40&limit=20",
                                45);

        cr_assert(eq(str, link_of(page, "previous"),
                     BASE "/api/pipelines/v0/runs?limit=20&offset=20"));
        cr_assert(eq(str, link_of(page, "next"), "null"));
        json_decref(page);
}

Test(sr_http, unaligned_offset_steps_back_by_limit)
{
        json_t *page = page_for("/v0/runs/", "offset=30&limit=20", 45);

        cr_assert(eq(str, link_of(page, "previous"),
                     BASE "/v0/runs/?limit=20&offset=10"));
        cr_assert(eq(str, link_of(page, "next"), "null"));
        json_decref(page);
        page = page_for("/v0/runs/", "offset=5&limit=20", 45);
        cr_assert(eq(str, link_of(page, "previous"),
                     BASE "/v0/runs/?limit=20"));
        cr_assert(eq(str, link_of(page, "next"),
                     BASE "/v0/runs/?limit=20&offset=25"));
        json_decref(page);
}

Test(sr_http, offset_past_the_end_links_back_to_the_last_items)
{
        json_t *page = page_for("/v0/runs/", "offset=1000000", 45);

        cr_assert(eq(int, (int)json_integer_value(json_object_get(page,
                                                                  "count")),
                     45));
        cr_assert(eq(str, link_of(page, "previous"),
                     BASE "/v0/runs/?limit=20&offset=25"));
        cr_assert(eq(str, link_of(page, "next"), "null"));
        json_decref(page);
        page = page_for("/v0/runs/", "offset=9223372036854775807&limit=1000",
                        3);
        cr_assert(eq(str, link_of(page, "previous"),
                     BASE "/v0/runs/?limit=1000"));
        cr_assert(eq(str, link_of(page, "next"), "null"));
        json_decref(page);
}

Test(sr_http, limit_zero_page_has_count_and_no_links)
{
        json_t *page = page_for("/v0/runs/", "limit=0&offset=10", 45);

        cr_assert(eq(int, (int)json_integer_value(json_object_get(page,
                                                                  "count")),
                     45));
        cr_assert(eq(str, link_of(page, "previous"), "null"));
        cr_assert(eq(str, link_of(page, "next"), "null"));
        json_decref(page);
}

Test(sr_http, empty_list_has_no_links)
{
        json_t *page = page_for("/v0/runs/", "", 0);

        cr_assert(eq(str, link_of(page, "previous"), "null"));
        cr_assert(eq(str, link_of(page, "next"), "null"));
        json_decref(page);
}

Test(sr_http, links_repeat_filters_encoded_and_drop_unknown_keys)
{
        json_t *page = page_for("/v0/runs/",
                                "_=123&status=QUEUED&pipeline_name=a+b%26c"
                                "&ordering=-run_number,status&limit=5", 12);

        cr_assert(eq(str, link_of(page, "next"),
                     BASE "/v0/runs/?limit=5&offset=5"
                     "&ordering=-run_number%2Cstatus"
                     "&pipeline_name=a%20b%26c&status=queued"));
        json_decref(page);
}

Test(sr_http, target_run_links_carry_the_operation_filter)
{
        static const char qs[] = "stage_run_operation_id=" O_ID "&limit=1";
        sr_http_query_t q;
        json_t *page;

        cr_assert(eq(int, sr_http_query_parse(SR_ROUTE_TARGET_RUNS_LIST, qs,
                                              sizeof(qs) - 1, &q, NULL),
                     SR_OK));
        page = sr_http_page(BASE, "/v0/stageruns/" S_ID "/targetruns/", &q,
                            2, json_array());
        cr_assert(eq(str, link_of(page, "next"),
                     BASE "/v0/stageruns/" S_ID "/targetruns/?limit=1"
                     "&offset=1&stage_run_operation_id=" O_ID));
        json_decref(page);
}

Test(sr_http, page_object_has_esper_key_order)
{
        json_t *page = page_for("/v0/runs/", "offset=20", 45);
        char *text = json_dumps(page, JSON_COMPACT);

        cr_assert(eq(str, text, "{\"count\":45,\"previous\":\"" BASE
                     "/v0/runs/?limit=20\",\"next\":\"" BASE
                     "/v0/runs/?limit=20&offset=40\",\"results\":[]}"));
        free(text);
        json_decref(page);
}

Test(sr_http, page_of_a_non_array_is_refused)
{
        sr_http_query_t q;

        sr_http_query_init(&q);
        cr_assert(eq(ptr, sr_http_page(BASE, "/v0/runs/", &q, 1,
                                       json_object()), NULL));
        cr_assert(eq(ptr, sr_http_page(BASE, "/v0/runs/", &q, 1, NULL),
                     NULL));
}

Test(sr_http, links_without_a_public_url_are_relative_to_the_root)
{
        sr_http_query_t q = query_ok(SR_ROUTE_RUNS_LIST, "offset=20");
        json_t *page = sr_http_page("", "/api/pipelines/v0/runs/", &q, 45,
                                    json_array());

        cr_assert(eq(str, link_of(page, "previous"),
                     "/api/pipelines/v0/runs/?limit=20"));
        cr_assert(eq(str, link_of(page, "next"),
                     "/api/pipelines/v0/runs/?limit=20&offset=40"));
        json_decref(page);
        page = sr_http_page(NULL, "/v0/runs", &q, 45, json_array());
        cr_assert(eq(str, link_of(page, "next"),
                     "/v0/runs?limit=20&offset=40"));
        json_decref(page);
}

Test(sr_http, links_under_a_public_url_keep_its_path_prefix)
{
        sr_http_query_t q = query_ok(SR_ROUTE_RUNS_LIST, "limit=5");
        json_t *page = sr_http_page("https://sr.example.com:8443/base%20x",
                                    "/v0/runs/", &q, 12, json_array());

        cr_assert(eq(str, link_of(page, "next"),
                     "https://sr.example.com:8443/base%20x/v0/runs/"
                     "?limit=5&offset=5"));
        json_decref(page);
}

/* ------------------------------------------------------------ cursors */

Test(sr_http, a_cursor_is_taken_on_every_list_and_must_be_lowercase_hex)
{
        static const sr_route_id_t lists[] = {
                SR_ROUTE_RUNS_LIST, SR_ROUTE_PIPELINE_RUNS_LIST,
                SR_ROUTE_STAGE_RUNS_LIST, SR_ROUTE_OPERATIONS_LIST,
                SR_ROUTE_TARGET_RUNS_LIST, SR_ROUTE_STAGE_TARGETS_LIST,
        };
        sr_http_problem_t prob;
        sr_http_query_t q;
        char long_one[SR_HTTP_CURSOR_MAX + 16];

        for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
                q = query_ok(lists[i], "cursor=0a1b&limit=5");
                cr_assert(eq(str, q.cursor, "0a1b"));
        }
        q = query_ok(SR_ROUTE_RUNS_LIST, "cursor=");
        cr_assert(eq(str, q.cursor, ""));
        prob = query_bad(SR_ROUTE_RUNS_LIST, "cursor=0A1B");
        cr_assert(eq(int, strncmp(prob.message, "cursor: ", 8), 0), "%s",
                  prob.message);
        prob = query_bad(SR_ROUTE_RUNS_LIST, "cursor=%00ab");
        cr_assert(eq(int, strncmp(prob.message, "cursor: ", 8), 0), "%s",
                  prob.message);
        memcpy(long_one, "cursor=", 7);
        memset(long_one + 7, 'a', SR_HTTP_CURSOR_MAX);
        long_one[7 + SR_HTTP_CURSOR_MAX] = '\0';
        prob = query_bad(SR_ROUTE_RUNS_LIST, long_one);
        cr_assert(eq(int, strncmp(prob.message, "cursor: ", 8), 0), "%s",
                  prob.message);
        prob = query_bad(SR_ROUTE_RUNS_LIST, "cursor=ab&cursor=cd");
        cr_assert(eq(int, strncmp(prob.message, "cursor: ", 8), 0), "%s",
                  prob.message);
}

Test(sr_http, keyset_pages_link_next_by_cursor_and_previous_by_offset_only)
{
        sr_http_query_t q = query_ok(SR_ROUTE_TARGET_RUNS_LIST,
                                     "status=queued&offset=20");
        json_t *page;

        /* An offset page of a keyset list: next by cursor (no offset, the
         * filter repeated), previous by offset. */
        page = sr_http_page_keyset(BASE, "/v0/stageruns/x/targetruns/", &q,
                                   100, "00ff", json_array());
        cr_assert(eq(str, link_of(page, "next"),
                     BASE "/v0/stageruns/x/targetruns/?cursor=00ff&limit=20"
                          "&status=queued"));
        cr_assert(eq(str, link_of(page, "previous"),
                     BASE "/v0/stageruns/x/targetruns/?limit=20"
                          "&status=queued"));
        json_decref(page);
        /* A cursor page: no previous; the last page: no next. */
        q = query_ok(SR_ROUTE_TARGET_RUNS_LIST, "cursor=00ff");
        page = sr_http_page_keyset(BASE, "/v0/stageruns/x/targetruns/", &q,
                                   100, "", json_array());
        cr_assert(eq(str, link_of(page, "next"), "null"));
        cr_assert(eq(str, link_of(page, "previous"), "null"));
        json_decref(page);
}

/* The body of a write on a target run's device command (phase D). */
Test(sr_http, a_command_cancel_body_is_request_status_cancelled_alone)
{
        static const struct {
                const char *body, *msg;
        } bad[] = {
                { "{}", "request_status: required field missing" },
                { "{\"request_status\": \"queued\"}",
                  "request_status: expected \"cancelled\" (any case), got "
                  "\"queued\"" },
                { "{\"request_status\": null}", "expected \"cancelled\"" },
                { "{\"request_status\": \"cancelled\", \"x\": 1}",
                  "unknown field \"x\"; allowed: request_status" },
                { "[\"cancelled\"]", "expected a JSON object" },
        };
        sr_http_problem_t prob = { 0 };
        const char *ok[] = { "{\"request_status\": \"cancelled\"}",
                             "{\"request_status\":\"CANCELLED\"}" };
        sr_route_t r;

        for (size_t i = 0; i < 2; i++)
                cr_assert(eq(int, sr_http_parse_command_write(
                                          SR_ROUTE_TARGET_RUN_COMMAND_CANCEL,
                                          ok[i], strlen(ok[i]), 0, &prob),
                             SR_OK), "%s: %s", ok[i], prob.message);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                memset(&prob, 0, sizeof(prob));
                cr_assert(eq(int, sr_http_parse_command_write(
                                          SR_ROUTE_TARGET_RUN_COMMAND_CANCEL,
                                          bad[i].body, strlen(bad[i].body), 0,
                                          &prob),
                             SR_ERR_INVALID), "%s", bad[i].body);
                cr_assert(eq(int, prob.status, 400));
                cr_assert(contains(prob.message, bad[i].msg), "%s: %s",
                          bad[i].body, prob.message);
        }
        /* the command's id from the path */
        cr_assert(eq(int, sr_http_route("PUT", "/v0/stageruns/" S_ID
                                        "/targetruns/" T_ID "/command/" R_ID
                                        "/", &r, NULL), SR_OK));
        cr_assert(eq(int, r.id, SR_ROUTE_TARGET_RUN_COMMAND_CANCEL));
        cr_assert(eq(str, uuid_text(&r.command_id), R_ID));
        cr_assert(eq(str, uuid_text(&r.target_run_id), T_ID));
}

Test(sr_http, a_command_resend_body_is_empty_or_none)
{
        sr_http_problem_t prob = { 0 };
        const char *ok[] = { "", "{}", " { } " };
        const char *field = "{\"command\": \"REBOOT\"}";

        cr_assert(eq(int, sr_http_parse_command_write(
                                  SR_ROUTE_TARGET_RUN_COMMAND_SEND, field,
                                  strlen(field), 0, &prob), SR_ERR_INVALID));
        cr_assert(contains(prob.message, "unknown field \"command\": a "
                           "resend sends the target run's own command"),
                  "%s", prob.message);
        for (size_t i = 0; i < 3; i++)
                cr_assert(eq(int, sr_http_parse_command_write(
                                          SR_ROUTE_TARGET_RUN_COMMAND_SEND,
                                          ok[i], strlen(ok[i]), 0, &prob),
                             SR_OK), "%s: %s", ok[i], prob.message);
        cr_assert(eq(int, sr_http_parse_command_write(
                                  SR_ROUTE_TARGET_RUN_COMMAND_SEND, "7", 1, 0,
                                  &prob), SR_ERR_INVALID));
        cr_assert(eq(int, prob.status, 400));
        cr_assert(contains(prob.message, "expected a JSON object"), "%s",
                  prob.message);
}

/* ------------------------------------------------------------ definitions */

Test(sr_http, a_stage_route_carries_its_pipeline_and_stage)
{
        sr_route_t r;

        cr_assert(eq(int, sr_http_route("PUT", "/v0/pipelines/" P_ID
                                        "/stages/" S_ID "/", &r, NULL),
                     SR_OK));
        cr_assert(eq(int, r.id, SR_ROUTE_DEF_STAGE_PUT));
        cr_assert(eq(str, uuid_text(&r.pipeline_id), P_ID));
        cr_assert(eq(str, uuid_text(&r.stage_id), S_ID));
        cr_assert(not(r.any_pipeline));
}

Test(sr_http, pipelines_list_filters_name_default_and_orders_by_name)
{
        sr_http_query_t q = query_ok(SR_ROUTE_DEF_PIPELINES_LIST,
                                     "name=canary%20one&default=true&"
                                     "ordering=-name&limit=5&status=x");
        sr_http_problem_t prob;
        json_t *page;

        cr_assert(eq(str, q.name, "canary one"));
        cr_assert(eq(u8, q.is_default, 2));
        cr_assert(eq(u32, q.n_order, 1));
        cr_assert(eq(int, q.order[0].key, SR_HTTP_ORDER_NAME));
        cr_assert(q.order[0].desc);
        cr_assert(eq(u32, q.limit, 5));
        q = query_ok(SR_ROUTE_DEF_PIPELINES_LIST, "default=false");
        cr_assert(eq(u8, q.is_default, 1));
        q = query_ok(SR_ROUTE_DEF_PIPELINES_LIST, "default=");
        cr_assert(eq(u8, q.is_default, 0));
        prob = query_bad(SR_ROUTE_DEF_PIPELINES_LIST, "default=yes");
        cr_assert(contains(prob.message, "default: expected true or false"),
                  "%s", prob.message);
        prob = query_bad(SR_ROUTE_DEF_PIPELINES_LIST, "ordering=run_number");
        cr_assert(contains(prob.message, "allowed: name"), "%s",
                  prob.message);
        /* the runs' lists take no name or default filter (ignored) */
        q = query_ok(SR_ROUTE_RUNS_LIST, "name=x&default=true");
        cr_assert(eq(str, q.name, ""));
        cr_assert(eq(u8, q.is_default, 0));
        /* the stages' list: limit and offset only */
        q = query_ok(SR_ROUTE_DEF_STAGES_LIST, "name=x&offset=2");
        cr_assert(eq(str, q.name, ""));
        cr_assert(eq(u64, q.offset, 2));

        q = query_ok(SR_ROUTE_DEF_PIPELINES_LIST,
                     "name=a%26b&default=false&ordering=name&limit=1");
        page = sr_http_page(BASE, "/v0/pipelines/", &q, 3, json_array());
        cr_assert(eq(str, link_of(page, "next"),
                     BASE "/v0/pipelines/?default=false&limit=1&name=a%26b"
                     "&offset=1&ordering=name"));
        json_decref(page);
}

Test(sr_http, stage_lists_filter_type_operations_filter_operation_type)
{
        sr_http_query_t q = query_ok(SR_ROUTE_DEF_STAGE_TARGETLISTS_LIST,
                                     "type=devices&limit=2");
        sr_http_problem_t prob;
        json_t *page;

        cr_assert(eq(str, q.tl_type, "devices"));
        prob = query_bad(SR_ROUTE_DEF_STAGE_TARGETLISTS_LIST, "type=DEVICES");
        cr_assert(contains(prob.message, "type: expected groups, devices"),
                  "%s", prob.message);
        page = sr_http_page(BASE, "/v0/stages/" S_ID "/targetlists/", &q, 3,
                            json_array());
        cr_assert(eq(str, link_of(page, "next"),
                     BASE "/v0/stages/" S_ID "/targetlists/?limit=2&offset=2"
                     "&type=devices"));
        json_decref(page);
        q = query_ok(SR_ROUTE_DEF_OPERATIONS_LIST,
                     "operation_type=install&type=devices");
        cr_assert(eq(str, q.operation_type, "install"));
        cr_assert(eq(str, q.tl_type, ""));
        page = sr_http_page(BASE, "/v0/operationlists/" O_ID "/operations/",
                            &q, 30, json_array());
        cr_assert(eq(str, link_of(page, "next"),
                     BASE "/v0/operationlists/" O_ID "/operations/?limit=20"
                     "&offset=20&operation_type=install"));
        json_decref(page);
        /* the pipeline's lists take neither */
        q = query_ok(SR_ROUTE_DEF_TARGETLISTS_LIST, "type=x&operation_type=y");
        cr_assert(eq(str, q.tl_type, ""));
}

Test(sr_http, paths_without_a_pipeline_carry_their_parent)
{
        sr_route_t r;

        cr_assert(eq(int, sr_http_route("DELETE", "/api/pipelines/v0/stages/"
                                        S_ID "/targetlists/" T_ID "/", &r,
                                        NULL),
                     SR_OK));
        cr_assert(eq(int, r.id, SR_ROUTE_DEF_STAGE_TARGETLIST_DETACH));
        cr_assert(sr_uuid_is_nil(&r.pipeline_id));
        cr_assert(eq(str, uuid_text(&r.stage_id), S_ID));
        cr_assert(eq(str, uuid_text(&r.target_list_id), T_ID));
        cr_assert(eq(int, sr_http_route("PUT", "/v0/operationlists/" O_ID
                                        "/operations/" R_ID, &r, NULL),
                     SR_OK));
        cr_assert(eq(str, uuid_text(&r.operation_list_id), O_ID));
        cr_assert(eq(str, uuid_text(&r.def_operation_id), R_ID));
}

Test(sr_http, a_lists_targets_page_by_cursor)
{
        sr_http_query_t q = query_ok(SR_ROUTE_DEF_TARGETS_LIST,
                                     "cursor=00ff&limit=3&offset=1");

        cr_assert(eq(str, q.cursor, "00ff"));
        cr_assert(eq(u32, q.limit, 3));
        cr_assert(eq(u64, q.offset, 1));
}

/* POST /stageruns/{id}/targetruns/ (TargetRun_POST): target_id a UUID,
 * required; device_name 1..255 bytes or null; device_alias at most 255
 * bytes or null; any other member refused naming it. */
Test(sr_http, an_added_target_body_takes_target_id_and_optional_names)
{
        static const struct {
                const char *body, *msg;
        } bad[] = {
                { "{}", "target_id: required field missing" },
                { "{\"device_name\": \"d\"}",
                  "target_id: required field missing" },
                { "{\"target_id\": \"nope\"}",
                  "target_id: expected a UUID, got \"nope\"" },
                { "{\"target_id\": 7}", "target_id: expected a UUID" },
                { "{\"target_id\": \"" T_ID "\", \"device_name\": \"\"}",
                  "device_name: empty" },
                { "{\"target_id\": \"" T_ID "\", \"device_name\": 3}",
                  "device_name: expected a string or null" },
                { "{\"target_id\": \"" T_ID "\", \"device_alias\": []}",
                  "device_alias: expected a string or null" },
                { "{\"target_id\": \"" T_ID "\", \"device_id\": \"x\"}",
                  "unknown field \"device_id\"; allowed: target_id, "
                  "device_name, device_alias" },
                { "[1]", "expected a JSON object" },
        };
        sr_http_problem_t prob = { 0 };
        sr_http_add_target_t add;
        char body[600], name[300];
        const char *ok = "{\"target_id\": \"" T_ID "\", \"device_name\": "
                         "\"late\", \"device_alias\": null}";

        cr_assert(eq(int, sr_http_parse_add_target(ok, strlen(ok), 0, &add,
                                                   &prob), SR_OK),
                  "%s", prob.message);
        cr_assert(eq(str, uuid_text(&add.target_id), T_ID));
        cr_assert(add.has_device_name);
        cr_assert(eq(str, add.device_name, "late"));
        cr_assert(not(add.has_device_alias));
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                memset(&prob, 0, sizeof(prob));
                cr_assert(eq(int, sr_http_parse_add_target(
                                          bad[i].body, strlen(bad[i].body), 0,
                                          &add, &prob),
                             SR_ERR_INVALID), "%s", bad[i].body);
                cr_assert(eq(int, prob.status, 400));
                cr_assert(contains(prob.message, bad[i].msg), "%s: %s",
                          bad[i].body, prob.message);
        }
        /* the model's name limit: 255 bytes */
        memset(name, 'n', 256);
        name[256] = '\0';
        snprintf(body, sizeof(body), "{\"target_id\": \"" T_ID "\", "
                 "\"device_alias\": \"%s\"}", name);
        cr_assert(eq(int, sr_http_parse_add_target(body, strlen(body), 0,
                                                   &add, &prob),
                     SR_ERR_INVALID));
        cr_assert(contains(prob.message, "device_alias: too long (256 "
                           "bytes, at most 255)"), "%s", prob.message);
        name[255] = '\0';
        snprintf(body, sizeof(body), "{\"target_id\": \"" T_ID "\", "
                 "\"device_alias\": \"%s\"}", name);
        cr_assert(eq(int, sr_http_parse_add_target(body, strlen(body), 0,
                                                   &add, &prob),
                     SR_OK), "%s", prob.message);
        cr_assert(add.has_device_alias);
        cr_assert(not(add.has_device_name));
}
