/* workers/agent/handler.c - sr-agent: answers device commands with a
 * realistic sequence of command statuses.
 *
 * State: a hash table of known commands (by command id) and a min-heap of
 * each unfinished command's next answer, by due time. Finished commands
 * stay in the table for a retention time so that a re-delivered request is
 * recognised and ignored; after that a re-delivery is answered again, with
 * the very same results.
 */
#include "handler.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sr_clock.h"
#include "sr_codec.h"
#include "sr_log.h"
#include "sr_model.h"
#include "sr_simulate.h"

#define RETENTION_MS 60000     /* finished commands remembered this long */
#define MAX_PARTITIONS 1024
#define N_STEPS 4              /* QUEUED, INITIATED, INPROGRESS, final */

struct cmd {
        sr_uuid_t id; /* nil: empty slot */
        sr_uuid_t pipeline_run_id, stage_run_id, target_run_id, device_id;
        char *device_name; /* owned; freed once finished */
        int32_t partition;
        int64_t offset;
        int64_t issued_at; /* of the request, ms since the epoch; 0: none */
        sr_cmdst_t final;
        int latency_ms; /* between answers: the args' or the agent's */
        uint8_t next_step; /* index into the script */
        bool finished;
        int64_t finished_at; /* monotonic ms */
};

struct due {
        int64_t at; /* monotonic ms */
        uint64_t seq; /* ties: first scheduled, first sent */
        sr_uuid_t id;
};

struct agent {
        sr_producer_t *producer; /* borrowed */
        sr_codec_t *codec;
        int latency_ms;
        double failure_rate;
        uint64_t seed;

        struct cmd *tab; /* open addressing, linear probing */
        size_t cap, count, unfinished;

        struct due *heap;
        size_t heap_len, heap_cap;
        uint64_t heap_seq;

        int64_t next_offset[MAX_PARTITIONS]; /* highest seen + 1; -1 none */
        int64_t committed[MAX_PARTITIONS];

        sr_series_t *m_commands, *m_cancels, *m_dups, *m_invalid;
        sr_series_t *m_results[SR_CMDST__COUNT];
        sr_series_t *m_pending;

        int64_t next_check; /* agent_check_broker(): poll thread only */
        atomic_int broker; /* 0 never answered, 1 up, -1 down since */
};

/* ------------------------------------------------------------ PRNG */

/* splitmix64: a tiny, well-mixed generator; one state per draw site. */
static uint64_t splitmix64(uint64_t *state)
{
        uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

static uint64_t uuid_hash(const sr_uuid_t *u)
{
        uint64_t a, b;

        memcpy(&a, u->b, 8);
        memcpy(&b, u->b + 8, 8);
        return a ^ (b * 0x9e3779b97f4a7c15ULL);
}

/* The outcome of a command depends on the seed and its id only, not on
 * the order requests arrive in: runs repeat, re-deliveries agree. */
static sr_cmdst_t draw_outcome(const agent_t *a, const sr_uuid_t *id)
{
        uint64_t state = a->seed ^ uuid_hash(id);
        double u = (double)(splitmix64(&state) >> 11) * 0x1.0p-53;

        return u < a->failure_rate ? SR_CMDST_FAILED : SR_CMDST_SUCCESS;
}

/* ------------------------------------------------------------ table */

static struct cmd *tab_find(const agent_t *a, const sr_uuid_t *id)
{
        size_t mask = a->cap - 1;

        for (size_t i = uuid_hash(id) & mask;; i = (i + 1) & mask) {
                if (sr_uuid_is_nil(&a->tab[i].id))
                        return NULL;
                if (sr_uuid_eq(&a->tab[i].id, id))
                        return &a->tab[i];
        }
}

static bool tab_grow(agent_t *a)
{
        size_t cap = a->cap * 2, mask = cap - 1;
        struct cmd *tab = calloc(cap, sizeof(*tab));

        if (!tab)
                return false;
        for (size_t j = 0; j < a->cap; j++) {
                size_t i;

                if (sr_uuid_is_nil(&a->tab[j].id))
                        continue;
                for (i = uuid_hash(&a->tab[j].id) & mask;
                     !sr_uuid_is_nil(&tab[i].id); i = (i + 1) & mask)
                        ;
                tab[i] = a->tab[j];
        }
        free(a->tab);
        a->tab = tab;
        a->cap = cap;
        return true;
}

/* A new zeroed slot for @p id (not present); NULL when out of memory. */
static struct cmd *tab_insert(agent_t *a, const sr_uuid_t *id)
{
        size_t mask, i;

        if ((a->count + 1) * 4 > a->cap * 3 && !tab_grow(a))
                return NULL;
        mask = a->cap - 1;
        for (i = uuid_hash(id) & mask; !sr_uuid_is_nil(&a->tab[i].id);
             i = (i + 1) & mask)
                ;
        memset(&a->tab[i], 0, sizeof(a->tab[i]));
        a->tab[i].id = *id;
        a->count++;
        return &a->tab[i];
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static void tab_delete(agent_t *a, struct cmd *c)
{
        size_t mask = a->cap - 1, hole = (size_t)(c - a->tab), i = hole;

        free(c->device_name);
        memset(c, 0, sizeof(*c));
        a->count--;
        for (;;) {
                size_t home;

                i = (i + 1) & mask;
                if (sr_uuid_is_nil(&a->tab[i].id))
                        return;
                home = uuid_hash(&a->tab[i].id) & mask;
                /* Move i into the hole unless its home lies cyclically in
                 * (hole, i]. */
                if ((i > hole && (home <= hole || home > i)) ||
                    (i < hole && home <= hole && home > i)) {
                        a->tab[hole] = a->tab[i];
                        memset(&a->tab[i], 0, sizeof(a->tab[i]));
                        hole = i;
                }
        }
}

/* ------------------------------------------------------------ heap */

static bool due_less(const struct due *x, const struct due *y)
{
        return x->at < y->at || (x->at == y->at && x->seq < y->seq);
}

static bool heap_push(agent_t *a, int64_t at, const sr_uuid_t *id)
{
        struct due d = { at, a->heap_seq++, *id };
        size_t i;

        if (a->heap_len == a->heap_cap) {
                size_t cap = a->heap_cap ? a->heap_cap * 2 : 256;
                struct due *h = realloc(a->heap, cap * sizeof(*h));

                if (!h)
                        return false;
                a->heap = h;
                a->heap_cap = cap;
        }
        i = a->heap_len++;
        while (i > 0 && due_less(&d, &a->heap[(i - 1) / 2])) {
                a->heap[i] = a->heap[(i - 1) / 2];
                i = (i - 1) / 2;
        }
        a->heap[i] = d;
        return true;
}

static void heap_pop(agent_t *a)
{
        struct due last = a->heap[--a->heap_len];
        size_t i = 0, n = a->heap_len;

        for (;;) {
                size_t l = 2 * i + 1, r = l + 1, m = i;
                const struct due *mv = &last;

                if (l < n && due_less(&a->heap[l], mv)) {
                        m = l;
                        mv = &a->heap[l];
                }
                if (r < n && due_less(&a->heap[r], mv))
                        m = r;
                if (m == i)
                        break;
                a->heap[i] = a->heap[m];
                i = m;
        }
        if (n)
                a->heap[i] = last;
}

/* ------------------------------------------------------------ answers */

static sr_err_t send_result(agent_t *a, const struct cmd *c, sr_cmdst_t st,
                            int64_t reported_at, sr_errctx_t *ec)
{
        char id[SR_UUID_STR_LEN + 1], key[SR_UUID_STR_LEN + 1];
        sr_result_t res;
        sr_outrec_t rec;
        sr_buf_t buf = { NULL, 0 };
        sr_err_t err;

        memset(&res, 0, sizeof(res));
        sr_uuid_fmt(&c->id, id);
        sr_uuid_v5(&res.result_id, &sr_ns, "%s/result/%s", id,
                   sr_cmdst_name(st));
        res.pipeline_run_id = c->pipeline_run_id;
        res.stage_run_id = c->stage_run_id;
        res.target_run_id = c->target_run_id;
        res.command_id = c->id;
        snprintf(res.command_status, sizeof(res.command_status), "%s",
                 sr_cmdst_name(st));
        res.device_id = c->device_id;
        snprintf(res.device_name, sizeof(res.device_name), "%s",
                 c->device_name ? c->device_name : "");
        res.reported_at = reported_at > 0 ? reported_at : sr_clock_wall_ms();
        err = sr_codec_encode_result(a->codec, &res, &buf, ec);
        if (err)
                return err;

        memset(&rec, 0, sizeof(rec));
        sr_uuid_fmt(&c->pipeline_run_id, key);
        rec.topic = SR_TOPIC_RESULTS;
        rec.partition = -1; /* by key, as every producer of sr.results */
        rec.key = sr_slice(key, SR_UUID_STR_LEN);
        rec.value = sr_buf_slice(&buf);
        rec.timestamp = res.reported_at;
        err = sr_producer_send(a->producer, &rec, ec);
        sr_buf_free(&buf);
        if (err)
                return err;
        sr_series_add(a->m_results[st], 1);
        SR_DEBUG("AGENT", "result sent command=%s status=%s run=%s", id,
                 sr_cmdst_name(st), key);
        return SR_OK;
}

static void finish(agent_t *a, struct cmd *c, int64_t now)
{
        c->finished = true;
        c->finished_at = now;
        free(c->device_name);
        c->device_name = NULL;
        a->unfinished--;
        sr_series_set(a->m_pending, (double)a->unfinished);
}

static sr_cmdst_t script_step(const struct cmd *c)
{
        static const sr_cmdst_t script[N_STEPS - 1] = {
                SR_CMDST_QUEUED, SR_CMDST_INITIATED, SR_CMDST_INPROGRESS
        };

        return c->next_step < N_STEPS - 1 ? script[c->next_step] : c->final;
}

/* ------------------------------------------------------------ requests */

static void track_offset(agent_t *a, const sr_inrec_t *rec)
{
        if (rec->partition < 0 || rec->partition >= MAX_PARTITIONS)
                return;
        if (rec->offset + 1 > a->next_offset[rec->partition])
                a->next_offset[rec->partition] = rec->offset + 1;
}

/* The operation args' "simulate" directive (sr_simulate.h) decides the
 * outcome and pace of this device's command; without one, agent.seed,
 * agent.failure.rate and agent.latency.ms do. A malformed directive is
 * logged and ignored. */
static void apply_simulate(const agent_t *a, struct cmd *c,
                           const sr_dispatch_t *d)
{
        sr_errctx_t sec = { 0 };
        sr_simulate_t sim;
        char id[SR_UUID_STR_LEN + 1];

        c->final = draw_outcome(a, &d->command_id);
        c->latency_ms = a->latency_ms;
        if (sr_simulate_parse(d->args_json, d->device_name, &sim, &sec)) {
                sr_uuid_fmt(&d->command_id, id);
                SR_WARN("AGENT", "simulate directive ignored: %s command=%s",
                        sec.msg, id);
                return;
        }
        if (sim.present)
                c->final = sim.fail ? SR_CMDST_FAILED : SR_CMDST_SUCCESS;
        if (sim.latency_ms >= 0)
                c->latency_ms = sim.latency_ms;
}

static sr_err_t on_command(agent_t *a, const sr_dispatch_t *d,
                           const sr_inrec_t *rec, int64_t now,
                           sr_errctx_t *ec)
{
        struct cmd *c = tab_find(a, &d->command_id);

        if (c) {
                sr_series_add(a->m_dups, 1);
                return SR_OK;
        }
        c = tab_insert(a, &d->command_id);
        if (!c)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "agent: table");
        c->pipeline_run_id = d->pipeline_run_id;
        c->stage_run_id = d->stage_run_id;
        c->target_run_id = d->target_run_id;
        c->device_id = d->device_id;
        c->device_name = strdup(d->device_name);
        c->partition = rec->partition;
        c->offset = rec->offset;
        c->issued_at = d->issued_at;
        apply_simulate(a, c, d);
        a->unfinished++;
        if (!c->device_name || !heap_push(a, now + c->latency_ms, &c->id)) {
                finish(a, c, now);
                return sr_errctx_set(ec, SR_ERR_NOMEM, "agent: schedule");
        }
        sr_series_add(a->m_commands, 1);
        sr_series_set(a->m_pending, (double)a->unfinished);
        return SR_OK;
}

static sr_err_t on_cancel(agent_t *a, const sr_dispatch_t *d, int64_t now,
                          sr_errctx_t *ec)
{
        struct cmd *c = tab_find(a, &d->command_id);
        sr_err_t err;

        sr_series_add(a->m_cancels, 1);
        if (!c || c->finished)
                return SR_OK; /* unknown or already answered: nothing to do */
        err = send_result(a, c, SR_CMDST_CANCELLED, d->issued_at, ec);
        if (err)
                return err;
        finish(a, c, now); /* its heap entry is dropped when it comes up */
        return SR_OK;
}

sr_err_t agent_on_record(agent_t *a, const sr_inrec_t *rec, int64_t now,
                         sr_errctx_t *ec)
{
        sr_errctx_t dec = { 0 };
        sr_dispatch_t d;
        char *args = NULL;
        sr_err_t err;

        track_offset(a, rec);
        if (sr_codec_decode_dispatch(a->codec, rec->value, &d, &args, &dec)) {
                sr_series_add(a->m_invalid, 1);
                SR_WARN("AGENT", "dispatch skipped: %s partition=%d "
                        "offset=%" PRId64, dec.msg, (int)rec->partition,
                        rec->offset);
                return SR_OK;
        }
        err = d.kind == SR_DISPATCH_CANCEL ? on_cancel(a, &d, now, ec) :
                                             on_command(a, &d, rec, now, ec);
        free(args);
        return err;
}

sr_err_t agent_tick(agent_t *a, int64_t now, sr_errctx_t *ec)
{
        sr_err_t err;

        while (a->heap_len && a->heap[0].at <= now) {
                struct due top = a->heap[0];
                struct cmd *c = tab_find(a, &top.id);
                int64_t reported;
                sr_cmdst_t st;

                if (!c || c->finished) {
                        heap_pop(a);
                        continue;
                }
                /* Send first: on failure the answer stays due and is
                 * retried on the next tick. */
                st = script_step(c);
                reported = c->issued_at ? c->issued_at +
                                                  (int64_t)c->latency_ms *
                                                          (c->next_step + 1) :
                                          0;
                err = send_result(a, c, st, reported, ec);
                if (err)
                        return err;
                heap_pop(a);
                if (++c->next_step >= N_STEPS)
                        finish(a, c, now);
                else if (!heap_push(a, top.at + c->latency_ms, &c->id))
                        return sr_errctx_set(ec, SR_ERR_NOMEM,
                                             "agent: schedule");
        }
        /* Forget what finished long ago. A full scan, but rare: only once
         * the table has grown, and amortised over its growth. */
        if (a->count > a->unfinished + 1024 || a->count * 2 > a->cap) {
                for (size_t i = 0; i < a->cap; i++) {
                        struct cmd *c = &a->tab[i];

                        /* A backward shift may move an unvisited entry into
                         * slot i: look at i again. */
                        while (!sr_uuid_is_nil(&c->id) && c->finished &&
                               now - c->finished_at > RETENTION_MS)
                                tab_delete(a, c);
                }
        }
        return SR_OK;
}

int agent_wait_ms(const agent_t *a, int64_t now, int max)
{
        int64_t w;

        if (!a->heap_len)
                return max;
        w = a->heap[0].at - now;
        return w <= 0 ? 0 : w < max ? (int)w : max;
}

size_t agent_pending(const agent_t *a)
{
        return a->unfinished;
}

sr_err_t agent_commit(agent_t *a, sr_consumer_t *consumer, sr_errctx_t *ec)
{
        sr_topic_kind_t topics[MAX_PARTITIONS];
        int32_t parts[MAX_PARTITIONS];
        int64_t upto[MAX_PARTITIONS], offsets[MAX_PARTITIONS];
        int n = 0;
        sr_err_t err;

        /* Only acknowledged answers count as done. */
        if (sr_producer_wait(a->producer, 200, NULL) != SR_OK)
                return SR_OK;
        for (int p = 0; p < MAX_PARTITIONS; p++)
                upto[p] = a->next_offset[p];
        for (size_t i = 0; i < a->cap; i++) {
                const struct cmd *c = &a->tab[i];

                if (!sr_uuid_is_nil(&c->id) && !c->finished &&
                    c->partition >= 0 && c->partition < MAX_PARTITIONS &&
                    c->offset < upto[c->partition])
                        upto[c->partition] = c->offset;
        }
        for (int p = 0; p < MAX_PARTITIONS; p++) {
                if (upto[p] < 0 || upto[p] == a->committed[p])
                        continue;
                topics[n] = SR_TOPIC_DISPATCH;
                parts[n] = p;
                offsets[n++] = upto[p];
        }
        err = sr_consumer_commit(consumer, topics, parts, offsets, n, ec);
        if (err)
                return err;
        for (int i = 0; i < n; i++)
                a->committed[parts[i]] = offsets[i];
        return SR_OK;
}

/* ------------------------------------------------------------ lifecycle */

sr_err_t agent_new(const sr_conf_t *conf, sr_producer_t *producer,
                   sr_metrics_t *metrics, agent_t **out, sr_errctx_t *ec)
{
        agent_t *a = calloc(1, sizeof(*a));
        sr_err_t err;

        if (!a)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "agent: calloc");
        a->producer = producer;
        atomic_init(&a->broker, 0);
        a->latency_ms = conf->agent_latency_ms;
        a->failure_rate = conf->agent_failure_rate;
        a->seed = (uint64_t)conf->agent_seed;
        a->cap = 1024;
        a->tab = calloc(a->cap, sizeof(*a->tab));
        if (!a->tab) {
                free(a);
                return sr_errctx_set(ec, SR_ERR_NOMEM, "agent: calloc");
        }
        for (int p = 0; p < MAX_PARTITIONS; p++)
                a->next_offset[p] = a->committed[p] = -1;
        err = sr_codec_new(&a->codec, ec);
        if (err) {
                free(a->tab);
                free(a);
                return err;
        }
        sr_codec_set_ids(a->codec, &conf->schema_ids);
        if (metrics) {
                static const char help[] = "Dispatch requests read, by kind.";

                a->m_commands = sr_metrics_counter(metrics,
                        "sr_agent_requests_total", help, "kind=\"command\"");
                a->m_cancels = sr_metrics_counter(metrics,
                        "sr_agent_requests_total", help, "kind=\"cancel\"");
                a->m_dups = sr_metrics_counter(metrics,
                        "sr_agent_requests_total", help,
                        "kind=\"duplicate\"");
                a->m_invalid = sr_metrics_counter(metrics,
                        "sr_agent_requests_total", help, "kind=\"invalid\"");
                for (int s = 0; s < SR_CMDST__COUNT; s++) {
                        char labels[64];

                        snprintf(labels, sizeof(labels), "status=\"%s\"",
                                 sr_cmdst_name((sr_cmdst_t)s));
                        a->m_results[s] = sr_metrics_counter(metrics,
                                "sr_agent_results_total",
                                "Results sent, by command status.", labels);
                }
                a->m_pending = sr_metrics_gauge(metrics,
                        "sr_agent_pending_commands",
                        "Device commands not answered to the end yet.",
                        NULL);
        }
        *out = a;
        return SR_OK;
}

void agent_destroy(agent_t *a)
{
        if (!a)
                return;
        for (size_t i = 0; i < a->cap; i++)
                free(a->tab[i].device_name);
        free(a->tab);
        free(a->heap);
        sr_codec_destroy(a->codec);
        free(a);
}

void agent_check_broker(agent_t *a, sr_consumer_t *consumer, int64_t now)
{
        sr_errctx_t ec = { 0 };
        bool up;

        if (now < a->next_check)
                return;
        up = sr_consumer_ping(consumer, 1000, &ec) == SR_OK;
        if (up != (atomic_load(&a->broker) == 1))
                SR_INFO("AGENT", "broker %s", up ? "reachable" : "unreachable");
        atomic_store(&a->broker, up ? 1 : atomic_load(&a->broker) ? -1 : 0);
        /* Until a first answer, every poll asks; then every 5 s. */
        a->next_check = up || atomic_load(&a->broker) ? now + 5000 : now;
}

bool agent_is_ready(void *arg, char *why, size_t why_size)
{
        agent_t *a = arg;
        int b = atomic_load(&a->broker);

        if (b == 1)
                return true;
        snprintf(why, why_size, "%s", b ? "broker unreachable" :
                 "not connected to the broker yet");
        return false;
}
