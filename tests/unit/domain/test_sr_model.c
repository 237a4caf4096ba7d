/* tests/unit/domain/test_sr_model.c - ids, names and the run-spec hash. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <uuid/uuid.h>

#include "sr_model.h"

TestSuite(sr_model, .timeout = 5.0);

Test(sr_model, uuid_text_round_trips_in_any_case)
{
        const char *up = "5F1C0A52-7D7E-4C1E-9A53-3B2F0C9D5E11";
        char out[SR_UUID_STR_LEN + 1];
        sr_uuid_t u;

        cr_assert(sr_uuid_parse(up, strlen(up), &u) == true);
        cr_assert(sr_uuid_eq(&u, &sr_ns) == true);
        sr_uuid_fmt(&u, out);
        cr_assert(eq(str, out, "5f1c0a52-7d7e-4c1e-9a53-3b2f0c9d5e11"));
}

Test(sr_model, uuid_parse_agrees_with_libuuid_on_random_ids)
{
        for (int i = 0; i < 2000; i++) {
                char text[SR_UUID_STR_LEN + 1];
                uuid_t ref;
                sr_uuid_t u;

                uuid_generate_random(ref);
                uuid_unparse_upper(ref, text);
                cr_assert(sr_uuid_parse(text, SR_UUID_STR_LEN, &u) == true);
                cr_assert(memcmp(u.b, ref, 16) == 0, "%s", text);
        }
}

Test(sr_model, malformed_uuid_text_is_refused)
{
        static const char *const bad[] = {
                "", "5f1c0a52-7d7e-4c1e-9a53-3b2f0c9d5e1",
                "5f1c0a52-7d7e-4c1e-9a53-3b2f0c9d5e111",
                "5f1c0a52x7d7e-4c1e-9a53-3b2f0c9d5e11",
                "5f1c0a52-7d7e-4c1e-9a53-3b2f0c9d5eg1",
                "5f1c0a5-27d7e-4c1e-9a53-3b2f0c9d5e11",
                "{f1c0a52-7d7e-4c1e-9a53-3b2f0c9d5e1}",
        };
        sr_uuid_t u;

        for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
                cr_assert(sr_uuid_parse(bad[i], strlen(bad[i]), &u) == false,
                          "%s", bad[i]);
}

Test(sr_model, uuid_fmt_and_parse_agree_with_libuuid_and_round_trip)
{
        for (int i = 0; i < 2000; i++) {
                char ours[SR_UUID_STR_LEN + 1], ref[SR_UUID_STR_LEN + 1];
                sr_uuid_t u, back;

                uuid_generate_random(u.b);
                if (i < 2) /* all zero bits, then all one bits */
                        memset(u.b, i ? 0xff : 0, sizeof(u.b));
                sr_uuid_fmt(&u, ours);
                uuid_unparse_lower(u.b, ref);
                cr_assert(eq(str, ours, ref));
                cr_assert(sr_uuid_parse(ours, SR_UUID_STR_LEN, &back) == true);
                cr_assert(sr_uuid_eq(&u, &back) == true, "%s", ours);
        }
}

/* The reference: one digit a nibble, a dash before bytes 4, 6, 8 and 10. */
static void uuid_hex_ref(const sr_uuid_t *u, char out[SR_UUID_STR_LEN])
{
        static const char digits[] = "0123456789abcdef";
        size_t n = 0;

        for (int i = 0; i < 16; i++) {
                if (i == 4 || i == 6 || i == 8 || i == 10)
                        out[n++] = '-';
                out[n++] = digits[u->b[i] >> 4];
                out[n++] = digits[u->b[i] & 15];
        }
        cr_assert(eq(sz, n, SR_UUID_STR_LEN));
}

static void check_uuid_hex(const sr_uuid_t *u)
{
        char ours[SR_UUID_STR_LEN + 2], ref[SR_UUID_STR_LEN];

        /* a canary on either side: exactly 36 bytes are written */
        memset(ours, '#', sizeof(ours));
        sr_uuid_hex(u, ours + 1);
        uuid_hex_ref(u, ref);
        cr_assert(ours[0] == '#' && ours[SR_UUID_STR_LEN + 1] == '#');
        cr_assert(memcmp(ours + 1, ref, SR_UUID_STR_LEN) == 0,
                  "%.36s, expected %.36s", ours + 1, ref);
}

Test(sr_model, uuid_hex_matches_a_digit_per_nibble_reference)
{
        sr_uuid_t u;

        /* every byte value at every position */
        for (int pos = 0; pos < 16; pos++)
                for (int v = 0; v < 256; v++) {
                        memset(u.b, 0, sizeof(u.b));
                        u.b[pos] = (uint8_t)v;
                        check_uuid_hex(&u);
                }
        for (int i = 0; i < 100000; i++) {
                uuid_generate_random(u.b);
                check_uuid_hex(&u);
        }
}

/* Every position of a valid id: a dash where a digit belongs, a digit where
 * a dash belongs, and bytes that are no hex digit are all refused, and the
 * output is left alone. */
Test(sr_model, uuid_parse_refuses_each_bad_byte_and_wrong_lengths)
{
        static const char good[] = "5f1c0a52-7d7e-4c1e-9a53-3b2f0c9d5e11";
        static const char nonhex[] = { 'g', 'G', 'x', ' ', '-', '\0', '/',
                                       ':', '@', '`', (char)0x80, (char)0xff };
        const sr_uuid_t canary = { { 0xaa } };
        sr_uuid_t u;
        bool ok;

        for (size_t i = 0; i < SR_UUID_STR_LEN; i++) {
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;
                char s[SR_UUID_STR_LEN + 1];

                for (size_t j = 0; j < sizeof(nonhex); j++) {
                        if (dash && nonhex[j] == '-')
                                continue;
                        memcpy(s, good, sizeof(s));
                        s[i] = nonhex[j];
                        u = canary;
                        ok = sr_uuid_parse(s, SR_UUID_STR_LEN, &u);
                        cr_assert(ok == false, "byte %zu = 0x%02x", i,
                                  (unsigned char)nonhex[j]);
                        cr_assert(sr_uuid_eq(&u, &canary) == true);
                }
                if (dash) {
                        memcpy(s, good, sizeof(s));
                        s[i] = 'a';
                        ok = sr_uuid_parse(s, SR_UUID_STR_LEN, &u);
                        cr_assert(ok == false, "%s", s);
                }
        }
        /* A dash moved by one: 5f1c0a5-27d7e-... */
        cr_assert(sr_uuid_parse("5f1c0a5-27d7e-4c1e-9a53-3b2f0c9d5e11",
                                SR_UUID_STR_LEN, &u) == false);
        for (size_t len = 0; len <= sizeof(good); len++)
                if (len != SR_UUID_STR_LEN)
                        cr_assert(sr_uuid_parse(good, len, &u) == false,
                                  "len %zu", len);
        cr_assert(sr_uuid_parse("5F1C0A52-7d7E-4C1e-9A53-3B2F0C9D5E11",
                                SR_UUID_STR_LEN, &u) == true);
        cr_assert(sr_uuid_eq(&u, &sr_ns) == true);
}

Test(sr_model, uuid_v5_is_deterministic_and_name_sensitive)
{
        sr_uuid_t a, b, c;

        sr_uuid_v5(&a, &sr_ns, "%s/stage/%u", "run", 1u);
        sr_uuid_v5(&b, &sr_ns, "run/stage/1");
        sr_uuid_v5(&c, &sr_ns, "run/stage/2");
        cr_assert(sr_uuid_eq(&a, &b) == true);
        cr_assert(sr_uuid_eq(&a, &c) == false);
        cr_assert(eq(int, a.b[6] >> 4, 5)); /* version 5 */
}

Test(sr_model, statuses_parse_in_any_case_and_none_is_not_a_status)
{
        sr_status_t st;
        sr_cmdst_t cs;

        cr_assert(sr_status_parse("QuEuEd", 6, &st) == true);
        cr_assert(eq(int, st, SR_ST_QUEUED));
        cr_assert(sr_status_parse("none", 4, &st) == false);
        cr_assert(sr_status_parse("paused", 6, &st) == false);
        cr_assert(sr_cmdst_parse("inprogress", 10, &cs) == true);
        cr_assert(eq(int, cs, SR_CMDST_INPROGRESS));
        cr_assert(sr_cmdst_parse("EXPLODED", 8, &cs) == false);
        cr_assert(sr_status_is_terminal(SR_ST_INVALID) == true);
        cr_assert(sr_status_is_terminal(SR_ST_COMPLETE) == false);
}

Test(sr_model, spec_hash_sees_every_field_and_field_boundaries)
{
        sr_spec_stage_t st[1];
        sr_spec_op_t op[1];
        sr_runspec_t s, t;
        uint64_t h;

        memset(&s, 0, sizeof(s));
        memset(st, 0, sizeof(st));
        memset(op, 0, sizeof(op));
        snprintf(s.pipeline_name, sizeof(s.pipeline_name), "ab");
        snprintf(st[0].name, sizeof(st[0].name), "c");
        snprintf(op[0].operation_type, sizeof(op[0].operation_type), "INSTALL");
        st[0].ops = op;
        st[0].n_ops = 1;
        s.stages = st;
        s.n_stages = 1;
        h = sr_runspec_hash(&s);
        t = s;
        cr_assert(eq(u64, sr_runspec_hash(&t), h));
        snprintf(t.pipeline_name, sizeof(t.pipeline_name), "a");
        snprintf(st[0].name, sizeof(st[0].name), "bc");
        cr_assert(not(eq(u64, sr_runspec_hash(&t), h)));
        snprintf(st[0].name, sizeof(st[0].name), "c");
        t.auto_promote = true;
        snprintf(t.pipeline_name, sizeof(t.pipeline_name), "ab");
        cr_assert(not(eq(u64, sr_runspec_hash(&t), h)));
}

Test(sr_model, event_id_fast_path_equals_the_formatted_v5_name)
{
        static const uint64_t seqs[] = { 0, 1, 9, 10, 12345, UINT64_MAX };

        for (int i = 0; i < 200; i++) {
                char run_s[SR_UUID_STR_LEN + 1];
                sr_uuid_t run, a, b;
                uint64_t seq = i < 6 ? seqs[i] : (uint64_t)i * 7919u;

                sr_uuid_v4(&run);
                sr_uuid_fmt(&run, run_s);
                sr_uuid_event_id(&a, &run, seq);
                sr_uuid_v5(&b, &sr_ns, "%s/event/%" PRIu64, run_s, seq);
                cr_assert(eq(int, memcmp(a.b, b.b, sizeof(a.b)), 0),
                          "seq %" PRIu64, seq);
        }
}
