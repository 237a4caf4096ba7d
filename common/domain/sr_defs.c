/* common/domain/sr_defs.c - the rules of stored pipeline definitions
 * (docs/definitions.md, sections 1-5, 7): one command applied to one
 * pipeline aggregate, and the aggregate resolved into a run's skeleton.
 * Here: names, freeing, finding, the helpers every rule uses, the runs'
 * rules, applying and resolving; the rules of pipelines, stages and
 * operations are in sr_defs_rules.c, of target lists, targets and links
 * in sr_defs_targets.c.
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
uint64_t sr_defs__stage_devices(const sr_defs_t *d, const sr_uuid_t *stage)
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
uint64_t sr_defs__stage_ops(const sr_defs_t *d, const sr_uuid_t *stage)
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

/* The first attached list of @p type, and its stage into @p s; NULL when
 * none. A start refuses a COLLECTIONS list. */
static const sr_def_target_list_t *attached_list(const sr_defs_t *d,
                                                 sr_tl_type_t type,
                                                 const sr_def_stage_t **s)
{
        for (uint32_t i = 0; i < d->n_attachments; i++) {
                const sr_def_attachment_t *at = &d->attachments[i];
                const sr_def_target_list_t *l =
                        sr_defs_list(d, &at->target_list_id);

                if (l && l->type == type) {
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
        /* A GROUPS list's linked groups are copied into the run before
         * its CreateRun (docs/definitions.md section 6, since phase C). */
        l = attached_list(d, SR_TL_COLLECTIONS, &s);
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
bool sr_defs__name_eq_fold(const char *a, const char *b)
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
const char *sr_defs__trim_name(const char *in, char out[SR_NAME_MAX])
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
bool sr_defs__optype_ok(const char *s)
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
void sr_defs__copy_str(char *dst, size_t size, const char *src)
{
        size_t n = strnlen(src, size - 1);

        memcpy(dst, src, n);
        memset(dst + n, 0, size - n);
}

void sr_defs__copy_text(char dst[SR_NAME_MAX], const char *src)
{
        sr_defs__copy_str(dst, SR_NAME_MAX, src);
}

bool sr_defs__str_eq_opt(const char *a, const char *b)
{
        if (!a || !b)
                return a == b;
        return !strcmp(a, b);
}

/* ------------------------------------------------------------ the step */


sr_err_t sr_defs__reject(sr_defs_ctx_t *c, sr_reject_t why, const char *fmt,
                         ...)
{
        va_list ap;

        c->out->accepted = false;
        c->out->reason = why;
        va_start(ap, fmt);
        sr_utf8_vformat(c->out->message, sizeof(c->out->message), fmt, ap);
        va_end(ap);
        return SR_OK;
}

sr_err_t sr_defs__accept(sr_defs_ctx_t *c, uint32_t version)
{
        c->out->accepted = true;
        c->out->reason = SR_REJECT_NONE;
        c->out->message[0] = '\0';
        c->out->entity_version = version;
        return SR_OK;
}

/* Room for @p nch more change records and @p ntg more targets in out. */
bool sr_defs__reserve_out(sr_defs_ctx_t *c, uint32_t nch, uint32_t ntg)
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
bool sr_defs__grow(void **arr, uint32_t n, size_t size)
{
        void *p = realloc(*arr, (n + 1) * size);

        if (!p)
                return false;
        *arr = p;
        return true;
}


/* Remove element @p i of an aggregate array, keeping the others' order. */
void sr_defs__remove_at(void *arr, uint32_t *n, uint32_t i, size_t size)
{
        unsigned char *p = arr;

        memmove(p + i * size, p + (i + 1) * size, (*n - i - 1) * size);
        (*n)--;
}

/* One change record (room reserved): the next seq of the pipeline. */
void sr_defs__emit(sr_defs_ctx_t *c, sr_def_kind_t kind, const sr_uuid_t *id,
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

void sr_defs__touch(sr_def_audit_t *a, int64_t now)
{
        a->version++;
        a->updated_at = now;
}

void sr_defs__audit_new(sr_def_audit_t *a, int64_t now)
{
        a->version = 1;
        a->created_at = a->updated_at = now;
}

/* Section 4: refused when a version is expected and it is not @p cur. */
bool sr_defs__is_stale(sr_defs_ctx_t *c, const char *what, const sr_uuid_t *id,
                       uint32_t cur)
{
        char eid[SR_UUID_STR_LEN + 1];

        if (!c->cmd->has_expected_version || c->cmd->expected_version == cur)
                return false;
        sr_uuid_fmt(id, eid);
        c->out->entity_version = cur;
        sr_defs__reject(c, SR_REJECT_STALE_VERSION, "%s %s: version %" PRIu32
                        " is not the current version %" PRIu32 "; read it "
                        "again and retry", what, eid,
                        c->cmd->expected_version, cur);
        return true;
}

/* A write that creates has no version to compare: a client sending one
 * means a PUT of something it never read. */
bool sr_defs__expects_on_create(sr_defs_ctx_t *c, const char *what)
{
        if (!c->cmd->has_expected_version)
                return false;
        sr_defs__reject(c, SR_REJECT_INVALID_VALUE,
                        "version: a %s being created "
                        "has no version to expect; send none", what);
        return true;
}

bool sr_defs__check_name(sr_defs_ctx_t *c, const char *what, const char *in,
                         char out[SR_NAME_MAX])
{
        const char *bad = sr_defs__trim_name(in, out);

        if (!bad)
                return true;
        sr_defs__reject(c, SR_REJECT_INVALID_VALUE,
                        "%s name: %s; give 1..255 bytes "
                        "of UTF-8 without control characters", what, bad);
        return false;
}

bool sr_defs__check_timeout(sr_defs_ctx_t *c, const char *what, int64_t t)
{
        if (t >= 1)
                return true;
        sr_defs__reject(c, SR_REJECT_INVALID_VALUE,
                        "%s timeout_seconds: %" PRId64
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
bool sr_defs__runs_use(sr_defs_ctx_t *c, const sr_uuid_t *stage,
                       const char *what)
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
        sr_defs__reject(c, SR_REJECT_IN_USE,
                        "%s in use by %" PRIu32 " run%s: %s; "
                        "cancel them first", what, n, n == 1 ? "" : "s", runs);
        return true;
}

bool sr_defs__filling_refused(sr_defs_ctx_t *c)
{
        if (!any_filling(c->d))
                return false;
        sr_defs__reject(c, SR_REJECT_RUN_STARTING,
                        "pipeline %s: a run is taking "
                        "its targets; retry in a second", c->pid);
        return true;
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
static sr_err_t start_run(sr_defs_ctx_t *c)
{
        const sr_defcmd_t *cmd = c->cmd;
        sr_defs_t *d = c->d;
        sr_def_active_run_t r;
        char msg[SR_NAME_MAX];
        sr_reject_t why;
        int64_t i;

        if (sr_defs__expects_on_create(c, "run"))
                return SR_OK;
        if (sr_uuid_is_nil(&cmd->u.run.pipeline_run_id))
                return sr_defs__reject(c, SR_REJECT_INVALID_VALUE,
                                       "pipeline_run_id: "
                                       "required");
        i = FIND(d, active_runs, n_active_runs, &cmd->u.run.pipeline_run_id);
        if (i >= 0)
                return sr_defs__accept(c, d->active_runs[i].a.version);
        if (start_refused(d, &why, msg, sizeof(msg)))
                return sr_defs__reject(c, why, "%s", msg);
        memset(&r, 0, sizeof(r));
        r.run_id = cmd->u.run.pipeline_run_id;
        r.definition_seq = d->p.last_seq;
        for (uint32_t j = 0; j < d->n_stages && !r.filling; j++)
                r.filling = stage_has_sources(d, &d->stages[j].id);
        r.n_stage_ids = d->n_stages;
        if (!sr_defs__reserve_out(c, 1, 0) || !run_stage_ids(d, &r.stage_ids))
                return SR_ERR_NOMEM;
        if (!SR_DEFS_GROW(d, active_runs, n_active_runs)) {
                free(r.stage_ids);
                return SR_ERR_NOMEM;
        }
        r.ordinal = d->p.next_ordinal++;
        sr_defs__audit_new(&r.a, c->now);
        d->active_runs[d->n_active_runs++] = r;
        d->p.runs_started++;
        sr_defs__emit(c, SR_DEF_ACTIVE_RUN, &r.run_id, &d->p.id, SR_DEF_CREATED,
                      1, -1);
        return sr_defs__accept(c, 1);
}

/* A run of a deleted pipeline still ends (its pin must go, or the purge
 * would wait for ever); a run not active is a late duplicate: no
 * change. */
static sr_err_t run_ended(sr_defs_ctx_t *c)
{
        sr_defs_t *d = c->d;
        int64_t i = FIND(d, active_runs, n_active_runs,
                         &c->cmd->u.run.pipeline_run_id);
        sr_def_active_run_t *r;
        uint32_t version;

        if (i < 0)
                return sr_defs__accept(c, 0);
        r = &d->active_runs[i];
        version = r->a.version;
        if (sr_defs__is_stale(c, "active run", &r->run_id, version))
                return SR_OK;
        if (!sr_defs__reserve_out(c, 1, 0))
                return SR_ERR_NOMEM;
        sr_defs__emit(c, SR_DEF_ACTIVE_RUN, &r->run_id, &d->p.id,
                      SR_DEF_DELETED,
                      version + 1, -1);
        free(r->stage_ids);
        sr_defs__remove_at(d->active_runs, &d->n_active_runs, (uint32_t)i,
                           sizeof(*r));
        return sr_defs__accept(c, version + 1);
}

/* A FillStep is not a client's change: the pipeline's owner reads the
 * targets it sends (sr_worker_fill.c) and ends the fill with
 * sr_defs_fill_done(). Through the rules it changes nothing. */
static sr_err_t fill_step(sr_defs_ctx_t *c)
{
        return sr_defs__reject(c, SR_REJECT_INVALID_VALUE, "FillStep: a step "
                               "of a run's fill, applied by the pipeline's "
                               "owner, not a change of the definition");
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
        sr_defs_ctx_t c;

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
        if (!sr_defs__reserve_out(&c, 1, 0))
                return SR_ERR_NOMEM;
        r = &d->active_runs[i];
        r->filling = false;
        r->a.version++;
        r->a.updated_at = now;
        sr_defs__emit(&c, SR_DEF_ACTIVE_RUN, &r->run_id, &d->p.id,
                      SR_DEF_UPDATED,
                      r->a.version, -1);
        sr_defs__accept(&c, r->a.version);
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

typedef sr_err_t (*rule_fn)(sr_defs_ctx_t *c);

static const rule_fn rules[] = {
        [SR_DEFCMD_PUT_PIPELINE] = sr_defs__put_pipeline,
        [SR_DEFCMD_DELETE_PIPELINE] = sr_defs__delete_pipeline,
        [SR_DEFCMD_PUT_STAGE] = sr_defs__put_stage,
        [SR_DEFCMD_DELETE_STAGE] = sr_defs__delete_stage,
        [SR_DEFCMD_PUT_TARGET_LIST] = sr_defs__put_list,
        [SR_DEFCMD_DELETE_TARGET_LIST] = sr_defs__delete_list,
        [SR_DEFCMD_ATTACH_TARGET_LIST] = sr_defs__attach_list,
        [SR_DEFCMD_DETACH_TARGET_LIST] = sr_defs__detach_list,
        [SR_DEFCMD_ADD_TARGETS] = sr_defs__add_targets,
        [SR_DEFCMD_UPDATE_TARGET] = sr_defs__update_target,
        [SR_DEFCMD_REMOVE_TARGET] = sr_defs__remove_target,
        [SR_DEFCMD_LINK_DEVICE_GROUP] = sr_defs__link_group,
        [SR_DEFCMD_UNLINK_DEVICE_GROUP] = sr_defs__unlink_group,
        [SR_DEFCMD_PUT_OPERATION_LIST] = sr_defs__put_oplist,
        [SR_DEFCMD_DELETE_OPERATION_LIST] = sr_defs__delete_oplist,
        [SR_DEFCMD_PUT_OPERATION] = sr_defs__put_op,
        [SR_DEFCMD_DELETE_OPERATION] = sr_defs__delete_op,
        [SR_DEFCMD_START_PIPELINE_RUN] = start_run,
        [SR_DEFCMD_RUN_ENDED] = run_ended,
        [SR_DEFCMD_FILL_STEP] = fill_step,
};
_Static_assert(sizeof(rules) / sizeof(rules[0]) == SR_DEFCMD__COUNT,
               "rules out of sync with SR_DEFCMD_MAP");

/* The checks every command meets first: tenancy, existence, a deleted
 * pipeline. Another enterprise's pipeline is not_found, as another
 * tenant's run (docs/api-decisions.md): its existence is not disclosed. */
static bool pipeline_refused(sr_defs_ctx_t *c)
{
        const sr_defs_t *d = c->d;
        const sr_defcmd_t *cmd = c->cmd;
        char at[SR_ISO8601_LEN + 1] = "";

        if (!d->exists ? !(cmd->kind == SR_DEFCMD_PUT_PIPELINE &&
                           cmd->create) :
                         strncmp(d->p.enterprise_id, cmd->enterprise_id,
                                 SR_SHORT_MAX) != 0) {
                sr_defs__reject(c, SR_REJECT_NOT_FOUND, "pipeline %s not found",
                                c->pid);
                return true;
        }
        /* Every write under a deleted pipeline is refused (section 7),
         * except the end of one of its runs, which is not a client's. */
        if (!d->exists || !d->p.deleted_at || cmd->kind == SR_DEFCMD_RUN_ENDED)
                return false;
        if (sr_clock_iso8601(d->p.deleted_at, at))
                at[SR_ISO8601_LEN] = '\0';
        sr_defs__reject(c, SR_REJECT_PIPELINE_DELETED,
                        "pipeline %s was deleted at %s;"
                        " nothing under it can change", c->pid, at);
        return true;
}

sr_err_t sr_defs_apply(sr_defs_t *d, const sr_defcmd_t *cmd,
                       const sr_defs_targets_in_t *tin, int64_t now,
                       const sr_defs_opts_t *opts, sr_defs_out_t *out)
{
        sr_defs_ctx_t c = { .d = d, .cmd = cmd, .tin = tin, .now = now,
                            .out = out };
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
        uint32_t n = (uint32_t)sr_defs__stage_ops(d, &s->id), k = 0;

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
