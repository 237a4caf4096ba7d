/* common/base/sr_metrics.h - a Prometheus registry: counters, gauges, histograms.
 *
 * A series is one metric name plus one label set. Look a series up once
 * (registration takes a mutex) and keep the handle; updating it is
 * lock-free (C11 atomics), so the worker thread updates while the HTTP
 * thread renders. Series live until sr_metrics_destroy().
 *
 *   sr_series_t *ok = sr_metrics_counter(m, "sr_inputs_total",
 *           "Inputs consumed.", "topic=\"sr.commands\",outcome=\"ok\"");
 *   sr_series_add(ok, 1);
 *
 * Labels are written as in the exposition format, `name="value",...`, with
 * values escaped by the caller (\\, \" and \n). A series is identified by
 * the exact label text, so spell a label set the same way everywhere.
 * Threads: every function here may be called from any thread.
 */
#ifndef SR_METRICS_H
#define SR_METRICS_H

#include <stddef.h>

#include "sr_err.h"
#include "sr_slice.h"

typedef struct sr_metrics sr_metrics_t; /* opaque registry */
typedef struct sr_series sr_series_t;   /* opaque; owned by the registry */

typedef enum sr_metric_type {
        SR_METRIC_COUNTER,
        SR_METRIC_GAUGE,
        SR_METRIC_HISTOGRAM,
        SR_METRIC__COUNT /* not a type; keep last */
} sr_metric_type_t;

/** Bucket bounds for latencies in seconds: 0.0005 .. 10. */
extern const double sr_metrics_latency_buckets[];
extern const size_t sr_metrics_latency_buckets_len;

/**
 * @brief A registry holding the process metrics
 * (process_resident_memory_bytes, process_virtual_memory_bytes,
 * process_cpu_seconds_total), which are refreshed at each render.
 * @returns the registry (caller owns; free with sr_metrics_destroy()), or
 *          NULL when out of memory.
 */
sr_metrics_t *sr_metrics_new(void);

/**
 * @brief Free the registry and all its series. NULL is a no-op. No other
 * thread may use it or its series any more.
 */
void sr_metrics_destroy(sr_metrics_t *m);

/**
 * @brief Find or create the series @p name{@p labels}.
 * @param help   the family's help text; the first registration's is kept.
 * @param labels `a="x",b="y"` or NULL/"" for none.
 * @param bounds histograms only: strictly increasing finite upper bounds
 *               (the +Inf bucket is implicit), the same for every series of
 *               the family; NULL with @p nbounds 0 means
 *               sr_metrics_latency_buckets.
 * @param[out] out set on SR_OK: borrowed, valid until sr_metrics_destroy().
 * @returns SR_OK, SR_ERR_INVALID (bad name or labels, name registered with
 *          another type or other bounds, bad bounds) or SR_ERR_NOMEM.
 */
sr_err_t sr_metrics_series(sr_metrics_t *m, sr_metric_type_t type,
                           const char *name, const char *help,
                           const char *labels, const double *bounds,
                           size_t nbounds, sr_series_t **out,
                           sr_errctx_t *ec);

/**
 * @brief sr_metrics_series() shorthands for the common cases.
 * @returns the series (borrowed, as above), or NULL on any error. The
 *          sr_series_* functions accept NULL and do nothing, so a metric
 *          that could not be registered never stops the worker.
 */
sr_series_t *sr_metrics_counter(sr_metrics_t *m, const char *name,
                                const char *help, const char *labels);
sr_series_t *sr_metrics_gauge(sr_metrics_t *m, const char *name,
                              const char *help, const char *labels);
sr_series_t *sr_metrics_histogram(sr_metrics_t *m, const char *name,
                                  const char *help, const char *labels,
                                  const double *bounds, size_t nbounds);

/**
 * @brief Add @p v to a counter (v >= 0; negative values are ignored) or a
 * gauge. Lock-free. No-op on NULL and on histograms.
 */
void sr_series_add(sr_series_t *s, double v);

/** @brief Set a gauge to @p v. Lock-free. No-op on NULL and non-gauges. */
void sr_series_set(sr_series_t *s, double v);

/** @brief Count @p v in a histogram. Lock-free. No-op on NULL and others. */
void sr_series_observe(sr_series_t *s, double v);

/**
 * @brief Current value: a counter's or gauge's value, a histogram's
 * observation count. 0 for NULL. For tests and status pages.
 */
double sr_series_value(const sr_series_t *s);

/**
 * @brief Render every series in the text exposition format 0.0.4:
 * families sorted by name, each with # HELP and # TYPE; histograms as
 * cumulative _bucket{le=...}, _sum and _count.
 * @param[out] out set on SR_OK; caller owns it (sr_buf_free()). The text is
 *                 also NUL-terminated (the NUL is not counted in len).
 * @returns SR_OK or SR_ERR_NOMEM.
 */
sr_err_t sr_metrics_render(sr_metrics_t *m, sr_buf_t *out, sr_errctx_t *ec);

#endif /* SR_METRICS_H */
