/* tests/unit/dev/test_sr_demo.c - the demo's embedded specs are the files
 * of deploy/examples/demo/, valid run specs whose simulate directives the
 * agent accepts, with the shape the demo relies on; bad settings are
 * refused. (What the demo does to a fleet: tests/deploy/test_demo.py.) */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_demo.h"
#include "sr_simulate.h"
#include "sr_spec_json.h"

static const char *const names[] = { "canary", "failing", "cancelled",
                                     "batch" };

static char *slurp(const char *path)
{
        FILE *f = fopen(path, "rb");
        char *buf;
        long n;

        cr_assert(f != NULL, "%s", path);
        fseek(f, 0, SEEK_END);
        n = ftell(f);
        rewind(f);
        buf = calloc(1, (size_t)n + 1);
        cr_assert(fread(buf, 1, (size_t)n, f) == (size_t)n);
        fclose(f);
        return buf;
}

/* Parse demo spec @p name; every target's directive is read into
 * fails[] (the number of failing targets per stage). */
static void parse(const char *name, sr_runspec_t *spec, int fails[8])
{
        const char *text = sr_demo_spec(name);
        sr_errctx_t ec = { 0 };

        cr_assert(text != NULL, "%s", name);
        cr_assert(eq(int, sr_spec_json_parse(text, strlen(text), spec, &ec),
                     SR_OK), "%s: %s", name, ec.msg);
        cr_assert(spec->n_stages <= 8);
        for (uint32_t s = 0; s < spec->n_stages; s++) {
                const sr_spec_stage_t *st = &spec->stages[s];

                fails[s] = 0;
                for (uint32_t o = 0; o < st->n_ops; o++)
                        for (uint32_t t = 0; t < st->n_targets; t++) {
                                sr_simulate_t sim;

                                cr_assert(eq(int, sr_simulate_parse(
                                        st->ops[o].args_json,
                                        st->targets[t].device_name, &sim,
                                        &ec), SR_OK), "%s: %s", name,
                                        ec.msg);
                                cr_assert(sim.present, "%s stage %u", name,
                                          s);
                                fails[s] += sim.fail;
                        }
        }
}

TestSuite(sr_demo, .timeout = 10.0);

Test(sr_demo, embedded_specs_are_the_files_of_deploy_examples_demo)
{
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                char path[512];
                char *file;

                snprintf(path, sizeof(path),
                         SR_SOURCE_DIR "/deploy/examples/demo/%s.json",
                         names[i]);
                file = slurp(path);
                cr_assert(eq(str, (char *)sr_demo_spec(names[i]), file),
                          "%s", names[i]);
                free(file);
        }
        cr_assert(sr_demo_spec("nope") == NULL);
}

Test(sr_demo, specs_have_the_shape_the_demo_relies_on)
{
        sr_runspec_t spec;
        int fails[8];

        parse("canary", &spec, fails);
        cr_assert(spec.auto_promote == false, "the demo promotes it");
        cr_assert(eq(u32, spec.n_stages, 3));
        cr_assert(eq(u32, spec.stages[0].n_targets, 1));
        cr_assert(eq(u32, spec.stages[1].n_targets, 9));
        cr_assert(eq(u32, spec.stages[2].n_targets, 90));
        cr_assert(fails[0] + fails[1] + fails[2] == 0);
        sr_runspec_fini(&spec);

        parse("failing", &spec, fails);
        cr_assert(eq(u32, spec.n_stages, 2));
        cr_assert(eq(int, fails[0], 2), "floor-002 and floor-004");
        cr_assert(eq(int, fails[1], 0));
        sr_runspec_fini(&spec);

        parse("cancelled", &spec, fails);
        cr_assert(eq(u32, spec.n_stages, 1));
        cr_assert(eq(int, fails[0], 0));
        sr_runspec_fini(&spec);

        parse("batch", &spec, fails);
        cr_assert(spec.auto_promote == true, "nobody promotes it");
        cr_assert(eq(u32, spec.n_stages, 3));
        cr_assert(fails[0] + fails[1] + fails[2] == 0);
        sr_runspec_fini(&spec);
}

Test(sr_demo, settings_out_of_range_are_refused)
{
        sr_demo_conf_t c = sr_demo_conf_default("127.0.0.1", 1, "t");
        sr_demo_t *d = NULL;
        sr_errctx_t ec = { 0 };

        c.poll_ms = 10;
        cr_assert(eq(int, sr_demo_start(&c, &d, &ec), SR_ERR_INVALID));
        cr_assert(d == NULL);
        c = sr_demo_conf_default("127.0.0.1", 1, NULL);
        cr_assert(eq(int, sr_demo_start(&c, &d, &ec), SR_ERR_INVALID));
        cr_assert(strstr(ec.msg, "demo:") != NULL, "%s", ec.msg);
}
