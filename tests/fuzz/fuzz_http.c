/* tests/fuzz/fuzz_http.c - libFuzzer target: the gateway's request path
 * without sockets, in the order sr_gateway_handle() takes it.
 *
 * Input: six header lines then the body, all of it untrusted:
 *   METHOD \n TARGET \n AUTHORIZATION \n CONTENT-TYPE \n IDEMPOTENCY-KEY \n
 *   HOST \n BODY...
 * The Host line is read and ignored, as the gateway ignores the header: no
 * answer depends on it (links are relative, or under gateway.public.url).
 * A header line that is exactly "-" is an absent header (NULL). Each piece
 * is copied into its own exactly-sized heap block, so any read past its end
 * is an ASan report.
 *
 * Covered: routing (sr_http_route), the query of list routes
 * (sr_http_query_parse) and the page links built from it (sr_http_page,
 * relative and under a public URL), the Authorization header
 * (sr_auth_check), Content-Type and Idempotency-Key checks, the JSON bodies (run spec of POST /v0/runs/, the status
 * PUT bodies of pipeline, stage and target runs) and the envelopes of
 * answers and refusals. A run spec that parses is re-encoded
 * (sr_runspec_to_json) and must parse again to the same spec hash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sr_auth.h"
#include "sr_http.h"
#include "sr_spec_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_options(void);

/* avro-c keeps a union's branch right after its int discriminant, so the
 * pointers of a value inside a union (array storage, strings) sit on
 * 4-byte boundaries, where LeakSanitizer does not look by default: it then
 * reports reachable memory as leaked. use_unaligned makes it look. */
const char *__lsan_default_options(void)
{
        return "use_unaligned=1";
}

#define N_LINES 6

static sr_auth_t *auth;

static void fail(const char *what, const char *msg)
{
        fprintf(stderr, "fuzz_http: %s: %s\n", what, msg);
        abort();
}

static void auth_init(void)
{
        sr_errctx_t ec = { 0 };

        if (!auth && sr_auth_new(NULL, "tok-acme-0123456789:acme,"
                                 "short:beta,Bearer:gamma", &auth,
                                 &ec) != SR_OK)
                fail("sr_auth_new", ec.msg);
}

/* Copy @p n bytes into an exactly-sized NUL-terminated heap block. */
static char *dup_n(const uint8_t *p, size_t n)
{
        char *s = malloc(n + 1);

        if (!s)
                abort();
        memcpy(s, p, n);
        s[n] = '\0';
        return s;
}

/* Every envelope is valid JSON: build it and throw it away. */
static void envelope_problem(const sr_http_problem_t *prob)
{
        sr_buf_t out = { 0 };

        if (prob->status < 400 || prob->status > 599)
                fail("problem", "status outside 4xx/5xx");
        if (sr_http_problem_envelope(prob, &out) != SR_OK)
                fail("problem envelope", "failed");
        sr_buf_free(&out);
}

static void envelope_content(json_t *content)
{
        sr_buf_t out = { 0 };

        if (sr_http_envelope(200, "OK", content, &out) != SR_OK)
                fail("envelope", "failed");
        sr_buf_free(&out);
}

static void list_route(const sr_route_t *route, const char *target)
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
                        fail("sr_http_page", "NULL");
                envelope_content(page);
                json_decref(page);
        }
}

static void run_spec(const char *body, size_t len)
{
        sr_http_problem_t prob = { 0 };
        sr_errctx_t ec = { 0 };
        sr_runspec_t spec, again;
        char *text;

        if (sr_http_parse_run_spec(body, len, 0, &spec, &prob) != SR_OK) {
                envelope_problem(&prob);
                return;
        }
        text = sr_runspec_to_json(&spec);
        if (!text)
                fail("sr_runspec_to_json", "NULL for an accepted spec");
        if (sr_spec_json_parse(text, strlen(text), &again, &ec) != SR_OK)
                fail("run spec re-parse", ec.msg);
        if (sr_runspec_hash(&again) != sr_runspec_hash(&spec))
                fail("run spec re-parse", "hash differs");
        sr_runspec_fini(&again);
        free(text);
        sr_runspec_fini(&spec);
}

static void put_body(sr_route_id_t id, const char *body, size_t len)
{
        sr_http_problem_t prob = { 0 };
        sr_http_put_t put;

        if (sr_http_parse_put(id, body, len, 0, &put, &prob) != SR_OK)
                envelope_problem(&prob);
        else if (put.has_device_name &&
                 strnlen(put.device_name, sizeof(put.device_name)) ==
                 sizeof(put.device_name))
                fail("sr_http_parse_put", "device_name not terminated");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *line[N_LINES] = { 0 };
        const char *hdr[N_LINES];
        const uint8_t *p = data, *end = data + size, *nl;
        sr_http_problem_t prob = { 0 };
        char enterprise[SR_SHORT_MAX];
        sr_route_t route;
        char *body;
        size_t body_len;

        auth_init();
        for (int i = 0; i < N_LINES; i++) {
                nl = memchr(p, '\n', (size_t)(end - p));
                if (!nl)
                        nl = end;
                line[i] = dup_n(p, (size_t)(nl - p));
                hdr[i] = strcmp(line[i], "-") == 0 ? NULL : line[i];
                p = nl < end ? nl + 1 : end;
        }
        body_len = (size_t)(end - p);
        body = dup_n(p, body_len);

        /* method, target, authorization, content-type, idem key; hdr[5]
         * (host) unused */
        if (sr_http_route(hdr[0], hdr[1], &route, &prob) != SR_OK) {
                envelope_problem(&prob);
                route.id = SR_ROUTE_NONE;
        }
        if (sr_auth_check(auth, hdr[2], enterprise) &&
            strnlen(enterprise, sizeof(enterprise)) == sizeof(enterprise))
                fail("sr_auth_check", "enterprise not terminated");
        if (route.id == SR_ROUTE_PIPELINE_RUNS_CREATE) {
                sr_http_stored_definition_problem(&route.pipeline_id, &prob);
                envelope_problem(&prob);
        }
        if (sr_http_check_content_type(hdr[3], &prob) != SR_OK)
                envelope_problem(&prob);
        if (sr_http_check_idempotency_key(hdr[4], &prob) != SR_OK)
                envelope_problem(&prob);
        if (route.id != SR_ROUTE_NONE && sr_route_is_list(route.id)) {
                list_route(&route, hdr[1]);
        } else if (route.id == SR_ROUTE_RUNS_CREATE) {
                run_spec(body, body_len);
        } else if (route.id == SR_ROUTE_PIPELINE_RUN_PUT ||
                   route.id == SR_ROUTE_STAGE_RUN_PUT ||
                   route.id == SR_ROUTE_TARGET_RUN_PUT) {
                put_body(route.id, body, body_len);
        } else if (body_len > 0) {
                json_t *obj = NULL;

                if (sr_http_load_object(body, body_len, 0, &obj,
                                        &prob) == SR_OK)
                        json_decref(obj);
                else
                        envelope_problem(&prob);
        }

        free(body);
        for (int i = 0; i < N_LINES; i++)
                free(line[i]);
        return 0;
}
