/* common/codec/sr_codec_records.c - the flat records: TargetRunResult,
 * StatusChangeEvent, DispatchRequest and CommandReply (which the changelog
 * reuses for dedupe entries).
 */
#include "sr_codec_int.h"

#include <string.h>
#include <strings.h>

/* ---------------------------------------------------------- results */

static sr_err_t result_to(avro_value_t *v, const sr_result_t *r,
                          sr_errctx_t *ec)
{
        sr_err_t err;

        if ((err = sr_codec__set_uuid(v, "result_id", &r->result_id, ec)) ||
            (err = sr_codec__set_uuid(v, "pipeline_run_id",
                                      &r->pipeline_run_id, ec)) ||
            (err = sr_codec__set_uuid(v, "stage_run_id", &r->stage_run_id,
                                      ec)) ||
            (err = sr_codec__set_uuid(v, "target_run_id", &r->target_run_id,
                                      ec)) ||
            (err = sr_codec__set_uuid(v, "command_id", &r->command_id,
                                      ec)) ||
            (err = sr_codec__set_str(v, "command_status", r->command_status,
                                     sizeof(r->command_status), ec)) ||
            (err = sr_codec__set_uuid(v, "device_id", &r->device_id, ec)) ||
            (err = sr_codec__set_str(v, "device_name", r->device_name,
                                     sizeof(r->device_name), ec)) ||
            (err = sr_codec__set_long(v, "reported_at", r->reported_at,
                                      ec)))
                return err;
        return SR_OK;
}

static sr_err_t result_from(avro_value_t *v, sr_result_t *r,
                            sr_errctx_t *ec)
{
        sr_cmdst_t cs;
        sr_err_t err;
        char q[64];
        size_t len;

        if ((err = sr_codec__get_uuid(v, "result_id", &r->result_id, ec)) ||
            (err = sr_codec__get_uuid(v, "pipeline_run_id",
                                      &r->pipeline_run_id, ec)) ||
            (err = sr_codec__get_uuid(v, "stage_run_id", &r->stage_run_id,
                                      ec)) ||
            (err = sr_codec__get_uuid(v, "target_run_id", &r->target_run_id,
                                      ec)) ||
            (err = sr_codec__get_uuid(v, "command_id", &r->command_id,
                                      ec)) ||
            (err = sr_codec__get_str(v, "command_status", r->command_status,
                                     sizeof(r->command_status), ec)) ||
            (err = sr_codec__get_uuid(v, "device_id", &r->device_id, ec)) ||
            (err = sr_codec__get_str(v, "device_name", r->device_name,
                                     sizeof(r->device_name), ec)) ||
            (err = sr_codec__get_long(v, "reported_at", &r->reported_at,
                                      ec)))
                return err;
        /* domain.md: an unknown command status is a poison input. */
        len = strlen(r->command_status);
        if (!sr_cmdst_parse(r->command_status, len, &cs))
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field command_status: unknown command "
                                     "status \"%s\"",
                                     sr_codec__quote(q, r->command_status,
                                                     len));
        return SR_OK;
}

sr_err_t sr_codec_encode_result(sr_codec_t *codec, const sr_result_t *res,
                                sr_buf_t *out, sr_errctx_t *ec)
{
        avro_value_t *v;
        sr_err_t err;

        err = sr_codec__begin_encode(codec, SR_SCHEMA_RESULT, &v, ec);
        if (!err)
                err = result_to(v, res, ec);
        if (!err)
                err = sr_codec__finish_encode(codec, SR_SCHEMA_RESULT, out,
                                              ec);
        if (err)
                sr_errctx_prefix(ec, "encode result");
        return err;
}

/* The avro-c implementation; sr_codec_decode_result() (sr_codec_fast.c)
 * tries a hand-written reader first and falls back to this one. */
sr_err_t sr_codec__decode_result_avro(sr_codec_t *codec, sr_slice_t in,
                                      sr_result_t *out, sr_errctx_t *ec)
{
        sr_result_t tmp;
        avro_value_t *v;
        sr_err_t err;

        memset(&tmp, 0, sizeof(tmp));
        err = sr_codec__begin_decode(codec, in, SR_SCHEMA_RESULT, &v, ec);
        if (!err)
                err = result_from(v, &tmp, ec);
        if (err) {
                sr_errctx_prefix(ec, "result");
                return err;
        }
        *out = tmp;
        return SR_OK;
}

/* ---------------------------------------------------------- events */

static sr_err_t event_to(avro_value_t *v, const sr_event_t *e,
                         sr_errctx_t *ec)
{
        sr_err_t err;

        if (e->seq > INT64_MAX)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field seq: out of range");
        if ((err = sr_codec__set_uuid(v, "event_id", &e->event_id, ec)) ||
            (err = sr_codec__set_uuid(v, "pipeline_run_id",
                                      &e->pipeline_run_id, ec)) ||
            (err = sr_codec__set_long(v, "seq", (int64_t)e->seq, ec)) ||
            (err = sr_codec__set_enum(v, "entity_type", (int)e->entity_type,
                                      SR_ENT__COUNT, ec)) ||
            (err = sr_codec__set_uuid(v, "entity_id", &e->entity_id, ec)) ||
            (err = sr_codec__set_uuid(v, "pipeline_id", &e->pipeline_id,
                                      ec)) ||
            (err = sr_codec__set_opt_uuid(v, "stage_run_id",
                                          &e->stage_run_id, ec)) ||
            (err = sr_codec__set_opt_uuid(v, "stage_run_operation_id",
                                          &e->stage_run_operation_id, ec)) ||
            (err = sr_codec__set_opt_uuid(v, "device_id", &e->device_id,
                                          ec)) ||
            (err = sr_codec__set_opt_status(v, "from_status", e->from_status,
                                            ec)) ||
            (err = sr_codec__set_status(v, "to_status", e->to_status, false,
                                        ec)) ||
            (err = sr_codec__set_str(v, "reason", e->reason,
                                     sizeof(e->reason), ec)) ||
            (err = sr_codec__set_long(v, "occurred_at", e->occurred_at,
                                      ec)) ||
            (err = sr_codec__set_uuid(v, "causation_id", &e->causation_id,
                                      ec)) ||
            (err = sr_codec__set_str(v, "enterprise_id", e->enterprise_id,
                                     sizeof(e->enterprise_id), ec)) ||
            (err = sr_codec__set_u32(v, "version", e->version, ec)))
                return err;
        return SR_OK;
}

static sr_err_t event_from(avro_value_t *v, sr_event_t *e, sr_errctx_t *ec)
{
        int64_t seq;
        sr_err_t err;
        int type;

        if ((err = sr_codec__get_uuid(v, "event_id", &e->event_id, ec)) ||
            (err = sr_codec__get_uuid(v, "pipeline_run_id",
                                      &e->pipeline_run_id, ec)) ||
            (err = sr_codec__get_long(v, "seq", &seq, ec)) ||
            (err = sr_codec__get_enum(v, "entity_type", SR_ENT__COUNT,
                                      &type, ec)) ||
            (err = sr_codec__get_uuid(v, "entity_id", &e->entity_id, ec)) ||
            (err = sr_codec__get_uuid(v, "pipeline_id", &e->pipeline_id,
                                      ec)) ||
            (err = sr_codec__get_opt_uuid(v, "stage_run_id",
                                          &e->stage_run_id, ec)) ||
            (err = sr_codec__get_opt_uuid(v, "stage_run_operation_id",
                                          &e->stage_run_operation_id, ec)) ||
            (err = sr_codec__get_opt_uuid(v, "device_id", &e->device_id,
                                          ec)) ||
            (err = sr_codec__get_opt_status(v, "from_status",
                                            &e->from_status, ec)) ||
            (err = sr_codec__get_status(v, "to_status", false,
                                        &e->to_status, ec)) ||
            (err = sr_codec__get_str(v, "reason", e->reason,
                                     sizeof(e->reason), ec)) ||
            (err = sr_codec__get_long(v, "occurred_at", &e->occurred_at,
                                      ec)) ||
            (err = sr_codec__get_uuid(v, "causation_id", &e->causation_id,
                                      ec)) ||
            (err = sr_codec__get_str(v, "enterprise_id", e->enterprise_id,
                                     sizeof(e->enterprise_id), ec)) ||
            (err = sr_codec__get_u32(v, "version", &e->version, ec)))
                return err;
        if (seq < 0)
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field seq: negative (%lld)",
                                     (long long)seq);
        e->seq = (uint64_t)seq;
        e->entity_type = (sr_entity_type_t)type;
        return SR_OK;
}

/* The avro-c implementation; sr_codec_encode_event() is the hand-written
 * one in sr_codec_fast.c, which must give the same bytes and errors. */
sr_err_t sr_codec__encode_event_avro(sr_codec_t *codec, const sr_event_t *ev,
                                     sr_buf_t *out, sr_errctx_t *ec)
{
        avro_value_t *v;
        sr_err_t err;

        err = sr_codec__begin_encode(codec, SR_SCHEMA_EVENT, &v, ec);
        if (!err)
                err = event_to(v, ev, ec);
        if (!err)
                err = sr_codec__finish_encode(codec, SR_SCHEMA_EVENT, out,
                                              ec);
        if (err)
                sr_errctx_prefix(ec, "encode event");
        return err;
}

sr_err_t sr_codec_decode_event(sr_codec_t *codec, sr_slice_t in,
                               sr_event_t *out, sr_errctx_t *ec)
{
        sr_event_t tmp;
        avro_value_t *v;
        sr_err_t err;

        memset(&tmp, 0, sizeof(tmp));
        err = sr_codec__begin_decode(codec, in, SR_SCHEMA_EVENT, &v, ec);
        if (!err)
                err = event_from(v, &tmp, ec);
        if (err) {
                sr_errctx_prefix(ec, "event");
                return err;
        }
        *out = tmp;
        return SR_OK;
}

/* ---------------------------------------------------------- dispatch */

static sr_err_t dispatch_to(avro_value_t *v, const sr_dispatch_t *d,
                            sr_errctx_t *ec)
{
        sr_err_t err;

        if ((err = sr_codec__set_enum(v, "kind", (int)d->kind,
                                      SR_DISPATCH_CANCEL + 1, ec)) ||
            (err = sr_codec__set_uuid(v, "command_id", &d->command_id,
                                      ec)) ||
            (err = sr_codec__set_uuid(v, "pipeline_run_id",
                                      &d->pipeline_run_id, ec)) ||
            (err = sr_codec__set_uuid(v, "stage_run_id", &d->stage_run_id,
                                      ec)) ||
            (err = sr_codec__set_uuid(v, "target_run_id", &d->target_run_id,
                                      ec)) ||
            (err = sr_codec__set_uuid(v, "device_id", &d->device_id, ec)) ||
            (err = sr_codec__set_str(v, "device_name", d->device_name,
                                     sizeof(d->device_name), ec)) ||
            (err = sr_codec__set_str(v, "operation_type", d->operation_type,
                                     sizeof(d->operation_type), ec)) ||
            (err = sr_codec__set_str(v, "args_json",
                                     d->args_json ? d->args_json : "{}", 0,
                                     ec)) ||
            (err = sr_codec__set_str(v, "enterprise_id", d->enterprise_id,
                                     sizeof(d->enterprise_id), ec)) ||
            (err = sr_codec__set_long(v, "issued_at", d->issued_at, ec)))
                return err;
        return SR_OK;
}

/* On SR_OK *args owns the args text (d->args_json points to it). */
static sr_err_t dispatch_from(avro_value_t *v, sr_dispatch_t *d,
                              char **args, sr_errctx_t *ec)
{
        sr_err_t err;
        int kind;

        if ((err = sr_codec__get_enum(v, "kind", SR_DISPATCH_CANCEL + 1,
                                      &kind, ec)) ||
            (err = sr_codec__get_uuid(v, "command_id", &d->command_id,
                                      ec)) ||
            (err = sr_codec__get_uuid(v, "pipeline_run_id",
                                      &d->pipeline_run_id, ec)) ||
            (err = sr_codec__get_uuid(v, "stage_run_id", &d->stage_run_id,
                                      ec)) ||
            (err = sr_codec__get_uuid(v, "target_run_id", &d->target_run_id,
                                      ec)) ||
            (err = sr_codec__get_uuid(v, "device_id", &d->device_id, ec)) ||
            (err = sr_codec__get_str(v, "device_name", d->device_name,
                                     sizeof(d->device_name), ec)) ||
            (err = sr_codec__get_str(v, "operation_type", d->operation_type,
                                     sizeof(d->operation_type), ec)) ||
            (err = sr_codec__get_str(v, "enterprise_id", d->enterprise_id,
                                     sizeof(d->enterprise_id), ec)) ||
            (err = sr_codec__get_long(v, "issued_at", &d->issued_at, ec)))
                return err;
        /* Last, so nothing can fail after the allocation. */
        err = sr_codec__get_str_dup(v, "args_json", false, args, ec);
        if (err)
                return err;
        d->kind = (sr_dispatch_kind_t)kind;
        d->args_json = *args;
        return SR_OK;
}

sr_err_t sr_codec_encode_dispatch(sr_codec_t *codec, const sr_dispatch_t *d,
                                  sr_buf_t *out, sr_errctx_t *ec)
{
        avro_value_t *v;
        sr_err_t err;

        err = sr_codec__begin_encode(codec, SR_SCHEMA_DISPATCH, &v, ec);
        if (!err)
                err = dispatch_to(v, d, ec);
        if (!err)
                err = sr_codec__finish_encode(codec, SR_SCHEMA_DISPATCH, out,
                                              ec);
        if (err)
                sr_errctx_prefix(ec, "encode dispatch");
        return err;
}

sr_err_t sr_codec_decode_dispatch(sr_codec_t *codec, sr_slice_t in,
                                  sr_dispatch_t *out, char **args_owned,
                                  sr_errctx_t *ec)
{
        sr_dispatch_t tmp;
        avro_value_t *v;
        char *args = NULL;
        sr_err_t err;

        memset(&tmp, 0, sizeof(tmp));
        err = sr_codec__begin_decode(codec, in, SR_SCHEMA_DISPATCH, &v, ec);
        if (!err)
                err = dispatch_from(v, &tmp, &args, ec);
        if (err) {
                sr_errctx_prefix(ec, "dispatch");
                return err;
        }
        *out = tmp;
        *args_owned = args; /* ownership moved to the caller */
        return SR_OK;
}

/* ---------------------------------------------------------- replies */

/* The definition part (CommandReply version 2, changelog version 3):
 * null unless has_def. A version without the field carries no such reply
 * (the writers pick the version; a reply with one never gets here). */
static sr_err_t reply_def_to(avro_value_t *rec, const sr_reply_t *reply,
                             sr_errctx_t *ec)
{
        avro_value_t f;
        sr_err_t err;
        int rc;

        if (!sr_codec__field_opt(rec, "definition", &f)) {
                if (!reply->has_def)
                        return SR_OK;
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field definition: not in this "
                                     "version");
        }
        err = sr_codec__set_branch(rec, "definition", reply->has_def ? 1 : 0,
                                   &f, ec);
        if (err)
                return err;
        if (!reply->has_def) {
                rc = avro_value_set_null(&f);
                return rc ? sr_codec__avro_err(ec, rc, "definition",
                                               "set null") :
                            SR_OK;
        }
        err = sr_codec__reply_def_to(&f, &reply->def, ec);
        if (err)
                sr_errctx_prefix(ec, "definition");
        return err;
}

sr_err_t sr_codec__reply_to(avro_value_t *rec, const sr_reply_t *reply,
                            sr_errctx_t *ec)
{
        avro_value_t arr, item;
        sr_err_t err;

        if ((unsigned)reply->reason >= SR_REJECT__COUNT)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field reason: value %d out of range",
                                     (int)reply->reason);
        if (reply->n_versions > SR_REPLY_MAX_VERSIONS)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field versions: %u items, at most %d",
                                     reply->n_versions,
                                     SR_REPLY_MAX_VERSIONS);
        if ((err = sr_codec__set_uuid(rec, "command_id", &reply->command_id,
                                      ec)) ||
            (err = sr_codec__set_uuid(rec, "pipeline_run_id",
                                      &reply->pipeline_run_id, ec)) ||
            (err = sr_codec__set_bool(rec, "accepted", reply->accepted,
                                      ec)) ||
            (err = sr_codec__set_str(rec, "reason",
                                     sr_reject_name(reply->reason), 0,
                                     ec)) ||
            (err = sr_codec__set_str(rec, "message", reply->message,
                                     sizeof(reply->message), ec)) ||
            (err = sr_codec__set_long(rec, "occurred_at",
                                      reply->occurred_at, ec)) ||
            (err = sr_codec__field(rec, "versions", &arr, ec)))
                return err;
        for (uint32_t i = 0; i < reply->n_versions; i++) {
                const sr_version_ref_t *vr = &reply->versions[i];

                if ((err = sr_codec__append(&arr, "versions", &item, ec)) ||
                    (err = sr_codec__set_enum(&item, "entity_type",
                                              (int)vr->entity_type,
                                              SR_ENT__COUNT, ec)) ||
                    (err = sr_codec__set_uuid(&item, "entity_id",
                                              &vr->entity_id, ec)) ||
                    (err = sr_codec__set_u32(&item, "version", vr->version,
                                             ec))) {
                        sr_errctx_prefix(ec, "versions[%u]", i);
                        return err;
                }
        }
        return reply_def_to(rec, reply, ec);
}

static sr_err_t reason_parse(avro_value_t *rec, sr_reject_t *out,
                             sr_errctx_t *ec)
{
        char text[SR_SHORT_MAX], q[64];
        sr_err_t err;

        err = sr_codec__get_str(rec, "reason", text, sizeof(text), ec);
        if (err)
                return err;
        for (int i = 0; i < SR_REJECT__COUNT; i++) {
                if (!strcasecmp(text, sr_reject_name((sr_reject_t)i))) {
                        *out = (sr_reject_t)i;
                        return SR_OK;
                }
        }
        return sr_errctx_set(ec, SR_ERR_SCHEMA,
                             "field reason: unknown reject reason \"%s\"",
                             sr_codec__quote(q, text, strlen(text)));
}

sr_err_t sr_codec__reply_from(avro_value_t *rec, sr_reply_t *reply,
                              sr_errctx_t *ec)
{
        avro_value_t arr, item;
        sr_err_t err;
        size_t n;
        int type;

        if ((err = sr_codec__get_uuid(rec, "command_id", &reply->command_id,
                                      ec)) ||
            (err = sr_codec__get_uuid(rec, "pipeline_run_id",
                                      &reply->pipeline_run_id, ec)) ||
            (err = sr_codec__get_bool(rec, "accepted", &reply->accepted,
                                      ec)) ||
            (err = reason_parse(rec, &reply->reason, ec)) ||
            (err = sr_codec__get_str(rec, "message", reply->message,
                                     sizeof(reply->message), ec)) ||
            (err = sr_codec__get_long(rec, "occurred_at",
                                      &reply->occurred_at, ec)) ||
            (err = sr_codec__get_array(rec, "versions",
                                       SR_REPLY_MAX_VERSIONS, &arr, &n,
                                       ec)))
                return err;
        for (size_t i = 0; i < n; i++) {
                sr_version_ref_t *vr = &reply->versions[i];
                int rc = avro_value_get_by_index(&arr, i, &item, NULL);

                if (rc)
                        err = sr_codec__avro_err(ec, rc, "versions", "get");
                if (!err)
                        err = sr_codec__get_enum(&item, "entity_type",
                                                 SR_ENT__COUNT, &type, ec);
                if (!err)
                        err = sr_codec__get_uuid(&item, "entity_id",
                                                 &vr->entity_id, ec);
                if (!err)
                        err = sr_codec__get_u32(&item, "version",
                                                &vr->version, ec);
                if (err) {
                        sr_errctx_prefix(ec, "versions[%zu]", i);
                        return err;
                }
                vr->entity_type = (sr_entity_type_t)type;
        }
        reply->n_versions = (uint32_t)n;
        /* Since reply version 2 / changelog version 3. */
        if (!sr_codec__field_opt(rec, "definition", &item))
                return SR_OK;
        err = sr_codec__get_branch(rec, "definition", &type, &item, ec);
        if (err || type == 0)
                return err;
        err = sr_codec__reply_def_from(&item, &reply->def, ec);
        if (err) {
                sr_errctx_prefix(ec, "definition");
                return err;
        }
        reply->has_def = true;
        return SR_OK;
}

sr_err_t sr_codec_encode_reply(sr_codec_t *codec, const sr_reply_t *reply,
                               sr_buf_t *out, sr_errctx_t *ec)
{
        avro_value_t *v;
        sr_err_t err;

        /* The oldest version that carries it: version 1 unless it has a
         * definition part (docs/schemas.md, "Our own readers"). */
        if (!reply->has_def) {
                err = sr_codec__begin_encode_older(codec, SR_OLDER_REPLY_V1,
                                                   &v, ec);
                if (!err)
                        err = sr_codec__reply_to(v, reply, ec);
                if (!err)
                        err = sr_codec__finish_encode_older(
                                codec, SR_OLDER_REPLY_V1, out, ec);
                if (err)
                        sr_errctx_prefix(ec, "encode reply");
                return err;
        }
        err = sr_codec__begin_encode(codec, SR_SCHEMA_REPLY, &v, ec);
        if (!err)
                err = sr_codec__reply_to(v, reply, ec);
        if (!err)
                err = sr_codec__finish_encode(codec, SR_SCHEMA_REPLY, out,
                                              ec);
        if (err)
                sr_errctx_prefix(ec, "encode reply");
        return err;
}

sr_err_t sr_codec_decode_reply(sr_codec_t *codec, sr_slice_t in,
                               sr_reply_t *out, sr_errctx_t *ec)
{
        sr_reply_t tmp;
        avro_value_t *v;
        sr_err_t err;

        memset(&tmp, 0, sizeof(tmp));
        err = sr_codec__begin_decode(codec, in, SR_SCHEMA_REPLY, &v, ec);
        if (!err)
                err = sr_codec__reply_from(v, &tmp, ec);
        if (err) {
                sr_errctx_prefix(ec, "reply");
                return err;
        }
        *out = tmp;
        return SR_OK;
}
