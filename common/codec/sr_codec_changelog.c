/* common/codec/sr_codec_changelog.c - io.sr.v1.ChangelogRecord: entity states (every
 * field, internal ones included, so a restore is exact), dedupe entries,
 * batch markers, retired runs' markers and open stages' chunks.
 *
 * Three versions: 1 (id 4, changelog.v1.avsc), 2 (id 8, changelog.v2.avsc:
 * the open-stage fields appended to StageRun, StageChunk appended to the
 * state union) and 3 (id 12, changelog.avsc: the definition entities
 * DefPipeline ... DefTarget appended to the union, sr_codec_defs.c, and a
 * dedupe entry's reply's definition part) and 4 (id 18, changelog.avsc;
 * version 3 frozen as changelog.v3.avsc: the device groups' records
 * DeviceGroup ... RunGroupCopy, sr_codec_groups.c). A record is written
 * in the oldest version that carries it (sr_codec__cl_needs_v4(),
 * sr_codec__cl_needs_v3(),
 * sr_codec__cl_fits_v1()); an older record is read with its own text,
 * what it lacks taking the newest version's defaults.
 */
#include "sr_codec_int.h"

#include <string.h>

enum {
        BR_DEDUPE = SR_CL_BR_DEDUPE,
        BR_MARKER = SR_CL_BR_MARKER,
        BR_RETIRED = SR_CL_BR_RETIRED,
        BR_CHUNK = SR_CL_BR_CHUNK,
        BR_DEF = SR_CL_BR_DEF,
        BR_GROUP = SR_CL_BR_GROUP,
        BR__COUNT = SR_CL_BR__COUNT
};

const char *const sr_codec__cl_branch_names[SR_CL_BR__COUNT] = {
        [SR_ENT_PIPELINE_RUN] = "PipelineRun",
        [SR_ENT_STAGE_RUN] = "StageRun",
        [SR_ENT_STAGE_RUN_OPERATION] = "StageRunOperation",
        [SR_ENT_TARGET_RUN] = "TargetRun",
        [SR_CL_BR_DEDUPE] = "DedupeEntry",
        [SR_CL_BR_MARKER] = "BatchMarker",
        [SR_CL_BR_RETIRED] = "RetiredRun",
        [SR_CL_BR_CHUNK] = "StageChunk",
        [SR_CL_BR_DEF + SR_DEF_PIPELINE] = "DefPipeline",
        [SR_CL_BR_DEF + SR_DEF_STAGE] = "DefStage",
        [SR_CL_BR_DEF + SR_DEF_TARGET_LIST] = "DefTargetList",
        [SR_CL_BR_DEF + SR_DEF_ATTACHMENT] = "DefAttachment",
        [SR_CL_BR_DEF + SR_DEF_OPERATION_LIST] = "DefOperationList",
        [SR_CL_BR_DEF + SR_DEF_OPERATION] = "DefOperation",
        [SR_CL_BR_DEF + SR_DEF_GROUP_LINK] = "DefGroupLink",
        [SR_CL_BR_DEF + SR_DEF_ACTIVE_RUN] = "DefActiveRun",
        [SR_CL_BR_DEF + SR_DEF_TARGET] = "DefTarget",
        [SR_CL_BR_GROUP + SR_GREC_GROUP] = "DeviceGroup",
        [SR_CL_BR_GROUP + SR_GREC_MEMBER] = "DeviceGroupMember",
        [SR_CL_BR_GROUP + SR_GREC_COPY_MEMBER] = "RunGroupMember",
        [SR_CL_BR_GROUP + SR_GREC_COPY_CLOSE] = "RunGroupCopy",
};
#define branch_names sr_codec__cl_branch_names

/* ---------------------------------------------------------- meta */

static sr_err_t meta_to(avro_value_t *rec, const sr_meta_t *m,
                        sr_errctx_t *ec)
{
        avro_value_t f;
        sr_err_t err;

        if ((err = sr_codec__field(rec, "meta", &f, ec)) ||
            (err = sr_codec__set_uuid(&f, "id", &m->id, ec)) ||
            (err = sr_codec__set_status(&f, "status", m->status, true,
                                        ec)) ||
            (err = sr_codec__set_str(&f, "reason", m->reason,
                                     sizeof(m->reason), ec)) ||
            (err = sr_codec__set_long(&f, "created_at", m->created_at,
                                      ec)) ||
            (err = sr_codec__set_long(&f, "updated_at", m->updated_at,
                                      ec)) ||
            (err = sr_codec__set_long(&f, "started_at", m->started_at,
                                      ec)) ||
            (err = sr_codec__set_long(&f, "ended_at", m->ended_at, ec)) ||
            (err = sr_codec__set_u32(&f, "version", m->version, ec)) ||
            (err = sr_codec__set_long(&f, "deadline", m->deadline, ec))) {
                sr_errctx_prefix(ec, "meta");
                return err;
        }
        return SR_OK;
}

static sr_err_t meta_from(avro_value_t *rec, sr_meta_t *m, sr_errctx_t *ec)
{
        avro_value_t f;
        sr_err_t err;

        if ((err = sr_codec__field(rec, "meta", &f, ec)) ||
            (err = sr_codec__get_uuid(&f, "id", &m->id, ec)) ||
            (err = sr_codec__get_status(&f, "status", true, &m->status,
                                        ec)) ||
            (err = sr_codec__get_str(&f, "reason", m->reason,
                                     sizeof(m->reason), ec)) ||
            (err = sr_codec__get_long(&f, "created_at", &m->created_at,
                                      ec)) ||
            (err = sr_codec__get_long(&f, "updated_at", &m->updated_at,
                                      ec)) ||
            (err = sr_codec__get_long(&f, "started_at", &m->started_at,
                                      ec)) ||
            (err = sr_codec__get_long(&f, "ended_at", &m->ended_at, ec)) ||
            (err = sr_codec__get_u32(&f, "version", &m->version, ec)) ||
            (err = sr_codec__get_long(&f, "deadline", &m->deadline, ec))) {
                sr_errctx_prefix(ec, "meta");
                return err;
        }
        return SR_OK;
}

/* ---------------------------------------------------------- entities */

static sr_err_t pipeline_run_to(avro_value_t *b, const sr_pipeline_run_t *pr,
                      sr_errctx_t *ec)
{
        sr_err_t err;

        if (pr->last_seq > INT64_MAX)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field last_seq: out of range");
        if ((err = meta_to(b, &pr->m, ec)) ||
            (err = sr_codec__set_uuid(b, "pipeline_id", &pr->pipeline_id,
                                      ec)) ||
            (err = sr_codec__set_str(b, "pipeline_name", pr->pipeline_name,
                                     sizeof(pr->pipeline_name), ec)) ||
            (err = sr_codec__set_str(b, "enterprise_id", pr->enterprise_id,
                                     sizeof(pr->enterprise_id), ec)) ||
            (err = sr_codec__set_int(b, "run_number", pr->run_number, ec)) ||
            (err = sr_codec__set_bool(b, "auto_promote", pr->auto_promote,
                                      ec)) ||
            (err = sr_codec__set_long(b, "timeout_seconds",
                                      pr->timeout_seconds, ec)) ||
            (err = sr_codec__set_u32(b, "n_stages", pr->n_stages, ec)) ||
            (err = sr_codec__set_long(b, "last_seq", (int64_t)pr->last_seq,
                                      ec)) ||
            (err = sr_codec__set_long(b, "next_deadline", pr->next_deadline,
                                      ec)) ||
            /* The hash's 64 bits, reinterpreted as a signed long. */
            (err = sr_codec__set_long(b, "spec_hash", (int64_t)pr->spec_hash,
                                      ec)) ||
            (err = sr_codec__set_uuid(b, "created_by_command",
                                      &pr->created_by_command, ec)))
                return err;
        return SR_OK;
}

static sr_err_t pipeline_run_from(avro_value_t *b, sr_pipeline_run_t *pr,
                        sr_errctx_t *ec)
{
        int64_t last_seq, hash;
        sr_err_t err;

        if ((err = meta_from(b, &pr->m, ec)) ||
            (err = sr_codec__get_uuid(b, "pipeline_id", &pr->pipeline_id,
                                      ec)) ||
            (err = sr_codec__get_str(b, "pipeline_name", pr->pipeline_name,
                                     sizeof(pr->pipeline_name), ec)) ||
            (err = sr_codec__get_str(b, "enterprise_id", pr->enterprise_id,
                                     sizeof(pr->enterprise_id), ec)) ||
            (err = sr_codec__get_int(b, "run_number", &pr->run_number,
                                     ec)) ||
            (err = sr_codec__get_bool(b, "auto_promote", &pr->auto_promote,
                                      ec)) ||
            (err = sr_codec__get_long(b, "timeout_seconds",
                                      &pr->timeout_seconds, ec)) ||
            (err = sr_codec__get_u32(b, "n_stages", &pr->n_stages, ec)) ||
            (err = sr_codec__get_long(b, "last_seq", &last_seq, ec)) ||
            (err = sr_codec__get_long(b, "next_deadline", &pr->next_deadline,
                                      ec)) ||
            (err = sr_codec__get_long(b, "spec_hash", &hash, ec)) ||
            (err = sr_codec__get_uuid(b, "created_by_command",
                                      &pr->created_by_command, ec)))
                return err;
        if (last_seq < 0)
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field last_seq: negative (%lld)",
                                     (long long)last_seq);
        pr->last_seq = (uint64_t)last_seq;
        pr->spec_hash = (uint64_t)hash;
        return SR_OK;
}

/* Write @p d into the Sha256 field @p f (a fixed of 32 bytes). */
static sr_err_t digest_to(avro_value_t *f, const char *name,
                          const uint8_t d[SR_DIGEST_LEN], sr_errctx_t *ec)
{
        int rc = avro_value_set_fixed(f, (void *)d, SR_DIGEST_LEN);

        if (rc)
                return sr_codec__avro_err(ec, rc, name, "set");
        return SR_OK;
}

static sr_err_t digest_from(avro_value_t *f, const char *name,
                            uint8_t d[SR_DIGEST_LEN], sr_errctx_t *ec)
{
        const void *p;
        size_t n;
        int rc;

        rc = avro_value_get_fixed(f, &p, &n);
        if (rc)
                return sr_codec__avro_err(ec, rc, name, "get");
        if (n != SR_DIGEST_LEN)
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field %s: %zu bytes (want %d)", name,
                                     n, SR_DIGEST_LEN);
        memcpy(d, p, SR_DIGEST_LEN);
        return SR_OK;
}

bool sr_codec__seal_digest_set(const sr_stage_run_t *st)
{
        static const uint8_t zero[SR_DIGEST_LEN];

        return st->sealed || memcmp(st->seal_digest, zero, SR_DIGEST_LEN);
}

/* The fields version 2 appended to StageRun: an open stage's state. */
static sr_err_t open_stage_to(avro_value_t *b, const sr_stage_run_t *st,
                              sr_errctx_t *ec)
{
        avro_value_t u;
        sr_err_t err;
        int rc;

        if ((err = sr_codec__set_bool(b, "append_targets", st->append_targets,
                                      ec)))
                return err;
        /* open_stage_from() refuses it: never write what no reader takes. */
        if (st->expected_targets < 0)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field expected_targets: negative "
                                     "(%lld)",
                                     (long long)st->expected_targets);
        if ((err = sr_codec__set_long(b, "expected_targets",
                                      st->expected_targets, ec)) ||
            (err = sr_codec__set_u32(b, "chunks_applied", st->chunks_applied,
                                     ec)) ||
            (err = sr_codec__set_u32(b, "targets_appended",
                                     st->targets_appended, ec)) ||
            (err = sr_codec__set_bool(b, "sealed", st->sealed, ec)) ||
            (err = sr_codec__set_u32(b, "seal_chunks", st->seal_chunks,
                                     ec)) ||
            (err = sr_codec__set_u32(b, "seal_count", st->seal_count, ec)))
                return err;
        if (sr_codec__seal_digest_set(st)) {
                err = sr_codec__set_branch(b, "seal_digest", 1, &u, ec);
                return err ? err :
                             digest_to(&u, "seal_digest", st->seal_digest,
                                       ec);
        }
        err = sr_codec__set_branch(b, "seal_digest", 0, &u, ec);
        if (err)
                return err;
        rc = avro_value_set_null(&u);
        if (rc)
                return sr_codec__avro_err(ec, rc, "seal_digest", "set null");
        return SR_OK;
}

/* A version 1 stage run has none of the fields: it is closed, all of
 * them zero (the defaults), which the caller's zeroed @p st already is. */
static sr_err_t open_stage_from(avro_value_t *b, sr_stage_run_t *st,
                                sr_errctx_t *ec)
{
        avro_value_t f;
        sr_err_t err;
        int disc;

        if (!sr_codec__field_opt(b, "append_targets", &f))
                return SR_OK;
        if ((err = sr_codec__get_bool(b, "append_targets",
                                      &st->append_targets, ec)) ||
            (err = sr_codec__get_long(b, "expected_targets",
                                      &st->expected_targets, ec)))
                return err;
        if (st->expected_targets < 0)
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field expected_targets: negative "
                                     "(%lld)",
                                     (long long)st->expected_targets);
        if ((err = sr_codec__get_u32(b, "chunks_applied", &st->chunks_applied,
                                     ec)) ||
            (err = sr_codec__get_u32(b, "targets_appended",
                                     &st->targets_appended, ec)) ||
            (err = sr_codec__get_bool(b, "sealed", &st->sealed, ec)) ||
            (err = sr_codec__get_u32(b, "seal_chunks", &st->seal_chunks,
                                     ec)) ||
            (err = sr_codec__get_u32(b, "seal_count", &st->seal_count, ec)) ||
            (err = sr_codec__get_branch(b, "seal_digest", &disc, &f, ec)))
                return err;
        /* null: no digest, all zero (sr_codec__seal_digest_set()). */
        if (disc == 0)
                return SR_OK;
        return digest_from(&f, "seal_digest", st->seal_digest, ec);
}

static sr_err_t stage_run_to(avro_value_t *b, const sr_stage_run_t *st,
                      sr_errctx_t *ec)
{
        avro_value_t arr;
        sr_err_t err;

        if ((err = meta_to(b, &st->m, ec)) ||
            (err = sr_codec__set_uuid(b, "pipeline_run_id",
                                      &st->pipeline_run_id, ec)) ||
            (err = sr_codec__set_uuid(b, "pipeline_id", &st->pipeline_id,
                                      ec)) ||
            (err = sr_codec__set_uuid(b, "stage_id", &st->stage_id, ec)) ||
            (err = sr_codec__set_str(b, "enterprise_id", st->enterprise_id,
                                     sizeof(st->enterprise_id), ec)) ||
            (err = sr_codec__set_u32(b, "index", st->index, ec)) ||
            (err = sr_codec__set_str(b, "name", st->name, sizeof(st->name),
                                     ec)) ||
            (err = sr_codec__set_str(b, "description", st->description,
                                     sizeof(st->description), ec)) ||
            (err = sr_codec__set_long(b, "timeout_seconds",
                                      st->timeout_seconds, ec)) ||
            (err = sr_codec__set_long(b, "queued_at", st->queued_at, ec)) ||
            (err = sr_codec__field(b, "operations", &arr, ec)) ||
            (err = sr_codec__ops_to(&arr, st->ops, st->n_ops, true, ec)) ||
            (err = sr_codec__field(b, "targets", &arr, ec)) ||
            (err = sr_codec__targets_to(&arr, st->targets, st->n_targets,
                                        ec)))
                return err;
        /* Version 1 has none of the open-stage fields: only a closed stage
         * is written in it (sr_codec__cl_fits_v1()). */
        if (!sr_codec__field_opt(b, "append_targets", &arr))
                return SR_OK;
        return open_stage_to(b, st, ec);
}

/* On failure the caller releases what @p st owns with sr_entity_fini(). */
static sr_err_t stage_run_from(avro_value_t *b, sr_stage_run_t *st,
                        sr_errctx_t *ec)
{
        avro_value_t arr;
        sr_err_t err;
        size_t n;

        if ((err = meta_from(b, &st->m, ec)) ||
            (err = sr_codec__get_uuid(b, "pipeline_run_id",
                                      &st->pipeline_run_id, ec)) ||
            (err = sr_codec__get_uuid(b, "pipeline_id", &st->pipeline_id,
                                      ec)) ||
            (err = sr_codec__get_uuid(b, "stage_id", &st->stage_id, ec)) ||
            (err = sr_codec__get_str(b, "enterprise_id", st->enterprise_id,
                                     sizeof(st->enterprise_id), ec)) ||
            (err = sr_codec__get_u32(b, "index", &st->index, ec)) ||
            (err = sr_codec__get_str(b, "name", st->name, sizeof(st->name),
                                     ec)) ||
            (err = sr_codec__get_str(b, "description", st->description,
                                     sizeof(st->description), ec)) ||
            (err = sr_codec__get_long(b, "timeout_seconds",
                                      &st->timeout_seconds, ec)) ||
            (err = sr_codec__get_long(b, "queued_at", &st->queued_at, ec)) ||
            (err = sr_codec__get_array(b, "operations", SR_CODEC_MAX_ITEMS,
                                       &arr, &n, ec)) ||
            (err = sr_codec__ops_from(&arr, n, true, &st->ops, ec)))
                return err;
        st->n_ops = (uint32_t)n;
        if ((err = sr_codec__get_array(b, "targets", SR_CODEC_MAX_ITEMS,
                                       &arr, &n, ec)) ||
            (err = sr_codec__targets_from(&arr, n, &st->targets, ec)))
                return err;
        st->n_targets = (uint32_t)n;
        return open_stage_from(b, st, ec);
}

static sr_err_t stage_op_to(avro_value_t *b, const sr_stage_run_op_t *op,
                      sr_errctx_t *ec)
{
        sr_err_t err;

        if ((err = sr_codec__set_uuid(b, "id", &op->id, ec)) ||
            (err = sr_codec__set_uuid(b, "pipeline_run_id",
                                      &op->pipeline_run_id, ec)) ||
            (err = sr_codec__set_uuid(b, "stage_run_id", &op->stage_run_id,
                                      ec)) ||
            (err = sr_codec__set_u32(b, "stage_index", op->stage_index,
                                     ec)) ||
            (err = sr_codec__set_u32(b, "index", op->index, ec)) ||
            (err = sr_codec__set_str(b, "operation_type", op->operation_type,
                                     sizeof(op->operation_type), ec)) ||
            (err = sr_codec__set_opt_str(b, "args_json", op->args_json, 0,
                                         ec)) ||
            (err = sr_codec__set_long(b, "created_at", op->created_at,
                                      ec)) ||
            (err = sr_codec__set_u32(b, "version", op->version, ec)))
                return err;
        return SR_OK;
}

static sr_err_t stage_op_from(avro_value_t *b, sr_stage_run_op_t *op,
                        sr_errctx_t *ec)
{
        sr_err_t err;

        if ((err = sr_codec__get_uuid(b, "id", &op->id, ec)) ||
            (err = sr_codec__get_uuid(b, "pipeline_run_id",
                                      &op->pipeline_run_id, ec)) ||
            (err = sr_codec__get_uuid(b, "stage_run_id", &op->stage_run_id,
                                      ec)) ||
            (err = sr_codec__get_u32(b, "stage_index", &op->stage_index,
                                     ec)) ||
            (err = sr_codec__get_u32(b, "index", &op->index, ec)) ||
            (err = sr_codec__get_str(b, "operation_type", op->operation_type,
                                     sizeof(op->operation_type), ec)) ||
            (err = sr_codec__get_long(b, "created_at", &op->created_at,
                                      ec)) ||
            (err = sr_codec__get_u32(b, "version", &op->version, ec)))
                return err;
        /* Last: the only allocation, and nothing fails after it. */
        return sr_codec__get_str_dup(b, "args_json", true, &op->args_json,
                                     ec);
}

static sr_err_t target_run_to(avro_value_t *b, const sr_target_run_t *tr,
                      sr_errctx_t *ec)
{
        sr_err_t err;

        if ((err = meta_to(b, &tr->m, ec)) ||
            (err = sr_codec__set_uuid(b, "pipeline_run_id",
                                      &tr->pipeline_run_id, ec)) ||
            (err = sr_codec__set_uuid(b, "stage_run_id", &tr->stage_run_id,
                                      ec)) ||
            (err = sr_codec__set_uuid(b, "stage_run_operation_id",
                                      &tr->stage_run_operation_id, ec)) ||
            (err = sr_codec__set_u32(b, "stage_index", tr->stage_index,
                                     ec)) ||
            (err = sr_codec__set_u32(b, "op_index", tr->op_index, ec)) ||
            (err = sr_codec__set_u32(b, "target_index", tr->target_index,
                                     ec)) ||
            (err = sr_codec__set_uuid(b, "target_id", &tr->target_id,
                                      ec)) ||
            (err = sr_codec__set_uuid(b, "device_id", &tr->device_id,
                                      ec)) ||
            (err = sr_codec__set_str(b, "device_name", tr->device_name,
                                     sizeof(tr->device_name), ec)) ||
            (err = sr_codec__set_str(b, "device_alias", tr->device_alias,
                                     sizeof(tr->device_alias), ec)) ||
            (err = sr_codec__set_opt_uuid(b, "command_id", &tr->command_id,
                                          ec)) ||
            (err = sr_codec__set_str(b, "command_status", tr->command_status,
                                     sizeof(tr->command_status), ec)) ||
            (err = sr_codec__set_bool(b, "cancel_requested",
                                      tr->cancel_requested, ec)))
                return err;
        return SR_OK;
}

static sr_err_t target_run_from(avro_value_t *b, sr_target_run_t *tr,
                        sr_errctx_t *ec)
{
        sr_err_t err;

        if ((err = meta_from(b, &tr->m, ec)) ||
            (err = sr_codec__get_uuid(b, "pipeline_run_id",
                                      &tr->pipeline_run_id, ec)) ||
            (err = sr_codec__get_uuid(b, "stage_run_id", &tr->stage_run_id,
                                      ec)) ||
            (err = sr_codec__get_uuid(b, "stage_run_operation_id",
                                      &tr->stage_run_operation_id, ec)) ||
            (err = sr_codec__get_u32(b, "stage_index", &tr->stage_index,
                                     ec)) ||
            (err = sr_codec__get_u32(b, "op_index", &tr->op_index, ec)) ||
            (err = sr_codec__get_u32(b, "target_index", &tr->target_index,
                                     ec)) ||
            (err = sr_codec__get_uuid(b, "target_id", &tr->target_id,
                                      ec)) ||
            (err = sr_codec__get_uuid(b, "device_id", &tr->device_id,
                                      ec)) ||
            (err = sr_codec__get_str(b, "device_name", tr->device_name,
                                     sizeof(tr->device_name), ec)) ||
            (err = sr_codec__get_str(b, "device_alias", tr->device_alias,
                                     sizeof(tr->device_alias), ec)) ||
            (err = sr_codec__get_opt_uuid(b, "command_id", &tr->command_id,
                                          ec)) ||
            (err = sr_codec__get_str(b, "command_status", tr->command_status,
                                     sizeof(tr->command_status), ec)) ||
            (err = sr_codec__get_bool(b, "cancel_requested",
                                      &tr->cancel_requested, ec)))
                return err;
        return SR_OK;
}

/* ---------------------------------------------------------- internal kinds */

static sr_err_t dedupe_to(avro_value_t *b, const sr_cl_dedupe_t *d,
                          sr_errctx_t *ec)
{
        avro_value_t r;
        sr_err_t err;
        int rc;

        if ((err = sr_codec__set_uuid(b, "input_id", &d->input_id, ec)) ||
            (err = sr_codec__set_uuid(b, "pipeline_run_id",
                                      &d->pipeline_run_id, ec)) ||
            (err = sr_codec__set_branch(b, "reply", d->has_reply ? 1 : 0, &r,
                                        ec)))
                return err;
        if (d->has_reply) {
                err = sr_codec__reply_to(&r, &d->reply, ec);
                if (err)
                        sr_errctx_prefix(ec, "reply");
                return err;
        }
        rc = avro_value_set_null(&r);
        if (rc)
                return sr_codec__avro_err(ec, rc, "reply", "set null");
        return SR_OK;
}

static sr_err_t dedupe_from(avro_value_t *b, sr_cl_dedupe_t *d,
                            sr_errctx_t *ec)
{
        avro_value_t r;
        sr_err_t err;
        int disc;

        if ((err = sr_codec__get_uuid(b, "input_id", &d->input_id, ec)) ||
            (err = sr_codec__get_uuid(b, "pipeline_run_id",
                                      &d->pipeline_run_id, ec)) ||
            (err = sr_codec__get_branch(b, "reply", &disc, &r, ec)))
                return err;
        d->has_reply = disc != 0;
        if (d->has_reply) {
                err = sr_codec__reply_from(&r, &d->reply, ec);
                if (err)
                        sr_errctx_prefix(ec, "reply");
                return err;
        }
        return SR_OK;
}

static sr_err_t marker_to(avro_value_t *b, const sr_cl_marker_t *m,
                          sr_errctx_t *ec)
{
        sr_err_t err;

        if ((err = sr_codec__set_str(b, "batch_id", m->batch_id,
                                     sizeof(m->batch_id), ec)) ||
            (err = sr_codec__set_int(b, "partition", m->partition, ec)) ||
            (err = sr_codec__set_long(b, "commands_offset",
                                      m->commands_offset, ec)) ||
            (err = sr_codec__set_long(b, "results_offset", m->results_offset,
                                      ec)) ||
            (err = sr_codec__set_long(b, "written_at", m->written_at, ec)))
                return err;
        return SR_OK;
}

static sr_err_t marker_from(avro_value_t *b, sr_cl_marker_t *m,
                            sr_errctx_t *ec)
{
        sr_err_t err;

        if ((err = sr_codec__get_str(b, "batch_id", m->batch_id,
                                     sizeof(m->batch_id), ec)) ||
            (err = sr_codec__get_int(b, "partition", &m->partition, ec)) ||
            (err = sr_codec__get_long(b, "commands_offset",
                                      &m->commands_offset, ec)) ||
            (err = sr_codec__get_long(b, "results_offset",
                                      &m->results_offset, ec)) ||
            (err = sr_codec__get_long(b, "written_at", &m->written_at, ec)))
                return err;
        return SR_OK;
}

static sr_err_t retired_to(avro_value_t *b, const sr_cl_retired_t *r,
                           sr_errctx_t *ec)
{
        sr_err_t err;

        if ((err = sr_codec__set_uuid(b, "pipeline_run_id",
                                      &r->pipeline_run_id, ec)) ||
            (err = sr_codec__set_str(b, "enterprise_id", r->enterprise_id,
                                     sizeof(r->enterprise_id), ec)) ||
            (err = sr_codec__set_uuid(b, "pipeline_id", &r->pipeline_id,
                                      ec)) ||
            (err = sr_codec__set_long(b, "ended_at", r->ended_at, ec)) ||
            (err = sr_codec__set_long(b, "retired_at", r->retired_at, ec)) ||
            (err = sr_codec__set_long(b, "forget_at", r->forget_at, ec)))
                return err;
        return SR_OK;
}

static sr_err_t retired_from(avro_value_t *b, sr_cl_retired_t *r,
                             sr_errctx_t *ec)
{
        sr_err_t err;

        if ((err = sr_codec__get_uuid(b, "pipeline_run_id",
                                      &r->pipeline_run_id, ec)) ||
            (err = sr_codec__get_str(b, "enterprise_id", r->enterprise_id,
                                     sizeof(r->enterprise_id), ec)) ||
            (err = sr_codec__get_uuid(b, "pipeline_id", &r->pipeline_id,
                                      ec)) ||
            (err = sr_codec__get_long(b, "ended_at", &r->ended_at, ec)) ||
            (err = sr_codec__get_long(b, "retired_at", &r->retired_at, ec)) ||
            (err = sr_codec__get_long(b, "forget_at", &r->forget_at, ec)))
                return err;
        return SR_OK;
}

static sr_err_t chunk_to(avro_value_t *b, const sr_stage_chunk_t *c,
                         sr_errctx_t *ec)
{
        avro_value_t f;
        sr_err_t err;

        if ((err = sr_codec__set_uuid(b, "pipeline_run_id",
                                      &c->pipeline_run_id, ec)) ||
            (err = sr_codec__set_u32(b, "stage_index", c->stage_index,
                                     ec)) ||
            (err = sr_codec__set_u32(b, "chunk", c->chunk, ec)) ||
            (err = sr_codec__field(b, "digest", &f, ec)) ||
            (err = digest_to(&f, "digest", c->digest, ec)) ||
            (err = sr_codec__field(b, "targets", &f, ec)) ||
            (err = sr_codec__targets_to(&f, c->targets, c->n_targets, ec)))
                return err;
        return SR_OK;
}

/* The targets are allocated last: on failure @p c owns nothing. */
static sr_err_t chunk_from(avro_value_t *b, sr_stage_chunk_t *c,
                           sr_errctx_t *ec)
{
        avro_value_t f;
        sr_err_t err;
        size_t n;

        if ((err = sr_codec__get_uuid(b, "pipeline_run_id",
                                      &c->pipeline_run_id, ec)) ||
            (err = sr_codec__get_u32(b, "stage_index", &c->stage_index,
                                     ec)) ||
            (err = sr_codec__get_u32(b, "chunk", &c->chunk, ec)) ||
            (err = sr_codec__field(b, "digest", &f, ec)) ||
            (err = digest_from(&f, "digest", c->digest, ec)) ||
            (err = sr_codec__get_array(b, "targets", SR_CODEC_MAX_ITEMS, &f,
                                       &n, ec)) ||
            (err = sr_codec__targets_from(&f, n, &c->targets, ec)))
                return err;
        c->n_targets = (uint32_t)n;
        return SR_OK;
}

/* ---------------------------------------------------------- records */

int sr_codec__cl_branch(const sr_changelog_t *cl)
{
        switch (cl->kind) {
        case SR_CL_ENTITY:
                return (unsigned)cl->u.entity.type < SR_ENT__COUNT ?
                       (int)cl->u.entity.type : -1;
        case SR_CL_DEDUPE:
                return BR_DEDUPE;
        case SR_CL_MARKER:
                return BR_MARKER;
        case SR_CL_RETIRED:
                return BR_RETIRED;
        case SR_CL_CHUNK:
                return BR_CHUNK;
        case SR_CL_DEF:
                return (unsigned)cl->u.def.kind < SR_DEF__COUNT ?
                       BR_DEF + (int)cl->u.def.kind : -1;
        case SR_CL_GROUP:
                return (unsigned)cl->u.grp.kind < SR_GREC__COUNT ?
                       BR_GROUP + (int)cl->u.grp.kind : -1;
        default:
                return -1;
        }
}

bool sr_codec__cl_needs_v3(const sr_changelog_t *cl)
{
        return cl->kind == SR_CL_DEF ||
               (cl->kind == SR_CL_DEDUPE && cl->u.dedupe.has_reply &&
                cl->u.dedupe.reply.has_def);
}

bool sr_codec__cl_needs_v4(const sr_changelog_t *cl)
{
        return cl->kind == SR_CL_GROUP;
}

/* A record is written in the oldest version that carries it, so a worker
 * rolled back to the release before version 2 still restores a changelog
 * without open stages (docs/schemas.md, "Our own readers"). */
bool sr_codec__cl_fits_v1(const sr_changelog_t *cl)
{
        const sr_stage_run_t *st = &cl->u.entity.u.sr;

        if (cl->kind == SR_CL_CHUNK || sr_codec__cl_needs_v3(cl) ||
            sr_codec__cl_needs_v4(cl))
                return false;
        if (cl->kind != SR_CL_ENTITY || cl->u.entity.type != SR_ENT_STAGE_RUN)
                return true;
        return !st->append_targets && !st->expected_targets &&
               !st->chunks_applied && !st->targets_appended && !st->sealed &&
               !st->seal_chunks && !st->seal_count &&
               !sr_codec__seal_digest_set(st);
}

static sr_err_t changelog_to(avro_value_t *v, const sr_changelog_t *cl,
                             sr_errctx_t *ec)
{
        int br = sr_codec__cl_branch(cl);
        avro_value_t b;
        sr_err_t err;

        if (br < 0)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field state: unknown kind %d / entity "
                                     "type %d", (int)cl->kind,
                                     (int)cl->u.entity.type);
        err = sr_codec__set_branch(v, "state", br, &b, ec);
        if (err)
                return err;
        switch (br) {
        case SR_ENT_PIPELINE_RUN:
                err = pipeline_run_to(&b, &cl->u.entity.u.pr, ec);
                break;
        case SR_ENT_STAGE_RUN:
                err = stage_run_to(&b, &cl->u.entity.u.sr, ec);
                break;
        case SR_ENT_STAGE_RUN_OPERATION:
                err = stage_op_to(&b, &cl->u.entity.u.op, ec);
                break;
        case SR_ENT_TARGET_RUN:
                err = target_run_to(&b, &cl->u.entity.u.tr, ec);
                break;
        case BR_DEDUPE:
                err = dedupe_to(&b, &cl->u.dedupe, ec);
                break;
        case BR_RETIRED:
                err = retired_to(&b, &cl->u.retired, ec);
                break;
        case BR_CHUNK:
                err = chunk_to(&b, &cl->u.chunk, ec);
                break;
        case BR_MARKER:
                err = marker_to(&b, &cl->u.marker, ec);
                break;
        case BR_GROUP + SR_GREC_GROUP:
        case BR_GROUP + SR_GREC_MEMBER:
        case BR_GROUP + SR_GREC_COPY_MEMBER:
        case BR_GROUP + SR_GREC_COPY_CLOSE:
                err = sr_codec__group_record_to(&b, &cl->u.grp, ec);
                break;
        default:
                err = sr_codec__def_record_to(&b, &cl->u.def, ec);
                break;
        }
        if (err)
                sr_errctx_prefix(ec, "state %s", branch_names[br]);
        return err;
}

/* On failure the caller releases an entity's parts with sr_entity_fini(),
 * a chunk's with sr_stage_chunk_fini(). A version 1 body never holds a
 * StageChunk: its union has no such branch, and sr_codec__scan() refuses
 * the index. */
static sr_err_t changelog_from(avro_value_t *v, sr_changelog_t *cl,
                               sr_errctx_t *ec)
{
        avro_value_t b;
        sr_err_t err;
        int br;

        err = sr_codec__get_branch(v, "state", &br, &b, ec);
        if (err)
                return err;
        if (br < 0 || br >= BR__COUNT)
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field state: unknown branch %d", br);
        if (br < SR_ENT__COUNT) {
                cl->kind = SR_CL_ENTITY;
                cl->u.entity.type = (sr_entity_type_t)br;
        } else if (br >= BR_GROUP) {
                cl->kind = SR_CL_GROUP;
                cl->u.grp.kind = (sr_group_rec_kind_t)(br - BR_GROUP);
        } else if (br >= BR_DEF) {
                cl->kind = SR_CL_DEF;
                cl->u.def.kind = (sr_def_kind_t)(br - BR_DEF);
        } else {
                cl->kind = br == BR_DEDUPE ? SR_CL_DEDUPE :
                           br == BR_RETIRED ? SR_CL_RETIRED :
                           br == BR_CHUNK ? SR_CL_CHUNK : SR_CL_MARKER;
        }
        switch (br) {
        case SR_ENT_PIPELINE_RUN:
                err = pipeline_run_from(&b, &cl->u.entity.u.pr, ec);
                break;
        case SR_ENT_STAGE_RUN:
                err = stage_run_from(&b, &cl->u.entity.u.sr, ec);
                break;
        case SR_ENT_STAGE_RUN_OPERATION:
                err = stage_op_from(&b, &cl->u.entity.u.op, ec);
                break;
        case SR_ENT_TARGET_RUN:
                err = target_run_from(&b, &cl->u.entity.u.tr, ec);
                break;
        case BR_DEDUPE:
                err = dedupe_from(&b, &cl->u.dedupe, ec);
                break;
        case BR_RETIRED:
                err = retired_from(&b, &cl->u.retired, ec);
                break;
        case BR_CHUNK:
                err = chunk_from(&b, &cl->u.chunk, ec);
                break;
        case BR_MARKER:
                err = marker_from(&b, &cl->u.marker, ec);
                break;
        case BR_GROUP + SR_GREC_GROUP:
        case BR_GROUP + SR_GREC_MEMBER:
        case BR_GROUP + SR_GREC_COPY_MEMBER:
        case BR_GROUP + SR_GREC_COPY_CLOSE:
                err = sr_codec__group_record_from(&b, &cl->u.grp, ec);
                break;
        default:
                err = sr_codec__def_record_from(&b, &cl->u.def, ec);
                break;
        }
        if (err)
                sr_errctx_prefix(ec, "state %s", branch_names[br]);
        return err;
}

/* The avro-c implementation; sr_codec_encode_changelog() is the
 * hand-written one in sr_codec_fast.c, which must give the same bytes and
 * errors. */
sr_err_t sr_codec__encode_changelog_avro(sr_codec_t *codec,
                                         const sr_changelog_t *cl,
                                         sr_buf_t *out, sr_errctx_t *ec)
{
        /* The older version's index, or -1 for the newest (version 4). */
        int older = sr_codec__cl_needs_v4(cl) ? -1 :
                    sr_codec__cl_needs_v3(cl) ? SR_OLDER_CHANGELOG_V3 :
                    sr_codec__cl_fits_v1(cl) ? SR_OLDER_CHANGELOG_V1 :
                                               SR_OLDER_CHANGELOG_V2;
        avro_value_t *v;
        sr_err_t err;

        err = older >= 0 ?
                      sr_codec__begin_encode_older(codec, older, &v, ec) :
                      sr_codec__begin_encode(codec, SR_SCHEMA_CHANGELOG, &v,
                                             ec);
        if (!err)
                err = changelog_to(v, cl, ec);
        if (!err)
                err = older >= 0 ? sr_codec__finish_encode_older(
                                           codec, older, out, ec) :
                                   sr_codec__finish_encode(
                                           codec, SR_SCHEMA_CHANGELOG, out,
                                           ec);
        if (err)
                sr_errctx_prefix(ec, "encode changelog");
        return err;
}

void sr_changelog_fini(sr_changelog_t *cl)
{
        if (cl->kind == SR_CL_ENTITY)
                sr_entity_fini(&cl->u.entity);
        else if (cl->kind == SR_CL_CHUNK)
                sr_stage_chunk_fini(&cl->u.chunk);
        else if (cl->kind == SR_CL_DEF)
                sr_def_record_fini(&cl->u.def);
}

sr_err_t sr_codec__decode_changelog_avro(sr_codec_t *codec, sr_slice_t in,
                                         sr_changelog_t *out,
                                         sr_errctx_t *ec)
{
        sr_changelog_t tmp;
        avro_value_t *v;
        sr_err_t err;

        memset(&tmp, 0, sizeof(tmp));
        tmp.kind = SR_CL_MARKER; /* owns nothing until a branch is read */
        err = sr_codec__begin_decode(codec, in, SR_SCHEMA_CHANGELOG, &v, ec);
        if (!err)
                err = changelog_from(v, &tmp, ec);
        if (err) {
                sr_changelog_fini(&tmp);
                sr_errctx_prefix(ec, "changelog");
                return err;
        }
        *out = tmp;
        return SR_OK;
}

sr_err_t sr_codec_decode_changelog(sr_codec_t *codec, sr_slice_t in,
                                   sr_changelog_t *out, sr_errctx_t *ec)
{
        int32_t ids[2] = { codec->ids.older[SR_OLDER_CHANGELOG_V1],
                           codec->ids.older[SR_OLDER_CHANGELOG_V2] };
        sr_changelog_t tmp;

        /* the records of target runs (most of a run's), as written:
         * without avro-c (a paged run reads them back one by one:
         * sr_run_tr()) */
        memset(&tmp, 0, sizeof(tmp));
        if (sr_codec__decode_target_run_fast(in, ids, 2,
                                             &tmp.u.entity.u.tr)) {
                tmp.kind = SR_CL_ENTITY;
                tmp.u.entity.type = SR_ENT_TARGET_RUN;
                *out = tmp;
                return SR_OK;
        }
        return sr_codec__decode_changelog_avro(codec, in, out, ec);
}
