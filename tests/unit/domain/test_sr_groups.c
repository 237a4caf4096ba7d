/* tests/unit/domain/test_sr_groups.c - the device-group directory's rules
 * and keys (docs/definitions.md section 6, sr_groups.h): every refusal
 * with its message, every accept path with what it says to write. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_groups.h"

#define ENT "ent-1"

static sr_group_t g;
static sr_groups_out_t out;
static int64_t now;
static sr_uuid_t gid;
static int cmd_counter;

static void setup(void)
{
        memset(&g, 0, sizeof(g));
        memset(&out, 0, sizeof(out));
        now = 1700000000000LL;
        cmd_counter = 0;
        sr_uuid_v5(&gid, &sr_ns, "test/group");
}

static void teardown(void)
{
        sr_groups_out_fini(&out);
}

TestSuite(sr_groups, .init = setup, .fini = teardown, .timeout = 10.0);

/* ---------------------------------------------------------- helpers */

static sr_uuid_t dev(int i)
{
        sr_uuid_t u;

        sr_uuid_v5(&u, &sr_ns, "test/device/%d", i);
        return u;
}

static void cmd_init(sr_grpcmd_t *c, sr_grpcmd_kind_t kind)
{
        memset(c, 0, sizeof(*c));
        c->kind = kind;
        sr_uuid_v5(&c->command_id, &sr_ns, "test/command/%d", ++cmd_counter);
        snprintf(c->enterprise_id, sizeof(c->enterprise_id), "%s", ENT);
        c->group_id = gid;
        c->issued_at = now;
}

/* Apply @p c with @p found on a fresh out, one second later. */
static void apply(const sr_grpcmd_t *c,
                  const sr_def_group_member_t *const *found)
{
        sr_groups_out_fini(&out);
        now += 1000;
        cr_assert(eq(int, sr_groups_apply(&g, c, found, now, 3, &out),
                     SR_OK));
}

static void put_group(const char *name)
{
        sr_grpcmd_t c;

        cmd_init(&c, SR_GRPCMD_PUT_GROUP);
        c.has_name = name != NULL;
        if (name)
                snprintf(c.name, sizeof(c.name), "%s", name);
        apply(&c, NULL);
}

/* Items dev(first) .. dev(first + n - 1), named "d<i>". */
static void members_cmd(sr_grpcmd_t *c, sr_grpcmd_kind_t kind,
                        sr_def_group_member_t *items, int first, int n)
{
        cmd_init(c, kind);
        for (int i = 0; i < n; i++) {
                memset(&items[i], 0, sizeof(items[i]));
                items[i].device_id = dev(first + i);
                snprintf(items[i].device_name, sizeof(items[i].device_name),
                         "d%d", first + i);
        }
        c->items = items;
        c->n_items = (uint32_t)n;
}

static void refused(sr_reject_t why, const char *msg_part)
{
        cr_assert(not(out.accepted));
        cr_assert(eq(int, out.reason, why), "reason %d: %s", out.reason,
                  out.message);
        cr_assert(strstr(out.message, msg_part) != NULL, "message: %s",
                  out.message);
        cr_assert(eq(u32, out.n_put, 0));
        cr_assert(eq(u32, out.n_del, 0));
        cr_assert(not(out.group_put));
        cr_assert(not(out.group_deleted));
}

/* ---------------------------------------------------------- PutGroup */

Test(sr_groups, put_group_creates_with_version_1)
{
        put_group("  canaries ");
        cr_assert(out.accepted);
        cr_assert(out.group_put);
        cr_assert(eq(u32, out.version, 1));
        cr_assert(g.exists);
        cr_assert(eq(str, g.name, "canaries"));
        cr_assert(eq(str, g.enterprise_id, ENT));
        cr_assert(eq(u64, g.n_members, 0));
}

Test(sr_groups, put_group_without_a_name_cannot_create)
{
        put_group(NULL);
        refused(SR_REJECT_INVALID_VALUE, "needs one");
        cr_assert(not(g.exists));
}

Test(sr_groups, put_group_refuses_an_empty_or_long_name)
{
        char long_name[300];

        put_group("   ");
        refused(SR_REJECT_INVALID_VALUE, "empty");
        memset(long_name, 'x', sizeof(long_name) - 1);
        long_name[sizeof(long_name) - 1] = '\0';
        {
                sr_grpcmd_t c;

                cmd_init(&c, SR_GRPCMD_PUT_GROUP);
                c.has_name = true;
                memcpy(c.name, long_name, sizeof(c.name));
                apply(&c, NULL);
        }
        refused(SR_REJECT_INVALID_VALUE, "longer than 255");
}

Test(sr_groups, put_group_renames_and_bumps_the_version)
{
        put_group("a");
        put_group("b");
        cr_assert(out.accepted);
        cr_assert(out.group_put);
        cr_assert(eq(u32, out.version, 2));
        cr_assert(eq(str, g.name, "b"));
}

Test(sr_groups, put_group_with_the_same_name_changes_nothing)
{
        put_group("a");
        put_group("a");
        cr_assert(out.accepted);
        cr_assert(not(out.group_put));
        cr_assert(eq(u32, out.version, 1));
}

Test(sr_groups, stale_expected_version_is_refused_stale_version)
{
        sr_grpcmd_t c;

        put_group("a");
        cmd_init(&c, SR_GRPCMD_PUT_GROUP);
        c.has_name = true;
        snprintf(c.name, sizeof(c.name), "b");
        c.has_expected_version = true;
        c.expected_version = 7;
        apply(&c, NULL);
        refused(SR_REJECT_STALE_VERSION, "version 7 is not the current "
                "version 1");
        cr_assert(eq(u32, out.version, 1));
        cr_assert(eq(str, g.name, "a"));
        c.expected_version = 1;
        apply(&c, NULL);
        cr_assert(out.accepted);
        cr_assert(eq(u32, out.version, 2));
}

Test(sr_groups, create_with_an_expected_version_is_invalid)
{
        sr_grpcmd_t c;

        cmd_init(&c, SR_GRPCMD_PUT_GROUP);
        c.has_name = true;
        snprintf(c.name, sizeof(c.name), "a");
        c.has_expected_version = true;
        apply(&c, NULL);
        refused(SR_REJECT_INVALID_VALUE, "no version to expect");
}

Test(sr_groups, another_enterprise_gets_not_found_for_every_command)
{
        sr_def_group_member_t items[1];
        sr_grpcmd_t c;

        put_group("a");
        for (int k = 0; k <= SR_GRPCMD_DELETE_GROUP; k++) {
                members_cmd(&c, (sr_grpcmd_kind_t)k, items, 0, 1);
                c.has_name = true;
                snprintf(c.name, sizeof(c.name), "theirs");
                snprintf(c.enterprise_id, sizeof(c.enterprise_id), "ent-2");
                apply(&c, (const sr_def_group_member_t *const[]){ NULL });
                refused(SR_REJECT_NOT_FOUND, "not found");
        }
        cr_assert(eq(str, g.name, "a"));
        cr_assert(eq(str, g.enterprise_id, ENT));
}

/* ---------------------------------------------------------- members */

Test(sr_groups, put_members_of_an_unknown_group_is_not_found)
{
        sr_def_group_member_t items[1];
        sr_grpcmd_t c;

        members_cmd(&c, SR_GRPCMD_PUT_MEMBERS, items, 0, 1);
        apply(&c, (const sr_def_group_member_t *const[]){ NULL });
        refused(SR_REJECT_NOT_FOUND, "PutGroup first");
}

Test(sr_groups, put_members_counts_created_updated_and_identical)
{
        sr_def_group_member_t items[3], stored[2];
        const sr_def_group_member_t *found[3];
        sr_grpcmd_t c;

        put_group("a");
        members_cmd(&c, SR_GRPCMD_PUT_MEMBERS, items, 0, 3);
        found[0] = found[1] = found[2] = NULL;
        apply(&c, found);
        cr_assert(out.accepted);
        cr_assert(eq(u32, out.created, 3));
        cr_assert(eq(u32, out.n_put, 3));
        cr_assert(eq(u64, g.n_members, 3));
        cr_assert(eq(u32, out.version, 2));
        cr_assert(sr_uuid_eq(&out.put[0].group_id, &gid));

        /* d0 identical, d1 renamed, d2 gains an alias */
        stored[0] = items[0];
        stored[1] = items[1];
        snprintf(items[1].device_name, sizeof(items[1].device_name), "new");
        snprintf(items[2].device_alias, sizeof(items[2].device_alias), "al");
        found[0] = &stored[0];
        found[1] = &stored[1];
        found[2] = &out.put[2];
        {
                sr_def_group_member_t s2 = out.put[2];

                found[2] = &s2;
                apply(&c, found);
        }
        cr_assert(out.accepted);
        cr_assert(eq(u32, out.created, 0));
        cr_assert(eq(u32, out.added, 2));
        cr_assert(eq(u32, out.skipped, 1));
        cr_assert(eq(u32, out.n_put, 2));
        cr_assert(eq(str, out.put[0].device_name, "new"));
        cr_assert(eq(str, out.put[1].device_alias, "al"));
        cr_assert(eq(u64, g.n_members, 3));
        cr_assert(eq(u32, out.version, 3));
}

Test(sr_groups, put_members_all_identical_changes_no_version)
{
        sr_def_group_member_t items[1];
        sr_grpcmd_t c;

        put_group("a");
        members_cmd(&c, SR_GRPCMD_PUT_MEMBERS, items, 0, 1);
        apply(&c, (const sr_def_group_member_t *const[]){ &items[0] });
        cr_assert(out.accepted);
        cr_assert(eq(u32, out.skipped, 1));
        cr_assert(not(out.group_put));
        cr_assert(eq(u32, out.version, 1));
}

Test(sr_groups, put_members_over_the_chunk_bound_is_refused)
{
        sr_def_group_member_t items[4];
        const sr_def_group_member_t *found[4] = { 0 };
        sr_grpcmd_t c;

        put_group("a");
        members_cmd(&c, SR_GRPCMD_PUT_MEMBERS, items, 0, 4);
        apply(&c, found);
        refused(SR_REJECT_INVALID_VALUE, "at most 3 "
                "(definition.chunk.targets)");
}

Test(sr_groups, put_members_refuses_a_device_twice_and_an_empty_name)
{
        sr_def_group_member_t items[2];
        const sr_def_group_member_t *found[2] = { 0 };
        sr_grpcmd_t c;

        put_group("a");
        members_cmd(&c, SR_GRPCMD_PUT_MEMBERS, items, 0, 2);
        items[1].device_id = items[0].device_id;
        apply(&c, found);
        refused(SR_REJECT_INVALID_VALUE, "send each device once");
        members_cmd(&c, SR_GRPCMD_PUT_MEMBERS, items, 0, 1);
        items[0].device_name[0] = '\0';
        apply(&c, found);
        refused(SR_REJECT_INVALID_VALUE, "device_name empty");
        members_cmd(&c, SR_GRPCMD_PUT_MEMBERS, items, 0, 0);
        apply(&c, found);
        refused(SR_REJECT_INVALID_VALUE, "at least one");
}

Test(sr_groups, remove_members_removes_present_and_skips_absent)
{
        sr_def_group_member_t items[3];
        const sr_def_group_member_t *found[3] = { 0 };
        sr_grpcmd_t c;

        put_group("a");
        members_cmd(&c, SR_GRPCMD_PUT_MEMBERS, items, 0, 2);
        apply(&c, found);
        cr_assert(eq(u64, g.n_members, 2));
        members_cmd(&c, SR_GRPCMD_REMOVE_MEMBERS, items, 1, 2);
        found[0] = &items[0]; /* dev(1): a member; dev(2): not */
        found[1] = NULL;
        apply(&c, found);
        cr_assert(out.accepted);
        cr_assert(eq(u32, out.added, 1));
        cr_assert(eq(u32, out.skipped, 1));
        cr_assert(eq(u32, out.n_del, 1));
        {
                sr_uuid_t d1 = dev(1);

                cr_assert(sr_uuid_eq(&out.del[0], &d1));
        }
        cr_assert(eq(u64, g.n_members, 1));
        cr_assert(out.group_put);
        cr_assert(eq(u32, out.version, 3));
}

Test(sr_groups, remove_members_of_absent_devices_changes_nothing)
{
        sr_def_group_member_t items[1];
        sr_grpcmd_t c;

        put_group("a");
        members_cmd(&c, SR_GRPCMD_REMOVE_MEMBERS, items, 5, 1);
        apply(&c, (const sr_def_group_member_t *const[]){ NULL });
        cr_assert(out.accepted);
        cr_assert(eq(u32, out.skipped, 1));
        cr_assert(not(out.group_put));
        cr_assert(eq(u32, out.version, 1));
}

/* ---------------------------------------------------------- DeleteGroup */

Test(sr_groups, delete_of_group_with_members_is_refused_in_use)
{
        sr_def_group_member_t items[2];
        const sr_def_group_member_t *found[2] = { 0 };
        sr_grpcmd_t c;

        put_group("canaries");
        members_cmd(&c, SR_GRPCMD_PUT_MEMBERS, items, 0, 2);
        apply(&c, found);
        cmd_init(&c, SR_GRPCMD_DELETE_GROUP);
        apply(&c, NULL);
        refused(SR_REJECT_IN_USE, "has 2 members; remove its members "
                "first");
        cr_assert(g.exists);
}

Test(sr_groups, delete_of_an_empty_group_tombstones_it)
{
        sr_grpcmd_t c;

        put_group("a");
        cmd_init(&c, SR_GRPCMD_DELETE_GROUP);
        apply(&c, NULL);
        cr_assert(out.accepted);
        cr_assert(out.group_deleted);
        cr_assert(eq(u32, out.version, 2));
        cr_assert(not(g.exists));
        /* then the id is free: another enterprise may create it */
        cmd_init(&c, SR_GRPCMD_PUT_GROUP);
        c.has_name = true;
        snprintf(c.name, sizeof(c.name), "theirs");
        snprintf(c.enterprise_id, sizeof(c.enterprise_id), "ent-2");
        apply(&c, NULL);
        cr_assert(out.accepted);
        cr_assert(eq(str, g.enterprise_id, "ent-2"));
}

Test(sr_groups, delete_of_an_unknown_group_is_not_found)
{
        sr_grpcmd_t c;

        cmd_init(&c, SR_GRPCMD_DELETE_GROUP);
        apply(&c, NULL);
        refused(SR_REJECT_NOT_FOUND, "not found");
}

Test(sr_groups, snapshot_commands_are_not_directory_commands)
{
        sr_grpcmd_t c;

        cmd_init(&c, SR_GRPCMD_SNAPSHOT);
        cr_assert(eq(int, sr_groups_apply(&g, &c, NULL, now, 0, &out),
                     SR_ERR_INVALID));
}

/* ---------------------------------------------------------- keys */

Test(sr_groups, keys_start_with_G_and_parse_back)
{
        char key[SR_GROUP_KEY_LEN];
        sr_group_rec_kind_t kind;
        sr_uuid_t a, b, d3 = dev(3);
        size_t n;

        n = sr_group_key(&gid, key);
        cr_assert(eq(sz, n, 39));
        cr_assert(eq(chr, key[0], 'G'));
        cr_assert(sr_group_key_parse(key, n, &a, &kind, &b));
        cr_assert(eq(int, kind, SR_GREC_GROUP));
        cr_assert(sr_uuid_eq(&a, &gid));
        n = sr_group_member_key(&gid, &d3, key);
        cr_assert(eq(sz, n, SR_GROUP_KEY_LEN));
        cr_assert(sr_group_key_parse(key, n, &a, &kind, &b));
        cr_assert(eq(int, kind, SR_GREC_MEMBER));
        cr_assert(sr_uuid_eq(&b, &d3));
        cr_assert(eq(sz, sr_group_members_prefix(&gid, key), 40));
        cr_assert(eq(int, memcmp(key + 37, "/m/", 3), 0));
        n = sr_group_dedupe_key(&gid, &d3, key);
        cr_assert(sr_group_key_parse(key, n, &a, &kind, &b));
        cr_assert(eq(int, kind, SR_GREC__COUNT));
        cr_assert(not(sr_group_key_parse("P0000", 5, &a, &kind, &b)));
        cr_assert(lt(sz, (size_t)SR_GROUP_KEY_LEN, 96)); /* entity keys */
}

/* ---------------------------------------------------------- copies */

Test(sr_groups, copy_keys_hang_under_the_active_run_key)
{
        char key[SR_GROUP_COPY_KEY_LEN], run_key[SR_DEF_KEY_LEN];
        sr_uuid_t p = dev(100), run = dev(101), d3 = dev(3);
        size_t n, np;

        sr_def_key(SR_DEF_ACTIVE_RUN, &p, &run, run_key);
        np = sr_group_copy_prefix(&p, &run, key);
        cr_assert(eq(sz, np, SR_DEF_KEY_LEN + 1));
        cr_assert(eq(int, memcmp(key, run_key, SR_DEF_KEY_LEN), 0));
        cr_assert(eq(chr, key[SR_DEF_KEY_LEN], '/'));
        n = sr_group_copy_member_key(&p, &run, &gid, &d3, key);
        cr_assert(eq(sz, n, SR_GROUP_COPY_KEY_LEN));
        cr_assert(eq(int, memcmp(key + np, "m/", 2), 0));
        n = sr_group_copy_member_key(&p, &run, &gid, NULL, key);
        cr_assert(eq(sz, n, SR_GROUP_COPY_KEY_LEN - SR_UUID_STR_LEN));
        n = sr_group_copy_state_key(&p, &run, &gid, key);
        cr_assert(eq(sz, n, np + 2 + SR_UUID_STR_LEN));
        cr_assert(eq(int, memcmp(key + np, "s/", 2), 0));
}

Test(sr_groups, a_chunk_digest_covers_every_field_in_order)
{
        sr_def_group_member_t m[2];
        uint8_t a[SR_DIGEST_LEN], b[SR_DIGEST_LEN];

        memset(m, 0, sizeof(m));
        m[0].device_id = dev(1);
        m[1].device_id = dev(2);
        strcpy(m[0].device_name, "a");
        strcpy(m[1].device_name, "b");
        sr_group_chunk_digest(m, 2, a);
        sr_group_chunk_digest(m, 2, b);
        cr_assert(eq(int, memcmp(a, b, sizeof(a)), 0));
        strcpy(m[1].device_alias, "x");
        sr_group_chunk_digest(m, 2, b);
        cr_assert(not(eq(int, memcmp(a, b, sizeof(a)), 0)));
        /* "a" + "" is not "" + "a": each text ends with its NUL */
        m[1].device_alias[0] = '\0';
        strcpy(m[0].device_name, "");
        strcpy(m[0].device_alias, "a");
        sr_group_chunk_digest(m, 2, b);
        cr_assert(not(eq(int, memcmp(a, b, sizeof(a)), 0)));
}

Test(sr_groups, linked_groups_are_distinct_in_attachment_then_link_order)
{
        sr_def_target_list_t lists[3];
        sr_def_attachment_t at[3];
        sr_def_group_link_t links[4];
        sr_uuid_t s1 = dev(200), s2 = dev(201), *lg = NULL;
        sr_defs_t d;
        bool oom;
        uint32_t n;

        memset(&d, 0, sizeof(d));
        memset(lists, 0, sizeof(lists));
        memset(at, 0, sizeof(at));
        memset(links, 0, sizeof(links));
        for (int i = 0; i < 3; i++) {
                lists[i].id = dev(300 + i);
                lists[i].type = i == 2 ? SR_TL_DEVICES : SR_TL_GROUPS;
        }
        /* stage 1: GROUPS list 1 (groups 12, 10), then DEVICES list 2;
         * stage 2: GROUPS list 0 (groups 10, 11) */
        at[0] = (sr_def_attachment_t){ .stage_id = s1,
                                       .target_list_id = lists[1].id };
        at[1] = (sr_def_attachment_t){ .stage_id = s1,
                                       .target_list_id = lists[2].id };
        at[2] = (sr_def_attachment_t){ .stage_id = s2,
                                       .target_list_id = lists[0].id };
        links[0] = (sr_def_group_link_t){ .target_list_id = lists[0].id,
                                          .device_group_id = dev(10) };
        links[1] = (sr_def_group_link_t){ .target_list_id = lists[1].id,
                                          .device_group_id = dev(12) };
        links[2] = (sr_def_group_link_t){ .target_list_id = lists[0].id,
                                          .device_group_id = dev(11) };
        links[3] = (sr_def_group_link_t){ .target_list_id = lists[1].id,
                                          .device_group_id = dev(10) };
        d.exists = true;
        d.lists = lists;
        d.n_lists = 3;
        d.attachments = at;
        d.n_attachments = 3;
        d.group_links = links;
        d.n_group_links = 4;
        n = sr_defs_linked_groups(&d, NULL, &lg, &oom);
        cr_assert(eq(u32, n, 3));
        cr_assert(not(oom));
        {
                sr_uuid_t want[3] = { dev(12), dev(10), dev(11) };

                for (int i = 0; i < 3; i++)
                        cr_assert(sr_uuid_eq(&lg[i], &want[i]), "g[%d]", i);
        }
        free(lg);
        n = sr_defs_linked_groups(&d, &s2, &lg, &oom);
        cr_assert(eq(u32, n, 2));
        {
                sr_uuid_t want[2] = { dev(10), dev(11) };

                for (int i = 0; i < 2; i++)
                        cr_assert(sr_uuid_eq(&lg[i], &want[i]), "g[%d]", i);
        }
        free(lg);
        cr_assert(eq(u32, sr_defs_linked_groups(&d, &gid, &lg, &oom), 0));
        cr_assert(eq(ptr, lg, NULL));
}
