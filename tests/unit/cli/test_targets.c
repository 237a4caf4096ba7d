/* tests/unit/cli/test_targets.c - sr-cli's run create without the
 * network (workers/cli/targets.c): a targets file, as a JSON array or as
 * JSON lines, cut into chunks whose bodies the gateway parses back to the
 * same items (so the digest the gateway derives the command id from is
 * the client's), each chunk's digest, the seal's body and digest, a stage
 * marked open. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_digest.h"
#include "sr_spec_json.h"
#include "targets.h"

TestSuite(cli_targets, .timeout = 10.0);

/* @p n targets, device i a v5 of i, every third named, as JSON lines or
 * as one array. */
static char *targets_text(uint32_t n, bool lines)
{
        size_t cap = 128 + (size_t)n * 120, len = 0;
        char *t = malloc(cap);

        cr_assert(not(eq(ptr, t, NULL)));
        if (!lines)
                t[len++] = '[';
        for (uint32_t i = 0; i < n; i++) {
                char id[SR_UUID_STR_LEN + 1];
                sr_uuid_t u;

                sr_uuid_v5(&u, &sr_ns, "cli-test/%u", i);
                sr_uuid_fmt(&u, id);
                len += (size_t)snprintf(t + len, cap - len,
                                        "%s{\"device_id\":\"%s\"%s%s%s}%s",
                                        !lines && i ? "," : "", id,
                                        i % 3 ? "" : ",\"device_name\":\"d-",
                                        i % 3 ? "" : id + 30,
                                        i % 3 ? "" : "\"",
                                        lines ? (i % 5 ? "\n" : "\n\n") : "");
        }
        if (!lines)
                t[len++] = ']';
        t[len] = '\0';
        return t;
}

/* What the gateway does with a body: the items back, and their digest. */
static void parse_body(const char *body, uint32_t *chunk, uint32_t *n,
                       uint8_t digest[SR_DIGEST_LEN])
{
        json_t *o = json_loads(body, 0, NULL);
        sr_spec_target_t *t = NULL;
        sr_errctx_t ec = { 0 };

        cr_assert(not(eq(ptr, o, NULL)), "%s", body);
        *chunk = (uint32_t)json_integer_value(json_object_get(o, "chunk"));
        cr_assert(eq(int, sr_spec_json_targets(json_object_get(o, "targets"),
                                               "targets", 10000, "chunk",
                                               "stage.chunk.targets", &t, n,
                                               &ec), SR_OK), "%s", ec.msg);
        cr_assert(eq(int, sr_targets_digest(t, *n, digest, &ec), SR_OK),
                  "%s", ec.msg);
        free(t);
        json_decref(o);
}

Test(cli_targets, a_file_is_cut_into_chunks_whose_digests_the_gateway_finds)
{
        char *text = targets_text(2501, true);
        sr_cli_chunks_t c;
        sr_errctx_t ec = { 0 };
        uint8_t seal[SR_DIGEST_LEN];

        cr_assert(eq(int, sr_cli_chunks_read(text, strlen(text), "t.jsonl",
                                             1000, &c, &ec), SR_OK),
                  "%s", ec.msg);
        cr_assert(eq(u32, c.n, 3));
        cr_assert(eq(u64, c.count, 2501));
        for (uint32_t i = 0; i < c.n; i++) {
                uint8_t d[SR_DIGEST_LEN];
                uint32_t chunk, n;

                parse_body(c.bodies[i], &chunk, &n, d);
                cr_assert(eq(u32, chunk, i));
                cr_assert(eq(u32, n, i < 2 ? 1000 : 501));
                cr_assert(eq(u32, c.sizes[i], n));
                cr_assert(eq(int, memcmp(d, c.digests[i], SR_DIGEST_LEN), 0),
                          "chunk %u", i);
        }
        cr_assert(eq(int, sr_seal_digest((const uint8_t(*)[SR_DIGEST_LEN])
                                                 c.digests,
                                         c.n, seal, &ec), SR_OK));
        cr_assert(eq(int, memcmp(seal, c.seal, SR_DIGEST_LEN), 0));
        sr_cli_chunks_fini(&c);
        free(text);
}

/* The same targets as an array: the same chunks, byte for byte. */
Test(cli_targets, an_array_and_json_lines_give_the_same_chunks)
{
        char *lines = targets_text(120, true), *array = targets_text(120,
                                                                     false);
        sr_cli_chunks_t a, b;
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_cli_chunks_read(lines, strlen(lines), "l", 50,
                                             &a, &ec), SR_OK), "%s", ec.msg);
        cr_assert(eq(int, sr_cli_chunks_read(array, strlen(array), "a", 50,
                                             &b, &ec), SR_OK), "%s", ec.msg);
        cr_assert(eq(u32, a.n, 3));
        cr_assert(eq(u32, b.n, 3));
        for (uint32_t i = 0; i < 3; i++)
                cr_assert(eq(str, a.bodies[i], b.bodies[i]));
        cr_assert(eq(int, memcmp(a.seal, b.seal, SR_DIGEST_LEN), 0));
        sr_cli_chunks_fini(&a);
        sr_cli_chunks_fini(&b);
        free(lines);
        free(array);
}

Test(cli_targets, the_seal_body_carries_chunks_count_and_the_digest_in_hex)
{
        char *text = targets_text(3, true), *body, hex[2 * SR_DIGEST_LEN + 1];
        sr_cli_chunks_t c;
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_cli_chunks_read(text, strlen(text), "t", 2, &c,
                                             &ec), SR_OK), "%s", ec.msg);
        for (int i = 0; i < SR_DIGEST_LEN; i++)
                snprintf(hex + 2 * i, 3, "%02x", c.seal[i]);
        body = sr_cli_seal_body(&c);
        cr_assert(not(eq(ptr, body, NULL)));
        cr_assert(eq(str, body, strstr(body, "{")));
        cr_assert(not(eq(ptr, strstr(body, "\"chunks\":2"), NULL)), "%s",
                  body);
        cr_assert(not(eq(ptr, strstr(body, "\"count\":3"), NULL)), "%s",
                  body);
        cr_assert(not(eq(ptr, strstr(body, hex), NULL)), "%s", body);
        free(body);
        sr_cli_chunks_fini(&c);
        free(text);
        /* no targets: no chunk, the digest of nothing */
        cr_assert(eq(int, sr_cli_chunks_read("\n \n", 3, "e", 2, &c, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(u32, c.n, 0));
        body = sr_cli_seal_body(&c);
        cr_assert(eq(str, body, "{\"chunks\":0,\"count\":0,\"digest\":"
                                "\"e3b0c44298fc1c149afbf4c8996fb924"
                                "27ae41e4649b934ca495991b7852b855\"}"));
        free(body);
        sr_cli_chunks_fini(&c);
}

Test(cli_targets, a_bad_target_is_named_by_file_and_line_or_index)
{
        static const struct {
                char text[160], msg[200];
        } cases[] = {
                { "{\"device_id\":\"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d\"}\n"
                  "\n{\"device_id\":42}\n",
                  "f:3: device_id: expected a UUID string, got 42" },
                { "{\"device_name\":\"x\"}",
                  "f:1: device_id: required field missing" },
                { "{\"device_id\":",
                  "f:1: malformed JSON at column 13: unexpected token near "
                  "end of file" },
                { "[{\"device_id\":\"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d\"},"
                  "{\"id\":1}]",
                  "f: targets[1].id: unknown field" },
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                sr_cli_chunks_t c;
                sr_errctx_t ec = { 0 };

                cr_assert(eq(int, sr_cli_chunks_read(cases[i].text,
                                                     strlen(cases[i].text),
                                                     "f", 10, &c, &ec),
                             SR_ERR_INVALID), "%s", cases[i].text);
                cr_assert(eq(str, ec.msg, (char *)cases[i].msg));
        }
}

Test(cli_targets, a_stage_is_opened_by_index_or_name_once)
{
        static const char spec_text[] =
                "{\"pipeline_id\":\"6f1c1d1e-0b7a-4c1e-9a7e-3c2b1a0f9e8d\","
                "\"stages\":[{\"name\":\"canary\",\"targets\":[{\"device_id\":"
                "\"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d\"}]},"
                "{\"name\":\"fleet\"},{\"name\":\"rest\"},{\"name\":\"rest\"}]}";
        sr_runspec_t spec;
        sr_errctx_t ec = { 0 };
        uint32_t index = 99;
        char *text;

        cr_assert(eq(int, sr_spec_json_parse(spec_text, strlen(spec_text),
                                             &spec, &ec), SR_OK), "%s",
                  ec.msg);
        cr_assert(eq(int, sr_cli_open_stage(&spec, "fleet", 25000, &index,
                                            &ec), SR_OK), "%s", ec.msg);
        cr_assert(eq(u32, index, 1));
        cr_assert(spec.stages[1].append_targets);
        cr_assert(eq(i64, spec.stages[1].expected_targets, 25000));
        cr_assert(eq(int, sr_cli_open_stage(&spec, "3", 1, &index, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(u32, index, 3));
        /* the spec the gateway gets: the open form */
        text = sr_runspec_to_json(&spec);
        cr_assert(not(eq(ptr, strstr(text, "\"name\":\"fleet\",\"description"
                                           "\":\"\",\"operations\":[],"
                                           "\"targets\":{\"append\":true,"
                                           "\"expected\":25000}"),
                         NULL)),
                  "%s", text);
        free(text);
        cr_assert(eq(int, sr_cli_open_stage(&spec, "fleet", 1, &index, &ec),
                     SR_ERR_INVALID));
        cr_assert(eq(int, sr_cli_open_stage(&spec, "canary", 1, &index, &ec),
                     SR_ERR_INVALID));
        cr_assert(not(eq(ptr, strstr(ec.msg, "--targets-file gives them"),
                         NULL)), "%s", ec.msg);
        cr_assert(eq(int, sr_cli_open_stage(&spec, "rest", 1, &index, &ec),
                     SR_ERR_INVALID));
        cr_assert(not(eq(ptr, strstr(ec.msg, "several"), NULL)), "%s",
                  ec.msg);
        cr_assert(eq(int, sr_cli_open_stage(&spec, "4", 1, &index, &ec),
                     SR_ERR_INVALID));
        cr_assert(eq(int, sr_cli_open_stage(&spec, "none", 1, &index, &ec),
                     SR_ERR_INVALID));
        sr_runspec_fini(&spec);
}
