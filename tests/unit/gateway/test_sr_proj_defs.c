/* tests/unit/gateway/test_sr_proj_defs.c - stored definitions in the
 * gateway's projection (sr_proj_defs.c): records fed as sr_def_record_t
 * (sr_proj_apply_def(), what sr_proj_apply() does after decoding an
 * SR_CL_DEF record), put by key, replaced, tombstoned; reads by key, by id
 * alone, per pipeline and kind, per tenant; a pipeline's last seq;
 * records of another tenant are not found; a record under another key is
 * refused; a reopened projection keeps them.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_defs.h"
#include "sr_proj.h"
#include "sr_proj_int.h"
#include "kit_dir.h"

#define ENT_A "acme"
#define ENT_B "globex"

static char dir[] = "/tmp/sr_proj_defs_test.XXXXXX";
static sr_proj_t *proj;
static int64_t next_off;

static void setup(void)
{
        sr_errctx_t ec = { 0 };

        cr_assert(not(eq(ptr, mkdtemp(dir), NULL)));
        cr_assert(eq(int, sr_proj_open(dir, 64u << 20, &proj, &ec), SR_OK),
                  "%s", ec.msg);
        next_off = 0;
}

static void teardown(void)
{
        sr_proj_close(proj);
        kit_rm_rf(dir);
}

TestSuite(sr_proj_defs, .init = setup, .fini = teardown, .timeout = 30);

static sr_uuid_t uid(const char *name)
{
        sr_uuid_t u;

        sr_uuid_v5(&u, &sr_ns, "test-proj-defs/%s", name);
        return u;
}

/* Apply @p r (NULL: the tombstone of @p key) at the next offset. */
static sr_err_t apply(const char *key, size_t klen, const sr_def_record_t *r,
                      sr_errctx_t *ec)
{
        sr_proj_txn_t *txn = NULL;
        sr_err_t err;

        cr_assert(eq(int, sr_proj_begin(proj, &txn, ec), SR_OK));
        err = sr_proj_apply_def(txn, 0, next_off++, sr_slice(key, klen), r,
                                ec);
        if (err) {
                sr_proj_abort(txn);
                return err;
        }
        cr_assert(eq(int, sr_proj_commit(txn, ec), SR_OK), "%s", ec->msg);
        return SR_OK;
}

static void put_rec(const sr_def_record_t *r)
{
        char key[SR_DEF_KEY_LEN];
        size_t n = sr_def_key(r->kind, &r->pipeline_id, sr_def_record_id(r),
                              key);
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, apply(key, n, r, &ec), SR_OK), "%s", ec.msg);
}

static void tombstone(sr_def_kind_t k, const sr_uuid_t *pipe,
                      const sr_uuid_t *id)
{
        char key[SR_DEF_KEY_LEN];
        size_t n = sr_def_key(k, pipe, id, key);
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, apply(key, n, NULL, &ec), SR_OK), "%s", ec.msg);
}

static sr_def_record_t pipeline(const char *name, const char *ent,
                                const char *title, uint64_t seq)
{
        sr_def_record_t r;

        memset(&r, 0, sizeof(r));
        r.kind = SR_DEF_PIPELINE;
        r.pipeline_id = uid(name);
        snprintf(r.enterprise_id, sizeof(r.enterprise_id), "%s", ent);
        r.u.pipeline.id = r.pipeline_id;
        snprintf(r.u.pipeline.enterprise_id,
                 sizeof(r.u.pipeline.enterprise_id), "%s", ent);
        snprintf(r.u.pipeline.name, sizeof(r.u.pipeline.name), "%s", title);
        r.u.pipeline.is_active = true;
        r.u.pipeline.timeout_seconds = 86400;
        r.u.pipeline.last_seq = seq;
        r.u.pipeline.a.version = 1;
        r.u.pipeline.a.created_at = r.u.pipeline.a.updated_at = 1000;
        return r;
}

static sr_def_record_t stage(const char *pipe, const char *name,
                             uint32_t order)
{
        sr_def_record_t r;

        memset(&r, 0, sizeof(r));
        r.kind = SR_DEF_STAGE;
        r.pipeline_id = uid(pipe);
        snprintf(r.enterprise_id, sizeof(r.enterprise_id), ENT_A);
        r.u.stage.id = uid(name);
        snprintf(r.u.stage.name, sizeof(r.u.stage.name), "%s", name);
        r.u.stage.order = order;
        r.u.stage.a.version = 1;
        return r;
}

Test(sr_proj_defs, a_pipeline_is_put_read_replaced_and_tombstoned)
{
        sr_def_record_t p = pipeline("p1", ENT_A, "canary", 1), got;
        sr_errctx_t ec = { 0 };
        uint64_t seq = 0;

        put_rec(&p);
        cr_assert(eq(int, sr_proj_def_get(proj, ENT_A, SR_DEF_PIPELINE,
                                          &p.pipeline_id, &p.pipeline_id,
                                          &got, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(str, got.u.pipeline.name, "canary"));
        cr_assert(eq(str, got.enterprise_id, ENT_A));
        cr_assert(eq(u32, got.u.pipeline.a.version, 1));
        sr_def_record_fini(&got);
        cr_assert(eq(int, sr_proj_def_last_seq(proj, &p.pipeline_id, &seq,
                                               &ec),
                     SR_OK));
        cr_assert(eq(u64, seq, 1));

        /* another tenant: not found */
        cr_assert(eq(int, sr_proj_def_get(proj, ENT_B, SR_DEF_PIPELINE,
                                          &p.pipeline_id, &p.pipeline_id,
                                          &got, &ec),
                     SR_ERR_NOT_FOUND));

        /* replaced: new name, seq */
        snprintf(p.u.pipeline.name, sizeof(p.u.pipeline.name), "beta");
        p.u.pipeline.a.version = 2;
        p.u.pipeline.last_seq = 7;
        put_rec(&p);
        cr_assert(eq(int, sr_proj_def_get(proj, ENT_A, SR_DEF_PIPELINE,
                                          &p.pipeline_id, &p.pipeline_id,
                                          &got, &ec),
                     SR_OK));
        cr_assert(eq(str, got.u.pipeline.name, "beta"));
        cr_assert(eq(u32, got.u.pipeline.a.version, 2));
        sr_def_record_fini(&got);
        cr_assert(eq(int, sr_proj_def_last_seq(proj, &p.pipeline_id, &seq,
                                               &ec),
                     SR_OK));
        cr_assert(eq(u64, seq, 7));

        tombstone(SR_DEF_PIPELINE, &p.pipeline_id, &p.pipeline_id);
        cr_assert(eq(int, sr_proj_def_get(proj, ENT_A, SR_DEF_PIPELINE,
                                          &p.pipeline_id, &p.pipeline_id,
                                          &got, &ec),
                     SR_ERR_NOT_FOUND));
        cr_assert(eq(int, sr_proj_def_last_seq(proj, &p.pipeline_id, &seq,
                                               &ec),
                     SR_ERR_NOT_FOUND));
}

Test(sr_proj_defs, pipelines_of_a_tenant_are_listed_with_the_deleted)
{
        sr_def_record_t a = pipeline("p1", ENT_A, "one", 1),
                        b = pipeline("p2", ENT_A, "two", 1),
                        c = pipeline("p3", ENT_B, "three", 1), *items;
        sr_errctx_t ec = { 0 };
        size_t n = 0;

        b.u.pipeline.deleted_at = 5000;
        put_rec(&a);
        put_rec(&b);
        put_rec(&c);
        cr_assert(eq(int, sr_proj_def_pipelines(proj, ENT_A, &items, &n,
                                                &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(sz, n, 2));
        for (size_t i = 0; i < n; i++)
                cr_assert(eq(str, items[i].enterprise_id, ENT_A));
        sr_proj_def_free(items, n);
        cr_assert(eq(int, sr_proj_def_pipelines(proj, ENT_B, &items, &n,
                                                &ec),
                     SR_OK));
        cr_assert(eq(sz, n, 1));
        cr_assert(eq(str, items[0].u.pipeline.name, "three"));
        sr_proj_def_free(items, n);
        /* "acm" is no prefix of "acme": the tenant's length is keyed */
        cr_assert(eq(int, sr_proj_def_pipelines(proj, "acm", &items, &n,
                                                &ec),
                     SR_OK));
        cr_assert(eq(sz, n, 0));
        sr_proj_def_free(items, n);

        /* a tombstone takes it out of its tenant's list */
        tombstone(SR_DEF_PIPELINE, &a.pipeline_id, &a.pipeline_id);
        cr_assert(eq(int, sr_proj_def_pipelines(proj, ENT_A, &items, &n,
                                                &ec),
                     SR_OK));
        cr_assert(eq(sz, n, 1));
        cr_assert(eq(str, items[0].u.pipeline.name, "two"));
        sr_proj_def_free(items, n);
}

Test(sr_proj_defs, children_are_listed_per_pipeline_and_kind)
{
        sr_def_record_t p = pipeline("p1", ENT_A, "one", 3),
                        q = pipeline("p2", ENT_A, "two", 1),
                        s1 = stage("p1", "alpha", 2),
                        s2 = stage("p1", "beta", 1),
                        s3 = stage("p2", "gamma", 1), *items;
        sr_errctx_t ec = { 0 };
        size_t n = 0;

        put_rec(&p);
        put_rec(&q);
        put_rec(&s1);
        put_rec(&s2);
        put_rec(&s3);
        cr_assert(eq(int, sr_proj_def_list(proj, ENT_A, SR_DEF_STAGE,
                                           &p.pipeline_id, &items, &n, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(sz, n, 2));
        for (size_t i = 0; i < n; i++)
                cr_assert(sr_uuid_eq(&items[i].pipeline_id, &p.pipeline_id));
        sr_proj_def_free(items, n);
        cr_assert(eq(int, sr_proj_def_list(proj, ENT_A, SR_DEF_TARGET_LIST,
                                           &p.pipeline_id, &items, &n, &ec),
                     SR_OK));
        cr_assert(eq(sz, n, 0));
        sr_proj_def_free(items, n);
        /* another tenant sees none */
        cr_assert(eq(int, sr_proj_def_list(proj, ENT_B, SR_DEF_STAGE,
                                           &p.pipeline_id, &items, &n, &ec),
                     SR_OK));
        cr_assert(eq(sz, n, 0));
        sr_proj_def_free(items, n);

        tombstone(SR_DEF_STAGE, &p.pipeline_id, &s1.u.stage.id);
        cr_assert(eq(int, sr_proj_def_list(proj, ENT_A, SR_DEF_STAGE,
                                           &p.pipeline_id, &items, &n, &ec),
                     SR_OK));
        cr_assert(eq(sz, n, 1));
        cr_assert(eq(str, items[0].u.stage.name, "beta"));
        sr_proj_def_free(items, n);
}

Test(sr_proj_defs, a_stage_and_an_operation_list_are_found_by_id_alone)
{
        sr_def_record_t p = pipeline("p1", ENT_A, "one", 3),
                        s = stage("p1", "alpha", 1), o, got;
        sr_uuid_t pipe;
        sr_errctx_t ec = { 0 };

        memset(&o, 0, sizeof(o));
        o.kind = SR_DEF_OPERATION_LIST;
        o.pipeline_id = p.pipeline_id;
        snprintf(o.enterprise_id, sizeof(o.enterprise_id), ENT_A);
        o.u.oplist.id = uid("ol");
        o.u.oplist.stage_id = s.u.stage.id;
        snprintf(o.u.oplist.name, sizeof(o.u.oplist.name), "installs");
        put_rec(&p);
        put_rec(&s);
        put_rec(&o);
        cr_assert(eq(int, sr_proj_def_pipeline_of(proj, ENT_A, SR_DEF_STAGE,
                                                  &s.u.stage.id, &pipe,
                                                  &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(sr_uuid_eq(&pipe, &p.pipeline_id));
        cr_assert(eq(int, sr_proj_def_pipeline_of(proj, ENT_A,
                                                  SR_DEF_OPERATION_LIST,
                                                  &o.u.oplist.id, &pipe,
                                                  &ec),
                     SR_OK));
        cr_assert(sr_uuid_eq(&pipe, &p.pipeline_id));
        /* the wrong kind, another tenant, unknown */
        cr_assert(eq(int, sr_proj_def_pipeline_of(proj, ENT_A,
                                                  SR_DEF_OPERATION_LIST,
                                                  &s.u.stage.id, &pipe, &ec),
                     SR_ERR_NOT_FOUND));
        cr_assert(eq(int, sr_proj_def_pipeline_of(proj, ENT_B, SR_DEF_STAGE,
                                                  &s.u.stage.id, &pipe, &ec),
                     SR_ERR_NOT_FOUND));
        cr_assert(eq(int, sr_proj_def_pipeline_of(proj, ENT_A, SR_DEF_STAGE,
                                                  &p.pipeline_id, &pipe,
                                                  &ec),
                     SR_ERR_NOT_FOUND));
        cr_assert(eq(int, sr_proj_def_get(proj, ENT_A, SR_DEF_OPERATION_LIST,
                                          &p.pipeline_id, &o.u.oplist.id,
                                          &got, &ec),
                     SR_OK));
        cr_assert(sr_uuid_eq(&got.u.oplist.stage_id, &s.u.stage.id));
        sr_def_record_fini(&got);
        tombstone(SR_DEF_STAGE, &p.pipeline_id, &s.u.stage.id);
        cr_assert(eq(int, sr_proj_def_pipeline_of(proj, ENT_A, SR_DEF_STAGE,
                                                  &s.u.stage.id, &pipe, &ec),
                     SR_ERR_NOT_FOUND));
}

Test(sr_proj_defs, owned_parts_survive_the_round_trip_and_a_reopen)
{
        sr_def_record_t p = pipeline("p1", ENT_A, "one", 3), x, t, got;
        sr_errctx_t ec = { 0 };

        memset(&x, 0, sizeof(x));
        x.kind = SR_DEF_OPERATION;
        x.pipeline_id = p.pipeline_id;
        snprintf(x.enterprise_id, sizeof(x.enterprise_id), ENT_A);
        x.u.operation.id = uid("op");
        x.u.operation.operation_list_id = uid("ol");
        snprintf(x.u.operation.operation_type,
                 sizeof(x.u.operation.operation_type), "INSTALL");
        x.u.operation.args_json = (char *)"{\"package_name\":\"com.x\"}";
        memset(&t, 0, sizeof(t));
        t.kind = SR_DEF_TARGET;
        t.pipeline_id = p.pipeline_id;
        snprintf(t.enterprise_id, sizeof(t.enterprise_id), ENT_A);
        t.u.target.id = uid("tgt");
        t.u.target.device_meta_json = NULL;
        t.u.target.args_json = (char *)"{}";
        snprintf(t.u.target.device_name, sizeof(t.u.target.device_name),
                 "dev-1");
        put_rec(&p);
        put_rec(&x);
        put_rec(&t);
        sr_proj_close(proj);
        cr_assert(eq(int, sr_proj_open(dir, 64u << 20, &proj, &ec), SR_OK));
        cr_assert(eq(int, sr_proj_def_get(proj, ENT_A, SR_DEF_OPERATION,
                                          &p.pipeline_id, &x.u.operation.id,
                                          &got, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(str, got.u.operation.args_json,
                     "{\"package_name\":\"com.x\"}"));
        cr_assert(eq(str, got.u.operation.operation_type, "INSTALL"));
        sr_def_record_fini(&got);
        cr_assert(eq(int, sr_proj_def_get(proj, ENT_A, SR_DEF_TARGET,
                                          &p.pipeline_id, &t.u.target.id,
                                          &got, &ec),
                     SR_OK));
        cr_assert(eq(ptr, got.u.target.device_meta_json, NULL));
        cr_assert(eq(str, got.u.target.args_json, "{}"));
        cr_assert(eq(str, got.u.target.device_name, "dev-1"));
        sr_def_record_fini(&got);
}

Test(sr_proj_defs, a_record_under_another_key_is_refused_dedupe_keys_ignored)
{
        sr_def_record_t p = pipeline("p1", ENT_A, "one", 3),
                        s = stage("p1", "alpha", 1);
        char key[SR_DEF_KEY_LEN];
        sr_errctx_t ec = { 0 };
        sr_uuid_t cmd = uid("cmd");
        size_t n;

        /* a stage under its pipeline's key */
        n = sr_def_key(SR_DEF_PIPELINE, &p.pipeline_id, &p.pipeline_id, key);
        cr_assert(eq(int, apply(key, n, &s, &ec), SR_ERR_CORRUPT));
        /* a run's key */
        cr_assert(eq(int, apply("0000/x", 6, &p, &ec), SR_ERR_CORRUPT));
        /* a dedupe entry's tombstone: nothing to do */
        n = sr_def_dedupe_key(&p.pipeline_id, &cmd, key);
        cr_assert(eq(int, apply(key, n, NULL, &ec), SR_OK), "%s", ec.msg);
        /* an unknown entity's tombstone: nothing to do */
        tombstone(SR_DEF_STAGE, &p.pipeline_id, &s.u.stage.id);
}

Test(sr_proj_defs, a_stale_offset_is_not_applied_again)
{
        sr_def_record_t p = pipeline("p1", ENT_A, "one", 3), got;
        char key[SR_DEF_KEY_LEN];
        size_t n = sr_def_key(SR_DEF_PIPELINE, &p.pipeline_id,
                              &p.pipeline_id, key);
        sr_proj_txn_t *txn = NULL;
        sr_errctx_t ec = { 0 };

        put_rec(&p); /* offset 0 */
        snprintf(p.u.pipeline.name, sizeof(p.u.pipeline.name), "older");
        cr_assert(eq(int, sr_proj_begin(proj, &txn, &ec), SR_OK));
        cr_assert(eq(int, sr_proj_apply_def(txn, 0, 0, sr_slice(key, n), &p,
                                            &ec),
                     SR_OK));
        cr_assert(eq(int, sr_proj_commit(txn, &ec), SR_OK));
        cr_assert(eq(int, sr_proj_def_get(proj, ENT_A, SR_DEF_PIPELINE,
                                          &p.pipeline_id, &p.pipeline_id,
                                          &got, &ec),
                     SR_OK));
        cr_assert(eq(str, got.u.pipeline.name, "one"));
        sr_def_record_fini(&got);
}

static sr_def_record_t target(const char *pipe, const char *list,
                              const char *device)
{
        sr_def_record_t r;
        sr_uuid_t l = uid(list), d = uid(device);

        memset(&r, 0, sizeof(r));
        r.kind = SR_DEF_TARGET;
        r.pipeline_id = uid(pipe);
        snprintf(r.enterprise_id, sizeof(r.enterprise_id), ENT_A);
        r.u.target.target_list_id = l;
        r.u.target.device_id = d;
        sr_def_target_id(&l, &d, &r.u.target.id);
        snprintf(r.u.target.device_name, sizeof(r.u.target.device_name),
                 "%s", device);
        r.u.target.is_active = true;
        r.u.target.a.version = 1;
        return r;
}

Test(sr_proj_defs, targets_of_a_list_page_by_keyset_and_offset)
{
        sr_def_record_t p = pipeline("p1", ENT_A, "one", 3), t[5], other,
                        *items;
        sr_uuid_t list = uid("l1");
        sr_errctx_t ec = { 0 };
        size_t n = 0, seen = 0;
        sr_uuid_t last;
        bool more = false, first = true;
        char name[16];

        put_rec(&p);
        for (int i = 0; i < 5; i++) {
                snprintf(name, sizeof(name), "dev-%d", i);
                t[i] = target("p1", "l1", name);
                put_rec(&t[i]);
        }
        other = target("p1", "l2", "dev-0");
        put_rec(&other);
        /* pages of 2, by cursor: every target once, in id order */
        do {
                cr_assert(eq(int, sr_proj_def_targets(proj, ENT_A,
                                                      &p.pipeline_id, &list,
                                                      0, first ? NULL : &last,
                                                      2, &items, &n, &more,
                                                      &ec),
                             SR_OK), "%s", ec.msg);
                for (size_t i = 0; i < n; i++) {
                        cr_assert(sr_uuid_eq(&items[i].u.target.target_list_id,
                                             &list));
                        if (!first || i)
                                cr_assert(memcmp(last.b,
                                                 items[i].u.target.id.b,
                                                 16) < 0);
                        last = items[i].u.target.id;
                        seen++;
                }
                first = false;
                sr_proj_def_free(items, n);
        } while (more);
        cr_assert(eq(sz, seen, 5));
        /* offset */
        cr_assert(eq(int, sr_proj_def_targets(proj, ENT_A, &p.pipeline_id,
                                              &list, 4, NULL, 10, &items, &n,
                                              &more, &ec),
                     SR_OK));
        cr_assert(eq(sz, n, 1));
        cr_assert(not(more));
        sr_proj_def_free(items, n);
        /* another tenant: none */
        cr_assert(eq(int, sr_proj_def_targets(proj, ENT_B, &p.pipeline_id,
                                              &list, 0, NULL, 10, &items, &n,
                                              &more, &ec),
                     SR_OK));
        cr_assert(eq(sz, n, 0));
        sr_proj_def_free(items, n);
        /* a tombstone leaves the list */
        tombstone(SR_DEF_TARGET, &p.pipeline_id, &t[2].u.target.id);
        cr_assert(eq(int, sr_proj_def_targets(proj, ENT_A, &p.pipeline_id,
                                              &list, 0, NULL, 10, &items, &n,
                                              &more, &ec),
                     SR_OK));
        cr_assert(eq(sz, n, 4));
        for (size_t i = 0; i < n; i++)
                cr_assert(not(sr_uuid_eq(&items[i].u.target.id,
                                         &t[2].u.target.id)));
        sr_proj_def_free(items, n);
}
