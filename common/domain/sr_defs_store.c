/* common/domain/sr_defs_store.c - stored definitions as records: the keys
 * of definition entities, the record of each change, an aggregate loaded
 * back from its records, event ids (docs/definitions.md, section 2).
 *
 * Pure, as sr_defs.c. The owner writes one record per change of an
 * accepted command (sr_defs_record_of) and the pipeline's record after
 * every command with changes (its bookkeeping: last_seq, next_ordinal,
 * runs_started); it loads an aggregate from the records under the
 * pipeline's prefix (sr_defs_load_record, then sr_defs_loaded), so a
 * restore and a process that kept the aggregate in memory meet the same
 * aggregate, arrays in the same order.
 */
#include "sr_defs.h"
#include "sr_defs_int.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ keys */

size_t sr_def_key_prefix(const sr_uuid_t *pipeline, char out[SR_DEF_KEY_LEN])
{
        out[0] = 'P';
        sr_uuid_hex(pipeline, out + 1);
        out[1 + SR_UUID_STR_LEN] = '/';
        return 2 + SR_UUID_STR_LEN;
}

static size_t key_of(char letter, const sr_uuid_t *pipeline,
                     const sr_uuid_t *id, char out[SR_DEF_KEY_LEN])
{
        size_t n = sr_def_key_prefix(pipeline, out);

        out[n++] = letter;
        out[n++] = '/';
        sr_uuid_hex(id, out + n);
        return n + SR_UUID_STR_LEN;
}

_Static_assert(SR_DEF_KEY_LEN == 2 + SR_UUID_STR_LEN + 2 + SR_UUID_STR_LEN,
               "SR_DEF_KEY_LEN is P<uuid>/<letter>/<uuid>");

size_t sr_def_key(sr_def_kind_t k, const sr_uuid_t *pipeline,
                  const sr_uuid_t *id, char out[SR_DEF_KEY_LEN])
{
        return key_of(sr_def_kind_letter(k), pipeline, id, out);
}

size_t sr_def_dedupe_key(const sr_uuid_t *pipeline,
                         const sr_uuid_t *command_id,
                         char out[SR_DEF_KEY_LEN])
{
        return key_of('d', pipeline, command_id, out);
}

bool sr_def_key_parse(const char *key, size_t len, sr_uuid_t *pipeline,
                      sr_def_kind_t *kind, sr_uuid_t *id)
{
        const size_t at = 2 + SR_UUID_STR_LEN; /* the letter */

        if (len != SR_DEF_KEY_LEN || key[0] != 'P' ||
            key[at - 1] != '/' || key[at + 1] != '/' ||
            !sr_uuid_parse(key + 1, SR_UUID_STR_LEN, pipeline) ||
            !sr_uuid_parse(key + at + 2, SR_UUID_STR_LEN, id))
                return false;
        if (key[at] == 'd') {
                *kind = SR_DEF__COUNT;
                return true;
        }
        for (int k = 0; k < SR_DEF__COUNT; k++)
                if (sr_def_kind_letter((sr_def_kind_t)k) == key[at]) {
                        *kind = (sr_def_kind_t)k;
                        return true;
                }
        return false;
}

void sr_def_event_id(const sr_uuid_t *pipeline, uint64_t seq, sr_uuid_t *out)
{
        char pid[SR_UUID_STR_LEN + 1];

        sr_uuid_fmt(pipeline, pid);
        sr_uuid_v5(out, &sr_ns, "%s/definition/%llu", pid,
                   (unsigned long long)seq);
}

void sr_def_start_command_id(const sr_uuid_t *pipeline, const sr_uuid_t *run,
                             sr_uuid_t *out)
{
        char pid[SR_UUID_STR_LEN + 1], rid[SR_UUID_STR_LEN + 1];

        sr_uuid_fmt(pipeline, pid);
        sr_uuid_fmt(run, rid);
        sr_uuid_v5(out, &sr_ns, "%s/run/%s/start", pid, rid);
}

/* ------------------------------------------------------------ records */

void sr_def_record_fini(sr_def_record_t *r)
{
        if (!r)
                return;
        switch (r->kind) {
        case SR_DEF_OPERATION:
                free(r->u.operation.args_json);
                r->u.operation.args_json = NULL;
                break;
        case SR_DEF_ACTIVE_RUN:
                free(r->u.active_run.stage_ids);
                r->u.active_run.stage_ids = NULL;
                r->u.active_run.n_stage_ids = 0;
                break;
        case SR_DEF_TARGET:
                sr_def_target_fini(&r->u.target);
                break;
        default:
                break;
        }
}

const sr_uuid_t *sr_def_record_id(const sr_def_record_t *r)
{
        switch (r->kind) {
        case SR_DEF_STAGE:
                return &r->u.stage.id;
        case SR_DEF_TARGET_LIST:
                return &r->u.list.id;
        case SR_DEF_ATTACHMENT:
                return &r->u.attachment.id;
        case SR_DEF_OPERATION_LIST:
                return &r->u.oplist.id;
        case SR_DEF_OPERATION:
                return &r->u.operation.id;
        case SR_DEF_GROUP_LINK:
                return &r->u.group_link.id;
        case SR_DEF_ACTIVE_RUN:
                return &r->u.active_run.run_id;
        case SR_DEF_TARGET:
                return &r->u.target.id;
        default:
                return &r->u.pipeline.id;
        }
}

/* Append @p size bytes at @p src to the array @p *arr of @p *n. */
static bool append(void **arr, uint32_t *n, const void *src, size_t size)
{
        void *p = realloc(*arr, (*n + 1) * size);

        if (!p)
                return false;
        memcpy((unsigned char *)p + *n * size, src, size);
        *arr = p;
        (*n)++;
        return true;
}

#define APPEND(d, arr, n, src)                                            \
        append((void **)&(d)->arr, &(d)->n, (src), sizeof(*(d)->arr))

sr_err_t sr_defs_load_record(sr_defs_t *d, sr_def_record_t *r)
{
        bool ok;

        switch (r->kind) {
        case SR_DEF_PIPELINE:
                d->exists = true;
                d->p = r->u.pipeline;
                ok = true;
                break;
        case SR_DEF_STAGE:
                ok = APPEND(d, stages, n_stages, &r->u.stage);
                break;
        case SR_DEF_TARGET_LIST:
                ok = APPEND(d, lists, n_lists, &r->u.list);
                break;
        case SR_DEF_ATTACHMENT:
                ok = APPEND(d, attachments, n_attachments, &r->u.attachment);
                break;
        case SR_DEF_OPERATION_LIST:
                ok = APPEND(d, oplists, n_oplists, &r->u.oplist);
                break;
        case SR_DEF_OPERATION:
                ok = APPEND(d, operations, n_operations, &r->u.operation);
                break;
        case SR_DEF_GROUP_LINK:
                ok = APPEND(d, group_links, n_group_links, &r->u.group_link);
                break;
        case SR_DEF_ACTIVE_RUN:
                ok = APPEND(d, active_runs, n_active_runs, &r->u.active_run);
                break;
        default:
                return SR_ERR_INVALID;
        }
        if (!ok)
                return SR_ERR_NOMEM;
        memset(&r->u, 0, sizeof(r->u)); /* what it owned moved to d */
        return SR_OK;
}

/* Creation order: the ordinal each entity took from the pipeline's
 * counter (unique within the aggregate). */
#define BY_ORDINAL(name, type)                                            \
        static int name(const void *a, const void *b)                     \
        {                                                                 \
                uint64_t x = ((const type *)a)->ordinal;                  \
                uint64_t y = ((const type *)b)->ordinal;                  \
                                                                          \
                return (x > y) - (x < y);                                 \
        }
BY_ORDINAL(stage_cmp, sr_def_stage_t)
BY_ORDINAL(list_cmp, sr_def_target_list_t)
BY_ORDINAL(attachment_cmp, sr_def_attachment_t)
BY_ORDINAL(oplist_cmp, sr_def_oplist_t)
BY_ORDINAL(operation_cmp, sr_def_operation_t)
BY_ORDINAL(group_link_cmp, sr_def_group_link_t)
BY_ORDINAL(active_run_cmp, sr_def_active_run_t)
#undef BY_ORDINAL

#define SORT(d, arr, n, cmp)                                              \
        do {                                                              \
                if ((d)->n > 1)                                           \
                        qsort((d)->arr, (d)->n, sizeof(*(d)->arr), cmp);  \
        } while (0)

void sr_defs_loaded(sr_defs_t *d)
{
        SORT(d, stages, n_stages, stage_cmp);
        SORT(d, lists, n_lists, list_cmp);
        SORT(d, attachments, n_attachments, attachment_cmp);
        SORT(d, oplists, n_oplists, oplist_cmp);
        SORT(d, operations, n_operations, operation_cmp);
        SORT(d, group_links, n_group_links, group_link_cmp);
        SORT(d, active_runs, n_active_runs, active_run_cmp);
}

#undef SORT

static bool dup_text(char **dst, const char *src)
{
        *dst = NULL;
        return !src || (*dst = strdup(src)) != NULL;
}

/* Entity @p id of one of the aggregate's arrays, or NULL. */
static const void *find(const void *arr, uint32_t n, size_t size,
                        const sr_uuid_t *id)
{
        int64_t i = sr_defs__find(arr, n, size, id);

        return i < 0 ? NULL : (const unsigned char *)arr + i * (int64_t)size;
}

#define FIND(d, arr, n, id) find((d)->arr, (d)->n, sizeof(*(d)->arr), id)

sr_err_t sr_defs_record_of(const sr_defs_t *d, const sr_defs_out_t *o,
                           const sr_def_change_rec_t *c,
                           sr_def_record_t *out)
{
        const void *e = NULL;

        memset(out, 0, sizeof(*out));
        out->kind = c->kind;
        out->pipeline_id = d->p.id;
        memcpy(out->enterprise_id, d->p.enterprise_id,
               sizeof(out->enterprise_id));
        switch (c->kind) {
        case SR_DEF_PIPELINE:
                out->u.pipeline = d->p;
                return SR_OK;
        case SR_DEF_TARGET:
                if (c->target_index < 0 ||
                    (uint32_t)c->target_index >= o->n_targets)
                        return SR_ERR_INVALID;
                if (c->change == SR_DEF_DELETED)
                        return SR_ERR_NOT_FOUND;
                out->u.target = o->targets[c->target_index];
                if (!dup_text(&out->u.target.device_meta_json,
                              o->targets[c->target_index].device_meta_json) ||
                    !dup_text(&out->u.target.args_json,
                              o->targets[c->target_index].args_json)) {
                        sr_def_target_fini(&out->u.target);
                        return SR_ERR_NOMEM;
                }
                return SR_OK;
        case SR_DEF_STAGE:
                e = FIND(d, stages, n_stages, &c->id);
                if (e)
                        out->u.stage = *(const sr_def_stage_t *)e;
                break;
        case SR_DEF_TARGET_LIST:
                e = FIND(d, lists, n_lists, &c->id);
                if (e)
                        out->u.list = *(const sr_def_target_list_t *)e;
                break;
        case SR_DEF_ATTACHMENT:
                e = FIND(d, attachments, n_attachments, &c->id);
                if (e)
                        out->u.attachment = *(const sr_def_attachment_t *)e;
                break;
        case SR_DEF_OPERATION_LIST:
                e = FIND(d, oplists, n_oplists, &c->id);
                if (e)
                        out->u.oplist = *(const sr_def_oplist_t *)e;
                break;
        case SR_DEF_GROUP_LINK:
                e = FIND(d, group_links, n_group_links, &c->id);
                if (e)
                        out->u.group_link = *(const sr_def_group_link_t *)e;
                break;
        case SR_DEF_OPERATION:
                e = FIND(d, operations, n_operations, &c->id);
                if (e) {
                        out->u.operation = *(const sr_def_operation_t *)e;
                        if (!dup_text(&out->u.operation.args_json,
                                      ((const sr_def_operation_t *)e)
                                              ->args_json))
                                return SR_ERR_NOMEM;
                }
                break;
        case SR_DEF_ACTIVE_RUN: {
                const sr_def_active_run_t *r =
                        FIND(d, active_runs, n_active_runs, &c->id);
                size_t n;

                if (!r)
                        break;
                e = r;
                out->u.active_run = *r;
                out->u.active_run.stage_ids = NULL;
                n = r->n_stage_ids * sizeof(*r->stage_ids);
                if (n) {
                        out->u.active_run.stage_ids = malloc(n);
                        if (!out->u.active_run.stage_ids)
                                return SR_ERR_NOMEM;
                        memcpy(out->u.active_run.stage_ids, r->stage_ids, n);
                }
                break;
        }
        default:
                return SR_ERR_INVALID;
        }
        return e ? SR_OK : SR_ERR_NOT_FOUND;
}
