/* common/base/sr_metrics.c - families in a name-sorted list, series in a
 * label-sorted list under each, both changed only under the registry mutex.
 * Values are doubles kept as their bits in _Atomic uint64_t, so updates are
 * lock-free on every platform we build for (no libatomic). */
#include "sr_metrics.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static_assert(sizeof(double) == sizeof(uint64_t), "double is not 64-bit");

const double sr_metrics_latency_buckets[] = {
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
        0.1,    0.25,  0.5,    1.0,   2.5,  5.0,   10.0,
};
const size_t sr_metrics_latency_buckets_len =
        sizeof(sr_metrics_latency_buckets) /
        sizeof(sr_metrics_latency_buckets[0]);

static const char *const type_names[] = {
        [SR_METRIC_COUNTER] = "counter",
        [SR_METRIC_GAUGE] = "gauge",
        [SR_METRIC_HISTOGRAM] = "histogram",
};
static_assert(sizeof(type_names) / sizeof(type_names[0]) == SR_METRIC__COUNT,
              "type_names out of sync with sr_metric_type_t");

struct family {
        struct family *next; /* sorted by name */
        char *name;
        char *help;
        sr_metric_type_t type;
        double *bounds; /* histograms */
        size_t nbounds;
        struct sr_series *series; /* sorted by labels */
};

struct sr_series {
        struct sr_series *next;
        const struct family *fam;
        char *labels;           /* "" when none */
        _Atomic uint64_t value; /* bits of a double; histograms: the sum */
        _Atomic uint64_t *buckets; /* histograms: nbounds + 1, not cumulative */
};

struct sr_metrics {
        pthread_mutex_t lock;
        struct family *families;
        sr_series_t *rss, *vsz, *cpu;
};

static double bits_to_double(uint64_t b)
{
        double d;

        memcpy(&d, &b, sizeof(d));
        return d;
}

static uint64_t double_to_bits(double d)
{
        uint64_t b;

        memcpy(&b, &d, sizeof(b));
        return b;
}

static void atomic_add_double(_Atomic uint64_t *a, double v)
{
        uint64_t old = atomic_load_explicit(a, memory_order_relaxed), new;

        do
                new = double_to_bits(bits_to_double(old) + v);
        while (!atomic_compare_exchange_weak_explicit(a, &old, new,
                                                      memory_order_relaxed,
                                                      memory_order_relaxed));
}

static double atomic_load_double(const _Atomic uint64_t *a)
{
        /* C11 atomic_load takes a non-const pointer in older libcs. */
        return bits_to_double(atomic_load_explicit((_Atomic uint64_t *)a,
                                                   memory_order_relaxed));
}

static void atomic_store_double(_Atomic uint64_t *a, double v)
{
        atomic_store_explicit(a, double_to_bits(v), memory_order_relaxed);
}

void sr_series_add(sr_series_t *s, double v)
{
        if (!s || s->fam->type == SR_METRIC_HISTOGRAM)
                return;
        if (s->fam->type == SR_METRIC_COUNTER && !(v >= 0))
                return;
        atomic_add_double(&s->value, v);
}

void sr_series_set(sr_series_t *s, double v)
{
        if (!s || s->fam->type != SR_METRIC_GAUGE)
                return;
        atomic_store_double(&s->value, v);
}

void sr_series_observe(sr_series_t *s, double v)
{
        const struct family *fam;
        size_t i;

        if (!s || s->fam->type != SR_METRIC_HISTOGRAM)
                return;
        fam = s->fam;
        for (i = 0; i < fam->nbounds && !(v <= fam->bounds[i]); i++)
                ;
        atomic_fetch_add_explicit(&s->buckets[i], 1, memory_order_relaxed);
        atomic_add_double(&s->value, v);
}

static uint64_t bucket_total(const sr_series_t *s)
{
        uint64_t n = 0;
        size_t i;

        for (i = 0; i <= s->fam->nbounds; i++)
                n += atomic_load_explicit(&s->buckets[i],
                                          memory_order_relaxed);
        return n;
}

double sr_series_value(const sr_series_t *s)
{
        if (!s)
                return 0;
        if (s->fam->type == SR_METRIC_HISTOGRAM)
                return (double)bucket_total(s);
        return atomic_load_double(&s->value);
}

static bool is_name_char(char c, bool first, bool colon)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
               (colon && c == ':') || (!first && c >= '0' && c <= '9');
}

static bool is_valid_name(const char *s)
{
        if (!is_name_char(*s, true, true))
                return false;
        while (*++s)
                if (!is_name_char(*s, false, true))
                        return false;
        return true;
}

/* `a="x",b="y"`: label names, quoting and escapes. Histograms may not use
 * "le", which their buckets add. */
static bool is_valid_labels(const char *s, bool histogram)
{
        const char *start;

        if (!*s)
                return true;
        for (;;) {
                start = s;
                if (!is_name_char(*s, true, false))
                        return false;
                while (is_name_char(*s, false, false))
                        s++;
                if (histogram && s - start == 2 && !strncmp(start, "le", 2))
                        return false;
                if (*s++ != '=' || *s++ != '"')
                        return false;
                for (; *s != '"'; s++) {
                        if (!*s || *s == '\n')
                                return false;
                        if (*s == '\\' && (!*++s || !strchr("\\\"n", *s)))
                                return false;
                }
                s++;
                if (!*s)
                        return true;
                if (*s++ != ',')
                        return false;
        }
}

static sr_err_t check_bounds(const double *bounds, size_t n, sr_errctx_t *ec)
{
        size_t i;

        if (n == 0)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "metrics: histogram without buckets");
        for (i = 0; i < n; i++)
                if (!isfinite(bounds[i]) || (i > 0 &&
                                             !(bounds[i] > bounds[i - 1])))
                        return sr_errctx_set(ec, SR_ERR_INVALID,
                                             "metrics: bucket bounds must be "
                                             "finite and increasing (#%zu)",
                                             i);
        return SR_OK;
}

static void family_free(struct family *fam)
{
        sr_series_t *s, *next;

        for (s = fam->series; s; s = next) {
                next = s->next;
                free(s->labels);
                free(s->buckets);
                free(s);
        }
        free(fam->name);
        free(fam->help);
        free(fam->bounds);
        free(fam);
}

static struct family *family_new(sr_metric_type_t type, const char *name,
                                 const char *help, const double *bounds,
                                 size_t nbounds)
{
        struct family *fam = calloc(1, sizeof(*fam));

        if (!fam)
                return NULL;
        fam->type = type;
        fam->name = strdup(name);
        fam->help = strdup(help ? help : "");
        if (!fam->name || !fam->help)
                goto err_free;
        if (type == SR_METRIC_HISTOGRAM) {
                fam->bounds = malloc(nbounds * sizeof(*bounds));
                if (!fam->bounds)
                        goto err_free;
                memcpy(fam->bounds, bounds, nbounds * sizeof(*bounds));
                fam->nbounds = nbounds;
        }
        return fam;

err_free:
        family_free(fam);
        return NULL;
}

static sr_series_t *series_new(const struct family *fam, const char *labels)
{
        sr_series_t *s = calloc(1, sizeof(*s));
        size_t i;

        if (!s)
                return NULL;
        s->fam = fam;
        atomic_init(&s->value, double_to_bits(0.0));
        s->labels = strdup(labels);
        if (!s->labels)
                goto err_free;
        if (fam->type == SR_METRIC_HISTOGRAM) {
                s->buckets = malloc((fam->nbounds + 1) * sizeof(*s->buckets));
                if (!s->buckets)
                        goto err_free;
                for (i = 0; i <= fam->nbounds; i++)
                        atomic_init(&s->buckets[i], 0);
        }
        return s;

err_free:
        free(s->labels);
        free(s);
        return NULL;
}

/* Called with m->lock held. */
static sr_err_t find_family(sr_metrics_t *m, sr_metric_type_t type,
                            const char *name, const char *help,
                            const double *bounds, size_t nbounds,
                            struct family **out, sr_errctx_t *ec)
{
        struct family **pp, *fam;
        int cmp = 1;

        for (pp = &m->families; *pp; pp = &(*pp)->next) {
                cmp = strcmp((*pp)->name, name);
                if (cmp >= 0)
                        break;
        }
        if (*pp && cmp == 0) {
                fam = *pp;
                if (fam->type != type)
                        return sr_errctx_set(ec, SR_ERR_INVALID,
                                             "metrics: %s: registered as a "
                                             "%s", name,
                                             type_names[fam->type]);
                if (type == SR_METRIC_HISTOGRAM &&
                    (fam->nbounds != nbounds ||
                     memcmp(fam->bounds, bounds, nbounds * sizeof(*bounds))))
                        return sr_errctx_set(ec, SR_ERR_INVALID,
                                             "metrics: %s: registered with "
                                             "other buckets", name);
                *out = fam;
                return SR_OK;
        }
        fam = family_new(type, name, help, bounds, nbounds);
        if (!fam)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "metrics: %s: alloc",
                                     name);
        fam->next = *pp;
        *pp = fam;
        *out = fam;
        return SR_OK;
}

/* Called with m->lock held. */
static sr_err_t find_series(struct family *fam, const char *labels,
                            sr_series_t **out, sr_errctx_t *ec)
{
        sr_series_t **pp, *s;
        int cmp = 1;

        for (pp = &fam->series; *pp; pp = &(*pp)->next) {
                cmp = strcmp((*pp)->labels, labels);
                if (cmp >= 0)
                        break;
        }
        if (*pp && cmp == 0) {
                *out = *pp;
                return SR_OK;
        }
        s = series_new(fam, labels);
        if (!s)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "metrics: %s: alloc",
                                     fam->name);
        s->next = *pp;
        *pp = s;
        *out = s;
        return SR_OK;
}

sr_err_t sr_metrics_series(sr_metrics_t *m, sr_metric_type_t type,
                           const char *name, const char *help,
                           const char *labels, const double *bounds,
                           size_t nbounds, sr_series_t **out,
                           sr_errctx_t *ec)
{
        struct family *fam = NULL;
        sr_err_t err;

        if ((unsigned)type >= SR_METRIC__COUNT)
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "metrics: bad type %d", (int)type);
        if (!labels)
                labels = "";
        if (!is_valid_name(name))
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "metrics: bad metric name \"%.100s\"",
                                     name);
        if (!is_valid_labels(labels, type == SR_METRIC_HISTOGRAM))
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "metrics: %s: bad labels \"%.200s\"",
                                     name, labels);
        if (type == SR_METRIC_HISTOGRAM) {
                if (!bounds) {
                        bounds = sr_metrics_latency_buckets;
                        nbounds = sr_metrics_latency_buckets_len;
                }
                err = check_bounds(bounds, nbounds, ec);
                if (err) {
                        sr_errctx_prefix(ec, "%s", name);
                        return err;
                }
        }
        pthread_mutex_lock(&m->lock);
        err = find_family(m, type, name, help, bounds, nbounds, &fam, ec);
        if (!err)
                err = find_series(fam, labels, out, ec);
        pthread_mutex_unlock(&m->lock);
        return err;
}

sr_series_t *sr_metrics_counter(sr_metrics_t *m, const char *name,
                                const char *help, const char *labels)
{
        sr_series_t *s = NULL;

        sr_metrics_series(m, SR_METRIC_COUNTER, name, help, labels, NULL, 0,
                          &s, NULL);
        return s;
}

sr_series_t *sr_metrics_gauge(sr_metrics_t *m, const char *name,
                              const char *help, const char *labels)
{
        sr_series_t *s = NULL;

        sr_metrics_series(m, SR_METRIC_GAUGE, name, help, labels, NULL, 0, &s,
                          NULL);
        return s;
}

sr_series_t *sr_metrics_histogram(sr_metrics_t *m, const char *name,
                                  const char *help, const char *labels,
                                  const double *bounds, size_t nbounds)
{
        sr_series_t *s = NULL;

        sr_metrics_series(m, SR_METRIC_HISTOGRAM, name, help, labels, bounds,
                          nbounds, &s, NULL);
        return s;
}

sr_metrics_t *sr_metrics_new(void)
{
        sr_metrics_t *m = calloc(1, sizeof(*m));

        if (!m)
                return NULL;
        if (pthread_mutex_init(&m->lock, NULL)) {
                free(m);
                return NULL;
        }
        m->rss = sr_metrics_gauge(m, "process_resident_memory_bytes",
                                  "Resident memory size in bytes.", NULL);
        m->vsz = sr_metrics_gauge(m, "process_virtual_memory_bytes",
                                  "Virtual memory size in bytes.", NULL);
        m->cpu = sr_metrics_counter(m, "process_cpu_seconds_total",
                                    "Total user and system CPU time spent "
                                    "in seconds.", NULL);
        if (!m->rss || !m->vsz || !m->cpu) {
                sr_metrics_destroy(m);
                return NULL;
        }
        return m;
}

void sr_metrics_destroy(sr_metrics_t *m)
{
        struct family *fam, *next;

        if (!m)
                return;
        for (fam = m->families; fam; fam = next) {
                next = fam->next;
                family_free(fam);
        }
        pthread_mutex_destroy(&m->lock);
        free(m);
}

/* Refresh the process_* series; values we cannot read stay as they are. */
static void update_process_metrics(sr_metrics_t *m)
{
        unsigned long vsz_pages, rss_pages;
        struct rusage ru;
        long page = sysconf(_SC_PAGESIZE);
        FILE *f;

        f = fopen("/proc/self/statm", "r");
        if (f) {
                if (page > 0 &&
                    fscanf(f, "%lu %lu", &vsz_pages, &rss_pages) == 2) {
                        sr_series_set(m->vsz,
                                      (double)vsz_pages * (double)page);
                        sr_series_set(m->rss,
                                      (double)rss_pages * (double)page);
                }
                fclose(f);
        }
        if (!getrusage(RUSAGE_SELF, &ru))
                atomic_store_double(&m->cpu->value,
                                    (double)ru.ru_utime.tv_sec +
                                    (double)ru.ru_stime.tv_sec +
                                    (double)(ru.ru_utime.tv_usec +
                                             ru.ru_stime.tv_usec) / 1e6);
}

/* Shortest text that reads back as the same double (Go's ParseFloat
 * accepts it), and Prometheus' spelling of the special values. */
static const char *fmt_double(double v, char buf[32])
{
        if (isnan(v))
                return "NaN";
        if (isinf(v))
                return v > 0 ? "+Inf" : "-Inf";
        snprintf(buf, 32, "%.15g", v);
        if (strtod(buf, NULL) != v)
                snprintf(buf, 32, "%.17g", v);
        return buf;
}

static void put_help(FILE *f, const struct family *fam)
{
        const char *p;

        fprintf(f, "# HELP %s ", fam->name);
        for (p = fam->help; *p; p++) {
                if (*p == '\\')
                        fputs("\\\\", f);
                else if (*p == '\n')
                        fputs("\\n", f);
                else
                        fputc(*p, f);
        }
        fprintf(f, "\n# TYPE %s %s\n", fam->name, type_names[fam->type]);
}

static void put_histogram(FILE *f, const struct family *fam,
                          const sr_series_t *s)
{
        const char *sep = s->labels[0] ? "," : "";
        uint64_t cum = 0;
        char num[32];
        size_t i;

        for (i = 0; i <= fam->nbounds; i++) {
                cum += atomic_load_explicit(&s->buckets[i],
                                            memory_order_relaxed);
                fprintf(f, "%s_bucket{%s%sle=\"%s\"} %llu\n", fam->name,
                        s->labels, sep,
                        i < fam->nbounds ? fmt_double(fam->bounds[i], num) :
                                           "+Inf",
                        (unsigned long long)cum);
        }
        /* _count is the +Inf bucket, so the two always agree. */
        fprintf(f, "%s_sum%s%s%s %s\n", fam->name, s->labels[0] ? "{" : "",
                s->labels, s->labels[0] ? "}" : "",
                fmt_double(atomic_load_double(&s->value), num));
        fprintf(f, "%s_count%s%s%s %llu\n", fam->name,
                s->labels[0] ? "{" : "", s->labels, s->labels[0] ? "}" : "",
                (unsigned long long)cum);
}

sr_err_t sr_metrics_render(sr_metrics_t *m, sr_buf_t *out, sr_errctx_t *ec)
{
        const struct family *fam;
        const sr_series_t *s;
        char *text = NULL;
        size_t len = 0;
        char num[32];
        FILE *f;
        int rc;

        f = open_memstream(&text, &len);
        if (!f)
                return sr_errctx_set(ec, SR_ERR_NOMEM,
                                     "metrics: open_memstream");
        pthread_mutex_lock(&m->lock);
        update_process_metrics(m);
        for (fam = m->families; fam; fam = fam->next) {
                put_help(f, fam);
                for (s = fam->series; s; s = s->next) {
                        if (fam->type == SR_METRIC_HISTOGRAM) {
                                put_histogram(f, fam, s);
                                continue;
                        }
                        fprintf(f, "%s%s%s%s %s\n", fam->name,
                                s->labels[0] ? "{" : "", s->labels,
                                s->labels[0] ? "}" : "",
                                fmt_double(atomic_load_double(&s->value),
                                           num));
                }
        }
        pthread_mutex_unlock(&m->lock);
        rc = ferror(f);
        if (fclose(f) || rc) {
                free(text);
                return sr_errctx_set(ec, SR_ERR_NOMEM, "metrics: render");
        }
        out->ptr = text;
        out->len = len;
        return SR_OK;
}
