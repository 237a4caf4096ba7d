/* tests/fuzz/fuzz_gwpath.c - the gateway's pure request path for the
 * fuzz targets (see fuzz_gwpath.h): routing (sr_http_route), the query of
 * list routes (sr_http_query_parse) and the page links built from it
 * (sr_http_page), the Authorization header (sr_auth_check), Content-Type,
 * the Idempotency-Key of every write and the absent body of a DELETE
 * (Host is read and ignored, as the gateway ignores it: links are
 * relative or under gateway.public.url), the JSON
 * bodies (run spec of POST
 * /v0/runs/, the status PUT bodies of pipeline, stage and target runs, an
 * open stage's chunk and seal, the {} of a stored pipeline's run) and the envelopes of answers and refusals.
 * A run spec that parses is re-encoded (sr_runspec_to_json) and must parse
 * again to the same spec hash; a chunk that parses must have a digest
 * (every item as the command's encoder takes it).
 */
#include "fuzz_gwpath.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sr_auth.h"
#include "sr_digest.h"
#include "sr_spec_json.h"

static sr_auth_t *auth;

void fuzz_fail(const char *what, const char *msg)
{
        fprintf(stderr, "fuzz: %s: %s\n", what, msg);
        abort();
}

static void auth_init(void)
{
        sr_errctx_t ec = { 0 };

        if (!auth && sr_auth_new(NULL, "tok-acme-0123456789:acme,"
                                 "short:beta,Bearer:gamma", &auth,
                                 &ec) != SR_OK)
                fuzz_fail("sr_auth_new", ec.msg);
}

/* Every envelope is valid JSON: build it and throw it away. */
static void envelope_problem(const sr_http_problem_t *prob)
{
        sr_buf_t out = { 0 };

        if (!prob->message[0])
                fuzz_fail("problem", "no message");
        if (prob->status < 400 || prob->status > 599)
                fuzz_fail("problem", "status outside 4xx/5xx");
        if (sr_http_problem_envelope(prob, &out) != SR_OK)
                fuzz_fail("problem envelope", "failed");
        sr_buf_free(&out);
}

static void envelope_content(json_t *content)
{
        sr_buf_t out = { 0 };

        if (sr_http_envelope(200, "OK", content, &out) != SR_OK)
                fuzz_fail("envelope", "failed");
        sr_buf_free(&out);
}

static void list_route(const sr_route_t *route, const char *target,
                       sr_http_problem_t *prob_out)
{
        static const char *const bases[] = {
                "", "https://sr.example.com:8443/base",
        };
        const char *qs = strchr(target, '?');
        sr_http_problem_t prob = { 0 };
        sr_http_query_t q;
        char path[1024];
        json_t *page;

        if (sr_http_query_parse(route->id, qs ? qs + 1 : "",
                                qs ? strlen(qs + 1) : 0, &q,
                                &prob) != SR_OK) {
                envelope_problem(&prob);
                *prob_out = prob;
                return;
        }
        snprintf(path, sizeof(path), "%.*s", (int)strcspn(target, "?#"),
                 target);
        /* Counts around the offset exercise next/previous both ways. */
        for (uint64_t count = 0; count < 6; count++) {
                uint64_t c = count % 3 == 0 ? 0 :
                             count % 3 == 1 ? q.offset + 1 : UINT64_MAX / 2;

                page = sr_http_page(bases[count / 3], path, &q, c,
                                    json_array());
                if (!page)
                        fuzz_fail("sr_http_page", "NULL");
                envelope_content(page);
                json_decref(page);
        }
}

static void run_spec(const char *body, size_t len, sr_http_problem_t *prob_out)
{
        sr_http_problem_t prob = { 0 };
        sr_errctx_t ec = { 0 };
        sr_runspec_t spec, again;
        char *text;

        if (sr_http_parse_run_spec(body, len, 0, NULL, &spec, &prob) != SR_OK) {
                envelope_problem(&prob);
                *prob_out = prob;
                return;
        }
        text = sr_runspec_to_json(&spec);
        if (!text)
                fuzz_fail("sr_runspec_to_json", "NULL for an accepted spec");
        if (sr_spec_json_parse(text, strlen(text), &again, &ec) != SR_OK)
                fuzz_fail("run spec re-parse", ec.msg);
        if (sr_runspec_hash(&again) != sr_runspec_hash(&spec))
                fuzz_fail("run spec re-parse", "hash differs");
        sr_runspec_fini(&again);
        free(text);
        sr_runspec_fini(&spec);
}

static void put_body(sr_route_id_t id, const char *body, size_t len,
                     sr_http_problem_t *prob_out)
{
        sr_http_problem_t prob = { 0 };
        sr_http_put_t put;

        if (sr_http_parse_put(id, body, len, 0, &put, &prob) != SR_OK) {
                envelope_problem(&prob);
                *prob_out = prob;
        } else if (put.has_device_name &&
                 strnlen(put.device_name, sizeof(put.device_name)) ==
                 sizeof(put.device_name))
                fuzz_fail("sr_http_parse_put", "device_name not terminated");
}

static void targets_body(sr_route_id_t id, const char *body, size_t len,
                         sr_http_problem_t *prob_out)
{
        sr_http_problem_t prob = { 0 };
        uint8_t d[SR_DIGEST_LEN];
        sr_errctx_t ec = { 0 };
        sr_http_append_t ap;
        sr_http_seal_t seal;
        sr_err_t err;

        if (id == SR_ROUTE_STAGE_TARGETS_SEAL)
                err = sr_http_parse_seal(body, len, 0, &seal, &prob);
        else
                err = sr_http_parse_append(body, len, 0, 10000, &ap, &prob);
        if (err) {
                envelope_problem(&prob);
                *prob_out = prob;
                return;
        }
        if (id == SR_ROUTE_STAGE_TARGETS_SEAL)
                return;
        if (sr_targets_digest(ap.targets, ap.n_targets, d, &ec) != SR_OK)
                fuzz_fail("sr_targets_digest of an accepted chunk", ec.msg);
        free(ap.targets);
}

/* Keep the first refusal in the order of checks. */
static void note(sr_http_problem_t *first, const sr_http_problem_t *prob)
{
        if (!first->status && prob->status)
                *first = *prob;
}

int fuzz_gw_run(const fuzz_gw_req_t *r, sr_http_problem_t *first)
{
        sr_http_problem_t prob = { 0 }, later = { 0 };
        char enterprise[SR_SHORT_MAX];
        sr_route_t route;
        bool authed, body_route, write_route;

        auth_init();
        memset(first, 0, sizeof(*first));
        if (sr_http_route(r->method, r->target, &route, &prob) != SR_OK) {
                envelope_problem(&prob);
                note(first, &prob);
                route.id = SR_ROUTE_NONE;
        }
        authed = sr_auth_check(auth, r->authorization, enterprise);
        if (authed &&
            strnlen(enterprise, sizeof(enterprise)) == sizeof(enterprise))
                fuzz_fail("sr_auth_check", "enterprise not terminated");
        if (route.id != SR_ROUTE_NONE && sr_route_needs_auth(route.id) &&
            !authed)
                sr_http_problem_set(&later, 401, "missing or unknown token");
        note(first, &later);
        body_route = route.id != SR_ROUTE_NONE && sr_route_has_body(route.id);
        if (sr_http_check_content_type(r->content_type, &prob) != SR_OK) {
                envelope_problem(&prob);
                if (body_route)
                        note(first, &prob);
        }
        /* as sr_gateway_handle(): every write's key, then a DELETE's
         * (absent) body */
        write_route = route.id != SR_ROUTE_NONE && sr_route_is_write(route.id);
        if (sr_http_check_idempotency_key(r->idempotency_key, &prob) !=
            SR_OK) {
                envelope_problem(&prob);
                if (write_route)
                        note(first, &prob);
        }
        if (write_route &&
            sr_http_check_no_body(route.id, r->body_len, &prob) != SR_OK) {
                envelope_problem(&prob);
                note(first, &prob);
        }
        memset(&prob, 0, sizeof(prob));
        if (route.id != SR_ROUTE_NONE && sr_route_is_list(route.id)) {
                list_route(&route, r->target, &prob);
        } else if (route.id == SR_ROUTE_RUNS_CREATE) {
                run_spec(r->body, r->body_len, &prob);
        } else if (route.id == SR_ROUTE_PIPELINE_RUN_PUT ||
                   route.id == SR_ROUTE_STAGE_RUN_PUT ||
                   route.id == SR_ROUTE_TARGET_RUN_PUT) {
                put_body(route.id, r->body, r->body_len, &prob);
        } else if (route.id == SR_ROUTE_PIPELINE_RUNS_CREATE) {
                if (sr_http_parse_start_run(r->body, r->body_len, 0,
                                            &prob) != SR_OK)
                        envelope_problem(&prob);
        } else if (route.id == SR_ROUTE_STAGE_TARGETS_APPEND ||
                   route.id == SR_ROUTE_STAGE_TARGETS_SEAL) {
                targets_body(route.id, r->body, r->body_len, &prob);
        } else if (r->body_len > 0) {
                json_t *obj = NULL;

                if (sr_http_load_object(r->body, r->body_len, 0, &obj,
                                        &prob) == SR_OK)
                        json_decref(obj);
                else
                        envelope_problem(&prob);
                memset(&prob, 0, sizeof(prob)); /* bodies are ignored */
        }
        note(first, &prob);
        return first->status ? first->status : 200;
}
