/* common/domain/sr_defs.c - the rules of stored pipeline definitions
 * (docs/definitions.md, sections 1-5, 7): one command applied to one
 * pipeline aggregate, and the aggregate resolved into a run's skeleton.
 *
 * Pure: no I/O, no clock, no logging. A command is checked whole before
 * anything changes, and every allocation it needs is made before the first
 * change, so a refusal or SR_ERR_NOMEM leaves the aggregate as it was.
 * The aggregate's arrays are malloc()ed and sized to their counts: an
 * append realloc()s, which on failure leaves the array as it was.
 *
 * Derived ids, UUID v5 in the project namespace (sr_model.c):
 *   attachment        v5(NS, "<stage>/attachment/<list>")
 *   device-group link v5(NS, "<list>/group/<group>")
 *   target            v5(NS, "<list>/device/<device>/target")
 */
#include "sr_defs.h"
#include "sr_defs_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_clock.h"
#include "sr_utf8.h"

/* ------------------------------------------------------------ names */

static const char *const kind_names[] = {
#define SR_DEF_KIND_TEXT(name, text, letter) [SR_DEF_##name] = text,
        SR_DEF_KIND_MAP(SR_DEF_KIND_TEXT)
#undef SR_DEF_KIND_TEXT
};
_Static_assert(sizeof(kind_names) / sizeof(kind_names[0]) == SR_DEF__COUNT,
               "kind_names out of sync");

static const char kind_letters[] = {
#define SR_DEF_KIND_LETTER(name, text, letter) [SR_DEF_##name] = letter,
        SR_DEF_KIND_MAP(SR_DEF_KIND_LETTER)
#undef SR_DEF_KIND_LETTER
};

static const char *const tl_upper[] = { "DEVICES", "GROUPS", "COLLECTIONS" };
static const char *const tl_lower[] = { "devices", "groups", "collections" };
_Static_assert(sizeof(tl_upper) / sizeof(tl_upper[0]) == SR_TL__COUNT,
               "tl_upper out of sync");

static const char *const defcmd_names[] = {
#define SR_DEFCMD_TEXT(name, text) [SR_DEFCMD_##name] = text,
        SR_DEFCMD_MAP(SR_DEFCMD_TEXT)
#undef SR_DEFCMD_TEXT
};
_Static_assert(sizeof(defcmd_names) / sizeof(defcmd_names[0]) ==
               SR_DEFCMD__COUNT, "defcmd_names out of sync");

static const char *const change_names[] = { "created", "updated", "deleted" };

const char *sr_def_kind_name(sr_def_kind_t k)
{
        return (unsigned)k < SR_DEF__COUNT ? kind_names[k] : NULL;
}

char sr_def_kind_letter(sr_def_kind_t k)
{
        return (unsigned)k < SR_DEF__COUNT ? kind_letters[k] : 0;
}

const char *sr_tl_type_name(sr_tl_type_t t)
{
        return (unsigned)t < SR_TL__COUNT ? tl_upper[t] : NULL;
}

bool sr_tl_type_parse(const char *s, bool upper, sr_tl_type_t *out)
{
        const char *const *names = upper ? tl_upper : tl_lower;

        for (int i = 0; s && i < SR_TL__COUNT; i++) {
                if (!strcmp(s, names[i])) {
                        *out = (sr_tl_type_t)i;
                        return true;
                }
        }
        return false;
}

const char *sr_defcmd_name(sr_defcmd_kind_t k)
{
        return (unsigned)k < SR_DEFCMD__COUNT ? defcmd_names[k] : NULL;
}

const char *sr_def_change_name(sr_def_change_t c)
{
        return (unsigned)c <= SR_DEF_DELETED ? change_names[c] : NULL;
}

/* ------------------------------------------------------------ freeing */

void sr_defs_fini(sr_defs_t *d)
{
        if (!d)
                return;
        for (uint32_t i = 0; d->operations && i < d->n_operations; i++)
                free(d->operations[i].args_json);
        for (uint32_t i = 0; d->active_runs && i < d->n_active_runs; i++)
                free(d->active_runs[i].stage_ids);
        free(d->stages);
        free(d->lists);
        free(d->attachments);
        free(d->oplists);
        free(d->operations);
        free(d->group_links);
        free(d->active_runs);
        memset(d, 0, sizeof(*d));
}

void sr_def_target_fini(sr_def_target_t *t)
{
        if (!t)
                return;
        free(t->device_meta_json);
        free(t->args_json);
        t->device_meta_json = NULL;
        t->args_json = NULL;
}

void sr_defcmd_fini(sr_defcmd_t *c)
{
        if (!c)
                return;
        if (c->kind == SR_DEFCMD_ADD_TARGETS) {
                for (uint32_t i = 0; c->u.add.items && i < c->u.add.n_items;
                     i++) {
                        free(c->u.add.items[i].device_meta_json);
                        free(c->u.add.items[i].args_json);
                }
                free(c->u.add.items);
                c->u.add.items = NULL;
                c->u.add.n_items = 0;
        } else if (c->kind == SR_DEFCMD_PUT_OPERATION ||
                   c->kind == SR_DEFCMD_DELETE_OPERATION) {
                free(c->u.op.args_json);
                c->u.op.args_json = NULL;
        }
}

void sr_defs_out_fini(sr_defs_out_t *out)
{
        if (!out)
                return;
        for (uint32_t i = 0; out->targets && i < out->n_targets; i++)
                sr_def_target_fini(&out->targets[i]);
        free(out->targets);
        free(out->changes);
        memset(out, 0, sizeof(*out));
}

/* ------------------------------------------------------------ finding */

int64_t sr_defs__find(const void *arr, uint32_t n, size_t size,
                      const sr_uuid_t *id)
{
        const unsigned char *p = arr;

        for (uint32_t i = 0; i < n; i++)
                if (sr_uuid_eq((const sr_uuid_t *)(const void *)(p + i * size),
                               id))
                        return i;
        return -1;
}

#define FIND SR_DEFS_FIND

const sr_def_stage_t *sr_defs_stage(const sr_defs_t *d, const sr_uuid_t *id)
{
        int64_t i = FIND(d, stages, n_stages, id);

        return i < 0 ? NULL : &d->stages[i];
}

const sr_def_target_list_t *sr_defs_list(const sr_defs_t *d,
                                         const sr_uuid_t *id)
{
        int64_t i = FIND(d, lists, n_lists, id);

        return i < 0 ? NULL : &d->lists[i];
}

const sr_def_oplist_t *sr_defs_oplist(const sr_defs_t *d, const sr_uuid_t *id)
{
        int64_t i = FIND(d, oplists, n_oplists, id);

        return i < 0 ? NULL : &d->oplists[i];
}

const sr_def_operation_t *sr_defs_operation(const sr_defs_t *d,
                                            const sr_uuid_t *id)
{
        int64_t i = FIND(d, operations, n_operations, id);

        return i < 0 ? NULL : &d->operations[i];
}

/* Insertion sort: stable (creation order among equal orders, which the
 * rules never allow, but a loaded aggregate is not ours to trust), and
 * stages per pipeline are few (run.max.stages). */
void sr_defs_stages_by_order(const sr_defs_t *d, uint32_t *idx)
{
        for (uint32_t i = 0; i < d->n_stages; i++) {
                uint32_t j = i;

                while (j > 0 &&
                       d->stages[idx[j - 1]].order > d->stages[i].order) {
                        idx[j] = idx[j - 1];
                        j--;
                }
                idx[j] = i;
        }
}

void sr_def_attachment_id(const sr_uuid_t *stage, const sr_uuid_t *list,
                          sr_uuid_t *out)
{
        char s[SR_UUID_STR_LEN + 1], l[SR_UUID_STR_LEN + 1];

        sr_uuid_fmt(stage, s);
        sr_uuid_fmt(list, l);
        sr_uuid_v5(out, &sr_ns, "%s/attachment/%s", s, l);
}

void sr_def_group_link_id(const sr_uuid_t *list, const sr_uuid_t *group,
                          sr_uuid_t *out)
{
        char l[SR_UUID_STR_LEN + 1], g[SR_UUID_STR_LEN + 1];

        sr_uuid_fmt(list, l);
        sr_uuid_fmt(group, g);
        sr_uuid_v5(out, &sr_ns, "%s/group/%s", l, g);
}

void sr_def_target_id(const sr_uuid_t *list, const sr_uuid_t *device,
                      sr_uuid_t *out)
{
        char l[SR_UUID_STR_LEN + 1], v[SR_UUID_STR_LEN + 1];

        sr_uuid_fmt(list, l);
        sr_uuid_fmt(device, v);
        sr_uuid_v5(out, &sr_ns, "%s/device/%s/target", l, v);
}

/* ------------------------------------------------------------ counting */

/* DEVICES targets over the lists attached to @p stage. */
static uint64_t stage_devices(const sr_defs_t *d, const sr_uuid_t *stage)
{
        uint64_t n = 0;

        for (uint32_t i = 0; i < d->n_attachments; i++) {
                const sr_def_attachment_t *at = &d->attachments[i];
                const sr_def_target_list_t *l;

                if (!sr_uuid_eq(&at->stage_id, stage))
                        continue;
                l = sr_defs_list(d, &at->target_list_id);
                if (l && l->type == SR_TL_DEVICES)
                        n += l->n_targets;
        }
        return n;
}

/* Operations over the operation lists of @p stage. */
static uint64_t stage_ops(const sr_defs_t *d, const sr_uuid_t *stage)
{
        uint64_t n = 0;

        for (uint32_t i = 0; i < d->n_operations; i++) {
                const sr_def_oplist_t *ol =
                        sr_defs_oplist(d, &d->operations[i].operation_list_id);

                if (ol && sr_uuid_eq(&ol->stage_id, stage))
                        n++;
        }
        return n;
}

static bool any_filling(const sr_defs_t *d)
{
        for (uint32_t i = 0; i < d->n_active_runs; i++)
                if (d->active_runs[i].filling)
                        return true;
        return false;
}

/* The first attached list of @p type (with device groups linked, when
 * @p linked), and its stage into @p s; NULL when none. A start refuses a
 * COLLECTIONS list, and a GROUPS list linking groups until phase C
 * (section 6). */
static const sr_def_target_list_t *attached_list(const sr_defs_t *d,
                                                 sr_tl_type_t type,
                                                 bool linked,
                                                 const sr_def_stage_t **s)
{
        for (uint32_t i = 0; i < d->n_attachments; i++) {
                const sr_def_attachment_t *at = &d->attachments[i];
                const sr_def_target_list_t *l =
                        sr_defs_list(d, &at->target_list_id);

                if (l && l->type == type && (!linked || l->n_groups)) {
                        *s = sr_defs_stage(d, &at->stage_id);
                        return l;
                }
        }
        return NULL;
}

/* The refusals a run's start and its resolution share (section 5, step
 * 2): a deleted pipeline, a stage with a COLLECTIONS list, a fill in
 * progress. False when none applies. */
static bool start_refused(const sr_defs_t *d, sr_reject_t *reason, char *why,
                          size_t why_len)
{
        char pid[SR_UUID_STR_LEN + 1], lid[SR_UUID_STR_LEN + 1];
        const sr_def_target_list_t *l;
        const sr_def_stage_t *s = NULL;

        sr_uuid_fmt(&d->p.id, pid);
        if (!d->exists) {
                *reason = SR_REJECT_NOT_FOUND;
                sr_utf8_format(why, why_len, "pipeline %s not found", pid);
                return true;
        }
        if (d->p.deleted_at) {
                char at[SR_ISO8601_LEN + 1] = "";

                if (sr_clock_iso8601(d->p.deleted_at, at))
                        at[SR_ISO8601_LEN] = '\0';
                *reason = SR_REJECT_PIPELINE_DELETED;
                sr_utf8_format(why, why_len, "pipeline %s was deleted at %s",
                               pid, at);
                return true;
        }
        l = attached_list(d, SR_TL_GROUPS, true, &s);
        if (l) {
                sr_uuid_fmt(&l->id, lid);
                *reason = SR_REJECT_NOT_SUPPORTED;
                sr_utf8_format(why, why_len, "stage \"%s\" has the GROUPS "
                               "target list \"%s\" (%s) with device groups "
                               "linked: runs of device groups are not "
                               "served yet (docs/definitions.md section 6); "
                               "detach it to start a run",
                               s ? s->name : "?", l->name, lid);
                return true;
        }
        l = attached_list(d, SR_TL_COLLECTIONS, false, &s);
        if (l) {
                sr_uuid_fmt(&l->id, lid);
                *reason = SR_REJECT_NOT_SUPPORTED;
                sr_utf8_format(why, why_len, "stage \"%s\" has the "
                               "COLLECTIONS target list \"%s\" (%s) "
                               "attached: collections are not supported; "
                               "detach it to start a run",
                               s ? s->name : "?", l->name, lid);
                return true;
        }
        if (any_filling(d)) {
                *reason = SR_REJECT_RUN_STARTING;
                sr_utf8_format(why, why_len, "pipeline %s: a run is taking "
                               "its targets; retry in a second", pid);
                return true;
        }
        return false;
}

/* ------------------------------------------------------------ checking */

static bool is_ascii_space(unsigned char ch)
{
        return ch == ' ' || (ch >= '\t' && ch <= '\r');
}

static unsigned char fold(unsigned char ch)
{
        return ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch + 32) : ch;
}

/* Names are compared with ASCII case folding only (section 3): the
 * owner's answer must not depend on a locale. */
static bool name_eq_fold(const char *a, const char *b)
{
        const unsigned char *x = (const unsigned char *)a;
        const unsigned char *y = (const unsigned char *)b;

        for (;; x++, y++) {
                if (fold(*x) != fold(*y))
                        return false;
                if (!*x)
                        return true;
        }
}

/* @p in trimmed of ASCII white space into @p out; NULL when it is a valid
 * name (1..255 bytes of UTF-8, no control character), else what is
 * wrong. */
static const char *trim_name(const char *in, char out[SR_NAME_MAX])
{
        size_t len = strnlen(in, SR_NAME_MAX), b = 0;
        const unsigned char *s = (const unsigned char *)in;

        if (len == SR_NAME_MAX)
                return "longer than 255 bytes";
        while (b < len && is_ascii_space(s[b]))
                b++;
        while (len > b && is_ascii_space(s[len - 1]))
                len--;
        if (len == b)
                return "empty after trimming white space";
        for (size_t i = b; i < len;) {
                size_t n = sr_utf8_seq_len(s + i, len - i);

                if (n == 0)
                        return "not valid UTF-8";
                /* C0, DEL and C1 (U+0080..U+009F: 0xc2 0x80..0x9f) */
                if (s[i] < 0x20 || s[i] == 0x7f ||
                    (n == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0))
                        return "holds a control character";
                i += n;
        }
        memmove(out, in + b, len - b);
        memset(out + (len - b), 0, SR_NAME_MAX - (len - b));
        return NULL;
}

/* Esper's 39 operation types are examples, not a closed list: the
 * device command service is the one that knows its commands, so the
 * owner only checks the shape of the word (section 3 keeps the set open
 * for commands Esper adds later). */
static bool optype_ok(const char *s)
{
        size_t n = strnlen(s, SR_SHORT_MAX);

        if (n == 0 || n >= SR_SHORT_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'A' && s[i] <= 'Z') ||
                      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
                        return false;
        return true;
}

/* A description as given (any text the gateway let through), the rest of
 * the array zeroed so that stored records are the same bytes for the same
 * text. */
static void copy_str(char *dst, size_t size, const char *src)
{
        size_t n = strnlen(src, size - 1);

        memcpy(dst, src, n);
        memset(dst + n, 0, size - n);
}

static void copy_text(char dst[SR_NAME_MAX], const char *src)
{
        copy_str(dst, SR_NAME_MAX, src);
}

static bool str_eq_opt(const char *a, const char *b)
{
        if (!a || !b)
                return a == b;
        return !strcmp(a, b);
}

/* ------------------------------------------------------------ the step */

typedef struct ctx {
        sr_defs_t *d;
        const sr_defcmd_t *cmd;
        const sr_defs_targets_in_t *tin;
        int64_t now;
        sr_defs_opts_t opts; /* all zero when the caller gave none */
        sr_defs_out_t *out;
        char pid[SR_UUID_STR_LEN + 1]; /* the pipeline's id, as text */
} ctx_t;

static sr_err_t reject(ctx_t *c, sr_reject_t why, const char *fmt, ...)
        SR_PRINTF(3, 4);

static sr_err_t reject(ctx_t *c, sr_reject_t why, const char *fmt, ...)
{
        va_list ap;

        c->out->accepted = false;
        c->out->reason = why;
        va_start(ap, fmt);
        sr_utf8_vformat(c->out->message, sizeof(c->out->message), fmt, ap);
        va_end(ap);
        return SR_OK;
}

static sr_err_t accept(ctx_t *c, uint32_t version)
{
        c->out->accepted = true;
        c->out->reason = SR_REJECT_NONE;
        c->out->message[0] = '\0';
        c->out->entity_version = version;
        return SR_OK;
}

/* Room for @p nch more change records and @p ntg more targets in out. */
static bool reserve_out(ctx_t *c, uint32_t nch, uint32_t ntg)
{
        sr_defs_out_t *o = c->out;

        if (o->n_changes + nch > o->cap_changes) {
                uint32_t cap = o->n_changes + nch;
                void *p = realloc(o->changes, cap * sizeof(*o->changes));

                if (!p)
                        return false;
                o->changes = p;
                o->cap_changes = cap;
        }
        if (o->n_targets + ntg > o->cap_targets) {
                uint32_t cap = o->n_targets + ntg;
                void *p = realloc(o->targets, cap * sizeof(*o->targets));

                if (!p)
                        return false;
                o->targets = p;
                o->cap_targets = cap;
        }
        return true;
}

/* Room for one more element in an aggregate array of count @p n. */
static bool grow(void **arr, uint32_t n, size_t size)
{
        void *p = realloc(*arr, (n + 1) * size);

        if (!p)
                return false;
        *arr = p;
        return true;
}

#define GROW(d, arr, n) grow((void **)&(d)->arr, (d)->n, sizeof(*(d)->arr))

/* Remove element @p i of an aggregate array, keeping the others' order. */
static void remove_at(void *arr, uint32_t *n, uint32_t i, size_t size)
{
        unsigned char *p = arr;

        memmove(p + i * size, p + (i + 1) * size, (*n - i - 1) * size);
        (*n)--;
}

/* One change record (room reserved): the next seq of the pipeline. */
static void emit(ctx_t *c, sr_def_kind_t kind, const sr_uuid_t *id,
                 const sr_uuid_t *parent, sr_def_change_t change,
                 uint32_t version, int32_t target_index)
{
        sr_def_change_rec_t *r = &c->out->changes[c->out->n_changes++];

        memset(r, 0, sizeof(*r));
        r->kind = kind;
        r->id = *id;
        if (parent)
                r->parent_id = *parent;
        r->change = change;
        r->version = version;
        r->seq = ++c->d->p.last_seq;
        r->target_index = target_index;
}

static void touch(sr_def_audit_t *a, int64_t now)
{
        a->version++;
        a->updated_at = now;
}

static void audit_new(sr_def_audit_t *a, int64_t now)
{
        a->version = 1;
        a->created_at = a->updated_at = now;
}

/* Section 4: refused when a version is expected and it is not @p cur. */
static bool is_stale(ctx_t *c, const char *what, const sr_uuid_t *id,
                     uint32_t cur)
{
        char eid[SR_UUID_STR_LEN + 1];

        if (!c->cmd->has_expected_version || c->cmd->expected_version == cur)
                return false;
        sr_uuid_fmt(id, eid);
        c->out->entity_version = cur;
        reject(c, SR_REJECT_STALE_VERSION, "%s %s: version %" PRIu32 " is "
               "not the current version %" PRIu32 "; read it again and "
               "retry", what, eid, c->cmd->expected_version, cur);
        return true;
}

/* A write that creates has no version to compare: a client sending one
 * means a PUT of something it never read. */
static bool expects_on_create(ctx_t *c, const char *what)
{
        if (!c->cmd->has_expected_version)
                return false;
        reject(c, SR_REJECT_INVALID_VALUE, "version: a %s being created "
               "has no version to expect; send none", what);
        return true;
}

static bool check_name(ctx_t *c, const char *what, const char *in,
                       char out[SR_NAME_MAX])
{
        const char *bad = trim_name(in, out);

        if (!bad)
                return true;
        reject(c, SR_REJECT_INVALID_VALUE, "%s name: %s; give 1..255 bytes "
               "of UTF-8 without control characters", what, bad);
        return false;
}

static bool check_timeout(ctx_t *c, const char *what, int64_t t)
{
        if (t >= 1)
                return true;
        reject(c, SR_REJECT_INVALID_VALUE, "%s timeout_seconds: %" PRId64
               " is not a number of seconds >= 1", what, t);
        return false;
}

/* "r1, r2, r3, r4, r5, and 2 more": up to 5 run ids of @p ids[0..n). */
static void list_runs(char *buf, size_t len, const sr_uuid_t *const *ids,
                      uint32_t n)
{
        size_t at = 0;

        buf[0] = '\0';
        for (uint32_t i = 0; i < n && i < 5 && at + 40 < len; i++) {
                if (i) {
                        buf[at++] = ',';
                        buf[at++] = ' ';
                }
                sr_uuid_fmt(ids[i], buf + at);
                at += SR_UUID_STR_LEN;
        }
        if (n > 5)
                snprintf(buf + at, len - at, " and %" PRIu32 " more", n - 5);
}

/* Refused in_use when an active run uses @p stage (NULL: any run). */
static bool runs_use(ctx_t *c, const sr_uuid_t *stage, const char *what)
{
        const sr_defs_t *d = c->d;
        const sr_uuid_t *ids[5];
        char runs[5 * (SR_UUID_STR_LEN + 2) + 32];
        uint32_t n = 0;

        for (uint32_t i = 0; i < d->n_active_runs; i++) {
                const sr_def_active_run_t *r = &d->active_runs[i];
                bool uses = !stage;

                for (uint32_t j = 0; !uses && j < r->n_stage_ids; j++)
                        uses = sr_uuid_eq(&r->stage_ids[j], stage);
                if (!uses)
                        continue;
                if (n < 5)
                        ids[n] = &r->run_id;
                n++;
        }
        if (!n)
                return false;
        list_runs(runs, sizeof(runs), ids, n);
        /* Short: five ids fill most of the 255 bytes of a message, and
         * they are what the client acts on (the entity is the reply's). */
        reject(c, SR_REJECT_IN_USE, "%s in use by %" PRIu32 " run%s: %s; "
               "cancel them first", what, n, n == 1 ? "" : "s", runs);
        return true;
}

static bool filling_refused(ctx_t *c)
{
        if (!any_filling(c->d))
                return false;
        reject(c, SR_REJECT_RUN_STARTING, "pipeline %s: a run is taking "
               "its targets; retry in a second", c->pid);
        return true;
}

/* ------------------------------------------------------------ pipeline */

/* A create of an existing pipeline is a retry when every given field is
 * the stored one. */
static bool pipeline_same(const sr_defs_t *d, const sr_defcmd_t *cmd)
{
        char name[SR_NAME_MAX];

        if (cmd->u.pipeline.has_name &&
            (trim_name(cmd->u.pipeline.name, name) ||
             strcmp(name, d->p.name)))
                return false;
        if (cmd->u.pipeline.has_description &&
            strcmp(cmd->u.pipeline.description, d->p.description))
                return false;
        if (cmd->u.pipeline.has_is_active &&
            cmd->u.pipeline.is_active != d->p.is_active)
                return false;
        if (cmd->u.pipeline.has_is_default &&
            cmd->u.pipeline.is_default != d->p.is_default)
                return false;
        return !cmd->u.pipeline.has_timeout_seconds ||
               cmd->u.pipeline.timeout_seconds == d->p.timeout_seconds;
}

static sr_err_t create_pipeline(ctx_t *c)
{
        const sr_defcmd_t *cmd = c->cmd;
        sr_def_pipeline_t p;

        if (c->d->exists) {
                if (!pipeline_same(c->d, cmd))
                        return reject(c, SR_REJECT_INVALID_VALUE, "pipeline "
                                      "%s already exists with other fields; "
                                      "update it or use a new id", c->pid);
                return accept(c, c->d->p.a.version);
        }
        memset(&p, 0, sizeof(p));
        if (!cmd->u.pipeline.has_name)
                return reject(c, SR_REJECT_INVALID_VALUE, "pipeline name: "
                              "required");
        if (!check_name(c, "pipeline", cmd->u.pipeline.name, p.name))
                return SR_OK;
        if (cmd->u.pipeline.has_timeout_seconds &&
            !check_timeout(c, "pipeline", cmd->u.pipeline.timeout_seconds))
                return SR_OK;
        if (!reserve_out(c, 1, 0))
                return SR_ERR_NOMEM;
        p.id = cmd->pipeline_id;
        copy_str(p.enterprise_id, SR_SHORT_MAX, cmd->enterprise_id);
        if (cmd->u.pipeline.has_description)
                copy_text(p.description, cmd->u.pipeline.description);
        p.is_active = cmd->u.pipeline.has_is_active ?
                              cmd->u.pipeline.is_active : true;
        p.is_default = cmd->u.pipeline.has_is_default &&
                       cmd->u.pipeline.is_default;
        p.timeout_seconds = cmd->u.pipeline.has_timeout_seconds ?
                                    cmd->u.pipeline.timeout_seconds : 86400;
        audit_new(&p.a, c->now);
        c->d->exists = true;
        c->d->p = p;
        emit(c, SR_DEF_PIPELINE, &p.id, NULL, SR_DEF_CREATED, 1, -1);
        return accept(c, 1);
}

static sr_err_t put_pipeline(ctx_t *c)
{
        const sr_defcmd_t *cmd = c->cmd;
        sr_def_pipeline_t p = c->d->p;

        if (cmd->create) {
                if (expects_on_create(c, "pipeline"))
                        return SR_OK;
                return create_pipeline(c);
        }
        if (is_stale(c, "pipeline", &p.id, p.a.version))
                return SR_OK;
        if (cmd->u.pipeline.has_name &&
            !check_name(c, "pipeline", cmd->u.pipeline.name, p.name))
                return SR_OK;
        if (cmd->u.pipeline.has_timeout_seconds) {
                if (!check_timeout(c, "pipeline",
                                   cmd->u.pipeline.timeout_seconds))
                        return SR_OK;
                p.timeout_seconds = cmd->u.pipeline.timeout_seconds;
        }
        if (cmd->u.pipeline.has_description)
                copy_text(p.description, cmd->u.pipeline.description);
        if (cmd->u.pipeline.has_is_active)
                p.is_active = cmd->u.pipeline.is_active;
        if (cmd->u.pipeline.has_is_default)
                p.is_default = cmd->u.pipeline.is_default;
        /* A write that changes nothing is no change: same version, no
         * event (as a retried create). */
        if (!strcmp(p.name, c->d->p.name) &&
            !strcmp(p.description, c->d->p.description) &&
            p.is_active == c->d->p.is_active &&
            p.is_default == c->d->p.is_default &&
            p.timeout_seconds == c->d->p.timeout_seconds)
                return accept(c, p.a.version);
        if (!reserve_out(c, 1, 0))
                return SR_ERR_NOMEM;
        touch(&p.a, c->now);
        c->d->p = p;
        emit(c, SR_DEF_PIPELINE, &p.id, NULL, SR_DEF_UPDATED, p.a.version,
             -1);
        return accept(c, p.a.version);
}

/* Soft delete (section 7): the record stays with deleted_at, the
 * children stay, as they are; a purge removes them later. */
static sr_err_t delete_pipeline(ctx_t *c)
{
        sr_def_pipeline_t *p = &c->d->p;

        if (is_stale(c, "pipeline", &p->id, p->a.version))
                return SR_OK;
        if (runs_use(c, NULL, "pipeline"))
                return SR_OK;
        if (!reserve_out(c, 1, 0))
                return SR_ERR_NOMEM;
        p->deleted_at = c->now;
        touch(&p->a, c->now);
        emit(c, SR_DEF_PIPELINE, &p->id, NULL, SR_DEF_DELETED, p->a.version,
             -1);
        return accept(c, p->a.version);
}

/* ------------------------------------------------------------ stages */

/* Refused name_taken when another stage (not @p self) has @p name. */
static bool stage_name_taken(ctx_t *c, const char *name,
                             const sr_uuid_t *self)
{
        char hid[SR_UUID_STR_LEN + 1];

        for (uint32_t i = 0; i < c->d->n_stages; i++) {
                const sr_def_stage_t *s = &c->d->stages[i];

                if (sr_uuid_eq(&s->id, self) || !name_eq_fold(s->name, name))
                        continue;
                sr_uuid_fmt(&s->id, hid);
                reject(c, SR_REJECT_NAME_TAKEN, "stage \"%s\": the name is "
                       "taken by stage %s; choose another name", name, hid);
                return true;
        }
        return false;
}

/* Refused order_taken when another stage (not @p self) has @p order. */
static bool stage_order_taken(ctx_t *c, const char *name, uint32_t order,
                              const sr_uuid_t *self)
{
        char hid[SR_UUID_STR_LEN + 1];

        for (uint32_t i = 0; i < c->d->n_stages; i++) {
                const sr_def_stage_t *s = &c->d->stages[i];

                if (sr_uuid_eq(&s->id, self) || s->order != order)
                        continue;
                sr_uuid_fmt(&s->id, hid);
                reject(c, SR_REJECT_ORDER_TAKEN, "stage \"%s\": order %"
                       PRIu32 " is taken by stage \"%s\" (%s); choose "
                       "another order", name, order, s->name, hid);
                return true;
        }
        return false;
}

/* Esper's order field is an int: 1..INT32_MAX. */
static bool check_order(ctx_t *c, uint32_t order)
{
        if (order >= 1 && order <= INT32_MAX)
                return true;
        reject(c, SR_REJECT_INVALID_VALUE, "stage order: %" PRIu32 " is not "
               "an integer in 1..2147483647", order);
        return false;
}

static bool stage_same(const sr_def_stage_t *s, const sr_defcmd_t *cmd)
{
        char name[SR_NAME_MAX];

        if (cmd->u.stage.has_name &&
            (trim_name(cmd->u.stage.name, name) || strcmp(name, s->name)))
                return false;
        if (cmd->u.stage.has_description &&
            strcmp(cmd->u.stage.description, s->description))
                return false;
        if (cmd->u.stage.has_timeout_seconds &&
            cmd->u.stage.timeout_seconds != s->timeout_seconds)
                return false;
        return !cmd->u.stage.has_order || cmd->u.stage.order == s->order;
}

static sr_err_t create_stage(ctx_t *c)
{
        const sr_defcmd_t *cmd = c->cmd;
        sr_defs_t *d = c->d;
        sr_def_stage_t s;
        uint32_t max = 0;

        memset(&s, 0, sizeof(s));
        s.id = cmd->u.stage.stage_id;
        if (!cmd->u.stage.has_name)
                return reject(c, SR_REJECT_INVALID_VALUE, "stage name: "
                              "required");
        if (!check_name(c, "stage", cmd->u.stage.name, s.name))
                return SR_OK;
        if (cmd->u.stage.has_timeout_seconds) {
                if (!check_timeout(c, "stage", cmd->u.stage.timeout_seconds))
                        return SR_OK;
                s.timeout_seconds = cmd->u.stage.timeout_seconds;
        }
        for (uint32_t i = 0; i < d->n_stages; i++)
                if (d->stages[i].order > max)
                        max = d->stages[i].order;
        if (cmd->u.stage.has_order) {
                if (!check_order(c, cmd->u.stage.order) ||
                    stage_order_taken(c, s.name, cmd->u.stage.order, &s.id))
                        return SR_OK;
                s.order = cmd->u.stage.order;
        } else {
                if (max >= INT32_MAX)
                        return reject(c, SR_REJECT_INVALID_VALUE, "stage "
                                      "order: no order after %" PRIu32
                                      " is free; give one", max);
                s.order = max + 1;
        }
        if (stage_name_taken(c, s.name, &s.id))
                return SR_OK;
        if (c->opts.max.stages && d->n_stages >= c->opts.max.stages)
                return reject(c, SR_REJECT_INVALID_VALUE, "stages: the "
                              "pipeline has %" PRIu32 " stages, at most %"
                              PRIu32 " per pipeline (run.max.stages)",
                              d->n_stages, c->opts.max.stages);
        if (cmd->u.stage.has_description)
                copy_text(s.description, cmd->u.stage.description);
        if (!reserve_out(c, 1, 0) || !GROW(d, stages, n_stages))
                return SR_ERR_NOMEM;
        s.ordinal = d->p.next_ordinal++;
        audit_new(&s.a, c->now);
        d->stages[d->n_stages++] = s;
        emit(c, SR_DEF_STAGE, &s.id, &d->p.id, SR_DEF_CREATED, 1, -1);
        return accept(c, 1);
}

static sr_err_t put_stage(ctx_t *c)
{
        const sr_defcmd_t *cmd = c->cmd;
        int64_t i = FIND(c->d, stages, n_stages, &cmd->u.stage.stage_id);
        sr_def_stage_t s, *cur;
        char sid[SR_UUID_STR_LEN + 1];

        sr_uuid_fmt(&cmd->u.stage.stage_id, sid);
        if (cmd->create && expects_on_create(c, "stage"))
                return SR_OK;
        if (cmd->create && i >= 0) {
                if (!stage_same(&c->d->stages[i], cmd))
                        return reject(c, SR_REJECT_INVALID_VALUE, "stage %s "
                                      "already exists with other fields; "
                                      "update it or use a new id", sid);
                return accept(c, c->d->stages[i].a.version);
        }
        if (cmd->create)
                return create_stage(c);
        if (i < 0)
                return reject(c, SR_REJECT_NOT_FOUND, "stage %s not found in "
                              "pipeline %s", sid, c->pid);
        cur = &c->d->stages[i];
        s = *cur;
        if (is_stale(c, "stage", &s.id, s.a.version))
                return SR_OK;
        if (cmd->u.stage.has_name &&
            (!check_name(c, "stage", cmd->u.stage.name, s.name) ||
             stage_name_taken(c, s.name, &s.id)))
                return SR_OK;
        if (cmd->u.stage.has_timeout_seconds) {
                if (!check_timeout(c, "stage", cmd->u.stage.timeout_seconds))
                        return SR_OK;
                s.timeout_seconds = cmd->u.stage.timeout_seconds;
        }
        if (cmd->u.stage.has_order) {
                if (!check_order(c, cmd->u.stage.order) ||
                    stage_order_taken(c, s.name, cmd->u.stage.order, &s.id))
                        return SR_OK;
                s.order = cmd->u.stage.order;
        }
        if (cmd->u.stage.has_description)
                copy_text(s.description, cmd->u.stage.description);
        if (!strcmp(s.name, cur->name) &&
            !strcmp(s.description, cur->description) &&
            s.timeout_seconds == cur->timeout_seconds && s.order == cur->order)
                return accept(c, s.a.version);
        if (!reserve_out(c, 1, 0))
                return SR_ERR_NOMEM;
        touch(&s.a, c->now);
        *cur = s;
        emit(c, SR_DEF_STAGE, &s.id, &c->d->p.id, SR_DEF_UPDATED, s.a.version,
             -1);
        return accept(c, s.a.version);
}

/* Remove operation @p i (its args freed) with its change record. */
static void drop_operation(ctx_t *c, uint32_t i)
{
        sr_defs_t *d = c->d;
        sr_def_operation_t *op = &d->operations[i];

        emit(c, SR_DEF_OPERATION, &op->id, &op->operation_list_id,
             SR_DEF_DELETED, op->a.version + 1, -1);
        free(op->args_json);
        remove_at(d->operations, &d->n_operations, i, sizeof(*op));
}

/* Remove operation list @p i: its operations first (creation order),
 * then the list. */
static void drop_oplist(ctx_t *c, uint32_t i)
{
        sr_defs_t *d = c->d;
        sr_def_oplist_t ol = d->oplists[i];

        for (uint32_t j = 0; j < d->n_operations;) {
                if (sr_uuid_eq(&d->operations[j].operation_list_id, &ol.id))
                        drop_operation(c, j);
                else
                        j++;
        }
        emit(c, SR_DEF_OPERATION_LIST, &ol.id, &ol.stage_id, SR_DEF_DELETED,
             ol.a.version + 1, -1);
        remove_at(d->oplists, &d->n_oplists, i, sizeof(ol));
}

static void drop_attachment(ctx_t *c, uint32_t i)
{
        sr_defs_t *d = c->d;
        sr_def_attachment_t *at = &d->attachments[i];

        emit(c, SR_DEF_ATTACHMENT, &at->id, &at->stage_id, SR_DEF_DELETED,
             at->a.version + 1, -1);
        remove_at(d->attachments, &d->n_attachments, i, sizeof(*at));
}

/* Change records a stage's delete makes: its attachments, operation
 * lists and their operations, itself. */
static uint32_t stage_cascade(const sr_defs_t *d, const sr_uuid_t *stage)
{
        uint32_t n = 1;

        for (uint32_t i = 0; i < d->n_attachments; i++)
                n += sr_uuid_eq(&d->attachments[i].stage_id, stage);
        for (uint32_t i = 0; i < d->n_oplists; i++)
                n += sr_uuid_eq(&d->oplists[i].stage_id, stage);
        return n + (uint32_t)stage_ops(d, stage);
}

/* The cascade, children before their parent so that no reader of the
 * changelog meets a child whose parent is gone: the stage's attachments
 * (creation order), then each operation list (creation order) after its
 * operations, then the stage. Its order value is free again. */
static sr_err_t delete_stage(ctx_t *c)
{
        sr_defs_t *d = c->d;
        int64_t i = FIND(d, stages, n_stages, &c->cmd->u.stage.stage_id);
        char sid[SR_UUID_STR_LEN + 1];
        sr_def_stage_t s;

        sr_uuid_fmt(&c->cmd->u.stage.stage_id, sid);
        if (i < 0)
                return reject(c, SR_REJECT_NOT_FOUND, "stage %s not found in "
                              "pipeline %s", sid, c->pid);
        s = d->stages[i];
        if (is_stale(c, "stage", &s.id, s.a.version))
                return SR_OK;
        if (runs_use(c, &s.id, "stage"))
                return SR_OK;
        if (!reserve_out(c, stage_cascade(d, &s.id), 0))
                return SR_ERR_NOMEM;
        for (uint32_t j = 0; j < d->n_attachments;) {
                if (sr_uuid_eq(&d->attachments[j].stage_id, &s.id))
                        drop_attachment(c, j);
                else
                        j++;
        }
        for (uint32_t j = 0; j < d->n_oplists;) {
                if (sr_uuid_eq(&d->oplists[j].stage_id, &s.id))
                        drop_oplist(c, j);
                else
                        j++;
        }
        emit(c, SR_DEF_STAGE, &s.id, &d->p.id, SR_DEF_DELETED,
             s.a.version + 1, -1);
        remove_at(d->stages, &d->n_stages, (uint32_t)i, sizeof(s));
        return accept(c, s.a.version + 1);
}

/* ------------------------------------------------------- target lists */

static bool list_name_taken(ctx_t *c, const char *name, const sr_uuid_t *self)
{
        char hid[SR_UUID_STR_LEN + 1];

        for (uint32_t i = 0; i < c->d->n_lists; i++) {
                const sr_def_target_list_t *l = &c->d->lists[i];

                if (sr_uuid_eq(&l->id, self) || !name_eq_fold(l->name, name))
                        continue;
                sr_uuid_fmt(&l->id, hid);
                reject(c, SR_REJECT_NAME_TAKEN, "target list \"%s\": the "
                       "name is taken by target list %s; choose another "
                       "name", name, hid);
                return true;
        }
        return false;
}

static bool check_tl_type(ctx_t *c, sr_tl_type_t t)
{
        if ((unsigned)t < SR_TL__COUNT)
                return true;
        reject(c, SR_REJECT_INVALID_VALUE, "target_list_type: %d is not one "
               "of DEVICES, GROUPS, COLLECTIONS", (int)t);
        return false;
}

static sr_err_t create_list(ctx_t *c, int64_t i, const char *lid)
{
        const sr_defcmd_t *cmd = c->cmd;
        sr_defs_t *d = c->d;
        sr_def_target_list_t l;
        char name[SR_NAME_MAX];

        if (i >= 0) {
                const sr_def_target_list_t *cur = &d->lists[i];

                if ((cmd->u.list.has_name &&
                     (trim_name(cmd->u.list.name, name) ||
                      strcmp(name, cur->name))) ||
                    (cmd->u.list.has_type && cmd->u.list.type != cur->type))
                        return reject(c, SR_REJECT_INVALID_VALUE, "target "
                                      "list %s already exists with other "
                                      "fields; update it or use a new id",
                                      lid);
                return accept(c, cur->a.version);
        }
        memset(&l, 0, sizeof(l));
        l.id = cmd->u.list.target_list_id;
        if (!cmd->u.list.has_name)
                return reject(c, SR_REJECT_INVALID_VALUE, "target list "
                              "name: required");
        if (!cmd->u.list.has_type)
                return reject(c, SR_REJECT_INVALID_VALUE, "target_list_type:"
                              " required (DEVICES, GROUPS or COLLECTIONS)");
        if (!check_name(c, "target list", cmd->u.list.name, l.name) ||
            !check_tl_type(c, cmd->u.list.type) ||
            list_name_taken(c, l.name, &l.id))
                return SR_OK;
        l.type = cmd->u.list.type;
        if (!reserve_out(c, 1, 0) || !GROW(d, lists, n_lists))
                return SR_ERR_NOMEM;
        l.ordinal = d->p.next_ordinal++;
        audit_new(&l.a, c->now);
        d->lists[d->n_lists++] = l;
        emit(c, SR_DEF_TARGET_LIST, &l.id, &d->p.id, SR_DEF_CREATED, 1, -1);
        return accept(c, 1);
}

static sr_err_t put_list(ctx_t *c)
{
        const sr_defcmd_t *cmd = c->cmd;
        int64_t i = FIND(c->d, lists, n_lists, &cmd->u.list.target_list_id);
        char lid[SR_UUID_STR_LEN + 1];
        sr_def_target_list_t l, *cur;

        sr_uuid_fmt(&cmd->u.list.target_list_id, lid);
        if (cmd->create)
                return expects_on_create(c, "target list") ?
                               SR_OK : create_list(c, i, lid);
        if (i < 0)
                return reject(c, SR_REJECT_NOT_FOUND, "target list %s not "
                              "found in pipeline %s", lid, c->pid);
        cur = &c->d->lists[i];
        l = *cur;
        if (is_stale(c, "target list", &l.id, l.a.version))
                return SR_OK;
        if (cmd->u.list.has_name &&
            (!check_name(c, "target list", cmd->u.list.name, l.name) ||
             list_name_taken(c, l.name, &l.id)))
                return SR_OK;
        if (cmd->u.list.has_type && cmd->u.list.type != l.type) {
                if (!check_tl_type(c, cmd->u.list.type))
                        return SR_OK;
                /* What a list holds is of its type: a type changes only
                 * while it holds nothing. */
                if (l.n_targets || l.n_groups)
                        return reject(c, SR_REJECT_INVALID_VALUE,
                                      "target_list_type: target list \"%s\""
                                      " holds %" PRIu32 " targets and %"
                                      PRIu32 " device groups; its type "
                                      "changes only while it is empty",
                                      l.name, l.n_targets, l.n_groups);
                l.type = cmd->u.list.type;
        }
        if (!strcmp(l.name, cur->name) && l.type == cur->type)
                return accept(c, l.a.version);
        if (!reserve_out(c, 1, 0))
                return SR_ERR_NOMEM;
        touch(&l.a, c->now);
        *cur = l;
        emit(c, SR_DEF_TARGET_LIST, &l.id, &c->d->p.id, SR_DEF_UPDATED,
             l.a.version, -1);
        return accept(c, l.a.version);
}

/* Deleting a list deletes its attachments and device-group links, which
 * are in the aggregate. Its targets are not (section 1: no input loads a
 * list's targets, and every record and command is bounded, section 2), so
 * the owner could neither tombstone them in one input nor leave them: a
 * list re-created with the same id (ids are the client's) would inherit
 * them with n_targets 0. A DEVICES list that holds targets is therefore
 * refused in_use until its targets are removed. */
static sr_err_t delete_list(ctx_t *c)
{
        sr_defs_t *d = c->d;
        int64_t i = FIND(d, lists, n_lists, &c->cmd->u.list.target_list_id);
        char lid[SR_UUID_STR_LEN + 1];
        sr_def_target_list_t l;
        uint32_t n = 1;

        sr_uuid_fmt(&c->cmd->u.list.target_list_id, lid);
        if (i < 0)
                return reject(c, SR_REJECT_NOT_FOUND, "target list %s not "
                              "found in pipeline %s", lid, c->pid);
        l = d->lists[i];
        if (is_stale(c, "target list", &l.id, l.a.version))
                return SR_OK;
        if (l.n_targets)
                return reject(c, SR_REJECT_IN_USE, "target list \"%s\" (%s) "
                              "holds %" PRIu32 " targets: remove its targets "
                              "first", l.name, lid, l.n_targets);
        for (uint32_t j = 0; j < d->n_attachments; j++)
                n += sr_uuid_eq(&d->attachments[j].target_list_id, &l.id);
        for (uint32_t j = 0; j < d->n_group_links; j++)
                n += sr_uuid_eq(&d->group_links[j].target_list_id, &l.id);
        if (!reserve_out(c, n, 0))
                return SR_ERR_NOMEM;
        for (uint32_t j = 0; j < d->n_attachments;) {
                if (sr_uuid_eq(&d->attachments[j].target_list_id, &l.id))
                        drop_attachment(c, j);
                else
                        j++;
        }
        for (uint32_t j = 0; j < d->n_group_links;) {
                sr_def_group_link_t *g = &d->group_links[j];

                if (!sr_uuid_eq(&g->target_list_id, &l.id)) {
                        j++;
                        continue;
                }
                emit(c, SR_DEF_GROUP_LINK, &g->id, &l.id, SR_DEF_DELETED,
                     g->a.version + 1, -1);
                remove_at(d->group_links, &d->n_group_links, j, sizeof(*g));
        }
        emit(c, SR_DEF_TARGET_LIST, &l.id, &d->p.id, SR_DEF_DELETED,
             l.a.version + 1, -1);
        remove_at(d->lists, &d->n_lists, (uint32_t)i, sizeof(l));
        return accept(c, l.a.version + 1);
}

/* -------------------------------------------------------- attachments */

/* Refused when @p extra more DEVICES targets would put a stage over
 * stage.max.targets; @p extra 0 checks nothing. */
static bool stage_targets_over(ctx_t *c, const sr_def_stage_t *s,
                               uint64_t extra)
{
        uint64_t n;
        char sid[SR_UUID_STR_LEN + 1];

        if (!c->opts.max.targets || !extra)
                return false;
        n = stage_devices(c->d, &s->id) + extra;
        if (n <= c->opts.max.targets)
                return false;
        sr_uuid_fmt(&s->id, sid);
        reject(c, SR_REJECT_INVALID_VALUE, "targets: stage \"%s\" (%s) would "
               "have %" PRIu64 " targets, at most %" PRIu32 " per stage "
               "(stage.max.targets)", s->name, sid, n, c->opts.max.targets);
        return true;
}

/* The stage and list of an attach or detach, refused not_found when
 * either is not in this pipeline. */
static bool attach_pair(ctx_t *c, const sr_def_stage_t **s,
                        const sr_def_target_list_t **l)
{
        char id[SR_UUID_STR_LEN + 1];

        *s = sr_defs_stage(c->d, &c->cmd->u.attach.stage_id);
        *l = sr_defs_list(c->d, &c->cmd->u.attach.target_list_id);
        if (!*s) {
                sr_uuid_fmt(&c->cmd->u.attach.stage_id, id);
                reject(c, SR_REJECT_NOT_FOUND, "stage %s not found in "
                       "pipeline %s", id, c->pid);
                return false;
        }
        if (!*l) {
                sr_uuid_fmt(&c->cmd->u.attach.target_list_id, id);
                reject(c, SR_REJECT_NOT_FOUND, "target list %s not found in "
                       "pipeline %s", id, c->pid);
                return false;
        }
        return true;
}

static sr_err_t attach_list(ctx_t *c)
{
        sr_defs_t *d = c->d;
        const sr_def_stage_t *s;
        const sr_def_target_list_t *l;
        sr_def_attachment_t at;
        int64_t i;

        if (expects_on_create(c, "attachment") || !attach_pair(c, &s, &l))
                return SR_OK;
        memset(&at, 0, sizeof(at));
        sr_def_attachment_id(&s->id, &l->id, &at.id);
        i = FIND(d, attachments, n_attachments, &at.id);
        if (i >= 0)
                return accept(c, d->attachments[i].a.version);
        if (l->type == SR_TL_DEVICES && stage_targets_over(c, s, l->n_targets))
                return SR_OK;
        /* a fill reads the stages' attachments at every step */
        if (filling_refused(c))
                return SR_OK;
        at.stage_id = s->id;
        at.target_list_id = l->id;
        if (!reserve_out(c, 1, 0) || !GROW(d, attachments, n_attachments))
                return SR_ERR_NOMEM;
        at.ordinal = d->p.next_ordinal++;
        audit_new(&at.a, c->now);
        d->attachments[d->n_attachments++] = at;
        emit(c, SR_DEF_ATTACHMENT, &at.id, &at.stage_id, SR_DEF_CREATED, 1,
             -1);
        return accept(c, 1);
}

static sr_err_t detach_list(ctx_t *c)
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
                return reject(c, SR_REJECT_NOT_FOUND, "target list \"%s\" is "
                              "not attached to stage \"%s\"", l->name,
                              s->name);
        version = d->attachments[i].a.version;
        if (is_stale(c, "attachment", &id, version) || filling_refused(c))
                return SR_OK;
        if (!reserve_out(c, 1, 0))
                return SR_ERR_NOMEM;
        drop_attachment(c, (uint32_t)i);
        return accept(c, version + 1);
}

/* ------------------------------------------------------------ targets */

/* The list a target command names, refused not_found when it is not in
 * this pipeline and wrong_type when it is not of @p type. */
static sr_def_target_list_t *target_list_of(ctx_t *c, const sr_uuid_t *id,
                                            sr_tl_type_t type)
{
        int64_t i = FIND(c->d, lists, n_lists, id);
        char lid[SR_UUID_STR_LEN + 1];
        sr_def_target_list_t *l;

        sr_uuid_fmt(id, lid);
        if (i < 0) {
                reject(c, SR_REJECT_NOT_FOUND, "target list %s not found in "
                       "pipeline %s", lid, c->pid);
                return NULL;
        }
        l = &c->d->lists[i];
        if (l->type != type) {
                reject(c, SR_REJECT_WRONG_TYPE, "target list \"%s\" (%s) is "
                       "a %s list: %s go only in %s lists", l->name, lid,
                       sr_tl_type_name(l->type),
                       type == SR_TL_DEVICES ? "targets" : "device groups",
                       sr_tl_type_name(type));
                return NULL;
        }
        return l;
}

static bool dup_opt(char **dst, const char *src)
{
        *dst = NULL;
        return !src || (*dst = strdup(src));
}

/* Deep copy of a target (dst's strings owned). */
static bool target_copy(sr_def_target_t *dst, const sr_def_target_t *src)
{
        *dst = *src;
        if (!dup_opt(&dst->device_meta_json, src->device_meta_json))
                return false;
        if (!dup_opt(&dst->args_json, src->args_json)) {
                sr_def_target_fini(dst);
                return false;
        }
        return true;
}

/* The list changed with its count: a field of its record (section 2),
 * so a new version and a change record, after its children's. */
static void list_counted(ctx_t *c, sr_def_target_list_t *l)
{
        touch(&l->a, c->now);
        emit(c, SR_DEF_TARGET_LIST, &l->id, &c->d->p.id, SR_DEF_UPDATED,
             l->a.version, -1);
}

/* A device twice in one command, or a nil device: refused naming the
 * item. */
static bool items_bad(ctx_t *c)
{
        const sr_defcmd_target_t *it = c->cmd->u.add.items;
        uint32_t n = c->cmd->u.add.n_items;
        char dev[SR_UUID_STR_LEN + 1];

        for (uint32_t i = 0; i < n; i++) {
                if (sr_uuid_is_nil(&it[i].device_id)) {
                        reject(c, SR_REJECT_INVALID_VALUE, "items[%" PRIu32
                               "].device_id: required", i);
                        return true;
                }
                for (uint32_t j = 0; j < i; j++) {
                        if (!sr_uuid_eq(&it[i].device_id, &it[j].device_id))
                                continue;
                        sr_uuid_fmt(&it[i].device_id, dev);
                        reject(c, SR_REJECT_INVALID_VALUE, "items[%" PRIu32
                               "].device_id: device %s is also items[%"
                               PRIu32 "]; give each device once", i, dev, j);
                        return true;
                }
        }
        return false;
}

/* The new targets of an AddTargets, in item order, into out->targets
 * (room reserved); false on allocation failure, nothing added then. */
static bool build_targets(ctx_t *c, const sr_def_target_list_t *l)
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
                copy_text(t->device_name, it->device_name);
                copy_text(t->device_alias, it->device_alias);
                t->is_active = it->is_active;
                audit_new(&t->a, c->now);
                if (!dup_opt(&t->device_meta_json, it->device_meta_json) ||
                    !dup_opt(&t->args_json, it->args_json)) {
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

static sr_err_t add_targets(ctx_t *c)
{
        const sr_defcmd_t *cmd = c->cmd;
        sr_defs_t *d = c->d;
        sr_def_target_list_t *l;
        uint32_t n = cmd->u.add.n_items, fresh = 0, first;

        if (expects_on_create(c, "target"))
                return SR_OK;
        l = target_list_of(c, &cmd->u.add.target_list_id, SR_TL_DEVICES);
        if (!l)
                return SR_OK;
        if (n == 0)
                return reject(c, SR_REJECT_INVALID_VALUE, "items: at least "
                              "one target");
        if (!c->tin || c->tin->n != n || !c->tin->found)
                return SR_ERR_INVALID; /* the caller read other items */
        if (c->opts.chunk_targets && n > c->opts.chunk_targets)
                return reject(c, SR_REJECT_INVALID_VALUE, "items: %" PRIu32
                              " targets in one command, at most %" PRIu32
                              " (definition.chunk.targets)", n,
                              c->opts.chunk_targets);
        if (filling_refused(c) || items_bad(c))
                return SR_OK;
        for (uint32_t i = 0; i < n; i++)
                fresh += !c->tin->found[i];
        if (fresh > UINT32_MAX - l->n_targets)
                return reject(c, SR_REJECT_INVALID_VALUE, "items: target "
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
                return accept(c, l->a.version);
        first = c->out->n_targets;
        if (!reserve_out(c, fresh + 1, fresh) || !build_targets(c, l)) {
                c->out->created = c->out->added = c->out->skipped = 0;
                return SR_ERR_NOMEM;
        }
        for (uint32_t k = first; k < c->out->n_targets; k++)
                emit(c, SR_DEF_TARGET, &c->out->targets[k].id, &l->id,
                     SR_DEF_CREATED, 1, (int32_t)k);
        l->n_targets += fresh;
        list_counted(c, l);
        return accept(c, l->a.version);
}

/* The stored target an Update/RemoveTarget names, as the caller read it;
 * refused not_found when there is none, stale_version, run_starting. */
static const sr_def_target_t *target_named(ctx_t *c,
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
                reject(c, SR_REJECT_NOT_FOUND, "target %s not found in "
                       "target list %s", tid, lid);
                return NULL;
        }
        if (is_stale(c, "target", &t->id, t->a.version) ||
            filling_refused(c))
                return NULL;
        return t;
}

static sr_err_t update_target(ctx_t *c)
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
                return accept(c, t->a.version);
        if (!reserve_out(c, 1, 1))
                return SR_ERR_NOMEM;
        k = c->out->n_targets;
        nt = &c->out->targets[k];
        if (!target_copy(nt, t))
                return SR_ERR_NOMEM;
        c->out->n_targets++;
        if (cmd->u.target.has_device_name)
                copy_text(nt->device_name, cmd->u.target.device_name);
        if (cmd->u.target.has_is_active)
                nt->is_active = cmd->u.target.is_active;
        touch(&nt->a, c->now);
        emit(c, SR_DEF_TARGET, &nt->id, &l->id, SR_DEF_UPDATED, nt->a.version,
             (int32_t)k);
        return accept(c, nt->a.version);
}

/* out->targets gets the removed target as it was, with its tombstone's
 * version: the caller deletes its key. */
static sr_err_t remove_target(ctx_t *c)
{
        const sr_def_target_t *t;
        sr_def_target_list_t *l;
        sr_def_target_t *nt;
        uint32_t k;

        t = target_named(c, &l);
        if (!t)
                return SR_OK;
        if (!reserve_out(c, 2, 1))
                return SR_ERR_NOMEM;
        k = c->out->n_targets;
        nt = &c->out->targets[k];
        if (!target_copy(nt, t))
                return SR_ERR_NOMEM;
        c->out->n_targets++;
        touch(&nt->a, c->now);
        emit(c, SR_DEF_TARGET, &nt->id, &l->id, SR_DEF_DELETED, nt->a.version,
             (int32_t)k);
        if (l->n_targets)
                l->n_targets--;
        list_counted(c, l);
        return accept(c, nt->a.version);
}

/* -------------------------------------------------------- group links */

/* Links are target sources as targets are: while a fill is in progress
 * they wait too (section 5, step 3: the fill snapshots each link). */
static sr_err_t link_group(ctx_t *c)
{
        const sr_defcmd_t *cmd = c->cmd;
        sr_defs_t *d = c->d;
        sr_def_target_list_t *l;
        sr_def_group_link_t g;
        int64_t i;

        if (expects_on_create(c, "device-group link"))
                return SR_OK;
        l = target_list_of(c, &cmd->u.group.target_list_id, SR_TL_GROUPS);
        if (!l)
                return SR_OK;
        if (sr_uuid_is_nil(&cmd->u.group.device_group_id))
                return reject(c, SR_REJECT_INVALID_VALUE, "device_group_id: "
                              "required");
        memset(&g, 0, sizeof(g));
        sr_def_group_link_id(&l->id, &cmd->u.group.device_group_id, &g.id);
        i = FIND(d, group_links, n_group_links, &g.id);
        if (i >= 0)
                return accept(c, d->group_links[i].a.version);
        if (filling_refused(c))
                return SR_OK;
        g.target_list_id = l->id;
        g.device_group_id = cmd->u.group.device_group_id;
        if (!reserve_out(c, 2, 0) || !GROW(d, group_links, n_group_links))
                return SR_ERR_NOMEM;
        g.ordinal = d->p.next_ordinal++;
        audit_new(&g.a, c->now);
        d->group_links[d->n_group_links++] = g;
        emit(c, SR_DEF_GROUP_LINK, &g.id, &l->id, SR_DEF_CREATED, 1, -1);
        l->n_groups++;
        list_counted(c, l);
        return accept(c, 1);
}

static sr_err_t unlink_group(ctx_t *c)
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
                return reject(c, SR_REJECT_NOT_FOUND, "device group %s is not "
                              "linked to target list \"%s\"", gid, l->name);
        }
        version = d->group_links[i].a.version;
        if (is_stale(c, "device-group link", &id, version) ||
            filling_refused(c))
                return SR_OK;
        if (!reserve_out(c, 2, 0))
                return SR_ERR_NOMEM;
        emit(c, SR_DEF_GROUP_LINK, &id, &l->id, SR_DEF_DELETED, version + 1,
             -1);
        remove_at(d->group_links, &d->n_group_links, (uint32_t)i,
                  sizeof(*d->group_links));
        if (l->n_groups)
                l->n_groups--;
        list_counted(c, l);
        return accept(c, version + 1);
}

/* ---------------------------------------------------- operation lists */

static bool oplist_name_taken(ctx_t *c, const sr_uuid_t *stage,
                              const char *name, const sr_uuid_t *self)
{
        char hid[SR_UUID_STR_LEN + 1];

        for (uint32_t i = 0; i < c->d->n_oplists; i++) {
                const sr_def_oplist_t *ol = &c->d->oplists[i];

                if (sr_uuid_eq(&ol->id, self) ||
                    !sr_uuid_eq(&ol->stage_id, stage) ||
                    !name_eq_fold(ol->name, name))
                        continue;
                sr_uuid_fmt(&ol->id, hid);
                reject(c, SR_REJECT_NAME_TAKEN, "operation list \"%s\": the "
                       "name is taken by operation list %s of this stage; "
                       "choose another name", name, hid);
                return true;
        }
        return false;
}

/* The operation list a command names, refused not_found when it is not
 * in this pipeline or not under the stage the command names (nil: any). */
static int64_t oplist_named(ctx_t *c, const sr_uuid_t *id,
                            const sr_uuid_t *stage)
{
        int64_t i = FIND(c->d, oplists, n_oplists, id);
        char oid[SR_UUID_STR_LEN + 1];

        if (i >= 0 && (!stage || sr_uuid_is_nil(stage) ||
                       sr_uuid_eq(&c->d->oplists[i].stage_id, stage)))
                return i;
        sr_uuid_fmt(id, oid);
        reject(c, SR_REJECT_NOT_FOUND, "operation list %s not found in %s %s",
               oid, stage && !sr_uuid_is_nil(stage) ? "the stage of" :
               "pipeline", c->pid);
        return -1;
}

static sr_err_t create_oplist(ctx_t *c, int64_t i)
{
        const sr_defcmd_t *cmd = c->cmd;
        sr_defs_t *d = c->d;
        sr_def_oplist_t ol;
        char name[SR_NAME_MAX], oid[SR_UUID_STR_LEN + 1];

        if (i >= 0) {
                const sr_def_oplist_t *cur = &d->oplists[i];

                sr_uuid_fmt(&cur->id, oid);
                if (!sr_uuid_eq(&cur->stage_id, &cmd->u.oplist.stage_id) ||
                    (cmd->u.oplist.has_name &&
                     (trim_name(cmd->u.oplist.name, name) ||
                      strcmp(name, cur->name))) ||
                    (cmd->u.oplist.has_description &&
                     strcmp(cmd->u.oplist.description, cur->description)))
                        return reject(c, SR_REJECT_INVALID_VALUE, "operation "
                                      "list %s already exists with other "
                                      "fields; update it or use a new id",
                                      oid);
                return accept(c, cur->a.version);
        }
        memset(&ol, 0, sizeof(ol));
        ol.id = cmd->u.oplist.operation_list_id;
        ol.stage_id = cmd->u.oplist.stage_id;
        if (!cmd->u.oplist.has_name)
                return reject(c, SR_REJECT_INVALID_VALUE, "operation list "
                              "name: required");
        if (!check_name(c, "operation list", cmd->u.oplist.name, ol.name) ||
            oplist_name_taken(c, &ol.stage_id, ol.name, &ol.id))
                return SR_OK;
        if (cmd->u.oplist.has_description)
                copy_text(ol.description, cmd->u.oplist.description);
        if (!reserve_out(c, 1, 0) || !GROW(d, oplists, n_oplists))
                return SR_ERR_NOMEM;
        ol.ordinal = d->p.next_ordinal++;
        audit_new(&ol.a, c->now);
        d->oplists[d->n_oplists++] = ol;
        emit(c, SR_DEF_OPERATION_LIST, &ol.id, &ol.stage_id, SR_DEF_CREATED,
             1, -1);
        return accept(c, 1);
}

static sr_err_t put_oplist(ctx_t *c)
{
        const sr_defcmd_t *cmd = c->cmd;
        sr_def_oplist_t ol, *cur;
        char sid[SR_UUID_STR_LEN + 1];
        int64_t i;

        if (cmd->create) {
                if (expects_on_create(c, "operation list"))
                        return SR_OK;
                if (!sr_defs_stage(c->d, &cmd->u.oplist.stage_id)) {
                        sr_uuid_fmt(&cmd->u.oplist.stage_id, sid);
                        return reject(c, SR_REJECT_NOT_FOUND, "stage %s not "
                                      "found in pipeline %s", sid, c->pid);
                }
                return create_oplist(c, FIND(c->d, oplists, n_oplists,
                                             &cmd->u.oplist.operation_list_id));
        }
        i = oplist_named(c, &cmd->u.oplist.operation_list_id,
                         &cmd->u.oplist.stage_id);
        if (i < 0)
                return SR_OK;
        cur = &c->d->oplists[i];
        ol = *cur;
        if (is_stale(c, "operation list", &ol.id, ol.a.version))
                return SR_OK;
        if (cmd->u.oplist.has_name &&
            (!check_name(c, "operation list", cmd->u.oplist.name, ol.name) ||
             oplist_name_taken(c, &ol.stage_id, ol.name, &ol.id)))
                return SR_OK;
        if (cmd->u.oplist.has_description)
                copy_text(ol.description, cmd->u.oplist.description);
        if (!strcmp(ol.name, cur->name) &&
            !strcmp(ol.description, cur->description))
                return accept(c, ol.a.version);
        if (!reserve_out(c, 1, 0))
                return SR_ERR_NOMEM;
        touch(&ol.a, c->now);
        *cur = ol;
        emit(c, SR_DEF_OPERATION_LIST, &ol.id, &ol.stage_id, SR_DEF_UPDATED,
             ol.a.version, -1);
        return accept(c, ol.a.version);
}

static sr_err_t delete_oplist(ctx_t *c)
{
        const sr_defcmd_t *cmd = c->cmd;
        sr_defs_t *d = c->d;
        uint32_t n = 1, version;
        int64_t i;

        i = oplist_named(c, &cmd->u.oplist.operation_list_id,
                         &cmd->u.oplist.stage_id);
        if (i < 0)
                return SR_OK;
        version = d->oplists[i].a.version;
        if (is_stale(c, "operation list", &d->oplists[i].id, version))
                return SR_OK;
        for (uint32_t j = 0; j < d->n_operations; j++)
                n += sr_uuid_eq(&d->operations[j].operation_list_id,
                                &d->oplists[i].id);
        if (!reserve_out(c, n, 0))
                return SR_ERR_NOMEM;
        drop_oplist(c, (uint32_t)i);
        return accept(c, version + 1);
}

/* --------------------------------------------------------- operations */

/* The gateway checks that args are a JSON object; the owner only keeps
 * "" out, so that NULL stays the one spelling of "{}". */
static bool check_op_fields(ctx_t *c)
{
        const sr_defcmd_t *cmd = c->cmd;

        if (cmd->u.op.has_operation_type &&
            !optype_ok(cmd->u.op.operation_type)) {
                reject(c, SR_REJECT_INVALID_VALUE, "operation_type: \"%.63s\" "
                       "is not 1..63 upper-case letters, digits and _ "
                       "(LOCK, INSTALL, ...)", cmd->u.op.operation_type);
                return false;
        }
        if (cmd->u.op.has_args && cmd->u.op.args_json &&
            !cmd->u.op.args_json[0]) {
                reject(c, SR_REJECT_INVALID_VALUE, "args: empty text; give a "
                       "JSON object or none");
                return false;
        }
        return true;
}

static bool op_same(const sr_def_operation_t *op, const sr_defcmd_t *cmd)
{
        if (!sr_uuid_eq(&op->operation_list_id, &cmd->u.op.operation_list_id))
                return false;
        if (cmd->u.op.has_operation_type &&
            strcmp(cmd->u.op.operation_type, op->operation_type))
                return false;
        return !cmd->u.op.has_args ||
               str_eq_opt(cmd->u.op.args_json, op->args_json);
}

static sr_err_t create_op(ctx_t *c, const sr_def_oplist_t *ol)
{
        const sr_defcmd_t *cmd = c->cmd;
        sr_defs_t *d = c->d;
        int64_t i = FIND(d, operations, n_operations, &cmd->u.op.operation_id);
        char oid[SR_UUID_STR_LEN + 1], sid[SR_UUID_STR_LEN + 1];
        const sr_def_stage_t *s = sr_defs_stage(d, &ol->stage_id);
        sr_def_operation_t op;
        uint64_t n;

        sr_uuid_fmt(&cmd->u.op.operation_id, oid);
        if (i >= 0) {
                if (!op_same(&d->operations[i], cmd))
                        return reject(c, SR_REJECT_INVALID_VALUE, "operation "
                                      "%s already exists with other fields;"
                                      " update it or use a new id", oid);
                return accept(c, d->operations[i].a.version);
        }
        if (!cmd->u.op.has_operation_type)
                return reject(c, SR_REJECT_INVALID_VALUE, "operation_type: "
                              "required");
        if (!check_op_fields(c))
                return SR_OK;
        n = stage_ops(d, &ol->stage_id) + 1;
        if (c->opts.max.ops && n > c->opts.max.ops) {
                sr_uuid_fmt(&ol->stage_id, sid);
                return reject(c, SR_REJECT_INVALID_VALUE, "operations: stage "
                              "\"%s\" (%s) would have %" PRIu64 " operations"
                              ", at most %" PRIu32 " per stage "
                              "(stage.max.operations)", s ? s->name : "?",
                              sid, n, c->opts.max.ops);
        }
        memset(&op, 0, sizeof(op));
        op.id = cmd->u.op.operation_id;
        op.operation_list_id = ol->id;
        copy_str(op.operation_type, SR_SHORT_MAX, cmd->u.op.operation_type);
        if (!reserve_out(c, 1, 0) ||
            !dup_opt(&op.args_json, cmd->u.op.has_args ? cmd->u.op.args_json :
                                                         NULL))
                return SR_ERR_NOMEM;
        if (!GROW(d, operations, n_operations)) {
                free(op.args_json);
                return SR_ERR_NOMEM;
        }
        op.ordinal = d->p.next_ordinal++;
        audit_new(&op.a, c->now);
        d->operations[d->n_operations++] = op;
        emit(c, SR_DEF_OPERATION, &op.id, &op.operation_list_id,
             SR_DEF_CREATED, 1, -1);
        return accept(c, 1);
}

/* The operation a command names, refused not_found when it is not under
 * the operation list the command names (nil: any). */
static int64_t op_named(ctx_t *c)
{
        const sr_defcmd_t *cmd = c->cmd;
        int64_t i = FIND(c->d, operations, n_operations,
                         &cmd->u.op.operation_id);
        char oid[SR_UUID_STR_LEN + 1];

        if (i >= 0 && (sr_uuid_is_nil(&cmd->u.op.operation_list_id) ||
                       sr_uuid_eq(&c->d->operations[i].operation_list_id,
                                  &cmd->u.op.operation_list_id)))
                return i;
        sr_uuid_fmt(&cmd->u.op.operation_id, oid);
        reject(c, SR_REJECT_NOT_FOUND, "operation %s not found in its "
               "operation list", oid);
        return -1;
}

static sr_err_t put_op(ctx_t *c)
{
        const sr_defcmd_t *cmd = c->cmd;
        sr_def_operation_t *op;
        char *args = NULL;
        int64_t i;

        if (cmd->create) {
                if (expects_on_create(c, "operation"))
                        return SR_OK;
                i = oplist_named(c, &cmd->u.op.operation_list_id, NULL);
                return i < 0 ? SR_OK : create_op(c, &c->d->oplists[i]);
        }
        i = op_named(c);
        if (i < 0)
                return SR_OK;
        op = &c->d->operations[i];
        if (is_stale(c, "operation", &op->id, op->a.version) ||
            !check_op_fields(c))
                return SR_OK;
        if ((!cmd->u.op.has_operation_type ||
             !strcmp(cmd->u.op.operation_type, op->operation_type)) &&
            (!cmd->u.op.has_args || str_eq_opt(cmd->u.op.args_json,
                                                op->args_json)))
                return accept(c, op->a.version);
        if (!reserve_out(c, 1, 0) ||
            (cmd->u.op.has_args && !dup_opt(&args, cmd->u.op.args_json)))
                return SR_ERR_NOMEM;
        if (cmd->u.op.has_operation_type)
                copy_str(op->operation_type, SR_SHORT_MAX,
                         cmd->u.op.operation_type);
        if (cmd->u.op.has_args) {
                free(op->args_json);
                op->args_json = args; /* ownership moved */
        }
        touch(&op->a, c->now);
        emit(c, SR_DEF_OPERATION, &op->id, &op->operation_list_id,
             SR_DEF_UPDATED, op->a.version, -1);
        return accept(c, op->a.version);
}

static sr_err_t delete_op(ctx_t *c)
{
        int64_t i = op_named(c);
        uint32_t version;

        if (i < 0)
                return SR_OK;
        version = c->d->operations[i].a.version;
        if (is_stale(c, "operation", &c->d->operations[i].id, version))
                return SR_OK;
        if (!reserve_out(c, 1, 0))
                return SR_ERR_NOMEM;
        drop_operation(c, (uint32_t)i);
        return accept(c, version + 1);
}

/* ------------------------------------------------------------ runs */

/* A stage that takes targets: one with a DEVICES or GROUPS list. */
static bool stage_has_sources(const sr_defs_t *d, const sr_uuid_t *stage)
{
        for (uint32_t i = 0; i < d->n_attachments; i++) {
                const sr_def_target_list_t *l;

                if (!sr_uuid_eq(&d->attachments[i].stage_id, stage))
                        continue;
                l = sr_defs_list(d, &d->attachments[i].target_list_id);
                if (l && l->type != SR_TL_COLLECTIONS)
                        return true;
        }
        return false;
}

/* The run's stage ids in order, owned (NULL when there are none). */
static bool run_stage_ids(const sr_defs_t *d, sr_uuid_t **ids)
{
        uint32_t *idx;

        *ids = NULL;
        if (!d->n_stages)
                return true;
        idx = malloc(d->n_stages * sizeof(*idx));
        *ids = malloc(d->n_stages * sizeof(**ids));
        if (!idx || !*ids) {
                free(idx);
                free(*ids);
                *ids = NULL;
                return false;
        }
        sr_defs_stages_by_order(d, idx);
        for (uint32_t i = 0; i < d->n_stages; i++)
                (*ids)[i] = d->stages[idx[i]].id;
        free(idx);
        return true;
}

/* The run counter, like last_seq and next_ordinal, is the owner's
 * bookkeeping on the pipeline record, not a field a client edits: it
 * changes no version and makes no change record of the pipeline (a
 * client's read-modify-write of the pipeline must not go stale because
 * a run started). The caller writes the pipeline record after every
 * accepted command with changes, so it is kept. The caller resolves the
 * run (sr_defs_resolve) before applying this command: after it, the new
 * run's fill is in progress. */
static sr_err_t start_run(ctx_t *c)
{
        const sr_defcmd_t *cmd = c->cmd;
        sr_defs_t *d = c->d;
        sr_def_active_run_t r;
        char msg[SR_NAME_MAX];
        sr_reject_t why;
        int64_t i;

        if (expects_on_create(c, "run"))
                return SR_OK;
        if (sr_uuid_is_nil(&cmd->u.run.pipeline_run_id))
                return reject(c, SR_REJECT_INVALID_VALUE, "pipeline_run_id: "
                              "required");
        i = FIND(d, active_runs, n_active_runs, &cmd->u.run.pipeline_run_id);
        if (i >= 0)
                return accept(c, d->active_runs[i].a.version);
        if (start_refused(d, &why, msg, sizeof(msg)))
                return reject(c, why, "%s", msg);
        memset(&r, 0, sizeof(r));
        r.run_id = cmd->u.run.pipeline_run_id;
        r.definition_seq = d->p.last_seq;
        for (uint32_t j = 0; j < d->n_stages && !r.filling; j++)
                r.filling = stage_has_sources(d, &d->stages[j].id);
        r.n_stage_ids = d->n_stages;
        if (!reserve_out(c, 1, 0) || !run_stage_ids(d, &r.stage_ids))
                return SR_ERR_NOMEM;
        if (!GROW(d, active_runs, n_active_runs)) {
                free(r.stage_ids);
                return SR_ERR_NOMEM;
        }
        r.ordinal = d->p.next_ordinal++;
        audit_new(&r.a, c->now);
        d->active_runs[d->n_active_runs++] = r;
        d->p.runs_started++;
        emit(c, SR_DEF_ACTIVE_RUN, &r.run_id, &d->p.id, SR_DEF_CREATED, 1, -1);
        return accept(c, 1);
}

/* A run of a deleted pipeline still ends (its pin must go, or the purge
 * would wait for ever); a run not active is a late duplicate: no
 * change. */
static sr_err_t run_ended(ctx_t *c)
{
        sr_defs_t *d = c->d;
        int64_t i = FIND(d, active_runs, n_active_runs,
                         &c->cmd->u.run.pipeline_run_id);
        sr_def_active_run_t *r;
        uint32_t version;

        if (i < 0)
                return accept(c, 0);
        r = &d->active_runs[i];
        version = r->a.version;
        if (is_stale(c, "active run", &r->run_id, version))
                return SR_OK;
        if (!reserve_out(c, 1, 0))
                return SR_ERR_NOMEM;
        emit(c, SR_DEF_ACTIVE_RUN, &r->run_id, &d->p.id, SR_DEF_DELETED,
             version + 1, -1);
        free(r->stage_ids);
        remove_at(d->active_runs, &d->n_active_runs, (uint32_t)i, sizeof(*r));
        return accept(c, version + 1);
}

/* A FillStep is not a client's change: the pipeline's owner reads the
 * targets it sends (sr_worker_fill.c) and ends the fill with
 * sr_defs_fill_done(). Through the rules it changes nothing. */
static sr_err_t fill_step(ctx_t *c)
{
        return reject(c, SR_REJECT_INVALID_VALUE, "FillStep: a step of a "
                      "run's fill, applied by the pipeline's owner, not a "
                      "change of the definition");
}

const sr_def_active_run_t *sr_defs_active_run(const sr_defs_t *d,
                                              const sr_uuid_t *run)
{
        int64_t i = FIND(d, active_runs, n_active_runs, run);

        return i < 0 ? NULL : &d->active_runs[i];
}

sr_err_t sr_defs_fill_done(sr_defs_t *d, const sr_uuid_t *run, int64_t now,
                           sr_defs_out_t *out)
{
        int64_t i = FIND(d, active_runs, n_active_runs, run);
        sr_defcmd_t cmd;
        sr_def_active_run_t *r;
        ctx_t c;

        if (i < 0 || !d->active_runs[i].filling)
                return SR_ERR_NOT_FOUND;
        memset(&cmd, 0, sizeof(cmd));
        cmd.kind = SR_DEFCMD_FILL_STEP;
        cmd.pipeline_id = d->p.id;
        cmd.u.fill.pipeline_run_id = *run;
        memset(&c, 0, sizeof(c));
        c.d = d;
        c.cmd = &cmd;
        c.now = now;
        c.out = out;
        sr_uuid_fmt(&d->p.id, c.pid);
        out->entity_kind = SR_DEF_ACTIVE_RUN;
        out->entity_id = *run;
        if (!reserve_out(&c, 1, 0))
                return SR_ERR_NOMEM;
        r = &d->active_runs[i];
        r->filling = false;
        r->a.version++;
        r->a.updated_at = now;
        emit(&c, SR_DEF_ACTIVE_RUN, &r->run_id, &d->p.id, SR_DEF_UPDATED,
             r->a.version, -1);
        accept(&c, r->a.version);
        return SR_OK;
}

/* ------------------------------------------------------------ applying */

/* The entity a command names (the reply's). */
static void named_entity(const sr_defcmd_t *cmd, sr_def_kind_t *kind,
                         sr_uuid_t *id)
{
        switch (cmd->kind) {
        case SR_DEFCMD_PUT_STAGE:
        case SR_DEFCMD_DELETE_STAGE:
                *kind = SR_DEF_STAGE;
                *id = cmd->u.stage.stage_id;
                break;
        case SR_DEFCMD_PUT_TARGET_LIST:
        case SR_DEFCMD_DELETE_TARGET_LIST:
                *kind = SR_DEF_TARGET_LIST;
                *id = cmd->u.list.target_list_id;
                break;
        case SR_DEFCMD_ATTACH_TARGET_LIST:
        case SR_DEFCMD_DETACH_TARGET_LIST:
                *kind = SR_DEF_ATTACHMENT;
                sr_def_attachment_id(&cmd->u.attach.stage_id,
                                     &cmd->u.attach.target_list_id, id);
                break;
        case SR_DEFCMD_ADD_TARGETS:
                *kind = SR_DEF_TARGET_LIST;
                *id = cmd->u.add.target_list_id;
                break;
        case SR_DEFCMD_UPDATE_TARGET:
        case SR_DEFCMD_REMOVE_TARGET:
                *kind = SR_DEF_TARGET;
                *id = cmd->u.target.target_id;
                break;
        case SR_DEFCMD_LINK_DEVICE_GROUP:
        case SR_DEFCMD_UNLINK_DEVICE_GROUP:
                *kind = SR_DEF_GROUP_LINK;
                sr_def_group_link_id(&cmd->u.group.target_list_id,
                                     &cmd->u.group.device_group_id, id);
                break;
        case SR_DEFCMD_PUT_OPERATION_LIST:
        case SR_DEFCMD_DELETE_OPERATION_LIST:
                *kind = SR_DEF_OPERATION_LIST;
                *id = cmd->u.oplist.operation_list_id;
                break;
        case SR_DEFCMD_PUT_OPERATION:
        case SR_DEFCMD_DELETE_OPERATION:
                *kind = SR_DEF_OPERATION;
                *id = cmd->u.op.operation_id;
                break;
        case SR_DEFCMD_START_PIPELINE_RUN:
        case SR_DEFCMD_RUN_ENDED:
                *kind = SR_DEF_ACTIVE_RUN;
                *id = cmd->u.run.pipeline_run_id;
                break;
        case SR_DEFCMD_FILL_STEP:
                *kind = SR_DEF_ACTIVE_RUN;
                *id = cmd->u.fill.pipeline_run_id;
                break;
        default:
                *kind = SR_DEF_PIPELINE;
                *id = cmd->pipeline_id;
                break;
        }
}

typedef sr_err_t (*rule_fn)(ctx_t *c);

static const rule_fn rules[] = {
        [SR_DEFCMD_PUT_PIPELINE] = put_pipeline,
        [SR_DEFCMD_DELETE_PIPELINE] = delete_pipeline,
        [SR_DEFCMD_PUT_STAGE] = put_stage,
        [SR_DEFCMD_DELETE_STAGE] = delete_stage,
        [SR_DEFCMD_PUT_TARGET_LIST] = put_list,
        [SR_DEFCMD_DELETE_TARGET_LIST] = delete_list,
        [SR_DEFCMD_ATTACH_TARGET_LIST] = attach_list,
        [SR_DEFCMD_DETACH_TARGET_LIST] = detach_list,
        [SR_DEFCMD_ADD_TARGETS] = add_targets,
        [SR_DEFCMD_UPDATE_TARGET] = update_target,
        [SR_DEFCMD_REMOVE_TARGET] = remove_target,
        [SR_DEFCMD_LINK_DEVICE_GROUP] = link_group,
        [SR_DEFCMD_UNLINK_DEVICE_GROUP] = unlink_group,
        [SR_DEFCMD_PUT_OPERATION_LIST] = put_oplist,
        [SR_DEFCMD_DELETE_OPERATION_LIST] = delete_oplist,
        [SR_DEFCMD_PUT_OPERATION] = put_op,
        [SR_DEFCMD_DELETE_OPERATION] = delete_op,
        [SR_DEFCMD_START_PIPELINE_RUN] = start_run,
        [SR_DEFCMD_RUN_ENDED] = run_ended,
        [SR_DEFCMD_FILL_STEP] = fill_step,
};
_Static_assert(sizeof(rules) / sizeof(rules[0]) == SR_DEFCMD__COUNT,
               "rules out of sync with SR_DEFCMD_MAP");

/* The checks every command meets first: tenancy, existence, a deleted
 * pipeline. Another enterprise's pipeline is not_found, as another
 * tenant's run (docs/api-decisions.md): its existence is not disclosed. */
static bool pipeline_refused(ctx_t *c)
{
        const sr_defs_t *d = c->d;
        const sr_defcmd_t *cmd = c->cmd;
        char at[SR_ISO8601_LEN + 1] = "";

        if (!d->exists ? !(cmd->kind == SR_DEFCMD_PUT_PIPELINE &&
                           cmd->create) :
                         strncmp(d->p.enterprise_id, cmd->enterprise_id,
                                 SR_SHORT_MAX) != 0) {
                reject(c, SR_REJECT_NOT_FOUND, "pipeline %s not found",
                       c->pid);
                return true;
        }
        /* Every write under a deleted pipeline is refused (section 7),
         * except the end of one of its runs, which is not a client's. */
        if (!d->exists || !d->p.deleted_at || cmd->kind == SR_DEFCMD_RUN_ENDED)
                return false;
        if (sr_clock_iso8601(d->p.deleted_at, at))
                at[SR_ISO8601_LEN] = '\0';
        reject(c, SR_REJECT_PIPELINE_DELETED, "pipeline %s was deleted at %s;"
               " nothing under it can change", c->pid, at);
        return true;
}

sr_err_t sr_defs_apply(sr_defs_t *d, const sr_defcmd_t *cmd,
                       const sr_defs_targets_in_t *tin, int64_t now,
                       const sr_defs_opts_t *opts, sr_defs_out_t *out)
{
        ctx_t c = { .d = d, .cmd = cmd, .tin = tin, .now = now, .out = out };
        sr_err_t err;

        if ((unsigned)cmd->kind >= SR_DEFCMD__COUNT)
                return SR_ERR_INVALID;
        if (d->exists && !sr_uuid_eq(&d->p.id, &cmd->pipeline_id))
                return SR_ERR_INVALID; /* another pipeline's aggregate */
        if (opts)
                c.opts = *opts;
        sr_uuid_fmt(&cmd->pipeline_id, c.pid);
        out->accepted = false;
        out->reason = SR_REJECT_NONE;
        out->message[0] = '\0';
        out->created = out->added = out->skipped = 0;
        out->entity_version = 0;
        named_entity(cmd, &out->entity_kind, &out->entity_id);
        if (pipeline_refused(&c))
                return SR_OK;
        err = rules[cmd->kind](&c);
        if (err != SR_OK) {
                /* Nothing was recorded: the rules allocate before they
                 * change anything. */
                out->accepted = false;
                out->reason = SR_REJECT_INTERNAL;
        }
        return err;
}

/* ------------------------------------------------------------ resolving */

/* Stage @p s of the skeleton: its operations, list creation order then
 * operation creation order (the arrays' orders). */
static bool resolve_stage(const sr_defs_t *d, const sr_def_stage_t *s,
                          sr_spec_stage_t *ss)
{
        uint32_t n = (uint32_t)stage_ops(d, &s->id), k = 0;

        ss->stage_id = s->id;
        memcpy(ss->name, s->name, sizeof(ss->name));
        memcpy(ss->description, s->description, sizeof(ss->description));
        ss->timeout_seconds = s->timeout_seconds;
        ss->append_targets = stage_has_sources(d, &s->id);
        if (!n)
                return true;
        ss->ops = calloc(n, sizeof(*ss->ops));
        if (!ss->ops)
                return false;
        for (uint32_t i = 0; i < d->n_oplists; i++) {
                const sr_def_oplist_t *ol = &d->oplists[i];

                if (!sr_uuid_eq(&ol->stage_id, &s->id))
                        continue;
                for (uint32_t j = 0; j < d->n_operations && k < n; j++) {
                        const sr_def_operation_t *op = &d->operations[j];

                        if (!sr_uuid_eq(&op->operation_list_id, &ol->id))
                                continue;
                        memcpy(ss->ops[k].operation_type, op->operation_type,
                               sizeof(ss->ops[k].operation_type));
                        ss->n_ops = ++k;
                        if (op->args_json &&
                            !(ss->ops[k - 1].args_json = strdup(op->args_json)))
                                return false;
                }
        }
        return true;
}

bool sr_defs_resolve(const sr_defs_t *d, sr_runspec_t *spec,
                     sr_reject_t *reason, char *why, size_t why_len)
{
        sr_runspec_t tmp;
        uint32_t *idx = NULL;

        if (start_refused(d, reason, why, why_len))
                return false;
        memset(&tmp, 0, sizeof(tmp));
        tmp.pipeline_id = d->p.id;
        memcpy(tmp.pipeline_name, d->p.name, sizeof(tmp.pipeline_name));
        tmp.timeout_seconds = d->p.timeout_seconds;
        tmp.auto_promote = false;
        if (d->n_stages) {
                idx = malloc(d->n_stages * sizeof(*idx));
                tmp.stages = calloc(d->n_stages, sizeof(*tmp.stages));
                if (!idx || !tmp.stages)
                        goto err_nomem;
                sr_defs_stages_by_order(d, idx);
        }
        for (uint32_t i = 0; i < d->n_stages; i++) {
                tmp.n_stages = i + 1;
                if (!resolve_stage(d, &d->stages[idx[i]], &tmp.stages[i]))
                        goto err_nomem;
        }
        free(idx);
        *spec = tmp;
        return true;

err_nomem:
        free(idx);
        sr_runspec_fini(&tmp);
        *reason = SR_REJECT_INTERNAL;
        sr_utf8_format(why, why_len, "pipeline: out of memory resolving "
                       "its stages");
        return false;
}
