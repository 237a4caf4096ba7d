/* common/gateway/sr_http_body.c - request headers and bodies of the
 * writes: Content-Type and Idempotency-Key checks, loading a JSON object
 * (size and depth bounded), the PUT bodies, the run spec of a POST, an
 * open stage's chunk and seal. */
#include "sr_http_int.h"

#include <math.h>
#include <string.h>
#include <strings.h>

#include "sr_sha256.h"
#include "sr_spec_json.h"

sr_err_t sr_http_check_content_type(const char *ct, sr_http_problem_t *prob)
{
        static const char type[] = "application/json";
        char shown[QUOTE_MAX];
        const char *p = ct, *name, *val;
        size_t nlen, vlen;

        if (!ct)
                return sr_http__refuse(prob, 415, "Content-Type missing; a "
                                       "write must send application/json");
        sr_http__quote(shown, ct, strlen(ct));
        while (*p == ' ' || *p == '\t')
                p++;
        if (strncasecmp(p, type, sizeof(type) - 1))
                goto refused;
        p += sizeof(type) - 1;
        /* parameters = *( OWS ";" OWS [ name "=" value ] ), RFC 9110 */
        for (;;) {
                while (*p == ' ' || *p == '\t')
                        p++;
                if (!*p)
                        return SR_OK;
                if (*p != ';')
                        goto refused;
                p++;
                while (*p == ' ' || *p == '\t')
                        p++;
                if (!*p || *p == ';')
                        continue;
                name = p;
                while (*p && *p != '=' && *p != ';' && *p != ' ' &&
                       *p != '\t')
                        p++;
                nlen = (size_t)(p - name);
                if (*p != '=' || nlen != 7 || strncasecmp(name, "charset", 7))
                        goto refused;
                p++;
                if (*p == '"') {
                        val = ++p;
                        while (*p && *p != '"')
                                p++;
                        if (*p != '"')
                                goto refused;
                        vlen = (size_t)(p - val);
                        p++;
                } else {
                        val = p;
                        while (*p && *p != ';' && *p != ' ' && *p != '\t')
                                p++;
                        vlen = (size_t)(p - val);
                }
                if (vlen != 5 || strncasecmp(val, "utf-8", 5))
                        goto refused;
        }
refused:
        return sr_http__refuse(prob, 415, "Content-Type must be "
                               "application/json (optionally with "
                               "charset=utf-8), got %s", shown);
}

sr_err_t sr_http_check_idempotency_key(const char *key,
                                       sr_http_problem_t *prob)
{
        char shown[QUOTE_MAX];
        size_t len;

        if (!key)
                return SR_OK;
        len = strlen(key);
        if (len == 0 || len > SR_HTTP_IDEM_KEY_MAX)
                goto refused;
        for (size_t i = 0; i < len; i++)
                if (key[i] < '!' || key[i] > '~')
                        goto refused;
        return SR_OK;
refused:
        sr_http__quote(shown, key, len);
        return sr_http__refuse(prob, 400, "Idempotency-Key: expected 1 to %d "
                               "visible ASCII characters (no space), e.g. a "
                               "UUID; got %s (%zu bytes)", SR_HTTP_IDEM_KEY_MAX,
                               shown, len);
}

sr_err_t sr_http_check_no_body(sr_route_id_t route, size_t len,
                               sr_http_problem_t *prob)
{
        if (len == 0 || !sr_route_is_write(route) || sr_route_has_body(route))
                return SR_OK;
        return sr_http__refuse(prob, 400, "body: a DELETE takes none (%zu "
                               "bytes sent); send it without a body",
                               len);
}

/* Deepest nesting of arrays and objects in @p s, counted outside strings;
 * stops counting once past @p max. Malformed text is left to jansson. */
static size_t json_text_depth(const void *text, size_t len, size_t max)
{
        const char *s = text;
        size_t depth = 0, deepest = 0;
        bool in_str = false;

        for (size_t i = 0; i < len && deepest <= max; i++) {
                char c = s[i];

                if (in_str) {
                        if (c == '\\')
                                i++;
                        else if (c == '"')
                                in_str = false;
                } else if (c == '"') {
                        in_str = true;
                } else if (c == '[' || c == '{') {
                        if (++depth > deepest)
                                deepest = depth;
                } else if ((c == ']' || c == '}') && depth > 0) {
                        depth--;
                }
        }
        return deepest;
}

sr_err_t sr_http_load_object(const void *body, size_t len, size_t max_len,
                             json_t **out, sr_http_problem_t *prob)
{
        char shown[QUOTE_MAX];
        json_error_t jerr;
        json_t *root;

        if (max_len == 0)
                max_len = SR_HTTP_BODY_MAX_DEFAULT;
        if (len > max_len)
                return sr_http__refuse(prob, 413, "body too large (%zu bytes, "
                                       "at most %zu)", len, max_len);
        if (!body || len == 0)
                return sr_http__refuse(prob, 400, "body: empty; expected a "
                                       "JSON object");
        if (json_text_depth(body, len, SR_HTTP_MAX_DEPTH) >
            SR_HTTP_MAX_DEPTH)
                return sr_http__refuse(prob, 400, "body: nested too deeply (at "
                                       "most %d levels of arrays and objects)",
                                       SR_HTTP_MAX_DEPTH);
        root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                          &jerr);
        /* An integer past int64 (say in a run spec's args, which keep its
         * digits): read it as a real rather than refuse the body. */
        if (!root && json_error_code(&jerr) == json_error_numeric_overflow)
                root = json_loadb(body, len,
                                  JSON_REJECT_DUPLICATES | JSON_DECODE_ANY |
                                          JSON_DECODE_INT_AS_REAL,
                                  &jerr);
        if (!root) {
                if (json_error_code(&jerr) == json_error_out_of_memory)
                        return sr_http__out_of_memory(prob);
                return sr_http__refuse(prob, 400, "body: malformed JSON at "
                                       "line %d column %d: %s", jerr.line,
                                       jerr.column, jerr.text);
        }
        if (!json_is_object(root)) {
                sr_http__show_json(shown, root);
                json_decref(root);
                return sr_http__refuse(prob, 400, "body: expected a JSON "
                                       "object, got %s", shown);
        }
        *out = root;
        return SR_OK;
}

static uint32_t put_statuses(sr_route_id_t route)
{
        switch (route) {
        case SR_ROUTE_PIPELINE_RUN_PUT:
                return PIPELINE_RUN_STATUSES;
        case SR_ROUTE_STAGE_RUN_PUT:
                return STAGE_RUN_STATUSES;
        case SR_ROUTE_TARGET_RUN_PUT:
                return TARGET_RUN_PUT_STATUSES;
        default:
                return 0;
        }
}

static sr_err_t put_field(sr_route_id_t route, const char *key,
                          const json_t *v, sr_http_put_t *put,
                          bool *have_status, sr_http_problem_t *prob)
{
        bool target = route == SR_ROUTE_TARGET_RUN_PUT;
        uint32_t mask = put_statuses(route);
        char shown[QUOTE_MAX], names[160];
        size_t len;

        if (!strcmp(key, "status")) {
                if (!json_is_string(v)) {
                        sr_http__show_json(shown, v);
                        return sr_http__refuse(prob, 400, "status: expected a "
                                               "string, got %s", shown);
                }
                if (!sr_http__parse_status_in(json_string_value(v),
                                              json_string_length(v), mask,
                                              &put->status)) {
                        sr_http__show_json(shown, v);
                        sr_http__list_statuses(names, sizeof(names), mask);
                        return sr_http__refuse(prob, 400, "status: expected "
                                               "one of %s (any case), got %s",
                                               names, shown);
                }
                *have_status = true;
                return SR_OK;
        }
        if (target && !strcmp(key, "device_name")) {
                if (json_is_null(v))
                        return SR_OK;
                if (!json_is_string(v)) {
                        sr_http__show_json(shown, v);
                        return sr_http__refuse(prob, 400, "device_name: "
                                               "expected a string or null, got "
                                               "%s", shown);
                }
                len = json_string_length(v);
                if (len >= sizeof(put->device_name))
                        return sr_http__refuse(prob, 400, "device_name: too "
                                               "long (%zu bytes, at most %zu)",
                                               len,
                                               sizeof(put->device_name) - 1);
                memcpy(put->device_name, json_string_value(v), len + 1);
                put->has_device_name = true;
                return SR_OK;
        }
        sr_http__quote(shown, key, strlen(key));
        return sr_http__refuse(prob, 400, "unknown field %s; allowed: %s",
                               shown,
                               target ? "status, device_name" : "status");
}

sr_err_t sr_http_parse_put(sr_route_id_t route, const void *body, size_t len,
                           size_t max_len, sr_http_put_t *out,
                           sr_http_problem_t *prob)
{
        bool have_status = false;
        sr_http_put_t put;
        const char *key;
        json_t *root, *v;
        sr_err_t err;

        if (!put_statuses(route))
                return sr_http__refuse(prob, 500, "internal: route %s has no "
                                       "PUT body", sr_route_name(route));
        err = sr_http_load_object(body, len, max_len, &root, prob);
        if (err)
                return err;
        memset(&put, 0, sizeof(put));
        json_object_foreach(root, key, v) {
                err = put_field(route, key, v, &put, &have_status, prob);
                if (err)
                        goto out_decref;
        }
        if (!have_status) {
                err = sr_http__refuse(prob, 400, "status: required field "
                                      "missing");
                goto out_decref;
        }
        *out = put;
out_decref:
        json_decref(root);
        return err;
}

sr_err_t sr_http_parse_command_write(sr_route_id_t route, const void *body,
                                     size_t len, size_t max_len,
                                     sr_http_problem_t *prob)
{
        char shown[QUOTE_MAX];
        bool have = false;
        const char *key;
        json_t *root, *v;
        sr_err_t err;

        if (sr_route_body_optional(route) && len == 0)
                return SR_OK; /* no body is an empty one */
        err = sr_http_load_object(body, len, max_len, &root, prob);
        if (err)
                return err;
        /* POST: the command sent again is the target run's own, so the
         * reference's free-form AndroidCommandRequest could only be
         * ignored; a field in it is refused rather than silently dropped. */
        if (route == SR_ROUTE_TARGET_RUN_COMMAND_SEND) {
                if (json_object_size(root)) {
                        key = json_object_iter_key(json_object_iter(root));
                        sr_http__quote(shown, key, strlen(key));
                        err = sr_http__refuse(prob, 400, "unknown field %s: "
                                              "a resend sends the target "
                                              "run's own command again; send "
                                              "no body or {}", shown);
                }
                goto out_decref;
        }
        json_object_foreach(root, key, v) {
                if (strcmp(key, "request_status")) {
                        sr_http__quote(shown, key, strlen(key));
                        err = sr_http__refuse(prob, 400, "unknown field %s; "
                                              "allowed: request_status",
                                              shown);
                        goto out_decref;
                }
                if (!json_is_string(v) ||
                    strcasecmp(json_string_value(v), "cancelled")) {
                        sr_http__show_json(shown, v);
                        err = sr_http__refuse(prob, 400, "request_status: "
                                              "expected \"cancelled\" (any "
                                              "case), got %s", shown);
                        goto out_decref;
                }
                have = true;
        }
        if (!have)
                err = sr_http__refuse(prob, 400, "request_status: required "
                                      "field missing");
out_decref:
        json_decref(root);
        return err;
}

sr_err_t sr_http_parse_start_run(const void *body, size_t len,
                                 size_t max_len, sr_http_problem_t *prob)
{
        char shown[QUOTE_MAX];
        const char *key;
        json_t *root;
        sr_err_t err;

        if (len == 0)
                return SR_OK; /* no body is an empty one */
        err = sr_http_load_object(body, len, max_len, &root, prob);
        if (err)
                return err;
        /* The run is the stored definition at its current version: there
         * is nothing to choose, and a field is refused rather than
         * silently dropped. */
        if (json_object_size(root)) {
                key = json_object_iter_key(json_object_iter(root));
                sr_http__quote(shown, key, strlen(key));
                err = sr_http__refuse(prob, 400, "unknown field %s: a run "
                                      "of a stored pipeline starts from "
                                      "its definition as it is; send no "
                                      "body or {}", shown);
        }
        json_decref(root);
        return err;
}

sr_err_t sr_http_parse_run_spec(const void *body, size_t len, size_t max_len,
                                const sr_spec_limits_t *lim,
                                sr_runspec_t *out, sr_http_problem_t *prob)
{
        sr_errctx_t ec = { 0 };
        json_t *root;
        sr_err_t err;

        if (max_len == 0)
                max_len = SR_HTTP_BODY_MAX_DEFAULT;
        /* The cap, not the configured limit, refuses: say so, or a client
         * that raised gateway.body.max.bytes reads a limit it never set. */
        if (max_len > SR_SPEC_MAX_TEXT && len > SR_SPEC_MAX_TEXT)
                return sr_http__refuse(prob, 413, "body too large (%zu bytes): "
                                       "a run spec is at most %u bytes of "
                                       "JSON, whatever gateway.body.max."
                                       "bytes says", len,
                                       (unsigned)SR_SPEC_MAX_TEXT);
        if (max_len > SR_SPEC_MAX_TEXT)
                max_len = SR_SPEC_MAX_TEXT;
        err = sr_http_load_object(body, len, max_len, &root, prob);
        if (err)
                return err;
        /* sr_spec_json takes 600.0 as the integer it is (JSON Schema) */
        err = sr_spec_json_from_parsed(root, body, len, lim, out, &ec);
        json_decref(root);
        if (err == SR_ERR_NOMEM)
                return sr_http__out_of_memory(prob);
        if (err)
                return sr_http__refuse(prob, 400, "%s", ec.msg);
        return SR_OK;
}

/* An integer of @p lo..@p hi: JSON Schema, and so the OpenAPI document,
 * counts 3.0 as the integer 3 (sr_spec_json.c does the same), and
 * sr_http_load_object() reads every number as a real when one overflows
 * int64. */
static bool integer_in(const json_t *v, json_int_t lo, json_int_t hi,
                       json_int_t *out)
{
        double d, whole;

        if (json_is_integer(v)) {
                *out = json_integer_value(v);
        } else if (json_is_real(v)) {
                d = json_real_value(v);
                if (modf(d, &whole) != 0.0 || d < -9223372036854775808.0 ||
                    d >= 9223372036854775808.0)
                        return false;
                *out = (json_int_t)d;
        } else {
                return false;
        }
        return *out >= lo && *out <= hi;
}

/* "<field>: expected <what>, got <value>" */
static sr_err_t refuse_got(sr_http_problem_t *prob, const char *field,
                           const char *what, const json_t *v)
{
        char shown[QUOTE_MAX];

        sr_http__show_json(shown, v);
        return sr_http__refuse(prob, 400, "%s: expected %s, got %s", field,
                               what, shown);
}

static sr_err_t refuse_unknown(sr_http_problem_t *prob, const char *key,
                               const char *allowed)
{
        char shown[QUOTE_MAX];

        sr_http__quote(shown, key, strlen(key));
        return sr_http__refuse(prob, 400, "unknown field %s; allowed: %s",
                               shown, allowed);
}

sr_err_t sr_http_parse_append(const void *body, size_t len, size_t max_len,
                              uint32_t max_targets, sr_http_append_t *out,
                              sr_http_problem_t *prob)
{
        const json_t *chunk = NULL, *targets = NULL;
        sr_http_append_t ap = { 0 };
        sr_errctx_t ec = { 0 };
        json_int_t c = 0;
        const char *key;
        json_t *root, *v;
        sr_err_t err;

        err = sr_http_load_object(body, len, max_len, &root, prob);
        if (err)
                return err;
        json_object_foreach(root, key, v) {
                if (!strcmp(key, "chunk")) {
                        chunk = v;
                } else if (!strcmp(key, "targets")) {
                        targets = v;
                } else {
                        err = refuse_unknown(prob, key, "chunk, targets");
                        goto out_decref;
                }
        }
        if (!chunk || !targets) {
                err = sr_http__refuse(prob, 400, "%s: required field missing",
                                      chunk ? "targets" : "chunk");
                goto out_decref;
        }
        if (!integer_in(chunk, 0, INT32_MAX, &c)) {
                err = refuse_got(prob, "chunk", "a chunk index, an integer "
                                 "0..2147483647", chunk);
                goto out_decref;
        }
        ap.chunk = (uint32_t)c;
        /* The inline targets' decoder: the same checks, each item named. */
        err = sr_spec_json_targets(targets, "targets", max_targets, "chunk",
                                   "stage.chunk.targets", &ap.targets,
                                   &ap.n_targets, &ec);
        if (err == SR_ERR_NOMEM)
                err = sr_http__out_of_memory(prob);
        else if (err)
                err = sr_http__refuse(prob, 400, "%s", ec.msg);
        if (!err)
                *out = ap;
out_decref:
        json_decref(root);
        return err;
}

sr_err_t sr_http_parse_seal(const void *body, size_t len, size_t max_len,
                            sr_http_seal_t *out, sr_http_problem_t *prob)
{
        const json_t *chunks = NULL, *count = NULL, *digest = NULL;
        sr_http_seal_t seal = { 0 };
        json_int_t n = 0;
        const char *key;
        json_t *root, *v;
        sr_err_t err;

        err = sr_http_load_object(body, len, max_len, &root, prob);
        if (err)
                return err;
        json_object_foreach(root, key, v) {
                if (!strcmp(key, "chunks")) {
                        chunks = v;
                } else if (!strcmp(key, "count")) {
                        count = v;
                } else if (!strcmp(key, "digest")) {
                        digest = v;
                } else {
                        err = refuse_unknown(prob, key,
                                             "chunks, count, digest");
                        goto out_decref;
                }
        }
        if (!chunks || !count || !digest) {
                err = sr_http__refuse(prob, 400, "%s: required field missing",
                                      !chunks ? "chunks" :
                                      !count  ? "count" :
                                                "digest");
                goto out_decref;
        }
        if (!integer_in(chunks, 0, INT32_MAX, &n)) {
                err = refuse_got(prob, "chunks", "a count of chunks, an "
                                 "integer 0..2147483647", chunks);
                goto out_decref;
        }
        seal.chunks = (uint32_t)n;
        if (!integer_in(count, 0, INT64_MAX, &n)) {
                err = refuse_got(prob, "count", "a count of targets, an "
                                 "integer >= 0", count);
                goto out_decref;
        }
        seal.count = (int64_t)n;
        /* 64 hex digits, any case */
        if (!sr_sha256_parse_hex(json_string_value(digest),
                                 json_string_length(digest), seal.digest)) {
                err = refuse_got(prob, "digest", "64 hex digits (SHA-256 "
                                 "over the chunks' digests, docs/targets.md)",
                                 digest);
                goto out_decref;
        }
        *out = seal;
out_decref:
        json_decref(root);
        return err;
}

/* A name field of the add-target body: a string (at most 255 bytes, at
 * least @p min) or null (not given). */
static sr_err_t add_name(const char *field, const json_t *v, size_t min,
                         char dst[SR_NAME_MAX], bool *has,
                         sr_http_problem_t *prob)
{
        char shown[QUOTE_MAX];
        size_t len;

        if (json_is_null(v))
                return SR_OK;
        if (!json_is_string(v)) {
                sr_http__show_json(shown, v);
                return sr_http__refuse(prob, 400, "%s: expected a string or "
                                       "null, got %s", field, shown);
        }
        len = json_string_length(v);
        if (len >= SR_NAME_MAX)
                return sr_http__refuse(prob, 400, "%s: too long (%zu bytes, "
                                       "at most %d)", field, len,
                                       SR_NAME_MAX - 1);
        if (len < min)
                return sr_http__refuse(prob, 400, "%s: empty; give the "
                                       "device's name or leave it out",
                                       field);
        if (memchr(json_string_value(v), '\0', len))
                return sr_http__refuse(prob, 400, "%s: holds a NUL", field);
        memcpy(dst, json_string_value(v), len + 1);
        *has = true;
        return SR_OK;
}

sr_err_t sr_http_parse_add_target(const void *body, size_t len,
                                  size_t max_len, sr_http_add_target_t *out,
                                  sr_http_problem_t *prob)
{
        sr_http_add_target_t add;
        char shown[QUOTE_MAX];
        bool have_target = false;
        const char *key;
        json_t *root, *v;
        sr_err_t err;

        err = sr_http_load_object(body, len, max_len, &root, prob);
        if (err)
                return err;
        memset(&add, 0, sizeof(add));
        json_object_foreach(root, key, v) {
                if (!strcmp(key, "target_id")) {
                        if (!json_is_string(v) ||
                            !sr_uuid_parse(json_string_value(v),
                                           json_string_length(v),
                                           &add.target_id)) {
                                sr_http__show_json(shown, v);
                                err = sr_http__refuse(prob, 400, "target_id: "
                                                      "expected a UUID, got "
                                                      "%s", shown);
                                goto out_decref;
                        }
                        have_target = true;
                } else if (!strcmp(key, "device_name")) {
                        err = add_name("device_name", v, 1, add.device_name,
                                       &add.has_device_name, prob);
                } else if (!strcmp(key, "device_alias")) {
                        err = add_name("device_alias", v, 0,
                                       add.device_alias,
                                       &add.has_device_alias, prob);
                } else {
                        sr_http__quote(shown, key, strlen(key));
                        err = sr_http__refuse(prob, 400, "unknown field %s; "
                                              "allowed: target_id, "
                                              "device_name, device_alias",
                                              shown);
                }
                if (err)
                        goto out_decref;
        }
        if (!have_target) {
                err = sr_http__refuse(prob, 400, "target_id: required field "
                                      "missing");
                goto out_decref;
        }
        *out = add;
out_decref:
        json_decref(root);
        return err;
}
