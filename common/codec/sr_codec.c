/* common/codec/sr_codec.c - codec lifecycle, Confluent framing and the field
 * helpers shared by sr_codec_*.c. Every body is checked by sr_codec__scan()
 * (sr_codec_scan.c) before avro-c reads it.
 */
#include "sr_codec_int.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sr_schemas_gen.h"


/* ---------------------------------------------------------- schema table */

static const sr_schema_def_t *find_def(int32_t id)
{
        for (size_t i = 0; i < sr_schema_defs_count; i++)
                if (sr_schema_defs[i].id == id)
                        return &sr_schema_defs[i];
        return NULL;
}

const char *sr_codec_schema_json(int32_t id)
{
        const sr_schema_def_t *def = find_def(id);

        return def ? def->json : NULL;
}

const char *sr_codec_schema_name(int32_t id)
{
        const sr_schema_def_t *def = find_def(id);

        return def ? def->name : NULL;
}

/* ---------------------------------------------------------- wire ids */

/* Commands' versions 1 (id 1), 2 (id 7), 3 (id 9), 4 (id 10), 5 (id 11),
 * 6 (id 15) and 7 (id 16), the changelog's versions 1 (id 4), 2 (id 8)
 * and 3 (id 12) and replies' version 1 (id 6) are read still, and written
 * for every record they carry; the newest (commands' version 8, id 17;
 * the changelog's version 4, id 18;
 * replies' version 2, id 13) only for what needs it (docs/schemas.md, "Version
 * history"). Oldest first within a slot. The indexes are named in
 * sr_codec_int.h for the writers. */
const sr_schema_older_t sr_schema_older[SR_SCHEMA_OLDER_COUNT] = {
        [SR_OLDER_COMMAND_V1] = { SR_SCHEMA_COMMAND, 1 },
        [SR_OLDER_CHANGELOG_V1] = { SR_SCHEMA_CHANGELOG, 4 },
        [SR_OLDER_COMMAND_V2] = { SR_SCHEMA_COMMAND, 7 },
        [SR_OLDER_COMMAND_V3] = { SR_SCHEMA_COMMAND, 9 },
        [SR_OLDER_COMMAND_V4] = { SR_SCHEMA_COMMAND, 10 },
        [SR_OLDER_CHANGELOG_V2] = { SR_SCHEMA_CHANGELOG, 8 },
        [SR_OLDER_REPLY_V1] = { SR_SCHEMA_REPLY, 6 },
        [SR_OLDER_COMMAND_V5] = { SR_SCHEMA_COMMAND, 11 },
        [SR_OLDER_COMMAND_V6] = { SR_SCHEMA_COMMAND, 15 },
        [SR_OLDER_COMMAND_V7] = { SR_SCHEMA_COMMAND, 16 },
        [SR_OLDER_CHANGELOG_V3] = { SR_SCHEMA_CHANGELOG, 12 },
};

int32_t sr_schema_builtin_id(sr_schema_id_t slot)
{
        switch (slot) {
        case SR_SCHEMA_COMMAND:
                return 17;
        case SR_SCHEMA_CHANGELOG:
                return 18;
        case SR_SCHEMA_REPLY:
                return 13;
        case SR_SCHEMA_DEF_EVENT:
                return 14;
        default:
                return (int32_t)slot;
        }
}

void sr_schema_ids_builtin(sr_schema_ids_t *ids)
{
        ids->wire[0] = 0;
        for (int id = 1; id < SR_SCHEMA__MAX; id++)
                ids->wire[id] = sr_schema_builtin_id((sr_schema_id_t)id);
        for (int i = 0; i < SR_SCHEMA_OLDER_COUNT; i++)
                ids->older[i] = sr_schema_older[i].id;
}

int sr_schema_versions(sr_schema_id_t slot)
{
        int n = 1;

        for (int i = 0; i < SR_SCHEMA_OLDER_COUNT; i++)
                n += sr_schema_older[i].slot == slot;
        return n;
}

#define VERSION_NEWEST (-1) /* version_at(): the slot's written version */
#define VERSION_NONE (-2)

/* Where version @p v of @p slot is: its index in sr_schema_older[],
 * VERSION_NEWEST, or VERSION_NONE. */
static int version_at(sr_schema_id_t slot, int v)
{
        int k = 0;

        if (slot <= 0 || slot >= SR_SCHEMA__MAX || v < 1)
                return VERSION_NONE;
        for (int i = 0; i < SR_SCHEMA_OLDER_COUNT; i++)
                if (sr_schema_older[i].slot == slot && ++k == v)
                        return i;
        return v == k + 1 ? VERSION_NEWEST : VERSION_NONE;
}

int32_t sr_schema_version_id(const sr_schema_ids_t *ids, sr_schema_id_t slot,
                             int v)
{
        int at = version_at(slot, v);

        if (at == VERSION_NONE)
                return 0;
        if (at == VERSION_NEWEST)
                return ids ? ids->wire[slot] : sr_schema_builtin_id(slot);
        return ids ? ids->older[at] : sr_schema_older[at].id;
}

bool sr_schema_ids_set_version(sr_schema_ids_t *ids, sr_schema_id_t slot,
                               int v, int32_t id)
{
        int at = version_at(slot, v);

        if (at == VERSION_NONE)
                return false;
        if (at == VERSION_NEWEST)
                ids->wire[slot] = id;
        else
                ids->older[at] = id;
        return true;
}

/* The older version of @p slot that @p wire names in @p codec: its index
 * in sr_schema_older[], or -1. */
static int older_of(const sr_codec_t *codec, sr_schema_id_t slot,
                    int32_t wire)
{
        for (int i = 0; i < SR_SCHEMA_OLDER_COUNT; i++)
                if (sr_schema_older[i].slot == slot &&
                    codec->ids.older[i] == wire)
                        return i;
        return -1;
}

void sr_codec_set_ids(sr_codec_t *codec, const sr_schema_ids_t *ids)
{
        codec->ids = *ids;
}

int32_t sr_codec_wire_id(const sr_codec_t *codec, sr_schema_id_t id)
{
        return codec->ids.wire[id];
}

int sr_codec_kind_of(const sr_codec_t *codec, int32_t wire)
{
        for (int id = 1; id < SR_SCHEMA__MAX; id++)
                if (codec->ids.wire[id] == wire)
                        return id;
        for (int i = 0; i < SR_SCHEMA_OLDER_COUNT; i++)
                if (codec->ids.older[i] == wire)
                        return (int)sr_schema_older[i].slot;
        return 0;
}

/* ---------------------------------------------------------- lifecycle */

/* Parse the built-in schema @p id and make its class and reusable value. */
static sr_err_t load_schema(int32_t id, avro_schema_t *schema,
                            avro_value_iface_t **iface, avro_value_t *value,
                            bool *has_value, sr_errctx_t *ec)
{
        const sr_schema_def_t *def = find_def(id);
        int rc;

        if (!def)
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "codec: schema %d: not in the built-in "
                                     "table", (int)id);
        rc = avro_schema_from_json_length(def->json, strlen(def->json),
                                          schema);
        if (rc)
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "codec: schema %d (%s): %s", (int)id,
                                     def->file, avro_strerror());
        *iface = avro_generic_class_from_schema(*schema);
        if (!*iface)
                return sr_errctx_set(ec, SR_ERR_NOMEM,
                                     "codec: schema %d: class: %s", (int)id,
                                     avro_strerror());
        rc = avro_generic_value_new(*iface, value);
        if (rc)
                return sr_errctx_set(ec, SR_ERR_NOMEM,
                                     "codec: schema %d: value: %s", (int)id,
                                     avro_strerror());
        *has_value = true;
        return SR_OK;
}

sr_err_t sr_codec_new(sr_codec_t **codecp, sr_errctx_t *ec)
{
        sr_codec_t *codec;
        sr_err_t err;

        codec = calloc(1, sizeof(*codec));
        if (!codec)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "codec: calloc");
        sr_schema_ids_builtin(&codec->ids);

        for (int id = 1; id < SR_SCHEMA__MAX; id++) {
                err = load_schema(sr_schema_builtin_id((sr_schema_id_t)id),
                                  &codec->schema[id], &codec->iface[id],
                                  &codec->value[id], &codec->has_value[id],
                                  ec);
                if (err)
                        goto err_destroy;
        }
        for (int i = 0; i < SR_SCHEMA_OLDER_COUNT; i++) {
                err = load_schema(sr_schema_older[i].id,
                                  &codec->old_schema[i], &codec->old_iface[i],
                                  &codec->old_value[i],
                                  &codec->old_has_value[i], ec);
                if (err)
                        goto err_destroy;
        }
        codec->reader = avro_reader_memory(codec->none, 0);
        codec->writer = avro_writer_memory(codec->none, 0);
        if (!codec->reader || !codec->writer) {
                err = sr_errctx_set(ec, SR_ERR_NOMEM,
                                    "codec: memory reader/writer");
                goto err_destroy;
        }
        *codecp = codec;
        return SR_OK;

err_destroy:
        sr_codec_destroy(codec);
        return err;
}

static void unload_schema(avro_schema_t schema, avro_value_iface_t *iface,
                          avro_value_t *value, bool has_value)
{
        if (has_value)
                avro_value_decref(value);
        if (iface)
                avro_value_iface_decref(iface);
        if (schema)
                avro_schema_decref(schema);
}

void sr_codec_destroy(sr_codec_t *codec)
{
        if (!codec)
                return;
        if (codec->reader)
                avro_reader_free(codec->reader);
        if (codec->writer)
                avro_writer_free(codec->writer);
        for (int id = 1; id < SR_SCHEMA__MAX; id++)
                unload_schema(codec->schema[id], codec->iface[id],
                              &codec->value[id], codec->has_value[id]);
        for (int i = 0; i < SR_SCHEMA_OLDER_COUNT; i++)
                unload_schema(codec->old_schema[i], codec->old_iface[i],
                              &codec->old_value[i], codec->old_has_value[i]);
        free(codec);
}

/* ---------------------------------------------------------- messages */

const char *sr_codec__quote(char dst[64], const char *s, size_t len)
{
        size_t n = len > 40 ? 40 : len, i;

        for (i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];

                dst[i] = c >= 0x20 && c < 0x7f && c != '"' ? (char)c : '?';
        }
        if (n < len) {
                memcpy(dst + i, "...", 3);
                i += 3;
        }
        dst[i] = '\0';
        return dst;
}

sr_err_t sr_codec__avro_err(sr_errctx_t *ec, int rc, const char *field,
                            const char *op)
{
        /* A failure here is out of memory or a schema the code does not
         * match (a build defect): both are for the operator, not the
         * sender. */
        return sr_errctx_set(ec, rc == ENOMEM ? SR_ERR_NOMEM : SR_ERR_SCHEMA,
                             "field %s: %s: %s", field, op, avro_strerror());
}

/* ---------------------------------------------------------- framing */

sr_err_t sr_codec_peek_schema_id(sr_slice_t in, int32_t *idp,
                                 sr_errctx_t *ec)
{
        const uint8_t *b = in.ptr;
        uint32_t id;

        if (in.len < SR_CODEC_HEADER)
                return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                     "shorter than %d bytes (got %zu)",
                                     SR_CODEC_HEADER, in.len);
        if (b[0] != 0)
                return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                     "bad magic byte 0x%02x (want 0x00)",
                                     b[0]);
        id = (uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 |
             (uint32_t)b[3] << 8 | (uint32_t)b[4];
        *idp = (int32_t)id;
        return SR_OK;
}

/* One Avro string that must hold a canonical UUID, at *off of @p b. */
static bool peek_uuid(const uint8_t *b, size_t len, size_t *off,
                      sr_uuid_t *out)
{
        /* A length of 36 is the zig-zag varint 72: one byte. */
        if (len - *off < 1 + SR_UUID_STR_LEN || b[*off] != 2 * SR_UUID_STR_LEN)
                return false;
        if (!sr_uuid_parse((const char *)b + *off + 1, SR_UUID_STR_LEN, out))
                return false;
        *off += 1 + SR_UUID_STR_LEN;
        return true;
}

sr_err_t sr_codec_peek_command_ids(const sr_codec_t *codec, sr_slice_t in,
                                   sr_uuid_t *command_id,
                                   sr_uuid_t *pipeline_run_id,
                                   sr_errctx_t *ec)
{
        size_t off = SR_CODEC_HEADER;
        sr_uuid_t cmd, run;
        int32_t id;
        sr_err_t err;

        err = sr_codec_peek_schema_id(in, &id, ec);
        if (err)
                return err;
        /* Every version of Command starts with the two ids. */
        if (sr_codec_kind_of(codec, id) != SR_SCHEMA_COMMAND)
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "expected schema %" PRId32 " (%s), got "
                                     "%" PRId32,
                                     sr_codec_wire_id(codec,
                                                      SR_SCHEMA_COMMAND),
                                     sr_codec_schema_name(SR_SCHEMA_COMMAND),
                                     id);
        if (!peek_uuid(in.ptr, in.len, &off, &cmd) ||
            !peek_uuid(in.ptr, in.len, &off, &run))
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "command: field command_id or "
                                     "pipeline_run_id: not a UUID string");
        *command_id = cmd;
        *pipeline_run_id = run;
        return SR_OK;
}

/* Reset @p v for a new record and hand it out. */
static sr_err_t begin_value(avro_value_t *v, avro_value_t **vp,
                            sr_errctx_t *ec)
{
        int rc = avro_value_reset(v);

        if (rc)
                return sr_codec__avro_err(ec, rc, "-", "reset");
        *vp = v;
        return SR_OK;
}

sr_err_t sr_codec__begin_encode(sr_codec_t *codec, sr_schema_id_t id,
                                avro_value_t **vp, sr_errctx_t *ec)
{
        return begin_value(&codec->value[id], vp, ec);
}

sr_err_t sr_codec__begin_encode_older(sr_codec_t *codec, int older,
                                      avro_value_t **vp, sr_errctx_t *ec)
{
        return begin_value(&codec->old_value[older], vp, ec);
}

/* Frame @p v under @p wire and copy it out. */
static sr_err_t finish_value(sr_codec_t *codec, avro_value_t *v,
                             uint32_t wire, sr_buf_t *out, sr_errctx_t *ec)
{
        uint8_t *buf;
        size_t size;
        sr_err_t err;
        int rc;

        rc = avro_value_sizeof(v, &size);
        if (rc)
                return sr_codec__avro_err(ec, rc, "-", "sizeof");
        buf = malloc(SR_CODEC_HEADER + size);
        if (!buf)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "malloc %zu bytes",
                                     SR_CODEC_HEADER + size);
        buf[0] = 0;
        buf[1] = (uint8_t)(wire >> 24);
        buf[2] = (uint8_t)(wire >> 16);
        buf[3] = (uint8_t)(wire >> 8);
        buf[4] = (uint8_t)wire;
        avro_writer_memory_set_dest(codec->writer,
                                    (const char *)buf + SR_CODEC_HEADER,
                                    (int64_t)size);
        rc = avro_value_write(codec->writer, v);
        if (rc) {
                err = sr_codec__avro_err(ec, rc, "-", "write");
                goto err_free;
        }
        if ((size_t)avro_writer_tell(codec->writer) != size) {
                err = sr_errctx_set(ec, SR_ERR_SCHEMA,
                                    "wrote %" PRId64 " bytes, sized %zu",
                                    avro_writer_tell(codec->writer), size);
                goto err_free;
        }
        out->ptr = buf;
        out->len = SR_CODEC_HEADER + size;
        return SR_OK;

err_free:
        free(buf);
        return err;
}

sr_err_t sr_codec__finish_encode(sr_codec_t *codec, sr_schema_id_t id,
                                 sr_buf_t *out, sr_errctx_t *ec)
{
        return finish_value(codec, &codec->value[id],
                            (uint32_t)codec->ids.wire[id], out, ec);
}

sr_err_t sr_codec__finish_encode_older(sr_codec_t *codec, int older,
                                       sr_buf_t *out, sr_errctx_t *ec)
{
        return finish_value(codec, &codec->old_value[older],
                            (uint32_t)codec->ids.older[older], out, ec);
}

sr_err_t sr_codec__begin_decode(sr_codec_t *codec, sr_slice_t in,
                                sr_schema_id_t id, avro_value_t **vp,
                                sr_errctx_t *ec)
{
        avro_schema_t schema = codec->schema[id];
        avro_value_t *value = &codec->value[id];
        const uint8_t *body;
        int32_t got;
        sr_err_t err;
        int rc, kind, older;

        err = sr_codec_peek_schema_id(in, &got, ec);
        if (err)
                return err;
        /* The expected id is one compare, an older version of the slot one
         * more look; the whole table is searched only to name what came
         * instead. */
        if (got != codec->ids.wire[id]) {
                older = older_of(codec, id, got);
                if (older >= 0) {
                        schema = codec->old_schema[older];
                        value = &codec->old_value[older];
                } else {
                        kind = sr_codec_kind_of(codec, got);
                        if (!kind)
                                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                                     "unknown schema id "
                                                     "%" PRId32, got);
                        return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                             "expected schema %" PRId32
                                             " (%s), got %" PRId32 " (%s)",
                                             codec->ids.wire[id],
                                             sr_codec_schema_name(id), got,
                                             sr_codec_schema_name(kind));
                }
        }

        body = (const uint8_t *)in.ptr + SR_CODEC_HEADER;
        err = sr_codec__scan(schema, body, in.len - SR_CODEC_HEADER, ec);
        if (err)
                return err;
        avro_reader_memory_set_source(codec->reader, (const char *)body,
                                      (int64_t)(in.len - SR_CODEC_HEADER));
        rc = avro_value_read(codec->reader, value);
        if (rc)
                return sr_errctx_set(ec, rc == ENOMEM ? SR_ERR_NOMEM :
                                     SR_ERR_CORRUPT,
                                     "undecodable body: %s",
                                     avro_strerror());
        *vp = value;
        return SR_OK;
}

/* ---------------------------------------------------------- decode helpers */

/* Field positions by (record schema, name literal): avro-c's by-name
 * lookup hashes the name every time. A hit is confirmed by comparing the
 * field's name, so a stale slot (a schema freed and its address reused)
 * only costs a lookup. */
static _Thread_local struct field_slot {
        avro_schema_t schema;
        const char *name;
        int index;
} field_slots[512];

sr_err_t sr_codec__field(avro_value_t *rec, const char *name,
                         avro_value_t *f, sr_errctx_t *ec)
{
        avro_schema_t schema = avro_value_get_schema(rec);
        uintptr_t h = ((uintptr_t)schema >> 4) * 31u + ((uintptr_t)name >> 2);
        struct field_slot *slot = &field_slots[h & 511u];
        const char *have;
        int rc;

        if (schema && slot->schema == schema && slot->name == name &&
            (have = avro_schema_record_field_name(schema, slot->index)) &&
            !strcmp(have, name)) {
                rc = avro_value_get_by_index(rec, (size_t)slot->index, f,
                                             NULL);
        } else {
                size_t index;

                rc = avro_value_get_by_name(rec, name, f, &index);
                if (!rc && schema && index <= INT_MAX) {
                        slot->schema = schema;
                        slot->name = name;
                        slot->index = (int)index;
                }
        }
        if (rc)
                return sr_codec__avro_err(ec, rc, name, "get");
        return SR_OK;
}

bool sr_codec__field_opt(avro_value_t *rec, const char *name,
                         avro_value_t *f)
{
        size_t index;

        return avro_value_get_by_name(rec, name, f, &index) == 0;
}

sr_err_t sr_codec__get_branch(avro_value_t *rec, const char *name,
                              int *disc, avro_value_t *branch,
                              sr_errctx_t *ec)
{
        sr_err_t err;
        avro_value_t f;
        int rc;

        err = sr_codec__field(rec, name, &f, ec);
        if (err)
                return err;
        rc = avro_value_get_discriminant(&f, disc);
        if (!rc)
                rc = avro_value_get_current_branch(&f, branch);
        if (rc)
                return sr_codec__avro_err(ec, rc, name, "branch");
        return SR_OK;
}

sr_err_t sr_codec__get_array(avro_value_t *rec, const char *name,
                             size_t max, avro_value_t *arr, size_t *n,
                             sr_errctx_t *ec)
{
        sr_err_t err;
        int rc;

        err = sr_codec__field(rec, name, arr, ec);
        if (err)
                return err;
        rc = avro_value_get_size(arr, n);
        if (rc)
                return sr_codec__avro_err(ec, rc, name, "size");
        if (*n > max)
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field %s: %zu items, at most %zu",
                                     name, *n, max);
        return SR_OK;
}

/* The text of string value @p f (len excludes the NUL avro-c adds). */
static sr_err_t val_str(avro_value_t *f, const char *name, const char **p,
                        size_t *len, sr_errctx_t *ec)
{
        size_t size = 0;
        int rc;

        *p = NULL;
        rc = avro_value_get_string(f, p, &size);
        if (rc)
                return sr_codec__avro_err(ec, rc, name, "get string");
        *len = size ? size - 1 : 0;
        if (!*p)
                *p = "";
        if (*len && memchr(*p, '\0', *len))
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field %s: contains a NUL byte", name);
        return SR_OK;
}

static sr_err_t val_str_copy(avro_value_t *f, const char *name, char *dst,
                             size_t cap, sr_errctx_t *ec)
{
        const char *p;
        size_t len;
        sr_err_t err;

        err = val_str(f, name, &p, &len, ec);
        if (err)
                return err;
        if (len >= cap)
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field %s: too long (%zu bytes, at "
                                     "most %zu)", name, len, cap - 1);
        memcpy(dst, p, len);
        dst[len] = '\0';
        return SR_OK;
}

static sr_err_t val_uuid(avro_value_t *f, const char *name, sr_uuid_t *dst,
                         sr_errctx_t *ec)
{
        char q[64];
        const char *p;
        size_t len;
        sr_err_t err;

        err = val_str(f, name, &p, &len, ec);
        if (err)
                return err;
        if (!sr_uuid_parse(p, len, dst))
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field %s: malformed uuid \"%s\"", name,
                                     sr_codec__quote(q, p, len));
        return SR_OK;
}

static sr_err_t val_status(avro_value_t *f, const char *name,
                           bool allow_none, sr_status_t *dst,
                           sr_errctx_t *ec)
{
        char q[64];
        const char *p;
        size_t len;
        sr_err_t err;

        err = val_str(f, name, &p, &len, ec);
        if (err)
                return err;
        if (allow_none && len == 4 && !strncasecmp(p, "none", 4)) {
                *dst = SR_ST_NONE;
                return SR_OK;
        }
        if (!sr_status_parse(p, len, dst))
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field %s: unknown status \"%s\"", name,
                                     sr_codec__quote(q, p, len));
        return SR_OK;
}

sr_err_t sr_codec__get_str(avro_value_t *rec, const char *name, char *dst,
                           size_t cap, sr_errctx_t *ec)
{
        sr_err_t err;
        avro_value_t f;

        err = sr_codec__field(rec, name, &f, ec);
        if (err)
                return err;
        return val_str_copy(&f, name, dst, cap, ec);
}

sr_err_t sr_codec__get_opt_str(avro_value_t *rec, const char *name,
                               char *dst, size_t cap, sr_errctx_t *ec)
{
        sr_err_t err;
        avro_value_t b;
        int disc;

        err = sr_codec__get_branch(rec, name, &disc, &b, ec);
        if (err)
                return err;
        if (disc == 0) {
                dst[0] = '\0';
                return SR_OK;
        }
        return val_str_copy(&b, name, dst, cap, ec);
}

sr_err_t sr_codec__get_str_dup(avro_value_t *rec, const char *name,
                               bool nullable, char **dst, sr_errctx_t *ec)
{
        avro_value_t f;
        const char *p;
        size_t len;
        sr_err_t err;
        char *s;
        int disc = 1;

        if (nullable)
                err = sr_codec__get_branch(rec, name, &disc, &f, ec);
        else
                err = sr_codec__field(rec, name, &f, ec);
        if (err)
                return err;
        if (disc == 0) {
                *dst = NULL;
                return SR_OK;
        }
        err = val_str(&f, name, &p, &len, ec);
        if (err)
                return err;
        s = malloc(len + 1);
        if (!s)
                return sr_errctx_set(ec, SR_ERR_NOMEM,
                                     "field %s: malloc %zu bytes", name,
                                     len + 1);
        memcpy(s, p, len);
        s[len] = '\0';
        *dst = s;
        return SR_OK;
}

sr_err_t sr_codec__get_uuid(avro_value_t *rec, const char *name,
                            sr_uuid_t *dst, sr_errctx_t *ec)
{
        sr_err_t err;
        avro_value_t f;

        err = sr_codec__field(rec, name, &f, ec);
        if (err)
                return err;
        return val_uuid(&f, name, dst, ec);
}

sr_err_t sr_codec__get_opt_uuid(avro_value_t *rec, const char *name,
                                sr_uuid_t *dst, sr_errctx_t *ec)
{
        sr_err_t err;
        avro_value_t b;
        int disc;

        err = sr_codec__get_branch(rec, name, &disc, &b, ec);
        if (err)
                return err;
        if (disc == 0) {
                memset(dst, 0, sizeof(*dst));
                return SR_OK;
        }
        return val_uuid(&b, name, dst, ec);
}

sr_err_t sr_codec__get_long(avro_value_t *rec, const char *name,
                            int64_t *dst, sr_errctx_t *ec)
{
        sr_err_t err;
        avro_value_t f;
        int rc;

        err = sr_codec__field(rec, name, &f, ec);
        if (err)
                return err;
        rc = avro_value_get_long(&f, dst);
        if (rc)
                return sr_codec__avro_err(ec, rc, name, "get long");
        return SR_OK;
}

sr_err_t sr_codec__get_int(avro_value_t *rec, const char *name,
                           int32_t *dst, sr_errctx_t *ec)
{
        sr_err_t err;
        avro_value_t f;
        int rc;

        err = sr_codec__field(rec, name, &f, ec);
        if (err)
                return err;
        rc = avro_value_get_int(&f, dst);
        if (rc)
                return sr_codec__avro_err(ec, rc, name, "get int");
        return SR_OK;
}

sr_err_t sr_codec__get_u32(avro_value_t *rec, const char *name,
                           uint32_t *dst, sr_errctx_t *ec)
{
        sr_err_t err;
        avro_value_t f;
        int64_t v;
        int32_t i = 0;
        int rc;

        err = sr_codec__field(rec, name, &f, ec);
        if (err)
                return err;
        if (avro_value_get_type(&f) == AVRO_INT32) {
                rc = avro_value_get_int(&f, &i);
                v = i;
        } else {
                rc = avro_value_get_long(&f, &v);
        }
        if (rc)
                return sr_codec__avro_err(ec, rc, name, "get number");
        if (v < 0)
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field %s: negative (%" PRId64 ")",
                                     name, v);
        if (v > (int64_t)UINT32_MAX)
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field %s: %" PRId64 " out of range "
                                     "(at most %" PRIu32 ")", name, v,
                                     UINT32_MAX);
        *dst = (uint32_t)v;
        return SR_OK;
}

sr_err_t sr_codec__get_bool(avro_value_t *rec, const char *name, bool *dst,
                            sr_errctx_t *ec)
{
        sr_err_t err;
        avro_value_t f;
        int rc, v;

        err = sr_codec__field(rec, name, &f, ec);
        if (err)
                return err;
        rc = avro_value_get_boolean(&f, &v);
        if (rc)
                return sr_codec__avro_err(ec, rc, name, "get boolean");
        *dst = v != 0;
        return SR_OK;
}

sr_err_t sr_codec__get_enum(avro_value_t *rec, const char *name, int n,
                            int *dst, sr_errctx_t *ec)
{
        sr_err_t err;
        avro_value_t f;
        int rc, v;

        err = sr_codec__field(rec, name, &f, ec);
        if (err)
                return err;
        rc = avro_value_get_enum(&f, &v);
        if (rc)
                return sr_codec__avro_err(ec, rc, name, "get enum");
        if (v < 0 || v >= n)
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field %s: unknown enum index %d",
                                     name, v);
        *dst = v;
        return SR_OK;
}

sr_err_t sr_codec__get_status(avro_value_t *rec, const char *name,
                              bool allow_none, sr_status_t *dst,
                              sr_errctx_t *ec)
{
        sr_err_t err;
        avro_value_t f;

        err = sr_codec__field(rec, name, &f, ec);
        if (err)
                return err;
        return val_status(&f, name, allow_none, dst, ec);
}

sr_err_t sr_codec__get_opt_status(avro_value_t *rec, const char *name,
                                  sr_status_t *dst, sr_errctx_t *ec)
{
        sr_err_t err;
        avro_value_t b;
        int disc;

        err = sr_codec__get_branch(rec, name, &disc, &b, ec);
        if (err)
                return err;
        if (disc == 0) {
                *dst = SR_ST_NONE;
                return SR_OK;
        }
        return val_status(&b, name, false, dst, ec);
}

/* ---------------------------------------------------------- encode helpers */

sr_err_t sr_codec__set_branch(avro_value_t *rec, const char *name, int disc,
                              avro_value_t *branch, sr_errctx_t *ec)
{
        sr_err_t err;
        avro_value_t f;
        int rc;

        err = sr_codec__field(rec, name, &f, ec);
        if (err)
                return err;
        rc = avro_value_set_branch(&f, disc, branch);
        if (rc)
                return sr_codec__avro_err(ec, rc, name, "set branch");
        return SR_OK;
}

sr_err_t sr_codec__str_check(const char *name, const char *src, size_t cap,
                             size_t *lenp, sr_errctx_t *ec)
{
        size_t len;

        if (!src)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field %s: NULL string", name);
        len = cap ? strnlen(src, cap) : strlen(src);
        if (cap && len == cap)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field %s: not NUL-terminated within "
                                     "%zu bytes", name, cap);
        *lenp = len;
        return SR_OK;
}

static sr_err_t val_set_str(avro_value_t *f, const char *name,
                            const char *src, size_t cap, sr_errctx_t *ec)
{
        size_t len;
        sr_err_t err = sr_codec__str_check(name, src, cap, &len, ec);
        int rc;

        if (err)
                return err;
        rc = avro_value_set_string_len(f, src, len + 1);
        if (rc)
                return sr_codec__avro_err(ec, rc, name, "set string");
        return SR_OK;
}

static sr_err_t val_set_uuid(avro_value_t *f, const char *name,
                             const sr_uuid_t *u, sr_errctx_t *ec)
{
        char text[SR_UUID_STR_LEN + 1];
        int rc;

        sr_uuid_fmt(u, text);
        rc = avro_value_set_string_len(f, text, sizeof(text));
        if (rc)
                return sr_codec__avro_err(ec, rc, name, "set string");
        return SR_OK;
}

sr_err_t sr_codec__val_uuid(avro_value_t *f, const char *name, sr_uuid_t *dst,
                            sr_errctx_t *ec)
{
        return val_uuid(f, name, dst, ec);
}

sr_err_t sr_codec__val_set_uuid(avro_value_t *f, const char *name,
                                const sr_uuid_t *u, sr_errctx_t *ec)
{
        return val_set_uuid(f, name, u, ec);
}

sr_err_t sr_codec__set_str(avro_value_t *rec, const char *name,
                           const char *src, size_t cap, sr_errctx_t *ec)
{
        sr_err_t err;
        avro_value_t f;

        err = sr_codec__field(rec, name, &f, ec);
        if (err)
                return err;
        return val_set_str(&f, name, src, cap, ec);
}

sr_err_t sr_codec__set_opt_str(avro_value_t *rec, const char *name,
                               const char *src, size_t cap, sr_errctx_t *ec)
{
        sr_err_t err;
        avro_value_t b;
        int rc;

        err = sr_codec__set_branch(rec, name, src ? 1 : 0, &b, ec);
        if (err)
                return err;
        if (src)
                return val_set_str(&b, name, src, cap, ec);
        rc = avro_value_set_null(&b);
        if (rc)
                return sr_codec__avro_err(ec, rc, name, "set null");
        return SR_OK;
}

sr_err_t sr_codec__set_uuid(avro_value_t *rec, const char *name,
                            const sr_uuid_t *u, sr_errctx_t *ec)
{
        sr_err_t err;
        avro_value_t f;

        err = sr_codec__field(rec, name, &f, ec);
        if (err)
                return err;
        return val_set_uuid(&f, name, u, ec);
}

sr_err_t sr_codec__set_opt_uuid(avro_value_t *rec, const char *name,
                                const sr_uuid_t *u, sr_errctx_t *ec)
{
        sr_err_t err;
        bool nil = sr_uuid_is_nil(u);
        avro_value_t b;
        int rc;

        err = sr_codec__set_branch(rec, name, nil ? 0 : 1, &b, ec);
        if (err)
                return err;
        if (!nil)
                return val_set_uuid(&b, name, u, ec);
        rc = avro_value_set_null(&b);
        if (rc)
                return sr_codec__avro_err(ec, rc, name, "set null");
        return SR_OK;
}

sr_err_t sr_codec__set_long(avro_value_t *rec, const char *name, int64_t v,
                            sr_errctx_t *ec)
{
        sr_err_t err;
        avro_value_t f;
        int rc;

        err = sr_codec__field(rec, name, &f, ec);
        if (err)
                return err;
        rc = avro_value_set_long(&f, v);
        if (rc)
                return sr_codec__avro_err(ec, rc, name, "set long");
        return SR_OK;
}

sr_err_t sr_codec__set_int(avro_value_t *rec, const char *name, int32_t v,
                           sr_errctx_t *ec)
{
        sr_err_t err;
        avro_value_t f;
        int rc;

        err = sr_codec__field(rec, name, &f, ec);
        if (err)
                return err;
        rc = avro_value_set_int(&f, v);
        if (rc)
                return sr_codec__avro_err(ec, rc, name, "set int");
        return SR_OK;
}

sr_err_t sr_codec__set_u32(avro_value_t *rec, const char *name, uint32_t v,
                           sr_errctx_t *ec)
{
        sr_err_t err;
        avro_value_t f;
        int rc;

        err = sr_codec__field(rec, name, &f, ec);
        if (err)
                return err;
        if (avro_value_get_type(&f) == AVRO_INT32) {
                if (v > INT32_MAX)
                        return sr_errctx_set(ec, SR_ERR_INVALID,
                                             "field %s: %" PRIu32 " out of "
                                             "range (at most %d)", name, v,
                                             INT32_MAX);
                rc = avro_value_set_int(&f, (int32_t)v);
        } else {
                rc = avro_value_set_long(&f, (int64_t)v);
        }
        if (rc)
                return sr_codec__avro_err(ec, rc, name, "set number");
        return SR_OK;
}

sr_err_t sr_codec__set_bool(avro_value_t *rec, const char *name, bool v,
                            sr_errctx_t *ec)
{
        sr_err_t err;
        avro_value_t f;
        int rc;

        err = sr_codec__field(rec, name, &f, ec);
        if (err)
                return err;
        rc = avro_value_set_boolean(&f, v ? 1 : 0);
        if (rc)
                return sr_codec__avro_err(ec, rc, name, "set boolean");
        return SR_OK;
}

sr_err_t sr_codec__set_enum(avro_value_t *rec, const char *name, int v,
                            int n, sr_errctx_t *ec)
{
        sr_err_t err;
        avro_value_t f;
        int rc;

        if (v < 0 || v >= n)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field %s: enum value %d out of range",
                                     name, v);
        err = sr_codec__field(rec, name, &f, ec);
        if (err)
                return err;
        rc = avro_value_set_enum(&f, v);
        if (rc)
                return sr_codec__avro_err(ec, rc, name, "set enum");
        return SR_OK;
}

sr_err_t sr_codec__set_status(avro_value_t *rec, const char *name,
                              sr_status_t st, bool allow_none,
                              sr_errctx_t *ec)
{
        if ((unsigned)st >= SR_ST__COUNT || (st == SR_ST_NONE && !allow_none))
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field %s: status %d cannot be sent",
                                     name, (int)st);
        return sr_codec__set_str(rec, name, sr_status_name(st), 0, ec);
}

sr_err_t sr_codec__set_opt_status(avro_value_t *rec, const char *name,
                                  sr_status_t st, sr_errctx_t *ec)
{
        if ((unsigned)st >= SR_ST__COUNT)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field %s: status %d cannot be sent",
                                     name, (int)st);
        return sr_codec__set_opt_str(rec, name, st == SR_ST_NONE ? NULL :
                                     sr_status_name(st), 0, ec);
}

sr_err_t sr_codec__append(avro_value_t *arr, const char *name,
                          avro_value_t *item, sr_errctx_t *ec)
{
        int rc = avro_value_append(arr, item, NULL);

        if (rc)
                return sr_codec__avro_err(ec, rc, name, "append");
        return SR_OK;
}
