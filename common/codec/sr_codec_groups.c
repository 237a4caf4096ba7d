/* common/codec/sr_codec_groups.c - device groups on the wire
 * (docs/definitions.md section 6): Command version 8's branches PutGroup
 * ... GroupMembers (SR_CMD_GROUP, sr_grpcmd_t) and ChangelogRecord
 * version 4's DeviceGroup ... RunGroupCopy (SR_CL_GROUP,
 * sr_group_record_t).
 */
#include "sr_codec_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------- commands */

/* The key's field: the group, but for GroupMembers and DropRunCopies the
 * pipeline. */
static bool pipeline_keyed(sr_grpcmd_kind_t k)
{
        return k == SR_GRPCMD_MEMBERS || k == SR_GRPCMD_DROP_COPIES;
}

static const char *key_field(sr_grpcmd_kind_t k)
{
        return pipeline_keyed(k) ? "pipeline_id" : "group_id";
}

static const sr_uuid_t *key_of(const sr_grpcmd_t *g)
{
        return pipeline_keyed(g->kind) ? &g->pipeline_id : &g->group_id;
}

static sr_err_t members_to(avro_value_t *p, const sr_grpcmd_t *g,
                           sr_errctx_t *ec)
{
        avro_value_t arr, item;
        sr_err_t err;

        if (g->n_items && !g->items)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field items: %u items, NULL array",
                                     g->n_items);
        err = sr_codec__field(p, "items", &arr, ec);
        for (uint32_t i = 0; !err && i < g->n_items; i++) {
                const sr_def_group_member_t *m = &g->items[i];

                if ((err = sr_codec__append(&arr, "items", &item, ec)) ||
                    (err = sr_codec__set_uuid(&item, "device_id",
                                              &m->device_id, ec)) ||
                    (err = sr_codec__set_str(&item, "device_name",
                                             m->device_name,
                                             sizeof(m->device_name), ec)) ||
                    (err = sr_codec__set_opt_str(&item, "device_alias",
                                                 m->device_alias[0] ?
                                                 m->device_alias : NULL,
                                                 sizeof(m->device_alias),
                                                 ec)))
                        sr_errctx_prefix(ec, "items[%u]", i);
        }
        return err;
}

static sr_err_t device_ids_to(avro_value_t *p, const sr_grpcmd_t *g,
                              sr_errctx_t *ec)
{
        avro_value_t arr, item;
        sr_err_t err;

        if (g->n_items && !g->items)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field device_ids: %u items, NULL "
                                     "array", g->n_items);
        err = sr_codec__field(p, "device_ids", &arr, ec);
        for (uint32_t i = 0; !err && i < g->n_items; i++)
                if ((err = sr_codec__append(&arr, "device_ids", &item,
                                            ec)) ||
                    (err = sr_codec__val_set_uuid(&item, "device_ids",
                                                  &g->items[i].device_id,
                                                  ec)))
                        sr_errctx_prefix(ec, "device_ids[%u]", i);
        return err;
}

/* The array @p name (members, or device ids when @p ids) into g->items,
 * which are g's as soon as allocated (the caller's sr_command_fini()
 * frees them on failure). */
static sr_err_t items_from(avro_value_t *p, const char *name, bool ids,
                           sr_grpcmd_t *g, sr_errctx_t *ec)
{
        avro_value_t arr, item;
        sr_err_t err;
        size_t n;
        int rc;

        err = sr_codec__get_array(p, name, SR_CODEC_MAX_ITEMS, &arr, &n, ec);
        if (err || n == 0)
                return err;
        g->items = calloc(n, sizeof(*g->items));
        if (!g->items)
                return sr_errctx_set(ec, SR_ERR_NOMEM,
                                     "field %s: calloc %zu items", name, n);
        g->n_items = (uint32_t)n;
        for (size_t i = 0; i < n; i++) {
                sr_def_group_member_t *m = &g->items[i];

                m->group_id = g->group_id;
                rc = avro_value_get_by_index(&arr, i, &item, NULL);
                err = rc ? sr_codec__avro_err(ec, rc, name, "get") : SR_OK;
                if (!err && ids)
                        err = sr_codec__val_uuid(&item, name, &m->device_id,
                                                 ec);
                else if (!err &&
                         (!(err = sr_codec__get_uuid(&item, "device_id",
                                                     &m->device_id, ec)) &&
                          !(err = sr_codec__get_str(&item, "device_name",
                                                    m->device_name,
                                                    sizeof(m->device_name),
                                                    ec))))
                        err = sr_codec__get_opt_str(&item, "device_alias",
                                                    m->device_alias,
                                                    sizeof(m->device_alias),
                                                    ec);
                if (err) {
                        sr_errctx_prefix(ec, "%s[%zu]", name, i);
                        return err;
                }
        }
        return SR_OK;
}

static sr_err_t digest_to(avro_value_t *p, const sr_grpcmd_t *g,
                          sr_errctx_t *ec)
{
        avro_value_t f;
        sr_err_t err;
        int rc;

        err = sr_codec__field(p, "digest", &f, ec);
        if (err)
                return err;
        rc = avro_value_set_bytes(&f, (void *)g->digest,
                                  g->closing ? SR_DIGEST_LEN : 0);
        return rc ? sr_codec__avro_err(ec, rc, "digest", "set bytes") : SR_OK;
}

static sr_err_t digest_from(avro_value_t *p, const char *name, bool want,
                            uint8_t out[SR_DIGEST_LEN], sr_errctx_t *ec)
{
        const void *b = NULL;
        avro_value_t f;
        size_t n = 0;
        sr_err_t err;
        int rc;

        err = sr_codec__field(p, name, &f, ec);
        if (err)
                return err;
        rc = avro_value_get_bytes(&f, &b, &n);
        if (rc)
                return sr_codec__avro_err(ec, rc, name, "get bytes");
        if (n != (want ? SR_DIGEST_LEN : 0))
                return sr_errctx_set(ec, SR_ERR_SCHEMA, "field %s: %zu "
                                     "bytes (%d)", name, n,
                                     want ? SR_DIGEST_LEN : 0);
        if (n)
                memcpy(out, b, n);
        return SR_OK;
}

sr_err_t sr_codec__grpcmd_to(avro_value_t *p, const sr_command_t *c,
                             sr_errctx_t *ec)
{
        const sr_grpcmd_t *g = c->u.grp;
        sr_err_t err;

        /* The key is on the wire twice: a reader refuses them unequal. */
        if (!sr_uuid_eq(key_of(g), &c->pipeline_run_id))
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field %s: not the command's "
                                     "pipeline_run_id (the key)",
                                     key_field(g->kind));
        if ((err = sr_codec__set_uuid(p, key_field(g->kind), key_of(g),
                                      ec)) ||
            (err = sr_codec__set_opt_long(p, "expected_version",
                                          g->has_expected_version,
                                          (int64_t)g->expected_version, ec)))
                return err;
        switch (g->kind) {
        case SR_GRPCMD_PUT_GROUP:
                return sr_codec__set_opt_str(p, "name",
                                             g->has_name ? g->name : NULL,
                                             sizeof(g->name), ec);
        case SR_GRPCMD_PUT_MEMBERS:
                if ((err = sr_codec__set_u32(p, "chunk_index", g->chunk,
                                             ec)))
                        return err;
                return members_to(p, g, ec);
        case SR_GRPCMD_REMOVE_MEMBERS:
                if ((err = sr_codec__set_u32(p, "chunk_index", g->chunk,
                                             ec)))
                        return err;
                return device_ids_to(p, g, ec);
        case SR_GRPCMD_DELETE_GROUP:
                return SR_OK;
        case SR_GRPCMD_SNAPSHOT:
                if ((err = sr_codec__set_uuid(p, "pipeline_id",
                                              &g->pipeline_id, ec)) ||
                    (err = sr_codec__set_uuid(p, "pipeline_run_id",
                                              &g->pipeline_run_id, ec)) ||
                    (err = sr_codec__set_uuid(p, "after", &g->after, ec)) ||
                    (err = sr_codec__set_u32(p, "chunk", g->chunk, ec)) ||
                    (err = sr_codec__set_u64(p, "count", g->count, ec)))
                        return err;
                return sr_codec__set_seal_state(p, "seal_state",
                                                g->seal_state,
                                                g->seal_state_len, ec);
        case SR_GRPCMD_MEMBERS:
                if ((err = sr_codec__set_uuid(p, "pipeline_run_id",
                                              &g->pipeline_run_id, ec)) ||
                    (err = sr_codec__set_uuid(p, "group_id", &g->group_id,
                                              ec)) ||
                    (err = sr_codec__set_u32(p, "chunk", g->chunk, ec)) ||
                    (err = members_to(p, g, ec)) ||
                    (err = sr_codec__set_bool(p, "closing", g->closing,
                                              ec)) ||
                    (err = sr_codec__set_u64(p, "count", g->count, ec)))
                        return err;
                return digest_to(p, g, ec);
        case SR_GRPCMD_DROP_COPIES:
                if ((err = sr_codec__set_uuid(p, "pipeline_run_id",
                                              &g->pipeline_run_id, ec)))
                        return err;
                return sr_codec__set_u32(p, "step", g->chunk, ec);
        default:
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field payload: unknown group command "
                                     "kind %d", (int)g->kind);
        }
}

sr_err_t sr_codec__grpcmd_from(avro_value_t *p, const sr_command_t *c,
                               sr_grpcmd_t *g, sr_errctx_t *ec)
{
        sr_uuid_t key;
        int64_t ev = 0;
        sr_err_t err;

        if ((err = sr_codec__get_uuid(p, key_field(g->kind), &key, ec)) ||
            (err = sr_codec__get_opt_long(p, "expected_version",
                                          &g->has_expected_version, &ev,
                                          ec)))
                return err;
        if (!sr_uuid_eq(&key, &c->pipeline_run_id))
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field %s: not the command's "
                                     "pipeline_run_id (the key)",
                                     key_field(g->kind));
        if (g->has_expected_version && (ev < 0 || ev > UINT32_MAX))
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field expected_version: %" PRId64
                                     " out of range (0 .. 2^32-1)", ev);
        g->expected_version = (uint32_t)ev;
        if (pipeline_keyed(g->kind))
                g->pipeline_id = key;
        else
                g->group_id = key;
        switch (g->kind) {
        case SR_GRPCMD_PUT_GROUP: {
                avro_value_t f;
                int disc = 0, rc;

                /* null: unchanged; a given "" is a name the rules refuse */
                if ((err = sr_codec__field(p, "name", &f, ec)))
                        return err;
                rc = avro_value_get_discriminant(&f, &disc);
                if (rc)
                        return sr_codec__avro_err(ec, rc, "name",
                                                  "get branch");
                g->has_name = disc == 1;
                return sr_codec__get_opt_str(p, "name", g->name,
                                             sizeof(g->name), ec);
        }
        case SR_GRPCMD_PUT_MEMBERS:
                if ((err = sr_codec__get_u32(p, "chunk_index", &g->chunk,
                                             ec)))
                        return err;
                return items_from(p, "items", false, g, ec);
        case SR_GRPCMD_REMOVE_MEMBERS:
                if ((err = sr_codec__get_u32(p, "chunk_index", &g->chunk,
                                             ec)))
                        return err;
                return items_from(p, "device_ids", true, g, ec);
        case SR_GRPCMD_DELETE_GROUP:
                return SR_OK;
        case SR_GRPCMD_SNAPSHOT:
                if ((err = sr_codec__get_uuid(p, "pipeline_id",
                                              &g->pipeline_id, ec)) ||
                    (err = sr_codec__get_uuid(p, "pipeline_run_id",
                                              &g->pipeline_run_id, ec)) ||
                    (err = sr_codec__get_uuid(p, "after", &g->after, ec)) ||
                    (err = sr_codec__get_u32(p, "chunk", &g->chunk, ec)) ||
                    (err = sr_codec__get_u64(p, "count", &g->count, ec)))
                        return err;
                return sr_codec__get_seal_state(p, "seal_state",
                                                g->seal_state,
                                                sizeof(g->seal_state),
                                                &g->seal_state_len, ec);
        case SR_GRPCMD_MEMBERS:
                if ((err = sr_codec__get_uuid(p, "pipeline_run_id",
                                              &g->pipeline_run_id, ec)) ||
                    (err = sr_codec__get_uuid(p, "group_id", &g->group_id,
                                              ec)) ||
                    (err = sr_codec__get_u32(p, "chunk", &g->chunk, ec)) ||
                    (err = items_from(p, "items", false, g, ec)) ||
                    (err = sr_codec__get_bool(p, "closing", &g->closing,
                                              ec)) ||
                    (err = sr_codec__get_u64(p, "count", &g->count, ec)))
                        return err;
                return digest_from(p, "digest", g->closing, g->digest, ec);
        case SR_GRPCMD_DROP_COPIES:
                if ((err = sr_codec__get_uuid(p, "pipeline_run_id",
                                              &g->pipeline_run_id, ec)))
                        return err;
                return sr_codec__get_u32(p, "step", &g->chunk, ec);
        default:
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field payload: unknown group command "
                                     "kind %d", (int)g->kind);
        }
}

/* ---------------------------------------------------------- records */

/* A member's device fields (DeviceGroupMember, RunGroupMember). */
static sr_err_t device_to(avro_value_t *b, const sr_def_group_member_t *m,
                          sr_errctx_t *ec)
{
        sr_err_t err;

        if ((err = sr_codec__set_uuid(b, "device_id", &m->device_id, ec)) ||
            (err = sr_codec__set_str(b, "device_name", m->device_name,
                                     sizeof(m->device_name), ec)) ||
            (err = sr_codec__set_opt_str(b, "device_alias",
                                         m->device_alias[0] ?
                                         m->device_alias : NULL,
                                         sizeof(m->device_alias), ec)))
                return err;
        return SR_OK;
}

static sr_err_t device_from(avro_value_t *b, sr_def_group_member_t *m,
                            sr_errctx_t *ec)
{
        sr_err_t err;

        if ((err = sr_codec__get_uuid(b, "device_id", &m->device_id, ec)) ||
            (err = sr_codec__get_str(b, "device_name", m->device_name,
                                     sizeof(m->device_name), ec)) ||
            (err = sr_codec__get_opt_str(b, "device_alias", m->device_alias,
                                         sizeof(m->device_alias), ec)))
                return err;
        return SR_OK;
}

/* The run's fields of a copy's record. */
static sr_err_t run_to(avro_value_t *b, const sr_group_record_t *r,
                       const sr_uuid_t *group, sr_errctx_t *ec)
{
        sr_err_t err;

        if ((err = sr_codec__set_uuid(b, "pipeline_id", &r->pipeline_id,
                                      ec)) ||
            (err = sr_codec__set_str(b, "enterprise_id", r->enterprise_id,
                                     sizeof(r->enterprise_id), ec)) ||
            (err = sr_codec__set_uuid(b, "pipeline_run_id",
                                      &r->pipeline_run_id, ec)) ||
            (err = sr_codec__set_uuid(b, "group_id", group, ec)))
                return err;
        return SR_OK;
}

static sr_err_t run_from(avro_value_t *b, sr_group_record_t *r,
                         sr_uuid_t *group, sr_errctx_t *ec)
{
        sr_err_t err;

        if ((err = sr_codec__get_uuid(b, "pipeline_id", &r->pipeline_id,
                                      ec)) ||
            (err = sr_codec__get_str(b, "enterprise_id", r->enterprise_id,
                                     sizeof(r->enterprise_id), ec)) ||
            (err = sr_codec__get_uuid(b, "pipeline_run_id",
                                      &r->pipeline_run_id, ec)) ||
            (err = sr_codec__get_uuid(b, "group_id", group, ec)))
                return err;
        return SR_OK;
}

/* RunGroupCopy.state: 32 bytes closed, else 32 or 64. */
static sr_err_t state_from(avro_value_t *b, sr_group_record_t *r,
                           sr_errctx_t *ec)
{
        const void *p = NULL;
        avro_value_t f;
        size_t n = 0;
        sr_err_t err;
        int rc;

        if ((err = sr_codec__field(b, "state", &f, ec)))
                return err;
        rc = avro_value_get_bytes(&f, &p, &n);
        if (rc)
                return sr_codec__avro_err(ec, rc, "state", "get bytes");
        if (r->closed ? n != SR_DIGEST_LEN : n != 32 && n != 64)
                return sr_errctx_set(ec, SR_ERR_SCHEMA, "field state: %zu "
                                     "bytes (%s)", n, r->closed ? "32" :
                                     "32 or 64");
        memcpy(r->state, p, n);
        r->state_len = (uint32_t)n;
        return SR_OK;
}

sr_err_t sr_codec__group_record_to(avro_value_t *b,
                                   const sr_group_record_t *r,
                                   sr_errctx_t *ec)
{
        const sr_group_t *g = &r->group;
        avro_value_t f;
        sr_err_t err;
        int rc;

        switch (r->kind) {
        case SR_GREC_GROUP:
                if ((err = sr_codec__set_uuid(b, "group_id", &g->id, ec)) ||
                    (err = sr_codec__set_str(b, "enterprise_id",
                                             r->enterprise_id,
                                             sizeof(r->enterprise_id), ec)) ||
                    (err = sr_codec__set_str(b, "name", g->name,
                                             sizeof(g->name), ec)) ||
                    (err = sr_codec__set_u64(b, "n_members", g->n_members,
                                             ec)))
                        return err;
                return sr_codec__audit_to(b, &g->a, ec);
        case SR_GREC_MEMBER:
                if ((err = sr_codec__set_uuid(b, "group_id",
                                              &r->member.group_id, ec)) ||
                    (err = sr_codec__set_str(b, "enterprise_id",
                                             r->enterprise_id,
                                             sizeof(r->enterprise_id), ec)))
                        return err;
                return device_to(b, &r->member, ec);
        case SR_GREC_COPY_MEMBER:
                if ((err = run_to(b, r, &r->member.group_id, ec)))
                        return err;
                return device_to(b, &r->member, ec);
        case SR_GREC_COPY_CLOSE:
                if (r->closed ? r->state_len != SR_DIGEST_LEN :
                                r->state_len != 32 && r->state_len != 64)
                        return sr_errctx_set(ec, SR_ERR_INVALID,
                                             "field state: %u bytes",
                                             r->state_len);
                if ((err = run_to(b, r, &r->group_id, ec)) ||
                    (err = sr_codec__set_u64(b, "count", r->count, ec)) ||
                    (err = sr_codec__set_u32(b, "chunks", r->chunks, ec)) ||
                    (err = sr_codec__set_bool(b, "closed", r->closed, ec)) ||
                    (err = sr_codec__field(b, "state", &f, ec)))
                        return err;
                rc = avro_value_set_bytes(&f, (void *)r->state,
                                          r->state_len);
                return rc ? sr_codec__avro_err(ec, rc, "state",
                                               "set bytes") : SR_OK;
        default:
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field state: unknown group record "
                                     "kind %d", (int)r->kind);
        }
}

sr_err_t sr_codec__group_record_from(avro_value_t *b, sr_group_record_t *r,
                                     sr_errctx_t *ec)
{
        sr_group_t *g = &r->group;
        sr_err_t err;

        switch (r->kind) {
        case SR_GREC_GROUP:
                if ((err = sr_codec__get_uuid(b, "group_id", &g->id, ec)) ||
                    (err = sr_codec__get_str(b, "enterprise_id",
                                             r->enterprise_id,
                                             sizeof(r->enterprise_id), ec)) ||
                    (err = sr_codec__get_str(b, "name", g->name,
                                             sizeof(g->name), ec)) ||
                    (err = sr_codec__get_u64(b, "n_members", &g->n_members,
                                             ec)) ||
                    (err = sr_codec__audit_from(b, &g->a, ec)))
                        return err;
                g->exists = true;
                memcpy(g->enterprise_id, r->enterprise_id,
                       sizeof(g->enterprise_id));
                return SR_OK;
        case SR_GREC_MEMBER:
                if ((err = sr_codec__get_uuid(b, "group_id",
                                              &r->member.group_id, ec)) ||
                    (err = sr_codec__get_str(b, "enterprise_id",
                                             r->enterprise_id,
                                             sizeof(r->enterprise_id), ec)))
                        return err;
                return device_from(b, &r->member, ec);
        case SR_GREC_COPY_MEMBER:
                if ((err = run_from(b, r, &r->member.group_id, ec)))
                        return err;
                r->group_id = r->member.group_id;
                return device_from(b, &r->member, ec);
        case SR_GREC_COPY_CLOSE:
                if ((err = run_from(b, r, &r->group_id, ec)) ||
                    (err = sr_codec__get_u64(b, "count", &r->count, ec)) ||
                    (err = sr_codec__get_u32(b, "chunks", &r->chunks, ec)) ||
                    (err = sr_codec__get_bool(b, "closed", &r->closed, ec)))
                        return err;
                return state_from(b, r, ec);
        default:
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field state: unknown group record "
                                     "kind %d", (int)r->kind);
        }
}
