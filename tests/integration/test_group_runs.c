/* tests/integration/test_group_runs.c - runs of stored pipelines whose
 * GROUPS lists link device groups (docs/definitions.md section 6, "Read
 * against the fill as built", steps 1-5), on the mock cluster: the linked
 * groups' members copied into the run before its CreateRun, the stage
 * filled from its DEVICES targets then each group's copy with each device
 * once (a DEVICES entry winning), the copy frozen against later member
 * writes, a group unknown to the directory contributing nothing, the
 * copies gone after RunEnded, and a worker restarted mid-snapshot giving
 * the same target runs. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "sr_groups.h"
#include "testkit.h"

static kit_t kit;

static void setup(void)
{
        kit_open(&kit, 4);
        kit_set(&kit, "definition.chunk.targets", "100");
}

static void teardown(void)
{
        kit_close(&kit);
}

TestSuite(group_runs, .init = setup, .fini = teardown, .timeout = 240.0);

#define ENT "acme"

static sr_uuid_t pid;
static unsigned feed_chunk = 100; /* members a PutGroupMembers, at most
                                     definition.chunk.targets */

/* ---------------------------------------------------------- commands */

static bool reply_for(kit_t *k, void *arg)
{
        return kit_reply_of(k, arg, NULL) != NULL;
}

/* Send @p c (then freed), wait for its reply, which must be accepted. */
static void send_ok(sr_command_t *c)
{
        sr_uuid_t id = c->command_id;
        const sr_reply_t *r;

        kit_send_command(&kit, c);
        sr_command_fini(c);
        cr_assert(kit_pump_until(&kit, reply_for, &id, 30000), "no reply");
        r = kit_reply_of(&kit, &id, NULL);
        cr_assert(r->accepted, "%s", r->message);
}

static void envelope(sr_command_t *c, sr_cmd_kind_t kind,
                     const sr_uuid_t *key)
{
        memset(c, 0, sizeof(*c));
        c->kind = kind;
        sr_uuid_v4(&c->command_id);
        c->pipeline_run_id = *key;
        snprintf(c->enterprise_id, sizeof(c->enterprise_id), ENT);
        c->issued_at = kit_now_ms();
}

static sr_defcmd_t *def_cmd(sr_command_t *c, sr_defcmd_kind_t kind)
{
        envelope(c, SR_CMD_DEFINITION, &pid);
        c->u.def = calloc(1, sizeof(*c->u.def));
        cr_assert(c->u.def != NULL);
        c->u.def->kind = kind;
        c->u.def->command_id = c->command_id;
        c->u.def->pipeline_id = pid;
        snprintf(c->u.def->enterprise_id, SR_SHORT_MAX, ENT);
        c->u.def->issued_at = c->issued_at;
        c->u.def->create = true;
        return c->u.def;
}

static sr_uuid_t dev(unsigned i)
{
        sr_uuid_t u;

        sr_uuid_v5(&u, &sr_ns, "it-group-runs-device/%u", i);
        return u;
}

/* Group @p g of the directory with members [from, to), named "m-<i>". */
static void feed_group(const sr_uuid_t *g, unsigned from, unsigned to)
{
        sr_command_t c;

        envelope(&c, SR_CMD_GROUP, g);
        c.u.grp = calloc(1, sizeof(*c.u.grp));
        c.u.grp->kind = SR_GRPCMD_PUT_GROUP;
        c.u.grp->group_id = *g;
        c.u.grp->has_name = true;
        snprintf(c.u.grp->name, SR_NAME_MAX, "group");
        send_ok(&c);
        for (unsigned at = from; at < to; at += feed_chunk) {
                unsigned n = to - at < feed_chunk ? to - at : feed_chunk;

                envelope(&c, SR_CMD_GROUP, g);
                c.u.grp = calloc(1, sizeof(*c.u.grp));
                c.u.grp->kind = SR_GRPCMD_PUT_MEMBERS;
                c.u.grp->group_id = *g;
                c.u.grp->n_items = n;
                c.u.grp->items = calloc(n, sizeof(*c.u.grp->items));
                for (unsigned i = 0; i < n; i++) {
                        c.u.grp->items[i].device_id = dev(at + i);
                        snprintf(c.u.grp->items[i].device_name, SR_NAME_MAX,
                                 "m-%u", at + i);
                }
                send_ok(&c);
        }
}

static void put_list(const sr_uuid_t *l, sr_tl_type_t type)
{
        sr_command_t c;
        sr_defcmd_t *d = def_cmd(&c, SR_DEFCMD_PUT_TARGET_LIST);

        d->u.list.target_list_id = *l;
        d->u.list.has_name = d->u.list.has_type = true;
        snprintf(d->u.list.name, SR_NAME_MAX, "%s",
                 type == SR_TL_DEVICES ? "devices" : "groups");
        d->u.list.type = type;
        send_ok(&c);
}

/* A pipeline of one stage (operation REBOOT) with @p l_dev (devices
 * [0, n_dev), "dev-<i>") and a GROUPS list linking @p groups attached. */
static sr_uuid_t pipeline(unsigned n_dev, const sr_uuid_t *groups, int n_g)
{
        sr_uuid_t s, l_dev, l_grp, ol, op;
        sr_command_t c;
        sr_defcmd_t *d;

        sr_uuid_v4(&pid);
        sr_uuid_v4(&s);
        sr_uuid_v4(&l_dev);
        sr_uuid_v4(&l_grp);
        sr_uuid_v4(&ol);
        sr_uuid_v4(&op);
        d = def_cmd(&c, SR_DEFCMD_PUT_PIPELINE);
        d->u.pipeline.has_name = true;
        snprintf(d->u.pipeline.name, SR_NAME_MAX, "fleet");
        send_ok(&c);
        d = def_cmd(&c, SR_DEFCMD_PUT_STAGE);
        d->u.stage.stage_id = s;
        d->u.stage.has_name = true;
        snprintf(d->u.stage.name, SR_NAME_MAX, "all");
        send_ok(&c);
        put_list(&l_dev, SR_TL_DEVICES);
        put_list(&l_grp, SR_TL_GROUPS);
        for (unsigned at = 0; at < n_dev; at += 100) {
                unsigned n = n_dev - at < 100 ? n_dev - at : 100;

                d = def_cmd(&c, SR_DEFCMD_ADD_TARGETS);
                d->create = false;
                d->u.add.target_list_id = l_dev;
                d->u.add.n_items = n;
                d->u.add.items = calloc(n, sizeof(*d->u.add.items));
                for (unsigned i = 0; i < n; i++) {
                        d->u.add.items[i].device_id = dev(at + i);
                        snprintf(d->u.add.items[i].device_name, SR_NAME_MAX,
                                 "dev-%u", at + i);
                        d->u.add.items[i].is_active = true;
                }
                send_ok(&c);
        }
        for (int i = 0; i < n_g; i++) {
                d = def_cmd(&c, SR_DEFCMD_LINK_DEVICE_GROUP);
                d->create = false;
                d->u.group.target_list_id = l_grp;
                d->u.group.device_group_id = groups[i];
                send_ok(&c);
        }
        for (int k = 0; k < 2; k++) {
                d = def_cmd(&c, SR_DEFCMD_ATTACH_TARGET_LIST);
                d->create = false;
                d->u.attach.stage_id = s;
                d->u.attach.target_list_id = k ? l_grp : l_dev;
                send_ok(&c);
        }
        d = def_cmd(&c, SR_DEFCMD_PUT_OPERATION_LIST);
        d->u.oplist.stage_id = s;
        d->u.oplist.operation_list_id = ol;
        d->u.oplist.has_name = true;
        snprintf(d->u.oplist.name, SR_NAME_MAX, "ops");
        send_ok(&c);
        d = def_cmd(&c, SR_DEFCMD_PUT_OPERATION);
        d->u.op.operation_list_id = ol;
        d->u.op.operation_id = op;
        d->u.op.has_operation_type = true;
        snprintf(d->u.op.operation_type, SR_SHORT_MAX, "REBOOT");
        send_ok(&c);
        return s;
}

static void start_run(const sr_uuid_t *run)
{
        sr_command_t c;

        def_cmd(&c, SR_DEFCMD_START_PIPELINE_RUN)->u.run.pipeline_run_id =
                *run;
        c.u.def->create = false;
        send_ok(&c);
}

/* ---------------------------------------------------------- the run */

/* Dispatches of @p run's first stage; how many name device @p d (NULL:
 * none), and the name of the last of those. */
static int dispatches(const sr_uuid_t *run, const sr_uuid_t *d, int *of,
                      const char **name)
{
        sr_uuid_t sid = kit_stage_id(run, 0);
        int n = 0;

        *of = 0;
        for (int i = 0; i < kit.n_dispatches; i++) {
                const sr_dispatch_t *x = &kit.dispatches[i];

                if (!sr_uuid_eq(&x->pipeline_run_id, run) ||
                    !sr_uuid_eq(&x->stage_run_id, &sid) ||
                    x->kind != SR_DISPATCH_COMMAND)
                        continue;
                n++;
                if (d && sr_uuid_eq(&x->device_id, d)) {
                        (*of)++;
                        if (name)
                                *name = x->device_name;
                }
        }
        return n;
}

struct want {
        const sr_uuid_t *run;
        int n;
};

static bool dispatched(kit_t *k, void *arg)
{
        struct want *w = arg;
        int of;

        (void)k;
        return dispatches(w->run, NULL, &of, NULL) >= w->n;
}

/* Every device of [0, n) dispatched exactly once in @p run's stage. */
static void each_once(const sr_uuid_t *run, unsigned n)
{
        struct want w = { run, (int)n };
        int of;

        cr_assert(kit_pump_until(&kit, dispatched, &w, 60000),
                  "dispatched %d of %u", dispatches(run, NULL, &of, NULL), n);
        kit_drain(&kit, 300); /* no more comes */
        cr_assert(eq(int, dispatches(run, NULL, &of, NULL), (int)n));
        for (unsigned i = 0; i < n; i++) {
                sr_uuid_t d = dev(i);

                dispatches(run, &d, &of, NULL);
                cr_assert(eq(int, of, 1), "device %u ran %d times", i, of);
        }
}

static void finish(const sr_uuid_t *run)
{
        sr_uuid_t sid = kit_stage_id(run, 0);
        kit_status_arg_t a = { *run, SR_ST_SUCCESS };

        for (int i = 0; i < kit.n_dispatches; i++)
                if (sr_uuid_eq(&kit.dispatches[i].pipeline_run_id, run) &&
                    sr_uuid_eq(&kit.dispatches[i].stage_run_id, &sid) &&
                    kit.dispatches[i].kind == SR_DISPATCH_COMMAND)
                        kit_result_for(&kit, &kit.dispatches[i], "SUCCESS",
                                       NULL);
        cr_assert(kit_pump_until(&kit, kit_status_is, &a, 60000));
}

/* Live keys under "P<pid>/r/<run>/" on the changelog (the last record of
 * each key not a tombstone). */
typedef struct copies {
        char prefix[SR_GROUP_COPY_KEY_LEN];
        size_t np;
        char keys[1024][SR_GROUP_COPY_KEY_LEN + 1];
        bool live[1024];
        int n;
} copies_t;

static int copy_key(const sr_inrec_t *in, void *arg)
{
        copies_t *c = arg;
        int i;

        if (in->key.len < c->np || memcmp(in->key.ptr, c->prefix, c->np) ||
            in->key.len > SR_GROUP_COPY_KEY_LEN)
                return 0;
        for (i = 0; i < c->n; i++)
                if (strlen(c->keys[i]) == in->key.len &&
                    !memcmp(c->keys[i], in->key.ptr, in->key.len))
                        break;
        if (i == c->n && c->n < 1024) {
                memcpy(c->keys[i], in->key.ptr, in->key.len);
                c->keys[c->n++][in->key.len] = '\0';
        }
        if (i < 1024)
                c->live[i] = in->value.ptr != NULL;
        return 0;
}

static int live_copies(const sr_uuid_t *run, int *seen)
{
        static copies_t c;
        int n = 0;

        memset(&c, 0, sizeof(c));
        c.np = sr_group_copy_prefix(&pid, run, c.prefix);
        kit_pump_until(&kit, NULL, NULL, 300);
        kit_read_topic(&kit, SR_TOPIC_CHANGELOG, copy_key, &c);
        for (int i = 0; i < c.n; i++)
                n += c.live[i];
        *seen = c.n;
        return n;
}

/* ---------------------------------------------------------- tests */

/* DEVICES 0..49; group A 40..119 (10 of them also DEVICES targets), group
 * B 100..159 (20 also in A), group C unknown to the directory: the stage
 * runs 0..159 once each, a DEVICES entry's name winning over a member's;
 * members added after the copy do not reach the run; RunEnded leaves no
 * copy key. */
Test(group_runs, a_stage_runs_the_union_of_its_devices_and_groups_once)
{
        sr_uuid_t g[3], run, d45 = dev(45), d500 = dev(500);
        const char *name = NULL;
        int of, seen, waited;

        for (int i = 0; i < 3; i++)
                sr_uuid_v4(&g[i]);
        sr_uuid_v4(&run);
        kit_start_worker(&kit);
        feed_group(&g[0], 40, 120);
        feed_group(&g[1], 100, 160);
        pipeline(50, g, 3);
        start_run(&run);
        each_once(&run, 160);
        dispatches(&run, &d45, &of, &name);
        cr_assert(eq(str, (char *)name, "dev-45"),
                  "a DEVICES entry wins over a member");

        /* the copy is frozen: a member added now is not in the run */
        feed_group(&g[0], 500, 501);
        kit_drain(&kit, 500);
        dispatches(&run, &d500, &of, NULL);
        cr_assert(eq(int, of, 0));
        cr_assert(eq(int, dispatches(&run, NULL, &of, NULL), 160));

        /* its end: RunEnded deletes the copies (two groups' members, three
         * progress records) */
        finish(&run);
        for (waited = 0; waited < 100; waited++) {
                if (live_copies(&run, &seen) == 0)
                        break;
                kit_drain(&kit, 100);
        }
        cr_assert(eq(int, live_copies(&run, &seen), 0));
        cr_assert(eq(int, seen, 80 + 60 + 3), "copy keys written: %d", seen);
}

/* A worker stopped right after the start (the copies' chunks in flight)
 * and one restored from the changelog alone give the same target runs. */
Test(group_runs, a_worker_restarted_mid_snapshot_gives_the_same_targets)
{
        sr_uuid_t g[2], run;

        for (int i = 0; i < 2; i++)
                sr_uuid_v4(&g[i]);
        sr_uuid_v4(&run);
        kit_start_worker(&kit);
        feed_group(&g[0], 0, 350);
        feed_group(&g[1], 300, 420);
        pipeline(0, g, 2);
        start_run(&run);
        kit_stop_worker(&kit);
        kit_start_worker(&kit);
        kit_drain(&kit, 200);
        kit_stop_worker(&kit);
        {
                char rm[128];

                snprintf(rm, sizeof(rm), "rm -rf %s/*", kit.dir);
                cr_assert(eq(int, system(rm), 0));
        }
        kit_start_worker(&kit);
        each_once(&run, 420);
        finish(&run);
}

/* A stage whose only source links a group the directory does not know:
 * the group's owner answers an empty copy (a link may come before the
 * feed), the run is created, its stage has no target (invalid, as a stage
 * without targets), and the run's end leaves no copy key. */
Test(group_runs, a_group_unknown_to_the_directory_contributes_nothing)
{
        sr_uuid_t g, run, sid;
        kit_status_arg_t a;
        int seen, waited;

        sr_uuid_v4(&g);
        sr_uuid_v4(&run);
        kit_start_worker(&kit);
        pipeline(0, &g, 1);
        start_run(&run);
        sid = kit_stage_id(&run, 0);
        a = (kit_status_arg_t){ sid, SR_ST_INVALID };
        cr_assert(kit_pump_until(&kit, kit_status_is, &a, 60000),
                  "stage status %s", sr_status_name(kit_status(&kit, &sid)));
        for (waited = 0; waited < 100; waited++) {
                if (live_copies(&run, &seen) == 0 && seen == 1)
                        break;
                kit_drain(&kit, 100);
        }
        cr_assert(eq(int, live_copies(&run, &seen), 0));
        cr_assert(eq(int, seen, 1), "the empty copy's progress record");
}

/* definition.chunk.targets 10: a group of 85 members and one of 50 reach
 * the run in GroupMembers chunks of 10 (9 and 5 of them, each group's
 * SnapshotGroup chain of steps), the fill passes the copies in FillSteps
 * of 40 keys, and the run's end deletes the 137 copy keys in
 * DropRunCopies steps of 40 (4 of them): a chain broken after its first
 * step would leave keys behind. */
Test(group_runs, a_large_groups_copy_arrives_in_chunks_and_leaves_in_steps)
{
        sr_uuid_t g[2], run;
        int seen, waited;

        kit_set(&kit, "definition.chunk.targets", "10");
        feed_chunk = 10;
        sr_uuid_v4(&g[0]);
        sr_uuid_v4(&g[1]);
        sr_uuid_v4(&run);
        kit_start_worker(&kit);
        feed_group(&g[0], 0, 85);
        feed_group(&g[1], 80, 130);
        pipeline(5, g, 2);
        start_run(&run);
        each_once(&run, 130);
        finish(&run);
        for (waited = 0; waited < 200; waited++) {
                if (live_copies(&run, &seen) == 0)
                        break;
                kit_drain(&kit, 100);
        }
        cr_assert(eq(int, live_copies(&run, &seen), 0));
        cr_assert(eq(int, seen, 85 + 50 + 2), "copy keys written: %d", seen);
}
