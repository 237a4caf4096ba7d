/* common/domain/sr_defs_targets.c - the rules of stored target lists,
 * their attachments to stages, their targets and device-group links
 * (docs/definitions.md sections 3, 6, 8): each checks the whole command,
 * allocates, then changes the aggregate and records the changes (sr_defs.c
 * has the helpers and the dispatch).
 */
#include "sr_defs.h"
#include "sr_defs_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_utf8.h"

#define FIND SR_DEFS_FIND

/* ------------------------------------------------------- target lists */

static bool list_name_taken(sr_defs_ctx_t *c, const char *name,
                            const sr_uuid_t *self)
{
        char hid[SR_UUID_STR_LEN + 1];

        for (uint32_t i = 0; i < c->d->n_lists; i++) {
                const sr_def_target_list_t *l = &c->d->lists[i];

                if (sr_uuid_eq(&l->id, self) ||
                    !sr_defs__name_eq_fold(l->name, name))
                        continue;
                sr_uuid_fmt(&l->id, hid);
                sr_defs__reject(c, SR_REJECT_NAME_TAKEN, "target list \"%s\": "
                                "the name is taken by target list %s; choose "
                                "another name", name, hid);
                return true;
        }
        return false;
}

static bool check_tl_type(sr_defs_ctx_t *c, sr_tl_type_t t)
{
        if ((unsigned)t < SR_TL__COUNT)
                return true;
        sr_defs__reject(c, SR_REJECT_INVALID_VALUE,
                        "target_list_type: %d is not one "
                        "of DEVICES, GROUPS, COLLECTIONS", (int)t);
        return false;
}

static sr_err_t create_list(sr_defs_ctx_t *c, int64_t i, const char *lid)
{
        const sr_defcmd_t *cmd = c->cmd;
        sr_defs_t *d = c->d;
        sr_def_target_list_t l;
        char name[SR_NAME_MAX];

        if (i >= 0) {
                const sr_def_target_list_t *cur = &d->lists[i];

                if ((cmd->u.list.has_name &&
                     (sr_defs__trim_name(cmd->u.list.name, name) ||
                      strcmp(name, cur->name))) ||
                    (cmd->u.list.has_type && cmd->u.list.type != cur->type))
                        return sr_defs__reject(c, SR_REJECT_INVALID_VALUE,
                                               "target list %s already exists "
                                               "with other fields; update it "
                                               "or use a new id", lid);
                return sr_defs__accept(c, cur->a.version);
        }
        memset(&l, 0, sizeof(l));
        l.id = cmd->u.list.target_list_id;
        if (!cmd->u.list.has_name)
                return sr_defs__reject(c, SR_REJECT_INVALID_VALUE,
                                       "target list "
                                       "name: required");
        if (!cmd->u.list.has_type)
                return sr_defs__reject(c, SR_REJECT_INVALID_VALUE,
                                       "target_list_type: required (DEVICES, "
                                       "GROUPS or COLLECTIONS)");
        if (!sr_defs__check_name(c, "target list", cmd->u.list.name, l.name) ||
            !check_tl_type(c, cmd->u.list.type) ||
            list_name_taken(c, l.name, &l.id))
                return SR_OK;
        l.type = cmd->u.list.type;
        if (!sr_defs__reserve_out(c, 1, 0) || !SR_DEFS_GROW(d, lists, n_lists))
                return SR_ERR_NOMEM;
        l.ordinal = d->p.next_ordinal++;
        sr_defs__audit_new(&l.a, c->now);
        d->lists[d->n_lists++] = l;
        sr_defs__emit(c, SR_DEF_TARGET_LIST, &l.id, &d->p.id, SR_DEF_CREATED, 1,
                      -1);
        return sr_defs__accept(c, 1);
}

sr_err_t sr_defs__put_list(sr_defs_ctx_t *c)
{
        const sr_defcmd_t *cmd = c->cmd;
        int64_t i = FIND(c->d, lists, n_lists, &cmd->u.list.target_list_id);
        char lid[SR_UUID_STR_LEN + 1];
        sr_def_target_list_t l, *cur;

        sr_uuid_fmt(&cmd->u.list.target_list_id, lid);
        if (cmd->create)
                return sr_defs__expects_on_create(c, "target list") ?
                               SR_OK : create_list(c, i, lid);
        if (i < 0)
                return sr_defs__reject(c, SR_REJECT_NOT_FOUND,
                                       "target list %s not "
                                       "found in pipeline %s", lid, c->pid);
        cur = &c->d->lists[i];
        l = *cur;
        if (sr_defs__is_stale(c, "target list", &l.id, l.a.version))
                return SR_OK;
        if (cmd->u.list.has_name &&
            (!sr_defs__check_name(c, "target list", cmd->u.list.name, l.name) ||
             list_name_taken(c, l.name, &l.id)))
                return SR_OK;
        if (cmd->u.list.has_type && cmd->u.list.type != l.type) {
                if (!check_tl_type(c, cmd->u.list.type))
                        return SR_OK;
                /* What a list holds is of its type: a type changes only
                 * while it holds nothing. */
                if (l.n_targets || l.n_groups)
                        return sr_defs__reject(c, SR_REJECT_INVALID_VALUE,
                                               "target_list_type: target list "
                                               "\"%s\" holds %" PRIu32
                                               " targets and %" PRIu32
                                               " device groups; its type "
                                               "changes only while it is "
                                               "empty", l.name, l.n_targets,
                                               l.n_groups);
                l.type = cmd->u.list.type;
        }
        if (!strcmp(l.name, cur->name) && l.type == cur->type)
                return sr_defs__accept(c, l.a.version);
        if (!sr_defs__reserve_out(c, 1, 0))
                return SR_ERR_NOMEM;
        sr_defs__touch(&l.a, c->now);
        *cur = l;
        sr_defs__emit(c, SR_DEF_TARGET_LIST, &l.id, &c->d->p.id, SR_DEF_UPDATED,
                      l.a.version, -1);
        return sr_defs__accept(c, l.a.version);
}

/* Deleting a list deletes its attachments and device-group links, which
 * are in the aggregate. Its targets are not (section 1: no input loads a
 * list's targets, and every record and command is bounded, section 2), so
 * the owner could neither tombstone them in one input nor leave them: a
 * list re-created with the same id (ids are the client's) would inherit
 * them with n_targets 0. A DEVICES list that holds targets is therefore
 * refused in_use until its targets are removed. */
sr_err_t sr_defs__delete_list(sr_defs_ctx_t *c)
{
        sr_defs_t *d = c->d;
        int64_t i = FIND(d, lists, n_lists, &c->cmd->u.list.target_list_id);
        char lid[SR_UUID_STR_LEN + 1];
        sr_def_target_list_t l;
        uint32_t n = 1;

        sr_uuid_fmt(&c->cmd->u.list.target_list_id, lid);
        if (i < 0)
                return sr_defs__reject(c, SR_REJECT_NOT_FOUND,
                                       "target list %s not "
                                       "found in pipeline %s", lid, c->pid);
        l = d->lists[i];
        if (sr_defs__is_stale(c, "target list", &l.id, l.a.version))
                return SR_OK;
        if (l.n_targets)
                return sr_defs__reject(c, SR_REJECT_IN_USE, "target list "
                                       "\"%s\" (%s) holds %" PRIu32
                                       " targets: remove its targets first",
                                       l.name, lid, l.n_targets);
        for (uint32_t j = 0; j < d->n_attachments; j++)
                n += sr_uuid_eq(&d->attachments[j].target_list_id, &l.id);
        for (uint32_t j = 0; j < d->n_group_links; j++)
                n += sr_uuid_eq(&d->group_links[j].target_list_id, &l.id);
        if (!sr_defs__reserve_out(c, n, 0))
                return SR_ERR_NOMEM;
        for (uint32_t j = 0; j < d->n_attachments;) {
                if (sr_uuid_eq(&d->attachments[j].target_list_id, &l.id))
                        sr_defs__drop_attachment(c, j);
                else
                        j++;
        }
        for (uint32_t j = 0; j < d->n_group_links;) {
                sr_def_group_link_t *g = &d->group_links[j];

                if (!sr_uuid_eq(&g->target_list_id, &l.id)) {
                        j++;
                        continue;
                }
                sr_defs__emit(c, SR_DEF_GROUP_LINK, &g->id, &l.id,
                              SR_DEF_DELETED,
                              g->a.version + 1, -1);
                sr_defs__remove_at(d->group_links, &d->n_group_links, j,
                                   sizeof(*g));
        }
        sr_defs__emit(c, SR_DEF_TARGET_LIST, &l.id, &d->p.id, SR_DEF_DELETED,
                      l.a.version + 1, -1);
        sr_defs__remove_at(d->lists, &d->n_lists, (uint32_t)i, sizeof(l));
        return sr_defs__accept(c, l.a.version + 1);
}

/* -------------------------------------------------------- attachments */

/* Refused when @p extra more DEVICES targets would put a stage over
 * stage.max.targets; @p extra 0 checks nothing. */
static bool stage_targets_over(sr_defs_ctx_t *c, const sr_def_stage_t *s,
                               uint64_t extra)
{
        uint64_t n;
        char sid[SR_UUID_STR_LEN + 1];

        if (!c->opts.max.targets || !extra)
                return false;
        n = sr_defs__stage_devices(c->d, &s->id) + extra;
        if (n <= c->opts.max.targets)
                return false;
        sr_uuid_fmt(&s->id, sid);
        sr_defs__reject(c, SR_REJECT_INVALID_VALUE, "targets: stage \"%s\" "
                        "(%s) would have %" PRIu64 " targets, at most %" PRIu32
                        " per stage (stage.max.targets)", s->name, sid, n,
                        c->opts.max.targets);
        return true;
}

/* The stage and list of an attach or detach, refused not_found when
 * either is not in this pipeline. */
static bool attach_pair(sr_defs_ctx_t *c, const sr_def_stage_t **s,
                        const sr_def_target_list_t **l)
{
        char id[SR_UUID_STR_LEN + 1];

        *s = sr_defs_stage(c->d, &c->cmd->u.attach.stage_id);
        *l = sr_defs_list(c->d, &c->cmd->u.attach.target_list_id);
        if (!*s) {
                sr_uuid_fmt(&c->cmd->u.attach.stage_id, id);
                sr_defs__reject(c, SR_REJECT_NOT_FOUND, "stage %s not found in "
                                "pipeline %s", id, c->pid);
                return false;
        }
        if (!*l) {
                sr_uuid_fmt(&c->cmd->u.attach.target_list_id, id);
                sr_defs__reject(c, SR_REJECT_NOT_FOUND,
                                "target list %s not found in "
                                "pipeline %s", id, c->pid);
                return false;
        }
        return true;
}

sr_err_t sr_defs__attach_list(sr_defs_ctx_t *c)
{
        sr_defs_t *d = c->d;
        const sr_def_stage_t *s;
        const sr_def_target_list_t *l;
        sr_def_attachment_t at;
        int64_t i;

        if (sr_defs__expects_on_create(c, "attachment") ||
            !attach_pair(c, &s, &l))
                return SR_OK;
        memset(&at, 0, sizeof(at));
        sr_def_attachment_id(&s->id, &l->id, &at.id);
        i = FIND(d, attachments, n_attachments, &at.id);
        if (i >= 0)
                return sr_defs__accept(c, d->attachments[i].a.version);
        if (l->type == SR_TL_DEVICES && stage_targets_over(c, s, l->n_targets))
                return SR_OK;
        /* a fill reads the stages' attachments at every step */
        if (sr_defs__filling_refused(c))
                return SR_OK;
        at.stage_id = s->id;
        at.target_list_id = l->id;
        if (!sr_defs__reserve_out(c, 1, 0) ||
            !SR_DEFS_GROW(d, attachments, n_attachments))
                return SR_ERR_NOMEM;
        at.ordinal = d->p.next_ordinal++;
        sr_defs__audit_new(&at.a, c->now);
        d->attachments[d->n_attachments++] = at;
        sr_defs__emit(c, SR_DEF_ATTACHMENT, &at.id, &at.stage_id,
                      SR_DEF_CREATED, 1,
                      -1);
        return sr_defs__accept(c, 1);
}

sr_err_t sr_defs__detach_list(sr_defs_ctx_t *c)
{
        sr_defs_t *d = c->d;
        const sr_def_stage_t *s;
        const sr_def_target_list_t *l;
        sr_uuid_t id;
        uint32_t version;
        int64_t i;

        if (!attach_pair(c, &s, &l))
                return SR_OK;
        sr_def_attachment_id(&s->id, &l->id, &id);
        i = FIND(d, attachments, n_attachments, &id);
        if (i < 0)
                return sr_defs__reject(c, SR_REJECT_NOT_FOUND,
                                       "target list \"%s\" is "
                                       "not attached to stage \"%s\"", l->name,
                                       s->name);
        version = d->attachments[i].a.version;
        if (sr_defs__is_stale(c, "attachment", &id, version) ||
            sr_defs__filling_refused(c))
                return SR_OK;
        if (!sr_defs__reserve_out(c, 1, 0))
                return SR_ERR_NOMEM;
        sr_defs__drop_attachment(c, (uint32_t)i);
        return sr_defs__accept(c, version + 1);
}

/* ------------------------------------------------------------ targets */

/* The list a target command names, refused not_found when it is not in
 * this pipeline and wrong_type when it is not of @p type. */
static sr_def_target_list_t *target_list_of(sr_defs_ctx_t *c,
                                            const sr_uuid_t *id,
                                            sr_tl_type_t type)
{
        int64_t i = FIND(c->d, lists, n_lists, id);
        char lid[SR_UUID_STR_LEN + 1];
        sr_def_target_list_t *l;

        sr_uuid_fmt(id, lid);
        if (i < 0) {
                sr_defs__reject(c, SR_REJECT_NOT_FOUND,
                                "target list %s not found in "
                                "pipeline %s", lid, c->pid);
                return NULL;
        }
        l = &c->d->lists[i];
        if (l->type != type) {
                sr_defs__reject(c, SR_REJECT_WRONG_TYPE, "target list \"%s\" "
                                "(%s) is a %s list: %s go only in %s lists",
                                l->name, lid, sr_tl_type_name(l->type),
                                type == SR_TL_DEVICES ? "targets" :
                                "device groups", sr_tl_type_name(type));
                return NULL;
        }
        return l;
}

bool sr_defs__dup_opt(char **dst, const char *src)
{
        *dst = NULL;
        return !src || (*dst = strdup(src));
}

/* Deep copy of a target (dst's strings owned). */
static bool target_copy(sr_def_target_t *dst, const sr_def_target_t *src)
{
        *dst = *src;
        if (!sr_defs__dup_opt(&dst->device_meta_json, src->device_meta_json))
                return false;
        if (!sr_defs__dup_opt(&dst->args_json, src->args_json)) {
                sr_def_target_fini(dst);
                return false;
        }
        return true;
}

/* The list changed with its count: a field of its record (section 2),
 * so a new version and a change record, after its children's. */
static void list_counted(sr_defs_ctx_t *c, sr_def_target_list_t *l)
{
        sr_defs__touch(&l->a, c->now);
        sr_defs__emit(c, SR_DEF_TARGET_LIST, &l->id, &c->d->p.id,
                      SR_DEF_UPDATED,
                      l->a.version, -1);
}

/* A device twice in one command, or a nil device: refused naming the
 * item. */
static bool items_bad(sr_defs_ctx_t *c)
{
        const sr_defcmd_target_t *it = c->cmd->u.add.items;
        uint32_t n = c->cmd->u.add.n_items;
        char dev[SR_UUID_STR_LEN + 1];

        for (uint32_t i = 0; i < n; i++) {
                if (sr_uuid_is_nil(&it[i].device_id)) {
                        sr_defs__reject(c, SR_REJECT_INVALID_VALUE,
                                        "items[%" PRIu32
                                        "].device_id: required", i);
                        return true;
                }
                for (uint32_t j = 0; j < i; j++) {
                        if (!sr_uuid_eq(&it[i].device_id, &it[j].device_id))
                                continue;
                        sr_uuid_fmt(&it[i].device_id, dev);
                        sr_defs__reject(c, SR_REJECT_INVALID_VALUE, "items[%"
                                        PRIu32 "].device_id: device %s is also "
                                        "items[%" PRIu32 "]; give each device "
                                        "once", i, dev, j);
                        return true;
                }
        }
        return false;
}

/* The new targets of an AddTargets, in item order, into out->targets
 * (room reserved); false on allocation failure, nothing added then. */
static bool build_targets(sr_defs_ctx_t *c, const sr_def_target_list_t *l)
{
        const sr_defcmd_t *cmd = c->cmd;
        sr_defs_out_t *o = c->out;
        uint32_t first = o->n_targets;

        for (uint32_t i = 0; i < cmd->u.add.n_items; i++) {
                const sr_defcmd_target_t *it = &cmd->u.add.items[i];
                sr_def_target_t *t = &o->targets[o->n_targets];

                if (c->tin->found[i])
                        continue;
                memset(t, 0, sizeof(*t));
                sr_def_target_id(&l->id, &it->device_id, &t->id);
                t->target_list_id = l->id;
                t->device_id = it->device_id;
                sr_defs__copy_text(t->device_name, it->device_name);
                sr_defs__copy_text(t->device_alias, it->device_alias);
                t->is_active = it->is_active;
                sr_defs__audit_new(&t->a, c->now);
                if (!sr_defs__dup_opt(&t->device_meta_json,
                                      it->device_meta_json) ||
                    !sr_defs__dup_opt(&t->args_json, it->args_json)) {
                        sr_def_target_fini(t);
                        goto err_free;
                }
                o->n_targets++;
        }
        return true;

err_free:
        while (o->n_targets > first)
                sr_def_target_fini(&o->targets[--o->n_targets]);
        return false;
}

sr_err_t sr_defs__add_targets(sr_defs_ctx_t *c)
{
        const sr_defcmd_t *cmd = c->cmd;
        sr_defs_t *d = c->d;
        sr_def_target_list_t *l;
        uint32_t n = cmd->u.add.n_items, fresh = 0, first;

        if (sr_defs__expects_on_create(c, "target"))
                return SR_OK;
        l = target_list_of(c, &cmd->u.add.target_list_id, SR_TL_DEVICES);
        if (!l)
                return SR_OK;
        if (n == 0)
                return sr_defs__reject(c, SR_REJECT_INVALID_VALUE,
                                       "items: at least "
                                       "one target");
        if (!c->tin || c->tin->n != n || !c->tin->found)
                return SR_ERR_INVALID; /* the caller read other items */
        if (c->opts.chunk_targets && n > c->opts.chunk_targets)
                return sr_defs__reject(c, SR_REJECT_INVALID_VALUE, "items: %"
                                       PRIu32 " targets in one command, at "
                                       "most %" PRIu32
                                       " (definition.chunk.targets)", n,
                                       c->opts.chunk_targets);
        if (sr_defs__filling_refused(c) || items_bad(c))
                return SR_OK;
        for (uint32_t i = 0; i < n; i++)
                fresh += !c->tin->found[i];
        if (fresh > UINT32_MAX - l->n_targets)
                return sr_defs__reject(c, SR_REJECT_INVALID_VALUE,
                                       "items: target "
                                       "list \"%s\" cannot count more targets",
                                       l->name);
        for (uint32_t i = 0; i < d->n_attachments; i++) {
                const sr_def_attachment_t *at = &d->attachments[i];
                const sr_def_stage_t *s;

                if (!sr_uuid_eq(&at->target_list_id, &l->id))
                        continue;
                s = sr_defs_stage(d, &at->stage_id);
                if (s && stage_targets_over(c, s, fresh))
                        return SR_OK;
        }
        c->out->created = c->out->added = fresh;
        c->out->skipped = n - fresh;
        if (!fresh)
                return sr_defs__accept(c, l->a.version);
        first = c->out->n_targets;
        if (!sr_defs__reserve_out(c, fresh + 1, fresh) ||
            !build_targets(c, l)) {
                c->out->created = c->out->added = c->out->skipped = 0;
                return SR_ERR_NOMEM;
        }
        for (uint32_t k = first; k < c->out->n_targets; k++)
                sr_defs__emit(c, SR_DEF_TARGET, &c->out->targets[k].id, &l->id,
                              SR_DEF_CREATED, 1, (int32_t)k);
        l->n_targets += fresh;
        list_counted(c, l);
        return sr_defs__accept(c, l->a.version);
}

/* The stored target an Update/RemoveTarget names, as the caller read it;
 * refused not_found when there is none, stale_version, run_starting. */
static const sr_def_target_t *target_named(sr_defs_ctx_t *c,
                                           sr_def_target_list_t **l)
{
        const sr_defcmd_t *cmd = c->cmd;
        const sr_def_target_t *t;
        char tid[SR_UUID_STR_LEN + 1], lid[SR_UUID_STR_LEN + 1];

        *l = target_list_of(c, &cmd->u.target.target_list_id, SR_TL_DEVICES);
        if (!*l)
                return NULL;
        t = c->tin && c->tin->n && c->tin->found ? c->tin->found[0] : NULL;
        if (!t || !sr_uuid_eq(&t->id, &cmd->u.target.target_id) ||
            !sr_uuid_eq(&t->target_list_id, &(*l)->id)) {
                sr_uuid_fmt(&cmd->u.target.target_id, tid);
                sr_uuid_fmt(&(*l)->id, lid);
                sr_defs__reject(c, SR_REJECT_NOT_FOUND,
                                "target %s not found in "
                                "target list %s", tid, lid);
                return NULL;
        }
        if (sr_defs__is_stale(c, "target", &t->id, t->a.version) ||
            sr_defs__filling_refused(c))
                return NULL;
        return t;
}

sr_err_t sr_defs__update_target(sr_defs_ctx_t *c)
{
        const sr_defcmd_t *cmd = c->cmd;
        const sr_def_target_t *t;
        sr_def_target_list_t *l;
        sr_def_target_t *nt;
        uint32_t k;

        t = target_named(c, &l);
        if (!t)
                return SR_OK;
        if ((!cmd->u.target.has_device_name ||
             !strcmp(cmd->u.target.device_name, t->device_name)) &&
            (!cmd->u.target.has_is_active ||
             cmd->u.target.is_active == t->is_active))
                return sr_defs__accept(c, t->a.version);
        if (!sr_defs__reserve_out(c, 1, 1))
                return SR_ERR_NOMEM;
        k = c->out->n_targets;
        nt = &c->out->targets[k];
        if (!target_copy(nt, t))
                return SR_ERR_NOMEM;
        c->out->n_targets++;
        if (cmd->u.target.has_device_name)
                sr_defs__copy_text(nt->device_name, cmd->u.target.device_name);
        if (cmd->u.target.has_is_active)
                nt->is_active = cmd->u.target.is_active;
        sr_defs__touch(&nt->a, c->now);
        sr_defs__emit(c, SR_DEF_TARGET, &nt->id, &l->id, SR_DEF_UPDATED,
                      nt->a.version,
                      (int32_t)k);
        return sr_defs__accept(c, nt->a.version);
}

/* out->targets gets the removed target as it was, with its tombstone's
 * version: the caller deletes its key. */
sr_err_t sr_defs__remove_target(sr_defs_ctx_t *c)
{
        const sr_def_target_t *t;
        sr_def_target_list_t *l;
        sr_def_target_t *nt;
        uint32_t k;

        t = target_named(c, &l);
        if (!t)
                return SR_OK;
        if (!sr_defs__reserve_out(c, 2, 1))
                return SR_ERR_NOMEM;
        k = c->out->n_targets;
        nt = &c->out->targets[k];
        if (!target_copy(nt, t))
                return SR_ERR_NOMEM;
        c->out->n_targets++;
        sr_defs__touch(&nt->a, c->now);
        sr_defs__emit(c, SR_DEF_TARGET, &nt->id, &l->id, SR_DEF_DELETED,
                      nt->a.version,
                      (int32_t)k);
        if (l->n_targets)
                l->n_targets--;
        list_counted(c, l);
        return sr_defs__accept(c, nt->a.version);
}

/* -------------------------------------------------------- group links */

/* Links are target sources as targets are: while a fill is in progress
 * they wait too (section 5, step 3: the fill snapshots each link). */
sr_err_t sr_defs__link_group(sr_defs_ctx_t *c)
{
        const sr_defcmd_t *cmd = c->cmd;
        sr_defs_t *d = c->d;
        sr_def_target_list_t *l;
        sr_def_group_link_t g;
        int64_t i;

        if (sr_defs__expects_on_create(c, "device-group link"))
                return SR_OK;
        l = target_list_of(c, &cmd->u.group.target_list_id, SR_TL_GROUPS);
        if (!l)
                return SR_OK;
        if (sr_uuid_is_nil(&cmd->u.group.device_group_id))
                return sr_defs__reject(c, SR_REJECT_INVALID_VALUE,
                                       "device_group_id: "
                                       "required");
        memset(&g, 0, sizeof(g));
        sr_def_group_link_id(&l->id, &cmd->u.group.device_group_id, &g.id);
        i = FIND(d, group_links, n_group_links, &g.id);
        if (i >= 0)
                return sr_defs__accept(c, d->group_links[i].a.version);
        if (sr_defs__filling_refused(c))
                return SR_OK;
        g.target_list_id = l->id;
        g.device_group_id = cmd->u.group.device_group_id;
        if (!sr_defs__reserve_out(c, 2, 0) ||
            !SR_DEFS_GROW(d, group_links, n_group_links))
                return SR_ERR_NOMEM;
        g.ordinal = d->p.next_ordinal++;
        sr_defs__audit_new(&g.a, c->now);
        d->group_links[d->n_group_links++] = g;
        sr_defs__emit(c, SR_DEF_GROUP_LINK, &g.id, &l->id, SR_DEF_CREATED, 1,
                      -1);
        l->n_groups++;
        list_counted(c, l);
        return sr_defs__accept(c, 1);
}

sr_err_t sr_defs__unlink_group(sr_defs_ctx_t *c)
{
        const sr_defcmd_t *cmd = c->cmd;
        sr_defs_t *d = c->d;
        sr_def_target_list_t *l;
        char gid[SR_UUID_STR_LEN + 1];
        sr_uuid_t id;
        uint32_t version;
        int64_t i;

        l = target_list_of(c, &cmd->u.group.target_list_id, SR_TL_GROUPS);
        if (!l)
                return SR_OK;
        sr_def_group_link_id(&l->id, &cmd->u.group.device_group_id, &id);
        i = FIND(d, group_links, n_group_links, &id);
        if (i < 0) {
                sr_uuid_fmt(&cmd->u.group.device_group_id, gid);
                return sr_defs__reject(c, SR_REJECT_NOT_FOUND, "device group "
                                       "%s is not linked to target list "
                                       "\"%s\"", gid, l->name);
        }
        version = d->group_links[i].a.version;
        if (sr_defs__is_stale(c, "device-group link", &id, version) ||
            sr_defs__filling_refused(c))
                return SR_OK;
        if (!sr_defs__reserve_out(c, 2, 0))
                return SR_ERR_NOMEM;
        sr_defs__emit(c, SR_DEF_GROUP_LINK, &id, &l->id, SR_DEF_DELETED,
                      version + 1,
                      -1);
        sr_defs__remove_at(d->group_links, &d->n_group_links, (uint32_t)i,
                           sizeof(*d->group_links));
        if (l->n_groups)
                l->n_groups--;
        list_counted(c, l);
        return sr_defs__accept(c, version + 1);
}
