/* tests/tools/fsm_replay.c - sr-fsm-replay: the C state machine driven the
 * way sr_worker drives it, on JSON lines (format: tests/model/README.md).
 *
 * stdin, one input per line:
 *   {"input": "command", "ts": MS, "command": {...}}   (sr-cli dump shape)
 *   {"input": "result",  "ts": MS, "result":  {...}}
 *   {"input": "reset"}                 forget every run and dedupe entry
 *   {"input": "reset", "retention_finished": MS, "retention_inputs": MS,
 *    "step_targets": N, "chunk_targets": N, "fill_timeout": MS,
 *    "max_targets": N}                 the same, then these options (each
 *                                      optional: absent keeps the last)
 * Commands also of kinds append_targets (stage_index, chunk, targets; the
 * digest is the decoder's, a "digest" given is ignored), seal_targets
 * (stage_index, chunks, count, digest: 64 hex digits), stage_step
 * (stage_index, step, cursor), target_command (target_run_id,
 * device_command_id, action), delete_run (pipeline_id) and add_target_run
 * (stage_run_id, target_id, device_id, device_name, device_alias).
 * stdout, one line per input (not for reset):
 *   {"events": [...], "dispatch": [...], "steps": [<command>...],
 *    "reply": {...} | null,
 *    "dlq": null | "reason", "duplicate": bool, "stale": bool,
 *    "retired": null | {"ended_at", "retired_at", "forget_at"},
 *    "forgotten": bool}
 * "steps": the StageStep commands the run sends itself (sr_fsm_out_t.steps),
 * in the sr-cli dump command shape.
 *
 * sr-fsm-replay [--retention-finished MS] [--retention-inputs MS]
 * [--step-targets N] [--chunk-targets N] [--fill-timeout MS]
 * [--max-targets N]: the state machine's options (sr_fsm_opts_t:
 * retention.*, stage.step.targets, stage.chunk.targets,
 * stage.fill.timeout, stage.max.targets of the worker) until a reset line
 * sets others; default 0 (keep every run; no steps, no limits).
 *
 * As in the worker (common/status/sr_worker_input.c): every input goes
 * through the codec (encode, then decode: what the worker sees), commands are de-duplicated per (run,
 * command id) and a duplicate gets the first reply again and nothing else,
 * results are applied without dedupe (the state machine keeps them
 * forward-only), a result for an unknown run or target run or with an
 * unknown command status is dead-lettered. Retention as the worker: a
 * retiring or forgetting timer deletes the run's dedupe entries and leaves
 * none; a command for a retired run gets its reply and is dead-lettered
 * run_retired (no dedupe entry); a result for it is dead-lettered
 * run_retired.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "recjson.h"
#include "sr_codec.h"
#include "sr_fsm.h"
#include "sr_model.h"
#include "sr_sha256.h"
#include "sr_spec_json.h"

typedef struct run_slot {
        sr_uuid_t id;
        sr_run_t run;
} run_slot_t;

typedef struct dedupe_ent {
        sr_uuid_t run, input;
        bool has_reply;
        sr_reply_t reply;
} dedupe_ent_t;

static run_slot_t *runs;
static size_t n_runs, cap_runs;
static dedupe_ent_t *dedupe;
static size_t n_dedupe, cap_dedupe;
static sr_fsm_opts_t opts; /* retention.*, from the flags or a reset */

static void die(const char *what, const char *detail)
{
        fprintf(stderr, "sr-fsm-replay: %s: %s\n", what, detail);
        exit(2);
}

static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
        if (n < *cap)
                return p;
        *cap = *cap ? *cap * 2 : 16;
        p = realloc(p, *cap * size);
        if (!p)
                die("realloc", "out of memory");
        return p;
}

static sr_run_t *run_of(const sr_uuid_t *id)
{
        for (size_t i = 0; i < n_runs; i++)
                if (sr_uuid_eq(&runs[i].id, id))
                        return &runs[i].run;
        runs = grow(runs, &cap_runs, n_runs, sizeof(*runs));
        runs[n_runs].id = *id;
        sr_run_init(&runs[n_runs].run);
        return &runs[n_runs++].run;
}

/* The run's dedupe entries go with it (retired or forgotten). */
static void drop_dedupe(const sr_uuid_t *run)
{
        size_t j = 0;

        for (size_t i = 0; i < n_dedupe; i++)
                if (!sr_uuid_eq(&dedupe[i].run, run))
                        dedupe[j++] = dedupe[i];
        n_dedupe = j;
}

static void reset(void)
{
        for (size_t i = 0; i < n_runs; i++)
                sr_run_fini(&runs[i].run);
        n_runs = 0;
        n_dedupe = 0;
}

/* ------------------------------------------------------------ parsing */

static const char *jstr(const json_t *o, const char *k)
{
        const char *s = json_string_value(json_object_get(o, k));

        return s ? s : "";
}

static int64_t jint(const json_t *o, const char *k)
{
        return (int64_t)json_integer_value(json_object_get(o, k));
}

static void juuid(const json_t *o, const char *k, sr_uuid_t *out)
{
        const char *s = json_string_value(json_object_get(o, k));

        memset(out, 0, sizeof(*out));
        if (s && !sr_uuid_parse(s, strlen(s), out))
                die("bad uuid", s);
}

static void jcopy(char *dst, size_t n, const json_t *o, const char *k)
{
        snprintf(dst, n, "%s", jstr(o, k));
}

static void parse_command(const json_t *o, sr_command_t *c)
{
        static const char *kinds[] = { "create_run", "set_pipeline_run_status",
                                       "set_stage_run_status",
                                       "set_target_run_status",
                                       "timer_fired", "append_targets",
                                       "seal_targets", "stage_step",
                                       "target_command", "delete_run",
                                       NULL /* definition */,
                                       "add_target_run" };
        const char *kind = jstr(o, "kind");
        sr_errctx_t ec = { 0 };
        int k;

        memset(c, 0, sizeof(*c));
        for (k = 0; k < (int)(sizeof(kinds) / sizeof(kinds[0])) &&
                    (!kinds[k] || strcmp(kind, kinds[k])); k++)
                ;
        if (k == (int)(sizeof(kinds) / sizeof(kinds[0])))
                die("unknown command kind", kind);
        c->kind = (sr_cmd_kind_t)k;
        juuid(o, "command_id", &c->command_id);
        juuid(o, "pipeline_run_id", &c->pipeline_run_id);
        jcopy(c->enterprise_id, sizeof(c->enterprise_id), o, "enterprise_id");
        c->issued_at = jint(o, "issued_at");
        switch (c->kind) {
        case SR_CMD_CREATE_RUN:
                if (sr_spec_json_from_value(json_object_get(o, "spec"),
                                            &c->u.create.spec, &ec))
                        die("spec", ec.msg);
                c->u.create.run_number = (int32_t)jint(o, "run_number");
                break;
        case SR_CMD_TIMER_FIRED: {
                const char *t = jstr(o, "entity_type");

                if (!sr_entity_type_parse(t, strlen(t),
                                          &c->u.timer.entity_type))
                        die("entity_type", t);
                juuid(o, "entity_id", &c->u.timer.entity_id);
                c->u.timer.deadline = jint(o, "deadline");
                break;
        }
        case SR_CMD_APPEND_TARGETS:
                c->u.append.stage_index = (uint32_t)jint(o, "stage_index");
                c->u.append.chunk = (uint32_t)jint(o, "chunk");
                if (sr_spec_json_targets(json_object_get(o, "targets"),
                                         "targets", UINT32_MAX, "chunk",
                                         "none", &c->u.append.targets,
                                         &c->u.append.n_targets, &ec))
                        die("targets", ec.msg);
                break;
        case SR_CMD_SEAL_TARGETS: {
                const char *d = jstr(o, "digest");

                c->u.seal.stage_index = (uint32_t)jint(o, "stage_index");
                c->u.seal.chunks = (uint32_t)jint(o, "chunks");
                c->u.seal.count = jint(o, "count");
                if (!sr_sha256_parse_hex(d, strlen(d), c->u.seal.digest))
                        die("digest", d);
                break;
        }
        case SR_CMD_STAGE_STEP:
                c->u.step.stage_index = (uint32_t)jint(o, "stage_index");
                c->u.step.cursor = (uint32_t)jint(o, "cursor");
                jcopy(c->u.step.step, sizeof(c->u.step.step), o, "step");
                break;
        case SR_CMD_TARGET_COMMAND:
                juuid(o, "target_run_id", &c->u.tcmd.target_run_id);
                juuid(o, "device_command_id", &c->u.tcmd.command_id);
                jcopy(c->u.tcmd.action, sizeof(c->u.tcmd.action), o,
                      "action");
                break;
        case SR_CMD_DELETE_RUN:
                juuid(o, "pipeline_id", &c->u.del.pipeline_id);
                break;
        case SR_CMD_ADD_TARGET_RUN:
                juuid(o, "stage_run_id", &c->u.add.stage_run_id);
                juuid(o, "target_id", &c->u.add.target_id);
                juuid(o, "device_id", &c->u.add.device_id);
                jcopy(c->u.add.device_name, sizeof(c->u.add.device_name), o,
                      "device_name");
                jcopy(c->u.add.device_alias, sizeof(c->u.add.device_alias), o,
                      "device_alias");
                break;
        default:
                juuid(o, "entity_id", &c->u.set.entity_id);
                jcopy(c->u.set.status, sizeof(c->u.set.status), o, "status");
                jcopy(c->u.set.device_name, sizeof(c->u.set.device_name), o,
                      "device_name");
                break;
        }
}

static void parse_result(const json_t *o, sr_result_t *r)
{
        memset(r, 0, sizeof(*r));
        juuid(o, "result_id", &r->result_id);
        juuid(o, "pipeline_run_id", &r->pipeline_run_id);
        juuid(o, "stage_run_id", &r->stage_run_id);
        juuid(o, "target_run_id", &r->target_run_id);
        juuid(o, "command_id", &r->command_id);
        jcopy(r->command_status, sizeof(r->command_status), o,
              "command_status");
        juuid(o, "device_id", &r->device_id);
        jcopy(r->device_name, sizeof(r->device_name), o, "device_name");
        r->reported_at = jint(o, "reported_at");
}

/* ------------------------------------------------------------ output */

static void emit(const sr_fsm_out_t *out, const sr_reply_t *reply,
                 const char *dlq, bool duplicate)
{
        json_t *o = json_object(), *evs = json_array(), *ds = json_array();
        json_t *steps = json_array();
        char *text;

        for (uint32_t i = 0; out && i < out->n_events; i++)
                json_array_append_new(evs, sr_recjson_event(&out->events[i]));
        for (uint32_t i = 0; out && i < out->n_dispatches; i++)
                json_array_append_new(ds,
                                      sr_recjson_dispatch(&out->dispatches[i]));
        for (uint32_t i = 0; out && i < out->n_steps; i++)
                json_array_append_new(steps,
                                      sr_recjson_command(&out->steps[i]));
        json_object_set_new(o, "events", evs);
        json_object_set_new(o, "dispatch", ds);
        json_object_set_new(o, "steps", steps);
        json_object_set_new(o, "reply", reply ? sr_recjson_reply(reply) :
                                                json_null());
        json_object_set_new(o, "dlq", dlq ? json_string(dlq) : json_null());
        json_object_set_new(o, "duplicate", json_boolean(duplicate));
        json_object_set_new(o, "stale", json_boolean(out && out->stale));
        if (out && out->retire) {
                json_t *r = json_object();

                json_object_set_new(r, "ended_at",
                                    json_integer(out->retired.ended_at));
                json_object_set_new(r, "retired_at",
                                    json_integer(out->retired.retired_at));
                json_object_set_new(r, "forget_at",
                                    json_integer(out->retired.forget_at));
                json_object_set_new(o, "retired", r);
        } else {
                json_object_set_new(o, "retired", json_null());
        }
        json_object_set_new(o, "forgotten", json_boolean(out && out->forget));
        text = json_dumps(o, JSON_COMPACT);
        if (!text)
                die("json", "out of memory");
        puts(text);
        free(text);
        json_decref(o);
}

/* ------------------------------------------------------------ inputs */

static void on_command(sr_codec_t *codec, const json_t *cj, int64_t ts,
                       sr_fsm_out_t *out)
{
        sr_command_t in, cmd;
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { NULL, 0 };
        sr_run_t *run;
        size_t i;

        parse_command(cj, &in);
        if (sr_codec_encode_command(codec, &in, &val, &ec)) {
                sr_command_fini(&in);
                emit(NULL, NULL, "schema_violation", false);
                return;
        }
        sr_command_fini(&in);
        if (sr_codec_decode_command(codec, sr_buf_slice(&val), &cmd, &ec)) {
                sr_buf_free(&val);
                emit(NULL, NULL, ec.code == SR_ERR_CORRUPT ? "undecodable" :
                                                           "schema_violation",
                     false);
                return;
        }
        sr_buf_free(&val);
        for (i = 0; i < n_dedupe; i++)
                if (sr_uuid_eq(&dedupe[i].run, &cmd.pipeline_run_id) &&
                    sr_uuid_eq(&dedupe[i].input, &cmd.command_id))
                        break;
        if (i < n_dedupe) {
                emit(NULL, dedupe[i].has_reply ? &dedupe[i].reply : NULL, NULL,
                     true);
                sr_command_fini(&cmd);
                return;
        }
        run = run_of(&cmd.pipeline_run_id);
        sr_fsm_out_reset(out);
        if (sr_fsm_apply_command(run, &cmd, ts, &opts, out))
                die("apply command", "out of memory");
        sr_run_clear_dirty(run);
        if (out->retire || out->forget || out->for_retired) {
                if (!out->for_retired)
                        drop_dedupe(&cmd.pipeline_run_id);
                emit(out, out->has_reply ? &out->reply : NULL,
                     out->for_retired ? "run_retired" : NULL, false);
                sr_command_fini(&cmd);
                return;
        }
        dedupe = grow(dedupe, &cap_dedupe, n_dedupe, sizeof(*dedupe));
        dedupe[n_dedupe].run = cmd.pipeline_run_id;
        dedupe[n_dedupe].input = cmd.command_id;
        dedupe[n_dedupe].has_reply = out->has_reply;
        dedupe[n_dedupe++].reply = out->reply;
        emit(out, out->has_reply ? &out->reply : NULL, NULL, false);
        sr_command_fini(&cmd);
}

static void on_result(sr_codec_t *codec, const json_t *rj, int64_t ts,
                      sr_fsm_out_t *out)
{
        sr_result_t in, res;
        sr_errctx_t ec = { 0 };
        sr_buf_t val = { NULL, 0 };
        sr_run_t *run;
        sr_err_t err;

        parse_result(rj, &in);
        if (sr_codec_encode_result(codec, &in, &val, &ec)) {
                emit(NULL, NULL, "schema_violation", false);
                return;
        }
        err = sr_codec_decode_result(codec, sr_buf_slice(&val), &res, &ec);
        sr_buf_free(&val);
        if (err) {
                emit(NULL, NULL, strstr(ec.msg, "command status") ?
                                         "unknown_command_status" :
                                 err == SR_ERR_CORRUPT ? "undecodable" :
                                                         "schema_violation",
                     false);
                return;
        }
        run = run_of(&res.pipeline_run_id);
        sr_fsm_out_reset(out);
        err = sr_fsm_apply_result(run, &res, ts, &opts, out);
        sr_run_clear_dirty(run);
        switch (err) {
        case SR_OK:
                emit(out, NULL, NULL, false);
                break;
        case SR_ERR_NOT_FOUND:
                emit(NULL, NULL, out->for_retired ? "run_retired" :
                                 run->exists ? "unknown_target_run" :
                                               "unknown_pipeline_run",
                     false);
                break;
        case SR_ERR_SCHEMA:
                emit(NULL, NULL, "unknown_command_status", false);
                break;
        default:
                die("apply result", "out of memory");
        }
}

/* A non-negative millisecond count of a flag or a reset line. */
static int64_t ms_arg(const char *what, const char *s)
{
        char *end;
        long long v = strtoll(s, &end, 10);

        if (!*s || *end || v < 0)
                die(what, "expects milliseconds >= 0");
        return (int64_t)v;
}

/* A count option (stage.*.targets): 0 .. UINT32_MAX. */
static uint32_t count_arg(const char *what, int64_t v)
{
        if (v < 0 || v > (int64_t)UINT32_MAX)
                die(what, "expects a count >= 0");
        return (uint32_t)v;
}

static void reset_line(const json_t *in)
{
        json_t *f = json_object_get(in, "retention_finished");
        json_t *i = json_object_get(in, "retention_inputs");
        json_t *v;

        reset();
        if (f)
                opts.retention_finished_ms = (int64_t)json_integer_value(f);
        if (i)
                opts.retention_inputs_ms = (int64_t)json_integer_value(i);
        if (opts.retention_finished_ms < 0 || opts.retention_inputs_ms < 0)
                die("reset", "retention_* must be >= 0");
        if ((v = json_object_get(in, "step_targets")))
                opts.step_targets = count_arg("step_targets",
                                              json_integer_value(v));
        if ((v = json_object_get(in, "chunk_targets")))
                opts.chunk_targets = count_arg("chunk_targets",
                                               json_integer_value(v));
        if ((v = json_object_get(in, "max_targets")))
                opts.max.targets = count_arg("max_targets",
                                             json_integer_value(v));
        if ((v = json_object_get(in, "fill_timeout"))) {
                opts.fill_timeout_ms = (int64_t)json_integer_value(v);
                if (opts.fill_timeout_ms < 0)
                        die("reset", "fill_timeout must be >= 0");
        }
}

int main(int argc, char **argv)
{
        static char line[1 << 22];
        sr_codec_t *codec = NULL;
        sr_errctx_t ec = { 0 };
        sr_fsm_out_t out;

        for (int a = 1; a < argc; a += 2) {
                if (a + 1 < argc &&
                    !strcmp(argv[a], "--retention-finished"))
                        opts.retention_finished_ms =
                                ms_arg(argv[a], argv[a + 1]);
                else if (a + 1 < argc &&
                         !strcmp(argv[a], "--retention-inputs"))
                        opts.retention_inputs_ms =
                                ms_arg(argv[a], argv[a + 1]);
                else if (a + 1 < argc && !strcmp(argv[a], "--step-targets"))
                        opts.step_targets = count_arg(
                                argv[a], ms_arg(argv[a], argv[a + 1]));
                else if (a + 1 < argc &&
                         !strcmp(argv[a], "--chunk-targets"))
                        opts.chunk_targets = count_arg(
                                argv[a], ms_arg(argv[a], argv[a + 1]));
                else if (a + 1 < argc && !strcmp(argv[a], "--max-targets"))
                        opts.max.targets = count_arg(
                                argv[a], ms_arg(argv[a], argv[a + 1]));
                else if (a + 1 < argc && !strcmp(argv[a], "--fill-timeout"))
                        opts.fill_timeout_ms = ms_arg(argv[a], argv[a + 1]);
                else
                        die("usage", "sr-fsm-replay [--retention-finished "
                                     "MS] [--retention-inputs MS] "
                                     "[--step-targets N] [--chunk-targets N] "
                                     "[--fill-timeout MS] [--max-targets N] "
                                     "< inputs");
        }
        if (sr_codec_new(&codec, &ec))
                die("codec", ec.msg);
        sr_fsm_out_init(&out);
        while (fgets(line, sizeof(line), stdin)) {
                json_error_t jerr;
                json_t *in = json_loads(line, 0, &jerr);
                const char *kind;

                if (!in)
                        die("json", jerr.text);
                kind = jstr(in, "input");
                if (!strcmp(kind, "reset"))
                        reset_line(in);
                else if (!strcmp(kind, "command"))
                        on_command(codec, json_object_get(in, "command"),
                                   jint(in, "ts"), &out);
                else if (!strcmp(kind, "result"))
                        on_result(codec, json_object_get(in, "result"),
                                  jint(in, "ts"), &out);
                else
                        die("unknown input", kind);
                json_decref(in);
                fflush(stdout);
        }
        reset();
        free(runs);
        free(dedupe);
        sr_fsm_out_fini(&out);
        sr_codec_destroy(codec);
        return 0;
}
