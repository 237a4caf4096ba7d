/* tests/unit/domain/test_sr_defs_store.c - stored definitions as records
 * (common/domain/sr_defs_store.c): keys, event ids, the record of each
 * change, and an aggregate loaded back from its records in creation
 * order. The same round trip runs over random histories in
 * model.defs_differential_reload. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdio.h>
#include <string.h>

#include "sr_defs.h"
#include "sr_run.h"

static sr_uuid_t uid(const char *name)
{
        sr_uuid_t u;

        sr_uuid_v5(&u, &sr_ns, "test/%s", name);
        return u;
}

Test(sr_defs_store, entity_keys_are_P_pipeline_letter_id_and_parse_back)
{
        sr_uuid_t p = uid("p"), id = uid("s"), p2, id2;
        char key[SR_DEF_KEY_LEN + 1] = "", want[SR_DEF_KEY_LEN + 1];
        char ps[SR_UUID_STR_LEN + 1], is[SR_UUID_STR_LEN + 1];
        sr_def_kind_t k;

        sr_uuid_fmt(&p, ps);
        sr_uuid_fmt(&id, is);
        for (int kind = 0; kind < SR_DEF__COUNT; kind++) {
                size_t n = sr_def_key((sr_def_kind_t)kind, &p, &id, key);

                snprintf(want, sizeof(want), "P%s/%c/%s", ps,
                         sr_def_kind_letter((sr_def_kind_t)kind), is);
                cr_assert(eq(sz, n, (size_t)SR_DEF_KEY_LEN));
                cr_assert(eq(str, key, want));
                cr_assert(sr_def_key_parse(key, n, &p2, &k, &id2));
                cr_assert(eq(int, (int)k, kind));
                cr_assert(sr_uuid_eq(&p2, &p) && sr_uuid_eq(&id2, &id));
        }
        cr_assert(eq(sz, sr_def_dedupe_key(&p, &id, key),
                     (size_t)SR_DEF_KEY_LEN));
        cr_assert(sr_def_key_parse(key, SR_DEF_KEY_LEN, &p2, &k, &id2));
        cr_assert(eq(int, (int)k, SR_DEF__COUNT), "a dedupe key");
}

Test(sr_defs_store, no_run_key_parses_as_a_definition_key)
{
        sr_uuid_t run = uid("run"), in = uid("in"), p, id;
        char key[SR_ENTITY_KEY_MAX];
        sr_def_kind_t k;
        size_t n = sr_dedupe_key(&run, &in, key);

        cr_assert(not(sr_def_key_parse(key, n, &p, &k, &id)));
        n = sr_retired_key(&run, key);
        cr_assert(not(sr_def_key_parse(key, n, &p, &k, &id)));
        /* a letter that names no kind */
        n = sr_def_key(SR_DEF_STAGE, &run, &in, key);
        key[SR_UUID_STR_LEN + 2] = 'q';
        cr_assert(not(sr_def_key_parse(key, n, &p, &k, &id)));
}

Test(sr_defs_store, event_ids_are_per_pipeline_and_seq_and_not_a_runs)
{
        sr_uuid_t p = uid("p"), a, b, c, run_event;

        sr_def_event_id(&p, 1, &a);
        sr_def_event_id(&p, 1, &b);
        sr_def_event_id(&p, 2, &c);
        sr_uuid_event_id(&run_event, &p, 1);
        cr_assert(sr_uuid_eq(&a, &b));
        cr_assert(not(sr_uuid_eq(&a, &c)));
        cr_assert(not(sr_uuid_eq(&a, &run_event)));
}

/* ---------------------------------------------------------- round trip */

static int n_cmd;

static void apply(sr_defs_t *d, sr_defcmd_t *c, sr_defs_out_t *o)
{
        memset(o, 0, sizeof(*o));
        sr_uuid_v5(&c->command_id, &sr_ns, "test/cmd/%d", ++n_cmd);
        snprintf(c->enterprise_id, sizeof(c->enterprise_id), "ent");
        c->pipeline_id = uid("p");
        /* one instant for all: creation order must not come from time */
        cr_assert(eq(int, sr_defs_apply(d, c, NULL, 1000, NULL, o), SR_OK));
        cr_assert(o->accepted, "%s: %s", sr_defcmd_name(c->kind), o->message);
}

/* Every change record of @p o, as the owner writes it, into @p recs
 * (tombstones drop the key's record); the pipeline's record last. */
typedef struct store {
        char key[64][SR_DEF_KEY_LEN];
        sr_def_record_t rec[64];
        int n;
} store_t;

static void put(store_t *s, const char *key, sr_def_record_t *r)
{
        for (int i = 0; i < s->n; i++)
                if (!memcmp(s->key[i], key, SR_DEF_KEY_LEN)) {
                        sr_def_record_fini(&s->rec[i]);
                        if (r) {
                                s->rec[i] = *r;
                        } else {
                                s->n--;
                                memcpy(s->key[i], s->key[s->n],
                                       SR_DEF_KEY_LEN);
                                s->rec[i] = s->rec[s->n];
                        }
                        return;
                }
        if (!r)
                return;
        cr_assert(s->n < 64);
        memcpy(s->key[s->n], key, SR_DEF_KEY_LEN);
        s->rec[s->n++] = *r;
}

static void write(store_t *s, const sr_defs_t *d, const sr_defs_out_t *o)
{
        sr_def_change_rec_t pc = { .kind = SR_DEF_PIPELINE,
                                   .target_index = -1 };
        char key[SR_DEF_KEY_LEN];
        sr_def_record_t r;

        for (uint32_t i = 0; i < o->n_changes; i++) {
                sr_err_t err = sr_defs_record_of(d, o, &o->changes[i], &r);

                sr_def_key(o->changes[i].kind, &d->p.id, &o->changes[i].id,
                           key);
                cr_assert(err == SR_OK || err == SR_ERR_NOT_FOUND);
                put(s, key, err == SR_OK ? &r : NULL);
        }
        pc.id = d->p.id;
        cr_assert(eq(int, sr_defs_record_of(d, o, &pc, &r), SR_OK));
        sr_def_key(SR_DEF_PIPELINE, &d->p.id, &d->p.id, key);
        put(s, key, &r);
}

Test(sr_defs_store, an_aggregate_loaded_from_its_records_is_the_same_in_creation_order)
{
        static store_t s; /* zeroed */
        sr_defs_t d = { 0 }, back = { 0 };
        sr_defs_out_t o;
        sr_defcmd_t c;
        const char *stages[] = { "z-last-id", "a-first-id", "m-mid-id" };

        memset(&c, 0, sizeof(c));
        c.kind = SR_DEFCMD_PUT_PIPELINE;
        c.create = true;
        c.u.pipeline.has_name = true;
        snprintf(c.u.pipeline.name, SR_NAME_MAX, "p");
        apply(&d, &c, &o);
        write(&s, &d, &o);
        sr_defs_out_fini(&o);
        /* ids that sort otherwise than their creation, one instant */
        for (int i = 0; i < 3; i++) {
                memset(&c, 0, sizeof(c));
                c.kind = SR_DEFCMD_PUT_STAGE;
                c.create = true;
                c.u.stage.stage_id = uid(stages[i]);
                c.u.stage.has_name = true;
                snprintf(c.u.stage.name, SR_NAME_MAX, "s%d", i);
                apply(&d, &c, &o);
                write(&s, &d, &o);
                sr_defs_out_fini(&o);
        }
        memset(&c, 0, sizeof(c));
        c.kind = SR_DEFCMD_PUT_OPERATION_LIST;
        c.create = true;
        c.u.oplist.stage_id = uid(stages[1]);
        c.u.oplist.operation_list_id = uid("ol");
        c.u.oplist.has_name = true;
        snprintf(c.u.oplist.name, SR_NAME_MAX, "ol");
        apply(&d, &c, &o);
        write(&s, &d, &o);
        sr_defs_out_fini(&o);
        memset(&c, 0, sizeof(c));
        c.kind = SR_DEFCMD_PUT_OPERATION;
        c.create = true;
        c.u.op.operation_list_id = uid("ol");
        c.u.op.operation_id = uid("op");
        c.u.op.has_operation_type = c.u.op.has_args = true;
        snprintf(c.u.op.operation_type, SR_SHORT_MAX, "INSTALL");
        c.u.op.args_json = strdup("{\"a\":1}");
        apply(&d, &c, &o);
        sr_defcmd_fini(&c);
        write(&s, &d, &o);
        sr_defs_out_fini(&o);
        /* a start pins the stages; the record carries their ids */
        memset(&c, 0, sizeof(c));
        c.kind = SR_DEFCMD_START_PIPELINE_RUN;
        c.u.run.pipeline_run_id = uid("run");
        apply(&d, &c, &o);
        write(&s, &d, &o);
        sr_defs_out_fini(&o);
        /* the first stage's delete: a tombstone (not pinned: delete the
         * run's pin first) */
        memset(&c, 0, sizeof(c));
        c.kind = SR_DEFCMD_RUN_ENDED;
        c.u.run.pipeline_run_id = uid("run");
        apply(&d, &c, &o);
        write(&s, &d, &o);
        sr_defs_out_fini(&o);
        memset(&c, 0, sizeof(c));
        c.kind = SR_DEFCMD_DELETE_STAGE;
        c.u.stage.stage_id = uid(stages[0]);
        apply(&d, &c, &o);
        write(&s, &d, &o);
        sr_defs_out_fini(&o);

        /* load in reverse key order: the order of the store must not
         * matter */
        for (int i = s.n - 1; i >= 0; i--) {
                sr_def_record_t r = s.rec[i];

                if (r.kind == SR_DEF_OPERATION)
                        r.u.operation.args_json =
                                strdup(s.rec[i].u.operation.args_json);
                cr_assert(eq(int, sr_defs_load_record(&back, &r), SR_OK));
                sr_def_record_fini(&r);
        }
        sr_defs_loaded(&back);
        cr_assert(back.exists);
        cr_assert(eq(int, memcmp(&back.p, &d.p, sizeof(d.p)), 0),
                  "the pipeline with its bookkeeping (last_seq %llu, "
                  "next_ordinal %llu)",
                  (unsigned long long)back.p.last_seq,
                  (unsigned long long)back.p.next_ordinal);
        cr_assert(eq(u32, back.n_stages, 2));
        cr_assert(eq(int, memcmp(back.stages, d.stages,
                                 2 * sizeof(*d.stages)), 0),
                  "stages in creation order");
        cr_assert(eq(u32, back.n_oplists, 1));
        cr_assert(eq(u32, back.n_operations, 1));
        cr_assert(eq(str, back.operations[0].args_json, "{\"a\":1}"));
        cr_assert(eq(u32, back.n_active_runs, 0));
        for (int i = 0; i < s.n; i++)
                sr_def_record_fini(&s.rec[i]);
        sr_defs_fini(&d);
        sr_defs_fini(&back);
}

Test(sr_defs_store, a_target_record_is_not_part_of_the_aggregate)
{
        sr_defs_t d = { 0 };
        sr_def_record_t r;

        memset(&r, 0, sizeof(r));
        r.kind = SR_DEF_TARGET;
        cr_assert(eq(int, sr_defs_load_record(&d, &r), SR_ERR_INVALID));
        sr_defs_fini(&d);
}
