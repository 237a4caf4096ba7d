/* tests/unit/io/test_sr_registry.c - registering our schemas with an
 * external registry (sr_registry.h): the requests sent, the ids read from
 * the answers, and every refusal or failure named. A fake registry thread
 * answers one scripted answer per connection and keeps each request. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sr_clock.h"
#include "sr_conf.h"
#include "sr_registry.h"

#define MAX_CONN 19

static bool has(const char *s, const char *sub)
{
        return strstr(s, sub) != NULL;
}

struct fake {
        int fd, port;
        const char *answers[MAX_CONN]; /* per connection; NULL: silence 3 s */
        int n_answers;
        char got[MAX_CONN][81920]; /* each request as received (a schema is
                                    * over 32 KiB, JSON-escaped) */
        int n_got;
        pthread_t thread;
};

static void read_request(int c, char *buf, size_t cap)
{
        size_t n = 0;
        ssize_t r;

        while (n < cap - 1 && (r = read(c, buf + n, cap - 1 - n)) > 0) {
                char *end, *cl;

                n += (size_t)r;
                buf[n] = '\0';
                end = strstr(buf, "\r\n\r\n");
                cl = strstr(buf, "Content-Length: ");
                if (end && cl &&
                    strlen(end + 4) >= strtoul(cl + 16, NULL, 10))
                        break;
        }
}

static void *serve(void *arg)
{
        struct fake *f = arg;

        for (int i = 0; i < f->n_answers; i++) {
                int c = accept(f->fd, NULL, NULL);

                if (c < 0)
                        return NULL;
                read_request(c, f->got[i], sizeof(f->got[i]));
                f->n_got = i + 1;
                if (f->answers[i])
                        (void)!write(c, f->answers[i],
                                     strlen(f->answers[i]));
                else
                        sleep(3);
                close(c);
        }
        return NULL;
}

/* The fake registry answers @p answers (NULL-terminated when fewer than
 * MAX_CONN; pass n explicitly for silences). */
static void fake_start(struct fake *f, int n, const char **answers)
{
        struct sockaddr_in a = { .sin_family = AF_INET };
        socklen_t len = sizeof(a);

        memset(f, 0, sizeof(*f));
        f->n_answers = n;
        for (int i = 0; i < n; i++)
                f->answers[i] = answers[i];
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        f->fd = socket(AF_INET, SOCK_STREAM, 0);
        cr_assert(f->fd >= 0);
        cr_assert(eq(int, bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0));
        cr_assert(eq(int, listen(f->fd, 8), 0));
        getsockname(f->fd, (struct sockaddr *)&a, &len);
        f->port = ntohs(a.sin_port);
        cr_assert(eq(int, pthread_create(&f->thread, NULL, serve, f), 0));
}

static void fake_stop(struct fake *f)
{
        shutdown(f->fd, SHUT_RDWR);
        pthread_join(f->thread, NULL);
        close(f->fd);
}

static char *url_of(const struct fake *f, const char *path)
{
        static char url[128];

        snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", f->port, path);
        return url;
}

/* An answer with @p status_line and @p body, its Content-Length right;
 * static storage, one slot per call site's index @p slot. */
static const char *reply(int slot, const char *status_line,
                         const char *body)
{
        static char bufs[MAX_CONN][1024];

        snprintf(bufs[slot], sizeof(bufs[slot]),
                 "HTTP/1.1 %s\r\nContent-Type: "
                 "application/vnd.schemaregistry.v1+json\r\n"
                 "Content-Length: %zu\r\n\r\n%s", status_line,
                 strlen(body), body);
        return bufs[slot];
}

#define OK_ID(slot, n) reply(slot, "200 OK", "{\"id\": " #n "}")

TestSuite(sr_registry, .timeout = 20.0);

Test(sr_registry, each_schema_version_is_posted_under_its_subject_oldest_first_and_the_answered_ids_are_kept)
{
        /* Subjects in name order; the changelog has versions 1 to 4,
         * commands 1 to 8, replies 1 and 2, definition events 1. */
        const char *answers[] = { OK_ID(0, 104),  OK_ID(1, 108),
                                  OK_ID(2, 112),  OK_ID(3, 117),
                                  OK_ID(4, 101),  OK_ID(5, 107),
                                  OK_ID(6, 109),  OK_ID(7, 110),
                                  OK_ID(8, 111),  OK_ID(9, 115),
                                  OK_ID(10, 116), OK_ID(11, 118),
                                  OK_ID(12, 114), OK_ID(13, 105),
                                  OK_ID(14, 103), OK_ID(15, 106),
                                  OK_ID(16, 113), OK_ID(17, 102) };
        sr_errctx_t ec = { 0 };
        sr_schema_ids_t ids;
        struct fake f;

        fake_start(&f, 18, answers);
        cr_assert(eq(int, sr_registry_register(url_of(&f, "/apis/ccompat/v7/"),
                                               "sr.", 5000, &ids, &ec),
                     SR_OK), "%s", ec.msg);
        fake_stop(&f);
        cr_assert(eq(i32, ids.wire[SR_SCHEMA_COMMAND], 118));
        cr_assert(eq(i32, ids.older[0], 101)); /* commands version 1 */
        cr_assert(eq(i32, ids.older[2], 107)); /* commands version 2 */
        cr_assert(eq(i32, ids.older[3], 109)); /* commands version 3 */
        cr_assert(eq(i32, ids.older[4], 110)); /* commands version 4 */
        cr_assert(eq(i32, ids.older[7], 111)); /* commands version 5 */
        cr_assert(eq(i32, ids.older[8], 115)); /* commands version 6 */
        cr_assert(eq(i32, ids.older[9], 116)); /* commands version 7 */
        cr_assert(eq(i32, ids.wire[SR_SCHEMA_RESULT], 102));
        cr_assert(eq(i32, ids.wire[SR_SCHEMA_EVENT], 103));
        cr_assert(eq(i32, ids.wire[SR_SCHEMA_CHANGELOG], 117));
        cr_assert(eq(i32, ids.older[10], 112)); /* changelog version 3 */
        cr_assert(eq(i32, ids.older[1], 104)); /* changelog version 1 */
        cr_assert(eq(i32, ids.older[5], 108)); /* changelog version 2 */
        cr_assert(eq(i32, ids.wire[SR_SCHEMA_DISPATCH], 105));
        cr_assert(eq(i32, ids.wire[SR_SCHEMA_REPLY], 113));
        cr_assert(eq(i32, ids.older[6], 106)); /* replies version 1 */
        cr_assert(eq(i32, ids.wire[SR_SCHEMA_DEF_EVENT], 114));
        cr_assert(eq(int, f.n_got, 18));
        /* The first request, whole: path prefix kept, subject by
         * TopicNameStrategy, our schema's exact text as "schema". */
        cr_assert(has(f.got[0], "POST /apis/ccompat/v7/subjects/"
                                "sr.changelog-value/versions HTTP/1.1\r\n"),
                  "%s", f.got[0]);
        cr_assert(eq(int, strncmp(f.got[0], "POST ", 5), 0));
        cr_assert(has(f.got[1], "/subjects/sr.changelog-value/versions"));
        cr_assert(has(f.got[2], "/subjects/sr.changelog-value/versions"));
        cr_assert(has(f.got[3], "/subjects/sr.changelog-value/versions"));
        cr_assert(has(f.got[12],
                      "/subjects/sr.definition-events-value/versions"));
        cr_assert(has(f.got[14], "/subjects/sr.events-value/versions"));
        cr_assert(has(f.got[15], "/subjects/sr.replies-value/versions"));
        cr_assert(has(f.got[16], "/subjects/sr.replies-value/versions"));
        /* Each version's exact text: the changelog 4, 8, 12 then 18,
         * commands 1, 7, 9, 10, 11, 15, 16 then 17, definition events 14,
         * events 3, replies 6 then 13. */
        for (int i = 0; i < 17; i++) {
                static const int req[] = { 0,  1,  2,  3,  4,  5,
                                           6,  7,  8,  9,  10, 11,
                                           12, 14, 15, 16, 17 },
                                 id[] = { 4,  8,  12, 18, 1,  7,
                                          9,  10, 11, 15, 16, 17,
                                          14, 3,  6,  13, 2 };
                const char *body = strstr(f.got[req[i]], "\r\n\r\n") + 4;
                json_t *j = json_loads(body, 0, NULL);

                cr_assert(j != NULL, "body %s", body);
                cr_assert(eq(str, (char *)json_string_value(
                                          json_object_get(j, "schema")),
                             (char *)sr_codec_schema_json(id[i])),
                          "request %d", req[i]);
                json_decref(j);
        }
        for (int i = 4; i <= 11; i++)
                cr_assert(has(f.got[i], "/subjects/sr.commands-value/versions"));
}

Test(sr_registry, an_incompatible_schema_is_a_conf_error_naming_the_subject_and_the_registry_message)
{
        const char *answers[] = { reply(
                0, "409 Conflict",
                "{\"error_code\":409,\"message\":\"Schema being registered "
                "is incompatible with an earlier schema\"}") };
        sr_errctx_t ec = { 0 };
        sr_schema_ids_t ids;
        struct fake f;

        fake_start(&f, 1, answers);
        cr_assert(eq(int, sr_registry_register(url_of(&f, ""), "p-", 5000,
                                               &ids, &ec), SR_ERR_CONF));
        fake_stop(&f);
        cr_assert(has(ec.msg, "subject p-changelog-value"), "%s", ec.msg);
        cr_assert(has(ec.msg, "HTTP 409, incompatible"), "%s", ec.msg);
        cr_assert(has(ec.msg, "error_code 409: Schema being registered "
                                 "is incompatible"), "%s", ec.msg);
        cr_assert(has(ec.msg, "schema io.sr.v1."), "%s", ec.msg);
}

Test(sr_registry, an_invalid_schema_answer_422_is_a_conf_error)
{
        const char *answers[] = { reply(
                0, "422 Unprocessable Entity",
                "{\"error_code\":42201,\"message\":\"Invalid schema\"}") };
        sr_errctx_t ec = { 0 };
        sr_schema_ids_t ids;
        struct fake f;

        fake_start(&f, 1, answers);
        cr_assert(eq(int, sr_registry_register(url_of(&f, ""), "sr.", 5000,
                                               &ids, &ec), SR_ERR_CONF));
        fake_stop(&f);
        cr_assert(has(ec.msg, "HTTP 422, invalid schema"), "%s", ec.msg);
        cr_assert(has(ec.msg, "error_code 42201: Invalid schema"), "%s",
                  ec.msg);
}

Test(sr_registry, a_200_without_an_id_is_corrupt_and_not_retried)
{
        const char *answers[] = { reply(0, "200 OK", "<html>hi</html>"),
                                  reply(1, "200 OK", "{\"id\":-4}") };
        sr_errctx_t ec = { 0 };
        sr_schema_ids_t ids;
        struct fake f;

        for (int i = 0; i < 2; i++) {
                fake_start(&f, 1, answers + i);
                cr_assert(eq(int, sr_registry_register(url_of(&f, ""), "sr.",
                                                       5000, &ids, &ec),
                             SR_ERR_CORRUPT), "answer %d", i);
                fake_stop(&f);
                cr_assert(eq(int, f.n_got, 1));
                cr_assert(has(ec.msg, "without an id in 1..2^31-1"),
                          "%s", ec.msg);
        }
}

Test(sr_registry, a_5xx_is_retried_then_the_registration_goes_on)
{
        const char *answers[] = {
                reply(0, "503 Service Unavailable", ""),
                OK_ID(1, 111), OK_ID(2, 112), OK_ID(3, 113), OK_ID(4, 114),
                OK_ID(5, 115), OK_ID(6, 116), OK_ID(7, 117), OK_ID(8, 118),
                OK_ID(9, 119), OK_ID(10, 120), OK_ID(11, 121), OK_ID(12, 122),
                OK_ID(13, 123), OK_ID(14, 124), OK_ID(15, 125),
                OK_ID(16, 126), OK_ID(17, 127), OK_ID(18, 128)
        };
        sr_errctx_t ec = { 0 };
        sr_schema_ids_t ids;
        struct fake f;

        fake_start(&f, 19, answers);
        cr_assert(eq(int, sr_registry_register(url_of(&f, ""), "sr.", 5000,
                                               &ids, &ec), SR_OK), "%s",
                  ec.msg);
        fake_stop(&f);
        cr_assert(eq(int, f.n_got, 19));
        cr_assert(eq(i32, ids.older[1], 111));
        cr_assert(eq(i32, ids.older[5], 112));
        cr_assert(eq(i32, ids.older[10], 113));
        cr_assert(eq(i32, ids.wire[SR_SCHEMA_CHANGELOG], 114));
        cr_assert(eq(i32, ids.wire[SR_SCHEMA_RESULT], 128));
}

Test(sr_registry, two_of_our_schema_versions_given_one_id_is_corrupt)
{
        /* Two versions of one subject, then versions of two subjects. */
        const char *same[] = { OK_ID(0, 107), OK_ID(1, 107) };
        const char *across[] = { OK_ID(2, 104), OK_ID(3, 108),
                                 OK_ID(4, 112), OK_ID(5, 117),
                                 OK_ID(6, 108) };
        sr_errctx_t ec = { 0 };
        sr_schema_ids_t ids;
        struct fake f;

        fake_start(&f, 2, same);
        cr_assert(eq(int, sr_registry_register(url_of(&f, ""), "sr.", 5000,
                                               &ids, &ec), SR_ERR_CORRUPT));
        fake_stop(&f);
        cr_assert(has(ec.msg, "subject sr.changelog-value: the registry gave "
                              "id 107 to version 2 and to another"),
                  "%s", ec.msg);
        fake_start(&f, 5, across);
        cr_assert(eq(int, sr_registry_register(url_of(&f, ""), "sr.", 5000,
                                               &ids, &ec), SR_ERR_CORRUPT));
        fake_stop(&f);
        cr_assert(has(ec.msg, "subject sr.commands-value: the registry gave "
                              "id 108 to version 1 and to another"),
                  "%s", ec.msg);
}

Test(sr_registry, an_unreachable_registry_is_retried_for_the_wait_then_an_io_error)
{
        struct sockaddr_in a = { .sin_family = AF_INET };
        socklen_t len = sizeof(a);
        sr_errctx_t ec = { 0 };
        sr_schema_ids_t ids;
        char url[64];
        int64_t t0;
        int fd;

        /* A port nobody listens on: bound, then closed. */
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fd = socket(AF_INET, SOCK_STREAM, 0);
        cr_assert(eq(int, bind(fd, (struct sockaddr *)&a, sizeof(a)), 0));
        getsockname(fd, (struct sockaddr *)&a, &len);
        close(fd);
        snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(a.sin_port));
        t0 = sr_clock_mono_ms();
        cr_assert(eq(int, sr_registry_register(url, "sr.", 1500, &ids, &ec),
                     SR_ERR_IO));
        cr_assert(sr_clock_mono_ms() - t0 >= 1400, "gave up too soon");
        cr_assert(sr_clock_mono_ms() - t0 < 3000, "waited too long");
        cr_assert(has(ec.msg, "unreachable or failing after"), "%s",
                  ec.msg);
        cr_assert(has(ec.msg, "Connection refused"), "%s", ec.msg);
}

Test(sr_registry, a_silent_registry_times_out_within_the_wait)
{
        const char *answers[] = { NULL };
        sr_errctx_t ec = { 0 };
        sr_schema_ids_t ids;
        struct fake f;
        int64_t t0 = sr_clock_mono_ms();

        fake_start(&f, 1, answers);
        cr_assert(eq(int, sr_registry_register(url_of(&f, ""), "sr.", 1000,
                                               &ids, &ec), SR_ERR_IO));
        cr_assert(sr_clock_mono_ms() - t0 < 2500, "waited too long");
        fake_stop(&f);
        cr_assert(has(ec.msg, "no answer in time"), "%s", ec.msg);
}

Test(sr_registry, urls_are_split_and_https_or_garbage_refused)
{
        sr_registry_url_t u;
        sr_errctx_t ec = { 0 };

        cr_assert(eq(int, sr_registry_parse_url("http://reg.example:8081/a/b/",
                                                &u, &ec), SR_OK));
        cr_assert(eq(str, u.host, "reg.example"));
        cr_assert(eq(int, u.port, 8081));
        cr_assert(eq(str, u.path, "/a/b"));
        cr_assert(eq(int, sr_registry_parse_url("http://reg", &u, &ec),
                     SR_OK));
        cr_assert(eq(int, u.port, 80));
        cr_assert(eq(str, u.path, ""));
        cr_assert(eq(int, sr_registry_parse_url("https://reg", &u, &ec),
                     SR_ERR_CONF));
        cr_assert(has(ec.msg, "https is not supported"), "%s", ec.msg);
        cr_assert(eq(int, sr_registry_parse_url("http://reg:0", &u, &ec),
                     SR_ERR_CONF));
        cr_assert(eq(int, sr_registry_parse_url("http://:80", &u, &ec),
                     SR_ERR_CONF));
        cr_assert(eq(int, sr_registry_parse_url("reg:8081", &u, &ec),
                     SR_ERR_CONF));
}

Test(sr_registry, the_conf_key_refuses_an_https_url_naming_the_key)
{
        sr_conf_t *conf = sr_conf_new();
        sr_errctx_t ec = { 0 };

        cr_assert(conf != NULL);
        cr_assert(eq(int, sr_conf_set(conf, "schema.registry.url",
                                      "https://reg:8081", &ec),
                     SR_ERR_CONF));
        cr_assert(has(ec.msg, "schema.registry.url"), "%s", ec.msg);
        cr_assert(eq(int, sr_conf_set(conf, "schema.registry.url",
                                      "http://reg:8081", &ec), SR_OK));
        /* Without a registry the ids are the built-in ones. */
        cr_assert(eq(i32, conf->schema_ids.wire[SR_SCHEMA_EVENT], 3));
        sr_conf_destroy(conf);
}
