/* common/codec/sr_spec_json.c - strict run-spec JSON decoding and encoding.
 *
 * The decoder walks the JSON tree once, keeping the path of the value it
 * looks at ("stages[1].targets[0].device_id") so that every error can name
 * it. Objects are checked field by field against what each level allows;
 * anything else is an error rather than silently ignored, so a typo in a
 * field name never turns into a default.
 */
#include "sr_spec_json.h"
#include "sr_json_writer.h"
#include "sr_spec_json_int.h"
#include "sr_json_text.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Esper's device command names (reference §3.7), the operation types. */
static const char *const op_types[] = {
        "LOCK", "REBOOT", "SET_NEW_POLICY", "UPDATE_HEARTBEAT",
        "REQUEST_BUGREPORT", "REQUEST_DPCLOG", "ADD_TO_WHITELIST",
        "REMOVE_FROM_WHITELIST", "SET_APP_PERMISSION", "WIPE",
        "CAPTURE_SCREENSHOT", "SET_WIFI_STATE", "SET_BLUETOOTH_STATE",
        "SET_ROTATION_STATE", "SET_GPS_STATE", "SET_BRIGHTNESS_SCALE",
        "SET_STREAM_VOLUME", "SET_SCREEN_OFF_TIMEOUT", "SET_ADB_STATE",
        "INITIATE_OFFER", "INSTALL", "SIMPLE_INSTALL", "UNINSTALL",
        "REFRESH_APPLIST", "UPDATE_LATEST_DPC", "NOTIFY_OTA",
        "CLEAR_APP_DATA", "SET_GEO_FENCE", "SET_KIOSK_APP",
        "SET_DEVICE_LOCKDOWN_STATE", "SET_TIMEZONE", "SET_APP_STATE",
        "ADD_WIFI_AP", "REMOVE_WIFI_AP", "UPDATE_DEVICE_CONFIG",
        "INITIATE_CONFERENCE_CALL", "ADD_OVERRIDE_APN", "SYNC_CONTENT",
        "SET_WALLPAPER",
};

_Static_assert(sizeof(op_types) / sizeof(op_types[0]) == 39,
               "Esper has 39 operation types");

const char *sr_spec_operation_type(const char *s, size_t len)
{
        for (size_t i = 0; i < sizeof(op_types) / sizeof(op_types[0]); i++)
                if (strlen(op_types[i]) == len &&
                    !strncasecmp(op_types[i], s, len))
                        return op_types[i];
        return NULL;
}

/* ------------------------------------------------------------ decoding */

struct walk {
        char path[256]; /* "stages[1].targets[0]"; "" at the root */
        size_t len;
        sr_errctx_t *ec;
        const char *text;     /* the spec as written, or NULL */
        const spans_t *spans; /* its args, when text */
        size_t stage, op;     /* indexes of the operation being read */
        sr_spec_limits_t lim;
};


static size_t path_push_key(struct walk *w, const char *key)
{
        size_t old = w->len;
        int n = snprintf(w->path + old, sizeof(w->path) - old, "%s%s",
                         old ? "." : "", key);

        if (n > 0)
                w->len = old + (size_t)n < sizeof(w->path) ?
                                 old + (size_t)n : sizeof(w->path) - 1;
        return old;
}

static size_t path_push_index(struct walk *w, size_t i)
{
        size_t old = w->len;
        int n = snprintf(w->path + old, sizeof(w->path) - old, "[%zu]", i);

        if (n > 0)
                w->len = old + (size_t)n < sizeof(w->path) ?
                                 old + (size_t)n : sizeof(w->path) - 1;
        return old;
}

static void path_pop(struct walk *w, size_t old)
{
        w->len = old;
        w->path[old] = '\0';
}

/* "<path>: <what>" */
static sr_err_t fail(struct walk *w, const char *fmt, ...) SR_PRINTF(2, 3);

static sr_err_t fail(struct walk *w, const char *fmt, ...)
{
        char what[400];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        return sr_errctx_set(w->ec, SR_ERR_INVALID, "%s: %s",
                             w->len ? w->path : "(root)", what);
}

/* "<path>: expected <what>, got <value, shortened>" */
static sr_err_t fail_got(struct walk *w, const char *expected,
                         const json_t *got)
{
        char shown[48];
        char *text = json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT);

        if (!text)
                return sr_errctx_set(w->ec, SR_ERR_NOMEM, "spec: json_dumps");
        if (strlen(text) >= sizeof(shown))
                snprintf(shown, sizeof(shown), "%.*s...",
                         (int)sizeof(shown) - 4, text);
        else
                snprintf(shown, sizeof(shown), "%s", text);
        free(text);
        return fail(w, "expected %s, got %s", expected, shown);
}

static sr_err_t get_uuid(struct walk *w, const json_t *v, sr_uuid_t *out)
{
        if (!json_is_string(v) ||
            !sr_uuid_parse(json_string_value(v), json_string_length(v), out))
                return fail_got(w, "a UUID string", v);
        return SR_OK;
}

static sr_err_t get_str(struct walk *w, const json_t *v, char *out,
                        size_t outsz)
{
        size_t len;

        if (json_is_null(v)) {
                out[0] = '\0';
                return SR_OK;
        }
        if (!json_is_string(v))
                return fail_got(w, "a string", v);
        len = json_string_length(v);
        if (len >= outsz)
                return fail(w, "string too long (%zu bytes, at most %zu)",
                            len, outsz - 1);
        memcpy(out, json_string_value(v), len + 1);
        return SR_OK;
}

static sr_err_t get_timeout(struct walk *w, const json_t *v, int64_t *out)
{
        json_int_t t;

        if (json_is_null(v)) {
                *out = 0;
                return SR_OK;
        }
        if (!sr_json_text_integral(v, &t))
                return fail_got(w, "an integer number of seconds", v);
        if (t < 1 || t > SR_SPEC_MAX_TIMEOUT)
                return fail(w, "expected 1..%d seconds, got %lld",
                            SR_SPEC_MAX_TIMEOUT, (long long)t);
        *out = (int64_t)t;
        return SR_OK;
}

/* Check that @p v is an array of at most @p max elements. */
/* An array of at most @p max @p what (per @p per, key @p key). */
static sr_err_t get_array(struct walk *w, const json_t *v, size_t max,
                          const char *what, const char *per,
                          const char *key, size_t *n)
{
        if (json_is_null(v)) {
                *n = 0;
                return SR_OK;
        }
        if (!json_is_array(v))
                return fail_got(w, "an array", v);
        if (json_array_size(v) > max)
                return fail(w, "%zu %s, at most %zu per %s (%s)",
                            json_array_size(v), what, max, per, key);
        *n = json_array_size(v);
        return SR_OK;
}

static sr_err_t parse_args(struct walk *w, const json_t *v, char **out)
{
        size_t len;
        char *text;

        *out = NULL;
        if (json_is_null(v))
                return SR_OK;
        if (!json_is_object(v))
                return fail_got(w, "an object", v);
        if (sr_json_text_depth(v) > SR_SPEC_MAX_DEPTH)
                return fail(w, "nested too deeply (at most %d levels)",
                            SR_SPEC_MAX_DEPTH);
        if (w->text) {
                const struct span *sp = sr_spec__find_args(w->spans, w->stage,
                                                           w->op);

                if (!sp)
                        return fail(w, "not found in the text (a defect)");
                text = sr_json_text_minify(w->text + sp->at, sp->len, &len);
        } else {
                /* No text: sorted keys, so the same args always give the
                 * same text and a re-sent create hashes the same. */
                text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
                len = text ? strlen(text) : 0;
        }
        if (!text)
                return sr_errctx_set(w->ec, SR_ERR_NOMEM, "spec: args text");
        if (len > SR_SPEC_MAX_ARGS) {
                free(text);
                return fail(w, "too large (%zu bytes, at most %d)", len,
                            SR_SPEC_MAX_ARGS);
        }
        *out = text;
        return SR_OK;
}

static sr_err_t parse_op(struct walk *w, const json_t *v, sr_spec_op_t *op)
{
        const json_t *type = NULL, *args = NULL;
        const char *key, *canon;
        json_t *item;
        size_t old;
        sr_err_t err = SR_OK;

        if (!json_is_object(v))
                return fail_got(w, "an object", v);
        json_object_foreach((json_t *)v, key, item) {
                if (!strcmp(key, "operation_type"))
                        type = item;
                else if (!strcmp(key, "args"))
                        args = item;
                else {
                        path_push_key(w, key);
                        return fail(w, "unknown field");
                }
        }
        old = path_push_key(w, "operation_type");
        if (!type) {
                err = fail(w, "required field missing");
        } else if (!json_is_string(type)) {
                err = fail_got(w, "an operation type string", type);
        } else {
                canon = sr_spec_operation_type(json_string_value(type),
                                               json_string_length(type));
                if (!canon)
                        err = fail_got(w, "an Esper command name such as "
                                       "INSTALL, REBOOT or LOCK", type);
                else
                        snprintf(op->operation_type,
                                 sizeof(op->operation_type), "%s", canon);
        }
        path_pop(w, old);
        if (err || !args)
                return err;
        old = path_push_key(w, "args");
        err = parse_args(w, args, &op->args_json);
        path_pop(w, old);
        return err;
}

static sr_err_t parse_target(struct walk *w, const json_t *v,
                             sr_spec_target_t *t)
{
        bool have_device = false;
        const char *key;
        json_t *item;
        size_t old;
        sr_err_t err = SR_OK;

        if (!json_is_object(v))
                return fail_got(w, "an object", v);
        json_object_foreach((json_t *)v, key, item) {
                old = path_push_key(w, key);
                if (!strcmp(key, "target_id")) {
                        if (!json_is_null(item))
                                err = get_uuid(w, item, &t->target_id);
                } else if (!strcmp(key, "device_id")) {
                        err = get_uuid(w, item, &t->device_id);
                        have_device = true;
                } else if (!strcmp(key, "device_name")) {
                        err = get_str(w, item, t->device_name,
                                      sizeof(t->device_name));
                } else if (!strcmp(key, "device_alias")) {
                        err = get_str(w, item, t->device_alias,
                                      sizeof(t->device_alias));
                } else {
                        err = fail(w, "unknown field");
                }
                if (err)
                        return err;
                path_pop(w, old);
        }
        if (!have_device) {
                path_push_key(w, "device_id");
                return fail(w, "required field missing");
        }
        return SR_OK;
}

static sr_err_t parse_ops(struct walk *w, const json_t *v,
                          sr_spec_stage_t *st)
{
        size_t n, old;
        sr_err_t err;

        err = get_array(w, v, w->lim.ops, "operations", "stage",
                        "stage.max.operations", &n);
        if (err || n == 0)
                return err;
        st->ops = calloc(n, sizeof(*st->ops));
        if (!st->ops)
                return sr_errctx_set(w->ec, SR_ERR_NOMEM, "spec: calloc");
        for (size_t i = 0; i < n; i++) {
                st->n_ops = (uint32_t)i + 1; /* freed by fini on error */
                w->op = i;
                old = path_push_index(w, i);
                err = parse_op(w, json_array_get(v, i), &st->ops[i]);
                if (err)
                        return err;
                path_pop(w, old);
        }
        return SR_OK;
}

/* The items of array @p v (checked: at most @p max, per @p per, key
 * @p key) into *@p out (calloc'd, NULL when empty), each with its index
 * in the path. *@p n counts what *@p out holds, also on failure, so the
 * caller frees it either way. */
static sr_err_t parse_target_list(struct walk *w, const json_t *v,
                                  size_t max, const char *per,
                                  const char *key, sr_spec_target_t **out,
                                  uint32_t *n_out)
{
        size_t n, old;
        sr_err_t err;

        err = get_array(w, v, max, "targets", per, key, &n);
        if (err || n == 0)
                return err;
        *out = calloc(n, sizeof(**out));
        if (!*out)
                return sr_errctx_set(w->ec, SR_ERR_NOMEM, "spec: calloc");
        *n_out = (uint32_t)n;
        for (size_t i = 0; i < n; i++) {
                old = path_push_index(w, i);
                err = parse_target(w, json_array_get(v, i), &(*out)[i]);
                if (err)
                        return err;
                path_pop(w, old);
        }
        return SR_OK;
}

/* An open stage (docs/targets.md, section 1): {"append": true,
 * "expected": N}, its targets to come in AppendTargets chunks. "append"
 * is required and true, so that no object reads as an empty stage. */
static sr_err_t parse_open_targets(struct walk *w, const json_t *v,
                                   sr_spec_stage_t *st)
{
        bool have_append = false;
        const char *key;
        json_t *item;
        json_int_t n = 0;
        size_t old;
        sr_err_t err = SR_OK;

        json_object_foreach((json_t *)v, key, item) {
                old = path_push_key(w, key);
                if (!strcmp(key, "append")) {
                        if (!json_is_true(item))
                                err = fail_got(w, "true (an open stage; "
                                               "give inline targets as an "
                                               "array)", item);
                        have_append = true;
                } else if (!strcmp(key, "expected")) {
                        if (!json_is_null(item) &&
                            (!sr_json_text_integral(item, &n) || n < 0))
                                err = fail_got(w, "a count of targets (an "
                                               "integer >= 0)", item);
                        if (!err)
                                st->expected_targets = (int64_t)n;
                } else {
                        err = fail(w, "unknown field; allowed: append, "
                                   "expected");
                }
                if (err)
                        return err;
                path_pop(w, old);
        }
        if (!have_append) {
                path_push_key(w, "append");
                return fail(w, "required field missing (an open stage is "
                            "{\"append\": true, \"expected\": N})");
        }
        st->append_targets = true;
        return SR_OK;
}

static sr_err_t parse_targets(struct walk *w, const json_t *v,
                              sr_spec_stage_t *st)
{
        if (json_is_object(v))
                return parse_open_targets(w, v, st);
        return parse_target_list(w, v, w->lim.targets, "stage",
                                 "stage.max.targets", &st->targets,
                                 &st->n_targets);
}

static sr_err_t parse_stage(struct walk *w, const json_t *v,
                            sr_spec_stage_t *st)
{
        const char *key;
        json_t *item;
        size_t old;
        sr_err_t err = SR_OK;

        if (!json_is_object(v))
                return fail_got(w, "an object", v);
        json_object_foreach((json_t *)v, key, item) {
                old = path_push_key(w, key);
                if (!strcmp(key, "stage_id")) {
                        if (!json_is_null(item))
                                err = get_uuid(w, item, &st->stage_id);
                } else if (!strcmp(key, "name")) {
                        err = get_str(w, item, st->name, sizeof(st->name));
                } else if (!strcmp(key, "description")) {
                        err = get_str(w, item, st->description,
                                      sizeof(st->description));
                } else if (!strcmp(key, "timeout_seconds")) {
                        err = get_timeout(w, item, &st->timeout_seconds);
                } else if (!strcmp(key, "operations")) {
                        err = parse_ops(w, item, st);
                } else if (!strcmp(key, "targets")) {
                        err = parse_targets(w, item, st);
                } else {
                        err = fail(w, "unknown field");
                }
                if (err)
                        return err;
                path_pop(w, old);
        }
        return SR_OK;
}

static sr_err_t parse_stages(struct walk *w, const json_t *v,
                             sr_runspec_t *spec)
{
        size_t n, old;
        sr_err_t err;

        if (!json_is_array(v))
                return fail_got(w, "an array of stages", v);
        err = get_array(w, v, w->lim.stages, "stages", "run",
                        "run.max.stages", &n);
        if (err || n == 0)
                return err;
        spec->stages = calloc(n, sizeof(*spec->stages));
        if (!spec->stages)
                return sr_errctx_set(w->ec, SR_ERR_NOMEM, "spec: calloc");
        spec->n_stages = (uint32_t)n;
        for (size_t i = 0; i < n; i++) {
                w->stage = i;
                old = path_push_index(w, i);
                err = parse_stage(w, json_array_get(v, i), &spec->stages[i]);
                if (err)
                        return err;
                path_pop(w, old);
        }
        return SR_OK;
}

static sr_err_t parse_root(struct walk *w, const json_t *root,
                           sr_runspec_t *spec)
{
        bool have_id = false, have_stages = false;
        const char *key;
        json_t *item;
        size_t old;
        sr_err_t err = SR_OK;

        if (!json_is_object(root))
                return fail_got(w, "a JSON object (the run spec)", root);
        json_object_foreach((json_t *)root, key, item) {
                old = path_push_key(w, key);
                if (!strcmp(key, "pipeline_id")) {
                        err = get_uuid(w, item, &spec->pipeline_id);
                        have_id = true;
                } else if (!strcmp(key, "pipeline_name")) {
                        err = get_str(w, item, spec->pipeline_name,
                                      sizeof(spec->pipeline_name));
                } else if (!strcmp(key, "auto_promote")) {
                        if (json_is_boolean(item))
                                spec->auto_promote = json_is_true(item);
                        else if (!json_is_null(item))
                                err = fail_got(w, "true or false", item);
                } else if (!strcmp(key, "timeout_seconds")) {
                        err = get_timeout(w, item, &spec->timeout_seconds);
                } else if (!strcmp(key, "stages")) {
                        err = parse_stages(w, item, spec);
                        have_stages = true;
                } else {
                        err = fail(w, "unknown field");
                }
                if (err)
                        return err;
                path_pop(w, old);
        }
        if (!have_id || !have_stages) {
                path_push_key(w, have_id ? "stages" : "pipeline_id");
                return fail(w, "required field missing");
        }
        return SR_OK;
}

static sr_err_t from_value(struct walk *w, const json_t *root,
                           sr_runspec_t *out)
{
        sr_runspec_t spec;
        sr_err_t err;

        memset(&spec, 0, sizeof(spec));
        err = parse_root(w, root, &spec);
        if (err) {
                sr_runspec_fini(&spec);
                return err;
        }
        *out = spec;
        return SR_OK;
}

sr_err_t sr_spec_json_from_value(const json_t *root, sr_runspec_t *out,
                                 sr_errctx_t *ec)
{
        struct walk w = { .path = "", .len = 0, .ec = ec };

        w.lim = sr_spec_limits_default();
        return from_value(&w, root, out);
}

sr_err_t sr_spec_json_from_parsed(const json_t *root, const char *text,
                                  size_t len, const sr_spec_limits_t *lim,
                                  sr_runspec_t *out, sr_errctx_t *ec)
{
        struct walk w = { .path = "", .len = 0, .ec = ec };
        spans_t spans;
        sr_err_t err;
        bool oom;

        w.lim = lim ? *lim : sr_spec_limits_default();
        if (!sr_spec__locate_args(text, len, &spans, &oom)) {
                free(spans.v);
                if (oom)
                        return sr_errctx_set(ec, SR_ERR_NOMEM,
                                             "spec: args spans");
                return sr_errctx_set(ec, SR_ERR_INVALID, "(root): not the "
                                     "JSON text the value was parsed from");
        }
        w.text = text;
        w.spans = &spans;
        err = from_value(&w, root, out);
        free(spans.v);
        return err;
}

sr_err_t sr_spec_json_targets(const json_t *v, const char *path,
                              uint32_t max, const char *per,
                              const char *key, sr_spec_target_t **out,
                              uint32_t *n, sr_errctx_t *ec)
{
        struct walk w = { .path = "", .len = 0, .ec = ec };
        sr_spec_target_t *t = NULL;
        uint32_t got = 0;
        sr_err_t err;

        path_push_key(&w, path);
        if (!json_is_array(v))
                return fail_got(&w, "an array of targets", v);
        err = parse_target_list(&w, v, max, per, key, &t, &got);
        if (err) {
                free(t);
                return err;
        }
        *out = t;
        *n = got;
        return SR_OK;
}

sr_err_t sr_spec_json_target(const json_t *v, const char *path,
                             sr_spec_target_t *out, sr_errctx_t *ec)
{
        struct walk w = { .path = "", .len = 0, .ec = ec };
        sr_spec_target_t t;
        sr_err_t err;

        memset(&t, 0, sizeof(t));
        path_push_key(&w, path);
        err = parse_target(&w, v, &t);
        if (!err)
                *out = t;
        return err;
}

sr_err_t sr_spec_json_parse(const char *text, size_t len, sr_runspec_t *out,
                            sr_errctx_t *ec)
{
        json_error_t jerr;
        json_t *root;
        sr_err_t err;

        if (len > SR_SPEC_MAX_TEXT)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "(root): run spec too large (%zu bytes, "
                                     "at most %u)", len, SR_SPEC_MAX_TEXT);
        root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
        /* An integer past int64 (in args): read as a real for the checks;
         * the args keep its digits (sr_spec_json_from_parsed()). */
        if (!root && json_error_code(&jerr) == json_error_numeric_overflow)
                root = json_loadb(text, len, JSON_REJECT_DUPLICATES |
                                                     JSON_DECODE_INT_AS_REAL,
                                  &jerr);
        if (!root)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "(root): malformed JSON at line %d "
                                     "column %d: %s", jerr.line, jerr.column,
                                     jerr.text);
        err = sr_spec_json_from_parsed(root, text, len, NULL, out, ec);
        json_decref(root);
        return err;
}

/* ------------------------------------------------------------ encoding */

/* Takes @p v in every case (json_object_set_new() steals it even when it
 * fails); a NULL @p v is an earlier allocation failure. */
static bool put(json_t *obj, const char *key, json_t *v)
{
        return v && json_object_set_new(obj, key, v) == 0;
}

static bool put_uuid(json_t *obj, const char *key, const sr_uuid_t *u)
{
        char text[SR_UUID_STR_LEN + 1];

        sr_uuid_fmt(u, text);
        return put(obj, key, json_string(text));
}

static json_t *op_to_json(const sr_spec_op_t *op)
{
        json_t *o = json_object();

        if (!o || !put(o, "operation_type", json_string(op->operation_type)))
                goto err;
        if (op->args_json &&
            !put(o, "args", json_loads(op->args_json, 0, NULL)))
                goto err;
        return o;
err:
        json_decref(o);
        return NULL;
}

static json_t *target_to_json(const sr_spec_target_t *t)
{
        json_t *o = json_object();

        if (!o)
                return NULL;
        if ((!sr_uuid_is_nil(&t->target_id) &&
             !put_uuid(o, "target_id", &t->target_id)) ||
            !put_uuid(o, "device_id", &t->device_id) ||
            !put(o, "device_name", json_string(t->device_name)) ||
            !put(o, "device_alias", json_string(t->device_alias))) {
                json_decref(o);
                return NULL;
        }
        return o;
}

json_t *sr_spec_targets_to_json_value(const sr_spec_target_t *targets,
                                      uint32_t n)
{
        json_t *a = json_array();

        for (uint32_t i = 0; a && i < n; i++) {
                if (json_array_append_new(a, target_to_json(&targets[i]))) {
                        json_decref(a);
                        return NULL;
                }
        }
        return a;
}

static json_t *stage_to_json(const sr_spec_stage_t *st)
{
        json_t *o = json_object(), *ops = json_array();
        /* An open stage's targets come in chunks (docs/targets.md, 1). */
        json_t *targets =
                st->append_targets ?
                        json_pack("{s:b,s:I}", "append", 1, "expected",
                                  (json_int_t)st->expected_targets) :
                        sr_spec_targets_to_json_value(st->targets,
                                                      st->n_targets);

        if (!o ||
            (!sr_uuid_is_nil(&st->stage_id) &&
             !put_uuid(o, "stage_id", &st->stage_id)) ||
            !put(o, "name", json_string(st->name)) ||
            !put(o, "description", json_string(st->description)) ||
            (st->timeout_seconds &&
             !put(o, "timeout_seconds",
                  json_integer((json_int_t)st->timeout_seconds))))
                goto err;
        for (uint32_t i = 0; ops && i < st->n_ops; i++)
                if (json_array_append_new(ops, op_to_json(&st->ops[i])))
                        goto err;
        /* put() takes ops and targets, even when it fails. */
        if (!put(o, "operations", ops)) {
                ops = NULL;
                goto err;
        }
        ops = NULL;
        if (!put(o, "targets", targets)) {
                targets = NULL;
                goto err;
        }
        return o;
err:
        json_decref(ops);
        json_decref(targets);
        json_decref(o);
        return NULL;
}

json_t *sr_runspec_to_json_value(const sr_runspec_t *spec)
{
        json_t *o = json_object(), *stages = json_array();

        if (!o || !stages ||
            !put_uuid(o, "pipeline_id", &spec->pipeline_id) ||
            !put(o, "pipeline_name", json_string(spec->pipeline_name)) ||
            !put(o, "auto_promote", json_boolean(spec->auto_promote)) ||
            (spec->timeout_seconds &&
             !put(o, "timeout_seconds",
                  json_integer((json_int_t)spec->timeout_seconds))))
                goto err;
        for (uint32_t i = 0; i < spec->n_stages; i++)
                if (json_array_append_new(stages,
                                          stage_to_json(&spec->stages[i])))
                        goto err;
        if (!put(o, "stages", stages)) {
                stages = NULL; /* taken by put() */
                goto err;
        }
        return o;
err:
        json_decref(stages);
        json_decref(o);
        return NULL;
}

/* An args text as a JSON object, written as it is: it must be one. */
static bool put_args(sr_jw_t *w, const char *args)
{
        if (!sr_jw_is_object_text(args))
                return false;
        sr_jw_lit(w, ",\"args\":");
        sr_jw_raw(w, args, strlen(args));
        return true;
}

static void put_fixed_str(sr_jw_t *w, const char *key, const char *s,
                          size_t cap)
{
        sr_jw_raw(w, key, strlen(key));
        sr_jw_str(w, s, strnlen(s, cap));
}

/* "KEY":"uuid", (the key with its quotes and colon) unless nil. */
static void put_opt_uuid(sr_jw_t *w, const char *key, const sr_uuid_t *u)
{
        if (sr_uuid_is_nil(u))
                return;
        sr_jw_raw(w, key, strlen(key));
        sr_jw_uuid(w, u, false);
        sr_jw_lit(w, ",");
}

/* The same text json_dumps() gives for sr_runspec_to_json_value() with
 * JSON_COMPACT | JSON_PRESERVE_ORDER, except that args are as stored. */
char *sr_runspec_to_json(const sr_runspec_t *spec)
{
        sr_jw_t w = { 0 };

        sr_jw_lit(&w, "{\"pipeline_id\":");
        sr_jw_uuid(&w, &spec->pipeline_id, false);
        put_fixed_str(&w, ",\"pipeline_name\":", spec->pipeline_name,
                      sizeof(spec->pipeline_name));
        if (spec->auto_promote)
                sr_jw_lit(&w, ",\"auto_promote\":true");
        else
                sr_jw_lit(&w, ",\"auto_promote\":false");
        if (spec->timeout_seconds) {
                sr_jw_lit(&w, ",\"timeout_seconds\":");
                sr_jw_i64(&w, spec->timeout_seconds);
        }
        sr_jw_lit(&w, ",\"stages\":[");
        for (uint32_t i = 0; i < spec->n_stages; i++) {
                const sr_spec_stage_t *st = &spec->stages[i];

                sr_jw_raw(&w, i ? ",{" : "{", i ? 2 : 1);
                put_opt_uuid(&w, "\"stage_id\":", &st->stage_id);
                put_fixed_str(&w, "\"name\":", st->name, sizeof(st->name));
                put_fixed_str(&w, ",\"description\":", st->description,
                              sizeof(st->description));
                if (st->timeout_seconds) {
                        sr_jw_lit(&w, ",\"timeout_seconds\":");
                        sr_jw_i64(&w, st->timeout_seconds);
                }
                sr_jw_lit(&w, ",\"operations\":[");
                for (uint32_t j = 0; j < st->n_ops; j++) {
                        const sr_spec_op_t *op = &st->ops[j];

                        put_fixed_str(&w, j ? ",{\"operation_type\":" :
                                              "{\"operation_type\":",
                                      op->operation_type,
                                      sizeof(op->operation_type));
                        if (op->args_json && !put_args(&w, op->args_json))
                                goto err;
                        sr_jw_lit(&w, "}");
                }
                if (st->append_targets) {
                        sr_jw_lit(&w, "],\"targets\":{\"append\":true,"
                                      "\"expected\":");
                        sr_jw_i64(&w, st->expected_targets);
                        sr_jw_lit(&w, "}}");
                        continue;
                }
                sr_jw_lit(&w, "],\"targets\":[");
                for (uint32_t j = 0; j < st->n_targets; j++) {
                        const sr_spec_target_t *t = &st->targets[j];

                        sr_jw_raw(&w, j ? ",{" : "{", j ? 2 : 1);
                        put_opt_uuid(&w, "\"target_id\":", &t->target_id);
                        sr_jw_lit(&w, "\"device_id\":");
                        sr_jw_uuid(&w, &t->device_id, false);
                        put_fixed_str(&w, ",\"device_name\":",
                                      t->device_name, sizeof(t->device_name));
                        put_fixed_str(&w, ",\"device_alias\":",
                                      t->device_alias,
                                      sizeof(t->device_alias));
                        sr_jw_lit(&w, "}");
                }
                sr_jw_lit(&w, "]}");
        }
        sr_jw_lit(&w, "]}");
        if (w.oom)
                goto err;
        return w.p;
err:
        free(w.p);
        return NULL;
}
