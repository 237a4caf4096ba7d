/* common/codec/sr_simulate.c - the "simulate" directive of operation args
 * (sr_simulate.h). */
#include "sr_simulate.h"

#include <jansson.h>
#include <string.h>

static sr_err_t parse_fail(const json_t *fail, const char *device_name,
                           sr_simulate_t *out, sr_errctx_t *ec)
{
        size_t i;
        json_t *v;

        if (json_is_boolean(fail)) {
                out->fail = json_is_true(fail);
                return SR_OK;
        }
        if (!json_is_array(fail))
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "args.simulate.fail: expected an array "
                                     "of device names or a boolean");
        json_array_foreach(fail, i, v) {
                if (!json_is_string(v))
                        return sr_errctx_set(ec, SR_ERR_INVALID,
                                             "args.simulate.fail[%zu]: "
                                             "expected a device name", i);
                if (device_name && !strcmp(json_string_value(v), device_name))
                        out->fail = true;
        }
        return SR_OK;
}

sr_err_t sr_simulate_parse(const char *args_json, const char *device_name,
                           sr_simulate_t *out, sr_errctx_t *ec)
{
        sr_simulate_t r = { false, false, -1 };
        json_t *root = NULL, *sim, *v;
        json_error_t jerr;
        const char *key;
        sr_err_t err = SR_OK;

        *out = r;
        if (!args_json || !*args_json)
                return SR_OK;
        root = json_loads(args_json, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(root)) {
                err = sr_errctx_set(ec, SR_ERR_INVALID, "args: %s",
                                    root ? "expected an object" : jerr.text);
                goto cleanup;
        }
        sim = json_object_get(root, "simulate");
        if (!sim)
                goto cleanup;
        if (!json_is_object(sim)) {
                err = sr_errctx_set(ec, SR_ERR_INVALID,
                                    "args.simulate: expected an object");
                goto cleanup;
        }
        r.present = true;
        json_object_foreach(sim, key, v) {
                if (!strcmp(key, "fail")) {
                        err = parse_fail(v, device_name, &r, ec);
                } else if (!strcmp(key, "latency_ms")) {
                        json_int_t ms = json_integer_value(v);

                        if (!json_is_integer(v) || ms < 0 ||
                            ms > SR_SIMULATE_LATENCY_MAX)
                                err = sr_errctx_set(ec, SR_ERR_INVALID,
                                        "args.simulate.latency_ms: expected "
                                        "an integer in 0..%d",
                                        SR_SIMULATE_LATENCY_MAX);
                        r.latency_ms = (int)ms;
                } else {
                        err = sr_errctx_set(ec, SR_ERR_INVALID,
                                            "args.simulate.%s: unknown key "
                                            "(fail, latency_ms)", key);
                }
                if (err)
                        goto cleanup;
        }
        *out = r;
cleanup:
        json_decref(root);
        return err;
}
