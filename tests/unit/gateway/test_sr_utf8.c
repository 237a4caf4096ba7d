/* tests/unit/gateway/test_sr_utf8.c - messages cut into fixed buffers end on a
 * character boundary: the UTF-8 helpers (base/sr_utf8), and every fixed-buffer message
 * writer that uses them (sr_errctx_set, sr_errctx_prefix, the HTTP
 * problems and their envelope, the state machine's reply). Here, not in
 * tests/unit/base/, because the HTTP problems are the gateway layer. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_err.h"
#include "sr_http.h"
#include "sr_utf8.h"

TestSuite(sr_utf8, .timeout = 5.0);

/* One character of 2, 3 or 4 bytes, and how many of its bytes fit. */
struct cut_case {
        int bytes;  /* length of the character */
        int fits;   /* 1..bytes-1: the buffer ends inside it */
};

static const char *const chars[] = {
        [2] = "\xc3\xa9",         /* U+00E9 */
        [3] = "\xe2\x82\xac",     /* U+20AC */
        [4] = "\xf0\x9f\x98\x80", /* U+1F600 */
};

/* Every way a buffer can end inside a character. */
static struct criterion_test_params cut_cases(void)
{
        static struct cut_case cases[] = {
                { 2, 1 }, { 3, 1 }, { 3, 2 }, { 4, 1 }, { 4, 2 }, { 4, 3 },
        };
        return cr_make_param_array(struct cut_case, cases,
                                   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTestParameters(sr_utf8, cut_inside_a_character)
{
        return cut_cases();
}

/* Every byte of @p s is part of a whole, valid UTF-8 character. */
static bool whole_utf8(const char *s)
{
        size_t len = strlen(s), i = 0, n;

        while (i < len) {
                n = sr_utf8_seq_len((const unsigned char *)s + i, len - i);
                if (!n)
                        return false;
                i += n;
        }
        return true;
}

/* @p prefix ASCII bytes, then the case's character, then "tail". */
static void text_with_char(char *out, size_t prefix, const struct cut_case *c)
{
        memset(out, 'a', prefix);
        strcpy(out + prefix, chars[c->bytes]);
        strcat(out, "tail");
}

ParameterizedTest(struct cut_case *c, sr_utf8, cut_inside_a_character)
{
        char text[64];

        cr_assert(eq(sz, sr_utf8_cut(chars[c->bytes], (size_t)c->fits), 0));
        cr_assert(eq(sz, sr_utf8_cut(chars[c->bytes], (size_t)c->bytes),
                     (size_t)c->bytes));
        text_with_char(text, 10, c);
        cr_assert(eq(sz, sr_utf8_cut(text, 10 + (size_t)c->fits), 10));
        cr_assert(eq(sz, sr_utf8_cut(text, 10 + (size_t)c->bytes),
                     10 + (size_t)c->bytes));
}

ParameterizedTestParameters(sr_utf8, errctx_set_cuts_at_a_boundary)
{
        return cut_cases();
}

ParameterizedTest(struct cut_case *c, sr_utf8, errctx_set_cuts_at_a_boundary)
{
        sr_errctx_t ec = { 0 };
        size_t prefix = sizeof(ec.msg) - 1 - (size_t)c->fits;
        char text[sizeof(ec.msg) + 16];

        text_with_char(text, prefix, c);
        sr_errctx_set(&ec, SR_ERR_INVALID, "%s", text);
        cr_assert(eq(sz, strlen(ec.msg), prefix), "kept a partial char");
        cr_assert(whole_utf8(ec.msg));
}

ParameterizedTestParameters(sr_utf8, errctx_prefix_cuts_at_a_boundary)
{
        return cut_cases();
}

ParameterizedTest(struct cut_case *c, sr_utf8,
                  errctx_prefix_cuts_at_a_boundary)
{
        sr_errctx_t ec = { 0 };
        /* "head: " + old must end inside the character */
        size_t prefix = sizeof(ec.msg) - 1 - (size_t)c->fits - 6;
        char text[sizeof(ec.msg) + 16];

        text_with_char(text, prefix, c);
        text[prefix + (size_t)c->bytes] = '\0'; /* the character ends it */
        memcpy(ec.msg, text, strlen(text) + 1);
        sr_errctx_prefix(&ec, "head");
        cr_assert(eq(sz, strlen(ec.msg), prefix + 6));
        cr_assert(whole_utf8(ec.msg));
}

ParameterizedTestParameters(sr_utf8, http_problem_cuts_at_a_boundary)
{
        return cut_cases();
}

/* The message is cut whole and the envelope has no U+FFFD in its place. */
ParameterizedTest(struct cut_case *c, sr_utf8,
                  http_problem_cuts_at_a_boundary)
{
        sr_http_problem_t prob = { 0 };
        size_t prefix = SR_HTTP_MSG_MAX - 1 - (size_t)c->fits;
        char text[SR_HTTP_MSG_MAX + 16];
        sr_buf_t env = { 0 };
        json_t *doc;

        text_with_char(text, prefix, c);
        sr_http_problem_set(&prob, 400, "%s", text);
        cr_assert(eq(sz, strlen(prob.message), prefix));
        cr_assert(whole_utf8(prob.message));
        cr_assert(eq(int, sr_http_problem_envelope(&prob, &env), SR_OK));
        cr_assert(strstr(env.ptr, "\xef\xbf\xbd") == NULL, "%s",
                  (char *)env.ptr);
        doc = json_loadb(env.ptr, env.len, 0, NULL);
        cr_assert(doc != NULL);
        cr_assert(eq(sz, strlen(json_string_value(json_object_get(
                                 doc, "message"))), prefix));
        json_decref(doc);
        sr_buf_free(&env);
}

Test(sr_utf8, cut_keeps_whole_text_and_ascii)
{
        cr_assert(eq(sz, sr_utf8_cut("", 0), 0));
        cr_assert(eq(sz, sr_utf8_cut("abc", 3), 3));
        cr_assert(eq(sz, sr_utf8_cut("ab\xc3\xa9", 4), 4));
        /* bytes that are not UTF-8 anyway are not ours to judge: kept */
        cr_assert(eq(sz, sr_utf8_cut("ab\xff", 3), 3));
        cr_assert(eq(sz, sr_utf8_cut("ab\x80\x80", 4), 4));
}

Test(sr_utf8, format_reports_the_full_length_and_cuts_whole)
{
        char buf[8];
        int n = sr_utf8_format(buf, sizeof(buf), "abcde%s", "\xe2\x82\xac");

        cr_assert(eq(int, n, 8));
        cr_assert(eq(str, buf, "abcde"));
        n = sr_utf8_format(buf, sizeof(buf), "ab%s", "\xe2\x82\xac");
        cr_assert(eq(int, n, 5));
        cr_assert(eq(str, buf, "ab\xe2\x82\xac"));
}

Test(sr_utf8, seq_len_refuses_overlong_surrogates_and_out_of_range)
{
        cr_assert(eq(sz, sr_utf8_seq_len((const unsigned char *)"a", 1), 1));
        cr_assert(eq(sz, sr_utf8_seq_len((const unsigned char *)"\xc0\x80",
                                         2), 0));
        cr_assert(eq(sz, sr_utf8_seq_len(
                                 (const unsigned char *)"\xe0\x80\x80", 3),
                     0));
        cr_assert(eq(sz, sr_utf8_seq_len(
                                 (const unsigned char *)"\xed\xa0\x80", 3),
                     0));
        cr_assert(eq(sz, sr_utf8_seq_len(
                                 (const unsigned char *)"\xf4\x90\x80\x80",
                                 4), 0));
        cr_assert(eq(sz, sr_utf8_seq_len(
                                 (const unsigned char *)"\xf0\x9f\x98\x80",
                                 4), 4));
        cr_assert(eq(sz, sr_utf8_seq_len(
                                 (const unsigned char *)"\xf0\x9f\x98", 3),
                     0));
}
