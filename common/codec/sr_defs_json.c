/* common/codec/sr_defs_json.c - stored pipeline definitions as JSON.
 *
 * Bodies are read with jansson (duplicate keys refused), then walked field
 * by field against a table per body family (struct family): each field's
 * type, whether it is required, and where it goes in the command. The
 * entity's read-only fields are accepted and ignored, anything else is an
 * unknown field. args and device_meta are kept as written: a structural
 * pass over the text (sr_json_text.c, as sr_spec_args.c does for a run
 * spec) finds their bytes, which are stored minified. The entities are
 * written as JSON in sr_defs_json_render.c.
 */
#include "sr_defs_json_int.h"

#include "sr_entity_json.h"
#include "sr_json_text.h"
#include "sr_spec_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

_Static_assert(SR_DEFS_JSON_MAX_ARGS == SR_SPEC_MAX_ARGS, "args limit");
_Static_assert(SR_DEFS_JSON_MAX_TIMEOUT == SR_SPEC_MAX_TIMEOUT,
               "timeout limit");

/* Our own names of sr_tl_type_t (sr_defs.c is not called from here). */
static const char *const tl_upper[SR_TL__COUNT] = { "DEVICES", "GROUPS",
                                                    "COLLECTIONS" };
static const char *const tl_lower[SR_TL__COUNT] = { "devices", "groups",
                                                    "collections" };

const char *sr_defs_json_type_name(sr_tl_type_t t)
{
        return (unsigned)t < SR_TL__COUNT ? tl_upper[t] : NULL;
}

bool sr_defs_json_type_filter(const char *s, size_t len, sr_tl_type_t *out)
{
        for (int i = 0; i < SR_TL__COUNT; i++)
                if (s && strlen(tl_lower[i]) == len &&
                    !memcmp(tl_lower[i], s, len)) {
                        *out = (sr_tl_type_t)i;
                        return true;
                }
        return false;
}

/* ------------------------------------------------------------ messages */

#define SHOWN 40                 /* bytes of client input echoed */
#define QMAX (SHOWN * 4 + 8)

/* Client input as printable ASCII in quotes, shortened after SHOWN bytes
 * (docs/api-decisions.md, "Messages"). */
static void quote(char out[QMAX], const char *s, size_t len)
{
        static const char hex[] = "0123456789abcdef";
        size_t o = 0, n = len < SHOWN ? len : SHOWN;
        unsigned char c;

        out[o++] = '"';
        for (size_t i = 0; i < n; i++) {
                c = (unsigned char)s[i];
                if (c == '"' || c == '\\') {
                        out[o++] = '\\';
                        out[o++] = (char)c;
                } else if (c >= 0x20 && c < 0x7f) {
                        out[o++] = (char)c;
                } else {
                        out[o++] = '\\';
                        out[o++] = 'x';
                        out[o++] = hex[c >> 4];
                        out[o++] = hex[c & 15];
                }
        }
        if (len > n) {
                memcpy(out + o, "...", 3);
                o += 3;
        }
        out[o++] = '"';
        out[o] = '\0';
}

/* A JSON value as compact ASCII text, shortened: for "got <value>". */
static void show_json(char out[QMAX], const json_t *v)
{
        char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT |
                                           JSON_ENSURE_ASCII);

        if (!text) {
                snprintf(out, QMAX, "%s", "(unprintable)");
                return;
        }
        if (strlen(text) > SHOWN)
                snprintf(out, QMAX, "%.*s...", SHOWN, text);
        else
                snprintf(out, QMAX, "%s", text);
        free(text);
}

/* "<field>: <what>" */
static sr_err_t vbad(sr_errctx_t *ec, const char *field, const char *fmt,
                     va_list ap) SR_PRINTF(3, 0);

static sr_err_t vbad(sr_errctx_t *ec, const char *field, const char *fmt,
                     va_list ap)
{
        char what[400];

        vsnprintf(what, sizeof(what), fmt, ap);
        return sr_errctx_set(ec, SR_ERR_INVALID, "%s: %s", field, what);
}

static sr_err_t bad(sr_errctx_t *ec, const char *field, const char *fmt, ...)
        SR_PRINTF(3, 4);

static sr_err_t bad(sr_errctx_t *ec, const char *field, const char *fmt, ...)
{
        va_list ap;
        sr_err_t err;

        va_start(ap, fmt);
        err = vbad(ec, field, fmt, ap);
        va_end(ap);
        return err;
}

sr_err_t sr_defs_json__bad(sr_errctx_t *ec, const char *field,
                           const char *fmt, ...)
{
        va_list ap;
        sr_err_t err;

        va_start(ap, fmt);
        err = vbad(ec, field, fmt, ap);
        va_end(ap);
        return err;
}

/* "<field>: expected <what>, got <value>" */
static sr_err_t bad_got(sr_errctx_t *ec, const char *field,
                        const char *expected, const json_t *v)
{
        char shown[QMAX];

        show_json(shown, v);
        return bad(ec, field, "expected %s, got %s", expected, shown);
}

static sr_err_t oom(sr_errctx_t *ec, const char *what)
{
        return sr_errctx_set(ec, SR_ERR_NOMEM, "definitions: %s", what);
}

/* ------------------------------------------------------------ the text */

struct members {
        const char *text;
        struct tspan *spans; /* [2] */
};

static bool object_member(const char *key, const char *key_end,
                          sr_jt_scan_t *s, void *arg)
{
        static const char *const keys[2] = { "args", "device_meta" };
        struct members *m = arg;
        const char *at;

        sr_json_text_skip_ws(s);
        at = s->p;
        if (!sr_json_text_skip_value(s))
                return false;
        for (int k = 0; k < 2; k++)
                if (sr_json_text_key_is(key, key_end, keys[k]))
                        m->spans[k] = (struct tspan){
                                (size_t)(at - m->text),
                                (size_t)(s->p - at), true };
        return true;
}

/* The members "args" (spans[0]) and "device_meta" (spans[1]) of the object
 * at s->p, by their keys once decoded (as jansson reads them). Skips a
 * value that is not an object. Duplicate keys were refused by jansson. */
static bool scan_members(sr_jt_scan_t *s, const char *text,
                         struct tspan spans[2])
{
        struct members m = { text, spans };

        return sr_json_text_each_member(s, object_member, &m);
}

/* Load @p body: JSON, no duplicate keys, nesting bounded. */
static sr_err_t load(const char *body, size_t len, json_t **out,
                     sr_errctx_t *ec)
{
        json_error_t jerr;
        json_t *root;

        root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                          &jerr);
        /* An integer past int64 (in args): read as a real; the args keep
         * its digits. */
        if (!root && json_error_code(&jerr) == json_error_numeric_overflow)
                root = json_loadb(body, len,
                                  JSON_REJECT_DUPLICATES | JSON_DECODE_ANY |
                                          JSON_DECODE_INT_AS_REAL,
                                  &jerr);
        if (!root) {
                if (json_error_code(&jerr) == json_error_out_of_memory)
                        return oom(ec, "json_loadb");
                return bad(ec, "body", "malformed JSON at line %d column %d: "
                           "%s", jerr.line, jerr.column, jerr.text);
        }
        if (sr_json_text_depth(root) > SR_DEFS_JSON_MAX_DEPTH) {
                json_decref(root);
                return bad(ec, "body", "nested too deeply (at most %d levels "
                           "of arrays and objects)", SR_DEFS_JSON_MAX_DEPTH);
        }
        *out = root;
        return SR_OK;
}

/* ------------------------------------------------------------ fields */

enum ftype {
        F_NAME,     /* trimmed, 1..255 bytes, one line */
        F_ALIAS,    /* trimmed, 0..255 bytes, one line */
        F_DESC,     /* 0..255 bytes as written */
        F_BOOL,
        F_TIMEOUT,  /* int64 seconds 1..SR_DEFS_JSON_MAX_TIMEOUT */
        F_ORDER,    /* uint32 1..SR_DEFS_JSON_MAX_ORDER */
        F_UUID,
        F_TLTYPE,   /* sr_tl_type_t, any case */
        F_OPTYPE,   /* char[SR_SHORT_MAX], canonical */
        F_OBJECT,   /* char * (owned): an object kept as written */
        F_PIPELINE, /* a UUID that must be cmd->pipeline_id; not stored */
};

enum req { OPT, REQ_CREATE, REQ };

#define NO_HAS ((size_t)-1)

struct fdef {
        const char *key;
        enum ftype t;
        enum req req;
        size_t off; /* in the base (sr_defcmd_t or sr_defcmd_target_t) */
        size_t has; /* bool in the base, or NO_HAS */
};

struct family {
        const char *entity; /* "a Pipeline", in messages */
        const struct fdef *f;
        size_t n;
        const char *const *ro; /* NULL-ended */
        bool version;          /* an entity: "version" read-only on create */
};

#define C(field) offsetof(sr_defcmd_t, field)
#define T(field) offsetof(sr_defcmd_target_t, field)

#define AUDIT "created_by", "updated_by", "created_at", "updated_at"

static const struct fdef f_pipeline[] = {
        { "name", F_NAME, REQ_CREATE, C(u.pipeline.name),
          C(u.pipeline.has_name) },
        { "description", F_DESC, OPT, C(u.pipeline.description),
          C(u.pipeline.has_description) },
        { "is_active", F_BOOL, OPT, C(u.pipeline.is_active),
          C(u.pipeline.has_is_active) },
        { "is_default", F_BOOL, OPT, C(u.pipeline.is_default),
          C(u.pipeline.has_is_default) },
        { "timeout_seconds", F_TIMEOUT, OPT, C(u.pipeline.timeout_seconds),
          C(u.pipeline.has_timeout_seconds) },
};
static const char *const ro_pipeline[] = {
        "id", "enterprise_id", "is_valid", "is_visible", "is_archived",
        AUDIT, "deleted_at", NULL
};

static const struct fdef f_stage[] = {
        { "name", F_NAME, REQ_CREATE, C(u.stage.name), C(u.stage.has_name) },
        { "description", F_DESC, OPT, C(u.stage.description),
          C(u.stage.has_description) },
        { "timeout_seconds", F_TIMEOUT, OPT, C(u.stage.timeout_seconds),
          C(u.stage.has_timeout_seconds) },
        { "order", F_ORDER, OPT, C(u.stage.order), C(u.stage.has_order) },
};
static const char *const ro_stage[] = {
        "id", "enterprise_id", "pipeline_id", AUDIT, NULL
};

static const struct fdef f_list[] = {
        { "name", F_NAME, REQ_CREATE, C(u.list.name), C(u.list.has_name) },
        { "target_list_type", F_TLTYPE, REQ_CREATE, C(u.list.type),
          C(u.list.has_type) },
};
static const char *const ro_list[] = { "id", "pipeline_id", AUDIT, NULL };

static const struct fdef f_attach[] = {
        { "target_list_id", F_UUID, REQ, C(u.attach.target_list_id),
          NO_HAS },
};
static const char *const ro_none[] = { NULL };

static const struct fdef f_group[] = {
        { "device_group_id", F_UUID, REQ, C(u.group.device_group_id),
          NO_HAS },
};
static const char *const ro_group[] = { "id", "pipeline_id",
                                        "target_list_id", AUDIT, NULL };

/* Target_POST, into a sr_defcmd_target_t */
static const struct fdef f_target_post[] = {
        { "device_id", F_UUID, REQ, T(device_id), NO_HAS },
        { "device_name", F_NAME, REQ, T(device_name), NO_HAS },
        { "device_alias", F_ALIAS, OPT, T(device_alias), NO_HAS },
        { "is_active", F_BOOL, OPT, T(is_active), NO_HAS },
};
static const char *const ro_target[] = {
        "id", "pipeline_id", "target_list_id", AUDIT, NULL
};

/* An object item of targets-bulk, into a sr_defcmd_target_t */
static const struct fdef f_target_bulk[] = {
        { "device_id", F_UUID, REQ, T(device_id), NO_HAS },
        { "device_name", F_ALIAS, OPT, T(device_name), NO_HAS },
        { "device_alias", F_ALIAS, OPT, T(device_alias), NO_HAS },
        { "device_meta", F_OBJECT, OPT, T(device_meta_json), NO_HAS },
        { "args", F_OBJECT, OPT, T(args_json), NO_HAS },
        { "is_active", F_BOOL, OPT, T(is_active), NO_HAS },
};

/* Target_PUT */
static const struct fdef f_target_put[] = {
        { "device_name", F_NAME, OPT, C(u.target.device_name),
          C(u.target.has_device_name) },
        { "is_active", F_BOOL, OPT, C(u.target.is_active),
          C(u.target.has_is_active) },
};
static const char *const ro_target_put[] = {
        "id", "pipeline_id", "target_list_id", "device_id", "device_alias",
        "device_meta", "args", AUDIT, NULL
};

static const struct fdef f_oplist[] = {
        { "name", F_NAME, REQ_CREATE, C(u.oplist.name),
          C(u.oplist.has_name) },
        { "description", F_DESC, OPT, C(u.oplist.description),
          C(u.oplist.has_description) },
        { "pipeline_id", F_PIPELINE, OPT, 0, NO_HAS },
};
static const char *const ro_oplist[] = { "id", "stage_id", AUDIT, NULL };

static const struct fdef f_op[] = {
        { "operation_type", F_OPTYPE, REQ_CREATE, C(u.op.operation_type),
          C(u.op.has_operation_type) },
        { "args", F_OBJECT, OPT, C(u.op.args_json), C(u.op.has_args) },
};
static const char *const ro_op[] = {
        "id", "operation_list_id", "pipeline_id", AUDIT, NULL
};

#define FAM(name, ent, f, ro, ver) \
        static const struct family name = { ent, f, sizeof(f) / sizeof(f[0]), \
                                            ro, ver }

FAM(fam_pipeline, "a Pipeline", f_pipeline, ro_pipeline, true);
FAM(fam_stage, "a Stage", f_stage, ro_stage, true);
FAM(fam_list, "a TargetList", f_list, ro_list, true);
FAM(fam_attach, NULL, f_attach, ro_none, false);
FAM(fam_group, "a TargetListDeviceGroup", f_group, ro_group, true);
FAM(fam_target_post, "a Target", f_target_post, ro_target, true);
FAM(fam_target_bulk, "a Target", f_target_bulk, ro_target, true);
FAM(fam_target_put, "a Target", f_target_put, ro_target_put, true);
FAM(fam_oplist, "an OperationList", f_oplist, ro_oplist, true);
FAM(fam_op, "an Operation", f_op, ro_op, true);

static const struct family fam_empty = { NULL, NULL, 0, ro_none, false };

/* What one walk over an object needs beside the table. */
struct ctx {
        const struct family *fam;
        bool create;       /* REQ_CREATE fields are required */
        bool take_version; /* "version" is read (an update or a delete) */
        void *base;        /* where the fields go */
        sr_defcmd_t *cmd;  /* version, the pipeline check */
        const char *text;  /* the body, for objects kept as written */
        struct tspan spans[2]; /* "args", "device_meta" of this object */
        sr_errctx_t *ec;
        const char *where; /* "body", or "item" of a bulk */
};

static bool is_trim(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
               c == '\f' || c == '\v';
}

/* A name: trimmed, at most 255 bytes, no C0, DEL or C1 character; empty
 * only when @p may_be_empty. */
static sr_err_t get_name(struct ctx *c, const char *key, const json_t *v,
                         bool may_be_empty, char *out)
{
        const char *s;
        size_t len;

        if (!json_is_string(v))
                return bad_got(c->ec, key, "a string", v);
        s = json_string_value(v);
        len = json_string_length(v);
        while (len && is_trim(*s)) {
                s++;
                len--;
        }
        while (len && is_trim(s[len - 1]))
                len--;
        if (!len && !may_be_empty)
                return bad(c->ec, key, "empty; give 1 to %d bytes of text",
                           SR_NAME_MAX - 1);
        if (len >= SR_NAME_MAX)
                return bad(c->ec, key, "too long (%zu bytes after trimming, "
                           "at most %d)", len, SR_NAME_MAX - 1);
        for (size_t i = 0; i < len; i++) {
                unsigned char b = (unsigned char)s[i];

                if (b < 0x20 || b == 0x7f ||
                    (b == 0xc2 && i + 1 < len &&
                     (unsigned char)s[i + 1] >= 0x80 &&
                     (unsigned char)s[i + 1] <= 0x9f))
                        return bad(c->ec, key, "control character at byte "
                                   "%zu; a name is one line of printable "
                                   "text", i);
        }
        memcpy(out, s, len);
        out[len] = '\0';
        return SR_OK;
}

/* An object kept as written, into a malloc'd text. */
static sr_err_t get_object(struct ctx *c, const char *key, const json_t *v,
                           char **out)
{
        const struct tspan *sp = NULL;
        size_t len;
        char *text;

        if (!json_is_object(v))
                return bad_got(c->ec, key, "an object", v);
        if (sr_json_text_depth(v) > SR_SPEC_MAX_DEPTH)
                return bad(c->ec, key, "nested too deeply (at most %d "
                           "levels)", SR_SPEC_MAX_DEPTH);
        if (!strcmp(key, "args") && c->spans[0].found)
                sp = &c->spans[0];
        else if (!strcmp(key, "device_meta") && c->spans[1].found)
                sp = &c->spans[1];
        if (!sp)
                return bad(c->ec, key, "not found in the text (a defect)");
        text = sr_json_text_minify(c->text + sp->at, sp->len, &len);
        if (!text)
                return oom(c->ec, "object text");
        if (len > SR_DEFS_JSON_MAX_ARGS) {
                free(text);
                return bad(c->ec, key, "too large (%zu bytes, at most %d)",
                           len, SR_DEFS_JSON_MAX_ARGS);
        }
        *out = text;
        return SR_OK;
}

static sr_err_t get_field(struct ctx *c, const struct fdef *f,
                          const json_t *v)
{
        char *at = (char *)c->base + f->off;
        char shown[QMAX], ids[2][SR_UUID_STR_LEN + 1];
        const char *canon;
        json_int_t n;
        sr_uuid_t u;

        switch (f->t) {
        case F_NAME:
                return get_name(c, f->key, v, false, at);
        case F_ALIAS:
                return get_name(c, f->key, v, true, at);
        case F_DESC:
                if (!json_is_string(v))
                        return bad_got(c->ec, f->key, "a string", v);
                if (json_string_length(v) >= SR_NAME_MAX)
                        return bad(c->ec, f->key, "too long (%zu bytes, at "
                                   "most %d)", json_string_length(v),
                                   SR_NAME_MAX - 1);
                memcpy(at, json_string_value(v), json_string_length(v) + 1);
                return SR_OK;
        case F_BOOL:
                if (!json_is_boolean(v))
                        return bad_got(c->ec, f->key, "true or false", v);
                *(bool *)(void *)at = json_is_true(v);
                return SR_OK;
        case F_TIMEOUT:
                if (!sr_json_text_integral(v, &n) || n < 1 ||
                    n > SR_DEFS_JSON_MAX_TIMEOUT)
                        return bad_got(c->ec, f->key, "an integer from 1 to "
                                       "315360000 (seconds)", v);
                *(int64_t *)(void *)at = (int64_t)n;
                return SR_OK;
        case F_ORDER:
                if (!sr_json_text_integral(v, &n) || n < 1 ||
                    n > SR_DEFS_JSON_MAX_ORDER)
                        return bad_got(c->ec, f->key, "an integer from 1 to "
                                       "2147483647", v);
                *(uint32_t *)(void *)at = (uint32_t)n;
                return SR_OK;
        case F_UUID:
                if (!json_is_string(v) ||
                    !sr_uuid_parse(json_string_value(v),
                                   json_string_length(v), &u))
                        return bad_got(c->ec, f->key, "a UUID string", v);
                memcpy(at, &u, sizeof(u));
                return SR_OK;
        case F_TLTYPE:
                if (json_is_string(v))
                        for (int i = 0; i < SR_TL__COUNT; i++)
                                if (!strcasecmp(json_string_value(v),
                                                tl_upper[i]) &&
                                    json_string_length(v) ==
                                            strlen(tl_upper[i])) {
                                        *(sr_tl_type_t *)(void *)at =
                                                (sr_tl_type_t)i;
                                        return SR_OK;
                                }
                return bad_got(c->ec, f->key, "one of DEVICES, GROUPS, "
                               "COLLECTIONS", v);
        case F_OPTYPE:
                canon = json_is_string(v) ?
                                sr_spec_operation_type(json_string_value(v),
                                                       json_string_length(v)) :
                                NULL;
                if (!canon)
                        return bad_got(c->ec, f->key, "an Esper command name "
                                       "such as INSTALL, REBOOT or LOCK", v);
                snprintf(at, SR_SHORT_MAX, "%s", canon);
                return SR_OK;
        case F_OBJECT:
                return get_object(c, f->key, v, (char **)(void *)at);
        case F_PIPELINE:
                if (!json_is_string(v) ||
                    !sr_uuid_parse(json_string_value(v),
                                   json_string_length(v), &u))
                        return bad_got(c->ec, f->key, "a UUID string", v);
                if (!sr_uuid_is_nil(&c->cmd->pipeline_id) &&
                    memcmp(&u, &c->cmd->pipeline_id, sizeof(u))) {
                        sr_uuid_fmt(&u, ids[0]);
                        sr_uuid_fmt(&c->cmd->pipeline_id, ids[1]);
                        quote(shown, ids[0], strlen(ids[0]));
                        return bad(c->ec, f->key, "%s is not the stage's "
                                   "pipeline (%s); leave it out or send "
                                   "that one", shown, ids[1]);
                }
                return SR_OK;
        }
        return bad(c->ec, f->key, "internal: field type %d", (int)f->t);
}

static bool in_list(const char *const *list, const char *key)
{
        for (; *list; list++)
                if (!strcmp(*list, key))
                        return true;
        return false;
}

static sr_err_t unknown(struct ctx *c, const char *key)
{
        char shown[QMAX], allowed[300];
        size_t o = 0;

        allowed[0] = '\0';
        for (size_t i = 0; i < c->fam->n && o < sizeof(allowed); i++)
                o += (size_t)snprintf(allowed + o, sizeof(allowed) - o,
                                      "%s%s", i ? ", " : "",
                                      c->fam->f[i].key);
        if (c->take_version && o < sizeof(allowed))
                o += (size_t)snprintf(allowed + o, sizeof(allowed) - o,
                                      "%sversion", o ? ", " : "");
        if (!o)
                snprintf(allowed, sizeof(allowed), "%s", "none");
        quote(shown, key, strlen(key));
        if (c->fam->entity && c->fam->ro[0])
                return bad(c->ec, c->where, "unknown field %s; allowed: %s "
                           "(read-only fields of %s are ignored)", shown,
                           allowed, c->fam->entity);
        return bad(c->ec, c->where, "unknown field %s; allowed: %s", shown,
                   allowed);
}

/* Every member of @p obj against c->fam; then the required ones. */
static sr_err_t walk(struct ctx *c, const json_t *obj)
{
        bool seen[8] = { false };
        const char *key;
        json_t *v;
        json_int_t n;
        sr_err_t err;
        size_t i;

        json_object_foreach((json_t *)obj, key, v) {
                for (i = 0; i < c->fam->n; i++)
                        if (!strcmp(key, c->fam->f[i].key))
                                break;
                if (i < c->fam->n) {
                        const struct fdef *f = &c->fam->f[i];
                        bool required = f->req == REQ ||
                                        (f->req == REQ_CREATE && c->create);

                        if (json_is_null(v) && !required)
                                continue; /* null: as absent */
                        err = get_field(c, f, v);
                        if (err)
                                return err;
                        seen[i] = true;
                        if (f->has != NO_HAS)
                                *(bool *)(void *)((char *)c->base + f->has) =
                                        true;
                } else if (!strcmp(key, "version") && c->take_version) {
                        if (json_is_null(v))
                                continue;
                        if (!sr_json_text_integral(v, &n) || n < 1 ||
                            n > UINT32_MAX)
                                return bad_got(c->ec, "version", "an integer "
                                               "from 1 to 4294967295 (the "
                                               "version you read)", v);
                        c->cmd->has_expected_version = true;
                        c->cmd->expected_version = (uint32_t)n;
                } else if (in_list(c->fam->ro, key) ||
                           (!strcmp(key, "version") && c->fam->version)) {
                        continue; /* read-only: ignored */
                } else {
                        return unknown(c, key);
                }
        }
        for (i = 0; i < c->fam->n; i++)
                if (!seen[i] && (c->fam->f[i].req == REQ ||
                                 (c->fam->f[i].req == REQ_CREATE &&
                                  c->create)))
                        return bad(c->ec, c->fam->f[i].key, "required field "
                                   "missing");
        return SR_OK;
}

/* ------------------------------------------------------------ bodies */

static bool takes_version(sr_defcmd_kind_t kind, bool create)
{
        switch (kind) {
        case SR_DEFCMD_PUT_PIPELINE:
        case SR_DEFCMD_PUT_STAGE:
        case SR_DEFCMD_PUT_TARGET_LIST:
        case SR_DEFCMD_PUT_OPERATION_LIST:
        case SR_DEFCMD_PUT_OPERATION:
                return !create;
        case SR_DEFCMD_UPDATE_TARGET:
        case SR_DEFCMD_DELETE_PIPELINE:
        case SR_DEFCMD_DELETE_STAGE:
        case SR_DEFCMD_DELETE_TARGET_LIST:
        case SR_DEFCMD_DETACH_TARGET_LIST:
        case SR_DEFCMD_REMOVE_TARGET:
        case SR_DEFCMD_UNLINK_DEVICE_GROUP:
        case SR_DEFCMD_DELETE_OPERATION_LIST:
        case SR_DEFCMD_DELETE_OPERATION:
                return true;
        default:
                return false;
        }
}

/* Our own names of the commands (sr_defcmd_name() is sr_defs.c's). */
static const char *const defcmd_names[SR_DEFCMD__COUNT] = {
#define DEFCMD_NAME(name, text) text,
        SR_DEFCMD_MAP(DEFCMD_NAME)
#undef DEFCMD_NAME
};

static const struct family *family_of(sr_defcmd_kind_t kind, bool *no_body_ok)
{
        *no_body_ok = false;
        switch (kind) {
        case SR_DEFCMD_PUT_PIPELINE:
                return &fam_pipeline;
        case SR_DEFCMD_PUT_STAGE:
                return &fam_stage;
        case SR_DEFCMD_PUT_TARGET_LIST:
                return &fam_list;
        case SR_DEFCMD_ATTACH_TARGET_LIST:
                return &fam_attach;
        case SR_DEFCMD_ADD_TARGETS:
                return &fam_target_post;
        case SR_DEFCMD_UPDATE_TARGET:
                return &fam_target_put;
        case SR_DEFCMD_LINK_DEVICE_GROUP:
                return &fam_group;
        case SR_DEFCMD_PUT_OPERATION_LIST:
                return &fam_oplist;
        case SR_DEFCMD_PUT_OPERATION:
                return &fam_op;
        case SR_DEFCMD_DELETE_PIPELINE:
        case SR_DEFCMD_DELETE_STAGE:
        case SR_DEFCMD_DELETE_TARGET_LIST:
        case SR_DEFCMD_DETACH_TARGET_LIST:
        case SR_DEFCMD_REMOVE_TARGET:
        case SR_DEFCMD_UNLINK_DEVICE_GROUP:
        case SR_DEFCMD_DELETE_OPERATION_LIST:
        case SR_DEFCMD_DELETE_OPERATION:
        case SR_DEFCMD_START_PIPELINE_RUN:
                *no_body_ok = true;
                return &fam_empty;
        default:
                return NULL;
        }
}

/* A create's defaults, every has_ flag of the family set (a stage's
 * has_order and has_timeout_seconds only when given). */
static void create_defaults(sr_defcmd_t *c)
{
        switch (c->kind) {
        case SR_DEFCMD_PUT_PIPELINE:
                c->u.pipeline.is_active = true;
                c->u.pipeline.timeout_seconds = SR_DEFS_JSON_PIPELINE_TIMEOUT;
                c->u.pipeline.has_name = c->u.pipeline.has_description =
                        c->u.pipeline.has_is_active =
                                c->u.pipeline.has_is_default =
                                        c->u.pipeline.has_timeout_seconds =
                                                true;
                break;
        case SR_DEFCMD_PUT_STAGE:
                /* timeout_seconds absent stays absent: the stage then
                 * keeps the stage-run default (0), which the rules do not
                 * take as a given timeout (at least 1 second). */
                c->u.stage.has_name = c->u.stage.has_description = true;
                break;
        case SR_DEFCMD_PUT_TARGET_LIST:
                c->u.list.has_name = c->u.list.has_type = true;
                break;
        case SR_DEFCMD_PUT_OPERATION_LIST:
                c->u.oplist.has_name = c->u.oplist.has_description = true;
                break;
        case SR_DEFCMD_PUT_OPERATION:
                c->u.op.has_operation_type = c->u.op.has_args = true;
                break;
        default:
                break;
        }
}

/* Clear the body's fields of the union (not the path ids). */
static void clear_body(sr_defcmd_t *c)
{
        switch (c->kind) {
        case SR_DEFCMD_PUT_PIPELINE:
                memset(&c->u.pipeline, 0, sizeof(c->u.pipeline));
                break;
        case SR_DEFCMD_PUT_STAGE: {
                sr_uuid_t id = c->u.stage.stage_id;

                memset(&c->u.stage, 0, sizeof(c->u.stage));
                c->u.stage.stage_id = id;
                break;
        }
        case SR_DEFCMD_PUT_TARGET_LIST:
                c->u.list.has_name = c->u.list.has_type = false;
                c->u.list.name[0] = '\0';
                c->u.list.type = SR_TL_DEVICES;
                break;
        case SR_DEFCMD_ADD_TARGETS:
                c->u.add.n_items = 0;
                c->u.add.items = NULL;
                break;
        case SR_DEFCMD_UPDATE_TARGET:
                c->u.target.has_device_name = c->u.target.has_is_active =
                        false;
                c->u.target.device_name[0] = '\0';
                c->u.target.is_active = false;
                break;
        case SR_DEFCMD_PUT_OPERATION_LIST:
                c->u.oplist.has_name = c->u.oplist.has_description = false;
                c->u.oplist.name[0] = c->u.oplist.description[0] = '\0';
                break;
        case SR_DEFCMD_PUT_OPERATION:
                c->u.op.has_operation_type = c->u.op.has_args = false;
                c->u.op.operation_type[0] = '\0';
                c->u.op.args_json = NULL;
                break;
        default:
                break;
        }
}

sr_err_t sr_defs_json_parse(sr_defcmd_kind_t kind, bool create,
                            const char *body, size_t len, sr_defcmd_t *cmd,
                            sr_errctx_t *ec)
{
        sr_defcmd_target_t item;
        struct ctx c = { 0 };
        sr_defcmd_t copy;
        bool no_body_ok;
        json_t *root = NULL;
        sr_err_t err;

        c.fam = family_of(kind, &no_body_ok);
        if (!c.fam)
                return sr_errctx_set(ec, SR_ERR_INVALID, "body: %s takes no "
                                     "body", (unsigned)kind < SR_DEFCMD__COUNT ?
                                             defcmd_names[kind] :
                                             "a command out of range");
        copy = *cmd;
        copy.kind = kind;
        copy.create = create;
        copy.has_expected_version = false;
        copy.expected_version = 0;
        clear_body(&copy);
        if (!body || len == 0) {
                if (!no_body_ok)
                        return bad(ec, "body", "empty; expected a JSON "
                                   "object");
                *cmd = copy;
                return SR_OK;
        }
        err = load(body, len, &root, ec);
        if (err)
                return err;
        if (!json_is_object(root)) {
                err = bad_got(ec, "body", "a JSON object", root);
                goto out;
        }
        c.where = "body";
        c.create = create;
        c.take_version = takes_version(kind, create);
        c.cmd = &copy;
        c.text = body;
        c.ec = ec;
        c.base = &copy;
        if (kind == SR_DEFCMD_PUT_OPERATION) {
                sr_jt_scan_t s = { body, body + len };

                if (!scan_members(&s, body, c.spans)) /* a defect */
                        memset(c.spans, 0, sizeof(c.spans));
        }
        if (create)
                create_defaults(&copy);
        if (kind == SR_DEFCMD_ADD_TARGETS) {
                memset(&item, 0, sizeof(item));
                item.is_active = true;
                c.base = &item;
                c.create = true;
        }
        err = walk(&c, root);
        if (!err && kind == SR_DEFCMD_ADD_TARGETS) {
                copy.u.add.items = malloc(sizeof(item));
                if (!copy.u.add.items) {
                        err = oom(ec, "target");
                } else {
                        copy.u.add.items[0] = item;
                        copy.u.add.n_items = 1;
                }
        }
        if (err) {
                if (kind == SR_DEFCMD_PUT_OPERATION)
                        free(copy.u.op.args_json);
                goto out;
        }
        *cmd = copy;
out:
        json_decref(root);
        return err;
}

/* ------------------------------------------------ for the bulk's file */

sr_err_t sr_defs_json__bad_got(sr_errctx_t *ec, const char *field,
                               const char *expected, const json_t *v)
{
        return bad_got(ec, field, expected, v);
}

sr_err_t sr_defs_json__oom(sr_errctx_t *ec, const char *what)
{
        return oom(ec, what);
}

sr_err_t sr_defs_json__load(const char *body, size_t len, json_t **out,
                            sr_errctx_t *ec)
{
        return load(body, len, out, ec);
}

bool sr_defs_json__scan_members(sr_jt_scan_t *s, const char *text,
                                struct tspan spans[2])
{
        return scan_members(s, text, spans);
}

sr_err_t sr_defs_json__bulk_target(const json_t *v, const char *text,
                                   const struct tspan spans[2],
                                   sr_defcmd_target_t *t, sr_errctx_t *ec)
{
        struct ctx c = { 0 };

        c.fam = &fam_target_bulk;
        c.where = "item";
        c.create = true;
        c.base = t;
        c.text = text;
        c.spans[0] = spans[0];
        c.spans[1] = spans[1];
        c.ec = ec;
        return walk(&c, v);
}
