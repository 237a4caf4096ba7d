/* common/codec/sr_codec_fast.c - hand-written Avro encoders of the worker's hot
 * records: io.sr.v1.StatusChangeEvent and io.sr.v1.ChangelogRecord (every
 * branch, in the version sr_codec__cl_fits_v1() picks: version 1 for all
 * but an open stage's stage run and a chunk, version 2 for those; what
 * only version 3 carries, a definition's entity or a dedupe entry whose
 * reply has a definition part, is handed to the avro-c path). They
 * write with sr_avro_enc.h instead of building an avro-c generic value
 * (by-name field lookups, copies, allocations) and writing it.
 *
 * Contract: for every input the output is byte for byte what the avro-c
 * implementations (sr_codec__encode_event_avro, sr_codec__encode_changelog_avro
 * in sr_codec_records.c / sr_codec_changelog.c) give, in the same version
 * of the schema, and an input they refuse is refused with the same code and
 * message. tests/unit/codec/test_sr_codec_fast.c checks both on random
 * records, open stage runs and chunks (version 2) among them.
 *
 * How that holds:
 * - Fields are written in schema order (the .avsc files); the avro-c code
 *   sets them in that same order, so checking each field as it is written
 *   reports the same first error. The one check the avro-c code makes ahead
 *   of its fields (pipeline run last_seq, event seq, reply reason and
 *   version count, changelog kind) is made ahead here too.
 * - The checks and messages are those of the sr_codec__set_* helpers
 *   (sr_codec.c) and of the *_to functions, with the same prefixes.
 * - Arrays are written as avro-c writes them: one block of n items then a
 *   0 count, or only the 0 count when empty.
 * Change a schema, its avro-c encoder and this file together.
 *
 * Also here: a hand-written reader of io.sr.v1.TargetRunResult that
 * sr_codec_decode_result() tries before the avro-c path (see "results").
 */
#include "sr_codec_int.h"

#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "sr_avro_enc.h"

/* Stack storage per call: holds any event and most changelog records
 * (a stage run with many targets grows onto the heap). */
#define FAST_INLINE_CAP 2048

/* ---------------------------------------------------------- field puts */

/* The checks of sr_codec.c's val_set_str(): a string field. */
static sr_err_t put_str(sr_avro_enc_t *e, const char *name, const char *src,
                        size_t cap, sr_errctx_t *ec)
{
        size_t len;
        sr_err_t err = sr_codec__str_check(name, src, cap, &len, ec);

        if (err)
                return err;
        sr_avro_put_string(e, src, len);
        return SR_OK;
}

/* ["null","string"]: NULL gives null. */
static sr_err_t put_opt_str(sr_avro_enc_t *e, const char *name,
                            const char *src, size_t cap, sr_errctx_t *ec)
{
        if (!src) {
                sr_avro_put_null_union(e);
                return SR_OK;
        }
        sr_avro_put_branch(e, 1);
        return put_str(e, name, src, cap, ec);
}

/* ["null", uuid]: the nil uuid gives null. */
static void put_opt_uuid(sr_avro_enc_t *e, const sr_uuid_t *u)
{
        if (sr_uuid_is_nil(u)) {
                sr_avro_put_null_union(e);
                return;
        }
        sr_avro_put_branch(e, 1);
        sr_avro_put_uuid(e, u);
}

/* sr_codec__set_u32() on an "int" field. ("long" fields take any u32:
 * sr_avro_put_long directly.) */
static sr_err_t put_u32_int(sr_avro_enc_t *e, const char *name, uint32_t v,
                            sr_errctx_t *ec)
{
        if (v > INT32_MAX)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field %s: %" PRIu32 " out of range "
                                     "(at most %d)", name, v, INT32_MAX);
        sr_avro_put_int(e, (int32_t)v);
        return SR_OK;
}

static sr_err_t put_enum(sr_avro_enc_t *e, const char *name, int v, int n,
                         sr_errctx_t *ec)
{
        if (v < 0 || v >= n)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field %s: enum value %d out of range",
                                     name, v);
        sr_avro_put_enum(e, v);
        return SR_OK;
}

static sr_err_t put_status(sr_avro_enc_t *e, const char *name,
                           sr_status_t st, bool allow_none, sr_errctx_t *ec)
{
        const char *text;

        if ((unsigned)st >= SR_ST__COUNT || (st == SR_ST_NONE && !allow_none))
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field %s: status %d cannot be sent",
                                     name, (int)st);
        text = sr_status_name(st);
        sr_avro_put_string(e, text, strlen(text));
        return SR_OK;
}

/* ["null","string"] status; SR_ST_NONE gives null. */
static sr_err_t put_opt_status(sr_avro_enc_t *e, const char *name,
                               sr_status_t st, sr_errctx_t *ec)
{
        const char *text;

        if ((unsigned)st >= SR_ST__COUNT)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field %s: status %d cannot be sent",
                                     name, (int)st);
        if (st == SR_ST_NONE) {
                sr_avro_put_null_union(e);
                return SR_OK;
        }
        text = sr_status_name(st);
        sr_avro_put_branch(e, 1);
        sr_avro_put_string(e, text, strlen(text));
        return SR_OK;
}

/* Frame-and-hand-over of a finished body, or the error prefixed with
 * @p what, as the avro-c encoders do. */
static sr_err_t finish(sr_avro_enc_t *e, sr_err_t err, const char *what,
                       sr_buf_t *out, sr_errctx_t *ec)
{
        if (!err)
                err = sr_avro_enc_take(e, out, ec);
        sr_avro_enc_fini(e);
        if (err)
                sr_errctx_prefix(ec, "%s", what);
        return err;
}

/* ---------------------------------------------------------- events */

static sr_err_t event_put(sr_avro_enc_t *e, const sr_event_t *ev,
                          sr_errctx_t *ec)
{
        sr_err_t err;

        if (ev->seq > INT64_MAX)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field seq: out of range");
        sr_avro_put_uuid(e, &ev->event_id);
        sr_avro_put_uuid(e, &ev->pipeline_run_id);
        sr_avro_put_long(e, (int64_t)ev->seq);
        err = put_enum(e, "entity_type", (int)ev->entity_type, SR_ENT__COUNT,
                       ec);
        if (err)
                return err;
        sr_avro_put_uuid(e, &ev->entity_id);
        sr_avro_put_uuid(e, &ev->pipeline_id);
        put_opt_uuid(e, &ev->stage_run_id);
        put_opt_uuid(e, &ev->stage_run_operation_id);
        put_opt_uuid(e, &ev->device_id);
        if ((err = put_opt_status(e, "from_status", ev->from_status, ec)) ||
            (err = put_status(e, "to_status", ev->to_status, false, ec)) ||
            (err = put_str(e, "reason", ev->reason, sizeof(ev->reason), ec)))
                return err;
        sr_avro_put_long(e, ev->occurred_at);
        sr_avro_put_uuid(e, &ev->causation_id);
        err = put_str(e, "enterprise_id", ev->enterprise_id,
                      sizeof(ev->enterprise_id), ec);
        if (err)
                return err;
        sr_avro_put_long(e, ev->version); /* "long": any u32 */
        return SR_OK;
}

sr_err_t sr_codec_encode_event(sr_codec_t *codec, const sr_event_t *ev,
                               sr_buf_t *out, sr_errctx_t *ec)
{
        uint8_t stack[FAST_INLINE_CAP];
        sr_avro_enc_t e;

        /* the fast path needs none of its avro-c state, only its ids */
        sr_avro_enc_init(&e, stack, sizeof(stack));
        sr_avro_put_confluent_header(
                &e, (uint32_t)sr_codec_wire_id(codec, SR_SCHEMA_EVENT));
        return finish(&e, event_put(&e, ev, ec), "encode event", out, ec);
}

/* ---------------------------------------------------------- replies */

/* sr_codec__reply_to() (sr_codec_rec.c), field order of CommandReply. */
static sr_err_t reply_put(sr_avro_enc_t *e, const sr_reply_t *r,
                          sr_errctx_t *ec)
{
        const char *reason;
        sr_err_t err;

        if ((unsigned)r->reason >= SR_REJECT__COUNT)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field reason: value %d out of range",
                                     (int)r->reason);
        if (r->n_versions > SR_REPLY_MAX_VERSIONS)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field versions: %u items, at most %d",
                                     r->n_versions, SR_REPLY_MAX_VERSIONS);
        sr_avro_put_uuid(e, &r->command_id);
        sr_avro_put_uuid(e, &r->pipeline_run_id);
        sr_avro_put_bool(e, r->accepted);
        reason = sr_reject_name(r->reason);
        sr_avro_put_string(e, reason, strlen(reason));
        err = put_str(e, "message", r->message, sizeof(r->message), ec);
        if (err)
                return err;
        /* avro-c sets occurred_at before the versions, but it cannot fail:
         * the first error is the same. */
        if (r->n_versions)
                sr_avro_put_long(e, r->n_versions);
        for (uint32_t i = 0; i < r->n_versions; i++) {
                const sr_version_ref_t *vr = &r->versions[i];

                err = put_enum(e, "entity_type", (int)vr->entity_type,
                               SR_ENT__COUNT, ec);
                if (err) {
                        sr_errctx_prefix(ec, "versions[%u]", i);
                        return err;
                }
                sr_avro_put_uuid(e, &vr->entity_id);
                sr_avro_put_long(e, vr->version);
        }
        sr_avro_put_long(e, 0);
        sr_avro_put_long(e, r->occurred_at);
        return SR_OK;
}

/* ---------------------------------------------------------- changelog */

enum {
        BR_DEDUPE = SR_CL_BR_DEDUPE,
        BR_MARKER = SR_CL_BR_MARKER,
        BR_RETIRED = SR_CL_BR_RETIRED,
        BR_CHUNK = SR_CL_BR_CHUNK,
        BR__COUNT = SR_CL_BR__COUNT
};
#define branch_names sr_codec__cl_branch_names

static sr_err_t meta_put(sr_avro_enc_t *e, const sr_meta_t *m,
                         sr_errctx_t *ec)
{
        sr_err_t err;

        sr_avro_put_uuid(e, &m->id);
        if ((err = put_status(e, "status", m->status, true, ec)) ||
            (err = put_str(e, "reason", m->reason, sizeof(m->reason), ec))) {
                sr_errctx_prefix(ec, "meta");
                return err;
        }
        sr_avro_put_long(e, m->created_at);
        sr_avro_put_long(e, m->updated_at);
        sr_avro_put_long(e, m->started_at);
        sr_avro_put_long(e, m->ended_at);
        sr_avro_put_long(e, m->version);
        sr_avro_put_long(e, m->deadline);
        return SR_OK;
}

static sr_err_t pipeline_run_put(sr_avro_enc_t *e, const sr_pipeline_run_t *pr,
                                 sr_errctx_t *ec)
{
        sr_err_t err;

        if (pr->last_seq > INT64_MAX)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field last_seq: out of range");
        if ((err = meta_put(e, &pr->m, ec)))
                return err;
        sr_avro_put_uuid(e, &pr->pipeline_id);
        if ((err = put_str(e, "pipeline_name", pr->pipeline_name,
                           sizeof(pr->pipeline_name), ec)) ||
            (err = put_str(e, "enterprise_id", pr->enterprise_id,
                           sizeof(pr->enterprise_id), ec)))
                return err;
        sr_avro_put_int(e, pr->run_number);
        sr_avro_put_bool(e, pr->auto_promote);
        sr_avro_put_long(e, pr->timeout_seconds);
        if ((err = put_u32_int(e, "n_stages", pr->n_stages, ec)))
                return err;
        sr_avro_put_long(e, (int64_t)pr->last_seq);
        sr_avro_put_long(e, pr->next_deadline);
        /* The hash's 64 bits, reinterpreted as a signed long. */
        sr_avro_put_long(e, (int64_t)pr->spec_hash);
        sr_avro_put_uuid(e, &pr->created_by_command);
        return SR_OK;
}

/* sr_codec__ops_to(..., nullable_args = true) (sr_codec_cmd.c). */
static sr_err_t ops_put(sr_avro_enc_t *e, const sr_spec_op_t *ops,
                        uint32_t n, sr_errctx_t *ec)
{
        sr_err_t err;

        if (n && !ops)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field operations: %u items, NULL "
                                     "array", n);
        if (n)
                sr_avro_put_long(e, n);
        for (uint32_t i = 0; i < n; i++) {
                if ((err = put_str(e, "operation_type",
                                   ops[i].operation_type,
                                   sizeof(ops[i].operation_type), ec)) ||
                    (err = put_opt_str(e, "args_json", ops[i].args_json, 0,
                                       ec))) {
                        sr_errctx_prefix(ec, "operations[%u]", i);
                        return err;
                }
        }
        sr_avro_put_long(e, 0);
        return SR_OK;
}

/* sr_codec__targets_to() (sr_codec_cmd.c). */
static sr_err_t targets_put(sr_avro_enc_t *e, const sr_spec_target_t *targets,
                            uint32_t n, sr_errctx_t *ec)
{
        sr_err_t err;

        if (n && !targets)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field targets: %u items, NULL array",
                                     n);
        if (n)
                sr_avro_put_long(e, n);
        for (uint32_t i = 0; i < n; i++) {
                const sr_spec_target_t *t = &targets[i];

                put_opt_uuid(e, &t->target_id);
                sr_avro_put_uuid(e, &t->device_id);
                if ((err = put_str(e, "device_name", t->device_name,
                                   sizeof(t->device_name), ec)) ||
                    (err = put_str(e, "device_alias", t->device_alias,
                                   sizeof(t->device_alias), ec))) {
                        sr_errctx_prefix(ec, "targets[%u]", i);
                        return err;
                }
        }
        sr_avro_put_long(e, 0);
        return SR_OK;
}

/* open_stage_to() (sr_codec_changelog.c): version 2's StageRun fields. */
static sr_err_t open_stage_put(sr_avro_enc_t *e, const sr_stage_run_t *st,
                               sr_errctx_t *ec)
{
        sr_err_t err;

        sr_avro_put_bool(e, st->append_targets);
        if (st->expected_targets < 0)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field expected_targets: negative "
                                     "(%lld)",
                                     (long long)st->expected_targets);
        sr_avro_put_long(e, st->expected_targets);
        if ((err = put_u32_int(e, "chunks_applied", st->chunks_applied,
                               ec)) ||
            (err = put_u32_int(e, "targets_appended", st->targets_appended,
                               ec)))
                return err;
        sr_avro_put_bool(e, st->sealed);
        if ((err = put_u32_int(e, "seal_chunks", st->seal_chunks, ec)) ||
            (err = put_u32_int(e, "seal_count", st->seal_count, ec)))
                return err;
        if (!sr_codec__seal_digest_set(st)) {
                sr_avro_put_null_union(e);
                return SR_OK;
        }
        sr_avro_put_branch(e, 1);
        sr_avro_put_raw(e, st->seal_digest, SR_DIGEST_LEN); /* fixed */
        return SR_OK;
}

/* @p v2: the version 2 body, with the open-stage fields. */
static sr_err_t stage_run_put(sr_avro_enc_t *e, const sr_stage_run_t *st,
                              bool v2, sr_errctx_t *ec)
{
        sr_err_t err;

        if ((err = meta_put(e, &st->m, ec)))
                return err;
        sr_avro_put_uuid(e, &st->pipeline_run_id);
        sr_avro_put_uuid(e, &st->pipeline_id);
        sr_avro_put_uuid(e, &st->stage_id);
        if ((err = put_str(e, "enterprise_id", st->enterprise_id,
                           sizeof(st->enterprise_id), ec)) ||
            (err = put_u32_int(e, "index", st->index, ec)) ||
            (err = put_str(e, "name", st->name, sizeof(st->name), ec)) ||
            (err = put_str(e, "description", st->description,
                           sizeof(st->description), ec)))
                return err;
        sr_avro_put_long(e, st->timeout_seconds);
        sr_avro_put_long(e, st->queued_at);
        if ((err = ops_put(e, st->ops, st->n_ops, ec)) ||
            (err = targets_put(e, st->targets, st->n_targets, ec)))
                return err;
        return v2 ? open_stage_put(e, st, ec) : SR_OK;
}

static sr_err_t stage_op_put(sr_avro_enc_t *e, const sr_stage_run_op_t *op,
                             sr_errctx_t *ec)
{
        sr_err_t err;

        sr_avro_put_uuid(e, &op->id);
        sr_avro_put_uuid(e, &op->pipeline_run_id);
        sr_avro_put_uuid(e, &op->stage_run_id);
        if ((err = put_u32_int(e, "stage_index", op->stage_index, ec)) ||
            (err = put_u32_int(e, "index", op->index, ec)) ||
            (err = put_str(e, "operation_type", op->operation_type,
                           sizeof(op->operation_type), ec)) ||
            (err = put_opt_str(e, "args_json", op->args_json, 0, ec)))
                return err;
        sr_avro_put_long(e, op->created_at);
        sr_avro_put_long(e, op->version);
        return SR_OK;
}

static sr_err_t target_run_put(sr_avro_enc_t *e, const sr_target_run_t *tr,
                               sr_errctx_t *ec)
{
        sr_err_t err;

        if ((err = meta_put(e, &tr->m, ec)))
                return err;
        sr_avro_put_uuid(e, &tr->pipeline_run_id);
        sr_avro_put_uuid(e, &tr->stage_run_id);
        sr_avro_put_uuid(e, &tr->stage_run_operation_id);
        if ((err = put_u32_int(e, "stage_index", tr->stage_index, ec)) ||
            (err = put_u32_int(e, "op_index", tr->op_index, ec)) ||
            (err = put_u32_int(e, "target_index", tr->target_index, ec)))
                return err;
        sr_avro_put_uuid(e, &tr->target_id);
        sr_avro_put_uuid(e, &tr->device_id);
        if ((err = put_str(e, "device_name", tr->device_name,
                           sizeof(tr->device_name), ec)) ||
            (err = put_str(e, "device_alias", tr->device_alias,
                           sizeof(tr->device_alias), ec)))
                return err;
        put_opt_uuid(e, &tr->command_id);
        err = put_str(e, "command_status", tr->command_status,
                      sizeof(tr->command_status), ec);
        if (err)
                return err;
        sr_avro_put_bool(e, tr->cancel_requested);
        return SR_OK;
}

static sr_err_t dedupe_put(sr_avro_enc_t *e, const sr_cl_dedupe_t *d,
                           sr_errctx_t *ec)
{
        sr_err_t err;

        sr_avro_put_uuid(e, &d->input_id);
        sr_avro_put_uuid(e, &d->pipeline_run_id);
        if (!d->has_reply) {
                sr_avro_put_null_union(e);
                return SR_OK;
        }
        sr_avro_put_branch(e, 1);
        err = reply_put(e, &d->reply, ec);
        if (err)
                sr_errctx_prefix(ec, "reply");
        return err;
}

static sr_err_t marker_put(sr_avro_enc_t *e, const sr_cl_marker_t *m,
                           sr_errctx_t *ec)
{
        sr_err_t err;

        err = put_str(e, "batch_id", m->batch_id, sizeof(m->batch_id), ec);
        if (err)
                return err;
        sr_avro_put_int(e, m->partition);
        sr_avro_put_long(e, m->commands_offset);
        sr_avro_put_long(e, m->results_offset);
        sr_avro_put_long(e, m->written_at);
        return SR_OK;
}

static sr_err_t retired_put(sr_avro_enc_t *e, const sr_cl_retired_t *r,
                            sr_errctx_t *ec)
{
        sr_err_t err;

        sr_avro_put_uuid(e, &r->pipeline_run_id);
        err = put_str(e, "enterprise_id", r->enterprise_id,
                      sizeof(r->enterprise_id), ec);
        if (err)
                return err;
        sr_avro_put_uuid(e, &r->pipeline_id);
        sr_avro_put_long(e, r->ended_at);
        sr_avro_put_long(e, r->retired_at);
        sr_avro_put_long(e, r->forget_at);
        return SR_OK;
}

static sr_err_t chunk_put(sr_avro_enc_t *e, const sr_stage_chunk_t *c,
                          sr_errctx_t *ec)
{
        sr_err_t err;

        sr_avro_put_uuid(e, &c->pipeline_run_id);
        if ((err = put_u32_int(e, "stage_index", c->stage_index, ec)) ||
            (err = put_u32_int(e, "chunk", c->chunk, ec)))
                return err;
        sr_avro_put_raw(e, c->digest, SR_DIGEST_LEN); /* fixed */
        return targets_put(e, c->targets, c->n_targets, ec);
}

/* @p v2: the version 2 body (sr_codec__cl_fits_v1() false). */
static sr_err_t changelog_put(sr_avro_enc_t *e, const sr_changelog_t *cl,
                              bool v2, sr_errctx_t *ec)
{
        int br = sr_codec__cl_branch(cl);
        sr_err_t err;

        if (br < 0)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field state: unknown kind %d / entity "
                                     "type %d", (int)cl->kind,
                                     (int)cl->u.entity.type);
        sr_avro_put_branch(e, br);
        switch (br) {
        case SR_ENT_PIPELINE_RUN:
                err = pipeline_run_put(e, &cl->u.entity.u.pr, ec);
                break;
        case SR_ENT_STAGE_RUN:
                err = stage_run_put(e, &cl->u.entity.u.sr, v2, ec);
                break;
        case SR_ENT_STAGE_RUN_OPERATION:
                err = stage_op_put(e, &cl->u.entity.u.op, ec);
                break;
        case SR_ENT_TARGET_RUN:
                err = target_run_put(e, &cl->u.entity.u.tr, ec);
                break;
        case BR_DEDUPE:
                err = dedupe_put(e, &cl->u.dedupe, ec);
                break;
        case BR_RETIRED:
                err = retired_put(e, &cl->u.retired, ec);
                break;
        case BR_CHUNK:
                err = chunk_put(e, &cl->u.chunk, ec);
                break;
        default:
                err = marker_put(e, &cl->u.marker, ec);
                break;
        }
        if (err)
                sr_errctx_prefix(ec, "state %s", branch_names[br]);
        return err;
}

sr_err_t sr_codec_encode_changelog(sr_codec_t *codec, const sr_changelog_t *cl,
                                   sr_buf_t *out, sr_errctx_t *ec)
{
        bool v1 = sr_codec__cl_fits_v1(cl);
        uint8_t stack[FAST_INLINE_CAP];
        sr_avro_enc_t e;

        /* Version 3's and 4's records (definitions, groups) are not the worker's hot path:
         * the avro-c one writes them. */
        if (sr_codec__cl_needs_v3(cl) || sr_codec__cl_needs_v4(cl))
                return sr_codec__encode_changelog_avro(codec, cl, out, ec);
        /* the fast path needs none of its avro-c state, only its ids */
        sr_avro_enc_init(&e, stack, sizeof(stack));
        sr_avro_put_confluent_header(
                &e, (uint32_t)(v1 ? codec->ids.older[SR_OLDER_CHANGELOG_V1] :
                                    codec->ids.older[SR_OLDER_CHANGELOG_V2]));
        return finish(&e, changelog_put(&e, cl, !v1, ec), "encode changelog",
                      out, ec);
}

sr_err_t sr_codec_encode_entity(sr_codec_t *codec, const sr_entity_t *ent,
                                sr_buf_t *out, sr_errctx_t *ec)
{
        sr_changelog_t cl;

        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_ENTITY;
        cl.u.entity = *ent;
        return sr_codec_encode_changelog(codec, &cl, out, ec);
}

/* ---------------------------------------------------------- results */

/* The result reader accepts only a strict subset of what the avro-c path
 * (header check, sr_codec__scan, avro_value_read, result_from) accepts:
 * canonical (shortest) varints, lengths within the bytes left, every
 * check of result_from, no trailing bytes. Anything else, valid or not,
 * goes to the avro-c path, so the outcome (result, or error code and
 * message) is the avro-c one for every input; the differential tests in
 * test_sr_codec_fast.c check that what this reader accepts is accepted
 * with the same result there. */

struct rd {
        const uint8_t *p, *end;
};

/* A canonical zig-zag varint: overlong forms and 10th bytes above 1 (bits
 * the avro-c reader drops) are left to the avro-c path. */
static bool rd_long(struct rd *r, int64_t *out)
{
        uint64_t v = 0;

        for (unsigned shift = 0; shift < 70 && r->p < r->end; shift += 7) {
                uint8_t b = *r->p++;

                v |= (uint64_t)(b & 0x7f) << shift;
                if (!(b & 0x80)) {
                        if ((shift && !b) || (shift == 63 && b > 1))
                                return false;
                        *out = (int64_t)((v >> 1) ^ (0 - (v & 1)));
                        return true;
                }
        }
        return false;
}

static bool rd_bytes(struct rd *r, const char **s, size_t *len)
{
        int64_t n;

        if (!rd_long(r, &n) || n < 0 || (uint64_t)n > (size_t)(r->end - r->p))
                return false;
        *s = (const char *)r->p;
        *len = (size_t)n;
        r->p += n;
        return true;
}

/* val_uuid() (sr_codec.c): canonical text, any case. */
static bool rd_uuid(struct rd *r, sr_uuid_t *u)
{
        const char *s;
        size_t len;

        return rd_bytes(r, &s, &len) && sr_uuid_parse(s, len, u);
}

/* val_str_copy() (sr_codec.c): shorter than cap, no NUL inside. */
static bool rd_text(struct rd *r, char *dst, size_t cap, size_t *lenp)
{
        const char *s;
        size_t len;

        if (!rd_bytes(r, &s, &len) || len >= cap ||
            (len && memchr(s, '\0', len)))
                return false;
        memcpy(dst, s, len);
        dst[len] = '\0';
        *lenp = len;
        return true;
}

bool sr_codec__decode_result_fast(sr_slice_t in, int32_t wire_id,
                                  sr_result_t *out)
{
        uint32_t want = (uint32_t)wire_id;
        const uint8_t *b = in.ptr;
        struct rd r;
        sr_result_t tmp;
        sr_cmdst_t cs;
        size_t len, name_len;

        if (in.len < SR_CODEC_HEADER || b[0] != 0 ||
            b[1] != (uint8_t)(want >> 24) || b[2] != (uint8_t)(want >> 16) ||
            b[3] != (uint8_t)(want >> 8) || b[4] != (uint8_t)want)
                return false;
        r.p = b + SR_CODEC_HEADER;
        r.end = b + in.len;
        memset(&tmp, 0, sizeof(tmp));
        if (!rd_uuid(&r, &tmp.result_id) ||
            !rd_uuid(&r, &tmp.pipeline_run_id) ||
            !rd_uuid(&r, &tmp.stage_run_id) ||
            !rd_uuid(&r, &tmp.target_run_id) ||
            !rd_uuid(&r, &tmp.command_id) ||
            !rd_text(&r, tmp.command_status, sizeof(tmp.command_status),
                     &len) ||
            !rd_uuid(&r, &tmp.device_id) ||
            !rd_text(&r, tmp.device_name, sizeof(tmp.device_name),
                     &name_len) ||
            !rd_long(&r, &tmp.reported_at) || r.p != r.end)
                return false;
        /* domain.md: an unknown command status is a poison input. */
        if (!sr_cmdst_parse(tmp.command_status, len, &cs))
                return false;
        *out = tmp;
        return true;
}

/* ---------------------------------------------------------- target runs */

/* A canonical varint within [0, max]. */
static bool rd_u(struct rd *r, int64_t max, uint32_t *out)
{
        int64_t v;

        if (!rd_long(r, &v) || v < 0 || v > max)
                return false;
        *out = (uint32_t)v;
        return true;
}

/* val_status() with "none" allowed (meta.status). */
static bool rd_status(struct rd *r, sr_status_t *st)
{
        const char *s;
        size_t len;

        if (!rd_bytes(r, &s, &len))
                return false;
        if (len == 4 && !strncasecmp(s, "none", 4)) {
                *st = SR_ST_NONE;
                return true;
        }
        return sr_status_parse(s, len, st);
}

bool sr_codec__decode_target_run_fast(sr_slice_t in, const int32_t *ids,
                                      int n_ids, sr_target_run_t *out)
{
        const uint8_t *b = in.ptr;
        uint32_t id, version;
        int64_t br;
        struct rd r;
        sr_target_run_t t;
        size_t len;
        bool known = false;

        if (in.len < SR_CODEC_HEADER + 1 || b[0] != 0)
                return false;
        id = (uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 |
             (uint32_t)b[3] << 8 | b[4];
        for (int i = 0; i < n_ids && !known; i++)
                known = ids[i] > 0 && (uint32_t)ids[i] == id;
        r.p = b + SR_CODEC_HEADER;
        r.end = b + in.len;
        if (!known || !rd_long(&r, &br) || br != SR_ENT_TARGET_RUN)
                return false;
        memset(&t, 0, sizeof(t));
        if (!rd_uuid(&r, &t.m.id) || !rd_status(&r, &t.m.status) ||
            !rd_text(&r, t.m.reason, sizeof(t.m.reason), &len) ||
            !rd_long(&r, &t.m.created_at) || !rd_long(&r, &t.m.updated_at) ||
            !rd_long(&r, &t.m.started_at) || !rd_long(&r, &t.m.ended_at) ||
            !rd_u(&r, UINT32_MAX, &version) || !rd_long(&r, &t.m.deadline) ||
            !rd_uuid(&r, &t.pipeline_run_id) ||
            !rd_uuid(&r, &t.stage_run_id) ||
            !rd_uuid(&r, &t.stage_run_operation_id) ||
            !rd_u(&r, INT32_MAX, &t.stage_index) ||
            !rd_u(&r, INT32_MAX, &t.op_index) ||
            !rd_u(&r, INT32_MAX, &t.target_index) ||
            !rd_uuid(&r, &t.target_id) || !rd_uuid(&r, &t.device_id) ||
            !rd_text(&r, t.device_name, sizeof(t.device_name), &len) ||
            !rd_text(&r, t.device_alias, sizeof(t.device_alias), &len) ||
            !rd_long(&r, &br) || (br != 0 && br != 1) ||
            (br == 1 && !rd_uuid(&r, &t.command_id)) ||
            !rd_text(&r, t.command_status, sizeof(t.command_status), &len) ||
            r.end - r.p != 1 || *r.p > 1)
                return false;
        t.m.version = version;
        t.cancel_requested = *r.p == 1;
        *out = t;
        return true;
}

sr_err_t sr_codec_decode_result(sr_codec_t *codec, sr_slice_t in,
                                sr_result_t *out, sr_errctx_t *ec)
{
        if (sr_codec__decode_result_fast(
                    in, sr_codec_wire_id(codec, SR_SCHEMA_RESULT), out))
                return SR_OK;
        return sr_codec__decode_result_avro(codec, in, out, ec);
}
