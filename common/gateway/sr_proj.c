/* common/gateway/sr_proj.c - the gateway's LMDB projection of sr.changelog.
 *
 * Five named databases (all integers big-endian, so byte order is numeric
 * order; signed values have their sign bit flipped first):
 *
 *   ent    id (16)               -> stored entity (format below)
 *   clkey  changelog key         -> id (16): what a tombstone removes
 *   idx    tag | prefix | sort   -> summary (see the table): list indexes
 *   cnt    tag | prefix          -> u64 number of idx keys with it
 *   meta   "format"              -> PROJ_FORMAT (u32)
 *          'o' | partition (u32) -> next changelog offset to apply (i64)
 *
 * Index keys (E = enterprise as u8 length + bytes, N = pipeline name the
 * same way, rank = alphabetical status rank, u8; "|" separates fields;
 * the counted prefix ends where the sort part starts, marked by "||"):
 *
 *   'E' E                   || created_at | id   pipeline runs of a tenant
 *   'S' E | rank            || created_at | id     ... by status
 *   'P' E | pipeline_id     || created_at | id     ... by pipeline
 *   'Q' E | pipeline_id | rank || created_at | id
 *   'N' E | N               || created_at | id     ... by pipeline_name
 *   'M' E | N | rank        || created_at | id
 *   'R' pipeline_run_id     || index | id        stage runs (value: rank)
 *   'O' stage_run_id        || index | id        operations
 *   'T' stage_run_id        || op_index | target_index | id   target runs
 *   'U' stage_run_id | rank || op_index | target_index | id
 *   'V' stage_run_id | op_id        || target_index | id
 *   'W' stage_run_id | op_id | rank || target_index | id
 *
 * The six pipeline-run entries carry a summary value (rank, run_number,
 * created/started/ended_at, pipeline name) so that filtering and sorting
 * in memory never decode an entity. The tenant is part of every pipeline
 * run key, so a list cannot reach another enterprise's runs; lists under a
 * parent check the parent's tenant first. Every idx put/delete moves the
 * cnt counter of its prefix, so a filtered count is one lookup.
 *
 * Stored entity: fmt u8 | type u8 | version u32 | id (16) | u16 length +
 * changelog key | body. Strings are u16 length + bytes; the body lists
 * every field of the sr_model.h struct in declaration order, except a
 * stage run's frozen spec, which is not projected. Decoding is a bounds-
 * checked copy (no codec, no allocation except an operation's args), so
 * readers need no per-thread state.
 */
#include "sr_proj.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <lmdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sr_lmdb.h"
#include "sr_codec.h"

#define PROJ_FORMAT 1
#define ENC_FORMAT 1 /* first byte of every stored entity */
#define IK_MAX 400   /* index key bytes; LMDB's limit is 511 */
#define IV_MAX 300   /* index value bytes */
#define MAX_IENT 6   /* index entries of one entity */
#define ID_LEN 16

enum { DBI_ENT, DBI_CLKEY, DBI_IDX, DBI_CNT, DBI_META, DBI__COUNT };

static const char *const dbi_names[DBI__COUNT] = {
        [DBI_ENT] = "ent",
        [DBI_CLKEY] = "clkey",
        [DBI_IDX] = "idx",
        [DBI_CNT] = "cnt",
        [DBI_META] = "meta",
};

enum idx_tag {
        TAG_PR = 'E',
        TAG_PR_ST = 'S',
        TAG_PR_PIPE = 'P',
        TAG_PR_PIPE_ST = 'Q',
        TAG_PR_NAME = 'N',
        TAG_PR_NAME_ST = 'M',
        TAG_SR = 'R',
        TAG_OP = 'O',
        TAG_TR = 'T',
        TAG_TR_ST = 'U',
        TAG_TR_OP = 'V',
        TAG_TR_OP_ST = 'W',
};

/* Growable encode buffer (the writer's scratch). */
struct wbuf {
        uint8_t *p;
        size_t len, cap;
        bool oom;
};

/* Bounds-checked reader over a stored value. */
struct rbuf {
        const uint8_t *p;
        size_t len, pos;
        bool bad;
};

/* One index entry: key, counted prefix length, value. */
struct ient {
        uint16_t klen, plen, vlen;
        uint8_t key[IK_MAX];
        uint8_t val[IV_MAX];
};

struct ients {
        unsigned n;
        struct ient e[MAX_IENT];
};

struct sr_proj {
        MDB_env *env;
        MDB_dbi dbi[DBI__COUNT];
        char *dir;          /* owned copy */
        sr_codec_t *codec;  /* the writer's */
        struct wbuf enc;    /* the writer's */
        bool write_open;
        _Atomic uint64_t applied, skipped, decodes, key_steps;
};

struct sr_proj_txn {
        sr_proj_t *proj;
        MDB_txn *mtxn;
        bool failed; /* a write failed: commit refused */
        struct ients old, cur, other; /* scratch */
};

/* A stored entity, parsed header; body points into LMDB memory. */
struct stored {
        sr_entity_type_t type;
        uint32_t version;
        sr_uuid_t id;
        const uint8_t *clkey;
        size_t clkey_len;
        struct rbuf body;
};

/* One read call: its snapshot and the stats it adds at the end. */
struct rctx {
        sr_proj_t *proj;
        MDB_txn *txn;
        MDB_cursor *cur; /* on idx, opened on demand */
        uint64_t decodes, steps;
};


/* ------------------------------------------------------------ helpers */





/* Signed to order-preserving unsigned and back. */
static uint64_t i64_key(int64_t v)
{
        return (uint64_t)v ^ UINT64_C(0x8000000000000000);
}

static int64_t i64_unkey(uint64_t v)
{
        return (int64_t)(v ^ UINT64_C(0x8000000000000000));
}


/* Position of @p st in the alphabetical order of status names. Computed,
 * not tabled, so a new status cannot put the table out of date. */
static uint8_t status_rank(sr_status_t st)
{
        const char *name = sr_status_name(st);
        unsigned r = 0;

        for (int i = 0; i < SR_ST__COUNT; i++)
                if (strcmp(sr_status_name((sr_status_t)i), name) < 0)
                        r++;
        return (uint8_t)r;
}

static size_t bounded_len(const char *s, size_t cap)
{
        return strnlen(s, cap - 1);
}

static const char *uuid_text(const sr_uuid_t *id, char buf[SR_UUID_STR_LEN + 1])
{
        sr_uuid_fmt(id, buf);
        return buf;
}

/* ------------------------------------------------------------ encoding */

static void w_bytes(struct wbuf *w, const void *src, size_t n)
{
        if (w->oom)
                return;
        if (n > w->cap - w->len) {
                size_t cap = w->cap ? w->cap : 512;
                uint8_t *p;

                while (cap - w->len < n)
                        cap *= 2;
                p = realloc(w->p, cap);
                if (!p) {
                        w->oom = true;
                        return;
                }
                w->p = p;
                w->cap = cap;
        }
        if (n)
                memcpy(w->p + w->len, src, n);
        w->len += n;
}

static void w_u8(struct wbuf *w, uint8_t v)
{
        w_bytes(w, &v, 1);
}

static void w_u16(struct wbuf *w, uint16_t v)
{
        uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

        w_bytes(w, b, 2);
}

static void w_u32(struct wbuf *w, uint32_t v)
{
        uint8_t b[4];

        sr_lmdb_put_be32(b, v);
        w_bytes(w, b, 4);
}

static void w_u64(struct wbuf *w, uint64_t v)
{
        uint8_t b[8];

        sr_lmdb_put_be64(b, v);
        w_bytes(w, b, 8);
}

static void w_i64(struct wbuf *w, int64_t v)
{
        w_u64(w, (uint64_t)v);
}

static void w_uuid(struct wbuf *w, const sr_uuid_t *u)
{
        w_bytes(w, u->b, ID_LEN);
}

/* A fixed C string field of @p cap bytes (cap <= 65536). */
static void w_str(struct wbuf *w, const char *s, size_t cap)
{
        size_t n = bounded_len(s, cap);

        w_u16(w, (uint16_t)n);
        w_bytes(w, s, n);
}

static const uint8_t *r_take(struct rbuf *r, size_t n)
{
        const uint8_t *q;

        if (r->bad || r->len - r->pos < n) {
                r->bad = true;
                return NULL;
        }
        q = r->p + r->pos;
        r->pos += n;
        return q;
}

static uint8_t r_u8(struct rbuf *r)
{
        const uint8_t *q = r_take(r, 1);

        return q ? q[0] : 0;
}

static uint16_t r_u16(struct rbuf *r)
{
        const uint8_t *q = r_take(r, 2);

        if (!q)
                return 0;
        return (uint16_t)(q[0] << 8 | q[1]);
}

static uint32_t r_u32(struct rbuf *r)
{
        const uint8_t *q = r_take(r, 4);

        return q ? sr_lmdb_get_be32(q) : 0;
}

static uint64_t r_u64(struct rbuf *r)
{
        const uint8_t *q = r_take(r, 8);

        return q ? sr_lmdb_get_be64(q) : 0;
}

static int64_t r_i64(struct rbuf *r)
{
        return (int64_t)r_u64(r);
}

static void r_uuid(struct rbuf *r, sr_uuid_t *u)
{
        const uint8_t *q = r_take(r, ID_LEN);

        if (q)
                memcpy(u->b, q, ID_LEN);
}

static void r_str(struct rbuf *r, char *dst, size_t cap)
{
        size_t n = r_u16(r);
        const uint8_t *q;

        if (n >= cap) {
                r->bad = true;
                dst[0] = '\0';
                return;
        }
        q = r_take(r, n);
        if (!q) {
                dst[0] = '\0';
                return;
        }
        memcpy(dst, q, n);
        dst[n] = '\0';
}

static sr_status_t r_status(struct rbuf *r)
{
        uint8_t v = r_u8(r);

        if (v >= SR_ST__COUNT) {
                r->bad = true;
                return SR_ST_NONE;
        }
        return (sr_status_t)v;
}

static void entity_id(const sr_entity_t *e, sr_uuid_t *id, uint32_t *ver)
{
        switch (e->type) {
        case SR_ENT_PIPELINE_RUN:
                *id = e->u.pr.m.id;
                *ver = e->u.pr.m.version;
                break;
        case SR_ENT_STAGE_RUN:
                *id = e->u.sr.m.id;
                *ver = e->u.sr.m.version;
                break;
        case SR_ENT_STAGE_RUN_OPERATION:
                *id = e->u.op.id;
                *ver = e->u.op.version;
                break;
        case SR_ENT_TARGET_RUN:
        default:
                *id = e->u.tr.m.id;
                *ver = e->u.tr.m.version;
                break;
        }
}

/* id and version live in the header, not here. */
static void enc_meta(struct wbuf *w, const sr_meta_t *m)
{
        w_u8(w, (uint8_t)m->status);
        w_str(w, m->reason, sizeof(m->reason));
        w_i64(w, m->created_at);
        w_i64(w, m->updated_at);
        w_i64(w, m->started_at);
        w_i64(w, m->ended_at);
        w_i64(w, m->deadline);
}

static void dec_meta(struct rbuf *r, sr_meta_t *m)
{
        m->status = r_status(r);
        r_str(r, m->reason, sizeof(m->reason));
        m->created_at = r_i64(r);
        m->updated_at = r_i64(r);
        m->started_at = r_i64(r);
        m->ended_at = r_i64(r);
        m->deadline = r_i64(r);
}

static void enc_body(struct wbuf *w, const sr_entity_t *e)
{
        const sr_pipeline_run_t *pr = &e->u.pr;
        const sr_stage_run_t *sr = &e->u.sr;
        const sr_stage_run_op_t *op = &e->u.op;
        const sr_target_run_t *tr = &e->u.tr;
        size_t n;

        switch (e->type) {
        case SR_ENT_PIPELINE_RUN:
                enc_meta(w, &pr->m);
                w_uuid(w, &pr->pipeline_id);
                w_str(w, pr->pipeline_name, sizeof(pr->pipeline_name));
                w_str(w, pr->enterprise_id, sizeof(pr->enterprise_id));
                w_u32(w, (uint32_t)pr->run_number);
                w_u8(w, pr->auto_promote);
                w_i64(w, pr->timeout_seconds);
                w_u32(w, pr->n_stages);
                w_u64(w, pr->last_seq);
                w_i64(w, pr->next_deadline);
                w_u64(w, pr->spec_hash);
                w_uuid(w, &pr->created_by_command);
                break;
        case SR_ENT_STAGE_RUN:
                enc_meta(w, &sr->m);
                w_uuid(w, &sr->pipeline_run_id);
                w_uuid(w, &sr->pipeline_id);
                w_uuid(w, &sr->stage_id);
                w_str(w, sr->enterprise_id, sizeof(sr->enterprise_id));
                w_u32(w, sr->index);
                w_str(w, sr->name, sizeof(sr->name));
                w_str(w, sr->description, sizeof(sr->description));
                w_i64(w, sr->timeout_seconds);
                w_i64(w, sr->queued_at);
                break;
        case SR_ENT_STAGE_RUN_OPERATION:
                w_uuid(w, &op->pipeline_run_id);
                w_uuid(w, &op->stage_run_id);
                w_u32(w, op->stage_index);
                w_u32(w, op->index);
                w_str(w, op->operation_type, sizeof(op->operation_type));
                w_u8(w, op->args_json != NULL);
                n = op->args_json ? strlen(op->args_json) : 0;
                if (n > UINT32_MAX) {
                        w->oom = true; /* not representable */
                        return;
                }
                w_u32(w, (uint32_t)n);
                w_bytes(w, op->args_json, n);
                w_i64(w, op->created_at);
                break;
        case SR_ENT_TARGET_RUN:
        default:
                enc_meta(w, &tr->m);
                w_uuid(w, &tr->pipeline_run_id);
                w_uuid(w, &tr->stage_run_id);
                w_uuid(w, &tr->stage_run_operation_id);
                w_u32(w, tr->stage_index);
                w_u32(w, tr->op_index);
                w_u32(w, tr->target_index);
                w_uuid(w, &tr->target_id);
                w_uuid(w, &tr->device_id);
                w_str(w, tr->device_name, sizeof(tr->device_name));
                w_str(w, tr->device_alias, sizeof(tr->device_alias));
                w_uuid(w, &tr->command_id);
                w_str(w, tr->command_status, sizeof(tr->command_status));
                w_u8(w, tr->cancel_requested);
                break;
        }
}

static void enc_entity(struct wbuf *w, const sr_entity_t *e, sr_slice_t clkey)
{
        sr_uuid_t id;
        uint32_t ver;

        entity_id(e, &id, &ver);
        w->len = 0;
        w->oom = false;
        w_u8(w, ENC_FORMAT);
        w_u8(w, (uint8_t)e->type);
        w_u32(w, ver);
        w_uuid(w, &id);
        w_u16(w, (uint16_t)clkey.len);
        w_bytes(w, clkey.ptr, clkey.len);
        enc_body(w, e);
}

static bool parse_stored(const MDB_val *v, struct stored *s)
{
        struct rbuf r = { v->mv_data, v->mv_size, 0, false };
        uint8_t fmt = r_u8(&r), type = r_u8(&r);

        s->version = r_u32(&r);
        r_uuid(&r, &s->id);
        s->clkey_len = r_u16(&r);
        s->clkey = r_take(&r, s->clkey_len);
        if (r.bad || fmt != ENC_FORMAT || type >= SR_ENT__COUNT)
                return false;
        s->type = (sr_entity_type_t)type;
        s->body = (struct rbuf){ r.p + r.pos, r.len - r.pos, 0, false };
        return true;
}

/* Decode a parsed entity. An operation's args are malloc'd only when
 * @p want_args; otherwise args_json is NULL.
 * @returns SR_OK, SR_ERR_NOMEM, SR_ERR_CORRUPT (ec not set: the caller
 *          names the entity). */
static sr_err_t dec_entity(const struct stored *s, sr_entity_t *e,
                           bool want_args)
{
        struct rbuf r = s->body;
        sr_pipeline_run_t *pr = &e->u.pr;
        sr_stage_run_t *sr = &e->u.sr;
        sr_stage_run_op_t *op = &e->u.op;
        sr_target_run_t *tr = &e->u.tr;
        const uint8_t *args;
        uint32_t n;
        bool has;

        memset(e, 0, sizeof(*e));
        e->type = s->type;
        switch (s->type) {
        case SR_ENT_PIPELINE_RUN:
                pr->m.id = s->id;
                pr->m.version = s->version;
                dec_meta(&r, &pr->m);
                r_uuid(&r, &pr->pipeline_id);
                r_str(&r, pr->pipeline_name, sizeof(pr->pipeline_name));
                r_str(&r, pr->enterprise_id, sizeof(pr->enterprise_id));
                pr->run_number = (int32_t)r_u32(&r);
                pr->auto_promote = r_u8(&r) != 0;
                pr->timeout_seconds = r_i64(&r);
                pr->n_stages = r_u32(&r);
                pr->last_seq = r_u64(&r);
                pr->next_deadline = r_i64(&r);
                pr->spec_hash = r_u64(&r);
                r_uuid(&r, &pr->created_by_command);
                break;
        case SR_ENT_STAGE_RUN:
                sr->m.id = s->id;
                sr->m.version = s->version;
                dec_meta(&r, &sr->m);
                r_uuid(&r, &sr->pipeline_run_id);
                r_uuid(&r, &sr->pipeline_id);
                r_uuid(&r, &sr->stage_id);
                r_str(&r, sr->enterprise_id, sizeof(sr->enterprise_id));
                sr->index = r_u32(&r);
                r_str(&r, sr->name, sizeof(sr->name));
                r_str(&r, sr->description, sizeof(sr->description));
                sr->timeout_seconds = r_i64(&r);
                sr->queued_at = r_i64(&r);
                break;
        case SR_ENT_STAGE_RUN_OPERATION:
                op->id = s->id;
                op->version = s->version;
                r_uuid(&r, &op->pipeline_run_id);
                r_uuid(&r, &op->stage_run_id);
                op->stage_index = r_u32(&r);
                op->index = r_u32(&r);
                r_str(&r, op->operation_type, sizeof(op->operation_type));
                has = r_u8(&r) != 0;
                n = r_u32(&r);
                args = r_take(&r, n);
                op->created_at = r_i64(&r);
                if (r.bad || r.pos != r.len)
                        return SR_ERR_CORRUPT;
                if (has && want_args) {
                        op->args_json = malloc((size_t)n + 1);
                        if (!op->args_json)
                                return SR_ERR_NOMEM;
                        memcpy(op->args_json, args, n);
                        op->args_json[n] = '\0';
                }
                return SR_OK;
        case SR_ENT_TARGET_RUN:
        default:
                tr->m.id = s->id;
                tr->m.version = s->version;
                dec_meta(&r, &tr->m);
                r_uuid(&r, &tr->pipeline_run_id);
                r_uuid(&r, &tr->stage_run_id);
                r_uuid(&r, &tr->stage_run_operation_id);
                tr->stage_index = r_u32(&r);
                tr->op_index = r_u32(&r);
                tr->target_index = r_u32(&r);
                r_uuid(&r, &tr->target_id);
                r_uuid(&r, &tr->device_id);
                r_str(&r, tr->device_name, sizeof(tr->device_name));
                r_str(&r, tr->device_alias, sizeof(tr->device_alias));
                r_uuid(&r, &tr->command_id);
                r_str(&r, tr->command_status, sizeof(tr->command_status));
                tr->cancel_requested = r_u8(&r) != 0;
                break;
        }
        return r.bad || r.pos != r.len ? SR_ERR_CORRUPT : SR_OK;
}

/* ------------------------------------------------------------ indexes */

static void k_bytes(struct ient *ie, const void *p, size_t n)
{
        /* Sizes are bounded by construction (IK_MAX covers the longest
         * key, 'M': 1 + 64 + 256 + 1 + 8 + 16 bytes). */
        memcpy(ie->key + ie->klen, p, n);
        ie->klen = (uint16_t)(ie->klen + n);
}

static void k_u8(struct ient *ie, uint8_t v)
{
        k_bytes(ie, &v, 1);
}

static void k_u32(struct ient *ie, uint32_t v)
{
        uint8_t b[4];

        sr_lmdb_put_be32(b, v);
        k_bytes(ie, b, 4);
}

static void k_i64(struct ient *ie, int64_t v)
{
        uint8_t b[8];

        sr_lmdb_put_be64(b, i64_key(v));
        k_bytes(ie, b, 8);
}

/* u8 length + bytes: a prefix that cannot match a longer string. */
static void k_str8(struct ient *ie, const char *s, size_t cap)
{
        size_t n = bounded_len(s, cap);

        if (n > UINT8_MAX)
                n = UINT8_MAX;
        k_u8(ie, (uint8_t)n);
        k_bytes(ie, s, n);
}

static struct ient *ient_new(struct ients *out, uint8_t tag)
{
        struct ient *ie = &out->e[out->n++];

        ie->klen = 0;
        ie->plen = 0;
        ie->vlen = 0;
        k_u8(ie, tag);
        return ie;
}

/* Pipeline-run summary, the value of its index entries:
 * rank u8 | run_number u32 | created, started, ended (i64 keys) |
 * name length u8 | name. */
#define PRSUM_FIXED 30

static void pr_summary(struct ient *ie, const sr_pipeline_run_t *pr)
{
        size_t n = bounded_len(pr->pipeline_name, sizeof(pr->pipeline_name));
        uint8_t *v = ie->val;

        if (n > UINT8_MAX)
                n = UINT8_MAX;
        v[0] = status_rank(pr->m.status);
        sr_lmdb_put_be32(v + 1, (uint32_t)pr->run_number);
        sr_lmdb_put_be64(v + 5, i64_key(pr->m.created_at));
        sr_lmdb_put_be64(v + 13, i64_key(pr->m.started_at));
        sr_lmdb_put_be64(v + 21, i64_key(pr->m.ended_at));
        v[29] = (uint8_t)n;
        memcpy(v + PRSUM_FIXED, pr->pipeline_name, n);
        ie->vlen = (uint16_t)(PRSUM_FIXED + n);
}

static void pr_entry(struct ients *out, uint8_t tag,
                     const sr_pipeline_run_t *pr, bool pipe, bool name,
                     bool rank)
{
        struct ient *ie = ient_new(out, tag);

        k_str8(ie, pr->enterprise_id, sizeof(pr->enterprise_id));
        if (pipe)
                k_bytes(ie, pr->pipeline_id.b, ID_LEN);
        if (name)
                k_str8(ie, pr->pipeline_name, sizeof(pr->pipeline_name));
        if (rank)
                k_u8(ie, status_rank(pr->m.status));
        ie->plen = ie->klen;
        k_i64(ie, pr->m.created_at);
        k_bytes(ie, pr->m.id.b, ID_LEN);
        pr_summary(ie, pr);
}

static void tr_entry(struct ients *out, uint8_t tag, const sr_target_run_t *tr,
                     bool op, bool rank)
{
        struct ient *ie = ient_new(out, tag);

        k_bytes(ie, tr->stage_run_id.b, ID_LEN);
        if (op)
                k_bytes(ie, tr->stage_run_operation_id.b, ID_LEN);
        if (rank)
                k_u8(ie, status_rank(tr->m.status));
        ie->plen = ie->klen;
        if (!op)
                k_u32(ie, tr->op_index);
        k_u32(ie, tr->target_index);
        k_bytes(ie, tr->m.id.b, ID_LEN);
}

/* Every index entry of @p e. */
static void ients_of(const sr_entity_t *e, struct ients *out)
{
        struct ient *ie;

        out->n = 0;
        switch (e->type) {
        case SR_ENT_PIPELINE_RUN:
                pr_entry(out, TAG_PR, &e->u.pr, false, false, false);
                pr_entry(out, TAG_PR_ST, &e->u.pr, false, false, true);
                pr_entry(out, TAG_PR_PIPE, &e->u.pr, true, false, false);
                pr_entry(out, TAG_PR_PIPE_ST, &e->u.pr, true, false, true);
                pr_entry(out, TAG_PR_NAME, &e->u.pr, false, true, false);
                pr_entry(out, TAG_PR_NAME_ST, &e->u.pr, false, true, true);
                break;
        case SR_ENT_STAGE_RUN:
                ie = ient_new(out, TAG_SR);
                k_bytes(ie, e->u.sr.pipeline_run_id.b, ID_LEN);
                ie->plen = ie->klen;
                k_u32(ie, e->u.sr.index);
                k_bytes(ie, e->u.sr.m.id.b, ID_LEN);
                ie->val[0] = status_rank(e->u.sr.m.status);
                ie->vlen = 1;
                break;
        case SR_ENT_STAGE_RUN_OPERATION:
                ie = ient_new(out, TAG_OP);
                k_bytes(ie, e->u.op.stage_run_id.b, ID_LEN);
                ie->plen = ie->klen;
                k_u32(ie, e->u.op.index);
                k_bytes(ie, e->u.op.id.b, ID_LEN);
                break;
        case SR_ENT_TARGET_RUN:
        default:
                tr_entry(out, TAG_TR, &e->u.tr, false, false);
                tr_entry(out, TAG_TR_ST, &e->u.tr, false, true);
                tr_entry(out, TAG_TR_OP, &e->u.tr, true, false);
                tr_entry(out, TAG_TR_OP_ST, &e->u.tr, true, true);
                break;
        }
}

static const struct ient *ients_find(const struct ients *set,
                                     const struct ient *ie)
{
        for (unsigned i = 0; i < set->n; i++)
                if (set->e[i].klen == ie->klen &&
                    !memcmp(set->e[i].key, ie->key, ie->klen))
                        return &set->e[i];
        return NULL;
}

/* ------------------------------------------------------------ counters */

static int cnt_add(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t len,
                   int delta)
{
        MDB_val k = sr_lmdb_val(key, len), v;
        uint64_t c = 0;
        uint8_t b[8];
        int rc;

        rc = mdb_get(txn, dbi, &k, &v);
        if (rc == 0 && v.mv_size == 8)
                c = sr_lmdb_get_be64(v.mv_data);
        else if (rc && rc != MDB_NOTFOUND)
                return rc;
        if (delta < 0)
                c = c ? c - 1 : 0;
        else
                c++;
        if (c == 0) {
                rc = mdb_del(txn, dbi, &k, NULL);
                return rc == MDB_NOTFOUND ? 0 : rc;
        }
        sr_lmdb_put_be64(b, c);
        v = sr_lmdb_val(b, 8);
        return mdb_put(txn, dbi, &k, &v, 0);
}

static int cnt_get(MDB_txn *txn, MDB_dbi dbi, const uint8_t *key, size_t len,
                   uint64_t *out)
{
        MDB_val k = sr_lmdb_val(key, len), v;
        int rc = mdb_get(txn, dbi, &k, &v);

        *out = 0;
        if (rc == MDB_NOTFOUND)
                return 0;
        if (rc)
                return rc;
        if (v.mv_size != 8)
                return MDB_CORRUPTED;
        *out = sr_lmdb_get_be64(v.mv_data);
        return 0;
}

/* Move the index from @p old to @p cur: delete entries that went away,
 * put new or changed ones; counters follow keys that appear or vanish.
 * Tolerates an index that lacks an old entry or has a new one already. */
static int idx_move(const sr_proj_t *proj, MDB_txn *txn,
                    const struct ients *old, const struct ients *cur)
{
        MDB_dbi idx = proj->dbi[DBI_IDX], cnt = proj->dbi[DBI_CNT];
        MDB_val k, v;
        int rc;

        for (unsigned i = 0; i < old->n; i++) {
                const struct ient *o = &old->e[i];

                if (ients_find(cur, o))
                        continue;
                k = sr_lmdb_val(o->key, o->klen);
                rc = mdb_del(txn, idx, &k, NULL);
                if (rc == MDB_NOTFOUND)
                        continue;
                if (!rc)
                        rc = cnt_add(txn, cnt, o->key, o->plen, -1);
                if (rc)
                        return rc;
        }
        for (unsigned i = 0; i < cur->n; i++) {
                const struct ient *c = &cur->e[i];
                const struct ient *o = ients_find(old, c);

                if (o && o->vlen == c->vlen &&
                    !memcmp(o->val, c->val, c->vlen))
                        continue;
                k = sr_lmdb_val(c->key, c->klen);
                v = sr_lmdb_val(c->val, c->vlen);
                rc = mdb_put(txn, idx, &k, &v, MDB_NOOVERWRITE);
                if (rc == MDB_KEYEXIST) {
                        /* Only the value changed (or a stale entry). */
                        v = sr_lmdb_val(c->val, c->vlen);
                        rc = mdb_put(txn, idx, &k, &v, 0);
                } else if (!rc) {
                        rc = cnt_add(txn, cnt, c->key, c->plen, +1);
                }
                if (rc)
                        return rc;
        }
        return 0;
}

/* ------------------------------------------------------------ open */

/* Empty every DBI (offsets included) and write our format. */
static int empty_all(sr_proj_t *proj, MDB_txn *txn)
{
        MDB_val k = sr_lmdb_val("format", 6), v;
        uint8_t fmt[4];
        int rc = 0;

        for (int i = 0; i < DBI__COUNT && !rc; i++)
                rc = mdb_drop(txn, proj->dbi[i], 0);
        if (rc)
                return rc;
        sr_lmdb_put_be32(fmt, PROJ_FORMAT);
        v = sr_lmdb_val(fmt, 4);
        return mdb_put(txn, proj->dbi[DBI_META], &k, &v, 0);
}

/* Open the DBIs; empty everything unless the format is ours. */
static sr_err_t proj_init(sr_proj_t *proj, sr_errctx_t *ec)
{
        MDB_val k = sr_lmdb_val("format", 6), v;
        const char *op = "dbi_open";
        MDB_txn *txn;
        int rc, i;

        rc = mdb_txn_begin(proj->env, NULL, 0, &txn);
        if (rc)
                return sr_lmdb_err(ec, rc, "proj", proj->dir, "txn_begin");
        for (i = 0; i < DBI__COUNT && !rc; i++)
                rc = mdb_dbi_open(txn, dbi_names[i], MDB_CREATE,
                                  &proj->dbi[i]);
        if (rc)
                goto err_abort;
        op = "format";
        rc = mdb_get(txn, proj->dbi[DBI_META], &k, &v);
        if (rc && rc != MDB_NOTFOUND)
                goto err_abort;
        if (rc || v.mv_size != 4 || sr_lmdb_get_be32(v.mv_data) != PROJ_FORMAT) {
                /* New, or another format: a cache, so start over. */
                op = "empty";
                rc = empty_all(proj, txn);
                if (rc)
                        goto err_abort;
        }
        rc = mdb_txn_commit(txn); /* frees txn, also on failure */
        return rc ? sr_lmdb_err(ec, rc, "proj", proj->dir, "txn_commit") : SR_OK;

err_abort:
        mdb_txn_abort(txn);
        return sr_lmdb_err(ec, rc, "proj", proj->dir, op);
}

sr_err_t sr_proj_open(const char *dir, size_t map_size, sr_proj_t **projp,
                      sr_errctx_t *ec)
{
        sr_proj_t *proj;
        sr_err_t err;
        int rc, dead;

        if (!dir || !projp)
                return sr_errctx_set(ec, SR_ERR_INVALID, "proj: no directory");
        err = sr_lmdb_make_dir("proj", dir, ec);
        if (err)
                return err;
        proj = calloc(1, sizeof(*proj));
        if (!proj)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "proj %s: calloc", dir);
        proj->dir = strdup(dir);
        if (!proj->dir) {
                err = sr_errctx_set(ec, SR_ERR_NOMEM, "proj %s: strdup", dir);
                goto err_free;
        }
        err = sr_codec_new(&proj->codec, ec);
        if (err)
                goto err_free;
        rc = mdb_env_create(&proj->env);
        if (rc) {
                proj->env = NULL;
                err = sr_lmdb_err(ec, rc, "proj", dir, "env_create");
                goto err_free;
        }
        rc = mdb_env_set_maxdbs(proj->env, DBI__COUNT);
        if (!rc)
                rc = mdb_env_set_maxreaders(proj->env, SR_PROJ_MAX_READERS);
        if (!rc)
                rc = mdb_env_set_mapsize(proj->env,
                                         map_size ? map_size :
                                                    SR_PROJ_DEFAULT_MAP_SIZE);
        if (rc) {
                err = sr_lmdb_err(ec, rc, "proj", dir, "env_set");
                goto err_free;
        }
        /* NOTLS: read txns belong to the call, not the thread.
         * NOMETASYNC: data pages synced per commit, so a crash loses at
         * most the last batch and never tears the file. */
        rc = mdb_env_open(proj->env, dir, MDB_NOTLS | MDB_NOMETASYNC, 0640);
        if (rc) {
                err = sr_lmdb_err(ec, rc, "proj", dir, "env_open");
                goto err_free;
        }
        /* Reader slots of killed processes would pin old pages forever. */
        rc = mdb_reader_check(proj->env, &dead);
        if (rc) {
                err = sr_lmdb_err(ec, rc, "proj", dir, "reader_check");
                goto err_free;
        }
        err = proj_init(proj, ec);
        if (err)
                goto err_free;
        *projp = proj;
        return SR_OK;

err_free:
        if (proj->env)
                mdb_env_close(proj->env);
        sr_codec_destroy(proj->codec);
        free(proj->dir);
        free(proj);
        return err;
}

void sr_proj_close(sr_proj_t *proj)
{
        if (!proj)
                return;
        /* NOMETASYNC leaves the last meta page unsynced: flush it. */
        mdb_env_sync(proj->env, 1);
        mdb_env_close(proj->env);
        sr_codec_destroy(proj->codec);
        free(proj->enc.p);
        free(proj->dir);
        free(proj);
}

/* ------------------------------------------------------------ writes */

sr_err_t sr_proj_clear(sr_proj_t *proj, sr_errctx_t *ec)
{
        MDB_txn *txn;
        int rc;

        if (proj->write_open)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "proj %s: clear: a batch is open",
                                     proj->dir);
        rc = mdb_txn_begin(proj->env, NULL, 0, &txn);
        if (rc)
                return sr_lmdb_err(ec, rc, "proj", proj->dir, "clear: txn_begin");
        rc = empty_all(proj, txn);
        if (rc) {
                mdb_txn_abort(txn);
                return sr_lmdb_err(ec, rc, "proj", proj->dir, "clear");
        }
        rc = mdb_txn_commit(txn); /* frees txn, also on failure */
        return rc ? sr_lmdb_err(ec, rc, "proj", proj->dir, "clear: txn_commit") : SR_OK;
}

sr_err_t sr_proj_begin(sr_proj_t *proj, sr_proj_txn_t **txnp,
                       sr_errctx_t *ec)
{
        sr_proj_txn_t *txn;
        int rc;

        if (proj->write_open)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "proj %s: begin: a batch is already "
                                     "open",
                                     proj->dir);
        txn = malloc(sizeof(*txn));
        if (!txn)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "proj %s: malloc",
                                     proj->dir);
        txn->proj = proj;
        txn->failed = false;
        rc = mdb_txn_begin(proj->env, NULL, 0, &txn->mtxn);
        if (rc) {
                free(txn);
                return sr_lmdb_err(ec, rc, "proj", proj->dir, "txn_begin");
        }
        proj->write_open = true;
        *txnp = txn;
        return SR_OK;
}

static void txn_release(sr_proj_txn_t *txn)
{
        txn->proj->write_open = false;
        free(txn);
}

sr_err_t sr_proj_commit(sr_proj_txn_t *txn, sr_errctx_t *ec)
{
        sr_proj_t *proj = txn->proj;
        int rc;

        if (txn->failed) {
                mdb_txn_abort(txn->mtxn);
                txn_release(txn);
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "proj %s: commit: a write failed in "
                                     "this batch; it was aborted",
                                     proj->dir);
        }
        /* Frees the LMDB txn on failure too: no abort after this. */
        rc = mdb_txn_commit(txn->mtxn);
        txn_release(txn);
        if (rc)
                return sr_lmdb_err(ec, rc, "proj", proj->dir, "txn_commit");
        return SR_OK;
}

void sr_proj_abort(sr_proj_txn_t *txn)
{
        if (!txn)
                return;
        mdb_txn_abort(txn->mtxn);
        txn_release(txn);
}

static void offset_key(uint8_t key[5], int32_t partition)
{
        key[0] = 'o';
        sr_lmdb_put_be32(key + 1, (uint32_t)partition);
}

static int offset_get(const sr_proj_t *proj, MDB_txn *txn, int32_t partition,
                      int64_t *next)
{
        uint8_t kb[5];
        MDB_val k, v;
        int rc;

        offset_key(kb, partition);
        k = sr_lmdb_val(kb, sizeof(kb));
        rc = mdb_get(txn, proj->dbi[DBI_META], &k, &v);
        *next = -1;
        if (rc == MDB_NOTFOUND)
                return 0;
        if (rc)
                return rc;
        if (v.mv_size != 8)
                return MDB_CORRUPTED;
        *next = (int64_t)sr_lmdb_get_be64(v.mv_data);
        return 0;
}

/* Load the stored entity @p id (if any) and compute its index entries;
 * its changelog key is copied to @p clkey (SR_PROJ_KEY_MAX bytes).
 * @returns 0 (found), MDB_NOTFOUND, MDB_CORRUPTED, or an LMDB error. */
static int load_old(const sr_proj_t *proj, MDB_txn *txn, const sr_uuid_t *id,
                    struct ients *out, uint8_t *clkey, size_t *clkey_len)
{
        MDB_val k = sr_lmdb_val(id->b, ID_LEN), v;
        struct stored s;
        sr_entity_t e;
        int rc;

        out->n = 0;
        rc = mdb_get(txn, proj->dbi[DBI_ENT], &k, &v);
        if (rc)
                return rc;
        if (!parse_stored(&v, &s) || s.clkey_len > SR_PROJ_KEY_MAX ||
            dec_entity(&s, &e, false) != SR_OK)
                return MDB_CORRUPTED;
        memcpy(clkey, s.clkey, s.clkey_len);
        *clkey_len = s.clkey_len;
        ients_of(&e, out);
        return 0;
}

/* Delete entity @p id, its index entries (@p ients) and its changelog
 * key mapping. */
static int remove_entity(const sr_proj_t *proj, MDB_txn *txn,
                         const sr_uuid_t *id, const struct ients *ients,
                         const uint8_t *clkey, size_t clkey_len)
{
        struct ients none = { 0 };
        MDB_val k;
        int rc;

        rc = idx_move(proj, txn, ients, &none);
        if (rc)
                return rc;
        k = sr_lmdb_val(id->b, ID_LEN);
        rc = mdb_del(txn, proj->dbi[DBI_ENT], &k, NULL);
        if (rc && rc != MDB_NOTFOUND)
                return rc;
        k = sr_lmdb_val(clkey, clkey_len);
        rc = mdb_del(txn, proj->dbi[DBI_CLKEY], &k, NULL);
        return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The id a changelog key maps to. @returns 0, MDB_NOTFOUND, or an error. */
static int clkey_get(const sr_proj_t *proj, MDB_txn *txn, sr_slice_t key,
                     sr_uuid_t *id)
{
        MDB_val k = sr_lmdb_val(key.ptr, key.len), v;
        int rc = mdb_get(txn, proj->dbi[DBI_CLKEY], &k, &v);

        if (rc)
                return rc;
        if (v.mv_size != ID_LEN)
                return MDB_CORRUPTED;
        memcpy(id->b, v.mv_data, ID_LEN);
        return 0;
}

static sr_err_t apply_tombstone(sr_proj_txn_t *txn, sr_slice_t key,
                                sr_errctx_t *ec)
{
        const sr_proj_t *proj = txn->proj;
        uint8_t old_key[SR_PROJ_KEY_MAX];
        size_t old_len = 0;
        sr_uuid_t id;
        MDB_val k;
        int rc;

        if (key.len == 0 || key.len > SR_PROJ_KEY_MAX)
                return SR_OK; /* never an entity key of ours */
        rc = clkey_get(proj, txn->mtxn, key, &id);
        if (rc == MDB_NOTFOUND)
                return SR_OK; /* dedupe entry, marker, or unknown */
        if (!rc) {
                rc = load_old(proj, txn->mtxn, &id, &txn->old, old_key,
                              &old_len);
                if (rc == MDB_NOTFOUND) {
                        /* A dangling mapping: drop it. */
                        k = sr_lmdb_val(key.ptr, key.len);
                        rc = mdb_del(txn->mtxn, proj->dbi[DBI_CLKEY], &k,
                                     NULL);
                        goto out;
                }
        }
        if (rc == MDB_CORRUPTED)
                return sr_lmdb_err(ec, rc, "proj", proj->dir, "tombstone: stored entity");
        if (!rc)
                rc = remove_entity(proj, txn->mtxn, &id, &txn->old, key.ptr,
                                   key.len);
out:
        if (rc) {
                txn->failed = true;
                return sr_lmdb_err(ec, rc, "proj", proj->dir, "tombstone");
        }
        return SR_OK;
}

static sr_err_t apply_entity(sr_proj_txn_t *txn, sr_slice_t key,
                             const sr_entity_t *e, sr_errctx_t *ec)
{
        sr_proj_t *proj = txn->proj;
        uint8_t old_key[SR_PROJ_KEY_MAX], other_key[SR_PROJ_KEY_MAX];
        size_t old_len = 0, other_len = 0;
        bool has_other = false, same_key;
        sr_uuid_t id, other;
        const char *op = "read";
        uint32_t ver;
        MDB_val k, v;
        int rc;

        if (key.len == 0 || key.len > SR_PROJ_KEY_MAX)
                return sr_errctx_set(ec, SR_ERR_CORRUPT,
                                     "proj %s: entity key of %zu bytes "
                                     "(1..%d)",
                                     proj->dir, key.len, SR_PROJ_KEY_MAX);
        entity_id(e, &id, &ver);
        enc_entity(&proj->enc, e, key);
        if (proj->enc.oom)
                return sr_errctx_set(ec, SR_ERR_NOMEM,
                                     "proj %s: encode entity", proj->dir);
        ients_of(e, &txn->cur);

        /* Reads first: a corrupt store fails before anything changed. */
        rc = clkey_get(proj, txn->mtxn, key, &other);
        if (!rc && !sr_uuid_eq(&other, &id)) {
                /* The key named another entity (never in practice). */
                has_other = true;
                rc = load_old(proj, txn->mtxn, &other, &txn->other,
                              other_key, &other_len);
                if (rc == MDB_NOTFOUND) {
                        txn->other.n = 0;
                        memcpy(other_key, key.ptr, key.len);
                        other_len = key.len;
                        rc = 0;
                }
        }
        if (rc && rc != MDB_NOTFOUND)
                return sr_lmdb_err(ec, rc, "proj", proj->dir, "read key map");
        rc = load_old(proj, txn->mtxn, &id, &txn->old, old_key, &old_len);
        if (rc && rc != MDB_NOTFOUND)
                return sr_lmdb_err(ec, rc, "proj", proj->dir, "read entity");
        same_key = !rc && old_len == key.len &&
                   !memcmp(old_key, key.ptr, key.len);

        /* Writes: any failure leaves the batch unusable. */
        op = "remove other";
        rc = has_other ? remove_entity(proj, txn->mtxn, &other, &txn->other,
                                       other_key, other_len) :
                         0;
        if (!rc && old_len && !same_key) {
                op = "remove old key";
                k = sr_lmdb_val(old_key, old_len);
                rc = mdb_del(txn->mtxn, proj->dbi[DBI_CLKEY], &k, NULL);
                if (rc == MDB_NOTFOUND)
                        rc = 0;
        }
        if (!rc && (!same_key || has_other)) {
                op = "put key map";
                k = sr_lmdb_val(key.ptr, key.len);
                v = sr_lmdb_val(id.b, ID_LEN);
                rc = mdb_put(txn->mtxn, proj->dbi[DBI_CLKEY], &k, &v, 0);
        }
        if (!rc) {
                op = "put entity";
                k = sr_lmdb_val(id.b, ID_LEN);
                v = sr_lmdb_val(proj->enc.p, proj->enc.len);
                rc = mdb_put(txn->mtxn, proj->dbi[DBI_ENT], &k, &v, 0);
        }
        if (!rc) {
                op = "index";
                rc = idx_move(proj, txn->mtxn, &txn->old, &txn->cur);
        }
        if (rc) {
                txn->failed = true;
                return sr_lmdb_err(ec, rc, "proj", proj->dir, op);
        }
        return SR_OK;
}

/* Common checks of apply and skip. @returns SR_OK with *stale set when
 * @p offset was applied already. */
static sr_err_t apply_check(sr_proj_txn_t *txn, int32_t partition,
                            int64_t offset, bool *stale, sr_errctx_t *ec)
{
        sr_proj_t *proj = txn->proj;
        int64_t next;
        int rc;

        if (txn->failed)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "proj %s: apply: an earlier write "
                                     "failed in this batch",
                                     proj->dir);
        if (partition < 0 || offset < 0 || offset == INT64_MAX)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "proj %s: apply: partition %d offset "
                                     "%" PRId64,
                                     proj->dir, (int)partition, offset);
        rc = offset_get(proj, txn->mtxn, partition, &next);
        if (rc)
                return sr_lmdb_err(ec, rc, "proj", proj->dir, "read offset");
        *stale = offset < next;
        if (*stale)
                atomic_fetch_add_explicit(&proj->skipped, 1,
                                          memory_order_relaxed);
        return SR_OK;
}

static sr_err_t offset_put(sr_proj_txn_t *txn, int32_t partition,
                           int64_t next, sr_errctx_t *ec)
{
        uint8_t kb[5], ob[8];
        MDB_val k, v;
        int rc;

        offset_key(kb, partition);
        sr_lmdb_put_be64(ob, (uint64_t)next);
        k = sr_lmdb_val(kb, sizeof(kb));
        v = sr_lmdb_val(ob, sizeof(ob));
        rc = mdb_put(txn->mtxn, txn->proj->dbi[DBI_META], &k, &v, 0);
        if (rc) {
                txn->failed = true;
                return sr_lmdb_err(ec, rc, "proj", txn->proj->dir, "put offset");
        }
        return SR_OK;
}

sr_err_t sr_proj_apply(sr_proj_txn_t *txn, int32_t partition, int64_t offset,
                       sr_slice_t key, sr_slice_t value, sr_errctx_t *ec)
{
        sr_proj_t *proj = txn->proj;
        sr_changelog_t cl;
        bool stale = false;
        sr_err_t err;

        err = apply_check(txn, partition, offset, &stale, ec);
        if (err || stale)
                return err;
        if (!value.ptr) {
                err = apply_tombstone(txn, key, ec);
        } else {
                err = sr_codec_decode_changelog(proj->codec, value, &cl, ec);
                /* Undecodable, whatever the codec's class: CORRUPT. */
                if (err == SR_ERR_SCHEMA)
                        err = SR_ERR_CORRUPT;
                if (ec && err == SR_ERR_CORRUPT)
                        ec->code = err;
                if (!err && cl.kind == SR_CL_ENTITY) {
                        err = apply_entity(txn, key, &cl.u.entity, ec);
                        sr_entity_fini(&cl.u.entity);
                }
        }
        if (err) {
                sr_errctx_prefix(ec, "proj: partition %d offset %" PRId64,
                                 (int)partition, offset);
                return err;
        }
        err = offset_put(txn, partition, offset + 1, ec);
        if (!err)
                atomic_fetch_add_explicit(&proj->applied, 1,
                                          memory_order_relaxed);
        return err;
}

sr_err_t sr_proj_skip(sr_proj_txn_t *txn, int32_t partition, int64_t offset,
                      sr_errctx_t *ec)
{
        bool stale = false;
        sr_err_t err;

        err = apply_check(txn, partition, offset, &stale, ec);
        if (err || stale)
                return err;
        return offset_put(txn, partition, offset + 1, ec);
}

/* ------------------------------------------------------------ reads */

static sr_err_t rd_begin(sr_proj_t *proj, struct rctx *rc, sr_errctx_t *ec)
{
        int r;

        rc->proj = proj;
        rc->cur = NULL;
        rc->decodes = 0;
        rc->steps = 0;
        r = mdb_txn_begin(proj->env, NULL, MDB_RDONLY, &rc->txn);
        if (r)
                return sr_lmdb_err(ec, r, "proj", proj->dir, "read txn_begin");
        return SR_OK;
}

static void rd_end(struct rctx *rc)
{
        if (rc->cur)
                mdb_cursor_close(rc->cur);
        mdb_txn_abort(rc->txn);
        if (rc->decodes)
                atomic_fetch_add_explicit(&rc->proj->decodes, rc->decodes,
                                          memory_order_relaxed);
        if (rc->steps)
                atomic_fetch_add_explicit(&rc->proj->key_steps, rc->steps,
                                          memory_order_relaxed);
}

static sr_err_t not_found(sr_errctx_t *ec, const char *what,
                          const sr_uuid_t *id)
{
        char buf[SR_UUID_STR_LEN + 1];

        return sr_errctx_set(ec, SR_ERR_NOT_FOUND, "proj: %s %s: not found",
                             what, uuid_text(id, buf));
}

/* Load and decode entity @p id of @p type into @p e.
 * @returns SR_OK, SR_ERR_NOT_FOUND (absent or another type),
 *          SR_ERR_CORRUPT, SR_ERR_NOMEM, SR_ERR_IO. */
static sr_err_t rd_entity(struct rctx *rc, sr_entity_type_t type,
                          const sr_uuid_t *id, sr_entity_t *e, bool want_args,
                          sr_errctx_t *ec)
{
        MDB_val k = sr_lmdb_val(id->b, ID_LEN), v;
        char buf[SR_UUID_STR_LEN + 1];
        struct stored s;
        sr_err_t err;
        int r;

        r = mdb_get(rc->txn, rc->proj->dbi[DBI_ENT], &k, &v);
        if (r == MDB_NOTFOUND)
                return not_found(ec, sr_entity_type_name(type), id);
        if (r)
                return sr_lmdb_err(ec, r, "proj", rc->proj->dir, "get");
        if (!parse_stored(&v, &s))
                goto corrupt;
        if (s.type != type)
                return not_found(ec, sr_entity_type_name(type), id);
        rc->decodes++;
        err = dec_entity(&s, e, want_args);
        if (err == SR_ERR_NOMEM)
                return sr_errctx_set(ec, err, "proj: decode: malloc");
        if (err)
                goto corrupt;
        return SR_OK;

corrupt:
        return sr_errctx_set(ec, SR_ERR_CORRUPT,
                             "proj %s: stored %s %s does not decode",
                             rc->proj->dir, sr_entity_type_name(type),
                             uuid_text(id, buf));
}

static bool tenant_is(const char *have, const char *want)
{
        return !strncmp(have, want, SR_SHORT_MAX);
}

/* The stage run @p id, if @p enterprise's. */
static sr_err_t rd_stage_owned(struct rctx *rc, const char *enterprise,
                               const sr_uuid_t *id, sr_entity_t *e,
                               sr_errctx_t *ec)
{
        sr_err_t err = rd_entity(rc, SR_ENT_STAGE_RUN, id, e, false, ec);

        if (!err && !tenant_is(e->u.sr.enterprise_id, enterprise))
                return not_found(ec, "stage_run", id);
        return err;
}

#define CHECK_ARGS(cond)                                                 \
        do {                                                             \
                if (!(cond))                                             \
                        return sr_errctx_set(ec, SR_ERR_INVALID,         \
                                             "proj: %s: NULL argument",  \
                                             __func__);                  \
        } while (0)

sr_err_t sr_proj_get_pipeline_run(sr_proj_t *proj, const char *enterprise_id,
                                  const sr_uuid_t *id, sr_pipeline_run_t *out,
                                  sr_errctx_t *ec)
{
        struct rctx rc;
        sr_entity_t e;
        sr_err_t err;

        CHECK_ARGS(proj && enterprise_id && id && out);
        err = rd_begin(proj, &rc, ec);
        if (err)
                return err;
        err = rd_entity(&rc, SR_ENT_PIPELINE_RUN, id, &e, false, ec);
        if (!err && !tenant_is(e.u.pr.enterprise_id, enterprise_id))
                err = not_found(ec, "pipeline_run", id);
        rd_end(&rc);
        if (!err)
                *out = e.u.pr;
        return err;
}

sr_err_t sr_proj_get_stage_run(sr_proj_t *proj, const char *enterprise_id,
                               const sr_uuid_t *pipeline_run_id,
                               const sr_uuid_t *id, sr_stage_run_t *out,
                               sr_errctx_t *ec)
{
        struct rctx rc;
        sr_entity_t e;
        sr_err_t err;

        CHECK_ARGS(proj && enterprise_id && id && out);
        err = rd_begin(proj, &rc, ec);
        if (err)
                return err;
        err = rd_stage_owned(&rc, enterprise_id, id, &e, ec);
        if (!err && pipeline_run_id &&
            !sr_uuid_eq(&e.u.sr.pipeline_run_id, pipeline_run_id))
                err = not_found(ec, "stage_run", id);
        rd_end(&rc);
        if (!err)
                *out = e.u.sr;
        return err;
}

/* A child of stage run @p parent: decode it, check its parent and the
 * parent's tenant. */
static sr_err_t rd_child(struct rctx *rc, const char *enterprise,
                         const sr_uuid_t *parent, sr_entity_type_t type,
                         const sr_uuid_t *id, sr_entity_t *e, sr_errctx_t *ec)
{
        const sr_uuid_t *have;
        sr_entity_t stage;
        sr_err_t err;

        err = rd_entity(rc, type, id, e, type == SR_ENT_STAGE_RUN_OPERATION,
                        ec);
        if (err)
                return err;
        have = type == SR_ENT_TARGET_RUN ? &e->u.tr.stage_run_id :
                                           &e->u.op.stage_run_id;
        if (!sr_uuid_eq(have, parent))
                err = not_found(ec, sr_entity_type_name(type), id);
        else
                err = rd_stage_owned(rc, enterprise, parent, &stage, ec);
        if (err && err != SR_ERR_NOT_FOUND) {
                sr_entity_fini(e);
                return err;
        }
        if (err) {
                sr_entity_fini(e);
                return not_found(ec, sr_entity_type_name(type), id);
        }
        return SR_OK;
}

sr_err_t sr_proj_get_operation(sr_proj_t *proj, const char *enterprise_id,
                               const sr_uuid_t *stage_run_id,
                               const sr_uuid_t *id, sr_stage_run_op_t *out,
                               sr_errctx_t *ec)
{
        struct rctx rc;
        sr_entity_t e;
        sr_err_t err;

        CHECK_ARGS(proj && enterprise_id && stage_run_id && id && out);
        err = rd_begin(proj, &rc, ec);
        if (err)
                return err;
        err = rd_child(&rc, enterprise_id, stage_run_id,
                       SR_ENT_STAGE_RUN_OPERATION, id, &e, ec);
        rd_end(&rc);
        if (!err)
                *out = e.u.op; /* takes args_json */
        return err;
}

sr_err_t sr_proj_get_target_run(sr_proj_t *proj, const char *enterprise_id,
                                const sr_uuid_t *stage_run_id,
                                const sr_uuid_t *id, sr_target_run_t *out,
                                sr_errctx_t *ec)
{
        struct rctx rc;
        sr_entity_t e;
        sr_err_t err;

        CHECK_ARGS(proj && enterprise_id && stage_run_id && id && out);
        err = rd_begin(proj, &rc, ec);
        if (err)
                return err;
        err = rd_child(&rc, enterprise_id, stage_run_id, SR_ENT_TARGET_RUN,
                       id, &e, ec);
        rd_end(&rc);
        if (!err)
                *out = e.u.tr;
        return err;
}

sr_err_t sr_proj_version(sr_proj_t *proj, sr_entity_type_t type,
                         const sr_uuid_t *id, uint32_t *version,
                         sr_errctx_t *ec)
{
        struct rctx rc;
        struct stored s;
        MDB_val k, v;
        sr_err_t err;
        int r;

        CHECK_ARGS(proj && id && version);
        err = rd_begin(proj, &rc, ec);
        if (err)
                return err;
        k = sr_lmdb_val(id->b, ID_LEN);
        r = mdb_get(rc.txn, proj->dbi[DBI_ENT], &k, &v);
        if (r == MDB_NOTFOUND)
                err = not_found(ec, sr_entity_type_name(type), id);
        else if (r)
                err = sr_lmdb_err(ec, r, "proj", proj->dir, "get");
        else if (!parse_stored(&v, &s))
                err = sr_errctx_set(ec, SR_ERR_CORRUPT,
                                    "proj %s: stored entity does not parse",
                                    proj->dir);
        else if (s.type != type)
                err = not_found(ec, sr_entity_type_name(type), id);
        else
                *version = s.version;
        rd_end(&rc);
        return err;
}

sr_err_t sr_proj_offsets(sr_proj_t *proj, int64_t *next, int32_t n_parts,
                         sr_errctx_t *ec)
{
        struct rctx rc;
        sr_err_t err;
        int r = 0;

        CHECK_ARGS(proj && (next || n_parts == 0));
        if (n_parts < 0)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "proj: offsets: %d partitions",
                                     (int)n_parts);
        err = rd_begin(proj, &rc, ec);
        if (err)
                return err;
        for (int32_t p = 0; p < n_parts && !r; p++)
                r = offset_get(proj, rc.txn, p, &next[p]);
        rd_end(&rc);
        if (r)
                return sr_lmdb_err(ec, r, "proj", proj->dir, "read offsets");
        return SR_OK;
}

/* ------------------------------------------------------------ scans */

/* A range scan over the idx keys starting with a prefix. */
struct walk {
        struct rctx *rc;
        const uint8_t *prefix;
        size_t plen;
        bool desc, started;
};

/* Position on the last key starting with the prefix. */
static int seek_last(struct walk *w, MDB_val *k, MDB_val *v)
{
        uint8_t up[IK_MAX];
        size_t n = w->plen;
        int r;

        memcpy(up, w->prefix, n);
        while (n > 0 && up[n - 1] == 0xFF)
                n--;
        if (n == 0)
                return mdb_cursor_get(w->rc->cur, k, v, MDB_LAST);
        up[n - 1]++; /* the first key after every prefixed one */
        *k = sr_lmdb_val(up, n);
        r = mdb_cursor_get(w->rc->cur, k, v, MDB_SET_RANGE);
        if (r == MDB_NOTFOUND)
                return mdb_cursor_get(w->rc->cur, k, v, MDB_LAST);
        if (r)
                return r;
        return mdb_cursor_get(w->rc->cur, k, v, MDB_PREV);
}

/* Next key of the range. @returns 0, MDB_NOTFOUND at its end, or an
 * LMDB error. */
static int walk_next(struct walk *w, MDB_val *k, MDB_val *v)
{
        int r;

        w->rc->steps++;
        if (w->started) {
                r = mdb_cursor_get(w->rc->cur, k, v,
                                   w->desc ? MDB_PREV : MDB_NEXT);
        } else if (w->desc) {
                w->started = true;
                r = seek_last(w, k, v);
        } else {
                w->started = true;
                *k = sr_lmdb_val(w->prefix, w->plen);
                r = mdb_cursor_get(w->rc->cur, k, v, MDB_SET_RANGE);
        }
        if (r)
                return r;
        if (k->mv_size < w->plen + ID_LEN ||
            memcmp(k->mv_data, w->prefix, w->plen))
                return MDB_NOTFOUND;
        return 0;
}

static int walk_start(struct rctx *rc, struct walk *w, const uint8_t *prefix,
                      size_t plen, bool desc)
{
        w->rc = rc;
        w->prefix = prefix;
        w->plen = plen;
        w->desc = desc;
        w->started = false;
        if (rc->cur)
                return 0;
        return mdb_cursor_open(rc->txn, rc->proj->dbi[DBI_IDX], &rc->cur);
}

/* Ids of a page, in order. */
struct idvec {
        sr_uuid_t *v;
        size_t n, cap;
};

static bool idvec_push(struct idvec *iv, const void *id16)
{
        if (iv->n == iv->cap) {
                size_t cap = iv->cap ? iv->cap * 2 : 32;
                sr_uuid_t *p = realloc(iv->v, cap * sizeof(*p));

                if (!p)
                        return false;
                iv->v = p;
                iv->cap = cap;
        }
        memcpy(iv->v[iv->n++].b, id16, ID_LEN);
        return true;
}

/* The id is the last 16 bytes of every idx key. */
static const uint8_t *key_id(const MDB_val *k)
{
        return (const uint8_t *)k->mv_data + k->mv_size - ID_LEN;
}

/* Skip @p skip keys of the range, then collect up to @p limit ids: at
 * most skip + limit + 1 key steps. @returns the ids collected or -1. */
static int walk_page(struct rctx *rc, const uint8_t *prefix, size_t plen,
                     bool desc, uint64_t skip, uint64_t limit,
                     struct idvec *ids, size_t *got)
{
        struct walk w;
        MDB_val k, v;
        int r;

        *got = 0;
        if (limit == 0)
                return 0;
        r = walk_start(rc, &w, prefix, plen, desc);
        while (!r && (r = walk_next(&w, &k, &v)) == 0) {
                if (skip) {
                        skip--;
                        continue;
                }
                if (!idvec_push(ids, key_id(&k)))
                        return ENOMEM;
                if (++*got == limit)
                        break;
        }
        return r == MDB_NOTFOUND ? 0 : r;
}

/* Decode the page's entities into a new array of @p size-byte items. */
static sr_err_t decode_page(struct rctx *rc, sr_entity_type_t type,
                            const struct idvec *ids, size_t size,
                            void **items, sr_errctx_t *ec)
{
        uint8_t *arr;
        sr_entity_t e;
        sr_err_t err = SR_OK;
        size_t i;

        *items = NULL;
        if (!ids->n)
                return SR_OK;
        arr = calloc(ids->n, size);
        if (!arr)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "proj: list: calloc");
        for (i = 0; i < ids->n && !err; i++) {
                err = rd_entity(rc, type, &ids->v[i], &e,
                                type == SR_ENT_STAGE_RUN_OPERATION, ec);
                if (err == SR_ERR_NOT_FOUND)
                        err = sr_errctx_set(ec, SR_ERR_CORRUPT,
                                            "proj %s: index names a "
                                            "missing %s",
                                            rc->proj->dir,
                                            sr_entity_type_name(type));
                if (!err)
                        memcpy(arr + i * size, &e.u, size);
        }
        if (err) {
                if (type == SR_ENT_STAGE_RUN_OPERATION)
                        sr_proj_ops_free((sr_stage_run_op_t *)(void *)arr,
                                         i);
                else
                        free(arr);
                return err;
        }
        *items = arr;
        return SR_OK;
}

static sr_err_t scan_err(struct rctx *rc, int r, sr_errctx_t *ec)
{
        if (r == ENOMEM)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "proj: list: malloc");
        return sr_lmdb_err(ec, r, "proj", rc->proj->dir, "list");
}

/* ------------------------------------------------------------ lists */

/* Pipeline-run summary, parsed for the in-memory sort. */
struct prsum {
        uint8_t id[ID_LEN];
        int64_t created, started, ended;
        int32_t run_number;
        uint8_t rank, name_len;
        const uint8_t *name; /* into the snapshot */
};

/* The sort keys, most significant first; key[0] is never DEFAULT. */
struct prsort {
        uint32_t n;
        sr_proj_sort_key_t key[1 + SR_PROJ_MAX_THEN];
};

static bool prsum_parse(const MDB_val *k, const MDB_val *v, struct prsum *s)
{
        const uint8_t *p = v->mv_data;

        if (v->mv_size < PRSUM_FIXED ||
            v->mv_size != (size_t)PRSUM_FIXED + p[29])
                return false;
        memcpy(s->id, key_id(k), ID_LEN);
        s->rank = p[0];
        s->run_number = (int32_t)sr_lmdb_get_be32(p + 1);
        s->created = i64_unkey(sr_lmdb_get_be64(p + 5));
        s->started = i64_unkey(sr_lmdb_get_be64(p + 13));
        s->ended = i64_unkey(sr_lmdb_get_be64(p + 21));
        s->name_len = p[29];
        s->name = p + PRSUM_FIXED;
        return true;
}

static int cmp_i64(int64_t a, int64_t b)
{
        return (a > b) - (a < b);
}

/* 0 (unset) after every set time: NULLS LAST ascending. */
static int64_t time_or_max(int64_t t)
{
        return t ? t : INT64_MAX;
}

/* One key, ascending. */
static int prsum_key_cmp(const struct prsum *a, const struct prsum *b,
                         sr_proj_order_t order)
{
        size_t n;
        int c = 0;

        switch (order) {
        case SR_PROJ_ORDER_RUN_NUMBER:
                c = cmp_i64(a->run_number, b->run_number);
                break;
        case SR_PROJ_ORDER_STATUS:
                c = cmp_i64(a->rank, b->rank);
                break;
        case SR_PROJ_ORDER_PIPELINE_NAME:
                n = a->name_len < b->name_len ? a->name_len : b->name_len;
                c = memcmp(a->name, b->name, n);
                if (!c)
                        c = cmp_i64(a->name_len, b->name_len);
                break;
        case SR_PROJ_ORDER_STARTED_AT:
                c = cmp_i64(time_or_max(a->started),
                            time_or_max(b->started));
                break;
        case SR_PROJ_ORDER_ENDED_AT:
                c = cmp_i64(time_or_max(a->ended), time_or_max(b->ended));
                break;
        case SR_PROJ_ORDER_CREATED_AT:
                c = cmp_i64(a->created, b->created);
                break;
        default:
                break;
        }
        return c;
}

/* Every key in its own direction; entries equal on all of them follow
 * (created_at, id) in the first key's direction, so that flipping every
 * key's direction gives the exact reverse order, ties included. */
static int prsum_cmp(const void *pa, const void *pb, void *arg)
{
        const struct prsum *a = pa, *b = pb;
        const struct prsort *how = arg;
        int c;

        for (uint32_t i = 0; i < how->n; i++) {
                c = prsum_key_cmp(a, b, how->key[i].order);
                if (c)
                        return how->key[i].desc ? -c : c;
        }
        c = cmp_i64(a->created, b->created);
        if (!c)
                c = memcmp(a->id, b->id, ID_LEN);
        return how->key[0].desc ? -c : c;
}

static bool str_fits(const char *s, size_t cap)
{
        return strnlen(s, cap) < cap;
}

static sr_err_t check_query(const sr_proj_query_t *q, sr_errctx_t *ec)
{
        if (q->has_status && (unsigned)q->status >= SR_ST__COUNT)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "proj: list: status %d",
                                     (int)q->status);
        if ((unsigned)q->order >= SR_PROJ_ORDER__COUNT)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "proj: list: ordering %d",
                                     (int)q->order);
        if (q->n_then > SR_PROJ_MAX_THEN ||
            (q->n_then && q->order == SR_PROJ_ORDER_DEFAULT))
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "proj: list: %u further sort keys "
                                     "after ordering %d", q->n_then,
                                     (int)q->order);
        for (uint32_t i = 0; i < q->n_then; i++)
                if (q->then[i].order == SR_PROJ_ORDER_DEFAULT ||
                    (unsigned)q->then[i].order >= SR_PROJ_ORDER__COUNT)
                        return sr_errctx_set(ec, SR_ERR_INVALID,
                                             "proj: list: sort key %u: "
                                             "ordering %d", i + 2,
                                             (int)q->then[i].order);
        return SR_OK;
}

static sr_err_t bad_order(const sr_proj_query_t *q, const char *list,
                          sr_errctx_t *ec)
{
        if (q->n_then)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "proj: list %s: one sort key at most",
                                     list);
        return sr_errctx_set(ec, SR_ERR_INVALID,
                             "proj: list %s: ordering %d not offered", list,
                             (int)q->order);
}

/* Index prefix of a pipeline-run list (see the table at the top). */
static void pr_prefix(struct ient *ie, const char *enterprise,
                      const sr_proj_query_t *q)
{
        uint8_t tag;

        if (q->pipeline_id)
                tag = q->has_status ? TAG_PR_PIPE_ST : TAG_PR_PIPE;
        else if (q->pipeline_name)
                tag = q->has_status ? TAG_PR_NAME_ST : TAG_PR_NAME;
        else
                tag = q->has_status ? TAG_PR_ST : TAG_PR;
        ie->klen = 0;
        k_u8(ie, tag);
        k_str8(ie, enterprise, SR_SHORT_MAX);
        if (q->pipeline_id)
                k_bytes(ie, q->pipeline_id->b, ID_LEN);
        else if (q->pipeline_name)
                k_str8(ie, q->pipeline_name, SR_NAME_MAX);
        if (q->has_status)
                k_u8(ie, status_rank(q->status));
        ie->plen = ie->klen;
}

/* Every matching summary, in key (created_at) order. */
static int pr_collect(struct rctx *rc, const struct ient *pre,
                      const char *name, struct prsum **out, size_t *n)
{
        size_t cap = 0, name_len = name ? strlen(name) : 0;
        struct prsum *arr = NULL, s, *p;
        struct walk w;
        MDB_val k, v;
        int r;

        *n = 0;
        r = walk_start(rc, &w, pre->key, pre->plen, false);
        while (!r && (r = walk_next(&w, &k, &v)) == 0) {
                if (!prsum_parse(&k, &v, &s)) {
                        r = MDB_CORRUPTED;
                        break;
                }
                if (name && (s.name_len != name_len ||
                             memcmp(s.name, name, name_len)))
                        continue;
                if (*n == cap) {
                        cap = cap ? cap * 2 : 64;
                        p = realloc(arr, cap * sizeof(*arr));
                        if (!p) {
                                r = ENOMEM;
                                break;
                        }
                        arr = p;
                }
                arr[(*n)++] = s;
        }
        *out = arr;
        return r == MDB_NOTFOUND ? 0 : r;
}

sr_err_t sr_proj_list_pipeline_runs(sr_proj_t *proj, const char *enterprise_id,
                                    const sr_proj_query_t *q,
                                    sr_pipeline_run_t **items, size_t *n,
                                    uint64_t *count, sr_errctx_t *ec)
{
        struct prsort how = { 0 };
        struct idvec ids = { 0 };
        struct prsum *sums = NULL;
        struct ient pre;
        struct rctx rc;
        uint64_t total = 0;
        size_t got, n_sums, i;
        void *arr = NULL;
        sr_err_t err;
        int r;

        CHECK_ARGS(proj && enterprise_id && q && items && n && count);
        err = check_query(q, ec);
        if (err)
                return err;
        if (!str_fits(enterprise_id, SR_SHORT_MAX) ||
            (q->pipeline_name && !str_fits(q->pipeline_name, SR_NAME_MAX))) {
                *items = NULL; /* no stored run can have these */
                *n = 0;
                *count = 0;
                return SR_OK;
        }
        how.n = 1 + q->n_then;
        how.key[0].order = q->order;
        how.key[0].desc = q->desc;
        memcpy(how.key + 1, q->then, q->n_then * sizeof(q->then[0]));
        if (q->order == SR_PROJ_ORDER_DEFAULT) {
                how.key[0].order = SR_PROJ_ORDER_CREATED_AT;
                how.key[0].desc = true;
        }
        pr_prefix(&pre, enterprise_id, q);
        err = rd_begin(proj, &rc, ec);
        if (err)
                return err;
        if (how.n == 1 && how.key[0].order == SR_PROJ_ORDER_CREATED_AT &&
            !(q->pipeline_id && q->pipeline_name)) {
                /* The index order itself: a page is offset + limit steps. */
                r = cnt_get(rc.txn, proj->dbi[DBI_CNT], pre.key, pre.plen,
                            &total);
                if (!r)
                        r = walk_page(&rc, pre.key, pre.plen, how.key[0].desc,
                                      q->offset, q->limit, &ids, &got);
        } else {
                /* Filter and sort summaries: n steps, no decodes. */
                r = pr_collect(&rc, &pre,
                               q->pipeline_id ? q->pipeline_name : NULL,
                               &sums, &n_sums);
                if (!r) {
                        total = n_sums;
                        if (n_sums > 1)
                                qsort_r(sums, n_sums, sizeof(*sums),
                                        prsum_cmp, &how);
                        for (i = q->offset; i < n_sums &&
                                            ids.n < q->limit; i++)
                                if (!idvec_push(&ids, sums[i].id)) {
                                        r = ENOMEM;
                                        break;
                                }
                }
        }
        if (r)
                err = scan_err(&rc, r, ec);
        else
                err = decode_page(&rc, SR_ENT_PIPELINE_RUN, &ids,
                                  sizeof(sr_pipeline_run_t), &arr, ec);
        rd_end(&rc);
        free(sums);
        if (!err) {
                *items = arr;
                *n = ids.n;
                *count = total;
        }
        free(ids.v);
        return err;
}

/* Stage runs and operations: few per parent. Without a status filter the
 * counter and a page walk; with one, a walk over the parent's entries
 * reading the status rank from the index value. */
static int small_list(struct rctx *rc, uint8_t tag, const sr_uuid_t *parent,
                      const sr_proj_query_t *q, struct idvec *ids,
                      uint64_t *total)
{
        uint8_t pre[1 + ID_LEN];
        uint8_t want = q->has_status ? status_rank(q->status) : 0;
        uint64_t idx = 0;
        struct walk w;
        MDB_val k, v;
        size_t got;
        int r;

        pre[0] = tag;
        memcpy(pre + 1, parent->b, ID_LEN);
        if (!q->has_status) {
                r = cnt_get(rc->txn, rc->proj->dbi[DBI_CNT], pre, sizeof(pre),
                            total);
                return r ? r : walk_page(rc, pre, sizeof(pre), false,
                                         q->offset, q->limit, ids, &got);
        }
        *total = 0;
        r = walk_start(rc, &w, pre, sizeof(pre), false);
        while (!r && (r = walk_next(&w, &k, &v)) == 0) {
                if (v.mv_size != 1) {
                        r = MDB_CORRUPTED;
                        break;
                }
                if (*(const uint8_t *)v.mv_data != want)
                        continue;
                ++*total;
                if (idx++ >= q->offset && ids->n < q->limit &&
                    !idvec_push(ids, key_id(&k))) {
                        r = ENOMEM;
                        break;
                }
        }
        return r == MDB_NOTFOUND ? 0 : r;
}

sr_err_t sr_proj_list_stage_runs(sr_proj_t *proj, const char *enterprise_id,
                                 const sr_uuid_t *pipeline_run_id,
                                 const sr_proj_query_t *q,
                                 sr_stage_run_t **items, size_t *n,
                                 uint64_t *count, sr_errctx_t *ec)
{
        struct idvec ids = { 0 };
        uint64_t total = 0;
        struct rctx rc;
        void *arr = NULL;
        sr_entity_t run;
        sr_err_t err;
        int r;

        CHECK_ARGS(proj && enterprise_id && pipeline_run_id && q && items &&
                   n && count);
        err = check_query(q, ec);
        if (err)
                return err;
        if (q->order != SR_PROJ_ORDER_DEFAULT)
                return bad_order(q, "stage_runs", ec);
        err = rd_begin(proj, &rc, ec);
        if (err)
                return err;
        err = rd_entity(&rc, SR_ENT_PIPELINE_RUN, pipeline_run_id, &run,
                        false, ec);
        if (!err && !tenant_is(run.u.pr.enterprise_id, enterprise_id))
                err = not_found(ec, "pipeline_run", pipeline_run_id);
        if (!err) {
                r = small_list(&rc, TAG_SR, pipeline_run_id, q, &ids, &total);
                err = r ? scan_err(&rc, r, ec) :
                          decode_page(&rc, SR_ENT_STAGE_RUN, &ids,
                                      sizeof(sr_stage_run_t), &arr, ec);
        }
        rd_end(&rc);
        if (!err) {
                *items = arr;
                *n = ids.n;
                *count = total;
        }
        free(ids.v);
        return err;
}

sr_err_t sr_proj_list_operations(sr_proj_t *proj, const char *enterprise_id,
                                 const sr_uuid_t *stage_run_id,
                                 const sr_proj_query_t *q,
                                 sr_stage_run_op_t **items, size_t *n,
                                 uint64_t *count, sr_errctx_t *ec)
{
        struct idvec ids = { 0 };
        uint64_t total = 0;
        struct rctx rc;
        void *arr = NULL;
        sr_entity_t stage;
        sr_err_t err;
        int r;

        CHECK_ARGS(proj && enterprise_id && stage_run_id && q && items && n &&
                   count);
        err = check_query(q, ec);
        if (err)
                return err;
        if (q->has_status)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "proj: list operations: no status");
        if (q->order != SR_PROJ_ORDER_DEFAULT)
                return bad_order(q, "operations", ec);
        err = rd_begin(proj, &rc, ec);
        if (err)
                return err;
        err = rd_stage_owned(&rc, enterprise_id, stage_run_id, &stage, ec);
        if (!err) {
                r = small_list(&rc, TAG_OP, stage_run_id, q, &ids, &total);
                err = r ? scan_err(&rc, r, ec) :
                          decode_page(&rc, SR_ENT_STAGE_RUN_OPERATION, &ids,
                                      sizeof(sr_stage_run_op_t), &arr, ec);
        }
        rd_end(&rc);
        if (!err) {
                *items = arr;
                *n = ids.n;
                *count = total;
        }
        free(ids.v);
        return err;
}

void sr_proj_ops_free(sr_stage_run_op_t *ops, size_t n)
{
        if (!ops)
                return;
        for (size_t i = 0; i < n; i++)
                free(ops[i].args_json);
        free(ops);
}

/* Target runs ordered by status without a status filter: one bucket per
 * status, in rank order; the counters skip whole buckets. */
static int tr_by_status(struct rctx *rc, const uint8_t *base, size_t blen,
                        const sr_proj_query_t *q, struct idvec *ids,
                        uint64_t *total)
{
        uint64_t counts[SR_ST__COUNT], skip = q->offset;
        uint8_t pre[IK_MAX];
        size_t got;
        int r = 0, i;

        memcpy(pre, base, blen);
        *total = 0;
        for (i = 0; i < SR_ST__COUNT && !r; i++) {
                pre[blen] = (uint8_t)i;
                r = cnt_get(rc->txn, rc->proj->dbi[DBI_CNT], pre, blen + 1,
                            &counts[i]);
                *total += counts[i];
        }
        for (i = 0; i < SR_ST__COUNT && !r && ids->n < q->limit; i++) {
                int b = q->desc ? SR_ST__COUNT - 1 - i : i;

                if (skip >= counts[b]) {
                        skip -= counts[b];
                        continue;
                }
                pre[blen] = (uint8_t)b;
                r = walk_page(rc, pre, blen + 1, q->desc, skip,
                              q->limit - ids->n, ids, &got);
                skip = 0;
        }
        return r;
}

sr_err_t sr_proj_list_target_runs(sr_proj_t *proj, const char *enterprise_id,
                                  const sr_uuid_t *stage_run_id,
                                  const sr_proj_query_t *q,
                                  sr_target_run_t **items, size_t *n,
                                  uint64_t *count, sr_errctx_t *ec)
{
        struct idvec ids = { 0 };
        uint8_t pre[2 + 2 * ID_LEN];
        size_t plen = 0, got;
        uint64_t total = 0;
        struct rctx rc;
        void *arr = NULL;
        sr_entity_t stage;
        sr_err_t err;
        bool desc;
        int r;

        CHECK_ARGS(proj && enterprise_id && stage_run_id && q && items && n &&
                   count);
        err = check_query(q, ec);
        if (err)
                return err;
        if ((q->order != SR_PROJ_ORDER_DEFAULT &&
             q->order != SR_PROJ_ORDER_STATUS) || q->n_then)
                return bad_order(q, "target_runs", ec);
        if (q->operation_id)
                pre[plen++] = q->has_status ? TAG_TR_OP_ST : TAG_TR_OP;
        else
                pre[plen++] = q->has_status ? TAG_TR_ST : TAG_TR;
        memcpy(pre + plen, stage_run_id->b, ID_LEN);
        plen += ID_LEN;
        if (q->operation_id) {
                memcpy(pre + plen, q->operation_id->b, ID_LEN);
                plen += ID_LEN;
        }
        if (q->has_status)
                pre[plen++] = status_rank(q->status);
        err = rd_begin(proj, &rc, ec);
        if (err)
                return err;
        err = rd_stage_owned(&rc, enterprise_id, stage_run_id, &stage, ec);
        if (err)
                goto out;
        if (q->order == SR_PROJ_ORDER_STATUS && !q->has_status) {
                /* The status-bucketed twin of the chosen index. */
                pre[0] = q->operation_id ? TAG_TR_OP_ST : TAG_TR_ST;
                r = tr_by_status(&rc, pre, plen, q, &ids, &total);
        } else {
                /* One status (or the default order): desc reverses it. */
                desc = q->order == SR_PROJ_ORDER_STATUS && q->desc;
                r = cnt_get(rc.txn, proj->dbi[DBI_CNT], pre, plen, &total);
                if (!r)
                        r = walk_page(&rc, pre, plen, desc, q->offset,
                                      q->limit, &ids, &got);
        }
        err = r ? scan_err(&rc, r, ec) :
                  decode_page(&rc, SR_ENT_TARGET_RUN, &ids,
                              sizeof(sr_target_run_t), &arr, ec);
out:
        rd_end(&rc);
        if (!err) {
                *items = arr;
                *n = ids.n;
                *count = total;
        }
        free(ids.v);
        return err;
}

/* ------------------------------------------------------------ misc */

bool sr_proj_order_parse(const char *s, size_t len, sr_proj_order_t *order,
                         bool *desc)
{
        static const struct {
                const char *name;
                sr_proj_order_t order;
        } names[] = {
                { "created_at", SR_PROJ_ORDER_CREATED_AT },
                { "run_number", SR_PROJ_ORDER_RUN_NUMBER },
                { "status", SR_PROJ_ORDER_STATUS },
                { "pipeline__name", SR_PROJ_ORDER_PIPELINE_NAME },
                { "started_at", SR_PROJ_ORDER_STARTED_AT },
                { "ended_at", SR_PROJ_ORDER_ENDED_AT },
        };
        bool minus = len > 0 && s[0] == '-';

        if (minus) {
                s++;
                len--;
        }
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                if (strlen(names[i].name) == len &&
                    !memcmp(names[i].name, s, len)) {
                        *order = names[i].order;
                        *desc = minus;
                        return true;
                }
        }
        return false;
}

void sr_proj_stats(sr_proj_t *proj, sr_proj_stats_t *out)
{
        out->applied = atomic_load_explicit(&proj->applied,
                                            memory_order_relaxed);
        out->skipped = atomic_load_explicit(&proj->skipped,
                                            memory_order_relaxed);
        out->decodes = atomic_load_explicit(&proj->decodes,
                                            memory_order_relaxed);
        out->key_steps = atomic_load_explicit(&proj->key_steps,
                                              memory_order_relaxed);
}
