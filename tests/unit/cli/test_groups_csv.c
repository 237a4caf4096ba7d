/* tests/unit/cli/test_groups_csv.c - sr-cli groups put without the
 * network (workers/cli/groups_csv.c): the members CSV, its refusals by
 * line, and the diff against the group's members. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdlib.h>
#include <string.h>

#include "groups.h"

#define D1 "00000000-0000-4000-8000-000000000001"
#define D2 "00000000-0000-4000-8000-000000000002"
#define D3 "00000000-0000-4000-8000-000000000003"

static sr_uuid_t gid;

static sr_err_t csv(const char *text, sr_def_group_member_t **m, size_t *n,
                    sr_errctx_t *ec)
{
        return sr_cli_groups_csv(text, strlen(text), "g.csv", &gid, m, n,
                                 ec);
}

Test(groups_csv, a_header_blank_lines_and_crlf_are_accepted)
{
        sr_def_group_member_t *m = NULL;
        sr_errctx_t ec = { 0 };
        size_t n = 0;

        cr_assert(eq(int, csv("device_id,device_name,device_alias\r\n"
                              D2 ",two,rack 2\r\n\n" D1 ",one\n", &m, &n,
                              &ec), SR_OK), "%s", ec.msg);
        cr_assert(eq(sz, n, 2));
        /* in device id order */
        cr_assert(eq(str, m[0].device_name, "one"));
        cr_assert(eq(str, m[0].device_alias, ""));
        cr_assert(eq(str, m[1].device_name, "two"));
        cr_assert(eq(str, m[1].device_alias, "rack 2"));
        free(m);
        cr_assert(eq(int, csv("", &m, &n, &ec), SR_OK));
        cr_assert(eq(sz, n, 0));
}

Test(groups_csv, a_bad_line_is_named_by_its_number)
{
        sr_def_group_member_t *m = NULL;
        sr_errctx_t ec = { 0 };
        size_t n = 0;

        cr_assert(eq(int, csv(D1 ",one\nnot-a-uuid,two\n", &m, &n, &ec),
                     SR_ERR_INVALID));
        cr_assert(not(eq(ptr, strstr(ec.msg, "g.csv:2: device_id"), NULL)),
                  "%s", ec.msg);
        cr_assert(eq(int, csv(D1 ",\n", &m, &n, &ec), SR_ERR_INVALID));
        cr_assert(not(eq(ptr, strstr(ec.msg, "g.csv:1: device_name"),
                         NULL)), "%s", ec.msg);
        cr_assert(eq(int, csv(D1 "\n", &m, &n, &ec), SR_ERR_INVALID));
        cr_assert(not(eq(ptr, strstr(ec.msg, "g.csv:1: expected"), NULL)));
        cr_assert(eq(int, csv(D1 ",a,b,c\n", &m, &n, &ec), SR_ERR_INVALID));
        cr_assert(not(eq(ptr, strstr(ec.msg, "more than three"), NULL)));
        cr_assert(eq(int, csv(D1 ",a\n" D2 ",b\n" D1 ",c\n", &m, &n, &ec),
                     SR_ERR_INVALID));
        cr_assert(not(eq(ptr, strstr(ec.msg, "g.csv:3: device " D1
                                     " is also on line 1"), NULL)),
                  "%s", ec.msg);
}

Test(groups_csv, the_diff_puts_new_and_changed_and_removes_the_rest)
{
        sr_def_group_member_t *want, *have;
        sr_cli_groups_diff_t d;
        sr_errctx_t ec = { 0 };
        size_t nw, nh;

        cr_assert(eq(int, csv(D1 ",one\n" D2 ",two,new alias\n", &want, &nw,
                              &ec), SR_OK));
        cr_assert(eq(int, csv(D3 ",three\n" D2 ",two\n" D1 ",one\n", &have,
                              &nh, &ec), SR_OK));
        cr_assert(eq(int, sr_cli_groups_diff(want, nw, have, nh, &d),
                     SR_OK));
        cr_assert(eq(sz, d.n_put, 1));
        cr_assert(eq(str, d.put[0].device_alias, "new alias"));
        cr_assert(eq(sz, d.n_del, 1));
        cr_assert(eq(str, d.del[0].device_name, "three"));
        sr_cli_groups_diff_fini(&d);
        free(want);
        free(have);
}
