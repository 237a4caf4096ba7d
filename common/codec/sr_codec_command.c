/* common/codec/sr_codec_command.c - io.sr.v1.Command and the run-spec parts it
 * shares with the changelog's stage runs (operations, targets).
 */
#include "sr_codec_int.h"
#include "sr_digest.h"

#include <string.h>

/* Union branches of Command.payload, in sr_cmd_kind_t order up to
 * DeleteRun; then (version 5) one per definition command, in
 * sr_defcmd_kind_t order: branch SR_CMD_DEFINITION + kind (FillStep, the
 * last, since version 6); then (version 7) AddTargetRun; then (version
 * 8) one per device-group command, in sr_grpcmd_kind_t order. */
#define BR_DEF_FIRST ((int)SR_CMD_DEFINITION)
#define BR_ADD_TARGET_RUN (BR_DEF_FIRST + SR_DEFCMD__COUNT)
#define BR_GROUP_FIRST (BR_ADD_TARGET_RUN + 1)
#define BR__COUNT (BR_GROUP_FIRST + SR_GRPCMD__COUNT)

static const char *const payload_names[SR_CMD__COUNT] = {
        [SR_CMD_CREATE_RUN] = "CreateRun",
        [SR_CMD_SET_PIPELINE_RUN_STATUS] = "SetPipelineRunStatus",
        [SR_CMD_SET_STAGE_RUN_STATUS] = "SetStageRunStatus",
        [SR_CMD_SET_TARGET_RUN_STATUS] = "SetTargetRunStatus",
        [SR_CMD_TIMER_FIRED] = "TimerFired",
        [SR_CMD_APPEND_TARGETS] = "AppendTargets",
        [SR_CMD_SEAL_TARGETS] = "SealTargets",
        [SR_CMD_STAGE_STEP] = "StageStep",
        [SR_CMD_TARGET_COMMAND] = "TargetCommand",
        [SR_CMD_DELETE_RUN] = "DeleteRun",
        [SR_CMD_DEFINITION] = "definition",
        [SR_CMD_ADD_TARGET_RUN] = "AddTargetRun",
        [SR_CMD_GROUP] = "group",
};

static const char *branch_name(int br)
{
        if (br == BR_ADD_TARGET_RUN)
                return payload_names[SR_CMD_ADD_TARGET_RUN];
        if (br >= BR_GROUP_FIRST && br < BR__COUNT)
                return sr_grpcmd_name((sr_grpcmd_kind_t)(br - BR_GROUP_FIRST));
        if (br >= BR_DEF_FIRST && br < BR_ADD_TARGET_RUN)
                return sr_defcmd_name((sr_defcmd_kind_t)(br - BR_DEF_FIRST));
        return br >= 0 && br < BR_DEF_FIRST ? payload_names[br] : "?";
}


/* ---------------------------------------------------------- spec parts */

static void ops_free(sr_spec_op_t *ops, size_t n)
{
        for (size_t i = 0; ops && i < n; i++)
                free(ops[i].args_json);
        free(ops);
}

sr_err_t sr_codec__ops_to(avro_value_t *arr, const sr_spec_op_t *ops,
                          uint32_t n, bool nullable_args, sr_errctx_t *ec)
{
        avro_value_t item;
        sr_err_t err;

        if (n && !ops)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field operations: %u items, NULL "
                                     "array", n);
        for (uint32_t i = 0; i < n; i++) {
                const char *args = ops[i].args_json;

                err = sr_codec__append(arr, "operations", &item, ec);
                if (!err)
                        err = sr_codec__set_str(&item, "operation_type",
                                                ops[i].operation_type,
                                                sizeof(ops[i].operation_type),
                                                ec);
                if (!err && nullable_args)
                        err = sr_codec__set_opt_str(&item, "args_json", args,
                                                    0, ec);
                else if (!err)
                        err = sr_codec__set_str(&item, "args_json",
                                                args ? args : "{}", 0, ec);
                if (err) {
                        sr_errctx_prefix(ec, "operations[%u]", i);
                        return err;
                }
        }
        return SR_OK;
}

sr_err_t sr_codec__ops_from(avro_value_t *arr, size_t n, bool nullable_args,
                            sr_spec_op_t **opsp, sr_errctx_t *ec)
{
        avro_value_t item;
        sr_spec_op_t *ops;
        sr_err_t err;
        int rc;

        if (n == 0) {
                *opsp = NULL;
                return SR_OK;
        }
        ops = calloc(n, sizeof(*ops));
        if (!ops)
                return sr_errctx_set(ec, SR_ERR_NOMEM,
                                     "field operations: calloc %zu items", n);
        for (size_t i = 0; i < n; i++) {
                rc = avro_value_get_by_index(arr, i, &item, NULL);
                err = rc ? sr_codec__avro_err(ec, rc, "operations", "get") :
                           SR_OK;
                if (!err)
                        err = sr_codec__get_str(&item, "operation_type",
                                                ops[i].operation_type,
                                                sizeof(ops[i].operation_type),
                                                ec);
                if (!err)
                        err = sr_codec__get_str_dup(&item, "args_json",
                                                    nullable_args,
                                                    &ops[i].args_json, ec);
                if (err) {
                        sr_errctx_prefix(ec, "operations[%zu]", i);
                        ops_free(ops, n);
                        return err;
                }
        }
        *opsp = ops;
        return SR_OK;
}

sr_err_t sr_codec__targets_to(avro_value_t *arr,
                              const sr_spec_target_t *targets, uint32_t n,
                              sr_errctx_t *ec)
{
        avro_value_t item;
        sr_err_t err;

        if (n && !targets)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field targets: %u items, NULL array",
                                     n);
        for (uint32_t i = 0; i < n; i++) {
                const sr_spec_target_t *t = &targets[i];

                if ((err = sr_codec__append(arr, "targets", &item, ec)) ||
                    (err = sr_codec__set_opt_uuid(&item, "target_id",
                                                  &t->target_id, ec)) ||
                    (err = sr_codec__set_uuid(&item, "device_id",
                                              &t->device_id, ec)) ||
                    (err = sr_codec__set_str(&item, "device_name",
                                             t->device_name,
                                             sizeof(t->device_name), ec)) ||
                    (err = sr_codec__set_str(&item, "device_alias",
                                             t->device_alias,
                                             sizeof(t->device_alias), ec))) {
                        sr_errctx_prefix(ec, "targets[%u]", i);
                        return err;
                }
        }
        return SR_OK;
}

sr_err_t sr_codec__targets_from(avro_value_t *arr, size_t n,
                                sr_spec_target_t **targetsp,
                                sr_errctx_t *ec)
{
        sr_spec_target_t *targets;
        avro_value_t item;
        sr_err_t err;
        int rc;

        if (n == 0) {
                *targetsp = NULL;
                return SR_OK;
        }
        targets = calloc(n, sizeof(*targets));
        if (!targets)
                return sr_errctx_set(ec, SR_ERR_NOMEM,
                                     "field targets: calloc %zu items", n);
        for (size_t i = 0; i < n; i++) {
                sr_spec_target_t *t = &targets[i];

                rc = avro_value_get_by_index(arr, i, &item, NULL);
                err = rc ? sr_codec__avro_err(ec, rc, "targets", "get") :
                           SR_OK;
                if (err ||
                    (err = sr_codec__get_opt_uuid(&item, "target_id",
                                                  &t->target_id, ec)) ||
                    (err = sr_codec__get_uuid(&item, "device_id",
                                              &t->device_id, ec)) ||
                    (err = sr_codec__get_str(&item, "device_name",
                                             t->device_name,
                                             sizeof(t->device_name), ec)) ||
                    (err = sr_codec__get_str(&item, "device_alias",
                                             t->device_alias,
                                             sizeof(t->device_alias), ec))) {
                        sr_errctx_prefix(ec, "targets[%zu]", i);
                        free(targets);
                        return err;
                }
        }
        *targetsp = targets;
        return SR_OK;
}

/* ---------------------------------------------------------- run spec */

static sr_err_t stage_to(avro_value_t *item, const sr_spec_stage_t *s,
                         sr_errctx_t *ec)
{
        avro_value_t arr;
        sr_err_t err;

        /* stage_from() refuses it: never write what no reader takes. */
        if (s->expected_targets < 0)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field expected_targets: negative "
                                     "(%lld)",
                                     (long long)s->expected_targets);
        if ((err = sr_codec__set_opt_uuid(item, "stage_id", &s->stage_id,
                                          ec)) ||
            (err = sr_codec__set_str(item, "name", s->name, sizeof(s->name),
                                     ec)) ||
            (err = sr_codec__set_str(item, "description", s->description,
                                     sizeof(s->description), ec)) ||
            (err = sr_codec__set_long(item, "timeout_seconds",
                                      s->timeout_seconds, ec)) ||
            (err = sr_codec__field(item, "operations", &arr, ec)) ||
            (err = sr_codec__ops_to(&arr, s->ops, s->n_ops, false, ec)) ||
            (err = sr_codec__field(item, "targets", &arr, ec)) ||
            (err = sr_codec__targets_to(&arr, s->targets, s->n_targets, ec)))
                return err;
        /* Version 1 has neither field: only a closed stage is written in
         * it (oldest_version()). */
        if (!sr_codec__field_opt(item, "append_targets", &arr))
                return SR_OK;
        if ((err = sr_codec__set_bool(item, "append_targets",
                                      s->append_targets, ec)) ||
            (err = sr_codec__set_long(item, "expected_targets",
                                      s->expected_targets, ec)))
                return err;
        return SR_OK;
}

static sr_err_t spec_to(avro_value_t *create, const sr_runspec_t *spec,
                        sr_errctx_t *ec)
{
        avro_value_t rec, arr, item;
        sr_err_t err;

        if (spec->n_stages && !spec->stages)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field stages: %u items, NULL array",
                                     spec->n_stages);
        if ((err = sr_codec__field(create, "spec", &rec, ec)) ||
            (err = sr_codec__set_uuid(&rec, "pipeline_id",
                                      &spec->pipeline_id, ec)) ||
            (err = sr_codec__set_str(&rec, "pipeline_name",
                                     spec->pipeline_name,
                                     sizeof(spec->pipeline_name), ec)) ||
            (err = sr_codec__set_bool(&rec, "auto_promote",
                                      spec->auto_promote, ec)) ||
            (err = sr_codec__set_long(&rec, "timeout_seconds",
                                      spec->timeout_seconds, ec)) ||
            (err = sr_codec__field(&rec, "stages", &arr, ec)))
                return err;
        for (uint32_t i = 0; i < spec->n_stages; i++) {
                err = sr_codec__append(&arr, "stages", &item, ec);
                if (!err)
                        err = stage_to(&item, &spec->stages[i], ec);
                if (err) {
                        sr_errctx_prefix(ec, "stages[%u]", i);
                        return err;
                }
        }
        return SR_OK;
}

/* Fills @p s, which the caller zeroed; on failure @p s may own parts that
 * sr_runspec_fini() of the enclosing spec releases. */
static sr_err_t stage_from(avro_value_t *item, sr_spec_stage_t *s,
                           sr_errctx_t *ec)
{
        avro_value_t arr;
        sr_err_t err;
        size_t n;

        if ((err = sr_codec__get_opt_uuid(item, "stage_id", &s->stage_id,
                                          ec)) ||
            (err = sr_codec__get_str(item, "name", s->name, sizeof(s->name),
                                     ec)) ||
            (err = sr_codec__get_str(item, "description", s->description,
                                     sizeof(s->description), ec)) ||
            (err = sr_codec__get_long(item, "timeout_seconds",
                                      &s->timeout_seconds, ec)) ||
            (err = sr_codec__get_array(item, "operations",
                                       SR_CODEC_MAX_ITEMS, &arr, &n, ec)) ||
            (err = sr_codec__ops_from(&arr, n, false, &s->ops, ec)))
                return err;
        s->n_ops = (uint32_t)n;
        if ((err = sr_codec__get_array(item, "targets", SR_CODEC_MAX_ITEMS,
                                       &arr, &n, ec)) ||
            (err = sr_codec__targets_from(&arr, n, &s->targets, ec)))
                return err;
        s->n_targets = (uint32_t)n;
        /* Both since Command v2; a v1 stage is closed (the defaults). */
        if (!sr_codec__field_opt(item, "append_targets", &arr))
                return SR_OK;
        if ((err = sr_codec__get_bool(item, "append_targets",
                                      &s->append_targets, ec)) ||
            (err = sr_codec__get_long(item, "expected_targets",
                                      &s->expected_targets, ec)))
                return err;
        if (s->expected_targets < 0)
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field expected_targets: negative "
                                     "(%lld)",
                                     (long long)s->expected_targets);
        return SR_OK;
}

/* On failure the caller releases @p spec with sr_runspec_fini(). */
static sr_err_t spec_from(avro_value_t *create, sr_runspec_t *spec,
                          sr_errctx_t *ec)
{
        avro_value_t rec, arr, item;
        sr_err_t err;
        size_t n;
        int rc;

        if ((err = sr_codec__field(create, "spec", &rec, ec)) ||
            (err = sr_codec__get_uuid(&rec, "pipeline_id",
                                      &spec->pipeline_id, ec)) ||
            (err = sr_codec__get_str(&rec, "pipeline_name",
                                     spec->pipeline_name,
                                     sizeof(spec->pipeline_name), ec)) ||
            (err = sr_codec__get_bool(&rec, "auto_promote",
                                      &spec->auto_promote, ec)) ||
            (err = sr_codec__get_long(&rec, "timeout_seconds",
                                      &spec->timeout_seconds, ec)) ||
            (err = sr_codec__get_array(&rec, "stages", SR_CODEC_MAX_ITEMS,
                                       &arr, &n, ec)))
                return err;
        if (n == 0)
                return SR_OK;
        spec->stages = calloc(n, sizeof(*spec->stages));
        if (!spec->stages)
                return sr_errctx_set(ec, SR_ERR_NOMEM,
                                     "field stages: calloc %zu items", n);
        spec->n_stages = (uint32_t)n;
        for (size_t i = 0; i < n; i++) {
                rc = avro_value_get_by_index(&arr, i, &item, NULL);
                err = rc ? sr_codec__avro_err(ec, rc, "stages", "get") :
                           stage_from(&item, &spec->stages[i], ec);
                if (err) {
                        sr_errctx_prefix(ec, "stages[%zu]", i);
                        return err;
                }
        }
        return SR_OK;
}

/* ---------------------------------------------------------- commands */

static sr_err_t payload_to(avro_value_t *p, const sr_command_t *c,
                           sr_errctx_t *ec)
{
        avro_value_t arr;
        sr_err_t err;
        int rc;

        switch (c->kind) {
        case SR_CMD_CREATE_RUN:
                if ((err = spec_to(p, &c->u.create.spec, ec)) ||
                    (err = sr_codec__set_int(p, "run_number",
                                             c->u.create.run_number, ec)))
                        return err;
                return SR_OK;
        case SR_CMD_SET_PIPELINE_RUN_STATUS:
                return sr_codec__set_str(p, "status", c->u.set.status,
                                         sizeof(c->u.set.status), ec);
        case SR_CMD_SET_STAGE_RUN_STATUS:
                if ((err = sr_codec__set_uuid(p, "stage_run_id",
                                              &c->u.set.entity_id, ec)) ||
                    (err = sr_codec__set_str(p, "status", c->u.set.status,
                                             sizeof(c->u.set.status), ec)))
                        return err;
                return SR_OK;
        case SR_CMD_SET_TARGET_RUN_STATUS:
                /* "" (no device name) travels as null. */
                if ((err = sr_codec__set_uuid(p, "target_run_id",
                                              &c->u.set.entity_id, ec)) ||
                    (err = sr_codec__set_str(p, "status", c->u.set.status,
                                             sizeof(c->u.set.status), ec)) ||
                    (err = sr_codec__set_opt_str(
                             p, "device_name",
                             c->u.set.device_name[0] ? c->u.set.device_name :
                                                       NULL,
                             sizeof(c->u.set.device_name), ec)))
                        return err;
                return SR_OK;
        case SR_CMD_TIMER_FIRED:
                if ((err = sr_codec__set_enum(p, "entity_type",
                                              (int)c->u.timer.entity_type,
                                              SR_ENT__COUNT, ec)) ||
                    (err = sr_codec__set_uuid(p, "entity_id",
                                              &c->u.timer.entity_id, ec)) ||
                    (err = sr_codec__set_long(p, "deadline",
                                              c->u.timer.deadline, ec)))
                        return err;
                return SR_OK;
        case SR_CMD_APPEND_TARGETS:
                if ((err = sr_codec__set_u32(p, "stage_index",
                                             c->u.append.stage_index, ec)) ||
                    (err = sr_codec__set_u32(p, "chunk", c->u.append.chunk,
                                             ec)) ||
                    (err = sr_codec__field(p, "targets", &arr, ec)) ||
                    (err = sr_codec__targets_to(&arr, c->u.append.targets,
                                                c->u.append.n_targets, ec)))
                        return err;
                return SR_OK;
        case SR_CMD_SEAL_TARGETS:
                if ((err = sr_codec__set_u32(p, "stage_index",
                                             c->u.seal.stage_index, ec)) ||
                    (err = sr_codec__set_u32(p, "chunks", c->u.seal.chunks,
                                             ec)) ||
                    (err = sr_codec__set_long(p, "count", c->u.seal.count,
                                              ec)) ||
                    (err = sr_codec__field(p, "digest", &arr, ec)))
                        return err;
                if (c->u.seal.count < 0)
                        return sr_errctx_set(ec, SR_ERR_INVALID,
                                             "field count: negative "
                                             "(%lld)",
                                             (long long)c->u.seal.count);
                rc = avro_value_set_fixed(&arr, (void *)c->u.seal.digest,
                                          SR_DIGEST_LEN);
                if (rc)
                        return sr_codec__avro_err(ec, rc, "digest", "set");
                return SR_OK;
        case SR_CMD_STAGE_STEP:
                if ((err = sr_codec__set_u32(p, "stage_index",
                                             c->u.step.stage_index, ec)) ||
                    (err = sr_codec__set_str(p, "step", c->u.step.step,
                                             sizeof(c->u.step.step), ec)) ||
                    (err = sr_codec__set_u32(p, "cursor", c->u.step.cursor,
                                             ec)))
                        return err;
                return SR_OK;
        case SR_CMD_TARGET_COMMAND:
                if ((err = sr_codec__set_uuid(p, "target_run_id",
                                              &c->u.tcmd.target_run_id,
                                              ec)) ||
                    (err = sr_codec__set_uuid(p, "command_id",
                                              &c->u.tcmd.command_id, ec)) ||
                    (err = sr_codec__set_str(p, "action", c->u.tcmd.action,
                                             sizeof(c->u.tcmd.action), ec)))
                        return err;
                return SR_OK;
        case SR_CMD_DELETE_RUN:
                return sr_codec__set_uuid(p, "pipeline_id",
                                          &c->u.del.pipeline_id, ec);
        case SR_CMD_ADD_TARGET_RUN:
                /* the reader refuses an empty name: never write one */
                if (!c->u.add.device_name[0])
                        return sr_errctx_set(ec, SR_ERR_INVALID,
                                             "field device_name: empty");
                if ((err = sr_codec__set_uuid(p, "stage_run_id",
                                              &c->u.add.stage_run_id, ec)) ||
                    (err = sr_codec__set_uuid(p, "target_id",
                                              &c->u.add.target_id, ec)) ||
                    (err = sr_codec__set_uuid(p, "device_id",
                                              &c->u.add.device_id, ec)) ||
                    (err = sr_codec__set_str(p, "device_name",
                                             c->u.add.device_name,
                                             sizeof(c->u.add.device_name),
                                             ec)) ||
                    (err = sr_codec__set_opt_str(
                             p, "device_alias",
                             c->u.add.device_alias[0] ? c->u.add.device_alias :
                                                        NULL,
                             sizeof(c->u.add.device_alias), ec)))
                        return err;
                return SR_OK;
        default:
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field payload: unknown kind %d",
                                     (int)c->kind);
        }
}

static sr_err_t command_to(avro_value_t *v, const sr_command_t *c,
                           sr_errctx_t *ec)
{
        avro_value_t p;
        sr_err_t err;
        int br = (int)c->kind;

        if ((unsigned)c->kind >= SR_CMD__COUNT)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "field payload: unknown kind %d",
                                     (int)c->kind);
        if (c->kind == SR_CMD_DEFINITION) {
                if (!c->u.def ||
                    (unsigned)c->u.def->kind >= SR_DEFCMD__COUNT)
                        return sr_errctx_set(ec, SR_ERR_INVALID,
                                             "field payload: definition "
                                             "command %s",
                                             c->u.def ? "of an unknown kind" :
                                                        "missing");
                br = BR_DEF_FIRST + (int)c->u.def->kind;
        } else if (c->kind == SR_CMD_ADD_TARGET_RUN) {
                br = BR_ADD_TARGET_RUN;
        } else if (c->kind == SR_CMD_GROUP) {
                if (!c->u.grp ||
                    (unsigned)c->u.grp->kind >= SR_GRPCMD__COUNT)
                        return sr_errctx_set(ec, SR_ERR_INVALID,
                                             "field payload: group command "
                                             "%s",
                                             c->u.grp ? "of an unknown kind" :
                                                        "missing");
                br = BR_GROUP_FIRST + (int)c->u.grp->kind;
        }
        if ((err = sr_codec__set_uuid(v, "command_id", &c->command_id,
                                      ec)) ||
            (err = sr_codec__set_uuid(v, "pipeline_run_id",
                                      &c->pipeline_run_id, ec)) ||
            (err = sr_codec__set_str(v, "enterprise_id", c->enterprise_id,
                                     sizeof(c->enterprise_id), ec)) ||
            (err = sr_codec__set_long(v, "issued_at", c->issued_at, ec)) ||
            (err = sr_codec__set_branch(v, "payload", br, &p, ec)))
                return err;
        err = c->kind == SR_CMD_DEFINITION ? sr_codec__defcmd_to(&p, c, ec) :
              c->kind == SR_CMD_GROUP ? sr_codec__grpcmd_to(&p, c, ec) :
                                        payload_to(&p, c, ec);
        if (err)
                sr_errctx_prefix(ec, "payload %s", branch_name(br));
        return err;
}

/* On failure the caller releases @p c with sr_command_fini(). */
static sr_err_t payload_from(avro_value_t *p, sr_command_t *c,
                             sr_errctx_t *ec)
{
        const void *digest;
        avro_value_t arr;
        sr_err_t err;
        size_t n;
        int type, rc;

        switch (c->kind) {
        case SR_CMD_CREATE_RUN:
                if ((err = spec_from(p, &c->u.create.spec, ec)) ||
                    (err = sr_codec__get_int(p, "run_number",
                                             &c->u.create.run_number, ec)))
                        return err;
                return SR_OK;
        case SR_CMD_SET_PIPELINE_RUN_STATUS:
                return sr_codec__get_str(p, "status", c->u.set.status,
                                         sizeof(c->u.set.status), ec);
        case SR_CMD_SET_STAGE_RUN_STATUS:
                if ((err = sr_codec__get_uuid(p, "stage_run_id",
                                              &c->u.set.entity_id, ec)) ||
                    (err = sr_codec__get_str(p, "status", c->u.set.status,
                                             sizeof(c->u.set.status), ec)))
                        return err;
                return SR_OK;
        case SR_CMD_SET_TARGET_RUN_STATUS:
                if ((err = sr_codec__get_uuid(p, "target_run_id",
                                              &c->u.set.entity_id, ec)) ||
                    (err = sr_codec__get_str(p, "status", c->u.set.status,
                                             sizeof(c->u.set.status), ec)) ||
                    (err = sr_codec__get_opt_str(
                             p, "device_name", c->u.set.device_name,
                             sizeof(c->u.set.device_name), ec)))
                        return err;
                return SR_OK;
        case SR_CMD_TIMER_FIRED:
                if ((err = sr_codec__get_enum(p, "entity_type",
                                              SR_ENT__COUNT, &type, ec)) ||
                    (err = sr_codec__get_uuid(p, "entity_id",
                                              &c->u.timer.entity_id, ec)) ||
                    (err = sr_codec__get_long(p, "deadline",
                                              &c->u.timer.deadline, ec)))
                        return err;
                c->u.timer.entity_type = (sr_entity_type_t)type;
                return SR_OK;
        case SR_CMD_APPEND_TARGETS:
                if ((err = sr_codec__get_u32(p, "stage_index",
                                             &c->u.append.stage_index, ec)) ||
                    (err = sr_codec__get_u32(p, "chunk", &c->u.append.chunk,
                                             ec)) ||
                    (err = sr_codec__get_array(p, "targets",
                                               SR_CODEC_MAX_ITEMS, &arr, &n,
                                               ec)) ||
                    (err = sr_codec__targets_from(&arr, n,
                                                  &c->u.append.targets, ec)))
                        return err;
                c->u.append.n_targets = (uint32_t)n;
                /* The chunk's digest, for the worker's rules (the state
                 * machine links no Avro): over the items as decoded. */
                return sr_targets_digest(c->u.append.targets, (uint32_t)n,
                                         c->u.append.digest, ec);
        case SR_CMD_SEAL_TARGETS:
                if ((err = sr_codec__get_u32(p, "stage_index",
                                             &c->u.seal.stage_index, ec)) ||
                    (err = sr_codec__get_u32(p, "chunks", &c->u.seal.chunks,
                                             ec)) ||
                    (err = sr_codec__get_long(p, "count", &c->u.seal.count,
                                              ec)) ||
                    (err = sr_codec__field(p, "digest", &arr, ec)))
                        return err;
                if (c->u.seal.count < 0)
                        return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                             "field count: negative "
                                             "(%lld)",
                                             (long long)c->u.seal.count);
                rc = avro_value_get_fixed(&arr, &digest, &n);
                if (rc)
                        return sr_codec__avro_err(ec, rc, "digest", "get");
                if (n != SR_DIGEST_LEN)
                        return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                             "field digest: %zu bytes "
                                             "(want %d)", n, SR_DIGEST_LEN);
                memcpy(c->u.seal.digest, digest, SR_DIGEST_LEN);
                return SR_OK;
        case SR_CMD_STAGE_STEP:
                if ((err = sr_codec__get_u32(p, "stage_index",
                                             &c->u.step.stage_index, ec)) ||
                    (err = sr_codec__get_str(p, "step", c->u.step.step,
                                             sizeof(c->u.step.step), ec)) ||
                    (err = sr_codec__get_u32(p, "cursor", &c->u.step.cursor,
                                             ec)))
                        return err;
                return SR_OK;
        case SR_CMD_TARGET_COMMAND:
                if ((err = sr_codec__get_uuid(p, "target_run_id",
                                              &c->u.tcmd.target_run_id,
                                              ec)) ||
                    (err = sr_codec__get_uuid(p, "command_id",
                                              &c->u.tcmd.command_id, ec)) ||
                    (err = sr_codec__get_str(p, "action", c->u.tcmd.action,
                                             sizeof(c->u.tcmd.action), ec)))
                        return err;
                return SR_OK;
        case SR_CMD_DELETE_RUN:
                return sr_codec__get_uuid(p, "pipeline_id",
                                          &c->u.del.pipeline_id, ec);
        case SR_CMD_ADD_TARGET_RUN:
                if ((err = sr_codec__get_uuid(p, "stage_run_id",
                                              &c->u.add.stage_run_id, ec)) ||
                    (err = sr_codec__get_uuid(p, "target_id",
                                              &c->u.add.target_id, ec)) ||
                    (err = sr_codec__get_uuid(p, "device_id",
                                              &c->u.add.device_id, ec)) ||
                    (err = sr_codec__get_str(p, "device_name",
                                             c->u.add.device_name,
                                             sizeof(c->u.add.device_name),
                                             ec)) ||
                    (err = sr_codec__get_opt_str(
                             p, "device_alias", c->u.add.device_alias,
                             sizeof(c->u.add.device_alias), ec)))
                        return err;
                if (!c->u.add.device_name[0])
                        return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                             "field device_name: empty");
                return SR_OK;
        default:
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field payload: unknown branch %d",
                                     (int)c->kind);
        }
}

static sr_err_t command_from(avro_value_t *v, sr_command_t *c,
                             sr_errctx_t *ec)
{
        avro_value_t p;
        sr_err_t err;
        int disc;

        if ((err = sr_codec__get_uuid(v, "command_id", &c->command_id,
                                      ec)) ||
            (err = sr_codec__get_uuid(v, "pipeline_run_id",
                                      &c->pipeline_run_id, ec)) ||
            (err = sr_codec__get_str(v, "enterprise_id", c->enterprise_id,
                                     sizeof(c->enterprise_id), ec)) ||
            (err = sr_codec__get_long(v, "issued_at", &c->issued_at, ec)) ||
            (err = sr_codec__get_branch(v, "payload", &disc, &p, ec)))
                return err;
        if (disc < 0 || disc >= BR__COUNT)
                return sr_errctx_set(ec, SR_ERR_SCHEMA,
                                     "field payload: unknown branch %d",
                                     disc);
        if (disc == BR_ADD_TARGET_RUN) {
                c->kind = SR_CMD_ADD_TARGET_RUN;
                err = payload_from(&p, c, ec);
        } else if (disc >= BR_GROUP_FIRST) {
                sr_grpcmd_t *g = calloc(1, sizeof(*g));

                if (!g)
                        return sr_errctx_set(ec, SR_ERR_NOMEM,
                                             "field payload: calloc");
                /* c owns it from here: sr_command_fini() frees it. */
                g->kind = (sr_grpcmd_kind_t)(disc - BR_GROUP_FIRST);
                g->command_id = c->command_id;
                memcpy(g->enterprise_id, c->enterprise_id,
                       sizeof(g->enterprise_id));
                g->issued_at = c->issued_at;
                c->kind = SR_CMD_GROUP;
                c->u.grp = g;
                err = sr_codec__grpcmd_from(&p, c, g, ec);
        } else if (disc >= BR_DEF_FIRST) {
                sr_defcmd_t *d = calloc(1, sizeof(*d));

                if (!d)
                        return sr_errctx_set(ec, SR_ERR_NOMEM,
                                             "field payload: calloc");
                /* c owns it from here: sr_command_fini() frees it. */
                d->kind = (sr_defcmd_kind_t)(disc - BR_DEF_FIRST);
                d->command_id = c->command_id;
                memcpy(d->enterprise_id, c->enterprise_id,
                       sizeof(d->enterprise_id));
                d->issued_at = c->issued_at;
                c->kind = SR_CMD_DEFINITION;
                c->u.def = d;
                err = sr_codec__defcmd_from(&p, c, d, ec);
        } else {
                c->kind = (sr_cmd_kind_t)disc;
                err = payload_from(&p, c, ec);
        }
        if (err)
                sr_errctx_prefix(ec, "payload %s", branch_name(disc));
        return err;
}

/* A command is written in the oldest version that carries it, so a
 * worker of an earlier release still reads every command that does not
 * use what a later version added (docs/schemas.md, "Our own readers"):
 * version 1 (sr_schema_older[SR_OLDER_COMMAND_V1]) unless it is one of
 * version 2's kinds (AppendTargets, SealTargets, StageStep) or opens a
 * stage; version 2 (SR_OLDER_COMMAND_V2) unless it is TargetCommand;
 * version 3 (SR_OLDER_COMMAND_V3) unless it is DeleteRun; version 4
 * (SR_OLDER_COMMAND_V4) unless it is a definition command; version 5
 * (SR_OLDER_COMMAND_V5) unless it is FillStep; version 6
 * (SR_OLDER_COMMAND_V6) unless it is AddTargetRun; version 7
 * (SR_OLDER_COMMAND_V7) unless it is a device-group command or a FillStep
 * of a group copy (source > 0); else version 8.
 * Returns the index in sr_schema_older[], -1 for the newest. */
static int oldest_version(const sr_command_t *c)
{
        if (c->kind == SR_CMD_GROUP)
                return -1;
        if (c->kind == SR_CMD_ADD_TARGET_RUN)
                return SR_OLDER_COMMAND_V7;
        if (c->kind == SR_CMD_DEFINITION && c->u.def &&
            c->u.def->kind == SR_DEFCMD_FILL_STEP)
                /* a group copy's source only version 8 carries */
                return c->u.def->u.fill.source ? -1 : SR_OLDER_COMMAND_V6;
        if (c->kind == SR_CMD_DEFINITION)
                return SR_OLDER_COMMAND_V5;
        if (c->kind == SR_CMD_DELETE_RUN)
                return SR_OLDER_COMMAND_V4;
        if (c->kind == SR_CMD_TARGET_COMMAND)
                return SR_OLDER_COMMAND_V3;
        if (c->kind > SR_CMD_TIMER_FIRED)
                return SR_OLDER_COMMAND_V2;
        if (c->kind != SR_CMD_CREATE_RUN)
                return SR_OLDER_COMMAND_V1;
        for (uint32_t i = 0; i < c->u.create.spec.n_stages; i++)
                if (c->u.create.spec.stages &&
                    (c->u.create.spec.stages[i].append_targets ||
                     c->u.create.spec.stages[i].expected_targets))
                        return SR_OLDER_COMMAND_V2;
        return SR_OLDER_COMMAND_V1;
}

sr_err_t sr_codec_encode_command(sr_codec_t *codec, const sr_command_t *cmd,
                                 sr_buf_t *out, sr_errctx_t *ec)
{
        int older = oldest_version(cmd);
        avro_value_t *v;
        sr_err_t err;

        err = older >= 0 ? sr_codec__begin_encode_older(codec, older, &v,
                                                        ec) :
                           sr_codec__begin_encode(codec, SR_SCHEMA_COMMAND,
                                                  &v, ec);
        if (!err)
                err = command_to(v, cmd, ec);
        if (!err)
                err = older >= 0 ? sr_codec__finish_encode_older(
                                           codec, older, out, ec) :
                                   sr_codec__finish_encode(
                                           codec, SR_SCHEMA_COMMAND, out,
                                           ec);
        if (err)
                sr_errctx_prefix(ec, "encode command");
        return err;
}

sr_err_t sr_codec_decode_command(sr_codec_t *codec, sr_slice_t in,
                                 sr_command_t *out, sr_errctx_t *ec)
{
        sr_command_t tmp;
        avro_value_t *v;
        sr_err_t err;

        memset(&tmp, 0, sizeof(tmp));
        /* Not a create until the payload says so: fini frees nothing. */
        tmp.kind = SR_CMD_SET_PIPELINE_RUN_STATUS;
        err = sr_codec__begin_decode(codec, in, SR_SCHEMA_COMMAND, &v, ec);
        if (!err)
                err = command_from(v, &tmp, ec);
        if (err) {
                sr_command_fini(&tmp);
                sr_errctx_prefix(ec, "command");
                return err;
        }
        *out = tmp;
        return SR_OK;
}
