/* tests/fuzz/fuzz_seedgen.c - writes the seed corpora of the fuzz targets:
 *   fuzz_seedgen CORPUS_DIR
 * creates CORPUS_DIR/fuzz_codec/ (one valid framed record per record kind
 * and command kind, made by the codec's encoders), CORPUS_DIR/fuzz_http/
 * (one valid request per route, in fuzz_http's input format) and
 * CORPUS_DIR/fuzz_http1/ (the same requests as raw HTTP/1.1, plus framing
 * cases: chunked, pipelined, HEAD, Expect, refusals). The files are
 * committed under tests/fuzz/corpus/; rerun after a schema change.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sr_codec.h"
#include "sr_model.h"

static const char *root;
static sr_codec_t *codec;

static void die(const char *what, const char *msg)
{
        fprintf(stderr, "fuzz_seedgen: %s: %s\n", what, msg);
        exit(1);
}

static void mkdir_p(const char *dir)
{
        if (mkdir(dir, 0755) != 0 && errno != EEXIST)
                die(dir, strerror(errno));
}

static void write_file(const char *target, const char *name, const void *p,
                       size_t n)
{
        char path[512];
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", root, target);
        mkdir_p(path);
        snprintf(path, sizeof(path), "%s/%s/%s", root, target, name);
        f = fopen(path, "wb");
        if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0)
                die(path, strerror(errno));
}

static void put_buf(const char *name, sr_err_t err, sr_buf_t *buf,
                    const sr_errctx_t *ec)
{
        if (err != SR_OK)
                die(name, ec->msg);
        write_file("fuzz_codec", name, buf->ptr, buf->len);
        sr_buf_free(buf);
}

static void def_commands(void);
static void def_events(void);
static void def_records(void);

static sr_uuid_t uuid_n(int n)
{
        sr_uuid_t u;

        for (int i = 0; i < 16; i++)
                u.b[i] = (uint8_t)(n * 31 + i + 1);
        return u;
}

static char *xstrdup(const char *s)
{
        char *d = strdup(s);

        if (!d)
                die("strdup", "out of memory");
        return d;
}

static void fill_spec(sr_runspec_t *spec)
{
        memset(spec, 0, sizeof(*spec));
        spec->pipeline_id = uuid_n(100);
        strcpy(spec->pipeline_name, "firmware rollout");
        spec->auto_promote = true;
        spec->timeout_seconds = 3600;
        spec->n_stages = 2;
        spec->stages = calloc(2, sizeof(*spec->stages));
        if (!spec->stages)
                die("calloc", "out of memory");
        for (uint32_t i = 0; i < 2; i++) {
                sr_spec_stage_t *s = &spec->stages[i];

                if (i == 1)
                        s->stage_id = uuid_n(200);
                snprintf(s->name, sizeof(s->name), "stage %u", i);
                snprintf(s->description, sizeof(s->description), "desc %u",
                         i);
                s->timeout_seconds = 60 * (i + 1);
                s->n_ops = 2;
                s->ops = calloc(2, sizeof(*s->ops));
                s->n_targets = 2;
                s->targets = calloc(2, sizeof(*s->targets));
                if (!s->ops || !s->targets)
                        die("calloc", "out of memory");
                strcpy(s->ops[0].operation_type, "INSTALL");
                s->ops[0].args_json = xstrdup("{\"package_name\":\"a.b\"}");
                strcpy(s->ops[1].operation_type, "REBOOT");
                for (uint32_t k = 0; k < 2; k++) {
                        sr_spec_target_t *t = &s->targets[k];

                        if (k)
                                t->target_id = uuid_n((int)(300 + i * 2 + k));
                        t->device_id = uuid_n((int)(400 + i * 2 + k));
                        snprintf(t->device_name, sizeof(t->device_name),
                                 "device-%u-%u", i, k);
                        if (k)
                                strcpy(t->device_alias, "lobby");
                }
        }
}

static void base_command(sr_command_t *c, sr_cmd_kind_t kind)
{
        memset(c, 0, sizeof(*c));
        c->kind = kind;
        c->command_id = uuid_n(1);
        c->pipeline_run_id = uuid_n(2);
        strcpy(c->enterprise_id, "acme");
        c->issued_at = 1700000000123;
}

static void commands(void)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_command_t c;

        base_command(&c, SR_CMD_CREATE_RUN);
        fill_spec(&c.u.create.spec);
        c.u.create.run_number = 7;
        put_buf("command-create", sr_codec_encode_command(codec, &c, &buf,
                                                          &ec), &buf, &ec);
        sr_command_fini(&c);

        base_command(&c, SR_CMD_CREATE_RUN);
        c.u.create.spec.pipeline_id = uuid_n(5);
        put_buf("command-create-empty", sr_codec_encode_command(codec, &c,
                                                                &buf, &ec),
                &buf, &ec);
        sr_command_fini(&c);

        base_command(&c, SR_CMD_SET_PIPELINE_RUN_STATUS);
        strcpy(c.u.set.status, "cancelled");
        put_buf("command-set-pipeline-run", sr_codec_encode_command(
                        codec, &c, &buf, &ec), &buf, &ec);

        base_command(&c, SR_CMD_SET_STAGE_RUN_STATUS);
        c.u.set.entity_id = uuid_n(3);
        strcpy(c.u.set.status, "queued");
        put_buf("command-set-stage-run", sr_codec_encode_command(
                        codec, &c, &buf, &ec), &buf, &ec);

        base_command(&c, SR_CMD_SET_TARGET_RUN_STATUS);
        c.u.set.entity_id = uuid_n(4);
        strcpy(c.u.set.status, "success");
        strcpy(c.u.set.device_name, "edge-gw-17");
        put_buf("command-set-target-run", sr_codec_encode_command(
                        codec, &c, &buf, &ec), &buf, &ec);

        base_command(&c, SR_CMD_TIMER_FIRED);
        c.u.timer.entity_type = SR_ENT_STAGE_RUN;
        c.u.timer.entity_id = uuid_n(6);
        c.u.timer.deadline = 1700000600000;
        put_buf("command-timer", sr_codec_encode_command(codec, &c, &buf,
                                                         &ec), &buf, &ec);

        /* Command version 2 (docs/targets.md): an open stage's chunk, its
         * seal and a step (the target runs' deadline's). */
        base_command(&c, SR_CMD_APPEND_TARGETS);
        c.u.append.stage_index = 1;
        c.u.append.chunk = 3;
        c.u.append.n_targets = 2;
        c.u.append.targets = calloc(2, sizeof(*c.u.append.targets));
        if (!c.u.append.targets)
                die("calloc", "out of memory");
        for (uint32_t k = 0; k < 2; k++) {
                c.u.append.targets[k].device_id = uuid_n((int)(500 + k));
                snprintf(c.u.append.targets[k].device_name,
                         sizeof(c.u.append.targets[k].device_name),
                         "open-%u", k);
        }
        c.u.append.targets[1].target_id = uuid_n(502);
        strcpy(c.u.append.targets[1].device_alias, "lobby");
        put_buf("command-append-targets", sr_codec_encode_command(
                        codec, &c, &buf, &ec), &buf, &ec);
        sr_command_fini(&c);

        base_command(&c, SR_CMD_SEAL_TARGETS);
        c.u.seal.stage_index = 1;
        c.u.seal.chunks = 4;
        c.u.seal.count = 3999;
        for (int i = 0; i < SR_DIGEST_LEN; i++)
                c.u.seal.digest[i] = (uint8_t)(i * 7 + 1);
        put_buf("command-seal-targets", sr_codec_encode_command(
                        codec, &c, &buf, &ec), &buf, &ec);

        base_command(&c, SR_CMD_STAGE_STEP);
        c.u.step.stage_index = 1;
        c.u.step.cursor = 1000;
        strcpy(c.u.step.step, "deadline");
        put_buf("command-stage-step", sr_codec_encode_command(
                        codec, &c, &buf, &ec), &buf, &ec);

        /* Command version 3: a target run's device command cancelled. */
        base_command(&c, SR_CMD_TARGET_COMMAND);
        c.u.tcmd.target_run_id = uuid_n(503);
        c.u.tcmd.command_id = uuid_n(504);
        strcpy(c.u.tcmd.action, "cancel");
        put_buf("command-target-command", sr_codec_encode_command(
                        codec, &c, &buf, &ec), &buf, &ec);

        /* Command version 4: a client's delete of a finished run. */
        base_command(&c, SR_CMD_DELETE_RUN);
        c.u.del.pipeline_id = uuid_n(505);
        put_buf("command-delete-run", sr_codec_encode_command(
                        codec, &c, &buf, &ec), &buf, &ec);

        /* Command version 7: a device added to a running stage run. */
        base_command(&c, SR_CMD_ADD_TARGET_RUN);
        c.u.add.stage_run_id = uuid_n(506);
        c.u.add.target_id = uuid_n(507);
        c.u.add.device_id = uuid_n(508);
        strcpy(c.u.add.device_name, "late-device");
        strcpy(c.u.add.device_alias, "rack 9");
        put_buf("command-add-target-run", sr_codec_encode_command(
                        codec, &c, &buf, &ec), &buf, &ec);
        def_commands();
}

/* Command version 5: definition commands, keyed by their pipeline
 * (FillStep: version 6). */
static void def_command(sr_command_t *c, sr_defcmd_t *d, sr_defcmd_kind_t k)
{
        base_command(c, SR_CMD_DEFINITION);
        c->pipeline_run_id = uuid_n(600);
        memset(d, 0, sizeof(*d));
        c->u.def = d;
        d->kind = k;
        d->pipeline_id = c->pipeline_run_id;
        d->has_expected_version = true;
        d->expected_version = 3;
}

static void def_commands(void)
{
        sr_defcmd_target_t items[2];
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_command_t c;
        sr_defcmd_t d;

        def_command(&c, &d, SR_DEFCMD_PUT_PIPELINE);
        d.create = true;
        d.u.pipeline.has_name = d.u.pipeline.has_timeout_seconds = true;
        d.u.pipeline.has_is_active = true;
        strcpy(d.u.pipeline.name, "canary rollout");
        d.u.pipeline.timeout_seconds = 3600;
        d.u.pipeline.is_active = true;
        put_buf("command-def-put-pipeline", sr_codec_encode_command(
                        codec, &c, &buf, &ec), &buf, &ec);

        def_command(&c, &d, SR_DEFCMD_PUT_STAGE);
        d.has_expected_version = false;
        d.u.stage.stage_id = uuid_n(601);
        d.u.stage.has_order = d.u.stage.has_name = true;
        d.u.stage.order = 2;
        strcpy(d.u.stage.name, "beta");
        put_buf("command-def-put-stage", sr_codec_encode_command(
                        codec, &c, &buf, &ec), &buf, &ec);

        def_command(&c, &d, SR_DEFCMD_PUT_TARGET_LIST);
        d.create = true;
        d.u.list.target_list_id = uuid_n(602);
        d.u.list.has_type = true;
        d.u.list.type = SR_TL_DEVICES;
        put_buf("command-def-put-target-list", sr_codec_encode_command(
                        codec, &c, &buf, &ec), &buf, &ec);

        memset(items, 0, sizeof(items));
        def_command(&c, &d, SR_DEFCMD_ADD_TARGETS);
        d.u.add.target_list_id = uuid_n(602);
        d.u.add.chunk_index = 1;
        d.u.add.n_items = 2;
        d.u.add.items = items;
        items[0].device_id = uuid_n(603);
        strcpy(items[0].device_name, "edge-gw-1");
        items[0].is_active = true;
        items[0].device_meta_json = (char *)"{\"rack\":4}";
        items[1].device_id = uuid_n(604);
        strcpy(items[1].device_name, "edge-gw-2");
        items[1].args_json = (char *)"{\"v\":\"2.1\"}";
        put_buf("command-def-add-targets", sr_codec_encode_command(
                        codec, &c, &buf, &ec), &buf, &ec);

        def_command(&c, &d, SR_DEFCMD_PUT_OPERATION);
        d.create = true;
        d.u.op.operation_list_id = uuid_n(605);
        d.u.op.operation_id = uuid_n(606);
        d.u.op.has_operation_type = d.u.op.has_args = true;
        strcpy(d.u.op.operation_type, "INSTALL");
        d.u.op.args_json = (char *)"{\"package_name\":\"a.b\"}";
        put_buf("command-def-put-operation", sr_codec_encode_command(
                        codec, &c, &buf, &ec), &buf, &ec);

        def_command(&c, &d, SR_DEFCMD_RUN_ENDED);
        d.has_expected_version = false;
        d.u.run.pipeline_run_id = uuid_n(607);
        d.u.run.status = SR_ST_SUCCESS;
        put_buf("command-def-run-ended", sr_codec_encode_command(
                        codec, &c, &buf, &ec), &buf, &ec);

        /* Command version 6: one step of a run's fill, a 64-byte seal
         * state (an odd count of chunks). */
        def_command(&c, &d, SR_DEFCMD_FILL_STEP);
        d.has_expected_version = false;
        d.u.fill.pipeline_run_id = uuid_n(607);
        d.u.fill.stage_index = 1;
        d.u.fill.after = uuid_n(604);
        d.u.fill.chunk = 3;
        d.u.fill.count = 2500;
        d.u.fill.seal_state_len = 64;
        for (int i = 0; i < 64; i++)
                d.u.fill.seal_state[i] = (uint8_t)(17 * i + 5);
        put_buf("command-def-fill-step", sr_codec_encode_command(
                        codec, &c, &buf, &ec), &buf, &ec);
}

static void def_events(void)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_def_event_t ev;

        memset(&ev, 0, sizeof(ev));
        ev.pipeline_id = uuid_n(610);
        ev.seq = 5;
        sr_def_event_id(&ev.pipeline_id, ev.seq, &ev.event_id);
        strcpy(ev.enterprise_id, "acme");
        ev.entity_type = SR_DEF_STAGE;
        ev.entity_id = uuid_n(611);
        ev.parent_id = ev.pipeline_id;
        ev.change = SR_DEF_UPDATED;
        ev.version = 2;
        ev.occurred_at = 1700000003000;
        ev.causation_id = uuid_n(612);
        put_buf("definition-event", sr_codec_encode_def_event(codec, &ev, &buf,
                                                              &ec), &buf, &ec);
}

static void results_events_dispatch_replies(void)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_result_t r;
        sr_event_t e;
        sr_dispatch_t d;
        sr_reply_t rep;

        memset(&r, 0, sizeof(r));
        r.result_id = uuid_n(10);
        r.pipeline_run_id = uuid_n(11);
        r.stage_run_id = uuid_n(12);
        r.target_run_id = uuid_n(13);
        r.command_id = uuid_n(14);
        strcpy(r.command_status, "InProgress");
        r.device_id = uuid_n(15);
        strcpy(r.device_name, "edge-gw-17");
        r.reported_at = 1700000000456;
        put_buf("result", sr_codec_encode_result(codec, &r, &buf, &ec), &buf,
                &ec);

        memset(&e, 0, sizeof(e));
        e.event_id = uuid_n(20);
        e.pipeline_run_id = uuid_n(21);
        e.seq = 42;
        e.entity_type = SR_ENT_TARGET_RUN;
        e.entity_id = uuid_n(22);
        e.pipeline_id = uuid_n(23);
        e.stage_run_id = uuid_n(24);
        e.stage_run_operation_id = uuid_n(25);
        e.device_id = uuid_n(26);
        e.from_status = SR_ST_DISPATCHED;
        e.to_status = SR_ST_SUCCESS;
        strcpy(e.reason, "device reported success");
        e.occurred_at = 1700000000789;
        e.causation_id = uuid_n(27);
        strcpy(e.enterprise_id, "acme");
        e.version = 7;
        put_buf("event", sr_codec_encode_event(codec, &e, &buf, &ec), &buf,
                &ec);

        memset(&d, 0, sizeof(d));
        d.kind = SR_DISPATCH_COMMAND;
        d.command_id = uuid_n(40);
        d.pipeline_run_id = uuid_n(41);
        d.stage_run_id = uuid_n(42);
        d.target_run_id = uuid_n(43);
        d.device_id = uuid_n(44);
        strcpy(d.device_name, "edge-gw-5");
        strcpy(d.operation_type, "INSTALL");
        d.args_json = "{\"package_name\":\"a.b\"}";
        strcpy(d.enterprise_id, "acme");
        d.issued_at = 1700000002000;
        put_buf("dispatch", sr_codec_encode_dispatch(codec, &d, &buf, &ec),
                &buf, &ec);

        memset(&rep, 0, sizeof(rep));
        rep.command_id = uuid_n(30);
        rep.pipeline_run_id = uuid_n(31);
        rep.accepted = true;
        rep.occurred_at = 1700000001000;
        rep.n_versions = 2;
        rep.versions[0].entity_type = SR_ENT_PIPELINE_RUN;
        rep.versions[0].entity_id = uuid_n(32);
        rep.versions[0].version = 3;
        rep.versions[1].entity_type = SR_ENT_TARGET_RUN;
        rep.versions[1].entity_id = uuid_n(33);
        rep.versions[1].version = 9;
        put_buf("reply-accepted", sr_codec_encode_reply(codec, &rep, &buf,
                                                        &ec), &buf, &ec);
        memset(&rep, 0, sizeof(rep));
        rep.command_id = uuid_n(30);
        rep.pipeline_run_id = uuid_n(31);
        rep.reason = SR_REJECT_ILLEGAL_TRANSITION;
        strcpy(rep.message, "target run is already success");
        put_buf("reply-rejected", sr_codec_encode_reply(codec, &rep, &buf,
                                                        &ec), &buf, &ec);
        /* Reply version 2: a definition command's, with its part. */
        rep.reason = SR_REJECT_STALE_VERSION;
        strcpy(rep.message, "stage beta: version 2 is not the current 3");
        rep.has_def = true;
        rep.def.entity_kind = SR_DEF_STAGE;
        rep.def.entity_id = uuid_n(34);
        rep.def.version = 3;
        rep.def.seq = 17;
        put_buf("reply-definition", sr_codec_encode_reply(codec, &rep, &buf,
                                                          &ec), &buf, &ec);
        def_events();
}

static void fill_meta(sr_meta_t *m, int n)
{
        m->id = uuid_n(n);
        m->status = SR_ST_RUNNING;
        strcpy(m->reason, "started by auto promote");
        m->created_at = 1700000000001;
        m->updated_at = 1700000000002;
        m->started_at = 1700000000003;
        m->version = 4000000000u;
        m->deadline = 1700000600000;
}

/* ChangelogRecord version 3: definition entities. */
static void def_record(sr_changelog_t *cl, sr_def_kind_t k)
{
        memset(cl, 0, sizeof(*cl));
        cl->kind = SR_CL_DEF;
        cl->u.def.kind = k;
        cl->u.def.pipeline_id = uuid_n(620);
        strcpy(cl->u.def.enterprise_id, "acme");
}

static void def_records(void)
{
        sr_uuid_t stages[2] = { uuid_n(622), uuid_n(623) };
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_changelog_t cl;

        def_record(&cl, SR_DEF_PIPELINE);
        cl.u.def.u.pipeline.id = cl.u.def.pipeline_id;
        strcpy(cl.u.def.u.pipeline.enterprise_id, "acme");
        strcpy(cl.u.def.u.pipeline.name, "canary rollout");
        cl.u.def.u.pipeline.is_active = true;
        cl.u.def.u.pipeline.timeout_seconds = 86400;
        cl.u.def.u.pipeline.runs_started = 2;
        cl.u.def.u.pipeline.last_seq = 9;
        cl.u.def.u.pipeline.next_ordinal = 5;
        cl.u.def.u.pipeline.a.version = 3;
        cl.u.def.u.pipeline.a.created_at = 1700000000000;
        cl.u.def.u.pipeline.a.updated_at = 1700000005000;
        put_buf("changelog-def-pipeline", sr_codec_encode_changelog(
                        codec, &cl, &buf, &ec), &buf, &ec);

        def_record(&cl, SR_DEF_OPERATION);
        cl.u.def.u.operation.id = uuid_n(621);
        cl.u.def.u.operation.operation_list_id = uuid_n(624);
        strcpy(cl.u.def.u.operation.operation_type, "INSTALL");
        cl.u.def.u.operation.args_json = (char *)"{\"package_name\":\"a\"}";
        cl.u.def.u.operation.a.version = 1;
        put_buf("changelog-def-operation", sr_codec_encode_changelog(
                        codec, &cl, &buf, &ec), &buf, &ec);

        def_record(&cl, SR_DEF_ACTIVE_RUN);
        cl.u.def.u.active_run.run_id = uuid_n(625);
        cl.u.def.u.active_run.definition_seq = 9;
        cl.u.def.u.active_run.filling = true;
        cl.u.def.u.active_run.n_stage_ids = 2;
        cl.u.def.u.active_run.stage_ids = stages;
        cl.u.def.u.active_run.a.version = 1;
        put_buf("changelog-def-active-run", sr_codec_encode_changelog(
                        codec, &cl, &buf, &ec), &buf, &ec);

        def_record(&cl, SR_DEF_TARGET);
        cl.u.def.u.target.id = uuid_n(626);
        cl.u.def.u.target.target_list_id = uuid_n(627);
        cl.u.def.u.target.device_id = uuid_n(628);
        strcpy(cl.u.def.u.target.device_name, "edge-gw-1");
        cl.u.def.u.target.is_active = true;
        cl.u.def.u.target.device_meta_json = (char *)"{\"rack\":4}";
        cl.u.def.u.target.a.version = 1;
        put_buf("changelog-def-target", sr_codec_encode_changelog(
                        codec, &cl, &buf, &ec), &buf, &ec);

        def_record(&cl, SR_DEF_TARGET_LIST);
        cl.u.def.u.list.id = uuid_n(627);
        strcpy(cl.u.def.u.list.name, "beta devices");
        cl.u.def.u.list.type = SR_TL_DEVICES;
        cl.u.def.u.list.n_targets = 1;
        put_buf("changelog-def-target-list", sr_codec_encode_changelog(
                        codec, &cl, &buf, &ec), &buf, &ec);

        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_DEDUPE;
        cl.u.dedupe.input_id = uuid_n(629);
        cl.u.dedupe.pipeline_run_id = uuid_n(620);
        cl.u.dedupe.has_reply = true;
        cl.u.dedupe.reply.command_id = uuid_n(629);
        cl.u.dedupe.reply.pipeline_run_id = uuid_n(620);
        cl.u.dedupe.reply.accepted = true;
        cl.u.dedupe.reply.has_def = true;
        cl.u.dedupe.reply.def.entity_kind = SR_DEF_TARGET_LIST;
        cl.u.dedupe.reply.def.entity_id = uuid_n(627);
        cl.u.dedupe.reply.def.version = 2;
        cl.u.dedupe.reply.def.seq = 10;
        cl.u.dedupe.reply.def.created = cl.u.dedupe.reply.def.added = 1;
        put_buf("changelog-dedupe-def-reply", sr_codec_encode_changelog(
                        codec, &cl, &buf, &ec), &buf, &ec);
}

static void changelogs(void)
{
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_changelog_t cl, chunk;
        sr_runspec_t spec;

        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_ENTITY;
        cl.u.entity.type = SR_ENT_PIPELINE_RUN;
        fill_meta(&cl.u.entity.u.pr.m, 70);
        cl.u.entity.u.pr.pipeline_id = uuid_n(71);
        strcpy(cl.u.entity.u.pr.pipeline_name, "firmware rollout");
        strcpy(cl.u.entity.u.pr.enterprise_id, "acme");
        cl.u.entity.u.pr.run_number = 12;
        cl.u.entity.u.pr.auto_promote = true;
        cl.u.entity.u.pr.timeout_seconds = 86400;
        cl.u.entity.u.pr.n_stages = 2;
        cl.u.entity.u.pr.last_seq = 123456789012ull;
        cl.u.entity.u.pr.next_deadline = 1700000123456LL;
        cl.u.entity.u.pr.spec_hash = 0xfedcba9876543210ull;
        cl.u.entity.u.pr.created_by_command = uuid_n(72);
        put_buf("changelog-pipeline-run", sr_codec_encode_changelog(
                        codec, &cl, &buf, &ec), &buf, &ec);

        fill_spec(&spec);
        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_ENTITY;
        cl.u.entity.type = SR_ENT_STAGE_RUN;
        fill_meta(&cl.u.entity.u.sr.m, 80);
        cl.u.entity.u.sr.m.status = SR_ST_QUEUED;
        cl.u.entity.u.sr.pipeline_run_id = uuid_n(81);
        cl.u.entity.u.sr.pipeline_id = uuid_n(82);
        cl.u.entity.u.sr.stage_id = uuid_n(83);
        strcpy(cl.u.entity.u.sr.enterprise_id, "acme");
        cl.u.entity.u.sr.index = 1;
        strcpy(cl.u.entity.u.sr.name, "canary");
        cl.u.entity.u.sr.timeout_seconds = 600;
        cl.u.entity.u.sr.queued_at = 1700000000500;
        cl.u.entity.u.sr.n_ops = spec.stages[1].n_ops;
        cl.u.entity.u.sr.ops = spec.stages[1].ops;
        cl.u.entity.u.sr.n_targets = spec.stages[1].n_targets;
        cl.u.entity.u.sr.targets = spec.stages[1].targets;
        spec.stages[1].ops = NULL;
        spec.stages[1].targets = NULL;
        spec.stages[1].n_ops = spec.stages[1].n_targets = 0;
        put_buf("changelog-stage-run", sr_codec_encode_changelog(
                        codec, &cl, &buf, &ec), &buf, &ec);
        /* The same stage run open and sealed: changelog version 2. */
        cl.u.entity.u.sr.append_targets = true;
        cl.u.entity.u.sr.expected_targets = 3000;
        cl.u.entity.u.sr.chunks_applied = 3;
        cl.u.entity.u.sr.targets_appended = 2500;
        cl.u.entity.u.sr.sealed = true;
        cl.u.entity.u.sr.seal_chunks = 3;
        cl.u.entity.u.sr.seal_count = 2500;
        for (int i = 0; i < SR_DIGEST_LEN; i++)
                cl.u.entity.u.sr.seal_digest[i] = (uint8_t)(0xa0 + i);
        put_buf("changelog-stage-run-open", sr_codec_encode_changelog(
                        codec, &cl, &buf, &ec), &buf, &ec);
        memset(&chunk, 0, sizeof(chunk));
        chunk.kind = SR_CL_CHUNK;
        chunk.u.chunk.pipeline_run_id = uuid_n(81);
        chunk.u.chunk.stage_index = 1;
        chunk.u.chunk.chunk = 2;
        for (int i = 0; i < SR_DIGEST_LEN; i++)
                chunk.u.chunk.digest[i] = (uint8_t)i;
        chunk.u.chunk.n_targets = cl.u.entity.u.sr.n_targets;
        chunk.u.chunk.targets = cl.u.entity.u.sr.targets; /* borrowed */
        put_buf("changelog-chunk", sr_codec_encode_changelog(
                        codec, &chunk, &buf, &ec), &buf, &ec);
        sr_entity_fini(&cl.u.entity);
        sr_runspec_fini(&spec);

        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_ENTITY;
        cl.u.entity.type = SR_ENT_STAGE_RUN_OPERATION;
        cl.u.entity.u.op.id = uuid_n(90);
        cl.u.entity.u.op.pipeline_run_id = uuid_n(91);
        cl.u.entity.u.op.stage_run_id = uuid_n(92);
        cl.u.entity.u.op.stage_index = 1;
        cl.u.entity.u.op.index = 3;
        strcpy(cl.u.entity.u.op.operation_type, "REBOOT");
        cl.u.entity.u.op.args_json = xstrdup("{\"delay\":5}");
        cl.u.entity.u.op.created_at = 1700000000600;
        cl.u.entity.u.op.version = 2;
        put_buf("changelog-operation", sr_codec_encode_changelog(
                        codec, &cl, &buf, &ec), &buf, &ec);
        sr_entity_fini(&cl.u.entity);

        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_ENTITY;
        cl.u.entity.type = SR_ENT_TARGET_RUN;
        fill_meta(&cl.u.entity.u.tr.m, 100);
        cl.u.entity.u.tr.m.status = SR_ST_DISPATCHED;
        cl.u.entity.u.tr.pipeline_run_id = uuid_n(101);
        cl.u.entity.u.tr.stage_run_id = uuid_n(102);
        cl.u.entity.u.tr.stage_run_operation_id = uuid_n(103);
        cl.u.entity.u.tr.stage_index = 1;
        cl.u.entity.u.tr.target_index = 2;
        cl.u.entity.u.tr.target_id = uuid_n(104);
        cl.u.entity.u.tr.device_id = uuid_n(105);
        strcpy(cl.u.entity.u.tr.device_name, "edge-gw-5");
        strcpy(cl.u.entity.u.tr.device_alias, "lobby");
        cl.u.entity.u.tr.command_id = uuid_n(106);
        strcpy(cl.u.entity.u.tr.command_status, "ACKNOWLEDGED");
        cl.u.entity.u.tr.cancel_requested = true;
        put_buf("changelog-target-run", sr_codec_encode_changelog(
                        codec, &cl, &buf, &ec), &buf, &ec);

        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_DEDUPE;
        cl.u.dedupe.input_id = uuid_n(110);
        cl.u.dedupe.pipeline_run_id = uuid_n(111);
        cl.u.dedupe.has_reply = true;
        cl.u.dedupe.reply.command_id = uuid_n(110);
        cl.u.dedupe.reply.pipeline_run_id = uuid_n(111);
        cl.u.dedupe.reply.accepted = true;
        cl.u.dedupe.reply.n_versions = 1;
        cl.u.dedupe.reply.versions[0].entity_type = SR_ENT_PIPELINE_RUN;
        cl.u.dedupe.reply.versions[0].entity_id = uuid_n(111);
        cl.u.dedupe.reply.versions[0].version = 1;
        put_buf("changelog-dedupe-reply", sr_codec_encode_changelog(
                        codec, &cl, &buf, &ec), &buf, &ec);
        cl.u.dedupe.has_reply = false;
        put_buf("changelog-dedupe", sr_codec_encode_changelog(
                        codec, &cl, &buf, &ec), &buf, &ec);

        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_MARKER;
        strcpy(cl.u.marker.batch_id, "p3-000000000042");
        cl.u.marker.partition = 3;
        cl.u.marker.commands_offset = 123456;
        cl.u.marker.results_offset = 654321;
        cl.u.marker.written_at = 1700000003000;
        put_buf("changelog-marker", sr_codec_encode_changelog(
                        codec, &cl, &buf, &ec), &buf, &ec);

        memset(&cl, 0, sizeof(cl));
        cl.kind = SR_CL_RETIRED;
        cl.u.retired.pipeline_run_id = uuid_n(111);
        strcpy(cl.u.retired.enterprise_id, "ent-acme");
        cl.u.retired.pipeline_id = uuid_n(112);
        cl.u.retired.ended_at = 1700000001000;
        cl.u.retired.retired_at = 1702592001000;
        cl.u.retired.forget_at = 1703196801000;
        put_buf("changelog-retired", sr_codec_encode_changelog(
                        codec, &cl, &buf, &ec), &buf, &ec);
        def_records();
}

#define PID "0b0e5b6e-6a8c-4b8e-9d2f-1c2d3e4f5a6b"
#define RID "1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d"
#define SID "2b3c4d5e-6f7a-4b2c-9d3e-4f5a6b7c8d9e"
#define OID "3c4d5e6f-7a8b-4c3d-8e4f-5a6b7c8d9e0f"
#define TID "4d5e6f7a-8b9c-4d4e-9f5a-6b7c8d9e0f1a"
#define HDRS(m, t, ct) m "\n" t "\nBearer tok-acme-0123456789\n" ct \
        "\nkey-1\nlocalhost:8080\n"

static const struct {
        const char *name, *text;
} requests[] = {
        { "livez", "GET\n/livez\n-\n-\n-\n-\n" },
        { "openapi", "GET\n/openapi.json\n-\n-\n-\n-\n" },
        { "runs-list", HDRS("GET", "/v0/runs/?limit=5&offset=10&status="
                            "running&pipeline_name=canary%20rollout&ordering="
                            "-run_number,status,pipeline__name", "-") },
        { "runs-list-api", HDRS("GET", "/api/pipelines/v0/runs?ordering="
                                "started_at,-ended_at&x=1", "-") },
        { "runs-create", HDRS("POST", "/v0/runs/", "application/json")
          "{\"pipeline_id\":\"" PID "\",\"pipeline_name\":\"canary rollout\","
          "\"auto_promote\":false,\"timeout_seconds\":1814400,\"stages\":"
          "[{\"stage_id\":\"" SID "\",\"name\":\"canary\",\"description\":"
          "\"\",\"timeout_seconds\":604800,\"operations\":[{"
          "\"operation_type\":\"INSTALL\",\"args\":{\"package_name\":"
          "\"com.example\",\"n\":[1,2.5,true,null]}}],\"targets\":[{"
          "\"target_id\":\"" TID "\",\"device_id\":\"" OID "\","
          "\"device_name\":\"d-1\",\"device_alias\":\"lobby\"}]}]}" },
        /* args as written: numbers jansson would print otherwise, an
         * integer past int64, escaped member names, spaces to drop */
        { "runs-create-args-as-written", HDRS("POST", "/v0/runs/",
                                              "application/json")
          "{\"pipeline_id\":\"" PID "\",\"timeout_seconds\":6e2,"
          "\"st\\u0061ges\": [ {\"operations\" : [ {\"operation_type\":"
          "\"LOCK\", \"\\u0061rgs\" : { \"p\" : 0.1 , \"e\":1e2,"
          "\"big\":123456789012345678901234567890,\"s\":\"a \\\" ]}\"} } ],"
          "\"targets\":[{\"device_id\":\"" OID "\"}]}]}" },
        { "runs-create-minimal", HDRS("POST", "/v0/runs",
                                      "application/json; charset=utf-8")
          "{\"pipeline_id\":\"" PID "\",\"stages\":[]}" },
        { "pipeline-runs-list", HDRS("GET", "/v0/pipelines/" PID
                                     "/runs/?status=success&ordering=-status",
                                     "-") },
        { "pipeline-runs-create", HDRS("POST", "/v0/pipelines/" PID "/runs/",
                                       "application/json") "{}" },
        { "pipeline-run-get", HDRS("GET", "/v0/pipelines/" PID "/runs/" RID
                                   "/", "-") },
        { "pipeline-run-put", HDRS("PUT", "/v0/pipelines/" PID "/runs/" RID
                                   "/", "application/json")
          "{\"status\":\"cancelled\"}" },
        { "stage-runs-list", HDRS("GET", "/v0/runs/" RID "/stageruns/?status="
                                  "queued&limit=0", "-") },
        { "stage-run-get", HDRS("GET", "/v0/runs/" RID "/stageruns/" SID "/",
                                "-") },
        { "stage-run-put", HDRS("PUT", "/v0/runs/" RID "/stageruns/" SID "/",
                                "application/json") "{\"status\":\"QUEUED\"}" },
        { "operations-list", HDRS("GET", "/v0/stageruns/" SID "/operations/",
                                  "-") },
        { "operation-get", HDRS("GET", "/v0/stageruns/" SID "/operations/" OID
                                "/", "-") },
        { "target-runs-list", HDRS("GET", "/v0/stageruns/" SID "/targetruns/"
                                   "?stage_run_operation_id=" OID
                                   "&ordering=-status&offset=3", "-") },
        { "target-run-get", HDRS("GET", "/v0/stageruns/" SID "/targetruns/"
                                 TID "/", "-") },
        { "target-run-put", HDRS("PUT", "/v0/stageruns/" SID "/targetruns/"
                                 TID "/", "application/json")
          "{\"status\":\"success\",\"device_name\":\"d-1\"}" },
        { "target-run-put-null", HDRS("PUT", "/api/pipelines/v0/stageruns/"
                                      SID "/targetruns/" TID,
                                      "application/json")
          "{\"status\":\"failure\",\"device_name\":null}" },
        /* a target run's device command: read, sent again, cancelled */
        { "target-run-command-get", HDRS("GET", "/v0/stageruns/" SID
                                         "/targetruns/" TID "/command/",
                                         "-") },
        { "target-run-command-send", HDRS("POST", "/v0/stageruns/" SID
                                          "/targetruns/" TID "/command/",
                                          "application/json") "{}" },
        { "target-run-command-cancel", HDRS("PUT", "/v0/stageruns/" SID
                                            "/targetruns/" TID "/command/"
                                            OID "/", "application/json")
          "{\"request_status\":\"cancelled\"}" },
        /* a finished run deleted, under its pipeline and by id alone */
        { "pipeline-run-delete", HDRS("DELETE", "/v0/pipelines/" PID "/runs/"
                                      RID "/", "-") },
        { "run-delete", HDRS("DELETE", "/api/pipelines/v0/runs/" RID, "-") },
        { "bad-method", "DELETE\n/v0/runs/\nToken short\n-\n-\n[::1]:80\n" },
        /* a device added to a running stage run (appended: the seeds
         * before keep their bytes) */
        { "target-runs-add", HDRS("POST", "/v0/stageruns/" SID
                                  "/targetruns/", "application/json")
          "{\"target_id\":\"" TID "\",\"device_name\":\"late\","
          "\"device_alias\":null}" },
};

/* fuzz_http1: 4 split bytes, then the raw bytes of a connection. */
static const struct {
        const char *name, *text;
} raw[] = {
        { "chunked-put", "\x07\x01\x20\x03"
          "PUT /v0/runs/" RID "/stageruns/" SID "/ HTTP/1.1\r\n"
          "Host: localhost\r\nAuthorization: Bearer tok-acme-0123456789\r\n"
          "Content-Type: application/json\r\n"
          "Transfer-Encoding: chunked\r\n\r\n"
          "a;ext=1\r\n{\"status\":\r\n9\r\n\"queued\"}\r\n0\r\n"
          "X-Trailer: t\r\n\r\n" },
        { "pipelined", "\x3f\x3f\x3f\x3f"
          "GET /livez HTTP/1.1\r\nHost: h\r\n\r\n"
          "HEAD /v0/runs/?limit=1 HTTP/1.1\r\nHost: h\r\n"
          "Authorization: Bearer tok-acme-0123456789\r\n\r\n"
          "GET /openapi.json HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
          "GET /v0/nothing HTTP/1.1\r\nHost: h\r\nConnection: close\r\n"
          "\r\n" },
        { "expect-continue", "\x00\x10\x00\x10"
          "POST /v0/runs/ HTTP/1.1\r\nHost: h\r\n"
          "Authorization: Bearer tok-acme-0123456789\r\n"
          "Content-Type: application/json\r\nExpect: 100-continue\r\n"
          "Content-Length: 54\r\n\r\n"
          "{\"pipeline_id\":\"" PID "\"}" },
        { "too-large", "\x01\x02\x03\x04"
          "POST /v0/runs/ HTTP/1.1\r\nHost: h\r\n"
          "Authorization: Bearer tok-acme-0123456789\r\n"
          "Content-Type: application/json\r\nContent-Length: 50000000\r\n"
          "\r\n" },
        { "no-token", "\x05\x05\x05\x05"
          "PUT /v0/pipelines/" PID "/runs/" RID "/ HTTP/1.1\r\nHost: h\r\n"
          "Content-Type: application/json\r\nContent-Length: 3145728\r\n"
          "\r\n{" },
        { "two-lengths", "\x02\x02\x02\x02"
          "POST /v0/runs/ HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n"
          "Content-Length: 40\r\n\r\n{}GET /livez HTTP/1.1\r\n"
          "Host: h\r\n\r\n" },
        { "te-gzip", "\x09\x09\x09\x09"
          "POST /v0/runs/ HTTP/1.1\r\nHost: h\r\n"
          "Transfer-Encoding: gzip, chunked\r\n\r\n" },
        { "bad-length", "\x08\x08\x08\x08"
          "PUT /v0/runs/ HTTP/1.1\r\nHost: h\r\nContent-Length: -5\r\n"
          "\r\n" },
};

/* The fuzz_http requests as raw HTTP/1.1 (a "-" line: no header). */
static void raw_requests(void)
{
        static const char *const names[] = {
                "Authorization", "Content-Type", "Idempotency-Key", "Host",
        };
        char text[4096], name[64];

        for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
                const char *p = requests[i].text, *line[6];
                size_t len[6], n;

                for (int k = 0; k < 6; k++) {
                        line[k] = p;
                        len[k] = strcspn(p, "\n");
                        p += len[k] + (p[len[k]] == '\n');
                }
                n = (size_t)snprintf(text, sizeof(text),
                                     "%c%c%c%c%.*s %.*s HTTP/1.1\r\n",
                                     (char)(i + 1), 17, 5, 64, (int)len[0],
                                     line[0], (int)len[1], line[1]);
                for (int k = 2; k < 6; k++)
                        if (!(len[k] == 1 && line[k][0] == '-'))
                                n += (size_t)snprintf(text + n,
                                                      sizeof(text) - n,
                                                      "%s: %.*s\r\n",
                                                      names[k - 2],
                                                      (int)len[k], line[k]);
                if (len[5] == 1 && line[5][0] == '-')
                        n += (size_t)snprintf(text + n, sizeof(text) - n,
                                              "Host: localhost\r\n");
                n += (size_t)snprintf(text + n, sizeof(text) - n,
                                      "Content-Length: %zu\r\n\r\n%s",
                                      strlen(p), p);
                if (n >= sizeof(text))
                        die(requests[i].name, "request too long");
                write_file("fuzz_http1", requests[i].name, text, n);
        }
        for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
                snprintf(name, sizeof(name), "%s", raw[i].name);
                write_file("fuzz_http1", name, raw[i].text,
                           4 + strlen(raw[i].text + 4));
        }
}

/* Command version 8 and ChangelogRecord version 4: the device groups'
 * commands and records (docs/definitions.md section 6). */
static void group_command(sr_command_t *c, sr_grpcmd_t *g,
                          sr_grpcmd_kind_t k)
{
        base_command(c, SR_CMD_GROUP);
        memset(g, 0, sizeof(*g));
        c->u.grp = g;
        g->kind = k;
        g->group_id = uuid_n(700);
        g->pipeline_id = uuid_n(701);
        c->pipeline_run_id = k == SR_GRPCMD_MEMBERS ||
                                     k == SR_GRPCMD_DROP_COPIES ?
                                     g->pipeline_id : g->group_id;
}

static void group_seeds(void)
{
        static const char *const names[SR_GRPCMD__COUNT] = {
                "command-group-put", "command-group-put-members",
                "command-group-remove-members", "command-group-delete",
                "command-group-snapshot", "command-group-members",
                "command-group-drop-copies",
        };
        static const char *const recs[SR_GREC__COUNT] = {
                "changelog-device-group", "changelog-device-group-member",
                "changelog-run-group-member", "changelog-run-group-copy",
        };
        sr_def_group_member_t items[2];
        sr_errctx_t ec = { 0 };
        sr_buf_t buf = { 0 };
        sr_changelog_t cl;
        sr_command_t c;
        sr_grpcmd_t g;

        memset(items, 0, sizeof(items));
        for (int i = 0; i < 2; i++) {
                items[i].device_id = uuid_n(710 + i);
                snprintf(items[i].device_name, sizeof(items[i].device_name),
                         "member-%d", i);
        }
        strcpy(items[1].device_alias, "rack 7");
        for (int k = 0; k < SR_GRPCMD__COUNT; k++) {
                group_command(&c, &g, (sr_grpcmd_kind_t)k);
                g.has_expected_version = k <= SR_GRPCMD_DELETE_GROUP;
                g.expected_version = 2;
                g.has_name = k == SR_GRPCMD_PUT_GROUP;
                strcpy(g.name, g.has_name ? "canaries" : "");
                if (k == SR_GRPCMD_PUT_MEMBERS ||
                    k == SR_GRPCMD_REMOVE_MEMBERS ||
                    k == SR_GRPCMD_MEMBERS) {
                        g.items = items;
                        g.n_items = 2;
                }
                g.pipeline_run_id = uuid_n(702);
                g.after = k == SR_GRPCMD_SNAPSHOT ? uuid_n(710) :
                                                    g.after;
                g.seal_state_len = 32;
                g.chunk = 1;
                g.count = 2;
                put_buf(names[k], sr_codec_encode_command(codec, &c, &buf,
                                                          &ec), &buf, &ec);
        }
        for (int k = 0; k < SR_GREC__COUNT; k++) {
                memset(&cl, 0, sizeof(cl));
                cl.kind = SR_CL_GROUP;
                cl.u.grp.kind = (sr_group_rec_kind_t)k;
                strcpy(cl.u.grp.enterprise_id, "acme");
                cl.u.grp.group.id = uuid_n(700);
                strcpy(cl.u.grp.group.name, "canaries");
                cl.u.grp.group.n_members = 2;
                cl.u.grp.group.a.version = 3;
                cl.u.grp.member = items[1];
                cl.u.grp.member.group_id = uuid_n(700);
                cl.u.grp.pipeline_id = uuid_n(701);
                cl.u.grp.pipeline_run_id = uuid_n(702);
                cl.u.grp.group_id = uuid_n(700);
                cl.u.grp.count = 2;
                cl.u.grp.chunks = 1;
                cl.u.grp.closed = true;
                cl.u.grp.state_len = 32;
                put_buf(recs[k], sr_codec_encode_changelog(codec, &cl, &buf,
                                                           &ec), &buf, &ec);
        }
}

int main(int argc, char **argv)
{
        sr_errctx_t ec = { 0 };

        if (argc != 2) {
                fprintf(stderr, "usage: fuzz_seedgen CORPUS_DIR\n");
                return 2;
        }
        root = argv[1];
        mkdir_p(root);
        if (sr_codec_new(&codec, &ec) != SR_OK)
                die("sr_codec_new", ec.msg);
        commands();
        results_events_dispatch_replies();
        changelogs();
        group_seeds();
        sr_codec_destroy(codec);
        for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++)
                write_file("fuzz_http", requests[i].name, requests[i].text,
                           strlen(requests[i].text));
        raw_requests();
        return 0;
}
