/* tests/unit/domain/test_sr_defs.c - the rules of stored definitions
 * (docs/definitions.md sections 2-5, 7): every refusal with its message,
 * every accept path with its change records, and the resolution of a
 * pipeline into a run's skeleton. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_defs.h"

#define ENT "ent-1"

static sr_defs_t d;
static sr_defs_out_t out;
static sr_defs_opts_t opts;
static int64_t now;
static sr_uuid_t pid;
static int cmd_counter;

static void setup(void)
{
        memset(&d, 0, sizeof(d));
        memset(&out, 0, sizeof(out));
        memset(&opts, 0, sizeof(opts));
        now = 1700000000000LL;
        cmd_counter = 0;
        sr_uuid_v5(&pid, &sr_ns, "test/pipeline");
}

static void teardown(void)
{
        sr_defs_fini(&d);
        sr_defs_out_fini(&out);
}

TestSuite(sr_defs, .init = setup, .fini = teardown, .timeout = 10.0);

/* ---------------------------------------------------------- helpers */

static sr_uuid_t uid(const char *name)
{
        sr_uuid_t u;

        sr_uuid_v5(&u, &sr_ns, "test/%s", name);
        return u;
}

static void cmd_init(sr_defcmd_t *c, sr_defcmd_kind_t kind)
{
        memset(c, 0, sizeof(*c));
        c->kind = kind;
        sr_uuid_v5(&c->command_id, &sr_ns, "test/command/%d", ++cmd_counter);
        snprintf(c->enterprise_id, sizeof(c->enterprise_id), "%s", ENT);
        c->pipeline_id = pid;
        c->issued_at = now;
}

/* Apply @p c (targets @p tin) on a fresh out, one second later. */
static sr_err_t apply_t(const sr_defcmd_t *c, const sr_defs_targets_in_t *tin)
{
        sr_defs_out_fini(&out);
        now += 1000;
        return sr_defs_apply(&d, c, tin, now, &opts, &out);
}

static sr_err_t apply(const sr_defcmd_t *c)
{
        return apply_t(c, NULL);
}

static void expect_accepted(void)
{
        cr_assert(out.accepted, "refused %s: %s", sr_reject_name(out.reason),
                  out.message);
}

static void expect_refused(sr_reject_t why, const char *fragment)
{
        cr_assert(1 == !out.accepted, "accepted, expected %s",
                  sr_reject_name(why));
        cr_assert(eq(str, (char *)sr_reject_name(out.reason),
                     (char *)sr_reject_name(why)), "message: %s",
                  out.message);
        cr_assert(strstr(out.message, fragment) != NULL,
                  "\"%s\" not in \"%s\"", fragment, out.message);
        cr_assert(eq(u32, out.n_changes, 0));
        cr_assert(eq(u32, out.n_targets, 0));
}

static void expect_no_change(uint32_t version)
{
        expect_accepted();
        cr_assert(eq(u32, out.n_changes, 0));
        cr_assert(eq(u32, out.entity_version, version));
}

static void mk_pipeline(void)
{
        sr_defcmd_t c;

        cmd_init(&c, SR_DEFCMD_PUT_PIPELINE);
        c.create = true;
        c.u.pipeline.has_name = true;
        snprintf(c.u.pipeline.name, sizeof(c.u.pipeline.name), "rollout");
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
}

static void stage_cmd(sr_defcmd_t *c, const char *id, const char *name,
                      uint32_t order)
{
        cmd_init(c, SR_DEFCMD_PUT_STAGE);
        c->create = true;
        c->u.stage.stage_id = uid(id);
        if (name) {
                c->u.stage.has_name = true;
                snprintf(c->u.stage.name, sizeof(c->u.stage.name), "%s",
                         name);
        }
        c->u.stage.has_order = order != 0;
        c->u.stage.order = order;
}

/* A stage named @p id (its id uid(id)), at @p order (0: the next). */
static sr_uuid_t mk_stage(const char *id, uint32_t order)
{
        sr_defcmd_t c;

        stage_cmd(&c, id, id, order);
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
        return c.u.stage.stage_id;
}

static void list_cmd(sr_defcmd_t *c, const char *id, sr_tl_type_t type)
{
        cmd_init(c, SR_DEFCMD_PUT_TARGET_LIST);
        c->create = true;
        c->u.list.target_list_id = uid(id);
        c->u.list.has_name = c->u.list.has_type = true;
        snprintf(c->u.list.name, sizeof(c->u.list.name), "%s", id);
        c->u.list.type = type;
}

static sr_uuid_t mk_list(const char *id, sr_tl_type_t type)
{
        sr_defcmd_t c;

        list_cmd(&c, id, type);
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
        return c.u.list.target_list_id;
}

static void attach_cmd(sr_defcmd_t *c, sr_uuid_t stage, sr_uuid_t list,
                       bool attach)
{
        cmd_init(c, attach ? SR_DEFCMD_ATTACH_TARGET_LIST :
                             SR_DEFCMD_DETACH_TARGET_LIST);
        c->u.attach.stage_id = stage;
        c->u.attach.target_list_id = list;
}

static void attach(sr_uuid_t stage, sr_uuid_t list)
{
        sr_defcmd_t c;

        attach_cmd(&c, stage, list, true);
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
}

static void oplist_cmd(sr_defcmd_t *c, sr_uuid_t stage, const char *id,
                       const char *name)
{
        cmd_init(c, SR_DEFCMD_PUT_OPERATION_LIST);
        c->create = true;
        c->u.oplist.stage_id = stage;
        c->u.oplist.operation_list_id = uid(id);
        c->u.oplist.has_name = true;
        snprintf(c->u.oplist.name, sizeof(c->u.oplist.name), "%s", name);
}

static sr_uuid_t mk_oplist(sr_uuid_t stage, const char *id)
{
        sr_defcmd_t c;

        oplist_cmd(&c, stage, id, id);
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
        return c.u.oplist.operation_list_id;
}

static void op_cmd(sr_defcmd_t *c, sr_uuid_t list, const char *id,
                   const char *type, const char *args)
{
        cmd_init(c, SR_DEFCMD_PUT_OPERATION);
        c->create = true;
        c->u.op.operation_list_id = list;
        c->u.op.operation_id = uid(id);
        c->u.op.has_operation_type = true;
        snprintf(c->u.op.operation_type, sizeof(c->u.op.operation_type), "%s",
                 type);
        c->u.op.has_args = args != NULL;
        c->u.op.args_json = args ? strdup(args) : NULL;
}

static sr_uuid_t mk_op(sr_uuid_t list, const char *id, const char *type,
                       const char *args)
{
        sr_defcmd_t c;

        op_cmd(&c, list, id, type, args);
        cr_assert(eq(int, apply(&c), SR_OK));
        sr_defcmd_fini(&c);
        expect_accepted();
        return uid(id);
}

/* AddTargets of @p n devices "dev-<first+i>", none stored before. */
static sr_err_t add_targets(sr_uuid_t list, uint32_t first, uint32_t n,
                            const sr_def_target_t *const *found)
{
        const sr_def_target_t *none[64] = { 0 };
        sr_defs_targets_in_t tin = { n, found ? found : none };
        sr_defcmd_t c;
        sr_err_t err;
        char name[32];

        cr_assert(n <= 64);
        cmd_init(&c, SR_DEFCMD_ADD_TARGETS);
        c.u.add.target_list_id = list;
        c.u.add.n_items = n;
        c.u.add.items = calloc(n ? n : 1, sizeof(*c.u.add.items));
        for (uint32_t i = 0; i < n; i++) {
                snprintf(name, sizeof(name), "dev-%u", first + i);
                c.u.add.items[i].device_id = uid(name);
                snprintf(c.u.add.items[i].device_name,
                         sizeof(c.u.add.items[i].device_name), "%s", name);
                c.u.add.items[i].is_active = true;
                c.u.add.items[i].args_json = strdup("{\"a\":1}");
        }
        err = apply_t(&c, &tin);
        sr_defcmd_fini(&c);
        return err;
}

static void run_cmd(sr_defcmd_t *c, const char *run, bool start)
{
        cmd_init(c, start ? SR_DEFCMD_START_PIPELINE_RUN :
                            SR_DEFCMD_RUN_ENDED);
        c->u.run.pipeline_run_id = uid(run);
        c->u.run.status = SR_ST_SUCCESS;
}

static void start_run(const char *run)
{
        sr_defcmd_t c;

        run_cmd(&c, run, true);
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
}

static void end_run(const char *run)
{
        sr_defcmd_t c;

        run_cmd(&c, run, false);
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
}

static void expect_change(uint32_t i, sr_def_kind_t kind, sr_uuid_t id,
                          sr_def_change_t change, uint32_t version)
{
        const sr_def_change_rec_t *r;

        cr_assert(i < out.n_changes, "change %u of %u", i, out.n_changes);
        r = &out.changes[i];
        cr_assert(eq(str, (char *)sr_def_kind_name(r->kind),
                     (char *)sr_def_kind_name(kind)), "change %u", i);
        cr_assert(sr_uuid_eq(&r->id, &id), "change %u: another id", i);
        cr_assert(eq(str, (char *)sr_def_change_name(r->change),
                     (char *)sr_def_change_name(change)), "change %u", i);
        cr_assert(eq(u32, r->version, version), "change %u", i);
}

/* A byte copy of the aggregate, to prove a refusal changed nothing. */
typedef struct snap {
        sr_defs_t d;
        void *arr[7];
} snap_t;

static void *dup_bytes(const void *p, size_t n)
{
        void *q = malloc(n ? n : 1);

        if (n)
                memcpy(q, p, n);
        return q;
}

static void snap_take(snap_t *s)
{
        s->d = d;
        s->arr[0] = dup_bytes(d.stages, d.n_stages * sizeof(*d.stages));
        s->arr[1] = dup_bytes(d.lists, d.n_lists * sizeof(*d.lists));
        s->arr[2] = dup_bytes(d.attachments,
                              d.n_attachments * sizeof(*d.attachments));
        s->arr[3] = dup_bytes(d.oplists, d.n_oplists * sizeof(*d.oplists));
        s->arr[4] = dup_bytes(d.operations,
                              d.n_operations * sizeof(*d.operations));
        s->arr[5] = dup_bytes(d.group_links,
                              d.n_group_links * sizeof(*d.group_links));
        s->arr[6] = dup_bytes(d.active_runs,
                              d.n_active_runs * sizeof(*d.active_runs));
}

/* memcmp() of @p n bytes, which may be none at NULL (an empty array). */
static bool same(const void *a, const void *b, size_t n)
{
        return n == 0 || memcmp(a, b, n) == 0;
}

/* Every field of the aggregate as it was (and frees the copy). */
static void snap_check(snap_t *s)
{
        cr_assert(eq(int, d.exists, s->d.exists));
        cr_assert(same(&d.p, &s->d.p, sizeof(d.p)), "pipeline changed");
        cr_assert(eq(u32, d.n_stages, s->d.n_stages));
        cr_assert(eq(u32, d.n_lists, s->d.n_lists));
        cr_assert(eq(u32, d.n_attachments, s->d.n_attachments));
        cr_assert(eq(u32, d.n_oplists, s->d.n_oplists));
        cr_assert(eq(u32, d.n_operations, s->d.n_operations));
        cr_assert(eq(u32, d.n_group_links, s->d.n_group_links));
        cr_assert(eq(u32, d.n_active_runs, s->d.n_active_runs));
        cr_assert(same(d.stages, s->arr[0],
                       d.n_stages * sizeof(*d.stages)));
        cr_assert(same(d.lists, s->arr[1], d.n_lists * sizeof(*d.lists)));
        cr_assert(same(d.attachments, s->arr[2],
                       d.n_attachments * sizeof(*d.attachments)));
        cr_assert(same(d.oplists, s->arr[3],
                       d.n_oplists * sizeof(*d.oplists)));
        cr_assert(same(d.operations, s->arr[4],
                       d.n_operations * sizeof(*d.operations)));
        cr_assert(same(d.group_links, s->arr[5],
                       d.n_group_links * sizeof(*d.group_links)));
        cr_assert(same(d.active_runs, s->arr[6],
                       d.n_active_runs * sizeof(*d.active_runs)));
        for (int i = 0; i < 7; i++)
                free(s->arr[i]);
}

/* A pipeline with stages a (order 1) and b (order 2), a DEVICES list
 * "devs" attached to a, an operation list with one operation on a. */
static void mk_fixture(void)
{
        sr_uuid_t a, l, ol;

        mk_pipeline();
        a = mk_stage("a", 0);
        mk_stage("b", 0);
        l = mk_list("devs", SR_TL_DEVICES);
        attach(a, l);
        ol = mk_oplist(a, "ops-a");
        mk_op(ol, "op-a1", "INSTALL", "{\"package\":\"x\"}");
}

/* ---------------------------------------------------------- helpers of the header */

Test(sr_defs, names_tables_answer_each_value_and_null_out_of_range)
{
        sr_tl_type_t t;

        cr_assert(eq(str, (char *)sr_def_kind_name(SR_DEF_GROUP_LINK),
                     "device_group_link"));
        cr_assert(eq(int, sr_def_kind_letter(SR_DEF_OPERATION), 'x'));
        cr_assert(eq(int, sr_def_kind_letter(SR_DEF__COUNT), 0));
        cr_assert(eq(ptr, (void *)sr_def_kind_name(SR_DEF__COUNT), NULL));
        cr_assert(eq(str, (char *)sr_tl_type_name(SR_TL_GROUPS), "GROUPS"));
        cr_assert(eq(ptr, (void *)sr_tl_type_name(SR_TL__COUNT), NULL));
        cr_assert(sr_tl_type_parse("COLLECTIONS", true, &t));
        cr_assert(eq(int, t, SR_TL_COLLECTIONS));
        cr_assert(sr_tl_type_parse("devices", false, &t));
        cr_assert(eq(int, t, SR_TL_DEVICES));
        cr_assert(1 == !sr_tl_type_parse("devices", true, &t));
        cr_assert(1 == !sr_tl_type_parse("Groups", false, &t));
        cr_assert(eq(str, (char *)sr_defcmd_name(SR_DEFCMD_RUN_ENDED),
                     "RunEnded"));
        cr_assert(eq(ptr, (void *)sr_defcmd_name(SR_DEFCMD__COUNT), NULL));
        cr_assert(eq(str, (char *)sr_def_change_name(SR_DEF_DELETED),
                     "deleted"));
        cr_assert(eq(ptr, (void *)sr_def_change_name((sr_def_change_t)3),
                     NULL));
}

Test(sr_defs, derived_ids_are_uuid_v5_of_documented_names)
{
        sr_uuid_t s = uid("s"), l = uid("l"), g = uid("g"), got, want;
        char a[SR_UUID_STR_LEN + 1], b[SR_UUID_STR_LEN + 1];

        sr_uuid_fmt(&s, a);
        sr_uuid_fmt(&l, b);
        sr_def_attachment_id(&s, &l, &got);
        sr_uuid_v5(&want, &sr_ns, "%s/attachment/%s", a, b);
        cr_assert(sr_uuid_eq(&got, &want));
        sr_uuid_fmt(&g, a);
        sr_def_group_link_id(&l, &g, &got);
        sr_uuid_v5(&want, &sr_ns, "%s/group/%s", b, a);
        cr_assert(sr_uuid_eq(&got, &want));
        sr_def_target_id(&l, &g, &got);
        sr_uuid_v5(&want, &sr_ns, "%s/device/%s/target", b, a);
        cr_assert(sr_uuid_eq(&got, &want));
        sr_def_attachment_id(&l, &s, &want);
        sr_def_attachment_id(&s, &l, &got);
        cr_assert(1 == !sr_uuid_eq(&got, &want), "the pair's order counts");
}

Test(sr_defs, command_kind_out_of_range_is_an_invalid_argument)
{
        sr_defcmd_t c;

        cmd_init(&c, SR_DEFCMD_PUT_PIPELINE);
        c.kind = SR_DEFCMD__COUNT;
        cr_assert(eq(int, apply(&c), SR_ERR_INVALID));
}

/* ---------------------------------------------------------- pipeline */

Test(sr_defs, pipeline_create_takes_esper_defaults_and_records_one_change)
{
        sr_defcmd_t c;

        cmd_init(&c, SR_DEFCMD_PUT_PIPELINE);
        c.create = true;
        c.u.pipeline.has_name = true;
        snprintf(c.u.pipeline.name, sizeof(c.u.pipeline.name),
                 " \t rollout \n");
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
        cr_assert(d.exists);
        cr_assert(eq(str, d.p.name, "rollout"), "stored trimmed");
        cr_assert(eq(str, d.p.enterprise_id, ENT));
        cr_assert(d.p.is_active);
        cr_assert(1 == !d.p.is_default);
        cr_assert(eq(i64, d.p.timeout_seconds, 86400));
        cr_assert(eq(i64, d.p.deleted_at, 0));
        cr_assert(eq(u32, d.p.a.version, 1));
        cr_assert(eq(i64, d.p.a.created_at, now));
        cr_assert(eq(u32, out.n_changes, 1));
        expect_change(0, SR_DEF_PIPELINE, pid, SR_DEF_CREATED, 1);
        cr_assert(eq(u64, out.changes[0].seq, 1));
        cr_assert(sr_uuid_is_nil(&out.changes[0].parent_id));
        cr_assert(eq(int, out.changes[0].target_index, -1));
        cr_assert(eq(int, out.entity_kind, SR_DEF_PIPELINE));
        cr_assert(sr_uuid_eq(&out.entity_id, &pid));
        cr_assert(eq(u32, out.entity_version, 1));
}

Test(sr_defs, pipeline_create_without_name_is_refused_naming_the_field)
{
        sr_defcmd_t c;

        cmd_init(&c, SR_DEFCMD_PUT_PIPELINE);
        c.create = true;
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_INVALID_VALUE, "pipeline name: required");
        cr_assert(1 == !d.exists);
}

Test(sr_defs, pipeline_timeout_below_one_second_is_refused)
{
        sr_defcmd_t c;

        mk_pipeline();
        cmd_init(&c, SR_DEFCMD_PUT_PIPELINE);
        c.u.pipeline.has_timeout_seconds = true;
        c.u.pipeline.timeout_seconds = 0;
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_INVALID_VALUE,
                       "pipeline timeout_seconds: 0");
}

Test(sr_defs, command_of_another_enterprise_is_not_found)
{
        sr_defcmd_t c;
        snap_t s;

        mk_pipeline();
        snap_take(&s);
        cmd_init(&c, SR_DEFCMD_DELETE_PIPELINE);
        snprintf(c.enterprise_id, sizeof(c.enterprise_id), "ent-2");
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_NOT_FOUND, "not found");
        snap_check(&s);
}

Test(sr_defs, command_on_a_missing_pipeline_is_not_found_even_a_put)
{
        sr_defcmd_t c;

        cmd_init(&c, SR_DEFCMD_PUT_PIPELINE);
        c.u.pipeline.has_name = true;
        snprintf(c.u.pipeline.name, sizeof(c.u.pipeline.name), "x");
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_NOT_FOUND, "not found");
        stage_cmd(&c, "a", "a", 0);
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_NOT_FOUND, "not found");
        cr_assert(1 == !d.exists);
}

Test(sr_defs, pipeline_names_are_not_unique_and_update_is_partial)
{
        sr_defcmd_t c;

        mk_pipeline();
        cmd_init(&c, SR_DEFCMD_PUT_PIPELINE);
        c.u.pipeline.has_description = true;
        snprintf(c.u.pipeline.description, sizeof(c.u.pipeline.description),
                 "the fleet");
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
        cr_assert(eq(str, d.p.name, "rollout"), "name untouched");
        cr_assert(eq(str, d.p.description, "the fleet"));
        cr_assert(eq(u32, d.p.a.version, 2));
        cr_assert(eq(i64, d.p.a.updated_at, now));
        expect_change(0, SR_DEF_PIPELINE, pid, SR_DEF_UPDATED, 2);
}

/* ---------------------------------------------------------- names */

Test(sr_defs, name_with_a_control_character_is_refused_naming_the_field)
{
        sr_defcmd_t c;

        mk_pipeline();
        stage_cmd(&c, "a", "can\x01ary", 0);
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_INVALID_VALUE,
                       "stage name: holds a control character");
        stage_cmd(&c, "a", "c\xc2\x85", 0); /* U+0085, a C1 control */
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_INVALID_VALUE, "control character");
        cr_assert(eq(u32, d.n_stages, 0));
}

Test(sr_defs, name_empty_after_trimming_or_not_utf8_is_refused)
{
        sr_defcmd_t c;

        mk_pipeline();
        stage_cmd(&c, "a", " \t\r\n ", 0);
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_INVALID_VALUE,
                       "stage name: empty after trimming");
        stage_cmd(&c, "a", "bad\xff", 0);
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_INVALID_VALUE, "not valid UTF-8");
        list_cmd(&c, "l", SR_TL_DEVICES);
        memset(c.u.list.name, 'x', sizeof(c.u.list.name)); /* no NUL */
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_INVALID_VALUE,
                       "target list name: longer than 255 bytes");
}

Test(sr_defs, name_of_255_bytes_of_utf8_is_accepted_trimmed)
{
        sr_defcmd_t c;
        char name[SR_NAME_MAX];

        mk_pipeline();
        memset(name, 0, sizeof(name));
        name[0] = ' ';
        for (int i = 1; i + 1 < 254; i += 2) {
                name[i] = (char)0xc3; /* é */
                name[i + 1] = (char)0xa9;
        }
        stage_cmd(&c, "a", name, 0);
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
        cr_assert(eq(sz, strlen(d.stages[0].name), 252));
        cr_assert(eq(int, (unsigned char)d.stages[0].name[0], 0xc3));
}

Test(sr_defs, stage_name_taken_case_insensitively_is_refused_naming_the_holder)
{
        sr_defcmd_t c;
        char hid[SR_UUID_STR_LEN + 1], want[128];
        sr_uuid_t a;
        snap_t s;

        mk_pipeline();
        a = mk_stage("Canary", 0);
        snap_take(&s);
        stage_cmd(&c, "b", "  cAnArY ", 0);
        cr_assert(eq(int, apply(&c), SR_OK));
        sr_uuid_fmt(&a, hid);
        snprintf(want, sizeof(want), "stage \"cAnArY\": the name is taken by "
                 "stage %s; choose another name", hid);
        expect_refused(SR_REJECT_NAME_TAKEN, want);
        snap_check(&s);
}

Test(sr_defs, renaming_a_stage_to_its_own_name_in_another_case_is_accepted)
{
        sr_defcmd_t c;

        mk_pipeline();
        mk_stage("canary", 0);
        stage_cmd(&c, "canary", "CANARY", 0);
        c.create = false;
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
        cr_assert(eq(str, d.stages[0].name, "CANARY"));
        cr_assert(eq(u32, d.stages[0].a.version, 2));
}

Test(sr_defs, target_list_name_taken_is_refused_naming_the_holder)
{
        sr_defcmd_t c;
        char hid[SR_UUID_STR_LEN + 1];
        sr_uuid_t l;

        mk_pipeline();
        l = mk_list("Fleet", SR_TL_DEVICES);
        list_cmd(&c, "other", SR_TL_GROUPS);
        snprintf(c.u.list.name, sizeof(c.u.list.name), "FLEET");
        cr_assert(eq(int, apply(&c), SR_OK));
        sr_uuid_fmt(&l, hid);
        expect_refused(SR_REJECT_NAME_TAKEN, hid);
        cr_assert(eq(u32, d.n_lists, 1));
}

Test(sr_defs, operation_list_names_are_unique_per_stage_only)
{
        sr_defcmd_t c;
        sr_uuid_t a, b, ol;
        char hid[SR_UUID_STR_LEN + 1];

        mk_pipeline();
        a = mk_stage("a", 0);
        b = mk_stage("b", 0);
        ol = mk_oplist(a, "install");
        oplist_cmd(&c, b, "install-b", "INSTALL");
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
        oplist_cmd(&c, a, "install-a2", "Install");
        cr_assert(eq(int, apply(&c), SR_OK));
        sr_uuid_fmt(&ol, hid);
        expect_refused(SR_REJECT_NAME_TAKEN, hid);
}

/* ---------------------------------------------------------- create and version */

Test(sr_defs, create_retry_with_the_same_fields_is_accepted_without_change)
{
        sr_defcmd_t c;
        uint64_t seq;

        mk_pipeline();
        stage_cmd(&c, "a", "alpha", 0);
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
        seq = d.p.last_seq;
        c.u.stage.name[0] = 'a';
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_no_change(1);
        cr_assert(eq(u64, d.p.last_seq, seq));
        cr_assert(eq(u32, d.n_stages, 1));
        mk_pipeline(); /* the pipeline's own create, retried */
        cr_assert(eq(u32, out.n_changes, 0));
        cr_assert(eq(u32, d.p.a.version, 1));
}

Test(sr_defs, create_of_an_existing_id_with_other_fields_is_refused)
{
        sr_defcmd_t c;
        snap_t s;

        mk_pipeline();
        mk_stage("a", 0);
        snap_take(&s);
        stage_cmd(&c, "a", "other", 0);
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_INVALID_VALUE,
                       "already exists with other fields");
        snap_check(&s);
}

Test(sr_defs, create_with_an_expected_version_is_refused)
{
        sr_defcmd_t c;

        mk_pipeline();
        stage_cmd(&c, "a", "a", 0);
        c.has_expected_version = true;
        c.expected_version = 1;
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_INVALID_VALUE, "no version to expect");
        cr_assert(eq(u32, d.n_stages, 0));
}

Test(sr_defs, put_of_a_missing_stage_is_not_found)
{
        sr_defcmd_t c;

        mk_pipeline();
        stage_cmd(&c, "a", "a", 0);
        c.create = false;
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_NOT_FOUND, "not found in pipeline");
}

Test(sr_defs, stale_version_is_refused_reporting_the_current_version)
{
        sr_defcmd_t c;
        snap_t s;

        mk_pipeline();
        mk_stage("a", 0);
        stage_cmd(&c, "a", "renamed", 0);
        c.create = false;
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted(); /* version 2 */
        snap_take(&s);
        stage_cmd(&c, "a", "again", 0);
        c.create = false;
        c.has_expected_version = true;
        c.expected_version = 1;
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_STALE_VERSION,
                       "version 1 is not the current version 2");
        cr_assert(eq(u32, out.entity_version, 2));
        snap_check(&s);
        c.expected_version = 2;
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
        cr_assert(eq(u32, out.entity_version, 3));
        cr_assert(eq(str, d.stages[0].name, "again"));
}

Test(sr_defs, write_without_a_version_is_applied_last_write_wins)
{
        sr_defcmd_t c;

        mk_pipeline();
        mk_stage("a", 0);
        for (int i = 0; i < 3; i++) {
                stage_cmd(&c, "a", i % 2 ? "odd" : "even", 0);
                c.create = false;
                cr_assert(eq(int, apply(&c), SR_OK));
                expect_accepted();
        }
        cr_assert(eq(str, d.stages[0].name, "even"));
        cr_assert(eq(u32, d.stages[0].a.version, 4));
}

Test(sr_defs, stale_version_on_delete_pipeline_is_refused)
{
        sr_defcmd_t c;

        mk_pipeline();
        cmd_init(&c, SR_DEFCMD_DELETE_PIPELINE);
        c.has_expected_version = true;
        c.expected_version = 7;
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_STALE_VERSION, "current version 1");
        cr_assert(eq(u32, out.entity_version, 1));
        cr_assert(eq(i64, d.p.deleted_at, 0));
}

Test(sr_defs, put_that_changes_nothing_keeps_the_version)
{
        sr_defcmd_t c;

        mk_pipeline();
        mk_stage("a", 0);
        stage_cmd(&c, "a", "a", 1);
        c.create = false;
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_no_change(1);
}

/* ---------------------------------------------------------- stages */

Test(sr_defs, stage_order_omitted_is_the_largest_order_plus_one)
{
        mk_pipeline();
        mk_stage("a", 0);
        mk_stage("b", 5);
        mk_stage("c", 0);
        cr_assert(eq(u32, d.stages[0].order, 1));
        cr_assert(eq(u32, d.stages[1].order, 5));
        cr_assert(eq(u32, d.stages[2].order, 6));
        expect_change(0, SR_DEF_STAGE, uid("c"), SR_DEF_CREATED, 1);
        cr_assert(sr_uuid_eq(&out.changes[0].parent_id, &pid));
}

Test(sr_defs, stage_order_taken_is_refused_naming_the_holder)
{
        sr_defcmd_t c;
        char hid[SR_UUID_STR_LEN + 1], want[160];
        sr_uuid_t b;

        mk_pipeline();
        mk_stage("alpha", 1);
        b = mk_stage("beta", 2);
        stage_cmd(&c, "canary", "canary", 2);
        cr_assert(eq(int, apply(&c), SR_OK));
        sr_uuid_fmt(&b, hid);
        snprintf(want, sizeof(want), "stage \"canary\": order 2 is taken by "
                 "stage \"beta\" (%s); choose another order", hid);
        expect_refused(SR_REJECT_ORDER_TAKEN, want);
        cr_assert(eq(u32, d.n_stages, 2));
}

Test(sr_defs, stage_moved_to_a_taken_order_is_refused_and_swaps_go_through_a_free_one)
{
        sr_defcmd_t c;

        mk_pipeline();
        mk_stage("a", 1);
        mk_stage("b", 2);
        stage_cmd(&c, "a", NULL, 2);
        c.create = false;
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_ORDER_TAKEN, "order 2 is taken by stage "
                       "\"b\"");
        c.u.stage.order = 3;
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
        stage_cmd(&c, "b", NULL, 1);
        c.create = false;
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
        stage_cmd(&c, "a", NULL, 2);
        c.create = false;
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
        cr_assert(eq(u32, d.stages[0].order, 2));
        cr_assert(eq(u32, d.stages[1].order, 1));
}

Test(sr_defs, stage_order_zero_and_timeout_zero_are_refused)
{
        sr_defcmd_t c;

        mk_pipeline();
        cmd_init(&c, SR_DEFCMD_PUT_STAGE);
        stage_cmd(&c, "a", "a", 0);
        c.u.stage.has_order = true;
        c.u.stage.order = 0;
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_INVALID_VALUE, "stage order: 0");
        stage_cmd(&c, "a", "a", 0);
        c.u.stage.has_timeout_seconds = true;
        c.u.stage.timeout_seconds = -5;
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_INVALID_VALUE, "stage timeout_seconds: -5");
        c.u.stage.timeout_seconds = 60;
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
        cr_assert(eq(i64, d.stages[0].timeout_seconds, 60));
}

Test(sr_defs, stage_without_timeout_takes_the_stage_run_default)
{
        mk_pipeline();
        mk_stage("a", 0);
        cr_assert(eq(i64, d.stages[0].timeout_seconds, 0));
}

Test(sr_defs, stages_over_run_max_stages_are_refused_naming_the_key)
{
        sr_defcmd_t c;

        opts.max.stages = 2;
        mk_pipeline();
        mk_stage("a", 0);
        mk_stage("b", 0);
        stage_cmd(&c, "c", "c", 0);
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_INVALID_VALUE, "(run.max.stages)");
        cr_assert(eq(u32, d.n_stages, 2));
}

Test(sr_defs, delete_stage_cascades_children_first_in_a_deterministic_order)
{
        sr_defcmd_t c;
        sr_uuid_t a, l1, l2, o1, o2, at1, at2;
        uint64_t seq;

        mk_pipeline();
        a = mk_stage("a", 0);
        mk_stage("b", 0);
        l1 = mk_list("l1", SR_TL_DEVICES);
        l2 = mk_list("l2", SR_TL_GROUPS);
        attach(a, l1);
        attach(a, l2);
        o1 = mk_oplist(a, "o1");
        o2 = mk_oplist(a, "o2");
        mk_op(o1, "x1", "INSTALL", NULL);
        mk_op(o2, "x2", "REBOOT", NULL);
        mk_op(o1, "x3", "LOCK", NULL);
        seq = d.p.last_seq;
        cmd_init(&c, SR_DEFCMD_DELETE_STAGE);
        c.u.stage.stage_id = a;
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
        sr_def_attachment_id(&a, &l1, &at1);
        sr_def_attachment_id(&a, &l2, &at2);
        cr_assert(eq(u32, out.n_changes, 8));
        expect_change(0, SR_DEF_ATTACHMENT, at1, SR_DEF_DELETED, 2);
        expect_change(1, SR_DEF_ATTACHMENT, at2, SR_DEF_DELETED, 2);
        expect_change(2, SR_DEF_OPERATION, uid("x1"), SR_DEF_DELETED, 2);
        expect_change(3, SR_DEF_OPERATION, uid("x3"), SR_DEF_DELETED, 2);
        expect_change(4, SR_DEF_OPERATION_LIST, o1, SR_DEF_DELETED, 2);
        expect_change(5, SR_DEF_OPERATION, uid("x2"), SR_DEF_DELETED, 2);
        expect_change(6, SR_DEF_OPERATION_LIST, o2, SR_DEF_DELETED, 2);
        expect_change(7, SR_DEF_STAGE, a, SR_DEF_DELETED, 2);
        cr_assert(sr_uuid_eq(&out.changes[4].parent_id, &a));
        cr_assert(sr_uuid_eq(&out.changes[2].parent_id, &o1));
        for (uint32_t i = 0; i < out.n_changes; i++)
                cr_assert(eq(u64, out.changes[i].seq, seq + 1 + i));
        cr_assert(eq(u32, d.n_stages, 1));
        cr_assert(eq(u32, d.n_attachments, 0));
        cr_assert(eq(u32, d.n_oplists, 0));
        cr_assert(eq(u32, d.n_operations, 0));
        cr_assert(eq(u32, d.n_lists, 2), "the lists stay");
        mk_stage("c", 1); /* order 1 is free again */
}

Test(sr_defs, delete_stage_used_by_an_active_run_is_in_use_then_allowed_after_it_ends)
{
        sr_defcmd_t c;
        char rid[SR_UUID_STR_LEN + 1];
        sr_uuid_t a, r = uid("run-1");
        snap_t s;

        mk_pipeline();
        a = mk_stage("a", 0);
        start_run("run-1");
        snap_take(&s);
        cmd_init(&c, SR_DEFCMD_DELETE_STAGE);
        c.u.stage.stage_id = a;
        cr_assert(eq(int, apply(&c), SR_OK));
        sr_uuid_fmt(&r, rid);
        expect_refused(SR_REJECT_IN_USE, rid);
        cr_assert(strstr(out.message, "stage in use by 1 run: ") != NULL, "%s",
                  out.message);
        snap_check(&s);
        end_run("run-1");
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
        cr_assert(eq(u32, d.n_stages, 0));
}

/* ---------------------------------------------------------- pipeline delete */

Test(sr_defs, delete_pipeline_with_runs_is_in_use_naming_five_and_the_count)
{
        sr_defcmd_t c;
        char rid[SR_UUID_STR_LEN + 1], name[16];
        sr_uuid_t r;

        mk_pipeline();
        mk_stage("a", 0);
        for (int i = 0; i < 7; i++) {
                snprintf(name, sizeof(name), "run-%d", i);
                start_run(name);
        }
        cmd_init(&c, SR_DEFCMD_DELETE_PIPELINE);
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_IN_USE, "pipeline in use by 7 runs: ");
        for (int i = 0; i < 7; i++) {
                snprintf(name, sizeof(name), "run-%d", i);
                r = uid(name);
                sr_uuid_fmt(&r, rid);
                cr_assert(eq(int, strstr(out.message, rid) != NULL, i < 5),
                          "run %d in \"%s\"", i, out.message);
        }
        cr_assert(strstr(out.message, " and 2 more") != NULL, "%s",
                  out.message);
        cr_assert(strstr(out.message, "cancel them") != NULL, "%s",
                  out.message);
        cr_assert(eq(i64, d.p.deleted_at, 0));
}

Test(sr_defs, delete_pipeline_soft_deletes_it_and_keeps_the_children)
{
        sr_defcmd_t c;
        uint64_t seq;

        mk_fixture();
        seq = d.p.last_seq;
        cmd_init(&c, SR_DEFCMD_DELETE_PIPELINE);
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
        cr_assert(eq(i64, d.p.deleted_at, now));
        cr_assert(eq(u32, d.p.a.version, 2));
        cr_assert(eq(u32, out.n_changes, 1));
        expect_change(0, SR_DEF_PIPELINE, pid, SR_DEF_DELETED, 2);
        cr_assert(eq(u64, out.changes[0].seq, seq + 1));
        cr_assert(d.exists);
        cr_assert(eq(u32, d.n_stages, 2));
        cr_assert(eq(u32, d.n_operations, 1));
}

Test(sr_defs, writes_under_a_deleted_pipeline_are_refused_naming_when)
{
        sr_defcmd_t c;

        mk_pipeline();
        now = 1700000000000LL - 1000; /* deleted at 2023-11-14T22:13:20 */
        cmd_init(&c, SR_DEFCMD_DELETE_PIPELINE);
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
        stage_cmd(&c, "a", "a", 0);
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_PIPELINE_DELETED,
                       "was deleted at 2023-11-14T22:13:20.000Z");
        cmd_init(&c, SR_DEFCMD_DELETE_PIPELINE);
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_PIPELINE_DELETED, "was deleted");
        run_cmd(&c, "r", true);
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_PIPELINE_DELETED, "was deleted");
}

Test(sr_defs, run_of_a_deleted_pipeline_still_ends)
{
        sr_defcmd_t c;
        sr_def_active_run_t *runs;

        mk_pipeline();
        mk_stage("a", 0);
        start_run("run-1");
        /* As the purge of an old pipeline would find it: deleted with a
         * run that was already in progress. */
        runs = d.active_runs;
        d.p.deleted_at = now;
        run_cmd(&c, "run-1", false);
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
        cr_assert(eq(u32, d.n_active_runs, 0));
        expect_change(0, SR_DEF_ACTIVE_RUN, uid("run-1"), SR_DEF_DELETED, 2);
        (void)runs;
}

/* ---------------------------------------------------------- target lists and attachments */

Test(sr_defs, attach_needs_a_stage_and_a_list_of_this_pipeline)
{
        sr_defcmd_t c;
        sr_uuid_t a, l;

        mk_pipeline();
        a = mk_stage("a", 0);
        l = mk_list("l", SR_TL_DEVICES);
        attach_cmd(&c, uid("elsewhere"), l, true);
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_NOT_FOUND, "stage ");
        attach_cmd(&c, a, uid("elsewhere"), true);
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_NOT_FOUND, "target list ");
        cr_assert(eq(u32, d.n_attachments, 0));
}

Test(sr_defs, attaching_twice_is_a_no_op_and_detach_removes_it)
{
        sr_defcmd_t c;
        sr_uuid_t a, l, at;

        mk_pipeline();
        a = mk_stage("a", 0);
        l = mk_list("l", SR_TL_DEVICES);
        attach(a, l);
        sr_def_attachment_id(&a, &l, &at);
        expect_change(0, SR_DEF_ATTACHMENT, at, SR_DEF_CREATED, 1);
        cr_assert(sr_uuid_eq(&out.changes[0].parent_id, &a));
        cr_assert(sr_uuid_eq(&out.entity_id, &at));
        attach(a, l);
        expect_no_change(1);
        cr_assert(eq(u32, d.n_attachments, 1));
        attach_cmd(&c, a, l, false);
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
        expect_change(0, SR_DEF_ATTACHMENT, at, SR_DEF_DELETED, 2);
        cr_assert(eq(u32, d.n_attachments, 0));
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_NOT_FOUND, "is not attached to stage");
}

Test(sr_defs, collections_lists_can_be_created_but_a_run_is_not_supported)
{
        sr_defcmd_t c;
        sr_runspec_t spec;
        sr_reject_t why;
        char msg[SR_NAME_MAX], lid[SR_UUID_STR_LEN + 1];
        sr_uuid_t a, l;

        mk_pipeline();
        a = mk_stage("a", 0);
        l = mk_list("coll", SR_TL_COLLECTIONS);
        attach(a, l);
        sr_uuid_fmt(&l, lid);
        run_cmd(&c, "r", true);
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_NOT_SUPPORTED, lid);
        cr_assert(strstr(out.message, "\"coll\"") != NULL);
        cr_assert(eq(u32, d.n_active_runs, 0));
        cr_assert(1 == !sr_defs_resolve(&d, &spec, &why, msg, sizeof(msg)));
        cr_assert(eq(int, why, SR_REJECT_NOT_SUPPORTED));
        cr_assert(strstr(msg, lid) != NULL);
}

Test(sr_defs, target_list_type_changes_only_while_empty)
{
        sr_defcmd_t c;
        sr_uuid_t l;

        mk_pipeline();
        l = mk_list("l", SR_TL_DEVICES);
        cr_assert(eq(int, add_targets(l, 0, 1, NULL), SR_OK));
        expect_accepted();
        list_cmd(&c, "l", SR_TL_GROUPS);
        c.create = false;
        c.u.list.has_name = false;
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_INVALID_VALUE, "holds 1 targets");
        list_cmd(&c, "l", (sr_tl_type_t)7);
        c.create = false;
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_INVALID_VALUE, "target_list_type");
}

Test(sr_defs, delete_target_list_holding_targets_is_in_use)
{
        sr_defcmd_t c;
        sr_uuid_t l;

        mk_pipeline();
        l = mk_list("l", SR_TL_DEVICES);
        cr_assert(eq(int, add_targets(l, 0, 2, NULL), SR_OK));
        cmd_init(&c, SR_DEFCMD_DELETE_TARGET_LIST);
        c.u.list.target_list_id = l;
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_IN_USE, "remove its targets first");
        cr_assert(eq(u32, d.n_lists, 1));
}

Test(sr_defs, delete_target_list_deletes_its_attachments_and_group_links)
{
        sr_defcmd_t c;
        sr_uuid_t a, b, l, g = uid("group"), at1, at2, gl;

        mk_pipeline();
        a = mk_stage("a", 0);
        b = mk_stage("b", 0);
        l = mk_list("l", SR_TL_GROUPS);
        attach(a, l);
        attach(b, l);
        cmd_init(&c, SR_DEFCMD_LINK_DEVICE_GROUP);
        c.u.group.target_list_id = l;
        c.u.group.device_group_id = g;
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
        cmd_init(&c, SR_DEFCMD_DELETE_TARGET_LIST);
        c.u.list.target_list_id = l;
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
        sr_def_attachment_id(&a, &l, &at1);
        sr_def_attachment_id(&b, &l, &at2);
        sr_def_group_link_id(&l, &g, &gl);
        cr_assert(eq(u32, out.n_changes, 4));
        expect_change(0, SR_DEF_ATTACHMENT, at1, SR_DEF_DELETED, 2);
        expect_change(1, SR_DEF_ATTACHMENT, at2, SR_DEF_DELETED, 2);
        expect_change(2, SR_DEF_GROUP_LINK, gl, SR_DEF_DELETED, 2);
        expect_change(3, SR_DEF_TARGET_LIST, l, SR_DEF_DELETED, 3);
        cr_assert(eq(u32, d.n_lists + d.n_attachments + d.n_group_links, 0));
}

/* ---------------------------------------------------------- targets */

Test(sr_defs, add_targets_creates_each_target_and_counts_it_in_the_list)
{
        const sr_def_target_t *t;
        sr_uuid_t l, dev = uid("dev-1"), tid;
        uint64_t seq;

        mk_pipeline();
        l = mk_list("l", SR_TL_DEVICES);
        seq = d.p.last_seq;
        cr_assert(eq(int, add_targets(l, 0, 3, NULL), SR_OK));
        expect_accepted();
        cr_assert(eq(u32, out.created, 3));
        cr_assert(eq(u32, out.added, 3));
        cr_assert(eq(u32, out.skipped, 0));
        cr_assert(eq(u32, out.n_targets, 3));
        cr_assert(eq(u32, out.n_changes, 4));
        t = &out.targets[1];
        sr_def_target_id(&l, &dev, &tid);
        cr_assert(sr_uuid_eq(&t->id, &tid));
        cr_assert(sr_uuid_eq(&t->device_id, &dev));
        cr_assert(sr_uuid_eq(&t->target_list_id, &l));
        cr_assert(eq(str, (char *)t->device_name, "dev-1"));
        cr_assert(eq(str, t->args_json, "{\"a\":1}"));
        cr_assert(eq(u32, t->a.version, 1));
        for (uint32_t i = 0; i < 3; i++) {
                expect_change(i, SR_DEF_TARGET, out.targets[i].id,
                              SR_DEF_CREATED, 1);
                cr_assert(eq(int, out.changes[i].target_index, (int)i));
                cr_assert(sr_uuid_eq(&out.changes[i].parent_id, &l));
        }
        expect_change(3, SR_DEF_TARGET_LIST, l, SR_DEF_UPDATED, 2);
        cr_assert(eq(u64, out.changes[3].seq, seq + 4));
        cr_assert(eq(u32, d.lists[0].n_targets, 3));
        cr_assert(eq(u32, out.entity_version, 2));
}

Test(sr_defs, add_targets_skips_devices_already_in_the_list)
{
        sr_def_target_t stored;
        const sr_def_target_t *found[2];
        sr_uuid_t l;

        mk_pipeline();
        l = mk_list("l", SR_TL_DEVICES);
        memset(&stored, 0, sizeof(stored));
        found[0] = &stored; /* dev-0 is in */
        found[1] = NULL;
        cr_assert(eq(int, add_targets(l, 0, 2, found), SR_OK));
        expect_accepted();
        cr_assert(eq(u32, out.created, 1));
        cr_assert(eq(u32, out.skipped, 1));
        cr_assert(eq(u32, out.n_targets, 1));
        cr_assert(eq(str, (char *)out.targets[0].device_name, "dev-1"));
        found[1] = &stored;
        cr_assert(eq(int, add_targets(l, 0, 2, found), SR_OK));
        expect_no_change(2);
        cr_assert(eq(u32, out.skipped, 2));
        cr_assert(eq(u32, d.lists[0].n_targets, 1));
}

Test(sr_defs, add_targets_with_a_device_twice_is_refused_naming_the_index)
{
        const sr_def_target_t *found[3] = { 0 };
        sr_defs_targets_in_t tin = { 3, found };
        sr_defcmd_t c;
        sr_uuid_t l;

        mk_pipeline();
        l = mk_list("l", SR_TL_DEVICES);
        cmd_init(&c, SR_DEFCMD_ADD_TARGETS);
        c.u.add.target_list_id = l;
        c.u.add.n_items = 3;
        c.u.add.items = calloc(3, sizeof(*c.u.add.items));
        c.u.add.items[0].device_id = uid("x");
        c.u.add.items[1].device_id = uid("y");
        c.u.add.items[2].device_id = uid("x");
        cr_assert(eq(int, apply_t(&c, &tin), SR_OK));
        sr_defcmd_fini(&c);
        expect_refused(SR_REJECT_INVALID_VALUE, "items[2].device_id");
        cr_assert(strstr(out.message, "also items[0]") != NULL);
        cr_assert(eq(u32, d.lists[0].n_targets, 0));
}

Test(sr_defs, add_targets_over_the_chunk_size_is_refused_naming_the_key)
{
        sr_uuid_t l;

        opts.chunk_targets = 2;
        mk_pipeline();
        l = mk_list("l", SR_TL_DEVICES);
        cr_assert(eq(int, add_targets(l, 0, 3, NULL), SR_OK));
        expect_refused(SR_REJECT_INVALID_VALUE,
                       "(definition.chunk.targets)");
}

Test(sr_defs, targets_only_go_in_devices_lists_and_groups_only_in_groups_lists)
{
        sr_defcmd_t c;
        sr_uuid_t g, dv;

        mk_pipeline();
        g = mk_list("g", SR_TL_GROUPS);
        dv = mk_list("d", SR_TL_DEVICES);
        cr_assert(eq(int, add_targets(g, 0, 1, NULL), SR_OK));
        expect_refused(SR_REJECT_WRONG_TYPE, "is a GROUPS list");
        cmd_init(&c, SR_DEFCMD_LINK_DEVICE_GROUP);
        c.u.group.target_list_id = dv;
        c.u.group.device_group_id = uid("grp");
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_WRONG_TYPE, "is a DEVICES list");
        cr_assert(eq(u32, d.n_group_links, 0));
}

Test(sr_defs, add_targets_pushing_an_attached_stage_over_its_limit_is_refused)
{
        sr_uuid_t a, l1, l2;
        snap_t s;

        opts.max.targets = 4;
        mk_pipeline();
        a = mk_stage("edge", 0);
        l1 = mk_list("l1", SR_TL_DEVICES);
        l2 = mk_list("l2", SR_TL_DEVICES);
        cr_assert(eq(int, add_targets(l1, 0, 3, NULL), SR_OK));
        attach(a, l1);
        attach(a, l2);
        snap_take(&s);
        cr_assert(eq(int, add_targets(l2, 10, 2, NULL), SR_OK));
        expect_refused(SR_REJECT_INVALID_VALUE, "stage \"edge\"");
        cr_assert(strstr(out.message, "would have 5 targets, at most 4 per "
                         "stage (stage.max.targets)") != NULL, "%s",
                  out.message);
        snap_check(&s);
        cr_assert(eq(int, add_targets(l2, 10, 1, NULL), SR_OK));
        expect_accepted();
}

Test(sr_defs, attaching_a_list_over_the_stage_target_limit_is_refused)
{
        sr_defcmd_t c;
        sr_uuid_t a, l;

        opts.max.targets = 2;
        mk_pipeline();
        a = mk_stage("edge", 0);
        l = mk_list("l", SR_TL_DEVICES);
        cr_assert(eq(int, add_targets(l, 0, 3, NULL), SR_OK));
        expect_accepted();
        attach_cmd(&c, a, l, true);
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_INVALID_VALUE, "(stage.max.targets)");
}

Test(sr_defs, target_writes_while_a_run_fills_are_refused_run_starting)
{
        sr_def_target_t stored;
        const sr_def_target_t *found[1] = { &stored };
        sr_defs_targets_in_t tin = { 1, found };
        sr_defcmd_t c;
        sr_uuid_t a, l, dev = uid("dev-0");

        mk_pipeline();
        a = mk_stage("a", 0);
        l = mk_list("l", SR_TL_DEVICES);
        attach(a, l);
        cr_assert(eq(int, add_targets(l, 0, 1, NULL), SR_OK));
        start_run("r");
        cr_assert(d.active_runs[0].filling);
        cr_assert(eq(int, add_targets(l, 5, 1, NULL), SR_OK));
        expect_refused(SR_REJECT_RUN_STARTING, "retry");
        memset(&stored, 0, sizeof(stored));
        sr_def_target_id(&l, &dev, &stored.id);
        stored.target_list_id = l;
        stored.a.version = 1;
        cmd_init(&c, SR_DEFCMD_REMOVE_TARGET);
        c.u.target.target_list_id = l;
        c.u.target.target_id = stored.id;
        cr_assert(eq(int, apply_t(&c, &tin), SR_OK));
        expect_refused(SR_REJECT_RUN_STARTING, "retry");
        c.kind = SR_DEFCMD_UPDATE_TARGET;
        c.u.target.has_is_active = true;
        cr_assert(eq(int, apply_t(&c, &tin), SR_OK));
        expect_refused(SR_REJECT_RUN_STARTING, "retry");
        run_cmd(&c, "r2", true);
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_RUN_STARTING, "retry");
}

Test(sr_defs, update_target_changes_its_fields_and_version)
{
        sr_def_target_t stored;
        const sr_def_target_t *found[1] = { &stored };
        sr_defs_targets_in_t tin = { 1, found };
        sr_defcmd_t c;
        sr_uuid_t l, dev = uid("dev-0");

        mk_pipeline();
        l = mk_list("l", SR_TL_DEVICES);
        memset(&stored, 0, sizeof(stored));
        sr_def_target_id(&l, &dev, &stored.id);
        stored.target_list_id = l;
        stored.device_id = dev;
        stored.is_active = true;
        stored.a.version = 3;
        stored.args_json = "{\"k\":2}";
        snprintf(stored.device_name, sizeof(stored.device_name), "old");
        cmd_init(&c, SR_DEFCMD_UPDATE_TARGET);
        c.u.target.target_list_id = l;
        c.u.target.target_id = stored.id;
        c.u.target.has_device_name = c.u.target.has_is_active = true;
        snprintf(c.u.target.device_name, sizeof(c.u.target.device_name),
                 "new");
        c.u.target.is_active = false;
        cr_assert(eq(int, apply_t(&c, &tin), SR_OK));
        expect_accepted();
        cr_assert(eq(u32, out.n_targets, 1));
        cr_assert(eq(str, (char *)out.targets[0].device_name, "new"));
        cr_assert(1 == !out.targets[0].is_active);
        cr_assert(eq(str, out.targets[0].args_json, "{\"k\":2}"));
        cr_assert(out.targets[0].args_json != stored.args_json, "a copy");
        cr_assert(eq(u32, out.targets[0].a.version, 4));
        cr_assert(eq(u32, out.n_changes, 1));
        expect_change(0, SR_DEF_TARGET, stored.id, SR_DEF_UPDATED, 4);
        cr_assert(eq(int, out.changes[0].target_index, 0));
        snprintf(stored.device_name, sizeof(stored.device_name), "new");
        stored.is_active = false;
        cr_assert(eq(int, apply_t(&c, &tin), SR_OK));
        expect_no_change(3);
        cr_assert(eq(u32, out.n_targets, 0));
}

Test(sr_defs, update_or_remove_of_a_target_not_read_is_not_found)
{
        const sr_def_target_t *found[1] = { NULL };
        sr_defs_targets_in_t tin = { 1, found };
        sr_defcmd_t c;
        sr_uuid_t l;

        mk_pipeline();
        l = mk_list("l", SR_TL_DEVICES);
        cmd_init(&c, SR_DEFCMD_REMOVE_TARGET);
        c.u.target.target_list_id = l;
        c.u.target.target_id = uid("t");
        cr_assert(eq(int, apply_t(&c, &tin), SR_OK));
        expect_refused(SR_REJECT_NOT_FOUND, "not found in target list");
        c.kind = SR_DEFCMD_UPDATE_TARGET;
        cr_assert(eq(int, apply_t(&c, &tin), SR_OK));
        expect_refused(SR_REJECT_NOT_FOUND, "not found in target list");
}

Test(sr_defs, remove_target_records_its_tombstone_and_uncounts_it)
{
        sr_def_target_t stored;
        const sr_def_target_t *found[1] = { &stored };
        sr_defs_targets_in_t tin = { 1, found };
        sr_defcmd_t c;
        sr_uuid_t l, dev = uid("dev-0");

        mk_pipeline();
        l = mk_list("l", SR_TL_DEVICES);
        cr_assert(eq(int, add_targets(l, 0, 2, NULL), SR_OK));
        memset(&stored, 0, sizeof(stored));
        sr_def_target_id(&l, &dev, &stored.id);
        stored.target_list_id = l;
        stored.a.version = 1;
        cmd_init(&c, SR_DEFCMD_REMOVE_TARGET);
        c.u.target.target_list_id = l;
        c.u.target.target_id = stored.id;
        c.has_expected_version = true;
        c.expected_version = 2;
        cr_assert(eq(int, apply_t(&c, &tin), SR_OK));
        expect_refused(SR_REJECT_STALE_VERSION, "current version 1");
        c.expected_version = 1;
        cr_assert(eq(int, apply_t(&c, &tin), SR_OK));
        expect_accepted();
        cr_assert(eq(u32, out.n_changes, 2));
        expect_change(0, SR_DEF_TARGET, stored.id, SR_DEF_DELETED, 2);
        expect_change(1, SR_DEF_TARGET_LIST, l, SR_DEF_UPDATED, 3);
        cr_assert(eq(u32, d.lists[0].n_targets, 1));
}

Test(sr_defs, group_links_link_once_and_unlink_what_is_linked)
{
        sr_defcmd_t c;
        sr_uuid_t l, g = uid("grp"), gl;

        mk_pipeline();
        l = mk_list("l", SR_TL_GROUPS);
        cmd_init(&c, SR_DEFCMD_LINK_DEVICE_GROUP);
        c.u.group.target_list_id = l;
        c.u.group.device_group_id = g;
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
        sr_def_group_link_id(&l, &g, &gl);
        cr_assert(eq(u32, out.n_changes, 2));
        expect_change(0, SR_DEF_GROUP_LINK, gl, SR_DEF_CREATED, 1);
        expect_change(1, SR_DEF_TARGET_LIST, l, SR_DEF_UPDATED, 2);
        cr_assert(eq(u32, d.lists[0].n_groups, 1));
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_no_change(1);
        c.kind = SR_DEFCMD_UNLINK_DEVICE_GROUP;
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
        expect_change(0, SR_DEF_GROUP_LINK, gl, SR_DEF_DELETED, 2);
        cr_assert(eq(u32, d.lists[0].n_groups, 0));
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_NOT_FOUND, "is not linked");
}

/* Phase C: a stage whose GROUPS list links a device group starts (the
 * worker copies the group into the run before its CreateRun), its stage
 * open; it was refused not_supported before. */
Test(sr_defs, a_start_with_a_linked_group_is_accepted_and_its_stage_open)
{
        sr_runspec_t spec;
        sr_reject_t why;
        char msg[SR_NAME_MAX];
        sr_defcmd_t c;
        sr_uuid_t st, l, r1;

        mk_pipeline();
        st = mk_stage("edge", 0);
        l = mk_list("l", SR_TL_GROUPS);
        cmd_init(&c, SR_DEFCMD_LINK_DEVICE_GROUP);
        c.u.group.target_list_id = l;
        c.u.group.device_group_id = uid("grp");
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
        attach(st, l);
        cr_assert(sr_defs_resolve(&d, &spec, &why, msg, sizeof(msg)), "%s",
                  msg);
        cr_assert(eq(u32, spec.n_stages, 1));
        cr_assert(spec.stages[0].append_targets);
        sr_runspec_fini(&spec);
        start_run("r1");
        r1 = uid("r1");
        cr_assert(not(eq(ptr, (void *)sr_defs_active_run(&d, &r1), NULL)));
        cr_assert(sr_defs_active_run(&d, &r1)->filling);
}

/* ---------------------------------------------------------- operations */

Test(sr_defs, operation_type_is_an_open_set_of_upper_case_words)
{
        sr_defcmd_t c;
        sr_uuid_t a, ol;

        mk_pipeline();
        a = mk_stage("a", 0);
        ol = mk_oplist(a, "o");
        mk_op(ol, "x1", "FUTURE_COMMAND_2", NULL);
        op_cmd(&c, ol, "x2", "install", NULL);
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_INVALID_VALUE, "operation_type: "
                       "\"install\"");
        snprintf(c.u.op.operation_type, sizeof(c.u.op.operation_type), "A-B");
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_INVALID_VALUE, "operation_type");
        c.u.op.operation_type[0] = '\0';
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_INVALID_VALUE, "operation_type");
        cr_assert(eq(u32, d.n_operations, 1));
}

Test(sr_defs, operation_args_empty_text_is_refused_and_null_is_kept)
{
        sr_defcmd_t c;
        sr_uuid_t a, ol;

        mk_pipeline();
        a = mk_stage("a", 0);
        ol = mk_oplist(a, "o");
        op_cmd(&c, ol, "x1", "INSTALL", "");
        cr_assert(eq(int, apply(&c), SR_OK));
        sr_defcmd_fini(&c);
        expect_refused(SR_REJECT_INVALID_VALUE, "args: empty");
        mk_op(ol, "x1", "INSTALL", NULL);
        cr_assert(eq(ptr, d.operations[0].args_json, NULL));
        expect_change(0, SR_DEF_OPERATION, uid("x1"), SR_DEF_CREATED, 1);
        cr_assert(sr_uuid_eq(&out.changes[0].parent_id, &ol));
}

Test(sr_defs, operation_update_replaces_args_and_stale_is_refused)
{
        sr_defcmd_t c;
        sr_uuid_t a, ol;

        mk_pipeline();
        a = mk_stage("a", 0);
        ol = mk_oplist(a, "o");
        mk_op(ol, "x1", "INSTALL", "{\"v\":1}");
        op_cmd(&c, ol, "x1", "INSTALL", "{\"v\":2}");
        c.create = false;
        c.has_expected_version = true;
        c.expected_version = 1;
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
        cr_assert(eq(str, d.operations[0].args_json, "{\"v\":2}"));
        cr_assert(eq(u32, d.operations[0].a.version, 2));
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_STALE_VERSION, "current version 2");
        sr_defcmd_fini(&c);
}

Test(sr_defs, operations_over_a_stage_limit_count_every_list_of_the_stage)
{
        sr_defcmd_t c;
        sr_uuid_t a, o1, o2;

        opts.max.ops = 2;
        mk_pipeline();
        a = mk_stage("edge", 0);
        o1 = mk_oplist(a, "o1");
        o2 = mk_oplist(a, "o2");
        mk_op(o1, "x1", "LOCK", NULL);
        mk_op(o2, "x2", "LOCK", NULL);
        op_cmd(&c, o2, "x3", "LOCK", NULL);
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_INVALID_VALUE, "stage \"edge\"");
        cr_assert(strstr(out.message, "3 operations, at most 2 per stage "
                         "(stage.max.operations)") != NULL, "%s",
                  out.message);
}

Test(sr_defs, children_named_under_another_parent_are_not_found)
{
        sr_defcmd_t c;
        sr_uuid_t a, b, o1, o2;

        mk_pipeline();
        a = mk_stage("a", 0);
        b = mk_stage("b", 0);
        o1 = mk_oplist(a, "o1");
        o2 = mk_oplist(b, "o2");
        mk_op(o1, "x1", "LOCK", NULL);
        oplist_cmd(&c, b, "o1", "renamed");
        c.create = false;
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_NOT_FOUND, "operation list");
        cmd_init(&c, SR_DEFCMD_DELETE_OPERATION);
        c.u.op.operation_list_id = o2;
        c.u.op.operation_id = uid("x1");
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_NOT_FOUND, "operation ");
        oplist_cmd(&c, uid("nowhere"), "o3", "o3");
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_NOT_FOUND, "stage ");
        op_cmd(&c, uid("nowhere"), "x9", "LOCK", NULL);
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_refused(SR_REJECT_NOT_FOUND, "operation list ");
        cr_assert(eq(u32, d.n_operations, 1));
}

Test(sr_defs, delete_operation_list_deletes_its_operations_first)
{
        sr_defcmd_t c;
        sr_uuid_t a, o1;

        mk_pipeline();
        a = mk_stage("a", 0);
        o1 = mk_oplist(a, "o1");
        mk_op(o1, "x1", "LOCK", NULL);
        mk_op(o1, "x2", "LOCK", "{}");
        cmd_init(&c, SR_DEFCMD_DELETE_OPERATION_LIST);
        c.u.oplist.stage_id = a;
        c.u.oplist.operation_list_id = o1;
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
        cr_assert(eq(u32, out.n_changes, 3));
        expect_change(0, SR_DEF_OPERATION, uid("x1"), SR_DEF_DELETED, 2);
        expect_change(1, SR_DEF_OPERATION, uid("x2"), SR_DEF_DELETED, 2);
        expect_change(2, SR_DEF_OPERATION_LIST, o1, SR_DEF_DELETED, 2);
        cr_assert(eq(u32, d.n_operations + d.n_oplists, 0));
}

/* ---------------------------------------------------------- runs */

Test(sr_defs, start_run_counts_it_pins_the_stages_in_order_and_fills)
{
        sr_uuid_t a, b, l;
        const sr_def_active_run_t *r;
        uint64_t seq;

        mk_pipeline();
        a = mk_stage("a", 2);
        b = mk_stage("b", 1);
        l = mk_list("l", SR_TL_DEVICES);
        attach(a, l);
        seq = d.p.last_seq;
        start_run("run-1");
        cr_assert(eq(u64, d.p.runs_started, 1));
        cr_assert(eq(u32, d.p.a.version, 1), "a counter, not a field");
        cr_assert(eq(u32, d.n_active_runs, 1));
        r = &d.active_runs[0];
        cr_assert(r->filling);
        cr_assert(eq(u64, r->definition_seq, seq));
        cr_assert(eq(u32, r->n_stage_ids, 2));
        cr_assert(sr_uuid_eq(&r->stage_ids[0], &b));
        cr_assert(sr_uuid_eq(&r->stage_ids[1], &a));
        cr_assert(eq(u32, out.n_changes, 1));
        expect_change(0, SR_DEF_ACTIVE_RUN, uid("run-1"), SR_DEF_CREATED, 1);
        cr_assert(sr_uuid_eq(&out.changes[0].parent_id, &pid));
        start_run("run-1"); /* a retry */
        expect_no_change(1);
        cr_assert(eq(u64, d.p.runs_started, 1));
}

Test(sr_defs, start_run_without_target_sources_does_not_fill)
{
        mk_pipeline();
        mk_stage("a", 0);
        start_run("r1");
        cr_assert(1 == !d.active_runs[0].filling);
        start_run("r2");
        cr_assert(eq(u64, d.p.runs_started, 2));
}

Test(sr_defs, run_ended_of_an_unknown_run_is_a_no_op)
{
        mk_pipeline();
        end_run("ghost");
        expect_no_change(0);
}

Test(sr_defs, seq_is_gapless_across_commands_and_refusals_take_none)
{
        sr_defcmd_t c;
        uint64_t next = 1;
        sr_uuid_t a, l;

        mk_pipeline();
        cr_assert(eq(u64, out.changes[0].seq, next++));
        a = mk_stage("a", 0);
        cr_assert(eq(u64, out.changes[0].seq, next++));
        stage_cmd(&c, "b", "A", 0);
        cr_assert(eq(int, apply(&c), SR_OK));
        cr_assert(1 == !out.accepted);
        l = mk_list("l", SR_TL_DEVICES);
        cr_assert(eq(u64, out.changes[0].seq, next++));
        attach(a, l);
        cr_assert(eq(u64, out.changes[0].seq, next++));
        cr_assert(eq(int, add_targets(l, 0, 2, NULL), SR_OK));
        for (uint32_t i = 0; i < out.n_changes; i++)
                cr_assert(eq(u64, out.changes[i].seq, next++));
        start_run("r");
        cr_assert(eq(u64, out.changes[0].seq, next++));
        cr_assert(eq(u64, d.p.last_seq, next - 1));
}

/* ---------------------------------------------------------- resolve */

Test(sr_defs, resolve_orders_stages_by_order_and_operations_by_list_then_creation)
{
        sr_runspec_t spec;
        sr_reject_t why = SR_REJECT_NONE;
        char msg[SR_NAME_MAX] = "";
        sr_uuid_t a, b, c, l, o1, o2;
        sr_defcmd_t cmd;

        mk_pipeline();
        a = mk_stage("a", 3);
        b = mk_stage("b", 1);
        c = mk_stage("c", 2);
        cmd_init(&cmd, SR_DEFCMD_PUT_STAGE);
        cmd.u.stage.stage_id = b;
        cmd.u.stage.has_description = cmd.u.stage.has_timeout_seconds = true;
        snprintf(cmd.u.stage.description, sizeof(cmd.u.stage.description),
                 "first");
        cmd.u.stage.timeout_seconds = 600;
        cr_assert(eq(int, apply(&cmd), SR_OK));
        expect_accepted();
        l = mk_list("l", SR_TL_GROUPS);
        attach(b, l);
        o1 = mk_oplist(b, "o1");
        o2 = mk_oplist(b, "o2");
        mk_op(o2, "x1", "REBOOT", NULL);
        mk_op(o1, "x2", "INSTALL", "{\"p\":1}");
        mk_op(o2, "x3", "LOCK", NULL);
        mk_op(o1, "x4", "WIPE", NULL);
        cr_assert(sr_defs_resolve(&d, &spec, &why, msg, sizeof(msg)), "%s",
                  msg);
        cr_assert(sr_uuid_eq(&spec.pipeline_id, &pid));
        cr_assert(eq(str, spec.pipeline_name, "rollout"));
        cr_assert(eq(i64, spec.timeout_seconds, 86400));
        cr_assert(1 == !spec.auto_promote);
        cr_assert(eq(u32, spec.n_stages, 3));
        cr_assert(sr_uuid_eq(&spec.stages[0].stage_id, &b));
        cr_assert(sr_uuid_eq(&spec.stages[1].stage_id, &c));
        cr_assert(sr_uuid_eq(&spec.stages[2].stage_id, &a));
        cr_assert(eq(str, spec.stages[0].name, "b"));
        cr_assert(eq(str, spec.stages[0].description, "first"));
        cr_assert(eq(i64, spec.stages[0].timeout_seconds, 600));
        cr_assert(spec.stages[0].append_targets);
        cr_assert(1 == !spec.stages[1].append_targets);
        cr_assert(eq(u32, spec.stages[0].n_targets, 0));
        cr_assert(eq(u32, spec.stages[0].n_ops, 4));
        cr_assert(eq(str, spec.stages[0].ops[0].operation_type, "INSTALL"));
        cr_assert(eq(str, spec.stages[0].ops[0].args_json, "{\"p\":1}"));
        cr_assert(eq(str, spec.stages[0].ops[1].operation_type, "WIPE"));
        cr_assert(eq(str, spec.stages[0].ops[2].operation_type, "REBOOT"));
        cr_assert(eq(ptr, spec.stages[0].ops[2].args_json, NULL));
        cr_assert(eq(str, spec.stages[0].ops[3].operation_type, "LOCK"));
        cr_assert(eq(u32, spec.stages[1].n_ops, 0));
        (void)o1;
        sr_runspec_fini(&spec);
}

Test(sr_defs, resolve_is_a_pure_function_of_the_aggregate)
{
        sr_runspec_t s1, s2;
        sr_reject_t why;
        char msg[SR_NAME_MAX];

        mk_fixture();
        cr_assert(sr_defs_resolve(&d, &s1, &why, msg, sizeof(msg)));
        cr_assert(sr_defs_resolve(&d, &s2, &why, msg, sizeof(msg)));
        cr_assert(eq(u64, sr_runspec_hash(&s1), sr_runspec_hash(&s2)));
        sr_runspec_fini(&s1);
        sr_runspec_fini(&s2);
}

Test(sr_defs, resolve_is_refused_while_a_run_fills_and_for_a_deleted_pipeline)
{
        sr_runspec_t spec;
        sr_reject_t why;
        char msg[SR_NAME_MAX];

        mk_fixture();
        start_run("r");
        cr_assert(1 == !sr_defs_resolve(&d, &spec, &why, msg, sizeof(msg)));
        cr_assert(eq(int, why, SR_REJECT_RUN_STARTING));
        d.active_runs[0].filling = false; /* the fill's business */
        cr_assert(sr_defs_resolve(&d, &spec, &why, msg, sizeof(msg)));
        sr_runspec_fini(&spec);
        d.p.deleted_at = now;
        cr_assert(1 == !sr_defs_resolve(&d, &spec, &why, msg, sizeof(msg)));
        cr_assert(eq(int, why, SR_REJECT_PIPELINE_DELETED));
        cr_assert(strstr(msg, "was deleted at") != NULL);
}

/* ---------------------------------------------------------- refusals change nothing */

Test(sr_defs, every_kind_of_refusal_leaves_the_aggregate_as_it_was)
{
        sr_defcmd_t c;
        snap_t s;

        mk_fixture();
        start_run("r");
        snap_take(&s);
        stage_cmd(&c, "z", "a", 0); /* name taken */
        cr_assert(eq(int, apply(&c), SR_OK));
        cr_assert(1 == !out.accepted);
        stage_cmd(&c, "z", "z", 1); /* order taken */
        cr_assert(eq(int, apply(&c), SR_OK));
        cr_assert(1 == !out.accepted);
        cmd_init(&c, SR_DEFCMD_DELETE_STAGE); /* in use */
        c.u.stage.stage_id = uid("a");
        cr_assert(eq(int, apply(&c), SR_OK));
        cr_assert(1 == !out.accepted);
        cmd_init(&c, SR_DEFCMD_DELETE_PIPELINE); /* in use */
        cr_assert(eq(int, apply(&c), SR_OK));
        cr_assert(1 == !out.accepted);
        cr_assert(eq(int, add_targets(uid("devs"), 0, 1, NULL), SR_OK));
        cr_assert(eq(int, out.reason, SR_REJECT_RUN_STARTING));
        cmd_init(&c, SR_DEFCMD_PUT_PIPELINE); /* stale */
        c.has_expected_version = true;
        c.expected_version = 9;
        cr_assert(eq(int, apply(&c), SR_OK));
        cr_assert(1 == !out.accepted);
        snap_check(&s);
}

Test(sr_defs, add_targets_without_items_is_refused)
{
        sr_uuid_t l;

        mk_pipeline();
        l = mk_list("l", SR_TL_DEVICES);
        cr_assert(eq(int, add_targets(l, 0, 0, NULL), SR_OK));
        expect_refused(SR_REJECT_INVALID_VALUE, "items: at least one");
}

Test(sr_defs, stage_added_after_a_run_started_is_not_pinned_by_it)
{
        sr_defcmd_t c;

        mk_pipeline();
        mk_stage("a", 0);
        start_run("r");
        mk_stage("late", 0);
        cmd_init(&c, SR_DEFCMD_DELETE_STAGE);
        c.u.stage.stage_id = uid("late");
        cr_assert(eq(int, apply(&c), SR_OK));
        expect_accepted();
        cr_assert(eq(u32, d.n_stages, 1));
}
