/* tests/unit/base/test_sr_log.c - line format, escaping, level gate, atomicity.
 * Lines go to a temporary file through sr_log_set_fd() and are read back. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sr_log.h"

static FILE *sink;

static void log_setup(void)
{
        sink = tmpfile();
        cr_assert(not(eq(ptr, sink, NULL)));
        sr_log_set_fd(fileno(sink));
        sr_log_max_level = SR_LOG_INFO;
        sr_log_set_name(NULL);
}

static void log_teardown(void)
{
        sr_log_set_fd(2);
        fclose(sink);
}

TestSuite(sr_log, .init = log_setup, .fini = log_teardown, .timeout = 10.0);

/* Everything written so far; caller frees. */
static char *read_sink(void)
{
        long size = lseek(fileno(sink), 0, SEEK_END);
        char *text;

        cr_assert(ge(long, size, 0));
        text = calloc(1, (size_t)size + 1);
        cr_assert(not(eq(ptr, text, NULL)));
        cr_assert(eq(long, pread(fileno(sink), text, (size_t)size, 0), size));
        return text;
}

/* The line without its "ts=... " prefix, checking the prefix's shape. */
static const char *skip_ts(const char *line)
{
        /* ts=2026-01-01T12:00:00.123Z */
        static const char shape[] = "ts=dddd-dd-ddTdd:dd:dd.dddZ ";
        size_t i;

        for (i = 0; shape[i]; i++) {
                if (shape[i] == 'd')
                        cr_assert(line[i] >= '0' && line[i] <= '9',
                                  "bad ts in \"%s\"", line);
                else
                        cr_assert(eq(chr, line[i], shape[i]),
                                  "bad ts in \"%s\"", line);
        }
        return line + i;
}

Test(sr_log, line_has_level_facility_source_message_and_fields)
{
        char want[256];
        char *text;
        int line;

        line = __LINE__ + 1;
        SR_INFO("FSM", "stage run %s -> %s run=%s stage=%d", "queued",
                "processing", "r1", 3);
        text = read_sink();
        snprintf(want, sizeof(want),
                 "level=info fac=FSM src=test_sr_log.c:%d "
                 "msg=\"stage run queued -> processing\" run=r1 stage=3\n",
                 line);
        cr_assert(eq(str, (char *)skip_ts(text), want));
        free(text);
}

Test(sr_log, text_without_fields_is_all_message)
{
        char *text;

        SR_ERROR("STORE", "map full, a = b is not a field");
        text = read_sink();
        cr_assert(not(eq(ptr, strstr(text, " level=error fac=STORE "), NULL)));
        cr_assert(not(eq(ptr, strstr(text, " msg=\"map full, a = b is not a "
                                           "field\"\n"), NULL)), "%s", text);
        free(text);
}

Test(sr_log, text_of_only_fields_has_empty_message)
{
        char *text;

        SR_WARN("KAFKA", "topic=sr.commands partition=%d", 2);
        text = read_sink();
        cr_assert(not(eq(ptr, strstr(text, " msg=\"\" topic=sr.commands "
                                           "partition=2\n"), NULL)),
                  "%s", text);
        free(text);
}

Test(sr_log, quotes_backslashes_and_newlines_are_escaped_to_one_line)
{
        char *text;

        SR_INFO("X", "say \"hi\"\\\nbye err=\"a\nb\"");
        text = read_sink();
        cr_assert(not(eq(ptr, strstr(text, " msg=\"say \\\"hi\\\"\\\\\\nbye\" "
                                           "err=\"a\\nb\"\n"), NULL)),
                  "%s", text);
        cr_assert(eq(ptr, strchr(text, '\n'), text + strlen(text) - 1));
        free(text);
}

/* An error text that quotes a name, or holds a backslash, stays one value
 * for a logfmt reader: its inner quotes and backslashes are escaped, the
 * value ends at the quote before " key=" or the end. */
Test(sr_log, quotes_inside_a_quoted_field_value_are_escaped)
{
        char *text;

        SR_WARN("KAFKA", "failed err=\"%s\" topic=%s path=\"%s\"",
                "Broker: \"sr.events\" is unknown, see \"x=1\"", "t",
                "C:\\dir");
        text = read_sink();
        cr_assert(not(eq(ptr, strstr(text, " msg=\"failed\" err=\"Broker: "
                                           "\\\"sr.events\\\" is unknown, "
                                           "see \\\"x=1\\\"\" topic=t "
                                           "path=\"C:\\\\dir\"\n"),
                                NULL)),
                  "%s", text);
        free(text);
}

Test(sr_log, a_quoted_field_value_left_open_is_closed)
{
        char *text;

        SR_WARN("X", "failed err=\"no end n=%d", 3);
        text = read_sink();
        cr_assert(not(eq(ptr, strstr(text, " msg=\"failed\" "
                                           "err=\"no end n=3\"\n"), NULL)),
                  "%s", text);
        free(text);
}

static int evaluated;

static int count_evaluation(void)
{
        return ++evaluated;
}

Test(sr_log, level_above_max_is_dropped_before_formatting)
{
        char *text;

        sr_log_max_level = SR_LOG_WARN;
        SR_INFO("X", "n=%d", count_evaluation());
        SR_DEBUG("X", "n=%d", count_evaluation());
        cr_assert(eq(int, evaluated, 0));
        SR_WARN("X", "n=%d", count_evaluation());
        cr_assert(eq(int, evaluated, 1));
        text = read_sink();
        cr_assert(not(eq(ptr, strstr(text, "level=warn"), NULL)));
        cr_assert(eq(ptr, strstr(text, "level=info"), NULL));
        free(text);
}

Test(sr_log, debug_level_enables_everything)
{
        char *text;

        sr_log_max_level = SR_LOG_DEBUG;
        cr_assert(sr_log_is_enabled(SR_LOG_DEBUG));
        SR_DEBUG("X", "detail");
        text = read_sink();
        cr_assert(not(eq(ptr, strstr(text, "level=debug"), NULL)));
        free(text);
}

Test(sr_log, worker_name_is_added_when_set)
{
        char *text;

        sr_log_set_name("sr-status");
        SR_INFO("MAIN", "started");
        text = read_sink();
        cr_assert(not(eq(ptr, strstr(text, " level=info worker=sr-status "
                                           "fac=MAIN "), NULL)), "%s", text);
        free(text);
}

Test(sr_log, long_message_is_cut_to_one_pipe_buf_line)
{
        static char big[10000];
        char *text;
        size_t len;

        memset(big, 'a', sizeof(big) - 1);
        SR_INFO("X", "%s", big);
        text = read_sink();
        len = strlen(text);
        cr_assert(le(sz, len, (size_t)SR_LOG_LINE_MAX));
        cr_assert(eq(ptr, strchr(text, '\n'), text + len - 1));
        cr_assert(eq(str, text + len - 5, "...\"\n"));
        free(text);
}

Test(sr_log, long_fields_are_cut_after_the_closed_message)
{
        static char big[6000];
        char *text;
        size_t len;

        memset(big, 'b', sizeof(big) - 1);
        SR_INFO("X", "short v=%s", big);
        text = read_sink();
        len = strlen(text);
        cr_assert(le(sz, len, (size_t)SR_LOG_LINE_MAX));
        cr_assert(not(eq(ptr, strstr(text, "msg=\"short\" v=bbb"), NULL)));
        cr_assert(eq(str, text + len - 5, "b...\n"));
        free(text);
}

Test(sr_log, errno_is_preserved)
{
        errno = ENOENT;
        SR_INFO("X", "hello");
        cr_assert(eq(int, errno, ENOENT));
}

Test(sr_log, level_names_parse_in_any_case)
{
        sr_log_level_t lvl = SR_LOG_INFO;

        cr_assert(sr_log_level_parse("debug", &lvl));
        cr_assert(eq(int, lvl, SR_LOG_DEBUG));
        cr_assert(sr_log_level_parse("ERROR", &lvl));
        cr_assert(eq(int, lvl, SR_LOG_ERROR));
        cr_assert(sr_log_level_parse("Warn", &lvl));
        cr_assert(eq(int, lvl, SR_LOG_WARN));
        cr_assert(not(sr_log_level_parse("verbose", &lvl)));
        cr_assert(not(sr_log_level_parse("", &lvl)));
        cr_assert(eq(int, lvl, SR_LOG_WARN), "unchanged on failure");
        cr_assert(eq(str, (char *)sr_log_level_name(SR_LOG_INFO), "info"));
        cr_assert(eq(str, (char *)sr_log_level_name(SR_LOG__COUNT), "?"));
}

#define LINES_PER_THREAD 2000

static void *log_many(void *arg)
{
        const char *who = arg;
        int i;

        for (i = 0; i < LINES_PER_THREAD; i++)
                SR_INFO("T", "line from %s i=%d pad=%0200d", who, i, 0);
        return NULL;
}

Test(sr_log, lines_from_two_threads_never_interleave)
{
        pthread_t a, b;
        char *text, *line, *save;
        int n = 0;

        pthread_create(&a, NULL, log_many, "a");
        pthread_create(&b, NULL, log_many, "b");
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        text = read_sink();
        for (line = strtok_r(text, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
                const char *rest = skip_ts(line);

                cr_assert(eq(int, strncmp(rest, "level=info fac=T ", 17), 0),
                          "%s", line);
                cr_assert(not(eq(ptr, strstr(rest, " pad="), NULL)));
                cr_assert(eq(sz, strlen(strstr(rest, " pad=")), 205));
                n++;
        }
        cr_assert(eq(int, n, 2 * LINES_PER_THREAD));
        free(text);
}
