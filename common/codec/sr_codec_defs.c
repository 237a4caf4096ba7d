/* common/codec/sr_codec_defs.c - stored pipeline definitions on the wire
 * (docs/definitions.md section 2): the 20 definition commands (Command
 * version 5's payload branches PutPipeline ... RunEnded, and version 6's
 * FillStep), the 9 entity
 * records (ChangelogRecord version 3's DefPipeline ... DefTarget), the
 * reply's DefinitionReply (CommandReply version 2, and the changelog's
 * dedupe entries since version 3) and io.sr.v1.DefinitionChanged (the
 * definition events).
 *
 * Wire conventions (the .avsc docs): a command's optional field (a has_X
 * flag in sr_defcmd_t) is ["null", T], null when absent; ids are UUID
 * text; kinds, types, changes and statuses are strings, an unknown text
 * refused SR_ERR_SCHEMA; C's unsigned 64-bit counters are longs (above
 * 2^63-1 refused on encode, negative refused on decode), 32-bit versions
 * longs of 0 .. 2^32-1.
 */
#include "sr_codec_int.h"

#include <inttypes.h>
#include <limits.h>
#include <string.h>

/* ---------------------------------------------------------- ["null", T] */

static sr_err_t set_null(avro_value_t *rec, const char *name,
                         sr_errctx_t *ec)
{
        avro_value_t b;
        sr_err_t err;
        int rc;

        err = sr_codec__set_branch(rec, name, 0, &b, ec);
        if (err)
                return err;
        rc = avro_value_set_null(&b);
        if (rc)
                return sr_codec__avro_err(ec, rc, name, "set null");
        return SR_OK;
}

static sr_err_t set_opt_long(avro_value_t *rec, const char *name, bool has,
                             int64_t v, sr_errctx_t *ec)
{
        avro_value_t b;
        sr_err_t err;
        int rc;

        if (!has)
                return set_null(rec, name, ec);
        err = sr_codec__set_branch(rec, name, 1, &b, ec);
        if (err)
                return err;
        rc = avro_value_set_long(&b, v);
        if (rc)
                return sr_codec__avro_err(ec, rc, name, "set long");
        return SR_OK;
}

static sr_err_t set_opt_bool(avro_value_t *rec, const char *name, bool has,
                             bool v, sr_errctx_t *ec)
{
        avro_value_t b;
        sr_err_t err;
        int rc;

        if (!has)
                return set_null(rec, name, ec);
        err = sr_codec__set_branch(rec, name, 1, &b, ec);
        if (err)
                return err;
        rc = avro_value_set_boolean(&b, v ? 1 : 0);
        if (rc)
                return sr_codec__avro_err(ec, rc, name, "set boolean");
        return SR_OK;
}

/* ["null", "int"] holding 0 .. 2^31-1. */
static sr_err_t set_opt_u32(avro_value_t *rec, const char *name, bool has,
                            uint32_t v, sr_errctx_t *ec)
{
        avro_value_t b;
        sr_err_t err;
        int rc;

        if (!has)
                return set_null(rec, name, ec);
        if (v > INT32_MAX)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field %s: %" PRIu32 " out of range "
                                     "(at most 2^31-1)", name, v);
        err = sr_codec__set_branch(rec, name, 1, &b, ec);
        if (err)
                return err;
        rc = avro_value_set_int(&b, (int32_t)v);
        if (rc)
                return sr_codec__avro_err(ec, rc, name, "set int");
        return SR_OK;
}

/* ["null", "string"] from a C buffer of @p cap bytes. */
static sr_err_t set_opt_text(avro_value_t *rec, const char *name, bool has,
                             const char *src, size_t cap, sr_errctx_t *ec)
{
        return sr_codec__set_opt_str(rec, name, has ? src : NULL, cap, ec);
}

static sr_err_t get_opt(avro_value_t *rec, const char *name, bool *has,
                        avro_value_t *b, sr_errctx_t *ec)
{
        sr_err_t err;
        int disc;

        err = sr_codec__get_branch(rec, name, &disc, b, ec);
        if (err)
                return err;
        *has = disc != 0;
        return SR_OK;
}

static sr_err_t get_opt_long(avro_value_t *rec, const char *name, bool *has,
                             int64_t *v, sr_errctx_t *ec)
{
        avro_value_t b;
        sr_err_t err;
        int rc;

        err = get_opt(rec, name, has, &b, ec);
        if (err || !*has)
                return err;
        rc = avro_value_get_long(&b, v);
        if (rc)
                return sr_codec__avro_err(ec, rc, name, "get long");
        return SR_OK;
}

static sr_err_t get_opt_bool(avro_value_t *rec, const char *name, bool *has,
                             bool *v, sr_errctx_t *ec)
{
        avro_value_t b;
        sr_err_t err;
        int rc, x = 0;

        err = get_opt(rec, name, has, &b, ec);
        if (err || !*has)
                return err;
        rc = avro_value_get_boolean(&b, &x);
        if (rc)
                return sr_codec__avro_err(ec, rc, name, "get boolean");
        *v = x != 0;
        return SR_OK;
}

static sr_err_t get_opt_u32(avro_value_t *rec, const char *name, bool *has,
                            uint32_t *v, sr_errctx_t *ec)
{
        avro_value_t b;
        sr_err_t err;
        int32_t x = 0;
        int rc;

        err = get_opt(rec, name, has, &b, ec);
        if (err || !*has)
                return err;
        rc = avro_value_get_int(&b, &x);
        if (rc)
                return sr_codec__avro_err(ec, rc, name, "get int");
        if (x < 0)
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field %s: negative (%" PRId32 ")",
                                     name, x);
        *v = (uint32_t)x;
        return SR_OK;
}

static sr_err_t get_opt_text(avro_value_t *rec, const char *name, bool *has,
                             char *dst, size_t cap, sr_errctx_t *ec)
{
        avro_value_t b;
        sr_err_t err;

        err = get_opt(rec, name, has, &b, ec);
        if (err)
                return err;
        return sr_codec__get_opt_str(rec, name, dst, cap, ec);
}

/* ---------------------------------------------------------- longs */

static sr_err_t set_u64(avro_value_t *rec, const char *name, uint64_t v,
                        sr_errctx_t *ec)
{
        if (v > INT64_MAX)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field %s: out of range", name);
        return sr_codec__set_long(rec, name, (int64_t)v, ec);
}

static sr_err_t get_u64(avro_value_t *rec, const char *name, uint64_t *v,
                        sr_errctx_t *ec)
{
        int64_t x;
        sr_err_t err;

        err = sr_codec__get_long(rec, name, &x, ec);
        if (err)
                return err;
        if (x < 0)
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field %s: negative (%" PRId64 ")", name,
                                     x);
        *v = (uint64_t)x;
        return SR_OK;
}

/* ---------------------------------------------------------- bytes */

/* FillStep.seal_state: sr_fill_state_t's bytes, 32 (the eight state words
 * big-endian) or 64 (then the last chunk's digest, when the count of
 * chunks is odd); any other length is refused both ways. */
static bool seal_state_len_ok(size_t n)
{
        return n == 32 || n == 64;
}

static sr_err_t set_seal_state(avro_value_t *rec, const char *name,
                               const uint8_t *src, uint32_t len,
                               sr_errctx_t *ec)
{
        avro_value_t f;
        sr_err_t err;
        int rc;

        if (!seal_state_len_ok(len))
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field %s: %" PRIu32 " bytes (32 or "
                                     "64)", name, len);
        err = sr_codec__field(rec, name, &f, ec);
        if (err)
                return err;
        rc = avro_value_set_bytes(&f, (void *)src, len);
        if (rc)
                return sr_codec__avro_err(ec, rc, name, "set bytes");
        return SR_OK;
}

static sr_err_t get_seal_state(avro_value_t *rec, const char *name,
                               uint8_t *dst, size_t cap, uint32_t *len,
                               sr_errctx_t *ec)
{
        avro_value_t f;
        const void *p = NULL;
        size_t n = 0;
        sr_err_t err;
        int rc;

        err = sr_codec__field(rec, name, &f, ec);
        if (err)
                return err;
        rc = avro_value_get_bytes(&f, &p, &n);
        if (rc)
                return sr_codec__avro_err(ec, rc, name, "get bytes");
        if (!seal_state_len_ok(n) || n > cap)
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field %s: %zu bytes (32 or 64)", name,
                                     n);
        memcpy(dst, p, n);
        *len = (uint32_t)n;
        return SR_OK;
}

/* The helpers above, for the device groups' codec (sr_codec_groups.c,
 * sr_codec_int.h). */
sr_err_t sr_codec__set_opt_long(avro_value_t *rec, const char *name,
                                bool has, int64_t v, sr_errctx_t *ec)
{
        return set_opt_long(rec, name, has, v, ec);
}

sr_err_t sr_codec__get_opt_long(avro_value_t *rec, const char *name,
                                bool *has, int64_t *v, sr_errctx_t *ec)
{
        return get_opt_long(rec, name, has, v, ec);
}

sr_err_t sr_codec__set_u64(avro_value_t *rec, const char *name, uint64_t v,
                           sr_errctx_t *ec)
{
        return set_u64(rec, name, v, ec);
}

sr_err_t sr_codec__get_u64(avro_value_t *rec, const char *name, uint64_t *v,
                           sr_errctx_t *ec)
{
        return get_u64(rec, name, v, ec);
}

sr_err_t sr_codec__set_seal_state(avro_value_t *rec, const char *name,
                                  const uint8_t *src, uint32_t len,
                                  sr_errctx_t *ec)
{
        return set_seal_state(rec, name, src, len, ec);
}

sr_err_t sr_codec__get_seal_state(avro_value_t *rec, const char *name,
                                  uint8_t *dst, size_t cap, uint32_t *len,
                                  sr_errctx_t *ec)
{
        return get_seal_state(rec, name, dst, cap, len, ec);
}

/* ---------------------------------------------------------- texts */

static sr_err_t kind_of_text(const char *field, const char *text,
                             sr_def_kind_t *out, sr_errctx_t *ec)
{
        char q[64];
        for (int k = 0; k < SR_DEF__COUNT; k++)
                if (!strcmp(text, sr_def_kind_name((sr_def_kind_t)k))) {
                        *out = (sr_def_kind_t)k;
                        return SR_OK;
                }
        return sr_errctx_set(ec, SR_ERR_SCHEMA,
                             "field %s: unknown definition entity type "
                             "\"%s\"", field,
                             sr_codec__quote(q, text, strlen(text)));
}

static sr_err_t set_kind(avro_value_t *rec, const char *name, int kind,
                         sr_errctx_t *ec)
{
        if ((unsigned)kind >= SR_DEF__COUNT)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field %s: value %d out of range", name,
                                     kind);
        return sr_codec__set_str(rec, name,
                                 sr_def_kind_name((sr_def_kind_t)kind), 0,
                                 ec);
}

static sr_err_t get_kind(avro_value_t *rec, const char *name,
                         sr_def_kind_t *out, sr_errctx_t *ec)
{
        char text[SR_SHORT_MAX];
        sr_err_t err;

        err = sr_codec__get_str(rec, name, text, sizeof(text), ec);
        if (err)
                return err;
        return kind_of_text(name, text, out, ec);
}

static sr_err_t set_tl_type(avro_value_t *rec, const char *name, bool opt,
                            bool has, sr_tl_type_t t, sr_errctx_t *ec)
{
        const char *s = sr_tl_type_name(t);

        if (opt && !has)
                return set_null(rec, name, ec);
        if (!s)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field %s: value %d out of range", name,
                                     (int)t);
        return opt ? sr_codec__set_opt_str(rec, name, s, 0, ec) :
                     sr_codec__set_str(rec, name, s, 0, ec);
}

static sr_err_t parse_tl_type(const char *name, const char *text,
                              sr_tl_type_t *out, sr_errctx_t *ec)
{
        char q[64];

        if (sr_tl_type_parse(text, true, out))
                return SR_OK;
        return sr_errctx_set(ec, SR_ERR_SCHEMA,
                             "field %s: unknown target list type \"%s\" "
                             "(DEVICES, GROUPS or COLLECTIONS)", name,
                             sr_codec__quote(q, text, strlen(text)));
}

/* ---------------------------------------------------------- commands */

static bool is_put(sr_defcmd_kind_t k)
{
        return k == SR_DEFCMD_PUT_PIPELINE || k == SR_DEFCMD_PUT_STAGE ||
               k == SR_DEFCMD_PUT_TARGET_LIST ||
               k == SR_DEFCMD_PUT_OPERATION_LIST ||
               k == SR_DEFCMD_PUT_OPERATION;
}

static sr_err_t items_to(avro_value_t *p, const sr_defcmd_t *d,
                         sr_errctx_t *ec)
{
        avro_value_t arr, item;
        sr_err_t err;

        if (d->u.add.n_items && !d->u.add.items)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field items: %u items, NULL array",
                                     d->u.add.n_items);
        err = sr_codec__field(p, "items", &arr, ec);
        if (err)
                return err;
        for (uint32_t i = 0; i < d->u.add.n_items; i++) {
                const sr_defcmd_target_t *t = &d->u.add.items[i];

                if ((err = sr_codec__append(&arr, "items", &item, ec)) ||
                    (err = sr_codec__set_uuid(&item, "device_id",
                                              &t->device_id, ec)) ||
                    (err = sr_codec__set_str(&item, "device_name",
                                             t->device_name,
                                             sizeof(t->device_name), ec)) ||
                    (err = sr_codec__set_str(&item, "device_alias",
                                             t->device_alias,
                                             sizeof(t->device_alias), ec)) ||
                    (err = sr_codec__set_bool(&item, "is_active",
                                              t->is_active, ec)) ||
                    (err = sr_codec__set_opt_str(&item, "device_meta_json",
                                                 t->device_meta_json, 0,
                                                 ec)) ||
                    (err = sr_codec__set_opt_str(&item, "args_json",
                                                 t->args_json, 0, ec))) {
                        sr_errctx_prefix(ec, "items[%u]", i);
                        return err;
                }
        }
        return SR_OK;
}

/* The items are d's as soon as they are allocated: on failure the
 * caller's sr_defcmd_fini() frees what was read. */
static sr_err_t items_from(avro_value_t *p, sr_defcmd_t *d, sr_errctx_t *ec)
{
        avro_value_t arr, item;
        sr_err_t err;
        size_t n;
        int rc;

        err = sr_codec__get_array(p, "items", SR_CODEC_MAX_ITEMS, &arr, &n,
                                  ec);
        if (err || n == 0)
                return err;
        d->u.add.items = calloc(n, sizeof(*d->u.add.items));
        if (!d->u.add.items)
                return sr_errctx_set(ec, SR_ERR_NOMEM,
                                     "field items: calloc %zu items", n);
        d->u.add.n_items = (uint32_t)n;
        for (size_t i = 0; i < n; i++) {
                sr_defcmd_target_t *t = &d->u.add.items[i];

                rc = avro_value_get_by_index(&arr, i, &item, NULL);
                err = rc ? sr_codec__avro_err(ec, rc, "items", "get") : SR_OK;
                if (err ||
                    (err = sr_codec__get_uuid(&item, "device_id",
                                              &t->device_id, ec)) ||
                    (err = sr_codec__get_str(&item, "device_name",
                                             t->device_name,
                                             sizeof(t->device_name), ec)) ||
                    (err = sr_codec__get_str(&item, "device_alias",
                                             t->device_alias,
                                             sizeof(t->device_alias), ec)) ||
                    (err = sr_codec__get_bool(&item, "is_active",
                                              &t->is_active, ec)) ||
                    (err = sr_codec__get_str_dup(&item, "device_meta_json",
                                                 true, &t->device_meta_json,
                                                 ec)) ||
                    (err = sr_codec__get_str_dup(&item, "args_json", true,
                                                 &t->args_json, ec))) {
                        sr_errctx_prefix(ec, "items[%zu]", i);
                        return err;
                }
        }
        return SR_OK;
}

sr_err_t sr_codec__defcmd_to(avro_value_t *p, const sr_command_t *c,
                             sr_errctx_t *ec)
{
        const sr_defcmd_t *d = c->u.def;
        sr_err_t err;

        /* The caller checked d and its kind. The key is on the wire
         * twice: a reader refuses them unequal, so no writer sends that. */
        if (!sr_uuid_eq(&d->pipeline_id, &c->pipeline_run_id))
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field pipeline_id: not the command's "
                                     "pipeline_run_id (the key)");
        if ((err = sr_codec__set_uuid(p, "pipeline_id", &d->pipeline_id,
                                      ec)) ||
            (err = set_opt_long(p, "expected_version",
                                d->has_expected_version,
                                (int64_t)d->expected_version, ec)))
                return err;
        if (is_put(d->kind) &&
            (err = sr_codec__set_bool(p, "create", d->create, ec)))
                return err;
        switch (d->kind) {
        case SR_DEFCMD_PUT_PIPELINE:
                if ((err = set_opt_text(p, "name", d->u.pipeline.has_name,
                                        d->u.pipeline.name,
                                        sizeof(d->u.pipeline.name), ec)) ||
                    (err = set_opt_text(p, "description",
                                        d->u.pipeline.has_description,
                                        d->u.pipeline.description,
                                        sizeof(d->u.pipeline.description),
                                        ec)) ||
                    (err = set_opt_bool(p, "is_active",
                                        d->u.pipeline.has_is_active,
                                        d->u.pipeline.is_active, ec)) ||
                    (err = set_opt_bool(p, "is_default",
                                        d->u.pipeline.has_is_default,
                                        d->u.pipeline.is_default, ec)) ||
                    (err = set_opt_long(p, "timeout_seconds",
                                        d->u.pipeline.has_timeout_seconds,
                                        d->u.pipeline.timeout_seconds, ec)))
                        return err;
                return SR_OK;
        case SR_DEFCMD_DELETE_PIPELINE:
                return SR_OK;
        case SR_DEFCMD_PUT_STAGE:
                if ((err = sr_codec__set_uuid(p, "stage_id",
                                              &d->u.stage.stage_id, ec)) ||
                    (err = set_opt_text(p, "name", d->u.stage.has_name,
                                        d->u.stage.name,
                                        sizeof(d->u.stage.name), ec)) ||
                    (err = set_opt_text(p, "description",
                                        d->u.stage.has_description,
                                        d->u.stage.description,
                                        sizeof(d->u.stage.description),
                                        ec)) ||
                    (err = set_opt_long(p, "timeout_seconds",
                                        d->u.stage.has_timeout_seconds,
                                        d->u.stage.timeout_seconds, ec)) ||
                    (err = set_opt_u32(p, "order", d->u.stage.has_order,
                                       d->u.stage.order, ec)))
                        return err;
                return SR_OK;
        case SR_DEFCMD_DELETE_STAGE:
                return sr_codec__set_uuid(p, "stage_id", &d->u.stage.stage_id,
                                          ec);
        case SR_DEFCMD_PUT_TARGET_LIST:
                if ((err = sr_codec__set_uuid(p, "target_list_id",
                                              &d->u.list.target_list_id,
                                              ec)) ||
                    (err = set_opt_text(p, "name", d->u.list.has_name,
                                        d->u.list.name,
                                        sizeof(d->u.list.name), ec)) ||
                    (err = set_tl_type(p, "type", true, d->u.list.has_type,
                                       d->u.list.type, ec)))
                        return err;
                return SR_OK;
        case SR_DEFCMD_DELETE_TARGET_LIST:
                return sr_codec__set_uuid(p, "target_list_id",
                                          &d->u.list.target_list_id, ec);
        case SR_DEFCMD_ATTACH_TARGET_LIST:
        case SR_DEFCMD_DETACH_TARGET_LIST:
                if ((err = sr_codec__set_uuid(p, "stage_id",
                                              &d->u.attach.stage_id, ec)) ||
                    (err = sr_codec__set_uuid(p, "target_list_id",
                                              &d->u.attach.target_list_id,
                                              ec)))
                        return err;
                return SR_OK;
        case SR_DEFCMD_ADD_TARGETS:
                if ((err = sr_codec__set_uuid(p, "target_list_id",
                                              &d->u.add.target_list_id,
                                              ec)) ||
                    (err = sr_codec__set_u32(p, "chunk_index",
                                             d->u.add.chunk_index, ec)) ||
                    (err = items_to(p, d, ec)))
                        return err;
                return SR_OK;
        case SR_DEFCMD_UPDATE_TARGET:
        case SR_DEFCMD_REMOVE_TARGET:
                if ((err = sr_codec__set_uuid(p, "target_list_id",
                                              &d->u.target.target_list_id,
                                              ec)) ||
                    (err = sr_codec__set_uuid(p, "target_id",
                                              &d->u.target.target_id, ec)))
                        return err;
                if (d->kind == SR_DEFCMD_REMOVE_TARGET)
                        return SR_OK;
                if ((err = set_opt_text(p, "device_name",
                                        d->u.target.has_device_name,
                                        d->u.target.device_name,
                                        sizeof(d->u.target.device_name),
                                        ec)) ||
                    (err = set_opt_bool(p, "is_active",
                                        d->u.target.has_is_active,
                                        d->u.target.is_active, ec)))
                        return err;
                return SR_OK;
        case SR_DEFCMD_LINK_DEVICE_GROUP:
        case SR_DEFCMD_UNLINK_DEVICE_GROUP:
                if ((err = sr_codec__set_uuid(p, "target_list_id",
                                              &d->u.group.target_list_id,
                                              ec)) ||
                    (err = sr_codec__set_uuid(p, "device_group_id",
                                              &d->u.group.device_group_id,
                                              ec)))
                        return err;
                return SR_OK;
        case SR_DEFCMD_PUT_OPERATION_LIST:
        case SR_DEFCMD_DELETE_OPERATION_LIST:
                if ((err = sr_codec__set_uuid(p, "stage_id",
                                              &d->u.oplist.stage_id, ec)) ||
                    (err = sr_codec__set_uuid(p, "operation_list_id",
                                              &d->u.oplist.operation_list_id,
                                              ec)))
                        return err;
                if (d->kind == SR_DEFCMD_DELETE_OPERATION_LIST)
                        return SR_OK;
                if ((err = set_opt_text(p, "name", d->u.oplist.has_name,
                                        d->u.oplist.name,
                                        sizeof(d->u.oplist.name), ec)) ||
                    (err = set_opt_text(p, "description",
                                        d->u.oplist.has_description,
                                        d->u.oplist.description,
                                        sizeof(d->u.oplist.description),
                                        ec)))
                        return err;
                return SR_OK;
        case SR_DEFCMD_PUT_OPERATION:
        case SR_DEFCMD_DELETE_OPERATION:
                if ((err = sr_codec__set_uuid(p, "operation_list_id",
                                              &d->u.op.operation_list_id,
                                              ec)) ||
                    (err = sr_codec__set_uuid(p, "operation_id",
                                              &d->u.op.operation_id, ec)))
                        return err;
                if (d->kind == SR_DEFCMD_DELETE_OPERATION)
                        return SR_OK;
                /* has_args with a NULL text is "{}" (sr_defs.h). */
                if ((err = set_opt_text(p, "operation_type",
                                        d->u.op.has_operation_type,
                                        d->u.op.operation_type,
                                        sizeof(d->u.op.operation_type),
                                        ec)) ||
                    (err = sr_codec__set_opt_str(
                             p, "args_json",
                             !d->u.op.has_args ? NULL :
                             d->u.op.args_json ? d->u.op.args_json : "{}",
                             0, ec)))
                        return err;
                return SR_OK;
        case SR_DEFCMD_START_PIPELINE_RUN:
                return sr_codec__set_uuid(p, "pipeline_run_id",
                                          &d->u.run.pipeline_run_id, ec);
        case SR_DEFCMD_RUN_ENDED:
                if ((err = sr_codec__set_uuid(p, "pipeline_run_id",
                                              &d->u.run.pipeline_run_id,
                                              ec)) ||
                    (err = sr_codec__set_status(p, "status", d->u.run.status,
                                                false, ec)))
                        return err;
                return SR_OK;
        case SR_DEFCMD_FILL_STEP:
                if ((err = sr_codec__set_uuid(p, "pipeline_run_id",
                                              &d->u.fill.pipeline_run_id,
                                              ec)) ||
                    (err = sr_codec__set_u32(p, "stage_index",
                                             d->u.fill.stage_index, ec)) ||
                    (err = sr_codec__set_uuid(p, "after", &d->u.fill.after,
                                              ec)) ||
                    (err = sr_codec__set_u32(p, "chunk", d->u.fill.chunk,
                                             ec)) ||
                    (err = set_u64(p, "count", d->u.fill.count, ec)) ||
                    (err = set_seal_state(p, "seal_state",
                                          d->u.fill.seal_state,
                                          d->u.fill.seal_state_len, ec)))
                        return err;
                /* version 8's source: version 6 (source 0) has none */
                if (sr_codec__field_opt(p, "source", &(avro_value_t){ 0 }))
                        return sr_codec__set_u32(p, "source",
                                                 d->u.fill.source, ec);
                if (d->u.fill.source)
                        return sr_errctx_set(ec, SR_ERR_INVALID,
                                             "field source: %u, not in "
                                             "this version",
                                             d->u.fill.source);
                return SR_OK;
        default:
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field payload: unknown definition "
                                     "command kind %d", (int)d->kind);
        }
}

sr_err_t sr_codec__defcmd_from(avro_value_t *p, const sr_command_t *c,
                               sr_defcmd_t *d, sr_errctx_t *ec)
{
        char text[SR_SHORT_MAX];
        int64_t ev = 0;
        sr_err_t err;

        if ((err = sr_codec__get_uuid(p, "pipeline_id", &d->pipeline_id,
                                      ec)) ||
            (err = get_opt_long(p, "expected_version",
                                &d->has_expected_version, &ev, ec)))
                return err;
        if (!sr_uuid_eq(&d->pipeline_id, &c->pipeline_run_id))
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field pipeline_id: not the command's "
                                     "pipeline_run_id (the key names the "
                                     "pipeline)");
        if (d->has_expected_version && (ev < 0 || ev > UINT32_MAX))
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field expected_version: %" PRId64
                                     " out of range (0 .. 2^32-1)", ev);
        d->expected_version = (uint32_t)ev;
        if (is_put(d->kind) &&
            (err = sr_codec__get_bool(p, "create", &d->create, ec)))
                return err;
        switch (d->kind) {
        case SR_DEFCMD_PUT_PIPELINE:
                if ((err = get_opt_text(p, "name", &d->u.pipeline.has_name,
                                        d->u.pipeline.name,
                                        sizeof(d->u.pipeline.name), ec)) ||
                    (err = get_opt_text(p, "description",
                                        &d->u.pipeline.has_description,
                                        d->u.pipeline.description,
                                        sizeof(d->u.pipeline.description),
                                        ec)) ||
                    (err = get_opt_bool(p, "is_active",
                                        &d->u.pipeline.has_is_active,
                                        &d->u.pipeline.is_active, ec)) ||
                    (err = get_opt_bool(p, "is_default",
                                        &d->u.pipeline.has_is_default,
                                        &d->u.pipeline.is_default, ec)) ||
                    (err = get_opt_long(p, "timeout_seconds",
                                        &d->u.pipeline.has_timeout_seconds,
                                        &d->u.pipeline.timeout_seconds, ec)))
                        return err;
                return SR_OK;
        case SR_DEFCMD_DELETE_PIPELINE:
                return SR_OK;
        case SR_DEFCMD_PUT_STAGE:
                if ((err = sr_codec__get_uuid(p, "stage_id",
                                              &d->u.stage.stage_id, ec)) ||
                    (err = get_opt_text(p, "name", &d->u.stage.has_name,
                                        d->u.stage.name,
                                        sizeof(d->u.stage.name), ec)) ||
                    (err = get_opt_text(p, "description",
                                        &d->u.stage.has_description,
                                        d->u.stage.description,
                                        sizeof(d->u.stage.description),
                                        ec)) ||
                    (err = get_opt_long(p, "timeout_seconds",
                                        &d->u.stage.has_timeout_seconds,
                                        &d->u.stage.timeout_seconds, ec)) ||
                    (err = get_opt_u32(p, "order", &d->u.stage.has_order,
                                       &d->u.stage.order, ec)))
                        return err;
                return SR_OK;
        case SR_DEFCMD_DELETE_STAGE:
                return sr_codec__get_uuid(p, "stage_id", &d->u.stage.stage_id,
                                          ec);
        case SR_DEFCMD_PUT_TARGET_LIST:
                if ((err = sr_codec__get_uuid(p, "target_list_id",
                                              &d->u.list.target_list_id,
                                              ec)) ||
                    (err = get_opt_text(p, "name", &d->u.list.has_name,
                                        d->u.list.name,
                                        sizeof(d->u.list.name), ec)) ||
                    (err = get_opt_text(p, "type", &d->u.list.has_type, text,
                                        sizeof(text), ec)))
                        return err;
                if (d->u.list.has_type)
                        return parse_tl_type("type", text, &d->u.list.type,
                                             ec);
                return SR_OK;
        case SR_DEFCMD_DELETE_TARGET_LIST:
                return sr_codec__get_uuid(p, "target_list_id",
                                          &d->u.list.target_list_id, ec);
        case SR_DEFCMD_ATTACH_TARGET_LIST:
        case SR_DEFCMD_DETACH_TARGET_LIST:
                if ((err = sr_codec__get_uuid(p, "stage_id",
                                              &d->u.attach.stage_id, ec)) ||
                    (err = sr_codec__get_uuid(p, "target_list_id",
                                              &d->u.attach.target_list_id,
                                              ec)))
                        return err;
                return SR_OK;
        case SR_DEFCMD_ADD_TARGETS:
                if ((err = sr_codec__get_uuid(p, "target_list_id",
                                              &d->u.add.target_list_id,
                                              ec)) ||
                    (err = sr_codec__get_u32(p, "chunk_index",
                                             &d->u.add.chunk_index, ec)))
                        return err;
                return items_from(p, d, ec);
        case SR_DEFCMD_UPDATE_TARGET:
        case SR_DEFCMD_REMOVE_TARGET:
                if ((err = sr_codec__get_uuid(p, "target_list_id",
                                              &d->u.target.target_list_id,
                                              ec)) ||
                    (err = sr_codec__get_uuid(p, "target_id",
                                              &d->u.target.target_id, ec)))
                        return err;
                if (d->kind == SR_DEFCMD_REMOVE_TARGET)
                        return SR_OK;
                if ((err = get_opt_text(p, "device_name",
                                        &d->u.target.has_device_name,
                                        d->u.target.device_name,
                                        sizeof(d->u.target.device_name),
                                        ec)) ||
                    (err = get_opt_bool(p, "is_active",
                                        &d->u.target.has_is_active,
                                        &d->u.target.is_active, ec)))
                        return err;
                return SR_OK;
        case SR_DEFCMD_LINK_DEVICE_GROUP:
        case SR_DEFCMD_UNLINK_DEVICE_GROUP:
                if ((err = sr_codec__get_uuid(p, "target_list_id",
                                              &d->u.group.target_list_id,
                                              ec)) ||
                    (err = sr_codec__get_uuid(p, "device_group_id",
                                              &d->u.group.device_group_id,
                                              ec)))
                        return err;
                return SR_OK;
        case SR_DEFCMD_PUT_OPERATION_LIST:
        case SR_DEFCMD_DELETE_OPERATION_LIST:
                if ((err = sr_codec__get_uuid(p, "stage_id",
                                              &d->u.oplist.stage_id, ec)) ||
                    (err = sr_codec__get_uuid(p, "operation_list_id",
                                              &d->u.oplist.operation_list_id,
                                              ec)))
                        return err;
                if (d->kind == SR_DEFCMD_DELETE_OPERATION_LIST)
                        return SR_OK;
                if ((err = get_opt_text(p, "name", &d->u.oplist.has_name,
                                        d->u.oplist.name,
                                        sizeof(d->u.oplist.name), ec)) ||
                    (err = get_opt_text(p, "description",
                                        &d->u.oplist.has_description,
                                        d->u.oplist.description,
                                        sizeof(d->u.oplist.description),
                                        ec)))
                        return err;
                return SR_OK;
        case SR_DEFCMD_PUT_OPERATION:
        case SR_DEFCMD_DELETE_OPERATION:
                if ((err = sr_codec__get_uuid(p, "operation_list_id",
                                              &d->u.op.operation_list_id,
                                              ec)) ||
                    (err = sr_codec__get_uuid(p, "operation_id",
                                              &d->u.op.operation_id, ec)))
                        return err;
                if (d->kind == SR_DEFCMD_DELETE_OPERATION)
                        return SR_OK;
                if ((err = get_opt_text(p, "operation_type",
                                        &d->u.op.has_operation_type,
                                        d->u.op.operation_type,
                                        sizeof(d->u.op.operation_type),
                                        ec)) ||
                    (err = sr_codec__get_str_dup(p, "args_json", true,
                                                 &d->u.op.args_json, ec)))
                        return err;
                d->u.op.has_args = d->u.op.args_json != NULL;
                return SR_OK;
        case SR_DEFCMD_START_PIPELINE_RUN:
                return sr_codec__get_uuid(p, "pipeline_run_id",
                                          &d->u.run.pipeline_run_id, ec);
        case SR_DEFCMD_RUN_ENDED:
                if ((err = sr_codec__get_uuid(p, "pipeline_run_id",
                                              &d->u.run.pipeline_run_id,
                                              ec)) ||
                    (err = sr_codec__get_status(p, "status", false,
                                                &d->u.run.status, ec)))
                        return err;
                return SR_OK;
        case SR_DEFCMD_FILL_STEP:
                if ((err = sr_codec__get_uuid(p, "pipeline_run_id",
                                              &d->u.fill.pipeline_run_id,
                                              ec)) ||
                    (err = sr_codec__get_u32(p, "stage_index",
                                             &d->u.fill.stage_index, ec)) ||
                    (err = sr_codec__get_uuid(p, "after", &d->u.fill.after,
                                              ec)) ||
                    (err = sr_codec__get_u32(p, "chunk", &d->u.fill.chunk,
                                             ec)) ||
                    (err = get_u64(p, "count", &d->u.fill.count, ec)) ||
                    (err = get_seal_state(p, "seal_state",
                                          d->u.fill.seal_state,
                                          sizeof(d->u.fill.seal_state),
                                          &d->u.fill.seal_state_len, ec)))
                        return err;
                /* version 8's source; version 6's FillStep is source 0 */
                if (sr_codec__field_opt(p, "source", &(avro_value_t){ 0 }))
                        return sr_codec__get_u32(p, "source",
                                                 &d->u.fill.source, ec);
                return SR_OK;
        default:
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field payload: unknown definition "
                                     "command kind %d", (int)d->kind);
        }
}

/* ---------------------------------------------------------- records */

/* The audit fields of a definition's or a device group's record. */
sr_err_t sr_codec__audit_to(avro_value_t *b, const sr_def_audit_t *a,
                            sr_errctx_t *ec)
{
        sr_err_t err;

        if ((err = sr_codec__set_u32(b, "version", a->version, ec)) ||
            (err = sr_codec__set_long(b, "created_at", a->created_at, ec)) ||
            (err = sr_codec__set_long(b, "updated_at", a->updated_at, ec)))
                return err;
        return SR_OK;
}

sr_err_t sr_codec__audit_from(avro_value_t *b, sr_def_audit_t *a,
                              sr_errctx_t *ec)
{
        sr_err_t err;

        if ((err = sr_codec__get_u32(b, "version", &a->version, ec)) ||
            (err = sr_codec__get_long(b, "created_at", &a->created_at, ec)) ||
            (err = sr_codec__get_long(b, "updated_at", &a->updated_at, ec)))
                return err;
        return SR_OK;
}

#define STR_TO(b, name, s) sr_codec__set_str(b, name, s, sizeof(s), ec)
#define STR_FROM(b, name, s) sr_codec__get_str(b, name, s, sizeof(s), ec)

static sr_err_t stage_ids_to(avro_value_t *b, const sr_def_active_run_t *r,
                             sr_errctx_t *ec)
{
        avro_value_t arr, item;
        sr_err_t err;

        if (r->n_stage_ids && !r->stage_ids)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field stage_ids: %u items, NULL array",
                                     r->n_stage_ids);
        err = sr_codec__field(b, "stage_ids", &arr, ec);
        for (uint32_t i = 0; !err && i < r->n_stage_ids; i++) {
                err = sr_codec__append(&arr, "stage_ids", &item, ec);
                if (!err)
                        err = sr_codec__val_set_uuid(&item, "stage_ids",
                                                     &r->stage_ids[i], ec);
        }
        return err;
}

static sr_err_t stage_ids_from(avro_value_t *b, sr_def_active_run_t *r,
                               sr_errctx_t *ec)
{
        avro_value_t arr, item;
        sr_err_t err;
        size_t n;
        int rc;

        err = sr_codec__get_array(b, "stage_ids", SR_CODEC_MAX_ITEMS, &arr,
                                  &n, ec);
        if (err || n == 0)
                return err;
        r->stage_ids = calloc(n, sizeof(*r->stage_ids));
        if (!r->stage_ids)
                return sr_errctx_set(ec, SR_ERR_NOMEM,
                                     "field stage_ids: calloc %zu items", n);
        r->n_stage_ids = (uint32_t)n;
        for (size_t i = 0; i < n; i++) {
                rc = avro_value_get_by_index(&arr, i, &item, NULL);
                err = rc ? sr_codec__avro_err(ec, rc, "stage_ids", "get") :
                           sr_codec__val_uuid(&item, "stage_ids",
                                              &r->stage_ids[i], ec);
                if (err) {
                        sr_errctx_prefix(ec, "stage_ids[%zu]", i);
                        return err;
                }
        }
        return SR_OK;
}

sr_err_t sr_codec__def_record_to(avro_value_t *b, const sr_def_record_t *r,
                                 sr_errctx_t *ec)
{
        sr_err_t err;

        if ((err = sr_codec__set_uuid(b, "pipeline_id", &r->pipeline_id,
                                      ec)) ||
            (err = STR_TO(b, "enterprise_id", r->enterprise_id)))
                return err;
        switch (r->kind) {
        case SR_DEF_PIPELINE: {
                const sr_def_pipeline_t *p = &r->u.pipeline;

                /* Its id and tenant are the record's: written once. */
                if (!sr_uuid_eq(&p->id, &r->pipeline_id) ||
                    strncmp(p->enterprise_id, r->enterprise_id,
                            sizeof(p->enterprise_id)))
                        return sr_errctx_set(ec, SR_ERR_INVALID,
                                             "field pipeline_id: the "
                                             "pipeline's id and "
                                             "enterprise_id must be the "
                                             "record's");
                if ((err = STR_TO(b, "name", p->name)) ||
                    (err = STR_TO(b, "description", p->description)) ||
                    (err = sr_codec__set_bool(b, "is_active", p->is_active,
                                              ec)) ||
                    (err = sr_codec__set_bool(b, "is_default", p->is_default,
                                              ec)) ||
                    (err = sr_codec__set_long(b, "timeout_seconds",
                                              p->timeout_seconds, ec)) ||
                    (err = sr_codec__set_long(b, "deleted_at", p->deleted_at,
                                              ec)) ||
                    (err = set_u64(b, "runs_started", p->runs_started, ec)) ||
                    (err = set_u64(b, "last_seq", p->last_seq, ec)) ||
                    (err = set_u64(b, "next_ordinal", p->next_ordinal, ec)))
                        return err;
                return sr_codec__audit_to(b, &p->a, ec);
        }
        case SR_DEF_STAGE: {
                const sr_def_stage_t *s = &r->u.stage;

                if ((err = sr_codec__set_uuid(b, "id", &s->id, ec)) ||
                    (err = STR_TO(b, "name", s->name)) ||
                    (err = STR_TO(b, "description", s->description)) ||
                    (err = sr_codec__set_long(b, "timeout_seconds",
                                              s->timeout_seconds, ec)) ||
                    (err = sr_codec__set_u32(b, "order", s->order, ec)) ||
                    (err = set_u64(b, "ordinal", s->ordinal, ec)))
                        return err;
                return sr_codec__audit_to(b, &s->a, ec);
        }
        case SR_DEF_TARGET_LIST: {
                const sr_def_target_list_t *l = &r->u.list;

                if ((err = sr_codec__set_uuid(b, "id", &l->id, ec)) ||
                    (err = STR_TO(b, "name", l->name)) ||
                    (err = set_tl_type(b, "type", false, true, l->type,
                                       ec)) ||
                    (err = set_u64(b, "ordinal", l->ordinal, ec)) ||
                    (err = sr_codec__set_u32(b, "n_targets", l->n_targets,
                                             ec)) ||
                    (err = sr_codec__set_u32(b, "n_groups", l->n_groups, ec)))
                        return err;
                return sr_codec__audit_to(b, &l->a, ec);
        }
        case SR_DEF_ATTACHMENT: {
                const sr_def_attachment_t *a = &r->u.attachment;

                if ((err = sr_codec__set_uuid(b, "id", &a->id, ec)) ||
                    (err = sr_codec__set_uuid(b, "stage_id", &a->stage_id,
                                              ec)) ||
                    (err = sr_codec__set_uuid(b, "target_list_id",
                                              &a->target_list_id, ec)) ||
                    (err = set_u64(b, "ordinal", a->ordinal, ec)))
                        return err;
                return sr_codec__audit_to(b, &a->a, ec);
        }
        case SR_DEF_OPERATION_LIST: {
                const sr_def_oplist_t *o = &r->u.oplist;

                if ((err = sr_codec__set_uuid(b, "id", &o->id, ec)) ||
                    (err = sr_codec__set_uuid(b, "stage_id", &o->stage_id,
                                              ec)) ||
                    (err = STR_TO(b, "name", o->name)) ||
                    (err = STR_TO(b, "description", o->description)) ||
                    (err = set_u64(b, "ordinal", o->ordinal, ec)))
                        return err;
                return sr_codec__audit_to(b, &o->a, ec);
        }
        case SR_DEF_OPERATION: {
                const sr_def_operation_t *o = &r->u.operation;

                if ((err = sr_codec__set_uuid(b, "id", &o->id, ec)) ||
                    (err = sr_codec__set_uuid(b, "operation_list_id",
                                              &o->operation_list_id, ec)) ||
                    (err = STR_TO(b, "operation_type", o->operation_type)) ||
                    (err = sr_codec__set_opt_str(b, "args_json", o->args_json,
                                                 0, ec)) ||
                    (err = set_u64(b, "ordinal", o->ordinal, ec)))
                        return err;
                return sr_codec__audit_to(b, &o->a, ec);
        }
        case SR_DEF_GROUP_LINK: {
                const sr_def_group_link_t *g = &r->u.group_link;

                if ((err = sr_codec__set_uuid(b, "id", &g->id, ec)) ||
                    (err = sr_codec__set_uuid(b, "target_list_id",
                                              &g->target_list_id, ec)) ||
                    (err = sr_codec__set_uuid(b, "device_group_id",
                                              &g->device_group_id, ec)) ||
                    (err = set_u64(b, "ordinal", g->ordinal, ec)))
                        return err;
                return sr_codec__audit_to(b, &g->a, ec);
        }
        case SR_DEF_ACTIVE_RUN: {
                const sr_def_active_run_t *a = &r->u.active_run;

                if ((err = sr_codec__set_uuid(b, "run_id", &a->run_id, ec)) ||
                    (err = set_u64(b, "definition_seq", a->definition_seq,
                                   ec)) ||
                    (err = sr_codec__set_bool(b, "filling", a->filling, ec)) ||
                    (err = set_u64(b, "ordinal", a->ordinal, ec)) ||
                    (err = stage_ids_to(b, a, ec)))
                        return err;
                return sr_codec__audit_to(b, &a->a, ec);
        }
        case SR_DEF_TARGET: {
                const sr_def_target_t *t = &r->u.target;

                if ((err = sr_codec__set_uuid(b, "id", &t->id, ec)) ||
                    (err = sr_codec__set_uuid(b, "target_list_id",
                                              &t->target_list_id, ec)) ||
                    (err = sr_codec__set_uuid(b, "device_id", &t->device_id,
                                              ec)) ||
                    (err = STR_TO(b, "device_name", t->device_name)) ||
                    (err = STR_TO(b, "device_alias", t->device_alias)) ||
                    (err = sr_codec__set_bool(b, "is_active", t->is_active,
                                              ec)) ||
                    (err = sr_codec__set_opt_str(b, "device_meta_json",
                                                 t->device_meta_json, 0,
                                                 ec)) ||
                    (err = sr_codec__set_opt_str(b, "args_json", t->args_json,
                                                 0, ec)))
                        return err;
                return sr_codec__audit_to(b, &t->a, ec);
        }
        default:
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field state: unknown definition kind "
                                     "%d", (int)r->kind);
        }
}

sr_err_t sr_codec__def_record_from(avro_value_t *b, sr_def_record_t *r,
                                   sr_errctx_t *ec)
{
        char text[SR_SHORT_MAX];
        sr_err_t err;

        if ((err = sr_codec__get_uuid(b, "pipeline_id", &r->pipeline_id,
                                      ec)) ||
            (err = STR_FROM(b, "enterprise_id", r->enterprise_id)))
                return err;
        switch (r->kind) {
        case SR_DEF_PIPELINE: {
                sr_def_pipeline_t *p = &r->u.pipeline;

                p->id = r->pipeline_id;
                memcpy(p->enterprise_id, r->enterprise_id,
                       sizeof(p->enterprise_id));
                if ((err = STR_FROM(b, "name", p->name)) ||
                    (err = STR_FROM(b, "description", p->description)) ||
                    (err = sr_codec__get_bool(b, "is_active", &p->is_active,
                                              ec)) ||
                    (err = sr_codec__get_bool(b, "is_default", &p->is_default,
                                              ec)) ||
                    (err = sr_codec__get_long(b, "timeout_seconds",
                                              &p->timeout_seconds, ec)) ||
                    (err = sr_codec__get_long(b, "deleted_at", &p->deleted_at,
                                              ec)) ||
                    (err = get_u64(b, "runs_started", &p->runs_started, ec)) ||
                    (err = get_u64(b, "last_seq", &p->last_seq, ec)) ||
                    (err = get_u64(b, "next_ordinal", &p->next_ordinal, ec)))
                        return err;
                return sr_codec__audit_from(b, &p->a, ec);
        }
        case SR_DEF_STAGE: {
                sr_def_stage_t *s = &r->u.stage;

                if ((err = sr_codec__get_uuid(b, "id", &s->id, ec)) ||
                    (err = STR_FROM(b, "name", s->name)) ||
                    (err = STR_FROM(b, "description", s->description)) ||
                    (err = sr_codec__get_long(b, "timeout_seconds",
                                              &s->timeout_seconds, ec)) ||
                    (err = sr_codec__get_u32(b, "order", &s->order, ec)) ||
                    (err = get_u64(b, "ordinal", &s->ordinal, ec)))
                        return err;
                return sr_codec__audit_from(b, &s->a, ec);
        }
        case SR_DEF_TARGET_LIST: {
                sr_def_target_list_t *l = &r->u.list;

                if ((err = sr_codec__get_uuid(b, "id", &l->id, ec)) ||
                    (err = STR_FROM(b, "name", l->name)) ||
                    (err = STR_FROM(b, "type", text)) ||
                    (err = parse_tl_type("type", text, &l->type, ec)) ||
                    (err = get_u64(b, "ordinal", &l->ordinal, ec)) ||
                    (err = sr_codec__get_u32(b, "n_targets", &l->n_targets,
                                             ec)) ||
                    (err = sr_codec__get_u32(b, "n_groups", &l->n_groups,
                                             ec)))
                        return err;
                return sr_codec__audit_from(b, &l->a, ec);
        }
        case SR_DEF_ATTACHMENT: {
                sr_def_attachment_t *a = &r->u.attachment;

                if ((err = sr_codec__get_uuid(b, "id", &a->id, ec)) ||
                    (err = sr_codec__get_uuid(b, "stage_id", &a->stage_id,
                                              ec)) ||
                    (err = sr_codec__get_uuid(b, "target_list_id",
                                              &a->target_list_id, ec)) ||
                    (err = get_u64(b, "ordinal", &a->ordinal, ec)))
                        return err;
                return sr_codec__audit_from(b, &a->a, ec);
        }
        case SR_DEF_OPERATION_LIST: {
                sr_def_oplist_t *o = &r->u.oplist;

                if ((err = sr_codec__get_uuid(b, "id", &o->id, ec)) ||
                    (err = sr_codec__get_uuid(b, "stage_id", &o->stage_id,
                                              ec)) ||
                    (err = STR_FROM(b, "name", o->name)) ||
                    (err = STR_FROM(b, "description", o->description)) ||
                    (err = get_u64(b, "ordinal", &o->ordinal, ec)))
                        return err;
                return sr_codec__audit_from(b, &o->a, ec);
        }
        case SR_DEF_OPERATION: {
                sr_def_operation_t *o = &r->u.operation;

                if ((err = sr_codec__get_uuid(b, "id", &o->id, ec)) ||
                    (err = sr_codec__get_uuid(b, "operation_list_id",
                                              &o->operation_list_id, ec)) ||
                    (err = STR_FROM(b, "operation_type", o->operation_type)) ||
                    (err = get_u64(b, "ordinal", &o->ordinal, ec)) ||
                    (err = sr_codec__audit_from(b, &o->a, ec)))
                        return err;
                /* Last: the only allocation. */
                return sr_codec__get_str_dup(b, "args_json", true,
                                             &o->args_json, ec);
        }
        case SR_DEF_GROUP_LINK: {
                sr_def_group_link_t *g = &r->u.group_link;

                if ((err = sr_codec__get_uuid(b, "id", &g->id, ec)) ||
                    (err = sr_codec__get_uuid(b, "target_list_id",
                                              &g->target_list_id, ec)) ||
                    (err = sr_codec__get_uuid(b, "device_group_id",
                                              &g->device_group_id, ec)) ||
                    (err = get_u64(b, "ordinal", &g->ordinal, ec)))
                        return err;
                return sr_codec__audit_from(b, &g->a, ec);
        }
        case SR_DEF_ACTIVE_RUN: {
                sr_def_active_run_t *a = &r->u.active_run;

                if ((err = sr_codec__get_uuid(b, "run_id", &a->run_id, ec)) ||
                    (err = get_u64(b, "definition_seq", &a->definition_seq,
                                   ec)) ||
                    (err = sr_codec__get_bool(b, "filling", &a->filling,
                                              ec)) ||
                    (err = get_u64(b, "ordinal", &a->ordinal, ec)) ||
                    (err = sr_codec__audit_from(b, &a->a, ec)))
                        return err;
                return stage_ids_from(b, a, ec);
        }
        case SR_DEF_TARGET: {
                sr_def_target_t *t = &r->u.target;

                if ((err = sr_codec__get_uuid(b, "id", &t->id, ec)) ||
                    (err = sr_codec__get_uuid(b, "target_list_id",
                                              &t->target_list_id, ec)) ||
                    (err = sr_codec__get_uuid(b, "device_id", &t->device_id,
                                              ec)) ||
                    (err = STR_FROM(b, "device_name", t->device_name)) ||
                    (err = STR_FROM(b, "device_alias", t->device_alias)) ||
                    (err = sr_codec__get_bool(b, "is_active", &t->is_active,
                                              ec)) ||
                    (err = sr_codec__audit_from(b, &t->a, ec)) ||
                    (err = sr_codec__get_str_dup(b, "device_meta_json", true,
                                                 &t->device_meta_json, ec)) ||
                    (err = sr_codec__get_str_dup(b, "args_json", true,
                                                 &t->args_json, ec)))
                        return err;
                return SR_OK;
        }
        default:
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field state: unknown definition kind "
                                     "%d", (int)r->kind);
        }
}

/* ---------------------------------------------------------- replies */

sr_err_t sr_codec__reply_def_to(avro_value_t *rec, const sr_reply_def_t *d,
                                sr_errctx_t *ec)
{
        sr_err_t err;

        /* A device group's reply (sr_groups.h) names it beside the
         * definition kinds: the field is text, so version 2 carries it. */
        err = d->entity_kind == SR_REPLY_KIND_DEVICE_GROUP ?
                      sr_codec__set_str(rec, "entity_type", "device_group", 0,
                                        ec) :
                      set_kind(rec, "entity_type", d->entity_kind, ec);
        if (err ||
            (err = sr_codec__set_uuid(rec, "entity_id", &d->entity_id, ec)) ||
            (err = sr_codec__set_u32(rec, "version", d->version, ec)) ||
            (err = set_u64(rec, "seq", d->seq, ec)) ||
            (err = sr_codec__set_u32(rec, "created", d->created, ec)) ||
            (err = sr_codec__set_u32(rec, "added", d->added, ec)) ||
            (err = sr_codec__set_u32(rec, "skipped", d->skipped, ec)))
                return err;
        return SR_OK;
}

sr_err_t sr_codec__reply_def_from(avro_value_t *rec, sr_reply_def_t *d,
                                  sr_errctx_t *ec)
{
        char text[SR_SHORT_MAX];
        sr_def_kind_t k;
        sr_err_t err;

        err = sr_codec__get_str(rec, "entity_type", text, sizeof(text), ec);
        if (!err && !strcmp(text, "device_group"))
                k = (sr_def_kind_t)SR_REPLY_KIND_DEVICE_GROUP;
        else if (!err)
                err = kind_of_text("entity_type", text, &k, ec);
        if (err ||
            (err = sr_codec__get_uuid(rec, "entity_id", &d->entity_id, ec)) ||
            (err = sr_codec__get_u32(rec, "version", &d->version, ec)) ||
            (err = get_u64(rec, "seq", &d->seq, ec)) ||
            (err = sr_codec__get_u32(rec, "created", &d->created, ec)) ||
            (err = sr_codec__get_u32(rec, "added", &d->added, ec)) ||
            (err = sr_codec__get_u32(rec, "skipped", &d->skipped, ec)))
                return err;
        d->entity_kind = (int)k;
        return SR_OK;
}

/* ---------------------------------------------------------- events */

static sr_err_t def_event_to(avro_value_t *v, const sr_def_event_t *e,
                             sr_errctx_t *ec)
{
        const char *change = sr_def_change_name(e->change);
        sr_err_t err;

        if ((err = sr_codec__set_uuid(v, "event_id", &e->event_id, ec)) ||
            (err = set_u64(v, "seq", e->seq, ec)) ||
            (err = sr_codec__set_uuid(v, "pipeline_id", &e->pipeline_id,
                                      ec)) ||
            (err = STR_TO(v, "enterprise_id", e->enterprise_id)) ||
            (err = set_kind(v, "entity_type", (int)e->entity_type, ec)) ||
            (err = sr_codec__set_uuid(v, "entity_id", &e->entity_id, ec)) ||
            (err = sr_codec__set_opt_uuid(v, "parent_id", &e->parent_id,
                                          ec)))
                return err;
        if (!change)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field change: value %d out of range",
                                     (int)e->change);
        if ((err = sr_codec__set_str(v, "change", change, 0, ec)) ||
            (err = sr_codec__set_u32(v, "version", e->version, ec)) ||
            (err = sr_codec__set_long(v, "occurred_at", e->occurred_at,
                                      ec)) ||
            (err = sr_codec__set_uuid(v, "causation_id", &e->causation_id,
                                      ec)))
                return err;
        return SR_OK;
}

static sr_err_t def_event_from(avro_value_t *v, sr_def_event_t *e,
                               sr_errctx_t *ec)
{
        char text[SR_SHORT_MAX], q[64];
        sr_err_t err;
        int c;

        if ((err = sr_codec__get_uuid(v, "event_id", &e->event_id, ec)) ||
            (err = get_u64(v, "seq", &e->seq, ec)) ||
            (err = sr_codec__get_uuid(v, "pipeline_id", &e->pipeline_id,
                                      ec)) ||
            (err = STR_FROM(v, "enterprise_id", e->enterprise_id)) ||
            (err = get_kind(v, "entity_type", &e->entity_type, ec)) ||
            (err = sr_codec__get_uuid(v, "entity_id", &e->entity_id, ec)) ||
            (err = sr_codec__get_opt_uuid(v, "parent_id", &e->parent_id,
                                          ec)) ||
            (err = STR_FROM(v, "change", text)))
                return err;
        for (c = 0; sr_def_change_name((sr_def_change_t)c); c++)
                if (!strcmp(text, sr_def_change_name((sr_def_change_t)c)))
                        break;
        if (!sr_def_change_name((sr_def_change_t)c))
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field change: unknown change \"%s\" "
                                     "(created, updated or deleted)",
                                     sr_codec__quote(q, text, strlen(text)));
        e->change = (sr_def_change_t)c;
        if ((err = sr_codec__get_u32(v, "version", &e->version, ec)) ||
            (err = sr_codec__get_long(v, "occurred_at", &e->occurred_at,
                                      ec)) ||
            (err = sr_codec__get_uuid(v, "causation_id", &e->causation_id,
                                      ec)))
                return err;
        return SR_OK;
}

sr_err_t sr_codec_encode_def_event(sr_codec_t *codec,
                                   const sr_def_event_t *ev, sr_buf_t *out,
                                   sr_errctx_t *ec)
{
        avro_value_t *v;
        sr_err_t err;

        err = sr_codec__begin_encode(codec, SR_SCHEMA_DEF_EVENT, &v, ec);
        if (!err)
                err = def_event_to(v, ev, ec);
        if (!err)
                err = sr_codec__finish_encode(codec, SR_SCHEMA_DEF_EVENT, out,
                                              ec);
        if (err)
                sr_errctx_prefix(ec, "encode definition event");
        return err;
}

sr_err_t sr_codec_decode_def_event(sr_codec_t *codec, sr_slice_t in,
                                   sr_def_event_t *out, sr_errctx_t *ec)
{
        sr_def_event_t tmp;
        avro_value_t *v;
        sr_err_t err;

        memset(&tmp, 0, sizeof(tmp));
        err = sr_codec__begin_decode(codec, in, SR_SCHEMA_DEF_EVENT, &v, ec);
        if (!err)
                err = def_event_from(v, &tmp, ec);
        if (err) {
                sr_errctx_prefix(ec, "definition event");
                return err;
        }
        *out = tmp;
        return SR_OK;
}
