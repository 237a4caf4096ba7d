/* workers/cli/recjson_groups.c - device groups' records as JSON values
 * (docs/definitions.md section 6): a group command's payload and a
 * directory's or a run copy's changelog record, with the .avsc names. */
#include <stdio.h>

#include "recjson.h"
#include "recjson_int.h"

static json_t *members(const sr_def_group_member_t *m, uint32_t n,
                       bool ids_only)
{
        json_t *a = json_array();

        for (uint32_t i = 0; a && i < n; i++) {
                json_t *it;
                bool oom = false;

                if (ids_only) {
                        if (json_array_append_new(
                                    a, sr_recjson_uuid(&m[i].device_id)))
                                goto fail;
                        continue;
                }
                it = json_object();
                if (!it)
                        goto fail;
                put(it, "device_id", sr_recjson_uuid(&m[i].device_id), &oom);
                put(it, "device_name", str(m[i].device_name), &oom);
                put(it, "device_alias", m[i].device_alias[0] ?
                                        str(m[i].device_alias) : json_null(),
                    &oom);
                if (oom || json_array_append_new(a, it)) {
                        json_decref(it);
                        goto fail;
                }
        }
        return a;
fail:
        json_decref(a);
        return NULL;
}

static json_t *hex(const uint8_t *b, size_t n)
{
        char h[2 * 64 + 1];

        for (size_t i = 0; i < n && i < 64; i++)
                snprintf(h + 2 * i, 3, "%02x", b[i]);
        h[2 * (n < 64 ? n : 64)] = '\0';
        return str(h);
}

void sr_recjson__put_grpcmd(json_t *o, const sr_grpcmd_t *g, bool *oom)
{
        const char *name = sr_grpcmd_name(g->kind);

        put(o, "command", str(name ? name : "unknown"), oom);
        put(o, "group_id", sr_recjson_uuid(&g->group_id), oom);
        put(o, "expected_version", g->has_expected_version ?
                                   json_integer(g->expected_version) :
                                   json_null(), oom);
        switch (g->kind) {
        case SR_GRPCMD_PUT_GROUP:
                put(o, "name", g->has_name ? str(g->name) : json_null(), oom);
                break;
        case SR_GRPCMD_PUT_MEMBERS:
        case SR_GRPCMD_REMOVE_MEMBERS:
                put(o, "chunk_index", json_integer(g->chunk), oom);
                put(o, g->kind == SR_GRPCMD_PUT_MEMBERS ? "items" :
                                                          "device_ids",
                    members(g->items, g->n_items,
                            g->kind == SR_GRPCMD_REMOVE_MEMBERS), oom);
                break;
        case SR_GRPCMD_DROP_COPIES:
                put(o, "pipeline_id", sr_recjson_uuid(&g->pipeline_id), oom);
                put(o, "pipeline_run_id",
                    sr_recjson_uuid(&g->pipeline_run_id), oom);
                put(o, "step", json_integer(g->chunk), oom);
                break;
        case SR_GRPCMD_SNAPSHOT:
        case SR_GRPCMD_MEMBERS:
                put(o, "pipeline_id", sr_recjson_uuid(&g->pipeline_id), oom);
                put(o, "pipeline_run_id",
                    sr_recjson_uuid(&g->pipeline_run_id), oom);
                put(o, "chunk", json_integer(g->chunk), oom);
                put(o, "count", json_integer((json_int_t)g->count), oom);
                if (g->kind == SR_GRPCMD_SNAPSHOT) {
                        put(o, "after", sr_recjson_uuid(&g->after), oom);
                        put(o, "seal_state",
                            hex(g->seal_state, g->seal_state_len), oom);
                        break;
                }
                put(o, "items", members(g->items, g->n_items, false), oom);
                put(o, "closing", json_boolean(g->closing), oom);
                put(o, "digest", g->closing ? hex(g->digest, SR_DIGEST_LEN) :
                                              json_null(), oom);
                break;
        default:
                break;
        }
}

static const char *const rec_names[SR_GREC__COUNT] = {
        [SR_GREC_GROUP] = "device_group",
        [SR_GREC_MEMBER] = "device_group_member",
        [SR_GREC_COPY_MEMBER] = "run_group_member",
        [SR_GREC_COPY_CLOSE] = "run_group_copy",
};

void sr_recjson__put_group_record(json_t *o, const sr_group_record_t *r,
                                  bool *oom)
{
        const sr_def_group_member_t *m = &r->member;

        put(o, "entity_type", str((unsigned)r->kind < SR_GREC__COUNT ?
                                  rec_names[r->kind] : "unknown"), oom);
        put(o, "enterprise_id", str(r->enterprise_id), oom);
        switch (r->kind) {
        case SR_GREC_GROUP:
                put(o, "group_id", sr_recjson_uuid(&r->group.id), oom);
                put(o, "name", str(r->group.name), oom);
                put(o, "n_members",
                    json_integer((json_int_t)r->group.n_members), oom);
                put(o, "version", json_integer(r->group.a.version), oom);
                put(o, "created_at", json_integer(r->group.a.created_at),
                    oom);
                put(o, "updated_at", json_integer(r->group.a.updated_at),
                    oom);
                return;
        case SR_GREC_COPY_MEMBER:
        case SR_GREC_COPY_CLOSE:
                put(o, "pipeline_id", sr_recjson_uuid(&r->pipeline_id), oom);
                put(o, "pipeline_run_id",
                    sr_recjson_uuid(&r->pipeline_run_id), oom);
                break;
        default:
                break;
        }
        if (r->kind == SR_GREC_COPY_CLOSE) {
                put(o, "group_id", sr_recjson_uuid(&r->group_id), oom);
                put(o, "count", json_integer((json_int_t)r->count), oom);
                put(o, "chunks", json_integer(r->chunks), oom);
                put(o, "closed", json_boolean(r->closed), oom);
                put(o, "state", hex(r->state, r->state_len), oom);
                return;
        }
        put(o, "group_id", sr_recjson_uuid(&m->group_id), oom);
        put(o, "device_id", sr_recjson_uuid(&m->device_id), oom);
        put(o, "device_name", str(m->device_name), oom);
        put(o, "device_alias", m->device_alias[0] ? str(m->device_alias) :
                                                    json_null(), oom);
}
