/* common/gateway/sr_gw_watch.c - the watch API: a run's status changes
 * (GET /v0/runs/{id}/events/) and the enterprise's (GET /v0/events/) as
 * Server-Sent Events, streamed by the HTTP server (sr_h1_stream_t).
 *
 * Both are served from what the feed thread already reads: a run's events
 * from the projection (sr_proj_read_events(): replay from the start or
 * from Last-Event-ID, then live), the enterprise's from a ring of the
 * last SR_GW_WATCH_RING events the feed applied (from now). No Kafka
 * consumer per watcher; a watcher holds a cursor and the server's
 * bounded output buffer. Pulls run on the HTTP loops and never block: a
 * projection read snapshot, or the ring's lock for a copy. */
#include "sr_gateway_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sr_log.h"

typedef struct ring_slot {
        uint64_t pos;
        char enterprise[SR_SHORT_MAX];
        uint64_t seq;
        char *json; /* owned */
        size_t len;
} ring_slot_t;

struct sr_gw_watch {
        pthread_mutex_t mu; /* the ring */
        ring_slot_t ring[SR_GW_WATCH_RING];
        uint64_t head; /* the next position */
        pthread_mutex_t wake_mu;
        void (*wake)(void *arg);
        void *wake_arg;
        atomic_int open;
};

typedef struct watcher {
        sr_gateway_t *gw;
        bool all;          /* the enterprise's events, from now */
        char enterprise[SR_SHORT_MAX];
        sr_uuid_t run;
        uint64_t next_seq; /* run: the next seq to send */
        uint64_t pos;      /* all: the next ring position */
} watcher_t;

static const char dropped_last[] =
        "event: dropped\ndata: {\"message\":\"this watcher did not read "
        "for gateway.client.timeout.s: closed; reconnect (with "
        "Last-Event-ID for a run)\"}\n\n";

/* ------------------------------------------------------------ lifecycle */

sr_err_t sr_gateway__watch_new(sr_gateway_t *gw, sr_errctx_t *ec)
{
        sr_gw_watch_t *w = calloc(1, sizeof(*w));

        if (!w)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "gateway: watch");
        pthread_mutex_init(&w->mu, NULL);
        pthread_mutex_init(&w->wake_mu, NULL);
        gw->watch = w;
        if (gw->metrics) {
                gw->watch_conns = sr_metrics_gauge(
                        gw->metrics, "sr_gateway_watch_connections",
                        "Open watch streams (GET /v0/runs/{id}/events/ and "
                        "GET /v0/events/).", NULL);
                gw->watch_dropped = sr_metrics_counter(
                        gw->metrics, "sr_gateway_watch_dropped_total",
                        "Watch streams closed because their client did not "
                        "keep up (read nothing for gateway.client.timeout.s, "
                        "or fell more than the ring behind).", NULL);
        }
        return SR_OK;
}

void sr_gateway__watch_destroy(sr_gw_watch_t *w)
{
        if (!w)
                return;
        for (size_t i = 0; i < SR_GW_WATCH_RING; i++)
                free(w->ring[i].json);
        pthread_mutex_destroy(&w->mu);
        pthread_mutex_destroy(&w->wake_mu);
        free(w);
}

void sr_gateway_set_watch_waker(sr_gateway_t *gw, void (*wake)(void *arg),
                                void *arg)
{
        sr_gw_watch_t *w = gw->watch;

        pthread_mutex_lock(&w->wake_mu);
        w->wake = wake;
        w->wake_arg = arg;
        pthread_mutex_unlock(&w->wake_mu);
}

void sr_gateway__watch_notify(sr_gw_watch_t *w)
{
        pthread_mutex_lock(&w->wake_mu);
        if (w->wake)
                w->wake(w->wake_arg);
        pthread_mutex_unlock(&w->wake_mu);
}

void sr_gateway__watch_publish(sr_gw_watch_t *w, const sr_event_t *ev,
                               const char *json, size_t len)
{
        char *copy = malloc(len);
        ring_slot_t *s;

        if (!copy)
                return; /* the enterprise's watchers see a gap: dropped */
        memcpy(copy, json, len);
        pthread_mutex_lock(&w->mu);
        s = &w->ring[w->head % SR_GW_WATCH_RING];
        free(s->json);
        s->pos = w->head++;
        snprintf(s->enterprise, sizeof(s->enterprise), "%s",
                 ev->enterprise_id);
        s->seq = ev->seq;
        s->json = copy;
        s->len = len;
        pthread_mutex_unlock(&w->mu);
}

/* ------------------------------------------------------------ streams */

/* "id: <seq>\nevent: status\ndata: <json>\n\n" into @p out if it fits. */
static bool sse_message(char *out, size_t room, size_t *n, uint64_t seq,
                        const char *json, size_t len)
{
        char head[64];
        int h = snprintf(head, sizeof(head), "id: %" PRIu64
                         "\nevent: status\ndata: ", seq);

        if (*n + (size_t)h + len + 2 > room)
                return false;
        memcpy(out + *n, head, (size_t)h);
        memcpy(out + *n + (size_t)h, json, len);
        memcpy(out + *n + (size_t)h + len, "\n\n", 2);
        *n += (size_t)h + len + 2;
        return true;
}

struct fill {
        char *out;
        size_t room, n;
};

static bool fill_event(void *arg, uint64_t seq, sr_slice_t json)
{
        struct fill *f = arg;

        return sse_message(f->out, f->room, &f->n, seq, json.ptr, json.len);
}

static void end_message(struct fill *f, const char *fmt, ...)
        SR_PRINTF(2, 3);

static void end_message(struct fill *f, const char *fmt, ...)
{
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = vsnprintf(f->out + f->n, f->room - f->n, fmt, ap);
        va_end(ap);
        if (k > 0 && (size_t)k < f->room - f->n)
                f->n += (size_t)k;
}

static sr_h1_pull_t pull_run(watcher_t *w, struct fill *f)
{
        sr_proj_run_events_t st;
        sr_errctx_t ec = { 0 };
        char run[SR_UUID_STR_LEN + 1];

        sr_uuid_fmt(&w->run, run);
        if (sr_proj_read_events(w->gw->proj, w->enterprise, &w->run,
                                w->next_seq - 1, fill_event, f, &st,
                                &ec) != SR_OK) {
                if (ec.code == SR_ERR_RETRY)
                        return SR_H1_PULL_WAIT; /* reader slots: next wake */
                SR_WARN("GATEWAY", "watch read failed run=%s err=\"%s\"", run,
                        ec.msg);
                end_message(f, "event: end\ndata: {\"pipeline_run_id\":\"%s\","
                            "\"message\":\"the projection could not be read; "
                            "reconnect with Last-Event-ID\"}\n\n", run);
                return SR_H1_PULL_END;
        }
        w->next_seq = st.next_seq;
        if (st.kept_from > w->next_seq &&
            f->room - f->n > 512) { /* said, never skipped silently */
                end_message(f, "event: gap\ndata: {\"pipeline_run_id\":\"%s\","
                            "\"from_seq\":%" PRIu64 ",\"to_seq\":%" PRIu64
                            ",\"message\":\"these events were no longer on "
                            "sr.events when the gateway read it\"}\n\n", run,
                            w->next_seq, st.kept_from - 1);
                w->next_seq = st.kept_from;
                return SR_H1_PULL_WAIT; /* the rest at the next pull */
        }
        if (!st.run_found) {
                end_message(f, "event: end\ndata: {\"pipeline_run_id\":\"%s\","
                            "\"message\":\"the run retired: its events are "
                            "no longer kept\"}\n\n", run);
                return SR_H1_PULL_END;
        }
        if (st.run_final && w->next_seq > st.last_seq) {
                end_message(f, "event: end\ndata: {\"pipeline_run_id\":\"%s\","
                            "\"last_seq\":%" PRIu64 "}\n\n", run,
                            st.last_seq);
                return SR_H1_PULL_END;
        }
        if (w->next_seq > SR_PROJ_EVENTS_PER_RUN_MAX) {
                end_message(f, "event: end\ndata: {\"pipeline_run_id\":\"%s\","
                            "\"message\":\"events past seq %d are not kept "
                            "for watchers\"}\n\n", run,
                            SR_PROJ_EVENTS_PER_RUN_MAX);
                return SR_H1_PULL_END;
        }
        return SR_H1_PULL_WAIT;
}

static sr_h1_pull_t pull_all(watcher_t *w, struct fill *f)
{
        sr_gw_watch_t *r = w->gw->watch;
        sr_h1_pull_t res = SR_H1_PULL_WAIT;

        pthread_mutex_lock(&r->mu);
        if (r->head > SR_GW_WATCH_RING && w->pos < r->head - SR_GW_WATCH_RING) {
                end_message(f, "event: dropped\ndata: {\"message\":\"this "
                            "watcher fell more than %d events behind: "
                            "closed; reconnect\"}\n\n", SR_GW_WATCH_RING);
                if (w->gw->watch_dropped)
                        sr_series_add(w->gw->watch_dropped, 1);
                res = SR_H1_PULL_END;
                goto out;
        }
        for (; w->pos < r->head; w->pos++) {
                const ring_slot_t *s = &r->ring[w->pos % SR_GW_WATCH_RING];

                if (strcmp(s->enterprise, w->enterprise))
                        continue;
                if (!sse_message(f->out, f->room, &f->n, s->seq, s->json,
                                 s->len))
                        break;
        }
out:
        pthread_mutex_unlock(&r->mu);
        return res;
}

static sr_h1_pull_t watch_pull(void *arg, char *out, size_t room, size_t *n)
{
        watcher_t *w = arg;
        struct fill f = { .out = out, .room = room };
        sr_h1_pull_t r = w->all ? pull_all(w, &f) : pull_run(w, &f);

        *n = f.n;
        return r;
}

static void watch_close(void *arg, bool stalled)
{
        watcher_t *w = arg;
        sr_gateway_t *gw = w->gw;

        atomic_fetch_sub(&gw->watch->open, 1);
        if (gw->watch_conns)
                sr_series_set(gw->watch_conns,
                              (double)atomic_load(&gw->watch->open));
        if (stalled && gw->watch_dropped)
                sr_series_add(gw->watch_dropped, 1);
        free(w);
}

/* ------------------------------------------------------------ handlers */

/* Last-Event-ID: a seq, as the stream's "id:" lines give it. */
static bool parse_last_event_id(const char *s, uint64_t *out)
{
        uint64_t v = 0;

        if (!*s)
                return false;
        for (; *s; s++) {
                if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
                        return false;
                v = v * 10 + (uint64_t)(*s - '0');
        }
        *out = v;
        return true;
}

static void answer_stream(sr_gw_ctx_t *c, watcher_t *w)
{
        sr_gateway_t *gw = c->gw;
        int open = atomic_fetch_add(&gw->watch->open, 1) + 1;

        if (gw->watch_conns)
                sr_series_set(gw->watch_conns, (double)open);
        c->resp->status = 200;
        c->resp->content_type = "text/event-stream";
        c->resp->stream = (sr_h1_stream_t){ .pull = watch_pull,
                                            .close = watch_close,
                                            .arg = w,
                                            .stalled_last = dropped_last };
}

void sr_gateway__watch_run(sr_gw_ctx_t *c)
{
        const char *lei = c->req->last_event_id;
        sr_pipeline_run_t pr;
        sr_errctx_t ec = { 0 };
        uint64_t after = 0;
        watcher_t *w;

        if (lei && !parse_last_event_id(lei, &after)) {
                sr_gateway__answer_status(c->resp, 400,
                                          "Last-Event-ID: \"%.40s\" is not "
                                          "a seq (a decimal integer)", lei);
                return;
        }
        if (sr_proj_get_pipeline_run(c->gw->proj, c->enterprise,
                                     &c->route->pipeline_run_id, &pr,
                                     &ec) != SR_OK) {
                sr_gateway__proj_failed(c, &ec, "pipeline run");
                return;
        }
        w = calloc(1, sizeof(*w));
        if (!w) {
                sr_gateway__answer_status(c->resp, 503,
                                          "out of memory; retry");
                return;
        }
        w->gw = c->gw;
        snprintf(w->enterprise, sizeof(w->enterprise), "%s", c->enterprise);
        w->run = c->route->pipeline_run_id;
        w->next_seq = after + 1;
        answer_stream(c, w);
}

void sr_gateway__watch_all(sr_gw_ctx_t *c)
{
        sr_gw_watch_t *r = c->gw->watch;
        watcher_t *w = calloc(1, sizeof(*w));

        if (!w) {
                sr_gateway__answer_status(c->resp, 503,
                                          "out of memory; retry");
                return;
        }
        w->gw = c->gw;
        w->all = true;
        snprintf(w->enterprise, sizeof(w->enterprise), "%s", c->enterprise);
        pthread_mutex_lock(&r->mu);
        w->pos = r->head; /* from now */
        pthread_mutex_unlock(&r->mu);
        answer_stream(c, w);
}
