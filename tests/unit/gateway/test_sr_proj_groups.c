/* tests/unit/gateway/test_sr_proj_groups.c - the device-group directory in
 * the gateway's projection (sr_proj_groups.c): the changelog's group and
 * member records applied through sr_proj_apply() (encoded as sr-status
 * writes them), replaced and tombstoned; sr_proj_group_members() pages a
 * group's members by keyset and by offset with its count; another
 * enterprise's group and an unknown one are not found; a run's copy of a
 * group and a group command's dedupe entry are not projected.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_codec.h"
#include "sr_groups.h"
#include "sr_proj.h"
#include "kit_dir.h"

static char dir[] = "/tmp/sr_proj_groups_test.XXXXXX";
static sr_proj_t *proj;
static sr_codec_t *codec;
static int64_t next_off;
static sr_uuid_t gid;

static void setup(void)
{
        sr_errctx_t ec = { 0 };

        cr_assert(not(eq(ptr, mkdtemp(dir), NULL)));
        cr_assert(eq(int, sr_proj_open(dir, 64u << 20, &proj, &ec), SR_OK),
                  "%s", ec.msg);
        cr_assert(eq(int, sr_codec_new(&codec, &ec), SR_OK));
        next_off = 0;
        sr_uuid_v5(&gid, &sr_ns, "test-proj-groups/group");
}

static void teardown(void)
{
        sr_codec_destroy(codec);
        sr_proj_close(proj);
        kit_rm_rf(dir);
}

TestSuite(sr_proj_groups, .init = setup, .fini = teardown, .timeout = 30);

/* Device i's id: ids sort by i (byte 15), so pages are predictable. */
static sr_uuid_t dev(int i)
{
        sr_uuid_t u = { { 0 } };

        u.b[0] = 0x42;
        u.b[14] = (uint8_t)(i >> 8);
        u.b[15] = (uint8_t)i;
        return u;
}

/* Apply @p r (NULL: the tombstone of @p key) at the next offset. */
static void apply(const char *key, size_t klen, const sr_group_record_t *r)
{
        sr_proj_txn_t *txn = NULL;
        sr_errctx_t ec = { 0 };
        sr_changelog_t cl;
        sr_buf_t val = { 0 };

        if (r) {
                memset(&cl, 0, sizeof(cl));
                cl.kind = SR_CL_GROUP;
                cl.u.grp = *r;
                cr_assert(eq(int, sr_codec_encode_changelog(codec, &cl, &val,
                                                            &ec), SR_OK));
        }
        cr_assert(eq(int, sr_proj_begin(proj, &txn, &ec), SR_OK));
        cr_assert(eq(int, sr_proj_apply(txn, 0, next_off++,
                                        sr_slice(key, klen),
                                        r ? sr_buf_slice(&val) :
                                            sr_slice(NULL, 0), &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(int, sr_proj_commit(txn, &ec), SR_OK), "%s", ec.msg);
        sr_buf_free(&val);
}

static void put_group(const char *ent, uint64_t n_members)
{
        char key[SR_GROUP_KEY_LEN];
        sr_group_record_t r;

        memset(&r, 0, sizeof(r));
        r.kind = SR_GREC_GROUP;
        snprintf(r.enterprise_id, sizeof(r.enterprise_id), "%s", ent);
        r.group.exists = true;
        r.group.id = gid;
        snprintf(r.group.name, sizeof(r.group.name), "canaries");
        r.group.n_members = n_members;
        r.group.a.version = 2;
        apply(key, sr_group_key(&gid, key), &r);
}

static void put_member(int i, const char *alias)
{
        char key[SR_GROUP_KEY_LEN];
        sr_group_record_t r;
        sr_uuid_t d = dev(i);

        memset(&r, 0, sizeof(r));
        r.kind = SR_GREC_MEMBER;
        snprintf(r.enterprise_id, sizeof(r.enterprise_id), "acme");
        r.member.group_id = gid;
        r.member.device_id = d;
        snprintf(r.member.device_name, sizeof(r.member.device_name), "d%d",
                 i);
        snprintf(r.member.device_alias, sizeof(r.member.device_alias), "%s",
                 alias);
        apply(key, sr_group_member_key(&gid, &d, key), &r);
}

static void page(const char *ent, uint64_t offset, const sr_uuid_t *after,
                 uint32_t limit, sr_def_group_member_t **items, size_t *n,
                 bool *more, uint64_t *total)
{
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_proj_group_members(proj, ent, &gid, offset,
                                                after, limit, items, n,
                                                more, total, &ec),
                     SR_OK), "%s", ec.msg);
}

Test(sr_proj_groups, members_page_by_keyset_and_offset_with_the_count)
{
        sr_def_group_member_t *items;
        sr_uuid_t d1 = dev(1), d4 = dev(4);
        uint64_t total;
        bool more;
        size_t n;

        put_group("acme", 5);
        for (int i = 4; i >= 0; i--)
                put_member(i, i == 2 ? "rack 2" : "");
        page("acme", 0, NULL, 2, &items, &n, &more, &total);
        cr_assert(eq(sz, n, 2));
        cr_assert(more);
        cr_assert(eq(u64, total, 5));
        cr_assert(eq(str, items[0].device_name, "d0"));
        cr_assert(eq(str, items[1].device_name, "d1"));
        cr_assert(eq(str, items[1].device_alias, ""));
        cr_assert(sr_uuid_eq(&items[1].group_id, &gid));
        free(items);
        /* after d1: d2 (its alias), d3, d4 */
        page("acme", 0, &d1, 10, &items, &n, &more, &total);
        cr_assert(eq(sz, n, 3));
        cr_assert(not(more));
        cr_assert(eq(str, items[0].device_name, "d2"));
        cr_assert(eq(str, items[0].device_alias, "rack 2"));
        cr_assert(sr_uuid_eq(&items[2].device_id, &d4));
        free(items);
        /* by offset */
        page("acme", 3, NULL, 1, &items, &n, &more, &total);
        cr_assert(eq(sz, n, 1));
        cr_assert(more);
        cr_assert(eq(str, items[0].device_name, "d3"));
        free(items);
        /* after the last: empty */
        page("acme", 0, &d4, 10, &items, &n, &more, &total);
        cr_assert(eq(sz, n, 0));
        cr_assert(not(more));
        free(items);
}

Test(sr_proj_groups, a_member_is_replaced_and_tombstoned)
{
        char key[SR_GROUP_KEY_LEN];
        sr_def_group_member_t *items;
        sr_uuid_t d0 = dev(0), d1 = dev(1);
        uint64_t total;
        bool more;
        size_t n;

        put_group("acme", 2);
        put_member(0, "");
        put_member(1, "");
        put_member(0, "now aliased");
        apply(key, sr_group_member_key(&gid, &d1, key), NULL);
        put_group("acme", 1);
        page("acme", 0, NULL, 10, &items, &n, &more, &total);
        cr_assert(eq(sz, n, 1));
        cr_assert(eq(u64, total, 1));
        cr_assert(sr_uuid_eq(&items[0].device_id, &d0));
        cr_assert(eq(str, items[0].device_alias, "now aliased"));
        free(items);
}

Test(sr_proj_groups, unknown_foreign_or_deleted_group_is_not_found)
{
        char key[SR_GROUP_KEY_LEN];
        sr_def_group_member_t *items = NULL;
        sr_errctx_t ec = { 0 };
        uint64_t total = 9;
        bool more;
        size_t n;

        cr_assert(eq(int, sr_proj_group_members(proj, "acme", &gid, 0, NULL,
                                                10, &items, &n, &more,
                                                &total, &ec),
                     SR_ERR_NOT_FOUND));
        put_group("acme", 0);
        cr_assert(eq(int, sr_proj_group_members(proj, "globex", &gid, 0,
                                                NULL, 10, &items, &n, &more,
                                                &total, &ec),
                     SR_ERR_NOT_FOUND));
        cr_assert(eq(ptr, items, NULL));
        cr_assert(eq(u64, total, 0));
        apply(key, sr_group_key(&gid, key), NULL);
        cr_assert(eq(int, sr_proj_group_members(proj, "acme", &gid, 0, NULL,
                                                10, &items, &n, &more,
                                                &total, &ec),
                     SR_ERR_NOT_FOUND));
}

Test(sr_proj_groups, a_run_copy_and_a_dedupe_key_are_not_projected)
{
        char key[SR_GROUP_KEY_LEN], ck[200];
        sr_def_group_member_t *items;
        sr_group_record_t r;
        sr_uuid_t cmd = dev(77);
        uint64_t total;
        bool more;
        size_t n;

        put_group("acme", 0);
        /* a group command's dedupe entry's tombstone: ignored */
        apply(key, sr_group_dedupe_key(&gid, &cmd, key), NULL);
        /* a run's copy of a member: the worker's, not projected */
        memset(&r, 0, sizeof(r));
        r.kind = SR_GREC_COPY_MEMBER;
        snprintf(r.enterprise_id, sizeof(r.enterprise_id), "acme");
        r.member.group_id = gid;
        r.member.device_id = dev(3);
        snprintf(r.member.device_name, sizeof(r.member.device_name), "x");
        snprintf(ck, sizeof(ck), "P%s", "0000-copy-key");
        apply(ck, strlen(ck), &r);
        apply(ck, strlen(ck), NULL);
        page("acme", 0, NULL, 10, &items, &n, &more, &total);
        cr_assert(eq(sz, n, 0));
        free(items);
}
