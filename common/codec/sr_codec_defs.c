/* common/codec/sr_codec_defs.c - stored pipeline definitions on the wire
 * (docs/definitions.md section 2): the 20 definition commands (Command
 * version 5's payload branches PutPipeline ... RunEnded, and version 6's
 * FillStep), and the field helpers the definitions' and the device
 * groups' codecs share (sr_codec__set_opt_long() ..., sr_codec_int.h).
 * The 9 entity records (ChangelogRecord version 3's DefPipeline ...
 * DefTarget), the reply's DefinitionReply and io.sr.v1.DefinitionChanged
 * are in sr_codec_defs_records.c.
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

sr_err_t sr_codec__set_opt_long(avro_value_t *rec, const char *name, bool has,
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

sr_err_t sr_codec__get_opt_long(avro_value_t *rec, const char *name, bool *has,
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

sr_err_t sr_codec__set_u64(avro_value_t *rec, const char *name, uint64_t v,
                           sr_errctx_t *ec)
{
        if (v > INT64_MAX)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field %s: out of range", name);
        return sr_codec__set_long(rec, name, (int64_t)v, ec);
}

sr_err_t sr_codec__get_u64(avro_value_t *rec, const char *name, uint64_t *v,
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

sr_err_t sr_codec__set_seal_state(avro_value_t *rec, const char *name,
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

sr_err_t sr_codec__get_seal_state(avro_value_t *rec, const char *name,
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

/* ---------------------------------------------------------- texts */

sr_err_t sr_codec__set_tl_type(avro_value_t *rec, const char *name, bool opt,
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

sr_err_t sr_codec__parse_tl_type(const char *name, const char *text,
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
            (err = sr_codec__set_opt_long(p, "expected_version",
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
                    (err = sr_codec__set_opt_long(
                             p, "timeout_seconds",
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
                    (err = sr_codec__set_opt_long(
                             p, "timeout_seconds",
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
                    (err = sr_codec__set_tl_type(p, "type", true,
                                                 d->u.list.has_type,
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
                    (err = sr_codec__set_u64(p, "count", d->u.fill.count,
                                             ec)) ||
                    (err = sr_codec__set_seal_state(
                             p, "seal_state", d->u.fill.seal_state,
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
            (err = sr_codec__get_opt_long(p, "expected_version",
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
                    (err = sr_codec__get_opt_long(
                             p, "timeout_seconds",
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
                    (err = sr_codec__get_opt_long(
                             p, "timeout_seconds",
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
                        return sr_codec__parse_tl_type("type", text,
                                                       &d->u.list.type,
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
                    (err = sr_codec__get_u64(p, "count", &d->u.fill.count,
                                             ec)) ||
                    (err = sr_codec__get_seal_state(
                             p, "seal_state", d->u.fill.seal_state,
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
