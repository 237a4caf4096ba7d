/* common/domain/sr_groups.c - the device-group directory's rules and keys
 * (docs/definitions.md section 6; sr_groups.h).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_defs_int.h"
#include "sr_groups.h"
#include "sr_sha256.h"
#include "sr_utf8.h"

static const char *const grpcmd_names[SR_GRPCMD__COUNT] = {
#define GRPCMD_NAME(name, text) text,
        SR_GRPCMD_MAP(GRPCMD_NAME)
#undef GRPCMD_NAME
};

const char *sr_grpcmd_name(sr_grpcmd_kind_t k)
{
        return (unsigned)k < SR_GRPCMD__COUNT ? grpcmd_names[k] : NULL;
}

void sr_grpcmd_fini(sr_grpcmd_t *c)
{
        if (!c)
                return;
        free(c->items);
        c->items = NULL;
        c->n_items = 0;
}

sr_grpcmd_t *sr_grpcmd_new(sr_command_t *c, sr_grpcmd_kind_t kind,
                           const sr_uuid_t *key, const sr_uuid_t *command_id,
                           const char *enterprise, int64_t ts)
{
        sr_grpcmd_t *g = calloc(1, sizeof(*g));

        memset(c, 0, sizeof(*c));
        if (!g)
                return NULL;
        c->kind = SR_CMD_GROUP;
        c->u.grp = g;
        c->command_id = *command_id;
        c->pipeline_run_id = *key;
        sr_defs__copy_str(c->enterprise_id, sizeof(c->enterprise_id),
                          enterprise);
        c->issued_at = ts;
        g->kind = kind;
        g->command_id = *command_id;
        memcpy(g->enterprise_id, c->enterprise_id, sizeof(g->enterprise_id));
        g->issued_at = ts;
        if (kind == SR_GRPCMD_MEMBERS || kind == SR_GRPCMD_DROP_COPIES)
                g->pipeline_id = *key;
        else
                g->group_id = *key;
        return g;
}

void sr_groups_out_fini(sr_groups_out_t *out)
{
        if (!out)
                return;
        free(out->put);
        free(out->del);
        memset(out, 0, sizeof(*out));
}

/* ------------------------------------------------------------ keys */

static size_t key_of(char lead, const sr_uuid_t *a, char kind,
                     const sr_uuid_t *b, char *out)
{
        char s[SR_UUID_STR_LEN + 1];
        size_t n = 0;

        out[n++] = lead;
        sr_uuid_fmt(a, s);
        memcpy(out + n, s, SR_UUID_STR_LEN);
        n += SR_UUID_STR_LEN;
        out[n++] = '/';
        out[n++] = kind;
        if (!b)
                return n;
        out[n++] = '/';
        sr_uuid_fmt(b, s);
        memcpy(out + n, s, SR_UUID_STR_LEN);
        return n + SR_UUID_STR_LEN;
}

size_t sr_group_key(const sr_uuid_t *group, char out[SR_GROUP_KEY_LEN])
{
        return key_of('G', group, 'g', NULL, out);
}

size_t sr_group_member_key(const sr_uuid_t *group, const sr_uuid_t *device,
                           char out[SR_GROUP_KEY_LEN])
{
        return key_of('G', group, 'm', device, out);
}

size_t sr_group_members_prefix(const sr_uuid_t *group,
                               char out[SR_GROUP_KEY_LEN])
{
        size_t n = key_of('G', group, 'm', NULL, out);

        out[n] = '/';
        return n + 1;
}

size_t sr_group_dedupe_key(const sr_uuid_t *group, const sr_uuid_t *command,
                           char out[SR_GROUP_KEY_LEN])
{
        return key_of('G', group, 'd', command, out);
}

bool sr_group_key_parse(const char *key, size_t len, sr_uuid_t *group,
                        sr_group_rec_kind_t *kind, sr_uuid_t *device)
{
        const size_t head = 1 + SR_UUID_STR_LEN + 2;

        if (len < head || key[0] != 'G' || key[head - 2] != '/' ||
            !sr_uuid_parse(key + 1, SR_UUID_STR_LEN, group))
                return false;
        if (len == head && key[head - 1] == 'g') {
                *kind = SR_GREC_GROUP;
                return true;
        }
        if (len != SR_GROUP_KEY_LEN || key[head] != '/' ||
            (key[head - 1] != 'm' && key[head - 1] != 'd') ||
            !sr_uuid_parse(key + head + 1, SR_UUID_STR_LEN, device))
                return false;
        *kind = key[head - 1] == 'm' ? SR_GREC_MEMBER : SR_GREC__COUNT;
        return true;
}

/* ------------------------------------------------------------ rules */

static sr_err_t reject(sr_groups_out_t *o, sr_reject_t why, const char *fmt,
                       ...)
        __attribute__((format(printf, 3, 4)));

static sr_err_t reject(sr_groups_out_t *o, sr_reject_t why, const char *fmt,
                       ...)
{
        va_list ap;

        o->accepted = false;
        o->reason = why;
        va_start(ap, fmt);
        sr_utf8_vformat(o->message, sizeof(o->message), fmt, ap);
        va_end(ap);
        return SR_OK;
}

static sr_err_t accept(sr_groups_out_t *o, uint32_t version)
{
        o->accepted = true;
        o->reason = SR_REJECT_NONE;
        o->message[0] = '\0';
        o->version = version;
        return SR_OK;
}

static void audit_touch(sr_def_audit_t *a, int64_t now)
{
        a->version++;
        a->updated_at = now;
}

/* The group and version checks every command starts with. false: refused
 * (out says why). */
static bool group_ok(const sr_group_t *g, const sr_grpcmd_t *cmd,
                     sr_groups_out_t *o)
{
        char gid[SR_UUID_STR_LEN + 1];

        sr_uuid_fmt(&cmd->group_id, gid);
        /* Another enterprise's group is not_found, as unknown: its
         * existence is not revealed. */
        if (!g->exists || strcmp(g->enterprise_id, cmd->enterprise_id)) {
                reject(o, SR_REJECT_NOT_FOUND, "device group %s not found; "
                       "create it with PutGroup first", gid);
                return false;
        }
        if (cmd->has_expected_version &&
            cmd->expected_version != g->a.version) {
                o->version = g->a.version;
                reject(o, SR_REJECT_STALE_VERSION, "device group %s: "
                       "version %" PRIu32 " is not the current version %"
                       PRIu32 "; read it again and retry", gid,
                       cmd->expected_version, g->a.version);
                return false;
        }
        return true;
}

static sr_err_t put_group(sr_group_t *g, const sr_grpcmd_t *cmd, int64_t now,
                          sr_groups_out_t *o)
{
        char name[SR_NAME_MAX], gid[SR_UUID_STR_LEN + 1];
        const char *bad = NULL;

        sr_uuid_fmt(&cmd->group_id, gid);
        if (!g->exists) {
                if (cmd->has_expected_version)
                        return reject(o, SR_REJECT_INVALID_VALUE, "version: "
                                      "device group %s does not exist yet "
                                      "and has no version to expect; send "
                                      "none", gid);
                if (!cmd->has_name)
                        return reject(o, SR_REJECT_INVALID_VALUE, "name: a "
                                      "new device group (%s) needs one",
                                      gid);
        } else if (!group_ok(g, cmd, o)) {
                return SR_OK;
        }
        if (cmd->has_name && (bad = sr_defs__trim_name(cmd->name, name)))
                return reject(o, SR_REJECT_INVALID_VALUE, "name of device "
                              "group %s: %s; give 1 to 255 bytes of text",
                              gid, bad);
        if (!g->exists) {
                memset(g, 0, sizeof(*g));
                g->exists = true;
                g->id = cmd->group_id;
                sr_defs__copy_str(g->enterprise_id, sizeof(g->enterprise_id),
                                  cmd->enterprise_id);
                memcpy(g->name, name, sizeof(g->name));
                g->a.version = 1;
                g->a.created_at = g->a.updated_at = now;
                o->group_put = true;
                return accept(o, 1);
        }
        if (cmd->has_name && strcmp(g->name, name)) {
                memcpy(g->name, name, sizeof(g->name));
                audit_touch(&g->a, now);
                o->group_put = true;
        }
        return accept(o, g->a.version);
}

/* The items of a member command: at least one, at most chunk_targets,
 * each device once; PUT_MEMBERS' names and aliases. */
static bool items_ok(const sr_grpcmd_t *cmd, uint32_t chunk_targets,
                     sr_groups_out_t *o)
{
        char did[SR_UUID_STR_LEN + 1], tmp[SR_NAME_MAX];
        const char *bad;

        if (cmd->n_items == 0 || !cmd->items) {
                reject(o, SR_REJECT_INVALID_VALUE, "items: at least one "
                       "device");
                return false;
        }
        if (chunk_targets && cmd->n_items > chunk_targets) {
                reject(o, SR_REJECT_INVALID_VALUE, "items: %" PRIu32
                       " devices in one command, at most %" PRIu32
                       " (definition.chunk.targets)", cmd->n_items,
                       chunk_targets);
                return false;
        }
        for (uint32_t i = 0; i < cmd->n_items; i++) {
                const sr_def_group_member_t *m = &cmd->items[i];

                sr_uuid_fmt(&m->device_id, did);
                for (uint32_t j = 0; j < i; j++)
                        if (sr_uuid_eq(&cmd->items[j].device_id,
                                       &m->device_id)) {
                                reject(o, SR_REJECT_INVALID_VALUE,
                                       "items[%" PRIu32 "]: device %s is "
                                       "also items[%" PRIu32 "]; send each "
                                       "device once", i, did, j);
                                return false;
                        }
                if (cmd->kind != SR_GRPCMD_PUT_MEMBERS)
                        continue;
                if ((bad = sr_defs__trim_name(m->device_name, tmp))) {
                        reject(o, SR_REJECT_INVALID_VALUE, "items[%" PRIu32
                               "] (device %s): device_name %s", i, did, bad);
                        return false;
                }
                if (strnlen(m->device_alias, SR_NAME_MAX) == SR_NAME_MAX) {
                        reject(o, SR_REJECT_INVALID_VALUE, "items[%" PRIu32
                               "] (device %s): device_alias longer than "
                               "255 bytes", i, did);
                        return false;
                }
        }
        return true;
}

static bool member_same(const sr_def_group_member_t *a,
                        const sr_def_group_member_t *b)
{
        return !strcmp(a->device_name, b->device_name) &&
               !strcmp(a->device_alias, b->device_alias);
}

/* What PutGroupMembers and RemoveGroupMembers check first, and their
 * output array of n_items items of @p size. NULL with *err SR_OK:
 * refused (out says why). */
static void *members_begin(const sr_group_t *g, const sr_grpcmd_t *cmd,
                           const void *found, uint32_t chunk_targets,
                           sr_groups_out_t *o, size_t size, sr_err_t *err)
{
        void *arr;

        *err = SR_OK;
        if (!group_ok(g, cmd, o) || !items_ok(cmd, chunk_targets, o))
                return NULL;
        if (!found) {
                *err = SR_ERR_INVALID;
                return NULL;
        }
        arr = calloc(cmd->n_items, size);
        if (!arr)
                *err = SR_ERR_NOMEM;
        return arr;
}

static sr_err_t put_members(sr_group_t *g, const sr_grpcmd_t *cmd,
                            const sr_def_group_member_t *const *found,
                            int64_t now, uint32_t chunk_targets,
                            sr_groups_out_t *o)
{
        sr_err_t err;

        o->put = members_begin(g, cmd, found, chunk_targets, o,
                               sizeof(*o->put), &err);
        if (!o->put)
                return err;
        for (uint32_t i = 0; i < cmd->n_items; i++) {
                sr_def_group_member_t m = cmd->items[i];

                m.group_id = g->id;
                sr_defs__trim_name(cmd->items[i].device_name, m.device_name);
                sr_defs__copy_text(m.device_alias, cmd->items[i].device_alias);
                if (found[i] && member_same(found[i], &m)) {
                        o->skipped++;
                        continue;
                }
                if (found[i])
                        o->added++;
                else
                        o->created++;
                o->put[o->n_put++] = m;
        }
        if (o->n_put) {
                g->n_members += o->created;
                audit_touch(&g->a, now);
                o->group_put = true;
        }
        return accept(o, g->a.version);
}

static sr_err_t remove_members(sr_group_t *g, const sr_grpcmd_t *cmd,
                               const sr_def_group_member_t *const *found,
                               int64_t now, uint32_t chunk_targets,
                               sr_groups_out_t *o)
{
        sr_err_t err;

        o->del = members_begin(g, cmd, found, chunk_targets, o,
                               sizeof(*o->del), &err);
        if (!o->del)
                return err;
        for (uint32_t i = 0; i < cmd->n_items; i++) {
                if (!found[i]) {
                        o->skipped++;
                        continue;
                }
                o->added++;
                o->del[o->n_del++] = cmd->items[i].device_id;
        }
        if (o->n_del) {
                g->n_members -= o->n_del <= g->n_members ? o->n_del :
                                                           g->n_members;
                audit_touch(&g->a, now);
                o->group_put = true;
        }
        return accept(o, g->a.version);
}

static sr_err_t delete_group(sr_group_t *g, const sr_grpcmd_t *cmd,
                             sr_groups_out_t *o)
{
        char gid[SR_UUID_STR_LEN + 1];

        if (!group_ok(g, cmd, o))
                return SR_OK;
        sr_uuid_fmt(&g->id, gid);
        /* Its members are not in the aggregate: one input could neither
         * tombstone them all (unbounded) nor leave them to a group created
         * again with the same id, as a DEVICES list that holds targets. */
        if (g->n_members)
                return reject(o, SR_REJECT_IN_USE, "device group %s (\"%s\") "
                              "has %" PRIu64 " members; remove its members "
                              "first", gid, g->name, g->n_members);
        o->group_deleted = true;
        o->version = g->a.version + 1;
        memset(g, 0, sizeof(*g));
        o->accepted = true;
        o->reason = SR_REJECT_NONE;
        return SR_OK;
}

sr_err_t sr_groups_apply(sr_group_t *g, const sr_grpcmd_t *cmd,
                         const sr_def_group_member_t *const *found,
                         int64_t now, uint32_t chunk_targets,
                         sr_groups_out_t *out)
{
        sr_group_t work = *g;
        sr_err_t err;

        switch (cmd->kind) {
        case SR_GRPCMD_PUT_GROUP:
                err = put_group(&work, cmd, now, out);
                break;
        case SR_GRPCMD_PUT_MEMBERS:
                err = put_members(&work, cmd, found, now, chunk_targets, out);
                break;
        case SR_GRPCMD_REMOVE_MEMBERS:
                err = remove_members(&work, cmd, found, now, chunk_targets,
                                     out);
                break;
        case SR_GRPCMD_DELETE_GROUP:
                err = delete_group(&work, cmd, out);
                break;
        default:
                return SR_ERR_INVALID;
        }
        if (err || !out->accepted) {
                /* A refusal changes nothing and says nothing to write. */
                free(out->put);
                free(out->del);
                out->put = NULL;
                out->del = NULL;
                out->n_put = out->n_del = 0;
                out->created = out->added = out->skipped = 0;
                out->group_put = out->group_deleted = false;
                return err;
        }
        *g = work;
        return SR_OK;
}

/* ------------------------------------------------------------ copies */

static size_t copy_head(const sr_uuid_t *pipeline, const sr_uuid_t *run,
                        char *out)
{
        size_t n = key_of('P', pipeline, 'r', run, out);

        out[n++] = '/';
        return n;
}

size_t sr_group_copy_prefix(const sr_uuid_t *pipeline, const sr_uuid_t *run,
                            char out[SR_GROUP_COPY_KEY_LEN])
{
        return copy_head(pipeline, run, out);
}

/* "P<pipeline>/r/<run>/<kind>/<group>". @returns its length. */
static size_t copy_group(const sr_uuid_t *pipeline, const sr_uuid_t *run,
                         char kind, const sr_uuid_t *group, char *out)
{
        char s[SR_UUID_STR_LEN + 1];
        size_t n = copy_head(pipeline, run, out);

        out[n++] = kind;
        out[n++] = '/';
        sr_uuid_fmt(group, s);
        memcpy(out + n, s, SR_UUID_STR_LEN);
        return n + SR_UUID_STR_LEN;
}

size_t sr_group_copy_member_key(const sr_uuid_t *pipeline,
                                const sr_uuid_t *run, const sr_uuid_t *group,
                                const sr_uuid_t *device,
                                char out[SR_GROUP_COPY_KEY_LEN])
{
        size_t n = copy_group(pipeline, run, 'm', group, out);
        char s[SR_UUID_STR_LEN + 1];

        out[n++] = '/';
        if (!device)
                return n;
        sr_uuid_fmt(device, s);
        memcpy(out + n, s, SR_UUID_STR_LEN);
        return n + SR_UUID_STR_LEN;
}

size_t sr_group_copy_state_key(const sr_uuid_t *pipeline,
                               const sr_uuid_t *run, const sr_uuid_t *group,
                               char out[SR_GROUP_COPY_KEY_LEN])
{
        return copy_group(pipeline, run, 's', group, out);
}

void sr_group_chunk_digest(const sr_def_group_member_t *items, uint32_t n,
                           uint8_t out[SR_DIGEST_LEN])
{
        sr_sha256_ctx_t h;

        sr_sha256_init(&h);
        for (uint32_t i = 0; i < n; i++) {
                sr_sha256_update(&h, items[i].device_id.b,
                                 sizeof(items[i].device_id.b));
                sr_sha256_update(&h, items[i].device_name,
                                 strnlen(items[i].device_name,
                                         SR_NAME_MAX - 1) + 1);
                sr_sha256_update(&h, items[i].device_alias,
                                 strnlen(items[i].device_alias,
                                         SR_NAME_MAX - 1) + 1);
        }
        sr_sha256_final(&h, out);
}

uint32_t sr_defs_linked_groups(const sr_defs_t *d, const sr_uuid_t *stage,
                               sr_uuid_t **groups, bool *nomem)
{
        sr_uuid_t *g = NULL;
        uint32_t n = 0;

        *groups = NULL;
        *nomem = false;
        if (!d->n_group_links)
                return 0;
        g = malloc(d->n_group_links * sizeof(*g));
        if (!g) {
                *nomem = true;
                return 0;
        }
        for (uint32_t i = 0; i < d->n_attachments; i++) {
                const sr_def_attachment_t *at = &d->attachments[i];
                const sr_def_target_list_t *l;

                if (stage && !sr_uuid_eq(&at->stage_id, stage))
                        continue;
                l = sr_defs_list(d, &at->target_list_id);
                if (!l || l->type != SR_TL_GROUPS)
                        continue;
                for (uint32_t j = 0; j < d->n_group_links; j++) {
                        const sr_def_group_link_t *gl = &d->group_links[j];
                        uint32_t k;

                        if (!sr_uuid_eq(&gl->target_list_id, &l->id))
                                continue;
                        for (k = 0; k < n; k++)
                                if (sr_uuid_eq(&g[k], &gl->device_group_id))
                                        break;
                        if (k == n)
                                g[n++] = gl->device_group_id;
                }
        }
        if (!n) {
                free(g);
                return 0;
        }
        *groups = g;
        return n;
}
