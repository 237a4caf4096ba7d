/* tests/integration/test_definitions.c - stored definitions through the
 * worker (docs/definitions.md sections 1-4, 7): definition commands on the
 * mock cluster, answered with Reply version 2, recorded on the changelog
 * under P<pipeline>/ keys, published as DefinitionChanged events with a
 * gapless seq, deduplicated by command id, and still there after the
 * worker restarts from its snapshot and after a fresh worker restores
 * from the changelog. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "sr_defs.h"
#include "testkit.h"

static kit_t kit;

static void setup(void)
{
        kit_open(&kit, 4);
}

static void teardown(void)
{
        kit_close(&kit);
}

TestSuite(definitions, .init = setup, .fini = teardown, .timeout = 180.0);

#define ENT "acme"

static sr_uuid_t pid;

/* A definition command of @p kind under pipeline pid; the caller fills
 * u.def's union, then send(). */
static sr_command_t *def_cmd(sr_command_t *c, sr_defcmd_kind_t kind)
{
        memset(c, 0, sizeof(*c));
        c->kind = SR_CMD_DEFINITION;
        sr_uuid_v4(&c->command_id);
        c->pipeline_run_id = pid;
        snprintf(c->enterprise_id, sizeof(c->enterprise_id), ENT);
        c->issued_at = kit_now_ms();
        c->u.def = calloc(1, sizeof(*c->u.def));
        cr_assert(c->u.def != NULL);
        c->u.def->kind = kind;
        c->u.def->command_id = c->command_id;
        c->u.def->pipeline_id = pid;
        snprintf(c->u.def->enterprise_id, sizeof(c->u.def->enterprise_id),
                 ENT);
        c->u.def->issued_at = c->issued_at;
        return c;
}

struct reply_arg {
        sr_uuid_t cmd;
        const sr_reply_t *r;
        int seen; /* replies of that command */
};

static bool reply_for(kit_t *k, void *arg)
{
        struct reply_arg *ra = arg;

        ra->seen = 0;
        for (int i = 0; i < k->n_replies; i++)
                if (sr_uuid_eq(&k->replies[i].command_id, &ra->cmd)) {
                        ra->r = &k->replies[i];
                        ra->seen++;
                }
        return ra->r != NULL;
}

static int n_sent; /* definition commands sent by the test */

/* Send @p c (then freed) and wait for its reply. */
static const sr_reply_t *send_cmd(sr_command_t *c)
{
        struct reply_arg ra;

        n_sent++;
        memset(&ra, 0, sizeof(ra));
        ra.cmd = c->command_id;
        kit_send_command(&kit, c);
        sr_command_fini(c);
        cr_assert(kit_pump_until(&kit, reply_for, &ra, 30000), "no reply");
        return ra.r;
}

static const sr_reply_t *put_pipeline(bool create, const char *name,
                                      bool with_version, uint32_t version)
{
        sr_command_t c;

        def_cmd(&c, SR_DEFCMD_PUT_PIPELINE);
        c.u.def->create = create;
        c.u.def->u.pipeline.has_name = true;
        snprintf(c.u.def->u.pipeline.name, SR_NAME_MAX, "%s", name);
        c.u.def->has_expected_version = with_version;
        c.u.def->expected_version = version;
        return send_cmd(&c);
}

static const sr_reply_t *put_stage(const sr_uuid_t *id, const char *name)
{
        sr_command_t c;

        def_cmd(&c, SR_DEFCMD_PUT_STAGE);
        c.u.def->create = true;
        c.u.def->u.stage.stage_id = *id;
        c.u.def->u.stage.has_name = true;
        snprintf(c.u.def->u.stage.name, SR_NAME_MAX, "%s", name);
        return send_cmd(&c);
}

/* ---------------------------------------------------------- the topics */

#define LOG_MAX 512

typedef struct def_log {
        sr_def_event_t ev[LOG_MAX];
        char ce_type[LOG_MAX][48];
        int n;
        /* changelog: the last record of each P<pid>/ key seen */
        char keys[LOG_MAX][SR_DEF_KEY_LEN + 1];
        bool tomb[LOG_MAX];
        sr_def_kind_t kind[LOG_MAX];
        int nk;
        int n_dedupe; /* P<pid>/d/ records */
} def_log_t;

static def_log_t lg;

static int read_event(const sr_inrec_t *in, void *arg)
{
        def_log_t *l = arg;
        sr_errctx_t ec = { 0 };
        sr_slice_t h;

        if (l->n == LOG_MAX)
                return 0;
        cr_assert(eq(int, sr_codec_decode_def_event(kit.codec, in->value,
                                                    &l->ev[l->n], &ec),
                     SR_OK), "%s", ec.msg);
        l->ce_type[l->n][0] = '\0';
        if (sr_inrec_header(in, "ce_type", &h) && h.len < 48) {
                memcpy(l->ce_type[l->n], h.ptr, h.len);
                l->ce_type[l->n][h.len] = '\0';
        }
        l->n++;
        return 0;
}

static int read_record(const sr_inrec_t *in, void *arg)
{
        def_log_t *l = arg;
        char prefix[SR_DEF_KEY_LEN];
        size_t pn = sr_def_key_prefix(&pid, prefix);
        sr_changelog_t cl;
        sr_errctx_t ec = { 0 };
        int i;

        if (in->key.len != SR_DEF_KEY_LEN || memcmp(in->key.ptr, prefix, pn))
                return 0;
        if (((const char *)in->key.ptr)[pn] == 'd') { /* a dedupe entry */
                l->n_dedupe++;
                return 0;
        }
        for (i = 0; i < l->nk; i++)
                if (!memcmp(l->keys[i], in->key.ptr, SR_DEF_KEY_LEN))
                        break;
        if (i == l->nk) {
                cr_assert(lt(int, l->nk, LOG_MAX));
                memcpy(l->keys[l->nk], in->key.ptr, SR_DEF_KEY_LEN);
                l->keys[l->nk++][SR_DEF_KEY_LEN] = '\0';
        }
        l->tomb[i] = !in->value.ptr;
        if (l->tomb[i])
                return 0;
        cr_assert(eq(int, sr_codec_decode_changelog(kit.codec, in->value, &cl,
                                                    &ec), SR_OK), "%s",
                  ec.msg);
        l->kind[i] = cl.kind == SR_CL_DEF ? cl.u.def.kind : SR_DEF__COUNT;
        sr_changelog_fini(&cl);
        return 0;
}

/* Every record of topic @p t so far, partition by partition, to @p cb. */
static void read_topic(sr_topic_kind_t t, sr_kafka_read_cb cb, void *arg)
{
        sr_errctx_t ec = { 0 };

        for (int32_t p = 0; p < kit.parts; p++) {
                int64_t lo, hi;

                cr_assert(eq(int, sr_kafka_watermarks(kit.conf, t, p, &lo,
                                                      &hi, 5000, &ec),
                             SR_OK), "%s", ec.msg);
                if (hi > 0)
                        cr_assert(eq(int, sr_kafka_read_partition(
                                                  kit.conf, t, p, hi, cb,
                                                  arg, 10000, &ec),
                                     SR_OK), "%s", ec.msg);
        }
}

static void read_all(void)
{
        memset(&lg, 0, sizeof(lg));
        kit_pump_until(&kit, NULL, NULL, 300); /* the relay's phases */
        read_topic(SR_TOPIC_DEF_EVENTS, read_event, &lg);
        read_topic(SR_TOPIC_CHANGELOG, read_record, &lg);
}

/* ---------------------------------------------------------- tests */

Test(definitions, commands_are_answered_recorded_and_published_in_order)
{
        const sr_reply_t *r;
        sr_uuid_t s1, s2, l1, dev[2];
        sr_command_t c, again;
        char key[SR_DEF_KEY_LEN + 1];

        sr_uuid_v4(&pid);
        sr_uuid_v4(&s1);
        sr_uuid_v4(&s2);
        sr_uuid_v4(&l1);
        sr_uuid_v4(&dev[0]);
        sr_uuid_v4(&dev[1]);
        kit_start_worker(&kit);

        r = put_pipeline(true, "rollout", false, 0);
        cr_assert(r->accepted, "%s", r->message);
        cr_assert(r->has_def);
        cr_assert(eq(u32, r->def.version, 1));
        cr_assert(eq(u64, r->def.seq, 1));
        cr_assert(sr_uuid_eq(&r->pipeline_run_id, &pid));

        r = put_stage(&s1, "canary");
        cr_assert(r->accepted, "%s", r->message);
        r = put_stage(&s2, "CANARY");
        cr_assert(not(r->accepted));
        cr_assert(eq(str, (char *)sr_reject_name(r->reason), "name_taken"));
        cr_assert(strstr(r->message, "taken by stage") != NULL, "%s",
                  r->message);

        def_cmd(&c, SR_DEFCMD_PUT_TARGET_LIST);
        c.u.def->create = true;
        c.u.def->u.list.target_list_id = l1;
        c.u.def->u.list.has_name = c.u.def->u.list.has_type = true;
        snprintf(c.u.def->u.list.name, SR_NAME_MAX, "fleet");
        c.u.def->u.list.type = SR_TL_DEVICES;
        r = send_cmd(&c);
        cr_assert(r->accepted, "%s", r->message);

        def_cmd(&c, SR_DEFCMD_ATTACH_TARGET_LIST);
        c.u.def->u.attach.stage_id = s1;
        c.u.def->u.attach.target_list_id = l1;
        r = send_cmd(&c);
        cr_assert(r->accepted, "%s", r->message);

        /* two targets, then the same two again: skipped, read by key */
        for (int round = 0; round < 2; round++) {
                def_cmd(&c, SR_DEFCMD_ADD_TARGETS);
                c.u.def->u.add.target_list_id = l1;
                c.u.def->u.add.n_items = 2;
                c.u.def->u.add.items = calloc(2, sizeof(sr_defcmd_target_t));
                for (int i = 0; i < 2; i++) {
                        c.u.def->u.add.items[i].device_id = dev[i];
                        c.u.def->u.add.items[i].is_active = true;
                        snprintf(c.u.def->u.add.items[i].device_name,
                                 SR_NAME_MAX, "dev-%d", i);
                }
                r = send_cmd(&c);
                cr_assert(r->accepted, "%s", r->message);
                cr_assert(eq(u32, r->def.created, round ? 0 : 2));
                cr_assert(eq(u32, r->def.skipped, round ? 2 : 0));
        }

        /* a stale version is refused with the current one */
        r = put_pipeline(false, "rollout-2", true, 7);
        cr_assert(not(r->accepted));
        cr_assert(eq(str, (char *)sr_reject_name(r->reason), "stale_version"));
        cr_assert(eq(u32, r->def.version, 1));
        r = put_pipeline(false, "rollout-2", true, 1);
        cr_assert(r->accepted, "%s", r->message);
        cr_assert(eq(u32, r->def.version, 2));

        /* the same command twice: the first reply again, nothing else */
        def_cmd(&c, SR_DEFCMD_PUT_STAGE);
        c.u.def->create = true;
        c.u.def->u.stage.stage_id = s2;
        c.u.def->u.stage.has_name = true;
        snprintf(c.u.def->u.stage.name, SR_NAME_MAX, "wide");
        def_cmd(&again, SR_DEFCMD_PUT_STAGE);
        free(again.u.def);
        again = c;
        again.u.def = calloc(1, sizeof(*again.u.def));
        *again.u.def = *c.u.def;
        r = send_cmd(&c);
        cr_assert(r->accepted, "%s", r->message);
        {
                struct reply_arg ra;

                memset(&ra, 0, sizeof(ra));
                ra.cmd = again.command_id;
                kit_send_command(&kit, &again);
                sr_command_fini(&again);
                cr_assert(kit_pump_until(&kit, reply_for, &ra, 30000));
                while (ra.seen < 2 &&
                       kit_pump_until(&kit, NULL, NULL, 100))
                        reply_for(&kit, &ra);
                cr_assert(eq(int, ra.seen, 2));
                cr_assert(ra.r->accepted);
        }

        /* a run without its id: refused, nothing pinned (the runs
         * themselves: a_run_of_the_stored_pipeline_...) */
        def_cmd(&c, SR_DEFCMD_START_PIPELINE_RUN);
        r = send_cmd(&c);
        cr_assert(not(r->accepted));
        cr_assert(eq(str, (char *)sr_reject_name(r->reason), "invalid_value"),
                  "%s", r->message);

        read_all();
        /* events: one per change, seq 1..n gapless, in order */
        cr_assert(ge(int, lg.n, 8), "events: %d", lg.n);
        for (int i = 0; i < lg.n; i++) {
                sr_uuid_t want;

                cr_assert(eq(u64, lg.ev[i].seq, (uint64_t)i + 1));
                sr_def_event_id(&pid, lg.ev[i].seq, &want);
                cr_assert(sr_uuid_eq(&lg.ev[i].event_id, &want));
                cr_assert(eq(str, lg.ce_type[i], "io.sr.definition.changed"));
                cr_assert(eq(str, lg.ev[i].enterprise_id, ENT));
        }
        cr_assert(eq(int, lg.ev[0].entity_type, SR_DEF_PIPELINE));
        cr_assert(eq(int, lg.ev[0].change, SR_DEF_CREATED));
        /* records: the pipeline, two stages, the list, the attachment and
         * two targets; the pipeline's record says its last seq */
        cr_assert(eq(int, lg.nk, 7), "keys: %d", lg.nk);
        /* one dedupe entry per command, refused ones included, the
         * duplicate delivery none more: 11 commands */
        cr_assert(eq(int, lg.n_dedupe, 11), "dedupe entries: %d",
                  lg.n_dedupe);
        sr_def_key(SR_DEF_PIPELINE, &pid, &pid, key);
        key[SR_DEF_KEY_LEN] = '\0';
        {
                int found = 0;

                for (int i = 0; i < lg.nk; i++) {
                        cr_assert(not(lg.tomb[i]));
                        found += !strcmp(lg.keys[i], key);
                        cr_assert(ne(int, lg.kind[i], SR_DEF__COUNT));
                }
                cr_assert(eq(int, found, 1));
        }
}

Test(definitions, a_restarted_worker_and_a_fresh_one_meet_the_same_aggregate)
{
        const sr_reply_t *r;
        sr_uuid_t s1, s2;
        sr_command_t c;

        sr_uuid_v4(&pid);
        sr_uuid_v4(&s1);
        sr_uuid_v4(&s2);
        kit_start_worker(&kit);
        r = put_pipeline(true, "p", false, 0);
        cr_assert(r->accepted, "%s", r->message);
        r = put_stage(&s1, "one");
        cr_assert(r->accepted, "%s", r->message);

        /* from its own snapshot */
        kit_stop_worker(&kit);
        kit_start_worker(&kit);
        r = put_stage(&s2, "ONE");
        cr_assert(eq(str, (char *)sr_reject_name(r->reason), "name_taken"));

        /* the soft delete; then nothing under it can change */
        def_cmd(&c, SR_DEFCMD_DELETE_PIPELINE);
        r = send_cmd(&c);
        cr_assert(r->accepted, "%s", r->message);
        r = put_stage(&s2, "two");
        cr_assert(eq(str, (char *)sr_reject_name(r->reason),
                     "pipeline_deleted"));

        /* a fresh worker (no snapshot) restores the partition from the
         * changelog and meets the same deleted pipeline */
        kit_stop_worker(&kit);
        {
                char rm[128];

                snprintf(rm, sizeof(rm), "rm -rf %s/*", kit.dir);
                cr_assert(eq(int, system(rm), 0));
        }
        kit_start_worker(&kit);
        r = put_stage(&s2, "two");
        cr_assert(eq(str, (char *)sr_reject_name(r->reason),
                     "pipeline_deleted"));
        /* and another tenant does not see it */
        def_cmd(&c, SR_DEFCMD_PUT_STAGE);
        snprintf(c.enterprise_id, sizeof(c.enterprise_id), "other");
        snprintf(c.u.def->enterprise_id, sizeof(c.u.def->enterprise_id),
                 "other");
        c.u.def->create = true;
        c.u.def->u.stage.stage_id = s2;
        c.u.def->u.stage.has_name = true;
        snprintf(c.u.def->u.stage.name, SR_NAME_MAX, "x");
        r = send_cmd(&c);
        cr_assert(eq(str, (char *)sr_reject_name(r->reason), "not_found"));
}

/* ------------------------------------------------- runs of the pipeline */

static const sr_reply_t *put_list(const sr_uuid_t *id, const char *name)
{
        sr_command_t c;

        def_cmd(&c, SR_DEFCMD_PUT_TARGET_LIST);
        c.u.def->create = true;
        c.u.def->u.list.target_list_id = *id;
        c.u.def->u.list.has_name = true;
        snprintf(c.u.def->u.list.name, SR_NAME_MAX, "%s", name);
        c.u.def->u.list.has_type = true;
        c.u.def->u.list.type = SR_TL_DEVICES;
        return send_cmd(&c);
}

static const sr_reply_t *attach(const sr_uuid_t *stage, const sr_uuid_t *list)
{
        sr_command_t c;

        def_cmd(&c, SR_DEFCMD_ATTACH_TARGET_LIST);
        c.u.def->u.attach.stage_id = *stage;
        c.u.def->u.attach.target_list_id = *list;
        return send_cmd(&c);
}

/* Device @p i of the test (the same device in every list). */
static void device(unsigned i, sr_uuid_t *out)
{
        sr_uuid_v5(out, &sr_ns, "it-defs-device/%u", i);
}

/* Devices [from, to) into @p list, in AddTargets chunks of 100. */
static void add_devices(const sr_uuid_t *list, unsigned from, unsigned to)
{
        for (unsigned at = from; at < to; at += 100) {
                unsigned n = to - at < 100 ? to - at : 100;
                const sr_reply_t *r;
                sr_command_t c;

                def_cmd(&c, SR_DEFCMD_ADD_TARGETS);
                c.u.def->u.add.target_list_id = *list;
                c.u.def->u.add.chunk_index = (at - from) / 100;
                c.u.def->u.add.n_items = n;
                c.u.def->u.add.items = calloc(n, sizeof(sr_defcmd_target_t));
                for (unsigned i = 0; i < n; i++) {
                        sr_defcmd_target_t *t = &c.u.def->u.add.items[i];

                        device(at + i, &t->device_id);
                        snprintf(t->device_name, SR_NAME_MAX, "dev-%u",
                                 at + i);
                        t->is_active = true;
                }
                r = send_cmd(&c);
                cr_assert(r->accepted, "%s", r->message);
        }
}

/* Device 1000 into @p list once the fill holding the pipeline's targets
 * has ended (run_starting until then). */
static void add_late_target(const sr_uuid_t *list)
{
        const sr_reply_t *r;
        sr_command_t c;

        for (int tries = 0;; tries++) {
                sr_defcmd_target_t *t;

                def_cmd(&c, SR_DEFCMD_ADD_TARGETS);
                c.u.def->u.add.target_list_id = *list;
                c.u.def->u.add.n_items = 1;
                t = c.u.def->u.add.items = calloc(1, sizeof(*t));
                device(1000, &t->device_id);
                snprintf(t->device_name, SR_NAME_MAX, "late");
                t->is_active = true;
                r = send_cmd(&c);
                if (r->accepted)
                        return;
                cr_assert(eq(str, (char *)sr_reject_name(r->reason),
                             "run_starting"), "%s", r->message);
                cr_assert(lt(int, tries, 100), "the fill never ended");
                kit_drain(&kit, 100);
        }
}

static void add_operation(const sr_uuid_t *stage, const char *type)
{
        sr_uuid_t ol, op;
        const sr_reply_t *r;
        sr_command_t c;

        sr_uuid_v4(&ol);
        sr_uuid_v4(&op);
        def_cmd(&c, SR_DEFCMD_PUT_OPERATION_LIST);
        c.u.def->create = true;
        c.u.def->u.oplist.stage_id = *stage;
        c.u.def->u.oplist.operation_list_id = ol;
        c.u.def->u.oplist.has_name = true;
        snprintf(c.u.def->u.oplist.name, SR_NAME_MAX, "ops");
        r = send_cmd(&c);
        cr_assert(r->accepted, "%s", r->message);
        def_cmd(&c, SR_DEFCMD_PUT_OPERATION);
        c.u.def->create = true;
        c.u.def->u.op.operation_list_id = ol;
        c.u.def->u.op.operation_id = op;
        c.u.def->u.op.has_operation_type = true;
        snprintf(c.u.def->u.op.operation_type, SR_SHORT_MAX, "%s", type);
        r = send_cmd(&c);
        cr_assert(r->accepted, "%s", r->message);
}

static const sr_reply_t *start_run(const sr_uuid_t *run)
{
        sr_command_t c;

        def_cmd(&c, SR_DEFCMD_START_PIPELINE_RUN);
        c.u.def->u.run.pipeline_run_id = *run;
        return send_cmd(&c);
}

/* Dispatched device commands of @p run's stage run @p sid, and of them
 * how many name device @p dev. */
static int stage_dispatches(const sr_uuid_t *run, const sr_uuid_t *sid,
                            const sr_uuid_t *dev, int *of_dev)
{
        int n = 0;

        *of_dev = 0;
        for (int i = 0; i < kit.n_dispatches; i++) {
                const sr_dispatch_t *d = &kit.dispatches[i];

                if (!sr_uuid_eq(&d->pipeline_run_id, run) ||
                    !sr_uuid_eq(&d->stage_run_id, sid) ||
                    d->kind != SR_DISPATCH_COMMAND)
                        continue;
                n++;
                *of_dev += sr_uuid_eq(&d->device_id, dev);
        }
        return n;
}

typedef struct stage_arg {
        const sr_uuid_t *run, *sid;
        int n;
} stage_arg_t;

static bool stage_dispatched(kit_t *k, void *arg)
{
        stage_arg_t *a = arg;
        sr_uuid_t none;
        int of;

        (void)k;
        memset(&none, 0, sizeof(none));
        return stage_dispatches(a->run, a->sid, &none, &of) >= a->n;
}

static void answer_stage(const sr_uuid_t *run, const sr_uuid_t *sid)
{
        for (int i = 0; i < kit.n_dispatches; i++) {
                const sr_dispatch_t *d = &kit.dispatches[i];

                if (sr_uuid_eq(&d->pipeline_run_id, run) &&
                    sr_uuid_eq(&d->stage_run_id, sid) &&
                    d->kind == SR_DISPATCH_COMMAND)
                        kit_result_for(&kit, d, "SUCCESS", NULL);
        }
}

static void wait_status(const sr_uuid_t *id, sr_status_t st)
{
        kit_status_arg_t a = { *id, st };

        cr_assert(kit_pump_until(&kit, kit_status_is, &a, 60000),
                  "status %s, wanted %s", sr_status_name(kit_status(&kit, id)),
                  sr_status_name(st));
}

/* docs/definitions.md section 5: the owner resolves the pipeline into the
 * run's skeleton, fills its open stages in chunks of
 * definition.chunk.targets (a device in two lists of a stage once), holds
 * the pipeline's target writes until the fill ends, and the run, frozen
 * at its start, runs to success while the definition changes; its end
 * frees the stages it used. */
Test(definitions, a_run_of_the_stored_pipeline_is_filled_in_chunks_and_runs_frozen)
{
        sr_uuid_t s1, s2, l1, l2, run, sid, dev, none;
        stage_arg_t sa;
        const sr_reply_t *r;
        sr_command_t c;
        int of;

        kit_set(&kit, "definition.chunk.targets", "100");
        sr_uuid_v4(&pid);
        sr_uuid_v4(&s1);
        sr_uuid_v4(&s2);
        sr_uuid_v4(&l1);
        sr_uuid_v4(&l2);
        sr_uuid_v4(&run);
        memset(&none, 0, sizeof(none));
        kit_start_worker(&kit);
        cr_assert(put_pipeline(true, "fleet", false, 0)->accepted);
        cr_assert(put_stage(&s1, "canary")->accepted);
        cr_assert(put_stage(&s2, "rest")->accepted);
        cr_assert(put_list(&l1, "all")->accepted);
        cr_assert(put_list(&l2, "extra")->accepted);
        add_devices(&l1, 0, 250);
        add_devices(&l2, 230, 280); /* 20 devices in both lists */
        cr_assert(attach(&s1, &l1)->accepted);
        cr_assert(attach(&s1, &l2)->accepted);
        cr_assert(attach(&s2, &l1)->accepted);
        add_operation(&s1, "REBOOT");
        add_operation(&s2, "UPGRADE");

        r = start_run(&run);
        cr_assert(r->accepted, "%s", r->message);
        cr_assert(eq(int, r->def.entity_kind, SR_DEF_ACTIVE_RUN));
        cr_assert(sr_uuid_eq(&r->def.entity_id, &run));
        /* a retry is the same run, not a second one */
        r = start_run(&run);
        cr_assert(r->accepted, "%s", r->message);

        /* stage one: 250 + 30 devices, each once */
        sid = kit_stage_id(&run, 0);
        sa = (stage_arg_t){ &run, &sid, 280 };
        cr_assert(kit_pump_until(&kit, stage_dispatched, &sa, 60000),
                  "stage one dispatched %d",
                  stage_dispatches(&run, &sid, &none, &of));
        device(240, &dev);
        cr_assert(eq(int, stage_dispatches(&run, &sid, &dev, &of), 280));
        cr_assert(eq(int, of, 1), "a device in both lists ran %d times", of);

        /* once the fill has ended (stage two is filled after stage one)
         * the targets change again; the run does not see it */
        add_late_target(&l1);
        def_cmd(&c, SR_DEFCMD_DELETE_STAGE);
        c.u.def->u.stage.stage_id = s2;
        r = send_cmd(&c);
        cr_assert(eq(str, (char *)sr_reject_name(r->reason), "in_use"),
                  "%s", r->message);

        answer_stage(&run, &sid);
        wait_status(&sid, SR_ST_SUCCESS);
        sid = kit_stage_id(&run, 1);
        wait_status(&run, SR_ST_WAITING);
        kit_set_status(&kit, SR_CMD_SET_STAGE_RUN_STATUS, &run, &sid,
                       "queued", NULL);
        sa = (stage_arg_t){ &run, &sid, 250 };
        cr_assert(kit_pump_until(&kit, stage_dispatched, &sa, 60000));
        answer_stage(&run, &sid);
        wait_status(&run, SR_ST_SUCCESS);
        cr_assert(eq(int, stage_dispatches(&run, &sid, &none, &of), 250),
                  "the targets added after the start reached the run");

        /* its end (RunEnded from the run's owner) frees the stage */
        for (int tries = 0; tries < 100; tries++) {
                def_cmd(&c, SR_DEFCMD_DELETE_STAGE);
                c.u.def->u.stage.stage_id = s2;
                r = send_cmd(&c);
                if (r->accepted)
                        break;
                cr_assert(eq(str, (char *)sr_reject_name(r->reason), "in_use"),
                          "%s", r->message);
                kit_drain(&kit, 100);
        }
        cr_assert(r->accepted, "the ended run still holds its stage");

        /* one dedupe entry a command the test sent and one for the run's
         * RunEnded: the fill's steps (six here) leave none */
        read_all();
        cr_assert(eq(int, lg.n_dedupe, n_sent + 1),
                  "dedupe entries of the pipeline: %d for %d commands",
                  lg.n_dedupe, n_sent);
}

/* What the command topic holds for one run: the fill's commands. */
typedef struct fill_sent {
        sr_uuid_t run;
        int appends, seals, steps;
} fill_sent_t;

static int read_fill_command(const sr_inrec_t *in, void *arg)
{
        fill_sent_t *f = arg;
        sr_errctx_t ec = { 0 };
        sr_command_t c;

        if (sr_codec_decode_command(kit.codec, in->value, &c, &ec) != SR_OK)
                return 0; /* not ours to judge here */
        if (sr_uuid_eq(&c.pipeline_run_id, &f->run)) {
                f->appends += c.kind == SR_CMD_APPEND_TARGETS;
                f->seals += c.kind == SR_CMD_SEAL_TARGETS;
        }
        if (c.kind == SR_CMD_DEFINITION &&
            c.u.def->kind == SR_DEFCMD_FILL_STEP &&
            sr_uuid_eq(&c.u.def->u.fill.pipeline_run_id, &f->run))
                f->steps++;
        sr_command_fini(&c);
        return 0;
}

static bool run_known(kit_t *k, void *arg)
{
        return kit_status(k, arg) != SR_ST_NONE;
}

/* The fill's first step comes from the run's owner once it has created
 * the run (docs/guarantee.md): a start whose CreateRun is refused (its
 * run id taken by another run) sends the taken run nothing, and its
 * RunEnded frees the pipeline. */
Test(definitions, a_start_whose_run_id_is_taken_fills_nothing)
{
        sr_uuid_t s1, l1, run;
        const sr_reply_t *r;
        sr_runspec_t spec;
        fill_sent_t f;

        sr_uuid_v4(&pid);
        sr_uuid_v4(&s1);
        sr_uuid_v4(&l1);
        sr_uuid_v4(&run);
        kit_start_worker(&kit);
        cr_assert(put_pipeline(true, "fleet", false, 0)->accepted);
        cr_assert(put_stage(&s1, "all")->accepted);
        cr_assert(put_list(&l1, "all")->accepted);
        add_devices(&l1, 0, 50);
        cr_assert(attach(&s1, &l1)->accepted);
        add_operation(&s1, "REBOOT");

        /* another run holds the id (an inline run, one stage) */
        kit_spec(&spec, 1, 1, 2, false);
        kit_create(&kit, &run, &spec, NULL);
        sr_runspec_fini(&spec);
        cr_assert(kit_pump_until(&kit, run_known, &run, 30000),
                  "the other run was not created");

        /* the pipeline's owner cannot see the run: it accepts the start */
        r = start_run(&run);
        cr_assert(r->accepted, "%s", r->message);
        /* the refused CreateRun's RunEnded ends the fill: targets can be
         * written again */
        add_late_target(&l1);
        kit_pump_until(&kit, NULL, NULL, 300);
        memset(&f, 0, sizeof(f));
        f.run = run;
        read_topic(SR_TOPIC_COMMANDS, read_fill_command, &f);
        cr_assert(eq(int, f.steps, 0), "fill steps sent: %d", f.steps);
        cr_assert(eq(int, f.appends, 0), "chunks sent the taken run: %d",
                  f.appends);
        cr_assert(eq(int, f.seals, 0), "seals sent the taken run: %d",
                  f.seals);
}
