/* common/gateway/sr_gw_registry.c - the Confluent Schema Registry read API
 * over the built-in schemas (sr_gateway_int.h; docs/api-decisions.md,
 * "Schema registry"; docs/schemas.md).
 *
 * Subjects follow the TopicNameStrategy of a stock serializer:
 * "<topic.prefix><topic>-value" for each topic whose value is one of our
 * schemas; each has the versions compiled into the binaries (commands
 * and the changelog: 1 and 2, the others 1: sr_schema_versions()), each
 * under the id the
 * process writes or reads it with: schemas/registry.tsv's, or with
 * schema.registry.url set the external registry's (sr_conf_t.schema_ids).
 * Answers are the registry's, not the envelope:
 * application/vnd.schemaregistry.v1+json, errors as
 * {"error_code": 40401, "message": "..."}.
 *
 * The write paths a serializer or a process registering its schemas uses
 * are answered as a registry that already holds exactly these schemas:
 * POST /subjects/{subject}/versions and POST /subjects/{subject} with one
 * of the subject's versions give its id (and version); any other schema is
 * refused (409 incompatible, resp. 40403 not found), nothing is ever
 * stored.
 */
#include "sr_gateway_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_outbox.h"
#include "sr_registry.h"

#define REG_CTYPE "application/vnd.schemaregistry.v1+json"
#define SUBJECT_MAX 256

/* The subjects are sr_registry_subjects (sr_registry.h), the table the
 * registration at start-up uses too. The compatibility level of a subject:
 * the rule docs/schemas.md gives its topic. The changelog and the commands
 * may gain union branches (BACKWARD: their only readers are sr's own
 * processes, upgraded first), the others only fields with defaults
 * (FULL). */
static const char *compat_of(const sr_registry_subject_t *s)
{
        return s->topic == SR_TOPIC_CHANGELOG ||
                               s->topic == SR_TOPIC_COMMANDS ?
                       "BACKWARD_TRANSITIVE" :
                       "FULL_TRANSITIVE";
}

/* The level of GET /config: the rule every subject keeps (a reader with
 * today's schema reads every older record). */
#define GLOBAL_COMPAT "BACKWARD_TRANSITIVE"

static void subject_name(const sr_gateway_t *gw, const sr_registry_subject_t *s,
                         char out[SUBJECT_MAX])
{
        snprintf(out, SUBJECT_MAX, "%s%s-value", gw->conf->topic_prefix,
                 sr_topic_suffix(s->topic));
}

void sr_gateway__registry_error(sr_gw_response_t *resp, int status,
                                int code, const char *fmt, ...)
{
        char msg[SR_HTTP_MSG_MAX];
        json_t *j;
        char *text;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        j = json_pack("{s:i,s:s}", "error_code", code, "message", msg);
        text = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        resp->status = text ? status : 500;
        resp->content_type = REG_CTYPE;
        resp->body.ptr = text ? text : strdup("{\"error_code\":50001,"
                                              "\"message\":\"out of "
                                              "memory\"}");
        resp->body.len = resp->body.ptr ? strlen(resp->body.ptr) : 0;
}

/* Takes @p j. */
static void answer(sr_gw_response_t *resp, json_t *j)
{
        char *text = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

        json_decref(j);
        if (!text) {
                sr_gateway__registry_error(resp, 500, 50001, "out of memory");
                return;
        }
        resp->status = 200;
        resp->content_type = REG_CTYPE;
        resp->body.ptr = text;
        resp->body.len = strlen(text);
}

static bool hexval(char c, unsigned *v)
{
        if (c >= '0' && c <= '9')
                *v = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
                *v = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
                *v = (unsigned)(c - 'A' + 10);
        else
                return false;
        return true;
}

/* One path segment, percent-decoded (a client quotes the subject). False
 * when it does not fit or holds a bad escape or a NUL. */
static bool seg_decode(const char *p, size_t len, char out[SUBJECT_MAX])
{
        size_t o = 0;

        for (size_t i = 0; i < len; i++) {
                unsigned hi, lo;
                char c = p[i];

                if (c == '%') {
                        if (i + 2 >= len || !hexval(p[i + 1], &hi) ||
                            !hexval(p[i + 2], &lo))
                                return false;
                        c = (char)(hi << 4 | lo);
                        i += 2;
                }
                if (c == '\0' || o + 1 >= SUBJECT_MAX)
                        return false;
                out[o++] = c;
        }
        out[o] = '\0';
        return true;
}

static const sr_registry_subject_t *find_subject(const sr_gateway_t *gw,
                                              const char *name)
{
        char have[SUBJECT_MAX];

        for (size_t i = 0; i < SR_REGISTRY_N_SUBJECTS; i++) {
                subject_name(gw, &sr_registry_subjects[i], have);
                if (!strcmp(have, name))
                        return &sr_registry_subjects[i];
        }
        return NULL;
}

/* The subject a path segment names; NULL after answering 40401. */
static const sr_registry_subject_t *subject_of(const sr_gateway_t *gw,
                                            const char *seg, size_t len,
                                            sr_gw_response_t *resp)
{
        char name[SUBJECT_MAX];
        const sr_registry_subject_t *s = NULL;

        if (seg_decode(seg, len, name))
                s = find_subject(gw, name);
        if (!s)
                sr_gateway__registry_error(resp, 404, 40401,
                                           "Subject not found");
        return s;
}

/* The id version @p v of @p s goes by in this process. */
static int wire_id(const sr_gateway_t *gw, const sr_registry_subject_t *s,
                   int v)
{
        return (int)sr_schema_version_id(&gw->conf->schema_ids, s->schema,
                                         v);
}

/* The schema text of version @p v of @p s. */
static const char *text_of(const sr_registry_subject_t *s, int v)
{
        return sr_codec_schema_json(sr_schema_version_id(NULL, s->schema, v));
}

/* The subject and version (*vp) that @p id stands for, or NULL. */
static const sr_registry_subject_t *find_id(const sr_gateway_t *gw, long id,
                                            int *vp)
{
        for (size_t i = 0; i < SR_REGISTRY_N_SUBJECTS; i++) {
                const sr_registry_subject_t *s = &sr_registry_subjects[i];

                for (int v = 1; v <= sr_schema_versions(s->schema); v++) {
                        if (wire_id(gw, s, v) == id) {
                                *vp = v;
                                return s;
                        }
                }
        }
        return NULL;
}

/* A decimal integer in [1, 2^31-1] filling the whole segment; 0 if not. */
static long parse_pos(const char *p, size_t len)
{
        long v = 0;

        if (len == 0 || len > 10)
                return 0;
        for (size_t i = 0; i < len; i++) {
                if (p[i] < '0' || p[i] > '9')
                        return 0;
                v = v * 10 + (p[i] - '0');
        }
        return v <= 2147483647L ? v : 0;
}

static void not_found_path(sr_gw_response_t *resp)
{
        sr_gateway__registry_error(resp, 404, 404, "HTTP 404 Not Found");
}

static void schema_by_id(sr_gateway_t *gw, const char *seg, size_t len,
                         bool versions, sr_gw_response_t *resp)
{
        const sr_registry_subject_t *s;
        char name[SUBJECT_MAX], idtext[16];
        long id = parse_pos(seg, len);
        int v = 0;

        if (!id) {
                snprintf(idtext, sizeof(idtext), "%.*s",
                         (int)(len < 12 ? len : 12), seg);
                sr_gateway__registry_error(resp, 404, 40403,
                                           "Schema %s not found", idtext);
                return;
        }
        s = find_id(gw, id, &v);
        if (!s) {
                sr_gateway__registry_error(resp, 404, 40403,
                                           "Schema %ld not found", id);
                return;
        }
        if (!versions) {
                /* AVRO is the default type: Confluent leaves schemaType
                 * out for it. */
                answer(resp, json_pack("{s:s}", "schema", text_of(s, v)));
                return;
        }
        subject_name(gw, s, name);
        answer(resp, json_pack("[{s:s,s:i}]", "subject", name, "version", v));
}

static void subjects(sr_gateway_t *gw, sr_gw_response_t *resp)
{
        json_t *arr = json_array();
        char name[SUBJECT_MAX];

        for (size_t i = 0; arr && i < SR_REGISTRY_N_SUBJECTS; i++) {
                subject_name(gw, &sr_registry_subjects[i], name);
                json_array_append_new(arr, json_string(name));
        }
        answer(resp, arr);
}

/* /subjects/{subject}/versions[/{version}[/schema]] after "subjects". */
static void subject_paths(sr_gateway_t *gw, const char *segs[],
                          const size_t lens[], unsigned n,
                          sr_gw_response_t *resp)
{
        const sr_registry_subject_t *s;
        char name[SUBJECT_MAX];
        json_t *all;
        bool latest;
        int nv;
        long v;

        if (n < 3 || n > 5 || lens[2] != 8 || memcmp(segs[2], "versions", 8) ||
            (n == 5 && (lens[4] != 6 || memcmp(segs[4], "schema", 6)))) {
                not_found_path(resp);
                return;
        }
        s = subject_of(gw, segs[1], lens[1], resp);
        if (!s)
                return;
        nv = sr_schema_versions(s->schema);
        if (n == 3) {
                all = json_array();
                for (int k = 1; all && k <= nv; k++)
                        json_array_append_new(all, json_integer(k));
                answer(resp, all);
                return;
        }
        latest = (lens[3] == 6 && !memcmp(segs[3], "latest", 6)) ||
                 (lens[3] == 2 && !memcmp(segs[3], "-1", 2));
        v = latest ? nv : parse_pos(segs[3], lens[3]);
        if (!v) {
                sr_gateway__registry_error(
                        resp, 422, 42202,
                        "The specified version '%.*s' is not a valid "
                        "version id. Allowed values are between [1, "
                        "2^31-1] and the string \"latest\"",
                        (int)(lens[3] < 40 ? lens[3] : 40), segs[3]);
                return;
        }
        if (v > nv) {
                sr_gateway__registry_error(resp, 404, 40402,
                                           "Version not found");
                return;
        }
        if (n == 5) {
                const char *js = text_of(s, (int)v);

                resp->status = 200;
                resp->content_type = REG_CTYPE;
                resp->body.ptr = strdup(js);
                resp->body.len = resp->body.ptr ? strlen(js) : 0;
                if (!resp->body.ptr)
                        sr_gateway__registry_error(resp, 500, 50001,
                                                   "out of memory");
                return;
        }
        subject_name(gw, s, name);
        answer(resp, json_pack("{s:s,s:i,s:i,s:s}", "subject", name,
                               "version", (int)v, "id",
                               wire_id(gw, s, (int)v), "schema",
                               text_of(s, (int)v)));
}

/* The schema of a registration or lookup body ({"schema": "<text>",
 * "schemaType"?: "AVRO", "references"?: []}), parsed; NULL after answering
 * 422 / 42201 (Confluent's "invalid schema"). Caller owns it. */
static json_t *posted_schema(const sr_gw_request_t *req,
                             sr_gw_response_t *resp)
{
        json_t *body = json_loadb(req->body, req->body_len, 0, NULL);
        json_t *text = json_object_get(body, "schema");
        json_t *type = json_object_get(body, "schemaType");
        json_t *refs = json_object_get(body, "references");
        json_t *schema = NULL;
        const char *why = NULL;

        if (!json_is_object(body))
                why = "the body is not a JSON object";
        else if (!json_is_string(text))
                why = "no \"schema\" string";
        else if (type && !(json_is_string(type) &&
                           !strcmp(json_string_value(type), "AVRO")))
                why = "schemaType: only AVRO is held here";
        else if (refs && !(json_is_array(refs) && !json_array_size(refs)))
                why = "references: none are held here";
        else if (!(schema = json_loads(json_string_value(text),
                                       JSON_DECODE_ANY, NULL)))
                why = "the schema is not JSON";
        json_decref(body);
        if (why)
                sr_gateway__registry_error(resp, 422, 42201,
                                           "Invalid schema: %s", why);
        return schema;
}

/* POST /subjects/{subject}/versions (register) and POST
 * /subjects/{subject} (look up): only the subject's own versions, compared
 * as parsed JSON (key order and blanks do not matter), are known. */
static void subject_post(sr_gateway_t *gw, const sr_gw_request_t *req,
                         const char *segs[], const size_t lens[], unsigned n,
                         sr_gw_response_t *resp)
{
        const sr_registry_subject_t *s;
        json_t *posted, *ours;
        char name[SUBJECT_MAX];
        int v, same = 0;

        s = subject_of(gw, segs[1], lens[1], resp);
        if (!s)
                return;
        if (req->body_too_large) {
                sr_gateway__registry_error(resp, 413, 413,
                                           "request body over "
                                           "gateway.body.max.bytes");
                return;
        }
        posted = posted_schema(req, resp);
        if (!posted)
                return;
        for (v = 1; !same && v <= sr_schema_versions(s->schema); v++) {
                ours = json_loads(text_of(s, v), 0, NULL);
                if (ours && json_equal(posted, ours))
                        same = v;
                json_decref(ours);
        }
        json_decref(posted);
        subject_name(gw, s, name);
        if (!same && n == 3) {
                sr_gateway__registry_error(
                        resp, 409, 409,
                        "Schema being registered is incompatible with an "
                        "earlier schema for subject \"%s\": this registry "
                        "holds only sr's built-in %s", name,
                        sr_codec_schema_name(sr_schema_builtin_id(
                                s->schema)));
                return;
        }
        if (!same) {
                sr_gateway__registry_error(resp, 404, 40403,
                                           "Schema not found");
                return;
        }
        if (n == 3)
                answer(resp, json_pack("{s:i}", "id", wire_id(gw, s, same)));
        else
                answer(resp, json_pack("{s:s,s:i,s:i,s:s}", "subject", name,
                                       "version", same, "id",
                                       wire_id(gw, s, same), "schema",
                                       text_of(s, same)));
}

/* /config and /config/{subject}. */
static void config(sr_gateway_t *gw, const char *segs[], const size_t lens[],
                   unsigned n, sr_gw_response_t *resp)
{
        const sr_registry_subject_t *s;

        if (n == 1) {
                answer(resp, json_pack("{s:s}", "compatibilityLevel",
                                       GLOBAL_COMPAT));
                return;
        }
        if (n != 2) {
                not_found_path(resp);
                return;
        }
        s = subject_of(gw, segs[1], lens[1], resp);
        if (!s)
                return;
        answer(resp, json_pack("{s:s}", "compatibilityLevel", compat_of(s)));
}

/* Whether @p method is one of @p allow's ", "-separated tokens. */
static bool method_in(const char *allow, const char *method)
{
        size_t n = strlen(method);

        for (const char *p = allow; *p; p += strspn(p, ", ")) {
                size_t len = strcspn(p, ", ");

                if (len == n && !memcmp(p, method, n))
                        return true;
                p += len;
        }
        return false;
}

void sr_gateway__registry(sr_gateway_t *gw, const sr_gw_request_t *req,
                          sr_gw_response_t *resp)
{
        const char *path = req->target;
        size_t plen = strcspn(path, "?#");
        const char *segs[6];
        size_t lens[6];
        unsigned n = 0;
        size_t i = 1;
        const char *allow;
        bool post = !strcmp(req->method, "POST"), subj, versions;

        /* Segments of "/a/b/c", one trailing slash allowed. */
        if (plen > 1 && path[plen - 1] == '/')
                plen--;
        while (i <= plen && n < 6) {
                size_t start = i;

                while (i < plen && path[i] != '/')
                        i++;
                if (i == start) {
                        not_found_path(resp);
                        return;
                }
                segs[n] = path + start;
                lens[n++] = i - start;
                i++;
        }
        if (i <= plen || n == 0) {
                not_found_path(resp);
                return;
        }
        /* The path, then the method: GET everywhere but on
         * /subjects/{subject} (POST: lookup) and
         * /subjects/{subject}/versions (GET, POST: register). */
        subj = lens[0] == 8 && !memcmp(segs[0], "subjects", 8);
        versions = subj && n == 3 && lens[2] == 8 &&
                   !memcmp(segs[2], "versions", 8);
        allow = subj && n == 2 ? "POST" : versions ? "GET, POST" : "GET";
        if (!method_in(allow, req->method)) {
                snprintf(resp->allow, sizeof(resp->allow), "%s", allow);
                sr_gateway__registry_error(resp, 405, 405,
                                           "HTTP 405 Method Not Allowed: "
                                           "this registry holds sr's "
                                           "built-in schemas only");
                return;
        }
        if (lens[0] == 7 && !memcmp(segs[0], "schemas", 7)) {
                if (n >= 3 && n <= 4 && lens[1] == 3 &&
                    !memcmp(segs[1], "ids", 3) &&
                    (n == 3 || (lens[3] == 8 &&
                                !memcmp(segs[3], "versions", 8))))
                        schema_by_id(gw, segs[2], lens[2], n == 4, resp);
                else
                        not_found_path(resp);
        } else if (subj) {
                if (post)
                        subject_post(gw, req, segs, lens, n, resp);
                else if (n == 1)
                        subjects(gw, resp);
                else
                        subject_paths(gw, segs, lens, n, resp);
        } else {
                config(gw, segs, lens, n, resp);
        }
}
