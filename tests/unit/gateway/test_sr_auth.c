/* tests/unit/gateway/test_sr_auth.c - API tokens: loading and checking. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sr_auth.h"

static char path[] = "/tmp/sr_auth_test.XXXXXX";

static void write_file(const char *text)
{
        int fd = mkstemp(path);
        FILE *f;

        cr_assert(fd >= 0);
        f = fdopen(fd, "w");
        fputs(text, f);
        fclose(f);
}

static void teardown(void)
{
        unlink(path);
}

TestSuite(sr_auth, .fini = teardown, .timeout = 5.0);

Test(sr_auth, file_and_env_tokens_map_to_their_enterprise)
{
        char ent[SR_SHORT_MAX];
        sr_errctx_t ec = { 0 };
        sr_auth_t *a;

        write_file("# tokens\n\nsecret-1:acme\n  secret-2 : globex\n");
        cr_assert(eq(int, sr_auth_new(path, "dev-token:dev,x:y", &a, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(eq(sz, sr_auth_count(a), 4));
        cr_assert(sr_auth_check(a, "Bearer secret-1", ent) == true);
        cr_assert(eq(str, ent, "acme"));
        cr_assert(sr_auth_check(a, "bearer dev-token", ent) == true);
        cr_assert(eq(str, ent, "dev"));
        cr_assert(sr_auth_check(a, "Token x", ent) == true);
        cr_assert(eq(str, ent, "y"));
        sr_auth_destroy(a);
}

Test(sr_auth, unknown_missing_or_malformed_credentials_are_refused)
{
        char ent[SR_SHORT_MAX];
        sr_auth_t *a;

        cr_assert(eq(int, sr_auth_new(NULL, "dev-token:dev", &a, NULL),
                     SR_OK));
        cr_assert(sr_auth_check(a, NULL, ent) == false);
        cr_assert(sr_auth_check(a, "", ent) == false);
        cr_assert(sr_auth_check(a, "Bearer ", ent) == false);
        cr_assert(sr_auth_check(a, "Bearer dev-toke", ent) == false);
        cr_assert(sr_auth_check(a, "Bearer dev-token2", ent) == false);
        cr_assert(sr_auth_check(a, "Basic dev-token", ent) == false);
        cr_assert(sr_auth_check(a, "dev-token", ent) == false);
        sr_auth_destroy(a);
}

Test(sr_auth, bad_file_line_names_file_and_line_without_the_token)
{
        sr_errctx_t ec = { 0 };
        sr_auth_t *a = NULL;

        write_file("good:acme\nsupersecretvalue\n");
        cr_assert(eq(int, sr_auth_new(path, NULL, &a, &ec), SR_ERR_CONF));
        cr_assert(strstr(ec.msg, ":2: expected token:enterprise") != NULL,
                  "%s", ec.msg);
        cr_assert(strstr(ec.msg, "supersecret") == NULL);
}

Test(sr_auth, bad_env_entry_is_named_by_position)
{
        sr_errctx_t ec = { 0 };
        sr_auth_t *a = NULL;

        cr_assert(eq(int, sr_auth_new(NULL, "a:b,c:", &a, &ec), SR_ERR_CONF));
        cr_assert(eq(str, ec.msg, "SR_API_TOKENS entry 2: empty enterprise"));
}

Test(sr_auth, missing_file_is_an_io_error)
{
        sr_errctx_t ec = { 0 };
        sr_auth_t *a = NULL;

        cr_assert(eq(int, sr_auth_new("/nonexistent/tokens", NULL, &a, &ec),
                     SR_ERR_IO));
        cr_assert(strstr(ec.msg, "/nonexistent/tokens") != NULL);
}

/* RFC 9110: SP and HTAB are alike wherever whitespace may stand (OWS
 * around the value, the separator after the scheme, which we take as
 * 1*(SP / HTAB)); the scheme is case-insensitive. */
Test(sr_auth, space_and_tab_are_alike_around_the_token)
{
        static const char *const good[] = {
                "Bearer dev-token",     "Bearer\tdev-token",
                "Bearer dev-token\t",   "Bearer dev-token \t ",
                "\tBearer dev-token",   " \t Bearer \t dev-token\t",
                "BEARER dev-token",     "bEaReR\tdev-token",
                "Token\tdev-token\t",
        };
        static const char *const bad[] = {
                "Bearerdev-token",     "Bearer\rdev-token",
                "Bearer dev-token\v",  "Bearer dev-token\r",
                "Bearer dev token",    "Bearer dev-token x",
                "Bearer\t",            "\t",
                "Bearer\tdev-token\tx",
        };
        char ent[SR_SHORT_MAX];
        sr_auth_t *a;

        cr_assert(eq(int, sr_auth_new(NULL, "dev-token:dev", &a, NULL),
                     SR_OK));
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
                ent[0] = '\0';
                cr_assert(sr_auth_check(a, good[i], ent), "refused: \"%s\"",
                          good[i]);
                cr_assert(eq(str, ent, "dev"));
        }
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                cr_assert(not(sr_auth_check(a, bad[i], ent)),
                          "accepted: \"%s\"", bad[i]);
        sr_auth_destroy(a);
}

/* Any byte but ':' and ',' may be part of an enterprise id, '/' too
 * (sr_idem_uuid() keeps keyed ids apart). */
Test(sr_auth, enterprise_with_a_slash_is_an_enterprise)
{
        sr_errctx_t ec = { 0 };
        sr_auth_t *a = NULL;
        char ent[SR_SHORT_MAX];

        cr_assert(eq(int, sr_auth_new(NULL, "t1:acme,t2:acme/eu", &a, &ec),
                     SR_OK), "%s", ec.msg);
        cr_assert(sr_auth_check(a, "Bearer t2", ent));
        cr_assert(eq(str, ent, "acme/eu"));
        sr_auth_destroy(a);
}
