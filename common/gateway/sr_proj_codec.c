/* common/gateway/sr_proj_codec.c - the projection's stored entities: the
 * byte writer and bounds-checked reader, and the encoding and decoding of
 * every entity type (format: sr_proj_int.h). */
#include "sr_proj_int.h"

#include <stdlib.h>
#include <string.h>

#include "sr_lmdb.h"

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

void sr_proj__entity_id(const sr_entity_t *e, sr_uuid_t *id, uint32_t *ver)
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

/* An open stage run's tail (sr_proj_int.h): only an open stage has one,
 * so a closed stage's body is as format 2 wrote it. */
#define OPEN_APPEND 1u
#define OPEN_SEALED 2u

static void enc_open_stage(struct wbuf *w, const sr_stage_run_t *sr)
{
        w_u8(w, (uint8_t)(OPEN_APPEND | (sr->sealed ? OPEN_SEALED : 0)));
        w_i64(w, sr->expected_targets);
        w_u32(w, sr->chunks_applied);
        w_u32(w, sr->targets_appended);
        w_u32(w, sr->seal_chunks);
        w_u32(w, sr->seal_count);
        w_bytes(w, sr->seal_digest, SR_DIGEST_LEN);
}

static void dec_open_stage(struct rbuf *r, sr_stage_run_t *sr)
{
        uint8_t flags = r_u8(r);
        const uint8_t *d;

        if (!(flags & OPEN_APPEND) || flags & ~(OPEN_APPEND | OPEN_SEALED)) {
                r->bad = true; /* a tail says open: a flag we do not know */
                return;
        }
        sr->append_targets = true;
        sr->sealed = (flags & OPEN_SEALED) != 0;
        sr->expected_targets = r_i64(r);
        sr->chunks_applied = r_u32(r);
        sr->targets_appended = r_u32(r);
        sr->seal_chunks = r_u32(r);
        sr->seal_count = r_u32(r);
        d = r_take(r, SR_DIGEST_LEN);
        if (d)
                memcpy(sr->seal_digest, d, SR_DIGEST_LEN);
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
                if (sr->append_targets)
                        enc_open_stage(w, sr);
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

void sr_proj__enc_entity(struct wbuf *w, const sr_entity_t *e,
                         sr_slice_t clkey)
{
        sr_uuid_t id;
        uint32_t ver;

        sr_proj__entity_id(e, &id, &ver);
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

bool sr_proj__parse_stored(const MDB_val *v, struct stored *s)
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
sr_err_t sr_proj__dec_entity(const struct stored *s, sr_entity_t *e,
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
                if (!r.bad && r.pos < r.len)
                        dec_open_stage(&r, sr);
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
