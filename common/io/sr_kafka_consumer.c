/* common/io/sr_kafka_consumer.c - the group consumer: subscription,
 * rebalances handed to the worker's hooks (start offsets per partition),
 * polling into sr_inrec_t, commits, lag and the metadata ping. */
#include "sr_kafka_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The longest the lag gauge waits for committed offsets it does not know
 * (once per partition and assignment, on the ping path). */
#define LAG_COMMITTED_MS 500

struct sr_consumer {
        kafka_handle_t h; /* first: the librdkafka opaque */
        rd_kafka_t *rk;
        int n_topics;
        sr_topic_kind_t topics[SR_TOPIC__COUNT];
        char names[SR_TOPIC__COUNT][TOPIC_NAME_MAX]; /* by sr_topic_kind_t */
        bool have_hooks;
        sr_consumer_hooks_t hooks;
        rd_kafka_message_t **held; /* records of the last poll */
        int n_held, cap_held;
        /* Where each assigned partition's reading starts, while nothing
         * was consumed from it (librdkafka's position is unknown until
         * then): the offsets we assigned or sought, or the committed ones
         * asked once. For the lag gauge only; cleared on revoke. */
        struct start_off {
                int kind;
                int32_t part;
                int64_t off;
        } *starts;
        int n_starts, cap_starts;
        /* The offset each partition of the first two topics (by hook
         * column: commands, results) should give next, -1 when unknown
         * (assigned, sought or revoked since: the owner's start check
         * covers what a start skips, sr_worker_restore.c). Indexed by
         * partition number. A record past it with the log's start past it
         * too means records deleted under a lagging reader: librdkafka
         * went on from the log's start (auto.offset.reset) with a log line
         * only. Counted in lost[] until sr_consumer_take_lost(). */
        int64_t *next[2];
        int32_t cap_next[2];
        uint64_t lost[2];
};

static int64_t start_of(const sr_consumer_t *c, int kind, int32_t part)
{
        for (int i = 0; i < c->n_starts; i++)
                if (c->starts[i].kind == kind && c->starts[i].part == part)
                        return c->starts[i].off;
        return -1;
}

/* Best effort: without memory the lag reads -1 ("unknown") a while. */
static void start_note(sr_consumer_t *c, int kind, int32_t part, int64_t off)
{
        for (int i = 0; i < c->n_starts; i++) {
                if (c->starts[i].kind == kind && c->starts[i].part == part) {
                        c->starts[i].off = off;
                        return;
                }
        }
        if (c->n_starts == c->cap_starts) {
                int cap = c->cap_starts ? 2 * c->cap_starts : 16;
                struct start_off *n = realloc(c->starts,
                                              (size_t)cap * sizeof(*n));

                if (!n)
                        return;
                c->starts = n;
                c->cap_starts = cap;
        }
        c->starts[c->n_starts++] = (struct start_off){ kind, part, off };
}

static void starts_forget(sr_consumer_t *c, int32_t part)
{
        for (int i = 0; i < c->n_starts;)
                if (c->starts[i].part == part)
                        c->starts[i] = c->starts[--c->n_starts];
                else
                        i++;
}

/* Partition @p part's next offsets unknown again (both columns). */
static void next_forget(sr_consumer_t *c, int32_t part)
{
        for (int col = 0; col < 2; col++)
                if (part >= 0 && part < c->cap_next[col])
                        c->next[col][part] = -1;
}

/* Room for partition @p part in column @p col. Best effort: without
 * memory the partition goes unchecked. */
static bool next_reserve(sr_consumer_t *c, int col, int32_t part)
{
        int32_t cap = c->cap_next[col] ? c->cap_next[col] : 16;
        int64_t *n;

        if (part < c->cap_next[col])
                return true;
        while (cap <= part && cap < INT32_MAX / 2)
                cap *= 2;
        if (cap <= part || !(n = realloc(c->next[col],
                                         (size_t)cap * sizeof(*n))))
                return false;
        for (int32_t i = c->cap_next[col]; i < cap; i++)
                n[i] = -1;
        c->next[col] = n;
        c->cap_next[col] = cap;
        return true;
}

/* Record @p m of hook column @p col: a jump past the offset expected
 * next, with the log's start (as the last fetch reported it, no request)
 * past that offset too, skipped records the topic deleted before we read
 * them. Transaction markers and aborted records make gaps as well, but
 * below the log's start only deleted offsets lie. */
static void gap_check(sr_consumer_t *c, int col, const rd_kafka_message_t *m)
{
        int64_t want, low, high, to;

        if (!next_reserve(c, col, m->partition))
                return;
        want = c->next[col][m->partition];
        c->next[col][m->partition] = m->offset + 1;
        if (want < 0 || m->offset <= want)
                return;
        if (rd_kafka_get_watermark_offsets(c->rk, rd_kafka_topic_name(m->rkt),
                                           m->partition, &low, &high) ||
            low <= want)
                return;
        to = low < m->offset ? low : m->offset;
        c->lost[col] += (uint64_t)(to - want);
        SR_ERROR("KAFKA", "input records lost: deleted by the topic's "
                 "retention while this reader lagged behind them; keep "
                 "input topics longer than a reader can lag topic=%s "
                 "partition=%d from=%" PRId64 " to=%" PRId64 " count=%"
                 PRId64, rd_kafka_topic_name(m->rkt), (int)m->partition,
                 want, to, to - want);
}

void sr_consumer_take_lost(sr_consumer_t *c, uint64_t lost[2])
{
        for (int col = 0; col < 2; col++) {
                lost[col] = c->lost[col];
                c->lost[col] = 0;
        }
}

rd_kafka_t *sr_kafka__consumer_rk(struct sr_consumer *c)
{
        return c->rk;
}

static int topic_kind_of(const sr_consumer_t *c, const char *name)
{
        for (int i = 0; i < c->n_topics; i++)
                if (!strcmp(c->names[c->topics[i]], name))
                        return (int)c->topics[i];
        return -1;
}

/* Column of a topic in on_assign's [n][2] table: commands 0, results 1;
 * other topics by their place in the subscription. -1: none. */
static int hook_column(const sr_consumer_t *c, int kind)
{
        if (kind == SR_TOPIC_COMMANDS)
                return 0;
        if (kind == SR_TOPIC_RESULTS)
                return 1;
        for (int i = 0; i < c->n_topics && i < 2; i++)
                if ((int)c->topics[i] == kind)
                        return i;
        return -1;
}

static int cmp_i32(const void *a, const void *b)
{
        int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

        return (x > y) - (x < y);
}

/* The distinct partition numbers of @p list, sorted, into @p parts. */
static int distinct_partitions(const rd_kafka_topic_partition_list_t *list,
                               int32_t *parts)
{
        int n = 0;

        for (int i = 0; i < list->cnt; i++)
                parts[i] = list->elems[i].partition;
        qsort(parts, (size_t)list->cnt, sizeof(*parts), cmp_i32);
        for (int i = 0; i < list->cnt; i++)
                if (n == 0 || parts[n - 1] != parts[i])
                        parts[n++] = parts[i];
        return n;
}

static void apply_assignment(sr_consumer_t *c,
                             rd_kafka_topic_partition_list_t *list,
                             bool assign)
{
        rd_kafka_error_t *error = NULL;
        rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
        /* NULL while the consumer is in no group (its close during a
         * broker outage: UBSan caught strcmp(NULL) in
         * integration.test_size_budget's broker-outage test). */
        const char *proto = rd_kafka_rebalance_protocol(c->rk);
        bool cooperative = proto && !strcmp(proto, "COOPERATIVE");

        if (cooperative && !list)
                return;
        if (cooperative)
                error = assign ? rd_kafka_incremental_assign(c->rk, list) :
                                 rd_kafka_incremental_unassign(c->rk, list);
        else
                err = rd_kafka_assign(c->rk, assign ? list : NULL);
        if (error) {
                SR_ERROR("KAFKA", "%s failed: %s", assign ? "assign" :
                                                           "unassign",
                         rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        } else if (err) {
                SR_ERROR("KAFKA", "%s failed: %s", assign ? "assign" :
                                                           "unassign",
                         rd_kafka_err2str(err));
        }
}

/* Pause or resume (commands, results) of partition @p part. */
static rd_kafka_resp_err_t pause_resume(sr_consumer_t *c, int32_t part,
                                        bool pause)
{
        rd_kafka_topic_partition_list_t *l =
                rd_kafka_topic_partition_list_new(c->n_topics);
        rd_kafka_resp_err_t err;

        for (int i = 0; i < c->n_topics; i++)
                rd_kafka_topic_partition_list_add(l, c->names[c->topics[i]],
                                                  part);
        err = pause ? rd_kafka_pause_partitions(c->rk, l) :
                      rd_kafka_resume_partitions(c->rk, l);
        for (int i = 0; !err && i < l->cnt; i++)
                err = l->elems[i].err;
        rd_kafka_topic_partition_list_destroy(l);
        return err;
}

static void on_assign(sr_consumer_t *c, rd_kafka_topic_partition_list_t *list)
{
        int32_t *parts;
        int64_t *starts;
        int n;

        for (int i = 0; i < list->cnt; i++)
                next_forget(c, list->elems[i].partition);
        if (!c->have_hooks || !c->hooks.on_assign || list->cnt == 0) {
                apply_assignment(c, list, true);
                return;
        }
        parts = malloc((size_t)list->cnt * sizeof(*parts));
        starts = malloc((size_t)list->cnt * 2 * sizeof(*starts));
        if (!parts || !starts) {
                /* Without memory we cannot ask the owner; assign from the
                 * committed offsets, which is always safe here. */
                SR_ERROR("KAFKA", "assign: out of memory, using committed "
                         "offsets");
                free(parts);
                free(starts);
                apply_assignment(c, list, true);
                return;
        }
        n = distinct_partitions(list, parts);
        for (int i = 0; i < n * 2; i++)
                starts[i] = -1;
        c->hooks.on_assign(c->hooks.arg, parts, n, starts);
        for (int i = 0; i < list->cnt; i++) {
                rd_kafka_topic_partition_t *tp = &list->elems[i];
                int col = hook_column(c, topic_kind_of(c, tp->topic));
                int32_t *hit = bsearch(&tp->partition, parts, (size_t)n,
                                       sizeof(*parts), cmp_i32);
                int64_t start = -1;

                if (col >= 0 && hit)
                        start = starts[(hit - parts) * 2 + col];
                tp->offset = start < 0 ? RD_KAFKA_OFFSET_INVALID : start;
                if (start >= 0)
                        start_note(c, topic_kind_of(c, tp->topic),
                                   tp->partition, start);
        }
        apply_assignment(c, list, true);
        /* Paused at once: a message fetched before the pause is dropped
         * by librdkafka (the pause is a version barrier). */
        for (int i = 0; i < n; i++) {
                rd_kafka_resp_err_t err;

                if (starts[2 * i] != SR_CONSUMER_PAUSED)
                        continue;
                err = pause_resume(c, parts[i], true);
                if (err)
                        SR_ERROR("KAFKA", "pause partition=%d: %s",
                                 (int)parts[i], rd_kafka_err2str(err));
        }
        free(parts);
        free(starts);
}

static void on_revoke(sr_consumer_t *c, rd_kafka_topic_partition_list_t *list)
{
        int32_t *parts;
        int n;

        if (c->have_hooks && c->hooks.on_revoke && list->cnt > 0) {
                parts = malloc((size_t)list->cnt * sizeof(*parts));
                if (parts) {
                        n = distinct_partitions(list, parts);
                        c->hooks.on_revoke(c->hooks.arg, parts, n);
                        /* librdkafka keeps a pause across an unassign: a
                         * later assignment must not find it paused. */
                        for (int i = 0; i < n; i++) {
                                pause_resume(c, parts[i], false);
                                starts_forget(c, parts[i]);
                        }
                        free(parts);
                } else {
                        SR_ERROR("KAFKA", "revoke: out of memory, hooks not "
                                 "called");
                }
        }
        for (int i = 0; i < list->cnt; i++) {
                starts_forget(c, list->elems[i].partition);
                next_forget(c, list->elems[i].partition);
        }
        apply_assignment(c, list, false);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *list, void *opaque)
{
        sr_consumer_t *c = opaque;

        (void)rk;
        SR_INFO("KAFKA", "rebalance: %s partitions=%d",
                err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? "assign" :
                err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS ? "revoke" :
                                                              "error",
                list ? list->cnt : 0);
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                on_assign(c, list);
        } else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
                on_revoke(c, list);
        } else {
                SR_ERROR("KAFKA", "rebalance error: %s", rd_kafka_err2str(err));
                apply_assignment(c, list, false);
        }
}

sr_err_t sr_consumer_new(const sr_conf_t *conf, const char *group_id,
                         const sr_topic_kind_t *topics, int n_topics,
                         const sr_consumer_hooks_t *hooks,
                         sr_consumer_t **cp, sr_errctx_t *ec)
{
        /* Forced: the worker commits itself after its outbox is relayed,
         * and range assignment keeps partition i of every subscribed topic
         * on the same member (co-partitioning). */
        const char *const forced[][2] = {
                { "group.id", group_id ? group_id : conf->group_id },
                { "enable.auto.commit", "false" },
                { "auto.offset.reset", "earliest" },
                { "partition.assignment.strategy", "range" },
        };
        rd_kafka_topic_partition_list_t *subs = NULL;
        rd_kafka_conf_t *kc;
        rd_kafka_resp_err_t kerr;
        sr_consumer_t *c;
        sr_err_t err;

        if (n_topics < 1 || n_topics > SR_TOPIC__COUNT || !forced[0][1])
                return sr_errctx_set(ec, SR_ERR_INVALID,
                                     "kafka consumer: need 1..%d topics and "
                                     "a group id", SR_TOPIC__COUNT);
        c = calloc(1, sizeof(*c));
        if (!c)
                return sr_errctx_set(ec, SR_ERR_NOMEM, "kafka: calloc");
        c->n_topics = n_topics;
        for (int i = 0; i < n_topics; i++) {
                if ((unsigned)topics[i] >= SR_TOPIC__COUNT) {
                        free(c);
                        return sr_errctx_set(ec, SR_ERR_INVALID,
                                             "kafka consumer: bad topic %d",
                                             (int)topics[i]);
                }
                c->topics[i] = topics[i];
        }
        for (int t = 0; t < SR_TOPIC__COUNT; t++)
                sr_kafka_topic_name(conf, (sr_topic_kind_t)t, c->names[t],
                                    sizeof(c->names[t]));
        if (hooks) {
                c->have_hooks = true;
                c->hooks = *hooks;
        }
        kc = sr_kafka__conf_copy(conf, c);
        if (!kc) {
                free(c);
                return sr_errctx_set(ec, SR_ERR_NOMEM, "kafka: conf");
        }
        for (size_t i = 0; i < sizeof(forced) / sizeof(forced[0]); i++) {
                err = sr_kafka__conf_put(kc, forced[i][0], forced[i][1], ec);
                if (err) {
                        rd_kafka_conf_destroy(kc);
                        free(c);
                        return err;
                }
        }
        if (conf->worker_name && conf->worker_name[0])
                sr_kafka__conf_put(kc, "client.id", conf->worker_name, NULL);
        rd_kafka_conf_set_rebalance_cb(kc, rebalance_cb);
        err = sr_kafka__handle_new(RD_KAFKA_CONSUMER, kc, &c->rk, ec);
        if (err) {
                free(c);
                return err;
        }
        rd_kafka_poll_set_consumer(c->rk);

        subs = rd_kafka_topic_partition_list_new(n_topics);
        for (int i = 0; i < n_topics; i++)
                rd_kafka_topic_partition_list_add(subs, c->names[topics[i]],
                                                  RD_KAFKA_PARTITION_UA);
        kerr = rd_kafka_subscribe(c->rk, subs);
        rd_kafka_topic_partition_list_destroy(subs);
        if (kerr) {
                err = sr_kafka__kafka_err(ec, kerr, "subscribe", NULL);
                rd_kafka_destroy(c->rk);
                free(c);
                return err;
        }
        *cp = c;
        return SR_OK;
}

static void release_held(sr_consumer_t *c)
{
        for (int i = 0; i < c->n_held; i++)
                rd_kafka_message_destroy(c->held[i]);
        c->n_held = 0;
}

void sr_consumer_destroy(sr_consumer_t *c)
{
        rd_kafka_resp_err_t err;

        if (!c)
                return;
        release_held(c);
        free(c->held);
        /* Leaving the group runs the revoke hook one last time (it edits
         * c->starts: freed only after). */
        err = rd_kafka_consumer_close(c->rk);
        if (err)
                SR_WARN("KAFKA", "consumer close: %s", rd_kafka_err2str(err));
        rd_kafka_destroy(c->rk);
        free(c->starts);
        free(c->next[0]);
        free(c->next[1]);
        free(c);
}

void sr_kafka__fill_inrec(sr_inrec_t *rec, const rd_kafka_message_t *m,
                          int kind)
{
        rd_kafka_timestamp_type_t tstype;
        int64_t ts = rd_kafka_message_timestamp(m, &tstype);

        rec->topic = (sr_topic_kind_t)kind;
        rec->partition = m->partition;
        rec->offset = m->offset;
        rec->timestamp = ts < 0 ? 0 : ts;
        if (tstype == RD_KAFKA_TIMESTAMP_CREATE_TIME)
                rec->timestamp_type = SR_TS_CREATE;
        else if (tstype == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME)
                rec->timestamp_type = SR_TS_LOG_APPEND;
        else
                rec->timestamp_type = SR_TS_NONE;
        rec->key = sr_slice(m->key, m->key ? m->key_len : 0);
        rec->value = sr_slice(m->payload, m->payload ? m->len : 0);
        rec->msg = m;
}

sr_err_t sr_consumer_poll(sr_consumer_t *c, sr_inrec_t *out, int max,
                          int *n, int timeout_ms, sr_errctx_t *ec)
{
        int64_t deadline = sr_clock_mono_ms() +
                           (timeout_ms < 0 ? 0 : timeout_ms);
        rd_kafka_message_t *m;
        int got = 0, kind, col;

        release_held(c);
        if (max > c->cap_held) {
                rd_kafka_message_t **held =
                        realloc(c->held, (size_t)max * sizeof(*held));

                if (!held)
                        return sr_errctx_set(ec, SR_ERR_NOMEM,
                                             "kafka poll: realloc");
                c->held = held;
                c->cap_held = max;
        }
        while (got < max) {
                /* Wait for the first record only; then take what is
                 * already there. */
                m = rd_kafka_consumer_poll(
                        c->rk, got ? 0 : sr_kafka__remaining_ms(deadline));
                if (!m) {
                        if (got || sr_kafka__remaining_ms(deadline) == 0)
                                break;
                        continue;
                }
                if (m->err) {
                        rd_kafka_resp_err_t e = m->err;

                        if (e != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                SR_WARN("KAFKA", "consume: %s topic=%s "
                                        "partition=%d err=%s",
                                        rd_kafka_message_errstr(m),
                                        m->rkt ? rd_kafka_topic_name(m->rkt) :
                                                 "-",
                                        (int)m->partition,
                                        rd_kafka_err2name(e));
                        rd_kafka_message_destroy(m);
                        if (rd_kafka_fatal_error(c->rk, NULL, 0) ||
                            e == RD_KAFKA_RESP_ERR__FATAL)
                                return sr_kafka__fatal_err(ec, c->rk,
                                                           "consume");
                        continue;
                }
                kind = topic_kind_of(c, rd_kafka_topic_name(m->rkt));
                if (kind < 0) { /* not ours: cannot happen with subscribe */
                        rd_kafka_message_destroy(m);
                        continue;
                }
                col = hook_column(c, kind);
                if (col >= 0 && m->partition >= 0)
                        gap_check(c, col, m);
                c->held[c->n_held++] = m;
                sr_kafka__fill_inrec(&out[got++], m, kind);
        }
        *n = got;
        /* after the records taken: they stay valid until the next poll */
        return sr_kafka__auth_check(&c->h, "consume", ec);
}

sr_err_t sr_consumer_commit(sr_consumer_t *c, const sr_topic_kind_t *topics,
                            const int32_t *parts, const int64_t *offsets,
                            int n, sr_errctx_t *ec)
{
        rd_kafka_topic_partition_list_t *list;
        rd_kafka_resp_err_t kerr;
        sr_err_t err = SR_OK;

        if (n <= 0)
                return SR_OK;
        list = sr_kafka__offsets_list((const char (*)[TOPIC_NAME_MAX])c->names,
                                      topics, parts, offsets, n, "commit",
                                      ec);
        if (!list) /* a topic kind out of range */
                return SR_ERR_INVALID;
        /* Asynchronous: offsets only speed up a restart (the snapshot and
         * the changelog markers are authoritative), and a synchronous
         * commit waits forever for a coordinator that is gone. */
        kerr = rd_kafka_commit(c->rk, list, 1);
        if (kerr) {
                err = sr_kafka__kafka_err(ec, kerr, "commit", NULL);
        } else {
                for (int i = 0; i < list->cnt; i++) {
                        if (!list->elems[i].err)
                                continue;
                        err = sr_kafka__kafka_err(ec, list->elems[i].err,
                                                  "commit",
                                        NULL);
                        sr_errctx_prefix(ec, "%s [%d]", list->elems[i].topic,
                                         (int)list->elems[i].partition);
                        break;
                }
        }
        rd_kafka_topic_partition_list_destroy(list);
        return err;
}

sr_err_t sr_consumer_start(sr_consumer_t *c, int32_t part,
                           const int64_t start[2], sr_errctx_t *ec)
{
        rd_kafka_topic_partition_list_t *l =
                rd_kafka_topic_partition_list_new(2);
        rd_kafka_resp_err_t kerr = RD_KAFKA_RESP_ERR_NO_ERROR;
        rd_kafka_error_t *error = NULL;

        next_forget(c, part);
        for (int i = 0; i < c->n_topics; i++) {
                int col = hook_column(c, (int)c->topics[i]);

                if (col >= 0 && start[col] >= 0) {
                        rd_kafka_topic_partition_list_add(
                                l, c->names[c->topics[i]], part)->offset =
                                start[col];
                        start_note(c, (int)c->topics[i], part, start[col]);
                }
        }
        /* Synchronous: the seek is in place before the resume lets the
         * fetcher go; a seek of a fetcher not started yet fails (__STATE). */
        if (l->cnt > 0)
                error = rd_kafka_seek_partitions(c->rk, l, 5000);
        if (error) {
                kerr = rd_kafka_error_code(error);
                rd_kafka_error_destroy(error);
        }
        for (int i = 0; !kerr && i < l->cnt; i++)
                kerr = l->elems[i].err;
        rd_kafka_topic_partition_list_destroy(l);
        if (kerr == RD_KAFKA_RESP_ERR__STATE ||
            kerr == RD_KAFKA_RESP_ERR__PREV_IN_PROGRESS ||
            kerr == RD_KAFKA_RESP_ERR__TIMED_OUT)
                return sr_errctx_set(ec, SR_ERR_RETRY, "kafka seek "
                                     "partition %d: %s (not started yet)",
                                     (int)part, rd_kafka_err2str(kerr));
        if (!kerr)
                kerr = pause_resume(c, part, false);
        if (kerr) {
                sr_err_t err = sr_kafka__kafka_err(ec, kerr, "start", NULL);

                sr_errctx_prefix(ec, "partition %d", (int)part);
                return err;
        }
        return SR_OK;
}

/* A metadata request (the topics the handle knows): a broker answered. */
sr_err_t sr_kafka__metadata_ping(rd_kafka_t *rk, int timeout_ms,
                                 sr_errctx_t *ec)
{
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err;

        err = rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms);
        if (md)
                rd_kafka_metadata_destroy(md);
        if (!err)
                return SR_OK;
        if (sr_kafka__kafka_err(ec, err, "metadata", NULL) == SR_ERR_FATAL)
                return SR_ERR_FATAL;
        return SR_ERR_RETRY;
}

sr_err_t sr_consumer_ping(sr_consumer_t *c, int timeout_ms, sr_errctx_t *ec)
{
        return sr_kafka__metadata_ping(c->rk, timeout_ms, ec);
}

sr_err_t sr_consumer_log_start(sr_consumer_t *c, sr_topic_kind_t topic,
                               int32_t part, int timeout_ms, int64_t *low,
                               sr_errctx_t *ec)
{
        int64_t lo, hi;
        rd_kafka_resp_err_t kerr;

        if ((unsigned)topic >= SR_TOPIC__COUNT)
                return sr_errctx_set(ec, SR_ERR_INVALID, "log start: bad "
                                     "topic %d", (int)topic);
        kerr = rd_kafka_query_watermark_offsets(c->rk, c->names[topic], part,
                                                &lo, &hi, timeout_ms);
        if (kerr) {
                sr_err_t err = sr_kafka__kafka_err(ec, kerr, "watermarks",
                                                   NULL);

                sr_errctx_prefix(ec, "%s [%d]", c->names[topic], (int)part);
                return err;
        }
        *low = lo;
        return SR_OK;
}

/* The committed offsets of the partitions in @p ask (position and start
 * unknown) become their starts; one without a commit starts at the log's
 * start (auto.offset.reset=earliest), when a fetch told us where that is. */
static void ask_committed(sr_consumer_t *c,
                          rd_kafka_topic_partition_list_t *ask)
{
        if (rd_kafka_committed(c->rk, ask, LAG_COMMITTED_MS))
                return;
        for (int i = 0; i < ask->cnt; i++) {
                rd_kafka_topic_partition_t *tp = &ask->elems[i];
                int64_t low, high, off = tp->offset;

                if (tp->err)
                        continue;
                if (off < 0 &&
                    (rd_kafka_get_watermark_offsets(c->rk, tp->topic,
                                                    tp->partition, &low,
                                                    &high) ||
                     low < 0))
                        continue;
                start_note(c, topic_kind_of(c, tp->topic), tp->partition,
                           off < 0 ? low : off);
        }
}

int64_t sr_consumer_lag(sr_consumer_t *c)
{
        rd_kafka_topic_partition_list_t *list = NULL, *ask = NULL;
        int64_t sum = 0, low, high;

        if (rd_kafka_assignment(c->rk, &list))
                return -1;
        if (rd_kafka_position(c->rk, list)) {
                rd_kafka_topic_partition_list_destroy(list);
                return -1;
        }
        /* A partition with nothing consumed since it was assigned has no
         * position: its start stands in (an idle worker after a restart
         * has no lag, not an unknown one). */
        for (int i = 0; i < list->cnt; i++) {
                rd_kafka_topic_partition_t *tp = &list->elems[i];

                if (tp->offset >= 0)
                        continue;
                tp->offset = start_of(c, topic_kind_of(c, tp->topic),
                                      tp->partition);
                if (tp->offset >= 0)
                        continue;
                if (!ask)
                        ask = rd_kafka_topic_partition_list_new(list->cnt);
                if (ask)
                        rd_kafka_topic_partition_list_add(ask, tp->topic,
                                                          tp->partition);
        }
        if (ask) {
                ask_committed(c, ask);
                rd_kafka_topic_partition_list_destroy(ask);
                for (int i = 0; i < list->cnt; i++)
                        if (list->elems[i].offset < 0)
                                list->elems[i].offset = start_of(
                                        c,
                                        topic_kind_of(c,
                                                      list->elems[i].topic),
                                        list->elems[i].partition);
        }
        for (int i = 0; i < list->cnt && sum >= 0; i++) {
                rd_kafka_topic_partition_t *tp = &list->elems[i];

                /* Cached values from fetch responses: no broker call. */
                if (rd_kafka_get_watermark_offsets(c->rk, tp->topic,
                                                   tp->partition, &low,
                                                   &high) ||
                    high < 0 || tp->offset < 0)
                        sum = -1;
                else
                        sum += high > tp->offset ? high - tp->offset : 0;
        }
        rd_kafka_topic_partition_list_destroy(list);
        return sum;
}

bool sr_inrec_header(const sr_inrec_t *rec, const char *name,
                     sr_slice_t *value)
{
        rd_kafka_headers_t *hdrs;
        const void *val;
        size_t size;

        if (!rec->msg ||
            rd_kafka_message_headers((rd_kafka_message_t *)rec->msg, &hdrs) ||
            rd_kafka_header_get_last(hdrs, name, &val, &size))
                return false;
        *value = sr_slice(val, val ? size : 0);
        return true;
}

bool sr_inrec_header_at(const sr_inrec_t *rec, size_t i, const char **name,
                        sr_slice_t *value)
{
        rd_kafka_headers_t *hdrs;
        const void *val;
        size_t size;

        if (!rec->msg ||
            rd_kafka_message_headers((rd_kafka_message_t *)rec->msg, &hdrs) ||
            rd_kafka_header_get_all(hdrs, i, name, &val, &size))
                return false;
        *value = sr_slice(val, val ? size : 0);
        return true;
}
