/* tests/unit/base/test_sr_metrics.c - exposition format, registration rules,
 * lock-free updates from several threads. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <criterion/parameterized.h>

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sr_metrics.h"

static sr_metrics_t *m;
static sr_errctx_t ec;

static void metrics_setup(void)
{
        memset(&ec, 0, sizeof(ec));
        m = sr_metrics_new();
        cr_assert(not(eq(ptr, m, NULL)));
}

static void metrics_teardown(void)
{
        sr_metrics_destroy(m);
}

TestSuite(sr_metrics, .init = metrics_setup, .fini = metrics_teardown,
          .timeout = 20.0);

/* Rendered text, NUL-terminated; caller frees. */
static char *render(void)
{
        sr_buf_t out = { 0 };

        cr_assert(eq(int, sr_metrics_render(m, &out, &ec), SR_OK), "%s",
                  ec.msg);
        cr_assert(eq(sz, strlen(out.ptr), out.len));
        return out.ptr;
}

static void assert_contains(const char *text, const char *part)
{
        cr_assert(not(eq(ptr, strstr(text, part), NULL)),
                  "expected:\n%s\nin:\n%s", part, text);
}

Test(sr_metrics, counter_with_labels_renders_sorted_series)
{
        static const char want[] =
                "# HELP sr_inputs_total Inputs consumed.\n"
                "# TYPE sr_inputs_total counter\n"
                "sr_inputs_total{topic=\"a\",outcome=\"bad\"} 1.5\n"
                "sr_inputs_total{topic=\"a\",outcome=\"ok\"} 3\n";
        sr_series_t *ok, *bad;
        size_t want_len;
        char *text;

        ok = sr_metrics_counter(m, "sr_inputs_total", "Inputs consumed.",
                                "topic=\"a\",outcome=\"ok\"");
        bad = sr_metrics_counter(m, "sr_inputs_total", "ignored help",
                                 "topic=\"a\",outcome=\"bad\"");
        cr_assert(not(eq(ptr, ok, NULL)));
        cr_assert(not(eq(ptr, bad, NULL)));
        sr_series_add(ok, 1);
        sr_series_add(ok, 2);
        sr_series_add(bad, 1.5);
        text = render();
        /* "sr_" sorts after "process_": this family ends the text. */
        want_len = strlen(want);
        cr_assert(ge(sz, strlen(text), want_len));
        cr_assert(eq(str, text + strlen(text) - want_len, (char *)want));
        free(text);
}

Test(sr_metrics, series_without_labels_has_no_braces)
{
        char *text;

        sr_series_set(sr_metrics_gauge(m, "sr_ready", "1 when ready.", NULL),
                      1);
        text = render();
        assert_contains(text, "# HELP sr_ready 1 when ready.\n"
                              "# TYPE sr_ready gauge\n"
                              "sr_ready 1\n");
        free(text);
}

Test(sr_metrics, histogram_renders_cumulative_buckets_sum_and_count)
{
        static const double bounds[] = { 0.25, 0.5, 1 };
        sr_series_t *h;
        char *text;

        h = sr_metrics_histogram(m, "sr_batch_seconds", "Batch time.",
                                 "worker=\"w\"", bounds, 3);
        cr_assert(not(eq(ptr, h, NULL)));
        sr_series_observe(h, 0.125);
        sr_series_observe(h, 0.25); /* le is inclusive */
        sr_series_observe(h, 0.5);
        sr_series_observe(h, 2);
        text = render();
        assert_contains(text,
                        "# HELP sr_batch_seconds Batch time.\n"
                        "# TYPE sr_batch_seconds histogram\n"
                        "sr_batch_seconds_bucket{worker=\"w\",le=\"0.25\"} 2\n"
                        "sr_batch_seconds_bucket{worker=\"w\",le=\"0.5\"} 3\n"
                        "sr_batch_seconds_bucket{worker=\"w\",le=\"1\"} 3\n"
                        "sr_batch_seconds_bucket{worker=\"w\",le=\"+Inf\"} 4\n"
                        "sr_batch_seconds_sum{worker=\"w\"} 2.875\n"
                        "sr_batch_seconds_count{worker=\"w\"} 4\n");
        cr_assert(eq(dbl, sr_series_value(h), 4.0));
        free(text);
}

Test(sr_metrics, histogram_without_labels_and_default_buckets)
{
        sr_series_t *h;
        char *text;

        h = sr_metrics_histogram(m, "sr_latency_seconds", "Latency.", NULL,
                                 NULL, 0);
        sr_series_observe(h, 0.003);
        text = render();
        assert_contains(text, "sr_latency_seconds_bucket{le=\"0.0005\"} 0\n"
                              "sr_latency_seconds_bucket{le=\"0.001\"} 0\n"
                              "sr_latency_seconds_bucket{le=\"0.0025\"} 0\n"
                              "sr_latency_seconds_bucket{le=\"0.005\"} 1\n");
        assert_contains(text, "sr_latency_seconds_bucket{le=\"10\"} 1\n"
                              "sr_latency_seconds_bucket{le=\"+Inf\"} 1\n"
                              "sr_latency_seconds_sum 0.003\n"
                              "sr_latency_seconds_count 1\n");
        free(text);
}

Test(sr_metrics, families_render_sorted_by_name)
{
        char *text, *a, *b, *p;

        sr_metrics_counter(m, "zz_total", "z", NULL);
        sr_metrics_counter(m, "aa_total", "a", NULL);
        text = render();
        a = strstr(text, "# HELP aa_total");
        p = strstr(text, "# HELP process_resident_memory_bytes");
        b = strstr(text, "# HELP zz_total");
        cr_assert(not(eq(ptr, a, NULL)));
        cr_assert(not(eq(ptr, p, NULL)));
        cr_assert(not(eq(ptr, b, NULL)));
        cr_assert(lt(ptr, (void *)a, (void *)p));
        cr_assert(lt(ptr, (void *)p, (void *)b));
        cr_assert(eq(int, strncmp(text, "# HELP aa_total", 15), 0));
        free(text);
}

Test(sr_metrics, process_resident_memory_is_reported)
{
        char *text, *line;
        double rss;

        text = render();
        line = strstr(text, "\nprocess_resident_memory_bytes ");
        cr_assert(not(eq(ptr, line, NULL)), "%s", text);
        rss = strtod(line + 31, NULL);
        cr_assert(gt(dbl, rss, 0.0));
        assert_contains(text, "# TYPE process_cpu_seconds_total counter\n");
        free(text);
}

Test(sr_metrics, same_name_and_labels_give_the_same_series)
{
        sr_series_t *a = sr_metrics_counter(m, "x_total", "x", "k=\"v\"");
        sr_series_t *b = sr_metrics_counter(m, "x_total", "x", "k=\"v\"");
        sr_series_t *c = sr_metrics_counter(m, "x_total", "x", "k=\"w\"");

        cr_assert(eq(ptr, a, b));
        cr_assert(not(eq(ptr, a, c)));
}

Test(sr_metrics, name_registered_with_other_type_is_rejected)
{
        sr_series_t *s = NULL;

        sr_metrics_counter(m, "x_total", "x", NULL);
        cr_assert(eq(int, sr_metrics_series(m, SR_METRIC_GAUGE, "x_total",
                                            "x", NULL, NULL, 0, &s, &ec),
                     SR_ERR_INVALID));
        cr_assert(eq(str, ec.msg,
                     "metrics: x_total: registered as a counter"));
        cr_assert(eq(ptr, s, NULL));
}

Test(sr_metrics, histogram_with_other_buckets_is_rejected)
{
        static const double b1[] = { 1, 2 }, b2[] = { 1, 3 };
        sr_series_t *s = NULL;

        sr_metrics_histogram(m, "h_seconds", "h", NULL, b1, 2);
        cr_assert(eq(int, sr_metrics_series(m, SR_METRIC_HISTOGRAM,
                                            "h_seconds", "h", "a=\"1\"", b2,
                                            2, &s, &ec), SR_ERR_INVALID));
        cr_assert(eq(str, ec.msg, "metrics: h_seconds: registered with other "
                                  "buckets"));
}

struct bad_series {
        int type;
        char name[32];
        char labels[48];
        double bounds[3];
        size_t nbounds;
};

ParameterizedTestParameters(sr_metrics, bad_name_labels_or_bounds_are_rejected)
{
        static struct bad_series cases[] = {
                { SR_METRIC_COUNTER, "1abc", "", { 0 }, 0 },
                { SR_METRIC_COUNTER, "a-b", "", { 0 }, 0 },
                { SR_METRIC_COUNTER, "", "", { 0 }, 0 },
                { SR_METRIC_COUNTER, "ok", "topic=x", { 0 }, 0 },
                { SR_METRIC_COUNTER, "ok", "topic=\"x", { 0 }, 0 },
                { SR_METRIC_COUNTER, "ok", "topic=\"x\",", { 0 }, 0 },
                { SR_METRIC_COUNTER, "ok", "to-pic=\"x\"", { 0 }, 0 },
                { SR_METRIC_COUNTER, "ok", "t=\"bad\\escape\"", { 0 }, 0 },
                { SR_METRIC_COUNTER, "ok", "t=\"end\\", { 0 }, 0 },
                { SR_METRIC_COUNTER, "ok", "t=\"a\" ,u=\"b\"", { 0 }, 0 },
                { SR_METRIC_HISTOGRAM, "h", "le=\"1\"", { 1 }, 1 },
                { SR_METRIC_HISTOGRAM, "h", "", { 2, 1 }, 2 },
                { SR_METRIC_HISTOGRAM, "h", "", { 1, 1 }, 2 },
                { SR_METRIC_HISTOGRAM, "h", "", { 1, INFINITY }, 2 },
                { SR_METRIC_HISTOGRAM, "h", "", { 1 }, 0 },
                { SR_METRIC__COUNT, "ok", "", { 0 }, 0 },
        };

        return cr_make_param_array(struct bad_series, cases,
                                   sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_series *c, sr_metrics,
                  bad_name_labels_or_bounds_are_rejected)
{
        sr_series_t *s = NULL;

        cr_assert(eq(int, sr_metrics_series(m, (sr_metric_type_t)c->type,
                                            c->name, "help", c->labels,
                                            c->bounds, c->nbounds, &s, &ec),
                     SR_ERR_INVALID), "name %s labels %s", c->name,
                  c->labels);
        cr_assert(eq(ptr, s, NULL));
}

Test(sr_metrics, escaped_label_values_and_help_are_accepted)
{
        sr_series_t *s;
        char *text;

        s = sr_metrics_counter(m, "e_total", "back\\slash\nnew line",
                               "path=\"a\\\"b\\\\c\\nd\",x_1=\"\"");
        cr_assert(not(eq(ptr, s, NULL)));
        text = render();
        assert_contains(text, "# HELP e_total back\\\\slash\\nnew line\n");
        assert_contains(text, "e_total{path=\"a\\\"b\\\\c\\nd\",x_1=\"\"} 0\n");
        free(text);
}

Test(sr_metrics, counter_ignores_negative_and_gauge_takes_any_value)
{
        sr_series_t *c = sr_metrics_counter(m, "c_total", "c", NULL);
        sr_series_t *g = sr_metrics_gauge(m, "g", "g", NULL);
        char *text;

        sr_series_add(c, 2);
        sr_series_add(c, -1);
        sr_series_set(c, 100); /* not a gauge: ignored */
        cr_assert(eq(dbl, sr_series_value(c), 2.0));
        sr_series_set(g, 5);
        sr_series_add(g, -7.5);
        cr_assert(eq(dbl, sr_series_value(g), -2.5));
        sr_series_observe(g, 1); /* not a histogram: ignored */
        cr_assert(eq(dbl, sr_series_value(g), -2.5));
        sr_series_set(g, NAN);
        text = render();
        assert_contains(text, "\ng NaN\n");
        free(text);
        sr_series_set(g, INFINITY);
        text = render();
        assert_contains(text, "\ng +Inf\n");
        free(text);
        sr_series_set(g, 0.1);
        text = render();
        assert_contains(text, "\ng 0.1\n");
        free(text);
}

Test(sr_metrics, null_series_are_ignored)
{
        sr_series_add(NULL, 1);
        sr_series_set(NULL, 1);
        sr_series_observe(NULL, 1);
        cr_assert(eq(dbl, sr_series_value(NULL), 0.0));
        sr_metrics_destroy(NULL);
}

#define ADDS_PER_THREAD 200000

static void *add_many(void *arg)
{
        sr_series_t **series = arg;
        int i;

        for (i = 0; i < ADDS_PER_THREAD; i++) {
                sr_series_add(series[0], 1);
                sr_series_observe(series[1], (i % 4) * 0.5);
        }
        return NULL;
}

static void *render_many(void *arg)
{
        sr_buf_t out;
        int i;

        (void)arg;
        for (i = 0; i < 50; i++) {
                if (sr_metrics_render(m, &out, NULL) == SR_OK)
                        sr_buf_free(&out);
                sr_metrics_counter(m, "late_total", "registered meanwhile",
                                   i % 2 ? "i=\"odd\"" : "i=\"even\"");
        }
        return NULL;
}

Test(sr_metrics, concurrent_updates_from_two_threads_sum_exactly)
{
        static const double bounds[] = { 0.5, 1 };
        sr_series_t *series[2];
        pthread_t a, b, r;
        char *text;

        series[0] = sr_metrics_counter(m, "n_total", "n", NULL);
        series[1] = sr_metrics_histogram(m, "v", "v", NULL, bounds, 2);
        pthread_create(&a, NULL, add_many, series);
        pthread_create(&b, NULL, add_many, series);
        pthread_create(&r, NULL, render_many, NULL);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        pthread_join(r, NULL);
        cr_assert(eq(dbl, sr_series_value(series[0]), 2.0 * ADDS_PER_THREAD));
        cr_assert(eq(dbl, sr_series_value(series[1]), 2.0 * ADDS_PER_THREAD));
        text = render();
        /* values 0, 0.5, 1, 1.5 in equal shares; sum 0.75 per value */
        assert_contains(text, "v_bucket{le=\"0.5\"} 200000\n"
                              "v_bucket{le=\"1\"} 300000\n"
                              "v_bucket{le=\"+Inf\"} 400000\n"
                              "v_sum 300000\n"
                              "v_count 400000\n");
        assert_contains(text, "n_total 400000\n");
        free(text);
}
