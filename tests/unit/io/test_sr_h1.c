/* tests/unit/io/test_sr_h1.c - the HTTP/1.1 request parser: every rule of
 * sr_h1_parse(), each input fed whole, byte by byte and in odd pieces
 * (the events must not depend on where the input is split). */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_h1.h"

/* A textual trace of the events, BODY pieces merged:
 *   HEAD GET /x 1.1 framing=0 len=0 ka=1 continue=0 [Host=a][X=b]
 *   BODY hello
 *   END
 *   ERROR 400 <message>                                                 */
typedef struct trace {
        char *text;
        size_t len, cap;
        char *body; /* pending BODY bytes */
        size_t blen, bcap;
        int status;
        char message[SR_H1_MSG_MAX];
} trace_t;

static void put(trace_t *t, const char *s, size_t n)
{
        if (t->len + n + 1 > t->cap) {
                t->cap = (t->len + n + 1) * 2;
                t->text = realloc(t->text, t->cap);
                cr_assert(t->text != NULL);
        }
        memcpy(t->text + t->len, s, n);
        t->len += n;
        t->text[t->len] = '\0';
}

static void puts_(trace_t *t, const char *s)
{
        put(t, s, strlen(s));
}

static void flush_body(trace_t *t)
{
        if (!t->blen)
                return;
        puts_(t, "BODY ");
        put(t, t->body, t->blen);
        puts_(t, "\n");
        t->blen = 0;
}

static void on_head(trace_t *t, const sr_h1_head_t *h)
{
        char line[256];

        snprintf(line, sizeof(line),
                 "HEAD %s %s 1.%d framing=%d len=%llu ka=%d continue=%d ",
                 h->method, h->target, h->minor_version, (int)h->framing,
                 (unsigned long long)h->content_length, h->keep_alive,
                 h->expect_continue);
        puts_(t, line);
        cr_assert(eq(sz, strlen(h->target), h->target_len));
        for (size_t i = 0; i < h->n_fields; i++) {
                cr_assert(eq(sz, strlen(h->fields[i].name),
                             h->fields[i].name_len));
                cr_assert(eq(sz, strlen(h->fields[i].value),
                             h->fields[i].value_len));
                puts_(t, "[");
                puts_(t, h->fields[i].name);
                puts_(t, "=");
                puts_(t, h->fields[i].value);
                puts_(t, "]");
        }
        puts_(t, "\n");
}

/* Feed @p len bytes in pieces of @p piece bytes (0: all at once). */
static void run(const char *in, size_t len, size_t piece, trace_t *t)
{
        static sr_h1_parser_t p; /* 28 KiB: not on the stack */
        size_t off = 0;

        memset(t, 0, sizeof(*t));
        puts_(t, "");
        sr_h1_parser_init(&p);
        while (off <= len) {
                size_t n = piece && len - off > piece ? piece : len - off;
                size_t at = 0;
                bool more = false;

                while (!more) {
                        sr_slice_t body;
                        size_t used;
                        sr_h1_event_t ev = sr_h1_parse(&p, in + off + at,
                                                       n - at, &used, &body);

                        cr_assert(le(sz, used, n - at));
                        at += used;
                        switch (ev) {
                        case SR_H1_MORE:
                                cr_assert(eq(sz, at, n), "MORE with input");
                                more = true;
                                break;
                        case SR_H1_HEAD:
                                flush_body(t);
                                on_head(t, &p.head);
                                break;
                        case SR_H1_BODY:
                                cr_assert(gt(sz, body.len, 0));
                                if (t->blen + body.len > t->bcap) {
                                        t->bcap = (t->blen + body.len) * 2;
                                        t->body = realloc(t->body, t->bcap);
                                }
                                memcpy(t->body + t->blen, body.ptr,
                                       body.len);
                                t->blen += body.len;
                                break;
                        case SR_H1_END:
                                flush_body(t);
                                puts_(t, "END\n");
                                break;
                        case SR_H1_ERROR:
                                flush_body(t);
                                t->status = p.status;
                                snprintf(t->message, sizeof(t->message),
                                         "%s", p.message);
                                puts_(t, "ERROR ");
                                {
                                        char num[8];

                                        snprintf(num, sizeof(num), "%d ",
                                                 p.status);
                                        puts_(t, num);
                                }
                                puts_(t, p.message);
                                puts_(t, "\n");
                                /* final: again, and nothing taken */
                                cr_assert(eq(int, sr_h1_parse(&p, "x", 1,
                                                              &used, &body),
                                             SR_H1_ERROR));
                                cr_assert(eq(sz, used, 0));
                                free(t->body);
                                return;
                        }
                }
                off += n;
                if (off == len)
                        break;
        }
        flush_body(t);
        free(t->body);
}

/* The trace of @p in, checked to be the same whole, byte by byte and in
 * pieces of 2, 3, 7 and 64 bytes. Caller frees t->text. */
static void parse_n(const char *in, size_t len, trace_t *t)
{
        static const size_t pieces[] = { 1, 2, 3, 7, 64 };

        run(in, len, 0, t);
        for (size_t i = 0; i < sizeof(pieces) / sizeof(*pieces); i++) {
                trace_t u;

                run(in, len, pieces[i], &u);
                cr_assert(eq(str, u.text, t->text), "piece %zu", pieces[i]);
                free(u.text);
        }
}

static void parse(const char *in, trace_t *t)
{
        parse_n(in, strlen(in), t);
}

/* The request must be refused with @p status and a message holding
 * @p part. */
static void refused(const char *in, int status, const char *part)
{
        trace_t t;

        parse(in, &t);
        cr_assert(eq(int, t.status, status), "%s\n-> %s", in, t.text);
        cr_assert(strstr(t.message, part) != NULL, "\"%s\" not in \"%s\"",
                  part, t.message);
        free(t.text);
}

static void accepted(const char *in, const char *trace)
{
        trace_t t;

        parse(in, &t);
        cr_assert(eq(str, t.text, (char *)trace), "%s", in);
        free(t.text);
}

#define GET_HOST "GET / HTTP/1.1\r\nHost: h\r\n"

/* ------------------------------------------------------------ request */

Test(sr_h1, simple_get_gives_head_then_end)
{
        accepted("GET /v0/runs/?limit=5 HTTP/1.1\r\nHost: a:8080\r\n"
                 "Authorization: Bearer t\r\n\r\n",
                 "HEAD GET /v0/runs/?limit=5 1.1 framing=0 len=0 ka=1 "
                 "continue=0 [Host=a:8080][Authorization=Bearer t]\nEND\n");
}

Test(sr_h1, pipelined_requests_come_in_order)
{
        accepted("GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
                 "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz"
                 "GET /c HTTP/1.0\r\n\r\n",
                 "HEAD GET /a 1.1 framing=0 len=0 ka=1 continue=0 [Host=h]\n"
                 "END\n"
                 "HEAD POST /b 1.1 framing=1 len=3 ka=1 continue=0 [Host=h]"
                 "[Content-Length=3]\nBODY xyz\nEND\n"
                 "HEAD GET /c 1.0 framing=0 len=0 ka=0 continue=0 \nEND\n");
}

Test(sr_h1, leading_empty_lines_are_skipped_up_to_a_limit)
{
        accepted("\r\n\r\n" GET_HOST "\r\n",
                 "HEAD GET / 1.1 framing=0 len=0 ka=1 continue=0 [Host=h]\n"
                 "END\n");
        refused("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n" GET_HOST "\r\n", 400,
                "empty lines");
}

Test(sr_h1, lines_must_end_with_crlf)
{
        refused("GET / HTTP/1.1\nHost: h\r\n\r\n", 400, "CRLF");
        refused("GET / HTTP/1.1\r\nHost: h\n\r\n", 400, "CRLF");
        refused("GET / HTTP/1.1\r\nHost: h\r\n\n", 400, "CRLF");
        refused("\n" GET_HOST "\r\n", 400, "CRLF");
}

Test(sr_h1, request_line_needs_single_spaces_and_a_token_method)
{
        refused("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "request line");
        refused("GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400, "request line");
        refused(" GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "request line");
        refused("G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400, "request line");
        refused("GET /\r\nHost: h\r\n\r\n", 400, "request line");
        refused("GET\r\n\r\n", 400, "request line");
        refused("GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", 400, "request line");
        accepted("get / HTTP/1.1\r\nHost: h\r\n\r\n",
                 "HEAD get / 1.1 framing=0 len=0 ka=1 continue=0 [Host=h]\n"
                 "END\n");
}

Test(sr_h1, target_must_be_origin_form_without_controls)
{
        refused("GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", 400, "control");
        refused("GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n", 400, "control");
        refused("GET /a\rb HTTP/1.1\r\nHost: h\r\n\r\n", 400, "control");
        refused("GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400, "origin-form");
        refused("GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400,
                "origin-form");
        refused("GET a HTTP/1.1\r\nHost: h\r\n\r\n", 400, "origin-form");
}

Test(sr_h1, nul_in_the_request_line_is_refused)
{
        static const char in[] = "GET /a\0b HTTP/1.1\r\nHost: h\r\n\r\n";
        trace_t t;

        parse_n(in, sizeof(in) - 1, &t);
        cr_assert(eq(int, t.status, 400), "%s", t.text);
        free(t.text);
}

Test(sr_h1, other_http_versions_are_505_and_garbage_400)
{
        refused("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505, "HTTP/1.1");
        refused("GET / HTTP/0.9\r\nHost: h\r\n\r\n", 505, "HTTP/1.1");
        refused("GET / HTTP/3.0\r\n\r\n", 505, "HTTP/1.1");
        refused("GET / HTTP/1.10\r\nHost: h\r\n\r\n", 400, "request line");
        refused("GET / http/1.1\r\nHost: h\r\n\r\n", 400, "request line");
        refused("GET / HTTP/1\r\nHost: h\r\n\r\n", 400, "request line");
        refused("GET / HTTPS/1.1\r\nHost: h\r\n\r\n", 400, "request line");
        /* RFC 9110 §6.2: a higher 1.x is read as 1.1 (so Host is needed) */
        accepted("GET / HTTP/1.2\r\nHost: h\r\n\r\n",
                 "HEAD GET / 1.1 framing=0 len=0 ka=1 continue=0 [Host=h]\n"
                 "END\n");
        refused("GET / HTTP/1.2\r\n\r\n", 400, "Host");
}

Test(sr_h1, request_line_over_8_kib_is_414_before_it_ends)
{
        size_t n = SR_H1_LINE_MAX + 100;
        char *in = malloc(n + 64);
        trace_t t;

        memcpy(in, "GET /", 5);
        memset(in + 5, 'a', n - 5);
        in[n] = '\0'; /* no CRLF yet: refused without waiting for it */
        parse(in, &t);
        cr_assert(eq(int, t.status, 414), "%s", t.text);
        free(t.text);
        /* exactly the limit is fine */
        memset(in + 5, 'a', SR_H1_LINE_MAX - 5 - 9);
        strcpy(in + SR_H1_LINE_MAX - 9, " HTTP/1.1\r\nHost: h\r\n\r\n");
        cr_assert(eq(sz, strcspn(in, "\r"), (size_t)SR_H1_LINE_MAX));
        parse(in, &t);
        cr_assert(eq(int, t.status, 0), "%s", t.text);
        cr_assert(strstr(t.text, "END\n") != NULL);
        free(t.text);
        /* one more byte is 414 */
        memmove(in + 6, in + 5, strlen(in + 5) + 1);
        parse(in, &t);
        cr_assert(eq(int, t.status, 414), "%s", t.text);
        free(t.text);
        free(in);
}

/* ------------------------------------------------------------ fields */

Test(sr_h1, field_values_are_trimmed_of_spaces_and_tabs)
{
        accepted("GET / HTTP/1.1\r\nHost:h\r\nX-A: \t a b \t\r\nX-B:\r\n"
                 "X-C: \t \r\n\r\n",
                 "HEAD GET / 1.1 framing=0 len=0 ka=1 continue=0 [Host=h]"
                 "[X-A=a b][X-B=][X-C=]\nEND\n");
        accepted("GET / HTTP/1.1\r\nHost: h\r\nX-T: a\tb\r\n\r\n",
                 "HEAD GET / 1.1 framing=0 len=0 ka=1 continue=0 [Host=h]"
                 "[X-T=a\tb]\nEND\n");
}

Test(sr_h1, obs_text_in_a_value_is_kept)
{
        accepted("GET / HTTP/1.1\r\nHost: h\r\nX-U: caf\xc3\xa9\r\n\r\n",
                 "HEAD GET / 1.1 framing=0 len=0 ka=1 continue=0 [Host=h]"
                 "[X-U=caf\xc3\xa9]\nEND\n");
}

Test(sr_h1, whitespace_before_the_colon_is_refused)
{
        refused("GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400, "before ':'");
        refused("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", 400, "before ':'");
        refused("GET / HTTP/1.1\r\nHost: h\r\nNo colon\r\n\r\n", 400,
                "Name: value");
        refused("GET / HTTP/1.1\r\nHost: h\r\n: empty name\r\n\r\n", 400,
                "Name: value");
        refused("GET / HTTP/1.1\r\nHost: h\r\nX(y): 1\r\n\r\n", 400,
                "Name: value");
}

Test(sr_h1, obs_fold_is_refused)
{
        refused("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n", 400,
                "obs-fold");
        refused("GET / HTTP/1.1\r\n\tHost: h\r\n\r\n", 400, "obs-fold");
}

Test(sr_h1, nul_in_a_header_value_is_refused)
{
        static const char in[] = "GET / HTTP/1.1\r\nHost: h\r\n"
                                 "Authorization: Bearer tok\0junk\r\n\r\n";
        trace_t t;

        parse_n(in, sizeof(in) - 1, &t);
        cr_assert(eq(int, t.status, 400), "%s", t.text);
        cr_assert(strstr(t.message, "Authorization: invalid byte 0x00") !=
                  NULL, "%s", t.message);
        free(t.text);
}

Test(sr_h1, control_characters_in_values_are_refused)
{
        refused("GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", 400,
                "X: invalid byte 0x0d");
        refused("GET / HTTP/1.1\r\nHost: h\r\nX: a\x01" "b\r\n\r\n", 400,
                "0x01");
        refused("GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f\r\n\r\n", 400,
                "0x7f");
        refused("GET / HTTP/1.1\r\nHost: h\r\nX: a\x1b[31m\r\n\r\n", 400,
                "0x1b");
}

Test(sr_h1, hundred_fields_pass_and_one_more_is_431)
{
        char *in = malloc(8192);
        size_t n = 0;
        trace_t t;

        n += (size_t)sprintf(in + n, "GET / HTTP/1.1\r\nHost: h\r\n");
        for (int i = 1; i < SR_H1_FIELDS_MAX; i++)
                n += (size_t)sprintf(in + n, "X-%d: v\r\n", i);
        strcpy(in + n, "\r\n");
        parse(in, &t);
        cr_assert(eq(int, t.status, 0), "%s", t.text);
        free(t.text);
        sprintf(in + n, "X-last: v\r\n\r\n");
        parse(in, &t);
        cr_assert(eq(int, t.status, 431), "%s", t.text);
        cr_assert(strstr(t.message, "more than 100 header fields") != NULL);
        free(t.text);
        free(in);
}

Test(sr_h1, header_section_over_16_kib_is_431_before_it_ends)
{
        size_t n = SR_H1_FIELDS_BYTES_MAX + 100;
        char *in = malloc(n + 64);
        trace_t t;

        strcpy(in, "GET / HTTP/1.1\r\nHost: h\r\nX-Big: ");
        memset(in + strlen(in), 'v', n - strlen(in));
        in[n] = '\0'; /* the line never ends */
        parse(in, &t);
        cr_assert(eq(int, t.status, 431), "%s", t.text);
        cr_assert(strstr(t.message, "header section over 16384 bytes") != NULL);
        free(t.text);
        free(in);
}

Test(sr_h1, header_section_of_exactly_16_kib_passes)
{
        const char *start = "GET / HTTP/1.1\r\n";
        size_t fixed = strlen("Host: h\r\nX: \r\n\r\n");
        size_t pad = SR_H1_FIELDS_BYTES_MAX - fixed;
        char *in = malloc(strlen(start) + SR_H1_FIELDS_BYTES_MAX + 8);
        trace_t t;

        sprintf(in, "%sHost: h\r\nX: ", start);
        memset(in + strlen(in), 'v', pad);
        strcpy(in + strlen(start) + strlen("Host: h\r\nX: ") + pad,
               "\r\n\r\n");
        cr_assert(eq(sz, strlen(in) - strlen(start),
                     (size_t)SR_H1_FIELDS_BYTES_MAX));
        parse(in, &t);
        cr_assert(eq(int, t.status, 0), "%.200s", t.text);
        free(t.text);
        /* one byte more */
        memmove(in + strlen(start) + 13, in + strlen(start) + 12,
                strlen(in + strlen(start) + 12) + 1);
        parse(in, &t);
        cr_assert(eq(int, t.status, 431), "%.200s", t.text);
        free(t.text);
        free(in);
}

Test(sr_h1, head_get_finds_fields_in_any_case)
{
        static sr_h1_parser_t p;
        static const char in[] = "GET / HTTP/1.1\r\nhOsT: h\r\n"
                                 "content-TYPE: application/json\r\n\r\n";
        sr_slice_t body;
        size_t used;

        sr_h1_parser_init(&p);
        cr_assert(sr_h1_parser_is_idle(&p));
        cr_assert(eq(int, sr_h1_parse(&p, in, 3, &used, &body), SR_H1_MORE));
        cr_assert(not(sr_h1_parser_is_idle(&p)));
        cr_assert(eq(int, sr_h1_parse(&p, in + 3, sizeof(in) - 4, &used,
                                      &body),
                     SR_H1_HEAD));
        cr_assert(eq(str, (char *)sr_h1_head_get(&p.head, "Content-Type"),
                     "application/json"));
        cr_assert(eq(str, (char *)sr_h1_head_get(&p.head, "host"), "h"));
        cr_assert(eq(ptr, (void *)sr_h1_head_get(&p.head, "Accept"), NULL));
        cr_assert(eq(int, sr_h1_parse(&p, "", 0, &used, &body), SR_H1_END));
        cr_assert(sr_h1_parser_is_idle(&p));
}

/* ------------------------------------------------------------ repeats */

Test(sr_h1, repeated_singleton_headers_are_refused_by_name)
{
        static const char *const names[] = {
                "Host", "Authorization", "Content-Type", "Idempotency-Key",
                "Expect", "Transfer-Encoding", "Content-Length",
        };
        static const char *const values[] = {
                "h", "Bearer a", "application/json", "k", "100-continue",
                "chunked", "0",
        };

        for (size_t i = 0; i < sizeof(names) / sizeof(*names); i++) {
                char in[256], want[64];

                /* the same value twice, and the second spelled lower case */
                snprintf(in, sizeof(in),
                         "POST / HTTP/1.1\r\n%s%s: %s\r\nx-other: 1\r\n"
                         "%s: %s\r\n\r\n",
                         i ? "Host: h\r\n" : "", names[i], values[i],
                         names[i], values[i]);
                for (char *c = strstr(in, "x-other: 1\r\n") + 12;
                     *c && *c != ':'; c++)
                        *c = (char)(*c | 0x20);
                snprintf(want, sizeof(want), "repeated %s header", names[i]);
                refused(in, 400, want);
        }
}

Test(sr_h1, two_content_lengths_are_refused_and_nothing_after_is_parsed)
{
        trace_t t;

        parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
              "Content-Length: 44\r\n\r\nhelloGET /admin HTTP/1.1\r\n"
              "Host: h\r\n\r\n", &t);
        cr_assert(eq(str, t.text, "ERROR 400 repeated Content-Length header: "
                                  "send it once\n"));
        free(t.text);
}

Test(sr_h1, connection_may_repeat_and_close_wins)
{
        accepted("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n"
                 "Connection: Upgrade, CLOSE\r\n\r\n",
                 "HEAD GET / 1.1 framing=0 len=0 ka=0 continue=0 [Host=h]"
                 "[Connection=keep-alive][Connection=Upgrade, CLOSE]\nEND\n");
}

/* ------------------------------------------------------------ framing */

Test(sr_h1, content_length_must_be_plain_digits)
{
        static const char *const bad[] = {
                "-5", "abc", "", "+5", "1,1", "1 1", "0x10", "5;", "1e3",
                "9223372036854775808", "99999999999999999999999",
        };

        for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
                char in[256];

                snprintf(in, sizeof(in), "POST / HTTP/1.1\r\nHost: h\r\n"
                         "Content-Length: %s\r\n\r\n", bad[i]);
                refused(in, 400, "Content-Length: not a decimal number");
        }
        accepted("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:  007 \r\n"
                 "\r\nabcdefg",
                 "HEAD POST / 1.1 framing=1 len=7 ka=1 continue=0 [Host=h]"
                 "[Content-Length=007]\nBODY abcdefg\nEND\n");
}

Test(sr_h1, largest_content_length_is_int64_max)
{
        trace_t t;

        parse("POST / HTTP/1.1\r\nHost: h\r\n"
              "Content-Length: 9223372036854775807\r\n\r\n", &t);
        cr_assert(eq(int, t.status, 0));
        cr_assert(strstr(t.text, "len=9223372036854775807") != NULL);
        free(t.text);
}

Test(sr_h1, content_length_zero_ends_at_once)
{
        accepted("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"
                 "GET / HTTP/1.0\r\n\r\n",
                 "HEAD POST / 1.1 framing=1 len=0 ka=1 continue=0 [Host=h]"
                 "[Content-Length=0]\nEND\n"
                 "HEAD GET / 1.0 framing=0 len=0 ka=0 continue=0 \nEND\n");
}

Test(sr_h1, transfer_encoding_only_chunked_alone)
{
        refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n"
                "\r\n", 400, "final coding must be chunked");
        refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked"
                "\r\n\r\n", 400, "final coding must be chunked");
        refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, "
                "gzip\r\n\r\n", 400, "final coding must be chunked");
        refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked,"
                "\r\n\r\n", 400, "final coding must be chunked");
        refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, "
                "chunked\r\n\r\n", 501, "only chunked alone");
        refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked,"
                "chunked\r\n\r\n", 501, "only chunked alone");
        accepted("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ChUnKeD"
                 "\r\n\r\n0\r\n\r\n",
                 "HEAD POST / 1.1 framing=2 len=0 ka=1 continue=0 [Host=h]"
                 "[Transfer-Encoding=ChUnKeD]\nEND\n");
}

Test(sr_h1, transfer_encoding_with_content_length_is_refused)
{
        refused("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
                "Transfer-Encoding: chunked\r\n\r\n", 400,
                "both Transfer-Encoding and Content-Length");
        refused("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked"
                "\r\nContent-Length: 5\r\n\r\n", 400,
                "both Transfer-Encoding and Content-Length");
}

Test(sr_h1, transfer_encoding_in_http_1_0_is_refused)
{
        refused("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
                "HTTP/1.0");
}

Test(sr_h1, http_1_1_needs_host_and_1_0_does_not)
{
        refused("GET / HTTP/1.1\r\n\r\n", 400, "missing Host header");
        accepted("GET / HTTP/1.0\r\n\r\n",
                 "HEAD GET / 1.0 framing=0 len=0 ka=0 continue=0 \nEND\n");
        accepted("GET / HTTP/1.1\r\nHost:\r\n\r\n",
                 "HEAD GET / 1.1 framing=0 len=0 ka=1 continue=0 [Host=]\n"
                 "END\n");
}

Test(sr_h1, expect_100_continue_is_noted_and_others_are_417)
{
        accepted("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n"
                 "Content-Length: 1\r\n\r\nx",
                 "HEAD PUT / 1.1 framing=1 len=1 ka=1 continue=1 [Host=h]"
                 "[Expect=100-Continue][Content-Length=1]\nBODY x\nEND\n");
        refused("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n", 417,
                "only 100-continue");
        /* HTTP/1.0: ignored (RFC 9110 §10.1.1) */
        accepted("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n",
                 "HEAD PUT / 1.0 framing=0 len=0 ka=0 continue=0 "
                 "[Expect=100-continue]\nEND\n");
}

Test(sr_h1, keep_alive_follows_the_version_and_connection)
{
        accepted("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
                 "HEAD GET / 1.0 framing=0 len=0 ka=1 continue=0 "
                 "[Connection=keep-alive]\nEND\n");
        accepted("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
                 "HEAD GET / 1.1 framing=0 len=0 ka=0 continue=0 [Host=h]"
                 "[Connection=close]\nEND\n");
}

/* ------------------------------------------------------------ chunked */

#define CHUNKED "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
#define CHUNKED_HEAD "HEAD POST / 1.1 framing=2 len=0 ka=1 continue=0 " \
                     "[Host=h][Transfer-Encoding=chunked]\n"

Test(sr_h1, chunked_body_is_decoded)
{
        accepted(CHUNKED "5\r\nhello\r\nA\r\n, world!!!\r\n0\r\n\r\n"
                 "GET /next HTTP/1.1\r\nHost: h\r\n\r\n",
                 CHUNKED_HEAD "BODY hello, world!!!\nEND\n"
                 "HEAD GET /next 1.1 framing=0 len=0 ka=1 continue=0 "
                 "[Host=h]\nEND\n");
        accepted(CHUNKED "00000003\r\nabc\r\n000\r\n\r\n",
                 CHUNKED_HEAD "BODY abc\nEND\n");
        accepted(CHUNKED "1f\r\n0123456789abcdef0123456789abcde\r\n0\r\n\r\n",
                 CHUNKED_HEAD
                 "BODY 0123456789abcdef0123456789abcde\nEND\n");
}

Test(sr_h1, chunk_extensions_and_trailers_are_checked_and_ignored)
{
        accepted(CHUNKED "3;name=value;q=\"x y\"\r\nabc\r\n"
                 "2 \t;ext\r\nde\r\n0;last\r\nX-Trailer: t\r\nY: \r\n\r\n",
                 CHUNKED_HEAD "BODY abcde\nEND\n");
        refused(CHUNKED "3;a\x01\r\nabc\r\n0\r\n\r\n", 400,
                "chunk extension");
        refused(CHUNKED "3\r\nabc\r\n0\r\nX-T: a\x01\r\n\r\n", 400,
                "trailer");
        refused(CHUNKED "3\r\nabc\r\n0\r\nX T: a\r\n\r\n", 400, "trailer");
        refused(CHUNKED "3\r\nabc\r\n0\r\n folded\r\n\r\n", 400, "trailer");
        refused(CHUNKED "3\r\nabc\r\n0\r\nX: a\n\r\n", 400, "trailer");
        refused(CHUNKED "3\r\nabc\r\n0\r\n\n", 400, "trailer");
}

Test(sr_h1, chunk_sizes_are_strict_hex)
{
        refused(CHUNKED "\r\nabc\r\n0\r\n\r\n", 400, "hexadecimal chunk size");
        refused(CHUNKED ";x\r\n", 400, "hexadecimal chunk size");
        refused(CHUNKED "-3\r\nabc\r\n0\r\n\r\n", 400,
                "hexadecimal chunk size");
        refused(CHUNKED "0x3\r\nabc\r\n0\r\n\r\n", 400, "chunk size");
        refused(CHUNKED "3 \r\nabc\r\n0\r\n\r\n", 400,
                "whitespace after a chunk size");
        refused(CHUNKED "3\nabc\r\n0\r\n\r\n", 400, "chunk size");
        refused(CHUNKED "3\r\rabc\r\n0\r\n\r\n", 400, "CRLF");
        refused(CHUNKED "10000000000000000\r\n", 400, "over 2^60");
        refused(CHUNKED "fffffffffffffffff\r\n", 400, "over 2^60");
}

Test(sr_h1, chunk_data_must_be_followed_by_crlf)
{
        refused(CHUNKED "3\r\nabcd\r\n0\r\n\r\n", 400,
                "must be followed by CRLF");
        refused(CHUNKED "3\r\nabc\n0\r\n\r\n", 400,
                "must be followed by CRLF");
        refused(CHUNKED "3\r\nabc\r\r0\r\n\r\n", 400,
                "must be followed by CRLF");
}

Test(sr_h1, chunk_line_and_trailers_are_bounded)
{
        size_t n = SR_H1_CHUNK_LINE_MAX + 100;
        char *in = malloc(n + 256);
        trace_t t;

        strcpy(in, CHUNKED "3;");
        memset(in + strlen(in), 'e', n);
        in[strlen(CHUNKED) + n] = '\0'; /* never ends */
        parse(in, &t);
        cr_assert(eq(int, t.status, 400), "%.300s", t.text);
        cr_assert(strstr(t.message, "chunk-size line over 4096 bytes") != NULL);
        free(t.text);
        free(in);
        n = SR_H1_TRAILER_BYTES_MAX + 100;
        in = malloc(n + 256);
        strcpy(in, CHUNKED "0\r\nX: ");
        memset(in + strlen(in), 'v', n);
        in[strlen(CHUNKED) + n] = '\0';
        parse(in, &t);
        cr_assert(eq(int, t.status, 431), "%.300s", t.text);
        cr_assert(strstr(t.message, "trailer section over 16384 bytes") != NULL);
        free(t.text);
        free(in);
}

Test(sr_h1, body_bytes_come_as_they_arrive)
{
        static sr_h1_parser_t p;
        static const char head[] = "PUT / HTTP/1.1\r\nHost: h\r\n"
                                   "Content-Length: 10\r\n\r\n01234";
        sr_slice_t body;
        size_t used;

        sr_h1_parser_init(&p);
        cr_assert(eq(int, sr_h1_parse(&p, head, sizeof(head) - 1, &used,
                                      &body),
                     SR_H1_HEAD));
        cr_assert(eq(sz, used, sizeof(head) - 6));
        cr_assert(eq(int, sr_h1_parse(&p, head + used, 5, &used, &body),
                     SR_H1_BODY));
        cr_assert(eq(sz, used, 5));
        cr_assert(eq(sz, body.len, 5));
        cr_assert(eq(int, memcmp(body.ptr, "01234", 5), 0));
        cr_assert(eq(int, sr_h1_parse(&p, "", 0, &used, &body), SR_H1_MORE));
        cr_assert(eq(int, sr_h1_parse(&p, "56789GET", 8, &used, &body),
                     SR_H1_BODY));
        cr_assert(eq(sz, used, 5), "the next request is left");
        cr_assert(eq(int, sr_h1_parse(&p, "GET", 3, &used, &body),
                     SR_H1_END));
        cr_assert(eq(sz, used, 0));
}

Test(sr_h1, reasons_cover_every_status_the_server_makes)
{
        static const int codes[] = { 100, 200, 400, 401, 404, 405, 408, 413,
                                     414, 415, 417, 431, 500, 501, 503,
                                     505 };

        for (size_t i = 0; i < sizeof(codes) / sizeof(*codes); i++)
                cr_assert(strlen(sr_h1_reason(codes[i])) > 0, "%d", codes[i]);
        cr_assert(eq(str, (char *)sr_h1_reason(299), ""));
}
