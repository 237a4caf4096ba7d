/* tests/integration/test_groups.c - the device-group directory through the
 * worker (docs/definitions.md section 6): group commands on the mock
 * cluster, answered with Reply version 2 (entity_type device_group),
 * recorded on the changelog under G<group>/ keys (tombstones for removed
 * members and a deleted group), deduplicated by command id, and the same
 * state met by a fresh worker that restores from the changelog. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "sr_groups.h"
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

TestSuite(groups, .init = setup, .fini = teardown, .timeout = 180.0);

#define ENT "acme"

static sr_uuid_t gid;

static sr_command_t *grp_cmd(sr_command_t *c, sr_grpcmd_kind_t kind)
{
        memset(c, 0, sizeof(*c));
        c->kind = SR_CMD_GROUP;
        sr_uuid_v4(&c->command_id);
        c->pipeline_run_id = gid;
        snprintf(c->enterprise_id, sizeof(c->enterprise_id), ENT);
        c->issued_at = kit_now_ms();
        c->u.grp = calloc(1, sizeof(*c->u.grp));
        cr_assert(c->u.grp != NULL);
        c->u.grp->kind = kind;
        c->u.grp->command_id = c->command_id;
        c->u.grp->group_id = gid;
        snprintf(c->u.grp->enterprise_id, sizeof(c->u.grp->enterprise_id),
                 ENT);
        c->u.grp->issued_at = c->issued_at;
        return c;
}

struct reply_arg {
        sr_uuid_t cmd;
        const sr_reply_t *r;
        int seen;
};

static bool reply_for(kit_t *k, void *arg)
{
        struct reply_arg *ra = arg;

        ra->r = kit_reply_of(k, &ra->cmd, &ra->seen);
        return ra->r != NULL;
}

static bool second_reply(kit_t *k, void *arg)
{
        struct reply_arg *ra = arg;

        reply_for(k, ra);
        return ra->seen >= 2;
}

/* Send @p c (kept) and wait for its reply. */
static const sr_reply_t *send_kept(const sr_command_t *c)
{
        struct reply_arg ra;

        memset(&ra, 0, sizeof(ra));
        ra.cmd = c->command_id;
        kit_send_command(&kit, c);
        cr_assert(kit_pump_until(&kit, reply_for, &ra, 30000), "no reply");
        return ra.r;
}

static const sr_reply_t *send_cmd(sr_command_t *c)
{
        const sr_reply_t *r = send_kept(c);

        sr_command_fini(c);
        return r;
}

static const sr_reply_t *put_group(const char *name)
{
        sr_command_t c;

        grp_cmd(&c, SR_GRPCMD_PUT_GROUP);
        c.u.grp->has_name = true;
        snprintf(c.u.grp->name, sizeof(c.u.grp->name), "%s", name);
        return send_cmd(&c);
}

static sr_uuid_t device(int i)
{
        sr_uuid_t u;

        sr_uuid_v5(&u, &sr_ns, "test/groups/device/%d", i);
        return u;
}

/* Members (or, removing, device ids) from .. to - 1, named "d<i><tag>". */
static void members(sr_command_t *c, sr_grpcmd_kind_t kind, int from,
                    int to, const char *tag)
{
        grp_cmd(c, kind);
        c->u.grp->n_items = (uint32_t)(to - from);
        c->u.grp->items = calloc((size_t)(to - from),
                                 sizeof(*c->u.grp->items));
        for (int i = from; i < to; i++) {
                sr_def_group_member_t *m = &c->u.grp->items[i - from];

                m->device_id = device(i);
                snprintf(m->device_name, sizeof(m->device_name), "d%d%s", i,
                         tag);
        }
}

static void assert_counts(const sr_reply_t *r, uint32_t created,
                          uint32_t added, uint32_t skipped)
{
        cr_assert(r->accepted, "%s", r->message);
        cr_assert(r->has_def);
        cr_assert(eq(int, r->def.entity_kind, SR_REPLY_KIND_DEVICE_GROUP));
        cr_assert(sr_uuid_eq(&r->def.entity_id, &gid));
        cr_assert(eq(u32, r->def.created, created));
        cr_assert(eq(u32, r->def.added, added));
        cr_assert(eq(u32, r->def.skipped, skipped));
}

/* ---------------------------------------------------------- the log */

#define LOG_MAX 64

typedef struct grp_log {
        char keys[LOG_MAX][SR_GROUP_KEY_LEN + 1];
        bool tomb[LOG_MAX];
        sr_group_record_t rec[LOG_MAX];
        int nk;
        int n_dedupe;
} grp_log_t;

static grp_log_t lg;

static int read_record(const sr_inrec_t *in, void *arg)
{
        grp_log_t *l = arg;
        sr_group_rec_kind_t kind;
        sr_uuid_t g, d;
        sr_changelog_t cl;
        sr_errctx_t ec = { 0 };
        int i;

        if (!sr_group_key_parse(in->key.ptr, in->key.len, &g, &kind, &d) ||
            !sr_uuid_eq(&g, &gid))
                return 0;
        if (kind == SR_GREC__COUNT) {
                l->n_dedupe++;
                return 0;
        }
        for (i = 0; i < l->nk; i++)
                if (strlen(l->keys[i]) == in->key.len &&
                    !memcmp(l->keys[i], in->key.ptr, in->key.len))
                        break;
        if (i == l->nk) {
                cr_assert(lt(int, l->nk, LOG_MAX));
                memcpy(l->keys[l->nk], in->key.ptr, in->key.len);
                l->keys[l->nk++][in->key.len] = '\0';
        }
        l->tomb[i] = !in->value.ptr;
        if (l->tomb[i])
                return 0;
        cr_assert(eq(int, sr_codec_decode_changelog(kit.codec, in->value, &cl,
                                                    &ec), SR_OK), "%s",
                  ec.msg);
        cr_assert(eq(int, cl.kind, SR_CL_GROUP));
        l->rec[i] = cl.u.grp;
        return 0;
}

static void read_log(void)
{
        memset(&lg, 0, sizeof(lg));
        kit_pump_until(&kit, NULL, NULL, 300); /* the relay's phases */
        kit_read_topic(&kit, SR_TOPIC_CHANGELOG, read_record, &lg);
}

static int live(sr_group_rec_kind_t kind)
{
        int n = 0;

        for (int i = 0; i < lg.nk; i++)
                n += !lg.tomb[i] && lg.rec[i].kind == kind;
        return n;
}

/* ---------------------------------------------------------- tests */

Test(groups, a_group_is_fed_by_commands_recorded_and_restored)
{
        const sr_reply_t *r;
        sr_command_t c;
        struct reply_arg ra;
        sr_uuid_t d1 = device(1);
        int gi = -1;

        sr_uuid_v4(&gid);
        kit_start_worker(&kit);
        r = put_group("canaries");
        assert_counts(r, 0, 0, 0);
        cr_assert(eq(u32, r->def.version, 1));
        cr_assert(sr_uuid_eq(&r->pipeline_run_id, &gid));

        members(&c, SR_GRPCMD_PUT_MEMBERS, 0, 3, "");
        assert_counts(send_cmd(&c), 3, 0, 0);
        /* d1 renamed, d0 and d2 the same, d3 new */
        members(&c, SR_GRPCMD_PUT_MEMBERS, 0, 4, "");
        snprintf(c.u.grp->items[1].device_name, SR_NAME_MAX, "renamed");
        r = send_kept(&c);
        assert_counts(r, 1, 1, 2);
        cr_assert(eq(u32, r->def.version, 3));
        /* the same command again: the first reply, nothing applied */
        memset(&ra, 0, sizeof(ra));
        ra.cmd = c.command_id;
        kit_send_command(&kit, &c);
        cr_assert(kit_pump_until(&kit, second_reply, &ra, 30000));
        assert_counts(ra.r, 1, 1, 2);
        sr_command_fini(&c);

        /* d3 and d9 (absent): one removed, one skipped */
        members(&c, SR_GRPCMD_REMOVE_MEMBERS, 3, 4, "");
        c.u.grp->n_items = 2;
        c.u.grp->items = realloc(c.u.grp->items, 2 * sizeof(*c.u.grp->items));
        memset(&c.u.grp->items[1], 0, sizeof(c.u.grp->items[1]));
        c.u.grp->items[1].device_id = device(9);
        assert_counts(send_cmd(&c), 0, 1, 1);

        grp_cmd(&c, SR_GRPCMD_DELETE_GROUP);
        r = send_cmd(&c);
        cr_assert(not(r->accepted));
        cr_assert(eq(str, (char *)sr_reject_name(r->reason), "in_use"));
        cr_assert(not(eq(ptr, strstr(r->message, "remove its members first"),
                         NULL)), "%s", r->message);

        /* another tenant: not_found, as an unknown group */
        grp_cmd(&c, SR_GRPCMD_PUT_GROUP);
        snprintf(c.enterprise_id, sizeof(c.enterprise_id), "other");
        snprintf(c.u.grp->enterprise_id, sizeof(c.u.grp->enterprise_id),
                 "other");
        c.u.grp->has_name = true;
        snprintf(c.u.grp->name, SR_NAME_MAX, "mine");
        r = send_cmd(&c);
        cr_assert(eq(str, (char *)sr_reject_name(r->reason), "not_found"));

        read_log();
        cr_assert(eq(int, live(SR_GREC_MEMBER), 3));
        cr_assert(eq(int, lg.n_dedupe, 6)); /* one a command, the repeat none */
        for (int i = 0; i < lg.nk; i++) {
                if (!lg.tomb[i] && lg.rec[i].kind == SR_GREC_GROUP)
                        gi = i;
                if (!lg.tomb[i] && lg.rec[i].kind == SR_GREC_MEMBER &&
                    sr_uuid_eq(&lg.rec[i].member.device_id, &d1))
                        cr_assert(eq(str, lg.rec[i].member.device_name,
                                     "renamed"));
        }
        cr_assert(ge(int, gi, 0));
        cr_assert(eq(u64, lg.rec[gi].group.n_members, 3));
        cr_assert(eq(u32, lg.rec[gi].group.a.version, 4));
        cr_assert(eq(str, lg.rec[gi].group.name, "canaries"));
        cr_assert(eq(str, lg.rec[gi].enterprise_id, ENT));

        /* a fresh worker (no snapshot) restores the partition from the
         * changelog: the same members are identical, counts as before */
        kit_stop_worker(&kit);
        {
                char rm[128];

                snprintf(rm, sizeof(rm), "rm -rf %s/*", kit.dir);
                cr_assert(eq(int, system(rm), 0));
        }
        kit_start_worker(&kit);
        members(&c, SR_GRPCMD_PUT_MEMBERS, 0, 3, "");
        snprintf(c.u.grp->items[1].device_name, SR_NAME_MAX, "renamed");
        assert_counts(send_cmd(&c), 0, 0, 3);

        /* emptied, the group can go */
        members(&c, SR_GRPCMD_REMOVE_MEMBERS, 0, 3, "");
        assert_counts(send_cmd(&c), 0, 3, 0);
        grp_cmd(&c, SR_GRPCMD_DELETE_GROUP);
        r = send_cmd(&c);
        cr_assert(r->accepted, "%s", r->message);
        cr_assert(eq(u32, r->def.version, 6));
        read_log();
        cr_assert(eq(int, live(SR_GREC_MEMBER), 0));
        cr_assert(eq(int, live(SR_GREC_GROUP), 0));
        r = put_group("again");
        cr_assert(r->accepted, "%s", r->message);
        cr_assert(eq(u32, r->def.version, 1));
}
